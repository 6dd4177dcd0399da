//! The host side the receive benches share: one VI with an event queue and a receive ring of
//! posted buffers in this process' memory, and test frames.

use evnic_regs::event::Event;
use evnic_regs::map::{vi, vi_reg};
use evnic_sim::{SimConfig, SimDevice};

/// A simulated device and VI `vi`'s queues in host memory.
pub struct RxHost {
    pub d: SimDevice,
    /// Events taken so far.
    pub seen: u32,
    events: Box<[u64]>,
    _descs: Box<[u64]>,
    _bufs: Box<[u64]>,
}

impl RxHost {
    /// A new device whose VI `vi` has an event queue of `2^evq_log2` events and a receive ring
    /// of `2^ring_log2` descriptors, all posted, each a buffer of `buf` bytes. Filters and the
    /// device's enable are the caller's.
    pub fn new(vi: u32, evq_log2: u32, ring_log2: u32, buf: usize) -> RxHost {
        let mut d = SimDevice::new(SimConfig::default()).expect("model");
        let (nev, nring) = (1usize << evq_log2, 1usize << ring_log2);
        let mut events = vec![0u64; nev * 2].into_boxed_slice();
        let mut descs = vec![0u64; nring * 2].into_boxed_slice();
        let mut bufs = vec![0u64; nring * buf / 8].into_boxed_slice();
        let (evq, ring, base) = (0x1_0000_0000u64, 0x2_0000_0000u64, 0x3_0000_0000u64);
        for i in 0..nring {
            descs[2 * i] = base + (i * buf) as u64;
            descs[2 * i + 1] = buf as u64;
        }
        // SAFETY: the memory lives in the returned value, next to the device that reaches it
        // (the device is its first field, so it is dropped first).
        unsafe {
            d.memory
                .map(evq, events.as_mut_ptr() as *mut u8, nev * 16)
                .unwrap();
            d.memory
                .map(ring, descs.as_mut_ptr() as *mut u8, nring * 16)
                .unwrap();
            d.memory
                .map(base, bufs.as_mut_ptr() as *mut u8, nring * buf)
                .unwrap();
        }
        let mut w = |off: u32, v: u32| d.write32(off, v).unwrap();
        w(vi_reg(vi, &vi::EVQ_BASE_LO), evq as u32);
        w(vi_reg(vi, &vi::EVQ_BASE_HI), (evq >> 32) as u32);
        w(vi_reg(vi, &vi::EVQ_SIZE), evq_log2);
        w(vi_reg(vi, &vi::RXQ_BASE_LO), ring as u32);
        w(vi_reg(vi, &vi::RXQ_BASE_HI), (ring >> 32) as u32);
        w(vi_reg(vi, &vi::RXQ_SIZE), ring_log2);
        w(vi_reg(vi, &vi::RXQ_WPTR), nring as u32);
        RxHost {
            d,
            seen: 0,
            events,
            _descs: descs,
            _bufs: bufs,
        }
    }

    /// The next event, when the device has written it (and takes it): its phase bit matches
    /// the ring's current pass.
    pub fn next_event(&mut self) -> Option<Event> {
        let nev = self.events.len() / 2;
        let i = self.seen as usize % nev;
        // SAFETY: our own memory, read between device steps.
        let w0 = unsafe { std::ptr::read_volatile(&self.events[2 * i]) };
        let w1 = unsafe { std::ptr::read_volatile(&self.events[2 * i + 1]) };
        let e = Event::decode([w0, w1]);
        if e.phase != (self.seen as usize / nev).is_multiple_of(2) || e.event_type().is_none() {
            return None;
        }
        self.seen += 1;
        Some(e)
    }
}

/// A frame of `len` bytes (FCS included) to `dst`, ethertype 0x88B5, payload bytes from `i`.
pub fn frame_to(len: usize, i: usize, dst: [u8; 6]) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
    f[..6].copy_from_slice(&dst);
    f[12] = 0x88;
    f[13] = 0xb5;
    let c = evnic_proto::fcs::fcs(&f[..len - 4]);
    f[len - 4..].copy_from_slice(&c);
    f
}
