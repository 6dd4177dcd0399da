//! The ping-pong of indications that the hub benchmark measures, written once for the
//! benchmark's threads and the hub client's processes: the pinger indicates into one group, the
//! ponger spins on its queue and indicates the payload back into another; both spin on `poll`,
//! so no wake-up is involved.

use evnic::{Endpoint, Group};
use std::time::Instant;

/// Spins on `ep` until an event arrives.
pub fn spin_next(ep: &Endpoint) -> evnic::Event {
    loop {
        if let Some(e) = ep.poll() {
            return e;
        }
        std::hint::spin_loop();
    }
}

/// What the pinger measured.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Median round trip, host time.
    pub rtt_ns: u64,
    /// Median round trip in device cycles: between the timestamps of consecutive answers (the
    /// device runs on while the hosts react, so this counts both sides' reactions too).
    pub rtt_cycles: u64,
    /// Round trips per second with `window` indications outstanding.
    pub per_s: f64,
}

/// Answers `n` events of `ep` by indicating each payload into `out`.
pub fn pong(ep: &Endpoint, out: Group, n: u32) {
    for _ in 0..n {
        let e = spin_next(ep);
        ep.indicate(out, e.payload()).unwrap();
    }
}

/// Sends `n` indications into `out`, keeping at most `window` unanswered, and takes the
/// answers from `ep` (each must carry the payload sent, in order).
pub fn ping(ep: &Endpoint, out: Group, n: u32, window: u32) -> Figures {
    let payload = |p: u32| p & 0xff_ffff;
    let mut sent_at = Vec::with_capacity(n as usize);
    let mut rtt = Vec::with_capacity(n as usize);
    let mut stamps = Vec::with_capacity(n as usize);
    let start = Instant::now();
    let mut sent = 0;
    for got in 0..n {
        while sent < n && sent < got + window {
            sent_at.push(Instant::now());
            ep.indicate(out, payload(sent)).unwrap();
            sent += 1;
        }
        let e = spin_next(ep);
        rtt.push(sent_at[got as usize].elapsed().as_nanos() as u64);
        stamps.push(e.timestamp());
        assert_eq!(e.payload(), payload(got), "answers come in order");
    }
    let per_s = f64::from(n) / start.elapsed().as_secs_f64();
    let wrap = (1u64 << evnic_regs::event::TIMESTAMP_BITS) - 1;
    let mut cycles: Vec<u64> = stamps
        .windows(2)
        .map(|w| w[1].wrapping_sub(w[0]) & wrap)
        .collect();
    rtt.sort_unstable();
    cycles.sort_unstable();
    Figures {
        rtt_ns: rtt[rtt.len() / 2],
        rtt_cycles: cycles.get(cycles.len() / 2).copied().unwrap_or(0),
        per_s,
    }
}
