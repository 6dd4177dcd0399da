//! Exact-match filters placed by the library, with frames on the simulated device's MAC port:
//! a thousand specific filters over the four profiles, each frame delivered to its VI with
//! its entry as the RX event's source; the order kept against overlapping filters; atomic
//! replacement and hit counters of exact entries.

use etherparse::{PacketBuilder, PacketBuilderStep, VlanId};
use evnic::{
    Endpoint, EndpointConfig, EntryIndex, EventKind, FilterAction, FilterHandle, Nic, Receiver,
    TernaryReason,
};
use std::time::Duration;

fn setup() -> Nic {
    let nic = evnic_e2e::nic();
    nic.set_enabled(true).unwrap();
    nic.set_default_action(FilterAction::Drop).unwrap();
    nic
}

/// Lets the device prefetch posted receive descriptors (a DMA round trip) before traffic.
fn settle(nic: &Nic) {
    let end = nic.cycles().unwrap() + 500;
    while nic.cycles().unwrap() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
}

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xee, 0x01];
/// The destination MAC of every frame that is not an L2-profile case.
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xff, 0xff];

fn finish<T>(b: PacketBuilderStep<T>, payload: &[u8]) -> Vec<u8>
where
    PacketBuilderStep<T>: Writable,
{
    let mut f = Vec::new();
    b.write_to(&mut f, payload);
    evnic_proto::fcs::with_fcs(f)
}

/// The builder steps that end a frame.
trait Writable {
    fn write_to(self, out: &mut Vec<u8>, payload: &[u8]);
}
impl Writable for PacketBuilderStep<etherparse::UdpHeader> {
    fn write_to(self, out: &mut Vec<u8>, payload: &[u8]) {
        self.write(out, payload).expect("a frame in memory");
    }
}
impl Writable for PacketBuilderStep<etherparse::TcpHeader> {
    fn write_to(self, out: &mut Vec<u8>, payload: &[u8]) {
        self.write(out, payload).expect("a frame in memory");
    }
}

fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC_MAC, HOST_MAC)
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    finish(b, &[0x5a; 32])
}

fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC_MAC, HOST_MAC)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1, 1024);
    finish(b, &[0x5a; 32])
}

/// One filter of the thousand, the frame it must take, and the profile it belongs in.
struct Case {
    spec: String,
    frame: Vec<u8>,
    profile: u8,
}

/// `PER` filters per profile, in profile order (so that each filter goes to a profile the
/// device ranks after every filter before it that it overlaps: MAC filters overlap IP ones).
fn cases(per: u32, vi_of: impl Fn(usize) -> u32) -> Vec<Case> {
    let mut out = Vec::new();
    for profile in 0..4u8 {
        for i in 0..per {
            let (hi, lo) = ((i >> 8) as u8, i as u8);
            let vi = vi_of(out.len());
            let (spec, frame) = match profile {
                // IPv4 UDP 5-tuples.
                0 => (
                    format!("ipv4 src 10.0.{hi}.{lo} ipv4 dst 192.168.1.1 udp src 7000 udp dst 9000 -> vi {vi}"),
                    udp4([10, 0, hi, lo], [192, 168, 1, 1], 7000, 9000),
                ),
                // IPv4 destination /24 and UDP port.
                1 => (
                    format!("ipv4 dst 172.{}.{lo}.0/24 udp dst 53 -> vi {vi}", 16 + hi),
                    udp4([10, 9, 9, 9], [172, 16 + hi, lo, 77], 5353, 53),
                ),
                // Destination MAC and outer VLAN.
                2 => {
                    let mac = [0x02, 0, 0, 0, hi, lo];
                    let b = PacketBuilder::ethernet2(SRC_MAC, mac)
                        .single_vlan(VlanId::try_new(100).unwrap())
                        .ipv4([10, 8, 8, 8], [10, 7, 7, 7], 64)
                        .udp(1, 7777);
                    (
                        format!("mac 02:00:00:00:{hi:02x}:{lo:02x} vlan 100 -> vi {vi}"),
                        finish(b, &[0x5a; 32]),
                    )
                }
                // IPv6 UDP 5-tuples.
                _ => {
                    let src: std::net::Ipv6Addr = format!("fd00::{i:x}").parse().unwrap();
                    let dst: std::net::Ipv6Addr = "fd00::1:1".parse().unwrap();
                    let b = PacketBuilder::ethernet2(SRC_MAC, HOST_MAC)
                        .ipv6(src.octets(), dst.octets(), 64)
                        .udp(7000, 9000);
                    (
                        format!("ipv6 src {src} ipv6 dst {dst} udp src 7000 udp dst 9000 -> vi {vi}"),
                        finish(b, &[0x5a; 32]),
                    )
                }
            };
            out.push(Case {
                spec,
                frame,
                profile,
            });
        }
    }
    out
}

fn rx_of(e: &evnic::Event) -> Option<u32> {
    match e.kind() {
        EventKind::Rx { filter, .. } => filter,
        other => panic!("not an RX event: {other:?}"),
    }
}

/// Sends `frame` and returns the RX event and data that arrive at `ep`.
fn deliver(nic: &Nic, ep: &Endpoint, rx: &mut Receiver, frame: &[u8]) -> (Option<u32>, Vec<u8>) {
    nic.sim().unwrap().inject(frame.to_vec(), false).unwrap();
    let e = ep
        .wait(Some(evnic_e2e::PATIENCE))
        .unwrap()
        .expect("an RX event");
    let data = rx.take(&e).expect("the frame in this endpoint's ring");
    (rx_of(&e), data)
}

#[test]
fn a_thousand_exact_filters_steer_each_frame_to_its_vi_with_its_entry() {
    const ENDPOINTS: usize = 8;
    const PER: u32 = 256;
    let nic = setup();
    let eps: Vec<Endpoint> = (0..ENDPOINTS)
        .map(|_| nic.endpoint(EndpointConfig::default()).unwrap())
        .collect();
    let mut rxs: Vec<Receiver> = eps.iter().map(|e| e.receiver(8, 256).unwrap()).collect();
    let cases = cases(PER, |n| eps[n % ENDPOINTS].vi().0);
    let handles: Vec<FilterHandle> = cases
        .iter()
        .map(|c| nic.add_filter(c.spec.parse().unwrap()).unwrap())
        .collect();
    for (c, h) in cases.iter().zip(&handles) {
        assert!(
            matches!(h.entry(), EntryIndex::Exact { profile, .. } if profile == c.profile),
            "{}: {:?} ({:?})",
            c.spec,
            h.entry(),
            h.ternary_reason()
        );
    }
    assert!(nic.filters().iter().all(|(n, _)| *n >= nic.filter_count()));
    for p in nic.exact_profiles() {
        assert_eq!(p.entries, PER as usize, "profile {}", p.profile);
    }
    // The reference model, given the entries the library reports (profile masks, and each
    // filter's key under its profile's mask in its slot), decides each frame as the device
    // must.
    let mut model = evnic_model::FilterTable::new(nic.filter_count() as usize);
    let profiles = nic.exact_profiles();
    for p in &profiles {
        model.set_profile_mask(usize::from(p.profile), &p.mask.expect("in use"));
    }
    for h in &handles {
        let EntryIndex::Exact { profile, slot } = h.entry() else {
            unreachable!("checked above")
        };
        let s = h.spec().unwrap();
        let mask = profiles[usize::from(profile)].mask.unwrap();
        model.write_exact(
            usize::from(profile),
            u32::from(slot),
            &(s.value & mask),
            s.action.encode(),
            true,
        );
    }
    settle(&nic);
    // Every frame, in turn: its endpoint gets it, with its filter's entry as the source, and
    // no other endpoint gets anything.
    let max_len = evnic_regs::map::filter::MAX_LEN.reset as u16;
    for (n, (c, h)) in cases.iter().zip(&handles).enumerate() {
        let k = n % ENDPOINTS;
        let want = model
            .peek(&evnic_model::parse(&c.frame, false, max_len).key)
            .expect("the model finds an entry");
        assert_eq!(u32::from(want.index), h.index(), "{}: the model", c.spec);
        let (source, data) = deliver(&nic, &eps[k], &mut rxs[k], &c.frame);
        assert_eq!(source, Some(h.index()), "{}", c.spec);
        assert_eq!(data, c.frame, "{}: the frame's bytes", c.spec);
    }
    for ep in &eps {
        assert!(ep.poll().is_none(), "no stray event");
    }
    for (c, h) in cases.iter().zip(&handles) {
        assert_eq!(h.hits().unwrap(), 1, "{}", c.spec);
    }
    let rx = nic.rx_counters().unwrap();
    assert_eq!(
        (rx.frames, rx.delivered),
        (cases.len() as u32, cases.len() as u32)
    );
    // Removing a filter frees its slot: its frame falls to the default (drop).
    let mut handles = handles;
    let (c0, h0) = (&cases[0], handles.remove(0));
    let n0 = h0.index();
    drop(h0);
    assert!(nic.filter(n0).unwrap().is_none());
    assert_eq!(nic.exact_profiles()[0].entries, PER as usize - 1);
    nic.sim().unwrap().inject(c0.frame.clone(), false).unwrap();
    assert!(evnic_e2e::eventually(
        || nic.rx_counters().unwrap().frames == cases.len() as u32 + 1
    ));
    assert_eq!(nic.rx_counters().unwrap().delivered, cases.len() as u32);
}

#[test]
fn a_later_filter_never_takes_the_frames_of_an_earlier_overlapping_one() {
    let nic = setup();
    let eps: Vec<Endpoint> = (0..3)
        .map(|_| nic.endpoint(EndpointConfig::default()).unwrap())
        .collect();
    let mut rxs: Vec<Receiver> = eps.iter().map(|e| e.receiver(5, 256).unwrap()).collect();
    let vi = |k: usize| eps[k].vi().0;
    // All UDP to endpoint 0: a ternary entry (no profile has its mask).
    let all_udp = nic
        .add_filter(format!("udp -> vi {}", vi(0)).parse().unwrap())
        .unwrap();
    assert_eq!(all_udp.entry(), EntryIndex::Ternary(0));
    assert_eq!(all_udp.ternary_reason(), Some(TernaryReason::NoProfile));
    // A UDP 5-tuple inside it: as an exact entry it would win, so it goes to the ternary table
    // after it.
    let flow = "ipv4 src 10.1.1.1 ipv4 dst 10.2.2.2 udp src 1111 udp dst 2222";
    let udp_flow = nic
        .add_filter(format!("{flow} -> vi {}", vi(1)).parse().unwrap())
        .unwrap();
    assert_eq!(udp_flow.entry(), EntryIndex::Ternary(1));
    assert_eq!(
        udp_flow.ternary_reason(),
        Some(TernaryReason::Order { entry: 0 })
    );
    // A TCP 5-tuple overlaps neither: exact.
    let tcp_flow = nic
        .add_filter(
            format!(
                "ipv4 src 10.1.1.1 ipv4 dst 10.2.2.2 tcp src 1111 tcp dst 2222 -> vi {}",
                vi(2)
            )
            .parse()
            .unwrap(),
        )
        .unwrap();
    assert!(matches!(
        tcp_flow.entry(),
        EntryIndex::Exact { profile: 0, .. }
    ));
    settle(&nic);
    let udp = udp4([10, 1, 1, 1], [10, 2, 2, 2], 1111, 2222);
    let tcp = tcp4([10, 1, 1, 1], [10, 2, 2, 2], 1111, 2222);
    assert_eq!(deliver(&nic, &eps[0], &mut rxs[0], &udp).0, Some(0));
    assert_eq!(
        deliver(&nic, &eps[2], &mut rxs[2], &tcp).0,
        Some(tcp_flow.index())
    );
    // Without the wide filter the flow's own entry takes its frames.
    drop(all_udp);
    assert_eq!(deliver(&nic, &eps[1], &mut rxs[1], &udp).0, Some(1));

    // The reverse: a destination /24 and port first (profile 1), then a 5-tuple inside it,
    // which profile 0 would rank above it: ternary, and the /24 keeps the frame.
    let net = nic
        .add_filter(
            format!("ipv4 dst 10.3.3.0/24 udp dst 2222 -> vi {}", vi(0))
                .parse()
                .unwrap(),
        )
        .unwrap();
    assert!(matches!(net.entry(), EntryIndex::Exact { profile: 1, .. }));
    let inner = nic
        .add_filter(
            format!(
                "ipv4 src 10.1.1.1 ipv4 dst 10.3.3.3 udp src 1111 udp dst 2222 -> vi {}",
                vi(1)
            )
            .parse()
            .unwrap(),
        )
        .unwrap();
    assert_eq!(
        inner.ternary_reason(),
        Some(TernaryReason::Order { entry: net.index() })
    );
    let to_net = udp4([10, 1, 1, 1], [10, 3, 3, 3], 1111, 2222);
    assert_eq!(
        deliver(&nic, &eps[0], &mut rxs[0], &to_net).0,
        Some(net.index())
    );
    drop(net);
    assert_eq!(
        deliver(&nic, &eps[1], &mut rxs[1], &to_net).0,
        Some(inner.index())
    );
    for ep in &eps {
        assert!(ep.poll().is_none(), "no stray event");
    }
}

#[test]
fn an_exact_entry_is_replaced_whole_and_counts_its_hits() {
    let nic = setup();
    let eps: Vec<Endpoint> = (0..2)
        .map(|_| nic.endpoint(EndpointConfig::default()).unwrap())
        .collect();
    let mut rxs: Vec<Receiver> = eps.iter().map(|e| e.receiver(5, 256).unwrap()).collect();
    let spec = |dport: u16, k: usize| {
        format!(
            "ipv4 src 10.1.1.1 ipv4 dst 10.2.2.2 udp src 1111 udp dst {dport} -> vi {}",
            eps[k].vi().0
        )
        .parse()
        .unwrap()
    };
    let h = nic.add_filter(spec(5000, 0)).unwrap();
    let at = h.entry();
    assert!(matches!(at, EntryIndex::Exact { profile: 0, .. }));
    settle(&nic);
    let f5000 = udp4([10, 1, 1, 1], [10, 2, 2, 2], 1111, 5000);
    let f6000 = udp4([10, 1, 1, 1], [10, 2, 2, 2], 1111, 6000);
    for _ in 0..3 {
        assert_eq!(
            deliver(&nic, &eps[0], &mut rxs[0], &f5000).0,
            Some(h.index())
        );
    }
    assert_eq!(h.hits().unwrap(), 3);
    // Same key, another VI: rewritten in its slot, its count kept.
    h.replace(spec(5000, 1)).unwrap();
    assert_eq!(h.entry(), at);
    assert_eq!(
        deliver(&nic, &eps[1], &mut rxs[1], &f5000).0,
        Some(h.index())
    );
    assert_eq!(h.hits().unwrap(), 4);
    // Another key: a new slot, the old one cleared; the count follows the filter.
    h.replace(spec(6000, 1)).unwrap();
    assert_eq!(
        deliver(&nic, &eps[1], &mut rxs[1], &f6000).0,
        Some(h.index())
    );
    assert_eq!(h.hits().unwrap(), 5);
    assert_eq!(nic.filter_hits(h.index()).unwrap(), 5);
    let before = nic.rx_counters().unwrap();
    nic.sim().unwrap().inject(f5000.clone(), false).unwrap();
    assert!(evnic_e2e::eventually(
        || nic.rx_counters().unwrap().frames == before.frames + 1
    ));
    assert_eq!(
        nic.rx_counters().unwrap().delivered,
        before.delivered,
        "the old key no longer matches: dropped by default"
    );
    assert_eq!(nic.exact_profiles()[0].entries, 1);
}

#[test]
fn a_nearly_full_profile_moves_entries_and_keeps_their_frames_and_hits() {
    const EARLY: usize = 200;
    let nic = setup();
    let ep = nic.endpoint(EndpointConfig::default()).unwrap();
    let mut rx = ep.receiver(9, 256).unwrap();
    let slots = nic.exact_profiles()[0].slots as usize;
    // 5-tuples from scattered source addresses (sequential ones hash almost without
    // collisions, and a table of them fills without a move).
    let vi = ep.vi().0;
    let all: Vec<Case> = (0..slots as u32)
        .map(|i| {
            let src = (0x0a00_0000 | i.wrapping_mul(2_654_435_761) >> 8).to_be_bytes();
            let [a, b, c, d] = src;
            Case {
                spec: format!("ipv4 src {a}.{b}.{c}.{d} ipv4 dst 192.168.1.1 udp src 7000 udp dst 9000 -> vi {vi}"),
                frame: udp4(src, [192, 168, 1, 1], 7000, 9000),
                profile: 0,
            }
        })
        .collect();
    settle(&nic);
    // Fill profile 0 until a key finds no slot (it goes to the ternary table, said so).
    let mut handles = Vec::new();
    let mut installed_at = Vec::new();
    for (n, c) in all.iter().enumerate() {
        let h = nic.add_filter(c.spec.parse().unwrap()).unwrap();
        if let Some(why) = h.ternary_reason() {
            assert_eq!(why, TernaryReason::Full { profile: 0 }, "{}", c.spec);
            assert!(matches!(h.entry(), EntryIndex::Ternary(_)));
            break;
        }
        installed_at.push(h.index());
        handles.push(h);
        if n < EARLY {
            // A first frame while the table is still sparse.
            let (source, data) = deliver(&nic, &ep, &mut rx, &c.frame);
            assert_eq!(source, Some(installed_at[n]));
            assert_eq!(data, c.frame);
        }
    }
    let exact = handles.len();
    assert!(exact * 10 >= slots * 9, "{exact} of {slots} slots filled");
    let moved = handles
        .iter()
        .zip(&installed_at)
        .filter(|(h, at)| h.index() != **at)
        .count();
    assert!(moved > 0, "filling the table moved entries");
    // Every frame reaches its filter where it is now; hits followed the moved entries.
    for (n, (c, h)) in all.iter().zip(&handles).enumerate() {
        let (source, _) = deliver(&nic, &ep, &mut rx, &c.frame);
        assert_eq!(source, Some(h.index()), "{}", c.spec);
        let want = if n < EARLY { 2 } else { 1 };
        assert_eq!(h.hits().unwrap(), want, "{}", c.spec);
    }
    assert!(ep.poll().is_none(), "no stray event");
    eprintln!("{exact} of {slots} slots filled; {moved} entries moved while the table filled");
}
