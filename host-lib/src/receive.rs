//! Receiving frame data: an endpoint's receive ring of host buffers, which the device fills
//! with the frames steered to its VI (or, for frames whose filter multicasts to a group, the
//! frames of the default VI), announcing each with an RX event.
//!
//! ```no_run
//! # let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
//! let ep = nic.endpoint(Default::default())?;
//! let mut rx = ep.receiver(6, 2048)?; // 64 buffers of 2 KiB
//! while let Some(ev) = ep.poll() {
//!     if let Some(frame) = rx.take(&ev) {
//!         println!("{} bytes", frame.len());
//!     }
//! }
//! # Ok::<(), evnic::Error>(())
//! ```

use crate::backend::{Backend, DmaRegion};
use crate::endpoint::Endpoint;
use crate::{Error, Event, EventType};
use evnic_regs::desc::{RxDesc, DESC_BYTES};
use evnic_regs::map::filter as fr;
use evnic_regs::map::{vi, vi_reg};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An endpoint's receive ring: `1 << log2` buffers posted to the device, reposted as frames are
/// taken. Dropping it disables the ring (the device then drops frames for this VI, counted).
pub struct Receiver {
    dev: Arc<dyn Backend>,
    vi: u32,
    log2: u32,
    buf_len: usize,
    descs: DmaRegion,
    bufs: DmaRegion,
    /// Descriptors posted so far (the ring's write count).
    posted: u32,
}

impl Endpoint {
    /// Gives this endpoint's VI a receive ring of `1 << log2` buffers of `buf_len` bytes each
    /// (a frame longer than its buffer is cut and flagged TRUNCATED). Post buffers ahead of
    /// traffic: the device prefetches descriptors by DMA, and a frame whose verdict comes before
    /// a descriptor has arrived is dropped for want of a buffer (counted in `RXQ_DROPS`).
    pub fn receiver(&self, log2: u32, buf_len: u16) -> Result<Receiver, Error> {
        if log2 == 0 || log2 > vi::RING_SIZE_MAX {
            return Err(Error::BadConfig(format!(
                "receive ring of 2^{log2} buffers: the device takes 2^1..=2^{}",
                vi::RING_SIZE_MAX
            )));
        }
        if buf_len < 64 {
            return Err(Error::BadConfig(format!(
                "receive buffers of {buf_len} bytes: at least 64"
            )));
        }
        let dev = self.core.dev.clone();
        let n = 1usize << log2;
        // Buffers 16-byte aligned, as the device writes 16-byte beats.
        let stride = (buf_len as usize).div_ceil(16) * 16;
        let descs = dev.alloc_dma(n * DESC_BYTES)?;
        let bufs = dev.alloc_dma(n * stride)?;
        let v = self.vi();
        let rx = Receiver {
            dev: dev.clone(),
            vi: v,
            log2,
            buf_len: stride,
            descs,
            bufs,
            posted: 0,
        };
        for i in 0..n as u32 {
            rx.write_desc(i, buf_len);
        }
        dev.write32(vi_reg(v, &vi::RXQ_SIZE), 0)?;
        dev.write32(vi_reg(v, &vi::RXQ_BASE_LO), rx.descs.iova() as u32)?;
        dev.write32(vi_reg(v, &vi::RXQ_BASE_HI), (rx.descs.iova() >> 32) as u32)?;
        dev.write32(vi_reg(v, &vi::RXQ_SIZE), log2)?;
        let mut rx = rx;
        rx.posted = n as u32;
        dev.write32(vi_reg(v, &vi::RXQ_WPTR), rx.posted)?;
        Ok(rx)
    }
}

impl Receiver {
    fn write_desc(&self, count: u32, len: u16) {
        let slot = (count & ((1 << self.log2) - 1)) as usize;
        let d = RxDesc {
            addr: self.bufs.iova() + (slot * self.buf_len) as u64,
            len,
        }
        .encode();
        // SAFETY: slot < 2^log2 descriptors of 16 bytes inside `descs`, 16-byte aligned; the
        // device reads a descriptor only after the write count covering it is written below.
        unsafe {
            let p = (self.descs.as_ptr() as *const AtomicU64).add(2 * slot);
            (*p).store(d[0], Ordering::Relaxed);
            (*p.add(1)).store(d[1], Ordering::Release);
        }
    }

    /// The frame of an RX event that this ring holds, copied out; its buffer is posted again.
    /// `None` for other events, frames stored in another VI's ring, and frames not stored.
    /// Take the frames of this ring in the order their events arrive.
    pub fn take(&mut self, ev: &Event) -> Option<Vec<u8>> {
        if ev.event_type() != Some(EventType::Rx) || ev.payload & fr::RX_PAYLOAD_NOT_STORED != 0 {
            return None;
        }
        let field = |(lsb, w): (u32, u32)| (ev.payload >> lsb) & ((1 << w) - 1);
        if field(fr::RX_PAYLOAD_VI) != self.vi {
            return None;
        }
        // The event carries the low 16 bits of the descriptor count.
        let low = field(fr::RX_PAYLOAD_DESC);
        let used = self.posted.wrapping_sub(1 << self.log2);
        let count = (used & !0xffff) | low;
        let count = if count < used {
            count.wrapping_add(0x1_0000)
        } else {
            count
        };
        let slot = (count & ((1 << self.log2) - 1)) as usize;
        let len = (ev.aux as usize).min(self.buf_len);
        let mut out = vec![0u8; len];
        // SAFETY: the slot's buffer lies inside `bufs`; the device finished writing it before
        // it wrote the event (the event's acquire load orders this read after it).
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.bufs.as_ptr().add(slot * self.buf_len),
                out.as_mut_ptr(),
                len,
            );
        }
        // Post the buffer again.
        let next = count.wrapping_add(1 << self.log2);
        if next.wrapping_sub(self.posted) < 0x8000_0000 {
            self.write_desc(count, self.buf_len.min(u16::MAX as usize) as u16);
            self.posted = next.wrapping_add(1);
            let _ = self
                .dev
                .write32(vi_reg(self.vi, &vi::RXQ_WPTR), self.posted);
        }
        Some(out)
    }

    /// Frames dropped for this VI for want of a posted buffer.
    pub fn drops(&self) -> Result<u32, Error> {
        Ok(self.dev.read32(vi_reg(self.vi, &vi::RXQ_DROPS))?)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Disable the ring before its memory goes (the DMA regions unmap on drop).
        let _ = self.dev.write32(vi_reg(self.vi, &vi::RXQ_SIZE), 0);
        let _ = self.dev.read32(vi_reg(self.vi, &vi::RXQ_SIZE));
    }
}
