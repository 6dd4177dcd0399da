//! A producer and its listeners: one endpoint registers as a producer for a group and
//! generates indications; two listeners subscribed to the group each receive every one (the
//! device multicasts), one by waiting, one by polling in batches.
//!
//! ```sh
//! cargo run --release -p evnic --example producer -- 1000   # 1000 indications into group 9
//! ```

use evnic::{EndpointConfig, Group, Nic};
use std::time::{Duration, Instant};

const GROUP: Group = Group(9);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1000);
    let device = std::env::var("EVNIC_DEVICE").unwrap_or_else(|_| "sim".into());
    let nic = Nic::open(device.parse()?)?;
    let cfg = EndpointConfig::default().with_ring_events(4096);

    let producer = nic.endpoint(cfg.clone())?;
    producer.register_producer(GROUP)?;
    let waiter = nic.endpoint(cfg.clone())?;
    let poller = nic.endpoint(cfg)?;
    waiter.subscribe(GROUP)?;
    poller.subscribe(GROUP)?;

    let start = Instant::now();
    let listeners = std::thread::scope(|s| {
        let w = s.spawn(|| -> Result<u64, evnic::Error> {
            let mut sum = 0u64;
            for _ in 0..n {
                match waiter.wait(Some(Duration::from_secs(30)))? {
                    Some(e) => sum += u64::from(e.payload()),
                    None => break,
                }
            }
            Ok(sum)
        });
        let p = s.spawn(|| {
            let mut batch = Vec::with_capacity(64);
            let mut got = 0;
            let mut sum = 0u64;
            let deadline = Instant::now() + Duration::from_secs(30);
            while got < n as usize && Instant::now() < deadline {
                batch.clear();
                got += poller.poll_batch(&mut batch, 64);
                sum += batch.iter().map(|e| u64::from(e.payload())).sum::<u64>();
            }
            sum
        });
        for i in 0..n {
            // 24-bit payloads.
            producer.indicate(GROUP, i & evnic::MAX_INDICATION_PAYLOAD)?;
        }
        Ok::<_, evnic::Error>((w.join().unwrap()?, p.join().unwrap()))
    })?;
    let want: u64 = (0..n as u64).sum();
    println!(
        "{n} indications into {GROUP} from {} in {:.1} ms",
        producer.vi(),
        start.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "waiter {}: payload sum {} ({}), {:?}",
        waiter.vi(),
        listeners.0,
        if listeners.0 == want {
            "all"
        } else {
            "MISSING"
        },
        waiter.counters()
    );
    println!(
        "poller {}: payload sum {} ({}), {:?}",
        poller.vi(),
        listeners.1,
        if listeners.1 == want {
            "all"
        } else {
            "MISSING"
        },
        poller.counters()
    );
    println!("{}", nic.stats()?);
    Ok(())
}
