//! The main job, `evnic demo`, end to end: the loss-of-continuity alarm is raised for the
//! silenced peer only, every listener gets what its subscriptions and the filters promise.

use evnic_cli::demo::{ccm_frame, run, DemoOptions};

#[test]
fn demo_raises_loss_of_continuity_for_the_silenced_peer_only() {
    let pcap = std::env::temp_dir().join(format!("evnic-demo-{}.pcap", std::process::id()));
    let opts = DemoOptions {
        intervals: 6,
        b_silent_after: 1,
        stream_per_interval: 2,
        pcap: Some(pcap.clone()),
        ..Default::default()
    };
    let mut last = 0.0;
    let r = run(&opts, &mut |done, _| {
        assert!(done >= last, "progress only grows");
        last = done;
    })
    .expect("demo runs");
    assert_eq!(last, 1.0, "progress ends at 100%");
    let peers: Vec<u32> = r.loss_of_continuity.iter().map(|(p, _)| *p).collect();
    assert_eq!(peers, vec![1], "peer B (1) only: {r}");
    assert_eq!(
        r.ops_alarms,
        vec![1],
        "the supervisor's indication reached operations"
    );
    let count = |name: &str, kind: &str| {
        let l = r
            .listeners
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        l.by_type.get(kind).copied().unwrap_or(0)
    };
    // 6 CCMs from A and 1 from B reach each monitor, and the alarm timer once.
    for m in ["monitor-1", "monitor-2", "monitor-3"] {
        assert_eq!(count(m, "RX"), 7, "{m}: {r}");
        assert_eq!(count(m, "TIMER"), 1, "{m}: {r}");
    }
    for s in ["stream-1", "stream-2"] {
        assert_eq!(count(s, "RX"), 12, "{s}: {r}");
        assert_eq!(count(s, "TIMER"), 0);
    }
    assert_eq!(count("operations", "INDICATION"), 1);
    assert_eq!(
        count("capture", "RX"),
        7 + 12,
        "capture subscribes to both groups"
    );
    assert_eq!(r.frames_captured, 19);
    // The pcap holds the frames as they arrived, FCS included, with nanosecond timestamps
    // from the device clock: in order, and A's CCMs 3.33 ms of device time apart.
    let data = std::fs::read(&pcap).unwrap();
    std::fs::remove_file(&pcap).unwrap();
    let packets = pcap_packets(&data);
    assert_eq!(
        packets[0].1,
        ccm_frame(0, 0),
        "the first capture is peer A's first CCM"
    );
    assert!(
        packets.windows(2).all(|w| w[0].0 <= w[1].0),
        "timestamps in order"
    );
    let a: Vec<_> = packets
        .iter()
        .filter(|(_, f)| f[..16] == ccm_frame(0, 0)[..16])
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(a.len(), 6);
    for w in a.windows(2) {
        let gap = (w[1] - w[0]).as_nanos() as i64;
        assert!((gap - 3_330_000).abs() < 1_000, "A's CCMs {gap} ns apart");
    }
}

/// Timestamps and frames of a pcap, read with the `pcap-file` crate.
fn pcap_packets(data: &[u8]) -> Vec<(std::time::Duration, Vec<u8>)> {
    let mut r = pcap_file::pcap::PcapReader::new(data).expect("a pcap");
    assert_eq!(r.header().datalink, pcap_file::DataLink::ETHERNET);
    assert_eq!(
        r.header().ts_resolution,
        pcap_file::TsResolution::NanoSecond
    );
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.expect("a packet");
        out.push((p.timestamp, p.data.to_vec()));
    }
    out
}
