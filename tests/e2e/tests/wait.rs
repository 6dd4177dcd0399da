//! The wait policy through the public API: spin, then prime, then block on the endpoint's fd;
//! at most one prime for several waiters; the fd for event loops.

use evnic::{Endpoint, EndpointConfig, EventType, Group};
use evnic_e2e::{eventually, nic, PATIENCE};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn with_spin(spin: Duration) -> EndpointConfig {
    EndpointConfig::default()
        .with_ring_events(256)
        .with_spin(spin)
}

fn producer_for(nic: &evnic::Nic, group: u32) -> Endpoint {
    let p = nic.endpoint(with_spin(Duration::ZERO)).unwrap();
    p.register_producer(Group(group)).unwrap();
    p
}

#[test]
fn an_event_during_the_spin_is_returned_without_priming() {
    let nic = nic();
    let producer = producer_for(&nic, 1);
    // A spin far longer than the event takes to arrive.
    let ep = Arc::new(nic.endpoint(with_spin(PATIENCE)).unwrap());
    ep.subscribe(Group(1)).unwrap();
    let waiter = {
        let ep = ep.clone();
        std::thread::spawn(move || ep.wait(Some(PATIENCE * 2)).unwrap())
    };
    std::thread::sleep(Duration::from_millis(50));
    producer.indicate(Group(1), 42).unwrap();
    let e = waiter.join().unwrap().expect("the event");
    assert_eq!(
        (e.event_type(), e.payload()),
        (Some(EventType::Indication), 42)
    );
    let c = ep.counters();
    assert_eq!(c.primes, 0, "spinning found it: no prime");
    assert_eq!(c.interrupts, 0);
    assert!(!ep.is_armed());
}

#[test]
fn an_event_after_the_spin_wakes_the_blocked_waiter_through_the_interrupt() {
    let nic = nic();
    let producer = producer_for(&nic, 2);
    let ep = Arc::new(nic.endpoint(with_spin(Duration::from_micros(20))).unwrap());
    ep.subscribe(Group(2)).unwrap();
    for round in 1..=3u32 {
        let waiter = {
            let ep = ep.clone();
            std::thread::spawn(move || ep.wait(Some(PATIENCE)).unwrap())
        };
        assert!(eventually(|| ep.counters().primes == round as u64));
        assert!(ep.is_armed());
        producer.indicate(Group(2), round).unwrap();
        let e = waiter.join().unwrap().expect("woken by the interrupt");
        assert_eq!(e.payload(), round);
        let c = ep.counters();
        assert_eq!((c.primes, c.interrupts), (round as u64, round as u64));
        assert!(!ep.is_armed());
    }
    let s = nic.stats().unwrap();
    // The per-endpoint counts above are exact, and so is the device's count of WAKEUPs. The
    // interrupts may be fewer: a WAKEUP that arrives while the interrupt thread still drains
    // the interrupt queue is read in that drain, and the prime after it raises nothing; the
    // library's count of interrupt-fd wake-ups may be lower again, as an eventfd folds
    // interrupts that arrive before it is read.
    assert_eq!(s.wakeup_count, 3, "{s}");
    assert!((1..=3).contains(&s.irq_count), "{s}");
    assert!((1..=s.irq_count as u64).contains(&s.host_interrupts), "{s}");
}

#[test]
fn two_threads_waiting_on_one_endpoint_cause_one_prime() {
    let nic = nic();
    let producer = producer_for(&nic, 3);
    let ep = Arc::new(nic.endpoint(with_spin(Duration::ZERO)).unwrap());
    ep.subscribe(Group(3)).unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let ep = ep.clone();
            std::thread::spawn(move || ep.wait(Some(PATIENCE)).unwrap())
        })
        .collect();
    assert!(eventually(|| ep.counters().primes >= 1));
    // Both are past their (zero) spin and blocked by now.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ep.counters().primes, 1, "the second waiter saw it armed");
    producer.indicate(Group(3), 1).unwrap();
    producer.indicate(Group(3), 2).unwrap();
    let mut got: Vec<u32> = waiters
        .into_iter()
        .map(|w| w.join().unwrap().expect("an event each").payload())
        .collect();
    got.sort();
    assert_eq!(got, vec![1, 2]);
    assert!(ep.counters().interrupts >= 1);
}

#[test]
fn a_wait_with_nothing_coming_times_out() {
    let nic = nic();
    let ep = nic.endpoint(with_spin(Duration::from_micros(100))).unwrap();
    let t = Instant::now();
    assert_eq!(ep.wait(Some(Duration::from_millis(60))).unwrap(), None);
    assert!(t.elapsed() >= Duration::from_millis(60));
    assert_eq!(ep.counters().primes, 1);
    // Still armed from the first wait: a second one does not prime again.
    assert_eq!(ep.wait(Some(Duration::from_millis(10))).unwrap(), None);
    assert_eq!(ep.counters().primes, 1);
    let mut v = Vec::new();
    assert_eq!(ep.wait_batch(&mut v, 0, None).unwrap(), 0);
}

fn readable(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

#[test]
fn the_fd_sits_in_an_event_loop_with_arm() {
    let nic = nic();
    let producer = producer_for(&nic, 4);
    let ep = nic.endpoint(with_spin(Duration::ZERO)).unwrap();
    ep.subscribe(Group(4)).unwrap();
    assert!(ep.arm().unwrap(), "empty: armed, safe to sleep");
    assert!(ep.arm().unwrap());
    assert_eq!(
        ep.counters().primes,
        1,
        "arming an armed queue does not prime"
    );
    assert!(!readable(ep.as_raw_fd(), 50));
    producer.indicate(Group(4), 9).unwrap();
    assert!(readable(ep.as_raw_fd(), PATIENCE.as_millis() as i32));
    assert_eq!(ep.poll().unwrap().payload(), 9);
    // Events waiting: arm says do not sleep.
    producer.indicate(Group(4), 10).unwrap();
    assert!(eventually(|| !ep.arm().unwrap()));
    assert_eq!(ep.poll().unwrap().payload(), 10);
    // The wake-up of the prime that event 10 hit may still be on its way (the event is in
    // memory before the interrupt thread has seen its WAKEUP): the fd may turn readable once
    // more with nothing to poll. Arming again after that leaves it quiet.
    assert!(ep.arm().unwrap());
    if readable(ep.as_raw_fd(), 50) {
        assert_eq!(ep.poll(), None, "a late wake-up carries no event");
        assert!(ep.arm().unwrap());
    }
    assert!(!readable(ep.as_raw_fd(), 50), "re-armed: quiet again");
}

#[test]
fn the_device_watchdog_wakes_an_endpoint_nobody_primed() {
    let nic = nic();
    let producer = producer_for(&nic, 5);
    let ep = nic
        .endpoint(with_spin(Duration::ZERO).with_watchdog_cycles(2000))
        .unwrap();
    ep.subscribe(Group(5)).unwrap();
    producer.indicate(Group(5), 1).unwrap();
    assert!(readable(ep.as_raw_fd(), PATIENCE.as_millis() as i32));
    assert_eq!(ep.counters().primes, 0);
    assert_eq!(ep.counters().interrupts, 1);
    assert_eq!(ep.poll().unwrap().payload(), 1);
}

#[test]
fn the_spin_time_comes_from_the_environment_when_not_configured() {
    // The only test that touches the variable (tests of this file share the process).
    std::env::set_var(evnic::SPIN_ENV, "1234");
    let nic = nic();
    let from_env = nic.endpoint(EndpointConfig::default()).unwrap();
    let explicit = nic.endpoint(with_spin(Duration::from_micros(7))).unwrap();
    std::env::set_var(evnic::SPIN_ENV, "lots");
    let bad = nic.endpoint(EndpointConfig::default()).unwrap_err();
    std::env::remove_var(evnic::SPIN_ENV);
    assert_eq!(from_env.spin(), Duration::from_micros(1234));
    assert_eq!(explicit.spin(), Duration::from_micros(7));
    assert!(bad.to_string().contains("EVNIC_SPIN_USEC"), "{bad}");
    let default = nic.endpoint(EndpointConfig::default()).unwrap();
    assert_eq!(default.spin(), evnic::DEFAULT_SPIN);
}
