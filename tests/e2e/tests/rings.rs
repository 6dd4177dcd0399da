//! Receive and transmit rings hold a lease on their endpoint: they cannot be taken twice, and
//! the VI stays theirs until they are dropped, so a ring never writes the doorbells of a VI that
//! has been handed to another endpoint. Per-ring frame and byte counters.

use evnic::{EndpointConfig, Error, EventKind, FilterAction, TxOptions};
use evnic_e2e::{nic, PATIENCE};
use std::time::Duration;

fn cfg() -> EndpointConfig {
    EndpointConfig::default()
        .with_ring_events(64)
        .with_spin(Duration::from_micros(20))
}

#[test]
fn a_ring_cannot_be_taken_twice() {
    let nic = nic();
    let ep = nic.endpoint(cfg()).unwrap();
    let rx = ep.receiver(2, 256).unwrap();
    assert!(matches!(
        ep.receiver(2, 256),
        Err(Error::RingInUse { ring: "receive ring", vi }) if vi == ep.vi().0
    ));
    let tx = ep.transmitter(2, 256).unwrap();
    assert!(matches!(
        ep.transmitter(2, 256),
        Err(Error::RingInUse {
            ring: "transmit ring",
            ..
        })
    ));
    drop((rx, tx));
    // Given back when dropped.
    ep.receiver(2, 256).unwrap();
    ep.transmitter(2, 256).unwrap();
    // A refused request leaves the ring free.
    assert!(matches!(
        ep.receiver(0, 256),
        Err(Error::RingSize { log2: 0, .. })
    ));
    drop(ep.receiver(3, 256).unwrap());
}

#[test]
fn a_ring_keeps_its_vi_after_the_endpoint_is_dropped() {
    let nic = nic();
    nic.set_enabled(true).unwrap();
    let first = nic.endpoint(cfg()).unwrap();
    let leased = first.vi();
    let rx = first.receiver(3, 2048).unwrap();
    drop(first);
    // The VI is still the ring's: a new endpoint gets another one.
    let second = nic.endpoint(cfg()).unwrap();
    assert_ne!(second.vi(), leased);
    assert!(matches!(
        nic.endpoint_on(leased, cfg()),
        Err(Error::ViInUse { vi }) if vi == leased.0
    ));
    assert_eq!(rx.counters().frames, 0);
    // Dropping the ring returns the VI, and its next owner's ring is not disturbed by it.
    drop(rx);
    let third = nic.endpoint_on(leased, cfg()).unwrap();
    let mut rx3 = third.receiver(3, 2048).unwrap();
    nic.set_default_action(FilterAction::Vi(third.vi()))
        .unwrap();
    let frame = evnic_cli::demo::stream_frame(7);
    nic.sim().unwrap().inject(frame.clone(), false).unwrap();
    let ev = third.wait(Some(PATIENCE)).unwrap().expect("the RX event");
    assert!(matches!(ev.kind(), EventKind::Rx { len, .. } if len as usize == frame.len()));
    assert_eq!(rx3.take(&ev).unwrap(), frame);
    let c = rx3.counters();
    assert_eq!((c.frames, c.bytes), (1, frame.len() as u64));
    let host = third.stats().unwrap().host.unwrap();
    assert_eq!((host.rx_frames, host.rx_bytes), (1, frame.len() as u64));
    assert_eq!(third.stats().unwrap().rx_used, 1);
    drop(second);
}

#[test]
fn a_transmit_ring_counts_frames_and_bytes() {
    let nic = nic();
    nic.set_enabled(true).unwrap();
    let ep = nic.endpoint(cfg()).unwrap();
    let mut tx = ep.transmitter(2, 1600).unwrap();
    let sizes = [60usize, 100, 1500];
    for n in sizes {
        tx.send(&vec![0x11; n], TxOptions::default()).unwrap();
    }
    let mut done = 0;
    while done < sizes.len() {
        let ev = ep.wait(Some(PATIENCE)).unwrap().expect("a completion");
        if tx.complete(&ev).is_some() {
            done += 1;
        }
    }
    let c = tx.counters();
    let bytes: usize = sizes.iter().sum();
    assert_eq!(
        (c.posted, c.frames, c.bytes, c.refused),
        (3, 3, bytes as u64, 0)
    );
    let s = ep.stats().unwrap();
    assert_eq!((s.tx_posted, s.tx_completed, s.tx_errors), (3, 3, 0));
    assert_eq!(s.host.unwrap().tx_bytes, bytes as u64);
    let stats = nic.stats().unwrap();
    let q = stats.queue(ep.vi()).unwrap();
    assert_eq!(q.tx_completed, 3);
}
