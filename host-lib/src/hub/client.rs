//! The client side: the device as reached through the hub's socket.

use super::wire::{self, err, op, Msg};
use super::{HubError, Refusal};
use crate::backend::{Backend, BackendError, DmaRegion};
use crate::engine::{ArmedFlag, EventFd, Waker};
use crate::Error;
use evnic_lease::SharedMap;
use evnic_proto::doorbell::{self, DoorbellPage};
use evnic_regs::map::vi as vimap;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How long a request waits for the hub's answer before the hub counts as gone.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts to place a doorbell record in a full page before giving up (the device side is
/// not draining it).
const DOORBELL_PATIENCE: u32 = 1 << 22;

/// The socket and what is known of its state.
struct Conn {
    path: PathBuf,
    sock: Mutex<OwnedFd>,
    raw: RawFd,
    gone: AtomicBool,
    gone_why: Mutex<Option<String>>,
    requests: AtomicU64,
}

/// An answer that is not OK: its code and fields.
struct Refused(u32, u32, u32);

impl Conn {
    fn gone_error(&self) -> HubError {
        HubError::Gone {
            path: self.path.clone(),
            why: crate::engine::lock(&self.gone_why)
                .clone()
                .unwrap_or_else(|| "the connection closed".into()),
        }
    }

    fn mark_gone(&self, why: String) -> HubError {
        crate::engine::lock(&self.gone_why).get_or_insert(why);
        self.gone.store(true, Ordering::Release);
        self.gone_error()
    }

    /// One request and its answer.
    fn call(&self, msg: Msg, fds: &[RawFd]) -> Result<Result<Msg, Refused>, HubError> {
        Ok(self.call_with(msg, fds)?.map(|(m, _)| m))
    }

    /// One request and its answer, with the descriptors the answer carries.
    #[allow(clippy::type_complexity)]
    fn call_with(
        &self,
        msg: Msg,
        fds: &[RawFd],
    ) -> Result<Result<(Msg, Vec<OwnedFd>), Refused>, HubError> {
        let sock = crate::engine::lock(&self.sock);
        if self.gone.load(Ordering::Acquire) {
            return Err(self.gone_error());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = wire::send(sock.as_raw_fd(), &msg, fds) {
            return Err(self.mark_gone(format!("sending a request: {e}")));
        }
        let (answer, answer_fds) = match wire::recv(sock.as_raw_fd()) {
            Ok(Some(m)) => m,
            Ok(None) => return Err(self.mark_gone("the hub closed the connection".into())),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(
                    self.mark_gone(format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))
                )
            }
            Err(e) => return Err(self.mark_gone(format!("reading an answer: {e}"))),
        };
        if answer[0] == wire::OK {
            Ok(Ok((answer, answer_fds)))
        } else {
            Ok(Err(Refused(answer[0], answer[1], answer[2])))
        }
    }

    /// A request answered with one file descriptor.
    fn call_fd(&self, msg: Msg) -> Result<OwnedFd, HubError> {
        let sock = crate::engine::lock(&self.sock);
        if self.gone.load(Ordering::Acquire) {
            return Err(self.gone_error());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = wire::send(sock.as_raw_fd(), &msg, &[]) {
            return Err(self.mark_gone(format!("sending a request: {e}")));
        }
        match wire::recv(sock.as_raw_fd()) {
            Ok(Some((m, fds))) if m[0] == wire::OK => {
                fds.into_iter().next().ok_or_else(|| HubError::Failed {
                    why: "the hub's answer carried no descriptor".into(),
                })
            }
            Ok(Some((m, _))) => Err(refusal(Refused(m[0], m[1], m[2]))),
            Ok(None) => Err(self.mark_gone("the hub closed the connection".into())),
            Err(e) => Err(self.mark_gone(format!("reading an answer: {e}"))),
        }
    }

    /// A request whose refusals are register-level ones.
    fn call_regs(&self, msg: Msg, fds: &[RawFd]) -> Result<Msg, HubError> {
        self.call(msg, fds)?.map_err(refusal)
    }
}

/// The error a refused answer stands for.
fn refusal(Refused(code, a, b): Refused) -> HubError {
    let r = match code {
        err::NOT_YOUR_VI => Refusal::NotYourVi { vi: a },
        err::NOT_YOUR_TIMER => Refusal::NotYourTimer { timer: a },
        err::NOT_YOUR_FILTER => Refusal::NotYourFilter { index: a },
        err::GROUP_NOT_PERMITTED => Refusal::GroupNotPermitted { group: a },
        err::HUB_OWNED => Refusal::HubOwned { offset: a },
        err::FOREIGN_MEMORY => Refusal::ForeignMemory {
            iova: u64::from(a) | u64::from(b) << 32,
        },
        err::VERSION => {
            return HubError::Version {
                hub: a,
                client: wire::VERSION,
            }
        }
        err::DEVICE => {
            return HubError::Failed {
                why: "the device failed the access (see the hub's log)".into(),
            }
        }
        err::MAP_FAILED => {
            return HubError::Failed {
                why: "the hub could not map the memory for the device".into(),
            }
        }
        other => {
            return HubError::Failed {
                why: format!("error code {other} ({a}, {b})"),
            }
        }
    };
    HubError::Refused(r)
}

/// A VI's doorbell page, mapped here and in the hub.
struct Attached {
    _mem: SharedMap,
    page: DoorbellPage,
    /// Wakes the device side when the page says it sleeps.
    wake: Option<OwnedFd>,
}

/// The device as reached through the evnic hub: register accesses are requests the hub checks,
/// DMA memory is memfds shared with the hub, and the doorbells of this client's endpoints are
/// stores into doorbell pages shared with it.
pub struct HubBackend {
    conn: Arc<Conn>,
    irq_vi: u32,
    client: u32,
    /// Doorbell pages of this client's open endpoints, by VI.
    pages: RwLock<HashMap<u32, Arc<Attached>>>,
    /// Never signalled: the hub services the interrupt.
    idle_irq: EventFd,
    doorbell_stores: AtomicU64,
    directory: std::sync::OnceLock<super::Directory>,
}

/// Figures of a client's connection, as the hub counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HubStats {
    /// Requests the hub served for this client (this one included).
    pub requests: u64,
    /// Doorbell records the device side applied from doorbell pages (all clients).
    pub doorbells_applied: u64,
    /// Clients connected.
    pub clients: u64,
}

impl HubBackend {
    /// Connects to the hub at `path` and checks that it speaks this protocol version.
    pub fn connect(path: &Path) -> Result<HubBackend, Error> {
        let connect_err = |err| {
            Error::Backend(BackendError::Hub(HubError::Connect {
                path: path.to_path_buf(),
                err,
            }))
        };
        let sock = unix_socket().map_err(connect_err)?;
        let addr = sockaddr(path).map_err(connect_err)?;
        // SAFETY: connect with a valid sockaddr_un of the given length.
        let r = unsafe {
            libc::connect(
                sock.as_raw_fd(),
                (&addr as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(connect_err(std::io::Error::last_os_error()));
        }
        let tv = libc::timeval {
            tv_sec: ANSWER_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        // SAFETY: setting a timeval option on our socket.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        let raw = sock.as_raw_fd();
        let conn = Arc::new(Conn {
            path: path.to_path_buf(),
            sock: Mutex::new(sock),
            raw,
            gone: AtomicBool::new(false),
            gone_why: Mutex::new(None),
            requests: AtomicU64::new(0),
        });
        let hello = conn.call_regs([op::HELLO, wire::VERSION, 0, 0], &[])?;
        Ok(HubBackend {
            conn,
            irq_vi: hello[2],
            client: hello[3],
            pages: RwLock::new(HashMap::new()),
            idle_irq: EventFd::new()?,
            doorbell_stores: AtomicU64::new(0),
            directory: std::sync::OnceLock::new(),
        })
    }

    /// The socket.
    pub fn path(&self) -> &Path {
        &self.conn.path
    }

    /// This client's number in the hub's log.
    pub fn client_id(&self) -> u32 {
        self.client
    }

    /// Requests sent to the hub so far (each is a system call on either side).
    pub fn requests(&self) -> u64 {
        self.conn.requests.load(Ordering::Relaxed)
    }

    /// Doorbells this client wrote into doorbell pages (no system call each).
    pub fn doorbell_stores(&self) -> u64 {
        self.doorbell_stores.load(Ordering::Relaxed)
    }

    /// The hub's figures for this connection (one request).
    pub fn stats(&self) -> Result<HubStats, Error> {
        let m = self.conn.call_regs([op::STATS, 0, 0, 0], &[])?;
        Ok(HubStats {
            requests: u64::from(m[1]),
            doorbells_applied: u64::from(m[2]),
            clients: u64::from(m[3]),
        })
    }

    /// The hub's directory of group names, shared with every client (asked for once).
    pub fn directory(&self) -> Result<&super::Directory, Error> {
        if let Some(d) = self.directory.get() {
            return Ok(d);
        }
        let fd = self.conn.call_fd([op::DIRECTORY, 0, 0, 0])?;
        let d = super::Directory::join(fd, self.client).map_err(HubError::from)?;
        Ok(self.directory.get_or_init(|| d))
    }

    pub(crate) fn irq_vi(&self) -> u32 {
        self.irq_vi
    }

    fn lib_error(&self, r: Refused) -> Error {
        match r {
            Refused(err::VI_IN_USE, vi, _) => Error::ViInUse { vi },
            Refused(err::VI_OUT_OF_RANGE, vi, irq_vi) => Error::ViOutOfRange { vi, irq_vi },
            Refused(err::NO_FREE_VI, vis, _) => Error::NoFreeVi { vis, reserved: 1 },
            Refused(err::NO_FREE_TIMER, timers, _) => Error::NoFreeTimer { timers },
            Refused(err::FILTER_IN_USE, index, _) => Error::FilterInUse { index },
            Refused(err::NO_FREE_FILTER, filters, _) => Error::NoFreeFilter { filters },
            Refused(err::BAD_FILTER_INDEX, index, count) => Error::BadFilterIndex { index, count },
            other => Error::Backend(BackendError::Hub(refusal(other))),
        }
    }

    fn call_lib(&self, msg: Msg, fds: &[RawFd]) -> Result<Msg, Error> {
        match self.conn.call(msg, fds) {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(r)) => Err(self.lib_error(r)),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn take_vi(&self, vi: Option<u32>) -> Result<u32, Error> {
        Ok(self.call_lib([op::TAKE_VI, vi.unwrap_or(wire::ANY), 0, 0], &[])?[1])
    }

    pub(crate) fn free_vi(&self, vi: u32) {
        let _ = self.conn.call([op::FREE_VI, vi, 0, 0], &[]);
    }

    pub(crate) fn take_timer(&self) -> Result<u32, Error> {
        Ok(self.call_lib([op::TAKE_TIMER, 0, 0, 0], &[])?[1])
    }

    pub(crate) fn free_timer(&self, t: u32) {
        let _ = self.conn.call([op::FREE_TIMER, t, 0, 0], &[]);
    }

    /// Takes filter entry `index` (or the lowest free one) for this client: the hub lets it
    /// commit only entries it took.
    pub(crate) fn take_filter(&self, index: Option<u32>) -> Result<u32, Error> {
        Ok(self.call_lib([op::TAKE_FILTER, index.unwrap_or(wire::ANY), 0, 0], &[])?[1])
    }

    /// Disables filter entry `index` and gives it back.
    pub(crate) fn free_filter(&self, index: u32) -> Result<(), Error> {
        self.call_lib([op::FREE_FILTER, index, 0, 0], &[]).map(drop)
    }

    /// Gives the hub an endpoint's eventfd and doorbell page; the waker's armed flag lives in
    /// the page, where the hub clears it when it wakes the endpoint.
    pub(crate) fn attach(&self, vi: u32) -> Result<Waker, Error> {
        let fd = EventFd::new()?;
        let mem =
            SharedMap::create_memfd("evnic-doorbells", doorbell::PAGE_BYTES).map_err(|err| {
                Error::Os {
                    call: "memfd_create",
                    err,
                }
            })?;
        // SAFETY: a fresh zeroed page, mapped while `Attached` lives; only used atomically.
        let page = unsafe { DoorbellPage::new(mem.ptr().as_ptr()) };
        let (answer, mut wake) = match self.conn.call_with(
            [op::ATTACH, vi, 0, 0],
            &[fd.as_raw_fd(), mem.fd().as_raw_fd()],
        ) {
            Ok(Ok(a)) => a,
            Ok(Err(r)) => return Err(self.lib_error(r)),
            Err(e) => return Err(e.into()),
        };
        let attached = Arc::new(Attached {
            _mem: mem,
            page,
            wake: wake.pop(),
        });
        if answer[1] != 0 {
            self.pages
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(vi, attached.clone());
        }
        Ok(Waker::with(
            vi,
            fd,
            ArmedFlag::Shared {
                page,
                _keep: attached,
            },
        ))
    }

    pub(crate) fn detach(&self, vi: u32) {
        self.pages
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&vi);
        let _ = self.conn.call([op::DETACH, vi, 0, 0], &[]);
    }

    /// Blocks until the hub's end of the socket closes (returns the error to report) or
    /// `stop_fd` becomes readable (returns `None`).
    pub(crate) fn watch(&self, stop_fd: RawFd) -> Option<BackendError> {
        loop {
            let mut pfds = [
                // No events asked: only hang-up and error are reported, so answers waiting
                // for the requester do not wake this.
                libc::pollfd {
                    fd: self.conn.raw,
                    events: libc::POLLRDHUP,
                    revents: 0,
                },
                libc::pollfd {
                    fd: stop_fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: a valid array of two pollfds.
            let r = unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) };
            if r < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return None;
            }
            if pfds[1].revents != 0 {
                return None;
            }
            if pfds[0].revents != 0 {
                return Some(BackendError::Hub(
                    self.conn.mark_gone("the hub closed the connection".into()),
                ));
            }
        }
    }

    /// The doorbell page for a write at `offset`, when it is a doorbell of an attached VI.
    fn doorbell_for(&self, offset: u32) -> Option<(Arc<Attached>, u32)> {
        let base = vimap::PAGE.base;
        let end = base + vimap::PAGE.count * vimap::PAGE.stride;
        if offset < base || offset >= end {
            return None;
        }
        let vi = (offset - base) / vimap::PAGE.stride;
        let word = (offset - base) % vimap::PAGE.stride / 4;
        if !doorbell::is_doorbell(word) {
            return None;
        }
        let pages = self.pages.read().unwrap_or_else(|e| e.into_inner());
        pages.get(&vi).map(|a| (a.clone(), word))
    }
}

pub(crate) fn unix_socket() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket creation; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A Unix socket address for `path`.
pub(crate) fn sockaddr(path: &Path) -> std::io::Result<libc::sockaddr_un> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("socket path of {} bytes is too long", bytes.len()),
        ));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(addr)
}

/// DMA memory shared with the hub: unmapped from the device (by the hub) before it is unmapped
/// here.
struct SharedDma {
    conn: Arc<Conn>,
    iova: u64,
    _mem: SharedMap,
}

impl Drop for SharedDma {
    fn drop(&mut self) {
        let _ = self.conn.call(
            [op::UNMAP, self.iova as u32, (self.iova >> 32) as u32, 0],
            &[],
        );
    }
}

impl Backend for HubBackend {
    fn describe(&self) -> String {
        format!(
            "evnic hub at {} (client {})",
            self.conn.path.display(),
            self.client
        )
    }

    fn read32(&self, offset: u32) -> Result<u32, BackendError> {
        Ok(self.conn.call_regs([op::READ, offset, 0, 0], &[])?[1])
    }

    fn write32(&self, offset: u32, value: u32) -> Result<(), BackendError> {
        if let Some((a, word)) = self.doorbell_for(offset) {
            if self.conn.gone.load(Ordering::Acquire) {
                return Err(self.conn.gone_error().into());
            }
            let wake = a.wake.as_ref().map(|w| w.as_fd());
            return match a.page.ring_and_wake(word, value, DOORBELL_PATIENCE, wake) {
                Ok(()) => {
                    self.doorbell_stores.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Err(doorbell::DoorbellFull::Stalled) => Err(self
                    .conn
                    .mark_gone("the device side stopped draining doorbells".into())
                    .into()),
            };
        }
        self.conn.call_regs([op::WRITE, offset, value, 0], &[])?;
        Ok(())
    }

    fn alloc_dma(&self, len: usize) -> Result<DmaRegion, BackendError> {
        let io = |call: &'static str| move |err| BackendError::Io { call, err };
        let size = len.div_ceil(4096).max(1) * 4096;
        let mem = SharedMap::create_memfd("evnic-dma", size).map_err(io("memfd_create"))?;
        let m = self.conn.call_regs(
            [op::MAP, size as u32, (size as u64 >> 32) as u32, 0],
            &[mem.fd().as_raw_fd()],
        )?;
        let iova = u64::from(m[1]) | u64::from(m[2]) << 32;
        let ptr = mem.ptr();
        let keep = SharedDma {
            conn: self.conn.clone(),
            iova,
            _mem: mem,
        };
        // SAFETY: a fresh memfd mapping (zeroed, page aligned), mapped for the device at `iova`
        // until the keeper asks the hub to unmap it, then unmapped here.
        Ok(unsafe { DmaRegion::new(ptr, len, iova, Box::new(keep)) })
    }

    fn irq_fd(&self) -> RawFd {
        self.idle_irq.as_raw_fd()
    }

    fn hub(&self) -> Option<&HubBackend> {
        Some(self)
    }
}
