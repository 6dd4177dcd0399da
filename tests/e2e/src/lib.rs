//! End-to-end tests of the `evnic` library against the simulated device live in `tests/`; this
//! crate has no code of its own besides the helpers they share.

pub mod hub;
pub mod pingpong;

use std::time::{Duration, Instant};

/// A generous limit for anything the simulated device does (it runs on its own thread, at a
/// speed that depends on the machine's load).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Waits (sleeping 1 ms between checks) until `done` or [`PATIENCE`] passes; returns `done`'s
/// last answer.
pub fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > PATIENCE {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Opens the simulated device.
pub fn nic() -> evnic::Nic {
    evnic::Nic::open(evnic::DeviceSpec::Sim).expect("open the simulated device")
}

/// Takes events from `ep` with `wait` until `n` arrived or [`PATIENCE`] passed.
pub fn collect(ep: &evnic::Endpoint, n: usize) -> Vec<evnic::Event> {
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < n && start.elapsed() < PATIENCE {
        let left = PATIENCE.saturating_sub(start.elapsed());
        let want = n - out.len();
        ep.wait_batch(&mut out, want, Some(left)).expect("wait");
    }
    out
}
