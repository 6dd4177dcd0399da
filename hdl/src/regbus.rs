//! BAR0 register bus: accepts one 32-bit register access at a time from the host side, hands it
//! to the register blocks for one cycle, and returns the response.
//!
//! # Ports
//! Host side (a board shell maps PCIe memory reads/writes of BAR0 onto this):
//! - `req_valid`, `req_ready` (out), `req_write`, `req_addr` (byte address, [`ADDR_BITS`] bits),
//!   `req_wdata`, `req_strb` (byte strobes of the write)
//! - `rsp_valid` (out, one-cycle pulse per request, reads and writes alike), `rsp_rdata` (out)
//!
//! Block side (every register block sees the same signals and answers combinationally):
//! - `rd`, `wr` (out): one-cycle strobes for a well-formed access (4-byte aligned, all strobes set
//!   on a write); a malformed access strobes neither
//! - `addr`, `wdata` (out): the registered request
//! - `claim` (in): OR of the blocks' claims: "this access names one of my registers and is allowed"
//! - `rdata` (in): OR of the blocks' read data (a block drives 0 unless it claims a read)
//! - `err_count`, `err_addr` (out), `err_clear` (in): the bus error counter of the global page
//!
//! # Contract
//! Every request completes: an access no block claims, a misaligned or partial-strobe access, or
//! a write to a read-only register returns `rsp_valid` like any other (reads give 0), increments
//! `err_count` (saturating) and records its address in `err_addr`. The bus never waits on a block.
//!
//! # Timing
//! A request accepted in cycle 0 (valid && ready) strobes `rd`/`wr` in cycle 1 and answers with
//! `rsp_valid` in cycle 2; `req_ready` is low in cycle 1 only, so one access completes every two
//! cycles back to back.

use rust_hdl::prelude::*;

/// Byte-address bits decoded (BAR0 size is `1 << ADDR_BITS`).
pub const ADDR_BITS: usize = evnic_regs::map::BAR_ADDR_BITS as usize;

/// A register's word index within its page (`addr[11:2]`), as the constant a block decodes it
/// with; every block takes its offsets from `evnic-regs` through this.
pub fn word(r: &evnic_regs::Reg) -> Constant<Bits<10>> {
    Constant::new((r.word() as u64).into())
}

#[derive(LogicBlock, Default)]
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
    pub claim: Signal<In, Bit>,
    pub rdata: Signal<In, Bits<32>>,
    pub err_count: Signal<Out, Bits<32>>,
    pub err_addr: Signal<Out, Bits<32>>,
    pub err_clear: Signal<In, Bit>,
    busy: DFF<Bit>,
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
}

impl Logic for RegBus {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            busy,
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
            self.r_write.d.next = self.req_write.val();
            self.r_addr.d.next = self.req_addr.val();
            self.r_wdata.d.next = self.req_wdata.val();
            self.r_good.d.next = self.well_formed.val();
        }

        // Cycle 1: strobe the blocks, collect their answer.
        self.rd.next = self.busy.q.val() & !self.r_write.q.val() & self.r_good.q.val();
        self.wr.next = self.busy.q.val() & self.r_write.q.val() & self.r_good.q.val();
        self.addr.next = self.r_addr.q.val();
        self.wdata.next = self.r_wdata.q.val();
        self.r_rsp_valid.d.next = self.busy.q.val();
        self.r_rsp_rdata.d.next = 0.into();
        if self.busy.q.val() {
            self.busy.d.next = false;
            if self.r_good.q.val() & self.claim.val() {
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

    /// Drives one access through the bus in RustHDL's simulator, with `claim` answered by a
    /// one-register device at word 1 that is read-write.
    #[derive(LogicBlock, Default)]
    struct Bench {
        clock: Signal<In, Clock>,
        reset: Signal<In, Bit>,
        bus: RegBus,
        stored: DFF<Bits<32>>,
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

    impl Logic for Bench {
        #[hdl_gen]
        fn update(&mut self) {
            dff_setup!(self, clock, stored);
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
            self.bus.claim.next = self.bus.addr.val() == 4;
            self.bus.rdata.next = 0.into();
            if (self.bus.addr.val() == 4) & self.bus.rd.val() {
                self.bus.rdata.next = self.stored.q.val();
            }
            if (self.bus.addr.val() == 4) & self.bus.wr.val() {
                self.stored.d.next = self.bus.wdata.val();
            }
        }
    }

    struct Access {
        write: bool,
        addr: u64,
        data: u64,
        strb: u64,
    }

    fn run(accesses: Vec<Access>) -> (Vec<(u64, u64)>, Vec<u64>) {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Bench>| x.clock.next = !x.clock.val());
        let n = accesses.len();
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
                // The bus is idle (ready) here, so the request is accepted at the next edge.
                assert!(x.req_ready.val());
                wait_clock_cycle!(ep, clock, x);
                x.req_valid.next = false;
                for _ in 0..4 {
                    wait_clock_cycle!(ep, clock, x);
                }
            }
            ep.done(x)
        });
        let responses = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let errs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (r2, e2) = (responses.clone(), errs.clone());
        sim.add_testbench(move |mut ep: Sim<Bench>| {
            let mut x = ep.init()?;
            for _ in 0..n * 8 + 4 {
                wait_clock_cycle!(ep, clock, x);
                if x.rsp_valid.val() {
                    r2.lock()
                        .unwrap()
                        .push((1, x.rsp_rdata.val().index() as u64));
                    e2.lock().unwrap().push(x.err_count.val().index() as u64);
                }
            }
            ep.done(x)
        });
        let mut uut = Bench::default();
        uut.connect_all();
        sim.run(Box::new(uut), 10_000).unwrap();
        let r = responses.lock().unwrap().clone();
        let e = errs.lock().unwrap().clone();
        (r, e)
    }

    #[test]
    fn write_then_read_back_and_errors_complete() {
        let (rsp, errs) = run(vec![
            Access {
                write: true,
                addr: 4,
                data: 0xcafe_f00d,
                strb: 15,
            },
            Access {
                write: false,
                addr: 4,
                data: 0,
                strb: 0,
            },
            Access {
                write: false,
                addr: 8,
                data: 0,
                strb: 0,
            },
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
            Access {
                write: false,
                addr: 4,
                data: 0,
                strb: 0,
            },
        ]);
        assert_eq!(rsp.len(), 6, "every access completes: {rsp:?}");
        assert_eq!(rsp[1].1, 0xcafe_f00d);
        assert_eq!(rsp[2].1, 0, "unmapped read returns 0");
        assert_eq!(rsp[5].1, 0xcafe_f00d, "partial-strobe write is refused");
        // err_count is sampled with the response, one cycle after it is updated.
        assert_eq!(errs, vec![0, 0, 1, 2, 3, 3]);
    }

    #[test]
    fn generates_verilog() {
        let mut uut = RegBus::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        assert!(v.contains("module top"));
    }
}
