//! The reference model of the RX parser (`hdl/src/parser.rs`).
//!
//! The rules, which the RTL implements bit for bit (`L` is the frame's length with its FCS as
//! the device counts it, saturating at 0xffff, and `D` = `L` - 4: the length rule of
//! [`evnic_regs::event::rx_flags`]):
//!
//! - A header's fields enter the key only when the whole header lies within the first `D` bytes.
//!   A header that is announced (by the type or protocol field before it) but does not fit sets
//!   [`TRUNCATED`](rx_flags::TRUNCATED), and it and everything after it stay 0 in the key.
//! - Ethernet II (14 bytes): `dst_mac`, `ethertype`. Up to two VLAN tags (TPID 0x8100, 0x88a8
//!   or 0x9100, 4 bytes each, in any order: QinQ with a 0x88a8 or 0x9100 outer tag): `vlan_outer`,
//!   `vlan_inner`, `vlan_count`; `ethertype` is then the type field after the last complete tag.
//!   A third tag is not parsed (`ethertype` = its TPID, no L3).
//! - MPLS (ethertype 0x8847 or 0x8848): labels of 4 bytes each, up to [`MPLS_LABELS`]; each must
//!   fit (else TRUNCATED). `mpls_label` = the top (first) label. The stack ends at the label
//!   with the bottom-of-stack bit; a stack deeper than [`MPLS_LABELS`] is not parsed further
//!   (no flag, no IP fields). After the bottom label one byte must fit (else TRUNCATED); its
//!   top nibble chooses the payload: 4 = IPv4, 6 = IPv6 (the rules below, from there), other
//!   values (pseudowires, control words) are not parsed. `ethertype` stays 0x8847/0x8848.
//! - PPPoE session (0x8864): the 6-byte PPPoE header and the 2-byte PPP protocol must fit (else
//!   TRUNCATED). Version/type 0x11 and code 0x00 are required (else not parsed); PPP protocol
//!   0x0021 is IPv4, 0x0057 IPv6 (from the byte after it), others are not parsed. The PPPoE
//!   length field is not checked. `ethertype` stays 0x8864.
//! - IPv4 (ethertype 0x0800, or as above): the first 20 bytes must fit (else TRUNCATED). A
//!   version other than 4 or IHL < 5 sets [`BAD_IPV4`](rx_flags::BAD_IPV4) and stops. The IHL*4
//!   bytes must fit (else TRUNCATED, no IP fields). Then `ip_version` = 4, `ip_proto`, `src_ip`,
//!   `dst_ip` are set; a wrong header checksum sets BAD_IPV4 (fields are kept); a total length
//!   below IHL*4 sets BAD_IPV4 and stops before L4; a total length beyond the bytes present sets
//!   TRUNCATED. L4 is parsed only when the fragment offset is 0.
//! - IPv6 (0x86dd, or as above): 40 bytes must fit (else TRUNCATED). A version other than 6
//!   leaves the IP fields 0 without a flag. A payload length beyond the bytes present sets
//!   TRUNCATED. Extension headers (hop-by-hop 0, routing 43, fragment 44, destination options
//!   60) are followed: at most [`EXT_HEADERS`] of them, and only those that end within
//!   [`EXT_BYTES`] bytes after the IPv6 header (a fragment header is 8 bytes, the others
//!   (second byte + 1) * 8). For each in turn: when it cannot end within the limit (its first 8
//!   bytes, then its whole length), or it is the third, the walk stops with no flag; else its
//!   first 8 bytes must fit the frame, then all of it (else TRUNCATED, the walk stops). A
//!   fragment header with a non-zero fragment offset (a non-first fragment) ends the walk
//!   after it: its next header is the protocol, and L4 is not parsed (as for IPv4). `ip_proto`
//!   = the next header where the walk ended; L4 follows only when the walk reached a header
//!   other than those four (and not a non-first fragment).
//! - L4, right after the IP header (and the IPv6 extension headers), for TCP (6, 20-byte header), UDP (17, 8 bytes), ICMP (1 under
//!   IPv4, 58 under IPv6, 8 bytes): the header must fit both in the frame and in the IP length
//!   (else TRUNCATED). Ports, or ICMP type in `l4_src` and code in `l4_dst`.
//! - Ethernet OAM (0x8902): its 4-byte common header must fit (else TRUNCATED); `oam_level` =
//!   the top 3 bits of its first byte, `oam_opcode` = its second byte.
//! - [`RUNT`](rx_flags::RUNT): `L` < 64. [`OVERSIZE`](rx_flags::OVERSIZE): `L` > `max_len`.
//!   [`MAC_ERROR`](rx_flags::MAC_ERROR): the MAC flagged the last beat.
//! - `len` is `L`.
//!
//! The parser looks only at the first [`HEADER_BYTES`] bytes of a frame, which hold every field
//! the rules above can reach (two tags, four MPLS labels, the IPv6 header, 64 bytes of
//! extension headers and the 4 bytes of L4 ports: 146 bytes).
//!
//! Lengths: `L` saturates at 0xffff, and every rule measures the saturated count, in the RTL
//! and here alike: a frame of more than 65,535 bytes is judged as if it had 65,535 (an IP
//! length that fits the true length but not 65,531 data bytes is TRUNCATED).

use evnic_regs::event::rx_flags;
use evnic_regs::key::{self, KeyBits};

pub const TPID_8021Q: u16 = 0x8100;
pub const TPID_8021AD: u16 = 0x88a8;
/// The pre-standard QinQ TPID, taken as a tag like the two above.
pub const TPID_QINQ: u16 = 0x9100;
pub const ETHERTYPE_MPLS: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MC: u16 = 0x8848;
pub const ETHERTYPE_PPPOE: u16 = 0x8864;
pub const PPP_IPV4: u16 = 0x0021;
pub const PPP_IPV6: u16 = 0x0057;
/// MPLS labels the parser follows to the bottom of the stack.
pub const MPLS_LABELS: usize = 4;
/// IPv6 extension headers the parser follows.
pub const EXT_HEADERS: usize = 2;
/// Bytes after the IPv6 header within which every followed extension header ends.
pub const EXT_BYTES: usize = 64;
pub const EXT_HOP_BY_HOP: u8 = 0;
pub const EXT_ROUTING: u8 = 43;
pub const EXT_FRAGMENT: u8 = 44;
pub const EXT_DEST_OPTS: u8 = 60;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_OAM: u16 = 0x8902;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;
/// Frames shorter than this (FCS included) are runts.
pub const MIN_FRAME: usize = 64;
/// Bytes of a frame the parser reads: 14 + 2 tags + 4 labels + 40 bytes of IPv6 header + 64 of
/// extension headers + 4 bytes of ports, rounded up to whole 8-byte beats.
pub const HEADER_BYTES: usize = 152;

/// True for the IPv6 extension headers the parser follows.
pub fn is_ext_header(nh: u8) -> bool {
    matches!(
        nh,
        EXT_HOP_BY_HOP | EXT_ROUTING | EXT_FRAGMENT | EXT_DEST_OPTS
    )
}

/// The parser's result for one frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub key: KeyBits,
    /// [`rx_flags`] bits (never FCS_BAD, which belongs to the CRC block).
    pub flags: u8,
    /// Frame length including the FCS, saturating at 0xffff.
    pub len: u16,
}

/// Header length of the L4 protocols the parser reads, for an IP version.
pub fn l4_header_len(ip_version: u8, proto: u8) -> Option<usize> {
    match (ip_version, proto) {
        (_, PROTO_TCP) => Some(20),
        (_, PROTO_UDP) => Some(8),
        (4, PROTO_ICMP) | (6, PROTO_ICMPV6) => Some(8),
        _ => None,
    }
}

/// True when the IPv4 header `hdr` (IHL*4 bytes) has a good checksum: its 16-bit words sum,
/// in one's complement, to 0xffff.
pub fn ipv4_checksum_ok(hdr: &[u8]) -> bool {
    let mut sum: u32 = hdr
        .chunks(2)
        .map(|w| u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0)))
        .sum();
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum == 0xffff
}

/// Parses one frame (`frame` includes its FCS) as the RTL parser does.
pub fn parse(frame: &[u8], mac_err: bool, max_len: u16) -> Parsed {
    let len = frame.len().min(0xffff) as u16;
    // Every length rule measures the saturated count, as the RTL does.
    let d = usize::from(len).saturating_sub(4);
    let mut p = Parsed {
        len,
        ..Parsed::default()
    };
    if usize::from(len) < MIN_FRAME {
        p.flags |= rx_flags::RUNT;
    }
    if len > max_len {
        p.flags |= rx_flags::OVERSIZE;
    }
    if mac_err {
        p.flags |= rx_flags::MAC_ERROR;
    }
    let b = |i: usize| frame[i];
    let be16 = |i: usize| u16::from(b(i)) << 8 | u16::from(b(i + 1));
    let be = |i: usize, n: usize| (i..i + n).fold(0u128, |acc, j| acc << 8 | u128::from(b(j)));

    if d < 14 {
        p.flags |= rx_flags::TRUNCATED;
        return p;
    }
    p.key.set(key::DST_MAC, be(0, 6));
    let mut ethertype = be16(12);
    let mut l3 = 14;
    let mut tags = 0u128;
    while tags < 2 && [TPID_8021Q, TPID_8021AD, TPID_QINQ].contains(&ethertype) {
        if d < l3 + 4 {
            p.flags |= rx_flags::TRUNCATED;
            break;
        }
        let vid = u128::from(be16(l3) & 0xfff);
        p.key.set(
            if tags == 0 {
                key::VLAN_OUTER
            } else {
                key::VLAN_INNER
            },
            vid,
        );
        ethertype = be16(l3 + 2);
        l3 += 4;
        tags += 1;
    }
    p.key.set(key::VLAN_COUNT, tags);
    p.key.set(key::ETHERTYPE, u128::from(ethertype));
    if p.flags & rx_flags::TRUNCATED != 0 {
        return p;
    }

    // What follows L2: the IP version it carries (0: none parsed) from byte `l3` on.
    let ip = match ethertype {
        ETHERTYPE_IPV4 => 4,
        ETHERTYPE_IPV6 => 6,
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MC => {
            let mut bottom = false;
            for i in 0..MPLS_LABELS {
                if d < l3 + 4 {
                    p.flags |= rx_flags::TRUNCATED;
                    return p;
                }
                if i == 0 {
                    p.key.set(key::MPLS_LABEL, be(l3, 3) >> 4);
                }
                bottom = b(l3 + 2) & 1 == 1;
                l3 += 4;
                if bottom {
                    break;
                }
            }
            if !bottom {
                return p;
            }
            if d < l3 + 1 {
                p.flags |= rx_flags::TRUNCATED;
                return p;
            }
            match b(l3) >> 4 {
                4 => 4,
                6 => 6,
                _ => return p,
            }
        }
        ETHERTYPE_PPPOE => {
            if d < l3 + 8 {
                p.flags |= rx_flags::TRUNCATED;
                return p;
            }
            if b(l3) != 0x11 || b(l3 + 1) != 0 {
                return p;
            }
            let proto = be16(l3 + 6);
            l3 += 8;
            match proto {
                PPP_IPV4 => 4,
                PPP_IPV6 => 6,
                _ => return p,
            }
        }
        _ => 0,
    };
    let avail = d - l3;
    if ethertype == ETHERTYPE_OAM {
        if avail < 4 {
            p.flags |= rx_flags::TRUNCATED;
            return p;
        }
        p.key.set(key::OAM_LEVEL, u128::from(b(l3) >> 5));
        p.key.set(key::OAM_OPCODE, u128::from(b(l3 + 1)));
    }

    // (ip version, protocol, L4 offset from l3, bytes the IP length allows from l3 + 40 or
    // l3 + IHL*4 on, which is where the L4 offset counts from)
    let mut l4: Option<(u8, u8, usize, usize)> = None;
    match ip {
        4 => {
            if avail < 20 {
                p.flags |= rx_flags::TRUNCATED;
                return p;
            }
            let version = b(l3) >> 4;
            let hlen = usize::from(b(l3) & 0xf) * 4;
            if version != 4 || hlen < 20 {
                p.flags |= rx_flags::BAD_IPV4;
                return p;
            }
            if avail < hlen {
                p.flags |= rx_flags::TRUNCATED;
                return p;
            }
            let proto = b(l3 + 9);
            p.key.set(key::IP_VERSION, 4);
            p.key.set(key::IP_PROTO, u128::from(proto));
            p.key.set(key::SRC_IP, be(l3 + 12, 4));
            p.key.set(key::DST_IP, be(l3 + 16, 4));
            if !ipv4_checksum_ok(&frame[l3..l3 + hlen]) {
                p.flags |= rx_flags::BAD_IPV4;
            }
            let total = usize::from(be16(l3 + 2));
            if total > avail {
                p.flags |= rx_flags::TRUNCATED;
            }
            if total < hlen {
                p.flags |= rx_flags::BAD_IPV4;
                return p;
            }
            if be16(l3 + 6) & 0x1fff == 0 {
                l4 = Some((4, proto, hlen, total));
            }
        }
        6 => {
            if avail < 40 {
                p.flags |= rx_flags::TRUNCATED;
                return p;
            }
            if b(l3) >> 4 != 6 {
                return p;
            }
            p.key.set(key::IP_VERSION, 6);
            p.key.set(key::SRC_IP, be(l3 + 8, 16));
            p.key.set(key::DST_IP, be(l3 + 24, 16));
            let payload = usize::from(be16(l3 + 4));
            if payload > avail - 40 {
                p.flags |= rx_flags::TRUNCATED;
            }
            // The extension header walk: `off` bytes after the IPv6 header.
            let mut next = b(l3 + 6);
            let mut off = 0;
            let mut walked = true;
            for _ in 0..EXT_HEADERS {
                if !is_ext_header(next) {
                    break;
                }
                let at = l3 + 40 + off;
                if off + 8 > EXT_BYTES {
                    walked = false;
                    break;
                }
                if avail < 40 + off + 8 {
                    p.flags |= rx_flags::TRUNCATED;
                    walked = false;
                    break;
                }
                let hl = if next == EXT_FRAGMENT {
                    8
                } else {
                    (usize::from(b(at + 1)) + 1) * 8
                };
                if off + hl > EXT_BYTES {
                    walked = false;
                    break;
                }
                if avail < 40 + off + hl {
                    p.flags |= rx_flags::TRUNCATED;
                    walked = false;
                    break;
                }
                let nonfirst = next == EXT_FRAGMENT && be16(at + 2) >> 3 != 0;
                next = b(at);
                off += hl;
                if nonfirst {
                    walked = false;
                    break;
                }
            }
            p.key.set(key::IP_PROTO, u128::from(next));
            if walked && !is_ext_header(next) {
                l4 = Some((6, next, 40 + off, 40 + payload));
            }
        }
        _ => {}
    }
    if let Some((version, proto, off, ip_room)) = l4 {
        if let Some(hl) = l4_header_len(version, proto) {
            if avail < off + hl || ip_room < off + hl {
                p.flags |= rx_flags::TRUNCATED;
            } else if proto == PROTO_TCP || proto == PROTO_UDP {
                p.key.set(key::L4_SRC, u128::from(be16(l3 + off)));
                p.key.set(key::L4_DST, u128::from(be16(l3 + off + 2)));
            } else {
                p.key.set(key::L4_SRC, u128::from(b(l3 + off)));
                p.key.set(key::L4_DST, u128::from(b(l3 + off + 1)));
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: &[u8], total: usize) -> Vec<u8> {
        let mut f = bytes.to_vec();
        f.resize(total, 0);
        f
    }

    #[test]
    fn empty_and_tiny_frames_are_truncated_runts() {
        for n in 0..18 {
            let p = parse(&vec![0x55; n], false, 1518);
            assert_eq!(p.len as usize, n);
            assert_eq!(p.flags, rx_flags::RUNT | rx_flags::TRUNCATED, "n={n}");
            assert_eq!(p.key, KeyBits::default());
        }
        // 18 bytes = a full Ethernet header + FCS: not truncated.
        let p = parse(&[0x55; 18], false, 1518);
        assert_eq!(p.flags, rx_flags::RUNT);
        assert_eq!(p.key.get(key::ETHERTYPE), 0x5555);
    }

    #[test]
    fn incomplete_vlan_tag_keeps_the_tpid() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08]);
        f.extend_from_slice(&[0; 4]); // 17 data bytes + FCS
        let p = parse(&f, false, 1518);
        assert_eq!(p.flags & rx_flags::TRUNCATED, rx_flags::TRUNCATED);
        assert_eq!(p.key.get(key::ETHERTYPE), 0x8100);
        assert_eq!(p.key.get(key::VLAN_COUNT), 0);
    }

    #[test]
    fn third_tag_is_not_parsed() {
        let mut f = vec![0u8; 12];
        for (tpid, vid) in [(0x88a8u16, 7u16), (0x8100, 9), (0x8100, 11)] {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&vid.to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let p = parse(&frame(&f, 80), false, 1518);
        assert_eq!(p.key.get(key::VLAN_COUNT), 2);
        assert_eq!(p.key.get(key::VLAN_OUTER), 7);
        assert_eq!(p.key.get(key::VLAN_INNER), 9);
        assert_eq!(p.key.get(key::ETHERTYPE), 0x8100);
        assert_eq!(p.key.get(key::IP_VERSION), 0);
        assert_eq!(p.flags, 0);
    }

    #[test]
    fn runt_oversize_and_mac_error() {
        let p = parse(&[0; 63], true, 62);
        assert_eq!(
            p.flags,
            rx_flags::RUNT | rx_flags::OVERSIZE | rx_flags::MAC_ERROR
        );
        let p = parse(&[0; 64], false, 64);
        assert_eq!(p.flags, 0);
        let p = parse(&vec![0; 70_000], false, 9022);
        assert_eq!(p.len, 0xffff);
        assert_eq!(p.flags, rx_flags::OVERSIZE);
    }

    /// An IPv4 packet of total length `total` behind an Ethernet header, padded to `frame_len`
    /// bytes (FCS included).
    fn long_ipv4(total: u16, frame_len: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 64, PROTO_UDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        let sum: u32 = f[14..34]
            .chunks(2)
            .map(|w| u32::from(w[0]) << 8 | u32::from(w[1]))
            .sum();
        let c = !(((sum & 0xffff) + (sum >> 16)) as u16);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f.resize(frame_len, 0);
        f
    }

    #[test]
    fn lengths_beyond_0xffff_are_judged_at_the_saturated_count() {
        // Total length 65,535 fits a 65,553-byte frame, but not the 65,531 data bytes the
        // saturated count allows: TRUNCATED, as the RTL decides.
        let p = parse(&long_ipv4(65_535, 14 + 65_535 + 4), false, 0xffff);
        assert_eq!(p.len, 0xffff);
        assert_eq!(p.flags, rx_flags::TRUNCATED);
        assert_eq!(p.key.get(key::IP_VERSION), 4);
        // The largest total length that fits the saturated count: no flag, however long the
        // frame.
        for n in [65_535, 65_536, 70_000, 262_144] {
            let p = parse(&long_ipv4(65_535 - 4 - 14, n), false, 0xffff);
            assert_eq!(p.flags, 0, "{n} bytes");
            let p = parse(&long_ipv4(65_535 - 4 - 14 + 1, n), false, 0xffff);
            assert_eq!(p.flags, rx_flags::TRUNCATED, "{n} bytes");
        }
    }

    #[test]
    fn ipv4_bad_ihl_and_version() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x44]);
        let p = parse(&frame(&f, 80), false, 1518);
        assert_eq!(p.flags, rx_flags::BAD_IPV4);
        assert_eq!(p.key.get(key::IP_VERSION), 0);
        f[14] = 0x55;
        let p = parse(&frame(&f, 80), false, 1518);
        assert_eq!(p.flags, rx_flags::BAD_IPV4);
    }

    /// Ethernet (dst 02:..:01) with `l2` after the MACs (tags and type), then `rest`, padded
    /// to at least 64 bytes with a 4-byte FCS placeholder.
    fn eth(l2: &[u8], rest: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(l2);
        f.extend_from_slice(rest);
        let n = (f.len() + 4).max(64);
        f.resize(n, 0);
        f
    }

    /// A 20-byte IPv4 header (good checksum) with a UDP header 1234 -> 80 and `extra` bytes.
    fn ipv4_udp(extra: usize) -> Vec<u8> {
        let total = (20 + 8 + extra) as u16;
        let mut h = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, PROTO_UDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        h[2..4].copy_from_slice(&total.to_be_bytes());
        let sum: u32 = h
            .chunks(2)
            .map(|w| u32::from(w[0]) << 8 | u32::from(w[1]))
            .sum();
        let c = !(((sum & 0xffff) + (sum >> 16)) as u16);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(&[0x04, 0xd2, 0, 80, 0, (8 + extra) as u8, 0, 0]);
        h.resize(20 + 8 + extra, 0);
        h
    }

    /// An IPv6 header with next header `nh`, then `rest` (its payload).
    fn ipv6(nh: u8, rest: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&(rest.len() as u16).to_be_bytes());
        h.extend_from_slice(&[nh, 64]);
        h.extend((0..16).map(|i| 0x20 + i));
        h.extend((0..16).map(|i| 0x30 + i));
        h.extend_from_slice(rest);
        h
    }

    fn mpls(labels: &[u32]) -> Vec<u8> {
        let mut out = vec![];
        for (i, l) in labels.iter().enumerate() {
            let bos = u32::from(i + 1 == labels.len());
            out.extend_from_slice(&(l << 12 | bos << 8 | 64).to_be_bytes());
        }
        out
    }

    #[test]
    fn qinq_tpid_0x9100_is_a_tag() {
        for (outer, inner) in [(0x9100u16, 0x8100u16), (0x88a8, 0x8100), (0x9100, 0x9100)] {
            let mut l2 = vec![];
            l2.extend_from_slice(&outer.to_be_bytes());
            l2.extend_from_slice(&[0x00, 0x07]);
            l2.extend_from_slice(&inner.to_be_bytes());
            l2.extend_from_slice(&[0x00, 0x09, 0x08, 0x00]);
            let p = parse(&eth(&l2, &ipv4_udp(10)), false, 1518);
            assert_eq!(p.key.get(key::VLAN_COUNT), 2);
            assert_eq!(p.key.get(key::VLAN_OUTER), 7);
            assert_eq!(p.key.get(key::VLAN_INNER), 9);
            assert_eq!(p.key.get(key::ETHERTYPE), 0x0800);
            assert_eq!(p.key.get(key::L4_DST), 80);
            assert_eq!(p.flags, 0);
        }
    }

    #[test]
    fn mpls_stack_to_ip() {
        let v6 = ipv6(PROTO_UDP, &[0, 53, 0, 99, 0, 8, 0, 0]);
        for depth in 1..=MPLS_LABELS {
            let labels: Vec<u32> = (0..depth as u32).map(|i| 1000 + i).collect();
            for (payload, ver, port) in [(ipv4_udp(4), 4, 80), (v6.clone(), 6, 99)] {
                let mut rest = mpls(&labels);
                rest.extend_from_slice(&payload);
                let p = parse(&eth(&[0x88, 0x47], &rest), false, 1518);
                assert_eq!(p.flags, 0, "depth {depth}");
                assert_eq!(p.key.get(key::ETHERTYPE), 0x8847);
                assert_eq!(p.key.get(key::MPLS_LABEL), 1000);
                assert_eq!(p.key.get(key::IP_VERSION), ver);
                assert_eq!(p.key.get(key::IP_PROTO), u128::from(PROTO_UDP));
                assert_eq!(p.key.get(key::L4_DST), port);
            }
        }
        // Five labels: the label is known, the IP is not parsed, no flag.
        let mut rest = mpls(&[1, 2, 3, 4, 5]);
        rest.extend_from_slice(&ipv4_udp(4));
        let p = parse(&eth(&[0x88, 0x48], &rest), false, 1518);
        assert_eq!((p.flags, p.key.get(key::MPLS_LABEL)), (0, 1));
        assert_eq!(p.key.get(key::IP_VERSION), 0);
        // A pseudowire control word (nibble 0): not parsed.
        let mut rest = mpls(&[77]);
        rest.extend_from_slice(&[0; 40]);
        let p = parse(&eth(&[0x88, 0x47], &rest), false, 1518);
        assert_eq!((p.flags, p.key.get(key::IP_VERSION)), (0, 0));
        // Cut inside the stack, and right after it: TRUNCATED.
        let mut f = eth(&[0x88, 0x47], &mpls(&[5, 6]));
        f.truncate(14 + 6 + 4);
        let p = parse(&f, false, 1518);
        assert_ne!(p.flags & rx_flags::TRUNCATED, 0);
        assert_eq!(p.key.get(key::MPLS_LABEL), 5);
        let mut f = eth(&[0x88, 0x47], &mpls(&[5, 6]));
        f.truncate(14 + 8 + 4);
        assert_ne!(parse(&f, false, 1518).flags & rx_flags::TRUNCATED, 0);
    }

    #[test]
    fn pppoe_session_to_ip() {
        let mut hdr = vec![0x11, 0x00, 0x12, 0x34, 0x00, 0x30, 0x00, 0x21];
        hdr.extend_from_slice(&ipv4_udp(2));
        let p = parse(&eth(&[0x88, 0x64], &hdr), false, 1518);
        assert_eq!(p.flags, 0);
        assert_eq!(p.key.get(key::ETHERTYPE), 0x8864);
        assert_eq!(p.key.get(key::IP_VERSION), 4);
        assert_eq!(p.key.get(key::L4_SRC), 1234);
        let mut hdr = vec![0x11, 0x00, 0x12, 0x34, 0x00, 0x30, 0x00, 0x57];
        hdr.extend_from_slice(&ipv6(58, &[128, 0, 0, 0, 0, 0, 0, 0]));
        let p = parse(&eth(&[0x88, 0x64], &hdr), false, 1518);
        assert_eq!(p.key.get(key::IP_VERSION), 6);
        assert_eq!((p.key.get(key::L4_SRC), p.key.get(key::L4_DST)), (128, 0));
        // LCP (0xc021), a discovery code, a wrong version: not parsed.
        for (at, v) in [(7, 0x21u8), (1, 0x09), (0, 0x21)] {
            let mut h = hdr.clone();
            h[at] = if at == 7 { 0x23 } else { v };
            let p = parse(&eth(&[0x88, 0x64], &h), false, 1518);
            assert_eq!((p.flags, p.key.get(key::IP_VERSION)), (0, 0));
        }
    }

    /// An extension header of type-specific `len` bytes (multiple of 8) with next header `nh`.
    fn ext(nh: u8, len: usize) -> Vec<u8> {
        let mut e = vec![nh, (len / 8 - 1) as u8];
        e.resize(len, 1);
        e
    }

    #[test]
    fn ipv6_extension_headers_to_l4() {
        let udp = [0x12, 0x34, 0x00, 0x35, 0, 8, 0, 0];
        let chain = |exts: &[(u8, usize)], last: u8| {
            let mut pl = vec![];
            for (i, &(_, len)) in exts.iter().enumerate() {
                let nh = exts.get(i + 1).map_or(last, |e| e.0);
                pl.extend_from_slice(&ext(nh, len));
            }
            pl.extend_from_slice(&udp);
            ipv6(exts.first().map_or(last, |e| e.0), &pl)
        };
        let cases: &[(&[(u8, usize)], bool)] = &[
            (&[(0, 8)], true),
            (&[(43, 24)], true),
            (&[(60, 64)], true),
            (&[(0, 8), (60, 56)], true),
            (&[(0, 8), (60, 64)], false),
            (&[(60, 72)], false),
            (&[(0, 8), (43, 8), (60, 8)], false),
        ];
        for &(exts, walked) in cases {
            let p = parse(&eth(&[0x86, 0xdd], &chain(exts, PROTO_UDP)), false, 9000);
            assert_eq!(p.flags, 0, "{exts:?}");
            assert_eq!(p.key.get(key::IP_VERSION), 6);
            if walked {
                assert_eq!(p.key.get(key::IP_PROTO), u128::from(PROTO_UDP), "{exts:?}");
                assert_eq!(p.key.get(key::L4_DST), 53, "{exts:?}");
            } else {
                assert!(is_ext_header(p.key.get(key::IP_PROTO) as u8), "{exts:?}");
                assert_eq!(p.key.get(key::L4_DST), 0, "{exts:?}");
            }
        }
        // Fragments: the first (offset 0, more fragments) has ports; a later one does not,
        // and its protocol is the fragment header's next header.
        let mut frag = vec![PROTO_UDP, 0, 0x00, 0x01, 0, 0, 0, 7];
        frag.extend_from_slice(&udp);
        let p = parse(&eth(&[0x86, 0xdd], &ipv6(44, &frag)), false, 1518);
        assert_eq!((p.key.get(key::IP_PROTO), p.key.get(key::L4_DST)), (17, 53));
        frag[2] = 0x01;
        let p = parse(&eth(&[0x86, 0xdd], &ipv6(44, &frag)), false, 1518);
        assert_eq!((p.key.get(key::IP_PROTO), p.key.get(key::L4_DST)), (17, 0));
        assert_eq!(p.flags, 0);
        // An extension header cut short: TRUNCATED, the walk stops at it.
        let mut f = eth(&[0x86, 0xdd], &chain(&[(0, 8), (43, 24)], PROTO_UDP));
        f.truncate(14 + 40 + 8 + 20 + 4);
        let p = parse(&f, false, 1518);
        assert_ne!(p.flags & rx_flags::TRUNCATED, 0);
        assert_eq!((p.key.get(key::IP_PROTO), p.key.get(key::L4_DST)), (43, 0));
    }

    #[test]
    fn checksum_of_a_known_header() {
        // Example header from RFC 1071 style test vectors (checksum 0xb861).
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(ipv4_checksum_ok(&hdr));
        let mut bad = hdr;
        bad[11] ^= 1;
        assert!(!ipv4_checksum_ok(&bad));
    }
}
