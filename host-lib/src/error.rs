//! The library's errors. Each says what went wrong and what to do about it; [`Error::kind`]
//! sorts them for programs that act on the class of failure (a tool's exit code).

use crate::backend::BackendError;
use std::sync::Arc;

/// Errors of the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The device could not be reached or misbehaved.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The device's filter tables stayed busy: a filter entry could not be written.
    #[error("the filter tables stayed busy (STATUS.BUSY) for {polls} reads: the device's table writer hangs; reset the device")]
    FilterBusy {
        /// Reads of STATUS made.
        polls: u32,
    },
    /// The device answered but is not an evnic device (wrong ID register).
    #[error("the device's ID register reads {id:#010x}, not {:#010x} (\"EVNC\"): this is not an evnic device; check the PCI address", evnic_regs::params::DEVICE_ID)]
    NotEvnic {
        /// What the ID register read.
        id: u32,
    },
    /// The device's version is one this library does not speak.
    #[error("device version {major}.{minor} is not supported by this library (major {}): update the library or the bitstream", evnic_regs::params::VERSION >> 16)]
    UnsupportedVersion {
        /// The device's major version.
        major: u16,
        /// The device's minor version.
        minor: u16,
    },
    /// A device specification string could not be understood.
    #[error("cannot understand device {given:?}: use \"sim\" for the simulated device, \"vfio:DDDD:BB:DD.F\" for a PCI function bound to vfio-pci, or \"hub:PATH\" for the device of an evnic hub")]
    BadDeviceSpec {
        /// What was given.
        given: String,
    },
    /// This build of the library lacks what was asked for.
    #[error(
        "{what}: this build has no {feature} (enable the evnic crate's \"{feature}\" feature)"
    )]
    FeatureDisabled {
        /// The feature that is off.
        feature: &'static str,
        /// What needed it.
        what: String,
    },
    /// The device's parameter registers read values no evnic device has.
    #[error("implausible device parameters ({vis} VIs, {groups} groups, {timers} timers): the BAR reads garbage; reset or reload the device")]
    ImplausibleParams {
        /// `NUM_VIS`.
        vis: u32,
        /// `NUM_GROUPS`.
        groups: u32,
        /// `NUM_TIMERS`.
        timers: u32,
    },
    /// An event ring size the device cannot take.
    #[error("an event ring of {requested} events is not possible: use a power of two from {min} to {max} (EndpointConfig::with_ring_events)")]
    QueueSize {
        /// Events asked for.
        requested: u32,
        /// Smallest ring.
        min: u32,
        /// Largest ring.
        max: u32,
    },
    /// The read-count doorbell batch does not fit the ring.
    #[error("doorbell_every = {every} for a ring of {ring} events: use 1..={} (space returned later than half the ring makes the device drop events)", ring / 2)]
    DoorbellBatch {
        /// Events per doorbell asked for.
        every: u32,
        /// The ring's size in events.
        ring: u32,
    },
    /// The spin-time environment variable holds something that is not a number.
    #[error("{}={value:?} is not a whole number of microseconds: use e.g. {}=50, or 0 to block without spinning", crate::SPIN_ENV, crate::SPIN_ENV)]
    SpinEnv {
        /// What it holds.
        value: String,
    },
    /// A receive or transmit ring size the device cannot take.
    #[error("a {ring} of 2^{log2} buffers: the device takes 2^{}..=2^{}", range.start(), range.end())]
    RingSize {
        /// Which ring.
        ring: &'static str,
        /// log2 of the buffers asked for.
        log2: u32,
        /// What the device takes.
        range: std::ops::RangeInclusive<u32>,
    },
    /// A buffer size a ring cannot use.
    #[error("{ring} buffers of {len} bytes: use {min}..={max}")]
    BufferSize {
        /// Which ring.
        ring: &'static str,
        /// Bytes asked for.
        len: u32,
        /// Smallest buffer.
        min: u32,
        /// Largest buffer.
        max: u32,
    },
    /// A frame that does not fit the transmit ring's buffers.
    #[error("a frame of {len} bytes: this transmit ring takes 1..={max} (without FCS)")]
    FrameSize {
        /// Its length.
        len: usize,
        /// The longest this ring sends.
        max: usize,
    },
    /// A CRC-32C span whose 4 CRC bytes do not fit in the frame.
    #[error("CRC-32C span {offset}+{len} and its 4 bytes do not fit a {frame}-byte frame")]
    CrcSpan {
        /// Span offset.
        offset: u16,
        /// Span length.
        len: u16,
        /// Frame length.
        frame: usize,
    },
    /// Every VI is in use (the last one is the library's interrupt queue).
    #[error("no VI left: the device has {vis}, {reserved} of them the library's interrupt queue, and all the others are open endpoints; drop an endpoint first")]
    NoFreeVi {
        /// VIs of the device.
        vis: u32,
        /// VIs the library keeps for itself.
        reserved: u32,
    },
    /// A VI asked for by number is already an open endpoint.
    #[error("VI {vi} is already an open endpoint of this device")]
    ViInUse {
        /// The VI.
        vi: u32,
    },
    /// A VI number the device does not have, or the library's own interrupt queue.
    #[error("VI {vi} is not an endpoint's VI: endpoints are VIs 0..{irq_vi}; VI {irq_vi} is the library's interrupt queue")]
    ViOutOfRange {
        /// The VI.
        vi: u32,
        /// The interrupt queue's VI (the last one).
        irq_vi: u32,
    },
    /// Every timer is in use.
    #[error("no timer left: all {timers} device timers are held; drop a Timer first")]
    NoFreeTimer {
        /// Timers of the device.
        timers: u32,
    },
    /// Every filter entry is in use.
    #[error("no filter entry left: all {filters} entries are in use; drop a Filter handle or remove an entry first")]
    NoFreeFilter {
        /// Entries of the device.
        filters: u32,
    },
    /// A filter that fits an exact-match profile whose slots within its key's reach are taken,
    /// while every ternary entry is in use too.
    #[error("no filter entry left: exact-match profile {profile} has no free slot within its {hops} probes for this key (even after moving entries), and all {filters} ternary entries are in use; remove a filter first")]
    FilterTablesFull {
        /// The exact-match profile tried last.
        profile: u8,
        /// Probes of the device per profile.
        hops: u32,
        /// Ternary entries of the device.
        filters: u32,
    },
    /// Every free ternary entry ranks above an installed filter that overlaps the new one, which
    /// must keep winning the frames both match.
    #[error("no free filter entry after entry {after}, which overlaps this filter and must keep its frames: remove an entry after it, or place the filter with add_filter_at")]
    FilterOrder {
        /// The overlapping entry with the highest index.
        after: u32,
    },
    /// An exact-match profile number the device does not have.
    #[error("exact-match profile {profile} does not exist: the device has profiles 0..{profiles}")]
    BadProfile {
        /// The profile.
        profile: u8,
        /// Profiles of the device.
        profiles: u8,
    },
    /// A profile mask that cannot be set: the profile's table holds entries, or the mask has
    /// bits outside the key words the profile stores.
    #[error("exact-match profile {profile}'s mask cannot change: {why}")]
    ProfileMask {
        /// The profile.
        profile: u8,
        /// Why.
        why: String,
    },
    /// An indication payload wider than the 24 bits the doorbell carries.
    #[error("indication payload {payload:#x} does not fit the 24-bit doorbell field (at most {max:#x}): send larger data another way, e.g. as an index into shared memory")]
    PayloadTooLarge {
        /// The payload.
        payload: u32,
        /// The largest payload.
        max: u32,
    },
    /// A group number the device does not have.
    #[error("group {group} does not exist: the device has groups 0..{groups}")]
    GroupOutOfRange {
        /// The group.
        group: u32,
        /// Groups of the device.
        groups: u32,
    },
    /// A timer's first firing further away than its register holds.
    #[error("a first firing {cycles} cycles away is past the 32-bit FIRST register (at most {max} cycles): fire earlier and count periods")]
    TimerTooFar {
        /// Cycles asked for.
        cycles: u64,
        /// The most the register holds.
        max: u64,
    },
    /// A timer period the device cannot take.
    #[error("a period of {cycles} whole cycles: use {min}..={max} (the device visits each timer once per {min} cycles; a zero period is what one_shot programs)")]
    TimerPeriod {
        /// Whole cycles asked for.
        cycles: u64,
        /// The shortest period (`evnic_regs::map::timer::MIN_PERIOD`).
        min: u64,
        /// The longest period.
        max: u64,
    },
    /// A filter entry index the device does not have.
    #[error("filter entry {index} does not exist: the device has entries 0..{count} (0 is the highest priority)")]
    BadFilterIndex {
        /// The index.
        index: u32,
        /// Entries of the device.
        count: u32,
    },
    /// A filter entry that is in use where a free one was needed.
    #[error("filter entry {index} is in use: remove it first, or modify it")]
    FilterInUse {
        /// The index.
        index: u32,
    },
    /// A filter handle whose entry was removed or replaced by someone else.
    #[error(
        "filter entry {index} no longer holds this handle's filter (it was removed or replaced)"
    )]
    FilterGone {
        /// The index.
        index: u32,
    },
    /// A default action that multicasts (the device takes a VI or drop).
    #[error("the default action must be a VI or drop; use a catch-all entry (`any -> group N`) to multicast unmatched frames")]
    DefaultActionGroup,
    /// A filter written in the text syntax that does not parse.
    #[error(transparent)]
    Filter(#[from] crate::filter_spec::SpecError),
    /// A batched configuration operation that cannot follow the one already recorded.
    #[error("batched configuration: {0}")]
    Batch(#[from] crate::batch::CoalesceError),
    /// A batched operation that does not fit the current state (nothing was written).
    #[error("{op} {target}: {}", if *present { "already present (use MOD)" } else { "not present (use ADD)" })]
    BatchState {
        /// ADD, MOD or DEL.
        op: &'static str,
        /// What it was for.
        target: String,
        /// Whether the target exists now.
        present: bool,
    },
    /// Every buffer of a transmit ring is in flight: complete some (their TX_DONE events) first.
    #[error("all {slots} transmit buffers are in flight: handle their TX_DONE events with Transmitter::complete, or use a larger ring")]
    TxRingFull {
        /// Buffers of the ring.
        slots: u32,
    },
    /// The endpoint already has a ring of this kind.
    #[error("VI {vi} already has a {ring}: drop it first (an endpoint has one of each)")]
    RingInUse {
        /// The endpoint's VI.
        vi: u32,
        /// Which ring.
        ring: &'static str,
    },
    /// A queue did not enable when programmed.
    #[error("VI {vi}'s event queue did not enable (EVQ_STATUS {status:#x}): reset the device")]
    QueueNotEnabled {
        /// The VI.
        vi: u32,
        /// What `EVQ_STATUS` read.
        status: u32,
    },
    /// The device failed under the library (a posted doorbell or the interrupt thread's access
    /// failed): endpoints can still poll, nothing else can be trusted; reset the device.
    #[error("the device failed during {during}: {cause}; reset it")]
    DeviceFailed {
        /// What the library was doing.
        during: &'static str,
        /// The access that failed.
        #[source]
        cause: Arc<BackendError>,
    },
    /// A [`crate::Poller`] change that does not fit its members (nothing was recorded).
    #[error("{op} of fd {fd} in the poller: the fd {why}")]
    PollerMember {
        /// The fd.
        fd: i32,
        /// ADD, MOD or DEL.
        op: &'static str,
        /// Why not.
        why: &'static str,
    },
    /// The kernel refused a [`crate::Poller`]'s interest change (every other change was
    /// applied; the fd is no longer a member).
    #[error("{op} of fd {fd} in the poller's epoll set failed: {err}")]
    PollerCtl {
        /// The fd.
        fd: i32,
        /// ADD, MOD or DEL.
        op: &'static str,
        /// What the kernel said.
        #[source]
        err: std::io::Error,
    },
    /// A system call of the library failed.
    #[error("{call} failed: {err}")]
    Os {
        /// The call.
        call: &'static str,
        /// The OS error.
        #[source]
        err: std::io::Error,
    },
}

impl From<evnic_proto::filter::FilterError<BackendError>> for Error {
    fn from(e: evnic_proto::filter::FilterError<BackendError>) -> Error {
        match e {
            evnic_proto::filter::FilterError::Access(b) => Error::Backend(b),
            evnic_proto::filter::FilterError::Busy => Error::FilterBusy {
                polls: evnic_proto::filter::IDLE_POLLS,
            },
        }
    }
}

/// The class of an [`Error`], for programs that act on it (a tool's exit code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No such device, or it cannot be opened (address, binding, permissions, IOMMU).
    NoDevice,
    /// The device is not an evnic device, or not a version this library speaks.
    NotEvnic,
    /// A value, configuration or request the device or library cannot take.
    Config,
    /// Everything of a kind is in use (VIs, timers, filter entries, transmit buffers).
    Exhausted,
    /// The device failed or misbehaved (bus errors, timeouts, a queue that does not enable).
    DeviceFailed,
    /// A system call failed.
    Os,
    /// This build lacks what was asked for.
    Unsupported,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        use Error as E;
        match self {
            E::Backend(b) => b.kind(),
            E::NotEvnic { .. } | E::UnsupportedVersion { .. } => ErrorKind::NotEvnic,
            E::FeatureDisabled { .. } => ErrorKind::Unsupported,
            E::ImplausibleParams { .. }
            | E::QueueNotEnabled { .. }
            | E::DeviceFailed { .. }
            | E::FilterBusy { .. } => ErrorKind::DeviceFailed,
            E::NoFreeVi { .. }
            | E::NoFreeTimer { .. }
            | E::NoFreeFilter { .. }
            | E::FilterTablesFull { .. }
            | E::FilterOrder { .. }
            | E::TxRingFull { .. } => ErrorKind::Exhausted,
            E::Os { .. } | E::PollerCtl { .. } => ErrorKind::Os,
            _ => ErrorKind::Config,
        }
    }
}
