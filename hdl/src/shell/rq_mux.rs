//! `RqMux`: the DMA writer's and the DMA reader's TLPs onto the one requester request stream
//! (RQ), a whole TLP at a time.
//!
//! # Ports
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | | rising edge; synchronous active-high reset |
//! | `a_valid` / `a_ready`, `a_data`, `a_keep`, `a_last`, `a_user` | in / out, in | 1, 128, 4, 1, 62 | TLPs of [`super::dma_write::DmaWriter`] |
//! | `b_valid` / `b_ready`, `b_data`, `b_keep`, `b_last`, `b_user` | in / out, in | 1, 128, 4, 1, 62 | TLPs of [`super::dma_read::DmaReader`] |
//! | `rq_tvalid` / `rq_tready`, `rq_tdata`, `rq_tkeep`, `rq_tlast`, `rq_tuser` | out / in, out | 1, 128, 4, 1, 62 | the hard block's RQ stream |
//!
//! # Contract
//! A TLP, once its first beat is out, has the stream until its last beat. Between TLPs the
//! inputs alternate when both wait, so neither starves the other. Order within each input is
//! kept; between them there is none to keep (reads and writes of the core are independent,
//! and writes stay in order among themselves).
//!
//! # Timing
//! Combinational: a beat passes in the cycle it is offered when the stream is ready.

use super::RQ_USER_BITS;
use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct RqMux {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub a_valid: Signal<In, Bit>,
    pub a_ready: Signal<Out, Bit>,
    pub a_data: Signal<In, Bits<128>>,
    pub a_keep: Signal<In, Bits<4>>,
    pub a_last: Signal<In, Bit>,
    pub a_user: Signal<In, Bits<RQ_USER_BITS>>,
    pub b_valid: Signal<In, Bit>,
    pub b_ready: Signal<Out, Bit>,
    pub b_data: Signal<In, Bits<128>>,
    pub b_keep: Signal<In, Bits<4>>,
    pub b_last: Signal<In, Bit>,
    pub b_user: Signal<In, Bits<RQ_USER_BITS>>,
    pub rq_tvalid: Signal<Out, Bit>,
    pub rq_tready: Signal<In, Bit>,
    pub rq_tdata: Signal<Out, Bits<128>>,
    pub rq_tkeep: Signal<Out, Bits<4>>,
    pub rq_tlast: Signal<Out, Bit>,
    pub rq_tuser: Signal<Out, Bits<RQ_USER_BITS>>,

    /// A TLP is part way out (its source holds the stream).
    locked: DFF<Bit>,
    /// The source holding the stream, or the one that went last (true: b).
    owner_b: DFF<Bit>,
    pick_b: Signal<Local, Bit>,
}

impl Logic for RqMux {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, locked, owner_b);
        self.pick_b.next = self.owner_b.q.val();
        if !self.locked.q.val() {
            if self.a_valid.val() & self.b_valid.val() {
                self.pick_b.next = !self.owner_b.q.val();
            } else {
                self.pick_b.next = self.b_valid.val();
            }
        }
        self.a_ready.next = false;
        self.b_ready.next = false;
        if self.pick_b.val() {
            self.rq_tvalid.next = self.b_valid.val();
            self.rq_tdata.next = self.b_data.val();
            self.rq_tkeep.next = self.b_keep.val();
            self.rq_tlast.next = self.b_last.val();
            self.rq_tuser.next = self.b_user.val();
            self.b_ready.next = self.rq_tready.val();
        } else {
            self.rq_tvalid.next = self.a_valid.val();
            self.rq_tdata.next = self.a_data.val();
            self.rq_tkeep.next = self.a_keep.val();
            self.rq_tlast.next = self.a_last.val();
            self.rq_tuser.next = self.a_user.val();
            self.a_ready.next = self.rq_tready.val();
        }
        if self.rq_tvalid.val() & self.rq_tready.val() {
            self.owner_b.d.next = self.pick_b.val();
            self.locked.d.next = !self.rq_tlast.val();
        }
        if self.reset.val() {
            self.locked.d.next = false;
            self.owner_b.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::testutil::{settle, tick};

    /// Source `a` offers 2-beat TLPs, `b` 1-beat ones; beats carry (source, TLP, beat) in
    /// their data. Returns the beats out in order.
    fn run(na: u64, nb: u64, ready: impl Fn(u64) -> bool) -> Vec<(u64, u64, u64)> {
        let mut u = RqMux::default();
        u.connect_all();
        u.reset.next = true;
        tick!(u);
        u.reset.next = false;
        let (mut a, mut b, mut out) = ((0u64, 0u64), 0u64, vec![]);
        for cycle in 0..(na * 2 + nb) * 4 + 10 {
            let r = ready(cycle);
            u.rq_tready.next = r;
            u.a_valid.next = a.0 < na;
            u.a_data.next = ((1 << 32) | (a.0 << 8) | a.1).into();
            u.a_last.next = a.1 == 1;
            u.a_keep.next = 15.into();
            u.a_user.next = 0.into();
            u.b_valid.next = b < nb;
            u.b_data.next = ((2 << 32) | (b << 8)).into();
            u.b_last.next = true;
            u.b_keep.next = 15.into();
            u.b_user.next = 0.into();
            settle(&mut u);
            if u.a_valid.val() && u.a_ready.val() {
                a = if a.1 == 1 { (a.0 + 1, 0) } else { (a.0, 1) };
            }
            if u.b_valid.val() && u.b_ready.val() {
                b += 1;
            }
            assert!(
                !(u.a_ready.val() && u.b_ready.val()),
                "one source at a time"
            );
            if u.rq_tvalid.val() && r {
                let d = u.rq_tdata.val().to_u128() as u64;
                out.push((d >> 32, (d >> 8) & 0xff_ffff, d & 0xff));
            }
            tick!(u);
        }
        out
    }

    #[test]
    fn whole_tlps_alternate_and_keep_their_order() {
        let out = run(4, 4, |c| c % 4 != 2);
        assert_eq!(out.len(), 12);
        // A two-beat TLP of a is never split by b.
        for (i, &(src, _, beat)) in out.iter().enumerate() {
            if src == 1 && beat == 0 {
                assert_eq!(out[i + 1].0, 1);
                assert_eq!(out[i + 1].2, 1);
            }
        }
        let a: Vec<_> = out
            .iter()
            .filter(|x| x.0 == 1 && x.2 == 0)
            .map(|x| x.1)
            .collect();
        let b: Vec<_> = out.iter().filter(|x| x.0 == 2).map(|x| x.1).collect();
        assert_eq!(a, vec![0, 1, 2, 3]);
        assert_eq!(b, vec![0, 1, 2, 3]);
        // Both always waiting: TLPs alternate between them.
        let firsts: Vec<_> = out.iter().filter(|x| x.2 == 0).map(|x| x.0).collect();
        assert_eq!(firsts.len(), 8);
        assert!(firsts.windows(2).all(|w| w[0] != w[1]), "{firsts:?}");
    }

    #[test]
    fn a_lone_source_uses_every_cycle() {
        let out = run(3, 0, |_| true);
        assert_eq!(out.len(), 6);
    }

    #[test]
    fn generates_verilog() {
        let mut u = RqMux::default();
        u.connect_all();
        crate::crc::tests::verilator_lint("rq_mux", &generate_verilog(&u));
    }
}
