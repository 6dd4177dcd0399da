//! Several processes on one device: the hub owns the device and serves clients on a Unix socket.
//!
//! A client opens the device as [`crate::DeviceSpec::Hub`] (or `EVNIC_DEVICE=hub:PATH`) and
//! uses the whole library as it would in one process. What differs is underneath:
//!
//! - **Memory.** Every DMA buffer of a client (event rings, descriptor rings, frame buffers) is a
//!   memfd the client creates and passes to the hub with `SCM_RIGHTS`; both map it, the hub
//!   registers it with the device at an IOVA it chooses. A client's events are written by the
//!   device straight into memory the client polls: no copy, no system call per event.
//! - **Doorbells.** On the simulated device each open endpoint has a doorbell page, a memfd
//!   shared by the client and the hub ([`evnic_proto::doorbell`]): a doorbell (read count,
//!   prime, indication, descriptor write count) is one compare-and-swap and one store there, no
//!   system call, no round trip; the device thread drains the page into the VI's registers.
//! - **Wake-ups.** The hub services the device's interrupt queue. A client's endpoint has its
//!   own eventfd, passed to the hub; the hub signals it only when the endpoint's queue was
//!   primed (the client is about to sleep) and an event came: a client that spins costs no
//!   system call on either side. The endpoint's "armed" flag lives in the doorbell page, shared
//!   by the client that primes and the hub that wakes.
//! - **Everything else** (setting up rings, subscriptions, producer rights, timers, statistics)
//!   is a register access the client sends to the hub ([`wire`]), which checks it before it
//!   reaches the device: a client reaches only its own VIs and timers, subscribes to and
//!   produces into only the groups it is permitted, points rings only into its own memory, and
//!   may not write the global, filter or shell pages. A refusal is a [`HubError::Refused`] with
//!   a [`Refusal`] saying what was refused.
//! - **Directory.** A table of names for groups that clients publish and look up themselves,
//!   in memory shared by all, under a lease lock ([`directory`]); the hub repairs it after a
//!   holder dies and removes a departed client's names.
//! - **Faults.** When a client's socket closes (it exited or was killed), the hub disables its
//!   queues, takes its VIs out of every group, withdraws their producer rights, cancels its
//!   timers, and unmaps its memory; the other clients lose nothing. When the hub dies, every
//!   client's next call fails with [`HubError::Gone`], and a client blocked in
//!   [`crate::Endpoint::wait`] is woken to get that error: nothing hangs.
//!
//! - **An idle device.** On the simulated device the device thread sleeps when it has nothing
//!   to do (see `evnic_sim::runner`); a doorbell page carries its "asleep" flag, and a client
//!   that stores a record into a page whose device sleeps writes the wake eventfd the hub
//!   passed with `ATTACH` (one system call, only then). `evnic hub` stops on SIGTERM or SIGINT
//!   and removes its socket.
//!
//! **On VFIO** (`evnic hub --device vfio:...`), what works and what remains:
//!
//! - *Clients' memory*: done. The hub maps a client's memfd `MAP_SHARED` and registers that
//!   mapping with `VFIO_IOMMU_MAP_DMA` (`VfioBackend::map_shared`, `evnic_driver`'s
//!   `map_shared_dma`): the type1 IOMMU pins the memfd's pages, which the client maps too, so
//!   the device writes events and frames straight into the client's memory. The pinned pages
//!   count against the hub's `RLIMIT_MEMLOCK`. The IOMMU mapping goes before the hub's
//!   `munmap` when the client unmaps or dies.
//! - *Doorbells*: one store, as on the simulated device. A client cannot map the VI's page of
//!   BAR0 itself: VFIO maps a BAR only through the device fd, and passing that fd is refused
//!   by design (with it a client could map the global, filter and group pages the hub owns and
//!   issue device ioctls, so none of the hub's checks would hold). So a client's doorbells go
//!   into its doorbell page as on the simulated device, and a relay thread in the hub
//!   (`backend::relay`) writes each record to the VI's registers, in order, after the
//!   register writes the hub made for the client before it (those have left the CPU before the
//!   hub answered). The relay polls while records come and sleeps 200 µs after the last one;
//!   the first record after that costs its producer one eventfd write. A record for a register
//!   that is not a doorbell is skipped; a write the driver refuses stops that VI's page, and
//!   its client's next doorbell on a full page reports the device side stalled. A region fd
//!   of exactly the VI's page (a dma-buf of the BAR range exported by vfio-pci) would let the
//!   client store to the board directly; the relay costs one hub core while a client rings.
//! - *Tests*: the VM of `make test-vm` has QEMU's `edu` and `ivshmem` devices and no evnic
//!   device, so clients exchanging events through a group there needs an evnic device model in
//!   QEMU (or a board). The memfd mapping is covered against `edu`'s DMA engine.
//!
//! The socket is named by `--socket`, else `EVNIC_HUB`, else `$XDG_RUNTIME_DIR/evnic/hub.sock`,
//! else `/run/evnic/hub.sock` ([`default_socket`]).

pub(crate) mod client;
pub mod directory;
pub mod server;
pub mod wire;

pub use client::HubBackend;
pub use directory::{DirEntry, Directory, DirectoryError};
pub use server::{GroupSet, HubConfig, HubServer};

use std::path::PathBuf;

/// The environment variable naming the hub's socket.
pub const HUB_ENV: &str = "EVNIC_HUB";

/// Where the hub's socket is when nothing names it: `EVNIC_HUB`, else
/// `$XDG_RUNTIME_DIR/evnic/hub.sock`, else `/run/evnic/hub.sock`.
pub fn default_socket() -> PathBuf {
    if let Some(p) = std::env::var_os(HUB_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        Some(d) => PathBuf::from(d).join("evnic/hub.sock"),
        None => PathBuf::from("/run/evnic/hub.sock"),
    }
}

/// What the hub refused a client, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The VI is another client's (or nobody's).
    #[error("VI {vi} is not this client's")]
    NotYourVi {
        /// The VI.
        vi: u32,
    },
    /// The timer is another client's (or nobody's).
    #[error("timer {timer} is not this client's")]
    NotYourTimer {
        /// The timer.
        timer: u32,
    },
    /// The hub does not permit this client the group.
    #[error("group {group} is not permitted to this client (see the hub's --groups)")]
    GroupNotPermitted {
        /// The group.
        group: u32,
    },
    /// The register belongs to the hub (global, filter, shell pages; whole-group bitmaps).
    #[error("BAR0+{offset:#x} belongs to the hub, not to a client")]
    HubOwned {
        /// The offset.
        offset: u32,
    },
    /// The filter entry is another client's (or nobody's: take it first).
    #[error("filter entry {index} is not this client's")]
    NotYourFilter {
        /// The entry.
        index: u32,
    },
    /// A ring pointed at memory this client did not map.
    #[error("a ring at IOVA {iova:#x} is outside this client's memory")]
    ForeignMemory {
        /// The ring's base.
        iova: u64,
    },
}

/// Errors of the connection to a hub.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The hub checked the request and refused it.
    #[error("the hub refused: {0}")]
    Refused(Refusal),
    /// No hub answers at the socket.
    #[error("cannot connect to the evnic hub at {path}: {err}; start it with `evnic hub` (or name its socket with EVNIC_HUB)")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        err: std::io::Error,
    },
    /// The hub is gone (exited or killed): the device is unreachable until it is restarted and
    /// the client opens the device again.
    #[error(
        "the evnic hub at {path} is gone ({why}); restart `evnic hub` and open the device again"
    )]
    Gone {
        /// The socket.
        path: PathBuf,
        /// What was seen.
        why: String,
    },
    /// The hub speaks another protocol version.
    #[error("the evnic hub speaks protocol version {hub}, this library {client}: use the same evnic version for both")]
    Version {
        /// The hub's version.
        hub: u32,
        /// This library's.
        client: u32,
    },
    /// The directory shared through the hub failed.
    #[error("the evnic hub's directory: {0}")]
    Directory(#[from] DirectoryError),
    /// The hub answered something this library does not understand, or failed the request.
    #[error("the evnic hub failed the request: {why}")]
    Failed {
        /// What happened.
        why: String,
    },
}

impl HubError {
    /// The class of this error.
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            HubError::Refused(_) => crate::ErrorKind::Config,
            HubError::Directory(DirectoryError::Full) => crate::ErrorKind::Exhausted,
            HubError::Directory(_) => crate::ErrorKind::Config,
            HubError::Connect { .. } => crate::ErrorKind::NoDevice,
            HubError::Version { .. } => crate::ErrorKind::NotEvnic,
            HubError::Gone { .. } | HubError::Failed { .. } => crate::ErrorKind::DeviceFailed,
        }
    }
}

impl crate::Error {
    /// What the hub refused, when this error is a hub's refusal.
    pub fn refusal(&self) -> Option<&Refusal> {
        let hub = match self {
            crate::Error::Backend(crate::BackendError::Hub(h)) => h,
            crate::Error::DeviceFailed { cause, .. } => match &**cause {
                crate::BackendError::Hub(h) => h,
                _ => return None,
            },
            _ => return None,
        };
        match hub {
            HubError::Refused(r) => Some(r),
            _ => None,
        }
    }

    /// True when this error says the hub is gone.
    pub fn is_hub_gone(&self) -> bool {
        let hub = match self {
            crate::Error::Backend(crate::BackendError::Hub(h)) => h,
            crate::Error::DeviceFailed { cause, .. } => match &**cause {
                crate::BackendError::Hub(h) => h,
                _ => return false,
            },
            _ => return false,
        };
        matches!(hub, HubError::Gone { .. })
    }
}

impl From<HubError> for crate::Error {
    fn from(e: HubError) -> crate::Error {
        crate::Error::Backend(crate::BackendError::Hub(e))
    }
}
