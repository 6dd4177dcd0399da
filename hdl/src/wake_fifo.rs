//! `WakeFifo<W, N>`: a first-in first-out queue of `N` words of `W` bits in flip-flops, for
//! the event engine's wake-ups (the numbers of queues to post a WAKEUP for). Small on purpose:
//! the engine never lets more wake-ups be in flight than it holds.
//!
//! # Ports
//! - `push`, `data` in: append `data` at the edge (ignored when full: the user checks `count`)
//! - `pop` in: drop the head at the edge (ignored when empty)
//! - `head` out: the oldest word (undefined when empty); `empty` out; `count` out (0..=N)
//!
//! # Contract
//! Words come out in the order they went in. A push and a pop in one cycle both happen (a push
//! into an empty queue is not visible at `head` before the next cycle).
//!
//! # Timing
//! Outputs are registered state: a word pushed at edge t is at `head` from cycle t+1 when the
//! queue was empty.

use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct WakeFifo<const W: usize, const N: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub push: Signal<In, Bit>,
    pub data: Signal<In, Bits<W>>,
    pub pop: Signal<In, Bit>,
    pub head: Signal<Out, Bits<W>>,
    pub empty: Signal<Out, Bit>,
    pub count: Signal<Out, Bits<8>>,
    slots: [DFF<Bits<W>>; N],
    rd: DFF<Bits<8>>,
    wr: DFF<Bits<8>>,
    n: DFF<Bits<8>>,
    do_push: Signal<Local, Bit>,
    do_pop: Signal<Local, Bit>,
    index: [Constant<Bits<8>>; N],
    last: Constant<Bits<8>>,
    depth: Constant<Bits<8>>,
}

impl<const W: usize, const N: usize> Default for WakeFifo<W, N> {
    fn default() -> Self {
        assert!((1..256).contains(&N), "WakeFifo depth 1..=255");
        WakeFifo {
            clock: Default::default(),
            reset: Default::default(),
            push: Default::default(),
            data: Default::default(),
            pop: Default::default(),
            head: Default::default(),
            empty: Default::default(),
            count: Default::default(),
            slots: array_init::array_init(|_| Default::default()),
            rd: Default::default(),
            wr: Default::default(),
            n: Default::default(),
            do_push: Default::default(),
            do_pop: Default::default(),
            index: array_init::array_init(|i| Constant::new((i as u64).into())),
            last: Constant::new(((N - 1) as u64).into()),
            depth: Constant::new((N as u64).into()),
        }
    }
}

impl<const W: usize, const N: usize> Logic for WakeFifo<W, N> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, rd, wr, n);
        self.empty.next = self.n.q.val() == 0;
        self.count.next = self.n.q.val();
        self.do_push.next = self.push.val() & (self.n.q.val() != self.depth.val());
        self.do_pop.next = self.pop.val() & (self.n.q.val() != 0);
        self.head.next = 0.into();
        for i in 0..N {
            self.slots[i].clock.next = self.clock.val();
            self.slots[i].d.next = self.slots[i].q.val();
            if self.do_push.val() & (self.wr.q.val() == self.index[i].val()) {
                self.slots[i].d.next = self.data.val();
            }
            if self.rd.q.val() == self.index[i].val() {
                self.head.next = self.slots[i].q.val();
            }
        }
        if self.do_push.val() {
            self.wr.d.next = self.wr.q.val() + 1;
            if self.wr.q.val() == self.last.val() {
                self.wr.d.next = 0.into();
            }
        }
        if self.do_pop.val() {
            self.rd.d.next = self.rd.q.val() + 1;
            if self.rd.q.val() == self.last.val() {
                self.rd.d.next = 0.into();
            }
        }
        if self.do_push.val() & !self.do_pop.val() {
            self.n.d.next = self.n.q.val() + 1;
        }
        if !self.do_push.val() & self.do_pop.val() {
            self.n.d.next = self.n.q.val() - 1;
        }
        if self.reset.val() {
            self.rd.d.next = 0.into();
            self.wr.d.next = 0.into();
            self.n.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::VecDeque;

    #[test]
    fn keeps_order_and_count_under_random_pushes_and_pops() {
        type F = WakeFifo<9, 4>;
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<F>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut ep: Sim<F>| {
            let mut x = ep.init()?;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
            let mut model: VecDeque<u64> = VecDeque::new();
            x.reset.next = true;
            wait_clock_cycle!(ep, clock, x);
            x.reset.next = false;
            for _ in 0..3000 {
                sim_assert_eq!(ep, x.count.val().index(), model.len(), x);
                sim_assert_eq!(ep, x.empty.val(), model.is_empty(), x);
                if let Some(h) = model.front() {
                    sim_assert_eq!(ep, x.head.val().index() as u64, *h, x);
                }
                let push = rng.gen_bool(0.5);
                let pop = rng.gen_bool(0.5);
                let data: u64 = rng.gen_range(0..512);
                x.push.next = push;
                x.pop.next = pop;
                x.data.next = data.into();
                let popped = pop && !model.is_empty();
                let pushed = push && model.len() < 4;
                if popped {
                    model.pop_front();
                }
                if pushed {
                    model.push_back(data);
                }
                wait_clock_cycle!(ep, clock, x);
            }
            ep.done(x)
        });
        let mut uut = F::default();
        uut.connect_all();
        sim.run(Box::new(uut), 1_000_000).unwrap();
    }
}
