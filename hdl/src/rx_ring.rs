//! `RxRings`: the receive descriptor rings of every VI (`RXQ_*` of the VI pages), their
//! descriptor prefetch and the descriptor cache, with all per-ring state in block RAM behind
//! one read-modify-write pipeline. [`crate::rx::RxPath`] decodes the register addresses and
//! runs the delivery that uses the descriptors.
//!
//! Generic over the VI count: `NV` = 2^`VB` rings, `CB` = `VB` + [`SLOT_BITS`] (the cache
//! address).
//!
//! # Ports
//! - register side: `reg_rd`, `reg_wr` (one-cycle strobes of an access that names one of this
//!   block's registers), `reg_vi` (VB), `reg_sel` (3, [`REG_BASE_LO`]..[`REG_DROPS`]), `wdata`
//!   in; `ack`, `nak`, `rdata` out, one cycle after the strobe
//! - delivery: `d_valid`, `d_op` (2, [`OP_PREP`], [`OP_CONSUME`], [`OP_CONSUME_CLEAR`],
//!   [`OP_NOBUF`]), `d_vi` (VB) in, `d_ready` out (the operation was taken this cycle); the
//!   answer to a PREP two cycles after it was taken: `p_valid`, `p_status` (2, [`ST_AVAIL`],
//!   [`ST_EMPTY`], [`ST_PENDING`]), and with AVAIL the ring's next descriptor `p_addr` (64),
//!   `p_len` (16), `p_err` (its read failed), its count value `p_rptr` (16) and `p_db` (a frame
//!   for this ring was dropped for want of a buffer since the last event that said so)
//! - `fill_valid`, `fill_vi` (VB) out: a fetched descriptor became available on that ring
//! - descriptor reads: `dr_valid`, `dr_ready` (in), `dr_addr` (64), `dr_tag` (8: bit 7 clear,
//!   bits 6:0 a sequence number); responses `drsp_valid`, `drsp_tag`, `drsp_data` (128),
//!   `drsp_err` in (responses with tag bit 7 set are not ours)
//! - `collision` out: OR of the RAMs' collision flags (never set)
//!
//! # Contract
//! `RXQ_SIZE` accepts 0 (disabled) or 1..=`RING_SIZE_MAX`; writing it restarts the ring
//! (pointers, drops and the flag to 0); responses of reads still in flight for the ring are
//! discarded when they arrive and no new read is made for it until then. `RXQ_WPTR` refuses
//! (`nak`) a value that moves backwards or posts more than the ring holds, and any write while
//! the ring is disabled; `RXQ_RPTR` and `RXQ_DROPS` refuse writes. Reset makes every ring read
//! as zero (disabled), at once: a per-ring "written since reset" bit in flip-flops says whether
//! the RAM word means anything.
//!
//! Prefetch: a ring needs a read when it is enabled, has no discards pending, a posted
//! descriptor not yet requested, and fewer than [`CACHE`] requested ahead of `RXQ_RPTR`. A ring
//! that comes to need one (doorbell, a descriptor used, its discards done) joins a FIFO of
//! rings, once; each read request takes the ring at the FIFO's head, reads one descriptor and
//! puts the ring back at the tail if it needs more (round robin over the rings with work; the
//! FIFO replaces a lowest-VI scan). At most 2^[`INFLIGHT_BITS`] - 1 reads are in flight. Reads
//! are tagged with a 7-bit sequence number and responses must come in request order; a response
//! whose tag is not the one expected (a read made before a reset) is ignored.
//!
//! A PREP answers AVAIL when a fetched descriptor waits (then `p_addr`.. are its contents),
//! EMPTY when the ring is disabled or every posted descriptor has been used (the frame has no
//! buffer), PENDING when a posted descriptor is still being fetched (ask again after a
//! `fill_valid` for the ring). The delivery uses descriptors in order, one at a time: CONSUME
//! (or CONSUME_CLEAR, which also clears the drop flag) after a PREP answered AVAIL advances
//! `RXQ_RPTR`; NOBUF counts a drop in `RXQ_DROPS` (saturating) and sets the flag.
//!
//! # Timing (cycles)
//! One operation enters the pipeline per cycle: register accesses first, then the accounting
//! of an arrived response, then a delivery operation, then a read request. An operation taken
//! in cycle t reads the ring's word (or the word the operation before it is writing: forwarded)
//! and writes it back at the edge ending t+1. Register accesses answer in cycle t+1 (one wait
//! state). A PREP taken in cycle t reads the cache in cycle t+1 and answers in cycle t+2. A
//! request goes out (`dr_valid`) the cycle after its operation, at most one every 2 cycles
//! (every 3 while a single ring has work: it re-enters the FIFO behind itself). A
//! response's descriptor is written to the cache in its arrival cycle; its accounting follows
//! (`fill_valid`) one or more cycles later.
//!
//! # What changed from the flip-flop rings
//! Each ring was a block of flip-flops (about 780 LUTs each) and prefetch picked the lowest VI
//! that needed a read every cycle; now the state is one RAM word per ring, the order is a FIFO,
//! register accesses take one wait state, refused writes answer `nak` at once instead of
//! timing out, and read tags carry a sequence number instead of the VI.

use crate::fifo::Fifo;
use crate::ram::Ram;
use evnic_regs::map::vi;
use rust_hdl::prelude::*;

/// Descriptors prefetched per ring (cache slots).
pub const CACHE: usize = 16;
/// Bits of a cache slot index.
pub const SLOT_BITS: usize = 4;
/// Reads in flight are fewer than 2^INFLIGHT_BITS.
pub const INFLIGHT_BITS: usize = 5;
/// Bits of a ring's state word (see the layout in `update`).
pub const STATE_BITS: usize = 183;
/// Bits of a cache entry: address (64), length (16), read error (1).
pub const DESC_BITS: usize = 81;

/// `reg_sel` values.
pub const REG_BASE_LO: u64 = 0;
pub const REG_BASE_HI: u64 = 1;
pub const REG_SIZE: u64 = 2;
pub const REG_WPTR: u64 = 3;
pub const REG_RPTR: u64 = 4;
pub const REG_DROPS: u64 = 5;
/// The registers in `reg_sel` order.
pub const REGS: [&evnic_regs::Reg; 6] = [
    &vi::RXQ_BASE_LO,
    &vi::RXQ_BASE_HI,
    &vi::RXQ_SIZE,
    &vi::RXQ_WPTR,
    &vi::RXQ_RPTR,
    &vi::RXQ_DROPS,
];

/// `d_op` values.
pub const OP_PREP: u64 = 0;
pub const OP_CONSUME: u64 = 1;
pub const OP_CONSUME_CLEAR: u64 = 2;
pub const OP_NOBUF: u64 = 3;
/// `p_status` values.
pub const ST_AVAIL: u64 = 0;
pub const ST_EMPTY: u64 = 1;
pub const ST_PENDING: u64 = 2;

// Pipeline operation kinds (literals in the HDL): 0 none, 1 register read, 2 register write,
// 3 response accounting, 4 delivery, 5 read request.

#[derive(LogicBlock)]
pub struct RxRings<const NV: usize, const VB: usize, const CB: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,

    pub reg_rd: Signal<In, Bit>,
    pub reg_wr: Signal<In, Bit>,
    pub reg_vi: Signal<In, Bits<VB>>,
    pub reg_sel: Signal<In, Bits<3>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub nak: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,

    pub d_valid: Signal<In, Bit>,
    pub d_op: Signal<In, Bits<2>>,
    pub d_vi: Signal<In, Bits<VB>>,
    pub d_ready: Signal<Out, Bit>,
    pub p_valid: Signal<Out, Bit>,
    pub p_status: Signal<Out, Bits<2>>,
    pub p_addr: Signal<Out, Bits<64>>,
    pub p_len: Signal<Out, Bits<16>>,
    pub p_err: Signal<Out, Bit>,
    pub p_rptr: Signal<Out, Bits<16>>,
    pub p_db: Signal<Out, Bit>,
    pub fill_valid: Signal<Out, Bit>,
    pub fill_vi: Signal<Out, Bits<VB>>,

    pub dr_valid: Signal<Out, Bit>,
    pub dr_ready: Signal<In, Bit>,
    pub dr_addr: Signal<Out, Bits<64>>,
    pub dr_tag: Signal<Out, Bits<8>>,
    pub drsp_valid: Signal<In, Bit>,
    pub drsp_tag: Signal<In, Bits<8>>,
    pub drsp_data: Signal<In, Bits<128>>,
    pub drsp_err: Signal<In, Bit>,

    pub collision: Signal<Out, Bit>,

    /// One word per ring (layout in `update`).
    state: Ram<Bits<STATE_BITS>, VB>,
    /// Prefetched descriptors at {VI, slot}.
    dcache: Ram<Bits<DESC_BITS>, CB>,
    /// Rings that need a descriptor read, each at most once.
    fetchq: Fifo<VB, VB>,
    /// Reads in flight, in request order: the {VI, slot} their response goes to.
    inflight: Fifo<CB, INFLIGHT_BITS>,
    /// Arrived responses whose ring is still to be told: the VI.
    accq: Fifo<VB, INFLIGHT_BITS>,
    /// Ring n's RAM word was written since reset (else it reads as zero).
    touched: DFF<Bits<NV>>,

    // Stage 1: the operation whose word is read (or forwarded) and written back.
    s1_valid: DFF<Bit>,
    s1_kind: DFF<Bits<3>>,
    s1_dop: DFF<Bits<2>>,
    s1_vi: DFF<Bits<VB>>,
    s1_sel: DFF<Bits<3>>,
    s1_wdata: DFF<Bits<32>>,
    s1_fwd: DFF<Bit>,
    s1_touched: DFF<Bit>,
    /// The word stage 1 wrote at the last edge.
    fwd: DFF<Bits<STATE_BITS>>,
    // Stage 2: the answer to a PREP.
    s2_valid: DFF<Bit>,
    s2_status: DFF<Bits<2>>,
    s2_rptr: DFF<Bits<16>>,
    s2_db: DFF<Bit>,
    // The read request waiting to be taken.
    dr_pend: DFF<Bit>,
    dr_addr_q: DFF<Bits<64>>,
    dr_tag_q: DFF<Bits<7>>,
    issue_seq: DFF<Bits<7>>,
    resp_seq: DFF<Bits<7>>,
    outstanding: DFF<Bits<6>>,

    // Stage 0 locals.
    rsp_ok: Signal<Local, Bit>,
    kind0: Signal<Local, Bits<3>>,
    vi0: Signal<Local, Bits<VB>>,
    fwd0: Signal<Local, Bit>,
    can_issue: Signal<Local, Bit>,
    // Stage 1 locals: the word and its fields, then the new fields.
    cur: Signal<Local, Bits<STATE_BITS>>,
    base: Signal<Local, Bits<64>>,
    size_log2: Signal<Local, Bits<4>>,
    wptr: Signal<Local, Bits<32>>,
    used: Signal<Local, Bits<32>>,
    req_ahead: Signal<Local, Bits<5>>,
    fet_ahead: Signal<Local, Bits<5>>,
    discard: Signal<Local, Bits<7>>,
    drops: Signal<Local, Bits<32>>,
    db: Signal<Local, Bit>,
    queued: Signal<Local, Bit>,
    size: Signal<Local, Bits<32>>,
    enabled: Signal<Local, Bit>,
    req: Signal<Local, Bits<32>>,
    needs: Signal<Local, Bit>,
    n_base: Signal<Local, Bits<64>>,
    n_size_log2: Signal<Local, Bits<4>>,
    n_wptr: Signal<Local, Bits<32>>,
    n_used: Signal<Local, Bits<32>>,
    n_req_ahead: Signal<Local, Bits<5>>,
    n_fet_ahead: Signal<Local, Bits<5>>,
    n_discard: Signal<Local, Bits<7>>,
    n_drops: Signal<Local, Bits<32>>,
    n_db: Signal<Local, Bit>,
    n_queued: Signal<Local, Bit>,
    n_needs: Signal<Local, Bit>,
    /// `n_used + n_req_ahead != n_wptr`, chosen per operation from values of the old word.
    n_posted: Signal<Local, Bit>,
    req1: Signal<Local, Bits<32>>,
    used32: Signal<Local, Bits<32>>,
    n_word: Signal<Local, Bits<STATE_BITS>>,
    issue_go: Signal<Local, Bit>,
    status: Signal<Local, Bits<2>>,
    is_prep: Signal<Local, Bit>,
    wptr_ok: Signal<Local, Bit>,

    size_max: Constant<Bits<32>>,
    inflight_max: Constant<Bits<6>>,
}

impl<const NV: usize, const VB: usize, const CB: usize> Default for RxRings<NV, VB, CB> {
    fn default() -> Self {
        assert_eq!(NV, 1 << VB, "NV = 2^VB rings");
        assert_eq!(CB, VB + SLOT_BITS, "CB = VB + SLOT_BITS");
        assert_eq!(CACHE, 1 << SLOT_BITS);
        assert_eq!(
            SLOT_BITS, 4,
            "the HDL shifts the VI by 4 into a cache address"
        );
        RxRings {
            clock: Default::default(),
            reset: Default::default(),
            reg_rd: Default::default(),
            reg_wr: Default::default(),
            reg_vi: Default::default(),
            reg_sel: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
            rdata: Default::default(),
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
            dr_valid: Default::default(),
            dr_ready: Default::default(),
            dr_addr: Default::default(),
            dr_tag: Default::default(),
            drsp_valid: Default::default(),
            drsp_tag: Default::default(),
            drsp_data: Default::default(),
            drsp_err: Default::default(),
            collision: Default::default(),
            state: Default::default(),
            dcache: Default::default(),
            fetchq: Default::default(),
            inflight: Default::default(),
            accq: Default::default(),
            touched: Default::default(),
            s1_valid: Default::default(),
            s1_kind: Default::default(),
            s1_dop: Default::default(),
            s1_vi: Default::default(),
            s1_sel: Default::default(),
            s1_wdata: Default::default(),
            s1_fwd: Default::default(),
            s1_touched: Default::default(),
            fwd: Default::default(),
            s2_valid: Default::default(),
            s2_status: Default::default(),
            s2_rptr: Default::default(),
            s2_db: Default::default(),
            dr_pend: Default::default(),
            dr_addr_q: Default::default(),
            dr_tag_q: Default::default(),
            issue_seq: Default::default(),
            resp_seq: Default::default(),
            outstanding: Default::default(),
            rsp_ok: Default::default(),
            kind0: Default::default(),
            vi0: Default::default(),
            fwd0: Default::default(),
            can_issue: Default::default(),
            cur: Default::default(),
            base: Default::default(),
            size_log2: Default::default(),
            wptr: Default::default(),
            used: Default::default(),
            req_ahead: Default::default(),
            fet_ahead: Default::default(),
            discard: Default::default(),
            drops: Default::default(),
            db: Default::default(),
            queued: Default::default(),
            size: Default::default(),
            enabled: Default::default(),
            req: Default::default(),
            needs: Default::default(),
            n_base: Default::default(),
            n_size_log2: Default::default(),
            n_wptr: Default::default(),
            n_used: Default::default(),
            n_req_ahead: Default::default(),
            n_fet_ahead: Default::default(),
            n_discard: Default::default(),
            n_drops: Default::default(),
            n_db: Default::default(),
            n_queued: Default::default(),
            n_needs: Default::default(),
            n_posted: Default::default(),
            req1: Default::default(),
            used32: Default::default(),
            n_word: Default::default(),
            issue_go: Default::default(),
            status: Default::default(),
            is_prep: Default::default(),
            wptr_ok: Default::default(),
            size_max: Constant::new((vi::RING_SIZE_MAX as u64).into()),
            inflight_max: Constant::new(((1u64 << INFLIGHT_BITS) - 2).into()),
        }
    }
}

impl<const NV: usize, const VB: usize, const CB: usize> Logic for RxRings<NV, VB, CB> {
    // Nested ifs mirror the hardware: a condition per state, then its cases.
    #[allow(clippy::collapsible_if)]
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            touched,
            s1_valid,
            s1_kind,
            s1_dop,
            s1_vi,
            s1_sel,
            s1_wdata,
            s1_fwd,
            s1_touched,
            fwd,
            s2_valid,
            s2_status,
            s2_rptr,
            s2_db,
            dr_pend,
            dr_addr_q,
            dr_tag_q,
            issue_seq,
            resp_seq,
            outstanding
        );
        self.state.clock.next = self.clock.val();
        self.dcache.clock.next = self.clock.val();
        self.fetchq.clock.next = self.clock.val();
        self.fetchq.reset.next = self.reset.val();
        self.inflight.clock.next = self.clock.val();
        self.inflight.reset.next = self.reset.val();
        self.accq.clock.next = self.clock.val();
        self.accq.reset.next = self.reset.val();
        self.collision.next = self.state.collision.val()
            | self.dcache.collision.val()
            | self.fetchq.collision.val()
            | self.inflight.collision.val()
            | self.accq.collision.val();

        // ---- Responses: the descriptor into the cache now, the ring told later. ----
        self.rsp_ok.next = self.drsp_valid.val()
            & !self.drsp_tag.val().get_bit(7)
            & self.inflight.head_valid.val()
            & (self.drsp_tag.val().get_bits::<7>(0) == self.resp_seq.q.val());
        self.dcache.wr_en.next = self.rsp_ok.val();
        self.dcache.wr_addr.next = self.inflight.head.val();
        self.dcache.wr_data.next =
            bit_cast::<DESC_BITS, 80>(self.drsp_data.val().get_bits::<80>(0))
                | (bit_cast::<DESC_BITS, 1>(self.drsp_err.val().into()) << 80);
        self.inflight.pop.next = self.rsp_ok.val();
        self.accq.push.next = self.rsp_ok.val();
        self.accq.push_data.next = self.inflight.head.val().get_bits::<VB>(4);
        if self.rsp_ok.val() {
            self.resp_seq.d.next = self.resp_seq.q.val() + 1;
        }

        // ---- Stage 0: one operation, by priority. ----
        self.can_issue.next = self.fetchq.head_valid.val()
            & !(self.dr_pend.q.val() & !self.dr_ready.val())
            & !(self.s1_valid.q.val() & (self.s1_kind.q.val() == 5))
            & (self.outstanding.q.val() < self.inflight_max.val());
        self.kind0.next = 0.into();
        self.vi0.next = self.reg_vi.val();
        self.d_ready.next = false;
        self.accq.pop.next = false;
        self.fetchq.pop.next = false;
        if self.reg_wr.val() {
            self.kind0.next = 2.into();
        } else if self.reg_rd.val() {
            self.kind0.next = 1.into();
        } else if self.accq.head_valid.val() {
            self.kind0.next = 3.into();
            self.vi0.next = self.accq.head.val();
            self.accq.pop.next = true;
        } else if self.d_valid.val() {
            self.kind0.next = 4.into();
            self.vi0.next = self.d_vi.val();
            self.d_ready.next = true;
        } else if self.can_issue.val() {
            self.kind0.next = 5.into();
            self.vi0.next = self.fetchq.head.val();
            self.fetchq.pop.next = true;
        }
        // Stage 1 writes its ring's word at this edge: the same ring is forwarded, not read.
        self.fwd0.next = self.s1_valid.q.val() & (self.s1_vi.q.val() == self.vi0.val());
        self.state.rd_en.next = (self.kind0.val() != 0) & !self.fwd0.val();
        self.state.rd_addr.next = self.vi0.val();
        self.s1_valid.d.next = self.kind0.val() != 0;
        self.s1_kind.d.next = self.kind0.val();
        self.s1_dop.d.next = self.d_op.val();
        self.s1_vi.d.next = self.vi0.val();
        self.s1_sel.d.next = self.reg_sel.val();
        self.s1_wdata.d.next = self.wdata.val();
        self.s1_fwd.d.next = self.fwd0.val();
        self.s1_touched.d.next =
            self.fwd0.val() | self.touched.q.val().get_bit(self.vi0.val().index());

        // ---- Stage 1: the ring's word, the operation, the word written back. ----
        // Layout (lsb): base 0 (64), size_log2 64 (4), wptr 68 (32), used 100 (32),
        // req_ahead 132 (5), fet_ahead 137 (5), discard 142 (7), drops 149 (32), db 181,
        // queued 182. req_ahead/fet_ahead: descriptors requested/fetched beyond `used`.
        self.cur.next = self.state.rd_data.val();
        if self.s1_fwd.q.val() {
            self.cur.next = self.fwd.q.val();
        }
        if !self.s1_touched.q.val() {
            self.cur.next = 0.into();
        }
        self.base.next = self.cur.val().get_bits::<64>(0);
        self.size_log2.next = self.cur.val().get_bits::<4>(64);
        self.wptr.next = self.cur.val().get_bits::<32>(68);
        self.used.next = self.cur.val().get_bits::<32>(100);
        self.req_ahead.next = self.cur.val().get_bits::<5>(132);
        self.fet_ahead.next = self.cur.val().get_bits::<5>(137);
        self.discard.next = self.cur.val().get_bits::<7>(142);
        self.drops.next = self.cur.val().get_bits::<32>(149);
        self.db.next = self.cur.val().get_bit(181);
        self.queued.next = self.cur.val().get_bit(182);
        self.size.next = bits::<32>(1) << self.size_log2.val();
        self.enabled.next = self.size_log2.val() != 0;
        self.req.next = self.used.val() + bit_cast::<32, 5>(self.req_ahead.val());
        self.needs.next = self.enabled.val()
            & (self.discard.val() == 0)
            & (self.req.val() != self.wptr.val())
            & !self.req_ahead.val().get_bit(4);
        // For the prefetch decision after the operation (below): "a posted descriptor not yet
        // requested" of the new word, from the old one in parallel with the update (for
        // timing: not an adder and a compare after the update's muxes).
        self.req1.next = self.used.val() + bit_cast::<32, 5>(self.req_ahead.val() + 1);
        self.used32.next = self.used.val() + 32;
        self.n_posted.next = self.req.val() != self.wptr.val();

        self.n_base.next = self.base.val();
        self.n_size_log2.next = self.size_log2.val();
        self.n_wptr.next = self.wptr.val();
        self.n_used.next = self.used.val();
        self.n_req_ahead.next = self.req_ahead.val();
        self.n_fet_ahead.next = self.fet_ahead.val();
        self.n_discard.next = self.discard.val();
        self.n_drops.next = self.drops.val();
        self.n_db.next = self.db.val();
        self.n_queued.next = self.queued.val();
        self.ack.next = false;
        self.nak.next = false;
        self.rdata.next = 0.into();
        self.issue_go.next = false;
        self.is_prep.next = false;
        self.fill_valid.next = false;
        self.fill_vi.next = self.s1_vi.q.val();
        self.wptr_ok.next = self.enabled.val()
            & ((self.s1_wdata.q.val() - self.used.val()) <= self.size.val())
            & ((self.s1_wdata.q.val() - self.used.val()) >= (self.wptr.val() - self.used.val()));
        self.status.next = 2.into();
        if self.fet_ahead.val() != 0 {
            self.status.next = 0.into();
        } else if !self.enabled.val() | (self.used.val() == self.wptr.val()) {
            self.status.next = 1.into();
        }
        if self.s1_valid.q.val() {
            if self.s1_kind.q.val() == 1 {
                self.ack.next = true;
                if self.s1_sel.q.val() == 0 {
                    self.rdata.next = self.base.val().get_bits::<32>(0);
                } else if self.s1_sel.q.val() == 1 {
                    self.rdata.next = self.base.val().get_bits::<32>(32);
                } else if self.s1_sel.q.val() == 2 {
                    self.rdata.next = bit_cast::<32, 4>(self.size_log2.val());
                } else if self.s1_sel.q.val() == 3 {
                    self.rdata.next = self.wptr.val();
                } else if self.s1_sel.q.val() == 4 {
                    self.rdata.next = self.used.val();
                } else {
                    self.rdata.next = self.drops.val();
                }
            } else if self.s1_kind.q.val() == 2 {
                self.nak.next = true;
                if self.s1_sel.q.val() == 0 {
                    self.ack.next = true;
                    self.nak.next = false;
                    self.n_base.next = (self.base.val() & 0xffff_ffff_0000_0000_u64)
                        | bit_cast::<64, 32>(self.s1_wdata.q.val());
                } else if self.s1_sel.q.val() == 1 {
                    self.ack.next = true;
                    self.nak.next = false;
                    self.n_base.next = (self.base.val() & 0xffff_ffff_u64)
                        | (bit_cast::<64, 32>(self.s1_wdata.q.val()) << 32);
                } else if self.s1_sel.q.val() == 2 {
                    if self.s1_wdata.q.val() <= self.size_max.val() {
                        self.ack.next = true;
                        self.nak.next = false;
                        // Restart: reads in flight for the old ring are discarded.
                        self.n_size_log2.next = self.s1_wdata.q.val().get_bits::<4>(0);
                        self.n_wptr.next = 0.into();
                        self.n_used.next = 0.into();
                        self.n_req_ahead.next = 0.into();
                        self.n_fet_ahead.next = 0.into();
                        self.n_drops.next = 0.into();
                        self.n_db.next = false;
                        self.n_discard.next = self.discard.val()
                            + bit_cast::<7, 5>(self.req_ahead.val() - self.fet_ahead.val());
                        self.n_posted.next = false;
                    }
                } else if self.s1_sel.q.val() == 3 {
                    if self.wptr_ok.val() {
                        self.ack.next = true;
                        self.nak.next = false;
                        self.n_wptr.next = self.s1_wdata.q.val();
                        self.n_posted.next = self.req.val() != self.s1_wdata.q.val();
                    }
                }
            } else if self.s1_kind.q.val() == 3 {
                if self.discard.val() != 0 {
                    self.n_discard.next = self.discard.val() - 1;
                } else {
                    self.n_fet_ahead.next = self.fet_ahead.val() + 1;
                    self.fill_valid.next = true;
                }
            } else if self.s1_kind.q.val() == 4 {
                if self.s1_dop.q.val() == 0 {
                    self.is_prep.next = true;
                } else if self.s1_dop.q.val() == 3 {
                    self.n_db.next = true;
                    if !self.drops.val().all() {
                        self.n_drops.next = self.drops.val() + 1;
                    }
                } else {
                    self.n_used.next = self.used.val() + 1;
                    self.n_req_ahead.next = self.req_ahead.val() - 1;
                    self.n_fet_ahead.next = self.fet_ahead.val() - 1;
                    // used + 1 + (req_ahead - 1 mod 32): `req`, or used + 32 from 0.
                    if self.req_ahead.val() == 0 {
                        self.n_posted.next = self.used32.val() != self.wptr.val();
                    }
                    if self.s1_dop.q.val() == 2 {
                        self.n_db.next = false;
                    }
                }
            } else if self.s1_kind.q.val() == 5 {
                self.n_queued.next = false;
                if self.needs.val() {
                    self.issue_go.next = true;
                    self.n_req_ahead.next = self.req_ahead.val() + 1;
                    self.n_posted.next = self.req1.val() != self.wptr.val();
                }
            }
        }
        // Does the ring need a read after this operation? Then it joins the FIFO (a ring taken
        // from it by a request goes back to its tail).
        self.n_needs.next = (self.n_size_log2.val() != 0)
            & (self.n_discard.val() == 0)
            & self.n_posted.val()
            & !self.n_req_ahead.val().get_bit(4);
        self.fetchq.push.next = false;
        self.fetchq.push_data.next = self.s1_vi.q.val();
        if self.s1_valid.q.val() & self.n_needs.val() & !self.n_queued.val() {
            self.fetchq.push.next = true;
            self.n_queued.next = true;
        }
        self.n_word.next = bit_cast::<STATE_BITS, 64>(self.n_base.val())
            | (bit_cast::<STATE_BITS, 4>(self.n_size_log2.val()) << 64)
            | (bit_cast::<STATE_BITS, 32>(self.n_wptr.val()) << 68)
            | (bit_cast::<STATE_BITS, 32>(self.n_used.val()) << 100)
            | (bit_cast::<STATE_BITS, 5>(self.n_req_ahead.val()) << 132)
            | (bit_cast::<STATE_BITS, 5>(self.n_fet_ahead.val()) << 137)
            | (bit_cast::<STATE_BITS, 7>(self.n_discard.val()) << 142)
            | (bit_cast::<STATE_BITS, 32>(self.n_drops.val()) << 149)
            | (bit_cast::<STATE_BITS, 1>(self.n_db.val().into()) << 181)
            | (bit_cast::<STATE_BITS, 1>(self.n_queued.val().into()) << 182);
        self.state.wr_en.next = self.s1_valid.q.val();
        self.state.wr_addr.next = self.s1_vi.q.val();
        self.state.wr_data.next = self.n_word.val();
        self.fwd.d.next = self.n_word.val();
        if self.s1_valid.q.val() {
            self.touched.d.next = self.touched.q.val() | (bits::<NV>(1) << self.s1_vi.q.val());
        }

        // The read request and its place in the in-flight FIFO.
        self.inflight.push.next = self.issue_go.val();
        self.inflight.push_data.next = (bit_cast::<CB, VB>(self.s1_vi.q.val()) << 4)
            | bit_cast::<CB, 4>(self.req.val().get_bits::<4>(0));
        if self.dr_pend.q.val() & self.dr_ready.val() {
            self.dr_pend.d.next = false;
        }
        if self.issue_go.val() {
            self.dr_pend.d.next = true;
            self.dr_addr_q.d.next =
                self.base.val() + (bit_cast::<64, 32>(self.req.val() & (self.size.val() - 1)) << 4);
            self.dr_tag_q.d.next = self.issue_seq.q.val();
            self.issue_seq.d.next = self.issue_seq.q.val() + 1;
        }
        self.outstanding.d.next = self.outstanding.q.val();
        if self.issue_go.val() & !(self.s1_valid.q.val() & (self.s1_kind.q.val() == 3)) {
            self.outstanding.d.next = self.outstanding.q.val() + 1;
        }
        if !self.issue_go.val() & self.s1_valid.q.val() & (self.s1_kind.q.val() == 3) {
            self.outstanding.d.next = self.outstanding.q.val() - 1;
        }
        self.dr_valid.next = self.dr_pend.q.val();
        self.dr_addr.next = self.dr_addr_q.q.val();
        self.dr_tag.next = bit_cast::<8, 7>(self.dr_tag_q.q.val());

        // A PREP reads the cache at the slot of the ring's next descriptor.
        self.dcache.rd_en.next = self.is_prep.val() & (self.status.val() == 0);
        self.dcache.rd_addr.next = (bit_cast::<CB, VB>(self.s1_vi.q.val()) << 4)
            | bit_cast::<CB, 4>(self.used.val().get_bits::<4>(0));

        // ---- Stage 2: the answer to a PREP. ----
        self.s2_valid.d.next = self.is_prep.val();
        self.s2_status.d.next = self.status.val();
        self.s2_rptr.d.next = self.used.val().get_bits::<16>(0);
        self.s2_db.d.next = self.db.val();
        self.p_valid.next = self.s2_valid.q.val();
        self.p_status.next = self.s2_status.q.val();
        self.p_addr.next = self.dcache.rd_data.val().get_bits::<64>(0);
        self.p_len.next = self.dcache.rd_data.val().get_bits::<16>(64);
        self.p_err.next = self.dcache.rd_data.val().get_bit(80);
        self.p_rptr.next = self.s2_rptr.q.val();
        self.p_db.next = self.s2_db.q.val();

        if self.reset.val() {
            self.touched.d.next = 0.into();
            self.s1_valid.d.next = false;
            self.s2_valid.d.next = false;
            self.dr_pend.d.next = false;
            self.outstanding.d.next = 0.into();
            // Responses to reads made before the reset carry other tags: ignored. A request
            // made in the reset cycle is dropped: its sequence number is not used.
            self.issue_seq.d.next = self.issue_seq.q.val();
            self.resp_seq.d.next = self.issue_seq.q.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::{HashMap, VecDeque};

    type Uut = RxRings<256, 8, 12>;

    /// The ring block with a host around it: descriptor rings in a map of memory, a DMA read
    /// port answering in order after `latency` cycles (faulting addresses named in `bad`).
    struct Bench {
        uut: Box<Uut>,
        cycle: u64,
        latency: u64,
        mem: HashMap<u64, [u64; 2]>,
        bad: Vec<u64>,
        pending: VecDeque<(u64, u8, u64)>,
        /// Every read request: (cycle, VI by address, address).
        requests: Vec<(u64, u64)>,
        fills: Vec<u64>,
    }

    fn ring_base(vi: u64) -> u64 {
        0x10_0000_0000 + vi * 0x10_0000
    }

    impl Bench {
        fn new(latency: u64) -> Bench {
            let mut uut = Box::new(Uut::default());
            uut.connect_all();
            let mut b = Bench {
                uut,
                cycle: 0,
                latency,
                mem: HashMap::new(),
                bad: vec![],
                pending: VecDeque::new(),
                requests: vec![],
                fills: vec![],
            };
            b.uut.reset.next = true;
            b.tick();
            b.uut.reset.next = false;
            b
        }

        fn settle(&mut self) {
            assert!(simulate(&mut *self.uut, 200), "the circuit did not settle");
        }

        /// One cycle: the DMA side, the edge, bookkeeping. Inputs of the cycle are set by the
        /// caller before.
        fn tick(&mut self) {
            let u = &mut self.uut;
            u.dr_ready.next = true;
            u.drsp_valid.next = false;
            if let Some(&(due, tag, addr)) = self.pending.front() {
                if due <= self.cycle {
                    self.pending.pop_front();
                    let d = self.mem.get(&addr).copied().unwrap_or([0, 0]);
                    u.drsp_valid.next = true;
                    u.drsp_tag.next = (tag as u64).into();
                    u.drsp_data.next = (Bits::<128>::from(d[0])) | (Bits::<128>::from(d[1]) << 64);
                    u.drsp_err.next = self.bad.contains(&addr);
                }
            }
            self.settle();
            assert!(
                !self.uut.collision.val(),
                "RAM collision in cycle {}",
                self.cycle
            );
            if self.uut.dr_valid.val() {
                let addr = self.uut.dr_addr.val().to_u64();
                let tag = self.uut.dr_tag.val().to_u64() as u8;
                assert_eq!(tag & 0x80, 0);
                self.pending
                    .push_back((self.cycle + self.latency, tag, addr));
                self.requests.push((self.cycle, addr));
            }
            if self.uut.fill_valid.val() {
                self.fills.push(self.uut.fill_vi.val().to_u64());
            }
            self.uut.clock.next = true.into();
            self.settle();
            self.uut.clock.next = false.into();
            self.settle();
            self.cycle += 1;
            self.uut.reg_rd.next = false;
            self.uut.reg_wr.next = false;
            self.uut.d_valid.next = false;
        }

        fn run(&mut self, n: u64) {
            for _ in 0..n {
                self.tick();
            }
        }

        /// A register access: strobe, then the answer exactly one cycle later.
        /// Returns Ok(read data) on `ack`, Err(()) on `nak`.
        fn reg(&mut self, write: bool, vi: u64, sel: u64, data: u32) -> Result<u32, ()> {
            let u = &mut self.uut;
            u.reg_rd.next = !write;
            u.reg_wr.next = write;
            u.reg_vi.next = vi.into();
            u.reg_sel.next = sel.into();
            u.wdata.next = (data as u64).into();
            self.settle();
            assert!(
                !self.uut.ack.val() && !self.uut.nak.val(),
                "no answer in the strobe cycle"
            );
            self.tick();
            self.settle();
            let (ack, nak) = (self.uut.ack.val(), self.uut.nak.val());
            let r = self.uut.rdata.val().to_u64() as u32;
            assert!(
                ack ^ nak,
                "exactly one of ack and nak, one cycle after the strobe"
            );
            // Hold the bus inputs stable through the answer.
            self.tick();
            if ack {
                Ok(r)
            } else {
                Err(())
            }
        }

        fn write(&mut self, vi: u64, sel: u64, data: u32) {
            self.reg(true, vi, sel, data).expect("write acknowledged");
        }

        fn read(&mut self, vi: u64, sel: u64) -> u32 {
            self.reg(false, vi, sel, 0).expect("read acknowledged")
        }

        /// A delivery operation; for a PREP, its answer.
        fn op(&mut self, op: u64, vi: u64) -> Option<(u64, u64, u64, bool, u64, bool)> {
            loop {
                self.uut.d_valid.next = true;
                self.uut.d_op.next = op.into();
                self.uut.d_vi.next = vi.into();
                self.settle();
                let taken = self.uut.d_ready.val();
                self.tick();
                if taken {
                    break;
                }
            }
            if op != OP_PREP {
                return None;
            }
            self.settle();
            assert!(
                !self.uut.p_valid.val(),
                "answer two cycles after the PREP was taken"
            );
            self.tick();
            self.settle();
            assert!(self.uut.p_valid.val());
            let u = &self.uut;
            Some((
                u.p_status.val().to_u64(),
                u.p_addr.val().to_u64(),
                u.p_len.val().to_u64(),
                u.p_err.val(),
                u.p_rptr.val().to_u64(),
                u.p_db.val(),
            ))
        }

        fn setup(&mut self, vi: u64, log2: u32) {
            let base = ring_base(vi);
            self.write(vi, REG_BASE_LO, base as u32);
            self.write(vi, REG_BASE_HI, (base >> 32) as u32);
            self.write(vi, REG_SIZE, log2);
        }

        /// Writes descriptor count `n` of ring `vi` (size 2^log2) into memory.
        fn put_desc(&mut self, vi: u64, log2: u32, n: u32, tag: u64) {
            let slot = (n & ((1 << log2) - 1)) as u64;
            self.mem.insert(
                ring_base(vi) + 16 * slot,
                [buf_addr(vi, tag), 64 + tag % 1000],
            );
        }
    }

    fn buf_addr(vi: u64, tag: u64) -> u64 {
        0x77_0000_0000 + (vi << 20) + (tag << 8)
    }

    fn vi_of(addr: u64) -> u64 {
        (addr - 0x10_0000_0000) >> 20
    }

    #[test]
    fn registers_answer_after_one_wait_state_and_refuse_bad_writes() {
        let mut b = Bench::new(20);
        // Zero after reset, every ring.
        for vi in [0, 77, 255] {
            for sel in 0..6 {
                assert_eq!(b.read(vi, sel), 0);
            }
        }
        b.setup(255, 3);
        assert_eq!(b.read(255, REG_BASE_LO), ring_base(255) as u32);
        assert_eq!(b.read(255, REG_BASE_HI), (ring_base(255) >> 32) as u32);
        assert_eq!(b.read(255, REG_SIZE), 3);
        assert_eq!(b.read(254, REG_SIZE), 0, "rings are independent");
        // Refused: size 13, pointer writes while disabled, backwards, beyond the ring,
        // writes to RPTR and DROPS.
        assert!(b.reg(true, 255, REG_SIZE, 13).is_err());
        assert!(b.reg(true, 254, REG_WPTR, 1).is_err());
        assert!(b.reg(true, 255, REG_WPTR, 9).is_err());
        b.write(255, REG_WPTR, 8);
        assert!(b.reg(true, 255, REG_WPTR, 7).is_err());
        assert!(b.reg(true, 255, REG_RPTR, 1).is_err());
        assert!(b.reg(true, 255, REG_DROPS, 1).is_err());
        assert_eq!(b.read(255, REG_WPTR), 8);
        assert_eq!(b.read(255, REG_SIZE), 3);
        // Back-to-back accesses to one ring see each other (forwarding).
        b.uut.reg_wr.next = true;
        b.uut.reg_vi.next = 9.into();
        b.uut.reg_sel.next = REG_BASE_LO.into();
        b.uut.wdata.next = 0x1230.into();
        b.tick();
        b.uut.reg_rd.next = true;
        b.uut.reg_vi.next = 9.into();
        b.uut.reg_sel.next = REG_BASE_LO.into();
        b.tick();
        b.settle();
        assert_eq!(b.uut.rdata.val().to_u64(), 0x1230);
        b.tick();
        // A reset makes every ring read as zero again, at once.
        b.uut.reset.next = true;
        b.tick();
        b.uut.reset.next = false;
        assert_eq!(b.read(255, REG_SIZE), 0);
        assert_eq!(b.read(255, REG_BASE_LO), 0);
        assert_eq!(b.read(9, REG_BASE_LO), 0);
    }

    #[test]
    fn prefetch_is_round_robin_sixteen_ahead_and_prep_gives_descriptors_in_order() {
        let mut b = Bench::new(30);
        for vi in [3u64, 1, 200] {
            b.setup(vi, 6);
            for n in 0..40 {
                b.put_desc(vi, 6, n, n as u64);
            }
        }
        // A prep before anything is posted: empty.
        assert_eq!(b.op(OP_PREP, 3).unwrap().0, ST_EMPTY);
        for vi in [3u64, 1, 200] {
            b.write(vi, REG_WPTR, 40);
        }
        b.run(200);
        // 16 per ring, round robin: ring 3 had one read made before the other doorbells
        // (two cycles apart), then the three rings take turns.
        assert_eq!(b.requests.len(), 48);
        let order: Vec<u64> = b.requests.iter().map(|r| vi_of(r.1)).collect();
        assert_eq!(order[0], 3);
        let mut turn = order[1..4].to_vec();
        turn.sort();
        assert_eq!(turn, [1, 3, 200], "{order:?}");
        for i in 1..40 {
            assert_eq!(order[i], order[i + 3], "round robin at {i}: {order:?}");
        }
        for vi in [3u64, 1, 200] {
            assert_eq!(order.iter().filter(|&&v| v == vi).count(), 16);
        }
        assert_eq!(b.fills.len(), 48);
        // Each descriptor in order; consuming one fetches the next.
        for n in 0..40u64 {
            let (st, addr, len, err, rptr, db) = b.op(OP_PREP, 1).unwrap();
            assert_eq!(st, ST_AVAIL, "descriptor {n}");
            assert_eq!(
                (addr, len, err, rptr, db),
                (buf_addr(1, n), 64 + n, false, n, false)
            );
            b.op(OP_CONSUME, 1);
            if n % 7 == 0 {
                b.run(40);
            }
        }
        b.run(100);
        assert_eq!(b.op(OP_PREP, 1).unwrap().0, ST_EMPTY, "all used");
        assert_eq!(b.read(1, REG_RPTR), 40);
        assert_eq!(
            b.requests.iter().filter(|r| vi_of(r.1) == 1).count(),
            40,
            "each descriptor read once"
        );
    }

    #[test]
    fn pending_until_the_fill_then_available() {
        let mut b = Bench::new(50);
        b.setup(17, 2);
        b.put_desc(17, 2, 0, 5);
        b.write(17, REG_WPTR, 1);
        assert_eq!(b.op(OP_PREP, 17).unwrap().0, ST_PENDING);
        let start = b.cycle;
        while !b.fills.contains(&17) {
            b.tick();
            assert!(b.cycle - start < 100);
        }
        let (st, addr, ..) = b.op(OP_PREP, 17).unwrap();
        assert_eq!((st, addr), (ST_AVAIL, buf_addr(17, 5)));
        // A descriptor the host could not give (DMA fault): available, marked.
        b.bad.push(ring_base(17) + 16);
        b.write(17, REG_WPTR, 2);
        b.op(OP_CONSUME_CLEAR, 17);
        b.run(80);
        let (st, _, _, err, rptr, _) = b.op(OP_PREP, 17).unwrap();
        assert_eq!((st, err, rptr), (ST_AVAIL, true, 1));
    }

    #[test]
    fn drops_count_and_flag_until_cleared() {
        let mut b = Bench::new(10);
        b.setup(128, 3);
        for _ in 0..3 {
            b.op(OP_NOBUF, 128);
        }
        assert_eq!(b.read(128, REG_DROPS), 3);
        for n in 0..2 {
            b.put_desc(128, 3, n, n as u64);
        }
        b.write(128, REG_WPTR, 2);
        b.run(40);
        let p = b.op(OP_PREP, 128).unwrap();
        assert_eq!((p.0, p.5), (ST_AVAIL, true), "the flag is reported");
        b.op(OP_CONSUME, 128);
        assert!(b.op(OP_PREP, 128).unwrap().5, "CONSUME keeps the flag");
        b.op(OP_CONSUME_CLEAR, 128);
        let p = b.op(OP_PREP, 128).unwrap();
        assert_eq!((p.0, p.5), (ST_EMPTY, false));
        assert_eq!(b.read(128, REG_RPTR), 2);
    }

    #[test]
    fn a_restart_discards_reads_in_flight_and_a_reset_ignores_them() {
        let mut b = Bench::new(60);
        b.setup(42, 4);
        for n in 0..16 {
            b.put_desc(42, 4, n, 100 + n as u64);
        }
        b.write(42, REG_WPTR, 16);
        // All 16 reads made (one every 3 cycles for a single ring), none answered yet.
        while b.requests.len() < 16 {
            b.tick();
            assert!(b.cycle < 200, "16 reads made");
        }
        assert!(b.fills.is_empty(), "none answered yet");
        // Restart with the 16 reads in flight, new descriptors, post again.
        b.write(42, REG_SIZE, 4);
        for n in 0..16 {
            b.put_desc(42, 4, n, 200 + n as u64);
        }
        b.write(42, REG_WPTR, 4);
        b.run(40);
        assert_eq!(
            b.op(OP_PREP, 42).unwrap().0,
            ST_PENDING,
            "old responses still coming"
        );
        b.run(200);
        for n in 0..4u64 {
            let (st, addr, ..) = b.op(OP_PREP, 42).unwrap();
            assert_eq!(
                (st, addr),
                (ST_AVAIL, buf_addr(42, 200 + n)),
                "new descriptor {n}"
            );
            b.op(OP_CONSUME, 42);
        }
        assert_eq!(b.requests.len(), 16 + 4);
        // A reset with reads in flight: their responses are ignored.
        b.write(42, REG_WPTR, 12);
        b.run(5);
        b.uut.reset.next = true;
        b.tick();
        b.uut.reset.next = false;
        b.setup(42, 4);
        for n in 0..16 {
            b.put_desc(42, 4, n, 300 + n as u64);
        }
        b.write(42, REG_WPTR, 3);
        b.run(300);
        for n in 0..3u64 {
            let (st, addr, ..) = b.op(OP_PREP, 42).unwrap();
            assert_eq!(
                (st, addr),
                (ST_AVAIL, buf_addr(42, 300 + n)),
                "after reset {n}"
            );
            b.op(OP_CONSUME, 42);
        }
        assert_eq!(b.op(OP_PREP, 42).unwrap().0, ST_EMPTY);
    }

    /// Random doorbells, uses and restarts over many rings against a model of each ring, with
    /// register traffic in between: every PREP answer agrees with the model and a PENDING
    /// always turns AVAIL.
    #[test]
    fn random_traffic_over_many_rings_agrees_with_a_model() {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let mut b = Bench::new(25);
        let rings: Vec<u64> = (0..12).map(|_| rng.gen_range(0..256u64)).collect();
        // Model per ring: (log2, posted, used, generation of descriptor contents).
        let mut model: HashMap<u64, (u32, u32, u32, u64)> = HashMap::new();
        for &vi in &rings {
            if model.contains_key(&vi) {
                continue;
            }
            let log2 = rng.gen_range(1..=5);
            b.setup(vi, log2);
            model.insert(vi, (log2, 0, 0, vi * 1000));
        }
        let vis: Vec<u64> = model.keys().copied().collect();
        for step in 0..600 {
            let vi = vis[rng.gen_range(0..vis.len())];
            let (log2, posted, used, gen) = model[&vi];
            match rng.gen_range(0..10) {
                0..=2 => {
                    let room = (1u32 << log2) - (posted - used);
                    if room > 0 {
                        let n = rng.gen_range(1..=room);
                        for k in posted..posted + n {
                            b.put_desc(vi, log2, k, gen + k as u64);
                        }
                        b.write(vi, REG_WPTR, posted + n);
                        model.insert(vi, (log2, posted + n, used, gen));
                    }
                }
                3..=7 => {
                    let mut p = b.op(OP_PREP, vi).unwrap();
                    let start = b.cycle;
                    while p.0 == ST_PENDING {
                        assert!(posted > used, "step {step}: pending with nothing posted");
                        b.run(rng.gen_range(1..20));
                        p = b.op(OP_PREP, vi).unwrap();
                        assert!(b.cycle - start < 500, "step {step}: pending forever");
                    }
                    if posted == used {
                        assert_eq!(p.0, ST_EMPTY, "step {step}");
                    } else {
                        assert_eq!(p.0, ST_AVAIL, "step {step}");
                        assert_eq!(p.1, buf_addr(vi, gen + used as u64), "step {step}");
                        assert_eq!(p.4, used as u64 & 0xffff);
                        b.op(OP_CONSUME_CLEAR, vi);
                        model.insert(vi, (log2, posted, used + 1, gen));
                    }
                }
                8 => {
                    assert_eq!(b.read(vi, REG_RPTR), used, "step {step}");
                    assert_eq!(b.read(vi, REG_WPTR), posted, "step {step}");
                }
                _ => {
                    // Restart, with new descriptor contents.
                    let log2 = rng.gen_range(1..=5);
                    b.write(vi, REG_SIZE, log2);
                    model.insert(vi, (log2, 0, 0, gen + 100_000));
                }
            }
            if rng.gen_bool(0.3) {
                b.run(rng.gen_range(1..30));
            }
        }
    }
}
