//! A client of the evnic hub for the multi-process tests and the benchmark: opens the device
//! named by `EVNIC_DEVICE` (`hub:PATH`) and plays one role, spoken to by lines on stdin and
//! stdout.
//!
//! - `listen GROUP N`: subscribes an endpoint, prints `ready vi=V`, prints `got P` for each of
//!   the next N events (their payloads), then `done`.
//! - `produce GROUP N`: registers as producer, prints `ready vi=V`, waits for a line, indicates
//!   payloads 0..N, prints `sent N`, then waits for end of input.
//! - `hold GROUP K`: opens K endpoints subscribed to GROUP and a periodic timer to the first,
//!   prints `ready vis=A,B,.. timer=T`, then waits for end of input.
//! - `spin GROUP N`: an endpoint that produces into and listens to GROUP; prints `ready`,
//!   waits for a line, then N times indicates and spins on `poll` until the event is back
//!   (between two `getppid` calls that mark the measured span for strace), and prints
//!   `requests R doorbells D` (requests to the hub and doorbell stores in that span).
//! - `filter SPEC`: opens an endpoint and installs the filter entry SPEC (the word `self`
//!   stands for the endpoint's VI), prints `ready vi=V index=I`, then waits for end of input.
//! - `rx GROUP`: subscribes an endpoint to GROUP, prints `ready vi=V`, then prints
//!   `event TYPE SOURCE` for the first event that arrives, then `done`.
//! - `dir-hold NAME GROUP`: publishes NAME for GROUP in the hub's directory, then takes the
//!   directory's lock for a change (adding `NAME.half`), prints `holding`, and never finishes
//!   it (the test kills it there).
//! - `pong IN OUT N`: N times: spins until an event of group IN arrives, indicates it into OUT.
//! - `ping IN OUT N [W]`: prints `ready`, waits for a line, then indicates N times into OUT
//!   with at most W (default 1) unanswered, spinning for the answers from IN; prints
//!   `figures RTT_NS RTT_CYCLES PER_S` ([`evnic_e2e::pingpong::Figures`]).

use evnic::{DeviceSpec, Endpoint, EndpointConfig, Group, Nic};
use evnic_e2e::pingpong::{self, spin_next};
use std::io::BufRead;
use std::time::Duration;

fn arg(args: &[String], i: usize) -> u32 {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("argument {i} must be a number: {args:?}"))
}

fn line() -> Option<String> {
    let mut l = String::new();
    match std::io::stdin().lock().read_line(&mut l) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(l),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let spec: DeviceSpec = std::env::var("EVNIC_DEVICE")
        .expect("EVNIC_DEVICE=hub:PATH")
        .parse()
        .expect("a device spec");
    let nic = Nic::open(spec).expect("open the device");
    let cfg = EndpointConfig::default().with_ring_events(1024);
    let role = args.first().map(String::as_str).unwrap_or("");
    match role {
        "listen" => {
            let (g, n) = (Group(arg(&args, 1)), arg(&args, 2));
            let ep = nic.endpoint(cfg).unwrap();
            ep.subscribe(g).unwrap();
            println!("ready vi={}", ep.vi().0);
            for _ in 0..n {
                match ep.wait(Some(Duration::from_secs(30))) {
                    Ok(Some(e)) => println!("got {}", e.payload()),
                    Ok(None) => {
                        println!("timeout");
                        std::process::exit(1);
                    }
                    Err(e) => {
                        println!("error {e}");
                        std::process::exit(1);
                    }
                }
            }
            println!("done");
        }
        "produce" => {
            let (g, n) = (Group(arg(&args, 1)), arg(&args, 2));
            let ep = nic.endpoint(cfg).unwrap();
            ep.register_producer(g).unwrap();
            println!("ready vi={}", ep.vi().0);
            line();
            for p in 0..n {
                ep.indicate(g, p).unwrap();
            }
            println!("sent {n}");
            while line().is_some() {}
        }
        "hold" => {
            let (g, k) = (Group(arg(&args, 1)), arg(&args, 2));
            let eps: Vec<Endpoint> = (0..k)
                .map(|_| {
                    let ep = nic.endpoint(cfg.clone()).unwrap();
                    ep.subscribe(g).unwrap();
                    ep
                })
                .collect();
            let timer = nic.timer().unwrap();
            timer
                .periodic(
                    Duration::from_millis(1),
                    Duration::from_millis(1),
                    &eps[0],
                    0x77,
                )
                .unwrap();
            let vis: Vec<String> = eps.iter().map(|e| e.vi().0.to_string()).collect();
            println!("ready vis={} timer={}", vis.join(","), timer.index());
            while line().is_some() {}
        }
        "spin" => {
            let (g, n) = (Group(arg(&args, 1)), arg(&args, 2));
            let ep = nic.endpoint(cfg.with_doorbell_every(64)).unwrap();
            ep.subscribe(g).unwrap();
            ep.register_producer(g).unwrap();
            let hub = nic.hub().expect("a hub client");
            println!("ready");
            line();
            let (r0, d0) = (hub.requests(), hub.doorbell_stores());
            // SAFETY: getppid has no preconditions; it marks the span in a system call trace.
            unsafe { libc::getppid() };
            for p in 0..n {
                ep.indicate(g, p & 0xff_ffff).unwrap();
                let e = spin_next(&ep);
                assert_eq!(e.payload(), p & 0xff_ffff);
            }
            // SAFETY: as above.
            unsafe { libc::getppid() };
            let (r1, d1) = (hub.requests(), hub.doorbell_stores());
            println!("requests {} doorbells {}", r1 - r0, d1 - d0);
        }
        "filter" => {
            let ep = nic.endpoint(cfg).unwrap();
            let text = args[1..].join(" ").replace("self", &ep.vi().0.to_string());
            let f = nic.add_filter(text.parse().unwrap()).unwrap();
            println!("ready vi={} index={}", ep.vi().0, f.index());
            while line().is_some() {}
        }
        "rx" => {
            let ep = nic.endpoint(cfg).unwrap();
            ep.subscribe(Group(arg(&args, 1))).unwrap();
            println!("ready vi={}", ep.vi().0);
            match ep.wait(Some(Duration::from_secs(30))) {
                Ok(Some(e)) => println!("event {:?} {}", e.event_type(), e.source()),
                other => {
                    println!("no event: {other:?}");
                    std::process::exit(1);
                }
            }
            println!("done");
        }
        "dir-hold" => {
            let dir = nic.hub().expect("a hub client").directory().unwrap();
            let (name, g) = (args[1].clone(), Group(arg(&args, 2)));
            dir.publish(&name, g).unwrap();
            dir.update(|entries| {
                let mut half = entries[0].clone();
                half.name = format!("{name}.half");
                entries.push(half);
                println!("holding");
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
            .unwrap();
        }
        "pong" => {
            let (gin, gout, n) = (Group(arg(&args, 1)), Group(arg(&args, 2)), arg(&args, 3));
            let ep = nic.endpoint(cfg).unwrap();
            ep.subscribe(gin).unwrap();
            ep.register_producer(gout).unwrap();
            println!("ready");
            pingpong::pong(&ep, gout, n);
        }
        "ping" => {
            let (gin, gout, n) = (Group(arg(&args, 1)), Group(arg(&args, 2)), arg(&args, 3));
            let window = if args.len() > 4 { arg(&args, 4) } else { 1 };
            let ep = nic.endpoint(cfg).unwrap();
            ep.subscribe(gin).unwrap();
            ep.register_producer(gout).unwrap();
            println!("ready");
            line();
            let f = pingpong::ping(&ep, gout, n, window);
            println!("figures {} {} {}", f.rtt_ns, f.rtt_cycles, f.per_s);
        }
        other => panic!("unknown role {other:?}"),
    }
}
