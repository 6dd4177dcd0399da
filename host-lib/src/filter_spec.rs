//! The text syntax of a receive filter entry, as the `evnic` tool's `--filter` and the library
//! take it: one or more match terms, `->`, and an action.
//!
//! ```text
//! SPEC    := TERM... "->" ACTION
//! TERM    := "udp" [PORTSEL] | "tcp" [PORTSEL] | "icmp" | "proto" N
//!          | "ipv4" [ADDRSEL] | "ipv6" [ADDRSEL] | "ethertype" N
//!          | "vlan" N | "vlan" "inner" N | "mac" MAC | "oam" ["level" N] ["opcode" N]
//!          | "mpls" N | "any"
//! PORTSEL := ("src" | "dst") N            (a UDP/TCP port)
//! ADDRSEL := ("src" | "dst") ADDR["/"LEN] (an IPv4 or IPv6 address and prefix length)
//! ACTION  := "vi" N | "group" N | "drop"
//! ```
//!
//! Numbers are decimal or `0x` hexadecimal. Terms combine with AND; `udp`, `tcp`, `icmp` also
//! match the IP protocol (17, 6, 1); `ipv4`/`ipv6` match the IP version (of a packet sent
//! directly, under MPLS or in a PPPoE session); `mpls N` matches ethertype 0x8847 and the top
//! label N. Examples:
//! `udp dst 319 -> vi 2`, `ethertype 0x8902 -> group 5`, `ipv4 dst 10.0.0.0/8 -> drop`,
//! `vlan 100 tcp src 80 -> vi 1`, `oam level 5 opcode 47 -> group 3`, `any -> drop`.

use crate::event::{Group, Vi};
use evnic_regs::key::{self, KeyBits, KeyField};
use evnic_regs::map::filter as fr;
use std::net::{Ipv4Addr, Ipv6Addr};

/// What an entry does with a matching frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterAction {
    /// Deliver the frame to a VI's receive ring (and its RX event to the VI's queue).
    Vi(Vi),
    /// Multicast the RX event to every queue subscribed to a group (the data goes to the
    /// default VI's ring).
    Group(Group),
    /// Drop the frame (counted).
    Drop,
}

/// The largest VI or group number an action word carries.
pub const MAX_ACTION_TARGET: u32 = fr::ACTION_TARGET_MASK as u32;

impl FilterAction {
    /// The action word of the filter page. Panics when the target does not fit the word (the
    /// parser and [`FilterAction::check`] refuse such targets).
    pub fn encode(self) -> u16 {
        let target = |n: u32| {
            assert!(
                n <= MAX_ACTION_TARGET,
                "action target {n} past {MAX_ACTION_TARGET}"
            );
            n as u8
        };
        match self {
            FilterAction::Vi(v) => fr::action_vi(target(v.0)),
            FilterAction::Group(g) => fr::action_group(target(g.0)),
            FilterAction::Drop => fr::action_drop(),
        }
    }

    /// Checks the target against a device of `vis` VIs and `groups` groups.
    pub fn check(self, vis: u32, groups: u32) -> Result<(), crate::Error> {
        match self {
            FilterAction::Vi(v) if v.0 >= vis || v.0 > MAX_ACTION_TARGET => {
                Err(crate::Error::ViOutOfRange {
                    vi: v.0,
                    irq_vi: vis.saturating_sub(1),
                })
            }
            FilterAction::Group(g) if g.0 >= groups || g.0 > MAX_ACTION_TARGET => {
                Err(crate::Error::GroupOutOfRange { group: g.0, groups })
            }
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for FilterAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterAction::Vi(v) => write!(f, "vi {}", v.0),
            FilterAction::Group(g) => write!(f, "group {}", g.0),
            FilterAction::Drop => write!(f, "drop"),
        }
    }
}

impl std::str::FromStr for FilterAction {
    type Err = SpecError;
    /// `vi N`, `group N` or `drop`.
    fn from_str(s: &str) -> Result<Self, SpecError> {
        Ok(format!("any -> {s}").parse::<FilterSpec>()?.action)
    }
}

/// A parsed filter entry: value and mask over the key, and the action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterSpec {
    /// The key bits to compare.
    pub value: KeyBits,
    /// Which key bits must match.
    pub mask: KeyBits,
    /// What to do with a matching frame.
    pub action: FilterAction,
    /// The text it was parsed from.
    pub text: String,
}

impl FilterSpec {
    /// The entry as the table holds it, enabled.
    pub fn entry(&self) -> evnic_proto::filter::Entry {
        evnic_proto::filter::Entry {
            value: self.value,
            mask: self.mask,
            action: self.action.encode(),
            enabled: true,
        }
    }
}

impl std::fmt::Display for FilterSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a spec did not parse (the text says what and where).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError(pub String);

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bad filter: {} (syntax: TERM... -> vi N | group N | drop)",
            self.0
        )
    }
}

impl std::error::Error for SpecError {}

fn num(s: Option<&str>, what: &str, max: u128) -> Result<u128, SpecError> {
    let s = s.ok_or_else(|| SpecError(format!("{what}: a number is missing")))?;
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u128::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|_| SpecError(format!("{what}: `{s}` is not a number")))?;
    if v > max {
        return Err(SpecError(format!("{what}: {v} is larger than {max}")));
    }
    Ok(v)
}

fn full(f: KeyField) -> u128 {
    if f.width >= 128 {
        u128::MAX
    } else {
        (1u128 << f.width) - 1
    }
}

impl FilterSpec {
    fn set(&mut self, f: KeyField, value: u128, mask: u128) -> Result<(), SpecError> {
        let old_m = self.mask.get(f);
        let both = old_m & mask;
        if both != 0 && (self.value.get(f) & both) != (value & both) {
            return Err(SpecError(format!("`{}` is given two values", f.name)));
        }
        self.mask.set(f, old_m | mask);
        self.value
            .set(f, (self.value.get(f) & old_m) | (value & mask));
        Ok(())
    }

    fn exact(&mut self, f: KeyField, value: u128) -> Result<(), SpecError> {
        self.set(f, value, full(f))
    }
}

impl std::str::FromStr for FilterSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<FilterSpec, SpecError> {
        let (terms, action) = text
            .split_once("->")
            .ok_or_else(|| SpecError(format!("`{text}` has no `->`")))?;
        let mut spec = FilterSpec {
            value: KeyBits::default(),
            mask: KeyBits::default(),
            action: FilterAction::Drop,
            text: text.trim().to_string(),
        };
        let mut a = action.split_whitespace();
        spec.action = match a.next() {
            Some("vi") => FilterAction::Vi(Vi(
                num(a.next(), "vi", u128::from(MAX_ACTION_TARGET))? as u32
            )),
            Some("group") => {
                FilterAction::Group(Group(
                    num(a.next(), "group", u128::from(MAX_ACTION_TARGET))? as u32,
                ))
            }
            Some("drop") => FilterAction::Drop,
            other => {
                return Err(SpecError(format!(
                    "unknown action `{}`",
                    other.unwrap_or("")
                )))
            }
        };
        if let Some(extra) = a.next() {
            return Err(SpecError(format!("unexpected `{extra}` after the action")));
        }
        let toks: Vec<&str> = terms.split_whitespace().collect();
        if toks.is_empty() {
            return Err(SpecError(
                "no match term (use `any` to match every frame)".into(),
            ));
        }
        let mut i = 0;
        let peek = |i: usize| toks.get(i).copied();
        while i < toks.len() {
            let t = toks[i];
            i += 1;
            match t {
                "any" => {}
                "udp" | "tcp" => {
                    spec.exact(key::IP_PROTO, if t == "udp" { 17 } else { 6 })?;
                    if let Some(sel @ ("src" | "dst")) = peek(i) {
                        let port = num(peek(i + 1), "port", 0xffff)?;
                        let f = if sel == "src" {
                            key::L4_SRC
                        } else {
                            key::L4_DST
                        };
                        spec.exact(f, port)?;
                        i += 2;
                    }
                }
                "icmp" => spec.exact(key::IP_PROTO, 1)?,
                "proto" => {
                    spec.exact(key::IP_PROTO, num(peek(i), "proto", 0xff)?)?;
                    i += 1;
                }
                "ethertype" => {
                    spec.exact(key::ETHERTYPE, num(peek(i), "ethertype", 0xffff)?)?;
                    i += 1;
                }
                "vlan" => {
                    let f = if peek(i) == Some("inner") {
                        i += 1;
                        key::VLAN_INNER
                    } else {
                        key::VLAN_OUTER
                    };
                    spec.exact(f, num(peek(i), "vlan", 0xfff)?)?;
                    i += 1;
                }
                "mac" => {
                    let s =
                        peek(i).ok_or_else(|| SpecError("mac: an address is missing".into()))?;
                    let bytes: Vec<u8> = s
                        .split(':')
                        .map(|b| u8::from_str_radix(b, 16))
                        .collect::<Result<_, _>>()
                        .map_err(|_| SpecError(format!("mac: `{s}` is not a MAC address")))?;
                    if bytes.len() != 6 {
                        return Err(SpecError(format!("mac: `{s}` is not a MAC address")));
                    }
                    let v = bytes.iter().fold(0u128, |acc, b| acc << 8 | u128::from(*b));
                    spec.exact(key::DST_MAC, v)?;
                    i += 1;
                }
                "mpls" => {
                    spec.exact(key::ETHERTYPE, 0x8847)?;
                    spec.exact(key::MPLS_LABEL, num(peek(i), "mpls", 0xf_ffff)?)?;
                    i += 1;
                }
                "oam" => {
                    spec.exact(key::ETHERTYPE, 0x8902)?;
                    loop {
                        match peek(i) {
                            Some("level") => {
                                spec.exact(key::OAM_LEVEL, num(peek(i + 1), "level", 7)?)?;
                                i += 2;
                            }
                            Some("opcode") => {
                                spec.exact(key::OAM_OPCODE, num(peek(i + 1), "opcode", 0xff)?)?;
                                i += 2;
                            }
                            _ => break,
                        }
                    }
                }
                "ipv4" | "ipv6" => {
                    let v6 = t == "ipv6";
                    spec.exact(key::IP_VERSION, if v6 { 6 } else { 4 })?;
                    if let Some(sel @ ("src" | "dst")) = peek(i) {
                        let s = peek(i + 1).ok_or_else(|| {
                            SpecError(format!("{t} {sel}: an address is missing"))
                        })?;
                        let (addr, len) = match s.split_once('/') {
                            Some((a, l)) => (a, Some(l)),
                            None => (s, None),
                        };
                        let (bits, value) = if v6 {
                            let a: Ipv6Addr = addr.parse().map_err(|_| {
                                SpecError(format!("`{addr}` is not an IPv6 address"))
                            })?;
                            (128u32, u128::from(a))
                        } else {
                            let a: Ipv4Addr = addr.parse().map_err(|_| {
                                SpecError(format!("`{addr}` is not an IPv4 address"))
                            })?;
                            (32u32, u128::from(u32::from(a)))
                        };
                        let plen = match len {
                            Some(l) => num(Some(l), "prefix length", u128::from(bits))? as u32,
                            None => bits,
                        };
                        // The address field is 128 bits; an IPv4 address sits in bits 31:0 with
                        // the rest 0, which the mask requires too.
                        let prefix = if plen == 0 {
                            0
                        } else {
                            (u128::MAX << (bits - plen)) & (u128::MAX >> (128 - bits))
                        };
                        let upper = if v6 { 0 } else { u128::MAX << 32 };
                        let f = if sel == "src" {
                            key::SRC_IP
                        } else {
                            key::DST_IP
                        };
                        spec.set(f, value & prefix, prefix | upper)?;
                        i += 2;
                    }
                }
                other => return Err(SpecError(format!("unknown term `{other}`"))),
            }
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fields: &[(KeyField, u128)]) -> KeyBits {
        let mut k = KeyBits::default();
        for (f, v) in fields {
            k.set(*f, *v);
        }
        k
    }

    #[test]
    fn examples_of_the_documentation() {
        let s: FilterSpec = "udp dst 319 -> vi 2".parse().unwrap();
        assert_eq!(s.action, FilterAction::Vi(Vi(2)));
        assert!(key(&[(key::IP_PROTO, 17), (key::L4_DST, 319)]).matches(&s.value, &s.mask));
        assert!(!key(&[(key::IP_PROTO, 6), (key::L4_DST, 319)]).matches(&s.value, &s.mask));

        let s: FilterSpec = "ethertype 0x8902 -> group 5".parse().unwrap();
        assert_eq!(s.action.encode(), 0x4005);
        assert!(key(&[(key::ETHERTYPE, 0x8902)]).matches(&s.value, &s.mask));

        let s: FilterSpec = "ipv4 dst 10.0.0.0/8 -> drop".parse().unwrap();
        let ten = key(&[(key::IP_VERSION, 4), (key::DST_IP, 0x0a01_0203)]);
        let eleven = key(&[(key::IP_VERSION, 4), (key::DST_IP, 0x0b01_0203)]);
        assert!(ten.matches(&s.value, &s.mask));
        assert!(!eleven.matches(&s.value, &s.mask));
        assert_eq!(s.action, FilterAction::Drop);
    }

    #[test]
    fn more_terms_and_errors() {
        let s: FilterSpec = "vlan 100 vlan inner 7 tcp src 80 mac 02:00:00:00:00:01 -> vi 15"
            .parse()
            .unwrap();
        let k = key(&[
            (key::VLAN_OUTER, 100),
            (key::VLAN_INNER, 7),
            (key::IP_PROTO, 6),
            (key::L4_SRC, 80),
            (key::DST_MAC, 0x0200_0000_0001),
        ]);
        assert!(k.matches(&s.value, &s.mask));
        let s: FilterSpec = "oam level 5 opcode 47 -> group 3".parse().unwrap();
        assert!(key(&[
            (key::ETHERTYPE, 0x8902),
            (key::OAM_LEVEL, 5),
            (key::OAM_OPCODE, 47)
        ])
        .matches(&s.value, &s.mask));
        let s: FilterSpec = "mpls 16 ipv4 udp dst 53 -> vi 1".parse().unwrap();
        let k = key(&[
            (key::ETHERTYPE, 0x8847),
            (key::MPLS_LABEL, 16),
            (key::IP_VERSION, 4),
            (key::IP_PROTO, 17),
            (key::L4_DST, 53),
        ]);
        assert!(k.matches(&s.value, &s.mask));
        assert!(!key(&[(key::ETHERTYPE, 0x8847), (key::MPLS_LABEL, 17)]).matches(&s.value, &s.mask));
        assert!("mpls 0x100000 -> drop".parse::<FilterSpec>().is_err());
        assert!("mpls 5 oam -> drop".parse::<FilterSpec>().is_err());
        let s: FilterSpec = "ipv6 src 2001:db8::/32 -> drop".parse().unwrap();
        let k = key(&[
            (key::IP_VERSION, 6),
            (
                key::SRC_IP,
                u128::from("2001:db8::5".parse::<Ipv6Addr>().unwrap()),
            ),
        ]);
        assert!(k.matches(&s.value, &s.mask));
        let s: FilterSpec = "any -> drop".parse().unwrap();
        assert_eq!(s.mask, KeyBits::default());
        for bad in [
            "udp dst 319",
            "udp dst 70000 -> vi 1",
            "udp -> vi 256",
            "frobnicate -> drop",
            "-> drop",
            "ipv4 dst 10.0.0.0/33 -> drop",
            "udp tcp -> drop",
            "udp -> group 256",
            "udp -> vi 1 2",
        ] {
            assert!(bad.parse::<FilterSpec>().is_err(), "{bad}");
        }
    }
}
