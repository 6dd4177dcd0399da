//! The library's side of the event engine: event rings in DMA memory read by polling, the VI
//! and timer allocators, and the one interrupt thread.
//!
//! # Interrupt indirection
//! The device raises one interrupt line, and only for one queue: the interrupt queue, which the
//! library keeps on the last VI ([`EventCore::irq_vi`]) and services itself. Any other queue
//! that is primed (armed) and gets an event posts a WAKEUP event naming it into the interrupt
//! queue and disarms. The interrupt thread blocks on the backend's interrupt fd, drains the
//! interrupt queue, wakes the endpoint named by each WAKEUP (its own eventfd), and primes the
//! interrupt queue again (with its read count, so a WAKEUP that arrived meanwhile raises the
//! interrupt at once: nothing is lost between the drain and the prime).

use crate::backend::{Backend, BackendError, DmaRegion};
use crate::event::{Event, EventKind};
use crate::Error;
use evnic_proto::doorbell::DoorbellPage;
use evnic_proto::evq::{self, EventRing};
use evnic_proto::params::DeviceParams;
use evnic_proto::rings::{self, Queue};
use evnic_regs::event::EVENT_BYTES;
use evnic_regs::map::{global as g, global_reg, group as gr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// log2 of the interrupt queue's ring: at most one WAKEUP per queue is outstanding per prime
/// (plus watchdog wake-ups, also one per queue until space returns), so the ring holds at least
/// twice as many slots as the device has VIs.
fn irq_ring_log2(vis: u32) -> u32 {
    (2 * vis).next_power_of_two().trailing_zeros().clamp(
        evnic_regs::map::vi::EVQ_SIZE_MIN,
        evnic_regs::map::vi::EVQ_SIZE_MAX,
    )
}

/// Locks a mutex, ignoring poisoning (a panicking callback must not wedge the library).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An event ring of the library: DMA memory from the backend.
pub(crate) type Ring = EventRing<DmaRegion>;

/// Allocates an event ring of `1 << log2` events.
pub(crate) fn new_ring(dev: &dyn Backend, log2: u32) -> Result<Ring, Error> {
    let mem = dev.alloc_dma(EVENT_BYTES << log2)?;
    EventRing::new(mem, log2).map_err(|why| {
        Error::Backend(BackendError::Dma {
            bytes: EVENT_BYTES << log2,
            why,
        })
    })
}

/// An eventfd (non-blocking): the per-endpoint wake-up line and the interrupt thread's stop.
pub(crate) struct EventFd(pub(crate) OwnedFd);

impl EventFd {
    pub(crate) fn new() -> Result<EventFd, Error> {
        // SAFETY: plain eventfd creation; the fd is owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(Error::Os {
                call: "eventfd",
                err: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
    /// Makes the fd readable.
    pub(crate) fn signal(&self) {
        evnic_proto::doorbell::signal_eventfd(self.0.as_fd());
    }
    /// Makes the fd unreadable again (reads and discards its count).
    pub(crate) fn clear(&self) {
        drain_fd(self.0.as_raw_fd());
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Reads an eventfd's counter if there is one (non-blocking fds only block nothing).
fn drain_fd(fd: RawFd) {
    let mut v: u64 = 0;
    // SAFETY: reading 8 bytes into a valid u64; EAGAIN when the count is zero is fine.
    unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
}

/// Waits until one of `fds` is readable or `timeout` passes (`None`: forever). Returns, per fd,
/// whether it is readable.
pub(crate) fn poll_fds(fds: &[RawFd], timeout: Option<Duration>) -> Result<Vec<bool>, Error> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms: libc::c_int = match timeout {
        None => -1,
        // Round up so that a short remaining time does not become a busy zero-timeout poll.
        Some(t) => t.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int,
    };
    // SAFETY: pfds is a valid array of pollfd of the given length.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if r < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(Error::Os { call: "poll", err });
    }
    Ok(pfds.iter().map(|p| p.revents != 0).collect())
}

/// A set of numbered things (VIs, timers), lowest free first.
pub(crate) struct Pool {
    free: Mutex<Vec<bool>>,
}

impl Pool {
    pub(crate) fn new(n: u32) -> Pool {
        Pool {
            free: Mutex::new(vec![true; n as usize]),
        }
    }
    /// Takes the lowest free number.
    pub(crate) fn take_any(&self) -> Option<u32> {
        let mut f = lock(&self.free);
        let i = f.iter().position(|x| *x)?;
        f[i] = false;
        Some(i as u32)
    }
    /// Takes number `n`; false when it is taken or out of range.
    pub(crate) fn take(&self, n: u32) -> bool {
        let mut f = lock(&self.free);
        match f.get_mut(n as usize) {
            Some(x) if *x => {
                *x = false;
                true
            }
            _ => false,
        }
    }
    pub(crate) fn give_back(&self, n: u32) {
        if let Some(x) = lock(&self.free).get_mut(n as usize) {
            *x = true;
        }
    }
}

/// An endpoint's "armed" flag: its own, or in a doorbell page shared between a hub's client
/// (which primes) and the hub (which wakes it).
pub(crate) enum ArmedFlag {
    Own(AtomicBool),
    /// The flag in a doorbell page, and what keeps the page mapped.
    Shared {
        page: DoorbellPage,
        _keep: Arc<dyn Send + Sync>,
    },
}

impl std::ops::Deref for ArmedFlag {
    type Target = AtomicBool;
    fn deref(&self) -> &AtomicBool {
        match self {
            ArmedFlag::Own(b) => b,
            ArmedFlag::Shared { page, .. } => page.armed(),
        }
    }
}

/// What the interrupt thread knows of an endpoint: how to wake it, and its counters.
pub(crate) struct Waker {
    pub vi: u32,
    pub fd: EventFd,
    /// The queue is primed and its WAKEUP has not come yet.
    pub armed: ArmedFlag,
    /// WAKEUPs (interrupts) taken for this endpoint.
    pub interrupts: AtomicU64,
    /// Times this endpoint primed its queue.
    pub primes: AtomicU64,
    /// Read-count doorbells written (including the ones written by a prime).
    pub doorbells: AtomicU64,
    /// Events taken by the host.
    pub events: AtomicU64,
    /// Frames and bytes taken from the endpoint's receive ring.
    pub rx_frames: AtomicU64,
    pub rx_bytes: AtomicU64,
    /// Frames and bytes the device sent from the endpoint's transmit ring.
    pub tx_frames: AtomicU64,
    pub tx_bytes: AtomicU64,
}

impl Waker {
    pub(crate) fn new(vi: u32) -> Result<Waker, Error> {
        Ok(Waker::with(
            vi,
            EventFd::new()?,
            ArmedFlag::Own(AtomicBool::new(false)),
        ))
    }

    /// A waker that signals `fd`, with its armed flag in `armed`.
    pub(crate) fn with(vi: u32, fd: EventFd, armed: ArmedFlag) -> Waker {
        Waker {
            vi,
            fd,
            armed,
            interrupts: AtomicU64::new(0),
            primes: AtomicU64::new(0),
            doorbells: AtomicU64::new(0),
            events: AtomicU64::new(0),
            rx_frames: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            tx_frames: AtomicU64::new(0),
            tx_bytes: AtomicU64::new(0),
        }
    }

    pub(crate) fn counters(&self) -> crate::EndpointCounters {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        crate::EndpointCounters {
            events: l(&self.events),
            interrupts: l(&self.interrupts),
            primes: l(&self.primes),
            doorbells: l(&self.doorbells),
            rx_frames: l(&self.rx_frames),
            rx_bytes: l(&self.rx_bytes),
            tx_frames: l(&self.tx_frames),
            tx_bytes: l(&self.tx_bytes),
        }
    }
}

/// Why the library stopped trusting the device: what it was doing and the access that failed.
type Failure = (&'static str, Arc<BackendError>);

/// State shared by the interrupt thread and the rest of the library.
pub(crate) struct IrqShared {
    table: Mutex<Vec<Option<Arc<Waker>>>>,
    stop: AtomicBool,
    stop_fd: EventFd,
    failed: Mutex<Option<Failure>>,
    /// Interrupts the thread took.
    pub interrupts: AtomicU64,
}

impl IrqShared {
    fn new(vis: u32) -> Result<Arc<IrqShared>, Error> {
        Ok(Arc::new(IrqShared {
            table: Mutex::new(vec![None; vis as usize]),
            stop: AtomicBool::new(false),
            stop_fd: EventFd::new()?,
            failed: Mutex::new(None),
            interrupts: AtomicU64::new(0),
        }))
    }

    fn wake_all(&self) {
        for w in lock(&self.table).iter().flatten() {
            w.armed.store(false, Ordering::Release);
            w.fd.signal();
        }
    }

    pub(crate) fn fail(&self, during: &'static str, cause: BackendError) {
        lock(&self.failed).get_or_insert((during, Arc::new(cause)));
        self.wake_all();
    }
}

/// The event side of an open device: allocators, the interrupt queue and its thread. Shared by
/// the [`crate::Nic`] and every endpoint and timer (the last one to go stops the thread).
pub(crate) struct EventCore {
    pub dev: Arc<dyn Backend>,
    pub params: DeviceParams,
    /// The VI the library reserves as the interrupt queue (the last one).
    pub irq_vi: u32,
    vis: Pool,
    timers: Pool,
    pub irq: Arc<IrqShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl EventCore {
    /// Sets up the interrupt queue on the last VI and starts the interrupt thread.
    pub(crate) fn start(
        dev: Arc<dyn Backend>,
        params: DeviceParams,
    ) -> Result<Arc<EventCore>, Error> {
        if let Some(hub) = dev.hub() {
            // Through the hub: it owns the interrupt queue, the VIs and the timers; a thread
            // here only watches the connection, to wake every waiter when the hub dies.
            let irq = IrqShared::new(params.vis)?;
            let irq_vi = hub.irq_vi();
            let (d, s) = (dev.clone(), irq.clone());
            let thread = std::thread::Builder::new()
                .name("evnic-hub-watch".into())
                .spawn(move || {
                    if let Some(h) = d.hub() {
                        if let Some(e) = h.watch(s.stop_fd.as_raw_fd()) {
                            s.fail("the connection to the hub", e);
                        }
                    }
                })
                .map_err(|err| Error::Os {
                    call: "spawn the hub watcher",
                    err,
                })?;
            return Ok(Arc::new(EventCore {
                dev,
                params,
                irq_vi,
                vis: Pool::new(0),
                timers: Pool::new(0),
                irq,
                thread: Mutex::new(Some(thread)),
            }));
        }
        let max_vis = 1u32 << g::IRQ_QUEUE_VI.width;
        let max_groups = 1u32 << gr::SUBSCRIBE_GROUP.width;
        if params.vis < 2
            || params.vis > max_vis
            || params.groups > max_groups
            || params.timers > 1 << 16
        {
            return Err(Error::ImplausibleParams {
                vis: params.vis,
                groups: params.groups,
                timers: params.timers,
            });
        }
        let irq_vi = params.vis - 1;
        let ring = new_ring(&*dev, irq_ring_log2(params.vis))?;
        let mut r: &dyn Backend = &*dev;
        r.write32(global_reg(&g::IRQ_QUEUE), 0)?;
        ring.program(&mut r, irq_vi)?;
        evq::set_watchdog(&mut r, irq_vi, 0)?;
        r.write32(
            global_reg(&g::IRQ_QUEUE),
            g::IRQ_QUEUE_VI.put(irq_vi) | g::IRQ_QUEUE_ENABLE.put(1),
        )?;
        ring.prime(&mut r, irq_vi)?;
        let status = evq::status(&mut r, irq_vi)?;
        if !status.enabled {
            return Err(Error::QueueNotEnabled {
                vi: irq_vi,
                status: r.read32(evnic_regs::map::vi_reg(
                    irq_vi,
                    &evnic_regs::map::vi::EVQ_STATUS,
                ))?,
            });
        }
        let irq = IrqShared::new(params.vis)?;
        let (d, s) = (dev.clone(), irq.clone());
        let thread = std::thread::Builder::new()
            .name("evnic-irq".into())
            .spawn(move || irq_thread(d, s, ring, irq_vi))
            .map_err(|err| Error::Os {
                call: "spawn the interrupt thread",
                err,
            })?;
        let vis = Pool::new(params.vis);
        vis.take(irq_vi);
        Ok(Arc::new(EventCore {
            dev,
            params,
            irq_vi,
            vis,
            timers: Pool::new(params.timers),
            irq,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// The backend as the device protocol's register access.
    pub(crate) fn regs(&self) -> &dyn Backend {
        &*self.dev
    }

    /// Takes the lowest free VI.
    pub(crate) fn alloc_vi(&self) -> Result<u32, Error> {
        if let Some(h) = self.dev.hub() {
            return h.take_vi(None);
        }
        self.vis.take_any().ok_or(Error::NoFreeVi {
            vis: self.params.vis,
            reserved: 1,
        })
    }

    /// Takes VI `v`.
    pub(crate) fn take_vi(&self, v: u32) -> Result<u32, Error> {
        if let Some(h) = self.dev.hub() {
            return h.take_vi(Some(v));
        }
        if v >= self.irq_vi {
            return Err(Error::ViOutOfRange {
                vi: v,
                irq_vi: self.irq_vi,
            });
        }
        if !self.vis.take(v) {
            return Err(Error::ViInUse { vi: v });
        }
        Ok(v)
    }

    pub(crate) fn free_vi(&self, v: u32) {
        if let Some(h) = self.dev.hub() {
            return h.free_vi(v);
        }
        self.vis.give_back(v);
    }

    /// Takes the lowest free timer.
    pub(crate) fn alloc_timer(&self) -> Result<u32, Error> {
        if let Some(h) = self.dev.hub() {
            return h.take_timer();
        }
        self.timers.take_any().ok_or(Error::NoFreeTimer {
            timers: self.params.timers,
        })
    }

    pub(crate) fn free_timer(&self, t: u32) {
        if let Some(h) = self.dev.hub() {
            return h.free_timer(t);
        }
        self.timers.give_back(t);
    }

    /// A waker for a new endpoint on VI `v` (through the hub: its eventfd and doorbell page
    /// are passed to the hub, which wakes it).
    pub(crate) fn waker(&self, v: u32) -> Result<Arc<Waker>, Error> {
        match self.dev.hub() {
            Some(h) => h.attach(v).map(Arc::new),
            None => Waker::new(v).map(Arc::new),
        }
    }

    pub(crate) fn register(&self, w: Arc<Waker>) {
        let v = w.vi as usize;
        lock(&self.irq.table)[v] = Some(w);
    }

    pub(crate) fn unregister(&self, v: u32) {
        lock(&self.irq.table)[v as usize] = None;
        if let Some(h) = self.dev.hub() {
            h.detach(v);
        }
    }

    /// The endpoints open on this device, by VI.
    pub(crate) fn wakers(&self) -> Vec<Arc<Waker>> {
        lock(&self.irq.table).iter().flatten().cloned().collect()
    }

    /// Fails when the library stopped trusting the device (the interrupt thread stopped on an
    /// error, or a posted doorbell failed).
    pub(crate) fn check(&self) -> Result<(), Error> {
        match &*lock(&self.irq.failed) {
            None => Ok(()),
            Some((during, cause)) => Err(Error::DeviceFailed {
                during,
                cause: cause.clone(),
            }),
        }
    }

    /// Records a failure seen outside the interrupt thread (a failed posted doorbell), so that
    /// the next wait reports it.
    pub(crate) fn fail(&self, during: &'static str, cause: BackendError) {
        self.irq.fail(during, cause);
    }
}

impl Drop for EventCore {
    fn drop(&mut self) {
        self.irq.stop.store(true, Ordering::Release);
        self.irq.stop_fd.signal();
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

fn irq_thread(dev: Arc<dyn Backend>, shared: Arc<IrqShared>, mut ring: Ring, irq_vi: u32) {
    let irq_fd = dev.irq_fd();
    let fds = [irq_fd, shared.stop_fd.as_raw_fd()];
    let mut r: &dyn Backend = &*dev;
    while !shared.stop.load(Ordering::Acquire) {
        let ready = match poll_fds(&fds, None) {
            Ok(r) => r,
            Err(Error::Os { call, err }) => {
                shared.fail(
                    "the interrupt thread's wait",
                    BackendError::Io { call, err },
                );
                break;
            }
            Err(_) => break,
        };
        if !ready[0] {
            continue;
        }
        drain_fd(irq_fd);
        shared.interrupts.fetch_add(1, Ordering::Relaxed);
        while let Some(raw) = ring.next() {
            let EventKind::Wakeup { queue } = Event::from_raw(raw).kind() else {
                continue;
            };
            let w = lock(&shared.table).get(queue.0 as usize).cloned().flatten();
            if let Some(w) = w {
                // Disarmed first, then woken: a waiter that wakes and finds the queue empty
                // sees it unarmed and primes it again.
                w.armed.store(false, Ordering::Release);
                w.interrupts.fetch_add(1, Ordering::Relaxed);
                w.fd.signal();
            }
        }
        // Return the space and re-arm in one doorbell.
        if let Err(e) = ring.prime(&mut r, irq_vi) {
            shared.fail("the interrupt queue's doorbell", e);
            break;
        }
    }
    // Stop the device writing the ring before the ring's memory is unmapped.
    let _ = r.write32(global_reg(&g::IRQ_QUEUE), 0);
    let _ = rings::disable(&mut r, irq_vi, Queue::Event);
    drop(ring);
}
