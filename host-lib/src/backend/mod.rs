//! What the library needs from a device, and the devices that provide it.
//!
//! A [`Backend`] is a BAR0 register window, a way to get host memory the device can reach by DMA,
//! and an interrupt file descriptor. The simulated device (Verilator model of the real RTL) and the
//! VFIO device implement it; everything above this module is the same for both.

#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "vfio")]
pub mod vfio;

use std::os::fd::RawFd;
use std::ptr::NonNull;

/// Errors a backend reports. Each says what happened and, where there is one, what to do.
#[derive(Debug)]
pub enum BackendError {
    /// The device could not be found or opened.
    NotFound(String),
    /// A register access was refused (out of the BAR, misaligned).
    BadAccess { offset: u32, why: &'static str },
    /// DMA memory could not be allocated or mapped for the device.
    Dma(String),
    /// Any other OS-level failure, with the call that failed.
    Io {
        call: &'static str,
        err: std::io::Error,
    },
    /// The device is not an evnic device or is in an unusable state.
    Device(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::NotFound(s) => write!(f, "device not found: {s}"),
            BackendError::BadAccess { offset, why } => {
                write!(f, "register access at BAR0+{offset:#x} refused: {why}")
            }
            BackendError::Dma(s) => write!(f, "DMA memory: {s}"),
            BackendError::Io { call, err } => write!(f, "{call} failed: {err}"),
            BackendError::Device(s) => write!(f, "device: {s}"),
        }
    }
}

impl std::error::Error for BackendError {}

/// A block of host memory the device can read and write by DMA.
///
/// `ptr`/`len` is where the host sees it; `iova` is the address the device uses (an IOMMU I/O
/// virtual address on VFIO, the registered address in the simulation). The memory stays mapped
/// for the device until the region is dropped: `_keep` owns whatever unmaps and frees it.
pub struct DmaRegion {
    ptr: NonNull<u8>,
    len: usize,
    iova: u64,
    _keep: Box<dyn Send + Sync>,
}

// SAFETY: the region is plain memory shared with a device; access goes through volatile reads
// and writes by the users of `as_ptr`, and the owner in `_keep` is Send + Sync.
unsafe impl Send for DmaRegion {}
unsafe impl Sync for DmaRegion {}

impl DmaRegion {
    /// Wraps memory at `ptr..ptr+len`, reachable by the device at `iova`, kept alive by `keep`.
    ///
    /// # Safety
    /// `ptr..ptr+len` must stay valid, zero-initialised or initialised, and mapped for the device
    /// at `iova` until `keep` is dropped.
    pub unsafe fn new(ptr: NonNull<u8>, len: usize, iova: u64, keep: Box<dyn Send + Sync>) -> Self {
        DmaRegion {
            ptr,
            len,
            iova,
            _keep: keep,
        }
    }
    /// Host address of the first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Device-side address of the first byte.
    pub fn iova(&self) -> u64 {
        self.iova
    }
}

/// What the library needs from a device.
pub trait Backend: Send + Sync {
    /// A short description for messages ("simulation (Verilator)", "vfio 0000:01:00.0").
    fn describe(&self) -> String;
    /// Reads the 32-bit register at byte offset `offset` of BAR0.
    fn read32(&self, offset: u32) -> Result<u32, BackendError>;
    /// Writes the 32-bit register at byte offset `offset` of BAR0.
    fn write32(&self, offset: u32, value: u32) -> Result<(), BackendError>;
    /// Allocates `len` bytes of zeroed host memory mapped for device DMA.
    fn alloc_dma(&self, len: usize) -> Result<DmaRegion, BackendError>;
    /// An eventfd that becomes readable when the device raises its interrupt.
    fn irq_fd(&self) -> RawFd;
}
