//! The filter page: the receive filter table (CAM) and the receive path's settings and counters.
//!
//! An entry is written in two steps so that a frame never sees a half-written entry: software
//! fills the staging registers (`VALUE*`, `MASK*`, `ENTRY`), then writes the entry's index to
//! `COMMIT`, which copies the whole staged entry into the table at one clock edge. The staging
//! registers keep their value, so similar entries need only the words that differ.
//!
//! The action word (in `ENTRY.ACTION`, `DEFAULT_ACTION` and the receive path's debug port) is
//! [`ACTION_KIND_SHIFT`]-based: bits 15:14 the kind, bits 7:0 the VI or group. A VI number is
//! taken modulo [`crate::params::NUM_VIS`] (bits 3:0); kind 3 is undefined and drops, like kind
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
    doc: "Write an entry index (0..NUM_FILTERS-1): the staged value, mask, action and enable replace that entry at one clock edge (its hit counter is kept). An index out of range is refused (bus error).",
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
pub const RX_DESC_WAITS: Reg = rc("RX_DESC_WAITS", 0x0c4, "Frames whose verdict came before their ring's descriptor had been fetched and that waited for it (not a drop: each is also counted in RX_DELIVERED or a DROP_* counter). Any write clears it.");

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
const KW: usize = crate::key::KEY_WORDS as usize;
const NF: usize = crate::params::NUM_FILTERS as usize;

const SINGLES: [Reg; 15] = [
    ENTRY,
    COMMIT,
    DEFAULT_ACTION,
    RX_CONFIG,
    MAX_LEN,
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
const NREGS: usize = 2 * KW + SINGLES.len() + NF;

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
            "Hits of entry n (saturating). Any write clears it.",
        );
        h += 1;
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
    doc: "The receive filter table (staging registers and an atomic COMMIT), the default action, receive policy and the receive path's counters. Every frame is counted once in RX_FRAMES and once in RX_DELIVERED or one DROP_* counter.",
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
