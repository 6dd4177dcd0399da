//! The register map, event format, descriptor formats and device parameters as one JSON
//! document, for tools outside Rust (the PCIe shell's cocotb test reads it, the board build
//! takes the BAR sizes from it): `gen-docs --json OUT`.
//!
//! Layout (every number a JSON integer):
//! - `params`: the [`crate::params`] constants and the BAR0 geometry
//! - `pages`: every BAR0 page with `name`, `base`, `stride`, `count` and `regs`, each register
//!   with `name`, `offset` (within one copy of its page), `access`, `reset` and `fields`
//!   (`name`, `lsb`, `width`)
//! - `event`: `bytes`, `phase_bit`, `source_none`, `fields` (`word`, `lsb`, `width` by name),
//!   `types`, `error_codes`, `rx_flags` and `flags` (name to value)
//! - `desc`: descriptor sizes and word-1 fields of the receive and transmit descriptors
//! - `rings`: event and descriptor ring size limits (log2)
//! - `filter`: the action word encoding, the RX event payload fields and the staging bases
//! - `group`: words per group of the membership bitmaps, per VI of the permission bitmaps, and
//!   of the listener mask
//! - `shell`: the PCIe shell's BARs and MSI-X layout

use crate::{desc, event, map, params};
use std::fmt::Write;

fn field(out: &mut String, name: &str, word: u32, (lsb, width): (u32, u32)) {
    let _ = write!(
        out,
        "\"{name}\": {{\"word\": {word}, \"lsb\": {lsb}, \"width\": {width}}}"
    );
}

fn pairs<'a>(out: &mut String, items: impl Iterator<Item = (&'a str, u64)>) {
    out.push('{');
    for (i, (name, value)) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "\"{name}\": {value}");
    }
    out.push('}');
}

/// Renders the whole map as JSON.
pub fn render_json() -> String {
    let mut out = String::from("{\n  \"params\": ");
    pairs(
        &mut out,
        [
            ("NUM_VIS", params::NUM_VIS as u64),
            ("NUM_FILTERS", params::NUM_FILTERS as u64),
            ("NUM_GROUPS", params::NUM_GROUPS as u64),
            ("NUM_TIMERS", params::NUM_TIMERS as u64),
            ("EVENT_BYTES", params::EVENT_BYTES as u64),
            ("DATA_BITS", params::DATA_BITS as u64),
            ("CLOCK_HZ", params::CLOCK_HZ),
            ("DEVICE_ID", params::DEVICE_ID as u64),
            ("VERSION", params::VERSION as u64),
            ("BAR0_BYTES", params::BAR0_BYTES as u64),
            ("BAR_ADDR_BITS", map::BAR_ADDR_BITS as u64),
            ("PAGE_BYTES", map::PAGE_BYTES as u64),
        ]
        .into_iter(),
    );
    out.push_str(",\n  \"pages\": [");
    for (p, page) in map::PAGES.iter().enumerate() {
        if p > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "\n    {{\"name\": \"{}\", \"base\": {}, \"stride\": {}, \"count\": {}, \"regs\": [",
            page.name, page.base, page.stride, page.count
        );
        for (r, reg) in page.regs.iter().enumerate() {
            if r > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "\n      {{\"name\": \"{}\", \"offset\": {}, \"access\": \"{}\", \"reset\": {}, \"fields\": [",
                reg.name,
                reg.offset,
                reg.access.as_str(),
                reg.reset
            );
            for (f, fld) in reg.fields.iter().enumerate() {
                if f > 0 {
                    out.push_str(", ");
                }
                let _ = write!(
                    out,
                    "{{\"name\": \"{}\", \"lsb\": {}, \"width\": {}}}",
                    fld.name, fld.lsb, fld.width
                );
            }
            out.push_str("]}");
        }
        out.push_str("]}");
    }
    out.push_str("\n  ],\n  \"event\": {");
    let _ = write!(
        out,
        "\"bytes\": {}, \"phase_bit\": {}, \"source_none\": {}, \"timestamp_bits\": {},\n    \"fields\": {{",
        event::EVENT_BYTES,
        event::PHASE_BIT,
        event::SOURCE_NONE,
        event::TIMESTAMP_BITS
    );
    let fields = [
        ("type", 0, event::w0::TYPE),
        ("has_group", 0, event::w0::HAS_GROUP),
        ("phase", 0, event::w0::PHASE),
        ("flags", 0, event::w0::FLAGS),
        ("source", 0, event::w0::SOURCE),
        ("payload", 0, event::w0::PAYLOAD),
        ("timestamp", 1, event::w1::TIMESTAMP),
        ("group", 1, event::w1::GROUP),
        ("aux", 1, event::w1::AUX),
    ];
    for (i, (name, word, f)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        field(&mut out, name, word, f);
    }
    out.push_str("},\n    \"types\": ");
    pairs(
        &mut out,
        event::EventType::ALL
            .iter()
            .map(|t| (t.name(), *t as u8 as u64)),
    );
    out.push_str(",\n    \"error_codes\": ");
    pairs(
        &mut out,
        event::ErrorCode::ALL
            .iter()
            .map(|c| (c.name(), *c as u32 as u64)),
    );
    out.push_str(",\n    \"rx_flags\": ");
    pairs(
        &mut out,
        event::rx_flags::ALL.iter().map(|&(n, v)| (n, v as u64)),
    );
    out.push_str(",\n    \"flags\": ");
    pairs(
        &mut out,
        [("FROM_DEVICE_PORT", event::flags::FROM_DEVICE_PORT as u64)].into_iter(),
    );
    out.push_str("\n  },\n  \"desc\": {");
    let _ = write!(
        out,
        "\"bytes\": {}, \"tx_max_len\": {}, \"min_frame_no_fcs\": {}, \"tx_flag_crc32c\": {},\n    \"fields\": {{",
        desc::DESC_BYTES,
        desc::TX_MAX_LEN,
        desc::MIN_FRAME_NO_FCS,
        desc::TX_FLAG_CRC32C
    );
    let fields = [
        ("rx_buf_len", 1, desc::RX_BUF_LEN),
        ("tx_len", 1, desc::TX_LEN),
        ("tx_crc_offset", 1, desc::TX_CRC_OFFSET),
        ("tx_crc_len", 1, desc::TX_CRC_LEN),
        ("tx_flags", 1, desc::TX_FLAGS),
    ];
    for (i, (name, word, f)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        field(&mut out, name, word, f);
    }
    out.push_str("}\n  },\n  \"rings\": ");
    pairs(
        &mut out,
        [
            ("EVQ_SIZE_MIN", map::vi::EVQ_SIZE_MIN as u64),
            ("EVQ_SIZE_MAX", map::vi::EVQ_SIZE_MAX as u64),
            ("RING_SIZE_MAX", map::vi::RING_SIZE_MAX as u64),
        ]
        .into_iter(),
    );
    out.push_str(",\n  \"filter\": ");
    {
        use map::filter as f;
        pairs(
            &mut out,
            [
                ("ACTION_KIND_SHIFT", f::ACTION_KIND_SHIFT as u64),
                ("ACTION_KIND_VI", f::ACTION_KIND_VI as u64),
                ("ACTION_KIND_GROUP", f::ACTION_KIND_GROUP as u64),
                ("ACTION_KIND_DROP", f::ACTION_KIND_DROP as u64),
                ("ACTION_TARGET_MASK", f::ACTION_TARGET_MASK as u64),
                ("RX_PAYLOAD_DESC_LSB", f::RX_PAYLOAD_DESC.0 as u64),
                ("RX_PAYLOAD_DESC_WIDTH", f::RX_PAYLOAD_DESC.1 as u64),
                ("RX_PAYLOAD_VI_LSB", f::RX_PAYLOAD_VI.0 as u64),
                ("RX_PAYLOAD_VI_WIDTH", f::RX_PAYLOAD_VI.1 as u64),
                ("RX_PAYLOAD_NOT_STORED", f::RX_PAYLOAD_NOT_STORED as u64),
                ("RX_SOURCE_DEFAULT", f::RX_SOURCE_DEFAULT as u64),
                ("VALUE_BASE", f::VALUE_BASE as u64),
                ("MASK_BASE", f::MASK_BASE as u64),
                ("HITS_BASE", f::HITS_BASE as u64),
            ]
            .into_iter(),
        );
    }
    out.push_str(",\n  \"group\": ");
    pairs(
        &mut out,
        [
            ("MEMBER_WORDS", map::group::MEMBER_WORDS as u64),
            ("PERMIT_WORDS", map::group::PERMIT_WORDS as u64),
            ("LISTEN_WORDS", map::group::LISTEN_WORDS as u64),
        ]
        .into_iter(),
    );
    out.push_str(",\n  \"shell\": ");
    pairs(
        &mut out,
        [
            ("REGS_BAR", map::shell::REGS_BAR as u64),
            ("MSIX_BAR", map::shell::MSIX_BAR as u64),
            ("MSIX_BAR_BYTES", map::shell::MSIX_BAR_BYTES as u64),
            ("MSIX_TABLE_OFFSET", map::shell::MSIX_TABLE_OFFSET as u64),
            ("MSIX_PBA_OFFSET", map::shell::MSIX_PBA_OFFSET as u64),
            ("MSIX_VECTORS", map::shell::MSIX_VECTORS as u64),
            ("MSIX_ENTRY_BYTES", map::shell::MSIX_ENTRY_BYTES as u64),
        ]
        .into_iter(),
    );
    out.push_str("\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal check that the document is balanced JSON with every page and register in it
    /// (the crate has no JSON parser; the cocotb test parses it for real).
    #[test]
    fn json_names_every_register_and_balances() {
        let j = render_json();
        let mut depth = 0i32;
        let mut in_str = false;
        for c in j.chars() {
            match c {
                '"' => in_str = !in_str,
                '{' | '[' if !in_str => depth += 1,
                '}' | ']' if !in_str => {
                    depth -= 1;
                    assert!(depth >= 0);
                }
                _ => {}
            }
        }
        assert_eq!(depth, 0);
        assert!(!in_str);
        for page in map::PAGES {
            for reg in page.regs {
                assert!(
                    j.contains(&format!("\"name\": \"{}\"", reg.name)),
                    "{}",
                    reg.name
                );
            }
        }
        assert!(j.contains("\"DMA_FAULT\": 3"));
    }
}
