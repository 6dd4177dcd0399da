//! Device timers through the public API: periodic (cycles and durations, fractional periods),
//! one-shot, cancel, group targets.

use evnic::{EndpointConfig, Error, EventType, Ticks, TimerTarget};
use evnic_e2e::{collect, eventually, nic, PATIENCE};
use std::time::Duration;

fn cfg() -> EndpointConfig {
    EndpointConfig::default()
        .with_ring_events(256)
        .with_spin(Duration::from_micros(20))
}

#[test]
fn a_periodic_timer_fires_repeatedly_on_schedule_and_cancel_stops_it() {
    let nic = nic();
    let ep = nic.endpoint(cfg()).unwrap();
    let timer = nic.timer().unwrap();
    timer
        .periodic(Ticks::Cycles(1000), Ticks::Cycles(3000), &ep, 0xabc)
        .unwrap();
    let got = collect(&ep, 6);
    assert_eq!(got.len(), 6);
    for e in &got {
        assert_eq!(e.event_type(), Some(EventType::Timer));
        assert_eq!((e.source as u32, e.payload), (timer.index(), 0xabc));
    }
    for w in got.windows(2) {
        assert_eq!(w[1].timestamp - w[0].timestamp, 3000);
    }
    assert!(timer.is_armed().unwrap());
    timer.cancel().unwrap();
    assert!(!timer.is_armed().unwrap());
    let fired = timer.fires().unwrap();
    let mut v = Vec::new();
    ep.poll_batch(&mut v, 1000);
    // Hundreds of periods of device time: a running timer would have fired.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ep.poll(), None, "cancelled: silent");
    assert_eq!(timer.fires().unwrap(), fired);
    assert_eq!(timer.missed().unwrap(), 0);
}

#[test]
fn a_fractional_period_from_a_duration_stays_on_schedule() {
    let nic = nic();
    let ep = nic.endpoint(cfg()).unwrap();
    let timer = nic.timer().unwrap();
    // 10.0032 µs at 156.25 MHz = 1563.0 cycles; 1.6 ns more is a quarter cycle: 1563.25.
    let period = Ticks::CyclesFrac {
        whole: 1563,
        frac: 0x4000,
    };
    timer
        .periodic(Duration::from_micros(10), period, &ep, 1)
        .unwrap();
    let got = collect(&ep, 9);
    timer.cancel().unwrap();
    assert_eq!(got.len(), 9);
    let t0 = got[0].timestamp;
    for (k, e) in got.iter().enumerate() {
        let ideal = t0 as f64 + 1563.25 * k as f64;
        let err = e.timestamp as f64 - ideal;
        assert!((-1.0..=0.0).contains(&err), "firing {k}: {err}");
    }
}

#[test]
fn a_one_shot_into_a_group_reaches_every_subscriber_once() {
    let nic = nic();
    let a = nic.endpoint(cfg()).unwrap();
    let b = nic.endpoint(cfg()).unwrap();
    a.subscribe(50).unwrap();
    b.subscribe(50).unwrap();
    let timer = nic.timer().unwrap();
    timer
        .one_shot(Duration::from_micros(20), TimerTarget::Group(50), 7)
        .unwrap();
    for ep in [&a, &b] {
        let e = ep.wait(Some(PATIENCE)).unwrap().expect("the TIMER event");
        assert_eq!(
            (e.event_type(), e.group, e.payload),
            (Some(EventType::Timer), Some(50), 7)
        );
    }
    assert!(eventually(|| !timer.is_armed().unwrap()));
    assert_eq!(timer.fires().unwrap(), 1);
    assert_eq!(a.wait(Some(Duration::from_millis(100))).unwrap(), None);
}

#[test]
fn timers_run_out_are_returned_and_refuse_bad_settings() {
    let nic = nic();
    let n = nic.info().unwrap().timers;
    let mut held: Vec<_> = (0..n).map(|_| nic.timer().unwrap()).collect();
    let e = nic.timer().unwrap_err();
    assert!(
        matches!(e, Error::NoFreeTimer { timers } if timers == n),
        "{e}"
    );
    let k = held.pop().unwrap().index();
    assert_eq!(nic.timer().unwrap().index(), k);
    let t = &held[0];
    let ep = nic.endpoint(cfg()).unwrap();
    let e = t
        .periodic(Ticks::Cycles(10), Ticks::Cycles(0), &ep, 0)
        .unwrap_err();
    assert!(matches!(e, Error::BadTimer(_)), "{e}");
    let e = t.one_shot(Ticks::Cycles(1 << 33), &ep, 0).unwrap_err();
    assert!(e.to_string().contains("FIRST"), "{e}");
    let groups = nic.info().unwrap().groups;
    let e = t
        .one_shot(Ticks::Cycles(10), TimerTarget::Group(groups), 0)
        .unwrap_err();
    assert!(
        matches!(e, Error::GroupOutOfRange { group, .. } if group == groups),
        "{e}"
    );
    let vis = nic.info().unwrap().vis;
    let e = t
        .one_shot(Ticks::Cycles(10), TimerTarget::Vi(vis - 1), 0)
        .unwrap_err();
    assert!(e.to_string().contains("interrupt queue"), "{e}");
}
