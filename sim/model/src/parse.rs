//! The reference model of the RX parser (`hdl/src/parser.rs`).
//!
//! The rules, which the RTL implements bit for bit (`L` is the frame's length with its FCS as
//! the device counts it, saturating at 0xffff, and `D` = `L` - 4: the length rule of
//! [`evnic_regs::event::rx_flags`]):
//!
//! - A header's fields enter the key only when the whole header lies within the first `D` bytes.
//!   A header that is announced (by the type or protocol field before it) but does not fit sets
//!   [`TRUNCATED`](rx_flags::TRUNCATED), and it and everything after it stay 0 in the key.
//! - Ethernet II (14 bytes): `dst_mac`, `ethertype`. Up to two VLAN tags (TPID 0x8100 or 0x88a8,
//!   4 bytes each): `vlan_outer`, `vlan_inner`, `vlan_count`; `ethertype` is then the type field
//!   after the last complete tag. A third tag is not parsed (`ethertype` = its TPID, no L3).
//! - IPv4 (ethertype 0x0800): the first 20 bytes must fit (else TRUNCATED). A version other than
//!   4 or IHL < 5 sets [`BAD_IPV4`](rx_flags::BAD_IPV4) and stops. The IHL*4 bytes must fit (else
//!   TRUNCATED, no IP fields). Then `ip_version` = 4, `ip_proto`, `src_ip`, `dst_ip` are set; a
//!   wrong header checksum sets BAD_IPV4 (fields are kept); a total length below IHL*4 sets
//!   BAD_IPV4 and stops before L4; a total length beyond the bytes present sets TRUNCATED.
//!   L4 is parsed only when the fragment offset is 0.
//! - IPv6 (0x86dd): 40 bytes must fit (else TRUNCATED). A version other than 6 leaves the IP
//!   fields 0 without a flag. `ip_proto` = next header (extension headers are not followed); a
//!   payload length beyond the bytes present sets TRUNCATED.
//! - L4, right after the IP header, for TCP (6, 20-byte header), UDP (17, 8 bytes), ICMP (1 under
//!   IPv4, 58 under IPv6, 8 bytes): the header must fit both in the frame and in the IP length
//!   (else TRUNCATED). Ports, or ICMP type in `l4_src` and code in `l4_dst`.
//! - Ethernet OAM (0x8902): its 4-byte common header must fit (else TRUNCATED); `oam_level` =
//!   the top 3 bits of its first byte, `oam_opcode` = its second byte.
//! - [`RUNT`](rx_flags::RUNT): `L` < 64. [`OVERSIZE`](rx_flags::OVERSIZE): `L` > `max_len`.
//!   [`MAC_ERROR`](rx_flags::MAC_ERROR): the MAC flagged the last beat.
//! - `len` is `L`.
//!
//! The parser looks only at the first [`HEADER_BYTES`] bytes of a frame, which hold every field
//! the rules above can reach (two tags, a 60-byte IPv4 header and the 4 bytes of L4 ports).

use evnic_regs::event::rx_flags;
use evnic_regs::key::{self, KeyBits};

pub const TPID_8021Q: u16 = 0x8100;
pub const TPID_8021AD: u16 = 0x88a8;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_OAM: u16 = 0x8902;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;
/// Frames shorter than this (FCS included) are runts.
pub const MIN_FRAME: usize = 64;
/// Bytes of a frame the parser reads: 14 + 2 tags + 60 bytes of IPv4 header + 4 bytes of ports,
/// rounded up to whole 8-byte beats.
pub const HEADER_BYTES: usize = 88;

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
    while tags < 2 && (ethertype == TPID_8021Q || ethertype == TPID_8021AD) {
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
    let avail = d - l3;

    // (ip version, protocol, L4 offset from l3, bytes the IP length allows for L4)
    let mut l4: Option<(u8, u8, usize, usize)> = None;
    match ethertype {
        ETHERTYPE_IPV4 => {
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
                l4 = Some((4, proto, hlen, total - hlen));
            }
        }
        ETHERTYPE_IPV6 => {
            if avail < 40 {
                p.flags |= rx_flags::TRUNCATED;
                return p;
            }
            if b(l3) >> 4 != 6 {
                return p;
            }
            let next = b(l3 + 6);
            p.key.set(key::IP_VERSION, 6);
            p.key.set(key::IP_PROTO, u128::from(next));
            p.key.set(key::SRC_IP, be(l3 + 8, 16));
            p.key.set(key::DST_IP, be(l3 + 24, 16));
            let payload = usize::from(be16(l3 + 4));
            if payload > avail - 40 {
                p.flags |= rx_flags::TRUNCATED;
            }
            l4 = Some((6, next, 40, payload));
        }
        ETHERTYPE_OAM => {
            if avail < 4 {
                p.flags |= rx_flags::TRUNCATED;
                return p;
            }
            p.key.set(key::OAM_LEVEL, u128::from(b(l3) >> 5));
            p.key.set(key::OAM_OPCODE, u128::from(b(l3 + 1)));
        }
        _ => {}
    }
    if let Some((version, proto, off, ip_room)) = l4 {
        if let Some(hl) = l4_header_len(version, proto) {
            if avail < off + hl || ip_room < hl {
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
