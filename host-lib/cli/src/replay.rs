//! `evnic replay`: injects the frames of a capture (pcap or pcapng, read by [`crate::capture`])
//! into the simulated device (the Verilator model of the RTL, through the library) and reports
//! what the receive path did with each: its parsed key, flags, the matching filter entry, the
//! action and the VI it reached, or why it was dropped. Every packet record of the capture gets
//! exactly one report ([`RecordReport`]), in order, whatever is wrong with it:
//!
//! - A record the capture cut (original length above the captured length) enters the device as
//!   its captured bytes with an FCS computed over them (its own FCS, if it had one, was cut
//!   away) and is reported TRUNCATED, whatever the parser found in the bytes present.
//! - The FCS: a capture that says whether its frames end with an FCS (the pcap link-type word's
//!   FCS bits, pcapng `if_fcslen` or `epb_flags`) is followed; otherwise
//!   [`ReplayOptions::has_fcs`] says. A frame without one gets one appended.
//! - A record said to end with an FCS but shorter than one (0 to 3 bytes) is noted and its bytes
//!   enter the device as they are, except a record of 0 bytes: the MAC receive port carries a
//!   frame as beats of 1 to 8 bytes, the last one marked, so a frame of no bytes cannot be
//!   presented at all (the simulator drops it unseen, and nothing would come out): it is
//!   reported as not replayed.
//! - A record that could not be read, or of a link type other than Ethernet, is reported as not
//!   replayed, with why.
//!
//! Every VI a filter or the default action names gets an endpoint with a receive ring of
//! [`RING`] buffers of [`BUF_BYTES`] bytes, reposted as they are used, so the only drops are
//! those the filters and policy decide (and OVERRUN for a frame over 16 KiB). Frames go in one
//! at a time: each frame's outcome is read from the debug port (its verdict) and the receive
//! counters (its delivery).

use crate::capture::{Capture, CaptureError, Item, Note, Record, Timestamp, LINKTYPE_ETHERNET};
use evnic::backend::sim::{FrameVerdict, SimBackend};
use evnic::{
    DeviceSpec, Endpoint, EndpointConfig, FilterAction, FilterHandle, FilterSpec, Group, Nic,
    Receiver, Vi,
};
use evnic_regs::event::rx_flags;
use evnic_regs::key::{self, KeyBits};
use evnic_regs::map::filter::{self as fr, DropReason};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Receive descriptors per VI ring.
pub const RING: u32 = 64;
/// Bytes per receive buffer.
pub const BUF_BYTES: usize = 16384;
const EVQ_EVENTS: u32 = 1024;

/// How to replay.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// Filter entries, entry 0 first (the lowest matching index wins).
    pub filters: Vec<FilterSpec>,
    /// What happens to a frame no entry matches: `Vi(n)` or `Drop`.
    pub default: FilterAction,
    /// The frames of a capture that does not say whether they end with their FCS do (else one
    /// is appended).
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

/// The key fields of a frame, decoded (see `evnic_regs::key` for each field).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
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
    /// The top MPLS label (its bits are the OAM fields': one of the two means something, by
    /// the ethertype).
    pub mpls_label: u32,
}

impl KeyView {
    /// Decodes a key as the filter page holds it (word 0 = bits 31:0).
    pub fn from_words(words: &[u32]) -> KeyView {
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
            mpls_label: k.get(key::MPLS_LABEL) as u32,
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
            "mpls_label": self.mpls_label,
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
        if matches!(self.ethertype, 0x8847 | 0x8848) {
            write!(f, " mpls {}", self.mpls_label)?;
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
    /// An RX event was produced.
    Delivered {
        /// The VI whose ring holds the data (None: not stored).
        vi: Option<u32>,
        /// The group the event was multicast to.
        group: Option<u32>,
    },
    /// Dropped, and why.
    Dropped(DropReason),
}

/// The result for one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameReport {
    /// The frame's index in the capture.
    pub index: usize,
    /// Bytes, FCS included.
    pub len: u16,
    /// Its parsed key.
    pub key: KeyView,
    /// Its RX flags (with TRUNCATED added when the capture cut the frame).
    pub flags: u8,
    /// The matching filter entry's number (`evnic_regs::map::filter::EntryIndex`).
    pub filter: Option<u32>,
    /// The verdict as the filter page's action word (see `evnic_regs::map::filter`).
    pub action: u16,
    /// Where it ended.
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
    /// The file is not a capture.
    Capture(CaptureError),
    /// The device or the library refused.
    Device(evnic::Error),
    /// More filters than the device has entries.
    TooManyFilters {
        /// Filters given.
        given: usize,
        /// Entries of the device.
        entries: u32,
    },
    /// The device gave no verdict or outcome for a frame (a bug in the RTL).
    Stuck(usize),
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Capture(e) => write!(f, "capture: {e}"),
            ReplayError::Device(e) => write!(f, "{e}"),
            ReplayError::TooManyFilters { given, entries } => {
                write!(f, "{given} filters given; the device has {entries} entries")
            }
            ReplayError::Stuck(i) => write!(f, "frame {i}: the device gave no outcome"),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<evnic::Error> for ReplayError {
    fn from(e: evnic::Error) -> Self {
        ReplayError::Device(e)
    }
}

/// Bytes of an Ethernet FCS.
const FCS_BYTES: usize = evnic_proto::fcs::FCS_BYTES;

/// Something about a record the replay reports beside the device's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayNote {
    /// What the reader noted.
    Capture(Note),
    /// The capture cut the frame: `captured` of `original` bytes.
    Cut {
        /// Bytes captured.
        captured: usize,
        /// Its length on the wire.
        original: u32,
    },
    /// The capture says whether its frames end with an FCS, and that was followed.
    FcsFromCapture {
        /// The FCS length it gives.
        bytes: u8,
    },
    /// Said to end with an FCS, the record is shorter than one.
    ShorterThanFcs {
        /// Its length.
        bytes: usize,
    },
}

impl ReplayNote {
    /// A short machine-readable name.
    pub fn code(&self) -> &'static str {
        match self {
            ReplayNote::Capture(n) => n.code(),
            ReplayNote::Cut { .. } => "cut",
            ReplayNote::FcsFromCapture { .. } => "fcs_from_capture",
            ReplayNote::ShorterThanFcs { .. } => "shorter_than_fcs",
        }
    }
}

impl std::fmt::Display for ReplayNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayNote::Capture(n) => write!(f, "{n}"),
            ReplayNote::Cut { captured, original } => write!(
                f,
                "cut by the capture: {captured} of {original} bytes, replayed with an FCS over them"
            ),
            ReplayNote::FcsFromCapture { bytes: 0 } => {
                write!(f, "the capture says its frames carry no FCS")
            }
            ReplayNote::FcsFromCapture { bytes } => {
                write!(f, "the capture says its frames end with a {bytes}-byte FCS")
            }
            ReplayNote::ShorterThanFcs { bytes } => {
                write!(f, "{bytes} bytes: shorter than the FCS it should end with")
            }
        }
    }
}

/// Why a record did not enter the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotReplayed {
    /// It could not be read.
    Unreadable(crate::capture::Unreadable),
    /// Its link type is not Ethernet.
    LinkType(u16),
    /// It has no bytes (and was said to carry its FCS): no frame to present to the MAC port.
    Empty,
}

impl NotReplayed {
    /// A short machine-readable name.
    pub fn code(&self) -> &'static str {
        match self {
            NotReplayed::Unreadable(_) => "unreadable",
            NotReplayed::LinkType(_) => "not_ethernet",
            NotReplayed::Empty => "empty",
        }
    }
}

impl std::fmt::Display for NotReplayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReplayed::Unreadable(u) => write!(f, "unreadable: {u}"),
            NotReplayed::LinkType(t) => {
                write!(f, "link type {t}, not Ethernet ({LINKTYPE_ETHERNET})")
            }
            NotReplayed::Empty => write!(
                f,
                "0 bytes: a frame of no bytes cannot be presented to the MAC receive port"
            ),
        }
    }
}

/// A capture record as it enters the MAC receive port: its bytes, FCS included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFrame {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The record was cut by the capture (reported TRUNCATED).
    pub cut: bool,
    /// What the replay notes about it.
    pub notes: Vec<ReplayNote>,
}

/// The frame a record puts on the wire, FCS included (see the module's documentation);
/// `has_fcs` applies when the capture does not say.
pub fn wire_frame(rec: &Record, has_fcs: bool) -> Result<WireFrame, NotReplayed> {
    let mut notes: Vec<ReplayNote> = rec.notes.iter().copied().map(ReplayNote::Capture).collect();
    if rec.link_type != LINKTYPE_ETHERNET {
        return Err(NotReplayed::LinkType(rec.link_type));
    }
    let fcs = match rec.fcs_len {
        Some(n) => {
            notes.push(ReplayNote::FcsFromCapture { bytes: n });
            usize::from(n)
        }
        None if has_fcs => FCS_BYTES,
        None => 0,
    };
    let data = &rec.data;
    let (bytes, cut) = if rec.is_cut() {
        notes.push(ReplayNote::Cut {
            captured: data.len(),
            original: rec.original_len,
        });
        // The FCS was at the end the capture cut off: what is left of it is dropped.
        let keep = data
            .len()
            .min((rec.original_len as usize).saturating_sub(fcs));
        (evnic_proto::fcs::with_fcs(data[..keep].to_vec()), true)
    } else if fcs == 0 {
        (evnic_proto::fcs::with_fcs(data.clone()), false)
    } else if data.len() < fcs {
        notes.push(ReplayNote::ShorterThanFcs { bytes: data.len() });
        if data.is_empty() {
            return Err(NotReplayed::Empty);
        }
        (data.clone(), false)
    } else if fcs == FCS_BYTES {
        (data.clone(), false)
    } else {
        // An FCS of another length than Ethernet's: replaced by an Ethernet FCS.
        (
            evnic_proto::fcs::with_fcs(data[..data.len() - fcs].to_vec()),
            false,
        )
    };
    Ok(WireFrame { bytes, cut, notes })
}

/// What the replay made of one capture record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordReport {
    /// Its position among the capture's packet records.
    pub index: usize,
    /// The record, when it could be read: capture time, bytes captured, original length and
    /// interface.
    pub capture: Option<RecordInfo>,
    /// What the replay notes about it.
    pub notes: Vec<ReplayNote>,
    /// The device's answer, or why the record did not enter the device.
    pub result: Result<FrameReport, NotReplayed>,
}

/// The capture's facts about a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordInfo {
    /// When it was captured (None: the format gives no time).
    pub time: Option<Timestamp>,
    /// Bytes captured.
    pub captured: usize,
    /// Its length on the wire.
    pub original_len: u32,
    /// The interface it was captured on.
    pub interface: u32,
}

impl RecordReport {
    /// One line of text.
    pub fn line(&self) -> String {
        let mut s = match &self.result {
            Ok(r) => r.line(),
            Err(why) => format!("{:>5}  not replayed: {why}", self.index),
        };
        if !self.notes.is_empty() {
            let notes: Vec<String> = self.notes.iter().map(|n| n.to_string()).collect();
            s += &format!("  [{}]", notes.join("; "));
        }
        s
    }

    /// One JSON object: the frame report's fields, or `"outcome": "not_replayed"` with a
    /// `reason`, and the capture's `time`, `captured`, `original_len`, `interface` and `notes`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut j = match &self.result {
            Ok(r) => r.to_json(),
            Err(why) => serde_json::json!({
                "index": self.index,
                "outcome": "not_replayed",
                "not_replayed": why.code(),
                "reason": why.to_string(),
            }),
        };
        let o = j.as_object_mut().expect("an object");
        if let Some(c) = &self.capture {
            o.insert("time".into(), c.time.map(|t| t.to_string()).into());
            o.insert("captured".into(), c.captured.into());
            o.insert("original_len".into(), c.original_len.into());
            o.insert("interface".into(), c.interface.into());
        }
        let codes: Vec<&str> = self.notes.iter().map(|n| n.code()).collect();
        o.insert("notes".into(), codes.into());
        j
    }
}

/// Counts of a replay's records, by what happened to them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records in the capture.
    pub records: usize,
    /// Records that entered the device.
    pub replayed: usize,
    /// Of those, cut by the capture.
    pub cut: usize,
    /// Said to end with an FCS and shorter than one (replayed or not).
    pub shorter_than_fcs: usize,
    /// Not readable.
    pub unreadable: usize,
    /// Not Ethernet.
    pub not_ethernet: usize,
    /// Of 0 bytes, said to carry an FCS: not replayed.
    pub empty: usize,
}

impl Tally {
    /// Counts one report.
    pub fn add(&mut self, r: &RecordReport) {
        self.records += 1;
        match &r.result {
            Ok(_) => self.replayed += 1,
            Err(NotReplayed::Unreadable(_)) => self.unreadable += 1,
            Err(NotReplayed::LinkType(_)) => self.not_ethernet += 1,
            Err(NotReplayed::Empty) => self.empty += 1,
        }
        for n in &r.notes {
            match n {
                ReplayNote::Cut { .. } => self.cut += 1,
                ReplayNote::ShorterThanFcs { .. } => self.shorter_than_fcs += 1,
                _ => {}
            }
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records: {} replayed ({} cut by the capture, reported TRUNCATED), {} shorter than \
             their FCS, {} not replayed ({} unreadable, {} not Ethernet, {} empty)",
            self.records,
            self.replayed,
            self.cut,
            self.shorter_than_fcs,
            self.records - self.replayed,
            self.unreadable,
            self.not_ethernet,
            self.empty
        )
    }
}

/// The simulated device set up for a replay: filters, default action, and an endpoint with a
/// receive ring on every VI a filter or the default action names.
pub struct Replayer {
    /// Per VI: the endpoint and its receive ring.
    endpoints: BTreeMap<u32, (Endpoint, Receiver)>,
    _filters: Vec<FilterHandle>,
    nic: Nic,
    opts: ReplayOptions,
}

/// Cycles a frame may take through the device before it counts as stuck.
fn patience(len: usize) -> u64 {
    100_000 + 4 * len as u64
}

impl Replayer {
    /// Opens the simulated device and programs it.
    pub fn new(opts: ReplayOptions) -> Result<Replayer, ReplayError> {
        let nic = Nic::open(DeviceSpec::Sim)?;
        if opts.filters.len() > nic.filter_count() as usize {
            return Err(ReplayError::TooManyFilters {
                given: opts.filters.len(),
                entries: nic.filter_count(),
            });
        }
        let mut vis = BTreeSet::new();
        let mut groups = BTreeSet::new();
        for a in opts.filters.iter().map(|f| f.action).chain([opts.default]) {
            match a {
                FilterAction::Vi(v) => {
                    vis.insert(v.0);
                }
                FilterAction::Group(g) => {
                    groups.insert(g.0);
                }
                FilterAction::Drop => {}
            }
        }
        let mut endpoints = BTreeMap::new();
        for v in vis {
            let ep = nic.endpoint_on(
                Vi(v),
                EndpointConfig::default()
                    .with_ring_events(EVQ_EVENTS)
                    .with_spin(Duration::ZERO),
            )?;
            let rx = ep.receiver(RING.trailing_zeros(), BUF_BYTES as u16)?;
            endpoints.insert(v, (ep, rx));
        }
        // The default VI's ring stores the data of frames multicast to a group: its endpoint
        // listens to those groups, to see their events and repost the buffers.
        if let FilterAction::Vi(d) = opts.default {
            let (ep, _) = &endpoints[&d.0];
            for g in &groups {
                ep.subscribe(Group(*g))?;
            }
        }
        let mut filters = Vec::new();
        for (i, f) in opts.filters.iter().enumerate() {
            filters.push(nic.add_filter_at(i as u32, f.clone())?);
        }
        nic.set_default_action(opts.default)?;
        nic.set_fcs_drop(opts.fcs_drop)?;
        nic.set_enabled(true)?;
        let r = Replayer {
            endpoints,
            _filters: filters,
            nic,
            opts,
        };
        Ok(r)
    }

    fn sim(&self) -> &SimBackend {
        self.nic
            .sim()
            .expect("the replay runs on the simulated device")
    }

    /// Replays one frame (without its FCS unless `has_fcs`).
    pub fn frame(&mut self, index: usize, data: &[u8]) -> Result<FrameReport, ReplayError> {
        let mut bytes = data.to_vec();
        if !self.opts.has_fcs {
            bytes = evnic_proto::fcs::with_fcs(bytes);
        }
        self.wire(index, bytes)
    }

    /// Presents `bytes` (FCS included, at least one byte) to the MAC receive port and waits for
    /// the frame's outcome.
    fn wire(&mut self, index: usize, bytes: Vec<u8>) -> Result<FrameReport, ReplayError> {
        let before = self.nic.rx_counters()?;
        let _ = self.sim().take_verdicts();
        let len = bytes.len();
        self.sim().inject(bytes, false)?;
        let deadline = self.nic.cycles()? + patience(len);
        let v = loop {
            if let Some(v) = self.sim().take_verdicts().pop() {
                break v;
            }
            if self.nic.cycles()? > deadline {
                return Err(ReplayError::Stuck(index));
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        let key = KeyView::from_words(&v.key);
        let kind = v.action >> fr::ACTION_KIND_SHIFT;
        let outcome = if kind == fr::ACTION_KIND_DROP {
            Outcome::Dropped(
                DropReason::from_code((v.action & 7) as u8).ok_or(ReplayError::Stuck(index))?,
            )
        } else {
            // Delivery: wait for it to be counted, as delivered or as a drop at delivery.
            let late = [DropReason::NoBuffer, DropReason::BadDescriptor];
            let deadline = self.nic.cycles()? + patience(len);
            loop {
                let now = self.nic.rx_counters()?;
                if now.delivered != before.delivered {
                    break;
                }
                if let Some(r) = late
                    .into_iter()
                    .find(|r| now.dropped(*r) != before.dropped(*r))
                {
                    return Ok(self.report(index, &v, key, Outcome::Dropped(r)));
                }
                if self.nic.cycles()? > deadline {
                    return Err(ReplayError::Stuck(index));
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            let target = u32::from(v.action & fr::ACTION_TARGET_MASK);
            let group = (kind == fr::ACTION_KIND_GROUP).then_some(target);
            let stored = match kind {
                fr::ACTION_KIND_VI => Some(target % self.nic.params().vis),
                _ => match self.opts.default {
                    FilterAction::Vi(n) => Some(n.0),
                    _ => None,
                },
            };
            Outcome::Delivered { vi: stored, group }
        };
        if let Outcome::Delivered { vi: Some(r), .. } = outcome {
            self.take_frame(index, r)?;
        }
        self.drain_events();
        Ok(self.report(index, &v, key, outcome))
    }

    /// Replays one capture record (see the module's documentation).
    pub fn record(&mut self, item: &Item) -> Result<RecordReport, ReplayError> {
        let rec = match item {
            Item::Packet(r) => r,
            Item::Unreadable(u) => {
                return Ok(RecordReport {
                    index: u.index,
                    capture: None,
                    notes: Vec::new(),
                    result: Err(NotReplayed::Unreadable(u.clone())),
                })
            }
        };
        let capture = Some(RecordInfo {
            time: rec.time,
            captured: rec.data.len(),
            original_len: rec.original_len,
            interface: rec.interface,
        });
        let wire = match wire_frame(rec, self.opts.has_fcs) {
            Ok(w) => w,
            Err(why) => {
                let mut notes: Vec<ReplayNote> =
                    rec.notes.iter().copied().map(ReplayNote::Capture).collect();
                if why == NotReplayed::Empty {
                    notes.push(ReplayNote::ShorterThanFcs { bytes: 0 });
                }
                return Ok(RecordReport {
                    index: rec.index,
                    capture,
                    notes,
                    result: Err(why),
                });
            }
        };
        let mut report = self.wire(rec.index, wire.bytes)?;
        if wire.cut {
            report.flags |= rx_flags::TRUNCATED;
        }
        Ok(RecordReport {
            index: rec.index,
            capture,
            notes: wire.notes,
            result: Ok(report),
        })
    }

    /// Takes the frame's RX event from VI `r`'s queue and its buffer from the ring (which
    /// reposts it).
    fn take_frame(&mut self, index: usize, r: u32) -> Result<(), ReplayError> {
        let Some((ep, rx)) = self.endpoints.get_mut(&r) else {
            return Ok(());
        };
        let deadline = self.nic.cycles()? + patience(BUF_BYTES);
        loop {
            while let Some(ev) = ep.poll() {
                if rx.take(&ev).is_some() {
                    return Ok(());
                }
            }
            if self.nic.cycles()? > deadline {
                return Err(ReplayError::Stuck(index));
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    /// Takes every event of every queue (they are not reported), returning their space.
    fn drain_events(&mut self) {
        for (ep, rx) in self.endpoints.values_mut() {
            while let Some(ev) = ep.poll() {
                rx.take(&ev);
            }
        }
    }

    fn report(
        &self,
        index: usize,
        v: &FrameVerdict,
        key: KeyView,
        outcome: Outcome,
    ) -> FrameReport {
        FrameReport {
            index,
            len: v.len,
            key,
            flags: v.flags,
            filter: v.hit.then_some(u32::from(v.filter)),
            action: v.action,
            outcome,
        }
    }

    /// DMA accesses the model refused (none expected).
    pub fn faults(&self) -> u64 {
        self.sim().fault_count()
    }
}

/// Replays every record of a capture in order.
pub fn replay(capture: &Capture, opts: ReplayOptions) -> Result<Vec<RecordReport>, ReplayError> {
    let mut r = Replayer::new(opts)?;
    capture.items.iter().map(|i| r.record(i)).collect()
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
    fn a_pcap_written_by_pcap_file_replays_with_filters() {
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
        let capture = crate::capture::read_capture(&path).unwrap();
        let read: Vec<Vec<u8>> = capture.records().map(|r| r.data.clone()).collect();
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
            default: FilterAction::Vi(Vi(1)),
            ..Default::default()
        };
        let reports = replay(&capture, opts).unwrap();
        let r: Vec<&FrameReport> = reports.iter().map(|r| r.result.as_ref().unwrap()).collect();
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

#[cfg(test)]
mod record_tests {
    use super::*;
    use crate::capture::Unreadable;

    fn rec(data: Vec<u8>, original_len: u32, fcs_len: Option<u8>) -> Record {
        Record {
            index: 3,
            time: None,
            data,
            original_len,
            interface: 0,
            link_type: LINKTYPE_ETHERNET,
            fcs_len,
            notes: Vec::new(),
        }
    }

    fn frame(n: usize) -> Vec<u8> {
        (0..n).map(|i| i as u8).collect()
    }

    #[test]
    fn the_wire_frame_of_a_record() {
        let fcs = |b: &[u8]| evnic_proto::fcs::with_fcs(b.to_vec());
        // Without an FCS: one is appended.
        let w = wire_frame(&rec(frame(60), 60, None), false).unwrap();
        assert_eq!((w.bytes, w.cut, w.notes), (fcs(&frame(60)), false, vec![]));
        // With one: taken as it is.
        let w = wire_frame(&rec(frame(64), 64, None), true).unwrap();
        assert_eq!(w.bytes, frame(64));
        // The capture's word wins over the option, both ways.
        let w = wire_frame(&rec(frame(64), 64, Some(4)), false).unwrap();
        assert_eq!(w.bytes, frame(64));
        assert_eq!(w.notes, [ReplayNote::FcsFromCapture { bytes: 4 }]);
        let w = wire_frame(&rec(frame(64), 64, Some(0)), true).unwrap();
        assert_eq!(w.bytes, fcs(&frame(64)));
        // An FCS of 2 bytes is replaced by Ethernet's.
        let w = wire_frame(&rec(frame(64), 64, Some(2)), false).unwrap();
        assert_eq!(w.bytes, fcs(&frame(62)));
        // Cut: the bytes present get an FCS, whatever the capture says of its FCS.
        for has in [false, true] {
            let w = wire_frame(&rec(frame(96), 1514, None), has).unwrap();
            assert_eq!(w.bytes, fcs(&frame(96)));
            assert!(w.cut);
            assert_eq!(
                w.notes,
                [ReplayNote::Cut {
                    captured: 96,
                    original: 1514
                }]
            );
        }
        // Cut inside the FCS: what was captured of it is dropped.
        let w = wire_frame(&rec(frame(62), 64, None), true).unwrap();
        assert_eq!(w.bytes, fcs(&frame(60)));
        // Shorter than an FCS: as it is, noted; empty: not replayed.
        for n in 1..4 {
            let w = wire_frame(&rec(frame(n), n as u32, None), true).unwrap();
            assert_eq!(w.bytes, frame(n));
            assert_eq!(w.notes, [ReplayNote::ShorterThanFcs { bytes: n }]);
        }
        assert_eq!(
            wire_frame(&rec(vec![], 0, None), true),
            Err(NotReplayed::Empty)
        );
        assert_eq!(
            wire_frame(&rec(vec![], 0, None), false)
                .unwrap()
                .bytes
                .len(),
            4
        );
        let mut sll = rec(frame(60), 60, None);
        sll.link_type = 113;
        assert_eq!(wire_frame(&sll, false), Err(NotReplayed::LinkType(113)));
    }

    /// Records said to carry an FCS, of 0 to 4 bytes, then a good frame: each gets one report,
    /// the ones the device can see get the device's answer, and the run goes on.
    #[test]
    fn records_shorter_than_an_fcs_each_get_a_report() {
        let mut items: Vec<Item> = (0..5)
            .map(|n| {
                let mut r = rec(vec![0x55; n], n as u32, None);
                r.index = n;
                Item::Packet(r)
            })
            .collect();
        // A UDP frame with its FCS.
        let mut good = rec(crate::demo::stream_frame(0), 110, None);
        good.index = 5;
        items.push(Item::Packet(good));
        items.push(Item::Unreadable(Unreadable {
            index: 6,
            offset: 1000,
            why: "garbage".into(),
            skipped: None,
        }));
        let capture = Capture {
            format: crate::capture::Format::PcapNg,
            items,
        };
        let opts = ReplayOptions {
            default: FilterAction::Vi(Vi(1)),
            has_fcs: true,
            ..Default::default()
        };
        let r = replay(&capture, opts).unwrap();
        assert_eq!(r.len(), 7);
        assert_eq!(r[0].result, Err(NotReplayed::Empty));
        assert_eq!(r[0].notes, [ReplayNote::ShorterThanFcs { bytes: 0 }]);
        // 4 bytes of 0x55 are not the FCS of no bytes.
        for (n, rep) in r.iter().enumerate().take(5).skip(1) {
            let f = rep.result.as_ref().unwrap();
            assert_eq!(usize::from(f.len), n);
            assert_eq!(
                f.flags,
                rx_flags::RUNT | rx_flags::TRUNCATED | rx_flags::FCS_BAD,
                "{n} bytes"
            );
            assert_eq!(f.outcome, Outcome::Dropped(DropReason::FcsBad));
            let short = [ReplayNote::ShorterThanFcs { bytes: n }];
            assert_eq!(rep.notes, if n < 4 { &short[..] } else { &[] });
        }
        let f = r[5].result.as_ref().unwrap();
        assert_eq!(f.flags, 0);
        assert_eq!(
            f.outcome,
            Outcome::Delivered {
                vi: Some(1),
                group: None
            }
        );
        assert!(matches!(r[6].result, Err(NotReplayed::Unreadable(_))));
        let mut t = Tally::default();
        r.iter().for_each(|x| t.add(x));
        assert_eq!(
            t,
            Tally {
                records: 7,
                replayed: 5,
                cut: 0,
                shorter_than_fcs: 4,
                unreadable: 1,
                not_ethernet: 0,
                empty: 1
            }
        );
    }
}
