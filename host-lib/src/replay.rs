//! `evnic replay`: injects the frames of a pcap file into the simulated device (the Verilator
//! model of the RTL, cycle by cycle) and reports what the receive path did with each: its
//! parsed key, flags, the matching filter entry, the action and the VI it reached, or why it
//! was dropped.
//!
//! Every VI gets an event queue and a receive ring of [`RING`] buffers of [`BUF_BYTES`] bytes,
//! reposted as they are used, so the only drops are those the filters and policy decide (and
//! OVERRUN for a frame over 16 KiB). Frames go in one at a time: each frame's outcome is read
//! from the debug port (its verdict) and the receive counters (its delivery).

use crate::filter_spec::{FilterAction, FilterSpec};
use evnic_regs::event::rx_flags;
use evnic_regs::key::{self, KeyBits};
use evnic_regs::map::filter::{self as fr, DropReason};
use evnic_regs::map::{global as g, global_reg, vi, vi_reg};
use evnic_regs::params::NUM_VIS;
use evnic_sim::{SimConfig, SimDevice};
use std::path::Path;

/// Receive descriptors per VI ring.
pub const RING: u32 = 64;
/// Bytes per receive buffer.
pub const BUF_BYTES: usize = 16384;
const EVQ_LOG2: u32 = 10;

/// How to replay.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// Filter entries, entry 0 first (the lowest matching index wins).
    pub filters: Vec<FilterSpec>,
    /// What happens to a frame no entry matches: `Vi(n)` or `Drop`.
    pub default: FilterAction,
    /// The frames of the pcap already end with their FCS (else one is appended).
    pub has_fcs: bool,
    /// Drop frames with a bad FCS (else deliver them flagged).
    pub fcs_drop: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            filters: Vec::new(),
            default: FilterAction::Drop,
            has_fcs: false,
            fcs_drop: true,
        }
    }
}

/// The key fields of a frame, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyView {
    pub dst_mac: u64,
    pub ethertype: u16,
    pub vlan_count: u8,
    pub vlan_outer: u16,
    pub vlan_inner: u16,
    pub ip_version: u8,
    pub ip_proto: u8,
    pub src_ip: u128,
    pub dst_ip: u128,
    pub l4_src: u16,
    pub l4_dst: u16,
    pub oam_level: u8,
    pub oam_opcode: u8,
}

impl KeyView {
    /// Decodes a key as the filter page holds it (13 words, word 0 = bits 31:0).
    pub fn from_words(words: &[u32; 13]) -> KeyView {
        let mut k = KeyBits::default();
        for (i, w) in words.iter().enumerate() {
            k.0[i / 4] |= u128::from(*w) << ((i % 4) * 32);
        }
        KeyView {
            dst_mac: k.get(key::DST_MAC) as u64,
            ethertype: k.get(key::ETHERTYPE) as u16,
            vlan_count: k.get(key::VLAN_COUNT) as u8,
            vlan_outer: k.get(key::VLAN_OUTER) as u16,
            vlan_inner: k.get(key::VLAN_INNER) as u16,
            ip_version: k.get(key::IP_VERSION) as u8,
            ip_proto: k.get(key::IP_PROTO) as u8,
            src_ip: k.get(key::SRC_IP),
            dst_ip: k.get(key::DST_IP),
            l4_src: k.get(key::L4_SRC) as u16,
            l4_dst: k.get(key::L4_DST) as u16,
            oam_level: k.get(key::OAM_LEVEL) as u8,
            oam_opcode: k.get(key::OAM_OPCODE) as u8,
        }
    }

    fn ip(&self, a: u128) -> String {
        match self.ip_version {
            4 => std::net::Ipv4Addr::from(a as u32).to_string(),
            6 => std::net::Ipv6Addr::from(a).to_string(),
            _ => "-".into(),
        }
    }

    fn mac(&self) -> String {
        let b = self.dst_mac.to_be_bytes();
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[2], b[3], b[4], b[5], b[6], b[7]
        )
    }

    /// The key as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "dst_mac": self.mac(),
            "ethertype": self.ethertype,
            "vlan_count": self.vlan_count,
            "vlan_outer": self.vlan_outer,
            "vlan_inner": self.vlan_inner,
            "ip_version": self.ip_version,
            "ip_proto": self.ip_proto,
            "src_ip": self.ip(self.src_ip),
            "dst_ip": self.ip(self.dst_ip),
            "l4_src": self.l4_src,
            "l4_dst": self.l4_dst,
            "oam_level": self.oam_level,
            "oam_opcode": self.oam_opcode,
        })
    }
}

impl std::fmt::Display for KeyView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dst {} type {:#06x}", self.mac(), self.ethertype)?;
        if self.vlan_count > 0 {
            write!(f, " vlan {}", self.vlan_outer)?;
            if self.vlan_count > 1 {
                write!(f, "/{}", self.vlan_inner)?;
            }
        }
        if self.ip_version != 0 {
            write!(
                f,
                " ipv{} {} -> {} proto {}",
                self.ip_version,
                self.ip(self.src_ip),
                self.ip(self.dst_ip),
                self.ip_proto
            )?;
            if matches!(self.ip_proto, 6 | 17 | 1 | 58) {
                write!(f, " l4 {} -> {}", self.l4_src, self.l4_dst)?;
            }
        }
        if self.ethertype == 0x8902 {
            write!(
                f,
                " oam level {} opcode {}",
                self.oam_level, self.oam_opcode
            )?;
        }
        Ok(())
    }
}

/// Where a frame ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An RX event was produced; the data is in this VI's ring (None: not stored).
    Delivered {
        vi: Option<u8>,
        group: Option<u8>,
    },
    Dropped(DropReason),
}

/// The result for one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameReport {
    pub index: usize,
    /// Bytes, FCS included.
    pub len: u16,
    pub key: KeyView,
    pub flags: u8,
    /// The matching filter entry number (ternary `i`, exact `0x8000 | profile << 12 | slot`).
    pub filter: Option<u16>,
    /// The verdict as the filter page's action word (see `evnic_regs::map::filter`).
    pub action: u16,
    pub outcome: Outcome,
}

/// Names of RX flags set in `flags`.
pub fn flag_names(flags: u8) -> Vec<&'static str> {
    [
        (rx_flags::FCS_BAD, "FCS_BAD"),
        (rx_flags::TRUNCATED, "TRUNCATED"),
        (rx_flags::BAD_IPV4, "BAD_IPV4"),
        (rx_flags::RUNT, "RUNT"),
        (rx_flags::OVERSIZE, "OVERSIZE"),
        (rx_flags::MAC_ERROR, "MAC_ERROR"),
        (rx_flags::DROPPED_BEFORE, "DROPPED_BEFORE"),
    ]
    .iter()
    .filter(|(b, _)| flags & b != 0)
    .map(|(_, n)| *n)
    .collect()
}

fn action_text(action: u16) -> String {
    let t = action & fr::ACTION_TARGET_MASK;
    match action >> fr::ACTION_KIND_SHIFT {
        fr::ACTION_KIND_VI => format!("vi {t}"),
        fr::ACTION_KIND_GROUP => format!("group {t}"),
        _ => "drop".into(),
    }
}

impl FrameReport {
    /// One line of text.
    pub fn line(&self) -> String {
        let flags = flag_names(self.flags);
        let filter = self.filter.map_or("none".to_string(), |f| f.to_string());
        let reached = match self.outcome {
            Outcome::Delivered { vi, group } => {
                let mut s = String::from("delivered");
                if let Some(g) = group {
                    s += &format!(" to group {g}");
                }
                match vi {
                    Some(v) => s += &format!(" vi {v}"),
                    None => s += " (data not stored)",
                }
                s
            }
            Outcome::Dropped(r) => format!("dropped ({})", r.name()),
        };
        format!(
            "{:>5}  len {:>5}  {}  flags {}  filter {}  action {}  -> {}",
            self.index,
            self.len,
            self.key,
            if flags.is_empty() {
                "-".into()
            } else {
                flags.join(",")
            },
            filter,
            action_text(self.action),
            reached
        )
    }

    /// One JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        let (outcome, vi, group, reason) = match self.outcome {
            Outcome::Delivered { vi, group } => ("delivered", vi, group, None),
            Outcome::Dropped(r) => ("dropped", None, None, Some(r.name())),
        };
        serde_json::json!({
            "index": self.index,
            "len": self.len,
            "key": self.key.to_json(),
            "flags": flag_names(self.flags),
            "filter": self.filter,
            "action": action_text(self.action),
            "outcome": outcome,
            "vi": vi,
            "group": group,
            "drop_reason": reason,
        })
    }
}

/// Errors of a replay.
#[derive(Debug)]
pub enum ReplayError {
    Pcap(String),
    Sim(evnic_sim::SimError),
    /// The device gave no verdict or outcome for a frame (a bug in the RTL).
    Stuck(usize),
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Pcap(s) => write!(f, "pcap: {s}"),
            ReplayError::Sim(e) => write!(f, "{e}"),
            ReplayError::Stuck(i) => write!(f, "frame {i}: the device gave no outcome"),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<evnic_sim::SimError> for ReplayError {
    fn from(e: evnic_sim::SimError) -> Self {
        ReplayError::Sim(e)
    }
}

/// Reads every packet of a pcap or pcapng file (Ethernet link type).
pub fn read_pcap(path: &Path) -> Result<Vec<Vec<u8>>, ReplayError> {
    let err = |e: &dyn std::fmt::Display| ReplayError::Pcap(format!("{}: {e}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| err(&e))?;
    let mut out = Vec::new();
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        use pcap_file::pcapng::{Block, PcapNgReader};
        let mut reader = PcapNgReader::new(&bytes[..]).map_err(|e| err(&e))?;
        while let Some(b) = reader.next_block() {
            match b.map_err(|e| err(&e))? {
                Block::InterfaceDescription(i) if i.linktype != pcap_file::DataLink::ETHERNET => {
                    return Err(err(&format!("link type {:?}, not Ethernet", i.linktype)));
                }
                Block::EnhancedPacket(p) => out.push(p.data.into_owned()),
                Block::SimplePacket(p) => out.push(p.data.into_owned()),
                _ => {}
            }
        }
        return Ok(out);
    }
    let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).map_err(|e| err(&e))?;
    let link = reader.header().datalink;
    if link != pcap_file::DataLink::ETHERNET {
        return Err(err(&format!("link type {link:?}, not Ethernet")));
    }
    while let Some(p) = reader.next_packet() {
        out.push(p.map_err(|e| err(&e))?.data.into_owned());
    }
    Ok(out)
}

/// The Ethernet FCS (CRC-32) of `data`, least significant byte first.
pub fn fcs(data: &[u8]) -> [u8; 4] {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    (!crc).to_le_bytes()
}

/// The simulated device set up for a replay: filters, default action, a ring and an event
/// queue per VI.
pub struct Replayer {
    dev: SimDevice,
    _evqs: Vec<Box<[u64]>>,
    _descs: Vec<Box<[u64]>>,
    _bufs: Vec<Box<[u64]>>,
    posted: [u32; NUM_VIS as usize],
    evq_read: [u32; NUM_VIS as usize],
    opts: ReplayOptions,
}

impl Replayer {
    pub fn new(opts: ReplayOptions) -> Result<Replayer, ReplayError> {
        if opts.filters.len() > evnic_regs::params::NUM_FILTERS as usize {
            return Err(ReplayError::Pcap(format!(
                "{} filters given; the device has {}",
                opts.filters.len(),
                evnic_regs::params::NUM_FILTERS
            )));
        }
        let mut dev = SimDevice::new(SimConfig::default())?;
        let mut evqs = Vec::new();
        let mut descs = Vec::new();
        let mut bufs = Vec::new();
        for v in 0..NUM_VIS {
            let base = 0x1_0000_0000u64 + u64::from(v) * 0x100_0000;
            let mut evq = vec![0u64; 2 << EVQ_LOG2].into_boxed_slice();
            let mut ring = vec![0u64; 2 * RING as usize].into_boxed_slice();
            let mut buf = vec![0u64; RING as usize * BUF_BYTES / 8].into_boxed_slice();
            for i in 0..RING as usize {
                ring[2 * i] = base + 0x10_0000 + (i * BUF_BYTES) as u64;
                ring[2 * i + 1] = BUF_BYTES as u64;
            }
            // SAFETY: the boxes live in the Replayer, which owns (and drops after) the device.
            unsafe {
                dev.memory
                    .map(base, evq.as_mut_ptr() as *mut u8, 16 << EVQ_LOG2)
                    .map_err(ReplayError::Pcap)?;
                dev.memory
                    .map(
                        base + 0x8_0000,
                        ring.as_mut_ptr() as *mut u8,
                        16 * RING as usize,
                    )
                    .map_err(ReplayError::Pcap)?;
                dev.memory
                    .map(
                        base + 0x10_0000,
                        buf.as_mut_ptr() as *mut u8,
                        RING as usize * BUF_BYTES,
                    )
                    .map_err(ReplayError::Pcap)?;
            }
            dev.write32(vi_reg(v, &vi::EVQ_BASE_LO), base as u32)?;
            dev.write32(vi_reg(v, &vi::EVQ_BASE_HI), (base >> 32) as u32)?;
            dev.write32(vi_reg(v, &vi::EVQ_SIZE), EVQ_LOG2)?;
            let rb = base + 0x8_0000;
            dev.write32(vi_reg(v, &vi::RXQ_BASE_LO), rb as u32)?;
            dev.write32(vi_reg(v, &vi::RXQ_BASE_HI), (rb >> 32) as u32)?;
            dev.write32(vi_reg(v, &vi::RXQ_SIZE), RING.trailing_zeros())?;
            dev.write32(vi_reg(v, &vi::RXQ_WPTR), RING)?;
            evqs.push(evq);
            descs.push(ring);
            bufs.push(buf);
        }
        for (i, f) in opts.filters.iter().enumerate() {
            for w in 0..key::KEY_WORDS {
                dev.write32(fr::PAGE.base + fr::VALUE_BASE + 4 * w, f.value.word(w))?;
                dev.write32(fr::PAGE.base + fr::MASK_BASE + 4 * w, f.mask.word(w))?;
            }
            dev.write32(
                fr::PAGE.at(0, &fr::ENTRY),
                fr::ENTRY_ACTION.put(u32::from(f.action.encode())) | fr::ENTRY_ENABLE.put(1),
            )?;
            // Still busy after the polls: the COMMIT below is refused, a bus error.
            crate::filters::wait_idle(|o| dev.read32(o))?;
            dev.write32(fr::PAGE.at(0, &fr::COMMIT), i as u32)?;
        }
        // The last entry is in use before the first frame.
        crate::filters::wait_idle(|o| dev.read32(o))?;
        dev.write32(
            fr::PAGE.at(0, &fr::DEFAULT_ACTION),
            u32::from(opts.default.encode()),
        )?;
        dev.write32(fr::PAGE.at(0, &fr::RX_CONFIG), opts.fcs_drop as u32)?;
        dev.write32(global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(1))?;
        dev.run(200);
        Ok(Replayer {
            dev,
            _evqs: evqs,
            _descs: descs,
            _bufs: bufs,
            posted: [RING; NUM_VIS as usize],
            evq_read: [0; NUM_VIS as usize],
            opts,
        })
    }

    fn counter(&mut self, r: &evnic_regs::Reg) -> Result<u32, ReplayError> {
        Ok(self.dev.read32(fr::PAGE.at(0, r))?)
    }

    /// Replays one frame (without its FCS unless `has_fcs`).
    pub fn frame(&mut self, index: usize, data: &[u8]) -> Result<FrameReport, ReplayError> {
        let mut bytes = data.to_vec();
        if !self.opts.has_fcs {
            let c = fcs(&bytes);
            bytes.extend_from_slice(&c);
        }
        let delivered = self.counter(&fr::RX_DELIVERED)?;
        let late: Vec<u32> = [DropReason::NoBuffer, DropReason::BadDescriptor]
            .iter()
            .map(|r| self.counter(r.counter()))
            .collect::<Result<_, _>>()?;
        let _ = self.dev.take_verdicts();
        self.dev.inject_frame(bytes.clone(), false);
        let limit = 100_000 + 4 * bytes.len() as u64;
        if !self.dev.run_until(limit, |d| d.rx_backlog() == 0) {
            return Err(ReplayError::Stuck(index));
        }
        self.dev.run(20);
        let v = self
            .dev
            .take_verdicts()
            .pop()
            .ok_or(ReplayError::Stuck(index))?;
        let key = KeyView::from_words(&v.key);
        let kind = v.action >> fr::ACTION_KIND_SHIFT;
        let outcome = if kind == fr::ACTION_KIND_DROP {
            Outcome::Dropped(
                DropReason::from_code((v.action & 7) as u8).ok_or(ReplayError::Stuck(index))?,
            )
        } else {
            // Delivery: wait for the event, or a drop at delivery.
            let mut waited = 0;
            loop {
                self.dev.run(8 + bytes.len() as u64 / 16);
                if self.counter(&fr::RX_DELIVERED)? != delivered {
                    break;
                }
                if self.counter(&fr::DROP_NO_BUFFER)? != late[0] {
                    return self.report(index, &v, key, Outcome::Dropped(DropReason::NoBuffer));
                }
                if self.counter(&fr::DROP_BAD_DESC)? != late[1] {
                    return self.report(
                        index,
                        &v,
                        key,
                        Outcome::Dropped(DropReason::BadDescriptor),
                    );
                }
                waited += 1;
                if waited > 1000 {
                    return Err(ReplayError::Stuck(index));
                }
            }
            let group = (kind == fr::ACTION_KIND_GROUP).then_some(v.action as u8);
            let stored = match kind {
                fr::ACTION_KIND_VI => Some((v.action & 0xf) as u8),
                _ => match self.opts.default {
                    FilterAction::Vi(n) => Some(n & 0xf),
                    _ => None,
                },
            };
            Outcome::Delivered { vi: stored, group }
        };
        if let Outcome::Delivered { vi: Some(r), .. } = outcome {
            self.repost(r)?;
        }
        self.return_events()?;
        self.report(index, &v, key, outcome)
    }

    fn report(
        &self,
        index: usize,
        v: &evnic_sim::FrameVerdict,
        key: KeyView,
        outcome: Outcome,
    ) -> Result<FrameReport, ReplayError> {
        Ok(FrameReport {
            index,
            len: v.len,
            key,
            flags: v.flags,
            filter: v.hit.then_some(v.filter),
            action: v.action,
            outcome,
        })
    }

    /// Gives the used buffer of ring `r` back.
    fn repost(&mut self, r: u8) -> Result<(), ReplayError> {
        let r = usize::from(r);
        self.posted[r] = self.posted[r].wrapping_add(1);
        self.dev
            .write32(vi_reg(r as u32, &vi::RXQ_WPTR), self.posted[r])?;
        Ok(())
    }

    /// Returns every queue's written events to the device (they are not read here).
    fn return_events(&mut self) -> Result<(), ReplayError> {
        for v in 0..NUM_VIS {
            let w = self.dev.read32(vi_reg(v, &vi::EVQ_WPTR))?;
            if w != self.evq_read[v as usize] {
                self.dev.write32(vi_reg(v, &vi::EVQ_RPTR), w)?;
                self.evq_read[v as usize] = w;
            }
        }
        Ok(())
    }

    /// DMA faults seen (none expected).
    pub fn faults(&self) -> usize {
        self.dev.faults().len()
    }
}

/// Replays `frames` in order.
pub fn replay(frames: &[Vec<u8>], opts: ReplayOptions) -> Result<Vec<FrameReport>, ReplayError> {
    let mut r = Replayer::new(opts)?;
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| r.frame(i, f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    use std::time::Duration;

    /// An Ethernet II / IPv4 / UDP frame without FCS (checksum fields computed).
    fn udp(dst: [u8; 4], dport: u16, payload: usize) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = 20 + 8 + payload;
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ];
        ip.extend_from_slice(&[192, 168, 1, 1]);
        ip.extend_from_slice(&dst);
        let sum: u32 = ip
            .chunks(2)
            .map(|w| u32::from(w[0]) << 8 | u32::from(w[1]))
            .sum();
        let sum = (sum & 0xffff) + (sum >> 16);
        let c = !(sum as u16);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&1234u16.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend((0..payload).map(|i| i as u8));
        f
    }

    fn oam() -> Vec<u8> {
        let mut f = vec![
            1,
            0x80,
            0xc2,
            0,
            0,
            0x30,
            2,
            0,
            0,
            0,
            0,
            9,
            0x89,
            0x02,
            5 << 5,
            47,
            0,
            4,
        ];
        f.resize(60, 0);
        f
    }

    #[test]
    fn a_pcap_written_with_pcap_file_replays_with_filters() {
        let frames = vec![
            udp([10, 0, 0, 1], 319, 30),
            oam(),
            udp([10, 9, 9, 9], 5, 30),
            udp([192, 168, 7, 7], 5, 30),
            vec![2, 0, 0, 0, 0, 2, 2, 0],
        ];
        let dir = std::env::temp_dir().join(format!("evnic-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pcap");
        {
            let file = std::fs::File::create(&path).unwrap();
            let mut w = PcapWriter::with_header(file, PcapHeader::default()).unwrap();
            for (i, f) in frames.iter().enumerate() {
                w.write_packet(&PcapPacket::new(
                    Duration::from_micros(i as u64),
                    f.len() as u32,
                    f,
                ))
                .unwrap();
            }
        }
        let read = read_pcap(&path).unwrap();
        assert_eq!(read, frames);
        let opts = ReplayOptions {
            filters: [
                "udp dst 319 -> vi 2",
                "ethertype 0x8902 -> group 5",
                "ipv4 dst 10.0.0.0/8 -> drop",
            ]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect(),
            default: FilterAction::Vi(1),
            ..Default::default()
        };
        let r = replay(&read, opts).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(r.len(), 5);
        assert_eq!(r[0].filter, Some(0));
        assert_eq!(
            r[0].outcome,
            Outcome::Delivered {
                vi: Some(2),
                group: None
            }
        );
        assert_eq!(r[0].key.l4_dst, 319);
        assert_eq!(r[0].len as usize, frames[0].len() + 4);
        assert_eq!(r[1].filter, Some(1));
        assert_eq!(
            r[1].outcome,
            Outcome::Delivered {
                vi: Some(1),
                group: Some(5)
            }
        );
        assert_eq!((r[1].key.oam_level, r[1].key.oam_opcode), (5, 47));
        assert_eq!(r[2].outcome, Outcome::Dropped(DropReason::Filter));
        assert_eq!(r[3].filter, None);
        assert_eq!(
            r[3].outcome,
            Outcome::Delivered {
                vi: Some(1),
                group: None
            }
        );
        assert_ne!(r[4].flags & rx_flags::RUNT, 0);
        assert_ne!(r[4].flags & rx_flags::TRUNCATED, 0);
        let j = r[2].to_json();
        assert_eq!(j["outcome"], "dropped");
        assert_eq!(j["drop_reason"], "filter");
        assert_eq!(j["key"]["dst_ip"], "10.9.9.9");
        assert!(r[0].line().contains("-> delivered vi 2"), "{}", r[0].line());
    }
}
