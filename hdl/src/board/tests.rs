//! Board tops: a host model talks to `Ecp5EvnRegs` bit by bit over its serial pins, in
//! RustHDL's simulation and in Verilator's of the generated Verilog; `DmaNoMemory` alone; the
//! Verilog of both EVN tops through Verilator's lint.

use super::uart::tests::{frame_bits, LineDecoder};
use super::uart_bridge::*;
use super::*;
use evnic_regs::map::global as g;

const CPB: u64 = 8;
const TIMEOUT: u64 = 3000;

/// A host on the board's serial port, one clock cycle at a time.
struct Host {
    uut: Ecp5EvnRegs,
    line: LineDecoder,
    got: Vec<u8>,
}

impl Host {
    fn new() -> Self {
        let mut uut = Ecp5EvnRegs::with_bit_cycles(CPB, TIMEOUT);
        uut.connect_all();
        check_all(&uut).unwrap();
        let mut h = Host {
            uut,
            line: LineDecoder::new(CPB as usize),
            got: vec![],
        };
        h.uut.uart_rx.next = true;
        h.uut.rst_n.next = true;
        // Power-on reset: 16 cycles and the reset register.
        h.cycles(20);
        h
    }

    fn clock(&mut self) {
        assert!(simulate(&mut self.uut, 100));
        self.uut.clk12.next = true.into();
        assert!(simulate(&mut self.uut, 100));
        self.uut.clk12.next = false.into();
        assert!(simulate(&mut self.uut, 100));
        if let Some(b) = self.line.sample(self.uut.uart_tx.val()) {
            self.got.push(b);
        }
    }

    fn cycles(&mut self, n: usize) {
        for _ in 0..n {
            self.clock();
        }
    }

    fn send_bits(&mut self, bits: &[bool]) {
        for &b in bits {
            self.uut.uart_rx.next = b;
            self.cycles(CPB as usize);
        }
        self.uut.uart_rx.next = true;
    }

    fn send(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.send_bits(&frame_bits(b, true));
        }
    }

    /// Waits for `n` answer bytes (at most 20 byte times) and takes them.
    fn answer(&mut self, n: usize) -> Vec<u8> {
        for _ in 0..20 * 10 * CPB {
            if self.got.len() >= n {
                break;
            }
            self.clock();
        }
        // Nothing more follows within a few byte times.
        self.cycles(3 * 10 * CPB as usize);
        std::mem::take(&mut self.got)
    }

    fn read(&mut self, addr: u32) -> Vec<u8> {
        let a = addr.to_be_bytes();
        self.send(&[CMD_READ, a[1], a[2], a[3]]);
        self.answer(5)
    }

    fn write(&mut self, addr: u32, data: u32) -> Vec<u8> {
        let a = addr.to_be_bytes();
        let mut cmd = vec![CMD_WRITE, a[1], a[2], a[3]];
        cmd.extend_from_slice(&data.to_be_bytes());
        self.send(&cmd);
        self.answer(1)
    }

    fn led_on(&self) -> u8 {
        !(self.uut.led.val().index() as u8)
    }
}

fn data(v: u32) -> Vec<u8> {
    let mut d = vec![ANS_DATA];
    d.extend_from_slice(&v.to_be_bytes());
    d
}

#[test]
fn host_identifies_the_device_and_uses_scratch() {
    let mut h = Host::new();
    assert_eq!(h.read(g::ID.offset), data(g::ID.reset));
    assert_eq!(h.read(g::VERSION.offset), data(g::VERSION.reset));
    assert_eq!(h.write(g::SCRATCH.offset, 0xDEAD_BEEF), vec![ANS_WRITTEN]);
    assert_eq!(h.read(g::SCRATCH.offset), data(0xDEAD_BEEF));
    assert_eq!(h.read(g::BUS_ERRORS.offset), data(0));
}

#[test]
fn refused_accesses_complete_and_are_counted_by_the_core() {
    let mut h = Host::new();
    // Another page (not present in this build), a misaligned address, a read-only register.
    assert_eq!(h.read(evnic_regs::map::FILTER_PAGE_BASE), data(0));
    assert_eq!(h.read(g::SCRATCH.offset + 1), data(0));
    assert_eq!(h.write(g::ID.offset, 1), vec![ANS_WRITTEN]);
    assert_eq!(h.read(g::ID.offset), data(g::ID.reset));
    assert_eq!(h.read(g::BUS_ERRORS.offset), data(3));
}

#[test]
fn bad_commands_get_one_byte_errors_and_lose_nothing_after() {
    let mut h = Host::new();
    // Not a command.
    h.send(b"x");
    assert_eq!(h.answer(1), vec![ERR_COMMAND]);
    // Beyond BAR0: no access is made (the core counts nothing).
    let big = 1u32 << evnic_regs::map::BAR_ADDR_BITS;
    assert_eq!(h.read(big), vec![ERR_ADDRESS]);
    let a = big.to_be_bytes();
    h.send(&[CMD_WRITE, a[1], a[2], a[3], 1, 2, 3, 4]);
    assert_eq!(h.answer(1), vec![ERR_ADDRESS]);
    assert_eq!(h.read(g::BUS_ERRORS.offset), data(0));
    // A partial command, then silence: a timeout, and the next command works.
    h.send(&[CMD_WRITE, 0, 0]);
    h.cycles(TIMEOUT as usize + 10);
    assert_eq!(h.answer(1), vec![ERR_TIMEOUT]);
    assert_eq!(h.read(g::ID.offset), data(g::ID.reset));
    // A framing error in the middle of a command drops it.
    h.send(&[CMD_READ, 0]);
    h.send_bits(&frame_bits(0, false));
    assert_eq!(h.answer(1), vec![ERR_FRAMING]);
    assert_eq!(h.read(g::ID.offset), data(g::ID.reset));
    // Bytes sent while an answer is going out are lost and reported before the next answer.
    h.send(&[CMD_STATUS]);
    h.cycles(3 * CPB as usize * 10);
    h.send(&[CMD_STATUS]);
    let mut want = data(0);
    want.push(ERR_OVERRUN);
    assert_eq!(h.answer(6), want);
    assert_eq!(h.read(g::ID.offset), data(g::ID.reset));
}

#[test]
fn reset_button_and_leds() {
    let mut h = Host::new();
    assert_eq!(h.led_on() & 0x08, 0, "out of reset");
    assert_eq!(h.write(g::SCRATCH.offset, 5), vec![ANS_WRITTEN]);
    let rx_led = h.led_on() & 0x04;
    h.send(b"?");
    assert_eq!(h.answer(1), vec![ERR_COMMAND]);
    assert_ne!(h.led_on() & 0x04, rx_led, "LED 2 toggles per byte received");
    h.uut.rst_n.next = false;
    h.cycles(5);
    assert_eq!(h.led_on() & 0x08, 0x08, "LED 3 lit in reset");
    h.uut.rst_n.next = true;
    h.cycles(5);
    assert_eq!(h.led_on() & 0x08, 0);
    // The button reset the device: SCRATCH is back to 0.
    assert_eq!(h.read(g::SCRATCH.offset), data(0));
}

#[test]
fn dma_without_memory_answers_every_read_with_an_error_and_counts() {
    let mut uut = DmaNoMemory::default();
    uut.connect_all();
    check_all(&uut).unwrap();
    let clock = |u: &mut DmaNoMemory| {
        assert!(simulate(u, 100));
        u.clock.next = true.into();
        assert!(simulate(u, 100));
        u.clock.next = false.into();
        assert!(simulate(u, 100));
    };
    uut.reset.next = true;
    clock(&mut uut);
    uut.reset.next = false;
    let mut reads = 0u32;
    let mut writes = 0u32;
    for i in 0..100_000u32 {
        let req = i % 4 != 0;
        let wr = i % 5 != 0;
        let tag = (i % 251) as u8;
        uut.dmar_req_valid.next = req;
        uut.dmar_req_tag.next = (tag as u64).into();
        uut.dmaw_valid.next = wr;
        assert!(simulate(&mut uut, 100));
        assert!(uut.dmar_req_ready.val() && uut.dmaw_ready.val());
        clock(&mut uut);
        reads += req as u32;
        writes += wr as u32;
        // This edge's request is answered in the cycle after it.
        assert_eq!(uut.dmar_rsp_valid.val(), req);
        if req {
            assert_eq!(uut.dmar_rsp_tag.val().index() as u8, tag);
            assert!(uut.dmar_rsp_err.val());
            assert_eq!(uut.dmar_rsp_data.val(), Bits::<128>::default());
        }
        let status = uut.status.val().index() as u32;
        assert_eq!(status >> 16, reads.min(0xFFFF), "reads, saturating");
        assert_eq!(status & 0xFFFF, writes.min(0xFFFF), "writes, saturating");
    }
    assert!(reads > 0xFFFF && writes > 0xFFFF);
}

#[test]
fn evn_tops_generate_verilog_that_lints() {
    crate::crc::tests::verilator_lint("ecp5_evn_regs", &verilog::<Ecp5EvnRegs>());
    // The whole core's generation recurses deeper than a test thread's default stack.
    let core = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(verilog::<Ecp5EvnCore>)
        .unwrap()
        .join()
        .unwrap();
    // As `make lint` for the core: UNOPTFLAT is RustHDL's one always block per module.
    let file = std::env::temp_dir().join(format!("evnic-ecp5-evn-{}.v", std::process::id()));
    std::fs::write(&file, core).unwrap();
    let out = std::process::Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "-Wno-WIDTH",
            "-Wno-DECLFILENAME",
            "-Wno-UNUSEDSIGNAL",
        ])
        .args(["-Wno-UNUSEDPARAM", "-Wno-UNOPTFLAT", "--top-module", "top"])
        .arg(&file)
        .output()
        .expect("verilator must be installed");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Verilator harness for a board top: the stimulus is one line of `0`/`1`, the level of
/// `uart_rx` in each cycle; it prints the level of `uart_tx` after each cycle's rising edge.
const SERIAL_MAIN_CPP: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
#include <fstream>
#include <string>
int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    Vtop top;
    std::ifstream in(argv[1]);
    std::string line;
    std::getline(in, line);
    top.rst_n = 1;
    top.uart_rx = 1;
    top.clk12 = 0;
    top.eval();
    for (char c : line) {
        top.uart_rx = c == '1';
        top.clk12 = 1;
        top.eval();
        top.clk12 = 0;
        top.eval();
        putchar(top.uart_tx ? '1' : '0');
    }
    top.final();
    return 0;
}
"#;

#[test]
fn generated_verilog_answers_over_the_serial_line() {
    // The Verilog that goes into the bitstream (with a short bit time), not RustHDL's model.
    let mut uut = Ecp5EvnRegs::with_bit_cycles(CPB, TIMEOUT);
    uut.connect_all();
    let verilog = generate_verilog(&uut);
    let mut line = String::new();
    let idle = |line: &mut String, n: usize| line.push_str(&"1".repeat(n));
    let bytes = |line: &mut String, bs: &[u8]| {
        for &b in bs {
            for bit in frame_bits(b, true) {
                line.push_str(&(if bit { "1" } else { "0" }).repeat(CPB as usize));
            }
        }
    };
    let gap = 10 * 10 * CPB as usize;
    idle(&mut line, 40);
    let id = g::ID.offset.to_be_bytes();
    bytes(&mut line, &[CMD_READ, id[1], id[2], id[3]]);
    idle(&mut line, gap);
    let s = g::SCRATCH.offset.to_be_bytes();
    bytes(
        &mut line,
        &[CMD_WRITE, s[1], s[2], s[3], 0x12, 0x34, 0x56, 0x78],
    );
    idle(&mut line, gap);
    bytes(&mut line, &[CMD_READ, s[1], s[2], s[3]]);
    idle(&mut line, gap);
    bytes(&mut line, b"z");
    idle(&mut line, gap);
    let out = crate::crc::tests::verilator_cosim("ecp5_evn_regs", &verilog, SERIAL_MAIN_CPP, &line);
    let mut dec = LineDecoder::new(CPB as usize);
    let got: Vec<u8> = out
        .trim()
        .chars()
        .filter_map(|c| dec.sample(c == '1'))
        .collect();
    let mut want = data(g::ID.reset);
    want.push(ANS_WRITTEN);
    want.extend(data(0x1234_5678));
    want.push(ERR_COMMAND);
    assert_eq!(got, want);
}
