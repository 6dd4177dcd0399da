//! The 16-byte event record the device writes into an event queue in host memory.
//!
//! An event is two little-endian 64-bit words written by the device in one DMA beat:
//!
//! | word | bits | field |
//! |---|---|---|
//! | 0 | 3:0 | type ([`EventType`]) |
//! | 0 | 4 | has group: the group field names the event's group |
//! | 0 | 6:5 | reserved, 0 |
//! | 0 | 7 | phase: 1 on the first pass through the ring, flipping on every wrap |
//! | 0 | 15:8 | flags (per type) |
//! | 0 | 31:16 | source: VI, filter index, timer or queue, per type ([`SOURCE_NONE`]: none) |
//! | 0 | 63:32 | payload |
//! | 1 | 39:0 | device timestamp: low 40 bits of the cycle counter (per type: when the event was produced, or the cycle it reports) |
//! | 1 | 47:40 | group (with "has group") |
//! | 1 | 63:48 | aux (per type: frame length, overflow count high bits...) |
//!
//! The timestamp wraps every 2^40 cycles (about 1.95 hours at 156.25 MHz); the host extends it
//! against a recent reading of the 64-bit cycle counter.
//!
//! Host memory starts zeroed, so an unwritten slot has phase 0 and type 0 on the first pass:
//! the host knows a slot holds a new event when its phase bit equals the phase it expects
//! (1 on the first pass, 0 on the second...), reading memory only.

/// Event types (word 0 bits 3:0). 0 is never written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum EventType {
    /// A received frame was written to a receive buffer: aux = length, source = filter index.
    /// Timestamp: the cycle in which the frame's first 8 bytes arrived from the MAC (the
    /// event itself comes after the frame's end).
    Rx = 1,
    /// A transmit descriptor completed: payload = descriptor index, aux = length, source = the
    /// VI; timestamp = the cycle the frame's first beat left the MAC transmit port (the first
    /// byte on the wire).
    TxDone = 2,
    /// A timer fired: source = timer, payload = the timer's payload register.
    Timer = 3,
    /// An indication: source = indicating VI (or the device port), payload = its payload.
    Indication = 4,
    /// Interrupt indirection: the queue named in source had an event while armed.
    Wakeup = 5,
    /// Events were lost to a full queue: payload = how many (saturating).
    Overflow = 6,
    /// Something was refused: payload = an [`ErrorCode`], aux = detail; timestamp = the cycle
    /// the event was produced.
    Error = 7,
    /// A queue's watchdog expired: events have sat unread past its limit.
    Watchdog = 8,
}

impl EventType {
    /// All types, in code order.
    pub const ALL: [EventType; 8] = [
        EventType::Rx,
        EventType::TxDone,
        EventType::Timer,
        EventType::Indication,
        EventType::Wakeup,
        EventType::Overflow,
        EventType::Error,
        EventType::Watchdog,
    ];
    /// The type with code `code`, if any.
    pub fn from_code(code: u8) -> Option<EventType> {
        Self::ALL.iter().copied().find(|t| *t as u8 == code)
    }
    /// Name as printed by tools.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Rx => "RX",
            EventType::TxDone => "TX_DONE",
            EventType::Timer => "TIMER",
            EventType::Indication => "INDICATION",
            EventType::Wakeup => "WAKEUP",
            EventType::Overflow => "OVERFLOW",
            EventType::Error => "ERROR",
            EventType::Watchdog => "WATCHDOG",
        }
    }
}

/// Error codes carried in the payload of an ERROR event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    /// An indication into a group the VI is not permitted to indicate into (aux = group).
    IndicationRefused = 1,
    /// A transmit descriptor with a zero or oversize length, or a CRC-32C span whose 4 CRC
    /// bytes do not fit in the frame (aux = the descriptor index, bits 15:0).
    TxBadLength = 2,
    /// A DMA access was refused by the host (IOMMU fault) (aux = the descriptor index, bits 15:0).
    DmaFault = 3,
    /// A doorbell wrote a pointer outside its ring.
    BadDoorbell = 4,
}

impl ErrorCode {
    /// All codes, in code order.
    pub const ALL: [ErrorCode; 4] = [
        ErrorCode::IndicationRefused,
        ErrorCode::TxBadLength,
        ErrorCode::DmaFault,
        ErrorCode::BadDoorbell,
    ];
    /// Name as printed by tools.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::IndicationRefused => "INDICATION_REFUSED",
            ErrorCode::TxBadLength => "TX_BAD_LENGTH",
            ErrorCode::DmaFault => "DMA_FAULT",
            ErrorCode::BadDoorbell => "BAD_DOORBELL",
        }
    }
}

/// Source value meaning "no source": an RX event of the default action (no filter entry), an
/// indication from a device-space port.
pub const SOURCE_NONE: u16 = 0xffff;
/// Bytes per event.
pub const EVENT_BYTES: usize = 16;
/// Bit position of the phase bit in word 0.
pub const PHASE_BIT: u32 = 7;
/// Bits of the timestamp field.
pub const TIMESTAMP_BITS: u32 = 40;

/// Field positions in word 0 (lsb, width).
pub mod w0 {
    pub const TYPE: (u32, u32) = (0, 4);
    pub const HAS_GROUP: (u32, u32) = (4, 1);
    pub const PHASE: (u32, u32) = (super::PHASE_BIT, 1);
    pub const FLAGS: (u32, u32) = (8, 8);
    pub const SOURCE: (u32, u32) = (16, 16);
    pub const PAYLOAD: (u32, u32) = (32, 32);
}
/// Field positions in word 1 (lsb, width).
pub mod w1 {
    pub const TIMESTAMP: (u32, u32) = (0, super::TIMESTAMP_BITS);
    pub const GROUP: (u32, u32) = (40, 8);
    pub const AUX: (u32, u32) = (48, 16);
}

/// RX event flags (word 0 bits 15:8).
///
/// Lengths: the receive path counts a frame's bytes, FCS included, in 16 bits that saturate:
/// `L` = min(bytes, 65,535). `L` is the RX event's length (aux) and the length the length rules
/// below measure, with the data length `D` = `L` - 4 (0 when `L` < 4). A frame longer than
/// 65,535 bytes is therefore judged as if it ended at byte 65,535: a header or an IP length that
/// reaches past that `D` sets TRUNCATED, even where the whole frame holds it (an IPv4 packet of
/// total length 65,535 behind a 14-byte Ethernet header is TRUNCATED). The RTL and the
/// reference model follow this one rule.
pub mod rx_flags {
    pub const FCS_BAD: u8 = 1 << 0;
    /// A header the frame announces (by the type or protocol field before it), or the length
    /// its IP header gives, reaches past `D`.
    pub const TRUNCATED: u8 = 1 << 1;
    pub const BAD_IPV4: u8 = 1 << 2;
    /// `L` < 64.
    pub const RUNT: u8 = 1 << 3;
    /// `L` above the receive path's maximum frame length.
    pub const OVERSIZE: u8 = 1 << 4;
    pub const MAC_ERROR: u8 = 1 << 5;
    /// A frame before this one was dropped for lack of a receive buffer.
    pub const DROPPED_BEFORE: u8 = 1 << 6;
    /// Every flag with its name, for tools and the machine-readable map.
    pub const ALL: [(&str, u8); 7] = [
        ("FCS_BAD", FCS_BAD),
        ("TRUNCATED", TRUNCATED),
        ("BAD_IPV4", BAD_IPV4),
        ("RUNT", RUNT),
        ("OVERSIZE", OVERSIZE),
        ("MAC_ERROR", MAC_ERROR),
        ("DROPPED_BEFORE", DROPPED_BEFORE),
    ];
}

/// Event flags valid for every type.
pub mod flags {
    /// Produced by a device-space port rather than a VI or a block of the core.
    pub const FROM_DEVICE_PORT: u8 = 1 << 7;
}

fn get(word: u64, (lsb, width): (u32, u32)) -> u64 {
    (word >> lsb) & ((1u64 << width) - 1)
}
fn put(value: u64, (lsb, width): (u32, u32)) -> u64 {
    (value & ((1u64 << width) - 1)) << lsb
}

/// A decoded event record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Type code (see [`EventType`]); kept raw so an unknown code is reported, not hidden.
    pub kind: u8,
    pub phase: bool,
    pub flags: u8,
    pub source: u16,
    /// The event's group, for events that have one.
    pub group: Option<u8>,
    pub payload: u32,
    pub timestamp: u64,
    pub aux: u16,
}

impl Event {
    /// Decodes the two words of a record.
    pub fn decode(words: [u64; 2]) -> Event {
        let [a, b] = words;
        Event {
            kind: get(a, w0::TYPE) as u8,
            phase: get(a, w0::PHASE) == 1,
            flags: get(a, w0::FLAGS) as u8,
            source: get(a, w0::SOURCE) as u16,
            group: (get(a, w0::HAS_GROUP) == 1).then_some(get(b, w1::GROUP) as u8),
            payload: get(a, w0::PAYLOAD) as u32,
            timestamp: get(b, w1::TIMESTAMP),
            aux: get(b, w1::AUX) as u16,
        }
    }
    /// Encodes to the two words the device writes.
    pub fn encode(&self) -> [u64; 2] {
        [
            put(self.kind as u64, w0::TYPE)
                | put(self.phase as u64, w0::PHASE)
                | put(self.flags as u64, w0::FLAGS)
                | put(self.group.is_some() as u64, w0::HAS_GROUP)
                | put(self.source as u64, w0::SOURCE)
                | put(self.payload as u64, w0::PAYLOAD),
            put(self.timestamp, w1::TIMESTAMP)
                | put(self.group.unwrap_or(0) as u64, w1::GROUP)
                | put(self.aux as u64, w1::AUX),
        ]
    }
    /// The type, if the code is known.
    pub fn event_type(&self) -> Option<EventType> {
        EventType::from_code(self.kind)
    }
    /// The group, if the event has one.
    pub fn group(&self) -> Option<u8> {
        self.group
    }
    /// The source, unless it is [`SOURCE_NONE`].
    pub fn source(&self) -> Option<u16> {
        (self.source != SOURCE_NONE).then_some(self.source)
    }
}

/// Renders the event format as Markdown for `docs/registers.md`.
pub fn render_markdown() -> String {
    use std::fmt::Write;
    let mut out = String::from("## Event record\n\n");
    out.push_str(
        "16 bytes, two little-endian 64-bit words, written by the device in one DMA beat. A slot \
         holds a new event when its phase bit equals the phase the host expects: 1 on the first \
         pass through the ring, flipping on every wrap.\n\n",
    );
    out.push_str("| word | bits | field |\n|---|---|---|\n");
    for (word, name, (lsb, width)) in [
        (0, "type", w0::TYPE),
        (0, "has group", w0::HAS_GROUP),
        (0, "phase", w0::PHASE),
        (0, "flags", w0::FLAGS),
        (0, "source (0xffff: none)", w0::SOURCE),
        (0, "payload", w0::PAYLOAD),
        (
            1,
            "timestamp (low bits of the cycle counter)",
            w1::TIMESTAMP,
        ),
        (1, "group (with has group)", w1::GROUP),
        (1, "aux", w1::AUX),
    ] {
        let _ = writeln!(out, "| {word} | {}:{lsb} | {name} |", lsb + width - 1);
    }
    out.push_str("\n| type | code |\n|---|---|\n");
    for t in EventType::ALL {
        let _ = writeln!(out, "| {} | {} |", t.name(), t as u8);
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let e = Event {
            kind: EventType::Indication as u8,
            phase: true,
            flags: 0x81,
            source: 0x1234,
            group: Some(255),
            payload: 0xdead_beef,
            timestamp: (1 << TIMESTAMP_BITS) - 1,
            aux: 0xabcd,
        };
        assert_eq!(Event::decode(e.encode()), e);
        assert_eq!(e.encode()[0] & 0xff, 0x94);
        let none = Event { group: None, ..e };
        assert_eq!(Event::decode(none.encode()), none);
        assert_eq!(none.encode()[0] & 0xff, 0x84);
    }

    #[test]
    fn fields_tile_the_words() {
        let w0_bits: u64 = [
            w0::TYPE,
            w0::HAS_GROUP,
            w0::PHASE,
            w0::FLAGS,
            w0::SOURCE,
            w0::PAYLOAD,
        ]
        .iter()
        .map(|&f| put(u64::MAX, f))
        .fold(0, |acc, m| {
            assert_eq!(acc & m, 0);
            acc | m
        });
        assert_eq!(w0_bits, !0x60, "only bits 6:5 are reserved");
        let w1_bits = [w1::TIMESTAMP, w1::GROUP, w1::AUX]
            .iter()
            .map(|&f| put(u64::MAX, f))
            .fold(0, |acc, m| {
                assert_eq!(acc & m, 0);
                acc | m
            });
        assert_eq!(w1_bits, u64::MAX);
    }

    #[test]
    fn every_code_names_its_type() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_code(t as u8), Some(t));
        }
        assert_eq!(EventType::from_code(0), None);
    }
}
