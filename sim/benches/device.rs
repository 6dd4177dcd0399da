//! `make bench` (device part): speed of the Verilator model, idle and under line-rate 64-byte
//! traffic, and device figures in clock cycles. Prints a Markdown table; no figure here is
//! asserted.

use evnic_proto::filter as pf;
use evnic_regs::event::EventType;
use evnic_regs::key::{self, KeyBits};
use evnic_regs::map::filter as fr;
use evnic_regs::map::{global as g, global_reg, vi, vi_reg};
use evnic_sim::{SimConfig, SimDevice};

#[path = "common/rx_host.rs"]
mod rx_host;
use rx_host::{frame_to, RxHost};
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

/// Model speed under line-rate 64-byte traffic: `n` cycles with a 64-byte frame entering the
/// receive port every 8 cycles (0.125 frames/cycle, the 64-bit stream never idle), a ternary
/// filter on the ethertype delivering each to VI `LOADED_VI`, whose host keeps its receive
/// ring posted and its event queue drained as a driver does (doorbells every 64 frames, taking
/// their bus cycles from the same run). Returns (cycles per wall second, frames delivered by
/// the device, frames offered).
fn loaded_speed(n: u64) -> (String, u32, u64) {
    let mut host = RxHost::new(u32::from(LOADED_VI), EVQ_LOG2, RING_LOG2, BUF);
    let nring = 1u32 << RING_LOG2;
    let entry = pf::Entry {
        value: KeyBits::of_fields(&[(key::ETHERTYPE, 0x88b5)]),
        mask: KeyBits::mask_of(&[key::ETHERTYPE]),
        action: fr::action_vi(LOADED_VI),
        enabled: true,
    };
    let (d, v) = (&mut host.d, u32::from(LOADED_VI));
    pf::write_entry(d, 0, &entry).unwrap();
    d.write32(global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(1))
        .unwrap();
    d.run(300);

    let start = d.cycle();
    let end = start + n;
    let mut offered = 0u64;
    let mut posted = nring;
    let (t, cpu) = (Instant::now(), thread_cpu());
    while host.d.cycle() < end {
        // Keep the receive queue one frame ahead: a frame every 8 cycles from `start` on.
        while host.d.rx_backlog() < 2 {
            let f = frame_to(64, offered as usize, [2, 0, 0, 0, 0, 1]);
            host.d.inject_frame(f, false).unwrap();
            offered += 1;
        }
        host.d.step();
        // The host: take the events written, then every 64 return the buffers and the space.
        while let Some(e) = host.next_event() {
            assert_eq!(
                e.event_type(),
                Some(EventType::Rx),
                "unexpected event {e:?}"
            );
            if host.seen.is_multiple_of(64) {
                posted = posted.wrapping_add(64);
                host.d.write32(vi_reg(v, &vi::RXQ_WPTR), posted).unwrap();
                host.d.write32(vi_reg(v, &vi::EVQ_RPTR), host.seen).unwrap();
            }
        }
    }
    let (secs, cpu) = (t.elapsed().as_secs_f64(), thread_cpu() - cpu);
    let cycles = host.d.cycle() - start;
    let delivered = host.d.read32(fr::PAGE.at(0, &fr::RX_DELIVERED)).unwrap();
    assert!(host.d.faults().is_empty(), "DMA faults");
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
