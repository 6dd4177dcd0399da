"""The PCIe shell and the core, simulated by Icarus Verilog inside cocotbext-pcie's model of the
UltraScale+ PCIe hard block, driven by its root complex: enumeration, BAR0 register access, the
library's sequence (identify, event queue, indication, receive by DMA, MSI-X), transmit through
split completions, and every error path of the shell.

Offsets, fields and the event format come from the register map's JSON
(`EVNIC_REGISTERS_JSON`, written by `gen-docs --json`); frame check sequences from zlib."""

import functools
import logging
import os
import struct
import time
import zlib

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamBus
from cocotbext.pcie.core import RootComplex
from cocotbext.pcie.core.caps import PciCapId
from cocotbext.pcie.core.tlp import CplStatus, Tlp, TlpType
from cocotbext.pcie.core.utils import PcieId
from cocotbext.pcie.xilinx.us import UltraScalePlusPcieDevice
from cocotbext.pcie.xilinx.us.tlp import Tlp_us

from evnic_map import Map

M = Map()
EVQ_LOG2 = M.rings["EVQ_SIZE_MIN"]
RING_LOG2 = 2
BUF_BYTES = 2048
# The library's choice: the last VI is the interrupt queue; endpoints use the others.
IRQ_VI = M.params["NUM_VIS"] - 1
VI = 1
GROUP = 5
# The user clock's period (250 MHz), for cycle counts.
CYCLE_NS = 4


def fcs(frame):
    """The Ethernet FCS of `frame`, as the 4 bytes that follow it on the wire."""
    return struct.pack("<I", zlib.crc32(frame) & 0xFFFFFFFF)


def udp_frame(payload_len, seed):
    dst = bytes([0x02, 0, 0, 0, 0, 0x01])
    src = bytes([0x02, 0, 0, 0, 0, 0x02])
    payload = bytes((seed + i * 7) & 0xFF for i in range(payload_len))
    udp = struct.pack(">HHHH", 4000, 5000, 8 + len(payload), 0) + payload
    total = 20 + len(udp)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 1, 0, 64, 17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    csum = sum(struct.unpack(">10H", ip))
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = (~((csum & 0xFFFF) + (csum >> 16))) & 0xFFFF
    ip = ip[:10] + struct.pack(">H", csum) + ip[12:]
    frame = dst + src + b"\x08\x00" + ip + udp
    return frame + fcs(frame)


class Mac:
    """The MAC side of the core: frames into `rx_*` (64 bits, byte 0 first), frames out of
    `tx_*` collected whole."""

    def __init__(self, dut):
        self.dut = dut
        self.rx_frames = []
        self.tx_frames = []
        dut.rx_valid.value = 0
        dut.rx_data.value = 0
        dut.rx_keep.value = 0
        dut.rx_last.value = 0
        dut.rx_err.value = 0
        dut.tx_ready.value = 1
        dut.dsi_valid.value = 0
        dut.dsi_group.value = 0
        dut.dsi_payload.value = 0
        cocotb.start_soon(self._rx())
        cocotb.start_soon(self._tx())

    async def _rx(self):
        clk = RisingEdge(self.dut.user_clk)
        while True:
            await clk
            if not self.rx_frames:
                continue
            frame = self.rx_frames.pop(0)
            for pos in range(0, len(frame), 8):
                chunk = frame[pos:pos + 8]
                self.dut.rx_data.value = int.from_bytes(chunk.ljust(8, b"\0"), "little")
                self.dut.rx_keep.value = (1 << len(chunk)) - 1
                self.dut.rx_last.value = int(pos + 8 >= len(frame))
                self.dut.rx_valid.value = 1
                await clk
                while not int(self.dut.rx_ready.value):
                    await clk
            self.dut.rx_valid.value = 0
            self.dut.rx_last.value = 0

    async def _tx(self):
        clk = RisingEdge(self.dut.user_clk)
        cur = b""
        # The core's flip-flops are unknown (X in Icarus) until the hard block's first reset
        # (it raises user_reset a few cycles in, for 100 ns): the MAC looks at the stream only
        # after that reset, and from then on an unknown valid is an error (int() raises).
        # (user_reset itself is undriven, Z, until the hard block's model starts.)
        def in_reset():
            return str(self.dut.user_reset.value) == "1"
        while not in_reset():
            await clk
        while in_reset():
            await clk
        while True:
            if int(self.dut.tx_valid.value) and int(self.dut.tx_ready.value):
                keep = int(self.dut.tx_keep.value)
                n = bin(keep).count("1")
                cur += int(self.dut.tx_data.value).to_bytes(8, "little")[:n]
                if int(self.dut.tx_last.value):
                    self.tx_frames.append(cur)
                    cur = b""
            await clk


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.log = logging.getLogger("cocotb.tb")
        self.log.setLevel(logging.INFO)
        # The models log every TLP at INFO: keep their warnings only.
        for name in ("cocotb.top", "cocotb.pcie"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.rc = RootComplex()
        shell = M.shell
        self.dev = UltraScalePlusPcieDevice(
            pcie_generation=3,
            pcie_link_width=4,
            user_clk_frequency=250e6,
            alignment="dword",
            pf_count=1,
            max_payload_size=256,
            enable_client_tag=True,
            enable_extended_tag=True,
            enable_parity=False,
            pf0_msi_enable=False,
            pf0_msix_enable=True,
            pf0_msix_table_size=shell["MSIX_VECTORS"] - 1,
            pf0_msix_table_bir=shell["MSIX_BAR"],
            pf0_msix_table_offset=shell["MSIX_TABLE_OFFSET"],
            pf0_msix_pba_bir=shell["MSIX_BAR"],
            pf0_msix_pba_offset=shell["MSIX_PBA_OFFSET"],
            user_clk=dut.user_clk,
            user_reset=dut.user_reset,
            user_lnk_up=dut.user_lnk_up,
            rq_bus=AxiStreamBus.from_prefix(dut, "s_axis_rq"),
            rc_bus=AxiStreamBus.from_prefix(dut, "m_axis_rc"),
            cq_bus=AxiStreamBus.from_prefix(dut, "m_axis_cq"),
            pcie_cq_np_req=dut.pcie_cq_np_req,
            cc_bus=AxiStreamBus.from_prefix(dut, "s_axis_cc"),
            cfg_function_status=dut.cfg_function_status,
            cfg_interrupt_msix_enable=dut.cfg_interrupt_msix_enable,
            cfg_interrupt_msix_mask=dut.cfg_interrupt_msix_mask,
            cfg_interrupt_msix_address=dut.cfg_interrupt_msix_address,
            cfg_interrupt_msix_data=dut.cfg_interrupt_msix_data,
            cfg_interrupt_msix_int=dut.cfg_interrupt_msix_int,
            cfg_interrupt_msix_vec_pending=dut.cfg_interrupt_msix_vec_pending,
            cfg_interrupt_msix_sent=dut.cfg_interrupt_msix_sent,
            cfg_interrupt_msix_fail=dut.cfg_interrupt_msix_fail,
            cfg_interrupt_msi_function_number=dut.cfg_interrupt_msi_function_number,
        )
        f = self.dev.functions[0]
        f.configure_bar(shell["REGS_BAR"], 1 << M.params["BAR_ADDR_BITS"])
        f.configure_bar(shell["MSIX_BAR"], shell["MSIX_BAR_BYTES"])
        self.rc.make_port().connect(self.dev)
        self.mac = Mac(dut)
        self.irqs = 0
        # Host memory for queues, rings and buffers.
        self.mem = self.rc.mem_pool.alloc_region(1 << 20)
        self.mem_base = self.mem.get_absolute_address(0)

    async def init(self):
        await self.rc.enumerate()
        self.pdev = self.rc.find_device(self.dev.functions[0].pcie_id)
        await self.pdev.enable_device()
        await self.pdev.set_master()
        # Extended tags, as an operating system enables them (the shell's tags are 8 bits).
        ctl = await self.pdev.capability_read_word(PciCapId.EXP, 8)
        await self.pdev.capability_write_word(PciCapId.EXP, 8, ctl | (1 << 8))
        self.bar = self.pdev.bar_window[M.shell["REGS_BAR"]]
        self.msix_bar = self.pdev.bar_window[M.shell["MSIX_BAR"]]
        # Until the core is out of reset, reads of ID do not answer EVNC.
        await ClockCycles(self.dut.user_clk, 10)

    async def rd(self, off):
        return await self.bar.read_dword(off)

    async def wr(self, off, value):
        await self.bar.write_dword(off, value)

    async def flush(self):
        """Waits for the posted writes before it to land (a read does not pass them)."""
        await self.rd(M.glob("ID"))

    async def wait_until(self, what, done, cycles=4000, step=16):
        for _ in range(0, cycles, step):
            if done():
                return
            await ClockCycles(self.dut.user_clk, step)
        if not done():
            await self.diagnose()
        assert done(), f"timed out waiting for {what}"

    async def diagnose(self):
        """Logs the counters that say where a frame or an event went."""
        names = [r["name"] for r in M.page("filter")["regs"] if r["access"] == "RC" and not r["name"].startswith("HITS")]
        vals = {n: await self.rd(M.reg("filter", n)) for n in names}
        for n in ["EVENTS_WRITTEN", "EVENTS_DROPPED", "BUS_ERRORS", "BUS_ERROR_ADDR", "IRQ_COUNT", "WAKEUP_COUNT"]:
            vals[n] = await self.rd(M.glob(n))
        for n in ["EVQ_WPTR", "EVQ_STATUS", "RXQ_RPTR", "RXQ_DROPS", "TXQ_RPTR", "TXQ_ERRORS"]:
            vals[f"VI{VI}.{n}"] = await self.rd(M.vi(VI, n))
        vals.update(await self.shell_counters())
        self.log.error("counters: %s", vals)

    def event_at(self, base, slot):
        off = base - self.mem_base + slot * M.event["bytes"]
        return M.decode_event(bytes(self.mem[off:off + M.event["bytes"]]))

    async def setup_evq(self, vi, base):
        await self.wr(M.vi(vi, "EVQ_BASE_LO"), base & 0xFFFFFFFF)
        await self.wr(M.vi(vi, "EVQ_BASE_HI"), base >> 32)
        await self.wr(M.vi(vi, "EVQ_SIZE"), EVQ_LOG2)

    async def enable(self):
        await self.wr(M.glob("CONTROL"), M.put("global", "CONTROL", ENABLE=1))

    async def wait_event(self, base, slot, phase=1):
        await self.wait_until(f"event {slot} at {base:#x}", lambda: self.event_at(base, slot)["phase"] == phase)
        return self.event_at(base, slot)

    async def shell_counters(self):
        names = ["CPL_TIMEOUTS", "CPL_ERRORS", "CPL_POISONED", "CPL_UNEXPECTED", "UNSUPPORTED", "MSIX_SENT", "MSIX_FAILED"]
        return {n: await self.rd(M.sh(n)) for n in names}


def evnic_test(fn):
    """A cocotb test that records its simulated cycles and CPU time for run.py's table."""
    @functools.wraps(fn)
    async def wrapper(dut):
        t0, c0 = get_sim_time("ns"), time.process_time()
        try:
            await fn(dut)
        finally:
            path = os.environ.get("EVNIC_PCIE_STATS")
            if path:
                cycles = (get_sim_time("ns") - t0) / CYCLE_NS
                with open(path, "a") as f:
                    f.write(f"{fn.__name__} {cycles:.0f} {time.process_time() - c0:.2f}\n")
    return cocotb.test()(wrapper)


EVQ = 0x0000
IRQ_EVQ = 0x1000
RXQ = 0x2000
TXQ = 0x3000
BUFS = 0x10000
FRAMES = 0x40000


@evnic_test
async def library_sequence(dut):
    """Identify, event queue, indication, receive by DMA, MSI-X: the library's steps."""
    tb = TB(dut)
    await tb.init()
    m = M

    # Identify.
    assert await tb.rd(m.glob("ID")) == m.params["DEVICE_ID"]
    assert await tb.rd(m.glob("VERSION")) == m.params["VERSION"]
    for reg, param in [("NUM_VIS", "NUM_VIS"), ("NUM_FILTERS", "NUM_FILTERS"), ("NUM_GROUPS", "NUM_GROUPS"),
                       ("NUM_TIMERS", "NUM_TIMERS"), ("EVENT_BYTES", "EVENT_BYTES"), ("DATA_BITS", "DATA_BITS")]:
        assert await tb.rd(m.glob(reg)) == m.params[param], reg
    await tb.wr(m.glob("SCRATCH"), 0x1234_5678)
    assert await tb.rd(m.glob("SCRATCH")) == 0x1234_5678
    status = await tb.rd(m.sh("SHELL_STATUS"))
    assert m.get("PCIe shell", "SHELL_STATUS", "LINK_UP", status) == 1
    assert m.get("PCIe shell", "SHELL_STATUS", "BUS_MASTER", status) == 1
    assert await tb.rd(m.sh("CPL_TIMEOUT")) == m.reset("PCIe shell", "CPL_TIMEOUT")

    # An event queue in host memory, then an indication into a group the VI listens to.
    evq = tb.mem_base + EVQ
    await tb.setup_evq(VI, evq)
    await tb.enable()
    await tb.wr(m.permit(VI, GROUP), 1 << (GROUP % 32))
    await tb.wr(m.reg("group control", "SUBSCRIBE"), m.put("group control", "SUBSCRIBE", GROUP=GROUP, VI=VI, ON=1))
    await tb.wr(m.vi(VI, "INDICATE"), m.put("VI", "INDICATE", GROUP=GROUP, PAYLOAD=0x12_3456))
    e = await tb.wait_event(evq, 0)
    assert e["type"] == m.event_type("INDICATION"), e
    assert (e["group"], e["source"], e["payload"]) == (GROUP, VI, 0x12_3456), e
    assert await tb.rd(m.vi(VI, "EVQ_WPTR")) == 1

    # Receive buffers, a frame on the MAC port, its data by DMA and its RX event.
    rxq = tb.mem_base + RXQ
    for i in range(1 << RING_LOG2):
        tb.mem[RXQ + 16 * i:RXQ + 16 * i + 16] = struct.pack("<QQ", tb.mem_base + BUFS + i * BUF_BYTES,
                                                             m.desc_word1(rx_buf_len=BUF_BYTES))
    await tb.wr(m.vi(VI, "RXQ_BASE_LO"), rxq & 0xFFFFFFFF)
    await tb.wr(m.vi(VI, "RXQ_BASE_HI"), rxq >> 32)
    await tb.wr(m.vi(VI, "RXQ_SIZE"), RING_LOG2)
    await tb.wr(m.vi(VI, "RXQ_WPTR"), 1 << RING_LOG2)
    await tb.wr(m.reg("filter", "DEFAULT_ACTION"), m.action_vi(VI))
    await tb.flush()
    frame = udp_frame(100, 3)
    tb.mac.rx_frames.append(frame)
    e = await tb.wait_event(evq, 1)
    assert e["type"] == m.event_type("RX"), e
    assert e["aux"] == len(frame), e
    assert e["flags"] == 0, e
    f = m.filter
    assert (e["payload"] >> f["RX_PAYLOAD_VI_LSB"]) & ((1 << f["RX_PAYLOAD_VI_WIDTH"]) - 1) == VI
    desc = (e["payload"] >> f["RX_PAYLOAD_DESC_LSB"]) & ((1 << f["RX_PAYLOAD_DESC_WIDTH"]) - 1)
    assert desc == 0
    got = bytes(tb.mem[BUFS:BUFS + len(frame)])
    assert got == frame, f"buffer holds {got.hex()}"
    assert await tb.rd(m.vi(VI, "RXQ_RPTR")) == 1

    # MSI-X: the host programs the table (BAR 2), primes the interrupt queue and the VI's
    # queue, and an indication wakes it: WAKEUP in the interrupt queue, then the message.
    assert await tb.pdev.alloc_irq_vectors(1, 1) == 1
    seen = []

    async def on_irq():
        # The event that caused the interrupt is in memory before the message arrives.
        seen.append(tb.event_at(tb.mem_base + IRQ_EVQ, 0))
    tb.pdev.request_irq(0, on_irq)
    irq_evq = tb.mem_base + IRQ_EVQ
    await tb.setup_evq(IRQ_VI, irq_evq)
    await tb.wr(m.glob("IRQ_QUEUE"), m.put("global", "IRQ_QUEUE", VI=IRQ_VI, ENABLE=1))
    await tb.wr(m.vi(IRQ_VI, "EVQ_PRIME"), 0)
    await tb.wr(m.vi(VI, "EVQ_PRIME"), 2)
    await tb.wr(m.vi(VI, "INDICATE"), m.put("VI", "INDICATE", GROUP=GROUP, PAYLOAD=0x77))
    await tb.wait_until("the MSI-X interrupt", lambda: len(seen) == 1)
    w = seen[0]
    assert w["phase"] == 1 and w["type"] == m.event_type("WAKEUP") and w["source"] == VI, w
    assert (await tb.wait_event(evq, 2))["payload"] == 0x77
    assert await tb.rd(m.glob("IRQ_COUNT")) == 1
    counters = await tb.shell_counters()
    assert counters["MSIX_SENT"] == 1, counters
    assert all(v == 0 for k, v in counters.items() if k != "MSIX_SENT"), counters
    assert await tb.rd(m.glob("BUS_ERRORS")) == 0


async def transmit_setup(tb, vi, ring_base, frames):
    """Posts `frames` (without FCS) on VI `vi`'s transmit ring at `ring_base`."""
    m = M
    off = FRAMES
    for i, fr in enumerate(frames):
        # Frame i starts 8 * i bytes into a 64-byte block: reads need not be aligned.
        start = off + 8 * i
        tb.mem[start:start + len(fr)] = fr
        d = ring_base - tb.mem_base + 16 * i
        tb.mem[d:d + 16] = struct.pack("<QQ", tb.mem_base + start, m.desc_word1(tx_len=len(fr)))
        off += (8 * i + len(fr) + 0x3F) & ~0x3F
    await tb.wr(m.vi(vi, "TXQ_BASE_LO"), ring_base & 0xFFFFFFFF)
    await tb.wr(m.vi(vi, "TXQ_BASE_HI"), ring_base >> 32)
    await tb.wr(m.vi(vi, "TXQ_SIZE"), RING_LOG2)
    await tb.wr(m.vi(vi, "TXQ_WPTR"), len(frames))


@evnic_test
async def transmit_through_split_completions(dut):
    """Frames read from host memory by coalesced reads whose completions the root complex
    splits at every 64-byte boundary leave the MAC port whole, with a correct FCS."""
    tb = TB(dut)
    tb.rc.split_on_all_rcb = True
    splits = []
    send = tb.rc.downstream_send

    async def counting_send(tlp):
        # A completion that is not the last of its read: the read was split.
        if tlp.fmt_type == TlpType.CPL_DATA and tlp.byte_count > tlp.length * 4:
            splits.append(tlp.tag)
        await send(tlp)
    tb.rc.downstream_send = counting_send
    await tb.init()
    evq = tb.mem_base + EVQ
    await tb.setup_evq(VI, evq)
    await tb.enable()
    frames = [bytes((i * 31 + k) & 0xFF for k in range(n)) for i, n in enumerate([200, 61, 333])]
    await transmit_setup(tb, VI, tb.mem_base + TXQ, frames)
    for i in range(len(frames)):
        e = await tb.wait_event(evq, i)
        assert e["type"] == M.event_type("TX_DONE"), e
    await tb.wait_until("the frames on the MAC port", lambda: len(tb.mac.tx_frames) == len(frames))
    for fr, out in zip(frames, tb.mac.tx_frames):
        padded = fr.ljust(M.desc["min_frame_no_fcs"], b"\0")
        assert out == padded + fcs(padded), f"frame of {len(fr)} bytes"
    assert splits, "the shell's reads were split into several completions"
    counters = await tb.shell_counters()
    assert all(v == 0 for v in counters.values()), counters


async def expect_dma_fault(tb, evq):
    e = await tb.wait_event(evq, 0)
    assert e["type"] == M.event_type("ERROR"), e
    assert e["payload"] == M.error_code("DMA_FAULT"), e
    return e


@evnic_test
async def completion_with_error_status(dut):
    """A transmit ring outside host memory: the root complex answers Unsupported Request, the
    read fails, the core posts ERROR/DMA_FAULT, and the shell counts it."""
    tb = TB(dut)
    await tb.init()
    evq = tb.mem_base + EVQ
    await tb.setup_evq(VI, evq)
    await tb.enable()
    nowhere = 0x7_0000_0000
    await tb.wr(M.vi(VI, "TXQ_BASE_LO"), nowhere & 0xFFFFFFFF)
    await tb.wr(M.vi(VI, "TXQ_BASE_HI"), nowhere >> 32)
    await tb.wr(M.vi(VI, "TXQ_SIZE"), RING_LOG2)
    await tb.wr(M.vi(VI, "TXQ_WPTR"), 1)
    await expect_dma_fault(tb, evq)
    c = await tb.shell_counters()
    assert c["CPL_ERRORS"] == 1, c
    assert await tb.rd(M.vi(VI, "TXQ_ERRORS")) == 1


def intercept_reads(tb, pick, action):
    """Replaces the root complex's memory-read handling for addresses `pick` selects: `action`
    is "drop" (no completion ever) or "poison" (the data, poisoned)."""
    rc = tb.rc
    orig = {t: rc.rx_tlp_handler[t] for t in (TlpType.MEM_READ, TlpType.MEM_READ_64)}

    async def handler(tlp):
        if not pick(tlp.address):
            return await orig[tlp.fmt_type](tlp)
        if action == "drop":
            tb.log.info("dropping read of %#x", tlp.address)
            return
        data = await rc.mem_address_space.read(tlp.address, tlp.length * 4)
        cpl = Tlp.create_completion_data_for_tlp(tlp, PcieId(0, 0, 0))
        cpl.byte_count = tlp.length * 4
        cpl.lower_address = tlp.address & 0x7F
        cpl.set_data(data)
        cpl.ep = True
        await rc.send(cpl)

    for t in orig:
        rc.register_rx_tlp_handler(t, handler)


@evnic_test
async def poisoned_completion(dut):
    """A poisoned completion of a descriptor read: ERROR/DMA_FAULT and CPL_POISONED."""
    tb = TB(dut)
    await tb.init()
    evq = tb.mem_base + EVQ
    txq = tb.mem_base + TXQ
    intercept_reads(tb, lambda a: txq <= a < txq + 0x100, "poison")
    await tb.setup_evq(VI, evq)
    await tb.enable()
    await transmit_setup(tb, VI, txq, [bytes(64)])
    await expect_dma_fault(tb, evq)
    c = await tb.shell_counters()
    assert c["CPL_POISONED"] == 1 and c["CPL_ERRORS"] == 0, c
    assert tb.mac.tx_frames == []


@evnic_test
async def completion_timeout(dut):
    """A read the host never answers fails after CPL_TIMEOUT cycles: ERROR/DMA_FAULT,
    CPL_TIMEOUTS, and the device goes on working."""
    tb = TB(dut)
    await tb.init()
    evq = tb.mem_base + EVQ
    txq = tb.mem_base + TXQ
    intercept_reads(tb, lambda a: txq <= a < txq + 0x100, "drop")
    await tb.wr(M.sh("CPL_TIMEOUT"), 2000)
    await tb.setup_evq(VI, evq)
    await tb.enable()
    await transmit_setup(tb, VI, txq, [bytes(64)])
    await expect_dma_fault(tb, evq)
    c = await tb.shell_counters()
    assert c["CPL_TIMEOUTS"] == 1, c
    # Still alive: registers answer and an indication arrives.
    await tb.wr(M.permit(VI, GROUP), 1 << (GROUP % 32))
    await tb.wr(M.reg("group control", "SUBSCRIBE"), M.put("group control", "SUBSCRIBE", GROUP=GROUP, VI=VI, ON=1))
    await tb.wr(M.vi(VI, "INDICATE"), M.put("VI", "INDICATE", GROUP=GROUP, PAYLOAD=9))
    e = await tb.wait_event(evq, 1)
    assert e["type"] == M.event_type("INDICATION") and e["payload"] == 9, e


async def inject_request(tb, fmt_type, bar, addr, length=1, data=None):
    """Hands a request straight to the hard block's completer stream, as it would forward one
    the host sent (the model's front end only forwards memory requests matching a BAR)."""
    tlp = Tlp()
    tlp.fmt_type = fmt_type
    tlp.requester_id = PcieId(0, 0, 0)
    tlp.address = addr
    tlp.length = length
    tlp.first_be = 0xF
    tlp.last_be = 0xF if length > 1 else 0
    if data is not None:
        tlp.set_data(data)
        tlp.length = length
    tag = None
    if tlp.fmt_type not in (TlpType.MEM_WRITE, TlpType.MEM_WRITE_64):
        tag = await tb.rc.alloc_tag()
        tlp.tag = tag
    t = Tlp_us(tlp)
    t.bar_id = bar
    t.bar_aperture = 12
    t.completer_id = tb.dev.functions[0].pcie_id
    tb.dev.cq_queue.put_nowait(t)
    if tag is None:
        return None
    cpl = await tb.rc.recv_cpl(tag, timeout=20, timeout_unit="us")
    tb.rc.release_tag(tag)
    return cpl


@evnic_test
async def unsupported_requests(dut):
    """Requests the shell does not carry out get Unsupported Request (non-posted) or are
    dropped (posted), are counted, and leave the registers untouched."""
    tb = TB(dut)
    await tb.init()
    bar0 = tb.pdev.bar[M.shell["REGS_BAR"]] & ~0xF
    scratch = M.glob("SCRATCH")
    await tb.wr(scratch, 0xAAAA_5555)
    cases = [
        ("memory read of BAR 3", TlpType.MEM_READ, 3, bar0 + scratch, 1, None),
        ("I/O read", TlpType.IO_READ, 0, scratch, 1, None),
        ("I/O write", TlpType.IO_WRITE, 0, scratch, 1, b"\1\2\3\4"),
        ("two-dword memory read", TlpType.MEM_READ, 0, bar0 + scratch, 2, None),
        ("fetch-and-add", TlpType.FETCH_ADD, 0, bar0 + scratch, 1, b"\1\0\0\0"),
    ]
    for what, kind, bar, addr, length, data in cases:
        cpl = await inject_request(tb, kind, bar, addr, length, data)
        assert cpl is not None, f"{what}: no completion"
        assert cpl.status == CplStatus.UR, f"{what}: status {cpl.status}"
    # Posted: a write to BAR 4 and a two-dword write to BAR0 are dropped.
    await inject_request(tb, TlpType.MEM_WRITE, 4, bar0 + scratch, 1, b"\0\0\0\0")
    await inject_request(tb, TlpType.MEM_WRITE, 0, bar0 + scratch, 2, bytes(8))
    # A two-dword read through the root complex's own path ends the same way.
    try:
        await tb.bar.read(scratch, 8)
    except Exception as e:  # the root complex raises on a UR completion
        tb.log.info("8-byte read refused: %s", e)
    assert await tb.rd(scratch) == 0xAAAA_5555, "nothing wrote SCRATCH"
    c = await tb.shell_counters()
    assert c["UNSUPPORTED"] == len(cases) + 3, c
    assert await tb.rd(M.glob("BUS_ERRORS")) == 0
