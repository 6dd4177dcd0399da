//! The simulated device as a free-running device on its own thread.
//!
//! The thread steps the clock continuously. The host reaches it the way it reaches a board:
//! register writes are posted (queued, in order, the caller does not wait), register reads wait
//! for their response, and IOMMU map/unmap are synchronous. Host memory is ordinary memory of the
//! calling process, registered with the model, so the host polls it exactly as on hardware.
//! Anything else (injecting frames, reading the transmit log) runs as a closure on the device
//! thread between two cycles, via [`SimHandle::with`].
//!
//! A VI's doorbells may also arrive through a doorbell page in shared memory
//! ([`SimHandle::attach_doorbells`]): the thread drains each attached page between two bursts
//! of cycles, after the jobs posted before the records it takes (a register write posted, then
//! a doorbell record stored, reach the device in that order).
//!
//! **Sleeping.** An idle device costs no CPU: the thread sleeps (blocked in `poll` on its wake
//! eventfd, [`SimHandle::wake_fd`]) once the device has had nothing to do for [`QUIET_CYCLES`]
//! cycles (plus the interrupt hold-off), nothing waits at its ports, and nothing in it can
//! happen later by itself: no timer armed and no event-queue watchdog set (it reads their
//! registers before it sleeps). A timer that is armed keeps the clock running, so timers fire
//! at their exact cycle as before; while asleep the cycle counter does not advance (device time
//! stands still: the simulated device's cycles pass slower than real time anyway). A posted job
//! wakes the thread; a doorbell page carries an "asleep" flag that the thread sets before it
//! sleeps, and a producer that finds it set after storing a record writes the wake eventfd
//! (one system call, only for a sleeping device: a device kept busy sees none).

use crate::device::{SimConfig, SimDevice, SimError};
use evnic_proto::doorbell::{self, DoorbellPage, PageSet};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce(&mut SimDevice) + Send>;

/// Cycles without work after which the device thread considers sleeping (105 us of device
/// time at the nominal clock): far longer than anything the core does on its own after the
/// host's last access without a port moving (a filter-table rewrite, about 1 030 cycles, is
/// the longest), apart from timers, watchdogs and the interrupt hold-off, which are checked.
pub const QUIET_CYCLES: u64 = 1 << 14;

struct Shared {
    jobs: Mutex<VecDeque<Job>>,
    pending: AtomicBool,
    stop: AtomicBool,
    cycles: AtomicU64,
    /// Last bus error from a posted write, reported by the next read.
    posted_error: Mutex<Option<SimError>>,
    /// Attached doorbell pages, by VI.
    doorbells: PageSet,
    /// Doorbell records applied from attached pages.
    doorbells_applied: AtomicU64,
    /// The device thread sleeps (or is about to): a poster writes `wake_fd`.
    asleep: AtomicBool,
    wake_fd: RawFd,
    /// Times the device thread went to sleep.
    sleeps: AtomicU64,
}

impl Shared {
    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a live u64 to our eventfd.
        unsafe { libc::write(self.wake_fd, (&one as *const u64).cast(), 8) };
    }
}

/// True when nothing in the device can happen later by itself: no timer armed, no watchdog.
fn nothing_scheduled(dev: &mut SimDevice) -> bool {
    use evnic_regs::map::{timer as tm, vi};
    use evnic_regs::params::{NUM_TIMERS, NUM_VIS};
    let armed = |r: Result<u32, SimError>| r != Ok(0);
    !(0..NUM_TIMERS).any(|t| {
        armed(
            dev.read32(tm::PAGE.at(t, &tm::CONTROL))
                .map(|v| tm::CONTROL_ARM.get(v)),
        )
    }) && !(0..NUM_VIS).any(|v| armed(dev.read32(vi::PAGE.at(v, &vi::EVQ_WATCHDOG))))
}

/// Puts the device thread to sleep until a job is posted, a doorbell record is stored, or the
/// device is stopped; returns at once if one of them is there already.
fn sleep(s: &Shared) {
    s.asleep.store(true, Ordering::SeqCst);
    let records = s.doorbells.prepare_sleep();
    std::sync::atomic::fence(Ordering::SeqCst);
    let work = records || s.pending.load(Ordering::SeqCst) || s.stop.load(Ordering::SeqCst);
    if !work {
        s.sleeps.fetch_add(1, Ordering::Relaxed);
        let mut pfd = libc::pollfd {
            fd: s.wake_fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; EINTR just ends the sleep early.
        unsafe { libc::poll(&mut pfd, 1, -1) };
    }
    let mut buf = 0u64;
    // SAFETY: draining the nonblocking eventfd into a live u64.
    unsafe { libc::read(s.wake_fd, (&mut buf as *mut u64).cast(), 8) };
    s.asleep.store(false, Ordering::SeqCst);
    s.doorbells.woke();
}

/// A handle on a free-running simulated device. Cloneable; the device stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    irq_fd: RawFd,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake();
        if let Some(t) = self.thread.lock().unwrap().take() {
            let _ = t.join();
        }
        // SAFETY: the fds were created by eventfd() in spawn and are closed once.
        unsafe {
            libc::close(self.irq_fd);
            libc::close(self.shared.wake_fd);
        }
    }
}

impl SimHandle {
    /// Builds the model and starts its clock on a new thread.
    pub fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
        // SAFETY: plain eventfd creation.
        let irq_fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        // SAFETY: as above.
        let wake_fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if irq_fd < 0 || wake_fd < 0 {
            return Err(SimError::Start(format!(
                "eventfd: {}",
                std::io::Error::last_os_error()
            )));
        }
        let shared = Arc::new(Shared {
            jobs: Mutex::new(VecDeque::new()),
            pending: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            cycles: AtomicU64::new(0),
            posted_error: Mutex::new(None),
            doorbells: PageSet::new(),
            doorbells_applied: AtomicU64::new(0),
            asleep: AtomicBool::new(false),
            wake_fd,
            sleeps: AtomicU64::new(0),
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("evnic-sim".into())
            .spawn(move || {
                let mut dev = match SimDevice::new(config) {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                dev.attach_irq_fd(irq_fd);
                let _ = ready_tx.send(Ok(()));
                let mut ready: Vec<u64> = Vec::new();
                // The last cycle the host gave the device work (a job, a doorbell record).
                let mut last_work = dev.cycle();
                let mut holdoff = 0u64;
                while !s.stop.load(Ordering::Acquire) {
                    // The records visible now were stored after the jobs that preceded them
                    // were posted: count them first, run the jobs, then apply them.
                    let round = s.doorbells.begin(&mut ready);
                    if s.pending.load(Ordering::Acquire) {
                        let jobs: Vec<Job> = {
                            let mut q = s.jobs.lock().unwrap();
                            s.pending.store(false, Ordering::Release);
                            q.drain(..).collect()
                        };
                        for job in jobs {
                            job(&mut dev);
                        }
                        last_work = dev.cycle();
                    }
                    if let Some(round) = round.filter(|r| r.pending() > 0) {
                        last_work = dev.cycle();
                        let n = round.apply(|vi, word, value| {
                            if let Err(e) = dev.write32(doorbell::register_offset(vi, word), value)
                            {
                                *s.posted_error.lock().unwrap() = Some(e);
                            }
                        });
                        s.doorbells_applied.fetch_add(n, Ordering::Relaxed);
                    }
                    // A short burst between checks keeps the per-cycle overhead low.
                    for _ in 0..16 {
                        dev.step();
                    }
                    s.cycles.store(dev.cycle(), Ordering::Release);
                    let quiet = dev.cycle() - last_work.max(dev.last_activity());
                    if quiet > QUIET_CYCLES + holdoff && dev.surroundings_idle() {
                        holdoff = dev
                            .read32(evnic_regs::map::global_reg(
                                &evnic_regs::map::global::IRQ_HOLDOFF,
                            ))
                            .map_or(0, u64::from);
                        if nothing_scheduled(&mut dev) {
                            sleep(&s);
                        }
                        // Awake (or found something to do): count the quiet time afresh.
                        last_work = dev.cycle();
                    }
                }
                dev.flush_trace();
            })
            .map_err(|e| SimError::Start(format!("spawn: {e}")))?;
        ready_rx
            .recv()
            .unwrap_or(Err(SimError::Start("device thread died".into())))?;
        Ok(SimHandle {
            inner: Arc::new(Inner {
                shared,
                thread: Mutex::new(Some(thread)),
                irq_fd,
            }),
        })
    }

    fn post(&self, job: Job) {
        let s = &self.inner.shared;
        s.jobs.lock().unwrap().push_back(job);
        s.pending.store(true, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        if s.asleep.load(Ordering::SeqCst) {
            s.wake();
        }
    }

    /// The eventfd that wakes a sleeping device thread: a producer of doorbell records writes
    /// it when [`DoorbellPage::ring_wakes`] says the device sleeps.
    pub fn wake_fd(&self) -> RawFd {
        self.inner.shared.wake_fd
    }

    /// Times the device thread has gone to sleep (idle) so far.
    pub fn sleeps(&self) -> u64 {
        self.inner.shared.sleeps.load(Ordering::Relaxed)
    }

    /// Runs `f` on the device thread between two cycles and returns its result.
    pub fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SimDevice) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = mpsc::sync_channel(1);
        self.post(Box::new(move |dev| {
            let _ = tx.send(f(dev));
        }));
        rx.recv().expect("the simulated device thread stopped")
    }

    /// Reads a register (waits for the response). Reports a wedged bus from an earlier posted
    /// write too.
    pub fn read32(&self, offset: u32) -> Result<u32, SimError> {
        let r = self.with(move |d| d.read32(offset));
        if let Some(e) = self.inner.shared.posted_error.lock().unwrap().take() {
            return Err(e);
        }
        r
    }

    /// Posts a register write: queued in order behind earlier accesses; does not wait.
    pub fn write32(&self, offset: u32, value: u32) {
        let shared = self.inner.shared.clone();
        self.post(Box::new(move |d| {
            if let Err(e) = d.write32(offset, value) {
                *shared.posted_error.lock().unwrap() = Some(e);
            }
        }));
    }

    /// Registers host memory for device DMA at `iova` (like an IOMMU map).
    ///
    /// # Safety
    /// `ptr..ptr+len` must stay valid until [`SimHandle::unmap_dma`] of `iova` has returned.
    pub unsafe fn map_dma(&self, iova: u64, ptr: *mut u8, len: usize) -> Result<(), String> {
        let p = ptr as usize;
        self.with(move |d| unsafe { d.memory.map(iova, p as *mut u8, len) })
    }

    /// Removes a DMA mapping; returns once the device can no longer reach it.
    pub fn unmap_dma(&self, iova: u64) -> bool {
        self.with(move |d| d.memory.unmap(iova))
    }

    /// Attaches a doorbell page for VI `vi`: from now on the device thread applies its records
    /// to the VI's registers (replacing a page attached to `vi` before).
    ///
    /// # Safety
    /// The page's memory must stay mapped until [`SimHandle::detach_doorbells`] of `vi` has
    /// returned (or the device stopped).
    pub unsafe fn attach_doorbells(&self, vi: u32, page: DoorbellPage) {
        let s = &self.inner.shared;
        // SAFETY: the caller keeps the page mapped until it is detached.
        unsafe { s.doorbells.attach(vi, page) };
        // A sleeping thread wakes to look at the new page.
        if s.asleep.load(Ordering::SeqCst) {
            s.wake();
        }
    }

    /// Detaches VI `vi`'s doorbell page; once this returns the device thread no longer touches
    /// it. Records not yet applied are dropped. False when none was attached.
    pub fn detach_doorbells(&self, vi: u32) -> bool {
        self.inner.shared.doorbells.detach(vi)
    }

    /// Doorbell records applied from attached pages so far.
    pub fn doorbells_applied(&self) -> u64 {
        self.inner.shared.doorbells_applied.load(Ordering::Relaxed)
    }

    /// The eventfd written on every interrupt.
    pub fn irq_fd(&self) -> RawFd {
        self.inner.irq_fd
    }

    /// Cycles run so far (as of the last burst).
    pub fn cycles(&self) -> u64 {
        self.inner.shared.cycles.load(Ordering::Acquire)
    }
}

/// Register access to the free-running device: reads wait for their response, writes are
/// posted (a bus error of a posted write is reported by the next read).
impl evnic_proto::RegisterAccess for &SimHandle {
    type Error = SimError;
    fn read32(&mut self, offset: u32) -> Result<u32, SimError> {
        SimHandle::read32(self, offset)
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), SimError> {
        SimHandle::write32(self, offset, value);
        Ok(())
    }
}
