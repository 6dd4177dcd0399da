//! `DmaWriter`: the core's DMA write beats (16 bytes at a 16-byte aligned address, a strobe
//! per byte) as memory-write TLPs on the requester request stream (RQ).
//!
//! # Ports
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | | rising edge; synchronous active-high reset |
//! | `w_valid` / `w_ready`, `w_addr`, `w_data`, `w_strb` | in / out, in | 1, 64, 128, 16 | the core's `dmaw_*` port |
//! | `t_valid` / `t_ready`, `t_data`, `t_keep`, `t_last`, `t_user` | out / in, out | 1, 128, 4, 1, 62 | the TLP, to [`super::rq_mux::RqMux`] |
//! | `goal` | out | 8 | writes taken, counting the one offered and not yet taken (see [`super::msix::Msix`]) |
//! | `done` | out | 8 | writes handed to the hard block (or dropped for empty strobes) |
//!
//! # Contract
//! Each beat becomes one memory write of the dwords from its first to its last strobed byte,
//! in order and posted: the first and last dword byte enables come from the strobes, the
//! dwords between are written whole (the core's strobes are one run of bytes). A beat without
//! strobes is taken and dropped. Requester ID, tag, traffic class and attributes are 0: the
//! hard block fills in the requester ID, and no relaxed ordering keeps the data before the
//! event that announces it.
//!
//! # Timing
//! Two RQ beats per write (4-dword descriptor, then the payload from dword 0). A beat is taken
//! the cycle its predecessor's payload beat goes out, so back-to-back writes use every RQ cycle:
//! one 16-byte write per 2 cycles (2 GB/s at 250 MHz).

use super::RQ_USER_BITS;
use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct DmaWriter {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub w_valid: Signal<In, Bit>,
    pub w_ready: Signal<Out, Bit>,
    pub w_addr: Signal<In, Bits<64>>,
    pub w_data: Signal<In, Bits<128>>,
    pub w_strb: Signal<In, Bits<16>>,
    pub t_valid: Signal<Out, Bit>,
    pub t_ready: Signal<In, Bit>,
    pub t_data: Signal<Out, Bits<128>>,
    pub t_keep: Signal<Out, Bits<4>>,
    pub t_last: Signal<Out, Bit>,
    pub t_user: Signal<Out, Bits<RQ_USER_BITS>>,
    pub goal: Signal<Out, Bits<8>>,
    pub done: Signal<Out, Bits<8>>,

    h_valid: DFF<Bit>,
    h_payload_beat: DFF<Bit>,
    h_addr: DFF<Bits<64>>,
    h_payload: DFF<Bits<128>>,
    h_dwords: DFF<Bits<3>>,
    h_first_be: DFF<Bits<4>>,
    h_last_be: DFF<Bits<4>>,
    taken: DFF<Bits<8>>,
    done_q: DFF<Bits<8>>,
    free: Signal<Local, Bit>,
    accept: Signal<Local, Bit>,
    first_dw: Signal<Local, Bits<2>>,
    last_dw: Signal<Local, Bits<2>>,
    first_strb: Signal<Local, Bits<16>>,
    last_strb: Signal<Local, Bits<16>>,
    first_be: Signal<Local, Bits<4>>,
    last_be: Signal<Local, Bits<4>>,
    finished: Signal<Local, Bit>,
}

impl Logic for DmaWriter {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            h_valid,
            h_payload_beat,
            h_addr,
            h_payload,
            h_dwords,
            h_first_be,
            h_last_be,
            taken,
            done_q
        );

        // The dword span of the offered beat.
        self.first_dw.next = 3.into();
        if self.w_strb.val().get_bits::<4>(0).any() {
            self.first_dw.next = 0.into();
        } else if self.w_strb.val().get_bits::<4>(4).any() {
            self.first_dw.next = 1.into();
        } else if self.w_strb.val().get_bits::<4>(8).any() {
            self.first_dw.next = 2.into();
        }
        self.last_dw.next = 0.into();
        if self.w_strb.val().get_bits::<4>(12).any() {
            self.last_dw.next = 3.into();
        } else if self.w_strb.val().get_bits::<4>(8).any() {
            self.last_dw.next = 2.into();
        } else if self.w_strb.val().get_bits::<4>(4).any() {
            self.last_dw.next = 1.into();
        }
        self.first_strb.next = self.w_strb.val() >> (bit_cast::<8, 2>(self.first_dw.val()) << 2);
        self.first_be.next = self.first_strb.val().get_bits::<4>(0);
        self.last_strb.next = self.w_strb.val() >> (bit_cast::<8, 2>(self.last_dw.val()) << 2);
        self.last_be.next = self.last_strb.val().get_bits::<4>(0);

        // The held write leaves with its payload beat; a new one is taken in that cycle.
        self.finished.next =
            self.h_valid.q.val() & self.h_payload_beat.q.val() & self.t_ready.val();
        self.free.next = !self.h_valid.q.val() | self.finished.val();
        self.w_ready.next = self.free.val();
        self.accept.next = self.w_valid.val() & self.free.val();

        if self.finished.val() {
            self.h_valid.d.next = false;
            self.h_payload_beat.d.next = false;
        } else if self.h_valid.q.val() & self.t_ready.val() {
            self.h_payload_beat.d.next = true;
        }
        if self.accept.val() {
            self.taken.d.next = self.taken.q.val() + 1;
            if self.w_strb.val().any() {
                self.h_valid.d.next = true;
                self.h_payload_beat.d.next = false;
                self.h_addr.d.next =
                    self.w_addr.val() | (bit_cast::<64, 2>(self.first_dw.val()) << 2);
                self.h_payload.d.next =
                    self.w_data.val() >> (bit_cast::<8, 2>(self.first_dw.val()) << 5);
                self.h_dwords.d.next =
                    bit_cast::<3, 2>(self.last_dw.val() - self.first_dw.val()) + 1;
                self.h_first_be.d.next = self.first_be.val();
                self.h_last_be.d.next = 0.into();
                if self.last_dw.val() != self.first_dw.val() {
                    self.h_last_be.d.next = self.last_be.val();
                }
            }
        }
        // Done: payload beats handed over, and empty beats dropped.
        if self.finished.val() & self.accept.val() & !self.w_strb.val().any() {
            self.done_q.d.next = self.done_q.q.val() + 2;
        } else if self.finished.val() | (self.accept.val() & !self.w_strb.val().any()) {
            self.done_q.d.next = self.done_q.q.val() + 1;
        }

        self.goal.next = self.taken.q.val();
        if self.w_valid.val() {
            self.goal.next = self.taken.q.val() + 1;
        }
        self.done.next = self.done_q.q.val();

        // The TLP: descriptor (address, dword count, type memory write), then the payload.
        self.t_valid.next = self.h_valid.q.val();
        self.t_user.next = bit_cast::<RQ_USER_BITS, 4>(self.h_first_be.q.val())
            | (bit_cast::<RQ_USER_BITS, 4>(self.h_last_be.q.val()) << 4);
        if self.h_payload_beat.q.val() {
            self.t_data.next = self.h_payload.q.val();
            self.t_keep.next =
                bits::<4>(15) >> (bits::<4>(4) - bit_cast::<4, 3>(self.h_dwords.q.val()));
            self.t_last.next = true;
        } else {
            self.t_data.next = (bit_cast::<128, 64>(self.h_addr.q.val()) & !bits::<128>(3))
                | (bit_cast::<128, 3>(self.h_dwords.q.val()) << 64)
                | (bits::<128>(1) << 75);
            self.t_keep.next = 15.into();
            self.t_last.next = false;
        }

        if self.reset.val() {
            self.h_valid.d.next = false;
            self.h_payload_beat.d.next = false;
            self.taken.d.next = 0.into();
            self.done_q.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::testutil::{b128, dw, settle, tick};

    #[derive(Debug, PartialEq)]
    struct MemWrite {
        addr: u64,
        first_be: u8,
        last_be: u8,
        payload: Vec<u32>,
    }

    /// Offers `beats` (address, data, strobes) and collects the TLPs, with RQ ready in the
    /// cycles `ready` says; returns them and the final (goal, done) counts.
    fn run(
        beats: &[(u64, u128, u16)],
        ready: impl Fn(u64) -> bool,
    ) -> (Vec<MemWrite>, u64, u64, Vec<u64>) {
        let mut u = DmaWriter::default();
        u.connect_all();
        u.reset.next = true;
        tick!(u);
        u.reset.next = false;
        let (mut next, mut out, mut cur, mut cycles) = (0, vec![], None::<MemWrite>, vec![]);
        for cycle in 0..beats.len() as u64 * 6 + 20 {
            let r = ready(cycle);
            u.t_ready.next = r;
            u.w_valid.next = next < beats.len();
            if let Some(&(a, d, s)) = beats.get(next) {
                u.w_addr.next = a.into();
                u.w_data.next = b128(d);
                u.w_strb.next = (s as u64).into();
            }
            settle(&mut u);
            if u.w_valid.val() && u.w_ready.val() {
                next += 1;
            }
            if u.t_valid.val() && r {
                cycles.push(cycle);
                let data = u.t_data.val().to_u128();
                let user = u.t_user.val().to_u64();
                let keep = u.t_keep.val().to_u64();
                match cur.take() {
                    None => {
                        assert!(!u.t_last.val(), "a write has a payload beat");
                        assert_eq!(keep, 15);
                        assert_eq!((dw(data, 2) >> 11) & 15, 1, "memory write");
                        assert_eq!(dw(data, 3), 0, "tag, ids, TC and attributes 0");
                        assert_eq!(dw(data, 0) & 3, 0, "untranslated address");
                        let dwords = dw(data, 2) & 0x7ff;
                        cur = Some(MemWrite {
                            addr: data as u64,
                            first_be: (user & 15) as u8,
                            last_be: ((user >> 4) & 15) as u8,
                            payload: vec![0; dwords as usize],
                        });
                    }
                    Some(mut w) => {
                        assert!(u.t_last.val());
                        assert_eq!(keep, (1 << w.payload.len()) - 1, "keep covers the payload");
                        for (i, p) in w.payload.iter_mut().enumerate() {
                            *p = dw(data, i);
                        }
                        out.push(w);
                    }
                }
            }
            tick!(u);
        }
        assert_eq!(next, beats.len(), "every beat taken");
        assert!(cur.is_none());
        settle(&mut u);
        (out, u.goal.val().to_u64(), u.done.val().to_u64(), cycles)
    }

    const DATA: u128 = 0x0f0e0d0c_0b0a0908_07060504_03020100;

    #[test]
    fn strobes_become_dword_spans_and_byte_enables() {
        let beats = [
            (0x1_0000_1000, DATA, 0xffff),
            (0x2000, DATA, 0x00ff),
            (0x3000, DATA, 0x0ff0),
            (0x4000, DATA, 0x0006),
            (0x5000, DATA, 0x0000),
            (0x6000, DATA, 0xfff8),
            (0x7000, DATA, 0x001f),
        ];
        let (w, goal, done, _) = run(&beats, |_| true);
        let d = |i| dw(DATA, i);
        let expect = vec![
            MemWrite {
                addr: 0x1_0000_1000,
                first_be: 15,
                last_be: 15,
                payload: vec![d(0), d(1), d(2), d(3)],
            },
            MemWrite {
                addr: 0x2000,
                first_be: 15,
                last_be: 15,
                payload: vec![d(0), d(1)],
            },
            MemWrite {
                addr: 0x3004,
                first_be: 15,
                last_be: 15,
                payload: vec![d(1), d(2)],
            },
            MemWrite {
                addr: 0x4000,
                first_be: 6,
                last_be: 0,
                payload: vec![d(0)],
            },
            MemWrite {
                addr: 0x6000,
                first_be: 8,
                last_be: 15,
                payload: vec![d(0), d(1), d(2), d(3)],
            },
            MemWrite {
                addr: 0x7000,
                first_be: 15,
                last_be: 1,
                payload: vec![d(0), d(1)],
            },
        ];
        assert_eq!(w, expect);
        assert_eq!((goal, done), (7, 7), "the empty beat counts as done");
    }

    #[test]
    fn back_to_back_writes_fill_every_cycle_and_survive_backpressure() {
        let beats: Vec<_> = (0..8)
            .map(|i| (0x1000 + 16 * i, DATA + i as u128, 0xffff))
            .collect();
        let (_, _, _, cycles) = run(&beats, |_| true);
        assert_eq!(cycles.len(), 16);
        assert_eq!(
            cycles[15] - cycles[0],
            15,
            "two RQ beats per write, no gap: {cycles:?}"
        );
        let (w, _, done, _) = run(&beats, |c| c % 3 != 1);
        assert_eq!(w.len(), 8);
        for (i, m) in w.iter().enumerate() {
            assert_eq!(m.addr, 0x1000 + 16 * i as u64);
            assert_eq!(m.payload[0], dw(DATA + i as u128, 0));
        }
        assert_eq!(done, 8);
    }

    #[test]
    fn generates_verilog() {
        let mut u = DmaWriter::default();
        u.connect_all();
        crate::crc::tests::verilator_lint("dma_write", &generate_verilog(&u));
    }
}
