//! The transmit-ring registers of one VI: `TXQ_BASE_LO/HI`, `TXQ_SIZE`, `TXQ_WPTR` (doorbell),
//! `TXQ_RPTR` and `TXQ_ERRORS` (see `evnic_regs::map::vi`), and the ring's fetch count.
//!
//! # Ports
//! - `clock`, `reset` (synchronous, active high: every register and count to 0)
//! - `sel` (in): the access on the register bus is in this VI's page
//! - `rd`, `wr`, `word` (register word index within the page, `addr[11:2]`), `wdata` (in);
//!   `ack`, `rdata` (out): the register-bus block side (see [`crate::regbus`]). Reads of the
//!   six registers and writes of the four writable ones are claimed; a write to `TXQ_RPTR` or
//!   `TXQ_ERRORS` is not (the bus counts the error). `rdata` is 0 unless a read is claimed.
//! - `can_fetch` (out): the ring is enabled (`TXQ_SIZE` != 0) and holds a posted descriptor not
//!   yet fetched (fetch count != `TXQ_WPTR`)
//! - `fetch_addr` (out, 64): host address of the descriptor at the fetch count:
//!   `base + (fetch mod 2^size) * 16`; `fetch_index` (out, 32): the fetch count itself
//! - `fetch` (in): one-cycle strobe, the descriptor at `fetch_index` was requested: the fetch
//!   count advances
//! - `complete` (in): one descriptor completed (TX_DONE or ERROR posted): `TXQ_RPTR` advances;
//!   `error` (in, with `complete`): it was refused: `TXQ_ERRORS` advances too
//!
//! # Contract
//! Counts are free-running 32-bit (wrapping). Writing `TXQ_SIZE` restarts the ring: write,
//! fetch and read counts return to 0 (the error count is kept); values above
//! [`vi::RING_SIZE_MAX`] are stored as that maximum. Software must not restart a ring while
//! its descriptors are in flight (between doorbell and completion).
//!
//! # Timing
//! Combinational register answer in the bus strobe cycle; writes, `fetch`, `complete` take
//! effect at the next edge; `can_fetch`, `fetch_addr` are combinational from registers.

use crate::regbus::{word, ADDR_BITS};
use evnic_regs::map::vi;
use rust_hdl::prelude::*;

/// The transmit-ring registers and counts of one VI. See the module documentation.
#[derive(LogicBlock)]
pub struct TxRing {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub sel: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub word: Signal<In, Bits<10>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub can_fetch: Signal<Out, Bit>,
    pub fetch_addr: Signal<Out, Bits<64>>,
    pub fetch_index: Signal<Out, Bits<32>>,
    pub fetch: Signal<In, Bit>,
    pub complete: Signal<In, Bit>,
    pub error: Signal<In, Bit>,
    base_lo: DFF<Bits<32>>,
    base_hi: DFF<Bits<32>>,
    size: DFF<Bits<4>>,
    wptr: DFF<Bits<32>>,
    fptr: DFF<Bits<32>>,
    rptr: DFF<Bits<32>>,
    errors: DFF<Bits<32>>,
    mask: Signal<Local, Bits<32>>,
    read_value: Signal<Local, Bits<32>>,
    readable: Signal<Local, Bit>,
    writable: Signal<Local, Bit>,
    one: Constant<Bits<32>>,
    size_max: Constant<Bits<4>>,
    w_base_lo: Constant<Bits<10>>,
    w_base_hi: Constant<Bits<10>>,
    w_size: Constant<Bits<10>>,
    w_wptr: Constant<Bits<10>>,
    w_rptr: Constant<Bits<10>>,
    w_errors: Constant<Bits<10>>,
}

impl Default for TxRing {
    fn default() -> Self {
        // The page word index is addr[11:2]: the page must be 4 KiB.
        assert_eq!(evnic_regs::map::PAGE_BYTES, 1 << 12);
        const { assert!(ADDR_BITS > 12) };
        Self {
            clock: Default::default(),
            reset: Default::default(),
            sel: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            word: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            can_fetch: Default::default(),
            fetch_addr: Default::default(),
            fetch_index: Default::default(),
            fetch: Default::default(),
            complete: Default::default(),
            error: Default::default(),
            base_lo: Default::default(),
            base_hi: Default::default(),
            size: Default::default(),
            wptr: Default::default(),
            fptr: Default::default(),
            rptr: Default::default(),
            errors: Default::default(),
            mask: Default::default(),
            read_value: Default::default(),
            readable: Default::default(),
            writable: Default::default(),
            one: Constant::new(1u64.into()),
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

impl Logic for TxRing {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, base_lo, base_hi, size, wptr, fptr, rptr, errors);
        // Register decode.
        self.read_value.next = 0.into();
        self.readable.next = true;
        self.writable.next = true;
        if self.word.val() == self.w_base_lo.val() {
            self.read_value.next = self.base_lo.q.val();
        } else if self.word.val() == self.w_base_hi.val() {
            self.read_value.next = self.base_hi.q.val();
        } else if self.word.val() == self.w_size.val() {
            self.read_value.next = bit_cast::<32, 4>(self.size.q.val());
        } else if self.word.val() == self.w_wptr.val() {
            self.read_value.next = self.wptr.q.val();
        } else if self.word.val() == self.w_rptr.val() {
            self.read_value.next = self.rptr.q.val();
            self.writable.next = false;
        } else if self.word.val() == self.w_errors.val() {
            self.read_value.next = self.errors.q.val();
            self.writable.next = false;
        } else {
            self.readable.next = false;
            self.writable.next = false;
        }
        self.ack.next = self.sel.val()
            & ((self.rd.val() & self.readable.val()) | (self.wr.val() & self.writable.val()));
        self.rdata.next = 0.into();
        if self.sel.val() & self.rd.val() {
            self.rdata.next = self.read_value.val();
        }

        // Fetch side.
        self.mask.next = (self.one.val() << self.size.q.val()) - 1;
        self.can_fetch.next = (self.size.q.val() != 0) & (self.fptr.q.val() != self.wptr.q.val());
        self.fetch_addr.next = ((bit_cast::<64, 32>(self.base_hi.q.val()) << 32)
            | bit_cast::<64, 32>(self.base_lo.q.val()))
            + (bit_cast::<64, 32>(self.fptr.q.val() & self.mask.val()) << 4);
        self.fetch_index.next = self.fptr.q.val();
        if self.fetch.val() {
            self.fptr.d.next = self.fptr.q.val() + 1;
        }
        if self.complete.val() {
            self.rptr.d.next = self.rptr.q.val() + 1;
            if self.error.val() {
                self.errors.d.next = self.errors.q.val() + 1;
            }
        }

        // Register writes (after the counts: a restart wins over a completion).
        if self.sel.val() & self.wr.val() {
            if self.word.val() == self.w_base_lo.val() {
                self.base_lo.d.next = self.wdata.val();
            }
            if self.word.val() == self.w_base_hi.val() {
                self.base_hi.d.next = self.wdata.val();
            }
            if self.word.val() == self.w_wptr.val() {
                self.wptr.d.next = self.wdata.val();
            }
            if self.word.val() == self.w_size.val() {
                self.size.d.next = self.wdata.val().get_bits::<4>(0);
                if self.wdata.val() > bit_cast::<32, 4>(self.size_max.val()) {
                    self.size.d.next = self.size_max.val();
                }
                self.wptr.d.next = 0.into();
                self.fptr.d.next = 0.into();
                self.rptr.d.next = 0.into();
            }
        }
        if self.reset.val() {
            self.base_lo.d.next = 0.into();
            self.base_hi.d.next = 0.into();
            self.size.d.next = 0.into();
            self.wptr.d.next = 0.into();
            self.fptr.d.next = 0.into();
            self.rptr.d.next = 0.into();
            self.errors.d.next = 0.into();
        }
    }
}
