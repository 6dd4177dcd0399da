//! `RxFrames`: the receive path's frames in flight. It takes the MAC stream into the frame
//! buffer, gives each frame a slot (a small ring of per-frame records in RAM) and collects,
//! per slot, what the rest of the receive path learns about the frame, for the delivery
//! ([`crate::rx_deliver::RxDeliver`]) to take them in order.
//!
//! Generic over the slots: `F` = 2^`SB`.
//!
//! # Ports
//! - `clock`, `reset`; `cycles` (64): the cycle counter, for timestamps
//! - MAC stream `rx_data` (64), `rx_keep` (8), `rx_valid`, `rx_last` in (never stalled)
//! - from the parser and FCS checker watching the same stream: `p_key_valid` (its early-key
//!   pulse), `p_end_valid`, `p_end_flags` (8) (its end result), `fcs_valid`, `fcs_bad`
//! - `key_valid`, `key_slot` (SB) out: the parser's key of this cycle belongs to the frame in
//!   slot `key_slot` (0 for a frame that got no slot: its key is not looked up)
//! - verdicts in: `v_wr`, `v_slot` (SB), `v_data` ([`VERDICT_BITS`]): the verdict of a slot's
//!   frame; `lost_wr`, `lost_slot`: the frame's key found the key queue full
//! - the head slot (the oldest frame not yet finished by the delivery): `h_next` in (finish
//!   it: the next slot becomes the head at this edge); out `h_exists` (the head slot holds a
//!   frame), `h_ended` (its last beat has been taken), and each record as it becomes known:
//!   `h_v_valid`/`h_v`, `h_lost`, `h_e1_valid`/`h_e1_end` (11, the frame buffer word count after
//!   its last word)/`h_e1_len` (16, bytes with the FCS, saturating)/`h_e1_ovr` (words were lost
//!   to a full frame buffer), `h_e2_valid`/`h_e2_flags` (8, the parser's)/`h_e2_fcs` (the FCS
//!   was wrong), `h_ts_valid`/`h_ts` (40, timestamp)/`h_ghosts` (32, see below)
//! - `ghost_pending` out, `ghost_take` in: frames that got no slot after the newest slot
//! - frame buffer: `wptr` (11) out, the count of 16-byte words written; `fptr` (11) in, the
//!   count of words the delivery is done with; `fb_rd_en`, `fb_rd_addr` (10) in, `fb_rd_data`
//!   (128) out: the buffer's read port (registered), for the delivery
//! - `collision` out: OR of the RAMs' collision flags (never set)
//!
//! # Contract
//! Each frame starts at a fresh 16-byte word of the 16 KiB frame buffer, byte i of the frame in
//! byte i mod 16 of its word. A frame gets a slot at its first beat if one is free; then its
//! timestamp (`cycles` in the cycle its first beat transferred, low 40 bits) is recorded. A
//! frame that finds every slot in use is a "ghost": it is not stored, its key is not looked up,
//! and it is counted in `h_ghosts` of the next frame that gets a slot (or in `ghost_pending`
//! until one does), so that the delivery can account for it in order. A word that finds the
//! frame buffer full is lost and the frame marked (`h_e1_ovr`); its later words are dropped
//! too. The records of a slot are written once each; a record shows on `h_*` once it is
//! known and the slot is the head, until `h_next`.
//!
//! # Timing (cycles)
//! The beat transferring at edge t is in the buffer from edge t (its word, when complete: two
//! beats a word, or the last beat). The parser's outputs of cycle t+4 belong to the frame of
//! the beat of edge t (its latency, [`crate::parser::LATENCY`]); the FCS result of cycle N+1
//! goes with the end result of cycle N+4. For the head slot: `h_v` and `h_e2` show in the cycle
//! they are written (bypass), `h_e1` the cycle after the last beat (N+1, with `h_ended`),
//! `h_ts` two cycles after the slot becomes the head or is allocated; after `h_next` the
//! records of the next slot show one cycle later at the earliest.

use crate::ram::Ram;
use rust_hdl::prelude::*;

// The delay lines t1..t4 and fcs1..fcs3 are the parser's latency.
const _: () = assert!(crate::parser::LATENCY == 4);

/// Bits of a verdict record (its layout is the delivery's, [`crate::rx_deliver`]).
pub const VERDICT_BITS: usize = 38;
/// Address bits of the frame buffer, in 16-byte words (1024 words: 16 KiB).
pub const FBUF_BITS: usize = 10;

#[derive(LogicBlock)]
pub struct RxFrames<const F: usize, const SB: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rx_data: Signal<In, Bits<64>>,
    pub rx_keep: Signal<In, Bits<8>>,
    pub rx_valid: Signal<In, Bit>,
    pub rx_last: Signal<In, Bit>,
    pub p_key_valid: Signal<In, Bit>,
    pub p_end_valid: Signal<In, Bit>,
    pub p_end_flags: Signal<In, Bits<8>>,
    pub fcs_valid: Signal<In, Bit>,
    pub fcs_bad: Signal<In, Bit>,
    pub key_valid: Signal<Out, Bit>,
    pub key_slot: Signal<Out, Bits<SB>>,
    pub v_wr: Signal<In, Bit>,
    pub v_slot: Signal<In, Bits<SB>>,
    pub v_data: Signal<In, Bits<VERDICT_BITS>>,
    pub lost_wr: Signal<In, Bit>,
    pub lost_slot: Signal<In, Bits<SB>>,

    pub h_next: Signal<In, Bit>,
    pub h_exists: Signal<Out, Bit>,
    pub h_ended: Signal<Out, Bit>,
    pub h_v_valid: Signal<Out, Bit>,
    pub h_v: Signal<Out, Bits<VERDICT_BITS>>,
    pub h_lost: Signal<Out, Bit>,
    pub h_e1_valid: Signal<Out, Bit>,
    pub h_e1_end: Signal<Out, Bits<11>>,
    pub h_e1_len: Signal<Out, Bits<16>>,
    pub h_e1_ovr: Signal<Out, Bit>,
    pub h_e2_valid: Signal<Out, Bit>,
    pub h_e2_flags: Signal<Out, Bits<8>>,
    pub h_e2_fcs: Signal<Out, Bit>,
    pub h_ts_valid: Signal<Out, Bit>,
    pub h_ts: Signal<Out, Bits<40>>,
    pub h_ghosts: Signal<Out, Bits<32>>,
    pub ghost_pending: Signal<Out, Bit>,
    pub ghost_take: Signal<In, Bit>,

    pub wptr: Signal<Out, Bits<11>>,
    pub fptr: Signal<In, Bits<11>>,
    pub fb_rd_en: Signal<In, Bit>,
    pub fb_rd_addr: Signal<In, Bits<FBUF_BITS>>,
    pub fb_rd_data: Signal<Out, Bits<128>>,
    pub collision: Signal<Out, Bit>,

    fbuf: Ram<Bits<128>, FBUF_BITS>,
    /// Per slot: timestamp (39:0), ghosts before the frame (71:40).
    ts_ram: Ram<Bits<72>, SB>,
    /// Per slot: word count after the frame (10:0), length (26:11), overrun (27).
    e1_ram: Ram<Bits<28>, SB>,
    /// Per slot: parser flags (7:0), FCS bad (8).
    e2_ram: Ram<Bits<9>, SB>,
    v_ram: Ram<Bits<VERDICT_BITS>, SB>,
    v_bits: DFF<Bits<F>>,
    lost_bits: DFF<Bits<F>>,
    /// Slot counts (one bit more than a slot index): allocated, finished, ended, flagged.
    tail: DFF<Bits<8>>,
    head: DFF<Bits<8>>,
    e1_done: DFF<Bits<8>>,
    e2_done: DFF<Bits<8>>,
    /// Slots in use (`tail - head`), kept as a count so that the slot and head checks do not
    /// wait for a subtraction (timing).
    used: DFF<Bits<8>>,
    // MAC side.
    in_frame: DFF<Bit>,
    half: DFF<Bit>,
    lo: DFF<Bits<64>>,
    wcount: DFF<Bits<11>>,
    cur_admit: DFF<Bit>,
    cur_slot: DFF<Bits<SB>>,
    ovr: DFF<Bit>,
    blen: DFF<Bits<16>>,
    ghost_run: DFF<Bits<32>>,
    // The slot of each beat, delayed to the parser's outputs.
    t1_admit: DFF<Bit>,
    t1_slot: DFF<Bits<SB>>,
    t2_admit: DFF<Bit>,
    t2_slot: DFF<Bits<SB>>,
    t3_admit: DFF<Bit>,
    t3_slot: DFF<Bits<SB>>,
    t4_admit: DFF<Bit>,
    t4_slot: DFF<Bits<SB>>,
    fcs1: DFF<Bit>,
    fcs2: DFF<Bit>,
    fcs3: DFF<Bit>,
    // What the head's RAM outputs hold.
    v_have: DFF<Bit>,
    v_byp: DFF<Bit>,
    v_byp_data: DFF<Bits<VERDICT_BITS>>,
    e1_have: DFF<Bit>,
    e1_byp: DFF<Bit>,
    e1_byp_data: DFF<Bits<28>>,
    e2_have: DFF<Bit>,
    e2_byp: DFF<Bit>,
    e2_byp_data: DFF<Bits<9>>,
    ts_have: DFF<Bit>,

    hslot: Signal<Local, Bits<SB>>,
    head_clr: Signal<Local, Bits<F>>,
    v_set: Signal<Local, Bits<F>>,
    lost_set: Signal<Local, Bits<F>>,
    used_slots: Signal<Local, Bits<8>>,
    alloc: Signal<Local, Bit>,
    fire: Signal<Local, Bit>,
    first: Signal<Local, Bit>,
    admit_now: Signal<Local, Bit>,
    admit_eff: Signal<Local, Bit>,
    slot_eff: Signal<Local, Bits<SB>>,
    ovr_eff: Signal<Local, Bit>,
    wword: Signal<Local, Bit>,
    full: Signal<Local, Bit>,
    fill: Signal<Local, Bits<11>>,
    ovr_now: Signal<Local, Bit>,
    wnext: Signal<Local, Bits<11>>,
    nbytes: Signal<Local, Bits<16>>,
    blen_base: Signal<Local, Bits<16>>,
    sum17: Signal<Local, Bits<17>>,
    newlen: Signal<Local, Bits<16>>,
    ghost_left: Signal<Local, Bits<32>>,
    ghost_dec: Signal<Local, Bit>,
    e2_wr: Signal<Local, Bit>,
    e2_data: Signal<Local, Bits<9>>,
    v_now: Signal<Local, Bit>,
    e2_now: Signal<Local, Bit>,
    e1_now: Signal<Local, Bit>,
    v_rd: Signal<Local, Bit>,
    e1_rd: Signal<Local, Bit>,
    e2_rd: Signal<Local, Bit>,
    ts_rd: Signal<Local, Bit>,
    slots: Constant<Bits<8>>,
}

impl<const F: usize, const SB: usize> Default for RxFrames<F, SB> {
    fn default() -> Self {
        assert_eq!(F, 1 << SB);
        assert!(SB < 8);
        RxFrames {
            clock: Default::default(),
            reset: Default::default(),
            cycles: Default::default(),
            rx_data: Default::default(),
            rx_keep: Default::default(),
            rx_valid: Default::default(),
            rx_last: Default::default(),
            p_key_valid: Default::default(),
            p_end_valid: Default::default(),
            p_end_flags: Default::default(),
            fcs_valid: Default::default(),
            fcs_bad: Default::default(),
            key_valid: Default::default(),
            key_slot: Default::default(),
            v_wr: Default::default(),
            v_slot: Default::default(),
            v_data: Default::default(),
            lost_wr: Default::default(),
            lost_slot: Default::default(),
            h_next: Default::default(),
            h_exists: Default::default(),
            h_ended: Default::default(),
            h_v_valid: Default::default(),
            h_v: Default::default(),
            h_lost: Default::default(),
            h_e1_valid: Default::default(),
            h_e1_end: Default::default(),
            h_e1_len: Default::default(),
            h_e1_ovr: Default::default(),
            h_e2_valid: Default::default(),
            h_e2_flags: Default::default(),
            h_e2_fcs: Default::default(),
            h_ts_valid: Default::default(),
            h_ts: Default::default(),
            h_ghosts: Default::default(),
            ghost_pending: Default::default(),
            ghost_take: Default::default(),
            wptr: Default::default(),
            fptr: Default::default(),
            fb_rd_en: Default::default(),
            fb_rd_addr: Default::default(),
            fb_rd_data: Default::default(),
            collision: Default::default(),
            fbuf: Default::default(),
            ts_ram: Default::default(),
            e1_ram: Default::default(),
            e2_ram: Default::default(),
            v_ram: Default::default(),
            v_bits: Default::default(),
            lost_bits: Default::default(),
            tail: Default::default(),
            head: Default::default(),
            e1_done: Default::default(),
            e2_done: Default::default(),
            used: Default::default(),
            in_frame: Default::default(),
            half: Default::default(),
            lo: Default::default(),
            wcount: Default::default(),
            cur_admit: Default::default(),
            cur_slot: Default::default(),
            ovr: Default::default(),
            blen: Default::default(),
            ghost_run: Default::default(),
            t1_admit: Default::default(),
            t1_slot: Default::default(),
            t2_admit: Default::default(),
            t2_slot: Default::default(),
            t3_admit: Default::default(),
            t3_slot: Default::default(),
            t4_admit: Default::default(),
            t4_slot: Default::default(),
            fcs1: Default::default(),
            fcs2: Default::default(),
            fcs3: Default::default(),
            v_have: Default::default(),
            v_byp: Default::default(),
            v_byp_data: Default::default(),
            e1_have: Default::default(),
            e1_byp: Default::default(),
            e1_byp_data: Default::default(),
            e2_have: Default::default(),
            e2_byp: Default::default(),
            e2_byp_data: Default::default(),
            ts_have: Default::default(),
            hslot: Default::default(),
            head_clr: Default::default(),
            v_set: Default::default(),
            lost_set: Default::default(),
            used_slots: Default::default(),
            alloc: Default::default(),
            fire: Default::default(),
            first: Default::default(),
            admit_now: Default::default(),
            admit_eff: Default::default(),
            slot_eff: Default::default(),
            ovr_eff: Default::default(),
            wword: Default::default(),
            full: Default::default(),
            fill: Default::default(),
            ovr_now: Default::default(),
            wnext: Default::default(),
            nbytes: Default::default(),
            blen_base: Default::default(),
            sum17: Default::default(),
            newlen: Default::default(),
            ghost_left: Default::default(),
            ghost_dec: Default::default(),
            e2_wr: Default::default(),
            e2_data: Default::default(),
            v_now: Default::default(),
            e2_now: Default::default(),
            e1_now: Default::default(),
            v_rd: Default::default(),
            e1_rd: Default::default(),
            e2_rd: Default::default(),
            ts_rd: Default::default(),
            slots: Constant::new((F as u64).into()),
        }
    }
}

impl<const F: usize, const SB: usize> Logic for RxFrames<F, SB> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            v_bits,
            lost_bits,
            tail,
            head,
            e1_done,
            e2_done,
            used,
            in_frame,
            half,
            lo,
            wcount,
            cur_admit,
            cur_slot,
            ovr,
            blen,
            ghost_run,
            t1_admit,
            t1_slot,
            t2_admit,
            t2_slot,
            t3_admit,
            t3_slot,
            t4_admit,
            t4_slot,
            fcs1,
            fcs2,
            fcs3,
            v_have,
            v_byp,
            v_byp_data,
            e1_have,
            e1_byp,
            e1_byp_data,
            e2_have,
            e2_byp,
            e2_byp_data,
            ts_have
        );
        self.fbuf.clock.next = self.clock.val();
        self.ts_ram.clock.next = self.clock.val();
        self.e1_ram.clock.next = self.clock.val();
        self.e2_ram.clock.next = self.clock.val();
        self.v_ram.clock.next = self.clock.val();
        self.collision.next = self.fbuf.collision.val()
            | self.ts_ram.collision.val()
            | self.e1_ram.collision.val()
            | self.e2_ram.collision.val()
            | self.v_ram.collision.val();
        self.hslot.next = self.head.q.val().get_bits::<SB>(0);
        self.used_slots.next = self.used.q.val();

        // ---- MAC side: slots, the frame buffer, the end of each frame. ----
        self.fire.next = self.rx_valid.val();
        self.first.next = self.fire.val() & !self.in_frame.q.val();
        self.admit_now.next = self.used_slots.val() != self.slots.val();
        self.admit_eff.next = self.cur_admit.q.val();
        self.slot_eff.next = self.cur_slot.q.val();
        self.ovr_eff.next = self.ovr.q.val();
        self.blen_base.next = self.blen.q.val();
        if !self.in_frame.q.val() {
            self.admit_eff.next = self.admit_now.val();
            self.slot_eff.next = self.tail.q.val().get_bits::<SB>(0);
            self.ovr_eff.next = false;
            self.blen_base.next = 0.into();
        }
        // Bytes of this beat (keep is contiguous from bit 0) and of the frame so far.
        self.nbytes.next = 0.into();
        if self.rx_keep.val().get_bit(0) {
            self.nbytes.next = 1.into();
        }
        if self.rx_keep.val().get_bit(1) {
            self.nbytes.next = 2.into();
        }
        if self.rx_keep.val().get_bit(2) {
            self.nbytes.next = 3.into();
        }
        if self.rx_keep.val().get_bit(3) {
            self.nbytes.next = 4.into();
        }
        if self.rx_keep.val().get_bit(4) {
            self.nbytes.next = 5.into();
        }
        if self.rx_keep.val().get_bit(5) {
            self.nbytes.next = 6.into();
        }
        if self.rx_keep.val().get_bit(6) {
            self.nbytes.next = 7.into();
        }
        if self.rx_keep.val().get_bit(7) {
            self.nbytes.next = 8.into();
        }
        self.sum17.next =
            bit_cast::<17, 16>(self.blen_base.val()) + bit_cast::<17, 16>(self.nbytes.val());
        self.newlen.next = self.sum17.val().get_bits::<16>(0);
        if self.sum17.val().get_bit(16) {
            self.newlen.next = 0xffff.into();
        }
        // A word is complete with the second beat of a pair or the frame's last.
        self.wword.next =
            self.fire.val() & (self.half.q.val() | self.rx_last.val()) & self.admit_eff.val();
        // Words in the buffer (a local: Verilog cannot index an expression).
        self.fill.next = self.wcount.q.val() - self.fptr.val();
        self.full.next = self.fill.val().get_bit(10);
        self.ovr_now.next = self.ovr_eff.val() | (self.wword.val() & self.full.val());
        self.fbuf.wr_en.next = self.wword.val() & !self.ovr_now.val();
        self.fbuf.wr_addr.next = self.wcount.q.val().get_bits::<FBUF_BITS>(0);
        self.fbuf.wr_data.next = bit_cast::<128, 64>(self.rx_data.val());
        if self.half.q.val() {
            self.fbuf.wr_data.next = (bit_cast::<128, 64>(self.rx_data.val()) << 64)
                | bit_cast::<128, 64>(self.lo.q.val());
        }
        self.wnext.next = self.wcount.q.val();
        if self.wword.val() & !self.ovr_now.val() {
            self.wnext.next = self.wcount.q.val() + 1;
        }
        self.wcount.d.next = self.wnext.val();

        // Slots and ghosts.
        // The run after the delivery's take, and, for a ghost, one more (saturating). The
        // count's next value is chosen by conditions on the count itself, not on the
        // decremented one (timing): a take and a ghost in one cycle leave it as it is.
        self.ghost_dec.next = self.ghost_take.val() & (self.ghost_run.q.val() != 0);
        self.ghost_left.next = self.ghost_run.q.val();
        if self.ghost_dec.val() {
            self.ghost_left.next = self.ghost_run.q.val() - 1;
        }
        if self.ghost_dec.val() & !(self.first.val() & !self.admit_now.val()) {
            self.ghost_run.d.next = self.ghost_run.q.val() - 1;
        }
        self.ts_ram.wr_en.next = false;
        self.ts_ram.wr_addr.next = self.tail.q.val().get_bits::<SB>(0);
        self.ts_ram.wr_data.next = bit_cast::<72, 40>(self.cycles.val().get_bits::<40>(0))
            | (bit_cast::<72, 32>(self.ghost_left.val()) << 40);
        self.alloc.next = self.first.val() & self.admit_now.val();
        if self.first.val() {
            if self.admit_now.val() {
                self.ts_ram.wr_en.next = true;
                self.tail.d.next = self.tail.q.val() + 1;
                self.ghost_run.d.next = 0.into();
            } else if !self.ghost_dec.val() & !self.ghost_run.q.val().all() {
                self.ghost_run.d.next = self.ghost_run.q.val() + 1;
            }
        }

        self.e1_ram.wr_en.next = false;
        self.e1_ram.wr_addr.next = self.slot_eff.val();
        self.e1_ram.wr_data.next = bit_cast::<28, 11>(self.wnext.val())
            | (bit_cast::<28, 16>(self.newlen.val()) << 11)
            | (bit_cast::<28, 1>(self.ovr_now.val().into()) << 27);
        if self.fire.val() {
            if !self.half.q.val() {
                self.lo.d.next = self.rx_data.val();
            }
            if self.rx_last.val() {
                self.in_frame.d.next = false;
                self.half.d.next = false;
                if self.admit_eff.val() {
                    self.e1_ram.wr_en.next = true;
                    self.e1_done.d.next = self.e1_done.q.val() + 1;
                }
            } else {
                self.in_frame.d.next = true;
                self.half.d.next = !self.half.q.val();
            }
            self.cur_admit.d.next = self.admit_eff.val();
            self.cur_slot.d.next = self.slot_eff.val();
            self.ovr.d.next = self.ovr_now.val();
            self.blen.d.next = self.newlen.val();
        }

        // ---- The parser's outputs: whose frame, and the end record. ----
        self.t1_admit.d.next = self.fire.val() & self.admit_eff.val();
        self.t1_slot.d.next = self.slot_eff.val();
        self.t2_admit.d.next = self.t1_admit.q.val();
        self.t2_slot.d.next = self.t1_slot.q.val();
        self.t3_admit.d.next = self.t2_admit.q.val();
        self.t3_slot.d.next = self.t2_slot.q.val();
        self.t4_admit.d.next = self.t3_admit.q.val();
        self.t4_slot.d.next = self.t3_slot.q.val();
        self.fcs1.d.next = self.fcs_valid.val() & self.fcs_bad.val();
        self.fcs2.d.next = self.fcs1.q.val();
        self.fcs3.d.next = self.fcs2.q.val();
        self.key_valid.next = self.p_key_valid.val() & self.t4_admit.q.val();
        self.key_slot.next = self.t4_slot.q.val();
        self.e2_wr.next = self.p_end_valid.val() & self.t4_admit.q.val();
        self.e2_data.next = bit_cast::<9, 8>(self.p_end_flags.val())
            | (bit_cast::<9, 1>(self.fcs3.q.val().into()) << 8);
        self.e2_ram.wr_en.next = self.e2_wr.val();
        self.e2_ram.wr_addr.next = self.t4_slot.q.val();
        self.e2_ram.wr_data.next = self.e2_data.val();
        if self.e2_wr.val() {
            self.e2_done.d.next = self.e2_done.q.val() + 1;
        }

        // ---- Verdicts. ----
        self.v_ram.wr_en.next = self.v_wr.val();
        self.v_ram.wr_addr.next = self.v_slot.val();
        self.v_ram.wr_data.next = self.v_data.val();
        // A slot's bit is set by its verdict (or lost key) and cleared when the slot is
        // finished; both may happen in one cycle (for different slots).
        self.head_clr.next = bits::<F>(0);
        if self.h_next.val() {
            self.head_clr.next = bits::<F>(1) << self.hslot.val();
        }
        self.v_set.next = bits::<F>(0);
        if self.v_wr.val() {
            self.v_set.next = bits::<F>(1) << self.v_slot.val();
        }
        self.lost_set.next = bits::<F>(0);
        if self.lost_wr.val() {
            self.lost_set.next = bits::<F>(1) << self.lost_slot.val();
        }
        self.v_bits.d.next = (self.v_bits.q.val() | self.v_set.val()) & !self.head_clr.val();
        self.lost_bits.d.next =
            (self.lost_bits.q.val() | self.lost_set.val()) & !self.head_clr.val();

        // ---- The head slot's records. ----
        self.h_exists.next = self.used_slots.val() != 0;
        self.h_ended.next = self.e1_done.q.val() != self.head.q.val();
        self.v_now.next = self.v_wr.val() & (self.v_slot.val() == self.hslot.val());
        self.e2_now.next = self.e2_wr.val() & (self.t4_slot.q.val() == self.hslot.val());
        // A record is read once its slot says it is written (at an earlier edge).
        self.v_rd.next = !self.v_have.q.val()
            & !self.v_byp.q.val()
            & self.v_bits.q.val().get_bit(self.hslot.val().index())
            & !self.h_next.val();
        // The head's end record, written at this edge: taken at once (bypass), so that it
        // shows with `h_ended`.
        self.e1_now.next = self.e1_ram.wr_en.val()
            & (self.slot_eff.val() == self.hslot.val())
            & !self.h_next.val();
        self.e1_rd.next =
            !self.e1_have.q.val() & !self.e1_byp.q.val() & self.h_ended.val() & !self.h_next.val();
        self.e2_rd.next = !self.e2_have.q.val()
            & !self.e2_byp.q.val()
            & (self.e2_done.q.val() != self.head.q.val())
            & !self.h_next.val();
        self.ts_rd.next = !self.ts_have.q.val() & self.h_exists.val() & !self.h_next.val();
        self.v_ram.rd_en.next = self.v_rd.val();
        self.v_ram.rd_addr.next = self.hslot.val();
        self.e1_ram.rd_en.next = self.e1_rd.val();
        self.e1_ram.rd_addr.next = self.hslot.val();
        self.e2_ram.rd_en.next = self.e2_rd.val();
        self.e2_ram.rd_addr.next = self.hslot.val();
        self.ts_ram.rd_en.next = self.ts_rd.val();
        self.ts_ram.rd_addr.next = self.hslot.val();
        if self.v_rd.val() {
            self.v_have.d.next = true;
        }
        if self.v_now.val() & !self.v_have.q.val() {
            self.v_byp.d.next = true;
            self.v_byp_data.d.next = self.v_data.val();
        }
        if self.e1_rd.val() {
            self.e1_have.d.next = true;
        }
        if self.e1_now.val() & !self.e1_have.q.val() {
            self.e1_byp.d.next = true;
            self.e1_byp_data.d.next = self.e1_ram.wr_data.val();
        }
        if self.e2_rd.val() {
            self.e2_have.d.next = true;
        }
        if self.e2_now.val() & !self.e2_have.q.val() {
            self.e2_byp.d.next = true;
            self.e2_byp_data.d.next = self.e2_data.val();
        }
        if self.ts_rd.val() {
            self.ts_have.d.next = true;
        }
        self.h_v_valid.next = self.v_have.q.val() | self.v_byp.q.val() | self.v_now.val();
        self.h_v.next = self.v_ram.rd_data.val();
        if self.v_byp.q.val() {
            self.h_v.next = self.v_byp_data.q.val();
        } else if !self.v_have.q.val() {
            self.h_v.next = self.v_data.val();
        }
        self.h_lost.next = self.lost_bits.q.val().get_bit(self.hslot.val().index());
        self.h_e1_valid.next = self.e1_have.q.val() | self.e1_byp.q.val();
        self.h_e1_end.next = self.e1_ram.rd_data.val().get_bits::<11>(0);
        self.h_e1_len.next = self.e1_ram.rd_data.val().get_bits::<16>(11);
        self.h_e1_ovr.next = self.e1_ram.rd_data.val().get_bit(27);
        if self.e1_byp.q.val() {
            self.h_e1_end.next = self.e1_byp_data.q.val().get_bits::<11>(0);
            self.h_e1_len.next = self.e1_byp_data.q.val().get_bits::<16>(11);
            self.h_e1_ovr.next = self.e1_byp_data.q.val().get_bit(27);
        }
        self.h_e2_valid.next = self.e2_have.q.val() | self.e2_byp.q.val() | self.e2_now.val();
        self.h_e2_flags.next = self.e2_ram.rd_data.val().get_bits::<8>(0);
        self.h_e2_fcs.next = self.e2_ram.rd_data.val().get_bit(8);
        if self.e2_byp.q.val() {
            self.h_e2_flags.next = self.e2_byp_data.q.val().get_bits::<8>(0);
            self.h_e2_fcs.next = self.e2_byp_data.q.val().get_bit(8);
        } else if !self.e2_have.q.val() {
            self.h_e2_flags.next = self.e2_data.val().get_bits::<8>(0);
            self.h_e2_fcs.next = self.e2_data.val().get_bit(8);
        }
        self.h_ts_valid.next = self.ts_have.q.val();
        self.h_ts.next = self.ts_ram.rd_data.val().get_bits::<40>(0);
        self.h_ghosts.next = self.ts_ram.rd_data.val().get_bits::<32>(40);
        self.ghost_pending.next = self.ghost_run.q.val() != 0;
        // `used` follows `tail - head`: a slot allocated, the head finished.
        if self.alloc.val() & !self.h_next.val() {
            self.used.d.next = self.used.q.val() + 1;
        }
        if !self.alloc.val() & self.h_next.val() {
            self.used.d.next = self.used.q.val() - 1;
        }
        if self.h_next.val() {
            self.head.d.next = self.head.q.val() + 1;
            self.v_have.d.next = false;
            self.v_byp.d.next = false;
            self.e1_have.d.next = false;
            self.e1_byp.d.next = false;
            self.e2_have.d.next = false;
            self.e2_byp.d.next = false;
            self.ts_have.d.next = false;
        }

        self.wptr.next = self.wcount.q.val();
        self.fbuf.rd_en.next = self.fb_rd_en.val();
        self.fbuf.rd_addr.next = self.fb_rd_addr.val();
        self.fb_rd_data.next = self.fbuf.rd_data.val();

        if self.reset.val() {
            self.v_bits.d.next = 0.into();
            self.lost_bits.d.next = 0.into();
            self.tail.d.next = 0.into();
            self.head.d.next = 0.into();
            self.used.d.next = 0.into();
            self.e1_done.d.next = 0.into();
            self.e2_done.d.next = 0.into();
            self.in_frame.d.next = false;
            self.half.d.next = false;
            self.wcount.d.next = 0.into();
            self.ghost_run.d.next = 0.into();
            self.t1_admit.d.next = false;
            self.t2_admit.d.next = false;
            self.t3_admit.d.next = false;
            self.t4_admit.d.next = false;
            self.fcs1.d.next = false;
            self.fcs2.d.next = false;
            self.fcs3.d.next = false;
            self.v_have.d.next = false;
            self.v_byp.d.next = false;
            self.e1_have.d.next = false;
            self.e1_byp.d.next = false;
            self.e2_have.d.next = false;
            self.e2_byp.d.next = false;
            self.ts_have.d.next = false;
        }
    }
}
