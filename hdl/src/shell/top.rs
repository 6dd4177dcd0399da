//! `PcieShell`: the core with the shell's blocks around it, its ports named and sized as the
//! UltraScale+ PCIe IP's (`pcie4_uscale_plus`, 128-bit interfaces) so that a board's top
//! connects them one to one. The generated Verilog module is `top` (`gen-verilog --top pcie-shell`).
//!
//! # Ports
//! - `user_clk`, `user_reset`, `user_lnk_up` (in): the IP's user clock (250 MHz), its
//!   synchronous active-high reset, and link state; the core runs on `user_clk` too
//! - `m_axis_cq_*` (in, `tready` out), `pcie_cq_np_req` (out, 2: always 1, the completer
//!   holds requests with `tready` instead): host requests, see [`super::completer`]
//! - `s_axis_cc_*` (out, `tready` in): their completions
//! - `s_axis_rq_*` (out, `tready` in): the core's DMA reads and writes, see
//!   [`super::dma_write`] and [`super::dma_read`]
//! - `m_axis_rc_*` (in, `tready` out): completions of the reads
//! - `cfg_function_status` (in, 16): function 0's command bits (bit 2: bus master enable)
//! - `cfg_interrupt_msix_*`: the IP's MSI-X interface with the table in the shell (the IP's
//!   "MSI-X external" mode), see [`super::msix`]; `cfg_interrupt_msi_function_number` and
//!   `cfg_interrupt_msix_vec_pending` are 0
//! - `rx_*`, `tx_*`, `dsi_*`, `dso_*`: the core's MAC and device-space ports (see
//!   [`crate::core`]), in the `user_clk` domain
//!
//! # Contract
//! BAR0 (`evnic_regs::map::shell::REGS_BAR`) holds the core's register map and the shell page;
//! BAR2 (`MSIX_BAR`) the MSI-X table. The core's interrupt is MSI-X vector 0. Errors of the
//! PCIe side are counted on the shell page and end as error responses to the core (which
//! turns a failed DMA read into an ERROR event, `DmaFault`) or as Unsupported Request
//! completions to the host; no request of either side waits forever.
//!
//! # Timing
//! See the blocks. A host register read takes the core's bus latency plus 3 cycles in the
//! shell, one at a time.

use super::completer::Completer;
use super::dma_read::DmaReader;
use super::dma_write::DmaWriter;
use super::msix::Msix;
use super::rq_mux::RqMux;
use super::shell_regs::ShellRegs;
use super::{CC_USER_BITS, CQ_USER_BITS, RC_USER_BITS, RQ_USER_BITS};
use crate::core::EvnicCore;
use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct PcieShell {
    pub user_clk: Signal<In, Clock>,
    pub user_reset: Signal<In, Bit>,
    pub user_lnk_up: Signal<In, Bit>,

    pub m_axis_cq_tdata: Signal<In, Bits<128>>,
    pub m_axis_cq_tkeep: Signal<In, Bits<4>>,
    pub m_axis_cq_tlast: Signal<In, Bit>,
    pub m_axis_cq_tuser: Signal<In, Bits<CQ_USER_BITS>>,
    pub m_axis_cq_tvalid: Signal<In, Bit>,
    pub m_axis_cq_tready: Signal<Out, Bit>,
    pub pcie_cq_np_req: Signal<Out, Bits<2>>,

    pub s_axis_cc_tdata: Signal<Out, Bits<128>>,
    pub s_axis_cc_tkeep: Signal<Out, Bits<4>>,
    pub s_axis_cc_tlast: Signal<Out, Bit>,
    pub s_axis_cc_tuser: Signal<Out, Bits<CC_USER_BITS>>,
    pub s_axis_cc_tvalid: Signal<Out, Bit>,
    pub s_axis_cc_tready: Signal<In, Bit>,

    pub s_axis_rq_tdata: Signal<Out, Bits<128>>,
    pub s_axis_rq_tkeep: Signal<Out, Bits<4>>,
    pub s_axis_rq_tlast: Signal<Out, Bit>,
    pub s_axis_rq_tuser: Signal<Out, Bits<RQ_USER_BITS>>,
    pub s_axis_rq_tvalid: Signal<Out, Bit>,
    pub s_axis_rq_tready: Signal<In, Bit>,

    pub m_axis_rc_tdata: Signal<In, Bits<128>>,
    pub m_axis_rc_tkeep: Signal<In, Bits<4>>,
    pub m_axis_rc_tlast: Signal<In, Bit>,
    pub m_axis_rc_tuser: Signal<In, Bits<RC_USER_BITS>>,
    pub m_axis_rc_tvalid: Signal<In, Bit>,
    pub m_axis_rc_tready: Signal<Out, Bit>,

    pub cfg_function_status: Signal<In, Bits<16>>,
    pub cfg_interrupt_msix_enable: Signal<In, Bits<4>>,
    pub cfg_interrupt_msix_mask: Signal<In, Bits<4>>,
    pub cfg_interrupt_msix_address: Signal<Out, Bits<64>>,
    pub cfg_interrupt_msix_data: Signal<Out, Bits<32>>,
    pub cfg_interrupt_msix_int: Signal<Out, Bit>,
    pub cfg_interrupt_msix_sent: Signal<In, Bit>,
    pub cfg_interrupt_msix_fail: Signal<In, Bit>,
    pub cfg_interrupt_msix_vec_pending: Signal<Out, Bits<2>>,
    pub cfg_interrupt_msi_function_number: Signal<Out, Bits<8>>,

    pub rx_data: Signal<In, Bits<64>>,
    pub rx_keep: Signal<In, Bits<8>>,
    pub rx_valid: Signal<In, Bit>,
    pub rx_ready: Signal<Out, Bit>,
    pub rx_last: Signal<In, Bit>,
    pub rx_err: Signal<In, Bit>,
    pub tx_data: Signal<Out, Bits<64>>,
    pub tx_keep: Signal<Out, Bits<8>>,
    pub tx_valid: Signal<Out, Bit>,
    pub tx_ready: Signal<In, Bit>,
    pub tx_last: Signal<Out, Bit>,
    pub dsi_valid: Signal<In, Bit>,
    pub dsi_ready: Signal<Out, Bit>,
    pub dsi_group: Signal<In, Bits<8>>,
    pub dsi_payload: Signal<In, Bits<32>>,
    pub dso_valid: Signal<Out, Bit>,
    pub dso_kind: Signal<Out, Bits<4>>,
    pub dso_group: Signal<Out, Bits<8>>,
    pub dso_source: Signal<Out, Bits<16>>,
    pub dso_payload: Signal<Out, Bits<32>>,

    core: EvnicCore,
    completer: Completer,
    regs: ShellRegs,
    msix: Msix,
    writer: DmaWriter,
    reader: DmaReader,
    mux: RqMux,
}

impl Logic for PcieShell {
    #[hdl_gen]
    fn update(&mut self) {
        // Clock and reset of every block.
        self.core.clock.next = self.user_clk.val();
        self.core.reset.next = self.user_reset.val();
        self.completer.clock.next = self.user_clk.val();
        self.completer.reset.next = self.user_reset.val();
        self.regs.clock.next = self.user_clk.val();
        self.regs.reset.next = self.user_reset.val();
        self.msix.clock.next = self.user_clk.val();
        self.msix.reset.next = self.user_reset.val();
        self.writer.clock.next = self.user_clk.val();
        self.writer.reset.next = self.user_reset.val();
        self.reader.clock.next = self.user_clk.val();
        self.reader.reset.next = self.user_reset.val();
        self.mux.clock.next = self.user_clk.val();
        self.mux.reset.next = self.user_reset.val();

        // Host requests and completions.
        self.completer.cq_tdata.next = self.m_axis_cq_tdata.val();
        self.completer.cq_tkeep.next = self.m_axis_cq_tkeep.val();
        self.completer.cq_tlast.next = self.m_axis_cq_tlast.val();
        self.completer.cq_tuser.next = self.m_axis_cq_tuser.val();
        self.completer.cq_tvalid.next = self.m_axis_cq_tvalid.val();
        self.m_axis_cq_tready.next = self.completer.cq_tready.val();
        self.pcie_cq_np_req.next = 1.into();
        self.s_axis_cc_tdata.next = self.completer.cc_tdata.val();
        self.s_axis_cc_tkeep.next = self.completer.cc_tkeep.val();
        self.s_axis_cc_tlast.next = self.completer.cc_tlast.val();
        self.s_axis_cc_tuser.next = self.completer.cc_tuser.val();
        self.s_axis_cc_tvalid.next = self.completer.cc_tvalid.val();
        self.completer.cc_tready.next = self.s_axis_cc_tready.val();

        // The core's register bus.
        self.core.bar_req_valid.next = self.completer.bar_req_valid.val();
        self.core.bar_req_write.next = self.completer.bar_req_write.val();
        self.core.bar_req_addr.next = self.completer.bar_req_addr.val();
        self.core.bar_req_wdata.next = self.completer.bar_req_wdata.val();
        self.core.bar_req_strb.next = self.completer.bar_req_strb.val();
        self.completer.bar_req_ready.next = self.core.bar_req_ready.val();
        self.completer.bar_rsp_valid.next = self.core.bar_rsp_valid.val();
        self.completer.bar_rsp_rdata.next = self.core.bar_rsp_rdata.val();

        // The shell page and the MSI-X table.
        self.regs.rd.next = self.completer.regs_rd.val();
        self.regs.wr.next = self.completer.regs_wr.val();
        self.regs.addr.next = self.completer.loc_addr.val();
        self.regs.wdata.next = self.completer.loc_wdata.val();
        self.msix.rd.next = self.completer.msix_rd.val();
        self.msix.wr.next = self.completer.msix_wr.val();
        self.msix.addr.next = self.completer.loc_addr.val();
        self.msix.wdata.next = self.completer.loc_wdata.val();
        self.completer.loc_rdata.next = self.regs.rdata.val() | self.msix.rdata.val();
        self.regs.link_up.next = self.user_lnk_up.val();
        self.regs.bus_master.next = self.cfg_function_status.val().get_bit(2);
        self.regs.msix_enabled.next = self.cfg_interrupt_msix_enable.val().get_bit(0);
        self.regs.msix_masked.next = self.cfg_interrupt_msix_mask.val().get_bit(0);

        // DMA writes.
        self.writer.w_valid.next = self.core.dmaw_valid.val();
        self.writer.w_addr.next = self.core.dmaw_addr.val();
        self.writer.w_data.next = self.core.dmaw_data.val();
        self.writer.w_strb.next = self.core.dmaw_strb.val();
        self.core.dmaw_ready.next = self.writer.w_ready.val();

        // DMA reads.
        self.reader.req_valid.next = self.core.dmar_req_valid.val();
        self.reader.req_addr.next = self.core.dmar_req_addr.val();
        self.reader.req_tag.next = self.core.dmar_req_tag.val();
        self.core.dmar_req_ready.next = self.reader.req_ready.val();
        self.core.dmar_rsp_valid.next = self.reader.rsp_valid.val();
        self.core.dmar_rsp_tag.next = self.reader.rsp_tag.val();
        self.core.dmar_rsp_data.next = self.reader.rsp_data.val();
        self.core.dmar_rsp_err.next = self.reader.rsp_err.val();
        self.reader.rc_tdata.next = self.m_axis_rc_tdata.val();
        self.reader.rc_tkeep.next = self.m_axis_rc_tkeep.val();
        self.reader.rc_tlast.next = self.m_axis_rc_tlast.val();
        self.reader.rc_tuser.next = self.m_axis_rc_tuser.val();
        self.reader.rc_tvalid.next = self.m_axis_rc_tvalid.val();
        self.m_axis_rc_tready.next = self.reader.rc_tready.val();
        self.reader.cpl_timeout.next = self.regs.cpl_timeout.val();

        // Both onto RQ.
        self.mux.a_valid.next = self.writer.t_valid.val();
        self.mux.a_data.next = self.writer.t_data.val();
        self.mux.a_keep.next = self.writer.t_keep.val();
        self.mux.a_last.next = self.writer.t_last.val();
        self.mux.a_user.next = self.writer.t_user.val();
        self.writer.t_ready.next = self.mux.a_ready.val();
        self.mux.b_valid.next = self.reader.t_valid.val();
        self.mux.b_data.next = self.reader.t_data.val();
        self.mux.b_keep.next = self.reader.t_keep.val();
        self.mux.b_last.next = self.reader.t_last.val();
        self.mux.b_user.next = self.reader.t_user.val();
        self.reader.t_ready.next = self.mux.b_ready.val();
        self.s_axis_rq_tdata.next = self.mux.rq_tdata.val();
        self.s_axis_rq_tkeep.next = self.mux.rq_tkeep.val();
        self.s_axis_rq_tlast.next = self.mux.rq_tlast.val();
        self.s_axis_rq_tuser.next = self.mux.rq_tuser.val();
        self.s_axis_rq_tvalid.next = self.mux.rq_tvalid.val();
        self.mux.rq_tready.next = self.s_axis_rq_tready.val();

        // The interrupt.
        self.msix.irq.next = self.core.irq.val();
        self.msix.writes_goal.next = self.writer.goal.val();
        self.msix.writes_done.next = self.writer.done.val();
        self.msix.msix_enable.next = self.cfg_interrupt_msix_enable.val().get_bit(0);
        self.msix.msix_mask.next = self.cfg_interrupt_msix_mask.val().get_bit(0);
        self.cfg_interrupt_msix_address.next = self.msix.cfg_address.val();
        self.cfg_interrupt_msix_data.next = self.msix.cfg_data.val();
        self.cfg_interrupt_msix_int.next = self.msix.cfg_int.val();
        self.msix.cfg_sent.next = self.cfg_interrupt_msix_sent.val();
        self.msix.cfg_fail.next = self.cfg_interrupt_msix_fail.val();
        self.cfg_interrupt_msix_vec_pending.next = 0.into();
        self.cfg_interrupt_msi_function_number.next = 0.into();

        // Counters.
        self.regs.ev_timeout_a.next = self.reader.ev_timeout_timer.val();
        self.regs.ev_timeout_b.next = self.reader.ev_timeout_rc.val();
        self.regs.ev_error.next = self.reader.ev_error.val();
        self.regs.ev_poisoned.next = self.reader.ev_poisoned.val();
        self.regs.ev_unexpected.next = self.reader.ev_unexpected.val();
        self.regs.ev_unsupported.next = self.completer.unsupported.val();
        self.regs.ev_msix_sent.next = self.msix.sent.val();
        self.regs.ev_msix_failed.next = self.msix.failed.val();

        // The MAC and device-space ports.
        self.core.rx_data.next = self.rx_data.val();
        self.core.rx_keep.next = self.rx_keep.val();
        self.core.rx_valid.next = self.rx_valid.val();
        self.core.rx_last.next = self.rx_last.val();
        self.core.rx_err.next = self.rx_err.val();
        self.rx_ready.next = self.core.rx_ready.val();
        self.tx_data.next = self.core.tx_data.val();
        self.tx_keep.next = self.core.tx_keep.val();
        self.tx_valid.next = self.core.tx_valid.val();
        self.tx_last.next = self.core.tx_last.val();
        self.core.tx_ready.next = self.tx_ready.val();
        self.core.dsi_valid.next = self.dsi_valid.val();
        self.core.dsi_group.next = self.dsi_group.val();
        self.core.dsi_payload.next = self.dsi_payload.val();
        self.dsi_ready.next = self.core.dsi_ready.val();
        self.dso_valid.next = self.core.dso_valid.val();
        self.dso_kind.next = self.core.dso_kind.val();
        self.dso_group.next = self.core.dso_group.val();
        self.dso_source.next = self.core.dso_source.val();
        self.dso_payload.next = self.core.dso_payload.val();
    }
}
