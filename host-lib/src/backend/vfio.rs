//! A real board through VFIO: BAR0 mapped into this process, DMA memory mapped into the board's
//! IOMMU domain, and the interrupt on an eventfd ([`evnic_driver`]).
//!
//! Opening checks the ID register before anything else touches the device (no bus mastering, no
//! interrupt set-up): a function that is not an evnic device is refused and left as it was.

use super::relay::DoorbellRelay;
use super::{check_offset, Backend, BackendError, DmaRegion};
use evnic_driver::{Bar, Error as DriverError, Interrupt, IrqKind, VfioPciDevice};
use evnic_proto::params::DeviceParams;
use evnic_proto::PciAddress;
use evnic_regs::map::{global as g, global_reg};
use evnic_regs::params::DEVICE_ID;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// First IOVA handed out (as in the simulation); buffers follow, each with a guard page.
const IOVA_BASE: u64 = 0x1000_0000;
/// DMA buffers are page aligned and a whole number of pages.
const PAGE: u64 = 4096;

/// An evnic board opened through vfio-pci.
pub struct VfioBackend {
    dev: VfioPciDevice,
    bar0: Arc<Bar>,
    irq: Interrupt,
    irq_kind: IrqKind,
    next_iova: AtomicU64,
    /// Applies hub clients' doorbell pages to BAR0; started by the first page attached.
    relay: Mutex<Option<DoorbellRelay>>,
}

/// BAR0 accesses during open, before the backend exists.
struct Probe<'a>(&'a Bar);

impl evnic_proto::RegisterAccess for Probe<'_> {
    type Error = DriverError;
    fn read32(&mut self, offset: u32) -> Result<u32, DriverError> {
        self.0.read32(u64::from(offset))
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), DriverError> {
        self.0.write32(u64::from(offset), value)
    }
}

impl VfioBackend {
    /// Opens the evnic board at `addr`, which must be bound to vfio-pci.
    ///
    /// Refuses a function whose ID register (BAR0 + 0) does not read "EVNC", and one whose BAR0
    /// is smaller than the register map of the VIs its `NUM_VIS` register reports. Then enables
    /// bus mastering (for DMA) and one interrupt vector, MSI-X when the board has it, else MSI.
    pub fn open(addr: &PciAddress) -> Result<VfioBackend, BackendError> {
        let dev = VfioPciDevice::open(&addr.to_string())?;
        let bar0 = dev.map_bar(0, 4)?;
        let id = bar0.read32(u64::from(global_reg(&g::ID)))?;
        if id != DEVICE_ID {
            let (vendor, device) = dev.ids().unwrap_or((0, 0));
            return Err(BackendError::NotEvnic {
                addr: addr.to_string(),
                vendor,
                device,
                id,
            });
        }
        let params = DeviceParams::read(&mut Probe(&bar0))?;
        if bar0.len() < params.bar0_bytes() {
            return Err(DriverError::BarTooSmall {
                bar: 0,
                size: bar0.len(),
                need: params.bar0_bytes(),
            }
            .into());
        }
        dev.set_bus_master(true)?;
        let irq_kind = if dev.irq_count(IrqKind::Msix) > 0 {
            IrqKind::Msix
        } else {
            IrqKind::Msi
        };
        let irq = dev
            .enable_irqs(irq_kind, 1)?
            .pop()
            .ok_or_else(|| BackendError::NoInterrupt {
                addr: addr.to_string(),
            })?;
        Ok(VfioBackend {
            dev,
            bar0: Arc::new(bar0),
            irq,
            irq_kind,
            next_iova: AtomicU64::new(IOVA_BASE),
            relay: Mutex::new(None),
        })
    }

    /// The opened PCI function, for what only the driver offers (reset, config space).
    pub fn device(&self) -> &VfioPciDevice {
        &self.dev
    }
}

impl Drop for VfioBackend {
    fn drop(&mut self) {
        // No doorbell reaches the board after this.
        self.relay.lock().unwrap().take();
        // Stop interrupts and DMA before the IOMMU mappings (owned by DmaRegions) go away.
        let _ = self.dev.disable_irqs(self.irq_kind);
        let _ = self.dev.set_bus_master(false);
    }
}

impl Backend for VfioBackend {
    fn describe(&self) -> String {
        format!("vfio {}", self.dev.address())
    }

    fn read32(&self, offset: u32) -> Result<u32, BackendError> {
        check_offset(offset, self.bar0.len())?;
        Ok(self.bar0.read32(u64::from(offset))?)
    }

    fn write32(&self, offset: u32, value: u32) -> Result<(), BackendError> {
        check_offset(offset, self.bar0.len())?;
        Ok(self.bar0.write32(u64::from(offset), value)?)
    }

    fn alloc_dma(&self, len: usize) -> Result<DmaRegion, BackendError> {
        if len == 0 {
            return Err(BackendError::Dma {
                bytes: 0,
                why: "a zero-length buffer".into(),
            });
        }
        let size = (len as u64).div_ceil(PAGE) * PAGE;
        let iova = self.next_iova.fetch_add(size + PAGE, Ordering::Relaxed);
        let buf = self.dev.alloc_dma(len, iova)?;
        let ptr = NonNull::new(buf.as_ptr()).ok_or_else(|| BackendError::Dma {
            bytes: len,
            why: "the driver returned a null address".into(),
        })?;
        // SAFETY: the memory is zeroed, page aligned, and stays mapped for the device at `iova`
        // until `buf` (the keeper) drops, which unmaps it from the IOMMU before freeing it.
        Ok(unsafe { DmaRegion::new(ptr, len, iova, Box::new(buf)) })
    }

    fn irq_fd(&self) -> RawFd {
        self.irq.as_raw_fd()
    }

    /// A hub's client cannot map BAR0 (only the device fd can, and it would reach every page):
    /// its doorbell page is drained by a relay thread here, which writes the records to the
    /// VI's registers ([`super::relay`]). The client's doorbell stays one store.
    unsafe fn attach_doorbells(&self, vi: u32, page: evnic_proto::doorbell::DoorbellPage) -> bool {
        let mut relay = self.relay.lock().unwrap();
        if relay.is_none() {
            let bar = self.bar0.clone();
            let write = Box::new(move |offset: u32, value: u32| {
                bar.write32(u64::from(offset), value)
                    .map_err(|e| e.to_string())
            });
            match DoorbellRelay::start(write) {
                Ok(r) => *relay = Some(r),
                // Without a relay the client's doorbells go as register writes.
                Err(_) => return false,
            }
        }
        let r = relay.as_ref().expect("started above");
        // SAFETY: the caller keeps the page mapped until it is detached.
        unsafe { r.attach(vi, page) };
        true
    }

    fn detach_doorbells(&self, vi: u32) {
        if let Some(r) = self.relay.lock().unwrap().as_ref() {
            r.detach(vi);
        }
    }

    fn doorbell_wake_fd(&self) -> Option<RawFd> {
        self.relay.lock().unwrap().as_ref().map(|r| r.wake_fd())
    }

    fn doorbells_applied(&self) -> u64 {
        self.relay
            .lock()
            .unwrap()
            .as_ref()
            .map_or(0, |r| r.applied())
    }

    unsafe fn map_shared(
        &self,
        ptr: NonNull<u8>,
        len: usize,
        keep: Box<dyn Send + Sync>,
    ) -> Result<DmaRegion, BackendError> {
        let size = (len as u64).div_ceil(PAGE) * PAGE;
        let iova = self.next_iova.fetch_add(size + PAGE, Ordering::Relaxed);
        // SAFETY: the caller keeps the memory mapped until `keep` drops, which the buffer does
        // after the IOMMU unmap.
        let buf = unsafe { self.dev.map_shared_dma(ptr, size as usize, iova, keep) }?;
        // SAFETY: mapped for the device at `iova` until `buf` drops (the IOMMU unmap first).
        Ok(unsafe { DmaRegion::new(ptr, len, iova, Box::new(buf)) })
    }
}
