//! The filter page. Its registers arrive with the block that implements them; until then every
//! access to it is an unmapped access (counted in BUS_ERRORS).

use super::{Page, Reg};

pub const REGS: &[Reg] = &[];

pub const PAGE: Page = Page {
    name: "filter",
    base: super::FILTER_PAGE_BASE,
    stride: super::PAGE_BYTES,
    count: 1,
    doc: "Reserved for the filter block.",
    regs: REGS,
};
