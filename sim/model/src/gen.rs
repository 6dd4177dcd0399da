//! A seeded generator of received frames, well formed (built with `etherparse`) and mutated,
//! for the parser and RX tests. Every frame carries a valid Ethernet FCS over its data (a
//! truncated frame gets the FCS of what is left), so tests of the CRC block can reuse it.

use crate::parse::{
    ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_MPLS, ETHERTYPE_MPLS_MC, ETHERTYPE_OAM,
    ETHERTYPE_PPPOE, EXT_BYTES, EXT_DEST_OPTS, EXT_FRAGMENT, EXT_HEADERS, EXT_HOP_BY_HOP,
    EXT_ROUTING, MPLS_LABELS, PPP_IPV4, PPP_IPV6, PROTO_ICMP, PROTO_TCP, PROTO_UDP, TPID_8021AD,
    TPID_8021Q, TPID_QINQ,
};
use etherparse::{IpHeaders, IpNumber, Ipv4Header, Ipv4Options, Ipv6Header, PacketBuilder};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a generated frame is, before any mutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// Ethernet with an ethertype the parser does not look into.
    Raw,
    Ipv4Udp,
    Ipv4Tcp,
    Ipv4Icmp,
    /// IPv4 with a protocol other than TCP/UDP/ICMP.
    Ipv4Other,
    Ipv6Udp,
    Ipv6Tcp,
    Ipv6Icmp,
    /// IPv6 with a next header other than TCP/UDP/ICMPv6.
    Ipv6Other,
    /// Ethernet OAM (0x8902).
    Oam,
}

impl FrameKind {
    pub const ALL: [FrameKind; 10] = [
        FrameKind::Raw,
        FrameKind::Ipv4Udp,
        FrameKind::Ipv4Tcp,
        FrameKind::Ipv4Icmp,
        FrameKind::Ipv4Other,
        FrameKind::Ipv6Udp,
        FrameKind::Ipv6Tcp,
        FrameKind::Ipv6Icmp,
        FrameKind::Ipv6Other,
        FrameKind::Oam,
    ];
}

/// What carries the L3 packet between the Ethernet header (and tags) and the IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encap {
    /// The ethertype names the packet.
    None,
    /// An MPLS stack of this many labels (more than [`MPLS_LABELS`]: deeper than the parser
    /// follows).
    Mpls(usize),
    /// A PPPoE session header and PPP protocol (IP kinds only).
    Pppoe,
}

/// What was done to a well-formed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutation {
    None,
    /// Cut to this many data bytes (a fresh FCS follows).
    Truncated(usize),
    /// A few random bytes of the first 96 flipped.
    Flipped,
    /// IPv4 IHL set below 5 (checksum fixed up).
    BadIhl,
    /// IPv4 header checksum made wrong.
    BadChecksum,
    /// IPv4 fragment offset made non-zero (checksum fixed up).
    Fragment,
    /// IP total length (IPv4) or payload length (IPv6) made larger than the packet.
    LongIpLength,
    /// Padded to over 9022 bytes.
    Oversize,
    /// The MAC flagged an error on the last beat.
    MacError,
}

/// A generated frame.
#[derive(Clone, Debug)]
pub struct GenFrame {
    /// The frame as the MAC delivers it, FCS included.
    pub bytes: Vec<u8>,
    /// The MAC's error flag on the last beat.
    pub mac_err: bool,
    pub kind: FrameKind,
    pub mutation: Mutation,
    /// VLAN tags in the well-formed frame.
    pub vlans: usize,
    pub encap: Encap,
    /// Where the L3 header (IP, OAM) starts.
    pub l3: usize,
    /// IPv6 extension headers between the IPv6 header and L4: (type, bytes) each.
    pub exts: Vec<(u8, usize)>,
    /// Where the headers the parser reads end in the well-formed frame (L2, tags, L3 header,
    /// the parser's L4 header length): a frame cut before this is truncated.
    pub headers_end: usize,
}

/// The Ethernet FCS (CRC-32, IEEE 802.3) of `data`, as the 4 bytes that follow it on the wire
/// (the device protocol's, computed by the `crc` crate).
pub use evnic_proto::fcs::fcs;

/// Splits a frame into 64-bit stream beats: `(data, keep, last)`, byte 0 in `data[7:0]`.
pub fn beats(frame: &[u8]) -> Vec<(u64, u8, bool)> {
    let n = frame.chunks(8).count();
    frame
        .chunks(8)
        .enumerate()
        .map(|(i, c)| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            let keep = ((1u16 << c.len()) - 1) as u8;
            (u64::from_le_bytes(w), keep, i + 1 == n)
        })
        .collect()
}

/// Recomputes the IPv4 header checksum of the header at `l3` in `data`.
fn fix_ipv4_checksum(data: &mut [u8], l3: usize) {
    let hlen = usize::from(data[l3] & 0xf) * 4;
    data[l3 + 10] = 0;
    data[l3 + 11] = 0;
    let end = (l3 + hlen).min(data.len());
    let mut sum: u32 = data[l3..end]
        .chunks(2)
        .map(|w| u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    data[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

/// Seeded frame generator.
pub struct FrameGen {
    rng: ChaCha8Rng,
}

impl FrameGen {
    pub fn new(seed: u64) -> FrameGen {
        FrameGen {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The generator's random source, for tests that need more randomness in step with it.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    fn payload_len(&mut self) -> usize {
        match self.rng.gen_range(0..100) {
            0..=69 => self.rng.gen_range(0..64),
            70..=94 => self.rng.gen_range(64..1500),
            _ => self.rng.gen_range(1500..9000),
        }
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng.fill(&mut b[..]);
        b
    }

    /// A well-formed frame of `kind` with `vlans` tags (0-2), right after the ethertype.
    pub fn well_formed(&mut self, kind: FrameKind, vlans: usize) -> GenFrame {
        self.well_formed_in(kind, vlans, Encap::None, false)
    }

    /// A chain of IPv6 extension headers: mostly what the parser follows (one or two within
    /// 64 bytes, a first fragment), sometimes what it does not (three, longer, a later
    /// fragment).
    fn ext_chain(&mut self) -> Vec<(u8, usize)> {
        let n = [1, 1, 1, 2, 2, 3][self.rng.gen_range(0..6)];
        (0..n)
            .map(|_| {
                let t = *[EXT_HOP_BY_HOP, EXT_ROUTING, EXT_FRAGMENT, EXT_DEST_OPTS]
                    .choose(&mut self.rng)
                    .unwrap();
                let len = if t == EXT_FRAGMENT {
                    8
                } else if self.rng.gen_bool(0.9) {
                    8 * self.rng.gen_range(1..=4)
                } else {
                    8 * self.rng.gen_range(5..=12)
                };
                (t, len)
            })
            .collect()
    }

    /// Bytes of the extension headers `exts` (in order, the last one's next header `last`).
    fn ext_bytes(&mut self, exts: &[(u8, usize)], last: u8) -> Vec<u8> {
        let mut out = vec![];
        for (i, &(t, len)) in exts.iter().enumerate() {
            let nh = exts.get(i + 1).map_or(last, |e| e.0);
            let mut h = vec![nh, (len / 8 - 1) as u8];
            if t == EXT_FRAGMENT {
                h[1] = 0;
                // Offset 0 (a first fragment, or an atomic one) most of the time.
                let off: u16 = if self.rng.gen_bool(0.7) {
                    0
                } else {
                    self.rng.gen_range(1..0x2000)
                };
                let v = off << 3 | u16::from(self.rng.gen_bool(0.5));
                h.extend_from_slice(&v.to_be_bytes());
            }
            h.extend((h.len()..len).map(|_| self.rng.gen::<u8>()));
            out.extend_from_slice(&h);
        }
        out
    }

    /// A well-formed frame of `kind` with `vlans` tags (0-2), its packet in `encap` (ignored
    /// for OAM frames; PPPoE only carries IP kinds), with IPv6 extension headers when `exts`
    /// (IPv6 kinds only).
    pub fn well_formed_in(
        &mut self,
        kind: FrameKind,
        vlans: usize,
        encap: Encap,
        exts: bool,
    ) -> GenFrame {
        let encap = match (kind, encap) {
            (FrameKind::Oam, _) => Encap::None,
            (FrameKind::Raw, Encap::Pppoe) => Encap::None,
            _ => encap,
        };
        let is6 = matches!(
            kind,
            FrameKind::Ipv6Udp | FrameKind::Ipv6Tcp | FrameKind::Ipv6Icmp | FrameKind::Ipv6Other
        );
        let chain = if exts && is6 {
            self.ext_chain()
        } else {
            vec![]
        };
        let mut data = Vec::new();
        let dst: [u8; 6] = self.bytes();
        let src: [u8; 6] = self.bytes();
        data.extend_from_slice(&dst);
        data.extend_from_slice(&src);
        for i in 0..vlans {
            let tpid = if i == 0 && self.rng.gen_bool(0.5) {
                *[TPID_8021AD, TPID_QINQ].choose(&mut self.rng).unwrap()
            } else if self.rng.gen_bool(0.8) {
                TPID_8021Q
            } else {
                *[TPID_8021AD, TPID_QINQ].choose(&mut self.rng).unwrap()
            };
            data.extend_from_slice(&tpid.to_be_bytes());
            data.extend_from_slice(&self.rng.gen::<u16>().to_be_bytes());
        }
        let l3 = data.len();
        let plen = self.payload_len();
        let payload: Vec<u8> = (0..plen).map(|_| self.rng.gen()).collect();
        let (ethertype, body, l3_hdr, l4_hdr): (u16, Vec<u8>, usize, usize) = match kind {
            FrameKind::Raw => {
                let mut et: u16 = self.rng.gen();
                while [
                    ETHERTYPE_IPV4,
                    ETHERTYPE_IPV6,
                    ETHERTYPE_OAM,
                    TPID_8021Q,
                    TPID_8021AD,
                    TPID_QINQ,
                    ETHERTYPE_MPLS,
                    ETHERTYPE_MPLS_MC,
                    ETHERTYPE_PPPOE,
                ]
                .contains(&et)
                {
                    et = self.rng.gen();
                }
                (et, payload, 0, 0)
            }
            FrameKind::Oam => {
                let mut b = vec![self.rng.gen(), self.rng.gen(), 0, self.rng.gen_range(0..16)];
                b.extend_from_slice(&payload);
                (ETHERTYPE_OAM, b, 4, 0)
            }
            FrameKind::Ipv4Udp
            | FrameKind::Ipv4Tcp
            | FrameKind::Ipv4Icmp
            | FrameKind::Ipv4Other => {
                let nopt = self.rng.gen_range(0..=10) * 4;
                let opts: Vec<u8> = (0..nopt).map(|_| self.rng.gen()).collect();
                let mut h =
                    Ipv4Header::new(0, self.rng.gen(), IpNumber(0), self.bytes(), self.bytes())
                        .expect("zero payload");
                h.options = Ipv4Options::try_from(&opts[..]).expect("options fit");
                h.identification = self.rng.gen();
                h.dont_fragment = self.rng.gen();
                let hlen = 20 + nopt;
                let mut out = Vec::new();
                let l4 = match kind {
                    FrameKind::Ipv4Other => {
                        let mut proto: u8 = self.rng.gen();
                        while [PROTO_ICMP, PROTO_TCP, PROTO_UDP, 51].contains(&proto) {
                            proto = self.rng.gen();
                        }
                        h.protocol = IpNumber(proto);
                        h.set_payload_len(payload.len()).expect("fits");
                        h.header_checksum = h.calc_header_checksum();
                        out.extend_from_slice(&h.to_bytes());
                        out.extend_from_slice(&payload);
                        0
                    }
                    _ => {
                        let b = PacketBuilder::ip(IpHeaders::Ipv4(h, Default::default()));
                        let (r, l4) = match kind {
                            FrameKind::Ipv4Udp => (
                                b.udp(self.rng.gen(), self.rng.gen())
                                    .write(&mut out, &payload),
                                8,
                            ),
                            FrameKind::Ipv4Tcp => (
                                b.tcp(
                                    self.rng.gen(),
                                    self.rng.gen(),
                                    self.rng.gen(),
                                    self.rng.gen(),
                                )
                                .write(&mut out, &payload),
                                20,
                            ),
                            _ => {
                                let t = *[0u8, 3, 5, 8, 11, 12].choose(&mut self.rng).unwrap();
                                (
                                    b.icmpv4_raw(t, self.rng.gen_range(0..16), self.bytes())
                                        .write(&mut out, &payload),
                                    8,
                                )
                            }
                        };
                        r.expect("etherparse builds the packet");
                        l4
                    }
                };
                (ETHERTYPE_IPV4, out, hlen, l4)
            }
            FrameKind::Ipv6Udp
            | FrameKind::Ipv6Tcp
            | FrameKind::Ipv6Icmp
            | FrameKind::Ipv6Other => {
                let mut out = Vec::new();
                let l4 = if kind == FrameKind::Ipv6Other {
                    let mut nh: u8 = self.rng.gen();
                    // Avoid the extension headers etherparse would follow.
                    while [0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254, 6, 17, 58].contains(&nh)
                    {
                        nh = self.rng.gen();
                    }
                    let h = Ipv6Header {
                        traffic_class: self.rng.gen(),
                        flow_label: Default::default(),
                        payload_length: payload.len() as u16,
                        next_header: IpNumber(nh),
                        hop_limit: self.rng.gen(),
                        source: self.bytes(),
                        destination: self.bytes(),
                    };
                    out.extend_from_slice(&h.to_bytes());
                    out.extend_from_slice(&payload);
                    0
                } else {
                    let b = PacketBuilder::ipv6(self.bytes(), self.bytes(), self.rng.gen());
                    let (r, l4) = match kind {
                        FrameKind::Ipv6Udp => (
                            b.udp(self.rng.gen(), self.rng.gen())
                                .write(&mut out, &payload),
                            8,
                        ),
                        FrameKind::Ipv6Tcp => (
                            b.tcp(
                                self.rng.gen(),
                                self.rng.gen(),
                                self.rng.gen(),
                                self.rng.gen(),
                            )
                            .write(&mut out, &payload),
                            20,
                        ),
                        _ => {
                            let t = *[1u8, 2, 3, 4, 128, 129, 133, 135, 136]
                                .choose(&mut self.rng)
                                .unwrap();
                            (
                                b.icmpv6_raw(t, self.rng.gen_range(0..4), self.bytes())
                                    .write(&mut out, &payload),
                                8,
                            )
                        }
                    };
                    r.expect("etherparse builds the packet");
                    l4
                };
                // Extension headers between the IPv6 header and its payload.
                if !chain.is_empty() {
                    let ext = self.ext_bytes(&chain, out[6]);
                    out[6] = chain[0].0;
                    let pl = u16::from_be_bytes([out[4], out[5]]) + ext.len() as u16;
                    out[4..6].copy_from_slice(&pl.to_be_bytes());
                    out.splice(40..40, ext);
                }
                (ETHERTYPE_IPV6, out, 40, l4)
            }
        };
        // The encapsulation: its ethertype and header, and what the parser reads of it when it
        // does not reach the packet.
        let mut shim = vec![];
        let (ethertype, deep) = match encap {
            Encap::None => (ethertype, None),
            Encap::Mpls(n) => {
                for i in 0..n {
                    let label = self.rng.gen_range(0..1u32 << 20);
                    let w = label << 12
                        | u32::from(self.rng.gen_range(0..8u8)) << 9
                        | u32::from(i + 1 == n) << 8
                        | u32::from(self.rng.gen::<u8>());
                    shim.extend_from_slice(&w.to_be_bytes());
                }
                let et = if self.rng.gen_bool(0.8) {
                    ETHERTYPE_MPLS
                } else {
                    ETHERTYPE_MPLS_MC
                };
                // A stack the parser does not follow to its end: it reads 4 labels.
                (et, (n > MPLS_LABELS).then_some(4 * MPLS_LABELS))
            }
            Encap::Pppoe => {
                shim.extend_from_slice(&[0x11, 0x00]);
                shim.extend_from_slice(&self.rng.gen::<u16>().to_be_bytes());
                shim.extend_from_slice(&(body.len() as u16 + 2).to_be_bytes());
                let proto = if ethertype == ETHERTYPE_IPV4 {
                    PPP_IPV4
                } else {
                    PPP_IPV6
                };
                shim.extend_from_slice(&proto.to_be_bytes());
                (ETHERTYPE_PPPOE, None)
            }
        };
        let mut body = body;
        // A raw payload under MPLS: a pseudowire control word (nibble 0), not an IP packet.
        if kind == FrameKind::Raw && encap != Encap::None {
            match body.first_mut() {
                Some(b) => *b &= 0x0f,
                None => body.push(0),
            }
        }
        data.extend_from_slice(&ethertype.to_be_bytes());
        let l2 = l3 + 2;
        let l3 = l2 + shim.len();
        data.extend_from_slice(&shim);
        data.extend_from_slice(&body);
        // MACs pad short frames to 60 data bytes; some test frames stay short.
        if data.len() < 60 && self.rng.gen_bool(0.8) {
            data.resize(60, 0);
        }
        // The extension headers the parser walks; a chain it does not walk to its end leaves
        // the L4 header unread (the first 8 bytes of the first header are always read).
        let mut off = 0;
        let mut walked = true;
        for (i, &(t, len)) in chain.iter().enumerate() {
            let at = l3 + 40 + off;
            let nonfirst =
                t == EXT_FRAGMENT && (data[at + 2] as usize) << 8 | data[at + 3] as usize >= 8;
            if i >= EXT_HEADERS || off + len > EXT_BYTES || nonfirst {
                walked = false;
                break;
            }
            off += len;
        }
        let headers_end = match deep {
            Some(n) => l2 + n,
            None if kind == FrameKind::Raw && encap != Encap::None => l3 + 1,
            None if !walked => l3 + 40 + 8,
            None => l3 + l3_hdr + off + l4_hdr,
        };
        let f = fcs(&data);
        data.extend_from_slice(&f);
        GenFrame {
            bytes: data,
            mac_err: false,
            kind,
            mutation: Mutation::None,
            vlans,
            encap,
            l3,
            exts: chain,
            headers_end,
        }
    }

    /// A random well-formed frame: one in four in an MPLS stack (1 to 5 labels) or a PPPoE
    /// session, and one in three IPv6 packets with extension headers.
    pub fn random_well_formed(&mut self) -> GenFrame {
        let kind = *FrameKind::ALL.choose(&mut self.rng).unwrap();
        let vlans = [0, 0, 1, 2][self.rng.gen_range(0..4)];
        let encap = match self.rng.gen_range(0..8) {
            0 => Encap::Mpls(self.rng.gen_range(1..=MPLS_LABELS + 1)),
            1 => Encap::Pppoe,
            _ => Encap::None,
        };
        let exts = self.rng.gen_bool(1.0 / 3.0);
        self.well_formed_in(kind, vlans, encap, exts)
    }

    /// Applies `m` to `f` (a mutation that does not apply to the frame's kind leaves it as is
    /// and records [`Mutation::None`]).
    pub fn mutate(&mut self, mut f: GenFrame, m: Mutation) -> GenFrame {
        let l3 = f.l3;
        // The IP mutations apply where the parser reaches the IP header.
        let reached = !matches!(f.encap, Encap::Mpls(n) if n > MPLS_LABELS);
        let is4 = reached
            && matches!(
                f.kind,
                FrameKind::Ipv4Udp
                    | FrameKind::Ipv4Tcp
                    | FrameKind::Ipv4Icmp
                    | FrameKind::Ipv4Other
            );
        let is6 = reached
            && matches!(
                f.kind,
                FrameKind::Ipv6Udp
                    | FrameKind::Ipv6Tcp
                    | FrameKind::Ipv6Icmp
                    | FrameKind::Ipv6Other
            );
        let mut data = f.bytes[..f.bytes.len() - 4].to_vec();
        let applied = match m {
            Mutation::None => Mutation::None,
            Mutation::Truncated(_) => {
                // Mostly cut inside the headers, where it matters.
                let cut = if self.rng.gen_bool(0.8) {
                    self.rng.gen_range(0..=f.headers_end.min(data.len()))
                } else {
                    self.rng.gen_range(0..=data.len())
                };
                data.truncate(cut);
                Mutation::Truncated(cut)
            }
            Mutation::Flipped => {
                for _ in 0..self.rng.gen_range(1..=3) {
                    let end = data.len().min(96);
                    let i = self.rng.gen_range(0..end);
                    data[i] ^= 1 << self.rng.gen_range(0..8);
                }
                Mutation::Flipped
            }
            Mutation::BadIhl if is4 => {
                data[l3] = 0x40 | self.rng.gen_range(0..5);
                fix_ipv4_checksum(&mut data, l3);
                Mutation::BadIhl
            }
            Mutation::BadChecksum if is4 => {
                let x: u16 = self.rng.gen_range(1..=0xffff);
                data[l3 + 10] ^= (x >> 8) as u8;
                data[l3 + 11] ^= x as u8;
                Mutation::BadChecksum
            }
            Mutation::Fragment if is4 => {
                let off: u16 = self.rng.gen_range(1..0x2000);
                data[l3 + 6] = (data[l3 + 6] & 0xe0) | (off >> 8) as u8;
                data[l3 + 7] = off as u8;
                fix_ipv4_checksum(&mut data, l3);
                Mutation::Fragment
            }
            Mutation::LongIpLength if is4 || is6 => {
                let at = if is4 { l3 + 2 } else { l3 + 4 };
                let cur = u16::from_be_bytes([data[at], data[at + 1]]);
                let room = (data.len() - l3) as u16;
                let v = self
                    .rng
                    .gen_range(room.max(cur) + 1..=room.max(cur).saturating_add(100));
                data[at..at + 2].copy_from_slice(&v.to_be_bytes());
                if is4 {
                    fix_ipv4_checksum(&mut data, l3);
                }
                Mutation::LongIpLength
            }
            Mutation::Oversize => {
                let n: usize = self.rng.gen_range(9023..=16383 - 4);
                let extra = n.saturating_sub(data.len());
                data.extend((0..extra).map(|_| self.rng.gen::<u8>()));
                Mutation::Oversize
            }
            Mutation::MacError => {
                f.mac_err = true;
                Mutation::MacError
            }
            _ => Mutation::None,
        };
        let c = fcs(&data);
        data.extend_from_slice(&c);
        f.bytes = data;
        f.mutation = applied;
        f
    }

    /// A random frame: half well formed, half mutated in a random way.
    pub fn next_frame(&mut self) -> GenFrame {
        let f = self.random_well_formed();
        if self.rng.gen_bool(0.5) {
            return f;
        }
        let m = *[
            Mutation::Truncated(0),
            Mutation::Truncated(0),
            Mutation::Flipped,
            Mutation::Flipped,
            Mutation::BadIhl,
            Mutation::BadChecksum,
            Mutation::Fragment,
            Mutation::LongIpLength,
            Mutation::Oversize,
            Mutation::MacError,
        ]
        .choose(&mut self.rng)
        .unwrap();
        self.mutate(f, m)
    }

    /// A random frame of at most `max` bytes (FCS included): for slow simulations.
    pub fn next_frame_upto(&mut self, max: usize) -> GenFrame {
        loop {
            let f = self.next_frame();
            if f.bytes.len() <= max {
                return f;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcs_of_known_vector() {
        // CRC-32 of "123456789" is 0xcbf43926.
        assert_eq!(fcs(b"123456789"), 0xcbf4_3926u32.to_le_bytes());
    }

    #[test]
    fn beats_split_and_keep() {
        let f: Vec<u8> = (1..=11).collect();
        let b = beats(&f);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0], (0x0807_0605_0403_0201, 0xff, false));
        assert_eq!(b[1], (0x0b0a09, 0x07, true));
    }

    #[test]
    fn generator_is_deterministic() {
        let a: Vec<Vec<u8>> = {
            let mut g = FrameGen::new(7);
            (0..20).map(|_| g.next_frame().bytes).collect()
        };
        let mut g = FrameGen::new(7);
        let b: Vec<Vec<u8>> = (0..20).map(|_| g.next_frame().bytes).collect();
        assert_eq!(a, b);
    }
}
