//! The group page: multicast group membership, indication permissions and the device-space
//! listener mask. Only the process that owns the device maps this page: a VI cannot grant itself
//! membership or permission.

use super::{Access, Field, Page, Reg};

pub const MEMBERS: Reg = Reg {
    name: "MEMBERS",
    offset: 0x000,
    access: Access::Rw,
    reset: 0,
    doc: "Bitmap of the VIs subscribed to the group (bit n = VI n). An event for the group is written into every subscribed queue, lowest VI first.",
    fields: &[],
};

/// Group `g`'s membership bitmap is at `GROUP_PAGE_BASE + g * 4`.
pub const MEMBERS_PAGE: Page = Page {
    name: "group members",
    base: super::GROUP_PAGE_BASE,
    stride: 4,
    count: crate::params::NUM_GROUPS,
    doc: "One membership bitmap per group.",
    regs: &[MEMBERS],
};

pub const PERMIT_LO: Reg = Reg {
    name: "PERMIT_LO",
    offset: 0x000,
    access: Access::Rw,
    reset: 0,
    doc: "Groups 31..0 this VI may indicate into (bit g = group g).",
    fields: &[],
};
pub const PERMIT_HI: Reg = Reg {
    name: "PERMIT_HI",
    offset: 0x004,
    access: Access::Rw,
    reset: 0,
    doc: "Groups 63..32 this VI may indicate into (bit g-32 = group g).",
    fields: &[],
};

/// VI `v`'s permission masks are at `PERMIT_BASE + v * 8`.
pub const PERMIT_BASE: u32 = super::GROUP_PAGE_BASE + 0x400;
pub const PERMIT_PAGE: Page = Page {
    name: "indication permissions",
    base: PERMIT_BASE,
    stride: 8,
    count: crate::params::NUM_VIS,
    doc: "Per VI, the groups it may indicate into through its INDICATE doorbell.",
    regs: &[PERMIT_LO, PERMIT_HI],
};

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
pub const LISTEN_LO: Reg = Reg {
    name: "LISTEN_LO",
    offset: 0x004,
    access: Access::Rw,
    reset: 0,
    doc: "Groups 31..0 whose events are also notified on the device-space output port.",
    fields: &[],
};
pub const LISTEN_HI: Reg = Reg {
    name: "LISTEN_HI",
    offset: 0x008,
    access: Access::Rw,
    reset: 0,
    doc: "Groups 63..32 whose events are also notified on the device-space output port.",
    fields: &[],
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
    doc: "Indications lost because the indication queue (8 deep) was full: doorbells faster than the multicast fan-out.",
    fields: &[],
};

pub const CONTROL_BASE: u32 = super::GROUP_PAGE_BASE + 0x800;
pub const CONTROL_PAGE: Page = Page {
    name: "group control",
    base: CONTROL_BASE,
    stride: 0x800,
    count: 1,
    doc: "Atomic subscribe, device-space listener mask, counters.",
    regs: &[
        SUBSCRIBE,
        LISTEN_LO,
        LISTEN_HI,
        NO_MEMBERS,
        PORT_EVENTS,
        OVERRUNS,
    ],
};
