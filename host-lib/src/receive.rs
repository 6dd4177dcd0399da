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
//!
//! A [`Receiver`] holds a lease on its endpoint: the VI stays the endpoint's until both are
//! dropped, so a receiver never writes the doorbells of a VI that has been handed to someone
//! else, and an endpoint has at most one receiver at a time (a second is refused with
//! [`Error::RingInUse`]).

use crate::backend::DmaRegion;
use crate::endpoint::{Endpoint, EndpointInner};
use crate::event::{Event, EventKind};
use crate::Error;
use evnic_proto::rings::{self, DescRing, Queue};
use evnic_proto::DmaMemory;
use evnic_regs::desc::RxDesc;
use evnic_regs::map::{vi, vi_reg};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Counters of a receive ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxCounters {
    /// Frames taken from the ring.
    pub frames: u64,
    /// Bytes taken from the ring (as written by the device: FCS included, cut when truncated).
    pub bytes: u64,
}

/// An endpoint's receive ring: `1 << log2` buffers posted to the device, reposted as frames are
/// taken. Dropping it disables the ring (the device then drops frames for this VI, counted).
pub struct Receiver {
    ring: DescRing<DmaRegion>,
    buf_len: usize,
    bufs: DmaRegion,
    /// Descriptors posted so far (the ring's write count).
    posted: u32,
    counters: RxCounters,
    /// The lease, dropped last: the VI is not handed on before the ring's memory is unmapped.
    ep: Arc<EndpointInner>,
}

impl Endpoint {
    /// Gives this endpoint's VI a receive ring of `1 << log2` buffers of `buf_len` bytes each
    /// (a frame longer than its buffer is cut and flagged TRUNCATED). A frame that arrives
    /// while the device is still fetching a posted descriptor waits for it (counted in the
    /// device's `RX_DESC_WAITS`); only a ring with no buffer posted drops a frame for want of
    /// one (counted in `RXQ_DROPS`).
    /// Refused while the endpoint has a receiver already.
    pub fn receiver(&self, log2: u32, buf_len: u16) -> Result<Receiver, Error> {
        if buf_len < 64 {
            return Err(Error::BufferSize {
                ring: Queue::Rx.name(),
                len: u32::from(buf_len),
                min: 64,
                max: u32::from(u16::MAX),
            });
        }
        let ep = self.inner.clone();
        let claim = ep.claim(Queue::Rx, log2)?;
        let dev = &*ep.core.dev;
        let n = 1usize << log2;
        // Buffers 16-byte aligned, as the device writes 16-byte beats.
        let stride = usize::from(buf_len).div_ceil(16) * 16;
        let ring = claim.descriptors(log2)?;
        let bufs = dev.alloc_dma(n * stride)?;
        for i in 0..n as u32 {
            ring.store_rx(
                i,
                &RxDesc {
                    addr: bufs.iova() + u64::from(i) * stride as u64,
                    len: buf_len,
                },
            );
        }
        let mut r = ep.core.regs();
        ring.program(&mut r, ep.vi())?;
        ring.post(&mut r, ep.vi(), n as u32)?;
        claim.keep();
        Ok(Receiver {
            ep,
            ring,
            buf_len: stride,
            bufs,
            posted: n as u32,
            counters: RxCounters::default(),
        })
    }
}

impl Receiver {
    /// The frame of an RX event that this ring holds, copied out; its buffer is posted again.
    /// `None` for other events, frames stored in another VI's ring, and frames not stored.
    /// Take the frames of this ring in the order their events arrive.
    pub fn take(&mut self, ev: &Event) -> Option<Vec<u8>> {
        let EventKind::Rx {
            len,
            stored: Some(slot),
            ..
        } = ev.kind()
        else {
            return None;
        };
        if slot.vi.0 != self.ep.vi() {
            return None;
        }
        // The event carries the low 16 bits of the descriptor count.
        let log2 = self.ring.log2();
        let used = self.posted.wrapping_sub(1 << log2);
        let count = (used & !0xffff) | u32::from(slot.desc);
        let count = if count < used {
            count.wrapping_add(0x1_0000)
        } else {
            count
        };
        let index = (count & ((1 << log2) - 1)) as usize;
        let len = (len as usize).min(self.buf_len);
        let mut out = vec![0u8; len];
        // SAFETY: the device finished writing this buffer before it wrote the event (whose
        // acquire load orders this read after it), and reuses it only once it is posted again.
        unsafe { self.bufs.read_bytes(index * self.buf_len, &mut out) };
        self.counters.frames += 1;
        self.counters.bytes += len as u64;
        let w = &self.ep.waker;
        w.rx_frames.fetch_add(1, Ordering::Relaxed);
        w.rx_bytes.fetch_add(len as u64, Ordering::Relaxed);
        // Post the buffer again.
        let next = count.wrapping_add(1 << log2);
        if next.wrapping_sub(self.posted) < 0x8000_0000 {
            self.ring.store_rx(
                count,
                &RxDesc {
                    addr: self.bufs.iova() + (index * self.buf_len) as u64,
                    len: self.buf_len.min(usize::from(u16::MAX)) as u16,
                },
            );
            self.posted = next.wrapping_add(1);
            let mut r = self.ep.core.regs();
            if let Err(e) = self.ring.post(&mut r, self.ep.vi(), self.posted) {
                self.ep.core.fail("a receive doorbell", e);
            }
        }
        Some(out)
    }

    /// Frames and bytes taken from this ring.
    pub fn counters(&self) -> RxCounters {
        self.counters
    }

    /// Frames dropped for this VI for want of a posted buffer (`RXQ_DROPS`).
    pub fn drops(&self) -> Result<u32, Error> {
        Ok(self
            .ep
            .core
            .dev
            .read32(vi_reg(self.ep.vi(), &vi::RXQ_DROPS))?)
    }

    /// Buffers in the ring.
    pub fn slots(&self) -> u32 {
        self.ring.size()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Disable the ring before its memory goes (the DMA regions unmap on drop).
        let _ = rings::disable(&mut self.ep.core.regs(), self.ep.vi(), Queue::Rx);
        self.ep.release(Queue::Rx);
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("vi", &self.ep.vi())
            .field("slots", &self.ring.size())
            .field("counters", &self.counters)
            .finish()
    }
}
