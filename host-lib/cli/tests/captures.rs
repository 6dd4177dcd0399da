//! `evnic replay --json` on captures written at test time, one per quirk real captures have:
//! every record gets exactly one JSON line, with the right fields, and tshark (when installed)
//! reads as many frames as the replay reports read.

#[path = "support/capfile.rs"]
mod capfile;
use capfile::{tshark_frames, PcapFile, PcapNgFile, ETHERNET};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("evnic-captures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The replay of `bytes` written to `name`: its JSON lines and its stderr (the tally). When
/// tshark is installed and the file is not damaged, tshark must read as many frames, with the
/// same lengths.
fn replay(name: &str, bytes: &[u8], args: &[&str]) -> (Vec<Value>, String) {
    let path = tmp(name);
    std::fs::write(&path, bytes).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_evnic"))
        .args(["replay", "--json", "--default", "vi 1", "--pcap"])
        .arg(&path)
        .args(args)
        .env_remove("EVNIC_DEVICE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "replay of {name}: {}\n{err}", o.status);
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], i, "{name}: one line per record, in order");
    }
    // On a damaged file tshark is no reference (after a garbage length it reads frames of 0
    // bytes at guessed offsets): files with an unreadable record are not compared.
    let damaged = lines.iter().any(|l| l["not_replayed"] == "unreadable");
    let read: Vec<&Value> = lines.iter().collect();
    match tshark_frames(&path).filter(|_| !damaged) {
        Some(t) => {
            assert_eq!(t.len(), read.len(), "{name}: frames tshark reads");
            for (l, (len, cap, _)) in read.iter().zip(&t) {
                assert_eq!(l["original_len"], *len, "{name}: {l}");
                assert_eq!(l["captured"], *cap, "{name}: {l}");
            }
        }
        None if damaged => {}
        None => eprintln!("tshark not installed: {name} not compared with it"),
    }
    std::fs::remove_file(&path).unwrap();
    (lines, err)
}

/// A UDP frame of `len` bytes (without FCS) to 10.0.0.2 port `port`.
fn udp(len: usize, port: u16) -> Vec<u8> {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, port)
        .write(&mut f, &vec![0xab; len - 42])
        .unwrap();
    f
}

fn flags(l: &Value) -> Vec<&str> {
    l["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect()
}

fn notes(l: &Value) -> Vec<&str> {
    l["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect()
}

#[test]
fn a_snaplen_cut_capture_replays_cut_frames_as_truncated() {
    // As `tcpdump -s 96` writes it: the snapshot length in the header, records cut to it.
    let mut f = PcapFile::new(false, false, 96, ETHERNET);
    let long = udp(1514, 7);
    let arp_like = {
        let mut a = vec![0xff; 6];
        a.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        a.resize(200, 0);
        a
    };
    f.record(1, 0, 1514, &long[..96])
        .record(2, 0, 60, &udp(60, 8))
        .record(3, 0, 200, &arp_like[..96]);
    let (l, err) = replay("snaplen.pcap", &f.bytes, &[]);
    assert_eq!(l.len(), 3);
    assert_eq!(flags(&l[0]), ["TRUNCATED"]);
    assert_eq!(notes(&l[0]), ["cut"]);
    assert_eq!(
        (l[0]["captured"].as_u64(), l[0]["original_len"].as_u64()),
        (Some(96), Some(1514))
    );
    assert_eq!(l[0]["len"], 100, "the captured bytes and an FCS");
    assert_eq!(l[0]["key"]["dst_ip"], "10.0.0.2");
    assert_eq!(l[0]["key"]["l4_dst"], 7);
    assert_eq!(l[0]["outcome"], "delivered");
    assert!(flags(&l[1]).is_empty(), "{}", l[1]);
    assert!(notes(&l[1]).is_empty());
    // Nothing in an ARP header says it is cut: the capture does.
    assert_eq!(flags(&l[2]), ["TRUNCATED"]);
    assert_eq!(l[2]["key"]["ethertype"], 0x0806);
    assert!(
        err.contains("3 records: 3 replayed (2 cut by the capture"),
        "{err}"
    );
}

#[test]
fn a_captured_length_above_the_snaplen_is_replayed() {
    let mut f = PcapFile::new(true, true, 64, ETHERNET);
    f.record(1, 5, 100, &udp(100, 9))
        .record(2, 0, 64, &udp(64, 9));
    let (l, _) = replay("above-snaplen.pcap", &f.bytes, &[]);
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["len"], 104);
    assert_eq!(notes(&l[0]), ["captured_above_snaplen"]);
    assert_eq!(l[0]["time"], "1.000000005");
    assert_eq!(l[0]["key"]["l4_dst"], 9);
    assert!(notes(&l[1]).is_empty());
}

#[test]
fn the_fcs_bits_of_the_link_type_word_are_followed() {
    let good = evnic_proto::fcs::with_fcs(udp(80, 10));
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1;
    // Bit 26 set, FCS length 2 16-bit words: frames end with their 4-byte FCS.
    let mut f = PcapFile::new(false, false, 65535, 0x2400_0001);
    f.record(1, 0, 84, &good).record(2, 0, 84, &bad);
    let (l, err) = replay("fcs-bits.pcap", &f.bytes, &[]);
    assert_eq!(l[0]["len"], 84, "taken as carrying its FCS");
    assert!(flags(&l[0]).is_empty(), "{}", l[0]);
    assert_eq!(notes(&l[0]), ["fcs_from_capture"]);
    assert_eq!(l[0]["outcome"], "delivered");
    assert_eq!(flags(&l[1]), ["FCS_BAD"]);
    assert_eq!(l[1]["drop_reason"], "fcs-bad");
    assert!(err.contains("2 replayed"), "{err}");
    // The same frames in a capture that says nothing: an FCS is appended to each.
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(1, 0, 84, &good);
    let (l, _) = replay("no-fcs-bits.pcap", &f.bytes, &[]);
    assert_eq!(l[0]["len"], 88);
    assert!(notes(&l[0]).is_empty());
}

#[test]
fn pcapng_with_several_interfaces_unknown_blocks_and_options() {
    let mut f = PcapNgFile::new(
        false,
        &[(1, b"written by hand".to_vec()), (0x7001, vec![1])],
    );
    f.interface(1, 0, &[(0x7002, vec![1, 2, 3, 4, 5])])
        .interface(1, 0, &[(9, vec![9]), (13, vec![4])])
        .interface(113, 0, &[])
        .block(0x4000_0bad, &[0, 0, 0x7e, 0x79, 9, 9])
        .block(0x7777_0001, &[1; 12]);
    let with_fcs = evnic_proto::fcs::with_fcs(udp(70, 12));
    f.enhanced(
        0,
        1_700_000_000_000_001,
        70,
        &udp(70, 11),
        &[(0x7003, vec![0; 3])],
    )
    .enhanced(1, 1_700_000_000_000_000_002, 74, &with_fcs, &[])
    .enhanced(2, 1_700_000_000_000_003, 40, &[0; 40], &[])
    .simple(60, &udp(60, 13))
    .packet(0, 1_700_000_001_000_000, 64, &udp(64, 14));
    let (l, err) = replay("multi.pcapng", &f.bytes, &[]);
    assert_eq!(l.len(), 5);
    assert_eq!(l[0]["time"], "1700000000.000001000");
    assert_eq!(l[0]["key"]["l4_dst"], 11);
    assert_eq!(l[0]["len"], 74);
    assert_eq!(l[1]["time"], "1700000000.000000002");
    assert_eq!(l[1]["interface"], 1);
    assert_eq!(l[1]["len"], 74, "if_fcslen 4: the frame's own FCS");
    assert!(flags(&l[1]).is_empty(), "{}", l[1]);
    assert_eq!(l[2]["outcome"], "not_replayed");
    assert_eq!(l[2]["not_replayed"], "not_ethernet");
    assert_eq!(l[3]["time"], Value::Null);
    assert_eq!(l[3]["key"]["l4_dst"], 13);
    assert_eq!(l[4]["key"]["l4_dst"], 14);
    assert!(err.contains("5 records: 4 replayed"), "{err}");
    assert!(err.contains("1 not Ethernet"), "{err}");
}

#[test]
fn a_microsecond_field_of_a_second_or_more_is_carried() {
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(10, 1_500_000, 60, &udp(60, 15))
        .record(11, 999_999, 60, &udp(60, 16));
    let (l, _) = replay("usec.pcap", &f.bytes, &[]);
    assert_eq!(l[0]["time"], "11.500000000");
    assert_eq!(notes(&l[0]), ["timestamp_fraction_overflow"]);
    assert_eq!(l[0]["outcome"], "delivered");
    assert_eq!(l[1]["time"], "11.999999000");
}

#[test]
fn a_captured_length_above_the_original_takes_the_captured_bytes() {
    let mut f = PcapFile::new(false, true, 65535, ETHERNET);
    f.record(1, 0, 60, &udp(80, 17));
    let (l, _) = replay("above-orig.pcap", &f.bytes, &[]);
    assert_eq!(l[0]["len"], 84);
    assert_eq!(l[0]["captured"], 80);
    assert_eq!(notes(&l[0]), ["captured_above_original"]);
    assert!(flags(&l[0]).is_empty());
}

#[test]
fn has_fcs_records_shorter_than_an_fcs_never_stop_the_run() {
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    for n in 0..4 {
        f.record(n, 0, n, &vec![0x55; n as usize]);
    }
    f.record(9, 0, 84, &evnic_proto::fcs::with_fcs(udp(80, 18)));
    let (l, err) = replay("short.pcap", &f.bytes, &["--has-fcs"]);
    assert_eq!(l.len(), 5);
    assert_eq!(l[0]["outcome"], "not_replayed");
    assert_eq!(l[0]["not_replayed"], "empty");
    assert_eq!(notes(&l[0]), ["shorter_than_fcs"]);
    for (n, r) in l.iter().enumerate().take(4).skip(1) {
        assert_eq!(r["len"], n);
        assert_eq!(flags(r), ["FCS_BAD", "TRUNCATED", "RUNT"], "{r}");
        assert_eq!(r["drop_reason"], "fcs-bad");
        assert_eq!(notes(r), ["shorter_than_fcs"]);
    }
    assert_eq!(l[4]["outcome"], "delivered");
    assert_eq!(l[4]["key"]["l4_dst"], 18);
    assert!(err.contains("4 shorter than their FCS"), "{err}");
    assert!(err.contains("1 empty"), "{err}");
}

#[test]
fn unreadable_records_are_reported_and_the_run_goes_on() {
    // A garbage captured length between good records: skipped past.
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(100, 0, 60, &udp(60, 19))
        .record_with(100, 1, 0x7fff_0000, 60, &udp(60, 20))
        .record(101, 0, 60, &udp(60, 21));
    let (l, err) = replay("garbage.pcap", &f.bytes, &[]);
    assert_eq!(l.len(), 3);
    assert_eq!(l[1]["not_replayed"], "unreadable");
    assert!(
        l[1]["reason"]
            .as_str()
            .unwrap()
            .contains("record 1 at byte 100"),
        "{}",
        l[1]
    );
    assert_eq!(l[2]["key"]["l4_dst"], 21);
    assert!(err.contains("1 unreadable"), "{err}");

    // A file cut short inside its last record: the records before it are replayed.
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(100, 0, 60, &udp(60, 22))
        .record(101, 0, 60, &udp(60, 23));
    let cut = &f.bytes[..f.bytes.len() - 20];
    let (l, _) = replay("cut-short.pcap", cut, &[]);
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["key"]["l4_dst"], 22);
    assert!(
        l[1]["reason"].as_str().unwrap().contains("the file ends"),
        "{}",
        l[1]
    );

    // pcapng: a block length that does not hold together.
    let mut f = PcapNgFile::new(true, &[]);
    f.interface(1, 0, &[]);
    f.enhanced(0, 1, 60, &udp(60, 24), &[]);
    let at = f.bytes.len();
    f.enhanced(0, 2, 60, &udp(60, 25), &[]);
    f.enhanced(0, 3, 60, &udp(60, 26), &[]);
    f.bytes[at + 4..at + 8].copy_from_slice(&13u32.to_be_bytes());
    let (l, _) = replay("garbage.pcapng", &f.bytes, &[]);
    assert_eq!(l.len(), 3);
    assert_eq!(l[1]["not_replayed"], "unreadable");
    assert_eq!(l[2]["key"]["l4_dst"], 26);
}

#[test]
fn frames_beyond_65535_bytes_are_judged_at_the_saturated_count() {
    // An IPv4 packet of total length 65,535, all of it captured: TRUNCATED, as the device
    // counts at most 65,535 bytes (see evnic_regs::event::rx_flags).
    let mut frame = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, 27)
        .write(&mut frame, &vec![1; 65_535 - 28])
        .unwrap();
    let mut f = PcapFile::new(false, false, 262_144, ETHERNET);
    f.record(1, 0, frame.len() as u32, &frame);
    let (l, _) = replay("gso.pcap", &f.bytes, &[]);
    assert_eq!(l[0]["captured"], 14 + 65_535);
    assert_eq!(l[0]["len"], 65_535);
    assert_eq!(flags(&l[0]), ["TRUNCATED", "OVERSIZE"]);
    assert!(notes(&l[0]).is_empty());
    // Written into its buffer while it arrives (cut-through), so no frame store overruns: it
    // is delivered.
    assert!(l[0]["drop_reason"].is_null(), "{}", l[0]);
}

/// `fields` of every frame of the capture at `path`, as tshark prints them (None: no tshark).
fn tshark_fields(path: &std::path::Path, fields: &[&str]) -> Option<Vec<Vec<String>>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path).args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().ok()?;
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect(),
    )
}

#[test]
fn mpls_qinq_pppoe_and_ipv6_extension_headers_give_the_inner_fields() {
    let udp4 = |port: u16| {
        let mut f = Vec::new();
        etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000, port)
            .write(&mut f, &[0xab; 30])
            .unwrap();
        f
    };
    let eth = |l2: &[u8], rest: &[u8]| {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        f.extend_from_slice(l2);
        f.extend_from_slice(rest);
        f
    };
    // QinQ: outer TPID 0x9100 (vlan 100), inner 0x8100 (vlan 7).
    let qinq = eth(
        &[0x91, 0x00, 0x00, 100, 0x81, 0x00, 0x00, 7, 0x08, 0x00],
        &udp4(31),
    );
    // Two MPLS labels, 16 then 17 (bottom of stack), TTL 64.
    let mut stack = vec![0x00, 0x01, 0x00, 64, 0x00, 0x01, 0x11, 64];
    stack.extend_from_slice(&udp4(32));
    let mpls = eth(&[0x88, 0x47], &stack);
    // A PPPoE session carrying IPv4.
    let ip = udp4(33);
    let mut ppp = vec![0x11, 0x00, 0x00, 0x2a];
    ppp.extend_from_slice(&(ip.len() as u16 + 2).to_be_bytes());
    ppp.extend_from_slice(&[0x00, 0x21]);
    ppp.extend_from_slice(&ip);
    let pppoe = eth(&[0x88, 0x64], &ppp);
    // IPv6 with a hop-by-hop header (8 bytes) before UDP.
    let mut v6 = Vec::new();
    etherparse::PacketBuilder::ipv6([0x20; 16], [0x30; 16], 64)
        .udp(1000, 34)
        .write(&mut v6, &[0xcd; 30])
        .unwrap();
    let nh = v6[6];
    v6[6] = 0;
    let pl = u16::from_be_bytes([v6[4], v6[5]]) + 8;
    v6[4..6].copy_from_slice(&pl.to_be_bytes());
    v6.splice(40..40, [nh, 0, 1, 4, 0, 0, 0, 0]);
    let hbh = eth(&[0x86, 0xdd], &v6);

    let frames = [qinq, mpls, pppoe, hbh];
    let mut f = PcapFile::new(false, false, 65_535, ETHERNET);
    for (i, fr) in frames.iter().enumerate() {
        f.record(i as u32 + 1, 0, fr.len() as u32, fr);
    }
    let path = tmp("encaps-tshark.pcap");
    std::fs::write(&path, &f.bytes).unwrap();
    let t = tshark_fields(&path, &["udp.dstport", "mpls.label", "vlan.id"]);
    std::fs::remove_file(&path).unwrap();
    let (l, _) = replay("encaps.pcap", &f.bytes, &[]);
    assert_eq!(l.len(), 4);
    for (i, line) in l.iter().enumerate() {
        assert!(flags(line).is_empty(), "{line}");
        assert_eq!(line["key"]["l4_dst"], 31 + i, "{line}");
    }
    let k = |i: usize, f: &str| l[i]["key"][f].clone();
    assert_eq!(
        (k(0, "vlan_count"), k(0, "vlan_outer"), k(0, "vlan_inner")),
        (2.into(), 100.into(), 7.into())
    );
    assert_eq!(
        (k(0, "ethertype"), k(0, "ip_version")),
        (0x0800.into(), 4.into())
    );
    assert_eq!(
        (k(1, "ethertype"), k(1, "mpls_label")),
        (0x8847.into(), 16.into())
    );
    assert_eq!(
        (k(1, "ip_version"), k(1, "dst_ip")),
        (4.into(), "10.0.0.2".into())
    );
    assert_eq!(
        (k(2, "ethertype"), k(2, "ip_version")),
        (0x8864.into(), 4.into())
    );
    assert_eq!(
        (k(3, "ip_version"), k(3, "ip_proto")),
        (6.into(), 17.into())
    );
    // tshark reads the same ports, the top label and the tags.
    match t {
        Some(t) => {
            assert_eq!(t.len(), 4);
            for (i, row) in t.iter().enumerate() {
                assert_eq!(row[0], (31 + i).to_string(), "tshark frame {i}: {row:?}");
            }
            assert_eq!(t[1][1].split(',').next(), Some("16"));
            assert_eq!(t[0][2], "100,7");
        }
        None => eprintln!("tshark not installed: the encapsulations not compared with it"),
    }
}
