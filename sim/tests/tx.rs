//! The transmit path through the Verilator model of the whole core: frames of every length
//! from a 1-byte runt to the 9600-byte maximum leave the MAC port padded and with a good FCS
//! (checked with the `crc` crate), CRC-32C inserted where asked (`crc::CRC_32_ISCSI`), bad
//! descriptors refused with ERROR events and no DMA read outside registered memory but the
//! deliberately bad one, a loopback through the receive path (FCS good; a frame corrupted on
//! the wire flagged FCS_BAD), and tshark's verdict on every frame's FCS.

mod common;
use common::{device, TestQueue};
use crc::{Crc, CRC_32_ISCSI, CRC_32_ISO_HDLC};
use evnic_proto::rings::{self, Queue};
use evnic_regs::desc::{self, TxDesc};
use evnic_regs::event::{rx_flags, ErrorCode, Event, EventType, TIMESTAMP_BITS};
use evnic_regs::map::filter as fr;
use evnic_regs::map::{global as g, global_reg, vi, vi_reg};
use evnic_sim::{SimDevice, TxFrame};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FCS: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);
const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

fn enable(d: &mut SimDevice) {
    d.write32(global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(1))
        .unwrap();
}

/// A transmit ring of one VI and an arena for its frames, both in this process's memory and
/// mapped for the device (the arena whole, so only deliberately bad addresses fault).
struct TxQ {
    vi: u32,
    log2: u32,
    mem: Box<[u64]>,
    iova: u64,
    /// Next free byte of the arena (after the ring).
    next: usize,
    posted: u32,
}

const ARENA: usize = 4 << 20;

impl TxQ {
    fn new(d: &mut SimDevice, vi: u32, log2: u32) -> TxQ {
        let iova = 0x3_0000_0000u64 + vi as u64 * 0x100_0000;
        let mut mem = vec![0u64; ARENA / 8].into_boxed_slice();
        unsafe {
            d.memory
                .map(iova, mem.as_mut_ptr() as *mut u8, ARENA)
                .unwrap()
        };
        rings::program(d, vi, Queue::Tx, iova, log2).unwrap();
        TxQ {
            vi,
            log2,
            mem,
            iova,
            next: (16usize << log2).max(4096),
            posted: 0,
        }
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the arena is ours; the device reads it only inside `step`, not now.
        unsafe { std::slice::from_raw_parts_mut(self.mem.as_mut_ptr() as *mut u8, ARENA) }
    }

    /// Copies `data` into the arena at byte offset `align` (mod 16); returns its IOVA.
    fn place(&mut self, data: &[u8], align: usize) -> u64 {
        let at = self.next.next_multiple_of(16) + align % 16;
        assert!(at + data.len() <= ARENA, "arena full");
        self.bytes()[at..at + data.len()].copy_from_slice(data);
        self.next = at + data.len();
        self.iova + at as u64
    }

    /// Writes the next descriptor (no doorbell); returns its index.
    fn desc(&mut self, d: &TxDesc) -> u32 {
        assert!(self.posted < 1 << self.log2, "ring full in this test");
        let slot = (self.posted & ((1 << self.log2) - 1)) as usize;
        let [w0, w1] = d.encode();
        self.mem[2 * slot] = w0;
        self.mem[2 * slot + 1] = w1;
        self.posted += 1;
        self.posted - 1
    }

    /// Places `data` and writes its descriptor; returns the descriptor.
    fn frame(&mut self, data: &[u8], align: usize, crc: Option<(u16, u16)>) -> TxDesc {
        let addr = self.place(data, align);
        let mut dsc = TxDesc {
            addr,
            len: data.len() as u16,
            ..Default::default()
        };
        if let Some((off, len)) = crc {
            dsc.flags = desc::TX_FLAG_CRC32C;
            dsc.crc_offset = off;
            dsc.crc_len = len;
        }
        self.desc(&dsc);
        dsc
    }

    fn doorbell(&self, d: &mut SimDevice) {
        rings::post(d, self.vi, Queue::Tx, self.posted).unwrap();
    }
}

/// What the wire must carry: CRC-32C inserted, padded to 60, the FCS appended.
fn expected_wire(data: &[u8], crc: Option<(u16, u16)>) -> Vec<u8> {
    let mut f = data.to_vec();
    if let Some((off, len)) = crc.filter(|c| c.1 != 0) {
        let (s, n) = (off as usize, len as usize);
        let c = CRC32C.checksum(&f[s..s + n]);
        f[s + n..s + n + 4].copy_from_slice(&c.to_le_bytes());
    }
    if f.len() < 60 {
        f.resize(60, 0);
    }
    let fcs = FCS.checksum(&f);
    f.extend_from_slice(&fcs.to_le_bytes());
    f
}

fn fcs_good(f: &[u8]) -> bool {
    f.len() >= 64 && FCS.checksum(&f[..f.len() - 4]).to_le_bytes() == f[f.len() - 4..]
}

/// Runs until `n` TX events (TX_DONE or ERROR) arrived in `q`, returning space as it goes.
fn tx_events(d: &mut SimDevice, q: &mut TestQueue, n: usize) -> Vec<Event> {
    let mut out = vec![];
    for _ in 0..20_000 {
        out.extend(q.poll().into_iter().filter(|e| {
            matches!(
                e.event_type(),
                Some(EventType::TxDone) | Some(EventType::Error)
            )
        }));
        q.doorbell(d);
        if out.len() >= n {
            break;
        }
        d.run(500);
    }
    assert_eq!(out.len(), n, "TX events");
    d.run(200);
    assert!(q.poll().is_empty(), "no extra events");
    out
}

/// The timestamp a TX_DONE must carry for frame `f`: the device's cycle counter (low
/// `TIMESTAMP_BITS`) in the cycle its first beat was taken by the MAC.
fn first_beat_timestamp(d: &SimDevice, f: &TxFrame) -> u64 {
    d.counter_at(f.start) & ((1u64 << TIMESTAMP_BITS) - 1)
}

fn random_bytes(rng: &mut ChaCha8Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.gen()).collect()
}

#[test]
fn runt_to_jumbo_frames_leave_padded_with_a_good_fcs() {
    let mut d = device();
    let mut q = TestQueue::new(&mut d, 2, 8, common::iova(2));
    let mut t = TxQ::new(&mut d, 2, 6);
    enable(&mut d);
    let mut rng = ChaCha8Rng::seed_from_u64(0x7e5);
    let lens = [
        1usize, 2, 7, 8, 9, 15, 16, 17, 33, 59, 60, 61, 63, 64, 65, 100, 127, 128, 500, 1000, 1500,
        1514, 1518, 2000, 4096, 8999, 9000,
    ];
    let lens: Vec<usize> = lens
        .iter()
        .copied()
        .chain([desc::TX_MAX_LEN as usize])
        .collect();
    let mut want = vec![];
    for (i, &n) in lens.iter().enumerate() {
        let data = random_bytes(&mut rng, n);
        t.frame(&data, i * 5, None);
        want.push(expected_wire(&data, None));
    }
    t.doorbell(&mut d);
    let ev = tx_events(&mut d, &mut q, lens.len());
    let frames = d.take_tx_frames();
    assert_eq!(frames.len(), lens.len());
    for (i, ((f, w), e)) in frames.iter().zip(&want).zip(&ev).enumerate() {
        assert_eq!(f.bytes.len(), lens[i].max(60) + 4, "length of frame {i}");
        assert!(fcs_good(&f.bytes), "FCS of frame {i} (len {})", lens[i]);
        assert!(f.bytes == *w, "bytes of frame {i} (len {})", lens[i]);
        assert_eq!(e.event_type(), Some(EventType::TxDone));
        assert_eq!(
            (e.source, e.payload, e.aux, e.group()),
            (2, i as u32, lens[i] as u16, None)
        );
        assert_eq!(
            e.timestamp,
            first_beat_timestamp(&d, f),
            "TX_DONE timestamp of frame {i}: the cycle its first beat left"
        );
    }
    assert_eq!(
        d.read32(vi_reg(2, &vi::TXQ_RPTR)).unwrap(),
        lens.len() as u32
    );
    assert_eq!(d.read32(vi_reg(2, &vi::TXQ_ERRORS)).unwrap(), 0);
    assert!(d.faults().is_empty(), "DMA faults: {:?}", d.faults());
}

#[test]
fn crc32c_is_inserted_as_crc_32_iscsi_over_the_span() {
    let mut d = device();
    let mut q = TestQueue::new(&mut d, 7, 8, common::iova(7));
    let mut t = TxQ::new(&mut d, 7, 6);
    enable(&mut d);
    let mut rng = ChaCha8Rng::seed_from_u64(0xc32c);
    // (length, span offset, span length): RDMA/MPA-like spans after an Ethernet/IP/TCP
    // header, spans starting and ending in every lane, in runts, over a jumbo frame.
    let mut spans: Vec<(usize, u16, u16)> = vec![
        (100, 54, 42),
        (8, 0, 4),
        (30, 0, 26),
        (61, 13, 44),
        (1514, 54, 1456),
        (9000, 54, 8942),
        (64, 7, 9),
        (200, 3, 1),
    ];
    for _ in 0..24 {
        let len = rng.gen_range(5..2000usize);
        let off = rng.gen_range(0..len - 4);
        let n = rng.gen_range(1..=len - 4 - off);
        spans.push((len, off as u16, n as u16));
    }
    let mut sent = vec![];
    for (i, &(len, off, n)) in spans.iter().enumerate() {
        let data = random_bytes(&mut rng, len);
        t.frame(&data, i * 3, Some((off, n)));
        sent.push(data);
    }
    t.doorbell(&mut d);
    let ev = tx_events(&mut d, &mut q, spans.len());
    assert!(ev.iter().all(|e| e.event_type() == Some(EventType::TxDone)));
    let frames = d.take_tx_frames();
    assert_eq!(frames.len(), spans.len());
    for (i, (f, &(len, off, n))) in frames.iter().zip(&spans).enumerate() {
        assert_eq!(
            ev[i].timestamp,
            first_beat_timestamp(&d, f),
            "timestamp {i}"
        );
        let (s, e) = (off as usize, off as usize + n as usize);
        let want = CRC32C.checksum(&sent[i][s..e]).to_le_bytes();
        assert_eq!(f.bytes[e..e + 4], want, "CRC-32C of frame {i}");
        assert_eq!(
            f.bytes[..e],
            sent[i][..e],
            "bytes before the CRC, frame {i}"
        );
        assert_eq!(
            f.bytes[e + 4..len],
            sent[i][e + 4..],
            "bytes after the CRC, frame {i}"
        );
        assert!(fcs_good(&f.bytes), "FCS of frame {i}");
    }
    assert!(d.faults().is_empty(), "DMA faults: {:?}", d.faults());
}

/// Refused descriptors: the length checks refuse before any frame read (no fault at all);
/// a frame at an unregistered address is read (every 16-byte block of it, each refused) and
/// nothing leaves the MAC port; a ring whose descriptors are unregistered faults exactly its
/// descriptor reads. Good frames around them go out.
#[test]
fn bad_descriptors_give_error_events_and_no_stray_reads() {
    let mut d = device();
    let mut q = TestQueue::new(&mut d, 1, 8, common::iova(1));
    let mut t = TxQ::new(&mut d, 1, 5);
    enable(&mut d);
    let mut rng = ChaCha8Rng::seed_from_u64(0xbad);
    let good1 = random_bytes(&mut rng, 100);
    t.frame(&good1, 3, None);
    let base = TxDesc {
        addr: t.iova + 0x8000,
        ..Default::default()
    };
    let bad_len = [
        TxDesc { len: 0, ..base },
        TxDesc {
            len: desc::TX_MAX_LEN as u16 + 1,
            ..base
        },
        // The 4 CRC bytes would end at 21 > 20.
        TxDesc {
            len: 20,
            crc_offset: 10,
            crc_len: 7,
            flags: desc::TX_FLAG_CRC32C,
            ..base
        },
    ];
    for dsc in &bad_len {
        t.desc(dsc);
    }
    t.doorbell(&mut d);
    let ev = tx_events(&mut d, &mut q, 4);
    assert!(
        d.faults().is_empty(),
        "length checks refuse before reading: {:?}",
        d.faults()
    );
    // Now a frame outside registered memory, then a good one.
    const BAD: u64 = 0x7_0000_0000;
    t.desc(&TxDesc {
        addr: BAD + 5,
        len: 100,
        ..Default::default()
    });
    let good2 = random_bytes(&mut rng, 61);
    t.frame(&good2, 0, None);
    t.doorbell(&mut d);
    let ev2 = tx_events(&mut d, &mut q, 2);
    let faults = d.faults().to_vec();
    // Blocks of [BAD + 5, BAD + 105): 7 reads, each refused; nothing else.
    assert_eq!(faults.len(), 7, "{faults:?}");
    for f in &faults {
        assert!(!f.write && (BAD..BAD + 112).contains(&f.addr), "{f:?}");
    }
    // A ring in unregistered memory (VI 9): its two descriptor reads fault.
    let mut q9 = TestQueue::new(&mut d, 9, 4, common::iova(9));
    rings::program(&mut d, 9, Queue::Tx, 0x40_0000, 2).unwrap();
    rings::post(&mut d, 9, Queue::Tx, 2).unwrap();
    let ev9 = tx_events(&mut d, &mut q9, 2);
    let faults9: Vec<_> = d.faults()[faults.len()..].to_vec();
    assert_eq!(faults9.len(), 2, "{faults9:?}");
    assert_eq!(faults9[0].addr, 0x40_0000);
    assert_eq!(faults9[1].addr, 0x40_0010);

    let code = |e: &Event| (e.event_type(), e.payload, e.aux);
    let err = |c: ErrorCode, i: u16| (Some(EventType::Error), c as u32, i);
    assert_eq!(
        code(&ev[0]),
        (Some(EventType::TxDone), 0, good1.len() as u16)
    );
    for (i, e) in ev.iter().enumerate().skip(1) {
        assert_eq!(code(e), err(ErrorCode::TxBadLength, i as u16));
    }
    assert_eq!(code(&ev2[0]), err(ErrorCode::DmaFault, 4));
    assert_eq!(code(&ev2[1]), (Some(EventType::TxDone), 5, 61));
    assert_eq!(code(&ev9[0]), err(ErrorCode::DmaFault, 0));
    assert_eq!(code(&ev9[1]), err(ErrorCode::DmaFault, 1));
    assert!(ev9.iter().all(|e| e.source == 9));
    let frames = d.take_tx_frames();
    assert_eq!(frames.len(), 2, "only the good frames leave");
    assert_eq!(frames[0].bytes, expected_wire(&good1, None));
    assert_eq!(frames[1].bytes, expected_wire(&good2, None));
    assert_eq!(d.read32(vi_reg(1, &vi::TXQ_RPTR)).unwrap(), 6);
    assert_eq!(d.read32(vi_reg(1, &vi::TXQ_ERRORS)).unwrap(), 4);
    assert_eq!(d.read32(vi_reg(9, &vi::TXQ_ERRORS)).unwrap(), 2);
}

/// A receive ring: descriptors and one buffer per slot, mapped for the device.
struct RxQ {
    bufs: Box<[u64]>,
    buf_len: usize,
    size: u32,
}

impl RxQ {
    fn new(d: &mut SimDevice, v: u32, log2: u32, buf_len: usize) -> RxQ {
        let size = 1u32 << log2;
        let base = 0x5_0000_0000u64;
        let mut descs = vec![0u64; size as usize * 2].into_boxed_slice();
        let mut bufs = vec![0u64; size as usize * buf_len / 8].into_boxed_slice();
        let buf_iova = base + 0x10_0000;
        for i in 0..size as usize {
            let [w0, w1] = desc::RxDesc {
                addr: buf_iova + (i * buf_len) as u64,
                len: buf_len as u16,
            }
            .encode();
            descs[2 * i] = w0;
            descs[2 * i + 1] = w1;
        }
        unsafe {
            d.memory
                .map(base, descs.as_mut_ptr() as *mut u8, size as usize * 16)
                .unwrap();
            d.memory
                .map(buf_iova, bufs.as_mut_ptr() as *mut u8, bufs.len() * 8)
                .unwrap();
        }
        // The descriptors are read by the device from here on: keep them alive with the test.
        std::mem::forget(descs);
        rings::program(d, v, Queue::Rx, base, log2).unwrap();
        rings::post(d, v, Queue::Rx, size).unwrap();
        RxQ {
            bufs,
            buf_len,
            size,
        }
    }

    fn data(&self, count: u32, len: usize) -> Vec<u8> {
        let at = (count % self.size) as usize * self.buf_len;
        (at..at + len)
            .map(|i| {
                // SAFETY: reading our own buffer between device steps.
                let w = unsafe { std::ptr::read_volatile(&self.bufs[i / 8]) };
                (w >> ((i % 8) * 8)) as u8
            })
            .collect()
    }
}

/// Destination MAC of the frame the loopback "wire" corrupts.
const CORRUPT_DST: [u8; 6] = [0x02, 0xba, 0xd0, 0xfc, 0x50, 0x00];

// The loopback hook's type: it may also cut or extend a frame.
#[allow(clippy::ptr_arg)]
fn corrupt_marked(f: &mut Vec<u8>) {
    if f[..6] == CORRUPT_DST {
        f[40] ^= 0x08;
    }
}

/// TX wired to RX: every frame sent comes back through the receive path with a good FCS and
/// the same bytes; the frame corrupted on the way is delivered with FCS_BAD (the FCS-drop
/// policy is off).
#[test]
fn loopback_frames_come_back_with_a_good_fcs_and_corruption_is_flagged() {
    let mut d = device();
    let v = 3;
    let mut q = TestQueue::new(&mut d, v, 8, common::iova(v));
    let mut t = TxQ::new(&mut d, v, 5);
    let rx = RxQ::new(&mut d, v, 5, 2048);
    d.write32(
        fr::PAGE.at(0, &fr::DEFAULT_ACTION),
        fr::action_vi(v as u8) as u32,
    )
    .unwrap();
    d.write32(fr::PAGE.at(0, &fr::RX_CONFIG), 0).unwrap();
    enable(&mut d);
    d.run(300);
    d.set_loopback(true);
    d.set_loopback_corrupt(Some(corrupt_marked));
    let mut rng = ChaCha8Rng::seed_from_u64(0x100b);
    let mut sent = vec![];
    for (i, &payload) in [0usize, 18, 100, 500, 1000, 1472, 64, 7].iter().enumerate() {
        let dst = if i == 3 {
            CORRUPT_DST
        } else {
            [2, 0, 0, 0, 0, i as u8]
        };
        let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0xaa], dst)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(4791, 4791);
        let mut f = vec![];
        b.write(&mut f, &random_bytes(&mut rng, payload)).unwrap();
        // One with a CRC-32C over the UDP payload, in the 4 bytes reserved at its end.
        let crc = (i == 4).then(|| (42u16, (f.len() - 46) as u16));
        t.frame(&f, i, crc);
        sent.push(expected_wire(&f, crc));
    }
    t.doorbell(&mut d);
    let mut rx_ev = vec![];
    let mut tx_ev = 0;
    for _ in 0..2000 {
        for e in q.poll() {
            match e.event_type() {
                Some(EventType::Rx) => rx_ev.push(e),
                Some(EventType::TxDone) => tx_ev += 1,
                other => panic!("unexpected event {other:?}: {e:?}"),
            }
        }
        q.doorbell(&mut d);
        if rx_ev.len() == sent.len() {
            break;
        }
        d.run(500);
    }
    assert_eq!((tx_ev, rx_ev.len()), (sent.len(), sent.len()));
    let frames = d.take_tx_frames();
    for (i, (e, w)) in rx_ev.iter().zip(&sent).enumerate() {
        assert_eq!(frames[i].bytes, *w, "frame {i} on the wire");
        assert!(fcs_good(w));
        assert_eq!(e.aux as usize, w.len(), "RX length of frame {i}");
        assert_eq!(e.payload & 0xffff, i as u32, "RX descriptor of frame {i}");
        let bad = e.flags & rx_flags::FCS_BAD != 0;
        assert_eq!(bad, i == 3, "FCS_BAD of frame {i} (flags {:#x})", e.flags);
        let mut got = w.clone();
        corrupt_marked(&mut got);
        assert_eq!(
            rx.data(i as u32, w.len()),
            got,
            "received bytes of frame {i}"
        );
    }
    assert!(d.faults().is_empty(), "DMA faults: {:?}", d.faults());
}

/// Writes frames (FCS included) to a pcap file, linktype Ethernet.
fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let file = std::fs::File::create(path).unwrap();
    let header = PcapHeader {
        snaplen: 65535,
        datalink: pcap_file::DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let ts = std::time::Duration::from_micros(i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .unwrap();
    }
}

/// tshark (an independent dissector) checks every transmitted frame's FCS, runt to jumbo,
/// with and without CRC-32C insertion; a copy of one frame with a flipped bit, appended, must
/// be reported Bad (the check can fail). pcap says nothing about an FCS, and tshark's
/// heuristic finds none behind an unknown ethertype, so it is told: `-o eth.fcs:Always`
/// (with `-o eth.check_fcs:TRUE`); `eth.fcs.status` prints 1 for Good, 0 for Bad (or the
/// names, depending on the version). Skipped, with a message, when tshark is not installed
/// (`make deps` installs it).
#[test]
fn tshark_reports_every_fcs_good() {
    if std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: tshark is not installed (make deps installs it)");
        return;
    }
    let mut d = device();
    let mut q = TestQueue::new(&mut d, 0, 8, common::iova(0));
    let mut t = TxQ::new(&mut d, 0, 6);
    enable(&mut d);
    let mut rng = ChaCha8Rng::seed_from_u64(0x75a4);
    let mut lens = vec![1usize, 14, 59, 60, 61, 64, 1500, 1514, 4000, 9000, 9600];
    for _ in 0..21 {
        lens.push(rng.gen_range(1..3000));
    }
    for (i, &n) in lens.iter().enumerate() {
        let data = random_bytes(&mut rng, n);
        let crc = (n > 20 && i % 2 == 1).then(|| (10u16, (n - 14) as u16));
        t.frame(&data, i, crc);
    }
    t.doorbell(&mut d);
    tx_events(&mut d, &mut q, lens.len());
    let mut frames: Vec<Vec<u8>> = d.take_tx_frames().into_iter().map(|f| f.bytes).collect();
    assert_eq!(frames.len(), lens.len());
    let mut bad = frames[6].clone();
    bad[100] ^= 0x20;
    frames.push(bad);
    let dir = std::env::temp_dir().join(format!("evnic-tx-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tx.pcap");
    write_pcap(&path, &frames);
    let out = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(&path)
        .args([
            "-o",
            "eth.check_fcs:TRUE",
            "-o",
            "eth.fcs:Always",
            "-T",
            "fields",
            "-e",
            "eth.fcs.status",
        ])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(verdicts.len(), frames.len(), "{text}");
    let good = |v: &str| v == "Good" || v == "1";
    for (i, v) in verdicts[..lens.len()].iter().enumerate() {
        assert!(good(v), "frame {i} (len {}): FCS status {v:?}", lens[i]);
    }
    let last = verdicts[lens.len()];
    assert!(last == "Bad" || last == "0", "corrupted copy: {last:?}");
    std::fs::remove_dir_all(&dir).ok();
}
