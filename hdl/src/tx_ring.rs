//! `TxRings`: the transmit rings of every VI, their state in block RAM behind a two-stage
//! read-modify-write pipeline, and a FIFO of the VIs whose ring holds descriptors not yet
//! fetched (the round robin of the descriptor fetch).
//!
//! Registers of each VI page (see `evnic_regs::map::vi`): `TXQ_BASE_LO/HI`, `TXQ_SIZE`,
//! `TXQ_WPTR` (doorbell), `TXQ_RPTR` and `TXQ_ERRORS` (read-only).
//!
//! # Ports
//! - `clock`, `reset` (synchronous, active high: every ring reads as all zeros afterwards)
//! - `rd`, `wr`, `addr` (`A` bits), `wdata` in; `ack`, `nak`, `rdata` out: the register-bus
//!   block side (see [`crate::regbus`]). The six registers of the `2^VB` VI pages are ours:
//!   reads and writes of the four writable ones are acknowledged one cycle after the strobe
//!   (`rdata` with the `ack`, 0 otherwise); a write to `TXQ_RPTR` or `TXQ_ERRORS` is refused
//!   with `nak` in the strobe cycle. Other addresses are not ours (no answer).
//! - `ready` out: low while the state RAM clears after reset (`2^VB` cycles); register
//!   accesses in that time are refused with `nak` in the strobe cycle (before: they waited up
//!   to `2^MB` + 1 cycles for a valid map of `2^MB` words).
//! - `fetch_allow` in: a descriptor may be fetched (the path is enabled and has a free slot).
//! - `req_valid`, `req_vi` (VB), `req_index` (32), `req_addr` (64) out; `req_take` in: a
//!   descriptor to fetch: the ring's descriptor number `req_index` (its fetch count) at host
//!   address `base + (req_index mod 2^size) * 16`. Held until `req_take` (one cycle).
//! - `complete`, `complete_vi`, `complete_error` in; `complete_ready` out: a descriptor of that
//!   VI completed (TX_DONE or ERROR posted): `TXQ_RPTR` advances, and with `complete_error`
//!   `TXQ_ERRORS` too. Taken in a cycle with `complete_ready`, a register: completions wait in
//!   a two-entry queue for stage A (register accesses go first, at most every other cycle), so
//!   it is low only while two wait, and while the state RAM clears after reset.
//! - `ram_collision` out: OR of the RAMs' collision outputs (see [`crate::ram`]); always 0.
//!
//! # Contract
//! Counts are free-running 32-bit (wrapping). Writing `TXQ_SIZE` restarts the ring: write,
//! fetch and read counts return to 0 (the error count is kept); values above
//! [`vi::RING_SIZE_MAX`] are stored as that maximum. Software must not restart a ring while
//! its descriptors are in flight (between doorbell and completion).
//!
//! A ring is *active* while it is in the fetch FIFO or being fetched from. A doorbell that
//! leaves an enabled, inactive ring with descriptors not yet fetched (fetch count != `TXQ_WPTR`)
//! makes it active and enqueues its VI. The fetcher takes the FIFO's head, fetches one
//! descriptor of it and enqueues it again if the ring still holds more (round robin, one
//! descriptor per turn, in doorbell order for rings that become active), else leaves it
//! inactive. Each VI is in the FIFO at most once, so `2^VB` entries never overflow.
//!
//! # Structure and timing (cycles)
//! One state word per VI in a [`ClearedRam`] (base 64, size 4, write/fetch/read/error counts
//! 4 x 32, active 1: 197 bits; cleared to zeros in the `2^VB` cycles after reset), and the
//! FIFO in a `2^VB`-word [`Ram`]. Every operation (register access, completion, fetch) reads
//! its VI's word in stage A and writes it back in stage B, the next cycle: one operation per
//! cycle, priority register access > completion > fetch. An operation in stage A on the VI
//! that stage B writes takes the written word from a forwarding register instead of the RAM,
//! so back-to-back operations on one VI need no stall. (Before, a valid bit per VI in a
//! cleared map of `2^MB` 32-bit words zeroed the word read for a VI not written since reset:
//! a bit select and a 197-bit mask in front of the update, its critical path, for timing
//! replaced by clearing the state RAM itself.) A fetch pops the FIFO (1 cycle: the
//! FIFO RAM's read), enters stage A when no register access or completion does, and in stage B
//! sets `req_*` (3 cycles from the pop when uncontended); the next fetch starts after
//! `req_take`, so fetches are at least 4 cycles apart.
//!
//! # Changed from the flip-flop version
//! State in RAM instead of one register set per VI; register accesses answer one cycle after
//! the strobe (was: in it) and refused writes with `nak` (was: no answer); the round robin is a
//! FIFO of active VIs (was: a scan of every ring from a rotating pointer), so the service order
//! is doorbell order, then round robin.

use crate::ram::{ClearedRam, Ram};
use crate::regbus::word;
use evnic_regs::map::{self, vi};
use rust_hdl::prelude::*;

/// Bits of a ring's state word (see the module documentation for the layout).
pub const STATE_BITS: usize = 197;

// Operations in the pipeline.
const OP_REG: u64 = 0;
const OP_COMPLETE: u64 = 1;
const OP_FETCH: u64 = 2;

/// The transmit rings of `2^VB` VIs, decoded from `A`-bit register addresses. See the module
/// documentation.
#[derive(LogicBlock)]
pub struct TxRings<const A: usize, const VB: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<A>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub nak: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub ready: Signal<Out, Bit>,
    pub fetch_allow: Signal<In, Bit>,
    pub req_valid: Signal<Out, Bit>,
    pub req_vi: Signal<Out, Bits<VB>>,
    pub req_index: Signal<Out, Bits<32>>,
    pub req_addr: Signal<Out, Bits<64>>,
    pub req_take: Signal<In, Bit>,
    pub complete: Signal<In, Bit>,
    pub complete_vi: Signal<In, Bits<VB>>,
    pub complete_error: Signal<In, Bit>,
    pub complete_ready: Signal<Out, Bit>,
    pub ram_collision: Signal<Out, Bit>,

    state: ClearedRam<STATE_BITS, VB>,
    fifo: Ram<Bits<VB>, VB>,

    // Register decode.
    page: Signal<Local, Bits<A>>,
    in_pages: Signal<Local, Bit>,
    reg_vi: Signal<Local, Bits<VB>>,
    reg_word: Signal<Local, Bits<10>>,
    known: Signal<Local, Bit>,
    read_only: Signal<Local, Bit>,
    reg_strobe: Signal<Local, Bit>,
    reg_go: Signal<Local, Bit>,
    reg_is_wr: Signal<Local, Bit>,
    reg_wr_held: DFF<Bit>,

    // Completion waiting for stage A.
    cp_valid: DFF<Bit>,
    cp_vi: DFF<Bits<VB>>,
    cp_err: DFF<Bit>,
    cp2_valid: DFF<Bit>,
    cp2_vi: DFF<Bits<VB>>,
    cp2_err: DFF<Bit>,
    cp_go: Signal<Local, Bit>,

    // Fetcher: FIFO pointers, the popped head, the request register.
    f_wr: DFF<Bits<VB>>,
    f_rd: DFF<Bits<VB>>,
    f_count: DFF<Bits<16>>,
    f_push: Signal<Local, Bit>,
    f_pop: Signal<Local, Bit>,
    fx_busy: DFF<Bit>,
    fx_head: DFF<Bit>,
    fx_go: Signal<Local, Bit>,
    r_valid: DFF<Bit>,
    r_vi: DFF<Bits<VB>>,
    r_index: DFF<Bits<32>>,
    r_addr: DFF<Bits<64>>,

    // Stage A.
    a_valid: Signal<Local, Bit>,
    a_op: Signal<Local, Bits<2>>,
    a_vi: Signal<Local, Bits<VB>>,
    a_fwd: Signal<Local, Bit>,

    // Stage B (registered from stage A).
    b_valid: DFF<Bit>,
    b_op: DFF<Bits<2>>,
    b_vi: DFF<Bits<VB>>,
    b_word: DFF<Bits<10>>,
    b_write: DFF<Bit>,
    b_wdata: DFF<Bits<32>>,
    b_err: DFF<Bit>,
    b_fwd: DFF<Bit>,
    lw_state: DFF<Bits<STATE_BITS>>,
    s_word: Signal<Local, Bits<STATE_BITS>>,
    base: Signal<Local, Bits<64>>,
    size: Signal<Local, Bits<4>>,
    wptr: Signal<Local, Bits<32>>,
    fptr: Signal<Local, Bits<32>>,
    rptr: Signal<Local, Bits<32>>,
    errors: Signal<Local, Bits<32>>,
    active: Signal<Local, Bit>,
    n_base: Signal<Local, Bits<64>>,
    n_size: Signal<Local, Bits<4>>,
    n_wptr: Signal<Local, Bits<32>>,
    n_fptr: Signal<Local, Bits<32>>,
    n_rptr: Signal<Local, Bits<32>>,
    n_errors: Signal<Local, Bits<32>>,
    n_active: Signal<Local, Bit>,
    n_word: Signal<Local, Bits<STATE_BITS>>,
    mask: Signal<Local, Bits<32>>,
    fetch_addr: Signal<Local, Bits<64>>,
    fptr_next: Signal<Local, Bits<32>>,
    read_value: Signal<Local, Bits<32>>,

    page_first: Constant<Bits<A>>,
    page_end: Constant<Bits<A>>,
    op_reg: Constant<Bits<2>>,
    op_complete: Constant<Bits<2>>,
    op_fetch: Constant<Bits<2>>,
    one32: Constant<Bits<32>>,
    size_max: Constant<Bits<4>>,
    w_base_lo: Constant<Bits<10>>,
    w_base_hi: Constant<Bits<10>>,
    w_size: Constant<Bits<10>>,
    w_wptr: Constant<Bits<10>>,
    w_rptr: Constant<Bits<10>>,
    w_errors: Constant<Bits<10>>,
}

impl<const A: usize, const VB: usize> Default for TxRings<A, VB> {
    fn default() -> Self {
        // The page word index is addr[11:2]: the page must be 4 KiB.
        assert_eq!(map::PAGE_BYTES, 1 << 12);
        assert_eq!(map::VI_PAGE_BASE % map::PAGE_BYTES, 0);
        let first = (map::VI_PAGE_BASE / map::PAGE_BYTES) as u64;
        assert!(
            (first + (1 << VB)) << 12 <= 1u64 << A,
            "{A} address bits hold 2^{VB} VI pages"
        );
        assert!(VB <= 16);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
            rdata: Default::default(),
            ready: Default::default(),
            fetch_allow: Default::default(),
            req_valid: Default::default(),
            req_vi: Default::default(),
            req_index: Default::default(),
            req_addr: Default::default(),
            req_take: Default::default(),
            complete: Default::default(),
            complete_vi: Default::default(),
            complete_error: Default::default(),
            complete_ready: Default::default(),
            ram_collision: Default::default(),
            state: Default::default(),
            fifo: Default::default(),
            page: Default::default(),
            in_pages: Default::default(),
            reg_vi: Default::default(),
            reg_word: Default::default(),
            known: Default::default(),
            read_only: Default::default(),
            reg_strobe: Default::default(),
            reg_go: Default::default(),
            reg_is_wr: Default::default(),
            reg_wr_held: Default::default(),
            cp_valid: Default::default(),
            cp_vi: Default::default(),
            cp_err: Default::default(),
            cp2_valid: Default::default(),
            cp2_vi: Default::default(),
            cp2_err: Default::default(),
            cp_go: Default::default(),
            f_wr: Default::default(),
            f_rd: Default::default(),
            f_count: Default::default(),
            f_push: Default::default(),
            f_pop: Default::default(),
            fx_busy: Default::default(),
            fx_head: Default::default(),
            fx_go: Default::default(),
            r_valid: Default::default(),
            r_vi: Default::default(),
            r_index: Default::default(),
            r_addr: Default::default(),
            a_valid: Default::default(),
            a_op: Default::default(),
            a_vi: Default::default(),
            a_fwd: Default::default(),
            b_valid: Default::default(),
            b_op: Default::default(),
            b_vi: Default::default(),
            b_word: Default::default(),
            b_write: Default::default(),
            b_wdata: Default::default(),
            b_err: Default::default(),
            b_fwd: Default::default(),
            lw_state: Default::default(),
            s_word: Default::default(),
            base: Default::default(),
            size: Default::default(),
            wptr: Default::default(),
            fptr: Default::default(),
            rptr: Default::default(),
            errors: Default::default(),
            active: Default::default(),
            n_base: Default::default(),
            n_size: Default::default(),
            n_wptr: Default::default(),
            n_fptr: Default::default(),
            n_rptr: Default::default(),
            n_errors: Default::default(),
            n_active: Default::default(),
            n_word: Default::default(),
            mask: Default::default(),
            fetch_addr: Default::default(),
            fptr_next: Default::default(),
            read_value: Default::default(),
            page_first: Constant::new(first.into()),
            page_end: Constant::new((first + (1 << VB)).into()),
            op_reg: Constant::new(OP_REG.into()),
            op_complete: Constant::new(OP_COMPLETE.into()),
            op_fetch: Constant::new(OP_FETCH.into()),
            one32: Constant::new(1u64.into()),
            size_max: Constant::new((vi::RING_SIZE_MAX as u64).into()),
            w_base_lo: word(&vi::TXQ_BASE_LO),
            w_base_hi: word(&vi::TXQ_BASE_HI),
            w_size: word(&vi::TXQ_SIZE),
            w_wptr: word(&vi::TXQ_WPTR),
            w_rptr: word(&vi::TXQ_RPTR),
            w_errors: word(&vi::TXQ_ERRORS),
        }
    }
}

impl<const A: usize, const VB: usize> Logic for TxRings<A, VB> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            reg_wr_held,
            cp_valid,
            cp_vi,
            cp_err,
            cp2_valid,
            cp2_vi,
            cp2_err,
            f_wr,
            f_rd,
            f_count,
            fx_busy,
            fx_head,
            r_valid,
            r_vi,
            r_index,
            r_addr,
            b_valid,
            b_op,
            b_vi,
            b_word,
            b_write,
            b_wdata,
            b_err,
            b_fwd,
            lw_state
        );
        self.state.clock.next = self.clock.val();
        self.state.reset.next = self.reset.val();
        self.fifo.clock.next = self.clock.val();
        self.ready.next = self.state.ready.val();

        // ---- Register decode: one of our six words in a VI page.
        self.page.next = self.addr.val() >> 12;
        self.in_pages.next =
            (self.page.val() >= self.page_first.val()) & (self.page.val() < self.page_end.val());
        self.reg_vi.next = bit_cast::<VB, A>(self.page.val() - self.page_first.val());
        self.reg_word.next = self.addr.val().get_bits::<10>(2);
        self.known.next = (self.reg_word.val() == self.w_base_lo.val())
            | (self.reg_word.val() == self.w_base_hi.val())
            | (self.reg_word.val() == self.w_size.val())
            | (self.reg_word.val() == self.w_wptr.val());
        self.read_only.next = (self.reg_word.val() == self.w_rptr.val())
            | (self.reg_word.val() == self.w_errors.val());
        self.nak.next = self.in_pages.val() & self.wr.val() & self.read_only.val();
        self.reg_strobe.next = self.in_pages.val()
            & ((self.rd.val() & (self.known.val() | self.read_only.val()))
                | (self.wr.val() & self.known.val()));
        // Register accesses first; refused at once while the state RAM clears.
        self.reg_go.next = self.reg_strobe.val() & self.ready.val();
        if self.reg_strobe.val() & !self.ready.val() {
            self.nak.next = true;
        }

        // ---- Completions: one waits in `cp` for stage A.
        self.cp_go.next = self.cp_valid.q.val() & !self.reg_go.val() & self.ready.val();
        // A two-entry queue (`cp` its head, `cp2` behind it), so that `complete_ready` is a
        // register (no combinational path back into the sender) and still takes one
        // completion per cycle while stage A is free.
        self.complete_ready.next = !self.cp2_valid.q.val();
        if self.cp_go.val() {
            self.cp_valid.d.next = self.cp2_valid.q.val();
            self.cp_vi.d.next = self.cp2_vi.q.val();
            self.cp_err.d.next = self.cp2_err.q.val();
            self.cp2_valid.d.next = false;
        }
        if self.complete.val() & !self.cp2_valid.q.val() {
            if self.cp_valid.q.val() & !self.cp_go.val() {
                self.cp2_valid.d.next = true;
                self.cp2_vi.d.next = self.complete_vi.val();
                self.cp2_err.d.next = self.complete_error.val();
            } else {
                self.cp_valid.d.next = true;
                self.cp_vi.d.next = self.complete_vi.val();
                self.cp_err.d.next = self.complete_error.val();
            }
        }

        // ---- Fetcher: pop the FIFO head (its RAM answers next cycle), then stage A.
        self.f_pop.next = !self.fx_busy.q.val()
            & self.fetch_allow.val()
            & (self.f_count.q.val() != 0)
            & self.ready.val();
        self.fifo.rd_en.next = self.f_pop.val();
        self.fifo.rd_addr.next = self.f_rd.q.val();
        if self.f_pop.val() {
            self.f_rd.d.next = self.f_rd.q.val() + 1;
            self.fx_busy.d.next = true;
            self.fx_head.d.next = true;
        }
        self.fx_go.next = self.fx_head.q.val() & !self.reg_go.val() & !self.cp_go.val();
        if self.fx_go.val() {
            self.fx_head.d.next = false;
        }
        if self.req_take.val() {
            self.r_valid.d.next = false;
            self.fx_busy.d.next = false;
        }
        self.req_valid.next = self.r_valid.q.val();
        self.req_vi.next = self.r_vi.q.val();
        self.req_index.next = self.r_index.q.val();
        self.req_addr.next = self.r_addr.q.val();

        // ---- Stage A: choose the operation, read its state word (or forward it from stage B,
        // which writes it this cycle).
        self.a_valid.next = self.reg_go.val() | self.cp_go.val() | self.fx_go.val();
        self.a_op.next = self.op_fetch.val();
        self.a_vi.next = self.fifo.rd_data.val();
        if self.reg_go.val() {
            self.a_op.next = self.op_reg.val();
            self.a_vi.next = self.reg_vi.val();
        } else if self.cp_go.val() {
            self.a_op.next = self.op_complete.val();
            self.a_vi.next = self.cp_vi.q.val();
        }
        self.a_fwd.next = self.b_valid.q.val() & (self.a_vi.val() == self.b_vi.q.val());
        self.state.rd_en.next = self.a_valid.val() & !self.a_fwd.val();
        self.state.rd_addr.next = self.a_vi.val();
        self.b_valid.d.next = self.a_valid.val();
        self.b_op.d.next = self.a_op.val();
        self.b_vi.d.next = self.a_vi.val();
        self.b_word.d.next = self.reg_word.val();
        self.reg_is_wr.next = self.reg_wr_held.q.val();
        if self.reg_strobe.val() {
            self.reg_is_wr.next = self.wr.val();
        }
        self.reg_wr_held.d.next = self.reg_is_wr.val();
        self.b_write.d.next = self.reg_is_wr.val();
        self.b_wdata.d.next = self.wdata.val();
        self.b_err.d.next = self.cp_err.q.val();
        self.b_fwd.d.next = self.a_fwd.val();

        // ---- Stage B: the VI's state, the operation, the write-back.
        self.s_word.next = self.state.rd_data.val();
        if self.b_fwd.q.val() {
            self.s_word.next = self.lw_state.q.val();
        }
        self.base.next = self.s_word.val().get_bits::<64>(0);
        self.size.next = self.s_word.val().get_bits::<4>(64);
        self.wptr.next = self.s_word.val().get_bits::<32>(68);
        self.fptr.next = self.s_word.val().get_bits::<32>(100);
        self.rptr.next = self.s_word.val().get_bits::<32>(132);
        self.errors.next = self.s_word.val().get_bits::<32>(164);
        self.active.next = self.s_word.val().get_bit(196);
        self.n_base.next = self.base.val();
        self.n_size.next = self.size.val();
        self.n_wptr.next = self.wptr.val();
        self.n_fptr.next = self.fptr.val();
        self.n_rptr.next = self.rptr.val();
        self.n_errors.next = self.errors.val();
        self.n_active.next = self.active.val();
        self.mask.next = (self.one32.val() << self.size.val()) - 1;
        self.fetch_addr.next =
            self.base.val() + (bit_cast::<64, 32>(self.fptr.val() & self.mask.val()) << 4);
        self.fptr_next.next = self.fptr.val() + 1;
        self.read_value.next = 0.into();
        if self.b_word.q.val() == self.w_base_lo.val() {
            self.read_value.next = self.base.val().get_bits::<32>(0);
        } else if self.b_word.q.val() == self.w_base_hi.val() {
            self.read_value.next = self.base.val().get_bits::<32>(32);
        } else if self.b_word.q.val() == self.w_size.val() {
            self.read_value.next = bit_cast::<32, 4>(self.size.val());
        } else if self.b_word.q.val() == self.w_wptr.val() {
            self.read_value.next = self.wptr.val();
        } else if self.b_word.q.val() == self.w_rptr.val() {
            self.read_value.next = self.rptr.val();
        } else if self.b_word.q.val() == self.w_errors.val() {
            self.read_value.next = self.errors.val();
        }
        self.ack.next = false;
        self.rdata.next = 0.into();
        self.f_push.next = false;
        if self.b_valid.q.val() {
            if self.b_op.q.val() == self.op_reg.val() {
                self.ack.next = true;
                if !self.b_write.q.val() {
                    self.rdata.next = self.read_value.val();
                } else if self.b_word.q.val() == self.w_base_lo.val() {
                    self.n_base.next = (bit_cast::<64, 32>(self.base.val().get_bits::<32>(32))
                        << 32)
                        | bit_cast::<64, 32>(self.b_wdata.q.val());
                } else if self.b_word.q.val() == self.w_base_hi.val() {
                    self.n_base.next = bit_cast::<64, 32>(self.base.val().get_bits::<32>(0))
                        | (bit_cast::<64, 32>(self.b_wdata.q.val()) << 32);
                } else if self.b_word.q.val() == self.w_size.val() {
                    self.n_size.next = self.b_wdata.q.val().get_bits::<4>(0);
                    if self.b_wdata.q.val() > bit_cast::<32, 4>(self.size_max.val()) {
                        self.n_size.next = self.size_max.val();
                    }
                    self.n_wptr.next = 0.into();
                    self.n_fptr.next = 0.into();
                    self.n_rptr.next = 0.into();
                } else if self.b_word.q.val() == self.w_wptr.val() {
                    // The doorbell: an idle ring that now has work joins the FIFO.
                    self.n_wptr.next = self.b_wdata.q.val();
                    if !self.active.val()
                        & (self.size.val() != 0)
                        & (self.fptr.val() != self.b_wdata.q.val())
                    {
                        self.n_active.next = true;
                        self.f_push.next = true;
                    }
                }
            } else if self.b_op.q.val() == self.op_complete.val() {
                self.n_rptr.next = self.rptr.val() + 1;
                if self.b_err.q.val() {
                    self.n_errors.next = self.errors.val() + 1;
                }
            } else {
                // A fetch: one descriptor, then back into the FIFO if there is more.
                if (self.size.val() != 0) & (self.fptr.val() != self.wptr.val()) {
                    self.r_valid.d.next = true;
                    self.r_vi.d.next = self.b_vi.q.val();
                    self.r_index.d.next = self.fptr.val();
                    self.r_addr.d.next = self.fetch_addr.val();
                    self.n_fptr.next = self.fptr_next.val();
                    if self.fptr_next.val() != self.wptr.val() {
                        self.f_push.next = true;
                    } else {
                        self.n_active.next = false;
                    }
                } else {
                    self.n_active.next = false;
                    self.fx_busy.d.next = false;
                }
            }
        }
        self.n_word.next = bit_cast::<STATE_BITS, 64>(self.n_base.val())
            | (bit_cast::<STATE_BITS, 4>(self.n_size.val()) << 64)
            | (bit_cast::<STATE_BITS, 32>(self.n_wptr.val()) << 68)
            | (bit_cast::<STATE_BITS, 32>(self.n_fptr.val()) << 100)
            | (bit_cast::<STATE_BITS, 32>(self.n_rptr.val()) << 132)
            | (bit_cast::<STATE_BITS, 32>(self.n_errors.val()) << 164)
            | (bit_cast::<STATE_BITS, 1>(self.n_active.val().into()) << 196);
        self.state.wr_en.next = self.b_valid.q.val();
        self.state.wr_addr.next = self.b_vi.q.val();
        self.state.wr_data.next = self.n_word.val();
        self.lw_state.d.next = self.n_word.val();

        // The FIFO: pushes from stage B (one per cycle at most).
        self.fifo.wr_en.next = self.f_push.val();
        self.fifo.wr_addr.next = self.f_wr.q.val();
        self.fifo.wr_data.next = self.b_vi.q.val();
        if self.f_push.val() {
            self.f_wr.d.next = self.f_wr.q.val() + 1;
        }
        self.f_count.d.next = self.f_count.q.val() + bit_cast::<16, 1>(self.f_push.val().into())
            - bit_cast::<16, 1>(self.f_pop.val().into());
        self.ram_collision.next = self.state.collision.val() | self.fifo.collision.val();

        if self.reset.val() {
            self.cp_valid.d.next = false;
            self.cp2_valid.d.next = false;
            self.f_wr.d.next = 0.into();
            self.f_rd.d.next = 0.into();
            self.f_count.d.next = 0.into();
            self.fx_busy.d.next = false;
            self.fx_head.d.next = false;
            self.r_valid.d.next = false;
            self.b_valid.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc::tests::verilator_lint;
    use evnic_regs::map::vi_reg;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::{HashMap, VecDeque};

    /// The model of one ring.
    #[derive(Clone, Copy, Default, Debug)]
    struct Ring {
        base: u64,
        size: u32,
        wptr: u32,
        fptr: u32,
        rptr: u32,
        errors: u32,
    }

    struct Bench<const A: usize, const VB: usize> {
        uut: TxRings<A, VB>,
        rng: ChaCha8Rng,
        rings: Vec<Ring>,
        /// Descriptors fetched and not yet completed, per VI, in fetch order.
        fetched: HashMap<u32, VecDeque<u32>>,
        /// Completions to offer: (vi, error).
        to_complete: VecDeque<(u32, bool)>,
        /// Fetches in the order they were handed out.
        order: Vec<(u32, u32)>,
        p_allow: f64,
        p_take: f64,
        cycle: u64,
    }

    impl<const A: usize, const VB: usize> Bench<A, VB> {
        fn new(seed: u64) -> Self {
            let mut uut = TxRings::<A, VB>::default();
            uut.connect_all();
            let mut b = Bench {
                uut,
                rng: ChaCha8Rng::seed_from_u64(seed),
                rings: vec![Ring::default(); 1 << VB],
                fetched: HashMap::new(),
                to_complete: VecDeque::new(),
                order: vec![],
                p_allow: 1.0,
                p_take: 1.0,
                cycle: 0,
            };
            b.uut.reset.next = true;
            b.step();
            b.uut.reset.next = false;
            // The state RAM clears: accesses are refused until `ready`.
            while !b.uut.ready.val() {
                b.step();
            }
            b
        }

        fn settle(&mut self) {
            assert!(simulate(&mut self.uut, 100), "the circuit did not settle");
        }

        /// One cycle: fetch side and completions driven at random, checked against the model.
        fn step(&mut self) {
            let allow = self.rng.gen_bool(self.p_allow);
            let take = self.rng.gen_bool(self.p_take);
            let u = &mut self.uut;
            u.fetch_allow.next = allow;
            u.complete.next = false;
            if let Some(&(v, err)) = self.to_complete.front() {
                u.complete.next = true;
                u.complete_vi.next = (v as u64).into();
                u.complete_error.next = err;
            }
            self.settle();
            let u = &mut self.uut;
            assert!(
                !u.ram_collision.val(),
                "RAM collision in cycle {}",
                self.cycle
            );
            if u.complete.val() && u.complete_ready.val() {
                let (v, err) = self.to_complete.pop_front().unwrap();
                let r = &mut self.rings[v as usize];
                r.rptr = r.rptr.wrapping_add(1);
                r.errors = r.errors.wrapping_add(err as u32);
            }
            u.req_take.next = false;
            if u.req_valid.val() && take {
                u.req_take.next = true;
                let v = u.req_vi.val().index() as u32;
                let index = u.req_index.val().to_u64() as u32;
                let addr = u.req_addr.val().to_u64();
                let r = &mut self.rings[v as usize];
                assert!(r.size != 0 && r.fptr != r.wptr, "vi {v} has work: {r:?}");
                assert_eq!(index, r.fptr, "vi {v}: the next descriptor");
                let mask = (1u32 << r.size) - 1;
                assert_eq!(addr, r.base.wrapping_add(((index & mask) as u64) << 4));
                r.fptr = r.fptr.wrapping_add(1);
                self.fetched.entry(v).or_default().push_back(index);
                self.order.push((v, index));
            }
            self.settle();
            self.uut.clock.next = true.into();
            self.settle();
            self.uut.clock.next = false.into();
            self.settle();
            self.cycle += 1;
        }

        /// A register access (strobe, then the held address until the answer).
        fn reg(&mut self, write: bool, addr: u32, data: u32) -> Option<Result<u32, ()>> {
            let u = &mut self.uut;
            u.rd.next = !write;
            u.wr.next = write;
            u.addr.next = (addr as u64).into();
            u.wdata.next = (data as u64).into();
            let mut answer = None;
            for wait in 0..crate::regbus::ACK_TIMEOUT {
                self.settle();
                let u = &self.uut;
                if u.nak.val() {
                    assert_eq!(wait, 0);
                    answer = Some(Err(()));
                } else if u.ack.val() {
                    assert_eq!(wait, 1, "ack one cycle after the strobe");
                    answer = Some(Ok(u.rdata.val().to_u64() as u32));
                }
                self.step();
                self.uut.rd.next = false;
                self.uut.wr.next = false;
                if answer.is_some() {
                    break;
                }
            }
            answer
        }

        fn write(&mut self, v: u32, r: &evnic_regs::Reg, data: u32) {
            assert_eq!(self.reg(true, vi_reg(v, r), data), Some(Ok(0)));
            let m = &mut self.rings[v as usize];
            match r.name {
                "TXQ_BASE_LO" => m.base = (m.base & !0xffff_ffff) | data as u64,
                "TXQ_BASE_HI" => m.base = (m.base & 0xffff_ffff) | ((data as u64) << 32),
                "TXQ_SIZE" => {
                    m.size = data.min(vi::RING_SIZE_MAX);
                    (m.wptr, m.fptr, m.rptr) = (0, 0, 0);
                }
                "TXQ_WPTR" => m.wptr = data,
                other => panic!("{other} is not writable"),
            }
        }

        fn read(&mut self, v: u32, r: &evnic_regs::Reg) -> u32 {
            let got = self.reg(false, vi_reg(v, r), 0).unwrap().unwrap();
            let m = self.rings[v as usize];
            let want = match r.name {
                "TXQ_BASE_LO" => m.base as u32,
                "TXQ_BASE_HI" => (m.base >> 32) as u32,
                "TXQ_SIZE" => m.size,
                "TXQ_WPTR" => m.wptr,
                "TXQ_RPTR" => m.rptr,
                "TXQ_ERRORS" => m.errors,
                other => panic!("{other}"),
            };
            assert_eq!(got, want, "{} of vi {v}", r.name);
            got
        }

        /// Completes one fetched descriptor of a random VI (the stream completes in fetch
        /// order; per VI that is fetch order too).
        fn complete_some(&mut self) {
            let vis: Vec<u32> = self
                .fetched
                .iter()
                .filter(|(_, q)| !q.is_empty())
                .map(|(v, _)| *v)
                .collect();
            if let Some(&v) = vis.get(self.rng.gen_range(0..vis.len().max(1))) {
                self.fetched.get_mut(&v).unwrap().pop_front();
                let err = self.rng.gen_bool(0.3);
                self.to_complete.push_back((v, err));
            }
        }

        /// Runs until every posted descriptor was fetched and every fetch completed.
        fn drain(&mut self) {
            self.p_allow = 1.0;
            self.p_take = 1.0;
            for _ in 0..200_000 {
                if self.rings.iter().all(|r| r.size == 0 || r.fptr == r.wptr)
                    && self.fetched.values().all(|q| q.is_empty())
                    && self.to_complete.is_empty()
                {
                    break;
                }
                self.complete_some();
                self.step();
            }
            self.step();
            assert!(!self.uut.req_valid.val(), "no fetch without work");
        }
    }

    /// Random register traffic, doorbells, fetches and completions on a few of `2^VB` rings,
    /// with the fetch side stalling; every fetch and register value checked against a model;
    /// at the end every posted descriptor has been fetched once, in order per ring.
    fn random_traffic<const A: usize, const VB: usize>(seed: u64) {
        let mut b = Bench::<A, VB>::new(seed);
        let n = 1u32 << VB;
        let mut vis: Vec<u32> = vec![0, n - 1];
        while vis.len() < 12.min(n as usize) {
            let v = b.rng.gen_range(0..n);
            if !vis.contains(&v) {
                vis.push(v);
            }
        }
        for &v in &vis {
            let (lo, hi, size) = (b.rng.gen(), b.rng.gen(), b.rng.gen_range(1..=13));
            b.write(v, &vi::TXQ_BASE_LO, lo);
            b.write(v, &vi::TXQ_BASE_HI, hi);
            b.write(v, &vi::TXQ_SIZE, size);
        }
        for round in 0..600 {
            b.p_allow = [1.0, 0.5, 0.1][round % 3];
            b.p_take = [1.0, 0.7, 0.3][round / 3 % 3];
            let v = vis[b.rng.gen_range(0..vis.len())];
            match b.rng.gen_range(0..10) {
                0..=3 => {
                    // A doorbell: up to a ring's worth beyond what completed.
                    let r = b.rings[v as usize];
                    let room = (1u32 << r.size) - r.wptr.wrapping_sub(r.rptr);
                    let more = b.rng.gen_range(0..=room.min(5));
                    b.write(v, &vi::TXQ_WPTR, r.wptr.wrapping_add(more));
                }
                4 => {
                    let r = [
                        &vi::TXQ_BASE_LO,
                        &vi::TXQ_BASE_HI,
                        &vi::TXQ_SIZE,
                        &vi::TXQ_WPTR,
                    ][b.rng.gen_range(0..4)];
                    b.read(v, r);
                }
                5 => {
                    // A restart, only of a ring with nothing in flight.
                    let r = b.rings[v as usize];
                    if r.fptr == r.wptr && r.rptr == r.fptr {
                        let size = b.rng.gen_range(0..=12);
                        b.write(v, &vi::TXQ_SIZE, size);
                    }
                }
                6 => assert_eq!(b.reg(true, vi_reg(v, &vi::TXQ_RPTR), 1), Some(Err(()))),
                _ => {
                    for _ in 0..b.rng.gen_range(1..6) {
                        b.complete_some();
                        b.step();
                    }
                }
            }
        }
        b.drain();
        for &v in &vis {
            for r in [
                &vi::TXQ_BASE_LO,
                &vi::TXQ_BASE_HI,
                &vi::TXQ_SIZE,
                &vi::TXQ_WPTR,
                &vi::TXQ_RPTR,
                &vi::TXQ_ERRORS,
            ] {
                b.read(v, r);
            }
        }
        assert!(b.order.len() > 200, "{} fetches", b.order.len());
        // Every VI with work was served: the FIFO left none behind.
        let served: std::collections::HashSet<u32> = b.order.iter().map(|o| o.0).collect();
        assert!(vis.iter().all(|v| served.contains(v)));
    }

    #[test]
    fn random_traffic_at_16_vis() {
        random_traffic::<17, 4>(1);
    }

    #[test]
    fn random_traffic_at_256_vis() {
        random_traffic::<21, 8>(2);
    }

    /// Rings that get work while others are being served join the back of the FIFO: with
    /// three rings always busy, any window of three fetches serves all three.
    #[test]
    fn busy_rings_are_served_in_turn() {
        let mut b = Bench::<21, 8>::new(3);
        for v in [7u32, 200, 201] {
            b.write(v, &vi::TXQ_SIZE, 12);
        }
        b.write(200, &vi::TXQ_WPTR, 1000);
        for _ in 0..10 {
            b.step();
        }
        b.write(7, &vi::TXQ_WPTR, 1000);
        b.write(201, &vi::TXQ_WPTR, 1000);
        for _ in 0..300 {
            b.complete_some();
            b.step();
        }
        let after: Vec<u32> = b.order.iter().map(|o| o.0).skip(8).collect();
        assert!(after.len() > 50);
        for w in after.windows(3) {
            let mut s = w.to_vec();
            s.sort();
            assert_eq!(s, vec![7, 200, 201], "{after:?}");
        }
        // Without register traffic or completions, a fetch every 4 cycles.
        let n = b.order.len();
        for _ in 0..400 {
            b.step();
        }
        assert!(
            b.order.len() - n >= 95,
            "{} fetches in 400 cycles",
            b.order.len() - n
        );
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = TxRings::<21, 8>::default();
        uut.connect_all();
        verilator_lint("tx_rings", &generate_verilog(&uut));
    }
}
