//! Register-map conformance, generated over `evnic_regs::map::PAGES`: on the Verilator model
//! of the core, every readable register of every copy of every page is claimed by some block
//! (reading it raises no bus error) and reads its reset value; a write-only register reads 0
//! and its read is counted, as the map says; a read-only register refuses a write (counted in
//! `BUS_ERRORS` with its address; the register does not change); every offset of BAR0 that no
//! register claims reads 0 and is counted.

mod common;
use common::device;
use evnic_regs::map::{self, global as g, global_reg, Access, PAGES};
use evnic_sim::SimDevice;

/// Every register of the map, with its BAR0 offset and a name for messages.
fn registers() -> Vec<(u32, String, &'static evnic_regs::Reg)> {
    let mut out = Vec::new();
    for page in PAGES {
        for copy in 0..page.count {
            for reg in page.regs {
                let name = if page.count > 1 {
                    format!("{}[{copy}].{}", page.name, reg.name)
                } else {
                    format!("{}.{}", page.name, reg.name)
                };
                out.push((page.at(copy, reg), name, reg));
            }
        }
    }
    out
}

fn errors(d: &mut SimDevice) -> u32 {
    d.read32(global_reg(&g::BUS_ERRORS)).unwrap()
}

#[test]
fn every_register_is_claimed_and_reads_its_reset_value() {
    let mut d = device();
    let regs = registers();
    assert!(regs.len() > 100, "the map has {} registers", regs.len());
    let mut wrong = Vec::new();
    for (offset, name, reg) in &regs {
        let before = d.cycle();
        let v = d.read32(*offset).unwrap();
        let after = d.cycle();
        let errs = errors(&mut d);
        let write_only = reg.access == Access::Wo;
        if write_only {
            if (v, errs) != (0, 1) {
                wrong.push(format!(
                    "{name} at {offset:#x} (write-only): reads {v:#x} with BUS_ERRORS {errs}, not 0 with 1"
                ));
            }
            d.write32(global_reg(&g::BUS_ERRORS), 0).unwrap();
            continue;
        }
        if errs != 0 {
            wrong.push(format!(
                "{name} at {offset:#x}: its read is a bus error (no block claims it)"
            ));
            d.write32(global_reg(&g::BUS_ERRORS), 0).unwrap();
            continue;
        }
        if *offset == global_reg(&g::CYCLES_LO) {
            // The free-running counter: it reads a cycle of the access.
            let (lo, hi) = (d.counter_at(before), d.counter_at(after));
            if !(lo..=hi).contains(&u64::from(v)) {
                wrong.push(format!("{name}: {v}, not a cycle in {lo}..={hi}"));
            }
            continue;
        }
        if v != reg.reset {
            wrong.push(format!(
                "{name} at {offset:#x}: reads {v:#x}, reset value {:#x}",
                reg.reset
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {}:\n{}",
        wrong.len(),
        regs.len(),
        wrong.join("\n")
    );
}

#[test]
fn writes_to_read_only_registers_are_refused_and_counted() {
    let mut d = device();
    let ro: Vec<_> = registers()
        .into_iter()
        .filter(|(_, _, r)| r.access == Access::Ro)
        .collect();
    assert!(!ro.is_empty());
    let mut wrong = Vec::new();
    for (offset, name, _) in &ro {
        let before = d.read32(*offset).unwrap();
        d.write32(*offset, !before).unwrap();
        let errs = errors(&mut d);
        let addr = d.read32(global_reg(&g::BUS_ERROR_ADDR)).unwrap();
        if (errs, addr) != (1, *offset) {
            wrong.push(format!(
                "{name} at {offset:#x}: BUS_ERRORS {errs}, BUS_ERROR_ADDR {addr:#x} after a write"
            ));
        }
        let after = d.read32(*offset).unwrap();
        // Unchanged, but for the counter, which runs, and the bus error address, which now
        // records this very write.
        let want = if *offset == global_reg(&g::BUS_ERROR_ADDR) {
            *offset
        } else {
            before
        };
        if after != want && *offset != global_reg(&g::CYCLES_LO) {
            wrong.push(format!(
                "{name}: the write changed it from {before:#x} to {after:#x}"
            ));
        }
        d.write32(global_reg(&g::BUS_ERRORS), 0).unwrap();
    }
    assert!(
        wrong.is_empty(),
        "{} of {}:\n{}",
        wrong.len(),
        ro.len(),
        wrong.join("\n")
    );
}

#[test]
fn offsets_no_register_claims_read_zero_and_are_counted() {
    let mut d = device();
    let vi_pages = map::vi::PAGE;
    let end = vi_pages.base + vi_pages.count * vi_pages.stride;
    // The whole map below the VI pages, and the first and last VI page (the others are copies).
    let last_vi = vi_pages.base + (vi_pages.count - 1) * vi_pages.stride;
    let ranges = [
        0..vi_pages.base,
        vi_pages.base..vi_pages.base + vi_pages.stride,
        last_vi..end,
    ];
    let mut checked = 0;
    let mut wrong = Vec::new();
    for range in ranges {
        for offset in range.step_by(4) {
            if map::lookup(offset).is_some() {
                continue;
            }
            let v = d.read32(offset).unwrap();
            let errs = errors(&mut d);
            if (v, errs) != (0, 1) {
                wrong.push(format!("{offset:#x}: reads {v:#x}, BUS_ERRORS {errs}"));
            }
            d.write32(global_reg(&g::BUS_ERRORS), 0).unwrap();
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked} unmapped words");
    assert!(
        wrong.is_empty(),
        "{} of {checked}:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
