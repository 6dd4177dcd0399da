//! `RamFifo<W, N>`: a first-word-fall-through FIFO of up to 2^N + 1 words of `W` bits, held in
//! a [`Ram`] with a one-word head register in front of it.
//!
//! # Ports
//! - `clock`, `reset` (empties it)
//! - `push_valid`, `push_data` in; `push_taken` out: the word was stored (low when full: the
//!   pusher counts the loss or retries); `room` out: a push in this cycle would be stored (it
//!   does not depend on `push_valid`)
//! - `head_valid`, `head_data` out; `pop` in: takes the head in this cycle (ignored without
//!   `head_valid`)
//! - `count` out: words held, head included
//! - `collision` out: the RAM's read/write collision flag (never set; see [`crate::ram`])
//!
//! # Contract
//! Words come out in the order pushed. A push and a pop may happen in the same cycle, also when
//! full (the pop makes no room for that cycle's push: it is refused).
//!
//! # Timing
//! A word pushed into an empty FIFO (or one whose head is popped in that cycle with nothing
//! behind it) is at the head in the next cycle; after a pop the next word is at the head in the
//! next cycle. So one word per cycle goes through. The RAM is never read at the address written
//! in the same cycle: it reads only words written in earlier cycles.

use crate::ram::Ram;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct RamFifo<const W: usize, const N: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub push_valid: Signal<In, Bit>,
    pub push_data: Signal<In, Bits<W>>,
    pub push_taken: Signal<Out, Bit>,
    pub room: Signal<Out, Bit>,
    pub head_valid: Signal<Out, Bit>,
    pub head_data: Signal<Out, Bits<W>>,
    pub pop: Signal<In, Bit>,
    pub count: Signal<Out, Bits<16>>,
    pub collision: Signal<Out, Bit>,
    ram: Ram<Bits<W>, N>,
    wptr: DFF<Bits<N>>,
    rptr: DFF<Bits<N>>,
    /// Words in the RAM (the head not included).
    in_ram: DFF<Bits<16>>,
    head_full: DFF<Bit>,
    /// The head is the RAM's read register (else the bypass register).
    head_in_ram: DFF<Bit>,
    bypass: DFF<Bits<W>>,
    popping: Signal<Local, Bit>,
    head_free: Signal<Local, Bit>,
    refill: Signal<Local, Bit>,
    to_head: Signal<Local, Bit>,
    to_ram: Signal<Local, Bit>,
    ram_words: Constant<Bits<16>>,
}

impl<const W: usize, const N: usize> Default for RamFifo<W, N> {
    fn default() -> Self {
        assert!(N < 16);
        RamFifo {
            clock: Default::default(),
            reset: Default::default(),
            push_valid: Default::default(),
            push_data: Default::default(),
            push_taken: Default::default(),
            room: Default::default(),
            head_valid: Default::default(),
            head_data: Default::default(),
            pop: Default::default(),
            count: Default::default(),
            collision: Default::default(),
            ram: Default::default(),
            wptr: Default::default(),
            rptr: Default::default(),
            in_ram: Default::default(),
            head_full: Default::default(),
            head_in_ram: Default::default(),
            bypass: Default::default(),
            popping: Default::default(),
            head_free: Default::default(),
            refill: Default::default(),
            to_head: Default::default(),
            to_ram: Default::default(),
            ram_words: Constant::new(((1u64) << N).into()),
        }
    }
}

impl<const W: usize, const N: usize> Logic for RamFifo<W, N> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            wptr,
            rptr,
            in_ram,
            head_full,
            head_in_ram,
            bypass
        );
        self.ram.clock.next = self.clock.val();
        self.collision.next = self.ram.collision.val();
        self.popping.next = self.pop.val() & self.head_full.q.val();
        self.head_free.next = !self.head_full.q.val() | self.popping.val();
        // The head refills from the RAM when it has words, else straight from a push.
        self.refill.next = self.head_free.val() & (self.in_ram.q.val() != 0);
        self.to_head.next =
            self.push_valid.val() & self.head_free.val() & (self.in_ram.q.val() == 0);
        self.to_ram.next = self.push_valid.val()
            & !self.to_head.val()
            & (self.in_ram.q.val() != self.ram_words.val());
        self.push_taken.next = self.to_head.val() | self.to_ram.val();
        self.room.next = (self.head_free.val() & (self.in_ram.q.val() == 0))
            | (self.in_ram.q.val() != self.ram_words.val());

        self.ram.rd_en.next = self.refill.val();
        self.ram.rd_addr.next = self.rptr.q.val();
        self.ram.wr_en.next = self.to_ram.val();
        self.ram.wr_addr.next = self.wptr.q.val();
        self.ram.wr_data.next = self.push_data.val();
        if self.refill.val() {
            self.rptr.d.next = self.rptr.q.val() + 1;
        }
        if self.to_ram.val() {
            self.wptr.d.next = self.wptr.q.val() + 1;
        }
        if self.refill.val() & !self.to_ram.val() {
            self.in_ram.d.next = self.in_ram.q.val() - 1;
        }
        if self.to_ram.val() & !self.refill.val() {
            self.in_ram.d.next = self.in_ram.q.val() + 1;
        }
        if self.head_free.val() {
            self.head_full.d.next = self.refill.val() | self.to_head.val();
            self.head_in_ram.d.next = self.refill.val();
        }
        if self.to_head.val() {
            self.bypass.d.next = self.push_data.val();
        }

        self.head_valid.next = self.head_full.q.val();
        if self.head_in_ram.q.val() {
            self.head_data.next = self.ram.rd_data.val();
        } else {
            self.head_data.next = self.bypass.q.val();
        }
        if self.head_full.q.val() {
            self.count.next = self.in_ram.q.val() + 1;
        } else {
            self.count.next = self.in_ram.q.val();
        }

        if self.reset.val() {
            self.wptr.d.next = 0.into();
            self.rptr.d.next = 0.into();
            self.in_ram.d.next = 0.into();
            self.head_full.d.next = false;
            self.head_in_ram.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[derive(LogicBlock, Default)]
    struct Bench {
        clock: Signal<In, Clock>,
        reset: Signal<In, Bit>,
        push_valid: Signal<In, Bit>,
        push_data: Signal<In, Bits<12>>,
        push_taken: Signal<Out, Bit>,
        head_valid: Signal<Out, Bit>,
        head_data: Signal<Out, Bits<12>>,
        pop: Signal<In, Bit>,
        count: Signal<Out, Bits<16>>,
        fifo: RamFifo<12, 3>,
    }

    impl Logic for Bench {
        #[hdl_gen]
        fn update(&mut self) {
            self.fifo.clock.next = self.clock.val();
            self.fifo.reset.next = self.reset.val();
            self.fifo.push_valid.next = self.push_valid.val();
            self.fifo.push_data.next = self.push_data.val();
            self.push_taken.next = self.fifo.push_taken.val();
            self.head_valid.next = self.fifo.head_valid.val();
            self.head_data.next = self.fifo.head_data.val();
            self.fifo.pop.next = self.pop.val();
            self.count.next = self.fifo.count.val();
        }
    }

    /// Random pushes and pops against a `VecDeque` of capacity 9 (8 in RAM + the head).
    #[test]
    fn keeps_order_and_capacity_under_random_traffic() {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Bench>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut ep: Sim<Bench>| {
            let mut x = ep.init()?;
            x.reset.next = true;
            wait_clock_cycle!(ep, clock, x);
            x.reset.next = false;
            // Inputs change just after a rising edge; outputs are sampled at the falling edge,
            // before the next rising edge takes them.
            wait_clock_true!(ep, clock, x);
            let mut model: VecDeque<u64> = VecDeque::new();
            let mut seed = 12345u64;
            let mut next = 0u64;
            for cycle in 0..3000 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = seed >> 33;
                // Phases of mostly pushing and mostly popping, to fill and drain it.
                let push_bias = if (cycle / 200) % 2 == 0 { 3 } else { 1 };
                let push = r % 4 < push_bias;
                let pop = (r >> 4) % 4 >= push_bias;
                x.push_valid.next = push;
                x.push_data.next = (next & 0xfff).into();
                x.pop.next = pop;
                wait_clock_false!(ep, clock, x);
                let head = x.head_valid.val();
                assert_eq!(head, !model.is_empty(), "cycle {cycle}");
                if head {
                    assert_eq!(x.head_data.val().index() as u64, model[0], "cycle {cycle}");
                }
                assert_eq!(x.count.val().index(), model.len());
                let popped = pop && head;
                let taken = x.push_taken.val();
                assert_eq!(taken, push && model.len() < 9, "cycle {cycle}");
                if popped {
                    model.pop_front();
                }
                if taken {
                    model.push_back(next & 0xfff);
                    next += 1;
                }
                wait_clock_true!(ep, clock, x);
            }
            ep.done(x)
        });
        let mut uut = Bench::default();
        uut.connect_all();
        sim.run(Box::new(uut), 1_000_000).unwrap();
    }
}
