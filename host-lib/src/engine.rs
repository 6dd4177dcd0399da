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

use crate::backend::{Backend, DmaRegion};
use crate::Error;
use evnic_regs::event::{self, Event, EventType, EVENT_BYTES};
use evnic_regs::map::{global as g, global_reg, vi, vi_reg};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// log2 of the interrupt queue's ring: at most one WAKEUP per queue is outstanding per prime
/// (plus watchdog wake-ups, also one per queue until space returns), so 256 slots never fill.
const IRQ_RING_LOG2: u32 = 8;

/// Locks a mutex, ignoring poisoning (a panicking callback must not wedge the library).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An eventfd (non-blocking): the per-endpoint wake-up line and the interrupt thread's stop.
pub(crate) struct EventFd(OwnedFd);

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
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a valid u64 to our eventfd. It can only fail when the
        // counter would overflow, in which case it is readable already.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
    /// Makes the fd unreadable again (reads and discards its count).
    pub(crate) fn clear(&self) {
        drain_fd(self.0.as_raw_fd());
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

/// Waits until one of `fds` is readable or `timeout` passes (`None`: forever). Returns the
/// indices of the readable fds' `pollfd`s through `ready`.
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

/// An event ring in DMA memory, read the way the device means it to be read: a slot holds a
/// new event when its phase bit equals the phase of the current pass (1 on the first pass,
/// flipping on every wrap). Reading it touches memory only.
pub(crate) struct Ring {
    mem: DmaRegion,
    log2: u32,
    /// Events consumed (the read count; the slot is `rptr % size`).
    pub rptr: u32,
}

impl Ring {
    pub(crate) fn new(dev: &dyn Backend, log2: u32) -> Result<Ring, Error> {
        let bytes = (1usize << log2) * EVENT_BYTES;
        let mem = dev.alloc_dma(bytes)?;
        if !(mem.as_ptr() as usize).is_multiple_of(16) || !mem.iova().is_multiple_of(16) {
            return Err(Error::Backend(crate::backend::BackendError::Dma(
                "the backend returned DMA memory that is not 16-byte aligned".into(),
            )));
        }
        Ok(Ring { mem, log2, rptr: 0 })
    }

    pub(crate) fn iova(&self) -> u64 {
        self.mem.iova()
    }

    pub(crate) fn size(&self) -> u32 {
        1 << self.log2
    }

    /// Writes the queue's base and size registers for VI `v` (the size last: it restarts the
    /// queue with this ring).
    pub(crate) fn program(&self, dev: &dyn Backend, v: u32) -> Result<(), Error> {
        dev.write32(vi_reg(v, &vi::EVQ_SIZE), 0)?;
        dev.write32(vi_reg(v, &vi::EVQ_BASE_LO), self.iova() as u32)?;
        dev.write32(vi_reg(v, &vi::EVQ_BASE_HI), (self.iova() >> 32) as u32)?;
        dev.write32(vi_reg(v, &vi::EVQ_SIZE), self.log2)?;
        Ok(())
    }

    /// The next new event, if any, without consuming it.
    #[inline]
    fn peek(&self) -> Option<Event> {
        let slot = (self.rptr & ((1 << self.log2) - 1)) as usize;
        let expected_phase = (self.rptr >> self.log2) & 1 == 0;
        // SAFETY: the ring is `1 << log2` 16-byte slots of live, 16-byte aligned DMA memory;
        // the device stores each slot's high word, then its low word with release ordering, so
        // an acquire load of the low word that shows the new phase makes the high word visible.
        unsafe {
            let base = (self.mem.as_ptr() as *const AtomicU64).add(2 * slot);
            let w0 = (*base).load(Ordering::Acquire);
            let (type_lsb, type_width) = event::w0::TYPE;
            let kind = (w0 >> type_lsb) & ((1 << type_width) - 1);
            let phase = (w0 >> event::PHASE_BIT) & 1 == 1;
            if phase != expected_phase || kind == 0 {
                return None;
            }
            Some(Event::decode([w0, (*base.add(1)).load(Ordering::Relaxed)]))
        }
    }

    /// The next new event, if any, consuming it.
    #[inline]
    pub(crate) fn next(&mut self) -> Option<Event> {
        let e = self.peek()?;
        self.rptr = self.rptr.wrapping_add(1);
        Some(e)
    }

    /// True when a new event is waiting (without consuming it).
    pub(crate) fn has_event(&self) -> bool {
        self.peek().is_some()
    }
}

/// What the interrupt thread knows of an endpoint: how to wake it, and its counters.
pub(crate) struct Waker {
    pub vi: u32,
    pub fd: EventFd,
    /// The queue is primed and its WAKEUP has not come yet.
    pub armed: AtomicBool,
    /// WAKEUPs (interrupts) taken for this endpoint.
    pub interrupts: AtomicU64,
    /// Times this endpoint primed its queue.
    pub primes: AtomicU64,
    /// Read-count doorbells written (including the ones written by a prime).
    pub doorbells: AtomicU64,
    /// Events taken by the host.
    pub events: AtomicU64,
}

impl Waker {
    pub(crate) fn counters(&self) -> crate::EndpointCounters {
        crate::EndpointCounters {
            events: self.events.load(Ordering::Relaxed),
            interrupts: self.interrupts.load(Ordering::Relaxed),
            primes: self.primes.load(Ordering::Relaxed),
            doorbells: self.doorbells.load(Ordering::Relaxed),
        }
    }
}

/// State shared by the interrupt thread and the rest of the library.
pub(crate) struct IrqShared {
    table: Mutex<Vec<Option<Arc<Waker>>>>,
    stop: AtomicBool,
    stop_fd: EventFd,
    /// Why the interrupt thread stopped, when it stopped on an error.
    failed: Mutex<Option<String>>,
    /// Interrupts the thread took.
    pub interrupts: AtomicU64,
}

impl IrqShared {
    fn wake_all(&self) {
        for w in lock(&self.table).iter().flatten() {
            w.armed.store(false, Ordering::Release);
            w.fd.signal();
        }
    }
}

/// Device parameters the library uses, read once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub vis: u32,
    pub groups: u32,
    pub timers: u32,
    pub clock_khz: u32,
}

/// The event side of an open device: allocators, the interrupt queue and its thread. Shared by
/// the [`crate::Nic`] and every endpoint and timer (the last one to go stops the thread).
pub(crate) struct EventCore {
    pub dev: Arc<dyn Backend>,
    pub params: Params,
    /// The VI the library reserves as the interrupt queue (the last one).
    pub irq_vi: u32,
    free_vis: Mutex<FreeSet>,
    free_timers: Mutex<FreeSet>,
    pub irq: Arc<IrqShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The free members of `0..n` (VIs or timers; any count).
pub(crate) struct FreeSet(Vec<u64>);

impl FreeSet {
    fn all(n: u32) -> Self {
        let mut words = vec![u64::MAX; n.div_ceil(64) as usize];
        if n % 64 != 0 {
            words[(n / 64) as usize] = (1u64 << (n % 64)) - 1;
        }
        FreeSet(words)
    }
    fn take(&mut self, i: u32) {
        self.0[(i / 64) as usize] &= !(1u64 << (i % 64));
    }
    fn give(&mut self, i: u32) {
        self.0[(i / 64) as usize] |= 1u64 << (i % 64);
    }
    /// Takes the lowest free member.
    fn take_lowest(&mut self) -> Option<u32> {
        let (w, bits) = self.0.iter().enumerate().find(|(_, b)| **b != 0)?;
        let i = w as u32 * 64 + bits.trailing_zeros();
        self.take(i);
        Some(i)
    }
}

impl EventCore {
    /// Reads the parameters, sets up the interrupt queue on the last VI and starts the
    /// interrupt thread.
    pub(crate) fn start(dev: Arc<dyn Backend>) -> Result<Arc<EventCore>, Error> {
        let r = |reg| dev.read32(global_reg(reg));
        let params = Params {
            vis: r(&g::NUM_VIS)?,
            groups: r(&g::NUM_GROUPS)?,
            timers: r(&g::NUM_TIMERS)?,
            clock_khz: r(&g::CLOCK_KHZ)?,
        };
        // The register map has room for 256 of each (8-bit VI and group fields, 256 timer slots).
        if params.vis < 2 || params.vis > 256 || params.timers > 256 || params.groups > 256 {
            return Err(Error::Wedged(format!(
                "implausible device parameters ({} VIs, {} groups, {} timers): the BAR reads garbage; reset or reload the device",
                params.vis, params.groups, params.timers
            )));
        }
        let irq_vi = params.vis - 1;
        let ring = Ring::new(&*dev, IRQ_RING_LOG2)?;
        dev.write32(global_reg(&g::IRQ_QUEUE), 0)?;
        ring.program(&*dev, irq_vi)?;
        dev.write32(vi_reg(irq_vi, &vi::EVQ_WATCHDOG), 0)?;
        dev.write32(
            global_reg(&g::IRQ_QUEUE),
            g::IRQ_QUEUE_VI.put(irq_vi) | g::IRQ_QUEUE_ENABLE.put(1),
        )?;
        dev.write32(vi_reg(irq_vi, &vi::EVQ_PRIME), 0)?;
        let status = dev.read32(vi_reg(irq_vi, &vi::EVQ_STATUS))?;
        if vi::EVQ_STATUS_ENABLED.get(status) != 1 {
            return Err(Error::Wedged(format!(
                "the interrupt queue (VI {irq_vi}) did not enable (EVQ_STATUS {status:#x}): reset the device"
            )));
        }
        let irq = Arc::new(IrqShared {
            table: Mutex::new(vec![None; params.vis as usize]),
            stop: AtomicBool::new(false),
            stop_fd: EventFd::new()?,
            failed: Mutex::new(None),
            interrupts: AtomicU64::new(0),
        });
        let (d, s) = (dev.clone(), irq.clone());
        let thread = std::thread::Builder::new()
            .name("evnic-irq".into())
            .spawn(move || irq_thread(d, s, ring, irq_vi))
            .map_err(|err| Error::Os {
                call: "spawn the interrupt thread",
                err,
            })?;
        Ok(Arc::new(EventCore {
            dev,
            params,
            irq_vi,
            free_vis: Mutex::new({
                let mut vis = FreeSet::all(params.vis);
                vis.take(irq_vi);
                vis
            }),
            free_timers: Mutex::new(FreeSet::all(params.timers)),
            irq,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// Takes the lowest free VI.
    pub(crate) fn alloc_vi(&self) -> Result<u32, Error> {
        let v = lock(&self.free_vis).take_lowest().ok_or(Error::NoFreeVi {
            vis: self.params.vis,
            reserved: 1,
        })?;
        Ok(v)
    }

    pub(crate) fn free_vi(&self, v: u32) {
        lock(&self.free_vis).give(v);
    }

    /// Takes the lowest free timer.
    pub(crate) fn alloc_timer(&self) -> Result<u32, Error> {
        let t = lock(&self.free_timers)
            .take_lowest()
            .ok_or(Error::NoFreeTimer {
                timers: self.params.timers,
            })?;
        Ok(t)
    }

    pub(crate) fn free_timer(&self, t: u32) {
        lock(&self.free_timers).give(t);
    }

    pub(crate) fn register(&self, w: Arc<Waker>) {
        let v = w.vi as usize;
        lock(&self.irq.table)[v] = Some(w);
    }

    pub(crate) fn unregister(&self, v: u32) {
        lock(&self.irq.table)[v as usize] = None;
    }

    /// The endpoints open on this device, by VI.
    pub(crate) fn wakers(&self) -> Vec<Arc<Waker>> {
        lock(&self.irq.table).iter().flatten().cloned().collect()
    }

    /// Fails when the interrupt thread has stopped on an error (the device is unusable).
    pub(crate) fn check(&self) -> Result<(), Error> {
        match &*lock(&self.irq.failed) {
            None => Ok(()),
            Some(why) => Err(Error::Wedged(why.clone())),
        }
    }

    /// Records an error seen outside the interrupt thread (a failed posted doorbell), so that
    /// the next wait reports it.
    pub(crate) fn fail(&self, why: String) {
        lock(&self.irq.failed).get_or_insert(why);
        self.irq.wake_all();
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
    while !shared.stop.load(Ordering::Acquire) {
        let ready = match poll_fds(&fds, None) {
            Ok(r) => r,
            Err(e) => {
                lock(&shared.failed).get_or_insert(format!(
                    "the interrupt thread stopped: {e}; endpoints can still poll but not block"
                ));
                shared.wake_all();
                break;
            }
        };
        if !ready[0] {
            continue;
        }
        drain_fd(irq_fd);
        shared.interrupts.fetch_add(1, Ordering::Relaxed);
        while let Some(e) = ring.next() {
            if e.event_type() != Some(EventType::Wakeup) {
                continue;
            }
            let w = lock(&shared.table)
                .get(e.source as usize)
                .cloned()
                .flatten();
            if let Some(w) = w {
                // Disarmed first, then woken: a waiter that wakes and finds the queue empty
                // sees it unarmed and primes it again.
                w.armed.store(false, Ordering::Release);
                w.interrupts.fetch_add(1, Ordering::Relaxed);
                w.fd.signal();
            }
        }
        // Return the space and re-arm in one doorbell.
        if let Err(e) = dev.write32(vi_reg(irq_vi, &vi::EVQ_PRIME), ring.rptr) {
            lock(&shared.failed).get_or_insert(format!(
                "the interrupt queue's doorbell failed ({e}): the device is wedged; reset it"
            ));
            shared.wake_all();
            break;
        }
    }
    // Stop the device writing the ring before the ring's memory is unmapped.
    let _ = dev.write32(global_reg(&g::IRQ_QUEUE), 0);
    let _ = dev.write32(vi_reg(irq_vi, &vi::EVQ_SIZE), 0);
    let _ = dev.read32(vi_reg(irq_vi, &vi::EVQ_STATUS));
    drop(ring);
}

impl crate::Nic {
    /// The event side of the device, started on first use.
    pub(crate) fn core(&self) -> Result<Arc<EventCore>, Error> {
        let mut slot = lock(&self.events);
        if let Some(c) = &*slot {
            c.check()?;
            return Ok(c.clone());
        }
        let c = EventCore::start(self.dev.clone())?;
        *slot = Some(c.clone());
        Ok(c)
    }
}
