//! Notification by callback: a [`Dispatcher`] polls several endpoints and calls the
//! callback registered for each with every event it takes.
//!
//! Callbacks run on the thread that calls [`Dispatcher::dispatch`] or [`Dispatcher::run`],
//! with no lock held (the events are copied out of the ring first), so a callback may use its
//! endpoint (indicate, subscribe, even poll it). The dispatcher never blocks while a callback
//! runs or between the callbacks of one round; it blocks only in [`Dispatcher::run`], when every
//! endpoint is empty, after spinning, with every queue primed: the wait policy of
//! [`Endpoint::wait`] over several endpoints.

use crate::endpoint::Endpoint;
use crate::engine::poll_fds;
use crate::event::Event;
use crate::Error;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A callback: gets the endpoint the event came from and the event. It must not block (a
/// listener is notified, it does not sleep in the notification); it may do anything else.
pub type Callback = Box<dyn FnMut(&Endpoint, &Event) + Send>;

/// Identifies a registration in a [`Dispatcher`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Registration(u64);

struct Entry {
    id: u64,
    ep: Arc<Endpoint>,
    cb: Callback,
}

/// Polls endpoints and calls their callbacks. See the [module docs](self).
///
/// ```no_run
/// use std::sync::Arc;
/// let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
/// let ep = Arc::new(nic.endpoint(Default::default())?);
/// ep.subscribe(evnic::Group(1))?;
/// let mut d = evnic::Dispatcher::new();
/// d.register(ep, |_ep, e| println!("{e}"));
/// d.run(Some(std::time::Duration::from_secs(1)))?;
/// # Ok::<(), evnic::Error>(())
/// ```
pub struct Dispatcher {
    entries: Vec<Entry>,
    next_id: u64,
    batch: Vec<Event>,
    max_batch: usize,
    spin: Option<Duration>,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatcher {
    /// An empty dispatcher; it takes up to 64 events per endpoint per round, and spins as long
    /// as its endpoints' longest spin time.
    pub fn new() -> Dispatcher {
        Dispatcher {
            entries: Vec::new(),
            next_id: 0,
            batch: Vec::with_capacity(64),
            max_batch: 64,
            spin: None,
        }
    }

    /// Sets the largest number of events taken from one endpoint in one round (fairness between
    /// endpoints; at least 1).
    pub fn with_max_batch(mut self, max: usize) -> Dispatcher {
        self.max_batch = max.max(1);
        self
    }

    /// Sets how long [`Dispatcher::run`] spins before it primes and blocks (default: the
    /// longest spin time of the registered endpoints).
    pub fn with_spin(mut self, spin: Duration) -> Dispatcher {
        self.spin = Some(spin);
        self
    }

    /// Registers `callback` for the events of `endpoint`. An endpoint may be registered more
    /// than once: each event goes to the callbacks of the registration that polled it, so
    /// register each endpoint once.
    pub fn register(
        &mut self,
        endpoint: impl Into<Arc<Endpoint>>,
        callback: impl FnMut(&Endpoint, &Event) + Send + 'static,
    ) -> Registration {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push(Entry {
            id,
            ep: endpoint.into(),
            cb: Box::new(callback),
        });
        Registration(id)
    }

    /// Removes a registration; returns its endpoint.
    pub fn unregister(&mut self, r: Registration) -> Option<Arc<Endpoint>> {
        let i = self.entries.iter().position(|e| e.id == r.0)?;
        Some(self.entries.remove(i).ep)
    }

    /// Number of registrations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// One round without blocking: takes up to the batch size of events from each endpoint
    /// and calls its callback for each. Returns the number of events dispatched.
    pub fn dispatch(&mut self) -> usize {
        let mut total = 0;
        for entry in &mut self.entries {
            self.batch.clear();
            let n = entry.ep.poll_batch(&mut self.batch, self.max_batch);
            // The endpoint's lock is released: the callback may use the endpoint.
            for e in &self.batch {
                (entry.cb)(&entry.ep, e);
            }
            total += n;
        }
        total
    }

    /// Dispatches until at least one event was dispatched or `timeout` passed (`None`: no
    /// limit), with the wait policy: dispatch; spin dispatching; then prime every empty queue
    /// and block until one of them is woken. Returns the number of events dispatched (0 on
    /// timeout, or when nothing is registered).
    pub fn run(&mut self, timeout: Option<Duration>) -> Result<usize, Error> {
        if self.entries.is_empty() {
            return Ok(0);
        }
        let start = Instant::now();
        let deadline = timeout.and_then(|t| start.checked_add(t));
        let n = self.dispatch();
        if n > 0 {
            return Ok(n);
        }
        let spin = self
            .spin
            .unwrap_or_else(|| self.entries.iter().map(|e| e.ep.spin()).max().unwrap());
        let spin_end = start + spin;
        let spin_end = deadline.map_or(spin_end, |d| d.min(spin_end));
        while Instant::now() < spin_end {
            let n = self.dispatch();
            if n > 0 {
                return Ok(n);
            }
            std::hint::spin_loop();
        }
        let fds: Vec<_> = self.entries.iter().map(|e| e.ep.as_raw_fd()).collect();
        loop {
            let mut ready = false;
            for e in &self.entries {
                // arm() returns false when events are waiting: dispatch instead of sleeping.
                if !e.ep.arm()? {
                    ready = true;
                }
            }
            if !ready {
                let remaining = match deadline {
                    None => None,
                    Some(d) => match d.checked_duration_since(Instant::now()) {
                        Some(r) if !r.is_zero() => Some(r),
                        _ => return Ok(0),
                    },
                };
                poll_fds(&fds, remaining)?;
            }
            let n = self.dispatch();
            if n > 0 {
                return Ok(n);
            }
        }
    }

    /// Runs [`Dispatcher::run`] until `stop` returns true (checked after every round and at
    /// least every `tick`). Returns the number of events dispatched.
    pub fn run_until(
        &mut self,
        tick: Duration,
        mut stop: impl FnMut() -> bool,
    ) -> Result<u64, Error> {
        let mut total = 0u64;
        while !stop() {
            total += self.run(Some(tick))? as u64;
        }
        Ok(total)
    }
}
