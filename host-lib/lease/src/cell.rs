//! The lock cell: the lock word and the party table, laid out to live in shared memory.

use crate::party::{Party, PartyOptions};
use crate::platform;
use crate::sync::{AtomicU64, Ordering::*};
use crate::word::Word;
use crate::Error;

/// How many parties one lock can have at once (slots 0..=254 of the owner field).
#[cfg(not(loom))]
pub const MAX_PARTIES: usize = 255;
/// How many parties one lock can have at once (the model keeps few).
#[cfg(loom)]
pub const MAX_PARTIES: usize = 4;

const MAGIC: u64 = u64::from_le_bytes(*b"evnlease");
const VERSION: u64 = 1;

/// One lease lock, as it lies in memory shared by the processes (or threads) that use it.
///
/// Layout (`repr(C)`, 64-byte aligned, [`LockCell::SIZE`] bytes, native byte order):
///
/// | offset | field | |
/// | --- | --- | --- |
/// | 0 | lock word (`u64`) | alone on its cache line; its low 32 bits are the futex |
/// | 64 | magic `"evnlease"` | written last by [`LockCell::init`] |
/// | 72 | version (high 32 bits) and size (low 32 bits) | |
/// | 80 | sleepers | one 8-bit count of sleeping waiters per priority |
/// | 88 | terminations | leases taken from expired holders, ever |
/// | 96 | recoveries | leases taken from holders that had died, ever |
/// | 128 | party table: 255 × `u64` | a party's process (pid and start time), 0 if free |
///
/// The lock word:
///
/// | bits | field |
/// | --- | --- |
/// | 0 | HELD |
/// | 1 | WAITERS: a party sleeps, or is about to, on the futex |
/// | 2 | REPAIR: the guarded state needs repair |
/// | 3..6 | the holder's priority |
/// | 6..14 | the holder's party slot |
/// | 14..32 | generation: +1 on every acquisition |
/// | 32..64 | the holder's deadline: CLOCK_MONOTONIC in ticks of 65.536 µs, modulo 2^32 |
#[repr(C, align(64))]
pub struct LockCell {
    pub(crate) word: AtomicU64,
    _word_line: [u64; 7],
    pub(crate) magic: AtomicU64,
    pub(crate) layout: AtomicU64,
    /// Per priority p, bits 8p..8p+8: how many waiters of that priority sleep or are about to.
    pub(crate) sleepers: AtomicU64,
    pub(crate) terminations: AtomicU64,
    pub(crate) recoveries: AtomicU64,
    _header_line: [u64; 3],
    pub(crate) slots: [AtomicU64; MAX_PARTIES],
    #[cfg(loom)]
    pub(crate) model: platform::Model,
}

/// What a lock looks like at one moment ([`LockCell::snapshot`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The holder, if the lock is held.
    pub holder: Option<Holder>,
    /// The guarded state is marked as needing repair.
    pub needs_repair: bool,
    /// Some party sleeps, or is about to sleep, waiting for the lock.
    pub waiters: bool,
    /// The generation of the last acquisition (it wraps at 2^18).
    pub generation: u32,
    /// Leases taken from an expired holder by a higher priority, since the lock was made.
    pub terminations: u64,
    /// Leases taken from a holder whose process had exited, since the lock was made.
    pub recoveries: u64,
}

/// The holder of a lock, as [`Snapshot`] shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The holder's party slot.
    pub slot: u8,
    /// The process id recorded for that slot (0 if the slot is free: a holder gone wrong).
    pub pid: u32,
    /// The priority the holder acquired with.
    pub priority: crate::Priority,
}

impl LockCell {
    /// The cell's size in bytes.
    #[cfg(not(loom))]
    pub const SIZE: usize = std::mem::size_of::<LockCell>();

    /// Makes a new, free lock at `ptr` (in a shared mapping or anywhere else) and returns it.
    ///
    /// # Safety
    /// `ptr` must be aligned to 64 bytes and valid for reads and writes of [`LockCell::SIZE`]
    /// bytes for `'a`, and no other party may use that memory while it is initialized.
    #[cfg(not(loom))]
    pub unsafe fn init<'a>(ptr: *mut u8) -> &'a LockCell {
        assert!(
            (ptr as usize).is_multiple_of(64),
            "a LockCell must be 64-byte aligned"
        );
        // SAFETY: the caller gives us the memory; all-zero is a free lock with no parties.
        unsafe { std::ptr::write_bytes(ptr, 0, Self::SIZE) };
        // SAFETY: aligned, sized, initialized (atomics accept any bit pattern).
        let cell = unsafe { &*(ptr as *const LockCell) };
        cell.layout
            .store((VERSION << 32) | Self::SIZE as u64, Relaxed);
        cell.magic.store(MAGIC, Release);
        cell
    }

    /// Uses the lock that [`LockCell::init`] made at `ptr` (typically in another process).
    ///
    /// # Safety
    /// `ptr` must be aligned to 64 bytes and valid for reads and writes of [`LockCell::SIZE`]
    /// bytes for `'a`, and only lock operations may write it meanwhile.
    #[cfg(not(loom))]
    pub unsafe fn attach<'a>(ptr: *const u8) -> Result<&'a LockCell, Error> {
        if !(ptr as usize).is_multiple_of(64) {
            return Err(Error::NotALock("not 64-byte aligned"));
        }
        // SAFETY: as the caller promises.
        let cell = unsafe { &*(ptr as *const LockCell) };
        if cell.magic.load(Acquire) != MAGIC {
            return Err(Error::NotALock("no lease lock here (bad magic)"));
        }
        if cell.layout.load(Relaxed) != (VERSION << 32) | Self::SIZE as u64 {
            return Err(Error::NotALock("a lease lock of another version"));
        }
        Ok(cell)
    }

    /// A new, free lock on the heap: for threads of one process (a lock shared between
    /// processes lives in shared memory: [`crate::SharedLock`] or [`LockCell::init`]).
    #[cfg(not(loom))]
    pub fn new_boxed() -> Box<LockCell> {
        let mut b = Box::<LockCell>::new_uninit();
        // SAFETY: the box holds SIZE bytes, 64-byte aligned, and nobody else sees it.
        unsafe {
            Self::init(b.as_mut_ptr() as *mut u8);
            b.assume_init()
        }
    }

    /// A new, free lock for the model checker.
    #[cfg(loom)]
    pub fn new_boxed() -> Box<LockCell> {
        Box::new(LockCell {
            word: AtomicU64::new(0),
            _word_line: [0; 7],
            magic: AtomicU64::new(MAGIC),
            layout: AtomicU64::new(VERSION << 32),
            sleepers: AtomicU64::new(0),
            terminations: AtomicU64::new(0),
            recoveries: AtomicU64::new(0),
            _header_line: [0; 3],
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
            model: platform::Model::new(),
        })
    }

    /// The model's clock and processes (tests under `--cfg loom`).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn model_advance(&self, ns: u64) {
        self.model.advance(ns)
    }

    /// Marks the process of the party in `slot` as exited, in the model (tests under
    /// `--cfg loom`).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn model_kill(&self, slot: u8) {
        self.model.kill(self.slots[usize::from(slot)].load(SeqCst))
    }

    /// Joins the lock as a new party with the default options: a handle that acquires leases,
    /// one at a time. Each thread that takes the lock needs its own party.
    pub fn party(&self) -> Result<Party<'_>, Error> {
        self.party_with(PartyOptions::default())
    }

    /// Joins the lock as a new party. Takes a free slot of the party table, or the slot of a
    /// process that has exited (releasing a lock it held, marked as needing repair);
    /// [`Error::NoFreeSlot`] if all [`MAX_PARTIES`] are live.
    pub fn party_with(&self, options: PartyOptions) -> Result<Party<'_>, Error> {
        platform::watch_forks();
        let identity = platform::own_identity(self).map_err(Error::Io)?;
        let slot = self.claim_slot(identity)?;
        Ok(Party::new(self, slot, identity, options))
    }

    fn claim_slot(&self, identity: u64) -> Result<u8, Error> {
        for (i, s) in self.slots.iter().enumerate() {
            if s.load(Relaxed) == 0 && s.compare_exchange(0, identity, AcqRel, Relaxed).is_ok() {
                return Ok(i as u8);
            }
        }
        // All taken: take over the slot of a process that is gone. The slot is claimed first,
        // so that no one else can reclaim it and acquire with it; then a lock the gone process
        // held is released (no live party acquires with that slot meanwhile).
        let mut watch = None;
        for (i, s) in self.slots.iter().enumerate() {
            let id = s.load(Acquire);
            let free = id == 0;
            if !free
                && (platform::same_process(id, identity)
                    || !platform::process_gone(self, id, &mut watch))
            {
                continue;
            }
            if s.compare_exchange(id, identity, AcqRel, Relaxed).is_ok() {
                if !free {
                    self.free_from_gone_holder(i as u8);
                }
                return Ok(i as u8);
            }
        }
        Err(Error::NoFreeSlot)
    }

    /// Releases the lock if the (gone) occupant of `slot` holds it, marking the state as
    /// needing repair.
    pub(crate) fn free_from_gone_holder(&self, slot: u8) {
        let mut w = Word(self.word.load(Acquire));
        while w.held() && w.owner() == slot {
            match self
                .word
                .compare_exchange(w.0, w.freed(true).0, SeqCst, Acquire)
            {
                Ok(_) => {
                    self.recoveries.fetch_add(1, Relaxed);
                    if w.waiters() {
                        self.wake_next();
                    }
                    return;
                }
                Err(v) => w = Word(v),
            }
        }
    }

    /// Wakes one sleeping waiter: one of the highest priority that has sleepers, the
    /// longest-sleeping of them (the kernel's queue order); returns the futex calls made.
    pub(crate) fn wake_next(&self) -> u64 {
        let counts = self.sleepers.load(SeqCst);
        let mut calls = 0;
        for p in (0..8u32).rev() {
            if (counts >> (8 * p)) & 0xff == 0 {
                continue;
            }
            calls += 1;
            if platform::futex_wake(self, 1, 1 << p) > 0 {
                return calls;
            }
        }
        // None of the counted ones was asleep yet (each will see the changed word itself);
        // wake any one, in case a count was read before its increment landed.
        platform::futex_wake(self, 1, u32::MAX);
        calls + 1
    }

    /// The lock's state at this moment (for logs and monitors; it may change at once).
    pub fn snapshot(&self) -> Snapshot {
        let w = Word(self.word.load(Acquire));
        let holder = w.held().then(|| {
            let id = self
                .slots
                .get(usize::from(w.owner()))
                .map_or(0, |s| s.load(Relaxed));
            Holder {
                slot: w.owner(),
                pid: (id & ((1 << 22) - 1)) as u32,
                priority: crate::Priority::new(w.priority()).unwrap_or(crate::Priority::LOWEST),
            }
        });
        Snapshot {
            holder,
            needs_repair: w.repair(),
            waiters: w.waiters(),
            generation: w.generation(),
            terminations: self.terminations.load(Relaxed),
            recoveries: self.recoveries.load(Relaxed),
        }
    }
}

impl std::fmt::Debug for LockCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockCell")
            .field("state", &self.snapshot())
            .finish()
    }
}
