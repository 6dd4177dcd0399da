//! Events as the library hands them out: the device's 16-byte record, with a typed view
//! ([`Event::kind`]) and numbered things as types ([`Vi`], [`Group`]).
//!
//! Every field is read through [`evnic_regs::event::Event`], the one decoder of the record.

use evnic_regs::event::{self as ev, ErrorCode, EventType};
use evnic_regs::map::filter as fr;
use std::fmt;

/// A virtual interface, by number: an endpoint's event queue and rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vi(pub u32);

/// A multicast event group, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Group(pub u32);

impl fmt::Display for Vi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VI {}", self.0)
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group {}", self.0)
    }
}

bitflags::bitflags! {
    /// Flags of an RX event: what the receive path found wrong with the frame, and whether
    /// frames before it were lost.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct RxFlags: u8 {
        /// The FCS did not match (delivered only when the receive policy keeps such frames).
        const FCS_BAD = ev::rx_flags::FCS_BAD;
        /// The frame was longer than its buffer and was cut.
        const TRUNCATED = ev::rx_flags::TRUNCATED;
        /// The IPv4 header is malformed (bad length or checksum).
        const BAD_IPV4 = ev::rx_flags::BAD_IPV4;
        /// Shorter than the Ethernet minimum.
        const RUNT = ev::rx_flags::RUNT;
        /// Longer than the receive path's `MAX_LEN`.
        const OVERSIZE = ev::rx_flags::OVERSIZE;
        /// The MAC reported an error on the frame.
        const MAC_ERROR = ev::rx_flags::MAC_ERROR;
        /// A frame before this one was dropped for lack of a receive buffer.
        const DROPPED_BEFORE = ev::rx_flags::DROPPED_BEFORE;
    }
}

/// Where an indication came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Producer {
    /// An endpoint's indication doorbell.
    Vi(Vi),
    /// The device-space input port (FPGA logic beside the core).
    DevicePort,
}

/// Where a received frame's data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RxSlot {
    /// The VI whose receive ring holds it (for a group action, the default VI).
    pub vi: Vi,
    /// The low 16 bits of the descriptor count it used.
    pub desc: u16,
}

/// What an event says, by type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A frame was received.
    Rx {
        /// Bytes written to the buffer (FCS included; cut to the buffer when TRUNCATED).
        len: u32,
        /// The filter entry that matched; `None` when the default action delivered it.
        filter: Option<u32>,
        /// What was wrong with it.
        flags: RxFlags,
        /// Where its data is; `None` when it was not stored (a group action while the default
        /// action drops).
        stored: Option<RxSlot>,
    },
    /// A transmit descriptor completed.
    TxDone {
        /// The descriptor count.
        desc: u32,
        /// Bytes sent, before padding and FCS.
        len: u32,
    },
    /// A timer fired.
    Timer {
        /// The timer.
        timer: u32,
        /// The timer's payload.
        payload: u32,
    },
    /// An indication into a group.
    Indication {
        /// Who indicated.
        from: Producer,
        /// Its payload.
        payload: u32,
    },
    /// Interrupt indirection: a queue was woken (seen only on the interrupt queue).
    Wakeup {
        /// The queue woken.
        queue: Vi,
    },
    /// Events were lost to a full queue.
    Overflow {
        /// How many (saturating).
        lost: u32,
    },
    /// The device refused something of this endpoint.
    Error {
        /// What, when the code is one this library knows.
        code: Option<ErrorCode>,
        /// The code as the device wrote it.
        raw_code: u32,
        /// Detail per code (a group, a descriptor index).
        detail: u32,
    },
    /// A queue's watchdog expired.
    Watchdog {
        /// The queue.
        queue: Vi,
    },
    /// A type code this library does not know.
    Unknown {
        /// The code.
        code: u8,
    },
}

/// The error codes the device writes, by code.
pub(crate) fn error_code(code: u32) -> Option<ErrorCode> {
    ErrorCode::ALL.into_iter().find(|c| *c as u32 == code)
}

/// An event from the device.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Event {
    raw: ev::Event,
}

impl Event {
    /// Wraps a decoded record.
    pub fn from_raw(raw: ev::Event) -> Event {
        Event { raw }
    }

    /// The decoded record.
    pub fn raw(&self) -> &ev::Event {
        &self.raw
    }

    /// The type, if its code is one this library knows.
    pub fn event_type(&self) -> Option<EventType> {
        self.raw.event_type()
    }

    /// The group the event was multicast to, if any.
    pub fn group(&self) -> Option<Group> {
        self.raw.group().map(|g| Group(u32::from(g)))
    }

    /// The device's cycle counter when the event was produced (its low bits: see
    /// [`crate::DeviceClock`] to extend and convert it).
    pub fn timestamp(&self) -> u64 {
        self.raw.timestamp
    }

    /// The payload word.
    pub fn payload(&self) -> u32 {
        self.raw.payload
    }

    /// The source field: a VI, filter entry, timer or queue, by type.
    pub fn source(&self) -> u32 {
        u32::from(self.raw.source)
    }

    /// The aux field (frame length, error detail... by type).
    pub fn aux(&self) -> u32 {
        u32::from(self.raw.aux)
    }

    /// The flags byte as written.
    pub fn flags(&self) -> u8 {
        self.raw.flags
    }

    /// True when the event came from the device-space input port.
    pub fn from_device_port(&self) -> bool {
        self.raw.flags & ev::flags::FROM_DEVICE_PORT != 0
    }

    /// What the event says.
    pub fn kind(&self) -> EventKind {
        let r = &self.raw;
        let field = |(lsb, width): (u32, u32)| (r.payload >> lsb) & ((1u32 << width) - 1);
        match r.event_type() {
            Some(EventType::Rx) => EventKind::Rx {
                len: self.aux(),
                filter: (self.source() != u32::from(fr::RX_SOURCE_DEFAULT))
                    .then_some(self.source()),
                flags: RxFlags::from_bits_retain(r.flags),
                stored: (r.payload & fr::RX_PAYLOAD_NOT_STORED == 0).then(|| RxSlot {
                    vi: Vi(field(fr::RX_PAYLOAD_VI)),
                    desc: field(fr::RX_PAYLOAD_DESC) as u16,
                }),
            },
            Some(EventType::TxDone) => EventKind::TxDone {
                desc: r.payload,
                len: self.aux(),
            },
            Some(EventType::Timer) => EventKind::Timer {
                timer: self.source(),
                payload: r.payload,
            },
            Some(EventType::Indication) => EventKind::Indication {
                from: if self.from_device_port() {
                    Producer::DevicePort
                } else {
                    Producer::Vi(Vi(self.source()))
                },
                payload: r.payload,
            },
            Some(EventType::Wakeup) => EventKind::Wakeup {
                queue: Vi(self.source()),
            },
            Some(EventType::Overflow) => EventKind::Overflow { lost: r.payload },
            Some(EventType::Error) => EventKind::Error {
                code: error_code(r.payload),
                raw_code: r.payload,
                detail: self.aux(),
            },
            Some(EventType::Watchdog) => EventKind::Watchdog {
                queue: Vi(self.source()),
            },
            None => EventKind::Unknown { code: r.kind },
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("kind", &self.kind())
            .field("group", &self.group())
            .field("timestamp", &self.timestamp())
            .finish()
    }
}

impl fmt::Display for Event {
    /// One line: the type, what it says, the group, the timestamp in cycles.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.event_type().map_or("UNKNOWN", |t| t.name());
        write!(f, "{name:<10}")?;
        match self.kind() {
            EventKind::Rx {
                len,
                filter,
                flags,
                stored,
            } => {
                write!(f, " len {len}")?;
                match filter {
                    Some(i) => write!(f, " filter {i}")?,
                    None => write!(f, " default")?,
                }
                if !flags.is_empty() {
                    write!(f, " flags {flags:?}")?;
                }
                match stored {
                    Some(s) => write!(f, " in {} desc {}", s.vi, s.desc)?,
                    None => write!(f, " not stored")?,
                }
            }
            EventKind::TxDone { desc, len } => write!(f, " desc {desc} len {len}")?,
            EventKind::Timer { timer, payload } => {
                write!(f, " timer {timer} payload {payload:#x}")?
            }
            EventKind::Indication { from, payload } => match from {
                Producer::Vi(v) => write!(f, " from {v} payload {payload:#x}")?,
                Producer::DevicePort => write!(f, " from the device port payload {payload:#x}")?,
            },
            EventKind::Wakeup { queue } | EventKind::Watchdog { queue } => write!(f, " {queue}")?,
            EventKind::Overflow { lost } => write!(f, " {lost} events lost")?,
            EventKind::Error {
                code,
                raw_code,
                detail,
            } => match code {
                Some(c) => write!(f, " {c:?} detail {detail}")?,
                None => write!(f, " code {raw_code} detail {detail}")?,
            },
            EventKind::Unknown { code } => write!(f, " type code {code}")?,
        }
        if let Some(g) = self.group() {
            write!(f, " {g}")?;
        }
        write!(f, " at cycle {}", self.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(
        kind: EventType,
        flags: u8,
        source: u16,
        group: Option<u8>,
        payload: u32,
        aux: u16,
    ) -> Event {
        Event::from_raw(ev::Event {
            kind: kind as u8,
            phase: true,
            flags,
            source,
            group,
            payload,
            timestamp: 1234,
            aux,
        })
    }

    #[test]
    fn rx_events_read_as_their_parts() {
        let e = raw(
            EventType::Rx,
            ev::rx_flags::TRUNCATED,
            3,
            Some(5),
            2 << 16 | 7,
            100,
        );
        assert_eq!(
            e.kind(),
            EventKind::Rx {
                len: 100,
                filter: Some(3),
                flags: RxFlags::TRUNCATED,
                stored: Some(RxSlot { vi: Vi(2), desc: 7 }),
            }
        );
        assert_eq!(e.group(), Some(Group(5)));
        let d = raw(
            EventType::Rx,
            0,
            fr::RX_SOURCE_DEFAULT,
            None,
            fr::RX_PAYLOAD_NOT_STORED,
            60,
        );
        assert!(matches!(
            d.kind(),
            EventKind::Rx {
                filter: None,
                stored: None,
                ..
            }
        ));
        assert_eq!(d.group(), None);
        assert!(d.to_string().starts_with("RX"), "{d}");
    }

    #[test]
    fn indications_errors_and_unknown_codes() {
        let i = raw(
            EventType::Indication,
            ev::flags::FROM_DEVICE_PORT,
            0,
            Some(9),
            0x42,
            0,
        );
        assert_eq!(
            i.kind(),
            EventKind::Indication {
                from: Producer::DevicePort,
                payload: 0x42
            }
        );
        let e = raw(
            EventType::Error,
            0,
            1,
            None,
            ErrorCode::TxBadLength as u32,
            3,
        );
        assert_eq!(
            e.kind(),
            EventKind::Error {
                code: Some(ErrorCode::TxBadLength),
                raw_code: 2,
                detail: 3
            }
        );
        let mut u = *e.raw();
        u.kind = 15;
        assert_eq!(Event::from_raw(u).kind(), EventKind::Unknown { code: 15 });
    }
}
