//! # evnic-proto
//!
//! The evnic device protocol, written once and used by the library's backends, the command-line
//! tool and the simulator's tests alike: how to talk to the device, independent of what carries
//! the register accesses (a VFIO-mapped BAR, the Verilator model stepped in place, or the model
//! running free on its own thread) and of who owns the DMA memory.
//!
//! - [`RegisterAccess`]: 32-bit reads and writes of BAR0; [`DmaMemory`]: host memory the device
//!   reaches at an IOVA.
//! - [`params`]: the device's identity and parameters, read from its registers (never the
//!   compile-time defaults).
//! - [`evq`]: event queues: the ring reader (phase-bit polling, memory only), programming,
//!   doorbells.
//! - [`rings`]: receive and transmit descriptor rings: programming, descriptors, doorbells.
//! - [`filter`]: filter entry writes (ternary and exact-match; staging, then the commit once the
//!   tables are idle), the default action, hit counters.
//! - [`group`]: group membership and indication permissions.
//! - [`doorbell`]: a doorbell page in shared memory, drained into a VI's registers by the side
//!   that owns the device.
//! - [`fcs`]: the Ethernet FCS and CRC-32C, through the `crc` crate.
//! - [`pci`]: PCI function addresses.
//!
//! Every offset and field comes from `evnic-regs`, and events are decoded only through
//! [`evnic_regs::event::Event`].

pub mod dma;
pub mod doorbell;
pub mod evq;
pub mod fcs;
pub mod filter;
pub mod group;
pub mod params;
pub mod pci;
pub mod regs;
pub mod rings;

pub use dma::DmaMemory;
pub use pci::PciAddress;
pub use regs::RegisterAccess;
