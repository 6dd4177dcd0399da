//! The register core through the Verilator model: every read-only register, the scratch and
//! control registers, the cycle counter, and bus errors that complete and are counted.

use evnic_regs::map::{self, global as g, global_reg};
use evnic_regs::params;
use evnic_sim::{SimConfig, SimDevice, SimHandle};

fn dev() -> SimDevice {
    SimDevice::new(SimConfig::default()).expect("model")
}

#[test]
fn every_read_only_register_reads_its_documented_value() {
    let mut d = dev();
    for r in g::REGS.iter().filter(|r| r.access == map::Access::Ro) {
        if matches!(r.name, "CYCLES_LO" | "CYCLES_HI" | "BUS_ERROR_ADDR") {
            continue; // live values, checked below
        }
        // STATUS.READY rose before `SimDevice::new` returned (it waits for it).
        let want = if r.name == "STATUS" {
            r.reset | g::STATUS_READY.mask()
        } else {
            r.reset
        };
        assert_eq!(d.read32(global_reg(r)).unwrap(), want, "{}", r.name);
    }
    assert_eq!(
        &d.read32(global_reg(&g::ID)).unwrap().to_le_bytes(),
        b"EVNC"
    );
    assert_eq!(d.read32(global_reg(&g::NUM_VIS)).unwrap(), params::NUM_VIS);
    assert_eq!(
        d.read32(global_reg(&g::BUS_ERRORS)).unwrap(),
        0,
        "reads of real registers are not errors"
    );
}

#[test]
fn scratch_reads_back_and_control_sets_enable() {
    let mut d = dev();
    for v in [0u32, 0xffff_ffff, 0xdead_beef, 0x1234_5678] {
        d.write32(global_reg(&g::SCRATCH), v).unwrap();
        assert_eq!(d.read32(global_reg(&g::SCRATCH)).unwrap(), v);
    }
    d.write32(global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(1))
        .unwrap();
    assert_eq!(
        g::CONTROL_ENABLE.get(d.read32(global_reg(&g::CONTROL)).unwrap()),
        1
    );
    // Soft reset self-clears and reads as 0.
    d.write32(global_reg(&g::CONTROL), g::CONTROL_SOFT_RESET.put(1))
        .unwrap();
    assert_eq!(
        g::CONTROL_SOFT_RESET.get(d.read32(global_reg(&g::CONTROL)).unwrap()),
        0
    );
}

#[test]
fn cycle_counter_counts_clock_cycles_and_latches_high_half() {
    let mut d = dev();
    let a = d.read32(global_reg(&g::CYCLES_LO)).unwrap();
    d.run(1000);
    let b = d.read32(global_reg(&g::CYCLES_LO)).unwrap();
    // Two accesses apart by 1000 idle cycles plus one 3-cycle access.
    assert_eq!(b - a, 1000 + 3, "one count per cycle");
    assert_eq!(d.read32(global_reg(&g::CYCLES_HI)).unwrap(), 0);
    // A read issued in cycle c samples the counter in its strobe cycle, c + 1.
    let c = d.cycle();
    let v = d.read32(global_reg(&g::CYCLES_LO)).unwrap() as u64;
    assert_eq!(
        d.counter_at(c + 1),
        v,
        "counter_at maps simulator cycles to the counter"
    );
    assert_eq!(d.sim_cycle_at(v), c + 1);
    assert!(a as u64 <= d.cycle());
}

#[test]
fn bad_accesses_complete_and_are_counted() {
    let mut d = dev();
    let errors = global_reg(&g::BUS_ERRORS);
    // An unmapped offset in every reserved or empty page, and past the register pages.
    let unmapped = [
        0x0ffc,
        map::GROUP_PAGE_BASE + 0xffc,
        0x3ffc, // reserved page 3 (the timer pages are full: 256 timers of 32 bytes)
        0x5000,
        0x9ffc, // reserved page 9, below the group bitmaps
        map::VI_PAGE_BASE + 0xffc,
    ];
    for (i, off) in unmapped.iter().enumerate() {
        assert!(
            map::lookup(*off).is_none(),
            "{off:#x} is a register now: pick another"
        );
        assert_eq!(
            d.read32(*off).unwrap(),
            0,
            "unmapped read at {off:#x} returns 0"
        );
        assert_eq!(d.read32(errors).unwrap(), i as u32 + 1);
        assert_eq!(d.read32(global_reg(&g::BUS_ERROR_ADDR)).unwrap(), *off);
    }
    d.write32(errors, 0).unwrap();
    assert_eq!(
        d.read32(errors).unwrap(),
        0,
        "a write clears the count and is not counted"
    );
    // Misaligned read, misaligned write, partial-strobe write, write to a read-only register.
    let scratch = global_reg(&g::SCRATCH);
    d.write32(scratch, 0x5555_aaaa).unwrap();
    assert_eq!(d.bar_access(false, scratch + 1, 0, 0).unwrap(), 0);
    d.bar_access(true, scratch + 2, 1, 0xf).unwrap();
    d.bar_access(true, scratch, 0x1111_1111, 0x3).unwrap();
    d.write32(global_reg(&g::ID), 0).unwrap();
    assert_eq!(d.read32(errors).unwrap(), 4);
    assert_eq!(
        d.read32(scratch).unwrap(),
        0x5555_aaaa,
        "refused writes change nothing"
    );
    assert_eq!(d.read32(global_reg(&g::ID)).unwrap(), params::DEVICE_ID);
}

#[test]
fn back_to_back_accesses_take_two_cycles_each_and_a_thousand_never_wedge() {
    let mut d = dev();
    let start = d.cycle();
    for i in 0..1000u32 {
        d.write32(global_reg(&g::SCRATCH), i).unwrap();
        assert_eq!(d.read32(global_reg(&g::SCRATCH)).unwrap(), i);
    }
    assert!(d.cycle() - start <= 2000 * 3);
    // Unmapped offsets complete after the bus's acknowledgement timeout, misaligned ones at
    // once; neither wedges the bus.
    let errors = d.read32(global_reg(&g::BUS_ERRORS)).unwrap();
    let start = d.cycle();
    for i in 0..1000u32 {
        assert_eq!(d.read32(0x7ff0 + (i % 4)).unwrap(), 0);
    }
    let unmapped = 250 * (evnic_regs::map::BUS_ACK_TIMEOUT as u64 + 3);
    assert!(d.cycle() - start <= unmapped + 750 * 3);
    assert_eq!(d.read32(global_reg(&g::BUS_ERRORS)).unwrap(), errors + 1000);
    d.write32(global_reg(&g::SCRATCH), 7).unwrap();
    assert_eq!(d.read32(global_reg(&g::SCRATCH)).unwrap(), 7);
}

#[test]
fn free_running_device_serves_posted_writes_in_order() {
    let h = SimHandle::spawn(SimConfig::default()).unwrap();
    for i in 0..100u32 {
        h.write32(global_reg(&g::SCRATCH), i);
    }
    assert_eq!(h.read32(global_reg(&g::SCRATCH)).unwrap(), 99);
    let c0 = h.read32(global_reg(&g::CYCLES_LO)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let c1 = h.read32(global_reg(&g::CYCLES_LO)).unwrap();
    assert!(c1 > c0, "the clock runs on its own");
    assert!(h.cycles() >= c1 as u64);
}

#[test]
fn trace_file_is_written() {
    let path = std::env::temp_dir().join(format!("evnic-trace-{}.vcd", std::process::id()));
    {
        let mut d = SimDevice::new(SimConfig {
            trace: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        d.read32(global_reg(&g::ID)).unwrap();
    }
    let vcd = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(vcd.contains("$enddefinitions"));
    assert!(vcd.contains("bar_rsp_rdata"));
}
