//! [`Poller`]: one wait over many endpoints and plain file descriptors.
//!
//! # Interest changes are deferred and coalesced
//! [`Poller::add`], [`Poller::add_endpoint`], [`Poller::modify`] and [`Poller::delete`] make no
//! system call: they are checked against the poller's members (an ADD of a member, or a MOD or
//! DEL of a non-member, is refused at once, as `epoll_ctl` would refuse it) and recorded, one
//! pending operation per fd, combined with the table of batched configuration
//! ([`crate::batch::coalesce`]): ADD then MOD is one ADD, ADD then DEL is nothing, MOD then MOD
//! the last MOD, MOD then DEL a DEL, DEL then ADD a MOD. Changing only a member's [`Token`] is
//! no operation at all (the kernel knows members by fd).
//!
//! The next [`Poller::wait`] applies what is left in **one system call** when io_uring is
//! available: one `IORING_OP_EPOLL_CTL` entry per fd, all in one `io_uring_enter` that also
//! waits for their completions (up to [`URING_BATCH`] entries per call). Where io_uring cannot
//! be set up (an old kernel, `kernel.io_uring_disabled`, a seccomp filter, a kernel without
//! `IORING_OP_EPOLL_CTL`) the poller falls back to one `epoll_ctl` per remaining operation;
//! [`Poller::apply_mode`] says which one is in use. A change the kernel refuses (e.g. an ADD of
//! an fd that was closed) is reported by that `wait` as [`Error::PollerCtl`] after every other
//! change was applied, and that fd is no longer a member.
//!
//! # The wait
//! 1. **Poll**: every endpoint member's ring is read (memory only). Events there are reported
//!    at once, with no system call. (While endpoints keep reporting this way, plain fds are
//!    still checked, with a zero-timeout `epoll_wait`, every [`FD_CHECK_EVERY`]th wait.)
//! 2. **Spin**: for the poller's spin time ([`Poller::with_spin`]; [`crate::DEFAULT_SPIN`] or
//!    `EVNIC_SPIN_USEC` by default) the rings are read again and again, and plain fds are
//!    checked with zero-timeout `epoll_wait` calls (only when there are plain fds). No queue is
//!    primed, so no interrupt is enabled while spinning.
//! 3. **Arm, then block**: each endpoint whose ring is still empty is armed
//!    ([`Endpoint::arm`]: the read count and the prime in one doorbell; an endpoint that is
//!    primed already is left alone), an endpoint found non-empty is reported instead, and only
//!    when nothing is ready does the poller block in `epoll_wait` on the endpoints' wake-up fds
//!    and the plain fds. An event that lands between the last poll and the prime is not lost:
//!    the device wakes a queue primed with unread events at once.
//!
//! Endpoints are level-triggered for the poller: an endpoint is reported ready while its ring
//! holds events; take them with [`Endpoint::poll`] or [`Endpoint::poll_batch`]. Plain fds are
//! level-triggered `epoll` members.
//!
//! A plain fd must stay open while it is a member: delete it before closing it (as with
//! `epoll`). An endpoint member is kept open by the poller until it is deleted.

use crate::batch::Op;
use crate::endpoint::Endpoint;
use crate::engine::lock;
use crate::Error;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Most `IORING_OP_EPOLL_CTL` entries submitted by one `io_uring_enter`.
pub const URING_BATCH: usize = 256;

/// While endpoint members keep being ready, plain fds are checked every this many waits.
pub const FD_CHECK_EVERY: u32 = 16;

/// What identifies a member in [`Ready`]: chosen by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u64);

/// What a member is watched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Interest {
    /// Readable (an endpoint: its ring holds events).
    pub readable: bool,
    /// Writable (plain fds only).
    pub writable: bool,
}

impl Interest {
    /// Nothing: the member stays in the set but is not reported (errors and hang-ups of plain
    /// fds still are).
    pub const NONE: Interest = Interest {
        readable: false,
        writable: false,
    };
    /// Readable.
    pub const READABLE: Interest = Interest {
        readable: true,
        writable: false,
    };
    /// Writable.
    pub const WRITABLE: Interest = Interest {
        readable: false,
        writable: true,
    };
    /// Readable and writable.
    pub const BOTH: Interest = Interest {
        readable: true,
        writable: true,
    };

    fn epoll_bits(self) -> u32 {
        let mut b = 0;
        if self.readable {
            b |= libc::EPOLLIN as u32;
        }
        if self.writable {
            b |= libc::EPOLLOUT as u32;
        }
        b
    }
}

/// A member that is ready, as reported by [`Poller::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    /// The member's token.
    pub token: Token,
    /// Readable: an endpoint's ring holds events; a plain fd is readable.
    pub readable: bool,
    /// A plain fd is writable.
    pub writable: bool,
    /// A plain fd reports an error or a hang-up (`EPOLLERR`, `EPOLLHUP`).
    pub error: bool,
}

/// How a [`Poller`] applies interest changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyMode {
    /// All of a wait's changes as `IORING_OP_EPOLL_CTL` entries in one `io_uring_enter`.
    Uring,
    /// One `epoll_ctl` per change (io_uring could not be set up, or was not asked for).
    EpollCtl,
}

/// What a [`Poller`] did: the system calls it made, counted where it makes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollerCounters {
    /// Interest changes recorded (add, modify, delete calls that were accepted).
    pub changes: u64,
    /// Operations left after coalescing, given to the kernel.
    pub applied: u64,
    /// `io_uring_enter` calls (each applies up to [`URING_BATCH`] operations).
    pub uring_submits: u64,
    /// `epoll_ctl` calls.
    pub epoll_ctls: u64,
    /// `epoll_wait` calls, zero-timeout ones included.
    pub epoll_waits: u64,
    /// Of those, the ones that could block.
    pub blocking_waits: u64,
    /// Waits that returned ready endpoints without any system call.
    pub fast_returns: u64,
    /// Endpoints armed (primed) before blocking.
    pub arms: u64,
}

impl PollerCounters {
    /// System calls made: io_uring submits, `epoll_ctl`s and `epoll_wait`s.
    pub fn syscalls(&self) -> u64 {
        self.uring_submits + self.epoll_ctls + self.epoll_waits
    }
}

enum Source {
    Endpoint(Endpoint),
    Fd,
}

struct Member {
    source: Source,
    token: Token,
    interest: Interest,
}

/// Waits on many endpoints and plain fds at once (see the [module docs](self)).
///
/// ```no_run
/// use evnic::poller::{Interest, Poller, Token};
/// # let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
/// # let (a, b) = (nic.endpoint(Default::default())?, nic.endpoint(Default::default())?);
/// let mut poller = Poller::new()?;
/// poller.add_endpoint(&a, Token(0))?;
/// poller.add_endpoint(&b, Token(1))?; // recorded: both are applied by the first wait
/// let mut ready = Vec::new();
/// loop {
///     poller.wait(&mut ready, None)?;
///     for r in &ready {
///         let ep = if r.token == Token(0) { &a } else { &b };
///         while let Some(e) = ep.poll() {
///             println!("{e:?}");
///         }
///     }
/// #   break;
/// }
/// # Ok::<(), evnic::Error>(())
/// ```
pub struct Poller {
    epfd: OwnedFd,
    uring: Option<io_uring::IoUring>,
    members: HashMap<RawFd, Member>,
    /// Coalesced operations not yet given to the kernel, by fd: epoll event bits.
    pending: BTreeMap<RawFd, Op<u32>>,
    /// Endpoints deleted since the last flush: kept open until their DEL is applied, so that
    /// the fd number is not reused in between.
    retired: Vec<Endpoint>,
    spin: Duration,
    /// Consecutive waits that returned ready endpoints without checking plain fds.
    fast_streak: u32,
    events: Vec<libc::epoll_event>,
    counters: PollerCounters,
}

fn os(call: &'static str) -> Error {
    Error::Os {
        call,
        err: std::io::Error::last_os_error(),
    }
}

fn op_name<T>(op: &Op<T>) -> &'static str {
    match op {
        Op::Add(_) => "ADD",
        Op::Mod(_) => "MOD",
        Op::Del => "DEL",
    }
}

/// Sets up an io_uring that supports `IORING_OP_EPOLL_CTL`, if the kernel lets us.
fn uring() -> Option<io_uring::IoUring> {
    let ring = io_uring::IoUring::new(URING_BATCH as u32).ok()?;
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe).ok()?;
    probe
        .is_supported(io_uring::opcode::EpollCtl::CODE)
        .then_some(ring)
}

impl Poller {
    /// A poller that applies changes through io_uring when it can, else with `epoll_ctl`;
    /// spins for the default spin time ([`crate::config::default_spin`]).
    pub fn new() -> Result<Poller, Error> {
        Self::with_mode(ApplyMode::Uring)
    }

    /// A poller that applies changes the way `mode` says; [`ApplyMode::Uring`] still falls
    /// back to `epoll_ctl` when io_uring cannot be set up ([`Poller::apply_mode`] tells).
    pub fn with_mode(mode: ApplyMode) -> Result<Poller, Error> {
        let spin = crate::config::default_spin()?;
        // SAFETY: plain epoll creation; the fd is owned below.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(os("epoll_create1"));
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Poller {
            epfd,
            uring: match mode {
                ApplyMode::Uring => uring(),
                ApplyMode::EpollCtl => None,
            },
            members: HashMap::new(),
            pending: BTreeMap::new(),
            retired: Vec::new(),
            spin,
            fast_streak: 0,
            events: Vec::new(),
            counters: PollerCounters::default(),
        })
    }

    /// Sets how long [`Poller::wait`] spins before it arms the endpoints and blocks.
    pub fn with_spin(mut self, spin: Duration) -> Poller {
        self.spin = spin;
        self
    }

    /// How changes are applied.
    pub fn apply_mode(&self) -> ApplyMode {
        if self.uring.is_some() {
            ApplyMode::Uring
        } else {
            ApplyMode::EpollCtl
        }
    }

    /// The system calls made so far, and what was coalesced.
    pub fn counters(&self) -> PollerCounters {
        self.counters
    }

    /// Members (as recorded: changes not yet applied included).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True with no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Operations waiting for the next [`Poller::wait`] (after coalescing).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The epoll instance the poller keeps its members in (for nesting it in another loop:
    /// it is readable when a plain fd member is ready or an armed endpoint was woken; call
    /// [`Poller::wait`] with a zero timeout then).
    pub fn epoll_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.epfd.as_fd()
    }

    fn record(&mut self, fd: RawFd, op: Op<u32>) -> Result<(), Error> {
        // Refusals cannot happen after the membership checks; the table decides all the same.
        crate::batch::record(&mut self.pending, fd, op)?;
        self.counters.changes += 1;
        Ok(())
    }

    fn refuse(fd: RawFd, op: &'static str, why: &'static str) -> Error {
        Error::PollerMember { fd, op, why }
    }

    /// Adds a plain fd, watched for `interest`, reported with `token`. Recorded; applied by
    /// the next [`Poller::wait`].
    pub fn add(&mut self, fd: &impl AsFd, token: Token, interest: Interest) -> Result<(), Error> {
        let fd = fd.as_fd().as_raw_fd();
        self.add_member(fd, Source::Fd, token, interest)
    }

    /// Adds an endpoint, reported readable with `token` while its ring holds events. The poller
    /// keeps the endpoint open until it is deleted. Recorded; applied by the next wait.
    pub fn add_endpoint(&mut self, ep: &Endpoint, token: Token) -> Result<(), Error> {
        let source = Source::Endpoint(Endpoint {
            inner: ep.inner.clone(),
        });
        self.add_member(ep.as_raw_fd(), source, token, Interest::READABLE)
    }

    fn add_member(
        &mut self,
        fd: RawFd,
        source: Source,
        token: Token,
        interest: Interest,
    ) -> Result<(), Error> {
        if self.members.contains_key(&fd) {
            return Err(Self::refuse(
                fd,
                "ADD",
                "is a member already (use modify, or delete it first)",
            ));
        }
        self.record(fd, Op::Add(interest.epoll_bits()))?;
        self.members.insert(
            fd,
            Member {
                source,
                token,
                interest,
            },
        );
        Ok(())
    }

    /// Changes a member's token and interest (an endpoint: [`Interest::READABLE`], or
    /// [`Interest::NONE`] to leave it out of waits). Recorded; applied by the next wait; a
    /// change of the token alone needs no system call.
    pub fn modify(
        &mut self,
        fd: &impl AsFd,
        token: Token,
        interest: Interest,
    ) -> Result<(), Error> {
        let fd = fd.as_fd().as_raw_fd();
        let Some(m) = self.members.get(&fd) else {
            return Err(Self::refuse(fd, "MOD", "is not a member (use add)"));
        };
        if matches!(m.source, Source::Endpoint(_)) && interest.writable {
            return Err(Self::refuse(
                fd,
                "MOD",
                "is an endpoint: it can only be watched for events (Interest::READABLE)",
            ));
        }
        let same = m.interest == interest;
        if !same {
            self.record(fd, Op::Mod(interest.epoll_bits()))?;
        } else {
            self.counters.changes += 1;
        }
        let m = self.members.get_mut(&fd).expect("checked above");
        m.token = token;
        m.interest = interest;
        Ok(())
    }

    /// Removes a member (a plain fd or an endpoint). Recorded; applied by the next wait.
    pub fn delete(&mut self, fd: &impl AsFd) -> Result<(), Error> {
        let fd = fd.as_fd().as_raw_fd();
        if !self.members.contains_key(&fd) {
            return Err(Self::refuse(fd, "DEL", "is not a member"));
        }
        self.record(fd, Op::Del)?;
        if let Some(Member {
            source: Source::Endpoint(ep),
            ..
        }) = self.members.remove(&fd)
        {
            self.retired.push(ep);
        }
        Ok(())
    }

    /// Applies the pending changes now (every [`Poller::wait`] does this first).
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            self.retired.clear();
            return Ok(());
        }
        let ops: Vec<(RawFd, Op<u32>)> = std::mem::take(&mut self.pending).into_iter().collect();
        let results = match self.uring.is_some() {
            true => self.apply_uring(&ops)?,
            false => ops.iter().map(|(fd, op)| self.epoll_ctl(*fd, op)).collect(),
        };
        self.counters.applied += ops.len() as u64;
        let mut first = None;
        for ((fd, op), res) in ops.iter().zip(results) {
            if let Err(e) = self.settle(*fd, op, res) {
                first.get_or_insert(e);
            }
        }
        self.retired.clear();
        first.map_or(Ok(()), Err)
    }

    fn ctl_code<T>(op: &Op<T>) -> libc::c_int {
        match op {
            Op::Add(_) => libc::EPOLL_CTL_ADD,
            Op::Mod(_) => libc::EPOLL_CTL_MOD,
            Op::Del => libc::EPOLL_CTL_DEL,
        }
    }

    fn epoll_event(fd: RawFd, op: &Op<u32>) -> libc::epoll_event {
        let bits = match op {
            Op::Add(b) | Op::Mod(b) => *b,
            Op::Del => 0,
        };
        libc::epoll_event {
            events: bits,
            u64: fd as u64,
        }
    }

    /// One `epoll_ctl`: 0 or a negative errno.
    fn epoll_ctl(&mut self, fd: RawFd, op: &Op<u32>) -> i32 {
        let mut ev = Self::epoll_event(fd, op);
        self.counters.epoll_ctls += 1;
        // SAFETY: epfd is our epoll fd; ev is a valid epoll_event for the call's duration.
        let r = unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), Self::ctl_code(op), fd, &mut ev) };
        if r < 0 {
            -std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO)
        } else {
            0
        }
    }

    /// All operations as `IORING_OP_EPOLL_CTL` entries, [`URING_BATCH`] per `io_uring_enter`
    /// that submits them and waits for their completions. Returns each one's result.
    fn apply_uring(&mut self, ops: &[(RawFd, Op<u32>)]) -> Result<Vec<i32>, Error> {
        let epfd = self.epfd.as_raw_fd();
        let events: Vec<libc::epoll_event> = ops
            .iter()
            .map(|(fd, op)| Self::epoll_event(*fd, op))
            .collect();
        let mut results = vec![0i32; ops.len()];
        let ring = self.uring.as_mut().expect("checked by the caller");
        for (c, chunk) in ops.chunks(URING_BATCH).enumerate() {
            let base = c * URING_BATCH;
            {
                let mut sq = ring.submission();
                for (i, (fd, op)) in chunk.iter().enumerate() {
                    let ev: *const libc::epoll_event = &events[base + i];
                    let entry = io_uring::opcode::EpollCtl::new(
                        io_uring::types::Fd(epfd),
                        io_uring::types::Fd(*fd),
                        Self::ctl_code(op),
                        ev.cast(),
                    )
                    .build()
                    .user_data((base + i) as u64);
                    // SAFETY: the entry points into `events`, which outlives the submission
                    // (every completion is reaped below before it is dropped). The queue has
                    // room: it holds URING_BATCH entries and is empty here.
                    unsafe { sq.push(&entry) }.expect("the submission queue holds a chunk");
                }
            }
            let mut done = 0;
            while done < chunk.len() {
                self.counters.uring_submits += 1;
                match ring.submit_and_wait(chunk.len() - done) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(err) => {
                        return Err(Error::Os {
                            call: "io_uring_enter (IORING_OP_EPOLL_CTL)",
                            err,
                        })
                    }
                }
                for cqe in ring.completion() {
                    results[cqe.user_data() as usize] = cqe.result();
                    done += 1;
                }
            }
        }
        Ok(results)
    }

    /// Makes the members agree with what the kernel did for `op`.
    fn settle(&mut self, fd: RawFd, op: &Op<u32>, res: i32) -> Result<(), Error> {
        let res = match (op, -res) {
            (_, 0) => return Ok(()),
            // Gone already (its file was closed): what a DEL wants.
            (Op::Del, libc::ENOENT | libc::EBADF) => return Ok(()),
            // A DEL then ADD that became a MOD of an fd whose old registration went with its
            // file: add it.
            (Op::Mod(b), libc::ENOENT) => self.epoll_ctl(fd, &Op::Add(*b)),
            (_, e) => -e,
        };
        if res == 0 {
            return Ok(());
        }
        if !matches!(op, Op::Del) {
            if let Some(Member {
                source: Source::Endpoint(ep),
                ..
            }) = self.members.remove(&fd)
            {
                self.retired.push(ep);
            }
        }
        Err(Error::PollerCtl {
            fd,
            op: op_name(op),
            err: std::io::Error::from_raw_os_error(-res),
        })
    }

    fn has_fds(&self) -> bool {
        self.members
            .values()
            .any(|m| matches!(m.source, Source::Fd) && m.interest != Interest::NONE)
    }

    /// Reads every watched endpoint's ring; reports the non-empty ones.
    fn poll_endpoints(&self, out: &mut Vec<Ready>) {
        for m in self.members.values() {
            if let Source::Endpoint(ep) = &m.source {
                if m.interest.readable && lock(&ep.inner.rx).ring.has_event() {
                    out.push(Ready {
                        token: m.token,
                        readable: true,
                        writable: false,
                        error: false,
                    });
                }
            }
        }
    }

    /// One `epoll_wait`; reports plain fds that are ready and woken endpoints that hold events
    /// (and are not reported already).
    fn epoll_wait(&mut self, out: &mut Vec<Ready>, timeout_ms: i32) -> Result<(), Error> {
        let cap = self.members.len().clamp(1, 1024);
        self.events.clear();
        self.events.reserve(cap);
        self.counters.epoll_waits += 1;
        if timeout_ms != 0 {
            self.counters.blocking_waits += 1;
        }
        // SAFETY: the buffer has room for `cap` events; the kernel writes at most that many.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd.as_raw_fd(),
                self.events.as_mut_ptr(),
                cap as libc::c_int,
                timeout_ms,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(Error::Os {
                call: "epoll_wait",
                err,
            });
        }
        // SAFETY: the kernel initialised the first n entries.
        unsafe { self.events.set_len(n as usize) };
        for ev in &self.events {
            let fd = ev.u64 as RawFd;
            let bits = ev.events;
            let Some(m) = self.members.get(&fd) else {
                continue;
            };
            match &m.source {
                Source::Endpoint(ep) => {
                    // Woken: ready if its ring holds events (a late wake-up may find it
                    // empty; the next wait arms it again).
                    if m.interest.readable
                        && !out.iter().any(|r| r.token == m.token)
                        && lock(&ep.inner.rx).ring.has_event()
                    {
                        out.push(Ready {
                            token: m.token,
                            readable: true,
                            writable: false,
                            error: false,
                        });
                    }
                }
                Source::Fd => out.push(Ready {
                    token: m.token,
                    readable: bits & (libc::EPOLLIN as u32) != 0,
                    writable: bits & (libc::EPOLLOUT as u32) != 0,
                    error: bits & ((libc::EPOLLERR | libc::EPOLLHUP) as u32) != 0,
                }),
            }
        }
        Ok(())
    }

    /// Applies pending changes, then waits until a member is ready or `timeout` passes
    /// (`None`: no limit; zero: look once without spinning, arming or blocking). `ready` is
    /// cleared and filled with the ready members; returns how many (0 on timeout).
    pub fn wait(
        &mut self,
        ready: &mut Vec<Ready>,
        timeout: Option<Duration>,
    ) -> Result<usize, Error> {
        ready.clear();
        let start = Instant::now();
        let deadline = timeout.and_then(|t| start.checked_add(t));
        self.flush()?;
        let has_fds = self.has_fds();
        // 1. Poll.
        self.poll_endpoints(ready);
        if !ready.is_empty() {
            self.fast_streak += 1;
            if has_fds && self.fast_streak >= FD_CHECK_EVERY {
                self.fast_streak = 0;
                self.epoll_wait(ready, 0)?;
            } else {
                self.counters.fast_returns += 1;
            }
            return Ok(ready.len());
        }
        self.fast_streak = 0;
        if has_fds {
            self.epoll_wait(ready, 0)?;
            if !ready.is_empty() {
                return Ok(ready.len());
            }
        }
        if timeout == Some(Duration::ZERO) {
            return Ok(0);
        }
        // 2. Spin.
        let spin_end = start + self.spin;
        let spin_end = deadline.map_or(spin_end, |d| d.min(spin_end));
        while Instant::now() < spin_end {
            self.poll_endpoints(ready);
            if ready.is_empty() && has_fds {
                self.epoll_wait(ready, 0)?;
            }
            if !ready.is_empty() {
                return Ok(ready.len());
            }
            std::hint::spin_loop();
        }
        // 3. Arm, then block.
        loop {
            for m in self.members.values() {
                if let Source::Endpoint(ep) = &m.source {
                    if !m.interest.readable {
                        continue;
                    }
                    let was_armed = ep.is_armed();
                    if ep.arm()? {
                        if !was_armed {
                            self.counters.arms += 1;
                        }
                    } else {
                        ready.push(Ready {
                            token: m.token,
                            readable: true,
                            writable: false,
                            error: false,
                        });
                    }
                }
            }
            if !ready.is_empty() {
                return Ok(ready.len());
            }
            let ms = match deadline {
                None => -1,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    // Rounded up, so that a short remaining time does not become a busy loop.
                    Some(r) if !r.is_zero() => {
                        r.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                    }
                    _ => return Ok(0),
                },
            };
            self.epoll_wait(ready, ms)?;
            if !ready.is_empty() {
                return Ok(ready.len());
            }
        }
    }
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("members", &self.members.len())
            .field("pending", &self.pending.len())
            .field("apply_mode", &self.apply_mode())
            .field("spin", &self.spin)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EventFd;
    use std::collections::BTreeMap;

    /// What the kernel holds for the poller's epoll set, read independently of the poller:
    /// `/proc/self/fdinfo/<epfd>` lists each registered fd with its event mask.
    fn kernel_set(p: &Poller) -> BTreeMap<RawFd, u32> {
        let text =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", p.epfd.as_raw_fd())).unwrap();
        let mut out = BTreeMap::new();
        for line in text.lines().filter(|l| l.starts_with("tfd:")) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let fd: RawFd = f[1].parse().unwrap();
            let at = f.iter().position(|w| *w == "events:").unwrap();
            let ev = u32::from_str_radix(f[at + 1], 16).unwrap();
            // The kernel adds EPOLLERR | EPOLLHUP to every mask.
            let ev = ev & !((libc::EPOLLERR | libc::EPOLLHUP) as u32);
            out.insert(fd, ev);
        }
        out
    }

    fn modes() -> [ApplyMode; 2] {
        [ApplyMode::Uring, ApplyMode::EpollCtl]
    }

    fn poller(mode: ApplyMode) -> Poller {
        let p = Poller::with_mode(mode).unwrap().with_spin(Duration::ZERO);
        assert_eq!(
            p.apply_mode(),
            mode,
            "io_uring with IORING_OP_EPOLL_CTL is expected here"
        );
        p
    }

    #[derive(Clone, Copy, Debug)]
    enum Call {
        Add(Interest),
        Mod(Interest),
        Del,
    }

    /// Every sequence of up to five calls on one fd, starting outside and inside the set: each
    /// call is accepted or refused exactly as one `epoll_ctl` at a time would be (the plain
    /// model), and after the wait the kernel's set (read from /proc) and the reported readiness
    /// match the model, with at most one operation applied.
    #[test]
    fn every_sequence_up_to_five_calls_matches_one_epoll_ctl_at_a_time() {
        let alphabet = [
            Call::Add(Interest::READABLE),
            Call::Add(Interest::BOTH),
            Call::Mod(Interest::WRITABLE),
            Call::Mod(Interest::READABLE),
            Call::Del,
        ];
        let efd = EventFd::new().unwrap();
        efd.signal(); // readable and writable from the start
        let fd = efd.as_fd().as_raw_fd();
        let mut checked = 0;
        for mode in modes() {
            let mut p = poller(mode);
            let mut ready = Vec::new();
            for len in 1..=5u32 {
                for code in 0..alphabet.len().pow(len) {
                    for start_in in [false, true] {
                        // Start state, applied.
                        let mut model: Option<Interest> = None;
                        if start_in {
                            p.add(&efd, Token(1), Interest::READABLE).unwrap();
                            model = Some(Interest::READABLE);
                        }
                        p.flush().unwrap();
                        let before = p.counters();
                        let mut c = code;
                        for _ in 0..len {
                            let call = alphabet[c % alphabet.len()];
                            c /= alphabet.len();
                            let (got, want) = match call {
                                Call::Add(i) => (
                                    p.add(&efd, Token(1), i).is_ok(),
                                    model.is_none().then_some(Some(i)),
                                ),
                                Call::Mod(i) => (
                                    p.modify(&efd, Token(1), i).is_ok(),
                                    model.is_some().then_some(Some(i)),
                                ),
                                Call::Del => (p.delete(&efd).is_ok(), model.map(|_| None)),
                            };
                            assert_eq!(got, want.is_some(), "{call:?} after {model:?}");
                            if let Some(w) = want {
                                model = w;
                            }
                        }
                        assert!(p.pending() <= 1);
                        p.wait(&mut ready, Some(Duration::ZERO)).unwrap();
                        let after = p.counters();
                        assert!(after.applied - before.applied <= 1);
                        let kernel = kernel_set(&p);
                        match model {
                            None => assert!(kernel.is_empty(), "{kernel:?}"),
                            Some(i) => {
                                assert_eq!(kernel.get(&fd), Some(&i.epoll_bits()));
                                assert_eq!(kernel.len(), 1);
                            }
                        }
                        let want_ready: Vec<Ready> = model
                            .filter(|i| *i != Interest::NONE)
                            .map(|i| Ready {
                                token: Token(1),
                                readable: i.readable,
                                writable: i.writable,
                                error: false,
                            })
                            .into_iter()
                            .collect();
                        assert_eq!(ready, want_ready, "{mode:?} code {code} len {len}");
                        // Back to empty for the next sequence.
                        if model.is_some() {
                            p.delete(&efd).unwrap();
                        }
                        p.flush().unwrap();
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 2 * 2 * (5 + 25 + 125 + 625 + 3125));
    }

    /// Changes to many fds in one wait: one io_uring submit, or one epoll_ctl each.
    #[test]
    fn many_changes_take_one_submit_through_io_uring() {
        for mode in modes() {
            let fds: Vec<EventFd> = (0..300).map(|_| EventFd::new().unwrap()).collect();
            let mut p = poller(mode);
            for (i, f) in fds.iter().enumerate() {
                p.add(f, Token(i as u64), Interest::READABLE).unwrap();
                // Coalesced into the ADD.
                p.modify(f, Token(i as u64), Interest::BOTH).unwrap();
            }
            assert_eq!(p.pending(), 300);
            let mut ready = Vec::new();
            p.wait(&mut ready, Some(Duration::ZERO)).unwrap();
            let c = p.counters();
            assert_eq!((c.changes, c.applied), (600, 300));
            match mode {
                // 300 entries: two submits of at most URING_BATCH.
                ApplyMode::Uring => assert_eq!((c.uring_submits, c.epoll_ctls), (2, 0)),
                ApplyMode::EpollCtl => assert_eq!((c.uring_submits, c.epoll_ctls), (0, 300)),
            }
            assert_eq!(kernel_set(&p).len(), 300);
            // All writable (an eventfd is), none readable yet.
            assert_eq!(ready.len(), 300);
            assert!(ready.iter().all(|r| r.writable && !r.readable));
            fds[17].signal();
            for f in &fds {
                p.modify(f, Token(0), Interest::READABLE).unwrap();
            }
            p.wait(&mut ready, Some(Duration::from_secs(5))).unwrap();
            assert_eq!(
                ready,
                vec![Ready {
                    token: Token(0),
                    readable: true,
                    writable: false,
                    error: false
                }]
            );
            // A token change alone is no operation.
            let before = p.counters().applied;
            p.modify(&fds[3], Token(99), Interest::READABLE).unwrap();
            assert_eq!(p.pending(), 0);
            p.flush().unwrap();
            assert_eq!(p.counters().applied, before);
        }
    }

    #[test]
    fn membership_mistakes_are_refused_at_once() {
        let (a, b) = (EventFd::new().unwrap(), EventFd::new().unwrap());
        let mut p = poller(ApplyMode::Uring);
        p.add(&a, Token(0), Interest::READABLE).unwrap();
        let e = p.add(&a, Token(0), Interest::READABLE).unwrap_err();
        assert!(matches!(e, Error::PollerMember { op: "ADD", .. }), "{e}");
        let e = p.modify(&b, Token(0), Interest::READABLE).unwrap_err();
        assert!(matches!(e, Error::PollerMember { op: "MOD", .. }), "{e}");
        let e = p.delete(&b).unwrap_err();
        assert!(matches!(e, Error::PollerMember { op: "DEL", .. }), "{e}");
        assert_eq!(p.counters().changes, 1);
        assert_eq!(p.pending(), 1);
    }

    /// The kernel refuses a regular file: that change is reported, every other one applied.
    #[test]
    fn a_change_the_kernel_refuses_is_reported_and_the_rest_applied() {
        for mode in modes() {
            let file = std::fs::File::open("/proc/self/cmdline").unwrap();
            let good = EventFd::new().unwrap();
            good.signal();
            let mut p = poller(mode);
            p.add(&file, Token(1), Interest::READABLE).unwrap();
            p.add(&good, Token(2), Interest::READABLE).unwrap();
            let mut ready = Vec::new();
            let e = p.wait(&mut ready, Some(Duration::ZERO)).unwrap_err();
            assert!(
                matches!(&e, Error::PollerCtl { op: "ADD", err, .. }
                    if err.raw_os_error() == Some(libc::EPERM)),
                "{e}"
            );
            assert_eq!(e.kind(), crate::ErrorKind::Os);
            assert_eq!(p.len(), 1);
            assert_eq!(
                kernel_set(&p).keys().copied().collect::<Vec<_>>(),
                vec![good.as_fd().as_raw_fd()]
            );
            p.wait(&mut ready, Some(Duration::ZERO)).unwrap();
            assert_eq!(ready.len(), 1);
            assert_eq!(ready[0].token, Token(2));
        }
    }

    /// DEL then ADD of an fd whose registration the kernel dropped meanwhile (its file was
    /// closed and the number reused; here: removed behind the poller's back, so that no other
    /// test's fd can take the number): coalesced into a MOD, which the kernel refuses, so the
    /// poller adds it.
    #[test]
    fn a_delete_then_add_of_an_fd_the_kernel_forgot_registers_it() {
        for mode in modes() {
            let mut p = poller(mode);
            let f = EventFd::new().unwrap();
            let n = f.as_fd().as_raw_fd();
            p.add(&f, Token(1), Interest::READABLE).unwrap();
            p.flush().unwrap();
            // SAFETY: a plain epoll_ctl DEL on the poller's epoll fd.
            let r = unsafe {
                libc::epoll_ctl(
                    p.epfd.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    n,
                    std::ptr::null_mut(),
                )
            };
            assert_eq!(r, 0);
            assert!(kernel_set(&p).is_empty());
            p.delete(&f).unwrap();
            p.add(&f, Token(2), Interest::READABLE).unwrap();
            assert_eq!(p.pending(), 1);
            f.signal();
            let mut ready = Vec::new();
            p.wait(&mut ready, Some(Duration::from_secs(5))).unwrap();
            assert_eq!(ready.len(), 1);
            assert_eq!(ready[0].token, Token(2));
            assert_eq!(kernel_set(&p).len(), 1);
        }
    }

    #[test]
    fn a_wait_with_nothing_ready_ends_at_its_timeout() {
        let a = EventFd::new().unwrap();
        let mut p = Poller::new().unwrap().with_spin(Duration::from_micros(200));
        p.add(&a, Token(0), Interest::READABLE).unwrap();
        let mut ready = Vec::new();
        let t = Instant::now();
        assert_eq!(
            p.wait(&mut ready, Some(Duration::from_millis(20))).unwrap(),
            0
        );
        assert!(t.elapsed() >= Duration::from_millis(20));
        let c = p.counters();
        assert!(c.blocking_waits >= 1);
        // A signal from another thread ends a blocking wait.
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                a.signal();
            });
            assert_eq!(p.wait(&mut ready, None).unwrap(), 1);
        });
    }
}
