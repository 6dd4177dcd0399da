//! The `evnic` binary end to end on the simulated device: JSON output, exit codes per kind of
//! error, the refusal of model-only commands on a board, filters, listen and capture with
//! frames injected from a pcap, replay and tx.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, UNIX_EPOCH};

fn evnic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evnic"))
        .args(args)
        .env_remove("EVNIC_DEVICE")
        .output()
        .expect("run evnic")
}

fn ok(args: &[&str]) -> String {
    let o = evnic(args);
    assert!(
        o.status.success(),
        "evnic {args:?}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn fails(args: &[&str], code: i32, says: &str) {
    let o = evnic(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "evnic {args:?}: {err}");
    assert!(err.contains(says), "evnic {args:?}: {err}");
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("evnic-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// UDP frames to port 5000 (without FCS), written to a pcap.
fn udp_pcap(path: &Path, n: usize) -> Vec<Vec<u8>> {
    let frames: Vec<Vec<u8>> = (0..n as u32)
        .map(|i| {
            let mut f = evnic_cli::demo::stream_frame(i);
            f.truncate(f.len() - 4);
            f
        })
        .collect();
    let mut w = evnic_cli::pcap::PcapOut::create(path).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write(UNIX_EPOCH + Duration::from_micros(i as u64), f)
            .unwrap();
    }
    w.finish().unwrap();
    frames
}

fn read_pcap(path: &Path) -> Vec<(Duration, Vec<u8>)> {
    let c = evnic_cli::capture::read_capture(path).unwrap();
    assert!(matches!(
        c.format,
        evnic_cli::capture::Format::Pcap { nanos: true, .. }
    ));
    assert_eq!(c.unreadable().count(), 0);
    c.records()
        .map(|r| {
            let t = r.time.unwrap();
            (Duration::new(t.secs as u64, t.nanos), r.data.clone())
        })
        .collect()
}

#[test]
fn info_and_stats_print_json() {
    let v: serde_json::Value = serde_json::from_str(&ok(&["info", "--json"])).unwrap();
    assert!(!v["exact_profiles"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["id"], "EVNC");
    assert!(v["vis"].as_u64().unwrap() >= 2);
    let out = ok(&["stats", "--json", "--watch", "0.01", "--count", "2"]);
    let snaps: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(snaps.len(), 2, "{out}");
    assert!(snaps[1]["cycles"].as_u64() > snaps[0]["cycles"].as_u64());
    assert_eq!(snaps[0]["rx_dropped"]["no-match"], 0);
    let table = ok(&["stats"]);
    assert!(
        table.contains("RX_DELIVERED") && table.contains("DROP_FCS"),
        "{table}"
    );
}

#[test]
fn errors_exit_with_their_kind() {
    fails(&["--device", "pci:1", "info"], 5, "vfio:DDDD:BB:DD.F");
    fails(
        &["--device", "vfio:0000:ff:1f.7", "info"],
        3,
        "no PCI function",
    );
    for cmd in [
        &["replay", "--pcap", "x.pcap"][..],
        &["tx", "--pcap", "x.pcap", "--out", "y.pcap"],
        &["demo"],
    ] {
        let mut args = vec!["--device", "vfio:0000:01:00.0"];
        args.extend_from_slice(cmd);
        fails(&args, 8, "runs on the simulated device only");
    }
    fails(
        &["replay", "--pcap", "/nonexistent/x.pcap"],
        7,
        "/nonexistent/x.pcap",
    );
    fails(&["filter", "add", "udp dst 99999 -> vi 1"], 5, "bad filter");
    fails(&["stats", "--watch=0"], 2, "positive");
    fails(&["nonsense"], 2, "unrecognized");
}

#[test]
fn filters_are_added_listed_and_removed() {
    let out = ok(&[
        "filter",
        "add",
        "udp dst 319 -> vi 2",
        "ethertype 0x8902 -> group 5",
    ]);
    assert!(out.contains("entry 0: udp dst 319 -> vi 2"), "{out}");
    assert!(
        out.contains("| 1 | 0 | ethertype 0x8902 -> group 5 |"),
        "{out}"
    );
    // A 5-tuple goes to an exact-match table, and the listing says so.
    let out = ok(&[
        "filter",
        "add",
        "udp dst 319 -> vi 2",
        "ipv4 src 10.0.0.1 ipv4 dst 10.0.0.2 udp src 1 udp dst 2 -> vi 3",
    ]);
    assert!(
        out.contains("entry 0: udp dst 319 -> vi 2 (ternary: no exact-match profile has its mask)"),
        "{out}"
    );
    assert!(out.contains("(exact-match, profile 0)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("| x0.") && l.ends_with("-> vi 3 | exact |")),
        "{out}"
    );
    assert!(
        out.contains("; 1 of ") && out.contains("exact-match slots"),
        "{out}"
    );
    let out = ok(&["filter", "add", "--index", "7", "any -> drop"]);
    assert!(out.contains("entry 7: any -> drop"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&ok(&["filter", "list", "--json"])).unwrap();
    assert!(v["entries"].as_u64().unwrap() >= 8);
    ok(&["filter", "del", "3"]);
}

#[test]
fn capture_writes_the_filtered_frames_with_device_timestamps() {
    let input = tmp("capture-in.pcap");
    let out = tmp("capture-out.pcap");
    let frames = udp_pcap(&input, 3);
    ok(&[
        "capture",
        "-w",
        out.to_str().unwrap(),
        "--filter",
        "udp dst 5000",
        "--inject",
        input.to_str().unwrap(),
        "--count",
        "3",
        "--duration",
        "60",
    ]);
    let got = read_pcap(&out);
    assert_eq!(got.len(), 3);
    for ((ts, f), sent) in got.iter().zip(&frames) {
        assert_eq!(f, &evnic_proto::fcs::with_fcs(sent.clone()), "FCS included");
        assert!(ts.as_secs() > 1_600_000_000, "a wall-clock time: {ts:?}");
    }
    // Injected 200 cycles apart: 1280 ns at the nominal 156.25 MHz.
    let gap = (got[1].0 - got[0].0).as_nanos();
    assert_eq!(gap, 1280, "nanosecond timestamps from the device clock");
}

#[test]
fn listen_prints_the_events_of_its_groups() {
    let input = tmp("listen-in.pcap");
    udp_pcap(&input, 2);
    let out = ok(&[
        "listen",
        "--group",
        "5",
        "--filter",
        "udp dst 5000 -> group 5",
        "--inject",
        input.to_str().unwrap(),
        "--count",
        "2",
        "--duration",
        "60",
        "--json",
    ]);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{out}");
    for e in &events {
        assert_eq!(e["type"], "RX");
        assert_eq!(e["group"], 5);
        assert_eq!(e["filter"], 0);
    }
    assert!(events[1]["ns"].as_u64() > events[0]["ns"].as_u64());
}

#[test]
fn replay_and_tx_run_on_the_model() {
    let input = tmp("replay-in.pcap");
    udp_pcap(&input, 2);
    let out = ok(&[
        "replay",
        "--pcap",
        input.to_str().unwrap(),
        "--filter",
        "udp dst 5000 -> vi 3",
        "--json",
    ]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"], "delivered");
    assert_eq!(lines[0]["vi"], 3);
    let wire = tmp("tx-out.pcap");
    let out = ok(&[
        "tx",
        "--pcap",
        input.to_str().unwrap(),
        "--out",
        wire.to_str().unwrap(),
    ]);
    assert!(out.contains("2 of 2 frames sent"), "{out}");
    let got = read_pcap(&wire);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|(_, f)| evnic_proto::fcs::fcs_ok(f)));
}
