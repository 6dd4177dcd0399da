//! The per-VI page: one 4 KiB page per virtual interface, so that a VI's doorbells can be
//! mapped into one process alone.

use super::{Page, Reg};

pub const REGS: &[Reg] = &[];

pub const PAGE: Page = Page {
    name: "VI",
    base: super::VI_PAGE_BASE,
    stride: super::PAGE_BYTES,
    count: crate::params::NUM_VIS,
    doc: "One page per virtual interface: event queue, receive and transmit rings, doorbells.",
    regs: REGS,
};
