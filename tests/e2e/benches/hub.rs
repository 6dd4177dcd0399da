//! Event latency and throughput between two processes through `evnic hub`, against the same
//! between two threads of one process that owns the device, and against the plain ways two
//! processes pass a word, all measured in the same run:
//!
//! - evnic: a ping-pong of indications (A indicates into group 1, B spins on its queue and
//!   indicates the payload back into group 2, A spins until it has it;
//!   [`evnic_e2e::pingpong`]), on the simulated device. The median round trip in host time and
//!   in device cycles (between the timestamps of consecutive answers), and round trips per
//!   second with 1 and with 4 indications outstanding.
//! - the alternatives, between a forked child and this process, the same ping-pong of a 32-bit
//!   word: a pipe pair, a Unix datagram socket pair, an eventfd pair with the word in shared
//!   memory (each side sleeps in `read` on its eventfd), and shared memory with both sides
//!   spinning (no system call, as evnic's spinning clients).
//!
//! Host times depend on the machine and its load, so the tables give ratios; on the simulated
//! device its speed dominates the evnic rows (device cycles are the device's own figure).
//!
//! Run: `cargo build --release -p evnic-cli && cargo bench -p evnic-e2e --bench hub`.

use evnic::{DeviceSpec, Endpoint, EndpointConfig, Group, Nic};
use evnic_e2e::hub::{Client, Hub};
use evnic_e2e::pingpong::{self, Figures};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const ROUND_TRIPS: u32 = 2000;
/// Indications outstanding in the throughput run: with their answers at most 8, the depth of
/// the device's indication queue, so none can overrun it.
const WINDOW: u32 = 4;

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

/// The ping-pong between two threads of this process.
fn threads(nic: &Nic, window: u32) -> Figures {
    let (a, b) = pair(nic);
    std::thread::scope(|s| {
        s.spawn(|| pingpong::pong(&b, Group(2), ROUND_TRIPS));
        pingpong::ping(&a, Group(1), ROUND_TRIPS, window)
    })
}

/// The ping-pong between two client processes of a hub.
fn processes(hub: &Hub, window: u32) -> Figures {
    let (n, w) = (ROUND_TRIPS.to_string(), window.to_string());
    let mut pong = Client::start(&hub.socket, &["pong", "1", "2", &n]);
    pong.expect("ready");
    let mut ping = Client::start(&hub.socket, &["ping", "2", "1", &n, &w]);
    ping.expect("ready");
    ping.send("go");
    let f = ping.expect("figures");
    let mut f = f.split_whitespace();
    let mut next = || f.next().expect("three figures").to_string();
    let figures = Figures {
        rtt_ns: next().parse().unwrap(),
        rtt_cycles: next().parse().unwrap(),
        per_s: next().parse().unwrap(),
    };
    assert!(ping.finish() && pong.finish());
    figures
}

/// Two one-way channels between this process and a forked child.
trait Channel {
    /// Sends `v` from side `side` (0 = this process, 1 = the child) to the other.
    fn send(&self, side: usize, v: u32);
    /// Takes the next word sent to side `side`.
    fn recv(&self, side: usize) -> u32;
}

fn check(r: isize, what: &str) {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
}

/// A pipe each way.
struct Pipes([[i32; 2]; 2]);

impl Pipes {
    fn new() -> Pipes {
        let mut p = [[0; 2]; 2];
        for fds in &mut p {
            // SAFETY: a valid array of two descriptors.
            check(unsafe { libc::pipe(fds.as_mut_ptr()) } as isize, "pipe");
        }
        Pipes(p)
    }
}

impl Channel for Pipes {
    fn send(&self, side: usize, v: u32) {
        // SAFETY: 4 bytes from a live u32 to the write end of the pipe towards the other side.
        check(
            unsafe { libc::write(self.0[side][1], (&v as *const u32).cast(), 4) },
            "write",
        );
    }
    fn recv(&self, side: usize) -> u32 {
        let mut v = 0u32;
        // SAFETY: 4 bytes into a live u32 from the read end of the pipe towards this side.
        check(
            unsafe { libc::read(self.0[1 - side][0], (&mut v as *mut u32).cast(), 4) },
            "read",
        );
        v
    }
}

/// A Unix datagram socket pair.
struct Datagrams([i32; 2]);

impl Datagrams {
    fn new() -> Datagrams {
        let mut fds = [0; 2];
        // SAFETY: a valid array of two descriptors.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, fds.as_mut_ptr()) };
        check(r as isize, "socketpair");
        Datagrams(fds)
    }
}

impl Channel for Datagrams {
    fn send(&self, side: usize, v: u32) {
        // SAFETY: 4 bytes from a live u32 on this side's socket.
        check(
            unsafe { libc::send(self.0[side], (&v as *const u32).cast(), 4, 0) },
            "send",
        );
    }
    fn recv(&self, side: usize) -> u32 {
        let mut v = 0u32;
        // SAFETY: 4 bytes into a live u32 from this side's socket.
        check(
            unsafe { libc::recv(self.0[side], (&mut v as *mut u32).cast(), 4, 0) },
            "recv",
        );
        v
    }
}

/// Shared memory (one word per direction with a sequence number), and optionally an eventfd
/// per direction that the receiver sleeps on.
struct Shared {
    slots: &'static [AtomicU64; 2],
    seen: [AtomicU64; 2],
    eventfds: Option<[i32; 2]>,
}

impl Shared {
    fn new(eventfds: bool) -> Shared {
        // SAFETY: a new shared anonymous mapping, kept for the process' life (and the child's).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap");
        let eventfds = eventfds.then(|| {
            // SAFETY: eventfd returns a new descriptor or -1.
            let e = || unsafe { libc::eventfd(0, 0) };
            let fds = [e(), e()];
            check(fds[0].min(fds[1]) as isize, "eventfd");
            fds
        });
        Shared {
            // SAFETY: the mapping is zeroed, page aligned and never unmapped.
            slots: unsafe { &*(p as *const [AtomicU64; 2]) },
            seen: [AtomicU64::new(0), AtomicU64::new(0)],
            eventfds,
        }
    }
}

impl Channel for Shared {
    fn send(&self, side: usize, v: u32) {
        let to = 1 - side;
        let seq = (self.slots[to].load(Ordering::Relaxed) >> 32) + 1;
        self.slots[to].store(seq << 32 | u64::from(v), Ordering::Release);
        if let Some(fds) = self.eventfds {
            let one = 1u64;
            // SAFETY: 8 bytes from a live u64 to the receiver's eventfd.
            check(
                unsafe { libc::write(fds[to], (&one as *const u64).cast(), 8) },
                "write",
            );
        }
    }
    fn recv(&self, side: usize) -> u32 {
        let seen = self.seen[side].load(Ordering::Relaxed);
        loop {
            if let Some(fds) = self.eventfds {
                let mut n = 0u64;
                // SAFETY: 8 bytes into a live u64 from this side's eventfd.
                check(
                    unsafe { libc::read(fds[side], (&mut n as *mut u64).cast(), 8) },
                    "read",
                );
            }
            let w = self.slots[side].load(Ordering::Acquire);
            if w >> 32 != seen {
                self.seen[side].store(w >> 32, Ordering::Relaxed);
                return w as u32;
            }
            std::hint::spin_loop();
        }
    }
}

/// Median round trip of the ping-pong over `ch` between this process and a forked child, ns.
/// Runs before this process has any other thread (a fork copies only the calling thread).
fn forked(ch: &dyn Channel) -> u64 {
    // SAFETY: fork; the child only runs the loop below on memory it inherited, then _exits.
    let pid = unsafe { libc::fork() };
    check(pid as isize, "fork");
    if pid == 0 {
        for _ in 0..ROUND_TRIPS {
            let v = ch.recv(1);
            ch.send(1, v);
        }
        // SAFETY: ends the child without running this process' exit handlers.
        unsafe { libc::_exit(0) };
    }
    let mut rtt = Vec::with_capacity(ROUND_TRIPS as usize);
    for p in 0..ROUND_TRIPS {
        let t = Instant::now();
        ch.send(0, p);
        assert_eq!(ch.recv(0), p);
        rtt.push(t.elapsed().as_nanos() as u64);
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed"
    );
    rtt.sort_unstable();
    rtt[rtt.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // The alternatives first, while this process has one thread.
    let plain: Vec<(&str, u64)> = vec![
        ("pipe pair", forked(&Pipes::new())),
        ("Unix datagram socket pair", forked(&Datagrams::new())),
        (
            "eventfd pair + shared memory (both sleep in read)",
            forked(&Shared::new(true)),
        ),
        (
            "shared memory, both spinning (no system call)",
            forked(&Shared::new(false)),
        ),
    ];

    let nic = Nic::open(DeviceSpec::Sim).unwrap();
    let one = threads(&nic, 1);
    let one_w = threads(&nic, WINDOW);
    drop(nic);
    let hub = Hub::start(&[]);
    let two = processes(&hub, 1);
    let two_w = processes(&hub, WINDOW);
    // Two threads of one client process through the hub: the cost of the hub alone, without
    // a second process.
    let client = hub.nic();
    let via_hub_threads = threads(&client, 1);

    println!(
        "\nevent round trip, {ROUND_TRIPS} ping-pongs of indications, both sides spinning (median), simulated device"
    );
    println!("| path | round trip | ratio to one process | device cycles per round trip | round trips/s, {WINDOW} outstanding (ratio) |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, f: &Figures, w: Option<&Figures>| {
        let tput = w.map_or("-".to_string(), |w| {
            format!("{:.0} ({:.2})", w.per_s, w.per_s / one_w.per_s)
        });
        println!(
            "| {name} | {} ns | {:.2} | {} | {tput} |",
            f.rtt_ns,
            f.rtt_ns as f64 / one.rtt_ns as f64,
            f.rtt_cycles
        );
    };
    row(
        "two threads, one process owning the device",
        &one,
        Some(&one_w),
    );
    row("two threads of one hub client", &via_hub_threads, None);
    row("two client processes through the hub", &two, Some(&two_w));

    println!("\nthe same ping-pong of a 32-bit word between two processes, without evnic (median)");
    println!("| path | round trip | ratio to evnic through the hub |");
    println!("|---|---|---|");
    for (name, ns) in plain {
        println!(
            "| {name} | {ns} ns | {:.3} |",
            ns as f64 / two.rtt_ns as f64
        );
    }
}
