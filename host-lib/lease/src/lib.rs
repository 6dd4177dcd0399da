//! A lease lock: a lock word in memory shared between processes (or threads), with a
//! deadline on every holding and a priority on every party that asks.
//!
//! - **No system call when uncontended.** Acquiring a free lock is one compare-and-swap on the
//!   lock word (plus a read of CLOCK_MONOTONIC through the vDSO for the deadline); releasing it
//!   when no one waits is one compare-and-swap.
//! - **Waiters sleep on a futex** on the lock word (the shared, not the `_PRIVATE`, futex
//!   operations, so that processes mapping the word at different addresses meet). A release
//!   that finds the WAITERS flag wakes one sleeper: one of the highest priority among those
//!   asleep, and of those the one asleep longest (the kernel's queue order). A woken waiter
//!   competes with parties that arrive meanwhile (there is no hand-off), as with
//!   `std::sync::Mutex`.
//! - **Leases.** [`Party::acquire`] takes a lease duration and a [`Priority`] and returns a
//!   [`Lease`] (dropping it releases the lock). Until its deadline a holder keeps the lock
//!   against everyone. Past its deadline, a waiter of *higher* priority terminates it: the
//!   waiter takes the lock in one compare-and-swap and holds it from then on. A waiter of equal
//!   or lower priority waits for the release, however late.
//! - **Termination is learnt, not imposed.** The terminated holder learns it at its next
//!   [`Lease::check`] (or [`Lease::renew`], or [`Lease::release`]), as the typed error
//!   [`Terminated`]; its release then leaves the new holder's lock alone. The lock word names
//!   the owner's party slot and a generation that every acquisition increments, so a stale
//!   holder's operations can never match the word again: there are never two owners of the
//!   word. What termination cannot do is stop the old holder's code: until its next `check`, it
//!   may still touch the guarded state. So a critical section that may outlive its lease is
//!   written as steps, each preceded by `check()` and each one the next holder can repair (for
//!   example: write the new version aside, `check()`, publish it with one store); the new
//!   holder finds [`Lease::needs_repair`] set and calls [`Lease::repaired`] once the state is
//!   consistent. A holder that must be stopped for certain has to be killed; a dead holder is
//!   handled as below.
//! - **Dead holders.** Each party records its process (pid and start time, so that a reused
//!   pid is not mistaken for the holder) in the lock's party table. A waiter that has seen the
//!   same holder for a liveness interval (default 1 ms, [`PartyOptions`]) checks that process:
//!   a pidfd, opened once and then polled (it names that process and no later one with its
//!   pid, and becomes readable when it exits, zombies included). If it has exited, the waiter
//!   takes the lock ([`Acquired::FromDead`]) with the state marked as needing repair. A lock
//!   held by a party whose thread panicked is released with the same mark.
//!
//! The lock word, one `u64` (its low 32 bits are the futex):
//!
//! | bits | field |
//! | --- | --- |
//! | 0 | HELD |
//! | 1 | WAITERS: a party sleeps, or is about to, on the futex |
//! | 2 | REPAIR: the guarded state needs repair |
//! | 3..6 | the holder's priority (0..=7) |
//! | 6..14 | the holder's party slot (0..=254) |
//! | 14..32 | generation: +1 on every acquisition, termination and recovery |
//! | 32..64 | the holder's deadline: CLOCK_MONOTONIC in ticks of 65.536 µs, modulo 2^32 |
//!
//! The deadline is compared modulo 2^32 ticks (78 h): a deadline more than [`MAX_LEASE`] ahead
//! of now counts as passed. So a lease may be at most [`MAX_LEASE`] long (renew it for more),
//! and a holder that outstays its deadline by 75.8 to 78.2 hours (and each 78.2 hours after)
//! looks unexpired for that window.
//!
//! ```
//! use evnic_lease::{Priority, SharedLock};
//! use std::time::Duration;
//!
//! let lock = SharedLock::create_memfd("example", 4096)?; // pass lock.fd() to other processes
//! let mut party = lock.party()?;
//! let mut lease = party.acquire(Duration::from_millis(10), Priority::LOWEST)?;
//! if lease.needs_repair() {
//!     // put the state in lock.data() right, then:
//!     lease.repaired();
//! }
//! lease.check()?; // before each step that must not happen once the lease is gone
//! lease.release()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Limits: all parties must see each other's pids (one pid namespace), and a party belongs to
//! the process that made it (a forked child makes its own; an inherited one fails with
//! [`Error::Forked`]). The waker picks a priority from per-priority counts of sleepers kept
//! beside the lock word; at most 255 parties per lock.

#![deny(missing_docs)]

mod cell;
mod party;
#[cfg_attr(loom, path = "model.rs")]
#[cfg_attr(not(loom), path = "sys.rs")]
mod platform;
#[cfg(not(loom))]
mod shared;
mod word;

pub use cell::{Holder, LockCell, Snapshot, MAX_PARTIES};
pub use party::{Acquired, Lease, Party, PartyOptions, PartyStats};
#[cfg(not(loom))]
pub use shared::{SharedLock, SharedMap};

use std::time::Duration;

mod sync {
    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
}

/// The longest lease (about 2 h 26 min); [`Lease::renew`] extends one.
pub const MAX_LEASE: Duration = Duration::from_nanos(word::MAX_LEASE_NS);

/// A party's priority, 0 (lowest) to 7 (highest). Past its deadline, a holder is terminated
/// by a waiter of strictly higher priority; sleepers of higher priority are woken first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u8);

impl Priority {
    /// Priority 0.
    pub const LOWEST: Priority = Priority(0);
    /// Priority 7.
    pub const HIGHEST: Priority = Priority(7);

    /// The priority `level` (0..=7), or `None`.
    pub const fn new(level: u8) -> Option<Priority> {
        if level <= 7 {
            Some(Priority(level))
        } else {
            None
        }
    }

    /// The level, 0..=7.
    pub const fn level(self) -> u8 {
        self.0
    }
}

/// A lease that no longer holds its lock: a waiter of higher priority took it after the
/// lease's deadline (or the lease was copied into a forked child).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terminated;

impl std::fmt::Display for Terminated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the lease was terminated: a higher priority took the lock after its deadline")
    }
}

impl std::error::Error for Terminated {}

/// What can go wrong with a lease lock.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The lease was terminated ([`Terminated`]).
    Terminated,
    /// [`Party::try_acquire`]: the lock is held.
    WouldBlock,
    /// [`Party::acquire_timeout`]: the lock was still held when the time ran out.
    TimedOut,
    /// A lease longer than [`MAX_LEASE`].
    LeaseTooLong {
        /// What was asked.
        requested: Duration,
        /// The longest lease.
        max: Duration,
    },
    /// All [`MAX_PARTIES`] slots of the lock belong to live processes.
    NoFreeSlot,
    /// The party was made in a parent process, before a fork.
    Forked,
    /// The memory does not hold a lease lock (of this version).
    NotALock(&'static str),
    /// Making, opening or mapping the shared memory failed, or `/proc` could not be read.
    Io(std::io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Terminated => Terminated.fmt(f),
            Error::WouldBlock => f.write_str("the lock is held"),
            Error::TimedOut => f.write_str("timed out waiting for the lock"),
            Error::LeaseTooLong { requested, max } => {
                write!(
                    f,
                    "a lease of {requested:?} is longer than the longest, {max:?}"
                )
            }
            Error::NoFreeSlot => write!(f, "all {MAX_PARTIES} party slots of the lock are live"),
            Error::Forked => f.write_str("the party belongs to the parent of this forked process"),
            Error::NotALock(why) => write!(f, "not a lease lock: {why}"),
            Error::Io(e) => write!(f, "lease lock: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Terminated> for Error {
    fn from(_: Terminated) -> Self {
        Error::Terminated
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
