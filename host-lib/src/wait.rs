//! The wait policy: poll; spin with non-blocking polls; then prime the queue and block on the
//! endpoint's fd.
//!
//! 1. **Poll** the ring (memory only). An event there is returned at once.
//! 2. **Spin**: keep polling for up to the endpoint's spin time ([`crate::DEFAULT_SPIN`], 50 µs,
//!    unless [`crate::EndpointConfig::spin`] or `EVNIC_SPIN_USEC` say otherwise). An event that
//!    arrives now costs no register access, no interrupt and no system call.
//! 3. **Arm, then block.** Under the endpoint's lock: poll once more; if still empty and the
//!    queue is not primed already, write the read count with the prime doorbell (`EVQ_PRIME`)
//!    and block on the endpoint's fd until the interrupt thread signals it or the caller's
//!    timeout ends. Because priming happens under the lock and only when the queue is not
//!    armed, a thread that finds another thread processing the queue (holding the lock) waits
//!    for it and then sees the queue armed or non-empty: two threads waiting on one endpoint
//!    cause at most one prime. An event that lands between the last poll and the prime is not
//!    lost: the device wakes a queue primed with events already unread at once.
//!
//! For event loops ([`Endpoint::arm`] + the fd from `AsRawFd`) the same rule applies: arm
//! right before sleeping, and only when [`Endpoint::arm`] says the queue is empty.

use crate::endpoint::Endpoint;
use crate::engine::{lock, poll_fds};
use crate::event::Event;
use crate::Error;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

impl Endpoint {
    /// Waits for the next event with the wait policy (poll, spin, prime, block). `timeout`
    /// bounds the whole wait (`None`: no limit); `Ok(None)` when it passed with no event.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Option<Event>, Error> {
        let mut out = None;
        self.wait_into(1, timeout, &mut |e| out = Some(e))?;
        Ok(out)
    }

    /// Like [`Endpoint::wait`], but takes up to `max` events at once into `out`; returns how
    /// many (0 on timeout).
    pub fn wait_batch(
        &self,
        out: &mut Vec<Event>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<usize, Error> {
        self.wait_into(max, timeout, &mut |e| out.push(e))
    }

    fn wait_into(
        &self,
        max: usize,
        timeout: Option<Duration>,
        sink: &mut dyn FnMut(Event),
    ) -> Result<usize, Error> {
        if max == 0 {
            return Ok(0);
        }
        let start = Instant::now();
        let deadline = timeout.and_then(|t| start.checked_add(t));
        let n = self.take(max, sink);
        if n > 0 {
            return Ok(n);
        }
        self.inner.core.check()?;
        // Spin.
        let spin_end = start + self.inner.cfg.spin;
        let spin_end = deadline.map_or(spin_end, |d| d.min(spin_end));
        while Instant::now() < spin_end {
            let n = self.take(max, sink);
            if n > 0 {
                return Ok(n);
            }
            std::hint::spin_loop();
        }
        // Arm, then block.
        loop {
            self.inner.core.check()?;
            let n = self.arm_or_take(max, sink)?;
            if n > 0 {
                return Ok(n);
            }
            let remaining = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(r) if !r.is_zero() => Some(r),
                    _ => return Ok(0),
                },
            };
            poll_fds(&[self.as_raw_fd()], remaining)?;
            let n = self.take(max, sink);
            if n > 0 {
                return Ok(n);
            }
        }
    }

    /// Under the lock: takes events if there are some, else primes the queue (unless primed).
    fn arm_or_take(&self, max: usize, sink: &mut dyn FnMut(Event)) -> Result<usize, Error> {
        let mut st = lock(&self.inner.rx);
        let n = self.take_locked(&mut st, max, sink);
        if n > 0 {
            return Ok(n);
        }
        self.prime_locked(&mut st)?;
        Ok(0)
    }

    /// Prepares to sleep on the endpoint's fd (epoll, mio, an async runtime): returns
    /// `Ok(false)` when events are waiting (poll them; do not sleep), or `Ok(true)` once the
    /// queue is primed, so that the fd becomes readable when the next event arrives. It
    /// primes only when the queue is not primed already, and returns the consumed space first.
    ///
    /// The fd may become readable with nothing to poll (a wake-up still on its way when the
    /// events it announced were already polled): poll, and arm again when empty. A wake-up is
    /// never lost: while the endpoint counts as armed, either the device queue is armed or its
    /// WAKEUP is in flight and will signal the fd.
    ///
    /// ```no_run
    /// # let nic = evnic::Nic::open(evnic::DeviceSpec::Sim)?;
    /// # let ep = nic.endpoint(Default::default())?;
    /// use std::os::fd::AsRawFd;
    /// loop {
    ///     while let Some(e) = ep.poll() { println!("{e:?}"); }
    ///     if ep.arm()? {
    ///         // sleep in epoll_wait / poll on ep.as_raw_fd() here
    /// #       break;
    ///     }
    /// }
    /// # Ok::<(), evnic::Error>(())
    /// ```
    pub fn arm(&self) -> Result<bool, Error> {
        self.inner.core.check()?;
        let mut st = lock(&self.inner.rx);
        if st.ring.has_event() {
            return Ok(false);
        }
        self.prime_locked(&mut st)?;
        Ok(true)
    }
}
