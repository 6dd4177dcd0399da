//! `EvqUpdate`: what one operation does to one event queue. The event engine keeps every
//! queue's state in one word of block RAM ([`STATE_BITS`] bits, layout in [`field`]); each
//! cycle its pipeline reads one word, passes it through this block together with the
//! operation, and writes the result back. This block is the queue's whole behaviour: pointers,
//! drop count, owed OVERFLOW, arming, watchdog, and the `EVQ_*` registers of a VI page.
//!
//! # Ports (all combinational)
//! - `state` in: the queue's current word (an all-zero word is a disabled queue, as after reset)
//! - `op` in ([`op`]): `PUSH` (write `record` into the queue, or count it dropped), `READ` /
//!   `WRITE` (the `EVQ_*` register at `word`, with `wdata`), `SCRUB` (look at the queue only:
//!   watchdog and arming), `NONE`
//! - `record` in: the event to push, phase 0; `queue` in: the queue's number (the source of its
//!   OVERFLOW events); `cycles` in: the cycle counter (OVERFLOW timestamps, the watchdog clock)
//! - `new_state` out: the new word; `write` out: it differs from `state` in a way that matters
//!   (when `write` is low `new_state` is `state` unchanged, so the engine writes `new_state`
//!   back after every operation without looking at `write`)
//! - `beat`, `beat_addr`, `beat_data` out: one 16-byte event to write at the queue's next slot
//!   (the pushed record, or the OVERFLOW a doorbell made due), its phase bit set
//! - `dropped` out: the pushed record was not written (queue full or disabled) and is counted
//! - `ack`, `nak`, `rdata` out: the answer to a register access
//! - `wake`, `wake_watchdog` out: after this operation the queue is armed with events unread, or
//!   its watchdog expired; `new_state` is already disarmed with its watchdog marked fired, and the
//!   engine posts the WAKEUP (`wake_watchdog`: for the watchdog alone) or raises the interrupt
//!
//! # Contract
//! - A push is written when the queue is enabled and has space: `fill + owed < size`, one slot
//!   stays reserved while an OVERFLOW is owed, so an event never overwrites an unread one.
//!   Otherwise it is dropped: `EVQ_DROPS` counts it (saturating at 2^32-1) and an OVERFLOW is
//!   owed.
//! - A doorbell (`EVQ_RPTR`, `EVQ_PRIME`) that would move the read count backwards or past the
//!   write count is refused (`nak`) and changes nothing. An accepted doorbell restarts the
//!   watchdog; `EVQ_PRIME` also arms. When the queue owes an OVERFLOW and the doorbell returned
//!   space, the same operation writes the OVERFLOW (payload: the count of drops) into the
//!   reserved slot and clears the count. Drops only happen to a full queue and only a doorbell
//!   returns space, so this is the only moment an OVERFLOW becomes due: nothing waits for it.
//! - `EVQ_SIZE` accepts 0 (disable) or `EVQ_SIZE_MIN..=EVQ_SIZE_MAX` and restarts the queue
//!   (pointers, drops, arming and watchdog state to 0; base and watchdog limit stay); any other
//!   value is refused. Writes of read-only registers (`EVQ_WPTR`, `EVQ_DROPS`, `EVQ_STATUS`) and
//!   reads of `EVQ_PRIME` are refused with `nak` (before: not acknowledged, the bus timed out;
//!   both count a bus error). A word that is no `EVQ_*` register is neither acknowledged nor
//!   refused (another block of the VI page owns it); the engine does not send those here.
//! - Watchdog: it starts when a push makes the queue non-empty and restarts at every accepted
//!   doorbell (`wd_start`, low 32 bits of the cycle counter). It is due when the queue holds
//!   unread events, its limit is non-zero, it has not fired since the last doorbell, and
//!   `cycles - wd_start >= limit` (modulo 2^32; the engine visits every queue often enough for
//!   that not to wrap, see [`crate::event_engine`]). The check runs after every operation but
//!   reads and refused writes, so the engine decides how soon it is seen.
//! - A wake (either cause) disarms the queue and marks its watchdog fired, so a queue wakes at
//!   most once per prime and its watchdog at most once per doorbell.
//!
//! - The fill (`EVQ_WPTR - EVQ_RPTR`) of a word this block wrote never exceeds the size (pushes
//!   stop there, doorbells only lower it, `EVQ_SIZE` restarts at 0); the space check relies on
//!   it (it compares the fill's low 17 bits, the size being at most 2^16).
//!
//! # Timing
//! Combinational: the engine reads the word in one cycle and writes `new_state` back in the
//! next. For timing the checks are flat: the space check is two 17-bit equalities (not an add
//! and a compare in series), and the wake check's "unread" and "watchdog expired" for the new
//! state are derived from the old state per operation, in parallel with the update, instead of
//! from the new pointers (same results).

use crate::event_pack::EventPack;
use crate::regbus::word;
use evnic_regs::event::{EventType, PHASE_BIT};
use evnic_regs::map::vi;
use rust_hdl::prelude::*;

/// Bits of one queue's state word.
pub const STATE_BITS: usize = 232;

/// Positions (lsb) of the fields in the state word.
pub mod field {
    /// Ring address, 64 bits (`EVQ_BASE_HI:EVQ_BASE_LO`).
    pub const BASE: u32 = 0;
    /// Write count, 32 bits (`EVQ_WPTR`).
    pub const WPTR: u32 = 64;
    /// Read count, 32 bits (`EVQ_RPTR`).
    pub const RPTR: u32 = 96;
    /// Drops since the last OVERFLOW, 32 bits (`EVQ_DROPS`).
    pub const DROPS: u32 = 128;
    /// Watchdog limit in cycles, 32 bits (`EVQ_WATCHDOG`).
    pub const WD_LIMIT: u32 = 160;
    /// Low 32 bits of the cycle counter when the watchdog (re)started.
    pub const WD_START: u32 = 192;
    /// log2 of the ring size, 5 bits (`EVQ_SIZE`; 0: disabled).
    pub const SIZE_LOG2: u32 = 224;
    /// An OVERFLOW is owed (`EVQ_STATUS.OVERFLOW`).
    pub const OVF: u32 = 229;
    /// Primed and not woken since (`EVQ_STATUS.ARMED`).
    pub const ARMED: u32 = 230;
    /// The watchdog fired (or the queue woke) since the last doorbell.
    pub const WD_FIRED: u32 = 231;
}

/// Operation codes of the `op` input.
pub mod op {
    pub const NONE: u64 = 0;
    pub const PUSH: u64 = 1;
    pub const READ: u64 = 2;
    pub const WRITE: u64 = 3;
    pub const SCRUB: u64 = 4;
}

/// The register words of a VI page this block answers (`EVQ_*`): they must be one contiguous
/// range, `first..=last` (checked here, where the decode is built).
pub fn evq_words() -> (u32, u32) {
    let words: Vec<u32> = vi::REGS
        .iter()
        .filter(|r| r.name.starts_with("EVQ_"))
        .map(|r| r.word())
        .collect();
    let (first, last) = (*words.iter().min().unwrap(), *words.iter().max().unwrap());
    assert_eq!(
        (last - first + 1) as usize,
        words.len(),
        "the EVQ_* registers must be contiguous words"
    );
    (first, last)
}

fn pos(lsb: u32) -> Constant<Bits<8>> {
    Constant::new((lsb as u64).into())
}

#[derive(LogicBlock)]
pub struct EvqUpdate {
    pub state: Signal<In, Bits<STATE_BITS>>,
    pub op: Signal<In, Bits<3>>,
    pub word: Signal<In, Bits<10>>,
    pub wdata: Signal<In, Bits<32>>,
    pub record: Signal<In, Bits<128>>,
    pub queue: Signal<In, Bits<16>>,
    pub cycles: Signal<In, Bits<64>>,
    pub new_state: Signal<Out, Bits<STATE_BITS>>,
    pub write: Signal<Out, Bit>,
    pub beat: Signal<Out, Bit>,
    pub beat_addr: Signal<Out, Bits<64>>,
    pub beat_data: Signal<Out, Bits<128>>,
    pub dropped: Signal<Out, Bit>,
    pub ack: Signal<Out, Bit>,
    pub nak: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub wake: Signal<Out, Bit>,
    pub wake_watchdog: Signal<Out, Bit>,

    overflow: EventPack,

    // The current state, unpacked.
    base: Signal<Local, Bits<64>>,
    wptr: Signal<Local, Bits<32>>,
    rptr: Signal<Local, Bits<32>>,
    drops: Signal<Local, Bits<32>>,
    wd_limit: Signal<Local, Bits<32>>,
    wd_start: Signal<Local, Bits<32>>,
    size_log2: Signal<Local, Bits<5>>,
    ovf: Signal<Local, Bit>,
    armed: Signal<Local, Bit>,
    wd_fired: Signal<Local, Bit>,
    // Derived.
    now: Signal<Local, Bits<32>>,
    enabled: Signal<Local, Bit>,
    size: Signal<Local, Bits<32>>,
    fill: Signal<Local, Bits<32>>,
    space_ok: Signal<Local, Bit>,
    fill_new: Signal<Local, Bits<32>>,
    doorbell_ok: Signal<Local, Bit>,
    size_ok: Signal<Local, Bit>,
    phase: Signal<Local, Bit>,
    status: Signal<Local, Bits<32>>,
    detect: Signal<Local, Bit>,
    // The new state, before the wake check.
    n_base: Signal<Local, Bits<64>>,
    n_wptr: Signal<Local, Bits<32>>,
    n_rptr: Signal<Local, Bits<32>>,
    n_drops: Signal<Local, Bits<32>>,
    n_wd_limit: Signal<Local, Bits<32>>,
    n_wd_start: Signal<Local, Bits<32>>,
    n_size_log2: Signal<Local, Bits<5>>,
    n_ovf: Signal<Local, Bit>,
    n_armed: Signal<Local, Bit>,
    n_wd_fired: Signal<Local, Bit>,
    n_unread: Signal<Local, Bit>,
    armed_wake: Signal<Local, Bit>,
    wd_due: Signal<Local, Bit>,
    // Flat derivations of the checks (for timing, see the update).
    fill17: Signal<Local, Bits<17>>,
    size17: Signal<Local, Bits<17>>,
    unread: Signal<Local, Bit>,
    elapsed: Signal<Local, Bits<32>>,
    n_expired: Signal<Local, Bit>,
    n_limit_nz: Signal<Local, Bit>,

    f_base: Constant<Bits<8>>,
    f_wptr: Constant<Bits<8>>,
    f_rptr: Constant<Bits<8>>,
    f_drops: Constant<Bits<8>>,
    f_wd_limit: Constant<Bits<8>>,
    f_wd_start: Constant<Bits<8>>,
    f_size_log2: Constant<Bits<8>>,
    f_ovf: Constant<Bits<8>>,
    f_armed: Constant<Bits<8>>,
    f_wd_fired: Constant<Bits<8>>,
    k_push: Constant<Bits<3>>,
    k_read: Constant<Bits<3>>,
    k_write: Constant<Bits<3>>,
    k_scrub: Constant<Bits<3>>,
    k_overflow: Constant<Bits<4>>,
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
    sh_phase: Constant<Bits<8>>,
    sh_armed: Constant<Bits<8>>,
    sh_overflow: Constant<Bits<8>>,
    sh_enabled: Constant<Bits<8>>,
}

impl Default for EvqUpdate {
    fn default() -> Self {
        EvqUpdate {
            state: Default::default(),
            op: Default::default(),
            word: Default::default(),
            wdata: Default::default(),
            record: Default::default(),
            queue: Default::default(),
            cycles: Default::default(),
            new_state: Default::default(),
            write: Default::default(),
            beat: Default::default(),
            beat_addr: Default::default(),
            beat_data: Default::default(),
            dropped: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
            rdata: Default::default(),
            wake: Default::default(),
            wake_watchdog: Default::default(),
            overflow: Default::default(),
            base: Default::default(),
            wptr: Default::default(),
            rptr: Default::default(),
            drops: Default::default(),
            wd_limit: Default::default(),
            wd_start: Default::default(),
            size_log2: Default::default(),
            ovf: Default::default(),
            armed: Default::default(),
            wd_fired: Default::default(),
            now: Default::default(),
            enabled: Default::default(),
            size: Default::default(),
            fill: Default::default(),
            space_ok: Default::default(),
            fill_new: Default::default(),
            doorbell_ok: Default::default(),
            size_ok: Default::default(),
            phase: Default::default(),
            status: Default::default(),
            detect: Default::default(),
            n_base: Default::default(),
            n_wptr: Default::default(),
            n_rptr: Default::default(),
            n_drops: Default::default(),
            n_wd_limit: Default::default(),
            n_wd_start: Default::default(),
            n_size_log2: Default::default(),
            n_ovf: Default::default(),
            n_armed: Default::default(),
            n_wd_fired: Default::default(),
            n_unread: Default::default(),
            armed_wake: Default::default(),
            wd_due: Default::default(),
            fill17: Default::default(),
            size17: Default::default(),
            unread: Default::default(),
            elapsed: Default::default(),
            n_expired: Default::default(),
            n_limit_nz: Default::default(),
            f_base: pos(field::BASE),
            f_wptr: pos(field::WPTR),
            f_rptr: pos(field::RPTR),
            f_drops: pos(field::DROPS),
            f_wd_limit: pos(field::WD_LIMIT),
            f_wd_start: pos(field::WD_START),
            f_size_log2: pos(field::SIZE_LOG2),
            f_ovf: pos(field::OVF),
            f_armed: pos(field::ARMED),
            f_wd_fired: pos(field::WD_FIRED),
            k_push: Constant::new(op::PUSH.into()),
            k_read: Constant::new(op::READ.into()),
            k_write: Constant::new(op::WRITE.into()),
            k_scrub: Constant::new(op::SCRUB.into()),
            k_overflow: Constant::new((EventType::Overflow as u64).into()),
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
            sh_phase: pos(PHASE_BIT),
            sh_armed: pos(vi::EVQ_STATUS_ARMED.lsb),
            sh_overflow: pos(vi::EVQ_STATUS_OVERFLOW.lsb),
            sh_enabled: pos(vi::EVQ_STATUS_ENABLED.lsb),
        }
    }
}

impl Logic for EvqUpdate {
    #[hdl_gen]
    fn update(&mut self) {
        // The current state.
        self.base.next = self.state.val().get_bits::<64>(self.f_base.val().index());
        self.wptr.next = self.state.val().get_bits::<32>(self.f_wptr.val().index());
        self.rptr.next = self.state.val().get_bits::<32>(self.f_rptr.val().index());
        self.drops.next = self.state.val().get_bits::<32>(self.f_drops.val().index());
        self.wd_limit.next = self
            .state
            .val()
            .get_bits::<32>(self.f_wd_limit.val().index());
        self.wd_start.next = self
            .state
            .val()
            .get_bits::<32>(self.f_wd_start.val().index());
        self.size_log2.next = self
            .state
            .val()
            .get_bits::<5>(self.f_size_log2.val().index());
        self.ovf.next = self.state.val().get_bit(self.f_ovf.val().index());
        self.armed.next = self.state.val().get_bit(self.f_armed.val().index());
        self.wd_fired.next = self.state.val().get_bit(self.f_wd_fired.val().index());

        // Ring geometry, fill and the checks of the register writes.
        self.now.next = self.cycles.val().get_bits::<32>(0);
        self.enabled.next = self.size_log2.val() != 0;
        self.size.next = bits::<32>(1) << self.size_log2.val();
        self.fill.next = self.wptr.val() - self.rptr.val();
        // `fill + ovf < size` without an adder and a compare in series: the fill never
        // exceeds the size (pushes stop there, doorbells only lower it, `EVQ_SIZE` restarts
        // at 0) and the size is at most 2^16, so its low 17 bits are the fill, and the test is
        // "not full, and not one short of full while an OVERFLOW is owed" (two equalities).
        self.fill17.next = self.wptr.val().get_bits::<17>(0) - self.rptr.val().get_bits::<17>(0);
        self.size17.next = bits::<17>(1) << self.size_log2.val();
        self.space_ok.next = self.enabled.val()
            & (self.fill17.val() != self.size17.val())
            & !(self.ovf.val() & (self.fill17.val() == (self.size17.val() - 1)));
        self.unread.next = self.wptr.val() != self.rptr.val();
        self.elapsed.next = self.now.val() - self.wd_start.val();
        self.fill_new.next = self.wptr.val() - self.wdata.val();
        self.doorbell_ok.next = self.fill_new.val() <= self.fill.val();
        self.size_ok.next = (self.wdata.val() == 0)
            | ((self.wdata.val() >= self.size_min.val())
                & (self.wdata.val() <= self.size_max.val()));
        self.status.next = (bit_cast::<32, 1>(self.armed.val().into()) << self.sh_armed.val())
            | (bit_cast::<32, 1>(self.ovf.val().into()) << self.sh_overflow.val())
            | (bit_cast::<32, 1>(self.enabled.val().into()) << self.sh_enabled.val());

        // The slot of the next event: its address and phase (1 on the first pass).
        self.beat_addr.next =
            self.base.val() + (bit_cast::<64, 32>(self.wptr.val() & (self.size.val() - 1)) << 4);
        self.phase.next = !self.wptr.val().get_bit(self.size_log2.val().index());
        self.overflow.kind.next = self.k_overflow.val();
        self.overflow.flags.next = 0.into();
        self.overflow.source.next = self.queue.val();
        self.overflow.has_group.next = false;
        self.overflow.group.next = 0.into();
        self.overflow.payload.next = self.drops.val();
        self.overflow.aux.next = 0.into();
        self.overflow.timestamp.next = self.cycles.val();
        self.beat_data.next = self.record.val()
            | (bit_cast::<128, 1>(self.phase.val().into()) << self.sh_phase.val());
        if self.op.val() == self.k_write.val() {
            self.beat_data.next = self.overflow.record.val()
                | (bit_cast::<128, 1>(self.phase.val().into()) << self.sh_phase.val());
        }

        // The operation.
        self.n_base.next = self.base.val();
        self.n_wptr.next = self.wptr.val();
        self.n_rptr.next = self.rptr.val();
        self.n_drops.next = self.drops.val();
        self.n_wd_limit.next = self.wd_limit.val();
        self.n_wd_start.next = self.wd_start.val();
        self.n_size_log2.next = self.size_log2.val();
        self.n_ovf.next = self.ovf.val();
        self.n_armed.next = self.armed.val();
        self.n_wd_fired.next = self.wd_fired.val();
        // The wake check's inputs for the new state, per operation below (an operation that
        // restarts the watchdog at `now` leaves it not expired: its limit is non-zero when it
        // counts).
        self.n_unread.next = self.unread.val();
        self.n_expired.next = self.elapsed.val() >= self.wd_limit.val();
        self.n_limit_nz.next = self.wd_limit.val() != 0;
        self.write.next = false;
        self.detect.next = false;
        self.beat.next = false;
        self.dropped.next = false;
        self.ack.next = false;
        self.nak.next = false;
        self.rdata.next = 0.into();

        if self.op.val() == self.k_push.val() {
            self.write.next = true;
            self.detect.next = true;
            if self.space_ok.val() {
                self.beat.next = true;
                self.n_wptr.next = self.wptr.val() + 1;
                self.n_unread.next = true;
                if !self.unread.val() {
                    self.n_wd_start.next = self.now.val();
                    self.n_expired.next = false;
                }
            } else {
                self.dropped.next = true;
                self.n_ovf.next = true;
                if !self.drops.val().all() {
                    self.n_drops.next = self.drops.val() + 1;
                }
            }
        }

        if self.op.val() == self.k_read.val() {
            self.ack.next = true;
            if self.word.val() == self.w_base_lo.val() {
                self.rdata.next = self.base.val().get_bits::<32>(0);
            } else if self.word.val() == self.w_base_hi.val() {
                self.rdata.next = self.base.val().get_bits::<32>(32);
            } else if self.word.val() == self.w_size.val() {
                self.rdata.next = bit_cast::<32, 5>(self.size_log2.val());
            } else if self.word.val() == self.w_rptr.val() {
                self.rdata.next = self.rptr.val();
            } else if self.word.val() == self.w_wptr.val() {
                self.rdata.next = self.wptr.val();
            } else if self.word.val() == self.w_drops.val() {
                self.rdata.next = self.drops.val();
            } else if self.word.val() == self.w_status.val() {
                self.rdata.next = self.status.val();
            } else if self.word.val() == self.w_watchdog.val() {
                self.rdata.next = self.wd_limit.val();
            } else if self.word.val() == self.w_prime.val() {
                self.ack.next = false;
                self.nak.next = true;
            } else {
                self.ack.next = false;
            }
        }

        if self.op.val() == self.k_write.val() {
            self.ack.next = true;
            if self.word.val() == self.w_base_lo.val() {
                self.n_base.next = (bit_cast::<64, 32>(self.base.val().get_bits::<32>(32)) << 32)
                    | bit_cast::<64, 32>(self.wdata.val());
            } else if self.word.val() == self.w_base_hi.val() {
                self.n_base.next = (bit_cast::<64, 32>(self.wdata.val()) << 32)
                    | bit_cast::<64, 32>(self.base.val().get_bits::<32>(0));
            } else if self.word.val() == self.w_size.val() {
                if self.size_ok.val() {
                    self.n_size_log2.next = self.wdata.val().get_bits::<5>(0);
                    self.n_wptr.next = 0.into();
                    self.n_rptr.next = 0.into();
                    self.n_drops.next = 0.into();
                    self.n_wd_start.next = 0.into();
                    self.n_ovf.next = false;
                    self.n_armed.next = false;
                    self.n_wd_fired.next = false;
                    self.n_unread.next = false;
                } else {
                    self.ack.next = false;
                    self.nak.next = true;
                }
            } else if (self.word.val() == self.w_rptr.val())
                | (self.word.val() == self.w_prime.val())
            {
                if self.doorbell_ok.val() {
                    self.n_rptr.next = self.wdata.val();
                    self.n_wd_start.next = self.now.val();
                    self.n_wd_fired.next = false;
                    self.n_expired.next = false;
                    self.n_unread.next = self.wptr.val() != self.wdata.val();
                    if self.word.val() == self.w_prime.val() {
                        self.n_armed.next = true;
                    }
                    // Space returned to a queue that owes an OVERFLOW: write it now.
                    if self.ovf.val() & self.enabled.val() & (self.fill_new.val() < self.size.val())
                    {
                        self.beat.next = true;
                        self.n_wptr.next = self.wptr.val() + 1;
                        self.n_ovf.next = false;
                        self.n_drops.next = 0.into();
                        self.n_unread.next = true;
                    }
                } else {
                    self.ack.next = false;
                    self.nak.next = true;
                }
            } else if self.word.val() == self.w_watchdog.val() {
                self.n_wd_limit.next = self.wdata.val();
                self.n_expired.next = self.elapsed.val() >= self.wdata.val();
                self.n_limit_nz.next = self.wdata.val() != 0;
            } else if (self.word.val() == self.w_wptr.val())
                | (self.word.val() == self.w_drops.val())
                | (self.word.val() == self.w_status.val())
            {
                self.ack.next = false;
                self.nak.next = true;
            } else {
                self.ack.next = false;
            }
            self.write.next = self.ack.val();
            self.detect.next = self.ack.val();
        }

        if self.op.val() == self.k_scrub.val() {
            self.detect.next = true;
        }

        // Wake check on the new state.
        // (`n_unread` is `n_wptr != n_rptr`, `n_expired` is `now - n_wd_start >= n_wd_limit`
        // where it matters, both derived from the old state in parallel with the update.)
        self.armed_wake.next = self.n_armed.val() & self.n_unread.val();
        self.wd_due.next = self.n_limit_nz.val()
            & !self.n_wd_fired.val()
            & self.n_unread.val()
            & self.n_expired.val();
        self.wake.next = self.detect.val() & (self.armed_wake.val() | self.wd_due.val());
        self.wake_watchdog.next = self.wake.val() & !self.armed_wake.val();
        if self.wake.val() {
            self.write.next = true;
        }

        self.new_state.next = (bit_cast::<STATE_BITS, 64>(self.n_base.val()) << self.f_base.val())
            | (bit_cast::<STATE_BITS, 32>(self.n_wptr.val()) << self.f_wptr.val())
            | (bit_cast::<STATE_BITS, 32>(self.n_rptr.val()) << self.f_rptr.val())
            | (bit_cast::<STATE_BITS, 32>(self.n_drops.val()) << self.f_drops.val())
            | (bit_cast::<STATE_BITS, 32>(self.n_wd_limit.val()) << self.f_wd_limit.val())
            | (bit_cast::<STATE_BITS, 32>(self.n_wd_start.val()) << self.f_wd_start.val())
            | (bit_cast::<STATE_BITS, 5>(self.n_size_log2.val()) << self.f_size_log2.val())
            | (bit_cast::<STATE_BITS, 1>(self.n_ovf.val().into()) << self.f_ovf.val())
            | (bit_cast::<STATE_BITS, 1>((self.n_armed.val() & !self.wake.val()).into())
                << self.f_armed.val())
            | (bit_cast::<STATE_BITS, 1>((self.n_wd_fired.val() | self.wake.val()).into())
                << self.f_wd_fired.val());
    }
}

/// A plain Rust model of one queue, the reference of this block's and the engine's tests.
#[cfg(test)]
pub(crate) mod model {
    use super::{field, STATE_BITS};
    use evnic_regs::event::{Event, EventType, PHASE_BIT};
    use evnic_regs::map::vi;
    use rust_hdl::prelude::*;

    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Queue {
        pub base: u64,
        pub wptr: u32,
        pub rptr: u32,
        pub drops: u32,
        pub wd_limit: u32,
        pub wd_start: u32,
        pub size_log2: u32,
        pub ovf: bool,
        pub armed: bool,
        pub wd_fired: bool,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Op {
        Push([u64; 2]),
        Read(u32),
        Write(u32, u32),
        Scrub,
    }

    /// What an operation produced besides the new state.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Outcome {
        pub beat: Option<(u64, [u64; 2])>,
        pub dropped: bool,
        pub ack: bool,
        pub nak: bool,
        pub rdata: u32,
        /// A wake: `Some(true)` for the watchdog alone.
        pub wake: Option<bool>,
        pub write: bool,
    }

    fn put<const M: usize>(w: Bits<STATE_BITS>, lsb: u32, v: u64) -> Bits<STATE_BITS> {
        w | (bit_cast::<STATE_BITS, M>(Bits::<M>::from(v)) << (lsb as u64))
    }
    fn get<const M: usize>(w: Bits<STATE_BITS>, lsb: u32) -> u64 {
        w.get_bits::<M>(lsb as usize).index() as u64
    }

    impl Queue {
        pub fn pack(&self) -> Bits<STATE_BITS> {
            let mut w = Bits::<STATE_BITS>::default();
            w = put::<32>(w, field::BASE, self.base & 0xffff_ffff);
            w = put::<32>(w, field::BASE + 32, self.base >> 32);
            w = put::<32>(w, field::WPTR, self.wptr as u64);
            w = put::<32>(w, field::RPTR, self.rptr as u64);
            w = put::<32>(w, field::DROPS, self.drops as u64);
            w = put::<32>(w, field::WD_LIMIT, self.wd_limit as u64);
            w = put::<32>(w, field::WD_START, self.wd_start as u64);
            w = put::<5>(w, field::SIZE_LOG2, self.size_log2 as u64);
            w = put::<1>(w, field::OVF, self.ovf as u64);
            w = put::<1>(w, field::ARMED, self.armed as u64);
            put::<1>(w, field::WD_FIRED, self.wd_fired as u64)
        }
        pub fn unpack(w: Bits<STATE_BITS>) -> Queue {
            Queue {
                base: get::<32>(w, field::BASE) | get::<32>(w, field::BASE + 32) << 32,
                wptr: get::<32>(w, field::WPTR) as u32,
                rptr: get::<32>(w, field::RPTR) as u32,
                drops: get::<32>(w, field::DROPS) as u32,
                wd_limit: get::<32>(w, field::WD_LIMIT) as u32,
                wd_start: get::<32>(w, field::WD_START) as u32,
                size_log2: get::<5>(w, field::SIZE_LOG2) as u32,
                ovf: get::<1>(w, field::OVF) == 1,
                armed: get::<1>(w, field::ARMED) == 1,
                wd_fired: get::<1>(w, field::WD_FIRED) == 1,
            }
        }
        pub fn size(&self) -> u32 {
            1 << self.size_log2
        }
        pub fn fill(&self) -> u32 {
            self.wptr.wrapping_sub(self.rptr)
        }
        fn slot(&self) -> (u64, u64) {
            let addr = self
                .base
                .wrapping_add(((self.wptr & (self.size() - 1)) as u64) << 4);
            let phase = (self.wptr >> self.size_log2) & 1 == 0;
            (addr, (phase as u64) << PHASE_BIT)
        }

        /// Applies one operation at cycle `cycles` to queue number `queue`.
        pub fn apply(&mut self, op: Op, queue: u16, cycles: u64) -> Outcome {
            let now = cycles as u32;
            let mut o = Outcome::default();
            let enabled = self.size_log2 != 0;
            let mut detect = false;
            match op {
                Op::Push(rec) => {
                    detect = true;
                    o.write = true;
                    if enabled && self.fill() + (self.ovf as u32) < self.size() {
                        let (addr, phase) = self.slot();
                        o.beat = Some((addr, [rec[0] | phase, rec[1]]));
                        if self.fill() == 0 {
                            self.wd_start = now;
                        }
                        self.wptr = self.wptr.wrapping_add(1);
                    } else {
                        o.dropped = true;
                        self.ovf = true;
                        self.drops = self.drops.saturating_add(1);
                    }
                }
                Op::Read(w) => {
                    o.ack = true;
                    o.rdata = match w {
                        _ if w == vi::EVQ_BASE_LO.word() => self.base as u32,
                        _ if w == vi::EVQ_BASE_HI.word() => (self.base >> 32) as u32,
                        _ if w == vi::EVQ_SIZE.word() => self.size_log2,
                        _ if w == vi::EVQ_RPTR.word() => self.rptr,
                        _ if w == vi::EVQ_WPTR.word() => self.wptr,
                        _ if w == vi::EVQ_DROPS.word() => self.drops,
                        _ if w == vi::EVQ_STATUS.word() => {
                            vi::EVQ_STATUS_ARMED.put(self.armed as u32)
                                | vi::EVQ_STATUS_OVERFLOW.put(self.ovf as u32)
                                | vi::EVQ_STATUS_ENABLED.put(enabled as u32)
                        }
                        _ if w == vi::EVQ_WATCHDOG.word() => self.wd_limit,
                        _ => {
                            o.ack = false;
                            o.nak = w == vi::EVQ_PRIME.word();
                            0
                        }
                    };
                }
                Op::Write(w, v) => {
                    o.ack = true;
                    if w == vi::EVQ_BASE_LO.word() {
                        self.base = (self.base & !0xffff_ffff) | v as u64;
                    } else if w == vi::EVQ_BASE_HI.word() {
                        self.base = (self.base & 0xffff_ffff) | (v as u64) << 32;
                    } else if w == vi::EVQ_SIZE.word() {
                        if v == 0 || (vi::EVQ_SIZE_MIN..=vi::EVQ_SIZE_MAX).contains(&v) {
                            *self = Queue {
                                base: self.base,
                                wd_limit: self.wd_limit,
                                size_log2: v,
                                ..Default::default()
                            };
                        } else {
                            o.ack = false;
                        }
                    } else if w == vi::EVQ_RPTR.word() || w == vi::EVQ_PRIME.word() {
                        let fill_new = self.wptr.wrapping_sub(v);
                        if fill_new <= self.fill() {
                            self.rptr = v;
                            self.wd_start = now;
                            self.wd_fired = false;
                            if w == vi::EVQ_PRIME.word() {
                                self.armed = true;
                            }
                            if self.ovf && enabled && fill_new < self.size() {
                                let (addr, phase) = self.slot();
                                let rec = Event {
                                    kind: EventType::Overflow as u8,
                                    phase: false,
                                    flags: 0,
                                    source: queue,
                                    group: None,
                                    payload: self.drops,
                                    timestamp: cycles & ((1 << 40) - 1),
                                    aux: 0,
                                }
                                .encode();
                                o.beat = Some((addr, [rec[0] | phase, rec[1]]));
                                self.wptr = self.wptr.wrapping_add(1);
                                self.ovf = false;
                                self.drops = 0;
                            }
                        } else {
                            o.ack = false;
                        }
                    } else if w == vi::EVQ_WATCHDOG.word() {
                        self.wd_limit = v;
                    } else {
                        o.ack = false;
                    }
                    let known = super::evq_words();
                    o.nak = !o.ack && (known.0..=known.1).contains(&w);
                    o.write = o.ack;
                    detect = o.ack;
                }
                Op::Scrub => detect = true,
            }
            if detect {
                let unread = self.wptr != self.rptr;
                let armed_wake = self.armed && unread;
                let wd_due = self.wd_limit != 0
                    && !self.wd_fired
                    && unread
                    && now.wrapping_sub(self.wd_start) >= self.wd_limit;
                if armed_wake || wd_due {
                    o.wake = Some(!armed_wake);
                    o.write = true;
                    self.armed = false;
                    self.wd_fired = true;
                }
            }
            o
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::model::{Op, Queue};
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The 64 bits of `b` from bit `lsb`.
    pub(crate) fn u64_at<const N: usize>(b: Bits<N>, lsb: usize) -> u64 {
        b.get_bits::<32>(lsb).index() as u64 | (b.get_bits::<32>(lsb + 32).index() as u64) << 32
    }

    /// The two 64-bit words of a 128-bit record.
    pub(crate) fn u128_words(b: Bits<128>) -> [u64; 2] {
        [u64_at(b, 0), u64_at(b, 64)]
    }

    /// A 128-bit record from its two words.
    pub(crate) fn record_bits(w: [u64; 2]) -> Bits<128> {
        (bit_cast::<128, 64>(w[1].into()) << 64u64) | bit_cast::<128, 64>(w[0].into())
    }

    /// Applies each (state, op, queue, cycles) to the block and returns its outputs as the
    /// model's types.
    fn run_block(cases: Vec<(Queue, Op, u16, u64)>) -> Vec<(Queue, model::Outcome)> {
        let mut sim = Simulation::new();
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let o2 = out.clone();
        sim.add_testbench(move |mut ep: Sim<EvqUpdate>| {
            let mut x = ep.init()?;
            for (q, op, queue, cycles) in &cases {
                x.state.next = q.pack();
                x.queue.next = (*queue as u64).into();
                x.cycles.next = (*cycles).into();
                let (code, word, wdata, rec) = match *op {
                    Op::Push(r) => (op::PUSH, 0, 0, r),
                    Op::Read(w) => (op::READ, w, 0, [0, 0]),
                    Op::Write(w, v) => (op::WRITE, w, v, [0, 0]),
                    Op::Scrub => (op::SCRUB, 0, 0, [0, 0]),
                };
                x.op.next = code.into();
                x.word.next = (word as u64).into();
                x.wdata.next = (wdata as u64).into();
                x.record.next = record_bits(rec);
                x = ep.wait(1, x)?;
                let o = model::Outcome {
                    beat: x
                        .beat
                        .val()
                        .then(|| (u64_at(x.beat_addr.val(), 0), u128_words(x.beat_data.val()))),
                    dropped: x.dropped.val(),
                    ack: x.ack.val(),
                    nak: x.nak.val(),
                    rdata: x.rdata.val().index() as u32,
                    wake: x.wake.val().then(|| x.wake_watchdog.val()),
                    write: x.write.val(),
                };
                o2.lock()
                    .unwrap()
                    .push((Queue::unpack(x.new_state.val()), o));
            }
            ep.done(x)
        });
        let mut uut = EvqUpdate::default();
        uut.connect_all();
        sim.run(Box::new(uut), 1_000_000_000).unwrap();
        let r = out.lock().unwrap().clone();
        r
    }

    fn random_queue(rng: &mut impl Rng) -> Queue {
        let size_log2 = if rng.gen_bool(0.1) {
            0
        } else {
            rng.gen_range(vi::EVQ_SIZE_MIN..=8)
        };
        let size = 1u32 << size_log2;
        let rptr: u32 = rng.gen();
        // Mostly legal fills (0..=size), the edges often.
        let fill = match rng.gen_range(0..4) {
            0 => 0,
            1 => size,
            2 => size.saturating_sub(1),
            _ => rng.gen_range(0..=size),
        };
        let fill = if size_log2 == 0 { 0 } else { fill };
        Queue {
            base: rng.gen::<u64>() & !0xf,
            wptr: rptr.wrapping_add(fill),
            rptr,
            drops: if rng.gen_bool(0.1) {
                u32::MAX
            } else {
                rng.gen_range(0..5)
            },
            wd_limit: [0, 1, 100, rng.gen()][rng.gen_range(0..4)],
            wd_start: rng.gen(),
            size_log2,
            ovf: rng.gen(),
            armed: rng.gen(),
            wd_fired: rng.gen(),
        }
    }

    fn random_op(rng: &mut impl Rng, q: &Queue) -> Op {
        let (first, last) = evq_words();
        match rng.gen_range(0..6) {
            0 | 1 => Op::Push([rng.gen::<u64>() & !(1 << PHASE_BIT), rng.gen()]),
            2 => Op::Read(rng.gen_range(first..=last + 1)),
            3 => Op::Scrub,
            _ => {
                let w = rng.gen_range(first..=last + 1);
                let v = match rng.gen_range(0..4) {
                    // Doorbells around the legal range, sizes around theirs.
                    0 => q.rptr.wrapping_add(rng.gen_range(0..=q.fill() + 1)),
                    1 => q.rptr.wrapping_sub(1),
                    2 => rng.gen_range(0..=vi::EVQ_SIZE_MAX + 1),
                    _ => rng.gen(),
                };
                Op::Write(w, v)
            }
        }
    }

    #[test]
    fn every_operation_matches_the_model() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(10);
        let mut cases = Vec::new();
        for _ in 0..3000 {
            let q = random_queue(&mut rng);
            let op = random_op(&mut rng, &q);
            cases.push((q, op, rng.gen::<u16>(), rng.gen::<u64>() >> 8));
        }
        let got = run_block(cases.clone());
        assert_eq!(got.len(), cases.len());
        let count = |f: fn(&model::Outcome) -> bool| got.iter().filter(|g| f(&g.1)).count();
        let coverage = [
            count(|o| o.beat.is_some()),
            count(|o| o.dropped),
            count(|o| o.nak),
            count(|o| o.ack && o.rdata != 0),
            count(|o| o.wake == Some(false)),
            count(|o| o.wake == Some(true)),
        ];
        assert!(
            coverage.iter().all(|c| *c > 20),
            "every outcome is exercised: {coverage:?}"
        );
        for ((q, op, queue, cycles), (next, out)) in cases.iter().zip(got) {
            let mut want = *q;
            let o = want.apply(*op, *queue, *cycles);
            assert_eq!(
                (next, out),
                (want, o),
                "state {q:?}, operation {op:?}, queue {queue}, cycle {cycles}"
            );
        }
    }

    #[test]
    fn the_all_zero_word_is_a_disabled_queue() {
        let q = Queue::unpack(Bits::<STATE_BITS>::default());
        assert_eq!(q, Queue::default());
        let (_, o) = run_block(vec![(q, Op::Read(vi::EVQ_STATUS.word()), 0, 0)])[0];
        assert_eq!((o.ack, o.rdata), (true, 0), "not enabled, not armed");
        let (n, o) = run_block(vec![(q, Op::Push([1, 0]), 0, 0)])[0];
        assert!(o.dropped && o.beat.is_none() && n.drops == 1);
    }

    #[test]
    fn fields_fit_the_word_without_overlap() {
        let widths = [
            (field::BASE, 64),
            (field::WPTR, 32),
            (field::RPTR, 32),
            (field::DROPS, 32),
            (field::WD_LIMIT, 32),
            (field::WD_START, 32),
            (field::SIZE_LOG2, 5),
            (field::OVF, 1),
            (field::ARMED, 1),
            (field::WD_FIRED, 1),
        ];
        let mut used = vec![false; STATE_BITS];
        for (lsb, w) in widths {
            for b in lsb..lsb + w {
                assert!(!used[b as usize], "bit {b} used twice");
                used[b as usize] = true;
            }
        }
        assert!(used.iter().all(|u| *u), "no unused bits");
    }

    /// `SIZE_LOG2` is 5 bits: the largest ring size must fit (checked at compile time).
    const _: () = assert!(vi::EVQ_SIZE_MAX < 32);
}
