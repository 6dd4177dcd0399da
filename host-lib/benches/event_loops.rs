//! Event-loop bench (`cargo bench -p evnic --features sim,tokio --bench event_loops`).
//!
//! 1. System calls per 10,000 interest changes, counted (not timed): the [`Poller`] applying
//!    coalesced changes through io_uring (one `io_uring_enter` per wait) and through one
//!    `epoll_ctl` per remaining change, against one `epoll_ctl` per change.
//! 2. Wake-up latency and CPU per event of the Poller against a hand-written epoll loop, on a
//!    plain eventfd and on an endpoint of the simulated device; of [`AsyncEndpoint`] on the
//!    simulated device against tokio's `AsyncFd` on a plain eventfd. Same producer, same pace,
//!    same run; the ratios are what to compare.
//! 3. Interrupts per 10,000 events for a Poller over an endpoint: the wait policy (spin, then
//!    arm) against always arming (spin 0), under a bursty and two steady loads.
//!
//! Prints Markdown tables.

use evnic::poller::{ApplyMode, Interest, Poller, Token};
use evnic::{AsyncEndpoint, Endpoint, EndpointConfig, EventType, Group, Nic};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod support;
use support::Load;

const CHANGES: usize = 10_000;

struct EventFd(OwnedFd);

impl EventFd {
    fn new() -> EventFd {
        // SAFETY: plain eventfd creation; owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(fd >= 0);
        // SAFETY: a fresh fd nothing else owns.
        EventFd(unsafe { OwnedFd::from_raw_fd(fd) })
    }
    fn signal(&self) {
        let one = 1u64;
        // SAFETY: 8 bytes from a valid u64.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
    fn read(&self) -> u64 {
        let mut v = 0u64;
        // SAFETY: 8 bytes into a valid u64.
        unsafe { libc::read(self.0.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        v
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A small deterministic generator (the same sequence for every contender).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// An interest change as a program makes it.
#[derive(Clone, Copy)]
enum Change {
    Add(usize, Interest),
    Mod(usize, Interest),
    Del(usize),
    /// The event loop goes round: the Poller waits (zero timeout) here.
    Wait,
}

/// Workloads of `CHANGES` changes.
fn workloads() -> Vec<(&'static str, usize, Vec<Change>)> {
    let mut out = Vec::new();
    // 64 connections; each loop round switches write interest on or off for 10 of them
    // (data queued, then flushed), often the same one twice.
    {
        let fds = 64;
        let mut rng = Lcg(1);
        let mut w = vec![false; fds];
        let mut v: Vec<Change> = (0..fds)
            .map(|i| Change::Add(i, Interest::READABLE))
            .collect();
        v.push(Change::Wait);
        let mut n = fds;
        while n < CHANGES {
            for _ in 0..10 {
                let i = rng.below(fds / 4) * 4 % fds + rng.below(2);
                w[i] = !w[i];
                let interest = if w[i] {
                    Interest::BOTH
                } else {
                    Interest::READABLE
                };
                v.push(Change::Mod(i, interest));
                n += 1;
            }
            v.push(Change::Wait);
        }
        out.push((
            "64 fds, write interest toggled, 10 changes per round",
            fds,
            v,
        ));
    }
    // Short-lived connections: each round adds 4, and deletes 4 it added (some in the same
    // round, some a round later).
    {
        let fds = 16;
        let mut v = Vec::new();
        let mut n = 0;
        let mut round = 0;
        while n + 8 <= CHANGES {
            let base = (round % 2) * 8;
            for i in 0..4 {
                v.push(Change::Add(base + i, Interest::READABLE));
            }
            // Two of them end within the round, two of last round's end now.
            v.push(Change::Del(base));
            v.push(Change::Del(base + 1));
            if round > 0 {
                let prev = ((round - 1) % 2) * 8;
                v.push(Change::Del(prev + 2));
                v.push(Change::Del(prev + 3));
            } else {
                v.push(Change::Mod(base + 2, Interest::BOTH));
                v.push(Change::Mod(base + 3, Interest::BOTH));
            }
            n += 8;
            v.push(Change::Wait);
            round += 1;
        }
        out.push((
            "short-lived fds, add and delete, 8 changes per round",
            fds,
            v,
        ));
    }
    // Start-up: 1,000 fds added and each adjusted 9 times before the first wait.
    {
        let fds = 1000;
        let mut v: Vec<Change> = (0..fds)
            .map(|i| Change::Add(i, Interest::READABLE))
            .collect();
        for k in 0..9 {
            for i in 0..fds {
                let interest = if k % 2 == 0 {
                    Interest::BOTH
                } else {
                    Interest::READABLE
                };
                v.push(Change::Mod(i, interest));
            }
        }
        v.push(Change::Wait);
        out.push(("1,000 fds set up, 10 changes each, one wait", fds, v));
    }
    out
}

fn changes_in(v: &[Change]) -> usize {
    v.iter().filter(|c| !matches!(c, Change::Wait)).count()
}

/// System calls spent on the changes (epoll_wait calls are the same for everyone: left out).
fn with_poller(mode: ApplyMode, fds: &[EventFd], v: &[Change]) -> (u64, ApplyMode) {
    let mut p = Poller::with_mode(mode).unwrap().with_spin(Duration::ZERO);
    let mut ready = Vec::new();
    for c in v {
        match *c {
            Change::Add(i, interest) => p.add(&fds[i], Token(i as u64), interest).unwrap(),
            Change::Mod(i, interest) => p.modify(&fds[i], Token(i as u64), interest).unwrap(),
            Change::Del(i) => p.delete(&fds[i]).unwrap(),
            Change::Wait => {
                p.wait(&mut ready, Some(Duration::ZERO)).unwrap();
            }
        }
    }
    let c = p.counters();
    (c.uring_submits + c.epoll_ctls, p.apply_mode())
}

/// The hand-written loop: one epoll_ctl per change, counted here.
fn one_ctl_each(fds: &[EventFd], v: &[Change]) -> u64 {
    // SAFETY: plain epoll creation; owned below.
    let ep = unsafe { OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)) };
    let mut calls = 0;
    let bits = |i: Interest| {
        (if i.readable { libc::EPOLLIN } else { 0 } | if i.writable { libc::EPOLLOUT } else { 0 })
            as u32
    };
    for c in v {
        let (op, i, ev) = match *c {
            Change::Add(i, interest) => (libc::EPOLL_CTL_ADD, i, bits(interest)),
            Change::Mod(i, interest) => (libc::EPOLL_CTL_MOD, i, bits(interest)),
            Change::Del(i) => (libc::EPOLL_CTL_DEL, i, 0),
            Change::Wait => continue,
        };
        let mut e = libc::epoll_event {
            events: ev,
            u64: i as u64,
        };
        calls += 1;
        // SAFETY: a plain epoll_ctl on our epoll fd.
        let r = unsafe { libc::epoll_ctl(ep.as_raw_fd(), op, fds[i].as_raw_fd(), &mut e) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    }
    calls
}

fn syscall_table() {
    println!("## System calls per {CHANGES} interest changes (counted)\n");
    println!("| workload | changes | one epoll_ctl each | Poller, epoll_ctl per coalesced change | Poller, io_uring | io_uring vs one each |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, n, v) in workloads() {
        let fds: Vec<EventFd> = (0..n).map(|_| EventFd::new()).collect();
        let direct = one_ctl_each(&fds, &v);
        let (ctl, m1) = with_poller(ApplyMode::EpollCtl, &fds, &v);
        let (uring, m2) = with_poller(ApplyMode::Uring, &fds, &v);
        assert_eq!(m1, ApplyMode::EpollCtl);
        let uring_cell = if m2 == ApplyMode::Uring {
            format!("{uring}")
        } else {
            format!("{uring} (io_uring unavailable: epoll_ctl)")
        };
        println!(
            "| {name} | {} | {direct} | {ctl} | {uring_cell} | {:.3} |",
            changes_in(&v),
            uring as f64 / direct as f64
        );
    }
}

/// Nanoseconds of CPU this thread has used.
fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

struct Lat {
    median_us: f64,
    p99_us: f64,
    cpu_us_per_event: f64,
}

fn summarise(mut lat_ns: Vec<u64>, cpu_ns: u64) -> Lat {
    let n = lat_ns.len();
    lat_ns.sort_unstable();
    Lat {
        median_us: lat_ns[n / 2] as f64 / 1e3,
        p99_us: lat_ns[n * 99 / 100] as f64 / 1e3,
        cpu_us_per_event: cpu_ns as f64 / n as f64 / 1e3,
    }
}

/// Events per latency run, one every `PACE`.
const LAT_EVENTS: usize = 1000;
const PACE: Duration = Duration::from_micros(500);

/// Runs `send(i)` every PACE on a thread, noting when each was sent; `consume` takes the
/// events and calls `took(i)` for each. Returns the latencies and the consumer's CPU time.
fn paced(
    send: impl Fn(usize) + Send + Sync,
    consume: impl FnOnce(&dyn Fn(usize)),
) -> (Vec<u64>, u64) {
    let base = Instant::now();
    let sent: Vec<AtomicU64> = (0..LAT_EVENTS).map(|_| AtomicU64::new(0)).collect();
    let lat: Vec<AtomicU64> = (0..LAT_EVENTS).map(|_| AtomicU64::new(0)).collect();
    let cpu = std::thread::scope(|s| {
        s.spawn(|| {
            for (i, at) in sent.iter().enumerate() {
                std::thread::sleep(PACE);
                at.store(base.elapsed().as_nanos() as u64, Ordering::Release);
                send(i);
            }
        });
        let c0 = thread_cpu_ns();
        consume(&|i: usize| {
            let now = base.elapsed().as_nanos() as u64;
            lat[i].store(
                now.saturating_sub(sent[i].load(Ordering::Acquire)),
                Ordering::Relaxed,
            );
        });
        thread_cpu_ns() - c0
    });
    (lat.iter().map(|a| a.load(Ordering::Relaxed)).collect(), cpu)
}

fn hand_epoll_eventfd() -> Lat {
    let efd = EventFd::new();
    // SAFETY: plain epoll creation; owned below.
    let ep = unsafe { OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)) };
    let mut e = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: plain epoll_ctl.
    unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, efd.as_raw_fd(), &mut e) };
    let (lat, cpu) = paced(
        |_| efd.signal(),
        |took| {
            let mut next = 0;
            let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
            while next < LAT_EVENTS {
                // SAFETY: a valid buffer of 4 events.
                unsafe { libc::epoll_wait(ep.as_raw_fd(), evs.as_mut_ptr(), 4, -1) };
                for _ in 0..efd.read() {
                    took(next);
                    next += 1;
                }
            }
        },
    );
    summarise(lat, cpu)
}

fn poller_eventfd(spin: Duration) -> Lat {
    let efd = EventFd::new();
    let mut p = Poller::new().unwrap().with_spin(spin);
    p.add(&efd, Token(0), Interest::READABLE).unwrap();
    let (lat, cpu) = paced(
        |_| efd.signal(),
        |took| {
            let mut next = 0;
            let mut ready = Vec::new();
            while next < LAT_EVENTS {
                p.wait(&mut ready, None).unwrap();
                for _ in 0..efd.read() {
                    took(next);
                    next += 1;
                }
            }
        },
    );
    summarise(lat, cpu)
}

const G: Group = Group(1);

fn device_pair(nic: &Nic) -> (Endpoint, Endpoint) {
    let cfg = EndpointConfig::default()
        .with_ring_events(1024)
        .with_spin(Duration::ZERO);
    let prod = nic.endpoint(cfg.clone()).unwrap();
    prod.register_producer(G).unwrap();
    let cons = nic.endpoint(cfg).unwrap();
    cons.subscribe(G).unwrap();
    (prod, cons)
}

fn take(ep: &Endpoint, next: &mut usize, took: &dyn Fn(usize)) {
    while let Some(e) = ep.poll() {
        if e.event_type() == Some(EventType::Indication) {
            took(e.payload() as usize);
            *next += 1;
        }
    }
}

fn hand_epoll_endpoint(nic: &Nic) -> Lat {
    let (prod, cons) = device_pair(nic);
    // SAFETY: plain epoll creation; owned below.
    let ep = unsafe { OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)) };
    let mut e = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: plain epoll_ctl.
    unsafe {
        libc::epoll_ctl(
            ep.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            cons.as_raw_fd(),
            &mut e,
        )
    };
    let (lat, cpu) = paced(
        |i| prod.indicate(G, i as u32).unwrap(),
        |took| {
            let mut next = 0;
            let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
            while next < LAT_EVENTS {
                take(&cons, &mut next, took);
                if next < LAT_EVENTS && cons.arm().unwrap() {
                    // SAFETY: a valid buffer of 4 events.
                    unsafe { libc::epoll_wait(ep.as_raw_fd(), evs.as_mut_ptr(), 4, -1) };
                }
            }
        },
    );
    summarise(lat, cpu)
}

fn poller_endpoint(nic: &Nic, spin: Duration) -> Lat {
    let (prod, cons) = device_pair(nic);
    let mut p = Poller::new().unwrap().with_spin(spin);
    p.add_endpoint(&cons, Token(0)).unwrap();
    let (lat, cpu) = paced(
        |i| prod.indicate(G, i as u32).unwrap(),
        |took| {
            let mut next = 0;
            let mut ready = Vec::new();
            while next < LAT_EVENTS {
                p.wait(&mut ready, None).unwrap();
                take(&cons, &mut next, took);
            }
        },
    );
    summarise(lat, cpu)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn tokio_eventfd() -> Lat {
    let rt = runtime();
    let efd = EventFd::new();
    let raw = efd.as_raw_fd();
    let (lat, cpu) = paced(
        |_| efd.signal(),
        |took| {
            rt.block_on(async {
                // SAFETY: the eventfd outlives the AsyncFd (dropped at the end of this block).
                let afd = unsafe {
                    tokio::io::unix::AsyncFd::register_with_interest(
                        raw,
                        tokio::io::Interest::READABLE,
                    )
                }
                .unwrap();
                let mut next = 0;
                while next < LAT_EVENTS {
                    let mut g = afd.readable().await.unwrap();
                    let n = efd.read();
                    if n == 0 {
                        g.clear_ready();
                    }
                    for _ in 0..n {
                        took(next);
                        next += 1;
                    }
                }
            })
        },
    );
    summarise(lat, cpu)
}

fn async_endpoint(nic: &Nic) -> Lat {
    let rt = runtime();
    let (prod, cons) = device_pair(nic);
    let (lat, cpu) = paced(
        |i| prod.indicate(G, i as u32).unwrap(),
        |took| {
            rt.block_on(async {
                let a = AsyncEndpoint::new(cons).unwrap();
                let mut next = 0;
                while next < LAT_EVENTS {
                    let e = a.recv().await.unwrap();
                    if e.event_type() == Some(EventType::Indication) {
                        took(e.payload() as usize);
                        next += 1;
                    }
                }
            })
        },
    );
    summarise(lat, cpu)
}

fn latency_table() {
    let spin = evnic::config::default_spin().unwrap_or(evnic::DEFAULT_SPIN);
    println!(
        "\n## Wake-up latency and CPU per event ({LAT_EVENTS} events, one every {} µs)\n",
        PACE.as_micros()
    );
    println!("| source | loop | median µs | p99 µs | CPU µs per event | median vs baseline | CPU vs baseline |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let row = |src: &str, name: &str, l: &Lat, base: &Lat| {
        println!(
            "| {src} | {name} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
            l.median_us,
            l.p99_us,
            l.cpu_us_per_event,
            l.median_us / base.median_us,
            l.cpu_us_per_event / base.cpu_us_per_event
        )
    };
    let base = hand_epoll_eventfd();
    row(
        "eventfd",
        "hand-written epoll loop (baseline)",
        &base,
        &base,
    );
    row(
        "eventfd",
        "Poller, spin 0",
        &poller_eventfd(Duration::ZERO),
        &base,
    );
    let s = poller_eventfd(spin);
    row(
        "eventfd",
        &format!("Poller, spin {} µs", spin.as_micros()),
        &s,
        &base,
    );

    let nic = Nic::open(evnic::DeviceSpec::Sim).expect("simulated device");
    let base = hand_epoll_endpoint(&nic);
    row(
        "endpoint (sim)",
        "hand-written epoll loop with arm (baseline)",
        &base,
        &base,
    );
    row(
        "endpoint (sim)",
        "Poller, spin 0",
        &poller_endpoint(&nic, Duration::ZERO),
        &base,
    );
    let s = poller_endpoint(&nic, spin);
    row(
        "endpoint (sim)",
        &format!("Poller, spin {} µs", spin.as_micros()),
        &s,
        &base,
    );

    let base = tokio_eventfd();
    row("eventfd", "tokio AsyncFd (baseline)", &base, &base);
    row(
        "endpoint (sim)",
        "AsyncEndpoint::recv",
        &async_endpoint(&nic),
        &base,
    );
}

/// Interrupts and primes of a Poller's endpoint over 10,000 events, and the events the device
/// reported lost (OVERFLOW) on the way: a run with losses is not comparable and says so.
fn interrupts(nic: &Nic, load: Load, spin: Duration) -> (u64, u64, u64) {
    const EVENTS: u32 = 10_000;
    let cfg = EndpointConfig::default().with_ring_events(8192);
    let prod = nic.endpoint(cfg.clone().with_ring_events(16)).unwrap();
    prod.register_producer(G).unwrap();
    let cons = nic.endpoint(cfg).unwrap();
    cons.subscribe(G).unwrap();
    let mut p = Poller::new().unwrap().with_spin(spin);
    p.add_endpoint(&cons, Token(0)).unwrap();
    let mut lost = 0u64;
    std::thread::scope(|s| {
        s.spawn(|| load.drive(EVENTS, |i| prod.indicate(G, i).unwrap()));
        let mut got = 0u64;
        let mut ready = Vec::new();
        while got < u64::from(EVENTS) {
            let n = p.wait(&mut ready, Some(Duration::from_secs(30))).unwrap();
            assert!(n > 0, "the device stopped delivering");
            while let Some(e) = cons.poll() {
                match e.event_type() {
                    Some(EventType::Indication) => got += 1,
                    Some(EventType::Overflow) => {
                        got += u64::from(e.payload());
                        lost += u64::from(e.payload());
                    }
                    _ => {}
                }
            }
        }
    });
    let c = cons.counters();
    (c.interrupts, c.primes, lost)
}

fn interrupt_table() {
    let spin = evnic::config::default_spin().unwrap_or(evnic::DEFAULT_SPIN);
    println!("\n## Poller: interrupts per 10,000 events\n");
    println!("| load | policy | interrupts | primes | events lost (OVERFLOW) |");
    println!("|---|---|---:|---:|---:|");
    let nic = Nic::open(evnic::DeviceSpec::Sim).expect("simulated device");
    for load in [Load::Bursty, Load::Steady(20), Load::Steady(200)] {
        let lname = load.name();
        for (pname, s) in [
            (format!("wait policy (spin {} µs)", spin.as_micros()), spin),
            ("always arm (spin 0)".to_string(), Duration::ZERO),
        ] {
            let (irq, primes, lost) = interrupts(&nic, load, s);
            println!("| {lname} | {pname} | {irq} | {primes} | {lost} |");
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing else is understood.
    syscall_table();
    latency_table();
    interrupt_table();
}
