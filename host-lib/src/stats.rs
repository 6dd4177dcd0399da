//! Statistics: every counter of the device's global and group pages, per-queue and per-timer
//! counters, and the library's own counts of interrupts and primes.

use crate::endpoint::{Endpoint, EndpointCounters};
use crate::engine::lock;
use crate::{Error, Nic};
use evnic_regs::map::{global as g, global_reg, group as gr, timer as t, vi, vi_reg};
use std::fmt;

/// Counters of one event queue (VI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointStats {
    /// The VI.
    pub vi: u32,
    /// True for the library's interrupt queue.
    pub interrupt_queue: bool,
    /// The device's write count (`EVQ_WPTR`: events written, wraps).
    pub written: u32,
    /// The read count the device was last told (`EVQ_RPTR`).
    pub read: u32,
    /// Events lost to a full queue and not yet reported by an OVERFLOW event (`EVQ_DROPS`).
    pub drops: u32,
    /// Indications of this VI refused for want of producer registration
    /// (`INDICATE_REFUSED`).
    pub refused: u32,
    /// Primed and not yet woken (`EVQ_STATUS.ARMED`).
    pub armed: bool,
    /// The library's counters, when the endpoint is open in this process.
    pub host: Option<EndpointCounters>,
}

/// Counters of one timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerStats {
    /// The timer.
    pub index: u32,
    /// Armed now.
    pub armed: bool,
    /// Firings since last armed (`FIRES`).
    pub fires: u32,
    /// Firings lost because the previous one was still waiting (`MISSED`).
    pub missed: u32,
}

/// A snapshot of the device's counters. `Display` prints it as a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// The device's cycle counter when the snapshot was taken.
    pub cycles: u64,
    /// Bad register accesses (`BUS_ERRORS`).
    pub bus_errors: u32,
    /// Address of the last bad access (`BUS_ERROR_ADDR`).
    pub bus_error_addr: u32,
    /// Interrupts raised by the device (`IRQ_COUNT`).
    pub irq_count: u32,
    /// WAKEUP events posted (`WAKEUP_COUNT`).
    pub wakeup_count: u32,
    /// Events written into queues, all queues (`EVENTS_WRITTEN`).
    pub events_written: u32,
    /// Events lost to full or disabled queues, all queues (`EVENTS_DROPPED`).
    pub events_dropped: u32,
    /// Group events that found no subscriber (`NO_MEMBERS`).
    pub no_members: u32,
    /// Indications taken from the device-space input port (`PORT_EVENTS`).
    pub port_events: u32,
    /// Indications lost to a full indication queue (`OVERRUNS`).
    pub overruns: u32,
    /// Interrupts taken by the library's interrupt thread (0 before the first endpoint).
    pub host_interrupts: u64,
    /// Every queue that is enabled or has a non-zero counter, by VI.
    pub queues: Vec<EndpointStats>,
    /// Every timer that is armed or has a non-zero counter.
    pub timers: Vec<TimerStats>,
}

impl Stats {
    /// The counters of VI `vi`, if it is listed.
    pub fn queue(&self, vi: u32) -> Option<&EndpointStats> {
        self.queues.iter().find(|q| q.vi == vi)
    }
}

fn queue_stats(
    dev: &dyn crate::backend::Backend,
    v: u32,
    irq_vi: Option<u32>,
) -> Result<(EndpointStats, bool), Error> {
    let r = |reg| dev.read32(vi_reg(v, reg));
    let status = r(&vi::EVQ_STATUS)?;
    let s = EndpointStats {
        vi: v,
        interrupt_queue: irq_vi == Some(v),
        written: r(&vi::EVQ_WPTR)?,
        read: r(&vi::EVQ_RPTR)?,
        drops: r(&vi::EVQ_DROPS)?,
        refused: r(&vi::INDICATE_REFUSED)?,
        armed: vi::EVQ_STATUS_ARMED.get(status) == 1,
        host: None,
    };
    let enabled = vi::EVQ_STATUS_ENABLED.get(status) == 1;
    Ok((s, enabled))
}

impl Nic {
    /// Reads every counter of the device (a few hundred register reads: not for a fast path).
    /// Does not start the interrupt thread.
    pub fn stats(&self) -> Result<Stats, Error> {
        let dev = &**self.backend();
        let r = |reg| dev.read32(global_reg(reg));
        let grp = |reg| dev.read32(gr::CONTROL_PAGE.at(0, reg));
        let core = lock(&self.events).clone();
        let (vis, timers) = match &core {
            Some(c) => (c.params.vis, c.params.timers),
            None => (r(&g::NUM_VIS)?, r(&g::NUM_TIMERS)?),
        };
        let irq_vi = core.as_ref().map(|c| c.irq_vi);
        let wakers = core.as_ref().map(|c| c.wakers()).unwrap_or_default();
        let mut queues = Vec::new();
        for v in 0..vis {
            let (mut s, enabled) = queue_stats(dev, v, irq_vi)?;
            s.host = wakers.iter().find(|w| w.vi == v).map(|w| w.counters());
            if enabled || s.written != 0 || s.drops != 0 || s.refused != 0 || s.host.is_some() {
                queues.push(s);
            }
        }
        let mut tstats = Vec::new();
        for k in 0..timers {
            let at = |reg| dev.read32(t::PAGE.at(k, reg));
            let s = TimerStats {
                index: k,
                armed: t::CONTROL_ARM.get(at(&t::CONTROL)?) == 1,
                fires: at(&t::FIRES)?,
                missed: at(&t::MISSED)?,
            };
            if s.armed || s.fires != 0 || s.missed != 0 {
                tstats.push(s);
            }
        }
        let lo = r(&g::CYCLES_LO)?;
        let hi = r(&g::CYCLES_HI)?;
        Ok(Stats {
            cycles: (hi as u64) << 32 | lo as u64,
            bus_errors: r(&g::BUS_ERRORS)?,
            bus_error_addr: r(&g::BUS_ERROR_ADDR)?,
            irq_count: r(&g::IRQ_COUNT)?,
            wakeup_count: r(&g::WAKEUP_COUNT)?,
            events_written: r(&g::EVENTS_WRITTEN)?,
            events_dropped: r(&g::EVENTS_DROPPED)?,
            no_members: grp(&gr::NO_MEMBERS)?,
            port_events: grp(&gr::PORT_EVENTS)?,
            overruns: grp(&gr::OVERRUNS)?,
            host_interrupts: core.as_ref().map_or(0, |c| {
                c.irq.interrupts.load(std::sync::atomic::Ordering::Relaxed)
            }),
            queues,
            timers: tstats,
        })
    }
}

impl Endpoint {
    /// This endpoint's device counters (drops, refused indications, pointers) and the
    /// library's counters for it.
    pub fn stats(&self) -> Result<EndpointStats, Error> {
        let (mut s, _) = queue_stats(&*self.core.dev, self.vi(), Some(self.core.irq_vi))?;
        s.host = Some(self.counters());
        Ok(s)
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| counter | value |")?;
        writeln!(f, "|---|---:|")?;
        let rows: [(&str, u64); 11] = [
            ("cycles", self.cycles),
            (
                "events written (EVENTS_WRITTEN)",
                self.events_written.into(),
            ),
            (
                "events dropped (EVENTS_DROPPED)",
                self.events_dropped.into(),
            ),
            ("wake-ups posted (WAKEUP_COUNT)", self.wakeup_count.into()),
            ("interrupts raised (IRQ_COUNT)", self.irq_count.into()),
            ("interrupts taken by the library", self.host_interrupts),
            (
                "group events with no subscriber (NO_MEMBERS)",
                self.no_members.into(),
            ),
            (
                "device-port indications (PORT_EVENTS)",
                self.port_events.into(),
            ),
            ("indication overruns (OVERRUNS)", self.overruns.into()),
            ("bus errors (BUS_ERRORS)", self.bus_errors.into()),
            (
                "last bus error address (BUS_ERROR_ADDR)",
                self.bus_error_addr.into(),
            ),
        ];
        for (name, v) in rows {
            writeln!(f, "| {name} | {v} |")?;
        }
        writeln!(f)?;
        if self.queues.is_empty() {
            writeln!(f, "no event queue in use")?;
        } else {
            writeln!(
                f,
                "| VI | written | read | drops | refused | armed | events | interrupts | primes | doorbells |"
            )?;
            writeln!(f, "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")?;
            for q in &self.queues {
                let vi = if q.interrupt_queue {
                    format!("{} (irq)", q.vi)
                } else {
                    q.vi.to_string()
                };
                let host = |x: fn(&EndpointCounters) -> u64| {
                    q.host
                        .as_ref()
                        .map_or("-".to_string(), |h| x(h).to_string())
                };
                writeln!(
                    f,
                    "| {vi} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    q.written,
                    q.read,
                    q.drops,
                    q.refused,
                    if q.armed { "yes" } else { "no" },
                    host(|h| h.events),
                    host(|h| h.interrupts),
                    host(|h| h.primes),
                    host(|h| h.doorbells),
                )?;
            }
        }
        writeln!(f)?;
        if self.timers.is_empty() {
            writeln!(f, "no timer in use")?;
        } else {
            writeln!(f, "| timer | armed | fires | missed |")?;
            writeln!(f, "|---:|---|---:|---:|")?;
            for t in &self.timers {
                writeln!(
                    f,
                    "| {} | {} | {} | {} |",
                    t.index,
                    if t.armed { "yes" } else { "no" },
                    t.fires,
                    t.missed
                )?;
            }
        }
        Ok(())
    }
}
