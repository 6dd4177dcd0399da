//! RustHDL simulation of the timers at 256 (and 32) timers against a plain Rust model: exact
//! firing cycles, delivery latency, missed firings, registers and refusals.

use super::*;
use evnic_regs::event::Event;
use rust_hdl::core::simulate::simulate;

/// 256 timers.
pub type T256 = Timers<8, 7, 47, 16>;
/// 32 timers.
pub type T32 = Timers<5, 4, 44, 2>;

trait TmPins: Block {
    fn set_clock(&mut self, high: bool);
    #[allow(clippy::too_many_arguments)]
    fn set(
        &mut self,
        reset: bool,
        cycles: u64,
        rd: bool,
        wr: bool,
        addr: u64,
        wdata: u64,
        ready: bool,
    );
    /// (ack, nak, rdata, ev_valid, to_group, target, record, collision)
    fn get(&self) -> (bool, bool, u32, bool, bool, u8, [u64; 2], bool);
}

impl<const TB: usize, const HB: usize, const EW: usize, const TVW: usize> TmPins
    for Timers<TB, HB, EW, TVW>
{
    fn set_clock(&mut self, high: bool) {
        self.clock.next = Clock { clk: high };
    }
    fn set(
        &mut self,
        reset: bool,
        cycles: u64,
        rd: bool,
        wr: bool,
        addr: u64,
        wdata: u64,
        ready: bool,
    ) {
        self.reset.next = reset;
        self.cycles.next = cycles.into();
        self.rd.next = rd;
        self.wr.next = wr;
        self.addr.next = addr.into();
        self.wdata.next = wdata.into();
        self.ev_ready.next = ready;
    }
    fn get(&self) -> (bool, bool, u32, bool, bool, u8, [u64; 2], bool) {
        let r = self.ev_record.val();
        (
            self.ack.val(),
            self.nak.val(),
            self.rdata.val().to_u64() as u32,
            self.ev_valid.val(),
            self.ev_to_group.val(),
            self.ev_target.val().to_u64() as u8,
            [r.get_bits::<64>(0).to_u64(), r.get_bits::<64>(64).to_u64()],
            self.ram_collision.val(),
        )
    }
}

/// A TIMER event taken by the (simulated) multicast.
#[derive(Clone, Copy, Debug)]
struct Fired {
    /// The cycle it was offered first and the cycle it was taken.
    offered: u64,
    taken: u64,
    timer: u16,
    to_group: bool,
    target: u8,
    payload: u32,
    ts: u64,
}

struct H<T: TmPins> {
    uut: Box<T>,
    cycle: u64,
    reset: bool,
    bus_op: Option<(bool, u64, u64, u64)>,
    bus_next: u64,
    answer: Option<(bool, u32, u64, u64)>,
    fired: Vec<Fired>,
    offered_since: Option<u64>,
    ready_pct: u64,
    rng: u64,
}

impl<T: TmPins> H<T> {
    fn new(mut uut: T) -> Self {
        uut.connect_all();
        let mut h = H {
            uut: Box::new(uut),
            cycle: 0,
            reset: false,
            bus_op: None,
            bus_next: 0,
            answer: None,
            fired: Vec::new(),
            offered_since: None,
            ready_pct: 100,
            rng: 99,
        };
        h.uut.set_clock(false);
        h.settle();
        h.reset = true;
        h.step();
        h.reset = false;
        h
    }
    fn settle(&mut self) {
        assert!(simulate(self.uut.as_mut(), 200), "no convergence");
    }
    fn rand(&mut self) -> u64 {
        self.rng = self
            .rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.rng >> 33
    }
    fn step(&mut self) {
        let (mut rd, mut wr, mut addr, mut wdata) = (false, false, 0, 0);
        if let Some((write, a, d, strobe)) = self.bus_op {
            addr = a;
            wdata = d;
            if strobe == self.cycle {
                rd = !write;
                wr = write;
            }
        }
        let ready = self.ready_pct >= 100 || self.rand() % 100 < self.ready_pct;
        self.uut
            .set(self.reset, self.cycle, rd, wr, addr, wdata, ready);
        self.settle();
        let (ack, nak, rdata, ev_valid, to_group, target, record, collision) = self.uut.get();
        assert!(!collision, "RAM collision in cycle {}", self.cycle);
        if let Some((_, _, _, strobe)) = self.bus_op {
            if self.cycle >= strobe && (ack || nak) {
                self.answer = Some((nak, rdata, strobe, self.cycle));
                self.bus_op = None;
                self.bus_next = self.cycle + 2;
            } else {
                assert!(self.cycle < strobe + 31, "access at {addr:#x} not answered");
            }
        }
        if ev_valid {
            let since = *self.offered_since.get_or_insert(self.cycle);
            if ready {
                let e = Event::decode(record);
                assert_eq!(e.event_type(), Some(EventType::Timer));
                assert_eq!(e.group.is_some(), to_group);
                if to_group {
                    assert_eq!(e.group, Some(target));
                }
                self.fired.push(Fired {
                    offered: since,
                    taken: self.cycle,
                    timer: e.source,
                    to_group,
                    target,
                    payload: e.payload,
                    ts: e.timestamp,
                });
                self.offered_since = None;
            }
        }
        self.uut.set_clock(true);
        self.settle();
        self.uut.set_clock(false);
        self.settle();
        self.cycle += 1;
    }
    fn run(&mut self, n: u64) {
        for _ in 0..n {
            self.step();
        }
    }
    fn bus(&mut self, write: bool, addr: u32, data: u32) -> (bool, u32, u64, u64) {
        let strobe = self.cycle.max(self.bus_next);
        self.bus_op = Some((write, addr as u64, data as u64, strobe));
        self.answer = None;
        while self.answer.is_none() {
            self.step();
        }
        self.answer.unwrap()
    }
    fn write(&mut self, timer: u32, r: &evnic_regs::Reg, data: u32) {
        let a = self.bus(true, t::PAGE.at(timer, r), data);
        assert!(!a.0, "write of {} refused", r.name);
    }
    fn read(&mut self, timer: u32, r: &evnic_regs::Reg) -> u32 {
        let a = self.bus(false, t::PAGE.at(timer, r), 0);
        assert!(!a.0);
        a.1
    }
    /// Programs and arms a timer; returns the strobe cycle of the arming write.
    fn arm(
        &mut self,
        k: u32,
        first: u32,
        period: u32,
        frac: u16,
        target: u32,
        payload: u32,
    ) -> u64 {
        self.write(k, &t::FIRST, first);
        self.write(k, &t::PERIOD, period);
        self.write(k, &t::PERIOD_FRAC, frac as u32);
        self.write(k, &t::TARGET, target);
        self.write(k, &t::PAYLOAD, payload);
        let a = self.bus(true, t::PAGE.at(k, &t::CONTROL), t::CONTROL_ARM.put(1));
        assert!(!a.0);
        a.2
    }
}

/// The firing cycles of a timer armed at `armed`: exact, the fraction accumulated.
fn schedule(armed: u64, first: u32, period: u32, frac: u16, until: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut at = armed + first.max(1) as u64;
    let mut acc = 0u32;
    while at <= until {
        out.push(at);
        if period == 0 {
            break;
        }
        acc += frac as u32;
        at += period as u64 + (acc >> 16) as u64;
        acc &= 0xffff;
    }
    out
}

#[test]
fn registers_read_back_and_bad_writes_are_refused() {
    let mut h = H::new(T256::new(256));
    let mut model = vec![[0u32; 6]; 256];
    let regs = [t::FIRST, t::PERIOD, t::PERIOD_FRAC, t::TARGET, t::PAYLOAD];
    for _ in 0..600 {
        let k = (h.rand() % 256) as u32;
        let which = (h.rand() % 5) as usize;
        let mut v = h.rand() as u32;
        match which {
            1 => {
                v = if v.is_multiple_of(4) {
                    0
                } else {
                    t::MIN_PERIOD + v % 100_000
                }
            }
            2 => v &= 0xffff,
            3 => v &= 0x1ff,
            _ => {}
        }
        h.write(k, &regs[which], v);
        model[k as usize][which] = v;
        let j = (h.rand() % 256) as u32;
        let w = (h.rand() % 5) as usize;
        assert_eq!(
            h.read(j, &regs[w]),
            model[j as usize][w],
            "timer {j} {}",
            regs[w].name
        );
    }
    // Refused: FIRES and MISSED are read-only, a period below MIN_PERIOD.
    assert!(h.bus(true, t::PAGE.at(3, &t::FIRES), 1).0);
    assert!(h.bus(true, t::PAGE.at(3, &t::MISSED), 1).0);
    assert!(h.bus(true, t::PAGE.at(3, &t::PERIOD), t::MIN_PERIOD - 1).0);
    assert!(h.bus(true, t::PAGE.at(3, &t::PERIOD), 1).0);
    assert_eq!(
        h.read(3, &t::PERIOD),
        model[3][1],
        "a refused write changes nothing"
    );
    // Answered the cycle after the strobe.
    let a = h.bus(false, t::PAGE.at(9, &t::PAYLOAD), 0);
    assert_eq!(a.3, a.2 + 1);
    // Reset: everything reads 0 again.
    h.reset = true;
    h.step();
    h.reset = false;
    for k in 0..256 {
        for r in &regs {
            assert_eq!(h.read(k, r), 0);
        }
    }
}

/// All 256 timers armed, periodic and one-shot, to VIs and groups: every TIMER event carries
/// the exact programmed cycle, and is offered within 156 cycles of it.
#[test]
fn every_timer_fires_at_its_exact_cycles_at_256() {
    let mut h = H::new(T256::new(256));
    let mut plan = Vec::new();
    for k in 0..256u32 {
        let first = 1 + (h.rand() % 4000) as u32;
        let period = if k % 5 == 0 {
            0
        } else {
            t::MIN_PERIOD + (h.rand() % 3000) as u32
        };
        let frac = (h.rand() % 65536) as u16;
        let target = (h.rand() % 512) as u32;
        let payload = h.rand() as u32;
        let armed = h.arm(k, first, period, frac, target, payload);
        plan.push((armed, first, period, frac, target, payload));
    }
    // Timers armed first fired while the others were programmed (the scanner pauses for
    // register accesses); from here on the bus is idle.
    let programmed = h.cycle;
    let end = h.cycle + 12_000;
    h.run(end - h.cycle);
    let mut worst = 0;
    let mut worst_busy = 0;
    for (k, &(armed, first, period, frac, target, payload)) in plan.iter().enumerate() {
        let got: Vec<Fired> = h
            .fired
            .iter()
            .filter(|f| f.timer == k as u16)
            .copied()
            .collect();
        let want = schedule(armed, first, period, frac, end - 200);
        let ts: Vec<u64> = got.iter().map(|f| f.ts).take(want.len()).collect();
        assert_eq!(ts, want, "timer {k}");
        for f in &got {
            assert_eq!(
                (f.to_group, f.target as u32, f.payload),
                (target >> 8 == 1, target & 0xff, payload)
            );
            // The reads below keep the bus busy again after `end`.
            if f.ts > programmed && f.ts + 200 < end {
                worst = worst.max(f.offered - f.ts);
            } else if f.ts <= programmed {
                worst_busy = worst_busy.max(f.offered - f.ts);
            }
        }
        assert_eq!(h.read(k as u32, &t::MISSED), 0);
        // FIRES counts a firing when the scanner finds it.
        let fires = h.read(k as u32, &t::FIRES) as usize;
        let now = h.cycle;
        assert!(
            (got.len()..=schedule(armed, first, period, frac, now).len()).contains(&fires),
            "timer {k}: FIRES {fires}"
        );
        assert_eq!(
            h.read(k as u32, &t::CONTROL),
            (period != 0) as u32,
            "one-shots disarm"
        );
    }
    println!(
        "timers: worst offer latency {worst} cycles over {} events ({worst_busy} while the bus was busy with timer writes)",
        h.fired.len()
    );
    // NT/2 + 1, plus 2 when another event was found in the same cycles (one event goes out
    // every two cycles).
    assert!(
        worst <= 129 + 2,
        "offered {worst} cycles after the firing cycle"
    );
    // Back-to-back timer-page writes (one every 3 cycles, the fastest the bus goes) leave
    // the scanner 2 cycles in 3, fewer when a write's timer is the one the scanner is at.
    assert!(
        worst_busy <= 3 * 256 / 4 + 24,
        "offered {worst_busy} cycles late under register traffic"
    );
}

/// The worst case: 256 timers due in the same cycle. One event every two cycles goes out, so
/// the last is offered about 512 cycles late; the timestamps stay exact.
#[test]
fn timers_due_together_go_out_one_per_two_cycles_earliest_first() {
    let mut h = H::new(T256::new(256));
    // Arm all to fire at one cycle: FIRST counts from each arming strobe.
    for k in 0..256u32 {
        h.write(k, &t::TARGET, k & 0xff);
    }
    let target_cycle = h.cycle + 256 * 2 * 3 + 600;
    let mut at = Vec::new();
    for k in 0..256u32 {
        let first = (target_cycle - h.cycle - 2) as u32;
        h.write(k, &t::FIRST, first);
        let a = h.bus(true, t::PAGE.at(k, &t::CONTROL), 1);
        at.push(a.2 + first as u64);
    }
    h.run(target_cycle + 800 - h.cycle);
    assert_eq!(h.fired.len(), 256);
    for f in &h.fired {
        assert_eq!(f.ts, at[f.timer as usize]);
    }
    let worst = h.fired.iter().map(|f| f.offered - f.ts).max().unwrap();
    println!(
        "timers: 256 due within {} cycles: last offered {worst} cycles late",
        at.iter().max().unwrap() - at.iter().min().unwrap()
    );
    assert!(worst <= 2 * 256 + 3);
    // Offered one every two cycles from the first.
    let taken: Vec<u64> = h.fired.iter().map(|f| f.taken).collect();
    assert!(taken.windows(2).all(|w| w[1] == w[0] + 2));
}

/// A firing whose previous event still waits (the multicast stalled) counts in MISSED; the
/// schedule stays exact; cancel stops it; a one-shot's event goes out even if cancelled after
/// it was found.
#[test]
fn missed_firings_are_counted_and_the_schedule_holds() {
    let mut h = H::new(T32::new(32));
    h.ready_pct = 0;
    let armed = h.arm(5, 100, 300, 0x4000, 7, 0xaa);
    h.run(100 + 300 * 10 + 50);
    assert_eq!(h.read(5, &t::FIRES), 11);
    assert_eq!(h.read(5, &t::MISSED), 10);
    h.ready_pct = 100;
    h.run(2000);
    let want = schedule(armed, 100, 300, 0x4000, h.cycle - 200);
    let ts: Vec<u64> = h.fired.iter().map(|f| f.ts).collect();
    // The first firing's event waited; firings 2..11 were missed; then on schedule.
    assert_eq!(ts[0], want[0]);
    let n = (ts.len() - 1).min(want.len() - 11);
    assert!(n > 2);
    assert_eq!(&ts[1..1 + n], &want[11..11 + n]);
    assert!(h.read(5, &t::MISSED) == 10);
    // Cancel.
    h.write(5, &t::CONTROL, 0);
    let n = h.fired.len();
    h.run(1000);
    assert!(h.fired.len() <= n + 1, "at most an event already found");
    assert_eq!(h.read(5, &t::CONTROL), 0);
    // Re-arm restarts the counts.
    h.arm(5, 10, 0, 0, 7, 1);
    h.run(100);
    assert_eq!((h.read(5, &t::FIRES), h.read(5, &t::MISSED)), (1, 0));
}

#[test]
fn a_fractional_period_stays_exact_for_hundreds_of_firings() {
    let mut h = H::new(T32::new(32));
    // 300.33... cycles: 300 + 0x5555 / 65536.
    let armed = h.arm(17, 300, 300, 0x5555, 3, 0);
    let other = h.arm(2, 50, 257, 0xffff, 3, 0);
    h.run(300 * 200);
    let got: Vec<u64> = h
        .fired
        .iter()
        .filter(|f| f.timer == 17)
        .map(|f| f.ts)
        .collect();
    let want = schedule(armed, 300, 300, 0x5555, h.cycle - 100);
    assert_eq!(&got[..want.len()], &want[..]);
    assert!(want.len() > 190);
    let got: Vec<u64> = h
        .fired
        .iter()
        .filter(|f| f.timer == 2)
        .map(|f| f.ts)
        .collect();
    let want = schedule(other, 50, 257, 0xffff, h.cycle - 100);
    assert_eq!(&got[..want.len()], &want[..]);
}

#[test]
fn verilog_generates() {
    let mut uut = CoreTimers::default();
    uut.connect_all();
    let v = generate_verilog(&uut);
    assert!(v.contains("no_rw_check"));
    if let Ok(dir) = std::env::var("EVNIC_BLOCK_VERILOG") {
        std::fs::write(format!("{dir}/timers.v"), v).unwrap();
    }
}
