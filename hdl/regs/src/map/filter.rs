//! The filter page: the receive filter tables and the receive path's settings and counters.
//!
//! # Tables and precedence
//!
//! A frame's key (`crate::key`) is looked up in two kinds of table at once:
//! - exact-match tables, one per mask profile ([`crate::exact`]): a hit in profile `p` needs
//!   the key, masked with the profile's mask, to equal a stored entry;
//! - the ternary table of [`crate::params::NUM_FILTERS`] entries, each with its own value and
//!   mask over the whole key.
//!
//! The verdict is the exact-match hit of the lowest-numbered profile that hits; when no
//! profile hits, the lowest enabled ternary entry that matches; when none does, the default
//! action. So a specific exact entry always wins over a wildcard, and a ternary entry only
//! decides frames no exact entry claims.
//!
//! # Entry numbering
//!
//! One 16-bit number names an entry in `COMMIT`, `HIT_SELECT` and the RX event's `source`:
//! ternary entry `i` is `i` (0..NUM_FILTERS-1); slot `s` of exact profile `p` is
//! `0x8000 | p << 12 | s` ([`EntryIndex`]). `0xFFFF` (`SOURCE_NONE`) is no entry.
//!
//! # Writing entries
//!
//! An entry is written in two steps so that a frame never sees a half-written entry: software
//! fills the staging registers (`VALUE*`, `MASK*`, `ENTRY`), then writes the entry's number to
//! `COMMIT`. The device copies the staged words (one per cycle) and replaces the entry so that
//! every lookup sees either all of the old entry or all of the new one; `STATUS.BUSY` is set
//! until it is done, and a `COMMIT` or `PROFILE_COMMIT` while busy is refused (bus error).
//! The staging registers keep their value, so similar entries need only the words that
//! differ; they may be written while a ternary rewrite is still running (not while the copy
//! runs: such accesses wait, which the bus absorbs).
//!
//! - Ternary entry: value, mask, action, enable. Busy for the copy plus two passes over the
//!   table's RAM (about 2 x 512 cycles, longer while frames are looked up); disabling an
//!   entry (`ENABLE` 0) takes effect right after the copy.
//! - Exact entry (profile, slot): the staged value's words of the profile (which must be 0
//!   outside the profile's mask, or the entry never matches), action, `ENABLE` as the valid
//!   bit. Busy for the copy and one write. Where an entry may go is the host's business:
//!   the device only looks at [`crate::exact::HOPS`] slots of the key's probe sequence.
//! - Profile mask (`PROFILE_COMMIT`): the staged mask's bits within the profile's key words
//!   become the profile's mask at one clock edge (change it only while the profile's table is
//!   empty, or its entries stop matching).
//!
//! After a reset the exact-match tables and hit counters are cleared for 512 cycles
//! (`STATUS.READY` low, `BUSY` high); frames are looked up meanwhile and hit nothing.
//!
//! The action word (in `ENTRY.ACTION`, `DEFAULT_ACTION` and the receive path's debug port) is
//! [`ACTION_KIND_SHIFT`]-based: bits 15:14 the kind, bits 7:0 the VI or group. A VI number is
//! taken modulo [`crate::params::NUM_VIS`] (its low bits); kind 3 is undefined and drops, like kind
//! DROP. Constants and helpers for it are here, shared by the RTL, the model and the library.

use super::{Access, Field, Page, Reg};

/// Bit position of the action kind in an action word (bits 15:14).
pub const ACTION_KIND_SHIFT: u32 = 14;
/// Action kind: deliver to the VI in bits 7:0.
pub const ACTION_KIND_VI: u16 = 0;
/// Action kind: multicast the RX event to the group in bits 7:0.
pub const ACTION_KIND_GROUP: u16 = 1;
/// Action kind: drop the frame (its low bits carry a [`DropReason`] on the debug port).
pub const ACTION_KIND_DROP: u16 = 2;
/// Mask of the target (VI or group) in an action word.
pub const ACTION_TARGET_MASK: u16 = 0x00ff;

/// The action word "deliver to VI `vi`".
pub const fn action_vi(vi: u8) -> u16 {
    (ACTION_KIND_VI << ACTION_KIND_SHIFT) | vi as u16
}
/// The action word "multicast to group `group`".
pub const fn action_group(group: u8) -> u16 {
    (ACTION_KIND_GROUP << ACTION_KIND_SHIFT) | group as u16
}
/// The action word "drop".
pub const fn action_drop() -> u16 {
    ACTION_KIND_DROP << ACTION_KIND_SHIFT
}

/// Why the receive path dropped a frame: the counter it is counted in, and the low bits of the
/// DROP action word the debug port reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DropReason {
    /// The matching filter entry's action is DROP.
    Filter = 1,
    /// No entry matched and the default action is DROP.
    NoMatch = 2,
    /// The target ring had no posted buffer.
    NoBuffer = 3,
    /// The FCS was wrong and `RX_CONFIG.FCS_DROP` is set.
    FcsBad = 4,
    /// The device could not hold the frame (no frame slot, key queue or frame buffer room).
    Overrun = 5,
    /// `CONTROL.ENABLE` was clear.
    Disabled = 6,
    /// The descriptor could not be read (DMA fault) or has a zero length: it is consumed.
    BadDescriptor = 7,
}

impl DropReason {
    pub const ALL: [DropReason; 7] = [
        DropReason::Filter,
        DropReason::NoMatch,
        DropReason::NoBuffer,
        DropReason::FcsBad,
        DropReason::Overrun,
        DropReason::Disabled,
        DropReason::BadDescriptor,
    ];
    /// The reason with code `code`.
    pub fn from_code(code: u8) -> Option<DropReason> {
        Self::ALL.iter().copied().find(|r| *r as u8 == code)
    }
    /// Name as printed by tools.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Filter => "filter",
            DropReason::NoMatch => "no-match",
            DropReason::NoBuffer => "no-buffer",
            DropReason::FcsBad => "fcs-bad",
            DropReason::Overrun => "overrun",
            DropReason::Disabled => "disabled",
            DropReason::BadDescriptor => "bad-descriptor",
        }
    }
    /// The counter register of this reason.
    pub fn counter(self) -> &'static Reg {
        match self {
            DropReason::Filter => &DROP_FILTER,
            DropReason::NoMatch => &DROP_NO_MATCH,
            DropReason::NoBuffer => &DROP_NO_BUFFER,
            DropReason::FcsBad => &DROP_FCS,
            DropReason::Overrun => &DROP_OVERRUN,
            DropReason::Disabled => &DROP_DISABLED,
            DropReason::BadDescriptor => &DROP_BAD_DESC,
        }
    }
}

/// RX event payload (word 0 bits 63:32 of an RX event): the receive descriptor count value the
/// frame used (the ring slot is this modulo the ring size), bits 15:0.
pub const RX_PAYLOAD_DESC: (u32, u32) = (0, 16);
/// RX event payload: the VI whose receive ring holds the frame, bits 23:16 (for a group action,
/// the default VI).
pub const RX_PAYLOAD_VI: (u32, u32) = (16, 8);
/// RX event payload bit 31: the frame data was not stored (a group action while the default
/// action is DROP); bits 23:0 are then 0.
pub const RX_PAYLOAD_NOT_STORED: u32 = 1 << 31;
/// RX event source when no filter entry matched (the default action delivered the frame).
pub const RX_SOURCE_DEFAULT: u16 = crate::event::SOURCE_NONE;

/// Entry numbers with this bit set name exact-match slots.
pub const EXACT_INDEX_FLAG: u16 = 0x8000;
/// Position of the profile in an exact-match entry number (bits 14:12).
pub const EXACT_PROFILE_SHIFT: u32 = 12;
/// The slot bits of an exact-match entry number (bits 11:0).
pub const EXACT_SLOT_MASK: u16 = (1 << EXACT_PROFILE_SHIFT) - 1;

const _: () = assert!(crate::params::EXACT_SLOTS_LOG2 <= EXACT_PROFILE_SHIFT);
const _: () = assert!(crate::params::NUM_EXACT_PROFILES <= 8);
const _: () = assert!(crate::params::NUM_FILTERS <= EXACT_INDEX_FLAG as u32);

/// A filter entry, as numbered in `COMMIT`, `HIT_SELECT` and the RX event's source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryIndex {
    /// Ternary entry `i`.
    Ternary(u16),
    /// Slot `slot` of exact-match profile `profile`.
    Exact { profile: u8, slot: u16 },
}

impl EntryIndex {
    /// The 16-bit entry number.
    pub const fn encode(self) -> u16 {
        match self {
            EntryIndex::Ternary(i) => i,
            EntryIndex::Exact { profile, slot } => {
                EXACT_INDEX_FLAG | (profile as u16) << EXACT_PROFILE_SHIFT | slot
            }
        }
    }
    /// The entry an entry number names, if the device has it.
    pub fn decode(n: u32) -> Option<EntryIndex> {
        if n < crate::params::NUM_FILTERS {
            return Some(EntryIndex::Ternary(n as u16));
        }
        if n > 0xffff || n & u32::from(EXACT_INDEX_FLAG) == 0 {
            return None;
        }
        let profile = (n >> EXACT_PROFILE_SHIFT) & 7;
        let slot = n & u32::from(EXACT_SLOT_MASK);
        (profile < crate::params::NUM_EXACT_PROFILES && slot < 1 << crate::params::EXACT_SLOTS_LOG2)
            .then_some(EntryIndex::Exact {
                profile: profile as u8,
                slot: slot as u16,
            })
    }
}

const fn rw(name: &'static str, offset: u32, doc: &'static str) -> Reg {
    Reg {
        name,
        offset,
        access: Access::Rw,
        reset: 0,
        doc,
        fields: &[],
    }
}
const fn rc(name: &'static str, offset: u32, doc: &'static str) -> Reg {
    Reg {
        name,
        offset,
        access: Access::Rc,
        reset: 0,
        doc,
        fields: &[],
    }
}

/// Staged entry value, word n (key bits 32n+31:32n).
pub const VALUE_BASE: u32 = 0x000;
/// Staged entry mask, word n: a 1 bit must match.
pub const MASK_BASE: u32 = 0x040;
/// Hit counter of entry n at `HITS_BASE + 4n`.
pub const HITS_BASE: u32 = 0x100;

pub const ENTRY_ACTION: Field = Field {
    name: "ACTION",
    lsb: 0,
    width: 16,
    doc: "Action word: bits 15:14 kind (0 VI, 1 group, 2 drop), bits 7:0 VI or group.",
};
pub const ENTRY_ENABLE: Field = Field {
    name: "ENABLE",
    lsb: 16,
    width: 1,
    doc: "The entry takes part in lookups.",
};
pub const ENTRY: Reg = Reg {
    name: "ENTRY",
    offset: 0x080,
    access: Access::Rw,
    reset: 0,
    doc: "Staged entry action and enable.",
    fields: &[ENTRY_ACTION, ENTRY_ENABLE],
};
pub const COMMIT: Reg = Reg {
    name: "COMMIT",
    offset: 0x084,
    access: Access::Wo,
    reset: 0,
    doc: "Write an entry number (ternary i, or 0x8000 | profile << 12 | slot): the staged entry replaces it atomically (STATUS.BUSY until done; its hit counter is kept). Refused (bus error) while BUSY or for a number the device has no entry for.",
    fields: &[],
};
pub const DEFAULT_ACTION: Reg = Reg {
    name: "DEFAULT_ACTION",
    offset: 0x088,
    access: Access::Rw,
    reset: 0x8000,
    doc: "What happens to a frame no enabled entry matches: an action word of kind VI (deliver to that VI) or DROP (counted in DROP_NO_MATCH). Other kinds are refused. The default VI's ring also stores the data of frames whose entry multicasts to a group.",
    fields: &[],
};
pub const RX_CONFIG_FCS_DROP: Field = Field {
    name: "FCS_DROP",
    lsb: 0,
    width: 1,
    doc: "1: drop frames with a bad FCS (DROP_FCS); 0: deliver them with the FCS_BAD flag.",
};
pub const RX_CONFIG: Reg = Reg {
    name: "RX_CONFIG",
    offset: 0x08c,
    access: Access::Rw,
    reset: 1,
    doc: "Receive policy.",
    fields: &[RX_CONFIG_FCS_DROP],
};
pub const MAX_LEN: Reg = Reg {
    name: "MAX_LEN",
    offset: 0x090,
    access: Access::Rw,
    reset: 1522,
    doc: "Frames longer than this (FCS included, bits 15:0) are flagged OVERSIZE.",
    fields: &[],
};
pub const STATUS_BUSY: Field = Field {
    name: "BUSY",
    lsb: 0,
    width: 1,
    doc: "A COMMIT or PROFILE_COMMIT is being carried out (or the tables are being cleared after a reset): a new one is refused.",
};
pub const STATUS_READY: Field = Field {
    name: "READY",
    lsb: 1,
    width: 1,
    doc: "The exact-match tables and hit counters were cleared after the last reset.",
};
pub const STATUS: Reg = Reg {
    name: "STATUS",
    offset: 0x094,
    access: Access::Ro,
    reset: 0,
    doc: "State of the filter tables' write engine.",
    fields: &[STATUS_BUSY, STATUS_READY],
};
pub const PROFILE_COMMIT: Reg = Reg {
    name: "PROFILE_COMMIT",
    offset: 0x098,
    access: Access::Wo,
    reset: 0,
    doc: "Write an exact-match profile number: the staged mask, within the profile's key words (PROFILE_WORDS), becomes its mask at one clock edge (STATUS.BUSY until done). Refused while BUSY or for a profile the device does not have.",
    fields: &[],
};
pub const HIT_SELECT: Reg = Reg {
    name: "HIT_SELECT",
    offset: 0x0c4,
    access: Access::Rw,
    reset: 0,
    doc: "Entry number (bits 15:0) whose hit counter HIT_COUNT shows.",
    fields: &[],
};
pub const HIT_COUNT: Reg = rc(
    "HIT_COUNT",
    0x0c8,
    "Hits of the entry HIT_SELECT names (saturating; 0 for a number the device has no entry for). Any write clears it. Read and cleared through the counter RAM: the access waits a few cycles.",
);
const fn ro(name: &'static str, offset: u32, reset: u32, doc: &'static str) -> Reg {
    Reg {
        name,
        offset,
        access: Access::Ro,
        reset,
        doc,
        fields: &[],
    }
}
pub const TERNARY_ENTRIES: Reg = ro(
    "TERNARY_ENTRIES",
    0x0d0,
    crate::params::NUM_FILTERS,
    "Ternary entries (as the global page's NUM_FILTERS).",
);
pub const EXACT_PROFILES: Reg = ro(
    "EXACT_PROFILES",
    0x0d4,
    crate::params::NUM_EXACT_PROFILES,
    "Exact-match tables (mask profiles).",
);
pub const EXACT_HOPS: Reg = ro(
    "EXACT_HOPS",
    0x0d8,
    crate::params::EXACT_HOPS,
    "Slots of its probe sequence the device reads per profile for a key: an entry must sit within them.",
);
pub const EXACT_ENTRIES: Reg = ro(
    "EXACT_ENTRIES",
    0x0dc,
    crate::params::NUM_EXACT_FILTERS,
    "Exact-match slots over all profiles.",
);
/// `PROFILE_SLOTS<p>` (slots log2 of profile p) at `PROFILE_SLOTS_BASE + 4p`.
pub const PROFILE_SLOTS_BASE: u32 = 0x200;
/// `PROFILE_WORDS<p>` (the key words profile p stores) at `PROFILE_WORDS_BASE + 4p`.
pub const PROFILE_WORDS_BASE: u32 = 0x240;

pub const RX_FRAMES: Reg = rc(
    "RX_FRAMES",
    0x0a0,
    "Frames received (every frame: delivered plus every drop counter). Any write clears it.",
);
pub const RX_DELIVERED: Reg = rc("RX_DELIVERED", 0x0a4, "Frames that produced an RX event (written to a buffer, or multicast without data). Any write clears it.");
pub const DROP_FILTER: Reg = rc(
    "DROP_FILTER",
    0x0a8,
    "Frames dropped by a DROP entry. Any write clears it.",
);
pub const DROP_NO_MATCH: Reg = rc(
    "DROP_NO_MATCH",
    0x0ac,
    "Frames no entry matched, dropped by the default action. Any write clears it.",
);
pub const DROP_NO_BUFFER: Reg = rc("DROP_NO_BUFFER", 0x0b0, "Frames dropped for want of a posted receive buffer (also per VI in RXQ_DROPS). Any write clears it.");
pub const DROP_FCS: Reg = rc(
    "DROP_FCS",
    0x0b4,
    "Frames dropped for a bad FCS (RX_CONFIG.FCS_DROP). Any write clears it.",
);
pub const DROP_OVERRUN: Reg = rc("DROP_OVERRUN", 0x0b8, "Frames the receive path could not hold: no frame slot free, the key queue full, or the frame buffer (16 KiB) full. Any write clears it.");
pub const DROP_DISABLED: Reg = rc(
    "DROP_DISABLED",
    0x0bc,
    "Frames received while CONTROL.ENABLE was clear. Any write clears it.",
);
pub const DROP_BAD_DESC: Reg = rc("DROP_BAD_DESC", 0x0c0, "Frames dropped on a receive descriptor that could not be read or has length 0 (the descriptor is consumed). Any write clears it.");
pub const RX_DESC_WAITS: Reg = rc("RX_DESC_WAITS", 0x0cc, "Frames whose verdict came before their ring's descriptor had been fetched and that waited for it (not a drop: each is also counted in RX_DELIVERED or a DROP_* counter). Any write clears it.");

const VALUE_NAMES: [&str; 13] = [
    "VALUE0", "VALUE1", "VALUE2", "VALUE3", "VALUE4", "VALUE5", "VALUE6", "VALUE7", "VALUE8",
    "VALUE9", "VALUE10", "VALUE11", "VALUE12",
];
const MASK_NAMES: [&str; 13] = [
    "MASK0", "MASK1", "MASK2", "MASK3", "MASK4", "MASK5", "MASK6", "MASK7", "MASK8", "MASK9",
    "MASK10", "MASK11", "MASK12",
];
const HITS_NAMES: [&str; 32] = [
    "HITS0", "HITS1", "HITS2", "HITS3", "HITS4", "HITS5", "HITS6", "HITS7", "HITS8", "HITS9",
    "HITS10", "HITS11", "HITS12", "HITS13", "HITS14", "HITS15", "HITS16", "HITS17", "HITS18",
    "HITS19", "HITS20", "HITS21", "HITS22", "HITS23", "HITS24", "HITS25", "HITS26", "HITS27",
    "HITS28", "HITS29", "HITS30", "HITS31",
];
const PROFILE_SLOTS_NAMES: [&str; 8] = [
    "PROFILE_SLOTS0",
    "PROFILE_SLOTS1",
    "PROFILE_SLOTS2",
    "PROFILE_SLOTS3",
    "PROFILE_SLOTS4",
    "PROFILE_SLOTS5",
    "PROFILE_SLOTS6",
    "PROFILE_SLOTS7",
];
const PROFILE_WORDS_NAMES: [&str; 8] = [
    "PROFILE_WORDS0",
    "PROFILE_WORDS1",
    "PROFILE_WORDS2",
    "PROFILE_WORDS3",
    "PROFILE_WORDS4",
    "PROFILE_WORDS5",
    "PROFILE_WORDS6",
    "PROFILE_WORDS7",
];
const KW: usize = crate::key::KEY_WORDS as usize;
const NF: usize = crate::params::NUM_FILTERS as usize;
const NP: usize = crate::params::NUM_EXACT_PROFILES as usize;

const SINGLES: [Reg; 23] = [
    ENTRY,
    COMMIT,
    DEFAULT_ACTION,
    RX_CONFIG,
    MAX_LEN,
    STATUS,
    PROFILE_COMMIT,
    HIT_SELECT,
    HIT_COUNT,
    TERNARY_ENTRIES,
    EXACT_PROFILES,
    EXACT_HOPS,
    EXACT_ENTRIES,
    RX_FRAMES,
    RX_DELIVERED,
    DROP_FILTER,
    DROP_NO_MATCH,
    DROP_NO_BUFFER,
    DROP_FCS,
    DROP_OVERRUN,
    DROP_DISABLED,
    DROP_BAD_DESC,
    RX_DESC_WAITS,
];
const NREGS: usize = 2 * KW + SINGLES.len() + NF + 2 * NP;

const fn build() -> [Reg; NREGS] {
    let mut out = [ENTRY; NREGS];
    let mut i = 0;
    while i < KW {
        out[i] = rw(
            VALUE_NAMES[i],
            VALUE_BASE + 4 * i as u32,
            "Staged entry value, key bits 32n+31:32n (n = the register's number).",
        );
        out[KW + i] = rw(
            MASK_NAMES[i],
            MASK_BASE + 4 * i as u32,
            "Staged entry mask, key bits 32n+31:32n: a 1 bit must equal the value's.",
        );
        i += 1;
    }
    let mut j = 0;
    while j < SINGLES.len() {
        out[2 * KW + j] = SINGLES[j];
        j += 1;
    }
    let mut h = 0;
    while h < NF {
        out[2 * KW + SINGLES.len() + h] = rc(
            HITS_NAMES[h],
            HITS_BASE + 4 * h as u32,
            "Hits of ternary entry n (saturating). Any write clears it. Read through the counter RAM: the access waits a few cycles.",
        );
        h += 1;
    }
    let base = 2 * KW + SINGLES.len() + NF;
    let mut p = 0;
    while p < NP {
        let prof = &crate::exact::PROFILES[p];
        out[base + p] = ro(
            PROFILE_SLOTS_NAMES[p],
            PROFILE_SLOTS_BASE + 4 * p as u32,
            prof.slots_log2,
            "Exact-match profile n has 2^value slots.",
        );
        out[base + NP + p] = ro(
            PROFILE_WORDS_NAMES[p],
            PROFILE_WORDS_BASE + 4 * p as u32,
            prof.words,
            "Bit w set: exact-match profile n stores and compares key word w (key bits 32w+31:32w); its entries' values and mask live in these words.",
        );
        p += 1;
    }
    out
}

const ALL: [Reg; NREGS] = build();
pub const REGS: &[Reg] = &ALL;

pub const PAGE: Page = Page {
    name: "filter",
    base: super::FILTER_PAGE_BASE,
    stride: super::PAGE_BYTES,
    count: 1,
    doc: "The receive filter tables (staging registers and an atomic COMMIT of a ternary or exact-match entry, profile masks, hit counters, table parameters), the default action, receive policy and the receive path's counters. A frame's verdict is the hit of the lowest exact-match profile that hits, else the lowest enabled ternary entry that matches, else DEFAULT_ACTION. Entry numbers: ternary i is i, slot s of exact profile p is 0x8000 | p << 12 | s; the RX event's source carries it (0xFFFF: the default action). Every frame is counted once in RX_FRAMES and once in RX_DELIVERED or one DROP_* counter.",
    regs: REGS,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_where_the_constants_say() {
        for (i, r) in REGS.iter().enumerate().take(KW) {
            assert_eq!(r.offset, VALUE_BASE + 4 * i as u32);
        }
        let hits: Vec<_> = REGS.iter().filter(|r| r.name.starts_with("HITS")).collect();
        assert_eq!(hits.len(), NF);
        assert_eq!(hits[31].offset, HITS_BASE + 31 * 4);
        assert!(MASK_BASE + 4 * KW as u32 <= ENTRY.offset);
        assert!(HITS_BASE + 4 * NF as u32 <= PROFILE_SLOTS_BASE);
        assert!(PROFILE_SLOTS_BASE + 4 * NP as u32 <= PROFILE_WORDS_BASE);
        assert!(NP <= PROFILE_SLOTS_NAMES.len());
    }

    #[test]
    fn entry_numbers_round_trip() {
        for n in 0..=0xffffu32 {
            if let Some(e) = EntryIndex::decode(n) {
                assert_eq!(u32::from(e.encode()), n);
            }
        }
        assert_eq!(EntryIndex::decode(3), Some(EntryIndex::Ternary(3)));
        assert_eq!(EntryIndex::decode(crate::params::NUM_FILTERS), None);
        assert_eq!(
            EntryIndex::decode(0x8000 | 2 << 12 | 7),
            Some(EntryIndex::Exact {
                profile: 2,
                slot: 7
            })
        );
        assert_eq!(EntryIndex::decode(0xffff), None);
        assert_eq!(EntryIndex::decode(0x1_0000), None);
    }

    #[test]
    fn drop_reasons_round_trip() {
        for r in DropReason::ALL {
            assert_eq!(DropReason::from_code(r as u8), Some(r));
            assert_eq!(r.counter().access, Access::Rc);
        }
        assert_eq!(action_group(5), 0x4005);
        assert_eq!(action_drop(), 0x8000);
    }
}
