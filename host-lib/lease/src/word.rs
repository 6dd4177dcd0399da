//! The lock word: one `u64` that holds the whole state of a lease lock.
//!
//! ```text
//! bit  0      HELD      the lock is held
//! bit  1      WAITERS   a party sleeps (or is about to sleep) on the futex
//! bit  2      REPAIR    the guarded state needs repair (sticky until a holder repairs it)
//! bits 3..6   PRIORITY  the holder's priority (0..=7)
//! bits 6..14  OWNER     the holder's party slot (0..=254)
//! bits 14..32 GEN       generation: +1 on every acquisition, termination and recovery
//! bits 32..64 DEADLINE  the holder's deadline in ticks of 2^16 ns of CLOCK_MONOTONIC (mod 2^32)
//! ```
//!
//! The low 32 bits are the futex word (on little-endian machines its address is the word's;
//! on big-endian ones, 4 bytes on). Every change that a sleeper must see (a release, a
//! termination, a recovery, a new waiter) changes the low half: HELD, OWNER or GEN move.

/// The lock is held.
pub(crate) const HELD: u64 = 1 << 0;
/// A party sleeps, or is about to sleep, on the futex: the release must wake one.
pub(crate) const WAITERS: u64 = 1 << 1;
/// The guarded state needs repair.
pub(crate) const REPAIR: u64 = 1 << 2;
const PRIO_SHIFT: u32 = 3;
const PRIO_MASK: u64 = 0x7 << PRIO_SHIFT;
const OWNER_SHIFT: u32 = 6;
const OWNER_MASK: u64 = 0xff << OWNER_SHIFT;
const GEN_SHIFT: u32 = 14;
const GEN_BITS: u32 = 18;
const GEN_MASK: u64 = ((1 << GEN_BITS) - 1) << GEN_SHIFT;
const DEADLINE_SHIFT: u32 = 32;
/// What names one acquisition: a stale holder compares these bits with its own.
const IDENTITY_MASK: u64 = HELD | OWNER_MASK | GEN_MASK;

/// A deadline tick is 2^16 ns (65.536 µs) of CLOCK_MONOTONIC.
pub(crate) const TICK_SHIFT: u32 = 16;
/// A deadline more than this many ticks ahead of now is a past deadline that wrapped: no lease
/// may be longer. 2^27 ticks = 2^43 ns, about 2 h 26 min; the tick counter wraps in 78 h.
pub(crate) const MAX_LEASE_TICKS: u32 = 1 << 27;
/// The longest lease, in ns: one tick short of `MAX_LEASE_TICKS` so rounding up stays inside.
pub(crate) const MAX_LEASE_NS: u64 = ((MAX_LEASE_TICKS as u64) - 1) << TICK_SHIFT;

/// One value of the lock word.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    pub(crate) fn held(self) -> bool {
        self.0 & HELD != 0
    }
    pub(crate) fn waiters(self) -> bool {
        self.0 & WAITERS != 0
    }
    pub(crate) fn repair(self) -> bool {
        self.0 & REPAIR != 0
    }
    pub(crate) fn priority(self) -> u8 {
        ((self.0 & PRIO_MASK) >> PRIO_SHIFT) as u8
    }
    pub(crate) fn owner(self) -> u8 {
        ((self.0 & OWNER_MASK) >> OWNER_SHIFT) as u8
    }
    pub(crate) fn generation(self) -> u32 {
        ((self.0 & GEN_MASK) >> GEN_SHIFT) as u32
    }
    pub(crate) fn deadline(self) -> u32 {
        (self.0 >> DEADLINE_SHIFT) as u32
    }
    /// The bits that name one acquisition (held, owner, generation).
    pub(crate) fn identity(self) -> u64 {
        self.0 & IDENTITY_MASK
    }
    /// The futex half.
    pub(crate) fn low32(self) -> u32 {
        self.0 as u32
    }
    pub(crate) fn with_waiters(self) -> Word {
        Word(self.0 | WAITERS)
    }
    pub(crate) fn with_deadline(self, deadline: u32) -> Word {
        Word((self.0 & 0xffff_ffff) | (u64::from(deadline) << DEADLINE_SHIFT))
    }

    /// The word after `owner` takes the lock from this one (free, or held by a holder it
    /// terminates or recovers from): the next generation.
    pub(crate) fn taken_by(
        self,
        owner: u8,
        priority: u8,
        deadline: u32,
        waiters: bool,
        repair: bool,
    ) -> Word {
        let gen = (u64::from(self.generation()) + 1) & ((1 << GEN_BITS) - 1);
        Word(
            HELD | if waiters { WAITERS } else { 0 }
                | if repair { REPAIR } else { 0 }
                | (u64::from(priority & 0x7) << PRIO_SHIFT)
                | (u64::from(owner) << OWNER_SHIFT)
                | (gen << GEN_SHIFT)
                | (u64::from(deadline) << DEADLINE_SHIFT),
        )
    }

    /// The free word a holder leaves: the same generation, no waiters flag, `repair` as given.
    pub(crate) fn freed(self, repair: bool) -> Word {
        Word((self.0 & GEN_MASK) | if repair { REPAIR } else { 0 })
    }

    /// Whether the holder's deadline has passed at `now_tick`. A deadline more than the longest
    /// lease ahead of now can only be a past one that wrapped, so it counts as passed.
    pub(crate) fn expired(self, now_tick: u32) -> bool {
        self.deadline().wrapping_sub(now_tick) > MAX_LEASE_TICKS
    }

    /// The first instant (ns) at which `expired` holds, seen from `now_ns`.
    pub(crate) fn expiry_ns(self, now_ns: u64) -> u64 {
        let ahead = self.deadline().wrapping_sub(tick(now_ns));
        if ahead > MAX_LEASE_TICKS {
            return now_ns;
        }
        ((now_ns >> TICK_SHIFT) + u64::from(ahead) + 1) << TICK_SHIFT
    }
}

/// The tick of an instant.
pub(crate) fn tick(now_ns: u64) -> u32 {
    (now_ns >> TICK_SHIFT) as u32
}

/// The deadline tick of a lease of `lease_ns` taken at `now_ns`: rounded up, so the holder
/// keeps the lock at least `lease_ns` before a waiter may call it expired.
pub(crate) fn deadline_tick(now_ns: u64, lease_ns: u64) -> u32 {
    ((now_ns + lease_ns).div_ceil(1 << TICK_SHIFT)) as u32
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let free = Word(0).freed(true);
        assert!(!free.held() && free.repair());
        let w = free.taken_by(254, 7, 0xdead_beef, true, true);
        assert!(w.held() && w.waiters() && w.repair());
        assert_eq!(
            (w.priority(), w.owner(), w.generation(), w.deadline()),
            (7, 254, 1, 0xdead_beef)
        );
        let back = w.freed(false);
        assert_eq!(
            (back.held(), back.waiters(), back.repair()),
            (false, false, false)
        );
        assert_eq!(back.generation(), 1);
        assert_eq!(w.with_deadline(5).deadline(), 5);
        assert_eq!(w.with_deadline(5).identity(), w.identity());
    }

    #[test]
    fn generation_wraps_inside_its_field() {
        let last = Word(GEN_MASK); // generation 2^18 - 1, free
        let w = last.taken_by(0, 0, 0, false, false);
        assert_eq!(w.generation(), 0);
        assert_eq!(w.deadline(), 0, "the generation carried into the deadline");
    }

    #[test]
    fn every_transition_changes_the_futex_half() {
        let free = Word(0);
        let a = free.taken_by(3, 1, 100, false, false);
        let released = a.freed(false);
        let b = a.taken_by(4, 2, 100, false, true);
        for (x, y) in [(free, a), (a, released), (a, b), (a, a.with_waiters())] {
            assert_ne!(x.low32(), y.low32(), "{x:?} -> {y:?}");
        }
    }

    #[test]
    fn expiry_is_modular_and_rounded_up() {
        let lease_ns = 1_000_000;
        for now in [
            0u64,
            123_456_789,
            (u64::from(u32::MAX) << TICK_SHIFT) - 5_000,
        ] {
            let w = Word(0).taken_by(0, 0, deadline_tick(now, lease_ns), false, false);
            assert!(!w.expired(tick(now)));
            assert!(
                !w.expired(tick(now + lease_ns)),
                "expired before its lease ran out"
            );
            let at = w.expiry_ns(now);
            assert!(at > now + lease_ns && at <= now + lease_ns + (2 << TICK_SHIFT));
            assert!(w.expired(tick(at)) && !w.expired(tick(at - 1)));
            // Long past its deadline, even after the tick counter wrapped past it.
            assert!(w.expired(tick(at + (3 << 40))));
        }
        // The longest lease is not expired at once.
        let w = Word(0).taken_by(0, 0, deadline_tick(77, MAX_LEASE_NS), false, false);
        assert!(!w.expired(tick(77)) && !w.expired(tick(77 + MAX_LEASE_NS)));
    }
}
