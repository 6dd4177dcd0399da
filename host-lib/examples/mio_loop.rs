//! A mio event loop over two endpoints and a timer of the device: poll each endpoint until it
//! is empty, arm them, and sleep in `Poll::poll` only when every one is armed.
//!
//! ```sh
//! cargo run --release -p evnic --features sim,mio --example mio_loop
//! ```

use evnic::{EndpointConfig, Group, Nic};
use mio::{Events, Interest, Poll, Token};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = std::env::var("EVNIC_DEVICE").unwrap_or_else(|_| "sim".into());
    let nic = Nic::open(device.parse()?)?;
    let cfg = EndpointConfig::default().with_ring_events(64);
    let mut eps = [nic.endpoint(cfg.clone())?, nic.endpoint(cfg.clone())?];
    eps[0].subscribe(Group(4))?;
    let producer = nic.endpoint(cfg)?;
    producer.register_producer(Group(4))?;
    // The second endpoint hears a device timer.
    let timer = nic.timer()?;
    timer.periodic(
        Duration::from_millis(2),
        Duration::from_millis(4),
        &eps[1],
        0x11,
    )?;

    let mut poll = Poll::new()?;
    for (i, ep) in eps.iter_mut().enumerate() {
        poll.registry().register(ep, Token(i), Interest::READABLE)?;
    }
    let mut events = Events::with_capacity(8);
    let mut seen = 0;
    let mut sent = 0;
    while seen < 10 {
        if sent < 5 {
            producer.indicate(Group(4), sent)?;
            sent += 1;
        }
        let mut found = false;
        for ep in &eps {
            while let Some(e) = ep.poll() {
                println!("endpoint {}: {e}", ep.vi());
                seen += 1;
                found = true;
            }
        }
        if found {
            continue;
        }
        let mut sleep = true;
        for ep in &eps {
            sleep &= ep.arm()?;
        }
        if sleep {
            poll.poll(&mut events, Some(Duration::from_secs(5)))?;
            for ev in &events {
                println!("  woken: {:?}", ev.token());
            }
        }
    }
    timer.cancel()?;
    for ep in &mut eps {
        poll.registry().deregister(ep)?;
    }
    Ok(())
}
