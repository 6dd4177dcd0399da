//! The hub: owns the device, serves clients on a Unix socket, checks every request.
//!
//! One thread per client reads its requests in order. The hub keeps who holds which VI and
//! timer; the device's VI pool, timer pool and interrupt queue are the library's own
//! ([`crate::Nic`]'s event core), so the hub's process could open endpoints of its own too.
//! What a request may touch (a BAR0 offset decoded with the register map):
//!
//! Reads have no side effects, so every page but the shell's may be read (a monitor reads all
//! counters). Writes:
//!
//! | page | write |
//! |---|---|
//! | global, group members | no: the hub's |
//! | filter staging (`VALUE*`, `MASK*`, `ENTRY`) | yes, into the client's own staging area in the hub |
//! | filter `COMMIT` | an entry the client took (`TAKE_FILTER`), whose staged action, when enabled, delivers to an own VI, a permitted group, or drops; the hub writes the entry whole |
//! | filter hit counter (`HITS_BASE + 4n`, clears it) | entries the client took |
//! | the rest of the filter page (default action, FCS drop, exact-match profiles, counters) | no: the hub's |
//! | indication permissions | own VIs, bits of permitted groups only |
//! | group control | `SUBSCRIBE` of an own VI (to a permitted group when `ON`); the rest no |
//! | timer | own timers; `TARGET` an own VI or a permitted group |
//! | VI | own VIs; a ring's size (which starts it) only when its base..end lies in this client's memory |
//! | shell, unmapped | no |

use super::client::{sockaddr, unix_socket};
use super::wire::{self, err, op, Msg};
use crate::backend::{Backend, DmaRegion};
use crate::engine::{ArmedFlag, EventCore, EventFd, Waker};
use crate::{Error, Nic};
use evnic_lease::SharedMap;
use evnic_proto::doorbell::{self, DoorbellPage};
use evnic_proto::filter as pf;
use evnic_proto::rings::Queue;
use evnic_proto::{evq, group as gp, rings};
use evnic_regs::key::{KeyBits, KEY_WORDS};
use evnic_regs::map::{self, filter as fr, group as gr, timer as tm, vi as vimap};
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// A set of group numbers, written `0-15,20,32-47` (or `all`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSet(Option<BTreeSet<u32>>);

impl GroupSet {
    /// Every group.
    pub fn all() -> GroupSet {
        GroupSet(None)
    }

    /// True when `g` is in the set.
    pub fn contains(&self, g: u32) -> bool {
        self.0.as_ref().is_none_or(|s| s.contains(&g))
    }
}

impl std::str::FromStr for GroupSet {
    type Err = String;
    fn from_str(s: &str) -> Result<GroupSet, String> {
        if s == "all" {
            return Ok(GroupSet::all());
        }
        let mut set = BTreeSet::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let bad = || format!("{part:?} is not a group or a range of groups (as in 0-15,20)");
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a, b),
                None => (part, part),
            };
            let a: u32 = a.trim().parse().map_err(|_| bad())?;
            let b: u32 = b.trim().parse().map_err(|_| bad())?;
            if a > b || b > 0xffff {
                return Err(bad());
            }
            set.extend(a..=b);
        }
        Ok(GroupSet(Some(set)))
    }
}

impl std::fmt::Display for GroupSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(s) = &self.0 else {
            return write!(f, "all");
        };
        let mut first = true;
        let mut it = s.iter().copied().peekable();
        while let Some(a) = it.next() {
            let mut b = a;
            while it.peek() == Some(&(b + 1)) {
                b = it.next().unwrap_or(b);
            }
            if !first {
                write!(f, ",")?;
            }
            first = false;
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// How the hub runs.
pub struct HubConfig {
    /// The socket to listen on.
    pub socket: PathBuf,
    /// Groups every client may subscribe to and produce into.
    pub groups: GroupSet,
    /// Groups for clients of particular user ids (instead of `groups`).
    pub uid_groups: Vec<(u32, GroupSet)>,
    /// Where log lines go (who connects, what they hold, what was refused).
    pub log: Arc<dyn Fn(&str) + Send + Sync>,
}

impl HubConfig {
    /// Listens at `socket`, every group permitted to every client, log lines to stderr.
    pub fn new(socket: PathBuf) -> HubConfig {
        HubConfig {
            socket,
            groups: GroupSet::all(),
            uid_groups: Vec::new(),
            log: Arc::new(|l| eprintln!("{l}")),
        }
    }

    fn groups_for(&self, uid: u32) -> GroupSet {
        self.uid_groups
            .iter()
            .find(|(u, _)| *u == uid)
            .map_or_else(|| self.groups.clone(), |(_, g)| g.clone())
    }
}

/// Who holds what.
#[derive(Default)]
struct Holders {
    vis: BTreeMap<u32, u32>,
    timers: BTreeMap<u32, u32>,
    /// Filter entries, by entry, with the client holding each.
    filters: BTreeMap<u32, u32>,
    clients: usize,
}

/// The hub: a device and its clients.
pub struct HubServer {
    nic: Nic,
    core: Arc<EventCore>,
    cfg: HubConfig,
    listener: OwnedFd,
    holders: Mutex<Holders>,
    /// Held while the hub stages and commits a filter entry: the staging registers are one set
    /// for the whole device.
    filter_table: Mutex<()>,
    directory: super::Directory,
    next_client: AtomicU32,
}

/// A client's filter staging registers, as it wrote them.
#[derive(Default)]
struct Stage {
    value: [u32; KEY_WORDS as usize],
    mask: [u32; KEY_WORDS as usize],
    entry: u32,
}

/// What one client holds; freed when its connection ends.
struct Session {
    id: u32,
    pid: i32,
    groups: GroupSet,
    vis: BTreeSet<u32>,
    timers: BTreeSet<u32>,
    filters: BTreeSet<u32>,
    stage: Stage,
    /// Its memory, by IOVA, with its length.
    regions: BTreeMap<u64, DmaRegion>,
    /// Ring bases written, by VI and ring, until the size write that starts the ring.
    bases: BTreeMap<(u32, u8), u64>,
    attached: BTreeSet<u32>,
    requests: u64,
}

/// A refusal as it goes on the wire.
type Refuse = (u32, u32, u32);

fn queue_of(word: u32) -> Option<(Queue, u32)> {
    for q in [Queue::Event, Queue::Rx, Queue::Tx] {
        let (lo, hi, size) = q.regs();
        let which = if word == lo.word() {
            0
        } else if word == hi.word() {
            1
        } else if word == size.word() {
            2
        } else {
            continue;
        };
        return Some((q, which));
    }
    None
}

fn entry_bytes(q: Queue) -> u64 {
    match q {
        Queue::Event => evnic_regs::event::EVENT_BYTES as u64,
        _ => evnic_regs::desc::DESC_BYTES as u64,
    }
}

impl HubServer {
    /// Opens the socket for `nic` (refused when a hub answers there already; a stale socket
    /// file is replaced), starts the device's event core and enables its receive and transmit
    /// paths.
    pub fn bind(nic: Nic, cfg: HubConfig) -> Result<HubServer, Error> {
        let os = |call: &'static str| move |err| Error::Os { call, err };
        if let Some(dir) = cfg.socket.parent() {
            std::fs::create_dir_all(dir).map_err(os("create the socket's directory"))?;
        }
        let addr = sockaddr(&cfg.socket).map_err(os("the socket path"))?;
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        if cfg.socket.exists() {
            let probe = unix_socket().map_err(os("socket"))?;
            // SAFETY: connect with a valid address.
            let r = unsafe {
                libc::connect(
                    probe.as_raw_fd(),
                    (&addr as *const libc::sockaddr_un).cast(),
                    len,
                )
            };
            if r == 0 {
                return Err(Error::Os {
                    call: "bind the hub's socket",
                    err: std::io::Error::new(
                        std::io::ErrorKind::AddrInUse,
                        format!("a hub already answers at {}", cfg.socket.display()),
                    ),
                });
            }
            let _ = std::fs::remove_file(&cfg.socket);
        }
        let listener = unix_socket().map_err(os("socket"))?;
        // SAFETY: bind and listen on our socket with a valid address.
        unsafe {
            if libc::bind(
                listener.as_raw_fd(),
                (&addr as *const libc::sockaddr_un).cast(),
                len,
            ) != 0
            {
                return Err(os("bind the hub's socket")(std::io::Error::last_os_error()));
            }
            if libc::listen(listener.as_raw_fd(), 64) != 0 {
                return Err(os("listen")(std::io::Error::last_os_error()));
            }
        }
        let core = nic.core()?;
        // The global page is the hub's: the receive and transmit paths run for its clients.
        nic.set_enabled(true)?;
        Ok(HubServer {
            nic,
            core,
            cfg,
            listener,
            holders: Mutex::new(Holders::default()),
            filter_table: Mutex::new(()),
            directory: super::Directory::create().map_err(|e| Error::Os {
                call: "create the hub's directory",
                err: std::io::Error::other(e.to_string()),
            })?,
            next_client: AtomicU32::new(1),
        })
    }

    /// The device.
    pub fn nic(&self) -> &Nic {
        &self.nic
    }

    fn log(&self, line: &str) {
        (self.cfg.log)(line)
    }

    /// Serves clients until the process ends (a thread per client).
    pub fn serve(self: Arc<Self>) -> Result<(), Error> {
        self.serve_until(None)
    }

    /// Serves clients (a thread per client) until `stop` becomes readable (a signalfd of
    /// SIGTERM and SIGINT, say); then removes the socket file and returns. Clients find the
    /// hub gone when the process exits.
    pub fn serve_until(self: Arc<Self>, stop: Option<RawFd>) -> Result<(), Error> {
        self.log(&format!(
            "evnic hub: {} on {} ({} VIs, {} timers, {} groups; VI {} is the interrupt queue); groups for clients: {}",
            self.nic.describe(),
            self.cfg.socket.display(),
            self.nic.params().vis,
            self.nic.params().timers,
            self.nic.params().groups,
            self.core.irq_vi,
            self.cfg.groups
        ));
        loop {
            let mut pfds = [
                libc::pollfd {
                    fd: self.listener.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: stop.unwrap_or(-1),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfds (a negative fd is ignored).
            let r = unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) };
            if r < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::Os { call: "poll", err });
            }
            if pfds[1].revents != 0 {
                let clients = crate::engine::lock(&self.holders).clients;
                let _ = std::fs::remove_file(&self.cfg.socket);
                self.log(&format!(
                    "evnic hub: stopping ({clients} clients connected); removed {}",
                    self.cfg.socket.display()
                ));
                return Ok(());
            }
            if pfds[0].revents == 0 {
                continue;
            }
            // SAFETY: accept on our listening socket; the fd is owned below.
            let fd = unsafe {
                libc::accept4(
                    self.listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                let err = std::io::Error::last_os_error();
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::Interrupted | std::io::ErrorKind::ConnectionAborted
                ) {
                    continue;
                }
                return Err(Error::Os {
                    call: "accept",
                    err,
                });
            }
            // SAFETY: a fresh descriptor.
            let sock = unsafe { OwnedFd::from_raw_fd(fd) };
            let hub = self.clone();
            let _ = std::thread::Builder::new()
                .name("evnic-hub-client".into())
                .spawn(move || hub.session(sock));
        }
    }

    fn session(&self, sock: OwnedFd) {
        let (pid, uid) = peer(sock.as_raw_fd());
        let mut s = Session {
            id: self.next_client.fetch_add(1, Ordering::Relaxed),
            pid,
            groups: self.cfg.groups_for(uid),
            vis: BTreeSet::new(),
            timers: BTreeSet::new(),
            filters: BTreeSet::new(),
            stage: Stage::default(),
            regions: BTreeMap::new(),
            bases: BTreeMap::new(),
            attached: BTreeSet::new(),
            requests: 0,
        };
        crate::engine::lock(&self.holders).clients += 1;
        self.log(&format!(
            "client {} connected: pid {pid}, uid {uid}, groups {}",
            s.id, s.groups
        ));
        let why = loop {
            let (msg, fds) = match wire::recv(sock.as_raw_fd()) {
                Ok(Some(m)) => m,
                Ok(None) => break "closed its connection".to_string(),
                Err(e) => break format!("connection failed: {e}"),
            };
            s.requests += 1;
            if msg[0] == op::DIRECTORY {
                let fd = self.directory.fd().as_raw_fd();
                if let Err(e) = wire::send(sock.as_raw_fd(), &[wire::OK, 0, 0, 0], &[fd]) {
                    break format!("answer failed: {e}");
                }
                continue;
            }
            let answer = match self.handle(&mut s, msg, fds) {
                Ok(a) => [wire::OK, a[0], a[1], a[2]],
                Err((code, a, b)) => [code, a, b, 0],
            };
            // An attached doorbell page comes with the eventfd that wakes a sleeping device.
            let wake: Vec<RawFd> = match (msg[0], answer[0]) {
                (op::ATTACH, wire::OK) => self.dev().doorbell_wake_fd().into_iter().collect(),
                _ => Vec::new(),
            };
            if let Err(e) = wire::send(sock.as_raw_fd(), &answer, &wake) {
                break format!("answer failed: {e}");
            }
        };
        let (vis, timers, filters, bytes) = (
            s.vis.clone(),
            s.timers.clone(),
            s.filters.clone(),
            s.regions
                .values()
                .map(evnic_proto::DmaMemory::len)
                .sum::<usize>(),
        );
        self.release(&mut s);
        match self.directory.client_left(s.id) {
            Ok((how, repaired, removed)) => {
                if how != evnic_lease::Acquired::Free {
                    self.log(&format!(
                        "directory: lock taken {how:?} after client {} left; repaired, {} names of it and of gone processes dropped",
                        s.id,
                        repaired + removed
                    ));
                } else if removed > 0 {
                    self.log(&format!(
                        "directory: removed {removed} names of client {}",
                        s.id
                    ));
                }
            }
            Err(e) => self.log(&format!("directory: cleanup after client {}: {e}", s.id)),
        }
        let left = {
            let mut h = crate::engine::lock(&self.holders);
            h.clients -= 1;
            h.clients
        };
        self.log(&format!(
"client {} (pid {}) {why}: freed VIs {vis:?}, timers {timers:?}, filters {filters:?}, {bytes} bytes of memory; {left} clients left",
            s.id, s.pid
        ));
    }

    /// Frees everything the session holds: queues stopped before their memory is unmapped.
    fn release(&self, s: &mut Session) {
        // Filters first: no frame is steered to a VI being freed.
        for f in std::mem::take(&mut s.filters) {
            self.free_filter(s.id, f);
        }
        for v in std::mem::take(&mut s.vis) {
            self.free_vi(s, v);
        }
        for t in std::mem::take(&mut s.timers) {
            self.free_timer(t);
        }
        s.regions.clear();
    }

    fn dev(&self) -> &dyn Backend {
        &**self.nic.backend()
    }

    fn detach(&self, s: &mut Session, v: u32) {
        if s.attached.remove(&v) {
            // The device side lets go of the doorbell page before the waker, which keeps the
            // page mapped, is dropped (the other order let the device thread read an unmapped
            // page: a segfault of the hub under load).
            self.dev().detach_doorbells(v);
            self.core.unregister(v);
        }
    }

    /// Returns VI `v` clean: out of every group, no producer rights, no watchdog, rings off.
    fn free_vi(&self, s: &mut Session, v: u32) {
        self.detach(s, v);
        let mut r = self.dev();
        for g in 0..self.nic.params().groups {
            let _ = gp::subscribe(&mut r, v, g, false);
        }
        for w in 0..gp::permit_words(self.nic.params().groups) {
            let _ = gp::set_permit_word(&mut r, v, w, 0);
        }
        let _ = evq::set_watchdog(&mut r, v, 0);
        for q in [Queue::Rx, Queue::Tx, Queue::Event] {
            let _ = rings::disable(&mut r, v, q);
        }
        s.bases.retain(|(vi, _), _| *vi != v);
        s.vis.remove(&v);
        crate::engine::lock(&self.holders).vis.remove(&v);
        self.core.free_vi(v);
    }

    fn free_timer(&self, t: u32) {
        let _ = self.dev().write32(tm::PAGE.at(t, &tm::CONTROL), 0);
        crate::engine::lock(&self.holders).timers.remove(&t);
        self.core.free_timer(t);
    }

    /// Disables filter entry `f` and frees it.
    fn free_filter(&self, id: u32, f: u32) {
        let _table = crate::engine::lock(&self.filter_table);
        if let Err(e) = pf::clear_entry(&mut self.dev(), f) {
            self.log(&format!(
                "client {id}: clearing filter entry {f} failed: {e}"
            ));
        }
        crate::engine::lock(&self.holders).filters.remove(&f);
    }

    /// A client's write to the filter page: staging kept for it, a commit checked and carried
    /// out by the hub, a hit counter of its own cleared; the rest is the hub's.
    fn filter_write(&self, s: &mut Session, offset: u32, value: u32) -> Result<(), Refuse> {
        let reg = offset - fr::PAGE.base;
        let words = KEY_WORDS * 4;
        if (fr::VALUE_BASE..fr::VALUE_BASE + words).contains(&reg) {
            s.stage.value[((reg - fr::VALUE_BASE) / 4) as usize] = value;
            return Ok(());
        }
        if (fr::MASK_BASE..fr::MASK_BASE + words).contains(&reg) {
            s.stage.mask[((reg - fr::MASK_BASE) / 4) as usize] = value;
            return Ok(());
        }
        if reg == fr::ENTRY.offset {
            s.stage.entry = value;
            return Ok(());
        }
        let count = self.nic.params().filters;
        if (fr::HITS_BASE..fr::HITS_BASE + 4 * count).contains(&reg) {
            let f = (reg - fr::HITS_BASE) / 4;
            if !s.filters.contains(&f) {
                return Err((err::NOT_YOUR_FILTER, f, 0));
            }
            return self
                .dev()
                .write32(offset, value)
                .map_err(|_| (err::DEVICE, 0, 0));
        }
        if reg != fr::COMMIT.offset {
            return Err((err::HUB_OWNED, offset, 0));
        }
        let f = value;
        if f >= count {
            // Exact-match slots (and numbers past the table) are the hub's.
            return Err((err::HUB_OWNED, offset, 0));
        }
        if !s.filters.contains(&f) {
            return Err((err::NOT_YOUR_FILTER, f, 0));
        }
        let enabled = fr::ENTRY_ENABLE.get(s.stage.entry) == 1;
        let action = fr::ENTRY_ACTION.get(s.stage.entry) as u16;
        if enabled {
            let target = u32::from(action & fr::ACTION_TARGET_MASK);
            match action >> fr::ACTION_KIND_SHIFT {
                fr::ACTION_KIND_VI => {
                    // The device takes a VI number modulo its VIs: check the VI it reaches.
                    self.own_vi(s, target % self.nic.params().vis)?;
                }
                fr::ACTION_KIND_GROUP => self.group_ok(s, target)?,
                _ => {} // drop
            }
        }
        let entry = pf::Entry {
            value: KeyBits::from_words(&s.stage.value),
            mask: KeyBits::from_words(&s.stage.mask),
            action,
            enabled,
        };
        let _table = crate::engine::lock(&self.filter_table);
        pf::write_entry(&mut self.dev(), f, &entry).map_err(|e| {
            self.log(&format!(
                "client {}: writing filter entry {f} failed: {e}",
                s.id
            ));
            (err::DEVICE, 0, 0)
        })
    }

    fn handle(&self, s: &mut Session, m: Msg, fds: Vec<OwnedFd>) -> Result<[u32; 3], Refuse> {
        let id = s.id;
        let device = |e: crate::BackendError| {
            self.log(&format!("client {id}: device access failed: {e}"));
            (err::DEVICE, 0, 0)
        };
        match m[0] {
            op::HELLO => {
                if m[1] != wire::VERSION {
                    self.log(&format!(
                        "client {} speaks protocol {}, the hub {}: refused",
                        s.id,
                        m[1],
                        wire::VERSION
                    ));
                    return Err((err::VERSION, wire::VERSION, 0));
                }
                Ok([wire::VERSION, self.core.irq_vi, s.id])
            }
            op::READ => {
                self.check(s, m[1], None)?;
                Ok([self.dev().read32(m[1]).map_err(device)?, 0, 0])
            }
            op::WRITE if map::filter::PAGE.locate(m[1]).is_some() => {
                let r = self.filter_write(s, m[1], m[2]);
                if let Err(e) = r {
                    self.log_refusal(s, m[1], true, e);
                }
                r.map(|()| [0; 3])
            }
            op::WRITE => {
                self.check(s, m[1], Some(m[2]))?;
                self.dev().write32(m[1], m[2]).map_err(device)?;
                Ok([0; 3])
            }
            op::MAP => {
                let len = m[1] as usize | (m[2] as usize) << 32;
                let fd = fds.into_iter().next().ok_or((err::BAD_REQUEST, 0, 0))?;
                let mem = SharedMap::map(fd, len).map_err(|e| {
                    self.log(&format!("client {}: cannot map its memory: {e}", s.id));
                    (err::MAP_FAILED, 0, 0)
                })?;
                let ptr = mem.ptr();
                // SAFETY: the mapping lives in the keeper, dropped after the device's unmap.
                let region =
                    unsafe { self.dev().map_shared(ptr, len, Box::new(mem)) }.map_err(|e| {
                        self.log(&format!("client {}: {e}", s.id));
                        (err::MAP_FAILED, 0, 0)
                    })?;
                let iova = evnic_proto::DmaMemory::iova(&region);
                s.regions.insert(iova, region);
                Ok([iova as u32, (iova >> 32) as u32, 0])
            }
            op::UNMAP => {
                let iova = u64::from(m[1]) | u64::from(m[2]) << 32;
                s.regions.remove(&iova);
                Ok([0; 3])
            }
            op::TAKE_VI => {
                let v = if m[1] == wire::ANY {
                    self.core.alloc_vi()
                } else {
                    self.core.take_vi(m[1])
                }
                .map_err(|e| match e {
                    Error::ViInUse { vi } => (err::VI_IN_USE, vi, 0),
                    Error::ViOutOfRange { vi, irq_vi } => (err::VI_OUT_OF_RANGE, vi, irq_vi),
                    _ => (err::NO_FREE_VI, self.nic.params().vis, 0),
                })?;
                s.vis.insert(v);
                crate::engine::lock(&self.holders).vis.insert(v, s.id);
                self.log(&format!(
                    "client {} holds VI {v} (VIs {:?}, timers {:?})",
                    s.id, s.vis, s.timers
                ));
                Ok([v, 0, 0])
            }
            op::ATTACH => {
                let v = self.own_vi(s, m[1])?;
                let mut fds = fds.into_iter();
                let (Some(efd), Some(pfd)) = (fds.next(), fds.next()) else {
                    return Err((err::BAD_REQUEST, 0, 0));
                };
                let mem = SharedMap::map(pfd, doorbell::PAGE_BYTES).map_err(|e| {
                    self.log(&format!("client {}: cannot map a doorbell page: {e}", s.id));
                    (err::MAP_FAILED, 0, 0)
                })?;
                // SAFETY: the page stays mapped by the waker's keeper, which lives until the
                // waker is unregistered, after the doorbells are detached.
                let page = unsafe { DoorbellPage::new(mem.ptr().as_ptr()) };
                self.detach(s, v);
                // SAFETY: the page stays mapped in `mem`, held by the waker until detach.
                let drained = unsafe { self.dev().attach_doorbells(v, page) };
                let waker = Waker::with(
                    v,
                    EventFd(efd),
                    ArmedFlag::Shared {
                        page,
                        _keep: Arc::new(mem),
                    },
                );
                self.core.register(Arc::new(waker));
                s.attached.insert(v);
                Ok([u32::from(drained), 0, 0])
            }
            op::DETACH => {
                let v = self.own_vi(s, m[1])?;
                self.detach(s, v);
                Ok([0; 3])
            }
            op::FREE_VI => {
                let v = self.own_vi(s, m[1])?;
                self.free_vi(s, v);
                Ok([0; 3])
            }
            op::TAKE_TIMER => {
                let t = self
                    .core
                    .alloc_timer()
                    .map_err(|_| (err::NO_FREE_TIMER, self.nic.params().timers, 0))?;
                s.timers.insert(t);
                crate::engine::lock(&self.holders).timers.insert(t, s.id);
                self.log(&format!(
                    "client {} holds timer {t} (VIs {:?}, timers {:?})",
                    s.id, s.vis, s.timers
                ));
                Ok([t, 0, 0])
            }
            op::FREE_TIMER => {
                if !s.timers.remove(&m[1]) {
                    return Err((err::NOT_YOUR_TIMER, m[1], 0));
                }
                self.free_timer(m[1]);
                Ok([0; 3])
            }
            op::TAKE_FILTER => {
                let count = self.nic.params().filters;
                let f = {
                    let mut h = crate::engine::lock(&self.holders);
                    let f = if m[1] == wire::ANY {
                        (0..count).find(|f| !h.filters.contains_key(f)).ok_or((
                            err::NO_FREE_FILTER,
                            count,
                            0,
                        ))?
                    } else if m[1] >= count {
                        return Err((err::BAD_FILTER_INDEX, m[1], count));
                    } else {
                        match h.filters.get(&m[1]) {
                            Some(c) if *c != s.id => return Err((err::FILTER_IN_USE, m[1], 0)),
                            _ => m[1],
                        }
                    };
                    h.filters.insert(f, s.id);
                    f
                };
                if s.filters.insert(f) {
                    self.log(&format!(
                        "client {} holds filter entry {f} (filters {:?})",
                        s.id, s.filters
                    ));
                }
                Ok([f, 0, 0])
            }
            op::FREE_FILTER => {
                if !s.filters.remove(&m[1]) {
                    return Err((err::NOT_YOUR_FILTER, m[1], 0));
                }
                self.free_filter(s.id, m[1]);
                Ok([0; 3])
            }
            op::STATS => Ok([
                s.requests as u32,
                self.dev().doorbells_applied() as u32,
                crate::engine::lock(&self.holders).clients as u32,
            ]),
            other => {
                self.log(&format!("client {}: unknown request {other}", s.id));
                Err((err::BAD_REQUEST, other, 0))
            }
        }
    }

    fn own_vi(&self, s: &Session, v: u32) -> Result<u32, Refuse> {
        if s.vis.contains(&v) {
            Ok(v)
        } else {
            Err((err::NOT_YOUR_VI, v, 0))
        }
    }

    fn group_ok(&self, s: &Session, g: u32) -> Result<(), Refuse> {
        if s.groups.contains(g) {
            Ok(())
        } else {
            Err((err::GROUP_NOT_PERMITTED, g, 0))
        }
    }

    /// Checks a register access of the session (`write`: the value written).
    fn check(&self, s: &mut Session, offset: u32, write: Option<u32>) -> Result<(), Refuse> {
        let r = self.check_inner(s, offset, write);
        if let Err(e) = r {
            self.log_refusal(s, offset, write.is_some(), e);
        }
        r
    }

    fn log_refusal(&self, s: &Session, offset: u32, write: bool, (code, a, _): Refuse) {
        let what = match code {
            err::NOT_YOUR_VI => format!("VI {a} is not its"),
            err::NOT_YOUR_TIMER => format!("timer {a} is not its"),
            err::NOT_YOUR_FILTER => format!("filter entry {a} is not its"),
            err::GROUP_NOT_PERMITTED => format!("group {a} is not permitted"),
            err::FOREIGN_MEMORY => "a ring outside its memory".to_string(),
            err::DEVICE => "the device failed it".to_string(),
            _ => "the register is the hub's".to_string(),
        };
        self.log(&format!(
            "client {}: refused {} of BAR0+{offset:#x}: {what}",
            s.id,
            if write { "write" } else { "read" }
        ));
    }

    fn check_inner(&self, s: &mut Session, offset: u32, write: Option<u32>) -> Result<(), Refuse> {
        let hub_owned = Err((err::HUB_OWNED, offset, 0));
        let within = |p: &map::Page| p.locate(offset).is_some();
        let Some(value) = write else {
            // Reads have no side effects outside the shell page: every counter is readable
            // (a monitor process reads them all).
            return if within(&map::shell::PAGE) {
                hub_owned
            } else {
                Ok(())
            };
        };
        if within(&map::global::PAGE) || within(&fr::PAGE) || within(&gr::MEMBERS_PAGE) {
            return hub_owned;
        }
        if let Some((v, w)) = gr::permit_of(offset) {
            self.own_vi(s, v)?;
            for b in 0..gp::PERMIT_WORD_BITS {
                if value >> b & 1 == 1 {
                    self.group_ok(s, w * gp::PERMIT_WORD_BITS + b)?;
                }
            }
            return Ok(());
        }
        if within(&gr::PERMIT_PAGE) {
            return hub_owned;
        }
        if within(&gr::CONTROL_PAGE) {
            if offset != gr::CONTROL_PAGE.at(0, &gr::SUBSCRIBE) {
                return hub_owned;
            }
            self.own_vi(s, gr::SUBSCRIBE_VI.get(value))?;
            if gr::SUBSCRIBE_ON.get(value) == 1 {
                self.group_ok(s, gr::SUBSCRIBE_GROUP.get(value))?;
            }
            return Ok(());
        }
        if let Some((t, reg)) = tm::PAGE.locate(offset) {
            if !s.timers.contains(&t) {
                return Err((err::NOT_YOUR_TIMER, t, 0));
            }
            if reg == tm::TARGET.offset {
                let id = tm::TARGET_ID.get(value);
                if tm::TARGET_GROUP.get(value) == 1 {
                    self.group_ok(s, id)?;
                } else {
                    self.own_vi(s, id)?;
                }
            }
            return Ok(());
        }
        if let Some((v, reg)) = vimap::PAGE.locate(offset) {
            let v = self.own_vi(s, v)?;
            let Some((q, which)) = queue_of(reg / 4) else {
                return Ok(());
            };
            let key = (v, q as u8);
            match which {
                0 => {
                    let b = s.bases.entry(key).or_default();
                    *b = (*b & !0xffff_ffff) | u64::from(value);
                }
                1 => {
                    let b = s.bases.entry(key).or_default();
                    *b = (*b & 0xffff_ffff) | u64::from(value) << 32;
                }
                _ if value != 0 => {
                    let base = s.bases.get(&key).copied().unwrap_or(0);
                    let bytes = entry_bytes(q).checked_shl(value).unwrap_or(u64::MAX);
                    let inside = s
                        .regions
                        .range(..=base)
                        .next_back()
                        .is_some_and(|(iova, r)| {
                            base.checked_add(bytes).is_some_and(|end| {
                                end <= iova + evnic_proto::DmaMemory::len(r) as u64
                            })
                        });
                    if !inside {
                        return Err((err::FOREIGN_MEMORY, base as u32, (base >> 32) as u32));
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        hub_owned
    }
}

/// The peer's pid and uid.
fn peer(fd: RawFd) -> (i32, u32) {
    // SAFETY: an all-zero ucred is valid; getsockopt fills it.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED into a ucred of the given size.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (cred.pid, cred.uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_sets_parse_and_print() {
        let g: GroupSet = "0-3,7,9-10".parse().unwrap();
        assert!(g.contains(0) && g.contains(3) && g.contains(7) && g.contains(10));
        assert!(!g.contains(4) && !g.contains(8) && !g.contains(11));
        assert_eq!(g.to_string(), "0-3,7,9-10");
        assert!("all".parse::<GroupSet>().unwrap().contains(200));
        assert!("3-1".parse::<GroupSet>().is_err());
        assert!("x".parse::<GroupSet>().is_err());
    }
}
