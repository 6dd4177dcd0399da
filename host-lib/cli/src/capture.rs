//! Capture files in: pcap (either byte order, microsecond or nanosecond timestamps) and pcapng
//! (section, interface, enhanced, simple and the obsolete packet blocks; each interface with its
//! own link type, timestamp resolution and FCS length), read as leniently as tshark reads them.
//!
//! Every packet record becomes one [`Item`], in file order, so a tool can give one answer per
//! frame:
//!
//! - [`Item::Packet`]: a record that could be read, with what is odd about it in
//!   [`Record::notes`]: a captured length above the snapshot length or above the original
//!   length (the captured bytes are taken), a timestamp fraction of a whole second or more
//!   (carried into the seconds). A record whose original length is above its captured length
//!   was cut by the capture ([`Record::is_cut`]): every `tcpdump -s N` capture has them.
//! - [`Item::Unreadable`]: a record that cannot be read: the file ends inside it, its length
//!   field is garbage (a captured length above [`MAX_CAPTURED`], a pcapng block length that
//!   does not hold together), or it names an interface the section never described. Reading
//!   goes on after it where the format allows finding the next record (see [`resync`](self)).
//!
//! Blocks other than packets and interfaces, and options the reader does not know, are skipped.
//!
//! The FCS: a pcap header's link-type word may say that every frame ends with an FCS of N bytes
//! (its bit 26 set, N/2 in bits 31:28); a pcapng interface says it with `if_fcslen` and a packet
//! with the FCS-length bits (8:5) of `epb_flags`. [`Record::fcs_len`] holds what the capture
//! says, `None` when it says nothing.
//!
//! Resynchronising: after a pcap record header that cannot be right, the reader looks, byte by
//! byte, for the next offset where a record header is plausible (an original length above 0,
//! a captured length at most the original length and [`MAX_CAPTURED`], a fraction below one
//! second, seconds within a day of the last good record) and is followed by another plausible
//! header or by the end of the file.
//! In pcapng it looks, 4 bytes at a time, for a block of a known type whose leading and trailing
//! lengths agree.

use std::path::{Path, PathBuf};

/// The largest captured length read (tshark's limit for Ethernet captures, and the largest
/// snapshot length tcpdump takes): a longer one is taken as garbage.
pub const MAX_CAPTURED: u32 = 262_144;
/// Link type of Ethernet frames (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u16 = 1;

/// A capture timestamp: seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: i64,
    /// Nanoseconds, below 10^9.
    pub nanos: u32,
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:09}", self.secs, self.nanos)
    }
}

/// Something odd about a record that was read anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// The captured length is above the header's snapshot length.
    CapturedAboveSnaplen {
        /// Bytes captured.
        captured: u32,
        /// The snapshot length.
        snaplen: u32,
    },
    /// The captured length is above the original length: the captured bytes are taken.
    CapturedAboveOriginal {
        /// Bytes captured.
        captured: u32,
        /// The original length.
        original: u32,
    },
    /// The timestamp's fraction field held a whole second or more; it was carried into the
    /// seconds.
    FractionOverflow {
        /// The field's value.
        fraction: u64,
        /// Units per second of the field.
        per_second: u64,
    },
}

impl Note {
    /// A short machine-readable name.
    pub fn code(&self) -> &'static str {
        match self {
            Note::CapturedAboveSnaplen { .. } => "captured_above_snaplen",
            Note::CapturedAboveOriginal { .. } => "captured_above_original",
            Note::FractionOverflow { .. } => "timestamp_fraction_overflow",
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::CapturedAboveSnaplen { captured, snaplen } => {
                write!(
                    f,
                    "{captured} bytes captured, above the snapshot length {snaplen}"
                )
            }
            Note::CapturedAboveOriginal { captured, original } => write!(
                f,
                "{captured} bytes captured, above the original length {original}"
            ),
            Note::FractionOverflow {
                fraction,
                per_second,
            } => write!(
                f,
                "timestamp fraction {fraction} of {per_second} per second carried into the seconds"
            ),
        }
    }
}

/// A packet record that could be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Position among the file's packet records (unreadable ones included), from 0.
    pub index: usize,
    /// When it was captured (`None`: a pcapng simple packet block, which has no timestamp).
    pub time: Option<Timestamp>,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// Its length on the wire, per the capture.
    pub original_len: u32,
    /// The interface it was captured on (pcapng; 0 in pcap).
    pub interface: u32,
    /// The interface's link type (low 16 bits of the link-type word).
    pub link_type: u16,
    /// Bytes of FCS at the end of each frame, when the capture says.
    pub fcs_len: Option<u8>,
    /// What was odd about it.
    pub notes: Vec<Note>,
}

impl Record {
    /// The capture kept fewer bytes than the frame had (its original length is larger).
    pub fn is_cut(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.original_len)
    }
}

/// A packet record that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// Position among the file's packet records, from 0.
    pub index: usize,
    /// Byte offset of the record (or block) in the file.
    pub offset: usize,
    /// Why.
    pub why: String,
    /// Bytes skipped to reach the next record that could be found (None: reading stopped).
    pub skipped: Option<usize>,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record {} at byte {}: {}",
            self.index, self.offset, self.why
        )?;
        match self.skipped {
            Some(n) => write!(f, "; {n} bytes skipped to the next record"),
            None => write!(f, "; nothing after it could be read"),
        }
    }
}

/// One packet record of a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// Read.
    Packet(Record),
    /// Not readable.
    Unreadable(Unreadable),
}

impl Item {
    /// Its position among the file's packet records.
    pub fn index(&self) -> usize {
        match self {
            Item::Packet(r) => r.index,
            Item::Unreadable(u) => u.index,
        }
    }
}

/// The file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// pcap.
    Pcap {
        /// Nanosecond timestamps (else microseconds).
        nanos: bool,
        /// Big-endian fields.
        big_endian: bool,
    },
    /// pcapng.
    PcapNg,
}

/// A whole capture, read.
#[derive(Clone, Debug)]
pub struct Capture {
    /// Its format.
    pub format: Format,
    /// Every packet record, in file order.
    pub items: Vec<Item>,
}

impl Capture {
    /// The records that could be read.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.items.iter().filter_map(|i| match i {
            Item::Packet(r) => Some(r),
            Item::Unreadable(_) => None,
        })
    }

    /// The records that could not be read.
    pub fn unreadable(&self) -> impl Iterator<Item = &Unreadable> {
        self.items.iter().filter_map(|i| match i {
            Item::Unreadable(u) => Some(u),
            Item::Packet(_) => None,
        })
    }
}

/// Why a file is not a capture at all.
#[derive(Debug, thiserror::Error)]
#[error("{}: {why}", path.display())]
pub struct CaptureError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub why: String,
}

/// Reads the capture at `path`.
pub fn read_capture(path: &Path) -> Result<Capture, CaptureError> {
    let err = |why: String| CaptureError {
        path: path.to_path_buf(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    parse_capture(&bytes).map_err(err)
}

const PCAP_MICRO: u32 = 0xa1b2_c3d4;
const PCAP_NANO: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BYTE_ORDER: u32 = 0x1a2b_3c4d;

/// Reads a capture from its bytes; fails only when they are not a pcap or pcapng file at all
/// (an unknown magic number or a file header cut short).
pub fn parse_capture(bytes: &[u8]) -> Result<Capture, String> {
    let magic = bytes
        .get(..4)
        .map(|m| u32::from_le_bytes(m.try_into().unwrap()))
        .ok_or_else(|| format!("{} bytes: too short for a capture file", bytes.len()))?;
    if magic == PCAPNG_SHB {
        return Ok(Capture {
            format: Format::PcapNg,
            items: PcapNg::new(bytes).read(),
        });
    }
    let (nanos, big_endian) = match (magic, magic.swap_bytes()) {
        (PCAP_MICRO, _) => (false, false),
        (PCAP_NANO, _) => (true, false),
        (_, PCAP_MICRO) => (false, true),
        (_, PCAP_NANO) => (true, true),
        _ => {
            return Err(format!(
                "magic number {:02x?}: neither pcap nor pcapng",
                &bytes[..4]
            ))
        }
    };
    if bytes.len() < 24 {
        return Err(format!(
            "{} bytes: the pcap file header is 24 bytes",
            bytes.len()
        ));
    }
    let e = Endian(big_endian);
    let link = e.u32(&bytes[20..24]);
    let p = Pcap {
        bytes,
        e,
        per_second: if nanos { 1_000_000_000 } else { 1_000_000 },
        snaplen: e.u32(&bytes[16..20]),
        link_type: link as u16,
        // Bit 26: the FCS length in bits 31:28 (in 16-bit words) is valid.
        fcs_len: (link & (1 << 26) != 0).then_some(((link >> 28) * 2) as u8),
    };
    Ok(Capture {
        format: Format::Pcap { nanos, big_endian },
        items: p.read(),
    })
}

#[derive(Clone, Copy)]
struct Endian(bool);

impl Endian {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.0 {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.0 {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }
}

/// A timestamp from whole units of `per_second` (a fraction of a second or more carried into
/// the seconds, with a note).
fn timestamp(secs: i64, fraction: u64, per_second: u64, notes: &mut Vec<Note>) -> Timestamp {
    if fraction >= per_second {
        notes.push(Note::FractionOverflow {
            fraction,
            per_second,
        });
    }
    let secs = secs.saturating_add((fraction / per_second) as i64);
    let nanos = (u128::from(fraction % per_second) * 1_000_000_000 / u128::from(per_second)) as u32;
    Timestamp { secs, nanos }
}

struct Pcap<'a> {
    bytes: &'a [u8],
    e: Endian,
    per_second: u64,
    snaplen: u32,
    link_type: u16,
    fcs_len: Option<u8>,
}

/// A pcap record header.
#[derive(Clone, Copy)]
struct PcapHeader {
    secs: u32,
    fraction: u32,
    captured: u32,
    original: u32,
}

impl Pcap<'_> {
    fn header(&self, at: usize) -> Option<PcapHeader> {
        let h = self.bytes.get(at..at + 16)?;
        Some(PcapHeader {
            secs: self.e.u32(&h[0..4]),
            fraction: self.e.u32(&h[4..8]),
            captured: self.e.u32(&h[8..12]),
            original: self.e.u32(&h[12..16]),
        })
    }

    /// A header that looks right enough to resynchronise on.
    fn plausible(&self, h: &PcapHeader, at: usize, last_secs: Option<u32>) -> bool {
        // A record of no bytes is legal, but zeros are what a damaged file is full of.
        h.original != 0
            && h.captured <= h.original
            && h.captured <= MAX_CAPTURED
            && h.original <= 16 * MAX_CAPTURED
            && u64::from(h.fraction) < self.per_second
            && last_secs.is_none_or(|s| h.secs.abs_diff(s) <= 86_400)
            && at + 16 + h.captured as usize <= self.bytes.len()
    }

    /// The next offset after `from` where a plausible record starts.
    fn resync(&self, from: usize, last_secs: Option<u32>) -> Option<usize> {
        (from..self.bytes.len().saturating_sub(15)).find(|&at| {
            let Some(h) = self.header(at) else {
                return false;
            };
            if !self.plausible(&h, at, last_secs) {
                return false;
            }
            let next = at + 16 + h.captured as usize;
            next == self.bytes.len()
                || self
                    .header(next)
                    .is_some_and(|n| self.plausible(&n, next, Some(h.secs)))
        })
    }

    fn read(&self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut at = 24;
        let mut last_secs = None;
        while at < self.bytes.len() {
            let index = items.len();
            let bad = |why: String, skipped: Option<usize>| {
                Item::Unreadable(Unreadable {
                    index,
                    offset: at,
                    why,
                    skipped,
                })
            };
            let Some(h) = self.header(at) else {
                items.push(bad(
                    format!(
                        "the file ends {} bytes into the 16-byte record header",
                        self.bytes.len() - at
                    ),
                    None,
                ));
                break;
            };
            let end = at + 16 + h.captured as usize;
            let why = if h.captured > MAX_CAPTURED {
                format!(
                    "captured length {} is above the largest readable, {MAX_CAPTURED}",
                    h.captured
                )
            } else if end > self.bytes.len() {
                // The file was cut short, or the length is garbage: a later record decides.
                match self.resync(at + 1, last_secs) {
                    None => {
                        items.push(bad(
                            format!(
                                "the file ends {} bytes into its {} captured bytes",
                                self.bytes.len() - at - 16,
                                h.captured
                            ),
                            None,
                        ));
                        break;
                    }
                    Some(_) => format!(
                        "captured length {} runs past the end of the file",
                        h.captured
                    ),
                }
            } else {
                let mut notes = Vec::new();
                if h.captured > self.snaplen {
                    notes.push(Note::CapturedAboveSnaplen {
                        captured: h.captured,
                        snaplen: self.snaplen,
                    });
                }
                if h.captured > h.original {
                    notes.push(Note::CapturedAboveOriginal {
                        captured: h.captured,
                        original: h.original,
                    });
                }
                let time = timestamp(
                    i64::from(h.secs),
                    u64::from(h.fraction),
                    self.per_second,
                    &mut notes,
                );
                items.push(Item::Packet(Record {
                    index,
                    time: Some(time),
                    data: self.bytes[at + 16..end].to_vec(),
                    original_len: h.original,
                    interface: 0,
                    link_type: self.link_type,
                    fcs_len: self.fcs_len,
                    notes,
                }));
                last_secs = Some(h.secs);
                at = end;
                continue;
            };
            match self.resync(at + 1, last_secs) {
                Some(next) => {
                    items.push(bad(why, Some(next - at)));
                    at = next;
                }
                None => {
                    items.push(bad(why, None));
                    break;
                }
            }
        }
        items
    }
}

/// A pcapng interface, as its description block gives it.
#[derive(Clone, Copy)]
struct Interface {
    link_type: u16,
    snaplen: u32,
    /// Timestamp units per second, as a power: (base 10 or 2, exponent).
    resolution: (u8, u8),
    offset_secs: i64,
    fcs_len: Option<u8>,
}

const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;
/// Block types resynchronisation accepts: SHB, IDB, PB, SPB, NRB, ISB, EPB, systemd journal,
/// DSB, and the two custom blocks.
const KNOWN_BLOCKS: [u32; 11] = [PCAPNG_SHB, 1, 2, 3, 4, 5, 6, 9, 0xa, 0xbad, 0x4000_0bad];

struct PcapNg<'a> {
    bytes: &'a [u8],
    e: Endian,
    interfaces: Vec<Interface>,
}

/// pcapng option codes read: `if_snaplen` is in the block body; these are options.
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_FCSLEN: u16 = 13;
const OPT_IF_TSOFFSET: u16 = 14;
const OPT_EPB_FLAGS: u16 = 2;

impl<'a> PcapNg<'a> {
    fn new(bytes: &'a [u8]) -> PcapNg<'a> {
        PcapNg {
            bytes,
            e: Endian(false),
            interfaces: Vec::new(),
        }
    }

    /// The byte order of the section header block at `at`, if its magic is there.
    fn section_order(&self, at: usize) -> Option<Endian> {
        let m = self.bytes.get(at + 8..at + 12)?;
        match u32::from_le_bytes(m.try_into().unwrap()) {
            PCAPNG_BYTE_ORDER => Some(Endian(false)),
            x if x.swap_bytes() == PCAPNG_BYTE_ORDER => Some(Endian(true)),
            _ => None,
        }
    }

    /// The block at `at`: its type and total length, when the length holds together (at least
    /// 12, a multiple of 4, inside the file, repeated at its end).
    fn block(&self, at: usize, e: Endian) -> Result<(u32, usize), String> {
        let h = self
            .bytes
            .get(at..at + 8)
            .ok_or_else(|| format!("the file ends inside a block header, at byte {at}"))?;
        let kind = e.u32(&h[0..4]);
        let e = if kind == PCAPNG_SHB {
            self.section_order(at)
                .ok_or("a section header without its byte-order magic")?
        } else {
            e
        };
        let len = e.u32(&h[4..8]) as usize;
        if len < 12 || !len.is_multiple_of(4) {
            return Err(format!(
                "block length {len} is not a multiple of 4 of at least 12"
            ));
        }
        if at + len > self.bytes.len() {
            return Err(format!(
                "block length {len} runs past the end of the file ({} bytes left)",
                self.bytes.len() - at
            ));
        }
        let trailer = e.u32(&self.bytes[at + len - 4..at + len]) as usize;
        if trailer != len {
            return Err(format!(
                "block length {len} at its start, {trailer} at its end"
            ));
        }
        Ok((kind, len))
    }

    /// The next offset after `from` (4-byte aligned relative to it) where a known block starts.
    fn resync(&self, from: usize) -> Option<usize> {
        (from..self.bytes.len()).step_by(4).find(|&at| {
            // A section header brings its own byte order.
            let e = self.section_order(at).unwrap_or(self.e);
            self.block(at, e)
                .is_ok_and(|(kind, _)| KNOWN_BLOCKS.contains(&kind))
        })
    }

    /// Options starting at `at` up to `end`: (code, value). A malformed one ends the list.
    fn options(&self, mut at: usize, end: usize) -> Vec<(u16, &'a [u8])> {
        let mut out = Vec::new();
        while at + 4 <= end {
            let code = self.e.u16(&self.bytes[at..at + 2]);
            let len = usize::from(self.e.u16(&self.bytes[at + 2..at + 4]));
            if code == 0 || at + 4 + len > end {
                break;
            }
            out.push((code, &self.bytes[at + 4..at + 4 + len]));
            at += 4 + len.div_ceil(4) * 4;
        }
        out
    }

    fn interface(&self, body: usize, end: usize) -> Interface {
        let b = self.bytes;
        let mut i = Interface {
            link_type: self.e.u16(&b[body..body + 2]),
            snaplen: self.e.u32(&b[body + 4..body + 8]),
            resolution: (10, 6),
            offset_secs: 0,
            fcs_len: None,
        };
        for (code, v) in self.options(body + 8, end) {
            match (code, v.len()) {
                (OPT_IF_TSRESOL, 1..) => {
                    i.resolution = if v[0] & 0x80 != 0 {
                        (2, v[0] & 0x7f)
                    } else {
                        (10, v[0])
                    }
                }
                (OPT_IF_FCSLEN, 1..) => i.fcs_len = Some(v[0]),
                (OPT_IF_TSOFFSET, 8..) => {
                    let mut a: [u8; 8] = v[..8].try_into().unwrap();
                    if self.e.0 {
                        a.reverse();
                    }
                    i.offset_secs = i64::from_le_bytes(a);
                }
                _ => {}
            }
        }
        i
    }

    /// A timestamp of `units` at the interface's resolution.
    fn time(&self, i: &Interface, units: u64) -> Option<Timestamp> {
        let (secs, nanos) = match i.resolution {
            (10, exp) => {
                let per = 10u128.checked_pow(u32::from(exp))?;
                let u = u128::from(units);
                (u / per, (u % per) * 1_000_000_000 / per)
            }
            (_, exp) if exp < 64 => {
                let u = u128::from(units);
                (u >> exp, ((u & ((1 << exp) - 1)) * 1_000_000_000) >> exp)
            }
            _ => return None,
        };
        Some(Timestamp {
            secs: (secs as i64).saturating_add(i.offset_secs),
            nanos: nanos as u32,
        })
    }

    /// The packet of a PB, SPB or EPB (`body`..`end`: the block's body).
    fn packet(&self, kind: u32, body: usize, end: usize, index: usize) -> Result<Record, String> {
        let b = self.bytes;
        let e = self.e;
        let fixed = match kind {
            BT_SPB => 4,
            _ => 20,
        };
        if end - body < fixed {
            return Err(format!(
                "a {}-byte packet block body, below its fixed {fixed} bytes",
                end - body
            ));
        }
        let iface_id = match kind {
            BT_SPB => 0,
            BT_PB => u32::from(e.u16(&b[body..body + 2])),
            _ => e.u32(&b[body..body + 4]),
        };
        let iface = *self.interfaces.get(iface_id as usize).ok_or_else(|| {
            format!(
                "interface {iface_id}, of {} the section describes",
                self.interfaces.len()
            )
        })?;
        let (time, original, captured, data_at) = if kind == BT_SPB {
            let original = e.u32(&b[body..body + 4]);
            // The data is the original length cut to the snapshot length (0: none) and to the
            // block.
            let mut captured = (original as usize).min(end - body - 4);
            if iface.snaplen != 0 {
                captured = captured.min(iface.snaplen as usize);
            }
            (None, original, captured as u32, body + 4)
        } else {
            let units = u64::from(e.u32(&b[body + 4..body + 8])) << 32
                | u64::from(e.u32(&b[body + 8..body + 12]));
            let captured = e.u32(&b[body + 12..body + 16]);
            let original = e.u32(&b[body + 16..body + 20]);
            (self.time(&iface, units), original, captured, body + 20)
        };
        if captured > MAX_CAPTURED {
            return Err(format!(
                "captured length {captured} is above the largest readable, {MAX_CAPTURED}"
            ));
        }
        let data_end = data_at + captured as usize;
        if data_end > end {
            return Err(format!(
                "captured length {captured} runs past its block ({} bytes of data room)",
                end - data_at
            ));
        }
        let mut notes = Vec::new();
        if iface.snaplen != 0 && captured > iface.snaplen {
            notes.push(Note::CapturedAboveSnaplen {
                captured,
                snaplen: iface.snaplen,
            });
        }
        if captured > original {
            notes.push(Note::CapturedAboveOriginal { captured, original });
        }
        let mut fcs_len = iface.fcs_len;
        if kind != BT_SPB {
            let opts = data_at + (captured as usize).div_ceil(4) * 4;
            for (code, v) in self.options(opts, end) {
                if code == OPT_EPB_FLAGS && v.len() >= 4 {
                    let bits = (e.u32(v) >> 5) & 0xf;
                    if bits != 0 {
                        fcs_len = Some(bits as u8);
                    }
                }
            }
        }
        Ok(Record {
            index,
            time,
            data: b[data_at..data_end].to_vec(),
            original_len: original,
            interface: iface_id,
            link_type: iface.link_type,
            fcs_len,
            notes,
        })
    }

    fn read(mut self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut at = 0;
        while at < self.bytes.len() {
            let index = items.len();
            let (kind, len) = match self.block(at, self.e) {
                Ok(b) => b,
                Err(why) => {
                    let next = self.resync(at + 4);
                    items.push(Item::Unreadable(Unreadable {
                        index,
                        offset: at,
                        why,
                        skipped: next.map(|n| n - at),
                    }));
                    match next {
                        Some(n) => {
                            at = n;
                            continue;
                        }
                        None => break,
                    }
                }
            };
            let body = at + 8;
            let end = at + len - 4;
            match kind {
                PCAPNG_SHB => {
                    self.e = self.section_order(at).expect("checked by block()");
                    self.interfaces.clear();
                }
                BT_IDB if end - body >= 8 => {
                    let i = self.interface(body, end);
                    self.interfaces.push(i);
                }
                BT_EPB | BT_SPB | BT_PB => {
                    items.push(match self.packet(kind, body, end, index) {
                        Ok(r) => Item::Packet(r),
                        Err(why) => Item::Unreadable(Unreadable {
                            index,
                            offset: at,
                            why,
                            skipped: Some(len),
                        }),
                    });
                }
                _ => {}
            }
            at += len;
        }
        items
    }
}

#[cfg(test)]
mod tests;
