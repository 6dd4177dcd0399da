//! Filters and batched configuration through the public API, with frames on the simulated
//! device's MAC port.

use evnic::batch::CoalesceError;
use evnic::{
    Endpoint, EndpointConfig, Error, EventKind, EventType, Filter, FilterAction, Group, Nic,
};
use evnic_cli::demo::{ccm_frame, stream_frame};
use std::time::Duration;

fn setup() -> Nic {
    let nic = evnic_e2e::nic();
    nic.set_enabled(true).unwrap();
    nic
}

fn send(nic: &Nic, frame: Vec<u8>) {
    nic.sim().unwrap().inject(frame, false).unwrap();
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

fn filter_of(e: &evnic::Event) -> Option<u32> {
    match e.kind() {
        EventKind::Rx { filter, .. } => filter,
        other => panic!("not an RX event: {other:?}"),
    }
}

#[test]
fn filters_steer_frames_count_hits_and_go_with_their_handles() {
    let nic = setup();
    let a = nic.endpoint(EndpointConfig::default()).unwrap();
    let b = nic.endpoint(EndpointConfig::default()).unwrap();
    let g = nic.endpoint(EndpointConfig::default()).unwrap();
    g.subscribe(Group(9)).unwrap();
    let f0 = nic
        .add_filter(Filter::new().udp_dst(5000).to_vi(a.vi()).unwrap())
        .unwrap();
    let f1 = nic
        .add_filter(format!("udp -> vi {}", b.vi().0).parse().unwrap())
        .unwrap();
    let f2 = nic
        .add_filter(Filter::new().ethertype(0x8902).to_group(Group(9)).unwrap())
        .unwrap();
    assert_eq!(
        (f0.index(), f1.index(), f2.index()),
        (0, 1, 2),
        "lowest free first"
    );
    nic.set_default_action(FilterAction::Drop).unwrap();
    // A frame for a VI goes into that VI's receive ring: both need buffers.
    let _rxa = a.receiver(4, 2048).unwrap();
    let _rxb = b.receiver(4, 2048).unwrap();
    send(&nic, stream_frame(1)); // udp dst 5000: entry 0 wins over entry 1
    send(&nic, ccm_frame(0, 1)); // OAM: group 9
    let ea = rx_events(&a, 1);
    assert_eq!(
        (ea[0].event_type(), filter_of(&ea[0])),
        (Some(EventType::Rx), Some(0))
    );
    let eg = rx_events(&g, 1);
    assert_eq!(
        (filter_of(&eg[0]), eg[0].group()),
        (Some(2), Some(Group(9)))
    );
    assert!(b.poll().is_none(), "entry 1 is shadowed by entry 0");
    assert_eq!(f0.hits().unwrap(), 1);
    assert_eq!(nic.filter_hits(1).unwrap(), 0);
    assert_eq!(f2.hits().unwrap(), 1);
    // Dropping entry 0's handle removes it: entry 1 takes UDP.
    drop(f0);
    assert!(nic.filter(0).unwrap().is_none());
    send(&nic, stream_frame(2));
    assert_eq!(filter_of(&rx_events(&b, 1)[0]), Some(1));
    // The freed entry is the next one taken.
    let again = nic.add_filter("tcp -> drop".parse().unwrap()).unwrap();
    assert_eq!(again.index(), 0);
    let count = nic.filter_count();
    assert!(matches!(
        nic.add_filter_at(count, "any -> drop".parse().unwrap()),
        Err(Error::BadFilterIndex { index, count: c }) if index == count && c == count
    ));
    assert!(matches!(
        nic.add_filter_at(1, "any -> drop".parse().unwrap()),
        Err(Error::FilterInUse { index: 1 })
    ));
    // A VI the device does not have: refused by the library when the action word can name it,
    // and by the filter syntax past the action word's target field.
    let vis = evnic_regs::params::NUM_VIS;
    let target_max = u32::from(evnic_regs::map::filter::ACTION_TARGET_MASK);
    if vis <= target_max {
        assert!(matches!(
            nic.add_filter(format!("udp -> vi {vis}").parse().unwrap()),
            Err(Error::ViOutOfRange { vi, .. }) if vi == vis
        ));
    }
    assert!(format!("udp -> vi {}", target_max + 1)
        .parse::<evnic::FilterSpec>()
        .is_err());
    assert!(matches!(
        nic.set_default_action(FilterAction::Group(Group(1))),
        Err(Error::DefaultActionGroup)
    ));
}

#[test]
fn a_handle_leaves_alone_an_entry_that_is_no_longer_its_own() {
    let nic = setup();
    let h = nic
        .add_filter("udp dst 1 -> drop".parse().unwrap())
        .unwrap();
    let i = h.index();
    // Removed behind the handle's back and installed again by someone else.
    assert!(nic.remove_filter(i).unwrap().is_some());
    let other = nic
        .add_filter_at(i, "udp dst 2 -> drop".parse().unwrap())
        .unwrap();
    assert!(matches!(h.spec(), Err(Error::FilterGone { index }) if index == i));
    assert!(matches!(
        h.replace("any -> drop".parse().unwrap()),
        Err(Error::FilterGone { .. })
    ));
    drop(h);
    assert_eq!(
        nic.filter(i).unwrap().unwrap().text,
        "udp dst 2 -> drop",
        "the stale handle did not remove the new entry"
    );
    // keep(): the entry outlives its handle.
    other.replace("udp dst 3 -> drop".parse().unwrap()).unwrap();
    assert_eq!(other.keep(), i);
    assert_eq!(nic.filter(i).unwrap().unwrap().text, "udp dst 3 -> drop");
}

#[test]
fn batch_coalesces_and_applies_in_one_burst() {
    let nic = setup();
    let ep = nic.endpoint(EndpointConfig::default()).unwrap();
    let spec = |p: u16| Filter::new().udp_dst(p).to_vi(ep.vi()).unwrap();

    // ADD then DEL: nothing at all.
    let mut b = nic.configure();
    b.add_filter(3, spec(1)).unwrap().delete_filter(3).unwrap();
    b.subscribe(&ep, Group(4))
        .unwrap()
        .unsubscribe(&ep, Group(4))
        .unwrap();
    assert!(b.is_empty());
    let applied = b.apply().unwrap();
    assert_eq!((applied.recorded, applied.written), (4, 0));
    assert!(applied.filters.is_empty());
    assert!(nic.filter(3).unwrap().is_none());
    assert!(ep.subscriptions().is_empty());

    // ADD then MOD = ADD with the MOD's value; subscriptions apply too.
    let mut b = nic.configure();
    b.add_filter(3, spec(1))
        .unwrap()
        .modify_filter(3, spec(2))
        .unwrap()
        .subscribe(&ep, Group(4))
        .unwrap();
    assert_eq!(b.len(), 2);
    let added = b.apply().unwrap().filters;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].index(), 3);
    assert_eq!(nic.filter(3).unwrap().unwrap().text, spec(2).text);
    assert_eq!(ep.subscriptions(), vec![Group(4)]);

    // DEL then ADD = MOD (the handle still owns the entry); MOD then DEL = DEL.
    let mut b = nic.configure();
    b.delete_filter(3).unwrap().add_filter(3, spec(7)).unwrap();
    assert!(b.apply().unwrap().filters.is_empty(), "a MOD adds no entry");
    assert_eq!(added[0].spec().unwrap().text, spec(7).text);
    let mut b = nic.configure();
    b.modify_filter(3, spec(8))
        .unwrap()
        .delete_filter(3)
        .unwrap()
        .unsubscribe(&ep, Group(4))
        .unwrap();
    b.apply().unwrap();
    assert!(nic.filter(3).unwrap().is_none());
    assert!(ep.subscriptions().is_empty());
    assert!(
        added[0].spec().is_err(),
        "the batch deleted the handle's entry"
    );

    // Refusals: at record time by the table, at apply time by the state (nothing written).
    let mut b = nic.configure();
    b.add_filter(5, spec(1)).unwrap();
    assert!(matches!(
        b.add_filter(5, spec(2)),
        Err(Error::Batch(CoalesceError::AlreadyPresent))
    ));
    b.delete_filter(6).unwrap(); // entry 6 is empty: DEL will be refused by apply
    assert!(matches!(
        b.apply(),
        Err(Error::BatchState {
            op: "DEL",
            present: false,
            ..
        })
    ));
    assert!(
        nic.filter(5).unwrap().is_none(),
        "a refused batch writes nothing"
    );
}
