//! The group pages: multicast group membership, indication permissions, the device-space
//! listener mask and the multicast counters. Only the process that owns the device maps these
//! pages (none of them is a VI page): a VI cannot grant itself membership or permission.
//!
//! Membership and permissions are bitmaps held in 32-bit words: group `g`'s members are
//! [`MEMBER_WORDS`] words (word `w` holds VIs `32w..32w+31`), VI `v`'s permissions are
//! [`PERMIT_WORDS`] words (word `w` holds groups `32w..32w+31`), and the listener mask is
//! [`LISTEN_WORDS`] words. [`members_at`], [`permit_at`] and [`listen_at`] give the offsets.
//! The regions are laid out for up to 256 VIs and 256 groups, so offsets do not move when the
//! device grows.

use super::{Access, Field, Page, Reg};
use crate::params::{NUM_GROUPS, NUM_VIS};

/// Words of a 32-bit bitmap over `n` things, rounded up to a power of two (the device decodes
/// the word index from the low address bits).
const fn bitmap_words(n: u32) -> u32 {
    n.div_ceil(32).next_power_of_two()
}

/// Words per group in the membership bitmap.
pub const MEMBER_WORDS: u32 = bitmap_words(NUM_VIS);
/// Words per VI in the permission bitmap.
pub const PERMIT_WORDS: u32 = bitmap_words(NUM_GROUPS);
/// Words of the listener mask.
pub const LISTEN_WORDS: u32 = bitmap_words(NUM_GROUPS);
/// Entries of the indication queue (doorbells waiting for the fan-out).
pub const INDICATION_QUEUE_DEPTH: u32 = 512;

pub const MEMBERS: Reg = Reg {
    name: "MEMBERS",
    offset: 0x000,
    access: Access::Rw,
    reset: 0,
    doc: "One word of a group's membership bitmap: word g * MEMBER_WORDS + w holds VIs 32w..32w+31 of group g (bit n = VI 32w+n). An event for the group is written into every subscribed queue, lowest VI first. Bits of VIs past NUM_VIS read 0 and are not stored.",
    fields: &[],
};

/// Base of the membership bitmaps (sized for 256 groups of 256 VIs).
pub const MEMBERS_BASE: u32 = 0xa000;
pub const MEMBERS_PAGE: Page = Page {
    name: "group members",
    base: MEMBERS_BASE,
    stride: 4,
    count: NUM_GROUPS * MEMBER_WORDS,
    doc: "The membership bitmap of every group, MEMBER_WORDS words per group (word g * MEMBER_WORDS + w: VIs 32w..32w+31 of group g). A write replaces 32 members at once; SUBSCRIBE changes one.",
    regs: &[MEMBERS],
};

/// BAR0 offset of word `word` (VIs `32 * word ..`) of group `group`'s membership bitmap.
pub const fn members_at(group: u32, word: u32) -> u32 {
    MEMBERS_PAGE.at(group * MEMBER_WORDS + word, &MEMBERS)
}

pub const PERMIT: Reg = Reg {
    name: "PERMIT",
    offset: 0x000,
    access: Access::Rw,
    reset: 0,
    doc: "One word of a VI's permission bitmap: word v * PERMIT_WORDS + w holds groups 32w..32w+31 (bit n = group 32w+n) that VI v may indicate into.",
    fields: &[],
};

/// Base of the permission bitmaps (sized for 256 VIs of 256 groups).
pub const PERMIT_BASE: u32 = 0xc000;
pub const PERMIT_PAGE: Page = Page {
    name: "indication permissions",
    base: PERMIT_BASE,
    stride: 4,
    count: NUM_VIS * PERMIT_WORDS,
    doc: "Per VI, PERMIT_WORDS words: the groups it may indicate into through its INDICATE doorbell (word v * PERMIT_WORDS + w: groups 32w..32w+31 for VI v).",
    regs: &[PERMIT],
};

/// BAR0 offset of word `word` (groups `32 * word ..`) of VI `vi`'s permission bitmap.
pub const fn permit_at(vi: u32, word: u32) -> u32 {
    PERMIT_PAGE.at(vi * PERMIT_WORDS + word, &PERMIT)
}

pub const SUBSCRIBE_GROUP: Field = Field {
    name: "GROUP",
    lsb: 0,
    width: 8,
    doc: "The group.",
};
pub const SUBSCRIBE_VI: Field = Field {
    name: "VI",
    lsb: 8,
    width: 8,
    doc: "The VI.",
};
pub const SUBSCRIBE_ON: Field = Field {
    name: "ON",
    lsb: 31,
    width: 1,
    doc: "1 subscribes, 0 unsubscribes.",
};
pub const SUBSCRIBE: Reg = Reg {
    name: "SUBSCRIBE",
    offset: 0x000,
    access: Access::Wo,
    reset: 0,
    doc: "Subscribe or unsubscribe one VI to one group with a single write (no read-modify-write of MEMBERS). Out-of-range values are refused.",
    fields: &[SUBSCRIBE_GROUP, SUBSCRIBE_VI, SUBSCRIBE_ON],
};
pub const NO_MEMBERS: Reg = Reg {
    name: "NO_MEMBERS",
    offset: 0x00c,
    access: Access::Ro,
    reset: 0,
    doc: "Group events that found no subscriber (and went nowhere but, if listened, the device port).",
    fields: &[],
};
pub const PORT_EVENTS: Reg = Reg {
    name: "PORT_EVENTS",
    offset: 0x010,
    access: Access::Ro,
    reset: 0,
    doc: "Indications accepted from the device-space input port.",
    fields: &[],
};

pub const OVERRUNS: Reg = Reg {
    name: "OVERRUNS",
    offset: 0x014,
    access: Access::Ro,
    reset: 0,
    doc: "Indications lost because the indication queue (INDICATION_QUEUE_DEPTH = 512 doorbells) was full: doorbells faster than the multicast fan-out.",
    fields: &[],
};

pub const CONTROL_BASE: u32 = super::GROUP_PAGE_BASE + 0x800;
pub const CONTROL_PAGE: Page = Page {
    name: "group control",
    base: CONTROL_BASE,
    stride: 0x100,
    count: 1,
    doc: "Atomic subscribe, counters.",
    regs: &[SUBSCRIBE, NO_MEMBERS, PORT_EVENTS, OVERRUNS],
};

pub const LISTEN: Reg = Reg {
    name: "LISTEN",
    offset: 0x000,
    access: Access::Rw,
    reset: 0,
    doc: "Word w of the listener mask: groups 32w..32w+31 (bit n = group 32w+n) whose events are also notified on the device-space output port.",
    fields: &[],
};

pub const LISTEN_BASE: u32 = CONTROL_BASE + 0x100;
pub const LISTEN_PAGE: Page = Page {
    name: "group listeners",
    base: LISTEN_BASE,
    stride: 4,
    count: LISTEN_WORDS,
    doc: "The device-space listener mask, LISTEN_WORDS words.",
    regs: &[LISTEN],
};

/// BAR0 offset of word `word` (groups `32 * word ..`) of the listener mask.
pub const fn listen_at(word: u32) -> u32 {
    LISTEN_PAGE.at(word, &LISTEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_fit_their_regions_at_256_groups_and_vis() {
        const { assert!(MEMBERS_BASE + 256 * 256 / 8 <= PERMIT_BASE) };
        const { assert!(PERMIT_BASE + 256 * 256 / 8 <= super::super::TIMER_PAGE_BASE) };
        const { assert!(LISTEN_BASE + 256 / 8 <= CONTROL_BASE + 0x800) };
        const { assert!(MEMBER_WORDS * 32 >= NUM_VIS && PERMIT_WORDS * 32 >= NUM_GROUPS) };
        assert_eq!(members_at(3, 0), MEMBERS_BASE + 12 * MEMBER_WORDS);
        assert!(OVERRUNS
            .doc
            .contains(&format!("= {INDICATION_QUEUE_DEPTH} ")));
    }
}
