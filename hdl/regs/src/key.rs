//! The filter key: the header fields the parser extracts from each frame, packed into
//! [`KEY_BITS`] bits. The filter table matches entries (value, mask) over this key, and the
//! filter page holds it as [`KEY_WORDS`] 32-bit words, word 0 holding bits 31:0.

/// A field of the key: name, lowest bit, width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyField {
    pub name: &'static str,
    pub lsb: u32,
    pub width: u32,
    pub doc: &'static str,
}

const fn f(name: &'static str, lsb: u32, width: u32, doc: &'static str) -> KeyField {
    KeyField {
        name,
        lsb,
        width,
        doc,
    }
}

pub const DST_MAC: KeyField = f(
    "dst_mac",
    0,
    48,
    "Destination MAC, first byte on the wire in bits 47:40.",
);
pub const ETHERTYPE: KeyField = f(
    "ethertype",
    48,
    16,
    "Ethertype after any VLAN tags (0x8847/0x8848 for MPLS, 0x8864 for PPPoE: the IP fields are then the inner packet's).",
);
pub const VLAN_OUTER: KeyField = f(
    "vlan_outer",
    64,
    12,
    "VLAN id of the first tag (TPID 0x8100, 0x88a8 or 0x9100).",
);
pub const VLAN_INNER: KeyField = f("vlan_inner", 76, 12, "VLAN id of the second tag.");
pub const VLAN_COUNT: KeyField = f("vlan_count", 88, 2, "Number of VLAN tags (0-2).");
pub const IP_VERSION: KeyField = f(
    "ip_version",
    92,
    4,
    "4 or 6 for a parsed IP header (directly, under MPLS or in a PPPoE session), else 0.",
);
pub const IP_PROTO: KeyField = f(
    "ip_proto",
    96,
    8,
    "IPv4 protocol / IPv6 next header after the extension headers followed.",
);
pub const OAM_OPCODE: KeyField = f(
    "oam_opcode",
    104,
    8,
    "Ethernet OAM (0x8902) opcode. Shares its bits with `mpls_label`.",
);
pub const OAM_LEVEL: KeyField = f(
    "oam_level",
    112,
    3,
    "Ethernet OAM MEG level (MEL). Shares its bits with `mpls_label`.",
);
/// The top label shares bits 123:104 with the OAM fields: they are set only under ethertype
/// 0x8902, the label only under 0x8847/0x8848, so a filter on either also names the
/// ethertype.
pub const MPLS_LABEL: KeyField = f(
    "mpls_label",
    104,
    20,
    "Top (first) MPLS label, under ethertype 0x8847/0x8848; shares bits 123:104 with the OAM fields (0 unless ethertype 0x8902).",
);
pub const L4_SRC: KeyField = f("l4_src", 128, 16, "UDP/TCP source port; ICMP type.");
pub const L4_DST: KeyField = f("l4_dst", 144, 16, "UDP/TCP destination port; ICMP code.");
pub const SRC_IP: KeyField = f(
    "src_ip",
    160,
    128,
    "Source address: IPv6, or IPv4 in bits 31:0 with the rest 0.",
);
pub const DST_IP: KeyField = f(
    "dst_ip",
    288,
    128,
    "Destination address, laid out as src_ip.",
);

/// Bits in the key.
pub const KEY_BITS: u32 = 416;
/// 32-bit words in the key.
pub const KEY_WORDS: u32 = KEY_BITS / 32;

/// Every key field, in bit order.
pub const FIELDS: &[KeyField] = &[
    DST_MAC, ETHERTYPE, VLAN_OUTER, VLAN_INNER, VLAN_COUNT, IP_VERSION, IP_PROTO, OAM_OPCODE,
    MPLS_LABEL, OAM_LEVEL, L4_SRC, L4_DST, SRC_IP, DST_IP,
];

/// The pairs of fields that share bits: the parser sets at most one of each pair in a key
/// (which one follows from the ethertype).
pub const SHARED: &[(KeyField, KeyField)] = &[(OAM_OPCODE, MPLS_LABEL), (OAM_LEVEL, MPLS_LABEL)];

/// A key or a mask as plain bits: `u128` limbs, limb 0 holding bits 127:0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyBits(pub [u128; 4]);

impl KeyBits {
    /// The bits with `value` in each of `fields` (high bits beyond a field are cut off) and 0
    /// elsewhere: a mask such as "the destination IPv4 address's upper 24 bits and the port".
    pub fn of_fields(fields: &[(KeyField, u128)]) -> KeyBits {
        let mut k = KeyBits::default();
        for (f, v) in fields {
            k.set(*f, *v);
        }
        k
    }

    /// The mask of every bit of `fields`.
    pub fn mask_of(fields: &[KeyField]) -> KeyBits {
        let mut k = KeyBits::default();
        for f in fields {
            k.set(*f, u128::MAX);
        }
        k
    }

    /// Sets `field` to `value` (high bits beyond the field are cut off).
    pub fn set(&mut self, field: KeyField, value: u128) {
        for i in 0..field.width {
            let bit = (value >> i) & 1 == 1;
            let pos = field.lsb + i;
            let (limb, b) = ((pos / 128) as usize, pos % 128);
            if bit {
                self.0[limb] |= 1u128 << b;
            } else {
                self.0[limb] &= !(1u128 << b);
            }
        }
    }
    /// Value of `field`.
    pub fn get(&self, field: KeyField) -> u128 {
        (0..field.width).fold(0u128, |acc, i| {
            let pos = field.lsb + i;
            let bit = (self.0[(pos / 128) as usize] >> (pos % 128)) & 1;
            acc | (bit << i)
        })
    }
    /// 32-bit word `i` (as written to the filter page).
    pub fn word(&self, i: u32) -> u32 {
        (self.0[(i / 4) as usize] >> ((i % 4) * 32)) as u32
    }
    /// The bits whose 32-bit words (as written to the filter page) are `words`, word 0 first;
    /// words past the key are ignored, missing ones are 0.
    pub fn from_words(words: &[u32]) -> KeyBits {
        let mut k = KeyBits::default();
        for (i, w) in words.iter().take(KEY_WORDS as usize).enumerate() {
            k.0[i / 4] |= u128::from(*w) << ((i % 4) * 32);
        }
        k
    }
    /// True when `self` matches `value` in every bit set in `mask`.
    pub fn matches(&self, value: &KeyBits, mask: &KeyBits) -> bool {
        (0..4).all(|i| (self.0[i] ^ value.0[i]) & mask.0[i] == 0)
    }
}

impl std::ops::BitAnd for KeyBits {
    type Output = KeyBits;
    /// The bits set in both (a key under a mask).
    fn bitand(self, mask: KeyBits) -> KeyBits {
        KeyBits([0, 1, 2, 3].map(|i| self.0[i] & mask.0[i]))
    }
}

/// Renders the key layout as Markdown.
pub fn render_markdown() -> String {
    use std::fmt::Write;
    let mut out = format!(
        "## Filter key\n\n{KEY_BITS} bits, held in the filter page as {KEY_WORDS} words (word 0 = bits 31:0).\n\n| bits | field | description |\n|---|---|---|\n"
    );
    for k in FIELDS {
        let _ = writeln!(
            out,
            "| {}:{} | `{}` | {} |",
            k.lsb + k.width - 1,
            k.lsb,
            k.name,
            k.doc
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap_but_where_shared_and_fit() {
        for (i, a) in FIELDS.iter().enumerate() {
            assert!(a.lsb + a.width <= KEY_BITS, "{}", a.name);
            for b in &FIELDS[i + 1..] {
                let m = KeyBits::mask_of(&[*a]) & KeyBits::mask_of(&[*b]);
                let shared = SHARED.contains(&(*a, *b)) || SHARED.contains(&(*b, *a));
                assert_eq!(
                    m != KeyBits::default(),
                    shared,
                    "{} and {}: overlap only where documented",
                    a.name,
                    b.name
                );
            }
        }
    }

    #[test]
    fn set_get_and_match() {
        let mut k = KeyBits::default();
        k.set(L4_DST, 319);
        k.set(DST_IP, 0x0a00_0001);
        assert_eq!(k.get(L4_DST), 319);
        assert_eq!(k.word(L4_DST.lsb / 32) >> 16, 319);
        let mut v = KeyBits::default();
        v.set(DST_IP, 0x0a00_0000);
        let mut m = KeyBits::default();
        m.set(DST_IP, 0xff00_0000);
        assert!(k.matches(&v, &m));
        m.set(L4_DST, 0xffff);
        assert!(!k.matches(&v, &m));
    }

    #[test]
    fn words_round_trip() {
        let k = KeyBits::of_fields(&[(SRC_IP, u128::MAX - 5), (DST_MAC, 0x0102_0304_0506)]);
        let words: Vec<u32> = (0..KEY_WORDS).map(|i| k.word(i)).collect();
        assert_eq!(KeyBits::from_words(&words), k);
    }
}
