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

use evnic_regs::event::EventType;
use evnic_regs::map::filter as fr;
use evnic_regs::map::{global as g, global_reg};

const EVQ_LOG2: u32 = 14;
const RING_LOG2: u32 = 12;
/// Buffer bytes per descriptor: a 9,000-byte frame fits.
const BUF: usize = 16384;

#[path = "common/rx_host.rs"]
mod rx_host;
use rx_host::{frame_to, RxHost};

fn setup() -> RxHost {
    let mut s = RxHost::new(0, EVQ_LOG2, RING_LOG2, BUF);
    let d = &mut s.d;
    d.write32(fr::PAGE.at(0, &fr::DEFAULT_ACTION), fr::action_vi(0) as u32)
        .unwrap();
    d.write32(fr::PAGE.at(0, &fr::MAX_LEN), 9022).unwrap();
    d.write32(global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(1))
        .unwrap();
    d.run(300);
    s
}

/// The next RX event's source, when it is in memory (and takes it); every event here is RX.
fn take_rx(s: &mut RxHost) -> Option<u16> {
    s.next_event().map(|e| {
        assert_eq!(
            e.event_type(),
            Some(EventType::Rx),
            "unexpected event {e:?}"
        );
        e.source
    })
}

fn rx_delivered(s: &mut RxHost) -> u32 {
    s.d.read32(fr::PAGE.at(0, &fr::RX_DELIVERED)).unwrap()
}

fn frame(len: usize, i: usize) -> Vec<u8> {
    frame_to(len, i, [2, 0, 0, 0, 0, 1])
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
        while take_rx(&mut s).is_some() {
            let k = s.seen as usize - 1;
            max_latency = max_latency.max(s.d.cycle() - 1 - last_byte[k]);
            end = s.d.cycle();
        }
    }
    let delivered = rx_delivered(&mut s);
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
        if take_rx(&mut s).is_some() {
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
fn fill_exact(s: &mut RxHost) -> usize {
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
        while let Some(source) = take_rx(&mut s) {
            let k = s.seen as usize - 1;
            max_latency = max_latency.max(s.d.cycle() - 1 - last_byte[k]);
            exact += usize::from(source & fr::EXACT_INDEX_FLAG != 0 && source != 0xffff);
            end = s.d.cycle();
        }
    }
    let delivered = rx_delivered(&mut s);
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
