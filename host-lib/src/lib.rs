//! # evnic
//!
//! Events from an FPGA NIC to many listeners, delivered into host memory by DMA and read by
//! polling: no system call on the fast path. The library drives a real board through VFIO
//! (feature `vfio`, the default) or the Verilator model of the very same RTL (feature `sim`,
//! which builds the model from source and so needs Verilator and Yosys at build time).
//!
//! ```no_run
//! use evnic::{DeviceSpec, EndpointConfig, EventKind, Filter, Group, Nic, TxOptions};
//! use std::time::Duration;
//!
//! fn main() -> Result<(), evnic::Error> {
//!     let nic = Nic::open(DeviceSpec::Sim)?; // or "vfio:0000:01:00.0".parse()?
//!     let listener = nic.endpoint(EndpointConfig::default())?; // a VI with its event queue
//!     let producer = nic.endpoint(EndpointConfig::default())?;
//!     let group = Group(7);
//!     listener.subscribe(group)?; // a listener of group 7
//!     producer.register_producer(group)?; // allowed to indicate into group 7
//!     producer.indicate(group, 0x1234)?; // one register write; the device multicasts
//!     let ev = listener.wait(Some(Duration::from_secs(5)))?; // poll, spin, then prime and block
//!     assert!(matches!(
//!         ev.map(|e| e.kind()),
//!         Some(EventKind::Indication { payload: 0x1234, .. })
//!     ));
//!
//!     // Filters: the handle removes its entry when dropped.
//!     let ptp = nic.add_filter(Filter::new().udp_dst(319).to_group(group)?)?;
//!     let mut batch = nic.configure(); // recorded, coalesced, applied in one burst
//!     batch.add_filter(1, "ethertype 0x8902 -> group 5".parse()?)?;
//!     let applied = batch.apply()?;
//!
//!     let mut tx = producer.transmitter(4, 2048)?; // CRC-32C and the FCS in hardware
//!     tx.send(&[0u8; 60], TxOptions::default())?;
//!     println!(
//!         "entry {} ({} hits), {} batched entries",
//!         ptp.index(),
//!         ptp.hits()?,
//!         applied.filters.len()
//!     );
//!     Ok(())
//! }
//! ```
//!
//! The pieces: [`Nic`] (a device), [`Endpoint`] (a VI: its event queue, subscriptions and
//! producer rights, indications, polling and waiting), [`Dispatcher`] (callbacks), [`Timer`],
//! [`FilterHandle`] and [`Batch`] (receive filters), [`Receiver`] and [`Transmitter`]
//! (an endpoint's receive and transmit rings), [`Stats`] (every counter of the device).
//!
//! In event loops: an endpoint is `AsFd`; [`Poller`] waits on many endpoints and plain fds with
//! deferred, coalesced interest changes (one io_uring submit per wait); with feature `tokio`,
//! `AsyncEndpoint` (`recv().await`, a `Stream`); with feature `mio`, an endpoint is a
//! `mio::event::Source`.

#[cfg(feature = "tokio")]
mod async_endpoint;
pub mod backend;
pub mod batch;
mod clock;
pub mod config;
pub mod dispatch;
pub mod endpoint;
mod engine;
mod error;
pub mod event;
pub mod filter_spec;
mod filter_tables;
pub mod filters;
pub mod hub;
#[cfg(feature = "mio")]
mod mio;
pub mod poller;
pub mod receive;
pub mod stats;
pub mod timer;
pub mod transmit;
mod wait;

#[cfg(feature = "tokio")]
pub use async_endpoint::AsyncEndpoint;
pub use backend::{Backend, BackendError};
pub use batch::{Applied, Batch};
pub use clock::DeviceClock;
pub use config::{EndpointConfig, DEFAULT_SPIN, SPIN_ENV};
pub use dispatch::{Dispatcher, Registration};
pub use endpoint::{Endpoint, EndpointCounters, MAX_INDICATION_PAYLOAD};
pub use error::{Error, ErrorKind};
pub use event::{Event, EventKind, Group, Producer, RxFlags, RxSlot, Vi};
pub use evnic_proto::params::DeviceParams;
pub use evnic_proto::PciAddress;
pub use evnic_regs::event::{ErrorCode, EventType};
pub use filter_spec::{FilterAction, FilterSpec};
pub use filters::{EntryIndex, ExactProfile, Filter, FilterHandle, ProfileUse, TernaryReason};
pub use poller::{Interest, Poller, Ready, Token};
pub use receive::{Receiver, RxCounters};
pub use stats::{EndpointStats, Stats, TimerStats};
pub use timer::{Ticks, Timer, TimerTarget};
pub use transmit::{Transmitter, TxCompletion, TxCounters, TxOptions};

use evnic_proto::params;
use evnic_regs::map::{global as g, global_reg};
use std::sync::{Arc, Mutex};

/// Which device to open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The Verilator model of the core, running on a thread of this process (feature `sim`).
    #[default]
    Sim,
    /// A PCI function bound to vfio-pci.
    Vfio(PciAddress),
    /// The device of the evnic hub listening at this socket (see [`hub`]): shared with the
    /// hub's other clients.
    Hub(std::path::PathBuf),
}

impl std::str::FromStr for DeviceSpec {
    type Err = Error;
    /// `sim`, `vfio:DDDD:BB:DD.F`, `hub:PATH`, or `hub` (the hub at [`hub::default_socket`]).
    fn from_str(s: &str) -> Result<Self, Error> {
        if s == "sim" {
            return Ok(DeviceSpec::Sim);
        }
        if s == "hub" {
            return Ok(DeviceSpec::Hub(hub::default_socket()));
        }
        if let Some(p) = s.strip_prefix("hub:").filter(|p| !p.is_empty()) {
            return Ok(DeviceSpec::Hub(p.into()));
        }
        s.strip_prefix("vfio:")
            .and_then(|a| a.parse().ok())
            .map(DeviceSpec::Vfio)
            .ok_or_else(|| Error::BadDeviceSpec {
                given: s.to_string(),
            })
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Sim => write!(f, "sim"),
            DeviceSpec::Vfio(a) => write!(f, "vfio:{a}"),
            DeviceSpec::Hub(p) => write!(f, "hub:{}", p.display()),
        }
    }
}

/// An open evnic device.
pub struct Nic {
    dev: Arc<dyn Backend>,
    params: DeviceParams,
    /// Endpoints, timers and the interrupt thread; started by the first endpoint or timer.
    events: Mutex<Option<Arc<engine::EventCore>>>,
    /// What each filter entry holds (the device cannot be read back), shared with the handles.
    filters: Arc<filters::FilterTable>,
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
                return Err(Error::FeatureDisabled {
                    feature: "sim",
                    what: "the simulated device".into(),
                })
            }
            #[cfg(feature = "vfio")]
            DeviceSpec::Vfio(addr) => Arc::new(backend::vfio::VfioBackend::open(&addr)?),
            #[cfg(not(feature = "vfio"))]
            DeviceSpec::Vfio(addr) => {
                return Err(Error::FeatureDisabled {
                    feature: "vfio",
                    what: format!("vfio:{addr}"),
                })
            }
            DeviceSpec::Hub(path) => Arc::new(hub::HubBackend::connect(&path)?),
        };
        Nic::with_backend(dev)
    }

    /// Uses an already-open backend (checks the ID and version like [`Nic::open`]).
    pub fn with_backend(dev: Arc<dyn Backend>) -> Result<Nic, Error> {
        let params = DeviceParams::read(&mut &*dev)?;
        if !params.is_evnic() {
            return Err(Error::NotEvnic { id: params.id });
        }
        if !params.version_supported() {
            return Err(Error::UnsupportedVersion {
                major: params.major,
                minor: params.minor,
            });
        }
        Ok(Nic {
            filters: Arc::new(filters::FilterTable::new(dev.clone(), &params)?),
            dev,
            params,
            events: Mutex::new(None),
        })
    }

    /// The device's identity and parameters, as read when it was opened.
    pub fn params(&self) -> &DeviceParams {
        &self.params
    }

    /// What carries the device ("simulation (...)", "vfio 0000:01:00.0").
    pub fn describe(&self) -> String {
        self.dev.describe()
    }

    /// The device's free-running cycle counter (the clock of event timestamps).
    pub fn cycles(&self) -> Result<u64, Error> {
        Ok(params::cycles(&mut self.regs())?)
    }

    /// A converter of device cycles to time, anchored now.
    pub fn clock(&self) -> Result<DeviceClock, Error> {
        let cycles = self.cycles()?;
        Ok(DeviceClock::new(
            self.params.clock_khz,
            cycles,
            std::time::SystemTime::now(),
        ))
    }

    /// Starts (true) or stops (false) the receive and transmit paths (`CONTROL.ENABLE`). While
    /// stopped, frames from the wire are dropped and counted, never stalled; events from timers,
    /// indications and the device port flow either way.
    pub fn set_enabled(&self, on: bool) -> Result<(), Error> {
        self.dev.write32(
            global_reg(&g::CONTROL),
            g::CONTROL_ENABLE.put(u32::from(on)),
        )?;
        Ok(())
    }

    /// Sets the interrupt hold-off: at least `cycles` device cycles between two interrupts (an
    /// interrupt due earlier is raised when the hold-off ends; none is lost). Fewer interrupts
    /// under load, at the price of up to `cycles` of added wake-up latency. 0 (the reset value)
    /// turns it off.
    pub fn set_irq_holdoff(&self, cycles: u32) -> Result<(), Error> {
        self.dev.write32(global_reg(&g::IRQ_HOLDOFF), cycles)?;
        Ok(())
    }

    /// The interrupt hold-off in device cycles.
    pub fn irq_holdoff(&self) -> Result<u32, Error> {
        Ok(self.dev.read32(global_reg(&g::IRQ_HOLDOFF))?)
    }

    /// The backend, for what the typed API does not cover.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.dev
    }

    /// The simulated device, when this is one: frame injection, transmit capture, verdicts.
    #[cfg(feature = "sim")]
    pub fn sim(&self) -> Option<&backend::sim::SimBackend> {
        self.dev.sim()
    }

    /// The connection to the hub, when this device is reached through one.
    pub fn hub(&self) -> Option<&hub::HubBackend> {
        self.dev.hub()
    }

    /// The backend as the device protocol's register access.
    pub(crate) fn regs(&self) -> &dyn Backend {
        &*self.dev
    }

    /// The event side of the device, started on first use.
    pub(crate) fn core(&self) -> Result<Arc<engine::EventCore>, Error> {
        let mut slot = engine::lock(&self.events);
        if let Some(c) = &*slot {
            c.check()?;
            return Ok(c.clone());
        }
        let c = engine::EventCore::start(self.dev.clone(), self.params)?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Checks a group number against the device.
    pub(crate) fn check_group(&self, group: Group) -> Result<(), Error> {
        check_group(&self.params, group)
    }
}

pub(crate) fn check_group(params: &DeviceParams, group: Group) -> Result<(), Error> {
    if group.0 >= params.groups {
        return Err(Error::GroupOutOfRange {
            group: group.0,
            groups: params.groups,
        });
    }
    Ok(())
}

impl std::fmt::Debug for Nic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nic")
            .field("backend", &self.dev.describe())
            .field("params", &self.params)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs_parse_or_explain() {
        assert_eq!("sim".parse::<DeviceSpec>().unwrap(), DeviceSpec::Sim);
        let spec = "vfio:0000:01:00.0".parse::<DeviceSpec>().unwrap();
        assert_eq!(spec, DeviceSpec::Vfio("0000:01:00.0".parse().unwrap()));
        assert_eq!(spec.to_string(), "vfio:0000:01:00.0");
        let spec = "hub:/tmp/h.sock".parse::<DeviceSpec>().unwrap();
        assert_eq!(spec, DeviceSpec::Hub("/tmp/h.sock".into()));
        assert_eq!(spec.to_string(), "hub:/tmp/h.sock");
        assert!(matches!(
            "hub".parse::<DeviceSpec>(),
            Ok(DeviceSpec::Hub(_))
        ));
        for bad in [
            "",
            "vfio:",
            "vfio:01:00",
            "pci:0000:01:00.0",
            "vfio:0000-01:00.0",
        ] {
            let e = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(e.to_string().contains("vfio:DDDD:BB:DD.F"), "{bad}: {e}");
            assert_eq!(e.kind(), ErrorKind::Config);
        }
    }

    #[cfg(not(feature = "sim"))]
    #[test]
    fn without_the_sim_feature_the_simulated_device_is_refused_by_name() {
        let e = Nic::open(DeviceSpec::Sim).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("\"sim\" feature"), "{e}");
    }

    #[cfg(feature = "sim")]
    #[test]
    fn opens_the_simulated_device_and_reads_its_parameters() {
        let nic = Nic::open(DeviceSpec::Sim).unwrap();
        let p = nic.params();
        assert_eq!(p.id_text(), "EVNC");
        assert!(p.vis >= 2, "{p:?}");
        assert!(nic.describe().starts_with("simulation"));
        let a = nic.cycles().unwrap();
        let b = nic.cycles().unwrap();
        assert!(b > a);
        nic.set_irq_holdoff(1000).unwrap();
        assert_eq!(nic.irq_holdoff().unwrap(), 1000);
    }
}
