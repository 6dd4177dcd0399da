//! The global page: identity, parameters, control, the cycle counter and bus statistics.

use super::{Access, Field, Page, Reg};

const fn ro(name: &'static str, offset: u32, reset: u32, doc: &'static str) -> Reg {
    Reg {
        name,
        offset,
        access: Access::Ro,
        reset,
        doc,
        fields: &[],
    }
}

pub const ID: Reg = ro(
    "ID",
    0x000,
    crate::params::DEVICE_ID,
    "ASCII `EVNC` (0x434e5645): an evnic device.",
);
pub const VERSION: Reg = ro(
    "VERSION",
    0x004,
    crate::params::VERSION,
    "Major version in 31:16, minor in 15:0.",
);
pub const NUM_VIS: Reg = ro(
    "NUM_VIS",
    0x008,
    crate::params::NUM_VIS,
    "Number of virtual interfaces (VI pages and event queues).",
);
pub const NUM_FILTERS: Reg = ro(
    "NUM_FILTERS",
    0x00c,
    crate::params::NUM_FILTERS,
    "Number of filter (CAM) entries.",
);
pub const NUM_GROUPS: Reg = ro(
    "NUM_GROUPS",
    0x010,
    crate::params::NUM_GROUPS,
    "Number of multicast event groups.",
);
pub const NUM_TIMERS: Reg = ro(
    "NUM_TIMERS",
    0x014,
    crate::params::NUM_TIMERS,
    "Number of timers.",
);
pub const EVENT_BYTES: Reg = ro(
    "EVENT_BYTES",
    0x018,
    crate::params::EVENT_BYTES,
    "Bytes per event record.",
);
pub const DATA_BITS: Reg = ro(
    "DATA_BITS",
    0x01c,
    crate::params::DATA_BITS,
    "Width of the MAC data path in bits.",
);
pub const CLOCK_KHZ: Reg = ro(
    "CLOCK_KHZ",
    0x020,
    (crate::params::CLOCK_HZ / 1000) as u32,
    "Nominal core clock in kHz, to convert cycle counts to time.",
);
pub const SCRATCH: Reg = Reg {
    name: "SCRATCH",
    offset: 0x024,
    access: Access::Rw,
    reset: 0,
    doc: "Free for software; reads back what was written.",
    fields: &[],
};

/// `CONTROL.ENABLE`: the core accepts frames and produces events only while set.
pub const CONTROL_ENABLE: Field = Field {
    name: "ENABLE",
    lsb: 0,
    width: 1,
    doc: "Core enabled: frames are accepted and events produced.",
};
/// `CONTROL.SOFT_RESET`: writing 1 resets all state but the bus counters; reads as 0.
pub const CONTROL_SOFT_RESET: Field = Field {
    name: "SOFT_RESET",
    lsb: 1,
    width: 1,
    doc: "Write 1 to reset every block's state (queues, tables, timers, counters but BUS_ERRORS); self-clearing, reads 0.",
};
pub const CONTROL: Reg = Reg {
    name: "CONTROL",
    offset: 0x028,
    access: Access::Rw,
    reset: 0,
    doc: "Global control.",
    fields: &[CONTROL_ENABLE, CONTROL_SOFT_RESET],
};
/// `STATUS.READY`: every block has cleared its state after a reset.
pub const STATUS_READY: Field = Field {
    name: "READY",
    lsb: 0,
    width: 1,
    doc: "Every block has cleared its state RAM after a reset. Low from a reset (power-on or CONTROL.SOFT_RESET) until then; software waits for it before using any other block's registers (their accesses are refused meanwhile).",
};
pub const STATUS: Reg = Reg {
    name: "STATUS",
    offset: 0x02c,
    access: Access::Ro,
    reset: 0,
    doc: "Device status.",
    fields: &[STATUS_READY],
};
pub const CYCLES_LO: Reg = ro(
    "CYCLES_LO",
    0x030,
    0,
    "Free-running cycle counter, bits 31:0. Reading it latches bits 63:32 into CYCLES_HI.",
);
pub const CYCLES_HI: Reg = ro(
    "CYCLES_HI",
    0x034,
    0,
    "Bits 63:32 of the cycle counter as latched by the last CYCLES_LO read.",
);
pub const BUS_ERRORS: Reg = Reg {
    name: "BUS_ERRORS",
    offset: 0x040,
    access: Access::Rc,
    reset: 0,
    doc: "Count of register accesses to unmapped offsets, misaligned or partial-strobe accesses and writes to read-only registers. Any write clears it (and is not itself counted).",
    fields: &[],
};
pub const BUS_ERROR_ADDR: Reg = ro(
    "BUS_ERROR_ADDR",
    0x044,
    0,
    "Byte address of the last access counted in BUS_ERRORS.",
);

pub const IRQ_QUEUE_VI: Field = Field {
    name: "VI",
    lsb: 0,
    width: 8,
    doc: "The interrupt queue's VI.",
};
pub const IRQ_QUEUE_ENABLE: Field = Field {
    name: "ENABLE",
    lsb: 31,
    width: 1,
    doc: "Interrupt indirection on.",
};
pub const IRQ_QUEUE: Reg = Reg {
    name: "IRQ_QUEUE",
    offset: 0x080,
    access: Access::Rw,
    reset: 0,
    doc: "The interrupt queue: WAKEUP events naming woken queues go to it, and only it raises the interrupt (when primed).",
    fields: &[IRQ_QUEUE_VI, IRQ_QUEUE_ENABLE],
};
pub const IRQ_HOLDOFF: Reg = Reg {
    name: "IRQ_HOLDOFF",
    offset: 0x084,
    access: Access::Rw,
    reset: 0,
    doc: "Minimum cycles between two interrupts; an interrupt due earlier is raised when the hold-off ends.",
    fields: &[],
};
pub const IRQ_COUNT: Reg = ro("IRQ_COUNT", 0x088, 0, "Interrupts raised.");
pub const WAKEUP_COUNT: Reg = ro(
    "WAKEUP_COUNT",
    0x08c,
    0,
    "WAKEUP events posted (armed queues woken and watchdogs).",
);
pub const EVENTS_WRITTEN: Reg = ro(
    "EVENTS_WRITTEN",
    0x090,
    0,
    "Events written into queues, all queues (wraps).",
);
pub const EVENTS_DROPPED: Reg = ro(
    "EVENTS_DROPPED",
    0x094,
    0,
    "Events not written for a full or disabled queue, all queues (wraps).",
);

pub const REGS: &[Reg] = &[
    ID,
    VERSION,
    NUM_VIS,
    NUM_FILTERS,
    NUM_GROUPS,
    NUM_TIMERS,
    EVENT_BYTES,
    DATA_BITS,
    CLOCK_KHZ,
    SCRATCH,
    CONTROL,
    STATUS,
    CYCLES_LO,
    CYCLES_HI,
    BUS_ERRORS,
    BUS_ERROR_ADDR,
    IRQ_QUEUE,
    IRQ_HOLDOFF,
    IRQ_COUNT,
    WAKEUP_COUNT,
    EVENTS_WRITTEN,
    EVENTS_DROPPED,
];

pub const PAGE: Page = Page {
    name: "global",
    base: super::GLOBAL_PAGE_BASE,
    stride: super::PAGE_BYTES,
    count: 1,
    doc: "Identity, parameters, control, cycle counter and bus statistics.",
    regs: REGS,
};
