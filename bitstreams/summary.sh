#!/usr/bin/env bash
# Prints the resource summary (LUTs, flip-flops, block RAMs) of a Yosys `stat` report of the
# flattened ECP5 netlist.
set -euo pipefail
stat=${1:-target/synth/stat.txt}
count() { awk -v cell="$1" '$1 == cell { n += $2 } END { print n + 0 }' "$stat"; }
luts=$(count LUT4)
ffs=$(count TRELLIS_FF)
carry=$(count CCU2C)
bram=$(count DP16KD)
lutram=$(count TRELLIS_DPR16X4)
printf '| resource (ECP5, yosys synth_ecp5) | count |\n|---|---|\n'
printf '| LUT4 | %s |\n| flip-flops (TRELLIS_FF) | %s |\n| carry cells (CCU2C) | %s |\n| block RAM (DP16KD) | %s |\n| LUT RAM (TRELLIS_DPR16X4) | %s |\n' \
  "$luts" "$ffs" "$carry" "$bram" "$lutram"
