//! `RxDeliver`: the receive path's delivery. It takes frames in order from the head of
//! [`crate::rx_frames::RxFrames`], gets a descriptor from [`crate::rx_ring::RxRings`] for each
//! frame to be stored, writes the frame's data by DMA as it arrives (cut-through), and at the
//! frame's end decides its outcome: an RX event, or a drop, counted.
//!
//! Generic over the VI index width `VB`.
//!
//! # Ports
//! - the head slot (from `RxFrames`): `h_exists`, `h_ended`, `h_v_valid`, `h_v`, `h_lost`,
//!   `h_e1_*`, `h_e2_*`, `h_ts_valid`, `h_ts`, `h_ghosts`, `ghost_pending` in; `h_next`,
//!   `ghost_take` out
//! - frame buffer: `wptr` (11) in; `fptr` (11) out (words before it are free);
//!   `fb_rd_en`, `fb_rd_addr` (10) out, `fb_rd_data` (128) in
//! - rings: `d_valid`, `d_op`, `d_vi` out, `d_ready` in; `p_valid`, `p_status`, `p_addr`,
//!   `p_len`, `p_err`, `p_rptr`, `p_db`, `fill_valid`, `fill_vi` in (see `RxRings`)
//! - DMA writes `dw_valid`, `dw_ready` (in), `dw_addr` (64), `dw_data` (128), `dw_strb` (16)
//! - RX events `ev_valid`, `ev_ready` (in), `ev_to_group`, `ev_target` (8), `ev_kind` (4),
//!   `ev_flags` (8), `ev_source` (16), `ev_payload` (32), `ev_aux` (16), `ev_timestamp` (40)
//! - `fcs_drop` in (`RX_CONFIG.FCS_DROP`)
//! - counting strobes out: `c_frame`, `c_dec_drop` (3), `c_delivered`, `c_del_drop` (3) (see
//!   [`crate::rx_regs::RxRegs`]), `c_desc_wait` (a frame waited for its descriptor)
//! - `dbg_valid`, `dbg_flags`, `dbg_len`, `dbg_hit`, `dbg_filter` (16), `dbg_action` (16): one
//!   pulse per frame, in order, at its outcome
//!
//! # Contract
//! Every frame has exactly one outcome, in frame order: `c_frame`, then `c_delivered` (an RX
//! event) or one drop reason. The reason, in this order of precedence: DISABLED (at the
//! verdict); OVERRUN (the frame got no slot, its key found the key queue full, or its data did
//! not fit the frame buffer); FCS_BAD (a bad FCS with `fcs_drop`, sampled at the frame's end);
//! FILTER or NO_MATCH (the verdict's action is a drop); NO_BUFFER (the ring had no posted
//! descriptor, or one still being fetched after [`DESC_WAIT_MAX`] cycles); BAD_DESC (the
//! descriptor could not be read or has length 0; it is consumed).
//!
//! A frame to be stored (a VI action, or a group action with a default VI) asks its ring for a
//! descriptor as soon as its verdict is known, possibly long before its end. A descriptor still
//! being fetched is waited for (the wait is counted once per frame in `c_desc_wait`); only a
//! ring with nothing posted (or disabled) makes NO_BUFFER. The frame's bytes are then written
//! from the start of the buffer, 16 per beat, as they come from the MAC, cut to the buffer
//! length (then TRUNCATED): no byte outside `[address, address + length)` is written. A frame
//! that is dropped after some of its data was written (FCS_BAD, OVERRUN) leaves the descriptor
//! unused: the next frame of the ring uses the same buffer and overwrites it, and no event
//! names the partial data. Otherwise, after the frame's last data beat was taken (so the host
//! sees the data before the event) the RX event: flags = the parser's | FCS_BAD | TRUNCATED |
//! DROPPED_BEFORE, source = the filter entry (`SOURCE_NONE` for the default action), payload =
//! the descriptor count (15:0) and the ring's VI (23:16), or NOT_STORED; aux = the bytes
//! written (the frame length when not stored); timestamp = the cycle of the frame's first beat.
//! A NO_BUFFER drop is counted in the ring's `RXQ_DROPS` and flags the ring's next event
//! DROPPED_BEFORE.
//!
//! # Timing (cycles)
//! A verdict shown in cycle V asks for the descriptor in V; with it prefetched, the first data
//! beat is offered in V+2 (when its word is in the frame buffer). Beats follow one per cycle
//! while words are there. The event is offered (`ev_valid`) in the cycle after the later of
//! the cycle its last data beat is taken and the cycle its end record (`h_e2`, cycle N+4 after
//! the last MAC beat at edge N, the parser's latency) shows, so at N+5 for a frame whose
//! verdict came early enough, else the cycle after its last data beat (the outcome is decided
//! in the cycle that beat is taken; before, one finish cycle came between, and it still does
//! when fewer than 32 bytes of the buffer were left before that beat, for a frame of 65,535
//! bytes or more, one not delivered, or when the ring does not take the descriptor's use in
//! that cycle). A frame's outcome takes one cycle; the next frame's records show one cycle
//! after it. Ghosts (frames without a slot) take
//! one cycle each.

use crate::konst;
use evnic_regs::event::{rx_flags, EventType};
use evnic_regs::map::filter::{self as fr, DropReason};
use rust_hdl::prelude::*;

pub use crate::rx_frames::VERDICT_BITS;

/// Cycles a frame waits for a descriptor being fetched before it is dropped as NO_BUFFER.
pub const DESC_WAIT_MAX: u64 = 1024;

/// The verdict record, as the receive path packs it for [`crate::rx_frames::RxFrames`]:
/// (lsb, width) of each field.
pub mod verdict {
    /// Drop reason decided at the verdict ([`super::DropReason`] code: DISABLED, FILTER,
    /// NO_MATCH), 0 none.
    pub const REASON: (usize, usize) = (0, 3);
    /// The event goes to a group.
    pub const GROUP: (usize, usize) = (3, 1);
    /// The event's target: VI or group.
    pub const TARGET: (usize, usize) = (4, 8);
    /// The VI whose ring stores the data.
    pub const RING: (usize, usize) = (12, 8);
    /// The data is stored.
    pub const STORE: (usize, usize) = (20, 1);
    /// A filter entry matched.
    pub const HIT: (usize, usize) = (21, 1);
    /// The entry's index.
    pub const INDEX: (usize, usize) = (22, 16);
}

// States (literals in the HDL): 0 head, 1 prep, 2 wait for a descriptor, 3 stream, 4 skip,
// 5 finish.

#[derive(LogicBlock)]
pub struct RxDeliver<const VB: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,

    pub h_exists: Signal<In, Bit>,
    pub h_ended: Signal<In, Bit>,
    pub h_v_valid: Signal<In, Bit>,
    pub h_v: Signal<In, Bits<VERDICT_BITS>>,
    pub h_lost: Signal<In, Bit>,
    pub h_e1_valid: Signal<In, Bit>,
    pub h_e1_end: Signal<In, Bits<11>>,
    pub h_e1_len: Signal<In, Bits<16>>,
    pub h_e1_ovr: Signal<In, Bit>,
    pub h_e2_valid: Signal<In, Bit>,
    pub h_e2_flags: Signal<In, Bits<8>>,
    pub h_e2_fcs: Signal<In, Bit>,
    pub h_ts_valid: Signal<In, Bit>,
    pub h_ts: Signal<In, Bits<40>>,
    pub h_ghosts: Signal<In, Bits<32>>,
    pub ghost_pending: Signal<In, Bit>,
    pub h_next: Signal<Out, Bit>,
    pub ghost_take: Signal<Out, Bit>,

    pub wptr: Signal<In, Bits<11>>,
    pub fptr: Signal<Out, Bits<11>>,
    pub fb_rd_en: Signal<Out, Bit>,
    pub fb_rd_addr: Signal<Out, Bits<10>>,
    pub fb_rd_data: Signal<In, Bits<128>>,

    pub d_valid: Signal<Out, Bit>,
    pub d_op: Signal<Out, Bits<2>>,
    pub d_vi: Signal<Out, Bits<VB>>,
    pub d_ready: Signal<In, Bit>,
    pub p_valid: Signal<In, Bit>,
    pub p_status: Signal<In, Bits<2>>,
    pub p_addr: Signal<In, Bits<64>>,
    pub p_len: Signal<In, Bits<16>>,
    pub p_err: Signal<In, Bit>,
    pub p_rptr: Signal<In, Bits<16>>,
    pub p_db: Signal<In, Bit>,
    pub fill_valid: Signal<In, Bit>,
    pub fill_vi: Signal<In, Bits<VB>>,

    pub dw_valid: Signal<Out, Bit>,
    pub dw_ready: Signal<In, Bit>,
    pub dw_addr: Signal<Out, Bits<64>>,
    pub dw_data: Signal<Out, Bits<128>>,
    pub dw_strb: Signal<Out, Bits<16>>,

    pub ev_valid: Signal<Out, Bit>,
    pub ev_ready: Signal<In, Bit>,
    pub ev_to_group: Signal<Out, Bit>,
    pub ev_target: Signal<Out, Bits<8>>,
    pub ev_kind: Signal<Out, Bits<4>>,
    pub ev_flags: Signal<Out, Bits<8>>,
    pub ev_source: Signal<Out, Bits<16>>,
    pub ev_payload: Signal<Out, Bits<32>>,
    pub ev_aux: Signal<Out, Bits<16>>,
    pub ev_timestamp: Signal<Out, Bits<40>>,

    pub fcs_drop: Signal<In, Bit>,
    pub c_frame: Signal<Out, Bit>,
    pub c_dec_drop: Signal<Out, Bits<3>>,
    pub c_delivered: Signal<Out, Bit>,
    pub c_del_drop: Signal<Out, Bits<3>>,
    pub c_desc_wait: Signal<Out, Bit>,

    pub dbg_valid: Signal<Out, Bit>,
    pub dbg_flags: Signal<Out, Bits<8>>,
    pub dbg_len: Signal<Out, Bits<16>>,
    pub dbg_hit: Signal<Out, Bit>,
    pub dbg_filter: Signal<Out, Bits<16>>,
    pub dbg_action: Signal<Out, Bits<16>>,

    state: DFF<Bits<3>>,
    bptr: DFF<Bits<11>>,
    fb_have: DFF<Bit>,
    gh_loaded: DFF<Bit>,
    gh_left: DFF<Bits<32>>,
    // The head frame's verdict.
    c_lost: DFF<Bit>,
    c_reason: DFF<Bits<3>>,
    c_group: DFF<Bit>,
    c_target: DFF<Bits<8>>,
    c_ring: DFF<Bits<VB>>,
    c_store: DFF<Bit>,
    c_hit: DFF<Bit>,
    c_index: DFF<Bits<16>>,
    /// NO_BUFFER or BAD_DESC, found when asking for the descriptor.
    c_drop: DFF<Bits<3>>,
    prep_issued: DFF<Bit>,
    fill_seen: DFF<Bit>,
    waited: DFF<Bit>,
    wait_cnt: DFF<Bits<11>>,
    // The buffer being written.
    waddr: DFF<Bits<64>>,
    room: DFF<Bits<16>>,
    wlen: DFF<Bits<16>>,
    fpos: DFF<Bits<16>>,
    trunc: DFF<Bit>,
    rptr: DFF<Bits<16>>,
    db: DFF<Bit>,
    // The event waiting to be taken.
    ev_pend: DFF<Bit>,
    ev_group_q: DFF<Bit>,
    ev_target_q: DFF<Bits<8>>,
    ev_flags_q: DFF<Bits<8>>,
    ev_source_q: DFF<Bits<16>>,
    ev_payload_q: DFF<Bits<32>>,
    ev_aux_q: DFF<Bits<16>>,
    ev_ts_q: DFF<Bits<40>>,

    bnext: Signal<Local, Bits<11>>,
    avail_end: Signal<Local, Bits<11>>,
    can_move: Signal<Local, Bit>,
    v_reason: Signal<Local, Bits<3>>,
    v_store: Signal<Local, Bit>,
    v_ring: Signal<Local, Bits<VB>>,
    prep_go: Signal<Local, Bit>,
    streaming: Signal<Local, Bit>,
    eff_addr: Signal<Local, Bits<64>>,
    eff_room: Signal<Local, Bits<16>>,
    word_here: Signal<Local, Bit>,
    /// The frame's bytes from `fpos` on are known and fewer than 16.
    last_word: Signal<Local, Bit>,
    /// The room is below 32 bytes (then its low 5 bits are compared with a word's bytes).
    room_small: Signal<Local, Bit>,
    room_lo: Signal<Local, Bits<5>>,
    word_lo: Signal<Local, Bits<5>>,
    /// The room after this cycle is 0.
    room_empty: Signal<Local, Bit>,
    word_bytes: Signal<Local, Bits<16>>,
    beat_bytes: Signal<Local, Bits<16>>,
    took: Signal<Local, Bit>,
    room_after: Signal<Local, Bits<16>>,
    strb32: Signal<Local, Bits<32>>,
    fill_mine: Signal<Local, Bit>,
    ghost_now: Signal<Local, Bit>,
    fin_ready: Signal<Local, Bit>,
    final_reason: Signal<Local, Bits<3>>,
    to_deliver: Signal<Local, Bit>,
    need_op: Signal<Local, Bit>,
    fin_go: Signal<Local, Bit>,
    /// Everything a frame's event needs besides its data is in: its end records, its
    /// timestamp and the ghosts before it.
    records_in: Signal<Local, Bit>,
    /// The frame's last word is taken in this cycle, with room for it, and everything else for its event
    /// is in: the outcome is decided in this cycle (no finish cycle) if the ring takes the
    /// descriptor's use now (`d_ready`).
    fin_fast: Signal<Local, Bit>,
    /// The word count after the word at `bptr`.
    bplus: Signal<Local, Bits<11>>,
    dec_class: Signal<Local, Bit>,
    fl_parser: Signal<Local, Bits<8>>,
    fl_event: Signal<Local, Bits<8>>,

    r_disabled: Constant<Bits<3>>,
    r_overrun: Constant<Bits<3>>,
    r_fcs: Constant<Bits<3>>,
    r_no_buffer: Constant<Bits<3>>,
    r_bad_desc: Constant<Bits<3>>,
    f_fcs_bad: Constant<Bits<8>>,
    f_truncated: Constant<Bits<8>>,
    f_dropped_before: Constant<Bits<8>>,
    act_drop: Constant<Bits<16>>,
    act_group: Constant<Bits<16>>,
    ev_rx: Constant<Bits<4>>,
    not_stored: Constant<Bits<32>>,
    src_default: Constant<Bits<16>>,
    wait_max: Constant<Bits<11>>,
}

fn reason(r: DropReason) -> Constant<Bits<3>> {
    Constant::new((r as u64).into())
}

impl<const VB: usize> Default for RxDeliver<VB> {
    fn default() -> Self {
        // The layout the HDL below reads with literal offsets.
        assert_eq!(
            [
                verdict::REASON,
                verdict::GROUP,
                verdict::TARGET,
                verdict::RING,
                verdict::STORE,
                verdict::HIT,
                verdict::INDEX
            ],
            [(0, 3), (3, 1), (4, 8), (12, 8), (20, 1), (21, 1), (22, 16)]
        );
        assert_eq!(VERDICT_BITS, 38);
        assert!(VB <= 8);
        RxDeliver {
            clock: Default::default(),
            reset: Default::default(),
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
            h_next: Default::default(),
            ghost_take: Default::default(),
            wptr: Default::default(),
            fptr: Default::default(),
            fb_rd_en: Default::default(),
            fb_rd_addr: Default::default(),
            fb_rd_data: Default::default(),
            d_valid: Default::default(),
            d_op: Default::default(),
            d_vi: Default::default(),
            d_ready: Default::default(),
            p_valid: Default::default(),
            p_status: Default::default(),
            p_addr: Default::default(),
            p_len: Default::default(),
            p_err: Default::default(),
            p_rptr: Default::default(),
            p_db: Default::default(),
            fill_valid: Default::default(),
            fill_vi: Default::default(),
            dw_valid: Default::default(),
            dw_ready: Default::default(),
            dw_addr: Default::default(),
            dw_data: Default::default(),
            dw_strb: Default::default(),
            ev_valid: Default::default(),
            ev_ready: Default::default(),
            ev_to_group: Default::default(),
            ev_target: Default::default(),
            ev_kind: Default::default(),
            ev_flags: Default::default(),
            ev_source: Default::default(),
            ev_payload: Default::default(),
            ev_aux: Default::default(),
            ev_timestamp: Default::default(),
            fcs_drop: Default::default(),
            c_frame: Default::default(),
            c_dec_drop: Default::default(),
            c_delivered: Default::default(),
            c_del_drop: Default::default(),
            c_desc_wait: Default::default(),
            dbg_valid: Default::default(),
            dbg_flags: Default::default(),
            dbg_len: Default::default(),
            dbg_hit: Default::default(),
            dbg_filter: Default::default(),
            dbg_action: Default::default(),
            state: Default::default(),
            bptr: Default::default(),
            fb_have: Default::default(),
            gh_loaded: Default::default(),
            gh_left: Default::default(),
            c_lost: Default::default(),
            c_reason: Default::default(),
            c_group: Default::default(),
            c_target: Default::default(),
            c_ring: Default::default(),
            c_store: Default::default(),
            c_hit: Default::default(),
            c_index: Default::default(),
            c_drop: Default::default(),
            prep_issued: Default::default(),
            fill_seen: Default::default(),
            waited: Default::default(),
            wait_cnt: Default::default(),
            waddr: Default::default(),
            room: Default::default(),
            wlen: Default::default(),
            fpos: Default::default(),
            trunc: Default::default(),
            rptr: Default::default(),
            db: Default::default(),
            ev_pend: Default::default(),
            ev_group_q: Default::default(),
            ev_target_q: Default::default(),
            ev_flags_q: Default::default(),
            ev_source_q: Default::default(),
            ev_payload_q: Default::default(),
            ev_aux_q: Default::default(),
            ev_ts_q: Default::default(),
            bnext: Default::default(),
            avail_end: Default::default(),
            can_move: Default::default(),
            v_reason: Default::default(),
            v_store: Default::default(),
            v_ring: Default::default(),
            prep_go: Default::default(),
            streaming: Default::default(),
            eff_addr: Default::default(),
            eff_room: Default::default(),
            word_here: Default::default(),
            last_word: Default::default(),
            room_small: Default::default(),
            room_lo: Default::default(),
            word_lo: Default::default(),
            room_empty: Default::default(),
            word_bytes: Default::default(),
            beat_bytes: Default::default(),
            took: Default::default(),
            room_after: Default::default(),
            strb32: Default::default(),
            fill_mine: Default::default(),
            ghost_now: Default::default(),
            fin_ready: Default::default(),
            final_reason: Default::default(),
            to_deliver: Default::default(),
            need_op: Default::default(),
            fin_go: Default::default(),
            records_in: Default::default(),
            fin_fast: Default::default(),
            bplus: Default::default(),
            dec_class: Default::default(),
            fl_parser: Default::default(),
            fl_event: Default::default(),
            r_disabled: reason(DropReason::Disabled),
            r_overrun: reason(DropReason::Overrun),
            r_fcs: reason(DropReason::FcsBad),
            r_no_buffer: reason(DropReason::NoBuffer),
            r_bad_desc: reason(DropReason::BadDescriptor),
            f_fcs_bad: konst::<8>(u64::from(rx_flags::FCS_BAD)),
            f_truncated: konst::<8>(u64::from(rx_flags::TRUNCATED)),
            f_dropped_before: konst::<8>(u64::from(rx_flags::DROPPED_BEFORE)),
            act_drop: Constant::new((fr::action_drop() as u64).into()),
            act_group: Constant::new((fr::action_group(0) as u64).into()),
            ev_rx: Constant::new((EventType::Rx as u64).into()),
            not_stored: Constant::new((fr::RX_PAYLOAD_NOT_STORED as u64).into()),
            src_default: Constant::new((fr::RX_SOURCE_DEFAULT as u64).into()),
            wait_max: Constant::new((DESC_WAIT_MAX - 1).into()),
        }
    }
}

impl<const VB: usize> Logic for RxDeliver<VB> {
    // Nested ifs mirror the hardware: a condition per state, then its cases.
    #[allow(clippy::collapsible_if)]
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            bptr,
            fb_have,
            gh_loaded,
            gh_left,
            c_lost,
            c_reason,
            c_group,
            c_target,
            c_ring,
            c_store,
            c_hit,
            c_index,
            c_drop,
            prep_issued,
            fill_seen,
            waited,
            wait_cnt,
            waddr,
            room,
            wlen,
            fpos,
            trunc,
            rptr,
            db,
            ev_pend,
            ev_group_q,
            ev_target_q,
            ev_flags_q,
            ev_source_q,
            ev_payload_q,
            ev_aux_q,
            ev_ts_q
        );
        self.h_next.next = false;
        self.ghost_take.next = false;
        self.d_valid.next = false;
        self.d_op.next = 0.into();
        self.d_vi.next = self.c_ring.q.val();
        self.dw_valid.next = false;
        self.c_frame.next = false;
        self.c_dec_drop.next = 0.into();
        self.c_delivered.next = false;
        self.c_del_drop.next = 0.into();
        self.c_desc_wait.next = false;
        self.dbg_valid.next = false;
        self.dbg_flags.next = 0.into();
        self.dbg_len.next = 0.into();
        self.dbg_hit.next = false;
        self.dbg_filter.next = 0.into();
        self.dbg_action.next = self.act_drop.val() | bit_cast::<16, 3>(self.r_overrun.val());
        self.bnext.next = self.bptr.q.val();

        // ---- Frames without a slot, accounted in order before the head's own outcome. ----
        if !self.gh_loaded.q.val() & self.h_ts_valid.val() {
            self.gh_loaded.d.next = true;
            self.gh_left.d.next = self.h_ghosts.val();
        }
        self.ghost_now.next = false;
        if self.gh_loaded.q.val() & (self.gh_left.q.val() != 0) {
            self.ghost_now.next = true;
            self.gh_left.d.next = self.gh_left.q.val() - 1;
        } else if (self.state.q.val() == 0) & !self.h_exists.val() & self.ghost_pending.val() {
            self.ghost_now.next = true;
            self.ghost_take.next = true;
        }
        if self.ghost_now.val() {
            self.c_frame.next = true;
            self.c_dec_drop.next = self.r_overrun.val();
            self.dbg_valid.next = true;
        }

        // Data of the head frame in the buffer: up to its end once known; while it is still
        // coming, every word written is its own. Ended but end not yet read: wait.
        self.avail_end.next = self.wptr.val();
        if self.h_e1_valid.val() {
            self.avail_end.next = self.h_e1_end.val();
        }
        self.can_move.next = self.h_e1_valid.val() | !self.h_ended.val();
        self.fill_mine.next = self.fill_valid.val() & (self.fill_vi.val() == self.c_ring.q.val());

        // ---- Head: the verdict. ----
        self.v_reason.next = self.h_v.val().get_bits::<3>(0);
        self.v_store.next = self.h_v.val().get_bit(20);
        self.v_ring.next = self.h_v.val().get_bits::<VB>(12);
        if self.state.q.val() == 0 {
            if self.h_exists.val() & (self.h_v_valid.val() | self.h_lost.val()) {
                self.c_lost.d.next = self.h_lost.val();
                self.c_reason.d.next = self.v_reason.val();
                self.c_group.d.next = self.h_v.val().get_bit(3);
                self.c_target.d.next = self.h_v.val().get_bits::<8>(4);
                self.c_ring.d.next = self.v_ring.val();
                self.c_store.d.next = self.v_store.val() & !self.h_lost.val();
                self.c_hit.d.next = self.h_v.val().get_bit(21) & !self.h_lost.val();
                self.c_index.d.next = self.h_v.val().get_bits::<16>(22);
                self.c_drop.d.next = 0.into();
                self.waited.d.next = false;
                self.wait_cnt.d.next = 0.into();
                self.fill_seen.d.next = false;
                self.trunc.d.next = false;
                self.wlen.d.next = 0.into();
                self.fpos.d.next = 0.into();
                self.db.d.next = false;
                if self.h_lost.val() | (self.v_reason.val() != 0) | !self.v_store.val() {
                    self.c_store.d.next = false;
                    self.state.d.next = 4.into();
                } else {
                    // Ask for the descriptor in this cycle.
                    self.d_valid.next = true;
                    self.d_op.next = 0.into();
                    self.d_vi.next = self.v_ring.val();
                    self.prep_issued.d.next = self.d_ready.val();
                    self.state.d.next = 1.into();
                }
            }
        }

        // ---- Prep: the ring's answer. ----
        self.prep_go.next = false;
        if self.state.q.val() == 1 {
            if self.waited.q.val() & (self.wait_cnt.q.val() != self.wait_max.val()) {
                self.wait_cnt.d.next = self.wait_cnt.q.val() + 1;
            }
            if self.fill_mine.val() {
                self.fill_seen.d.next = true;
            }
            if !self.prep_issued.q.val() {
                self.d_valid.next = true;
                self.d_op.next = 0.into();
                if self.d_ready.val() {
                    self.prep_issued.d.next = true;
                    self.fill_seen.d.next = false;
                }
            } else if self.p_valid.val() {
                if self.p_status.val() == 0 {
                    if self.p_err.val() | (self.p_len.val() == 0) {
                        self.c_drop.d.next = self.r_bad_desc.val();
                        self.state.d.next = 4.into();
                    } else {
                        self.prep_go.next = true;
                        self.rptr.d.next = self.p_rptr.val();
                        self.db.d.next = self.p_db.val();
                        self.state.d.next = 3.into();
                    }
                } else if self.p_status.val() == 1 {
                    self.c_drop.d.next = self.r_no_buffer.val();
                    self.state.d.next = 4.into();
                } else {
                    // Posted, not fetched yet: wait for the fill (bounded), counted once.
                    if !self.waited.q.val() {
                        self.c_desc_wait.next = true;
                        self.waited.d.next = true;
                    }
                    if self.wait_cnt.q.val() == self.wait_max.val() {
                        self.c_drop.d.next = self.r_no_buffer.val();
                        self.state.d.next = 4.into();
                    } else if self.fill_seen.q.val() | self.fill_mine.val() {
                        self.prep_issued.d.next = false;
                    } else {
                        self.state.d.next = 2.into();
                    }
                }
            }
        }
        if self.state.q.val() == 2 {
            if self.wait_cnt.q.val() != self.wait_max.val() {
                self.wait_cnt.d.next = self.wait_cnt.q.val() + 1;
            }
            if self.fill_mine.val() {
                self.prep_issued.d.next = false;
                self.state.d.next = 1.into();
            } else if self.wait_cnt.q.val() == self.wait_max.val() {
                self.c_drop.d.next = self.r_no_buffer.val();
                self.state.d.next = 4.into();
            }
        }

        // ---- Stream: words to the buffer as they come. ----
        self.streaming.next = (self.state.q.val() == 3) | self.prep_go.val();
        self.eff_addr.next = self.waddr.q.val();
        self.eff_room.next = self.room.q.val();
        if self.prep_go.val() {
            self.eff_addr.next = self.p_addr.val();
            self.eff_room.next = self.p_len.val();
        }
        self.word_here.next = self.can_move.val() & (self.bptr.q.val() != self.avail_end.val());
        // The bytes of this word: 16, or what is left of the frame once its length is known.
        // `fpos` is a multiple of 16, so fewer than 16 are left exactly when the length and
        // `fpos` agree above bit 3, and they are the length's low 4 bits (no subtraction, for
        // timing: the beat's bytes feed the strobes, the room and the state in this cycle).
        self.last_word.next = self.h_e1_valid.val()
            & (self.h_e1_len.val().get_bits::<12>(4) == self.fpos.q.val().get_bits::<12>(4));
        self.word_bytes.next = 16.into();
        if self.last_word.val() {
            self.word_bytes.next = bit_cast::<16, 4>(self.h_e1_len.val().get_bits::<4>(0));
        }
        // The beat's bytes: the word's, cut to the room (compared on 5 bits: a word has at
        // most 16 bytes).
        self.room_small.next = self.eff_room.val().get_bits::<11>(5) == 0;
        self.room_lo.next = self.eff_room.val().get_bits::<5>(0);
        self.word_lo.next = self.word_bytes.val().get_bits::<5>(0);
        self.beat_bytes.next = self.word_bytes.val();
        if self.room_small.val() & (self.room_lo.val() < self.word_lo.val()) {
            self.beat_bytes.next = self.eff_room.val();
        }
        self.took.next = false;
        self.room_after.next = self.eff_room.val();
        self.room_empty.next = self.eff_room.val() == 0;
        if self.streaming.val() {
            self.dw_valid.next = self.word_here.val() & self.fb_have.q.val();
            if self.word_here.val() & self.fb_have.q.val() & self.dw_ready.val() {
                self.took.next = true;
                self.bnext.next = self.bptr.q.val() + 1;
                self.room_after.next = self.eff_room.val() - self.beat_bytes.val();
                // room - min(room, word) is 0 exactly when room <= word.
                self.room_empty.next =
                    self.room_small.val() & (self.room_lo.val() <= self.word_lo.val());
                self.wlen.d.next = self.wlen.q.val() + self.beat_bytes.val();
                self.fpos.d.next = self.fpos.q.val() + 16;
                if self.beat_bytes.val() < self.word_bytes.val() {
                    self.trunc.d.next = true;
                }
            }
            self.waddr.d.next = self.eff_addr.val();
            if self.took.val() {
                self.waddr.d.next = self.eff_addr.val() + 16;
            }
            self.room.d.next = self.room_after.val();
            if self.h_e1_valid.val() & (self.bnext.val() == self.h_e1_end.val()) {
                self.state.d.next = 5.into();
            } else if self.room_empty.val() {
                // The buffer is full and more of the frame follows.
                self.trunc.d.next = true;
                self.state.d.next = 4.into();
            }
        }
        self.dw_addr.next = self.eff_addr.val();
        self.dw_data.next = self.fb_rd_data.val();
        // The low `beat_bytes` strobes (at most 16): a decoder, no subtraction.
        self.strb32.next =
            !((!bits::<32>(0)) << bit_cast::<32, 5>(self.beat_bytes.val().get_bits::<5>(0)));
        self.dw_strb.next = self.strb32.val().get_bits::<16>(0);

        // ---- Skip: the frame's words are not stored; free them as they come. ----
        if self.state.q.val() == 4 {
            if self.can_move.val() {
                self.bnext.next = self.avail_end.val();
            }
            if self.h_e1_valid.val() & (self.bnext.val() == self.h_e1_end.val()) {
                self.state.d.next = 5.into();
            }
        }

        // ---- Finish: the outcome, once the end record, timestamp and ghosts are in. ----
        self.records_in.next = self.h_e1_valid.val()
            & self.h_e2_valid.val()
            & self.h_ts_valid.val()
            & self.gh_loaded.q.val()
            & (self.gh_left.q.val() == 0);
        self.fin_ready.next = (self.state.q.val() == 5) & self.records_in.val();
        self.dec_class.next = true;
        self.final_reason.next = 0.into();
        if self.c_reason.q.val() == self.r_disabled.val() {
            self.final_reason.next = self.r_disabled.val();
        } else if self.c_lost.q.val() | self.h_e1_ovr.val() {
            self.final_reason.next = self.r_overrun.val();
        } else if self.h_e2_fcs.val() & self.fcs_drop.val() {
            self.final_reason.next = self.r_fcs.val();
        } else if self.c_reason.q.val() != 0 {
            self.final_reason.next = self.c_reason.q.val();
        } else if self.c_drop.q.val() != 0 {
            self.final_reason.next = self.c_drop.q.val();
            self.dec_class.next = false;
        }
        self.to_deliver.next = self.final_reason.val() == 0;
        // The ring: the descriptor used (and the drop flag cleared) by an event that stored
        // data; a drop counted on it; a bad descriptor consumed.
        self.need_op.next = (self.to_deliver.val() & self.c_store.q.val())
            | (self.final_reason.val() == self.r_no_buffer.val())
            | (self.final_reason.val() == self.r_bad_desc.val());
        // The fast finish: in the streaming state, the beat taken now is the frame's last word,
        // with room for a whole word left before it (so nothing was cut: the bytes written
        // are the frame's length; the room is a register, for timing), of a frame to be
        // delivered, whose end record, timestamp and ghosts are in, with no event
        // waiting and the ring ready for the descriptor's use.
        self.bplus.next = self.bptr.q.val() + 1;
        self.fin_fast.next = (self.state.q.val() == 3)
            & self.took.val()
            & self.records_in.val()
            & (self.bplus.val() == self.h_e1_end.val())
            & !self.trunc.q.val()
            & (self.room.q.val().get_bits::<11>(5) != 0)
            & (self.h_e1_len.val() != 0xffff)
            & self.to_deliver.val()
            & self.c_store.q.val()
            & !self.ev_pend.q.val();
        // (It asks the ring for the descriptor's use; `d_ready` follows `d_valid` in the rings,
        // so the finish is taken only with it, and otherwise comes in the finish state.)
        if (self.fin_ready.val()
            & (!self.to_deliver.val() | !self.ev_pend.q.val())
            & self.need_op.val())
            | self.fin_fast.val()
        {
            self.d_valid.next = true;
            self.d_op.next = 2.into();
            if self.final_reason.val() == self.r_no_buffer.val() {
                self.d_op.next = 3.into();
            } else if self.final_reason.val() == self.r_bad_desc.val() {
                self.d_op.next = 1.into();
            }
        }
        self.fin_go.next = (self.fin_ready.val()
            & (!self.to_deliver.val() | !self.ev_pend.q.val())
            & (!self.need_op.val() | self.d_ready.val()))
            | (self.fin_fast.val() & self.d_ready.val());
        self.fl_parser.next = self.h_e2_flags.val();
        if self.h_e2_fcs.val() {
            self.fl_parser.next = self.h_e2_flags.val() | self.f_fcs_bad.val();
        }
        self.fl_event.next = self.fl_parser.val();
        if self.c_store.q.val() & self.trunc.q.val() {
            self.fl_event.next = self.fl_event.val() | self.f_truncated.val();
        }
        if self.c_store.q.val() & self.db.q.val() {
            self.fl_event.next = self.fl_event.val() | self.f_dropped_before.val();
        }
        if self.fin_go.val() {
            self.h_next.next = true;
            self.gh_loaded.d.next = false;
            self.state.d.next = 0.into();
            self.c_frame.next = true;
            if self.to_deliver.val() {
                self.c_delivered.next = true;
            } else if self.dec_class.val() {
                self.c_dec_drop.next = self.final_reason.val();
            } else {
                self.c_del_drop.next = self.final_reason.val();
            }
            self.dbg_valid.next = true;
            self.dbg_flags.next = self.fl_parser.val();
            self.dbg_len.next = self.h_e1_len.val();
            self.dbg_hit.next = self.c_hit.q.val();
            self.dbg_filter.next = self.c_index.q.val();
            self.dbg_action.next = bit_cast::<16, 8>(self.c_target.q.val());
            if self.dec_class.val() & !self.to_deliver.val() {
                self.dbg_action.next =
                    self.act_drop.val() | bit_cast::<16, 3>(self.final_reason.val());
            } else if self.c_group.q.val() {
                self.dbg_action.next =
                    self.act_group.val() | bit_cast::<16, 8>(self.c_target.q.val());
            }
            if self.to_deliver.val() {
                self.ev_pend.d.next = true;
                self.ev_group_q.d.next = self.c_group.q.val();
                self.ev_target_q.d.next = self.c_target.q.val();
                self.ev_flags_q.d.next = self.fl_event.val();
                self.ev_source_q.d.next = self.src_default.val();
                if self.c_hit.q.val() {
                    self.ev_source_q.d.next = self.c_index.q.val();
                }
                self.ev_payload_q.d.next = self.not_stored.val();
                self.ev_aux_q.d.next = self.h_e1_len.val();
                if self.c_store.q.val() {
                    self.ev_payload_q.d.next = bit_cast::<32, 16>(self.rptr.q.val())
                        | (bit_cast::<32, VB>(self.c_ring.q.val()) << 16);
                    self.ev_aux_q.d.next = self.wlen.q.val();
                    if self.fin_fast.val() {
                        // Its last word is being written: every byte of the frame.
                        self.ev_aux_q.d.next = self.h_e1_len.val();
                    }
                }
                self.ev_ts_q.d.next = self.h_ts.val();
            }
        }
        // (A new event is latched only while none waits.)
        if self.ev_pend.q.val() & self.ev_ready.val() {
            self.ev_pend.d.next = false;
        }
        self.ev_valid.next = self.ev_pend.q.val();
        self.ev_to_group.next = self.ev_group_q.q.val();
        self.ev_target.next = self.ev_target_q.q.val();
        self.ev_kind.next = self.ev_rx.val();
        self.ev_flags.next = self.ev_flags_q.q.val();
        self.ev_source.next = self.ev_source_q.q.val();
        self.ev_payload.next = self.ev_payload_q.q.val();
        self.ev_aux.next = self.ev_aux_q.q.val();
        self.ev_timestamp.next = self.ev_ts_q.q.val();

        // ---- The frame buffer's read port: the word at the next pointer, once written. ----
        self.bptr.d.next = self.bnext.val();
        self.fptr.next = self.bptr.q.val();
        self.fb_rd_addr.next = self.bnext.val().get_bits::<10>(0);
        self.fb_rd_en.next = self.bnext.val() != self.wptr.val();
        self.fb_have.d.next = (self.bnext.val() != self.wptr.val())
            | (self.fb_have.q.val() & (self.bnext.val() == self.bptr.q.val()));

        if self.reset.val() {
            self.state.d.next = 0.into();
            self.bptr.d.next = 0.into();
            self.fb_have.d.next = false;
            self.gh_loaded.d.next = false;
            self.gh_left.d.next = 0.into();
            self.ev_pend.d.next = false;
        }
    }
}
