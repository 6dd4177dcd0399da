//! `evnic demo`: the whole system on the simulated device.
//!
//! (Each part is also an example of the library: endpoints, a batch of subscriptions and
//! filters, timers, a dispatcher, a receive ring, and the simulator's frame scheduling.)
//!
//! Two Ethernet OAM peers send continuity-check messages (CCM, Y.1731 opcode 1, MEG level 5)
//! every 3.33 ms, peer A on VLAN 10 and peer B on VLAN 20; filters steer them to the OAM group,
//! where three monitor endpoints listen. A supervisor (a callback on the first monitor) keeps
//! one one-shot device timer per peer at 3.5 intervals and restarts it on every CCM from that
//! peer; peer B falls silent after a few intervals, its timer fires into the alarm group, and
//! the supervisor raises a loss-of-continuity indication to the operations endpoint. Meanwhile
//! a UDP stream (port 5000) is fanned out to two stream listeners by a group filter, and a
//! capture endpoint (the default VI) stores every frame, written as pcap on request.
//!
//! Everything goes through the library's API on the Verilator model of the RTL running free
//! on its own thread; the peers are frames scheduled on the model's MAC receive port at exact
//! device cycles.

use crate::pcap::PcapOut;
use evnic::backend::sim::{SimBackend, SimConfig};
use evnic::{
    Dispatcher, Endpoint, EndpointConfig, Event, EventKind, Filter, FilterAction, Group, Nic,
    Receiver, Ticks, Timer, TimerTarget,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Groups of the scenario.
const OAM_GROUP: Group = Group(5);
const STREAM_GROUP: Group = Group(6);
const ALARM_GROUP: Group = Group(7);
const OPS_GROUP: Group = Group(8);
/// Filter entries: one per peer (its index identifies the peer in RX events), then the stream.
const PEER_VLANS: [u16; 2] = [10, 20];
const STREAM_FILTER: u32 = 2;
const STREAM_PORT: u16 = 5000;
/// Y.1731: MEG level and the CCM opcode; the fast CCM interval.
const MEG_LEVEL: u8 = 5;
const CCM_OPCODE: u8 = 1;
const CCM_INTERVAL_S: f64 = 3.33e-3;

/// What to run.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// CCM intervals to simulate.
    pub intervals: u32,
    /// Peer B's last interval: it is silent from then on.
    pub b_silent_after: u32,
    /// UDP stream frames per CCM interval.
    pub stream_per_interval: u32,
    /// Write a VCD waveform of the whole run (large: use few intervals).
    pub trace: Option<PathBuf>,
    /// Write the captured frames here.
    pub pcap: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            intervals: 10,
            b_silent_after: 3,
            stream_per_interval: 4,
            trace: None,
            pcap: None,
        }
    }
}

/// What one listener saw.
#[derive(Clone, Debug, Default)]
pub struct ListenerReport {
    /// Its name in the scenario.
    pub name: String,
    /// Its VI.
    pub vi: u32,
    /// Events it took, by type name.
    pub by_type: BTreeMap<String, u64>,
    /// Device cycles from a frame's last byte on the wire to its RX event (RX events only).
    pub rx_latency: Vec<u64>,
    /// Device cycles from an event's timestamp until its host callback had run (measured at the
    /// end of the dispatch round that handled it: an upper bound).
    pub delivery_latency: Vec<u64>,
    /// Interrupts taken for it.
    pub interrupts: u64,
    /// Times its queue was primed.
    pub primes: u64,
}

/// The outcome of a run.
#[derive(Clone, Debug, Default)]
pub struct DemoReport {
    /// Per listener.
    pub listeners: Vec<ListenerReport>,
    /// Loss-of-continuity alarms: (peer, device cycle the timer fired).
    pub loss_of_continuity: Vec<(u32, u64)>,
    /// Alarms the operations endpoint received as indications: peer ids.
    pub ops_alarms: Vec<u32>,
    /// Frames the capture endpoint stored.
    pub frames_captured: usize,
    /// Device cycles simulated.
    pub device_cycles: u64,
    /// The device's nominal clock in Hz (its `CLOCK_KHZ` register).
    pub clock_hz: f64,
    /// Wall time of the run.
    pub wall: Duration,
}

fn pct(v: &mut [u64], p: f64) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    Some(v[i])
}

impl std::fmt::Display for DemoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "simulated {:.2} ms ({} device cycles at {} MHz) in {:.1} s",
            self.device_cycles as f64 * 1e3 / self.clock_hz,
            self.device_cycles,
            self.clock_hz / 1e6,
            self.wall.as_secs_f64()
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<12} {:>3}  {:<44} {:>15} {:>17} {:>5}",
            "listener", "vi", "events by type", "rx p50/p99", "deliver p50/p99", "irqs"
        )?;
        for l in &self.listeners {
            let types: Vec<String> = l.by_type.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let mut rx = l.rx_latency.clone();
            let mut dl = l.delivery_latency.clone();
            let pair = |v: &mut Vec<u64>| match (pct(v, 0.5), pct(v, 0.99)) {
                (Some(a), Some(b)) => format!("{a}/{b}"),
                _ => "-".into(),
            };
            writeln!(
                f,
                "{:<12} {:>3}  {:<44} {:>15} {:>17} {:>5}",
                l.name,
                l.vi,
                types.join(", "),
                pair(&mut rx),
                pair(&mut dl),
                l.interrupts
            )?;
        }
        writeln!(
            f,
            "(device cycles: rx = frame's last byte to its RX event; deliver = event to the end of the host's dispatch round that handled it)"
        )?;
        writeln!(f)?;
        for (peer, at) in &self.loss_of_continuity {
            writeln!(
                f,
                "LOSS OF CONTINUITY: peer {} (VLAN {}) silent for 3.5 intervals, timer fired at cycle {at}",
                peer_name(*peer),
                PEER_VLANS[*peer as usize]
            )?;
        }
        if self.loss_of_continuity.is_empty() {
            writeln!(f, "no loss of continuity")?;
        }
        writeln!(
            f,
            "operations endpoint received {} alarm indication(s)",
            self.ops_alarms.len()
        )?;
        write!(f, "frames captured: {}", self.frames_captured)
    }
}

fn peer_name(p: u32) -> &'static str {
    ["A", "B"].get(p as usize).copied().unwrap_or("?")
}

/// A Y.1731 CCM frame from `peer` (FCS included).
pub fn ccm_frame(peer: u32, seq: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(100);
    f.extend_from_slice(&[0x01, 0x80, 0xc2, 0x00, 0x00, 0x30 | MEG_LEVEL]); // CCM group address
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x0a + peer as u8]);
    f.extend_from_slice(&0x8100u16.to_be_bytes());
    f.extend_from_slice(&PEER_VLANS[peer as usize].to_be_bytes());
    f.extend_from_slice(&0x8902u16.to_be_bytes());
    // MEL/version, opcode, flags (period 1 = 3.33 ms), TLV offset 70.
    f.extend_from_slice(&[MEG_LEVEL << 5, CCM_OPCODE, 0x01, 70]);
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&(100 + peer as u16).to_be_bytes()); // MEP ID
    f.resize(f.len() + 48, 0); // MEG ID
    f.resize(f.len() + 16, 0); // TxFCf, RxFCb, TxFCb, reserved
    f.push(0); // End TLV
    evnic_proto::fcs::with_fcs(f)
}

/// A UDP datagram to the stream's port (FCS included).
pub fn stream_frame(seq: u32) -> Vec<u8> {
    let builder =
        etherparse::PacketBuilder::ethernet2([0x01, 0x00, 0x5e, 0, 0, 1], [0x02, 0, 0, 0, 0, 0x20])
            .ipv4([10, 0, 0, 2], [239, 0, 0, 1], 16)
            .udp(40000, STREAM_PORT);
    let payload = seq.to_be_bytes().repeat(16);
    let mut f = Vec::with_capacity(builder.size(payload.len()));
    builder
        .write(&mut f, &payload)
        .expect("building a UDP frame in memory");
    evnic_proto::fcs::with_fcs(f)
}

#[derive(Default)]
struct Shared {
    reports: BTreeMap<u32, ListenerReport>,
    /// Per peer: cycles at which its frames' last bytes entered the device.
    frame_end: [Vec<u64>; 2],
    frames_seen: [BTreeMap<u32, usize>; 2],
    loc: Vec<(u32, u64)>,
    ops_alarms: Vec<u32>,
    /// Frames stored by the capture endpoint, with the timestamps of their RX events.
    captured: Vec<(u64, Vec<u8>)>,
    /// Events handled in the current dispatch round: (listener VI, event timestamp).
    handled: Vec<(u32, u64)>,
}

/// Runs the scenario; `progress` is told, every few dispatch rounds, the fraction of the
/// scenario's device time simulated so far and that time in milliseconds.
pub fn run(
    opts: &DemoOptions,
    progress: &mut dyn FnMut(f64, f64),
) -> Result<DemoReport, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let sim = Arc::new(SimBackend::start(SimConfig {
        trace: opts.trace.clone(),
        ..Default::default()
    })?);
    let nic = Arc::new(Nic::with_backend(sim.clone())?);
    let cfg = || EndpointConfig::default().with_ring_events(1024);

    // Endpoints.
    let capture = Arc::new(nic.endpoint(cfg())?);
    let monitors: Vec<Arc<Endpoint>> = (0..3)
        .map(|_| nic.endpoint(cfg()).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let streams: Vec<Arc<Endpoint>> = (0..2)
        .map(|_| nic.endpoint(cfg()).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let ops = Arc::new(nic.endpoint(cfg())?);
    let receiver: Arc<Mutex<Receiver>> = Arc::new(Mutex::new(capture.receiver(8, 2048)?));

    // Subscriptions and filters, in one batch.
    let mut batch = nic.configure();
    for m in &monitors {
        batch.subscribe(m, OAM_GROUP)?.subscribe(m, ALARM_GROUP)?;
    }
    for s in &streams {
        batch.subscribe(s, STREAM_GROUP)?;
    }
    batch
        .subscribe(&capture, OAM_GROUP)?
        .subscribe(&capture, STREAM_GROUP)?;
    batch.subscribe(&ops, OPS_GROUP)?;
    for (i, vlan) in PEER_VLANS.iter().enumerate() {
        let spec = Filter::new()
            .vlan(*vlan)
            .oam(Some(MEG_LEVEL), Some(CCM_OPCODE))
            .to_group(OAM_GROUP)?;
        batch.add_filter(i as u32, spec)?;
    }
    batch.add_filter(
        STREAM_FILTER,
        Filter::new().udp_dst(STREAM_PORT).to_group(STREAM_GROUP)?,
    )?;
    // The entries stay while the handles live: to the end of the run.
    let _filters = batch.apply()?.filters;
    nic.set_default_action(FilterAction::Vi(capture.vi()))?;
    nic.set_enabled(true)?;
    monitors[0].register_producer(OPS_GROUP)?;

    // Device time and the peers' schedule.
    let clock_hz = f64::from(nic.params().clock_khz) * 1e3;
    let interval = CCM_INTERVAL_S * clock_hz;
    let loc_after = Ticks::CyclesFrac {
        whole: (interval * 3.5) as u64,
        frac: 0,
    };
    let timers: Vec<Arc<Timer>> = (0..2)
        .map(|_| nic.timer().map(Arc::new))
        .collect::<Result<_, _>>()?;
    // Peers send at device cycles, the clock of the events' timestamps.
    let start = nic.cycles()? + 2000;
    let shared = Arc::new(Mutex::new(Shared::default()));
    {
        let mut sh = shared.lock().unwrap();
        let mut schedule = Vec::new();
        for k in 0..opts.intervals {
            let at = start + (k as f64 * interval) as u64;
            for peer in 0..2u32 {
                if peer == 1 && k >= opts.b_silent_after {
                    continue;
                }
                let f = ccm_frame(peer, k);
                // Peer B a little later than A, so their frames do not queue on one port.
                let t = at + peer as u64 * 500;
                sh.frame_end[peer as usize].push(t + f.len().div_ceil(8) as u64 - 1);
                schedule.push((t, f));
            }
            for s in 0..opts.stream_per_interval {
                let t = at + 2000 + (s as f64 * interval / opts.stream_per_interval as f64) as u64;
                schedule.push((t, stream_frame(k * opts.stream_per_interval + s)));
            }
        }
        sim.schedule(schedule)?;
    }
    for (p, t) in timers.iter().enumerate() {
        t.one_shot(loc_after, TimerTarget::Group(ALARM_GROUP), p as u32)?;
    }
    let end = start + (opts.intervals as f64 * interval) as u64 + 4000;

    // Listeners.
    let mut dispatcher = Dispatcher::new();
    let mut names: Vec<(Arc<Endpoint>, String)> = vec![(capture.clone(), "capture".into())];
    for (i, m) in monitors.iter().enumerate() {
        names.push((m.clone(), format!("monitor-{}", i + 1)));
    }
    for (i, s) in streams.iter().enumerate() {
        names.push((s.clone(), format!("stream-{}", i + 1)));
    }
    names.push((ops.clone(), "operations".into()));
    for (ep, name) in &names {
        shared.lock().unwrap().reports.insert(
            ep.vi().0,
            ListenerReport {
                name: name.clone(),
                vi: ep.vi().0,
                ..Default::default()
            },
        );
        let sh = shared.clone();
        let is_supervisor = Arc::ptr_eq(ep, &monitors[0]);
        let is_capture = Arc::ptr_eq(ep, &capture);
        let is_ops = Arc::ptr_eq(ep, &ops);
        let timers = timers.clone();
        let rx = receiver.clone();
        dispatcher.register(ep.clone(), move |ep: &Endpoint, ev: &Event| {
            let mut sh = sh.lock().unwrap();
            let kind = ev
                .event_type()
                .map(|t| t.name().to_string())
                .unwrap_or_else(|| format!("type {}", ev.raw().kind));
            let vi = ep.vi().0;
            let mut rx_latency = None;
            match ev.kind() {
                EventKind::Rx {
                    filter: Some(p @ 0..=1),
                    ..
                } => {
                    // The k-th RX event of a peer's filter is the peer's k-th frame.
                    let p = p as usize;
                    let k = sh.frames_seen[p].entry(vi).or_insert(0);
                    let idx = *k;
                    *k += 1;
                    if let Some(end) = sh.frame_end[p].get(idx) {
                        rx_latency = Some(ev.timestamp().saturating_sub(*end));
                    }
                    if is_supervisor {
                        // Continuity: restart this peer's loss timer.
                        let _ = timers[p].one_shot(
                            loc_after,
                            TimerTarget::Group(ALARM_GROUP),
                            p as u32,
                        );
                    }
                }
                EventKind::Timer { payload, .. } if is_supervisor => {
                    sh.loc.push((payload, ev.timestamp()));
                    let _ = ep.indicate(OPS_GROUP, payload);
                }
                EventKind::Indication { payload, .. } if is_ops => {
                    sh.ops_alarms.push(payload);
                }
                _ => {}
            }
            if is_capture {
                if let Some(frame) = rx.lock().unwrap().take(ev) {
                    sh.captured.push((ev.timestamp(), frame));
                }
            }
            let r = sh.reports.get_mut(&vi).expect("registered listener");
            *r.by_type.entry(kind).or_insert(0) += 1;
            if let Some(l) = rx_latency {
                r.rx_latency.push(l);
            }
            sh.handled.push((vi, ev.timestamp()));
        });
    }

    // Run until the device has simulated the whole scenario.
    let mut last_progress = Instant::now();
    let span = (end - start) as f64;
    loop {
        let now = nic.cycles()?;
        {
            // Events handled in the last round were handled by now: an upper bound of their
            // delivery time, read once per round so that no callback waits on the device.
            let mut guard = shared.lock().unwrap();
            let sh = &mut *guard;
            for (vi, ts) in std::mem::take(&mut sh.handled) {
                if let Some(r) = sh.reports.get_mut(&vi) {
                    r.delivery_latency.push(now.saturating_sub(ts));
                }
            }
        }
        if now >= end {
            break;
        }
        dispatcher.run(Some(Duration::from_millis(20)))?;
        if last_progress.elapsed() > Duration::from_millis(200) {
            last_progress = Instant::now();
            let done = now.saturating_sub(start) as f64;
            progress((done / span).clamp(0.0, 1.0), done * 1e3 / clock_hz);
        }
    }
    progress(1.0, span * 1e3 / clock_hz);
    // Whatever is still queued.
    dispatcher.dispatch();

    let mut sh = shared.lock().unwrap();
    if let Some(path) = &opts.pcap {
        // Stamped with the device cycle of each frame's RX event.
        let clock = nic.clock()?;
        let now = clock.anchor_cycles();
        let mut out = PcapOut::create(path)?;
        for (ts, frame) in &sh.captured {
            out.write(clock.time_of(clock.extend(*ts, now)), frame)?;
        }
        out.finish()?;
    }
    let mut report = DemoReport {
        loss_of_continuity: std::mem::take(&mut sh.loc),
        ops_alarms: std::mem::take(&mut sh.ops_alarms),
        frames_captured: sh.captured.len(),
        device_cycles: end - start,
        clock_hz,
        wall: started.elapsed(),
        ..Default::default()
    };
    for (ep, _) in &names {
        let mut r = sh.reports.remove(&ep.vi().0).unwrap_or_default();
        let c = ep.counters();
        r.interrupts = c.interrupts;
        r.primes = c.primes;
        report.listeners.push(r);
    }
    Ok(report)
}
