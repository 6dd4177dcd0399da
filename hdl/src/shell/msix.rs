//! `Msix`: the MSI-X table and pending bit of the core's one interrupt vector, in the MSI-X
//! BAR (`evnic_regs::map::shell::MSIX_BAR`), and the hard block's MSI-X interface, which sends
//! the message the table holds.
//!
//! # Ports
//! | port | dir | width | meaning |
//! |---|---|---|---|
//! | `clock`, `reset` | in | | rising edge; synchronous active-high reset |
//! | `rd`, `wr`, `addr`, `wdata` / `rdata` | in / out | 1, 1, 12, 32 / 32 | accesses to the MSI-X BAR (writes have all strobes); read data combinational in the `rd` cycle |
//! | `irq` | in | 1 | the core's interrupt: a one-cycle pulse |
//! | `writes_goal`, `writes_done` | in | 8 | from [`super::dma_write::DmaWriter`]: the write count to wait for, and the writes handed to the hard block |
//! | `msix_enable`, `msix_mask` | in | 1 | MSI-X enable and function mask, from the hard block |
//! | `cfg_address`, `cfg_data`, `cfg_int` | out | 64, 32, 1 | the message to send; `cfg_int` a one-cycle pulse |
//! | `cfg_sent`, `cfg_fail` | in | 1 | the hard block's answer, a one-cycle pulse each |
//! | `sent`, `failed` | out | 1 | one-cycle pulses for the counters |
//!
//! # Contract
//! An interrupt sets the vector's pending bit (the PBA's bit 0). A pending vector is sent when
//! MSI-X is enabled, neither the function nor the vector (vector control bit 0, set at reset)
//! is masked, and every DMA write the core had offered by the time of the interrupt has gone
//! to the hard block: so the message reaches the host after the event it announces (both are
//! posted writes and stay in order). Interrupts while a message is in flight leave the vector
//! pending for another message; the pending bit is cleared when a message is started. A
//! refused message (`cfg_fail`) is counted, leaves the vector pending and is retried after
//! 256 cycles. Table writes take whole dwords; address bits 1:0 read 0.
//!
//! # Timing
//! `cfg_int` pulses 1 cycle after the conditions hold (the interrupt pulse arriving in cycle
//! t at the earliest in t+2); the next message can start the cycle after `cfg_sent`.

use super::konst;
use evnic_regs::map::shell as s;
use rust_hdl::prelude::*;

const M_IDLE: u64 = 0;
const M_WAIT: u64 = 1;
const M_BACKOFF: u64 = 2;

#[derive(LogicBlock)]
pub struct Msix {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rd: Signal<In, Bit>,
    pub wr: Signal<In, Bit>,
    pub addr: Signal<In, Bits<12>>,
    pub wdata: Signal<In, Bits<32>>,
    pub rdata: Signal<Out, Bits<32>>,
    pub irq: Signal<In, Bit>,
    pub writes_goal: Signal<In, Bits<8>>,
    pub writes_done: Signal<In, Bits<8>>,
    pub msix_enable: Signal<In, Bit>,
    pub msix_mask: Signal<In, Bit>,
    pub cfg_address: Signal<Out, Bits<64>>,
    pub cfg_data: Signal<Out, Bits<32>>,
    pub cfg_int: Signal<Out, Bit>,
    pub cfg_sent: Signal<In, Bit>,
    pub cfg_fail: Signal<In, Bit>,
    pub sent: Signal<Out, Bit>,
    pub failed: Signal<Out, Bit>,

    addr_lo: DFF<Bits<32>>,
    addr_hi: DFF<Bits<32>>,
    data: DFF<Bits<32>>,
    vmask: DFF<Bit>,
    pending: DFF<Bit>,
    goal: DFF<Bits<8>>,
    state: DFF<Bits<2>>,
    backoff: DFF<Bits<8>>,
    int_q: DFF<Bit>,
    sent_q: DFF<Bit>,
    failed_q: DFF<Bit>,
    writes_out: Signal<Local, Bits<8>>,
    may_send: Signal<Local, Bit>,
    a_addr_lo: Constant<Bits<12>>,
    a_addr_hi: Constant<Bits<12>>,
    a_data: Constant<Bits<12>>,
    a_control: Constant<Bits<12>>,
    a_pba: Constant<Bits<12>>,
    m_idle: Constant<Bits<2>>,
    m_wait: Constant<Bits<2>>,
    m_backoff: Constant<Bits<2>>,
}

impl Default for Msix {
    fn default() -> Self {
        let t = s::MSIX_TABLE_OFFSET as u64;
        Msix {
            clock: Default::default(),
            reset: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            rdata: Default::default(),
            irq: Default::default(),
            writes_goal: Default::default(),
            writes_done: Default::default(),
            msix_enable: Default::default(),
            msix_mask: Default::default(),
            cfg_address: Default::default(),
            cfg_data: Default::default(),
            cfg_int: Default::default(),
            cfg_sent: Default::default(),
            cfg_fail: Default::default(),
            sent: Default::default(),
            failed: Default::default(),
            addr_lo: Default::default(),
            addr_hi: Default::default(),
            data: Default::default(),
            vmask: Default::default(),
            pending: Default::default(),
            goal: Default::default(),
            state: Default::default(),
            backoff: Default::default(),
            int_q: Default::default(),
            sent_q: Default::default(),
            failed_q: Default::default(),
            writes_out: Default::default(),
            may_send: Default::default(),
            a_addr_lo: konst(t),
            a_addr_hi: konst(t + 4),
            a_data: konst(t + 8),
            a_control: konst(t + 12),
            a_pba: konst(s::MSIX_PBA_OFFSET as u64),
            m_idle: konst(M_IDLE),
            m_wait: konst(M_WAIT),
            m_backoff: konst(M_BACKOFF),
        }
    }
}

impl Logic for Msix {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, addr_lo, addr_hi, data, vmask, pending, goal, state, backoff, int_q,
            sent_q, failed_q
        );

        // The table and the PBA.
        self.rdata.next = 0.into();
        if self.rd.val() {
            if self.addr.val() == self.a_addr_lo.val() {
                self.rdata.next = self.addr_lo.q.val();
            } else if self.addr.val() == self.a_addr_hi.val() {
                self.rdata.next = self.addr_hi.q.val();
            } else if self.addr.val() == self.a_data.val() {
                self.rdata.next = self.data.q.val();
            } else if self.addr.val() == self.a_control.val() {
                self.rdata.next = bit_cast::<32, 1>(self.vmask.q.val().into());
            } else if self.addr.val() == self.a_pba.val() {
                self.rdata.next = bit_cast::<32, 1>(self.pending.q.val().into());
            }
        }
        if self.wr.val() {
            if self.addr.val() == self.a_addr_lo.val() {
                self.addr_lo.d.next = self.wdata.val() & !bits::<32>(3);
            } else if self.addr.val() == self.a_addr_hi.val() {
                self.addr_hi.d.next = self.wdata.val();
            } else if self.addr.val() == self.a_data.val() {
                self.data.d.next = self.wdata.val();
            } else if self.addr.val() == self.a_control.val() {
                self.vmask.d.next = self.wdata.val().get_bit(0);
            }
        }

        // Writes the core offered before the interrupt must be out first: writes_done has
        // reached the goal (the counts wrap; fewer than 128 writes are ever in flight).
        self.writes_out.next = self.writes_done.val() - self.goal.q.val();
        self.may_send.next = self.pending.q.val()
            & self.msix_enable.val()
            & !self.msix_mask.val()
            & !self.vmask.q.val()
            & !self.writes_out.val().get_bit(7);

        self.int_q.d.next = false;
        self.sent_q.d.next = false;
        self.failed_q.d.next = false;
        if self.state.q.val() == self.m_idle.val() {
            if self.may_send.val() {
                self.int_q.d.next = true;
                self.pending.d.next = false;
                self.state.d.next = self.m_wait.val();
            }
        } else if self.state.q.val() == self.m_wait.val() {
            if self.cfg_sent.val() {
                self.sent_q.d.next = true;
                self.state.d.next = self.m_idle.val();
            } else if self.cfg_fail.val() {
                self.failed_q.d.next = true;
                self.pending.d.next = true;
                self.backoff.d.next = 255.into();
                self.state.d.next = self.m_backoff.val();
            }
        } else {
            self.backoff.d.next = self.backoff.q.val() - 1;
            if self.backoff.q.val() == 0 {
                self.state.d.next = self.m_idle.val();
            }
        }
        // A new interrupt: pending, and wait for the writes offered until now.
        if self.irq.val() {
            self.pending.d.next = true;
            self.goal.d.next = self.writes_goal.val();
        }

        self.cfg_address.next = (bit_cast::<64, 32>(self.addr_hi.q.val()) << 32)
            | bit_cast::<64, 32>(self.addr_lo.q.val());
        self.cfg_data.next = self.data.q.val();
        self.cfg_int.next = self.int_q.q.val();
        self.sent.next = self.sent_q.q.val();
        self.failed.next = self.failed_q.q.val();

        if self.reset.val() {
            self.addr_lo.d.next = 0.into();
            self.addr_hi.d.next = 0.into();
            self.data.d.next = 0.into();
            self.vmask.d.next = true;
            self.pending.d.next = false;
            self.goal.d.next = 0.into();
            self.state.d.next = self.m_idle.val();
            self.int_q.d.next = false;
            self.sent_q.d.next = false;
            self.failed_q.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::testutil::{settle, tick};

    struct Bench {
        u: Msix,
        ints: Vec<(u64, u64, u64)>,
        sent: u32,
        failed: u32,
        cycle: u64,
    }

    impl Bench {
        fn new() -> Bench {
            let mut u = Msix::default();
            u.connect_all();
            u.reset.next = true;
            tick!(u);
            u.reset.next = false;
            u.msix_enable.next = true;
            Bench {
                u,
                ints: vec![],
                sent: 0,
                failed: 0,
                cycle: 0,
            }
        }
        /// One cycle; returns the read data of the access set up for it.
        fn step(&mut self) -> u32 {
            settle(&mut self.u);
            let r = self.u.rdata.val().to_u64() as u32;
            if self.u.cfg_int.val() {
                self.ints.push((
                    self.cycle,
                    self.u.cfg_address.val().to_u64(),
                    self.u.cfg_data.val().to_u64(),
                ));
            }
            self.sent += self.u.sent.val() as u32;
            self.failed += self.u.failed.val() as u32;
            tick!(self.u);
            self.cycle += 1;
            self.u.rd.next = false;
            self.u.wr.next = false;
            self.u.irq.next = false;
            self.u.cfg_sent.next = false;
            self.u.cfg_fail.next = false;
            r
        }
        fn write(&mut self, addr: u32, v: u32) {
            self.u.wr.next = true;
            self.u.addr.next = (addr as u64).into();
            self.u.wdata.next = (v as u64).into();
            self.step();
        }
        fn read(&mut self, addr: u32) -> u32 {
            self.u.rd.next = true;
            self.u.addr.next = (addr as u64).into();
            self.step()
        }
        fn run(&mut self, n: u64) {
            for _ in 0..n {
                self.step();
            }
        }
    }

    const T: u32 = s::MSIX_TABLE_OFFSET;

    #[test]
    fn masked_vector_stays_pending_then_sends_the_table_message() {
        let mut b = Bench::new();
        assert_eq!(b.read(T + 12), 1, "vectors start masked");
        b.write(T, 0xfee0_1003);
        b.write(T + 4, 0x1);
        b.write(T + 8, 0x4242);
        assert_eq!(b.read(T), 0xfee0_1000, "address bits 1:0 read 0");
        b.u.irq.next = true;
        b.run(10);
        assert!(b.ints.is_empty(), "masked: no message");
        assert_eq!(b.read(s::MSIX_PBA_OFFSET), 1, "pending");
        b.write(T + 12, 0);
        b.run(3);
        assert_eq!(b.ints.len(), 1);
        assert_eq!((b.ints[0].1, b.ints[0].2), (0x1_fee0_1000, 0x4242));
        assert_eq!(b.read(s::MSIX_PBA_OFFSET), 0, "started: no longer pending");
        b.u.cfg_sent.next = true;
        b.run(3);
        assert_eq!(b.sent, 1);
        // A second interrupt, one message.
        b.u.irq.next = true;
        b.run(4);
        assert_eq!(b.ints.len(), 2);
    }

    #[test]
    fn waits_for_the_writes_offered_before_the_interrupt() {
        let mut b = Bench::new();
        b.write(T + 12, 0);
        b.u.writes_done.next = 250.into();
        b.u.writes_goal.next = 3.into();
        b.u.irq.next = true;
        b.step();
        b.u.writes_goal.next = 4.into();
        for done in [251u64, 255, 0, 1, 2] {
            b.u.writes_done.next = done.into();
            b.run(3);
            assert!(b.ints.is_empty(), "done {done} before goal 3 (wrapped)");
        }
        b.u.writes_done.next = 3.into();
        b.run(3);
        assert_eq!(b.ints.len(), 1);
    }

    #[test]
    fn refused_messages_are_counted_and_retried_and_function_mask_holds() {
        let mut b = Bench::new();
        b.write(T + 12, 0);
        b.u.msix_mask.next = true;
        b.u.irq.next = true;
        b.run(20);
        assert!(b.ints.is_empty(), "function masked");
        b.u.msix_mask.next = false;
        b.run(3);
        assert_eq!(b.ints.len(), 1);
        b.u.cfg_fail.next = true;
        b.run(3);
        assert_eq!(b.failed, 1);
        assert_eq!(b.read(s::MSIX_PBA_OFFSET), 1, "still pending");
        b.run(250);
        assert_eq!(b.ints.len(), 1, "backing off");
        b.run(10);
        assert_eq!(b.ints.len(), 2, "retried");
        b.u.msix_enable.next = false;
        b.u.cfg_sent.next = true;
        b.run(3);
        assert_eq!(b.sent, 1);
    }

    #[test]
    fn generates_verilog() {
        let mut u = Msix::default();
        u.connect_all();
        crate::crc::tests::verilator_lint("msix", &generate_verilog(&u));
    }
}
