//! Statistics: every counter of the device (global page, receive path, groups, per queue and
//! ring, per timer, per filter entry) and the library's own counts.

use crate::endpoint::{Endpoint, EndpointCounters};
use crate::engine::lock;
use crate::{Error, Nic};
use evnic_proto::filter::{self as pf, RxCounters};
use evnic_proto::{evq, params};
use evnic_regs::map::filter::DropReason;
use evnic_regs::map::{global as g, global_reg, group as gr, timer as t, vi, vi_reg};
use std::fmt;

/// Counters of one VI: its event queue and its receive and transmit rings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointStats {
    /// The VI.
    pub vi: u32,
    /// True for the library's interrupt queue.
    pub interrupt_queue: bool,
    /// The event queue is enabled (`EVQ_STATUS.ENABLED`).
    pub enabled: bool,
    /// The device's write count (`EVQ_WPTR`: events written, wraps).
    pub written: u32,
    /// The read count the device was last told (`EVQ_RPTR`).
    pub read: u32,
    /// Events lost to a full queue and not yet reported by an OVERFLOW event (`EVQ_DROPS`).
    pub drops: u32,
    /// Drops wait for their OVERFLOW event (`EVQ_STATUS.OVERFLOW`).
    pub overflow_pending: bool,
    /// Primed and not yet woken (`EVQ_STATUS.ARMED`).
    pub armed: bool,
    /// Indications of this VI refused for want of producer registration
    /// (`INDICATE_REFUSED`).
    pub refused: u32,
    /// Receive descriptors posted by the host (`RXQ_WPTR`).
    pub rx_posted: u32,
    /// Receive descriptors used by the device: frames written (`RXQ_RPTR`).
    pub rx_used: u32,
    /// Frames steered to this VI and dropped for want of a buffer (`RXQ_DROPS`).
    pub rx_drops: u32,
    /// Transmit descriptors posted (`TXQ_WPTR`).
    pub tx_posted: u32,
    /// Transmit descriptors completed (`TXQ_RPTR`).
    pub tx_completed: u32,
    /// Transmit descriptors refused (`TXQ_ERRORS`).
    pub tx_errors: u32,
    /// The library's counters (events, interrupts, frames and bytes), when the endpoint is open
    /// in this process.
    pub host: Option<EndpointCounters>,
}

impl EndpointStats {
    fn in_use(&self) -> bool {
        self.enabled
            || self.written != 0
            || self.drops != 0
            || self.refused != 0
            || self.rx_used != 0
            || self.rx_drops != 0
            || self.tx_completed != 0
            || self.tx_errors != 0
            || self.host.is_some()
    }
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

/// Counters of one filter entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterStats {
    /// The entry number: a ternary index, or `0x8000 | profile << 12 | slot` for an
    /// exact-match entry (shown as `x<profile>.<slot>`).
    pub index: u32,
    /// Frames it matched (`HITS`n, or `HIT_COUNT` for an exact entry).
    pub hits: u32,
    /// What it holds, when this process installed it.
    pub spec: Option<String>,
}

/// A snapshot of the device's counters. `Display` prints it as tables.
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
    /// The interrupt hold-off in cycles (`IRQ_HOLDOFF`).
    pub irq_holdoff: u32,
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
    /// The receive path: frames received, delivered, dropped by reason.
    pub rx: RxCounters,
    /// Interrupts taken by the library's interrupt thread (0 before the first endpoint).
    pub host_interrupts: u64,
    /// Every VI that is enabled or has a non-zero counter.
    pub queues: Vec<EndpointStats>,
    /// Every timer that is armed or has a non-zero counter.
    pub timers: Vec<TimerStats>,
    /// Every filter entry installed by this process or with hits.
    pub filters: Vec<FilterStats>,
}

impl Stats {
    /// The counters of `vi`, if it is listed.
    pub fn queue(&self, vi: crate::Vi) -> Option<&EndpointStats> {
        self.queues.iter().find(|q| q.vi == vi.0)
    }
}

fn queue_stats(
    dev: &dyn crate::Backend,
    v: u32,
    irq_vi: Option<u32>,
) -> Result<EndpointStats, Error> {
    let r = |reg| dev.read32(vi_reg(v, reg));
    let status = evq::status(&mut &*dev, v)?;
    Ok(EndpointStats {
        vi: v,
        interrupt_queue: irq_vi == Some(v),
        enabled: status.enabled,
        written: r(&vi::EVQ_WPTR)?,
        read: r(&vi::EVQ_RPTR)?,
        drops: r(&vi::EVQ_DROPS)?,
        overflow_pending: status.overflow,
        armed: status.armed,
        refused: r(&vi::INDICATE_REFUSED)?,
        rx_posted: r(&vi::RXQ_WPTR)?,
        rx_used: r(&vi::RXQ_RPTR)?,
        rx_drops: r(&vi::RXQ_DROPS)?,
        tx_posted: r(&vi::TXQ_WPTR)?,
        tx_completed: r(&vi::TXQ_RPTR)?,
        tx_errors: r(&vi::TXQ_ERRORS)?,
        host: None,
    })
}

impl Nic {
    /// Reads every counter of the device (some thousand register reads: not for a fast path).
    /// Does not start the interrupt thread.
    pub fn stats(&self) -> Result<Stats, Error> {
        let dev = self.regs();
        let r = |reg| dev.read32(global_reg(reg));
        let grp = |reg| dev.read32(gr::CONTROL_PAGE.at(0, reg));
        let core = lock(&self.events).clone();
        let p = self.params();
        let irq_vi = core.as_ref().map(|c| c.irq_vi);
        let wakers = core.as_ref().map(|c| c.wakers()).unwrap_or_default();
        let mut queues = Vec::new();
        for v in 0..p.vis {
            let mut s = queue_stats(dev, v, irq_vi)?;
            s.host = wakers.iter().find(|w| w.vi == v).map(|w| w.counters());
            if s.in_use() {
                queues.push(s);
            }
        }
        let mut timers = Vec::new();
        for k in 0..p.timers {
            let at = |reg| dev.read32(t::PAGE.at(k, reg));
            let s = TimerStats {
                index: k,
                armed: t::CONTROL_ARM.get(at(&t::CONTROL)?) == 1,
                fires: at(&t::FIRES)?,
                missed: at(&t::MISSED)?,
            };
            if s.armed || s.fires != 0 || s.missed != 0 {
                timers.push(s);
            }
        }
        let installed = self.filters();
        let mut filters = Vec::new();
        for i in 0..p.filters {
            let hits = pf::hits(&mut &*dev, i)?;
            let spec = installed
                .iter()
                .find(|(j, _)| *j == i)
                .map(|(_, s)| s.text.clone());
            if hits != 0 || spec.is_some() {
                filters.push(FilterStats {
                    index: i,
                    hits,
                    spec,
                });
            }
        }
        // Exact-match entries of this process (their slots are too many to scan).
        for (n, spec) in installed.iter().filter(|(n, _)| *n >= p.filters) {
            filters.push(FilterStats {
                index: *n,
                hits: self.filter_hits(*n)?,
                spec: Some(spec.text.clone()),
            });
        }
        Ok(Stats {
            cycles: params::cycles(&mut &*dev)?,
            bus_errors: r(&g::BUS_ERRORS)?,
            bus_error_addr: r(&g::BUS_ERROR_ADDR)?,
            irq_count: r(&g::IRQ_COUNT)?,
            irq_holdoff: r(&g::IRQ_HOLDOFF)?,
            wakeup_count: r(&g::WAKEUP_COUNT)?,
            events_written: r(&g::EVENTS_WRITTEN)?,
            events_dropped: r(&g::EVENTS_DROPPED)?,
            no_members: grp(&gr::NO_MEMBERS)?,
            port_events: grp(&gr::PORT_EVENTS)?,
            overruns: grp(&gr::OVERRUNS)?,
            rx: pf::rx_counters(&mut &*dev)?,
            host_interrupts: core.as_ref().map_or(0, |c| {
                c.irq.interrupts.load(std::sync::atomic::Ordering::Relaxed)
            }),
            queues,
            timers,
            filters,
        })
    }
}

impl Endpoint {
    /// This endpoint's device counters (queue, rings, refused indications) and the library's
    /// counters for it.
    pub fn stats(&self) -> Result<EndpointStats, Error> {
        let core = self.core();
        let mut s = queue_stats(core.regs(), self.vi().0, Some(core.irq_vi))?;
        s.host = Some(self.counters());
        Ok(s)
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| counter | value |")?;
        writeln!(f, "|---|---:|")?;
        let mut rows: Vec<(String, u64)> = vec![
            ("cycles".into(), self.cycles),
            (
                "events written (EVENTS_WRITTEN)".into(),
                self.events_written.into(),
            ),
            (
                "events dropped (EVENTS_DROPPED)".into(),
                self.events_dropped.into(),
            ),
            (
                "wake-ups posted (WAKEUP_COUNT)".into(),
                self.wakeup_count.into(),
            ),
            (
                "interrupts raised (IRQ_COUNT)".into(),
                self.irq_count.into(),
            ),
            (
                "interrupt hold-off, cycles (IRQ_HOLDOFF)".into(),
                self.irq_holdoff.into(),
            ),
            (
                "interrupts taken by the library".into(),
                self.host_interrupts,
            ),
            (
                "group events with no subscriber (NO_MEMBERS)".into(),
                self.no_members.into(),
            ),
            (
                "device-port indications (PORT_EVENTS)".into(),
                self.port_events.into(),
            ),
            (
                "indication overruns (OVERRUNS)".into(),
                self.overruns.into(),
            ),
            ("frames received (RX_FRAMES)".into(), self.rx.frames.into()),
            (
                "frames delivered (RX_DELIVERED)".into(),
                self.rx.delivered.into(),
            ),
        ];
        for r in DropReason::ALL {
            rows.push((
                format!("frames dropped: {} ({})", r.name(), r.counter().name),
                self.rx.dropped(r).into(),
            ));
        }
        rows.push(("bus errors (BUS_ERRORS)".into(), self.bus_errors.into()));
        rows.push((
            "last bus error address (BUS_ERROR_ADDR)".into(),
            self.bus_error_addr.into(),
        ));
        for (name, v) in rows {
            writeln!(f, "| {name} | {v} |")?;
        }
        writeln!(f)?;
        if self.queues.is_empty() {
            writeln!(f, "no VI in use")?;
        } else {
            writeln!(
                f,
                "| VI | written | read | drops | refused | armed | rx used | rx drops | tx done | tx errors | events | interrupts | rx frames | rx bytes | tx frames | tx bytes |"
            )?;
            writeln!(
                f,
                "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            )?;
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
                    "| {vi} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    q.written,
                    q.read,
                    q.drops,
                    q.refused,
                    if q.armed { "yes" } else { "no" },
                    q.rx_used,
                    q.rx_drops,
                    q.tx_completed,
                    q.tx_errors,
                    host(|h| h.events),
                    host(|h| h.interrupts),
                    host(|h| h.rx_frames),
                    host(|h| h.rx_bytes),
                    host(|h| h.tx_frames),
                    host(|h| h.tx_bytes),
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
        writeln!(f)?;
        if self.filters.is_empty() {
            write!(f, "no filter entry with hits")
        } else {
            writeln!(f, "| filter | hits | entry |")?;
            write!(f, "|---:|---:|---|")?;
            for e in &self.filters {
                write!(
                    f,
                    "\n| {} | {} | {} |",
                    crate::filter_tables::entry_name(e.index),
                    e.hits,
                    e.spec
                        .as_deref()
                        .unwrap_or("(not installed by this process)")
                )?;
            }
            Ok(())
        }
    }
}
