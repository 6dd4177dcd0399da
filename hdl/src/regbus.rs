//! BAR0 register bus: accepts one 32-bit register access at a time from the host side, hands it
//! to the register blocks for one cycle, and returns the response.
//!
//! # Ports
//! Host side (a board shell maps PCIe memory reads/writes of BAR0 onto this):
//! - `req_valid`, `req_ready` (out), `req_write`, `req_addr` (byte address, [`ADDR_BITS`] bits),
//!   `req_wdata`, `req_strb` (byte strobes of the write)
//! - `rsp_valid` (out, one-cycle pulse per request, reads and writes alike), `rsp_rdata` (out)
//!
//! Block side (every register block sees the same signals):
//! - `rd`, `wr` (out): one-cycle strobes for a well-formed access (4-byte aligned, all strobes set
//!   on a write); a malformed access strobes neither
//! - `addr`, `wdata` (out): the registered request, held until the response
//! - `ack` (in): OR of the blocks' acknowledgements. The block that owns the register named by
//!   `addr` and allows the access raises `ack` for one cycle: in the strobe cycle (a register in
//!   flip-flops) or up to [`ACK_TIMEOUT`] - 1 cycles later (a register held in RAM, read or
//!   written through the block's pipeline)
//! - `rdata` (in): OR of the blocks' read data, taken in the `ack` cycle (a block drives 0 unless
//!   it acknowledges a read in that cycle)
//! - `nak` (in): OR of the blocks' refusals: the owner of the register refuses the access (a
//!   doorbell that lies, a write to a read-only register) for one cycle instead of `ack`; a
//!   block may also just never acknowledge
//! - `err_count`, `err_addr` (out), `err_clear` (in): the bus error counter of the global page
//!
//! # Contract
//! Every request completes: an access that is refused (`nak`), that no block acknowledges
//! within [`ACK_TIMEOUT`] cycles of its strobe, a misaligned or partial-strobe access, returns
//! `rsp_valid` like any other (reads give 0), increments `err_count` (saturating) and records
//! its address in `err_addr`. One access is in flight at a time; the next request is taken
//! after the response.
//!
//! # Timing
//! A request accepted in cycle 0 (valid && ready) strobes `rd`/`wr` in cycle 1. An access
//! acknowledged (or refused) in cycle 1 + w answers with `rsp_valid` in cycle 2 + w and
//! `req_ready` is high again in that cycle, so accesses to flip-flop registers (w = 0) complete
//! one every two cycles back to back. Malformed accesses answer in cycle 2; accesses no block
//! acknowledges answer in cycle 1 + [`ACK_TIMEOUT`].

use rust_hdl::prelude::*;

/// Byte-address bits decoded (BAR0 size is `1 << ADDR_BITS`).
pub const ADDR_BITS: usize = evnic_regs::map::BAR_ADDR_BITS as usize;

/// Bits of a page number (`addr[ADDR_BITS-1:12]`): blocks decode their page with
/// `addr.get_bits::<PAGE_BITS>(12)`.
pub const PAGE_BITS: usize = ADDR_BITS - 12;

/// Cycles, counted from the strobe, within which the owner of a register acknowledges an
/// access; an access not acknowledged by then completes as a bus error.
pub const ACK_TIMEOUT: u64 = evnic_regs::map::BUS_ACK_TIMEOUT as u64;

/// A register's word index within its page (`addr[11:2]`), as the constant a block decodes it
/// with; every block takes its offsets from `evnic-regs` through this.
pub fn word(r: &evnic_regs::Reg) -> Constant<Bits<10>> {
    Constant::new((r.word() as u64).into())
}

#[derive(LogicBlock)]
pub struct RegBus {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub req_valid: Signal<In, Bit>,
    pub req_ready: Signal<Out, Bit>,
    pub req_write: Signal<In, Bit>,
    pub req_addr: Signal<In, Bits<ADDR_BITS>>,
    pub req_wdata: Signal<In, Bits<32>>,
    pub req_strb: Signal<In, Bits<4>>,
    pub rsp_valid: Signal<Out, Bit>,
    pub rsp_rdata: Signal<Out, Bits<32>>,
    pub rd: Signal<Out, Bit>,
    pub wr: Signal<Out, Bit>,
    pub addr: Signal<Out, Bits<ADDR_BITS>>,
    pub wdata: Signal<Out, Bits<32>>,
    pub ack: Signal<In, Bit>,
    pub nak: Signal<In, Bit>,
    pub rdata: Signal<In, Bits<32>>,
    pub err_count: Signal<Out, Bits<32>>,
    pub err_addr: Signal<Out, Bits<32>>,
    pub err_clear: Signal<In, Bit>,
    busy: DFF<Bit>,
    wait_count: DFF<Bits<6>>,
    r_write: DFF<Bit>,
    r_addr: DFF<Bits<ADDR_BITS>>,
    r_wdata: DFF<Bits<32>>,
    r_good: DFF<Bit>,
    r_rsp_valid: DFF<Bit>,
    r_rsp_rdata: DFF<Bits<32>>,
    r_err_count: DFF<Bits<32>>,
    r_err_addr: DFF<Bits<32>>,
    accept: Signal<Local, Bit>,
    well_formed: Signal<Local, Bit>,
    done: Signal<Local, Bit>,
    good: Signal<Local, Bit>,
    timeout: Constant<Bits<6>>,
}

impl Default for RegBus {
    fn default() -> Self {
        RegBus {
            clock: Default::default(),
            reset: Default::default(),
            req_valid: Default::default(),
            req_ready: Default::default(),
            req_write: Default::default(),
            req_addr: Default::default(),
            req_wdata: Default::default(),
            req_strb: Default::default(),
            rsp_valid: Default::default(),
            rsp_rdata: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
            rdata: Default::default(),
            err_count: Default::default(),
            err_addr: Default::default(),
            err_clear: Default::default(),
            busy: Default::default(),
            wait_count: Default::default(),
            r_write: Default::default(),
            r_addr: Default::default(),
            r_wdata: Default::default(),
            r_good: Default::default(),
            r_rsp_valid: Default::default(),
            r_rsp_rdata: Default::default(),
            r_err_count: Default::default(),
            r_err_addr: Default::default(),
            accept: Default::default(),
            well_formed: Default::default(),
            done: Default::default(),
            good: Default::default(),
            timeout: Constant::new((ACK_TIMEOUT - 1).into()),
        }
    }
}

impl Logic for RegBus {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            busy,
            wait_count,
            r_write,
            r_addr,
            r_wdata,
            r_good,
            r_rsp_valid,
            r_rsp_rdata,
            r_err_count,
            r_err_addr
        );
        self.req_ready.next = !self.busy.q.val();
        self.accept.next = self.req_valid.val() & !self.busy.q.val();
        self.well_formed.next = (self.req_addr.val().get_bits::<2>(0) == 0)
            & (!self.req_write.val() | (self.req_strb.val() == 15));

        // Cycle 0: register the request.
        if self.accept.val() {
            self.busy.d.next = true;
            self.wait_count.d.next = 0.into();
            self.r_write.d.next = self.req_write.val();
            self.r_addr.d.next = self.req_addr.val();
            self.r_wdata.d.next = self.req_wdata.val();
            self.r_good.d.next = self.well_formed.val();
        }

        // Cycle 1: strobe the blocks. Cycles 1..: wait for the owner's answer.
        self.rd.next = false;
        self.wr.next = false;
        if self.busy.q.val() & (self.wait_count.q.val() == 0) {
            self.rd.next = !self.r_write.q.val() & self.r_good.q.val();
            self.wr.next = self.r_write.q.val() & self.r_good.q.val();
        }
        self.addr.next = self.r_addr.q.val();
        self.wdata.next = self.r_wdata.q.val();
        self.good.next = self.r_good.q.val() & self.ack.val();
        self.done.next = self.busy.q.val()
            & (!self.r_good.q.val()
                | self.ack.val()
                | self.nak.val()
                | (self.wait_count.q.val() == self.timeout.val()));
        if self.busy.q.val() {
            self.wait_count.d.next = self.wait_count.q.val() + 1;
        }
        self.r_rsp_valid.d.next = self.done.val();
        self.r_rsp_rdata.d.next = 0.into();
        if self.done.val() {
            self.busy.d.next = false;
            if self.good.val() {
                if !self.r_write.q.val() {
                    self.r_rsp_rdata.d.next = self.rdata.val();
                }
            } else {
                if !self.r_err_count.q.val().all() {
                    self.r_err_count.d.next = self.r_err_count.q.val() + 1;
                }
                self.r_err_addr.d.next = bit_cast::<32, ADDR_BITS>(self.r_addr.q.val());
            }
        }
        if self.err_clear.val() {
            self.r_err_count.d.next = 0.into();
        }

        // Cycle 2: respond.
        self.rsp_valid.next = self.r_rsp_valid.q.val();
        self.rsp_rdata.next = self.r_rsp_rdata.q.val();
        self.err_count.next = self.r_err_count.q.val();
        self.err_addr.next = self.r_err_addr.q.val();

        if self.reset.val() {
            self.busy.d.next = false;
            self.r_rsp_valid.d.next = false;
            self.r_err_count.d.next = 0.into();
            self.r_err_addr.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bus with three registers behind it: word 1 read-write and acknowledged in the strobe
    /// cycle, word 2 read-write and acknowledged [`DELAY`] cycles after the strobe (a register
    /// in RAM), word 3 refused with `nak`. Nothing answers elsewhere.
    #[derive(LogicBlock, Default)]
    struct Bench {
        clock: Signal<In, Clock>,
        reset: Signal<In, Bit>,
        bus: RegBus,
        stored: DFF<Bits<32>>,
        slow: DFF<Bits<32>>,
        slow_pending: DFF<Bits<4>>,
        slow_write: DFF<Bit>,
        req_valid: Signal<In, Bit>,
        req_write: Signal<In, Bit>,
        req_addr: Signal<In, Bits<ADDR_BITS>>,
        req_wdata: Signal<In, Bits<32>>,
        req_strb: Signal<In, Bits<4>>,
        rsp_valid: Signal<Out, Bit>,
        rsp_rdata: Signal<Out, Bits<32>>,
        req_ready: Signal<Out, Bit>,
        err_count: Signal<Out, Bits<32>>,
    }

    const DELAY: u64 = 3;

    impl Logic for Bench {
        #[hdl_gen]
        fn update(&mut self) {
            dff_setup!(self, clock, stored, slow, slow_pending, slow_write);
            self.bus.clock.next = self.clock.val();
            self.bus.reset.next = self.reset.val();
            self.bus.req_valid.next = self.req_valid.val();
            self.bus.req_write.next = self.req_write.val();
            self.bus.req_addr.next = self.req_addr.val();
            self.bus.req_wdata.next = self.req_wdata.val();
            self.bus.req_strb.next = self.req_strb.val();
            self.rsp_valid.next = self.bus.rsp_valid.val();
            self.rsp_rdata.next = self.bus.rsp_rdata.val();
            self.req_ready.next = self.bus.req_ready.val();
            self.err_count.next = self.bus.err_count.val();
            self.bus.err_clear.next = false;
            self.bus.ack.next = false;
            self.bus.nak.next = false;
            self.bus.rdata.next = 0.into();
            if (self.bus.addr.val() == 4) & (self.bus.rd.val() | self.bus.wr.val()) {
                self.bus.ack.next = true;
                if self.bus.rd.val() {
                    self.bus.rdata.next = self.stored.q.val();
                }
                if self.bus.wr.val() {
                    self.stored.d.next = self.bus.wdata.val();
                }
            }
            if (self.bus.addr.val() == 8) & (self.bus.rd.val() | self.bus.wr.val()) {
                self.slow_pending.d.next = 3.into();
                self.slow_write.d.next = self.bus.wr.val();
            }
            if self.slow_pending.q.val() != 0 {
                self.slow_pending.d.next = self.slow_pending.q.val() - 1;
            }
            if self.slow_pending.q.val() == 1 {
                self.bus.ack.next = true;
                if self.slow_write.q.val() {
                    self.slow.d.next = self.bus.wdata.val();
                } else {
                    self.bus.rdata.next = self.slow.q.val();
                }
            }
            if (self.bus.addr.val() == 12) & (self.bus.rd.val() | self.bus.wr.val()) {
                self.bus.nak.next = true;
            }
        }
    }

    struct Access {
        write: bool,
        addr: u64,
        data: u64,
        strb: u64,
    }

    fn wr(addr: u64, data: u64) -> Access {
        Access {
            write: true,
            addr,
            data,
            strb: 15,
        }
    }
    fn rd(addr: u64) -> Access {
        Access {
            write: false,
            addr,
            data: 0,
            strb: 0,
        }
    }

    /// Runs the accesses back to back, each issued as soon as `req_ready` allows; returns per
    /// access (read data, cycles from acceptance to `rsp_valid`, `err_count` after it).
    fn run(accesses: Vec<Access>) -> Vec<(u64, u64, u64)> {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Bench>| x.clock.next = !x.clock.val());
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let o2 = out.clone();
        sim.add_testbench(move |mut ep: Sim<Bench>| {
            let mut x = ep.init()?;
            x.reset.next = true;
            wait_clock_cycle!(ep, clock, x);
            x.reset.next = false;
            for a in &accesses {
                x.req_valid.next = true;
                x.req_write.next = a.write;
                x.req_addr.next = a.addr.into();
                x.req_wdata.next = a.data.into();
                x.req_strb.next = a.strb.into();
                assert!(x.req_ready.val(), "idle bus is ready");
                wait_clock_cycle!(ep, clock, x);
                x.req_valid.next = false;
                let mut cycles = 0;
                loop {
                    wait_clock_cycle!(ep, clock, x);
                    cycles += 1;
                    assert!(cycles < 100, "no response");
                    assert!(!x.req_ready.val() || x.rsp_valid.val());
                    if x.rsp_valid.val() {
                        break;
                    }
                }
                o2.lock().unwrap().push((
                    x.rsp_rdata.val().index() as u64,
                    cycles + 1,
                    x.err_count.val().index() as u64,
                ));
            }
            ep.done(x)
        });
        let mut uut = Bench::default();
        uut.connect_all();
        sim.run(Box::new(uut), 100_000).unwrap();
        let r = out.lock().unwrap().clone();
        r
    }

    #[test]
    fn acknowledged_refused_unclaimed_and_malformed_accesses_all_complete() {
        let r = run(vec![
            wr(4, 0xcafe_f00d),
            rd(4),
            rd(0x10),
            Access {
                write: true,
                addr: 5,
                data: 1,
                strb: 15,
            },
            Access {
                write: true,
                addr: 4,
                data: 7,
                strb: 3,
            },
            rd(4),
            wr(8, 0x1234),
            rd(8),
            wr(12, 1),
        ]);
        // (read data, the cycle of the response counted from acceptance, errors counted
        // including this access).
        assert_eq!(r[0], (0, 2, 0), "immediate write");
        assert_eq!(r[1], (0xcafe_f00d, 2, 0), "immediate read");
        assert_eq!(r[2], (0, 1 + ACK_TIMEOUT, 1), "unclaimed read times out");
        assert_eq!(r[3], (0, 2, 2), "misaligned access answers at once");
        assert_eq!(r[4], (0, 2, 3), "partial-strobe write answers at once");
        assert_eq!(r[5], (0xcafe_f00d, 2, 3), "refused writes changed nothing");
        assert_eq!(r[6], (0, 2 + DELAY, 3), "delayed write");
        assert_eq!(r[7], (0x1234, 2 + DELAY, 3), "delayed read");
        assert_eq!(r[8], (0, 2, 4), "refused at once (nak)");
    }

    #[test]
    fn error_count_follows_each_failed_access() {
        let r = run(vec![rd(0x10), wr(12, 0), rd(4), rd(8)]);
        let errs: Vec<u64> = r.iter().map(|a| a.2).collect();
        assert_eq!(errs, vec![1, 2, 2, 2]);
    }

    #[test]
    fn generates_verilog() {
        let mut uut = RegBus::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        assert!(v.contains("module top"));
    }
}
