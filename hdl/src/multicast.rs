//! `Multicast`: the event protocol handler. It takes events from every producer, in round
//! robin, and hands each to the event engine once per destination queue: a group event goes to
//! every VI subscribed to the group, lowest VI first; a VI event to that VI.
//!
//! # Ports
//! - `cycles` in: timestamps for the events made here
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `rdata` out: the group page
//!   (`MEMBERS`, `PERMIT_*`, `SUBSCRIBE`, `LISTEN_*`, counters) and every VI page's `INDICATE`
//!   doorbell and `INDICATE_REFUSED`
//! - producers with packed records (`s{timer,rx,tx}_valid`, `_ready` out, `_to_group`,
//!   `_target` VI or group, `_record` from [`crate::event_pack::EventPack`])
//! - device-space input `dsi_valid`, `dsi_ready` out, `dsi_group`, `dsi_payload`
//! - to the engine: `out_valid`, `out_ready` in, `out_vi`, `out_record`
//! - device-space output `dso_valid`, `dso_kind`, `dso_group`, `dso_source`, `dso_payload`: one
//!   pulse per group event whose group is set in `LISTEN_*`, whether or not a VI subscribes
//!
//! # Contract
//! Each producer's events reach each queue in the order produced, and every event of a group
//! reaches a subscribed queue in the same order in every queue. An indication doorbell is taken
//! into an 8-deep queue (a full queue counts `OVERRUNS`); at its head the VI's permission for the
//! group is checked: a refused indication becomes an ERROR event (IndicationRefused, aux = group)
//! to that VI alone and counts in its `INDICATE_REFUSED`. A group event with no subscriber counts
//! in `NO_MEMBERS`. `SUBSCRIBE` with a group or VI out of range is refused (bus error).
//!
//! # Timing
//! A producer's event offered in cycle t is granted at t if the fan-out is free, and its first
//! copy is offered to the engine at t+1, then one copy per cycle: an event for N queues occupies
//! the fan-out N cycles, and the next event follows without a gap. An indication doorbell strobed
//! in cycle t (register-bus cycle 1) is offered at t+1.

use crate::event_pack::EventPack;
use crate::regbus::{ADDR_BITS, PAGE_BITS};
use evnic_regs::event::{flags, w1, ErrorCode, EventType, SOURCE_NONE};
use evnic_regs::map::{group as gr, vi, VI_PAGE_BASE};
use rust_hdl::prelude::*;

pub const NV: usize = evnic_regs::params::NUM_VIS as usize;
pub const NG: usize = evnic_regs::params::NUM_GROUPS as usize;
/// Depth of the indication queue.
pub const IND_DEPTH: usize = 8;

#[derive(LogicBlock)]
pub struct Multicast {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,

    pub stimer_valid: Signal<In, Bit>,
    pub stimer_ready: Signal<Out, Bit>,
    pub stimer_to_group: Signal<In, Bit>,
    pub stimer_target: Signal<In, Bits<8>>,
    pub stimer_record: Signal<In, Bits<128>>,
    pub srx_valid: Signal<In, Bit>,
    pub srx_ready: Signal<Out, Bit>,
    pub srx_to_group: Signal<In, Bit>,
    pub srx_target: Signal<In, Bits<8>>,
    pub srx_record: Signal<In, Bits<128>>,
    pub stx_valid: Signal<In, Bit>,
    pub stx_ready: Signal<Out, Bit>,
    pub stx_to_group: Signal<In, Bit>,
    pub stx_target: Signal<In, Bits<8>>,
    pub stx_record: Signal<In, Bits<128>>,

    pub dsi_valid: Signal<In, Bit>,
    pub dsi_ready: Signal<Out, Bit>,
    pub dsi_group: Signal<In, Bits<8>>,
    pub dsi_payload: Signal<In, Bits<32>>,

    pub out_valid: Signal<Out, Bit>,
    pub out_ready: Signal<In, Bit>,
    pub out_vi: Signal<Out, Bits<8>>,
    pub out_record: Signal<Out, Bits<128>>,

    pub dso_valid: Signal<Out, Bit>,
    pub dso_kind: Signal<Out, Bits<4>>,
    pub dso_group: Signal<Out, Bits<8>>,
    pub dso_source: Signal<Out, Bits<16>>,
    pub dso_payload: Signal<Out, Bits<32>>,

    members: [DFF<Bits<NV>>; NG],
    permit: [DFF<Bits<64>>; NV],
    refused: [DFF<Bits<32>>; NV],
    listen: DFF<Bits<64>>,
    no_members: DFF<Bits<32>>,
    port_events: DFF<Bits<32>>,
    overruns: DFF<Bits<32>>,
    // Indication queue: entries of VI, group, payload, timestamp.
    ind_vi: [DFF<Bits<8>>; IND_DEPTH],
    ind_group: [DFF<Bits<8>>; IND_DEPTH],
    ind_payload: [DFF<Bits<24>>; IND_DEPTH],
    ind_ts: [DFF<Bits<64>>; IND_DEPTH],
    ind_wptr: DFF<Bits<4>>,
    ind_rptr: DFF<Bits<4>>,
    // Round robin and fan-out.
    last_grant: DFF<Bits<3>>,
    cur_valid: DFF<Bit>,
    cur_record: DFF<Bits<128>>,
    cur_map: DFF<Bits<NV>>,
    dso_valid_q: DFF<Bit>,
    dso_record: DFF<Bits<128>>,

    ind_pack: EventPack,
    dsi_pack: EventPack,

    // Locals.
    ind_empty: Signal<Local, Bit>,
    ind_full: Signal<Local, Bit>,
    ind_count: Signal<Local, Bits<4>>,
    ind_ready: Signal<Local, Bit>,
    h_vi: Signal<Local, Bits<8>>,
    h_group: Signal<Local, Bits<8>>,
    h_payload: Signal<Local, Bits<24>>,
    h_ts: Signal<Local, Bits<64>>,
    h_permit: Signal<Local, Bits<64>>,
    h_allowed: Signal<Local, Bit>,
    req: Signal<Local, Bits<5>>,
    masked: Signal<Local, Bits<5>>,
    pick_from: Signal<Local, Bits<5>>,
    grant: Signal<Local, Bits<5>>,
    sel_to_group: Signal<Local, Bit>,
    sel_target: Signal<Local, Bits<8>>,
    sel_record: Signal<Local, Bits<128>>,
    sel_members: Signal<Local, Bits<NV>>,
    sel_map: Signal<Local, Bits<NV>>,
    sel_listened: Signal<Local, Bit>,
    low: Signal<Local, Bits<NV>>,
    rest: Signal<Local, Bits<NV>>,
    taking: Signal<Local, Bit>,
    free: Signal<Local, Bit>,
    load: Signal<Local, Bit>,
    page: Signal<Local, Bits<PAGE_BITS>>,
    word: Signal<Local, Bits<10>>,
    vi_of_page: Signal<Local, Bits<PAGE_BITS>>,
    in_vi_page: Signal<Local, Bit>,
    in_members: Signal<Local, Bit>,
    member_idx: Signal<Local, Bits<ADDR_BITS>>,
    in_permit: Signal<Local, Bit>,
    permit_idx: Signal<Local, Bits<ADDR_BITS>>,
    permit_hi: Signal<Local, Bit>,
    ctrl_word: Signal<Local, Bits<ADDR_BITS>>,
    sub_ok: Signal<Local, Bit>,
    m_sel: Signal<Local, Bits<NV>>,
    p_sel: Signal<Local, Bits<64>>,
    p_new: Signal<Local, Bits<64>>,
    indicate_wr: Signal<Local, Bit>,

    // Constants from evnic-regs.
    members_base: Constant<Bits<ADDR_BITS>>,
    members_end: Constant<Bits<ADDR_BITS>>,
    permit_base: Constant<Bits<ADDR_BITS>>,
    permit_end: Constant<Bits<ADDR_BITS>>,
    ctrl_base: Constant<Bits<ADDR_BITS>>,
    c_subscribe: Constant<Bits<ADDR_BITS>>,
    c_listen_lo: Constant<Bits<ADDR_BITS>>,
    c_listen_hi: Constant<Bits<ADDR_BITS>>,
    c_no_members: Constant<Bits<ADDR_BITS>>,
    c_port_events: Constant<Bits<ADDR_BITS>>,
    c_overruns: Constant<Bits<ADDR_BITS>>,
    vi_page0: Constant<Bits<PAGE_BITS>>,
    w_indicate: Constant<Bits<10>>,
    w_refused: Constant<Bits<10>>,
    num_vis: Constant<Bits<8>>,
    num_groups: Constant<Bits<8>>,
    k_indication: Constant<Bits<4>>,
    k_error: Constant<Bits<4>>,
    e_refused: Constant<Bits<32>>,
    f_device_port: Constant<Bits<8>>,
    source_none: Constant<Bits<16>>,
    sh_kind: Constant<Bits<8>>,
    sh_source: Constant<Bits<8>>,
    sh_group: Constant<Bits<8>>,
    sh_payload: Constant<Bits<8>>,
    vi_index: [Constant<Bits<8>>; NV],
}

fn c17(v: u32) -> Constant<Bits<ADDR_BITS>> {
    Constant::new((v as u64).into())
}
fn c8(v: u32) -> Constant<Bits<8>> {
    Constant::new((v as u64).into())
}

impl Default for Multicast {
    fn default() -> Self {
        use evnic_regs::event::{w0, PHASE_BIT};
        let _ = PHASE_BIT;
        Multicast {
            clock: Default::default(),
            reset: Default::default(),
            cycles: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            stimer_valid: Default::default(),
            stimer_ready: Default::default(),
            stimer_to_group: Default::default(),
            stimer_target: Default::default(),
            stimer_record: Default::default(),
            srx_valid: Default::default(),
            srx_ready: Default::default(),
            srx_to_group: Default::default(),
            srx_target: Default::default(),
            srx_record: Default::default(),
            stx_valid: Default::default(),
            stx_ready: Default::default(),
            stx_to_group: Default::default(),
            stx_target: Default::default(),
            stx_record: Default::default(),
            dsi_valid: Default::default(),
            dsi_ready: Default::default(),
            dsi_group: Default::default(),
            dsi_payload: Default::default(),
            out_valid: Default::default(),
            out_ready: Default::default(),
            out_vi: Default::default(),
            out_record: Default::default(),
            dso_valid: Default::default(),
            dso_kind: Default::default(),
            dso_group: Default::default(),
            dso_source: Default::default(),
            dso_payload: Default::default(),
            members: array_init::array_init(|_| Default::default()),
            permit: array_init::array_init(|_| Default::default()),
            refused: array_init::array_init(|_| Default::default()),
            listen: Default::default(),
            no_members: Default::default(),
            port_events: Default::default(),
            overruns: Default::default(),
            ind_vi: array_init::array_init(|_| Default::default()),
            ind_group: array_init::array_init(|_| Default::default()),
            ind_payload: array_init::array_init(|_| Default::default()),
            ind_ts: array_init::array_init(|_| Default::default()),
            ind_wptr: Default::default(),
            ind_rptr: Default::default(),
            last_grant: Default::default(),
            cur_valid: Default::default(),
            cur_record: Default::default(),
            cur_map: Default::default(),
            dso_valid_q: Default::default(),
            dso_record: Default::default(),
            ind_pack: Default::default(),
            dsi_pack: Default::default(),
            ind_empty: Default::default(),
            ind_full: Default::default(),
            ind_count: Default::default(),
            ind_ready: Default::default(),
            h_vi: Default::default(),
            h_group: Default::default(),
            h_payload: Default::default(),
            h_ts: Default::default(),
            h_permit: Default::default(),
            h_allowed: Default::default(),
            req: Default::default(),
            masked: Default::default(),
            pick_from: Default::default(),
            grant: Default::default(),
            sel_to_group: Default::default(),
            sel_target: Default::default(),
            sel_record: Default::default(),
            sel_members: Default::default(),
            sel_map: Default::default(),
            sel_listened: Default::default(),
            low: Default::default(),
            rest: Default::default(),
            taking: Default::default(),
            free: Default::default(),
            load: Default::default(),
            page: Default::default(),
            word: Default::default(),
            vi_of_page: Default::default(),
            in_vi_page: Default::default(),
            in_members: Default::default(),
            member_idx: Default::default(),
            in_permit: Default::default(),
            permit_idx: Default::default(),
            permit_hi: Default::default(),
            ctrl_word: Default::default(),
            sub_ok: Default::default(),
            m_sel: Default::default(),
            p_sel: Default::default(),
            p_new: Default::default(),
            indicate_wr: Default::default(),
            members_base: c17(gr::MEMBERS_PAGE.base),
            members_end: c17(
                gr::MEMBERS_PAGE.base + gr::MEMBERS_PAGE.count * gr::MEMBERS_PAGE.stride
            ),
            permit_base: c17(gr::PERMIT_PAGE.base),
            permit_end: c17(gr::PERMIT_PAGE.base + gr::PERMIT_PAGE.count * gr::PERMIT_PAGE.stride),
            ctrl_base: c17(gr::CONTROL_PAGE.base),
            c_subscribe: c17(gr::SUBSCRIBE.offset),
            c_listen_lo: c17(gr::LISTEN_LO.offset),
            c_listen_hi: c17(gr::LISTEN_HI.offset),
            c_no_members: c17(gr::NO_MEMBERS.offset),
            c_port_events: c17(gr::PORT_EVENTS.offset),
            c_overruns: c17(gr::OVERRUNS.offset),
            vi_page0: Constant::new(((VI_PAGE_BASE >> 12) as u64).into()),
            w_indicate: Constant::new((vi::INDICATE.word() as u64).into()),
            w_refused: Constant::new((vi::INDICATE_REFUSED.word() as u64).into()),
            num_vis: c8(NV as u32),
            num_groups: c8(NG as u32),
            k_indication: Constant::new((EventType::Indication as u64).into()),
            k_error: Constant::new((EventType::Error as u64).into()),
            e_refused: Constant::new((ErrorCode::IndicationRefused as u64).into()),
            f_device_port: c8(flags::FROM_DEVICE_PORT as u32),
            source_none: Constant::new((SOURCE_NONE as u64).into()),
            sh_kind: c8(w0::TYPE.0),
            sh_source: c8(w0::SOURCE.0),
            sh_group: c8(64 + w1::GROUP.0),
            sh_payload: c8(w0::PAYLOAD.0),
            vi_index: array_init::array_init(|i| c8(i as u32)),
        }
    }
}

impl Logic for Multicast {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            listen,
            no_members,
            port_events,
            overruns,
            ind_wptr,
            ind_rptr,
            last_grant,
            cur_valid,
            cur_record,
            cur_map,
            dso_valid_q,
            dso_record
        );
        for i in 0..NG {
            self.members[i].clock.next = self.clock.val();
            self.members[i].d.next = self.members[i].q.val();
        }
        for i in 0..NV {
            self.permit[i].clock.next = self.clock.val();
            self.permit[i].d.next = self.permit[i].q.val();
            self.refused[i].clock.next = self.clock.val();
            self.refused[i].d.next = self.refused[i].q.val();
        }
        for i in 0..IND_DEPTH {
            self.ind_vi[i].clock.next = self.clock.val();
            self.ind_vi[i].d.next = self.ind_vi[i].q.val();
            self.ind_group[i].clock.next = self.clock.val();
            self.ind_group[i].d.next = self.ind_group[i].q.val();
            self.ind_payload[i].clock.next = self.clock.val();
            self.ind_payload[i].d.next = self.ind_payload[i].q.val();
            self.ind_ts[i].clock.next = self.clock.val();
            self.ind_ts[i].d.next = self.ind_ts[i].q.val();
        }

        // ---- Register decode.
        self.page.next = self.addr.val().get_bits::<PAGE_BITS>(12);
        self.word.next = self.addr.val().get_bits::<10>(2);
        self.vi_of_page.next = self.page.val() - self.vi_page0.val();
        self.in_vi_page.next = (self.page.val() >= self.vi_page0.val())
            & (bit_cast::<8, PAGE_BITS>(self.vi_of_page.val()) < self.num_vis.val());
        self.in_members.next = (self.addr.val() >= self.members_base.val())
            & (self.addr.val() < self.members_end.val());
        self.member_idx.next = (self.addr.val() - self.members_base.val()) >> 2;
        self.in_permit.next =
            (self.addr.val() >= self.permit_base.val()) & (self.addr.val() < self.permit_end.val());
        self.permit_idx.next = (self.addr.val() - self.permit_base.val()) >> 3;
        self.permit_hi.next = self.addr.val().get_bit(2);
        self.ctrl_word.next = self.addr.val() - self.ctrl_base.val();
        self.sub_ok.next = (self.wdata.val().get_bits::<8>(0) < self.num_groups.val())
            & (self.wdata.val().get_bits::<8>(8) < self.num_vis.val());

        self.m_sel.next = 0.into();
        for i in 0..NG {
            if self.member_idx.val().index() == i {
                self.m_sel.next = self.members[i].q.val();
            }
        }
        self.p_sel.next = 0.into();
        for i in 0..NV {
            if self.permit_idx.val().index() == i {
                self.p_sel.next = self.permit[i].q.val();
            }
        }
        if self.permit_hi.val() {
            self.p_new.next = bit_cast::<64, 32>(self.p_sel.val().get_bits::<32>(0))
                | (bit_cast::<64, 32>(self.wdata.val()) << 32);
        } else {
            self.p_new.next = (self.p_sel.val() >> 32 << 32) | bit_cast::<64, 32>(self.wdata.val());
        }
        self.ack.next = false;
        self.rdata.next = 0.into();
        self.indicate_wr.next = false;
        if self.rd.val() | self.wr.val() {
            if self.in_members.val() {
                self.ack.next = true;
                self.rdata.next = bit_cast::<32, NV>(self.m_sel.val());
                for i in 0..NG {
                    if (self.member_idx.val().index() == i) & self.wr.val() {
                        self.members[i].d.next = self.wdata.val().get_bits::<NV>(0);
                    }
                }
            }
            if self.in_permit.val() {
                self.ack.next = true;
                if self.permit_hi.val() {
                    self.rdata.next = self.p_sel.val().get_bits::<32>(32);
                } else {
                    self.rdata.next = self.p_sel.val().get_bits::<32>(0);
                }
                for i in 0..NV {
                    if (self.permit_idx.val().index() == i) & self.wr.val() {
                        self.permit[i].d.next = self.p_new.val();
                    }
                }
            }
            if (self.ctrl_word.val() == self.c_subscribe.val()) & self.wr.val() & self.sub_ok.val()
            {
                self.ack.next = true;
                for i in 0..NG {
                    if self.wdata.val().get_bits::<8>(0).index() == i {
                        if self.wdata.val().get_bit(31) {
                            self.members[i].d.next = self.members[i].q.val()
                                | (bits::<NV>(1) << self.wdata.val().get_bits::<8>(8));
                        } else {
                            self.members[i].d.next = self.members[i].q.val()
                                & !(bits::<NV>(1) << self.wdata.val().get_bits::<8>(8));
                        }
                    }
                }
            }
            if self.ctrl_word.val() == self.c_listen_lo.val() {
                self.ack.next = true;
                self.rdata.next = self.listen.q.val().get_bits::<32>(0);
                if self.wr.val() {
                    self.listen.d.next =
                        (self.listen.q.val() >> 32 << 32) | bit_cast::<64, 32>(self.wdata.val());
                }
            }
            if self.ctrl_word.val() == self.c_listen_hi.val() {
                self.ack.next = true;
                self.rdata.next = self.listen.q.val().get_bits::<32>(32);
                if self.wr.val() {
                    self.listen.d.next = bit_cast::<64, 32>(self.listen.q.val().get_bits::<32>(0))
                        | (bit_cast::<64, 32>(self.wdata.val()) << 32);
                }
            }
            if self.rd.val() {
                if self.ctrl_word.val() == self.c_no_members.val() {
                    self.ack.next = true;
                    self.rdata.next = self.no_members.q.val();
                }
                if self.ctrl_word.val() == self.c_port_events.val() {
                    self.ack.next = true;
                    self.rdata.next = self.port_events.q.val();
                }
                if self.ctrl_word.val() == self.c_overruns.val() {
                    self.ack.next = true;
                    self.rdata.next = self.overruns.q.val();
                }
            }
            if self.in_vi_page.val() {
                if self.wr.val() & (self.word.val() == self.w_indicate.val()) {
                    self.ack.next = true;
                    self.indicate_wr.next = true;
                }
                if self.rd.val() & (self.word.val() == self.w_refused.val()) {
                    self.ack.next = true;
                    for i in 0..NV {
                        if self.vi_of_page.val().index() == i {
                            self.rdata.next = self.refused[i].q.val();
                        }
                    }
                }
            }
        }
        if !self.rd.val() {
            self.rdata.next = 0.into();
        }

        // ---- Indication queue.
        self.ind_empty.next = self.ind_wptr.q.val() == self.ind_rptr.q.val();
        // Through a 4-bit signal: in Verilog the difference would be 32 bits wide.
        self.ind_count.next = self.ind_wptr.q.val() - self.ind_rptr.q.val();
        self.ind_full.next = self.ind_count.val() == 8;
        if self.indicate_wr.val() {
            if self.ind_full.val() {
                self.overruns.d.next = self.overruns.q.val() + 1;
            } else {
                self.ind_wptr.d.next = self.ind_wptr.q.val() + 1;
                for i in 0..IND_DEPTH {
                    if self.ind_wptr.q.val().get_bits::<3>(0).index() == i {
                        self.ind_vi[i].d.next = bit_cast::<8, PAGE_BITS>(self.vi_of_page.val());
                        self.ind_group[i].d.next = self.wdata.val().get_bits::<8>(0);
                        self.ind_payload[i].d.next = self.wdata.val().get_bits::<24>(8);
                        self.ind_ts[i].d.next = self.cycles.val();
                    }
                }
            }
        }
        self.h_vi.next = 0.into();
        self.h_group.next = 0.into();
        self.h_payload.next = 0.into();
        self.h_ts.next = 0.into();
        for i in 0..IND_DEPTH {
            if self.ind_rptr.q.val().get_bits::<3>(0).index() == i {
                self.h_vi.next = self.ind_vi[i].q.val();
                self.h_group.next = self.ind_group[i].q.val();
                self.h_payload.next = self.ind_payload[i].q.val();
                self.h_ts.next = self.ind_ts[i].q.val();
            }
        }
        self.h_permit.next = 0.into();
        for i in 0..NV {
            if self.h_vi.val().index() == i {
                self.h_permit.next = self.permit[i].q.val();
            }
        }
        self.h_allowed.next = (self.h_group.val() < self.num_groups.val())
            & self.h_permit.val().get_bit(self.h_group.val().index());
        self.ind_pack.timestamp.next = self.h_ts.val();
        self.ind_pack.flags.next = 0.into();
        self.ind_pack.source.next = bit_cast::<16, 8>(self.h_vi.val());
        self.ind_pack.group.next = self.h_group.val();
        self.ind_pack.has_group.next = self.h_allowed.val();
        if self.h_allowed.val() {
            self.ind_pack.kind.next = self.k_indication.val();
            self.ind_pack.payload.next = bit_cast::<32, 24>(self.h_payload.val());
            self.ind_pack.aux.next = 0.into();
        } else {
            self.ind_pack.kind.next = self.k_error.val();
            self.ind_pack.payload.next = self.e_refused.val();
            self.ind_pack.aux.next = bit_cast::<16, 8>(self.h_group.val());
        }
        self.dsi_pack.timestamp.next = self.cycles.val();
        self.dsi_pack.kind.next = self.k_indication.val();
        self.dsi_pack.flags.next = self.f_device_port.val();
        self.dsi_pack.source.next = self.source_none.val();
        self.dsi_pack.has_group.next = true;
        self.dsi_pack.group.next = self.dsi_group.val();
        self.dsi_pack.payload.next = self.dsi_payload.val();
        self.dsi_pack.aux.next = 0.into();

        // ---- Round robin over the producers: 0 indication, 1 device port, 2 timer, 3 rx, 4 tx.
        self.ind_ready.next = !self.ind_empty.val();
        // (Negate before widening: Verilog would widen ~x first.)
        self.req.next = bit_cast::<5, 1>(self.ind_ready.val().into())
            | (bit_cast::<5, 1>(self.dsi_valid.val().into()) << 1)
            | (bit_cast::<5, 1>(self.stimer_valid.val().into()) << 2)
            | (bit_cast::<5, 1>(self.srx_valid.val().into()) << 3)
            | (bit_cast::<5, 1>(self.stx_valid.val().into()) << 4);
        self.masked.next = self.req.val() & !((bits::<5>(2) << self.last_grant.q.val()) - 1);
        if self.masked.val() != 0 {
            self.pick_from.next = self.masked.val();
        } else {
            self.pick_from.next = self.req.val();
        }

        // ---- Fan-out.
        self.low.next = self.cur_map.q.val() & (!self.cur_map.q.val() + 1);
        self.rest.next = self.cur_map.q.val() & !self.low.val();
        self.out_valid.next = self.cur_valid.q.val() & (self.cur_map.q.val() != 0);
        self.out_record.next = self.cur_record.q.val();
        self.out_vi.next = 0.into();
        for i in 0..NV {
            if self.low.val().get_bit(i) {
                self.out_vi.next = self.vi_index[i].val();
            }
        }
        self.taking.next = self.out_valid.val() & self.out_ready.val();
        self.free.next = !self.cur_valid.q.val()
            | (self.cur_map.q.val() == 0)
            | (self.taking.val() & (self.rest.val() == 0));
        if self.free.val() {
            self.grant.next = self.pick_from.val() & (!self.pick_from.val() + 1);
        } else {
            self.grant.next = 0.into();
        }
        self.load.next = self.grant.val() != 0;

        // The granted producer.
        self.sel_to_group.next = false;
        self.sel_target.next = 0.into();
        self.sel_record.next = 0.into();
        if self.grant.val().get_bit(0) {
            self.sel_to_group.next = self.h_allowed.val();
            if self.h_allowed.val() {
                self.sel_target.next = self.h_group.val();
            } else {
                self.sel_target.next = self.h_vi.val();
            }
            self.sel_record.next = self.ind_pack.record.val();
        }
        if self.grant.val().get_bit(1) {
            self.sel_to_group.next = true;
            self.sel_target.next = self.dsi_group.val();
            self.sel_record.next = self.dsi_pack.record.val();
        }
        if self.grant.val().get_bit(2) {
            self.sel_to_group.next = self.stimer_to_group.val();
            self.sel_target.next = self.stimer_target.val();
            self.sel_record.next = self.stimer_record.val();
        }
        if self.grant.val().get_bit(3) {
            self.sel_to_group.next = self.srx_to_group.val();
            self.sel_target.next = self.srx_target.val();
            self.sel_record.next = self.srx_record.val();
        }
        if self.grant.val().get_bit(4) {
            self.sel_to_group.next = self.stx_to_group.val();
            self.sel_target.next = self.stx_target.val();
            self.sel_record.next = self.stx_record.val();
        }
        self.sel_members.next = 0.into();
        for i in 0..NG {
            if self.sel_target.val().index() == i {
                self.sel_members.next = self.members[i].q.val();
            }
        }
        if self.sel_to_group.val() {
            if self.sel_target.val() < self.num_groups.val() {
                self.sel_map.next = self.sel_members.val();
            } else {
                self.sel_map.next = 0.into();
            }
        } else if self.sel_target.val() < self.num_vis.val() {
            self.sel_map.next = bits::<NV>(1) << self.sel_target.val();
        } else {
            self.sel_map.next = 0.into();
        }
        self.sel_listened.next = self.sel_to_group.val()
            & (self.sel_target.val() < self.num_groups.val())
            & self.listen.q.val().get_bit(self.sel_target.val().index());

        // Grants to producers.
        self.dsi_ready.next = self.grant.val().get_bit(1);
        self.stimer_ready.next = self.grant.val().get_bit(2);
        self.srx_ready.next = self.grant.val().get_bit(3);
        self.stx_ready.next = self.grant.val().get_bit(4);
        if self.grant.val().get_bit(0) {
            self.ind_rptr.d.next = self.ind_rptr.q.val() + 1;
            if !self.h_allowed.val() {
                for i in 0..NV {
                    if self.h_vi.val().index() == i {
                        self.refused[i].d.next = self.refused[i].q.val() + 1;
                    }
                }
            }
        }
        if self.grant.val().get_bit(1) {
            self.port_events.d.next = self.port_events.q.val() + 1;
        }

        // Fan-out state.
        if self.taking.val() {
            self.cur_map.d.next = self.rest.val();
        }
        if self.free.val() {
            self.cur_valid.d.next = self.load.val();
        }
        if self.load.val() {
            self.last_grant.d.next = 0.into();
            if self.grant.val().get_bit(1) {
                self.last_grant.d.next = 1.into();
            }
            if self.grant.val().get_bit(2) {
                self.last_grant.d.next = 2.into();
            }
            if self.grant.val().get_bit(3) {
                self.last_grant.d.next = 3.into();
            }
            if self.grant.val().get_bit(4) {
                self.last_grant.d.next = 4.into();
            }
            self.cur_record.d.next = self.sel_record.val();
            self.cur_map.d.next = self.sel_map.val();
            if self.sel_to_group.val() & (self.sel_map.val() == 0) {
                self.no_members.d.next = self.no_members.q.val() + 1;
            }
        }

        // Device-space output.
        self.dso_valid_q.d.next = self.load.val() & self.sel_listened.val();
        if self.load.val() {
            self.dso_record.d.next = self.sel_record.val();
        }
        self.dso_valid.next = self.dso_valid_q.q.val();
        self.dso_kind.next = self
            .dso_record
            .q
            .val()
            .get_bits::<4>(self.sh_kind.val().index());
        self.dso_group.next = self
            .dso_record
            .q
            .val()
            .get_bits::<8>(self.sh_group.val().index());
        self.dso_source.next = self
            .dso_record
            .q
            .val()
            .get_bits::<16>(self.sh_source.val().index());
        self.dso_payload.next = self
            .dso_record
            .q
            .val()
            .get_bits::<32>(self.sh_payload.val().index());

        if self.reset.val() {
            for i in 0..NG {
                self.members[i].d.next = 0.into();
            }
            for i in 0..NV {
                self.permit[i].d.next = 0.into();
                self.refused[i].d.next = 0.into();
            }
            self.listen.d.next = 0.into();
            self.no_members.d.next = 0.into();
            self.port_events.d.next = 0.into();
            self.overruns.d.next = 0.into();
            self.ind_wptr.d.next = 0.into();
            self.ind_rptr.d.next = 0.into();
            self.last_grant.d.next = 0.into();
            self.cur_valid.d.next = false;
            self.cur_map.d.next = 0.into();
            self.dso_valid_q.d.next = false;
        }
    }
}
