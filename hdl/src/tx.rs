//! The transmit path: per-VI descriptor rings in host memory, DMA reads of descriptors and
//! frames into an on-chip frame buffer, and the 64-bit MAC transmit stream with optional
//! CRC-32C insertion, runt padding and the Ethernet FCS, then a TX_DONE (or ERROR) event.
//!
//! Parts: [`TxRings`] (the rings' state in RAM and the FIFO of VIs with work), this block
//! (descriptor fetch, the descriptor slots, the checks and data reads of each frame), and
//! [`TxStream`] (the frame queue, the frame buffer, the MAC stream and the events).
//!
//! # Ports
//!
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | | rising edge; synchronous active-high reset of all state |
//! | `enable` | in | 1 | `CONTROL.ENABLE`: no descriptor fetch starts while low (work already fetched finishes) |
//! | `cycles` | in | 64 | the cycle counter: event timestamps |
//! | `rd`, `wr`, `addr`, `wdata` | in | 1, 1, `A`, 32 | register bus (see [`crate::regbus`]) |
//! | `ack`, `nak`, `rdata` | out | 1, 1, 32 | the `TXQ_*` registers of every VI page (see [`TxRings`]): `ack` one cycle after the strobe |
//! | `dmar_req_valid`, `dmar_req_ready` | out, in | 1 | DMA read request handshake |
//! | `dmar_req_addr`, `dmar_req_tag` | out | 64, 8 | 16-byte aligned address (16 bytes read); tag, bit 7 always set |
//! | `dmar_rsp_valid`, `dmar_rsp_tag`, `dmar_rsp_data`, `dmar_rsp_err` | in | 1, 8, 128, 1 | responses, in request order; those with tag bit 7 clear are not ours and ignored |
//! | `tx_data`, `tx_keep`, `tx_valid`, `tx_last` | out | 64, 8, 1, 1 | MAC stream, byte 0 in bits 7:0; frames end with their FCS |
//! | `tx_ready` | in | 1 | the MAC takes the beat |
//! | `ev_valid`, `ev_ready` | out, in | 1 | event handshake; the event is held until taken |
//! | `ev_vi`, `ev_kind`, `ev_flags`, `ev_payload`, `ev_aux`, `ev_timestamp` | out | 8, 4, 8, 32, 16, 40 | TX_DONE: payload = descriptor index, aux = frame length, timestamp = the cycle the frame's first beat left (`tx_valid && tx_ready`); ERROR: payload = `ErrorCode`, aux = index bits 15:0, timestamp = the cycle the event was posted; flags 0 |
//! | `ram_collision` | out | 1 | OR of every RAM's collision output (see [`crate::ram`]); always 0 |
//! | `ready` | out | 1 | low while the rings' state RAM clears after reset (`2^VB` cycles; `STATUS.READY` includes it) |
//!
//! # Tags
//!
//! `0b11xx_ssss`: a descriptor read into descriptor slot `ssss` (16 slots); `0b10xx_ssss`: a
//! frame data read for the frame of sequence number `ssss` (mod 16). Bits marked `x` are 0.
//!
//! # Contract
//!
//! * Descriptors are fetched one per turn from the rings with posted descriptors, in the
//!   order of a FIFO of active rings (a ring joins it when a doorbell gives an idle ring work,
//!   and rejoins after each fetch while it has more), up to 16 descriptors ahead, and completed
//!   in fetch order.
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
//! Fetch side: [`TxRings`] hands out one descriptor to fetch at a time; its read goes out
//! when the request port is free of frame reads, into the next of 16 descriptor slots (two
//! [`Ram`]s: VI and index written at the request, the descriptor at its response; responses
//! come in request order, so the slots are a FIFO). The frame issuer takes the head slot (the
//! RAMs' output registers), checks it, allocates its 16-byte words in the frame buffer ring,
//! queues a frame record into [`TxStream`] (16 deep: up to 16 frames between fetch and
//! transmission), then issues its data reads back to back. Data responses go to the stream's
//! buffer in order.
//!
//! # Timing (cycles)
//!
//! * Fetch: a fetch takes at least 4 cycles from the ring FIFO to the request register (see
//!   [`TxRings`]); a descriptor read is issued when the request port is free of frame reads;
//!   its frame's reads are issued back to back (one per cycle while `dmar_req_ready`) from the
//!   cycle after the issuer takes the descriptor (the slot RAMs answer 1 cycle after the
//!   descriptor arrives) and buffer space is free, with one request cycle between frames
//!   (used by a descriptor read). A 60-byte frame costs 5 to 6 request cycles (descriptor + 4
//!   or 5 data words), less than its 8 cycles on the wire; 16 frames in flight cover the DMA
//!   latency (64 cycles in the simulation) with room to spare.
//! * Transmit: see [`TxStream`]: a frame starts once it is whole in the buffer; one 8-byte
//!   beat per cycle while `tx_ready`; a frame of `P = max(len, 60)` bytes takes
//!   `ceil((P + 4) / 8)` beats; no idle cycle between back-to-back frames, with or without
//!   CRC-32C (64-byte frames at line rate with the simulated 64-cycle DMA latency:
//!   `back_to_back_line_rate`). An ERROR completion takes one cycle of its own.
//! * Registers: `ack` 1 cycle after the strobe; `nak` (a write to `TXQ_RPTR` or
//!   `TXQ_ERRORS`, or any access in the 2^VB cycles after a reset while the rings' state RAM
//!   clears, `ready` low; before: such an access waited up to 2^MB + 1 cycles for a valid
//!   map) in the strobe cycle. `STATUS.READY` includes `ready`, so an access after it is
//!   never refused for this.
//!
//! # Changed from the flip-flop version
//!
//! Ring state, descriptor slots, frame records in RAM (were flip-flops with 16-way muxes and
//! scans); the read-ahead FIFO is gone (beats are read straight from the buffer); registers
//! answer one cycle later; refused writes `nak`; the fetch order is the FIFO of active rings
//! instead of a rotating scan over the ring numbers; CRC-32C no longer costs a cycle when its
//! span starts in the first 8 bytes; events carry timestamps.

use crate::ram::Ram;
use crate::regbus::ADDR_BITS;
use crate::tx_ring::TxRings;
use crate::tx_stream::{TxStream, BUF_AW, PW};
use evnic_regs::desc;
use rust_hdl::prelude::*;

/// Descriptor slots: descriptor reads in flight or waiting for the frame issuer.
const SLOTS: usize = 16;
/// Bits of a descriptor slot's response word: the descriptor's bits 112:0 (address, length,
/// CRC-32C span, the CRC-32C flag), then the refused-read bit.
const DESC_BITS: usize = 114;

/// log2 of the default number of VIs.
pub const VI_BITS: usize = evnic_regs::params::NUM_VIS.trailing_zeros() as usize;

/// The transmit path at the device's parameters.
pub type TxPath = TxPathN<ADDR_BITS, VI_BITS>;

/// The transmit path for `2^VB` VIs decoded from `A`-bit register addresses. See the module
/// documentation.
#[derive(LogicBlock)]
pub struct TxPathN<const A: usize, const VB: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub enable: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<A>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub nak: Signal<Out, Bit>,
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
    pub ev_timestamp: Signal<Out, Bits<40>>,
    pub ram_collision: Signal<Out, Bit>,
    pub ready: Signal<Out, Bit>,

    rings: TxRings<A, VB>,
    stream: TxStream,

    // DMA request register.
    rq_valid: DFF<Bit>,
    rq_addr: DFF<Bits<64>>,
    rq_tag: DFF<Bits<8>>,
    rq_load: Signal<Local, Bit>,

    // Descriptor slots: VI and index written at the request (`slot_wr`), the descriptor at
    // the response (`slot_rsp`), read by the issuer (`slot_rd`; the RAMs' outputs hold that
    // slot when `h_loaded`).
    slot_meta: Ram<Bits<48>, 4>,
    slot_desc: Ram<Bits<DESC_BITS>, 4>,
    slot_wr: DFF<Bits<5>>,
    slot_rsp: DFF<Bits<5>>,
    slot_rd: DFF<Bits<5>>,
    slot_next: Signal<Local, Bits<5>>,
    h_loaded: DFF<Bit>,

    // Frame issuer: takes the head descriptor, checks it, queues a record, issues the reads.
    h_err: Signal<Local, Bit>,
    h_data: Signal<Local, Bits<DESC_BITS>>,
    h_len: Signal<Local, Bits<18>>,
    h_crc_off: Signal<Local, Bits<18>>,
    h_crc_len: Signal<Local, Bits<18>>,
    h_crc_on: Signal<Local, Bit>,
    h_bad: Signal<Local, Bit>,
    h_nwords: Signal<Local, Bits<PW>>,
    h_space: Signal<Local, Bit>,
    h_kind: Signal<Local, Bits<2>>,
    h_take: Signal<Local, Bit>,
    h_sum: Signal<Local, Bits<18>>,
    h_used: Signal<Local, Bits<PW>>,
    slots: Constant<Bits<5>>,
    max_len: Constant<Bits<18>>,
    buf_words: Constant<Bits<13>>,
    di_busy: DFF<Bit>,
    di_addr: DFF<Bits<64>>,
    di_left: DFF<Bits<PW>>,
    di_seq: DFF<Bits<4>>,
    seq: DFF<Bits<4>>,
    alloc_ptr: DFF<Bits<PW>>,
}

impl<const A: usize, const VB: usize> Default for TxPathN<A, VB> {
    fn default() -> Self {
        assert!(VB <= 8, "VI numbers travel in 8-bit event fields");
        assert_eq!(desc::DESC_BYTES, 16);
        assert_eq!(desc::TX_LEN, (0, 16));
        assert_eq!(desc::TX_CRC_OFFSET, (16, 16));
        assert_eq!(desc::TX_CRC_LEN, (32, 16));
        assert_eq!(desc::TX_FLAGS, (48, 8));
        assert_eq!(desc::TX_FLAG_CRC32C, 1);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            enable: Default::default(),
            cycles: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
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
            ev_timestamp: Default::default(),
            ram_collision: Default::default(),
            ready: Default::default(),
            rings: Default::default(),
            stream: Default::default(),
            rq_valid: Default::default(),
            rq_addr: Default::default(),
            rq_tag: Default::default(),
            rq_load: Default::default(),
            slot_meta: Default::default(),
            slot_desc: Default::default(),
            slot_wr: Default::default(),
            slot_rsp: Default::default(),
            slot_rd: Default::default(),
            slot_next: Default::default(),
            h_loaded: Default::default(),
            h_err: Default::default(),
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
            h_sum: Default::default(),
            h_used: Default::default(),
            slots: Constant::new((SLOTS as u64).into()),
            max_len: Constant::new((desc::TX_MAX_LEN as u64).into()),
            buf_words: Constant::new(((1u64) << BUF_AW).into()),
            di_busy: Default::default(),
            di_addr: Default::default(),
            di_left: Default::default(),
            di_seq: Default::default(),
            seq: Default::default(),
            alloc_ptr: Default::default(),
        }
    }
}

impl<const A: usize, const VB: usize> Logic for TxPathN<A, VB> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, rq_valid, rq_addr, rq_tag, slot_wr, slot_rsp, slot_rd, h_loaded, di_busy,
            di_addr, di_left, di_seq, seq, alloc_ptr
        );
        self.slot_meta.clock.next = self.clock.val();
        self.slot_desc.clock.next = self.clock.val();

        // ---- Rings and their registers.
        self.rings.clock.next = self.clock.val();
        self.rings.reset.next = self.reset.val();
        self.rings.rd.next = self.rd.val();
        self.rings.wr.next = self.wr.val();
        self.rings.addr.next = self.addr.val();
        self.rings.wdata.next = self.wdata.val();
        self.ack.next = self.rings.ack.val();
        self.nak.next = self.rings.nak.val();
        self.rdata.next = self.rings.rdata.val();
        self.rings.fetch_allow.next =
            self.enable.val() & ((self.slot_wr.q.val() - self.slot_rd.q.val()) != self.slots.val());

        // ---- The DMA request register: frame data reads first, then descriptor reads.
        self.rq_load.next = !self.rq_valid.q.val() | self.dmar_req_ready.val();
        if self.dmar_req_ready.val() {
            self.rq_valid.d.next = false;
        }
        self.rings.req_take.next = false;
        self.slot_meta.wr_en.next = false;
        self.slot_meta.wr_addr.next = self.slot_wr.q.val().get_bits::<4>(0);
        self.slot_meta.wr_data.next = bit_cast::<48, VB>(self.rings.req_vi.val())
            | (bit_cast::<48, 32>(self.rings.req_index.val()) << 16);
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
        } else if self.rq_load.val() & self.rings.req_valid.val() {
            // A descriptor read into the next slot.
            self.rq_valid.d.next = true;
            self.rq_addr.d.next = self.rings.req_addr.val();
            self.rq_tag.d.next = bit_cast::<8, 4>(self.slot_wr.q.val().get_bits::<4>(0)) | 0xC0;
            self.slot_meta.wr_en.next = true;
            self.slot_wr.d.next = self.slot_wr.q.val() + 1;
            self.rings.req_take.next = true;
        }
        self.dmar_req_valid.next = self.rq_valid.q.val();
        self.dmar_req_addr.next = self.rq_addr.q.val();
        self.dmar_req_tag.next = self.rq_tag.q.val();

        // ---- Responses: descriptors into their slot, frame data into the stream's buffer.
        self.slot_desc.wr_en.next = false;
        self.slot_desc.wr_addr.next = self.slot_rsp.q.val().get_bits::<4>(0);
        self.slot_desc.wr_data.next =
            bit_cast::<DESC_BITS, 113>(self.dmar_rsp_data.val().get_bits::<113>(0))
                | (bit_cast::<DESC_BITS, 1>(self.dmar_rsp_err.val().into()) << 113);
        self.stream.rsp_valid.next = false;
        self.stream.rsp_seq.next = self.dmar_rsp_tag.val().get_bits::<4>(0);
        self.stream.rsp_data.next = self.dmar_rsp_data.val();
        self.stream.rsp_err.next = self.dmar_rsp_err.val();
        if self.dmar_rsp_valid.val() & self.dmar_rsp_tag.val().get_bit(7) {
            if self.dmar_rsp_tag.val().get_bit(6) {
                self.slot_desc.wr_en.next = true;
                self.slot_rsp.d.next = self.slot_rsp.q.val() + 1;
            } else {
                self.stream.rsp_valid.next = true;
            }
        }

        // ---- Frame issuer: check the head descriptor and queue its record.
        self.h_data.next = self.slot_desc.rd_data.val();
        self.h_err.next = self.h_data.val().get_bit(113);
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
        self.h_used.next = self.alloc_ptr.q.val() - self.stream.free_ptr.val();
        self.h_space.next = (bit_cast::<13, PW>(self.h_used.val())
            + bit_cast::<13, PW>(self.h_nwords.val()))
            <= self.buf_words.val();
        self.h_kind.next = 0.into();
        if self.h_err.val() {
            self.h_kind.next = 2.into();
        } else if self.h_bad.val() {
            self.h_kind.next = 1.into();
        }
        self.h_take.next = self.h_loaded.q.val()
            & !self.di_busy.q.val()
            & self.stream.rec_space.val()
            & ((self.h_kind.val() != 0) | self.h_space.val());
        self.stream.rec_push.next = self.h_take.val();
        self.stream.rec_kind.next = self.h_kind.val();
        self.stream.rec_vi.next = bit_cast::<8, VB>(self.slot_meta.rd_data.val().get_bits::<VB>(0));
        self.stream.rec_seq.next = self.seq.q.val();
        self.stream.rec_idx.next = self.slot_meta.rd_data.val().get_bits::<32>(16);
        self.stream.rec_len.next = self.h_len.val().get_bits::<16>(0);
        self.stream.rec_crc_on.next = self.h_crc_on.val();
        self.stream.rec_crc_off.next = self.h_crc_off.val().get_bits::<16>(0);
        self.stream.rec_crc_len.next = self.h_crc_len.val().get_bits::<16>(0);
        self.stream.rec_start.next = self.alloc_ptr.q.val();
        self.stream.rec_nwords.next = 0.into();
        if self.h_kind.val() == 0 {
            self.stream.rec_nwords.next = self.h_nwords.val();
        }
        self.stream.rec_off.next = self.h_data.val().get_bits::<4>(0);
        if self.h_take.val() {
            self.seq.d.next = self.seq.q.val() + 1;
            if self.h_kind.val() == 0 {
                self.alloc_ptr.d.next = self.alloc_ptr.q.val() + self.h_nwords.val();
                self.di_busy.d.next = true;
                self.di_addr.d.next = (self.h_data.val().get_bits::<64>(0) >> 4) << 4;
                self.di_left.d.next = self.h_nwords.val();
                self.di_seq.d.next = self.seq.q.val();
            }
        }
        // The slot RAMs' outputs: the next slot once its descriptor has arrived (a response
        // written at edge t is read at edge t+1).
        self.slot_next.next = self.slot_rd.q.val() + bit_cast::<5, 1>(self.h_take.val().into());
        self.slot_rd.d.next = self.slot_next.val();
        self.slot_meta.rd_en.next = false;
        self.slot_desc.rd_en.next = false;
        self.slot_meta.rd_addr.next = self.slot_next.val().get_bits::<4>(0);
        self.slot_desc.rd_addr.next = self.slot_next.val().get_bits::<4>(0);
        if (!self.h_loaded.q.val() | self.h_take.val())
            & (self.slot_rsp.q.val() != self.slot_next.val())
        {
            self.slot_meta.rd_en.next = true;
            self.slot_desc.rd_en.next = true;
            self.h_loaded.d.next = true;
        } else if self.h_take.val() {
            self.h_loaded.d.next = false;
        }

        // ---- The stream: MAC port, events, completions into the rings.
        self.stream.clock.next = self.clock.val();
        self.stream.reset.next = self.reset.val();
        self.stream.cycles.next = self.cycles.val();
        self.tx_data.next = self.stream.tx_data.val();
        self.tx_keep.next = self.stream.tx_keep.val();
        self.tx_valid.next = self.stream.tx_valid.val();
        self.tx_last.next = self.stream.tx_last.val();
        self.stream.tx_ready.next = self.tx_ready.val();
        self.ev_valid.next = self.stream.ev_valid.val();
        self.stream.ev_ready.next = self.ev_ready.val();
        self.ev_vi.next = self.stream.ev_vi.val();
        self.ev_kind.next = self.stream.ev_kind.val();
        self.ev_flags.next = self.stream.ev_flags.val();
        self.ev_payload.next = self.stream.ev_payload.val();
        self.ev_aux.next = self.stream.ev_aux.val();
        self.ev_timestamp.next = self.stream.ev_timestamp.val();
        self.rings.complete.next = self.stream.complete.val();
        self.rings.complete_vi.next = bit_cast::<VB, 8>(self.stream.complete_vi.val());
        self.rings.complete_error.next = self.stream.complete_error.val();
        self.stream.complete_ready.next = self.rings.complete_ready.val();
        self.ready.next = self.rings.ready.val();
        self.ram_collision.next = self.rings.ram_collision.val()
            | self.stream.ram_collision.val()
            | self.slot_meta.collision.val()
            | self.slot_desc.collision.val();

        if self.reset.val() {
            self.rq_valid.d.next = false;
            self.slot_wr.d.next = 0.into();
            self.slot_rsp.d.next = 0.into();
            self.slot_rd.d.next = 0.into();
            self.h_loaded.d.next = false;
            self.di_busy.d.next = false;
            self.seq.d.next = 0.into();
            self.alloc_ptr.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc::tests::{verilator_lint, CRC32, CRC32C};
    use evnic_regs::desc::TxDesc;
    use evnic_regs::event::{ErrorCode, EventType};
    use evnic_regs::map::{vi, vi_reg};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::VecDeque;

    /// Host memory the IOMMU lets the device read: `[MEM_BASE, MEM_BASE + MEM_SIZE)`; the
    /// descriptor rings (4 KiB per VI) sit below `FRAMES`, the frames above.
    const MEM_BASE: u64 = 0x1_2340_0000;
    const MEM_SIZE: usize = 0x40_0000;
    const FRAMES: usize = 0x10_0000;
    const LATENCY: u64 = 64;
    /// The cycle counter's value in the bench's cycle 0: near the 40-bit timestamp's wrap,
    /// which long tests cross.
    const CYCLE_BASE: u64 = (1 << 40) - 20_000;
    const TS_MASK: u64 = (1 << 40) - 1;

    /// The transmit path at 256 VIs (21 register address bits).
    type TxPath256 = TxPathN<21, 8>;
    /// Benches at the device's parameters and at 256 VIs.
    type Dflt = Bench<ADDR_BITS, VI_BITS>;
    type B256 = Bench<21, 8>;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Ev {
        vi: u8,
        kind: u8,
        payload: u32,
        aux: u16,
        timestamp: u64,
        /// The first cycle the event was offered.
        seen: u64,
    }

    struct Bench<const A: usize, const VB: usize> {
        uut: TxPathN<A, VB>,
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
        ev_seen: Option<u64>,
        p_tx: f64,
        p_ev: f64,
        p_req: f64,
        /// Next free byte of memory for frames (from `FRAMES`).
        alloc: usize,
    }

    impl<const A: usize, const VB: usize> Bench<A, VB> {
        fn new(seed: u64, p_stall: f64) -> Self {
            let mut uut = TxPathN::<A, VB>::default();
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
                ev_seen: None,
                p_tx: 1.0 - p_stall,
                p_ev: 1.0 - p_stall,
                p_req: 1.0 - p_stall,
                alloc: FRAMES,
            };
            b.uut.enable.next = true;
            b.uut.reset.next = true;
            b.step();
            b.uut.reset.next = false;
            b.wait_clear();
            b
        }

        /// Steps until the rings' state RAM has cleared after a reset (register accesses are
        /// refused meanwhile), at most 2^VB + 1 cycles.
        fn wait_clear(&mut self) {
            for _ in 0..(1usize << VB) + 1 {
                if self.uut.ready.val() {
                    return;
                }
                self.step();
            }
            assert!(
                self.uut.ready.val(),
                "the rings did not clear in 2^VB + 1 cycles"
            );
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
            u.cycles.next = (CYCLE_BASE + self.cycle).into();
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
            assert!(
                !u.ram_collision.val(),
                "RAM collision in cycle {}",
                self.cycle
            );
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
                assert_eq!(u.ev_flags.val().to_u64(), 0);
            }
            let u = &mut self.uut;
            u.clock.next = true.into();
            self.settle();
            self.uut.clock.next = false.into();
            self.settle();
            self.cycle += 1;
        }

        /// A register access as the bus makes it (a one-cycle strobe, the address and data
        /// held until the answer; traffic goes on): `Some(Ok(rdata))` for an `ack`,
        /// `Some(Err(()))` for a `nak`, `None` without an answer within the bus timeout.
        /// Checks the latency: 1 cycle (`nak`: in the strobe cycle).
        fn reg(&mut self, write: bool, addr: u32, data: u32) -> Option<Result<u32, ()>> {
            let u = &mut self.uut;
            u.rd.next = !write;
            u.wr.next = write;
            u.addr.next = (addr as u64).into();
            u.wdata.next = (data as u64).into();
            let mut answer = None;
            for wait in 0..crate::regbus::ACK_TIMEOUT {
                self.settle();
                let (ack, nak) = (self.uut.ack.val(), self.uut.nak.val());
                assert!(!(ack && nak));
                if nak {
                    assert_eq!(wait, 0, "nak in the strobe cycle");
                    answer = Some(Err(()));
                } else if ack {
                    assert_eq!(wait, 1, "ack one cycle after the strobe");
                    answer = Some(Ok(self.uut.rdata.val().to_u64() as u32));
                } else {
                    assert_eq!(self.uut.rdata.val().to_u64(), 0, "rdata 0 without ack");
                }
                self.step();
                let u = &mut self.uut;
                u.rd.next = false;
                u.wr.next = false;
                if answer.is_some() {
                    break;
                }
            }
            let u = &mut self.uut;
            u.addr.next = (self.rng.gen::<u32>() as u64 & ((1 << A) - 1)).into();
            u.wdata.next = (self.rng.gen::<u32>() as u64).into();
            answer
        }

        fn write(&mut self, addr: u32, data: u32) {
            assert_eq!(
                self.reg(true, addr, data),
                Some(Ok(0)),
                "write to {addr:#x} acknowledged"
            );
        }

        fn read(&mut self, addr: u32) -> u32 {
            match self.reg(false, addr, 0) {
                Some(Ok(v)) => v,
                other => panic!("read of {addr:#x}: {other:?}"),
            }
        }

        /// Where VI `v`'s ring of up to 256 descriptors lives.
        fn ring_base(v: u32) -> u64 {
            MEM_BASE + v as u64 * 0x1000
        }

        /// Sets up VI `v`'s ring of `2^log2` descriptors.
        fn setup_ring(&mut self, v: u32, log2: u32) {
            let base = Self::ring_base(v);
            self.write(vi_reg(v, &vi::TXQ_BASE_LO), base as u32);
            self.write(vi_reg(v, &vi::TXQ_BASE_HI), (base >> 32) as u32);
            self.write(vi_reg(v, &vi::TXQ_SIZE), log2);
        }

        /// Places `frame` in memory (above the rings) at a random alignment; returns its
        /// address.
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
    fn post<const A: usize, const VB: usize>(b: &mut Bench<A, VB>, log2: u32, cases: &[Case]) {
        let mut wptr = std::collections::BTreeMap::new();
        for c in cases {
            b.put_desc(c.vi, log2, c.index, &c.d);
            wptr.insert(c.vi, c.index + 1);
        }
        for (v, w) in wptr {
            b.write(vi_reg(v, &vi::TXQ_WPTR), w);
        }
    }

    fn good<const A: usize, const VB: usize>(
        b: &mut Bench<A, VB>,
        vi: u32,
        index: u32,
        data: &[u8],
        crc: Option<(u16, u16)>,
    ) -> Case {
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

    /// Checks events and frames against `cases`: per VI in order; frames in event order;
    /// TX_DONE timestamps against the cycle the frame's first beat left, ERROR timestamps
    /// against the cycle the event was posted (the one before it was first offered).
    fn check<const A: usize, const VB: usize>(b: &Bench<A, VB>, cases: &[Case]) {
        assert_eq!(b.events.len(), cases.len());
        let mut frames = b.frames.iter().zip(&b.frame_cycles);
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
                    let (f, cycles) = frames.next().expect("a frame per TX_DONE");
                    assert_eq!(
                        e.timestamp,
                        (CYCLE_BASE + cycles.0) & TS_MASK,
                        "TX_DONE timestamp: the first beat's cycle"
                    );
                    assert!(e.seen > cycles.0);
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
                None => {
                    assert_eq!(
                        (e.kind, e.payload, e.aux),
                        (EventType::Error as u8, c.code as u32, c.index as u16),
                        "ERROR of vi {v} index {}",
                        c.index
                    );
                    assert_eq!(e.timestamp, (CYCLE_BASE + e.seen - 1) & TS_MASK);
                }
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
        let mut b = Dflt::new(1, 0.3);
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
        let mut b = Dflt::new(2, 0.2);
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
        let mut b = Dflt::new(3, 0.2);
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
        let mut b = Dflt::new(4, 0.1);
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
        let mut b = Dflt::new(5, 0.0);
        let last = (1u32 << VI_BITS) - 1;
        for v in [0u32, 7, last] {
            b.write(vi_reg(v, &vi::TXQ_BASE_LO), 0x1230 + v);
            b.write(vi_reg(v, &vi::TXQ_BASE_HI), 0xabc0 + v);
            b.write(vi_reg(v, &vi::TXQ_SIZE), 13);
        }
        for v in [0u32, 7, last] {
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_BASE_LO)), 0x1230 + v);
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_BASE_HI)), 0xabc0 + v);
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_SIZE)), vi::RING_SIZE_MAX);
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_RPTR)), 0);
        }
        assert_eq!(b.read(vi_reg(1, &vi::TXQ_BASE_LO)), 0);
        // Read-only registers refuse writes; other registers and pages are not ours.
        assert_eq!(b.reg(true, vi_reg(2, &vi::TXQ_RPTR), 5), Some(Err(())));
        assert_eq!(b.reg(true, vi_reg(2, &vi::TXQ_ERRORS), 5), Some(Err(())));
        assert_eq!(b.reg(false, vi_reg(2, &vi::EVQ_BASE_LO), 0), None);
        assert_eq!(b.reg(false, vi_reg(2, &vi::RXQ_RPTR), 0), None);
        assert_eq!(b.reg(false, vi::TXQ_BASE_LO.offset, 0), None);
        assert_eq!(b.reg(true, vi::TXQ_WPTR.offset, 1), None);
        // Nothing was fetched: size 0 rings and the writes above posted nothing.
        b.run(100);
        assert!(b.frames.is_empty() && b.events.is_empty());
    }

    /// Every register of every one of 256 VIs holds its own value (the state RAM at full
    /// depth), and a reset clears them all within 2^VB + 1 cycles (refusing accesses
    /// meanwhile).
    #[test]
    fn registers_of_256_vis() {
        let mut b = B256::new(15, 0.0);
        let val = |v: u32, r: u32| v.wrapping_mul(0x9e37_79b9) ^ (r << 28);
        for v in 0..256u32 {
            b.write(vi_reg(v, &vi::TXQ_BASE_LO), val(v, 0));
            b.write(vi_reg(v, &vi::TXQ_BASE_HI), val(v, 1));
            if v % 3 == 0 {
                b.write(vi_reg(v, &vi::TXQ_SIZE), v % 13);
                b.write(vi_reg(v, &vi::TXQ_WPTR), 0);
            }
        }
        for v in (0..256u32).rev() {
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_BASE_LO)), val(v, 0), "vi {v}");
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_BASE_HI)), val(v, 1), "vi {v}");
            let size = if v % 3 == 0 { v % 13 } else { 0 };
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_SIZE)), size.min(12), "vi {v}");
        }
        assert_eq!(b.reg(false, vi_reg(256, &vi::TXQ_BASE_LO), 0), None);
        b.uut.reset.next = true;
        b.step();
        b.uut.reset.next = false;
        assert_eq!(b.reg(false, vi_reg(0, &vi::TXQ_BASE_LO), 0), Some(Err(())));
        b.wait_clear();
        for v in [255u32, 0, 31, 32, 128] {
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_BASE_LO)), 0, "vi {v} after reset");
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_BASE_HI)), 0, "vi {v} after reset");
        }
    }

    #[test]
    fn enable_and_reset() {
        let mut b = Dflt::new(6, 0.0);
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
        b.ev_seen = None;
        b.wait_clear();
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
        b.frame_cycles.clear();
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
    fn burst_gaps(b: &mut Dflt, cases: &[Case], log2: u32) -> Vec<u64> {
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
    /// with no idle cycle between them, with or without a CRC-32C span (at 0 or 8), and so do
    /// 1500-byte frames and mixed lengths with and without spans.
    #[test]
    fn back_to_back_line_rate() {
        let mut b = Dflt::new(7, 0.0);
        b.setup_ring(0, 6);
        let mut all = vec![];
        let mut idx = 0u32;
        let mut burst = |b: &mut Dflt, lens: &[(usize, Option<(u16, u16)>)]| {
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
        assert!(g60c0.iter().all(|&g| g == 0), "{g60c0:?}");
        assert!(g60c8.iter().all(|&g| g == 0), "{g60c8:?}");
        assert!(gmix.iter().all(|&g| g == 0), "{gmix:?}");
    }

    /// Random mixes on three VIs with stalls everywhere: lengths 1..=600, CRC-32C spans,
    /// bad lengths, frames whose reads fault, between good frames prefetched around them.
    fn random_mix<const A: usize, const VB: usize>(seed: u64, stall: f64, vis: [u32; 3]) {
        let mut b = Bench::<A, VB>::new(seed, stall);
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

    #[test]
    fn random_mix_with_faults_and_stalls() {
        for (seed, stall) in [(11u64, 0.0), (12, 0.25), (13, 0.5)] {
            random_mix::<ADDR_BITS, VI_BITS>(seed, stall, [2, 6, 15]);
        }
    }

    #[test]
    fn random_mix_at_256_vis() {
        random_mix::<21, 8>(14, 0.3, [0, 129, 255]);
    }

    /// At 256 VIs: 40 rings (the first and last VIs among them, and both sides of 32-VI
    /// boundaries) posted while the path is disabled, in a random doorbell order, with 1
    /// to 4 descriptors each (some refused). Once enabled, descriptors are fetched, and so
    /// completed, round robin in doorbell order: every ring's first, then every second...
    #[test]
    fn fetch_order_is_the_fifo_of_active_rings_at_256_vis() {
        let mut b = B256::new(16, 0.0);
        b.uut.enable.next = false;
        let mut vis: Vec<u32> = vec![0, 31, 32, 63, 64, 255];
        while vis.len() < 40 {
            let v = b.rng.gen_range(0..256);
            if !vis.contains(&v) {
                vis.push(v);
            }
        }
        // A random doorbell order.
        for i in (1..vis.len()).rev() {
            let j = b.rng.gen_range(0..=i);
            vis.swap(i, j);
        }
        let mut cases = vec![];
        let mut count = std::collections::HashMap::new();
        for &v in &vis {
            b.setup_ring(v, 3);
            let n = b.rng.gen_range(1..=4u32);
            count.insert(v, n);
            for i in 0..n {
                if b.rng.gen_range(0..7) == 0 {
                    let d = TxDesc {
                        addr: MEM_BASE,
                        len: 0,
                        ..Default::default()
                    };
                    cases.push(bad(v, i, d, ErrorCode::TxBadLength));
                } else {
                    let len = b.rng.gen_range(60..=120);
                    let data = random_frame(&mut b.rng, len);
                    cases.push(good(&mut b, v, i, &data, None));
                }
            }
        }
        for c in &cases {
            b.put_desc(c.vi, 3, c.index, &c.d);
        }
        for &v in &vis {
            b.write(vi_reg(v, &vi::TXQ_WPTR), count[&v]);
        }
        b.run(100);
        assert!(b.events.is_empty());
        b.uut.enable.next = true;
        b.run_until_events(cases.len());
        check(&b, &cases);
        let mut want = vec![];
        for round in 0..4 {
            for &v in &vis {
                if round < count[&v] {
                    want.push((v as u8, round));
                }
            }
        }
        let got: Vec<(u8, u32)> = b
            .events
            .iter()
            .map(|e| {
                let index = if e.kind == EventType::Error as u8 {
                    e.aux as u32
                } else {
                    e.payload
                };
                (e.vi, index)
            })
            .collect();
        assert_eq!(got, want, "round robin in doorbell order");
        for &v in &vis {
            assert_eq!(b.read(vi_reg(v, &vi::TXQ_RPTR)), count[&v], "vi {v}");
        }
    }

    #[test]
    /// Lints the path at the device's parameters and at 256 VIs; with
    /// `EVNIC_TX_VERILOG=<path>` also writes the default one there (to synthesise it alone).
    fn verilog_lints_clean() {
        let mut uut = TxPath::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        verilator_lint("tx_path", &v);
        if let Ok(p) = std::env::var("EVNIC_TX_VERILOG") {
            std::fs::write(p, &v).unwrap();
        }
        let mut uut = TxPath256::default();
        uut.connect_all();
        verilator_lint("tx_path_256", &generate_verilog(&uut));
    }
}
