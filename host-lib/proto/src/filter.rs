//! The receive filter table and the receive path's settings and counters: every write of a
//! filter entry goes through this module.
//!
//! An entry is staged in the filter page (`VALUE*`, `MASK*`, `ENTRY`) and committed by writing
//! its index to `COMMIT`, which replaces the whole entry at one clock edge: a frame sees the old
//! entry or the new one, never a mix. Among the enabled entries that match a frame, the lowest
//! index wins.

use crate::regs::RegisterAccess;
use evnic_regs::key::{KeyBits, KEY_WORDS};
use evnic_regs::map::filter::{self as fr, DropReason};
use evnic_regs::Reg;

/// A filter entry as the table holds it.
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

/// Writes entry `index` whole (staged, then committed at one clock edge). The caller makes sure
/// no one else stages an entry meanwhile, and that `index` is below the device's
/// `NUM_FILTERS` (the device refuses, and counts, a commit past it).
pub fn write_entry<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    index: u32,
    e: &Entry,
) -> Result<(), R::Error> {
    for w in 0..KEY_WORDS {
        regs.write32(page(fr::VALUE_BASE + 4 * w), e.value.word(w))?;
        regs.write32(page(fr::MASK_BASE + 4 * w), e.mask.word(w))?;
    }
    regs.write32(
        reg(&fr::ENTRY),
        fr::ENTRY_ACTION.put(u32::from(e.action)) | fr::ENTRY_ENABLE.put(u32::from(e.enabled)),
    )?;
    regs.write32(reg(&fr::COMMIT), index)
}

/// Disables entry `index` (frames it matched fall to higher indices or the default action).
pub fn clear_entry<R: RegisterAccess + ?Sized>(regs: &mut R, index: u32) -> Result<(), R::Error> {
    regs.write32(reg(&fr::ENTRY), 0)?;
    regs.write32(reg(&fr::COMMIT), index)
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
}
