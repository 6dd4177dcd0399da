//! The receive filter tables and the receive path's settings and counters: every write of a
//! filter entry goes through this module.
//!
//! An entry is staged in the filter page (`VALUE*`, `MASK*`, `ENTRY`) and committed by writing
//! its number to `COMMIT` (`PROFILE_COMMIT` for an exact-match profile's mask): the device
//! replaces the whole entry so that a frame sees the old entry or the new one, never a mix, and
//! keeps `STATUS.BUSY` set until it is done. A commit while busy is refused, so every commit
//! here first waits for `BUSY` to clear ([`wait_idle`]); the `write_*` functions also wait after
//! it, and return once the device uses the new entry. Among the enabled ternary entries that
//! match a frame the lowest number wins; an exact-match hit wins over every ternary entry (see
//! `evnic_regs::map::filter`).

use crate::regs::RegisterAccess;
use evnic_regs::exact::PROFILES;
use evnic_regs::key::{KeyBits, KEY_WORDS};
use evnic_regs::map::filter::{self as fr, DropReason, EntryIndex};
use evnic_regs::Reg;

/// A ternary filter entry as the table holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The key bits to compare.
    pub value: KeyBits,
    /// Which key bits must equal `value` (1: must match).
    pub mask: KeyBits,
    /// The action word (see `evnic_regs::map::filter::action_vi` and its siblings).
    pub action: u16,
    /// The entry takes part in lookups.
    pub enabled: bool,
}

fn page(offset: u32) -> u32 {
    fr::PAGE.base + offset
}

/// The BAR0 offset of a filter-page register.
pub fn reg(r: &Reg) -> u32 {
    fr::PAGE.at(0, r)
}

/// Reads of `STATUS` [`wait_idle`] makes before it gives up: far more than the longest BUSY (a
/// ternary rewrite takes about 2 x 513 cycles plus 2 per frame looked up meanwhile; the clear
/// after a reset 512), since every register read takes at least one device cycle.
pub const IDLE_POLLS: u32 = 100_000;

/// A filter-table write that did not complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterError<E> {
    /// A register access failed.
    Access(E),
    /// `STATUS.BUSY` was still set after [`IDLE_POLLS`] reads: the tables' write engine hangs.
    Busy,
}

impl<E: std::fmt::Display> std::fmt::Display for FilterError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterError::Access(e) => e.fmt(f),
            FilterError::Busy => write!(
                f,
                "the filter tables stayed busy (STATUS.BUSY) for {IDLE_POLLS} reads: the device's table writer hangs; reset the device"
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for FilterError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FilterError::Access(e) => Some(e),
            FilterError::Busy => None,
        }
    }
}

/// Waits until the tables' write engine is idle (`STATUS.BUSY` clear): the previous commit is
/// carried out, and a new one is taken.
pub fn wait_idle<R: RegisterAccess + ?Sized>(regs: &mut R) -> Result<(), FilterError<R::Error>> {
    for _ in 0..IDLE_POLLS {
        let status = regs.read32(reg(&fr::STATUS)).map_err(FilterError::Access)?;
        if fr::STATUS_BUSY.get(status) == 0 {
            return Ok(());
        }
    }
    Err(FilterError::Busy)
}

/// Writes `number` to the commit register `commit` (`COMMIT` or `PROFILE_COMMIT`) once the
/// write engine is idle; returns while the device carries it out.
pub fn commit<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    commit: &Reg,
    number: u32,
) -> Result<(), FilterError<R::Error>> {
    wait_idle(regs)?;
    regs.write32(reg(commit), number)
        .map_err(FilterError::Access)
}

fn stage_action<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    action: u16,
    enabled: bool,
) -> Result<(), R::Error> {
    regs.write32(
        reg(&fr::ENTRY),
        fr::ENTRY_ACTION.put(u32::from(action)) | fr::ENTRY_ENABLE.put(u32::from(enabled)),
    )
}

/// Stages ternary entry `e` and commits it as entry `index`; returns while the device replaces
/// the entry (frames looked up meanwhile see the old one). The caller makes sure no one else
/// stages an entry meanwhile, and that `index` is below the device's `NUM_FILTERS` (the device
/// refuses, and counts, a commit past it).
pub fn commit_entry<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    index: u32,
    e: &Entry,
) -> Result<(), FilterError<R::Error>> {
    let mut stage = || -> Result<(), R::Error> {
        for w in 0..KEY_WORDS {
            regs.write32(page(fr::VALUE_BASE + 4 * w), e.value.word(w))?;
            regs.write32(page(fr::MASK_BASE + 4 * w), e.mask.word(w))?;
        }
        stage_action(regs, e.action, e.enabled)
    };
    stage().map_err(FilterError::Access)?;
    commit(regs, &fr::COMMIT, index)
}

/// Writes ternary entry `index` whole ([`commit_entry`]) and returns once the device uses it.
pub fn write_entry<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    index: u32,
    e: &Entry,
) -> Result<(), FilterError<R::Error>> {
    commit_entry(regs, index, e)?;
    wait_idle(regs)
}

/// Disables ternary entry `index` (frames it matched fall to higher numbers or the default
/// action) and returns once that is in effect.
pub fn clear_entry<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    index: u32,
) -> Result<(), FilterError<R::Error>> {
    stage_action(regs, 0, false).map_err(FilterError::Access)?;
    commit(regs, &fr::COMMIT, index)?;
    wait_idle(regs)
}

/// Stages slot `slot` of exact-match profile `profile` and commits it: the profile's key words
/// of `value` (bits outside the profile's mask must be 0, or the entry never matches), the
/// action word, and `valid`; returns while the device writes it. Which slot a key may go to is
/// the caller's business (`evnic_regs::exact`): the device only probes a few slots of the key's
/// sequence.
pub fn commit_exact<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    profile: u8,
    slot: u16,
    value: &KeyBits,
    action: u16,
    valid: bool,
) -> Result<(), FilterError<R::Error>> {
    let mut stage = || -> Result<(), R::Error> {
        for w in PROFILES[usize::from(profile)].word_list() {
            regs.write32(page(fr::VALUE_BASE + 4 * w), value.word(w))?;
        }
        stage_action(regs, action, valid)
    };
    stage().map_err(FilterError::Access)?;
    let n = EntryIndex::Exact { profile, slot }.encode();
    commit(regs, &fr::COMMIT, u32::from(n))
}

/// Writes an exact-match slot ([`commit_exact`]) and returns once the device uses it.
pub fn write_exact<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    profile: u8,
    slot: u16,
    value: &KeyBits,
    action: u16,
    valid: bool,
) -> Result<(), FilterError<R::Error>> {
    commit_exact(regs, profile, slot, value, action, valid)?;
    wait_idle(regs)
}

/// Invalidates every slot of exact-match profile `profile` (`1 << slots_log2` of them): one
/// staged invalid entry, committed to each slot in turn; returns once the last is in effect.
pub fn clear_exact_table<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    profile: u8,
    slots_log2: u32,
) -> Result<(), FilterError<R::Error>> {
    commit_exact(regs, profile, 0, &KeyBits::default(), 0, false)?;
    for slot in 1..1u16 << slots_log2 {
        let n = EntryIndex::Exact { profile, slot }.encode();
        commit(regs, &fr::COMMIT, u32::from(n))?;
    }
    wait_idle(regs)
}

/// Sets exact-match profile `profile`'s mask (its bits within the profile's key words) and
/// returns once it is in use. Change it only while the profile's table is empty: its entries
/// were written for the old mask.
pub fn set_profile_mask<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    profile: u8,
    mask: &KeyBits,
) -> Result<(), FilterError<R::Error>> {
    let mut stage = || -> Result<(), R::Error> {
        for w in 0..KEY_WORDS {
            regs.write32(page(fr::MASK_BASE + 4 * w), mask.word(w))?;
        }
        Ok(())
    };
    stage().map_err(FilterError::Access)?;
    commit(regs, &fr::PROFILE_COMMIT, u32::from(profile))?;
    wait_idle(regs)
}

/// Sets what happens to frames no enabled entry matches: an action word of kind VI or DROP
/// (the device refuses, and counts, any other kind).
pub fn set_default_action<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    action: u16,
) -> Result<(), R::Error> {
    regs.write32(reg(&fr::DEFAULT_ACTION), u32::from(action))
}

/// Sets whether frames with a bad FCS are dropped (counted) or delivered flagged.
pub fn set_fcs_drop<R: RegisterAccess + ?Sized>(regs: &mut R, drop: bool) -> Result<(), R::Error> {
    regs.write32(
        reg(&fr::RX_CONFIG),
        fr::RX_CONFIG_FCS_DROP.put(u32::from(drop)),
    )
}

/// Frames entry `index` has matched (saturating).
pub fn hits<R: RegisterAccess + ?Sized>(regs: &mut R, index: u32) -> Result<u32, R::Error> {
    regs.read32(page(fr::HITS_BASE + 4 * index))
}

/// Frames the entry numbered `n` (ternary or exact, [`EntryIndex::encode`]) has matched
/// (saturating), through `HIT_SELECT` and `HIT_COUNT`. The caller makes sure no one else
/// selects another entry meanwhile.
pub fn hit_count<R: RegisterAccess + ?Sized>(regs: &mut R, n: u16) -> Result<u32, R::Error> {
    regs.write32(reg(&fr::HIT_SELECT), u32::from(n))?;
    regs.read32(reg(&fr::HIT_COUNT))
}

/// Clears the hit counter of the entry numbered `n` (ternary or exact) through `HIT_SELECT`
/// and `HIT_COUNT` (any write clears it). The caller makes sure no one else selects another
/// entry meanwhile.
pub fn clear_hit_count<R: RegisterAccess + ?Sized>(regs: &mut R, n: u16) -> Result<(), R::Error> {
    regs.write32(reg(&fr::HIT_SELECT), u32::from(n))?;
    regs.write32(reg(&fr::HIT_COUNT), 0)
}

/// One exact-match table as the device reports it (`PROFILE_SLOTS<p>`, `PROFILE_WORDS<p>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExactProfileParams {
    /// The table has `1 << slots_log2` slots.
    pub slots_log2: u32,
    /// Bit `w` set: the profile stores key word `w`.
    pub words: u32,
}

/// The device's exact-match tables: how many probes it reads per lookup and each profile's
/// shape, in precedence order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactParams {
    /// Probes per profile and lookup (`EXACT_HOPS`).
    pub hops: u32,
    /// The profiles (`EXACT_PROFILES` of them).
    pub profiles: Vec<ExactProfileParams>,
}

/// Reads the exact-match tables' parameters from the filter page. A device reporting more
/// profiles than an entry number can name (8) is taken at its first 8.
pub fn exact_params<R: RegisterAccess + ?Sized>(regs: &mut R) -> Result<ExactParams, R::Error> {
    let hops = regs.read32(reg(&fr::EXACT_HOPS))?;
    let n = regs.read32(reg(&fr::EXACT_PROFILES))?.min(8);
    let mut profiles = Vec::with_capacity(n as usize);
    for p in 0..n {
        profiles.push(ExactProfileParams {
            slots_log2: regs.read32(page(fr::PROFILE_SLOTS_BASE + 4 * p))?,
            words: regs.read32(page(fr::PROFILE_WORDS_BASE + 4 * p))?,
        });
    }
    Ok(ExactParams { hops, profiles })
}

/// Clears entry `index`'s hit counter.
pub fn clear_hits<R: RegisterAccess + ?Sized>(regs: &mut R, index: u32) -> Result<(), R::Error> {
    regs.write32(page(fr::HITS_BASE + 4 * index), 0)
}

/// The receive path's counters: every frame is counted once in `frames`, and once in
/// `delivered` or one drop reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RxCounters {
    /// Frames received (`RX_FRAMES`).
    pub frames: u32,
    /// Frames that produced an RX event (`RX_DELIVERED`).
    pub delivered: u32,
    /// Frames dropped, by reason (`DROP_*`), in [`DropReason::ALL`] order.
    pub dropped: Vec<(DropReason, u32)>,
}

impl RxCounters {
    /// Frames dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u32 {
        self.dropped
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}

/// Reads the receive path's counters.
pub fn rx_counters<R: RegisterAccess + ?Sized>(regs: &mut R) -> Result<RxCounters, R::Error> {
    let frames = regs.read32(reg(&fr::RX_FRAMES))?;
    let delivered = regs.read32(reg(&fr::RX_DELIVERED))?;
    let mut dropped = Vec::with_capacity(DropReason::ALL.len());
    for r in DropReason::ALL {
        dropped.push((r, regs.read32(reg(r.counter()))?));
    }
    Ok(RxCounters {
        frames,
        delivered,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regs::fake::FakeRegs;
    use evnic_regs::key;

    #[test]
    fn an_entry_is_staged_whole_then_committed() {
        let mut value = KeyBits::default();
        value.set(key::L4_DST, 319);
        let mut mask = KeyBits::default();
        mask.set(key::L4_DST, 0xffff);
        let e = Entry {
            value,
            mask,
            action: fr::action_vi(2),
            enabled: true,
        };
        let mut regs = FakeRegs::default();
        write_entry(&mut regs, 7, &e).unwrap();
        let n = regs.writes.len();
        assert_eq!(n, 2 * KEY_WORDS as usize + 2);
        assert_eq!(
            regs.writes[n - 1],
            (reg(&fr::COMMIT), 7),
            "the commit comes last"
        );
        assert_eq!(
            regs.writes[n - 2],
            (
                reg(&fr::ENTRY),
                fr::ENTRY_ACTION.put(2) | fr::ENTRY_ENABLE.put(1)
            )
        );
        let w = key::L4_DST.lsb / 32;
        assert_eq!(regs.values[&page(fr::VALUE_BASE + 4 * w)] >> 16, 319);
        clear_entry(&mut regs, 7).unwrap();
        assert_eq!(
            &regs.writes[n..],
            &[(reg(&fr::ENTRY), 0), (reg(&fr::COMMIT), 7)]
        );
    }

    #[test]
    fn no_commit_is_written_while_the_tables_are_busy() {
        let mut regs = FakeRegs::default();
        regs.values.insert(reg(&fr::STATUS), fr::STATUS_BUSY.put(1));
        assert_eq!(
            write_entry(&mut regs, 3, &Entry::default()),
            Err(FilterError::Busy)
        );
        assert!(
            regs.writes.iter().all(|(o, _)| *o != reg(&fr::COMMIT)),
            "a COMMIT while BUSY would be refused"
        );
        assert!(FilterError::<std::convert::Infallible>::Busy
            .to_string()
            .contains("STATUS.BUSY"));
    }

    #[test]
    fn an_exact_entry_stages_its_profiles_words_then_commits_its_number() {
        let mut value = KeyBits::default();
        value.set(key::L4_DST, 319);
        let mut regs = FakeRegs::default();
        write_exact(&mut regs, 1, 9, &value, fr::action_vi(4), true).unwrap();
        let words = PROFILES[1].word_list();
        assert_eq!(regs.writes.len(), words.len() + 2);
        for (w, (o, v)) in words.iter().zip(&regs.writes) {
            assert_eq!((*o, *v), (page(fr::VALUE_BASE + 4 * w), value.word(*w)));
        }
        let n = EntryIndex::Exact {
            profile: 1,
            slot: 9,
        }
        .encode();
        assert_eq!(
            *regs.writes.last().unwrap(),
            (reg(&fr::COMMIT), u32::from(n))
        );
        let before = regs.writes.len();
        clear_exact_table(&mut regs, 2, 3).unwrap();
        let commits: Vec<u32> = regs.writes[before..]
            .iter()
            .filter(|(o, _)| *o == reg(&fr::COMMIT))
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(commits, (0..8).map(|s| 0xa000 | s).collect::<Vec<_>>());
        set_profile_mask(&mut regs, 2, &value).unwrap();
        assert_eq!(*regs.writes.last().unwrap(), (reg(&fr::PROFILE_COMMIT), 2));
        hit_count(&mut regs, n).unwrap();
        assert_eq!(
            *regs.writes.last().unwrap(),
            (reg(&fr::HIT_SELECT), u32::from(n))
        );
        clear_hit_count(&mut regs, n).unwrap();
        assert_eq!(*regs.writes.last().unwrap(), (reg(&fr::HIT_COUNT), 0));
        regs.values.insert(reg(&fr::EXACT_HOPS), 4);
        regs.values.insert(reg(&fr::EXACT_PROFILES), 2);
        regs.values.insert(page(fr::PROFILE_SLOTS_BASE + 4), 9);
        regs.values.insert(page(fr::PROFILE_WORDS_BASE + 4), 0x7);
        let x = exact_params(&mut regs).unwrap();
        assert_eq!(x.hops, 4);
        assert_eq!(
            x.profiles,
            vec![
                ExactProfileParams {
                    slots_log2: 0,
                    words: 0
                },
                ExactProfileParams {
                    slots_log2: 9,
                    words: 7
                }
            ]
        );
    }
}
