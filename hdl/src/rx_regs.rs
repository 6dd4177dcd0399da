//! `RxRegs`: the receive path's registers of the filter page (`evnic_regs::map::filter`): the
//! default action, the receive policy (`RX_CONFIG`, `MAX_LEN`) and the frame and drop
//! counters. The filter tables' registers of the page (staging, `COMMIT`, hit counters) belong
//! to [`crate::filter::Filter`].
//!
//! # Ports
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `nak`, `rdata` out (see
//!   [`crate::regbus`])
//! - settings out: `default_action` (16), `fcs_drop`, `max_len` (16)
//! - counting strobes in: `c_frame` (a frame's verdict), `c_dec_drop` (3: the [`DropReason`]
//!   code of a drop decided at the verdict, 0 none), `c_delivered`, `c_del_drop` (3: the code
//!   of a drop decided at delivery, 0 none), `c_lost` (a frame dropped before its verdict for
//!   want of room in the lookup queue: counted in `RX_FRAMES` and `DROP_OVERRUN`)
//!
//! # Contract
//! `DEFAULT_ACTION` of a kind other than VI or DROP is refused (`nak`: the bus counts an
//! error). Counters saturate at 2^32-1; any write to one clears it (a clear wins over a count
//! at the same edge).
//!
//! # Timing
//! Combinational answer in the bus's strobe cycle; writes act at the next edge.
//!
//! # What changed
//! The staged filter entry (two 416-bit registers written through variable shifts), `COMMIT`
//! and the hit counters moved to the filter block, which keeps them in RAM.
//!
//! [`DropReason`]: evnic_regs::map::filter::DropReason

use crate::regbus::{ADDR_BITS, PAGE_BITS};
use evnic_regs::map::filter as f;
use evnic_regs::map::filter::DropReason;
use rust_hdl::prelude::*;

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
    pub nak: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,

    pub default_action: Signal<Out, Bits<16>>,
    pub fcs_drop: Signal<Out, Bit>,
    pub max_len: Signal<Out, Bits<16>>,

    pub c_frame: Signal<In, Bit>,
    pub c_dec_drop: Signal<In, Bits<3>>,
    pub c_delivered: Signal<In, Bit>,
    pub c_del_drop: Signal<In, Bits<3>>,
    pub c_lost: Signal<In, Bit>,

    default_q: DFF<Bits<16>>,
    fcs_drop_q: DFF<Bit>,
    max_len_q: DFF<Bits<16>>,
    counts: [DFF<Bits<32>>; NCOUNT],

    in_page: Signal<Local, Bit>,
    word: Signal<Local, Bits<10>>,
    read_value: Signal<Local, Bits<32>>,
    mine: Signal<Local, Bit>,
    writable: Signal<Local, Bit>,
    write_now: Signal<Local, Bit>,
    /// Index of the counter examined in the unrolled loop.
    at: Signal<Local, Bits<4>>,
    /// The counter the access names, if any.
    cnt_sel: Signal<Local, Bits<4>>,
    cnt_hit: Signal<Local, Bit>,
    /// Counts of RX_FRAMES and DROP_OVERRUN this cycle (0..2).
    n_frames: Signal<Local, Bits<32>>,
    n_overrun: Signal<Local, Bits<32>>,

    page: Constant<Bits<PAGE_BITS>>,
    w_default: Constant<Bits<10>>,
    w_config: Constant<Bits<10>>,
    w_max_len: Constant<Bits<10>>,
    w_counts: [Constant<Bits<10>>; NCOUNT],
    kind_vi: Constant<Bits<2>>,
    kind_drop: Constant<Bits<2>>,
    default_reset: Constant<Bits<16>>,
    max_len_reset: Constant<Bits<16>>,
    overrun: Constant<Bits<3>>,
}

fn word(off: u32) -> Constant<Bits<10>> {
    Constant::new(((off / 4) as u64).into())
}

/// Index of DROP_OVERRUN in the counter array.
const OVERRUN_COUNTER: usize = DropReason::Overrun as usize + 1;

impl Default for RxRegs {
    fn default() -> Self {
        // The counter array is indexed by drop-reason code (+1): keep the two in step.
        for r in DropReason::ALL {
            assert_eq!(COUNTERS[r as usize + 1].offset, r.counter().offset);
        }
        assert_eq!(OVERRUN_COUNTER, 6, "the overrun count below is counter 6");
        RxRegs {
            clock: Default::default(),
            reset: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
            rdata: Default::default(),
            default_action: Default::default(),
            fcs_drop: Default::default(),
            max_len: Default::default(),
            c_frame: Default::default(),
            c_dec_drop: Default::default(),
            c_delivered: Default::default(),
            c_del_drop: Default::default(),
            c_lost: Default::default(),
            default_q: Default::default(),
            fcs_drop_q: Default::default(),
            max_len_q: Default::default(),
            counts: array_init::array_init(|_| Default::default()),
            in_page: Default::default(),
            word: Default::default(),
            read_value: Default::default(),
            mine: Default::default(),
            writable: Default::default(),
            write_now: Default::default(),
            at: Default::default(),
            cnt_sel: Default::default(),
            cnt_hit: Default::default(),
            n_frames: Default::default(),
            n_overrun: Default::default(),
            page: Constant::new(((evnic_regs::map::FILTER_PAGE_BASE >> 12) as u64).into()),
            w_default: word(f::DEFAULT_ACTION.offset),
            w_config: word(f::RX_CONFIG.offset),
            w_max_len: word(f::MAX_LEN.offset),
            w_counts: array_init::array_init(|i| word(COUNTERS[i].offset)),
            kind_vi: Constant::new((f::ACTION_KIND_VI as u64).into()),
            kind_drop: Constant::new((f::ACTION_KIND_DROP as u64).into()),
            default_reset: Constant::new((f::DEFAULT_ACTION.reset as u64).into()),
            max_len_reset: Constant::new((f::MAX_LEN.reset as u64).into()),
            overrun: Constant::new((DropReason::Overrun as u64).into()),
        }
    }
}

impl Logic for RxRegs {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, default_q, fcs_drop_q, max_len_q);
        for i in 0..NCOUNT {
            self.counts[i].clock.next = self.clock.val();
            self.counts[i].d.next = self.counts[i].q.val();
        }
        self.in_page.next = self.addr.val().get_bits::<PAGE_BITS>(12) == self.page.val();
        self.word.next = self.addr.val().get_bits::<10>(2);

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

        self.read_value.next = 0.into();
        self.mine.next = true;
        self.writable.next = true;
        if self.word.val() == self.w_default.val() {
            self.read_value.next = bit_cast::<32, 16>(self.default_q.q.val());
            self.writable.next = (self.wdata.val().get_bits::<2>(14) == self.kind_vi.val())
                | (self.wdata.val().get_bits::<2>(14) == self.kind_drop.val());
        } else if self.word.val() == self.w_config.val() {
            self.read_value.next = bit_cast::<32, 1>(self.fcs_drop_q.q.val().into());
        } else if self.word.val() == self.w_max_len.val() {
            self.read_value.next = bit_cast::<32, 16>(self.max_len_q.q.val());
        } else if self.cnt_hit.val() {
            for i in 0..NCOUNT {
                if self.cnt_sel.val().index() == i {
                    self.read_value.next = self.counts[i].q.val();
                }
            }
        } else {
            self.mine.next = false;
        }
        self.mine.next = self.mine.val() & self.in_page.val();
        self.ack.next = self.mine.val() & (self.rd.val() | (self.wr.val() & self.writable.val()));
        self.nak.next = self.mine.val() & self.wr.val() & !self.writable.val();
        self.rdata.next = 0.into();
        if self.mine.val() & self.rd.val() {
            self.rdata.next = self.read_value.val();
        }
        self.write_now.next = self.mine.val() & self.wr.val() & self.writable.val();

        self.default_action.next = self.default_q.q.val();
        self.fcs_drop.next = self.fcs_drop_q.q.val();
        self.max_len.next = self.max_len_q.q.val();

        // Counting (the sources never name the same counter in one cycle, but a lost frame
        // may come with a verdict).
        self.n_frames.next = bit_cast::<32, 1>(self.c_frame.val().into())
            + bit_cast::<32, 1>(self.c_lost.val().into());
        self.n_overrun.next = bit_cast::<32, 1>(self.c_lost.val().into());
        if self.c_dec_drop.val() == self.overrun.val() {
            self.n_overrun.next = self.n_overrun.val() + 1;
        }
        if self.counts[0].q.val() < (self.counts[0].q.val() + self.n_frames.val()) {
            self.counts[0].d.next = self.counts[0].q.val() + self.n_frames.val();
        } else if self.n_frames.val() != 0 {
            self.counts[0].d.next = 0xffff_ffff_u64.into();
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
        if self.counts[6].q.val() < (self.counts[6].q.val() + self.n_overrun.val()) {
            self.counts[6].d.next = self.counts[6].q.val() + self.n_overrun.val();
        } else if self.n_overrun.val() != 0 {
            self.counts[6].d.next = 0xffff_ffff_u64.into();
        }
        for i in 0..NCOUNT {
            if self.write_now.val() & self.cnt_hit.val() & (self.cnt_sel.val().index() == i) {
                self.counts[i].d.next = 0.into();
            }
        }

        // Register writes.
        if self.write_now.val() {
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
            self.default_q.d.next = self.default_reset.val();
            self.fcs_drop_q.d.next = true;
            self.max_len_q.d.next = self.max_len_reset.val();
            for i in 0..NCOUNT {
                self.counts[i].d.next = 0.into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verilog_lints_clean() {
        let mut uut = RxRegs::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        if let Ok(dir) = std::env::var("EVNIC_VERILOG_DIR") {
            std::fs::write(format!("{dir}/rx_regs.v"), &v).unwrap();
        }
        crate::crc::tests::verilator_lint("rx_regs", &v);
    }
}
