//! `Fifo<W, N>`: a first-in first-out queue of up to 2^N words of `W` bits in a [`Ram`], with
//! its oldest word shown at the output (first-word fall-through).
//!
//! # Ports
//! - `clock`, `reset` (synchronous: empties the queue)
//! - `push`, `push_data` (W) in: append a word at this edge; ignored when `full`
//! - `full` out: 2^N words are queued (in the RAM; the word at the output is extra)
//! - `head_valid`, `head` (W) out: the oldest word; `pop` in: take it at this edge (ignored
//!   while `head_valid` is low)
//! - `empty` out: no word is queued anywhere (not even on its way to the output)
//! - `collision` out: the RAM's read/write collision flag (never set; see [`crate::ram`])
//!
//! # Contract
//! Words leave in the order they were pushed, each once. `head` holds while it is not popped.
//!
//! # Timing
//! A word pushed at edge t into an empty queue is at the output (`head_valid`) in cycle t+2; a
//! word behind the head reaches the output the cycle after the head is popped. `empty`,
//! `full` and `head_valid` are registered state.

use crate::ram::Ram;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Fifo<const W: usize, const N: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub push: Signal<In, Bit>,
    pub push_data: Signal<In, Bits<W>>,
    pub full: Signal<Out, Bit>,
    pub pop: Signal<In, Bit>,
    pub head_valid: Signal<Out, Bit>,
    pub head: Signal<Out, Bits<W>>,
    pub empty: Signal<Out, Bit>,
    pub collision: Signal<Out, Bit>,
    ram: Ram<Bits<W>, N>,
    /// Write and read counts of the RAM (one bit more than its address).
    wcount: DFF<Bits<32>>,
    rcount: DFF<Bits<32>>,
    /// The RAM's read data holds the oldest word.
    shown: DFF<Bit>,
    in_ram: Signal<Local, Bits<32>>,
    take: Signal<Local, Bit>,
    refill: Signal<Local, Bit>,
    put: Signal<Local, Bit>,
    /// The N + 1 count bits that matter (Yosys trims the rest of the counters).
    count_mask: Constant<Bits<32>>,
    /// 2^N: the RAM is full.
    depth: Constant<Bits<32>>,
}

impl<const W: usize, const N: usize> Default for Fifo<W, N> {
    fn default() -> Self {
        assert!(N < 31);
        Fifo {
            clock: Default::default(),
            reset: Default::default(),
            push: Default::default(),
            push_data: Default::default(),
            full: Default::default(),
            pop: Default::default(),
            head_valid: Default::default(),
            head: Default::default(),
            empty: Default::default(),
            collision: Default::default(),
            ram: Default::default(),
            wcount: Default::default(),
            rcount: Default::default(),
            shown: Default::default(),
            in_ram: Default::default(),
            take: Default::default(),
            refill: Default::default(),
            put: Default::default(),
            count_mask: Constant::new(((2u64 << N) - 1).into()),
            depth: Constant::new((1u64 << N).into()),
        }
    }
}

impl<const W: usize, const N: usize> Logic for Fifo<W, N> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, wcount, rcount, shown);
        self.ram.clock.next = self.clock.val();
        self.in_ram.next = (self.wcount.q.val() - self.rcount.q.val()) & self.count_mask.val();
        // (A comparison, not `get_bit(N)`: a const generic index is not valid Verilog.)
        self.full.next = self.in_ram.val() == self.depth.val();
        self.put.next = self.push.val() & !self.full.val();
        self.take.next = self.pop.val() & self.shown.q.val();
        // Read the next word when the output is free or freed now. The word read was written
        // at an earlier edge (the count says it is there), never in this cycle.
        self.refill.next = (self.in_ram.val() != 0) & (!self.shown.q.val() | self.take.val());
        self.ram.rd_en.next = self.refill.val();
        self.ram.rd_addr.next = self.rcount.q.val().get_bits::<N>(0);
        self.ram.wr_en.next = self.put.val();
        self.ram.wr_addr.next = self.wcount.q.val().get_bits::<N>(0);
        self.ram.wr_data.next = self.push_data.val();
        if self.put.val() {
            self.wcount.d.next = self.wcount.q.val() + 1;
        }
        if self.refill.val() {
            self.rcount.d.next = self.rcount.q.val() + 1;
            self.shown.d.next = true;
        } else if self.take.val() {
            self.shown.d.next = false;
        }
        self.head_valid.next = self.shown.q.val();
        self.head.next = self.ram.rd_data.val();
        self.empty.next = !self.shown.q.val() & (self.in_ram.val() == 0);
        self.collision.next = self.ram.collision.val();
        if self.reset.val() {
            self.wcount.d.next = 0.into();
            self.rcount.d.next = 0.into();
            self.shown.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::VecDeque;

    fn settle<T: Block>(uut: &mut T) {
        assert!(simulate(uut, 100), "the circuit did not settle");
    }

    /// Random pushes and pops against a model queue: order, full, empty and head timing.
    #[test]
    fn keeps_order_and_reports_full_and_empty() {
        let mut uut: Fifo<12, 3> = Default::default();
        uut.connect_all();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut model: VecDeque<u64> = VecDeque::new();
        let tick = |uut: &mut Fifo<12, 3>| {
            settle(uut);
            uut.clock.next = true.into();
            settle(uut);
            uut.clock.next = false.into();
            settle(uut);
        };
        uut.reset.next = true;
        tick(&mut uut);
        uut.reset.next = false;
        // Edges each queued word has seen since the one that pushed it: a word pushed at edge t
        // is at the output from cycle t+2 (age 1) once the words before it have left.
        let mut ages: VecDeque<u32> = VecDeque::new();
        let mut next = 0u64;
        for cycle in 0..3000 {
            settle(&mut uut);
            // Outputs of this cycle.
            let in_ram = model.len() - usize::from(uut.head_valid.val());
            assert_eq!(uut.full.val(), in_ram >= 8, "cycle {cycle}");
            assert_eq!(uut.empty.val(), model.is_empty(), "cycle {cycle}");
            if let Some(&h) = model.front() {
                assert_eq!(uut.head_valid.val(), ages[0] >= 1, "cycle {cycle}");
                if uut.head_valid.val() {
                    assert_eq!(uut.head.val().index() as u64, h, "cycle {cycle}");
                }
            } else {
                assert!(!uut.head_valid.val());
            }
            let burst = (cycle / 200) % 2 == 0;
            let push = rng.gen_bool(if burst { 0.8 } else { 0.3 });
            let pop = rng.gen_bool(if burst { 0.3 } else { 0.8 });
            uut.push.next = push;
            uut.push_data.next = next.into();
            uut.pop.next = pop;
            let took = pop && uut.head_valid.val();
            let put = push && !uut.full.val();
            tick(&mut uut);
            if took {
                model.pop_front();
                ages.pop_front();
            }
            for a in ages.iter_mut() {
                *a += 1;
            }
            if put {
                model.push_back(next);
                ages.push_back(0);
                next = (next + 1) & 0xfff;
            }
            uut.push.next = false;
            uut.pop.next = false;
        }
    }
}
