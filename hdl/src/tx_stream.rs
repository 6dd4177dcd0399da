//! `TxStream`: the send side of the transmit path. It holds the queue of frames between the
//! descriptor checks and the wire, the frame buffer their data is read into, and builds the
//! 64-bit MAC stream from it (realigned, padded, CRC-32C inserted, FCS appended), then posts
//! each frame's TX_DONE (or ERROR) event and its ring's completion.
//!
//! # Ports
//!
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | | rising edge; synchronous active-high reset of every queue and the stream |
//! | `cycles` | in | 64 | the device's cycle counter (event timestamps, low 40 bits) |
//! | `rec_push`, `rec_*` | in | | a frame record, in fetch order: `kind` 2 (0 frame, 1 bad length, 2 descriptor read refused), `vi` 8, `seq` 4, `idx` 32, `len` 16, `crc_on` 1, `crc_off` 16, `crc_len` 16, `start` 12 (first buffer word, free-running), `nwords` 12 (buffer words, 0 unless kind 0), `off` 4 (byte of the frame in its first word) |
//! | `rec_space` | out | 1 | a record may be pushed (fewer than 16 queued) |
//! | `rsp_valid`, `rsp_seq`, `rsp_data`, `rsp_err` | in | 1, 4, 128, 1 | a frame data word, in buffer order: written at the next buffer word; `rsp_err`: the frame of sequence number `rsp_seq` faulted |
//! | `free_ptr` | out | 12 | buffer words before it (free-running) are free again |
//! | `tx_data`, `tx_keep`, `tx_valid`, `tx_last`, `tx_ready` | out/in | 64, 8, 1, 1, 1 | the MAC stream: byte 0 in bits 7:0, frames end with their FCS |
//! | `ev_valid`, `ev_ready` | out, in | 1 | event handshake; the event is held until taken |
//! | `ev_vi`, `ev_kind`, `ev_flags`, `ev_payload`, `ev_aux`, `ev_timestamp` | out | 8, 4, 8, 32, 16, 40 | TX_DONE: payload = descriptor index, aux = frame length, timestamp = the cycle its first beat left (`tx_valid && tx_ready`); ERROR: payload = `ErrorCode`, aux = index bits 15:0, timestamp = the cycle the event was posted; flags 0 |
//! | `complete`, `complete_vi`, `complete_error` | out | 1, 8, 1 | one-cycle strobe with each event posted: the ring's completion |
//! | `complete_ready` | in | 1 | a completion (and so an event) may be posted this cycle |
//! | `ram_collision` | out | 1 | OR of the RAMs' collision outputs (see [`crate::ram`]); always 0 |
//!
//! # Contract
//!
//! * Frames leave in record order. A frame starts once all its `nwords` words arrived (the
//!   record's `start + nwords` <= the words written) and, if any of them faulted, sends
//!   nothing: ERROR/DmaFault. Kind 1 gives ERROR/TxBadLength, kind 2 ERROR/DmaFault.
//! * Frames shorter than 60 bytes are padded with zeros to 60; then the FCS is appended.
//!   With `crc_on`, CRC-32C of bytes `[crc_off, crc_off + crc_len)` is written LSB first over
//!   the 4 bytes after them (the pusher checks that they fit in the frame), before the FCS is
//!   computed. A frame of `P = max(len, 60)` bytes takes `ceil((P + 4) / 8)` beats.
//! * The buffer is 2^[`BUF_AW`] words; the pusher allocates words below `free_ptr + 2^BUF_AW`.
//!
//! # Structure
//!
//! Records in a 16-deep [`Ram`] FIFO whose head is the RAM's output register; the buffer in
//! two [`Ram`]s of 8-byte halves (even halves, odd halves), so that the two halves a beat
//! spans, at any byte alignment, are read in one cycle. Beats pass four stages: the *read*
//! (the halves of beat `b` are addressed), the *build* (the next cycle: the halves realigned,
//! bytes past the frame's length zeroed) into register `r1`, `r2` (`r1`'s beat, whose
//! CRC-32C span bytes the engine absorbs as it moves in), and the *output* register (`r2`
//! with the CRC-32C bytes from the engine's registered CRC, fed to the FCS engine), whose
//! beat shows on `tx_*` with the FCS engine's registered CRC merged after the last data byte.
//! The CRC-32C bytes come after the span, so the engine has absorbed the whole span when the
//! beat that carries them moves to the output; the FCS engine has absorbed the last data beat
//! when it is in the output register. (`r2` keeps the buffer RAM's output, the realignment and
//! the CRC-32C map out of one cycle.)
//!
//! # Timing (cycles)
//!
//! * A frame is chosen in the cycle its record is at the head and its words have arrived (the
//!   record becomes the head 2 cycles after its push); its first beat is built the next
//!   cycle, passes `r2` and the output register and shows on `tx_*` 4 cycles after the
//!   choice (3 before `r2`). Then one beat per cycle while `tx_ready`.
//! * Back to back: the cycle that builds a frame's last beat (the FCS-only tail beat when the
//!   FCS does not fit in the last data beat) also posts its event and completion (if
//!   `ev_valid` is free and `complete_ready`) and chooses the next frame, whose first
//!   beat is built in the next cycle: no idle cycle between frames, with or without CRC-32C
//!   at any offset. An ERROR takes one cycle of its own. If the event cannot be posted, the
//!   stream waits. An event taken in cycle t (`ev_valid && ev_ready`) frees `ev_valid` from
//!   t+1 (before: a frame done at t could post its event at t): `ev_ready` ends at flip-flops.
//!
//! # Changed from the flip-flop version
//!
//! The record queue and the read-ahead FIFO were flip-flops (16 x 128 and 8 x 128 bits, read
//! through 16- and 8-way muxes); now records are in RAM and beats are read straight from the
//! buffer's two half-word RAMs (no read-ahead FIFO). CRC-32C no longer runs one beat ahead from
//! a separately aligned window: its engine absorbs the span from the frame's own beats (a
//! span starting mid-beat starts the engine at that byte), and its CRC is inserted one stage
//! later, so the prime cycle before a frame whose span starts in its first 8 bytes is gone.
//! Events carry timestamps (TX_DONE: the first beat's cycle on the wire).

use crate::crc::CrcEngine;
use crate::ram::Ram;
use evnic_regs::desc;
use evnic_regs::event::{ErrorCode, EventType};
use rust_hdl::prelude::*;

/// log2 of the frame buffer size in 16-byte words (2048 words, 32 KiB).
pub const BUF_AW: usize = 11;
/// Width of the free-running buffer word pointers (one wrap bit).
pub const PW: usize = BUF_AW + 1;
/// Width of a half-word (8-byte) index into the buffer, free-running.
const HW: usize = PW + 1;
/// Frame records the queue holds.
pub const RECS: usize = 16;
/// Bits of a record: kind 1:0, vi 9:2, seq 13:10, idx 45:14, len 61:46, crc_on 62,
/// crc_off 78:63, crc_len 94:79, start 106:95, nwords 118:107, off 122:119.
const REC_BITS: usize = 123;

// Stream states.
const S_IDLE: u64 = 0;
const S_STREAM: u64 = 1;
const S_EVENT: u64 = 2;

fn k<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

/// The send side of the transmit path. See the module documentation.
#[derive(LogicBlock)]
pub struct TxStream {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rec_push: Signal<In, Bit>,
    pub rec_kind: Signal<In, Bits<2>>,
    pub rec_vi: Signal<In, Bits<8>>,
    pub rec_seq: Signal<In, Bits<4>>,
    pub rec_idx: Signal<In, Bits<32>>,
    pub rec_len: Signal<In, Bits<16>>,
    pub rec_crc_on: Signal<In, Bit>,
    pub rec_crc_off: Signal<In, Bits<16>>,
    pub rec_crc_len: Signal<In, Bits<16>>,
    pub rec_start: Signal<In, Bits<PW>>,
    pub rec_nwords: Signal<In, Bits<PW>>,
    pub rec_off: Signal<In, Bits<4>>,
    pub rec_space: Signal<Out, Bit>,
    pub rsp_valid: Signal<In, Bit>,
    pub rsp_seq: Signal<In, Bits<4>>,
    pub rsp_data: Signal<In, Bits<128>>,
    pub rsp_err: Signal<In, Bit>,
    pub free_ptr: Signal<Out, Bits<PW>>,
    pub tx_data: Signal<Out, Bits<64>>,
    pub tx_keep: Signal<Out, Bits<8>>,
    pub tx_valid: Signal<Out, Bit>,
    pub tx_last: Signal<Out, Bit>,
    pub tx_ready: Signal<In, Bit>,
    pub ev_valid: Signal<Out, Bit>,
    pub ev_ready: Signal<In, Bit>,
    pub ev_vi: Signal<Out, Bits<8>>,
    pub ev_kind: Signal<Out, Bits<4>>,
    pub ev_flags: Signal<Out, Bits<8>>,
    pub ev_payload: Signal<Out, Bits<32>>,
    pub ev_aux: Signal<Out, Bits<16>>,
    pub ev_timestamp: Signal<Out, Bits<40>>,
    pub complete: Signal<Out, Bit>,
    pub complete_vi: Signal<Out, Bits<8>>,
    pub complete_error: Signal<Out, Bit>,
    pub complete_ready: Signal<In, Bit>,
    pub ram_collision: Signal<Out, Bit>,

    // Record queue.
    recs: Ram<Bits<REC_BITS>, 4>,
    rec_wr: DFF<Bits<5>>,
    rec_rd: DFF<Bits<5>>,
    rec_loaded: DFF<Bit>,
    rec_next: Signal<Local, Bits<5>>,
    rec_pop: Signal<Local, Bit>,
    head: Signal<Local, Bits<REC_BITS>>,
    fault: [DFF<Bit>; RECS],

    // Frame buffer: even and odd 8-byte halves.
    buf_even: Ram<Bits<64>, BUF_AW>,
    buf_odd: Ram<Bits<64>, BUF_AW>,
    wr_ptr: DFF<Bits<PW>>,
    free: DFF<Bits<PW>>,

    // The head record.
    head_kind: Signal<Local, Bits<2>>,
    head_seq: Signal<Local, Bits<4>>,
    head_len: Signal<Local, Bits<16>>,
    head_crc_off: Signal<Local, Bits<16>>,
    head_crc_len: Signal<Local, Bits<16>>,
    head_crc_end: Signal<Local, Bits<16>>,
    head_start: Signal<Local, Bits<PW>>,
    head_nwords: Signal<Local, Bits<PW>>,
    head_off: Signal<Local, Bits<4>>,
    head_plen: Signal<Local, Bits<16>>,
    head_plen4: Signal<Local, Bits<16>>,
    head_ready: Signal<Local, Bit>,
    head_fault: Signal<Local, Bit>,
    head_bad: Signal<Local, Bit>,
    head_have: Signal<Local, Bits<PW>>,

    // The current frame (set when chosen).
    state: DFF<Bits<2>>,
    cur_kind: DFF<Bits<2>>,
    cur_vi: DFF<Bits<8>>,
    cur_idx: DFF<Bits<32>>,
    cur_len: DFF<Bits<16>>,
    cur_bad: DFF<Bit>,
    cur_start: DFF<Bits<PW>>,
    cur_nwords: DFF<Bits<PW>>,
    cur_sh: DFF<Bits<3>>,
    cur_last: DFF<Bits<11>>,
    cur_dlast: DFF<Bits<11>>,
    cur_dlast1: DFF<Bits<11>>,
    cur_m: DFF<Bits<4>>,
    cur_mkeep: DFF<Bits<8>>,
    cur_lkeep: DFF<Bits<8>>,
    cur_crc_on: DFF<Bit>,
    cur_cs_beat: DFF<Bits<11>>,
    cur_cs_skip: DFF<Bits<3>>,
    cur_ce_beat: DFF<Bits<11>>,
    cur_ce_keep: DFF<Bits<8>>,
    cur_ins_beat: DFF<Bits<11>>,
    cur_ins_beat1: DFF<Bits<11>>,
    cur_ins_sh: DFF<Bits<3>>,
    beat: DFF<Bits<11>>,
    rem: DFF<Bits<16>>,
    hp: DFF<Bits<HW>>,
    rd_odd_first: DFF<Bit>,
    ts_first: DFF<Bits<40>>,

    // Read stage.
    choose: Signal<Local, Bit>,
    done: Signal<Local, Bit>,
    build: Signal<Local, Bit>,
    issue: Signal<Local, Bit>,
    rh: Signal<Local, Bits<HW>>,
    rstart: Signal<Local, Bits<PW>>,
    rn: Signal<Local, Bits<PW>>,
    rw0: Signal<Local, Bits<PW>>,
    w_even: Signal<Local, Bits<PW>>,
    w_odd: Signal<Local, Bits<PW>>,

    // Build stage.
    win: Signal<Local, Bits<128>>,
    win_sh: Signal<Local, Bits<128>>,
    raw: Signal<Local, Bits<64>>,
    beat_data: Signal<Local, Bits<64>>,
    rem_lanes: Signal<Local, Bits<4>>,
    lane_mask: [Constant<Bits<64>>; 8],
    lane_num: [Constant<Bits<4>>; 9],
    keep_of: [Constant<Bits<8>>; 9],
    c_on: Signal<Local, Bit>,
    r1_valid: DFF<Bit>,
    r1_data: DFF<Bits<64>>,
    r1_keep: DFF<Bits<8>>,
    r1_fkeep: DFF<Bits<8>>,
    r1_first: DFF<Bit>,
    r1_last: DFF<Bit>,
    r1_fcs_lo: DFF<Bit>,
    r1_fcs_hi: DFF<Bit>,
    r1_m: DFF<Bits<4>>,
    r1_ins_lo: DFF<Bit>,
    r1_ins_hi: DFF<Bit>,
    r1_ins_sh: DFF<Bits<3>>,
    // The CRC-32C engine's inputs for r1's beat, absorbed as it moves into r2.
    r1_c32: DFF<Bit>,
    r1_c32_start: DFF<Bit>,
    r1_c32_skip: DFF<Bits<3>>,
    r1_c32_keep: DFF<Bits<8>>,
    // r2: r1's beat once CRC-32C absorbed it; the CRC-32C bytes are inserted as it moves on.
    r2_valid: DFF<Bit>,
    r2_data: DFF<Bits<64>>,
    r2_keep: DFF<Bits<8>>,
    r2_fkeep: DFF<Bits<8>>,
    r2_first: DFF<Bit>,
    r2_last: DFF<Bit>,
    r2_fcs_lo: DFF<Bit>,
    r2_fcs_hi: DFF<Bit>,
    r2_m: DFF<Bits<4>>,
    r2_ins_lo: DFF<Bit>,
    r2_ins_hi: DFF<Bit>,
    r2_ins_sh: DFF<Bits<3>>,
    r2_move: Signal<Local, Bit>,
    can_2: Signal<Local, Bit>,
    can_o: Signal<Local, Bit>,
    r1_move: Signal<Local, Bit>,
    load1: Signal<Local, Bit>,

    // Output stage.
    ins_val: Signal<Local, Bits<128>>,
    ins_mask: Signal<Local, Bits<128>>,
    ins_data: Signal<Local, Bits<64>>,
    crc_ones: Constant<Bits<128>>,
    o_valid: DFF<Bit>,
    o_data: DFF<Bits<64>>,
    o_keep: DFF<Bits<8>>,
    o_last: DFF<Bit>,
    o_first: DFF<Bit>,
    o_fcs_lo: DFF<Bit>,
    o_fcs_hi: DFF<Bit>,
    o_m: DFF<Bits<4>>,
    fcs_wide: Signal<Local, Bits<128>>,
    fcs: CrcEngine,
    c32: CrcEngine,

    // Event register.
    ev_load: Signal<Local, Bit>,
    e_valid: DFF<Bit>,
    e_vi: DFF<Bits<8>>,
    e_kind: DFF<Bits<4>>,
    e_payload: DFF<Bits<32>>,
    e_aux: DFF<Bits<16>>,
    e_ts: DFF<Bits<40>>,

    /// `RECS`, the record queue's capacity.
    rec_cap: Constant<Bits<5>>,
    s_idle: Constant<Bits<2>>,
    s_stream: Constant<Bits<2>>,
    s_event: Constant<Bits<2>>,
    min_len: Constant<Bits<16>>,
    k_tx_done: Constant<Bits<4>>,
    k_error: Constant<Bits<4>>,
    code_bad_length: Constant<Bits<32>>,
    code_dma_fault: Constant<Bits<32>>,
}

impl Default for TxStream {
    fn default() -> Self {
        // A maximal frame at any alignment fits in half the buffer.
        const { assert!((desc::TX_MAX_LEN as usize).div_ceil(16) < (1 << BUF_AW) / 2) };
        // Beat indices fit 11 bits.
        const { assert!((desc::TX_MAX_LEN as usize + 4).div_ceil(8) < 1 << 11) };
        Self {
            clock: Default::default(),
            reset: Default::default(),
            cycles: Default::default(),
            rec_push: Default::default(),
            rec_kind: Default::default(),
            rec_vi: Default::default(),
            rec_seq: Default::default(),
            rec_idx: Default::default(),
            rec_len: Default::default(),
            rec_crc_on: Default::default(),
            rec_crc_off: Default::default(),
            rec_crc_len: Default::default(),
            rec_start: Default::default(),
            rec_nwords: Default::default(),
            rec_off: Default::default(),
            rec_space: Default::default(),
            rsp_valid: Default::default(),
            rsp_seq: Default::default(),
            rsp_data: Default::default(),
            rsp_err: Default::default(),
            free_ptr: Default::default(),
            tx_data: Default::default(),
            tx_keep: Default::default(),
            tx_valid: Default::default(),
            tx_last: Default::default(),
            tx_ready: Default::default(),
            ev_valid: Default::default(),
            ev_ready: Default::default(),
            ev_vi: Default::default(),
            ev_kind: Default::default(),
            ev_flags: Default::default(),
            ev_payload: Default::default(),
            ev_aux: Default::default(),
            ev_timestamp: Default::default(),
            complete: Default::default(),
            complete_vi: Default::default(),
            complete_error: Default::default(),
            complete_ready: Default::default(),
            ram_collision: Default::default(),
            recs: Default::default(),
            rec_wr: Default::default(),
            rec_rd: Default::default(),
            rec_loaded: Default::default(),
            rec_next: Default::default(),
            rec_pop: Default::default(),
            head: Default::default(),
            fault: Default::default(),
            buf_even: Default::default(),
            buf_odd: Default::default(),
            wr_ptr: Default::default(),
            free: Default::default(),
            head_kind: Default::default(),
            head_seq: Default::default(),
            head_len: Default::default(),
            head_crc_off: Default::default(),
            head_crc_len: Default::default(),
            head_crc_end: Default::default(),
            head_start: Default::default(),
            head_nwords: Default::default(),
            head_off: Default::default(),
            head_plen: Default::default(),
            head_plen4: Default::default(),
            head_ready: Default::default(),
            head_fault: Default::default(),
            head_bad: Default::default(),
            head_have: Default::default(),
            state: Default::default(),
            cur_kind: Default::default(),
            cur_vi: Default::default(),
            cur_idx: Default::default(),
            cur_len: Default::default(),
            cur_bad: Default::default(),
            cur_start: Default::default(),
            cur_nwords: Default::default(),
            cur_sh: Default::default(),
            cur_last: Default::default(),
            cur_dlast: Default::default(),
            cur_dlast1: Default::default(),
            cur_m: Default::default(),
            cur_mkeep: Default::default(),
            cur_lkeep: Default::default(),
            cur_crc_on: Default::default(),
            cur_cs_beat: Default::default(),
            cur_cs_skip: Default::default(),
            cur_ce_beat: Default::default(),
            cur_ce_keep: Default::default(),
            cur_ins_beat: Default::default(),
            cur_ins_beat1: Default::default(),
            cur_ins_sh: Default::default(),
            beat: Default::default(),
            rem: Default::default(),
            hp: Default::default(),
            rd_odd_first: Default::default(),
            ts_first: Default::default(),
            choose: Default::default(),
            done: Default::default(),
            build: Default::default(),
            issue: Default::default(),
            rh: Default::default(),
            rstart: Default::default(),
            rn: Default::default(),
            rw0: Default::default(),
            w_even: Default::default(),
            w_odd: Default::default(),
            win: Default::default(),
            win_sh: Default::default(),
            raw: Default::default(),
            beat_data: Default::default(),
            rem_lanes: Default::default(),
            lane_mask: std::array::from_fn(|i| Constant::new((0xFFu64 << (8 * i)).into())),
            lane_num: std::array::from_fn(|i| Constant::new((i as u64).into())),
            keep_of: std::array::from_fn(|n| Constant::new(((1u64 << n) - 1).into())),
            c_on: Default::default(),
            r1_valid: Default::default(),
            r1_data: Default::default(),
            r1_keep: Default::default(),
            r1_fkeep: Default::default(),
            r1_first: Default::default(),
            r1_last: Default::default(),
            r1_fcs_lo: Default::default(),
            r1_fcs_hi: Default::default(),
            r1_m: Default::default(),
            r1_ins_lo: Default::default(),
            r1_ins_hi: Default::default(),
            r1_ins_sh: Default::default(),
            r1_c32: Default::default(),
            r1_c32_start: Default::default(),
            r1_c32_skip: Default::default(),
            r1_c32_keep: Default::default(),
            r2_valid: Default::default(),
            r2_data: Default::default(),
            r2_keep: Default::default(),
            r2_fkeep: Default::default(),
            r2_first: Default::default(),
            r2_last: Default::default(),
            r2_fcs_lo: Default::default(),
            r2_fcs_hi: Default::default(),
            r2_m: Default::default(),
            r2_ins_lo: Default::default(),
            r2_ins_hi: Default::default(),
            r2_ins_sh: Default::default(),
            r2_move: Default::default(),
            can_2: Default::default(),
            can_o: Default::default(),
            r1_move: Default::default(),
            load1: Default::default(),
            ins_val: Default::default(),
            ins_mask: Default::default(),
            ins_data: Default::default(),
            crc_ones: Constant::new(0xFFFF_FFFFu64.into()),
            o_valid: Default::default(),
            o_data: Default::default(),
            o_keep: Default::default(),
            o_last: Default::default(),
            o_first: Default::default(),
            o_fcs_lo: Default::default(),
            o_fcs_hi: Default::default(),
            o_m: Default::default(),
            fcs_wide: Default::default(),
            fcs: CrcEngine::crc32(),
            c32: CrcEngine::crc32c(),
            ev_load: Default::default(),
            e_valid: Default::default(),
            e_vi: Default::default(),
            e_kind: Default::default(),
            e_payload: Default::default(),
            e_aux: Default::default(),
            e_ts: Default::default(),
            rec_cap: k(RECS as u64),
            s_idle: k(S_IDLE),
            s_stream: k(S_STREAM),
            s_event: k(S_EVENT),
            min_len: k(desc::MIN_FRAME_NO_FCS as u64),
            k_tx_done: k(EventType::TxDone as u64),
            k_error: k(EventType::Error as u64),
            code_bad_length: k(ErrorCode::TxBadLength as u64),
            code_dma_fault: k(ErrorCode::DmaFault as u64),
        }
    }
}

impl Logic for TxStream {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            rec_wr,
            rec_rd,
            rec_loaded,
            wr_ptr,
            free,
            state,
            cur_kind,
            cur_vi,
            cur_idx,
            cur_len,
            cur_bad,
            cur_start,
            cur_nwords,
            cur_sh,
            cur_last,
            cur_dlast,
            cur_dlast1,
            cur_m,
            cur_mkeep,
            cur_lkeep,
            cur_crc_on,
            cur_cs_beat,
            cur_cs_skip,
            cur_ce_beat,
            cur_ce_keep,
            cur_ins_beat,
            cur_ins_beat1,
            cur_ins_sh,
            beat,
            rem,
            hp,
            rd_odd_first,
            ts_first,
            r1_valid,
            r1_data,
            r1_keep,
            r1_fkeep,
            r1_first,
            r1_last,
            r1_fcs_lo,
            r1_fcs_hi,
            r1_m,
            r1_ins_lo,
            r1_ins_hi,
            r1_ins_sh,
            r1_c32,
            r1_c32_start,
            r1_c32_skip,
            r1_c32_keep,
            r2_valid,
            r2_data,
            r2_keep,
            r2_fkeep,
            r2_first,
            r2_last,
            r2_fcs_lo,
            r2_fcs_hi,
            r2_m,
            r2_ins_lo,
            r2_ins_hi,
            r2_ins_sh,
            o_valid,
            o_data,
            o_keep,
            o_last,
            o_first,
            o_fcs_lo,
            o_fcs_hi,
            o_m,
            e_valid,
            e_vi,
            e_kind,
            e_payload,
            e_aux,
            e_ts
        );
        for i in 0..RECS {
            self.fault[i].clock.next = self.clock.val();
            self.fault[i].d.next = self.fault[i].q.val();
        }
        self.recs.clock.next = self.clock.val();
        self.buf_even.clock.next = self.clock.val();
        self.buf_odd.clock.next = self.clock.val();
        self.fcs.clock.next = self.clock.val();
        self.fcs.reset.next = self.reset.val();
        self.c32.clock.next = self.clock.val();
        self.c32.reset.next = self.reset.val();

        // ---- Record queue: pushed at `rec_wr`; the RAM's output holds record `rec_rd` when
        // `rec_loaded` (a record pushed at edge t is read at edge t+1).
        // (A 5-bit constant: against a plain 16 the Verilog would subtract in 32 bits.)
        self.rec_space.next = (self.rec_wr.q.val() - self.rec_rd.q.val()) != self.rec_cap.val();
        self.recs.wr_en.next = self.rec_push.val();
        self.recs.wr_addr.next = self.rec_wr.q.val().get_bits::<4>(0);
        self.recs.wr_data.next = bit_cast::<REC_BITS, 2>(self.rec_kind.val())
            | (bit_cast::<REC_BITS, 8>(self.rec_vi.val()) << 2)
            | (bit_cast::<REC_BITS, 4>(self.rec_seq.val()) << 10)
            | (bit_cast::<REC_BITS, 32>(self.rec_idx.val()) << 14)
            | (bit_cast::<REC_BITS, 16>(self.rec_len.val()) << 46)
            | (bit_cast::<REC_BITS, 1>(self.rec_crc_on.val().into()) << 62)
            | (bit_cast::<REC_BITS, 16>(self.rec_crc_off.val()) << 63)
            | (bit_cast::<REC_BITS, 16>(self.rec_crc_len.val()) << 79)
            | (bit_cast::<REC_BITS, PW>(self.rec_start.val()) << 95)
            | (bit_cast::<REC_BITS, PW>(self.rec_nwords.val()) << 107)
            | (bit_cast::<REC_BITS, 4>(self.rec_off.val()) << 119);
        if self.rec_push.val() {
            self.rec_wr.d.next = self.rec_wr.q.val() + 1;
            // The sequence number's previous frame has left the queue: its fault flag was
            // read when it was chosen.
            for i in 0..RECS {
                if self.rec_seq.val().index() == i {
                    self.fault[i].d.next = false;
                }
            }
        }
        self.head.next = self.recs.rd_data.val();
        self.head_kind.next = self.head.val().get_bits::<2>(0);
        self.head_seq.next = self.head.val().get_bits::<4>(10);
        self.head_len.next = self.head.val().get_bits::<16>(46);
        self.head_crc_off.next = self.head.val().get_bits::<16>(63);
        self.head_crc_len.next = self.head.val().get_bits::<16>(79);
        self.head_start.next = self.head.val().get_bits::<PW>(95);
        self.head_nwords.next = self.head.val().get_bits::<PW>(107);
        self.head_off.next = self.head.val().get_bits::<4>(119);
        self.head_crc_end.next = self.head_crc_off.val() + self.head_crc_len.val();
        self.head_plen.next = self.head_len.val();
        if self.head_len.val() < self.min_len.val() {
            self.head_plen.next = self.min_len.val();
        }
        self.head_plen4.next = self.head_plen.val() + 4;
        self.head_have.next = self.wr_ptr.q.val() - self.head_start.val();
        self.head_ready.next =
            self.rec_loaded.q.val() & (self.head_have.val() >= self.head_nwords.val());
        self.head_fault.next = false;
        for i in 0..RECS {
            if self.head_seq.val().index() == i {
                self.head_fault.next = self.fault[i].q.val();
            }
        }
        self.head_bad.next = (self.head_kind.val() != 0) | self.head_fault.val();

        // ---- Data words: into the buffer in order.
        self.buf_even.wr_en.next = self.rsp_valid.val();
        self.buf_odd.wr_en.next = self.rsp_valid.val();
        self.buf_even.wr_addr.next = self.wr_ptr.q.val().get_bits::<BUF_AW>(0);
        self.buf_odd.wr_addr.next = self.wr_ptr.q.val().get_bits::<BUF_AW>(0);
        self.buf_even.wr_data.next = self.rsp_data.val().get_bits::<64>(0);
        self.buf_odd.wr_data.next = self.rsp_data.val().get_bits::<64>(64);
        if self.rsp_valid.val() {
            self.wr_ptr.d.next = self.wr_ptr.q.val() + 1;
            for i in 0..RECS {
                if self.rsp_err.val() & (self.rsp_seq.val().index() == i) {
                    self.fault[i].d.next = true;
                }
            }
        }
        self.free_ptr.next = self.free.q.val();

        // ---- Handshakes of the pipeline.
        // Only into an empty event register: `ev_ready` (the multicast's grant, combinational
        // from its state) then ends at flip-flops instead of running on into the choice of
        // the next frame. A frame done while its predecessor's event waits waits a cycle.
        self.ev_load.next = !self.e_valid.q.val();
        if self.ev_ready.val() {
            self.e_valid.d.next = false;
        }
        self.can_o.next = !self.o_valid.q.val() | self.tx_ready.val();
        self.r2_move.next = self.r2_valid.q.val() & self.can_o.val();
        self.can_2.next = !self.r2_valid.q.val() | self.r2_move.val();
        self.r1_move.next = self.r1_valid.q.val() & self.can_2.val();
        self.load1.next = !self.r1_valid.q.val() | self.r1_move.val();

        // ---- Build stage: the halves read for beat `beat`, realigned; bytes at and past the
        // frame's length zeroed (padding, and room for the FCS).
        self.win.next = bit_cast::<128, 64>(self.buf_even.rd_data.val())
            | (bit_cast::<128, 64>(self.buf_odd.rd_data.val()) << 64);
        if self.rd_odd_first.q.val() {
            self.win.next = bit_cast::<128, 64>(self.buf_odd.rd_data.val())
                | (bit_cast::<128, 64>(self.buf_even.rd_data.val()) << 64);
        }
        self.win_sh.next = self.win.val() >> (bit_cast::<8, 3>(self.cur_sh.q.val()) << 3);
        self.raw.next = self.win_sh.val().get_bits::<64>(0);
        self.rem_lanes.next = self.lane_num[8].val();
        if self.rem.q.val() < 8 {
            self.rem_lanes.next = self.rem.q.val().get_bits::<4>(0);
        }
        self.beat_data.next = 0.into();
        for i in 0..8 {
            if self.rem_lanes.val() > self.lane_num[i].val() {
                self.beat_data.next =
                    self.beat_data.val() | (self.raw.val() & self.lane_mask[i].val());
            }
        }
        self.c_on.next = self.cur_crc_on.q.val()
            & (self.beat.q.val() >= self.cur_cs_beat.q.val())
            & (self.beat.q.val() <= self.cur_ce_beat.q.val());

        // ---- The stream's control: choose a frame, build its beats, finish it.
        self.build.next = false;
        self.done.next = false;
        self.choose.next = false;
        self.rec_pop.next = false;
        self.complete.next = false;
        self.complete_vi.next = self.cur_vi.q.val();
        self.complete_error.next = self.cur_bad.q.val();
        if self.state.q.val() == self.s_idle.val() {
            self.choose.next = self.head_ready.val();
        } else if self.state.q.val() == self.s_stream.val() {
            if self.load1.val() {
                self.build.next = true;
                if self.beat.q.val() == self.cur_last.q.val() {
                    self.done.next = true;
                }
            }
        } else if self.state.q.val() == self.s_event.val() {
            self.done.next = true;
        } else {
            self.state.d.next = self.s_idle.val();
        }
        if self.build.val() {
            self.beat.d.next = self.beat.q.val() + 1;
            self.rem.d.next = 0.into();
            if self.rem.q.val() > 8 {
                self.rem.d.next = self.rem.q.val() - 8;
            }
        }
        // The frame is done: its event, its ring's completion, its buffer space; and the next
        // frame is chosen in the same cycle.
        if self.done.val() {
            if self.ev_load.val() & self.complete_ready.val() {
                self.e_valid.d.next = true;
                self.e_vi.d.next = self.cur_vi.q.val();
                self.e_kind.d.next = self.k_tx_done.val();
                self.e_payload.d.next = self.cur_idx.q.val();
                self.e_aux.d.next = self.cur_len.q.val();
                self.e_ts.d.next = self.ts_first.q.val();
                if self.cur_bad.q.val() {
                    self.e_kind.d.next = self.k_error.val();
                    self.e_aux.d.next = self.cur_idx.q.val().get_bits::<16>(0);
                    self.e_payload.d.next = self.code_dma_fault.val();
                    if self.cur_kind.q.val() == 1 {
                        self.e_payload.d.next = self.code_bad_length.val();
                    }
                    self.e_ts.d.next = self.cycles.val().get_bits::<40>(0);
                }
                self.complete.next = true;
                self.free.d.next = self.cur_start.q.val() + self.cur_nwords.q.val();
                self.state.d.next = self.s_idle.val();
                self.choose.next = self.head_ready.val();
            } else {
                self.state.d.next = self.s_event.val();
            }
        }
        if self.choose.val() {
            self.rec_pop.next = true;
            self.cur_kind.d.next = self.head_kind.val();
            self.cur_vi.d.next = self.head.val().get_bits::<8>(2);
            self.cur_idx.d.next = self.head.val().get_bits::<32>(14);
            self.cur_len.d.next = self.head_len.val();
            self.cur_bad.d.next = self.head_bad.val();
            self.cur_start.d.next = self.head_start.val();
            self.cur_nwords.d.next = self.head_nwords.val();
            self.cur_sh.d.next = self.head_off.val().get_bits::<3>(0);
            // Beats: the last data beat holds byte P - 1 (m = 1..=8 data bytes), the last beat
            // byte P + 3 (the FCS's last).
            self.cur_dlast.d.next = bit_cast::<11, 16>((self.head_plen.val() - 1) >> 3);
            self.cur_dlast1.d.next = bit_cast::<11, 16>((self.head_plen.val() + 7) >> 3);
            self.cur_last.d.next = bit_cast::<11, 16>((self.head_plen.val() + 3) >> 3);
            self.cur_m.d.next =
                bit_cast::<4, 16>(self.head_plen.val() - (((self.head_plen.val() - 1) >> 3) << 3));
            self.cur_mkeep.d.next = self.keep_of[8].val();
            self.cur_lkeep.d.next = self.keep_of[8].val();
            for n in 1..8 {
                if self.head_plen.val().get_bits::<3>(0).index() == n {
                    self.cur_mkeep.d.next = self.keep_of[n].val();
                }
                if self.head_plen4.val().get_bits::<3>(0).index() == n {
                    self.cur_lkeep.d.next = self.keep_of[n].val();
                }
            }
            // CRC-32C: the span's first and last beats, the beat the CRC starts in.
            self.cur_crc_on.d.next = self.head.val().get_bit(62) & (self.head_kind.val() == 0);
            self.cur_cs_beat.d.next = bit_cast::<11, 16>(self.head_crc_off.val() >> 3);
            self.cur_cs_skip.d.next = self.head_crc_off.val().get_bits::<3>(0);
            self.cur_ce_beat.d.next = bit_cast::<11, 16>((self.head_crc_end.val() - 1) >> 3);
            self.cur_ce_keep.d.next = self.keep_of[8].val();
            for n in 1..8 {
                if self.head_crc_end.val().get_bits::<3>(0).index() == n {
                    self.cur_ce_keep.d.next = self.keep_of[n].val();
                }
            }
            self.cur_ins_beat.d.next = bit_cast::<11, 16>(self.head_crc_end.val() >> 3);
            self.cur_ins_beat1.d.next = bit_cast::<11, 16>((self.head_crc_end.val() >> 3) + 1);
            self.cur_ins_sh.d.next = self.head_crc_end.val().get_bits::<3>(0);
            self.beat.d.next = 0.into();
            self.rem.d.next = self.head_len.val();
            if self.head_bad.val() {
                self.state.d.next = self.s_event.val();
            } else {
                self.state.d.next = self.s_stream.val();
            }
        }
        if self.rec_pop.val() {
            self.rec_rd.d.next = self.rec_rd.q.val() + 1;
        }
        self.rec_next.next = self.rec_rd.q.val() + bit_cast::<5, 1>(self.rec_pop.val().into());
        self.recs.rd_en.next = false;
        self.recs.rd_addr.next = self.rec_next.val().get_bits::<4>(0);
        if (!self.rec_loaded.q.val() | self.rec_pop.val())
            & (self.rec_wr.q.val() != self.rec_next.val())
        {
            self.recs.rd_en.next = true;
            self.rec_loaded.d.next = true;
        } else if self.rec_pop.val() {
            self.rec_loaded.d.next = false;
        }

        // ---- Read stage: the two halves of the next beat to build (a chosen frame's first,
        // or the current frame's next); only words of the frame are read.
        self.issue.next = self.choose.val() | (self.build.val() & !self.done.val());
        self.rh.next = self.hp.q.val() + 1;
        self.rstart.next = self.cur_start.q.val();
        self.rn.next = self.cur_nwords.q.val();
        if self.choose.val() {
            self.rh.next = (bit_cast::<HW, PW>(self.head_start.val()) << 1)
                | bit_cast::<HW, 1>(self.head_off.val().get_bit(3).into());
            self.rstart.next = self.head_start.val();
            self.rn.next = self.head_nwords.val();
        }
        self.rw0.next = self.rh.val().get_bits::<PW>(1);
        self.w_odd.next = self.rw0.val();
        self.w_even.next = self.rw0.val();
        if self.rh.val().get_bit(0) {
            self.w_even.next = self.rw0.val() + 1;
        }
        self.buf_even.rd_addr.next = self.w_even.val().get_bits::<BUF_AW>(0);
        self.buf_odd.rd_addr.next = self.w_odd.val().get_bits::<BUF_AW>(0);
        self.buf_even.rd_en.next =
            self.issue.val() & ((self.w_even.val() - self.rstart.val()) < self.rn.val());
        self.buf_odd.rd_en.next =
            self.issue.val() & ((self.w_odd.val() - self.rstart.val()) < self.rn.val());
        if self.issue.val() {
            self.hp.d.next = self.rh.val();
            self.rd_odd_first.d.next = self.rh.val().get_bit(0);
        }

        // ---- Build into r1, with what CRC-32C is to absorb of the beat (it absorbs from r1,
        // not from the realignment, which would put the buffer RAM, the realignment and the
        // CRC map in one cycle).
        if self.r1_move.val() {
            self.r1_valid.d.next = false;
        }
        if self.build.val() {
            self.r1_valid.d.next = true;
            self.r1_data.d.next = self.beat_data.val();
            self.r1_first.d.next = self.beat.q.val() == 0;
            self.r1_last.d.next = self.done.val();
            self.r1_keep.d.next = self.keep_of[8].val();
            if self.done.val() {
                self.r1_keep.d.next = self.cur_lkeep.q.val();
            }
            self.r1_fkeep.d.next = self.keep_of[8].val();
            if self.beat.q.val() == self.cur_dlast.q.val() {
                self.r1_fkeep.d.next = self.cur_mkeep.q.val();
            } else if self.beat.q.val() > self.cur_dlast.q.val() {
                self.r1_fkeep.d.next = self.keep_of[0].val();
            }
            self.r1_fcs_lo.d.next = self.beat.q.val() == self.cur_dlast.q.val();
            self.r1_fcs_hi.d.next = self.beat.q.val() == self.cur_dlast1.q.val();
            self.r1_m.d.next = self.cur_m.q.val();
            self.r1_ins_lo.d.next =
                self.cur_crc_on.q.val() & (self.beat.q.val() == self.cur_ins_beat.q.val());
            self.r1_ins_hi.d.next =
                self.cur_crc_on.q.val() & (self.beat.q.val() == self.cur_ins_beat1.q.val());
            self.r1_ins_sh.d.next = self.cur_ins_sh.q.val();
            self.r1_c32.d.next = self.c_on.val();
            self.r1_c32_start.d.next = self.beat.q.val() == self.cur_cs_beat.q.val();
            self.r1_c32_skip.d.next = self.cur_cs_skip.q.val();
            self.r1_c32_keep.d.next = self.keep_of[8].val();
            if self.beat.q.val() == self.cur_ce_beat.q.val() {
                self.r1_c32_keep.d.next = self.cur_ce_keep.q.val();
            }
        }

        // ---- r1 into r2; CRC-32C absorbs the span's bytes of the beat.
        self.c32.valid.next = self.r1_move.val() & self.r1_c32.q.val();
        self.c32.start.next = self.r1_c32_start.q.val();
        self.c32.skip.next = self.r1_c32_skip.q.val();
        self.c32.data.next = self.r1_data.q.val();
        self.c32.keep.next = self.r1_c32_keep.q.val();
        if self.r2_move.val() {
            self.r2_valid.d.next = false;
        }
        if self.r1_move.val() {
            self.r2_valid.d.next = true;
            self.r2_data.d.next = self.r1_data.q.val();
            self.r2_keep.d.next = self.r1_keep.q.val();
            self.r2_fkeep.d.next = self.r1_fkeep.q.val();
            self.r2_first.d.next = self.r1_first.q.val();
            self.r2_last.d.next = self.r1_last.q.val();
            self.r2_fcs_lo.d.next = self.r1_fcs_lo.q.val();
            self.r2_fcs_hi.d.next = self.r1_fcs_hi.q.val();
            self.r2_m.d.next = self.r1_m.q.val();
            self.r2_ins_lo.d.next = self.r1_ins_lo.q.val();
            self.r2_ins_hi.d.next = self.r1_ins_hi.q.val();
            self.r2_ins_sh.d.next = self.r1_ins_sh.q.val();
        }

        // ---- Output stage: the CRC-32C bytes replace the 4 bytes after the span; the FCS
        // engine absorbs the beat.
        self.ins_val.next = bit_cast::<128, 32>(self.c32.crc.val())
            << (bit_cast::<8, 3>(self.r2_ins_sh.q.val()) << 3);
        self.ins_mask.next = self.crc_ones.val() << (bit_cast::<8, 3>(self.r2_ins_sh.q.val()) << 3);
        self.ins_data.next = self.r2_data.q.val();
        if self.r2_ins_lo.q.val() {
            self.ins_data.next = (self.r2_data.q.val() & !self.ins_mask.val().get_bits::<64>(0))
                | self.ins_val.val().get_bits::<64>(0);
        }
        if self.r2_ins_hi.q.val() {
            self.ins_data.next = (self.r2_data.q.val() & !self.ins_mask.val().get_bits::<64>(64))
                | self.ins_val.val().get_bits::<64>(64);
        }
        self.fcs.valid.next = self.r2_move.val();
        self.fcs.start.next = self.r2_first.q.val();
        self.fcs.skip.next = 0.into();
        self.fcs.data.next = self.ins_data.val();
        self.fcs.keep.next = self.r2_fkeep.q.val();
        if self.tx_ready.val() {
            self.o_valid.d.next = false;
        }
        if self.r2_move.val() {
            self.o_valid.d.next = true;
            self.o_data.d.next = self.ins_data.val();
            self.o_keep.d.next = self.r2_keep.q.val();
            self.o_last.d.next = self.r2_last.q.val();
            self.o_first.d.next = self.r2_first.q.val();
            self.o_fcs_lo.d.next = self.r2_fcs_lo.q.val();
            self.o_fcs_hi.d.next = self.r2_fcs_hi.q.val();
            self.o_m.d.next = self.r2_m.q.val();
        }
        if self.o_valid.q.val() & self.tx_ready.val() & self.o_first.q.val() {
            self.ts_first.d.next = self.cycles.val().get_bits::<40>(0);
        }
        // The FCS from the engine's registered CRC, after the last data byte.
        self.fcs_wide.next =
            bit_cast::<128, 32>(self.fcs.crc.val()) << (bit_cast::<8, 4>(self.o_m.q.val()) << 3);
        self.tx_valid.next = self.o_valid.q.val();
        self.tx_data.next = self.o_data.q.val();
        if self.o_fcs_lo.q.val() {
            self.tx_data.next = self.o_data.q.val() | self.fcs_wide.val().get_bits::<64>(0);
        }
        if self.o_fcs_hi.q.val() {
            self.tx_data.next = self.o_data.q.val() | self.fcs_wide.val().get_bits::<64>(64);
        }
        self.tx_keep.next = self.o_keep.q.val();
        self.tx_last.next = self.o_last.q.val();

        self.ev_valid.next = self.e_valid.q.val();
        self.ev_vi.next = self.e_vi.q.val();
        self.ev_kind.next = self.e_kind.q.val();
        self.ev_flags.next = 0.into();
        self.ev_payload.next = self.e_payload.q.val();
        self.ev_aux.next = self.e_aux.q.val();
        self.ev_timestamp.next = self.e_ts.q.val();
        self.ram_collision.next = self.recs.collision.val()
            | self.buf_even.collision.val()
            | self.buf_odd.collision.val();

        if self.reset.val() {
            self.rec_wr.d.next = 0.into();
            self.rec_rd.d.next = 0.into();
            self.rec_loaded.d.next = false;
            self.wr_ptr.d.next = 0.into();
            self.free.d.next = 0.into();
            self.state.d.next = self.s_idle.val();
            self.r1_valid.d.next = false;
            self.r2_valid.d.next = false;
            self.o_valid.d.next = false;
            self.e_valid.d.next = false;
            for i in 0..RECS {
                self.fault[i].d.next = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc::tests::{verilator_lint, CRC32, CRC32C};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::VecDeque;

    const CYCLE_BASE: u64 = (1 << 40) - 3000;
    const TS_MASK: u64 = (1 << 40) - 1;

    /// A frame to send: its bytes, its byte offset in its first buffer word, its CRC-32C
    /// span, whether one of its words faults, and a record kind (1, 2: refused descriptors).
    #[derive(Clone)]
    struct Frame {
        data: Vec<u8>,
        off: usize,
        crc: Option<(u16, u16)>,
        fault: bool,
        kind: u8,
    }

    #[derive(Debug)]
    struct Ev {
        vi: u8,
        kind: u8,
        payload: u32,
        aux: u16,
        timestamp: u64,
        seen: u64,
    }

    struct Bench {
        uut: TxStream,
        rng: ChaCha8Rng,
        cycle: u64,
        todo: VecDeque<Frame>,
        words: VecDeque<(u128, u8, bool)>,
        alloc: u64,
        seq: u8,
        pushed: usize,
        out: Vec<(Vec<u8>, u64, u64)>,
        cur: Vec<u8>,
        cur_start: u64,
        events: Vec<Ev>,
        ev_seen: Option<u64>,
        completions: Vec<(u8, bool)>,
        p_tx: f64,
        p_ev: f64,
        p_rsp: f64,
        p_cp: f64,
    }

    impl Bench {
        fn new(seed: u64, p_stall: f64) -> Self {
            let mut uut = TxStream::default();
            uut.connect_all();
            let mut b = Bench {
                uut,
                rng: ChaCha8Rng::seed_from_u64(seed),
                cycle: 0,
                todo: VecDeque::new(),
                words: VecDeque::new(),
                alloc: 0,
                seq: 0,
                pushed: 0,
                out: vec![],
                cur: vec![],
                cur_start: 0,
                events: vec![],
                ev_seen: None,
                completions: vec![],
                p_tx: 1.0 - p_stall,
                p_ev: 1.0 - p_stall,
                p_rsp: 1.0 - p_stall,
                p_cp: 1.0 - p_stall / 2.0,
            };
            b.uut.reset.next = true;
            b.step();
            b.uut.reset.next = false;
            b
        }

        fn settle(&mut self) {
            assert!(simulate(&mut self.uut, 200), "the circuit did not settle");
        }

        fn step(&mut self) {
            let tx_ready = self.rng.gen_bool(self.p_tx);
            let ev_ready = self.rng.gen_bool(self.p_ev);
            let rsp = self.rng.gen_bool(self.p_rsp);
            let cp = self.rng.gen_bool(self.p_cp);
            let u = &mut self.uut;
            u.cycles.next = (CYCLE_BASE + self.cycle).into();
            u.tx_ready.next = tx_ready;
            u.ev_ready.next = ev_ready;
            u.complete_ready.next = cp;
            u.rsp_valid.next = false;
            if let Some(&(data, seq, err)) = self.words.front().filter(|_| rsp) {
                u.rsp_valid.next = true;
                u.rsp_data.next =
                    (Bits::<128>::from((data >> 64) as u64) << 64) | Bits::<128>::from(data as u64);
                u.rsp_seq.next = (seq as u64).into();
                u.rsp_err.next = err;
                self.words.pop_front();
            }
            // The next record, when the queue and the buffer have room.
            u.rec_push.next = false;
            self.settle();
            let free = self.uut.free_ptr.val().to_u64();
            if let Some(f) = self.todo.front().cloned() {
                let nwords = if f.kind == 0 {
                    (f.off + f.data.len()).div_ceil(16) as u64
                } else {
                    0
                };
                let used = self.alloc.wrapping_sub(free) & ((1 << PW) - 1);
                if self.uut.rec_space.val() && used + nwords <= 1 << BUF_AW {
                    self.todo.pop_front();
                    let u = &mut self.uut;
                    u.rec_push.next = true;
                    u.rec_kind.next = (f.kind as u64).into();
                    u.rec_vi.next = ((self.pushed % 251) as u64).into();
                    u.rec_seq.next = (self.seq as u64).into();
                    u.rec_idx.next = (self.pushed as u64 * 0x1_0001).into();
                    u.rec_len.next = (f.data.len() as u64).into();
                    u.rec_crc_on.next = f.crc.is_some();
                    let (co, cl) = f.crc.unwrap_or((0, 0));
                    u.rec_crc_off.next = (co as u64).into();
                    u.rec_crc_len.next = (cl as u64).into();
                    u.rec_start.next = self.alloc.into();
                    u.rec_nwords.next = nwords.into();
                    u.rec_off.next = (f.off as u64).into();
                    let mut bytes = vec![0u8; f.off];
                    bytes.extend_from_slice(&f.data);
                    bytes.resize(16 * nwords as usize, 0xee);
                    let bad_word = self.rng.gen_range(0..nwords.max(1)) as usize;
                    for (i, w) in bytes.chunks(16).enumerate() {
                        let data = u128::from_le_bytes(w.try_into().unwrap());
                        self.words
                            .push_back((data, self.seq, f.fault && i == bad_word));
                    }
                    self.alloc = (self.alloc + nwords) & ((1 << PW) - 1);
                    self.seq = (self.seq + 1) % 16;
                    self.pushed += 1;
                }
            }
            self.settle();
            let u = &self.uut;
            assert!(
                !u.ram_collision.val(),
                "RAM collision in cycle {}",
                self.cycle
            );
            if u.tx_valid.val() && tx_ready {
                let keep = u.tx_keep.val().to_u64() as u8;
                assert!(keep != 0 && (keep as u16 + 1).is_power_of_two());
                if self.cur.is_empty() {
                    self.cur_start = self.cycle;
                }
                let data = u.tx_data.val().to_u64().to_le_bytes();
                self.cur
                    .extend_from_slice(&data[..keep.count_ones() as usize]);
                if u.tx_last.val() {
                    let f = std::mem::take(&mut self.cur);
                    self.out.push((f, self.cur_start, self.cycle));
                } else {
                    assert_eq!(keep, 0xff);
                }
            }
            if u.complete.val() {
                assert!(cp, "a completion only with complete_ready");
                self.completions
                    .push((u.complete_vi.val().to_u64() as u8, u.complete_error.val()));
            }
            if u.ev_valid.val() && self.ev_seen.is_none() {
                self.ev_seen = Some(self.cycle);
            }
            if u.ev_valid.val() && ev_ready {
                self.events.push(Ev {
                    vi: u.ev_vi.val().to_u64() as u8,
                    kind: u.ev_kind.val().to_u64() as u8,
                    payload: u.ev_payload.val().to_u64() as u32,
                    aux: u.ev_aux.val().to_u64() as u16,
                    timestamp: u.ev_timestamp.val().to_u64(),
                    seen: self.ev_seen.take().unwrap(),
                });
            }
            self.uut.clock.next = true.into();
            self.settle();
            self.uut.clock.next = false.into();
            self.settle();
            self.cycle += 1;
        }

        /// Sends `frames` and checks every output frame, event and completion.
        fn run(&mut self, frames: &[Frame]) {
            let (n0, e0) = (self.out.len(), self.events.len());
            let first = self.pushed;
            self.todo.extend(frames.iter().cloned());
            let mut limit = 100_000 + 20 * frames.len();
            while self.events.len() < e0 + frames.len() {
                self.step();
                limit -= 1;
                assert!(limit > 0, "timeout");
            }
            for _ in 0..20 {
                self.step();
            }
            assert_eq!(self.events.len(), e0 + frames.len(), "no extra events");
            let mut out = self.out[n0..].iter();
            for (i, (f, e)) in frames.iter().zip(&self.events[e0..]).enumerate() {
                let n = first + i;
                assert_eq!(e.vi as usize, n % 251);
                assert_eq!(
                    self.completions[n],
                    (e.vi, e.kind == EventType::Error as u8)
                );
                if f.kind != 0 || f.fault {
                    let code = if f.kind == 1 {
                        ErrorCode::TxBadLength
                    } else {
                        ErrorCode::DmaFault
                    };
                    assert_eq!(
                        (e.kind, e.payload, e.aux),
                        (EventType::Error as u8, code as u32, (n * 0x1_0001) as u16)
                    );
                    assert_eq!(e.timestamp, (CYCLE_BASE + e.seen - 1) & TS_MASK);
                    continue;
                }
                assert_eq!(
                    (e.kind, e.payload, e.aux),
                    (
                        EventType::TxDone as u8,
                        (n * 0x1_0001) as u32,
                        f.data.len() as u16
                    )
                );
                let (bytes, start, _) = out.next().expect("a frame per TX_DONE");
                assert_eq!(e.timestamp, (CYCLE_BASE + start) & TS_MASK, "timestamp");
                let want = wire(f);
                assert!(
                    *bytes == want,
                    "frame {n}: {} bytes at offset {} with span {:?}",
                    f.data.len(),
                    f.off,
                    f.crc
                );
            }
            assert!(out.next().is_none());
        }

        /// Idle cycles between consecutive frames sent since frame `from`.
        fn gaps(&self, from: usize) -> Vec<u64> {
            self.out[from..]
                .windows(2)
                .map(|w| w[1].1 - w[0].2 - 1)
                .collect()
        }
    }

    /// What the wire must carry for `f`.
    fn wire(f: &Frame) -> Vec<u8> {
        let mut w = f.data.clone();
        if let Some((s, n)) = f.crc {
            let (s, n) = (s as usize, n as usize);
            let c = CRC32C.checksum(&w[s..s + n]);
            w[s + n..s + n + 4].copy_from_slice(&c.to_le_bytes());
        }
        w.resize(w.len().max(60), 0);
        let fcs = CRC32.checksum(&w);
        w.extend_from_slice(&fcs.to_le_bytes());
        w
    }

    fn frame(rng: &mut ChaCha8Rng, len: usize, crc: Option<(u16, u16)>) -> Frame {
        Frame {
            data: (0..len).map(|_| rng.gen()).collect(),
            off: rng.gen_range(0..16),
            crc,
            fault: false,
            kind: 0,
        }
    }

    /// Every CRC-32C span of 64- and 69-byte frames (every start, every length whose CRC
    /// fits), and of some runts, back to back: the CRC is right and no frame waits.
    #[test]
    fn every_crc32c_span_back_to_back() {
        let mut b = Bench::new(1, 0.0);
        for len in [64usize, 69, 21] {
            let mut frames = vec![];
            for s in 0..len - 4 {
                for n in 1..=len - 4 - s {
                    frames.push(frame(&mut b.rng, len, Some((s as u16, n as u16))));
                }
            }
            let from = b.out.len();
            b.run(&frames);
            // The first frames wait for their words; then none waits.
            let gaps = b.gaps(from);
            assert!(gaps[16..].iter().all(|&g| g == 0), "{len}: {gaps:?}");
        }
    }

    /// Every length 1..=200 and some long ones, at every buffer offset, with stalls on every
    /// handshake (the MAC, the event sink, the completions, the data words).
    #[test]
    fn lengths_offsets_and_stalls() {
        for (seed, stall) in [(2u64, 0.0), (3, 0.3), (4, 0.6)] {
            let mut b = Bench::new(seed, stall);
            let mut frames = vec![];
            for len in (1..=200).chain([1500, 1514, 9000, desc::TX_MAX_LEN as usize]) {
                let crc = if len > 5 && b.rng.gen_bool(0.5) {
                    let s = b.rng.gen_range(0..len - 4);
                    Some((s as u16, b.rng.gen_range(1..=len - 4 - s) as u16))
                } else {
                    None
                };
                let mut f = frame(&mut b.rng, len, crc);
                f.off = len % 16;
                frames.push(f);
            }
            b.run(&frames);
        }
    }

    /// Refused descriptors and frames with a faulted word give ERROR events and send nothing;
    /// the frames around them go out whole, back to back.
    #[test]
    fn errors_and_faults_send_nothing() {
        let mut b = Bench::new(5, 0.1);
        let mut frames = vec![];
        for i in 0..60 {
            let len = b.rng.gen_range(1..300);
            let mut f = frame(&mut b.rng, len, None);
            match i % 5 {
                1 => f.kind = 1,
                2 => f.kind = 2,
                3 => f.fault = true,
                _ => {}
            }
            frames.push(f);
        }
        b.run(&frames);
        assert_eq!(b.out.len(), 24);
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = TxStream::default();
        uut.connect_all();
        verilator_lint("tx_stream", &generate_verilog(&uut));
    }
}
