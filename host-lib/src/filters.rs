//! Receive filters: the device's CAM table, programmed from a [`FilterSpec`] written in the text
//! syntax of `evnic replay --filter` or built with the typed [`Filter`] builder.
//!
//! ```no_run
//! use evnic::{filters::Filter, Nic, DeviceSpec};
//! let nic = Nic::open(DeviceSpec::Sim)?;
//! // Entry 0: PTP event messages to VI 2. Entry 1: Ethernet OAM to group 5.
//! nic.set_filter(0, &Filter::new().udp_dst(319).to_vi(2)?)?;
//! nic.set_filter(1, &"ethertype 0x8902 -> group 5".parse()?)?;
//! println!("{} hits", nic.filter_hits(0)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Each entry is written whole through the filter page's staging registers and one `COMMIT`:
//! a frame sees the old entry or the new one, never half of each. The lowest matching index wins.

use crate::backend::BackendError;
use crate::filter_spec::{FilterAction, FilterSpec, SpecError};
use crate::{Error, Nic};
use evnic_regs::key::KEY_WORDS;
use evnic_regs::map::filter as fr;
use evnic_regs::params::NUM_FILTERS;
use std::net::IpAddr;

/// Host-side copy of what each filter entry holds (the hardware cannot be read back).
pub(crate) type FilterShadow = [Option<FilterSpec>; NUM_FILTERS as usize];

fn page(offset: u32) -> u32 {
    fr::PAGE.base + offset
}

/// Reads of `STATUS` [`wait_idle`] makes before it gives up: far more than the longest BUSY
/// (a ternary rewrite, about 2 x 513 cycles plus 2 per lookup meanwhile, or the 512-cycle
/// clear after reset), since every register read takes at least one device cycle.
const IDLE_POLLS: u32 = 100_000;

/// Waits until the filter tables' write engine is idle (`STATUS.BUSY` clear), reading `STATUS`
/// through `read` (given its BAR0 offset): a `COMMIT` while BUSY is refused, so every writer
/// calls this before one. `Ok(false)`: still busy after [`IDLE_POLLS`] reads.
pub(crate) fn wait_idle<E>(mut read: impl FnMut(u32) -> Result<u32, E>) -> Result<bool, E> {
    for _ in 0..IDLE_POLLS {
        if read(page(fr::STATUS.offset))? & fr::STATUS_BUSY.mask() == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

fn check_index(index: u32) -> Result<(), Error> {
    if index >= NUM_FILTERS {
        return Err(Error::BadFilterIndex {
            index,
            count: NUM_FILTERS,
        });
    }
    Ok(())
}

impl Nic {
    /// Programs filter entry `index` (0 is the highest priority) with `spec`, enabled.
    pub fn set_filter(&self, index: u32, spec: &FilterSpec) -> Result<(), Error> {
        check_index(index)?;
        let mut shadow = self.filters.lock().unwrap();
        self.write_entry(index, Some(spec))?;
        shadow[index as usize] = Some(spec.clone());
        Ok(())
    }

    /// Disables filter entry `index`; frames it matched fall to lower entries or the default.
    pub fn clear_filter(&self, index: u32) -> Result<(), Error> {
        check_index(index)?;
        let mut shadow = self.filters.lock().unwrap();
        self.write_entry(index, None)?;
        shadow[index as usize] = None;
        Ok(())
    }

    /// What entry `index` holds, as last programmed through this `Nic`.
    pub fn filter(&self, index: u32) -> Result<Option<FilterSpec>, Error> {
        check_index(index)?;
        Ok(self.filters.lock().unwrap()[index as usize].clone())
    }

    /// Frames entry `index` has matched (saturating).
    pub fn filter_hits(&self, index: u32) -> Result<u32, Error> {
        check_index(index)?;
        Ok(self.dev.read32(page(fr::HITS_BASE + 4 * index))?)
    }

    /// Starts (true) or stops (false) the receive and transmit paths (`CONTROL.ENABLE`). While
    /// stopped, frames from the wire are dropped and counted, never stalled; events from timers,
    /// indications and the device port flow either way.
    pub fn set_enabled(&self, on: bool) -> Result<(), Error> {
        use evnic_regs::map::{global as g, global_reg};
        self.dev
            .write32(global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(on as u32))?;
        Ok(())
    }

    /// What happens to frames no entry matches: delivered to a VI, or dropped (counted).
    pub fn set_default_action(&self, action: FilterAction) -> Result<(), Error> {
        if let FilterAction::Group(_) = action {
            return Err(Error::BadConfig(
                "the default action must be a VI or drop; use a catch-all entry (`any -> group N`) to multicast unmatched frames".into(),
            ));
        }
        self.dev
            .write32(page(fr::DEFAULT_ACTION.offset), action.encode() as u32)?;
        Ok(())
    }

    /// Writes one entry through the staging registers; `None` disables it. Returns once the
    /// device uses the new entry (`STATUS.BUSY` clear). The caller holds the shadow lock, which
    /// also keeps two writers from interleaving their staging writes.
    pub(crate) fn write_entry(&self, index: u32, spec: Option<&FilterSpec>) -> Result<(), Error> {
        let dev = &self.dev;
        match spec {
            Some(s) => {
                for w in 0..KEY_WORDS {
                    dev.write32(page(fr::VALUE_BASE + 4 * w), s.value.word(w))?;
                    dev.write32(page(fr::MASK_BASE + 4 * w), s.mask.word(w))?;
                }
                let entry =
                    fr::ENTRY_ACTION.put(s.action.encode() as u32) | fr::ENTRY_ENABLE.put(1);
                dev.write32(page(fr::ENTRY.offset), entry)?;
            }
            None => dev.write32(page(fr::ENTRY.offset), 0)?,
        }
        // A COMMIT while the previous one is still carried out would be refused; after it,
        // frames may see the old entry until BUSY falls.
        let busy = || {
            Error::Backend(BackendError::Device(
                "the filter tables stayed busy (STATUS.BUSY)".into(),
            ))
        };
        if !wait_idle(|o| dev.read32(o))? {
            return Err(busy());
        }
        dev.write32(page(fr::COMMIT.offset), index)?;
        if !wait_idle(|o| dev.read32(o))? {
            return Err(busy());
        }
        Ok(())
    }
}

/// A typed builder for filter entries. It writes the same text syntax `evnic replay --filter`
/// takes (see [`crate::filter_spec`]) and parses it, so both paths mean exactly the same.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    terms: Vec<String>,
}

impl Filter {
    /// An entry matching every frame until terms are added.
    pub fn new() -> Filter {
        Filter::default()
    }
    fn term(mut self, t: String) -> Filter {
        self.terms.push(t);
        self
    }
    /// UDP frames.
    pub fn udp(self) -> Filter {
        self.term("udp".into())
    }
    /// UDP frames to destination port `port`.
    pub fn udp_dst(self, port: u16) -> Filter {
        self.term(format!("udp dst {port}"))
    }
    /// UDP frames from source port `port`.
    pub fn udp_src(self, port: u16) -> Filter {
        self.term(format!("udp src {port}"))
    }
    /// TCP frames.
    pub fn tcp(self) -> Filter {
        self.term("tcp".into())
    }
    /// TCP frames to destination port `port`.
    pub fn tcp_dst(self, port: u16) -> Filter {
        self.term(format!("tcp dst {port}"))
    }
    /// TCP frames from source port `port`.
    pub fn tcp_src(self, port: u16) -> Filter {
        self.term(format!("tcp src {port}"))
    }
    /// ICMP (v4 or v6 under its own IP version).
    pub fn icmp(self) -> Filter {
        self.term("icmp".into())
    }
    /// IP protocol / IPv6 next header `proto`.
    pub fn proto(self, proto: u8) -> Filter {
        self.term(format!("proto {proto}"))
    }
    /// Frames whose destination IP is in `addr/prefix` (IPv4 or IPv6).
    pub fn ip_dst(self, addr: IpAddr, prefix: u8) -> Filter {
        let v = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
        self.term(format!("{v} dst {addr}/{prefix}"))
    }
    /// Frames whose source IP is in `addr/prefix`.
    pub fn ip_src(self, addr: IpAddr, prefix: u8) -> Filter {
        let v = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
        self.term(format!("{v} src {addr}/{prefix}"))
    }
    /// Ethertype after any VLAN tags.
    pub fn ethertype(self, ethertype: u16) -> Filter {
        self.term(format!("ethertype {ethertype:#06x}"))
    }
    /// Outer VLAN id.
    pub fn vlan(self, id: u16) -> Filter {
        self.term(format!("vlan {id}"))
    }
    /// Inner VLAN id.
    pub fn vlan_inner(self, id: u16) -> Filter {
        self.term(format!("vlan inner {id}"))
    }
    /// Destination MAC.
    pub fn dst_mac(self, mac: [u8; 6]) -> Filter {
        let m: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
        self.term(format!("mac {}", m.join(":")))
    }
    /// Ethernet OAM (0x8902), optionally of one MEG level and one opcode.
    pub fn oam(self, level: Option<u8>, opcode: Option<u8>) -> Filter {
        let mut t = String::from("oam");
        if let Some(l) = level {
            t += &format!(" level {l}");
        }
        if let Some(o) = opcode {
            t += &format!(" opcode {o}");
        }
        self.term(t)
    }
    fn finish(self, action: &str) -> Result<FilterSpec, SpecError> {
        let terms = if self.terms.is_empty() {
            "any".to_string()
        } else {
            self.terms.join(" ")
        };
        format!("{terms} -> {action}").parse()
    }
    /// Deliver matching frames to VI `vi`.
    pub fn to_vi(self, vi: u8) -> Result<FilterSpec, SpecError> {
        self.finish(&format!("vi {vi}"))
    }
    /// Multicast matching frames' RX events to group `group`.
    pub fn to_group(self, group: u8) -> Result<FilterSpec, SpecError> {
        self.finish(&format!("group {group}"))
    }
    /// Drop matching frames (counted).
    pub fn drop_frames(self) -> Result<FilterSpec, SpecError> {
        self.finish("drop")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_text_mean_the_same() {
        let pairs: Vec<(FilterSpec, &str)> = vec![
            (
                Filter::new().udp_dst(319).to_vi(2).unwrap(),
                "udp dst 319 -> vi 2",
            ),
            (
                Filter::new().ethertype(0x8902).to_group(5).unwrap(),
                "ethertype 0x8902 -> group 5",
            ),
            (
                Filter::new()
                    .ip_dst("10.0.0.0".parse().unwrap(), 8)
                    .drop_frames()
                    .unwrap(),
                "ipv4 dst 10.0.0.0/8 -> drop",
            ),
            (
                Filter::new().vlan(100).tcp_src(80).to_vi(1).unwrap(),
                "vlan 100 tcp src 80 -> vi 1",
            ),
            (
                Filter::new().oam(Some(5), Some(1)).to_group(3).unwrap(),
                "oam level 5 opcode 1 -> group 3",
            ),
            (Filter::new().drop_frames().unwrap(), "any -> drop"),
        ];
        for (built, text) in pairs {
            let parsed: FilterSpec = text.parse().unwrap();
            assert_eq!(
                (built.value, built.mask, built.action),
                (parsed.value, parsed.mask, parsed.action),
                "{text}"
            );
        }
    }

    #[test]
    fn builder_reports_bad_values_like_the_parser() {
        assert!(Filter::new().udp_dst(1).to_vi(200).is_err());
        assert!(
            Filter::new().udp_dst(1).udp_dst(2).to_vi(1).is_err(),
            "two values for one field"
        );
    }
}
