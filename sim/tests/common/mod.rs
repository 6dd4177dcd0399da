//! Test support: event queues in host memory read the way a host does (phase bit, read count,
//! doorbell), on the cycle-level simulated device, through the device protocol of
//! `evnic-proto` (the same reader and queue programming as the library's).
#![allow(dead_code)]

use evnic_proto::evq::EventRing;
use evnic_regs::event::{Event, EVENT_BYTES};
use evnic_sim::{HostBuffer, SimConfig, SimDevice};

pub fn device() -> SimDevice {
    SimDevice::new(SimConfig::default()).expect("model")
}

/// An event queue of one VI, its ring in memory of this process mapped for the device.
/// Declare the device before its queues, so that the device is dropped first.
pub struct TestQueue {
    pub vi: u32,
    pub size: u32,
    pub iova: u64,
    ring: EventRing<HostBuffer>,
}

impl TestQueue {
    /// Maps a ring of `1 << size_log2` events at `iova` and programs VI `vi`'s queue.
    pub fn new(d: &mut SimDevice, vi: u32, size_log2: u32, iova: u64) -> TestQueue {
        let mem = HostBuffer::new(iova, EVENT_BYTES << size_log2);
        // SAFETY: the queue outlives the device (declared after it, dropped before it).
        unsafe { d.map_buffer(&mem).unwrap() };
        let ring = EventRing::new(mem, size_log2).unwrap();
        ring.program(d, vi).unwrap();
        TestQueue {
            vi,
            size: ring.size(),
            iova,
            ring,
        }
    }

    /// Events consumed (the read count).
    pub fn rptr(&self) -> u32 {
        self.ring.read_count()
    }

    /// Takes every new event (without returning space to the device).
    pub fn poll(&mut self) -> Vec<Event> {
        self.ring.drain()
    }

    /// Returns the consumed space to the device.
    pub fn doorbell(&self, d: &mut SimDevice) {
        self.ring.doorbell(d, self.vi).unwrap();
    }

    /// Arms the queue with the current read count.
    pub fn prime(&self, d: &mut SimDevice) {
        self.ring.prime(d, self.vi).unwrap();
    }
}

/// IOVA of queue `vi` in these tests: 1 MiB apart.
pub fn iova(vi: u32) -> u64 {
    0x1_0000_0000 + vi as u64 * 0x10_0000
}
