//! `ShellRegs`: the shell page of BAR0 (`evnic_regs::map::shell`): the link status, the
//! completion timeout setting and the shell's error and MSI-X counters.
//!
//! # Ports
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | | rising edge; synchronous active-high reset |
//! | `rd`, `wr` | in | 1 | one-cycle strobes of an access to this page (writes have all strobes) |
//! | `addr`, `wdata` | in | 12, 32 | byte offset within the page, write data |
//! | `rdata` | out | 32 | read data, combinational in the `rd` cycle (0 for unmapped offsets) |
//! | `link_up`, `bus_master`, `msix_enabled`, `msix_masked` | in | 1 | `SHELL_STATUS` bits |
//! | `cpl_timeout` | out | 32 | the `CPL_TIMEOUT` register |
//! | `ev_timeout_a`, `ev_timeout_b`, `ev_error`, `ev_poisoned`, `ev_unexpected`, `ev_unsupported`, `ev_msix_sent`, `ev_msix_failed` | in | 1 | one-cycle pulses counted into the counters (`CPL_TIMEOUTS` counts both timeout inputs) |
//!
//! # Contract
//! Counters saturate at 2^32 - 1. A write of any value to a counter clears it; an event in the
//! same cycle is counted after the clear, so none is lost. Writes to the status register and
//! to unmapped offsets are ignored.
//!
//! # Timing
//! Combinational read data in the strobe cycle; writes and counts take effect the next cycle.

use crate::regbus::word;
use evnic_regs::map::shell as s;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct ShellRegs {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<12>>,
    pub wdata: Signal<In, Bits<32>>,
    pub rdata: Signal<Out, Bits<32>>,
    pub link_up: Signal<In, Bit>,
    pub bus_master: Signal<In, Bit>,
    pub msix_enabled: Signal<In, Bit>,
    pub msix_masked: Signal<In, Bit>,
    pub cpl_timeout: Signal<Out, Bits<32>>,
    pub ev_timeout_a: Signal<In, Bit>,
    pub ev_timeout_b: Signal<In, Bit>,
    pub ev_error: Signal<In, Bit>,
    pub ev_poisoned: Signal<In, Bit>,
    pub ev_unexpected: Signal<In, Bit>,
    pub ev_unsupported: Signal<In, Bit>,
    pub ev_msix_sent: Signal<In, Bit>,
    pub ev_msix_failed: Signal<In, Bit>,

    timeout_q: DFF<Bits<32>>,
    timeouts: DFF<Bits<32>>,
    errors: DFF<Bits<32>>,
    poisoned: DFF<Bits<32>>,
    unexpected: DFF<Bits<32>>,
    unsupported: DFF<Bits<32>>,
    msix_sent: DFF<Bits<32>>,
    msix_failed: DFF<Bits<32>>,
    word: Signal<Local, Bits<10>>,
    status: Signal<Local, Bits<32>>,
    timeout_step: Signal<Local, Bits<32>>,
    w_status: Constant<Bits<10>>,
    w_cpl_timeout: Constant<Bits<10>>,
    w_timeouts: Constant<Bits<10>>,
    w_errors: Constant<Bits<10>>,
    w_poisoned: Constant<Bits<10>>,
    w_unexpected: Constant<Bits<10>>,
    w_unsupported: Constant<Bits<10>>,
    w_msix_sent: Constant<Bits<10>>,
    w_msix_failed: Constant<Bits<10>>,
    timeout_reset: Constant<Bits<32>>,
    b_link_up: Constant<Bits<32>>,
    b_bus_master: Constant<Bits<32>>,
    b_msix_enabled: Constant<Bits<32>>,
    b_msix_masked: Constant<Bits<32>>,
}

fn bit(f: &evnic_regs::Field) -> Constant<Bits<32>> {
    Constant::new((f.mask() as u64).into())
}

impl Default for ShellRegs {
    fn default() -> Self {
        ShellRegs {
            clock: Default::default(),
            reset: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            rdata: Default::default(),
            link_up: Default::default(),
            bus_master: Default::default(),
            msix_enabled: Default::default(),
            msix_masked: Default::default(),
            cpl_timeout: Default::default(),
            ev_timeout_a: Default::default(),
            ev_timeout_b: Default::default(),
            ev_error: Default::default(),
            ev_poisoned: Default::default(),
            ev_unexpected: Default::default(),
            ev_unsupported: Default::default(),
            ev_msix_sent: Default::default(),
            ev_msix_failed: Default::default(),
            timeout_q: Default::default(),
            timeouts: Default::default(),
            errors: Default::default(),
            poisoned: Default::default(),
            unexpected: Default::default(),
            unsupported: Default::default(),
            msix_sent: Default::default(),
            msix_failed: Default::default(),
            word: Default::default(),
            status: Default::default(),
            timeout_step: Default::default(),
            w_status: word(&s::STATUS),
            w_cpl_timeout: word(&s::CPL_TIMEOUT),
            w_timeouts: word(&s::CPL_TIMEOUTS),
            w_errors: word(&s::CPL_ERRORS),
            w_poisoned: word(&s::CPL_POISONED),
            w_unexpected: word(&s::CPL_UNEXPECTED),
            w_unsupported: word(&s::UNSUPPORTED),
            w_msix_sent: word(&s::MSIX_SENT),
            w_msix_failed: word(&s::MSIX_FAILED),
            timeout_reset: Constant::new((s::CPL_TIMEOUT.reset as u64).into()),
            b_link_up: bit(&s::STATUS_LINK_UP),
            b_bus_master: bit(&s::STATUS_BUS_MASTER),
            b_msix_enabled: bit(&s::STATUS_MSIX_ENABLED),
            b_msix_masked: bit(&s::STATUS_MSIX_MASKED),
        }
    }
}

impl Logic for ShellRegs {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            timeout_q,
            timeouts,
            errors,
            poisoned,
            unexpected,
            unsupported,
            msix_sent,
            msix_failed
        );
        self.word.next = self.addr.val().get_bits::<10>(2);
        self.status.next = 0.into();
        if self.link_up.val() {
            self.status.next = self.status.val() | self.b_link_up.val();
        }
        if self.bus_master.val() {
            self.status.next = self.status.val() | self.b_bus_master.val();
        }
        if self.msix_enabled.val() {
            self.status.next = self.status.val() | self.b_msix_enabled.val();
        }
        if self.msix_masked.val() {
            self.status.next = self.status.val() | self.b_msix_masked.val();
        }

        self.rdata.next = 0.into();
        if self.rd.val() {
            if self.word.val() == self.w_status.val() {
                self.rdata.next = self.status.val();
            } else if self.word.val() == self.w_cpl_timeout.val() {
                self.rdata.next = self.timeout_q.q.val();
            } else if self.word.val() == self.w_timeouts.val() {
                self.rdata.next = self.timeouts.q.val();
            } else if self.word.val() == self.w_errors.val() {
                self.rdata.next = self.errors.q.val();
            } else if self.word.val() == self.w_poisoned.val() {
                self.rdata.next = self.poisoned.q.val();
            } else if self.word.val() == self.w_unexpected.val() {
                self.rdata.next = self.unexpected.q.val();
            } else if self.word.val() == self.w_unsupported.val() {
                self.rdata.next = self.unsupported.q.val();
            } else if self.word.val() == self.w_msix_sent.val() {
                self.rdata.next = self.msix_sent.q.val();
            } else if self.word.val() == self.w_msix_failed.val() {
                self.rdata.next = self.msix_failed.q.val();
            }
        }

        // Counting, saturating; a write clears first, then this cycle's event counts.
        self.timeout_step.next = bit_cast::<32, 1>(self.ev_timeout_a.val().into())
            + bit_cast::<32, 1>(self.ev_timeout_b.val().into());
        if self.wr.val() & (self.word.val() == self.w_timeouts.val()) {
            self.timeouts.d.next = self.timeout_step.val();
        } else if self.timeouts.q.val() < (!bits::<32>(0) - self.timeout_step.val()) {
            self.timeouts.d.next = self.timeouts.q.val() + self.timeout_step.val();
        } else {
            self.timeouts.d.next = !bits::<32>(0);
        }
        if self.wr.val() & (self.word.val() == self.w_errors.val()) {
            self.errors.d.next = bit_cast::<32, 1>(self.ev_error.val().into());
        } else if self.ev_error.val() & !self.errors.q.val().all() {
            self.errors.d.next = self.errors.q.val() + 1;
        }
        if self.wr.val() & (self.word.val() == self.w_poisoned.val()) {
            self.poisoned.d.next = bit_cast::<32, 1>(self.ev_poisoned.val().into());
        } else if self.ev_poisoned.val() & !self.poisoned.q.val().all() {
            self.poisoned.d.next = self.poisoned.q.val() + 1;
        }
        if self.wr.val() & (self.word.val() == self.w_unexpected.val()) {
            self.unexpected.d.next = bit_cast::<32, 1>(self.ev_unexpected.val().into());
        } else if self.ev_unexpected.val() & !self.unexpected.q.val().all() {
            self.unexpected.d.next = self.unexpected.q.val() + 1;
        }
        if self.wr.val() & (self.word.val() == self.w_unsupported.val()) {
            self.unsupported.d.next = bit_cast::<32, 1>(self.ev_unsupported.val().into());
        } else if self.ev_unsupported.val() & !self.unsupported.q.val().all() {
            self.unsupported.d.next = self.unsupported.q.val() + 1;
        }
        if self.wr.val() & (self.word.val() == self.w_msix_sent.val()) {
            self.msix_sent.d.next = bit_cast::<32, 1>(self.ev_msix_sent.val().into());
        } else if self.ev_msix_sent.val() & !self.msix_sent.q.val().all() {
            self.msix_sent.d.next = self.msix_sent.q.val() + 1;
        }
        if self.wr.val() & (self.word.val() == self.w_msix_failed.val()) {
            self.msix_failed.d.next = bit_cast::<32, 1>(self.ev_msix_failed.val().into());
        } else if self.ev_msix_failed.val() & !self.msix_failed.q.val().all() {
            self.msix_failed.d.next = self.msix_failed.q.val() + 1;
        }
        if self.wr.val() & (self.word.val() == self.w_cpl_timeout.val()) {
            self.timeout_q.d.next = self.wdata.val();
        }
        self.cpl_timeout.next = self.timeout_q.q.val();

        if self.reset.val() {
            self.timeout_q.d.next = self.timeout_reset.val();
            self.timeouts.d.next = 0.into();
            self.errors.d.next = 0.into();
            self.poisoned.d.next = 0.into();
            self.unexpected.d.next = 0.into();
            self.unsupported.d.next = 0.into();
            self.msix_sent.d.next = 0.into();
            self.msix_failed.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::testutil::{settle, tick};

    fn read(u: &mut ShellRegs, r: &evnic_regs::Reg) -> u32 {
        u.rd.next = true;
        u.addr.next = (r.offset as u64).into();
        settle(u);
        let v = u.rdata.val().to_u64() as u32;
        tick!(*u);
        u.rd.next = false;
        v
    }

    #[test]
    fn counters_count_clear_and_never_lose_an_event() {
        let mut u = ShellRegs::default();
        u.connect_all();
        u.reset.next = true;
        tick!(u);
        u.reset.next = false;
        assert_eq!(read(&mut u, &s::CPL_TIMEOUT), s::CPL_TIMEOUT_RESET);
        for _ in 0..3 {
            u.ev_error.next = true;
            u.ev_timeout_a.next = true;
            u.ev_timeout_b.next = true;
            u.ev_msix_sent.next = true;
            tick!(u);
        }
        u.ev_error.next = false;
        u.ev_timeout_a.next = false;
        u.ev_timeout_b.next = false;
        u.ev_msix_sent.next = false;
        assert_eq!(read(&mut u, &s::CPL_ERRORS), 3);
        assert_eq!(
            read(&mut u, &s::CPL_TIMEOUTS),
            6,
            "both timeout inputs count"
        );
        assert_eq!(read(&mut u, &s::MSIX_SENT), 3);
        assert_eq!(read(&mut u, &s::CPL_POISONED), 0);
        // A clear with an event in the same cycle keeps the event.
        u.wr.next = true;
        u.addr.next = (s::CPL_ERRORS.offset as u64).into();
        u.ev_error.next = true;
        tick!(u);
        u.wr.next = false;
        u.ev_error.next = false;
        assert_eq!(read(&mut u, &s::CPL_ERRORS), 1);
        // The timeout setting, and status bits.
        u.wr.next = true;
        u.addr.next = (s::CPL_TIMEOUT.offset as u64).into();
        u.wdata.next = 1234.into();
        tick!(u);
        u.wr.next = false;
        settle(&mut u);
        assert_eq!(u.cpl_timeout.val().to_u64(), 1234);
        u.link_up.next = true;
        u.msix_enabled.next = true;
        assert_eq!(
            read(&mut u, &s::STATUS),
            s::STATUS_LINK_UP.mask() | s::STATUS_MSIX_ENABLED.mask()
        );
        u.rd.next = true;
        u.addr.next = 0xffc.into();
        settle(&mut u);
        assert_eq!(u.rdata.val().to_u64(), 0, "unmapped offsets read 0");
    }

    #[test]
    fn generates_verilog() {
        let mut u = ShellRegs::default();
        u.connect_all();
        crate::crc::tests::verilator_lint("shell_regs", &generate_verilog(&u));
    }
}
