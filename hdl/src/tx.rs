//! The transmit path: per-VI descriptor rings in host memory, DMA reads of descriptors and
//! frames into an on-chip frame buffer, and the 64-bit MAC transmit stream with optional
//! CRC-32C insertion, runt padding and the Ethernet FCS, then a TX_DONE (or ERROR) event.
//!
//! # Ports
//!
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | | rising edge; synchronous active-high reset of all state |
//! | `enable` | in | 1 | `CONTROL.ENABLE`: no descriptor is fetched while low (work already fetched finishes) |
//! | `rd`, `wr`, `addr`, `wdata` | in | 1,1,17,32 | register bus (see [`crate::regbus`]) |
//! | `ack`, `rdata` | out | 1, 32 | the `TXQ_*` registers of every VI page (see [`crate::tx_ring`]) |
//! | `dmar_req_valid`, `dmar_req_ready` | out, in | 1 | DMA read request handshake |
//! | `dmar_req_addr`, `dmar_req_tag` | out | 64, 8 | 16-byte aligned address (16 bytes read); tag, bit 7 always set |
//! | `dmar_rsp_valid`, `dmar_rsp_tag`, `dmar_rsp_data`, `dmar_rsp_err` | in | 1, 8, 128, 1 | responses, in request order; those with tag bit 7 clear are not ours and ignored |
//! | `tx_data`, `tx_keep`, `tx_valid`, `tx_last` | out | 64, 8, 1, 1 | MAC stream, byte 0 in bits 7:0; frames end with their FCS |
//! | `tx_ready` | in | 1 | the MAC takes the beat |
//! | `ev_valid`, `ev_ready` | out, in | 1 | event handshake; the event is held until taken |
//! | `ev_vi`, `ev_kind`, `ev_flags`, `ev_payload`, `ev_aux` | out | 8, 4, 8, 32, 16 | TX_DONE: payload = descriptor index, aux = frame length; ERROR: payload = `ErrorCode`, aux = index bits 15:0; flags 0 |
//!
//! # Tags
//!
//! `0b11xx_ssss`: a descriptor read into descriptor slot `ssss` (16 slots); `0b10xx_ssss`: a
//! frame data read for the frame of sequence number `ssss` (mod 16). Bits marked `x` are 0.
//!
//! # Contract
//!
//! * Descriptors are fetched round robin across the VIs whose ring holds posted descriptors
//!   (one descriptor per turn), up to 16 descriptors ahead, and completed in fetch order.
//! * A descriptor with length 0, length > `TX_MAX_LEN`, or a CRC-32C span (flag set, span
//!   length != 0) whose 4 CRC bytes do not fit in the frame gives ERROR/TxBadLength and no
//!   frame read. A refused descriptor read gives ERROR/DmaFault. A frame whose data read is
//!   refused (any 16-byte read) gives ERROR/DmaFault and nothing on the MAC port: the frame is
//!   stored whole in the frame buffer (32 KiB ring) before its first beat is sent.
//! * Only the 16-byte blocks covering `[addr, addr + len)` are read.
//! * Frames shorter than 60 bytes are padded with zeros to 60; then the FCS is appended.
//!   With the CRC-32C flag, CRC-32C of the span is written LSB first over the 4 bytes after it,
//!   before the FCS is computed, from the buffered data (no second pass over host memory).
//! * Each completion (event accepted into the event register) advances the VI's `TXQ_RPTR`;
//!   an ERROR also advances `TXQ_ERRORS`.
//!
//! # Structure
//!
//! Fetch side: round-robin descriptor reads into 16 slots; the frame issuer takes the head
//! slot in order, checks it, allocates its 16-byte words in the frame buffer ring and queues a
//! frame record (16 deep: up to 16 frames between fetch and transmission), then issues its
//! data reads. Stream side: a buffer reader copies words, in buffer order and as soon as they
//! have arrived, into an 8-word FIFO (one word per cycle: twice what the stream consumes); the
//! stream builds each 8-byte beat from the first two FIFO words (byte shift 0..15) and feeds
//! CRC-32C one beat ahead from the first three. A frame's words leave the FIFO as its beats
//! pass them, and its last beat drops the rest, so the FIFO head is then the next frame's
//! first word (a faulted frame is skipped by restarting the reader after it).
//!
//! # Timing (cycles)
//!
//! * Fetch: a descriptor read is issued when the request port is free of frame reads; its
//!   frame's reads are issued back to back (one per cycle while `dmar_req_ready`) from the
//!   cycle after the descriptor returns and buffer space is free, with one request cycle
//!   between frames (used by a descriptor read). A 60-byte frame costs 5 to 6 request cycles
//!   (descriptor + 4 or 5 data words), less than its 8 cycles on the wire; 16 frames in flight
//!   cover the DMA latency (64 cycles in the simulation) with room to spare.
//! * Transmit: a frame starts once it is whole in the buffer and its first (up to 3) words
//!   are in the FIFO; each beat is loaded into the output register (visible on `tx_*` the next
//!   cycle), one 8-byte beat per cycle while `tx_ready`. A frame of `P = max(len, 60)` bytes
//!   takes `ceil((P + 4) / 8)` beats (the FCS shares the last data beat when it fits).
//! * Back to back: the cycle that loads a frame's last beat also posts its event (if the
//!   event register is free) and chooses the next frame, whose first beat loads in the next
//!   cycle: **no idle cycle** between frames, except one *prime* cycle before a frame whose
//!   CRC-32C span starts in its first 8 bytes (the CRC-32C engine runs one beat ahead), which a
//!   preceding FCS-only tail beat hides. So 64-byte frames (60 + FCS) run at line rate with
//!   the simulated 64-cycle DMA latency (`back_to_back_line_rate` test). An ERROR completion
//!   takes one cycle of its own. If the event register is full, the stream waits.
//! * CRC-32C adds at most that one prime cycle: the span is fed to the CRC-32C engine one beat
//!   ahead of the beat entering the output register, so its registered CRC is final when the
//!   beat that carries it is built; the FCS engine absorbs each beat as it enters the output
//!   register and its registered CRC is merged into the output lanes after the last data byte
//!   (no combinational path through either engine, so the Verilog has no false loop).

use crate::crc::CrcEngine;
use crate::regbus::{ADDR_BITS, PAGE_BITS};
use crate::tx_ring::TxRing;
use evnic_regs::desc;
use evnic_regs::event::{ErrorCode, EventType};
use evnic_regs::map;
use rust_hdl::prelude::*;

/// Number of VIs (rings).
pub const VIS: usize = 16;
/// Descriptor slots: descriptor reads in flight or waiting for the frame issuer.
const SLOTS: usize = 16;
/// Frame records: frames between the frame issuer and the end of their transmission.
const RECS: usize = 16;
/// Words (16 bytes) of the stream's read-ahead FIFO.
const FIFO: usize = 8;
/// log2 of the frame buffer size in 16-byte words (2048 words, 32 KiB).
pub const BUF_AW: usize = 11;
/// Width of the free-running buffer word pointers (one wrap bit).
const PW: usize = BUF_AW + 1;

// Stream states.
const S_IDLE: u64 = 0;
const S_PRIME: u64 = 1;
const S_STREAM: u64 = 2;
const S_TAIL: u64 = 3;
const S_EVENT: u64 = 4;

fn k<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

/// The transmit path. See the module documentation.
#[derive(LogicBlock)]
pub struct TxPath {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub enable: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub dmar_req_valid: Signal<Out, Bit>,
    pub dmar_req_ready: Signal<In, Bit>,
    pub dmar_req_addr: Signal<Out, Bits<64>>,
    pub dmar_req_tag: Signal<Out, Bits<8>>,
    pub dmar_rsp_valid: Signal<In, Bit>,
    pub dmar_rsp_tag: Signal<In, Bits<8>>,
    pub dmar_rsp_data: Signal<In, Bits<128>>,
    pub dmar_rsp_err: Signal<In, Bit>,
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

    rings: [TxRing; VIS],
    // Register decode.
    vi_page: Signal<Local, Bits<PAGE_BITS>>,
    in_vi_pages: Signal<Local, Bit>,
    page_first: Constant<Bits<PAGE_BITS>>,
    num_vis: Constant<Bits<PAGE_BITS>>,

    // DMA request register.
    rq_valid: DFF<Bit>,
    rq_addr: DFF<Bits<64>>,
    rq_tag: DFF<Bits<8>>,
    rq_load: Signal<Local, Bit>,

    // Descriptor fetch: round robin pointer and the descriptor slots (reserved at request,
    // filled by the response, freed when the frame issuer takes them).
    rr: DFF<Bits<4>>,
    cf_vec: Signal<Local, Bits<16>>,
    cf_rot: Signal<Local, Bits<32>>,
    pick_off: Signal<Local, Bits<4>>,
    pick_vi: Signal<Local, Bits<4>>,
    pick_hit: Signal<Local, Bit>,
    vi_bit: [Constant<Bits<32>>; VIS],
    vi_num: [Constant<Bits<4>>; VIS],
    pick_can: Signal<Local, Bit>,
    pick_addr: Signal<Local, Bits<64>>,
    pick_index: Signal<Local, Bits<32>>,
    slot_wr: DFF<Bits<5>>,
    slot_rd: DFF<Bits<5>>,
    slot_vi: [DFF<Bits<4>>; SLOTS],
    slot_idx: [DFF<Bits<32>>; SLOTS],
    slot_data: [DFF<Bits<128>>; SLOTS],
    slot_full: [DFF<Bit>; SLOTS],
    slot_err: [DFF<Bit>; SLOTS],

    // Frame issuer: takes the head descriptor, checks it, queues a record, issues the reads.
    h_full: Signal<Local, Bit>,
    h_err: Signal<Local, Bit>,
    h_vi: Signal<Local, Bits<4>>,
    h_idx: Signal<Local, Bits<32>>,
    h_data: Signal<Local, Bits<128>>,
    h_len: Signal<Local, Bits<18>>,
    h_crc_off: Signal<Local, Bits<18>>,
    h_crc_len: Signal<Local, Bits<18>>,
    h_crc_on: Signal<Local, Bit>,
    h_bad: Signal<Local, Bit>,
    h_nwords: Signal<Local, Bits<PW>>,
    h_space: Signal<Local, Bit>,
    h_kind: Signal<Local, Bits<2>>,
    h_take: Signal<Local, Bit>,
    max_len: Constant<Bits<18>>,
    buf_words: Constant<Bits<13>>,
    di_busy: DFF<Bit>,
    di_addr: DFF<Bits<64>>,
    di_left: DFF<Bits<PW>>,
    di_seq: DFF<Bits<4>>,
    seq: DFF<Bits<4>>,
    alloc_ptr: DFF<Bits<PW>>,
    free_ptr: DFF<Bits<PW>>,

    // Frame records, in fetch order (16 deep). Layout: kind 1:0, vi 5:2, seq 9:6, idx 41:10,
    // len 57:42, crc_on 58, crc_off 74:59, crc_len 90:75, start word 102:91, nwords 114:103,
    // addr[3:0] 118:115.
    rec: [DFF<Bits<128>>; RECS],
    rec_wr: DFF<Bits<5>>,
    rec_rd: DFF<Bits<5>>,
    rec_push: Signal<Local, Bit>,
    rec_pop: Signal<Local, Bit>,
    rec_in: Signal<Local, Bits<128>>,
    rec_head: Signal<Local, Bits<128>>,

    // Response side.
    rx_ptr: DFF<Bits<PW>>,
    fault: [DFF<Bit>; RECS],
    buf_lo: RAM<Bits<64>, BUF_AW>,
    buf_hi: RAM<Bits<64>, BUF_AW>,

    // Buffer reader and read-ahead FIFO.
    fp: DFF<Bits<PW>>,
    rinfl: DFF<Bit>,
    ff: [DFF<Bits<128>>; FIFO],
    ffh: DFF<Bits<3>>,
    ffc: DFF<Bits<4>>,
    ff_tail: Signal<Local, Bits<3>>,
    ff_occ: Signal<Local, Bits<5>>,
    ff_pop: Signal<Local, Bits<4>>,
    ff_flush: Signal<Local, Bit>,
    ff_restart: Signal<Local, Bits<PW>>,
    rd_issue: Signal<Local, Bit>,
    ffh1: Signal<Local, Bits<3>>,
    ffh2: Signal<Local, Bits<3>>,
    w0: Signal<Local, Bits<128>>,
    w1: Signal<Local, Bits<128>>,
    w2: Signal<Local, Bits<128>>,
    win2: Signal<Local, Bits<256>>,
    win3: Signal<Local, Bits<384>>,
    win2_sh: Signal<Local, Bits<256>>,
    win3_sh: Signal<Local, Bits<384>>,
    b_sh: Signal<Local, Bits<8>>,
    c_byte: Signal<Local, Bits<8>>,
    c_sh: Signal<Local, Bits<9>>,
    need: Signal<Local, Bits<PW>>,
    win_ok: Signal<Local, Bit>,

    // Stream side.
    state: DFF<Bits<3>>,
    s_idle: Constant<Bits<3>>,
    s_prime: Constant<Bits<3>>,
    s_stream: Constant<Bits<3>>,
    s_tail: Constant<Bits<3>>,
    s_event: Constant<Bits<3>>,
    cur_kind: DFF<Bits<2>>,
    cur_vi: DFF<Bits<4>>,
    cur_idx: DFF<Bits<32>>,
    cur_len: DFF<Bits<16>>,
    cur_crc_on: DFF<Bit>,
    cur_crc_al: DFF<Bits<16>>,
    cur_crc_len: DFF<Bits<16>>,
    cur_crc_pos: DFF<Bits<16>>,
    cur_crc_end: DFF<Bits<16>>,
    cur_crc7: DFF<Bits<8>>,
    cur_end: DFF<Bits<PW>>,
    cur_last: DFF<Bits<11>>,
    cur_m: DFF<Bits<8>>,
    cur_bad: DFF<Bit>,
    cur_r: DFF<Bits<4>>,
    cur_left: DFF<Bits<PW>>,
    beat: DFF<Bits<11>>,
    o_fcs: DFF<Bit>,
    o_tail: DFF<Bit>,
    o_m: DFF<Bits<8>>,
    q_sb: Signal<Local, Bits<16>>,
    c_feed: Signal<Local, Bit>,
    tail_keep: DFF<Bits<8>>,
    head_kind: Signal<Local, Bits<2>>,
    head_ready: Signal<Local, Bit>,
    head_len: Signal<Local, Bits<16>>,
    head_plen: Signal<Local, Bits<16>>,
    head_crc_on: Signal<Local, Bit>,
    head_crc_off: Signal<Local, Bits<16>>,
    head_crc_len: Signal<Local, Bits<16>>,
    head_start: Signal<Local, Bits<PW>>,
    head_nwords: Signal<Local, Bits<PW>>,
    head_off: Signal<Local, Bits<4>>,
    head_seq: Signal<Local, Bits<4>>,
    head_fault: Signal<Local, Bit>,
    head_bad: Signal<Local, Bit>,
    head_have: Signal<Local, Bits<PW>>,
    choose: Signal<Local, Bit>,
    done: Signal<Local, Bit>,
    aligned: Signal<Local, Bits<64>>,
    sb: Signal<Local, Bits<16>>,
    lane_pos: Signal<Local, Bits<16>>,
    lane_byte: Signal<Local, Bits<8>>,
    frame_beat: Signal<Local, Bits<64>>,
    is_last: Signal<Local, Bit>,
    can_out: Signal<Local, Bit>,
    load: Signal<Local, Bit>,
    c_jpos: Signal<Local, Bits<16>>,
    c_active: Signal<Local, Bit>,
    c_final: Signal<Local, Bit>,
    c_rem: Signal<Local, Bits<16>>,
    crc_val: Signal<Local, Bits<32>>,
    fcs_wide: Signal<Local, Bits<128>>,
    slot_count: Signal<Local, Bits<5>>,
    rec_count: Signal<Local, Bits<5>>,
    h_sum: Signal<Local, Bits<18>>,
    h_used: Signal<Local, Bits<PW>>,
    lane_rel: Signal<Local, Bits<16>>,
    crc_sh32: Signal<Local, Bits<32>>,
    keep_tx: Signal<Local, Bits<16>>,
    keep_tail: Signal<Local, Bits<16>>,
    keep_fcs: Signal<Local, Bits<16>>,
    keep_c32: Signal<Local, Bits<16>>,
    lane_off: [Constant<Bits<16>>; 8],
    lane_shift: [Constant<Bits<8>>; 8],
    one16: Constant<Bits<16>>,
    min_len: Constant<Bits<16>>,
    fcs: CrcEngine,
    c32: CrcEngine,
    o_valid: DFF<Bit>,
    o_data: DFF<Bits<64>>,
    o_keep: DFF<Bits<8>>,
    o_last: DFF<Bit>,

    // Event register.
    e_valid: DFF<Bit>,
    e_vi: DFF<Bits<8>>,
    e_kind: DFF<Bits<4>>,
    e_payload: DFF<Bits<32>>,
    e_aux: DFF<Bits<16>>,
    ev_load: Signal<Local, Bit>,
    k_tx_done: Constant<Bits<4>>,
    k_error: Constant<Bits<4>>,
    code_bad_length: Constant<Bits<32>>,
    code_dma_fault: Constant<Bits<32>>,
}

impl Default for TxPath {
    fn default() -> Self {
        assert_eq!(VIS as u32, evnic_regs::params::NUM_VIS);
        assert_eq!(map::PAGE_BYTES, 1 << 12);
        assert_eq!(map::VI_PAGE_BASE % map::PAGE_BYTES, 0);
        assert_eq!(desc::DESC_BYTES, 16);
        assert_eq!(desc::TX_LEN, (0, 16));
        assert_eq!(desc::TX_CRC_OFFSET, (16, 16));
        assert_eq!(desc::TX_CRC_LEN, (32, 16));
        assert_eq!(desc::TX_FLAGS, (48, 8));
        assert_eq!(desc::TX_FLAG_CRC32C, 1);
        // A maximal frame at any alignment fits in half the buffer.
        const { assert!((desc::TX_MAX_LEN as usize).div_ceil(16) < (1 << BUF_AW) / 2) };
        Self {
            clock: Default::default(),
            reset: Default::default(),
            enable: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            dmar_req_valid: Default::default(),
            dmar_req_ready: Default::default(),
            dmar_req_addr: Default::default(),
            dmar_req_tag: Default::default(),
            dmar_rsp_valid: Default::default(),
            dmar_rsp_tag: Default::default(),
            dmar_rsp_data: Default::default(),
            dmar_rsp_err: Default::default(),
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
            rings: std::array::from_fn(|_| TxRing::default()),
            vi_page: Default::default(),
            in_vi_pages: Default::default(),
            page_first: Constant::new(((map::VI_PAGE_BASE / map::PAGE_BYTES) as u64).into()),
            num_vis: Constant::new((VIS as u64).into()),
            rq_valid: Default::default(),
            rq_addr: Default::default(),
            rq_tag: Default::default(),
            rq_load: Default::default(),
            rr: Default::default(),
            cf_vec: Default::default(),
            cf_rot: Default::default(),
            pick_off: Default::default(),
            pick_vi: Default::default(),
            pick_hit: Default::default(),
            vi_bit: std::array::from_fn(|i| Constant::new((1u64 << i).into())),
            vi_num: std::array::from_fn(|i| Constant::new((i as u64).into())),
            pick_can: Default::default(),
            pick_addr: Default::default(),
            pick_index: Default::default(),
            slot_wr: Default::default(),
            slot_rd: Default::default(),
            slot_vi: Default::default(),
            slot_idx: Default::default(),
            slot_data: Default::default(),
            slot_full: Default::default(),
            slot_err: Default::default(),
            h_full: Default::default(),
            h_err: Default::default(),
            h_vi: Default::default(),
            h_idx: Default::default(),
            h_data: Default::default(),
            h_len: Default::default(),
            h_crc_off: Default::default(),
            h_crc_len: Default::default(),
            h_crc_on: Default::default(),
            h_bad: Default::default(),
            h_nwords: Default::default(),
            h_space: Default::default(),
            h_kind: Default::default(),
            h_take: Default::default(),
            max_len: Constant::new((desc::TX_MAX_LEN as u64).into()),
            buf_words: Constant::new(((1u64) << BUF_AW).into()),
            di_busy: Default::default(),
            di_addr: Default::default(),
            di_left: Default::default(),
            di_seq: Default::default(),
            seq: Default::default(),
            alloc_ptr: Default::default(),
            free_ptr: Default::default(),
            rec: Default::default(),
            rec_wr: Default::default(),
            rec_rd: Default::default(),
            rec_push: Default::default(),
            rec_pop: Default::default(),
            rec_in: Default::default(),
            rec_head: Default::default(),
            rx_ptr: Default::default(),
            fault: Default::default(),
            buf_lo: Default::default(),
            buf_hi: Default::default(),
            fp: Default::default(),
            rinfl: Default::default(),
            ff: Default::default(),
            ffh: Default::default(),
            ffc: Default::default(),
            ff_tail: Default::default(),
            ff_occ: Default::default(),
            ff_pop: Default::default(),
            ff_flush: Default::default(),
            ff_restart: Default::default(),
            rd_issue: Default::default(),
            ffh1: Default::default(),
            ffh2: Default::default(),
            w0: Default::default(),
            w1: Default::default(),
            w2: Default::default(),
            win2: Default::default(),
            win3: Default::default(),
            win2_sh: Default::default(),
            win3_sh: Default::default(),
            b_sh: Default::default(),
            c_byte: Default::default(),
            c_sh: Default::default(),
            need: Default::default(),
            win_ok: Default::default(),
            state: Default::default(),
            s_idle: k(S_IDLE),
            s_prime: k(S_PRIME),
            s_stream: k(S_STREAM),
            s_tail: k(S_TAIL),
            s_event: k(S_EVENT),
            cur_kind: Default::default(),
            cur_vi: Default::default(),
            cur_idx: Default::default(),
            cur_len: Default::default(),
            cur_crc_on: Default::default(),
            cur_crc_al: Default::default(),
            cur_crc_len: Default::default(),
            cur_crc_pos: Default::default(),
            cur_crc_end: Default::default(),
            cur_crc7: Default::default(),
            cur_end: Default::default(),
            cur_last: Default::default(),
            cur_m: Default::default(),
            cur_bad: Default::default(),
            cur_r: Default::default(),
            cur_left: Default::default(),
            beat: Default::default(),
            o_fcs: Default::default(),
            o_tail: Default::default(),
            o_m: Default::default(),
            q_sb: Default::default(),
            c_feed: Default::default(),
            tail_keep: Default::default(),
            head_kind: Default::default(),
            head_ready: Default::default(),
            head_len: Default::default(),
            head_plen: Default::default(),
            head_crc_on: Default::default(),
            head_crc_off: Default::default(),
            head_crc_len: Default::default(),
            head_start: Default::default(),
            head_nwords: Default::default(),
            head_off: Default::default(),
            head_seq: Default::default(),
            head_fault: Default::default(),
            head_bad: Default::default(),
            head_have: Default::default(),
            choose: Default::default(),
            done: Default::default(),
            aligned: Default::default(),
            sb: Default::default(),
            lane_pos: Default::default(),
            lane_byte: Default::default(),
            frame_beat: Default::default(),
            is_last: Default::default(),
            can_out: Default::default(),
            load: Default::default(),
            c_jpos: Default::default(),
            c_active: Default::default(),
            c_final: Default::default(),
            c_rem: Default::default(),
            crc_val: Default::default(),
            fcs_wide: Default::default(),
            slot_count: Default::default(),
            rec_count: Default::default(),
            h_sum: Default::default(),
            h_used: Default::default(),
            lane_rel: Default::default(),
            crc_sh32: Default::default(),
            keep_tx: Default::default(),
            keep_tail: Default::default(),
            keep_fcs: Default::default(),
            keep_c32: Default::default(),
            lane_off: std::array::from_fn(|i| Constant::new((i as u64).into())),
            lane_shift: std::array::from_fn(|i| Constant::new((8 * i as u64).into())),
            one16: Constant::new(1u64.into()),
            min_len: Constant::new((desc::MIN_FRAME_NO_FCS as u64).into()),
            fcs: CrcEngine::crc32(),
            c32: CrcEngine::crc32c(),
            o_valid: Default::default(),
            o_data: Default::default(),
            o_keep: Default::default(),
            o_last: Default::default(),
            e_valid: Default::default(),
            e_vi: Default::default(),
            e_kind: Default::default(),
            e_payload: Default::default(),
            e_aux: Default::default(),
            ev_load: Default::default(),
            k_tx_done: Constant::new((EventType::TxDone as u64).into()),
            k_error: Constant::new((EventType::Error as u64).into()),
            code_bad_length: Constant::new((ErrorCode::TxBadLength as u64).into()),
            code_dma_fault: Constant::new((ErrorCode::DmaFault as u64).into()),
        }
    }
}

impl Logic for TxPath {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            rq_valid,
            rq_addr,
            rq_tag,
            rr,
            slot_wr,
            slot_rd,
            di_busy,
            di_addr,
            di_left,
            di_seq,
            seq,
            alloc_ptr,
            free_ptr,
            rec_wr,
            rec_rd,
            rx_ptr,
            fp,
            rinfl,
            ffh,
            ffc,
            state,
            cur_kind,
            cur_vi,
            cur_idx,
            cur_len,
            cur_crc_on,
            cur_crc_al,
            cur_crc_len,
            cur_crc_pos,
            cur_crc_end,
            cur_crc7,
            cur_end,
            cur_last,
            cur_m,
            cur_bad,
            cur_r,
            cur_left,
            beat,
            o_fcs,
            o_tail,
            o_m,
            tail_keep,
            o_valid,
            o_data,
            o_keep,
            o_last,
            e_valid,
            e_vi,
            e_kind,
            e_payload,
            e_aux
        );
        for i in 0..SLOTS {
            self.slot_vi[i].clock.next = self.clock.val();
            self.slot_vi[i].d.next = self.slot_vi[i].q.val();
            self.slot_idx[i].clock.next = self.clock.val();
            self.slot_idx[i].d.next = self.slot_idx[i].q.val();
            self.slot_data[i].clock.next = self.clock.val();
            self.slot_data[i].d.next = self.slot_data[i].q.val();
            self.slot_full[i].clock.next = self.clock.val();
            self.slot_full[i].d.next = self.slot_full[i].q.val();
            self.slot_err[i].clock.next = self.clock.val();
            self.slot_err[i].d.next = self.slot_err[i].q.val();
        }
        for i in 0..RECS {
            self.rec[i].clock.next = self.clock.val();
            self.rec[i].d.next = self.rec[i].q.val();
            self.fault[i].clock.next = self.clock.val();
            self.fault[i].d.next = self.fault[i].q.val();
        }
        for i in 0..FIFO {
            self.ff[i].clock.next = self.clock.val();
            self.ff[i].d.next = self.ff[i].q.val();
        }
        self.fcs.clock.next = self.clock.val();
        self.fcs.reset.next = self.reset.val();
        self.c32.clock.next = self.clock.val();
        self.c32.reset.next = self.reset.val();
        self.buf_lo.read_clock.next = self.clock.val();
        self.buf_lo.write_clock.next = self.clock.val();
        self.buf_hi.read_clock.next = self.clock.val();
        self.buf_hi.write_clock.next = self.clock.val();

        // ---- Register side: the VI pages.
        self.vi_page.next = self.addr.val().get_bits::<PAGE_BITS>(12) - self.page_first.val();
        self.in_vi_pages.next = (self.addr.val().get_bits::<PAGE_BITS>(12)
            >= self.page_first.val())
            & (self.vi_page.val() < self.num_vis.val());
        self.ack.next = false;
        self.rdata.next = 0.into();
        for i in 0..VIS {
            self.rings[i].clock.next = self.clock.val();
            self.rings[i].reset.next = self.reset.val();
            self.rings[i].sel.next =
                self.in_vi_pages.val() & (self.vi_page.val().get_bits::<4>(0).index() == i);
            self.rings[i].rd.next = self.rd.val();
            self.rings[i].wr.next = self.wr.val();
            self.rings[i].word.next = self.addr.val().get_bits::<10>(2);
            self.rings[i].wdata.next = self.wdata.val();
            self.rings[i].fetch.next = false;
            self.rings[i].complete.next = false;
            self.rings[i].error.next = false;
            self.ack.next = self.ack.val() | self.rings[i].ack.val();
            self.rdata.next = self.rdata.val() | self.rings[i].rdata.val();
        }

        // ---- Descriptor fetch (round robin over the rings with work, from `rr`) and the
        // DMA request register.
        self.cf_vec.next = 0.into();
        for i in 0..VIS {
            if self.rings[i].can_fetch.val() {
                self.cf_vec.next = self.cf_vec.val() | self.vi_bit[i].val().get_bits::<16>(0);
            }
        }
        self.cf_rot.next = (bit_cast::<32, 16>(self.cf_vec.val())
            | (bit_cast::<32, 16>(self.cf_vec.val()) << 16))
            >> self.rr.q.val();
        self.pick_can.next = self.cf_vec.val() != 0;
        self.pick_off.next = 0.into();
        self.pick_hit.next = false;
        for j in 0..VIS {
            if !self.pick_hit.val() & ((self.cf_rot.val() & self.vi_bit[j].val()) != 0) {
                self.pick_off.next = self.vi_num[j].val();
                self.pick_hit.next = true;
            }
        }
        self.pick_vi.next = self.rr.q.val() + self.pick_off.val();
        self.pick_addr.next = 0.into();
        self.pick_index.next = 0.into();
        for i in 0..VIS {
            if self.pick_vi.val().index() == i {
                self.pick_addr.next = self.rings[i].fetch_addr.val();
                self.pick_index.next = self.rings[i].fetch_index.val();
            }
        }
        self.slot_count.next = self.slot_wr.q.val() - self.slot_rd.q.val();
        self.rq_load.next = !self.rq_valid.q.val() | self.dmar_req_ready.val();
        if self.dmar_req_ready.val() {
            self.rq_valid.d.next = false;
        }
        if self.rq_load.val() & self.di_busy.q.val() {
            // A frame data read.
            self.rq_valid.d.next = true;
            self.rq_addr.d.next = self.di_addr.q.val();
            self.rq_tag.d.next = bit_cast::<8, 4>(self.di_seq.q.val()) | 0x80;
            self.di_addr.d.next = self.di_addr.q.val() + 16;
            self.di_left.d.next = self.di_left.q.val() - 1;
            if self.di_left.q.val() == 1 {
                self.di_busy.d.next = false;
            }
        } else if self.rq_load.val()
            & self.enable.val()
            & (self.slot_count.val() != 16)
            & self.pick_can.val()
        {
            // A descriptor read into the next slot.
            self.rq_valid.d.next = true;
            self.rq_addr.d.next = self.pick_addr.val();
            self.rq_tag.d.next = bit_cast::<8, 4>(self.slot_wr.q.val().get_bits::<4>(0)) | 0xC0;
            for i in 0..SLOTS {
                if self.slot_wr.q.val().get_bits::<4>(0).index() == i {
                    self.slot_vi[i].d.next = self.pick_vi.val();
                    self.slot_idx[i].d.next = self.pick_index.val();
                    self.slot_full[i].d.next = false;
                }
            }
            self.slot_wr.d.next = self.slot_wr.q.val() + 1;
            for i in 0..VIS {
                if self.pick_vi.val().index() == i {
                    self.rings[i].fetch.next = true;
                }
            }
            self.rr.d.next = self.pick_vi.val() + 1;
        }
        self.dmar_req_valid.next = self.rq_valid.q.val();
        self.dmar_req_addr.next = self.rq_addr.q.val();
        self.dmar_req_tag.next = self.rq_tag.q.val();

        // ---- Frame issuer: check the head descriptor and queue its record.
        self.h_full.next = false;
        self.h_err.next = false;
        self.h_vi.next = 0.into();
        self.h_idx.next = 0.into();
        self.h_data.next = 0.into();
        for i in 0..SLOTS {
            if self.slot_rd.q.val().get_bits::<4>(0).index() == i {
                self.h_full.next = self.slot_full[i].q.val();
                self.h_err.next = self.slot_err[i].q.val();
                self.h_vi.next = self.slot_vi[i].q.val();
                self.h_idx.next = self.slot_idx[i].q.val();
                self.h_data.next = self.slot_data[i].q.val();
            }
        }
        self.h_full.next = self.h_full.val() & (self.slot_wr.q.val() != self.slot_rd.q.val());
        self.h_len.next = bit_cast::<18, 16>(self.h_data.val().get_bits::<16>(64));
        self.h_crc_off.next = bit_cast::<18, 16>(self.h_data.val().get_bits::<16>(80));
        self.h_crc_len.next = bit_cast::<18, 16>(self.h_data.val().get_bits::<16>(96));
        self.h_crc_on.next = self.h_data.val().get_bit(112) & (self.h_crc_len.val() != 0);
        self.h_bad.next = (self.h_len.val() == 0)
            | (self.h_len.val() > self.max_len.val())
            | (self.h_crc_on.val()
                & ((self.h_crc_off.val() + self.h_crc_len.val() + 4) > self.h_len.val()));
        self.h_sum.next =
            bit_cast::<18, 4>(self.h_data.val().get_bits::<4>(0)) + self.h_len.val() + 15;
        self.h_nwords.next = self.h_sum.val().get_bits::<PW>(4);
        self.h_used.next = self.alloc_ptr.q.val() - self.free_ptr.q.val();
        self.h_space.next = (bit_cast::<13, PW>(self.h_used.val())
            + bit_cast::<13, PW>(self.h_nwords.val()))
            <= self.buf_words.val();
        self.h_kind.next = 0.into();
        if self.h_err.val() {
            self.h_kind.next = 2.into();
        } else if self.h_bad.val() {
            self.h_kind.next = 1.into();
        }
        self.rec_count.next = self.rec_wr.q.val() - self.rec_rd.q.val();
        self.h_take.next = self.h_full.val()
            & !self.di_busy.q.val()
            & (self.rec_count.val() != 16)
            & ((self.h_kind.val() != 0) | self.h_space.val());
        self.rec_in.next = bit_cast::<128, 2>(self.h_kind.val())
            | (bit_cast::<128, 4>(self.h_vi.val()) << 2)
            | (bit_cast::<128, 4>(self.seq.q.val()) << 6)
            | (bit_cast::<128, 32>(self.h_idx.val()) << 10)
            | (bit_cast::<128, 16>(self.h_len.val().get_bits::<16>(0)) << 42)
            | (bit_cast::<128, 1>(self.h_crc_on.val().into()) << 58)
            | (bit_cast::<128, 16>(self.h_crc_off.val().get_bits::<16>(0)) << 59)
            | (bit_cast::<128, 16>(self.h_crc_len.val().get_bits::<16>(0)) << 75)
            | (bit_cast::<128, PW>(self.alloc_ptr.q.val()) << 91)
            | (bit_cast::<128, 4>(self.h_data.val().get_bits::<4>(0)) << 115);
        if self.h_kind.val() == 0 {
            self.rec_in.next =
                self.rec_in.val() | (bit_cast::<128, PW>(self.h_nwords.val()) << 103);
        }
        self.rec_push.next = self.h_take.val();
        if self.h_take.val() {
            for i in 0..SLOTS {
                if self.slot_rd.q.val().get_bits::<4>(0).index() == i {
                    self.slot_full[i].d.next = false;
                }
            }
            // The sequence number's previous frame has left the record queue: its fault
            // flag was read when it was chosen.
            for i in 0..RECS {
                if self.seq.q.val().index() == i {
                    self.fault[i].d.next = false;
                }
            }
            self.slot_rd.d.next = self.slot_rd.q.val() + 1;
            self.seq.d.next = self.seq.q.val() + 1;
            if self.h_kind.val() == 0 {
                self.alloc_ptr.d.next = self.alloc_ptr.q.val() + self.h_nwords.val();
                self.di_busy.d.next = true;
                self.di_addr.d.next = (self.h_data.val().get_bits::<64>(0) >> 4) << 4;
                self.di_left.d.next = self.h_nwords.val();
                self.di_seq.d.next = self.seq.q.val();
            }
        }

        // ---- Responses.
        self.buf_lo.write_enable.next = false;
        self.buf_hi.write_enable.next = false;
        self.buf_lo.write_address.next = self.rx_ptr.q.val().get_bits::<BUF_AW>(0);
        self.buf_hi.write_address.next = self.rx_ptr.q.val().get_bits::<BUF_AW>(0);
        self.buf_lo.write_data.next = self.dmar_rsp_data.val().get_bits::<64>(0);
        self.buf_hi.write_data.next = self.dmar_rsp_data.val().get_bits::<64>(64);
        if self.dmar_rsp_valid.val() & self.dmar_rsp_tag.val().get_bit(7) {
            if self.dmar_rsp_tag.val().get_bit(6) {
                for i in 0..SLOTS {
                    if self.dmar_rsp_tag.val().get_bits::<4>(0).index() == i {
                        self.slot_data[i].d.next = self.dmar_rsp_data.val();
                        self.slot_err[i].d.next = self.dmar_rsp_err.val();
                        self.slot_full[i].d.next = true;
                    }
                }
            } else {
                self.buf_lo.write_enable.next = true;
                self.buf_hi.write_enable.next = true;
                self.rx_ptr.d.next = self.rx_ptr.q.val() + 1;
                for i in 0..RECS {
                    if (self.dmar_rsp_tag.val().get_bits::<4>(0).index() == i)
                        & self.dmar_rsp_err.val()
                    {
                        self.fault[i].d.next = true;
                    }
                }
            }
        }

        // ---- Record queue.
        self.rec_head.next = 0.into();
        for i in 0..RECS {
            if self.rec_rd.q.val().get_bits::<4>(0).index() == i {
                self.rec_head.next = self.rec[i].q.val();
            }
            if self.rec_push.val() & (self.rec_wr.q.val().get_bits::<4>(0).index() == i) {
                self.rec[i].d.next = self.rec_in.val();
            }
        }
        if self.rec_push.val() {
            self.rec_wr.d.next = self.rec_wr.q.val() + 1;
        }
        self.head_kind.next = self.rec_head.val().get_bits::<2>(0);
        self.head_seq.next = self.rec_head.val().get_bits::<4>(6);
        self.head_len.next = self.rec_head.val().get_bits::<16>(42);
        self.head_crc_on.next = self.rec_head.val().get_bit(58);
        self.head_crc_off.next = self.rec_head.val().get_bits::<16>(59);
        self.head_crc_len.next = self.rec_head.val().get_bits::<16>(75);
        self.head_start.next = self.rec_head.val().get_bits::<PW>(91);
        self.head_nwords.next = self.rec_head.val().get_bits::<PW>(103);
        self.head_off.next = self.rec_head.val().get_bits::<4>(115);
        self.head_plen.next = self.head_len.val();
        if self.head_len.val() < self.min_len.val() {
            self.head_plen.next = self.min_len.val();
        }
        self.head_have.next = self.rx_ptr.q.val() - self.head_start.val();
        self.head_ready.next = (self.rec_wr.q.val() != self.rec_rd.q.val())
            & (self.head_have.val() >= self.head_nwords.val());
        self.head_fault.next = false;
        for i in 0..RECS {
            if self.head_seq.val().index() == i {
                self.head_fault.next = self.fault[i].q.val();
            }
        }
        self.head_bad.next = (self.head_kind.val() != 0) | self.head_fault.val();

        // ---- Buffer reader: words in buffer order into the FIFO, one per cycle, once they
        // have arrived. The RAM answers the cycle after the address (`rinfl`: in flight).
        self.ff_tail.next = self.ffh.q.val() + self.ffc.q.val().get_bits::<3>(0);
        for i in 0..FIFO {
            if self.rinfl.q.val() & (self.ff_tail.val().index() == i) {
                self.ff[i].d.next = bit_cast::<128, 64>(self.buf_lo.read_data.val())
                    | (bit_cast::<128, 64>(self.buf_hi.read_data.val()) << 64);
            }
        }
        self.ff_occ.next =
            bit_cast::<5, 4>(self.ffc.q.val()) + bit_cast::<5, 1>(self.rinfl.q.val().into());
        self.rd_issue.next = (self.fp.q.val() != self.rx_ptr.q.val()) & (self.ff_occ.val() < 8);
        self.buf_lo.read_address.next = self.fp.q.val().get_bits::<BUF_AW>(0);
        self.buf_hi.read_address.next = self.fp.q.val().get_bits::<BUF_AW>(0);
        // The window: the first three FIFO words.
        self.ffh1.next = self.ffh.q.val() + 1;
        self.ffh2.next = self.ffh.q.val() + 2;
        self.w0.next = 0.into();
        self.w1.next = 0.into();
        self.w2.next = 0.into();
        for i in 0..FIFO {
            if self.ffh.q.val().index() == i {
                self.w0.next = self.ff[i].q.val();
            }
            if self.ffh1.val().index() == i {
                self.w1.next = self.ff[i].q.val();
            }
            if self.ffh2.val().index() == i {
                self.w2.next = self.ff[i].q.val();
            }
        }
        self.win2.next =
            bit_cast::<256, 128>(self.w0.val()) | (bit_cast::<256, 128>(self.w1.val()) << 128);
        self.win3.next = bit_cast::<384, 128>(self.w0.val())
            | (bit_cast::<384, 128>(self.w1.val()) << 128)
            | (bit_cast::<384, 128>(self.w2.val()) << 256);
        // The window holds what the current beat needs: min(3, words left) words.
        self.need.next = 3.into();
        if self.cur_left.q.val() < 3 {
            self.need.next = self.cur_left.q.val();
        }
        self.win_ok.next = bit_cast::<PW, 4>(self.ffc.q.val()) >= self.need.val();

        // ---- Stream side.
        self.fcs.valid.next = false;
        self.fcs.start.next = false;
        self.fcs.data.next = 0.into();
        self.fcs.keep.next = 0.into();
        self.c32.valid.next = false;
        self.c32.start.next = false;
        self.c32.data.next = 0.into();
        self.c32.keep.next = 0.into();
        self.rec_pop.next = false;
        self.ev_load.next = !self.e_valid.q.val() | self.ev_ready.val();
        if self.ev_ready.val() {
            self.e_valid.d.next = false;
        }
        self.can_out.next = !self.o_valid.q.val() | self.tx_ready.val();
        if self.tx_ready.val() {
            self.o_valid.d.next = false;
        }

        // The beat at `beat`: frame bytes 8*beat.. start at byte `cur_r` of the window,
        // realigned, padded, CRC-32C inserted.
        self.b_sh.next = bit_cast::<8, 4>(self.cur_r.q.val()) << 3;
        self.win2_sh.next = self.win2.val() >> self.b_sh.val();
        self.aligned.next = self.win2_sh.val().get_bits::<64>(0);
        self.sb.next = bit_cast::<16, 11>(self.beat.q.val()) << 3;
        self.is_last.next = self.beat.q.val() == self.cur_last.q.val();
        // CRC-32C runs one beat ahead of the beat loaded: loading beat b (or priming, as if
        // b = -1), it absorbs the 8-byte span beat that starts at frame byte 8 * (b + 1)
        // (aligned down to 8: `cur_crc_al`), from window byte cur_r + 8 + (span offset & 7)
        // (at most 30; the window has 48). The last span beat starts at or before the beat
        // where the CRC goes, so the registered CRC is final by then.
        self.q_sb.next = self.sb.val() + 8;
        self.c_byte.next = bit_cast::<8, 4>(self.cur_r.q.val()) + self.cur_crc7.q.val() + 8;
        if self.state.q.val() == self.s_prime.val() {
            self.q_sb.next = 0.into();
            self.c_byte.next = bit_cast::<8, 4>(self.cur_r.q.val()) + self.cur_crc7.q.val();
        }
        self.c_sh.next = bit_cast::<9, 8>(self.c_byte.val()) << 3;
        self.win3_sh.next = self.win3.val() >> self.c_sh.val();
        self.c_jpos.next = self.q_sb.val() - self.cur_crc_al.q.val();
        self.c_active.next = self.cur_crc_on.q.val()
            & (self.q_sb.val() >= self.cur_crc_al.q.val())
            & (self.c_jpos.val() < self.cur_crc_len.q.val());
        self.c_rem.next = self.cur_crc_len.q.val() - self.c_jpos.val();
        self.c_final.next = self.c_rem.val() <= 8;
        self.c_feed.next = false;
        self.crc_val.next = self.c32.crc.val();
        self.frame_beat.next = 0.into();
        self.lane_rel.next = 0.into();
        self.crc_sh32.next = 0.into();
        for i in 0..8 {
            self.lane_pos.next = self.sb.val() + self.lane_off[i].val();
            self.lane_byte.next = 0.into();
            if self.lane_pos.val() < self.cur_len.q.val() {
                self.lane_byte.next = self.aligned.val().get_bits::<8>(8 * i);
            }
            if self.cur_crc_on.q.val()
                & (self.lane_pos.val() >= self.cur_crc_pos.q.val())
                & (self.lane_pos.val() < self.cur_crc_end.q.val())
            {
                self.lane_rel.next = self.lane_pos.val() - self.cur_crc_pos.q.val();
                self.crc_sh32.next =
                    self.crc_val.val() >> (bit_cast::<8, 16>(self.lane_rel.val()) << 3);
                self.lane_byte.next = self.crc_sh32.val().get_bits::<8>(0);
            }
            self.frame_beat.next = self.frame_beat.val()
                | (bit_cast::<64, 8>(self.lane_byte.val()) << self.lane_shift[i].val());
        }
        // The FCS joins the beats at the output, from the engine's registered CRC: it has
        // absorbed the last frame beat when that beat entered the output register.
        self.fcs_wide.next =
            bit_cast::<128, 32>(self.fcs.crc.val()) << (bit_cast::<8, 8>(self.o_m.q.val()) << 3);
        self.load.next = false;
        self.keep_tx.next = (self.one16.val() << (self.cur_m.q.val() + 4)) - 1;
        self.keep_tail.next = 0.into();
        if self.cur_m.q.val() > 4 {
            self.keep_tail.next = (self.one16.val() << (self.cur_m.q.val() - 4)) - 1;
        }
        self.keep_fcs.next = (self.one16.val() << self.cur_m.q.val()) - 1;
        self.keep_c32.next = 0xFF.into();
        if self.c_final.val() {
            self.keep_c32.next = (self.one16.val() << self.c_rem.val()) - 1;
        }

        self.ff_pop.next = 0.into();
        self.ff_flush.next = false;
        self.ff_restart.next = self.head_start.val() + self.head_nwords.val();
        self.done.next = false;
        self.choose.next = false;
        if self.state.q.val() == self.s_idle.val() {
            self.choose.next = self.head_ready.val();
        } else if self.state.q.val() == self.s_prime.val() {
            if self.win_ok.val() {
                self.c_feed.next = true;
                self.state.d.next = self.s_stream.val();
            }
        } else if self.state.q.val() == self.s_stream.val() {
            if self.can_out.val() & self.win_ok.val() {
                self.load.next = true;
                self.c_feed.next = true;
                self.beat.d.next = self.beat.q.val() + 1;
                self.cur_r.d.next = self.cur_r.q.val() + 8;
                // The next beat starts in the next word: the first one leaves the FIFO.
                if self.cur_r.q.val().get_bit(3) & (self.cur_left.q.val() != 0) {
                    self.ff_pop.next = 1.into();
                }
                self.o_valid.d.next = true;
                self.o_data.d.next = self.frame_beat.val();
                self.o_keep.d.next = 0xFF.into();
                self.o_last.d.next = false;
                self.o_fcs.d.next = false;
                self.o_tail.d.next = false;
                self.o_m.d.next = self.cur_m.q.val();
                if self.is_last.val() {
                    // The frame's remaining words (at most 2) leave the FIFO.
                    self.ff_pop.next = self.cur_left.q.val().get_bits::<4>(0);
                    self.o_fcs.d.next = true;
                    self.o_keep.d.next = self.keep_tx.val().get_bits::<8>(0);
                    if self.cur_m.q.val() <= 4 {
                        self.o_last.d.next = true;
                        self.done.next = true;
                    } else {
                        self.o_keep.d.next = 0xFF.into();
                        self.tail_keep.d.next = self.keep_tail.val().get_bits::<8>(0);
                        self.state.d.next = self.s_tail.val();
                    }
                }
            }
        } else if self.state.q.val() == self.s_tail.val() {
            if self.can_out.val() {
                self.o_valid.d.next = true;
                self.o_data.d.next = 0.into();
                self.o_fcs.d.next = false;
                self.o_tail.d.next = true;
                self.o_keep.d.next = self.tail_keep.q.val();
                self.o_last.d.next = true;
                self.done.next = true;
            }
        } else if self.state.q.val() == self.s_event.val() {
            self.done.next = true;
        } else {
            self.state.d.next = self.s_idle.val();
        }
        self.cur_left.d.next = self.cur_left.q.val() - bit_cast::<PW, 4>(self.ff_pop.val());

        // The frame is done: its event, its ring's completion, its buffer space; and the next
        // frame is chosen in the same cycle.
        if self.done.val() {
            if self.ev_load.val() {
                self.e_valid.d.next = true;
                self.e_vi.d.next = bit_cast::<8, 4>(self.cur_vi.q.val());
                self.e_kind.d.next = self.k_tx_done.val();
                self.e_payload.d.next = self.cur_idx.q.val();
                self.e_aux.d.next = self.cur_len.q.val();
                if self.cur_bad.q.val() {
                    self.e_kind.d.next = self.k_error.val();
                    self.e_aux.d.next = self.cur_idx.q.val().get_bits::<16>(0);
                    self.e_payload.d.next = self.code_dma_fault.val();
                    if self.cur_kind.q.val() == 1 {
                        self.e_payload.d.next = self.code_bad_length.val();
                    }
                }
                for i in 0..VIS {
                    if self.cur_vi.q.val().index() == i {
                        self.rings[i].complete.next = true;
                        self.rings[i].error.next = self.cur_bad.q.val();
                    }
                }
                self.free_ptr.d.next = self.cur_end.q.val();
                self.state.d.next = self.s_idle.val();
                self.choose.next = self.head_ready.val();
            } else {
                self.state.d.next = self.s_event.val();
            }
        }
        if self.choose.val() {
            self.rec_pop.next = true;
            self.cur_kind.d.next = self.head_kind.val();
            self.cur_vi.d.next = self.rec_head.val().get_bits::<4>(2);
            self.cur_idx.d.next = self.rec_head.val().get_bits::<32>(10);
            self.cur_len.d.next = self.head_len.val();
            self.cur_crc_on.d.next = self.head_crc_on.val();
            self.cur_crc_al.d.next = self.head_crc_off.val() & 0xFFF8;
            self.cur_crc_len.d.next = self.head_crc_len.val();
            self.cur_crc_pos.d.next = self.head_crc_off.val() + self.head_crc_len.val();
            self.cur_crc_end.d.next = self.head_crc_off.val() + self.head_crc_len.val() + 4;
            self.cur_crc7.d.next = bit_cast::<8, 16>(self.head_crc_off.val() & 7);
            self.cur_end.d.next = self.head_start.val() + self.head_nwords.val();
            self.cur_m.d.next =
                bit_cast::<8, 16>(self.head_plen.val() - (((self.head_plen.val() - 1) >> 3) << 3));
            self.cur_last.d.next = bit_cast::<11, 16>((self.head_plen.val() - 1) >> 3);
            self.cur_bad.d.next = self.head_bad.val();
            self.cur_r.d.next = self.head_off.val();
            self.cur_left.d.next = self.head_nwords.val();
            self.beat.d.next = 0.into();
            if self.head_bad.val() {
                self.state.d.next = self.s_event.val();
                // A faulted frame's words are skipped: the reader restarts after them.
                if self.head_kind.val() == 0 {
                    self.ff_flush.next = true;
                }
            } else if self.head_crc_on.val() & (self.head_crc_off.val() < 8) {
                self.state.d.next = self.s_prime.val();
            } else {
                self.state.d.next = self.s_stream.val();
            }
        }
        if self.rec_pop.val() {
            self.rec_rd.d.next = self.rec_rd.q.val() + 1;
        }

        // FIFO and reader pointers.
        self.ffh.d.next = self.ffh.q.val() + self.ff_pop.val().get_bits::<3>(0);
        self.ffc.d.next =
            self.ffc.q.val() + bit_cast::<4, 1>(self.rinfl.q.val().into()) - self.ff_pop.val();
        self.rinfl.d.next = self.rd_issue.val();
        if self.rd_issue.val() {
            self.fp.d.next = self.fp.q.val() + 1;
        }
        if self.ff_flush.val() {
            self.ffc.d.next = 0.into();
            self.rinfl.d.next = false;
            self.fp.d.next = self.ff_restart.val();
        }

        // Engines: the FCS over every frame beat, CRC-32C over the span.
        self.fcs.valid.next = self.load.val();
        self.fcs.start.next = self.beat.q.val() == 0;
        self.fcs.data.next = self.frame_beat.val();
        self.fcs.keep.next = 0xFF.into();
        if self.is_last.val() {
            self.fcs.keep.next = self.keep_fcs.val().get_bits::<8>(0);
        }
        self.c32.valid.next = self.c_feed.val() & self.c_active.val();
        self.c32.start.next = self.c_jpos.val() == 0;
        self.c32.data.next = self.win3_sh.val().get_bits::<64>(0);
        self.c32.keep.next = self.keep_c32.val().get_bits::<8>(0);

        self.tx_valid.next = self.o_valid.q.val();
        self.tx_data.next = self.o_data.q.val();
        if self.o_fcs.q.val() {
            self.tx_data.next = self.o_data.q.val() | self.fcs_wide.val().get_bits::<64>(0);
        }
        if self.o_tail.q.val() {
            self.tx_data.next = self.fcs_wide.val().get_bits::<64>(64);
        }
        self.tx_keep.next = self.o_keep.q.val();
        self.tx_last.next = self.o_last.q.val();
        self.ev_valid.next = self.e_valid.q.val();
        self.ev_vi.next = self.e_vi.q.val();
        self.ev_kind.next = self.e_kind.q.val();
        self.ev_flags.next = 0.into();
        self.ev_payload.next = self.e_payload.q.val();
        self.ev_aux.next = self.e_aux.q.val();

        if self.reset.val() {
            self.rq_valid.d.next = false;
            self.rr.d.next = 0.into();
            self.slot_wr.d.next = 0.into();
            self.slot_rd.d.next = 0.into();
            self.di_busy.d.next = false;
            self.seq.d.next = 0.into();
            self.alloc_ptr.d.next = 0.into();
            self.free_ptr.d.next = 0.into();
            self.rec_wr.d.next = 0.into();
            self.rec_rd.d.next = 0.into();
            self.rx_ptr.d.next = 0.into();
            self.fp.d.next = 0.into();
            self.rinfl.d.next = false;
            self.ffc.d.next = 0.into();
            self.cur_left.d.next = 0.into();
            self.state.d.next = self.s_idle.val();
            self.o_valid.d.next = false;
            self.e_valid.d.next = false;
            for i in 0..SLOTS {
                self.slot_full[i].d.next = false;
            }
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
    use evnic_regs::desc::TxDesc;
    use evnic_regs::map::{vi, vi_reg};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::VecDeque;

    /// Host memory the IOMMU lets the device read: `[MEM_BASE, MEM_BASE + MEM_SIZE)`.
    const MEM_BASE: u64 = 0x1_2340_0000;
    const MEM_SIZE: usize = 0x10_0000;
    const LATENCY: u64 = 64;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Ev {
        vi: u8,
        kind: u8,
        payload: u32,
        aux: u16,
    }

    struct Bench {
        uut: TxPath,
        rng: ChaCha8Rng,
        mem: Vec<u8>,
        /// Responses due: (cycle, tag, data, err).
        pending: VecDeque<(u64, u8, u128, bool)>,
        cycle: u64,
        frames: Vec<Vec<u8>>,
        /// Cycle of each frame's first and last beat.
        frame_cycles: Vec<(u64, u64)>,
        cur: Vec<u8>,
        cur_start: u64,
        events: Vec<Ev>,
        p_tx: f64,
        p_ev: f64,
        p_req: f64,
        /// Next free byte of memory for frames (descriptor rings live below 0x1000 * 16).
        alloc: usize,
    }

    impl Bench {
        fn new(seed: u64, p_stall: f64) -> Self {
            let mut uut = TxPath::default();
            uut.connect_all();
            let mut b = Bench {
                uut,
                rng: ChaCha8Rng::seed_from_u64(seed),
                mem: vec![0; MEM_SIZE],
                pending: VecDeque::new(),
                cycle: 0,
                frames: vec![],
                frame_cycles: vec![],
                cur: vec![],
                cur_start: 0,
                events: vec![],
                p_tx: 1.0 - p_stall,
                p_ev: 1.0 - p_stall,
                p_req: 1.0 - p_stall,
                alloc: 0x10000,
            };
            b.uut.enable.next = true;
            b.uut.reset.next = true;
            b.step();
            b.uut.reset.next = false;
            b
        }

        fn settle(&mut self) {
            assert!(simulate(&mut self.uut, 200), "the circuit did not settle");
        }

        /// One clock cycle: drives the host, MAC and event sink, records what transfers.
        fn step(&mut self) {
            let tx_ready = self.rng.gen_bool(self.p_tx);
            let ev_ready = self.rng.gen_bool(self.p_ev);
            let req_ready = self.rng.gen_bool(self.p_req);
            let u = &mut self.uut;
            u.tx_ready.next = tx_ready;
            u.ev_ready.next = ev_ready;
            u.dmar_req_ready.next = req_ready;
            let due = self.pending.front().filter(|p| p.0 <= self.cycle).copied();
            u.dmar_rsp_valid.next = false;
            u.dmar_rsp_tag.next = 0.into();
            u.dmar_rsp_err.next = false;
            if let Some((_, tag, data, err)) = due {
                u.dmar_rsp_valid.next = true;
                u.dmar_rsp_tag.next = (tag as u64).into();
                u.dmar_rsp_data.next = b128(data);
                u.dmar_rsp_err.next = err;
                self.pending.pop_front();
            } else if self.rng.gen_bool(0.1) {
                // Another master's response (tag bit 7 clear): must be ignored.
                u.dmar_rsp_valid.next = true;
                u.dmar_rsp_tag.next = ((self.rng.gen::<u8>() & 0x7f) as u64).into();
                u.dmar_rsp_data.next = b128(self.rng.gen());
                u.dmar_rsp_err.next = self.rng.gen();
            }
            self.settle();
            let u = &self.uut;
            if u.dmar_req_valid.val() && req_ready {
                let addr = u.dmar_req_addr.val().to_u64();
                let tag = u.dmar_req_tag.val().to_u64() as u8;
                assert_eq!(addr % 16, 0, "aligned request");
                assert!(tag & 0x80 != 0, "tag bit 7 set");
                let (data, err) = if addr >= MEM_BASE && addr + 16 <= MEM_BASE + MEM_SIZE as u64 {
                    let o = (addr - MEM_BASE) as usize;
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&self.mem[o..o + 16]);
                    (u128::from_le_bytes(b), false)
                } else {
                    (0, true)
                };
                let last = self.pending.back().map(|p| p.0).unwrap_or(0);
                let extra = if self.p_req < 1.0 {
                    self.rng.gen_range(0..4)
                } else {
                    0
                };
                let due = (self.cycle + LATENCY + extra).max(last + 1);
                self.pending.push_back((due, tag, data, err));
            }
            if u.tx_valid.val() && tx_ready {
                let keep = u.tx_keep.val().to_u64() as u8;
                let data = u.tx_data.val().to_u64().to_le_bytes();
                assert!(
                    keep != 0 && (keep as u16 + 1).is_power_of_two(),
                    "contiguous keep"
                );
                if self.cur.is_empty() {
                    self.cur_start = self.cycle;
                }
                self.cur
                    .extend_from_slice(&data[..keep.count_ones() as usize]);
                if u.tx_last.val() {
                    self.frames.push(std::mem::take(&mut self.cur));
                    self.frame_cycles.push((self.cur_start, self.cycle));
                } else {
                    assert_eq!(keep, 0xff, "only a last beat may be partial");
                }
            }
            if u.ev_valid.val() && ev_ready {
                self.events.push(Ev {
                    vi: u.ev_vi.val().to_u64() as u8,
                    kind: u.ev_kind.val().to_u64() as u8,
                    payload: u.ev_payload.val().to_u64() as u32,
                    aux: u.ev_aux.val().to_u64() as u16,
                });
                assert_eq!(u.ev_flags.val().to_u64(), 0);
            }
            let u = &mut self.uut;
            u.clock.next = true.into();
            self.settle();
            self.uut.clock.next = false.into();
            self.settle();
            self.cycle += 1;
        }

        /// A register access in one cycle (traffic goes on); returns (ack, rdata).
        fn reg(&mut self, write: bool, addr: u32, data: u32) -> (bool, u32) {
            let u = &mut self.uut;
            u.rd.next = !write;
            u.wr.next = write;
            u.addr.next = (addr as u64).into();
            u.wdata.next = (data as u64).into();
            self.settle();
            let r = (self.uut.ack.val(), self.uut.rdata.val().to_u64() as u32);
            self.step();
            let u = &mut self.uut;
            u.rd.next = false;
            u.wr.next = false;
            u.addr.next = (self.rng.gen::<u32>() as u64 & 0x1_ffff).into();
            r
        }

        fn write(&mut self, addr: u32, data: u32) {
            let (claim, _) = self.reg(true, addr, data);
            assert!(claim, "write to {addr:#x} claimed");
        }

        fn read(&mut self, addr: u32) -> u32 {
            let (claim, data) = self.reg(false, addr, 0);
            assert!(claim, "read of {addr:#x} claimed");
            data
        }

        /// Sets up VI `v`'s ring of `2^log2` descriptors at a fixed place in memory.
        fn ring_base(v: u32) -> u64 {
            MEM_BASE + v as u64 * 0x1000
        }

        fn setup_ring(&mut self, v: u32, log2: u32) {
            let base = Self::ring_base(v);
            self.write(vi_reg(v, &vi::TXQ_BASE_LO), base as u32);
            self.write(vi_reg(v, &vi::TXQ_BASE_HI), (base >> 32) as u32);
            self.write(vi_reg(v, &vi::TXQ_SIZE), log2);
        }

        /// Places `frame` in memory at a random alignment; returns its address.
        fn place(&mut self, frame: &[u8]) -> u64 {
            self.alloc += self.rng.gen_range(0..40);
            let a = self.alloc;
            self.mem[a..a + frame.len()].copy_from_slice(frame);
            self.alloc += frame.len();
            MEM_BASE + a as u64
        }

        /// Writes descriptor number `index` of VI `v`'s ring (of `2^log2` entries).
        fn put_desc(&mut self, v: u32, log2: u32, index: u32, d: &TxDesc) {
            let slot = (index & ((1 << log2) - 1)) as usize;
            let o = (Self::ring_base(v) - MEM_BASE) as usize + slot * 16;
            let [w0, w1] = d.encode();
            self.mem[o..o + 8].copy_from_slice(&w0.to_le_bytes());
            self.mem[o + 8..o + 16].copy_from_slice(&w1.to_le_bytes());
        }

        fn run(&mut self, cycles: usize) {
            for _ in 0..cycles {
                self.step();
            }
        }

        /// Runs until `n` events arrived (with a generous limit), then a little more.
        fn run_until_events(&mut self, n: usize) {
            let mut limit = 200_000;
            while self.events.len() < n {
                self.step();
                limit -= 1;
                assert!(limit > 0, "timeout: {} of {n} events", self.events.len());
            }
            self.run(30);
            assert_eq!(self.events.len(), n, "no extra events");
        }
    }

    /// What the wire must carry for `data` sent with descriptor `d`.
    fn expected_wire(data: &[u8], d: &TxDesc) -> Vec<u8> {
        let mut f = data.to_vec();
        if d.flags & desc::TX_FLAG_CRC32C != 0 && d.crc_len != 0 {
            let s = d.crc_offset as usize;
            let n = d.crc_len as usize;
            let c = CRC32C.checksum(&f[s..s + n]);
            f[s + n..s + n + 4].copy_from_slice(&c.to_le_bytes());
        }
        if f.len() < desc::MIN_FRAME_NO_FCS as usize {
            f.resize(desc::MIN_FRAME_NO_FCS as usize, 0);
        }
        let fcs = CRC32.checksum(&f);
        f.extend_from_slice(&fcs.to_le_bytes());
        f
    }

    /// One descriptor of a test and what it must produce.
    struct Case {
        vi: u32,
        index: u32,
        d: TxDesc,
        /// `Some(wire bytes)` for a frame, `None` for an ERROR with the code.
        wire: Option<Vec<u8>>,
        code: ErrorCode,
    }

    /// Posts `cases` (descriptors already built) by writing the doorbells.
    fn post(b: &mut Bench, log2: u32, cases: &[Case]) {
        let mut wptr = std::collections::BTreeMap::new();
        for c in cases {
            b.put_desc(c.vi, log2, c.index, &c.d);
            wptr.insert(c.vi, c.index + 1);
        }
        for (v, w) in wptr {
            b.write(vi_reg(v, &vi::TXQ_WPTR), w);
        }
    }

    fn good(b: &mut Bench, vi: u32, index: u32, data: &[u8], crc: Option<(u16, u16)>) -> Case {
        let addr = b.place(data);
        let mut d = TxDesc {
            addr,
            len: data.len() as u16,
            ..Default::default()
        };
        if let Some((off, len)) = crc {
            d.flags = desc::TX_FLAG_CRC32C;
            d.crc_offset = off;
            d.crc_len = len;
        }
        Case {
            vi,
            index,
            wire: Some(expected_wire(data, &d)),
            d,
            code: ErrorCode::TxBadLength,
        }
    }

    fn bad(vi: u32, index: u32, d: TxDesc, code: ErrorCode) -> Case {
        Case {
            vi,
            index,
            d,
            wire: None,
            code,
        }
    }

    /// Checks events and frames against `cases`: per VI in order; frames in event order.
    fn check(b: &Bench, cases: &[Case]) {
        assert_eq!(b.events.len(), cases.len());
        let mut frames = b.frames.iter();
        let mut next_of_vi: std::collections::HashMap<u32, usize> = Default::default();
        for e in &b.events {
            let v = e.vi as u32;
            let k = next_of_vi.entry(v).or_default();
            let c = cases
                .iter()
                .filter(|c| c.vi == v)
                .nth(*k)
                .expect("an event for a posted descriptor");
            *k += 1;
            match &c.wire {
                Some(wire) => {
                    assert_eq!(
                        (e.kind, e.payload, e.aux),
                        (EventType::TxDone as u8, c.index, c.d.len),
                        "TX_DONE of vi {v} index {}",
                        c.index
                    );
                    let f = frames.next().expect("a frame per TX_DONE");
                    assert_eq!(f.len(), wire.len(), "length of frame index {}", c.index);
                    let diff: Vec<usize> = (0..f.len()).filter(|&i| f[i] != wire[i]).collect();
                    assert!(
                        diff.is_empty(),
                        "frame of vi {v} index {} (len {}, addr {:#x}) differs at {diff:?}",
                        c.index,
                        c.d.len,
                        c.d.addr
                    );
                }
                None => assert_eq!(
                    (e.kind, e.payload, e.aux),
                    (EventType::Error as u8, c.code as u32, c.index as u16),
                    "ERROR of vi {v} index {}",
                    c.index
                ),
            }
        }
        assert!(frames.next().is_none(), "no frame without a TX_DONE");
        assert!(b.cur.is_empty(), "no partial frame");
    }

    fn b128(x: u128) -> Bits<128> {
        (Bits::<128>::from((x >> 64) as u64) << 64) | Bits::<128>::from(x as u64)
    }

    fn random_frame(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
        (0..len).map(|_| rng.gen()).collect()
    }

    #[test]
    fn lengths_padding_and_fcs_with_stalls() {
        let mut b = Bench::new(1, 0.3);
        b.setup_ring(0, 4);
        let mut lens = vec![1usize, 59, 60, 61, 64, 1500, 9000, 2, 7, 8, 9, 63, 65];
        for _ in 0..5 {
            lens.push(b.rng.gen_range(1..300));
        }
        let mut cases = vec![];
        for (i, &len) in lens.iter().enumerate() {
            let data = random_frame(&mut b.rng, len);
            cases.push(good(&mut b, 0, i as u32, &data, None));
        }
        // Two passes over the 16-entry ring.
        post(&mut b, 4, &cases[..12]);
        b.run_until_events(12);
        post(&mut b, 4, &cases[12..]);
        b.run_until_events(cases.len());
        check(&b, &cases);
        assert_eq!(b.read(vi_reg(0, &vi::TXQ_RPTR)), cases.len() as u32);
        assert_eq!(b.read(vi_reg(0, &vi::TXQ_ERRORS)), 0);
    }

    #[test]
    fn crc32c_insertion() {
        let mut b = Bench::new(2, 0.2);
        b.setup_ring(5, 5);
        // (length, span offset, span length): spans starting and ending in every lane,
        // CRC in the same beat as the span's end or straddling beats, runts, the maximum.
        let mut spans: Vec<(usize, u16, u16)> = vec![
            (20, 4, 12),
            (8, 0, 4),
            (40, 1, 1),
            (100, 3, 17),
            (100, 0, 96),
            (61, 13, 44),
            (1500, 42, 1400),
            (64, 7, 9),
        ];
        for _ in 0..8 {
            let len = b.rng.gen_range(5..200);
            let off = b.rng.gen_range(0..len - 4);
            let n = b.rng.gen_range(1..=len - 4 - off);
            spans.push((len, off as u16, n as u16));
        }
        let mut cases = vec![];
        for (i, &(len, off, n)) in spans.iter().enumerate() {
            let data = random_frame(&mut b.rng, len);
            cases.push(good(&mut b, 5, i as u32, &data, Some((off, n))));
        }
        // The flag with a zero span length inserts nothing.
        let data = random_frame(&mut b.rng, 30);
        let mut c = good(&mut b, 5, cases.len() as u32, &data, Some((3, 0)));
        c.wire = Some(expected_wire(&data, &TxDesc::default()));
        cases.push(c);
        post(&mut b, 5, &cases);
        b.run_until_events(cases.len());
        check(&b, &cases);
    }

    #[test]
    fn bad_descriptors_and_faults_send_nothing() {
        let mut b = Bench::new(3, 0.2);
        b.setup_ring(1, 3);
        let mut cases = vec![];
        let mut i = 0;
        let mut next = || {
            i += 1;
            i - 1
        };
        let d = random_frame(&mut b.rng, 100);
        cases.push(good(&mut b, 1, next(), &d, None));
        let idx = next();
        cases.push(bad(
            1,
            idx,
            TxDesc {
                addr: MEM_BASE,
                len: 0,
                ..Default::default()
            },
            ErrorCode::TxBadLength,
        ));
        let idx = next();
        let len = desc::TX_MAX_LEN as u16 + 1;
        cases.push(bad(
            1,
            idx,
            TxDesc {
                addr: MEM_BASE,
                len,
                ..Default::default()
            },
            ErrorCode::TxBadLength,
        ));
        // A CRC-32C span whose CRC would not fit in the frame.
        let idx = next();
        let d = TxDesc {
            addr: MEM_BASE,
            len: 20,
            crc_offset: 10,
            crc_len: 7,
            flags: 1,
        };
        cases.push(bad(1, idx, d, ErrorCode::TxBadLength));
        // Entirely outside registered memory.
        let idx = next();
        let d = TxDesc {
            addr: 0x4000,
            len: 200,
            ..Default::default()
        };
        cases.push(bad(1, idx, d, ErrorCode::DmaFault));
        // Straddling the end of registered memory: only the last read faults.
        let idx = next();
        let addr = MEM_BASE + MEM_SIZE as u64 - 1000;
        let d = TxDesc {
            addr,
            len: 1010,
            ..Default::default()
        };
        cases.push(bad(1, idx, d, ErrorCode::DmaFault));
        let d = random_frame(&mut b.rng, 64);
        let idx = next();
        cases.push(good(&mut b, 1, idx, &d, None));
        post(&mut b, 3, &cases);
        // A ring whose descriptor reads fault (VI 9, base outside memory).
        b.write(vi_reg(9, &vi::TXQ_BASE_LO), 0x100);
        b.write(vi_reg(9, &vi::TXQ_SIZE), 2);
        b.write(vi_reg(9, &vi::TXQ_WPTR), 2);
        cases.push(bad(9, 0, TxDesc::default(), ErrorCode::DmaFault));
        cases.push(bad(9, 1, TxDesc::default(), ErrorCode::DmaFault));
        b.run_until_events(cases.len());
        check(&b, &cases);
        assert_eq!(b.frames.len(), 2);
        assert_eq!(b.read(vi_reg(1, &vi::TXQ_RPTR)), 7);
        assert_eq!(b.read(vi_reg(1, &vi::TXQ_ERRORS)), 5);
        assert_eq!(b.read(vi_reg(9, &vi::TXQ_RPTR)), 2);
        assert_eq!(b.read(vi_reg(9, &vi::TXQ_ERRORS)), 2);
    }

    #[test]
    fn two_vis_round_robin() {
        let mut b = Bench::new(4, 0.1);
        b.setup_ring(3, 3);
        b.setup_ring(12, 3);
        let mut cases = vec![];
        for i in 0..6u32 {
            for v in [3u32, 12] {
                let len = b.rng.gen_range(1..400);
                let d = random_frame(&mut b.rng, len);
                cases.push(good(&mut b, v, i, &d, None));
            }
        }
        post(&mut b, 3, &cases);
        b.run_until_events(cases.len());
        check(&b, &cases);
        // Posted together, they are served alternately.
        let vis: Vec<u8> = b.events.iter().map(|e| e.vi).collect();
        for w in vis.windows(2) {
            assert_ne!(w[0], w[1], "round robin: {vis:?}");
        }
        assert_eq!(b.read(vi_reg(3, &vi::TXQ_RPTR)), 6);
        assert_eq!(b.read(vi_reg(12, &vi::TXQ_RPTR)), 6);
        assert_eq!(b.read(vi_reg(12, &vi::TXQ_WPTR)), 6);
    }

    #[test]
    fn registers_decode_and_refuse() {
        let mut b = Bench::new(5, 0.0);
        for v in [0u32, 7, 15] {
            b.write(vi_reg(v, &vi::TXQ_BASE_LO), 0x1230 + v);
            b.write(vi_reg(v, &vi::TXQ_BASE_HI), 0xabc0 + v);
            b.write(vi_reg(v, &vi::TXQ_SIZE), 13);
        }
        for v in [0u32, 7, 15] {
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_BASE_LO)), 0x1230 + v);
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_BASE_HI)), 0xabc0 + v);
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_SIZE)), vi::RING_SIZE_MAX);
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_RPTR)), 0);
        }
        assert_eq!(b.read(vi_reg(1, &vi::TXQ_BASE_LO)), 0);
        // Read-only registers refuse writes; other registers and pages are not ours.
        assert_eq!(b.reg(true, vi_reg(2, &vi::TXQ_RPTR), 5), (false, 0));
        assert_eq!(b.reg(true, vi_reg(2, &vi::TXQ_ERRORS), 5), (false, 0));
        assert_eq!(b.reg(false, vi_reg(2, &vi::EVQ_BASE_LO), 0), (false, 0));
        assert_eq!(b.reg(false, vi_reg(2, &vi::RXQ_RPTR), 0), (false, 0));
        assert_eq!(b.reg(false, vi::TXQ_BASE_LO.offset, 0), (false, 0));
        assert_eq!(b.reg(true, vi::TXQ_WPTR.offset, 1), (false, 0));
        // Nothing was fetched: size 0 rings and the writes above posted nothing.
        b.run(100);
        assert!(b.frames.is_empty() && b.events.is_empty());
    }

    #[test]
    fn enable_and_reset() {
        let mut b = Bench::new(6, 0.0);
        b.uut.enable.next = false;
        b.setup_ring(2, 2);
        let d = random_frame(&mut b.rng, 80);
        let cases = vec![good(&mut b, 2, 0, &d, None)];
        post(&mut b, 2, &cases);
        b.run(300);
        assert!(b.events.is_empty(), "nothing fetched while disabled");
        b.uut.enable.next = true;
        b.run_until_events(1);
        check(&b, &cases);
        // Reset in the middle of a long frame: no more output, all ring state cleared.
        let d = random_frame(&mut b.rng, 3000);
        let c = good(&mut b, 2, 1, &d, None);
        b.put_desc(2, 2, 1, &c.d);
        b.write(vi_reg(2, &vi::TXQ_WPTR), 2);
        while b.cur.is_empty() {
            b.step();
        }
        b.run(20);
        b.uut.reset.next = true;
        b.step();
        b.uut.reset.next = false;
        b.pending.clear();
        b.cur.clear();
        b.run(200);
        assert!(b.cur.is_empty() && b.frames.len() == 1 && b.events.len() == 1);
        for r in [
            &vi::TXQ_BASE_LO,
            &vi::TXQ_SIZE,
            &vi::TXQ_WPTR,
            &vi::TXQ_RPTR,
        ] {
            assert_eq!(b.read(vi_reg(2, r)), 0, "{} after reset", r.name);
        }
        // And it works again.
        b.events.clear();
        b.frames.clear();
        b.setup_ring(2, 2);
        let d = random_frame(&mut b.rng, 61);
        let cases = vec![good(&mut b, 2, 0, &d, None)];
        post(&mut b, 2, &cases);
        b.run_until_events(1);
        check(&b, &cases);
    }

    /// Without stalls and with the 64-cycle DMA latency: idle cycles between consecutive
    /// frames of one burst (all posted with one doorbell), the first frame of the burst
    /// excluded (it waits for the fetch latency).
    fn burst_gaps(b: &mut Bench, cases: &[Case], log2: u32) -> Vec<u64> {
        let first = b.frames.len();
        let n0 = b.events.len();
        post(b, log2, cases);
        b.run_until_events(n0 + cases.len());
        for (f, c) in b.frames[first..].iter().zip(&b.frame_cycles[first..]) {
            assert_eq!(
                c.1 - c.0 + 1,
                f.len().div_ceil(8) as u64,
                "one beat per cycle"
            );
        }
        b.frame_cycles[first..]
            .windows(2)
            .map(|w| w[1].0 - w[0].1 - 1)
            .collect()
    }

    /// Back-to-back frames at line rate: 64-byte frames (60 + FCS) at random alignments leave
    /// with no idle cycle between them (one with a CRC-32C span in the first 8 bytes: the
    /// prime cycle), 1500-byte frames with none either; mixed lengths at most one.
    #[test]
    fn back_to_back_line_rate() {
        let mut b = Bench::new(7, 0.0);
        b.setup_ring(0, 6);
        let mut all = vec![];
        let mut idx = 0u32;
        let mut burst = |b: &mut Bench, lens: &[(usize, Option<(u16, u16)>)]| {
            let mut cases = vec![];
            for &(len, crc) in lens {
                let d = random_frame(&mut b.rng, len);
                cases.push(good(b, 0, idx, &d, crc));
                idx += 1;
            }
            let gaps = burst_gaps(b, &cases, 6);
            all.extend(cases);
            gaps
        };
        let g60 = burst(&mut b, &[(60, None); 40]);
        let g1500 = burst(&mut b, &[(1500, None); 6]);
        let g60c0 = burst(&mut b, &[(60, Some((0, 20))); 16]);
        let g60c8 = burst(&mut b, &[(60, Some((8, 40))); 16]);
        let mut mixed = vec![];
        for _ in 0..40 {
            let len = b.rng.gen_range(60..200);
            let crc = if b.rng.gen_bool(0.5) {
                let off = b.rng.gen_range(0..len - 4);
                Some((off as u16, b.rng.gen_range(1..=len - 4 - off) as u16))
            } else {
                None
            };
            mixed.push((len, crc));
        }
        let gmix = burst(&mut b, &mixed);
        eprintln!("idle cycles between 60-byte frames: {g60:?}");
        eprintln!("idle cycles between 1500-byte frames: {g1500:?}");
        eprintln!("idle cycles between 60-byte frames, CRC-32C span at 0: {g60c0:?}");
        eprintln!("idle cycles between 60-byte frames, CRC-32C span at 8: {g60c8:?}");
        eprintln!("idle cycles between 60..200-byte frames, half with CRC-32C: {gmix:?}");
        check(&b, &all);
        assert!(g60.iter().all(|&g| g == 0), "{g60:?}");
        assert!(g1500.iter().all(|&g| g == 0), "{g1500:?}");
        assert!(g60c0.iter().all(|&g| g == 1), "{g60c0:?}");
        assert!(g60c8.iter().all(|&g| g == 0), "{g60c8:?}");
        assert!(gmix.iter().all(|&g| g <= 1), "{gmix:?}");
    }

    /// Random mixes on three VIs with stalls everywhere: lengths 1..=600, CRC-32C spans,
    /// bad lengths, frames whose reads fault, between good frames prefetched around them.
    #[test]
    fn random_mix_with_faults_and_stalls() {
        for (seed, stall) in [(11u64, 0.0), (12, 0.25), (13, 0.5)] {
            let mut b = Bench::new(seed, stall);
            let vis = [2u32, 6, 15];
            for &v in &vis {
                b.setup_ring(v, 7);
            }
            let mut cases = vec![];
            for i in 0..40u32 {
                for &v in &vis {
                    let len = b.rng.gen_range(1..=600usize);
                    let r = b.rng.gen_range(0..10);
                    if r == 0 {
                        // Straddles the end of registered memory.
                        let d = TxDesc {
                            addr: MEM_BASE + MEM_SIZE as u64 - b.rng.gen_range(1..300),
                            len: 300,
                            ..Default::default()
                        };
                        cases.push(bad(v, i, d, ErrorCode::DmaFault));
                    } else if r == 1 {
                        let d = TxDesc {
                            addr: MEM_BASE,
                            len: 10,
                            crc_offset: 5,
                            crc_len: 2,
                            flags: desc::TX_FLAG_CRC32C,
                        };
                        cases.push(bad(v, i, d, ErrorCode::TxBadLength));
                    } else {
                        let crc = if len > 5 && b.rng.gen_bool(0.4) {
                            let off = b.rng.gen_range(0..len - 4);
                            Some((off as u16, b.rng.gen_range(1..=len - 4 - off) as u16))
                        } else {
                            None
                        };
                        let d = random_frame(&mut b.rng, len);
                        cases.push(good(&mut b, v, i, &d, crc));
                    }
                }
            }
            post(&mut b, 7, &cases);
            b.run_until_events(cases.len());
            check(&b, &cases);
            for &v in &vis {
                let errors = cases
                    .iter()
                    .filter(|c| c.vi == v && c.wire.is_none())
                    .count();
                assert_eq!(b.read(vi_reg(v, &vi::TXQ_RPTR)), 40);
                assert_eq!(b.read(vi_reg(v, &vi::TXQ_ERRORS)), errors as u32);
            }
        }
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = TxPath::default();
        uut.connect_all();
        verilator_lint("tx_path", &generate_verilog(&uut));
    }
}
