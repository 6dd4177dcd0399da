//! The simulated device as a backend: the Verilator model of the core running free on its own
//! thread ([`evnic_sim::SimHandle`]). DMA memory is ordinary memory of this process registered
//! with the model's IOMMU-like host-memory map, so the library polls it as it would on a board.

use super::{Backend, BackendError, DmaRegion};
use evnic_sim::{SimConfig, SimHandle};
use std::alloc::Layout;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// First IOVA handed out; like a VFIO user, the simulation places buffers at chosen addresses.
const IOVA_BASE: u64 = 0x1000_0000;
/// DMA buffers are page aligned and a whole number of pages.
const PAGE: usize = 4096;

/// The Verilator model as a device.
pub struct SimBackend {
    handle: SimHandle,
    next_iova: AtomicU64,
}

impl SimBackend {
    /// Builds the model and starts its clock.
    pub fn start(config: SimConfig) -> Result<SimBackend, BackendError> {
        let handle = SimHandle::spawn(config).map_err(|e| BackendError::Device(e.to_string()))?;
        Ok(SimBackend {
            handle,
            next_iova: AtomicU64::new(IOVA_BASE),
        })
    }

    /// The running model, for what only a simulation can do (inject frames, read the MAC's
    /// transmit log, drive the device-space ports).
    pub fn handle(&self) -> &SimHandle {
        &self.handle
    }
}

struct SimDmaOwner {
    handle: SimHandle,
    iova: u64,
    ptr: usize,
    layout: Layout,
}

impl Drop for SimDmaOwner {
    fn drop(&mut self) {
        // Unmap first: once unmap returns the device can no longer write the memory.
        self.handle.unmap_dma(self.iova);
        // SAFETY: allocated in alloc_dma with this layout, freed once.
        unsafe { std::alloc::dealloc(self.ptr as *mut u8, self.layout) };
    }
}

impl Backend for SimBackend {
    fn describe(&self) -> String {
        let version = evnic_sim::VERILATOR_VERSION
            .split_whitespace()
            .nth(1)
            .unwrap_or("?");
        format!("simulation (Verilator {version} model of the evnic RTL)")
    }

    fn read32(&self, offset: u32) -> Result<u32, BackendError> {
        check_offset(offset)?;
        self.handle
            .read32(offset)
            .map_err(|e| BackendError::Device(e.to_string()))
    }

    fn write32(&self, offset: u32, value: u32) -> Result<(), BackendError> {
        check_offset(offset)?;
        self.handle.write32(offset, value);
        Ok(())
    }

    fn alloc_dma(&self, len: usize) -> Result<DmaRegion, BackendError> {
        if len == 0 {
            return Err(BackendError::Dma("zero-length DMA buffer".into()));
        }
        let size = len.div_ceil(PAGE) * PAGE;
        let layout =
            Layout::from_size_align(size, PAGE).map_err(|e| BackendError::Dma(e.to_string()))?;
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(nn) = NonNull::new(ptr) else {
            return Err(BackendError::Dma(format!(
                "out of memory allocating {size} bytes"
            )));
        };
        let iova = self
            .next_iova
            .fetch_add(size as u64 + PAGE as u64, Ordering::Relaxed);
        // SAFETY: the memory lives until SimDmaOwner drops, which unmaps it first.
        if let Err(e) = unsafe { self.handle.map_dma(iova, ptr, size) } {
            unsafe { std::alloc::dealloc(ptr, layout) };
            return Err(BackendError::Dma(e));
        }
        let owner = SimDmaOwner {
            handle: self.handle.clone(),
            iova,
            ptr: ptr as usize,
            layout,
        };
        // SAFETY: as above.
        Ok(unsafe { DmaRegion::new(nn, len, iova, Box::new(owner)) })
    }

    fn irq_fd(&self) -> RawFd {
        self.handle.irq_fd()
    }
}

fn check_offset(offset: u32) -> Result<(), BackendError> {
    if !offset.is_multiple_of(4) {
        return Err(BackendError::BadAccess {
            offset,
            why: "not 4-byte aligned",
        });
    }
    if offset >= evnic_regs::params::BAR0_BYTES {
        return Err(BackendError::BadAccess {
            offset,
            why: "past the end of BAR0",
        });
    }
    Ok(())
}
