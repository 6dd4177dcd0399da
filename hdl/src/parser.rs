//! The RX parser: watches the 64-bit MAC receive stream and produces, for every frame, the
//! filter key ([`evnic_regs::key`]), RX flags and the frame length.
//!
//! # Ports
//!
//! | port        | dir | width | meaning |
//! |-------------|-----|-------|---------|
//! | `clock`     | in  | clock | rising edge |
//! | `reset`     | in  | 1     | synchronous, active high: forget the frame in progress and every result not yet out |
//! | `in_data`   | in  | 64    | byte `i` is `in_data[8i+7:8i]`; byte 0 is first on the wire |
//! | `in_keep`   | in  | 8     | byte enables, contiguous from bit 0, all ones except possibly on the last beat |
//! | `in_valid`  | in  | 1     | the stream's valid |
//! | `in_ready`  | in  | 1     | the stream's ready (an input: a beat transfers on `in_valid && in_ready`; the parser only observes) |
//! | `in_last`   | in  | 1     | this beat is the frame's last |
//! | `in_err`    | in  | 1     | with the last beat: the MAC saw an error in the frame |
//! | `max_len`   | in  | 16    | frames longer than this (FCS included) are flagged OVERSIZE |
//! | `key_valid` | out | 1     | one-cycle pulse per frame: its key is known (early, or with `out_valid`); `out_key` holds it |
//! | `out_valid` | out | 1     | one-cycle pulse per frame: `out_key`, `out_flags`, `out_len` hold its result |
//! | `out_key`   | out | 416   | the key ([`evnic_regs::key`] layout) of the last `key_valid`; it keeps its value until the next |
//! | `out_flags` | out | 8     | [`evnic_regs::event::rx_flags`] bits: TRUNCATED, BAD_IPV4, RUNT, OVERSIZE, MAC_ERROR |
//! | `out_len`   | out | 16    | bytes in the frame, FCS included, saturating at 0xffff |
//!
//! # Contract
//!
//! The frame on the stream includes its 4-byte FCS. The parser reads Ethernet II, up to two
//! VLAN tags (TPID 0x8100, 0x88a8 or 0x9100: 802.1Q, 802.1ad and QinQ), an MPLS label stack
//! (0x8847/0x8848, up to 4 labels, to the IPv4 or IPv6 packet after the bottom label), a PPPoE
//! session (0x8864) carrying IPv4 or IPv6, IPv4 with options, the IPv6 header and up to two
//! extension headers (hop-by-hop, routing, fragment, destination options) within 64 bytes
//! after it, the ports of UDP and TCP, ICMP type and code (IPv4 protocol 1, IPv6 next header
//! 58) and the Ethernet OAM (0x8902) MEG level and opcode. The exact rules (what is truncated,
//! what is a bad IPv4 header, which fields are 0, where a walk stops) are those of the
//! reference model, `evnic_model::parse`, and the tests below check this block against it
//! frame by frame.
//!
//! The parser stores the first 152 bytes of each frame (19 beats, [`SLOTS`]: every field the
//! rules reach lies in the first 146) and counts the rest; the count saturates at 0xffff and
//! every length rule uses the saturated count, as the model does. Any content and any length
//! (1 byte to 16383 and beyond) gives exactly one result and one key, and nothing a frame
//! holds can wedge it.
//!
//! Early key: the key depends on the frame's length only through "does this header fit in the
//! frame" checks. After a beat that is not the frame's last, at least one more byte follows, so
//! the frame holds at least `count - 3` data bytes (`count` bytes seen, 4 of FCS). The parser
//! evaluates the rules with that lower bound after every such beat while at most
//! [`PROBE_BYTES`] (168) have been seen; when no header that the key depends on falls short of
//! it, the key is final (a longer frame fits every header the bound fits) and `key_valid`
//! pulses. Otherwise the key comes with the end result. By the 21st beat (168 bytes) every
//! header the rules can reach (two tags, four labels, the IPv6 header, 64 bytes of extension
//! headers, a 20-byte TCP header: 162 data bytes) fits, so a frame of more than 168 bytes
//! always has its key by then. Examples: a frame of an unparsed ethertype after its 3rd beat,
//! UDP/IPv4 after the 6th, TCP/IPv4 after the 8th, UDP/IPv6 after the 9th. Flags (TRUNCATED
//! from the IP lengths, RUNT, OVERSIZE, MAC_ERROR) and the length come only with the end
//! result.
//!
//! # Timing (cycles)
//!
//! * A passive observer: it has no ready output and takes one beat per cycle, always.
//! * The frame's last beat transfers at rising edge `N`; `out_valid` is high during cycle
//!   `N+4` only (latency [`LATENCY`] = 4; it was 5), with `out_key`, `out_flags` and `out_len` (all
//!   registered; they keep their value until the next result).
//! * `key_valid` is high during cycle `B+4` only, where `B` is the edge of the beat after which
//!   the key is known (the last beat at the latest: then `key_valid` and `out_valid` coincide).
//!   A frame's `key_valid` comes before (or with) its `out_valid`, and after the previous
//!   frame's `out_valid`.
//! * Results come out in frame order, one per frame, at most one per cycle: frames of a
//!   single beat may follow each other every cycle.
//! * `reset` at edge `N`: no `out_valid` in cycles `N+1` to `N+4`, and the next beat
//!   transferred starts a new frame.
//!
//! Pipeline, one step of header walking per stage: edge `N` writes the last beat into its slot
//! and, in the same cycle, stage 1 reads the slots with that beat bypassed in (so a frame's
//! beat is parsed in the cycle it transfers, and the next frame's first beat cannot disturb
//! it) and registers the Ethernet/VLAN fields, the 128 bytes after the tags and the length
//! and error (or, for an earlier beat, a probe with the bytes seen); edge `N+1` the MPLS stack
//! or PPPoE header and the 108 bytes from the L3 header on (a 5-way shift); edge `N+2` the
//! IPv4 or IPv6 header fields, the first IPv6 extension header (at a fixed place) and the OAM
//! fields, with the "does it fit" checks for every offset stage 4 can reach (the IPv6 walk
//! moves in 8-byte words, at most 64 bytes: a few compares against constants); edge `N+3` the
//! second extension header, the L4 fields, the flags and the key, selecting among those checks
//! instead of adding and comparing 16-bit lengths behind the second header's length. (The
//! bypass replaced a register stage between the slots and stage 1: one cycle less on every
//! key and result, for about 1,100 LUT4 of slot multiplexers.)

use evnic_regs::key;
use rust_hdl::prelude::*;

/// Beats of a frame the parser stores (the model's `HEADER_BYTES` / 8).
pub const SLOTS: usize = 19;
/// Latency from the last beat to `out_valid`, and from the beat that completes the headers to
/// `key_valid`, in cycles.
pub const LATENCY: usize = 4;
/// Probes (early evaluations of the key) are made after beats that bring the bytes seen to at
/// most this; by then every header the rules reach is known to fit.
pub const PROBE_BYTES: usize = 168;

/// The RX parser. See the module documentation.
#[derive(LogicBlock)]
pub struct Parser {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub in_data: Signal<In, Bits<64>>,
    pub in_keep: Signal<In, Bits<8>>,
    pub in_valid: Signal<In, Bit>,
    pub in_ready: Signal<In, Bit>,
    pub in_last: Signal<In, Bit>,
    pub in_err: Signal<In, Bit>,
    pub max_len: Signal<In, Bits<16>>,
    pub key_valid: Signal<Out, Bit>,
    pub out_valid: Signal<Out, Bit>,
    pub out_key: Signal<Out, Bits<416>>,
    pub out_flags: Signal<Out, Bits<8>>,
    pub out_len: Signal<Out, Bits<16>>,

    // Capture: the frame in progress.
    /// A frame is in progress: the next beat is not a first beat.
    in_frame: DFF<Bit>,
    /// Slot of the next beat (saturates at SLOTS: later beats are only counted).
    beat: DFF<Bits<5>>,
    /// Bytes so far in the frame in progress, saturating.
    count: DFF<Bits<16>>,
    /// The stored beats, each byte-reversed so that byte 0 of the beat is its top byte.
    slots: [DFF<Bits<64>>; SLOTS],
    /// A frame's last beat transfers in this cycle (its length `newlen`, its error `in_err`).
    done: Signal<Local, Bit>,
    /// A beat that is not the last transfers in this cycle: evaluate the key with `newlen`
    /// bytes seen.
    probe: Signal<Local, Bit>,

    // Stage 1: Ethernet and VLAN tags, and the 128 bytes after them.
    s1_valid: DFF<Bit>,
    /// Stage 1 holds a probe (an early evaluation of the key).
    s1_probe: DFF<Bit>,
    /// A header the key depends on did not fit (L2).
    s1_short: DFF<Bit>,
    s1_len: DFF<Bits<16>>,
    s1_flags: DFF<Bits<8>>,
    s1_dst_mac: DFF<Bits<48>>,
    s1_ethertype: DFF<Bits<16>>,
    s1_vlan_count: DFF<Bits<2>>,
    s1_vlan_outer: DFF<Bits<12>>,
    s1_vlan_inner: DFF<Bits<12>>,
    /// L2 was complete: the fields below mean something.
    s1_l2ok: DFF<Bit>,
    /// Bytes 0..128 after the tags, byte 0 in bits 1023:1016.
    s1_w: DFF<Bits<1024>>,
    /// Data bytes (FCS excluded) after the tags.
    s1_avail: DFF<Bits<16>>,

    // Stage 2: MPLS and PPPoE, and the 108 bytes from the L3 header on.
    s2_valid: DFF<Bit>,
    s2_probe: DFF<Bit>,
    s2_short: DFF<Bit>,
    s2_len: DFF<Bits<16>>,
    s2_flags: DFF<Bits<8>>,
    /// The key so far: L2 fields and the MPLS label.
    s2_key: DFF<Bits<416>>,
    /// An IPv4 header starts the L3 bytes.
    s2_ip4: DFF<Bit>,
    /// An IPv6 header starts the L3 bytes.
    s2_ip6: DFF<Bit>,
    /// An OAM header starts the L3 bytes.
    s2_oam: DFF<Bit>,
    /// Bytes 0..108 from the L3 header on, byte 0 in bits 863:856.
    s2_w: DFF<Bits<864>>,
    /// Data bytes from the L3 header on.
    s2_avail: DFF<Bits<16>>,

    // Stage 3: IPv4, the IPv6 header and its first extension header.
    s3_valid: DFF<Bit>,
    s3_probe: DFF<Bit>,
    s3_short: DFF<Bit>,
    s3_len: DFF<Bits<16>>,
    s3_flags: DFF<Bits<8>>,
    /// The key so far: with the IP addresses, version and the OAM fields.
    s3_key: DFF<Bits<416>>,
    s3_ipver: DFF<Bits<4>>,
    /// IPv4 protocol; IPv6: the next header after the extension headers walked.
    s3_proto: DFF<Bits<8>>,
    /// IPv6: the walk goes on (no stop so far).
    s3_walk: DFF<Bit>,
    /// L4 may follow (IPv4 first fragment with a sane length; IPv6 walk not stopped).
    s3_l4en: DFF<Bit>,
    /// IPv6: bytes of extension headers walked.
    s3_off: DFF<Bits<7>>,
    /// IPv6: the 68 bytes after its header, byte 0 in bits 543:536.
    s3_ext: DFF<Bits<544>>,
    /// IPv4: the 4 bytes after its header.
    s3_l4word: DFF<Bits<32>>,
    /// Stage 4's length checks, compared here against every offset the IPv6 walk can reach (a
    /// multiple of 8 bytes, at most 64: index `k` is offset `8k`) so that stage 4 only selects:
    /// bit `k` of `s3_avail_lt` is "fewer than `40 + 8k` bytes" (the IPv6 header and `k` words;
    /// 16 bits so that any 4-bit index selects a defined bit),
    /// of `s3_avail_lt20` "fewer than `60 + 8k`" (a TCP header there).
    s3_avail_lt: DFF<Bits<16>>,
    /// IPv4: the header's eight partial checksums (18 bits each, `cs_part`), and whether the
    /// checksum is to be checked.
    s3_cs: DFF<Bits<144>>,
    s3_csum_chk: DFF<Bit>,
    s3_avail_lt20: DFF<Bits<9>>,
    /// IPv6 payload length under `8k + 8` and `8k + 20` (a UDP or ICMPv6, a TCP header at `8k`).
    s3_room_lt8: DFF<Bits<9>>,
    s3_room_lt20: DFF<Bits<9>>,
    /// IPv4: bytes under `hlen + 8`, `hlen + 20`; total length under `hlen + 8`, `hlen + 20`.
    s3_v4_lt: DFF<Bits<4>>,

    // Stage 4: the second extension header, L4, the outputs.
    r_valid: DFF<Bit>,
    r_key_valid: DFF<Bit>,
    /// The key of the frame in progress has been given (by a probe).
    key_sent: DFF<Bit>,
    r_key: DFF<Bits<416>>,
    r_flags: DFF<Bits<8>>,
    r_len: DFF<Bits<16>>,

    // Capture locals.
    fire: Signal<Local, Bit>,
    rev: Signal<Local, Bits<64>>,
    nbytes: Signal<Local, Bits<16>>,
    base: Signal<Local, Bits<16>>,
    sum17: Signal<Local, Bits<17>>,
    newlen: Signal<Local, Bits<16>>,
    /// The slot this cycle's beat goes to (19 and up: not stored).
    wslot: Signal<Local, Bits<5>>,
    /// One slot as stage 1 sees it: with this cycle's beat written in.
    cur: Signal<Local, Bits<64>>,

    // Stage 1 locals.
    cat: Signal<Local, Bits<1216>>,
    dlen: Signal<Local, Bits<16>>,
    et0: Signal<Local, Bits<16>>,
    et1: Signal<Local, Bits<16>>,
    et2: Signal<Local, Bits<16>>,
    tag1: Signal<Local, Bit>,
    tag2: Signal<Local, Bit>,
    l2trunc: Signal<Local, Bit>,
    eval_len: Signal<Local, Bits<16>>,
    flags1: Signal<Local, Bits<8>>,

    // Stage 2 locals.
    mpls: Signal<Local, Bit>,
    bos: Signal<Local, Bits<4>>,
    nlab: Signal<Local, Bits<3>>,
    lab_need: Signal<Local, Bits<16>>,
    vnib: Signal<Local, Bits<4>>,
    pppoe_ok: Signal<Local, Bit>,
    ppp_proto: Signal<Local, Bits<16>>,
    sh: Signal<Local, Bits<3>>,
    trunc2: Signal<Local, Bit>,
    ip4: Signal<Local, Bit>,
    ip6: Signal<Local, Bit>,
    key2: Signal<Local, Bits<416>>,
    label: Signal<Local, Bits<20>>,
    x1frag: Signal<Local, Bit>,
    x2frag: Signal<Local, Bit>,
    x2ext: Signal<Local, Bit>,

    // Stage 3 locals.
    version: Signal<Local, Bits<4>>,
    ihl: Signal<Local, Bits<4>>,
    hlen: Signal<Local, Bits<16>>,
    total: Signal<Local, Bits<16>>,
    /// The IPv4 header's partial checksums: words 0-3, 4-7, ..., 28-29 (those past IHL * 2
    /// left out).
    cs_a: Signal<Local, Bits<18>>,
    cs_b: Signal<Local, Bits<18>>,
    cs_c: Signal<Local, Bits<18>>,
    cs_d: Signal<Local, Bits<18>>,
    cs_e: Signal<Local, Bits<18>>,
    cs_f: Signal<Local, Bits<18>>,
    cs_g: Signal<Local, Bits<18>>,
    cs_h: Signal<Local, Bits<18>>,
    /// The header checksum is to be checked (a whole IPv4 header of a valid version and IHL).
    csum_chk: Signal<Local, Bit>,
    trunc3: Signal<Local, Bit>,
    short3: Signal<Local, Bit>,
    bad4: Signal<Local, Bit>,
    ipver: Signal<Local, Bits<4>>,
    proto3: Signal<Local, Bits<8>>,
    walk3: Signal<Local, Bit>,
    l4en3: Signal<Local, Bit>,
    off3: Signal<Local, Bits<7>>,
    src_ip: Signal<Local, Bits<128>>,
    dst_ip: Signal<Local, Bits<128>>,
    oam_level: Signal<Local, Bits<3>>,
    oam_opcode: Signal<Local, Bits<8>>,
    x1: Signal<Local, Bits<32>>,
    x1ext: Signal<Local, Bit>,
    x1len: Signal<Local, Bits<16>>,
    flags3: Signal<Local, Bits<8>>,
    /// IPv4 total length, or IPv6 payload length.
    room3: Signal<Local, Bits<16>>,
    avail_lt: Signal<Local, Bits<16>>,
    avail_lt20: Signal<Local, Bits<9>>,
    room_lt8: Signal<Local, Bits<9>>,
    room_lt20: Signal<Local, Bits<9>>,
    v4_lt: Signal<Local, Bits<4>>,

    // Stage 4 locals.
    x2: Signal<Local, Bits<32>>,
    /// The walk's offset in 8-byte words (at most 7 where a second header is looked at), plus
    /// one; the second header's end in words (valid when `x2big` is low), `x2big`: it ends
    /// past byte 64 whatever the offset.
    off8p1: Signal<Local, Bits<4>>,
    x2end8: Signal<Local, Bits<4>>,
    x2big: Signal<Local, Bit>,
    proto4: Signal<Local, Bits<8>>,
    walk4: Signal<Local, Bit>,
    off4: Signal<Local, Bits<7>>,
    trunc4: Signal<Local, Bit>,
    short4: Signal<Local, Bit>,
    l4en: Signal<Local, Bit>,
    l4word: Signal<Local, Bits<32>>,
    /// IPv6: the L4 header's offset after the IPv6 header in 8-byte words, plus one.
    k4: Signal<Local, Bits<4>>,
    k4p1: Signal<Local, Bits<4>>,
    /// The L4 header does not fit the bytes at hand / the IP length.
    l4cut: Signal<Local, Bit>,
    l4over: Signal<Local, Bit>,
    l4hl: Signal<Local, Bits<16>>,
    icmp: Signal<Local, Bit>,
    l4_src: Signal<Local, Bits<16>>,
    l4_dst: Signal<Local, Bits<16>>,
    key_now: Signal<Local, Bit>,
    flags4: Signal<Local, Bits<8>>,
    /// The header checksum: the partial sums added, the carries folded twice.
    csum: Signal<Local, Bits<24>>,
    csum1: Signal<Local, Bits<24>>,
    csum2: Signal<Local, Bits<24>>,

    // Key field positions, from evnic-regs.
    k_ethertype: Constant<Bits<16>>,
    /// `40 + 8k`, `60 + 8k`, `8k + 8`, `8k + 20`: the thresholds of the stage-3 length flags.
    thr_avail: [Constant<Bits<16>>; 16],
    thr_avail20: [Constant<Bits<16>>; 9],
    thr_room8: [Constant<Bits<16>>; 9],
    thr_room20: [Constant<Bits<16>>; 9],
    k_vlan_outer: Constant<Bits<16>>,
    k_vlan_inner: Constant<Bits<16>>,
    k_vlan_count: Constant<Bits<16>>,
    k_ip_version: Constant<Bits<16>>,
    k_ip_proto: Constant<Bits<16>>,
    k_oam_opcode: Constant<Bits<16>>,
    k_oam_level: Constant<Bits<16>>,
    k_mpls_label: Constant<Bits<16>>,
    k_l4_src: Constant<Bits<16>>,
    k_l4_dst: Constant<Bits<16>>,
    k_src_ip: Constant<Bits<16>>,
    k_dst_ip: Constant<Bits<16>>,

    // Flag bit positions, from evnic-regs.
    f_truncated: Constant<Bits<8>>,
    f_bad_ipv4: Constant<Bits<8>>,
    f_runt: Constant<Bits<8>>,
    f_oversize: Constant<Bits<8>>,
    f_mac_error: Constant<Bits<8>>,
    probe_max: Constant<Bits<16>>,
    slots_max: Constant<Bits<5>>,
}

fn lsb(f: key::KeyField) -> Constant<Bits<16>> {
    Constant::new((f.lsb as u64).into())
}

fn flag(f: u8) -> Constant<Bits<8>> {
    Constant::new((f as u64).into())
}

impl Default for Parser {
    fn default() -> Self {
        use evnic_regs::event::rx_flags;
        // The widths this block packs into the key are those of the layout.
        assert_eq!(
            [
                key::DST_MAC.width,
                key::ETHERTYPE.width,
                key::VLAN_OUTER.width,
                key::VLAN_INNER.width,
                key::VLAN_COUNT.width,
                key::IP_VERSION.width,
                key::IP_PROTO.width,
                key::OAM_OPCODE.width,
                key::OAM_LEVEL.width,
                key::MPLS_LABEL.width,
                key::L4_SRC.width,
                key::L4_DST.width,
                key::SRC_IP.width,
                key::DST_IP.width,
                key::KEY_BITS,
            ],
            [48, 16, 12, 12, 2, 4, 8, 8, 3, 20, 16, 16, 128, 128, 416]
        );
        assert_eq!(key::DST_MAC.lsb, 0);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            in_data: Default::default(),
            in_keep: Default::default(),
            in_valid: Default::default(),
            in_ready: Default::default(),
            in_last: Default::default(),
            in_err: Default::default(),
            max_len: Default::default(),
            key_valid: Default::default(),
            out_valid: Default::default(),
            out_key: Default::default(),
            out_flags: Default::default(),
            out_len: Default::default(),
            in_frame: Default::default(),
            beat: Default::default(),
            count: Default::default(),
            slots: core::array::from_fn(|_| Default::default()),
            done: Default::default(),
            probe: Default::default(),
            s1_valid: Default::default(),
            s1_probe: Default::default(),
            s1_short: Default::default(),
            s1_len: Default::default(),
            s1_flags: Default::default(),
            s1_dst_mac: Default::default(),
            s1_ethertype: Default::default(),
            s1_vlan_count: Default::default(),
            s1_vlan_outer: Default::default(),
            s1_vlan_inner: Default::default(),
            s1_l2ok: Default::default(),
            s1_w: Default::default(),
            s1_avail: Default::default(),
            s2_valid: Default::default(),
            s2_probe: Default::default(),
            s2_short: Default::default(),
            s2_len: Default::default(),
            s2_flags: Default::default(),
            s2_key: Default::default(),
            s2_ip4: Default::default(),
            s2_ip6: Default::default(),
            s2_oam: Default::default(),
            s2_w: Default::default(),
            s2_avail: Default::default(),
            s3_valid: Default::default(),
            s3_probe: Default::default(),
            s3_short: Default::default(),
            s3_len: Default::default(),
            s3_flags: Default::default(),
            s3_key: Default::default(),
            s3_ipver: Default::default(),
            s3_proto: Default::default(),
            s3_walk: Default::default(),
            s3_l4en: Default::default(),
            s3_off: Default::default(),
            s3_ext: Default::default(),
            s3_l4word: Default::default(),
            s3_avail_lt: Default::default(),
            s3_cs: Default::default(),
            s3_csum_chk: Default::default(),
            s3_avail_lt20: Default::default(),
            s3_room_lt8: Default::default(),
            s3_room_lt20: Default::default(),
            s3_v4_lt: Default::default(),
            r_valid: Default::default(),
            r_key_valid: Default::default(),
            key_sent: Default::default(),
            r_key: Default::default(),
            r_flags: Default::default(),
            r_len: Default::default(),
            fire: Default::default(),
            rev: Default::default(),
            nbytes: Default::default(),
            base: Default::default(),
            sum17: Default::default(),
            newlen: Default::default(),
            wslot: Default::default(),
            cur: Default::default(),
            cat: Default::default(),
            dlen: Default::default(),
            et0: Default::default(),
            et1: Default::default(),
            et2: Default::default(),
            tag1: Default::default(),
            tag2: Default::default(),
            l2trunc: Default::default(),
            eval_len: Default::default(),
            flags1: Default::default(),
            mpls: Default::default(),
            bos: Default::default(),
            nlab: Default::default(),
            lab_need: Default::default(),
            vnib: Default::default(),
            pppoe_ok: Default::default(),
            ppp_proto: Default::default(),
            sh: Default::default(),
            trunc2: Default::default(),
            ip4: Default::default(),
            ip6: Default::default(),
            key2: Default::default(),
            label: Default::default(),
            x1frag: Default::default(),
            x2frag: Default::default(),
            x2ext: Default::default(),
            version: Default::default(),
            ihl: Default::default(),
            hlen: Default::default(),
            total: Default::default(),
            cs_a: Default::default(),
            cs_b: Default::default(),
            cs_c: Default::default(),
            cs_d: Default::default(),
            cs_e: Default::default(),
            cs_f: Default::default(),
            cs_g: Default::default(),
            cs_h: Default::default(),
            csum_chk: Default::default(),
            csum: Default::default(),
            csum1: Default::default(),
            csum2: Default::default(),
            trunc3: Default::default(),
            short3: Default::default(),
            bad4: Default::default(),
            ipver: Default::default(),
            proto3: Default::default(),
            walk3: Default::default(),
            l4en3: Default::default(),
            off3: Default::default(),
            src_ip: Default::default(),
            dst_ip: Default::default(),
            oam_level: Default::default(),
            oam_opcode: Default::default(),
            x1: Default::default(),
            x1ext: Default::default(),
            x1len: Default::default(),
            flags3: Default::default(),
            room3: Default::default(),
            avail_lt: Default::default(),
            avail_lt20: Default::default(),
            room_lt8: Default::default(),
            room_lt20: Default::default(),
            v4_lt: Default::default(),
            x2: Default::default(),
            off8p1: Default::default(),
            x2end8: Default::default(),
            x2big: Default::default(),
            proto4: Default::default(),
            walk4: Default::default(),
            off4: Default::default(),
            trunc4: Default::default(),
            short4: Default::default(),
            l4en: Default::default(),
            l4word: Default::default(),
            k4: Default::default(),
            k4p1: Default::default(),
            l4cut: Default::default(),
            l4over: Default::default(),
            l4hl: Default::default(),
            icmp: Default::default(),
            l4_src: Default::default(),
            l4_dst: Default::default(),
            key_now: Default::default(),
            flags4: Default::default(),
            k_ethertype: lsb(key::ETHERTYPE),
            thr_avail: std::array::from_fn(|k| Constant::new(((40 + 8 * k) as u64).into())),
            thr_avail20: std::array::from_fn(|k| Constant::new(((60 + 8 * k) as u64).into())),
            thr_room8: std::array::from_fn(|k| Constant::new(((8 * k + 8) as u64).into())),
            thr_room20: std::array::from_fn(|k| Constant::new(((8 * k + 20) as u64).into())),
            k_vlan_outer: lsb(key::VLAN_OUTER),
            k_vlan_inner: lsb(key::VLAN_INNER),
            k_vlan_count: lsb(key::VLAN_COUNT),
            k_ip_version: lsb(key::IP_VERSION),
            k_ip_proto: lsb(key::IP_PROTO),
            k_oam_opcode: lsb(key::OAM_OPCODE),
            k_oam_level: lsb(key::OAM_LEVEL),
            k_mpls_label: lsb(key::MPLS_LABEL),
            k_l4_src: lsb(key::L4_SRC),
            k_l4_dst: lsb(key::L4_DST),
            k_src_ip: lsb(key::SRC_IP),
            k_dst_ip: lsb(key::DST_IP),
            f_truncated: flag(rx_flags::TRUNCATED),
            f_bad_ipv4: flag(rx_flags::BAD_IPV4),
            f_runt: flag(rx_flags::RUNT),
            f_oversize: flag(rx_flags::OVERSIZE),
            f_mac_error: flag(rx_flags::MAC_ERROR),
            probe_max: Constant::new((PROBE_BYTES as u64).into()),
            slots_max: Constant::new((SLOTS as u64).into()),
        }
    }
}

impl Logic for Parser {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            in_frame,
            beat,
            count,
            s1_valid,
            s1_probe,
            s1_short,
            s1_len,
            s1_flags,
            s1_dst_mac,
            s1_ethertype,
            s1_vlan_count,
            s1_vlan_outer,
            s1_vlan_inner,
            s1_l2ok,
            s1_w,
            s1_avail,
            s2_valid,
            s2_probe,
            s2_short,
            s2_len,
            s2_flags,
            s2_key,
            s2_ip4,
            s2_ip6,
            s2_oam,
            s2_w,
            s2_avail,
            s3_valid,
            s3_probe,
            s3_short,
            s3_len,
            s3_flags,
            s3_key,
            s3_ipver,
            s3_proto,
            s3_walk,
            s3_l4en,
            s3_off,
            s3_ext,
            s3_l4word,
            s3_avail_lt,
            s3_cs,
            s3_csum_chk,
            s3_avail_lt20,
            s3_room_lt8,
            s3_room_lt20,
            s3_v4_lt,
            r_valid,
            r_key_valid,
            key_sent,
            r_key,
            r_flags,
            r_len
        );
        for i in 0..SLOTS {
            self.slots[i].clock.next = self.clock.val();
            self.slots[i].d.next = self.slots[i].q.val();
        }

        // ---- Capture ----
        self.fire.next = self.in_valid.val() & self.in_ready.val();
        // Byte-reverse the beat: wire byte 0 goes to bits 63:56.
        self.rev.next = ((self.in_data.val() & 0xff) << 56)
            | ((self.in_data.val() & 0xff00) << 40)
            | ((self.in_data.val() & 0xff0000) << 24)
            | ((self.in_data.val() & 0xff00_0000_u64) << 8)
            | ((self.in_data.val() >> 8) & 0xff00_0000_u64)
            | ((self.in_data.val() >> 24) & 0xff0000)
            | ((self.in_data.val() >> 40) & 0xff00)
            | ((self.in_data.val() >> 56) & 0xff);
        // in_keep is contiguous from bit 0.
        self.nbytes.next = 0.into();
        if self.in_keep.val().get_bit(0) {
            self.nbytes.next = 1.into();
        }
        if self.in_keep.val().get_bit(1) {
            self.nbytes.next = 2.into();
        }
        if self.in_keep.val().get_bit(2) {
            self.nbytes.next = 3.into();
        }
        if self.in_keep.val().get_bit(3) {
            self.nbytes.next = 4.into();
        }
        if self.in_keep.val().get_bit(4) {
            self.nbytes.next = 5.into();
        }
        if self.in_keep.val().get_bit(5) {
            self.nbytes.next = 6.into();
        }
        if self.in_keep.val().get_bit(6) {
            self.nbytes.next = 7.into();
        }
        if self.in_keep.val().get_bit(7) {
            self.nbytes.next = 8.into();
        }
        self.base.next = self.count.q.val();
        if !self.in_frame.q.val() {
            self.base.next = 0.into();
        }
        self.sum17.next =
            bit_cast::<17, 16>(self.base.val()) + bit_cast::<17, 16>(self.nbytes.val());
        self.newlen.next = bit_cast::<16, 17>(self.sum17.val());
        if self.sum17.val().get_bit(16) {
            self.newlen.next = 0xffff.into();
        }
        // The beat goes to slot `beat` of the frame in progress, or to slot 0 as a first beat.
        self.wslot.next = self.beat.q.val();
        if !self.in_frame.q.val() {
            self.wslot.next = 0.into();
        }
        self.done.next = false;
        self.probe.next = false;
        if self.fire.val() {
            if !self.in_frame.q.val() {
                self.beat.d.next = 1.into();
            } else if self.beat.q.val() < self.slots_max.val() {
                self.beat.d.next = self.beat.q.val() + 1;
            }
            self.count.d.next = self.newlen.val();
            self.in_frame.d.next = !self.in_last.val();
            if self.in_last.val() {
                self.done.next = true;
            } else if self.newlen.val() <= self.probe_max.val() {
                self.probe.next = true;
            }
        }

        // ---- Stage 1: Ethernet and VLAN tags ----
        // The stored frame, byte 0 in bits 1215:1208. Slots past the frame's end hold stale
        // bytes; every field read from them is discarded by a length check.
        // Stage 1 reads the slots with this cycle's beat in them (a bypass of the slot
        // registers), so it works on the beat in the cycle it transfers.
        self.cat.next = 0.into();
        for i in 0..SLOTS {
            self.cur.next = self.slots[i].q.val();
            if self.fire.val() & (self.wslot.val().index() == i) {
                self.cur.next = self.rev.val();
            }
            self.slots[i].d.next = self.cur.val();
            self.cat.next = (self.cat.val() << 64) | bit_cast::<1216, 64>(self.cur.val());
        }
        // Data bytes, without the FCS; for a probe, the fewest the frame can have: at least
        // one byte follows the `newlen` seen.
        self.eval_len.next = self.newlen.val();
        if !self.done.val() {
            self.eval_len.next = self.newlen.val() + 1;
        }
        self.dlen.next = 0.into();
        if self.eval_len.val() >= 4 {
            self.dlen.next = self.eval_len.val() - 4;
        }
        // A field of n bytes at byte o is cat[1215-8o : 1216-8o-8n].
        self.et0.next = self.cat.val().get_bits::<16>(1104);
        self.et1.next = self.cat.val().get_bits::<16>(1072);
        self.et2.next = self.cat.val().get_bits::<16>(1040);
        self.tag1.next =
            (self.et0.val() == 0x8100) | (self.et0.val() == 0x88a8) | (self.et0.val() == 0x9100);
        self.tag2.next =
            (self.et1.val() == 0x8100) | (self.et1.val() == 0x88a8) | (self.et1.val() == 0x9100);
        self.l2trunc.next = false;
        self.s1_valid.d.next = self.done.val();
        self.s1_probe.d.next = self.probe.val();
        self.s1_len.d.next = self.newlen.val();
        self.s1_dst_mac.d.next = 0.into();
        self.s1_ethertype.d.next = 0.into();
        self.s1_vlan_count.d.next = 0.into();
        self.s1_vlan_outer.d.next = 0.into();
        self.s1_vlan_inner.d.next = 0.into();
        self.s1_l2ok.d.next = false;
        self.s1_w.d.next = self.cat.val().get_bits::<1024>(80);
        self.s1_avail.d.next = self.dlen.val() - 14;
        if self.dlen.val() < 14 {
            self.l2trunc.next = true;
        } else {
            self.s1_dst_mac.d.next = self.cat.val().get_bits::<48>(1168);
            self.s1_ethertype.d.next = self.et0.val();
            self.s1_l2ok.d.next = true;
            if self.tag1.val() {
                if self.dlen.val() < 18 {
                    self.l2trunc.next = true;
                    self.s1_l2ok.d.next = false;
                } else {
                    self.s1_vlan_count.d.next = 1.into();
                    self.s1_vlan_outer.d.next = self.cat.val().get_bits::<12>(1088);
                    self.s1_ethertype.d.next = self.et1.val();
                    self.s1_w.d.next = self.cat.val().get_bits::<1024>(48);
                    self.s1_avail.d.next = self.dlen.val() - 18;
                    if self.tag2.val() {
                        if self.dlen.val() < 22 {
                            self.l2trunc.next = true;
                            self.s1_l2ok.d.next = false;
                        } else {
                            self.s1_vlan_count.d.next = 2.into();
                            self.s1_vlan_inner.d.next = self.cat.val().get_bits::<12>(1056);
                            self.s1_ethertype.d.next = self.et2.val();
                            self.s1_w.d.next = self.cat.val().get_bits::<1024>(16);
                            self.s1_avail.d.next = self.dlen.val() - 22;
                        }
                    }
                }
            }
        }
        self.flags1.next = 0.into();
        if self.l2trunc.val() {
            self.flags1.next = self.flags1.val() | self.f_truncated.val();
        }
        if self.newlen.val() < 64 {
            self.flags1.next = self.flags1.val() | self.f_runt.val();
        }
        if self.newlen.val() > self.max_len.val() {
            self.flags1.next = self.flags1.val() | self.f_oversize.val();
        }
        if self.in_err.val() {
            self.flags1.next = self.flags1.val() | self.f_mac_error.val();
        }
        self.s1_flags.d.next = self.flags1.val();
        self.s1_short.d.next = self.l2trunc.val();

        // ---- Stage 2: MPLS, PPPoE ----
        // s1_w holds byte o after the tags in bits 1023-8o:1016-8o.
        self.mpls.next = self.s1_l2ok.q.val()
            & ((self.s1_ethertype.q.val() == 0x8847) | (self.s1_ethertype.q.val() == 0x8848));
        // The bottom-of-stack bits of labels 0-3, and the labels up to the first one set.
        self.bos.next = (bit_cast::<4, 1>(self.s1_w.q.val().get_bits::<1>(1000)))
            | (bit_cast::<4, 1>(self.s1_w.q.val().get_bits::<1>(968)) << 1)
            | (bit_cast::<4, 1>(self.s1_w.q.val().get_bits::<1>(936)) << 2)
            | (bit_cast::<4, 1>(self.s1_w.q.val().get_bits::<1>(904)) << 3);
        self.nlab.next = 4.into();
        self.lab_need.next = 16.into();
        self.vnib.next = 0.into();
        if self.bos.val().get_bit(3) {
            self.nlab.next = 4.into();
            self.lab_need.next = 17.into();
            self.vnib.next = self.s1_w.q.val().get_bits::<4>(892);
        }
        if self.bos.val().get_bit(2) {
            self.nlab.next = 3.into();
            self.lab_need.next = 13.into();
            self.vnib.next = self.s1_w.q.val().get_bits::<4>(924);
        }
        if self.bos.val().get_bit(1) {
            self.nlab.next = 2.into();
            self.lab_need.next = 9.into();
            self.vnib.next = self.s1_w.q.val().get_bits::<4>(956);
        }
        if self.bos.val().get_bit(0) {
            self.nlab.next = 1.into();
            self.lab_need.next = 5.into();
            self.vnib.next = self.s1_w.q.val().get_bits::<4>(988);
        }
        self.label.next = 0.into();
        if self.s1_avail.q.val() >= 4 {
            self.label.next = self.s1_w.q.val().get_bits::<20>(1004);
        }
        self.ppp_proto.next = self.s1_w.q.val().get_bits::<16>(960);
        self.pppoe_ok.next =
            (self.s1_w.q.val().get_bits::<16>(1008) == 0x1100) & (self.s1_avail.q.val() >= 8);
        // The shift to the L3 header, in 4-byte units.
        self.sh.next = 0.into();
        self.trunc2.next = false;
        self.ip4.next = false;
        self.ip6.next = false;
        self.s2_oam.d.next = self.s1_l2ok.q.val() & (self.s1_ethertype.q.val() == 0x8902);
        if self.s1_l2ok.q.val() & (self.s1_ethertype.q.val() == 0x0800) {
            self.ip4.next = true;
        }
        if self.s1_l2ok.q.val() & (self.s1_ethertype.q.val() == 0x86dd) {
            self.ip6.next = true;
        }
        if self.mpls.val() {
            if self.s1_avail.q.val() < self.lab_need.val() {
                self.trunc2.next = true;
            } else if self.bos.val() != 0 {
                self.sh.next = self.nlab.val();
                self.ip4.next = self.vnib.val() == 4;
                self.ip6.next = self.vnib.val() == 6;
            }
        }
        if self.s1_l2ok.q.val() & (self.s1_ethertype.q.val() == 0x8864) {
            if self.s1_avail.q.val() < 8 {
                self.trunc2.next = true;
            } else if self.pppoe_ok.val() {
                self.sh.next = 2.into();
                self.ip4.next = self.ppp_proto.val() == 0x0021;
                self.ip6.next = self.ppp_proto.val() == 0x0057;
            }
        }
        self.s2_ip4.d.next = self.ip4.val();
        self.s2_ip6.d.next = self.ip6.val();
        self.s2_w.d.next = self.s1_w.q.val().get_bits::<864>(160);
        if self.sh.val() == 1 {
            self.s2_w.d.next = self.s1_w.q.val().get_bits::<864>(128);
        }
        if self.sh.val() == 2 {
            self.s2_w.d.next = self.s1_w.q.val().get_bits::<864>(96);
        }
        if self.sh.val() == 3 {
            self.s2_w.d.next = self.s1_w.q.val().get_bits::<864>(64);
        }
        if self.sh.val() == 4 {
            self.s2_w.d.next = self.s1_w.q.val().get_bits::<864>(32);
        }
        self.s2_avail.d.next = self.s1_avail.q.val() - (bit_cast::<16, 3>(self.sh.val()) << 2);
        self.key2.next = bit_cast::<416, 48>(self.s1_dst_mac.q.val())
            | (bit_cast::<416, 16>(self.s1_ethertype.q.val()) << self.k_ethertype.val())
            | (bit_cast::<416, 12>(self.s1_vlan_outer.q.val()) << self.k_vlan_outer.val())
            | (bit_cast::<416, 12>(self.s1_vlan_inner.q.val()) << self.k_vlan_inner.val())
            | (bit_cast::<416, 2>(self.s1_vlan_count.q.val()) << self.k_vlan_count.val());
        if self.mpls.val() {
            self.key2.next = self.key2.val()
                | (bit_cast::<416, 20>(self.label.val()) << self.k_mpls_label.val());
        }
        self.s2_key.d.next = self.key2.val();
        self.s2_valid.d.next = self.s1_valid.q.val();
        self.s2_probe.d.next = self.s1_probe.q.val();
        self.s2_len.d.next = self.s1_len.q.val();
        self.s2_flags.d.next = self.s1_flags.q.val();
        if self.trunc2.val() {
            self.s2_flags.d.next = self.s1_flags.q.val() | self.f_truncated.val();
        }
        self.s2_short.d.next = self.s1_short.q.val() | self.trunc2.val();

        // ---- Stage 3: IPv4, IPv6 and its first extension header, OAM ----
        // s2_w holds L3 byte o in bits 863-8o:856-8o.
        self.version.next = self.s2_w.q.val().get_bits::<4>(860);
        self.ihl.next = self.s2_w.q.val().get_bits::<4>(856);
        self.hlen.next = bit_cast::<16, 4>(self.ihl.val()) << 2;
        self.total.next = self.s2_w.q.val().get_bits::<16>(832);
        // One's complement sum of the IHL*2 header words (a good header sums to 0xffff): eight
        // partial sums of up to 4 words here, two additions deep, registered; stage 4 adds
        // them (three more) and checks. The first 10 words are in every header checked
        // (IHL >= 5). (All in this stage, 9 additions deep, it was the block's critical path.)
        self.cs_a.next = (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(848))
            + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(832)))
            + (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(816))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(800)));
        self.cs_b.next = (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(784))
            + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(768)))
            + (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(752))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(736)));
        self.cs_c.next = bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(720))
            + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(704));
        if self.ihl.val() > 5 {
            self.cs_c.next = (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(720))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(704)))
                + (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(688))
                    + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(672)));
        }
        self.cs_d.next = 0.into();
        if self.ihl.val() > 6 {
            self.cs_d.next = bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(656))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(640));
        }
        if self.ihl.val() > 7 {
            self.cs_d.next = (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(656))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(640)))
                + (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(624))
                    + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(608)));
        }
        self.cs_e.next = 0.into();
        if self.ihl.val() > 8 {
            self.cs_e.next = bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(592))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(576));
        }
        if self.ihl.val() > 9 {
            self.cs_e.next = (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(592))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(576)))
                + (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(560))
                    + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(544)));
        }
        self.cs_f.next = 0.into();
        if self.ihl.val() > 10 {
            self.cs_f.next = bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(528))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(512));
        }
        if self.ihl.val() > 11 {
            self.cs_f.next = (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(528))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(512)))
                + (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(496))
                    + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(480)));
        }
        self.cs_g.next = 0.into();
        if self.ihl.val() > 12 {
            self.cs_g.next = bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(464))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(448));
        }
        if self.ihl.val() > 13 {
            self.cs_g.next = (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(464))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(448)))
                + (bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(432))
                    + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(416)));
        }
        self.cs_h.next = 0.into();
        if self.ihl.val() > 14 {
            self.cs_h.next = bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(400))
                + bit_cast::<18, 16>(self.s2_w.q.val().get_bits::<16>(384));
        }
        self.s3_cs.d.next = bit_cast::<144, 18>(self.cs_a.val())
            | (bit_cast::<144, 18>(self.cs_b.val()) << 18)
            | (bit_cast::<144, 18>(self.cs_c.val()) << 36)
            | (bit_cast::<144, 18>(self.cs_d.val()) << 54)
            | (bit_cast::<144, 18>(self.cs_e.val()) << 72)
            | (bit_cast::<144, 18>(self.cs_f.val()) << 90)
            | (bit_cast::<144, 18>(self.cs_g.val()) << 108)
            | (bit_cast::<144, 18>(self.cs_h.val()) << 126);
        // The first 4 bytes after the IPv6 header: an extension header's next header, length
        // and (fragment header) offset.
        self.x1.next = self.s2_w.q.val().get_bits::<32>(512);
        self.x1frag.next = self.s2_w.q.val().get_bits::<8>(808) == 44;
        self.x1ext.next = (self.s2_w.q.val().get_bits::<8>(808) == 0)
            | (self.s2_w.q.val().get_bits::<8>(808) == 43)
            | self.x1frag.val()
            | (self.s2_w.q.val().get_bits::<8>(808) == 60);
        self.x1len.next = (bit_cast::<16, 8>(self.x1.val().get_bits::<8>(16)) + 1) << 3;
        if self.x1frag.val() {
            self.x1len.next = 8.into();
        }
        self.trunc3.next = false;
        // `short`: a header the key depends on did not fit the data bytes (for a probe: the
        // fewest the frame can have). The other truncations (IP lengths) only set the flag.
        self.short3.next = self.s2_short.q.val();
        self.bad4.next = false;
        self.csum_chk.next = false;
        self.ipver.next = 0.into();
        self.proto3.next = 0.into();
        self.walk3.next = false;
        self.l4en3.next = false;
        self.off3.next = 0.into();
        self.src_ip.next = 0.into();
        self.dst_ip.next = 0.into();
        self.oam_level.next = 0.into();
        self.oam_opcode.next = 0.into();
        self.room3.next = self.total.val();
        if self.s2_ip4.q.val() {
            if self.s2_avail.q.val() < 20 {
                self.trunc3.next = true;
                self.short3.next = true;
            } else if (self.version.val() != 4) | (self.ihl.val() < 5) {
                self.bad4.next = true;
            } else if self.s2_avail.q.val() < self.hlen.val() {
                self.trunc3.next = true;
                self.short3.next = true;
            } else {
                self.ipver.next = 4.into();
                self.proto3.next = self.s2_w.q.val().get_bits::<8>(784);
                self.src_ip.next = bit_cast::<128, 32>(self.s2_w.q.val().get_bits::<32>(736));
                self.dst_ip.next = bit_cast::<128, 32>(self.s2_w.q.val().get_bits::<32>(704));
                self.csum_chk.next = true;
                if self.total.val() > self.s2_avail.q.val() {
                    self.trunc3.next = true;
                }
                if self.total.val() < self.hlen.val() {
                    self.bad4.next = true;
                } else if self.s2_w.q.val().get_bits::<13>(800) == 0 {
                    self.l4en3.next = true;
                }
            }
        }
        if self.s2_ip6.q.val() {
            if self.s2_avail.q.val() < 40 {
                self.trunc3.next = true;
                self.short3.next = true;
            } else if self.version.val() == 6 {
                self.ipver.next = 6.into();
                self.proto3.next = self.s2_w.q.val().get_bits::<8>(808);
                self.src_ip.next = self.s2_w.q.val().get_bits::<128>(672);
                self.dst_ip.next = self.s2_w.q.val().get_bits::<128>(544);
                self.room3.next = self.s2_w.q.val().get_bits::<16>(816);
                if self.s2_w.q.val().get_bits::<16>(816) > self.s2_avail.q.val() - 40 {
                    self.trunc3.next = true;
                }
                self.walk3.next = true;
                self.l4en3.next = true;
                if self.x1ext.val() {
                    if self.s2_avail.q.val() < 48 {
                        self.trunc3.next = true;
                        self.short3.next = true;
                        self.walk3.next = false;
                        self.l4en3.next = false;
                    } else if self.x1len.val() > 64 {
                        self.walk3.next = false;
                        self.l4en3.next = false;
                    } else if self.s2_avail.q.val() < self.x1len.val() + 40 {
                        self.trunc3.next = true;
                        self.short3.next = true;
                        self.walk3.next = false;
                        self.l4en3.next = false;
                    } else {
                        self.proto3.next = self.x1.val().get_bits::<8>(24);
                        self.off3.next = self.x1len.val().get_bits::<7>(0);
                        if self.x1frag.val() & (self.x1.val().get_bits::<13>(3) != 0) {
                            self.walk3.next = false;
                            self.l4en3.next = false;
                        }
                    }
                }
            }
        }
        if self.s2_oam.q.val() {
            if self.s2_avail.q.val() < 4 {
                self.trunc3.next = true;
                self.short3.next = true;
            } else {
                self.oam_level.next = self.s2_w.q.val().get_bits::<3>(861);
                self.oam_opcode.next = self.s2_w.q.val().get_bits::<8>(848);
            }
        }
        self.flags3.next = self.s2_flags.q.val();
        if self.trunc3.val() {
            self.flags3.next = self.flags3.val() | self.f_truncated.val();
        }
        if self.bad4.val() {
            self.flags3.next = self.flags3.val() | self.f_bad_ipv4.val();
        }
        self.s3_flags.d.next = self.flags3.val();
        self.s3_csum_chk.d.next = self.csum_chk.val();
        self.s3_short.d.next = self.short3.val();
        self.s3_valid.d.next = self.s2_valid.q.val();
        self.s3_probe.d.next = self.s2_probe.q.val();
        self.s3_len.d.next = self.s2_len.q.val();
        self.s3_ipver.d.next = self.ipver.val();
        self.s3_proto.d.next = self.proto3.val();
        self.s3_walk.d.next = self.walk3.val();
        self.s3_l4en.d.next = self.l4en3.val();
        self.s3_off.d.next = self.off3.val();
        self.s3_ext.d.next = self.s2_w.q.val().get_bits::<544>(0);
        // A mux of the 11 places IHL 5-15 can put it (not a shifter over the whole window).
        self.s3_l4word.d.next = 0.into();
        for j in 5..16 {
            if self.ihl.val().index() == j {
                self.s3_l4word.d.next = self.s2_w.q.val().get_bits::<32>(832 - 32 * j);
            }
        }
        // Stage 4's length checks against every offset it can select (see `s3_avail_lt`): they
        // were 16-bit additions and compares in series behind the second extension header's
        // length and the L4 word's position, the block's critical path.
        self.avail_lt.next = 0.into();
        for k in 0..16 {
            self.avail_lt.next = self
                .avail_lt
                .val()
                .replace_bit(k, self.s2_avail.q.val() < self.thr_avail[k].val());
        }
        self.avail_lt20.next = 0.into();
        self.room_lt8.next = 0.into();
        self.room_lt20.next = 0.into();
        for k in 0..9 {
            self.avail_lt20.next = self
                .avail_lt20
                .val()
                .replace_bit(k, self.s2_avail.q.val() < self.thr_avail20[k].val());
            self.room_lt8.next = self
                .room_lt8
                .val()
                .replace_bit(k, self.room3.val() < self.thr_room8[k].val());
            self.room_lt20.next = self
                .room_lt20
                .val()
                .replace_bit(k, self.room3.val() < self.thr_room20[k].val());
        }
        self.v4_lt.next = 0.into();
        self.v4_lt.next = self
            .v4_lt
            .val()
            .replace_bit(0, self.s2_avail.q.val() < self.hlen.val() + 8);
        self.v4_lt.next = self
            .v4_lt
            .val()
            .replace_bit(1, self.s2_avail.q.val() < self.hlen.val() + 20);
        self.v4_lt.next = self
            .v4_lt
            .val()
            .replace_bit(2, self.room3.val() < self.hlen.val() + 8);
        self.v4_lt.next = self
            .v4_lt
            .val()
            .replace_bit(3, self.room3.val() < self.hlen.val() + 20);
        self.s3_avail_lt.d.next = self.avail_lt.val();
        self.s3_avail_lt20.d.next = self.avail_lt20.val();
        self.s3_room_lt8.d.next = self.room_lt8.val();
        self.s3_room_lt20.d.next = self.room_lt20.val();
        self.s3_v4_lt.d.next = self.v4_lt.val();
        self.s3_key.d.next = self.s2_key.q.val()
            | (bit_cast::<416, 4>(self.ipver.val()) << self.k_ip_version.val())
            | (bit_cast::<416, 128>(self.src_ip.val()) << self.k_src_ip.val())
            | (bit_cast::<416, 128>(self.dst_ip.val()) << self.k_dst_ip.val())
            | (bit_cast::<416, 8>(self.oam_opcode.val()) << self.k_oam_opcode.val())
            | (bit_cast::<416, 3>(self.oam_level.val()) << self.k_oam_level.val());

        // ---- Stage 4: the second IPv6 extension header, L4, the outputs ----
        // s3_ext holds byte o after the IPv6 header in bits 543-8o:536-8o.
        // The walk is at a multiple of 8 bytes: a mux of the 8 places (not a shifter).
        self.x2.next = 0.into();
        for j in 0..8 {
            if self.s3_off.q.val().index() == 8 * j {
                self.x2.next = self.s3_ext.q.val().get_bits::<32>(512 - 64 * j);
            }
        }
        self.x2frag.next = self.s3_proto.q.val() == 44;
        self.x2ext.next = (self.s3_proto.q.val() == 0)
            | (self.s3_proto.q.val() == 43)
            | self.x2frag.val()
            | (self.s3_proto.q.val() == 60);
        // Its end in 8-byte words: offset + length + 1 (a fragment header: 1); a length of 8
        // words or more ends it past byte 64 wherever it starts.
        self.off8p1.next = bit_cast::<4, 3>(self.s3_off.q.val().get_bits::<3>(3)) + 1;
        self.x2end8.next = self.off8p1.val() + bit_cast::<4, 3>(self.x2.val().get_bits::<3>(16));
        self.x2big.next = self.x2.val().get_bits::<5>(19) != 0;
        if self.x2frag.val() {
            self.x2end8.next = self.off8p1.val();
            self.x2big.next = false;
        }
        self.proto4.next = self.s3_proto.q.val();
        self.walk4.next = self.s3_walk.q.val();
        self.off4.next = self.s3_off.q.val();
        self.l4en.next = self.s3_l4en.q.val();
        self.trunc4.next = false;
        self.short4.next = self.s3_short.q.val();
        if (self.s3_ipver.q.val() == 6) & self.s3_walk.q.val() & self.x2ext.val() {
            if self.s3_off.q.val() > 56 {
                self.walk4.next = false;
                self.l4en.next = false;
            } else if self.s3_avail_lt.q.val().get_bit(self.off8p1.val().index()) {
                self.trunc4.next = true;
                self.short4.next = true;
                self.walk4.next = false;
                self.l4en.next = false;
            } else if self.x2big.val() | (self.x2end8.val() > 8) {
                self.walk4.next = false;
                self.l4en.next = false;
            } else if self.s3_avail_lt.q.val().get_bit(self.x2end8.val().index()) {
                self.trunc4.next = true;
                self.short4.next = true;
                self.walk4.next = false;
                self.l4en.next = false;
            } else {
                self.proto4.next = self.x2.val().get_bits::<8>(24);
                self.off4.next = bit_cast::<7, 4>(self.x2end8.val()) << 3;
                if self.x2frag.val() & (self.x2.val().get_bits::<13>(3) != 0) {
                    self.walk4.next = false;
                    self.l4en.next = false;
                }
            }
        }
        // A third extension header is not followed.
        if (self.s3_ipver.q.val() == 6)
            & ((self.proto4.val() == 0)
                | (self.proto4.val() == 43)
                | (self.proto4.val() == 44)
                | (self.proto4.val() == 60))
        {
            self.l4en.next = false;
        }
        // L4: TCP 20 bytes, UDP 8, ICMP (under its own IP version) 8.
        self.l4word.next = self.s3_l4word.q.val();
        self.k4.next = self.off4.val().get_bits::<4>(3);
        self.k4p1.next = self.k4.val() + 1;
        if self.s3_ipver.q.val() == 6 {
            self.l4word.next = 0.into();
            for j in 0..9 {
                if self.k4.val().index() == j {
                    self.l4word.next = self.s3_ext.q.val().get_bits::<32>(512 - 64 * j);
                }
            }
        }
        self.l4hl.next = 0.into();
        self.icmp.next = false;
        if self.proto4.val() == 6 {
            self.l4hl.next = 20.into();
        }
        if self.proto4.val() == 17 {
            self.l4hl.next = 8.into();
        }
        if ((self.proto4.val() == 1) & (self.s3_ipver.q.val() == 4))
            | ((self.proto4.val() == 58) & (self.s3_ipver.q.val() == 6))
        {
            self.l4hl.next = 8.into();
            self.icmp.next = true;
        }
        // The L4 header against the bytes at hand (`l4cut`) and the IP length (`l4over`): the
        // stage-3 flags for its offset and length (TCP 20, the others 8).
        if self.s3_ipver.q.val() == 6 {
            self.l4cut.next = self.s3_avail_lt.q.val().get_bit(self.k4p1.val().index());
            self.l4over.next = self.s3_room_lt8.q.val().get_bit(self.k4.val().index());
            if self.proto4.val() == 6 {
                self.l4cut.next = self.s3_avail_lt20.q.val().get_bit(self.k4.val().index());
                self.l4over.next = self.s3_room_lt20.q.val().get_bit(self.k4.val().index());
            }
        } else {
            self.l4cut.next = self.s3_v4_lt.q.val().get_bit(0);
            self.l4over.next = self.s3_v4_lt.q.val().get_bit(2);
            if self.proto4.val() == 6 {
                self.l4cut.next = self.s3_v4_lt.q.val().get_bit(1);
                self.l4over.next = self.s3_v4_lt.q.val().get_bit(3);
            }
        }
        self.l4_src.next = 0.into();
        self.l4_dst.next = 0.into();
        if self.l4en.val() & (self.l4hl.val() != 0) {
            if self.l4cut.val() {
                self.short4.next = true;
            }
            if self.l4cut.val() | self.l4over.val() {
                self.trunc4.next = true;
            } else if self.icmp.val() {
                self.l4_src.next = bit_cast::<16, 8>(self.l4word.val().get_bits::<8>(24));
                self.l4_dst.next = bit_cast::<16, 8>(self.l4word.val().get_bits::<8>(16));
            } else {
                self.l4_src.next = self.l4word.val().get_bits::<16>(16);
                self.l4_dst.next = self.l4word.val().get_bits::<16>(0);
            }
        }
        self.flags4.next = self.s3_flags.q.val();
        if self.trunc4.val() {
            self.flags4.next = self.flags4.val() | self.f_truncated.val();
        }
        // The IPv4 header checksum, from stage 3's partial sums.
        self.csum.next = ((bit_cast::<24, 18>(self.s3_cs.q.val().get_bits::<18>(0))
            + bit_cast::<24, 18>(self.s3_cs.q.val().get_bits::<18>(18)))
            + (bit_cast::<24, 18>(self.s3_cs.q.val().get_bits::<18>(36))
                + bit_cast::<24, 18>(self.s3_cs.q.val().get_bits::<18>(54))))
            + ((bit_cast::<24, 18>(self.s3_cs.q.val().get_bits::<18>(72))
                + bit_cast::<24, 18>(self.s3_cs.q.val().get_bits::<18>(90)))
                + (bit_cast::<24, 18>(self.s3_cs.q.val().get_bits::<18>(108))
                    + bit_cast::<24, 18>(self.s3_cs.q.val().get_bits::<18>(126))));
        self.csum1.next = (self.csum.val() & 0xffff) + (self.csum.val() >> 16);
        self.csum2.next = (self.csum1.val() & 0xffff) + (self.csum1.val() >> 16);
        if self.s3_csum_chk.q.val() & (self.csum2.val() != 0xffff) {
            self.flags4.next = self.flags4.val() | self.f_bad_ipv4.val();
        }
        self.r_valid.d.next = self.s3_valid.q.val();
        if self.s3_valid.q.val() {
            self.r_len.d.next = self.s3_len.q.val();
            self.r_flags.d.next = self.flags4.val();
        }
        // The key goes out once per frame: from the first probe that found every header it
        // depends on, or with the end result.
        self.key_now.next = (self.s3_valid.q.val() | (self.s3_probe.q.val() & !self.short4.val()))
            & !self.key_sent.q.val();
        self.r_key_valid.d.next = self.key_now.val();
        if self.key_now.val() & !self.s3_valid.q.val() {
            self.key_sent.d.next = true;
        }
        if self.s3_valid.q.val() {
            self.key_sent.d.next = false;
        }
        if self.key_now.val() {
            self.r_key.d.next = self.s3_key.q.val()
                | (bit_cast::<416, 8>(self.proto4.val()) << self.k_ip_proto.val())
                | (bit_cast::<416, 16>(self.l4_src.val()) << self.k_l4_src.val())
                | (bit_cast::<416, 16>(self.l4_dst.val()) << self.k_l4_dst.val());
        }
        self.out_valid.next = self.r_valid.q.val();
        self.key_valid.next = self.r_key_valid.q.val();
        self.out_key.next = self.r_key.q.val();
        self.out_flags.next = self.r_flags.q.val();
        self.out_len.next = self.r_len.q.val();

        if self.reset.val() {
            self.in_frame.d.next = false;
            self.beat.d.next = 0.into();
            self.s1_valid.d.next = false;
            self.s1_probe.d.next = false;
            self.s2_valid.d.next = false;
            self.s2_probe.d.next = false;
            self.s3_valid.d.next = false;
            self.s3_probe.d.next = false;
            self.r_valid.d.next = false;
            self.r_key_valid.d.next = false;
            self.key_sent.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc::tests::{to_beats, verilator_lint};
    use evnic_model::gen::{Encap, FrameGen, FrameKind, Mutation};
    use evnic_model::parse::{parse, Parsed};
    use evnic_regs::event::rx_flags;
    use evnic_regs::key::KeyBits;
    use rand::Rng;
    use rand_chacha::ChaCha8Rng;

    fn to_keybits(b: Bits<416>) -> KeyBits {
        let mut k = KeyBits::default();
        for limb in 0..4 {
            let width = if limb == 3 { 32 } else { 128 };
            let mut v = 0u128;
            for i in 0..width {
                if b.get_bit(limb * 128 + i) {
                    v |= 1 << i;
                }
            }
            k.0[limb] = v;
        }
        k
    }

    /// One cycle's stream inputs.
    #[derive(Clone, Copy, Default)]
    struct Inputs {
        data: u64,
        keep: u8,
        valid: bool,
        ready: bool,
        last: bool,
        err: bool,
    }

    struct Bench {
        uut: Parser,
        max_len: u16,
        /// Results still expected: (cycles until `out_valid`, result, description).
        expected: Vec<(usize, Parsed, String)>,
        results: usize,
        /// Keys still expected, in order: (key, description).
        keys: std::collections::VecDeque<(KeyBits, String)>,
        /// Keys seen so far.
        keys_seen: usize,
        /// Per cycle driven: the beat that transferred (its number in the frame, from 1).
        beats: Vec<Option<usize>>,
        /// Per key seen: the number of the beat after which it was known.
        key_beats: Vec<usize>,
        /// Beats of the frame in progress.
        beat_no: usize,
        /// A frame cut by a reset may have given its key: accept a key nobody expects.
        stray_ok: bool,
    }

    impl Bench {
        fn new(max_len: u16) -> Self {
            let mut uut = Parser::default();
            uut.connect_all();
            check_all(&uut).unwrap();
            let mut bench = Bench {
                uut,
                max_len,
                expected: vec![],
                results: 0,
                keys: Default::default(),
                keys_seen: 0,
                beats: vec![],
                key_beats: vec![],
                beat_no: 0,
                stray_ok: false,
            };
            bench.uut.max_len.next = (max_len as u64).into();
            bench.settle();
            bench.uut.reset.next = true;
            bench.clock();
            bench.uut.reset.next = false;
            bench
        }

        fn settle(&mut self) {
            assert!(simulate(&mut self.uut, 100), "the circuit did not settle");
        }

        fn clock(&mut self) {
            self.settle();
            self.uut.clock.next = true.into();
            self.settle();
            self.uut.clock.next = false.into();
            self.settle();
        }

        /// Drives `inp` for one cycle and checks the outputs against what is due.
        fn cycle(&mut self, inp: Inputs, result: Option<(Parsed, String)>) {
            let u = &mut self.uut;
            u.in_data.next = inp.data.into();
            u.in_keep.next = (inp.keep as u64).into();
            u.in_valid.next = inp.valid;
            u.in_ready.next = inp.ready;
            u.in_last.next = inp.last;
            u.in_err.next = inp.err;
            if let Some((p, what)) = result {
                self.expected.push((LATENCY, p, what));
            }
            // Settle first: `reset` set by the caller is only visible once propagated.
            self.settle();
            let fire = inp.valid && inp.ready && !self.uut.reset.val();
            if fire {
                self.beat_no += 1;
            }
            self.beats.push(fire.then_some(self.beat_no));
            if fire && inp.last {
                self.beat_no = 0;
            }
            if self.uut.reset.val() {
                self.beat_no = 0;
            }
            self.clock();
            if self.uut.key_valid.val() {
                let c = self.beats.len();
                let beat = self.beats[c - LATENCY].expect("a key LATENCY cycles after a beat");
                match self.keys.pop_front() {
                    Some((want, what)) => {
                        assert_eq!(
                            to_keybits(self.uut.out_key.val()),
                            want,
                            "key {}: {what}",
                            self.keys_seen
                        );
                        self.keys_seen += 1;
                        self.key_beats.push(beat);
                    }
                    None => assert!(self.stray_ok, "a key nobody expects"),
                }
            }
            for e in self.expected.iter_mut() {
                e.0 -= 1;
            }
            let due = self.expected.first().filter(|e| e.0 == 0).cloned();
            assert_eq!(
                self.uut.out_valid.val(),
                due.is_some(),
                "out_valid {LATENCY} cycles after the last beat (result {})",
                self.results
            );
            if let Some((_, want, what)) = due {
                assert!(
                    self.keys_seen > self.results,
                    "result {}: its key came before or with it",
                    self.results
                );
                let got = Parsed {
                    key: to_keybits(self.uut.out_key.val()),
                    flags: self.uut.out_flags.val().to_u8(),
                    len: self.uut.out_len.val().to_u16(),
                };
                assert_eq!(got, want, "result {}: {what}", self.results);
                self.expected.remove(0);
                self.results += 1;
            }
        }

        /// Sends `frame`; with `stalls`, random cycles where valid or ready is low come
        /// before beats.
        fn send(
            &mut self,
            frame: &[u8],
            err: bool,
            stalls: bool,
            rng: &mut ChaCha8Rng,
            what: &str,
        ) {
            let want = parse(frame, err, self.max_len);
            self.keys
                .push_back((want.key, format!("{what} len {}", frame.len())));
            self.stray_ok = false;
            let beats = to_beats(frame, rng);
            let n = beats.len();
            for (i, &(data, keep)) in beats.iter().enumerate() {
                while stalls && rng.gen_bool(0.2) {
                    let (valid, ready) = match rng.gen_range(0..3) {
                        0 => (true, false),
                        1 => (false, true),
                        _ => (false, false),
                    };
                    let junk = Inputs {
                        data: if valid { data } else { rng.gen() },
                        keep: if valid { keep } else { rng.gen() },
                        valid,
                        ready,
                        last: if valid { i + 1 == n } else { rng.gen() },
                        err: rng.gen(),
                    };
                    self.cycle(junk, None);
                }
                let last = i + 1 == n;
                let inp = Inputs {
                    data,
                    keep,
                    valid: true,
                    ready: true,
                    last,
                    err: if last { err } else { rng.gen() },
                };
                let res = last.then(|| (want, format!("{what} len {}", frame.len())));
                self.cycle(inp, res);
            }
        }

        fn idle(&mut self, n: usize) {
            for _ in 0..n {
                let inp = Inputs {
                    ready: true,
                    ..Default::default()
                };
                self.cycle(inp, None);
            }
        }

        fn finish(&mut self) {
            self.idle(LATENCY + 1);
            assert!(self.expected.is_empty(), "every frame got its result");
            assert!(self.keys.is_empty(), "every frame got its key");
        }
    }

    /// Sends every frame of `frames` (bytes, MAC error) and checks each result against the
    /// model.
    fn run(
        bench: &mut Bench,
        frames: &[(Vec<u8>, bool, String)],
        stalls: bool,
        rng: &mut ChaCha8Rng,
    ) {
        for (f, err, what) in frames {
            bench.send(f, *err, stalls, rng, what);
        }
        bench.finish();
        assert_eq!(bench.results, frames.len());
    }

    #[test]
    fn every_kind_tag_count_and_mutation() {
        let mut g = FrameGen::new(11);
        let mut frames = vec![];
        let mut flags_seen = 0u8;
        for kind in FrameKind::ALL {
            for vlans in 0..=2 {
                for m in [
                    Mutation::None,
                    Mutation::Truncated(0),
                    Mutation::Truncated(0),
                    Mutation::Flipped,
                    Mutation::BadIhl,
                    Mutation::BadChecksum,
                    Mutation::Fragment,
                    Mutation::LongIpLength,
                    Mutation::MacError,
                ] {
                    let mut f = g.well_formed(kind, vlans);
                    // Keep the simulation short: long payloads add nothing here.
                    while f.bytes.len() > 400 {
                        f = g.well_formed(kind, vlans);
                    }
                    let f = g.mutate(f, m);
                    flags_seen |= parse(&f.bytes, f.mac_err, 1518).flags;
                    let what = format!("{kind:?} vlans {vlans} {:?}", f.mutation);
                    frames.push((f.bytes, f.mac_err, what));
                }
            }
        }
        let mut bench = Bench::new(1518);
        run(&mut bench, &frames, false, g.rng());
        for fl in [
            rx_flags::TRUNCATED,
            rx_flags::BAD_IPV4,
            rx_flags::RUNT,
            rx_flags::MAC_ERROR,
        ] {
            assert_ne!(flags_seen & fl, 0, "flag {fl:#x} was tested");
        }
    }

    /// MPLS stacks of 1 to 5 labels, PPPoE sessions, QinQ tags (0x9100 among them) and IPv6
    /// extension header chains, whole and cut short, against the model.
    #[test]
    fn every_encapsulation_and_extension_header_chain() {
        let mut g = FrameGen::new(18);
        let mut frames = vec![];
        let mut seen = [0usize; 4];
        let encaps = [
            Encap::Mpls(1),
            Encap::Mpls(2),
            Encap::Mpls(4),
            Encap::Mpls(5),
            Encap::Pppoe,
            Encap::None,
        ];
        for kind in [
            FrameKind::Raw,
            FrameKind::Ipv4Tcp,
            FrameKind::Ipv4Udp,
            FrameKind::Ipv6Tcp,
            FrameKind::Ipv6Udp,
            FrameKind::Ipv6Icmp,
        ] {
            for encap in encaps {
                for m in [Mutation::None, Mutation::Truncated(0), Mutation::Flipped] {
                    let vlans = g.rng().gen_range(0..=2);
                    let f = loop {
                        let f = g.well_formed_in(kind, vlans, encap, true);
                        if f.bytes.len() <= 300 {
                            break f;
                        }
                    };
                    let f = g.mutate(f, m);
                    let p = parse(&f.bytes, f.mac_err, 1518);
                    if p.key.get(key::MPLS_LABEL) != 0 {
                        seen[0] += 1;
                    }
                    if p.key.get(key::ETHERTYPE) == 0x8864 && p.key.get(key::IP_VERSION) != 0 {
                        seen[1] += 1;
                    }
                    if !f.exts.is_empty() && p.key.get(key::L4_DST) != 0 {
                        seen[2] += 1;
                    }
                    if f.bytes.get(12..14) == Some(&[0x91, 0x00]) {
                        seen[3] += 1;
                    }
                    let what = format!("{kind:?} {encap:?} {:?} exts {:?}", f.mutation, f.exts);
                    frames.push((f.bytes, f.mac_err, what));
                }
            }
        }
        assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
        let mut bench = Bench::new(1518);
        run(&mut bench, &frames, true, g.rng());
    }

    #[test]
    fn random_frames_with_stalls() {
        let mut g = FrameGen::new(12);
        let frames: Vec<_> = (0..150)
            .map(|i| {
                let f = g.next_frame_upto(600);
                (
                    f.bytes,
                    f.mac_err,
                    format!("frame {i} {:?} {:?}", f.kind, f.mutation),
                )
            })
            .collect();
        let mut bench = Bench::new(1518);
        run(&mut bench, &frames, true, g.rng());
    }

    #[test]
    fn tiny_runt_oversize_and_jumbo_frames() {
        let mut g = FrameGen::new(13);
        let mut frames = vec![];
        // Every length from 1 to 90 bytes, of IPv4/TCP with options and two tags, cut short.
        for len in 1..=90 {
            let mut f = g.well_formed(FrameKind::Ipv4Tcp, 2);
            f.bytes.truncate(len);
            frames.push((f.bytes, false, format!("cut to {len}")));
        }
        // Oversize against max_len 1518, and a jumbo up to the 16383-byte limit.
        for len in [1518usize, 1519, 9000, 16383] {
            let mut f = g.well_formed(FrameKind::Ipv6Udp, 1);
            f.bytes.resize(len, 0xa5);
            frames.push((f.bytes, len == 9000, format!("long {len}")));
        }
        let mut bench = Bench::new(1518);
        run(&mut bench, &frames, false, g.rng());
        let p = parse(&frames[frames.len() - 1].0, false, 1518);
        assert_eq!(p.flags, rx_flags::OVERSIZE);
    }

    #[test]
    fn one_beat_frames_give_one_result_per_cycle() {
        let mut g = FrameGen::new(14);
        let mut bench = Bench::new(1518);
        let mut frames = vec![];
        for i in 0..60 {
            let len = g.rng().gen_range(1..=8);
            let bytes: Vec<u8> = (0..len).map(|_| g.rng().gen()).collect();
            frames.push((bytes, i % 3 == 0, format!("one-beat {i}")));
        }
        // Then a full frame right behind a one-beat one: no stale state leaks either way.
        for _ in 0..10 {
            let f = g.next_frame_upto(200);
            frames.push((f.bytes, false, "full".into()));
            frames.push((vec![0x11; 5], false, "one-beat".into()));
        }
        run(&mut bench, &frames, false, g.rng());
    }

    #[test]
    fn max_len_is_an_input() {
        let mut g = FrameGen::new(15);
        for max in [64u16, 100, 9022] {
            let mut bench = Bench::new(max);
            let frames: Vec<_> = (0..10)
                .map(|_| {
                    let f = g.next_frame_upto(300);
                    (f.bytes, false, format!("max {max}"))
                })
                .collect();
            run(&mut bench, &frames, false, g.rng());
        }
    }

    #[test]
    fn reset_mid_frame_drops_it_and_restarts() {
        let mut g = FrameGen::new(16);
        let mut bench = Bench::new(1518);
        for round in 0..8 {
            bench.idle(LATENCY + 1);
            let f = g.next_frame_upto(300);
            let beats = to_beats(&f.bytes, g.rng());
            // Even rounds: reset in the middle of a frame. Odd rounds: reset in the cycle
            // after a frame's last beat, while its result is in the pipeline.
            let cut = if round % 2 == 1 || beats.len() <= 2 {
                beats.len()
            } else {
                g.rng().gen_range(1..beats.len() - 1)
            };
            // The frame cut by the reset may give its key (early) before the reset.
            bench.stray_ok = true;
            for (i, &(data, keep)) in beats[..cut].iter().enumerate() {
                let inp = Inputs {
                    data,
                    keep,
                    valid: true,
                    ready: true,
                    last: i + 1 == beats.len(),
                    ..Default::default()
                };
                bench.cycle(inp, None);
            }
            // A last beat in the reset cycle is dropped too.
            bench.uut.reset.next = true;
            let inp = Inputs {
                data: g.rng().gen(),
                keep: 0xff,
                valid: round % 4 < 2,
                ready: true,
                last: true,
                ..Default::default()
            };
            bench.cycle(inp, None);
            bench.uut.reset.next = false;
            let f = g.next_frame_upto(300);
            bench.send(&f.bytes, f.mac_err, true, g.rng(), "after reset");
        }
        bench.finish();
        assert_eq!(bench.results, 8);
    }

    /// The key comes after the beat that completes the headers it depends on (the lower bound
    /// of the frame's length fitting them), never later than the 14th beat, and only once.
    #[test]
    fn the_key_comes_once_its_headers_are_in() {
        let mut g = FrameGen::new(17);
        // Well-formed frames of 200..600 bytes; for each, the data bytes its key depends on:
        // the Ethernet header and tags, the IP header (IHL from the frame) and the L4 header.
        let mut cases: Vec<(Vec<u8>, usize, String)> = vec![];
        for (kind, l4) in [
            (FrameKind::Raw, None),
            (FrameKind::Oam, Some(4)),
            (FrameKind::Ipv4Udp, Some(8)),
            (FrameKind::Ipv4Tcp, Some(20)),
            (FrameKind::Ipv6Udp, Some(8)),
            (FrameKind::Ipv6Tcp, Some(20)),
        ] {
            for vlans in 0..=2 {
                for _ in 0..3 {
                    let f = loop {
                        let f = g.well_formed(kind, vlans);
                        if (200..=600).contains(&f.bytes.len()) {
                            break f.bytes;
                        }
                    };
                    let l3 = 14 + 4 * vlans;
                    let needed = match (kind, l4) {
                        (FrameKind::Raw, _) => l3,
                        (FrameKind::Oam, Some(n)) => l3 + n,
                        (FrameKind::Ipv4Udp | FrameKind::Ipv4Tcp, Some(n)) => {
                            l3 + usize::from(f[l3] & 0xf) * 4 + n
                        }
                        (_, Some(n)) => l3 + 40 + n,
                        _ => unreachable!(),
                    };
                    // After beat b at least 8b - 3 data bytes are known to be there.
                    let beat = (needed + 3).div_ceil(8);
                    cases.push((f, beat, format!("{kind:?} vlans {vlans} needs {needed}")));
                }
            }
        }
        // The most a key can depend on: two tags, a 60-byte IPv4 header, TCP: 102 bytes.
        let widest = loop {
            let f = g.well_formed(FrameKind::Ipv4Tcp, 2);
            if f.bytes[22] & 0xf == 15 && (200..=600).contains(&f.bytes.len()) {
                break f.bytes;
            }
        };
        cases.push((widest, 14, "TCP/IPv4, 60-byte header, two tags".into()));
        let mut bench = Bench::new(1518);
        let frames: Vec<_> = cases
            .iter()
            .map(|(f, _, what)| (f.clone(), false, what.clone()))
            .collect();
        run(&mut bench, &frames, true, g.rng());
        for (i, (f, beat, what)) in cases.iter().enumerate() {
            assert_eq!(bench.key_beats[i], *beat, "{what} {:02x?}", &f[..30]);
        }
        // Random frames: by the 14th beat, or with the last.
        let mut bench = Bench::new(1518);
        let frames: Vec<_> = (0..120)
            .map(|i| {
                let f = g.next_frame_upto(400);
                (f.bytes, f.mac_err, format!("frame {i}"))
            })
            .collect();
        run(&mut bench, &frames, false, g.rng());
        for (i, (f, _, _)) in frames.iter().enumerate() {
            let beats = f.len().div_ceil(8);
            assert!(
                bench.key_beats[i] <= beats.min(PROBE_BYTES / 8),
                "frame {i}"
            );
        }
        assert!(
            frames
                .iter()
                .zip(&bench.key_beats)
                .any(|((f, _, _), b)| *b < f.len().div_ceil(8)),
            "some keys came early"
        );
    }

    #[test]
    fn the_slots_hold_the_bytes_the_model_reads() {
        assert_eq!(SLOTS * 8, evnic_model::parse::HEADER_BYTES);
        // Probes reach the deepest header the key depends on: 2 tags, 4 labels, the IPv6
        // header, the extension headers, TCP, and the 3 bytes a probe's bound lacks.
        const { assert!(PROBE_BYTES >= 14 + 8 + 16 + 40 + evnic_model::parse::EXT_BYTES + 20 + 3) };
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = Parser::default();
        uut.connect_all();
        verilator_lint("parser", &generate_verilog(&uut));
    }
}
