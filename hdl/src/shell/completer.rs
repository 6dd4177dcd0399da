//! `Completer`: the host's requests from the hard block's completer request stream (CQ) to the
//! core's register bus, the shell page or the MSI-X table, and their completions on the
//! completer completion stream (CC).
//!
//! # Ports
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | | rising edge; synchronous active-high reset |
//! | `cq_tdata`, `cq_tkeep`, `cq_tlast`, `cq_tuser`, `cq_tvalid` / `cq_tready` | in / out | 128, 4, 1, 88, 1 | CQ stream: a 4-dword descriptor beat, then the payload from dword 0 of the next beat |
//! | `cc_tdata`, `cc_tkeep`, `cc_tlast`, `cc_tuser`, `cc_tvalid` / `cc_tready` | out / in | 128, 4, 1, 33, 1 | CC stream: one beat, 3-dword descriptor and the read data in dword 3 |
//! | `bar_req_*`, `bar_rsp_*` | | | the core's register bus (see [`crate::regbus`]): byte address within BAR0, data, byte strobes |
//! | `regs_rd`, `regs_wr`, `msix_rd`, `msix_wr` | out | 1 | one-cycle strobes to the shell page and to the MSI-X BAR |
//! | `loc_addr`, `loc_wdata` / `loc_rdata` | out / in | 12, 32 / 32 | byte offset within that page, write data; read data answered in the strobe cycle |
//! | `unsupported` | out | 1 | one-cycle pulse per host request not carried out |
//!
//! # Contract
//! - Memory reads and writes of one dword to BAR0 (`evnic_regs::map::shell::REGS_BAR`) go to
//!   the core's register bus with the request's byte enables as strobes, except the shell page,
//!   which goes to `regs_*`; those to the MSI-X BAR go to `msix_*`. Reads complete with the
//!   data (status Successful Completion, the lower address and byte count of the first byte
//!   enables).
//! - Everything else is counted on `unsupported` and not carried out: a request to another BAR,
//!   I/O, any type but memory read and write, a length other than one dword, a discontinued
//!   request, and a partial-strobe write to the shell page or the MSI-X table. Non-posted ones
//!   (all but memory writes) complete with status Unsupported Request and no data.
//! - One request at a time: `cq_tready` is low from the request's last beat until it is
//!   done, so the hard block holds later requests (posted and non-posted alike). The core's
//!   bus answers every request (see [`crate::regbus`]), in any number of cycles.
//!
//! # Timing
//! From the request's last beat: 1 cycle to decode, then a core access (2 cycles on the
//! present bus, request to response) or 1 cycle for a local one, then the completion beat
//! (held until `cc_tready`). A write is done, and the next request taken, the cycle after
//! the core's response.

use super::{konst, CC_USER_BITS, CQ_USER_BITS};
use crate::regbus::ADDR_BITS;
use evnic_regs::map;
use rust_hdl::prelude::*;

const S_IDLE: u64 = 0;
const S_DATA: u64 = 1;
const S_DECODE: u64 = 2;
const S_CORE_REQ: u64 = 3;
const S_CORE_RSP: u64 = 4;
const S_LOCAL: u64 = 5;
const S_CPL: u64 = 6;

#[derive(LogicBlock)]
pub struct Completer {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cq_tdata: Signal<In, Bits<128>>,
    pub cq_tkeep: Signal<In, Bits<4>>,
    pub cq_tlast: Signal<In, Bit>,
    pub cq_tuser: Signal<In, Bits<CQ_USER_BITS>>,
    pub cq_tvalid: Signal<In, Bit>,
    pub cq_tready: Signal<Out, Bit>,
    pub cc_tdata: Signal<Out, Bits<128>>,
    pub cc_tkeep: Signal<Out, Bits<4>>,
    pub cc_tlast: Signal<Out, Bit>,
    pub cc_tuser: Signal<Out, Bits<CC_USER_BITS>>,
    pub cc_tvalid: Signal<Out, Bit>,
    pub cc_tready: Signal<In, Bit>,
    pub bar_req_valid: Signal<Out, Bit>,
    pub bar_req_ready: Signal<In, Bit>,
    pub bar_req_write: Signal<Out, Bit>,
    pub bar_req_addr: Signal<Out, Bits<ADDR_BITS>>,
    pub bar_req_wdata: Signal<Out, Bits<32>>,
    pub bar_req_strb: Signal<Out, Bits<4>>,
    pub bar_rsp_valid: Signal<In, Bit>,
    pub bar_rsp_rdata: Signal<In, Bits<32>>,
    pub regs_rd: Signal<Out, Bit>,
    pub regs_wr: Signal<Out, Bit>,
    pub msix_rd: Signal<Out, Bit>,
    pub msix_wr: Signal<Out, Bit>,
    pub loc_addr: Signal<Out, Bits<12>>,
    pub loc_wdata: Signal<Out, Bits<32>>,
    pub loc_rdata: Signal<In, Bits<32>>,
    pub unsupported: Signal<Out, Bit>,

    state: DFF<Bits<3>>,
    // The request, from its descriptor beat.
    r_addr: DFF<Bits<64>>,
    r_at: DFF<Bits<2>>,
    r_dwords: DFF<Bits<11>>,
    r_type: DFF<Bits<4>>,
    r_requester: DFF<Bits<16>>,
    r_tag: DFF<Bits<8>>,
    r_function: DFF<Bits<8>>,
    r_bar: DFF<Bits<3>>,
    r_tc: DFF<Bits<3>>,
    r_attr: DFF<Bits<3>>,
    r_first_be: DFF<Bits<4>>,
    r_discontinue: DFF<Bit>,
    r_wdata: DFF<Bits<32>>,
    r_have_data: DFF<Bit>,
    // Its outcome.
    r_rdata: DFF<Bits<32>>,
    r_ur: DFF<Bit>,
    r_local_msix: DFF<Bit>,
    unsupported_q: DFF<Bit>,
    // Decode.
    is_read: Signal<Local, Bit>,
    is_write: Signal<Local, Bit>,
    posted: Signal<Local, Bit>,
    in_shell_page: Signal<Local, Bit>,
    to_regs_bar: Signal<Local, Bit>,
    to_msix_bar: Signal<Local, Bit>,
    good: Signal<Local, Bit>,
    full_strobes: Signal<Local, Bit>,
    first_byte: Signal<Local, Bits<2>>,
    last_byte: Signal<Local, Bits<2>>,
    byte_count: Signal<Local, Bits<13>>,
    page_mask: Constant<Bits<ADDR_BITS>>,
    shell_page: Constant<Bits<ADDR_BITS>>,
    regs_bar: Constant<Bits<3>>,
    msix_bar: Constant<Bits<3>>,
    t_mem_read: Constant<Bits<4>>,
    t_mem_write: Constant<Bits<4>>,
    s_idle: Constant<Bits<3>>,
    s_data: Constant<Bits<3>>,
    s_decode: Constant<Bits<3>>,
    s_core_req: Constant<Bits<3>>,
    s_core_rsp: Constant<Bits<3>>,
    s_local: Constant<Bits<3>>,
    s_cpl: Constant<Bits<3>>,
}

impl Default for Completer {
    fn default() -> Self {
        let page_mask = ((1u64 << ADDR_BITS) - 1) & !((map::PAGE_BYTES as u64) - 1);
        Completer {
            clock: Default::default(),
            reset: Default::default(),
            cq_tdata: Default::default(),
            cq_tkeep: Default::default(),
            cq_tlast: Default::default(),
            cq_tuser: Default::default(),
            cq_tvalid: Default::default(),
            cq_tready: Default::default(),
            cc_tdata: Default::default(),
            cc_tkeep: Default::default(),
            cc_tlast: Default::default(),
            cc_tuser: Default::default(),
            cc_tvalid: Default::default(),
            cc_tready: Default::default(),
            bar_req_valid: Default::default(),
            bar_req_ready: Default::default(),
            bar_req_write: Default::default(),
            bar_req_addr: Default::default(),
            bar_req_wdata: Default::default(),
            bar_req_strb: Default::default(),
            bar_rsp_valid: Default::default(),
            bar_rsp_rdata: Default::default(),
            regs_rd: Default::default(),
            regs_wr: Default::default(),
            msix_rd: Default::default(),
            msix_wr: Default::default(),
            loc_addr: Default::default(),
            loc_wdata: Default::default(),
            loc_rdata: Default::default(),
            unsupported: Default::default(),
            state: Default::default(),
            r_addr: Default::default(),
            r_at: Default::default(),
            r_dwords: Default::default(),
            r_type: Default::default(),
            r_requester: Default::default(),
            r_tag: Default::default(),
            r_function: Default::default(),
            r_bar: Default::default(),
            r_tc: Default::default(),
            r_attr: Default::default(),
            r_first_be: Default::default(),
            r_discontinue: Default::default(),
            r_wdata: Default::default(),
            r_have_data: Default::default(),
            r_rdata: Default::default(),
            r_ur: Default::default(),
            r_local_msix: Default::default(),
            unsupported_q: Default::default(),
            is_read: Default::default(),
            is_write: Default::default(),
            posted: Default::default(),
            in_shell_page: Default::default(),
            to_regs_bar: Default::default(),
            to_msix_bar: Default::default(),
            good: Default::default(),
            full_strobes: Default::default(),
            first_byte: Default::default(),
            last_byte: Default::default(),
            byte_count: Default::default(),
            page_mask: konst(page_mask),
            shell_page: konst(map::SHELL_PAGE_BASE as u64),
            regs_bar: konst(map::shell::REGS_BAR as u64),
            msix_bar: konst(map::shell::MSIX_BAR as u64),
            t_mem_read: konst(super::req_type::MEM_READ),
            t_mem_write: konst(super::req_type::MEM_WRITE),
            s_idle: konst(S_IDLE),
            s_data: konst(S_DATA),
            s_decode: konst(S_DECODE),
            s_core_req: konst(S_CORE_REQ),
            s_core_rsp: konst(S_CORE_RSP),
            s_local: konst(S_LOCAL),
            s_cpl: konst(S_CPL),
        }
    }
}

impl Logic for Completer {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            r_addr,
            r_at,
            r_dwords,
            r_type,
            r_requester,
            r_tag,
            r_function,
            r_bar,
            r_tc,
            r_attr,
            r_first_be,
            r_discontinue,
            r_wdata,
            r_have_data,
            r_rdata,
            r_ur,
            r_local_msix,
            unsupported_q
        );

        // Decode of the registered request.
        self.is_read.next = self.r_type.q.val() == self.t_mem_read.val();
        self.is_write.next = self.r_type.q.val() == self.t_mem_write.val();
        // Memory writes and messages (types 12 and up) are posted: they get no completion.
        self.posted.next = self.is_write.val() | (self.r_type.q.val().get_bits::<2>(2) == 3);
        self.in_shell_page.next = (self.r_addr.q.val().get_bits::<ADDR_BITS>(0)
            & self.page_mask.val())
            == self.shell_page.val();
        self.to_regs_bar.next = self.r_bar.q.val() == self.regs_bar.val();
        self.to_msix_bar.next = self.r_bar.q.val() == self.msix_bar.val();
        self.good.next = (self.is_read.val() | self.is_write.val())
            & (self.r_dwords.q.val() == 1)
            & !self.r_discontinue.q.val()
            & (self.to_regs_bar.val() | self.to_msix_bar.val());
        self.full_strobes.next = self.r_first_be.q.val() == 15;

        // Lower address and byte count of a one-dword read from its first byte enables.
        self.first_byte.next = 0.into();
        if !self.r_first_be.q.val().get_bit(0) {
            if self.r_first_be.q.val().get_bit(1) {
                self.first_byte.next = 1.into();
            } else if self.r_first_be.q.val().get_bit(2) {
                self.first_byte.next = 2.into();
            } else if self.r_first_be.q.val().get_bit(3) {
                self.first_byte.next = 3.into();
            }
        }
        self.last_byte.next = 0.into();
        if self.r_first_be.q.val().get_bit(3) {
            self.last_byte.next = 3.into();
        } else if self.r_first_be.q.val().get_bit(2) {
            self.last_byte.next = 2.into();
        } else if self.r_first_be.q.val().get_bit(1) {
            self.last_byte.next = 1.into();
        }
        self.byte_count.next = bit_cast::<13, 2>(self.last_byte.val() - self.first_byte.val()) + 1;
        if self.r_dwords.q.val() != 1 {
            self.byte_count.next = bit_cast::<13, 11>(self.r_dwords.q.val()) << 2;
        }

        // Defaults.
        self.cq_tready.next = false;
        self.bar_req_valid.next = false;
        self.bar_req_write.next = self.is_write.val();
        self.bar_req_addr.next =
            self.r_addr.q.val().get_bits::<ADDR_BITS>(0) & !bits::<ADDR_BITS>(3);
        self.bar_req_wdata.next = self.r_wdata.q.val();
        self.bar_req_strb.next = self.r_first_be.q.val();
        self.regs_rd.next = false;
        self.regs_wr.next = false;
        self.msix_rd.next = false;
        self.msix_wr.next = false;
        self.loc_addr.next = self.r_addr.q.val().get_bits::<12>(0) & !bits::<12>(3);
        self.loc_wdata.next = self.r_wdata.q.val();
        self.unsupported_q.d.next = false;

        // The completion beat: descriptor dwords 0-2, data in dword 3.
        self.cc_tdata.next = bit_cast::<128, 7>(
            (bit_cast::<7, 5>(self.r_addr.q.val().get_bits::<5>(2)) << 2)
                | bit_cast::<7, 2>(self.first_byte.val()),
        ) | (bit_cast::<128, 2>(self.r_at.q.val()) << 8)
            | (bit_cast::<128, 13>(self.byte_count.val()) << 16)
            | (bit_cast::<128, 16>(self.r_requester.q.val()) << 48)
            | (bit_cast::<128, 8>(self.r_tag.q.val()) << 64)
            | (bit_cast::<128, 8>(self.r_function.q.val()) << 72)
            | (bit_cast::<128, 3>(self.r_tc.q.val()) << 89)
            | (bit_cast::<128, 3>(self.r_attr.q.val()) << 92);
        if self.r_ur.q.val() {
            // Status Unsupported Request (1), no data.
            self.cc_tdata.next = self.cc_tdata.val() | (bits::<128>(1) << 43);
            self.cc_tkeep.next = 7.into();
        } else {
            // Successful Completion of one dword.
            self.cc_tdata.next = self.cc_tdata.val()
                | (bits::<128>(1) << 32)
                | (bit_cast::<128, 32>(self.r_rdata.q.val()) << 96);
            self.cc_tkeep.next = 15.into();
        }
        self.cc_tlast.next = true;
        self.cc_tuser.next = 0.into();
        self.cc_tvalid.next = false;

        if self.state.q.val() == self.s_idle.val() {
            self.cq_tready.next = true;
            if self.cq_tvalid.val() {
                // The descriptor beat.
                self.r_at.d.next = self.cq_tdata.val().get_bits::<2>(0);
                self.r_addr.d.next = self.cq_tdata.val().get_bits::<64>(0);
                self.r_dwords.d.next = self.cq_tdata.val().get_bits::<11>(64);
                self.r_type.d.next = self.cq_tdata.val().get_bits::<4>(75);
                self.r_requester.d.next = self.cq_tdata.val().get_bits::<16>(80);
                self.r_tag.d.next = self.cq_tdata.val().get_bits::<8>(96);
                self.r_function.d.next = self.cq_tdata.val().get_bits::<8>(104);
                self.r_bar.d.next = self.cq_tdata.val().get_bits::<3>(112);
                self.r_tc.d.next = self.cq_tdata.val().get_bits::<3>(121);
                self.r_attr.d.next = self.cq_tdata.val().get_bits::<3>(124);
                self.r_first_be.d.next = self.cq_tuser.val().get_bits::<4>(0);
                self.r_discontinue.d.next = self.cq_tuser.val().get_bit(41);
                self.r_have_data.d.next = false;
                self.r_wdata.d.next = 0.into();
                if self.cq_tlast.val() {
                    self.state.d.next = self.s_decode.val();
                } else {
                    self.state.d.next = self.s_data.val();
                }
            }
        } else if self.state.q.val() == self.s_data.val() {
            self.cq_tready.next = true;
            if self.cq_tvalid.val() {
                if !self.r_have_data.q.val() {
                    self.r_wdata.d.next = self.cq_tdata.val().get_bits::<32>(0);
                    self.r_have_data.d.next = true;
                }
                if self.cq_tuser.val().get_bit(41) {
                    self.r_discontinue.d.next = true;
                }
                if self.cq_tlast.val() {
                    self.state.d.next = self.s_decode.val();
                }
            }
        } else if self.state.q.val() == self.s_decode.val() {
            self.r_ur.d.next = false;
            self.r_rdata.d.next = 0.into();
            self.r_local_msix.d.next = self.to_msix_bar.val();
            if !self.good.val() {
                self.unsupported_q.d.next = true;
                if self.posted.val() {
                    self.state.d.next = self.s_idle.val();
                } else {
                    self.r_ur.d.next = true;
                    self.state.d.next = self.s_cpl.val();
                }
            } else if self.to_regs_bar.val() & !self.in_shell_page.val() {
                self.state.d.next = self.s_core_req.val();
            } else {
                self.state.d.next = self.s_local.val();
            }
        } else if self.state.q.val() == self.s_core_req.val() {
            self.bar_req_valid.next = true;
            if self.bar_req_ready.val() {
                self.state.d.next = self.s_core_rsp.val();
            }
        } else if self.state.q.val() == self.s_core_rsp.val() {
            if self.bar_rsp_valid.val() {
                self.r_rdata.d.next = self.bar_rsp_rdata.val();
                if self.is_read.val() {
                    self.state.d.next = self.s_cpl.val();
                } else {
                    self.state.d.next = self.s_idle.val();
                }
            }
        } else if self.state.q.val() == self.s_local.val() {
            if self.is_read.val() {
                self.regs_rd.next = !self.r_local_msix.q.val();
                self.msix_rd.next = self.r_local_msix.q.val();
                self.r_rdata.d.next = self.loc_rdata.val();
                self.state.d.next = self.s_cpl.val();
            } else {
                if self.full_strobes.val() {
                    self.regs_wr.next = !self.r_local_msix.q.val();
                    self.msix_wr.next = self.r_local_msix.q.val();
                } else {
                    self.unsupported_q.d.next = true;
                }
                self.state.d.next = self.s_idle.val();
            }
        } else if self.state.q.val() == self.s_cpl.val() {
            self.cc_tvalid.next = true;
            if self.cc_tready.val() {
                self.state.d.next = self.s_idle.val();
            }
        } else {
            self.state.d.next = self.s_idle.val();
        }
        self.unsupported.next = self.unsupported_q.q.val();

        if self.reset.val() {
            self.state.d.next = self.s_idle.val();
            self.unsupported_q.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::testutil::{b128, dw, settle, tick};
    use std::collections::VecDeque;

    /// A host request as the CQ stream carries it.
    #[derive(Clone, Copy)]
    struct Req {
        addr: u64,
        dwords: u32,
        kind: u32,
        bar: u32,
        first_be: u32,
        data: Option<u32>,
        discontinue: bool,
        tag: u32,
    }

    fn read(bar: u32, addr: u64, first_be: u32, tag: u32) -> Req {
        Req {
            addr,
            dwords: 1,
            kind: 0,
            bar,
            first_be,
            data: None,
            discontinue: false,
            tag,
        }
    }
    fn write(bar: u32, addr: u64, first_be: u32, data: u32) -> Req {
        Req {
            addr,
            dwords: 1,
            kind: 1,
            bar,
            first_be,
            data: Some(data),
            discontinue: false,
            tag: 0,
        }
    }

    /// The CQ beats of a request: the descriptor, then its payload (if any).
    fn beats(r: &Req) -> Vec<(u128, u128, bool)> {
        let desc = (r.addr as u128 & !3)
            | ((r.dwords as u128) << 64)
            | ((r.kind as u128) << 75)
            | (0xabcd_u128 << 80)
            | ((r.tag as u128) << 96)
            | (3_u128 << 104)
            | ((r.bar as u128) << 112)
            | (17_u128 << 115)
            | (5_u128 << 121)
            | (2_u128 << 124);
        let user = r.first_be as u128 | ((r.discontinue as u128) << 41);
        match r.data {
            None => vec![(desc, user, true)],
            Some(d) => vec![(desc, user, false), (d as u128, 0, true)],
        }
    }

    #[derive(Default)]
    struct Seen {
        core: Vec<(bool, u64, u32, u64)>,
        local: Vec<(bool, bool, u64, u32)>,
        cc: Vec<(u128, u64)>,
        unsupported: u32,
    }

    /// Runs the requests through the completer with a core that answers after 1 to 5 cycles
    /// and a CC stream that stalls every third cycle.
    fn run(reqs: &[Req]) -> Seen {
        let mut u = Completer::default();
        u.connect_all();
        u.reset.next = true;
        tick!(u);
        u.reset.next = false;
        let mut cq: VecDeque<(u128, u128, bool)> = reqs.iter().flat_map(beats).collect();
        let mut seen = Seen::default();
        let mut pending: Option<(u64, u32)> = None;
        for cycle in 0..reqs.len() as u64 * 20 + 20 {
            u.cq_tvalid.next = !cq.is_empty();
            if let Some(&(d, usr, last)) = cq.front() {
                u.cq_tdata.next = b128(d);
                u.cq_tuser.next = b128(usr).get_bits::<CQ_USER_BITS>(0);
                u.cq_tlast.next = last;
            }
            let cc_ready = cycle % 3 != 0;
            u.cc_tready.next = cc_ready;
            u.bar_req_ready.next = cycle % 2 == 0;
            u.bar_rsp_valid.next = false;
            if let Some((due, v)) = pending {
                if due == cycle {
                    u.bar_rsp_valid.next = true;
                    u.bar_rsp_rdata.next = (v as u64).into();
                    pending = None;
                }
            }
            settle(&mut u);
            let a = u.loc_addr.val().to_u64();
            u.loc_rdata.next = 0.into();
            if u.regs_rd.val() {
                u.loc_rdata.next = (0x1111_0000 | a).into();
            }
            if u.msix_rd.val() {
                u.loc_rdata.next = (0x2222_0000 | a).into();
            }
            settle(&mut u);
            if u.cq_tvalid.val() && u.cq_tready.val() {
                cq.pop_front();
            }
            if u.bar_req_valid.val() && u.bar_req_ready.val() {
                assert!(pending.is_none(), "one access at a time");
                let addr = u.bar_req_addr.val().to_u64();
                seen.core.push((
                    u.bar_req_write.val(),
                    addr,
                    u.bar_req_wdata.val().to_u64() as u32,
                    u.bar_req_strb.val().to_u64(),
                ));
                pending = Some((cycle + 1 + cycle % 5, 0x5a5a_0000 | addr as u32));
            }
            if u.regs_wr.val() || u.msix_wr.val() || u.regs_rd.val() || u.msix_rd.val() {
                seen.local.push((
                    u.regs_wr.val() || u.msix_wr.val(),
                    u.msix_wr.val() || u.msix_rd.val(),
                    a,
                    u.loc_wdata.val().to_u64() as u32,
                ));
            }
            if u.cc_tvalid.val() && cc_ready {
                assert!(u.cc_tlast.val());
                seen.cc
                    .push((u.cc_tdata.val().to_u128(), u.cc_tkeep.val().to_u64()));
            }
            seen.unsupported += u.unsupported.val() as u32;
            tick!(u);
        }
        assert!(cq.is_empty(), "every request taken");
        seen
    }

    /// (lower address, byte count, dword count, status, tag, data) of a completion.
    fn cpl(c: &(u128, u64)) -> (u32, u32, u32, u32, u32, u32) {
        let d = c.0;
        assert_eq!(dw(d, 1) >> 16, 0xabcd, "requester ID");
        assert_eq!((dw(d, 2) >> 8) & 0xff, 3, "completer function");
        assert_eq!((dw(d, 2) >> 25) & 7, 5, "traffic class");
        assert_eq!((dw(d, 2) >> 28) & 7, 2, "attributes");
        assert_eq!(dw(d, 1) >> 14 & 1, 0, "not poisoned");
        (
            dw(d, 0) & 0x7f,
            (dw(d, 0) >> 16) & 0x1fff,
            dw(d, 1) & 0x7ff,
            (dw(d, 1) >> 11) & 7,
            dw(d, 2) & 0xff,
            dw(d, 3),
        )
    }

    #[test]
    fn register_reads_and_writes_reach_their_targets() {
        let shell = map::SHELL_PAGE_BASE as u64;
        let msix = map::shell::MSIX_BAR;
        let s = run(&[
            read(0, 0xfe00_0024, 0xf, 1),
            write(0, 0xfe00_0028, 0xf, 0xdead_beef),
            read(0, 0xfe00_0040, 0x4, 2),
            read(0, 0xfe00_0000 | shell | 0x10, 0xf, 3),
            write(msix, 0xfd00_0008, 0xf, 0x77),
            read(msix, 0xfd00_0800, 0xf, 4),
        ]);
        let bar = |a: u64| a & ((1 << ADDR_BITS) - 1);
        assert_eq!(
            s.core,
            vec![
                (false, bar(0x24), 0, 0xf),
                (true, bar(0x28), 0xdead_beef, 0xf),
                (false, bar(0x40), 0, 0x4),
            ]
        );
        assert_eq!(
            s.local,
            vec![
                (false, false, 0x10, 0),
                (true, true, 0x8, 0x77),
                (false, true, 0x800, 0)
            ]
        );
        assert_eq!(s.cc.len(), 4);
        assert!(
            s.cc.iter().all(|c| c.1 == 15),
            "three descriptor dwords and the data"
        );
        assert_eq!(
            cpl(&s.cc[0]),
            (0x24, 4, 1, 0, 1, 0x5a5a_0000 | bar(0x24) as u32)
        );
        assert_eq!(
            cpl(&s.cc[1]),
            (0x42, 1, 1, 0, 2, 0x5a5a_0000 | bar(0x40) as u32)
        );
        assert_eq!(cpl(&s.cc[2]), (0x10, 4, 1, 0, 3, 0x1111_0010));
        assert_eq!(cpl(&s.cc[3]), (0x00, 4, 1, 0, 4, 0x2222_0800));
        assert_eq!(s.unsupported, 0);
    }

    #[test]
    fn unsupported_requests_are_counted_and_non_posted_ones_get_ur() {
        let shell = map::SHELL_PAGE_BASE as u64;
        let mut two = read(0, 0x100, 0xf, 10);
        two.dwords = 2;
        let mut io = read(0, 0x100, 0xf, 11);
        io.kind = 2;
        let mut atomic = write(0, 0x100, 0xf, 1);
        atomic.kind = 4;
        atomic.tag = 12;
        let mut torn = read(0, 0x24, 0xf, 13);
        torn.discontinue = true;
        let s = run(&[
            read(3, 0x100, 0xf, 9),
            two,
            io,
            write(4, 0x100, 0xf, 5),
            atomic,
            write(0, shell | 0x4, 0x3, 9),
            torn,
        ]);
        assert!(s.core.is_empty(), "nothing reached the core");
        assert!(s.local.is_empty(), "nor the shell page");
        assert_eq!(s.unsupported, 7);
        let cpls: Vec<_> = s.cc.iter().map(cpl).collect();
        assert!(
            s.cc.iter().all(|c| c.1 == 7),
            "three descriptor dwords, no data"
        );
        let status: Vec<_> = cpls.iter().map(|c| (c.4, c.3, c.2)).collect();
        assert_eq!(
            status,
            vec![(9, 1, 0), (10, 1, 0), (11, 1, 0), (12, 1, 0), (13, 1, 0)]
        );
        assert_eq!(cpls[1].1, 8, "byte count of a 2-dword request");
    }

    #[test]
    fn generates_verilog() {
        let mut u = Completer::default();
        u.connect_all();
        crate::crc::tests::verilator_lint("completer", &generate_verilog(&u));
    }
}
