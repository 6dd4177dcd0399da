//! Endpoints: a VI of the device with its event queue, as seen by one listener and producer.
//!
//! The event management operations, on the device:
//!
//! | operation | here |
//! |---|---|
//! | open / close an endpoint | [`Nic::endpoint`] / drop the [`Endpoint`] (and its rings) |
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
//! before the queue is primed.
//!
//! An endpoint's receive and transmit rings ([`Endpoint::receiver`],
//! [`Endpoint::transmitter`]) hold a lease on it: the VI stays this endpoint's (and is not
//! handed to another) until the endpoint and its rings are all dropped, and each ring can be
//! taken once at a time.

use crate::backend::DmaRegion;
use crate::config::{EndpointConfig, Resolved};
use crate::engine::{lock, new_ring, EventCore, Ring, Waker};
use crate::event::{Event, Group, Vi};
use crate::{Error, Nic};
use evnic_proto::rings::{DescRing, Queue};
use evnic_proto::{evq, group as gp};
use evnic_regs::desc::DESC_BYTES;
use std::collections::BTreeSet;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest payload of an indication: 24 bits (the `INDICATE.PAYLOAD` field).
pub const MAX_INDICATION_PAYLOAD: u32 = gp::MAX_INDICATION_PAYLOAD;

/// The consumer side of the queue, guarded by the endpoint's lock. Whoever holds the lock is
/// processing the queue: a waiter that finds it held does not prime.
pub(crate) struct RxState {
    pub ring: Ring,
    /// The read count last written to the device (EVQ_RPTR or EVQ_PRIME).
    pub doorbell_at: u32,
}

struct Masks {
    subscribed: BTreeSet<u32>,
    producer: BTreeSet<u32>,
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
    /// Frames taken from the endpoint's receive ring.
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames the device sent from the endpoint's transmit ring.
    pub tx_frames: u64,
    /// Bytes of those frames (before padding and FCS).
    pub tx_bytes: u64,
}

/// What an endpoint and its rings share; the VI is given back when the last of them drops.
pub(crate) struct EndpointInner {
    pub(crate) core: Arc<EventCore>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) rx: Mutex<RxState>,
    pub(crate) cfg: Resolved,
    masks: Mutex<Masks>,
    /// A receive ring is taken.
    pub(crate) receiver_taken: AtomicBool,
    /// A transmit ring is taken.
    pub(crate) transmitter_taken: AtomicBool,
}

impl EndpointInner {
    pub(crate) fn vi(&self) -> u32 {
        self.waker.vi
    }

    fn taken(&self, q: Queue) -> &AtomicBool {
        match q {
            Queue::Rx => &self.receiver_taken,
            _ => &self.transmitter_taken,
        }
    }

    /// Claims the endpoint's receive or transmit ring, checking its size: refused while the
    /// ring is taken. The claim is given back when dropped, unless kept.
    pub(crate) fn claim(&self, q: Queue, log2: u32) -> Result<RingClaim<'_>, Error> {
        let range = q.log2_range();
        if !range.contains(&log2) {
            return Err(Error::RingSize {
                ring: q.name(),
                log2,
                range,
            });
        }
        if self.taken(q).swap(true, Ordering::AcqRel) {
            return Err(Error::RingInUse {
                vi: self.vi(),
                ring: q.name(),
            });
        }
        Ok(RingClaim {
            ep: self,
            queue: q,
            kept: false,
        })
    }

    /// Gives the ring of kind `q` back (its owner was dropped).
    pub(crate) fn release(&self, q: Queue) {
        self.taken(q).store(false, Ordering::Release);
    }
}

/// A claimed ring kind of an endpoint (see [`EndpointInner::claim`]).
pub(crate) struct RingClaim<'a> {
    ep: &'a EndpointInner,
    queue: Queue,
    kept: bool,
}

impl RingClaim<'_> {
    /// Allocates the ring's descriptors in DMA memory, `1 << log2` of them.
    pub(crate) fn descriptors(&self, log2: u32) -> Result<DescRing<DmaRegion>, Error> {
        let bytes = DESC_BYTES << log2;
        let mem = self.ep.core.dev.alloc_dma(bytes)?;
        DescRing::new(mem, self.queue, log2)
            .map_err(|why| Error::Backend(crate::BackendError::Dma { bytes, why }))
    }

    /// Keeps the claim: the ring's owner gives it back when it drops.
    pub(crate) fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for RingClaim<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.ep.release(self.queue);
        }
    }
}

/// An open endpoint: one VI of the device, its event queue in DMA memory, its subscriptions and
/// producer registrations. Closed when it and its rings are dropped (queue disabled,
/// unsubscribed from every group, producer rights withdrawn, VI returned).
///
/// An endpoint may be shared between threads (`&Endpoint` is `Sync`): polling takes a short
/// internal lock, never held while the caller processes events.
pub struct Endpoint {
    pub(crate) inner: Arc<EndpointInner>,
}

impl Nic {
    /// Opens an endpoint on the lowest free VI: allocates its event ring in DMA memory and
    /// enables the queue. The first endpoint also starts the library's interrupt thread, which
    /// keeps the last VI as the interrupt queue (so `vis - 1` endpoints can be open at once).
    ///
    /// ```no_run
    /// let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
    /// let ep = nic.endpoint(evnic::EndpointConfig::default().with_ring_events(256))?;
    /// ep.subscribe(evnic::Group(7))?;
    /// # Ok::<(), evnic::Error>(())
    /// ```
    pub fn endpoint(&self, config: EndpointConfig) -> Result<Endpoint, Error> {
        let cfg = config.resolve()?;
        let core = self.core()?;
        let v = core.alloc_vi()?;
        open_on(core, v, cfg)
    }

    /// Opens an endpoint on VI `vi` (e.g. the VI a filter entry already steers to); refused
    /// when that VI is open already or is the library's interrupt queue.
    pub fn endpoint_on(&self, vi: Vi, config: EndpointConfig) -> Result<Endpoint, Error> {
        let cfg = config.resolve()?;
        let core = self.core()?;
        let v = core.take_vi(vi.0)?;
        open_on(core, v, cfg)
    }
}

fn open_on(core: Arc<EventCore>, v: u32, cfg: Resolved) -> Result<Endpoint, Error> {
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
    let mut r = core.regs();
    let ring = new_ring(r, cfg.log2)?;
    // Start clean, whatever an earlier user of this VI left: no memberships, no producer
    // rights, no watchdog.
    for g in 0..core.params.groups {
        gp::subscribe(&mut r, v, g, false)?;
    }
    for w in 0..gp::permit_words(core.params.groups) {
        gp::set_permit_word(&mut r, v, w, 0)?;
    }
    evq::set_watchdog(&mut r, v, cfg.watchdog)?;
    ring.program(&mut r, v)?;
    if !evq::status(&mut r, v)?.enabled {
        return Err(Error::QueueNotEnabled {
            vi: v,
            status: r.read32(evnic_regs::map::vi_reg(v, &evnic_regs::map::vi::EVQ_STATUS))?,
        });
    }
    let waker = core.waker(v)?;
    core.register(waker.clone());
    guard.2 = true;
    drop(guard);
    Ok(Endpoint {
        inner: Arc::new(EndpointInner {
            core,
            waker,
            rx: Mutex::new(RxState {
                ring,
                doorbell_at: 0,
            }),
            cfg,
            masks: Mutex::new(Masks {
                subscribed: BTreeSet::new(),
                producer: BTreeSet::new(),
            }),
            receiver_taken: AtomicBool::new(false),
            transmitter_taken: AtomicBool::new(false),
        }),
    })
}

impl Endpoint {
    /// The endpoint's VI (the `source` of its indications, a timer target).
    pub fn vi(&self) -> Vi {
        Vi(self.inner.vi())
    }

    /// Events the ring holds.
    pub fn ring_events(&self) -> u32 {
        lock(&self.inner.rx).ring.size()
    }

    /// How long [`Endpoint::wait`] spins on an empty queue before it primes and blocks.
    pub fn spin(&self) -> Duration {
        self.inner.cfg.spin
    }

    pub(crate) fn core(&self) -> &Arc<EventCore> {
        &self.inner.core
    }

    fn check_group(&self, group: Group) -> Result<(), Error> {
        crate::check_group(&self.inner.core.params, group)
    }

    /// Subscribes (registers as a listener) to `group`: every event of the group is written
    /// into this endpoint's queue from now on. One register write; subscribing twice is
    /// harmless.
    pub fn subscribe(&self, group: Group) -> Result<(), Error> {
        self.set_subscribed(group, true)
    }

    /// Unsubscribes from `group`. Events of the group already in the queue stay there.
    pub fn unsubscribe(&self, group: Group) -> Result<(), Error> {
        self.set_subscribed(group, false)
    }

    fn set_subscribed(&self, group: Group, on: bool) -> Result<(), Error> {
        self.check_group(group)?;
        let mut m = lock(&self.inner.masks);
        gp::subscribe(&mut self.inner.core.regs(), self.inner.vi(), group.0, on)?;
        if on {
            m.subscribed.insert(group.0);
        } else {
            m.subscribed.remove(&group.0);
        }
        Ok(())
    }

    /// The groups this endpoint is subscribed to, in order.
    pub fn subscriptions(&self) -> Vec<Group> {
        lock(&self.inner.masks)
            .subscribed
            .iter()
            .map(|g| Group(*g))
            .collect()
    }

    /// Registers this endpoint as a producer for `group` (grants its VI permission to indicate
    /// into the group; the device refuses indications into any other group).
    pub fn register_producer(&self, group: Group) -> Result<(), Error> {
        self.set_producer(group, true)
    }

    /// Withdraws the right to indicate into `group`.
    pub fn deregister_producer(&self, group: Group) -> Result<(), Error> {
        self.set_producer(group, false)
    }

    /// The groups this endpoint may indicate into, in order.
    pub fn producer_groups(&self) -> Vec<Group> {
        lock(&self.inner.masks)
            .producer
            .iter()
            .map(|g| Group(*g))
            .collect()
    }

    fn set_producer(&self, group: Group, on: bool) -> Result<(), Error> {
        self.check_group(group)?;
        let mut m = lock(&self.inner.masks);
        let mut set = m.producer.clone();
        if on {
            set.insert(group.0);
        } else {
            set.remove(&group.0);
        }
        let word = group.0 / gp::PERMIT_WORD_BITS;
        let bits = set
            .iter()
            .filter(|g| *g / gp::PERMIT_WORD_BITS == word)
            .fold(0u32, |acc, g| acc | 1 << (g % gp::PERMIT_WORD_BITS));
        gp::set_permit_word(&mut self.inner.core.regs(), self.inner.vi(), word, bits)?;
        m.producer = set;
        Ok(())
    }

    /// Generates an event indication into `group` with a 24-bit `payload`: one register write
    /// (posted; it does not wait for the device). Every endpoint subscribed to the group gets an
    /// INDICATION event with `source` = this endpoint's VI. Without
    /// [`Endpoint::register_producer`] for the group the device refuses it: it counts it
    /// ([`Endpoint::stats`]`.refused`) and sends this endpoint an ERROR event
    /// ([`crate::ErrorCode::IndicationRefused`], aux = group).
    pub fn indicate(&self, group: Group, payload: u32) -> Result<(), Error> {
        self.check_group(group)?;
        if payload > MAX_INDICATION_PAYLOAD {
            return Err(Error::PayloadTooLarge {
                payload,
                max: MAX_INDICATION_PAYLOAD,
            });
        }
        gp::indicate(
            &mut self.inner.core.regs(),
            self.inner.vi(),
            group.0,
            payload,
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
        let mut st = lock(&self.inner.rx);
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
                    sink(Event::from_raw(e));
                    n += 1;
                }
                None => break,
            }
        }
        if n > 0 {
            self.inner
                .waker
                .events
                .fetch_add(n as u64, Ordering::Relaxed);
            if st.ring.read_count().wrapping_sub(st.doorbell_at) >= self.inner.cfg.doorbell_every {
                self.doorbell(st);
            }
        }
        n
    }

    /// Returns the consumed space to the device now.
    fn doorbell(&self, st: &mut RxState) {
        match st
            .ring
            .doorbell(&mut self.inner.core.regs(), self.inner.vi())
        {
            Ok(()) => {
                st.doorbell_at = st.ring.read_count();
                self.inner.waker.doorbells.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.inner.core.fail("a read-count doorbell", e),
        }
    }

    /// Primes the queue unless it is primed already: the read count is written with the arm,
    /// so space is always returned before arming. Called with the endpoint's lock held, so two
    /// threads cannot both prime.
    pub(crate) fn prime_locked(&self, st: &mut RxState) -> Result<(), Error> {
        let w = &self.inner.waker;
        if w.armed.load(Ordering::Acquire) {
            return Ok(());
        }
        // Clear the fd before arming: the WAKEUP this prime may cause signals it again.
        w.fd.clear();
        w.armed.store(true, Ordering::Release);
        if let Err(e) = st.ring.prime(&mut self.inner.core.regs(), self.inner.vi()) {
            w.armed.store(false, Ordering::Release);
            return Err(e.into());
        }
        st.doorbell_at = st.ring.read_count();
        w.primes.fetch_add(1, Ordering::Relaxed);
        w.doorbells.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Host-side counters: events taken, interrupts taken, primes, doorbells.
    pub fn counters(&self) -> EndpointCounters {
        self.inner.waker.counters()
    }

    /// True while the queue is primed and its wake-up has not come.
    pub fn is_armed(&self) -> bool {
        self.inner.waker.armed.load(Ordering::Acquire)
    }
}

/// The endpoint's wake-up fd: readable after the queue was primed (by [`Endpoint::wait`] or
/// [`Endpoint::arm`]) and an event arrived. Put it in epoll, mio or an async runtime; see
/// [`Endpoint::arm`] for the protocol.
impl AsRawFd for Endpoint {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.waker.fd.as_raw_fd()
    }
}

/// The same wake-up fd as [`AsRawFd`], borrowed.
impl AsFd for Endpoint {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.waker.fd.as_fd()
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

impl Drop for EndpointInner {
    fn drop(&mut self) {
        let v = self.vi();
        self.core.unregister(v);
        let mut r = self.core.regs();
        let m = lock(&self.masks);
        for g in &m.subscribed {
            let _ = gp::subscribe(&mut r, v, *g, false);
        }
        for w in 0..gp::permit_words(self.core.params.groups) {
            let _ = gp::set_permit_word(&mut r, v, w, 0);
        }
        let _ = evq::set_watchdog(&mut r, v, 0);
        // Disabled (and the device has taken it: a read completes after the writes before it)
        // before the ring is unmapped (when `rx` drops, after this).
        let _ = evnic_proto::rings::disable(&mut r, v, Queue::Event);
        self.core.free_vi(v);
    }
}
