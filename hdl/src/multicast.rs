//! `Multicast`: the event protocol handler. It takes events from every producer, in round
//! robin, and hands each to the event engine once per destination queue: a group event goes to
//! every VI subscribed to the group, lowest VI first; a VI event to that VI.
//!
//! # Ports
//! - `cycles` in: timestamps for the events made here
//! - register side `rd`, `wr`, `addr`, `wdata` in, `ack`, `nak`, `rdata` out: the group pages
//!   (`MEMBERS`, `PERMIT`, `SUBSCRIBE`, `LISTEN`, counters) and every VI page's `INDICATE`
//!   doorbell and `INDICATE_REFUSED`
//! - producers with packed records (`s{timer,rx,tx}_valid`, `_ready` out, `_to_group`,
//!   `_target` VI or group, `_record` from [`crate::event_pack::EventPack`])
//! - device-space input `dsi_valid`, `dsi_ready` out, `dsi_group`, `dsi_payload`
//! - to the engine: `out_valid`, `out_ready` in, `out_vi`, `out_record`
//! - device-space output `dso_valid`, `dso_kind`, `dso_group`, `dso_source`, `dso_payload`: one
//!   pulse per group event whose group is set in `LISTEN`, whether or not a VI subscribes
//! - `ram_collision` out: OR of the RAMs' collision flags (never set; see [`crate::ram`])
//! - `ready` out: the summaries are cleared (low for 2^`GB` cycles after `reset`); the core's
//!   `STATUS.READY` includes it
//!
//! # State in RAM
//! - member bitmaps: one RAM of 32-bit words, `2^WB` words per group (word `w` = VIs
//!   `32w..32w+31`), and a group summary (one RAM word per group, one bit per member word:
//!   "this word is non-empty"), cleared in 2^`GB` cycles after reset. A member word counts only
//!   while its summary bit is set, so the member RAM itself needs no clearing. (The summary was
//!   packed 16 groups to a word to clear in 16 cycles; the fan-out then chose the group's lane
//!   out of the word between the RAM and the walker's decision.)
//! - permission bitmaps: one RAM of 32-bit words, `2^PB` per VI, and the per-VI refused counters;
//!   a VI summary (16 words deep) holds, per VI, a "written since reset" bit per permission word
//!   and one for the refused counter.
//! - the listener mask (`2^LB` words) and the indication queue ([`RamFifo`], 512 entries).
//!
//! # Contract
//! Each producer's events reach each queue in the order produced, and every event of a group
//! reaches a subscribed queue in the same order in every queue: events are granted one at a
//! time and their copies leave in grant order. An indication doorbell is checked against the
//! VI's permission for the group when it is written, then queued (512 deep; a full queue counts
//! `OVERRUNS`); a refused indication becomes an ERROR event (IndicationRefused, aux = group) to
//! that VI alone and counts in its `INDICATE_REFUSED`. A group event with no subscriber counts in
//! `NO_MEMBERS`. `SUBSCRIBE` with a group or VI out of range, and writes to the counters, are
//! refused (`nak`, a bus error). A group's member words are read one after the other while its
//! event fans out: a `SUBSCRIBE` that completes during the fan-out may or may not reach that
//! event; every event granted after it does.
//!
//! # Timing
//! - A producer's event offered in cycle t is granted at t when the fan-out can take it. A VI
//!   event, or a group event whose members include one of VIs 0..31, offers its first copy to
//!   the engine at t+1; a group whose lowest member is in a higher word at t+2. Then one copy
//!   per cycle: an event for N queues occupies the output N cycles, and the next event follows
//!   without a gap (the next group's first word is read while the last copy of the previous one
//!   goes out).
//! - An indication doorbell strobed in cycle t into an empty indication queue is offered to
//!   the arbiter at t, as if allowed (its permission is read at t and known at t+1): granted at
//!   t, its first copy goes out at t+1. A refused one is cancelled at t+1 before any copy (no
//!   member copy, device-port pulse or `NO_MEMBERS` count) and queued as refused. A doorbell
//!   that is not granted at t, or finds the queue non-empty, is queued at t+1 and offered at
//!   t+2, so doorbells keep their order.
//! - Register accesses: counters and doorbells answer in the strobe cycle; `MEMBERS`, `PERMIT`,
//!   `SUBSCRIBE`, `LISTEN` reads and `INDICATE_REFUSED` one cycle later (`LISTEN` writes at
//!   once). They take the RAM ports before the fan-out, which pauses for those cycles. In the
//!   2^`GB` cycles after reset (the summaries clearing) an access waits.
//!
//! # What changed from the flip-flop version
//! Member, permission and listener bitmaps, the refused counters and the indication queue
//! moved to RAM; the register map grew to 256 groups (`MEMBERS`/`PERMIT` word arrays, `LISTEN`
//! words); the permission of an indication is checked at the doorbell, not at the head of the
//! queue; a group whose lowest member is past VI 31 reaches the engine one cycle later (t+2);
//! register reads of the bitmaps answer one cycle later;
//! refusals are `nak`s (at once) instead of timeouts.

use crate::event_pack::EventPack;
use crate::konst;
use crate::ram::{ClearedRam, Ram};
use crate::ram_fifo::RamFifo;
use crate::regbus::ADDR_BITS;
use evnic_regs::event::{flags, w0, w1, ErrorCode, EventType, SOURCE_NONE};
use evnic_regs::map::{group as gr, vi, VI_PAGE_BASE};
use rust_hdl::prelude::*;

/// Bits to index `n` things.
pub const fn index_bits(n: u32) -> usize {
    let n = if n < 2 { 2 } else { n };
    (32 - (n - 1).leading_zeros()) as usize
}
const fn at_least_1(n: usize) -> usize {
    if n == 0 {
        1
    } else {
        n
    }
}

const CORE_GB: usize = index_bits(evnic_regs::params::NUM_GROUPS);
const CORE_VB: usize = index_bits(evnic_regs::params::NUM_VIS);
const CORE_WB: usize = at_least_1(CORE_VB.saturating_sub(5));
const CORE_PB: usize = at_least_1(CORE_GB.saturating_sub(5));

/// The multicast at the core's parameters (`evnic_regs::params`).
pub type CoreMulticast = Multicast<
    CORE_GB,
    CORE_VB,
    CORE_WB,
    { 1 << CORE_WB },
    { CORE_GB + CORE_WB },
    CORE_PB,
    { CORE_VB + CORE_PB },
    { 2 << CORE_PB },
    { (1 << (CORE_VB - 4)) * (2 << CORE_PB) },
    CORE_PB,
    ADDR_BITS,
>;

/// Bits of the indication queue's RAM address.
const IQ_BITS: usize = 9;
/// Bits of an indication queue entry: VI 8, group 8, payload 24, timestamp 40, allowed 1.
const IQ_W: usize = 81;

/// The multicast for `2^GB` groups and `2^VB` VIs (at most; the counts themselves are
/// `num_groups`/`num_vis` given to [`Multicast::new`]). The other parameters follow from those
/// two: `WB` = max(1, VB - 5) member words per group (log2), `WPG` = 2^WB, `MA` = GB + WB,
/// `PB` = max(1, GB - 5) permission words per VI (log2), `PA` = VB + PB, `VEW` = 2^(PB+1) bits
/// per VI in the VI summary, `VW` = 2^(VB-4) * VEW the VI summary's words,
/// `LB` = max(1, GB - 5) listener words (log2). [`Multicast::new`] checks them.
#[derive(LogicBlock)]
pub struct Multicast<
    const GB: usize,
    const VB: usize,
    const WB: usize,
    const WPG: usize,
    const MA: usize,
    const PB: usize,
    const PA: usize,
    const VEW: usize,
    const VW: usize,
    const LB: usize,
    const AB: usize,
> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub cycles: Signal<In, Bits<64>>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<AB>>,
    pub wdata: Signal<In, Bits<32>>,
    pub ack: Signal<Out, Bit>,
    pub nak: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<32>>,

    pub stimer_valid: Signal<In, Bit>,
    pub stimer_ready: Signal<Out, Bit>,
    pub stimer_to_group: Signal<In, Bit>,
    pub stimer_target: Signal<In, Bits<8>>,
    pub stimer_record: Signal<In, Bits<128>>,
    pub srx_valid: Signal<In, Bit>,
    pub srx_ready: Signal<Out, Bit>,
    pub srx_to_group: Signal<In, Bit>,
    pub srx_target: Signal<In, Bits<8>>,
    pub srx_record: Signal<In, Bits<128>>,
    pub stx_valid: Signal<In, Bit>,
    pub stx_ready: Signal<Out, Bit>,
    pub stx_to_group: Signal<In, Bit>,
    pub stx_target: Signal<In, Bits<8>>,
    pub stx_record: Signal<In, Bits<128>>,

    pub dsi_valid: Signal<In, Bit>,
    pub dsi_ready: Signal<Out, Bit>,
    pub dsi_group: Signal<In, Bits<8>>,
    pub dsi_payload: Signal<In, Bits<32>>,

    pub out_valid: Signal<Out, Bit>,
    pub out_ready: Signal<In, Bit>,
    pub out_vi: Signal<Out, Bits<8>>,
    pub out_record: Signal<Out, Bits<128>>,

    pub dso_valid: Signal<Out, Bit>,
    pub dso_kind: Signal<Out, Bits<4>>,
    pub dso_group: Signal<Out, Bits<8>>,
    pub dso_source: Signal<Out, Bits<16>>,
    pub dso_payload: Signal<Out, Bits<32>>,

    pub ram_collision: Signal<Out, Bit>,
    pub ready: Signal<Out, Bit>,

    // ---- RAMs.
    mram: Ram<Bits<32>, MA>,
    gsum: ClearedRam<WPG, GB>,
    listen: ClearedRam<32, LB>,
    pram: Ram<Bits<32>, PA>,
    vsum: ClearedRam<VW, 4>,
    refused: Ram<Bits<32>, VB>,
    iq: RamFifo<IQ_W, IQ_BITS>,

    // ---- Flops.
    no_members: DFF<Bits<32>>,
    port_events: DFF<Bits<32>>,
    overruns: DFF<Bits<32>>,
    /// A register access is waiting for the RAMs to be ready.
    op_wait: DFF<Bit>,
    op_write: DFF<Bit>,
    /// Second cycle of a register access that read a RAM.
    op_p1: DFF<Bit>,
    /// The doorbell stage: a doorbell whose permission was read in the previous cycle.
    d1_valid: DFF<Bit>,
    d1_vi: DFF<Bits<8>>,
    d1_group: DFF<Bits<8>>,
    d1_payload: DFF<Bits<24>>,
    d1_ts: DFF<Bits<40>>,
    /// The doorbell in the stage was granted in its strobe cycle (the fast path): it is not
    /// queued if allowed, and its fan-out is cancelled if refused.
    d1_fast: DFF<Bit>,
    /// `cancel` of the previous cycle: the refused fast doorbell's words still in the walker
    /// and the emitter are dropped now.
    cancel_q: DFF<Bit>,
    last_grant: DFF<Bits<3>>,
    /// The walker: the job whose member words are being read.
    w_valid: DFF<Bit>,
    /// First cycle of a group job: its summary is the group summary RAM's output.
    w_fresh: DFF<Bit>,
    /// A VI job (one copy, to `w_vi`).
    w_vi_job: DFF<Bit>,
    w_group: DFF<Bits<GB>>,
    w_vi: DFF<Bits<8>>,
    w_spec0: DFF<Bit>,
    w_pending: DFF<Bits<WPG>>,
    w_record: DFF<Bits<128>>,
    /// The walker's job is a fast doorbell's (cancelled if it turns out refused).
    w_fast: DFF<Bit>,
    /// The emitter: one member word (the member RAM's output, or `e_saved`), its copies going
    /// out one per cycle.
    e_valid: DFF<Bit>,
    e_word: DFF<Bits<WB>>,
    e_use_saved: DFF<Bit>,
    e_saved: DFF<Bits<32>>,
    e_done: DFF<Bits<32>>,
    e_record: DFF<Bits<128>>,
    /// The emitter's word is a fast doorbell's.
    e_fast: DFF<Bit>,

    pack: EventPack,

    // ---- Locals: register decode.
    page: Signal<Local, Bits<AB>>,
    word: Signal<Local, Bits<10>>,
    vi_of_page: Signal<Local, Bits<AB>>,
    vi_page_num: Signal<Local, Bits<8>>,
    in_vi_page: Signal<Local, Bit>,
    strobe: Signal<Local, Bit>,
    is_wr: Signal<Local, Bit>,
    in_members: Signal<Local, Bit>,
    m_index: Signal<Local, Bits<AB>>,
    m_reg_addr: Signal<Local, Bits<AB>>,
    m_group: Signal<Local, Bits<AB>>,
    m_word: Signal<Local, Bits<AB>>,
    m_base: Signal<Local, Bits<16>>,
    m_vis_left: Signal<Local, Bits<16>>,
    m_mask: Signal<Local, Bits<32>>,
    in_permit: Signal<Local, Bit>,
    p_index: Signal<Local, Bits<AB>>,
    p_reg_addr: Signal<Local, Bits<AB>>,
    p_vi: Signal<Local, Bits<AB>>,
    p_word: Signal<Local, Bits<AB>>,
    p_base: Signal<Local, Bits<16>>,
    p_groups_left: Signal<Local, Bits<16>>,
    p_mask: Signal<Local, Bits<32>>,
    in_listen: Signal<Local, Bit>,
    l_word: Signal<Local, Bits<AB>>,
    l_base: Signal<Local, Bits<16>>,
    l_groups_left: Signal<Local, Bits<16>>,
    l_mask: Signal<Local, Bits<32>>,
    ctrl_off: Signal<Local, Bits<AB>>,
    is_subscribe: Signal<Local, Bit>,
    is_counter: Signal<Local, Bit>,
    is_indicate: Signal<Local, Bit>,
    is_refused: Signal<Local, Bit>,
    sub_group: Signal<Local, Bits<8>>,
    sub_vi: Signal<Local, Bits<8>>,
    sub_ok: Signal<Local, Bit>,
    sub_bit: Signal<Local, Bits<32>>,
    sub_mword: Signal<Local, Bits<8>>,
    ind_pword: Signal<Local, Bits<8>>,
    ram_op: Signal<Local, Bit>,
    refuse: Signal<Local, Bit>,
    p0: Signal<Local, Bit>,
    /// The VI whose summary entry the access reads (permission, doorbell or refused count).
    acc_vi: Signal<Local, Bits<8>>,
    /// The group whose summary entry the access reads (members or subscribe).
    acc_group: Signal<Local, Bits<8>>,
    /// The member word it reads or writes.
    acc_mword: Signal<Local, Bits<8>>,
    acc_maddr: Signal<Local, Bits<MA>>,
    acc_paddr: Signal<Local, Bits<PA>>,
    acc_pword: Signal<Local, Bits<8>>,
    // Summary words of the access (the group's; a VI's lane of its VI summary word).
    gs_word_valid: Signal<Local, Bit>,
    gs_new_word: Signal<Local, Bits<WPG>>,
    vs_off: Signal<Local, Bits<16>>,
    vs_lane: Signal<Local, Bits<VEW>>,
    vs_new_lane: Signal<Local, Bits<VEW>>,
    vs_lane_mask: Signal<Local, Bits<VW>>,
    vs_ins_narrow: Signal<Local, Bits<VW>>,
    vs_ins: Signal<Local, Bits<VW>>,
    old_member: Signal<Local, Bits<32>>,
    new_member: Signal<Local, Bits<32>>,
    // Which RAM ports the register side takes this cycle.
    reg_mram: Signal<Local, Bit>,
    reg_gsum: Signal<Local, Bit>,
    reg_listen: Signal<Local, Bit>,

    // ---- Locals: indication.
    d1_vs_off: Signal<Local, Bits<16>>,
    d1_lane: Signal<Local, Bits<VEW>>,
    d1_pword: Signal<Local, Bits<8>>,
    d1_allowed: Signal<Local, Bit>,
    d1_refused_old: Signal<Local, Bits<32>>,
    d1_lane_new: Signal<Local, Bits<VEW>>,
    d1_push: Signal<Local, Bit>,
    iq_room: Signal<Local, Bit>,
    h_vi: Signal<Local, Bits<8>>,
    h_group: Signal<Local, Bits<8>>,
    h_payload: Signal<Local, Bits<24>>,
    h_ts: Signal<Local, Bits<40>>,
    h_allowed: Signal<Local, Bit>,
    /// A doorbell in its strobe cycle that may go to the arbiter at once: the queue is empty
    /// and its group exists (its permission is known only next cycle).
    fast_req: Signal<Local, Bit>,
    /// `fast_req` granted: the strobed doorbell goes straight to the fan-out.
    fast_grant: Signal<Local, Bit>,
    /// A doorbell's fields, from the register write (queued or on the fast path).
    db_group: Signal<Local, Bits<8>>,
    db_payload: Signal<Local, Bits<24>>,
    /// The fast doorbell granted in the previous cycle was refused: its copy is held off the
    /// output and its device-port pulse and `NO_MEMBERS` count dropped in this cycle (the
    /// job's first), its words dropped in the next (`cancel_q`), and it is queued as refused.
    /// (Only the output is gated in this cycle, so the permission read does not reach the
    /// fan-out control and the grant.)
    cancel: Signal<Local, Bit>,
    /// The emitter has a copy for the output (before the cancel gate).
    e_has: Signal<Local, Bit>,

    // ---- Locals: arbiter.
    req: Signal<Local, Bits<5>>,
    masked: Signal<Local, Bits<5>>,
    pick_from: Signal<Local, Bits<5>>,
    pick_neg: Signal<Local, Bits<5>>,
    /// The round robin's choice, granted if `can_grant`: what the grant would take.
    pick: Signal<Local, Bits<5>>,
    grant: Signal<Local, Bits<5>>,
    can_grant: Signal<Local, Bit>,
    load: Signal<Local, Bit>,
    sel_to_group: Signal<Local, Bit>,
    sel_target: Signal<Local, Bits<8>>,
    sel_record: Signal<Local, Bits<128>>,
    sel_target9: Signal<Local, Bits<9>>,
    sel_in_range: Signal<Local, Bit>,
    sel_group: Signal<Local, Bits<GB>>,

    // ---- Locals: walker and emitter.
    /// The group summary RAM's output: read by the register side in phase 1 and by the
    /// walker in a job's first cycle.
    summary: Signal<Local, Bits<WPG>>,
    pend_now: Signal<Local, Bits<WPG>>,
    pend_low: Signal<Local, Bits<WPG>>,
    pend_neg: Signal<Local, Bits<WPG>>,
    pend_rest: Signal<Local, Bits<WPG>>,
    pend_idx: Signal<Local, Bits<WB>>,
    walk_issue: Signal<Local, Bit>,
    w_free_next: Signal<Local, Bit>,
    e_src: Signal<Local, Bits<32>>,
    e_kill: Signal<Local, Bit>,
    e_bits: Signal<Local, Bits<32>>,
    e_neg: Signal<Local, Bits<32>>,
    e_low: Signal<Local, Bits<32>>,
    e_rest: Signal<Local, Bits<32>>,
    e_idx: Signal<Local, Bits<5>>,
    taking: Signal<Local, Bit>,
    e_free: Signal<Local, Bit>,
    walk_can: Signal<Local, Bit>,
    spec: Signal<Local, Bit>,
    direct_vi: Signal<Local, Bit>,
    vi_bit: Signal<Local, Bits<32>>,
    w_vi_bit: Signal<Local, Bits<32>>,

    // ---- Constants.
    members_base: Constant<Bits<AB>>,
    members_end: Constant<Bits<AB>>,
    permit_base: Constant<Bits<AB>>,
    permit_end: Constant<Bits<AB>>,
    listen_base: Constant<Bits<AB>>,
    listen_end: Constant<Bits<AB>>,
    ctrl_base: Constant<Bits<AB>>,
    c_subscribe: Constant<Bits<AB>>,
    c_no_members: Constant<Bits<AB>>,
    c_port_events: Constant<Bits<AB>>,
    c_overruns: Constant<Bits<AB>>,
    /// log2 of the register map's words per group / per VI (may be 0), and the word masks.
    m_rwb: Constant<Bits<8>>,
    m_rmask: Constant<Bits<AB>>,
    p_rwb: Constant<Bits<8>>,
    p_rmask: Constant<Bits<AB>>,
    c_wb: Constant<Bits<8>>,
    c_wmask8: Constant<Bits<8>>,
    c_pmask8: Constant<Bits<8>>,
    c_pb: Constant<Bits<8>>,
    c_vew_log2: Constant<Bits<8>>,
    /// VIs per VI-summary word (minus one), and the shift to the word.
    vs_lane_sel: Constant<Bits<8>>,
    vs_word_shift: Constant<Bits<8>>,
    vs_lane_ones: Constant<Bits<VW>>,
    /// Bit of the refused-counter flag in a VI summary entry (`2^PB`).
    c_refused_flag: Constant<Bits<8>>,
    vi_page0: Constant<Bits<AB>>,
    num_vis_ab: Constant<Bits<AB>>,
    w_indicate: Constant<Bits<10>>,
    w_refused: Constant<Bits<10>>,
    num_vis: Constant<Bits<9>>,
    num_groups: Constant<Bits<9>>,
    num_vis16: Constant<Bits<16>>,
    num_groups16: Constant<Bits<16>>,
    iq_depth: Constant<Bits<16>>,
    k_indication: Constant<Bits<4>>,
    k_error: Constant<Bits<4>>,
    e_refused: Constant<Bits<32>>,
    f_device_port: Constant<Bits<8>>,
    source_none: Constant<Bits<16>>,
    sh_kind: Constant<Bits<8>>,
    sh_source: Constant<Bits<8>>,
    sh_group: Constant<Bits<8>>,
    sh_payload: Constant<Bits<8>>,
    /// Masks of the bits of a one-hot 32-bit value whose index has bit k set (k = 0..5), and the
    /// same over the `WPG` member words.
    idx_mask: [Constant<Bits<32>>; 5],
    widx_mask: [Constant<Bits<WPG>>; 3],
}

impl<
        const GB: usize,
        const VB: usize,
        const WB: usize,
        const WPG: usize,
        const MA: usize,
        const PB: usize,
        const PA: usize,
        const VEW: usize,
        const VW: usize,
        const LB: usize,
        const AB: usize,
    > Multicast<GB, VB, WB, WPG, MA, PB, PA, VEW, VW, LB, AB>
{
    /// A multicast for `num_groups` groups and `num_vis` VIs; its register decode follows the
    /// layout of `evnic_regs::map::group` for those counts (the core's are the defaults).
    pub fn new(num_groups: u32, num_vis: u32) -> Self {
        assert!(
            (4..=8).contains(&GB) && (4..=8).contains(&VB),
            "16..256 groups and VIs"
        );
        assert!(num_groups <= 1 << GB && num_groups > 1 << (GB - 1));
        assert!(num_vis <= 1 << VB && num_vis > 1 << (VB - 1));
        assert_eq!(WB, VB.saturating_sub(5).max(1));
        assert_eq!(WPG, 1 << WB);
        assert_eq!(MA, GB + WB);
        assert_eq!(PB, GB.saturating_sub(5).max(1));
        assert_eq!(PA, VB + PB);
        assert_eq!(VEW, 2 << PB);
        assert_eq!(VW, (1 << (VB - 4)) * VEW);
        assert_eq!(LB, PB);
        assert!(AB >= 17 && (VI_PAGE_BASE as u64 + ((num_vis as u64) << 12)) <= 1 << AB);
        // The register map's word counts (powers of two, at least 1).
        let m_words = num_vis.div_ceil(32).next_power_of_two();
        let p_words = num_groups.div_ceil(32).next_power_of_two();
        assert!(m_words <= WPG as u32 && p_words <= 1 << PB);
        let members_end = gr::MEMBERS_BASE + num_groups * m_words * 4;
        let permit_end = gr::PERMIT_BASE + num_vis * p_words * 4;
        assert!(members_end <= gr::PERMIT_BASE && permit_end <= evnic_regs::map::TIMER_PAGE_BASE);
        let ones = |n: usize| -> u64 { (1u64 << n) - 1 };
        Multicast {
            clock: Default::default(),
            reset: Default::default(),
            cycles: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            ack: Default::default(),
            nak: Default::default(),
            rdata: Default::default(),
            stimer_valid: Default::default(),
            stimer_ready: Default::default(),
            stimer_to_group: Default::default(),
            stimer_target: Default::default(),
            stimer_record: Default::default(),
            srx_valid: Default::default(),
            srx_ready: Default::default(),
            srx_to_group: Default::default(),
            srx_target: Default::default(),
            srx_record: Default::default(),
            stx_valid: Default::default(),
            stx_ready: Default::default(),
            stx_to_group: Default::default(),
            stx_target: Default::default(),
            stx_record: Default::default(),
            dsi_valid: Default::default(),
            dsi_ready: Default::default(),
            dsi_group: Default::default(),
            dsi_payload: Default::default(),
            out_valid: Default::default(),
            out_ready: Default::default(),
            out_vi: Default::default(),
            out_record: Default::default(),
            dso_valid: Default::default(),
            dso_kind: Default::default(),
            dso_group: Default::default(),
            dso_source: Default::default(),
            dso_payload: Default::default(),
            ram_collision: Default::default(),
            ready: Default::default(),
            mram: Default::default(),
            gsum: Default::default(),
            listen: Default::default(),
            pram: Default::default(),
            vsum: Default::default(),
            refused: Default::default(),
            iq: Default::default(),
            no_members: Default::default(),
            port_events: Default::default(),
            overruns: Default::default(),
            op_wait: Default::default(),
            op_write: Default::default(),
            op_p1: Default::default(),
            d1_valid: Default::default(),
            d1_vi: Default::default(),
            d1_group: Default::default(),
            d1_payload: Default::default(),
            d1_ts: Default::default(),
            d1_fast: Default::default(),
            cancel_q: Default::default(),
            last_grant: Default::default(),
            w_valid: Default::default(),
            w_fresh: Default::default(),
            w_vi_job: Default::default(),
            w_group: Default::default(),
            w_vi: Default::default(),
            w_spec0: Default::default(),
            w_pending: Default::default(),
            w_record: Default::default(),
            w_fast: Default::default(),
            e_valid: Default::default(),
            e_word: Default::default(),
            e_use_saved: Default::default(),
            e_saved: Default::default(),
            e_done: Default::default(),
            e_record: Default::default(),
            e_fast: Default::default(),
            pack: Default::default(),
            page: Default::default(),
            word: Default::default(),
            vi_of_page: Default::default(),
            vi_page_num: Default::default(),
            in_vi_page: Default::default(),
            strobe: Default::default(),
            is_wr: Default::default(),
            in_members: Default::default(),
            m_index: Default::default(),
            m_reg_addr: Default::default(),
            m_group: Default::default(),
            m_word: Default::default(),
            m_base: Default::default(),
            m_vis_left: Default::default(),
            m_mask: Default::default(),
            in_permit: Default::default(),
            p_index: Default::default(),
            p_reg_addr: Default::default(),
            p_vi: Default::default(),
            p_word: Default::default(),
            p_base: Default::default(),
            p_groups_left: Default::default(),
            p_mask: Default::default(),
            in_listen: Default::default(),
            l_word: Default::default(),
            l_base: Default::default(),
            l_groups_left: Default::default(),
            l_mask: Default::default(),
            ctrl_off: Default::default(),
            is_subscribe: Default::default(),
            is_counter: Default::default(),
            is_indicate: Default::default(),
            is_refused: Default::default(),
            sub_group: Default::default(),
            sub_vi: Default::default(),
            sub_ok: Default::default(),
            sub_bit: Default::default(),
            sub_mword: Default::default(),
            ind_pword: Default::default(),
            ram_op: Default::default(),
            refuse: Default::default(),
            p0: Default::default(),
            acc_vi: Default::default(),
            acc_group: Default::default(),
            acc_mword: Default::default(),
            acc_maddr: Default::default(),
            acc_paddr: Default::default(),
            acc_pword: Default::default(),
            gs_word_valid: Default::default(),
            gs_new_word: Default::default(),
            vs_off: Default::default(),
            vs_lane: Default::default(),
            vs_new_lane: Default::default(),
            vs_lane_mask: Default::default(),
            vs_ins_narrow: Default::default(),
            vs_ins: Default::default(),
            old_member: Default::default(),
            new_member: Default::default(),
            reg_mram: Default::default(),
            reg_gsum: Default::default(),
            reg_listen: Default::default(),
            d1_vs_off: Default::default(),
            d1_lane: Default::default(),
            d1_pword: Default::default(),
            d1_allowed: Default::default(),
            d1_refused_old: Default::default(),
            d1_lane_new: Default::default(),
            d1_push: Default::default(),
            iq_room: Default::default(),
            h_vi: Default::default(),
            h_group: Default::default(),
            h_payload: Default::default(),
            h_ts: Default::default(),
            h_allowed: Default::default(),
            fast_req: Default::default(),
            fast_grant: Default::default(),
            db_group: Default::default(),
            db_payload: Default::default(),
            cancel: Default::default(),
            e_has: Default::default(),
            req: Default::default(),
            masked: Default::default(),
            pick_from: Default::default(),
            pick_neg: Default::default(),
            pick: Default::default(),
            grant: Default::default(),
            can_grant: Default::default(),
            load: Default::default(),
            sel_to_group: Default::default(),
            sel_target: Default::default(),
            sel_record: Default::default(),
            sel_target9: Default::default(),
            sel_in_range: Default::default(),
            sel_group: Default::default(),
            summary: Default::default(),
            pend_now: Default::default(),
            pend_low: Default::default(),
            pend_neg: Default::default(),
            pend_rest: Default::default(),
            pend_idx: Default::default(),
            walk_issue: Default::default(),
            w_free_next: Default::default(),
            e_src: Default::default(),
            e_kill: Default::default(),
            e_bits: Default::default(),
            e_neg: Default::default(),
            e_low: Default::default(),
            e_rest: Default::default(),
            e_idx: Default::default(),
            taking: Default::default(),
            e_free: Default::default(),
            walk_can: Default::default(),
            spec: Default::default(),
            direct_vi: Default::default(),
            vi_bit: Default::default(),
            w_vi_bit: Default::default(),
            members_base: konst(u64::from(gr::MEMBERS_BASE)),
            members_end: konst(u64::from(members_end)),
            permit_base: konst(u64::from(gr::PERMIT_BASE)),
            permit_end: konst(u64::from(permit_end)),
            listen_base: konst(u64::from(gr::LISTEN_BASE)),
            listen_end: konst(u64::from(gr::LISTEN_BASE + p_words * 4)),
            ctrl_base: konst(u64::from(gr::CONTROL_PAGE.base)),
            c_subscribe: konst(u64::from(gr::SUBSCRIBE.offset)),
            c_no_members: konst(u64::from(gr::NO_MEMBERS.offset)),
            c_port_events: konst(u64::from(gr::PORT_EVENTS.offset)),
            c_overruns: konst(u64::from(gr::OVERRUNS.offset)),
            m_rwb: konst::<8>(m_words.trailing_zeros() as u64),
            m_rmask: konst(u64::from(m_words - 1)),
            p_rwb: konst::<8>(p_words.trailing_zeros() as u64),
            p_rmask: konst(u64::from(p_words - 1)),
            c_wb: konst::<8>(WB as u64),
            c_wmask8: konst::<8>(ones(WB)),
            c_pmask8: konst::<8>(ones(PB)),
            c_pb: konst::<8>(PB as u64),
            c_vew_log2: konst::<8>((PB + 1) as u64),
            vs_lane_sel: konst::<8>(ones(VB - 4)),
            vs_word_shift: konst::<8>((VB - 4) as u64),
            vs_lane_ones: Constant::new(ones(VEW).into()),
            c_refused_flag: konst::<8>(1 << PB),
            vi_page0: Constant::new(((VI_PAGE_BASE >> 12) as u64).into()),
            num_vis_ab: Constant::new((num_vis as u64).into()),
            w_indicate: Constant::new((vi::INDICATE.word() as u64).into()),
            w_refused: Constant::new((vi::INDICATE_REFUSED.word() as u64).into()),
            num_vis: Constant::new((num_vis as u64).into()),
            num_groups: Constant::new((num_groups as u64).into()),
            num_vis16: Constant::new((num_vis as u64).into()),
            num_groups16: Constant::new((num_groups as u64).into()),
            iq_depth: Constant::new((gr::INDICATION_QUEUE_DEPTH as u64).into()),
            k_indication: Constant::new((EventType::Indication as u64).into()),
            k_error: Constant::new((EventType::Error as u64).into()),
            e_refused: Constant::new((ErrorCode::IndicationRefused as u64).into()),
            f_device_port: konst::<8>(flags::FROM_DEVICE_PORT as u64),
            source_none: Constant::new((SOURCE_NONE as u64).into()),
            sh_kind: konst::<8>(w0::TYPE.0 as u64),
            sh_source: konst::<8>(w0::SOURCE.0 as u64),
            sh_group: konst::<8>(64 + w1::GROUP.0 as u64),
            sh_payload: konst::<8>(w0::PAYLOAD.0 as u64),
            idx_mask: array_init::array_init(|k| {
                Constant::new(
                    (0..32u64)
                        .filter(|i| i >> k & 1 == 1)
                        .fold(0u64, |m, i| m | 1 << i)
                        .into(),
                )
            }),
            widx_mask: array_init::array_init(|k| {
                Constant::new(
                    (0..WPG as u64)
                        .filter(|i| i >> k & 1 == 1)
                        .fold(0u64, |m, i| m | 1 << i)
                        .into(),
                )
            }),
        }
    }
}

impl Default for CoreMulticast {
    fn default() -> Self {
        Self::new(evnic_regs::params::NUM_GROUPS, evnic_regs::params::NUM_VIS)
    }
}

impl<
        const GB: usize,
        const VB: usize,
        const WB: usize,
        const WPG: usize,
        const MA: usize,
        const PB: usize,
        const PA: usize,
        const VEW: usize,
        const VW: usize,
        const LB: usize,
        const AB: usize,
    > Logic for Multicast<GB, VB, WB, WPG, MA, PB, PA, VEW, VW, LB, AB>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            no_members,
            port_events,
            overruns,
            op_wait,
            op_write,
            op_p1,
            d1_valid,
            d1_vi,
            d1_group,
            d1_payload,
            d1_ts,
            d1_fast,
            cancel_q,
            last_grant,
            w_valid,
            w_fresh,
            w_vi_job,
            w_group,
            w_vi,
            w_spec0,
            w_pending,
            w_record,
            w_fast,
            e_valid,
            e_word,
            e_use_saved,
            e_saved,
            e_done,
            e_record,
            e_fast
        );
        self.mram.clock.next = self.clock.val();
        self.gsum.clock.next = self.clock.val();
        self.gsum.reset.next = self.reset.val();
        self.listen.clock.next = self.clock.val();
        self.listen.reset.next = self.reset.val();
        self.pram.clock.next = self.clock.val();
        self.vsum.clock.next = self.clock.val();
        self.vsum.reset.next = self.reset.val();
        self.refused.clock.next = self.clock.val();
        self.iq.clock.next = self.clock.val();
        self.iq.reset.next = self.reset.val();
        self.ram_collision.next = self.mram.collision.val()
            | self.gsum.collision.val()
            | self.listen.collision.val()
            | self.pram.collision.val()
            | self.vsum.collision.val()
            | self.refused.collision.val()
            | self.iq.collision.val();
        self.ready.next = self.gsum.ready.val()
            & self.listen.ready.val()
            & self.vsum.ready.val()
            & !self.reset.val();

        self.summary.next = self.gsum.rd_data.val();

        // ================= Register decode (addr and wdata are held until the answer).
        self.page.next = self.addr.val() >> 12;
        self.word.next = self.addr.val().get_bits::<10>(2);
        self.vi_of_page.next = self.page.val() - self.vi_page0.val();
        self.vi_page_num.next = bit_cast::<8, AB>(self.vi_of_page.val());
        self.in_vi_page.next = (self.page.val() >= self.vi_page0.val())
            & (self.vi_of_page.val() < self.num_vis_ab.val());
        self.strobe.next = self.rd.val() | self.wr.val();
        // The access kind: the strobe's, or the one latched while it waits.
        self.is_wr.next = self.op_write.q.val();
        if self.strobe.val() {
            self.is_wr.next = self.wr.val();
        }

        self.in_members.next = (self.addr.val() >= self.members_base.val())
            & (self.addr.val() < self.members_end.val());
        self.m_index.next = (self.addr.val() - self.members_base.val()) >> 2;
        self.m_group.next = self.m_index.val() >> self.m_rwb.val();
        self.m_word.next = self.m_index.val() & self.m_rmask.val();
        self.m_reg_addr.next = (self.m_group.val() << self.c_wb.val()) | self.m_word.val();
        // Bits of VIs that exist in this word.
        self.m_base.next = bit_cast::<16, AB>(self.m_word.val()) << 5;
        self.m_vis_left.next = self.num_vis16.val() - self.m_base.val();
        self.m_mask.next = !bits::<32>(0);
        if self.m_base.val() >= self.num_vis16.val() {
            self.m_mask.next = 0.into();
        } else if self.m_vis_left.val() < 32 {
            self.m_mask.next = (bits::<32>(1) << self.m_vis_left.val()) - 1;
        }
        self.in_permit.next =
            (self.addr.val() >= self.permit_base.val()) & (self.addr.val() < self.permit_end.val());
        self.p_index.next = (self.addr.val() - self.permit_base.val()) >> 2;
        self.p_vi.next = self.p_index.val() >> self.p_rwb.val();
        self.p_word.next = self.p_index.val() & self.p_rmask.val();
        self.p_reg_addr.next = (self.p_vi.val() << self.c_pb.val()) | self.p_word.val();
        self.p_base.next = bit_cast::<16, AB>(self.p_word.val()) << 5;
        self.p_groups_left.next = self.num_groups16.val() - self.p_base.val();
        self.p_mask.next = !bits::<32>(0);
        if self.p_base.val() >= self.num_groups16.val() {
            self.p_mask.next = 0.into();
        } else if self.p_groups_left.val() < 32 {
            self.p_mask.next = (bits::<32>(1) << self.p_groups_left.val()) - 1;
        }
        self.in_listen.next =
            (self.addr.val() >= self.listen_base.val()) & (self.addr.val() < self.listen_end.val());
        self.l_word.next = (self.addr.val() - self.listen_base.val()) >> 2;
        self.l_base.next = bit_cast::<16, AB>(self.l_word.val()) << 5;
        self.l_groups_left.next = self.num_groups16.val() - self.l_base.val();
        self.l_mask.next = !bits::<32>(0);
        if self.l_base.val() >= self.num_groups16.val() {
            self.l_mask.next = 0.into();
        } else if self.l_groups_left.val() < 32 {
            self.l_mask.next = (bits::<32>(1) << self.l_groups_left.val()) - 1;
        }
        self.ctrl_off.next = self.addr.val() - self.ctrl_base.val();
        self.is_subscribe.next = self.ctrl_off.val() == self.c_subscribe.val();
        self.is_counter.next = (self.ctrl_off.val() == self.c_no_members.val())
            | (self.ctrl_off.val() == self.c_port_events.val())
            | (self.ctrl_off.val() == self.c_overruns.val());
        self.is_indicate.next = self.in_vi_page.val() & (self.word.val() == self.w_indicate.val());
        self.is_refused.next = self.in_vi_page.val() & (self.word.val() == self.w_refused.val());
        self.db_group.next = self.wdata.val().get_bits::<8>(0);
        self.db_payload.next = self.wdata.val().get_bits::<24>(8);
        self.sub_group.next = self.wdata.val().get_bits::<8>(0);
        self.sub_vi.next = self.wdata.val().get_bits::<8>(8);
        self.sub_ok.next = (bit_cast::<9, 8>(self.sub_group.val()) < self.num_groups.val())
            & (bit_cast::<9, 8>(self.sub_vi.val()) < self.num_vis.val());
        self.sub_bit.next = bits::<32>(1) << self.sub_vi.val().get_bits::<5>(0);
        self.sub_mword.next =
            bit_cast::<8, 3>(self.sub_vi.val().get_bits::<3>(5)) & self.c_wmask8.val();
        self.ind_pword.next =
            bit_cast::<8, 3>(self.wdata.val().get_bits::<3>(5)) & self.c_pmask8.val();

        // Accesses through the RAMs (all but the counters), and the ones refused at once.
        self.ram_op.next = self.in_members.val()
            | self.in_permit.val()
            | self.in_listen.val()
            | (self.is_subscribe.val() & self.is_wr.val() & self.sub_ok.val())
            | (self.is_indicate.val() & self.is_wr.val())
            | (self.is_refused.val() & !self.is_wr.val());
        self.refuse.next = (self.is_subscribe.val() & self.wr.val() & !self.sub_ok.val())
            | (self.is_counter.val() & self.wr.val())
            | (self.is_refused.val() & self.wr.val());
        // Phase 0 of a RAM access: in its strobe cycle, or when the RAMs become ready.
        self.p0.next =
            self.ready.val() & ((self.strobe.val() & self.ram_op.val()) | self.op_wait.q.val());
        if self.strobe.val() {
            self.op_write.d.next = self.wr.val();
        }
        if self.strobe.val() & self.ram_op.val() & !self.ready.val() {
            self.op_wait.d.next = true;
        }
        if self.p0.val() {
            self.op_wait.d.next = false;
        }
        self.op_p1.d.next =
            self.p0.val() & !(self.is_indicate.val() | (self.in_listen.val() & self.is_wr.val()));

        // The entry each access touches.
        self.acc_vi.next = bit_cast::<8, AB>(self.p_vi.val());
        self.acc_pword.next = bit_cast::<8, AB>(self.p_word.val());
        self.acc_paddr.next = bit_cast::<PA, AB>(self.p_reg_addr.val());
        if self.is_indicate.val() | self.is_refused.val() {
            self.acc_vi.next = self.vi_page_num.val();
            self.acc_pword.next = self.ind_pword.val();
            self.acc_paddr.next = bit_cast::<PA, 8>(self.vi_page_num.val()) << self.c_pb.val()
                | bit_cast::<PA, 8>(self.ind_pword.val());
        }
        self.acc_group.next = bit_cast::<8, AB>(self.m_group.val());
        self.acc_mword.next = bit_cast::<8, AB>(self.m_word.val());
        self.acc_maddr.next = bit_cast::<MA, AB>(self.m_reg_addr.val());
        if self.is_subscribe.val() {
            self.acc_group.next = self.sub_group.val();
            self.acc_mword.next = self.sub_mword.val();
            self.acc_maddr.next = bit_cast::<MA, 8>(self.sub_group.val()) << self.c_wb.val()
                | bit_cast::<MA, 8>(self.sub_mword.val());
        }
        // Group summary word of the access (read in phase 0).
        self.gs_word_valid.next = self.summary.val().get_bit(self.acc_mword.val().index());
        self.old_member.next = 0.into();
        if self.gs_word_valid.val() {
            self.old_member.next = self.mram.rd_data.val();
        }
        if self.is_subscribe.val() {
            if self.wdata.val().get_bit(31) {
                self.new_member.next = self.old_member.val() | self.sub_bit.val();
            } else {
                self.new_member.next = self.old_member.val() & !self.sub_bit.val();
            }
        } else {
            self.new_member.next = self.wdata.val() & self.m_mask.val();
        }
        self.gs_new_word.next = self
            .summary
            .val()
            .replace_bit(self.acc_mword.val().index(), self.new_member.val() != 0);
        // VI summary lane of the access (or of the doorbell stage, below).
        self.vs_off.next =
            bit_cast::<16, 8>(self.acc_vi.val() & self.vs_lane_sel.val()) << self.c_vew_log2.val();
        self.vs_lane.next = self
            .vsum
            .rd_data
            .val()
            .get_bits::<VEW>(self.vs_off.val().index());
        self.vs_new_lane.next = self
            .vs_lane
            .val()
            .replace_bit(self.acc_pword.val().index(), true);

        // ---- RAM ports for the register side (the fan-out sets them below when these are
        // idle). Phase 0 reads, phase 1 writes.
        self.ack.next = false;
        self.nak.next = self.refuse.val();
        self.rdata.next = 0.into();
        self.reg_mram.next = false;
        self.reg_gsum.next = false;
        self.reg_listen.next = false;
        self.mram.rd_en.next = false;
        self.mram.rd_addr.next = self.acc_maddr.val();
        self.mram.wr_en.next = false;
        self.mram.wr_addr.next = self.acc_maddr.val();
        self.mram.wr_data.next = self.new_member.val();
        self.gsum.rd_en.next = false;
        self.gsum.rd_addr.next = bit_cast::<GB, 8>(self.acc_group.val());
        self.gsum.wr_en.next = false;
        self.gsum.wr_addr.next = bit_cast::<GB, 8>(self.acc_group.val());
        self.gsum.wr_data.next = self.gs_new_word.val();
        self.listen.rd_en.next = false;
        self.listen.rd_addr.next = bit_cast::<LB, AB>(self.l_word.val());
        self.listen.wr_en.next = false;
        self.listen.wr_addr.next = bit_cast::<LB, AB>(self.l_word.val());
        self.listen.wr_data.next = self.wdata.val() & self.l_mask.val();
        self.pram.rd_en.next = false;
        self.pram.rd_addr.next = self.acc_paddr.val();
        self.pram.wr_en.next = false;
        self.pram.wr_addr.next = self.acc_paddr.val();
        self.pram.wr_data.next = self.wdata.val() & self.p_mask.val();
        self.vsum.rd_en.next = false;
        self.vsum.rd_addr.next = bit_cast::<4, 8>(self.acc_vi.val() >> self.vs_word_shift.val());
        self.vsum.wr_en.next = false;
        self.vsum.wr_addr.next = bit_cast::<4, 8>(self.acc_vi.val() >> self.vs_word_shift.val());
        self.vs_lane_mask.next = self.vs_lane_ones.val() << self.vs_off.val();
        self.vs_ins_narrow.next = bit_cast::<VW, VEW>(self.vs_new_lane.val());
        self.vs_ins.next = self.vs_ins_narrow.val() << self.vs_off.val();
        self.vsum.wr_data.next =
            (self.vsum.rd_data.val() & !self.vs_lane_mask.val()) | self.vs_ins.val();
        self.refused.rd_en.next = false;
        self.refused.rd_addr.next = bit_cast::<VB, 8>(self.acc_vi.val());
        self.refused.wr_en.next = false;
        self.refused.wr_addr.next = bit_cast::<VB, 8>(self.d1_vi.q.val());

        // Counters live in flops: answered in the strobe cycle.
        if self.rd.val() & self.is_counter.val() {
            self.ack.next = true;
            if self.ctrl_off.val() == self.c_no_members.val() {
                self.rdata.next = self.no_members.q.val();
            }
            if self.ctrl_off.val() == self.c_port_events.val() {
                self.rdata.next = self.port_events.q.val();
            }
            if self.ctrl_off.val() == self.c_overruns.val() {
                self.rdata.next = self.overruns.q.val();
            }
        }
        if self.p0.val() {
            if self.in_members.val() | self.is_subscribe.val() {
                self.reg_gsum.next = true;
                self.gsum.rd_en.next = true;
                if !self.is_wr.val() | self.is_subscribe.val() {
                    self.reg_mram.next = true;
                    self.mram.rd_en.next = true;
                }
            }
            if self.in_listen.val() {
                self.reg_listen.next = true;
                if self.is_wr.val() {
                    self.listen.wr_en.next = true;
                    self.ack.next = true;
                } else {
                    self.listen.rd_en.next = true;
                }
            }
            if self.in_permit.val() | self.is_indicate.val() | self.is_refused.val() {
                self.vsum.rd_en.next = true;
                if !self.is_wr.val() | self.is_indicate.val() {
                    self.pram.rd_en.next = true;
                }
                if self.is_indicate.val() | self.is_refused.val() {
                    self.refused.rd_en.next = true;
                }
            }
            if self.is_indicate.val() {
                // The doorbell is taken now; its permission is checked next cycle.
                self.ack.next = true;
                self.d1_valid.d.next = true;
                self.d1_vi.d.next = self.vi_page_num.val();
                self.d1_group.d.next = self.db_group.val();
                self.d1_payload.d.next = self.db_payload.val();
                self.d1_ts.d.next = self.cycles.val().get_bits::<40>(0);
            }
        }
        if self.op_p1.q.val() {
            self.ack.next = true;
            if self.in_members.val() | self.is_subscribe.val() {
                if self.is_wr.val() {
                    self.reg_gsum.next = true;
                    self.reg_mram.next = true;
                    self.mram.wr_en.next = true;
                    self.gsum.wr_en.next = true;
                } else {
                    self.rdata.next = self.old_member.val();
                }
            }
            if self.in_listen.val() {
                self.rdata.next = self.listen.rd_data.val();
            }
            if self.in_permit.val() {
                if self.is_wr.val() {
                    self.pram.wr_en.next = true;
                    self.vsum.wr_en.next = true;
                } else if self.vs_lane.val().get_bit(self.acc_pword.val().index()) {
                    self.rdata.next = self.pram.rd_data.val();
                }
            }
            if self.is_refused.val()
                & self
                    .vs_lane
                    .val()
                    .get_bit(self.c_refused_flag.val().index())
            {
                self.rdata.next = self.refused.rd_data.val();
            }
        }

        // ================= The doorbell stage: permission, refusal count, queue.
        // (The bus strobes nothing in this cycle: the next access comes 2 cycles after the
        // doorbell at the earliest, so the RAMs read in phase 0 still hold its entries.)
        if self.d1_valid.q.val() {
            self.d1_valid.d.next = false;
        }
        self.d1_vs_off.next =
            bit_cast::<16, 8>(self.d1_vi.q.val() & self.vs_lane_sel.val()) << self.c_vew_log2.val();
        self.d1_lane.next = self
            .vsum
            .rd_data
            .val()
            .get_bits::<VEW>(self.d1_vs_off.val().index());
        self.d1_pword.next = (self.d1_group.q.val() >> 5) & self.c_pmask8.val();
        self.d1_allowed.next = (bit_cast::<9, 8>(self.d1_group.q.val()) < self.num_groups.val())
            & self.d1_lane.val().get_bit(self.d1_pword.val().index())
            & self
                .pram
                .rd_data
                .val()
                .get_bit(self.d1_group.q.val().get_bits::<5>(0).index());
        self.d1_refused_old.next = 0.into();
        if self
            .d1_lane
            .val()
            .get_bit(self.c_refused_flag.val().index())
        {
            self.d1_refused_old.next = self.refused.rd_data.val();
        }
        self.d1_lane_new.next = self
            .d1_lane
            .val()
            .replace_bit(self.c_refused_flag.val().index(), true);
        self.iq_room.next = self.iq.count.val() != self.iq_depth.val();
        // A doorbell granted in its strobe cycle and allowed is on its way already.
        self.cancel.next = self.d1_fast.q.val() & !self.d1_allowed.val();
        self.cancel_q.d.next = self.cancel.val();
        self.d1_push.next = self.d1_valid.q.val()
            & self.iq_room.val()
            & !(self.d1_fast.q.val() & self.d1_allowed.val());
        if self.d1_valid.q.val() & !self.iq_room.val() {
            self.overruns.d.next = self.overruns.q.val() + 1;
        }
        self.refused.wr_data.next = self.d1_refused_old.val() + 1;
        if self.d1_push.val() & !self.d1_allowed.val() {
            self.refused.wr_en.next = true;
            self.vsum.wr_en.next = true;
            self.vsum.wr_addr.next =
                bit_cast::<4, 8>(self.d1_vi.q.val() >> self.vs_word_shift.val());
            self.vsum.wr_data.next = (self.vsum.rd_data.val()
                & !(self.vs_lane_ones.val() << self.d1_vs_off.val()))
                | (bit_cast::<VW, VEW>(self.d1_lane_new.val()) << self.d1_vs_off.val());
        }
        self.iq.push_valid.next = self.d1_push.val();
        self.iq.push_data.next = bit_cast::<IQ_W, 8>(self.d1_vi.q.val())
            | (bit_cast::<IQ_W, 8>(self.d1_group.q.val()) << 8)
            | (bit_cast::<IQ_W, 24>(self.d1_payload.q.val()) << 16)
            | (bit_cast::<IQ_W, 40>(self.d1_ts.q.val()) << 40)
            | (bit_cast::<IQ_W, 1>(self.d1_allowed.val().into()) << 80);
        // The queue's head.
        self.h_vi.next = self.iq.head_data.val().get_bits::<8>(0);
        self.h_group.next = self.iq.head_data.val().get_bits::<8>(8);
        self.h_payload.next = self.iq.head_data.val().get_bits::<24>(16);
        self.h_ts.next = self.iq.head_data.val().get_bits::<40>(40);
        self.h_allowed.next = self.iq.head_data.val().get_bit(80);
        // The fast path: a doorbell strobed now, into an empty queue, offered to the arbiter
        // in its strobe cycle as the queue's head would be, taken to be allowed.
        self.fast_req.next = self.wr.val()
            & self.is_indicate.val()
            & self.ready.val()
            & !self.op_wait.q.val()
            & !self.d1_valid.q.val()
            & (self.iq.count.val() == 0)
            & (bit_cast::<9, 8>(self.db_group.val()) < self.num_groups.val());
        if self.fast_req.val() {
            self.h_vi.next = self.vi_page_num.val();
            self.h_group.next = self.db_group.val();
            self.h_payload.next = self.db_payload.val();
            self.h_ts.next = self.cycles.val().get_bits::<40>(0);
            self.h_allowed.next = true;
        }

        // ================= Round robin over the producers: 0 indication, 1 device port,
        // 2 timer, 3 rx, 4 tx.
        self.req.next = bit_cast::<5, 1>((self.iq.head_valid.val() | self.fast_req.val()).into())
            | (bit_cast::<5, 1>(self.dsi_valid.val().into()) << 1)
            | (bit_cast::<5, 1>(self.stimer_valid.val().into()) << 2)
            | (bit_cast::<5, 1>(self.srx_valid.val().into()) << 3)
            | (bit_cast::<5, 1>(self.stx_valid.val().into()) << 4);
        self.masked.next = self.req.val() & !((bits::<5>(2) << self.last_grant.q.val()) - 1);
        if self.masked.val() != 0 {
            self.pick_from.next = self.masked.val();
        } else {
            self.pick_from.next = self.req.val();
        }
        self.pick_neg.next = !self.pick_from.val() + 1;
        self.pick.next = self.pick_from.val() & self.pick_neg.val();

        // ================= Emitter: one member word, lowest VI first.
        if self.e_use_saved.q.val() {
            self.e_src.next = self.e_saved.q.val();
        } else {
            self.e_src.next = self.mram.rd_data.val();
        }
        // Word 0, read at the grant before the summary was known, counts only if the summary
        // says it holds members (the member RAM is not cleared after reset).
        self.e_kill.next = (self.w_valid.q.val()
            & self.w_fresh.q.val()
            & self.w_spec0.q.val()
            & !self.summary.val().get_bit(0))
            | (self.cancel_q.q.val() & self.e_fast.q.val());
        self.e_bits.next = self.e_src.val() & !self.e_done.q.val();
        if self.e_kill.val() {
            self.e_bits.next = 0.into();
        }
        self.e_neg.next = !self.e_bits.val() + 1;
        self.e_low.next = self.e_bits.val() & self.e_neg.val();
        self.e_rest.next = self.e_bits.val() & !self.e_low.val();
        self.e_idx.next = 0.into();
        for k in 0..5 {
            if (self.e_low.val() & self.idx_mask[k].val()) != 0 {
                self.e_idx.next = self.e_idx.val().replace_bit(k, true);
            }
        }
        self.e_has.next = self.e_valid.q.val() & (self.e_bits.val() != 0);
        self.out_valid.next = self.e_has.val() & !(self.cancel.val() & self.e_fast.q.val());
        self.out_vi.next =
            (bit_cast::<8, WB>(self.e_word.q.val()) << 5) | bit_cast::<8, 5>(self.e_idx.val());
        self.out_record.next = self.e_record.q.val();
        // A copy held off by `cancel` counts as taken here: the word is dropped next cycle.
        self.taking.next = self.e_has.val() & self.out_ready.val();
        self.e_free.next = !self.e_valid.q.val()
            | (self.e_bits.val() == 0)
            | (self.taking.val() & (self.e_rest.val() == 0));
        // The member RAM's read port is free for the fan-out when the emitter's word is done
        // and the register side does not take it.
        self.walk_can.next = self.e_free.val() & !self.reg_mram.val();

        // ================= Walker: reads the job's non-empty member words one per cycle.
        if self.w_fresh.q.val() {
            if self.w_spec0.q.val() {
                self.pend_now.next = self.summary.val() & !bits::<WPG>(1);
            } else {
                self.pend_now.next = self.summary.val();
            }
        } else {
            self.pend_now.next = self.w_pending.q.val();
        }
        if self.cancel_q.q.val() & self.w_fast.q.val() {
            self.pend_now.next = 0.into();
        }
        self.pend_neg.next = !self.pend_now.val() + 1;
        self.pend_low.next = self.pend_now.val() & self.pend_neg.val();
        self.pend_rest.next = self.pend_now.val() & !self.pend_low.val();
        self.pend_idx.next = 0.into();
        for k in 0..WB {
            if (self.pend_low.val() & self.widx_mask[k].val()) != 0 {
                self.pend_idx.next = self.pend_idx.val().replace_bit(k, true);
            }
        }
        self.w_vi_bit.next = bits::<32>(1) << self.w_vi.q.val().get_bits::<5>(0);
        self.walk_issue.next = false;
        self.w_free_next.next = true;
        if self.w_valid.q.val() {
            if self.w_vi_job.q.val() {
                self.walk_issue.next = self.e_free.val();
                self.w_free_next.next = self.e_free.val();
            } else {
                self.walk_issue.next = self.walk_can.val() & (self.pend_now.val() != 0);
                if self.walk_issue.val() {
                    self.w_free_next.next = self.pend_rest.val() == 0;
                } else {
                    self.w_free_next.next = self.pend_now.val() == 0;
                }
            }
        }
        // Group summary at the job's first cycle: nobody, and the device port.
        self.dso_valid.next = false;
        if self.w_valid.q.val() & self.w_fresh.q.val() {
            if (self.summary.val() == 0) & !self.cancel.val() {
                self.no_members.d.next = self.no_members.q.val() + 1;
            }
            self.dso_valid.next = !self.cancel.val()
                & self
                    .listen
                    .rd_data
                    .val()
                    .get_bit(bit_cast::<5, GB>(self.w_group.q.val()).index());
        }
        self.dso_kind.next = self
            .w_record
            .q
            .val()
            .get_bits::<4>(self.sh_kind.val().index());
        self.dso_group.next = self
            .w_record
            .q
            .val()
            .get_bits::<8>(self.sh_group.val().index());
        self.dso_source.next = self
            .w_record
            .q
            .val()
            .get_bits::<16>(self.sh_source.val().index());
        self.dso_payload.next = self
            .w_record
            .q
            .val()
            .get_bits::<32>(self.sh_payload.val().index());
        if self.w_valid.q.val() {
            self.w_fresh.d.next = false;
            self.w_pending.d.next = self.pend_now.val();
            if self.walk_issue.val() {
                self.w_pending.d.next = self.pend_rest.val();
            }
            if self.w_free_next.val() {
                self.w_valid.d.next = false;
            }
        }

        // ================= Grant.
        self.can_grant.next = self.ready.val()
            & self.w_free_next.val()
            & !self.reg_mram.val()
            & !self.reg_gsum.val()
            & !self.reg_listen.val();
        if self.can_grant.val() {
            self.grant.next = self.pick.val();
        } else {
            self.grant.next = 0.into();
        }
        self.load.next = self.grant.val() != 0;
        // What the picked producer offers: the record (the indication or device-port one from
        // one pack for both), the target and its range check. They follow the pick, not the
        // grant, so that they settle while the walker decides whether the grant happens (they
        // count only with `load`).
        if self.pick.val().get_bit(1) {
            self.pack.timestamp.next = self.cycles.val();
            self.pack.kind.next = self.k_indication.val();
            self.pack.flags.next = self.f_device_port.val();
            self.pack.source.next = self.source_none.val();
            self.pack.has_group.next = true;
            self.pack.group.next = self.dsi_group.val();
            self.pack.payload.next = self.dsi_payload.val();
            self.pack.aux.next = 0.into();
        } else {
            self.pack.timestamp.next = bit_cast::<64, 40>(self.h_ts.val());
            self.pack.flags.next = 0.into();
            self.pack.source.next = bit_cast::<16, 8>(self.h_vi.val());
            self.pack.group.next = self.h_group.val();
            self.pack.has_group.next = self.h_allowed.val();
            self.pack.kind.next = self.k_indication.val();
            self.pack.payload.next = bit_cast::<32, 24>(self.h_payload.val());
            self.pack.aux.next = 0.into();
            if !self.h_allowed.val() {
                self.pack.kind.next = self.k_error.val();
                self.pack.payload.next = self.e_refused.val();
                self.pack.aux.next = bit_cast::<16, 8>(self.h_group.val());
            }
        }
        self.sel_to_group.next = false;
        self.sel_target.next = 0.into();
        self.sel_record.next = 0.into();
        if self.pick.val().get_bit(0) {
            self.sel_to_group.next = self.h_allowed.val();
            if self.h_allowed.val() {
                self.sel_target.next = self.h_group.val();
            } else {
                self.sel_target.next = self.h_vi.val();
            }
            self.sel_record.next = self.pack.record.val();
        }
        if self.pick.val().get_bit(1) {
            self.sel_to_group.next = true;
            self.sel_target.next = self.dsi_group.val();
            self.sel_record.next = self.pack.record.val();
        }
        if self.pick.val().get_bit(2) {
            self.sel_to_group.next = self.stimer_to_group.val();
            self.sel_target.next = self.stimer_target.val();
            self.sel_record.next = self.stimer_record.val();
        }
        if self.pick.val().get_bit(3) {
            self.sel_to_group.next = self.srx_to_group.val();
            self.sel_target.next = self.srx_target.val();
            self.sel_record.next = self.srx_record.val();
        }
        if self.pick.val().get_bit(4) {
            self.sel_to_group.next = self.stx_to_group.val();
            self.sel_target.next = self.stx_target.val();
            self.sel_record.next = self.stx_record.val();
        }
        self.sel_target9.next = bit_cast::<9, 8>(self.sel_target.val());
        if self.sel_to_group.val() {
            self.sel_in_range.next = self.sel_target9.val() < self.num_groups.val();
        } else {
            self.sel_in_range.next = self.sel_target9.val() < self.num_vis.val();
        }
        self.sel_group.next = bit_cast::<GB, 8>(self.sel_target.val());
        self.dsi_ready.next = self.grant.val().get_bit(1);
        self.stimer_ready.next = self.grant.val().get_bit(2);
        self.srx_ready.next = self.grant.val().get_bit(3);
        self.stx_ready.next = self.grant.val().get_bit(4);
        self.fast_grant.next = self.grant.val().get_bit(0) & self.fast_req.val();
        self.iq.pop.next = self.grant.val().get_bit(0) & !self.fast_req.val();
        self.d1_fast.d.next = self.fast_grant.val();
        if self.grant.val().get_bit(1) {
            self.port_events.d.next = self.port_events.q.val() + 1;
        }
        if self.load.val() {
            self.last_grant.d.next = 0.into();
            if self.grant.val().get_bit(1) {
                self.last_grant.d.next = 1.into();
            }
            if self.grant.val().get_bit(2) {
                self.last_grant.d.next = 2.into();
            }
            if self.grant.val().get_bit(3) {
                self.last_grant.d.next = 3.into();
            }
            if self.grant.val().get_bit(4) {
                self.last_grant.d.next = 4.into();
            }
        }
        // The group summary and listener word of the picked target are read in every cycle the
        // register side leaves those RAMs alone (a grant needs that): the read made in the
        // grant's cycle is the one the walker looks at in the next, and the RAM address does
        // not wait for the grant. (Reading while the summary clears would be a collision.)
        if self.ready.val() & !self.reg_gsum.val() {
            self.gsum.rd_en.next = true;
            self.gsum.rd_addr.next = bit_cast::<GB, 8>(self.sel_target.val());
        }
        if self.ready.val() & !self.reg_listen.val() {
            self.listen.rd_en.next = true;
            self.listen.rd_addr.next = bit_cast::<LB, 8>(self.sel_target.val() >> 5);
        }
        // The first member word is read at the grant when the port is free (its lowest VIs
        // then go out next cycle), and a VI event goes straight to the emitter.
        self.spec.next = self.load.val()
            & self.sel_to_group.val()
            & self.sel_in_range.val()
            & self.walk_can.val()
            & !self.walk_issue.val();
        self.direct_vi.next = self.load.val()
            & !self.sel_to_group.val()
            & self.sel_in_range.val()
            & self.e_free.val()
            & !self.walk_issue.val();
        self.vi_bit.next = bits::<32>(1) << self.sel_target.val().get_bits::<5>(0);
        if self.load.val() & self.sel_in_range.val() {
            if self.sel_to_group.val() {
                self.w_valid.d.next = true;
                self.w_fresh.d.next = true;
                self.w_vi_job.d.next = false;
                self.w_group.d.next = self.sel_group.val();
                self.w_spec0.d.next = self.spec.val();
                self.w_record.d.next = self.sel_record.val();
                self.w_fast.d.next = self.fast_grant.val();
            } else if !self.direct_vi.val() {
                self.w_valid.d.next = true;
                self.w_fresh.d.next = false;
                self.w_vi_job.d.next = true;
                self.w_vi.d.next = self.sel_target.val();
                self.w_record.d.next = self.sel_record.val();
                self.w_fast.d.next = false;
            }
        }
        if self.load.val() & self.sel_to_group.val() & !self.sel_in_range.val() {
            self.no_members.d.next = self.no_members.q.val() + 1;
        }

        // ================= The emitter's next word.
        if self.e_free.val() {
            self.e_valid.d.next = false;
        } else {
            if self.taking.val() {
                self.e_done.d.next = self.e_done.q.val() | self.e_low.val();
            }
            // The register side reads the member RAM: keep this word in flops.
            if self.reg_mram.val() & !self.e_use_saved.q.val() {
                self.e_use_saved.d.next = true;
                self.e_saved.d.next = self.mram.rd_data.val();
            }
        }
        if self.walk_issue.val() {
            self.e_valid.d.next = true;
            self.e_done.d.next = 0.into();
            self.e_record.d.next = self.w_record.q.val();
            self.e_fast.d.next = self.w_fast.q.val();
            if self.w_vi_job.q.val() {
                self.e_use_saved.d.next = true;
                self.e_saved.d.next = self.w_vi_bit.val();
                self.e_word.d.next = bit_cast::<WB, 3>(self.w_vi.q.val().get_bits::<3>(5));
            } else {
                self.e_use_saved.d.next = false;
                self.e_word.d.next = self.pend_idx.val();
                self.mram.rd_en.next = true;
                self.mram.rd_addr.next = bit_cast::<MA, GB>(self.w_group.q.val())
                    << self.c_wb.val()
                    | bit_cast::<MA, WB>(self.pend_idx.val());
            }
        }
        if self.spec.val() {
            self.e_valid.d.next = true;
            self.e_done.d.next = 0.into();
            self.e_record.d.next = self.sel_record.val();
            self.e_fast.d.next = self.fast_grant.val();
            self.e_use_saved.d.next = false;
            self.e_word.d.next = 0.into();
            self.mram.rd_en.next = true;
            self.mram.rd_addr.next = bit_cast::<MA, GB>(self.sel_group.val()) << self.c_wb.val();
        }
        if self.direct_vi.val() {
            self.e_valid.d.next = true;
            self.e_done.d.next = 0.into();
            self.e_record.d.next = self.sel_record.val();
            self.e_fast.d.next = false;
            self.e_use_saved.d.next = true;
            self.e_saved.d.next = self.vi_bit.val();
            self.e_word.d.next = bit_cast::<WB, 3>(self.sel_target.val().get_bits::<3>(5));
        }

        if self.reset.val() {
            self.no_members.d.next = 0.into();
            self.port_events.d.next = 0.into();
            self.overruns.d.next = 0.into();
            self.op_wait.d.next = false;
            self.op_p1.d.next = false;
            self.d1_valid.d.next = false;
            self.d1_fast.d.next = false;
            self.cancel_q.d.next = false;
            self.last_grant.d.next = 0.into();
            self.w_valid.d.next = false;
            self.e_valid.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests;
