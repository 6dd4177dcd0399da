//! `make bench` (device part): speed of the Verilator model and device figures in clock cycles.
//! Prints a Markdown table; no figure here is asserted.

use evnic_regs::map::{global as g, global_reg};
use evnic_sim::{SimConfig, SimDevice};
use std::time::Instant;

fn main() {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut d = SimDevice::new(SimConfig::default()).expect("model");

    // Model speed, idle core.
    let n = 2_000_000;
    let t = Instant::now();
    d.run(n);
    let s = t.elapsed().as_secs_f64();
    rows.push((
        "model speed, idle core".into(),
        format!("{:.2} M cycles/s", n as f64 / s / 1e6),
    ));
    rows.push((
        "simulated time per wall second at the nominal clock".into(),
        format!(
            "{:.3} s ({} MHz nominal)",
            n as f64 / s / evnic_regs::params::CLOCK_HZ as f64,
            evnic_regs::params::CLOCK_HZ / 1_000_000
        ),
    ));

    // Register access: cycles per read and per write, back to back.
    let k = 10_000u64;
    let c0 = d.cycle();
    for i in 0..k {
        d.write32(global_reg(&g::SCRATCH), i as u32).unwrap();
    }
    let c1 = d.cycle();
    for _ in 0..k {
        d.read32(global_reg(&g::SCRATCH)).unwrap();
    }
    let c2 = d.cycle();
    rows.push((
        "register write, back to back".into(),
        format!("{:.1} cycles", (c1 - c0) as f64 / k as f64),
    ));
    rows.push((
        "register read, back to back".into(),
        format!("{:.1} cycles", (c2 - c1) as f64 / k as f64),
    ));
    let t = Instant::now();
    for _ in 0..k {
        d.read32(global_reg(&g::SCRATCH)).unwrap();
    }
    rows.push((
        "register read through the model, host time".into(),
        format!("{:.0} ns", t.elapsed().as_nanos() as f64 / k as f64),
    ));

    println!("\n| device (Verilator model) | value |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
