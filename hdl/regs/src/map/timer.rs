//! The timer page: [`crate::params::NUM_TIMERS`] timers, 32 bytes each. A timer fires at an
//! exact cycle: `FIRST` cycles after it is armed, then every `PERIOD + PERIOD_FRAC / 65536`
//! cycles (the fraction accumulates, so a 3.33 ms period at 156.25 MHz, 520312.5 cycles, stays
//! on schedule to within one cycle forever). Each firing posts a TIMER event (source = timer,
//! payload = `PAYLOAD`, timestamp = the firing cycle) to a VI or a group. A periodic timer's
//! period is at least [`MIN_PERIOD`] cycles.

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

pub const FIRST: Reg = reg(
    "FIRST",
    0x00,
    Access::Rw,
    "Cycles from arming to the first firing (0 counts as 1).",
);
/// The shortest period of a periodic timer, in cycles (1.6 us at 156.25 MHz): the device finds
/// due timers by visiting each one at least this often, and a timer firing faster would fall
/// behind.
pub const MIN_PERIOD: u32 = 256;

pub const PERIOD: Reg = reg(
    "PERIOD",
    0x04,
    Access::Rw,
    "Whole cycles between firings; 0 makes the timer one-shot. Values 1..MIN_PERIOD-1 (MIN_PERIOD = 256) are refused.",
);
pub const PERIOD_FRAC: Reg = reg(
    "PERIOD_FRAC",
    0x08,
    Access::Rw,
    "Fraction of a cycle added to PERIOD, in 1/65536 (bits 15:0); a one-shot timer ignores it.",
);
pub const TARGET_ID: Field = Field {
    name: "ID",
    lsb: 0,
    width: 8,
    doc: "VI or group number.",
};
pub const TARGET_GROUP: Field = Field {
    name: "GROUP",
    lsb: 8,
    width: 1,
    doc: "1: ID is a group; 0: a VI.",
};
pub const TARGET: Reg = Reg {
    name: "TARGET",
    offset: 0x0c,
    access: Access::Rw,
    reset: 0,
    doc: "Where TIMER events go.",
    fields: &[TARGET_ID, TARGET_GROUP],
};
pub const PAYLOAD: Reg = reg("PAYLOAD", 0x10, Access::Rw, "Payload of the TIMER events.");
pub const CONTROL_ARM: Field = Field {
    name: "ARM",
    lsb: 0,
    width: 1,
    doc: "Write 1 to arm (first firing FIRST cycles later), 0 to cancel; reads 1 while armed.",
};
pub const CONTROL: Reg = Reg {
    name: "CONTROL",
    offset: 0x14,
    access: Access::Rw,
    reset: 0,
    doc: "Arm or cancel. Re-arming an armed timer restarts it.",
    fields: &[CONTROL_ARM],
};
pub const FIRES: Reg = reg(
    "FIRES",
    0x18,
    Access::Ro,
    "Times this timer fired since armed (wraps).",
);
pub const MISSED: Reg = reg(
    "MISSED",
    0x1c,
    Access::Ro,
    "Firings that found the previous TIMER event of this timer still waiting for the event engine (counted, not queued).",
);

pub const REGS: &[Reg] = &[
    FIRST,
    PERIOD,
    PERIOD_FRAC,
    TARGET,
    PAYLOAD,
    CONTROL,
    FIRES,
    MISSED,
];

pub const PAGE: Page = Page {
    name: "timer",
    base: super::TIMER_PAGE_BASE,
    stride: 0x20,
    count: crate::params::NUM_TIMERS,
    doc: "One block of registers per timer.",
    regs: REGS,
};
