//! RustHDL simulation of the multicast at 256 groups x 256 VIs (and at the core's parameters)
//! against plain Rust models: membership, permissions, fan-out order, timing, refusals.

use super::*;
use evnic_regs::event::Event;
use evnic_regs::map::vi_reg;
use rust_hdl::core::simulate::simulate;
use std::collections::{BTreeSet, VecDeque};

/// 256 groups, 256 VIs.
/// (BAR0 of 2 MiB: the VI pages of 256 VIs.)
pub type M256 = Multicast<8, 8, 3, 8, 11, 3, 11, 16, 256, 3, 21>;

/// Inputs of the block the harness drives each cycle.
#[derive(Clone, Default)]
struct McIn {
    reset: bool,
    cycles: u64,
    rd: bool,
    wr: bool,
    addr: u64,
    wdata: u64,
    /// timer, rx, tx: (valid, to_group, target, record).
    prod: [(bool, bool, u8, [u64; 2]); 3],
    dsi: (bool, u8, u32),
    out_ready: bool,
}

#[derive(Clone, Default, Debug)]
struct McOut {
    ack: bool,
    nak: bool,
    rdata: u64,
    prod_ready: [bool; 3],
    dsi_ready: bool,
    out_valid: bool,
    out_vi: u8,
    out_record: [u64; 2],
    dso: Option<(u8, u8, u16, u32)>,
    collision: bool,
    ready: bool,
}

fn rec(r: Bits<128>) -> [u64; 2] {
    [r.get_bits::<64>(0).to_u64(), r.get_bits::<64>(64).to_u64()]
}
fn bits128(w: [u64; 2]) -> Bits<128> {
    bit_cast::<128, 64>(w[0].into()) | (bit_cast::<128, 64>(w[1].into()) << 64)
}

trait McPins: Block {
    fn set_clock(&mut self, high: bool);
    fn set(&mut self, i: &McIn);
    fn get(&self) -> McOut;
}

impl<
        const GB: usize,
        const VB: usize,
        const WB: usize,
        const WPG: usize,
        const MA: usize,
        const PB: usize,
        const PA: usize,
        const VEW: usize,
        const VW: usize,
        const LB: usize,
        const AB: usize,
    > McPins for Multicast<GB, VB, WB, WPG, MA, PB, PA, VEW, VW, LB, AB>
{
    fn set_clock(&mut self, high: bool) {
        self.clock.next = Clock { clk: high };
    }
    fn set(&mut self, i: &McIn) {
        self.reset.next = i.reset;
        self.cycles.next = i.cycles.into();
        self.rd.next = i.rd;
        self.wr.next = i.wr;
        self.addr.next = i.addr.into();
        self.wdata.next = i.wdata.into();
        let p = &i.prod;
        self.stimer_valid.next = p[0].0;
        self.stimer_to_group.next = p[0].1;
        self.stimer_target.next = (p[0].2 as u64).into();
        self.stimer_record.next = bits128(p[0].3);
        self.srx_valid.next = p[1].0;
        self.srx_to_group.next = p[1].1;
        self.srx_target.next = (p[1].2 as u64).into();
        self.srx_record.next = bits128(p[1].3);
        self.stx_valid.next = p[2].0;
        self.stx_to_group.next = p[2].1;
        self.stx_target.next = (p[2].2 as u64).into();
        self.stx_record.next = bits128(p[2].3);
        self.dsi_valid.next = i.dsi.0;
        self.dsi_group.next = (i.dsi.1 as u64).into();
        self.dsi_payload.next = (i.dsi.2 as u64).into();
        self.out_ready.next = i.out_ready;
    }
    fn get(&self) -> McOut {
        McOut {
            ack: self.ack.val(),
            nak: self.nak.val(),
            rdata: self.rdata.val().to_u64(),
            prod_ready: [
                self.stimer_ready.val(),
                self.srx_ready.val(),
                self.stx_ready.val(),
            ],
            dsi_ready: self.dsi_ready.val(),
            ready: self.ready.val(),
            out_valid: self.out_valid.val(),
            out_vi: self.out_vi.val().to_u64() as u8,
            out_record: rec(self.out_record.val()),
            dso: self.dso_valid.val().then(|| {
                (
                    self.dso_kind.val().to_u64() as u8,
                    self.dso_group.val().to_u64() as u8,
                    self.dso_source.val().to_u64() as u16,
                    self.dso_payload.val().to_u64() as u32,
                )
            }),
            collision: self.ram_collision.val(),
        }
    }
}

/// One copy handed to the engine.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Copy_ {
    cycle: u64,
    vi: u8,
    record: [u64; 2],
}

/// A bus access and its answer.
#[derive(Clone, Copy, Debug)]
struct Answer {
    nak: bool,
    rdata: u32,
    /// The strobe cycle and the answer cycle.
    strobe: u64,
    at: u64,
}

/// Drives the block cycle by cycle: the register bus (one access at a time, the next strobe two
/// cycles after an answer, as `RegBus` does), four producer queues, `out_ready` from a pattern.
struct H<T: McPins> {
    uut: Box<T>,
    cycle: u64,
    inp: McIn,
    bus_op: Option<(bool, u64, u64, u64)>,
    bus_next: u64,
    answer: Option<Answer>,
    /// timer, rx, tx queues: (to_group, target, record); the device port: (group, payload).
    prod: [VecDeque<(bool, u8, [u64; 2])>; 3],
    dsi: VecDeque<(u8, u32)>,
    /// (cycle, producer 0..=3 (3 = device port), record or payload) of each grant.
    grants: Vec<(u64, usize, [u64; 2])>,
    copies: Vec<Copy_>,
    dso: Vec<(u64, (u8, u8, u16, u32))>,
    /// Percent of cycles with `out_ready` high, from a fixed random sequence.
    ready_pct: u64,
    rng: u64,
}

impl<T: McPins> H<T> {
    fn new(mut uut: T) -> Self {
        uut.connect_all();
        let mut h = H {
            uut: Box::new(uut),
            cycle: 0,
            inp: McIn::default(),
            bus_op: None,
            bus_next: 0,
            answer: None,
            prod: Default::default(),
            dsi: VecDeque::new(),
            grants: Vec::new(),
            copies: Vec::new(),
            dso: Vec::new(),
            ready_pct: 100,
            rng: 0x1234_5678,
        };
        h.uut.set_clock(false);
        h.settle();
        h.reset();
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

    /// One clock cycle.
    fn step(&mut self) {
        self.inp.cycles = self.cycle;
        self.inp.rd = false;
        self.inp.wr = false;
        if let Some((write, addr, data, strobe)) = self.bus_op {
            self.inp.addr = addr;
            self.inp.wdata = data;
            if strobe == self.cycle {
                self.inp.rd = !write;
                self.inp.wr = write;
            }
        }
        for p in 0..3 {
            self.inp.prod[p] = match self.prod[p].front() {
                Some(&(g, t, r)) => (true, g, t, r),
                None => (false, false, 0, [0, 0]),
            };
        }
        self.inp.dsi = match self.dsi.front() {
            Some(&(g, p)) => (true, g, p),
            None => (false, 0, 0),
        };
        self.inp.out_ready = self.ready_pct >= 100 || self.rand() % 100 < self.ready_pct;
        let inp = self.inp.clone();
        self.uut.set(&inp);
        self.settle();
        let o = self.uut.get();
        assert!(!o.collision, "RAM collision in cycle {}", self.cycle);
        if let Some((_, _, _, strobe)) = self.bus_op {
            if self.cycle >= strobe && (o.ack || o.nak) {
                assert!(!(o.ack && o.nak));
                self.answer = Some(Answer {
                    nak: o.nak,
                    rdata: o.rdata as u32,
                    strobe,
                    at: self.cycle,
                });
                self.bus_op = None;
                self.bus_next = self.cycle + 2;
            } else {
                assert!(
                    self.cycle < strobe + 31,
                    "access at {:#x} not answered",
                    inp.addr
                );
            }
        }
        for p in 0..3 {
            if o.prod_ready[p] {
                assert!(inp.prod[p].0, "grant without a request");
                let e = self.prod[p].pop_front().unwrap();
                self.grants.push((self.cycle, p, e.2));
            }
        }
        if o.dsi_ready {
            let (_, pl) = self.dsi.pop_front().expect("grant without a request");
            self.grants.push((self.cycle, 3, [pl as u64, 0]));
        }
        if o.out_valid && inp.out_ready {
            self.copies.push(Copy_ {
                cycle: self.cycle,
                vi: o.out_vi,
                record: o.out_record,
            });
        }
        if let Some(d) = o.dso {
            self.dso.push((self.cycle, d));
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

    /// A reset, then the cycles until `ready` (software waits for `STATUS.READY`).
    fn reset(&mut self) {
        self.inp.reset = true;
        self.step();
        self.inp.reset = false;
        let start = self.cycle;
        while !self.uut.get().ready {
            self.step();
            assert!(
                self.cycle - start <= 257,
                "not ready 257 cycles after reset"
            );
        }
    }

    /// One bus access, strobed as soon as the bus allows; returns its answer.
    fn bus(&mut self, write: bool, addr: u32, data: u32) -> Answer {
        let strobe = self.cycle.max(self.bus_next);
        self.bus_op = Some((write, addr as u64, data as u64, strobe));
        self.answer = None;
        while self.answer.is_none() {
            self.step();
        }
        self.answer.unwrap()
    }

    fn write(&mut self, addr: u32, data: u32) {
        let a = self.bus(true, addr, data);
        assert!(!a.nak, "write {data:#x} to {addr:#x} refused");
    }

    fn read(&mut self, addr: u32) -> u32 {
        let a = self.bus(false, addr, 0);
        assert!(!a.nak, "read of {addr:#x} refused");
        a.rdata
    }

    fn busy(&self) -> bool {
        self.prod.iter().any(|q| !q.is_empty()) || !self.dsi.is_empty()
    }

    /// Runs until no producer has anything left and nothing went out for 40 cycles.
    fn drain(&mut self) {
        let mut quiet = 0;
        let mut last = self.copies.len();
        while quiet < 40 {
            self.step();
            if self.busy() || self.copies.len() != last {
                quiet = 0;
                last = self.copies.len();
            } else {
                quiet += 1;
            }
            assert!(self.cycle < 10_000_000);
        }
    }
}

fn subscribe(h: &mut H<impl McPins>, g: u32, v: u32, on: bool) -> Answer {
    h.bus(
        true,
        gr::CONTROL_PAGE.at(0, &gr::SUBSCRIBE),
        gr::SUBSCRIBE_GROUP.put(g) | gr::SUBSCRIBE_VI.put(v) | gr::SUBSCRIBE_ON.put(on as u32),
    )
}

/// The membership model: 256 groups of VI sets.
fn words_of(set: &BTreeSet<u8>, w: u32) -> u32 {
    set.iter()
        .filter(|&&v| v as u32 / 32 == w)
        .fold(0, |m, &v| m | 1 << (v % 32))
}

/// Offsets of the group pages for `vis` VIs and `groups` groups (the map's words per entry).
fn member_word(groups: u32, vis: u32, g: u32, w: u32) -> u32 {
    let _ = groups;
    let words = vis.div_ceil(32).next_power_of_two();
    gr::MEMBERS_BASE + (g * words + w) * 4
}
fn permit_word(groups: u32, v: u32, w: u32) -> u32 {
    let words = groups.div_ceil(32).next_power_of_two();
    gr::PERMIT_BASE + (v * words + w) * 4
}

fn counter(h: &mut H<impl McPins>, r: &evnic_regs::Reg) -> u32 {
    h.read(gr::CONTROL_PAGE.at(0, r))
}

#[test]
fn membership_permissions_and_listeners_read_back_like_a_model_at_256() {
    let mut h = H::new(M256::new(256, 256));
    let mut members = vec![BTreeSet::<u8>::new(); 256];
    let mut permits = vec![[0u32; 8]; 256];
    // Random subscribes and unsubscribes, whole-word writes, reads.
    for i in 0..1500u32 {
        let r = h.rand();
        let g = (r % 256) as u32;
        let v = ((r >> 8) % 256) as u32;
        match (r >> 16) % 8 {
            0..=4 => {
                let on = !(r >> 20).is_multiple_of(3);
                assert!(!subscribe(&mut h, g, v, on).nak);
                if on {
                    members[g as usize].insert(v as u8);
                } else {
                    members[g as usize].remove(&(v as u8));
                }
            }
            5 => {
                let w = v / 32;
                let val = (h.rand() as u32) & if i % 2 == 0 { 0xffff_ffff } else { 0x0101_0003 };
                h.write(member_word(256, 256, g, w), val);
                members[g as usize].retain(|&x| x as u32 / 32 != w);
                for b in 0..32 {
                    if val >> b & 1 == 1 {
                        members[g as usize].insert((w * 32 + b) as u8);
                    }
                }
            }
            6 => {
                let w = g / 32;
                let val = h.rand() as u32;
                h.write(permit_word(256, v, w), val);
                permits[v as usize][w as usize] = val;
            }
            _ => {
                let w = v / 32;
                assert_eq!(
                    h.read(member_word(256, 256, g, w)),
                    words_of(&members[g as usize], w),
                    "group {g} word {w}"
                );
                assert_eq!(
                    h.read(permit_word(256, v, g / 32)),
                    permits[v as usize][g as usize / 32]
                );
            }
        }
    }
    for g in 0..256 {
        for w in 0..8 {
            assert_eq!(
                h.read(member_word(256, 256, g, w)),
                words_of(&members[g as usize], w)
            );
        }
    }
    // Listener words.
    for w in 0..8 {
        h.write(gr::listen_at(w), 0x1111_1111 * (w + 1));
    }
    for w in 0..8 {
        assert_eq!(h.read(gr::listen_at(w)), 0x1111_1111 * (w + 1));
    }
    // A register access takes one cycle more than a flip-flop register: answered at strobe+1;
    // the counters at once.
    let a = h.bus(false, member_word(256, 256, 3, 0), 0);
    assert_eq!(a.at, a.strobe + 1);
    let a = h.bus(true, gr::CONTROL_PAGE.at(0, &gr::SUBSCRIBE), 0);
    assert_eq!(a.at, a.strobe + 1);
    let a = h.bus(false, gr::CONTROL_PAGE.at(0, &gr::NO_MEMBERS), 0);
    assert_eq!((a.at, a.nak), (a.strobe, false));
    // Counters refuse writes.
    assert!(h.bus(true, gr::CONTROL_PAGE.at(0, &gr::OVERRUNS), 1).nak);
    // Reset forgets everything, though the member RAM itself is not cleared.
    h.reset();
    let a = h.bus(false, member_word(256, 256, 0, 0), 0);
    assert!(
        a.at - a.strobe <= 17,
        "an access right after reset waits for the clear"
    );
    for g in 0..256 {
        for w in 0..8 {
            assert_eq!(
                h.read(member_word(256, 256, g, w)),
                0,
                "group {g} word {w} after reset"
            );
        }
    }
    assert_eq!(h.read(permit_word(256, 7, 1)), 0);
    assert_eq!(h.read(gr::listen_at(3)), 0);
}

/// Random groups, random events from all five sources, a stalling engine: every event reaches
/// exactly its members, lowest VI first, copies of one event back to back, each producer in
/// order, and a group's events in the same order in every queue.
#[test]
fn fan_out_reaches_the_members_in_order_at_256() {
    let mut h = H::new(M256::new(256, 256));
    let mut members = vec![BTreeSet::<u8>::new(); 256];
    // Group sizes from 0 to 256; group 255 holds everybody, group 0 nobody.
    for g in 1..256u32 {
        let size = match g {
            255 => 256,
            1..=8 => g,
            _ => (h.rand() % 40) as u32,
        };
        let mut set = BTreeSet::new();
        if size == 256 {
            set = (0..=255u8).collect();
        }
        while set.len() < size as usize {
            set.insert((h.rand() % 256) as u8);
        }
        for w in 0..8 {
            let word = words_of(&set, w);
            if word != 0 {
                h.write(member_word(256, 256, g, w), word);
            }
        }
        members[g as usize] = set;
    }
    h.ready_pct = 70;
    let mut sent: Vec<(usize, u64, bool, u8)> = Vec::new();
    for id in 1..=300u64 {
        let r = h.rand();
        let p = (r % 4) as usize;
        let to_group = !(r >> 4).is_multiple_of(3);
        let target = if (r >> 8).is_multiple_of(16) {
            255
        } else {
            (r >> 12) as u8
        };
        if p == 3 {
            h.dsi.push_back((target, id as u32));
            sent.push((3, id, true, target));
        } else {
            h.prod[p].push_back((to_group, target, [id, 0xabcd_0000_0000 | id]));
            sent.push((p, id, to_group, target));
        }
    }
    h.drain();
    // Split the copies into events (consecutive copies of one record).
    let mut events: Vec<(u64, Vec<u8>)> = Vec::new();
    let id_of = |c: &Copy_| -> u64 {
        if c.record[0] & 0xf == EventType::Indication as u64 && (c.record[0] >> 8) & 0x80 != 0 {
            c.record[0] >> 32 // a device-port indication: the payload
        } else {
            c.record[0]
        }
    };
    for c in &h.copies {
        let id = id_of(c);
        match events.last_mut() {
            Some((last, vis)) if *last == id => vis.push(c.vi),
            _ => events.push((id, vec![c.vi])),
        }
    }
    let mut expected_events = 0;
    let mut empty_groups = 0;
    for (p, id, to_group, target) in &sent {
        let want: Vec<u8> = if *to_group {
            members[*target as usize].iter().copied().collect()
        } else {
            vec![*target]
        };
        if want.is_empty() {
            empty_groups += 1;
            assert!(
                events.iter().all(|e| e.0 != *id),
                "event {id} to an empty group went out"
            );
            continue;
        }
        expected_events += 1;
        let got: Vec<&(u64, Vec<u8>)> = events.iter().filter(|e| e.0 == *id).collect();
        assert_eq!(
            got.len(),
            1,
            "event {id} from producer {p}: copies not back to back"
        );
        assert_eq!(got[0].1, want, "event {id} to {target} (group: {to_group})");
    }
    assert_eq!(events.len(), expected_events);
    // Each producer's events in production order.
    for p in 0..4 {
        let order: Vec<u64> = events
            .iter()
            .map(|e| e.0)
            .filter(|id| sent.iter().any(|s| s.0 == p && s.1 == *id))
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "producer {p} out of order"
        );
    }
    // The device-port records.
    let c = h
        .copies
        .iter()
        .find(|c| {
            id_of(c)
                == sent
                    .iter()
                    .find(|s| s.0 == 3 && !members[s.3 as usize].is_empty())
                    .unwrap()
                    .1
        })
        .unwrap();
    let e = Event::decode(c.record);
    assert_eq!(
        (e.event_type(), e.flags, e.source),
        (
            Some(EventType::Indication),
            flags::FROM_DEVICE_PORT,
            SOURCE_NONE
        )
    );
    assert_eq!(counter(&mut h, &gr::NO_MEMBERS), empty_groups);
    assert_eq!(
        counter(&mut h, &gr::PORT_EVENTS),
        sent.iter().filter(|s| s.0 == 3).count() as u32
    );
}

/// Exact cycles with an engine that takes a copy every cycle: N copies in N cycles from the
/// cycle after the grant (two cycles when the lowest member is past VI 31), the next event's
/// copies right behind.
#[test]
fn fan_out_takes_n_cycles_with_no_gap_between_events_at_256() {
    let mut h = H::new(M256::new(256, 256));
    for w in 0..8 {
        h.write(member_word(256, 256, 255, w), 0xffff_ffff);
    }
    h.write(member_word(256, 256, 16, 0), 0xffff);
    h.write(member_word(256, 256, 1, 0), 1);
    h.write(member_word(256, 256, 40, 1), 1 << 8); // VI 40 only
    h.write(member_word(256, 256, 41, 1), 1 << 1); // VIs 33, 100, 200
    h.write(member_word(256, 256, 41, 3), 1 << 4);
    h.write(member_word(256, 256, 41, 6), 1 << 8);
    h.run(5);
    for (group, n, first) in [
        (1u8, 1usize, 1u64),
        (16, 16, 1),
        (255, 256, 1),
        (40, 1, 2),
        (41, 3, 2),
    ] {
        h.copies.clear();
        h.grants.clear();
        h.dsi.push_back((group, 7));
        h.drain();
        let g = h.grants[0].0;
        assert_eq!(h.copies.len(), n, "group {group}");
        let c: Vec<u64> = h.copies.iter().map(|c| c.cycle - g).collect();
        let want: Vec<u64> = (first..first + n as u64).collect();
        assert_eq!(
            c, want,
            "group {group}: first copy {first} cycle(s) after the grant, then one per cycle"
        );
    }
    // Back to back: 3 events to the 256-VI group, 3 to VI events, 3 to group 16: one copy
    // per cycle from the first to the last.
    h.copies.clear();
    h.grants.clear();
    for i in 0..3 {
        h.dsi.push_back((255, i));
        h.prod[0].push_back((false, 9, [100 + i as u64, 0]));
        h.prod[1].push_back((true, 16, [200 + i as u64, 0]));
        h.prod[2].push_back((true, 40, [300 + i as u64, 0]));
    }
    h.drain();
    let n = 3 * (256 + 1 + 16 + 1);
    assert_eq!(h.copies.len(), n);
    let first = h.copies[0].cycle;
    assert_eq!(first, h.grants[0].0 + 1);
    let gaps: Vec<(u64, u8)> = h
        .copies
        .windows(2)
        .filter(|w| w[1].cycle != w[0].cycle + 1)
        .map(|w| (w[1].cycle - w[0].cycle, w[1].vi))
        .collect();
    // The one-VI events to VI 40 (word 1) follow at once: its word is read while the last
    // copy of the previous event goes out.
    assert!(gaps.is_empty(), "gaps between fan-outs: {gaps:?}");
}

fn indicate(h: &mut H<impl McPins>, vi: u32, group: u32, payload: u32) -> Answer {
    h.bus(
        true,
        vi_reg(vi, &vi::INDICATE),
        vi::INDICATE_GROUP.put(group) | vi::INDICATE_PAYLOAD.put(payload),
    )
}

#[test]
fn indications_are_checked_against_permissions_at_256() {
    let mut h = H::new(M256::new(256, 256));
    // Group 200: VIs 3, 77, 255; VI 77 may indicate into 200 and 9.
    for v in [3, 77, 255] {
        subscribe(&mut h, 200, v, true);
    }
    subscribe(&mut h, 9, 5, true);
    h.write(permit_word(256, 77, 200 / 32), 1 << (200 % 32));
    h.write(permit_word(256, 77, 0), 1 << 9);
    h.run(4);
    let a = indicate(&mut h, 77, 200, 0xabcdef);
    assert_eq!(a.at, a.strobe, "a doorbell is taken at once");
    h.drain();
    let vis: Vec<u8> = h.copies.iter().map(|c| c.vi).collect();
    assert_eq!(vis, vec![3, 77, 255]);
    assert_eq!(
        h.copies[0].cycle,
        a.strobe + 1,
        "the queue empty: granted in the strobe cycle, first copy in the next"
    );
    let e = Event::decode(h.copies[0].record);
    assert_eq!(
        (
            e.event_type(),
            e.source,
            e.group,
            e.payload,
            e.aux,
            e.timestamp
        ),
        (
            Some(EventType::Indication),
            77,
            Some(200),
            0xabcdef,
            0,
            a.strobe
        )
    );
    // Refused: no permission for 201 (other word), for 8 (same word), and from VI 3.
    h.copies.clear();
    subscribe(&mut h, 201, 4, true);
    for (v, g) in [(77u32, 201u32), (77, 8), (3, 200), (77, 9)] {
        indicate(&mut h, v, g, 0x55);
    }
    h.drain();
    let got: Vec<(u8, Option<EventType>, u16, u32)> = h
        .copies
        .iter()
        .map(|c| {
            let e = Event::decode(c.record);
            (c.vi, e.event_type(), e.aux, e.payload)
        })
        .collect();
    let err = ErrorCode::IndicationRefused as u32;
    assert_eq!(
        got,
        vec![
            (77, Some(EventType::Error), 201, err),
            (77, Some(EventType::Error), 8, err),
            (3, Some(EventType::Error), 200, err),
            (5, Some(EventType::Indication), 0, 0x55),
        ]
    );
    assert!(Event::decode(h.copies[0].record).group.is_none());
    assert_eq!(h.read(vi_reg(77, &vi::INDICATE_REFUSED)), 2);
    assert_eq!(h.read(vi_reg(3, &vi::INDICATE_REFUSED)), 1);
    assert_eq!(h.read(vi_reg(200, &vi::INDICATE_REFUSED)), 0);
    // A refused doorbell granted in its strobe cycle is cancelled: its group's members (3, 77,
    // 255 in 200) get nothing, the device port hears nothing of it and NO_MEMBERS does not
    // count it; the ERROR event goes through the queue, 3 cycles after the doorbell.
    h.copies.clear();
    h.dso.clear();
    h.write(gr::listen_at(200 / 32), 1 << (200 % 32));
    let no_members = counter(&mut h, &gr::NO_MEMBERS);
    h.run(4);
    let a = indicate(&mut h, 5, 200, 0x66);
    h.drain();
    let got: Vec<(u8, Option<EventType>, u64)> = h
        .copies
        .iter()
        .map(|c| {
            (
                c.vi,
                Event::decode(c.record).event_type(),
                c.cycle - a.strobe,
            )
        })
        .collect();
    assert_eq!(got, vec![(5, Some(EventType::Error), 3)]);
    assert!(
        h.dso.is_empty(),
        "no device-port pulse for a refused doorbell"
    );
    assert_eq!(counter(&mut h, &gr::NO_MEMBERS), no_members);
    assert_eq!(h.read(vi_reg(5, &vi::INDICATE_REFUSED)), 1);
    h.write(gr::listen_at(200 / 32), 0);
    // Doorbells queued while the engine is stalled and one strobed behind them keep their
    // order (the fast path is taken only into an empty queue).
    h.copies.clear();
    h.ready_pct = 0;
    indicate(&mut h, 77, 9, 1);
    indicate(&mut h, 77, 9, 2);
    h.ready_pct = 100;
    indicate(&mut h, 77, 9, 3);
    h.drain();
    let payloads: Vec<u32> = h
        .copies
        .iter()
        .map(|c| Event::decode(c.record).payload)
        .collect();
    assert_eq!(payloads, vec![1, 2, 3]);
    // A full queue (the engine stalled) counts overruns and loses nothing else.
    h.copies.clear();
    h.ready_pct = 0;
    let n = gr::INDICATION_QUEUE_DEPTH + 20;
    for i in 0..n {
        indicate(&mut h, 77, 9, i);
    }
    h.ready_pct = 100;
    h.drain();
    let overruns = counter(&mut h, &gr::OVERRUNS);
    // The queue holds its depth; two more wait in the fan-out (one in the emitter, one in the
    // walker).
    assert_eq!(overruns, n - gr::INDICATION_QUEUE_DEPTH - 2);
    let payloads: Vec<u32> = h
        .copies
        .iter()
        .map(|c| Event::decode(c.record).payload)
        .collect();
    assert_eq!(payloads, (0..n - overruns).collect::<Vec<_>>());
    // Reset clears the permissions and counts.
    h.reset();
    h.copies.clear();
    subscribe(&mut h, 9, 5, true);
    indicate(&mut h, 77, 9, 1);
    h.drain();
    assert_eq!(
        Event::decode(h.copies[0].record).event_type(),
        Some(EventType::Error)
    );
    assert_eq!(h.read(vi_reg(77, &vi::INDICATE_REFUSED)), 1);
}

#[test]
fn device_port_hears_the_listened_groups() {
    let mut h = H::new(M256::new(256, 256));
    subscribe(&mut h, 9, 2, true);
    h.write(gr::listen_at(0), 1 << 9);
    h.write(gr::listen_at(7), 1 << 31); // group 255
    h.dsi.push_back((9, 0x1234));
    h.dsi.push_back((255, 0x5678)); // listened, no subscriber
    h.dsi.push_back((10, 0x9abc)); // neither
    let timer = Event {
        kind: EventType::Timer as u8,
        phase: false,
        flags: 0,
        source: 3,
        group: Some(255),
        payload: 0x77,
        timestamp: 5,
        aux: 0,
    };
    h.prod[0].push_back((true, 255, timer.encode()));
    h.drain();
    // One pulse the cycle after the grant of each listened group's event.
    let want: Vec<(u64, (u8, u8, u16, u32))> = h
        .grants
        .iter()
        .filter_map(|&(c, p, r)| match (p, r[0]) {
            (3, 0x1234) => Some((c + 1, (EventType::Indication as u8, 9, SOURCE_NONE, 0x1234))),
            (3, 0x5678) => Some((
                c + 1,
                (EventType::Indication as u8, 255, SOURCE_NONE, 0x5678),
            )),
            (0, _) => Some((c + 1, (EventType::Timer as u8, 255, 3, 0x77))),
            _ => None,
        })
        .collect();
    assert_eq!(h.dso, want);
    assert_eq!(counter(&mut h, &gr::NO_MEMBERS), 3);
}

/// Subscribes and unsubscribes while two producers stream into the group: every queue sees
/// the events it gets in production order, and VIs that stay subscribed get them all.
#[test]
fn membership_changes_during_fan_out_keep_the_order_at_256() {
    let mut h = H::new(M256::new(256, 256));
    let stable: Vec<u32> = vec![0, 31, 32, 100, 255];
    for v in &stable {
        subscribe(&mut h, 50, *v, true);
    }
    h.ready_pct = 80;
    for i in 0..150u64 {
        h.prod[1].push_back((true, 50, [1000 + i, 0]));
        h.dsi.push_back((50, 2000 + i as u32));
    }
    let mut toggles = 0;
    while h.busy() {
        let v = [1u32, 33, 64, 99, 128, 254][(h.rand() % 6) as usize];
        let on = h.rand().is_multiple_of(2);
        subscribe(&mut h, 50, v, on);
        toggles += 1;
    }
    h.drain();
    assert!(toggles > 50);
    let mut per_vi: Vec<Vec<u64>> = vec![Vec::new(); 256];
    for c in &h.copies {
        let id = if c.record[0] >> 32 >= 2000 && c.record[0] >> 32 < 3000 {
            c.record[0] >> 32
        } else {
            c.record[0]
        };
        per_vi[c.vi as usize].push(id);
    }
    let all: Vec<u64> = h.grants.iter().map(|g| g.2[0]).collect();
    for v in &stable {
        assert_eq!(
            per_vi[*v as usize], all,
            "VI {v} got every event in grant order"
        );
    }
    for (v, got) in per_vi.iter().enumerate() {
        // The events a VI got are a subsequence of the grant order.
        let mut it = all.iter();
        assert!(
            got.iter().all(|id| it.any(|x| x == id)),
            "VI {v} out of order"
        );
    }
}

/// The core's parameters: NUM_GROUPS groups and NUM_VIS VIs behind the register map.
#[test]
fn core_parameters_decode_the_register_map() {
    let groups = evnic_regs::params::NUM_GROUPS;
    let vis = evnic_regs::params::NUM_VIS;
    let mut h = H::new(CoreMulticast::default());
    assert_eq!(gr::MEMBER_WORDS, vis.div_ceil(32).next_power_of_two());
    assert_eq!(gr::members_at(5, 0), member_word(groups, vis, 5, 0));
    assert!(!subscribe(&mut h, 200, vis - 1, true).nak);
    if vis < 1 << gr::SUBSCRIBE_VI.width {
        assert!(subscribe(&mut h, 200, vis, true).nak, "VI out of range");
    }
    // The member word holding the last VI: bits past NUM_VIS are not stored.
    let last_word = (vis - 1) / 32;
    let stored = match vis % 32 {
        0 => u32::MAX,
        r => (1u32 << r) - 1,
    };
    h.write(gr::members_at(201, last_word), 0xffff_ffff);
    assert_eq!(
        h.read(gr::members_at(201, last_word)),
        stored,
        "bits past NUM_VIS are not stored"
    );
    assert_eq!(
        h.read(gr::members_at(200, last_word)),
        1 << ((vis - 1) % 32)
    );
    h.write(gr::permit_at(vis - 1, 6), 1 << 8); // group 200
    h.run(3);
    indicate(&mut h, vis - 1, 200, 3);
    h.run(5);
    h.dsi.push_back((201, 4));
    h.drain();
    let vis_got: Vec<u32> = h.copies.iter().map(|c| u32::from(c.vi)).collect();
    let mut want = vec![vis - 1];
    want.extend(32 * last_word..vis);
    assert_eq!(vis_got, want);
}

#[test]
fn verilog_generates() {
    let mut uut = CoreMulticast::default();
    uut.connect_all();
    let v = generate_verilog(&uut);
    assert!(v.contains("no_rw_check"));
    if let Ok(dir) = std::env::var("EVNIC_BLOCK_VERILOG") {
        std::fs::write(format!("{dir}/multicast.v"), v).unwrap();
        let mut big = M256::new(256, 256);
        big.connect_all();
        std::fs::write(format!("{dir}/multicast256.v"), generate_verilog(&big)).unwrap();
    }
}
