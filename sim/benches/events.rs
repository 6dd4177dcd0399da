//! `make bench` (event engine): device figures in clock cycles, from the Verilator model.
//! - indication doorbell to its event written in all N subscribed queues, N = 1, 4, 16 and
//!   every VI (NUM_VIS);
//! - sustained events per cycle into one queue and fanned out to 16 and to every VI (producer: the device-space
//!   input port, which can offer one event per cycle; a host doorbell needs 2 bus cycles).
//!
//! Prints a Markdown table; nothing here is asserted.

use evnic_regs::map::{group as gr, vi, vi_reg};
use evnic_regs::params::NUM_VIS;
use evnic_sim::{SimConfig, SimDevice};

const RING_LOG2: u32 = 14;

fn setup(d: &mut SimDevice, rings: &mut Vec<Box<[u64]>>) {
    for v in 0..NUM_VIS {
        let n = 1usize << RING_LOG2;
        let mut ring = vec![0u64; n * 2].into_boxed_slice();
        let iova = 0x1_0000_0000u64 + v as u64 * 0x100_0000;
        unsafe {
            d.memory
                .map(iova, ring.as_mut_ptr() as *mut u8, n * 16)
                .unwrap()
        };
        rings.push(ring);
        d.write32(vi_reg(v, &vi::EVQ_BASE_LO), iova as u32).unwrap();
        d.write32(vi_reg(v, &vi::EVQ_BASE_HI), (iova >> 32) as u32)
            .unwrap();
        d.write32(vi_reg(v, &vi::EVQ_SIZE), RING_LOG2).unwrap();
        for w in 0..gr::PERMIT_WORDS {
            d.write32(gr::permit_at(v, w), u32::MAX).unwrap();
        }
    }
}

fn subscribe_first(d: &mut SimDevice, group: u32, n: u32) {
    for v in 0..n {
        let w = gr::SUBSCRIBE_GROUP.put(group) | gr::SUBSCRIBE_VI.put(v) | gr::SUBSCRIBE_ON.put(1);
        d.write32(gr::CONTROL_PAGE.at(0, &gr::SUBSCRIBE), w)
            .unwrap();
    }
}

fn main() {
    let mut d = SimDevice::new(SimConfig::default()).expect("model");
    let mut rings = Vec::new();
    setup(&mut d, &mut rings);
    let mut rows: Vec<(String, String)> = Vec::new();

    // Latency: doorbell to last copy written.
    for (group, n) in [(1u32, 1u32), (4, 4), (16, 16), (100, NUM_VIS)] {
        subscribe_first(&mut d, group, n);
        d.run(10);
        d.log_dma_writes(true);
        let issued = d.cycle();
        let w = vi::INDICATE_GROUP.put(group) | vi::INDICATE_PAYLOAD.put(1);
        d.write32(vi_reg(0, &vi::INDICATE), w).unwrap();
        d.run(100 + 2 * u64::from(n));
        let log = d.take_dma_write_log();
        d.log_dma_writes(false);
        // The doorbell takes effect in the bus strobe cycle, one after the request is issued.
        let strobe = issued + 1;
        let first = log.first().map(|w| w.0 - strobe).unwrap_or(0);
        let last = log.last().map(|w| w.0 - strobe).unwrap_or(0);
        rows.push((
            format!("indication doorbell to event in all {n} subscribed queue(s)"),
            format!(
                "{} cycles (first queue {first}, writes {})",
                last,
                log.len()
            ),
        ));
        // Reset the consumers: rewrite the ring sizes restarts the queues.
        for v in 0..NUM_VIS {
            d.write32(vi_reg(v, &vi::EVQ_SIZE), RING_LOG2).unwrap();
        }
    }

    // Sustained: device-space input, one offered per cycle.
    for (group, n, events) in [(1u32, 1u32, 4000u32), (16, 16, 4000), (100, NUM_VIS, 400)] {
        for i in 0..events {
            d.device_indicate(group as u8, i);
        }
        d.log_dma_writes(true);
        d.run_until(events as u64 * n as u64 * 4, |d| {
            d.device_indications_pending() == 0
        });
        // The last event's fan-out ends N cycles after it left the input port.
        d.run(64 + 2 * u64::from(n));
        let log = d.take_dma_write_log();
        d.log_dma_writes(false);
        let span = log.last().unwrap().0 - log.first().unwrap().0 + 1;
        rows.push((
            format!("sustained, {} queue(s): event writes per cycle", n),
            format!(
                "{:.3} ({} writes in {} cycles)",
                log.len() as f64 / span as f64,
                log.len(),
                span
            ),
        ));
        for v in 0..NUM_VIS {
            d.write32(vi_reg(v, &vi::EVQ_SIZE), RING_LOG2).unwrap();
        }
    }
    assert!(
        d.faults().is_empty(),
        "bench wrote outside its rings: {:?}",
        d.faults()
    );

    println!("\n| event engine (cycles, Verilator model) | value |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
