//! Parties and their leases: the acquire and release protocol.

use crate::cell::LockCell;
use crate::platform::{self, ProcessWatch};
use crate::sync::Ordering::*;
use crate::word::{self, Word};
use crate::{Error, Priority, Terminated};
use std::time::Duration;

/// How a party waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartyOptions {
    liveness_interval: Duration,
}

impl Default for PartyOptions {
    fn default() -> Self {
        PartyOptions {
            liveness_interval: Duration::from_millis(1),
        }
    }
}

impl PartyOptions {
    /// How long a waiter waits on the same holder before it checks that the holder's process
    /// is still alive, and then between checks (default 1 ms). The time from a holder's death
    /// to its lock's recovery is about this long (once a waiter is there). Each check is one
    /// `poll` system call (the first one for a holder: `pidfd_open` and a read of
    /// `/proc/PID/stat`).
    pub fn with_liveness_interval(mut self, interval: Duration) -> Self {
        self.liveness_interval = interval;
        self
    }
}

/// What one party has done (counted only on slow paths: the fast path counts nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartyStats {
    /// Leases acquired.
    pub acquisitions: u64,
    /// `FUTEX_WAIT` calls (sleeps) while waiting for the lock.
    pub futex_waits: u64,
    /// `FUTEX_WAKE` calls made by releases.
    pub futex_wakes: u64,
    /// Liveness checks of a holder's process.
    pub liveness_checks: u64,
    /// Leases taken from an expired holder of lower priority.
    pub terminations: u64,
    /// Leases taken from a holder whose process had exited (or from a leaked lease of this
    /// party).
    pub recoveries: u64,
}

/// How a lease was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// The lock was free.
    Free,
    /// Taken from a holder of lower priority after its deadline: that holder is terminated
    /// (its next [`Lease::check`] fails) and the state is marked as needing repair.
    FromExpired,
    /// Taken from a holder whose process had exited, or from a lease of this same party that
    /// was leaked (`mem::forget`); the state is marked as needing repair.
    FromDead,
}

#[derive(Clone, Copy)]
enum Wait {
    Never,
    Until(u64),
    Forever,
}

/// The holder a waiter is watching: since when, and its process.
struct Watch {
    holder: u64,
    next_check_ns: u64,
    process: Option<ProcessWatch>,
}

/// One party of a lock: a handle that takes leases, one at a time (acquiring borrows it until
/// the lease ends). A party belongs to the process that made it: in a forked child, its
/// operations fail with [`Error::Forked`] and its leases do nothing.
pub struct Party<'c> {
    cell: &'c LockCell,
    slot: u8,
    identity: u64,
    fork_generation: u64,
    /// The free word the next acquisition expects: the one this party last left or saw.
    guess: Word,
    liveness_ns: u64,
    watch: Watch,
    stats: PartyStats,
}

impl<'c> Party<'c> {
    pub(crate) fn new(cell: &'c LockCell, slot: u8, identity: u64, options: PartyOptions) -> Self {
        let seen = Word(cell.word.load(Relaxed));
        Party {
            cell,
            slot,
            identity,
            fork_generation: platform::fork_generation(),
            guess: if seen.held() { Word(0) } else { seen },
            liveness_ns: duration_ns(options.liveness_interval),
            watch: Watch {
                holder: 0,
                next_check_ns: 0,
                process: None,
            },
            stats: PartyStats::default(),
        }
    }

    /// This party's slot in the lock's party table (the owner field of the lock word).
    pub fn slot(&self) -> u8 {
        self.slot
    }

    /// The lock.
    pub fn cell(&self) -> &'c LockCell {
        self.cell
    }

    /// What this party has done so far.
    pub fn stats(&self) -> PartyStats {
        self.stats
    }

    /// The time leases are dated from.
    fn lease_clock(&self) -> u64 {
        platform::now_ns(self.cell)
    }

    fn forked(&self) -> bool {
        platform::fork_generation() != self.fork_generation
    }

    /// Takes the lock for `lease`, waiting as long as it takes. Past its deadline, a holder of
    /// lower priority than `priority` is terminated; a holder whose process has exited is
    /// recovered from. The fast path (the lock is free) is one compare-and-swap on the lock
    /// word and a read of the vDSO clock (CLOCK_MONOTONIC): no system call.
    pub fn acquire(&mut self, lease: Duration, priority: Priority) -> Result<Lease<'_, 'c>, Error> {
        self.acquire_with(lease, priority, Wait::Forever)
    }

    /// Takes the lock if it can without waiting: free, held by an expired holder of lower
    /// priority, or held by a holder already known to be dead; else [`Error::WouldBlock`].
    pub fn try_acquire(
        &mut self,
        lease: Duration,
        priority: Priority,
    ) -> Result<Lease<'_, 'c>, Error> {
        self.acquire_with(lease, priority, Wait::Never)
    }

    /// As [`Party::acquire`], but gives up with [`Error::TimedOut`] if the lock is still held
    /// after `timeout`.
    pub fn acquire_timeout(
        &mut self,
        lease: Duration,
        priority: Priority,
        timeout: Duration,
    ) -> Result<Lease<'_, 'c>, Error> {
        let until = platform::now_ns(self.cell).saturating_add(duration_ns(timeout));
        self.acquire_with(lease, priority, Wait::Until(until))
    }

    fn acquire_with(
        &mut self,
        lease: Duration,
        priority: Priority,
        wait: Wait,
    ) -> Result<Lease<'_, 'c>, Error> {
        if self.forked() {
            return Err(Error::Forked);
        }
        let lease_ns = lease_ns(lease)?;
        let now = self.lease_clock();
        let deadline = word::deadline_tick(now, lease_ns);
        let prio = priority.level();
        // The fast path: one compare-and-swap against the free word this party expects. When
        // another party used the lock meanwhile, the failed swap returns the current word (and
        // brings its cache line in exclusive state) for the one retry.
        let expected = self.guess;
        let mine = expected.taken_by(self.slot, prio, deadline, false, expected.repair());
        let seen = match self
            .cell
            .word
            .compare_exchange(expected.0, mine.0, AcqRel, Acquire)
        {
            Ok(_) => return Ok(self.lease(mine, Acquired::Free, now + lease_ns)),
            Err(v) => Word(v),
        };
        let (mine, how) = self.acquire_slow(seen, prio, deadline, wait)?;
        Ok(self.lease(mine, how, now + lease_ns))
    }

    fn lease(&mut self, word: Word, acquired: Acquired, deadline_ns: u64) -> Lease<'_, 'c> {
        self.stats.acquisitions += 1;
        Lease {
            party: self,
            word,
            acquired,
            deadline_ns,
            repair: word.repair(),
            released: false,
        }
    }

    fn acquire_slow(
        &mut self,
        mut w: Word,
        prio: u8,
        deadline: u32,
        wait: Wait,
    ) -> Result<(Word, Acquired), Error> {
        let cell = self.cell;
        // Once this call has slept, other waiters may sleep too: the lock it takes carries the
        // WAITERS flag so that its release wakes the next one.
        let mut slept = false;
        loop {
            if !w.held() {
                let mine = w.taken_by(self.slot, prio, deadline, slept, w.repair());
                match cell.word.compare_exchange(w.0, mine.0, AcqRel, Acquire) {
                    Ok(_) => return Ok((mine, Acquired::Free)),
                    Err(v) => {
                        w = Word(v);
                        continue;
                    }
                }
            }
            let now = platform::now_ns(cell);
            let takeover = if w.owner() == self.slot {
                // This party holds no lease, yet its slot holds the lock: a leaked lease.
                Some(Acquired::FromDead)
            } else if prio > w.priority() && w.expired(word::tick(now)) {
                Some(Acquired::FromExpired)
            } else if self.holder_gone(w, now) {
                Some(Acquired::FromDead)
            } else {
                None
            };
            if let Some(how) = takeover {
                let mine = w.taken_by(self.slot, prio, deadline, slept || w.waiters(), true);
                match cell.word.compare_exchange(w.0, mine.0, AcqRel, Acquire) {
                    Ok(_) => {
                        if how == Acquired::FromExpired {
                            self.stats.terminations += 1;
                            cell.terminations.fetch_add(1, Relaxed);
                        } else {
                            self.stats.recoveries += 1;
                            cell.recoveries.fetch_add(1, Relaxed);
                        }
                        return Ok((mine, how));
                    }
                    Err(v) => {
                        w = Word(v);
                        continue;
                    }
                }
            }
            let mut until = match wait {
                Wait::Never => return Err(Error::WouldBlock),
                Wait::Until(t) if now >= t => {
                    // Giving up: leave the WAITERS flag set if others sleep, so that the
                    // holder's release still wakes one of them.
                    if !w.waiters() && cell.sleepers.load(SeqCst) != 0 {
                        if let Err(v) =
                            cell.word
                                .compare_exchange(w.0, w.with_waiters().0, SeqCst, Acquire)
                        {
                            w = Word(v);
                            continue;
                        }
                    }
                    return Err(Error::TimedOut);
                }
                Wait::Until(t) => t,
                Wait::Forever => u64::MAX,
            };
            if !w.waiters() {
                match cell
                    .word
                    .compare_exchange(w.0, w.with_waiters().0, SeqCst, Acquire)
                {
                    Ok(_) => w = w.with_waiters(),
                    Err(v) => {
                        w = Word(v);
                        continue;
                    }
                }
            }
            // Sleep until a release wakes us, or until it is time to act: the holder expires
            // (if we may terminate it), its liveness is due, or our own wait ends.
            if prio > w.priority() {
                until = until.min(w.expiry_ns(now));
            }
            until = until.min(self.watch.next_check_ns.max(now));
            let one = 1u64 << (8 * u32::from(prio));
            cell.sleepers.fetch_add(one, SeqCst);
            platform::futex_wait(cell, w.low32(), 1 << prio, until);
            cell.sleepers.fetch_sub(one, SeqCst);
            self.stats.futex_waits += 1;
            slept = true;
            w = Word(cell.word.load(Acquire));
        }
    }

    /// Whether the holder of `w` is known to have exited. A holder is checked once this party
    /// has seen it hold the lock for a liveness interval, then once per interval.
    fn holder_gone(&mut self, w: Word, now: u64) -> bool {
        if self.watch.holder != w.identity() {
            self.watch.holder = w.identity();
            self.watch.next_check_ns = now.saturating_add(self.liveness_ns);
            return false;
        }
        if now < self.watch.next_check_ns {
            return false;
        }
        self.watch.next_check_ns = now.saturating_add(self.liveness_ns);
        let Some(slot) = self.cell.slots.get(usize::from(w.owner())) else {
            return true;
        };
        let id = slot.load(Acquire);
        if id == 0 {
            // A lock held by a slot no party has: its party left without releasing it.
            return true;
        }
        if platform::same_process(id, self.identity) {
            // A thread of this process: alive while we run. No more checks of this holder.
            self.watch.next_check_ns = u64::MAX;
            return false;
        }
        self.stats.liveness_checks += 1;
        platform::process_gone(self.cell, id, &mut self.watch.process)
    }

    /// Releases `mine` (the word this party installed), leaving REPAIR as `repair`. Fails if
    /// the lock is no longer this acquisition's; then it leaves the word alone.
    fn release(&mut self, mine: Word, repair: bool) -> Result<(), Terminated> {
        let cell = self.cell;
        let free = mine.freed(repair);
        // The fast path: no one waits (a lock taken after sleeping carries WAITERS already).
        let mut w = mine;
        if !mine.waiters() {
            match cell.word.compare_exchange(mine.0, free.0, Release, Acquire) {
                Ok(_) => {
                    self.guess = free;
                    return Ok(());
                }
                Err(v) => w = Word(v),
            }
        }
        loop {
            if w.identity() != mine.identity() {
                return Err(Terminated);
            }
            // Still ours, with the WAITERS flag set.
            match cell.word.compare_exchange(w.0, free.0, SeqCst, Acquire) {
                Ok(_) => {
                    self.guess = free;
                    if w.waiters() {
                        self.stats.futex_wakes += cell.wake_next();
                    }
                    return Ok(());
                }
                Err(v) => w = Word(v),
            }
        }
    }
}

impl Drop for Party<'_> {
    fn drop(&mut self) {
        if self.forked() {
            return;
        }
        // A lease of this party that was leaked still holds the lock: release it (the state
        // it guarded needs repair) before the slot goes to someone else.
        self.cell.free_from_gone_holder(self.slot);
        self.cell.slots[usize::from(self.slot)].store(0, Release);
    }
}

impl std::fmt::Debug for Party<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Party")
            .field("slot", &self.slot)
            .field("stats", &self.stats)
            .finish()
    }
}

fn duration_ns(d: Duration) -> u64 {
    d.as_nanos().min(u128::from(u64::MAX)) as u64
}

fn lease_ns(lease: Duration) -> Result<u64, Error> {
    let ns = duration_ns(lease);
    if ns > word::MAX_LEASE_NS {
        return Err(Error::LeaseTooLong {
            requested: lease,
            max: crate::MAX_LEASE,
        });
    }
    Ok(ns)
}

/// One holding of the lock, until it is dropped or [`Lease::release`]d.
///
/// It has a deadline. Until the deadline the holder keeps the lock against everyone; past it,
/// a waiter of higher priority may terminate it: that waiter holds the lock from then on, and
/// this lease's [`Lease::check`], [`Lease::renew`] and [`Lease::release`] fail with
/// [`Terminated`] (the release leaves the new holder's lock alone). Termination stops nothing
/// that this holder is doing: it only takes the lock away. Code that writes guarded state
/// calls `check()` before each step that must not happen after the lease is gone, and keeps
/// each step one the next holder can repair (the new holder finds
/// [`Lease::needs_repair`] set).
///
/// A lease dropped while its thread panics marks the state as needing repair.
pub struct Lease<'p, 'c> {
    party: &'p mut Party<'c>,
    word: Word,
    acquired: Acquired,
    deadline_ns: u64,
    repair: bool,
    released: bool,
}

impl Lease<'_, '_> {
    /// `Ok` while this lease still holds the lock; [`Terminated`] once a higher priority took
    /// it after the deadline (or the lease was copied into a forked child). One atomic load.
    pub fn check(&self) -> Result<(), Terminated> {
        let now = Word(self.party.cell.word.load(Acquire));
        if now.identity() != self.word.identity() || self.party.forked() {
            return Err(Terminated);
        }
        Ok(())
    }

    /// Whether the guarded state needs repair: a holder died, was terminated, panicked or
    /// called [`Lease::mark_needs_repair`], and no holder since called [`Lease::repaired`].
    pub fn needs_repair(&self) -> bool {
        self.repair
    }

    /// The guarded state is consistent again: the release clears the flag.
    pub fn repaired(&mut self) {
        self.repair = false;
    }

    /// The guarded state is not consistent: the release leaves the flag set for the next
    /// holder.
    pub fn mark_needs_repair(&mut self) {
        self.repair = true;
    }

    /// How this lease was obtained.
    pub fn acquired(&self) -> Acquired {
        self.acquired
    }

    /// The priority the lease was taken with.
    pub fn priority(&self) -> Priority {
        Priority::new(self.word.priority()).unwrap_or(Priority::LOWEST)
    }

    /// The time left before the deadline (zero once it has passed). Waiters see the deadline
    /// rounded up to the next 65.536 µs tick.
    pub fn remaining(&self) -> Duration {
        let now = platform::now_ns(self.party.cell);
        Duration::from_nanos(self.deadline_ns.saturating_sub(now))
    }

    /// Moves the deadline to `lease` from now (one compare-and-swap); fails with
    /// [`Error::Terminated`] if the lease was already terminated.
    pub fn renew(&mut self, lease: Duration) -> Result<(), Error> {
        let lease_ns = lease_ns(lease)?;
        if self.party.forked() {
            return Err(Error::Terminated);
        }
        let cell = self.party.cell;
        let now = self.party.lease_clock();
        let deadline = word::deadline_tick(now, lease_ns);
        let mut w = Word(cell.word.load(Acquire));
        loop {
            if w.identity() != self.word.identity() {
                return Err(Error::Terminated);
            }
            let renewed = w.with_deadline(deadline);
            match cell.word.compare_exchange(w.0, renewed.0, AcqRel, Acquire) {
                Ok(_) => {
                    self.word = renewed;
                    self.deadline_ns = now + lease_ns;
                    return Ok(());
                }
                Err(v) => w = Word(v),
            }
        }
    }

    /// Releases the lock; [`Terminated`] if it had been taken over (then it is left alone).
    pub fn release(mut self) -> Result<(), Terminated> {
        self.released = true;
        self.release_now(false)
    }

    fn release_now(&mut self, panicking: bool) -> Result<(), Terminated> {
        if self.party.forked() {
            return Err(Terminated);
        }
        self.party.release(self.word, self.repair || panicking)
    }
}

impl Drop for Lease<'_, '_> {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.release_now(std::thread::panicking());
        }
    }
}

impl std::fmt::Debug for Lease<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("slot", &self.party.slot)
            .field("priority", &self.word.priority())
            .field("generation", &self.word.generation())
            .field("acquired", &self.acquired)
            .field("needs_repair", &self.repair)
            .finish()
    }
}
