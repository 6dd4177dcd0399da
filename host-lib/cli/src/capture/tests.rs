use super::*;

#[path = "../../tests/support/capfile.rs"]
mod capfile;
use capfile::{tshark_frames, PcapFile, PcapNgFile, ETHERNET};

fn frame(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
}

fn records(c: &Capture) -> Vec<&Record> {
    c.records().collect()
}

/// Writes `bytes` to a file, reads it with the reader and, when tshark is installed, checks
/// that tshark reads the same frames: as many, the same lengths, and (where `times` says) the
/// same timestamps.
fn read_and_compare(name: &str, bytes: &[u8], times: bool) -> Capture {
    let dir = std::env::temp_dir().join(format!("evnic-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let c = read_capture(&path).unwrap();
    if let Some(t) = tshark_frames(&path) {
        let ours: Vec<&Record> = c.records().collect();
        assert_eq!(t.len(), ours.len(), "{name}: frames tshark reads");
        for (r, (len, cap, time)) in ours.iter().zip(&t) {
            assert_eq!(*cap as usize, r.data.len(), "{name} record {}", r.index);
            assert_eq!(*len, r.original_len, "{name} record {}", r.index);
            if times {
                let ours = r.time.map(|t| t.to_string()).unwrap_or_default();
                assert_eq!(time, &ours, "{name} record {}: time", r.index);
            }
        }
    } else {
        eprintln!("tshark not installed: {name} is not compared with it");
    }
    std::fs::remove_file(&path).unwrap();
    c
}

#[test]
fn pcap_in_both_byte_orders_and_both_resolutions() {
    for big in [false, true] {
        for nanos in [false, true] {
            let mut f = PcapFile::new(big, nanos, 65535, ETHERNET);
            f.record(1_700_000_000, 123_456, 60, &frame(60, 1))
                .record(1_700_000_001, 999, 1514, &frame(1514, 2))
                .record(1_700_000_002, 0, 0, &[]);
            let c = read_and_compare(&format!("o-{big}-{nanos}.pcap"), &f.bytes, true);
            assert_eq!(
                c.format,
                Format::Pcap {
                    nanos,
                    big_endian: big
                }
            );
            let r = records(&c);
            assert_eq!(r.len(), 3);
            assert_eq!(r[0].data, frame(60, 1));
            assert_eq!(r[1].data, frame(1514, 2));
            assert!(r[2].data.is_empty());
            let nanos0 = if nanos { 123_456 } else { 123_456_000 };
            assert_eq!(
                r[0].time,
                Some(Timestamp {
                    secs: 1_700_000_000,
                    nanos: nanos0
                })
            );
            assert!(r.iter().all(|r| r.notes.is_empty() && !r.is_cut()));
            assert_eq!(r[0].link_type, LINKTYPE_ETHERNET);
            assert_eq!(r[0].fcs_len, None);
        }
    }
}

#[test]
fn records_cut_to_the_snapshot_length_are_read_as_cut() {
    let mut f = PcapFile::new(false, false, 96, ETHERNET);
    f.record(1, 0, 1514, &frame(96, 3))
        .record(2, 0, 70_000, &frame(96, 4))
        .record(3, 0, 60, &frame(60, 5));
    let c = read_and_compare("cut.pcap", &f.bytes, true);
    let r = records(&c);
    assert_eq!(r.len(), 3);
    assert!(r[0].is_cut() && r[1].is_cut() && !r[2].is_cut());
    assert_eq!((r[0].data.len(), r[0].original_len), (96, 1514));
    assert_eq!(r[1].original_len, 70_000);
    assert!(r.iter().all(|r| r.notes.is_empty()));
}

#[test]
fn a_captured_length_above_the_snaplen_is_read_anyway() {
    let mut f = PcapFile::new(true, false, 64, ETHERNET);
    f.record(1, 0, 100, &frame(100, 6))
        .record(2, 0, 64, &frame(64, 7));
    let c = read_and_compare("above-snaplen.pcap", &f.bytes, true);
    let r = records(&c);
    assert_eq!(r[0].data, frame(100, 6));
    assert_eq!(
        r[0].notes,
        [Note::CapturedAboveSnaplen {
            captured: 100,
            snaplen: 64
        }]
    );
    assert!(r[1].notes.is_empty());
}

#[test]
fn the_fcs_bits_of_the_link_type_word() {
    // Bit 26: FCS length present; bits 31:28: its length in 16-bit words.
    for (word, fcs) in [
        (0x2400_0001u32, Some(4)),
        (0x0400_0001, Some(0)),
        (0x2000_0001, None),
        (1, None),
    ] {
        let mut f = PcapFile::new(false, true, 65535, word);
        f.record(1, 0, 64, &frame(64, 8));
        let c = read_and_compare(&format!("fcs-{word:x}.pcap"), &f.bytes, true);
        let r = records(&c);
        assert_eq!(r[0].link_type, LINKTYPE_ETHERNET, "{word:#x}");
        assert_eq!(r[0].fcs_len, fcs, "{word:#x}");
    }
}

#[test]
fn a_fraction_of_a_second_or_more_is_carried() {
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(10, 1_500_000, 60, &frame(60, 9))
        .record(11, 999_999, 60, &frame(60, 10));
    // tshark prints such a fraction as it is (".1500000000"): only the frames are compared.
    let c = read_and_compare("usec.pcap", &f.bytes, false);
    let r = records(&c);
    assert_eq!(
        r[0].time,
        Some(Timestamp {
            secs: 11,
            nanos: 500_000_000
        })
    );
    assert_eq!(
        r[0].notes,
        [Note::FractionOverflow {
            fraction: 1_500_000,
            per_second: 1_000_000
        }]
    );
    assert_eq!(r[1].time.unwrap().to_string(), "11.999999000");
    assert!(r[1].notes.is_empty());
}

#[test]
fn a_captured_length_above_the_original_takes_the_captured_bytes() {
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(1, 0, 50, &frame(60, 11));
    let c = read_and_compare("above-orig.pcap", &f.bytes, true);
    let r = records(&c);
    assert_eq!(r[0].data, frame(60, 11));
    assert!(!r[0].is_cut());
    assert_eq!(
        r[0].notes,
        [Note::CapturedAboveOriginal {
            captured: 60,
            original: 50
        }]
    );
}

#[test]
fn a_file_cut_inside_a_record_keeps_the_records_before() {
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(1, 0, 60, &frame(60, 12))
        .record(2, 0, 60, &frame(60, 13));
    for cut in [10, 30] {
        let bytes = &f.bytes[..f.bytes.len() - 60 - 16 + cut];
        let c = parse_capture(bytes).unwrap();
        assert_eq!(c.items.len(), 2, "cut {cut}");
        assert!(matches!(&c.items[0], Item::Packet(r) if r.data == frame(60, 12)));
        let Item::Unreadable(u) = &c.items[1] else {
            panic!("cut {cut}: {:?}", c.items[1]);
        };
        assert_eq!((u.index, u.offset, u.skipped), (1, 24 + 16 + 60, None));
        assert!(u.why.contains("the file ends"), "{}", u.why);
    }
    // Cut inside a record whose data ends in zeros: they are not taken for records.
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(1, 0, 60, &frame(60, 12))
        .record(1, 5, 200, &[0; 200]);
    let c = parse_capture(&f.bytes[..f.bytes.len() - 10]).unwrap();
    assert_eq!(c.items.len(), 2, "{:?}", c.items);
    assert!(matches!(&c.items[1], Item::Unreadable(u) if u.skipped.is_none()));
}

#[test]
fn a_garbage_record_length_is_skipped_and_reading_goes_on() {
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(100, 0, 60, &frame(60, 14))
        .record_with(101, 0, 0x7fff_0000, 60, &frame(60, 15))
        .record(102, 0, 70, &frame(70, 16))
        .record(103, 0, 80, &frame(80, 17));
    let c = parse_capture(&f.bytes).unwrap();
    assert_eq!(c.items.len(), 4, "{:?}", c.items);
    let Item::Unreadable(u) = &c.items[1] else {
        panic!("{:?}", c.items[1]);
    };
    assert_eq!(u.index, 1);
    assert_eq!(u.skipped, Some(16 + 60));
    assert!(u.why.contains("captured length 2147418112"), "{}", u.why);
    let r = records(&c);
    assert_eq!(r[1].index, 2);
    assert_eq!(r[1].data, frame(70, 16));
    assert_eq!(r[2].data, frame(80, 17));

    // A length inside the limit that runs past the end of the file, then good records.
    let mut f = PcapFile::new(false, false, 65535, ETHERNET);
    f.record(100, 0, 60, &frame(60, 14))
        .record_with(101, 0, 200_000, 60, &frame(60, 15))
        .record(102, 0, 70, &frame(70, 16));
    let c = parse_capture(&f.bytes).unwrap();
    assert_eq!(c.items.len(), 3, "{:?}", c.items);
    assert!(matches!(&c.items[1], Item::Unreadable(u) if u.why.contains("past the end")));
    assert!(matches!(&c.items[2], Item::Packet(r) if r.data == frame(70, 16)));
}

#[test]
fn not_a_capture() {
    assert!(parse_capture(b"").is_err());
    assert!(parse_capture(b"hello world, not a capture").is_err());
    assert!(parse_capture(&0xa1b2_c3d4u32.to_le_bytes()).is_err());
}

const OPT_COMMENT: u16 = 1;
const OPT_UNKNOWN: u16 = 0x7777;

#[test]
fn pcapng_interfaces_resolutions_blocks_and_options() {
    for big in [false, true] {
        let mut f = PcapNgFile::new(big, &[(OPT_COMMENT, b"made by hand".to_vec())]);
        // Interface 0: microseconds (the default), an unknown option.
        f.interface(1, 65535, &[(OPT_UNKNOWN, vec![1, 2, 3])]);
        // Interface 1: nanoseconds, frames carry a 4-byte FCS, a snapshot length of 128.
        f.interface(
            1,
            128,
            &[
                (OPT_IF_TSRESOL, vec![9]),
                (OPT_IF_FCSLEN, vec![4]),
                (OPT_UNKNOWN, vec![]),
            ],
        );
        // Interface 2: 2^-20 seconds, an offset of 1000 s; Linux cooked capture.
        let off = f.u64_opt(OPT_IF_TSOFFSET, 1000);
        f.interface(113, 0, &[(OPT_IF_TSRESOL, vec![0x80 | 20]), off]);
        // An unknown block type, a custom block, a name resolution block: skipped.
        f.block(0x1234_5678, &[9; 10]);
        f.block(0x0000_0bad, &[0, 0, 0x7e, 0x79, 1, 2, 3, 4]);
        f.block(4, &[0; 4]);
        let flags = f.u32_opt(OPT_EPB_FLAGS, 1 | 4 << 5);
        f.enhanced(0, 1_700_000_000_250_000, 60, &frame(60, 20), &[])
            .enhanced(
                1,
                1_700_000_000_000_000_001,
                1514,
                &frame(128, 21),
                &[(OPT_UNKNOWN, vec![5; 7]), (OPT_COMMENT, b"x".to_vec())],
            )
            .enhanced(
                2,
                (1_700_000_000u64 << 20) | (1 << 19),
                42,
                &frame(42, 22),
                &[],
            )
            .enhanced(0, 1_700_000_001_000_000, 64, &frame(64, 23), &[flags])
            .simple(61, &frame(61, 24))
            .packet(1, 1_700_000_002_000_000_000, 62, &frame(62, 25));
        let c = read_and_compare(&format!("ng-{big}.pcapng"), &f.bytes, true);
        assert_eq!(c.format, Format::PcapNg);
        let r = records(&c);
        assert_eq!(r.len(), 6, "{:?}", c.items);
        assert_eq!(
            r[0].time.unwrap(),
            Timestamp {
                secs: 1_700_000_000,
                nanos: 250_000_000
            }
        );
        assert_eq!((r[0].interface, r[0].fcs_len), (0, None));
        assert_eq!(r[1].time.unwrap().to_string(), "1700000000.000000001");
        assert_eq!((r[1].interface, r[1].fcs_len), (1, Some(4)));
        assert!(r[1].is_cut());
        assert_eq!(r[1].data, frame(128, 21));
        assert_eq!(r[2].time.unwrap().to_string(), "1700001000.500000000");
        assert_eq!(r[2].link_type, 113);
        assert_eq!(r[3].fcs_len, Some(4), "epb_flags FCS length");
        assert_eq!(r[4].time, None);
        assert_eq!(r[4].data, frame(61, 24));
        assert_eq!(r[5].time.unwrap().to_string(), "1700000002.000000000");
        assert_eq!((r[5].interface, r[5].data.len()), (1, 62));
        assert!(r.iter().all(|r| r.notes.is_empty()));
        assert_eq!(
            r.iter().map(|r| r.index).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
    }
}

#[test]
fn pcapng_sections_bring_their_byte_order_and_interfaces() {
    let mut f = PcapNgFile::new(false, &[]);
    f.interface(1, 0, &[(OPT_IF_TSRESOL, vec![3])])
        .enhanced(0, 5_000, 60, &frame(60, 30), &[])
        .section(true, &[])
        .interface(1, 0, &[(OPT_IF_TSRESOL, vec![9])])
        .enhanced(0, 7_000_000_000, 60, &frame(60, 31), &[]);
    let c = read_and_compare("sections.pcapng", &f.bytes, true);
    let r = records(&c);
    assert_eq!(r[0].time.unwrap().to_string(), "5.000000000");
    assert_eq!(r[1].time.unwrap().to_string(), "7.000000000");
    assert_eq!(r[1].data, frame(60, 31));
}

#[test]
fn pcapng_records_that_cannot_be_read_are_reported_and_skipped() {
    let mut f = PcapNgFile::new(false, &[]);
    f.interface(1, 0, &[]);
    f.enhanced(0, 1, 60, &frame(60, 40), &[]);
    let garbage_at = f.bytes.len();
    f.enhanced(0, 2, 60, &frame(60, 41), &[]);
    f.enhanced(5, 3, 60, &frame(60, 42), &[]); // no interface 5
    f.enhanced(0, 4, 60, &frame(60, 43), &[]);
    // A garbage block length (not a multiple of 4).
    let mut bytes = f.bytes.clone();
    bytes[garbage_at + 4..garbage_at + 8].copy_from_slice(&1_000_001u32.to_le_bytes());
    let c = parse_capture(&bytes).unwrap();
    assert_eq!(c.items.len(), 4, "{:?}", c.items);
    assert!(
        matches!(&c.items[1], Item::Unreadable(u) if u.index == 1 && u.offset == garbage_at
        && u.skipped == Some(12 + 20 + 60))
    );
    assert!(
        matches!(&c.items[2], Item::Unreadable(u) if u.index == 2 && u.why.contains("interface 5"))
    );
    assert!(matches!(&c.items[3], Item::Packet(r) if r.index == 3 && r.data == frame(60, 43)));

    // Lengths that disagree at the two ends of a block.
    let mut bytes = f.bytes.clone();
    bytes[garbage_at + 4] = 0x20; // 32 bytes: its trailer says 92
    let c = parse_capture(&bytes).unwrap();
    assert!(matches!(&c.items[1], Item::Unreadable(u) if u.why.contains("at its end")));
    assert_eq!(c.items.len(), 4);

    // A captured length beyond its block.
    let mut bytes = f.bytes.clone();
    bytes[garbage_at + 20..garbage_at + 24].copy_from_slice(&200u32.to_le_bytes());
    let c = parse_capture(&bytes).unwrap();
    assert!(
        matches!(&c.items[1], Item::Unreadable(u) if u.why.contains("past its block")
            && u.skipped == Some(92))
    );
    assert_eq!(c.items.len(), 4);

    // The file cut inside the last block.
    let c = parse_capture(&f.bytes[..f.bytes.len() - 10]).unwrap();
    assert_eq!(c.items.len(), 4);
    assert!(matches!(&c.items[3], Item::Unreadable(u) if u.skipped.is_none()));
}
