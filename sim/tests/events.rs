//! The event engine through the Verilator model: multicast, indications and permissions,
//! device-space ports, overflow accounting, timers, interrupt indirection and watchdogs.

mod common;
use common::{device, iova, TestQueue};
use evnic_regs::event::{flags, ErrorCode, EventType};
use evnic_regs::map::{global as g, global_reg, group as gr, timer as t, vi, vi_reg};
use evnic_regs::params::{NUM_GROUPS, NUM_VIS};
use evnic_sim::SimDevice;

fn subscribe(d: &mut SimDevice, group: u32, vi: u32, on: bool) {
    let v =
        gr::SUBSCRIBE_GROUP.put(group) | gr::SUBSCRIBE_VI.put(vi) | gr::SUBSCRIBE_ON.put(on as u32);
    d.write32(gr::CONTROL_PAGE.at(0, &gr::SUBSCRIBE), v)
        .unwrap();
}

fn permit(d: &mut SimDevice, vi: u32, group: u32) {
    let off = gr::permit_at(vi, group / 32);
    let cur = d.read32(off).unwrap();
    d.write32(off, cur | 1 << (group % 32)).unwrap();
}

fn indicate(d: &mut SimDevice, vi: u32, group: u32, payload: u32) {
    let v = vi::INDICATE_GROUP.put(group) | vi::INDICATE_PAYLOAD.put(payload);
    d.write32(vi_reg(vi, &vi::INDICATE), v).unwrap();
}

fn kinds(events: &[evnic_regs::event::Event]) -> Vec<Option<EventType>> {
    events.iter().map(|e| e.event_type()).collect()
}

#[test]
fn indication_reaches_every_subscriber_and_no_one_else() {
    let mut d = device();
    let mut qs: Vec<TestQueue> = (0..NUM_VIS)
        .map(|v| TestQueue::new(&mut d, v, 6, iova(v)))
        .collect();
    permit(&mut d, 0, 5);
    permit(&mut d, 0, 6);
    permit(&mut d, 0, 7);
    // Group 5: VI 3 only; group 6: VIs 1, 2, 9; group 7: everyone.
    subscribe(&mut d, 5, 3, true);
    for v in [1, 2, 9] {
        subscribe(&mut d, 6, v, true);
    }
    for v in 0..NUM_VIS {
        subscribe(&mut d, 7, v, true);
    }
    assert_eq!(d.read32(gr::members_at(6, 0)).unwrap(), 0b10_0000_0110);
    indicate(&mut d, 0, 5, 0x11);
    indicate(&mut d, 0, 6, 0x22);
    indicate(&mut d, 0, 7, 0x33);
    // The fan-out writes one queue per cycle.
    d.run(u64::from(NUM_VIS) + 100);
    for (v, q) in qs.iter_mut().enumerate() {
        let got: Vec<(Option<u8>, u32)> = q.poll().iter().map(|e| (e.group, e.payload)).collect();
        let mut want = Vec::new();
        if v == 3 {
            want.push((Some(5), 0x11));
        }
        if [1, 2, 9].contains(&v) {
            want.push((Some(6), 0x22));
        }
        want.push((Some(7), 0x33));
        assert_eq!(got, want, "VI {v}");
    }
    let e = {
        subscribe(&mut d, 5, 3, false);
        indicate(&mut d, 0, 5, 0x44);
        d.run(50);
        qs[3].poll()
    };
    assert!(e.is_empty(), "unsubscribed VI 3 got {e:?}");
    assert_eq!(
        d.read32(gr::CONTROL_PAGE.at(0, &gr::NO_MEMBERS)).unwrap(),
        1
    );
    // The event fields.
    indicate(&mut d, 0, 7, 0xabcdef);
    d.run(u64::from(NUM_VIS) + 50);
    let e = qs[NUM_VIS as usize - 1].poll()[0];
    assert_eq!(
        (e.event_type(), e.source, e.group, e.payload, e.flags),
        (Some(EventType::Indication), 0, Some(7), 0xabcdef, 0)
    );
    assert!(e.timestamp > 0 && e.timestamp < d.cycle());
    assert!(d.faults().is_empty());
}

#[test]
fn each_queue_sees_a_groups_events_in_production_order() {
    let mut d = device();
    let mut qs: Vec<TestQueue> = (0..4)
        .map(|v| TestQueue::new(&mut d, v, 10, iova(v)))
        .collect();
    for v in 0..4 {
        permit(&mut d, v, 1);
        subscribe(&mut d, 1, v, true);
    }
    // Four producers interleaving, faster than the fan-out drains (some are counted as overruns).
    let mut sent = Vec::new();
    for i in 0..200u32 {
        let producer = i % 4;
        indicate(&mut d, producer, 1, i);
        sent.push(i);
    }
    d.run(2000);
    let overruns = d.read32(gr::CONTROL_PAGE.at(0, &gr::OVERRUNS)).unwrap();
    let got0: Vec<u32> = qs[0].poll().iter().map(|e| e.payload).collect();
    assert_eq!(
        got0.len() as u32 + overruns,
        200,
        "delivered + overruns = produced"
    );
    assert!(got0.windows(2).all(|w| w[0] < w[1]), "production order");
    for q in &mut qs[1..] {
        let got: Vec<u32> = q.poll().iter().map(|e| e.payload).collect();
        assert_eq!(got, got0, "every queue sees the same order");
    }
}

#[test]
fn refused_indication_is_an_error_to_the_indicating_vi_only() {
    let mut d = device();
    let mut q0 = TestQueue::new(&mut d, 0, 5, iova(0));
    let mut q1 = TestQueue::new(&mut d, 1, 5, iova(1));
    subscribe(&mut d, 40, 1, true);
    subscribe(&mut d, 40, 0, true);
    indicate(&mut d, 0, 40, 7); // VI 0 has no permission for group 40
    d.run(50);
    assert!(q1.poll().is_empty());
    let e = q0.poll();
    assert_eq!(kinds(&e), vec![Some(EventType::Error)]);
    assert_eq!(
        (e[0].payload, e[0].aux, e[0].group),
        (ErrorCode::IndicationRefused as u32, 40, None)
    );
    assert_eq!(d.read32(vi_reg(0, &vi::INDICATE_REFUSED)).unwrap(), 1);
    permit(&mut d, 0, 40);
    indicate(&mut d, 0, 40, 8);
    d.run(50);
    assert_eq!(q1.poll()[0].payload, 8);
    assert_eq!(q0.poll()[0].payload, 8);
    // A subscribe naming a group or VI out of range (when the fields can name one) is refused
    // by the bus.
    let before = d.read32(global_reg(&g::BUS_ERRORS)).unwrap();
    let mut refused = 0;
    if NUM_VIS < 1 << gr::SUBSCRIBE_VI.width {
        subscribe(&mut d, 1, NUM_VIS, true);
        refused += 1;
    }
    if NUM_GROUPS < 1 << gr::SUBSCRIBE_GROUP.width {
        subscribe(&mut d, NUM_GROUPS, 1, true);
        refused += 1;
    }
    assert_eq!(
        d.read32(global_reg(&g::BUS_ERRORS)).unwrap(),
        before + refused
    );
}

#[test]
fn device_space_ports_both_ways() {
    let mut d = device();
    let mut q2 = TestQueue::new(&mut d, 2, 5, iova(2));
    subscribe(&mut d, 9, 2, true);
    d.write32(gr::listen_at(0), 1 << 9).unwrap();
    d.write32(gr::listen_at(1), 1 << (33 - 32)).unwrap();
    d.device_indicate(9, 0x1234);
    d.device_indicate(33, 0x5678); // listened, no subscriber
    d.device_indicate(10, 0x9abc); // neither
    d.run(50);
    let e = q2.poll();
    assert_eq!(e.len(), 1);
    assert_eq!(
        (
            e[0].payload,
            e[0].group,
            e[0].flags & flags::FROM_DEVICE_PORT
        ),
        (0x1234, Some(9), flags::FROM_DEVICE_PORT)
    );
    let n = d.take_device_notifications();
    let seen: Vec<(u8, u32)> = n.iter().map(|n| (n.group, n.payload)).collect();
    assert_eq!(seen, vec![(9, 0x1234), (33, 0x5678)]);
    assert!(n.iter().all(|n| n.kind == EventType::Indication as u8));
    // A host indication into a listened group reaches the device port too.
    permit(&mut d, 2, 9);
    indicate(&mut d, 2, 9, 77);
    d.run(50);
    let n = d.take_device_notifications();
    assert_eq!((n.len(), n[0].source, n[0].payload), (1, 2, 77));
    assert_eq!(
        d.read32(gr::CONTROL_PAGE.at(0, &gr::PORT_EVENTS)).unwrap(),
        3
    );
}

#[test]
fn a_full_queue_loses_nothing_silently_and_reports_overflow() {
    let mut d = device();
    let mut q = TestQueue::new(&mut d, 4, 4, iova(4)); // 16 slots
    permit(&mut d, 4, 2);
    subscribe(&mut d, 2, 4, true);
    let mut produced = 0u32;
    let mut delivered = 0u32;
    let mut reported = 0u32;
    let mut last_payload = None;
    for round in 0..10 {
        // A burst much larger than the ring, then a consumer that catches up.
        for _ in 0..40 {
            indicate(&mut d, 4, 2, produced);
            produced += 1;
            d.run(4);
        }
        d.run(20);
        for e in q.poll() {
            match e.event_type() {
                Some(EventType::Indication) => {
                    if let Some(p) = last_payload {
                        assert!(e.payload > p, "order kept");
                    }
                    last_payload = Some(e.payload);
                    delivered += 1;
                }
                Some(EventType::Overflow) => reported += e.payload,
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        q.doorbell(&mut d);
        d.run(20);
    }
    // Drain: the last OVERFLOW comes once space returns.
    for _ in 0..3 {
        for e in q.poll() {
            match e.event_type() {
                Some(EventType::Overflow) => reported += e.payload,
                Some(EventType::Indication) => delivered += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        q.doorbell(&mut d);
        d.run(20);
    }
    let still_counted = d.read32(vi_reg(4, &vi::EVQ_DROPS)).unwrap();
    assert!(reported > 0, "the test must overflow the queue");
    assert_eq!(
        delivered + reported + still_counted,
        produced,
        "delivered + dropped = produced"
    );
    assert_eq!(
        d.read32(global_reg(&g::EVENTS_DROPPED)).unwrap(),
        reported + still_counted
    );
    assert!(d.faults().is_empty());
}

#[test]
fn doorbells_that_lie_are_refused() {
    let mut d = device();
    let mut q = TestQueue::new(&mut d, 0, 4, iova(0));
    permit(&mut d, 0, 0);
    subscribe(&mut d, 0, 0, true);
    for i in 0..3 {
        indicate(&mut d, 0, 0, i);
    }
    d.run(30);
    assert_eq!(q.poll().len(), 3);
    let errors = global_reg(&g::BUS_ERRORS);
    d.write32(vi_reg(0, &vi::EVQ_RPTR), 4).unwrap(); // past the write count
    assert_eq!(d.read32(errors).unwrap(), 1);
    d.write32(vi_reg(0, &vi::EVQ_RPTR), 2).unwrap();
    d.write32(vi_reg(0, &vi::EVQ_RPTR), 1).unwrap(); // backwards
    assert_eq!(d.read32(errors).unwrap(), 2);
    assert_eq!(d.read32(vi_reg(0, &vi::EVQ_RPTR)).unwrap(), 2);
    d.write32(vi_reg(0, &vi::EVQ_SIZE), 3).unwrap(); // below the minimum
    d.write32(vi_reg(0, &vi::EVQ_SIZE), 17).unwrap(); // above the maximum
    assert_eq!(d.read32(errors).unwrap(), 4);
    assert_eq!(d.read32(vi_reg(0, &vi::EVQ_SIZE)).unwrap(), 4);
}

fn arm_timer(
    d: &mut SimDevice,
    k: u32,
    first: u32,
    period: u32,
    frac: u32,
    target: u32,
    payload: u32,
) -> u64 {
    let at = |r| t::PAGE.at(k, r);
    d.write32(at(&t::FIRST), first).unwrap();
    d.write32(at(&t::PERIOD), period).unwrap();
    d.write32(at(&t::PERIOD_FRAC), frac).unwrap();
    d.write32(at(&t::TARGET), target).unwrap();
    d.write32(at(&t::PAYLOAD), payload).unwrap();
    // The write is strobed the cycle after it is issued (bus cycle 1 of the access).
    let issued = d.cycle();
    d.write32(at(&t::CONTROL), t::CONTROL_ARM.put(1)).unwrap();
    d.counter_at(issued + 1)
}

#[test]
fn timers_fire_at_the_programmed_cycles() {
    let mut d = device();
    let mut q = TestQueue::new(&mut d, 1, 8, iova(1));
    let mut qg = TestQueue::new(&mut d, 6, 8, iova(6));
    subscribe(&mut d, 12, 6, true);
    // One-shot to VI 1 after 1000 cycles; periodic to group 12 every 777 cycles from 500.
    let armed_a = arm_timer(&mut d, 3, 1000, 0, 0, t::TARGET_ID.put(1), 0xaa);
    let armed_b = arm_timer(
        &mut d,
        7,
        500,
        777,
        0,
        t::TARGET_ID.put(12) | t::TARGET_GROUP.put(1),
        0xbb,
    );
    d.run(5000);
    let a = q.poll();
    assert_eq!(a.len(), 1, "one-shot fires once");
    assert_eq!(
        (a[0].event_type(), a[0].source, a[0].payload),
        (Some(EventType::Timer), 3, 0xaa)
    );
    assert_eq!(a[0].timestamp, armed_a + 1000);
    let b = qg.poll();
    let now = d.counter_at(d.cycle());
    let want: Vec<u64> = (0..)
        .map(|k| armed_b + 500 + 777 * k)
        // A firing is delivered within NUM_TIMERS / 2 + a few cycles of its cycle.
        .take_while(|c| *c + evnic_regs::params::NUM_TIMERS as u64 / 2 + 20 < now)
        .collect();
    let got: Vec<u64> = b.iter().map(|e| e.timestamp).collect();
    assert_eq!(got, want);
    assert!(b.iter().all(|e| e.group == Some(12) && e.source == 7));
    // Cancel.
    d.write32(t::PAGE.at(7, &t::CONTROL), 0).unwrap();
    d.run(2000);
    assert!(qg.poll().is_empty(), "cancelled timer is silent");
    assert_eq!(d.read32(t::PAGE.at(7, &t::CONTROL)).unwrap(), 0);
    assert_eq!(d.read32(t::PAGE.at(3, &t::FIRES)).unwrap(), 1);
}

#[test]
fn y1731_fast_ccm_period_stays_on_schedule() {
    // 3.33 ms at 156.25 MHz is 520312.5 cycles: PERIOD 520312, PERIOD_FRAC 0x8000.
    let mut d = device();
    let mut q = TestQueue::new(&mut d, 0, 6, iova(0));
    let period = 3.33e-3 * evnic_regs::params::CLOCK_HZ as f64;
    let whole = period.floor() as u32;
    let frac = ((period - whole as f64) * 65536.0).round() as u32;
    let armed = arm_timer(&mut d, 0, whole, whole, frac, t::TARGET_ID.put(0), 0);
    let n = 12u64;
    // The last firing is delivered within NUM_TIMERS / 2 + a few cycles of its cycle.
    d.run(whole as u64 * n + evnic_regs::params::NUM_TIMERS as u64 / 2 + 20);
    let got = q.poll();
    assert_eq!(got.len() as u64, n);
    for (k, e) in got.iter().enumerate() {
        let ideal = armed as f64 + period * (k as f64 + 1.0);
        let err = e.timestamp as f64 - ideal;
        assert!(
            (-1.0..=0.0).contains(&err),
            "firing {k} at {} vs ideal {ideal}",
            e.timestamp
        );
    }
}

fn enable_irq(d: &mut SimDevice, irq_vi: u32, holdoff: u32) {
    d.write32(
        global_reg(&g::IRQ_QUEUE),
        g::IRQ_QUEUE_VI.put(irq_vi) | g::IRQ_QUEUE_ENABLE.put(1),
    )
    .unwrap();
    d.write32(global_reg(&g::IRQ_HOLDOFF), holdoff).unwrap();
}

#[test]
fn interrupt_indirection_wakes_once_per_prime() {
    let mut d = device();
    let mut irqq = TestQueue::new(&mut d, 15, 6, iova(15));
    let mut q = TestQueue::new(&mut d, 2, 6, iova(2));
    enable_irq(&mut d, 15, 0);
    permit(&mut d, 2, 3);
    subscribe(&mut d, 3, 2, true);
    // Nothing armed: events, no interrupt.
    indicate(&mut d, 2, 3, 1);
    d.run(50);
    assert_eq!(d.irq_count(), 0);
    assert_eq!(q.poll().len(), 1);
    q.doorbell(&mut d);
    // Arm both; two events: exactly one WAKEUP and one interrupt.
    irqq.prime(&mut d);
    q.prime(&mut d);
    assert_eq!(
        d.read32(vi_reg(2, &vi::EVQ_STATUS)).unwrap() & vi::EVQ_STATUS_ARMED.mask(),
        1
    );
    indicate(&mut d, 2, 3, 2);
    indicate(&mut d, 2, 3, 3);
    d.run(50);
    assert_eq!(d.irq_count(), 1);
    let w = irqq.poll();
    assert_eq!(kinds(&w), vec![Some(EventType::Wakeup)]);
    assert_eq!(w[0].source, 2);
    assert_eq!(q.poll().len(), 2);
    indicate(&mut d, 2, 3, 4);
    d.run(50);
    assert_eq!(d.irq_count(), 1, "not re-primed: no more interrupts");
    assert!(irqq.poll().is_empty());
    assert_eq!(d.read32(global_reg(&g::IRQ_COUNT)).unwrap(), 1);
    assert_eq!(d.read32(global_reg(&g::WAKEUP_COUNT)).unwrap(), 1);
    // Priming with an event already unread fires at once.
    irqq.prime(&mut d);
    q.prime(&mut d);
    d.run(20);
    assert_eq!(d.irq_count(), 2);
    assert_eq!(irqq.poll()[0].source, 2);
}

#[test]
fn interrupt_hold_off_is_respected() {
    let mut d = device();
    let mut irqq = TestQueue::new(&mut d, 15, 6, iova(15));
    let mut q = TestQueue::new(&mut d, 1, 6, iova(1));
    enable_irq(&mut d, 15, 1000);
    permit(&mut d, 1, 0);
    subscribe(&mut d, 0, 1, true);
    let mut irq_cycles = Vec::new();
    for _ in 0..4 {
        irqq.prime(&mut d);
        q.prime(&mut d);
        indicate(&mut d, 1, 0, 0);
        let before = d.irq_count();
        assert!(d.run_until(5000, |d| d.irq_count() > before));
        irq_cycles.push(d.cycle());
        irqq.poll();
        q.poll();
        q.doorbell(&mut d);
        irqq.doorbell(&mut d);
    }
    for w in irq_cycles.windows(2) {
        assert!(
            w[1] - w[0] >= 1000,
            "interrupts {} cycles apart",
            w[1] - w[0]
        );
    }
}

#[test]
fn watchdog_wakes_a_queue_nobody_armed() {
    let mut d = device();
    let mut irqq = TestQueue::new(&mut d, 15, 6, iova(15));
    let mut q = TestQueue::new(&mut d, 5, 6, iova(5));
    enable_irq(&mut d, 15, 0);
    d.write32(vi_reg(5, &vi::EVQ_WATCHDOG), 500).unwrap();
    permit(&mut d, 5, 0);
    subscribe(&mut d, 0, 5, true);
    irqq.prime(&mut d);
    indicate(&mut d, 5, 0, 1);
    d.run(300);
    assert_eq!(d.irq_count(), 0, "not yet");
    // Woken within one scrub round (one queue per idle cycle) of the deadline.
    d.run(200 + u64::from(NUM_VIS));
    assert_eq!(d.irq_count(), 1, "events sat unread past the watchdog");
    let w = irqq.poll();
    assert_eq!(
        (w[0].event_type(), w[0].source, w[0].flags),
        (Some(EventType::Wakeup), 5, 1)
    );
    d.run(2000);
    assert_eq!(
        d.read32(global_reg(&g::WAKEUP_COUNT)).unwrap(),
        1,
        "once until the host returns space"
    );
    assert_eq!(q.poll().len(), 1);
}
