//! The lease lock under the loom model checker: every interleaving (within a preemption
//! bound) of acquire, release, termination, recovery and renewal, with a model futex that
//! detects lost wake-ups (a waiter that is never woken is a deadlock) and a model clock and
//! process table that the tests drive. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p evnic-lease --test loom --release`.
#![cfg(loom)]

use evnic_lease::{Acquired, Error, LockCell, Party, Priority, Terminated};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

/// A lock and a counter that only the lock guards (loom flags any two unordered accesses).
struct Shared {
    cell: Box<LockCell>,
    counter: UnsafeCell<u64>,
    /// Set by a party right after it took the lock.
    taken: AtomicBool,
}

// SAFETY: `counter` is touched only under the lock; loom checks exactly that.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

fn shared() -> Arc<Shared> {
    Arc::new(Shared {
        cell: LockCell::new_boxed(),
        counter: UnsafeCell::new(0),
        taken: AtomicBool::new(false),
    })
}

fn bump(s: &Shared) {
    s.counter.with_mut(|c| unsafe { *c += 1 });
}

fn prio(level: u8) -> Priority {
    Priority::new(level).unwrap()
}

fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    // Every interleaving with up to 3 preemptions (LOOM_MAX_PREEMPTIONS overrides it).
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// A party of `s`'s lock that a spawned thread may own: the test joins every thread before it
/// drops its last `Arc` of `s`.
fn party_of(s: &Arc<Shared>) -> Party<'static> {
    let party = s.cell.party().unwrap();
    // SAFETY: the cell lives in `s`, which outlives every thread that uses the party.
    unsafe { std::mem::transmute::<Party<'_>, Party<'static>>(party) }
}

/// Three parties take the lock in turn: the counter is never touched by two at once, and
/// every sleeper is woken (no deadlock).
#[test]
fn acquisitions_exclude_and_every_sleeper_wakes() {
    check(|| {
        let s = shared();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                let mut party = party_of(&s);
                thread::spawn(move || {
                    let lease = party.acquire(LONG, Priority::LOWEST).unwrap();
                    bump(&s);
                    lease.release().unwrap();
                })
            })
            .collect();
        {
            let mut party = s.cell.party().unwrap();
            let lease = party.acquire(LONG, Priority::LOWEST).unwrap();
            bump(&s);
            drop(lease);
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.counter.with(|c| unsafe { *c }), 3);
        assert!(s.cell.snapshot().holder.is_none());
    });
}

/// A holder past its deadline, a waiter of higher priority and one of lower priority: the
/// higher one either terminates the holder or gets the lock after its release; once it holds
/// the lock the old holder's check fails and its release leaves the lock alone; the lower one
/// never runs beside the higher one.
#[test]
fn termination_takes_the_lock_from_an_expired_holder_only() {
    check(|| {
        let s = shared();
        let mut holder = s.cell.party().unwrap();
        let old = holder.acquire(Duration::ZERO, prio(1)).unwrap();
        // The old holder touches no guarded state: once it may be terminated, nothing orders
        // its writes before the new holder's.
        let high = {
            let s = s.clone();
            let mut party = party_of(&s);
            thread::spawn(move || {
                let lease = party.acquire(LONG, prio(2)).unwrap();
                s.taken.store(true, SeqCst);
                let how = lease.acquired();
                if how == Acquired::FromExpired {
                    assert!(lease.needs_repair());
                }
                bump(&s);
                lease.check().unwrap();
                lease.release().unwrap(); // the stale release did not free it
                how
            })
        };
        let low = {
            let s = s.clone();
            let mut party = party_of(&s);
            thread::spawn(move || {
                let lease = party.acquire(LONG, prio(0)).unwrap();
                assert_eq!(lease.acquired(), Acquired::Free);
                bump(&s);
            })
        };
        s.cell.model_advance(1_000_000_000);
        let taken = s.taken.load(SeqCst);
        let checked = old.check();
        if taken {
            assert_eq!(checked, Err(Terminated), "two owners");
        }
        let released = old.release();
        let how = high.join().unwrap();
        low.join().unwrap();
        match released {
            Ok(()) => assert_eq!(how, Acquired::Free),
            Err(Terminated) => assert_eq!(how, Acquired::FromExpired),
        }
        assert_eq!(s.counter.with(|c| unsafe { *c }), 2);
    });
}

/// Equal priority never terminates, however far past the deadline.
#[test]
fn equal_priority_waits_for_the_release() {
    check(|| {
        let s = shared();
        let mut holder = s.cell.party().unwrap();
        let old = holder.acquire(Duration::ZERO, prio(3)).unwrap();
        let peer = {
            let s = s.clone();
            let mut party = party_of(&s);
            thread::spawn(move || {
                let lease = party.acquire(LONG, prio(3)).unwrap();
                assert_eq!(lease.acquired(), Acquired::Free);
                bump(&s);
            })
        };
        s.cell.model_advance(1_000_000_000);
        old.check().unwrap();
        bump(&s);
        old.release().unwrap();
        peer.join().unwrap();
    });
}

/// A renewal races a termination: exactly one wins, and a renewed lease keeps the lock.
#[test]
fn renewal_and_termination_do_not_both_win() {
    check(|| {
        let s = shared();
        let mut holder = s.cell.party().unwrap();
        let mut old = holder.acquire(Duration::ZERO, prio(0)).unwrap();
        let high = {
            let s = s.clone();
            let mut party = party_of(&s);
            thread::spawn(move || {
                let lease = party.acquire(LONG, prio(5)).unwrap();
                bump(&s);
                lease.acquired()
            })
        };
        s.cell.model_advance(1_000_000_000);
        match old.renew(LONG) {
            Ok(()) => {
                old.check().unwrap();
                bump(&s);
                old.release().unwrap();
                assert_eq!(high.join().unwrap(), Acquired::Free);
            }
            Err(Error::Terminated) => {
                assert_eq!(old.check(), Err(Terminated));
                drop(old);
                assert_eq!(high.join().unwrap(), Acquired::FromExpired);
            }
            Err(e) => panic!("{e}"),
        }
    });
}

/// A holder dies; of two waiters, exactly one recovers the lock (with the state marked as
/// needing repair), the other gets it after, and they never overlap.
#[test]
fn a_dead_holder_is_recovered_once() {
    check(|| {
        let s = shared();
        let mut dead = s.cell.party().unwrap();
        let dead_slot = dead.slot();
        let lease = dead.acquire(LONG, prio(7)).unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                let mut party = party_of(&s);
                thread::spawn(move || {
                    let mut lease = party.acquire(LONG, prio(0)).unwrap();
                    let how = lease.acquired();
                    if how == Acquired::FromDead {
                        assert!(lease.needs_repair());
                        lease.repaired();
                    }
                    bump(&s);
                    how
                })
            })
            .collect();
        // The process of `dead` exits: it neither releases nor leaves its slot.
        s.cell.model_kill(dead_slot);
        std::mem::forget(lease);
        std::mem::forget(dead);
        let hows: Vec<_> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
        let recovered = hows.iter().filter(|h| **h == Acquired::FromDead).count();
        assert_eq!(recovered, 1, "{hows:?}");
        assert_eq!(s.cell.snapshot().recoveries, 1);
        assert_eq!(s.counter.with(|c| unsafe { *c }), 2);
    });
}
