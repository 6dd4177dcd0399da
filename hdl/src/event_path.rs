//! `EventPath`: the multicast ([`crate::multicast`]) and the event engine
//! ([`crate::event_engine`]) joined as the core uses them: every producer's event goes through
//! the multicast's arbiter and fan-out into the engine, which writes each copy into its queue.
//! One block so that the handshake between the two (the multicast's output into the engine's
//! state RAM address, the engine's `in_ready` into the multicast's grant) is placed and timed
//! on its own (`make timing BLOCK=event_path`), without the whole core.
//!
//! # Ports
//! - `cycles` in: the cycle counter (both blocks' timestamps, the engine's watchdog clock)
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `nak`, `rdata` out: both blocks'
//!   registers (see each), the answers ORed (at most one block answers an access)
//! - producers `s{timer,rx,tx}_*` and the device-space ports `dsi_*`, `dso_*`: the multicast's
//! - DMA write master `dmaw_*` and `irq`: the engine's
//! - `ready` out: both blocks' RAMs are cleared; `ram_collision` out: OR of both blocks' flags
//!
//! # Contract and timing
//! Those of the two blocks: an event granted by the multicast in cycle t offers its first copy
//! to the engine at t+1 (t+2 when its group's lowest member is above VI 31), the engine takes a
//! copy in every cycle its `in_ready` is high and writes its beat 2 cycles after taking it. The
//! handshake between them is combinational both ways (the engine's `in_ready` from flip-flops
//! and `dmaw_ready` only), which keeps the fan-out at N + 2 cycles.

use crate::event_engine::CoreEventEngine;
use crate::multicast::CoreMulticast;
use crate::regbus::ADDR_BITS;
use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct EventPath {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub nak: Signal<Out, Bit>,
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
    pub dso_valid: Signal<Out, Bit>,
    pub dso_kind: Signal<Out, Bits<4>>,
    pub dso_group: Signal<Out, Bits<8>>,
    pub dso_source: Signal<Out, Bits<16>>,
    pub dso_payload: Signal<Out, Bits<32>>,

    pub dmaw_valid: Signal<Out, Bit>,
    pub dmaw_ready: Signal<In, Bit>,
    pub dmaw_addr: Signal<Out, Bits<64>>,
    pub dmaw_data: Signal<Out, Bits<128>>,
    pub dmaw_strb: Signal<Out, Bits<16>>,
    pub irq: Signal<Out, Bit>,

    pub ready: Signal<Out, Bit>,
    pub ram_collision: Signal<Out, Bit>,

    multicast: CoreMulticast,
    engine: CoreEventEngine,
}

impl Logic for EventPath {
    #[hdl_gen]
    fn update(&mut self) {
        self.multicast.clock.next = self.clock.val();
        self.multicast.reset.next = self.reset.val();
        self.multicast.cycles.next = self.cycles.val();
        self.multicast.rd.next = self.rd.val();
        self.multicast.wr.next = self.wr.val();
        self.multicast.addr.next = self.addr.val();
        self.multicast.wdata.next = self.wdata.val();
        self.engine.clock.next = self.clock.val();
        self.engine.reset.next = self.reset.val();
        self.engine.cycles.next = self.cycles.val();
        self.engine.rd.next = self.rd.val();
        self.engine.wr.next = self.wr.val();
        self.engine.addr.next = self.addr.val();
        self.engine.wdata.next = self.wdata.val();
        self.ack.next = self.multicast.ack.val() | self.engine.ack.val();
        self.nak.next = self.multicast.nak.val() | self.engine.nak.val();
        self.rdata.next = self.multicast.rdata.val() | self.engine.rdata.val();

        // Producers into the multicast.
        self.multicast.stimer_valid.next = self.stimer_valid.val();
        self.multicast.stimer_to_group.next = self.stimer_to_group.val();
        self.multicast.stimer_target.next = self.stimer_target.val();
        self.multicast.stimer_record.next = self.stimer_record.val();
        self.stimer_ready.next = self.multicast.stimer_ready.val();
        self.multicast.srx_valid.next = self.srx_valid.val();
        self.multicast.srx_to_group.next = self.srx_to_group.val();
        self.multicast.srx_target.next = self.srx_target.val();
        self.multicast.srx_record.next = self.srx_record.val();
        self.srx_ready.next = self.multicast.srx_ready.val();
        self.multicast.stx_valid.next = self.stx_valid.val();
        self.multicast.stx_to_group.next = self.stx_to_group.val();
        self.multicast.stx_target.next = self.stx_target.val();
        self.multicast.stx_record.next = self.stx_record.val();
        self.stx_ready.next = self.multicast.stx_ready.val();
        self.multicast.dsi_valid.next = self.dsi_valid.val();
        self.multicast.dsi_group.next = self.dsi_group.val();
        self.multicast.dsi_payload.next = self.dsi_payload.val();
        self.dsi_ready.next = self.multicast.dsi_ready.val();
        self.dso_valid.next = self.multicast.dso_valid.val();
        self.dso_kind.next = self.multicast.dso_kind.val();
        self.dso_group.next = self.multicast.dso_group.val();
        self.dso_source.next = self.multicast.dso_source.val();
        self.dso_payload.next = self.multicast.dso_payload.val();

        // The multicast into the engine.
        self.engine.in_valid.next = self.multicast.out_valid.val();
        self.engine.in_vi.next = self.multicast.out_vi.val();
        self.engine.in_record.next = self.multicast.out_record.val();
        self.multicast.out_ready.next = self.engine.in_ready.val();

        // The engine into host memory.
        self.dmaw_valid.next = self.engine.dmaw_valid.val();
        self.dmaw_addr.next = self.engine.dmaw_addr.val();
        self.dmaw_data.next = self.engine.dmaw_data.val();
        self.dmaw_strb.next = self.engine.dmaw_strb.val();
        self.engine.dmaw_ready.next = self.dmaw_ready.val();
        self.irq.next = self.engine.irq.val();

        self.ready.next = self.multicast.ready.val() & self.engine.ready.val();
        self.ram_collision.next =
            self.multicast.ram_collision.val() | self.engine.ram_collision.val();
    }
}

#[cfg(test)]
mod tests {
    /// The joined block generates Verilog that Verilator lints clean (its behaviour is the two
    /// blocks', tested in each, and the core's, tested in `evnic-sim` through this block).
    #[test]
    fn generates_verilog_that_lints() {
        let v = crate::block_verilog("event_path").expect("a block of the core");
        // Each block's logic is one always block, so Verilator sees the handshake between
        // the two (`in_ready` out of the engine into the multicast, its `out_valid` back into
        // the engine) as a loop at module granularity, as in the core's lint (`make lint`).
        crate::crc::tests::verilator_lint_with("event_path", &v, &["-Wno-UNOPTFLAT"]);
    }
}
