//! Filters and batched configuration through the public API, with frames on the simulated
//! device's MAC port.

use evnic::backend::sim::SimBackend;
use evnic::batch::{Applied, CoalesceError};
use evnic::filter_spec::FilterAction;
use evnic::filters::Filter;
use evnic::{Endpoint, EndpointConfig, Error, EventType, Nic};
use std::sync::Arc;
use std::time::Duration;

fn setup() -> (Arc<SimBackend>, Nic) {
    let sim = Arc::new(SimBackend::start(Default::default()).unwrap());
    let nic = Nic::with_backend(sim.clone()).unwrap();
    nic.set_enabled(true).unwrap();
    (sim, nic)
}

fn send(sim: &SimBackend, frame: Vec<u8>) {
    sim.handle().with(move |d| d.inject_frame(frame, false));
}

fn rx_events(ep: &Endpoint, n: usize) -> Vec<evnic::Event> {
    let mut got = Vec::new();
    while got.len() < n {
        match ep.wait(Some(Duration::from_secs(20))).unwrap() {
            Some(e) => got.push(e),
            None => panic!("only {} of {n} events", got.len()),
        }
    }
    got
}

#[test]
fn filters_steer_frames_and_count_hits() {
    let (sim, nic) = setup();
    let a = nic.endpoint(EndpointConfig::default()).unwrap();
    let b = nic.endpoint(EndpointConfig::default()).unwrap();
    let g = nic.endpoint(EndpointConfig::default()).unwrap();
    g.subscribe(9).unwrap();
    nic.set_filter(0, &Filter::new().udp_dst(5000).to_vi(a.vi() as u8).unwrap())
        .unwrap();
    nic.set_filter(1, &format!("udp -> vi {}", b.vi()).parse().unwrap())
        .unwrap();
    nic.set_filter(2, &Filter::new().ethertype(0x8902).to_group(9).unwrap())
        .unwrap();
    nic.set_default_action(FilterAction::Drop).unwrap();
    // A frame for a VI goes into that VI's receive ring: both need buffers.
    let _rxa = a.receiver(4, 2048).unwrap();
    let _rxb = b.receiver(4, 2048).unwrap();
    // Let the device prefetch the posted descriptors (a DMA round trip) before traffic.
    sim.handle().with(|d| d.run(500));
    send(&sim, evnic::demo::stream_frame(1)); // udp dst 5000: entry 0 wins over entry 1
    send(&sim, evnic::demo::ccm_frame(0, 1)); // OAM: group 9
    let ea = rx_events(&a, 1);
    assert_eq!((ea[0].event_type(), ea[0].source), (Some(EventType::Rx), 0));
    let eg = rx_events(&g, 1);
    assert_eq!(
        (eg[0].event_type(), eg[0].source, eg[0].group),
        (Some(EventType::Rx), 2, Some(9))
    );
    assert!(b.poll().is_none(), "entry 1 is shadowed by entry 0");
    assert_eq!(nic.filter_hits(0).unwrap(), 1);
    assert_eq!(nic.filter_hits(1).unwrap(), 0);
    assert_eq!(nic.filter_hits(2).unwrap(), 1);
    // Clearing entry 0 lets entry 1 take UDP.
    nic.clear_filter(0).unwrap();
    send(&sim, evnic::demo::stream_frame(2));
    assert_eq!(rx_events(&b, 1)[0].source, 1);
    assert!(matches!(
        nic.set_filter(32, &"any -> drop".parse().unwrap()),
        Err(Error::BadFilterIndex { .. })
    ));
    assert!(nic.set_default_action(FilterAction::Group(1)).is_err());
}

#[test]
fn batch_coalesces_and_applies_in_one_burst() {
    let (_sim, nic) = setup();
    let ep = nic.endpoint(EndpointConfig::default()).unwrap();
    let spec = |p: u16| Filter::new().udp_dst(p).to_vi(ep.vi() as u8).unwrap();

    // ADD then DEL: nothing at all.
    let mut b = nic.configure();
    b.add_filter(3, spec(1)).unwrap().delete_filter(3).unwrap();
    b.subscribe(&ep, 4).unwrap().unsubscribe(&ep, 4).unwrap();
    assert!(b.is_empty());
    assert_eq!(
        b.apply().unwrap(),
        Applied {
            recorded: 4,
            written: 0
        }
    );
    assert!(nic.filter(3).unwrap().is_none());
    assert!(ep.subscriptions().is_empty());

    // ADD then MOD = ADD with the MOD's value; subscriptions apply too.
    let mut b = nic.configure();
    b.add_filter(3, spec(1))
        .unwrap()
        .modify_filter(3, spec(2))
        .unwrap()
        .subscribe(&ep, 4)
        .unwrap();
    assert_eq!(b.len(), 2);
    b.apply().unwrap();
    assert_eq!(nic.filter(3).unwrap().unwrap().text, spec(2).text);
    assert_eq!(ep.subscriptions(), vec![4]);

    // DEL then ADD = MOD; MOD then DEL = DEL.
    let mut b = nic.configure();
    b.delete_filter(3).unwrap().add_filter(3, spec(7)).unwrap();
    b.apply().unwrap();
    assert_eq!(nic.filter(3).unwrap().unwrap().text, spec(7).text);
    let mut b = nic.configure();
    b.modify_filter(3, spec(8))
        .unwrap()
        .delete_filter(3)
        .unwrap()
        .unsubscribe(&ep, 4)
        .unwrap();
    b.apply().unwrap();
    assert!(nic.filter(3).unwrap().is_none());
    assert!(ep.subscriptions().is_empty());

    // Refusals: at record time by the table, at apply time by the state (nothing written).
    let mut b = nic.configure();
    b.add_filter(5, spec(1)).unwrap();
    assert!(matches!(
        b.add_filter(5, spec(2)),
        Err(Error::Batch(CoalesceError::AlreadyPresent))
    ));
    b.delete_filter(6).unwrap(); // entry 6 is empty: DEL will be refused by apply
    assert!(b.apply().is_err());
    assert!(
        nic.filter(5).unwrap().is_none(),
        "a refused batch writes nothing"
    );
}
