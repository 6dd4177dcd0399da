//! Wait-policy bench on the simulated device (`cargo bench -p evnic --bench wait`).
//!
//! 1. Interrupts taken per 10,000 events by a consumer that waits with the wait policy (spin
//!    50 µs, then prime and block) vs one that primes as soon as the queue is empty (spin 0),
//!    under a bursty load (bursts of 100 indications, 2 ms apart) and two steady ones (one
//!    indication every 20 µs, inside the spin time, and every 200 µs, beyond it).
//! 2. Host time per `poll` of an empty and of a non-empty queue, in ns and as a ratio to one
//!    register read (a round trip to the device: on the simulation, to its thread).
//!
//! Prints Markdown tables. The figures depend on the machine and on how fast the simulated
//! device runs on it; the ratios and the interrupt counts are what to compare.

use evnic::{EndpointConfig, EventType, Group, Nic};
use std::hint::black_box;
use std::time::{Duration, Instant};

mod support;
use support::Load;

const EVENTS: u32 = 10_000;
const GROUP: Group = Group(1);

struct Run {
    interrupts: u64,
    primes: u64,
    overflowed: u64,
    wall: Duration,
}

fn run(load: Load, spin: Duration) -> Run {
    let nic = Nic::open(evnic::DeviceSpec::Sim).expect("simulated device");
    let producer = nic
        .endpoint(EndpointConfig::default().with_ring_events(16))
        .unwrap();
    producer.register_producer(GROUP).unwrap();
    let consumer = nic
        .endpoint(
            EndpointConfig::default()
                .with_ring_events(8192)
                .with_spin(spin),
        )
        .unwrap();
    consumer.subscribe(GROUP).unwrap();
    let start = Instant::now();
    let overflowed = std::thread::scope(|s| {
        s.spawn(|| load.drive(EVENTS, |i| producer.indicate(GROUP, i).unwrap()));
        let mut got = 0u64;
        let mut lost = 0u64;
        let mut batch = Vec::with_capacity(256);
        while got + lost < EVENTS as u64 {
            batch.clear();
            let n = consumer
                .wait_batch(&mut batch, 256, Some(Duration::from_secs(30)))
                .unwrap();
            assert!(n > 0, "the device stopped delivering");
            for e in &batch {
                match e.event_type() {
                    Some(EventType::Indication) => got += 1,
                    Some(EventType::Overflow) => lost += u64::from(e.payload()),
                    _ => {}
                }
            }
        }
        lost
    });
    let c = consumer.counters();
    Run {
        interrupts: c.interrupts,
        primes: c.primes,
        overflowed,
        wall: start.elapsed(),
    }
}

fn per_call(iters: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / iters as f64
}

fn main() {
    // `cargo bench` passes --bench; nothing else is understood.
    let default_spin = evnic::config::default_spin().unwrap_or(evnic::DEFAULT_SPIN);
    println!("## Interrupts per {EVENTS} events\n");
    println!("| load | policy | interrupts | primes | events lost | wall time |");
    println!("|---|---|---:|---:|---:|---:|");
    for load in [Load::Bursty, Load::Steady(20), Load::Steady(200)] {
        for (policy, spin) in [
            (
                format!("wait policy (spin {} µs)", default_spin.as_micros()),
                default_spin,
            ),
            ("always prime (spin 0)".to_string(), Duration::ZERO),
        ] {
            let r = run(load, spin);
            println!(
                "| {} | {policy} | {} | {} | {} | {:.0} ms |",
                load.name(),
                r.interrupts,
                r.primes,
                r.overflowed,
                r.wall.as_secs_f64() * 1e3
            );
        }
    }

    println!("\n## Host time per call\n");
    let nic = Nic::open(evnic::DeviceSpec::Sim).expect("simulated device");
    let ep = nic
        .endpoint(
            EndpointConfig::default()
                .with_ring_events(16384)
                .with_spin(Duration::ZERO),
        )
        .unwrap();
    ep.register_producer(GROUP).unwrap();
    ep.subscribe(GROUP).unwrap();
    let dev = nic.backend().clone();
    let read_ns = per_call(20_000, || {
        black_box(dev.read32(0).unwrap());
    });
    let empty_ns = per_call(2_000_000, || {
        black_box(ep.poll());
    });
    // Fill the ring (in bursts the indication queue takes without overrun), then time taking
    // every event written.
    let n = 16_000u32;
    let mut nonempty = Vec::new();
    let mut consumed = 0u32;
    for _round in 0..3 {
        for chunk in 0..n / 100 {
            for i in 0..100 {
                ep.indicate(GROUP, chunk * 100 + i).unwrap();
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut last = 0;
            while Instant::now() < deadline {
                let w = ep.stats().unwrap().written;
                if w == last {
                    break;
                }
                last = w;
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let avail = ep.stats().unwrap().written - consumed;
        let t = Instant::now();
        let mut taken = 0;
        while taken < avail {
            if black_box(ep.poll()).is_some() {
                taken += 1;
            }
        }
        nonempty.push(t.elapsed().as_nanos() as f64 / avail as f64);
        consumed += avail;
    }
    nonempty.sort_by(f64::total_cmp);
    let full_ns = nonempty[1];
    println!("| call | ns per call | vs a register read |");
    println!("|---|---:|---:|");
    println!("| register read (`Backend::read32`) | {read_ns:.0} | 1 |");
    println!(
        "| `poll`, empty queue | {empty_ns:.1} | {:.4} |",
        empty_ns / read_ns
    );
    println!(
        "| `poll`, non-empty queue (median of 3 rounds of ~{n} events) | {full_ns:.1} | {:.4} |",
        full_ns / read_ns
    );
    println!(
        "\n{} on {}",
        nic.describe(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
