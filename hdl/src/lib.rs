//! The evnic device in RustHDL: one block per module, each file's doc comment giving its ports,
//! its contract and its timing in cycles. [`core::EvnicCore`] is the top.
//!
//! Conventions: every block has `clock` and a synchronous, active-high `reset` (RustHDL has
//! none of its own); streams transfer a beat when `valid && ready`; register offsets and the
//! event format come from `evnic-regs`, never written here.

pub mod board;
pub mod core;
pub mod crc;
pub mod event_engine;
pub mod event_pack;
pub mod evq;
pub mod exact;
pub mod fcs_check;
pub mod fifo;
pub mod filter;
pub mod global_regs;
pub mod hit_counters;
pub mod multicast;
pub mod parser;
pub mod ram;
pub mod ram_fifo;
pub mod regbus;
pub mod rx;
pub mod rx_deliver;
pub mod rx_frames;
pub mod rx_regs;
pub mod rx_ring;
pub mod shell;
pub mod tcam;
pub mod timers;
pub mod tx;
pub mod tx_ring;
pub mod tx_stream;
pub mod wake_fifo;

use rust_hdl::prelude::*;

/// Builds a `Constant` from a `u64`, for register offsets, limits and field values taken from
/// `evnic-regs`.
pub(crate) fn konst<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

/// The Verilog of the whole core (module `top`), as Verilator and Yosys consume it.
pub fn verilog() -> String {
    let mut uut = core::EvnicCore::default();
    uut.connect_all();
    generate_verilog(&uut)
}
