//! `EvnicCore`: the top of the device. It instantiates the blocks and wires them together; the
//! Verilog module generated from it is `top`, what Verilator simulates and Yosys synthesises.
//!
//! # Ports
//! - `clock`; `reset`: synchronous, active high, at least one cycle (RustHDL has no reset of its
//!   own: every block takes this one, or the soft reset ORed into it)
//! - BAR0 register port `bar_*`: see [`crate::regbus`]
//! - DMA write master `dmaw_*`: one 16-byte beat per transfer (`valid && ready`) at a 16-byte
//!   aligned `dmaw_addr`, `dmaw_strb` one bit per byte; posted (no response)
//! - DMA read master: requests `dmar_req_*` (16-byte aligned address and a tag), responses
//!   `dmar_rsp_*` in request order with the tag, the 16 bytes and an error bit (the IOMMU refused)
//! - MAC receive stream `rx_*` and transmit stream `tx_*`: 64 bits, byte keep contiguous from bit
//!   0 (byte 0 is the first on the wire), `last`, and `rx_err` on the last beat for a MAC error;
//!   frames on both carry their FCS
//! - `irq`: a one-cycle pulse per interrupt (an MSI message on a board)
//! - device-space ports: `dsi_*` where FPGA logic indicates an event into a group, `dso_*` where
//!   it is told of events in the groups it listens to
//! - `dbg_*`: the parser and filter result of each frame, for the simulator's replay and
//!   differential tests (left unconnected, and optimised away, on a board)
//!
//! # Timing
//! See each block. Register accesses complete in 2 cycles (see [`crate::regbus`]).

use crate::global_regs::GlobalRegs;
use crate::regbus::{RegBus, ADDR_BITS};
use rust_hdl::prelude::*;

/// Bits of the filter key (see `evnic_regs::key`).
pub const KEY_BITS: usize = evnic_regs::key::KEY_BITS as usize;

#[derive(LogicBlock, Default)]
pub struct EvnicCore {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,

    pub bar_req_valid: Signal<In, Bit>,
    pub bar_req_ready: Signal<Out, Bit>,
    pub bar_req_write: Signal<In, Bit>,
    pub bar_req_addr: Signal<In, Bits<ADDR_BITS>>,
    pub bar_req_wdata: Signal<In, Bits<32>>,
    pub bar_req_strb: Signal<In, Bits<4>>,
    pub bar_rsp_valid: Signal<Out, Bit>,
    pub bar_rsp_rdata: Signal<Out, Bits<32>>,

    pub dmaw_valid: Signal<Out, Bit>,
    pub dmaw_ready: Signal<In, Bit>,
    pub dmaw_addr: Signal<Out, Bits<64>>,
    pub dmaw_data: Signal<Out, Bits<128>>,
    pub dmaw_strb: Signal<Out, Bits<16>>,

    pub dmar_req_valid: Signal<Out, Bit>,
    pub dmar_req_ready: Signal<In, Bit>,
    pub dmar_req_addr: Signal<Out, Bits<64>>,
    pub dmar_req_tag: Signal<Out, Bits<8>>,
    pub dmar_rsp_valid: Signal<In, Bit>,
    pub dmar_rsp_tag: Signal<In, Bits<8>>,
    pub dmar_rsp_data: Signal<In, Bits<128>>,
    pub dmar_rsp_err: Signal<In, Bit>,

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

    pub irq: Signal<Out, Bit>,

    pub dsi_valid: Signal<In, Bit>,
    pub dsi_ready: Signal<Out, Bit>,
    pub dsi_group: Signal<In, Bits<8>>,
    pub dsi_payload: Signal<In, Bits<32>>,
    pub dso_valid: Signal<Out, Bit>,
    pub dso_kind: Signal<Out, Bits<4>>,
    pub dso_group: Signal<Out, Bits<8>>,
    pub dso_source: Signal<Out, Bits<8>>,
    pub dso_payload: Signal<Out, Bits<32>>,

    pub dbg_valid: Signal<Out, Bit>,
    pub dbg_key: Signal<Out, Bits<KEY_BITS>>,
    pub dbg_flags: Signal<Out, Bits<8>>,
    pub dbg_len: Signal<Out, Bits<16>>,
    pub dbg_hit: Signal<Out, Bit>,
    pub dbg_filter: Signal<Out, Bits<8>>,
    pub dbg_action: Signal<Out, Bits<16>>,

    bus: RegBus,
    global: GlobalRegs,
    /// Reset of every block but the bus and the global page: the port reset or a soft reset.
    block_reset: DFF<Bit>,
}

impl Logic for EvnicCore {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, block_reset);
        self.block_reset.d.next = self.reset.val() | self.global.soft_reset.val();

        // Register bus.
        self.bus.clock.next = self.clock.val();
        self.bus.reset.next = self.reset.val();
        self.bus.req_valid.next = self.bar_req_valid.val();
        self.bus.req_write.next = self.bar_req_write.val();
        self.bus.req_addr.next = self.bar_req_addr.val();
        self.bus.req_wdata.next = self.bar_req_wdata.val();
        self.bus.req_strb.next = self.bar_req_strb.val();
        self.bar_req_ready.next = self.bus.req_ready.val();
        self.bar_rsp_valid.next = self.bus.rsp_valid.val();
        self.bar_rsp_rdata.next = self.bus.rsp_rdata.val();

        // Register blocks: each sees the strobes; claims and read data are ORed.
        self.global.clock.next = self.clock.val();
        self.global.reset.next = self.reset.val();
        self.global.rd.next = self.bus.rd.val();
        self.global.wr.next = self.bus.wr.val();
        self.global.addr.next = self.bus.addr.val();
        self.global.wdata.next = self.bus.wdata.val();
        self.global.err_count.next = self.bus.err_count.val();
        self.global.err_addr.next = self.bus.err_addr.val();
        self.bus.err_clear.next = self.global.err_clear.val();
        self.bus.claim.next = self.global.claim.val();
        self.bus.rdata.next = self.global.rdata.val();

        // Ports whose blocks are not in the core yet: idle, never ready, so nothing is lost
        // silently (a MAC sees backpressure, not a discard).
        self.dmaw_valid.next = false;
        self.dmaw_addr.next = 0.into();
        self.dmaw_data.next = 0.into();
        self.dmaw_strb.next = 0.into();
        self.dmar_req_valid.next = false;
        self.dmar_req_addr.next = 0.into();
        self.dmar_req_tag.next = 0.into();
        self.rx_ready.next = false;
        self.tx_data.next = 0.into();
        self.tx_keep.next = 0.into();
        self.tx_valid.next = false;
        self.tx_last.next = false;
        self.irq.next = false;
        self.dsi_ready.next = false;
        self.dso_valid.next = false;
        self.dso_kind.next = 0.into();
        self.dso_group.next = 0.into();
        self.dso_source.next = 0.into();
        self.dso_payload.next = 0.into();
        self.dbg_valid.next = false;
        self.dbg_key.next = 0.into();
        self.dbg_flags.next = 0.into();
        self.dbg_len.next = 0.into();
        self.dbg_hit.next = false;
        self.dbg_filter.next = 0.into();
        self.dbg_action.next = 0.into();
    }
}
