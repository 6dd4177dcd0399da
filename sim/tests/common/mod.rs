//! Test support: event queues in host memory read the way a host does (phase bit, read count,
//! doorbell), on the cycle-level simulated device.
#![allow(dead_code)]

use evnic_regs::event::{Event, EVENT_BYTES};
use evnic_regs::map::{vi, vi_reg};
use evnic_sim::{SimConfig, SimDevice};

pub fn device() -> SimDevice {
    SimDevice::new(SimConfig::default()).expect("model")
}

/// An event queue of one VI, its ring in memory of this process mapped for the device.
/// Declare the device before its queues, so that the device is dropped first.
pub struct TestQueue {
    pub vi: u32,
    pub size: u32,
    pub iova: u64,
    ring: Box<[u64]>,
    /// Events consumed (the read count).
    pub rptr: u32,
}

impl TestQueue {
    /// Maps a ring of `1 << size_log2` events at `iova` and programs VI `vi`'s queue.
    pub fn new(d: &mut SimDevice, vi: u32, size_log2: u32, iova: u64) -> TestQueue {
        let size = 1u32 << size_log2;
        let mut ring = vec![0u64; size as usize * 2].into_boxed_slice();
        unsafe {
            d.memory
                .map(
                    iova,
                    ring.as_mut_ptr() as *mut u8,
                    size as usize * EVENT_BYTES,
                )
                .unwrap()
        };
        d.write32(vi_reg(vi, &vi::EVQ_BASE_LO), iova as u32)
            .unwrap();
        d.write32(vi_reg(vi, &vi::EVQ_BASE_HI), (iova >> 32) as u32)
            .unwrap();
        d.write32(vi_reg(vi, &vi::EVQ_SIZE), size_log2).unwrap();
        TestQueue {
            vi,
            size,
            iova,
            ring,
            rptr: 0,
        }
    }

    fn slot(&self, count: u32) -> ([u64; 2], bool) {
        let i = (count % self.size) as usize;
        // SAFETY: reading our own ring; the device writes it only between our calls here.
        let w = unsafe {
            [
                std::ptr::read_volatile(&self.ring[2 * i]),
                std::ptr::read_volatile(&self.ring[2 * i + 1]),
            ]
        };
        let expected_phase = (count / self.size).is_multiple_of(2);
        (w, expected_phase)
    }

    /// Takes every new event (without returning space to the device).
    pub fn poll(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        loop {
            let (w, phase) = self.slot(self.rptr);
            let e = Event::decode(w);
            if e.phase != phase || e.kind == 0 {
                break;
            }
            out.push(e);
            self.rptr = self.rptr.wrapping_add(1);
        }
        out
    }

    /// Returns the consumed space to the device.
    pub fn doorbell(&self, d: &mut SimDevice) {
        d.write32(vi_reg(self.vi, &vi::EVQ_RPTR), self.rptr)
            .unwrap();
    }

    /// Arms the queue with the current read count.
    pub fn prime(&self, d: &mut SimDevice) {
        d.write32(vi_reg(self.vi, &vi::EVQ_PRIME), self.rptr)
            .unwrap();
    }
}

/// IOVA of queue `vi` in these tests: 1 MiB apart.
pub fn iova(vi: u32) -> u64 {
    0x1_0000_0000 + vi as u64 * 0x10_0000
}
