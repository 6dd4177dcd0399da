//! # evnic
//!
//! Events from an FPGA NIC to many listeners, delivered into host memory by DMA and read by
//! polling: no system call on the fast path. The same library drives a real board through VFIO
//! or, by default, the Verilator model of the very same RTL.
//!
//! ```no_run
//! let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
//! let info = nic.info()?;
//! println!("{} v{}.{} with {} VIs", info.id, info.version.0, info.version.1, info.vis);
//! # Ok::<(), evnic::Error>(())
//! ```

pub mod backend;
pub mod batch;
pub mod config;
#[cfg(feature = "sim")]
pub mod demo;
pub mod dispatch;
pub mod endpoint;
mod engine;
pub mod filter_spec;
pub mod filters;
pub mod receive;
#[cfg(feature = "sim")]
pub mod replay;
pub mod stats;
pub mod timer;
pub mod transmit;
#[cfg(feature = "sim")]
pub mod txcmd;
mod wait;

pub use config::{EndpointConfig, DEFAULT_SPIN, SPIN_ENV};
pub use dispatch::{Dispatcher, Registration};
pub use endpoint::{Endpoint, EndpointCounters, MAX_INDICATION_PAYLOAD};
pub use evnic_regs::event::{ErrorCode, Event, EventType};
pub use stats::{EndpointStats, Stats, TimerStats};
pub use timer::{Ticks, Timer, TimerTarget};

use backend::{Backend, BackendError};
use evnic_regs::map::{global as g, global_reg};
use std::sync::{Arc, Mutex};

/// Errors of the library. Each says what went wrong and what to do about it.
#[derive(Debug)]
pub enum Error {
    /// The device could not be reached or misbehaved.
    Backend(BackendError),
    /// The device answered but is not an evnic device (wrong ID register).
    NotEvnic { id: u32 },
    /// The device's version is one this library does not speak.
    UnsupportedVersion { major: u16, minor: u16 },
    /// A device specification string could not be understood.
    BadDeviceSpec(String),
    /// An event ring size the device cannot take.
    QueueSize { requested: u32, min: u32, max: u32 },
    /// Every VI is in use (the last one is the library's interrupt queue).
    NoFreeVi { vis: u32, reserved: u32 },
    /// Every timer is in use.
    NoFreeTimer { timers: u32 },
    /// An indication payload wider than the 24 bits the doorbell carries.
    PayloadTooLarge { payload: u32, max: u32 },
    /// A group number the device does not have.
    GroupOutOfRange { group: u32, groups: u32 },
    /// A timer setting the device cannot take (the text says which and why).
    BadTimer(String),
    /// A configuration value that cannot be used (the text says which and why).
    BadConfig(String),
    /// A filter entry index the device does not have.
    BadFilterIndex { index: u32, count: u32 },
    /// A filter written in the text syntax that does not parse.
    Filter(filter_spec::SpecError),
    /// A batched configuration operation that cannot follow the one already recorded.
    Batch(batch::CoalesceError),
    /// Every buffer of a transmit ring is in flight: complete some (their TX_DONE events) first.
    TxRingFull { slots: u32 },
    /// The device stopped behaving (a queue did not enable, a doorbell failed, the interrupt
    /// thread stopped): the text says what was seen.
    Wedged(String),
    /// A system call of the library failed.
    Os {
        call: &'static str,
        err: std::io::Error,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::BadFilterIndex { index, count } => write!(
                f,
                "filter entry {index} does not exist: the device has entries 0..{count} (0 is the highest priority)"
            ),
            Error::Filter(e) => write!(f, "{e}"),
            Error::Batch(e) => write!(f, "batched configuration: {e}"),
            Error::TxRingFull { slots } => write!(
                f,
                "all {slots} transmit buffers are in flight: handle their TX_DONE events with Transmitter::complete, or use a larger ring"
            ),
            Error::Backend(e) => write!(f, "{e}"),
            Error::NotEvnic { id } => write!(
                f,
                "the device's ID register reads {id:#010x}, not {:#010x} (\"EVNC\"): this is not an evnic device; check the PCI address",
                evnic_regs::params::DEVICE_ID
            ),
            Error::UnsupportedVersion { major, minor } => write!(
                f,
                "device version {major}.{minor} is not supported by this library (major {}): update the library or the bitstream",
                evnic_regs::params::VERSION >> 16
            ),
            Error::BadDeviceSpec(s) => write!(
                f,
                "cannot understand device {s:?}: use \"sim\" for the simulated device or \"vfio:DDDD:BB:DD.F\" for a PCI function bound to vfio-pci"
            ),
            Error::QueueSize { requested, min, max } => write!(
                f,
                "an event ring of {requested} events is not possible: use a power of two from {min} to {max} (EndpointConfig::with_ring_events)"
            ),
            Error::NoFreeVi { vis, reserved } => write!(
                f,
                "no VI left: the device has {vis}, {reserved} of them the library's interrupt queue, and all the others are open endpoints; drop an endpoint first"
            ),
            Error::NoFreeTimer { timers } => write!(
                f,
                "no timer left: all {timers} device timers are held; drop a Timer first"
            ),
            Error::PayloadTooLarge { payload, max } => write!(
                f,
                "indication payload {payload:#x} does not fit the 24-bit doorbell field (at most {max:#x}): send larger data another way, e.g. as an index into shared memory"
            ),
            Error::GroupOutOfRange { group, groups } => write!(
                f,
                "group {group} does not exist: the device has groups 0..{groups}"
            ),
            Error::BadTimer(s) => write!(f, "timer: {s}"),
            Error::BadConfig(s) => write!(f, "configuration: {s}"),
            Error::Wedged(s) => write!(f, "device wedged: {s}"),
            Error::Os { call, err } => write!(f, "{call} failed: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Backend(e) => Some(e),
            Error::Os { err, .. } => Some(err),
            _ => None,
        }
    }
}

impl From<filter_spec::SpecError> for Error {
    fn from(e: filter_spec::SpecError) -> Self {
        Error::Filter(e)
    }
}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        Error::Backend(e)
    }
}

/// Which device to open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The Verilator model of the core, running on a thread of this process (the default).
    #[default]
    Sim,
    /// A PCI function bound to vfio-pci, by address (`0000:01:00.0`).
    Vfio(String),
}

impl std::str::FromStr for DeviceSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if s == "sim" {
            return Ok(DeviceSpec::Sim);
        }
        if let Some(addr) = s.strip_prefix("vfio:") {
            let ok = addr.len() == 12
                && addr.char_indices().all(|(i, c)| match i {
                    4 | 7 => c == ':',
                    10 => c == '.',
                    _ => c.is_ascii_hexdigit(),
                });
            if ok {
                return Ok(DeviceSpec::Vfio(addr.to_string()));
            }
        }
        Err(Error::BadDeviceSpec(s.to_string()))
    }
}

/// Identity and parameters read from the device's global page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The ID register as text ("EVNC").
    pub id: String,
    /// (major, minor).
    pub version: (u16, u16),
    pub vis: u32,
    pub filters: u32,
    pub groups: u32,
    pub timers: u32,
    pub event_bytes: u32,
    pub data_bits: u32,
    pub clock_khz: u32,
    /// What the device is ("simulation (...)", "vfio 0000:01:00.0").
    pub backend: String,
}

/// An open evnic device.
pub struct Nic {
    dev: Arc<dyn Backend>,
    /// Endpoints, timers and the interrupt thread; started by the first endpoint or timer.
    events: Mutex<Option<Arc<engine::EventCore>>>,
    /// What each filter entry holds (the device cannot be read back); its lock also serialises
    /// the use of the filter page's staging registers.
    filters: Mutex<filters::FilterShadow>,
}

impl Nic {
    /// Opens the device: the simulated one, or a PCI function through VFIO. Checks that it is an
    /// evnic device of a supported version.
    pub fn open(spec: DeviceSpec) -> Result<Nic, Error> {
        let dev: Arc<dyn Backend> = match spec {
            #[cfg(feature = "sim")]
            DeviceSpec::Sim => Arc::new(backend::sim::SimBackend::start(Default::default())?),
            #[cfg(not(feature = "sim"))]
            DeviceSpec::Sim => {
                return Err(Error::Backend(BackendError::NotFound(
                    "this build has no simulated device (feature \"sim\" is off)".into(),
                )))
            }
            #[cfg(feature = "vfio")]
            DeviceSpec::Vfio(addr) => Arc::new(backend::vfio::VfioBackend::open(&addr)?),
            #[cfg(not(feature = "vfio"))]
            DeviceSpec::Vfio(addr) => {
                return Err(Error::Backend(BackendError::NotFound(format!(
                    "vfio:{addr}: this build has no VFIO backend (feature \"vfio\" is off)"
                ))))
            }
        };
        Nic::with_backend(dev)
    }

    /// Uses an already-open backend (checks the ID and version like [`Nic::open`]).
    pub fn with_backend(dev: Arc<dyn Backend>) -> Result<Nic, Error> {
        let id = dev.read32(global_reg(&g::ID))?;
        if id != evnic_regs::params::DEVICE_ID {
            return Err(Error::NotEvnic { id });
        }
        let v = dev.read32(global_reg(&g::VERSION))?;
        let (major, minor) = ((v >> 16) as u16, v as u16);
        if u32::from(major) != evnic_regs::params::VERSION >> 16 {
            return Err(Error::UnsupportedVersion { major, minor });
        }
        Ok(Nic {
            dev,
            events: Mutex::new(None),
            filters: Mutex::new(Default::default()),
        })
    }

    /// The device's identity and parameters.
    pub fn info(&self) -> Result<DeviceInfo, Error> {
        let r = |reg| self.dev.read32(global_reg(reg));
        let id = r(&g::ID)?;
        let v = r(&g::VERSION)?;
        Ok(DeviceInfo {
            id: String::from_utf8_lossy(&id.to_le_bytes()).into_owned(),
            version: ((v >> 16) as u16, v as u16),
            vis: r(&g::NUM_VIS)?,
            filters: r(&g::NUM_FILTERS)?,
            groups: r(&g::NUM_GROUPS)?,
            timers: r(&g::NUM_TIMERS)?,
            event_bytes: r(&g::EVENT_BYTES)?,
            data_bits: r(&g::DATA_BITS)?,
            clock_khz: r(&g::CLOCK_KHZ)?,
            backend: self.dev.describe(),
        })
    }

    /// The device's free-running cycle counter.
    pub fn cycles(&self) -> Result<u64, Error> {
        let lo = self.dev.read32(global_reg(&g::CYCLES_LO))?;
        let hi = self.dev.read32(global_reg(&g::CYCLES_HI))?;
        Ok(((hi as u64) << 32) | lo as u64)
    }

    /// The backend, for what the typed API does not cover yet.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.dev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs_parse_or_explain() {
        assert_eq!("sim".parse::<DeviceSpec>().unwrap(), DeviceSpec::Sim);
        assert_eq!(
            "vfio:0000:01:00.0".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::Vfio("0000:01:00.0".into())
        );
        for bad in [
            "",
            "vfio:",
            "vfio:01:00.0",
            "pci:0000:01:00.0",
            "vfio:0000-01:00.0",
        ] {
            let e = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(e.to_string().contains("vfio:DDDD:BB:DD.F"), "{bad}: {e}");
        }
    }

    #[cfg(feature = "sim")]
    #[test]
    fn opens_the_simulated_device_and_reads_its_parameters() {
        let nic = Nic::open(DeviceSpec::Sim).unwrap();
        let info = nic.info().unwrap();
        assert_eq!(info.id, "EVNC");
        assert_eq!(info.vis, evnic_regs::params::NUM_VIS);
        assert!(info.backend.starts_with("simulation"));
        let a = nic.cycles().unwrap();
        let b = nic.cycles().unwrap();
        assert!(b > a);
    }
}
