//! The evnic core as a Verilator model driven from Rust.
//!
//! The build script turns the RustHDL design (crate `evnic-hdl`) into Verilog, verilates it and
//! links it through a small C++ shim. [`SimDevice`] advances it one cycle at a time with its
//! surroundings (BAR0 bus, DMA served from [`HostMemory`] with IOMMU-like checks, MAC ports,
//! device-space ports, interrupt line); [`SimHandle`] runs it free on its own thread for the
//! library. Cycles convert to time at the nominal clock `evnic_regs::params::CLOCK_HZ`.
//!
//! Both carry register accesses for the device protocol of `evnic-proto`
//! ([`evnic_proto::RegisterAccess`]), and [`HostBuffer`] is its DMA memory
//! ([`evnic_proto::DmaMemory`]), so tests program the device with the same code as the library.

pub mod device;
mod ffi;
pub mod memory;
pub mod runner;

pub use device::{DeviceNotification, FrameVerdict, SimConfig, SimDevice, SimError, TxFrame};
pub use memory::{Fault, HostBuffer, HostMemory};
pub use runner::SimHandle;

/// The Verilator version the model was built with.
pub const VERILATOR_VERSION: &str = env!("EVNIC_VERILATOR_VERSION");

/// Converts device cycles to nanoseconds at the nominal clock.
pub fn cycles_to_ns(cycles: u64) -> f64 {
    cycles as f64 * 1e9 / evnic_regs::params::CLOCK_HZ as f64
}
