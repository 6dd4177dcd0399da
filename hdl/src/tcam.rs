//! `Tcam<N, P>`: the ternary filter table in block RAM, N entries of (value, mask) over the
//! whole key, lowest enabled matching entry wins.
//!
//! # Layout (transposed)
//!
//! The key is cut into [`COLS`] slices of [`SLICE`] bits. Column `c` is a RAM of 2^SLICE words
//! of P = N + 1 bits: bit `j` of word `a` is 1 when physical slot `j`'s value and mask accept
//! `a` as slice `c` of a key (`(a ^ value_c) & mask_c == 0`). A lookup reads, in every column,
//! the word its key slice addresses; the AND of the reads is the match vector of all slots.
//! Writing an entry rewrites its bit in every word of every column: a read-modify-write of
//! 2^SLICE words, one per cycle, all columns at once.
//!
//! # Atomic rewrite
//!
//! Physical slot N is a spare. Writing entry `e` (enabled) takes two passes: pass A writes the
//! new entry into the spare while lookups still use slot `e`; at the edge of pass A's last
//! write, logical entry `e` is redirected to the spare (and enabled), so every lookup from
//! then on sees the new entry whole; pass B writes the new entry into slot `e` while the
//! redirect holds; at pass B's last write the redirect is dropped. The spare's and slot `e`'s
//! actions (a 64-word RAM by physical slot) are written at those same edges, when no lookup
//! in flight can read them. A lookup carries the redirect and enables of its read cycle down
//! its pipeline, so it sees one consistent table: all old or all new. Disabling an entry
//! clears its enable bit at once (no pass).
//!
//! # Ports
//!
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | 1 | synchronous reset: every entry disabled, no redirect, no rewrite, no lookup in flight |
//! | `lk_soon` | in | 1 | a lookup will be issued next cycle (`lk_valid` then): the rewrite keeps the RAMs free |
//! | `lk_valid`, `lk_key` | in | 1, key | issue a lookup of `lk_key` (its column reads) in this cycle |
//! | `res_valid` | out | 1 | one-cycle pulse, [`LATENCY`] cycles after `lk_valid` |
//! | `res_hit`, `res_index`, `res_action` | out | 1, 8, 16 | with `res_valid`: the lowest enabled matching entry and its action |
//! | `wr_start` | in | 1 | start writing entry `wr_index` (only while `busy` is low) |
//! | `wr_index`, `wr_value`, `wr_mask`, `wr_action`, `wr_enable` | in | 8, key, key, 16, 1 | the entry; `wr_value` and `wr_mask` held until `busy` falls |
//! | `busy` | out | 1 | a rewrite runs |
//! | `ram_collision` | out | 1 | a RAM was read at the address written in that cycle (an RTL bug) |
//!
//! # Timing (cycles)
//!
//! A lookup issued in cycle t (`lk_valid`) reads the columns at the edge ending t, ANDs each
//! group of [`GROUP`] columns in t+1 and the groups in t+2, picks the lowest entry in t+3 (and
//! reads its action) and answers in t+4 (latency [`LATENCY`]; it was 3 with one AND of all
//! 47 columns: registering the groups' ANDs keeps each column's 33 read bits local to its
//! group, the densest routing of the block). The rewrite's write-back goes to the address the
//! column read in the cycle before, registered per column (not one write-address register
//! fanned out to every column). Lookups take precedence: the rewrite issues no read in a cycle with
//! `lk_valid` or `lk_soon` (so its write never meets a lookup read), and otherwise one read
//! per cycle. A rewrite of an enabled entry takes 2 x (2^SLICE + 1) cycles plus 2 per lookup
//! issued meanwhile; a disable takes effect at the edge of `wr_start`. Lookups are never
//! delayed by a rewrite.

use crate::ram::Ram;
use rust_hdl::prelude::*;

/// Bits of the filter key.
pub const KEY_BITS: usize = evnic_regs::key::KEY_BITS as usize;
/// Key bits per column (the column RAM has 2^SLICE words).
pub const SLICE: usize = 9;
/// Columns: the key cut into SLICE-bit slices.
pub const COLS: usize = KEY_BITS.div_ceil(SLICE);
/// The key padded with zeros to whole slices.
pub const PADDED: usize = COLS * SLICE;
/// Columns per group: the AND of a group's reads is registered before the groups are ANDed.
pub const GROUP: usize = 8;
/// Column groups (the last may be short).
pub const GROUPS: usize = COLS.div_ceil(GROUP);
/// Cycles from `lk_valid` to `res_valid`.
pub const LATENCY: usize = 4;
/// Cycles a rewrite of an enabled entry takes without lookups.
pub const REWRITE_CYCLES: usize = 2 * ((1 << SLICE) + 1);

/// The ternary table: N entries, P = N + 1 physical slots (one spare). See the module docs.
#[derive(LogicBlock)]
pub struct Tcam<const N: usize, const P: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub lk_soon: Signal<In, Bit>,
    pub lk_valid: Signal<In, Bit>,
    pub lk_key: Signal<In, Bits<KEY_BITS>>,
    pub res_valid: Signal<Out, Bit>,
    pub res_hit: Signal<Out, Bit>,
    pub res_index: Signal<Out, Bits<8>>,
    pub res_action: Signal<Out, Bits<16>>,
    pub wr_start: Signal<In, Bit>,
    pub wr_index: Signal<In, Bits<8>>,
    pub wr_value: Signal<In, Bits<KEY_BITS>>,
    pub wr_mask: Signal<In, Bits<KEY_BITS>>,
    pub wr_action: Signal<In, Bits<16>>,
    pub wr_enable: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
    pub ram_collision: Signal<Out, Bit>,
    cols: [Ram<Bits<P>, SLICE>; COLS],
    /// Per column: the address it read last cycle, the write address of the rewrite's
    /// write-back (a copy next to each column instead of one register fanned out to all).
    col_wa: [DFF<Bits<SLICE>>; COLS],
    /// Lookup stage 1: the AND of each group's column reads.
    g_match: [DFF<Bits<P>>; GROUPS],
    actions: Ram<Bits<16>, 6>,
    enable: DFF<Bits<N>>,
    redirect: DFF<Bit>,
    redirect_idx: DFF<Bits<8>>,
    // Lookup pipeline: the redirect and enables of the read cycle travel with the lookup.
    s1_valid: DFF<Bit>,
    s1_redirect: DFF<Bit>,
    s1_ridx: DFF<Bits<8>>,
    s1_enable: DFF<Bits<N>>,
    sg_valid: DFF<Bit>,
    sg_redirect: DFF<Bit>,
    sg_ridx: DFF<Bits<8>>,
    sg_enable: DFF<Bits<N>>,
    s2_valid: DFF<Bit>,
    s2_match: DFF<Bits<P>>,
    s2_redirect: DFF<Bit>,
    s2_ridx: DFF<Bits<8>>,
    s2_enable: DFF<Bits<N>>,
    s3_valid: DFF<Bit>,
    s3_hit: DFF<Bit>,
    s3_idx: DFF<Bits<8>>,
    // Rewrite: 0 idle, 1 pass A (the spare), 2 pass B (the entry's own slot).
    phase: DFF<Bits<2>>,
    w_idx: DFF<Bits<8>>,
    w_action: DFF<Bits<16>>,
    /// One-hot of the physical slot the pass writes.
    oh: DFF<Bits<P>>,
    /// Next word to read; bit SLICE set: every word read.
    ra: DFF<Bits<10>>,
    /// A word was read last cycle (address `wa`): write it back this cycle.
    rd_pending: DFF<Bit>,
    wa: DFF<Bits<SLICE>>,
    pkey: Signal<Local, Bits<PADDED>>,
    pvalue: Signal<Local, Bits<PADDED>>,
    pmask: Signal<Local, Bits<PADDED>>,
    all: Signal<Local, Bits<P>>,
    /// The AND of the group being summed (stage 1).
    gand: Signal<Local, Bits<P>>,
    can_read: Signal<Local, Bit>,
    last_write: Signal<Local, Bit>,
    new_bit: Signal<Local, Bit>,
    /// Stage 2: the spare slot matches; one-hot of the redirected entry (0 without redirect).
    spare_hit: Signal<Local, Bit>,
    ridx_oh: Signal<Local, Bits<N>>,
    /// The enabled entries that match (through the redirect), and the lowest of them.
    mvec: Signal<Local, Bits<N>>,
    lowest: Signal<Local, Bits<N>>,
    found: Signal<Local, Bit>,
    idx: Signal<Local, Bits<8>>,
    redir_hit: Signal<Local, Bit>,
    collide: Signal<Local, Bit>,
    one_p: Constant<Bits<P>>,
    ones_p: Constant<Bits<P>>,
    one_n: Constant<Bits<N>>,
    spare: Constant<Bits<8>>,
    spare_oh: Constant<Bits<P>>,
    /// `idx_bit[b]`: the entries whose index has bit `b` set.
    idx_bit: [Constant<Bits<N>>; 8],
}

impl<const N: usize, const P: usize> Default for Tcam<N, P> {
    fn default() -> Self {
        assert_eq!(P, N + 1, "one spare physical slot");
        assert!(P <= 64, "the action RAM has 64 words");
        assert_eq!(SLICE, 9, "the column offsets below are written as 9 * c");
        assert_eq!(
            GROUP, 8,
            "the group's columns below are written as g * 8 + k"
        );
        Tcam {
            clock: Default::default(),
            reset: Default::default(),
            lk_soon: Default::default(),
            lk_valid: Default::default(),
            lk_key: Default::default(),
            res_valid: Default::default(),
            res_hit: Default::default(),
            res_index: Default::default(),
            res_action: Default::default(),
            wr_start: Default::default(),
            wr_index: Default::default(),
            wr_value: Default::default(),
            wr_mask: Default::default(),
            wr_action: Default::default(),
            wr_enable: Default::default(),
            busy: Default::default(),
            ram_collision: Default::default(),
            cols: array_init::array_init(|_| Default::default()),
            col_wa: array_init::array_init(|_| Default::default()),
            g_match: array_init::array_init(|_| Default::default()),
            actions: Default::default(),
            enable: Default::default(),
            redirect: Default::default(),
            redirect_idx: Default::default(),
            s1_valid: Default::default(),
            s1_redirect: Default::default(),
            s1_ridx: Default::default(),
            s1_enable: Default::default(),
            sg_valid: Default::default(),
            sg_redirect: Default::default(),
            sg_ridx: Default::default(),
            sg_enable: Default::default(),
            s2_valid: Default::default(),
            s2_match: Default::default(),
            s2_redirect: Default::default(),
            s2_ridx: Default::default(),
            s2_enable: Default::default(),
            s3_valid: Default::default(),
            s3_hit: Default::default(),
            s3_idx: Default::default(),
            phase: Default::default(),
            w_idx: Default::default(),
            w_action: Default::default(),
            oh: Default::default(),
            ra: Default::default(),
            rd_pending: Default::default(),
            wa: Default::default(),
            pkey: Default::default(),
            pvalue: Default::default(),
            pmask: Default::default(),
            all: Default::default(),
            gand: Default::default(),
            can_read: Default::default(),
            last_write: Default::default(),
            new_bit: Default::default(),
            spare_hit: Default::default(),
            ridx_oh: Default::default(),
            mvec: Default::default(),
            lowest: Default::default(),
            redir_hit: Default::default(),
            found: Default::default(),
            idx: Default::default(),
            collide: Default::default(),
            one_p: Constant::new(1.into()),
            ones_p: Constant::new(Bits::<P>::mask()),
            one_n: Constant::new(1.into()),
            spare: Constant::new((N as u64).into()),
            spare_oh: Constant::new(bits::<P>(1) << (N as u64)),
            idx_bit: std::array::from_fn(|b| {
                let mut m = Bits::<N>::default();
                for i in (0..N).filter(|i| (i >> b) & 1 == 1) {
                    m = m | (bits::<N>(1) << (i as u64));
                }
                Constant::new(m)
            }),
        }
    }
}

impl<const N: usize, const P: usize> Logic for Tcam<N, P> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            enable,
            redirect,
            redirect_idx,
            s1_valid,
            s1_redirect,
            s1_ridx,
            s1_enable,
            sg_valid,
            sg_redirect,
            sg_ridx,
            sg_enable,
            s2_valid,
            s2_match,
            s2_redirect,
            s2_ridx,
            s2_enable,
            s3_valid,
            s3_hit,
            s3_idx,
            phase,
            w_idx,
            w_action,
            oh,
            ra,
            rd_pending,
            wa
        );
        self.pkey.next = bit_cast::<PADDED, KEY_BITS>(self.lk_key.val());
        self.pvalue.next = bit_cast::<PADDED, KEY_BITS>(self.wr_value.val());
        self.pmask.next = bit_cast::<PADDED, KEY_BITS>(self.wr_mask.val());

        // The rewrite reads a word when no lookup reads now or next cycle.
        self.can_read.next = (self.phase.q.val() != 0)
            & !self.ra.q.val().get_bit(9)
            & !self.lk_soon.val()
            & !self.lk_valid.val();
        self.rd_pending.d.next = self.can_read.val();
        if self.can_read.val() {
            self.ra.d.next = self.ra.q.val() + 1;
            self.wa.d.next = self.ra.q.val().get_bits::<SLICE>(0);
        }
        self.last_write.next = self.rd_pending.q.val() & self.wa.q.val().all();

        // Columns: lookup reads, or the rewrite's read and (next cycle) write. The write-back
        // goes to the address the column read last cycle (a read of the rewrite: it reads
        // only in cycles without a lookup read), kept next to the column.
        self.collide.next = false;
        for c in 0..COLS {
            self.cols[c].clock.next = self.clock.val();
            self.col_wa[c].clock.next = self.clock.val();
            self.cols[c].rd_en.next = self.lk_valid.val() | self.can_read.val();
            self.cols[c].rd_addr.next = self.ra.q.val().get_bits::<SLICE>(0);
            if self.lk_valid.val() {
                self.cols[c].rd_addr.next = self.pkey.val().get_bits::<SLICE>(9 * c);
            }
            self.col_wa[c].d.next = self.cols[c].rd_addr.val();
            self.new_bit.next = !((self.col_wa[c].q.val()
                ^ self.pvalue.val().get_bits::<SLICE>(9 * c))
                & self.pmask.val().get_bits::<SLICE>(9 * c))
            .any();
            self.cols[c].wr_en.next = self.rd_pending.q.val();
            self.cols[c].wr_addr.next = self.col_wa[c].q.val();
            self.cols[c].wr_data.next = self.cols[c].rd_data.val() & !self.oh.q.val();
            if self.new_bit.val() {
                self.cols[c].wr_data.next = self.cols[c].rd_data.val() | self.oh.q.val();
            }
            self.collide.next = self.collide.val() | self.cols[c].collision.val();
        }
        // Stage 1: the AND of each group's reads, registered (the groups' last is short).
        for g in 0..(GROUPS - 1) {
            self.gand.next = self.ones_p.val();
            for k in 0..GROUP {
                self.gand.next = self.gand.val() & self.cols[g * 8 + k].rd_data.val();
            }
            self.g_match[g].clock.next = self.clock.val();
            self.g_match[g].d.next = self.gand.val();
        }
        self.gand.next = self.ones_p.val();
        for c in ((GROUPS - 1) * GROUP)..COLS {
            self.gand.next = self.gand.val() & self.cols[c].rd_data.val();
        }
        for g in (GROUPS - 1)..GROUPS {
            self.g_match[g].clock.next = self.clock.val();
            self.g_match[g].d.next = self.gand.val();
        }
        self.all.next = self.ones_p.val();
        for g in 0..GROUPS {
            self.all.next = self.all.val() & self.g_match[g].q.val();
        }

        // Lookup stage 1: AND of each group's columns (above); stage 1b: AND of the groups.
        self.s1_valid.d.next = self.lk_valid.val();
        self.s1_redirect.d.next = self.redirect.q.val();
        self.s1_ridx.d.next = self.redirect_idx.q.val();
        self.s1_enable.d.next = self.enable.q.val();
        self.sg_valid.d.next = self.s1_valid.q.val();
        self.sg_redirect.d.next = self.s1_redirect.q.val();
        self.sg_ridx.d.next = self.s1_ridx.q.val();
        self.sg_enable.d.next = self.s1_enable.q.val();
        self.s2_valid.d.next = self.sg_valid.q.val();
        self.s2_match.d.next = self.all.val();
        self.s2_redirect.d.next = self.sg_redirect.q.val();
        self.s2_ridx.d.next = self.sg_ridx.q.val();
        self.s2_enable.d.next = self.sg_enable.q.val();

        // Stage 2: the lowest enabled entry that matches, through the redirect; its action.
        // As vectors, for timing: the lowest set bit by `m & (!m + 1)` (a carry chain), its
        // index by OR trees (no chain of 32 priority muxes).
        self.spare_hit.next = (self.s2_match.q.val() & self.spare_oh.val()).any();
        self.ridx_oh.next = 0.into();
        if self.s2_redirect.q.val() {
            self.ridx_oh.next = self.one_n.val() << self.s2_ridx.q.val();
        }
        self.mvec.next = self.s2_match.q.val().get_bits::<N>(0) & !self.ridx_oh.val();
        if self.spare_hit.val() {
            self.mvec.next = self.mvec.val() | self.ridx_oh.val();
        }
        self.mvec.next = self.mvec.val() & self.s2_enable.q.val();
        self.lowest.next = self.mvec.val() & (!self.mvec.val() + self.one_n.val());
        self.found.next = self.mvec.val().any();
        self.idx.next = 0.into();
        for b in 0..8 {
            self.idx.next = self
                .idx
                .val()
                .replace_bit(b, (self.lowest.val() & self.idx_bit[b].val()).any());
        }
        self.redir_hit.next = (self.lowest.val() & self.ridx_oh.val()).any();
        self.actions.clock.next = self.clock.val();
        self.actions.rd_en.next = self.s2_valid.q.val() & self.found.val();
        self.actions.rd_addr.next = self.idx.val().get_bits::<6>(0);
        if self.redir_hit.val() {
            self.actions.rd_addr.next = self.spare.val().get_bits::<6>(0);
        }
        self.s3_valid.d.next = self.s2_valid.q.val();
        self.s3_hit.d.next = self.found.val();
        self.s3_idx.d.next = self.idx.val();

        // Stage 3: the answer.
        self.res_valid.next = self.s3_valid.q.val();
        self.res_hit.next = self.s3_valid.q.val() & self.s3_hit.q.val();
        self.res_index.next = self.s3_idx.q.val();
        self.res_action.next = self.actions.rd_data.val();

        // The end of a pass: flip (A) or drop (B) the redirect, with the action write.
        self.actions.wr_en.next = false;
        self.actions.wr_addr.next = self.spare.val().get_bits::<6>(0);
        self.actions.wr_data.next = self.w_action.q.val();
        if self.last_write.val() {
            self.actions.wr_en.next = true;
            self.ra.d.next = 0.into();
            if self.phase.q.val() == 1 {
                self.redirect.d.next = true;
                self.redirect_idx.d.next = self.w_idx.q.val();
                self.enable.d.next = self.enable.q.val() | (self.one_n.val() << self.w_idx.q.val());
                self.oh.d.next = self.one_p.val() << self.w_idx.q.val();
                self.phase.d.next = 2.into();
            } else {
                self.actions.wr_addr.next = self.w_idx.q.val().get_bits::<6>(0);
                self.redirect.d.next = false;
                self.phase.d.next = 0.into();
            }
        }
        self.busy.next = self.phase.q.val() != 0;

        // A new write.
        if self.wr_start.val() & (self.phase.q.val() == 0) {
            if self.wr_enable.val() {
                self.phase.d.next = 1.into();
                self.w_idx.d.next = self.wr_index.val();
                self.w_action.d.next = self.wr_action.val();
                self.oh.d.next = self.spare_oh.val();
                self.ra.d.next = 0.into();
            } else {
                self.enable.d.next =
                    self.enable.q.val() & !(self.one_n.val() << self.wr_index.val());
            }
        }
        self.ram_collision.next = self.collide.val() | self.actions.collision.val();

        if self.reset.val() {
            self.enable.d.next = 0.into();
            self.redirect.d.next = false;
            self.phase.d.next = 0.into();
            self.rd_pending.d.next = false;
            self.s1_valid.d.next = false;
            self.sg_valid.d.next = false;
            self.s2_valid.d.next = false;
            self.s3_valid.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::tests::key_bits;
    use evnic_model::filter::{Entry, FilterTable};
    use evnic_regs::key::{self, KeyBits};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Drives a Tcam with lookups every `gap` cycles (when set) and rewrites, and checks every
    /// answer is the model's against the table as before or after each rewrite, never a mix.
    /// A lookup's answer: the entry number and action of the hit, if any.
    type Answer = Option<(u16, u16)>;

    struct Bench<const N: usize, const P: usize> {
        uut: Tcam<N, P>,
        /// The table with every write done, and with the write in progress not yet.
        new: FilterTable,
        old: FilterTable,
        /// Lookups in flight: (cycles to go, answer of the old table, of the new).
        expect: Vec<(usize, Answer, Answer)>,
        results: usize,
        hits: usize,
        /// A lookup saw the new table: every later one must too.
        switched: bool,
    }

    fn hit(t: &FilterTable, k: &KeyBits) -> Option<(u16, u16)> {
        t.peek(k).map(|h| (h.index, h.action))
    }

    impl<const N: usize, const P: usize> Bench<N, P> {
        fn new() -> Self {
            let mut uut = Tcam::<N, P>::default();
            uut.connect_all();
            let mut b = Bench {
                uut,
                new: FilterTable::new(N),
                old: FilterTable::new(N),
                expect: vec![],
                results: 0,
                hits: 0,
                switched: true,
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
        /// One cycle: maybe a lookup (announced the cycle before with `soon`).
        fn cycle(&mut self, lookup: Option<KeyBits>, soon: bool) {
            let u = &mut self.uut;
            u.lk_valid.next = lookup.is_some();
            u.lk_key.next = key_bits(&lookup.unwrap_or_default());
            u.lk_soon.next = soon;
            if let Some(k) = lookup {
                self.expect
                    .push((LATENCY, hit(&self.old, &k), hit(&self.new, &k)));
            }
            assert!(simulate(&mut self.uut, 100));
            assert!(!self.uut.ram_collision.val());
            let due = self.expect.first().filter(|e| e.0 == 0).cloned();
            assert_eq!(self.uut.res_valid.val(), due.is_some());
            if let Some((_, old, new)) = due {
                let u = &self.uut;
                let got = u.res_hit.val().then(|| {
                    (
                        u.res_index.val().index() as u16,
                        u.res_action.val().to_u16(),
                    )
                });
                if got == new && (got != old || self.switched) {
                    self.switched = true;
                } else {
                    assert!(
                        !self.switched,
                        "lookup {} went back to the old table",
                        self.results
                    );
                    assert_eq!(
                        got, old,
                        "lookup {}: neither old {old:?} nor new {new:?}",
                        self.results
                    );
                }
                self.hits += got.is_some() as usize;
                self.expect.remove(0);
                self.results += 1;
            }
            self.clock();
            for e in self.expect.iter_mut() {
                e.0 -= 1;
            }
        }
        /// Starts writing entry `i` in the next cycle (with whatever lookup it carries).
        fn start_write(&mut self, i: usize, e: Entry) {
            assert!(!self.uut.busy.val());
            self.old = self.new.clone();
            self.new.write(i, e);
            self.switched = false;
            let u = &mut self.uut;
            u.wr_start.next = true;
            u.wr_index.next = (i as u64).into();
            u.wr_value.next = key_bits(&e.value);
            u.wr_mask.next = key_bits(&e.mask);
            u.wr_action.next = u64::from(e.action).into();
            u.wr_enable.next = e.enable;
        }
        fn write(&mut self, i: usize, e: Entry) {
            self.start_write(i, e);
            self.cycle(None, false);
            self.uut.wr_start.next = false;
        }
    }

    fn port_entry(port: u16, bits: u32, action: u16, enable: bool) -> Entry {
        let mut value = KeyBits::default();
        value.set(key::L4_DST, u128::from(port));
        let mut mask = KeyBits::default();
        mask.set(key::L4_DST, (0xffff_u128 << (16 - bits)) & 0xffff);
        Entry {
            value: value & mask,
            mask,
            enable,
            action,
        }
    }

    fn port_key(port: u16, ip: u32) -> KeyBits {
        let mut k = KeyBits::default();
        k.set(key::L4_DST, u128::from(port));
        k.set(key::DST_IP, u128::from(ip));
        k
    }

    #[test]
    fn rewrites_under_lookups_are_atomic_and_lookups_never_wait() {
        let mut r = ChaCha8Rng::seed_from_u64(77);
        let mut b = Bench::<8, 9>::new();
        let mut since = 0;
        let mut writes = 0;
        let mut busy_cycles = vec![];
        let mut start = 0;
        for cycle in 0..12_000usize {
            // A lookup every 5 cycles (the filter's rate), announced one cycle ahead.
            since += 1;
            let look = since == 5;
            if look {
                since = 0;
            }
            if !b.uut.busy.val() {
                if start > 0 {
                    busy_cycles.push(cycle - start);
                    start = 0;
                }
                if r.gen_bool(0.2) {
                    let e = port_entry(
                        r.gen_range(0..8),
                        r.gen_range(0..=16),
                        r.gen(),
                        r.gen_bool(0.8),
                    );
                    b.start_write(r.gen_range(0..8), e);
                    writes += 1;
                    start = cycle;
                }
            }
            let key = look.then(|| port_key(r.gen_range(0..8), r.gen()));
            b.cycle(key, since == 4);
            b.uut.wr_start.next = false;
        }
        assert!(writes >= 6, "{writes} rewrites");
        assert!(b.results > 2000 && b.hits > 500, "{} {}", b.results, b.hits);
        // A pass is 2^9 + 1 cycles; each lookup costs it 2 cycles.
        for c in &busy_cycles {
            assert!(*c <= REWRITE_CYCLES * 5 / 3 + 4, "busy {c}");
        }
        assert!(busy_cycles.iter().any(|c| *c >= REWRITE_CYCLES));
    }

    #[test]
    fn priority_disable_and_back_to_back_lookups() {
        let mut b = Bench::<32, 33>::new();
        // After reset nothing matches.
        b.cycle(Some(KeyBits::default()), false);
        for (i, e) in [
            (5, port_entry(319, 16, 0x0003, true)),
            (9, port_entry(0x100, 8, 0x4004, true)),
            (20, port_entry(0, 0, 0x8000, true)),
            (0, port_entry(0, 0, 0x0001, false)),
            (31, port_entry(7, 16, 0x0009, true)),
        ] {
            b.write(i, e);
            while b.uut.busy.val() {
                b.cycle(None, false);
            }
        }
        // Lookups every cycle (no rewrite running).
        for p in [319u16, 0x155, 0x255, 7, 319] {
            b.cycle(Some(port_key(p, 0)), true);
        }
        for _ in 0..LATENCY + 1 {
            b.cycle(None, false);
        }
        // Disable 20: immediate.
        b.write(20, port_entry(0, 0, 0x8000, false));
        assert!(!b.uut.busy.val());
        b.cycle(Some(port_key(0x255, 0)), false);
        for _ in 0..LATENCY + 1 {
            b.cycle(None, false);
        }
        assert_eq!((b.results, b.hits), (7, 5));
        // Reset disables everything.
        b.uut.reset.next = true;
        b.clock();
        b.uut.reset.next = false;
        b.new = FilterTable::new(32);
        b.old = b.new.clone();
        b.expect.clear();
        b.cycle(Some(port_key(319, 0)), false);
        for _ in 0..LATENCY + 1 {
            b.cycle(None, false);
        }
        assert_eq!((b.results, b.hits), (8, 5));
    }

    #[test]
    fn verilog_lints_clean() {
        let mut uut = Tcam::<32, 33>::default();
        uut.connect_all();
        let v = generate_verilog(&uut);
        if let Ok(dir) = std::env::var("EVNIC_VERILOG_DIR") {
            std::fs::write(format!("{dir}/tcam.v"), &v).unwrap();
        }
        crate::crc::tests::verilator_lint("tcam", &v);
    }
}
