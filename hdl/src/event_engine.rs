//! `EventEngine<QB, AB>`: writes events into the VIs' event queues in host memory, one 16-byte
//! DMA beat per cycle, and does interrupt indirection. Every queue's state is one word of block
//! RAM (2^`QB` words, see [`crate::evq`]), read, updated and written back by a two-stage
//! pipeline that does one operation per cycle.
//!
//! # Ports
//! - `cycles` in: the cycle counter (timestamps of the events made here, the watchdog clock)
//! - register side `rd`, `wr`, `addr` (`AB` bits), `wdata` in, `ack`, `nak`, `rdata` out (see
//!   [`crate::regbus`]): every VI's `EVQ_*` registers and the global page's `IRQ_*`,
//!   `WAKEUP_COUNT`, `EVENTS_WRITTEN`, `EVENTS_DROPPED`
//! - event input `in_valid`, `in_ready` (out), `in_vi` (the queue), `in_record` (the 128-bit
//!   record from [`crate::event_pack::EventPack`], phase 0)
//! - DMA write master `dmaw_*` (see [`crate::core`])
//! - `irq` out: a one-cycle pulse per interrupt
//! - `ready` out: the state RAM is cleared (low for 2^`QB` cycles after `reset`)
//! - `ram_collision` out: the state RAM was read at the address written in that cycle (an RTL
//!   bug; see [`crate::ram`])
//!
//! # Contract
//! The queues are `0..num_queues` (`new`; the core: `NUM_VIS`), queue numbers are 8 bits
//! (`in_vi`, `IRQ_QUEUE.VI`, the WAKEUP source), so `QB <= 8`. After `reset` the state RAM
//! is cleared to "every queue disabled"; until `ready` the engine takes no event and refuses
//! (`nak`) every `EVQ_*` access. Software waits for `STATUS.READY` after a reset.
//!
//! Each cycle the pipeline takes at most one operation, in priority order:
//! 1. a register access to an `EVQ_*` register (reads, writes, doorbells);
//! 2. a wake-up from the wake FIFO: a WAKEUP naming the woken queue (flags bit 0: for its
//!    watchdog) is pushed into the interrupt queue (`IRQ_QUEUE`);
//! 3. a scrub when none was done for [`SCRUB_MAX_GAP`] - 1 cycles;
//! 4. one input event, pushed into its queue;
//! 5. otherwise (no input), a scrub.
//!
//! A scrub looks at the next queue in turn (0, 1, ... `num_queues` - 1, 0...) for an expired
//! watchdog. Every operation but a register read checks its queue (see [`crate::evq`]); a queue
//! found armed with events unread, or with its watchdog expired, is disarmed in that operation
//! and its number goes into the wake FIFO; when it is the interrupt queue itself, the
//! interrupt is raised instead (at least `IRQ_HOLDOFF` cycles after the previous one). Without
//! `IRQ_QUEUE.ENABLE` a wake disarms and posts nothing, as before. Wake-ups are posted in the
//! order the queues woke (before: among queues due at once, the highest-numbered first).
//! OVERFLOW events are written by the doorbell that returns space to a queue owing one (the
//! only moment one becomes due), in the doorbell's own operation.
//!
//! An event is never written over an unread one, and every input event is either written or
//! counted (per queue in `EVQ_DROPS`, reported by OVERFLOW; in total in `EVENTS_DROPPED`; an
//! event for a queue number `>= num_queues` in the total only). The wake FIFO cannot overflow:
//! an operation that may wake a queue is taken only while the FIFO has room for it and for the
//! operation ahead of it.
//!
//! A watchdog that expires at cycle T wakes its queue at the next operation on that queue:
//! within `num_queues` scrubs of T, i.e. within `num_queues` idle cycles, and under full load
//! within `num_queues` * [`SCRUB_MAX_GAP`] cycles (pushes into the queue itself see it at once).
//! The forced scrubs cost one input cycle in [`SCRUB_MAX_GAP`] under full load.
//!
//! # Timing
//! An operation taken in cycle t reads the state RAM at the end of t and is done in t+1: its
//! state is written back at the end of t+1 and its event, if any, is on the DMA port from
//! t+2 (before: t+1). An operation on the queue written at the end of t+1 (the common case of
//! a burst into one queue) takes that word from a bypass register instead of the RAM, so one
//! event per cycle is sustained into one queue or into many. `in_ready` is high in cycles
//! where the pipeline takes an input (not for a register access, a queued wake-up, a forced
//! scrub, DMA back-pressure, or a nearly full wake FIFO); it is computed from flip-flops and
//! `dmaw_ready` only, none of the register side's address decode.
//! - `EVQ_*` register accesses: issued in the cycle after the strobe cycle s (or as soon as
//!   the pipeline accepts), answered with `ack` or `nak` (and `rdata`) in s+3 (before: s+2,
//!   issued in s); while the state RAM clears they are refused in s; global-page
//!   registers are in flip-flops and answer in s. An `EVQ_*` access the pipeline cannot
//!   answer within the bus timeout (DMA back-pressure held it) gets no answer, and the bus
//!   counts an error; such a write may or may not have taken effect.
//! - A wake found by an operation done in cycle t+1 is pushed into the wake FIFO at the end of
//!   t+1 and its WAKEUP taken in t+2 at the earliest: its beat is on the port from t+4, two
//!   cycles after the event that caused it (before: one). The interrupt for a WAKEUP whose
//!   beat is on the port from cycle u pulses in u+1 (unless held off), after the beat is taken.

use crate::event_pack::EventPack;
use crate::evq::{evq_words, op, EvqUpdate, STATE_BITS};
use crate::ram::ClearedRam;
use crate::regbus::{word, ACK_TIMEOUT, ADDR_BITS};
use crate::wake_fifo::WakeFifo;
use evnic_regs::event::EventType;
use evnic_regs::map::{global as g, GLOBAL_PAGE_BASE, VI_PAGE_BASE};
use rust_hdl::prelude::*;

/// Entries of the wake FIFO (queue numbers with the watchdog flag).
pub const WAKE_FIFO_DEPTH: usize = 4;
/// At most this many cycles pass between two scrubs while the engine can take operations.
pub const SCRUB_MAX_GAP: u64 = 1024;

/// Bits of a queue number in the core: enough for `NUM_VIS` queues.
pub const VI_BITS: usize = {
    let mut b = 1;
    while (1u32 << b) < evnic_regs::params::NUM_VIS {
        b += 1;
    }
    b
};

/// The engine as the core instantiates it: `NUM_VIS` queues behind the core's register bus.
pub type CoreEventEngine = EventEngine<VI_BITS, ADDR_BITS>;

/// Bits of a wake FIFO entry: the queue number (8) and the watchdog flag.
const WAKE_BITS: usize = 9;

#[derive(LogicBlock)]
pub struct EventEngine<const QB: usize, const AB: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<AB>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub nak: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub in_valid: Signal<In, Bit>,
    pub in_ready: Signal<Out, Bit>,
    pub in_vi: Signal<In, Bits<8>>,
    pub in_record: Signal<In, Bits<128>>,
    pub dmaw_valid: Signal<Out, Bit>,
    pub dmaw_ready: Signal<In, Bit>,
    pub dmaw_addr: Signal<Out, Bits<64>>,
    pub dmaw_data: Signal<Out, Bits<128>>,
    pub dmaw_strb: Signal<Out, Bits<16>>,
    pub irq: Signal<Out, Bit>,
    pub ready: Signal<Out, Bit>,
    pub ram_collision: Signal<Out, Bit>,

    ram: ClearedRam<STATE_BITS, QB>,
    upd: EvqUpdate,
    fifo: WakeFifo<WAKE_BITS, WAKE_FIFO_DEPTH>,
    wake_pack: EventPack,

    // Stage 1: the operation whose state word is being read.
    s1_valid: DFF<Bit>,
    s1_op: DFF<Bits<3>>,
    s1_q: DFF<Bits<QB>>,
    s1_qvalid: DFF<Bit>,
    s1_wakeup: DFF<Bit>,
    s1_word: DFF<Bits<10>>,
    s1_wdata: DFF<Bits<32>>,
    s1_record: DFF<Bits<128>>,
    s1_bypass: DFF<Bit>,
    /// The word written at the last write: stage 1's state when it names the same queue.
    written: DFF<Bits<STATE_BITS>>,
    // Register access waiting for the pipeline, and the answer.
    reg_pending: DFF<Bit>,
    reg_pending_write: DFF<Bit>,
    reg_age: DFF<Bits<6>>,
    ack_q: DFF<Bit>,
    nak_q: DFF<Bit>,
    rdata_q: DFF<Bits<32>>,
    // Scrubber.
    scrub_q: DFF<Bits<QB>>,
    scrub_gap: DFF<Bits<16>>,
    // DMA beat.
    out_valid: DFF<Bit>,
    out_addr: DFF<Bits<64>>,
    out_data: DFF<Bits<128>>,
    // Interrupts and counters.
    irq_q: DFF<Bit>,
    irq_vi: DFF<Bits<8>>,
    irq_enable: DFF<Bit>,
    holdoff: DFF<Bits<32>>,
    holdoff_left: DFF<Bits<32>>,
    irq_pending: DFF<Bit>,
    irq_count: DFF<Bits<32>>,
    wakeup_count: DFF<Bits<32>>,
    events_written: DFF<Bits<32>>,
    events_dropped: DFF<Bits<32>>,

    advance: Signal<Local, Bit>,
    go: Signal<Local, Bit>,
    page: Signal<Local, Bits<AB>>,
    vi_off: Signal<Local, Bits<AB>>,
    word: Signal<Local, Bits<10>>,
    reg_hit: Signal<Local, Bit>,
    reg_req: Signal<Local, Bit>,
    reg_write: Signal<Local, Bit>,
    fifo_ok: Signal<Local, Bit>,
    scrub_due: Signal<Local, Bit>,
    take_reg: Signal<Local, Bit>,
    take_wake: Signal<Local, Bit>,
    take_scrub: Signal<Local, Bit>,
    take_in: Signal<Local, Bit>,
    iss_valid: Signal<Local, Bit>,
    iss_op: Signal<Local, Bits<3>>,
    iss_q: Signal<Local, Bits<QB>>,
    iss_qvalid: Signal<Local, Bit>,
    iss_wakeup: Signal<Local, Bit>,
    iss_record: Signal<Local, Bits<128>>,
    /// Stage 1 is done with an operation on a valid queue: its word is written back.
    write_now: Signal<Local, Bit>,
    /// The word written back: the update's when it changes the state, else the state as read.
    wb_state: Signal<Local, Bits<STATE_BITS>>,
    done: Signal<Local, Bit>,
    s1_is_reg: Signal<Local, Bit>,
    answer: Signal<Local, Bit>,
    s1_is_irqq: Signal<Local, Bit>,
    fire: Signal<Local, Bit>,
    own_page: Signal<Local, Bit>,
    own_claim: Signal<Local, Bit>,
    own_rdata: Signal<Local, Bits<32>>,

    num_queues: Constant<Bits<16>>,
    last_queue: Constant<Bits<QB>>,
    vi_page: Constant<Bits<AB>>,
    vi_count: Constant<Bits<AB>>,
    global_page: Constant<Bits<AB>>,
    evq_first: Constant<Bits<10>>,
    /// `EVQ_*` words are `evq_first..=evq_first + evq_span` (one compare: the first is 0).
    evq_span: Constant<Bits<10>>,
    fifo_room: Constant<Bits<8>>,
    gap_max: Constant<Bits<16>>,
    issue_age_max: Constant<Bits<6>>,
    answer_age_max: Constant<Bits<6>>,
    k_none: Constant<Bits<3>>,
    k_push: Constant<Bits<3>>,
    k_read: Constant<Bits<3>>,
    k_write: Constant<Bits<3>>,
    k_scrub: Constant<Bits<3>>,
    k_wakeup: Constant<Bits<4>>,
    sh_irq_enable: Constant<Bits<8>>,
    w_irq_queue: Constant<Bits<10>>,
    w_irq_holdoff: Constant<Bits<10>>,
    w_irq_count: Constant<Bits<10>>,
    w_wakeup_count: Constant<Bits<10>>,
    w_events_written: Constant<Bits<10>>,
    w_events_dropped: Constant<Bits<10>>,
}

impl<const QB: usize, const AB: usize> EventEngine<QB, AB> {
    /// An engine of `num_queues` queues (at most 2^`QB`, at most 256).
    pub fn new(num_queues: u32) -> Self {
        assert!(
            (1..=8).contains(&QB),
            "queue numbers are 1..=8 bits (QB = {QB})"
        );
        assert!(
            num_queues >= 1 && num_queues <= 1 << QB,
            "{num_queues} queues do not fit 2^{QB} state words"
        );
        let vi_page = (VI_PAGE_BASE >> 12) as u64;
        assert!(
            vi_page + num_queues as u64 <= 1 << (AB - 12),
            "{num_queues} VI pages do not fit {AB} address bits"
        );
        let (first, last) = evq_words();
        EventEngine {
            clock: Default::default(),
            reset: Default::default(),
            cycles: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
            rdata: Default::default(),
            in_valid: Default::default(),
            in_ready: Default::default(),
            in_vi: Default::default(),
            in_record: Default::default(),
            dmaw_valid: Default::default(),
            dmaw_ready: Default::default(),
            dmaw_addr: Default::default(),
            dmaw_data: Default::default(),
            dmaw_strb: Default::default(),
            irq: Default::default(),
            ready: Default::default(),
            ram_collision: Default::default(),
            ram: Default::default(),
            upd: Default::default(),
            fifo: Default::default(),
            wake_pack: Default::default(),
            s1_valid: Default::default(),
            s1_op: Default::default(),
            s1_q: Default::default(),
            s1_qvalid: Default::default(),
            s1_wakeup: Default::default(),
            s1_word: Default::default(),
            s1_wdata: Default::default(),
            s1_record: Default::default(),
            s1_bypass: Default::default(),
            written: Default::default(),
            reg_pending: Default::default(),
            reg_pending_write: Default::default(),
            reg_age: Default::default(),
            ack_q: Default::default(),
            nak_q: Default::default(),
            rdata_q: Default::default(),
            scrub_q: Default::default(),
            scrub_gap: Default::default(),
            out_valid: Default::default(),
            out_addr: Default::default(),
            out_data: Default::default(),
            irq_q: Default::default(),
            irq_vi: Default::default(),
            irq_enable: Default::default(),
            holdoff: Default::default(),
            holdoff_left: Default::default(),
            irq_pending: Default::default(),
            irq_count: Default::default(),
            wakeup_count: Default::default(),
            events_written: Default::default(),
            events_dropped: Default::default(),
            advance: Default::default(),
            go: Default::default(),
            page: Default::default(),
            vi_off: Default::default(),
            word: Default::default(),
            reg_hit: Default::default(),
            reg_req: Default::default(),
            reg_write: Default::default(),
            fifo_ok: Default::default(),
            scrub_due: Default::default(),
            take_reg: Default::default(),
            take_wake: Default::default(),
            take_scrub: Default::default(),
            take_in: Default::default(),
            iss_valid: Default::default(),
            iss_op: Default::default(),
            iss_q: Default::default(),
            iss_qvalid: Default::default(),
            iss_wakeup: Default::default(),
            iss_record: Default::default(),
            write_now: Default::default(),
            wb_state: Default::default(),
            done: Default::default(),
            s1_is_reg: Default::default(),
            answer: Default::default(),
            s1_is_irqq: Default::default(),
            fire: Default::default(),
            own_page: Default::default(),
            own_claim: Default::default(),
            own_rdata: Default::default(),
            num_queues: Constant::new((num_queues as u64).into()),
            last_queue: Constant::new(((num_queues - 1) as u64).into()),
            vi_page: Constant::new(vi_page.into()),
            vi_count: Constant::new((num_queues as u64).into()),
            global_page: Constant::new(((GLOBAL_PAGE_BASE >> 12) as u64).into()),
            evq_first: Constant::new((first as u64).into()),
            evq_span: Constant::new(((last - first) as u64).into()),
            // Room for the operation ahead and for the one taken now.
            fifo_room: Constant::new(((WAKE_FIFO_DEPTH - 1) as u64).into()),
            gap_max: Constant::new((SCRUB_MAX_GAP - 1).into()),
            // An access of age a (a + 1 cycles after its strobe) done in that cycle is answered
            // in the next; the bus takes answers up to ACK_TIMEOUT - 1 cycles after the strobe.
            issue_age_max: Constant::new((ACK_TIMEOUT - 4).into()),
            answer_age_max: Constant::new((ACK_TIMEOUT - 3).into()),
            k_none: Constant::new(op::NONE.into()),
            k_push: Constant::new(op::PUSH.into()),
            k_read: Constant::new(op::READ.into()),
            k_write: Constant::new(op::WRITE.into()),
            k_scrub: Constant::new(op::SCRUB.into()),
            k_wakeup: Constant::new((EventType::Wakeup as u64).into()),
            sh_irq_enable: Constant::new((g::IRQ_QUEUE_ENABLE.lsb as u64).into()),
            w_irq_queue: word(&g::IRQ_QUEUE),
            w_irq_holdoff: word(&g::IRQ_HOLDOFF),
            w_irq_count: word(&g::IRQ_COUNT),
            w_wakeup_count: word(&g::WAKEUP_COUNT),
            w_events_written: word(&g::EVENTS_WRITTEN),
            w_events_dropped: word(&g::EVENTS_DROPPED),
        }
    }
}

impl<const QB: usize, const AB: usize> Default for EventEngine<QB, AB> {
    /// `NUM_VIS` queues, or 2^`QB` if fewer.
    fn default() -> Self {
        Self::new(evnic_regs::params::NUM_VIS.min(1 << QB))
    }
}

impl<const QB: usize, const AB: usize> Logic for EventEngine<QB, AB> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            s1_valid,
            s1_op,
            s1_q,
            s1_qvalid,
            s1_wakeup,
            s1_word,
            s1_wdata,
            s1_record,
            s1_bypass,
            written,
            reg_pending,
            reg_pending_write,
            reg_age,
            ack_q,
            nak_q,
            rdata_q,
            scrub_q,
            scrub_gap,
            out_valid,
            out_addr,
            out_data,
            irq_q,
            irq_vi,
            irq_enable,
            holdoff,
            holdoff_left,
            irq_pending,
            irq_count,
            wakeup_count,
            events_written,
            events_dropped
        );
        self.ram.clock.next = self.clock.val();
        self.ram.reset.next = self.reset.val();
        self.fifo.clock.next = self.clock.val();
        self.fifo.reset.next = self.reset.val();
        self.ready.next = self.ram.ready.val();
        self.ram_collision.next = self.ram.collision.val();

        // The pipeline moves when the DMA beat ahead of it is taken (or there is none).
        self.advance.next = !self.out_valid.q.val() | self.dmaw_ready.val();
        self.go.next = self.ram.ready.val() & self.advance.val() & !self.reset.val();

        // Register decode: an EVQ_* word in the page of an existing queue.
        self.page.next = self.addr.val() >> 12;
        self.vi_off.next = self.page.val() - self.vi_page.val();
        self.word.next = self.addr.val().get_bits::<10>(2);
        self.reg_hit.next = (self.rd.val() | self.wr.val())
            & (self.page.val() >= self.vi_page.val())
            & (self.vi_off.val() < self.vi_count.val())
            & ((self.word.val() - self.evq_first.val()) <= self.evq_span.val());
        // An access is issued from the cycle after its strobe, so that what the pipeline takes
        // (and `in_ready`, which the multicast's grant waits on) depends on flip-flops only,
        // not on this decode of the bus address.
        self.reg_req.next =
            self.reg_pending.q.val() & (self.reg_age.q.val() <= self.issue_age_max.val());
        self.reg_write.next = self.reg_pending_write.q.val();

        // What the pipeline takes this cycle (see the priorities above).
        self.fifo_ok.next = self.fifo.count.val() < self.fifo_room.val();
        self.scrub_due.next = self.scrub_gap.q.val() == self.gap_max.val();
        self.take_reg.next = self.go.val() & self.reg_req.val() & self.fifo_ok.val();
        self.take_wake.next = self.go.val() & !self.take_reg.val() & !self.fifo.empty.val();
        self.in_ready.next = self.go.val()
            & !self.reg_req.val()
            & self.fifo.empty.val()
            & self.fifo_ok.val()
            & !self.scrub_due.val();
        self.take_in.next = self.in_ready.val() & self.in_valid.val();
        self.take_scrub.next = self.go.val()
            & !self.reg_req.val()
            & self.fifo.empty.val()
            & self.fifo_ok.val()
            & (self.scrub_due.val() | !self.in_valid.val());

        // The WAKEUP at the head of the wake FIFO.
        self.wake_pack.kind.next = self.k_wakeup.val();
        self.wake_pack.flags.next = bit_cast::<8, 1>(self.fifo.head.val().get_bit(8).into());
        self.wake_pack.source.next = bit_cast::<16, 8>(self.fifo.head.val().get_bits::<8>(0));
        self.wake_pack.has_group.next = false;
        self.wake_pack.group.next = 0.into();
        self.wake_pack.payload.next = 0.into();
        self.wake_pack.aux.next = 0.into();
        self.wake_pack.timestamp.next = self.cycles.val();
        self.fifo.pop.next = self.take_wake.val();

        self.iss_valid.next =
            self.take_reg.val() | self.take_wake.val() | self.take_scrub.val() | self.take_in.val();
        self.iss_op.next = self.k_none.val();
        self.iss_q.next = 0.into();
        self.iss_qvalid.next = false;
        self.iss_wakeup.next = false;
        self.iss_record.next = self.in_record.val();
        // The input first: the takes are exclusive, and so the multicast's queue number (from
        // its member RAM's output) passes one mux on its way to the state RAM's address.
        if self.take_in.val() {
            self.iss_op.next = self.k_push.val();
            self.iss_q.next = self.in_vi.val().get_bits::<QB>(0);
            self.iss_qvalid.next = bit_cast::<16, 8>(self.in_vi.val()) < self.num_queues.val();
        } else if self.take_reg.val() {
            self.iss_op.next = self.k_read.val();
            if self.reg_write.val() {
                self.iss_op.next = self.k_write.val();
            }
            self.iss_q.next = self.vi_off.val().get_bits::<QB>(0);
            self.iss_qvalid.next = true;
        } else if self.take_wake.val() {
            self.iss_op.next = self.k_push.val();
            self.iss_q.next = self.irq_vi.q.val().get_bits::<QB>(0);
            self.iss_qvalid.next = bit_cast::<16, 8>(self.irq_vi.q.val()) < self.num_queues.val();
            self.iss_wakeup.next = true;
            self.iss_record.next = self.wake_pack.record.val();
        } else if self.take_scrub.val() {
            self.iss_op.next = self.k_scrub.val();
            self.iss_q.next = self.scrub_q.q.val();
            self.iss_qvalid.next = true;
        }

        // Register access bookkeeping: wait for the pipeline, but not past the bus timeout (an
        // access the bus gave up on is dropped, or executed and not answered, so that a late
        // answer never lands on the next access).
        self.s1_is_reg.next = self.s1_valid.q.val()
            & ((self.s1_op.q.val() == self.k_read.val())
                | (self.s1_op.q.val() == self.k_write.val()));
        if self.reg_hit.val() {
            self.reg_age.d.next = 0.into();
            self.reg_pending_write.d.next = self.wr.val();
        } else if (self.reg_pending.q.val() | self.s1_is_reg.val()) & !self.reg_age.q.val().all() {
            self.reg_age.d.next = self.reg_age.q.val() + 1;
        }
        if self.take_reg.val()
            | (self.reg_pending.q.val() & (self.reg_age.q.val() > self.issue_age_max.val()))
        {
            self.reg_pending.d.next = false;
        }
        if self.reg_hit.val() & self.ram.ready.val() {
            self.reg_pending.d.next = true;
        }

        // Stage 1: the state word (from the RAM, or the word just written), the update.
        self.done.next = self.advance.val() & self.s1_valid.q.val();
        self.upd.state.next = self.ram.rd_data.val();
        if self.s1_bypass.q.val() {
            self.upd.state.next = self.written.q.val();
        }

        self.upd.op.next = self.k_none.val();
        if self.s1_valid.q.val() & self.s1_qvalid.q.val() {
            self.upd.op.next = self.s1_op.q.val();
        }
        self.upd.word.next = self.s1_word.q.val();
        self.upd.wdata.next = self.s1_wdata.q.val();
        self.upd.record.next = self.s1_record.q.val();
        self.upd.queue.next = bit_cast::<16, QB>(self.s1_q.q.val());
        self.upd.cycles.next = self.cycles.val();
        // Every operation done on a valid queue writes its word back, changed or not, so that
        // the RAM's write enable and the read of the next operation (below) do not wait for
        // the update's result (for timing: the update is stage 1's whole cycle).
        self.write_now.next = self.done.val() & self.s1_qvalid.q.val();
        // (`new_state` is the state as read whenever the update does not change it.)
        self.wb_state.next = self.upd.new_state.val();

        // The state RAM: stage 1 writes back; the operation taken now reads, unless it names
        // the queue being written (then it takes the written word from the bypass).
        self.ram.wr_en.next = self.write_now.val();
        self.ram.wr_addr.next = self.s1_q.q.val();
        self.ram.wr_data.next = self.wb_state.val();
        self.ram.rd_addr.next = self.iss_q.val();
        self.ram.rd_en.next = self.iss_valid.val()
            & self.iss_qvalid.val()
            & !(self.write_now.val() & (self.s1_q.q.val() == self.iss_q.val()));
        if self.write_now.val() {
            self.written.d.next = self.wb_state.val();
        }
        if self.advance.val() {
            self.s1_valid.d.next = self.iss_valid.val();
            self.s1_op.d.next = self.iss_op.val();
            self.s1_q.d.next = self.iss_q.val();
            self.s1_qvalid.d.next = self.iss_qvalid.val();
            self.s1_wakeup.d.next = self.iss_wakeup.val();
            self.s1_word.d.next = self.word.val();
            self.s1_wdata.d.next = self.wdata.val();
            self.s1_record.d.next = self.iss_record.val();
            self.s1_bypass.d.next = self.write_now.val() & (self.s1_q.q.val() == self.iss_q.val());
        }

        // Stage 1 done: the DMA beat, the register answer, the counters, the wake.
        if self.advance.val() {
            self.out_valid.d.next = self.s1_valid.q.val() & self.upd.beat.val();
            self.out_addr.d.next = self.upd.beat_addr.val();
            self.out_data.d.next = self.upd.beat_data.val();
        }
        self.dmaw_valid.next = self.out_valid.q.val();
        self.dmaw_addr.next = self.out_addr.q.val();
        self.dmaw_data.next = self.out_data.q.val();
        self.dmaw_strb.next = 0xFFFF.into();

        self.answer.next = self.done.val() & (self.reg_age.q.val() <= self.answer_age_max.val());
        self.ack_q.d.next = self.answer.val() & self.upd.ack.val();
        self.nak_q.d.next = self.answer.val() & self.upd.nak.val();
        self.rdata_q.d.next = 0.into();
        if self.answer.val() & self.upd.ack.val() {
            self.rdata_q.d.next = self.upd.rdata.val();
        }

        if self.done.val() & self.upd.beat.val() {
            self.events_written.d.next = self.events_written.q.val() + 1;
            if self.s1_wakeup.q.val() {
                self.wakeup_count.d.next = self.wakeup_count.q.val() + 1;
            }
        }
        if self.done.val()
            & (self.upd.dropped.val()
                | (!self.s1_qvalid.q.val() & (self.s1_op.q.val() == self.k_push.val())))
        {
            self.events_dropped.d.next = self.events_dropped.q.val() + 1;
        }

        self.s1_is_irqq.next = bit_cast::<8, QB>(self.s1_q.q.val()) == self.irq_vi.q.val();
        self.fifo.push.next = false;
        self.fifo.data.next = bit_cast::<9, QB>(self.s1_q.q.val())
            | (bit_cast::<9, 1>(self.upd.wake_watchdog.val().into()) << 8);
        if self.done.val() & self.upd.wake.val() & self.irq_enable.q.val() {
            if self.s1_is_irqq.val() {
                self.irq_pending.d.next = true;
            } else {
                self.fifo.push.next = true;
            }
        }

        // Scrubber: the next queue in turn, at least one scrub per SCRUB_MAX_GAP cycles.
        if self.take_scrub.val() {
            self.scrub_gap.d.next = 0.into();
            self.scrub_q.d.next = self.scrub_q.q.val() + 1;
            if self.scrub_q.q.val() == self.last_queue.val() {
                self.scrub_q.d.next = 0.into();
            }
        } else if !self.scrub_due.val() {
            self.scrub_gap.d.next = self.scrub_gap.q.val() + 1;
        }

        // Interrupt with hold-off, raised once the beats before it were taken.
        if self.holdoff_left.q.val() != 0 {
            self.holdoff_left.d.next = self.holdoff_left.q.val() - 1;
        }
        self.fire.next =
            self.irq_pending.q.val() & (self.holdoff_left.q.val() == 0) & self.advance.val();
        self.irq_q.d.next = self.fire.val();
        if self.fire.val() {
            self.irq_pending.d.next = self.done.val()
                & self.upd.wake.val()
                & self.irq_enable.q.val()
                & self.s1_is_irqq.val();
            self.holdoff_left.d.next = self.holdoff.q.val();
            self.irq_count.d.next = self.irq_count.q.val() + 1;
        }
        self.irq.next = self.irq_q.q.val();

        // Own registers in the global page (flip-flops: answered in the strobe cycle).
        self.own_page.next = self.page.val() == self.global_page.val();
        self.own_claim.next = false;
        self.own_rdata.next = 0.into();
        if self.own_page.val() & (self.rd.val() | self.wr.val()) {
            if self.word.val() == self.w_irq_queue.val() {
                self.own_claim.next = true;
                self.own_rdata.next = bit_cast::<32, 8>(self.irq_vi.q.val())
                    | (bit_cast::<32, 1>(self.irq_enable.q.val().into())
                        << self.sh_irq_enable.val());
                if self.wr.val() {
                    self.irq_vi.d.next = self.wdata.val().get_bits::<8>(0);
                    self.irq_enable.d.next =
                        self.wdata.val().get_bit(self.sh_irq_enable.val().index());
                }
            }
            if self.word.val() == self.w_irq_holdoff.val() {
                self.own_claim.next = true;
                self.own_rdata.next = self.holdoff.q.val();
                if self.wr.val() {
                    self.holdoff.d.next = self.wdata.val();
                }
            }
            if self.rd.val() {
                if self.word.val() == self.w_irq_count.val() {
                    self.own_claim.next = true;
                    self.own_rdata.next = self.irq_count.q.val();
                }
                if self.word.val() == self.w_wakeup_count.val() {
                    self.own_claim.next = true;
                    self.own_rdata.next = self.wakeup_count.q.val();
                }
                if self.word.val() == self.w_events_written.val() {
                    self.own_claim.next = true;
                    self.own_rdata.next = self.events_written.q.val();
                }
                if self.word.val() == self.w_events_dropped.val() {
                    self.own_claim.next = true;
                    self.own_rdata.next = self.events_dropped.q.val();
                }
            }
        }
        if !self.rd.val() {
            self.own_rdata.next = 0.into();
        }
        self.ack.next = self.own_claim.val() | self.ack_q.q.val();
        // Refused: by the queue (a doorbell that lies, a bad size, a read-only register), or
        // at once while the state RAM is being cleared.
        self.nak.next = self.nak_q.q.val() | (self.reg_hit.val() & !self.ram.ready.val());
        self.rdata.next = self.own_rdata.val() | self.rdata_q.q.val();

        if self.reset.val() {
            self.s1_valid.d.next = false;
            self.reg_pending.d.next = false;
            self.ack_q.d.next = false;
            self.nak_q.d.next = false;
            self.scrub_q.d.next = 0.into();
            self.scrub_gap.d.next = 0.into();
            self.out_valid.d.next = false;
            self.irq_q.d.next = false;
            self.irq_vi.d.next = 0.into();
            self.irq_enable.d.next = false;
            self.holdoff.d.next = 0.into();
            self.holdoff_left.d.next = 0.into();
            self.irq_pending.d.next = false;
            self.irq_count.d.next = 0.into();
            self.wakeup_count.d.next = 0.into();
            self.events_written.d.next = 0.into();
            self.events_dropped.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evq::tests::{record_bits, u128_words, u64_at};
    use evnic_regs::event::{Event, EventType};
    use evnic_regs::map::{global_reg, vi, vi_reg};
    use rand::{Rng, SeedableRng};
    use std::collections::{HashMap, VecDeque};
    use std::sync::{Arc, Mutex};

    /// The engine's inputs in one cycle.
    #[derive(Clone, Copy, Debug, Default)]
    struct Drive {
        reset: bool,
        rd: bool,
        wr: bool,
        addr: u64,
        wdata: u32,
        in_valid: bool,
        in_vi: u8,
        in_record: [u64; 2],
        dmaw_ready: bool,
    }

    /// The engine's outputs in one cycle (after its inputs settled, before the edge).
    #[derive(Clone, Copy, Debug, Default)]
    struct Seen {
        ack: bool,
        nak: bool,
        rdata: u32,
        in_ready: bool,
        dmaw_valid: bool,
        dmaw_addr: u64,
        dmaw_data: [u64; 2],
        irq: bool,
        ready: bool,
    }

    /// What drives the engine: each cycle `drive` gives the inputs, `observe` the outputs of
    /// that cycle; `done` ends the run.
    trait Env: Send + 'static {
        fn drive(&mut self, cycle: u64) -> Drive;
        fn observe(&mut self, cycle: u64, d: &Drive, s: &Seen);
        fn done(&self) -> bool;
    }

    /// Runs an engine of `queues` queues against `env` for at most `max_cycles`.
    fn simulate<const QB: usize, const AB: usize, E: Env>(
        queues: u32,
        env: E,
        max_cycles: u64,
    ) -> E {
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<EventEngine<QB, AB>>| {
            x.clock.next = !x.clock.val()
        });
        let slot = Arc::new(Mutex::new(Some(env)));
        let back = slot.clone();
        sim.add_testbench(move |mut ep: Sim<EventEngine<QB, AB>>| {
            let mut env = back.lock().unwrap().take().expect("one testbench run");
            let mut x = ep.init()?;
            for cycle in 0..max_cycles {
                if env.done() {
                    break;
                }
                let d = env.drive(cycle);
                x.reset.next = d.reset;
                x.cycles.next = cycle.into();
                x.rd.next = d.rd;
                x.wr.next = d.wr;
                x.addr.next = d.addr.into();
                x.wdata.next = (d.wdata as u64).into();
                x.in_valid.next = d.in_valid;
                x.in_vi.next = (d.in_vi as u64).into();
                x.in_record.next = record_bits(d.in_record);
                x.dmaw_ready.next = d.dmaw_ready;
                x = ep.wait(1, x)?;
                let s = Seen {
                    ack: x.ack.val(),
                    nak: x.nak.val(),
                    rdata: x.rdata.val().index() as u32,
                    in_ready: x.in_ready.val(),
                    dmaw_valid: x.dmaw_valid.val(),
                    dmaw_addr: u64_at(x.dmaw_addr.val(), 0),
                    dmaw_data: u128_words(x.dmaw_data.val()),
                    irq: x.irq.val(),
                    ready: x.ready.val(),
                };
                assert!(!x.ram_collision.val(), "RAM collision in cycle {cycle}");
                env.observe(cycle, &d, &s);
                wait_clock_cycle!(ep, clock, x);
            }
            *back.lock().unwrap() = Some(env);
            ep.done(x)
        });
        let mut uut = EventEngine::<QB, AB>::new(queues);
        uut.connect_all();
        sim.run(Box::new(uut), max_cycles * 10 + 100).unwrap();
        let env = slot.lock().unwrap().take().expect("testbench finished");
        env
    }

    /// IOVA of queue `q`'s ring in these tests.
    fn ring_base(q: u32) -> u64 {
        0x1_0000_0000 + ((q as u64) << 20)
    }

    /// A register access of the host, and what it expects back.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Expect {
        Ack,
        Nak,
        /// Either, for accesses whose validity the host cannot know for sure.
        Any,
    }

    #[derive(Clone, Copy, Debug)]
    struct Access {
        write: bool,
        addr: u64,
        data: u32,
        expect: Expect,
        /// What the completion means to the host model.
        kind: AccessKind,
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum AccessKind {
        Plain,
        Doorbell { q: u32, prime: bool },
        ReadWptr(u32),
        ReadRptr(u32),
        ReadStatus(u32),
        ReadDrops(u32),
        ReadGlobal(u32),
        Watchdog(u32),
    }

    fn evq(q: u32, r: &evnic_regs::Reg) -> u64 {
        vi_reg(q, r) as u64
    }

    /// The host's view of one queue.
    #[derive(Clone, Debug, Default)]
    struct HostQueue {
        size_log2: u32,
        /// Events seen written (the device's write count as the host can know it).
        seen: u32,
        /// The read count the device acknowledged last.
        rptr: u32,
        /// Ids of the input events accepted for this queue, in order.
        accepted: VecDeque<u64>,
        accepted_total: u64,
        delivered: u64,
        last_id: Option<u64>,
        overflow_reported: u64,
        primes: u64,
        doorbells: u64,
        normal_wakes: u64,
        watchdog_wakes: u64,
        /// Primed, and no WAKEUP for it seen since.
        armed_host: bool,
        /// A wake seen since the last doorbell.
        woke_since_doorbell: bool,
        wd_limit: u32,
        drops_read: Option<u32>,
    }

    /// Random traffic against a host model: inputs into random queues (often a burst into
    /// one), doorbells, primes, lying doorbells, register reads, watchdog limits, DMA
    /// back-pressure; every DMA beat and register answer is checked as it happens, and the
    /// accounting at the end.
    struct Traffic {
        rng: rand_chacha::ChaCha8Rng,
        queues: u32,
        irq_vi: u32,
        holdoff: u32,
        host: Vec<HostQueue>,
        cycles: u64,
        traffic_cycles: u64,
        input_rate: f64,
        stall_rate: f64,
        // Producer.
        offer: Option<(u8, u64)>,
        next_id: u64,
        last_vi: u8,
        invalid_inputs: u64,
        // Bus.
        setup: VecDeque<Access>,
        current: Option<(Access, u64)>,
        issued: bool,
        gap: u64,
        // Results.
        beats: u64,
        irqs: Vec<u64>,
        irq_primes: u64,
        globals: HashMap<u32, u32>,
        finished: bool,
        ready_at: Option<u64>,
    }

    impl Traffic {
        fn new(seed: u64, queues: u32, traffic_cycles: u64) -> Traffic {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let irq_vi = queues - 1;
            let mut setup = VecDeque::new();
            let mut host = vec![HostQueue::default(); queues as usize];
            let holdoff = 20;
            let plain = |write, addr, data| Access {
                write,
                addr,
                data,
                expect: Expect::Ack,
                kind: AccessKind::Plain,
            };
            for (q, h) in host.iter_mut().enumerate() {
                let q = q as u32;
                // A few queues stay disabled; the interrupt queue is large enough never to
                // fill (at most two WAKEUPs per queue and doorbell).
                let size_log2 = if q == irq_vi {
                    10
                } else if rng.gen_bool(0.05) {
                    0
                } else {
                    rng.gen_range(vi::EVQ_SIZE_MIN..=6)
                };
                h.size_log2 = size_log2;
                setup.push_back(plain(true, evq(q, &vi::EVQ_BASE_LO), ring_base(q) as u32));
                setup.push_back(plain(
                    true,
                    evq(q, &vi::EVQ_BASE_HI),
                    (ring_base(q) >> 32) as u32,
                ));
                setup.push_back(plain(true, evq(q, &vi::EVQ_SIZE), size_log2));
            }
            setup.push_back(plain(
                true,
                global_reg(&g::IRQ_QUEUE) as u64,
                g::IRQ_QUEUE_VI.put(irq_vi) | g::IRQ_QUEUE_ENABLE.put(1),
            ));
            setup.push_back(plain(true, global_reg(&g::IRQ_HOLDOFF) as u64, holdoff));
            Traffic {
                rng,
                queues,
                irq_vi,
                holdoff,
                host,
                cycles: 0,
                traffic_cycles,
                input_rate: 0.8,
                stall_rate: 0.0,
                offer: None,
                next_id: 1,
                last_vi: 0,
                invalid_inputs: 0,
                setup,
                current: None,
                issued: false,
                gap: 0,
                beats: 0,
                irqs: Vec::new(),
                irq_primes: 0,
                globals: HashMap::new(),
                finished: false,
                ready_at: None,
            }
        }

        fn traffic_on(&self, cycle: u64) -> bool {
            self.setup.is_empty() && cycle < self.traffic_cycles
        }

        /// The host's next register access during traffic.
        fn random_access(&mut self) -> Option<Access> {
            let rng = &mut self.rng;
            let q = if rng.gen_bool(0.2) {
                self.irq_vi
            } else {
                rng.gen_range(0..self.queues)
            };
            let h = &self.host[q as usize];
            let doorbell = |prime: bool, value: u32, expect: Expect| Access {
                write: true,
                addr: evq(q, if prime { &vi::EVQ_PRIME } else { &vi::EVQ_RPTR }),
                data: value,
                expect,
                kind: AccessKind::Doorbell { q, prime },
            };
            let legal = h
                .rptr
                .wrapping_add(rng.gen_range(0..=h.seen.wrapping_sub(h.rptr)));
            Some(match rng.gen_range(0..20) {
                0..=5 => doorbell(false, legal, Expect::Ack),
                6..=9 => doorbell(true, legal, Expect::Ack),
                10 => doorbell(rng.gen(), h.rptr.wrapping_sub(1), Expect::Nak),
                11 => doorbell(rng.gen(), h.seen.wrapping_add(1000), Expect::Nak),
                12 => Access {
                    write: false,
                    addr: evq(q, &vi::EVQ_WPTR),
                    data: 0,
                    expect: Expect::Ack,
                    kind: AccessKind::ReadWptr(q),
                },
                13 => Access {
                    write: false,
                    addr: evq(q, &vi::EVQ_RPTR),
                    data: 0,
                    expect: Expect::Ack,
                    kind: AccessKind::ReadRptr(q),
                },
                14 => Access {
                    write: false,
                    addr: evq(q, &vi::EVQ_STATUS),
                    data: 0,
                    expect: Expect::Ack,
                    kind: AccessKind::ReadStatus(q),
                },
                15 if q != self.irq_vi => Access {
                    write: true,
                    addr: evq(q, &vi::EVQ_WATCHDOG),
                    data: [0, 40, 300, 900][rng.gen_range(0..4)],
                    expect: Expect::Ack,
                    kind: AccessKind::Watchdog(q),
                },
                16 => Access {
                    write: true,
                    addr: evq(q, &vi::EVQ_WPTR),
                    data: 0,
                    expect: Expect::Nak,
                    kind: AccessKind::Plain,
                },
                17 => Access {
                    write: false,
                    addr: evq(q, &vi::EVQ_PRIME),
                    data: 0,
                    expect: Expect::Nak,
                    kind: AccessKind::Plain,
                },
                _ => return None,
            })
        }

        fn start_final_reads(&mut self) {
            for q in 0..self.queues {
                for (r, kind) in [
                    (&vi::EVQ_DROPS, AccessKind::ReadDrops(q)),
                    (&vi::EVQ_WPTR, AccessKind::ReadWptr(q)),
                    (&vi::EVQ_STATUS, AccessKind::ReadStatus(q)),
                ] {
                    self.setup.push_back(Access {
                        write: false,
                        addr: evq(q, r),
                        data: 0,
                        expect: Expect::Ack,
                        kind,
                    });
                }
            }
            for r in [
                &g::EVENTS_WRITTEN,
                &g::EVENTS_DROPPED,
                &g::WAKEUP_COUNT,
                &g::IRQ_COUNT,
            ] {
                self.setup.push_back(Access {
                    write: false,
                    addr: global_reg(r) as u64,
                    data: 0,
                    expect: Expect::Ack,
                    kind: AccessKind::ReadGlobal(r.offset),
                });
            }
        }

        fn complete(&mut self, a: Access, ack: bool, rdata: u32, cycle: u64) {
            match a.expect {
                Expect::Ack => assert!(ack, "cycle {cycle}: {a:?} refused"),
                Expect::Nak => assert!(!ack, "cycle {cycle}: {a:?} accepted"),
                Expect::Any => {}
            }
            if !ack {
                return;
            }
            match a.kind {
                AccessKind::Plain => {}
                AccessKind::Doorbell { q, prime } => {
                    let h = &mut self.host[q as usize];
                    h.rptr = a.data;
                    h.doorbells += 1;
                    h.woke_since_doorbell = false;
                    if prime {
                        h.primes += 1;
                        h.armed_host = true;
                        if q == self.irq_vi {
                            self.irq_primes += 1;
                        }
                    }
                }
                AccessKind::ReadWptr(q) => {
                    assert_eq!(
                        rdata, self.host[q as usize].seen,
                        "cycle {cycle}: EVQ_WPTR of {q}"
                    )
                }
                AccessKind::ReadRptr(q) => {
                    assert_eq!(
                        rdata, self.host[q as usize].rptr,
                        "cycle {cycle}: EVQ_RPTR of {q}"
                    )
                }
                AccessKind::ReadStatus(q) => {
                    let h = &self.host[q as usize];
                    if vi::EVQ_STATUS_ARMED.get(rdata) == 1 {
                        assert!(h.armed_host, "cycle {cycle}: queue {q} armed, never primed");
                    }
                    assert_eq!(
                        vi::EVQ_STATUS_ENABLED.get(rdata),
                        (h.size_log2 != 0) as u32,
                        "queue {q} enabled"
                    );
                }
                AccessKind::ReadDrops(q) => self.host[q as usize].drops_read = Some(rdata),
                AccessKind::ReadGlobal(offset) => {
                    self.globals.insert(offset, rdata);
                }
                AccessKind::Watchdog(q) => self.host[q as usize].wd_limit = a.data,
            }
        }

        fn beat(&mut self, cycle: u64, addr: u64, data: [u64; 2]) {
            self.beats += 1;
            let q = ((addr - ring_base(0)) >> 20) as u32;
            assert!(
                q < self.queues,
                "cycle {cycle}: beat at {addr:#x} outside the rings"
            );
            let h = &mut self.host[q as usize];
            assert!(
                h.size_log2 != 0,
                "cycle {cycle}: write into disabled queue {q}"
            );
            let size = 1u32 << h.size_log2;
            assert_eq!(
                addr,
                ring_base(q) + (((h.seen & (size - 1)) as u64) << 4),
                "cycle {cycle}: queue {q} slot"
            );
            let e = Event::decode(data);
            assert!(
                h.seen.wrapping_sub(h.rptr) < size,
                "cycle {cycle}: queue {q} overwritten: write count {} read count {} by {e:?}",
                h.seen,
                h.rptr
            );
            assert_eq!(
                e.phase,
                (h.seen >> h.size_log2) & 1 == 0,
                "cycle {cycle}: queue {q} phase"
            );
            h.seen = h.seen.wrapping_add(1);
            match e.event_type() {
                Some(EventType::Indication) => {
                    let id = e.payload as u64;
                    while h.accepted.front().is_some_and(|a| *a < id) {
                        h.accepted.pop_front();
                    }
                    assert_eq!(
                        h.accepted.pop_front(),
                        Some(id),
                        "cycle {cycle}: queue {q}: event {id} not accepted for it, or out of order"
                    );
                    assert!(h.last_id < Some(id));
                    h.last_id = Some(id);
                    h.delivered += 1;
                }
                Some(EventType::Overflow) => {
                    assert_eq!(e.source as u32, q, "OVERFLOW source");
                    assert!(e.payload > 0, "an OVERFLOW reports drops");
                    assert!(e.timestamp <= cycle && cycle - e.timestamp < 200);
                    h.overflow_reported += e.payload as u64;
                }
                Some(EventType::Wakeup) => {
                    assert_eq!(
                        q, self.irq_vi,
                        "cycle {cycle}: WAKEUP outside the interrupt queue"
                    );
                    assert!(e.timestamp <= cycle && cycle - e.timestamp < 200);
                    let w = e.source as u32;
                    assert!(w < self.queues && w != self.irq_vi);
                    let h = &mut self.host[w as usize];
                    if e.flags & 1 == 1 {
                        h.watchdog_wakes += 1;
                    } else {
                        h.normal_wakes += 1;
                        h.armed_host = false;
                    }
                    h.woke_since_doorbell = true;
                    assert!(
                        h.normal_wakes <= h.primes,
                        "cycle {cycle}: queue {w} woke {} times for {} primes",
                        h.normal_wakes,
                        h.primes
                    );
                    assert!(
                        h.normal_wakes + h.watchdog_wakes <= h.doorbells + 1,
                        "cycle {cycle}: queue {w} woke {} + {} times for {} doorbells",
                        h.normal_wakes,
                        h.watchdog_wakes,
                        h.doorbells
                    );
                }
                other => panic!("cycle {cycle}: unexpected event {other:?} in queue {q}"),
            }
        }

        /// Checks at the end of the run.
        fn check(&self) {
            let mut drops_total = self.invalid_inputs;
            for (q, h) in self.host.iter().enumerate() {
                let drops_now = h.drops_read.expect("EVQ_DROPS read") as u64;
                assert_eq!(
                    h.accepted_total,
                    h.delivered + h.overflow_reported + drops_now,
                    "queue {q}: accepted = delivered + reported + still counted"
                );
                drops_total += h.overflow_reported + drops_now;
                if h.armed_host && q as u32 != self.irq_vi {
                    assert_eq!(
                        h.seen, h.rptr,
                        "queue {q} armed with events unread never woke"
                    );
                }
                if h.wd_limit != 0 && h.seen != h.rptr && q as u32 != self.irq_vi {
                    assert!(h.woke_since_doorbell, "queue {q}: watchdog never fired");
                }
            }
            let irqq = &self.host[self.irq_vi as usize];
            assert_eq!(
                irqq.overflow_reported, 0,
                "the interrupt queue never filled"
            );
            if irqq.armed_host {
                assert_eq!(
                    irqq.seen, irqq.rptr,
                    "primed interrupt queue with WAKEUPs unread"
                );
            }
            let global = |r: &evnic_regs::Reg| self.globals[&r.offset] as u64;
            assert_eq!(global(&g::EVENTS_WRITTEN), self.beats);
            assert_eq!(global(&g::EVENTS_DROPPED), drops_total);
            let wakeups: u64 = self
                .host
                .iter()
                .map(|h| h.normal_wakes + h.watchdog_wakes)
                .sum();
            assert_eq!(global(&g::WAKEUP_COUNT), wakeups);
            assert_eq!(global(&g::IRQ_COUNT), self.irqs.len() as u64);
            assert!(self.irqs.len() as u64 <= self.irq_primes);
            for w in self.irqs.windows(2) {
                assert!(w[1] - w[0] >= self.holdoff as u64, "hold-off kept");
            }
        }
    }

    impl Env for Traffic {
        fn drive(&mut self, cycle: u64) -> Drive {
            let mut d = Drive {
                reset: cycle < 2,
                dmaw_ready: !self.rng.gen_bool(self.stall_rate),
                ..Default::default()
            };
            if cycle < 2 || self.ready_at.is_none() {
                return d;
            }
            // Producer: a burst into one queue half of the time.
            if self.offer.is_none() && self.traffic_on(cycle) && self.rng.gen_bool(self.input_rate)
            {
                let vi = if self.rng.gen_bool(0.5) {
                    self.last_vi
                } else {
                    self.rng.gen_range(0..=255u8)
                };
                if (vi as u32) < self.queues {
                    self.last_vi = vi;
                }
                self.offer = Some((vi, self.next_id));
                self.next_id += 1;
            }
            if let Some((vi, id)) = self.offer {
                d.in_valid = true;
                d.in_vi = vi;
                d.in_record = Event {
                    kind: EventType::Indication as u8,
                    phase: false,
                    flags: 0,
                    source: 7,
                    group: None,
                    payload: id as u32,
                    timestamp: cycle,
                    aux: 0,
                }
                .encode();
            }
            // Host: one access at a time.
            if self.current.is_none() {
                if self.gap > 0 {
                    self.gap -= 1;
                } else if let Some(a) = self.setup.pop_front() {
                    self.current = Some((a, cycle));
                } else if self.traffic_on(cycle) {
                    if let Some(a) = self.random_access() {
                        self.current = Some((a, cycle));
                    }
                    self.gap = self.rng.gen_range(0..6);
                }
                self.issued = false;
            }
            if let Some((a, _)) = self.current {
                d.addr = a.addr;
                d.wdata = a.data;
                if !self.issued {
                    d.rd = !a.write;
                    d.wr = a.write;
                    self.issued = true;
                }
            }
            d
        }

        fn observe(&mut self, cycle: u64, d: &Drive, s: &Seen) {
            self.cycles = cycle;
            if s.ready && self.ready_at.is_none() && cycle >= 2 {
                self.ready_at = Some(cycle);
            }
            if d.in_valid && s.in_ready {
                let (vi, id) = self.offer.take().unwrap();
                if (vi as u32) < self.queues {
                    let h = &mut self.host[vi as usize];
                    h.accepted.push_back(id);
                    h.accepted_total += 1;
                } else {
                    self.invalid_inputs += 1;
                }
            }
            if s.irq {
                self.irqs.push(cycle);
                // Each interrupt answers at least one prime of the interrupt queue (a prime
                // that arrives while an interrupt is held off may be answered by it).
                assert!(
                    self.irqs.len() as u64 <= self.irq_primes,
                    "cycle {cycle}: more interrupts than primes of the interrupt queue"
                );
                self.host[self.irq_vi as usize].armed_host = false;
            }
            assert!(!(s.ack && s.nak), "ack and nak at once");
            if let Some((a, start)) = self.current {
                if s.ack || s.nak {
                    assert!(cycle - start < ACK_TIMEOUT, "answered in time");
                    self.current = None;
                    self.complete(a, s.ack, s.rdata, cycle);
                } else {
                    assert!(
                        cycle - start < ACK_TIMEOUT,
                        "cycle {cycle}: no answer to {a:?}"
                    );
                }
            } else {
                assert!(!s.ack && !s.nak, "cycle {cycle}: answer without an access");
            }
            // After the answer: a doorbell's OVERFLOW is on the port in its answer's cycle.
            if s.dmaw_valid && d.dmaw_ready {
                self.beat(cycle, s.dmaw_addr, s.dmaw_data);
            }
            // After the traffic: let the queues settle (watchdogs included), then read back.
            if cycle == self.traffic_cycles + 1500 {
                self.start_final_reads();
            }
            if cycle > self.traffic_cycles + 1500 && self.setup.is_empty() && self.current.is_none()
            {
                self.finished = true;
            }
        }

        fn done(&self) -> bool {
            self.finished
        }
    }

    fn random_traffic<const QB: usize, const AB: usize>(
        seed: u64,
        queues: u32,
        cycles: u64,
        stall_rate: f64,
    ) {
        let mut t = Traffic::new(seed, queues, cycles);
        t.stall_rate = stall_rate;
        let setup = t.setup.len() as u64;
        let t = simulate::<QB, AB, _>(queues, t, cycles + setup * 8 + 20_000);
        assert!(t.finished, "the run completed");
        t.check();
        let delivered: u64 = t.host.iter().map(|h| h.delivered).sum();
        let overflowed: u64 = t.host.iter().map(|h| h.overflow_reported).sum();
        let wakes: u64 = t.host.iter().map(|h| h.normal_wakes).sum();
        let wd: u64 = t.host.iter().map(|h| h.watchdog_wakes).sum();
        println!(
            "{queues} queues: {} accepted, {delivered} delivered, {overflowed} reported by OVERFLOW, {} invalid, {wakes} wake-ups, {wd} watchdog wake-ups, {} interrupts",
            t.next_id - 1,
            t.invalid_inputs,
            t.irqs.len()
        );
        assert!(delivered > 0 && overflowed > 0 && wakes > 0 && wd > 0 && !t.irqs.is_empty());
    }

    #[test]
    fn random_traffic_at_256_queues_matches_the_host_model() {
        random_traffic::<8, 21>(1, 256, 12_000, 0.0);
    }

    #[test]
    fn random_traffic_with_dma_back_pressure_and_invalid_queues() {
        random_traffic::<8, 21>(2, 200, 8_000, 0.2);
    }

    /// One step of a directed script.
    #[derive(Clone, Debug)]
    enum Step {
        /// A register access; waits for its answer.
        Access(Access),
        /// Input events into these queues, offered back to back; waits until all are taken.
        Events(Vec<u8>),
        /// Cycles with nothing offered.
        Idle(u64),
        /// Reset held for this many cycles; waits for `ready` again.
        Reset(u64),
    }

    /// Runs steps one after the other and logs what the engine did.
    #[derive(Default)]
    struct Script {
        steps: VecDeque<Step>,
        step: Option<Step>,
        started: u64,
        issued: bool,
        offered: usize,
        ready_seen: bool,
        /// (cycle of the strobe, cycle of the answer, ack, rdata) per access.
        answers: Vec<(u64, u64, bool, u32)>,
        /// Cycle each input event was taken.
        taken: Vec<u64>,
        /// (cycle, address, record) of each DMA beat.
        beats: Vec<(u64, u64, Event)>,
        irqs: Vec<u64>,
        /// Cycles in which `ready` rose.
        ready_rise: Vec<u64>,
        /// Whether `in_ready` was ever high while not ready.
        in_ready_unready: bool,
        was_ready: bool,
        finished: bool,
    }

    fn write(addr: u32, data: u32) -> Step {
        Step::Access(Access {
            write: true,
            addr: addr as u64,
            data,
            expect: Expect::Any,
            kind: AccessKind::Plain,
        })
    }

    fn read(addr: u32) -> Step {
        Step::Access(Access {
            write: false,
            addr: addr as u64,
            data: 0,
            expect: Expect::Any,
            kind: AccessKind::Plain,
        })
    }

    /// Steps that program queue `q` with a ring of 2^`size_log2` events.
    fn queue(q: u32, size_log2: u32) -> Vec<Step> {
        vec![
            write(vi_reg(q, &vi::EVQ_BASE_LO), ring_base(q) as u32),
            write(vi_reg(q, &vi::EVQ_BASE_HI), (ring_base(q) >> 32) as u32),
            write(vi_reg(q, &vi::EVQ_SIZE), size_log2),
        ]
    }

    fn indication(id: u32) -> [u64; 2] {
        Event {
            kind: EventType::Indication as u8,
            phase: false,
            flags: 0,
            source: 1,
            group: None,
            payload: id,
            timestamp: 0,
            aux: 0,
        }
        .encode()
    }

    impl Script {
        fn new(steps: Vec<Step>) -> Script {
            Script {
                steps: steps.into(),
                ..Default::default()
            }
        }
    }

    impl Env for Script {
        fn drive(&mut self, cycle: u64) -> Drive {
            let mut d = Drive {
                reset: cycle < 2,
                dmaw_ready: true,
                ..Default::default()
            };
            if cycle < 2 || !self.ready_seen {
                return d;
            }
            if self.step.is_none() {
                self.step = self.steps.pop_front();
                self.started = cycle;
                self.issued = false;
                self.offered = 0;
                if self.step.is_none() {
                    self.finished = true;
                    return d;
                }
            }
            match self.step.clone().unwrap() {
                Step::Access(a) => {
                    d.addr = a.addr;
                    d.wdata = a.data;
                    if !self.issued {
                        d.rd = !a.write;
                        d.wr = a.write;
                        self.issued = true;
                        self.started = cycle;
                    }
                }
                Step::Events(v) => {
                    d.in_valid = true;
                    d.in_vi = v[self.offered];
                    d.in_record = indication(self.offered as u32);
                }
                Step::Idle(n) => {
                    if cycle - self.started + 1 >= n {
                        self.step = None;
                    }
                }
                Step::Reset(n) => {
                    d.reset = true;
                    if cycle - self.started + 1 >= n {
                        self.step = None;
                        self.ready_seen = false;
                    }
                }
            }
            d
        }

        fn observe(&mut self, cycle: u64, d: &Drive, s: &Seen) {
            let ready = s.ready && !d.reset;
            if ready && !self.was_ready {
                self.ready_rise.push(cycle);
            }
            self.was_ready = ready;
            if ready && cycle >= 2 {
                self.ready_seen = true;
            }
            if !s.ready && s.in_ready {
                self.in_ready_unready = true;
            }
            if s.dmaw_valid && d.dmaw_ready {
                self.beats
                    .push((cycle, s.dmaw_addr, Event::decode(s.dmaw_data)));
            }
            if s.irq {
                self.irqs.push(cycle);
            }
            match self.step.clone() {
                Some(Step::Access(_)) => {
                    if s.ack || s.nak {
                        self.answers.push((self.started, cycle, s.ack, s.rdata));
                        self.step = None;
                    } else {
                        assert!(cycle - self.started < ACK_TIMEOUT, "no answer");
                    }
                }
                Some(Step::Events(v)) if d.in_valid && s.in_ready => {
                    self.taken.push(cycle);
                    self.offered += 1;
                    if self.offered == v.len() {
                        self.step = None;
                    }
                }
                _ => {}
            }
        }

        fn done(&self) -> bool {
            self.finished
        }
    }

    fn run_script<const QB: usize, const AB: usize>(queues: u32, steps: Vec<Step>) -> Script {
        let s = simulate::<QB, AB, _>(queues, Script::new(steps), 200_000);
        assert!(s.finished, "script ran to its end");
        s
    }

    #[test]
    fn one_event_per_cycle_into_one_queue_and_into_256() {
        let mut steps = queue(0, 10);
        for q in 1..256 {
            steps.extend(queue(q, 4));
        }
        steps.push(Step::Idle(4));
        steps.push(Step::Events(vec![0; 300]));
        steps.push(Step::Idle(4));
        steps.push(Step::Events((0..=255).collect()));
        steps.push(Step::Idle(4));
        let s = run_script::<8, 21>(256, steps);
        let (one, all) = s.taken.split_at(300);
        assert!(
            one.windows(2).all(|w| w[1] == w[0] + 1),
            "one queue: one per cycle"
        );
        assert!(
            all.windows(2).all(|w| w[1] == w[0] + 1),
            "256 queues: one per cycle"
        );
        assert_eq!(s.beats.len(), 300 + 256);
        for (t, (c, _, _)) in s.taken.iter().zip(&s.beats) {
            assert_eq!(*c, t + 2, "beat 2 cycles after the event was taken");
        }
        // The burst into queue 0: consecutive slots, phase 1 on the first pass.
        for (k, (_, addr, e)) in s.beats[..300].iter().enumerate() {
            assert_eq!(*addr, ring_base(0) + 16 * k as u64);
            assert_eq!((e.payload, e.phase), (k as u32, true));
        }
        for (k, (_, addr, _)) in s.beats[300..].iter().enumerate() {
            assert_eq!(
                *addr,
                ring_base(k as u32) + if k == 0 { 16 * 300 } else { 0 }
            );
        }
        println!(
            "sustained: 300 events into 1 queue in {} cycles, 256 into 256 queues in {} cycles; event taken to DMA beat: 2 cycles",
            one.last().unwrap() - one[0] + 1,
            all.last().unwrap() - all[0] + 1
        );
    }

    #[test]
    fn registers_answer_three_cycles_after_the_strobe_and_lying_doorbells_are_refused() {
        let mut steps = queue(5, 4);
        steps.push(Step::Events(vec![5; 3]));
        steps.push(Step::Idle(4));
        steps.push(read(vi_reg(5, &vi::EVQ_WPTR)));
        steps.push(write(vi_reg(5, &vi::EVQ_RPTR), 4)); // past the write count
        steps.push(write(vi_reg(5, &vi::EVQ_RPTR), 2));
        steps.push(write(vi_reg(5, &vi::EVQ_RPTR), 1)); // backwards
        steps.push(read(vi_reg(5, &vi::EVQ_RPTR)));
        steps.push(write(vi_reg(5, &vi::EVQ_SIZE), 3)); // below the minimum
        steps.push(write(vi_reg(5, &vi::EVQ_SIZE), 17)); // above the maximum
        steps.push(read(vi_reg(5, &vi::EVQ_SIZE)));
        steps.push(write(vi_reg(5, &vi::EVQ_STATUS), 0)); // read-only
        steps.push(read(vi_reg(5, &vi::EVQ_PRIME))); // write-only
        steps.push(read(global_reg(&g::EVENTS_WRITTEN)));
        let s = run_script::<4, 17>(16, steps);
        let got: Vec<(u64, bool, u32)> = s.answers[3..]
            .iter()
            .map(|(s, e, ack, d)| (e - s, *ack, *d))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, true, 3),
                (3, false, 0),
                (3, true, 0),
                (3, false, 0),
                (3, true, 2),
                (3, false, 0),
                (3, false, 0),
                (3, true, 4),
                (3, false, 0),
                (3, false, 0),
                (0, true, 3),
            ]
        );
    }

    #[test]
    fn state_reads_as_disabled_until_ready_and_after_a_second_reset() {
        let mut steps = queue(3, 6);
        steps.push(read(vi_reg(3, &vi::EVQ_SIZE)));
        steps.push(Step::Reset(3));
        steps.push(read(vi_reg(3, &vi::EVQ_SIZE)));
        steps.push(read(vi_reg(3, &vi::EVQ_BASE_LO)));
        steps.push(Step::Events(vec![3]));
        steps.push(read(vi_reg(3, &vi::EVQ_DROPS)));
        let s = run_script::<8, 21>(256, steps);
        assert_eq!(s.ready_rise.len(), 2);
        // Reset in cycles 0 and 1: cleared over the 256 cycles after it.
        assert_eq!(s.ready_rise[0], 2 + 256);
        assert!(!s.in_ready_unready, "no input taken while clearing");
        let d: Vec<(bool, u32)> = s.answers.iter().map(|a| (a.2, a.3)).collect();
        assert_eq!(d[3], (true, 6));
        assert_eq!(&d[4..], &[(true, 0), (true, 0), (true, 1)]);
        assert!(s.beats.is_empty(), "a disabled queue drops and counts");
    }

    #[test]
    fn refuses_queue_registers_while_clearing() {
        // Accesses in the first cycles after reset are refused at once; later ones answered.
        struct Early {
            answers: Vec<(u64, bool, bool)>,
            done: bool,
        }
        impl Env for Early {
            fn drive(&mut self, cycle: u64) -> Drive {
                Drive {
                    reset: cycle < 2,
                    rd: cycle == 10 || cycle == 300,
                    addr: vi_reg(1, &vi::EVQ_SIZE) as u64,
                    dmaw_ready: true,
                    ..Default::default()
                }
            }
            fn observe(&mut self, cycle: u64, _d: &Drive, s: &Seen) {
                if s.ack || s.nak {
                    self.answers.push((cycle, s.ack, s.nak));
                }
                self.done = cycle > 310;
            }
            fn done(&self) -> bool {
                self.done
            }
        }
        let e = simulate::<8, 21, _>(
            256,
            Early {
                answers: vec![],
                done: false,
            },
            1000,
        );
        assert_eq!(e.answers, vec![(10, false, true), (303, true, false)]);
    }

    #[test]
    fn watchdog_fires_within_the_scrub_bound_idle_and_under_load() {
        let limit = 100;
        let mut steps = queue(3, 6);
        steps.extend(queue(0, 10));
        steps.extend(queue(15, 8));
        steps.push(write(
            global_reg(&g::IRQ_QUEUE),
            g::IRQ_QUEUE_VI.put(15) | g::IRQ_QUEUE_ENABLE.put(1),
        ));
        steps.push(write(vi_reg(3, &vi::EVQ_WATCHDOG), limit));
        // Idle engine: one event, then nothing.
        steps.push(Step::Events(vec![3]));
        steps.push(Step::Idle(400));
        // The host returns the space (restarts the watchdog), another event, then the engine
        // is kept busy with events into queue 0 (its ring overflows; that is fine).
        steps.push(write(vi_reg(3, &vi::EVQ_RPTR), 1));
        steps.push(Step::Events(vec![3]));
        steps.push(Step::Events(vec![0; 17_000]));
        let s = run_script::<4, 17>(16, steps);
        let pushes: Vec<u64> = s
            .beats
            .iter()
            .filter(|b| b.2.event_type() == Some(EventType::Indication))
            .filter(|b| b.1 >> 20 == ring_base(3) >> 20)
            .map(|b| b.0)
            .collect();
        let wakes: Vec<(u64, Event)> = s
            .beats
            .iter()
            .filter(|b| b.2.event_type() == Some(EventType::Wakeup))
            .map(|b| (b.0, b.2))
            .collect();
        assert_eq!(pushes.len(), 2);
        assert_eq!(wakes.len(), 2, "one watchdog wake-up per doorbell");
        for (p, (w, e)) in pushes.iter().zip(&wakes) {
            assert_eq!((e.source, e.flags), (3, 1));
            assert!(*w >= p + limit as u64, "not before the limit");
        }
        let idle_late = wakes[0].0 - pushes[0] - limit as u64;
        let busy_late = wakes[1].0 - pushes[1] - limit as u64;
        assert!(
            idle_late <= 16 + 4,
            "idle: within NUM_QUEUES scrubs ({idle_late})"
        );
        assert!(
            busy_late <= 16 * SCRUB_MAX_GAP + 4,
            "busy: within NUM_QUEUES forced scrubs ({busy_late})"
        );
        println!(
            "watchdog lateness past its limit at 16 queues: idle {idle_late} cycles, busy {busy_late} cycles"
        );
        // Under load a forced scrub takes one input cycle in SCRUB_MAX_GAP (and each WAKEUP
        // one more).
        let busy = &s.taken[2..];
        let span = busy.last().unwrap() - busy[0] + 1;
        let lost = span - busy.len() as u64;
        assert!(
            lost <= busy.len() as u64 / SCRUB_MAX_GAP + 2,
            "{lost} cycles without an input in {span}"
        );
    }

    #[test]
    fn wakeup_then_interrupt_after_its_beat() {
        let mut steps = queue(2, 6);
        steps.extend(queue(9, 6));
        steps.push(write(
            global_reg(&g::IRQ_QUEUE),
            g::IRQ_QUEUE_VI.put(9) | g::IRQ_QUEUE_ENABLE.put(1),
        ));
        steps.push(write(vi_reg(9, &vi::EVQ_PRIME), 0));
        steps.push(write(vi_reg(2, &vi::EVQ_PRIME), 0));
        steps.push(Step::Events(vec![2, 2, 2]));
        steps.push(Step::Idle(20));
        let s = run_script::<4, 17>(16, steps);
        let kinds: Vec<(u64, Option<EventType>, u16)> = s
            .beats
            .iter()
            .map(|b| (b.0, b.2.event_type(), b.2.source))
            .collect();
        let t = s.taken[0];
        // The WAKEUP is taken in the cycle after the first event's state was written, ahead of
        // the third input.
        assert_eq!(
            kinds,
            vec![
                (t + 2, Some(EventType::Indication), 1),
                (t + 3, Some(EventType::Indication), 1),
                (t + 4, Some(EventType::Wakeup), 2),
                (t + 5, Some(EventType::Indication), 1),
            ]
        );
        assert_eq!(
            s.irqs,
            vec![t + 5],
            "the interrupt a cycle after the WAKEUP's beat"
        );
    }

    /// The engine's logic does not grow with its queues: the Verilog at 256 queues is the one
    /// at 16 with wider indices (state in one RAM, nothing unrolled per queue). With
    /// `EVNIC_ENGINE_VERILOG=DIR`, writes both (`event_engine_16.v`, `event_engine_256.v`) for
    /// synthesis of the block alone.
    #[test]
    fn verilog_does_not_grow_with_the_queues() {
        let mut small = EventEngine::<4, 17>::new(16);
        small.connect_all();
        let mut large = EventEngine::<8, 21>::new(256);
        large.connect_all();
        let (v16, v256) = (generate_verilog(&small), generate_verilog(&large));
        assert!(v16.contains("(* no_rw_check *)") && v256.contains("(* no_rw_check *)"));
        assert!(
            v256.len() < v16.len() + v16.len() / 50,
            "{} bytes of Verilog at 16 queues, {} at 256",
            v16.len(),
            v256.len()
        );
        if let Ok(dir) = std::env::var("EVNIC_ENGINE_VERILOG") {
            std::fs::write(format!("{dir}/event_engine_16.v"), v16).unwrap();
            std::fs::write(format!("{dir}/event_engine_256.v"), v256).unwrap();
        }
    }
}
