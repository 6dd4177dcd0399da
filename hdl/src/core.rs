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
//! - `dbg_*`: the key of each frame (`dbg_key_valid`, `dbg_key`, when it is known) and its
//!   outcome (`dbg_valid` with flags, length, filter hit and action word, in the same order),
//!   for the simulator's replay and differential tests, and `dbg_ram_collision` (left
//!   unconnected, and optimised away, on a board)
//!
//! # Timing
//! See each block. Register accesses complete in 2 cycles, up to 5 for registers held in RAM
//! (the event queues' `EVQ_*`; see [`crate::regbus`] and each block). After a reset, software
//! waits for `STATUS.READY`.

use crate::event_pack::EventPack;
use crate::event_path::EventPath;
use crate::global_regs::GlobalRegs;
use crate::regbus::{RegBus, ADDR_BITS};
use crate::rx::RxPath;
use crate::timers::CoreTimers;
use crate::tx::TxPath;
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
    pub dso_source: Signal<Out, Bits<16>>,
    pub dso_payload: Signal<Out, Bits<32>>,

    pub dbg_key_valid: Signal<Out, Bit>,
    pub dbg_key: Signal<Out, Bits<KEY_BITS>>,
    pub dbg_valid: Signal<Out, Bit>,
    pub dbg_flags: Signal<Out, Bits<8>>,
    pub dbg_len: Signal<Out, Bits<16>>,
    pub dbg_hit: Signal<Out, Bit>,
    pub dbg_filter: Signal<Out, Bits<16>>,
    pub dbg_action: Signal<Out, Bits<16>>,
    /// A RAM was read at an address in the cycle it was written (see [`crate::ram`]): an RTL
    /// bug the simulator reports. Never set on a correct design.
    pub dbg_ram_collision: Signal<Out, Bit>,

    bus: RegBus,
    global: GlobalRegs,
    events: EventPath,
    timers: CoreTimers,
    rx: RxPath,
    rx_pack: EventPack,
    tx: TxPath,
    tx_pack: EventPack,
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

        // Register blocks: each sees the strobes; acknowledgements and read data are ORed.
        self.global.clock.next = self.clock.val();
        self.global.reset.next = self.reset.val();
        self.global.rd.next = self.bus.rd.val();
        self.global.wr.next = self.bus.wr.val();
        self.global.addr.next = self.bus.addr.val();
        self.global.wdata.next = self.bus.wdata.val();
        self.global.err_count.next = self.bus.err_count.val();
        self.global.err_addr.next = self.bus.err_addr.val();
        self.bus.err_clear.next = self.global.err_clear.val();

        // Event blocks: reset by the port or a soft reset, timestamped by the cycle counter.
        self.events.clock.next = self.clock.val();
        self.events.reset.next = self.block_reset.q.val();
        self.events.cycles.next = self.global.cycles.val();
        self.events.rd.next = self.bus.rd.val();
        self.events.wr.next = self.bus.wr.val();
        self.events.addr.next = self.bus.addr.val();
        self.events.wdata.next = self.bus.wdata.val();
        self.timers.clock.next = self.clock.val();
        self.timers.reset.next = self.block_reset.q.val();
        self.timers.cycles.next = self.global.cycles.val();
        self.timers.rd.next = self.bus.rd.val();
        self.timers.wr.next = self.bus.wr.val();
        self.timers.addr.next = self.bus.addr.val();
        self.timers.wdata.next = self.bus.wdata.val();

        // Receive path: MAC stream in, descriptor reads, frame data writes, RX events.
        self.rx.clock.next = self.clock.val();
        self.rx.reset.next = self.block_reset.q.val();
        self.rx.enable.next = self.global.enable.val();
        self.rx.cycles.next = self.global.cycles.val();
        self.rx.rd.next = self.bus.rd.val();
        self.rx.wr.next = self.bus.wr.val();
        self.rx.addr.next = self.bus.addr.val();
        self.rx.wdata.next = self.bus.wdata.val();
        self.rx.rx_data.next = self.rx_data.val();
        self.rx.rx_keep.next = self.rx_keep.val();
        self.rx.rx_valid.next = self.rx_valid.val();
        self.rx.rx_last.next = self.rx_last.val();
        self.rx.rx_err.next = self.rx_err.val();
        self.rx_ready.next = self.rx.rx_ready.val();
        // DMA reads: the receive path's descriptor reads first, the transmit path's reads
        // otherwise (both hold a request until taken). Responses go to both: each ignores the
        // other's tags (bit 7 set: transmit).
        self.dmar_req_valid.next = self.rx.dr_valid.val() | self.tx.dmar_req_valid.val();
        self.dmar_req_addr.next = self.tx.dmar_req_addr.val();
        self.dmar_req_tag.next = self.tx.dmar_req_tag.val();
        if self.rx.dr_valid.val() {
            self.dmar_req_addr.next = self.rx.dr_addr.val();
            self.dmar_req_tag.next = self.rx.dr_tag.val();
        }
        self.rx.dr_ready.next = self.dmar_req_ready.val();
        self.tx.dmar_req_ready.next = self.dmar_req_ready.val() & !self.rx.dr_valid.val();
        self.tx.dmar_rsp_valid.next = self.dmar_rsp_valid.val();
        self.tx.dmar_rsp_tag.next = self.dmar_rsp_tag.val();
        self.tx.dmar_rsp_data.next = self.dmar_rsp_data.val();
        self.tx.dmar_rsp_err.next = self.dmar_rsp_err.val();
        self.rx.drsp_valid.next = self.dmar_rsp_valid.val();
        self.rx.drsp_tag.next = self.dmar_rsp_tag.val();
        self.rx.drsp_data.next = self.dmar_rsp_data.val();
        self.rx.drsp_err.next = self.dmar_rsp_err.val();
        self.rx_pack.kind.next = self.rx.ev_kind.val();
        self.rx_pack.flags.next = self.rx.ev_flags.val();
        self.rx_pack.source.next = self.rx.ev_source.val();
        self.rx_pack.has_group.next = self.rx.ev_to_group.val();
        self.rx_pack.group.next = self.rx.ev_target.val();
        self.rx_pack.payload.next = self.rx.ev_payload.val();
        self.rx_pack.aux.next = self.rx.ev_aux.val();
        // RX events carry the cycle of the frame's first beat.
        self.rx_pack.timestamp.next = bit_cast::<64, 40>(self.rx.ev_timestamp.val());
        self.dbg_key_valid.next = self.rx.dbg_key_valid.val();
        self.dbg_key.next = self.rx.dbg_key.val();
        self.dbg_valid.next = self.rx.dbg_valid.val();
        self.dbg_flags.next = self.rx.dbg_flags.val();
        self.dbg_len.next = self.rx.dbg_len.val();
        self.dbg_hit.next = self.rx.dbg_hit.val();
        self.dbg_filter.next = self.rx.dbg_filter.val();
        self.dbg_action.next = self.rx.dbg_action.val();

        // Transmit path: descriptor rings, frame reads, the MAC transmit stream, TX events
        // (source = the VI, no group, timestamped by the transmit path: TX_DONE with the
        // cycle its frame's first beat left).
        self.tx.clock.next = self.clock.val();
        self.tx.reset.next = self.block_reset.q.val();
        self.tx.enable.next = self.global.enable.val();
        self.tx.cycles.next = self.global.cycles.val();
        self.tx.rd.next = self.bus.rd.val();
        self.tx.wr.next = self.bus.wr.val();
        self.tx.addr.next = self.bus.addr.val();
        self.tx.wdata.next = self.bus.wdata.val();
        self.tx_data.next = self.tx.tx_data.val();
        self.tx_keep.next = self.tx.tx_keep.val();
        self.tx_valid.next = self.tx.tx_valid.val();
        self.tx_last.next = self.tx.tx_last.val();
        self.tx.tx_ready.next = self.tx_ready.val();
        self.tx_pack.kind.next = self.tx.ev_kind.val();
        self.tx_pack.flags.next = self.tx.ev_flags.val();
        self.tx_pack.source.next = bit_cast::<16, 8>(self.tx.ev_vi.val());
        self.tx_pack.has_group.next = false;
        self.tx_pack.group.next = 0.into();
        self.tx_pack.payload.next = self.tx.ev_payload.val();
        self.tx_pack.aux.next = self.tx.ev_aux.val();
        self.tx_pack.timestamp.next = bit_cast::<64, 40>(self.tx.ev_timestamp.val());

        // Acknowledgements and read data: at most one block answers an access, and a block
        // drives `rdata` 0 unless it acknowledges a read (see `regbus`), so both are ORed: no
        // block's acknowledgement selects another's data on the way to the bus.
        self.bus.nak.next =
            self.events.nak.val() | self.timers.nak.val() | self.rx.nak.val() | self.tx.nak.val();
        self.bus.ack.next = self.global.ack.val()
            | self.events.ack.val()
            | self.timers.ack.val()
            | self.rx.ack.val()
            | self.tx.ack.val();
        self.bus.rdata.next = self.global.rdata.val()
            | self.events.rdata.val()
            | self.timers.rdata.val()
            | self.rx.rdata.val()
            | self.tx.rdata.val();

        // Producers into the multicast (in the event path).
        self.events.stimer_valid.next = self.timers.ev_valid.val();
        self.events.stimer_to_group.next = self.timers.ev_to_group.val();
        self.events.stimer_target.next = self.timers.ev_target.val();
        self.events.stimer_record.next = self.timers.ev_record.val();
        self.timers.ev_ready.next = self.events.stimer_ready.val();
        self.events.srx_valid.next = self.rx.ev_valid.val();
        self.events.srx_to_group.next = self.rx.ev_to_group.val();
        self.events.srx_target.next = self.rx.ev_target.val();
        self.events.srx_record.next = self.rx_pack.record.val();
        self.rx.ev_ready.next = self.events.srx_ready.val();
        self.events.stx_valid.next = self.tx.ev_valid.val();
        self.events.stx_to_group.next = false;
        self.events.stx_target.next = self.tx.ev_vi.val();
        self.events.stx_record.next = self.tx_pack.record.val();
        self.tx.ev_ready.next = self.events.stx_ready.val();
        self.events.dsi_valid.next = self.dsi_valid.val();
        self.events.dsi_group.next = self.dsi_group.val();
        self.events.dsi_payload.next = self.dsi_payload.val();
        self.dsi_ready.next = self.events.dsi_ready.val();
        self.dso_valid.next = self.events.dso_valid.val();
        self.dso_kind.next = self.events.dso_kind.val();
        self.dso_group.next = self.events.dso_group.val();
        self.dso_source.next = self.events.dso_source.val();
        self.dso_payload.next = self.events.dso_payload.val();

        // Host memory and the interrupt line.
        // DMA writes: the event engine first, receive data when the engine is idle (the RX
        // path offers an event only after its data beats were taken, so data lands first).
        self.dmaw_valid.next = self.events.dmaw_valid.val() | self.rx.dw_valid.val();
        self.dmaw_addr.next = self.rx.dw_addr.val();
        self.dmaw_data.next = self.rx.dw_data.val();
        self.dmaw_strb.next = self.rx.dw_strb.val();
        if self.events.dmaw_valid.val() {
            self.dmaw_addr.next = self.events.dmaw_addr.val();
            self.dmaw_data.next = self.events.dmaw_data.val();
            self.dmaw_strb.next = self.events.dmaw_strb.val();
        }
        self.events.dmaw_ready.next = self.dmaw_ready.val();
        self.rx.dw_ready.next = self.dmaw_ready.val() & !self.events.dmaw_valid.val();
        self.irq.next = self.events.irq.val();
        // RAM read/write collisions of every block that keeps state in `Ram` (never set on a
        // correct design).
        self.dbg_ram_collision.next = self.events.ram_collision.val()
            | self.timers.ram_collision.val()
            | self.rx.ram_collision.val()
            | self.tx.ram_collision.val();
        // STATUS.READY: the AND of every block's `ready` (its RAMs are cleared), low from the
        // soft reset's pulse on (the blocks' reset follows it by a cycle).
        self.global.ready.next = !self.global.soft_reset.val()
            & !self.block_reset.q.val()
            & self.events.ready.val()
            & self.rx.ready.val()
            & self.tx.ready.val();
    }
}
