//! `HitCounters<N, W>`: 2^N saturating W-bit hit counters (the filter uses 32 bits) in block RAM, counted by the lookup
//! pipeline and read or cleared by the register side, one read-modify-write at a time.
//!
//! # Ports
//!
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | 1 | synchronous reset: every counter 0 (cleared over 2^N cycles, `ready` low meanwhile), nothing pending |
//! | `ready` | out | 1 | the clear after reset is done |
//! | `inc`, `inc_index` | in | 1, N | count one hit on counter `inc_index` |
//! | `op_req` | in | 1 | one-cycle pulse: read (`op_clear` 0) or clear (`op_clear` 1) counter `op_index` |
//! | `op_clear`, `op_index` | in | 1, N | with `op_req` (registered: no output depends on an input in the same cycle) |
//! | `op_done` | out | 1 | one-cycle pulse: the operation is done; with a read, `op_value` is the counter |
//! | `op_value` | out | W | the counter read (0 when not `ready`: every counter is then being zeroed) |
//! | `ram_collision` | out | 1 | the RAM was read at an address written in the same cycle (an RTL bug) |
//!
//! # Contract
//!
//! Counters saturate at 2^W-1. One increment and one operation may wait at a time: the
//! caller keeps increments at least 5 cycles apart and one operation in flight (the filter's
//! lookups are 5 cycles apart, the bus carries one access at a time). An increment waiting
//! when a clear of the same counter is carried out is applied after it (the counter reads 1).
//!
//! # Timing (cycles)
//!
//! Operations take priority over increments. Each read-modify-write takes 2 cycles (read,
//! then write or answer); a clear takes 1. An `op_req` in cycle t is started in cycle t+1 or,
//! behind a running increment, t+2; a read answers (`op_done`) one cycle after it starts, a
//! clear in the cycle it starts: `op_done` comes 1 to 3 cycles after `op_req`. An increment
//! is written at most 4 cycles after `inc`.

use crate::ram::ClearedRam;
use rust_hdl::prelude::*;

/// Hit counters in RAM. See the module documentation.
#[derive(LogicBlock, Default)]
pub struct HitCounters<const N: usize, const W: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub ready: Signal<Out, Bit>,
    pub inc: Signal<In, Bit>,
    pub inc_index: Signal<In, Bits<N>>,
    pub op_req: Signal<In, Bit>,
    pub op_clear: Signal<In, Bit>,
    pub op_index: Signal<In, Bits<N>>,
    pub op_done: Signal<Out, Bit>,
    pub op_value: Signal<Out, Bits<W>>,
    pub ram_collision: Signal<Out, Bit>,
    ram: ClearedRam<W, N>,
    /// An increment waits.
    pend_inc: DFF<Bit>,
    pend_idx: DFF<Bits<N>>,
    /// An operation waits: clear or read, which counter.
    pend_op: DFF<Bit>,
    pend_clear: DFF<Bit>,
    pend_opidx: DFF<Bits<N>>,
    /// 0 idle, 1 increment read issued (write next), 2 operation read issued (answer next).
    state: DFF<Bits<2>>,
    cur: DFF<Bits<N>>,
}

impl<const N: usize, const W: usize> Logic for HitCounters<N, W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, pend_inc, pend_idx, pend_op, pend_clear, pend_opidx, state, cur);
        self.ram.clock.next = self.clock.val();
        self.ram.reset.next = self.reset.val();
        self.ready.next = self.ram.ready.val();
        self.ram_collision.next = self.ram.collision.val();
        self.ram.rd_en.next = false;
        self.ram.rd_addr.next = self.pend_opidx.q.val();
        self.ram.wr_en.next = false;
        self.ram.wr_addr.next = self.cur.q.val();
        self.ram.wr_data.next = 0.into();
        self.op_done.next = false;
        self.op_value.next = 0.into();

        if self.inc.val() {
            self.pend_inc.d.next = true;
            self.pend_idx.d.next = self.inc_index.val();
        }
        if self.op_req.val() {
            self.pend_op.d.next = true;
            self.pend_clear.d.next = self.op_clear.val();
            self.pend_opidx.d.next = self.op_index.val();
        }
        if self.state.q.val() == 1 {
            // Write the incremented counter (saturating).
            self.ram.wr_en.next = true;
            self.ram.wr_data.next = self.ram.rd_data.val();
            if !self.ram.rd_data.val().all() {
                self.ram.wr_data.next = self.ram.rd_data.val() + 1;
            }
            self.state.d.next = 0.into();
        } else if self.state.q.val() == 2 {
            self.op_done.next = true;
            self.op_value.next = self.ram.rd_data.val();
            self.state.d.next = 0.into();
        } else if self.pend_op.q.val() {
            self.pend_op.d.next = false;
            if !self.ram.ready.val() {
                // Every counter is being zeroed: a read is 0, a clear has nothing to do.
                self.op_done.next = true;
            } else if self.pend_clear.q.val() {
                self.ram.wr_en.next = true;
                self.ram.wr_addr.next = self.pend_opidx.q.val();
                self.op_done.next = true;
            } else {
                self.ram.rd_en.next = true;
                self.state.d.next = 2.into();
            }
        } else if self.pend_inc.q.val() {
            self.pend_inc.d.next = self.inc.val();
            if self.ram.ready.val() {
                self.ram.rd_en.next = true;
                self.ram.rd_addr.next = self.pend_idx.q.val();
                self.cur.d.next = self.pend_idx.q.val();
                self.state.d.next = 1.into();
            }
        }

        if self.reset.val() {
            self.pend_inc.d.next = false;
            self.pend_op.d.next = false;
            self.state.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    struct Bench {
        uut: HitCounters<4, 3>,
        model: [u32; 16],
        /// The operation in flight: (clear, index, cycles waited).
        op: Option<(bool, usize, usize)>,
    }

    impl Bench {
        fn new() -> Bench {
            let mut uut = HitCounters::<4, 3>::default();
            uut.connect_all();
            let mut b = Bench {
                uut,
                model: [0; 16],
                op: None,
            };
            b.uut.reset.next = true;
            b.clock();
            b.uut.reset.next = false;
            b
        }
        fn clock(&mut self) {
            assert!(simulate(&mut self.uut, 100));
            self.uut.clock.next = true.into();
            assert!(simulate(&mut self.uut, 100));
            self.uut.clock.next = false.into();
            assert!(simulate(&mut self.uut, 100));
        }
        /// One cycle: maybe an increment, maybe a new operation.
        fn cycle(&mut self, inc: Option<usize>, op: Option<(bool, usize)>) {
            let u = &mut self.uut;
            u.inc.next = inc.is_some();
            u.inc_index.next = (inc.unwrap_or(0) as u64).into();
            u.op_req.next = false;
            if let Some((clear, idx)) = op {
                assert!(self.op.is_none());
                u.op_req.next = true;
                u.op_clear.next = clear;
                u.op_index.next = (idx as u64).into();
                self.op = Some((clear, idx, 0));
            }
            assert!(simulate(&mut self.uut, 100));
            if self.uut.op_done.val() {
                let (clear, idx, waited) = self.op.take().expect("an operation in flight");
                assert!((1..=3).contains(&waited), "op_done after {waited} cycles");
                if clear {
                    self.model[idx] = 0;
                } else if self.uut.ready.val() {
                    assert_eq!(
                        self.uut.op_value.val().to_u32(),
                        self.model[idx],
                        "counter {idx}"
                    );
                }
            }
            if let Some(o) = self.op.as_mut() {
                o.2 += 1;
            }
            self.clock();
        }
    }

    #[test]
    fn counts_reads_and_clears_against_a_model() {
        let mut b = Bench::new();
        // Wait for the clear after reset, reading meanwhile (0).
        b.cycle(None, Some((false, 3)));
        while !b.uut.ready.val() {
            b.cycle(None, None);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut since_inc = 10;
        let mut pending: Vec<(usize, usize)> = vec![];
        for _ in 0..3000 {
            since_inc += 1;
            let inc = (since_inc >= 5 && rng.gen_bool(0.5)).then(|| rng.gen_range(0..16));
            if let Some(i) = inc {
                since_inc = 0;
                // Counted within 4 cycles; the model counts it once no read can miss it.
                pending.push((i, 5));
            }
            let op = (b.op.is_none() && rng.gen_bool(0.4))
                .then(|| (rng.gen_bool(0.1), rng.gen_range(0..16)));
            // Keep the model exact: no operation on a counter with an increment in flight.
            let op = op.filter(|o| pending.iter().all(|p| p.0 != o.1));
            b.cycle(inc, op);
            for p in pending.iter_mut() {
                p.1 -= 1;
                if p.1 == 0 {
                    // 3-bit counters saturate at 7.
                    b.model[p.0] = (b.model[p.0] + 1).min(7);
                }
            }
            pending.retain(|p| p.1 > 0);
        }
        assert!(
            b.model.iter().filter(|&&c| c == 7).count() > 4,
            "saturated counters"
        );
    }

    #[test]
    fn a_waiting_increment_follows_a_clear_of_its_counter() {
        let mut b = Bench::new();
        while !b.uut.ready.val() {
            b.cycle(None, None);
        }
        for _ in 0..3 {
            b.cycle(Some(5), None);
            for _ in 0..4 {
                b.cycle(None, None);
            }
        }
        b.model[5] = 3;
        b.cycle(None, Some((false, 5)));
        b.cycle(None, None);
        b.cycle(None, None);
        // A clear and an increment of the same counter in the same cycle: the clear goes
        // first, the increment after.
        b.cycle(Some(5), Some((true, 5)));
        for _ in 0..5 {
            b.cycle(None, None);
        }
        b.model[5] = 1;
        b.cycle(None, Some((false, 5)));
        for _ in 0..4 {
            b.cycle(None, None);
        }
        assert!(b.op.is_none());
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = HitCounters::<9, 32>::default();
        uut.connect_all();
        crate::crc::tests::verilator_lint("hit_counters", &generate_verilog(&uut));
    }
}
