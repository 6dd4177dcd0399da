//! `make bench` (device part): speed of the Verilator model, idle and under line-rate 64-byte
//! traffic, and device figures in clock cycles. Prints a Markdown table; no figure here is
//! asserted.

use evnic_proto::filter as pf;
use evnic_regs::event::{Event, EventType};
use evnic_regs::key::{self, KeyBits};
use evnic_regs::map::filter as fr;
use evnic_regs::map::{global as g, global_reg, vi, vi_reg};
use evnic_sim::{SimConfig, SimDevice};
use std::time::Instant;

/// CPU time of this thread in seconds: the model's speed on a shared machine, where wall time
/// also counts other processes' turns.
fn thread_cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Cycles per second as "wall (CPU)" in millions.
fn speed(cycles: u64, wall: f64, cpu: f64) -> String {
    format!(
        "{:.2} M cycles/s ({:.2} M per CPU second)",
        cycles as f64 / wall / 1e6,
        cycles as f64 / cpu / 1e6
    )
}

/// The VI the loaded run's filter delivers to.
const LOADED_VI: u8 = 1;
const EVQ_LOG2: u32 = 12;
const RING_LOG2: u32 = 10;
const BUF: usize = 2048;

/// A 64-byte frame (FCS included) of ethertype 0x88B5, the loaded run's filter key.
fn frame64(i: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..64).map(|j| (i + j) as u8).collect();
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12] = 0x88;
    f[13] = 0xb5;
    let c = evnic_proto::fcs::fcs(&f[..60]);
    f[60..].copy_from_slice(&c);
    f
}

/// Model speed under line-rate 64-byte traffic: `n` cycles with a 64-byte frame entering the
/// receive port every 8 cycles (0.125 frames/cycle, the 64-bit stream never idle), a ternary
/// filter on the ethertype delivering each to VI `LOADED_VI`, whose host keeps its receive
/// ring posted and its event queue drained as a driver does (doorbells every 64 frames, taking
/// their bus cycles from the same run). Returns (cycles per wall second, frames delivered by
/// the device, frames offered).
fn loaded_speed(n: u64) -> (String, u32, u64) {
    let mut d = SimDevice::new(SimConfig::default()).expect("model");
    let (nev, nring) = (1usize << EVQ_LOG2, 1usize << RING_LOG2);
    let mut events = vec![0u64; nev * 2].into_boxed_slice();
    let mut descs = vec![0u64; nring * 2].into_boxed_slice();
    let mut bufs = vec![0u64; nring * BUF / 8].into_boxed_slice();
    let (evq, ring, buf) = (0x1_0000_0000u64, 0x2_0000_0000u64, 0x3_0000_0000u64);
    for i in 0..nring {
        descs[2 * i] = buf + (i * BUF) as u64;
        descs[2 * i + 1] = BUF as u64;
    }
    // SAFETY: the buffers outlive `d` (dropped at the end of this function, before them).
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
    let v = u32::from(LOADED_VI);
    let w = |d: &mut SimDevice, off: u32, val: u32| d.write32(off, val).unwrap();
    w(&mut d, vi_reg(v, &vi::EVQ_BASE_LO), evq as u32);
    w(&mut d, vi_reg(v, &vi::EVQ_BASE_HI), (evq >> 32) as u32);
    w(&mut d, vi_reg(v, &vi::EVQ_SIZE), EVQ_LOG2);
    w(&mut d, vi_reg(v, &vi::RXQ_BASE_LO), ring as u32);
    w(&mut d, vi_reg(v, &vi::RXQ_BASE_HI), (ring >> 32) as u32);
    w(&mut d, vi_reg(v, &vi::RXQ_SIZE), RING_LOG2);
    w(&mut d, vi_reg(v, &vi::RXQ_WPTR), nring as u32);
    let entry = pf::Entry {
        value: KeyBits::of_fields(&[(key::ETHERTYPE, 0x88b5)]),
        mask: KeyBits::mask_of(&[key::ETHERTYPE]),
        action: fr::action_vi(LOADED_VI),
        enabled: true,
    };
    pf::write_entry(&mut d, 0, &entry).unwrap();
    w(&mut d, global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(1));
    d.run(300);

    let start = d.cycle();
    let end = start + n;
    let mut offered = 0u64;
    let (mut seen, mut posted) = (0u32, nring as u32);
    let (t, cpu) = (Instant::now(), thread_cpu());
    while d.cycle() < end {
        // Keep the receive queue one frame ahead: a frame every 8 cycles from `start` on.
        while d.rx_backlog() < 2 {
            d.inject_frame(frame64(offered as usize), false).unwrap();
            offered += 1;
        }
        d.step();
        // The host: take the events written, then every 64 return the buffers and the space.
        loop {
            let i = seen as usize % nev;
            // SAFETY: our own memory, read between device steps.
            let w0 = unsafe { std::ptr::read_volatile(&events[2 * i]) };
            let w1 = unsafe { std::ptr::read_volatile(&events[2 * i + 1]) };
            let e = Event::decode([w0, w1]);
            // The phase bit flips on every pass of the ring.
            if e.phase != (seen as usize / nev).is_multiple_of(2) || e.event_type().is_none() {
                break;
            }
            assert_eq!(
                e.event_type(),
                Some(EventType::Rx),
                "unexpected event {e:?}"
            );
            seen += 1;
            if seen.is_multiple_of(64) {
                posted = posted.wrapping_add(64);
                w(&mut d, vi_reg(v, &vi::RXQ_WPTR), posted);
                w(&mut d, vi_reg(v, &vi::EVQ_RPTR), seen);
            }
        }
    }
    let (secs, cpu) = (t.elapsed().as_secs_f64(), thread_cpu() - cpu);
    let cycles = d.cycle() - start;
    let delivered = d.read32(fr::PAGE.at(0, &fr::RX_DELIVERED)).unwrap();
    assert!(d.faults().is_empty(), "DMA faults");
    drop(d);
    (speed(cycles, secs, cpu), delivered, offered)
}

fn main() {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut d = SimDevice::new(SimConfig::default()).expect("model");

    // Model speed, idle core.
    let n = 2_000_000;
    let (t, cpu) = (Instant::now(), thread_cpu());
    d.run(n);
    let (s, cpu) = (t.elapsed().as_secs_f64(), thread_cpu() - cpu);
    rows.push(("model speed, idle core".into(), speed(n, s, cpu)));
    rows.push((
        "simulated time per wall second at the nominal clock".into(),
        format!(
            "{:.3} s ({} MHz nominal)",
            n as f64 / s / evnic_regs::params::CLOCK_HZ as f64,
            evnic_regs::params::CLOCK_HZ / 1_000_000
        ),
    ));

    // Model speed under line-rate 64-byte traffic.
    let (speed, delivered, offered) = loaded_speed(400_000);
    rows.push((
        "model speed under line-rate 64-byte traffic (0.125 frames/cycle, filter to a VI)".into(),
        format!("{speed}, {delivered} of {offered} frames delivered"),
    ));

    // Register access: cycles per read and per write, back to back.
    let k = 10_000u64;
    let c0 = d.cycle();
    for i in 0..k {
        d.write32(global_reg(&g::SCRATCH), i as u32).unwrap();
    }
    let c1 = d.cycle();
    for _ in 0..k {
        d.read32(global_reg(&g::SCRATCH)).unwrap();
    }
    let c2 = d.cycle();
    rows.push((
        "register write, back to back".into(),
        format!("{:.1} cycles", (c1 - c0) as f64 / k as f64),
    ));
    rows.push((
        "register read, back to back".into(),
        format!("{:.1} cycles", (c2 - c1) as f64 / k as f64),
    ));
    let t = Instant::now();
    for _ in 0..k {
        d.read32(global_reg(&g::SCRATCH)).unwrap();
    }
    rows.push((
        "register read through the model, host time".into(),
        format!("{:.0} ns", t.elapsed().as_nanos() as f64 / k as f64),
    ));

    println!("\n| device (Verilator model) | value |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
