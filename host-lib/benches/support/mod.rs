//! What the benches share: the loads that drive a consumer.

use std::time::{Duration, Instant};

/// How events are sent.
#[derive(Clone, Copy)]
pub enum Load {
    /// 100 back to back, every 2 ms.
    Bursty,
    /// One every this many µs (busy-waited, for a steady pace).
    Steady(u64),
}

impl Load {
    /// The load, for a table.
    pub fn name(self) -> String {
        match self {
            Load::Bursty => "bursty (100 back to back, every 2 ms)".into(),
            Load::Steady(us) => format!("steady (one every {us} µs)"),
        }
    }

    /// Calls `send(i)` for `i` in `0..events`, at this load's pace.
    pub fn drive(self, events: u32, mut send: impl FnMut(u32)) {
        let mut sent = 0;
        while sent < events {
            match self {
                Load::Bursty => {
                    for _ in 0..100.min(events - sent) {
                        send(sent);
                        sent += 1;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Load::Steady(us) => {
                    let next = Instant::now() + Duration::from_micros(us);
                    send(sent);
                    sent += 1;
                    while Instant::now() < next {
                        std::hint::spin_loop();
                    }
                }
            }
        }
    }
}
