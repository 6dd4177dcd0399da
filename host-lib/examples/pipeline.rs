//! A filter-to-group pipeline: frames arrive on the (simulated) wire, a filter entry steers the
//! PTP event messages (UDP port 319) to a group, and every endpoint subscribed to the group is
//! notified; one of them also owns a receive ring and prints the frames' bytes.
//!
//! ```sh
//! cargo run --release -p evnic --example pipeline
//! ```
//!
//! On a board the frames come from the network; here they are injected into the MAC receive
//! port of the Verilator model (only the simulated device can do that).

use evnic::{DeviceSpec, EndpointConfig, EventType, Filter, FilterAction, Group, Nic};
use std::time::Duration;

const PTP_GROUP: Group = Group(3);

fn ptp_frame(seq: u16) -> Vec<u8> {
    let b =
        etherparse::PacketBuilder::ethernet2([0x01, 0x00, 0x5e, 0, 1, 0x81], [2, 0, 0, 0, 0, 1])
            .ipv4([10, 0, 0, 1], [224, 0, 1, 129], 1)
            .udp(319, 319);
    let payload = [&seq.to_be_bytes()[..], &[0u8; 40]].concat();
    let mut f = Vec::new();
    b.write(&mut f, &payload).expect("a frame in memory");
    // The FCS, computed by an independent implementation (the `crc` crate).
    let fcs = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&f);
    f.extend_from_slice(&fcs.to_le_bytes());
    f
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let nic = Nic::open(DeviceSpec::Sim)?;
    let sim = nic.sim().expect("the simulated device");
    let capture = nic.endpoint(EndpointConfig::default())?;
    let listeners: Vec<_> = (0..3)
        .map(|_| nic.endpoint(EndpointConfig::default()))
        .collect::<Result<_, _>>()?;
    let mut rx = capture.receiver(4, 2048)?;

    // The pipeline: UDP 319 -> group 3 (data into the default VI's ring); the rest dropped.
    let mut batch = nic.configure();
    batch.add_filter(0, Filter::new().udp_dst(319).to_group(PTP_GROUP)?)?;
    for l in &listeners {
        batch.subscribe(l, PTP_GROUP)?;
    }
    batch.subscribe(&capture, PTP_GROUP)?;
    // The filter entries stay while their handles (in `applied`) live.
    let applied = batch.apply()?;
    println!("configured: {} operations in one burst", applied.written);
    nic.set_default_action(FilterAction::Vi(capture.vi()))?;
    nic.set_enabled(true)?;

    for seq in 0..5u16 {
        let f = ptp_frame(seq);
        sim.inject(f, false)?;
    }
    for l in &listeners {
        let mut n = 0;
        while n < 5 {
            let Some(ev) = l.wait(Some(Duration::from_secs(10)))? else {
                break;
            };
            if ev.event_type() == Some(EventType::Rx) {
                n += 1;
            }
        }
        println!("listener on {}: {n} PTP frames notified", l.vi());
    }
    let mut frames = 0;
    while frames < 5 {
        let Some(ev) = capture.wait(Some(Duration::from_secs(10)))? else {
            break;
        };
        if let Some(bytes) = rx.take(&ev) {
            frames += 1;
            println!(
                "capture: {} bytes, PTP sequence {}",
                bytes.len(),
                u16::from_be_bytes([bytes[42], bytes[43]])
            );
        }
    }
    println!("filter entry 0 hits: {}", nic.filter_hits(0)?);
    Ok(())
}
