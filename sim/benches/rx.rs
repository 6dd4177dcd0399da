//! `make bench` (receive path): sustained frames per cycle for frames sent back to back (no gap
//! between frames on the 64-bit MAC stream), and the latency from a frame's last byte to the
//! write of its RX event into host memory, in clock cycles. Prints a Markdown table.
//!
//! Every frame is delivered to VI 0 (the default action) into buffers posted ahead, with an
//! event queue large enough for all its events. A frame of `L` bytes takes `ceil(L / 8)` cycles
//! on the stream: that is line rate. The frame is written into its buffer while it arrives
//! (cut-through), so the latency does not grow with the frame's length.
//!
//! Last, the same with full filter tables: every exact-match profile filled to 90 % by the
//! host placement (profile 2 with the frames' destination MACs), each frame hitting its own
//! exact entry; the lookup reads the same probes whatever the tables hold.

use evnic_regs::event::{Event, EventType};
use evnic_regs::map::filter as fr;
use evnic_regs::map::{global as g, global_reg, vi, vi_reg};
use evnic_sim::{SimConfig, SimDevice};

const EVQ_LOG2: u32 = 14;
const RING_LOG2: u32 = 12;
/// Buffer bytes per descriptor: a 9,000-byte frame fits.
const BUF: usize = 16384;

struct Setup {
    d: SimDevice,
    events: Box<[u64]>,
    _descs: Box<[u64]>,
    _bufs: Box<[u64]>,
    seen: u32,
}

fn setup() -> Setup {
    let mut d = SimDevice::new(SimConfig::default()).expect("model");
    let nev = 1usize << EVQ_LOG2;
    let nring = 1usize << RING_LOG2;
    let mut events = vec![0u64; nev * 2].into_boxed_slice();
    let mut descs = vec![0u64; nring * 2].into_boxed_slice();
    let mut bufs = vec![0u64; nring * BUF / 8].into_boxed_slice();
    let (evq, ring, buf) = (0x1_0000_0000u64, 0x2_0000_0000u64, 0x3_0000_0000u64);
    for i in 0..nring {
        descs[2 * i] = buf + (i * BUF) as u64;
        descs[2 * i + 1] = BUF as u64;
    }
    unsafe {
        d.memory
            .map(evq, events.as_mut_ptr() as *mut u8, nev * 16)
            .unwrap();
        d.memory
            .map(ring, descs.as_mut_ptr() as *mut u8, nring * 16)
            .unwrap();
        d.memory
            .map(buf, bufs.as_mut_ptr() as *mut u8, nring * BUF)
            .unwrap();
    }
    let w = |d: &mut SimDevice, off: u32, v: u32| d.write32(off, v).unwrap();
    w(&mut d, vi_reg(0, &vi::EVQ_BASE_LO), evq as u32);
    w(&mut d, vi_reg(0, &vi::EVQ_BASE_HI), (evq >> 32) as u32);
    w(&mut d, vi_reg(0, &vi::EVQ_SIZE), EVQ_LOG2);
    w(&mut d, vi_reg(0, &vi::RXQ_BASE_LO), ring as u32);
    w(&mut d, vi_reg(0, &vi::RXQ_BASE_HI), (ring >> 32) as u32);
    w(&mut d, vi_reg(0, &vi::RXQ_SIZE), RING_LOG2);
    w(&mut d, vi_reg(0, &vi::RXQ_WPTR), nring as u32);
    w(
        &mut d,
        fr::PAGE.at(0, &fr::DEFAULT_ACTION),
        fr::action_vi(0) as u32,
    );
    w(&mut d, fr::PAGE.at(0, &fr::MAX_LEN), 9022);
    w(&mut d, global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(1));
    d.run(300);
    Setup {
        d,
        events,
        _descs: descs,
        _bufs: bufs,
        seen: 0,
    }
}

impl Setup {
    /// True when the next RX event is in memory (and takes it).
    fn take_event(&mut self) -> bool {
        self.take_event_from().is_some()
    }
    /// The next RX event's source, when it is in memory (and takes it).
    fn take_event_from(&mut self) -> Option<u16> {
        let i = (self.seen as usize) % (1 << EVQ_LOG2);
        // SAFETY: our own memory, read between device steps.
        let w0 = unsafe { std::ptr::read_volatile(&self.events[2 * i]) };
        let w1 = unsafe { std::ptr::read_volatile(&self.events[2 * i + 1]) };
        let e = Event::decode([w0, w1]);
        if e.phase && e.event_type() == Some(EventType::Rx) {
            self.seen += 1;
            Some(e.source)
        } else {
            None
        }
    }
    fn counter(&mut self, r: &evnic_regs::Reg) -> u32 {
        self.d.read32(fr::PAGE.at(0, r)).unwrap()
    }
}

fn frame(len: usize, i: usize) -> Vec<u8> {
    frame_to(len, i, [2, 0, 0, 0, 0, 1])
}

fn frame_to(len: usize, i: usize, dst: [u8; 6]) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
    f[..6].copy_from_slice(&dst);
    f[12] = 0x88;
    f[13] = 0xb5;
    let c = evnic_proto::fcs::fcs(&f[..len - 4]);
    f[len - 4..].copy_from_slice(&c);
    f
}

/// Frames of `len` bytes back to back: (frames per cycle, line rate, delivered, max latency).
fn back_to_back(len: usize, n: usize) -> (f64, f64, u32, u64) {
    let mut s = setup();
    for i in 0..n {
        s.d.inject_frame(frame(len, i), false).unwrap();
    }
    let start = s.d.cycle();
    let mut last_byte = Vec::with_capacity(n);
    let mut max_latency = 0;
    let mut end = start;
    while (s.seen as usize) < n && s.d.cycle() - start < 2 * (n * len.div_ceil(8)) as u64 + 10_000 {
        let sent = s.d.rx_frames_sent();
        s.d.step();
        if s.d.rx_frames_sent() != sent {
            last_byte.push(s.d.cycle() - 1);
        }
        while s.take_event() {
            let k = s.seen as usize - 1;
            max_latency = max_latency.max(s.d.cycle() - 1 - last_byte[k]);
            end = s.d.cycle();
        }
    }
    let delivered = s.counter(&fr::RX_DELIVERED);
    assert!(s.d.faults().is_empty(), "DMA faults");
    // Frames per cycle over the whole run, from the first beat to the last event.
    let fpc = s.seen as f64 / (end - start) as f64;
    (fpc, 1.0 / len.div_ceil(8) as f64, delivered, max_latency)
}

/// One frame alone (descriptor prefetched): cycles from its last byte to its event write.
fn alone(len: usize) -> u64 {
    let mut s = setup();
    s.d.inject_frame(frame(len, 0), false).unwrap();
    let mut last = 0;
    loop {
        let sent = s.d.rx_frames_sent();
        s.d.step();
        if s.d.rx_frames_sent() != sent {
            last = s.d.cycle() - 1;
        }
        if s.take_event() {
            return s.d.cycle() - 1 - last;
        }
        assert!(s.d.cycle() < 100_000, "no event");
    }
}

/// The destination MAC of frame `i` of the full-tables run.
fn mac_of(i: usize) -> [u8; 6] {
    [2, 0, 0, 1, (i >> 8) as u8, i as u8]
}

/// Fills every exact-match profile to 90 % through the host placement, all entries to VI 0:
/// profile 2 (mask: destination MAC) with `mac_of(0..)`, the others with random keys under
/// their typical masks.
fn fill_exact(s: &mut Setup) -> usize {
    use evnic_regs::exact::{masked_words, typical_masks, Placement, SlotWrite, PROFILES};
    use evnic_regs::key::{self, KeyBits};
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut masks = typical_masks();
    masks[2] = KeyBits::mask_of(&[key::DST_MAC]);
    let per = PROFILES[0].slots() as usize * 9 / 10;
    for (p, prof) in PROFILES.iter().enumerate() {
        evnic_proto::filter::set_profile_mask(&mut s.d, p as u8, &masks[p]).unwrap();
        let mut place: Placement<()> = Placement::new(*prof);
        for i in 0..per {
            let mut k = KeyBits::default();
            if p == 2 {
                let m = mac_of(i).iter().fold(0u128, |a, b| a << 8 | u128::from(*b));
                k.set(key::DST_MAC, m);
            } else {
                for limb in &mut k.0 {
                    *limb = u128::from(next()) << 64 | u128::from(next());
                }
            }
            let (writes, _) = place
                .insert(masked_words(prof, &k, &masks[p]), ())
                .expect("room at 90 %");
            for w in writes {
                let SlotWrite::Set { slot, key, .. } = w else {
                    continue;
                };
                evnic_proto::filter::write_exact(
                    &mut s.d,
                    p as u8,
                    slot as u16,
                    &prof.expand(&key),
                    fr::action_vi(0),
                    true,
                )
                .unwrap();
            }
        }
    }
    per
}

/// `n` frames of `len` bytes back to back, each hitting its own exact entry in full tables:
/// (frames per cycle, delivered, frames decided by an exact entry, max latency).
fn back_to_back_full_tables(len: usize, n: usize) -> (f64, u32, usize, u64) {
    let mut s = setup();
    let per = fill_exact(&mut s);
    assert!(n <= per);
    for i in 0..n {
        s.d.inject_frame(frame_to(len, i, mac_of(i)), false)
            .unwrap();
    }
    let start = s.d.cycle();
    let mut last_byte = Vec::with_capacity(n);
    let (mut max_latency, mut exact, mut end) = (0, 0, start);
    while (s.seen as usize) < n && s.d.cycle() - start < 2 * (n * len.div_ceil(8)) as u64 + 10_000 {
        let sent = s.d.rx_frames_sent();
        s.d.step();
        if s.d.rx_frames_sent() != sent {
            last_byte.push(s.d.cycle() - 1);
        }
        while let Some(source) = s.take_event_from() {
            let k = s.seen as usize - 1;
            max_latency = max_latency.max(s.d.cycle() - 1 - last_byte[k]);
            exact += usize::from(source & fr::EXACT_INDEX_FLAG != 0 && source != 0xffff);
            end = s.d.cycle();
        }
    }
    let delivered = s.counter(&fr::RX_DELIVERED);
    assert!(s.d.faults().is_empty(), "DMA faults");
    (
        s.seen as f64 / (end - start) as f64,
        delivered,
        exact,
        max_latency,
    )
}

fn main() {
    println!("## Receive path (cycles of the 156.25 MHz core clock)\n");
    println!("Command: `cargo bench -p evnic-sim --bench rx`\n");
    println!("| frames back to back | frames/cycle | line rate (frames/cycle) | of line rate | delivered | worst last-byte-to-event latency |");
    println!("|---|---|---|---|---|---|");
    let n = 2000;
    for len in [64usize, 65, 72, 128, 256, 512, 1518] {
        let count = n;
        let (fpc, line, delivered, lat) = back_to_back(len, count);
        println!(
            "| {count} x {len} B | {fpc:.4} | {line:.4} | {:.1} % | {delivered}/{count} | {lat} cycles |",
            100.0 * fpc / line
        );
    }
    println!();
    println!("| one frame alone, descriptor prefetched | last byte to RX event write |");
    println!("|---|---|");
    for len in [64usize, 128, 512, 1518, 9000] {
        println!("| {len} B | {} cycles |", alone(len));
    }
    println!();
    println!("| frames back to back, full exact-match tables (4 x 90 %) | frames/cycle | delivered | decided by an exact entry | worst last-byte-to-event latency |");
    println!("|---|---|---|---|---|");
    for len in [64usize, 128] {
        let count = 400;
        let (fpc, delivered, exact, lat) = back_to_back_full_tables(len, count);
        println!("| {count} x {len} B | {fpc:.4} | {delivered}/{count} | {exact}/{count} | {lat} cycles |");
    }
}
