//! Endpoints through the public API on the simulated device: open/close, subscribe, producer
//! registration, indications, polling, lazy doorbells, overflow, errors, statistics.

use evnic::{EndpointConfig, Error, ErrorCode, EventType, MAX_INDICATION_PAYLOAD};
use evnic_e2e::{collect, eventually, nic, PATIENCE};
use std::time::Duration;

fn cfg() -> EndpointConfig {
    EndpointConfig::default()
        .with_ring_events(256)
        .with_spin(Duration::from_micros(50))
}

#[test]
fn an_indication_reaches_every_subscriber_and_no_one_else() {
    let nic = nic();
    let producer = nic.endpoint(cfg()).unwrap();
    let a = nic.endpoint(cfg()).unwrap();
    let b = nic.endpoint(cfg()).unwrap();
    let other = nic.endpoint(cfg()).unwrap();
    producer.register_producer(9).unwrap();
    a.subscribe(9).unwrap();
    b.subscribe(9).unwrap();
    other.subscribe(10).unwrap();
    assert_eq!(a.subscriptions(), vec![9]);
    assert_eq!(producer.producer_groups(), vec![9]);
    for p in 0..5 {
        producer.indicate(9, 0x10_0000 + p).unwrap();
    }
    for ep in [&a, &b] {
        let got = collect(ep, 5);
        assert_eq!(got.len(), 5, "VI {}", ep.vi());
        for (i, e) in got.iter().enumerate() {
            assert_eq!(e.event_type(), Some(EventType::Indication));
            assert_eq!(
                (e.group, e.source, e.payload),
                (Some(9), producer.vi() as u16, 0x10_0000 + i as u32)
            );
        }
    }
    assert_eq!(other.wait(Some(Duration::from_millis(100))).unwrap(), None);
    assert_eq!(producer.poll(), None, "a producer is not a listener");
    // Unsubscribed: no more events for b.
    b.unsubscribe(9).unwrap();
    producer.indicate(9, 77).unwrap();
    assert_eq!(a.wait(Some(PATIENCE)).unwrap().unwrap().payload, 77);
    assert_eq!(b.wait(Some(Duration::from_millis(100))).unwrap(), None);
}

#[test]
fn poll_batch_takes_at_most_max_in_order() {
    let nic = nic();
    let ep = nic.endpoint(cfg()).unwrap();
    ep.register_producer(1).unwrap();
    ep.subscribe(1).unwrap();
    for p in 0..10 {
        ep.indicate(1, p).unwrap();
    }
    assert!(eventually(|| ep.stats().unwrap().written == 10));
    let mut v = Vec::new();
    assert_eq!(ep.poll_batch(&mut v, 4), 4);
    assert_eq!(ep.poll_batch(&mut v, 100), 6);
    assert_eq!(ep.poll_batch(&mut v, 100), 0);
    let payloads: Vec<u32> = v.iter().map(|e| e.payload).collect();
    assert_eq!(payloads, (0..10).collect::<Vec<_>>());
    assert_eq!(ep.counters().events, 10);
}

#[test]
fn the_read_doorbell_is_lazy_and_always_written_before_arming() {
    let nic = nic();
    // 64 events: a doorbell every 16 consumed.
    let ep = nic
        .endpoint(
            EndpointConfig::default()
                .with_ring_events(64)
                .with_spin(Duration::ZERO),
        )
        .unwrap();
    ep.register_producer(2).unwrap();
    ep.subscribe(2).unwrap();
    for p in 0..20 {
        ep.indicate(2, p).unwrap();
    }
    assert!(eventually(|| ep.stats().unwrap().written == 20));
    let mut v = Vec::new();
    assert_eq!(ep.poll_batch(&mut v, 15), 15);
    assert_eq!(ep.counters().doorbells, 0, "15 < 16 consumed: no doorbell");
    assert_eq!(ep.stats().unwrap().read, 0, "the device was not told");
    assert_eq!(ep.poll_batch(&mut v, 3), 3);
    assert_eq!(ep.counters().doorbells, 1);
    assert_eq!(ep.stats().unwrap().read, 18);
    assert_eq!(ep.poll_batch(&mut v, 10), 2);
    assert_eq!(ep.counters().doorbells, 1, "20 - 18 < 16");
    // Arming returns the space with the same doorbell.
    assert!(ep.arm().unwrap());
    assert_eq!(ep.counters().primes, 1);
    assert!(eventually(|| ep.stats().unwrap().read == 20));
    assert!(ep.stats().unwrap().armed);
}

#[test]
fn a_full_queue_reports_its_drops_with_an_overflow_event() {
    let nic = nic();
    let ep = nic
        .endpoint(
            EndpointConfig::default()
                .with_ring_events(16)
                .with_spin(Duration::ZERO),
        )
        .unwrap();
    ep.register_producer(3).unwrap();
    ep.subscribe(3).unwrap();
    let produced = 100u32;
    for p in 0..produced {
        ep.indicate(3, p).unwrap();
    }
    let accounted = |delivered: u32, reported: u32| {
        let s = ep.stats().unwrap();
        delivered + reported + s.drops + nic.stats().unwrap().overruns
    };
    let (mut delivered, mut reported) = (0u32, 0u32);
    let mut last = None;
    let start = std::time::Instant::now();
    while start.elapsed() < PATIENCE {
        match ep.wait(Some(Duration::from_millis(200))).unwrap() {
            Some(e) => match e.event_type() {
                Some(EventType::Indication) => {
                    assert!(last.is_none_or(|l| e.payload > l), "order kept");
                    last = Some(e.payload);
                    delivered += 1;
                }
                Some(EventType::Overflow) => reported += e.payload,
                other => panic!("unexpected {other:?}"),
            },
            None if accounted(delivered, reported) == produced
                && ep.stats().unwrap().drops == 0 =>
            {
                break
            }
            None => {}
        }
    }
    assert!(reported > 0, "the queue overflowed and said so");
    assert!(delivered >= 15, "the ring was filled: {delivered}");
    assert_eq!(
        accounted(delivered, reported),
        produced,
        "nothing lost silently"
    );
    assert_eq!(nic.stats().unwrap().events_dropped, reported);
}

#[test]
fn refused_indications_are_counted_and_reported_to_the_producer() {
    let nic = nic();
    let ep = nic.endpoint(cfg()).unwrap();
    let listener = nic.endpoint(cfg()).unwrap();
    listener.subscribe(40).unwrap();
    ep.indicate(40, 5).unwrap(); // not registered as a producer
    let e = ep.wait(Some(PATIENCE)).unwrap().expect("an ERROR event");
    assert_eq!(e.event_type(), Some(EventType::Error));
    assert_eq!(e.payload, ErrorCode::IndicationRefused as u32);
    assert_eq!(e.aux, 40);
    assert_eq!(ep.stats().unwrap().refused, 1);
    assert_eq!(
        listener.wait(Some(Duration::from_millis(100))).unwrap(),
        None
    );
    // Registered (permission word 1): accepted; deregistered: refused again.
    ep.register_producer(40).unwrap();
    ep.indicate(40, 6).unwrap();
    assert_eq!(listener.wait(Some(PATIENCE)).unwrap().unwrap().payload, 6);
    ep.deregister_producer(40).unwrap();
    ep.indicate(40, 7).unwrap();
    assert_eq!(
        ep.wait(Some(PATIENCE)).unwrap().unwrap().event_type(),
        Some(EventType::Error)
    );
    assert_eq!(ep.stats().unwrap().refused, 2);
}

#[test]
fn bad_arguments_are_typed_errors_that_say_what_to_do() {
    let nic = nic();
    let ep = nic.endpoint(cfg()).unwrap();
    let e = ep.indicate(0, MAX_INDICATION_PAYLOAD + 1).unwrap_err();
    assert!(
        matches!(e, Error::PayloadTooLarge { payload, max } if payload == 1 << 24 && max == 0xff_ffff)
    );
    assert!(e.to_string().contains("24-bit"), "{e}");
    ep.register_producer(0).unwrap();
    ep.indicate(0, MAX_INDICATION_PAYLOAD).unwrap();
    let groups = nic.info().unwrap().groups;
    for e in [
        ep.subscribe(groups).unwrap_err(),
        ep.unsubscribe(groups + 1).unwrap_err(),
        ep.register_producer(groups).unwrap_err(),
        ep.indicate(groups, 0).unwrap_err(),
    ] {
        assert!(
            matches!(e, Error::GroupOutOfRange { groups: g, .. } if g == groups),
            "{e}"
        );
        assert!(
            e.to_string().contains(&format!("groups 0..{groups}")),
            "{e}"
        );
    }
    for size in [8, 100, 1 << 17] {
        let e = nic
            .endpoint(EndpointConfig::default().with_ring_events(size))
            .unwrap_err();
        assert!(
            matches!(e, Error::QueueSize { requested, min: 16, max: 65536 } if requested == size)
        );
        assert!(e.to_string().contains("power of two"), "{e}");
    }
}

#[test]
fn vis_run_out_and_come_back_when_endpoints_close() {
    let nic = nic();
    let vis = nic.info().unwrap().vis;
    let small = || EndpointConfig::default().with_ring_events(16);
    let mut eps: Vec<_> = (0..vis - 1)
        .map(|_| nic.endpoint(small()).unwrap())
        .collect();
    let mut seen: Vec<u32> = eps.iter().map(|e| e.vi()).collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..vis - 1).collect::<Vec<_>>(),
        "the last VI is the interrupt queue"
    );
    let e = nic.endpoint(small()).unwrap_err();
    assert!(
        matches!(e, Error::NoFreeVi { vis: v, reserved: 1 } if v == vis),
        "{e}"
    );
    assert!(e.to_string().contains("drop an endpoint"), "{e}");
    let gone = eps.remove(3);
    let vi = gone.vi();
    drop(gone);
    assert_eq!(nic.endpoint(small()).unwrap().vi(), vi);
}

#[test]
fn closing_an_endpoint_disables_its_queue_and_drops_its_subscriptions() {
    let nic = nic();
    let producer = nic.endpoint(cfg()).unwrap();
    producer.register_producer(5).unwrap();
    let listener = nic.endpoint(cfg()).unwrap();
    let vi = listener.vi();
    listener.subscribe(5).unwrap();
    producer.indicate(5, 1).unwrap();
    assert_eq!(listener.wait(Some(PATIENCE)).unwrap().unwrap().payload, 1);
    assert!(nic.stats().unwrap().queue(vi).is_some());
    drop(listener);
    let s = nic.stats().unwrap();
    assert!(s.queue(vi).is_none_or(|q| q.host.is_none()), "{s}");
    producer.indicate(5, 2).unwrap();
    assert!(
        eventually(|| nic.stats().unwrap().no_members == 1),
        "the group has no member left"
    );
    // The next endpoint on that VI starts empty and unsubscribed.
    let again = nic.endpoint(cfg()).unwrap();
    assert_eq!(again.vi(), vi);
    assert!(again.subscriptions().is_empty());
    assert_eq!(again.wait(Some(Duration::from_millis(100))).unwrap(), None);
}

#[test]
fn statistics_cover_the_device_and_the_endpoints() {
    let nic = nic();
    let before = nic.stats().unwrap();
    assert!(before.queues.is_empty(), "nothing open yet:\n{before}");
    assert_eq!(before.host_interrupts, 0);
    let ep = nic.endpoint(cfg()).unwrap();
    ep.register_producer(6).unwrap();
    ep.subscribe(6).unwrap();
    ep.indicate(6, 1).unwrap();
    ep.indicate(7, 1).unwrap(); // refused
    let got = collect(&ep, 2);
    assert_eq!(got.len(), 2);
    let s = nic.stats().unwrap();
    let q = s.queue(ep.vi()).expect("the endpoint's queue");
    assert_eq!((q.written, q.refused, q.drops), (2, 1, 0));
    assert_eq!(q.host.unwrap().events, 2);
    let irq = s
        .queues
        .iter()
        .find(|q| q.interrupt_queue)
        .expect("irq queue");
    assert_eq!(irq.vi, nic.info().unwrap().vis - 1);
    assert!(s.events_written >= 2);
    assert!(s.cycles > before.cycles);
    let table = s.to_string();
    assert!(table.contains("| VI | written |"), "{table}");
    assert!(table.contains(&format!("| {} | 2 |", ep.vi())), "{table}");
    assert!(table.contains("(irq)"), "{table}");
}
