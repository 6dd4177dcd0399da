//! Endpoints: a VI of the device with its event queue, as seen by one listener and producer.
//!
//! Seed 000's event management API, on the device:
//!
//! | seed 000 primitive | here |
//! |---|---|
//! | open / close an endpoint | [`Nic::endpoint`] / drop the [`Endpoint`] |
//! | register / deregister a listener for a group | [`Endpoint::subscribe`] / [`Endpoint::unsubscribe`] |
//! | register / deregister as a producer for a group | [`Endpoint::register_producer`] / [`Endpoint::deregister_producer`] |
//! | generate an event indication | [`Endpoint::indicate`] |
//! | receive a notification by callback (never blocking) | [`crate::Dispatcher`] |
//! | receive after being notified | [`Endpoint::poll`], [`Endpoint::poll_batch`], [`Endpoint::wait`] |
//!
//! The device is the event protocol handler: it copies an indication into the queue of every
//! endpoint subscribed to the group, and it refuses an indication into a group the endpoint is
//! not registered to produce into (counted in [`EndpointStats::refused`](crate::EndpointStats)
//! and reported to the endpoint by an ERROR event).
//!
//! Receiving reads host memory only: a new event is recognised by its phase bit, and the
//! read-count doorbell that returns space to the device is written lazily, once every
//! [`EndpointConfig::doorbell_every`] events (a quarter of the ring by default) and always
//! before the queue is primed. Filters (receive) and transmit attach to an endpoint later; the
//! endpoint owns its VI, so they will be methods here.

use crate::config::{EndpointConfig, Resolved};
use crate::engine::{lock, EventCore, EventFd, Ring, Waker};
use crate::{Error, Nic};
use evnic_regs::event::Event;
use evnic_regs::map::{group as gr, vi, vi_reg};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest payload of an indication: 24 bits (the `INDICATE.PAYLOAD` field).
pub const MAX_INDICATION_PAYLOAD: u32 = (1 << vi::INDICATE_PAYLOAD.width) - 1;

/// The consumer side of the queue, guarded by the endpoint's lock. Whoever holds the lock is
/// "processing the queue" in seed 003's sense: a waiter that finds it held does not prime.
pub(crate) struct RxState {
    pub ring: Ring,
    /// The read count last written to the device (EVQ_RPTR or EVQ_PRIME).
    pub doorbell_at: u32,
}

pub(crate) struct Masks {
    subscribed: GroupSet,
    producer: GroupSet,
}

/// A set of groups (at most 256: group numbers are 8-bit fields of the device's registers).
#[derive(Clone, Copy, Default)]
struct GroupSet([u64; 4]);

impl GroupSet {
    fn set(&mut self, group: u32, on: bool) {
        let (w, b) = ((group / 64) as usize, group % 64);
        if on {
            self.0[w] |= 1 << b;
        } else {
            self.0[w] &= !(1 << b);
        }
    }
    /// Bits 32w..32w+31, as the device's 32-bit bitmap word w.
    fn word(&self, w: u32) -> u32 {
        (self.0[(w / 2) as usize] >> (32 * (w % 2))) as u32
    }
    fn groups(&self) -> Vec<u32> {
        (0..256)
            .filter(|&g| self.0[g as usize / 64] >> (g % 64) & 1 == 1)
            .collect()
    }
}

/// Host-side counters of an endpoint (no register access to read them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointCounters {
    /// Events taken from the queue by poll, wait or a dispatcher.
    pub events: u64,
    /// Interrupts taken for this endpoint: WAKEUPs naming its queue, serviced by the library's
    /// interrupt thread, each of which woke this endpoint's fd.
    pub interrupts: u64,
    /// Times the queue was primed (interrupt enabled) before blocking.
    pub primes: u64,
    /// Read-count doorbells written, including those written by priming.
    pub doorbells: u64,
}

/// An open endpoint: one VI of the device, its event queue in DMA memory, its subscriptions and
/// producer registrations. Closed when dropped (queue disabled, unsubscribed from every group,
/// producer rights withdrawn, VI returned).
///
/// An endpoint may be shared between threads (`&Endpoint` is `Sync`): polling takes a short
/// internal lock, never held while the caller processes events.
pub struct Endpoint {
    pub(crate) core: Arc<EventCore>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) rx: Mutex<RxState>,
    pub(crate) cfg: Resolved,
    masks: Mutex<Masks>,
}

impl Nic {
    /// Opens an endpoint: takes a free VI, allocates its event ring in DMA memory and enables
    /// the queue. The first endpoint also starts the library's interrupt thread, which keeps the
    /// last VI as the interrupt queue (so `vis - 1` endpoints can be open at once).
    ///
    /// ```no_run
    /// let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
    /// let ep = nic.endpoint(evnic::EndpointConfig::default().with_ring_events(256))?;
    /// ep.subscribe(7)?;
    /// # Ok::<(), evnic::Error>(())
    /// ```
    pub fn endpoint(&self, config: EndpointConfig) -> Result<Endpoint, Error> {
        let cfg = config.resolve()?;
        let core = self.core()?;
        let v = core.alloc_vi()?;
        // Give the VI back if anything below fails.
        struct ViGuard<'a>(&'a EventCore, u32, bool);
        impl Drop for ViGuard<'_> {
            fn drop(&mut self) {
                if !self.2 {
                    self.0.free_vi(self.1);
                }
            }
        }
        let mut guard = ViGuard(&core, v, false);
        let dev = &*core.dev;
        let ring = Ring::new(dev, cfg.log2)?;
        // Start clean, whatever an earlier user of this VI left: no memberships, no producer
        // rights, no watchdog.
        for g in 0..core.params.groups {
            dev.write32(subscribe_reg(), subscribe_value(g, v, false))?;
        }
        for w in 0..gr::PERMIT_WORDS {
            dev.write32(gr::permit_at(v, w), 0)?;
        }
        dev.write32(vi_reg(v, &vi::EVQ_WATCHDOG), cfg.watchdog)?;
        ring.program(dev, v)?;
        let status = dev.read32(vi_reg(v, &vi::EVQ_STATUS))?;
        if vi::EVQ_STATUS_ENABLED.get(status) != 1 {
            return Err(Error::Wedged(format!(
                "VI {v}'s event queue did not enable (EVQ_STATUS {status:#x}): reset the device"
            )));
        }
        let waker = Arc::new(Waker {
            vi: v,
            fd: EventFd::new()?,
            armed: AtomicBool::new(false),
            interrupts: AtomicU64::new(0),
            primes: AtomicU64::new(0),
            doorbells: AtomicU64::new(0),
            events: AtomicU64::new(0),
        });
        core.register(waker.clone());
        guard.2 = true;
        drop(guard);
        Ok(Endpoint {
            core,
            waker,
            rx: Mutex::new(RxState {
                ring,
                doorbell_at: 0,
            }),
            cfg,
            masks: Mutex::new(Masks {
                subscribed: GroupSet::default(),
                producer: GroupSet::default(),
            }),
        })
    }
}

fn subscribe_reg() -> u32 {
    gr::CONTROL_PAGE.at(0, &gr::SUBSCRIBE)
}

fn subscribe_value(group: u32, v: u32, on: bool) -> u32 {
    gr::SUBSCRIBE_GROUP.put(group) | gr::SUBSCRIBE_VI.put(v) | gr::SUBSCRIBE_ON.put(on as u32)
}

impl Endpoint {
    /// The endpoint's VI number (the `source` of its indications, a timer target).
    pub fn vi(&self) -> u32 {
        self.waker.vi
    }

    /// Events the ring holds.
    pub fn ring_events(&self) -> u32 {
        lock(&self.rx).ring.size()
    }

    /// How long [`Endpoint::wait`] spins on an empty queue before it primes and blocks.
    pub fn spin(&self) -> Duration {
        self.cfg.spin
    }

    fn check_group(&self, group: u32) -> Result<(), Error> {
        let groups = self.core.params.groups;
        if group >= groups {
            return Err(Error::GroupOutOfRange { group, groups });
        }
        Ok(())
    }

    /// Subscribes (registers as a listener) to `group`: every event of the group is written
    /// into this endpoint's queue from now on. One register write; subscribing twice is
    /// harmless.
    pub fn subscribe(&self, group: u32) -> Result<(), Error> {
        self.check_group(group)?;
        let mut m = lock(&self.masks);
        self.core
            .dev
            .write32(subscribe_reg(), subscribe_value(group, self.vi(), true))?;
        m.subscribed.set(group, true);
        Ok(())
    }

    /// Unsubscribes from `group`. Events of the group already in the queue stay there.
    pub fn unsubscribe(&self, group: u32) -> Result<(), Error> {
        self.check_group(group)?;
        let mut m = lock(&self.masks);
        self.core
            .dev
            .write32(subscribe_reg(), subscribe_value(group, self.vi(), false))?;
        m.subscribed.set(group, false);
        Ok(())
    }

    /// The groups this endpoint is subscribed to, in order.
    pub fn subscriptions(&self) -> Vec<u32> {
        lock(&self.masks).subscribed.groups()
    }

    /// Registers this endpoint as a producer for `group` (grants its VI permission to indicate
    /// into the group; the device refuses indications into any other group).
    pub fn register_producer(&self, group: u32) -> Result<(), Error> {
        self.set_producer(group, true)
    }

    /// Withdraws the right to indicate into `group`.
    pub fn deregister_producer(&self, group: u32) -> Result<(), Error> {
        self.set_producer(group, false)
    }

    /// The groups this endpoint may indicate into, in order.
    pub fn producer_groups(&self) -> Vec<u32> {
        lock(&self.masks).producer.groups()
    }

    fn set_producer(&self, group: u32, on: bool) -> Result<(), Error> {
        self.check_group(group)?;
        let mut m = lock(&self.masks);
        let mut mask = m.producer;
        mask.set(group, on);
        self.core
            .dev
            .write32(gr::permit_at(self.vi(), group / 32), mask.word(group / 32))?;
        m.producer = mask;
        Ok(())
    }

    /// Generates an event indication into `group` with a 24-bit `payload`: one register write
    /// (posted; it does not wait for the device). Every endpoint subscribed to the group gets an
    /// INDICATION event with `source` = this endpoint's VI. Without
    /// [`Endpoint::register_producer`] for the group the device refuses it: it counts it
    /// ([`Endpoint::stats`]`.refused`) and sends this endpoint an ERROR event
    /// ([`crate::ErrorCode::IndicationRefused`], aux = group).
    pub fn indicate(&self, group: u32, payload: u32) -> Result<(), Error> {
        self.check_group(group)?;
        if payload > MAX_INDICATION_PAYLOAD {
            return Err(Error::PayloadTooLarge {
                payload,
                max: MAX_INDICATION_PAYLOAD,
            });
        }
        self.core.dev.write32(
            vi_reg(self.vi(), &vi::INDICATE),
            vi::INDICATE_GROUP.put(group) | vi::INDICATE_PAYLOAD.put(payload),
        )?;
        Ok(())
    }

    /// Takes the next event if there is one. Reads host memory only: no system call and, except
    /// for the lazy read-count doorbell (a posted write every
    /// [`EndpointConfig::doorbell_every`] events), no register access.
    #[inline]
    pub fn poll(&self) -> Option<Event> {
        let mut out = None;
        self.take(1, &mut |e| out = Some(e));
        out
    }

    /// Appends up to `max` new events to `out`; returns how many. Like [`Endpoint::poll`], it
    /// reads memory only.
    pub fn poll_batch(&self, out: &mut Vec<Event>, max: usize) -> usize {
        self.take(max, &mut |e| out.push(e))
    }

    /// Takes up to `max` events into `sink`, under the endpoint's lock.
    #[inline]
    pub(crate) fn take(&self, max: usize, sink: &mut dyn FnMut(Event)) -> usize {
        let mut st = lock(&self.rx);
        self.take_locked(&mut st, max, sink)
    }

    #[inline]
    pub(crate) fn take_locked(
        &self,
        st: &mut RxState,
        max: usize,
        sink: &mut dyn FnMut(Event),
    ) -> usize {
        let mut n = 0;
        while n < max {
            match st.ring.next() {
                Some(e) => {
                    sink(e);
                    n += 1;
                }
                None => break,
            }
        }
        if n > 0 {
            self.waker.events.fetch_add(n as u64, Ordering::Relaxed);
            if st.ring.rptr.wrapping_sub(st.doorbell_at) >= self.cfg.doorbell_every {
                self.doorbell(st);
            }
        }
        n
    }

    /// Returns the consumed space to the device now.
    fn doorbell(&self, st: &mut RxState) {
        match self
            .core
            .dev
            .write32(vi_reg(self.vi(), &vi::EVQ_RPTR), st.ring.rptr)
        {
            Ok(()) => {
                st.doorbell_at = st.ring.rptr;
                self.waker.doorbells.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.core.fail(format!(
                "VI {}'s read-count doorbell failed ({e}): the device is wedged; reset it",
                self.vi()
            )),
        }
    }

    /// Primes the queue unless it is primed already: the read count is written with the arm,
    /// so space is always returned before arming. Called with the endpoint's lock held, so two
    /// threads cannot both prime.
    pub(crate) fn prime_locked(&self, st: &mut RxState) -> Result<(), Error> {
        if self.waker.armed.load(Ordering::Acquire) {
            return Ok(());
        }
        // Clear the fd before arming: the WAKEUP this prime may cause signals it again.
        self.waker.fd.clear();
        self.waker.armed.store(true, Ordering::Release);
        if let Err(e) = self
            .core
            .dev
            .write32(vi_reg(self.vi(), &vi::EVQ_PRIME), st.ring.rptr)
        {
            self.waker.armed.store(false, Ordering::Release);
            return Err(e.into());
        }
        st.doorbell_at = st.ring.rptr;
        self.waker.primes.fetch_add(1, Ordering::Relaxed);
        self.waker.doorbells.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Host-side counters: events taken, interrupts taken, primes, doorbells.
    pub fn counters(&self) -> EndpointCounters {
        self.waker.counters()
    }

    /// True while the queue is primed and its wake-up has not come.
    pub fn is_armed(&self) -> bool {
        self.waker.armed.load(Ordering::Acquire)
    }
}

/// The endpoint's wake-up fd: readable after the queue was primed (by [`Endpoint::wait`] or
/// [`Endpoint::arm`]) and an event arrived. Put it in epoll, mio or an async runtime; see
/// [`Endpoint::arm`] for the protocol.
impl AsRawFd for Endpoint {
    fn as_raw_fd(&self) -> RawFd {
        self.waker.fd.as_raw_fd()
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("vi", &self.vi())
            .field("ring_events", &self.ring_events())
            .field("subscriptions", &self.subscriptions())
            .finish()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let v = self.vi();
        self.core.unregister(v);
        let dev = &*self.core.dev;
        let m = lock(&self.masks);
        for g in m.subscribed.groups() {
            let _ = dev.write32(subscribe_reg(), subscribe_value(g, v, false));
        }
        for w in 0..gr::PERMIT_WORDS {
            let _ = dev.write32(gr::permit_at(v, w), 0);
        }
        let _ = dev.write32(vi_reg(v, &vi::EVQ_WATCHDOG), 0);
        let _ = dev.write32(vi_reg(v, &vi::EVQ_SIZE), 0);
        // A read completes after the posted writes before it: the queue is off before its ring
        // is unmapped (when `rx` drops, after this).
        let _ = dev.read32(vi_reg(v, &vi::EVQ_STATUS));
        self.core.free_vi(v);
    }
}
