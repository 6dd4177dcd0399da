//! Device time: the cycle counter that stamps every event, converted to nanoseconds and to
//! wall-clock time.

use crate::event::Event;
use std::time::{Duration, SystemTime};

/// Converts the device's cycle counter to time. Made by [`crate::Nic::clock`], which reads the
/// counter and the system clock together as an anchor; cycles convert at the device's nominal
/// clock (`CLOCK_KHZ`). On the simulated device cycles pass slower than real time: the times are
/// the device's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceClock {
    clock_khz: u32,
    anchor_cycles: u64,
    anchor_time: SystemTime,
}

impl DeviceClock {
    /// A clock of `clock_khz` whose counter read `anchor_cycles` at `anchor_time`.
    pub fn new(clock_khz: u32, anchor_cycles: u64, anchor_time: SystemTime) -> DeviceClock {
        DeviceClock {
            clock_khz,
            anchor_cycles,
            anchor_time,
        }
    }

    /// The nominal clock in kHz.
    pub fn clock_khz(&self) -> u32 {
        self.clock_khz
    }

    /// The counter value of the anchor.
    pub fn anchor_cycles(&self) -> u64 {
        self.anchor_cycles
    }

    /// `cycles` as nanoseconds (truncated).
    pub fn cycles_to_ns(&self, cycles: u64) -> u64 {
        if self.clock_khz == 0 {
            return 0;
        }
        (u128::from(cycles) * 1_000_000 / u128::from(self.clock_khz)) as u64
    }

    /// The full counter value of an event timestamp, which holds only the counter's low
    /// [`evnic_regs::event::TIMESTAMP_BITS`] bits, as the latest value at or before `now` (a
    /// counter read at or after the event) with those low bits.
    pub fn extend(&self, timestamp: u64, now: u64) -> u64 {
        let bits = evnic_regs::event::TIMESTAMP_BITS;
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let back = now.wrapping_sub(timestamp) & mask;
        now.wrapping_sub(back)
    }

    /// The wall-clock time of counter value `cycles`: the anchor's time plus the offset in
    /// nanoseconds rounded down, on both sides of the anchor, so that two counter values a
    /// whole number of nanoseconds apart are exactly that far apart in time wherever the anchor
    /// falls between them.
    pub fn time_of(&self, cycles: u64) -> SystemTime {
        if cycles >= self.anchor_cycles {
            self.anchor_time + Duration::from_nanos(self.cycles_to_ns(cycles - self.anchor_cycles))
        } else {
            let back = self.anchor_cycles - cycles;
            let mut ns = self.cycles_to_ns(back);
            if self.clock_khz != 0 && u128::from(back) * 1_000_000 % u128::from(self.clock_khz) != 0
            {
                ns += 1;
            }
            self.anchor_time - Duration::from_nanos(ns)
        }
    }

    /// The wall-clock time of `event`, whose timestamp is extended against `now` (a counter value
    /// read at or after it, e.g. the anchor for events taken before the clock was made).
    pub fn event_time(&self, event: &Event, now: u64) -> SystemTime {
        self.time_of(self.extend(event.timestamp(), now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_extends() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let c = DeviceClock::new(156_250, 1_000, t0);
        assert_eq!(c.cycles_to_ns(156_250), 1_000_000);
        assert_eq!(c.time_of(1_000 + 156_250_000), t0 + Duration::from_secs(1));
        assert_eq!(c.time_of(0), t0 - Duration::from_nanos(6_400));
        // 200 cycles are 1,280 ns, also across the anchor (6.4 ns per cycle: truncating each
        // side towards the anchor made it 1,279).
        for first in 995..1_000 {
            let gap = c
                .time_of(first + 200)
                .duration_since(c.time_of(first))
                .unwrap();
            assert_eq!(gap, Duration::from_nanos(1_280), "from cycle {first}");
        }
        assert_eq!(c.time_of(999), t0 - Duration::from_nanos(7));
        let bits = evnic_regs::event::TIMESTAMP_BITS;
        let wrap = 1u64 << bits;
        // An event stamped just before the counter's low bits wrapped, read just after.
        let now = 3 * wrap + 10;
        assert_eq!(c.extend(wrap - 5, now), 3 * wrap - 5);
        assert_eq!(c.extend(7, now), 3 * wrap + 7);
    }
}
