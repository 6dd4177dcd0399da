//! The filter table (CAM): ternary entries over the parser's key; a lookup returns the lowest
//! enabled entry whose value matches the key in every bit of its mask, and counts a hit on it.
//!
//! # Ports
//!
//! | port         | dir | width | meaning |
//! |--------------|-----|-------|---------|
//! | `clock`      | in  | clock | rising edge |
//! | `reset`      | in  | 1     | synchronous, active high: every entry disabled, every hit counter 0, no lookup in flight |
//! | `wr_en`      | in  | 1     | write entry `wr_index` whole (value, mask, enable, action) at this edge |
//! | `wr_index`   | in  | 5     | entry to write (an index >= N is ignored) |
//! | `wr_value`   | in  | 416   | the entry's value |
//! | `wr_mask`    | in  | 416   | the entry's mask: 1 = this key bit must equal the value's |
//! | `wr_enable`  | in  | 1     | the entry takes part in lookups |
//! | `wr_action`  | in  | 16    | action word: bits 15:14 kind ([`ACTION_KIND_VI`], [`ACTION_KIND_GROUP`], [`ACTION_KIND_DROP`]), bits 7:0 VI or group |
//! | `lk_valid`   | in  | 1     | look `lk_key` up |
//! | `lk_key`     | in  | 416   | the key ([`evnic_regs::key`] layout) |
//! | `res_valid`  | out | 1     | one-cycle pulse per lookup, in order |
//! | `res_hit`    | out | 1     | with `res_valid`: an entry matched (0: no match, the RX top applies its default) |
//! | `res_index`  | out | 5     | with `res_hit`: the lowest matching enabled entry |
//! | `res_action` | out | 16    | with `res_hit`: its action word |
//! | `cnt_index`  | in  | 5     | entry whose hit counter `cnt_value` shows |
//! | `cnt_value`  | out | 32    | hit counter of entry `cnt_index` (combinational, saturating at 0xffffffff; 0 for an index >= N) |
//! | `cnt_clear`  | in  | 1     | clear the hit counter of entry `cnt_index` at this edge |
//!
//! # Contract
//!
//! An entry is written whole at one edge, so a lookup sees either all of the old entry or all
//! of the new one, never a mix. Hit counters are kept when an entry is rewritten (clear them
//! with `cnt_clear`). The reference model is `evnic_model::FilterTable`; the tests below check
//! this block against it cycle by cycle.
//!
//! # Timing (cycles)
//!
//! * A lookup presented in cycle `M` (`lk_valid` high, sampled at the edge ending `M`) has
//!   its result on `res_*` during cycle `M+2` (latency 2); one lookup per cycle is accepted.
//! * The lookup is made against the entries as they are during cycle `M+1`: it sees every
//!   write presented in cycles up to `M` and none presented later.
//! * Its hit is counted at the edge ending cycle `M+1`, so `cnt_value` shows it from cycle
//!   `M+2` on. A `cnt_clear` of the same entry at that same edge wins (the counter reads 0).

use rust_hdl::prelude::*;

/// Entries of the filter table the core is built with.
pub const DEFAULT_ENTRIES: usize = 32;
/// Latency of a lookup, in cycles.
pub const LATENCY: usize = 2;
pub use evnic_regs::map::filter::{
    action_drop, action_group, action_vi, ACTION_KIND_DROP, ACTION_KIND_GROUP, ACTION_KIND_SHIFT,
    ACTION_KIND_VI, ACTION_TARGET_MASK,
};

/// The filter table with `N` entries (at most 32). See the module documentation.
#[derive(LogicBlock)]
pub struct Filter<const N: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub wr_en: Signal<In, Bit>,
    pub wr_index: Signal<In, Bits<5>>,
    pub wr_value: Signal<In, Bits<416>>,
    pub wr_mask: Signal<In, Bits<416>>,
    pub wr_enable: Signal<In, Bit>,
    pub wr_action: Signal<In, Bits<16>>,
    pub lk_valid: Signal<In, Bit>,
    pub lk_key: Signal<In, Bits<416>>,
    pub res_valid: Signal<Out, Bit>,
    pub res_hit: Signal<Out, Bit>,
    pub res_index: Signal<Out, Bits<5>>,
    pub res_action: Signal<Out, Bits<16>>,
    pub cnt_index: Signal<In, Bits<5>>,
    pub cnt_value: Signal<Out, Bits<32>>,
    pub cnt_clear: Signal<In, Bit>,
    value: [DFF<Bits<416>>; N],
    mask: [DFF<Bits<416>>; N],
    enable: [DFF<Bit>; N],
    action: [DFF<Bits<16>>; N],
    hits: [DFF<Bits<32>>; N],
    /// The lookup in stage 1.
    k_valid: DFF<Bit>,
    k_key: DFF<Bits<416>>,
    /// The result.
    r_valid: DFF<Bit>,
    r_hit: DFF<Bit>,
    r_index: DFF<Bits<5>>,
    r_action: DFF<Bits<16>>,
    found: Signal<Local, Bit>,
    idx: Signal<Local, Bits<5>>,
    act: Signal<Local, Bits<16>>,
    /// Index of the entry being examined in the unrolled loops.
    at: Signal<Local, Bits<5>>,
}

/// The filter table the core is built with.
pub type Filter32 = Filter<DEFAULT_ENTRIES>;

impl<const N: usize> Default for Filter<N> {
    fn default() -> Self {
        assert!((1..=32).contains(&N), "the filter index is 5 bits");
        Self {
            clock: Default::default(),
            reset: Default::default(),
            wr_en: Default::default(),
            wr_index: Default::default(),
            wr_value: Default::default(),
            wr_mask: Default::default(),
            wr_enable: Default::default(),
            wr_action: Default::default(),
            lk_valid: Default::default(),
            lk_key: Default::default(),
            res_valid: Default::default(),
            res_hit: Default::default(),
            res_index: Default::default(),
            res_action: Default::default(),
            cnt_index: Default::default(),
            cnt_value: Default::default(),
            cnt_clear: Default::default(),
            value: core::array::from_fn(|_| Default::default()),
            mask: core::array::from_fn(|_| Default::default()),
            enable: core::array::from_fn(|_| Default::default()),
            action: core::array::from_fn(|_| Default::default()),
            hits: core::array::from_fn(|_| Default::default()),
            k_valid: Default::default(),
            k_key: Default::default(),
            r_valid: Default::default(),
            r_hit: Default::default(),
            r_index: Default::default(),
            r_action: Default::default(),
            found: Default::default(),
            idx: Default::default(),
            act: Default::default(),
            at: Default::default(),
        }
    }
}

impl<const N: usize> Logic for Filter<N> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, k_valid, k_key, r_valid, r_hit, r_index, r_action);
        for i in 0..N {
            self.value[i].clock.next = self.clock.val();
            self.mask[i].clock.next = self.clock.val();
            self.enable[i].clock.next = self.clock.val();
            self.action[i].clock.next = self.clock.val();
            self.hits[i].clock.next = self.clock.val();
            self.value[i].d.next = self.value[i].q.val();
            self.mask[i].d.next = self.mask[i].q.val();
            self.enable[i].d.next = self.enable[i].q.val();
            self.action[i].d.next = self.action[i].q.val();
            self.hits[i].d.next = self.hits[i].q.val();
        }
        // Stage 1: register the key.
        self.k_valid.d.next = self.lk_valid.val();
        if self.lk_valid.val() {
            self.k_key.d.next = self.lk_key.val();
        }
        // Stage 2: compare against every entry, lowest index wins.
        self.found.next = false;
        self.idx.next = 0.into();
        self.act.next = 0.into();
        self.at.next = 0.into();
        for i in 0..N {
            if !self.found.val()
                & self.enable[i].q.val()
                & !((self.k_key.q.val() ^ self.value[i].q.val()) & self.mask[i].q.val()).any()
            {
                self.found.next = true;
                self.idx.next = self.at.val();
                self.act.next = self.action[i].q.val();
            }
            self.at.next = self.at.val() + 1;
        }
        self.r_valid.d.next = self.k_valid.q.val();
        if self.k_valid.q.val() {
            self.r_hit.d.next = self.found.val();
            self.r_index.d.next = self.idx.val();
            self.r_action.d.next = self.act.val();
        }
        self.res_valid.next = self.r_valid.q.val();
        self.res_hit.next = self.r_valid.q.val() & self.r_hit.q.val();
        self.res_index.next = self.r_index.q.val();
        self.res_action.next = self.r_action.q.val();
        // Hit counters: count at the edge that registers the result; a clear wins.
        self.cnt_value.next = 0.into();
        for i in 0..N {
            if self.k_valid.q.val()
                & self.found.val()
                & (self.idx.val().index() == i)
                & (self.hits[i].q.val() != 0xffff_ffff_u64)
            {
                self.hits[i].d.next = self.hits[i].q.val() + 1;
            }
            if self.cnt_index.val().index() == i {
                self.cnt_value.next = self.hits[i].q.val();
                if self.cnt_clear.val() {
                    self.hits[i].d.next = 0.into();
                }
            }
            // Writes: the whole entry at one edge.
            if self.wr_en.val() & (self.wr_index.val().index() == i) {
                self.value[i].d.next = self.wr_value.val();
                self.mask[i].d.next = self.wr_mask.val();
                self.enable[i].d.next = self.wr_enable.val();
                self.action[i].d.next = self.wr_action.val();
            }
            if self.reset.val() {
                self.enable[i].d.next = false;
                self.hits[i].d.next = 0.into();
            }
        }
        if self.reset.val() {
            self.k_valid.d.next = false;
            self.r_valid.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc::tests::verilator_lint;
    use evnic_model::filter::{self as model, Action, Entry, FilterTable};
    use evnic_regs::key::{self, KeyBits};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn to_bits(k: &KeyBits) -> Bits<416> {
        let mut b = Bits::<416>::default();
        for j in 0..7 {
            let chunk = (k.0[j / 2] >> ((j % 2) * 64)) as u64;
            b = b | (bit_cast::<416, 64>(chunk.into()) << (64 * j as u64));
        }
        b
    }

    /// One cycle's inputs.
    #[derive(Clone, Copy, Default)]
    struct Inputs {
        write: Option<(usize, Entry)>,
        lookup: Option<KeyBits>,
        cnt_index: usize,
        cnt_clear: bool,
    }

    struct Bench<const N: usize> {
        uut: Filter<N>,
        model: FilterTable,
        /// Lookup results still expected: (cycles until `res_valid`, hit).
        expected: Vec<(usize, Option<model::Hit>)>,
        /// The hit of the previous cycle's lookup, counted at this cycle's edge.
        to_count: Option<usize>,
        results: usize,
        hits: usize,
    }

    impl<const N: usize> Bench<N> {
        fn new() -> Self {
            let mut uut = Filter::<N>::default();
            uut.connect_all();
            check_all(&uut).unwrap();
            let mut bench = Bench {
                uut,
                model: FilterTable::new(N),
                expected: vec![],
                to_count: None,
                results: 0,
                hits: 0,
            };
            bench.reset();
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

        fn reset(&mut self) {
            self.uut.reset.next = true;
            self.clock();
            self.uut.reset.next = false;
            self.model = FilterTable::new(N);
            self.expected.clear();
            self.to_count = None;
        }

        fn cycle(&mut self, inp: Inputs) {
            let u = &mut self.uut;
            u.wr_en.next = inp.write.is_some();
            if let Some((i, e)) = inp.write {
                u.wr_index.next = (i as u64).into();
                u.wr_value.next = to_bits(&e.value);
                u.wr_mask.next = to_bits(&e.mask);
                u.wr_enable.next = e.enable;
                u.wr_action.next = (e.action as u64).into();
            }
            u.lk_valid.next = inp.lookup.is_some();
            u.lk_key.next = to_bits(&inp.lookup.unwrap_or_default());
            u.cnt_index.next = (inp.cnt_index as u64).into();
            u.cnt_clear.next = inp.cnt_clear;
            self.settle();
            let want = if inp.cnt_index < N {
                self.model.hits(inp.cnt_index)
            } else {
                0
            };
            assert_eq!(
                self.uut.cnt_value.val().to_u32(),
                want,
                "hit counter {}",
                inp.cnt_index
            );
            self.clock();
            // The model at this edge: count the previous lookup's hit, then the clear (which
            // wins), then the write, then this cycle's lookup against the new entries.
            if let Some(i) = self.to_count.take() {
                self.model.count_hit(i);
            }
            if inp.cnt_clear && inp.cnt_index < N {
                self.model.clear_hits(inp.cnt_index);
            }
            if let Some((i, e)) = inp.write {
                if i < N {
                    self.model.write(i, e);
                }
            }
            if let Some(k) = inp.lookup {
                let hit = self.model.peek(&k);
                self.to_count = hit.map(|h| usize::from(h.index));
                self.expected.push((LATENCY, hit));
            }
            for e in self.expected.iter_mut() {
                e.0 -= 1;
            }
            let due = self.expected.first().filter(|e| e.0 == 0).map(|e| e.1);
            let u = &self.uut;
            assert_eq!(
                u.res_valid.val(),
                due.is_some(),
                "res_valid after {LATENCY} cycles"
            );
            if let Some(hit) = due {
                assert_eq!(
                    u.res_hit.val(),
                    hit.is_some(),
                    "hit of lookup {}",
                    self.results
                );
                if let Some(h) = hit {
                    assert_eq!(
                        u.res_index.val().to_u8(),
                        h.index,
                        "lookup {}",
                        self.results
                    );
                    assert_eq!(
                        u.res_action.val().to_u16(),
                        h.action,
                        "lookup {}",
                        self.results
                    );
                    self.hits += 1;
                }
                self.expected.remove(0);
                self.results += 1;
            } else {
                assert!(!u.res_hit.val());
            }
        }

        fn idle(&mut self, n: usize) {
            for _ in 0..n {
                self.cycle(Inputs::default());
            }
        }
    }

    fn mask_of(fields: &[key::KeyField]) -> KeyBits {
        let mut m = KeyBits::default();
        for f in fields {
            m.set(*f, u128::MAX);
        }
        m
    }

    fn key_with(port: u16, ip: u32) -> KeyBits {
        let mut k = KeyBits::default();
        k.set(key::L4_DST, u128::from(port));
        k.set(key::DST_IP, u128::from(ip));
        k.set(key::ETHERTYPE, 0x0800);
        k
    }

    #[test]
    fn action_constants_match_the_model() {
        assert_eq!(ACTION_KIND_SHIFT, model::ACTION_KIND_SHIFT);
        assert_eq!(ACTION_KIND_VI, model::ACTION_KIND_VI);
        assert_eq!(ACTION_KIND_GROUP, model::ACTION_KIND_GROUP);
        assert_eq!(ACTION_KIND_DROP, model::ACTION_KIND_DROP);
        assert_eq!(ACTION_TARGET_MASK, model::ACTION_TARGET_MASK);
        assert_eq!(action_vi(7), Action::Vi(7).encode());
        assert_eq!(action_group(63), Action::Group(63).encode());
        assert_eq!(action_drop(), Action::Drop.encode());
    }

    #[test]
    fn priority_masks_actions_disable_and_update() {
        let mut b = Bench::<32>::new();
        let port_mask = mask_of(&[key::L4_DST]);
        let net_mask = {
            let mut m = KeyBits::default();
            m.set(key::DST_IP, 0xffff_ff00);
            m
        };
        let e = |value, mask, enable, action| Entry {
            value,
            mask,
            enable,
            action,
        };
        // After reset nothing matches, not even an all-zero key.
        b.cycle(Inputs {
            lookup: Some(KeyBits::default()),
            ..Default::default()
        });
        // 5: port 319 -> VI 3; 9: 10.0.0.0/24 -> group 4; 20: catch-all -> drop.
        let writes = [
            (5, e(key_with(319, 0), port_mask, true, action_vi(3))),
            (
                9,
                e(key_with(0, 0x0a00_0000), net_mask, true, action_group(4)),
            ),
            (
                20,
                e(KeyBits::default(), KeyBits::default(), true, action_drop()),
            ),
            // Disabled: would win over everything.
            (
                0,
                e(KeyBits::default(), KeyBits::default(), false, action_vi(1)),
            ),
        ];
        for (i, en) in writes {
            b.cycle(Inputs {
                write: Some((i, en)),
                ..Default::default()
            });
        }
        let keys = [
            key_with(319, 0x0a00_0005), // 5 and 9 match: 5 wins
            key_with(320, 0x0a00_0005), // 9
            key_with(320, 0x0a00_0105), // only the catch-all
            key_with(319, 0x0b00_0000), // 5
        ];
        for k in keys {
            b.cycle(Inputs {
                lookup: Some(k),
                ..Default::default()
            });
        }
        // Enable entry 0 and disable 20, in one write each; a lookup in the same cycle as
        // a write already sees it.
        b.cycle(Inputs {
            write: Some((
                0,
                e(KeyBits::default(), KeyBits::default(), true, action_vi(1)),
            )),
            lookup: Some(keys[2]),
            ..Default::default()
        });
        b.cycle(Inputs {
            write: Some((
                0,
                e(KeyBits::default(), KeyBits::default(), false, action_vi(1)),
            )),
            ..Default::default()
        });
        b.cycle(Inputs {
            write: Some((
                20,
                e(KeyBits::default(), KeyBits::default(), false, action_drop()),
            )),
            lookup: Some(keys[2]),
            ..Default::default()
        });
        // An index past the table is ignored.
        b.cycle(Inputs {
            write: Some((
                31,
                e(KeyBits::default(), KeyBits::default(), true, action_vi(9)),
            )),
            lookup: Some(keys[2]),
            ..Default::default()
        });
        b.idle(LATENCY + 1);
        // Counters: read every one, clear entry 5.
        for i in 0..32 {
            b.cycle(Inputs {
                cnt_index: i,
                cnt_clear: i == 5,
                ..Default::default()
            });
        }
        b.cycle(Inputs {
            cnt_index: 5,
            ..Default::default()
        });
        assert_eq!(b.model.hits(5), 0);
        assert_eq!(b.results, 8);
        assert!(b.hits >= 6);
        // Reset disables everything and clears the counters.
        b.reset();
        b.cycle(Inputs {
            lookup: Some(keys[0]),
            cnt_index: 9,
            ..Default::default()
        });
        b.idle(LATENCY + 1);
        assert_eq!(b.results, 9);
    }

    #[test]
    fn random_operations_against_the_model() {
        let mut rng = ChaCha8Rng::seed_from_u64(31);
        let mut b = Bench::<32>::new();
        let pool: Vec<KeyBits> = (0..12)
            .map(|_| key_with(rng.gen_range(0..4), rng.gen_range(0..4) << 8 | 0x0a00_0000))
            .collect();
        let fields = [key::L4_DST, key::DST_IP, key::ETHERTYPE, key::L4_SRC];
        for _ in 0..600 {
            let mut inp = Inputs::default();
            if rng.gen_bool(0.3) {
                let mask = match rng.gen_range(0..40) {
                    0 => KeyBits::default(),
                    1..=9 => {
                        // Random bits over the key.
                        let mut m = KeyBits::default();
                        for l in 0..4 {
                            m.0[l] = rng.gen::<u128>() & rng.gen::<u128>() & rng.gen::<u128>();
                        }
                        m.0[3] &= (1 << 32) - 1;
                        m
                    }
                    _ => {
                        let n = rng.gen_range(1..=fields.len());
                        mask_of(&fields[..n])
                    }
                };
                let action = match rng.gen_range(0..4) {
                    0 => action_vi(rng.gen_range(0..16)),
                    1 => action_group(rng.gen_range(0..64)),
                    2 => action_drop(),
                    _ => rng.gen(),
                };
                let index = if rng.gen_bool(0.05) {
                    31
                } else {
                    rng.gen_range(0..32)
                };
                inp.write = Some((
                    index,
                    Entry {
                        value: pool[rng.gen_range(0..pool.len())],
                        mask,
                        enable: rng.gen_bool(0.7),
                        action,
                    },
                ));
            }
            if rng.gen_bool(0.7) {
                inp.lookup = Some(if rng.gen_bool(0.8) {
                    pool[rng.gen_range(0..pool.len())]
                } else {
                    key_with(rng.gen(), rng.gen())
                });
            }
            inp.cnt_index = rng.gen_range(0..32);
            inp.cnt_clear = rng.gen_bool(0.05);
            b.cycle(inp);
        }
        b.idle(LATENCY + 1);
        assert!(b.results > 350, "{}", b.results);
        assert!(b.hits > 150, "{}", b.hits);
        assert!(b.results - b.hits > 20, "misses were tested too");
    }

    #[test]
    fn small_table_and_saturating_counter() {
        let mut b = Bench::<4>::new();
        let catch_all = Entry {
            value: KeyBits::default(),
            mask: KeyBits::default(),
            enable: true,
            action: action_group(1),
        };
        b.cycle(Inputs {
            write: Some((2, catch_all)),
            ..Default::default()
        });
        // Index 4 and up are past a 4-entry table: ignored, counter reads 0.
        b.cycle(Inputs {
            write: Some((4, catch_all)),
            lookup: Some(KeyBits::default()),
            cnt_index: 4,
            ..Default::default()
        });
        b.idle(LATENCY + 1);
        assert_eq!(b.hits, 1);
        // Preload entry 2's counter near its top, then count past it by hand.
        b.uut.hits[2].q.next = 0xffff_fffe_u64.into();
        b.settle();
        b.uut.cnt_index.next = 2u64.into();
        b.uut.lk_valid.next = true;
        for want in [
            0xffff_fffe_u32,
            0xffff_fffe,
            0xffff_ffff,
            0xffff_ffff,
            0xffff_ffff,
        ] {
            b.settle();
            assert_eq!(b.uut.cnt_value.val().to_u32(), want);
            b.clock();
        }
        // And a clear brings it back to 0 even while hits keep coming.
        b.uut.cnt_clear.next = true;
        b.clock();
        b.uut.cnt_clear.next = false;
        b.uut.lk_valid.next = false;
        b.settle();
        assert_eq!(b.uut.cnt_value.val().to_u32(), 0);
        b.clock();
        b.settle();
        assert_eq!(
            b.uut.cnt_value.val().to_u32(),
            1,
            "the lookup before the clear's edge"
        );
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = Filter32::default();
        uut.connect_all();
        verilator_lint("filter", &generate_verilog(&uut));
    }
}
