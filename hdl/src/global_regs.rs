//! The global page of BAR0: identity, parameters, scratch, control, the cycle counter and the
//! bus error counter (see `evnic_regs::map::global` for the registers).
//!
//! # Ports
//! - `rd`, `wr`, `addr`, `wdata` (in), `ack`, `rdata` (out): the register-bus block side (see
//!   [`crate::regbus`]); `ack` is high when `addr` is in this page and names a register that
//!   allows the access
//! - `err_count`, `err_addr` (in), `err_clear` (out): the bus error counter kept by the bus
//! - `enable` (out): `CONTROL.ENABLE`
//! - `soft_reset` (out): a one-cycle pulse when software writes `CONTROL.SOFT_RESET`
//! - `cycles` (out): the free-running 64-bit cycle counter (also the event timestamp)
//! - `ready` (in): every block has cleared its state after a reset, read as `STATUS.READY`
//!
//! # Contract
//! Read-only registers refuse writes (not acknowledged: the bus counts an error). Reading
//! `CYCLES_LO` latches the high half, so `CYCLES_LO` then `CYCLES_HI` is one 64-bit sample.
//! Writing `BUS_ERRORS` clears it. Only the hardware `reset` clears the cycle counter; a soft
//! reset leaves it running so timestamps stay monotonic.
//!
//! # Timing
//! Combinational answer in the bus's strobe cycle; register writes take effect the next cycle;
//! `soft_reset` pulses the cycle after the write.

use crate::regbus::{word, ADDR_BITS, PAGE_BITS};
use evnic_regs::map::global as g;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct GlobalRegs {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub err_count: Signal<In, Bits<32>>,
    pub err_addr: Signal<In, Bits<32>>,
    pub err_clear: Signal<Out, Bit>,
    pub enable: Signal<Out, Bit>,
    pub soft_reset: Signal<Out, Bit>,
    pub cycles: Signal<Out, Bits<64>>,
    pub ready: Signal<In, Bit>,
    scratch: DFF<Bits<32>>,
    enable_q: DFF<Bit>,
    soft_reset_q: DFF<Bit>,
    cycle_count: DFF<Bits<64>>,
    cycles_hi_latch: DFF<Bits<32>>,
    in_page: Signal<Local, Bit>,
    word: Signal<Local, Bits<10>>,
    read_value: Signal<Local, Bits<32>>,
    readable: Signal<Local, Bit>,
    writable: Signal<Local, Bit>,
    page_base: Constant<Bits<PAGE_BITS>>,
    w_id: Constant<Bits<10>>,
    w_version: Constant<Bits<10>>,
    w_num_vis: Constant<Bits<10>>,
    w_num_filters: Constant<Bits<10>>,
    w_num_groups: Constant<Bits<10>>,
    w_num_timers: Constant<Bits<10>>,
    w_event_bytes: Constant<Bits<10>>,
    w_data_bits: Constant<Bits<10>>,
    w_clock_khz: Constant<Bits<10>>,
    w_scratch: Constant<Bits<10>>,
    w_control: Constant<Bits<10>>,
    w_status: Constant<Bits<10>>,
    sh_ready: Constant<Bits<8>>,
    w_cycles_lo: Constant<Bits<10>>,
    w_cycles_hi: Constant<Bits<10>>,
    w_bus_errors: Constant<Bits<10>>,
    w_bus_error_addr: Constant<Bits<10>>,
    v_id: Constant<Bits<32>>,
    v_version: Constant<Bits<32>>,
    v_num_vis: Constant<Bits<32>>,
    v_num_filters: Constant<Bits<32>>,
    v_num_groups: Constant<Bits<32>>,
    v_num_timers: Constant<Bits<32>>,
    v_event_bytes: Constant<Bits<32>>,
    v_data_bits: Constant<Bits<32>>,
    v_clock_khz: Constant<Bits<32>>,
}

fn value(r: &evnic_regs::Reg) -> Constant<Bits<32>> {
    Constant::new((r.reset as u64).into())
}

impl Default for GlobalRegs {
    fn default() -> Self {
        GlobalRegs {
            clock: Default::default(),
            reset: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            err_count: Default::default(),
            err_addr: Default::default(),
            err_clear: Default::default(),
            enable: Default::default(),
            soft_reset: Default::default(),
            cycles: Default::default(),
            ready: Default::default(),
            scratch: Default::default(),
            enable_q: Default::default(),
            soft_reset_q: Default::default(),
            cycle_count: Default::default(),
            cycles_hi_latch: Default::default(),
            in_page: Default::default(),
            word: Default::default(),
            read_value: Default::default(),
            readable: Default::default(),
            writable: Default::default(),
            page_base: Constant::new(((evnic_regs::map::GLOBAL_PAGE_BASE >> 12) as u64).into()),
            w_id: word(&g::ID),
            w_version: word(&g::VERSION),
            w_num_vis: word(&g::NUM_VIS),
            w_num_filters: word(&g::NUM_FILTERS),
            w_num_groups: word(&g::NUM_GROUPS),
            w_num_timers: word(&g::NUM_TIMERS),
            w_event_bytes: word(&g::EVENT_BYTES),
            w_data_bits: word(&g::DATA_BITS),
            w_clock_khz: word(&g::CLOCK_KHZ),
            w_scratch: word(&g::SCRATCH),
            w_control: word(&g::CONTROL),
            w_status: word(&g::STATUS),
            sh_ready: Constant::new((g::STATUS_READY.lsb as u64).into()),
            w_cycles_lo: word(&g::CYCLES_LO),
            w_cycles_hi: word(&g::CYCLES_HI),
            w_bus_errors: word(&g::BUS_ERRORS),
            w_bus_error_addr: word(&g::BUS_ERROR_ADDR),
            v_id: value(&g::ID),
            v_version: value(&g::VERSION),
            v_num_vis: value(&g::NUM_VIS),
            v_num_filters: value(&g::NUM_FILTERS),
            v_num_groups: value(&g::NUM_GROUPS),
            v_num_timers: value(&g::NUM_TIMERS),
            v_event_bytes: value(&g::EVENT_BYTES),
            v_data_bits: value(&g::DATA_BITS),
            v_clock_khz: value(&g::CLOCK_KHZ),
        }
    }
}

impl Logic for GlobalRegs {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            scratch,
            enable_q,
            soft_reset_q,
            cycle_count,
            cycles_hi_latch
        );
        self.in_page.next = self.addr.val().get_bits::<PAGE_BITS>(12) == self.page_base.val();
        self.word.next = self.addr.val().get_bits::<10>(2);

        self.read_value.next = 0.into();
        self.readable.next = true;
        self.writable.next = false;
        if self.word.val() == self.w_id.val() {
            self.read_value.next = self.v_id.val();
        } else if self.word.val() == self.w_version.val() {
            self.read_value.next = self.v_version.val();
        } else if self.word.val() == self.w_num_vis.val() {
            self.read_value.next = self.v_num_vis.val();
        } else if self.word.val() == self.w_num_filters.val() {
            self.read_value.next = self.v_num_filters.val();
        } else if self.word.val() == self.w_num_groups.val() {
            self.read_value.next = self.v_num_groups.val();
        } else if self.word.val() == self.w_num_timers.val() {
            self.read_value.next = self.v_num_timers.val();
        } else if self.word.val() == self.w_event_bytes.val() {
            self.read_value.next = self.v_event_bytes.val();
        } else if self.word.val() == self.w_data_bits.val() {
            self.read_value.next = self.v_data_bits.val();
        } else if self.word.val() == self.w_clock_khz.val() {
            self.read_value.next = self.v_clock_khz.val();
        } else if self.word.val() == self.w_scratch.val() {
            self.read_value.next = self.scratch.q.val();
            self.writable.next = true;
        } else if self.word.val() == self.w_control.val() {
            self.read_value.next = bit_cast::<32, 1>(self.enable_q.q.val().into());
            self.writable.next = true;
        } else if self.word.val() == self.w_status.val() {
            self.read_value.next =
                bit_cast::<32, 1>(self.ready.val().into()) << self.sh_ready.val();
        } else if self.word.val() == self.w_cycles_lo.val() {
            self.read_value.next = self.cycle_count.q.val().get_bits::<32>(0);
        } else if self.word.val() == self.w_cycles_hi.val() {
            self.read_value.next = self.cycles_hi_latch.q.val();
        } else if self.word.val() == self.w_bus_errors.val() {
            self.read_value.next = self.err_count.val();
            self.writable.next = true;
        } else if self.word.val() == self.w_bus_error_addr.val() {
            self.read_value.next = self.err_addr.val();
        } else {
            self.readable.next = false;
        }

        self.ack.next = self.in_page.val()
            & ((self.rd.val() & self.readable.val()) | (self.wr.val() & self.writable.val()));
        self.rdata.next = 0.into();
        if self.in_page.val() & self.rd.val() {
            self.rdata.next = self.read_value.val();
        }

        self.cycle_count.d.next = self.cycle_count.q.val() + 1;
        self.soft_reset_q.d.next = false;
        self.err_clear.next = false;
        if self.in_page.val() & self.rd.val() & (self.word.val() == self.w_cycles_lo.val()) {
            self.cycles_hi_latch.d.next = self.cycle_count.q.val().get_bits::<32>(32);
        }
        if self.in_page.val() & self.wr.val() {
            if self.word.val() == self.w_scratch.val() {
                self.scratch.d.next = self.wdata.val();
            }
            if self.word.val() == self.w_control.val() {
                self.enable_q.d.next = self.wdata.val().get_bit(0);
                self.soft_reset_q.d.next = self.wdata.val().get_bit(1);
            }
            if self.word.val() == self.w_bus_errors.val() {
                self.err_clear.next = true;
            }
        }
        self.enable.next = self.enable_q.q.val();
        self.soft_reset.next = self.soft_reset_q.q.val();
        self.cycles.next = self.cycle_count.q.val();

        if self.reset.val() {
            self.scratch.d.next = 0.into();
            self.enable_q.d.next = false;
            self.soft_reset_q.d.next = false;
            self.cycle_count.d.next = 0.into();
            self.cycles_hi_latch.d.next = 0.into();
        }
    }
}
