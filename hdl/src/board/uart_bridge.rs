//! The serial register bridge: commands in bytes from a UART receiver become accesses on the
//! core's BAR0 register port; their answers go back as bytes to a UART transmitter. It lets a
//! host read and write the core's registers over a serial port when the board has no PCIe.
//!
//! # Protocol (bytes; multi-byte fields most significant byte first)
//!
//! | host sends | bridge answers |
//! |---|---|
//! | `R` a2 a1 a0 | `D` d3 d2 d1 d0: the 32-bit register at byte address `a` |
//! | `W` a2 a1 a0 d3 d2 d1 d0 | `K` once the write completed |
//! | `S` | `D` s3 s2 s1 s0: the board's status word (`status` input) |
//!
//! Errors, each answered by one byte, after which the bridge waits for a new command:
//! - `?`: a byte that is not a command where a command was expected
//! - `A`: an address of [`ADDR_BITS`] bits or more (beyond BAR0; no access is made)
//! - `T`: a command not completed within `timeout` cycles of its previous byte (the partial
//!   command is dropped)
//! - `F`: a byte with a low stop bit (a framing error; the partial command is dropped)
//! - `O`: bytes arrived while the bridge was busy answering and were lost; sent before the
//!   next answer. A host that waits for each answer before sending the next command never
//!   sees it.
//!
//! An access the core refuses (an unmapped, misaligned or read-only address) completes like any
//! other (reads give 0) and is counted in the core's `BUS_ERRORS`: the bridge forwards every
//! well-formed command; it does not interpret addresses below BAR0's size.
//!
//! # Ports
//! - `clock`; `reset`: synchronous, active high: drop any command in progress
//! - `rx_valid`, `rx_data`, `rx_frame_err` (in): the receiver's byte pulses (see `UartRx`)
//! - `tx_valid`, `tx_data` (out), `tx_ready` (in): bytes to the transmitter
//! - `bar_*`: the core's register port, as `EvnicCore`'s (requests with valid/ready, a
//!   `bar_rsp_valid` pulse per request); every write has all four strobes set
//! - `status` (in, 32): answered to `S`
//!
//! # Timing
//! A request is offered the cycle after a command's last byte and held until taken; the answer
//! is offered to the transmitter the cycle after `bar_rsp_valid`.

use crate::regbus::ADDR_BITS;
use rust_hdl::prelude::*;

/// Command: read a register.
pub const CMD_READ: u8 = b'R';
/// Command: write a register.
pub const CMD_WRITE: u8 = b'W';
/// Command: read the board's status word.
pub const CMD_STATUS: u8 = b'S';
/// Answer: 4 data bytes follow.
pub const ANS_DATA: u8 = b'D';
/// Answer: the write completed.
pub const ANS_WRITTEN: u8 = b'K';
/// Error: not a command.
pub const ERR_COMMAND: u8 = b'?';
/// Error: address beyond BAR0.
pub const ERR_ADDRESS: u8 = b'A';
/// Error: the command timed out between bytes.
pub const ERR_TIMEOUT: u8 = b'T';
/// Error: framing error on the line.
pub const ERR_FRAMING: u8 = b'F';
/// Error: bytes were lost while the bridge was busy.
pub const ERR_OVERRUN: u8 = b'O';

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
enum BridgeState {
    Idle,
    Collect,
    Request,
    Wait,
    Send,
}

/// The serial register bridge. See the module documentation.
#[derive(LogicBlock)]
pub struct UartBridge {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rx_valid: Signal<In, Bit>,
    pub rx_data: Signal<In, Bits<8>>,
    pub rx_frame_err: Signal<In, Bit>,
    pub tx_valid: Signal<Out, Bit>,
    pub tx_data: Signal<Out, Bits<8>>,
    pub tx_ready: Signal<In, Bit>,
    pub bar_req_valid: Signal<Out, Bit>,
    pub bar_req_ready: Signal<In, Bit>,
    pub bar_req_write: Signal<Out, Bit>,
    pub bar_req_addr: Signal<Out, Bits<ADDR_BITS>>,
    pub bar_req_wdata: Signal<Out, Bits<32>>,
    pub bar_req_strb: Signal<Out, Bits<4>>,
    pub bar_rsp_valid: Signal<In, Bit>,
    pub bar_rsp_rdata: Signal<In, Bits<32>>,
    pub status: Signal<In, Bits<32>>,
    state: DFF<BridgeState>,
    write: DFF<Bit>,
    /// Argument bytes still expected.
    need: DFF<Bits<3>>,
    /// The argument bytes, the last received in bits 7:0: a write's address ends at bit 32.
    args: DFF<Bits<56>>,
    /// The answer, next byte in bits 39:32, and how many bytes of it are left.
    answer: DFF<Bits<40>>,
    answer_len: DFF<Bits<3>>,
    /// Cycles since the last byte of a command in progress.
    idle_cycles: DFF<Bits<32>>,
    overrun: DFF<Bit>,
    /// The address of the command being executed.
    addr: Signal<Local, Bits<24>>,
    /// This cycle ends the command with the one-byte answer `fail_code`.
    fail: Signal<Local, Bit>,
    fail_code: Signal<Local, Bits<8>>,
    timeout: Constant<Bits<32>>,
    bar_bytes: Constant<Bits<24>>,
    cmd_read: Constant<Bits<8>>,
    cmd_write: Constant<Bits<8>>,
    cmd_status: Constant<Bits<8>>,
    ans_data: Constant<Bits<8>>,
    ans_written: Constant<Bits<8>>,
    err_command: Constant<Bits<8>>,
    err_address: Constant<Bits<8>>,
    err_timeout: Constant<Bits<8>>,
    err_framing: Constant<Bits<8>>,
    err_overrun: Constant<Bits<8>>,
}

fn byte(b: u8) -> Constant<Bits<8>> {
    Constant::new((b as u64).into())
}

impl UartBridge {
    /// A bridge that drops a partial command `timeout_cycles` cycles after its last byte.
    pub fn new(timeout_cycles: u64) -> Self {
        assert!(timeout_cycles > 0 && timeout_cycles < 1 << 32);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            rx_valid: Default::default(),
            rx_data: Default::default(),
            rx_frame_err: Default::default(),
            tx_valid: Default::default(),
            tx_data: Default::default(),
            tx_ready: Default::default(),
            bar_req_valid: Default::default(),
            bar_req_ready: Default::default(),
            bar_req_write: Default::default(),
            bar_req_addr: Default::default(),
            bar_req_wdata: Default::default(),
            bar_req_strb: Default::default(),
            bar_rsp_valid: Default::default(),
            bar_rsp_rdata: Default::default(),
            status: Default::default(),
            state: Default::default(),
            write: Default::default(),
            need: Default::default(),
            args: Default::default(),
            answer: Default::default(),
            answer_len: Default::default(),
            idle_cycles: Default::default(),
            overrun: Default::default(),
            addr: Default::default(),
            fail: Default::default(),
            fail_code: Default::default(),
            timeout: Constant::new(timeout_cycles.into()),
            bar_bytes: Constant::new((1u64 << ADDR_BITS).into()),
            cmd_read: byte(CMD_READ),
            cmd_write: byte(CMD_WRITE),
            cmd_status: byte(CMD_STATUS),
            ans_data: byte(ANS_DATA),
            ans_written: byte(ANS_WRITTEN),
            err_command: byte(ERR_COMMAND),
            err_address: byte(ERR_ADDRESS),
            err_timeout: byte(ERR_TIMEOUT),
            err_framing: byte(ERR_FRAMING),
            err_overrun: byte(ERR_OVERRUN),
        }
    }
}

impl Logic for UartBridge {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            write,
            need,
            args,
            answer,
            answer_len,
            idle_cycles,
            overrun
        );
        self.addr.next = self.args.q.val().get_bits::<24>(0);
        if self.write.q.val() {
            self.addr.next = self.args.q.val().get_bits::<24>(32);
        }
        self.bar_req_valid.next = false;
        self.bar_req_write.next = self.write.q.val();
        self.bar_req_addr.next = self.addr.val().get_bits::<ADDR_BITS>(0);
        self.bar_req_wdata.next = self.args.q.val().get_bits::<32>(0);
        self.bar_req_strb.next = 15.into();
        self.tx_valid.next = false;
        self.tx_data.next = self.answer.q.val().get_bits::<8>(32);
        self.fail.next = false;
        self.fail_code.next = self.err_command.val();

        match self.state.q.val() {
            BridgeState::Idle => {
                if self.rx_frame_err.val() {
                    self.fail.next = true;
                    self.fail_code.next = self.err_framing.val();
                } else if self.rx_valid.val() {
                    self.idle_cycles.d.next = 0.into();
                    if self.rx_data.val() == self.cmd_read.val() {
                        self.write.d.next = false;
                        self.need.d.next = 3.into();
                        self.state.d.next = BridgeState::Collect;
                    } else if self.rx_data.val() == self.cmd_write.val() {
                        self.write.d.next = true;
                        self.need.d.next = 7.into();
                        self.state.d.next = BridgeState::Collect;
                    } else if self.rx_data.val() == self.cmd_status.val() {
                        self.answer.d.next = (bit_cast::<40, 8>(self.ans_data.val()) << 32)
                            | bit_cast::<40, 32>(self.status.val());
                        self.answer_len.d.next = 5.into();
                        self.state.d.next = BridgeState::Send;
                    } else {
                        self.fail.next = true;
                        self.fail_code.next = self.err_command.val();
                    }
                } else if self.overrun.q.val() {
                    self.overrun.d.next = false;
                    self.fail.next = true;
                    self.fail_code.next = self.err_overrun.val();
                }
            }
            BridgeState::Collect => {
                self.idle_cycles.d.next = self.idle_cycles.q.val() + 1;
                if self.rx_frame_err.val() {
                    self.fail.next = true;
                    self.fail_code.next = self.err_framing.val();
                } else if self.rx_valid.val() {
                    self.idle_cycles.d.next = 0.into();
                    self.args.d.next =
                        (self.args.q.val() << 8) | bit_cast::<56, 8>(self.rx_data.val());
                    self.need.d.next = self.need.q.val() - 1;
                    if self.need.q.val() == 1 {
                        self.state.d.next = BridgeState::Request;
                    }
                } else if self.idle_cycles.q.val() == self.timeout.val() {
                    self.fail.next = true;
                    self.fail_code.next = self.err_timeout.val();
                }
            }
            BridgeState::Request => {
                if self.addr.val() >= self.bar_bytes.val() {
                    self.fail.next = true;
                    self.fail_code.next = self.err_address.val();
                } else {
                    self.bar_req_valid.next = true;
                    if self.bar_req_ready.val() {
                        self.state.d.next = BridgeState::Wait;
                    }
                }
            }
            BridgeState::Wait => {
                if self.bar_rsp_valid.val() {
                    self.state.d.next = BridgeState::Send;
                    if self.write.q.val() {
                        self.answer.d.next = bit_cast::<40, 8>(self.ans_written.val()) << 32;
                        self.answer_len.d.next = 1.into();
                    } else {
                        self.answer.d.next = (bit_cast::<40, 8>(self.ans_data.val()) << 32)
                            | bit_cast::<40, 32>(self.bar_rsp_rdata.val());
                        self.answer_len.d.next = 5.into();
                    }
                }
            }
            BridgeState::Send => {
                self.tx_valid.next = true;
                if self.tx_ready.val() {
                    self.answer.d.next = self.answer.q.val() << 8;
                    self.answer_len.d.next = self.answer_len.q.val() - 1;
                    if self.answer_len.q.val() == 1 {
                        self.state.d.next = BridgeState::Idle;
                    }
                }
            }
            _ => {
                self.state.d.next = BridgeState::Idle;
            }
        }
        if self.fail.val() {
            self.answer.d.next = bit_cast::<40, 8>(self.fail_code.val()) << 32;
            self.answer_len.d.next = 1.into();
            self.state.d.next = BridgeState::Send;
        }
        // A byte (or a framing error) outside Idle and Collect is lost: say so later.
        if (self.rx_valid.val() | self.rx_frame_err.val())
            & (self.state.q.val() != BridgeState::Idle)
            & (self.state.q.val() != BridgeState::Collect)
        {
            self.overrun.d.next = true;
        }
        if self.reset.val() {
            self.state.d.next = BridgeState::Idle;
            self.overrun.d.next = false;
        }
    }
}
