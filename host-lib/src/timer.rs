//! Device timers: one-shot and periodic, firing TIMER events into an endpoint's queue or into a
//! group (every subscribed endpoint).
//!
//! A timer fires at exact device cycles: `first` cycles after it is started, then every
//! `period` cycles, where the period may have a fraction of a cycle (in 1/65536) that the
//! device accumulates, so that e.g. Y.1731's 3.33 ms (520312.5 cycles at 156.25 MHz) stays on
//! schedule forever. Durations are converted to cycles at the device's nominal clock
//! (`CLOCK_KHZ`); on the simulated device cycles pass slower than real time, so a duration is
//! device time, not wall-clock time.

use crate::endpoint::Endpoint;
use crate::engine::EventCore;
use crate::{Error, Nic};
use evnic_regs::map::timer as t;
use std::sync::Arc;
use std::time::Duration;

/// A span of device time: whole cycles plus a fraction in 1/65536 of a cycle, or a
/// [`Duration`] converted at the device clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ticks {
    /// Whole device cycles.
    Cycles(u64),
    /// Whole cycles and a fraction of a cycle in 1/65536 (only a period uses the fraction).
    CyclesFrac {
        /// Whole cycles.
        whole: u64,
        /// Fraction in 1/65536 of a cycle.
        frac: u16,
    },
    /// Device time, converted to cycles (and a fraction) at the nominal clock.
    Time(Duration),
}

impl From<Duration> for Ticks {
    fn from(d: Duration) -> Ticks {
        Ticks::Time(d)
    }
}

impl Ticks {
    /// (whole cycles, fraction in 1/65536) at `clock_khz`.
    fn split(self, clock_khz: u32) -> (u64, u16) {
        match self {
            Ticks::Cycles(c) => (c, 0),
            Ticks::CyclesFrac { whole, frac } => (whole, frac),
            Ticks::Time(d) => {
                // cycles * 65536 = ns * kHz * 65536 / 1e6, rounded to the nearest 1/65536.
                let scaled = (d.as_nanos() * clock_khz as u128 * 65536 + 500_000) / 1_000_000;
                ((scaled >> 16).min(u64::MAX as u128) as u64, scaled as u16)
            }
        }
    }
}

/// Where a timer's events go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerTarget {
    /// Into one VI's queue (an endpoint's: `TimerTarget::from(&endpoint)`).
    Vi(u32),
    /// Into every queue subscribed to the group.
    Group(u32),
}

impl From<&Endpoint> for TimerTarget {
    fn from(ep: &Endpoint) -> TimerTarget {
        TimerTarget::Vi(ep.vi())
    }
}

/// One of the device's timers, held by this process until dropped (dropping cancels it).
pub struct Timer {
    core: Arc<EventCore>,
    index: u32,
}

impl Nic {
    /// Takes a free device timer.
    pub fn timer(&self) -> Result<Timer, Error> {
        let core = self.core()?;
        let index = core.alloc_timer()?;
        let timer = Timer { core, index };
        timer.cancel()?;
        Ok(timer)
    }
}

impl Timer {
    /// The timer's index (the `source` of its TIMER events).
    pub fn index(&self) -> u32 {
        self.index
    }

    fn reg(&self, r: &evnic_regs::Reg) -> u32 {
        t::PAGE.at(self.index, r)
    }

    fn target_value(&self, target: TimerTarget) -> Result<u32, Error> {
        let p = self.core.params;
        match target {
            TimerTarget::Vi(v) if v < self.core.irq_vi => Ok(t::TARGET_ID.put(v)),
            TimerTarget::Vi(v) => Err(Error::BadTimer(format!(
                "target VI {v} is not an endpoint's (endpoints are VIs 0..{}; VI {} is the library's interrupt queue): use TimerTarget::from(&endpoint)",
                self.core.irq_vi, self.core.irq_vi
            ))),
            TimerTarget::Group(g) if g < p.groups => {
                Ok(t::TARGET_ID.put(g) | t::TARGET_GROUP.put(1))
            }
            TimerTarget::Group(g) => Err(Error::GroupOutOfRange {
                group: g,
                groups: p.groups,
            }),
        }
    }

    fn first_cycles(&self, first: Ticks) -> Result<u32, Error> {
        let (whole, frac) = first.split(self.core.params.clock_khz);
        let c = whole + u64::from(frac >= 0x8000);
        u32::try_from(c.max(1)).map_err(|_| {
            Error::BadTimer(format!(
                "a first firing {c} cycles away is past the 32-bit FIRST register (at most {} cycles, {:.1} s): fire earlier and count periods",
                u32::MAX,
                u32::MAX as f64 / (self.core.params.clock_khz as f64 * 1000.0)
            ))
        })
    }

    fn start(
        &self,
        first: u32,
        period: (u32, u16),
        target: TimerTarget,
        payload: u32,
    ) -> Result<(), Error> {
        let target = self.target_value(target)?;
        let dev = &*self.core.dev;
        dev.write32(self.reg(&t::CONTROL), 0)?;
        dev.write32(self.reg(&t::FIRST), first)?;
        dev.write32(self.reg(&t::PERIOD), period.0)?;
        dev.write32(self.reg(&t::PERIOD_FRAC), period.1 as u32)?;
        dev.write32(self.reg(&t::TARGET), target)?;
        dev.write32(self.reg(&t::PAYLOAD), payload)?;
        dev.write32(self.reg(&t::CONTROL), t::CONTROL_ARM.put(1))?;
        Ok(())
    }

    /// Fires once, `after` from now, with `payload`. Restarts the timer if it was running.
    pub fn one_shot(
        &self,
        after: impl Into<Ticks>,
        target: impl Into<TimerTarget>,
        payload: u32,
    ) -> Result<(), Error> {
        let first = self.first_cycles(after.into())?;
        self.start(first, (0, 0), target.into(), payload)
    }

    /// Fires `first` from now, then every `period` (which may have a fraction of a cycle),
    /// until cancelled. Restarts the timer if it was running.
    pub fn periodic(
        &self,
        first: impl Into<Ticks>,
        period: impl Into<Ticks>,
        target: impl Into<TimerTarget>,
        payload: u32,
    ) -> Result<(), Error> {
        let first = self.first_cycles(first.into())?;
        let (whole, frac) = period.into().split(self.core.params.clock_khz);
        if whole < t::MIN_PERIOD as u64 {
            return Err(Error::BadTimer(format!(
                "a period of {whole} cycles is shorter than the device's minimum of {} cycles ({:.2} us): use a longer period (a zero period is what one_shot programs)",
                t::MIN_PERIOD,
                t::MIN_PERIOD as f64 / self.core.params.clock_khz as f64 * 1000.0
            )));
        }
        let whole = u32::try_from(whole).map_err(|_| {
            Error::BadTimer(format!(
                "a period of {whole} cycles is past the 32-bit PERIOD register (at most {} cycles)",
                u32::MAX
            ))
        })?;
        self.start(first, (whole, frac), target.into(), payload)
    }

    /// Stops the timer; it fires no more (an event already on its way may still arrive).
    pub fn cancel(&self) -> Result<(), Error> {
        self.core.dev.write32(self.reg(&t::CONTROL), 0)?;
        Ok(())
    }

    /// True while the timer is armed (a one-shot disarms after firing).
    pub fn is_armed(&self) -> Result<bool, Error> {
        let c = self.core.dev.read32(self.reg(&t::CONTROL))?;
        Ok(t::CONTROL_ARM.get(c) == 1)
    }

    /// Times the timer fired since it was last started (wraps).
    pub fn fires(&self) -> Result<u32, Error> {
        Ok(self.core.dev.read32(self.reg(&t::FIRES))?)
    }

    /// Firings lost because the previous TIMER event of this timer was still waiting for the
    /// event engine.
    pub fn missed(&self) -> Result<u32, Error> {
        Ok(self.core.dev.read32(self.reg(&t::MISSED))?)
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").field("index", &self.index).finish()
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let _ = self.cancel();
        self.core.free_timer(self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_convert_at_the_clock_with_a_fraction() {
        // 3.33 ms at 156.25 MHz: 520312.5 cycles.
        assert_eq!(
            Ticks::Time(Duration::from_micros(3330)).split(156_250),
            (520_312, 0x8000)
        );
        assert_eq!(
            Ticks::Time(Duration::from_micros(1)).split(156_250),
            (156, 0x4000)
        );
        assert_eq!(Ticks::Cycles(7).split(156_250), (7, 0));
    }
}
