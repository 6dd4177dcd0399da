//! BAR0: a global page, a filter page, a group page, the group member and permission bitmaps,
//! the timer pages, then one 4 KiB page per VI.
//!
//! Every register is 32 bits wide and 4-byte aligned. Accesses to an offset no register claims,
//! misaligned accesses and accesses with partial byte strobes complete normally (reads return 0)
//! and are counted in [`global::BUS_ERRORS`].

pub mod filter;
pub mod global;
pub mod group;
pub mod timer;
pub mod vi;

/// Bytes in one register page.
pub const PAGE_BYTES: u32 = 0x1000;
/// Offset of the global page.
pub const GLOBAL_PAGE_BASE: u32 = 0x0000;
/// Offset of the filter (CAM) page.
pub const FILTER_PAGE_BASE: u32 = 0x1000;
/// Offset of the multicast group page (control and listener mask; the member and permission
/// bitmaps are at [`group::MEMBERS_BASE`] and [`group::PERMIT_BASE`], 8 KiB each).
pub const GROUP_PAGE_BASE: u32 = 0x2000;
/// Offset of the timer pages (8 KiB: 256 timers of 32 bytes).
pub const TIMER_PAGE_BASE: u32 = 0xe000;
/// Offset of VI 0's page; VI n's page is at `VI_PAGE_BASE + n * PAGE_BYTES`, so that a VI's
/// doorbells can be mapped into a process on their own. Pages 3..9 are reserved.
pub const VI_PAGE_BASE: u32 = 0x10000;
/// Number of address bits the core decodes (BAR0 is `1 << BAR_ADDR_BITS` bytes): enough for
/// every VI page.
pub const BAR_ADDR_BITS: u32 = 32 - (crate::params::BAR0_BYTES - 1).leading_zeros();

/// How software may access a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read-only; writes are ignored and counted as bus errors.
    Ro,
    /// Read-write.
    Rw,
    /// Write-only doorbell: the write is an action; reads return 0.
    Wo,
    /// Readable, and a write of any value clears it to zero.
    Rc,
}

impl Access {
    /// The short form used in the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Ro => "RO",
            Access::Rw => "RW",
            Access::Wo => "WO",
            Access::Rc => "RC",
        }
    }
}

/// A bit field of a register.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    /// Lowest bit.
    pub lsb: u32,
    /// Width in bits.
    pub width: u32,
    pub doc: &'static str,
}

impl Field {
    /// Mask of the field in place.
    pub const fn mask(&self) -> u32 {
        if self.width >= 32 {
            u32::MAX
        } else {
            ((1u32 << self.width) - 1) << self.lsb
        }
    }
    /// `value` shifted into the field (extra high bits are cut off).
    pub const fn put(&self, value: u32) -> u32 {
        (value << self.lsb) & self.mask()
    }
    /// The field's value in `reg`.
    pub const fn get(&self, reg: u32) -> u32 {
        (reg & self.mask()) >> self.lsb
    }
}

/// A 32-bit register, at `offset` within its page (or within one element of an array page).
#[derive(Clone, Copy, Debug)]
pub struct Reg {
    pub name: &'static str,
    pub offset: u32,
    pub access: Access,
    /// Value after reset.
    pub reset: u32,
    pub doc: &'static str,
    pub fields: &'static [Field],
}

impl Reg {
    /// Word index of the register within its page (`offset / 4`), the form the decode uses.
    pub const fn word(&self) -> u32 {
        self.offset / 4
    }
}

/// A page of registers; `count` copies `stride` bytes apart (a VI page per VI, a timer block
/// per timer). `regs` offsets are relative to one copy.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub name: &'static str,
    pub base: u32,
    pub stride: u32,
    pub count: u32,
    pub doc: &'static str,
    pub regs: &'static [Reg],
}

impl Page {
    /// BAR0 offset of `reg` in copy `index` of this page.
    pub const fn at(&self, index: u32, reg: &Reg) -> u32 {
        self.base + index * self.stride + reg.offset
    }
}

/// Every page of BAR0, in address order.
pub const PAGES: &[Page] = &[
    global::PAGE,
    filter::PAGE,
    group::CONTROL_PAGE,
    group::LISTEN_PAGE,
    group::MEMBERS_PAGE,
    group::PERMIT_PAGE,
    timer::PAGE,
    vi::PAGE,
];

/// BAR0 offset of a global-page register.
pub const fn global_reg(reg: &Reg) -> u32 {
    global::PAGE.at(0, reg)
}

/// BAR0 offset of a register in VI `vi`'s page.
pub const fn vi_reg(vi: u32, reg: &Reg) -> u32 {
    vi::PAGE.at(vi, reg)
}

/// Finds the page and register at a BAR0 offset, with the copy index (for diagnostics).
pub fn lookup(offset: u32) -> Option<(&'static Page, u32, &'static Reg)> {
    for page in PAGES {
        let end = page.base + page.count * page.stride;
        if offset >= page.base && offset < end {
            let index = (offset - page.base) / page.stride;
            let within = (offset - page.base) % page.stride;
            return page
                .regs
                .iter()
                .find(|r| r.offset == within)
                .map(|r| (page, index, r));
        }
    }
    None
}

/// Renders the whole map as Markdown (the content of `docs/registers.md`).
pub fn render_markdown() -> String {
    use std::fmt::Write;
    let mut out = String::new();
    out.push_str("# evnic register map\n\n");
    out.push_str("Generated from `hdl/regs` by `make docs`; do not edit by hand.\n\n");
    let _ = writeln!(
        out,
        "BAR0 is {} KiB. Registers are 32 bits, little-endian, 4-byte aligned. Accesses to \
         unmapped offsets, misaligned or partial-strobe accesses and writes to read-only \
         registers complete (reads return 0) and are counted in `BUS_ERRORS`.\n",
        crate::params::BAR0_BYTES / 1024
    );
    for page in PAGES {
        let _ = writeln!(out, "## {} page at {:#07x}\n", page.name, page.base);
        if page.count > 1 {
            let _ = writeln!(
                out,
                "{} copies, {:#x} bytes apart (copy n at {:#07x} + n * {:#x}).\n",
                page.count, page.stride, page.base, page.stride
            );
        }
        let _ = writeln!(out, "{}\n", page.doc);
        out.push_str("| offset | name | access | reset | description |\n");
        out.push_str("|---|---|---|---|---|\n");
        for r in page.regs {
            let _ = writeln!(
                out,
                "| {:#05x} | `{}` | {} | {:#x} | {} |",
                r.offset,
                r.name,
                r.access.as_str(),
                r.reset,
                r.doc
            );
        }
        out.push('\n');
        for r in page.regs.iter().filter(|r| !r.fields.is_empty()) {
            let _ = writeln!(out, "`{}` fields:\n", r.name);
            out.push_str("| bits | name | description |\n|---|---|---|\n");
            for f in r.fields {
                let bits = if f.width == 1 {
                    format!("{}", f.lsb)
                } else {
                    format!("{}:{}", f.lsb + f.width - 1, f.lsb)
                };
                let _ = writeln!(out, "| {} | `{}` | {} |", bits, f.name, f.doc);
            }
            out.push('\n');
        }
    }
    out.push_str(&crate::event::render_markdown());
    out.push_str(&crate::key::render_markdown());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_are_aligned_unique_and_inside_their_page() {
        for page in PAGES {
            let mut seen = std::collections::HashSet::new();
            for r in page.regs {
                assert_eq!(r.offset % 4, 0, "{}.{} misaligned", page.name, r.name);
                assert!(
                    r.offset < page.stride,
                    "{}.{} past its page",
                    page.name,
                    r.name
                );
                assert!(seen.insert(r.offset), "{}.{} overlaps", page.name, r.name);
                let mut used = 0u32;
                for f in r.fields {
                    assert!(f.lsb + f.width <= 32, "{}.{}.{}", page.name, r.name, f.name);
                    assert_eq!(
                        used & f.mask(),
                        0,
                        "{}.{}.{} overlaps",
                        page.name,
                        r.name,
                        f.name
                    );
                    used |= f.mask();
                }
            }
        }
    }

    #[test]
    fn pages_do_not_overlap() {
        for (i, a) in PAGES.iter().enumerate() {
            for b in &PAGES[i + 1..] {
                let a_end = a.base + a.count * a.stride;
                assert!(a_end <= b.base, "{} overlaps {}", a.name, b.name);
            }
        }
    }

    #[test]
    fn lookup_finds_registers_in_every_copy() {
        let off = global_reg(&global::SCRATCH);
        let (page, idx, reg) = lookup(off).expect("SCRATCH");
        assert_eq!((page.name, idx, reg.name), ("global", 0, "SCRATCH"));
        assert!(lookup(0x0ffc).is_none());
    }

    #[test]
    fn field_put_get_round_trip() {
        let f = Field {
            name: "x",
            lsb: 8,
            width: 6,
            doc: "",
        };
        assert_eq!(f.put(0x3f), 0x3f00);
        assert_eq!(f.put(0x7f), 0x3f00);
        assert_eq!(f.get(0xffff_ffff), 0x3f);
    }
}
