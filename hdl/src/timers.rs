//! `Timers`: up to 2^TB timers firing TIMER events at exact cycles, one-shot or periodic with a
//! fractional period (`evnic_regs::map::timer`), their state held in RAM and found due by a
//! scanner that visits two timers per cycle.
//!
//! # Ports
//! - `cycles` in: the cycle counter; firing times are absolute cycle numbers
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `nak`, `rdata` out: the timer pages
//! - event output `ev_valid`, `ev_ready` in, `ev_to_group`, `ev_target`, `ev_record` (packed,
//!   timestamp = the programmed firing cycle)
//! - `ram_collision` out: OR of the RAMs' collision flags (never set; see [`crate::ram`])
//!
//! # State in RAM
//! Timers are split into two banks (even and odd numbers), each a [`TimerBank`]: one 180-bit
//! state word per timer (armed, next firing cycle, fraction accumulator, period and fraction,
//! FIRES, MISSED, and the bookkeeping of its waiting event) and a queue of found events. The
//! parent holds `FIRST`, `TARGET` and `PAYLOAD` in three RAMs and a "written since reset" bit per
//! timer (16 words deep, so that it clears in 16 cycles after reset): a timer whose bit is clear
//! reads as all zeros, so the other RAMs need no clearing.
//!
//! # Contract
//! Arming (a `CONTROL.ARM` write strobed in cycle t) schedules the first firing at
//! t + max(`FIRST`, 1); a periodic timer's k-th firing is at that first firing plus
//! k * (`PERIOD` + `PERIOD_FRAC`/65536) rounded down, exactly, for ever. `PERIOD` = 0 makes the
//! timer one-shot; a `PERIOD` write of 1..`MIN_PERIOD`-1 is refused (`nak`). Every TIMER event
//! carries its programmed firing cycle as timestamp, however late it is delivered. A firing
//! whose previous TIMER event is still waiting (queued, or offered and not yet taken; a take
//! counts from the cycle after it) is counted in `MISSED`, not queued. Writing `CONTROL.ARM` =
//! 0 cancels (an event already found still goes out). Writes of `FIRES` and `MISSED` are
//! refused.
//!
//! # Timing
//! - The scanner reads one timer of each bank per cycle and finds a timer due at most `NT/2`
//!   cycles after its firing cycle, plus the cycles it pauses for register accesses to the
//!   timer pages in that time (the strobe cycle of each; the next cycle of a write only when
//!   the scanner would read the state word or "written" word that write stores); the event is
//!   offered 2 cycles after it is found. So a TIMER event is offered at most `NT/2 + 1` cycles
//!   after its firing cycle (129 at 256 timers) while the bus leaves the timer pages alone;
//!   with timer-page accesses back to back (one every 3 cycles, the fastest the bus goes) the
//!   scanner runs 2 cycles in 3 and the bound is about `3 * NT/4 + 1` (198 measured at 256
//!   timers with writes). Later only when several fire in the same window (one event every
//!   two cycles goes out: the next is chosen once the output is empty, so that the
//!   multicast's `ev_ready` ends at flip-flops) or the multicast is busy. Among found events
//!   the earliest firing goes first.
//! - Register accesses answer one cycle after the strobe (two when the scanner is writing the
//!   same timer's state in the strobe cycle); in the 16 cycles after reset an access waits.
//!
//! # What changed from the flip-flop version
//! State moved from per-timer flip-flops and comparators to RAM and a scanner: events are
//! offered up to `NT/2 + 1` cycles after the firing cycle (was 1) with the exact timestamp as
//! before; the period has a minimum (`MIN_PERIOD`) and `PERIOD` = 0 alone makes a one-shot
//! (`PERIOD_FRAC` is ignored then); register accesses answer one cycle later; the order among
//! timers firing together is earliest-first (was highest-numbered first); bad writes are `nak`s.
//! Later, for the core's clock: one event every two cycles (was one per cycle), the take
//! counted a cycle later; `ev_ready` no longer reaches the choice of the next event.

use crate::event_pack::EventPack;
use crate::multicast::index_bits;
use crate::ram::{ClearedRam, Ram};
use crate::ram_fifo::RamFifo;
use crate::regbus::ADDR_BITS;
use evnic_regs::event::EventType;
use evnic_regs::map::timer as t;
use rust_hdl::prelude::*;

/// Bits of a timer state word (see [`TimerBank`]).
pub const STATE_BITS: usize = 180;

const CORE_TB: usize = index_bits(evnic_regs::params::NUM_TIMERS);

/// The timers at the core's parameters.
pub type CoreTimers =
    Timers<CORE_TB, { CORE_TB - 1 }, { CORE_TB - 1 + 40 }, { 1 << (CORE_TB - 4) }>;

/// One bank of timers: their state words in a RAM, read once per cycle (a scanner visit or a
/// register access chosen by the parent), and the queue of events found.
///
/// # Ports
/// - `now` in: the low 40 bits of the cycle counter
/// - stage 0: `rd_en`, `rd_addr` in: read a timer's state
/// - stage 1 (the next cycle), about the timer read: `s1_visit` (a scanner visit) or `s1_reg`
///   (a register access: `reg_write`, `reg_sel` = register word within the timer, `wdata`,
///   `arm_nf` = the first firing cycle if it arms), `s1_valid` (the timer was written since
///   reset; else its state reads as zeros); `reg_rdata` out
/// - `writing` out: the state RAM is written this cycle (at the address read the cycle before)
/// - found events: `head_valid`, `head_addr`, `head_ts` out, `pop` in; `taken` in: one of this
///   bank's events was taken by the multicast (in the cycle before; it stops counting as
///   waiting)
///
/// # State word
/// armed [0], next firing [40:1], fraction accumulator [56:41], period [88:57], period fraction
/// [104:89], fires [136:105], missed [168:137], an event waiting [169], its push number
/// [179:170]. An event is still waiting while fewer events of the bank have been taken than
/// had been pushed before it (10-bit counters; a visit clears the flag once it is taken, so the
/// counters never wrap past it).
#[derive(LogicBlock)]
pub struct TimerBank<const HB: usize, const EW: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub now: Signal<In, Bits<40>>,
    pub rd_en: Signal<In, Bit>,
    pub rd_addr: Signal<In, Bits<HB>>,
    pub s1_visit: Signal<In, Bit>,
    pub s1_reg: Signal<In, Bit>,
    pub s1_valid: Signal<In, Bit>,
    pub reg_write: Signal<In, Bit>,
    pub reg_sel: Signal<In, Bits<3>>,
    pub wdata: Signal<In, Bits<32>>,
    pub arm_nf: Signal<In, Bits<40>>,
    pub reg_rdata: Signal<Out, Bits<32>>,
    pub writing: Signal<Out, Bit>,
    pub head_valid: Signal<Out, Bit>,
    pub head_addr: Signal<Out, Bits<HB>>,
    pub head_ts: Signal<Out, Bits<40>>,
    pub pop: Signal<In, Bit>,
    pub taken: Signal<In, Bit>,
    pub collision: Signal<Out, Bit>,

    state: Ram<Bits<STATE_BITS>, HB>,
    found: RamFifo<EW, HB>,
    s1_addr: DFF<Bits<HB>>,
    pushes: DFF<Bits<10>>,
    takes: DFF<Bits<10>>,

    old: Signal<Local, Bits<STATE_BITS>>,
    armed: Signal<Local, Bit>,
    nf: Signal<Local, Bits<40>>,
    facc: Signal<Local, Bits<16>>,
    period: Signal<Local, Bits<32>>,
    pfrac: Signal<Local, Bits<16>>,
    fires: Signal<Local, Bits<32>>,
    missed: Signal<Local, Bits<32>>,
    pend: Signal<Local, Bit>,
    pseq: Signal<Local, Bits<10>>,
    late: Signal<Local, Bits<40>>,
    due: Signal<Local, Bit>,
    takes_now: Signal<Local, Bits<10>>,
    ahead: Signal<Local, Bits<10>>,
    queued: Signal<Local, Bits<10>>,
    waiting: Signal<Local, Bit>,
    frac_sum: Signal<Local, Bits<17>>,
    n_armed: Signal<Local, Bit>,
    n_nf: Signal<Local, Bits<40>>,
    n_facc: Signal<Local, Bits<16>>,
    n_period: Signal<Local, Bits<32>>,
    n_pfrac: Signal<Local, Bits<16>>,
    n_fires: Signal<Local, Bits<32>>,
    n_missed: Signal<Local, Bits<32>>,
    n_pend: Signal<Local, Bit>,
    n_pseq: Signal<Local, Bits<10>>,
    write: Signal<Local, Bit>,
    push: Signal<Local, Bit>,
}

impl<const HB: usize, const EW: usize> Default for TimerBank<HB, EW> {
    fn default() -> Self {
        assert_eq!(EW, HB + 40);
        assert!(
            HB <= 9,
            "the 10-bit push counters cover up to 512 timers a bank"
        );
        TimerBank {
            clock: Default::default(),
            reset: Default::default(),
            now: Default::default(),
            rd_en: Default::default(),
            rd_addr: Default::default(),
            s1_visit: Default::default(),
            s1_reg: Default::default(),
            s1_valid: Default::default(),
            reg_write: Default::default(),
            reg_sel: Default::default(),
            wdata: Default::default(),
            arm_nf: Default::default(),
            reg_rdata: Default::default(),
            writing: Default::default(),
            head_valid: Default::default(),
            head_addr: Default::default(),
            head_ts: Default::default(),
            pop: Default::default(),
            taken: Default::default(),
            collision: Default::default(),
            state: Default::default(),
            found: Default::default(),
            s1_addr: Default::default(),
            pushes: Default::default(),
            takes: Default::default(),
            old: Default::default(),
            armed: Default::default(),
            nf: Default::default(),
            facc: Default::default(),
            period: Default::default(),
            pfrac: Default::default(),
            fires: Default::default(),
            missed: Default::default(),
            pend: Default::default(),
            pseq: Default::default(),
            late: Default::default(),
            due: Default::default(),
            takes_now: Default::default(),
            ahead: Default::default(),
            queued: Default::default(),
            waiting: Default::default(),
            frac_sum: Default::default(),
            n_armed: Default::default(),
            n_nf: Default::default(),
            n_facc: Default::default(),
            n_period: Default::default(),
            n_pfrac: Default::default(),
            n_fires: Default::default(),
            n_missed: Default::default(),
            n_pend: Default::default(),
            n_pseq: Default::default(),
            write: Default::default(),
            push: Default::default(),
        }
    }
}

impl<const HB: usize, const EW: usize> Logic for TimerBank<HB, EW> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, s1_addr, pushes, takes);
        self.state.clock.next = self.clock.val();
        self.found.clock.next = self.clock.val();
        self.found.reset.next = self.reset.val();
        self.collision.next = self.state.collision.val() | self.found.collision.val();
        self.state.rd_en.next = self.rd_en.val();
        self.state.rd_addr.next = self.rd_addr.val();
        if self.rd_en.val() {
            self.s1_addr.d.next = self.rd_addr.val();
        }

        // Stage 1: the state read last cycle (zeros for a timer not written since reset).
        self.old.next = 0.into();
        if self.s1_valid.val() {
            self.old.next = self.state.rd_data.val();
        }
        self.armed.next = self.old.val().get_bit(0);
        self.nf.next = self.old.val().get_bits::<40>(1);
        self.facc.next = self.old.val().get_bits::<16>(41);
        self.period.next = self.old.val().get_bits::<32>(57);
        self.pfrac.next = self.old.val().get_bits::<16>(89);
        self.fires.next = self.old.val().get_bits::<32>(105);
        self.missed.next = self.old.val().get_bits::<32>(137);
        self.pend.next = self.old.val().get_bit(169);
        self.pseq.next = self.old.val().get_bits::<10>(170);
        // Due once the counter has reached the firing cycle (40-bit wrapping difference).
        self.late.next = self.now.val() - self.nf.val();
        self.due.next = self.armed.val() & !self.late.val().get_bit(39);
        // Its last event still waits while the bank's takes (this cycle's included) have not
        // reached it.
        self.takes_now.next = self.takes.q.val();
        if self.taken.val() {
            self.takes_now.next = self.takes.q.val() + 1;
        }
        self.ahead.next = self.pseq.val() - self.takes_now.val();
        self.queued.next = self.pushes.q.val() - self.takes_now.val();
        self.waiting.next = self.pend.val() & (self.ahead.val() < self.queued.val());
        self.frac_sum.next =
            bit_cast::<17, 16>(self.facc.val()) + bit_cast::<17, 16>(self.pfrac.val());

        self.n_armed.next = self.armed.val();
        self.n_nf.next = self.nf.val();
        self.n_facc.next = self.facc.val();
        self.n_period.next = self.period.val();
        self.n_pfrac.next = self.pfrac.val();
        self.n_fires.next = self.fires.val();
        self.n_missed.next = self.missed.val();
        self.n_pend.next = self.pend.val() & self.waiting.val();
        self.n_pseq.next = self.pseq.val();
        self.write.next = false;
        self.push.next = false;
        if self.s1_visit.val() {
            // A waiting flag whose event was taken is cleared at the next visit.
            self.write.next = self.pend.val() & !self.waiting.val();
            if self.due.val() & (self.waiting.val() | self.found.room.val()) {
                self.write.next = true;
                self.n_fires.next = self.fires.val() + 1;
                if self.waiting.val() {
                    self.n_missed.next = self.missed.val() + 1;
                } else {
                    self.push.next = true;
                    self.n_pend.next = true;
                    self.n_pseq.next = self.pushes.q.val();
                }
                if self.period.val() == 0 {
                    self.n_armed.next = false;
                } else {
                    self.n_nf.next = self.nf.val()
                        + bit_cast::<40, 32>(self.period.val())
                        + bit_cast::<40, 1>(self.frac_sum.val().get_bit(16).into());
                    self.n_facc.next = self.frac_sum.val().get_bits::<16>(0);
                }
            }
        }
        // Register accesses: PERIOD (1), PERIOD_FRAC (2), CONTROL (5), FIRES (6), MISSED (7).
        self.reg_rdata.next = 0.into();
        if self.reg_sel.val() == 1 {
            self.reg_rdata.next = self.period.val();
        }
        if self.reg_sel.val() == 2 {
            self.reg_rdata.next = bit_cast::<32, 16>(self.pfrac.val());
        }
        if self.reg_sel.val() == 5 {
            self.reg_rdata.next = bit_cast::<32, 1>(self.armed.val().into());
        }
        if self.reg_sel.val() == 6 {
            self.reg_rdata.next = self.fires.val();
        }
        if self.reg_sel.val() == 7 {
            self.reg_rdata.next = self.missed.val();
        }
        if self.s1_reg.val() & self.reg_write.val() {
            // Any write stores the whole word (a timer written the first time starts zeroed).
            self.write.next = true;
            if self.reg_sel.val() == 1 {
                self.n_period.next = self.wdata.val();
            }
            if self.reg_sel.val() == 2 {
                self.n_pfrac.next = self.wdata.val().get_bits::<16>(0);
            }
            if self.reg_sel.val() == 5 {
                self.n_armed.next = self.wdata.val().get_bit(0);
                self.n_nf.next = self.arm_nf.val();
                self.n_facc.next = 0.into();
                self.n_fires.next = 0.into();
                self.n_missed.next = 0.into();
            }
        }
        self.writing.next = self.write.val();
        self.state.wr_en.next = self.write.val();
        self.state.wr_addr.next = self.s1_addr.q.val();
        self.state.wr_data.next = bit_cast::<STATE_BITS, 1>(self.n_armed.val().into())
            | (bit_cast::<STATE_BITS, 40>(self.n_nf.val()) << 1)
            | (bit_cast::<STATE_BITS, 16>(self.n_facc.val()) << 41)
            | (bit_cast::<STATE_BITS, 32>(self.n_period.val()) << 57)
            | (bit_cast::<STATE_BITS, 16>(self.n_pfrac.val()) << 89)
            | (bit_cast::<STATE_BITS, 32>(self.n_fires.val()) << 105)
            | (bit_cast::<STATE_BITS, 32>(self.n_missed.val()) << 137)
            | (bit_cast::<STATE_BITS, 1>(self.n_pend.val().into()) << 169)
            | (bit_cast::<STATE_BITS, 10>(self.n_pseq.val()) << 170);

        // Found events: (firing cycle, timer within the bank).
        self.found.push_valid.next = self.push.val();
        self.found.push_data.next =
            bit_cast::<EW, 40>(self.nf.val()) | (bit_cast::<EW, HB>(self.s1_addr.q.val()) << 40);
        if self.push.val() {
            self.pushes.d.next = self.pushes.q.val() + 1;
        }
        self.takes.d.next = self.takes_now.val();
        self.head_valid.next = self.found.head_valid.val();
        self.head_ts.next = self.found.head_data.val().get_bits::<40>(0);
        self.head_addr.next = self.found.head_data.val().get_bits::<HB>(40);
        self.found.pop.next = self.pop.val();

        if self.reset.val() {
            self.pushes.d.next = 0.into();
            self.takes.d.next = 0.into();
        }
    }
}

/// All timers: two [`TimerBank`]s, the register decode, `FIRST`/`TARGET`/`PAYLOAD`, and the
/// choice of the next event. `TB`: timer index bits (`NT` <= 2^TB); `HB` = TB - 1 (a bank's
/// address); `EW` = HB + 40; `TVW` = 2^(TB-4) ("written" bits per word of their 16-word RAM).
#[derive(LogicBlock)]
pub struct Timers<const TB: usize, const HB: usize, const EW: usize, const TVW: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub nak: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub ev_valid: Signal<Out, Bit>,
    pub ev_ready: Signal<In, Bit>,
    pub ev_to_group: Signal<Out, Bit>,
    pub ev_target: Signal<Out, Bits<8>>,
    pub ev_record: Signal<Out, Bits<128>>,
    pub ram_collision: Signal<Out, Bit>,

    banks: [TimerBank<HB, EW>; 2],
    written: ClearedRam<TVW, 4>,
    first: Ram<Bits<32>, TB>,
    target: Ram<Bits<9>, TB>,
    payload: Ram<Bits<32>, TB>,
    pack: EventPack,

    scan: DFF<Bits<HB>>,
    /// Stage 1 of the banks: a scanner visit of `s1_scan`, or the register access.
    s1_visit: DFF<Bit>,
    s1_scan: DFF<Bits<HB>>,
    op_wait: DFF<Bit>,
    op_write: DFF<Bit>,
    op_p1: DFF<Bit>,
    op_cycles: DFF<Bits<40>>,
    /// The event offered: timer, firing cycle, target and payload (the latter two are the
    /// RAMs' outputs in its first cycle, `o_c_fresh`).
    o_valid: DFF<Bit>,
    o_bank: DFF<Bit>,
    o_timer: DFF<Bits<TB>>,
    o_ts: DFF<Bits<40>>,
    o_c_fresh: DFF<Bit>,
    o_target: DFF<Bits<9>>,
    o_payload: DFF<Bits<32>>,
    /// The offered event was taken in the cycle before: the banks count takes from this
    /// register, so that the multicast's `ev_ready` ends at flip-flops here. `o_bank` still
    /// names its bank then (the next event is chosen only once the output is empty).
    took: DFF<Bit>,

    ready: Signal<Local, Bit>,
    now: Signal<Local, Bits<40>>,
    strobe: Signal<Local, Bit>,
    is_wr: Signal<Local, Bit>,
    in_page: Signal<Local, Bit>,
    offset: Signal<Local, Bits<ADDR_BITS>>,
    timer: Signal<Local, Bits<TB>>,
    timer8: Signal<Local, Bits<8>>,
    bank: Signal<Local, Bit>,
    baddr: Signal<Local, Bits<HB>>,
    sel: Signal<Local, Bits<3>>,
    in_state: Signal<Local, Bit>,
    bank_op: Signal<Local, Bit>,
    chosen: Signal<Local, Bits<TB>>,
    refuse: Signal<Local, Bit>,
    hazard: Signal<Local, Bit>,
    p0: Signal<Local, Bit>,
    w_off: Signal<Local, Bits<8>>,
    w_word: Signal<Local, Bits<4>>,
    was_written: Signal<Local, Bit>,
    first_eff: Signal<Local, Bits<32>>,
    scan_go: Signal<Local, Bit>,
    scan_clash: Signal<Local, Bit>,
    scan_word: Signal<Local, Bits<4>>,
    s1_off: Signal<Local, Bits<8>>,
    taking: Signal<Local, Bit>,
    late_diff: Signal<Local, Bits<40>>,
    pick1: Signal<Local, Bit>,
    choose: Signal<Local, Bit>,
    ev_target9: Signal<Local, Bits<9>>,
    ev_payload: Signal<Local, Bits<32>>,

    page_base: Constant<Bits<ADDR_BITS>>,
    page_end: Constant<Bits<ADDR_BITS>>,
    lane_sel: Constant<Bits<8>>,
    word_shift: Constant<Bits<8>>,
    min_period: Constant<Bits<32>>,
    k_timer: Constant<Bits<4>>,
}

impl<const TB: usize, const HB: usize, const EW: usize, const TVW: usize> Timers<TB, HB, EW, TVW> {
    /// `num_timers` timers (at most 2^TB), decoded at `evnic_regs::map::timer::PAGE`'s base.
    pub fn new(num_timers: u32) -> Self {
        assert!((5..=9).contains(&TB), "32..512 timers");
        assert!(num_timers <= 1 << TB && num_timers > 1 << (TB - 1));
        assert_eq!(HB, TB - 1);
        assert_eq!(EW, HB + 40);
        assert_eq!(TVW, 1 << (TB - 4));
        assert!(t::PAGE.stride == 32 && t::REGS.len() == 8);
        // The scanner visits every timer in NT/2 cycles; a period must not be shorter.
        assert!(1u32 << HB <= t::MIN_PERIOD / 2);
        let cadr = |v: u32| -> Constant<Bits<ADDR_BITS>> { Constant::new((v as u64).into()) };
        Timers {
            clock: Default::default(),
            reset: Default::default(),
            cycles: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
            rdata: Default::default(),
            ev_valid: Default::default(),
            ev_ready: Default::default(),
            ev_to_group: Default::default(),
            ev_target: Default::default(),
            ev_record: Default::default(),
            ram_collision: Default::default(),
            banks: array_init::array_init(|_| Default::default()),
            written: Default::default(),
            first: Default::default(),
            target: Default::default(),
            payload: Default::default(),
            pack: Default::default(),
            scan: Default::default(),
            s1_visit: Default::default(),
            s1_scan: Default::default(),
            op_wait: Default::default(),
            op_write: Default::default(),
            op_p1: Default::default(),
            op_cycles: Default::default(),
            o_valid: Default::default(),
            o_bank: Default::default(),
            o_timer: Default::default(),
            o_ts: Default::default(),
            o_c_fresh: Default::default(),
            o_target: Default::default(),
            o_payload: Default::default(),
            took: Default::default(),
            ready: Default::default(),
            now: Default::default(),
            strobe: Default::default(),
            is_wr: Default::default(),
            in_page: Default::default(),
            offset: Default::default(),
            timer: Default::default(),
            timer8: Default::default(),
            bank: Default::default(),
            baddr: Default::default(),
            sel: Default::default(),
            in_state: Default::default(),
            bank_op: Default::default(),
            chosen: Default::default(),
            refuse: Default::default(),
            hazard: Default::default(),
            p0: Default::default(),
            w_off: Default::default(),
            w_word: Default::default(),
            was_written: Default::default(),
            first_eff: Default::default(),
            scan_go: Default::default(),
            scan_clash: Default::default(),
            scan_word: Default::default(),
            s1_off: Default::default(),
            taking: Default::default(),
            late_diff: Default::default(),
            pick1: Default::default(),
            choose: Default::default(),
            ev_target9: Default::default(),
            ev_payload: Default::default(),
            page_base: cadr(t::PAGE.base),
            page_end: cadr(t::PAGE.base + num_timers * t::PAGE.stride),
            lane_sel: Constant::new(((TVW - 1) as u64).into()),
            word_shift: Constant::new(((TB - 4) as u64).into()),
            min_period: Constant::new((t::MIN_PERIOD as u64).into()),
            k_timer: Constant::new((EventType::Timer as u64).into()),
        }
    }
}

impl Default for CoreTimers {
    fn default() -> Self {
        Self::new(evnic_regs::params::NUM_TIMERS)
    }
}

impl<const TB: usize, const HB: usize, const EW: usize, const TVW: usize> Logic
    for Timers<TB, HB, EW, TVW>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, scan, s1_visit, s1_scan, op_wait, op_write, op_p1, op_cycles, o_valid,
            o_bank, o_timer, o_ts, o_c_fresh, o_target, o_payload, took
        );
        self.written.clock.next = self.clock.val();
        self.written.reset.next = self.reset.val();
        self.first.clock.next = self.clock.val();
        self.target.clock.next = self.clock.val();
        self.payload.clock.next = self.clock.val();
        self.ready.next = self.written.ready.val() & !self.reset.val();
        self.now.next = self.cycles.val().get_bits::<40>(0);
        for b in 0..2 {
            self.banks[b].clock.next = self.clock.val();
            self.banks[b].reset.next = self.reset.val();
            self.banks[b].now.next = self.now.val();
        }
        self.ram_collision.next = self.banks[0].collision.val()
            | self.banks[1].collision.val()
            | self.written.collision.val()
            | self.first.collision.val()
            | self.target.collision.val()
            | self.payload.collision.val();

        // ---- Register decode: timer = (addr - base) / 32, register word = addr[4:2].
        self.strobe.next = self.rd.val() | self.wr.val();
        self.is_wr.next = self.op_write.q.val();
        if self.strobe.val() {
            self.is_wr.next = self.wr.val();
        }
        self.in_page.next =
            (self.addr.val() >= self.page_base.val()) & (self.addr.val() < self.page_end.val());
        self.offset.next = (self.addr.val() - self.page_base.val()) >> 5;
        self.timer.next = bit_cast::<TB, ADDR_BITS>(self.offset.val());
        self.timer8.next = bit_cast::<8, TB>(self.timer.val());
        self.bank.next = self.timer.val().get_bit(0);
        self.baddr.next = bit_cast::<HB, TB>(self.timer.val() >> 1);
        self.sel.next = self.addr.val().get_bits::<3>(2);
        // PERIOD, PERIOD_FRAC, CONTROL, FIRES, MISSED live in the bank's state word.
        self.in_state.next = (self.sel.val() == 1)
            | (self.sel.val() == 2)
            | (self.sel.val() == 5)
            | (self.sel.val() == 6)
            | (self.sel.val() == 7);
        // Writes go through the bank too: a timer written the first time since reset gets a
        // zeroed state word whatever the register.
        self.bank_op.next = self.in_state.val() | self.is_wr.val();
        self.refuse.next = self.in_page.val()
            & self.wr.val()
            & ((self.sel.val() == 6)
                | (self.sel.val() == 7)
                | ((self.sel.val() == 1)
                    & (self.wdata.val() != 0)
                    & (self.wdata.val() < self.min_period.val())));
        // Its state word must not be read while its bank writes it (a visit of last cycle).
        self.hazard.next = false;
        for b in 0..2 {
            if self.banks[b].writing.val()
                & (self.s1_scan.q.val() == self.baddr.val())
                & (self.bank.val() == (b == 1))
            {
                self.hazard.next = true;
            }
        }
        self.p0.next = self.ready.val()
            & !(self.bank_op.val() & self.hazard.val())
            & (self.op_wait.q.val()
                | (self.strobe.val() & self.in_page.val() & !self.refuse.val()));
        if self.strobe.val() & self.in_page.val() & !self.refuse.val() {
            self.op_cycles.d.next = self.now.val();
            self.op_write.d.next = self.wr.val();
            if !self.p0.val() {
                self.op_wait.d.next = true;
            }
        }
        if self.p0.val() {
            self.op_wait.d.next = false;
        }
        self.op_p1.d.next = self.p0.val();
        self.nak.next = self.refuse.val();

        // "Written since reset" bit of the accessed timer.
        self.w_word.next = bit_cast::<4, TB>(self.timer.val() >> self.word_shift.val());
        self.w_off.next = bit_cast::<8, TB>(self.timer.val()) & self.lane_sel.val();
        self.was_written.next = self.written.rd_data.val().get_bit(self.w_off.val().index());
        self.first_eff.next = 1.into();
        if self.was_written.val() & (self.first.rd_data.val() != 0) {
            self.first_eff.next = self.first.rd_data.val();
        }

        // ---- RAM ports. Phase 0 reads; phase 1 answers and writes.
        self.written.rd_en.next = false;
        self.written.rd_addr.next = self.w_word.val();
        self.written.wr_en.next = false;
        self.written.wr_addr.next = self.w_word.val();
        self.written.wr_data.next = self
            .written
            .rd_data
            .val()
            .replace_bit(self.w_off.val().index(), true);
        self.first.rd_en.next = false;
        self.first.rd_addr.next = self.timer.val();
        self.first.wr_en.next = false;
        self.first.wr_addr.next = self.timer.val();
        self.first.wr_data.next = self.wdata.val();
        self.target.rd_en.next = false;
        self.target.rd_addr.next = self.timer.val();
        self.target.wr_en.next = false;
        self.target.wr_addr.next = self.timer.val();
        self.target.wr_data.next = self.wdata.val().get_bits::<9>(0);
        self.payload.rd_en.next = false;
        self.payload.rd_addr.next = self.timer.val();
        self.payload.wr_en.next = false;
        self.payload.wr_addr.next = self.timer.val();
        self.payload.wr_data.next = self.wdata.val();
        self.ack.next = false;
        self.rdata.next = 0.into();
        if self.p0.val() {
            self.written.rd_en.next = true;
            self.first.rd_en.next = (self.sel.val() == 0) | (self.sel.val() == 5);
            self.target.rd_en.next = self.sel.val() == 3;
            self.payload.rd_en.next = self.sel.val() == 4;
        }
        for b in 0..2 {
            self.banks[b].rd_en.next = false;
            self.banks[b].rd_addr.next = self.baddr.val();
            self.banks[b].s1_visit.next = self.s1_visit.q.val();
            self.banks[b].s1_reg.next =
                self.op_p1.q.val() & self.bank_op.val() & (self.bank.val() == (b == 1));
            self.banks[b].reg_write.next = self.is_wr.val();
            self.banks[b].reg_sel.next = self.sel.val();
            self.banks[b].wdata.next = self.wdata.val();
            self.banks[b].arm_nf.next =
                self.op_cycles.q.val() + bit_cast::<40, 32>(self.first_eff.val());
            if self.p0.val() & self.bank_op.val() & (self.bank.val() == (b == 1)) {
                self.banks[b].rd_en.next = true;
            }
        }
        if self.op_p1.q.val() {
            self.ack.next = true;
            if !self.is_wr.val() & self.was_written.val() {
                if self.sel.val() == 0 {
                    self.rdata.next = self.first.rd_data.val();
                }
                if self.sel.val() == 3 {
                    self.rdata.next = bit_cast::<32, 9>(self.target.rd_data.val());
                }
                if self.sel.val() == 4 {
                    self.rdata.next = self.payload.rd_data.val();
                }
                if self.in_state.val() {
                    if self.bank.val() {
                        self.rdata.next = self.banks[1].reg_rdata.val();
                    } else {
                        self.rdata.next = self.banks[0].reg_rdata.val();
                    }
                }
            }
            if self.is_wr.val() {
                // A timer written the first time since reset starts from zeros everywhere (its
                // state word too: the bank rewrites it).
                if !self.was_written.val() {
                    self.written.wr_en.next = true;
                    self.first.wr_en.next = true;
                    self.target.wr_en.next = true;
                    self.payload.wr_en.next = true;
                    self.first.wr_data.next = 0.into();
                    self.target.wr_data.next = 0.into();
                    self.payload.wr_data.next = 0.into();
                }
                if self.sel.val() == 0 {
                    self.first.wr_en.next = true;
                    self.first.wr_data.next = self.wdata.val();
                }
                if self.sel.val() == 3 {
                    self.target.wr_en.next = true;
                    self.target.wr_data.next = self.wdata.val().get_bits::<9>(0);
                }
                if self.sel.val() == 4 {
                    self.payload.wr_en.next = true;
                    self.payload.wr_data.next = self.wdata.val();
                }
            }
        }

        // ---- The scanner: timers 2p and 2p+1 each cycle, paused by register accesses (in the
        // strobe cycle, and in the cycle a write stores its state).
        self.scan_word.next = bit_cast::<4, HB>(self.scan.q.val() >> (self.word_shift.val() - 1));
        // A register write stores its timer's state word (and "written" word) in phase 1: the
        // scanner then goes on unless it would read one of those words in that cycle.
        self.scan_clash.next = self.op_p1.q.val()
            & self.is_wr.val()
            & ((self.scan.q.val() == self.baddr.val())
                | (!self.was_written.val() & (self.scan_word.val() == self.w_word.val())));
        self.scan_go.next = self.ready.val()
            & !self.p0.val()
            & !self.scan_clash.val()
            & !self.op_wait.q.val()
            & !(self.strobe.val() & self.in_page.val());
        self.s1_visit.d.next = self.scan_go.val();
        if self.scan_go.val() {
            self.scan.d.next = self.scan.q.val() + 1;
            self.s1_scan.d.next = self.scan.q.val();
            self.written.rd_en.next = true;
            self.written.rd_addr.next = self.scan_word.val();
            for b in 0..2 {
                self.banks[b].rd_en.next = true;
                self.banks[b].rd_addr.next = self.scan.q.val();
            }
        }
        self.s1_off.next = (bit_cast::<8, HB>(self.s1_scan.q.val()) << 1) & self.lane_sel.val();
        for b in 0..2 {
            self.banks[b].s1_valid.next = self.was_written.val();
        }
        if self.s1_visit.q.val() {
            self.banks[0].s1_valid.next = self
                .written
                .rd_data
                .val()
                .get_bit(self.s1_off.val().index());
            self.banks[1].s1_valid.next = self
                .written
                .rd_data
                .val()
                .get_bit(self.s1_off.val().index() + 1);
        }

        // ---- The next event: the earlier firing of the two banks' heads.
        // `ev_ready` (the multicast's grant, which depends on its RAM outputs in the same
        // cycle) goes only to flip-flops: the next event is chosen once the output is empty,
        // not in the cycle it is taken, and the banks count the take a cycle later (`took`).
        // Both halves of that combinational path were the core's critical path (23.35 ns).
        self.taking.next = self.o_valid.q.val() & self.ev_ready.val();
        self.took.d.next = self.taking.val();
        self.late_diff.next = self.banks[1].head_ts.val() - self.banks[0].head_ts.val();
        self.pick1.next = self.banks[1].head_valid.val()
            & (!self.banks[0].head_valid.val() | self.late_diff.val().get_bit(39));
        // The target and payload RAMs must be free to read its entries (register accesses
        // read them in phase 0 and write them in phase 1).
        self.choose.next = !self.o_valid.q.val()
            & (self.banks[0].head_valid.val() | self.banks[1].head_valid.val())
            & !self.p0.val()
            & !self.op_p1.q.val();
        for b in 0..2 {
            self.banks[b].pop.next = self.choose.val() & (self.pick1.val() == (b == 1));
            self.banks[b].taken.next = self.took.q.val() & (self.o_bank.q.val() == (b == 1));
        }
        if self.taking.val() {
            self.o_valid.d.next = false;
        }
        if self.o_c_fresh.q.val() {
            self.o_c_fresh.d.next = false;
            self.o_target.d.next = self.target.rd_data.val();
            self.o_payload.d.next = self.payload.rd_data.val();
        }
        if self.pick1.val() {
            self.chosen.next =
                (bit_cast::<TB, HB>(self.banks[1].head_addr.val()) << 1) | bits::<TB>(1);
        } else {
            self.chosen.next = bit_cast::<TB, HB>(self.banks[0].head_addr.val()) << 1;
        }
        if self.choose.val() {
            self.o_valid.d.next = true;
            self.o_c_fresh.d.next = true;
            self.o_bank.d.next = self.pick1.val();
            self.o_timer.d.next = self.chosen.val();
            if self.pick1.val() {
                self.o_ts.d.next = self.banks[1].head_ts.val();
            } else {
                self.o_ts.d.next = self.banks[0].head_ts.val();
            }
            self.target.rd_en.next = true;
            self.target.rd_addr.next = self.chosen.val();
            self.payload.rd_en.next = true;
            self.payload.rd_addr.next = self.chosen.val();
        }
        if self.o_c_fresh.q.val() {
            self.ev_target9.next = self.target.rd_data.val();
            self.ev_payload.next = self.payload.rd_data.val();
        } else {
            self.ev_target9.next = self.o_target.q.val();
            self.ev_payload.next = self.o_payload.q.val();
        }
        self.ev_valid.next = self.o_valid.q.val();
        self.ev_to_group.next = self.ev_target9.val().get_bit(8);
        self.ev_target.next = self.ev_target9.val().get_bits::<8>(0);
        self.pack.kind.next = self.k_timer.val();
        self.pack.flags.next = 0.into();
        self.pack.source.next = bit_cast::<16, TB>(self.o_timer.q.val());
        self.pack.has_group.next = self.ev_target9.val().get_bit(8);
        self.pack.group.next = self.ev_target9.val().get_bits::<8>(0);
        self.pack.payload.next = self.ev_payload.val();
        self.pack.aux.next = 0.into();
        self.pack.timestamp.next = bit_cast::<64, 40>(self.o_ts.q.val());
        self.ev_record.next = self.pack.record.val();

        if self.reset.val() {
            self.scan.d.next = 0.into();
            self.s1_visit.d.next = false;
            self.op_wait.d.next = false;
            self.op_p1.d.next = false;
            self.o_valid.d.next = false;
            self.o_c_fresh.d.next = false;
            self.took.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests;
