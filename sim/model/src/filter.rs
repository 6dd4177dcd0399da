//! The reference model of the filter tables (`hdl/src/filter.rs`): exact-match tables, one per
//! mask profile, probed as the device probes them ([`evnic_regs::exact`]), and ternary entries
//! over the whole key; the lowest exact-match profile that hits wins, else the lowest matching
//! enabled ternary entry; per-entry hit counters.

use evnic_regs::exact::{Profile, PROFILES};
use evnic_regs::key::KeyBits;
use evnic_regs::map::filter::{EntryIndex, EXACT_INDEX_FLAG};

pub use evnic_regs::map::filter::{
    ACTION_KIND_DROP, ACTION_KIND_GROUP, ACTION_KIND_SHIFT, ACTION_KIND_VI, ACTION_TARGET_MASK,
};

/// What a matching entry does with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Deliver to VI n.
    Vi(u8),
    /// Multicast to group g.
    Group(u8),
    /// Drop.
    Drop,
}

impl Action {
    /// The 16-bit action word the filter block stores.
    pub fn encode(self) -> u16 {
        match self {
            Action::Vi(v) => ACTION_KIND_VI << ACTION_KIND_SHIFT | u16::from(v),
            Action::Group(g) => ACTION_KIND_GROUP << ACTION_KIND_SHIFT | u16::from(g),
            Action::Drop => ACTION_KIND_DROP << ACTION_KIND_SHIFT,
        }
    }
    /// Decodes an action word; kind 3 is undefined and gives `None`.
    pub fn decode(word: u16) -> Option<Action> {
        let target = (word & ACTION_TARGET_MASK) as u8;
        match word >> ACTION_KIND_SHIFT {
            ACTION_KIND_VI => Some(Action::Vi(target)),
            ACTION_KIND_GROUP => Some(Action::Group(target)),
            ACTION_KIND_DROP => Some(Action::Drop),
            _ => None,
        }
    }
}

/// One filter entry: a frame matches when its key equals `value` in every bit set in `mask`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub value: KeyBits,
    pub mask: KeyBits,
    pub enable: bool,
    /// Raw action word (see [`Action::encode`]).
    pub action: u16,
}

/// The result of a lookup that hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The entry number ([`EntryIndex`] encoding: ternary `i`, or `0x8000 | p << 12 | slot`).
    pub index: u16,
    pub action: u16,
}

/// One exact-match slot as the device stores it: the compressed value as written, the action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactEntry {
    pub key: Vec<u32>,
    pub action: u16,
}

/// One exact-match table (mask profile): its mask (within its key words), slots and counters.
#[derive(Clone, Debug)]
pub struct ExactTable {
    pub profile: Profile,
    mask: Vec<u32>,
    slots: Vec<Option<ExactEntry>>,
    hits: Vec<u32>,
}

impl ExactTable {
    fn new(profile: Profile) -> ExactTable {
        ExactTable {
            profile,
            mask: vec![0; profile.key_words()],
            slots: vec![None; profile.slots() as usize],
            hits: vec![0; profile.slots() as usize],
        }
    }
    /// The slot a key hits, probing [`evnic_regs::exact::HOPS`] slots as the device does.
    fn peek(&self, key: &KeyBits) -> Option<u32> {
        let masked: Vec<u32> = self
            .profile
            .compress(key)
            .iter()
            .zip(&self.mask)
            .map(|(k, m)| k & m)
            .collect();
        self.profile.probe(&masked).slots().find(|&s| {
            self.slots[s as usize]
                .as_ref()
                .is_some_and(|e| e.key == masked)
        })
    }
    /// The mask (compressed).
    pub fn mask(&self) -> &[u32] {
        &self.mask
    }
    /// Slot `slot`.
    pub fn slot(&self, slot: u32) -> Option<&ExactEntry> {
        self.slots[slot as usize].as_ref()
    }
}

/// The filter tables: `entries` ternary entries (all disabled after reset), the exact-match
/// tables of [`evnic_regs::exact::PROFILES`] (empty, masks 0), and every entry's hit counter.
/// A lookup returns the hit of the lowest exact-match profile that hits, else the lowest
/// enabled ternary entry that matches.
#[derive(Clone, Debug)]
pub struct FilterTable {
    entries: Vec<Entry>,
    hits: Vec<u32>,
    exact: Vec<ExactTable>,
}

impl FilterTable {
    /// A table of `n` disabled ternary entries and empty exact-match tables (as after reset).
    pub fn new(n: usize) -> FilterTable {
        assert!(
            (1..=EXACT_INDEX_FLAG as usize).contains(&n),
            "ternary entry numbers stay below the exact-match flag"
        );
        FilterTable {
            entries: vec![Entry::default(); n],
            hits: vec![0; n],
            exact: PROFILES.iter().map(|p| ExactTable::new(*p)).collect(),
        }
    }
    /// Number of ternary entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Always false: a table has at least one entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Writes ternary entry `index` whole. Its hit counter is kept.
    pub fn write(&mut self, index: usize, entry: Entry) {
        self.entries[index] = entry;
    }
    /// Ternary entry `index`.
    pub fn entry(&self, index: usize) -> &Entry {
        &self.entries[index]
    }
    /// The exact-match tables.
    pub fn exact(&self) -> &[ExactTable] {
        &self.exact
    }
    /// Writes slot `slot` of exact profile `profile` whole: the profile's words of `value`, the
    /// action, valid (`enable`). Its hit counter is kept.
    pub fn write_exact(
        &mut self,
        profile: usize,
        slot: u32,
        value: &KeyBits,
        action: u16,
        enable: bool,
    ) {
        let t = &mut self.exact[profile];
        t.slots[slot as usize] = enable.then(|| ExactEntry {
            key: t.profile.compress(value),
            action,
        });
    }
    /// Sets profile `profile`'s mask: the bits of `mask` within the profile's key words.
    pub fn set_profile_mask(&mut self, profile: usize, mask: &KeyBits) {
        let t = &mut self.exact[profile];
        t.mask = t.profile.compress(mask);
    }
    /// The winning entry for `key`, without counting it.
    pub fn peek(&self, key: &KeyBits) -> Option<Hit> {
        for (p, t) in self.exact.iter().enumerate() {
            if let Some(s) = t.peek(key) {
                return Some(Hit {
                    index: EntryIndex::Exact {
                        profile: p as u8,
                        slot: s as u16,
                    }
                    .encode(),
                    action: t.slots[s as usize].as_ref().expect("hit").action,
                });
            }
        }
        self.entries
            .iter()
            .position(|e| e.enable && key.matches(&e.value, &e.mask))
            .map(|i| Hit {
                index: i as u16,
                action: self.entries[i].action,
            })
    }
    /// Looks `key` up and counts the hit (counters saturate at `u32::MAX`).
    pub fn lookup(&mut self, key: &KeyBits) -> Option<Hit> {
        let hit = self.peek(key);
        if let Some(h) = hit {
            self.count_hit(h.index);
        }
        hit
    }
    fn counter(&mut self, index: u16) -> Option<&mut u32> {
        match EntryIndex::decode(u32::from(index))? {
            EntryIndex::Ternary(i) => self.hits.get_mut(usize::from(i)),
            EntryIndex::Exact { profile, slot } => self
                .exact
                .get_mut(usize::from(profile))?
                .hits
                .get_mut(usize::from(slot)),
        }
    }
    /// Counts one hit on entry number `index` (what [`lookup`](Self::lookup) does after
    /// [`peek`](Self::peek)), for models of a pipelined table that counts later than it looks.
    pub fn count_hit(&mut self, index: u16) {
        if let Some(c) = self.counter(index) {
            *c = c.saturating_add(1);
        }
    }
    /// Hit counter of entry number `index` (0 for a number with no entry).
    pub fn hits(&self, index: u16) -> u32 {
        match EntryIndex::decode(u32::from(index)) {
            Some(EntryIndex::Ternary(i)) => self.hits.get(usize::from(i)).copied().unwrap_or(0),
            Some(EntryIndex::Exact { profile, slot }) => self
                .exact
                .get(usize::from(profile))
                .and_then(|t| t.hits.get(usize::from(slot)))
                .copied()
                .unwrap_or(0),
            None => 0,
        }
    }
    /// Clears the hit counter of entry number `index`.
    pub fn clear_hits(&mut self, index: u16) {
        if let Some(c) = self.counter(index) {
            *c = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evnic_regs::key;

    fn k(port: u16) -> KeyBits {
        let mut k = KeyBits::default();
        k.set(key::L4_DST, u128::from(port));
        k
    }

    #[test]
    fn action_round_trip() {
        for a in [
            Action::Vi(3),
            Action::Group(63),
            Action::Drop,
            Action::Vi(255),
        ] {
            assert_eq!(Action::decode(a.encode()), Some(a));
        }
        assert_eq!(Action::Group(5).encode(), 0x4005);
        assert_eq!(Action::Drop.encode(), 0x8000);
        assert_eq!(Action::decode(0xc000), None);
    }

    #[test]
    fn lowest_enabled_match_wins_and_counts() {
        let mut t = FilterTable::new(32);
        let mut m = KeyBits::default();
        m.set(key::L4_DST, 0xff00);
        t.write(
            3,
            Entry {
                value: k(0x1200),
                mask: m,
                enable: true,
                action: Action::Vi(1).encode(),
            },
        );
        t.write(
            1,
            Entry {
                value: k(0x1234),
                mask: KeyBits([u128::MAX; 4]),
                enable: false,
                action: Action::Drop.encode(),
            },
        );
        t.write(
            7,
            Entry {
                value: KeyBits::default(),
                mask: KeyBits::default(),
                enable: true,
                action: Action::Group(2).encode(),
            },
        );
        assert_eq!(t.lookup(&k(0x1234)).unwrap().index, 3);
        assert_eq!(t.lookup(&k(0x9999)).unwrap().index, 7);
        let mut e = *t.entry(1);
        e.enable = true;
        t.write(1, e);
        assert_eq!(t.lookup(&k(0x1234)).unwrap().action, 0x8000);
        assert_eq!((t.hits(1), t.hits(3), t.hits(7)), (1, 1, 1));
        t.clear_hits(3);
        assert_eq!(t.hits(3), 0);
        let empty = FilterTable::new(4);
        assert_eq!(empty.peek(&k(1)), None);
    }

    /// A random key with the fields of every profile filled.
    fn random_key(r: &mut rand_chacha::ChaCha8Rng) -> KeyBits {
        use rand::Rng;
        let mut k = KeyBits(r.gen());
        k.0[3] &= (1 << (key::KEY_BITS - 384)) - 1;
        k
    }

    fn field_mask(fields: &[(key::KeyField, u128)]) -> KeyBits {
        let mut m = KeyBits::default();
        for (f, v) in fields {
            m.set(*f, *v);
        }
        m
    }

    /// Masks of the four profiles: full IPv4 5-tuple, IPv4 destination, MAC + VLAN, IPv6
    /// 5-tuple.
    fn profile_masks() -> [KeyBits; 4] {
        let all = u128::MAX;
        [
            field_mask(&[
                (key::IP_VERSION, all),
                (key::IP_PROTO, all),
                (key::L4_SRC, all),
                (key::L4_DST, all),
                (key::SRC_IP, 0xffff_ffff),
                (key::DST_IP, 0xffff_ffff),
            ]),
            field_mask(&[
                (key::IP_VERSION, all),
                (key::IP_PROTO, all),
                (key::L4_DST, all),
                (key::DST_IP, 0xffff_ff00),
            ]),
            field_mask(&[
                (key::DST_MAC, all),
                (key::VLAN_OUTER, all),
                (key::VLAN_COUNT, all),
            ]),
            field_mask(&[
                (key::IP_VERSION, all),
                (key::IP_PROTO, all),
                (key::L4_SRC, all),
                (key::L4_DST, all),
                (key::SRC_IP, all),
                (key::DST_IP, all),
            ]),
        ]
    }

    #[test]
    fn host_placement_of_1024_random_exact_entries_finds_every_key_and_no_other() {
        use evnic_regs::exact::{masked_words, Placement, SlotWrite};
        use rand::{Rng, SeedableRng};
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(1024);
        let masks = profile_masks();
        let mut t = FilterTable::new(32);
        let mut place: Vec<Placement<u16>> = PROFILES.iter().map(|p| Placement::new(*p)).collect();
        for (p, m) in masks.iter().enumerate() {
            assert!(PROFILES[p].covers(m));
            t.set_profile_mask(p, m);
        }
        let mut keys = Vec::new();
        while keys.len() < 1024 {
            let p = r.gen_range(0..4);
            let k = random_key(&mut r);
            let words = masked_words(&PROFILES[p], &k, &masks[p]);
            if place[p].find(&words).is_some() {
                continue;
            }
            let action = Action::Vi(r.gen()).encode();
            let (writes, _) = place[p].insert(words, action).expect("room");
            for w in writes {
                match w {
                    SlotWrite::Set { slot, key, value } => {
                        t.write_exact(p, slot, &PROFILES[p].expand(&key), value, true)
                    }
                    SlotWrite::Clear { slot } => {
                        t.write_exact(p, slot, &KeyBits::default(), 0, false)
                    }
                }
            }
            keys.push((p, k, action));
        }
        for (p, k, action) in &keys {
            let h = t.peek(k).expect("every placed key is found");
            let slot = place[*p]
                .find(&masked_words(&PROFILES[*p], k, &masks[*p]))
                .unwrap();
            // A lower profile may hold the same masked key only by chance: not with random keys.
            assert_eq!(
                h,
                Hit {
                    index: EntryIndex::Exact {
                        profile: *p as u8,
                        slot: slot as u16
                    }
                    .encode(),
                    action: *action
                }
            );
            // The same key with every bit outside the mask changed still hits.
            let mut other = random_key(&mut r);
            for l in 0..4 {
                other.0[l] = (other.0[l] & !masks[*p].0[l]) | (k.0[l] & masks[*p].0[l]);
            }
            assert_eq!(t.peek(&other).map(|h| h.index), Some(h.index));
            // One masked bit flipped: no hit in this profile (nor, with random keys, another).
            let mut flipped = *k;
            let bits: Vec<usize> = (0..key::KEY_BITS as usize)
                .filter(|b| masks[*p].0[b / 128] >> (b % 128) & 1 == 1)
                .collect();
            let b = bits[r.gen_range(0..bits.len())];
            flipped.0[b / 128] ^= 1 << (b % 128);
            assert_eq!(t.peek(&flipped), None, "profile {p} bit {b}");
        }
        for _ in 0..10_000 {
            assert_eq!(t.peek(&random_key(&mut r)), None, "a random key misses");
        }
    }

    #[test]
    fn exact_entries_win_over_ternary_and_lower_profiles_over_higher() {
        let masks = profile_masks();
        let mut t = FilterTable::new(32);
        for (p, m) in masks.iter().enumerate() {
            t.set_profile_mask(p, m);
        }
        let mut k = KeyBits::default();
        k.set(key::IP_VERSION, 4);
        k.set(key::IP_PROTO, 17);
        k.set(key::L4_SRC, 1000);
        k.set(key::L4_DST, 319);
        k.set(key::SRC_IP, 0x0a00_0001);
        k.set(key::DST_IP, 0x0a00_0102);
        // Ternary catch-all at 0.
        t.write(
            0,
            Entry {
                value: KeyBits::default(),
                mask: KeyBits::default(),
                enable: true,
                action: Action::Drop.encode(),
            },
        );
        assert_eq!(t.peek(&k).unwrap().index, 0);
        // Profile 1 (destination /24 + port) at the slot its probe sequence starts with.
        let place = |p: usize| {
            let w = evnic_regs::exact::masked_words(&PROFILES[p], &k, &masks[p]);
            PROFILES[p].probe(&w).slot(0)
        };
        let s1 = place(1);
        let masked1 = KeyBits([0, 1, 2, 3].map(|i| k.0[i] & masks[1].0[i]));
        t.write_exact(1, s1, &masked1, Action::Vi(5).encode(), true);
        assert_eq!(
            t.peek(&k).unwrap(),
            Hit {
                index: 0x9000 | s1 as u16,
                action: Action::Vi(5).encode()
            }
        );
        // An unmasked value never matches (bits outside the profile mask are compared too).
        t.write_exact(1, s1, &k, Action::Vi(5).encode(), true);
        assert_eq!(t.peek(&k).unwrap().index, 0);
        t.write_exact(1, s1, &masked1, Action::Vi(5).encode(), true);
        // Profile 0 (full 5-tuple) wins over profile 1; at a slot past the probes: not found.
        let s0 = place(0);
        let masked0 = KeyBits([0, 1, 2, 3].map(|i| k.0[i] & masks[0].0[i]));
        let far = (0..512)
            .find(|s| {
                let w = evnic_regs::exact::masked_words(&PROFILES[0], &k, &masks[0]);
                !PROFILES[0].probe(&w).slots().any(|x| x == *s)
            })
            .unwrap();
        t.write_exact(0, far, &masked0, Action::Vi(6).encode(), true);
        assert_eq!(t.peek(&k).unwrap().index, 0x9000 | s1 as u16);
        t.write_exact(0, s0, &masked0, Action::Vi(6).encode(), true);
        assert_eq!(
            t.lookup(&k).unwrap(),
            Hit {
                index: 0x8000 | s0 as u16,
                action: Action::Vi(6).encode()
            }
        );
        assert_eq!(t.hits(0x8000 | s0 as u16), 1);
        t.clear_hits(0x8000 | s0 as u16);
        assert_eq!(t.hits(0x8000 | s0 as u16), 0);
        // Removing it (valid 0) gives profile 1 back.
        t.write_exact(0, s0, &masked0, 0, false);
        assert_eq!(t.peek(&k).unwrap().index, 0x9000 | s1 as u16);
        // A mask change: the entries of profile 1 no longer match.
        t.set_profile_mask(1, &masks[0]);
        assert_eq!(t.peek(&k).unwrap().index, 0);
        assert_eq!(t.hits(0xffff), 0);
    }
}
