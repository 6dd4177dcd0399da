//! Threads of one process on one lock.

use crate::{Acquired, Error, LockCell, PartyOptions, Priority, SharedLock, Terminated};
use std::cell::UnsafeCell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

fn prio(level: u8) -> Priority {
    Priority::new(level).unwrap()
}

/// A counter incremented without atomics: only the lock keeps increments from being lost.
struct Unguarded(UnsafeCell<u64>);
// SAFETY: accessed only while holding the lease lock (that is what the tests check).
unsafe impl Sync for Unguarded {}

#[test]
fn threads_exclude_each_other() {
    const THREADS: usize = 4;
    const ROUNDS: u64 = 20_000;
    let cell = LockCell::new_boxed();
    let counter = &Unguarded(UnsafeCell::new(0));
    let acquired: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    let mut party = cell.party().unwrap();
                    for _ in 0..ROUNDS {
                        let lease = party.acquire(LONG, Priority::LOWEST).unwrap();
                        // SAFETY: under the lease.
                        unsafe {
                            let v = std::ptr::read_volatile(counter.0.get());
                            std::hint::spin_loop();
                            std::ptr::write_volatile(counter.0.get(), v + 1);
                        }
                        lease.release().unwrap();
                    }
                    party.stats().acquisitions
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(acquired, THREADS as u64 * ROUNDS);
    assert_eq!(unsafe { *counter.0.get() }, THREADS as u64 * ROUNDS);
    let snap = cell.snapshot();
    assert!(snap.holder.is_none() && !snap.waiters && !snap.needs_repair);
    assert_eq!((snap.terminations, snap.recoveries), (0, 0));
}

#[test]
fn uncontended_use_makes_no_futex_call() {
    let cell = LockCell::new_boxed();
    let mut a = cell.party().unwrap();
    let mut b = cell.party().unwrap();
    for _ in 0..10_000 {
        let mut lease = a.acquire(LONG, Priority::LOWEST).unwrap();
        lease.check().unwrap();
        lease.renew(LONG).unwrap();
        drop(lease);
        b.acquire(LONG, Priority::HIGHEST).unwrap();
    }
    for stats in [a.stats(), b.stats()] {
        assert_eq!((stats.futex_waits, stats.futex_wakes), (0, 0), "{stats:?}");
        assert_eq!(stats.acquisitions, 10_000);
    }
}

#[test]
fn try_acquire_and_timeout_give_up_on_a_live_holder() {
    let cell = LockCell::new_boxed();
    let mut holder = cell.party().unwrap();
    let mut other = cell.party().unwrap();
    let lease = holder.acquire(LONG, prio(3)).unwrap();
    assert!(matches!(
        other.try_acquire(LONG, Priority::HIGHEST),
        Err(Error::WouldBlock)
    ));
    let t = Instant::now();
    assert!(matches!(
        other.acquire_timeout(LONG, Priority::HIGHEST, Duration::from_millis(30)),
        Err(Error::TimedOut)
    ));
    assert!(t.elapsed() >= Duration::from_millis(30));
    lease.check().unwrap();
    drop(lease);
    let got = other.try_acquire(LONG, prio(1)).unwrap();
    assert_eq!(got.acquired(), Acquired::Free);
    assert!(!got.needs_repair());
}

#[test]
fn higher_priority_terminates_an_expired_holder() {
    terminate_an_expired_holder(PartyOptions::default());
}

fn terminate_an_expired_holder(holder_options: PartyOptions) {
    let cell = LockCell::new_boxed();
    let mut low = cell.party_with(holder_options).unwrap();
    let mut high = cell.party().unwrap();
    let high_slot = high.slot();
    let lease_time = Duration::from_millis(20);
    let start = Instant::now();
    let old = low.acquire(lease_time, prio(1)).unwrap();
    // The holder is alive (this thread) and does nothing: only its deadline lets `high` in.
    let new = high.acquire(LONG, prio(2)).unwrap();
    assert!(
        start.elapsed() >= lease_time,
        "terminated before its deadline"
    );
    assert_eq!(new.acquired(), Acquired::FromExpired);
    assert!(
        new.needs_repair(),
        "a terminated holder may have left the state half-written"
    );
    assert_eq!(old.check(), Err(Terminated));
    assert_eq!(old.release(), Err(Terminated));
    // The stale release left the new holder's lock alone.
    new.check().unwrap();
    assert_eq!(cell.snapshot().holder.unwrap().slot, high_slot);
    assert_eq!(cell.snapshot().terminations, 1);
    drop(new);
    assert_eq!(high.stats().terminations, 1);
    // Not repaired: the flag stays for the next holder, until one repairs it.
    let mut next = low.acquire(LONG, prio(1)).unwrap();
    assert!(next.needs_repair());
    next.repaired();
    drop(next);
    assert!(!low.acquire(LONG, prio(1)).unwrap().needs_repair());
}

#[test]
fn equal_or_lower_priority_waits_past_the_deadline() {
    let cell = LockCell::new_boxed();
    let mut holder = cell.party().unwrap();
    let mut peer = cell.party().unwrap();
    let lease = holder.acquire(Duration::ZERO, prio(4)).unwrap();
    for level in [4, 3, 0] {
        assert!(matches!(
            peer.acquire_timeout(LONG, prio(level), Duration::from_millis(5)),
            Err(Error::TimedOut)
        ));
    }
    assert_eq!(peer.stats().terminations, 0);
    lease.check().unwrap();
    lease.release().unwrap();
}

#[test]
fn renewing_keeps_the_holder_and_fails_once_terminated() {
    let cell = LockCell::new_boxed();
    let mut holder = cell.party().unwrap();
    let mut high = cell.party().unwrap();
    let mut lease = holder.acquire(Duration::from_millis(5), prio(0)).unwrap();
    lease.renew(LONG).unwrap();
    std::thread::sleep(Duration::from_millis(10));
    assert!(matches!(
        high.acquire_timeout(LONG, prio(7), Duration::from_millis(20)),
        Err(Error::TimedOut)
    ));
    lease.renew(Duration::ZERO).unwrap();
    let taken = high.acquire(LONG, prio(7)).unwrap();
    assert!(matches!(lease.renew(LONG), Err(Error::Terminated)));
    assert!(lease.check().is_err());
    drop(lease);
    taken.check().unwrap();
}

#[test]
fn a_lease_dropped_while_panicking_marks_the_state() {
    let cell = LockCell::new_boxed();
    std::thread::scope(|s| {
        let r = s
            .spawn(|| {
                let mut party = cell.party().unwrap();
                let _lease = party.acquire(LONG, Priority::LOWEST).unwrap();
                panic!("in the critical section");
            })
            .join();
        assert!(r.is_err());
    });
    let mut party = cell.party().unwrap();
    let lease = party.acquire(LONG, Priority::LOWEST).unwrap();
    assert_eq!(lease.acquired(), Acquired::Free);
    assert!(lease.needs_repair());
}

#[test]
fn a_leaked_lease_is_recovered_by_its_party_or_freed_with_it() {
    let cell = LockCell::new_boxed();
    let mut party = cell.party().unwrap();
    std::mem::forget(party.acquire(LONG, Priority::LOWEST).unwrap());
    let lease = party.acquire(LONG, Priority::LOWEST).unwrap();
    assert_eq!(lease.acquired(), Acquired::FromDead);
    assert!(lease.needs_repair());
    std::mem::forget(lease);
    let mut other = cell.party().unwrap();
    assert!(matches!(
        other.try_acquire(LONG, Priority::HIGHEST),
        Err(Error::WouldBlock)
    ));
    drop(party);
    let lease = other.try_acquire(LONG, Priority::LOWEST).unwrap();
    assert!(lease.needs_repair());
}

#[test]
fn sleepers_wake_by_priority_then_in_arrival_order() {
    let cell = LockCell::new_boxed();
    // Long liveness checks: only a release wakes a sleeper.
    let patient = PartyOptions::default().with_liveness_interval(Duration::from_secs(30));
    let mut holder = cell.party().unwrap();
    let lease = holder.acquire(LONG, Priority::HIGHEST).unwrap();
    let order = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for (name, level) in [("low-1", 1u8), ("high", 5), ("low-2", 1)] {
            let (cell, order) = (&cell, &order);
            let (tid_tx, tid_rx) = std::sync::mpsc::channel();
            s.spawn(move || {
                let mut party = cell.party_with(patient).unwrap();
                tid_tx.send(unsafe { libc::gettid() }).unwrap();
                let _lease = party.acquire(LONG, prio(level)).unwrap();
                order.lock().unwrap().push(name);
                std::thread::sleep(Duration::from_millis(2));
            });
            // Let it fall asleep in the kernel (blocked in futex) before the next one comes.
            let tid = tid_rx.recv().unwrap();
            let in_futex = format!("{} ", libc::SYS_futex);
            while !std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
                .unwrap()
                .starts_with(&in_futex)
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(lease);
    });
    assert_eq!(*order.lock().unwrap(), ["high", "low-1", "low-2"]);
}

#[test]
fn a_release_wakes_a_sleeper_in_another_mapping() {
    // Two mappings of one memfd (at two addresses): the futex is keyed on the page.
    let a = SharedLock::create_memfd("wake", 0).unwrap();
    let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&a.fd()));
    let b = SharedLock::open(std::path::Path::new(&path)).unwrap();
    assert_ne!(a.cell() as *const LockCell, b.cell() as *const LockCell);
    let patient = PartyOptions::default().with_liveness_interval(Duration::from_secs(30));
    let mut holder = a.party().unwrap();
    let lease = holder.acquire(LONG, Priority::LOWEST).unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut party = b.party_with(patient).unwrap();
            let t = Instant::now();
            let how = party.acquire(LONG, Priority::LOWEST).unwrap().acquired();
            (t, how, party.stats().futex_waits)
        });
        while !a.snapshot().waiters || a.sleepers.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(10));
        let released = Instant::now();
        drop(lease);
        let (started, how, sleeps) = waiter.join().unwrap();
        assert_eq!(how, Acquired::Free);
        assert!(sleeps >= 1);
        // Woken by the release, not by its 30 s timer.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            released.elapsed()
        );
    });
}

#[test]
fn bad_input_is_refused() {
    let cell = LockCell::new_boxed();
    let mut party = cell.party().unwrap();
    assert!(matches!(
        party.acquire(crate::MAX_LEASE + Duration::from_secs(1), Priority::LOWEST),
        Err(Error::LeaseTooLong { .. })
    ));
    assert!(party.acquire(crate::MAX_LEASE, Priority::LOWEST).is_ok());
    assert_eq!(Priority::new(8), None);
    assert_eq!(Priority::new(7), Some(Priority::HIGHEST));
    // A memfd that holds no lock.
    let fd = unsafe { libc::memfd_create(c"empty".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0);
    unsafe { libc::ftruncate(fd, 8192) };
    let fd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
    assert!(matches!(SharedLock::from_fd(fd), Err(Error::NotALock(_))));
}

#[test]
fn slots_run_out_and_come_back() {
    let cell = LockCell::new_boxed();
    let parties: Vec<_> = (0..crate::MAX_PARTIES)
        .map(|_| cell.party().unwrap())
        .collect();
    assert!(matches!(cell.party(), Err(Error::NoFreeSlot)));
    drop(parties);
    assert!(cell.party().is_ok());
}

#[test]
fn a_forked_child_cannot_use_its_parents_party_or_lease() {
    let cell = SharedLock::create_memfd("fork", 0).unwrap();
    let mut party = cell.party().unwrap();
    let lease = party.acquire(LONG, Priority::LOWEST).unwrap();
    // SAFETY: the child only runs lock operations (atomics, no allocation) and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let mut code = 0;
        if lease.check().is_ok() {
            code |= 1;
        }
        drop(lease); // must not release the parent's lock
        if cell.snapshot().holder.is_none() {
            code |= 2;
        }
        if !matches!(
            party.try_acquire(LONG, Priority::LOWEST),
            Err(Error::Forked)
        ) {
            code |= 4;
        }
        drop(party); // must not free the parent's slot
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "failed checks (bits)");
    lease.check().unwrap();
    lease.release().unwrap();
    assert!(cell.slots[usize::from(party.slot())].load(Ordering::SeqCst) != 0);
}

#[test]
fn the_cell_layout_is_the_documented_one() {
    use std::mem::{align_of, offset_of};
    assert_eq!(offset_of!(LockCell, word), 0);
    assert_eq!(offset_of!(LockCell, magic), 64);
    assert_eq!(offset_of!(LockCell, layout), 72);
    assert_eq!(offset_of!(LockCell, sleepers), 80);
    assert_eq!(offset_of!(LockCell, terminations), 88);
    assert_eq!(offset_of!(LockCell, recoveries), 96);
    assert_eq!(offset_of!(LockCell, slots), 128);
    assert_eq!((LockCell::SIZE, align_of::<LockCell>()), (2176, 64));
}
