//! Receive filters: the device's filter table, programmed from a [`FilterSpec`] written in the
//! text syntax of the `evnic` tool's `--filter` or built with the typed [`Filter`] builder.
//!
//! ```no_run
//! use evnic::{DeviceSpec, Filter, Group, Nic, Vi};
//! let nic = Nic::open(DeviceSpec::Sim)?;
//! // PTP event messages to VI 2; Ethernet OAM to group 5 (lower entries win).
//! let ptp = nic.add_filter(Filter::new().udp_dst(319).to_vi(Vi(2))?)?;
//! let oam = nic.add_filter("ethertype 0x8902 -> group 5".parse()?)?;
//! println!("entry {}: {} hits", ptp.index(), ptp.hits()?);
//! drop(oam); // the entry is removed
//! # Ok::<(), evnic::Error>(())
//! ```
//!
//! Each entry is written whole (staged, then committed at one clock edge): a frame sees the old
//! entry or the new one, never half of each. Among the enabled entries that match a frame the
//! lowest index wins; [`Nic::add_filter`] takes the lowest free entry, [`Nic::add_filter_at`] a
//! given one. A [`FilterHandle`] removes its entry when dropped (or leaves it installed with
//! [`FilterHandle::keep`]); an entry that was replaced or removed meanwhile (by a [`crate::Batch`]
//! or [`Nic::remove_filter`]) is no longer the handle's, and the handle leaves it alone.

use crate::backend::Backend;
use crate::engine::lock;
use crate::event::{Group, Vi};
use crate::filter_spec::{FilterAction, FilterSpec, SpecError};
use crate::{Error, Nic};
use evnic_proto::filter::{self as pf, RxCounters as DeviceRxCounters};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What one entry holds, as this process last wrote it.
#[derive(Clone)]
struct Slot {
    spec: FilterSpec,
    /// Changes whenever the entry is installed anew: a handle owns the entry of its generation.
    generation: u64,
}

/// The host's copy of the filter table (the device cannot be read back); its lock also keeps
/// two writers from interleaving their staging writes.
pub(crate) struct FilterTable {
    dev: Arc<dyn Backend>,
    count: u32,
    vis: u32,
    groups: u32,
    slots: Mutex<Vec<Option<Slot>>>,
    generations: AtomicU64,
}

impl FilterTable {
    pub(crate) fn new(
        dev: Arc<dyn Backend>,
        params: &evnic_proto::params::DeviceParams,
    ) -> FilterTable {
        FilterTable {
            dev,
            count: params.filters,
            vis: params.vis,
            groups: params.groups,
            slots: Mutex::new(vec![None; params.filters as usize]),
            generations: AtomicU64::new(1),
        }
    }

    fn check_index(&self, index: u32) -> Result<(), Error> {
        if index >= self.count {
            return Err(Error::BadFilterIndex {
                index,
                count: self.count,
            });
        }
        Ok(())
    }

    pub(crate) fn check(&self, index: u32, spec: &FilterSpec) -> Result<(), Error> {
        self.check_index(index)?;
        spec.action.check(self.vis, self.groups)
    }

    pub(crate) fn present(&self, index: u32) -> bool {
        lock(&self.slots)[index as usize].is_some()
    }

    /// Writes `spec` into entry `index` under the lock; a new generation unless `keep_owner`
    /// (a modification keeps its owner).
    fn write(
        &self,
        slots: &mut [Option<Slot>],
        index: u32,
        spec: &FilterSpec,
        keep_owner: bool,
    ) -> Result<u64, Error> {
        // Through a hub, a new entry is taken from it first (it commits only entries this
        // client holds); one this client held already is kept.
        let hub = self.dev.hub();
        let taken = match hub {
            Some(h) if !keep_owner => {
                h.take_filter(Some(index))?;
                slots[index as usize].is_none()
            }
            _ => false,
        };
        if let Err(e) = pf::write_entry(&mut &*self.dev, index, &spec.entry()) {
            if let (Some(h), true) = (hub, taken) {
                let _ = h.free_filter(index);
            }
            return Err(e.into());
        }
        let generation = match (&slots[index as usize], keep_owner) {
            (Some(s), true) => s.generation,
            _ => self.generations.fetch_add(1, Ordering::Relaxed),
        };
        slots[index as usize] = Some(Slot {
            spec: spec.clone(),
            generation,
        });
        Ok(generation)
    }

    fn clear(&self, slots: &mut [Option<Slot>], index: u32) -> Result<Option<FilterSpec>, Error> {
        match self.dev.hub() {
            // The hub disables the entry and frees it (refused for another client's).
            Some(h) => h.free_filter(index)?,
            None => pf::clear_entry(&mut &*self.dev, index)?,
        }
        Ok(slots[index as usize].take().map(|s| s.spec))
    }

    /// Installs a new entry (ADD).
    pub(crate) fn install(
        self: &Arc<Self>,
        index: u32,
        spec: &FilterSpec,
    ) -> Result<FilterHandle, Error> {
        let mut slots = lock(&self.slots);
        let generation = self.write(&mut slots, index, spec, false)?;
        Ok(FilterHandle {
            table: self.clone(),
            index,
            generation,
        })
    }

    /// Replaces an entry, keeping its owner (MOD).
    pub(crate) fn modify(&self, index: u32, spec: &FilterSpec) -> Result<(), Error> {
        let mut slots = lock(&self.slots);
        self.write(&mut slots, index, spec, true).map(drop)
    }

    /// Disables an entry (DEL).
    pub(crate) fn delete(&self, index: u32) -> Result<Option<FilterSpec>, Error> {
        let mut slots = lock(&self.slots);
        self.clear(&mut slots, index)
    }
}

/// An installed filter entry, removed when the handle is dropped.
pub struct FilterHandle {
    table: Arc<FilterTable>,
    index: u32,
    generation: u64,
}

impl FilterHandle {
    /// The entry's index (its priority: lower wins; the `filter` of its RX events).
    pub fn index(&self) -> u32 {
        self.index
    }

    fn owned<'a>(&self, slots: &'a [Option<Slot>]) -> Result<&'a Slot, Error> {
        match &slots[self.index as usize] {
            Some(s) if s.generation == self.generation => Ok(s),
            _ => Err(Error::FilterGone { index: self.index }),
        }
    }

    /// What the entry holds.
    pub fn spec(&self) -> Result<FilterSpec, Error> {
        let slots = lock(&self.table.slots);
        Ok(self.owned(&slots)?.spec.clone())
    }

    /// Frames the entry has matched (saturating).
    pub fn hits(&self) -> Result<u32, Error> {
        Ok(pf::hits(&mut &*self.table.dev, self.index)?)
    }

    /// Replaces the entry's match and action at one clock edge (no frame sees neither).
    pub fn replace(&self, spec: FilterSpec) -> Result<(), Error> {
        self.table.check(self.index, &spec)?;
        let mut slots = lock(&self.table.slots);
        self.owned(&slots)?;
        self.table
            .write(&mut slots, self.index, &spec, true)
            .map(drop)
    }

    /// Leaves the entry installed when the handle goes (remove it with [`Nic::remove_filter`]);
    /// returns its index.
    pub fn keep(self) -> u32 {
        let index = self.index;
        std::mem::forget(self);
        index
    }
}

impl Drop for FilterHandle {
    fn drop(&mut self) {
        let mut slots = lock(&self.table.slots);
        if self.owned(&slots).is_ok() {
            let _ = self.table.clear(&mut slots, self.index);
        }
    }
}

impl std::fmt::Debug for FilterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterHandle")
            .field("index", &self.index)
            .finish()
    }
}

impl Nic {
    /// Installs `spec` in the lowest free entry of the filter table (highest priority left).
    pub fn add_filter(&self, spec: FilterSpec) -> Result<FilterHandle, Error> {
        let t = &self.filters;
        if let Some(h) = self.backend().hub() {
            // Other clients hold entries too: the hub knows which are free.
            t.check(0, &spec)?;
            let index = h.take_filter(None)?;
            return self.add_filter_at(index, spec).inspect_err(|_| {
                let _ = h.free_filter(index);
            });
        }
        let index = {
            let slots = lock(&t.slots);
            slots
                .iter()
                .position(Option::is_none)
                .ok_or(Error::NoFreeFilter { filters: t.count })? as u32
        };
        self.add_filter_at(index, spec)
    }

    /// Installs `spec` in entry `index` (0 is the highest priority); refused when this process
    /// already has an entry there.
    pub fn add_filter_at(&self, index: u32, spec: FilterSpec) -> Result<FilterHandle, Error> {
        let t = &self.filters;
        t.check(index, &spec)?;
        if t.present(index) {
            return Err(Error::FilterInUse { index });
        }
        t.install(index, &spec)
    }

    /// Disables entry `index` whatever holds it (also an entry another process or an earlier
    /// run installed); returns what this process knew it held. Frames it matched fall to
    /// higher entries or the default action.
    pub fn remove_filter(&self, index: u32) -> Result<Option<FilterSpec>, Error> {
        self.filters.check_index(index)?;
        self.filters.delete(index)
    }

    /// What entry `index` holds, as this process last wrote it.
    pub fn filter(&self, index: u32) -> Result<Option<FilterSpec>, Error> {
        self.filters.check_index(index)?;
        Ok(lock(&self.filters.slots)[index as usize]
            .as_ref()
            .map(|s| s.spec.clone()))
    }

    /// The entries this process installed, by index.
    pub fn filters(&self) -> Vec<(u32, FilterSpec)> {
        lock(&self.filters.slots)
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as u32, s.spec.clone())))
            .collect()
    }

    /// Entries of the device's filter table (its `NUM_FILTERS`).
    pub fn filter_count(&self) -> u32 {
        self.filters.count
    }

    /// Frames entry `index` has matched (saturating).
    pub fn filter_hits(&self, index: u32) -> Result<u32, Error> {
        self.filters.check_index(index)?;
        Ok(pf::hits(&mut self.regs(), index)?)
    }

    /// What happens to frames no entry matches: delivered to a VI, or dropped (counted).
    pub fn set_default_action(&self, action: FilterAction) -> Result<(), Error> {
        if let FilterAction::Group(_) = action {
            return Err(Error::DefaultActionGroup);
        }
        action.check(self.params.vis, self.params.groups)?;
        pf::set_default_action(&mut self.regs(), action.encode())?;
        Ok(())
    }

    /// Whether frames with a bad FCS are dropped (counted; the reset setting) or delivered with
    /// [`crate::RxFlags::FCS_BAD`].
    pub fn set_fcs_drop(&self, drop: bool) -> Result<(), Error> {
        pf::set_fcs_drop(&mut self.regs(), drop)?;
        Ok(())
    }

    /// The receive path's counters: frames received, delivered, and dropped by reason.
    pub fn rx_counters(&self) -> Result<DeviceRxCounters, Error> {
        Ok(pf::rx_counters(&mut self.regs())?)
    }
}

/// A typed builder for filter entries. It writes the same text syntax the `evnic` tool's
/// `--filter` takes (see [`crate::filter_spec`]) and parses it, so both paths mean exactly the
/// same.
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
    pub fn to_vi(self, vi: Vi) -> Result<FilterSpec, SpecError> {
        self.finish(&format!("vi {}", vi.0))
    }
    /// Multicast matching frames' RX events to `group`.
    pub fn to_group(self, group: Group) -> Result<FilterSpec, SpecError> {
        self.finish(&format!("group {}", group.0))
    }
    /// Do `action` with matching frames.
    pub fn to_action(self, action: FilterAction) -> Result<FilterSpec, SpecError> {
        self.finish(&action.to_string())
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
                Filter::new().udp_dst(319).to_vi(Vi(2)).unwrap(),
                "udp dst 319 -> vi 2",
            ),
            (
                Filter::new().ethertype(0x8902).to_group(Group(5)).unwrap(),
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
                Filter::new().vlan(100).tcp_src(80).to_vi(Vi(1)).unwrap(),
                "vlan 100 tcp src 80 -> vi 1",
            ),
            (
                Filter::new()
                    .oam(Some(5), Some(1))
                    .to_group(Group(3))
                    .unwrap(),
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
        assert!(Filter::new().udp_dst(1).to_vi(Vi(300)).is_err());
        assert!(
            Filter::new().udp_dst(1).udp_dst(2).to_vi(Vi(1)).is_err(),
            "two values for one field"
        );
    }
}
