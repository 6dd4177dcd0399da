//! A tokio program: listens on three groups (one `AsyncEndpoint` each) and to a device timer,
//! and prints every event, while a tokio interval ticks beside them.
//!
//! ```sh
//! cargo run --release -p evnic --features sim,tokio --example tokio_groups
//! ```
//!
//! On the simulated device each `Nic::open` is its own device, so this program also produces
//! its indications (from a fourth endpoint, on a thread).

use evnic::{AsyncEndpoint, EndpointConfig, Group, Nic};
use std::time::Duration;

const GROUPS: [Group; 3] = [Group(1), Group(2), Group(3)];
const PER_GROUP: u32 = 5;
const TIMER_FIRES: u32 = 3;

async fn listen(name: String, ep: AsyncEndpoint, n: u32) -> Result<(), evnic::Error> {
    for _ in 0..n {
        let e = ep.recv().await?;
        println!("{name}: {e}");
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = std::env::var("EVNIC_DEVICE").unwrap_or_else(|_| "sim".into());
    let nic = Nic::open(device.parse()?)?;
    let cfg = EndpointConfig::default().with_ring_events(64);
    let producer = nic.endpoint(cfg.clone())?;
    let mut listeners = Vec::new();
    for g in GROUPS {
        producer.register_producer(g)?;
        let ep = nic.endpoint(cfg.clone())?;
        ep.subscribe(g)?;
        listeners.push((g, ep));
    }
    let timer_ep = nic.endpoint(cfg)?;
    let timer = nic.timer()?;
    timer.periodic(
        Duration::from_millis(5),
        Duration::from_millis(5),
        &timer_ep,
        0x7,
    )?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..PER_GROUP {
                for g in GROUPS {
                    producer.indicate(g, g.0 * 100 + i).expect("indicate");
                }
                std::thread::sleep(Duration::from_millis(3));
            }
        });
        rt.block_on(async {
            let mut it = listeners.into_iter();
            let mut next = || {
                let (g, ep) = it.next().expect("three listeners");
                AsyncEndpoint::new(ep).map(|a| (format!("group {}", g.0), a))
            };
            let (a, b, c) = (next()?, next()?, next()?);
            let t = AsyncEndpoint::new(timer_ep)?;
            let ticks = async {
                let mut iv = tokio::time::interval(Duration::from_millis(10));
                for i in 0..3 {
                    iv.tick().await;
                    println!("tokio interval: tick {i}");
                }
                Ok(())
            };
            let (ra, rb, rc, rt, ri) = tokio::join!(
                listen(a.0, a.1, PER_GROUP),
                listen(b.0, b.1, PER_GROUP),
                listen(c.0, c.1, PER_GROUP),
                listen("timer".into(), t, TIMER_FIRES),
                ticks
            );
            ra.and(rb).and(rc).and(rt).and(ri)
        })
    })?;
    timer.cancel()?;
    Ok(())
}
