//! The reference model of the filter table (`hdl/src/filter.rs`): ternary entries over the key,
//! the lowest matching enabled index wins, per-entry hit counters.

use evnic_regs::key::KeyBits;

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
    pub index: u8,
    pub action: u16,
}

/// The filter table: `entries` entries, all disabled after reset, and their hit counters.
#[derive(Clone, Debug)]
pub struct FilterTable {
    entries: Vec<Entry>,
    hits: Vec<u32>,
}

impl FilterTable {
    /// A table of `n` disabled entries (as after reset).
    pub fn new(n: usize) -> FilterTable {
        assert!((1..=32).contains(&n), "the filter index is 5 bits");
        FilterTable {
            entries: vec![Entry::default(); n],
            hits: vec![0; n],
        }
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Always false: a table has at least one entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Writes entry `index` whole. Its hit counter is kept.
    pub fn write(&mut self, index: usize, entry: Entry) {
        self.entries[index] = entry;
    }
    /// Entry `index`.
    pub fn entry(&self, index: usize) -> &Entry {
        &self.entries[index]
    }
    /// The lowest enabled entry that matches `key`, without counting it.
    pub fn peek(&self, key: &KeyBits) -> Option<Hit> {
        self.entries
            .iter()
            .position(|e| e.enable && key.matches(&e.value, &e.mask))
            .map(|i| Hit {
                index: i as u8,
                action: self.entries[i].action,
            })
    }
    /// Looks `key` up and counts the hit (counters saturate at `u32::MAX`).
    pub fn lookup(&mut self, key: &KeyBits) -> Option<Hit> {
        let hit = self.peek(key);
        if let Some(h) = hit {
            self.count_hit(usize::from(h.index));
        }
        hit
    }
    /// Counts one hit on entry `index` (what [`lookup`](Self::lookup) does after
    /// [`peek`](Self::peek)), for models of a pipelined table that counts later than it looks.
    pub fn count_hit(&mut self, index: usize) {
        let c = &mut self.hits[index];
        *c = c.saturating_add(1);
    }
    /// Hit counter of entry `index`.
    pub fn hits(&self, index: usize) -> u32 {
        self.hits[index]
    }
    /// Clears the hit counter of entry `index`.
    pub fn clear_hits(&mut self, index: usize) {
        self.hits[index] = 0;
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
}
