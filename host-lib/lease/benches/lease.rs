//! The lease lock against `std::sync::Mutex` and a plain futex lock (`cargo bench -p
//! evnic-lease --bench lease`).
//!
//! 1. Uncontended: ns per acquire + release, one thread; futex calls per pair.
//! 2. Contended: 2 and 4 threads taking the lock in a loop around a non-atomic increment;
//!    ns per acquisition (wall time / all acquisitions) and futex calls per acquisition.
//! 3. Recovery after the holder is killed (SIGKILL, another process): from `kill` to the
//!    waiting process holding the lock, for the lease lock (liveness interval 1 ms, the
//!    default, and 100 µs) and for a robust, process-shared pthread mutex (the kernel releases
//!    it at the owner's exit through the robust futex list).
//!
//! The lease lock lives in a memfd mapping (as between processes); the plain futex lock uses
//! the same shared (not `_PRIVATE`) futex operations; `std::sync::Mutex` is private to the
//! process. Figures depend on the machine and its load (2 cores shared here); compare the
//! ratios, measured in the same run. Prints Markdown tables.

use evnic_lease::{PartyOptions, Priority, SharedLock};
use std::cell::UnsafeCell;
use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

const LEASE: Duration = Duration::from_secs(10);
const ROLE: &str = "EVNIC_LEASE_BENCH_ROLE";
const LOCK: &str = "EVNIC_LEASE_BENCH_LOCK";

/// Drepper's three-state futex mutex (0 free, 1 held, 2 held with waiters), with the shared
/// futex operations and a count of its futex calls.
#[derive(Default)]
struct FutexLock {
    state: AtomicU32,
    futex_calls: AtomicU64,
}

impl FutexLock {
    fn lock(&self) {
        if self.state.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
            return;
        }
        while self.state.swap(2, Acquire) != 0 {
            self.futex_calls.fetch_add(1, Relaxed);
            // SAFETY: a futex wait on our own word while it holds 2.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    &self.state as *const AtomicU32,
                    libc::FUTEX_WAIT,
                    2u32,
                    std::ptr::null::<libc::timespec>(),
                );
            }
        }
    }

    fn unlock(&self) {
        if self.state.swap(0, Release) == 2 {
            self.futex_calls.fetch_add(1, Relaxed);
            // SAFETY: wakes one waiter of our own word.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    &self.state as *const AtomicU32,
                    libc::FUTEX_WAKE,
                    1u32,
                )
            };
        }
    }
}

/// A counter incremented without atomics, under whichever lock is being measured.
struct Unguarded(UnsafeCell<u64>);
// SAFETY: only touched under a lock.
unsafe impl Sync for Unguarded {}

impl Unguarded {
    fn bump(&self, yield_inside: bool) {
        // SAFETY: under the lock being measured.
        unsafe {
            let v = std::ptr::read_volatile(self.0.get());
            if yield_inside {
                std::thread::yield_now();
            }
            std::ptr::write_volatile(self.0.get(), v + 1);
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Lease,
    Std,
    Futex,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Lease => "lease lock",
            Kind::Std => "std::sync::Mutex",
            Kind::Futex => "plain futex lock",
        }
    }
}

struct Run {
    ns_per_op: f64,
    futex_per_op: Option<f64>,
}

/// `threads` threads each take the lock `per_thread` times around an increment (and, with
/// `yield_inside`, a `sched_yield` while holding it, so that the others find it held).
fn run(kind: Kind, threads: usize, per_thread: u64, yield_inside: bool) -> Run {
    let shared = SharedLock::create_memfd("bench", 0).unwrap();
    let std_lock = Mutex::new(());
    let futex = FutexLock::default();
    let counter = Unguarded(UnsafeCell::new(0));
    let barrier = Barrier::new(threads);
    let futex_calls = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut party = shared.party().unwrap();
                barrier.wait();
                for _ in 0..per_thread {
                    match kind {
                        Kind::Lease => {
                            let lease = party.acquire(LEASE, Priority::LOWEST).unwrap();
                            counter.bump(yield_inside);
                            drop(black_box(lease));
                        }
                        Kind::Std => {
                            let g = std_lock.lock().unwrap();
                            counter.bump(yield_inside);
                            drop(black_box(g));
                        }
                        Kind::Futex => {
                            futex.lock();
                            counter.bump(yield_inside);
                            futex.unlock();
                        }
                    }
                }
                let st = party.stats();
                futex_calls.fetch_add(st.futex_waits + st.futex_wakes, Relaxed);
            });
        }
    });
    let wall = start.elapsed();
    let ops = threads as u64 * per_thread;
    assert_eq!(
        unsafe { *counter.0.get() },
        ops,
        "{} lost increments",
        kind.name()
    );
    let futex_per_op = match kind {
        Kind::Lease => Some(futex_calls.load(Relaxed) as f64 / ops as f64),
        Kind::Futex => Some(futex.futex_calls.load(Relaxed) as f64 / ops as f64),
        Kind::Std => None,
    };
    Run {
        ns_per_op: wall.as_nanos() as f64 / ops as f64,
        futex_per_op,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn contention_table() {
    const KINDS: [Kind; 3] = [Kind::Lease, Kind::Std, Kind::Futex];
    // (threads, acquisitions per thread, yield inside)
    let configs = [
        (1usize, 2_000_000u64, false),
        (2, 1_000_000, false),
        (4, 500_000, false),
        (2, 5_000, true),
        (4, 2_500, true),
    ];
    // results[config][kind] = (ns per acquisition, futex calls per acquisition)
    let results: Vec<Vec<(f64, Option<f64>)>> = configs
        .iter()
        .map(|&(threads, per_thread, yield_inside)| {
            KINDS
                .iter()
                .map(|&kind| {
                    let runs: Vec<Run> = (0..3)
                        .map(|_| run(kind, threads, per_thread, yield_inside))
                        .collect();
                    let ns = median(runs.iter().map(|r| r.ns_per_op).collect());
                    let calls = runs[0]
                        .futex_per_op
                        .map(|_| median(runs.iter().map(|r| r.futex_per_op.unwrap()).collect()));
                    (ns, calls)
                })
                .collect()
        })
        .collect();
    println!("## Lease lock: acquire + release, ns per acquisition (median of 3 runs)\n");
    println!(
        "Hammering: each thread takes the lock in a loop around an increment. Handoff: the holder"
    );
    println!("also yields the CPU (`sched_yield`) while holding it, so the others find it held and sleep.\n");
    println!("| lock | 1 thread (uncontended) | 2 threads | 4 threads | 2 threads, handoff | 4 threads, handoff | futex calls per acquisition (each column) |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (k, kind) in KINDS.iter().enumerate() {
        let ns: Vec<String> = results.iter().map(|r| format!("{:.1}", r[k].0)).collect();
        let calls: Vec<String> = results
            .iter()
            .map(|r| r[k].1.map_or("-".into(), |c| format!("{c:.3}")))
            .collect();
        println!(
            "| {} | {} | {} |",
            kind.name(),
            ns.join(" | "),
            calls.join(", ")
        );
    }
    let clock = |id| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let t = Instant::now();
        for _ in 0..1_000_000 {
            // SAFETY: a valid timespec.
            unsafe { libc::clock_gettime(id, &mut ts) };
            black_box(&ts);
        }
        t.elapsed().as_nanos() as f64 / 1e6
    };
    println!(
        "\nThe deadline's clock read, on this machine: CLOCK_MONOTONIC {:.1} ns, CLOCK_MONOTONIC_COARSE {:.1} ns.",
        clock(libc::CLOCK_MONOTONIC),
        clock(libc::CLOCK_MONOTONIC_COARSE)
    );
    println!("\nRatios of time per acquisition (same run):\n");
    println!(
        "| ratio | 1 thread | 2 threads | 4 threads | 2 threads, handoff | 4 threads, handoff |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (a, b) in [(0, 1), (0, 2)] {
        let ratios: Vec<String> = results
            .iter()
            .map(|r| format!("{:.2}", r[a].0 / r[b].0))
            .collect();
        println!(
            "| {} / {} | {} |",
            KINDS[a].name(),
            KINDS[b].name(),
            ratios.join(" | ")
        );
    }
    println!();
}

/// The holder's side of the recovery bench (a child process).
fn child(role: &str) -> ! {
    let lock = SharedLock::open(Path::new(&std::env::var(LOCK).unwrap())).unwrap();
    let data = lock.data().as_ptr();
    // SAFETY: the data page holds the robust mutex at 0 and the "holding" flag at 64.
    let holding = unsafe { &*(data.add(64) as *const AtomicU32) };
    let mut party = lock.party().unwrap();
    let _lease;
    match role {
        "lease" => {
            _lease = party
                .acquire(Duration::from_secs(3600), Priority::LOWEST)
                .unwrap()
        }
        "robust" => {
            // SAFETY: a process-shared robust mutex initialized by the parent.
            let r = unsafe { libc::pthread_mutex_lock(data as *mut libc::pthread_mutex_t) };
            assert_eq!(r, 0);
        }
        other => panic!("unknown role {other}"),
    }
    holding.store(1, SeqCst);
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[derive(Clone, Copy)]
enum Recovery {
    Lease(Duration),
    Robust,
}

/// One kill: the time from `kill` to the waiter holding the lock.
fn recover_once(how: Recovery) -> Duration {
    let lock = SharedLock::create_memfd("recovery", 4096).unwrap();
    let data = lock.data().as_ptr();
    let mutex = data as *mut libc::pthread_mutex_t;
    // SAFETY: the data page is ours and zeroed; the flag sits at 64, past the mutex.
    let holding = unsafe { &*(data.add(64) as *const AtomicU32) };
    if let Recovery::Robust = how {
        // SAFETY: initializes a process-shared robust mutex in the shared page.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
            assert_eq!(libc::pthread_mutex_init(mutex, &attr), 0);
        }
    }
    let role = match how {
        Recovery::Lease(_) => "lease",
        Recovery::Robust => "robust",
    };
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .env(
            LOCK,
            format!("/proc/{}/fd/{}", std::process::id(), lock.fd().as_raw_fd()),
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    while holding.load(SeqCst) == 0 {
        std::thread::sleep(Duration::from_micros(100));
    }
    let mutex_addr = mutex as usize;
    let asleep = AtomicU32::new(0);
    let took = std::thread::scope(|s| {
        let waiter = s.spawn(|| match how {
            Recovery::Lease(interval) => {
                let mut party = lock
                    .party_with(PartyOptions::default().with_liveness_interval(interval))
                    .unwrap();
                let lease = party.acquire(LEASE, Priority::LOWEST).unwrap();
                let t = Instant::now();
                assert!(lease.needs_repair());
                t
            }
            Recovery::Robust => {
                asleep.store(1, SeqCst);
                // SAFETY: the shared robust mutex; EOWNERDEAD hands it over.
                let r =
                    unsafe { libc::pthread_mutex_lock(mutex_addr as *mut libc::pthread_mutex_t) };
                let t = Instant::now();
                assert_eq!(r, libc::EOWNERDEAD);
                // SAFETY: we own it now.
                unsafe {
                    libc::pthread_mutex_consistent(mutex_addr as *mut libc::pthread_mutex_t);
                    libc::pthread_mutex_unlock(mutex_addr as *mut libc::pthread_mutex_t);
                }
                t
            }
        });
        // Let the waiter fall asleep in the kernel.
        match how {
            Recovery::Lease(_) => {
                while !lock.snapshot().waiters {
                    std::thread::yield_now();
                }
            }
            Recovery::Robust => {
                while asleep.load(SeqCst) == 0 {
                    std::thread::yield_now();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(3));
        let killed = Instant::now();
        holder.kill().unwrap();
        let took = waiter.join().unwrap() - killed;
        holder.wait().unwrap();
        took
    });
    took
}

fn recovery_table() {
    const KILLS: usize = 15;
    println!("## Recovery after the holder is killed (SIGKILL to another process), µs from kill to holding, {KILLS} kills each\n");
    println!("| lock | median | max | median / robust mutex's |");
    println!("| --- | --- | --- | --- |");
    let sample = |how| {
        let mut v: Vec<f64> = (0..KILLS)
            .map(|_| recover_once(how).as_secs_f64() * 1e6)
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (v[KILLS / 2], v[KILLS - 1])
    };
    let robust = sample(Recovery::Robust);
    for (name, how) in [
        (
            "lease lock, liveness interval 1 ms (default)",
            Recovery::Lease(Duration::from_millis(1)),
        ),
        (
            "lease lock, liveness interval 100 µs",
            Recovery::Lease(Duration::from_micros(100)),
        ),
    ] {
        let (med, max) = sample(how);
        println!("| {name} | {med:.0} | {max:.0} | {:.2} |", med / robust.0);
    }
    println!(
        "| robust process-shared pthread mutex | {:.0} | {:.0} | 1.00 |",
        robust.0, robust.1
    );
    println!();
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        child(&role);
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    contention_table();
    recovery_table();
}
