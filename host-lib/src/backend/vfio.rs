//! A real board through VFIO: BAR0 mapped into this process, DMA memory mapped into the board's
//! IOMMU domain, and the interrupt on an eventfd ([`evnic_driver`]).
//!
//! Opening checks the ID register before anything else touches the device (no bus mastering, no
//! interrupt set-up): a function that is not an evnic device is refused and left as it was.

use super::{Backend, BackendError, DmaRegion};
use evnic_driver::{Bar, Error as DriverError, Interrupt, IrqKind, VfioPciDevice};
use evnic_regs::map::{global as g, global_reg};
use evnic_regs::params::{BAR0_BYTES, DEVICE_ID};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// First IOVA handed out (as in the simulation); buffers follow, each with a guard page.
const IOVA_BASE: u64 = 0x1000_0000;
/// DMA buffers are page aligned and a whole number of pages.
const PAGE: u64 = 4096;

/// An evnic board opened through vfio-pci.
pub struct VfioBackend {
    dev: VfioPciDevice,
    bar0: Bar,
    irq: Interrupt,
    irq_kind: IrqKind,
    next_iova: AtomicU64,
}

fn driver_err(e: DriverError) -> BackendError {
    match e {
        DriverError::InvalidAddress { .. }
        | DriverError::NoSuchDevice { .. }
        | DriverError::NotBoundToVfio { .. }
        | DriverError::NoIommu { .. }
        | DriverError::VfioNotLoaded
        | DriverError::GroupNotViable { .. }
        | DriverError::PermissionDenied { .. }
        | DriverError::GroupBusy { .. } => BackendError::NotFound(e.to_string()),
        DriverError::BadDmaRequest { .. } | DriverError::DmaMap { .. } => {
            BackendError::Dma(e.to_string())
        }
        other => BackendError::Device(other.to_string()),
    }
}

impl VfioBackend {
    /// Opens the evnic board at `addr` (`0000:01:00.0`), which must be bound to vfio-pci.
    ///
    /// Refuses a function whose ID register (BAR0 + 0) does not read "EVNC", and one whose BAR0
    /// is smaller than the register map. Then enables bus mastering (for DMA) and one interrupt
    /// vector, MSI-X when the board has it, else MSI.
    pub fn open(addr: &str) -> Result<VfioBackend, BackendError> {
        let dev = VfioPciDevice::open(addr).map_err(driver_err)?;
        let bar0 = dev.map_bar(0, 4).map_err(driver_err)?;
        let id = bar0
            .read32(u64::from(global_reg(&g::ID)))
            .map_err(driver_err)?;
        if id != DEVICE_ID {
            let (vendor, device) = dev.ids().unwrap_or((0, 0));
            return Err(BackendError::Device(format!(
                "{addr} ({vendor:04x}:{device:04x}) is not an evnic device: its ID register reads \
                 {id:#010x}, not {DEVICE_ID:#010x} (\"EVNC\"); check the PCI address, or load the \
                 evnic bitstream"
            )));
        }
        if bar0.len() < u64::from(BAR0_BYTES) {
            return Err(driver_err(DriverError::BarTooSmall {
                bar: 0,
                size: bar0.len(),
                need: u64::from(BAR0_BYTES),
            }));
        }
        dev.set_bus_master(true).map_err(driver_err)?;
        let irq_kind = if dev.irq_count(IrqKind::Msix) > 0 {
            IrqKind::Msix
        } else {
            IrqKind::Msi
        };
        let irq = dev
            .enable_irqs(irq_kind, 1)
            .map_err(driver_err)?
            .pop()
            .ok_or_else(|| BackendError::Device("no interrupt vector enabled".into()))?;
        Ok(VfioBackend {
            dev,
            bar0,
            irq,
            irq_kind,
            next_iova: AtomicU64::new(IOVA_BASE),
        })
    }

    /// The opened PCI function, for what only the driver offers (reset, config space).
    pub fn device(&self) -> &VfioPciDevice {
        &self.dev
    }
}

impl Drop for VfioBackend {
    fn drop(&mut self) {
        // Stop interrupts and DMA before the IOMMU mappings (owned by DmaRegions) go away.
        let _ = self.dev.disable_irqs(self.irq_kind);
        let _ = self.dev.set_bus_master(false);
    }
}

fn check_offset(offset: u32) -> Result<(), BackendError> {
    if !offset.is_multiple_of(4) {
        return Err(BackendError::BadAccess {
            offset,
            why: "not 4-byte aligned",
        });
    }
    if offset >= BAR0_BYTES {
        return Err(BackendError::BadAccess {
            offset,
            why: "past the end of BAR0",
        });
    }
    Ok(())
}

impl Backend for VfioBackend {
    fn describe(&self) -> String {
        format!("vfio {}", self.dev.address())
    }

    fn read32(&self, offset: u32) -> Result<u32, BackendError> {
        check_offset(offset)?;
        self.bar0.read32(u64::from(offset)).map_err(driver_err)
    }

    fn write32(&self, offset: u32, value: u32) -> Result<(), BackendError> {
        check_offset(offset)?;
        self.bar0
            .write32(u64::from(offset), value)
            .map_err(driver_err)
    }

    fn alloc_dma(&self, len: usize) -> Result<DmaRegion, BackendError> {
        if len == 0 {
            return Err(BackendError::Dma("zero-length DMA buffer".into()));
        }
        let size = (len as u64).div_ceil(PAGE) * PAGE;
        let iova = self.next_iova.fetch_add(size + PAGE, Ordering::Relaxed);
        let buf = self.dev.alloc_dma(len, iova).map_err(driver_err)?;
        let ptr = NonNull::new(buf.as_ptr())
            .ok_or_else(|| BackendError::Dma("DMA buffer at a null address".into()))?;
        // SAFETY: the memory is zeroed at allocation and stays mapped for the device at `iova`
        // until `buf` (the keeper) drops, which unmaps it from the IOMMU before freeing it.
        Ok(unsafe { DmaRegion::new(ptr, len, iova, Box::new(buf)) })
    }

    fn irq_fd(&self) -> RawFd {
        self.irq.as_raw_fd()
    }
}
