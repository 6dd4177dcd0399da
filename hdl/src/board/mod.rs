//! Board tops: the core, or a part of it, with what a user reaches on a board without PCIe.
//!
//! - [`SerialHost`]: reset generation, a UART ([`uart`]) and the serial register bridge
//!   ([`uart_bridge`]) onto a BAR0 register port, and status LEDs
//! - [`DmaNoMemory`]: the DMA side of a board with no host memory
//! - [`Ecp5EvnCore`]: the whole core on the Lattice ECP5-5G Evaluation Board
//!   (LFE5UM5G-85F-EVN)
//! - [`Ecp5EvnRegs`]: the register bus and the global page only, on the same board: the
//!   bring-up build that a host can identify over the serial port
//!
//! Both EVN tops have the board's pins as ports (the names in `bitstreams/boards/ecp5-evn.lpf`):
//! `clk12` (the 12 MHz clock from the FTDI chip), `rst_n` (push button, low when pressed),
//! `uart_rx`, `uart_tx` (the FTDI chip's second port) and `led` (8 LEDs, lit when low).

pub mod uart;
pub mod uart_bridge;

use crate::core::EvnicCore;
use crate::global_regs::GlobalRegs;
use crate::regbus::{RegBus, ADDR_BITS};
use rust_hdl::prelude::*;
use uart::{UartRx, UartTx};
use uart_bridge::UartBridge;

/// The EVN's clock from the FTDI chip, in Hz.
pub const EVN_CLOCK_HZ: u64 = 12_000_000;
/// The serial port's rate.
pub const BAUD: u64 = 115_200;

/// Reset, the serial register bridge and the LEDs of a board.
///
/// # Ports
/// - `clock`; `rst_n` (in): a push button, low when pressed, asynchronous (synchronised here)
/// - `rxd` (in), `txd` (out): the serial line (see [`uart`]; 8N1 at `baud`)
/// - `reset` (out): high for the first 16 cycles after configuration and while the button is
///   held (plus 2 synchroniser cycles); drives the device's synchronous reset
/// - `bar_*`: the device's register port, driven by the bridge (see [`uart_bridge`])
/// - `irq` (in): the device's one-cycle interrupt pulses
/// - `status` (in, 32): the word the bridge answers to `S`
/// - `led_on` (out, 8): bit 0 blinks (about 0.7 Hz at 12 MHz: the design runs), bit 1 toggles
///   on each interrupt, bit 2 toggles on each byte received, bit 3 is lit in reset, the
///   others are off
///
/// # Timing
/// See [`uart`] and [`uart_bridge`]; the LEDs follow their events by one cycle.
#[derive(LogicBlock)]
pub struct SerialHost {
    pub clock: Signal<In, Clock>,
    pub rst_n: Signal<In, Bit>,
    pub rxd: Signal<In, Bit>,
    pub txd: Signal<Out, Bit>,
    pub reset: Signal<Out, Bit>,
    pub bar_req_valid: Signal<Out, Bit>,
    pub bar_req_ready: Signal<In, Bit>,
    pub bar_req_write: Signal<Out, Bit>,
    pub bar_req_addr: Signal<Out, Bits<ADDR_BITS>>,
    pub bar_req_wdata: Signal<Out, Bits<32>>,
    pub bar_req_strb: Signal<Out, Bits<4>>,
    pub bar_rsp_valid: Signal<In, Bit>,
    pub bar_rsp_rdata: Signal<In, Bits<32>>,
    pub irq: Signal<In, Bit>,
    pub status: Signal<In, Bits<32>>,
    pub led_on: Signal<Out, Bits<8>>,
    rx: UartRx,
    tx: UartTx,
    bridge: UartBridge,
    /// Counts the cycles since configuration up to 15 (flip-flops start at 0).
    por: DFF<Bits<4>>,
    button1: DFF<Bit>,
    button2: DFF<Bit>,
    reset_q: DFF<Bit>,
    heartbeat: DFF<Bits<24>>,
    irq_toggle: DFF<Bit>,
    rx_toggle: DFF<Bit>,
}

impl SerialHost {
    /// For a clock of `clock_hz` and a serial port at `baud`; a partial command is dropped
    /// after 100 ms.
    pub fn new(clock_hz: u64, baud: u64) -> Self {
        let cycles_per_bit = (clock_hz + baud / 2) / baud;
        Self::with_bit_cycles(cycles_per_bit, clock_hz / 10)
    }

    /// With the bit time and the command timeout in cycles (tests use short ones).
    pub fn with_bit_cycles(cycles_per_bit: u64, timeout_cycles: u64) -> Self {
        Self {
            clock: Default::default(),
            rst_n: Default::default(),
            rxd: Default::default(),
            txd: Default::default(),
            reset: Default::default(),
            bar_req_valid: Default::default(),
            bar_req_ready: Default::default(),
            bar_req_write: Default::default(),
            bar_req_addr: Default::default(),
            bar_req_wdata: Default::default(),
            bar_req_strb: Default::default(),
            bar_rsp_valid: Default::default(),
            bar_rsp_rdata: Default::default(),
            irq: Default::default(),
            status: Default::default(),
            led_on: Default::default(),
            rx: UartRx::new(cycles_per_bit),
            tx: UartTx::new(cycles_per_bit),
            bridge: UartBridge::new(timeout_cycles),
            por: Default::default(),
            button1: Default::default(),
            button2: Default::default(),
            reset_q: Default::default(),
            heartbeat: Default::default(),
            irq_toggle: Default::default(),
            rx_toggle: Default::default(),
        }
    }
}

impl Logic for SerialHost {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, por, button1, button2, reset_q, heartbeat, irq_toggle, rx_toggle);
        // Reset: power-on count, then the button.
        if !self.por.q.val().all() {
            self.por.d.next = self.por.q.val() + 1;
        }
        self.button1.d.next = !self.rst_n.val();
        self.button2.d.next = self.button1.q.val();
        self.reset_q.d.next = !self.por.q.val().all() | self.button2.q.val();
        self.reset.next = self.reset_q.q.val();

        self.rx.clock.next = self.clock.val();
        self.rx.reset.next = self.reset_q.q.val();
        self.rx.rxd.next = self.rxd.val();
        self.tx.clock.next = self.clock.val();
        self.tx.reset.next = self.reset_q.q.val();
        self.txd.next = self.tx.txd.val();

        self.bridge.clock.next = self.clock.val();
        self.bridge.reset.next = self.reset_q.q.val();
        self.bridge.rx_valid.next = self.rx.valid.val();
        self.bridge.rx_data.next = self.rx.data.val();
        self.bridge.rx_frame_err.next = self.rx.frame_err.val();
        self.tx.valid.next = self.bridge.tx_valid.val();
        self.tx.data.next = self.bridge.tx_data.val();
        self.bridge.tx_ready.next = self.tx.ready.val();
        self.bar_req_valid.next = self.bridge.bar_req_valid.val();
        self.bridge.bar_req_ready.next = self.bar_req_ready.val();
        self.bar_req_write.next = self.bridge.bar_req_write.val();
        self.bar_req_addr.next = self.bridge.bar_req_addr.val();
        self.bar_req_wdata.next = self.bridge.bar_req_wdata.val();
        self.bar_req_strb.next = self.bridge.bar_req_strb.val();
        self.bridge.bar_rsp_valid.next = self.bar_rsp_valid.val();
        self.bridge.bar_rsp_rdata.next = self.bar_rsp_rdata.val();
        self.bridge.status.next = self.status.val();

        self.heartbeat.d.next = self.heartbeat.q.val() + 1;
        if self.irq.val() {
            self.irq_toggle.d.next = !self.irq_toggle.q.val();
        }
        if self.rx.valid.val() {
            self.rx_toggle.d.next = !self.rx_toggle.q.val();
        }
        self.led_on.next = bit_cast::<8, 1>(self.heartbeat.q.val().get_bit(23).into())
            | (bit_cast::<8, 1>(self.irq_toggle.q.val().into()) << 1)
            | (bit_cast::<8, 1>(self.rx_toggle.q.val().into()) << 2)
            | (bit_cast::<8, 1>(self.reset_q.q.val().into()) << 3);
    }
}

/// The DMA side of a board with no host memory: every DMA read request is taken at once and
/// answered the next cycle with its tag and the error bit (the core counts a DMA fault, as for
/// an address the IOMMU refused); every DMA write beat is taken at once and dropped. Both are
/// counted (16 bits each, saturating) so a host sees them: `status` is `reads << 16 | writes`.
///
/// # Ports
/// - `clock`; `reset`: synchronous, active high: clears the counts and any pending answer
/// - `dmaw_valid` (in), `dmaw_ready` (out, always high): the core's DMA write master
/// - `dmar_req_valid`, `dmar_req_tag` (in), `dmar_req_ready` (out, always high); `dmar_rsp_*`
///   (out): the core's DMA read master (data 0, `err` set)
/// - `status` (out, 32): the two counts
///
/// # Timing
/// A request taken at edge `N` is answered in cycle `N+1`; one answer per cycle.
#[derive(LogicBlock, Default)]
pub struct DmaNoMemory {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub dmaw_valid: Signal<In, Bit>,
    pub dmaw_ready: Signal<Out, Bit>,
    pub dmar_req_valid: Signal<In, Bit>,
    pub dmar_req_ready: Signal<Out, Bit>,
    pub dmar_req_tag: Signal<In, Bits<8>>,
    pub dmar_rsp_valid: Signal<Out, Bit>,
    pub dmar_rsp_tag: Signal<Out, Bits<8>>,
    pub dmar_rsp_data: Signal<Out, Bits<128>>,
    pub dmar_rsp_err: Signal<Out, Bit>,
    pub status: Signal<Out, Bits<32>>,
    rsp_valid: DFF<Bit>,
    rsp_tag: DFF<Bits<8>>,
    reads: DFF<Bits<16>>,
    writes: DFF<Bits<16>>,
}

impl Logic for DmaNoMemory {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, rsp_valid, rsp_tag, reads, writes);
        self.dmaw_ready.next = true;
        self.dmar_req_ready.next = true;
        self.rsp_valid.d.next = self.dmar_req_valid.val();
        self.rsp_tag.d.next = self.dmar_req_tag.val();
        if self.dmar_req_valid.val() & !self.reads.q.val().all() {
            self.reads.d.next = self.reads.q.val() + 1;
        }
        if self.dmaw_valid.val() & !self.writes.q.val().all() {
            self.writes.d.next = self.writes.q.val() + 1;
        }
        if self.reset.val() {
            self.rsp_valid.d.next = false;
            self.reads.d.next = 0.into();
            self.writes.d.next = 0.into();
        }
        self.dmar_rsp_valid.next = self.rsp_valid.q.val();
        self.dmar_rsp_tag.next = self.rsp_tag.q.val();
        self.dmar_rsp_data.next = 0.into();
        self.dmar_rsp_err.next = true;
        self.status.next = (bit_cast::<32, 16>(self.reads.q.val()) << 16)
            | bit_cast::<32, 16>(self.writes.q.val());
    }
}

/// The whole core on the ECP5-5G Evaluation Board, clocked by `clk12`: registers over the
/// serial port, DMA to no memory ([`DmaNoMemory`]; `S` reads its counts), no MAC: the transmit
/// stream is looped back into the receive stream through one register stage (always ready, as
/// a MAC is), so that the receive path is kept whole in the build instead of being optimised
/// away behind an idle input; device-space inputs idle, `irq` on LED 1. (With no host memory
/// the transmit path cannot read a frame, so on this board nothing is looped in practice.)
#[derive(LogicBlock)]
pub struct Ecp5EvnCore {
    pub clk12: Signal<In, Clock>,
    pub rst_n: Signal<In, Bit>,
    pub uart_rx: Signal<In, Bit>,
    pub uart_tx: Signal<Out, Bit>,
    pub led: Signal<Out, Bits<8>>,
    host: SerialHost,
    core: EvnicCore,
    dma: DmaNoMemory,
    /// The transmit stream's beat, one cycle later on the receive stream.
    loop_valid: DFF<Bit>,
    loop_data: DFF<Bits<64>>,
    loop_keep: DFF<Bits<8>>,
    loop_last: DFF<Bit>,
}

impl Default for Ecp5EvnCore {
    fn default() -> Self {
        Self {
            clk12: Default::default(),
            rst_n: Default::default(),
            uart_rx: Default::default(),
            uart_tx: Default::default(),
            led: Default::default(),
            host: SerialHost::new(EVN_CLOCK_HZ, BAUD),
            core: Default::default(),
            dma: Default::default(),
            loop_valid: Default::default(),
            loop_data: Default::default(),
            loop_keep: Default::default(),
            loop_last: Default::default(),
        }
    }
}

impl Logic for Ecp5EvnCore {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clk12, loop_valid, loop_data, loop_keep, loop_last);
        self.host.clock.next = self.clk12.val();
        self.host.rst_n.next = self.rst_n.val();
        self.host.rxd.next = self.uart_rx.val();
        self.uart_tx.next = self.host.txd.val();
        self.led.next = !self.host.led_on.val();

        self.core.clock.next = self.clk12.val();
        self.core.reset.next = self.host.reset.val();
        self.core.bar_req_valid.next = self.host.bar_req_valid.val();
        self.host.bar_req_ready.next = self.core.bar_req_ready.val();
        self.core.bar_req_write.next = self.host.bar_req_write.val();
        self.core.bar_req_addr.next = self.host.bar_req_addr.val();
        self.core.bar_req_wdata.next = self.host.bar_req_wdata.val();
        self.core.bar_req_strb.next = self.host.bar_req_strb.val();
        self.host.bar_rsp_valid.next = self.core.bar_rsp_valid.val();
        self.host.bar_rsp_rdata.next = self.core.bar_rsp_rdata.val();
        self.host.irq.next = self.core.irq.val();
        self.host.status.next = self.dma.status.val();

        self.dma.clock.next = self.clk12.val();
        self.dma.reset.next = self.host.reset.val();
        self.dma.dmaw_valid.next = self.core.dmaw_valid.val();
        self.core.dmaw_ready.next = self.dma.dmaw_ready.val();
        self.dma.dmar_req_valid.next = self.core.dmar_req_valid.val();
        self.dma.dmar_req_tag.next = self.core.dmar_req_tag.val();
        self.core.dmar_req_ready.next = self.dma.dmar_req_ready.val();
        self.core.dmar_rsp_valid.next = self.dma.dmar_rsp_valid.val();
        self.core.dmar_rsp_tag.next = self.dma.dmar_rsp_tag.val();
        self.core.dmar_rsp_data.next = self.dma.dmar_rsp_data.val();
        self.core.dmar_rsp_err.next = self.dma.dmar_rsp_err.val();

        self.loop_valid.d.next = self.core.tx_valid.val() & !self.host.reset.val();
        self.loop_data.d.next = self.core.tx_data.val();
        self.loop_keep.d.next = self.core.tx_keep.val();
        self.loop_last.d.next = self.core.tx_last.val();
        self.core.rx_data.next = self.loop_data.q.val();
        self.core.rx_keep.next = self.loop_keep.q.val();
        self.core.rx_valid.next = self.loop_valid.q.val();
        self.core.rx_last.next = self.loop_last.q.val();
        self.core.rx_err.next = false;
        self.core.tx_ready.next = true;
        self.core.dsi_valid.next = false;
        self.core.dsi_group.next = 0.into();
        self.core.dsi_payload.next = 0.into();
    }
}

/// The register bus and the global page alone on the ECP5-5G Evaluation Board: a host reads
/// `ID`, `VERSION`, the parameter registers (which describe the whole core), `CYCLES_*`, and
/// writes and reads `SCRATCH` over the serial port; every other page is an unclaimed access
/// (counted in `BUS_ERRORS`). `S` answers 0. The bring-up build of the open flow: it fits the
/// part where the whole core does not yet.
#[derive(LogicBlock)]
pub struct Ecp5EvnRegs {
    pub clk12: Signal<In, Clock>,
    pub rst_n: Signal<In, Bit>,
    pub uart_rx: Signal<In, Bit>,
    pub uart_tx: Signal<Out, Bit>,
    pub led: Signal<Out, Bits<8>>,
    host: SerialHost,
    bus: RegBus,
    global: GlobalRegs,
}

impl Ecp5EvnRegs {
    /// With the bit time and command timeout in cycles (tests use short ones).
    pub fn with_bit_cycles(cycles_per_bit: u64, timeout_cycles: u64) -> Self {
        Self::with_host(SerialHost::with_bit_cycles(cycles_per_bit, timeout_cycles))
    }

    fn with_host(host: SerialHost) -> Self {
        Self {
            clk12: Default::default(),
            rst_n: Default::default(),
            uart_rx: Default::default(),
            uart_tx: Default::default(),
            led: Default::default(),
            host,
            bus: Default::default(),
            global: Default::default(),
        }
    }
}

impl Default for Ecp5EvnRegs {
    fn default() -> Self {
        Self::with_host(SerialHost::new(EVN_CLOCK_HZ, BAUD))
    }
}

impl Logic for Ecp5EvnRegs {
    #[hdl_gen]
    fn update(&mut self) {
        self.host.clock.next = self.clk12.val();
        self.host.rst_n.next = self.rst_n.val();
        self.host.rxd.next = self.uart_rx.val();
        self.uart_tx.next = self.host.txd.val();
        self.led.next = !self.host.led_on.val();
        self.host.irq.next = false;
        self.host.status.next = 0.into();

        self.bus.clock.next = self.clk12.val();
        self.bus.reset.next = self.host.reset.val();
        self.bus.req_valid.next = self.host.bar_req_valid.val();
        self.host.bar_req_ready.next = self.bus.req_ready.val();
        self.bus.req_write.next = self.host.bar_req_write.val();
        self.bus.req_addr.next = self.host.bar_req_addr.val();
        self.bus.req_wdata.next = self.host.bar_req_wdata.val();
        self.bus.req_strb.next = self.host.bar_req_strb.val();
        self.host.bar_rsp_valid.next = self.bus.rsp_valid.val();
        self.host.bar_rsp_rdata.next = self.bus.rsp_rdata.val();

        self.global.clock.next = self.clk12.val();
        self.global.reset.next = self.host.reset.val();
        self.global.rd.next = self.bus.rd.val();
        self.global.wr.next = self.bus.wr.val();
        self.global.addr.next = self.bus.addr.val();
        self.global.wdata.next = self.bus.wdata.val();
        self.global.err_count.next = self.bus.err_count.val();
        self.global.err_addr.next = self.bus.err_addr.val();
        // No block with state to clear after a reset: STATUS.READY at once.
        self.global.ready.next = true;
        self.bus.err_clear.next = self.global.err_clear.val();
        self.bus.ack.next = self.global.ack.val();
        self.bus.nak.next = false;
        self.bus.rdata.next = self.global.rdata.val();
    }
}

/// The Verilog (module `top`) of a board top.
pub fn verilog<T: Block + Default>() -> String {
    let mut uut = T::default();
    uut.connect_all();
    generate_verilog(&uut)
}

#[cfg(test)]
mod tests;
