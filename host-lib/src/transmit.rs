//! Transmitting: an endpoint's transmit ring. The device reads each frame from host memory by
//! DMA, pads it to the Ethernet minimum, optionally inserts a CRC-32C (RDMA/MPA style) over a
//! span, appends the FCS, sends it on the MAC, and posts a TX_DONE event (or an ERROR event for
//! a refused descriptor) to the endpoint's event queue.
//!
//! ```no_run
//! # let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
//! use evnic::TxOptions;
//! let ep = nic.endpoint(Default::default())?;
//! let mut tx = ep.transmitter(4, 2048)?;
//! let frame = vec![0u8; 60];
//! tx.send(&frame, TxOptions::default())?;
//! if let Some(ev) = ep.wait(None)? {
//!     tx.complete(&ev);
//! }
//! # Ok::<(), evnic::Error>(())
//! ```
//!
//! Like a [`crate::Receiver`], a [`Transmitter`] holds a lease on its endpoint, and an
//! endpoint has at most one at a time.

use crate::backend::DmaRegion;
use crate::endpoint::{Endpoint, EndpointInner};
use crate::event::{Event, EventKind};
use crate::{Error, ErrorCode};
use evnic_proto::rings::{self, DescRing, Queue};
use evnic_proto::DmaMemory;
use evnic_regs::desc::{TxDesc, TX_FLAG_CRC32C, TX_MAX_LEN};
use evnic_regs::map::{vi, vi_reg};
use std::sync::atomic::Ordering;
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
    Sent {
        /// The descriptor count.
        desc: u32,
        /// Bytes sent.
        len: u32,
    },
    /// Refused by the device.
    Refused {
        /// The descriptor index (its low 16 bits).
        desc: u32,
        /// Why.
        code: ErrorCode,
    },
}

/// Counters of a transmit ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxCounters {
    /// Frames posted.
    pub posted: u64,
    /// Frames the device sent (TX_DONE).
    pub frames: u64,
    /// Bytes of those frames, before padding and FCS.
    pub bytes: u64,
    /// Frames the device refused (ERROR).
    pub refused: u64,
}

/// An endpoint's transmit ring of `1 << log2` frame buffers. Dropping it disables the ring.
pub struct Transmitter {
    ring: DescRing<DmaRegion>,
    buf_len: usize,
    bufs: DmaRegion,
    /// Descriptors posted (the ring's write count) and completed.
    posted: u32,
    completed: u32,
    counters: TxCounters,
    /// The lease, dropped last: the VI is not handed on before the ring's memory is unmapped.
    ep: Arc<EndpointInner>,
}

impl Endpoint {
    /// Gives this endpoint's VI a transmit ring of `1 << log2` buffers of `buf_len` bytes
    /// (frames up to that length, without FCS). Refused while the endpoint has a transmitter
    /// already.
    pub fn transmitter(&self, log2: u32, buf_len: u16) -> Result<Transmitter, Error> {
        if buf_len == 0 || u32::from(buf_len) > TX_MAX_LEN {
            return Err(Error::BufferSize {
                ring: Queue::Tx.name(),
                len: u32::from(buf_len),
                min: 1,
                max: TX_MAX_LEN,
            });
        }
        let ep = self.inner.clone();
        let claim = ep.claim(Queue::Tx, log2)?;
        let dev = &*ep.core.dev;
        let n = 1usize << log2;
        // The device reads whole 16-byte blocks.
        let stride = usize::from(buf_len).div_ceil(16) * 16;
        let ring = claim.descriptors(log2)?;
        let bufs = dev.alloc_dma(n * stride)?;
        ring.program(&mut ep.core.regs(), ep.vi())?;
        claim.keep();
        Ok(Transmitter {
            ring,
            buf_len: usize::from(buf_len),
            bufs,
            posted: 0,
            completed: 0,
            counters: TxCounters::default(),
            ep,
        })
    }
}

impl Transmitter {
    /// Frames posted and not yet completed.
    pub fn in_flight(&self) -> u32 {
        self.posted.wrapping_sub(self.completed)
    }

    /// Buffers in the ring.
    pub fn slots(&self) -> u32 {
        self.ring.size()
    }

    /// The longest frame this ring sends (without FCS).
    pub fn max_frame(&self) -> usize {
        self.buf_len.min(TX_MAX_LEN as usize)
    }

    /// Copies `frame` (without FCS) into the next buffer and posts it; returns its descriptor
    /// count. The ring full (every buffer in flight), a frame too long or a CRC-32C span that
    /// does not fit is refused with an error; nothing is posted then.
    pub fn send(&mut self, frame: &[u8], opts: TxOptions) -> Result<u32, Error> {
        if frame.is_empty() || frame.len() > self.max_frame() {
            return Err(Error::FrameSize {
                len: frame.len(),
                max: self.max_frame(),
            });
        }
        if let Some((offset, len)) = opts.crc32c {
            if usize::from(offset) + usize::from(len) + 4 > frame.len() {
                return Err(Error::CrcSpan {
                    offset,
                    len,
                    frame: frame.len(),
                });
            }
        }
        if self.in_flight() >= self.ring.size() {
            return Err(Error::TxRingFull {
                slots: self.ring.size(),
            });
        }
        let count = self.posted;
        let stride = self.buf_len.div_ceil(16) * 16;
        let at = (count & (self.ring.size() - 1)) as usize * stride;
        // SAFETY: the slot's buffer is not in flight (checked above): the device does not read
        // it until the doorbell below.
        unsafe { self.bufs.write_bytes(at, frame) };
        let (crc_offset, crc_len, flags) = match opts.crc32c {
            Some((o, l)) => (o, l, TX_FLAG_CRC32C),
            None => (0, 0, 0),
        };
        self.ring.store_tx(
            count,
            &TxDesc {
                addr: self.bufs.iova() + at as u64,
                len: frame.len() as u16,
                crc_offset,
                crc_len,
                flags,
            },
        );
        self.posted = count.wrapping_add(1);
        self.ring
            .post(&mut self.ep.core.regs(), self.ep.vi(), self.posted)?;
        self.counters.posted += 1;
        Ok(count)
    }

    /// Accounts a completion event of this ring (TX_DONE or a refused descriptor's ERROR) and
    /// frees its buffer; `None` for any other event.
    pub fn complete(&mut self, ev: &Event) -> Option<TxCompletion> {
        let c = match ev.kind() {
            EventKind::TxDone { desc, len } => {
                self.counters.frames += 1;
                self.counters.bytes += u64::from(len);
                let w = &self.ep.waker;
                w.tx_frames.fetch_add(1, Ordering::Relaxed);
                w.tx_bytes.fetch_add(u64::from(len), Ordering::Relaxed);
                TxCompletion::Sent { desc, len }
            }
            EventKind::Error {
                code: Some(code @ (ErrorCode::TxBadLength | ErrorCode::DmaFault)),
                detail,
                ..
            } => {
                self.counters.refused += 1;
                TxCompletion::Refused { desc: detail, code }
            }
            _ => return None,
        };
        self.completed = self.completed.wrapping_add(1);
        Some(c)
    }

    /// Frames and bytes posted, sent and refused.
    pub fn counters(&self) -> TxCounters {
        self.counters
    }

    /// Descriptors the device refused (`TXQ_ERRORS`).
    pub fn device_errors(&self) -> Result<u32, Error> {
        Ok(self
            .ep
            .core
            .dev
            .read32(vi_reg(self.ep.vi(), &vi::TXQ_ERRORS))?)
    }
}

impl Drop for Transmitter {
    fn drop(&mut self) {
        // Disable the ring before its memory goes (the DMA regions unmap on drop).
        let _ = rings::disable(&mut self.ep.core.regs(), self.ep.vi(), Queue::Tx);
        self.ep.release(Queue::Tx);
    }
}

impl std::fmt::Debug for Transmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transmitter")
            .field("vi", &self.ep.vi())
            .field("slots", &self.ring.size())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}
