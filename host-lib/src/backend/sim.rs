//! The simulated device as a backend: the Verilator model of the core running free on its own
//! thread ([`evnic_sim::SimHandle`]). DMA memory is ordinary memory of this process registered
//! with the model's IOMMU-like host-memory map, so the library polls it as it would on a board.
//!
//! Beyond what a board offers, [`SimBackend`] reaches the model's MAC and debug ports: frames
//! into the receive port ([`SimBackend::inject`], [`SimBackend::schedule`]), frames out of the
//! transmit port ([`SimBackend::take_tx_frames`]), the parser and filter verdict of every
//! received frame ([`SimBackend::take_verdicts`]). Get it from a [`crate::Nic`] with
//! [`crate::Nic::sim`].

use super::{check_offset, Backend, BackendError, DmaRegion};
use evnic_proto::DmaMemory;
use evnic_sim::HostBuffer;
pub use evnic_sim::{FrameVerdict, SimConfig, SimError, SimHandle, TxFrame};
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// First IOVA handed out; like a VFIO user, the simulation places buffers at chosen addresses.
const IOVA_BASE: u64 = 0x1000_0000;
/// DMA buffers are whole pages, each followed by an unmapped guard page.
const PAGE: u64 = evnic_sim::memory::PAGE as u64;

/// The Verilator model as a device.
pub struct SimBackend {
    handle: SimHandle,
    next_iova: AtomicU64,
}

impl SimBackend {
    /// Builds the model and starts its clock.
    pub fn start(config: SimConfig) -> Result<SimBackend, BackendError> {
        Ok(SimBackend {
            handle: SimHandle::spawn(config)?,
            next_iova: AtomicU64::new(IOVA_BASE),
        })
    }

    /// The running model, for anything else only a simulation can do (drive the device-space
    /// ports, corrupt looped-back frames, trace).
    pub fn handle(&self) -> &SimHandle {
        &self.handle
    }

    /// Queues a frame (FCS included) for the MAC receive port now, after any frame already
    /// queued; `mac_error` marks its last beat as a MAC error. A frame of no bytes is refused
    /// (`SimError::EmptyFrame`).
    pub fn inject(&self, frame: Vec<u8>, mac_error: bool) -> Result<(), crate::Error> {
        self.handle
            .with(move |d| d.inject_frame(frame, mac_error))
            .map_err(|e| BackendError::Sim(e).into())
    }

    /// Queues frames (FCS included) for the MAC receive port, each at the moment the device's
    /// cycle counter (the clock of event timestamps) reads its cycle, like peers sending at
    /// those times. Refuses them all, queueing none, if one has no bytes.
    pub fn schedule(&self, frames: Vec<(u64, Vec<u8>)>) -> Result<(), crate::Error> {
        if frames.iter().any(|(_, f)| f.is_empty()) {
            return Err(BackendError::Sim(SimError::EmptyFrame).into());
        }
        self.handle.with(move |d| {
            for (cycle, frame) in frames {
                let at = d.sim_cycle_at(cycle);
                d.schedule_frame(at, frame, false)
                    .expect("frames checked to have bytes");
            }
        });
        Ok(())
    }

    /// Queues frames (FCS included) for the MAC receive port at offsets in cycles from the
    /// device's cycle as the queue takes them, so that their spacing holds however far the
    /// free-running device got while the call was on its way (with [`schedule`](Self::schedule)
    /// a cycle read from the device beforehand may have passed, and frames due in the past
    /// enter back to back). Refuses them all, queueing none, if one has no bytes.
    pub fn schedule_from_now(&self, frames: Vec<(u64, Vec<u8>)>) -> Result<(), crate::Error> {
        if frames.iter().any(|(_, f)| f.is_empty()) {
            return Err(BackendError::Sim(SimError::EmptyFrame).into());
        }
        self.handle.with(move |d| {
            let now = d.cycle();
            for (offset, frame) in frames {
                d.schedule_frame(now + offset, frame, false)
                    .expect("frames checked to have bytes");
            }
        });
        Ok(())
    }

    /// Frames still waiting to enter the receive port (queued or scheduled).
    pub fn rx_backlog(&self) -> usize {
        self.handle.with(|d| d.rx_backlog() + d.rx_scheduled())
    }

    /// Frames that left the MAC transmit port (FCS included) since the last call; their
    /// `start` and `cycle` (first and last beat) are values of the device's cycle counter.
    pub fn take_tx_frames(&self) -> Vec<TxFrame> {
        self.handle.with(|d| {
            let mut frames = d.take_tx_frames();
            for f in &mut frames {
                f.start = d.counter_at(f.start);
                f.cycle = d.counter_at(f.cycle);
            }
            frames
        })
    }

    /// The parser and filter verdicts of the frames received since the last call; their
    /// `cycle` is a value of the device's cycle counter.
    pub fn take_verdicts(&self) -> Vec<FrameVerdict> {
        self.handle.with(|d| {
            let mut v = d.take_verdicts();
            for x in &mut v {
                x.cycle = d.counter_at(x.cycle);
            }
            v
        })
    }

    /// Loopback: every frame leaving the transmit port also enters the receive port.
    pub fn set_loopback(&self, on: bool) {
        self.handle.with(move |d| d.set_loopback(on));
    }

    /// DMA accesses the model's host-memory map refused so far (none unless something is
    /// wrong).
    pub fn fault_count(&self) -> u64 {
        self.handle.with(|d| d.memory.fault_count())
    }
}

struct SimDmaOwner {
    handle: SimHandle,
    buf: HostBuffer,
}

impl Drop for SimDmaOwner {
    fn drop(&mut self) {
        // Unmap first: once unmap returns the device can no longer reach the memory, which the
        // buffer frees after this.
        self.handle.unmap_dma(self.buf.iova());
    }
}

/// Memory shared with another process, mapped for the model's DMA.
struct SimSharedOwner {
    handle: SimHandle,
    iova: u64,
    /// Keeps the memory mapped here; dropped after the unmap.
    _keep: Box<dyn Send + Sync>,
}

impl Drop for SimSharedOwner {
    fn drop(&mut self) {
        self.handle.unmap_dma(self.iova);
    }
}

impl SimBackend {
    fn take_iova(&self, len: usize) -> u64 {
        let size = (len as u64).div_ceil(PAGE) * PAGE;
        self.next_iova.fetch_add(size + PAGE, Ordering::Relaxed)
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
        check_offset(offset, 1 << evnic_regs::map::BAR_ADDR_BITS)?;
        Ok(self.handle.read32(offset)?)
    }

    fn write32(&self, offset: u32, value: u32) -> Result<(), BackendError> {
        check_offset(offset, 1 << evnic_regs::map::BAR_ADDR_BITS)?;
        self.handle.write32(offset, value);
        Ok(())
    }

    fn alloc_dma(&self, len: usize) -> Result<DmaRegion, BackendError> {
        if len == 0 {
            return Err(BackendError::Dma {
                bytes: 0,
                why: "a zero-length buffer".into(),
            });
        }
        let iova = self.take_iova(len);
        let buf = HostBuffer::new(iova, len);
        // SAFETY: the buffer lives in the owner, which unmaps it before freeing it.
        unsafe { self.handle.map_dma(iova, buf.host_ptr(), buf.len()) }
            .map_err(|why| BackendError::Dma { bytes: len, why })?;
        let ptr = NonNull::new(buf.host_ptr()).expect("an allocation");
        let owner = SimDmaOwner {
            handle: self.handle.clone(),
            buf,
        };
        // SAFETY: zeroed, page-aligned memory mapped at `iova` until the owner drops.
        Ok(unsafe { DmaRegion::new(ptr, len, iova, Box::new(owner)) })
    }

    fn irq_fd(&self) -> RawFd {
        self.handle.irq_fd()
    }

    unsafe fn map_shared(
        &self,
        ptr: NonNull<u8>,
        len: usize,
        keep: Box<dyn Send + Sync>,
    ) -> Result<DmaRegion, BackendError> {
        let iova = self.take_iova(len);
        // SAFETY: the caller keeps the memory valid until `keep` drops, which the owner drops
        // only after unmapping.
        unsafe { self.handle.map_dma(iova, ptr.as_ptr(), len) }
            .map_err(|why| BackendError::Dma { bytes: len, why })?;
        let owner = SimSharedOwner {
            handle: self.handle.clone(),
            iova,
            _keep: keep,
        };
        // SAFETY: the caller's memory, mapped at `iova` until the owner drops.
        Ok(unsafe { DmaRegion::new(ptr, len, iova, Box::new(owner)) })
    }

    unsafe fn attach_doorbells(&self, vi: u32, page: evnic_proto::doorbell::DoorbellPage) -> bool {
        // SAFETY: passed on from the caller.
        unsafe { self.handle.attach_doorbells(vi, page) };
        true
    }

    fn detach_doorbells(&self, vi: u32) {
        self.handle.detach_doorbells(vi);
    }

    fn doorbell_wake_fd(&self) -> Option<RawFd> {
        Some(self.handle.wake_fd())
    }

    fn doorbells_applied(&self) -> u64 {
        self.handle.doorbells_applied()
    }

    fn sim(&self) -> Option<&SimBackend> {
        Some(self)
    }
}
