# Vivado build of evnic for the Xilinx Alveo U200: the PCIe shell with the core, the PCIe hard
# block configured to match the shell, and a 10GBASE-R port. Untested here (no Vivado on the
# machine that wrote it).
#
#   cd bitstreams/vendor/alveo-u200 && vivado -mode batch -source build.tcl
#
# It generates the shell's Verilog and the register map's JSON with cargo first, takes the BAR
# sizes and the MSI-X layout from that JSON (never written twice), and writes
# out/evnic_u200.bit and the timing and utilisation reports in out/.

set here [file normalize [file dirname [info script]]]
set root [file normalize $here/../../..]
set out $here/out
file mkdir $out

# ---- Generated sources.
exec cargo run --release -q --manifest-path $root/Cargo.toml -p evnic-hdl --bin gen-verilog -- --shell $out/evnic_shell.v >@ stdout
exec cargo run -q --manifest-path $root/Cargo.toml -p evnic-regs --bin gen-docs -- --json $out/registers.json >@ stdout

set fd [open $out/registers.json]
set map [read $fd]
close $fd
proc json_int {text key} {
    if {![regexp "\"$key\": (\[0-9\]+)" $text -> value]} {
        error "registers.json has no $key"
    }
    return $value
}
set bar0_kib [expr {(1 << [json_int $map BAR_ADDR_BITS]) / 1024}]
set regs_bar [json_int $map REGS_BAR]
set msix_bar [json_int $map MSIX_BAR]
set msix_bar_kib [expr {[json_int $map MSIX_BAR_BYTES] / 1024}]
set msix_table [format %08x [json_int $map MSIX_TABLE_OFFSET]]
set msix_pba [format %08x [json_int $map MSIX_PBA_OFFSET]]
set msix_size [format %03x [expr {[json_int $map MSIX_VECTORS] - 1}]]
if {$regs_bar != 0} { error "the IP configuration below assumes the registers in BAR 0" }

# ---- Project.
create_project -in_memory -part xcu200-fsgd2104-2-e
set_property target_language Verilog [current_project]
read_verilog $out/evnic_shell.v
read_verilog $here/fpga_top.v
read_xdc $here/u200.xdc

# The PCIe hard block as the shell expects it: Gen3 x4, 128-bit interfaces at 250 MHz,
# dword-aligned, no straddling, client tags with extended (8-bit) tags, BAR 0 for the
# registers (32-bit, not prefetchable: reads have side effects), BAR 2 for the MSI-X table
# kept in the shell (MSI-X external), MSI off. Lanes 0-3 of the edge connector are GTY quad
# 227, next to the PCIE4 block X1Y2.
create_ip -name pcie4_uscale_plus -vendor xilinx.com -library ip -module_name pcie4_uscale_plus_0
set_property -dict [list \
    CONFIG.PL_LINK_CAP_MAX_LINK_SPEED {8.0_GT/s} \
    CONFIG.PL_LINK_CAP_MAX_LINK_WIDTH {X4} \
    CONFIG.axisten_if_width {128_bit} \
    CONFIG.axisten_freq {250} \
    CONFIG.AXISTEN_IF_RC_STRADDLE {false} \
    CONFIG.axisten_if_enable_client_tag {true} \
    CONFIG.extended_tag_field {true} \
    CONFIG.pf0_dev_cap_max_payload {256_bytes} \
    CONFIG.PF0_CLASS_CODE {028000} \
    CONFIG.pf0_bar0_enabled {true} \
    CONFIG.pf0_bar0_64bit {false} \
    CONFIG.pf0_bar0_prefetchable {false} \
    CONFIG.pf0_bar0_scale {Kilobytes} \
    CONFIG.pf0_bar0_size $bar0_kib \
    CONFIG.pf0_bar2_enabled {true} \
    CONFIG.pf0_bar2_64bit {false} \
    CONFIG.pf0_bar2_prefetchable {false} \
    CONFIG.pf0_bar2_scale {Kilobytes} \
    CONFIG.pf0_bar2_size $msix_bar_kib \
    CONFIG.pf0_msi_enabled {false} \
    CONFIG.pf0_msix_enabled {true} \
    CONFIG.MSI_X_OPTIONS {MSI-X_External} \
    CONFIG.PF0_MSIX_CAP_TABLE_SIZE $msix_size \
    CONFIG.PF0_MSIX_CAP_TABLE_BIR BAR_$msix_bar \
    CONFIG.PF0_MSIX_CAP_TABLE_OFFSET $msix_table \
    CONFIG.PF0_MSIX_CAP_PBA_BIR BAR_$msix_bar \
    CONFIG.PF0_MSIX_CAP_PBA_OFFSET $msix_pba \
    CONFIG.mode_selection {Advanced} \
    CONFIG.en_gt_selection {true} \
    CONFIG.select_quad {GTY_Quad_227} \
    CONFIG.pcie_blk_locn {X1Y2} \
] [get_ips pcie4_uscale_plus_0]

# One 10GBASE-R MAC and PCS with AXI-stream client interfaces and no AXI-lite (the control
# inputs are tied in fpga_top.v); GT channel X1Y48 (QSFP0 lane 1), 161.1328125 MHz reference.
create_ip -name xxv_ethernet -vendor xilinx.com -library ip -module_name xxv_ethernet_0
set_property -dict [list \
    CONFIG.LINE_RATE {10} \
    CONFIG.NUM_OF_CORES {1} \
    CONFIG.CORE {Ethernet MAC+PCS/PMA 64-bit} \
    CONFIG.DATA_PATH_INTERFACE {AXI Stream} \
    CONFIG.BASE_R_KR {BASE-R} \
    CONFIG.INCLUDE_AXI4_INTERFACE {0} \
    CONFIG.INCLUDE_STATISTICS_COUNTERS {0} \
    CONFIG.GT_REF_CLK_FREQ {161.1328125} \
    CONFIG.GT_GROUP_SELECT {Quad_X1Y12} \
    CONFIG.LANE1_GT_LOC {X1Y48} \
    CONFIG.ENABLE_PIPELINE_REG {1} \
] [get_ips xxv_ethernet_0]

generate_target all [get_ips]
synth_ip [get_ips]

# ---- Synthesis, implementation, bitstream.
synth_design -top fpga_top -part xcu200-fsgd2104-2-e
report_utilization -file $out/utilization_synth.txt
opt_design
place_design
phys_opt_design
route_design
report_timing_summary -file $out/timing.txt
report_utilization -file $out/utilization.txt
write_bitstream -force $out/evnic_u200.bit
puts "wrote $out/evnic_u200.bit"
