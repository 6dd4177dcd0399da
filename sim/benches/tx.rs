//! `make bench` (transmit path): sustained throughput of back-to-back frames on the 64-bit MAC
//! transmit stream, in bytes per cycle (FCS included, no inter-frame gap counted: the MAC adds
//! its own) and as a fraction of line rate (8 bytes per cycle), and the latency the CRC-32C
//! insertion adds: cycles from the doorbell write to the frame's first and last beat on the
//! MAC port, for the same frame with and without the flag. Prints Markdown tables.
//!
//! The simulated host memory answers DMA reads after 64 cycles (`SimConfig`). Throughput is
//! measured from the first beat of the 9th frame to the last beat of the last one (the first
//! frames wait for the fetch latency).

use evnic_regs::desc::{self, TxDesc};
use evnic_regs::map::{global as g, global_reg, vi, vi_reg};
use evnic_sim::{SimConfig, SimDevice, TxFrame};

const EVQ_LOG2: u32 = 12;
const RING_LOG2: u32 = 12;
const ARENA: usize = 16 << 20;

struct Setup {
    d: SimDevice,
    _events: Box<[u64]>,
    mem: Box<[u64]>,
    posted: u32,
    next: usize,
}

const EVQ: u64 = 0x1_0000_0000;
const MEM: u64 = 0x2_0000_0000;

fn setup() -> Setup {
    let mut d = SimDevice::new(SimConfig::default()).expect("model");
    let nev = 1usize << EVQ_LOG2;
    let mut events = vec![0u64; nev * 2].into_boxed_slice();
    let mut mem = vec![0u64; ARENA / 8].into_boxed_slice();
    unsafe {
        d.memory
            .map(EVQ, events.as_mut_ptr() as *mut u8, nev * 16)
            .unwrap();
        d.memory
            .map(MEM, mem.as_mut_ptr() as *mut u8, ARENA)
            .unwrap();
    }
    let w = |d: &mut SimDevice, off: u32, v: u32| d.write32(off, v).unwrap();
    w(&mut d, vi_reg(0, &vi::EVQ_BASE_LO), EVQ as u32);
    w(&mut d, vi_reg(0, &vi::EVQ_BASE_HI), (EVQ >> 32) as u32);
    w(&mut d, vi_reg(0, &vi::EVQ_SIZE), EVQ_LOG2);
    w(&mut d, vi_reg(0, &vi::TXQ_BASE_LO), MEM as u32);
    w(&mut d, vi_reg(0, &vi::TXQ_BASE_HI), (MEM >> 32) as u32);
    w(&mut d, vi_reg(0, &vi::TXQ_SIZE), RING_LOG2);
    w(&mut d, global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(1));
    Setup {
        d,
        _events: events,
        mem,
        posted: 0,
        next: 16 << RING_LOG2,
    }
}

impl Setup {
    /// Places a frame of `len` bytes (at byte offset `align` mod 16) and its descriptor.
    fn frame(&mut self, len: usize, align: usize, crc: Option<(u16, u16)>) {
        let at = self.next.next_multiple_of(16) + align % 16;
        self.next = at + len;
        assert!(self.next <= ARENA);
        // SAFETY: our arena; the device reads it only inside `step`.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(self.mem.as_mut_ptr() as *mut u8, ARENA) };
        for (i, b) in bytes[at..at + len].iter_mut().enumerate() {
            *b = (i * 7 + at) as u8;
        }
        let mut dsc = TxDesc {
            addr: MEM + at as u64,
            len: len as u16,
            ..Default::default()
        };
        if let Some((off, n)) = crc {
            dsc.flags = desc::TX_FLAG_CRC32C;
            dsc.crc_offset = off;
            dsc.crc_len = n;
        }
        let slot = (self.posted % (1 << RING_LOG2)) as usize;
        let [w0, w1] = dsc.encode();
        self.mem[2 * slot] = w0;
        self.mem[2 * slot + 1] = w1;
        self.posted += 1;
    }

    /// Rings the doorbell; returns its cycle.
    fn doorbell(&mut self) -> u64 {
        let c = self.d.cycle();
        self.d
            .write32(vi_reg(0, &vi::TXQ_WPTR), self.posted)
            .unwrap();
        c
    }

    fn wait_frames(&mut self, n: usize) -> Vec<TxFrame> {
        let mut out = vec![];
        while out.len() < n {
            self.d.run(200);
            out.extend(self.d.take_tx_frames());
            assert!(self.d.cycle() < 50_000_000, "frames do not leave");
        }
        assert!(self.d.faults().is_empty());
        out
    }
}

/// (bytes per cycle, idle cycles between frames: max) for `n` frames of `len` bytes.
fn throughput(len: usize, n: usize, crc: Option<(u16, u16)>) -> (f64, u64) {
    let mut s = setup();
    for i in 0..n {
        s.frame(len, i * 5, crc);
    }
    s.doorbell();
    let f = s.wait_frames(n);
    let skip = 8;
    let bytes: usize = f[skip..].iter().map(|f| f.bytes.len()).sum();
    let cycles = f[n - 1].cycle + 1 - f[skip].start;
    let max_gap = f[skip..]
        .windows(2)
        .map(|w| w[1].start - w[0].cycle - 1)
        .max()
        .unwrap_or(0);
    (bytes as f64 / cycles as f64, max_gap)
}

/// Cycles from the doorbell to the first and the last beat of one frame.
fn latency(len: usize, crc: Option<(u16, u16)>) -> (u64, u64) {
    let mut s = setup();
    s.frame(len, 0, crc);
    s.d.run(100);
    let c = s.doorbell();
    let f = s.wait_frames(1);
    (f[0].start - c, f[0].cycle - c)
}

fn main() {
    println!("## Transmit path (Verilator model, 64-cycle DMA read latency)\n");
    println!("| frames | bytes on the wire | bytes/cycle | fraction of line rate | max idle cycles between frames |");
    println!("|---|---|---|---|---|");
    for (label, len, n, crc) in [
        ("64-byte (60 + FCS)", 60usize, 400usize, None),
        ("64-byte, CRC-32C span at 8", 60, 400, Some((8u16, 40u16))),
        ("64-byte, CRC-32C span at 0", 60, 400, Some((0, 40))),
        ("1500-byte (1496 + FCS)", 1496, 100, None),
        (
            "1518-byte (1514 + FCS), CRC-32C",
            1514,
            100,
            Some((54, 1456)),
        ),
    ] {
        let (bpc, gap) = throughput(len, n, crc);
        println!(
            "| {label} | {} | {bpc:.3} | {:.3} | {gap} |",
            len.max(60) + 4,
            bpc / 8.0
        );
    }
    println!("\n## Latency of CRC-32C insertion (cycles from the doorbell write)\n");
    println!("| frame | CRC-32C span | to first beat | to last beat | added |");
    println!("|---|---|---|---|---|");
    for (len, span) in [(60usize, (0u16, 40u16)), (60, (8, 40)), (1514, (54, 1456))] {
        let (f0, l0) = latency(len, None);
        let (f1, l1) = latency(len, Some(span));
        println!("| {len} bytes | none | {f0} | {l0} | |");
        println!(
            "| {len} bytes | {}..{} | {f1} | {l1} | {} / {} |",
            span.0,
            span.0 + span.1,
            f1 as i64 - f0 as i64,
            l1 as i64 - l0 as i64
        );
    }
}
