//! Endpoint configuration and the wait policy's defaults.
//!
//! The wait policy: a waiter first polls memory; when the queue is empty it keeps polling
//! (spinning) for up to [`EndpointConfig::spin`]; only then does it prime the queue (enable its
//! interrupt) and block. The spin time defaults to [`DEFAULT_SPIN`] (50 µs) and can be set per endpoint or for
//! the whole process with the environment variable [`SPIN_ENV`] (`EVNIC_SPIN_USEC`, in
//! microseconds; `0` primes and blocks at once).

use crate::Error;
use std::time::Duration;

/// The spin time used when neither the endpoint configuration nor [`SPIN_ENV`] sets one: 50 µs,
/// long enough to absorb the gaps inside a burst, short enough that an idle waiter gives its
/// core back quickly.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// Environment variable that sets the default spin time in microseconds (`EVNIC_SPIN_USEC=0`
/// disables spinning: every wait that finds the queue empty primes it and blocks).
pub const SPIN_ENV: &str = "EVNIC_SPIN_USEC";

/// Smallest event ring, in events (`1 << EVQ_SIZE_MIN`).
pub const MIN_RING_EVENTS: u32 = 1 << evnic_regs::map::vi::EVQ_SIZE_MIN;
/// Largest event ring, in events (`1 << EVQ_SIZE_MAX`).
pub const MAX_RING_EVENTS: u32 = 1 << evnic_regs::map::vi::EVQ_SIZE_MAX;
/// Ring size used by [`EndpointConfig::default`].
pub const DEFAULT_RING_EVENTS: u32 = 1024;

/// How an endpoint is set up. Build it with [`EndpointConfig::default`] and the `with_*`
/// methods:
///
/// ```
/// use std::time::Duration;
/// let cfg = evnic::EndpointConfig::default()
///     .with_ring_events(4096)
///     .with_spin(Duration::from_micros(20));
/// assert_eq!(cfg.ring_events, 4096);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Events the ring holds: a power of two from [`MIN_RING_EVENTS`] (16) to
    /// [`MAX_RING_EVENTS`] (65536). The ring is `16 * ring_events` bytes of DMA memory. The
    /// device keeps one slot for an OVERFLOW event and the library returns space lazily (see
    /// [`EndpointConfig::doorbell_every`]), so plan for bursts of up to half the ring.
    pub ring_events: u32,
    /// How long a waiter keeps polling an empty queue before it primes it and blocks. `None`:
    /// [`SPIN_ENV`] if set, else [`DEFAULT_SPIN`].
    pub spin: Option<Duration>,
    /// Return space to the device (the read-count doorbell) after this many events consumed.
    /// `None`: a quarter of the ring. The doorbell is always written before the queue is primed,
    /// whatever this says. Must be from 1 to `ring_events / 2`.
    pub doorbell_every: Option<u32>,
    /// Device watchdog: if events sit unread in this queue for longer than this many device
    /// cycles, the device wakes the endpoint even though nobody primed it (an unresponsive
    /// application is still told). `None` or `Some(0)`: off.
    pub watchdog_cycles: Option<u32>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            ring_events: DEFAULT_RING_EVENTS,
            spin: None,
            doorbell_every: None,
            watchdog_cycles: None,
        }
    }
}

impl EndpointConfig {
    /// Sets the ring size in events.
    pub fn with_ring_events(mut self, events: u32) -> Self {
        self.ring_events = events;
        self
    }
    /// Sets the spin time of this endpoint's waits (overrides [`SPIN_ENV`]).
    pub fn with_spin(mut self, spin: Duration) -> Self {
        self.spin = Some(spin);
        self
    }
    /// Sets how many consumed events trigger the read-count doorbell.
    pub fn with_doorbell_every(mut self, events: u32) -> Self {
        self.doorbell_every = Some(events);
        self
    }
    /// Sets the device watchdog in device cycles.
    pub fn with_watchdog_cycles(mut self, cycles: u32) -> Self {
        self.watchdog_cycles = Some(cycles);
        self
    }

    /// Checks the configuration and resolves the defaults.
    pub(crate) fn resolve(&self) -> Result<Resolved, Error> {
        let n = self.ring_events;
        if !n.is_power_of_two() || !(MIN_RING_EVENTS..=MAX_RING_EVENTS).contains(&n) {
            return Err(Error::QueueSize {
                requested: n,
                min: MIN_RING_EVENTS,
                max: MAX_RING_EVENTS,
            });
        }
        let doorbell_every = self.doorbell_every.unwrap_or(n / 4);
        if doorbell_every == 0 || doorbell_every > n / 2 {
            return Err(Error::DoorbellBatch {
                every: doorbell_every,
                ring: n,
            });
        }
        let spin = match self.spin {
            Some(s) => s,
            None => spin_from_env()?,
        };
        Ok(Resolved {
            log2: n.trailing_zeros(),
            spin,
            doorbell_every,
            watchdog: self.watchdog_cycles.unwrap_or(0),
        })
    }
}

/// A checked configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resolved {
    pub log2: u32,
    pub spin: Duration,
    pub doorbell_every: u32,
    pub watchdog: u32,
}

/// The default spin time: [`SPIN_ENV`] if set, else [`DEFAULT_SPIN`].
pub fn default_spin() -> Result<Duration, Error> {
    spin_from_env()
}

fn spin_from_env() -> Result<Duration, Error> {
    match std::env::var(SPIN_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_SPIN),
        Err(std::env::VarError::NotUnicode(v)) => Err(Error::SpinEnv {
            value: v.to_string_lossy().into_owned(),
        }),
        Ok(s) => parse_spin_usec(&s),
    }
}

/// Parses a spin time in whole microseconds, as [`SPIN_ENV`] holds it.
pub(crate) fn parse_spin_usec(s: &str) -> Result<Duration, Error> {
    s.trim()
        .parse::<u64>()
        .map(Duration::from_micros)
        .map_err(|_| Error::SpinEnv {
            value: s.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_outside_the_device_range_are_refused() {
        for bad in [0, 8, 15, 100, 1 << 17] {
            let e = EndpointConfig::default()
                .with_ring_events(bad)
                .resolve()
                .unwrap_err();
            assert!(
                matches!(e, Error::QueueSize { requested, .. } if requested == bad),
                "{bad}: {e}"
            );
        }
        let r = EndpointConfig::default()
            .with_ring_events(16)
            .with_spin(Duration::ZERO)
            .resolve()
            .unwrap();
        assert_eq!((r.log2, r.doorbell_every), (4, 4));
    }

    #[test]
    fn doorbell_batch_must_fit_half_the_ring() {
        let cfg = EndpointConfig::default()
            .with_ring_events(64)
            .with_spin(Duration::ZERO);
        assert!(cfg.clone().with_doorbell_every(32).resolve().is_ok());
        assert!(cfg.clone().with_doorbell_every(33).resolve().is_err());
        assert!(cfg.with_doorbell_every(0).resolve().is_err());
    }

    #[test]
    fn spin_parses_microseconds_or_explains() {
        assert_eq!(parse_spin_usec("75").unwrap(), Duration::from_micros(75));
        assert_eq!(parse_spin_usec(" 0 ").unwrap(), Duration::ZERO);
        let e = parse_spin_usec("50us").unwrap_err().to_string();
        assert!(e.contains("EVNIC_SPIN_USEC"), "{e}");
    }
}
