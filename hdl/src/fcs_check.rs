//! The receive FCS checker: watches a 64-bit frame stream and flags each frame whose
//! Ethernet FCS (CRC-32, its last 4 bytes) is wrong.
//!
//! # Ports
//!
//! | port          | dir | width | meaning |
//! |---------------|-----|-------|---------|
//! | `clock`       | in  | clock | rising edge |
//! | `reset`       | in  | 1     | synchronous, active high: forget any frame in progress and any pending result |
//! | `in_data`     | in  | 64    | byte `i` is `in_data[8i+7:8i]`; byte 0 is first on the wire |
//! | `in_keep`     | in  | 8     | byte enables, contiguous from bit 0, all ones except possibly on the last beat |
//! | `in_valid`    | in  | 1     | the stream's valid |
//! | `in_ready`    | in  | 1     | the stream's ready (an input: the checker only observes; a beat transfers on `in_valid && in_ready`) |
//! | `in_last`     | in  | 1     | this beat is the frame's last |
//! | `out_valid`   | out | 1     | one-cycle pulse per frame: its check result is on `out_fcs_bad` |
//! | `out_fcs_bad` | out | 1     | with `out_valid`: the frame's FCS is wrong, or the frame is shorter than 4 bytes; 0 when `out_valid` is low |
//!
//! Each frame ends with its 4-byte FCS, least significant byte first (see [`crate::crc`]).
//! The FCS may straddle two beats (a last beat of 1..=3 bytes), so rather than separating it
//! from the payload the checker runs the CRC-32 over every byte of the frame, FCS included,
//! and compares the finished result with the residue [`CRC32_RESIDUE`] (0x2144DF1C, the raw
//! register 0xDEBB20E3 before xorout), which a frame with a correct FCS always produces.
//! A frame of fewer than 4 bytes (a single beat with `in_keep[3]` clear) is reported bad.
//!
//! # Timing (cycles)
//!
//! * The frame's last beat transfers at rising edge `N`; `out_valid` is high during cycle
//!   `N+1` only (latency 1), with `out_fcs_bad`. `out_valid` is registered; `out_fcs_bad` is
//!   a 32-bit compare of registered values.
//! * It never stalls the stream (it has no ready output): the next frame's first beat may
//!   transfer at edge `N+1`, and frames of a single beat may follow each other every cycle,
//!   giving one result per cycle.
//! * `reset` at edge `N`: no `out_valid` in cycle `N+1`, and the next beat transferred
//!   starts a new frame.

use crate::crc::{CrcEngine, CRC32_RESIDUE};
use rust_hdl::prelude::*;

/// Checks the FCS of each frame of a 64-bit stream. See the module documentation.
#[derive(LogicBlock)]
pub struct FcsCheck {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub in_data: Signal<In, Bits<64>>,
    pub in_keep: Signal<In, Bits<8>>,
    pub in_valid: Signal<In, Bit>,
    pub in_ready: Signal<In, Bit>,
    pub in_last: Signal<In, Bit>,
    pub out_valid: Signal<Out, Bit>,
    pub out_fcs_bad: Signal<Out, Bit>,
    engine: CrcEngine,
    /// A frame is in progress: the next beat is not a first beat.
    in_frame: DFF<Bit>,
    /// The last beat of a frame transferred at the previous edge.
    done: DFF<Bit>,
    /// That frame had fewer than 4 bytes.
    too_short: DFF<Bit>,
    /// A beat transfers this cycle.
    fire: Signal<Local, Bit>,
    residue: Constant<Bits<32>>,
}

impl Default for FcsCheck {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            in_data: Default::default(),
            in_keep: Default::default(),
            in_valid: Default::default(),
            in_ready: Default::default(),
            in_last: Default::default(),
            out_valid: Default::default(),
            out_fcs_bad: Default::default(),
            engine: CrcEngine::crc32(),
            in_frame: Default::default(),
            done: Default::default(),
            too_short: Default::default(),
            fire: Default::default(),
            residue: Constant::new((CRC32_RESIDUE as u64).into()),
        }
    }
}

impl Logic for FcsCheck {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, in_frame, done, too_short);
        self.engine.clock.next = self.clock.val();
        self.fire.next = self.in_valid.val() & self.in_ready.val();
        // The CRC engine sees every transferred byte, the FCS included.
        self.engine.reset.next = self.reset.val();
        self.engine.start.next = !self.in_frame.q.val();
        self.engine.valid.next = self.fire.val();
        self.engine.data.next = self.in_data.val();
        self.engine.keep.next = self.in_keep.val();
        self.done.d.next = false;
        if self.fire.val() {
            self.in_frame.d.next = !self.in_last.val();
            self.done.d.next = self.in_last.val();
            // Only a frame of a single beat can be shorter than 4 bytes.
            self.too_short.d.next = !self.in_frame.q.val() & !self.in_keep.val().get_bit(3);
        }
        if self.reset.val() {
            self.in_frame.d.next = false;
            self.done.d.next = false;
        }
        // The engine's registered CRC is the frame's during the cycle after its last beat,
        // even if the next frame's first beat is being absorbed in that cycle.
        self.out_valid.next = self.done.q.val();
        self.out_fcs_bad.next = self.done.q.val()
            & (self.too_short.q.val() | (self.engine.crc.val() != self.residue.val()));
    }
}
