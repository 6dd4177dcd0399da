//! Processes sharing one lease lock in a memfd: no system call when uncontended, recovery from
//! killed holders, termination of an overstaying process, and a stress run with kills.
//!
//! The child processes are this test binary again, running the ignored test `child` with the
//! role in `EVNIC_LEASE_ROLE`; they open the parent's memfd through `/proc/PID/fd/N`, so the
//! lock lies at another address in each process.
#![cfg(not(loom))]

use evnic_lease::{Acquired, Error, Party, Priority, SharedLock, Terminated, MAX_PARTIES};
use std::cell::UnsafeCell;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(600);
const ROLE: &str = "EVNIC_LEASE_ROLE";
const LOCK: &str = "EVNIC_LEASE_LOCK";
const INDEX: &str = "EVNIC_LEASE_INDEX";
const CHILDREN: usize = 16;

/// The guarded state and the test's bookkeeping, in the data after the lock.
#[repr(C)]
struct Data {
    /// Guarded: incremented without atomics.
    count: UnsafeCell<u64>,
    /// Guarded: 1 while an update is half done.
    dirty: UnsafeCell<u64>,
    /// Guarded: each child's completed increments.
    done: [UnsafeCell<u64>; CHILDREN],
    /// A child sets its entry once it holds the lock (and then waits to be killed).
    holding: [AtomicU64; CHILDREN],
    /// A child's result, written before it exits.
    result: [AtomicU64; CHILDREN],
    /// Hammers stop when this is set; an overstaying holder checks its lease then.
    stop: AtomicU64,
    /// Acquisitions that found `dirty` set without the repair flag: must stay 0.
    violations: AtomicU64,
    /// Acquisitions that found the repair flag.
    repairs: AtomicU64,
}

fn data(lock: &SharedLock) -> &Data {
    assert!(lock.data_len() >= std::mem::size_of::<Data>());
    // SAFETY: zeroed shared memory is a valid Data; the guarded cells are used under leases.
    unsafe { &*(lock.data().as_ptr() as *const Data) }
}

fn get(c: &UnsafeCell<u64>) -> u64 {
    // SAFETY: called under a lease (or when no child is left).
    unsafe { std::ptr::read_volatile(c.get()) }
}

fn set(c: &UnsafeCell<u64>, v: u64) {
    // SAFETY: as in `get`.
    unsafe { std::ptr::write_volatile(c.get(), v) }
}

/// Puts the guarded state right: the count is the sum of the completed increments.
fn repair(d: &Data) {
    set(&d.count, d.done.iter().map(get).sum());
    set(&d.dirty, 0);
}

fn new_lock(name: &str) -> SharedLock {
    SharedLock::create_memfd(name, 4096).unwrap()
}

fn spawn(role: &str, lock: &SharedLock, index: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(
            LOCK,
            format!("/proc/{}/fd/{}", std::process::id(), lock.fd().as_raw_fd()),
        )
        .env(INDEX, index.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_holding(d: &Data, index: usize, child: &mut Child) {
    let t = Instant::now();
    while d.holding[index].load(SeqCst) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "child {index} exited early"
        );
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "child {index} never held the lock"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The child processes' entry: does nothing when run on its own.
#[test]
#[ignore = "the child process of the other tests"]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let lock = SharedLock::open(Path::new(&std::env::var(LOCK).unwrap())).unwrap();
    let index: usize = std::env::var(INDEX).unwrap().parse().unwrap();
    let d = data(&lock);
    let mut party = lock.party().unwrap();
    match role.as_str() {
        // Takes the lock, half-writes the state and waits to be killed.
        "hold" => {
            let _lease = party.acquire(LONG, Priority::LOWEST).unwrap();
            set(&d.dirty, 1);
            set(&d.count, get(&d.count) + 1);
            d.holding[index].store(1, SeqCst);
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Increments the count under the lock until told to stop.
        "hammer" => {
            let mut rounds = 0;
            while d.stop.load(SeqCst) == 0 {
                let mut lease = party.acquire(LONG, Priority::LOWEST).unwrap();
                if lease.needs_repair() {
                    d.repairs.fetch_add(1, SeqCst);
                    repair(d);
                    lease.repaired();
                } else if get(&d.dirty) != 0 {
                    d.violations.fetch_add(1, SeqCst);
                }
                set(&d.dirty, 1);
                let c = get(&d.count);
                for _ in 0..20 {
                    std::hint::spin_loop();
                }
                set(&d.count, c + 1);
                set(&d.done[index], get(&d.done[index]) + 1);
                set(&d.dirty, 0);
                lease.release().unwrap();
                rounds += 1;
            }
            d.result[index].store(rounds, SeqCst);
        }
        // Holds a 30 ms lease, alive, until the parent says it took the lock (`stop`), then
        // reports what its lease says.
        "overstay" => {
            let lease = party
                .acquire(Duration::from_millis(30), Priority::new(1).unwrap())
                .unwrap();
            d.holding[index].store(1, SeqCst);
            let t = Instant::now();
            while d.stop.load(SeqCst) == 0 && t.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut r = 0;
            if lease.check() == Err(Terminated) {
                r |= 1;
            }
            if lease.release() == Err(Terminated) {
                r |= 2;
            }
            d.result[index].store(r, SeqCst);
        }
        other => panic!("unknown role {other}"),
    }
    drop(party);
    std::process::exit(0);
}

#[test]
fn a_killed_holder_is_recovered_with_the_state_marked() {
    let lock = new_lock("killed");
    let d = data(&lock);
    let mut holder = spawn("hold", &lock, 0);
    wait_holding(d, 0, &mut holder);
    let held_by = lock.snapshot().holder.unwrap();
    assert_eq!(held_by.pid, holder.id());
    holder.kill().unwrap(); // SIGKILL; not reaped yet: a zombie holds the lock
    let mut party = lock.party().unwrap();
    let mut lease = party
        .acquire_timeout(LONG, Priority::LOWEST, Duration::from_secs(20))
        .unwrap();
    assert_eq!(lease.acquired(), Acquired::FromDead);
    assert!(lease.needs_repair());
    assert_eq!(get(&d.dirty), 1, "the holder died half way");
    assert_eq!(lock.snapshot().recoveries, 1);
    repair(d);
    lease.repaired();
    drop(lease);
    assert!(!holder.wait().unwrap().success());
    let lease = party.acquire(LONG, Priority::LOWEST).unwrap();
    assert_eq!(lease.acquired(), Acquired::Free);
    assert!(!lease.needs_repair());
}

#[test]
fn a_dead_processs_slot_is_reclaimed_and_its_lock_freed() {
    let lock = new_lock("reclaim");
    let d = data(&lock);
    let mut holder = spawn("hold", &lock, 0);
    wait_holding(d, 0, &mut holder);
    let dead_slot = lock.snapshot().holder.unwrap().slot;
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Every other slot goes to a live party; the next one takes the dead process's slot.
    let mut parties: Vec<Party<'_>> = (1..MAX_PARTIES).map(|_| lock.party().unwrap()).collect();
    let last = lock.party().unwrap();
    assert_eq!(last.slot(), dead_slot);
    let snap = lock.snapshot();
    assert!(snap.holder.is_none() && snap.needs_repair && snap.recoveries == 1);
    drop(last);
    let lease = parties[0].try_acquire(LONG, Priority::LOWEST).unwrap();
    assert_eq!(lease.acquired(), Acquired::Free);
    assert!(lease.needs_repair());
    drop(lease);
    assert!(lock.party().is_ok());
}

#[test]
fn an_overstaying_process_is_terminated_by_a_higher_priority() {
    let lock = new_lock("overstay");
    let d = data(&lock);
    let mut holder = spawn("overstay", &lock, 0);
    wait_holding(d, 0, &mut holder);
    let mut party = lock.party().unwrap();
    let slot = party.slot();
    let lease = party
        .acquire_timeout(LONG, Priority::new(5).unwrap(), Duration::from_secs(20))
        .unwrap();
    assert_eq!(lease.acquired(), Acquired::FromExpired);
    assert!(lease.needs_repair());
    // The old holder is alive and still thinks it holds the lock until it checks.
    d.stop.store(1, SeqCst);
    assert!(holder.wait().unwrap().success());
    assert_eq!(
        d.result[0].load(SeqCst),
        3,
        "the old holder's check and release must both fail"
    );
    lease.check().unwrap();
    assert_eq!(lock.snapshot().holder.unwrap().slot, slot);
    assert_eq!(lock.snapshot().terminations, 1);
}

#[test]
fn processes_hammering_one_lock_stay_consistent_through_kills() {
    const HAMMERS: usize = 4;
    const VICTIMS: usize = 3;
    let lock = new_lock("stress");
    let d = data(&lock);
    let mut hammers: Vec<Child> = (0..HAMMERS).map(|i| spawn("hammer", &lock, i)).collect();
    let mut seed = Instant::now().elapsed().subsec_nanos() as u64 | 1;
    let mut random = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut killed = [false; HAMMERS];
    std::thread::sleep(Duration::from_millis(30));
    for v in 0..VICTIMS {
        let index = HAMMERS + v;
        let mut victim = spawn("hold", &lock, index);
        wait_holding(d, index, &mut victim);
        victim.kill().unwrap();
        victim.wait().unwrap();
        // And a hammer, at a random moment: holding the lock or not.
        if v < 2 {
            std::thread::sleep(Duration::from_micros(random(5_000)));
            hammers[v].kill().unwrap();
            killed[v] = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    d.stop.store(1, SeqCst);
    for (i, h) in hammers.iter_mut().enumerate() {
        let status = h.wait().unwrap();
        assert_eq!(status.success(), !killed[i], "hammer {i}: {status}");
    }
    let mut party = lock.party().unwrap();
    let mut lease = party
        .acquire_timeout(LONG, Priority::LOWEST, Duration::from_secs(20))
        .unwrap();
    if lease.needs_repair() {
        d.repairs.fetch_add(1, SeqCst);
        repair(d);
        lease.repaired();
    }
    let snap = lock.snapshot();
    let done: Vec<u64> = d.done.iter().map(get).collect();
    eprintln!(
        "stress: done {:?}, repairs {}, recoveries {}",
        &done[..HAMMERS],
        d.repairs.load(SeqCst),
        snap.recoveries
    );
    assert_eq!(
        d.violations.load(SeqCst),
        0,
        "a holder found the state half-written unflagged"
    );
    assert_eq!(get(&d.count), done.iter().sum::<u64>());
    assert_eq!(get(&d.dirty), 0);
    for i in (0..HAMMERS).filter(|i| !killed[*i]) {
        assert_eq!(done[i], d.result[i].load(SeqCst), "hammer {i}'s tally");
        assert!(done[i] > 0);
    }
    // Every victim died holding the lock; a killed hammer may have.
    assert!(snap.recoveries >= VICTIMS as u64 && snap.recoveries <= (VICTIMS + 2) as u64);
    let repairs = d.repairs.load(SeqCst);
    assert!(
        repairs >= 1 && repairs <= snap.recoveries,
        "repairs {repairs}"
    );
    assert_eq!(snap.terminations, 0);
}

/// Allows `exit_group` and kills the process on any other system call.
fn forbid_system_calls() {
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xc000_00b7;
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let stmt = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k, jt, jf| libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    };
    let filter = [
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        jeq(ARCH, 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
        jeq(libc::SYS_exit_group as u32, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: a valid filter program; it applies to this (forked) process only.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog),
            0
        );
    }
}

/// Runs `body` in a forked child under `forbid_system_calls`; returns its wait status.
fn without_system_calls(
    lock: &SharedLock,
    body: for<'p> fn(&mut Party<'p>, &mut Party<'p>),
) -> i32 {
    // SAFETY: the child makes its parties (reading /proc), installs the filter, runs lock
    // operations and exits; it touches no lock another thread of this process may hold.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let mut a = lock.party().unwrap();
        let mut b = lock.party().unwrap();
        forbid_system_calls();
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut a, &mut b)));
        // SAFETY: exit_group, the one system call allowed.
        unsafe { libc::_exit(if ok.is_ok() { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    status
}

#[test]
fn uncontended_leases_make_no_system_call() {
    let lock = new_lock("syscalls");
    // 100,000 rounds of acquire, check, renew and release, alternating two parties (so both
    // the one-swap path and the retry after another party's use run), under a filter that kills the process at its first system call.
    let status = without_system_calls(&lock, |a, b| {
        for _ in 0..50_000 {
            for party in [&mut *a, &mut *b] {
                let mut lease = party.acquire(LONG, Priority::LOWEST).unwrap();
                lease.check().unwrap();
                lease.renew(LONG).unwrap();
                lease.release().unwrap();
            }
        }
        // A lock held by a live party: try_acquire says so without a system call.
        let _held = a.acquire(LONG, Priority::LOWEST).unwrap();
        assert!(matches!(
            b.try_acquire(LONG, Priority::LOWEST),
            Err(Error::WouldBlock)
        ));
    });
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status:#x} (signal {})",
        libc::WTERMSIG(status)
    );
    // The filter does catch system calls: waiting for a held lock sleeps on the futex.
    let status = without_system_calls(&lock, |a, b| {
        let _held = a.acquire(LONG, Priority::LOWEST).unwrap();
        let _ = b.acquire_timeout(LONG, Priority::LOWEST, Duration::from_millis(1));
    });
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS,
        "status {status:#x}"
    );
}
