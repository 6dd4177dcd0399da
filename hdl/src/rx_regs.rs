//! `RxRegs`: the filter page of BAR0 (`evnic_regs::map::filter`): the staged filter entry and
//! its atomic `COMMIT`, the default action, the receive policy, the hit counters (kept in the
//! filter block, read and cleared through it) and the receive path's frame and drop counters.
//!
//! # Ports
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `rdata` out (see [`crate::regbus`])
//! - to the filter block: `f_wr_en`, `f_wr_index`, `f_wr_value`, `f_wr_mask`, `f_wr_enable`,
//!   `f_wr_action` (one whole entry at one edge), `f_cnt_index`, `f_cnt_clear`; from it
//!   `f_cnt_value`
//! - settings out: `default_action` (16), `fcs_drop`, `max_len` (16)
//! - counting strobes in: `c_frame` (a frame's verdict), `c_dec_drop` (3: the [`DropReason`]
//!   code of a drop decided at the verdict, 0 none), `c_delivered`, `c_del_drop` (3: the code
//!   of a drop decided at delivery, 0 none)
//!
//! # Contract
//! `COMMIT` with an index >= the number of entries, and `DEFAULT_ACTION` of a kind other than
//! VI or DROP, are refused (not acknowledged: the bus counts an error). Counters saturate at
//! 2^32-1; any write to one clears it (a clear wins over a count at the same edge).
//!
//! # Timing
//! Combinational answer in the bus's strobe cycle; a `COMMIT` strobed in cycle t drives the
//! filter's write port in cycle t (the entry changes at the edge ending t); other writes act at
//! the next edge.
//!
//! [`DropReason`]: evnic_regs::map::filter::DropReason

use crate::regbus::{ADDR_BITS, PAGE_BITS};
use evnic_regs::map::filter as f;
use evnic_regs::map::filter::DropReason;
use rust_hdl::prelude::*;

/// Bits of the filter key.
pub const KEY_BITS: usize = evnic_regs::key::KEY_BITS as usize;
/// Counters of the page, in [`COUNTERS`] order.
pub const NCOUNT: usize = 9;
/// The counter registers, in the order of the block's counter array: RX_FRAMES, RX_DELIVERED,
/// then the drop counters by [`DropReason`] code 1..=7.
pub const COUNTERS: [&evnic_regs::Reg; NCOUNT] = [
    &f::RX_FRAMES,
    &f::RX_DELIVERED,
    &f::DROP_FILTER,
    &f::DROP_NO_MATCH,
    &f::DROP_NO_BUFFER,
    &f::DROP_FCS,
    &f::DROP_OVERRUN,
    &f::DROP_DISABLED,
    &f::DROP_BAD_DESC,
];

#[derive(LogicBlock)]
pub struct RxRegs {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,

    pub f_wr_en: Signal<Out, Bit>,
    pub f_wr_index: Signal<Out, Bits<5>>,
    pub f_wr_value: Signal<Out, Bits<KEY_BITS>>,
    pub f_wr_mask: Signal<Out, Bits<KEY_BITS>>,
    pub f_wr_enable: Signal<Out, Bit>,
    pub f_wr_action: Signal<Out, Bits<16>>,
    pub f_cnt_index: Signal<Out, Bits<5>>,
    pub f_cnt_clear: Signal<Out, Bit>,
    pub f_cnt_value: Signal<In, Bits<32>>,

    pub default_action: Signal<Out, Bits<16>>,
    pub fcs_drop: Signal<Out, Bit>,
    pub max_len: Signal<Out, Bits<16>>,

    pub c_frame: Signal<In, Bit>,
    pub c_dec_drop: Signal<In, Bits<3>>,
    pub c_delivered: Signal<In, Bit>,
    pub c_del_drop: Signal<In, Bits<3>>,

    value: DFF<Bits<KEY_BITS>>,
    mask: DFF<Bits<KEY_BITS>>,
    entry: DFF<Bits<17>>,
    default_q: DFF<Bits<16>>,
    fcs_drop_q: DFF<Bit>,
    max_len_q: DFF<Bits<16>>,
    counts: [DFF<Bits<32>>; NCOUNT],

    in_page: Signal<Local, Bit>,
    word: Signal<Local, Bits<10>>,
    is_value: Signal<Local, Bit>,
    is_mask: Signal<Local, Bit>,
    is_hits: Signal<Local, Bit>,
    shift: Signal<Local, Bits<16>>,
    hidx: Signal<Local, Bits<10>>,
    vidx: Signal<Local, Bits<10>>,
    midx: Signal<Local, Bits<10>>,
    wide: Signal<Local, Bits<KEY_BITS>>,
    read_value: Signal<Local, Bits<32>>,
    readable: Signal<Local, Bit>,
    writable: Signal<Local, Bit>,
    write_now: Signal<Local, Bit>,
    /// Index of the counter examined in the unrolled loop.
    at: Signal<Local, Bits<4>>,
    /// The counter the access names, if any.
    cnt_sel: Signal<Local, Bits<4>>,
    cnt_hit: Signal<Local, Bit>,

    page: Constant<Bits<PAGE_BITS>>,
    ones32: Constant<Bits<KEY_BITS>>,
    w_value: Constant<Bits<10>>,
    w_mask: Constant<Bits<10>>,
    w_hits: Constant<Bits<10>>,
    n_words: Constant<Bits<10>>,
    n_filters: Constant<Bits<10>>,
    w_entry: Constant<Bits<10>>,
    w_commit: Constant<Bits<10>>,
    w_default: Constant<Bits<10>>,
    w_config: Constant<Bits<10>>,
    w_max_len: Constant<Bits<10>>,
    w_counts: [Constant<Bits<10>>; NCOUNT],
    kind_vi: Constant<Bits<2>>,
    kind_drop: Constant<Bits<2>>,
    default_reset: Constant<Bits<16>>,
    max_len_reset: Constant<Bits<16>>,
}

fn word(off: u32) -> Constant<Bits<10>> {
    Constant::new(((off / 4) as u64).into())
}

impl Default for RxRegs {
    fn default() -> Self {
        // The counter array is indexed by drop-reason code (+1): keep the two in step.
        for r in DropReason::ALL {
            assert_eq!(COUNTERS[r as usize + 1].offset, r.counter().offset);
        }
        RxRegs {
            clock: Default::default(),
            reset: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            f_wr_en: Default::default(),
            f_wr_index: Default::default(),
            f_wr_value: Default::default(),
            f_wr_mask: Default::default(),
            f_wr_enable: Default::default(),
            f_wr_action: Default::default(),
            f_cnt_index: Default::default(),
            f_cnt_clear: Default::default(),
            f_cnt_value: Default::default(),
            default_action: Default::default(),
            fcs_drop: Default::default(),
            max_len: Default::default(),
            c_frame: Default::default(),
            c_dec_drop: Default::default(),
            c_delivered: Default::default(),
            c_del_drop: Default::default(),
            value: Default::default(),
            mask: Default::default(),
            entry: Default::default(),
            default_q: Default::default(),
            fcs_drop_q: Default::default(),
            max_len_q: Default::default(),
            counts: array_init::array_init(|_| Default::default()),
            in_page: Default::default(),
            word: Default::default(),
            is_value: Default::default(),
            is_mask: Default::default(),
            is_hits: Default::default(),
            shift: Default::default(),
            hidx: Default::default(),
            vidx: Default::default(),
            midx: Default::default(),
            wide: Default::default(),
            read_value: Default::default(),
            readable: Default::default(),
            writable: Default::default(),
            write_now: Default::default(),
            at: Default::default(),
            cnt_sel: Default::default(),
            cnt_hit: Default::default(),
            page: Constant::new(((evnic_regs::map::FILTER_PAGE_BASE >> 12) as u64).into()),
            ones32: Constant::new(0xffff_ffff_u64.into()),
            w_value: word(f::VALUE_BASE),
            w_mask: word(f::MASK_BASE),
            w_hits: word(f::HITS_BASE),
            n_words: Constant::new((evnic_regs::key::KEY_WORDS as u64).into()),
            n_filters: Constant::new((evnic_regs::params::NUM_FILTERS as u64).into()),
            w_entry: word(f::ENTRY.offset),
            w_commit: word(f::COMMIT.offset),
            w_default: word(f::DEFAULT_ACTION.offset),
            w_config: word(f::RX_CONFIG.offset),
            w_max_len: word(f::MAX_LEN.offset),
            w_counts: array_init::array_init(|i| word(COUNTERS[i].offset)),
            kind_vi: Constant::new((f::ACTION_KIND_VI as u64).into()),
            kind_drop: Constant::new((f::ACTION_KIND_DROP as u64).into()),
            default_reset: Constant::new((f::DEFAULT_ACTION.reset as u64).into()),
            max_len_reset: Constant::new((f::MAX_LEN.reset as u64).into()),
        }
    }
}

impl Logic for RxRegs {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, value, mask, entry, default_q, fcs_drop_q, max_len_q);
        for i in 0..NCOUNT {
            self.counts[i].clock.next = self.clock.val();
            self.counts[i].d.next = self.counts[i].q.val();
        }
        self.in_page.next = self.addr.val().get_bits::<PAGE_BITS>(12) == self.page.val();
        self.word.next = self.addr.val().get_bits::<10>(2);
        self.vidx.next = self.word.val() - self.w_value.val();
        self.midx.next = self.word.val() - self.w_mask.val();
        self.hidx.next = self.word.val() - self.w_hits.val();
        self.is_value.next = self.vidx.val() < self.n_words.val();
        self.is_mask.next = self.midx.val() < self.n_words.val();
        self.is_hits.next = self.hidx.val() < self.n_filters.val();
        // Bit offset of the key word the access names (value or mask arrays).
        self.shift.next = bit_cast::<16, 10>(self.vidx.val()) << 5;
        if self.is_mask.val() {
            self.shift.next = bit_cast::<16, 10>(self.midx.val()) << 5;
        }
        self.f_cnt_index.next = self.hidx.val().get_bits::<5>(0);

        // Which counter (if any) the access names.
        self.cnt_hit.next = false;
        self.cnt_sel.next = 0.into();
        self.at.next = 0.into();
        for i in 0..NCOUNT {
            if self.word.val() == self.w_counts[i].val() {
                self.cnt_hit.next = true;
                self.cnt_sel.next = self.at.val();
            }
            self.at.next = self.at.val() + 1;
        }

        self.wide.next = 0.into();
        self.read_value.next = 0.into();
        self.readable.next = true;
        self.writable.next = false;
        if self.is_value.val() {
            self.wide.next = self.value.q.val() >> self.shift.val();
            self.read_value.next = self.wide.val().get_bits::<32>(0);
            self.writable.next = true;
        } else if self.is_mask.val() {
            self.wide.next = self.mask.q.val() >> self.shift.val();
            self.read_value.next = self.wide.val().get_bits::<32>(0);
            self.writable.next = true;
        } else if self.is_hits.val() {
            self.read_value.next = self.f_cnt_value.val();
            self.writable.next = true;
        } else if self.word.val() == self.w_entry.val() {
            self.read_value.next = bit_cast::<32, 17>(self.entry.q.val());
            self.writable.next = true;
        } else if self.word.val() == self.w_commit.val() {
            self.readable.next = false;
            self.writable.next = self.wdata.val() < bit_cast::<32, 10>(self.n_filters.val());
        } else if self.word.val() == self.w_default.val() {
            self.read_value.next = bit_cast::<32, 16>(self.default_q.q.val());
            self.writable.next = (self.wdata.val().get_bits::<2>(14) == self.kind_vi.val())
                | (self.wdata.val().get_bits::<2>(14) == self.kind_drop.val());
        } else if self.word.val() == self.w_config.val() {
            self.read_value.next = bit_cast::<32, 1>(self.fcs_drop_q.q.val().into());
            self.writable.next = true;
        } else if self.word.val() == self.w_max_len.val() {
            self.read_value.next = bit_cast::<32, 16>(self.max_len_q.q.val());
            self.writable.next = true;
        } else if self.cnt_hit.val() {
            self.writable.next = true;
            for i in 0..NCOUNT {
                if self.cnt_sel.val().index() == i {
                    self.read_value.next = self.counts[i].q.val();
                }
            }
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

        // The filter's write port: the staged entry, whole, at the COMMIT strobe.
        self.f_wr_en.next = self.write_now.val() & (self.word.val() == self.w_commit.val());
        self.f_wr_index.next = self.wdata.val().get_bits::<5>(0);
        self.f_wr_value.next = self.value.q.val();
        self.f_wr_mask.next = self.mask.q.val();
        self.f_wr_enable.next = self.entry.q.val().get_bit(16);
        self.f_wr_action.next = self.entry.q.val().get_bits::<16>(0);
        self.f_cnt_clear.next = self.write_now.val() & self.is_hits.val();

        self.default_action.next = self.default_q.q.val();
        self.fcs_drop.next = self.fcs_drop_q.q.val();
        self.max_len.next = self.max_len_q.q.val();

        // Counting (the two sources never name the same counter in one cycle).
        if self.c_frame.val() & !self.counts[0].q.val().all() {
            self.counts[0].d.next = self.counts[0].q.val() + 1;
        }
        if self.c_delivered.val() & !self.counts[1].q.val().all() {
            self.counts[1].d.next = self.counts[1].q.val() + 1;
        }
        for i in 2..NCOUNT {
            if ((self.c_dec_drop.val().index() == i - 1) | (self.c_del_drop.val().index() == i - 1))
                & !self.counts[i].q.val().all()
            {
                self.counts[i].d.next = self.counts[i].q.val() + 1;
            }
        }
        for i in 0..NCOUNT {
            if self.write_now.val() & self.cnt_hit.val() & (self.cnt_sel.val().index() == i) {
                self.counts[i].d.next = 0.into();
            }
        }

        // Register writes.
        if self.write_now.val() {
            if self.is_value.val() {
                self.value.d.next = (self.value.q.val() & !(self.ones32.val() << self.shift.val()))
                    | (bit_cast::<KEY_BITS, 32>(self.wdata.val()) << self.shift.val());
            }
            if self.is_mask.val() {
                self.mask.d.next = (self.mask.q.val() & !(self.ones32.val() << self.shift.val()))
                    | (bit_cast::<KEY_BITS, 32>(self.wdata.val()) << self.shift.val());
            }
            if self.word.val() == self.w_entry.val() {
                self.entry.d.next = self.wdata.val().get_bits::<17>(0);
            }
            if self.word.val() == self.w_default.val() {
                self.default_q.d.next = self.wdata.val().get_bits::<16>(0);
            }
            if self.word.val() == self.w_config.val() {
                self.fcs_drop_q.d.next = self.wdata.val().get_bit(0);
            }
            if self.word.val() == self.w_max_len.val() {
                self.max_len_q.d.next = self.wdata.val().get_bits::<16>(0);
            }
        }

        if self.reset.val() {
            self.value.d.next = 0.into();
            self.mask.d.next = 0.into();
            self.entry.d.next = 0.into();
            self.default_q.d.next = self.default_reset.val();
            self.fcs_drop_q.d.next = true;
            self.max_len_q.d.next = self.max_len_reset.val();
            for i in 0..NCOUNT {
                self.counts[i].d.next = 0.into();
            }
        }
    }
}
