//! `Timers`: [`NT`] timers firing TIMER events at exact cycles, one-shot or periodic with a
//! fractional period (`evnic_regs::map::timer`).
//!
//! # Ports
//! - `cycles` in: the cycle counter; firing times are absolute cycle numbers
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `rdata` out: the timer page
//! - event output `ev_valid`, `ev_ready` in, `ev_to_group`, `ev_target`, `ev_record` (packed,
//!   timestamp = the firing cycle)
//!
//! # Contract
//! Arming (a `CONTROL.ARM` write strobed in cycle t) schedules the first firing at
//! t + max(`FIRST`, 1); a periodic timer's k-th firing is at that first firing plus
//! k * (`PERIOD` + `PERIOD_FRAC`/65536) rounded down, exactly, for ever. A firing whose previous
//! TIMER event is still waiting for the multicast is counted in `MISSED`, not queued. Writing
//! `CONTROL.ARM` = 0 cancels (an event already fired still goes out).
//!
//! # Timing
//! A timer whose firing cycle is c offers its event in cycle c+1 with timestamp c; among timers
//! ready together the highest-numbered goes first.

use crate::event_pack::EventPack;
use crate::regbus::ADDR_BITS;
use evnic_regs::event::EventType;
use evnic_regs::map::timer as t;
use rust_hdl::prelude::*;

/// Number of timers.
pub const NT: usize = evnic_regs::params::NUM_TIMERS as usize;

/// One timer and its registers.
#[derive(LogicBlock)]
pub struct Timer {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub pending: Signal<Out, Bit>,
    pub taken: Signal<In, Bit>,
    pub target: Signal<Out, Bits<9>>,
    pub payload: Signal<Out, Bits<32>>,
    pub fired_at: Signal<Out, Bits<64>>,

    first: DFF<Bits<32>>,
    period: DFF<Bits<32>>,
    period_frac: DFF<Bits<16>>,
    target_q: DFF<Bits<9>>,
    payload_q: DFF<Bits<32>>,
    armed: DFF<Bit>,
    next_fire: DFF<Bits<64>>,
    frac_acc: DFF<Bits<17>>,
    pending_q: DFF<Bit>,
    fired_at_q: DFF<Bits<64>>,
    fires: DFF<Bits<32>>,
    missed: DFF<Bits<32>>,

    in_block: Signal<Local, Bit>,
    offset: Signal<Local, Bits<ADDR_BITS>>,
    fire: Signal<Local, Bit>,
    frac_sum: Signal<Local, Bits<17>>,
    first_eff: Signal<Local, Bits<32>>,
    one_shot: Signal<Local, Bit>,

    base: Constant<Bits<ADDR_BITS>>,
    stride_mask: Constant<Bits<ADDR_BITS>>,
    o_first: Constant<Bits<ADDR_BITS>>,
    o_period: Constant<Bits<ADDR_BITS>>,
    o_period_frac: Constant<Bits<ADDR_BITS>>,
    o_target: Constant<Bits<ADDR_BITS>>,
    o_payload: Constant<Bits<ADDR_BITS>>,
    o_control: Constant<Bits<ADDR_BITS>>,
    o_fires: Constant<Bits<ADDR_BITS>>,
    o_missed: Constant<Bits<ADDR_BITS>>,
}

fn c(v: u32) -> Constant<Bits<ADDR_BITS>> {
    Constant::new((v as u64).into())
}

impl Timer {
    /// Timer number `index`.
    pub fn new(index: u32) -> Timer {
        assert!(t::PAGE.stride.is_power_of_two());
        Timer {
            clock: Default::default(),
            reset: Default::default(),
            cycles: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            pending: Default::default(),
            taken: Default::default(),
            target: Default::default(),
            payload: Default::default(),
            fired_at: Default::default(),
            first: Default::default(),
            period: Default::default(),
            period_frac: Default::default(),
            target_q: Default::default(),
            payload_q: Default::default(),
            armed: Default::default(),
            next_fire: Default::default(),
            frac_acc: Default::default(),
            pending_q: Default::default(),
            fired_at_q: Default::default(),
            fires: Default::default(),
            missed: Default::default(),
            in_block: Default::default(),
            offset: Default::default(),
            fire: Default::default(),
            frac_sum: Default::default(),
            first_eff: Default::default(),
            one_shot: Default::default(),
            base: c(t::PAGE.base + index * t::PAGE.stride),
            stride_mask: c(t::PAGE.stride - 1),
            o_first: c(t::FIRST.offset),
            o_period: c(t::PERIOD.offset),
            o_period_frac: c(t::PERIOD_FRAC.offset),
            o_target: c(t::TARGET.offset),
            o_payload: c(t::PAYLOAD.offset),
            o_control: c(t::CONTROL.offset),
            o_fires: c(t::FIRES.offset),
            o_missed: c(t::MISSED.offset),
        }
    }
}

impl Logic for Timer {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            first,
            period,
            period_frac,
            target_q,
            payload_q,
            armed,
            next_fire,
            frac_acc,
            pending_q,
            fired_at_q,
            fires,
            missed
        );
        self.in_block.next = (self.addr.val() & !self.stride_mask.val()) == self.base.val();
        self.offset.next = self.addr.val() & self.stride_mask.val();
        self.ack.next = false;
        self.rdata.next = 0.into();
        if self.in_block.val() & (self.rd.val() | self.wr.val()) {
            if self.offset.val() == self.o_first.val() {
                self.ack.next = true;
                self.rdata.next = self.first.q.val();
            }
            if self.offset.val() == self.o_period.val() {
                self.ack.next = true;
                self.rdata.next = self.period.q.val();
            }
            if self.offset.val() == self.o_period_frac.val() {
                self.ack.next = true;
                self.rdata.next = bit_cast::<32, 16>(self.period_frac.q.val());
            }
            if self.offset.val() == self.o_target.val() {
                self.ack.next = true;
                self.rdata.next = bit_cast::<32, 9>(self.target_q.q.val());
            }
            if self.offset.val() == self.o_payload.val() {
                self.ack.next = true;
                self.rdata.next = self.payload_q.q.val();
            }
            if self.offset.val() == self.o_control.val() {
                self.ack.next = true;
                self.rdata.next = bit_cast::<32, 1>(self.armed.q.val().into());
            }
            if self.rd.val() & (self.offset.val() == self.o_fires.val()) {
                self.ack.next = true;
                self.rdata.next = self.fires.q.val();
            }
            if self.rd.val() & (self.offset.val() == self.o_missed.val()) {
                self.ack.next = true;
                self.rdata.next = self.missed.q.val();
            }
        }
        if !self.rd.val() {
            self.rdata.next = 0.into();
        }

        // Firing.
        self.fire.next = self.armed.q.val() & (self.cycles.val() >= self.next_fire.q.val());
        self.frac_sum.next = self.frac_acc.q.val() + bit_cast::<17, 16>(self.period_frac.q.val());
        self.one_shot.next = (self.period.q.val() == 0) & (self.period_frac.q.val() == 0);
        if self.fire.val() {
            self.fires.d.next = self.fires.q.val() + 1;
            if self.pending_q.q.val() & !self.taken.val() {
                self.missed.d.next = self.missed.q.val() + 1;
            } else {
                self.fired_at_q.d.next = self.next_fire.q.val();
            }
            if self.one_shot.val() {
                self.armed.d.next = false;
            } else {
                self.next_fire.d.next = self.next_fire.q.val()
                    + bit_cast::<64, 32>(self.period.q.val())
                    + bit_cast::<64, 1>(self.frac_sum.val().get_bit(16).into());
                self.frac_acc.d.next = bit_cast::<17, 16>(self.frac_sum.val().get_bits::<16>(0));
            }
        }
        if self.taken.val() {
            self.pending_q.d.next = false;
        }
        if self.fire.val() {
            self.pending_q.d.next = true;
        }
        self.pending.next = self.pending_q.q.val();
        self.target.next = self.target_q.q.val();
        self.payload.next = self.payload_q.q.val();
        self.fired_at.next = self.fired_at_q.q.val();

        // Register writes.
        if self.first.q.val() == 0 {
            self.first_eff.next = 1.into();
        } else {
            self.first_eff.next = self.first.q.val();
        }
        if self.in_block.val() & self.wr.val() {
            if self.offset.val() == self.o_first.val() {
                self.first.d.next = self.wdata.val();
            }
            if self.offset.val() == self.o_period.val() {
                self.period.d.next = self.wdata.val();
            }
            if self.offset.val() == self.o_period_frac.val() {
                self.period_frac.d.next = self.wdata.val().get_bits::<16>(0);
            }
            if self.offset.val() == self.o_target.val() {
                self.target_q.d.next = self.wdata.val().get_bits::<9>(0);
            }
            if self.offset.val() == self.o_payload.val() {
                self.payload_q.d.next = self.wdata.val();
            }
            if self.offset.val() == self.o_control.val() {
                self.armed.d.next = self.wdata.val().get_bit(0);
                self.next_fire.d.next =
                    self.cycles.val() + bit_cast::<64, 32>(self.first_eff.val());
                self.frac_acc.d.next = 0.into();
                self.fires.d.next = 0.into();
                self.missed.d.next = 0.into();
            }
        }

        if self.reset.val() {
            self.first.d.next = 0.into();
            self.period.d.next = 0.into();
            self.period_frac.d.next = 0.into();
            self.target_q.d.next = 0.into();
            self.payload_q.d.next = 0.into();
            self.armed.d.next = false;
            self.pending_q.d.next = false;
            self.fires.d.next = 0.into();
            self.missed.d.next = 0.into();
        }
    }
}

/// All timers and the choice of which event goes out.
#[derive(LogicBlock)]
pub struct Timers {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub ev_valid: Signal<Out, Bit>,
    pub ev_ready: Signal<In, Bit>,
    pub ev_to_group: Signal<Out, Bit>,
    pub ev_target: Signal<Out, Bits<8>>,
    pub ev_record: Signal<Out, Bits<128>>,
    pub timers: [Timer; NT],
    pack: EventPack,
    sel: Signal<Local, Bits<8>>,
    sel_target: Signal<Local, Bits<9>>,
    sel_payload: Signal<Local, Bits<32>>,
    sel_at: Signal<Local, Bits<64>>,
    k_timer: Constant<Bits<4>>,
    index: [Constant<Bits<8>>; NT],
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            clock: Default::default(),
            reset: Default::default(),
            cycles: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            ev_valid: Default::default(),
            ev_ready: Default::default(),
            ev_to_group: Default::default(),
            ev_target: Default::default(),
            ev_record: Default::default(),
            timers: array_init::array_init(|i| Timer::new(i as u32)),
            pack: Default::default(),
            sel: Default::default(),
            sel_target: Default::default(),
            sel_payload: Default::default(),
            sel_at: Default::default(),
            k_timer: Constant::new((EventType::Timer as u64).into()),
            index: array_init::array_init(|i| Constant::new((i as u64).into())),
        }
    }
}

impl Logic for Timers {
    #[hdl_gen]
    fn update(&mut self) {
        self.ack.next = false;
        self.rdata.next = 0.into();
        self.ev_valid.next = false;
        self.sel.next = 0.into();
        self.sel_target.next = 0.into();
        self.sel_payload.next = 0.into();
        self.sel_at.next = 0.into();
        for i in 0..NT {
            self.timers[i].clock.next = self.clock.val();
            self.timers[i].reset.next = self.reset.val();
            self.timers[i].cycles.next = self.cycles.val();
            self.timers[i].rd.next = self.rd.val();
            self.timers[i].wr.next = self.wr.val();
            self.timers[i].addr.next = self.addr.val();
            self.timers[i].wdata.next = self.wdata.val();
            if self.timers[i].ack.val() {
                self.ack.next = true;
                self.rdata.next = self.timers[i].rdata.val();
            }
            if self.timers[i].pending.val() {
                self.ev_valid.next = true;
                self.sel.next = self.index[i].val();
                self.sel_target.next = self.timers[i].target.val();
                self.sel_payload.next = self.timers[i].payload.val();
                self.sel_at.next = self.timers[i].fired_at.val();
            }
        }
        for i in 0..NT {
            self.timers[i].taken.next =
                self.ev_ready.val() & (self.sel.val().index() == i) & self.timers[i].pending.val();
        }
        self.ev_to_group.next = self.sel_target.val().get_bit(8);
        self.ev_target.next = self.sel_target.val().get_bits::<8>(0);
        self.pack.kind.next = self.k_timer.val();
        self.pack.flags.next = 0.into();
        self.pack.source.next = bit_cast::<16, 8>(self.sel.val());
        self.pack.has_group.next = self.sel_target.val().get_bit(8);
        self.pack.group.next = self.sel_target.val().get_bits::<8>(0);
        self.pack.payload.next = self.sel_payload.val();
        self.pack.aux.next = 0.into();
        self.pack.timestamp.next = self.sel_at.val();
        self.ev_record.next = self.pack.record.val();
    }
}
