//! `ExactTable`: one exact-match filter table (a mask profile, `evnic_regs::exact`) in block
//! RAM: the profile's mask, 2^N slots of (compressed key, action, valid), and the probe
//! pipeline that looks a key up in [`HOPS`] slots of its probe sequence.
//!
//! # Ports
//!
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | 1 | synchronous reset: mask 0, every slot invalid (over the 2^N cycles after reset each slot is written once with its valid bit 0; its key and action bits are whatever `wr_key` and `wr_action` are, never used), no lookup in flight |
//! | `ready` | out | 1 | the clear after reset is done (lookups miss until then) |
//! | `mask_wr`, `mask_key` | in | 1, key | set the mask to `mask_key`'s profile words at this edge |
//! | `lk_start`, `lk_key` | in | 1, key | start a lookup of `lk_key` (sampled in this cycle only) |
//! | `res_valid` | out | 1 | one-cycle pulse, [`LATENCY`] cycles after `lk_start` |
//! | `res_hit`, `res_slot`, `res_action` | out | 1, N, 16 | with `res_valid`: the slot holding the key and its action |
//! | `wr_en` | in | 1 | write slot `wr_slot` whole; held (with the data) until `wr_ack` |
//! | `wr_slot`, `wr_key`, `wr_action`, `wr_valid` | in | N, key, 16, 1 | the slot and what it holds: the profile words of `wr_key` as they are, the action, valid |
//! | `wr_ack` | out | 1 | the write happens at this edge |
//! | `ram_collision` | out | 1 | the slot RAM was read at the address written in that cycle (an RTL bug) |
//!
//! # Contract
//!
//! A lookup masks the key's profile words with the mask, hashes them and reads the [`HOPS`]
//! slots of the probe sequence (`evnic_regs::exact::Profile::probe`); it hits the first valid
//! slot whose stored key equals the masked key. It uses the mask as it was when it started. A
//! write replaces one whole slot at one edge, so a lookup sees each slot either old or new.
//! Lookups start at least [`SPACING`] cycles apart.
//!
//! # Timing (cycles)
//!
//! `lk_start` in cycle 1 (the key is hashed in that cycle), probes read in cycles 2 to
//! [`HOPS`] + 1, compared in cycles 3 to [`HOPS`] + 2, `res_valid` in cycle [`HOPS`] + 3
//! (latency [`LATENCY`] from `lk_start`). A write waits while a probe reads its slot in the
//! same cycle: `wr_ack` comes in the cycle of `wr_en` or, at most, 2 cycles later.

use crate::ram::Ram;
use evnic_regs::exact::{fold_rotation, HOPS as HOPS_U32};
use rust_hdl::prelude::*;

/// Bits of the filter key.
pub const KEY_BITS: usize = evnic_regs::key::KEY_BITS as usize;
/// Slots probed per lookup.
pub const HOPS: usize = HOPS_U32 as usize;
/// Cycles from `lk_start` to `res_valid`.
pub const LATENCY: usize = HOPS + 2;
/// Minimum cycles between two `lk_start`s (a lookup's last compare uses the key register the
/// next lookup loads).
pub const SPACING: usize = HOPS + 1;

/// Wiring of a profile: its words of `key`, lowest first, ANDed with `mask`, and their fold
/// (`evnic_regs::exact::fold`). No logic but the AND and the fold's XOR.
#[derive(LogicBlock)]
pub struct ExactKey<const KB: usize> {
    pub key: Signal<In, Bits<KEY_BITS>>,
    pub mask: Signal<In, Bits<KB>>,
    pub compact: Signal<Out, Bits<KB>>,
    pub folded: Signal<Out, Bits<32>>,
    _words: Vec<usize>,
}

impl<const KB: usize> ExactKey<KB> {
    /// The wiring of the key words in bitmap `words`.
    pub fn new(words: u32) -> Self {
        let list: Vec<usize> = (0..32).filter(|w| words >> w & 1 == 1).collect();
        assert_eq!(32 * list.len(), KB, "KB is 32 bits per stored word");
        assert!(list.iter().all(|w| 32 * w + 32 <= KEY_BITS));
        ExactKey {
            key: Default::default(),
            mask: Default::default(),
            compact: Default::default(),
            folded: Default::default(),
            _words: list,
        }
    }
}

impl<const KB: usize> Logic for ExactKey<KB> {
    fn update(&mut self) {
        let key = self.key.val();
        let mask = self.mask.val();
        let mut compact = Bits::<KB>::default();
        let mut words = Vec::with_capacity(self._words.len());
        for (j, w) in self._words.iter().enumerate() {
            let m = mask.get_bits::<32>(32 * j).to_u32();
            let v = key.get_bits::<32>(32 * w).to_u32() & m;
            words.push(v);
            compact = compact | (bit_cast::<KB, 32>(u64::from(v).into()) << (32 * j as u64));
        }
        self.compact.next = compact;
        self.folded.next = u64::from(evnic_regs::exact::fold(&words)).into();
    }

    fn connect(&mut self) {
        self.compact.connect();
        self.folded.connect();
    }

    fn hdl(&self) -> Verilog {
        let mut gather: Vec<String> = self
            ._words
            .iter()
            .map(|w| format!("key[{}:{}]", 32 * w + 31, 32 * w))
            .collect();
        gather.reverse();
        let mut fold = Vec::new();
        for j in 0..self._words.len() {
            let (lo, r) = (32 * j, fold_rotation(j) as usize);
            fold.push(if r == 0 {
                format!("compact[{}:{}]", lo + 31, lo)
            } else {
                // Rotate left by r: the low 32-r bits move up, the high r bits come around.
                format!(
                    "{{compact[{}:{}], compact[{}:{}]}}",
                    lo + 31 - r,
                    lo,
                    lo + 31,
                    lo + 32 - r
                )
            });
        }
        Verilog::Custom(format!(
            "always @(*) begin\n   compact = {{{}}} & mask;\n   folded = {};\nend\n",
            gather.join(", "),
            fold.join(" ^ ")
        ))
    }
}

/// One exact-match table: `KB` = 32 x the profile's key words, `EB` = `KB` + 17 (the slot
/// word), 2^N slots. See the module documentation.
#[derive(LogicBlock)]
pub struct ExactTable<const KB: usize, const EB: usize, const N: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub ready: Signal<Out, Bit>,
    pub mask_wr: Signal<In, Bit>,
    pub mask_key: Signal<In, Bits<KEY_BITS>>,
    pub lk_start: Signal<In, Bit>,
    pub lk_key: Signal<In, Bits<KEY_BITS>>,
    pub res_valid: Signal<Out, Bit>,
    pub res_hit: Signal<Out, Bit>,
    pub res_slot: Signal<Out, Bits<N>>,
    pub res_action: Signal<Out, Bits<16>>,
    pub wr_en: Signal<In, Bit>,
    pub wr_slot: Signal<In, Bits<N>>,
    pub wr_key: Signal<In, Bits<KEY_BITS>>,
    pub wr_action: Signal<In, Bits<16>>,
    pub wr_valid: Signal<In, Bit>,
    pub wr_ack: Signal<Out, Bit>,
    pub ram_collision: Signal<Out, Bit>,
    lk_words: ExactKey<KB>,
    wr_words: ExactKey<KB>,
    mask_words: ExactKey<KB>,
    slots: Ram<Bits<EB>, N>,
    /// The clear after reset: it writes every slot once with its valid bit 0.
    clearing: DFF<Bit>,
    clear_addr: DFF<Bits<N>>,
    mask: DFF<Bits<KB>>,
    /// The lookup being probed: its masked key, next probe, step, probes left.
    mk: DFF<Bits<KB>>,
    p_addr: DFF<Bits<N>>,
    p_step: DFF<Bits<N>>,
    p_left: DFF<Bits<4>>,
    probing: DFF<Bit>,
    /// The probe read last cycle: its slot, and whether it was the lookup's last.
    d_valid: DFF<Bit>,
    d_addr: DFF<Bits<N>>,
    d_last: DFF<Bit>,
    /// The first hit among the lookup's probes so far.
    found: DFF<Bit>,
    f_slot: DFF<Bits<N>>,
    f_action: DFF<Bits<16>>,
    r_valid: DFF<Bit>,
    r_hit: DFF<Bit>,
    r_slot: DFF<Bits<N>>,
    r_action: DFF<Bits<16>>,
    x1: Signal<Local, Bits<32>>,
    x2: Signal<Local, Bits<32>>,
    x3: Signal<Local, Bits<32>>,
    x4: Signal<Local, Bits<32>>,
    x5: Signal<Local, Bits<32>>,
    hit_now: Signal<Local, Bit>,
    d_action: Signal<Local, Bits<16>>,
    d_high: Signal<Local, Bits<EB>>,
    do_write: Signal<Local, Bit>,
    ones: Constant<Bits<KB>>,
    sh_action: Constant<Bits<16>>,
    sh_valid: Constant<Bits<16>>,
    hops: Constant<Bits<4>>,
}

impl<const KB: usize, const EB: usize, const N: usize> ExactTable<KB, EB, N> {
    /// The table of a profile storing the key words in bitmap `words`.
    pub fn new(words: u32) -> Self {
        assert_eq!(EB, KB + 17, "the slot word is key, action, valid");
        assert!(N <= 16, "the step comes from bits 31:16 of the hash");
        ExactTable {
            clock: Default::default(),
            reset: Default::default(),
            ready: Default::default(),
            mask_wr: Default::default(),
            mask_key: Default::default(),
            lk_start: Default::default(),
            lk_key: Default::default(),
            res_valid: Default::default(),
            res_hit: Default::default(),
            res_slot: Default::default(),
            res_action: Default::default(),
            wr_en: Default::default(),
            wr_slot: Default::default(),
            wr_key: Default::default(),
            wr_action: Default::default(),
            wr_valid: Default::default(),
            wr_ack: Default::default(),
            ram_collision: Default::default(),
            lk_words: ExactKey::new(words),
            wr_words: ExactKey::new(words),
            mask_words: ExactKey::new(words),
            slots: Default::default(),
            clearing: Default::default(),
            clear_addr: Default::default(),
            mask: Default::default(),
            mk: Default::default(),
            p_addr: Default::default(),
            p_step: Default::default(),
            p_left: Default::default(),
            probing: Default::default(),
            d_valid: Default::default(),
            d_addr: Default::default(),
            d_last: Default::default(),
            found: Default::default(),
            f_slot: Default::default(),
            f_action: Default::default(),
            r_valid: Default::default(),
            r_hit: Default::default(),
            r_slot: Default::default(),
            r_action: Default::default(),
            x1: Default::default(),
            x2: Default::default(),
            x3: Default::default(),
            x4: Default::default(),
            x5: Default::default(),
            hit_now: Default::default(),
            d_action: Default::default(),
            d_high: Default::default(),
            do_write: Default::default(),
            ones: Constant::new(Bits::<KB>::mask()),
            sh_action: Constant::new((KB as u64).into()),
            sh_valid: Constant::new((KB as u64 + 16).into()),
            hops: Constant::new((HOPS as u64).into()),
        }
    }
}

impl<const KB: usize, const EB: usize, const N: usize> Logic for ExactTable<KB, EB, N> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, clearing, clear_addr, mask, mk, p_addr, p_step, p_left, probing, d_valid,
            d_addr, d_last, found, f_slot, f_action, r_valid, r_hit, r_slot, r_action
        );
        self.slots.clock.next = self.clock.val();
        self.ready.next = !self.clearing.q.val();
        self.ram_collision.next = self.slots.collision.val();
        self.lk_words.key.next = self.lk_key.val();
        self.lk_words.mask.next = self.mask.q.val();
        self.wr_words.key.next = self.wr_key.val();
        self.wr_words.mask.next = self.ones.val();
        self.mask_words.key.next = self.mask_key.val();
        self.mask_words.mask.next = self.ones.val();
        if self.mask_wr.val() {
            self.mask.d.next = self.mask_words.compact.val();
        }

        // The hash of the masked key (evnic_regs::exact::mix of the fold).
        self.x1.next = self.lk_words.folded.val() ^ (self.lk_words.folded.val() >> 16);
        self.x2.next = self.x1.val() ^ (self.x1.val() << 7);
        self.x3.next = self.x2.val() ^ (self.x2.val() >> 9);
        self.x4.next = self.x3.val() ^ (self.x3.val() << 13);
        self.x5.next = self.x4.val() ^ (self.x4.val() >> 11);

        // Probes: one slot per cycle, HOPS of them.
        self.slots.rd_en.next = self.probing.q.val();
        self.slots.rd_addr.next = self.p_addr.q.val();
        self.d_valid.d.next = self.probing.q.val();
        self.d_addr.d.next = self.p_addr.q.val();
        self.d_last.d.next = self.p_left.q.val() == 1;
        if self.probing.q.val() {
            self.p_addr.d.next = self.p_addr.q.val() + self.p_step.q.val();
            self.p_left.d.next = self.p_left.q.val() - 1;
            if self.p_left.q.val() == 1 {
                self.probing.d.next = false;
            }
        }

        // Compares: the first valid slot holding the masked key.
        self.d_high.next = self.slots.rd_data.val() >> self.sh_action.val();
        self.d_action.next = self.d_high.val().get_bits::<16>(0);
        self.hit_now.next = self.d_valid.q.val()
            & self.d_high.val().get_bit(16)
            & (self.slots.rd_data.val().get_bits::<KB>(0) == self.mk.q.val());
        if self.hit_now.val() & !self.found.q.val() {
            self.found.d.next = true;
            self.f_slot.d.next = self.d_addr.q.val();
            self.f_action.d.next = self.d_action.val();
        }
        self.r_valid.d.next = self.d_valid.q.val() & self.d_last.q.val();
        if self.d_valid.q.val() & self.d_last.q.val() {
            self.r_hit.d.next = (self.found.q.val() | self.hit_now.val()) & !self.clearing.q.val();
            self.r_slot.d.next = self.d_addr.q.val();
            self.r_action.d.next = self.d_action.val();
            if self.found.q.val() {
                self.r_slot.d.next = self.f_slot.q.val();
                self.r_action.d.next = self.f_action.q.val();
            }
        }
        self.res_valid.next = self.r_valid.q.val();
        self.res_hit.next = self.r_hit.q.val();
        self.res_slot.next = self.r_slot.q.val();
        self.res_action.next = self.r_action.q.val();

        // A new lookup: the masked key and its first probe and step, registered.
        if self.lk_start.val() {
            self.mk.d.next = self.lk_words.compact.val();
            self.p_addr.d.next = self.x5.val().get_bits::<N>(0);
            self.p_step.d.next = self.x5.val().get_bits::<N>(16) | 1;
            self.p_left.d.next = self.hops.val();
            self.probing.d.next = true;
            self.found.d.next = false;
        }

        // Writes: not while a probe reads the same slot.
        self.do_write.next = self.wr_en.val()
            & !self.clearing.q.val()
            & !(self.probing.q.val() & (self.p_addr.q.val() == self.wr_slot.val()));
        self.slots.wr_en.next = self.do_write.val();
        self.slots.wr_addr.next = self.wr_slot.val();
        // The key and action bits go to the RAM as they are, also while clearing: a slot is
        // cleared by its valid bit alone (an invalid slot's key and action are never used),
        // so no gate per key bit sits between the staged entry and the RAM.
        self.slots.wr_data.next = bit_cast::<EB, KB>(self.wr_words.compact.val())
            | (bit_cast::<EB, 16>(self.wr_action.val()) << self.sh_action.val())
            | (bit_cast::<EB, 1>((self.wr_valid.val() & !self.clearing.q.val()).into())
                << self.sh_valid.val());
        self.wr_ack.next = self.do_write.val();
        if self.clearing.q.val() {
            self.slots.wr_en.next = true;
            self.slots.wr_addr.next = self.clear_addr.q.val();
            // A probe of the slot being cleared would collide: it reads the old word (the
            // lookup misses anyway: `r_hit` is masked while clearing).
            if self.p_addr.q.val() == self.clear_addr.q.val() {
                self.slots.rd_en.next = false;
            }
            self.clear_addr.d.next = self.clear_addr.q.val() + 1;
            if self.clear_addr.q.val().all() {
                self.clearing.d.next = false;
            }
        }

        if self.reset.val() {
            self.clearing.d.next = true;
            self.clear_addr.d.next = 0.into();
            self.mask.d.next = 0.into();
            self.probing.d.next = false;
            self.d_valid.d.next = false;
            self.found.d.next = false;
            self.r_valid.d.next = false;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use evnic_regs::exact::{masked_words, Placement, Probe, SlotWrite, PROFILES};
    use evnic_regs::key::KeyBits;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A small table: profile 2's words (3 words), 16 slots.
    type Small = ExactTable<96, 113, 4>;

    pub(crate) fn key_bits(k: &KeyBits) -> Bits<KEY_BITS> {
        let mut b = Bits::<KEY_BITS>::default();
        for w in 0..evnic_regs::key::KEY_WORDS {
            b = b | (bit_cast::<KEY_BITS, 32>(u64::from(k.word(w)).into()) << (32 * w as u64));
        }
        b
    }

    struct Bench {
        uut: Small,
        /// Lookups in flight: (cycles to go, expected hit).
        expect: Vec<(usize, Option<(u32, u16)>)>,
        results: usize,
        hits: usize,
    }

    impl Bench {
        fn new() -> Bench {
            let mut uut = Small::new(PROFILES[2].words);
            uut.connect_all();
            let mut b = Bench {
                uut,
                expect: vec![],
                results: 0,
                hits: 0,
            };
            b.uut.reset.next = true;
            b.clock();
            b.uut.reset.next = false;
            b
        }
        fn clock(&mut self) {
            assert!(simulate(&mut self.uut, 100));
            self.uut.clock.next = true.into();
            assert!(simulate(&mut self.uut, 100));
            self.uut.clock.next = false.into();
            assert!(simulate(&mut self.uut, 100));
        }
        /// Runs one cycle; checks `res_*` against what is due.
        fn cycle(&mut self) -> bool {
            assert!(simulate(&mut self.uut, 100));
            let ack = self.uut.wr_ack.val();
            for e in self.expect.iter_mut() {
                e.0 -= 1;
            }
            let due = self.expect.first().filter(|e| e.0 == 0).map(|e| e.1);
            assert_eq!(self.uut.res_valid.val(), due.is_some());
            if let Some(want) = due {
                let u = &self.uut;
                assert_eq!(u.res_hit.val(), want.is_some(), "lookup {}", self.results);
                if let Some((slot, action)) = want {
                    assert_eq!(u.res_slot.val().index() as u32, slot);
                    assert_eq!(u.res_action.val().to_u16(), action);
                    self.hits += 1;
                }
                self.expect.remove(0);
                self.results += 1;
            }
            self.clock();
            ack
        }
        fn idle(&mut self, n: usize) {
            for _ in 0..n {
                self.cycle();
            }
        }
        fn write(&mut self, slot: u32, key: &KeyBits, action: u16, valid: bool) {
            let u = &mut self.uut;
            u.wr_en.next = true;
            u.wr_slot.next = u64::from(slot).into();
            u.wr_key.next = key_bits(key);
            u.wr_action.next = u64::from(action).into();
            u.wr_valid.next = valid;
            let mut waited = 0;
            while !self.cycle() {
                waited += 1;
                assert!(waited <= 2, "a write waits at most 2 cycles");
            }
            self.uut.wr_en.next = false;
        }
        fn set_mask(&mut self, mask: &KeyBits) {
            self.uut.mask_wr.next = true;
            self.uut.mask_key.next = key_bits(mask);
            self.cycle();
            self.uut.mask_wr.next = false;
        }
        fn lookup(&mut self, key: &KeyBits, want: Option<(u32, u16)>) {
            self.uut.lk_start.next = true;
            self.uut.lk_key.next = key_bits(key);
            self.expect.push((LATENCY + 1, want));
            self.cycle();
            self.uut.lk_start.next = false;
            self.uut.lk_key.next = Default::default();
        }
    }

    #[test]
    fn the_hash_matches_the_host_definition() {
        let mut r = ChaCha8Rng::seed_from_u64(5);
        let mut uut = Small::new(PROFILES[2].words);
        uut.connect_all();
        let mut mask = KeyBits::default();
        mask.0[0] = u128::MAX;
        uut.mask_wr.next = true;
        uut.mask_key.next = key_bits(&mask);
        assert!(simulate(&mut uut, 100));
        uut.clock.next = true.into();
        assert!(simulate(&mut uut, 100));
        uut.clock.next = false.into();
        uut.mask_wr.next = false;
        for _ in 0..200 {
            let k = KeyBits([r.gen(), r.gen(), 0, 0]);
            uut.lk_key.next = key_bits(&k);
            assert!(simulate(&mut uut, 100));
            let w = masked_words(&PROFILES[2], &k, &mask);
            let p = Probe::new(evnic_regs::exact::mix(evnic_regs::exact::fold(&w)), 4);
            assert_eq!(uut.lk_words.compact.val().get_bits::<32>(32).to_u32(), w[1]);
            assert_eq!(uut.x5.val().get_bits::<4>(0).index() as u32, p.start);
            assert_eq!((uut.x5.val().get_bits::<4>(16).index() | 1) as u32, p.step);
        }
    }

    #[test]
    fn placed_entries_are_found_others_missed_and_writes_are_atomic() {
        let mut r = ChaCha8Rng::seed_from_u64(9);
        let mut b = Bench::new();
        let prof = evnic_regs::exact::Profile {
            slots_log2: 4,
            ..PROFILES[2]
        };
        // Lookups during the clear after reset miss.
        b.lookup(&KeyBits::default(), None);
        while !b.uut.ready.val() {
            b.idle(1);
        }
        b.idle(LATENCY);
        let mut mask = KeyBits::default();
        mask.0[0] = ((1u128 << 48) - 1) | (0xfff << 64);
        b.set_mask(&mask);
        let mut place: Placement<u16> = Placement::new(prof);
        let mut keys = vec![];
        for i in 0..13u16 {
            let k = KeyBits([r.gen::<u128>(), 0, 0, 0]);
            let masked = masked_words(&prof, &k, &mask);
            let (writes, _) = place.insert(masked, 0x100 + i).expect("room");
            for w in writes {
                match w {
                    SlotWrite::Set { slot, key, value } => {
                        b.write(slot, &prof.expand(&key), value, true)
                    }
                    SlotWrite::Clear { slot } => b.write(slot, &KeyBits::default(), 0, false),
                }
            }
            keys.push((k, 0x100 + i));
        }
        // Lookups back to back at SPACING cycles, hits and misses, with writes between.
        for round in 0..40 {
            let (k, a) = keys[r.gen_range(0..keys.len())];
            if round % 3 == 2 {
                // Same key, a masked bit changed: a miss.
                let mut o = k;
                o.0[0] ^= 1 << r.gen_range(0..48);
                b.lookup(&o, None);
            } else {
                let masked = masked_words(&prof, &k, &mask);
                let s = place.find(&masked).unwrap();
                b.lookup(&k, Some((s, a)));
            }
            b.idle(SPACING - 1);
        }
        b.idle(LATENCY);
        assert_eq!(b.results, 41);
        assert!(b.hits > 20);
        // A write during a lookup's probes: the lookup sees the slot old (the write waits when
        // the probe reads it in that very cycle) or new, whole.
        let (k, a) = keys[0];
        let masked = masked_words(&prof, &k, &mask);
        let s = place.find(&masked).unwrap();
        let hop = prof.probe(&masked).slots().position(|x| x == s).unwrap();
        b.lookup(&k, Some((s, if hop == 0 { a } else { 0x777 })));
        b.write(s, &prof.expand(&masked), 0x777, true);
        b.idle(LATENCY);
        b.lookup(&k, Some((s, 0x777)));
        b.idle(LATENCY);
        // Invalidated: a miss. A changed mask: the old entries no longer match.
        b.write(s, &KeyBits::default(), 0, false);
        b.lookup(&k, None);
        b.idle(LATENCY);
        let (k1, _) = keys[1];
        b.set_mask(&KeyBits([u128::MAX, 0, 0, 0]));
        b.lookup(&k1, None);
        b.idle(LATENCY + 1);
        assert_eq!(b.results, 45);
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = ExactTable::<160, 177, 9>::new(PROFILES[0].words);
        uut.connect_all();
        let v = generate_verilog(&uut);
        if let Ok(dir) = std::env::var("EVNIC_VERILOG_DIR") {
            std::fs::write(format!("{dir}/exact.v"), &v).unwrap();
        }
        crate::crc::tests::verilator_lint("exact", &v);
    }
}
