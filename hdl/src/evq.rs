//! `EvQueue`: the state of one VI's event queue (a ring in host memory) and its registers
//! (`EVQ_*` of its VI page). The event engine holds one per VI and decides what is written;
//! this block keeps the pointers, the drop count, the arming and the watchdog.
//!
//! # Ports
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `rdata` out (see [`crate::regbus`])
//! - to the engine: `write_addr` (where the next event goes), `phase` (its phase bit),
//!   `space_ok` (a normal event fits: one slot stays reserved while an OVERFLOW is owed),
//!   `ovf_due` (an OVERFLOW is owed and fits), `drops`, `armed`, `unread` (events written and
//!   not yet consumed), `wd_due` (events sat unread past `EVQ_WATCHDOG` cycles), `enabled`
//! - from the engine (one-cycle strobes): `push` (one event written at `write_addr`), `drop`
//!   (one event could not be written), `ovf_clear` (the OVERFLOW carrying `drops` was written),
//!   `disarm`, `wd_ack` (the watchdog's wake-up was posted)
//!
//! # Contract
//! A doorbell (`EVQ_RPTR`, `EVQ_PRIME`) that would move the read count backwards or past the
//! write count is refused (not acknowledged: the bus counts an error) and changes nothing. `EVQ_SIZE`
//! accepts 0 (disabled) or `EVQ_SIZE_MIN..=EVQ_SIZE_MAX`; writing it restarts the queue.
//! `drops` saturates at 2^32-1. The watchdog fires once per doorbell: after it fired, it waits
//! for the host to return space.
//!
//! # Timing
//! Outputs are combinational from registered state; strobes and register writes take effect
//! at the next edge. The watchdog counts one per cycle while events are unread.

use crate::regbus::{word, ADDR_BITS, PAGE_BITS};
use evnic_regs::map::{vi, VI_PAGE_BASE};
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct EvQueue {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,

    pub write_addr: Signal<Out, Bits<64>>,
    pub phase: Signal<Out, Bit>,
    pub space_ok: Signal<Out, Bit>,
    pub ovf_due: Signal<Out, Bit>,
    pub drops: Signal<Out, Bits<32>>,
    pub armed: Signal<Out, Bit>,
    pub unread: Signal<Out, Bit>,
    pub wd_due: Signal<Out, Bit>,
    pub enabled: Signal<Out, Bit>,

    pub push: Signal<In, Bit>,
    pub drop: Signal<In, Bit>,
    pub ovf_clear: Signal<In, Bit>,
    pub disarm: Signal<In, Bit>,
    pub wd_ack: Signal<In, Bit>,

    base_lo: DFF<Bits<32>>,
    base_hi: DFF<Bits<32>>,
    size_log2: DFF<Bits<5>>,
    wptr: DFF<Bits<32>>,
    rptr: DFF<Bits<32>>,
    drop_count: DFF<Bits<32>>,
    ovf_pending: DFF<Bit>,
    armed_q: DFF<Bit>,
    wd_limit: DFF<Bits<32>>,
    wd_count: DFF<Bits<32>>,
    wd_fired: DFF<Bit>,

    in_page: Signal<Local, Bit>,
    word: Signal<Local, Bits<10>>,
    size: Signal<Local, Bits<32>>,
    fill: Signal<Local, Bits<32>>,
    fill_new: Signal<Local, Bits<32>>,
    doorbell_ok: Signal<Local, Bit>,
    size_ok: Signal<Local, Bit>,
    read_value: Signal<Local, Bits<32>>,
    readable: Signal<Local, Bit>,
    writable: Signal<Local, Bit>,
    write_now: Signal<Local, Bit>,

    page: Constant<Bits<PAGE_BITS>>,
    w_base_lo: Constant<Bits<10>>,
    w_base_hi: Constant<Bits<10>>,
    w_size: Constant<Bits<10>>,
    w_rptr: Constant<Bits<10>>,
    w_prime: Constant<Bits<10>>,
    w_wptr: Constant<Bits<10>>,
    w_drops: Constant<Bits<10>>,
    w_status: Constant<Bits<10>>,
    w_watchdog: Constant<Bits<10>>,
    size_min: Constant<Bits<32>>,
    size_max: Constant<Bits<32>>,
}

impl EvQueue {
    /// The queue of VI `index`.
    pub fn new(index: u32) -> EvQueue {
        EvQueue {
            clock: Default::default(),
            reset: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            write_addr: Default::default(),
            phase: Default::default(),
            space_ok: Default::default(),
            ovf_due: Default::default(),
            drops: Default::default(),
            armed: Default::default(),
            unread: Default::default(),
            wd_due: Default::default(),
            enabled: Default::default(),
            push: Default::default(),
            drop: Default::default(),
            ovf_clear: Default::default(),
            disarm: Default::default(),
            wd_ack: Default::default(),
            base_lo: Default::default(),
            base_hi: Default::default(),
            size_log2: Default::default(),
            wptr: Default::default(),
            rptr: Default::default(),
            drop_count: Default::default(),
            ovf_pending: Default::default(),
            armed_q: Default::default(),
            wd_limit: Default::default(),
            wd_count: Default::default(),
            wd_fired: Default::default(),
            in_page: Default::default(),
            word: Default::default(),
            size: Default::default(),
            fill: Default::default(),
            fill_new: Default::default(),
            doorbell_ok: Default::default(),
            size_ok: Default::default(),
            read_value: Default::default(),
            readable: Default::default(),
            writable: Default::default(),
            write_now: Default::default(),
            page: Constant::new((((VI_PAGE_BASE >> 12) + index) as u64).into()),
            w_base_lo: word(&vi::EVQ_BASE_LO),
            w_base_hi: word(&vi::EVQ_BASE_HI),
            w_size: word(&vi::EVQ_SIZE),
            w_rptr: word(&vi::EVQ_RPTR),
            w_prime: word(&vi::EVQ_PRIME),
            w_wptr: word(&vi::EVQ_WPTR),
            w_drops: word(&vi::EVQ_DROPS),
            w_status: word(&vi::EVQ_STATUS),
            w_watchdog: word(&vi::EVQ_WATCHDOG),
            size_min: Constant::new((vi::EVQ_SIZE_MIN as u64).into()),
            size_max: Constant::new((vi::EVQ_SIZE_MAX as u64).into()),
        }
    }
}

impl Logic for EvQueue {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            base_lo,
            base_hi,
            size_log2,
            wptr,
            rptr,
            drop_count,
            ovf_pending,
            armed_q,
            wd_limit,
            wd_count,
            wd_fired
        );
        // Ring geometry and fill.
        self.size.next = bits::<32>(1) << self.size_log2.q.val();
        self.fill.next = self.wptr.q.val() - self.rptr.q.val();
        self.fill_new.next = self.wptr.q.val() - self.wdata.val();
        self.enabled.next = self.size_log2.q.val() != 0;
        self.write_addr.next = ((bit_cast::<64, 32>(self.base_hi.q.val()) << 32)
            | bit_cast::<64, 32>(self.base_lo.q.val()))
            + (bit_cast::<64, 32>(self.wptr.q.val() & (self.size.val() - 1)) << 4);
        self.phase.next = !self.wptr.q.val().get_bit(self.size_log2.q.val().index());
        self.space_ok.next = (self.size_log2.q.val() != 0)
            & ((self.fill.val() + bit_cast::<32, 1>(self.ovf_pending.q.val().into()))
                < self.size.val());
        self.ovf_due.next = (self.size_log2.q.val() != 0)
            & self.ovf_pending.q.val()
            & (self.fill.val() < self.size.val());
        self.drops.next = self.drop_count.q.val();
        self.armed.next = self.armed_q.q.val();
        self.unread.next = self.fill.val() != 0;
        self.wd_due.next = (self.wd_limit.q.val() != 0)
            & !self.wd_fired.q.val()
            & (self.fill.val() != 0)
            & (self.wd_count.q.val() >= self.wd_limit.q.val());

        // Register decode.
        self.in_page.next = self.addr.val().get_bits::<PAGE_BITS>(12) == self.page.val();
        self.word.next = self.addr.val().get_bits::<10>(2);
        self.doorbell_ok.next = self.fill_new.val() <= self.fill.val();
        self.size_ok.next = (self.wdata.val() == 0)
            | ((self.wdata.val() >= self.size_min.val())
                & (self.wdata.val() <= self.size_max.val()));
        self.read_value.next = 0.into();
        self.readable.next = true;
        self.writable.next = false;
        if self.word.val() == self.w_base_lo.val() {
            self.read_value.next = self.base_lo.q.val();
            self.writable.next = true;
        } else if self.word.val() == self.w_base_hi.val() {
            self.read_value.next = self.base_hi.q.val();
            self.writable.next = true;
        } else if self.word.val() == self.w_size.val() {
            self.read_value.next = bit_cast::<32, 5>(self.size_log2.q.val());
            self.writable.next = self.size_ok.val();
        } else if self.word.val() == self.w_rptr.val() {
            self.read_value.next = self.rptr.q.val();
            self.writable.next = self.doorbell_ok.val();
        } else if self.word.val() == self.w_prime.val() {
            self.readable.next = false;
            self.writable.next = self.doorbell_ok.val();
        } else if self.word.val() == self.w_wptr.val() {
            self.read_value.next = self.wptr.q.val();
        } else if self.word.val() == self.w_drops.val() {
            self.read_value.next = self.drop_count.q.val();
        } else if self.word.val() == self.w_status.val() {
            self.read_value.next = bit_cast::<32, 1>(self.armed_q.q.val().into())
                | (bit_cast::<32, 1>(self.ovf_pending.q.val().into()) << 1)
                | (bit_cast::<32, 1>(self.enabled.val().into()) << 2);
        } else if self.word.val() == self.w_watchdog.val() {
            self.read_value.next = self.wd_limit.q.val();
            self.writable.next = true;
        } else {
            self.readable.next = false;
        }
        self.ack.next = self.in_page.val()
            & ((self.rd.val() & self.readable.val()) | (self.wr.val() & self.writable.val()));
        self.rdata.next = 0.into();
        if self.in_page.val() & self.rd.val() & self.readable.val() {
            self.rdata.next = self.read_value.val();
        }
        self.write_now.next = self.in_page.val() & self.wr.val() & self.writable.val();

        // Engine strobes.
        if self.push.val() {
            self.wptr.d.next = self.wptr.q.val() + 1;
        }
        if self.drop.val() {
            self.ovf_pending.d.next = true;
            if !self.drop_count.q.val().all() {
                self.drop_count.d.next = self.drop_count.q.val() + 1;
            }
        }
        if self.ovf_clear.val() {
            self.ovf_pending.d.next = false;
            self.drop_count.d.next = 0.into();
        }
        if self.disarm.val() {
            self.armed_q.d.next = false;
        }

        // Watchdog: counts while events are unread; fires once until the next doorbell.
        if (self.fill.val() != 0) & !self.wd_fired.q.val() & !self.wd_count.q.val().all() {
            self.wd_count.d.next = self.wd_count.q.val() + 1;
        }
        if self.fill.val() == 0 {
            self.wd_count.d.next = 0.into();
        }
        if self.wd_ack.val() {
            self.wd_fired.d.next = true;
        }

        // Register writes (after the strobes: a restart wins).
        if self.write_now.val() {
            if self.word.val() == self.w_base_lo.val() {
                self.base_lo.d.next = self.wdata.val();
            }
            if self.word.val() == self.w_base_hi.val() {
                self.base_hi.d.next = self.wdata.val();
            }
            if self.word.val() == self.w_size.val() {
                self.size_log2.d.next = self.wdata.val().get_bits::<5>(0);
                self.wptr.d.next = 0.into();
                self.rptr.d.next = 0.into();
                self.drop_count.d.next = 0.into();
                self.ovf_pending.d.next = false;
                self.armed_q.d.next = false;
                self.wd_count.d.next = 0.into();
                self.wd_fired.d.next = false;
            }
            if (self.word.val() == self.w_rptr.val()) | (self.word.val() == self.w_prime.val()) {
                self.rptr.d.next = self.wdata.val();
                self.wd_count.d.next = 0.into();
                self.wd_fired.d.next = false;
            }
            if self.word.val() == self.w_prime.val() {
                self.armed_q.d.next = true;
            }
            if self.word.val() == self.w_watchdog.val() {
                self.wd_limit.d.next = self.wdata.val();
            }
        }

        if self.reset.val() {
            self.base_lo.d.next = 0.into();
            self.base_hi.d.next = 0.into();
            self.size_log2.d.next = 0.into();
            self.wptr.d.next = 0.into();
            self.rptr.d.next = 0.into();
            self.drop_count.d.next = 0.into();
            self.ovf_pending.d.next = false;
            self.armed_q.d.next = false;
            self.wd_limit.d.next = 0.into();
            self.wd_count.d.next = 0.into();
            self.wd_fired.d.next = false;
        }
    }
}
