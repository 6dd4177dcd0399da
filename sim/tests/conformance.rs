//! Register-map conformance, generated over `evnic_regs::map::PAGES`: on the Verilator model
//! of the core, every readable register of every copy of every page of the core is
//! acknowledged by some block before the bus's acknowledgement timeout (reading it raises no bus
//! error and completes sooner than an access nobody answers) and reads its reset value (with
//! the `STATUS.READY` bits set: the device is ready); a write-only register reads 0 and its
//! read is counted, as the map says; a read-only register refuses a write (counted in
//! `BUS_ERRORS` with its address; the register does not change); every offset of BAR0 that no
//! register of the core claims reads 0, completes after the timeout and is counted. The PCIe
//! shell's page is answered by the shell around the core, so on the core alone it is unmapped.

mod common;
use common::device;
use evnic_regs::map::{self, filter as fr, global as g, global_reg, Access, PAGES};
use evnic_sim::SimDevice;

/// The pages the core itself answers: all but the PCIe shell's.
fn core_pages() -> impl Iterator<Item = &'static map::Page> {
    PAGES.iter().filter(|p| p.base != map::SHELL_PAGE_BASE)
}

/// A register of the core at `offset`, if any.
fn core_register(offset: u32) -> Option<&'static evnic_regs::Reg> {
    map::lookup(offset)
        .filter(|(page, _, _)| page.base != map::SHELL_PAGE_BASE)
        .map(|(_, _, reg)| reg)
}

/// Every register of the core's pages, with its BAR0 offset and a name for messages.
fn registers() -> Vec<(u32, String, &'static evnic_regs::Reg)> {
    let mut out = Vec::new();
    for page in core_pages() {
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

/// A read of `offset`: the value and the cycles it took.
fn timed_read(d: &mut SimDevice, offset: u32) -> (u32, u64, u64) {
    let before = d.cycle();
    let v = d.read32(offset).unwrap();
    (v, before, d.cycle())
}

/// The cycles a read of an offset no block answers takes: the bus's acknowledgement timeout
/// and the request and response around it.
fn unanswered_read_cycles(d: &mut SimDevice) -> u64 {
    let offset = (0..map::VI_PAGE_BASE)
        .step_by(4)
        .find(|o| core_register(*o).is_none())
        .unwrap();
    let (v, before, after) = timed_read(d, offset);
    assert_eq!((v, errors(d)), (0, 1), "{offset:#x} is unmapped");
    d.write32(global_reg(&g::BUS_ERRORS), 0).unwrap();
    let cycles = after - before;
    assert!(
        cycles >= u64::from(map::BUS_ACK_TIMEOUT),
        "an unanswered read took {cycles} cycles, less than the timeout"
    );
    cycles
}

/// What a register reads once `STATUS.READY` is set, as `SimDevice::new` returns the device:
/// its reset value, but for the `READY` bits of the status registers, which rise once the
/// blocks have cleared their state RAMs after the reset.
fn ready_value(offset: u32, reg: &evnic_regs::Reg) -> u32 {
    if offset == global_reg(&g::STATUS) {
        reg.reset | g::STATUS_READY.mask()
    } else if offset == fr::PAGE.at(0, &fr::STATUS) {
        reg.reset | fr::STATUS_READY.mask()
    } else {
        reg.reset
    }
}

#[test]
fn every_register_is_claimed_and_reads_its_reset_value() {
    let mut d = device();
    let regs = registers();
    assert!(regs.len() > 100, "the map has {} registers", regs.len());
    let mut wrong = Vec::new();
    // (name, offset, cycles) of each answered read, compared at the end with a read nobody
    // answers (made last: it sets BUS_ERROR_ADDR, whose reset value is checked here).
    let mut answered = Vec::new();
    for (offset, name, reg) in &regs {
        let (v, before, after) = timed_read(&mut d, *offset);
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
        answered.push((name, *offset, after - before));
        if *offset == global_reg(&g::CYCLES_LO) {
            // The free-running counter: it reads a cycle of the access.
            let (lo, hi) = (d.counter_at(before), d.counter_at(after));
            if !(lo..=hi).contains(&u64::from(v)) {
                wrong.push(format!("{name}: {v}, not a cycle in {lo}..={hi}"));
            }
            continue;
        }
        let want = ready_value(*offset, reg);
        if v != want {
            wrong.push(format!(
                "{name} at {offset:#x}: reads {v:#x}, not {want:#x} (reset value {:#x})",
                reg.reset
            ));
        }
    }
    let unanswered = unanswered_read_cycles(&mut d);
    for (name, offset, cycles) in answered {
        if cycles >= unanswered {
            wrong.push(format!(
                "{name} at {offset:#x}: its read took {cycles} cycles, as long as an access no \
                 block acknowledges ({unanswered})"
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
fn offsets_no_register_claims_read_zero_after_the_timeout_and_are_counted() {
    let mut d = device();
    let unanswered = unanswered_read_cycles(&mut d);
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
            if core_register(offset).is_some() {
                continue;
            }
            let (v, before, after) = timed_read(&mut d, offset);
            let errs = errors(&mut d);
            if (v, errs, after - before) != (0, 1, unanswered) {
                wrong.push(format!(
                    "{offset:#x}: reads {v:#x} in {} cycles, BUS_ERRORS {errs}",
                    after - before
                ));
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
