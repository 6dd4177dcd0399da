//! The PCIe shell: [`crate::core::EvnicCore`] wrapped for the Xilinx UltraScale+ PCIe hard
//! block (the `pcie4_uscale_plus` IP, as on Alveo and VCU118/KCU116 boards) and its four
//! AXI-stream interfaces: completer request (CQ) and completion (CC) for the host's register
//! accesses, requester request (RQ) and completion (RC) for the core's DMA, plus the MSI-X
//! side of its configuration interface.
//!
//! # Interface choice
//! 128-bit streams at a 250 MHz user clock (the IP's Gen3 x4 setting), dword-aligned, no
//! straddling. 128 bits is the core's DMA beat (16 bytes), so a DMA write is one descriptor
//! beat and one payload beat and a 16-byte completion slot is one beat; 250 MHz gives 4 GB/s
//! per direction inside the FPGA, and Gen3 x4 about 3.5 GB/s on the link, against the
//! 1.25 GB/s a 10 Gb/s port moves each way.
//!
//! # Clock
//! One clock: the core and the shell run on the hard block's `user_clk` (250 MHz) and reset
//! with its `user_reset`. A board brings its MAC streams into that clock through the MAC's
//! own clock-crossing FIFO (a 64-bit 10G MAC at 156.25 MHz fits the 250 MHz core with room).
//!
//! # Blocks
//! - [`completer::Completer`]: CQ to the core's register bus, the shell page and the MSI-X
//!   table; CC completions; Unsupported Request for everything else
//! - [`shell_regs::ShellRegs`]: the shell page of BAR0 (`evnic_regs::map::shell`)
//! - [`msix::Msix`]: the MSI-X table, pending bit and the hard block's MSI-X interface
//! - [`dma_write::DmaWriter`]: DMA write beats to memory-write TLPs
//! - [`dma_read::DmaReader`]: DMA reads to memory-read TLPs with tags, completions back in
//!   request order, completion timeout and error completions
//! - [`rq_mux::RqMux`]: the writer and the reader onto RQ, a TLP at a time
//! - [`top::PcieShell`]: all of them around the core; its Verilog is the board's top below
//!   the IP (`gen-verilog --top pcie-shell`)

pub mod completer;
pub mod dma_read;
pub mod dma_write;
pub mod msix;
pub mod rq_mux;
pub mod shell_regs;
pub mod top;

use rust_hdl::prelude::*;

/// Width of the four AXI streams (bits).
pub const AXIS_BITS: usize = 128;
/// Dwords per stream beat (`tkeep` has one bit per dword).
pub const AXIS_DWORDS: usize = AXIS_BITS / 32;
/// `tuser` widths of the four streams at 128 bits (the IP's US+ layouts).
pub const CQ_USER_BITS: usize = 88;
pub const CC_USER_BITS: usize = 33;
pub const RQ_USER_BITS: usize = 62;
pub const RC_USER_BITS: usize = 75;

/// Request type codes of the CQ and RQ descriptors (bits 14:11 of dword 2).
pub mod req_type {
    pub const MEM_READ: u64 = 0;
    pub const MEM_WRITE: u64 = 1;
}

/// The Verilog of the shell around the core (module `top`): what a board instantiates below
/// the PCIe IP and what the cocotb test simulates.
pub fn verilog() -> String {
    let mut uut = top::PcieShell::default();
    uut.connect_all();
    generate_verilog(&uut)
}

pub(crate) use crate::konst;

/// Helpers of the shell blocks' tests: 128-bit values and a clock cycle of a block driven
/// directly (inputs set, settled, outputs read, then a rising and a falling edge).
#[cfg(test)]
pub(crate) mod testutil {
    use rust_hdl::prelude::*;

    pub fn b128(x: u128) -> Bits<128> {
        (Bits::<128>::from((x >> 64) as u64) << 64) | Bits::<128>::from(x as u64)
    }

    pub fn settle<B: Block>(uut: &mut B) {
        assert!(simulate(uut, 400), "the circuit did not settle");
    }

    /// Dword `i` of a 128-bit beat.
    pub fn dw(x: u128, i: usize) -> u32 {
        (x >> (32 * i)) as u32
    }

    /// One clock cycle of a block whose clock input is `clock`.
    macro_rules! tick {
        ($u:expr) => {{
            $u.clock.next = true.into();
            crate::shell::testutil::settle(&mut $u);
            $u.clock.next = false.into();
            crate::shell::testutil::settle(&mut $u);
        }};
    }
    pub(crate) use tick;
}
