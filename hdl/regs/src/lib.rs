//! The evnic register map, device parameters, event record format and filter key layout.
//!
//! This crate is the one source of truth for every offset and bit position of the device: the
//! RustHDL core decodes its BAR0 with these constants, the simulator and the library access the
//! device with them, and `docs/registers.md` is generated from the tables here
//! (`cargo run -p evnic-hdl --bin gen-docs`; a test fails when the committed doc is stale).
//!
//! It has no dependencies so that every crate, down to the static binaries run inside the VFIO
//! test VM, can use it.

#![forbid(unsafe_code)]

pub mod desc;
pub mod event;
pub mod exact;
pub mod json;
pub mod key;
pub mod map;
pub mod pins;

pub use map::{Access, Field, Page, Reg};

/// Device parameters (the defaults the core is generated with).
pub mod params {
    /// Number of virtual interfaces (VIs), each with its own page and event queue.
    pub const NUM_VIS: u32 = 256;
    /// Number of ternary filter entries (value and mask over the whole key; lowest index
    /// wins).
    pub const NUM_FILTERS: u32 = 32;
    /// Number of exact-match tables (mask profiles), see [`crate::exact`].
    pub const NUM_EXACT_PROFILES: u32 = 4;
    /// Each exact-match table has `1 << EXACT_SLOTS_LOG2` slots.
    pub const EXACT_SLOTS_LOG2: u32 = 9;
    /// Exact-match entries over all tables.
    pub const NUM_EXACT_FILTERS: u32 = NUM_EXACT_PROFILES << EXACT_SLOTS_LOG2;
    /// Probes per exact-match table and lookup (the hop limit of placement).
    pub const EXACT_HOPS: u32 = 4;
    /// Number of multicast event groups.
    pub const NUM_GROUPS: u32 = 256;
    /// Number of timers.
    pub const NUM_TIMERS: u32 = 256;
    /// Bytes per event record.
    pub const EVENT_BYTES: u32 = 16;
    /// Width of the MAC data path in bits.
    pub const DATA_BITS: u32 = 64;
    /// Nominal core clock in Hz, used to convert cycles to device time (156.25 MHz is the 10G
    /// Ethernet MAC clock for a 64-bit path).
    pub const CLOCK_HZ: u64 = 156_250_000;
    /// The value of the ID register: ASCII "EVNC" read as a little-endian u32.
    pub const DEVICE_ID: u32 = u32::from_le_bytes(*b"EVNC");
    /// Device version: major in bits 31:16, minor in bits 15:0.
    pub const VERSION: u32 = 0x0001_0000;
    /// Bytes of BAR0 the register map needs.
    pub const BAR0_BYTES: u32 = crate::map::VI_PAGE_BASE + NUM_VIS * crate::map::PAGE_BYTES;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_spells_evnc() {
        assert_eq!(&params::DEVICE_ID.to_le_bytes(), b"EVNC");
    }

    #[test]
    fn bar_holds_every_page() {
        for page in map::PAGES {
            let end = page.base + page.count * page.stride;
            assert!(end <= params::BAR0_BYTES, "{} ends past BAR0", page.name);
        }
    }
}

#[cfg(test)]
mod docs {
    /// `docs/registers.md` is generated from this crate; this fails when it is stale.
    #[test]
    fn docs_are_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/registers.md");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == crate::map::render_markdown(),
            "docs/registers.md is stale: run `make docs` and commit it"
        );
    }
}
