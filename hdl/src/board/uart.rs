//! Asynchronous serial (UART) receiver and transmitter, 8 data bits, no parity, 1 stop bit
//! (8N1), least significant bit first, line idle high. The bit time is a whole number of clock
//! cycles fixed at construction (`cycles_per_bit`, at least 4): 104 for 115200 baud from a
//! 12 MHz clock (0.16% fast, well inside the ±2% a 10-bit frame tolerates).
//!
//! # `UartRx` ports
//! - `clock`; `reset`: synchronous, active high: back to waiting for a start bit
//! - `rxd` (in): the serial line, asynchronous to `clock` (synchronised by two flip-flops)
//! - `valid` (out): a one-cycle pulse per byte whose stop bit was high, with `data`
//! - `data` (out, 8): the byte (held until the next one)
//! - `frame_err` (out): a one-cycle pulse per frame whose stop bit was low (the byte is
//!   discarded); after it the receiver waits for the line to go high again, so a held-low line
//!   (a break) gives one error, not one per bit time
//!
//! # `UartRx` timing
//! The line is sampled in the middle of each bit: `cycles_per_bit / 2` cycles after the
//! synchronised falling edge of the start bit (which must still be low there, else it was a
//! glitch and is ignored), then every `cycles_per_bit` cycles. `valid` or `frame_err` pulses
//! 3 cycles after the middle of the stop bit is sampled (two synchroniser stages, one output
//! register), about 9.5 bit times after the start edge; the receiver is ready for the next
//! start bit from the middle of the stop bit on, so back-to-back frames are received.
//!
//! # `UartTx` ports
//! - `clock`; `reset`: synchronous, active high: abandon a frame, line high
//! - `data` (in, 8), `valid` (in), `ready` (out): a byte is taken when `valid && ready`
//! - `txd` (out): the serial line, registered (no glitches), high when idle
//!
//! # `UartTx` timing
//! A byte taken at edge `N` starts its start bit on `txd` after edge `N+1`; the frame is
//! 10 bit times; `ready` rises again in the last cycle of the stop bit, so a byte offered then
//! follows with no idle time (back to back at the line rate).

use rust_hdl::prelude::*;

/// Bits of the bit-time counters: bit times up to 65536 cycles (9600 baud from 600 MHz).
const COUNT_BITS: usize = 16;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
enum RxState {
    Idle,
    Start,
    Data,
    Stop,
    Break,
}

/// The 8N1 receiver. See the module documentation.
#[derive(LogicBlock)]
pub struct UartRx {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rxd: Signal<In, Bit>,
    pub valid: Signal<Out, Bit>,
    pub data: Signal<Out, Bits<8>>,
    pub frame_err: Signal<Out, Bit>,
    sync1: DFF<Bit>,
    sync2: DFF<Bit>,
    state: DFF<RxState>,
    count: DFF<Bits<COUNT_BITS>>,
    bit_index: DFF<Bits<3>>,
    shift: DFF<Bits<8>>,
    valid_q: DFF<Bit>,
    data_q: DFF<Bits<8>>,
    frame_err_q: DFF<Bit>,
    /// Cycles from the start edge to the middle of the start bit, less one.
    half_bit: Constant<Bits<COUNT_BITS>>,
    /// Cycles of one bit, less one.
    full_bit: Constant<Bits<COUNT_BITS>>,
}

impl UartRx {
    /// A receiver for bits of `cycles_per_bit` clock cycles (4..=65536).
    pub fn new(cycles_per_bit: u64) -> Self {
        assert!(
            (4..=1 << COUNT_BITS).contains(&cycles_per_bit),
            "cycles_per_bit {cycles_per_bit} out of range"
        );
        Self {
            clock: Default::default(),
            reset: Default::default(),
            rxd: Default::default(),
            valid: Default::default(),
            data: Default::default(),
            frame_err: Default::default(),
            sync1: Default::default(),
            sync2: Default::default(),
            state: Default::default(),
            count: Default::default(),
            bit_index: Default::default(),
            shift: Default::default(),
            valid_q: Default::default(),
            data_q: Default::default(),
            frame_err_q: Default::default(),
            half_bit: Constant::new((cycles_per_bit / 2 - 1).into()),
            full_bit: Constant::new((cycles_per_bit - 1).into()),
        }
    }
}

impl Logic for UartRx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            sync1,
            sync2,
            state,
            count,
            bit_index,
            shift,
            valid_q,
            data_q,
            frame_err_q
        );
        self.sync1.d.next = self.rxd.val();
        self.sync2.d.next = self.sync1.q.val();
        self.valid_q.d.next = false;
        self.frame_err_q.d.next = false;
        self.count.d.next = self.count.q.val() + 1;
        match self.state.q.val() {
            RxState::Idle => {
                self.count.d.next = 0.into();
                if !self.sync2.q.val() {
                    self.state.d.next = RxState::Start;
                }
            }
            RxState::Start => {
                if self.count.q.val() == self.half_bit.val() {
                    self.count.d.next = 0.into();
                    self.bit_index.d.next = 0.into();
                    if self.sync2.q.val() {
                        self.state.d.next = RxState::Idle;
                    } else {
                        self.state.d.next = RxState::Data;
                    }
                }
            }
            RxState::Data => {
                if self.count.q.val() == self.full_bit.val() {
                    self.count.d.next = 0.into();
                    self.shift.d.next = (self.shift.q.val() >> 1)
                        | (bit_cast::<8, 1>(self.sync2.q.val().into()) << 7);
                    self.bit_index.d.next = self.bit_index.q.val() + 1;
                    if self.bit_index.q.val() == 7 {
                        self.state.d.next = RxState::Stop;
                    }
                }
            }
            RxState::Stop => {
                if self.count.q.val() == self.full_bit.val() {
                    if self.sync2.q.val() {
                        self.valid_q.d.next = true;
                        self.data_q.d.next = self.shift.q.val();
                        self.state.d.next = RxState::Idle;
                    } else {
                        self.frame_err_q.d.next = true;
                        self.state.d.next = RxState::Break;
                    }
                }
            }
            RxState::Break => {
                if self.sync2.q.val() {
                    self.state.d.next = RxState::Idle;
                }
            }
            _ => {
                self.state.d.next = RxState::Idle;
            }
        }
        if self.reset.val() {
            self.state.d.next = RxState::Idle;
            self.sync1.d.next = true;
            self.sync2.d.next = true;
            self.valid_q.d.next = false;
            self.frame_err_q.d.next = false;
        }
        self.valid.next = self.valid_q.q.val();
        self.data.next = self.data_q.q.val();
        self.frame_err.next = self.frame_err_q.q.val();
    }
}

/// The 8N1 transmitter. See the module documentation.
#[derive(LogicBlock)]
pub struct UartTx {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub data: Signal<In, Bits<8>>,
    pub valid: Signal<In, Bit>,
    pub ready: Signal<Out, Bit>,
    pub txd: Signal<Out, Bit>,
    busy: DFF<Bit>,
    /// The frame still to send, next bit in bit 0: start, 8 data bits, stop.
    shift: DFF<Bits<10>>,
    count: DFF<Bits<COUNT_BITS>>,
    bits_left: DFF<Bits<4>>,
    txd_q: DFF<Bit>,
    full_bit: Constant<Bits<COUNT_BITS>>,
}

impl UartTx {
    /// A transmitter for bits of `cycles_per_bit` clock cycles (4..=65536).
    pub fn new(cycles_per_bit: u64) -> Self {
        assert!(
            (4..=1 << COUNT_BITS).contains(&cycles_per_bit),
            "cycles_per_bit {cycles_per_bit} out of range"
        );
        Self {
            clock: Default::default(),
            reset: Default::default(),
            data: Default::default(),
            valid: Default::default(),
            ready: Default::default(),
            txd: Default::default(),
            busy: Default::default(),
            shift: Default::default(),
            count: Default::default(),
            bits_left: Default::default(),
            txd_q: Default::default(),
            full_bit: Constant::new((cycles_per_bit - 1).into()),
        }
    }
}

impl Logic for UartTx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, busy, shift, count, bits_left, txd_q);
        // Ready in the last cycle of a stop bit too, so frames follow back to back.
        self.ready.next = !self.busy.q.val()
            | ((self.bits_left.q.val() == 1) & (self.count.q.val() == self.full_bit.val()));
        self.txd_q.d.next = true;
        if self.busy.q.val() {
            self.txd_q.d.next = self.shift.q.val().get_bit(0);
            self.count.d.next = self.count.q.val() + 1;
            if self.count.q.val() == self.full_bit.val() {
                self.count.d.next = 0.into();
                self.shift.d.next = (self.shift.q.val() >> 1) | 0x200;
                self.bits_left.d.next = self.bits_left.q.val() - 1;
                if self.bits_left.q.val() == 1 {
                    self.busy.d.next = false;
                }
            }
        }
        if self.valid.val() & self.ready.val() {
            self.busy.d.next = true;
            self.shift.d.next = (bit_cast::<10, 8>(self.data.val()) << 1) | 0x200;
            self.count.d.next = 0.into();
            self.bits_left.d.next = 10.into();
        }
        if self.reset.val() {
            self.busy.d.next = false;
            self.txd_q.d.next = true;
        }
        self.txd.next = self.txd_q.q.val();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A serial line driven bit by bit for a receiver under test.
    pub(crate) fn frame_bits(byte: u8, stop: bool) -> Vec<bool> {
        let mut bits = vec![false];
        bits.extend((0..8).map(|i| byte >> i & 1 == 1));
        bits.push(stop);
        bits
    }

    /// Decodes an 8N1 line sampled once per clock cycle, as a host's UART would (sampling in
    /// the middle of each bit); panics on a low stop bit.
    pub(crate) struct LineDecoder {
        cycles_per_bit: usize,
        prev: bool,
        /// Cycles since the start edge of the frame in progress.
        at: Option<usize>,
        byte: u8,
    }

    impl LineDecoder {
        pub(crate) fn new(cycles_per_bit: usize) -> Self {
            Self {
                cycles_per_bit,
                prev: true,
                at: None,
                byte: 0,
            }
        }

        /// Feeds one cycle's line level; returns a byte when its stop bit was sampled.
        pub(crate) fn sample(&mut self, line: bool) -> Option<u8> {
            let mut out = None;
            match self.at {
                None => {
                    if self.prev && !line {
                        self.at = Some(0);
                        self.byte = 0;
                    }
                }
                Some(t) => {
                    let t = t + 1;
                    self.at = Some(t);
                    let half = self.cycles_per_bit / 2;
                    if t >= half && (t - half).is_multiple_of(self.cycles_per_bit) {
                        let bit = (t - half) / self.cycles_per_bit;
                        match bit {
                            0 => assert!(!line, "start bit low in its middle"),
                            1..=8 => self.byte |= (line as u8) << (bit - 1),
                            _ => {
                                assert!(line, "stop bit high");
                                out = Some(self.byte);
                                self.at = None;
                            }
                        }
                    }
                }
            }
            self.prev = line;
            out
        }
    }

    struct RxBench {
        uut: UartRx,
        got: Vec<Result<u8, ()>>,
        /// The cycle of each result.
        got_at: Vec<usize>,
        cycles: usize,
    }

    impl RxBench {
        fn new(cpb: u64) -> Self {
            let mut uut = UartRx::new(cpb);
            uut.connect_all();
            check_all(&uut).unwrap();
            let mut b = RxBench {
                uut,
                got: vec![],
                got_at: vec![],
                cycles: 0,
            };
            b.uut.rxd.next = true;
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
            self.cycles += 1;
            if self.uut.valid.val() {
                self.got.push(Ok(self.uut.data.val().index() as u8));
                self.got_at.push(self.cycles);
            }
            if self.uut.frame_err.val() {
                self.got.push(Err(()));
                self.got_at.push(self.cycles);
            }
            assert!(!(self.uut.valid.val() && self.uut.frame_err.val()));
        }

        /// Drives `line` for `cycles` cycles.
        fn hold(&mut self, line: bool, cycles: usize) {
            self.uut.rxd.next = line;
            for _ in 0..cycles {
                self.clock();
            }
        }

        /// Sends `bits`, each `bit_cycles` long (a sender's clock off by a few percent).
        fn send(&mut self, bits: &[bool], bit_cycles: &[usize]) {
            for (i, &b) in bits.iter().enumerate() {
                self.hold(b, bit_cycles[i % bit_cycles.len()]);
            }
        }
    }

    #[test]
    fn receives_bytes_back_to_back_and_with_clock_error() {
        let cpb = 32;
        let mut b = RxBench::new(cpb);
        b.hold(true, 40);
        let bytes: Vec<u8> = vec![0x00, 0xFF, 0x55, 0xAA, 0x52, 0x01, 0x80, 0x7E];
        // Back to back at the exact rate.
        for &byte in &bytes {
            b.send(&frame_bits(byte, true), &[cpb as usize]);
        }
        b.hold(true, 40);
        // A sender 1/32 slow and one 1/32 fast (3%: the middle of the stop bit drifts 0.3 bit,
        // inside the half bit a receiver can take).
        for &byte in &bytes {
            b.send(&frame_bits(byte, true), &[33]);
        }
        for &byte in &bytes {
            b.send(&frame_bits(byte, true), &[31]);
        }
        b.hold(true, 40);
        let want: Vec<Result<u8, ()>> = bytes
            .iter()
            .chain(&bytes)
            .chain(&bytes)
            .map(|&x| Ok(x))
            .collect();
        assert_eq!(b.got, want);
    }

    #[test]
    fn glitch_is_ignored_framing_error_and_break_reported_once() {
        let cpb = 16;
        let mut b = RxBench::new(cpb);
        b.hold(true, 20);
        // A low glitch shorter than half a bit is not a start bit.
        b.hold(false, 3);
        b.hold(true, 40);
        assert!(b.got.is_empty(), "glitch ignored: {:?}", b.got);
        // A low stop bit: one framing error, the byte discarded.
        b.send(&frame_bits(0x41, false), &[cpb as usize]);
        b.hold(true, 40);
        assert_eq!(b.got, vec![Err(())]);
        // A break (line low for 10 frames): one error; then bytes are received again.
        b.got.clear();
        b.hold(false, 10 * 10 * cpb as usize);
        b.hold(true, 40);
        assert_eq!(b.got, vec![Err(())]);
        b.got.clear();
        b.send(&frame_bits(0x42, true), &[cpb as usize]);
        b.hold(true, 40);
        assert_eq!(b.got, vec![Ok(0x42)]);
    }

    #[test]
    fn result_timing_after_the_stop_bit_middle() {
        let cpb = 16usize;
        let mut b = RxBench::new(cpb as u64);
        b.hold(true, 20);
        let start = b.cycles;
        b.send(&frame_bits(0x3C, true), &[cpb]);
        b.hold(true, 40);
        // The stop bit's middle is 9.5 bit times after the edge; then 3 cycles (two sync
        // stages and the output register), counted to the cycle where valid is seen.
        assert_eq!(b.got_at, vec![start + 9 * cpb + cpb / 2 + 3]);
        assert_eq!(b.got, vec![Ok(0x3C)]);
    }

    struct TxBench {
        uut: UartTx,
        line: LineDecoder,
        got: Vec<u8>,
        cycles: usize,
    }

    impl TxBench {
        fn new(cpb: u64) -> Self {
            let mut uut = UartTx::new(cpb);
            uut.connect_all();
            check_all(&uut).unwrap();
            let mut b = TxBench {
                uut,
                line: LineDecoder::new(cpb as usize),
                got: vec![],
                cycles: 0,
            };
            b.uut.reset.next = true;
            b.clock();
            b.uut.reset.next = false;
            b.clock();
            b
        }

        /// One cycle; returns whether a byte offered this cycle was taken.
        fn clock(&mut self) -> bool {
            assert!(simulate(&mut self.uut, 100));
            let taken = self.uut.valid.val() && self.uut.ready.val();
            self.uut.clock.next = true.into();
            assert!(simulate(&mut self.uut, 100));
            self.uut.clock.next = false.into();
            assert!(simulate(&mut self.uut, 100));
            self.cycles += 1;
            if let Some(byte) = self.line.sample(self.uut.txd.val()) {
                self.got.push(byte);
            }
            taken
        }
    }

    #[test]
    fn transmits_back_to_back_at_the_line_rate() {
        let cpb = 12usize;
        let mut b = TxBench::new(cpb as u64);
        for _ in 0..5 {
            assert!(b.uut.txd.val(), "idle high");
            b.clock();
        }
        let bytes = [0x00u8, 0xFF, 0x55, 0xAA, 0x44, 0x4B];
        let mut taken_at = vec![];
        for &byte in &bytes {
            b.uut.data.next = (byte as u64).into();
            b.uut.valid.next = true;
            while !b.clock() {}
            taken_at.push(b.cycles);
        }
        b.uut.valid.next = false;
        for _ in 0..12 * cpb {
            b.clock();
        }
        assert_eq!(b.got, bytes);
        // Back to back: one frame (10 bit times) between takes.
        for w in taken_at.windows(2) {
            assert_eq!(w[1] - w[0], 10 * cpb);
        }
        assert!(b.uut.txd.val() && b.uut.ready.val());
    }

    #[test]
    fn transmitter_into_receiver() {
        // The two halves agree with each other as well as with the bench's models.
        let cpb = 10u64;
        let mut tx = TxBench::new(cpb);
        let mut rx = RxBench::new(cpb);
        let bytes: Vec<u8> = (0..=255u8).step_by(7).collect();
        let mut i = 0;
        for _ in 0..(bytes.len() + 2) * 10 * cpb as usize {
            if i < bytes.len() {
                tx.uut.data.next = (bytes[i] as u64).into();
                tx.uut.valid.next = true;
            } else {
                tx.uut.valid.next = false;
            }
            if tx.clock() {
                i += 1;
            }
            rx.hold(tx.uut.txd.val(), 1);
        }
        assert_eq!(rx.got, bytes.iter().map(|&x| Ok(x)).collect::<Vec<_>>());
    }

    #[test]
    fn generates_verilog_that_lints() {
        let mut rx = UartRx::new(104);
        rx.connect_all();
        crate::crc::tests::verilator_lint("uart_rx", &generate_verilog(&rx));
        let mut tx = UartTx::new(104);
        tx.connect_all();
        crate::crc::tests::verilator_lint("uart_tx", &generate_verilog(&tx));
    }
}
