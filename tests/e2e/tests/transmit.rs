//! Transmit through the public API: frames leave the simulated MAC with padding and a good FCS,
//! CRC-32C is inserted, completions free the ring, and a loopback cable brings them back in.

use evnic::{EndpointConfig, Error, EventType, FilterAction, RxFlags, TxCompletion, TxOptions};
use evnic_e2e::nic;
use std::time::Duration;

fn fcs(data: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data)
}

#[test]
fn frames_leave_padded_with_fcs_and_complete() {
    let nic = nic();
    let sim = nic.sim().unwrap();
    nic.set_enabled(true).unwrap();
    let ep = nic.endpoint(EndpointConfig::default()).unwrap();
    let mut tx = ep.transmitter(2, 1600).unwrap();
    let frames: Vec<Vec<u8>> = [20usize, 60, 61, 1514]
        .iter()
        .map(|n| (0..*n).map(|i| (i * 7 + n) as u8).collect())
        .collect();
    for f in &frames {
        tx.send(f, TxOptions::default()).unwrap();
    }
    assert!(matches!(
        tx.send(&frames[0], TxOptions::default()),
        Err(Error::TxRingFull { slots: 4 })
    ));
    let mut done = Vec::new();
    while done.len() < frames.len() {
        let ev = ep
            .wait(Some(Duration::from_secs(30)))
            .unwrap()
            .expect("a completion");
        done.push(tx.complete(&ev).expect("a TX completion"));
    }
    for (i, c) in done.iter().enumerate() {
        assert_eq!(
            *c,
            TxCompletion::Sent {
                desc: i as u32,
                len: frames[i].len() as u32
            }
        );
    }
    assert_eq!(tx.in_flight(), 0);
    let out = sim.take_tx_frames();
    assert_eq!(out.len(), frames.len());
    for (sent, f) in out.iter().zip(&frames) {
        let body = &sent.bytes[..sent.bytes.len() - 4];
        let mut want = f.clone();
        want.resize(want.len().max(60), 0);
        assert_eq!(body, &want[..], "padded to 60, then the FCS");
        assert_eq!(&sent.bytes[body.len()..], &fcs(body).to_le_bytes());
    }
}

#[test]
fn crc32c_is_inserted_and_looped_frames_come_back() {
    let nic = nic();
    let sim = nic.sim().unwrap();
    nic.set_enabled(true).unwrap();
    let sender = nic.endpoint(EndpointConfig::default()).unwrap();
    let receiver = nic.endpoint(EndpointConfig::default()).unwrap();
    let mut rx = receiver.receiver(3, 2048).unwrap();
    nic.set_default_action(FilterAction::Vi(receiver.vi()))
        .unwrap();
    sim.set_loopback(true);
    let mut tx = sender.transmitter(3, 2048).unwrap();
    let mut frame: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
    frame[12] = 0x88;
    frame[13] = 0xb5;
    tx.send(
        &frame,
        TxOptions {
            crc32c: Some((20, 100)),
        },
    )
    .unwrap();
    let done = sender.wait(Some(Duration::from_secs(30))).unwrap().unwrap();
    assert!(matches!(
        tx.complete(&done),
        Some(TxCompletion::Sent { .. })
    ));
    let ev = receiver
        .wait(Some(Duration::from_secs(30)))
        .unwrap()
        .unwrap();
    assert_eq!(ev.event_type(), Some(EventType::Rx));
    assert!(
        !RxFlags::from_bits_retain(ev.flags()).contains(RxFlags::FCS_BAD),
        "FCS good after the loop"
    );
    let got = rx.take(&ev).expect("the looped frame");
    let crc32c = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(&frame[20..120]);
    let mut want = frame.clone();
    want[120..124].copy_from_slice(&crc32c.to_le_bytes());
    assert_eq!(&got[..200], &want[..], "CRC-32C written after the span");
    // A bad frame: longer than the ring's buffers, refused before it is posted.
    assert!(matches!(
        tx.send(&vec![0u8; 3000], TxOptions::default()),
        Err(Error::FrameSize {
            len: 3000,
            max: 2048
        })
    ));
}
