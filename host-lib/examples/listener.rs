//! A listener: subscribes to event groups and prints every event it is notified of, by
//! callback, with the wait policy (spin, then prime and block). A timer in the same group ticks
//! so that there is something to hear.
//!
//! ```sh
//! cargo run --release -p evnic --example listener -- 5 3   # groups 5 and 3, 20 events
//! ```
//!
//! On the simulated device each `Nic::open` is its own device, so this example also produces
//! its events (a periodic timer into the first group); run `producer` for indications.

use evnic::{Dispatcher, EndpointConfig, Group, Nic, Ticks, TimerTarget};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let groups: Vec<Group> = std::env::args()
        .skip(1)
        .map(|a| a.parse().map(Group))
        .collect::<Result<_, _>>()?;
    let groups = if groups.is_empty() {
        vec![Group(5)]
    } else {
        groups
    };
    let device = std::env::var("EVNIC_DEVICE").unwrap_or_else(|_| "sim".into());
    let nic = Nic::open(device.parse()?)?;

    let ep = Arc::new(nic.endpoint(EndpointConfig::default().with_ring_events(256))?);
    for &g in &groups {
        ep.subscribe(g)?;
    }
    println!(
        "listening on {} to {:?} (spin {:?} before blocking)",
        ep.vi(),
        groups,
        ep.spin()
    );

    // Something to hear: a timer ticking into the first group every 100 µs of device time.
    let timer = nic.timer()?;
    timer.periodic(
        Ticks::Time(Duration::from_micros(100)),
        Duration::from_micros(100),
        TimerTarget::Group(groups[0]),
        0x7e,
    )?;

    let heard = Arc::new(AtomicU64::new(0));
    let mut d = Dispatcher::new();
    let h = heard.clone();
    d.register(ep.clone(), move |_ep, e| {
        println!("{e}");
        h.fetch_add(1, Ordering::Relaxed);
    });
    d.run_until(Duration::from_millis(100), || {
        heard.load(Ordering::Relaxed) >= 20
    })?;
    timer.cancel()?;
    let c = ep.counters();
    println!(
        "{} events, {} interrupts, {} primes, {} doorbells",
        c.events, c.interrupts, c.primes, c.doorbells
    );
    Ok(())
}
