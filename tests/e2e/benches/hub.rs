//! Event latency between two processes through `evnic hub`, against the same between two
//! threads of one process that owns the device, measured in the same run on the simulated
//! device: a ping-pong of indications (A indicates into group 1, B spins on its queue and
//! indicates the payload back into group 2, A spins until it has it). Both sides spin on
//! `poll`, so no wake-up is involved; the figure is the median round trip, and the table gives
//! it as a ratio (host times depend on the machine and its load; the simulated device's speed
//! dominates both).
//!
//! Run: `cargo build --release -p evnic-cli && cargo bench -p evnic-e2e --bench hub`.

use evnic::{DeviceSpec, Endpoint, EndpointConfig, Group, Nic};
use evnic_e2e::hub::{Client, Hub};
use std::time::Instant;

const ROUND_TRIPS: u32 = 2000;

fn spin_next(ep: &Endpoint) -> evnic::Event {
    loop {
        if let Some(e) = ep.poll() {
            return e;
        }
        std::hint::spin_loop();
    }
}

fn pair(nic: &Nic) -> (Endpoint, Endpoint) {
    let cfg = EndpointConfig::default().with_ring_events(1024);
    let a = nic.endpoint(cfg.clone()).unwrap();
    let b = nic.endpoint(cfg).unwrap();
    a.subscribe(Group(2)).unwrap();
    a.register_producer(Group(1)).unwrap();
    b.subscribe(Group(1)).unwrap();
    b.register_producer(Group(2)).unwrap();
    (a, b)
}

/// Median round trip between two threads of this process, in ns.
fn threads(nic: &Nic) -> u64 {
    let (a, b) = pair(nic);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..ROUND_TRIPS {
                let e = spin_next(&b);
                b.indicate(Group(2), e.payload()).unwrap();
            }
        });
        let mut rtt = Vec::with_capacity(ROUND_TRIPS as usize);
        for p in 0..ROUND_TRIPS {
            let t = Instant::now();
            a.indicate(Group(1), p).unwrap();
            let e = spin_next(&a);
            rtt.push(t.elapsed().as_nanos() as u64);
            assert_eq!(e.payload(), p);
        }
        rtt.sort_unstable();
        rtt[rtt.len() / 2]
    })
}

/// Median round trip between two client processes of a hub, in ns.
fn processes(hub: &Hub) -> u64 {
    let n = ROUND_TRIPS.to_string();
    let mut pong = Client::start(&hub.socket, &["pong", "1", "2", &n]);
    pong.expect("ready");
    let mut ping = Client::start(&hub.socket, &["ping", "2", "1", &n]);
    ping.expect("ready");
    ping.send("go");
    let rtt = ping.expect("rtt_ns").parse().unwrap();
    assert!(ping.finish() && pong.finish());
    rtt
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let nic = Nic::open(DeviceSpec::Sim).unwrap();
    let one = threads(&nic);
    drop(nic);
    let hub = Hub::start(&[]);
    let two = processes(&hub);
    // Two threads of one client process through the hub: the cost of the hub alone, without
    // a second process.
    let client = hub.nic();
    let via_hub_threads = threads(&client);
    println!(
        "event round trip, {ROUND_TRIPS} ping-pongs of indications, both sides spinning (median)"
    );
    println!("| path | round trip | ratio to one process |");
    println!("|---|---|---|");
    println!("| two threads, one process owning the device | {one} ns | 1.00 |");
    println!(
        "| two threads of one hub client | {via_hub_threads} ns | {:.2} |",
        via_hub_threads as f64 / one as f64
    );
    println!(
        "| two client processes through the hub | {two} ns | {:.2} |",
        two as f64 / one as f64
    );
}
