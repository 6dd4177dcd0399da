//! `EventEngine`: writes events into the VIs' event queues in host memory, one 16-byte DMA
//! beat per cycle, and does interrupt indirection.
//!
//! # Ports
//! - `cycles` in: the cycle counter, for the timestamps of the events made here
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `rdata` out: every VI's `EVQ_*`
//!   registers (one [`EvQueue`] each) and the global page's `IRQ_*`, `WAKEUP_COUNT`,
//!   `EVENTS_WRITTEN`, `EVENTS_DROPPED`
//! - event input `in_valid`, `in_ready` (out), `in_vi` (the queue), `in_record` (the 128-bit
//!   record from [`crate::event_pack::EventPack`], phase 0)
//! - DMA write master `dmaw_*` (see [`crate::core`])
//! - `irq` out: a one-cycle pulse per interrupt
//!
//! # Contract
//! Each cycle the engine does at most one of, in priority order:
//! 1. wake a queue that is armed and holds unread events, or whose watchdog expired: post a
//!    WAKEUP naming it (flags bit 0 set for a watchdog) into the interrupt queue and disarm it;
//!    when the woken queue is the interrupt queue itself, raise the interrupt instead;
//! 2. write the OVERFLOW event owed by a queue that dropped events and has space again
//!    (payload = the number dropped);
//! 3. take one input event and write it into its queue, or count it dropped when the queue is
//!    full (a slot is kept for the owed OVERFLOW) or disabled.
//!
//! An event is never written over an unread one, and every input event is either written or
//! counted (per queue in `EVQ_DROPS`, reported by OVERFLOW; in total in `EVENTS_DROPPED`).
//! Among several queues to wake or owed an OVERFLOW the highest-numbered goes first. Interrupts
//! are at least `IRQ_HOLDOFF` cycles apart; one due earlier waits for the hold-off to end.
//!
//! # Timing
//! An input event accepted in cycle t is on the DMA write port in cycle t+1 (registered) and
//! `in_ready` stays high while the DMA port accepts, so one event is written per cycle. A
//! WAKEUP follows the event that caused it by one cycle; the interrupt for a WAKEUP written in
//! cycle t (into a primed interrupt queue) pulses at t+2 unless held off.

use crate::event_pack::EventPack;
use crate::evq::EvQueue;
use crate::regbus::{word, ADDR_BITS, PAGE_BITS};
use evnic_regs::event::{EventType, PHASE_BIT};
use evnic_regs::map::global as g;
use rust_hdl::prelude::*;

/// Number of VIs (event queues).
pub const NV: usize = evnic_regs::params::NUM_VIS as usize;

#[derive(LogicBlock)]
pub struct EventEngine {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
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

    pub queues: [EvQueue; NV],
    internal: EventPack,

    out_valid: DFF<Bit>,
    out_addr: DFF<Bits<64>>,
    out_data: DFF<Bits<128>>,
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

    can_issue: Signal<Local, Bit>,
    wake_found: Signal<Local, Bit>,
    wake_idx: Signal<Local, Bits<8>>,
    wake_watchdog: Signal<Local, Bit>,
    ovf_found: Signal<Local, Bit>,
    ovf_idx: Signal<Local, Bits<8>>,
    ovf_addr: Signal<Local, Bits<64>>,
    ovf_phase: Signal<Local, Bit>,
    ovf_drops: Signal<Local, Bits<32>>,
    irqq_space: Signal<Local, Bit>,
    irqq_addr: Signal<Local, Bits<64>>,
    irqq_phase: Signal<Local, Bit>,
    tgt_valid: Signal<Local, Bit>,
    tgt_space: Signal<Local, Bit>,
    tgt_addr: Signal<Local, Bits<64>>,
    tgt_phase: Signal<Local, Bit>,
    act_wake: Signal<Local, Bit>,
    act_ovf: Signal<Local, Bit>,
    act_in: Signal<Local, Bit>,
    wake_irqq: Signal<Local, Bit>,
    wake_write: Signal<Local, Bit>,
    in_write: Signal<Local, Bit>,
    fire: Signal<Local, Bit>,
    in_page: Signal<Local, Bit>,
    word: Signal<Local, Bits<10>>,
    own_claim: Signal<Local, Bit>,
    own_rdata: Signal<Local, Bits<32>>,

    page: Constant<Bits<PAGE_BITS>>,
    w_irq_queue: Constant<Bits<10>>,
    w_irq_holdoff: Constant<Bits<10>>,
    w_irq_count: Constant<Bits<10>>,
    w_wakeup_count: Constant<Bits<10>>,
    w_events_written: Constant<Bits<10>>,
    w_events_dropped: Constant<Bits<10>>,
    k_wakeup: Constant<Bits<4>>,
    k_overflow: Constant<Bits<4>>,
    sh_phase: Constant<Bits<8>>,
    sh_irq_enable: Constant<Bits<8>>,
    num_vis: Constant<Bits<8>>,
    vi_index: [Constant<Bits<8>>; NV],
}

impl Default for EventEngine {
    fn default() -> Self {
        EventEngine {
            clock: Default::default(),
            reset: Default::default(),
            cycles: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
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
            queues: array_init::array_init(|i| EvQueue::new(i as u32)),
            internal: Default::default(),
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
            can_issue: Default::default(),
            wake_found: Default::default(),
            wake_idx: Default::default(),
            wake_watchdog: Default::default(),
            ovf_found: Default::default(),
            ovf_idx: Default::default(),
            ovf_addr: Default::default(),
            ovf_phase: Default::default(),
            ovf_drops: Default::default(),
            irqq_space: Default::default(),
            irqq_addr: Default::default(),
            irqq_phase: Default::default(),
            tgt_valid: Default::default(),
            tgt_space: Default::default(),
            tgt_addr: Default::default(),
            tgt_phase: Default::default(),
            act_wake: Default::default(),
            act_ovf: Default::default(),
            act_in: Default::default(),
            wake_irqq: Default::default(),
            wake_write: Default::default(),
            in_write: Default::default(),
            fire: Default::default(),
            in_page: Default::default(),
            word: Default::default(),
            own_claim: Default::default(),
            own_rdata: Default::default(),
            page: Constant::new(((evnic_regs::map::GLOBAL_PAGE_BASE >> 12) as u64).into()),
            w_irq_queue: word(&g::IRQ_QUEUE),
            w_irq_holdoff: word(&g::IRQ_HOLDOFF),
            w_irq_count: word(&g::IRQ_COUNT),
            w_wakeup_count: word(&g::WAKEUP_COUNT),
            w_events_written: word(&g::EVENTS_WRITTEN),
            w_events_dropped: word(&g::EVENTS_DROPPED),
            k_wakeup: Constant::new((EventType::Wakeup as u64).into()),
            k_overflow: Constant::new((EventType::Overflow as u64).into()),
            sh_phase: Constant::new((PHASE_BIT as u64).into()),
            sh_irq_enable: Constant::new((g::IRQ_QUEUE_ENABLE.lsb as u64).into()),
            num_vis: Constant::new((NV as u64).into()),
            vi_index: array_init::array_init(|i| Constant::new((i as u64).into())),
        }
    }
}

impl Logic for EventEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
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
        self.can_issue.next = !self.out_valid.q.val() | self.dmaw_ready.val();

        // Queues: common inputs, and the scans (the highest-numbered match wins).
        self.wake_found.next = false;
        self.wake_idx.next = 0.into();
        self.wake_watchdog.next = false;
        self.ovf_found.next = false;
        self.ovf_idx.next = 0.into();
        self.ovf_addr.next = 0.into();
        self.ovf_phase.next = false;
        self.ovf_drops.next = 0.into();
        self.irqq_space.next = false;
        self.irqq_addr.next = 0.into();
        self.irqq_phase.next = false;
        self.tgt_space.next = false;
        self.tgt_addr.next = 0.into();
        self.tgt_phase.next = false;
        self.ack.next = false;
        self.rdata.next = 0.into();
        for i in 0..NV {
            self.queues[i].clock.next = self.clock.val();
            self.queues[i].reset.next = self.reset.val();
            self.queues[i].rd.next = self.rd.val();
            self.queues[i].wr.next = self.wr.val();
            self.queues[i].addr.next = self.addr.val();
            self.queues[i].wdata.next = self.wdata.val();
            if self.queues[i].ack.val() {
                self.ack.next = true;
                self.rdata.next = self.queues[i].rdata.val();
            }
            if (self.queues[i].armed.val() & self.queues[i].unread.val())
                | self.queues[i].wd_due.val()
            {
                self.wake_found.next = true;
                self.wake_idx.next = self.vi_index[i].val();
                self.wake_watchdog.next = self.queues[i].wd_due.val()
                    & !(self.queues[i].armed.val() & self.queues[i].unread.val());
            }
            if self.queues[i].ovf_due.val() {
                self.ovf_found.next = true;
                self.ovf_idx.next = self.vi_index[i].val();
                self.ovf_addr.next = self.queues[i].write_addr.val();
                self.ovf_phase.next = self.queues[i].phase.val();
                self.ovf_drops.next = self.queues[i].drops.val();
            }
            if self.irq_vi.q.val().index() == i {
                self.irqq_space.next = self.queues[i].space_ok.val();
                self.irqq_addr.next = self.queues[i].write_addr.val();
                self.irqq_phase.next = self.queues[i].phase.val();
            }
            if self.in_vi.val().index() == i {
                self.tgt_space.next = self.queues[i].space_ok.val();
                self.tgt_addr.next = self.queues[i].write_addr.val();
                self.tgt_phase.next = self.queues[i].phase.val();
            }
        }
        self.tgt_valid.next = self.in_vi.val() < self.num_vis.val();

        // What this cycle does.
        self.act_wake.next = self.can_issue.val() & self.wake_found.val();
        self.act_ovf.next = self.can_issue.val() & !self.wake_found.val() & self.ovf_found.val();
        self.in_ready.next = self.can_issue.val() & !self.wake_found.val() & !self.ovf_found.val();
        self.act_in.next = self.in_ready.val() & self.in_valid.val();
        self.wake_irqq.next = self.act_wake.val()
            & self.irq_enable.q.val()
            & (self.wake_idx.val() == self.irq_vi.q.val());
        self.wake_write.next = self.act_wake.val()
            & self.irq_enable.q.val()
            & (self.wake_idx.val() != self.irq_vi.q.val())
            & self.irqq_space.val();
        self.in_write.next = self.act_in.val() & self.tgt_valid.val() & self.tgt_space.val();

        // The WAKEUP or OVERFLOW record made here.
        self.internal.timestamp.next = self.cycles.val();
        self.internal.has_group.next = false;
        self.internal.group.next = 0.into();
        self.internal.aux.next = 0.into();
        self.internal.flags.next = 0.into();
        if self.act_wake.val() {
            self.internal.kind.next = self.k_wakeup.val();
            self.internal.source.next = bit_cast::<16, 8>(self.wake_idx.val());
            self.internal.payload.next = 0.into();
            self.internal.flags.next = bit_cast::<8, 1>(self.wake_watchdog.val().into());
        } else {
            self.internal.kind.next = self.k_overflow.val();
            self.internal.source.next = bit_cast::<16, 8>(self.ovf_idx.val());
            self.internal.payload.next = self.ovf_drops.val();
        }

        // Strobes to the queues.
        for i in 0..NV {
            self.queues[i].push.next = false;
            self.queues[i].drop.next = false;
            self.queues[i].ovf_clear.next = false;
            self.queues[i].disarm.next = false;
            self.queues[i].wd_ack.next = false;
            if self.act_wake.val() & (self.wake_idx.val().index() == i) {
                self.queues[i].disarm.next = true;
                self.queues[i].wd_ack.next = true;
            }
            if self.act_ovf.val() & (self.ovf_idx.val().index() == i) {
                self.queues[i].push.next = true;
                self.queues[i].ovf_clear.next = true;
            }
            if self.irq_vi.q.val().index() == i {
                if self.wake_write.val() {
                    self.queues[i].push.next = true;
                }
                if self.act_wake.val()
                    & self.irq_enable.q.val()
                    & (self.wake_idx.val() != self.irq_vi.q.val())
                    & !self.irqq_space.val()
                {
                    self.queues[i].drop.next = true;
                }
            }
            if self.act_in.val() & (self.in_vi.val().index() == i) {
                if self.tgt_space.val() {
                    self.queues[i].push.next = true;
                } else {
                    self.queues[i].drop.next = true;
                }
            }
        }

        // The DMA beat.
        if self.can_issue.val() {
            self.out_valid.d.next =
                self.wake_write.val() | self.act_ovf.val() | self.in_write.val();
        }
        if self.wake_write.val() {
            self.out_addr.d.next = self.irqq_addr.val();
            self.out_data.d.next = self.internal.record.val()
                | (bit_cast::<128, 1>(self.irqq_phase.val().into()) << self.sh_phase.val());
        }
        if self.act_ovf.val() {
            self.out_addr.d.next = self.ovf_addr.val();
            self.out_data.d.next = self.internal.record.val()
                | (bit_cast::<128, 1>(self.ovf_phase.val().into()) << self.sh_phase.val());
        }
        if self.in_write.val() {
            self.out_addr.d.next = self.tgt_addr.val();
            self.out_data.d.next = self.in_record.val()
                | (bit_cast::<128, 1>(self.tgt_phase.val().into()) << self.sh_phase.val());
        }
        self.dmaw_valid.next = self.out_valid.q.val();
        self.dmaw_addr.next = self.out_addr.q.val();
        self.dmaw_data.next = self.out_data.q.val();
        self.dmaw_strb.next = 0xFFFF.into();

        // Counters.
        if self.wake_write.val() {
            self.wakeup_count.d.next = self.wakeup_count.q.val() + 1;
        }
        if self.wake_write.val() | self.act_ovf.val() | self.in_write.val() {
            self.events_written.d.next = self.events_written.q.val() + 1;
        }
        if (self.act_in.val() & !self.in_write.val())
            | (self.act_wake.val()
                & self.irq_enable.q.val()
                & (self.wake_idx.val() != self.irq_vi.q.val())
                & !self.irqq_space.val())
        {
            self.events_dropped.d.next = self.events_dropped.q.val() + 1;
        }

        // Interrupt with hold-off.
        if self.wake_irqq.val() {
            self.irq_pending.d.next = true;
        }
        if self.holdoff_left.q.val() != 0 {
            self.holdoff_left.d.next = self.holdoff_left.q.val() - 1;
        }
        self.fire.next = self.irq_pending.q.val() & (self.holdoff_left.q.val() == 0);
        self.irq_q.d.next = self.fire.val();
        if self.fire.val() {
            self.irq_pending.d.next = self.wake_irqq.val();
            self.holdoff_left.d.next = self.holdoff.q.val();
            self.irq_count.d.next = self.irq_count.q.val() + 1;
        }
        self.irq.next = self.irq_q.q.val();

        // Own registers in the global page.
        self.in_page.next = self.addr.val().get_bits::<PAGE_BITS>(12) == self.page.val();
        self.word.next = self.addr.val().get_bits::<10>(2);
        self.own_claim.next = false;
        self.own_rdata.next = 0.into();
        if self.in_page.val() & (self.rd.val() | self.wr.val()) {
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
        if self.own_claim.val() {
            self.ack.next = true;
            self.rdata.next = self.own_rdata.val();
        }
        if !self.rd.val() {
            self.rdata.next = 0.into();
        }

        if self.reset.val() {
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
