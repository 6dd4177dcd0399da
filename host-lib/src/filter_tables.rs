//! The library's copy of the device's filter tables (the device cannot be read back) and the
//! placement of filters in them: which table, which entry or slot, and the device writes that
//! carry a change out. Nothing here touches the device: [`Tables`] returns [`Op`]s, which
//! `crate::filters` performs in order.
//!
//! # Placement
//!
//! A filter added without an explicit index goes to an exact-match table when its mask (after
//! [`exact_mask`]) equals a profile's mask and the order below allows it; its slot is the
//! first free one of its key's probe sequence (the shared hash of `evnic_regs::exact`), or one
//! freed by moving other entries to another of their own probe slots ([`Placement`]). Otherwise
//! it goes to the ternary table.
//!
//! # Order
//!
//! The device decides a frame by the exact-match hit of the lowest-numbered profile, else the
//! lowest matching ternary entry. A filter added by [`Tables::add`] must never take frames from
//! a filter installed before it, so it goes to profile `p` only when no installed filter that
//! overlaps it (some frame matches both) sits in the ternary table or in a profile numbered `p`
//! or above; and to the lowest free ternary entry after every overlapping ternary entry. Two
//! filters of one mask and different keys never overlap, so a table of specific filters fills
//! without constraint.

use crate::filter_spec::FilterSpec;
use evnic_proto::filter::{Entry, ExactParams};
use evnic_regs::exact::{self as ex, PlaceError, Placement, Profile, SlotWrite};
use evnic_regs::key::{self, KeyBits};
use evnic_regs::map::filter::EntryIndex;
use std::collections::BTreeMap;

/// How the library uses one exact-match profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileUse {
    /// The profile holds filters of exactly this mask.
    Mask(KeyBits),
    /// The first filter whose mask no profile has, that this profile's key words cover,
    /// claims the profile for its mask; the profile is free again when its last filter goes.
    Claim,
    /// The library puts no filter in this profile.
    Off,
}

/// Why a filter sits in the ternary table rather than an exact-match table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TernaryReason {
    /// It was placed at a given ternary index (`add_filter_at`, a batch) or replaced there.
    Explicit,
    /// No profile has (or may claim) its mask.
    NoProfile,
    /// In every profile of its mask it would take frames from an installed filter that
    /// overlaps it: the first such filter's entry number.
    Order {
        /// The overlapping filter's entry number.
        entry: u32,
    },
    /// The profile of its mask (the last one tried) had no free slot within the key's probes,
    /// even after moving entries.
    Full {
        /// The profile.
        profile: u8,
    },
}

impl std::fmt::Display for TernaryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TernaryReason::Explicit => write!(f, "placed at its index"),
            TernaryReason::NoProfile => write!(f, "no exact-match profile has its mask"),
            TernaryReason::Order { entry } => write!(
                f,
                "an exact entry would take frames from entry {} that overlaps it",
                entry_name(*entry)
            ),
            TernaryReason::Full { profile } => {
                write!(f, "exact-match profile {profile} is full for its key")
            }
        }
    }
}

/// An entry number as text: `7` for ternary entry 7, `x1.37` for slot 37 of profile 1.
pub fn entry_name(n: u32) -> String {
    match EntryIndex::decode(n) {
        Some(EntryIndex::Exact { profile, slot }) => format!("x{profile}.{slot}"),
        _ => n.to_string(),
    }
}

/// The mask a filter needs as an exact-match entry: its own, less the upper 96 bits of the
/// addresses when it requires IP version 4 (the parser puts an IPv4 address in bits 31:0 of
/// the field and zeros above, so the filter syntax masks them; a profile built for IPv4 does
/// not store those words).
pub fn exact_mask(spec: &FilterSpec) -> KeyBits {
    let mut m = spec.mask;
    let full = (1u128 << key::IP_VERSION.width) - 1;
    if m.get(key::IP_VERSION) == full && spec.value.get(key::IP_VERSION) == 4 {
        for f in [key::SRC_IP, key::DST_IP] {
            if spec.value.get(f) >> 32 == 0 {
                m.set(f, m.get(f) & 0xffff_ffff);
            }
        }
    }
    m
}

const ETHERTYPE_IPV4: u128 = 0x0800;
const ETHERTYPE_IPV6: u128 = 0x86dd;
/// The ethertypes under which the parser also finds IPv4 and IPv6 (MPLS, PPPoE session).
const ETHERTYPES_IP_INSIDE: [u128; 3] = [0x8847, 0x8848, 0x8864];

/// True when `spec` requires a 1 bit in one of `fields` (so the field is not 0).
fn needs_nonzero(spec: &FilterSpec, fields: &[key::KeyField]) -> bool {
    fields
        .iter()
        .any(|f| spec.value.get(*f) & spec.mask.get(*f) != 0)
}

/// The ethertype every frame `spec` matches has, when it requires one. (The IP fields and
/// the OAM fields no longer imply one: IP is also found under MPLS and PPPoE, and the OAM
/// fields share their bits with the MPLS label.)
fn ethertype_of(spec: &FilterSpec) -> Option<u128> {
    let full = |f: key::KeyField| spec.mask.get(f) == (1u128 << f.width) - 1;
    full(key::ETHERTYPE).then(|| spec.value.get(key::ETHERTYPE))
}

/// The IP version every frame `spec` matches has, when it requires 4 or 6.
fn ip_version_of(spec: &FilterSpec) -> Option<u128> {
    let full = (1u128 << key::IP_VERSION.width) - 1;
    let v = spec.value.get(key::IP_VERSION);
    (spec.mask.get(key::IP_VERSION) == full && (v == 4 || v == 6)).then_some(v)
}

/// True when a frame of `ethertype` can carry an IP packet of `version` (any, when `None`)
/// that the parser reads: directly, or under MPLS or PPPoE.
fn carries_ip(ethertype: u128, version: Option<u128>) -> bool {
    ETHERTYPES_IP_INSIDE.contains(&ethertype)
        || match version {
            Some(4) => ethertype == ETHERTYPE_IPV4,
            Some(6) => ethertype == ETHERTYPE_IPV6,
            _ => ethertype == ETHERTYPE_IPV4 || ethertype == ETHERTYPE_IPV6,
        }
}

/// True when `spec` only matches IP frames (it requires a non-zero IP field).
fn needs_ip(spec: &FilterSpec) -> bool {
    needs_nonzero(
        spec,
        &[
            key::IP_VERSION,
            key::IP_PROTO,
            key::L4_SRC,
            key::L4_DST,
            key::SRC_IP,
            key::DST_IP,
        ],
    )
}

/// What [`overlap`] needs of a filter beyond its value and mask, worked out once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frames {
    /// The ethertype of every frame it matches, if one.
    ethertype: Option<u128>,
    /// The IP version of every frame it matches, if one.
    ip_version: Option<u128>,
    /// It matches IP frames only.
    ip: bool,
}

impl Frames {
    pub fn of(spec: &FilterSpec) -> Frames {
        Frames {
            ethertype: ethertype_of(spec),
            ip_version: ip_version_of(spec),
            ip: needs_ip(spec),
        }
    }
}

/// True when some frame may match both filters: their values agree wherever both masks
/// compare, and the parser's rules (which fields a frame of a given ethertype can have
/// non-zero) do not keep them apart (`udp` and `ethertype 0x8902` never meet). Erring towards
/// "overlap" only costs placement freedom.
pub fn overlap(a: &FilterSpec, fa: Frames, b: &FilterSpec, fb: Frames) -> bool {
    let both = a.mask & b.mask;
    if (a.value & both) != (b.value & both) {
        return false;
    }
    if let (Some(x), Some(y)) = (fa.ethertype, fb.ethertype) {
        if x != y {
            return false;
        }
    }
    let apart = |ip: Frames, other: Frames| {
        ip.ip
            && other
                .ethertype
                .is_some_and(|e| !carries_ip(e, ip.ip_version))
    };
    !(apart(fa, fb) || apart(fb, fa))
}

/// One device write, in the order [`Tables`] returns them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Set profile `profile`'s mask; first invalidate all its slots when `clear` (their state
    /// is unknown to this process).
    ProfileMask {
        profile: u8,
        mask: KeyBits,
        clear: bool,
    },
    /// Store `key` (the profile's words, masked) and `action` in a slot. `prev` is the filter
    /// the slot held before (`owner` again when the entry is rewritten in place).
    ExactSet {
        profile: u8,
        slot: u16,
        key: KeyBits,
        action: u16,
        prev: Option<u64>,
        owner: u64,
    },
    /// Invalidate a slot; its hits so far belong to `prev` when that filter lives on elsewhere.
    ExactClear {
        profile: u8,
        slot: u16,
        prev: Option<u64>,
    },
    /// Write ternary entry `index` (`fresh`: it was free, so its hit counter starts at 0).
    Ternary {
        index: u32,
        entry: Entry,
        fresh: bool,
    },
    /// Disable ternary entry `index`.
    TernaryClear { index: u32 },
}

/// One filter as installed by this process.
#[derive(Clone, Debug)]
pub struct Installed {
    pub spec: FilterSpec,
    /// The frames it can match, for [`overlap`].
    pub frames: Frames,
    pub at: EntryIndex,
    /// An exact entry's compressed, masked key.
    pub key: Vec<u32>,
    /// Why it is ternary (`None`: exact).
    pub reason: Option<TernaryReason>,
    /// Hits counted in slots the filter has left.
    pub carried: u32,
}

/// One exact-match table as the library uses it.
#[derive(Clone, Debug)]
pub struct ExactTable {
    pub setting: ProfileUse,
    claimed: Option<KeyBits>,
    /// The mask this process last wrote to the device (`None`: none yet, and the slots hold
    /// whatever an earlier user left there).
    written: Option<KeyBits>,
    pub place: Placement<u64>,
}

impl ExactTable {
    /// The mask of the filters the table holds or takes.
    pub fn mask(&self) -> Option<KeyBits> {
        match self.setting {
            ProfileUse::Mask(m) => Some(m),
            ProfileUse::Claim => self.claimed,
            ProfileUse::Off => None,
        }
    }
    /// The profile.
    pub fn profile(&self) -> &Profile {
        self.place.profile()
    }
}

/// Why [`Tables::add`] found no place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoPlace {
    /// Every ternary entry is in use (and no exact table could take it: `reason`).
    Full { reason: TernaryReason },
    /// Free ternary entries exist only before `after`, an overlapping entry.
    Order { after: u32 },
}

/// The default use of device profile `p` of shape `profile`: the masks of
/// `evnic_regs::exact::typical_masks` that the filter syntax writes (the IPv4 5-tuple, IPv4
/// destination /24 and port, the IPv6 5-tuple), and for the L2 profile destination MAC and
/// outer VLAN (`mac M vlan V`; the typical L2 mask also compares the tag count, which the
/// syntax cannot express). A profile whose words do not cover its default claims masks.
pub fn default_use(p: usize, profile: &Profile) -> ProfileUse {
    let typical = ex::typical_masks();
    let m = match p {
        2 => KeyBits::mask_of(&[key::DST_MAC, key::VLAN_OUTER]),
        _ if p < typical.len() => typical[p],
        _ => return ProfileUse::Claim,
    };
    if profile.covers(&m) {
        ProfileUse::Mask(m)
    } else {
        ProfileUse::Claim
    }
}

/// The filter tables as this process wrote them.
pub struct Tables {
    ternary: Vec<Option<u64>>,
    pub exact: Vec<ExactTable>,
    pub filters: BTreeMap<u64, Installed>,
}

impl Tables {
    /// Empty tables of `ternary` entries and the exact-match tables of `params` (none when the
    /// device reads a different number of probes than the shared placement assumes, or a
    /// profile does not fit an entry number).
    pub fn new(ternary: u32, params: &ExactParams) -> Tables {
        let usable = params.hops == ex::HOPS;
        let exact = params
            .profiles
            .iter()
            .enumerate()
            .take_while(|_| usable)
            .map(|(p, d)| {
                let base = ex::PROFILES.get(p).copied().unwrap_or(ex::PROFILES[0]);
                let profile = Profile {
                    name: if p < ex::PROFILES.len() {
                        base.name
                    } else {
                        "device"
                    },
                    words: d.words & ((1 << key::KEY_WORDS) - 1),
                    slots_log2: d.slots_log2.min(12),
                    doc: base.doc,
                };
                let fits =
                    d.slots_log2 <= 12 && d.words >> key::KEY_WORDS == 0 && profile.words != 0;
                ExactTable {
                    setting: if fits {
                        default_use(p, &profile)
                    } else {
                        ProfileUse::Off
                    },
                    claimed: None,
                    written: None,
                    place: Placement::new(profile),
                }
            })
            .collect();
        Tables {
            ternary: vec![None; ternary as usize],
            exact,
            filters: BTreeMap::new(),
        }
    }

    /// Ternary entries.
    pub fn ternary_count(&self) -> u32 {
        self.ternary.len() as u32
    }

    /// The filter in ternary entry `index`.
    pub fn ternary_owner(&self, index: u32) -> Option<u64> {
        self.ternary.get(index as usize).copied().flatten()
    }

    /// The filter at entry number `at`.
    pub fn owner(&self, at: EntryIndex) -> Option<u64> {
        match at {
            EntryIndex::Ternary(i) => self.ternary_owner(u32::from(i)),
            EntryIndex::Exact { profile, slot } => self
                .exact
                .get(usize::from(profile))
                .filter(|t| u32::from(slot) < t.profile().slots())
                .and_then(|t| t.place.slot(u32::from(slot)).map(|e| e.1)),
        }
    }

    /// True when the device has entry number `n`.
    pub fn has_entry(&self, n: u32) -> bool {
        if n < self.ternary_count() {
            return true;
        }
        match EntryIndex::decode(n) {
            Some(EntryIndex::Exact { profile, slot }) => self
                .exact
                .get(usize::from(profile))
                .is_some_and(|t| u32::from(slot) < t.profile().slots()),
            _ => false,
        }
    }

    /// Sets how profile `p` is used; refused while its table holds entries, or for a mask
    /// with bits outside the profile's words.
    pub fn set_use(&mut self, p: usize, setting: ProfileUse) -> Result<(), String> {
        let t = &mut self.exact[p];
        if !t.place.is_empty() {
            return Err(format!(
                "its table holds {} entries written for its current mask",
                t.place.len()
            ));
        }
        if let ProfileUse::Mask(m) = setting {
            if !t.profile().covers(&m) {
                return Err(format!(
                    "the mask has bits outside the key words it stores ({:#x})",
                    t.profile().words
                ));
            }
        }
        t.setting = setting;
        t.claimed = None;
        Ok(())
    }

    /// The exact-match profiles that may take a filter of exact mask `mask`, in the order
    /// tried: `prefer` first, then those with the mask, then claimable ones that cover it
    /// (fewest words first).
    fn candidates(&self, mask: &KeyBits, prefer: Option<usize>) -> Vec<usize> {
        let mut same: Vec<usize> = (0..self.exact.len())
            .filter(|&p| self.exact[p].mask() == Some(*mask))
            .collect();
        if let Some(q) = prefer {
            if let Some(i) = same.iter().position(|&p| p == q) {
                same.remove(i);
                same.insert(0, q);
            }
        }
        if *mask == KeyBits::default() {
            return same;
        }
        let mut claim: Vec<usize> = (0..self.exact.len())
            .filter(|&p| {
                let t = &self.exact[p];
                t.setting == ProfileUse::Claim
                    && t.claimed.is_none()
                    && t.place.is_empty()
                    && t.profile().covers(mask)
            })
            .collect();
        claim.sort_by_key(|&p| (self.exact[p].profile().words.count_ones(), p));
        same.extend(claim);
        same
    }

    /// The first installed filter (other than `except`) that overlaps `spec` and that the
    /// device would rank below an entry of profile `p`.
    fn outranked(&self, spec: &FilterSpec, p: usize, except: Option<u64>) -> Option<u32> {
        let fs = Frames::of(spec);
        self.filters
            .iter()
            .filter(|(g, _)| Some(**g) != except)
            .find(|(_, b)| {
                let below = match b.at {
                    EntryIndex::Ternary(_) => true,
                    EntryIndex::Exact { profile, .. } => usize::from(profile) >= p,
                };
                below && overlap(spec, fs, &b.spec, b.frames)
            })
            .map(|(_, b)| u32::from(b.at.encode()))
    }

    /// Places filter `gen` in an exact-match table: its slot, key and the writes, or why not.
    fn place_exact(
        &mut self,
        gen: u64,
        spec: &FilterSpec,
        except: Option<u64>,
        prefer: Option<usize>,
    ) -> Result<(EntryIndex, Vec<u32>, Vec<Op>), TernaryReason> {
        let mask = exact_mask(spec);
        let mut reason = TernaryReason::NoProfile;
        for p in self.candidates(&mask, prefer) {
            if let Some(entry) = self.outranked(spec, p, except) {
                reason = TernaryReason::Order { entry };
                continue;
            }
            let profile = *self.exact[p].profile();
            let key = ex::masked_words(&profile, &spec.value, &mask);
            let before: Vec<Option<u64>> = (0..profile.slots())
                .map(|s| self.exact[p].place.slot(s).map(|e| e.1))
                .collect();
            let (writes, slot) = match self.exact[p].place.insert(key.clone(), gen) {
                Ok(w) => w,
                Err(PlaceError::Full) => {
                    reason = TernaryReason::Full { profile: p as u8 };
                    continue;
                }
                Err(PlaceError::BadKey) => continue,
            };
            let mut ops = Vec::new();
            let t = &mut self.exact[p];
            if t.written != Some(mask) {
                ops.push(Op::ProfileMask {
                    profile: p as u8,
                    mask,
                    clear: t.written.is_none(),
                });
                t.written = Some(mask);
            }
            if t.setting == ProfileUse::Claim {
                t.claimed = Some(mask);
            }
            for w in writes {
                match w {
                    SlotWrite::Set {
                        slot: s,
                        key: k,
                        value,
                    } => {
                        // A moved entry keeps its own action (the filter being replaced too,
                        // while its old key still stands).
                        let action = match self.filters.get(&value) {
                            Some(f) if !(value == gen && k == key) => f.spec.action.encode(),
                            _ => spec.action.encode(),
                        };
                        if value != gen {
                            if let Some(f) = self.filters.get_mut(&value) {
                                f.at = EntryIndex::Exact {
                                    profile: p as u8,
                                    slot: s as u16,
                                };
                            }
                        }
                        ops.push(Op::ExactSet {
                            profile: p as u8,
                            slot: s as u16,
                            key: profile.expand(&k),
                            action,
                            prev: before[s as usize],
                            owner: value,
                        });
                    }
                    SlotWrite::Clear { slot: s } => ops.push(Op::ExactClear {
                        profile: p as u8,
                        slot: s as u16,
                        prev: before[s as usize],
                    }),
                }
            }
            let at = EntryIndex::Exact {
                profile: p as u8,
                slot: slot as u16,
            };
            return Ok((at, key, ops));
        }
        Err(reason)
    }

    /// The ternary entry for `spec`: the lowest free one after every overlapping ternary entry
    /// (other than `except`'s).
    fn place_ternary(&self, spec: &FilterSpec, except: Option<u64>) -> Result<u32, NoPlace> {
        let fs = Frames::of(spec);
        let after = self
            .filters
            .iter()
            .filter(|(g, _)| Some(**g) != except)
            .filter_map(|(_, b)| match b.at {
                EntryIndex::Ternary(i) if overlap(spec, fs, &b.spec, b.frames) => {
                    Some(u32::from(i))
                }
                _ => None,
            })
            .max();
        let lo = after.map_or(0, |a| a + 1);
        match (lo..self.ternary_count()).find(|&i| self.ternary[i as usize].is_none()) {
            Some(i) => Ok(i),
            None => match after {
                Some(a) if self.ternary[..lo as usize].iter().any(Option::is_none) => {
                    Err(NoPlace::Order { after: a })
                }
                _ => Err(NoPlace::Full {
                    reason: TernaryReason::NoProfile,
                }),
            },
        }
    }

    /// Adds filter `gen`: where it goes, and the writes.
    pub fn add(&mut self, gen: u64, spec: &FilterSpec) -> Result<Vec<Op>, NoPlace> {
        match self.place_exact(gen, spec, None, None) {
            Ok((at, key, ops)) => {
                self.record(gen, spec, at, key, None);
                Ok(ops)
            }
            Err(reason) => {
                let index = self.place_ternary(spec, None).map_err(|e| match e {
                    NoPlace::Full { .. } => NoPlace::Full { reason },
                    o => o,
                })?;
                Ok(self.put_ternary(gen, spec, index, Some(reason)))
            }
        }
    }

    /// Puts filter `gen` in free ternary entry `index` (the caller checked it is free).
    pub fn add_at(&mut self, gen: u64, spec: &FilterSpec, index: u32) -> Vec<Op> {
        self.put_ternary(gen, spec, index, Some(TernaryReason::Explicit))
    }

    fn put_ternary(
        &mut self,
        gen: u64,
        spec: &FilterSpec,
        index: u32,
        reason: Option<TernaryReason>,
    ) -> Vec<Op> {
        self.ternary[index as usize] = Some(gen);
        self.record(
            gen,
            spec,
            EntryIndex::Ternary(index as u16),
            Vec::new(),
            reason,
        );
        vec![Op::Ternary {
            index,
            entry: spec.entry(),
            fresh: true,
        }]
    }

    fn record(
        &mut self,
        gen: u64,
        spec: &FilterSpec,
        at: EntryIndex,
        key: Vec<u32>,
        reason: Option<TernaryReason>,
    ) {
        let carried = self.filters.get(&gen).map_or(0, |f| f.carried);
        self.filters.insert(
            gen,
            Installed {
                frames: Frames::of(spec),
                spec: spec.clone(),
                at,
                key,
                reason,
                carried,
            },
        );
    }

    /// Replaces filter `gen`'s match and action. A ternary filter is rewritten in its entry
    /// (one commit). An exact filter is placed as [`Tables::add`] places a new filter (its own
    /// profile tried first): with the same key in the same profile it is rewritten in its slot
    /// (one commit); elsewhere the new entry is written before the old one is cleared, so every
    /// frame meets the old filter or the new one.
    pub fn replace(&mut self, gen: u64, spec: &FilterSpec) -> Result<Vec<Op>, NoPlace> {
        let old = self.filters[&gen].clone();
        let (p, old_slot) = match old.at {
            EntryIndex::Ternary(i) => {
                let f = self.filters.get_mut(&gen).expect("installed");
                f.spec = spec.clone();
                f.frames = Frames::of(spec);
                return Ok(vec![Op::Ternary {
                    index: u32::from(i),
                    entry: spec.entry(),
                    fresh: false,
                }]);
            }
            EntryIndex::Exact { profile, slot } => (usize::from(profile), slot),
        };
        let (mut ops, moved) = match self.place_exact(gen, spec, Some(gen), Some(p)) {
            Ok((at, key, ops)) => {
                let same =
                    at == EntryIndex::Exact {
                        profile: p as u8,
                        slot: old_slot,
                    } && key == old.key;
                self.record(gen, spec, at, key, None);
                (ops, !same)
            }
            Err(reason) => {
                let index = self.place_ternary(spec, Some(gen)).map_err(|e| match e {
                    NoPlace::Full { .. } => NoPlace::Full { reason },
                    o => o,
                })?;
                (self.put_ternary(gen, spec, index, Some(reason)), true)
            }
        };
        if moved {
            let s = self.exact[p]
                .place
                .remove(&old.key)
                .expect("the old key is in its table");
            self.release_if_empty(p);
            ops.push(Op::ExactClear {
                profile: p as u8,
                slot: s as u16,
                prev: Some(gen),
            });
        }
        Ok(ops)
    }

    fn release_if_empty(&mut self, p: usize) {
        let t = &mut self.exact[p];
        if t.place.is_empty() {
            t.claimed = None;
        }
    }

    /// Removes filter `gen`: the write that clears its entry.
    pub fn remove(&mut self, gen: u64) -> Option<(Installed, Op)> {
        let f = self.filters.remove(&gen)?;
        let op = match f.at {
            EntryIndex::Ternary(i) => {
                self.ternary[usize::from(i)] = None;
                Op::TernaryClear {
                    index: u32::from(i),
                }
            }
            EntryIndex::Exact { profile, slot } => {
                let p = usize::from(profile);
                self.exact[p].place.remove(&f.key);
                self.release_if_empty(p);
                Op::ExactClear {
                    profile,
                    slot,
                    prev: None,
                }
            }
        };
        Some((f, op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evnic_proto::filter::ExactProfileParams;

    /// Each profile's slots as the device holds them: key and action.
    type DeviceSlots = Vec<Vec<Option<(KeyBits, u16)>>>;

    fn params() -> ExactParams {
        ExactParams {
            hops: ex::HOPS,
            profiles: ex::PROFILES
                .iter()
                .map(|p| ExactProfileParams {
                    slots_log2: p.slots_log2,
                    words: p.words,
                })
                .collect(),
        }
    }

    fn spec(s: &str) -> FilterSpec {
        s.parse().unwrap()
    }

    /// An IPv4 UDP 5-tuple filter, number `i`.
    fn five_tuple(i: u32) -> FilterSpec {
        spec(&format!(
            "ipv4 src 10.{}.{}.1 ipv4 dst 192.168.0.2 udp src {} udp dst 4000 -> vi 1",
            i >> 8 & 0xff,
            i & 0xff,
            1000 + (i >> 16)
        ))
    }

    /// Performs `ops` on a copy of the exact tables as the device holds them, checking that
    /// each write is to a slot of the profile.
    fn apply(device: &mut [Vec<Option<(KeyBits, u16)>>], masks: &mut [KeyBits], ops: &[Op]) {
        for op in ops {
            match op {
                Op::ProfileMask {
                    profile,
                    mask,
                    clear,
                } => {
                    let t = &mut device[usize::from(*profile)];
                    if *clear {
                        t.iter_mut().for_each(|s| *s = None);
                    }
                    masks[usize::from(*profile)] = *mask;
                }
                Op::ExactSet {
                    profile,
                    slot,
                    key,
                    action,
                    ..
                } => device[usize::from(*profile)][usize::from(*slot)] = Some((*key, *action)),
                Op::ExactClear { profile, slot, .. } => {
                    device[usize::from(*profile)][usize::from(*slot)] = None
                }
                Op::Ternary { .. } | Op::TernaryClear { .. } => {}
            }
        }
    }

    /// What the device's exact tables decide for `frame` (a key): profile order, each probing
    /// its key's slots with the shared hash.
    fn lookup(
        device: &[Vec<Option<(KeyBits, u16)>>],
        masks: &[KeyBits],
        frame: &KeyBits,
    ) -> Option<EntryIndex> {
        for (p, prof) in ex::PROFILES.iter().enumerate() {
            let k = ex::masked_words(prof, frame, &masks[p]);
            let want = prof.expand(&k);
            for s in prof.probe(&k).slots() {
                if device[p][s as usize].is_some_and(|(v, _)| v == want) {
                    return Some(EntryIndex::Exact {
                        profile: p as u8,
                        slot: s as u16,
                    });
                }
            }
        }
        None
    }

    fn device() -> (DeviceSlots, Vec<KeyBits>) {
        (
            ex::PROFILES
                .iter()
                .map(|p| vec![None; p.slots() as usize])
                .collect(),
            vec![KeyBits::default(); ex::PROFILES.len()],
        )
    }

    #[test]
    fn overlap_follows_the_masks_and_the_parsers_rules() {
        let o = |a: &str, b: &str| {
            let (a, b) = (spec(&format!("{a} -> drop")), spec(&format!("{b} -> drop")));
            let (fa, fb) = (Frames::of(&a), Frames::of(&b));
            assert_eq!(
                overlap(&a, fa, &b, fb),
                overlap(&b, fb, &a, fa),
                "symmetric"
            );
            overlap(&a, fa, &b, fb)
        };
        assert!(o("udp", "udp dst 53"));
        assert!(o("any", "ethertype 0x8902"));
        assert!(!o("udp", "tcp"));
        assert!(!o("udp dst 53", "udp dst 54"));
        assert!(o("mac 02:00:00:00:00:01", "udp dst 53"));
        // Fields a frame of the other's ethertype never has.
        assert!(!o("udp", "ethertype 0x8902"));
        assert!(!o("oam level 3", "tcp"));
        assert!(!o("ipv4", "ipv6"));
        assert!(!o("ipv4", "ethertype 0x86dd"));
        assert!(o("ipv4", "ethertype 0x0800"));
        assert!(o("oam", "ethertype 0x8902"));
        assert!(!o("oam", "ethertype 0x0800"));
        assert!(o("udp", "vlan 5"));
        // IP under MPLS and PPPoE.
        assert!(o("ipv4", "ethertype 0x8847"));
        assert!(o("ipv6 udp dst 53", "ethertype 0x8864"));
        assert!(o("udp", "mpls 16"));
        assert!(!o("ipv6", "ethertype 0x0800"));
        assert!(!o("mpls 16", "oam"));
    }

    #[test]
    fn the_syntax_writes_the_default_masks() {
        let t = Tables::new(32, &params());
        let m = |s: &str| Some(exact_mask(&spec(s)));
        assert_eq!(
            t.exact[0].mask(),
            m("ipv4 src 10.0.0.1 ipv4 dst 10.0.0.2 udp src 1 udp dst 2 -> drop")
        );
        assert_eq!(
            t.exact[1].mask(),
            m("ipv4 dst 10.1.2.0/24 tcp dst 80 -> drop")
        );
        assert_eq!(t.exact[2].mask(), m("mac 02:00:00:00:00:01 vlan 5 -> drop"));
        assert_eq!(
            t.exact[3].mask(),
            m("ipv6 src ::1 ipv6 dst ::2 udp src 1 udp dst 2 -> drop")
        );
        // The IPv4 masks lose the address words an IPv4 key never sets.
        assert!(ex::PROFILES[0].covers(&t.exact[0].mask().unwrap()));
        assert_ne!(
            spec("ipv4 dst 10.1.2.0/24 tcp dst 80 -> drop").mask,
            t.exact[1].mask().unwrap()
        );
    }

    #[test]
    fn exact_filters_go_to_their_keys_probe_slots_and_are_found_there() {
        let mut t = Tables::new(32, &params());
        let (mut dev, mut masks) = device();
        let n = 460; // 90 % of profile 0
        for i in 0..n {
            let s = five_tuple(i);
            let ops = t.add(u64::from(i), &s).unwrap();
            apply(&mut dev, &mut masks, &ops);
            let f = &t.filters[&u64::from(i)];
            assert_eq!(f.reason, None, "filter {i} is exact");
            if i == 0 {
                assert!(matches!(
                    ops[0],
                    Op::ProfileMask {
                        profile: 0,
                        clear: true,
                        ..
                    }
                ));
            } else {
                assert!(!matches!(ops[0], Op::ProfileMask { .. }), "mask set once");
            }
        }
        // Every filter's frame key finds its own slot through the shared hash.
        let mut moved = 0;
        for i in 0..n {
            let s = five_tuple(i);
            let f = &t.filters[&u64::from(i)];
            assert_eq!(lookup(&dev, &masks, &s.value), Some(f.at), "filter {i}");
            let EntryIndex::Exact { profile, slot } = f.at else {
                unreachable!()
            };
            assert_eq!(profile, 0);
            let probe = ex::PROFILES[0].probe(&f.key);
            let hop = probe.slots().position(|x| x == u32::from(slot)).unwrap();
            moved += usize::from(hop > 0);
            assert_eq!(
                dev[0][usize::from(slot)].unwrap().1,
                s.action.encode(),
                "its action"
            );
        }
        assert!(moved > 0, "some keys collided and took a later probe");
        // A key of no filter finds nothing.
        assert_eq!(lookup(&dev, &masks, &five_tuple(n + 1).value), None);
    }

    #[test]
    fn a_full_profile_falls_back_to_ternary_then_refuses() {
        let mut t = Tables::new(4, &params());
        let mut full_at = None;
        for i in 0..600u32 {
            let ops = t.add(u64::from(i), &five_tuple(i));
            match ops {
                Ok(_) => {
                    if let Some(TernaryReason::Full { profile: 0 }) =
                        t.filters[&u64::from(i)].reason
                    {
                        full_at.get_or_insert(i);
                    }
                }
                Err(NoPlace::Full {
                    reason: TernaryReason::Full { profile: 0 },
                }) => {
                    let first = full_at.expect("ternary first");
                    // 4 ternary entries took the overflow, then the typed error.
                    let ternary = t.filters.values().filter(|f| f.reason.is_some()).count();
                    assert_eq!(ternary, 4);
                    assert!(
                        first > 460,
                        "over 90 % of 512 slots before a miss ({first})"
                    );
                    let exact = t.filters.values().filter(|f| f.reason.is_none()).count();
                    assert_eq!(t.exact[0].place.len(), exact);
                    assert_eq!(exact as u32 + 4, i, "every filter before this one placed");
                    return;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        panic!("profile 0 never filled");
    }

    #[test]
    fn a_filter_that_would_shadow_an_earlier_one_stays_ternary_after_it() {
        let mut t = Tables::new(32, &params());
        // Entry 0: all UDP to VI 1 (ternary: no profile has its mask).
        t.add(1, &spec("udp -> vi 1")).unwrap();
        assert_eq!(t.filters[&1].reason, Some(TernaryReason::NoProfile));
        assert_eq!(t.filters[&1].at, EntryIndex::Ternary(0));
        // Entry 1 taken by something unrelated, entry 0's neighbour freed later.
        t.add(2, &spec("tcp dst 22 -> vi 3")).unwrap();
        // A UDP 5-tuple overlaps entry 0: as an exact entry it would win over it.
        t.add(3, &five_tuple(7)).unwrap();
        assert_eq!(
            t.filters[&3].reason,
            Some(TernaryReason::Order { entry: 0 }),
            "kept below entry 0"
        );
        assert_eq!(t.filters[&3].at, EntryIndex::Ternary(2));
        // A TCP 5-tuple does not overlap `udp`: exact.
        let tcp = spec("ipv4 src 10.0.0.1 ipv4 dst 10.0.0.2 tcp src 1 tcp dst 2 -> vi 2");
        t.add(4, &tcp).unwrap();
        assert_eq!(t.filters[&4].reason, None);
        // After entry 0 goes, the next UDP 5-tuple is exact again.
        t.remove(1).unwrap();
        t.add(5, &five_tuple(8)).unwrap();
        assert_eq!(t.filters[&5].reason, None);
        // A ternary filter after an overlapping ternary one takes a later entry even when an
        // earlier one is free (entry 0 is free now).
        t.add(6, &spec("udp dst 4000 -> drop")).unwrap();
        assert_eq!(t.filters[&6].at, EntryIndex::Ternary(3), "after entry 2");
        t.add(7, &spec("icmp -> drop")).unwrap();
        assert_eq!(
            t.filters[&7].at,
            EntryIndex::Ternary(0),
            "no overlap: lowest"
        );
    }

    #[test]
    fn an_exact_filter_never_takes_frames_from_an_earlier_exact_one_of_a_later_profile() {
        let mut t = Tables::new(32, &params());
        // Profile 1 (destination /24 and port) gets a filter first.
        let wide = spec("ipv4 dst 192.168.0.0/24 udp dst 4000 -> vi 1");
        t.add(1, &wide).unwrap();
        assert!(matches!(
            t.filters[&1].at,
            EntryIndex::Exact { profile: 1, .. }
        ));
        // A 5-tuple inside it belongs to profile 0, which the device ranks first: it would win.
        // Profile 3 (IPv6 words cover IPv4 ones) has another mask: ternary.
        t.add(2, &five_tuple(1)).unwrap();
        assert_eq!(
            t.filters[&2].reason,
            Some(TernaryReason::Order {
                entry: 0x9000 | slot(&t, 1)
            })
        );
        // With profile 3 claimable it goes there: ranked after profile 1.
        t.remove(2).unwrap();
        t.set_use(3, ProfileUse::Claim).unwrap();
        t.add(3, &five_tuple(1)).unwrap();
        assert!(matches!(
            t.filters[&3].at,
            EntryIndex::Exact { profile: 3, .. }
        ));
        // The reverse: a 5-tuple first, then the /24 in profile 1 (after 0): exact, fine.
        let mut t = Tables::new(32, &params());
        t.add(1, &five_tuple(1)).unwrap();
        t.add(2, &wide).unwrap();
        assert!(matches!(
            t.filters[&2].at,
            EntryIndex::Exact { profile: 1, .. }
        ));
        // The same key twice: the second would be hidden by the first anyway; it stays
        // ternary, after it.
        t.add(3, &five_tuple(1)).unwrap();
        assert!(matches!(
            t.filters[&3].reason,
            Some(TernaryReason::Order { .. })
        ));
    }

    fn slot(t: &Tables, gen: u64) -> u32 {
        match t.filters[&gen].at {
            EntryIndex::Exact { slot, .. } => u32::from(slot),
            _ => panic!("not exact"),
        }
    }

    #[test]
    fn profiles_are_claimed_by_a_mask_and_released_when_empty() {
        let mut t = Tables::new(32, &params());
        assert!(t.set_use(0, ProfileUse::Claim).is_ok());
        t.set_use(2, ProfileUse::Claim).unwrap();
        // `udp dst 53` (protocol and port: IPv4 words) claims profile 0, the fewest words
        // covering it among the claimable.
        let dns = spec("udp dst 53 -> vi 1");
        let ops = t.add(1, &dns).unwrap();
        assert!(matches!(
            ops[0],
            Op::ProfileMask {
                profile: 0,
                clear: true,
                ..
            }
        ));
        assert_eq!(t.exact[0].mask(), Some(dns.mask));
        // Another port: same mask, same profile, no mask write.
        let ops = t.add(2, &spec("udp dst 54 -> vi 1")).unwrap();
        assert_eq!(ops.len(), 1);
        // An L2 mask claims profile 2 (the only claimable one covering it).
        t.add(3, &spec("mac 02:00:00:00:00:09 -> vi 2")).unwrap();
        assert!(matches!(
            t.filters[&3].at,
            EntryIndex::Exact { profile: 2, .. }
        ));
        // A profile with entries keeps its mask.
        assert!(t.set_use(0, ProfileUse::Off).is_err());
        // Empty again: released, and the next mask claims it (no clearing: this process
        // knows the table is empty).
        t.remove(1).unwrap();
        t.remove(2).unwrap();
        assert_eq!(t.exact[0].mask(), None);
        let tcp = spec("tcp src 80 -> vi 1");
        // (The MAC filter in profile 2 overlaps it and would lose to it in profile 0.)
        t.add(4, &tcp).unwrap();
        assert_eq!(
            t.filters[&4].reason,
            Some(TernaryReason::Order {
                entry: u32::from(t.filters[&3].at.encode())
            })
        );
        t.remove(4).unwrap();
        t.remove(3).unwrap();
        assert_eq!(t.exact[2].mask(), None, "released");
        let ops = t.add(4, &tcp).unwrap();
        assert!(matches!(
            ops[0],
            Op::ProfileMask {
                profile: 0,
                clear: false,
                ..
            }
        ));
        assert_eq!(t.exact[0].mask(), Some(tcp.mask));
        // A mask outside the profile's words is refused.
        t.remove(4).unwrap();
        assert!(t
            .set_use(0, ProfileUse::Mask(KeyBits::mask_of(&[key::DST_MAC])))
            .is_err());
        // Off: nothing goes there.
        t.set_use(0, ProfileUse::Off).unwrap();
        t.add(5, &tcp).unwrap();
        assert_eq!(t.filters[&5].reason, Some(TernaryReason::NoProfile));
    }

    #[test]
    fn replacing_an_exact_filter_keeps_every_frame_on_the_old_or_the_new_entry() {
        let mut t = Tables::new(32, &params());
        let (mut dev, mut masks) = device();
        let a = five_tuple(1);
        apply(&mut dev, &mut masks, &t.add(1, &a).unwrap());
        let at = t.filters[&1].at;
        // Same key, new action: one write to the same slot.
        let a2 = spec(&a.text.replace("vi 1", "vi 5"));
        let ops = t.replace(1, &a2).unwrap();
        assert_eq!(ops.len(), 1);
        assert!(matches!(
            ops[0],
            Op::ExactSet {
                prev: Some(1),
                owner: 1,
                ..
            }
        ));
        apply(&mut dev, &mut masks, &ops);
        assert_eq!(t.filters[&1].at, at);
        // Another key: the new slot is written, then the old one cleared.
        let b = five_tuple(2);
        let ops = t.replace(1, &b).unwrap();
        assert!(matches!(ops.first(), Some(Op::ExactSet { owner: 1, .. })));
        assert!(matches!(
            ops.last(),
            Some(Op::ExactClear { prev: Some(1), .. })
        ));
        apply(&mut dev, &mut masks, &ops);
        assert_eq!(lookup(&dev, &masks, &a.value), None);
        assert_eq!(lookup(&dev, &masks, &b.value), Some(t.filters[&1].at));
        // A spec of no profile's mask: to ternary, the exact slot cleared after.
        let ops = t.replace(1, &spec("udp -> vi 2")).unwrap();
        assert!(matches!(ops[0], Op::Ternary { index: 0, .. }));
        assert!(matches!(ops[1], Op::ExactClear { .. }));
        assert!(t.exact[0].place.is_empty());
    }

    #[test]
    fn moves_keep_each_filters_location_and_action() {
        // A tiny profile makes moves frequent.
        let small = ExactParams {
            hops: ex::HOPS,
            profiles: vec![ExactProfileParams {
                slots_log2: 4,
                words: ex::PROFILES[0].words,
            }],
        };
        let mut t = Tables::new(32, &small);
        let mut dev = [vec![None; 16]];
        let mut masks = [KeyBits::default()];
        let mut moves = 0;
        for i in 0..14u32 {
            let mut s = five_tuple(i);
            s.action = crate::FilterAction::Vi(crate::Vi(i));
            let Ok(ops) = t.add(u64::from(i), &s) else {
                break;
            };
            moves += ops
                .iter()
                .filter(|o| matches!(o, Op::ExactSet { prev: Some(_), .. }))
                .count();
            for op in &ops {
                if let Op::ExactSet {
                    slot, key, action, ..
                } = op
                {
                    dev[0][usize::from(*slot)] = Some((*key, *action));
                }
                if let Op::ProfileMask { mask, .. } = op {
                    masks[0] = *mask;
                }
            }
        }
        assert!(moves > 0, "the small table needed moves");
        for (g, f) in &t.filters {
            if let EntryIndex::Exact { slot, .. } = f.at {
                let (k, a) = dev[0][usize::from(slot)].expect("written");
                assert_eq!(a, *g as u16 & 0xff, "filter {g}'s action at its slot");
                let prof = t.exact[0].profile();
                assert_eq!(k, prof.expand(&f.key));
            }
        }
    }
}
