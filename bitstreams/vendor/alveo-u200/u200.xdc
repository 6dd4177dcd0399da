# Constraints of the evnic PCIe build for the Xilinx Alveo U200 (xcu200-fsgd2104-2-e).
# Pins from the board's public user guide (UG1289) and its published constraints.
# Untested here: no Vivado and no board on the machine that wrote it.

set_property CFGBVS GND [current_design]
set_property CONFIG_VOLTAGE 1.8 [current_design]
set_property BITSTREAM.GENERAL.COMPRESS true [current_design]
set_property BITSTREAM.CONFIG.CONFIGRATE 63.8 [current_design]
set_property BITSTREAM.CONFIG.SPI_32BIT_ADDR YES [current_design]
set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design]
set_property BITSTREAM.CONFIG.UNUSEDPIN PULLUP [current_design]

# 300 MHz system clock (DDR4 bank 0 reference), the free-running clock of the Ethernet GT.
set_property -dict {LOC AY37 IOSTANDARD LVDS} [get_ports clk_300mhz_p]
set_property -dict {LOC AY38 IOSTANDARD LVDS} [get_ports clk_300mhz_n]
create_clock -period 3.333 -name clk_300mhz [get_ports clk_300mhz_p]

# LEDs: link up, MAC block lock, heartbeat.
set_property -dict {LOC BC21 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[0]}]
set_property -dict {LOC BB21 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[1]}]
set_property -dict {LOC BA20 IOSTANDARD LVCMOS12 SLEW SLOW DRIVE 8} [get_ports {led[2]}]
set_false_path -to [get_ports {led[*]}]

# PCIe edge connector: lanes 0-3 of the x16 connector (GTY quad 227), 100 MHz reference
# clock (MGTREFCLK0 of quad 226) and PERST#.
set_property LOC AF2 [get_ports {pcie_rx_p[0]}]
set_property LOC AF7 [get_ports {pcie_tx_p[0]}]
set_property LOC AG4 [get_ports {pcie_rx_p[1]}]
set_property LOC AG9 [get_ports {pcie_tx_p[1]}]
set_property LOC AH2 [get_ports {pcie_rx_p[2]}]
set_property LOC AH7 [get_ports {pcie_tx_p[2]}]
set_property LOC AJ4 [get_ports {pcie_rx_p[3]}]
set_property LOC AJ9 [get_ports {pcie_tx_p[3]}]
set_property LOC AM11 [get_ports pcie_refclk_p]
create_clock -period 10.000 -name pcie_refclk [get_ports pcie_refclk_p]
set_property -dict {LOC BD21 IOSTANDARD LVCMOS12 PULLUP true} [get_ports pcie_reset_n]
set_false_path -from [get_ports pcie_reset_n]

# QSFP28 cage 0, lane 1 (GTY quad 231, channel X1Y48) as one 10GBASE-R port; its
# 161.1328125 MHz reference clock from the SI5335 (frequency select 0b10).
set_property LOC N4 [get_ports qsfp0_rx1_p]
set_property LOC N9 [get_ports qsfp0_tx1_p]
set_property LOC K11 [get_ports qsfp0_refclk_p]
create_clock -period 6.206 -name qsfp0_refclk [get_ports qsfp0_refclk_p]
set_property -dict {LOC BE16 IOSTANDARD LVCMOS12} [get_ports qsfp0_modsell]
set_property -dict {LOC BE17 IOSTANDARD LVCMOS12} [get_ports qsfp0_resetl]
set_property -dict {LOC BD18 IOSTANDARD LVCMOS12} [get_ports qsfp0_lpmode]
set_property -dict {LOC AT22 IOSTANDARD LVCMOS12} [get_ports qsfp0_refclk_reset]
set_property -dict {LOC AT20 IOSTANDARD LVCMOS12} [get_ports {qsfp0_fs[0]}]
set_property -dict {LOC AU22 IOSTANDARD LVCMOS12} [get_ports {qsfp0_fs[1]}]
set_false_path -to [get_ports {qsfp0_modsell qsfp0_resetl qsfp0_lpmode qsfp0_refclk_reset qsfp0_fs[*]}]

# The MAC's clocks and the PCIe user clock meet only in the XPM FIFOs (their own CDC
# constraints come with them).
set_clock_groups -asynchronous \
    -group [get_clocks -of_objects [get_pins pcie/user_clk]] \
    -group [get_clocks -of_objects [get_pins mac/tx_clk_out_0]] \
    -group [get_clocks -of_objects [get_pins mac/rx_clk_out_0]] \
    -group [get_clocks clk_300mhz]
