//! Cross-checks the parser model against `etherparse` on generated and mutated frames.

use etherparse::{LinkExtHeader, LinkHeader, NetHeaders, PacketHeaders, TransportHeader};
use evnic_model::gen::{Encap, FrameGen, FrameKind, Mutation};
use evnic_model::parse::{
    is_ext_header, parse, ETHERTYPE_OAM, EXT_BYTES, EXT_FRAGMENT, EXT_HEADERS, MPLS_LABELS,
};
use evnic_regs::event::rx_flags;
use evnic_regs::key;
use std::collections::HashMap;

const MAX_LEN: u16 = 9022;

fn be(b: &[u8]) -> u128 {
    b.iter().fold(0, |a, &x| a << 8 | u128::from(x))
}

#[test]
fn model_agrees_with_etherparse() {
    let mut g = FrameGen::new(0x5eed);
    let mut compared: HashMap<FrameKind, usize> = HashMap::new();
    let mut l4_compared = 0;
    let mut truncated_seen = 0;
    let mut encap_compared = 0;
    let mut ext_compared = 0;
    for n in 0..30_000 {
        let f = g.next_frame();
        let p = parse(&f.bytes, f.mac_err, MAX_LEN);
        let len = f.bytes.len();
        let ctx = format!(
            "frame {n} {:?} {:?} vlans {} {:?} exts {:?}",
            f.kind, f.mutation, f.vlans, f.encap, f.exts
        );
        assert_eq!(usize::from(p.len), len.min(0xffff), "{ctx}");
        assert_eq!(p.flags & rx_flags::RUNT != 0, len < 64, "{ctx}");
        assert_eq!(p.flags & rx_flags::OVERSIZE != 0, len > 9022, "{ctx}");
        assert_eq!(p.flags & rx_flags::MAC_ERROR != 0, f.mac_err, "{ctx}");
        assert_eq!(p.flags & rx_flags::FCS_BAD, 0);
        match f.mutation {
            Mutation::Truncated(cut) if cut < f.headers_end => {
                assert_ne!(p.flags & rx_flags::TRUNCATED, 0, "{ctx}");
                truncated_seen += 1;
            }
            Mutation::None | Mutation::MacError | Mutation::Oversize | Mutation::Fragment => {
                assert_eq!(
                    p.flags & (rx_flags::TRUNCATED | rx_flags::BAD_IPV4),
                    0,
                    "{ctx}"
                )
            }
            Mutation::BadIhl | Mutation::BadChecksum => {
                assert_ne!(p.flags & rx_flags::BAD_IPV4, 0, "{ctx}")
            }
            Mutation::LongIpLength => {
                assert_ne!(p.flags & rx_flags::TRUNCATED, 0, "{ctx}")
            }
            _ => {}
        }

        let data = &f.bytes[..len - 4];
        let Ok(h) = PacketHeaders::from_ethernet_slice(data) else {
            continue;
        };
        let Some(LinkHeader::Ethernet2(eth)) = &h.link else {
            panic!("{ctx}: no ethernet")
        };
        // Features the parser does not have by design: MACsec, a third tag.
        let mut tpids = vec![eth.ether_type.0];
        let mut vids = vec![];
        let mut exotic = false;
        for e in &h.link_exts {
            match e {
                LinkExtHeader::Vlan(v) => {
                    tpids.push(v.ether_type.0);
                    vids.push(u128::from(v.vlan_id.value()));
                }
                LinkExtHeader::Macsec(_) => exotic = true,
            }
        }
        if exotic || vids.len() > 2 {
            continue;
        }
        let ctx = format!("{ctx} {:02x?}", &data[..data.len().min(96)]);
        assert_eq!(p.key.get(key::DST_MAC), be(&eth.destination), "{ctx}");
        assert_eq!(p.key.get(key::VLAN_COUNT), vids.len() as u128, "{ctx}");
        assert_eq!(
            p.key.get(key::VLAN_OUTER),
            vids.first().copied().unwrap_or(0),
            "{ctx}"
        );
        assert_eq!(
            p.key.get(key::VLAN_INNER),
            vids.get(1).copied().unwrap_or(0),
            "{ctx}"
        );
        let ethertype = *tpids.last().unwrap();
        assert_eq!(p.key.get(key::ETHERTYPE), u128::from(ethertype), "{ctx}");
        // etherparse does not know MPLS or PPPoE: those are checked against the generator.
        if f.encap != Encap::None {
            check_encap(&f, &p, &ctx);
            encap_compared += 1;
            continue;
        }
        // etherparse accepted every header: nothing is truncated, but for the OAM header,
        // which etherparse does not know.
        let l3 = 14 + 4 * vids.len();
        let oam_short = ethertype == ETHERTYPE_OAM && data.len() < l3 + 4;
        assert_eq!(p.flags & rx_flags::TRUNCATED != 0, oam_short, "{ctx}");
        let mut exts_empty = true;
        let (version, proto, src, dst, l4_ok) = match &h.net {
            Some(NetHeaders::Ipv4(ip, exts)) => {
                let calc = ip.calc_header_checksum();
                // etherparse drops the reserved flag bit, so its checksum then differs.
                if calc != 0 && data[l3 + 6] & 0x80 == 0 {
                    assert_eq!(
                        p.flags & rx_flags::BAD_IPV4 != 0,
                        calc != ip.header_checksum,
                        "{ctx}"
                    );
                }
                let offset_zero = ip.fragment_offset.value() == 0;
                if !offset_zero {
                    assert_eq!(p.key.get(key::L4_SRC), 0, "{ctx}");
                    assert_eq!(p.key.get(key::L4_DST), 0, "{ctx}");
                }
                (
                    4,
                    ip.protocol.0,
                    be(&ip.source),
                    be(&ip.destination),
                    exts.is_empty() && !ip.is_fragmenting_payload(),
                )
            }
            Some(NetHeaders::Ipv6(ip, exts)) => {
                assert_eq!(p.flags & rx_flags::BAD_IPV4, 0, "{ctx}");
                // The extension headers the parser follows: at most EXT_HEADERS, ending
                // within EXT_BYTES, up to a non-first fragment.
                let mut next = ip.next_header.0;
                let mut at = l3 + 40;
                let mut walked = true;
                let mut count = 0;
                let mut fragmenting = false;
                while is_ext_header(next) {
                    if count == EXT_HEADERS {
                        walked = false;
                        break;
                    }
                    let len = if next == EXT_FRAGMENT {
                        8
                    } else {
                        (usize::from(data[at + 1]) + 1) * 8
                    };
                    if at + len - (l3 + 40) > EXT_BYTES {
                        walked = false;
                        break;
                    }
                    let field = u16::from_be_bytes([data[at + 2], data[at + 3]]);
                    let nonfirst = next == EXT_FRAGMENT && field >> 3 != 0;
                    if next == EXT_FRAGMENT {
                        // etherparse reads no L4 behind any fragment but an atomic one.
                        fragmenting = field & 0xfff9 != 0;
                    }
                    next = data[at];
                    at += len;
                    count += 1;
                    if nonfirst {
                        walked = false;
                        break;
                    }
                }
                if !exts.is_empty() {
                    ext_compared += 1;
                }
                exts_empty = exts.is_empty();
                (
                    6,
                    next,
                    be(&ip.source),
                    be(&ip.destination),
                    walked && !fragmenting,
                )
            }
            _ => {
                assert_eq!(p.flags & rx_flags::BAD_IPV4, 0, "{ctx}");
                (0, 0, 0, 0, false)
            }
        };
        assert_eq!(p.key.get(key::IP_VERSION), version, "{ctx}");
        assert_eq!(p.key.get(key::IP_PROTO), u128::from(proto), "{ctx}");
        assert_eq!(p.key.get(key::SRC_IP), src, "{ctx}");
        assert_eq!(p.key.get(key::DST_IP), dst, "{ctx}");
        if version == 0 {
            assert_eq!(p.key.get(key::L4_SRC), 0, "{ctx}");
            assert_eq!(p.key.get(key::L4_DST), 0, "{ctx}");
        }
        // etherparse stops at an extension header order it does not take (a second
        // destination options header without routing): then it has no transport to compare.
        let l4_ok = l4_ok && (h.transport.is_some() || version == 4 || exts_empty);
        if l4_ok {
            let (s, d) = match &h.transport {
                Some(TransportHeader::Udp(u)) => (u.source_port, u.destination_port),
                Some(TransportHeader::Tcp(t)) => (t.source_port, t.destination_port),
                // ICMP is read under its own IP version only.
                Some(TransportHeader::Icmpv4(i)) if version == 4 => {
                    let b = i.to_bytes();
                    (u16::from(b[0]), u16::from(b[1]))
                }
                Some(TransportHeader::Icmpv6(i)) if version == 6 => {
                    let b = i.to_bytes();
                    (u16::from(b[0]), u16::from(b[1]))
                }
                _ => (0, 0),
            };
            assert_eq!(p.key.get(key::L4_SRC), u128::from(s), "{ctx}");
            assert_eq!(p.key.get(key::L4_DST), u128::from(d), "{ctx}");
            l4_compared += 1;
        }
        if ethertype == ETHERTYPE_OAM && data.len() >= l3 + 4 {
            assert_eq!(p.key.get(key::OAM_LEVEL), u128::from(data[l3] >> 5));
            assert_eq!(p.key.get(key::OAM_OPCODE), u128::from(data[l3 + 1]));
        } else {
            assert_eq!(p.key.get(key::OAM_LEVEL), 0, "{ctx}");
            assert_eq!(p.key.get(key::OAM_OPCODE), 0, "{ctx}");
        }
        *compared.entry(f.kind).or_default() += 1;
    }
    for k in FrameKind::ALL {
        let c = compared.get(&k).copied().unwrap_or(0);
        assert!(c > 500, "only {c} frames of {k:?} compared");
    }
    assert!(l4_compared > 5000, "{l4_compared}");
    assert!(encap_compared > 3000, "{encap_compared}");
    assert!(ext_compared > 1000, "{ext_compared}");
    assert!(truncated_seen > 1000, "{truncated_seen}");
}

#[test]
fn every_kind_and_tag_count_parses_fully() {
    let mut g = FrameGen::new(3);
    for kind in FrameKind::ALL {
        for vlans in 0..=2 {
            for _ in 0..50 {
                let f = g.well_formed(kind, vlans);
                let p = parse(&f.bytes, false, MAX_LEN);
                assert_eq!(p.key.get(key::VLAN_COUNT), vlans as u128);
                assert_eq!(p.flags & !(rx_flags::RUNT | rx_flags::OVERSIZE), 0);
                let v = p.key.get(key::IP_VERSION);
                match kind {
                    FrameKind::Raw | FrameKind::Oam => assert_eq!(v, 0),
                    FrameKind::Ipv4Udp
                    | FrameKind::Ipv4Tcp
                    | FrameKind::Ipv4Icmp
                    | FrameKind::Ipv4Other => assert_eq!(v, 4),
                    _ => assert_eq!(v, 6),
                }
                let proto = p.key.get(key::IP_PROTO) as u8;
                let want = match kind {
                    FrameKind::Ipv4Udp | FrameKind::Ipv6Udp => Some(17),
                    FrameKind::Ipv4Tcp | FrameKind::Ipv6Tcp => Some(6),
                    FrameKind::Ipv4Icmp => Some(1),
                    FrameKind::Ipv6Icmp => Some(58),
                    _ => None,
                };
                if let Some(w) = want {
                    assert_eq!(proto, w);
                }
            }
        }
    }
}

/// An MPLS or PPPoE frame against what the generator built: the label, and the inner packet's
/// version where the parser reaches it.
fn check_encap(f: &evnic_model::gen::GenFrame, p: &evnic_model::parse::Parsed, ctx: &str) {
    let l2 = 14 + 4 * f.vlans;
    let data = &f.bytes[..f.bytes.len() - 4];
    let cut = matches!(f.mutation, Mutation::Truncated(c) if c < f.headers_end);
    if f.mutation == Mutation::Flipped {
        return;
    }
    if let Encap::Mpls(_) = f.encap {
        if data.len() >= l2 + 4 {
            let top = be(&data[l2..l2 + 3]) >> 4;
            assert_eq!(p.key.get(key::MPLS_LABEL), top, "{ctx}");
        }
    } else {
        assert_eq!(p.key.get(key::MPLS_LABEL), 0, "{ctx}");
    }
    if f.mutation != Mutation::None {
        return;
    }
    let want = match (f.encap, f.kind) {
        (Encap::Mpls(n), _) if n > MPLS_LABELS => 0,
        (_, FrameKind::Raw | FrameKind::Oam) => 0,
        (
            _,
            FrameKind::Ipv4Udp | FrameKind::Ipv4Tcp | FrameKind::Ipv4Icmp | FrameKind::Ipv4Other,
        ) => 4,
        _ => 6,
    };
    assert!(!cut);
    assert_eq!(p.key.get(key::IP_VERSION), want, "{ctx}");
    assert_eq!(
        p.flags & (rx_flags::TRUNCATED | rx_flags::BAD_IPV4),
        0,
        "{ctx}"
    );
    if want == 4 {
        assert_eq!(
            p.key.get(key::SRC_IP),
            be(&data[f.l3 + 12..f.l3 + 16]),
            "{ctx}"
        );
    }
    if want == 6 {
        assert_eq!(
            p.key.get(key::DST_IP),
            be(&data[f.l3 + 24..f.l3 + 40]),
            "{ctx}"
        );
    }
}
