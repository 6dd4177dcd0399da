//! `Filter`: the receive filter tables and their registers (the table part of the filter page,
//! `evnic_regs::map::filter`). A lookup of the parser's key returns the best entry over both
//! kinds of table: the hit of the lowest-numbered exact-match profile that hits
//! ([`ExactTable`], one per profile of `evnic_regs::exact::PROFILES`), else the lowest enabled
//! ternary entry that matches ([`Tcam`]), else a miss; and counts a hit on it.
//!
//! # Ports
//!
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | 1 | synchronous reset: ternary entries disabled, exact tables, profile masks and hit counters cleared (over 512 cycles, `STATUS.READY` low), no lookup or commit in flight |
//! | `rd`, `wr`, `addr`, `wdata` | in | | register bus block side ([`crate::regbus`]) |
//! | `ack`, `nak`, `rdata` | out | 1, 1, 32 | this block's answer: the staging, `ENTRY`, `COMMIT`, `PROFILE_COMMIT`, `STATUS`, `HIT_SELECT`, `HIT_COUNT`, `HITS*` and table-parameter registers |
//! | `lk_valid`, `lk_key` | in | 1, key | a lookup request; taken at an edge where `lk_ready` is high |
//! | `lk_ready` | out | 1 | a request is taken this cycle |
//! | `res_valid` | out | 1 | one-cycle pulse per lookup taken, in order |
//! | `res_hit` | out | 1 | with `res_valid`: an entry matched (0: the RX top applies its default) |
//! | `res_index` | out | 16 | with `res_hit`: the entry number (ternary `i`; exact `0x8000 \| profile << 12 \| slot`) |
//! | `res_action` | out | 16 | with `res_hit`: its action word |
//! | `ready` | out | 1 | the clear after reset is done (`STATUS.READY`; ANDed into the global `STATUS.READY`) |
//! | `ram_collision` | out | 1 | one of the block's RAMs was read at the address written in that cycle (an RTL bug) |
//!
//! # Contract
//!
//! A lookup sees every entry either as it was before a `COMMIT` or as it is after, never a
//! mix: an exact entry is one RAM word written at one edge; a ternary entry is rewritten into
//! a spare slot and switched over at one edge ([`Tcam`]). Lookups are never delayed by a
//! rewrite, a register access or a counter read: `lk_ready` depends only on the previous
//! lookup. The verdict rules, entry numbering and the staging/`COMMIT` protocol are those of
//! `evnic_regs::map::filter` (the page's documentation); the reference model is
//! `evnic_model::FilterTable`. Hit counters are per entry number and kept when an entry is
//! rewritten; a lookup's hit is counted one cycle after its answer.
//!
//! # Timing (cycles)
//!
//! * A request taken in cycle 0 is answered in cycle [`LATENCY`] (7): the key is hashed and
//!   the exact tables start in the request's cycle (0, from `lk_key` itself) while the key is
//!   registered for the ternary table, the ternary columns are read (1) and decided (2-4:
//!   the AND of each group of 8 columns is registered before the groups are ANDed, so that no
//!   column's read data travels further than its group; the ternary answer has the slack),
//!   the exact probes read (1-4) and compared (2-5), the results merged (6). (It was 8: the
//!   exact tables started from the registered key, in cycle 1.)
//! * Throughput: one lookup per [`SPACING`] (5) cycles: `lk_ready` is high in a cycle at least
//!   5 after the last request taken. Back-to-back runt frames (a key per cycle) must be queued
//!   by the receive path, which counts an overrun when its queue is full.
//! * Registers in flip-flops answer in the strobe cycle; the staging registers (a RAM) one
//!   cycle later, or after the copy of a running `COMMIT` (at most 2 x key words + 1 cycles);
//!   hit counters 2 to 4 cycles after the strobe (their RAM's read-modify-write sequencer).
//! * `COMMIT`: `STATUS.BUSY` for the copy of the staged entry (2 x key words = 26 cycles)
//!   plus: an exact entry 2 to 4 cycles; a ternary entry about 2 x 513 cycles (plus 2 per
//!   lookup meanwhile, see [`Tcam`]), a ternary disable 2; a profile mask 2.
//!
//! # What changed from the flip-flop table
//!
//! The 32 (value, mask) pairs lived in 28,632 flip-flops compared with the key every cycle,
//! and the staging registers were written through 416-bit variable shifts. The ternary entries
//! are now columns of block RAM, the staged entry a small RAM, hit counters RAM behind a
//! read-modify-write sequencer (reads wait a few cycles on the bus), and hashed exact-match
//! tables were added. A COMMIT became a BUSY operation, the lookup latency went from 2 to 8
//! cycles (now 7) with back-pressure (`lk_ready`), and `res_index` from 5 to 16 bits.
//!
//! # Shape for routing (same cycles)
//!
//! The block did not route on the ECP5-85 out of context (router2's congestion map: the
//! ternary columns' read data and write addresses, the exact tables' RAM inputs and compares,
//! the staged entry fanned out to all five tables). Reshaped it routes (`make timing
//! BLOCK=filter`: 104.47 MHz; README, "Per-block timing"). So: the COMMIT copy loads the staged words into
//! the ternary table's registers (`ev`, `em`) and into a copy per exact table (`xk0..3`,
//! only the words that table stores, loaded only by a COMMIT for that table, so that each
//! sits next to its table's RAM and mask register); the ternary table registers its column
//! groups' ANDs and keeps its write-back address per column ([`Tcam`]); the exact tables
//! clear a slot by its valid bit alone ([`ExactTable`]); the ternary key register loads every
//! cycle (no enable).

use crate::exact::ExactTable;
use crate::hit_counters::HitCounters;
use crate::konst;
use crate::ram::Ram;
use crate::regbus::{ADDR_BITS, PAGE_BITS};
use crate::tcam::Tcam;
use evnic_regs::exact::{profile_key_words, PROFILES};
use evnic_regs::map::filter as f;
use rust_hdl::prelude::*;

pub use evnic_regs::map::filter::{
    action_drop, action_group, action_vi, ACTION_KIND_DROP, ACTION_KIND_GROUP, ACTION_KIND_SHIFT,
    ACTION_KIND_VI, ACTION_TARGET_MASK,
};

/// Bits of the filter key.
pub const KEY_BITS: usize = evnic_regs::key::KEY_BITS as usize;
/// 32-bit words of the key.
pub const KW: usize = evnic_regs::key::KEY_WORDS as usize;
/// Ternary entries.
pub const TERNARY: usize = evnic_regs::params::NUM_FILTERS as usize;
/// Bits of a ternary hit counter index.
pub const T_BITS: usize = (usize::BITS - (TERNARY - 1).leading_zeros()) as usize;
/// Slots of each exact-match table: 2^SLOTS.
pub const SLOTS: usize = evnic_regs::params::EXACT_SLOTS_LOG2 as usize;
/// Exact-match profiles.
pub const PROFILE_COUNT: usize = evnic_regs::params::NUM_EXACT_PROFILES as usize;
/// Cycles from a request taken to its answer.
pub const LATENCY: usize = 7;
/// Minimum cycles between two requests taken.
pub const SPACING: usize = crate::exact::SPACING;

/// Compressed key bits (32 per stored word) of profile 0..3, and the slot words.
pub const KB0: usize = 32 * profile_key_words(0);
pub const KB1: usize = 32 * profile_key_words(1);
pub const KB2: usize = 32 * profile_key_words(2);
pub const KB3: usize = 32 * profile_key_words(3);
pub type Exact0 = ExactTable<KB0, { KB0 + 17 }, SLOTS>;
pub type Exact1 = ExactTable<KB1, { KB1 + 17 }, SLOTS>;
pub type Exact2 = ExactTable<KB2, { KB2 + 17 }, SLOTS>;
pub type Exact3 = ExactTable<KB3, { KB3 + 17 }, SLOTS>;
/// The ternary table: TERNARY entries and the spare.
pub type FilterTcam = Tcam<TERNARY, { TERNARY + 1 }>;

const _: () = assert!(PROFILE_COUNT == 4, "the block has four profile tables");
const _: () = assert!(KW <= 16, "the staging RAM holds 16 value and 16 mask words");
const _: () = assert!(SLOTS <= 12 && TERNARY <= 64);

/// The filter tables. See the module documentation.
#[derive(LogicBlock)]
pub struct Filter {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<ADDR_BITS>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub nak: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,
    pub lk_valid: Signal<In, Bit>,
    pub lk_ready: Signal<Out, Bit>,
    pub lk_key: Signal<In, Bits<KEY_BITS>>,
    pub res_valid: Signal<Out, Bit>,
    pub res_hit: Signal<Out, Bit>,
    pub res_index: Signal<Out, Bits<16>>,
    pub res_action: Signal<Out, Bits<16>>,
    pub ready: Signal<Out, Bit>,
    pub ram_collision: Signal<Out, Bit>,

    /// The staged value (words 0..15) and mask (16..31).
    stage: Ram<Bits<32>, 5>,
    tcam: FilterTcam,
    ex0: Exact0,
    ex1: Exact1,
    ex2: Exact2,
    ex3: Exact3,
    hits_t: HitCounters<T_BITS, 32>,
    hits0: HitCounters<SLOTS, 32>,
    hits1: HitCounters<SLOTS, 32>,
    hits2: HitCounters<SLOTS, 32>,
    hits3: HitCounters<SLOTS, 32>,

    // Registers.
    entry: DFF<Bits<17>>,
    hit_sel: DFF<Bits<16>>,
    // Commit engine: 0 idle, 1 copy, 2 last word, 3 carry out.
    cstate: DFF<Bits<2>>,
    ccount: DFF<Bits<6>>,
    c_load: DFF<Bit>,
    c_load_idx: DFF<Bits<6>>,
    /// 0 ternary entry, 1 exact entry, 2 profile mask.
    c_kind: DFF<Bits<2>>,
    c_index: DFF<Bits<16>>,
    c_entry: DFF<Bits<17>>,
    c_started: DFF<Bit>,
    ev: [DFF<Bits<32>>; KW],
    em: [DFF<Bits<32>>; KW],
    /// Per exact table, its own copy of the staged words it stores (the value of an exact
    /// entry, the mask of a profile), loaded only by a COMMIT for that table. `ev`/`em` feed
    /// the ternary table only: one copy of the entry fanned out to the ternary columns and
    /// to four tables' RAM inputs and mask registers was the most congested wiring of the
    /// block. (Copies loaded under the same condition would be merged by the synthesis.)
    xk0: [DFF<Bits<32>>; KW],
    xk1: [DFF<Bits<32>>; KW],
    xk2: [DFF<Bits<32>>; KW],
    xk3: [DFF<Bits<32>>; KW],
    // Bus: an access that waits (staging, counters) and whether its read or op was issued.
    b_pend: DFF<Bit>,
    b_issued: DFF<Bit>,
    b_write: DFF<Bit>,
    // Lookup pipeline.
    k_key: DFF<Bits<KEY_BITS>>,
    since: DFF<Bits<3>>,
    v1: DFF<Bit>,
    v2: DFF<Bit>,
    v3: DFF<Bit>,
    v4: DFF<Bit>,
    v5: DFF<Bit>,
    v6: DFF<Bit>,
    t_hit: DFF<Bit>,
    t_idx: DFF<Bits<8>>,
    t_act: DFF<Bits<16>>,
    r_valid: DFF<Bit>,
    r_hit: DFF<Bit>,
    r_index: DFF<Bits<16>>,
    r_action: DFF<Bits<16>>,
    /// The table of the hit: 0..3 exact profile, 4 ternary.
    r_table: DFF<Bits<3>>,
    r_slot: DFF<Bits<SLOTS>>,

    // Locals.
    entry_value: Signal<Local, Bits<KEY_BITS>>,
    entry_mask: Signal<Local, Bits<KEY_BITS>>,
    xkey0: Signal<Local, Bits<KEY_BITS>>,
    xkey1: Signal<Local, Bits<KEY_BITS>>,
    xkey2: Signal<Local, Bits<KEY_BITS>>,
    xkey3: Signal<Local, Bits<KEY_BITS>>,
    /// The COMMIT copies a profile mask (the tables' copies take the mask words).
    c_mask_copy: Signal<Local, Bit>,
    /// The word being loaded is table word `w`'s (for this commit's kind).
    x_load: Signal<Local, Bit>,
    ready_all: Signal<Local, Bit>,
    busy: Signal<Local, Bit>,
    in_page: Signal<Local, Bit>,
    word: Signal<Local, Bits<10>>,
    vidx: Signal<Local, Bits<10>>,
    midx: Signal<Local, Bits<10>>,
    hidx: Signal<Local, Bits<10>>,
    psidx: Signal<Local, Bits<10>>,
    pwidx: Signal<Local, Bits<10>>,
    is_value: Signal<Local, Bit>,
    is_mask: Signal<Local, Bit>,
    is_hits: Signal<Local, Bit>,
    is_hit_count: Signal<Local, Bit>,
    is_pslots: Signal<Local, Bit>,
    is_pwords: Signal<Local, Bit>,
    strobe: Signal<Local, Bit>,
    active: Signal<Local, Bit>,
    stage_addr: Signal<Local, Bits<5>>,
    copying: Signal<Local, Bit>,
    cm_tern: Signal<Local, Bit>,
    cm_exact: Signal<Local, Bit>,
    hs_tern: Signal<Local, Bit>,
    hs_exact: Signal<Local, Bit>,
    /// The counter an access names: valid, unit (0..3 exact, 4 ternary), index.
    op_valid: Signal<Local, Bit>,
    op_unit: Signal<Local, Bits<3>>,
    op_index: Signal<Local, Bits<16>>,
    op_req: Signal<Local, Bit>,
    op_done: Signal<Local, Bit>,
    op_value: Signal<Local, Bits<32>>,
    c_profile: Signal<Local, Bits<3>>,
    c_addr: Signal<Local, Bits<6>>,
    accept: Signal<Local, Bit>,
    is_write: Signal<Local, Bit>,
    start_commit: Signal<Local, Bit>,
    ev_word: Signal<Local, Bits<32>>,
    em_word: Signal<Local, Bits<32>>,
    shift: Signal<Local, Bits<16>>,

    page: Constant<Bits<PAGE_BITS>>,
    w_value: Constant<Bits<10>>,
    w_mask: Constant<Bits<10>>,
    w_hits: Constant<Bits<10>>,
    w_pslots: Constant<Bits<10>>,
    w_pwords: Constant<Bits<10>>,
    w_entry: Constant<Bits<10>>,
    w_commit: Constant<Bits<10>>,
    w_pcommit: Constant<Bits<10>>,
    w_status: Constant<Bits<10>>,
    w_hit_select: Constant<Bits<10>>,
    w_hit_count: Constant<Bits<10>>,
    w_ternary: Constant<Bits<10>>,
    w_profiles: Constant<Bits<10>>,
    w_hops: Constant<Bits<10>>,
    w_exact: Constant<Bits<10>>,
    n_words: Constant<Bits<10>>,
    n_ternary10: Constant<Bits<10>>,
    n_profiles10: Constant<Bits<10>>,
    n_ternary32: Constant<Bits<32>>,
    n_ternary16: Constant<Bits<16>>,
    n_profiles3: Constant<Bits<3>>,
    slot_hi: Constant<Bits<16>>,
    v_ternary: Constant<Bits<32>>,
    v_profiles: Constant<Bits<32>>,
    v_hops: Constant<Bits<32>>,
    v_exact: Constant<Bits<32>>,
    v_pslots: [Constant<Bits<32>>; PROFILE_COUNT],
    v_pwords: [Constant<Bits<32>>; PROFILE_COUNT],
    c_kw: Constant<Bits<6>>,
    c_last: Constant<Bits<6>>,
    c_moff: Constant<Bits<6>>,
    sh: [Constant<Bits<16>>; KW],
    mask_idx: [Constant<Bits<6>>; KW],
    idx_p: [Constant<Bits<16>>; PROFILE_COUNT],
}

fn word(off: u32) -> Constant<Bits<10>> {
    Constant::new(((off / 4) as u64).into())
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            clock: Default::default(),
            reset: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
            rdata: Default::default(),
            lk_valid: Default::default(),
            lk_ready: Default::default(),
            lk_key: Default::default(),
            res_valid: Default::default(),
            res_hit: Default::default(),
            res_index: Default::default(),
            res_action: Default::default(),
            ready: Default::default(),
            ram_collision: Default::default(),
            stage: Default::default(),
            tcam: Default::default(),
            ex0: ExactTable::new(PROFILES[0].words),
            ex1: ExactTable::new(PROFILES[1].words),
            ex2: ExactTable::new(PROFILES[2].words),
            ex3: ExactTable::new(PROFILES[3].words),
            hits_t: Default::default(),
            hits0: Default::default(),
            hits1: Default::default(),
            hits2: Default::default(),
            hits3: Default::default(),
            entry: Default::default(),
            hit_sel: Default::default(),
            cstate: Default::default(),
            ccount: Default::default(),
            c_load: Default::default(),
            c_load_idx: Default::default(),
            c_kind: Default::default(),
            c_index: Default::default(),
            c_entry: Default::default(),
            c_started: Default::default(),
            ev: array_init::array_init(|_| Default::default()),
            em: array_init::array_init(|_| Default::default()),
            xk0: array_init::array_init(|_| Default::default()),
            xk1: array_init::array_init(|_| Default::default()),
            xk2: array_init::array_init(|_| Default::default()),
            xk3: array_init::array_init(|_| Default::default()),
            b_pend: Default::default(),
            b_issued: Default::default(),
            b_write: Default::default(),
            k_key: Default::default(),
            since: Default::default(),
            v1: Default::default(),
            v2: Default::default(),
            v3: Default::default(),
            v4: Default::default(),
            v5: Default::default(),
            v6: Default::default(),
            t_hit: Default::default(),
            t_idx: Default::default(),
            t_act: Default::default(),
            r_valid: Default::default(),
            r_hit: Default::default(),
            r_index: Default::default(),
            r_action: Default::default(),
            r_table: Default::default(),
            r_slot: Default::default(),
            entry_value: Default::default(),
            entry_mask: Default::default(),
            xkey0: Default::default(),
            xkey1: Default::default(),
            xkey2: Default::default(),
            xkey3: Default::default(),
            c_mask_copy: Default::default(),
            x_load: Default::default(),
            ready_all: Default::default(),
            busy: Default::default(),
            in_page: Default::default(),
            word: Default::default(),
            vidx: Default::default(),
            midx: Default::default(),
            hidx: Default::default(),
            psidx: Default::default(),
            pwidx: Default::default(),
            is_value: Default::default(),
            is_mask: Default::default(),
            is_hits: Default::default(),
            is_hit_count: Default::default(),
            is_pslots: Default::default(),
            is_pwords: Default::default(),
            strobe: Default::default(),
            active: Default::default(),
            stage_addr: Default::default(),
            copying: Default::default(),
            cm_tern: Default::default(),
            cm_exact: Default::default(),
            hs_tern: Default::default(),
            hs_exact: Default::default(),
            op_valid: Default::default(),
            op_unit: Default::default(),
            op_index: Default::default(),
            op_req: Default::default(),
            op_done: Default::default(),
            op_value: Default::default(),
            c_profile: Default::default(),
            c_addr: Default::default(),
            accept: Default::default(),
            is_write: Default::default(),
            start_commit: Default::default(),
            ev_word: Default::default(),
            em_word: Default::default(),
            shift: Default::default(),
            page: Constant::new(((evnic_regs::map::FILTER_PAGE_BASE >> 12) as u64).into()),
            w_value: word(f::VALUE_BASE),
            w_mask: word(f::MASK_BASE),
            w_hits: word(f::HITS_BASE),
            w_pslots: word(f::PROFILE_SLOTS_BASE),
            w_pwords: word(f::PROFILE_WORDS_BASE),
            w_entry: word(f::ENTRY.offset),
            w_commit: word(f::COMMIT.offset),
            w_pcommit: word(f::PROFILE_COMMIT.offset),
            w_status: word(f::STATUS.offset),
            w_hit_select: word(f::HIT_SELECT.offset),
            w_hit_count: word(f::HIT_COUNT.offset),
            w_ternary: word(f::TERNARY_ENTRIES.offset),
            w_profiles: word(f::EXACT_PROFILES.offset),
            w_hops: word(f::EXACT_HOPS.offset),
            w_exact: word(f::EXACT_ENTRIES.offset),
            n_words: Constant::new((KW as u64).into()),
            n_ternary10: Constant::new((TERNARY as u64).into()),
            n_profiles10: Constant::new((PROFILE_COUNT as u64).into()),
            n_ternary32: Constant::new((TERNARY as u64).into()),
            n_ternary16: Constant::new((TERNARY as u64).into()),
            n_profiles3: Constant::new((PROFILE_COUNT as u64).into()),
            slot_hi: Constant::new((u64::from(f::EXACT_SLOT_MASK) & !((1u64 << SLOTS) - 1)).into()),
            v_ternary: konst::<32>(u64::from(f::TERNARY_ENTRIES.reset)),
            v_profiles: konst::<32>(u64::from(f::EXACT_PROFILES.reset)),
            v_hops: konst::<32>(u64::from(f::EXACT_HOPS.reset)),
            v_exact: konst::<32>(u64::from(f::EXACT_ENTRIES.reset)),
            v_pslots: array_init::array_init(|p| konst::<32>(u64::from(PROFILES[p].slots_log2))),
            v_pwords: array_init::array_init(|p| konst::<32>(u64::from(PROFILES[p].words))),
            c_kw: Constant::new((KW as u64).into()),
            c_last: Constant::new((2 * KW as u64 - 1).into()),
            c_moff: Constant::new((16 - KW as u64).into()),
            sh: array_init::array_init(|w| Constant::new((32 * w as u64).into())),
            mask_idx: array_init::array_init(|w| Constant::new(((KW + w) as u64).into())),
            idx_p: array_init::array_init(|p| {
                Constant::new(
                    u64::from(
                        f::EntryIndex::Exact {
                            profile: p as u8,
                            slot: 0,
                        }
                        .encode(),
                    )
                    .into(),
                )
            }),
        }
    }
}

impl Logic for Filter {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, entry, hit_sel, cstate, ccount, c_load, c_load_idx, c_kind, c_index,
            c_entry, c_started, b_pend, b_issued, b_write, k_key, since, v1, v2, v3, v4, v5, v6,
            t_hit, t_idx, t_act, r_valid, r_hit, r_index, r_action, r_table, r_slot
        );
        for w in 0..KW {
            self.ev[w].clock.next = self.clock.val();
            self.ev[w].d.next = self.ev[w].q.val();
            self.em[w].clock.next = self.clock.val();
            self.em[w].d.next = self.em[w].q.val();
        }
        self.stage.clock.next = self.clock.val();
        self.tcam.clock.next = self.clock.val();
        self.tcam.reset.next = self.reset.val();
        self.ex0.clock.next = self.clock.val();
        self.ex0.reset.next = self.reset.val();
        self.ex1.clock.next = self.clock.val();
        self.ex1.reset.next = self.reset.val();
        self.ex2.clock.next = self.clock.val();
        self.ex2.reset.next = self.reset.val();
        self.ex3.clock.next = self.clock.val();
        self.ex3.reset.next = self.reset.val();
        self.hits_t.clock.next = self.clock.val();
        self.hits_t.reset.next = self.reset.val();
        self.hits0.clock.next = self.clock.val();
        self.hits0.reset.next = self.reset.val();
        self.hits1.clock.next = self.clock.val();
        self.hits1.reset.next = self.reset.val();
        self.hits2.clock.next = self.clock.val();
        self.hits2.reset.next = self.reset.val();
        self.hits3.clock.next = self.clock.val();
        self.hits3.reset.next = self.reset.val();
        self.ready_all.next = self.ex0.ready.val()
            & self.ex1.ready.val()
            & self.ex2.ready.val()
            & self.ex3.ready.val()
            & self.hits_t.ready.val()
            & self.hits0.ready.val()
            & self.hits1.ready.val()
            & self.hits2.ready.val()
            & self.hits3.ready.val();
        self.busy.next = (self.cstate.q.val() != 0) | !self.ready_all.val();
        self.ready.next = self.ready_all.val();
        self.copying.next = (self.cstate.q.val() == 1) | (self.cstate.q.val() == 2);

        // The copied entry, as whole keys.
        self.entry_value.next = 0.into();
        self.entry_mask.next = 0.into();
        for w in 0..KW {
            self.ev_word.next = self.ev[w].q.val();
            self.em_word.next = self.em[w].q.val();
            self.shift.next = self.sh[w].val();
            self.entry_value.next = self.entry_value.val()
                | (bit_cast::<KEY_BITS, 32>(self.ev_word.val()) << self.shift.val());
            self.entry_mask.next = self.entry_mask.val()
                | (bit_cast::<KEY_BITS, 32>(self.em_word.val()) << self.shift.val());
        }

        // ---- Lookups: one request every SPACING cycles, answered LATENCY cycles later. ----
        self.lk_ready.next = self.since.q.val() >= 4;
        self.accept.next = self.lk_valid.val() & self.lk_ready.val();
        if self.since.q.val() != 7 {
            self.since.d.next = self.since.q.val() + 1;
        }
        // The ternary table reads its columns with the key in the cycle after the request
        // only, so its register loads every cycle (no enable: `accept` already fans out to
        // every exact table's key register).
        self.k_key.d.next = self.lk_key.val();
        if self.accept.val() {
            self.since.d.next = 0.into();
        }
        self.v1.d.next = self.accept.val();
        self.v2.d.next = self.v1.q.val();
        self.v3.d.next = self.v2.q.val();
        self.v4.d.next = self.v3.q.val();
        self.v5.d.next = self.v4.q.val();
        self.v6.d.next = self.v5.q.val();
        // Cycle 0: the exact tables hash the request's key and start (they register what they
        // need); cycle 1: the ternary columns are read with the registered key.
        self.ex0.lk_start.next = self.accept.val();
        self.ex0.lk_key.next = self.lk_key.val();
        self.ex1.lk_start.next = self.accept.val();
        self.ex1.lk_key.next = self.lk_key.val();
        self.ex2.lk_start.next = self.accept.val();
        self.ex2.lk_key.next = self.lk_key.val();
        self.ex3.lk_start.next = self.accept.val();
        self.ex3.lk_key.next = self.lk_key.val();
        self.tcam.lk_soon.next = self.accept.val();
        self.tcam.lk_valid.next = self.v1.q.val();
        self.tcam.lk_key.next = self.k_key.q.val();
        // Cycle 5: the ternary answer, kept until the merge.
        if self.tcam.res_valid.val() {
            self.t_hit.d.next = self.tcam.res_hit.val();
            self.t_idx.d.next = self.tcam.res_index.val();
            self.t_act.d.next = self.tcam.res_action.val();
        }
        // Cycle 6: the exact answers; the lowest profile that hits, else the ternary entry.
        self.r_valid.d.next = self.v6.q.val();
        if self.v6.q.val() {
            self.r_hit.d.next = true;
            if self.ex0.res_hit.val() {
                self.r_index.d.next =
                    self.idx_p[0].val() | bit_cast::<16, SLOTS>(self.ex0.res_slot.val());
                self.r_action.d.next = self.ex0.res_action.val();
                self.r_table.d.next = 0.into();
                self.r_slot.d.next = self.ex0.res_slot.val();
            } else if self.ex1.res_hit.val() {
                self.r_index.d.next =
                    self.idx_p[1].val() | bit_cast::<16, SLOTS>(self.ex1.res_slot.val());
                self.r_action.d.next = self.ex1.res_action.val();
                self.r_table.d.next = 1.into();
                self.r_slot.d.next = self.ex1.res_slot.val();
            } else if self.ex2.res_hit.val() {
                self.r_index.d.next =
                    self.idx_p[2].val() | bit_cast::<16, SLOTS>(self.ex2.res_slot.val());
                self.r_action.d.next = self.ex2.res_action.val();
                self.r_table.d.next = 2.into();
                self.r_slot.d.next = self.ex2.res_slot.val();
            } else if self.ex3.res_hit.val() {
                self.r_index.d.next =
                    self.idx_p[3].val() | bit_cast::<16, SLOTS>(self.ex3.res_slot.val());
                self.r_action.d.next = self.ex3.res_action.val();
                self.r_table.d.next = 3.into();
                self.r_slot.d.next = self.ex3.res_slot.val();
            } else {
                self.r_hit.d.next = self.t_hit.q.val();
                self.r_index.d.next = bit_cast::<16, 8>(self.t_idx.q.val());
                self.r_action.d.next = self.t_act.q.val();
                self.r_table.d.next = 4.into();
                self.r_slot.d.next = bit_cast::<SLOTS, 8>(self.t_idx.q.val());
            }
        }
        self.res_valid.next = self.r_valid.q.val();
        self.res_hit.next = self.r_valid.q.val() & self.r_hit.q.val();
        self.res_index.next = self.r_index.q.val();
        self.res_action.next = self.r_action.q.val();
        // Cycle 7: count the hit.
        self.hits0.inc.next =
            self.r_valid.q.val() & self.r_hit.q.val() & (self.r_table.q.val() == 0);
        self.hits1.inc.next =
            self.r_valid.q.val() & self.r_hit.q.val() & (self.r_table.q.val() == 1);
        self.hits2.inc.next =
            self.r_valid.q.val() & self.r_hit.q.val() & (self.r_table.q.val() == 2);
        self.hits3.inc.next =
            self.r_valid.q.val() & self.r_hit.q.val() & (self.r_table.q.val() == 3);
        self.hits_t.inc.next =
            self.r_valid.q.val() & self.r_hit.q.val() & (self.r_table.q.val() == 4);
        self.hits0.inc_index.next = self.r_slot.q.val();
        self.hits1.inc_index.next = self.r_slot.q.val();
        self.hits2.inc_index.next = self.r_slot.q.val();
        self.hits3.inc_index.next = self.r_slot.q.val();
        self.hits_t.inc_index.next = self.r_slot.q.val().get_bits::<T_BITS>(0);

        // ---- Register decode. ----
        self.in_page.next = self.addr.val().get_bits::<PAGE_BITS>(12) == self.page.val();
        self.word.next = self.addr.val().get_bits::<10>(2);
        self.vidx.next = self.word.val() - self.w_value.val();
        self.midx.next = self.word.val() - self.w_mask.val();
        self.hidx.next = self.word.val() - self.w_hits.val();
        self.psidx.next = self.word.val() - self.w_pslots.val();
        self.pwidx.next = self.word.val() - self.w_pwords.val();
        self.is_value.next = self.in_page.val() & (self.vidx.val() < self.n_words.val());
        self.is_mask.next = self.in_page.val() & (self.midx.val() < self.n_words.val());
        self.is_hits.next = self.in_page.val() & (self.hidx.val() < self.n_ternary10.val());
        self.is_hit_count.next = self.in_page.val() & (self.word.val() == self.w_hit_count.val());
        self.is_pslots.next = self.in_page.val() & (self.psidx.val() < self.n_profiles10.val());
        self.is_pwords.next = self.in_page.val() & (self.pwidx.val() < self.n_profiles10.val());
        self.strobe.next = self.rd.val() | self.wr.val();
        self.active.next = self.strobe.val() | self.b_pend.q.val();
        self.stage_addr.next = self.vidx.val().get_bits::<5>(0);
        if self.is_mask.val() {
            self.stage_addr.next = self.midx.val().get_bits::<5>(0) | 16;
        }
        // Entry numbers: of a COMMIT (wdata) and of HIT_SELECT.
        self.cm_tern.next = self.wdata.val() < self.n_ternary32.val();
        self.cm_exact.next = (self.wdata.val().get_bits::<16>(16) == 0)
            & self.wdata.val().get_bit(15)
            & (self.wdata.val().get_bits::<3>(12) < self.n_profiles3.val())
            & ((self.wdata.val().get_bits::<16>(0) & self.slot_hi.val()) == 0);
        self.hs_tern.next = self.hit_sel.q.val() < self.n_ternary16.val();
        self.hs_exact.next = self.hit_sel.q.val().get_bit(15)
            & (self.hit_sel.q.val().get_bits::<3>(12) < self.n_profiles3.val())
            & ((self.hit_sel.q.val() & self.slot_hi.val()) == 0);
        // The counter a HITS or HIT_COUNT access names.
        self.op_valid.next = self.is_hits.val();
        self.op_unit.next = 4.into();
        self.op_index.next = bit_cast::<16, 10>(self.hidx.val());
        if self.is_hit_count.val() {
            self.op_valid.next = self.hs_tern.val() | self.hs_exact.val();
            self.op_index.next = self.hit_sel.q.val();
            if !self.hs_tern.val() {
                self.op_unit.next = bit_cast::<3, 3>(self.hit_sel.q.val().get_bits::<3>(12));
            }
        }

        // The named counter's answer.
        self.op_done.next = false;
        self.op_value.next = 0.into();
        if self.op_unit.val() == 4 {
            self.op_done.next = self.hits_t.op_done.val();
            self.op_value.next = self.hits_t.op_value.val();
        } else if self.op_unit.val() == 0 {
            self.op_done.next = self.hits0.op_done.val();
            self.op_value.next = self.hits0.op_value.val();
        } else if self.op_unit.val() == 1 {
            self.op_done.next = self.hits1.op_done.val();
            self.op_value.next = self.hits1.op_value.val();
        } else if self.op_unit.val() == 2 {
            self.op_done.next = self.hits2.op_done.val();
            self.op_value.next = self.hits2.op_value.val();
        } else if self.op_unit.val() == 3 {
            self.op_done.next = self.hits3.op_done.val();
            self.op_value.next = self.hits3.op_value.val();
        }

        self.is_write.next = self.b_write.q.val();
        if self.strobe.val() {
            self.is_write.next = self.wr.val();
            self.b_write.d.next = self.wr.val();
        }

        self.ack.next = false;
        self.nak.next = false;
        self.rdata.next = 0.into();
        self.b_pend.d.next = false;
        self.b_issued.d.next = false;
        self.stage.rd_en.next = false;
        self.stage.rd_addr.next = self.stage_addr.val();
        self.stage.wr_en.next = false;
        self.stage.wr_addr.next = self.stage_addr.val();
        self.stage.wr_data.next = self.wdata.val();
        self.op_req.next = false;
        self.start_commit.next = false;

        if self.active.val() & (self.is_value.val() | self.is_mask.val()) {
            // Staging RAM: waits while a COMMIT copies it out.
            if self.b_issued.q.val() {
                self.ack.next = true;
                self.rdata.next = self.stage.rd_data.val();
            } else if self.copying.val() {
                self.b_pend.d.next = true;
            } else if self.is_write.val() {
                self.stage.wr_en.next = true;
                self.ack.next = true;
            } else {
                self.stage.rd_en.next = true;
                self.b_issued.d.next = true;
                self.b_pend.d.next = true;
            }
        } else if self.active.val() & (self.is_hits.val() | self.is_hit_count.val()) {
            // Hit counters: through their RAM's sequencer.
            if !self.op_valid.val() {
                self.ack.next = true;
            } else if self.strobe.val() {
                self.op_req.next = true;
                self.b_pend.d.next = true;
            } else if self.op_done.val() {
                self.ack.next = true;
                if !self.is_write.val() {
                    self.rdata.next = self.op_value.val();
                }
            } else {
                self.b_pend.d.next = true;
            }
        } else if self.strobe.val() & self.in_page.val() {
            if self.word.val() == self.w_entry.val() {
                self.ack.next = true;
                if self.wr.val() {
                    self.entry.d.next = self.wdata.val().get_bits::<17>(0);
                } else {
                    self.rdata.next = bit_cast::<32, 17>(self.entry.q.val());
                }
            } else if self.word.val() == self.w_hit_select.val() {
                self.ack.next = true;
                if self.wr.val() {
                    self.hit_sel.d.next = self.wdata.val().get_bits::<16>(0);
                } else {
                    self.rdata.next = bit_cast::<32, 16>(self.hit_sel.q.val());
                }
            } else if self.word.val() == self.w_commit.val() {
                if self.wr.val() & !self.busy.val() & (self.cm_tern.val() | self.cm_exact.val()) {
                    self.ack.next = true;
                    self.start_commit.next = true;
                    self.c_kind.d.next = 0.into();
                    if !self.cm_tern.val() {
                        self.c_kind.d.next = 1.into();
                    }
                } else {
                    self.nak.next = true;
                }
            } else if self.word.val() == self.w_pcommit.val() {
                if self.wr.val()
                    & !self.busy.val()
                    & (self.wdata.val() < bit_cast::<32, 3>(self.n_profiles3.val()))
                {
                    self.ack.next = true;
                    self.start_commit.next = true;
                    self.c_kind.d.next = 2.into();
                } else {
                    self.nak.next = true;
                }
            } else if self.word.val() == self.w_status.val() {
                self.ack.next = self.rd.val();
                self.nak.next = self.wr.val();
                if self.rd.val() {
                    self.rdata.next = bit_cast::<32, 1>(self.busy.val().into())
                        | (bit_cast::<32, 1>(self.ready_all.val().into()) << 1);
                }
            } else if self.word.val() == self.w_ternary.val() {
                self.ack.next = self.rd.val();
                self.nak.next = self.wr.val();
                if self.rd.val() {
                    self.rdata.next = self.v_ternary.val();
                }
            } else if self.word.val() == self.w_profiles.val() {
                self.ack.next = self.rd.val();
                self.nak.next = self.wr.val();
                if self.rd.val() {
                    self.rdata.next = self.v_profiles.val();
                }
            } else if self.word.val() == self.w_hops.val() {
                self.ack.next = self.rd.val();
                self.nak.next = self.wr.val();
                if self.rd.val() {
                    self.rdata.next = self.v_hops.val();
                }
            } else if self.word.val() == self.w_exact.val() {
                self.ack.next = self.rd.val();
                self.nak.next = self.wr.val();
                if self.rd.val() {
                    self.rdata.next = self.v_exact.val();
                }
            } else if self.is_pslots.val() | self.is_pwords.val() {
                self.ack.next = self.rd.val();
                self.nak.next = self.wr.val();
                for p in 0..PROFILE_COUNT {
                    if self.rd.val() & self.is_pslots.val() & (self.psidx.val().index() == p) {
                        self.rdata.next = self.v_pslots[p].val();
                    }
                    if self.rd.val() & self.is_pwords.val() & (self.pwidx.val().index() == p) {
                        self.rdata.next = self.v_pwords[p].val();
                    }
                }
            }
        }

        // Counter operations, routed to the unit the access names.
        self.hits_t.op_req.next = self.op_req.val() & (self.op_unit.val() == 4);
        self.hits0.op_req.next = self.op_req.val() & (self.op_unit.val() == 0);
        self.hits1.op_req.next = self.op_req.val() & (self.op_unit.val() == 1);
        self.hits2.op_req.next = self.op_req.val() & (self.op_unit.val() == 2);
        self.hits3.op_req.next = self.op_req.val() & (self.op_unit.val() == 3);
        self.hits_t.op_clear.next = self.is_write.val();
        self.hits0.op_clear.next = self.is_write.val();
        self.hits1.op_clear.next = self.is_write.val();
        self.hits2.op_clear.next = self.is_write.val();
        self.hits3.op_clear.next = self.is_write.val();
        self.hits_t.op_index.next = self.op_index.val().get_bits::<T_BITS>(0);
        self.hits0.op_index.next = self.op_index.val().get_bits::<SLOTS>(0);
        self.hits1.op_index.next = self.op_index.val().get_bits::<SLOTS>(0);
        self.hits2.op_index.next = self.op_index.val().get_bits::<SLOTS>(0);
        self.hits3.op_index.next = self.op_index.val().get_bits::<SLOTS>(0);
        // ---- Commit engine: copy the staged entry, then carry it out. ----
        if self.start_commit.val() {
            self.cstate.d.next = 1.into();
            self.ccount.d.next = 0.into();
            self.c_index.d.next = self.wdata.val().get_bits::<16>(0);
            self.c_entry.d.next = self.entry.q.val();
            self.c_started.d.next = false;
        }
        self.c_addr.next = self.ccount.q.val();
        if self.ccount.q.val() >= self.c_kw.val() {
            self.c_addr.next = self.ccount.q.val() + self.c_moff.val();
        }
        self.c_load.d.next = false;
        self.c_load_idx.d.next = self.ccount.q.val();
        if self.cstate.q.val() == 1 {
            self.stage.rd_en.next = true;
            self.stage.rd_addr.next = self.c_addr.val().get_bits::<5>(0);
            self.c_load.d.next = true;
            self.ccount.d.next = self.ccount.q.val() + 1;
            if self.ccount.q.val() == self.c_last.val() {
                self.cstate.d.next = 2.into();
            }
        }
        if self.c_load.q.val() {
            for w in 0..KW {
                if self.c_load_idx.q.val().index() == w {
                    self.ev[w].d.next = self.stage.rd_data.val();
                }
                if self.c_load_idx.q.val() == self.mask_idx[w].val() {
                    self.em[w].d.next = self.stage.rd_data.val();
                }
            }
        }
        if self.cstate.q.val() == 2 {
            self.cstate.d.next = 3.into();
        }
        self.c_profile.next = self.c_index.q.val().get_bits::<3>(12);
        if self.c_kind.q.val() == 2 {
            self.c_profile.next = self.c_index.q.val().get_bits::<3>(0);
        }
        // The exact tables' copies: table p's words load only in a COMMIT for table p.
        self.c_mask_copy.next = self.c_kind.q.val() == 2;
        for w in 0..KW {
            self.xk0[w].clock.next = self.clock.val();
            self.xk0[w].d.next = self.xk0[w].q.val();
            self.x_load.next = (!self.c_mask_copy.val() & (self.c_load_idx.q.val().index() == w))
                | (self.c_mask_copy.val() & (self.c_load_idx.q.val() == self.mask_idx[w].val()));
            if self.c_load.q.val()
                & (self.c_kind.q.val() != 0)
                & (self.c_profile.val() == 0)
                & self.x_load.val()
            {
                self.xk0[w].d.next = self.stage.rd_data.val();
            }
        }
        self.xkey0.next = 0.into();
        for w in 0..KW {
            self.ev_word.next = self.xk0[w].q.val();
            self.shift.next = self.sh[w].val();
            self.xkey0.next = self.xkey0.val()
                | (bit_cast::<KEY_BITS, 32>(self.ev_word.val()) << self.shift.val());
        }
        for w in 0..KW {
            self.xk1[w].clock.next = self.clock.val();
            self.xk1[w].d.next = self.xk1[w].q.val();
            self.x_load.next = (!self.c_mask_copy.val() & (self.c_load_idx.q.val().index() == w))
                | (self.c_mask_copy.val() & (self.c_load_idx.q.val() == self.mask_idx[w].val()));
            if self.c_load.q.val()
                & (self.c_kind.q.val() != 0)
                & (self.c_profile.val() == 1)
                & self.x_load.val()
            {
                self.xk1[w].d.next = self.stage.rd_data.val();
            }
        }
        self.xkey1.next = 0.into();
        for w in 0..KW {
            self.ev_word.next = self.xk1[w].q.val();
            self.shift.next = self.sh[w].val();
            self.xkey1.next = self.xkey1.val()
                | (bit_cast::<KEY_BITS, 32>(self.ev_word.val()) << self.shift.val());
        }
        for w in 0..KW {
            self.xk2[w].clock.next = self.clock.val();
            self.xk2[w].d.next = self.xk2[w].q.val();
            self.x_load.next = (!self.c_mask_copy.val() & (self.c_load_idx.q.val().index() == w))
                | (self.c_mask_copy.val() & (self.c_load_idx.q.val() == self.mask_idx[w].val()));
            if self.c_load.q.val()
                & (self.c_kind.q.val() != 0)
                & (self.c_profile.val() == 2)
                & self.x_load.val()
            {
                self.xk2[w].d.next = self.stage.rd_data.val();
            }
        }
        self.xkey2.next = 0.into();
        for w in 0..KW {
            self.ev_word.next = self.xk2[w].q.val();
            self.shift.next = self.sh[w].val();
            self.xkey2.next = self.xkey2.val()
                | (bit_cast::<KEY_BITS, 32>(self.ev_word.val()) << self.shift.val());
        }
        for w in 0..KW {
            self.xk3[w].clock.next = self.clock.val();
            self.xk3[w].d.next = self.xk3[w].q.val();
            self.x_load.next = (!self.c_mask_copy.val() & (self.c_load_idx.q.val().index() == w))
                | (self.c_mask_copy.val() & (self.c_load_idx.q.val() == self.mask_idx[w].val()));
            if self.c_load.q.val()
                & (self.c_kind.q.val() != 0)
                & (self.c_profile.val() == 3)
                & self.x_load.val()
            {
                self.xk3[w].d.next = self.stage.rd_data.val();
            }
        }
        self.xkey3.next = 0.into();
        for w in 0..KW {
            self.ev_word.next = self.xk3[w].q.val();
            self.shift.next = self.sh[w].val();
            self.xkey3.next = self.xkey3.val()
                | (bit_cast::<KEY_BITS, 32>(self.ev_word.val()) << self.shift.val());
        }
        self.tcam.wr_start.next = false;
        self.tcam.wr_index.next = self.c_index.q.val().get_bits::<8>(0);
        self.tcam.wr_value.next = self.entry_value.val();
        self.tcam.wr_mask.next = self.entry_mask.val();
        self.tcam.wr_action.next = self.c_entry.q.val().get_bits::<16>(0);
        self.tcam.wr_enable.next = self.c_entry.q.val().get_bit(16);
        self.ex0.wr_en.next = false;
        self.ex1.wr_en.next = false;
        self.ex2.wr_en.next = false;
        self.ex3.wr_en.next = false;
        self.ex0.mask_wr.next = false;
        self.ex1.mask_wr.next = false;
        self.ex2.mask_wr.next = false;
        self.ex3.mask_wr.next = false;
        self.ex0.wr_slot.next = self.c_index.q.val().get_bits::<SLOTS>(0);
        self.ex1.wr_slot.next = self.c_index.q.val().get_bits::<SLOTS>(0);
        self.ex2.wr_slot.next = self.c_index.q.val().get_bits::<SLOTS>(0);
        self.ex3.wr_slot.next = self.c_index.q.val().get_bits::<SLOTS>(0);
        self.ex0.wr_key.next = self.xkey0.val();
        self.ex1.wr_key.next = self.xkey1.val();
        self.ex2.wr_key.next = self.xkey2.val();
        self.ex3.wr_key.next = self.xkey3.val();
        self.ex0.wr_action.next = self.c_entry.q.val().get_bits::<16>(0);
        self.ex1.wr_action.next = self.c_entry.q.val().get_bits::<16>(0);
        self.ex2.wr_action.next = self.c_entry.q.val().get_bits::<16>(0);
        self.ex3.wr_action.next = self.c_entry.q.val().get_bits::<16>(0);
        self.ex0.wr_valid.next = self.c_entry.q.val().get_bit(16);
        self.ex1.wr_valid.next = self.c_entry.q.val().get_bit(16);
        self.ex2.wr_valid.next = self.c_entry.q.val().get_bit(16);
        self.ex3.wr_valid.next = self.c_entry.q.val().get_bit(16);
        self.ex0.mask_key.next = self.xkey0.val();
        self.ex1.mask_key.next = self.xkey1.val();
        self.ex2.mask_key.next = self.xkey2.val();
        self.ex3.mask_key.next = self.xkey3.val();
        if self.cstate.q.val() == 3 {
            if self.c_kind.q.val() == 0 {
                if !self.c_started.q.val() {
                    self.tcam.wr_start.next = true;
                    self.c_started.d.next = true;
                } else if !self.tcam.busy.val() {
                    self.cstate.d.next = 0.into();
                }
            } else if self.c_kind.q.val() == 1 {
                self.ex0.wr_en.next = self.c_profile.val() == 0;
                self.ex1.wr_en.next = self.c_profile.val() == 1;
                self.ex2.wr_en.next = self.c_profile.val() == 2;
                self.ex3.wr_en.next = self.c_profile.val() == 3;
                if self.ex0.wr_ack.val()
                    | self.ex1.wr_ack.val()
                    | self.ex2.wr_ack.val()
                    | self.ex3.wr_ack.val()
                {
                    self.cstate.d.next = 0.into();
                }
            } else {
                self.ex0.mask_wr.next = self.c_profile.val() == 0;
                self.ex1.mask_wr.next = self.c_profile.val() == 1;
                self.ex2.mask_wr.next = self.c_profile.val() == 2;
                self.ex3.mask_wr.next = self.c_profile.val() == 3;
                self.cstate.d.next = 0.into();
            }
        }

        self.ram_collision.next = self.stage.collision.val()
            | self.tcam.ram_collision.val()
            | self.ex0.ram_collision.val()
            | self.ex1.ram_collision.val()
            | self.ex2.ram_collision.val()
            | self.ex3.ram_collision.val()
            | self.hits_t.ram_collision.val()
            | self.hits0.ram_collision.val()
            | self.hits1.ram_collision.val()
            | self.hits2.ram_collision.val()
            | self.hits3.ram_collision.val();

        if self.reset.val() {
            self.entry.d.next = 0.into();
            self.hit_sel.d.next = 0.into();
            self.cstate.d.next = 0.into();
            self.c_load.d.next = false;
            self.b_pend.d.next = false;
            self.b_issued.d.next = false;
            self.since.d.next = 7.into();
            self.v1.d.next = false;
            self.v2.d.next = false;
            self.v3.d.next = false;
            self.v4.d.next = false;
            self.v5.d.next = false;
            self.v6.d.next = false;
            self.r_valid.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::tests::key_bits;
    use evnic_model::filter::{Action, Entry, FilterTable};
    use evnic_regs::exact::{masked_words, Placement, SlotWrite};
    use evnic_regs::key::{self, KeyBits};
    use evnic_regs::map::filter::EntryIndex;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashMap;

    fn reg(r: &evnic_regs::Reg) -> u32 {
        f::PAGE.at(0, r)
    }

    /// The filter with a register-bus driver, a lookup driver and the model.
    struct Bench {
        uut: Box<Filter>,
        cycle: u64,
        /// The model with every commit done, and without the one in progress.
        new: FilterTable,
        old: FilterTable,
        switched: bool,
        /// Keys offered for lookup (each taken when `lk_ready`).
        keys: std::collections::VecDeque<KeyBits>,
        /// Lookups taken: (cycle taken, old answer, new answer).
        taken: std::collections::VecDeque<(u64, Answer, Answer)>,
        /// Hits the block reported, per entry number.
        counted: HashMap<u16, u32>,
        results: usize,
        hits: usize,
        last_taken: Option<u64>,
    }

    /// A lookup's answer: the entry number and action of the hit, if any.
    type Answer = Option<(u16, u16)>;

    fn answer(t: &FilterTable, k: &KeyBits) -> Answer {
        t.peek(k).map(|h| (h.index, h.action))
    }

    impl Bench {
        fn new() -> Bench {
            let mut uut = Box::<Filter>::default();
            uut.connect_all();
            let mut b = Bench {
                uut,
                cycle: 0,
                new: FilterTable::new(TERNARY),
                old: FilterTable::new(TERNARY),
                switched: true,
                keys: Default::default(),
                taken: Default::default(),
                counted: HashMap::new(),
                results: 0,
                hits: 0,
                last_taken: None,
            };
            b.uut.reset.next = true;
            b.clock();
            b.uut.reset.next = false;
            b
        }

        fn clock(&mut self) {
            assert!(simulate(&mut *self.uut, 200), "settle");
            self.uut.clock.next = true.into();
            assert!(simulate(&mut *self.uut, 200), "settle");
            self.uut.clock.next = false.into();
            assert!(simulate(&mut *self.uut, 200), "settle");
        }

        /// One cycle with the current bus inputs; drives lookups and checks answers.
        fn step(&mut self) {
            let key = self.keys.front().copied();
            self.uut.lk_valid.next = key.is_some();
            self.uut.lk_key.next = key_bits(&key.unwrap_or_default());
            assert!(simulate(&mut *self.uut, 200), "settle");
            assert!(
                !self.uut.ram_collision.val(),
                "RAM collision in cycle {}",
                self.cycle
            );
            if key.is_some() && self.uut.lk_ready.val() {
                let k = self.keys.pop_front().unwrap();
                if let Some(t) = self.last_taken {
                    assert!(self.cycle - t >= SPACING as u64);
                }
                self.last_taken = Some(self.cycle);
                self.taken
                    .push_back((self.cycle, answer(&self.old, &k), answer(&self.new, &k)));
            }
            if self.uut.res_valid.val() {
                let (at, old, new) = self.taken.pop_front().expect("an answer per lookup");
                assert_eq!(self.cycle - at, LATENCY as u64, "latency");
                let u = &self.uut;
                let got = u
                    .res_hit
                    .val()
                    .then(|| (u.res_index.val().to_u16(), u.res_action.val().to_u16()));
                if got == new && (got != old || self.switched) {
                    self.switched = true;
                } else {
                    assert!(
                        !self.switched,
                        "lookup {} saw the old table again",
                        self.results
                    );
                    assert_eq!(
                        got, old,
                        "lookup {}: neither old {old:?} nor new {new:?}",
                        self.results
                    );
                }
                if let Some((i, _)) = got {
                    *self.counted.entry(i).or_default() += 1;
                    self.hits += 1;
                }
                self.results += 1;
            } else if let Some(t) = self.taken.front() {
                assert!(self.cycle - t.0 < LATENCY as u64, "answer late");
            }
            self.clock();
            self.cycle += 1;
        }

        /// One register access through the bus protocol: strobe one cycle, then wait for the
        /// answer (up to the bus timeout). Returns (acknowledged, read data, cycles waited).
        fn access(&mut self, write: bool, offset: u32, data: u32) -> (bool, u32, u64) {
            let u = &mut self.uut;
            u.addr.next = u64::from(offset).into();
            u.wdata.next = u64::from(data).into();
            u.rd.next = !write;
            u.wr.next = write;
            for waited in 0..crate::regbus::ACK_TIMEOUT {
                let key = self.keys.front().copied();
                self.uut.lk_valid.next = key.is_some();
                self.uut.lk_key.next = key_bits(&key.unwrap_or_default());
                assert!(simulate(&mut *self.uut, 200), "settle");
                let (ack, nak, rdata) = (
                    self.uut.ack.val(),
                    self.uut.nak.val(),
                    self.uut.rdata.val().to_u32(),
                );
                assert!(!(ack && nak));
                if !ack && !nak {
                    assert_eq!(rdata, 0, "rdata only with ack");
                }
                self.step();
                self.uut.rd.next = false;
                self.uut.wr.next = false;
                if ack || nak {
                    return (ack, rdata, waited);
                }
            }
            panic!("no answer to {offset:#x} within the bus timeout");
        }
        fn write(&mut self, offset: u32, data: u32) -> bool {
            self.access(true, offset, data).0
        }
        fn read(&mut self, offset: u32) -> u32 {
            let (ack, v, _) = self.access(false, offset, 0);
            assert!(ack, "read of {offset:#x} refused");
            v
        }
        fn idle(&mut self, n: usize) {
            for _ in 0..n {
                self.step();
            }
        }
        fn wait_idle(&mut self) {
            while self.read(reg(&f::STATUS)) & f::STATUS_BUSY.mask() != 0 {}
        }
        fn stage(&mut self, value: &KeyBits, mask: &KeyBits, action: u16, enable: bool) {
            for w in 0..KW as u32 {
                assert!(self.write(f::PAGE.base + f::VALUE_BASE + 4 * w, value.word(w)));
                assert!(self.write(f::PAGE.base + f::MASK_BASE + 4 * w, mask.word(w)));
            }
            let e = f::ENTRY_ACTION.put(u32::from(action)) | f::ENTRY_ENABLE.put(enable as u32);
            assert!(self.write(reg(&f::ENTRY), e));
        }
        /// Commits entry number `n`, with the model's view switching from `old` to `new`.
        fn commit(&mut self, n: u16, change: impl FnOnce(&mut FilterTable)) {
            self.wait_idle();
            self.old = self.new.clone();
            change(&mut self.new);
            self.switched = false;
            assert!(
                self.write(reg(&f::COMMIT), u32::from(n)),
                "COMMIT {n:#x} refused"
            );
        }
        fn set_ternary(&mut self, i: usize, e: Entry) {
            self.stage(&e.value, &e.mask, e.action, e.enable);
            self.commit(i as u16, |t| t.write(i, e));
        }
        fn set_exact(&mut self, p: usize, slot: u32, value: &KeyBits, action: u16, enable: bool) {
            self.stage(value, &KeyBits::default(), action, enable);
            let n = EntryIndex::Exact {
                profile: p as u8,
                slot: slot as u16,
            }
            .encode();
            let v = *value;
            self.commit(n, |t| t.write_exact(p, slot, &v, action, enable));
        }
        fn set_profile(&mut self, p: usize, mask: &KeyBits) {
            self.stage(&KeyBits::default(), mask, 0, false);
            self.wait_idle();
            self.old = self.new.clone();
            self.new.set_profile_mask(p, mask);
            self.switched = false;
            assert!(self.write(reg(&f::PROFILE_COMMIT), p as u32));
        }
        fn drain(&mut self) {
            while !self.keys.is_empty() || !self.taken.is_empty() {
                self.step();
            }
            // Counted a cycle after the answer, within the counter's 4 cycles.
            self.idle(6);
        }
        fn hits_of(&mut self, n: u16) -> u32 {
            if usize::from(n) < TERNARY {
                let direct = self.read(f::PAGE.base + f::HITS_BASE + 4 * u32::from(n));
                assert!(self.write(reg(&f::HIT_SELECT), u32::from(n)));
                assert_eq!(
                    self.read(reg(&f::HIT_COUNT)),
                    direct,
                    "HITS{n} and HIT_COUNT"
                );
                direct
            } else {
                assert!(self.write(reg(&f::HIT_SELECT), u32::from(n)));
                self.read(reg(&f::HIT_COUNT))
            }
        }
    }

    /// A key from small pools of addresses and ports, so that entries hit often.
    fn pool_key(r: &mut ChaCha8Rng) -> KeyBits {
        let mut k = KeyBits::default();
        k.set(key::IP_VERSION, 4);
        k.set(key::IP_PROTO, [6, 17][r.gen_range(0..2)]);
        k.set(key::L4_SRC, r.gen_range(1000..1004));
        k.set(key::L4_DST, r.gen_range(300..304));
        k.set(key::SRC_IP, 0x0a00_0000 + r.gen_range(0..4));
        k.set(key::DST_IP, 0x0a00_0100 + r.gen_range(0..4));
        k.set(key::DST_MAC, 0x0200_0000_0000 + r.gen_range(0..4));
        k.set(key::VLAN_OUTER, r.gen_range(0..3));
        k
    }

    #[test]
    fn commits_under_lookups_agree_with_the_model_and_are_atomic() {
        let mut r = ChaCha8Rng::seed_from_u64(10);
        let mut b = Bench::new();
        // The clear after reset: busy, not ready; lookups miss meanwhile.
        assert_eq!(b.read(reg(&f::STATUS)), f::STATUS_BUSY.mask());
        for _ in 0..5 {
            b.keys.push_back(pool_key(&mut r));
        }
        b.wait_idle();
        assert_eq!(b.read(reg(&f::STATUS)), f::STATUS_READY.mask());
        let all = u128::MAX;
        let masks = [
            KeyBits::of_fields(&[
                (key::IP_VERSION, all),
                (key::IP_PROTO, all),
                (key::L4_SRC, all),
                (key::L4_DST, all),
                (key::SRC_IP, 0xffff_ffff),
                (key::DST_IP, 0xffff_ffff),
            ]),
            KeyBits::of_fields(&[
                (key::IP_PROTO, all),
                (key::L4_DST, all),
                (key::DST_IP, 0xffff_ffff),
            ]),
            KeyBits::of_fields(&[(key::DST_MAC, all), (key::VLAN_OUTER, all)]),
            KeyBits::of_fields(&[(key::IP_VERSION, all), (key::L4_DST, all)]),
        ];
        for (p, m) in masks.iter().enumerate() {
            b.set_profile(p, m);
        }
        let mut place: Vec<Placement<u16>> = PROFILES.iter().map(|p| Placement::new(*p)).collect();
        for round in 0..40 {
            // Traffic throughout.
            while b.keys.len() < 40 {
                b.keys.push_back(pool_key(&mut r));
            }
            let action = Action::Vi(r.gen_range(0..16)).encode();
            match r.gen_range(0..10) {
                0..=3 => {
                    // An exact entry from a pool key, placed by the host placement.
                    let p = r.gen_range(0..4);
                    let k = pool_key(&mut r);
                    let words = masked_words(&PROFILES[p], &k, &masks[p]);
                    let (writes, _) = place[p].insert(words, action).expect("room");
                    for w in writes {
                        match w {
                            SlotWrite::Set { slot, key, value } => {
                                b.set_exact(p, slot, &PROFILES[p].expand(&key), value, true)
                            }
                            SlotWrite::Clear { slot } => {
                                b.set_exact(p, slot, &KeyBits::default(), 0, false)
                            }
                        }
                    }
                }
                4 => {
                    // Remove an exact entry.
                    let p = r.gen_range(0..4);
                    let k = pool_key(&mut r);
                    if let Some(slot) = place[p].remove(&masked_words(&PROFILES[p], &k, &masks[p]))
                    {
                        b.set_exact(p, slot, &KeyBits::default(), 0, false);
                    }
                }
                _ => {
                    // A ternary entry: a pool key under a random subset of fields.
                    let k = pool_key(&mut r);
                    let mut m = KeyBits::default();
                    for fl in [key::L4_DST, key::DST_IP, key::IP_PROTO, key::VLAN_OUTER] {
                        if r.gen_bool(0.5) {
                            m.set(fl, all);
                        }
                    }
                    let e = Entry {
                        value: k & m,
                        mask: m,
                        enable: round % 7 != 3,
                        action,
                    };
                    b.set_ternary(r.gen_range(0..TERNARY), e);
                }
            }
        }
        b.wait_idle();
        b.drain();
        assert!(
            b.results > 600 && b.hits > 200,
            "{} lookups, {} hits",
            b.results,
            b.hits
        );
        let exact_hits = b.counted.keys().filter(|n| **n & 0x8000 != 0).count();
        let ternary_hits = b.counted.keys().filter(|n| **n & 0x8000 == 0).count();
        assert!(exact_hits >= 4 && ternary_hits >= 4, "{:?}", b.counted);
        // Every counter the block reported hits on, and a few others, read back.
        let mut names: Vec<u16> = b.counted.keys().copied().collect();
        names.extend([1, 31, 0x8000, 0x9001, 0xb1ff]);
        for n in names {
            let want = b.counted.get(&n).copied().unwrap_or(0);
            assert_eq!(b.hits_of(n), want, "hits of {n:#x}");
        }
        // Clearing one.
        let (&n, _) = b.counted.iter().next().unwrap();
        assert!(b.write(reg(&f::HIT_SELECT), u32::from(n)));
        assert!(b.write(reg(&f::HIT_COUNT), 0));
        assert_eq!(b.read(reg(&f::HIT_COUNT)), 0);
    }

    #[test]
    fn registers_wait_refuse_and_read_back() {
        let mut b = Bench::new();
        b.wait_idle();
        // Parameters.
        assert_eq!(b.read(reg(&f::TERNARY_ENTRIES)), TERNARY as u32);
        assert_eq!(b.read(reg(&f::EXACT_PROFILES)), PROFILE_COUNT as u32);
        assert_eq!(b.read(reg(&f::EXACT_HOPS)), evnic_regs::exact::HOPS);
        assert_eq!(
            b.read(reg(&f::EXACT_ENTRIES)),
            (PROFILE_COUNT << SLOTS) as u32
        );
        for (p, prof) in PROFILES.iter().enumerate() {
            let o = 4 * p as u32;
            assert_eq!(
                b.read(f::PAGE.base + f::PROFILE_SLOTS_BASE + o),
                prof.slots_log2
            );
            assert_eq!(b.read(f::PAGE.base + f::PROFILE_WORDS_BASE + o), prof.words);
        }
        assert!(!b.write(reg(&f::EXACT_HOPS), 1), "read-only: refused");
        assert!(!b.write(reg(&f::STATUS), 1));
        // Staging read-back, one cycle of wait.
        for w in 0..KW as u32 {
            assert!(b.write(f::PAGE.base + f::VALUE_BASE + 4 * w, 0x1000 + w));
            assert!(b.write(f::PAGE.base + f::MASK_BASE + 4 * w, 0x2000 + w));
        }
        for w in 0..KW as u32 {
            let (ack, v, waited) = b.access(false, f::PAGE.base + f::VALUE_BASE + 4 * w, 0);
            assert_eq!((ack, v, waited), (true, 0x1000 + w, 1));
            assert_eq!(b.read(f::PAGE.base + f::MASK_BASE + 4 * w), 0x2000 + w);
        }
        assert!(b.write(reg(&f::ENTRY), 0x1_4005));
        assert_eq!(b.read(reg(&f::ENTRY)), 0x1_4005);
        // Refused COMMITs: out of range, a profile past the last, a slot past the table.
        assert!(!b.write(reg(&f::COMMIT), TERNARY as u32));
        assert!(!b.write(reg(&f::COMMIT), 0x8000 | (PROFILE_COUNT as u32) << 12));
        assert!(!b.write(reg(&f::COMMIT), 0x8000 | 1 << SLOTS));
        assert!(!b.write(reg(&f::COMMIT), 0x1_8000));
        assert!(!b.write(reg(&f::PROFILE_COMMIT), PROFILE_COUNT as u32));
        assert!(
            !b.access(false, reg(&f::COMMIT), 0).0,
            "write-only: read refused"
        );
        // A ternary COMMIT: busy for the copy and two passes; a second one is refused;
        // staging writes wait during the copy, not after.
        assert!(b.write(reg(&f::COMMIT), 3));
        let (ack, _, waited) = b.access(true, f::PAGE.base + f::VALUE_BASE, 7);
        assert!(
            ack && waited > 10 && waited <= 2 * KW as u64 + 2,
            "waited {waited}"
        );
        assert!(!b.write(reg(&f::COMMIT), 4), "refused while busy");
        assert!(b.read(reg(&f::STATUS)) & f::STATUS_BUSY.mask() != 0);
        let (ack, _, waited) = b.access(true, f::PAGE.base + f::VALUE_BASE, 8);
        assert!(ack && waited == 0);
        let start = b.cycle;
        b.wait_idle();
        let busy = b.cycle - start;
        assert!(
            busy >= crate::tcam::REWRITE_CYCLES as u64 - 100
                && busy <= crate::tcam::REWRITE_CYCLES as u64 + 50,
            "busy {busy} cycles"
        );
        // An exact COMMIT and a profile mask: short.
        assert!(b.write(reg(&f::COMMIT), 0x8000 | 2 << 12 | 5));
        let start = b.cycle;
        b.wait_idle();
        assert!(b.cycle - start < 2 * KW as u64 + 12, "{}", b.cycle - start);
        assert!(b.write(reg(&f::PROFILE_COMMIT), 3));
        b.wait_idle();
        // HIT_COUNT of a number with no entry reads 0 at once.
        assert!(b.write(reg(&f::HIT_SELECT), 0x7fff));
        assert_eq!(b.access(false, reg(&f::HIT_COUNT), 0), (true, 0, 0));
        assert_eq!(b.read(reg(&f::HIT_SELECT)), 0x7fff);
        // Counter reads wait a few cycles.
        let (ack, v, waited) = b.access(false, f::PAGE.base + f::HITS_BASE + 8, 0);
        assert!(
            ack && v == 0 && (1..=3).contains(&waited),
            "waited {waited}"
        );
    }

    #[test]
    fn lookups_every_spacing_cycles_answered_after_latency() {
        let mut r = ChaCha8Rng::seed_from_u64(3);
        let mut b = Bench::new();
        b.wait_idle();
        let e = Entry {
            value: KeyBits::default(),
            mask: KeyBits::default(),
            enable: true,
            action: action_group(9),
        };
        b.set_ternary(TERNARY - 1, e);
        b.wait_idle();
        for _ in 0..50 {
            b.keys.push_back(pool_key(&mut r));
        }
        let start = b.cycle;
        b.drain();
        // Taken back to back at the spacing, each answered after the latency (checked in
        // step), all by the catch-all.
        assert!(b.cycle - start <= 50 * SPACING as u64 + LATENCY as u64 + 8);
        assert_eq!((b.results, b.hits), (50, 50));
        assert_eq!(b.hits_of(TERNARY as u16 - 1), 50);
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = Filter::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        if let Ok(dir) = std::env::var("EVNIC_VERILOG_DIR") {
            std::fs::write(format!("{dir}/filter.v"), &v).unwrap();
        }
        crate::crc::tests::verilator_lint("filter", &v);
    }
}
