//! `RxRing`: the state of one VI's receive descriptor ring (`RXQ_*` of its VI page) and of its
//! descriptor prefetch. [`crate::rx::RxPath`] holds one per VI and keeps the prefetched
//! descriptors themselves in its descriptor cache ([`CACHE`] per VI).
//!
//! # Ports
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `rdata` out (see [`crate::regbus`])
//! - prefetch: `need` (a descriptor the host posted is not yet requested and the cache has
//!   room), `fetch_addr` (its address), `issue` in (the request was accepted this cycle)
//! - responses: `resp` in (a response for this VI arrives), `resp_keep` out (it belongs to the
//!   current ring and must be stored; 0 for responses of requests made before a restart),
//!   `fill_slot` out (the cache slot it goes to)
//! - use: `avail` (a fetched descriptor waits), `use_slot` (its cache slot), `rptr` (the
//!   descriptor count value it has), `consume` in (it was used: `RXQ_RPTR` advances), `nobuf` in
//!   (a frame for this ring was dropped for want of a buffer), `dropped_before` out (a drop
//!   since the last RX event of this ring), `clear_db` in (an RX event carried that flag)
//!
//! # Contract
//! `RXQ_SIZE` accepts 0 (disabled) or 1..=`RING_SIZE_MAX`; writing it restarts the ring
//! (pointers, drops and the flag to 0) and makes the responses still in flight be discarded;
//! no new request is made until they have arrived. `RXQ_WPTR` refuses (bus error) a value that
//! moves backwards or posts more than the ring holds, and any write while the ring is disabled.
//! At most [`CACHE`] descriptors are requested ahead of `RXQ_RPTR`; responses come in request
//! order, so the cache slot of a response is the count of responses kept modulo [`CACHE`].
//! Responses that arrive while the ring is disabled (after a reset) are ignored.
//!
//! # Timing
//! Outputs are combinational from registered state; strobes and register writes act at the
//! next edge.

use crate::regbus::{word, ADDR_BITS, PAGE_BITS};
use evnic_regs::map::{vi, VI_PAGE_BASE};
use rust_hdl::prelude::*;

/// Descriptors prefetched per VI (cache slots).
pub const CACHE: usize = 16;
/// Bits of a cache slot index.
pub const SLOT_BITS: usize = 4;

#[derive(LogicBlock)]
pub struct RxRing {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,

    pub need: Signal<Out, Bit>,
    pub fetch_addr: Signal<Out, Bits<64>>,
    pub issue: Signal<In, Bit>,
    pub resp: Signal<In, Bit>,
    pub resp_keep: Signal<Out, Bit>,
    pub fill_slot: Signal<Out, Bits<SLOT_BITS>>,
    pub avail: Signal<Out, Bit>,
    pub use_slot: Signal<Out, Bits<SLOT_BITS>>,
    pub rptr: Signal<Out, Bits<32>>,
    pub consume: Signal<In, Bit>,
    pub nobuf: Signal<In, Bit>,
    pub dropped_before: Signal<Out, Bit>,
    pub clear_db: Signal<In, Bit>,

    base_lo: DFF<Bits<32>>,
    base_hi: DFF<Bits<32>>,
    size_log2: DFF<Bits<4>>,
    wptr: DFF<Bits<32>>,
    used: DFF<Bits<32>>,
    req: DFF<Bits<32>>,
    fetched: DFF<Bits<32>>,
    inflight: DFF<Bits<6>>,
    discard: DFF<Bits<6>>,
    drops: DFF<Bits<32>>,
    db: DFF<Bit>,

    in_page: Signal<Local, Bit>,
    word: Signal<Local, Bits<10>>,
    size: Signal<Local, Bits<32>>,
    enabled: Signal<Local, Bit>,
    inflight_next: Signal<Local, Bits<6>>,
    read_value: Signal<Local, Bits<32>>,
    readable: Signal<Local, Bit>,
    writable: Signal<Local, Bit>,
    write_now: Signal<Local, Bit>,

    page: Constant<Bits<PAGE_BITS>>,
    w_base_lo: Constant<Bits<10>>,
    w_base_hi: Constant<Bits<10>>,
    w_size: Constant<Bits<10>>,
    w_wptr: Constant<Bits<10>>,
    w_rptr: Constant<Bits<10>>,
    w_drops: Constant<Bits<10>>,
    size_max: Constant<Bits<32>>,
    cache: Constant<Bits<32>>,
}

impl RxRing {
    /// The receive ring of VI `index`.
    pub fn new(index: u32) -> RxRing {
        RxRing {
            clock: Default::default(),
            reset: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            need: Default::default(),
            fetch_addr: Default::default(),
            issue: Default::default(),
            resp: Default::default(),
            resp_keep: Default::default(),
            fill_slot: Default::default(),
            avail: Default::default(),
            use_slot: Default::default(),
            rptr: Default::default(),
            consume: Default::default(),
            nobuf: Default::default(),
            dropped_before: Default::default(),
            clear_db: Default::default(),
            base_lo: Default::default(),
            base_hi: Default::default(),
            size_log2: Default::default(),
            wptr: Default::default(),
            used: Default::default(),
            req: Default::default(),
            fetched: Default::default(),
            inflight: Default::default(),
            discard: Default::default(),
            drops: Default::default(),
            db: Default::default(),
            in_page: Default::default(),
            word: Default::default(),
            size: Default::default(),
            enabled: Default::default(),
            inflight_next: Default::default(),
            read_value: Default::default(),
            readable: Default::default(),
            writable: Default::default(),
            write_now: Default::default(),
            page: Constant::new((((VI_PAGE_BASE >> 12) + index) as u64).into()),
            w_base_lo: word(&vi::RXQ_BASE_LO),
            w_base_hi: word(&vi::RXQ_BASE_HI),
            w_size: word(&vi::RXQ_SIZE),
            w_wptr: word(&vi::RXQ_WPTR),
            w_rptr: word(&vi::RXQ_RPTR),
            w_drops: word(&vi::RXQ_DROPS),
            size_max: Constant::new((vi::RING_SIZE_MAX as u64).into()),
            cache: Constant::new((CACHE as u64).into()),
        }
    }
}

impl Logic for RxRing {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, base_lo, base_hi, size_log2, wptr, used, req, fetched, inflight, discard,
            drops, db
        );
        self.size.next = bits::<32>(1) << self.size_log2.q.val();
        self.enabled.next = self.size_log2.q.val() != 0;
        self.need.next = self.enabled.val()
            & (self.discard.q.val() == 0)
            & (self.req.q.val() != self.wptr.q.val())
            & ((self.req.q.val() - self.used.q.val()) < self.cache.val());
        self.fetch_addr.next = ((bit_cast::<64, 32>(self.base_hi.q.val()) << 32)
            | bit_cast::<64, 32>(self.base_lo.q.val()))
            + (bit_cast::<64, 32>(self.req.q.val() & (self.size.val() - 1)) << 4);
        self.resp_keep.next = self.discard.q.val() == 0;
        self.fill_slot.next = self.fetched.q.val().get_bits::<4>(0);
        self.avail.next = self.fetched.q.val() != self.used.q.val();
        self.use_slot.next = self.used.q.val().get_bits::<4>(0);
        self.rptr.next = self.used.q.val();
        self.dropped_before.next = self.db.q.val();

        // Register decode.
        self.in_page.next = self.addr.val().get_bits::<PAGE_BITS>(12) == self.page.val();
        self.word.next = self.addr.val().get_bits::<10>(2);
        self.read_value.next = 0.into();
        self.readable.next = true;
        self.writable.next = false;
        if self.word.val() == self.w_base_lo.val() {
            self.read_value.next = self.base_lo.q.val();
            self.writable.next = true;
        } else if self.word.val() == self.w_base_hi.val() {
            self.read_value.next = self.base_hi.q.val();
            self.writable.next = true;
        } else if self.word.val() == self.w_size.val() {
            self.read_value.next = bit_cast::<32, 4>(self.size_log2.q.val());
            self.writable.next = self.wdata.val() <= self.size_max.val();
        } else if self.word.val() == self.w_wptr.val() {
            self.read_value.next = self.wptr.q.val();
            self.writable.next = self.enabled.val()
                & ((self.wdata.val() - self.used.q.val()) <= self.size.val())
                & ((self.wdata.val() - self.used.q.val())
                    >= (self.wptr.q.val() - self.used.q.val()));
        } else if self.word.val() == self.w_rptr.val() {
            self.read_value.next = self.used.q.val();
        } else if self.word.val() == self.w_drops.val() {
            self.read_value.next = self.drops.q.val();
        } else {
            self.readable.next = false;
        }
        self.ack.next = self.in_page.val()
            & ((self.rd.val() & self.readable.val()) | (self.wr.val() & self.writable.val()));
        self.rdata.next = 0.into();
        if self.in_page.val() & self.rd.val() & self.readable.val() {
            self.rdata.next = self.read_value.val();
        }
        self.write_now.next = self.in_page.val() & self.wr.val() & self.writable.val();

        // Prefetch and use.
        self.inflight_next.next = self.inflight.q.val();
        if self.issue.val() {
            self.req.d.next = self.req.q.val() + 1;
            self.inflight_next.next = self.inflight.q.val() + 1;
        }
        if self.resp.val() & (self.inflight_next.val() != 0) {
            self.inflight_next.next = self.inflight_next.val() - 1;
        }
        if self.resp.val() & self.enabled.val() {
            if self.discard.q.val() != 0 {
                self.discard.d.next = self.discard.q.val() - 1;
            } else {
                self.fetched.d.next = self.fetched.q.val() + 1;
            }
        }
        self.inflight.d.next = self.inflight_next.val();
        if self.consume.val() {
            self.used.d.next = self.used.q.val() + 1;
        }
        if self.clear_db.val() {
            self.db.d.next = false;
        }
        if self.nobuf.val() {
            self.db.d.next = true;
            if !self.drops.q.val().all() {
                self.drops.d.next = self.drops.q.val() + 1;
            }
        }

        // Register writes (a restart wins over the strobes).
        if self.write_now.val() {
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
                self.size_log2.d.next = self.wdata.val().get_bits::<4>(0);
                self.wptr.d.next = 0.into();
                self.used.d.next = 0.into();
                self.req.d.next = 0.into();
                self.fetched.d.next = 0.into();
                self.drops.d.next = 0.into();
                self.db.d.next = false;
                self.discard.d.next = self.inflight_next.val();
            }
        }

        if self.reset.val() {
            self.base_lo.d.next = 0.into();
            self.base_hi.d.next = 0.into();
            self.size_log2.d.next = 0.into();
            self.wptr.d.next = 0.into();
            self.used.d.next = 0.into();
            self.req.d.next = 0.into();
            self.fetched.d.next = 0.into();
            self.inflight.d.next = 0.into();
            self.discard.d.next = 0.into();
            self.drops.d.next = 0.into();
            self.db.d.next = false;
        }
    }
}
