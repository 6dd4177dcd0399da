//! `Ram<D, N>`: the project's block RAM, 2^N words of `D`, one read port and one write port on
//! one clock, marked `(* no_rw_check *)` so that Yosys maps it to block RAM (ECP5 DP16KD)
//! without read/write collision logic. `ClearedRam<D, N>` adds a clear-after-reset sequencer.
//!
//! # Ports (`Ram`)
//! - `clock`
//! - `rd_en`, `rd_addr` (N) in; `rd_data` (D) out: registered read. With `rd_en` high at an
//!   edge, `rd_data` shows the word at `rd_addr` from that edge on; with `rd_en` low it holds.
//! - `wr_en`, `wr_addr` (N), `wr_data` (D) in: the whole word is written at the edge.
//! - `collision` out: `rd_en & wr_en & (rd_addr == wr_addr)`, combinational.
//!
//! # Contract
//! Never read an address in the cycle it is written: with `no_rw_check` the synthesised RAM
//! may return old data, new data or a mix there. The blocks that use this RAM prevent it with
//! their hazard logic (forwarding or stalls), and `collision` reports a violation: every block
//! ORs the `collision` of its RAMs into its `ram_collision` output and the core brings the OR
//! of all of them to the `dbg_ram_collision` pin, which the simulator counts and the tests
//! require to stay 0. RustHDL's own simulation of this block panics on a collision, so a block's
//! unit test fails at the cycle it happens. Contents are not reset (see [`ClearedRam`]).
//!
//! # Timing
//! Read latency 1 cycle (address at edge t, data valid during cycle t+1). A write at edge t is
//! visible to a read issued at edge t+1 or later.

use rust_hdl::core::timing::TimingInfo;
use rust_hdl::prelude::*;

/// A 1R1W synchronous RAM of 2^N words. See the module documentation.
#[derive(LogicBlock, Default)]
pub struct Ram<D: Synth, const N: usize> {
    pub clock: Signal<In, Clock>,
    pub rd_en: Signal<In, Bit>,
    pub rd_addr: Signal<In, Bits<N>>,
    pub rd_data: Signal<Out, D>,
    pub wr_en: Signal<In, Bit>,
    pub wr_addr: Signal<In, Bits<N>>,
    pub wr_data: Signal<In, D>,
    pub collision: Signal<Out, Bit>,
    // The RustHDL simulation's contents (not synthesised).
    #[allow(clippy::box_collection)]
    _mem: Box<Vec<D>>,
}

impl<D: Synth, const N: usize> Logic for Ram<D, N> {
    fn update(&mut self) {
        self.collision.next =
            self.rd_en.val() & self.wr_en.val() & (self.rd_addr.val() == self.wr_addr.val());
        if self.clock.pos_edge() {
            if self._mem.len() != 1 << N {
                *self._mem = vec![D::default(); 1 << N];
            }
            if self.rd_en.val() {
                assert!(
                    !(self.wr_en.val() && self.rd_addr.val() == self.wr_addr.val()),
                    "Ram: address {:x} read in the cycle it is written",
                    self.rd_addr.val().index()
                );
                self.rd_data.next = self._mem[self.rd_addr.val().index()];
            }
            if self.wr_en.val() {
                self._mem[self.wr_addr.val().index()] = self.wr_data.val();
            }
        }
    }

    fn connect(&mut self) {
        self.rd_data.connect();
        self.collision.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
(* no_rw_check *)
reg [{msb}:0] mem [0:{last}];

always @(posedge clock) begin
   if (rd_en) begin
      rd_data <= mem[rd_addr];
   end
   if (wr_en) begin
      mem[wr_addr] <= wr_data;
   end
end

always @(*) collision = rd_en & wr_en & (rd_addr == wr_addr);
",
            msb = D::BITS - 1,
            last = (1usize << N) - 1,
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![
            TimingInfo {
                name: "ram_read".into(),
                clock: "clock".into(),
                inputs: vec!["rd_en".into(), "rd_addr".into()],
                outputs: vec!["rd_data".into()],
            },
            TimingInfo {
                name: "ram_write".into(),
                clock: "clock".into(),
                inputs: vec!["wr_en".into(), "wr_addr".into(), "wr_data".into()],
                outputs: vec![],
            },
        ]
    }
}

/// A [`Ram`] of `W`-bit words that clears itself after reset.
///
/// # Ports
/// Those of [`Ram`], plus `reset` in and `ready` out.
///
/// # Contract
/// A `reset` (held one cycle or more) starts a clear: for the 2^N cycles after `reset` falls,
/// the write port writes zeros to every address in turn and ignores
/// `wr_en`; `ready` is low from the edge that samples `reset` until the last address was
/// written. Reads work throughout (they return 0 or old data while the clear runs).
///
/// # Timing
/// `ready` rises 2^N cycles after the first cycle with `reset` low.
#[derive(LogicBlock, Default)]
pub struct ClearedRam<const W: usize, const N: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub ready: Signal<Out, Bit>,
    pub rd_en: Signal<In, Bit>,
    pub rd_addr: Signal<In, Bits<N>>,
    pub rd_data: Signal<Out, Bits<W>>,
    pub wr_en: Signal<In, Bit>,
    pub wr_addr: Signal<In, Bits<N>>,
    pub wr_data: Signal<In, Bits<W>>,
    pub collision: Signal<Out, Bit>,
    ram: Ram<Bits<W>, N>,
    clearing: DFF<Bit>,
    clear_addr: DFF<Bits<N>>,
}

impl<const W: usize, const N: usize> Logic for ClearedRam<W, N> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, clearing, clear_addr);
        self.ram.clock.next = self.clock.val();
        self.ram.rd_en.next = self.rd_en.val();
        self.ram.rd_addr.next = self.rd_addr.val();
        self.rd_data.next = self.ram.rd_data.val();
        self.ram.wr_en.next = self.wr_en.val();
        self.ram.wr_addr.next = self.wr_addr.val();
        self.ram.wr_data.next = self.wr_data.val();
        self.collision.next = self.ram.collision.val();
        self.ready.next = !self.clearing.q.val();
        if self.clearing.q.val() {
            self.ram.wr_en.next = true;
            self.ram.wr_addr.next = self.clear_addr.q.val();
            self.ram.wr_data.next = 0.into();
            // Reads of the address being cleared would collide: they see old data instead.
            if self.rd_addr.val() == self.clear_addr.q.val() {
                self.ram.rd_en.next = false;
            }
            self.clear_addr.d.next = self.clear_addr.q.val() + 1;
            if self.clear_addr.q.val().all() {
                self.clearing.d.next = false;
            }
        }
        if self.reset.val() {
            self.clearing.d.next = true;
            self.clear_addr.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(LogicBlock, Default)]
    struct Bench {
        clock: Signal<In, Clock>,
        reset: Signal<In, Bit>,
        rd_en: Signal<In, Bit>,
        rd_addr: Signal<In, Bits<4>>,
        rd_data: Signal<Out, Bits<12>>,
        wr_en: Signal<In, Bit>,
        wr_addr: Signal<In, Bits<4>>,
        wr_data: Signal<In, Bits<12>>,
        ready: Signal<Out, Bit>,
        ram: ClearedRam<12, 4>,
    }

    impl Logic for Bench {
        #[hdl_gen]
        fn update(&mut self) {
            self.ram.clock.next = self.clock.val();
            self.ram.reset.next = self.reset.val();
            self.ram.rd_en.next = self.rd_en.val();
            self.ram.rd_addr.next = self.rd_addr.val();
            self.rd_data.next = self.ram.rd_data.val();
            self.ram.wr_en.next = self.wr_en.val();
            self.ram.wr_addr.next = self.wr_addr.val();
            self.ram.wr_data.next = self.wr_data.val();
            self.ready.next = self.ram.ready.val();
        }
    }

    type Step = (bool, u64, bool, u64, u64);

    /// Runs the bench for the given cycles; each step is (rd_en, rd_addr, wr_en, wr_addr,
    /// wr_data). Returns (rd_data, ready) sampled in each cycle after its edge.
    fn run(reset_cycles: usize, steps: Vec<Step>) -> Vec<(u64, bool)> {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Bench>| x.clock.next = !x.clock.val());
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let o2 = out.clone();
        sim.add_testbench(move |mut ep: Sim<Bench>| {
            let mut x = ep.init()?;
            for _ in 0..reset_cycles {
                x.reset.next = true;
                wait_clock_cycle!(ep, clock, x);
            }
            x.reset.next = false;
            for (re, ra, we, wa, wd) in &steps {
                x.rd_en.next = *re;
                x.rd_addr.next = (*ra).into();
                x.wr_en.next = *we;
                x.wr_addr.next = (*wa).into();
                x.wr_data.next = (*wd).into();
                wait_clock_cycle!(ep, clock, x);
                o2.lock()
                    .unwrap()
                    .push((x.rd_data.val().index() as u64, x.ready.val()));
            }
            ep.done(x)
        });
        let mut uut = Bench::default();
        uut.connect_all();
        sim.run(Box::new(uut), 100_000).unwrap();
        let v = out.lock().unwrap().clone();
        v
    }

    #[test]
    fn read_is_registered_and_sees_earlier_writes() {
        let r = run(
            0,
            vec![
                (false, 0, true, 3, 0xabc),
                (true, 3, true, 4, 0x123),
                (true, 4, false, 0, 0),
                (false, 0, false, 0, 0),
            ],
        );
        assert_eq!(r[1].0, 0xabc, "data from the edge that sampled the read");
        assert_eq!(r[2].0, 0x123);
        assert_eq!(r[3].0, 0x123, "rd_en low holds the data");
    }

    #[test]
    #[should_panic(expected = "read in the cycle it is written")]
    fn a_read_of_the_written_address_is_caught() {
        run(0, vec![(true, 5, true, 5, 1), (false, 0, false, 0, 0)]);
    }

    #[test]
    fn clears_every_word_after_reset_and_says_when_ready() {
        let mut steps: Vec<Step> = (0..16).map(|a| (false, 0, true, a, 0xfff)).collect();
        // Reset again, then read everything once ready.
        let before = run(0, steps.clone());
        assert!(before.iter().all(|s| s.1), "never reset: ready");
        steps.clear();
        steps.extend((0..16).map(|_| (false, 0, true, 7, 0x555)));
        steps.extend((0..16).map(|a| (true, a, false, 0, 0)));
        let r = run(2, steps);
        assert!(r[..15].iter().all(|s| !s.1), "not ready while clearing");
        assert!(r[15].1, "ready after 2^N cycles");
        for (a, s) in r[16..].iter().enumerate() {
            assert_eq!(
                s.0, 0,
                "word {a} cleared (writes during the clear are ignored)"
            );
        }
    }

    #[test]
    fn verilog_carries_no_rw_check() {
        let mut uut = Bench::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        assert!(v.contains("(* no_rw_check *)"));
        if let Ok(p) = std::env::var("EVNIC_RAM_VERILOG") {
            std::fs::write(p, v).unwrap();
        }
    }
}
