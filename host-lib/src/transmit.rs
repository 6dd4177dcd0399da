//! Transmitting: an endpoint's transmit ring. The device reads each frame from host memory by
//! DMA, pads it to the Ethernet minimum, optionally inserts a CRC-32C (RDMA/MPA style) over a
//! span, appends the FCS, sends it on the MAC, and posts a TX_DONE event (or an ERROR event for
//! a refused descriptor) to the endpoint's event queue.
//!
//! ```no_run
//! # let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
//! use evnic::transmit::TxOptions;
//! let ep = nic.endpoint(Default::default())?;
//! let mut tx = ep.transmitter(4, 2048)?;
//! let frame = vec![0u8; 60];
//! tx.send(&frame, TxOptions::default())?;
//! if let Some(ev) = ep.wait(None)? {
//!     tx.complete(&ev);
//! }
//! # Ok::<(), evnic::Error>(())
//! ```

use crate::backend::{Backend, DmaRegion};
use crate::endpoint::Endpoint;
use crate::{Error, Event, EventType};
use evnic_regs::desc::{TxDesc, DESC_BYTES, TX_FLAG_CRC32C, TX_MAX_LEN};
use evnic_regs::map::{vi, vi_reg};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Per-frame transmit options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxOptions {
    /// Compute CRC-32C over `(offset, len)` bytes of the frame and write it, least significant
    /// byte first, over the 4 bytes that follow the span (the frame must hold them).
    pub crc32c: Option<(u16, u16)>,
}

/// How a transmitted frame ended, from its completion event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxCompletion {
    /// Sent: the descriptor count and the length sent (before padding and FCS).
    Sent { desc: u32, len: u16 },
    /// Refused by the device: the descriptor and the error code (see `ErrorCode`).
    Refused { desc: u16, code: u32 },
}

/// An endpoint's transmit ring of `1 << log2` frame buffers. Dropping it disables the ring.
pub struct Transmitter {
    dev: Arc<dyn Backend>,
    vi: u32,
    log2: u32,
    buf_len: usize,
    descs: DmaRegion,
    bufs: DmaRegion,
    /// Descriptors posted (the ring's write count) and completed.
    posted: u32,
    completed: u32,
}

impl Endpoint {
    /// Gives this endpoint's VI a transmit ring of `1 << log2` buffers of `buf_len` bytes
    /// (frames up to that length, without FCS).
    pub fn transmitter(&self, log2: u32, buf_len: u16) -> Result<Transmitter, Error> {
        if log2 == 0 || log2 > vi::RING_SIZE_MAX {
            return Err(Error::BadConfig(format!(
                "transmit ring of 2^{log2} buffers: the device takes 2^1..=2^{}",
                vi::RING_SIZE_MAX
            )));
        }
        if buf_len == 0 || u32::from(buf_len) > TX_MAX_LEN {
            return Err(Error::BadConfig(format!(
                "transmit buffers of {buf_len} bytes: 1..={TX_MAX_LEN}"
            )));
        }
        let dev = self.core.dev.clone();
        let n = 1usize << log2;
        // The device reads whole 16-byte blocks.
        let stride = (buf_len as usize).div_ceil(16) * 16;
        let descs = dev.alloc_dma(n * DESC_BYTES)?;
        let bufs = dev.alloc_dma(n * stride)?;
        let v = self.vi();
        dev.write32(vi_reg(v, &vi::TXQ_SIZE), 0)?;
        dev.write32(vi_reg(v, &vi::TXQ_BASE_LO), descs.iova() as u32)?;
        dev.write32(vi_reg(v, &vi::TXQ_BASE_HI), (descs.iova() >> 32) as u32)?;
        dev.write32(vi_reg(v, &vi::TXQ_SIZE), log2)?;
        Ok(Transmitter {
            dev,
            vi: v,
            log2,
            buf_len: stride,
            descs,
            bufs,
            posted: 0,
            completed: 0,
        })
    }
}

impl Transmitter {
    /// Frames posted and not yet completed.
    pub fn in_flight(&self) -> u32 {
        self.posted.wrapping_sub(self.completed)
    }

    /// Copies `frame` (without FCS) into the next buffer and posts it; returns its descriptor
    /// count. The ring full (every buffer in flight) or a frame too long is refused with an
    /// error; nothing is posted then.
    pub fn send(&mut self, frame: &[u8], opts: TxOptions) -> Result<u32, Error> {
        if frame.is_empty() || frame.len() > self.buf_len.min(TX_MAX_LEN as usize) {
            return Err(Error::BadConfig(format!(
                "a frame of {} bytes: this ring takes 1..={} (without FCS)",
                frame.len(),
                self.buf_len.min(TX_MAX_LEN as usize)
            )));
        }
        if let Some((off, len)) = opts.crc32c {
            if off as usize + len as usize + 4 > frame.len() {
                return Err(Error::BadConfig(format!(
                    "CRC-32C span {off}+{len} and its 4 bytes do not fit a {}-byte frame",
                    frame.len()
                )));
            }
        }
        if self.in_flight() >= 1 << self.log2 {
            return Err(Error::TxRingFull {
                slots: 1 << self.log2,
            });
        }
        let count = self.posted;
        let slot = (count & ((1 << self.log2) - 1)) as usize;
        // SAFETY: the slot's buffer is inside `bufs` and not in flight (checked above).
        unsafe {
            std::ptr::copy_nonoverlapping(
                frame.as_ptr(),
                self.bufs.as_ptr().add(slot * self.buf_len),
                frame.len(),
            );
        }
        let (crc_offset, crc_len, flags) = match opts.crc32c {
            Some((o, l)) => (o, l, TX_FLAG_CRC32C),
            None => (0, 0, 0),
        };
        let d = TxDesc {
            addr: self.bufs.iova() + (slot * self.buf_len) as u64,
            len: frame.len() as u16,
            crc_offset,
            crc_len,
            flags,
        }
        .encode();
        // SAFETY: the descriptor slot is inside `descs` and not in flight.
        unsafe {
            let p = (self.descs.as_ptr() as *const AtomicU64).add(2 * slot);
            (*p).store(d[0], Ordering::Relaxed);
            (*p.add(1)).store(d[1], Ordering::Release);
        }
        self.posted = count.wrapping_add(1);
        self.dev
            .write32(vi_reg(self.vi, &vi::TXQ_WPTR), self.posted)?;
        Ok(count)
    }

    /// Accounts a completion event of this ring (TX_DONE or a refused descriptor's ERROR) and
    /// frees its buffer; `None` for any other event.
    pub fn complete(&mut self, ev: &Event) -> Option<TxCompletion> {
        use crate::ErrorCode;
        let ours =
            |code: u32| code == ErrorCode::TxBadLength as u32 || code == ErrorCode::DmaFault as u32;
        let c = match ev.event_type()? {
            EventType::TxDone => TxCompletion::Sent {
                desc: ev.payload,
                len: ev.aux,
            },
            EventType::Error if ours(ev.payload) => TxCompletion::Refused {
                desc: ev.aux,
                code: ev.payload,
            },
            _ => return None,
        };
        self.completed = self.completed.wrapping_add(1);
        Some(c)
    }
}

impl Drop for Transmitter {
    fn drop(&mut self) {
        // Disable the ring before its memory goes (the DMA regions unmap on drop).
        let _ = self.dev.write32(vi_reg(self.vi, &vi::TXQ_SIZE), 0);
        let _ = self.dev.read32(vi_reg(self.vi, &vi::TXQ_SIZE));
    }
}
