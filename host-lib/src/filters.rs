//! Receive filters: the device's filter tables, programmed from a [`FilterSpec`] written in the
//! text syntax of the `evnic` tool's `--filter` or built with the typed [`Filter`] builder.
//!
//! ```no_run
//! use evnic::{DeviceSpec, Filter, Group, Nic, Vi};
//! let nic = Nic::open(DeviceSpec::Sim)?;
//! // PTP event messages to VI 2; Ethernet OAM to group 5.
//! let ptp = nic.add_filter(Filter::new().udp_dst(319).to_vi(Vi(2))?)?;
//! let oam = nic.add_filter("ethertype 0x8902 -> group 5".parse()?)?;
//! // A TCP 5-tuple: an exact-match entry (one of thousands), found by hashing.
//! let flow = nic.add_filter(
//!     "ipv4 src 10.0.0.1 ipv4 dst 10.0.0.2 tcp src 4000 tcp dst 80 -> vi 3".parse()?,
//! )?;
//! println!("entry {} ({:?}): {} hits", flow.index(), flow.entry(), flow.hits()?);
//! drop(oam); // the entry is removed
//! # Ok::<(), evnic::Error>(())
//! ```
//!
//! # Two kinds of table
//!
//! The device has a small ternary table ([`Nic::filter_count`] entries, each with its own value
//! and mask; among the matching entries the lowest index wins) and exact-match tables, one per
//! mask profile ([`Nic::exact_profiles`]; thousands of slots in all): a frame hits an entry of
//! profile `p` when its key under `p`'s mask equals the entry's key, found in a few probes of
//! the key's hash. **An exact-match hit beats every ternary entry**, and a lower-numbered profile
//! beats a higher one; a ternary entry decides only frames no exact entry claims.
//!
//! [`Nic::add_filter`] puts a filter whose mask is a profile's mask into that profile's table
//! (the slot the shared hash gives, moving other entries within their own probes to make room),
//! else into the ternary table. [`FilterHandle::entry`] says which; [`FilterHandle::ternary_reason`]
//! why a filter is not exact. The library keeps its own copy of the tables, so placing a
//! filter reads nothing from the device. A full exact table sends the filter to the ternary
//! table; only when that is full too does `add_filter` fail ([`Error::FilterTablesFull`]).
//!
//! # Order
//!
//! A filter added by [`Nic::add_filter`] never takes frames from a filter installed before it
//! (its entries overlap when some frame matches both): it goes to an exact table only where the
//! device ranks every overlapping installed filter above it (none in the ternary table, none in
//! a profile numbered as high or higher), else to the lowest free ternary entry after every
//! overlapping ternary entry ([`Error::FilterOrder`] when the free ones all come before). Two
//! exact filters of one mask and different keys never overlap, so specific filters fill the
//! exact tables freely, while `udp -> vi 1` installed first keeps all UDP (a later UDP 5-tuple
//! goes to the ternary table after it). [`Nic::add_filter_at`] and [`crate::Batch`] place a
//! filter at a given ternary index: there exact entries still win where they overlap.
//!
//! # Profiles
//!
//! Each profile holds one mask at a time, within the key words it stores. By default
//! ([`ProfileUse`], [`Nic::set_exact_profile`]) profile 0 takes IPv4 5-tuples
//! (`ipv4 src A ipv4 dst B udp src P udp dst Q`), profile 1 IPv4 destination /24 and port
//! (`ipv4 dst N/24 tcp dst P`), profile 2 destination MAC and outer VLAN (`mac M vlan V`),
//! profile 3 IPv6 5-tuples. A profile set to [`ProfileUse::Claim`] is taken by the first filter
//! whose mask no profile has and whose words it stores, and is free again when its last filter
//! goes. A profile's mask changes only while its table is empty: its entries were written for
//! the old one. The first time this process uses a profile it clears the profile's slots,
//! which may hold entries an earlier program left.
//!
//! # Entries and handles
//!
//! Each entry is written whole (staged, then committed at one clock edge): a frame sees the old
//! entry or the new one, never half of each. A replaced exact filter with the same key is
//! rewritten in its slot; otherwise the new entry is written before the old one is cleared.
//! An exact entry may move to another slot of its own probes when a later filter needs room:
//! its entry number ([`FilterHandle::index`], the `filter` of RX events) changes then, and its
//! hit count moves with it (exact when no frame is looked up during the move).
//! A [`FilterHandle`] removes its filter when dropped (or leaves it installed with
//! [`FilterHandle::keep`]); a filter that was replaced or removed meanwhile (by a
//! [`crate::Batch`] or [`Nic::remove_filter`]) is no longer the handle's, and the handle
//! leaves it alone.

use crate::backend::Backend;
use crate::engine::lock;
use crate::event::{Group, Vi};
use crate::filter_spec::{FilterAction, FilterSpec, SpecError};
use crate::filter_tables::{entry_name, Installed, NoPlace, Op, Tables};
use crate::{Error, Nic};
use evnic_proto::filter::{self as pf, RxCounters as DeviceRxCounters};
use evnic_regs::key::KeyBits;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use crate::filter_tables::{ProfileUse, TernaryReason};
pub use evnic_regs::map::filter::EntryIndex;

/// One exact-match profile as the library uses it ([`Nic::exact_profiles`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactProfile {
    /// The profile number (lower wins).
    pub profile: u8,
    /// Bit `w` set: the profile stores key word `w`.
    pub words: u32,
    /// Slots of its table.
    pub slots: u32,
    /// How the library uses it.
    pub setting: ProfileUse,
    /// The mask of its filters (`None`: unclaimed or off).
    pub mask: Option<KeyBits>,
    /// Slots in use.
    pub entries: usize,
}

/// The host's copy of the filter tables (the device cannot be read back); its lock also keeps
/// two writers from interleaving their staging writes or hit-counter selections.
pub(crate) struct FilterTable {
    dev: Arc<dyn Backend>,
    count: u32,
    vis: u32,
    groups: u32,
    tables: Mutex<Tables>,
    generations: AtomicU64,
}

impl FilterTable {
    pub(crate) fn new(
        dev: Arc<dyn Backend>,
        params: &evnic_proto::params::DeviceParams,
    ) -> Result<FilterTable, Error> {
        // Through a hub every filter is a ternary entry: the exact-match tables and profiles
        // stay the hub's.
        let exact = match dev.hub() {
            Some(_) => pf::ExactParams {
                hops: 0,
                profiles: Vec::new(),
            },
            None => pf::exact_params(&mut &*dev)?,
        };
        Ok(FilterTable {
            count: params.filters,
            vis: params.vis,
            groups: params.groups,
            tables: Mutex::new(Tables::new(params.filters, &exact)),
            dev,
            generations: AtomicU64::new(1),
        })
    }

    fn bad_index(&self, index: u32) -> Error {
        Error::BadFilterIndex {
            index,
            count: self.count,
        }
    }

    fn check_index(&self, index: u32) -> Result<(), Error> {
        if index >= self.count {
            return Err(self.bad_index(index));
        }
        Ok(())
    }

    /// Checks an entry number (ternary or exact).
    fn check_entry(&self, n: u32) -> Result<EntryIndex, Error> {
        if !lock(&self.tables).has_entry(n) {
            return Err(self.bad_index(n));
        }
        Ok(if n < self.count {
            EntryIndex::Ternary(n as u16)
        } else {
            EntryIndex::decode(n).ok_or_else(|| self.bad_index(n))?
        })
    }

    pub(crate) fn check(&self, index: u32, spec: &FilterSpec) -> Result<(), Error> {
        self.check_index(index)?;
        spec.action.check(self.vis, self.groups)
    }

    pub(crate) fn present(&self, index: u32) -> bool {
        lock(&self.tables).ternary_owner(index).is_some()
    }

    fn new_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed)
    }

    /// Carries out `ops` in order (under the tables' lock, passed in).
    fn perform(&self, t: &mut Tables, ops: &[Op]) -> Result<(), Error> {
        let regs = &mut &*self.dev;
        for op in ops {
            match *op {
                Op::ProfileMask {
                    profile,
                    ref mask,
                    clear,
                } => {
                    if clear {
                        let slots_log2 = t.exact[usize::from(profile)].profile().slots_log2;
                        pf::clear_exact_table(regs, profile, slots_log2)?;
                    }
                    pf::set_profile_mask(regs, profile, mask)?;
                }
                Op::ExactSet {
                    profile,
                    slot,
                    ref key,
                    action,
                    prev,
                    owner,
                } => {
                    let n = EntryIndex::Exact { profile, slot }.encode();
                    if prev != Some(owner) {
                        if let Some(moved) = prev {
                            // The slot's old filter already stands in its new slot: clear
                            // this one first, so its count is final when read.
                            pf::write_exact(regs, profile, slot, &KeyBits::default(), 0, false)?;
                            let h = pf::hit_count(regs, n)?;
                            if let Some(f) = t.filters.get_mut(&moved) {
                                f.carried = f.carried.saturating_add(h);
                            }
                        }
                        pf::clear_hit_count(regs, n)?;
                    }
                    pf::write_exact(regs, profile, slot, key, action, true)?;
                }
                Op::ExactClear {
                    profile,
                    slot,
                    prev,
                } => {
                    pf::write_exact(regs, profile, slot, &KeyBits::default(), 0, false)?;
                    if let Some(g) = prev {
                        let h = pf::hit_count(regs, EntryIndex::Exact { profile, slot }.encode())?;
                        if let Some(f) = t.filters.get_mut(&g) {
                            f.carried = f.carried.saturating_add(h);
                        }
                    }
                }
                Op::Ternary {
                    index,
                    ref entry,
                    fresh,
                } => {
                    if fresh {
                        // Through a hub, a new entry is taken from it first: it commits only
                        // entries this client holds (taking one held already is no change).
                        if let Some(h) = self.dev.hub() {
                            h.take_filter(Some(index))?;
                        }
                        pf::clear_hits(regs, index)?;
                    }
                    pf::write_entry(regs, index, entry)?;
                }
                Op::TernaryClear { index } => match self.dev.hub() {
                    // The hub disables the entry and frees it (refused for another client's).
                    Some(h) => h.free_filter(index)?,
                    None => pf::clear_entry(regs, index)?,
                },
            }
        }
        Ok(())
    }

    fn no_place(&self, e: NoPlace) -> Error {
        match e {
            NoPlace::Order { after } => Error::FilterOrder { after },
            NoPlace::Full {
                reason: TernaryReason::Full { profile },
            } => Error::FilterTablesFull {
                profile,
                hops: evnic_regs::exact::HOPS,
                filters: self.count,
            },
            NoPlace::Full { .. } => Error::NoFreeFilter {
                filters: self.count,
            },
        }
    }

    fn handle(self: &Arc<Self>, generation: u64, at: EntryIndex) -> FilterHandle {
        FilterHandle {
            table: self.clone(),
            generation,
            first: at,
        }
    }

    /// Places a new filter ([`Nic::add_filter`]).
    fn add(self: &Arc<Self>, spec: &FilterSpec) -> Result<FilterHandle, Error> {
        spec.action.check(self.vis, self.groups)?;
        let mut t = lock(&self.tables);
        let g = self.new_generation();
        let ops = t.add(g, spec).map_err(|e| self.no_place(e))?;
        if let Err(e) = self.perform(&mut t, &ops) {
            // No handle owns it: forget it (the device's tables are in doubt after the error).
            t.remove(g);
            return Err(e);
        }
        let at = t.filters[&g].at;
        Ok(self.handle(g, at))
    }

    /// Installs a new filter in ternary entry `index` (ADD).
    pub(crate) fn install(
        self: &Arc<Self>,
        index: u32,
        spec: &FilterSpec,
    ) -> Result<FilterHandle, Error> {
        let mut t = lock(&self.tables);
        if let Some(old) = t.ternary_owner(index) {
            t.remove(old);
        }
        let g = self.new_generation();
        let ops = t.add_at(g, spec, index);
        if let Err(e) = self.perform(&mut t, &ops) {
            t.remove(g);
            return Err(e);
        }
        Ok(self.handle(g, EntryIndex::Ternary(index as u16)))
    }

    /// Replaces ternary entry `index`, keeping its owner (MOD).
    pub(crate) fn modify(self: &Arc<Self>, index: u32, spec: &FilterSpec) -> Result<(), Error> {
        let mut t = lock(&self.tables);
        match t.ternary_owner(index) {
            Some(g) => {
                let ops = t.replace(g, spec).map_err(|e| self.no_place(e))?;
                self.perform(&mut t, &ops)
            }
            None => {
                let g = self.new_generation();
                let ops = t.add_at(g, spec, index);
                self.perform(&mut t, &ops)
            }
        }
    }

    /// Disables ternary entry `index` (DEL).
    pub(crate) fn delete(&self, index: u32) -> Result<Option<FilterSpec>, Error> {
        self.remove_at(EntryIndex::Ternary(index as u16))
    }

    /// Disables the entry at `at` whatever holds it; returns what this process had there.
    fn remove_at(&self, at: EntryIndex) -> Result<Option<FilterSpec>, Error> {
        let mut t = lock(&self.tables);
        match t.owner(at) {
            Some(g) => {
                let (f, op) = t.remove(g).expect("installed");
                self.perform(&mut t, &[op])?;
                Ok(Some(f.spec))
            }
            None => {
                let op = match at {
                    EntryIndex::Ternary(i) => Op::TernaryClear {
                        index: u32::from(i),
                    },
                    EntryIndex::Exact { profile, slot } => Op::ExactClear {
                        profile,
                        slot,
                        prev: None,
                    },
                };
                self.perform(&mut t, &[op])?;
                Ok(None)
            }
        }
    }

    /// Hits of the filter `f` (its own count plus what it carried from slots it left), or of
    /// entry `at` when no filter of this process is there.
    fn hits(&self, at: EntryIndex, f: Option<&Installed>) -> Result<u32, Error> {
        let regs = &mut &*self.dev;
        let now = match at {
            EntryIndex::Ternary(i) => pf::hits(regs, u32::from(i))?,
            EntryIndex::Exact { .. } => pf::hit_count(regs, at.encode())?,
        };
        Ok(now.saturating_add(f.map_or(0, |f| f.carried)))
    }

    fn entry_hits(&self, at: EntryIndex) -> Result<u32, Error> {
        let t = lock(&self.tables);
        let f = t.owner(at).map(|g| &t.filters[&g]);
        self.hits(at, f)
    }
}

/// An installed filter, removed when the handle is dropped.
pub struct FilterHandle {
    table: Arc<FilterTable>,
    generation: u64,
    /// Where it was installed (named in errors once it is gone).
    first: EntryIndex,
}

impl FilterHandle {
    /// The filter's entry number, as the `filter` of its RX events: a ternary index (its
    /// priority among ternary entries: lower wins), or `0x8000 | profile << 12 | slot` for an
    /// exact-match entry (which may change when a later filter moves it; see the module docs).
    pub fn index(&self) -> u32 {
        u32::from(self.entry().encode())
    }

    /// Which table and entry holds the filter.
    pub fn entry(&self) -> EntryIndex {
        lock(&self.table.tables)
            .filters
            .get(&self.generation)
            .map_or(self.first, |f| f.at)
    }

    /// Why the filter sits in the ternary table (`None`: it is an exact-match entry).
    pub fn ternary_reason(&self) -> Option<TernaryReason> {
        lock(&self.table.tables)
            .filters
            .get(&self.generation)
            .and_then(|f| f.reason)
    }

    fn gone(&self) -> Error {
        Error::FilterGone {
            index: u32::from(self.first.encode()),
        }
    }

    /// What the filter holds.
    pub fn spec(&self) -> Result<FilterSpec, Error> {
        let t = lock(&self.table.tables);
        match t.filters.get(&self.generation) {
            Some(f) => Ok(f.spec.clone()),
            None => Err(self.gone()),
        }
    }

    /// Frames the filter has matched (saturating).
    pub fn hits(&self) -> Result<u32, Error> {
        let t = lock(&self.table.tables);
        let f = t.filters.get(&self.generation).ok_or_else(|| self.gone())?;
        self.table.hits(f.at, Some(f))
    }

    /// Replaces the filter's match and action; every frame meets the old filter or the new
    /// one, never neither (see the module docs for where the new one goes).
    pub fn replace(&self, spec: FilterSpec) -> Result<(), Error> {
        spec.action.check(self.table.vis, self.table.groups)?;
        let mut t = lock(&self.table.tables);
        if !t.filters.contains_key(&self.generation) {
            return Err(self.gone());
        }
        let ops = t
            .replace(self.generation, &spec)
            .map_err(|e| self.table.no_place(e))?;
        self.table.perform(&mut t, &ops)
    }

    /// Leaves the filter installed when the handle goes (remove it with
    /// [`Nic::remove_filter`]); returns its entry number.
    pub fn keep(self) -> u32 {
        let index = self.index();
        std::mem::forget(self);
        index
    }
}

impl Drop for FilterHandle {
    fn drop(&mut self) {
        let mut t = lock(&self.table.tables);
        if let Some((_, op)) = t.remove(self.generation) {
            let _ = self.table.perform(&mut t, &[op]);
        }
    }
}

impl std::fmt::Debug for FilterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterHandle")
            .field("entry", &self.entry())
            .finish()
    }
}

impl Nic {
    /// Installs `spec` in an exact-match table when a profile has its mask and the order
    /// allows, else in the lowest free ternary entry after every overlapping one (see the
    /// module docs): it never takes frames from a filter installed before it. Through a hub
    /// (`DeviceSpec::Hub`) it is the lowest ternary entry the hub has free: the exact-match
    /// tables and the order between clients' filters are the hub's.
    pub fn add_filter(&self, spec: FilterSpec) -> Result<FilterHandle, Error> {
        if let Some(h) = self.backend().hub() {
            // Other clients hold entries too: the hub knows which are free.
            self.filters.check(0, &spec)?;
            let index = h.take_filter(None)?;
            return self.filters.install(index, &spec).inspect_err(|_| {
                let _ = h.free_filter(index);
            });
        }
        self.filters.add(&spec)
    }

    /// Installs `spec` in ternary entry `index` (0 is the highest priority among ternary
    /// entries; exact-match entries still win where they overlap); refused when this process
    /// already has an entry there.
    pub fn add_filter_at(&self, index: u32, spec: FilterSpec) -> Result<FilterHandle, Error> {
        let t = &self.filters;
        t.check(index, &spec)?;
        if t.present(index) {
            return Err(Error::FilterInUse { index });
        }
        t.install(index, &spec)
    }

    /// Disables entry number `index` (a ternary index or an exact entry's number) whatever
    /// holds it (also an entry another process or an earlier run installed); returns what
    /// this process knew it held. Frames it matched fall to other entries or the default
    /// action.
    pub fn remove_filter(&self, index: u32) -> Result<Option<FilterSpec>, Error> {
        let at = self.filters.check_entry(index)?;
        self.filters.remove_at(at)
    }

    /// What entry number `index` holds, as this process last wrote it.
    pub fn filter(&self, index: u32) -> Result<Option<FilterSpec>, Error> {
        let at = self.filters.check_entry(index)?;
        let t = lock(&self.filters.tables);
        Ok(t.owner(at).map(|g| t.filters[&g].spec.clone()))
    }

    /// The filters this process installed, by entry number (ternary first).
    pub fn filters(&self) -> Vec<(u32, FilterSpec)> {
        let t = lock(&self.filters.tables);
        let mut v: Vec<(u32, FilterSpec)> = t
            .filters
            .values()
            .map(|f| (u32::from(f.at.encode()), f.spec.clone()))
            .collect();
        v.sort_by_key(|(n, _)| *n);
        v
    }

    /// Entries of the device's ternary table (its `NUM_FILTERS`).
    pub fn filter_count(&self) -> u32 {
        self.filters.count
    }

    /// The device's exact-match profiles as the library uses them, in precedence order.
    pub fn exact_profiles(&self) -> Vec<ExactProfile> {
        let t = lock(&self.filters.tables);
        t.exact
            .iter()
            .enumerate()
            .map(|(p, e)| ExactProfile {
                profile: p as u8,
                words: e.profile().words,
                slots: e.profile().slots(),
                setting: e.setting,
                mask: e.mask(),
                entries: e.place.len(),
            })
            .collect()
    }

    /// Sets how exact-match profile `profile` is used by later [`Nic::add_filter`] calls:
    /// refused while its table holds entries, or for a mask with bits outside the key words
    /// it stores.
    pub fn set_exact_profile(&self, profile: u8, setting: ProfileUse) -> Result<(), Error> {
        let mut t = lock(&self.filters.tables);
        let n = t.exact.len() as u8;
        if profile >= n {
            return Err(Error::BadProfile {
                profile,
                profiles: n,
            });
        }
        t.set_use(usize::from(profile), setting)
            .map_err(|why| Error::ProfileMask { profile, why })
    }

    /// Frames entry number `index` has matched (saturating); for an exact filter of this
    /// process, also the hits it had in slots it moved from.
    pub fn filter_hits(&self, index: u32) -> Result<u32, Error> {
        let at = self.filters.check_entry(index)?;
        self.filters.entry_hits(at)
    }

    /// An entry number as text: `7` for ternary entry 7, `x1.37` for slot 37 of profile 1.
    pub fn entry_name(index: u32) -> String {
        entry_name(index)
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
