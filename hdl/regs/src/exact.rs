//! The exact-match filter tables: one hash table per mask profile (tuple-space search), the
//! hash and probe sequence the device uses to find an entry, and the host's placement of
//! entries (hash, collision step, hop limit, relocation), shared by the RTL, the reference
//! model and the library.
//!
//! # Profiles
//!
//! A profile is a table of [`Profile::slots`] entries and a mask. An entry of profile `p`
//! matches a frame when the frame's key, masked with `p`'s mask, equals the entry's stored key.
//! A profile stores only the key words its [`Profile::words`] bitmap names (the compressed
//! key, lowest key word first): bits of the mask outside those words take no part. Every
//! lookup probes every profile; within a profile a key matches at most one entry (the host
//! never stores one key twice but while moving it, when both copies carry the same action).
//!
//! # Hash and probe sequence
//!
//! The compressed, masked key `w[0..W]` is folded into 32 bits, word `j` rotated left by
//! `11 j mod 32` ([`fold`]), then scrambled by an invertible XOR-shift sequence ([`mix`]).
//! The low bits of the result give the first slot, bits 16 and up (forced odd) the step:
//! probe `h` (0 ≤ h < [`HOPS`]) reads slot `(start + h * step) mod slots` ([`Probe`]). An odd
//! step visits every slot of the power-of-two table before repeating, so the probes of one
//! lookup are distinct. The device reads all [`HOPS`] probes of every profile for every
//! lookup, so an entry must sit within [`HOPS`] probes of its key's start: the host makes
//! room by moving entries to another of their own probe slots ([`Placement`]).
//!
//! # Stored entry (one RAM word per slot)
//!
//! | bits | field |
//! |---|---|
//! | 32W-1:0 | compressed key (the staged value's profile words, as written) |
//! | 32W+15:32W | action word (`map::filter` layout) |
//! | 32W+16 | valid |

use crate::key::{self, KeyBits, KeyField, KEY_WORDS};
use crate::params;

/// Probes the device reads per profile and lookup: the hop limit of placement.
pub const HOPS: u32 = params::EXACT_HOPS;

/// One exact-match table: which key words it stores, and how many slots it has.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub name: &'static str,
    /// Bit `w` set: key word `w` (key bits 32w+31:32w) is stored and compared.
    pub words: u32,
    /// The table has `1 << slots_log2` slots.
    pub slots_log2: u32,
    pub doc: &'static str,
}

/// The bitmap of key words that hold any bit of `spans` (each `(lsb, width)`).
const fn cover(spans: &[(u32, u32)]) -> u32 {
    let mut m = 0u32;
    let mut i = 0;
    while i < spans.len() {
        let (lsb, width) = spans[i];
        let mut b = lsb;
        while b < lsb + width {
            m |= 1 << (b / 32);
            b += 1;
        }
        i += 1;
    }
    m
}
const fn all(f: KeyField) -> (u32, u32) {
    (f.lsb, f.width)
}
const fn low(f: KeyField, bits: u32) -> (u32, u32) {
    (f.lsb, bits)
}

/// IPv4 addresses, ports, protocol and version (and the VLAN ids that share word 2).
const IPV4_WORDS: u32 = cover(&[
    all(key::IP_VERSION),
    all(key::IP_PROTO),
    all(key::L4_SRC),
    all(key::L4_DST),
    low(key::SRC_IP, 32),
    low(key::DST_IP, 32),
]);
/// IPv6 addresses, ports, protocol and version.
const IPV6_WORDS: u32 = cover(&[
    all(key::IP_VERSION),
    all(key::IP_PROTO),
    all(key::L4_SRC),
    all(key::L4_DST),
    all(key::SRC_IP),
    all(key::DST_IP),
]);
/// Destination MAC, ethertype and VLAN ids.
const L2_WORDS: u32 = cover(&[
    all(key::DST_MAC),
    all(key::ETHERTYPE),
    all(key::VLAN_OUTER),
    all(key::VLAN_INNER),
    all(key::VLAN_COUNT),
]);

/// The device's exact-match tables, in precedence order (a hit in a lower profile wins).
pub const PROFILES: [Profile; params::NUM_EXACT_PROFILES as usize] = [
    Profile {
        name: "ipv4",
        words: IPV4_WORDS,
        slots_log2: params::EXACT_SLOTS_LOG2,
        doc: "IPv4 5-tuples and their subsets (e.g. a full 5-tuple).",
    },
    Profile {
        name: "ipv4",
        words: IPV4_WORDS,
        slots_log2: params::EXACT_SLOTS_LOG2,
        doc: "IPv4 5-tuples and their subsets (e.g. destination address and port).",
    },
    Profile {
        name: "l2",
        words: L2_WORDS,
        slots_log2: params::EXACT_SLOTS_LOG2,
        doc: "Destination MAC, ethertype and VLAN ids.",
    },
    Profile {
        name: "ipv6",
        words: IPV6_WORDS,
        slots_log2: params::EXACT_SLOTS_LOG2,
        doc: "IPv6 5-tuples and their subsets.",
    },
];

/// Key words (32-bit) stored by profile `p`: the width of its compressed key in words.
pub const fn profile_key_words(p: usize) -> usize {
    PROFILES[p].words.count_ones() as usize
}

impl Profile {
    /// Number of slots.
    pub const fn slots(&self) -> u32 {
        1 << self.slots_log2
    }
    /// Words of the compressed key.
    pub const fn key_words(&self) -> usize {
        self.words.count_ones() as usize
    }
    /// The key words stored, lowest first.
    pub fn word_list(&self) -> Vec<u32> {
        (0..KEY_WORDS)
            .filter(|w| self.words >> w & 1 == 1)
            .collect()
    }
    /// True when `mask` has no bit outside the stored words (the profile can hold entries
    /// of this mask).
    pub fn covers(&self, mask: &KeyBits) -> bool {
        (0..KEY_WORDS).all(|w| self.words >> w & 1 == 1 || mask.word(w) == 0)
    }
    /// The compressed form of `key`: its stored words, lowest first.
    pub fn compress(&self, key: &KeyBits) -> Vec<u32> {
        self.word_list().into_iter().map(|w| key.word(w)).collect()
    }
    /// The key whose profile words are `words` (compressed form) and whose other bits are 0.
    pub fn expand(&self, words: &[u32]) -> KeyBits {
        let mut k = KeyBits::default();
        for (w, v) in self.word_list().into_iter().zip(words) {
            k.0[(w / 4) as usize] |= u128::from(*v) << ((w % 4) * 32);
        }
        k
    }
    /// The probe sequence of a compressed, masked key.
    pub fn probe(&self, masked: &[u32]) -> Probe {
        Probe::new(mix(fold(masked)), self.slots_log2)
    }
}

/// The left rotation of compressed key word `j` in [`fold`]: `11 j mod 32`.
pub const fn fold_rotation(j: usize) -> u32 {
    (11 * j as u32) % 32
}

/// Folds compressed key words into 32 bits: word `j` rotated left by [`fold_rotation`]`(j)`,
/// XORed.
pub fn fold(words: &[u32]) -> u32 {
    words
        .iter()
        .enumerate()
        .fold(0, |acc, (j, w)| acc ^ w.rotate_left(fold_rotation(j)))
}

/// Scrambles a folded key: an invertible sequence of XOR-shifts (no multiplier, so the RTL
/// computes it in a few levels of XOR).
pub fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x ^= x << 7;
    x ^= x >> 9;
    x ^= x << 13;
    x ^= x >> 11;
    x
}

/// Where a key's entry may be: `HOPS` slots from `start`, `step` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub start: u32,
    /// Odd.
    pub step: u32,
    pub slots_log2: u32,
}

impl Probe {
    /// The probe sequence of a mixed hash `x` in a table of `1 << slots_log2` slots.
    pub fn new(x: u32, slots_log2: u32) -> Probe {
        let m = (1u32 << slots_log2) - 1;
        Probe {
            start: x & m,
            step: ((x >> 16) & m) | 1,
            slots_log2,
        }
    }
    /// Slot of probe `hop`.
    pub fn slot(&self, hop: u32) -> u32 {
        self.start.wrapping_add(hop.wrapping_mul(self.step)) & ((1u32 << self.slots_log2) - 1)
    }
    /// The [`HOPS`] slots the device reads, in order.
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        (0..HOPS).map(|h| self.slot(h))
    }
}

/// The compressed, masked key of `key` under `mask` in profile `p`.
pub fn masked_words(p: &Profile, key: &KeyBits, mask: &KeyBits) -> Vec<u32> {
    p.word_list()
        .into_iter()
        .map(|w| key.word(w) & mask.word(w))
        .collect()
}

/// One slot write the host performs to carry out a placement, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotWrite<T> {
    /// Store `key` (compressed, masked) with `value` in `slot`.
    Set { slot: u32, key: Vec<u32>, value: T },
    /// Invalidate `slot`.
    Clear { slot: u32 },
}

/// Why an entry could not be placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceError {
    /// Every probe slot of the key is taken and no chain of moves frees one.
    Full,
    /// The key has the wrong number of words for the profile.
    BadKey,
}

impl std::fmt::Display for PlaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlaceError::Full => write!(
                f,
                "no free slot within {HOPS} probes, even after moving entries"
            ),
            PlaceError::BadKey => write!(f, "key of the wrong width for the profile"),
        }
    }
}

impl std::error::Error for PlaceError {}

/// Moves tried, at most, to free a slot for a new key (breadth first).
pub const MAX_MOVES: usize = 4;

/// The host's copy of one profile's table and its placement of entries.
///
/// Inserting a key stores it in the first free slot of its probe sequence; when all
/// [`HOPS`] are taken, a breadth-first search finds the shortest chain (at most
/// [`MAX_MOVES`]) of entries that can each move to a free slot of their own probe sequence.
/// The writes come back in an order that keeps every stored key findable by the device at
/// every step (an entry is written to its new slot before its old slot is reused), and every
/// write replaces one whole slot, so each is atomic for lookups.
#[derive(Clone, Debug)]
pub struct Placement<T> {
    profile: Profile,
    slots: Vec<Option<(Vec<u32>, T)>>,
    used: usize,
}

impl<T: Clone> Placement<T> {
    /// An empty table of profile `profile`.
    pub fn new(profile: Profile) -> Placement<T> {
        Placement {
            profile,
            slots: vec![None; profile.slots() as usize],
            used: 0,
        }
    }
    /// Slots in use.
    pub fn len(&self) -> usize {
        self.used
    }
    /// True when no slot is in use.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }
    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }
    /// What `slot` holds.
    pub fn slot(&self, slot: u32) -> Option<&(Vec<u32>, T)> {
        self.slots[slot as usize].as_ref()
    }
    fn check(&self, key: &[u32]) -> Result<(), PlaceError> {
        if key.len() != self.profile.key_words() {
            return Err(PlaceError::BadKey);
        }
        Ok(())
    }
    /// The slot holding `key` (compressed, masked), as the device would find it.
    pub fn find(&self, key: &[u32]) -> Option<u32> {
        if key.len() != self.profile.key_words() {
            return None;
        }
        self.profile
            .probe(key)
            .slots()
            .find(|&s| self.slots[s as usize].as_ref().is_some_and(|e| e.0 == key))
    }
    /// Stores `key` with `value` (replacing the value of an entry with this key in place).
    /// Returns the slot writes to perform, in order, and the key's slot.
    pub fn insert(
        &mut self,
        key: Vec<u32>,
        value: T,
    ) -> Result<(Vec<SlotWrite<T>>, u32), PlaceError> {
        self.check(&key)?;
        if let Some(s) = self.find(&key) {
            self.slots[s as usize] = Some((key.clone(), value.clone()));
            return Ok((
                vec![SlotWrite::Set {
                    slot: s,
                    key,
                    value,
                }],
                s,
            ));
        }
        let probe = self.profile.probe(&key);
        if let Some(s) = probe.slots().find(|&s| self.slots[s as usize].is_none()) {
            self.slots[s as usize] = Some((key.clone(), value.clone()));
            self.used += 1;
            return Ok((
                vec![SlotWrite::Set {
                    slot: s,
                    key,
                    value,
                }],
                s,
            ));
        }
        // Breadth first over slots: from each taken slot, its occupant could move to another
        // of its probe slots.
        let n = self.slots.len();
        let mut parent: Vec<Option<u32>> = vec![None; n];
        let mut depth = vec![usize::MAX; n];
        let mut queue = std::collections::VecDeque::new();
        for s in probe.slots() {
            if depth[s as usize] == usize::MAX {
                depth[s as usize] = 0;
                queue.push_back(s);
            }
        }
        let mut free = None;
        'search: while let Some(s) = queue.pop_front() {
            if depth[s as usize] >= MAX_MOVES {
                continue;
            }
            let occupant = &self.slots[s as usize].as_ref().expect("taken").0;
            for t in self.profile.probe(occupant).slots() {
                if depth[t as usize] != usize::MAX {
                    continue;
                }
                depth[t as usize] = depth[s as usize] + 1;
                parent[t as usize] = Some(s);
                if self.slots[t as usize].is_none() {
                    free = Some(t);
                    break 'search;
                }
                queue.push_back(t);
            }
        }
        let mut t = free.ok_or(PlaceError::Full)?;
        // Walk back from the free slot: each occupant moves one step towards it.
        let mut writes = Vec::new();
        while let Some(s) = parent[t as usize] {
            let moved = self.slots[s as usize].clone().expect("taken");
            writes.push(SlotWrite::Set {
                slot: t,
                key: moved.0.clone(),
                value: moved.1.clone(),
            });
            self.slots[t as usize] = Some(moved);
            t = s;
        }
        self.slots[t as usize] = Some((key.clone(), value.clone()));
        self.used += 1;
        writes.push(SlotWrite::Set {
            slot: t,
            key,
            value,
        });
        Ok((writes, t))
    }
    /// Removes `key`; returns its slot (to be cleared by a [`SlotWrite::Clear`]).
    pub fn remove(&mut self, key: &[u32]) -> Option<u32> {
        let s = self.find(key)?;
        self.slots[s as usize] = None;
        self.used -= 1;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*), so these tests need no crates.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn u32(&mut self) -> u32 {
            (self.next() >> 32) as u32
        }
    }

    #[test]
    fn profiles_store_the_words_of_their_fields() {
        // IPv4: version (word 2), protocol (3), ports (4), src (5), dst (9).
        assert_eq!(PROFILES[0].word_list(), vec![2, 3, 4, 5, 9]);
        assert_eq!(PROFILES[2].word_list(), vec![0, 1, 2]);
        assert_eq!(PROFILES[3].word_list(), (2..13).collect::<Vec<_>>());
        for p in PROFILES {
            assert!(p.words >> KEY_WORDS == 0, "{} past the key", p.name);
            assert!(p.key_words() > 0);
        }
        let mut m = KeyBits::default();
        m.set(key::L4_DST, 0xffff);
        m.set(key::DST_IP, 0xffff_ffff);
        assert!(PROFILES[0].covers(&m));
        m.set(key::DST_MAC, 1);
        assert!(!PROFILES[0].covers(&m));
        assert!(!PROFILES[2].covers(&m));
        let k = PROFILES[0].expand(&[1, 2, 3, 4, 5]);
        assert_eq!(PROFILES[0].compress(&k), vec![1, 2, 3, 4, 5]);
        assert_eq!(k.word(9), 5);
    }

    #[test]
    fn probes_are_distinct_and_in_the_table() {
        let mut r = Rng(7);
        for _ in 0..1000 {
            let k: Vec<u32> = (0..5).map(|_| r.u32()).collect();
            let p = PROFILES[0].probe(&k);
            let s: Vec<u32> = p.slots().collect();
            assert_eq!(s.len(), HOPS as usize);
            for (i, a) in s.iter().enumerate() {
                assert!(*a < PROFILES[0].slots());
                assert!(!s[i + 1..].contains(a), "probe slots repeat: {s:?}");
            }
            assert_eq!(p.step & 1, 1);
        }
    }

    #[test]
    fn mix_is_invertible_on_a_sample() {
        // XOR-shifts are bijections: no two of many inputs collide on all 32 bits.
        let mut seen = std::collections::HashSet::new();
        for x in 0..200_000u32 {
            assert!(seen.insert(mix(x.wrapping_mul(2_654_435_761))));
        }
    }

    /// Fills one profile with keys from `gen` up to `fill` of its slots and checks that every
    /// key is found, every other key of the same kind missed, and the writes keep every key
    /// findable at every step.
    fn fill_and_check(gen: &mut dyn FnMut(usize) -> Vec<u32>, fill: f64) -> usize {
        let prof = PROFILES[0];
        let mut t: Placement<u32> = Placement::new(prof);
        let n = (prof.slots() as f64 * fill) as usize;
        let mut device: Vec<Option<Vec<u32>>> = vec![None; prof.slots() as usize];
        let mut keys: Vec<Vec<u32>> = Vec::new();
        let mut values = Vec::new();
        let mut full = 0;
        for i in 0..n {
            let k = gen(i);
            match t.insert(k.clone(), i as u32) {
                Ok((writes, slot)) => {
                    for w in writes {
                        match w {
                            SlotWrite::Set { slot, key, .. } => device[slot as usize] = Some(key),
                            SlotWrite::Clear { slot } => device[slot as usize] = None,
                        }
                        // Every key stored so far is still within its probes.
                        for old in &keys {
                            let p = prof.probe(old);
                            assert!(
                                p.slots().any(|s| device[s as usize].as_ref() == Some(old)),
                                "a move lost a key"
                            );
                        }
                    }
                    assert_eq!(t.find(&k), Some(slot));
                    keys.push(k);
                    values.push(i as u32);
                }
                Err(PlaceError::Full) => full += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(t.len(), keys.len());
        for (k, v) in keys.iter().zip(&values) {
            let s = t.find(k).expect("found");
            assert_eq!(t.slot(s).unwrap().1, *v);
            assert_eq!(device[s as usize].as_ref(), Some(k));
        }
        full
    }

    #[test]
    fn random_keys_fill_ninety_percent_of_a_table() {
        let mut r = Rng(0x5eed);
        let mut gen = |_: usize| (0..5).map(|_| r.u32()).collect::<Vec<_>>();
        assert_eq!(fill_and_check(&mut gen, 0.9), 0);
    }

    #[test]
    fn sequential_ports_and_addresses_fill_ninety_percent() {
        // dst port i, dst address 10.0.(i/256).(i%256): structured keys.
        let mut gen = |i: usize| vec![4 << 28, 17, i as u32, 0x0a00_0001, 0x0a00_0000 + i as u32];
        assert_eq!(fill_and_check(&mut gen, 0.9), 0);
        let mut gen = |i: usize| vec![4 << 28, 6, (i as u32) << 16 | 80, 0xc0a8_0001, 0];
        assert_eq!(fill_and_check(&mut gen, 0.9), 0);
    }

    #[test]
    fn replace_in_place_remove_and_full() {
        let prof = Profile {
            slots_log2: 3,
            ..PROFILES[2]
        };
        let mut t: Placement<u8> = Placement::new(prof);
        let (w, s) = t.insert(vec![1, 2, 3], 1).unwrap();
        assert_eq!(w.len(), 1);
        let (w2, s2) = t.insert(vec![1, 2, 3], 2).unwrap();
        assert_eq!((s2, w2.len()), (s, 1), "same key: same slot");
        assert_eq!(t.slot(s).unwrap().1, 2);
        assert_eq!(t.len(), 1);
        assert_eq!(t.insert(vec![1, 2], 0), Err(PlaceError::BadKey));
        // Fill the 8 slots; some key eventually finds none.
        let mut placed = 1;
        let mut failed = false;
        for i in 0..64u32 {
            match t.insert(vec![i, 7, 9], 0) {
                Ok(_) => placed += 1,
                Err(PlaceError::Full) => failed = true,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(failed && placed <= 8);
        assert_eq!(t.remove(&[1, 2, 3]), Some(s));
        assert_eq!(t.find(&[1, 2, 3]), None);
        assert_eq!(t.len(), placed - 1);
    }
}
