//! The receive FCS checker: watches a 64-bit frame stream and flags each frame whose
//! Ethernet FCS (CRC-32, its last 4 bytes) is wrong.
//!
//! # Ports
//!
//! | port          | dir | width | meaning |
//! |---------------|-----|-------|---------|
//! | `clock`       | in  | clock | rising edge |
//! | `reset`       | in  | 1     | synchronous, active high: forget any frame in progress and any pending result |
//! | `in_data`     | in  | 64    | byte `i` is `in_data[8i+7:8i]`; byte 0 is first on the wire |
//! | `in_keep`     | in  | 8     | byte enables, contiguous from bit 0, all ones except possibly on the last beat |
//! | `in_valid`    | in  | 1     | the stream's valid |
//! | `in_ready`    | in  | 1     | the stream's ready (an input: the checker only observes; a beat transfers on `in_valid && in_ready`) |
//! | `in_last`     | in  | 1     | this beat is the frame's last |
//! | `out_valid`   | out | 1     | one-cycle pulse per frame: its check result is on `out_fcs_bad` |
//! | `out_fcs_bad` | out | 1     | with `out_valid`: the frame's FCS is wrong, or the frame is shorter than 4 bytes; 0 when `out_valid` is low |
//!
//! Each frame ends with its 4-byte FCS, least significant byte first (see [`crate::crc`]).
//! The FCS may straddle two beats (a last beat of 1..=3 bytes), so rather than separating it
//! from the payload the checker runs the CRC-32 over every byte of the frame, FCS included,
//! and compares the finished result with the residue [`CRC32_RESIDUE`] (0x2144DF1C, the raw
//! register 0xDEBB20E3 before xorout), which a frame with a correct FCS always produces.
//! A frame of fewer than 4 bytes (a single beat with `in_keep[3]` clear) is reported bad.
//!
//! # Timing (cycles)
//!
//! * The frame's last beat transfers at rising edge `N`; `out_valid` is high during cycle
//!   `N+1` only (latency 1), with `out_fcs_bad`. `out_valid` is registered; `out_fcs_bad` is
//!   a 32-bit compare of registered values.
//! * It never stalls the stream (it has no ready output): the next frame's first beat may
//!   transfer at edge `N+1`, and frames of a single beat may follow each other every cycle,
//!   giving one result per cycle.
//! * `reset` at edge `N`: no `out_valid` in cycle `N+1`, and the next beat transferred
//!   starts a new frame.

use crate::crc::{map8_masks, raw_step, CRC32_POLY, CRC32_RESIDUE, CRC_INIT, CRC_XOROUT};
use rust_hdl::prelude::*;

/// Checks the FCS of each frame of a 64-bit stream. See the module documentation.
///
/// Hardware: every beat goes through one 8-byte CRC-32 map with the bytes at and above the
/// beat's end zeroed, so after the last beat the register holds the frame's CRC register
/// advanced by `8 - n` zero bytes (`n` the last beat's bytes). Instead of taking those zero
/// bytes back (the cascade of [`crate::crc::CrcEngine`], in series with the map in its
/// feedback loop), the check compares the register with the residue advanced by the same
/// zero bytes: one constant per `8 - n`, a bijection, so the comparison says the same. The
/// loop is then the 8-byte map alone (for timing). The register enters the map folded into
/// the beat's first four bytes (`(d ^ r) & mask`, one reduction of 64 inputs per bit instead of
/// two of 96; [`crate::crc::map8_masks`]): 760 LUT4 instead of 850 (`make timing BLOCK=fcs`),
/// and fewer host instructions per cycle in the Verilator model.
#[derive(LogicBlock)]
pub struct FcsCheck {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub in_data: Signal<In, Bits<64>>,
    pub in_keep: Signal<In, Bits<8>>,
    pub in_valid: Signal<In, Bit>,
    pub in_ready: Signal<In, Bit>,
    pub in_last: Signal<In, Bit>,
    pub out_valid: Signal<Out, Bit>,
    pub out_fcs_bad: Signal<Out, Bit>,
    /// The raw CRC register after the frame's beats so far, each padded to 8 bytes with zeros.
    raw: DFF<Bits<32>>,
    /// Zero bytes the last beat was padded with (`8 - n`, 0 for a full beat).
    pad: DFF<Bits<3>>,
    /// A frame is in progress: the next beat is not a first beat.
    in_frame: DFF<Bit>,
    /// The last beat of a frame transferred at the previous edge.
    done: DFF<Bit>,
    /// That frame had fewer than 4 bytes.
    too_short: DFF<Bit>,
    /// A beat transfers this cycle.
    fire: Signal<Local, Bit>,
    /// Bytes in this beat (0..=8), from `in_keep`.
    n: Signal<Local, Bits<4>>,
    /// The register this beat starts from, and its bytes (those at and above `n` zeroed).
    base: Signal<Local, Bits<32>>,
    d: Signal<Local, Bits<64>>,
    /// `d` with `base` folded into its first four bytes (the map's one input, see
    /// [`crate::crc::map8_masks`]).
    x: Signal<Local, Bits<64>>,
    /// The register after the 8-byte map.
    r8: Signal<Local, Bits<32>>,
    /// The residue the register must hold after the last beat for its padding.
    want: Signal<Local, Bits<32>>,
    init: Constant<Bits<32>>,
    keep_below: [Constant<Bits<64>>; 9],
    lane_count: [Constant<Bits<4>>; 9],
    pad_of: [Constant<Bits<3>>; 9],
    data_mask: [Constant<Bits<64>>; 32],
    /// `residue_at[k]`: the raw residue advanced by `k` zero bytes.
    residue_at: [Constant<Bits<32>>; 8],
}

impl Default for FcsCheck {
    fn default() -> Self {
        let rpoly = CRC32_POLY.reverse_bits();
        let dmask = map8_masks(rpoly);
        let raw_residue = CRC32_RESIDUE ^ CRC_XOROUT;
        Self {
            clock: Default::default(),
            reset: Default::default(),
            in_data: Default::default(),
            in_keep: Default::default(),
            in_valid: Default::default(),
            in_ready: Default::default(),
            in_last: Default::default(),
            out_valid: Default::default(),
            out_fcs_bad: Default::default(),
            raw: Default::default(),
            pad: Default::default(),
            in_frame: Default::default(),
            done: Default::default(),
            too_short: Default::default(),
            fire: Default::default(),
            n: Default::default(),
            base: Default::default(),
            d: Default::default(),
            x: Default::default(),
            r8: Default::default(),
            want: Default::default(),
            init: Constant::new((CRC_INIT as u64).into()),
            keep_below: std::array::from_fn(|n| {
                Constant::new((((1u128 << (8 * n)) - 1) as u64).into())
            }),
            lane_count: std::array::from_fn(|n| Constant::new((n as u64).into())),
            pad_of: std::array::from_fn(|n| Constant::new((((8 - n) % 8) as u64).into())),
            data_mask: std::array::from_fn(|j| Constant::new(dmask[j].into())),
            residue_at: std::array::from_fn(|k| {
                Constant::new((raw_step(raw_residue, 0, 8 * k, rpoly) as u64).into())
            }),
        }
    }
}

impl Logic for FcsCheck {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, raw, pad, in_frame, done, too_short);
        self.fire.next = self.in_valid.val() & self.in_ready.val();
        // Bytes in the beat: the highest set bit of keep, plus one.
        self.n.next = self.lane_count[0].val();
        for i in 0..8 {
            if self.in_keep.val().get_bit(i) {
                self.n.next = self.lane_count[i + 1].val();
            }
        }
        self.base.next = self.raw.q.val();
        if !self.in_frame.q.val() {
            self.base.next = self.init.val();
        }
        self.d.next = self.in_data.val();
        // (The loop variable must not be named like a signal: see crate::crc.)
        for len in 0..9 {
            if self.n.val().index() == len {
                self.d.next = self.in_data.val() & self.keep_below[len].val();
            }
        }
        self.x.next = self.d.val() ^ bit_cast::<64, 32>(self.base.val());
        self.r8.next = 0.into();
        for j in 0..32 {
            self.r8.next = self
                .r8
                .val()
                .replace_bit(j, (self.x.val() & self.data_mask[j].val()).xor());
        }
        self.done.d.next = false;
        if self.fire.val() {
            self.raw.d.next = self.r8.val();
            for len in 0..9 {
                if self.n.val().index() == len {
                    self.pad.d.next = self.pad_of[len].val();
                }
            }
            // A beat without bytes adds nothing.
            if self.n.val() == 0 {
                self.raw.d.next = self.base.val();
                self.pad.d.next = 0.into();
            }
            self.in_frame.d.next = !self.in_last.val();
            self.done.d.next = self.in_last.val();
            // Only a frame of a single beat can be shorter than 4 bytes.
            self.too_short.d.next = !self.in_frame.q.val() & !self.in_keep.val().get_bit(3);
        }
        if self.reset.val() {
            self.in_frame.d.next = false;
            self.done.d.next = false;
        }
        // The register is the frame's during the cycle after its last beat, even if the next
        // frame's first beat is being absorbed in that cycle.
        self.want.next = self.residue_at[0].val();
        for k in 0..8 {
            if self.pad.q.val().index() == k {
                self.want.next = self.residue_at[k].val();
            }
        }
        self.out_valid.next = self.done.q.val();
        self.out_fcs_bad.next =
            self.done.q.val() & (self.too_short.q.val() | (self.raw.q.val() != self.want.val()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc::tests::{to_beats, verilator_cosim, verilator_lint, CRC32};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// One cycle's stream inputs.
    #[derive(Clone, Copy)]
    struct Inputs {
        data: u64,
        keep: u8,
        valid: bool,
        ready: bool,
        last: bool,
    }

    struct Bench {
        uut: FcsCheck,
        /// Results still expected: (cycles until `out_valid`, fcs bad).
        expected: Vec<(usize, bool)>,
        results: usize,
    }

    impl Bench {
        fn new() -> Self {
            let mut uut = FcsCheck::default();
            uut.connect_all();
            check_all(&uut).unwrap();
            let mut bench = Bench {
                uut,
                expected: vec![],
                results: 0,
            };
            bench.settle();
            bench.uut.reset.next = true;
            bench.clock();
            bench.uut.reset.next = false;
            bench
        }

        fn settle(&mut self) {
            assert!(simulate(&mut self.uut, 100), "the circuit did not settle");
        }

        fn clock(&mut self) {
            self.settle();
            self.uut.clock.next = true.into();
            self.settle();
            self.uut.clock.next = false.into();
            self.settle();
        }

        /// Drives `inp` for one cycle; `result` is the frame's expected badness when this is
        /// a transferred last beat. Then checks the outputs against what is due.
        fn cycle(&mut self, inp: Inputs, result: Option<bool>) {
            let u = &mut self.uut;
            u.in_data.next = inp.data.into();
            u.in_keep.next = (inp.keep as u64).into();
            u.in_valid.next = inp.valid;
            u.in_ready.next = inp.ready;
            u.in_last.next = inp.last;
            if let Some(bad) = result {
                assert!(inp.valid && inp.ready && inp.last);
                self.expected.push((1, bad));
            }
            self.clock();
            for e in self.expected.iter_mut() {
                e.0 -= 1;
            }
            let due = self.expected.first().filter(|e| e.0 == 0).map(|e| e.1);
            assert_eq!(
                self.uut.out_valid.val(),
                due.is_some(),
                "out_valid one cycle after the last beat (result {})",
                self.results
            );
            if let Some(bad) = due {
                assert_eq!(
                    self.uut.out_fcs_bad.val(),
                    bad,
                    "fcs bad of frame {}",
                    self.results
                );
                self.expected.remove(0);
                self.results += 1;
            } else {
                assert!(
                    !self.uut.out_fcs_bad.val(),
                    "out_fcs_bad only with out_valid"
                );
            }
        }

        /// Sends `frame`; with `stalls`, random cycles where valid or ready is low (with junk
        /// on the bus) come before beats.
        fn send(&mut self, frame: &[u8], bad: bool, stalls: bool, rng: &mut ChaCha8Rng) {
            let beats = to_beats(frame, rng);
            let n = beats.len();
            for (i, &(data, keep)) in beats.iter().enumerate() {
                while stalls && rng.gen_bool(0.3) {
                    let (valid, ready) = match rng.gen_range(0..3) {
                        0 => (true, false),
                        1 => (false, true),
                        _ => (false, false),
                    };
                    let junk = Inputs {
                        data: if valid { data } else { rng.gen() },
                        keep: if valid { keep } else { rng.gen() },
                        valid,
                        ready,
                        last: if valid { i + 1 == n } else { rng.gen() },
                    };
                    self.cycle(junk, None);
                }
                let last = i + 1 == n;
                let inp = Inputs {
                    data,
                    keep,
                    valid: true,
                    ready: true,
                    last,
                };
                self.cycle(inp, if last { Some(bad) } else { None });
            }
        }

        fn idle(&mut self) {
            let inp = Inputs {
                data: 0,
                keep: 0,
                valid: false,
                ready: true,
                last: false,
            };
            self.cycle(inp, None);
        }

        fn finish(&mut self) {
            self.idle();
            self.idle();
            assert!(self.expected.is_empty(), "every frame got its result");
        }
    }

    /// A frame of a length in `lens` (at least 4) ending with a correct FCS.
    fn good_frame(rng: &mut ChaCha8Rng, lens: std::ops::RangeInclusive<usize>) -> Vec<u8> {
        let len = rng.gen_range(lens);
        let mut frame: Vec<u8> = (0..len - 4).map(|_| rng.gen()).collect();
        let fcs = CRC32.checksum(&frame);
        frame.extend_from_slice(&fcs.to_le_bytes());
        frame
    }

    /// Whether the checker must call `frame` bad, computed from the `crc` crate directly.
    fn is_bad(frame: &[u8]) -> bool {
        if frame.len() < 4 {
            return true;
        }
        let (payload, fcs) = frame.split_at(frame.len() - 4);
        CRC32.checksum(payload).to_le_bytes() != fcs
    }

    /// Frames of random lengths and every tail length, half of them with one flipped bit
    /// (in the payload or in the FCS). Returns (frame, bad).
    fn frames(rng: &mut ChaCha8Rng, count: usize) -> Vec<(Vec<u8>, bool)> {
        let mut lens: Vec<usize> = (4..=20).chain(60..=68).collect();
        while lens.len() < count {
            lens.push(rng.gen_range(4..=2000));
        }
        lens.into_iter()
            .map(|len| {
                let mut frame = good_frame(rng, len..=len);
                let flip = rng.gen_bool(0.5);
                if flip {
                    // Sometimes in the FCS bytes themselves, which may straddle two beats.
                    let byte = if rng.gen() {
                        len - 1 - rng.gen_range(0..4)
                    } else {
                        rng.gen_range(0..len)
                    };
                    frame[byte] ^= 1 << rng.gen_range(0..8);
                }
                let bad = is_bad(&frame);
                assert_eq!(bad, flip, "a single flipped bit is always caught");
                (frame, bad)
            })
            .collect()
    }

    #[test]
    fn good_and_bad_frames_with_stalls() {
        let mut rng = ChaCha8Rng::seed_from_u64(20);
        let mut bench = Bench::new();
        let frames = frames(&mut rng, 80);
        let mut tails = [0usize; 8];
        for (frame, bad) in &frames {
            bench.send(frame, *bad, true, &mut rng);
            tails[(frame.len() - 1) % 8] += 1;
        }
        bench.finish();
        assert_eq!(bench.results, frames.len());
        assert!(tails.iter().all(|&t| t > 0), "every tail length was tested");
        assert!(frames.iter().any(|f| f.1) && frames.iter().any(|f| !f.1));
    }

    #[test]
    fn back_to_back_frames() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let mut bench = Bench::new();
        let mut frames = frames(&mut rng, 60);
        // Runs of one-beat frames: one result every cycle.
        for _ in 0..40 {
            let len = rng.gen_range(4..=8);
            let mut frame = good_frame(&mut rng, len..=len);
            if rng.gen() {
                frame[rng.gen_range(0..len)] ^= 1 << rng.gen_range(0..8);
            }
            let bad = is_bad(&frame);
            frames.push((frame, bad));
        }
        // No idle cycle anywhere: each frame's first beat follows the last one's.
        for (frame, bad) in &frames {
            bench.send(frame, *bad, false, &mut rng);
        }
        bench.finish();
        assert_eq!(bench.results, frames.len());
    }

    #[test]
    fn short_frames_are_bad() {
        let mut rng = ChaCha8Rng::seed_from_u64(22);
        let mut bench = Bench::new();
        for len in [1usize, 2, 3, 3, 2, 1] {
            let frame: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            bench.send(&frame, true, false, &mut rng);
            // A good frame right after must not inherit anything.
            let frame = good_frame(&mut rng, 4..=30);
            bench.send(&frame, false, false, &mut rng);
        }
        // The 4-byte frame with an empty payload: its FCS is CRC-32("") = 0.
        bench.send(&[0, 0, 0, 0], false, false, &mut rng);
        bench.send(&[0, 0, 0, 1], true, false, &mut rng);
        bench.finish();
    }

    #[test]
    fn reset_in_the_middle_of_a_frame() {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let mut bench = Bench::new();
        for round in 0..10 {
            let frame = good_frame(&mut rng, 24..=300);
            let beats = to_beats(&frame, &mut rng);
            let cut = rng.gen_range(1..beats.len() - 1);
            for &(data, keep) in &beats[..cut] {
                let inp = Inputs {
                    data,
                    keep,
                    valid: true,
                    ready: true,
                    last: false,
                };
                bench.cycle(inp, None);
            }
            // Reset, even with a last beat transferring in the same cycle: no result.
            bench.uut.reset.next = true;
            let inp = Inputs {
                data: rng.gen(),
                keep: 0xff,
                valid: round % 2 == 0,
                ready: true,
                last: true,
            };
            bench.cycle(inp, None);
            bench.uut.reset.next = false;
            // The next beat starts a new frame.
            let frame = good_frame(&mut rng, 4..=100);
            bench.send(&frame, false, true, &mut rng);
        }
        bench.finish();
        assert_eq!(bench.results, 10);
    }

    const FCS_MAIN_CPP: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
int main(int argc, char** argv) {
    VerilatedContext ctx;
    Vtop top{&ctx};
    FILE* f = fopen(argv[1], "r");
    unsigned r, v, rd, l, k, ev, eb;
    unsigned long long d;
    long n = 0, errors = 0, results = 0;
    top.clock = 0;
    top.eval();
    while (fscanf(f, "%x %x %x %x %x %llx %x %x", &r, &v, &rd, &l, &k, &d, &ev, &eb) == 8) {
        top.reset = r; top.in_valid = v; top.in_ready = rd; top.in_last = l;
        top.in_keep = k; top.in_data = d;
        top.eval();
        top.clock = 1;
        top.eval();
        if (top.out_valid != ev || top.out_fcs_bad != eb) {
            if (errors < 5) printf("cycle %ld: valid %d bad %d want %d %d\n", n, top.out_valid, top.out_fcs_bad, ev, eb);
            errors++;
        }
        results += top.out_valid;
        top.clock = 0;
        top.eval();
        n++;
    }
    printf("cycles %ld results %ld errors %ld\n", n, results, errors);
    return (errors || n == 0) ? 1 : 0;
}
"#;

    #[test]
    fn verilog_in_verilator_checks_frames() {
        // One line per cycle: reset valid ready last keep data, then out_valid out_fcs_bad
        // as expected after that cycle's rising edge.
        let mut rng = ChaCha8Rng::seed_from_u64(24);
        let mut lines = vec![];
        let mut results = 0;
        let mut line = |inp: Inputs, reset: bool, result: Option<bool>| {
            lines.push((inp, reset, result));
        };
        let frames = frames(&mut rng, 60);
        for (frame, bad) in frames
            .iter()
            .chain([(vec![1u8, 2, 3], true), (vec![9u8], true)].iter())
        {
            let beats = to_beats(frame, &mut rng);
            let n = beats.len();
            for (i, &(data, keep)) in beats.iter().enumerate() {
                if rng.gen_bool(0.2) {
                    let inp = Inputs {
                        data: rng.gen(),
                        keep: rng.gen(),
                        valid: rng.gen(),
                        ready: false,
                        last: rng.gen(),
                    };
                    line(inp, false, None);
                }
                let last = i + 1 == n;
                let inp = Inputs {
                    data,
                    keep,
                    valid: true,
                    ready: true,
                    last,
                };
                line(inp, false, if last { Some(*bad) } else { None });
                if last {
                    results += 1;
                }
            }
        }
        // A reset in the middle of a frame, then a good frame.
        let frame = good_frame(&mut rng, 100..=100);
        let beats = to_beats(&frame, &mut rng);
        for &(data, keep) in &beats[..5] {
            line(
                Inputs {
                    data,
                    keep,
                    valid: true,
                    ready: true,
                    last: false,
                },
                false,
                None,
            );
        }
        line(
            Inputs {
                data: 0,
                keep: 0,
                valid: false,
                ready: true,
                last: false,
            },
            true,
            None,
        );
        for (i, &(data, keep)) in beats.iter().enumerate() {
            let last = i + 1 == beats.len();
            line(
                Inputs {
                    data,
                    keep,
                    valid: true,
                    ready: true,
                    last,
                },
                false,
                if last { Some(false) } else { None },
            );
        }
        results += 1;
        let idle = Inputs {
            data: 0,
            keep: 0,
            valid: false,
            ready: false,
            last: false,
        };
        line(idle, false, None);
        let mut stimulus = String::new();
        for (inp, reset, result) in lines.iter().chain([(idle, false, None)].iter()) {
            // Right after the edge that transfers a last beat, the frame's result shows.
            let (ev, eb) = match *result {
                Some(bad) => (1, bad as u8),
                None => (0, 0),
            };
            stimulus.push_str(&format!(
                "{:x} {:x} {:x} {:x} {:x} {:x} {:x} {:x}\n",
                *reset as u8,
                inp.valid as u8,
                inp.ready as u8,
                inp.last as u8,
                inp.keep,
                inp.data,
                ev,
                eb
            ));
        }
        let mut uut = FcsCheck::default();
        uut.connect_all();
        let out = verilator_cosim(
            "fcs_check",
            &generate_verilog(&uut),
            FCS_MAIN_CPP,
            &stimulus,
        );
        let cycles = lines.len() + 1;
        assert!(
            out.contains(&format!("cycles {cycles} results {results} errors 0")),
            "{out}"
        );
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = FcsCheck::default();
        uut.connect_all();
        verilator_lint("fcs_check", &generate_verilog(&uut));
    }
}
