//! `evnic-driver`: a small user-space driver for one PCI function through Linux VFIO.
//!
//! The path is the classic VFIO one: the function's IOMMU group (`/dev/vfio/N`) is attached to a
//! container (`/dev/vfio/vfio`, type-1 v2 IOMMU), the device fd is taken from the group, and from
//! it come the region (BAR) descriptions, the BAR mappings, the interrupt set-up and the reset.
//! DMA memory is anonymous host memory mapped into the container's IOMMU domain at an I/O virtual
//! address (IOVA) chosen by the caller, and unmapped when dropped.
//!
//! The ioctls themselves go through rust-vmm's `vfio-ioctls` (without its KVM glue). Before
//! touching VFIO, [`VfioPciDevice::open`] reads sysfs to find out *why* a device cannot be used
//! (missing, not bound to vfio-pci, no IOMMU, group shared with devices owned by other drivers,
//! permissions), so every [`Error`] names its cause and the fix.
//!
//! ```no_run
//! use evnic_driver::VfioPciDevice;
//! let dev = VfioPciDevice::open("0000:01:00.0")?;
//! let bar0 = dev.map_bar(0, 0x1000)?;
//! let id = bar0.read32(0)?;
//! let buf = dev.alloc_dma(4096, 0x10_0000)?;
//! let irqs = dev.enable_msi(1)?;
//! # let _ = (id, buf, irqs);
//! # Ok::<(), evnic_driver::Error>(())
//! ```

mod bar;
mod device;
mod dma;
mod error;
mod irq;
mod sysfs;

pub use bar::{Bar, BarAccess};
pub use device::{IrqKind, RegionInfo, VfioPciDevice};
pub use dma::DmaBuffer;
pub use error::Error;
pub use irq::Interrupt;
pub use sysfs::{DeviceInfo, GroupMember, PciAddress, Sysfs};

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
