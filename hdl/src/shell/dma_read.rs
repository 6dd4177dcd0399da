//! `DmaReader`: the core's 16-byte DMA reads as memory-read TLPs on the requester request
//! stream (RQ), their completions from the requester completion stream (RC) put back in
//! request order, and every way a read can fail ending as an error response.
//!
//! # Ports
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | | rising edge; synchronous active-high reset |
//! | `req_valid` / `req_ready`, `req_addr`, `req_tag` | in / out, in | 1, 64, 8 | the core's `dmar_req_*`: 16 bytes at a 16-byte aligned address |
//! | `rsp_valid`, `rsp_tag`, `rsp_data`, `rsp_err` | out | 1, 8, 128, 1 | the core's `dmar_rsp_*`: one per request, in request order, with its tag |
//! | `t_valid` / `t_ready`, `t_data`, `t_keep`, `t_last`, `t_user` | out / in, out | 1, 128, 4, 1, 62 | memory-read TLPs, to [`super::rq_mux::RqMux`] |
//! | `rc_tdata`, `rc_tkeep`, `rc_tlast`, `rc_tuser`, `rc_tvalid` / `rc_tready` | in / out | 128, 4, 1, 75, 1 | the RC stream (always ready) |
//! | `cpl_timeout` | in | 32 | cycles a read may wait at the head of the order (0: forever) |
//! | `ev_timeout_timer`, `ev_timeout_rc`, `ev_error`, `ev_poisoned`, `ev_unexpected` | out | 1 | one-cycle pulses for the shell page's counters |
//!
//! # Slots and tags
//! Every request takes the next of 128 slots (16 bytes of completion buffer each, in block
//! RAM), in order. Requests to consecutive addresses within one 128-byte block, arriving on
//! consecutive cycles, share one memory read of up to 8 slots; the read is sent as soon as the
//! next request cannot join it. Its PCIe tag is `{generation, first slot}`: 8 bits, so the host
//! must enable extended tags (operating systems do). The generation bit flips each time a slot
//! starts a read, so a completion arriving late for an earlier read from the same slot does not
//! match. At most 120 slots are in use: the 8 others keep a read's first slot from being
//! reused while the read still drains.
//!
//! # Contract
//! - Completions are matched by tag and placed by their lower address, so split completions
//!   (at any 16-byte multiple, as the read completion boundary gives) and completions of
//!   different reads in any order are put back in request order.
//! - A read fails, and its remaining slots are answered with `rsp_err`, when: a completion
//!   has an error status (UR, CA, CRS) or an error the hard block reports (mismatched fields,
//!   bad length or address), or is not a whole number of 16-byte slots (`ev_error`); the hard
//!   block reports its own completion timeout (`ev_timeout_rc`); or the read has waited
//!   `cpl_timeout` cycles at the head of the order, once sent (`ev_timeout_timer`). Later
//!   completions for a failed read are dropped.
//! - A poisoned completion's slots answer with `rsp_err` (`ev_poisoned`); the read goes on.
//! - A completion whose tag names no outstanding read (unknown, failed, an old generation, or
//!   the hard block's invalid-tag code) is dropped (`ev_unexpected`).
//! - Nothing waits forever: with `cpl_timeout` non-zero every request is answered.
//!
//! # Timing
//! A request is taken in the cycle it is offered while slots are free (and the outgoing read
//! register is free when it starts a new read). The read leaves the cycle after its last
//! request. Each completion beat after the first fills one slot; a slot is answered 2 cycles
//! after its beat at the earliest, one slot per cycle.

use super::{konst, RC_USER_BITS, RQ_USER_BITS};
use rust_hdl::prelude::*;

/// log2 of the number of slots.
pub const SLOT_BITS: usize = 7;
/// Slots in flight at most (see the module doc).
pub const SLOTS_IN_FLIGHT: u64 = (1 << SLOT_BITS) - MAX_READ_SLOTS;
/// Slots (16-byte requests) one memory read covers at most: 128 bytes, the smallest maximum
/// read request size, in one aligned block (so a read never crosses a 4 KiB boundary).
pub const MAX_READ_SLOTS: u64 = 8;

// Error codes of the RC descriptor (dword 0 bits 15:12).
const E_NORMAL: u64 = 0;
const E_POISONED: u64 = 1;
const E_INVALID_TAG: u64 = 6;
const E_TIMEOUT: u64 = 9;

#[derive(LogicBlock)]
pub struct DmaReader {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub req_valid: Signal<In, Bit>,
    pub req_ready: Signal<Out, Bit>,
    pub req_addr: Signal<In, Bits<64>>,
    pub req_tag: Signal<In, Bits<8>>,
    pub rsp_valid: Signal<Out, Bit>,
    pub rsp_tag: Signal<Out, Bits<8>>,
    pub rsp_data: Signal<Out, Bits<128>>,
    pub rsp_err: Signal<Out, Bit>,
    pub t_valid: Signal<Out, Bit>,
    pub t_ready: Signal<In, Bit>,
    pub t_data: Signal<Out, Bits<128>>,
    pub t_keep: Signal<Out, Bits<4>>,
    pub t_last: Signal<Out, Bit>,
    pub t_user: Signal<Out, Bits<RQ_USER_BITS>>,
    pub rc_tdata: Signal<In, Bits<128>>,
    pub rc_tkeep: Signal<In, Bits<4>>,
    pub rc_tlast: Signal<In, Bit>,
    pub rc_tuser: Signal<In, Bits<RC_USER_BITS>>,
    pub rc_tvalid: Signal<In, Bit>,
    pub rc_tready: Signal<Out, Bit>,
    pub cpl_timeout: Signal<In, Bits<32>>,
    pub ev_timeout_timer: Signal<Out, Bit>,
    pub ev_timeout_rc: Signal<Out, Bit>,
    pub ev_error: Signal<Out, Bit>,
    pub ev_poisoned: Signal<Out, Bit>,
    pub ev_unexpected: Signal<Out, Bit>,

    // Allocation (write) and answer (read) pointers, with a wrap bit.
    wr: DFF<Bits<8>>,
    rd: DFF<Bits<8>>,
    // The read being gathered.
    open: DFF<Bit>,
    o_first: DFF<Bits<SLOT_BITS>>,
    o_addr: DFF<Bits<64>>,
    o_count: DFF<Bits<4>>,
    // The read being sent.
    m_valid: DFF<Bit>,
    m_addr: DFF<Bits<64>>,
    m_dwords: DFF<Bits<6>>,
    m_tag: DFF<Bits<8>>,
    // Per slot: first / last of its read, done (data arrived); per first slot: busy (a read
    // starts here and is not yet answered), fail, generation.
    first_b: DFF<Bits<128>>,
    last_b: DFF<Bits<128>>,
    done_b: DFF<Bits<128>>,
    busy_b: DFF<Bits<128>>,
    fail_b: DFF<Bits<128>>,
    gen_b: DFF<Bits<128>>,
    tag_ram: RAM<Bits<8>, SLOT_BITS>,
    data_ram: RAM<Bits<129>, SLOT_BITS>,
    off_ram: RAM<Bits<3>, SLOT_BITS>,
    // Completion in progress.
    in_tlp: DFF<Bit>,
    c_f: DFF<Bits<SLOT_BITS>>,
    c_la: DFF<Bits<3>>,
    c_left: DFF<Bits<9>>,
    c_first: DFF<Bit>,
    c_slot: DFF<Bits<SLOT_BITS>>,
    c_poison: DFF<Bit>,
    c_carry: DFF<Bits<32>>,
    // Answering.
    cur_f: DFF<Bits<SLOT_BITS>>,
    waited: DFF<Bits<32>>,
    out_valid: DFF<Bit>,
    out_err: DFF<Bit>,

    space: Signal<Local, Bit>,
    contig: Signal<Local, Bit>,
    merge: Signal<Local, Bit>,
    m_free: Signal<Local, Bit>,
    close: Signal<Local, Bit>,
    start: Signal<Local, Bit>,
    accept: Signal<Local, Bit>,
    w_slot: Signal<Local, Bits<SLOT_BITS>>,
    last_slot: Signal<Local, Bits<SLOT_BITS>>,
    sop: Signal<Local, Bit>,
    cpl_f: Signal<Local, Bits<SLOT_BITS>>,
    cpl_code: Signal<Local, Bits<4>>,
    cpl_dwords: Signal<Local, Bits<11>>,
    tag_ok: Signal<Local, Bit>,
    is_data: Signal<Local, Bit>,
    misaligned: Signal<Local, Bit>,
    fail_cpl: Signal<Local, Bit>,
    data_beat: Signal<Local, Bit>,
    slot: Signal<Local, Bits<SLOT_BITS>>,
    h: Signal<Local, Bits<SLOT_BITS>>,
    allocated: Signal<Local, Bit>,
    f_now: Signal<Local, Bits<SLOT_BITS>>,
    failing: Signal<Local, Bit>,
    issue: Signal<Local, Bit>,
    timeout_allowed: Signal<Local, Bit>,
    fire: Signal<Local, Bit>,
    n_first: Signal<Local, Bits<128>>,
    n_last: Signal<Local, Bits<128>>,
    n_done: Signal<Local, Bits<128>>,
    n_busy: Signal<Local, Bits<128>>,
    n_fail: Signal<Local, Bits<128>>,
    n_gen: Signal<Local, Bits<128>>,
    in_flight: Constant<Bits<8>>,
    e_normal: Constant<Bits<4>>,
    e_poisoned: Constant<Bits<4>>,
    e_invalid_tag: Constant<Bits<4>>,
    e_timeout: Constant<Bits<4>>,
}

impl Default for DmaReader {
    fn default() -> Self {
        DmaReader {
            clock: Default::default(),
            reset: Default::default(),
            req_valid: Default::default(),
            req_ready: Default::default(),
            req_addr: Default::default(),
            req_tag: Default::default(),
            rsp_valid: Default::default(),
            rsp_tag: Default::default(),
            rsp_data: Default::default(),
            rsp_err: Default::default(),
            t_valid: Default::default(),
            t_ready: Default::default(),
            t_data: Default::default(),
            t_keep: Default::default(),
            t_last: Default::default(),
            t_user: Default::default(),
            rc_tdata: Default::default(),
            rc_tkeep: Default::default(),
            rc_tlast: Default::default(),
            rc_tuser: Default::default(),
            rc_tvalid: Default::default(),
            rc_tready: Default::default(),
            cpl_timeout: Default::default(),
            ev_timeout_timer: Default::default(),
            ev_timeout_rc: Default::default(),
            ev_error: Default::default(),
            ev_poisoned: Default::default(),
            ev_unexpected: Default::default(),
            wr: Default::default(),
            rd: Default::default(),
            open: Default::default(),
            o_first: Default::default(),
            o_addr: Default::default(),
            o_count: Default::default(),
            m_valid: Default::default(),
            m_addr: Default::default(),
            m_dwords: Default::default(),
            m_tag: Default::default(),
            first_b: Default::default(),
            last_b: Default::default(),
            done_b: Default::default(),
            busy_b: Default::default(),
            fail_b: Default::default(),
            gen_b: Default::default(),
            tag_ram: Default::default(),
            data_ram: Default::default(),
            off_ram: Default::default(),
            in_tlp: Default::default(),
            c_f: Default::default(),
            c_la: Default::default(),
            c_left: Default::default(),
            c_first: Default::default(),
            c_slot: Default::default(),
            c_poison: Default::default(),
            c_carry: Default::default(),
            cur_f: Default::default(),
            waited: Default::default(),
            out_valid: Default::default(),
            out_err: Default::default(),
            space: Default::default(),
            contig: Default::default(),
            merge: Default::default(),
            m_free: Default::default(),
            close: Default::default(),
            start: Default::default(),
            accept: Default::default(),
            w_slot: Default::default(),
            last_slot: Default::default(),
            sop: Default::default(),
            cpl_f: Default::default(),
            cpl_code: Default::default(),
            cpl_dwords: Default::default(),
            tag_ok: Default::default(),
            is_data: Default::default(),
            misaligned: Default::default(),
            fail_cpl: Default::default(),
            data_beat: Default::default(),
            slot: Default::default(),
            h: Default::default(),
            allocated: Default::default(),
            f_now: Default::default(),
            failing: Default::default(),
            issue: Default::default(),
            timeout_allowed: Default::default(),
            fire: Default::default(),
            n_first: Default::default(),
            n_last: Default::default(),
            n_done: Default::default(),
            n_busy: Default::default(),
            n_fail: Default::default(),
            n_gen: Default::default(),
            in_flight: konst(SLOTS_IN_FLIGHT),
            e_normal: konst(E_NORMAL),
            e_poisoned: konst(E_POISONED),
            e_invalid_tag: konst(E_INVALID_TAG),
            e_timeout: konst(E_TIMEOUT),
        }
    }
}

impl Logic for DmaReader {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, wr, rd, open, o_first, o_addr, o_count, m_valid, m_addr, m_dwords, m_tag,
            first_b, last_b, done_b, busy_b, fail_b, gen_b, in_tlp, c_f, c_la, c_left, c_first,
            c_slot, c_poison, c_carry, cur_f, waited, out_valid, out_err
        );
        self.tag_ram.read_clock.next = self.clock.val();
        self.tag_ram.write_clock.next = self.clock.val();
        self.data_ram.read_clock.next = self.clock.val();
        self.data_ram.write_clock.next = self.clock.val();
        self.off_ram.read_clock.next = self.clock.val();
        self.off_ram.write_clock.next = self.clock.val();

        self.n_first.next = self.first_b.q.val();
        self.n_last.next = self.last_b.q.val();
        self.n_done.next = self.done_b.q.val();
        self.n_busy.next = self.busy_b.q.val();
        self.n_fail.next = self.fail_b.q.val();
        self.n_gen.next = self.gen_b.q.val();

        // ---- Requests: gather, allocate slots, send reads.
        self.w_slot.next = self.wr.q.val().get_bits::<SLOT_BITS>(0);
        self.space.next = (self.wr.q.val() - self.rd.q.val()) < self.in_flight.val();
        self.contig.next = self.open.q.val()
            & (self.req_addr.val().get_bits::<57>(7) == self.o_addr.q.val().get_bits::<57>(7))
            & ((bit_cast::<4, 3>(self.o_addr.q.val().get_bits::<3>(4)) + self.o_count.q.val())
                == bit_cast::<4, 3>(self.req_addr.val().get_bits::<3>(4)));
        self.merge.next = self.req_valid.val() & self.contig.val() & self.space.val();
        self.m_free.next = !self.m_valid.q.val() | self.t_ready.val();
        self.close.next = self.open.q.val() & !self.merge.val() & self.m_free.val();
        self.start.next = self.req_valid.val()
            & self.space.val()
            & !self.merge.val()
            & (!self.open.q.val() | self.close.val());
        self.accept.next = self.merge.val() | self.start.val();
        self.req_ready.next = self.accept.val();

        self.tag_ram.write_address.next = self.w_slot.val();
        self.tag_ram.write_data.next = self.req_tag.val();
        self.tag_ram.write_enable.next = self.accept.val();
        self.off_ram.write_address.next = self.w_slot.val();
        self.off_ram.write_data.next = self.req_addr.val().get_bits::<3>(4);
        self.off_ram.write_enable.next = self.start.val();
        if self.accept.val() {
            self.wr.d.next = self.wr.q.val() + 1;
        }
        if self.m_valid.q.val() & self.t_ready.val() {
            self.m_valid.d.next = false;
        }
        self.last_slot.next =
            self.o_first.q.val() + bit_cast::<SLOT_BITS, 4>(self.o_count.q.val()) - 1;
        if self.close.val() {
            self.m_valid.d.next = true;
            self.m_addr.d.next = self.o_addr.q.val();
            self.m_dwords.d.next = bit_cast::<6, 4>(self.o_count.q.val()) << 2;
            self.m_tag.d.next = bit_cast::<8, SLOT_BITS>(self.o_first.q.val())
                | (bit_cast::<8, 1>(
                    self.gen_b
                        .q
                        .val()
                        .get_bit(self.o_first.q.val().index())
                        .into(),
                ) << 7);
            self.n_last.next = self
                .n_last
                .val()
                .replace_bit(self.last_slot.val().index(), true);
            self.open.d.next = false;
        }
        if self.merge.val() {
            self.o_count.d.next = self.o_count.q.val() + 1;
        }
        if self.start.val() {
            self.open.d.next = true;
            self.o_first.d.next = self.w_slot.val();
            self.o_addr.d.next = self.req_addr.val() & !bits::<64>(15);
            self.o_count.d.next = 1.into();
            self.n_first.next = self
                .n_first
                .val()
                .replace_bit(self.w_slot.val().index(), true);
            self.n_busy.next = self
                .n_busy
                .val()
                .replace_bit(self.w_slot.val().index(), true);
            self.n_fail.next = self
                .n_fail
                .val()
                .replace_bit(self.w_slot.val().index(), false);
            self.n_gen.next = self.n_gen.val().replace_bit(
                self.w_slot.val().index(),
                !self.gen_b.q.val().get_bit(self.w_slot.val().index()),
            );
        }

        // The memory read TLP: address, dword count, type 0 (memory read), tag; all bytes.
        self.t_valid.next = self.m_valid.q.val();
        self.t_data.next = (bit_cast::<128, 64>(self.m_addr.q.val()) & !bits::<128>(3))
            | (bit_cast::<128, 6>(self.m_dwords.q.val()) << 64)
            | (bit_cast::<128, 8>(self.m_tag.q.val()) << 96);
        self.t_keep.next = 15.into();
        self.t_last.next = true;
        self.t_user.next = 0xFF.into();

        // ---- Completions (the RC stream is never held).
        self.rc_tready.next = true;
        self.sop.next = self.rc_tvalid.val() & !self.in_tlp.q.val();
        self.cpl_f.next = self.rc_tdata.val().get_bits::<SLOT_BITS>(64);
        self.cpl_code.next = self.rc_tdata.val().get_bits::<4>(12);
        self.cpl_dwords.next = self.rc_tdata.val().get_bits::<11>(32);
        self.tag_ok.next = self.busy_b.q.val().get_bit(self.cpl_f.val().index())
            & !self.fail_b.q.val().get_bit(self.cpl_f.val().index())
            & (self.gen_b.q.val().get_bit(self.cpl_f.val().index())
                == self.rc_tdata.val().get_bit(71));
        self.is_data.next = (self.cpl_code.val() == self.e_normal.val())
            | (self.cpl_code.val() == self.e_poisoned.val());
        self.misaligned.next = self.rc_tdata.val().get_bits::<2>(2).any()
            | self.cpl_dwords.val().get_bits::<2>(0).any()
            | (self.cpl_dwords.val() == 0);
        self.off_ram.read_address.next = self.cpl_f.val();
        self.fail_cpl.next = false;
        self.ev_timeout_rc.next = false;
        self.ev_error.next = false;
        self.ev_poisoned.next = false;
        self.ev_unexpected.next = false;
        if self.rc_tvalid.val() {
            self.c_carry.d.next = self.rc_tdata.val().get_bits::<32>(96);
            self.in_tlp.d.next = !self.rc_tlast.val();
        }
        if self.sop.val() {
            self.c_left.d.next = 0.into();
            if !self.tag_ok.val() | (self.cpl_code.val() == self.e_invalid_tag.val()) {
                self.ev_unexpected.next = true;
            } else if self.is_data.val() & !self.misaligned.val() {
                self.c_left.d.next = self.cpl_dwords.val().get_bits::<9>(2);
                self.c_first.d.next = true;
                self.c_f.d.next = self.cpl_f.val();
                self.c_la.d.next = self.rc_tdata.val().get_bits::<3>(4);
                self.c_poison.d.next = (self.cpl_code.val() == self.e_poisoned.val())
                    | self.rc_tdata.val().get_bit(46);
                self.ev_poisoned.next = (self.cpl_code.val() == self.e_poisoned.val())
                    | self.rc_tdata.val().get_bit(46);
            } else if self.cpl_code.val() == self.e_timeout.val() {
                self.fail_cpl.next = true;
                self.ev_timeout_rc.next = true;
            } else {
                self.fail_cpl.next = true;
                self.ev_error.next = true;
            }
        }
        if self.fail_cpl.val() {
            self.n_fail.next = self
                .n_fail
                .val()
                .replace_bit(self.cpl_f.val().index(), true);
        }
        // Data beats: slot k of the completion is dword 3 of beat k and dwords 0-2 of beat k+1.
        self.data_beat.next =
            self.rc_tvalid.val() & self.in_tlp.q.val() & (self.c_left.q.val() != 0);
        self.slot.next = self.c_slot.q.val();
        if self.c_first.q.val() {
            self.slot.next = self.c_f.q.val()
                + bit_cast::<SLOT_BITS, 3>(self.c_la.q.val() - self.off_ram.read_data.val());
        }
        self.data_ram.write_address.next = self.slot.val();
        self.data_ram.write_data.next = bit_cast::<129, 32>(self.c_carry.q.val())
            | (bit_cast::<129, 96>(self.rc_tdata.val().get_bits::<96>(0)) << 32)
            | (bit_cast::<129, 1>(self.c_poison.q.val().into()) << 128);
        self.data_ram.write_enable.next = self.data_beat.val();
        if self.data_beat.val() {
            self.c_slot.d.next = self.slot.val() + 1;
            self.c_left.d.next = self.c_left.q.val() - 1;
            self.c_first.d.next = false;
            self.n_done.next = self.n_done.val().replace_bit(self.slot.val().index(), true);
        }

        // ---- Answers, in slot order.
        self.h.next = self.rd.q.val().get_bits::<SLOT_BITS>(0);
        self.allocated.next = self.rd.q.val() != self.wr.q.val();
        self.f_now.next = self.cur_f.q.val();
        if self.first_b.q.val().get_bit(self.h.val().index()) {
            self.f_now.next = self.h.val();
        }
        self.failing.next = self.fail_b.q.val().get_bit(self.f_now.val().index());
        self.issue.next = self.allocated.val()
            & (self.done_b.q.val().get_bit(self.h.val().index()) | self.failing.val());
        self.tag_ram.read_address.next = self.h.val();
        self.data_ram.read_address.next = self.h.val();
        self.out_valid.d.next = self.issue.val();
        self.out_err.d.next = self.failing.val();
        if self.issue.val() {
            self.rd.d.next = self.rd.q.val() + 1;
            self.cur_f.d.next = self.f_now.val();
            self.n_first.next = self.n_first.val().replace_bit(self.h.val().index(), false);
            self.n_last.next = self.n_last.val().replace_bit(self.h.val().index(), false);
            self.n_done.next = self.n_done.val().replace_bit(self.h.val().index(), false);
            if self.last_b.q.val().get_bit(self.h.val().index()) {
                self.n_busy.next = self
                    .n_busy
                    .val()
                    .replace_bit(self.f_now.val().index(), false);
                self.n_fail.next = self
                    .n_fail
                    .val()
                    .replace_bit(self.f_now.val().index(), false);
            }
        }
        self.rsp_valid.next = self.out_valid.q.val();
        self.rsp_tag.next = self.tag_ram.read_data.val();
        self.rsp_data.next = self.data_ram.read_data.val().get_bits::<128>(0);
        self.rsp_err.next = self.out_err.q.val() | self.data_ram.read_data.val().get_bit(128);

        // Timeout of the read at the head, once it is no longer being gathered.
        self.timeout_allowed.next =
            !(self.open.q.val() & (self.o_first.q.val() == self.f_now.val()));
        self.fire.next = false;
        if self.allocated.val() & !self.issue.val() & self.timeout_allowed.val() {
            self.waited.d.next = self.waited.q.val() + 1;
            if (self.cpl_timeout.val() != 0) & (self.waited.q.val() >= self.cpl_timeout.val()) {
                self.fire.next = true;
                self.waited.d.next = 0.into();
                self.n_fail.next = self
                    .n_fail
                    .val()
                    .replace_bit(self.f_now.val().index(), true);
            }
        } else {
            self.waited.d.next = 0.into();
        }
        self.ev_timeout_timer.next = self.fire.val();

        self.first_b.d.next = self.n_first.val();
        self.last_b.d.next = self.n_last.val();
        self.done_b.d.next = self.n_done.val();
        self.busy_b.d.next = self.n_busy.val();
        self.fail_b.d.next = self.n_fail.val();
        self.gen_b.d.next = self.n_gen.val();

        if self.reset.val() {
            self.wr.d.next = 0.into();
            self.rd.d.next = 0.into();
            self.open.d.next = false;
            self.m_valid.d.next = false;
            self.first_b.d.next = 0.into();
            self.last_b.d.next = 0.into();
            self.done_b.d.next = 0.into();
            self.busy_b.d.next = 0.into();
            self.fail_b.d.next = 0.into();
            self.gen_b.d.next = 0.into();
            self.in_tlp.d.next = false;
            self.c_left.d.next = 0.into();
            self.c_first.d.next = false;
            self.waited.d.next = 0.into();
            self.out_valid.d.next = false;
            self.out_err.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::testutil::{b128, settle, tick};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::VecDeque;

    /// The byte at host address `a`.
    fn mem(a: u64) -> u8 {
        (a.wrapping_mul(0x9e37_79b9) >> 13) as u8
    }
    fn mem16(a: u64) -> u128 {
        (0..16).fold(0u128, |acc, i| acc | (mem(a + i) as u128) << (8 * i))
    }

    /// What the host does with a read to an address.
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Fate {
        Ok,
        /// A completion with status Unsupported Request (the hard block's error code 2).
        Ur,
        /// Data, poisoned (error code 1).
        Poisoned,
        /// No completion in time (one 1000 cycles late).
        Lost,
        /// The hard block's completion timeout report (error code 9).
        HardTimeout,
    }

    struct Host {
        rng: ChaCha8Rng,
        /// Reads received: (due cycle, address, dwords, tag).
        reads: Vec<(u64, u64, u32, u8)>,
        rc: VecDeque<(u128, bool)>,
        fate: fn(u64) -> Fate,
        split: bool,
        /// Memory reads seen: (address, dwords).
        seen: Vec<(u64, u32)>,
        lost: Vec<(u64, u32, u8)>,
        /// Completions sent: error status, hard timeout, poisoned, late.
        ur: u32,
        hard_timeout: u32,
        poisoned: u32,
        late: u32,
    }

    impl Host {
        /// Queues the RC beats of one completion: descriptor dwords 0-2, data from dword 3.
        fn completion(
            &mut self,
            tag: u8,
            la: u64,
            byte_count: u32,
            code: u32,
            status: u32,
            data: &[u32],
        ) {
            let mut dws = vec![
                (la as u32 & 0xfff) | (code << 12) | (byte_count << 16),
                data.len() as u32 | (status << 11) | (((code == 1) as u32) << 14),
                tag as u32,
            ];
            dws.extend_from_slice(data);
            let n = dws.len().div_ceil(4);
            for b in 0..n {
                let mut beat = 0u128;
                for i in 0..4 {
                    if let Some(d) = dws.get(4 * b + i) {
                        beat |= (*d as u128) << (32 * i);
                    }
                }
                self.rc.push_back((beat, b == n - 1));
            }
        }

        /// Answers one due read (picked at random among the due ones, so reads complete out
        /// of order), split at 64-byte boundaries when `split`. A lost read is answered once,
        /// 1000 cycles late, with good data.
        fn answer(&mut self, cycle: u64) {
            let due: Vec<usize> = (0..self.reads.len())
                .filter(|&i| self.reads[i].0 <= cycle)
                .collect();
            if due.is_empty() || !self.rc.is_empty() {
                return;
            }
            let i = due[self.rng.gen_range(0..due.len())];
            let (_, addr, dwords, tag) = self.reads.remove(i);
            let bytes = dwords * 4;
            match (self.fate)(addr) {
                // Answered 1000 cycles late, the first time.
                Fate::Lost if !self.lost.contains(&(addr, dwords, tag)) => {
                    self.lost.push((addr, dwords, tag));
                    self.reads.push((cycle + 1000, addr, dwords, tag));
                }
                Fate::Ur => {
                    self.ur += 1;
                    self.completion(tag, addr, bytes, 2, 1, &[]);
                }
                Fate::HardTimeout => {
                    self.hard_timeout += 1;
                    self.completion(tag, addr, bytes, 9, 0, &[]);
                }
                f => {
                    let code = (f == Fate::Poisoned) as u32;
                    let late = f == Fate::Lost;
                    let mut a = addr;
                    while a < addr + bytes as u64 {
                        let end = if self.split {
                            ((a / 64) + 1) * 64
                        } else {
                            addr + bytes as u64
                        };
                        let end = end.min(addr + bytes as u64);
                        let data: Vec<u32> = (a..end)
                            .step_by(4)
                            .map(|x| {
                                u32::from_le_bytes([mem(x), mem(x + 1), mem(x + 2), mem(x + 3)])
                            })
                            .collect();
                        let remaining = (addr + bytes as u64 - a) as u32;
                        self.completion(tag, a, remaining, code, 0, &data);
                        self.poisoned += code;
                        self.late += late as u32;
                        a = end;
                    }
                }
            }
        }
    }

    #[derive(Default, Debug)]
    struct Counts {
        timeout_timer: u32,
        timeout_rc: u32,
        error: u32,
        poisoned: u32,
        unexpected: u32,
    }

    /// Runs `reqs` (address, tag) through the reader against the host; returns the responses
    /// (tag, data, err) and the event counts. `extra` queues bogus completions first.
    fn run(
        reqs: &[(u64, u8)],
        host: &mut Host,
        timeout: u64,
        extra: u32,
    ) -> (Vec<(u8, u128, bool)>, Counts) {
        let mut u = DmaReader::default();
        u.connect_all();
        u.reset.next = true;
        tick!(u);
        u.reset.next = false;
        u.cpl_timeout.next = timeout.into();
        for k in 0..extra {
            host.completion(0x40 + k as u8, 0, 16, 0, 0, &[1, 2, 3, 4]);
        }
        let (mut next, mut out, mut c) = (0, vec![], Counts::default());
        let mut gap = 0;
        for cycle in 0..20_000u64 {
            if out.len() == reqs.len() && host.rc.is_empty() && host.reads.is_empty() {
                break;
            }
            let ready = host.rng.gen_bool(0.8);
            u.t_ready.next = ready;
            // Requests arrive in bursts: a run of consecutive offers, then a pause.
            u.req_valid.next = next < reqs.len() && gap == 0;
            if let Some(&(a, t)) = reqs.get(next) {
                u.req_addr.next = a.into();
                u.req_tag.next = (t as u64).into();
            }
            u.rc_tvalid.next = false;
            if let Some(&(d, last)) = host.rc.front() {
                u.rc_tvalid.next = true;
                u.rc_tdata.next = b128(d);
                u.rc_tlast.next = last;
            }
            settle(&mut u);
            assert!(u.rc_tready.val());
            if u.rc_tvalid.val() {
                host.rc.pop_front();
            }
            if u.req_valid.val() && u.req_ready.val() {
                next += 1;
                if host.rng.gen_bool(0.1) {
                    gap = host.rng.gen_range(1..4);
                }
            } else if gap > 0 {
                gap -= 1;
            }
            if u.t_valid.val() && ready {
                let d = u.t_data.val().to_u128();
                assert!(u.t_last.val());
                assert_eq!(u.t_user.val().to_u64() & 0xff, 0xff, "all bytes enabled");
                assert_eq!((d >> 75) & 15, 0, "memory read");
                let addr = d as u64 & !3;
                let dwords = ((d >> 64) & 0x7ff) as u32;
                let tag = (d >> 96) as u8;
                assert!((4..=32).contains(&dwords) && dwords.is_multiple_of(4));
                assert_eq!(
                    addr / 128,
                    (addr + dwords as u64 * 4 - 1) / 128,
                    "inside a 128-byte block"
                );
                host.seen.push((addr, dwords));
                let due = cycle + host.rng.gen_range(5..60);
                host.reads.push((due, addr, dwords, tag));
            }
            if u.rsp_valid.val() {
                out.push((
                    u.rsp_tag.val().to_u64() as u8,
                    u.rsp_data.val().to_u128(),
                    u.rsp_err.val(),
                ));
            }
            c.timeout_timer += u.ev_timeout_timer.val() as u32;
            c.timeout_rc += u.ev_timeout_rc.val() as u32;
            c.error += u.ev_error.val() as u32;
            c.poisoned += u.ev_poisoned.val() as u32;
            c.unexpected += u.ev_unexpected.val() as u32;
            host.answer(cycle);
            tick!(u);
        }
        (out, c)
    }

    fn host(seed: u64, fate: fn(u64) -> Fate, split: bool) -> Host {
        Host {
            rng: ChaCha8Rng::seed_from_u64(seed),
            reads: vec![],
            rc: VecDeque::new(),
            fate,
            split,
            seen: vec![],
            lost: vec![],
            ur: 0,
            hard_timeout: 0,
            poisoned: 0,
            late: 0,
        }
    }

    /// Runs of consecutive 16-byte reads (like frame reads) mixed with lone ones.
    fn frame_like_requests(rng: &mut ChaCha8Rng, n: usize) -> Vec<(u64, u8)> {
        let mut v = vec![];
        while v.len() < n {
            let base = 0x1_0000_0000 + rng.gen_range(0..4096u64) * 16;
            for i in 0..rng.gen_range(1..24u64) {
                v.push((base + 16 * i, rng.gen::<u8>()));
            }
        }
        v.truncate(n);
        v
    }

    #[test]
    fn split_and_reordered_completions_come_back_in_request_order() {
        for (seed, split) in [(1, true), (2, false), (3, true)] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let reqs = frame_like_requests(&mut rng, 400);
            let mut h = host(seed, |_| Fate::Ok, split);
            let (out, c) = run(&reqs, &mut h, 0, 0);
            let expect: Vec<_> = reqs.iter().map(|&(a, t)| (t, mem16(a), false)).collect();
            assert_eq!(
                out.len(),
                expect.len(),
                "seed {seed}: one answer per request"
            );
            for (i, (o, e)) in out.iter().zip(&expect).enumerate() {
                assert_eq!(o, e, "seed {seed}: answer {i} of request {:#x}", reqs[i].0);
            }
            assert_eq!(
                c.error + c.poisoned + c.unexpected + c.timeout_timer,
                0,
                "{c:?}"
            );
            assert!(
                h.seen.len() * 2 < reqs.len(),
                "consecutive requests share reads: {} reads for {} requests",
                h.seen.len(),
                reqs.len()
            );
        }
    }

    fn fate_by_block(a: u64) -> Fate {
        match (a >> 12) & 0xf {
            1 => Fate::Ur,
            2 => Fate::Poisoned,
            3 => Fate::Lost,
            4 => Fate::HardTimeout,
            _ => Fate::Ok,
        }
    }

    #[test]
    fn failed_reads_answer_with_errors_and_the_rest_goes_on() {
        // Four reads per kind of failure between good ones; two bogus completions first.
        let mut reqs = vec![];
        for block in [0u64, 1, 0, 2, 0, 3, 0, 4, 0] {
            for i in 0..4 {
                reqs.push((
                    0x5000_0000 + (block << 12) + 0x40 + 16 * i,
                    (reqs.len() as u8) | 0x80,
                ));
            }
        }
        let mut h = host(7, fate_by_block, true);
        let (out, c) = run(&reqs, &mut h, 300, 2);
        assert_eq!(out.len(), reqs.len(), "every request answered");
        for (o, &(a, t)) in out.iter().zip(&reqs) {
            let bad = fate_by_block(a) != Fate::Ok;
            assert_eq!(o.0, t);
            assert_eq!(o.2, bad, "request {a:#x}: error flag");
            if !bad {
                assert_eq!(o.1, mem16(a), "request {a:#x}: data");
            }
        }
        // Requests arriving apart make separate reads: count the host's completions.
        assert!(h.ur > 0 && h.poisoned > 0 && h.hard_timeout > 0 && !h.lost.is_empty());
        assert_eq!(c.error, h.ur, "{c:?}");
        assert_eq!(c.poisoned, h.poisoned, "{c:?}");
        assert_eq!(c.timeout_rc, h.hard_timeout, "{c:?}");
        assert_eq!(
            c.timeout_timer,
            h.lost.len() as u32,
            "one timeout per lost read: {c:?}"
        );
        assert!(h.late > 0, "the lost reads were answered late");
        assert_eq!(
            c.unexpected,
            2 + h.late,
            "the bogus and the late completions: {c:?}"
        );
    }

    #[test]
    fn generates_verilog() {
        let mut u = DmaReader::default();
        u.connect_all();
        crate::crc::tests::verilator_lint("dma_read", &generate_verilog(&u));
    }
}
