//! Queue programming: the three rings of a VI (its event queue, its receive descriptor ring and
//! its transmit descriptor ring) are each set up by a base address and a size, and the
//! descriptor rings are fed by a write-count doorbell.

use crate::dma::{check_ring_memory, DmaMemory};
use crate::regs::RegisterAccess;
use evnic_regs::desc::{RxDesc, TxDesc, DESC_BYTES};
use evnic_regs::map::{vi, vi_reg};
use evnic_regs::Reg;
use std::sync::atomic::Ordering;

/// One of a VI's rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Queue {
    /// The event queue (`EVQ_*`).
    Event,
    /// The receive descriptor ring (`RXQ_*`).
    Rx,
    /// The transmit descriptor ring (`TXQ_*`).
    Tx,
}

impl Queue {
    /// The ring's base (low, high) and size registers.
    pub fn regs(self) -> (&'static Reg, &'static Reg, &'static Reg) {
        match self {
            Queue::Event => (&vi::EVQ_BASE_LO, &vi::EVQ_BASE_HI, &vi::EVQ_SIZE),
            Queue::Rx => (&vi::RXQ_BASE_LO, &vi::RXQ_BASE_HI, &vi::RXQ_SIZE),
            Queue::Tx => (&vi::TXQ_BASE_LO, &vi::TXQ_BASE_HI, &vi::TXQ_SIZE),
        }
    }

    /// The smallest and largest size the device takes, as log2 of the ring's entries.
    pub fn log2_range(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Queue::Event => vi::EVQ_SIZE_MIN..=vi::EVQ_SIZE_MAX,
            Queue::Rx | Queue::Tx => 1..=vi::RING_SIZE_MAX,
        }
    }

    /// What it is called in messages.
    pub fn name(self) -> &'static str {
        match self {
            Queue::Event => "event queue",
            Queue::Rx => "receive ring",
            Queue::Tx => "transmit ring",
        }
    }
}

/// Programs ring `q` of VI `v` at `iova` with `1 << log2` entries: disabled first, then the
/// base, then the size, whose write restarts the ring with its pointers at 0.
pub fn program<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    v: u32,
    q: Queue,
    iova: u64,
    log2: u32,
) -> Result<(), R::Error> {
    let (lo, hi, size) = q.regs();
    regs.write32(vi_reg(v, size), 0)?;
    regs.write32(vi_reg(v, lo), iova as u32)?;
    regs.write32(vi_reg(v, hi), (iova >> 32) as u32)?;
    regs.write32(vi_reg(v, size), log2)
}

/// Disables ring `q` of VI `v` and waits until the device has taken it (a read completes after
/// the writes before it), so that its memory may be unmapped afterwards.
pub fn disable<R: RegisterAccess + ?Sized>(regs: &mut R, v: u32, q: Queue) -> Result<(), R::Error> {
    let (_, _, size) = q.regs();
    regs.write32(vi_reg(v, size), 0)?;
    regs.read32(vi_reg(v, size)).map(drop)
}

/// Tells the device that descriptors up to the write count `posted` are ready (`RXQ_WPTR` or
/// `TXQ_WPTR` of VI `v`). Panics for [`Queue::Event`], which has no write doorbell.
pub fn post<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    v: u32,
    q: Queue,
    posted: u32,
) -> Result<(), R::Error> {
    let reg = match q {
        Queue::Rx => &vi::RXQ_WPTR,
        Queue::Tx => &vi::TXQ_WPTR,
        Queue::Event => panic!("an event queue has no write-count doorbell"),
    };
    regs.write32(vi_reg(v, reg), posted)
}

/// A receive or transmit descriptor ring of `1 << log2` descriptors in DMA memory.
pub struct DescRing<M: DmaMemory> {
    mem: M,
    log2: u32,
    queue: Queue,
}

impl<M: DmaMemory> DescRing<M> {
    /// A ring of `1 << log2` descriptors over `mem` (at least `16 << log2` bytes, 16-byte
    /// aligned). `queue` is [`Queue::Rx`] or [`Queue::Tx`].
    pub fn new(mem: M, queue: Queue, log2: u32) -> Result<DescRing<M>, String> {
        if queue == Queue::Event {
            return Err("an event queue is not a descriptor ring".into());
        }
        check_ring_memory(&mem, DESC_BYTES << log2)?;
        Ok(DescRing { mem, log2, queue })
    }

    /// Descriptors in the ring.
    pub fn size(&self) -> u32 {
        1 << self.log2
    }

    /// log2 of the number of descriptors.
    pub fn log2(&self) -> u32 {
        self.log2
    }

    /// The ring's memory.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Programs VI `v`'s ring with this memory (see [`program`]).
    pub fn program<R: RegisterAccess + ?Sized>(
        &self,
        regs: &mut R,
        v: u32,
    ) -> Result<(), R::Error> {
        program(regs, v, self.queue, self.mem.iova(), self.log2)
    }

    /// Stores the descriptor of write count `count` (its slot is the count modulo the ring's
    /// size). The device reads it only after a doorbell covering it, so store it first.
    pub fn store(&self, count: u32, words: [u64; 2]) {
        let slot = (count & ((1 << self.log2) - 1)) as usize;
        let w = self.mem.words();
        w[2 * slot].store(words[0], Ordering::Relaxed);
        w[2 * slot + 1].store(words[1], Ordering::Release);
    }

    /// Stores a receive descriptor (see [`DescRing::store`]).
    pub fn store_rx(&self, count: u32, d: &RxDesc) {
        self.store(count, d.encode());
    }

    /// Stores a transmit descriptor (see [`DescRing::store`]).
    pub fn store_tx(&self, count: u32, d: &TxDesc) {
        self.store(count, d.encode());
    }

    /// The write-count doorbell of VI `v`'s ring (see [`post`]).
    pub fn post<R: RegisterAccess + ?Sized>(
        &self,
        regs: &mut R,
        v: u32,
        posted: u32,
    ) -> Result<(), R::Error> {
        post(regs, v, self.queue, posted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dma::test_memory::Words;
    use crate::regs::fake::FakeRegs;

    #[test]
    fn descriptor_rings_store_by_count_and_program_their_own_registers() {
        let ring = DescRing::new(Words::new(64, 0x4000), Queue::Tx, 2).unwrap();
        let d = TxDesc {
            addr: 0x9000,
            len: 60,
            ..Default::default()
        };
        ring.store_tx(5, &d);
        let w = ring.memory().words();
        assert_eq!(w[2].load(Ordering::Relaxed), 0x9000, "count 5 is slot 1");
        assert_eq!(w[3].load(Ordering::Relaxed), d.encode()[1]);
        let mut regs = FakeRegs::default();
        ring.program(&mut regs, 1).unwrap();
        ring.post(&mut regs, 1, 6).unwrap();
        disable(&mut regs, 1, Queue::Tx).unwrap();
        let r = |reg| vi_reg(1, reg);
        assert_eq!(
            regs.writes,
            vec![
                (r(&vi::TXQ_SIZE), 0),
                (r(&vi::TXQ_BASE_LO), 0x4000),
                (r(&vi::TXQ_BASE_HI), 0),
                (r(&vi::TXQ_SIZE), 2),
                (r(&vi::TXQ_WPTR), 6),
                (r(&vi::TXQ_SIZE), 0),
            ]
        );
        assert!(DescRing::new(Words::new(64, 0x4000), Queue::Event, 2).is_err());
    }
}
