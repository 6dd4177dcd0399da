//! The per-VI page: one 4 KiB page per virtual interface, so that a VI's doorbells can be
//! mapped into one process alone. Pointers are free-running 32-bit counts (of events, of
//! descriptors): the ring slot is the count modulo the ring size, and `wptr - rptr` (wrapping)
//! is the fill level.

use super::{Access, Field, Page, Reg};

const fn reg(name: &'static str, offset: u32, access: Access, doc: &'static str) -> Reg {
    Reg {
        name,
        offset,
        access,
        reset: 0,
        doc,
        fields: &[],
    }
}

// Event queue.
pub const EVQ_BASE_LO: Reg = reg(
    "EVQ_BASE_LO",
    0x000,
    Access::Rw,
    "Event ring address (IOVA) bits 31:0; 16-byte aligned.",
);
pub const EVQ_BASE_HI: Reg = reg(
    "EVQ_BASE_HI",
    0x004,
    Access::Rw,
    "Event ring address bits 63:32.",
);
pub const EVQ_SIZE: Reg = reg(
    "EVQ_SIZE",
    0x008,
    Access::Rw,
    "log2 of the ring size in events (4..=16); 0 disables the queue. Writing it restarts the queue: pointers, drops, arming and watchdog to 0; the first pass writes phase 1.",
);
pub const EVQ_RPTR: Reg = reg(
    "EVQ_RPTR",
    0x00c,
    Access::Rw,
    "Doorbell: the host's read count (events consumed). Returns space; a value behind the previous one or past the write count is refused (bus error).",
);
pub const EVQ_PRIME: Reg = reg(
    "EVQ_PRIME",
    0x010,
    Access::Wo,
    "Doorbell: the host's read count, and arm the queue: the next event written (or one already unread) posts a WAKEUP to the interrupt queue. Same checks as EVQ_RPTR.",
);
pub const EVQ_WPTR: Reg = reg(
    "EVQ_WPTR",
    0x014,
    Access::Ro,
    "The device's write count (events written).",
);
pub const EVQ_DROPS: Reg = reg(
    "EVQ_DROPS",
    0x018,
    Access::Ro,
    "Events not written because the queue was full (or disabled), since the last OVERFLOW event; the OVERFLOW event carries this count and clears it.",
);
pub const EVQ_STATUS_ARMED: Field = Field {
    name: "ARMED",
    lsb: 0,
    width: 1,
    doc: "Primed and not yet woken.",
};
pub const EVQ_STATUS_OVERFLOW: Field = Field {
    name: "OVERFLOW",
    lsb: 1,
    width: 1,
    doc: "Drops are waiting to be reported by an OVERFLOW event.",
};
pub const EVQ_STATUS_ENABLED: Field = Field {
    name: "ENABLED",
    lsb: 2,
    width: 1,
    doc: "EVQ_SIZE is non-zero.",
};
pub const EVQ_STATUS: Reg = Reg {
    name: "EVQ_STATUS",
    offset: 0x01c,
    access: Access::Ro,
    reset: 0,
    doc: "Queue state.",
    fields: &[EVQ_STATUS_ARMED, EVQ_STATUS_OVERFLOW, EVQ_STATUS_ENABLED],
};
pub const EVQ_WATCHDOG: Reg = reg(
    "EVQ_WATCHDOG",
    0x020,
    Access::Rw,
    "Cycles events may sit unread before the queue wakes the host as if it were armed (a WAKEUP with the WATCHDOG flag); 0 disables.",
);

// Indication.
pub const INDICATE_GROUP: Field = Field {
    name: "GROUP",
    lsb: 0,
    width: 8,
    doc: "Group to indicate into.",
};
pub const INDICATE_PAYLOAD: Field = Field {
    name: "PAYLOAD",
    lsb: 8,
    width: 24,
    doc: "Payload of the INDICATION event (its bits 23:0).",
};
pub const INDICATE: Reg = Reg {
    name: "INDICATE",
    offset: 0x040,
    access: Access::Wo,
    reset: 0,
    doc: "Doorbell: produce an INDICATION event into a group with one write. Refused (counted, and an ERROR event to this VI only) when the VI is not permitted to indicate into the group.",
    fields: &[INDICATE_GROUP, INDICATE_PAYLOAD],
};
pub const INDICATE_REFUSED: Reg = reg(
    "INDICATE_REFUSED",
    0x044,
    Access::Ro,
    "Indications of this VI refused for want of permission.",
);

// Receive ring.
pub const RXQ_BASE_LO: Reg = reg(
    "RXQ_BASE_LO",
    0x080,
    Access::Rw,
    "Receive descriptor ring address bits 31:0; 16-byte aligned.",
);
pub const RXQ_BASE_HI: Reg = reg(
    "RXQ_BASE_HI",
    0x084,
    Access::Rw,
    "Receive descriptor ring address bits 63:32.",
);
pub const RXQ_SIZE: Reg = reg(
    "RXQ_SIZE",
    0x088,
    Access::Rw,
    "log2 of the ring size in descriptors (1..=12); 0 disables. Writing restarts the ring.",
);
pub const RXQ_WPTR: Reg = reg(
    "RXQ_WPTR",
    0x08c,
    Access::Rw,
    "Doorbell: the host's count of descriptors posted.",
);
pub const RXQ_RPTR: Reg = reg(
    "RXQ_RPTR",
    0x090,
    Access::Ro,
    "The device's count of descriptors used (frames written).",
);
pub const RXQ_DROPS: Reg = reg(
    "RXQ_DROPS",
    0x094,
    Access::Ro,
    "Frames steered to this VI and dropped for want of a posted buffer.",
);

// Transmit ring.
pub const TXQ_BASE_LO: Reg = reg(
    "TXQ_BASE_LO",
    0x0c0,
    Access::Rw,
    "Transmit descriptor ring address bits 31:0; 16-byte aligned.",
);
pub const TXQ_BASE_HI: Reg = reg(
    "TXQ_BASE_HI",
    0x0c4,
    Access::Rw,
    "Transmit descriptor ring address bits 63:32.",
);
pub const TXQ_SIZE: Reg = reg(
    "TXQ_SIZE",
    0x0c8,
    Access::Rw,
    "log2 of the ring size in descriptors (1..=12); 0 disables. Writing restarts the ring.",
);
pub const TXQ_WPTR: Reg = reg(
    "TXQ_WPTR",
    0x0cc,
    Access::Rw,
    "Doorbell: the host's count of descriptors posted.",
);
pub const TXQ_RPTR: Reg = reg(
    "TXQ_RPTR",
    0x0d0,
    Access::Ro,
    "The device's count of descriptors completed (TX_DONE or ERROR posted).",
);
pub const TXQ_ERRORS: Reg = reg(
    "TXQ_ERRORS",
    0x0d4,
    Access::Ro,
    "Descriptors refused (bad length, DMA fault).",
);

pub const REGS: &[Reg] = &[
    EVQ_BASE_LO,
    EVQ_BASE_HI,
    EVQ_SIZE,
    EVQ_RPTR,
    EVQ_PRIME,
    EVQ_WPTR,
    EVQ_DROPS,
    EVQ_STATUS,
    EVQ_WATCHDOG,
    INDICATE,
    INDICATE_REFUSED,
    RXQ_BASE_LO,
    RXQ_BASE_HI,
    RXQ_SIZE,
    RXQ_WPTR,
    RXQ_RPTR,
    RXQ_DROPS,
    TXQ_BASE_LO,
    TXQ_BASE_HI,
    TXQ_SIZE,
    TXQ_WPTR,
    TXQ_RPTR,
    TXQ_ERRORS,
];

pub const PAGE: Page = Page {
    name: "VI",
    base: super::VI_PAGE_BASE,
    stride: super::PAGE_BYTES,
    count: crate::params::NUM_VIS,
    doc: "One page per virtual interface: event queue, indication doorbell, receive and transmit rings.",
    regs: REGS,
};

/// Smallest and largest event ring, as log2 of the number of events.
pub const EVQ_SIZE_MIN: u32 = 4;
pub const EVQ_SIZE_MAX: u32 = 16;
/// Largest receive or transmit ring, as log2 of the number of descriptors.
pub const RING_SIZE_MAX: u32 = 12;
