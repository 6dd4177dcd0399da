//! Event queues: a ring of event records in host memory that the device writes and the host
//! reads by polling memory, and the registers that set it up and return its space.
//!
//! A slot holds a new event when its phase bit equals the phase of the current pass through
//! the ring (1 on the first pass, flipping on every wrap): host memory starts zeroed, so an
//! unwritten slot never looks new. The host counts the events it consumed (the read count; the
//! slot is the count modulo the ring size) and returns space by writing that count to
//! `EVQ_RPTR`, or to `EVQ_PRIME` to return space and arm the queue at once.

use crate::dma::{check_ring_memory, DmaMemory};
use crate::regs::RegisterAccess;
use crate::rings::{self, Queue};
use evnic_regs::event::{Event, EVENT_BYTES};
use evnic_regs::map::{vi, vi_reg};
use std::sync::atomic::Ordering;

/// An event ring of `1 << log2` records in DMA memory, with the host's read count.
pub struct EventRing<M: DmaMemory> {
    mem: M,
    log2: u32,
    rptr: u32,
}

impl<M: DmaMemory> EventRing<M> {
    /// A ring of `1 << log2` events over `mem` (at least `16 << log2` bytes, 16-byte aligned,
    /// zeroed: a ring that held events before would show them as new), read count 0. The
    /// device's limits on `log2` are checked by the caller (`vi::EVQ_SIZE_MIN..=EVQ_SIZE_MAX`).
    pub fn new(mem: M, log2: u32) -> Result<EventRing<M>, String> {
        check_ring_memory(&mem, EVENT_BYTES << log2)?;
        Ok(EventRing { mem, log2, rptr: 0 })
    }

    /// The ring's memory.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// log2 of the number of events.
    pub fn log2(&self) -> u32 {
        self.log2
    }

    /// Events the ring holds.
    pub fn size(&self) -> u32 {
        1 << self.log2
    }

    /// Events consumed so far (wrapping): what the read-count doorbells carry.
    pub fn read_count(&self) -> u32 {
        self.rptr
    }

    /// Programs VI `v`'s event queue with this ring: disabled first, then base and size (the
    /// size last: writing it restarts the queue, pointers at 0, first pass phase 1).
    pub fn program<R: RegisterAccess + ?Sized>(
        &self,
        regs: &mut R,
        v: u32,
    ) -> Result<(), R::Error> {
        rings::program(regs, v, Queue::Event, self.mem.iova(), self.log2)
    }

    /// The next new event, if any, without consuming it. Reads memory only.
    #[inline]
    pub fn peek(&self) -> Option<Event> {
        let slot = (self.rptr & ((1 << self.log2) - 1)) as usize;
        let expected_phase = (self.rptr >> self.log2) & 1 == 0;
        let words = self.mem.words();
        // The device stores a record's high word, then its low word (where the phase bit is)
        // with release ordering: an acquire load of the low word that shows the new phase makes
        // the high word visible.
        let w0 = words[2 * slot].load(Ordering::Acquire);
        let w1 = words[2 * slot + 1].load(Ordering::Relaxed);
        let e = Event::decode([w0, w1]);
        (e.phase == expected_phase && e.kind != 0).then_some(e)
    }

    /// The next new event, if any, consuming it.
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Event> {
        let e = self.peek()?;
        self.rptr = self.rptr.wrapping_add(1);
        Some(e)
    }

    /// True when a new event is waiting.
    pub fn has_event(&self) -> bool {
        self.peek().is_some()
    }

    /// Takes every new event.
    pub fn drain(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.next()).collect()
    }

    /// Returns the consumed space to the device (`EVQ_RPTR` of VI `v`).
    pub fn doorbell<R: RegisterAccess + ?Sized>(
        &self,
        regs: &mut R,
        v: u32,
    ) -> Result<(), R::Error> {
        doorbell(regs, v, self.rptr)
    }

    /// Returns the consumed space and arms the queue (`EVQ_PRIME` of VI `v`).
    pub fn prime<R: RegisterAccess + ?Sized>(&self, regs: &mut R, v: u32) -> Result<(), R::Error> {
        prime(regs, v, self.rptr)
    }
}

/// Writes VI `v`'s read count (`EVQ_RPTR`): the space of the events before it returns.
pub fn doorbell<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    v: u32,
    read_count: u32,
) -> Result<(), R::Error> {
    regs.write32(vi_reg(v, &vi::EVQ_RPTR), read_count)
}

/// Writes VI `v`'s read count and arms its queue (`EVQ_PRIME`): the next event written (or one
/// already unread) wakes the host through the interrupt queue.
pub fn prime<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    v: u32,
    read_count: u32,
) -> Result<(), R::Error> {
    regs.write32(vi_reg(v, &vi::EVQ_PRIME), read_count)
}

/// Sets VI `v`'s watchdog: cycles events may sit unread before the device wakes the host
/// (0: off).
pub fn set_watchdog<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    v: u32,
    cycles: u32,
) -> Result<(), R::Error> {
    regs.write32(vi_reg(v, &vi::EVQ_WATCHDOG), cycles)
}

/// The state of VI `v`'s event queue, read from `EVQ_STATUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueStatus {
    /// Primed and not yet woken.
    pub armed: bool,
    /// Drops wait to be reported by an OVERFLOW event.
    pub overflow: bool,
    /// The queue is enabled (its size is not 0).
    pub enabled: bool,
}

/// Reads VI `v`'s `EVQ_STATUS`. A read completes after every write before it, so this also
/// confirms that earlier writes have reached the device.
pub fn status<R: RegisterAccess + ?Sized>(regs: &mut R, v: u32) -> Result<QueueStatus, R::Error> {
    let s = regs.read32(vi_reg(v, &vi::EVQ_STATUS))?;
    Ok(QueueStatus {
        armed: vi::EVQ_STATUS_ARMED.get(s) == 1,
        overflow: vi::EVQ_STATUS_OVERFLOW.get(s) == 1,
        enabled: vi::EVQ_STATUS_ENABLED.get(s) == 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dma::test_memory::Words;
    use crate::regs::fake::FakeRegs;
    use evnic_regs::event::EventType;

    fn put(ring: &EventRing<Words>, slot: usize, e: &Event) {
        let w = e.encode();
        let words = ring.memory().words();
        words[2 * slot + 1].store(w[1], Ordering::Relaxed);
        words[2 * slot].store(w[0], Ordering::Release);
    }

    fn indication(phase: bool, payload: u32) -> Event {
        Event {
            kind: EventType::Indication as u8,
            phase,
            flags: 0,
            source: 1,
            group: Some(2),
            payload,
            timestamp: 7,
            aux: 0,
        }
    }

    #[test]
    fn reads_by_phase_and_wraps() {
        let mut ring = EventRing::new(Words::new(16 * 16, 0x1000), 4).unwrap();
        assert!(ring.next().is_none(), "zeroed memory holds no event");
        for i in 0..16 {
            put(&ring, i, &indication(true, i as u32));
        }
        let first: Vec<u32> = ring.drain().iter().map(|e| e.payload).collect();
        assert_eq!(first, (0..16).collect::<Vec<_>>());
        assert!(ring.peek().is_none(), "the second pass expects phase 0");
        put(&ring, 0, &indication(false, 100));
        assert_eq!(ring.next().map(|e| e.payload), Some(100));
        assert_eq!(ring.read_count(), 17);
    }

    #[test]
    fn programs_base_and_size_last_and_rings_doorbells() {
        let ring = EventRing::new(Words::new(16 * 32, 0x2_0000_1000), 5).unwrap();
        let mut regs = FakeRegs::default();
        ring.program(&mut regs, 3).unwrap();
        ring.prime(&mut regs, 3).unwrap();
        let r = |reg| vi_reg(3, reg);
        assert_eq!(
            regs.writes,
            vec![
                (r(&vi::EVQ_SIZE), 0),
                (r(&vi::EVQ_BASE_LO), 0x1000),
                (r(&vi::EVQ_BASE_HI), 2),
                (r(&vi::EVQ_SIZE), 5),
                (r(&vi::EVQ_PRIME), 0),
            ]
        );
    }

    #[test]
    fn refuses_small_or_misaligned_memory() {
        assert!(EventRing::new(Words::new(16 * 8, 0x1000), 4).is_err());
        assert!(EventRing::new(Words::new(16 * 16, 0x1008), 4).is_err());
    }
}
