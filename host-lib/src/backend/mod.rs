//! What the library needs from a device, and the devices that provide it.
//!
//! A [`Backend`] is a BAR0 register window, a way to get host memory the device can reach by DMA,
//! and an interrupt file descriptor. The VFIO device (feature `vfio`, the default) and the
//! simulated device (feature `sim`: the Verilator model of the real RTL) implement it;
//! everything above this module is the same for both, and speaks to the device through the
//! protocol of `evnic-proto` (`&dyn Backend` is its [`RegisterAccess`], [`DmaRegion`] its
//! [`DmaMemory`]).

#[cfg(feature = "vfio")]
pub mod relay;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "vfio")]
pub mod vfio;

use crate::error::ErrorKind;
use evnic_proto::{DmaMemory, RegisterAccess};
use std::os::fd::RawFd;
use std::ptr::NonNull;

/// Errors a backend reports. Each says what happened and, where there is one, what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The VFIO driver refused (the device is missing, unbound, not viable, not permitted...).
    #[cfg(feature = "vfio")]
    #[error(transparent)]
    Vfio(#[from] evnic_driver::Error),
    /// The simulated device failed (a bus timeout: the RTL is wedged; or it could not start).
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Sim(#[from] evnic_sim::SimError),
    /// The PCI function answered, but its ID register is not evnic's.
    #[error("{addr} ({vendor:04x}:{device:04x}) is not an evnic device: its ID register reads {id:#010x}, not {:#010x} (\"EVNC\"); check the PCI address, or load the evnic bitstream", evnic_regs::params::DEVICE_ID)]
    NotEvnic {
        /// The PCI address.
        addr: String,
        /// PCI vendor ID.
        vendor: u16,
        /// PCI device ID.
        device: u16,
        /// What the ID register read.
        id: u32,
    },
    /// The device has no interrupt vector the library can use.
    #[error("{addr} offers no MSI-X or MSI vector")]
    NoInterrupt {
        /// The PCI address.
        addr: String,
    },
    /// A register access was refused before it reached the device (out of BAR0, misaligned).
    #[error("register access at BAR0+{offset:#x} refused: {why}")]
    BadAccess {
        /// Byte offset.
        offset: u32,
        /// Why.
        why: &'static str,
    },
    /// A system call failed.
    #[error("{call} failed: {err}")]
    Io {
        /// The call.
        call: &'static str,
        /// The OS error.
        #[source]
        err: std::io::Error,
    },
    /// The device is reached through the evnic hub, and the hub refused or failed the request,
    /// or is gone.
    #[error(transparent)]
    Hub(#[from] crate::hub::HubError),
    /// DMA memory could not be had.
    #[error("DMA memory of {bytes} bytes: {why}")]
    Dma {
        /// Bytes asked for.
        bytes: usize,
        /// Why not.
        why: String,
    },
}

impl BackendError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            #[cfg(feature = "vfio")]
            BackendError::Vfio(e) => {
                use evnic_driver::Error as D;
                match e {
                    D::InvalidAddress { .. }
                    | D::NoSuchDevice { .. }
                    | D::NotBoundToVfio { .. }
                    | D::NoIommu { .. }
                    | D::VfioNotLoaded
                    | D::GroupNotViable { .. }
                    | D::PermissionDenied { .. }
                    | D::GroupBusy { .. } => ErrorKind::NoDevice,
                    D::NoSuchBar { .. } | D::BarTooSmall { .. } => ErrorKind::NotEvnic,
                    D::Io { .. } => ErrorKind::Os,
                    _ => ErrorKind::DeviceFailed,
                }
            }
            #[cfg(feature = "sim")]
            BackendError::Sim(_) => ErrorKind::DeviceFailed,
            BackendError::NotEvnic { .. } => ErrorKind::NotEvnic,
            BackendError::NoInterrupt { .. } => ErrorKind::NotEvnic,
            BackendError::Io { .. } => ErrorKind::Os,
            BackendError::Hub(h) => h.kind(),
            BackendError::BadAccess { .. } | BackendError::Dma { .. } => ErrorKind::DeviceFailed,
        }
    }
}

/// A block of host memory the device can read and write by DMA.
///
/// `as_ptr`/`len` is where the host sees it; `iova` is the address the device uses (an IOMMU I/O
/// virtual address on VFIO, the registered address in the simulation). The memory stays mapped
/// for the device until the region is dropped: its keeper owns whatever unmaps and frees it.
pub struct DmaRegion {
    ptr: NonNull<u8>,
    len: usize,
    iova: u64,
    _keep: Box<dyn Send + Sync>,
}

// SAFETY: the region is plain memory shared with a device; access goes through atomic words or
// the byte copies of `DmaMemory`, and the keeper is Send + Sync.
unsafe impl Send for DmaRegion {}
unsafe impl Sync for DmaRegion {}

impl DmaRegion {
    /// Wraps memory at `ptr..ptr+len`, reachable by the device at `iova`, kept alive by `keep`.
    ///
    /// # Safety
    /// `ptr..ptr+len` must stay valid, zeroed or initialised, 16-byte aligned, and mapped for the
    /// device at `iova` until `keep` is dropped.
    pub unsafe fn new(ptr: NonNull<u8>, len: usize, iova: u64, keep: Box<dyn Send + Sync>) -> Self {
        DmaRegion {
            ptr,
            len,
            iova,
            _keep: keep,
        }
    }
}

// SAFETY: the contract of `DmaRegion::new`.
unsafe impl DmaMemory for DmaRegion {
    fn host_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    fn len(&self) -> usize {
        self.len
    }
    fn iova(&self) -> u64 {
        self.iova
    }
}

impl std::fmt::Debug for DmaRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DmaRegion({:#x}+{:#x})", self.iova, self.len)
    }
}

/// What the library needs from a device.
pub trait Backend: Send + Sync {
    /// A short description for messages ("simulation (Verilator ...)", "vfio 0000:01:00.0").
    fn describe(&self) -> String;
    /// Reads the 32-bit register at byte offset `offset` of BAR0.
    fn read32(&self, offset: u32) -> Result<u32, BackendError>;
    /// Writes the 32-bit register at byte offset `offset` of BAR0 (the write may be posted).
    fn write32(&self, offset: u32, value: u32) -> Result<(), BackendError>;
    /// Allocates `len` bytes of zeroed host memory, 16-byte aligned, mapped for device DMA.
    fn alloc_dma(&self, len: usize) -> Result<DmaRegion, BackendError>;
    /// An eventfd that becomes readable when the device raises its interrupt.
    fn irq_fd(&self) -> RawFd;
    /// Maps memory this process shares with another one (a hub's client) for device DMA;
    /// `keep` keeps it mapped here and is dropped after the device can no longer reach it.
    ///
    /// # Safety
    /// `ptr..ptr+len` must be zeroed or initialised, page aligned, and stay valid until `keep`
    /// is dropped.
    unsafe fn map_shared(
        &self,
        ptr: NonNull<u8>,
        len: usize,
        keep: Box<dyn Send + Sync>,
    ) -> Result<DmaRegion, BackendError> {
        let _ = (ptr, keep);
        Err(BackendError::Dma {
            bytes: len,
            why: format!(
                "{} cannot map another process's memory yet",
                self.describe()
            ),
        })
    }
    /// Has the device side apply the doorbell records of `page` to VI `vi`'s registers; false
    /// when this device cannot (the doorbells then go as register writes).
    ///
    /// # Safety
    /// The page must stay mapped until [`Backend::detach_doorbells`] of `vi` returned.
    unsafe fn attach_doorbells(&self, vi: u32, page: evnic_proto::doorbell::DoorbellPage) -> bool {
        let _ = (vi, page);
        false
    }
    /// Stops applying VI `vi`'s doorbell page; once this returns the page is not touched.
    fn detach_doorbells(&self, vi: u32) {
        let _ = vi;
    }
    /// The eventfd a producer of doorbell records writes when the page says the device side
    /// sleeps ([`evnic_proto::doorbell::DoorbellPage::ring_wakes`]); `None` when it never does.
    fn doorbell_wake_fd(&self) -> Option<RawFd> {
        None
    }
    /// Doorbell records applied from attached pages so far.
    fn doorbells_applied(&self) -> u64 {
        0
    }
    /// The connection to the evnic hub, when the device is reached through one.
    fn hub(&self) -> Option<&crate::hub::HubBackend> {
        None
    }
    /// The simulated device behind this backend, for what only a simulation can do.
    #[cfg(feature = "sim")]
    fn sim(&self) -> Option<&sim::SimBackend> {
        None
    }
}

/// A backend carries the register accesses of the device protocol.
impl RegisterAccess for &dyn Backend {
    type Error = BackendError;
    fn read32(&mut self, offset: u32) -> Result<u32, BackendError> {
        Backend::read32(*self, offset)
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), BackendError> {
        Backend::write32(*self, offset, value)
    }
}

/// Checks a register offset against a BAR0 of `bar_bytes` bytes.
pub(crate) fn check_offset(offset: u32, bar_bytes: u64) -> Result<(), BackendError> {
    if !offset.is_multiple_of(4) {
        return Err(BackendError::BadAccess {
            offset,
            why: "not 4-byte aligned",
        });
    }
    if u64::from(offset) >= bar_bytes {
        return Err(BackendError::BadAccess {
            offset,
            why: "past the end of BAR0",
        });
    }
    Ok(())
}
