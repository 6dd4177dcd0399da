//! Callbacks: a dispatcher over several endpoints, without locks held during callbacks.

use evnic::{Dispatcher, EndpointConfig, EventType, Group, Vi};
use evnic_e2e::{nic, PATIENCE};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a handler saw: the endpoint's VI, the event's group and its payload.
type Seen = (Vi, Option<Group>, u32);

fn cfg(spin: Duration) -> EndpointConfig {
    EndpointConfig::default()
        .with_ring_events(128)
        .with_spin(spin)
}

#[test]
fn callbacks_from_several_endpoints_get_their_own_events() {
    let nic = nic();
    let producer = nic.endpoint(cfg(Duration::ZERO)).unwrap();
    for g in [20, 21, 22] {
        producer.register_producer(Group(g)).unwrap();
    }
    // a: group 20; b: group 21; both: group 22.
    let a = Arc::new(nic.endpoint(cfg(Duration::ZERO)).unwrap());
    let b = Arc::new(nic.endpoint(cfg(Duration::ZERO)).unwrap());
    a.subscribe(Group(20)).unwrap();
    b.subscribe(Group(21)).unwrap();
    a.subscribe(Group(22)).unwrap();
    b.subscribe(Group(22)).unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let mut d = Dispatcher::new().with_max_batch(4);
    for ep in [a.clone(), b.clone()] {
        let seen = seen.clone();
        d.register(ep, move |ep, e| {
            // No lock of the endpoint is held here: using it must not deadlock.
            assert!(ep.ring_events() == 128);
            assert_eq!(e.event_type(), Some(EventType::Indication));
            seen.lock().unwrap().push((ep.vi(), e.group(), e.payload()));
        });
    }
    assert_eq!(d.len(), 2);
    for i in 0..10 {
        producer.indicate(Group(20), i).unwrap();
        producer.indicate(Group(21), 100 + i).unwrap();
        producer.indicate(Group(22), 200 + i).unwrap();
    }
    let start = Instant::now();
    let total = d
        .run_until(Duration::from_millis(50), || {
            seen.lock().unwrap().len() >= 40 || start.elapsed() > PATIENCE
        })
        .unwrap();
    assert_eq!(total, 40);
    let seen = seen.lock().unwrap();
    let of = |vi: Vi, g: u32| -> Vec<u32> {
        seen.iter()
            .filter(|s| s.0 == vi && s.1 == Some(Group(g)))
            .map(|s| s.2)
            .collect()
    };
    assert_eq!(of(a.vi(), 20), (0..10).collect::<Vec<_>>());
    assert_eq!(of(b.vi(), 21), (100..110).collect::<Vec<_>>());
    assert_eq!(of(a.vi(), 22), (200..210).collect::<Vec<_>>());
    assert_eq!(of(b.vi(), 22), (200..210).collect::<Vec<_>>());
    assert!(of(a.vi(), 21).is_empty() && of(b.vi(), 20).is_empty());
}

#[test]
fn a_callback_may_indicate_and_the_dispatcher_blocks_with_every_queue_primed() {
    let nic = nic();
    // ping indicates into 30 (pong listens), pong's callback answers into 31 (ping listens).
    let ping = Arc::new(nic.endpoint(cfg(Duration::ZERO)).unwrap());
    let pong = Arc::new(nic.endpoint(cfg(Duration::ZERO)).unwrap());
    ping.register_producer(Group(30)).unwrap();
    pong.register_producer(Group(31)).unwrap();
    pong.subscribe(Group(30)).unwrap();
    ping.subscribe(Group(31)).unwrap();
    let answers: Arc<Mutex<Vec<u32>>> = Arc::default();
    let mut d = Dispatcher::new().with_spin(Duration::ZERO);
    d.register(pong.clone(), |ep, e| {
        ep.indicate(Group(31), e.payload() + 1).unwrap()
    });
    let ans = answers.clone();
    let ping_reg = d.register(ping.clone(), move |ep, e| {
        ans.lock().unwrap().push(e.payload());
        if e.payload() < 19 {
            ep.indicate(Group(30), e.payload() + 1).unwrap();
        }
    });
    ping.indicate(Group(30), 0).unwrap();
    let start = Instant::now();
    while answers.lock().unwrap().len() < 10 && start.elapsed() < PATIENCE {
        d.run(Some(Duration::from_millis(100))).unwrap();
    }
    assert_eq!(
        *answers.lock().unwrap(),
        (0..10).map(|k| 2 * k + 1).collect::<Vec<_>>()
    );
    // With no spin every round trip blocked: the interrupts woke the dispatcher.
    let woken = ping.counters().interrupts + pong.counters().interrupts;
    assert!(woken >= 5, "{woken} interrupts for 20 hops");
    assert!(d.unregister(ping_reg).is_some());
    assert_eq!(d.len(), 1);
    assert_eq!(d.run(Some(Duration::from_millis(20))).unwrap(), 0);
}
