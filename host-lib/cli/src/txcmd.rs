//! `evnic tx`: sends frames through the simulated transmit path (the Verilator model of the
//! RTL, through the library's transmit ring) and returns what leaves the MAC port: padded to
//! 60 bytes, CRC-32C inserted where asked (`--mpa-crc OFFSET:LEN`), the Ethernet FCS appended.
//!
//! The output is a pcap file (see [`crate::pcap`]), **FCS included** in every packet, each
//! stamped with the device cycle its first byte left the MAC. Frames go in as given, without
//! FCS, one descriptor each on one endpoint's transmit ring; frames the ring cannot take
//! (1..=9600 bytes, a CRC span that fits) are rejected by the library, frames the device
//! refuses come back as ERROR events; both are reported per frame.

use evnic::{DeviceSpec, EndpointConfig, Error, ErrorCode, Nic, TxCompletion, TxOptions};
use evnic_regs::desc::TX_MAX_LEN;
use std::collections::VecDeque;
use std::time::Duration;

/// Transmit ring of the command: 64 buffers of the longest frame.
const RING_LOG2: u32 = 6;

/// Options of `evnic tx`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TxCmdOptions {
    /// Insert CRC-32C over `[offset, offset + len)` into the 4 bytes after it, in every frame.
    pub mpa_crc: Option<(u16, u16)>,
}

/// A frame as it left the MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    /// The bytes on the wire, FCS included.
    pub bytes: Vec<u8>,
    /// The device cycle of its first beat.
    pub start: u64,
}

/// What became of one input frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// Sent.
    Sent(Wire),
    /// Refused by the device (an ERROR completion).
    Refused(ErrorCode),
    /// Not posted: the library refused it (the text says why).
    Rejected(String),
}

/// What a transmit run did.
#[derive(Clone, Debug)]
pub struct TxRun {
    /// Each frame's outcome, in input order.
    pub outcomes: Vec<TxOutcome>,
    /// Device cycles from the first post to the last completion.
    pub cycles: u64,
    /// The device's clock, for the wire timestamps.
    pub clock: evnic::DeviceClock,
}

/// Why a transmit run failed.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// The library or the device refused.
    #[error(transparent)]
    Device(#[from] Error),
    /// The device stopped completing descriptors.
    #[error("the transmit path stalled: {completed} of {posted} frames completed, none for {cycles} cycles (a bug in the RTL)")]
    Stalled {
        /// Frames completed.
        completed: usize,
        /// Frames posted.
        posted: usize,
        /// Cycles waited.
        cycles: u64,
    },
    /// The MAC port and the completions disagree.
    #[error("{completed} TX_DONE events but {wire} frames on the wire (a bug in the RTL)")]
    WireMismatch {
        /// Frames completed as sent.
        completed: usize,
        /// Frames seen on the MAC port.
        wire: usize,
    },
}

/// Cycles without a completion after which the transmit path counts as stalled.
const STALL_CYCLES: u64 = 2_000_000;

/// The frames of a run: posted ones waiting for their completion, in order, and each frame's
/// outcome once known.
struct Sending<'a> {
    outcomes: Vec<Option<TxOutcome>>,
    pending: VecDeque<usize>,
    posted: usize,
    done: usize,
    progress: &'a mut dyn FnMut(usize),
}

impl Sending<'_> {
    fn finish(&mut self, i: usize, outcome: TxOutcome) {
        self.outcomes[i] = Some(outcome);
        self.done += 1;
        (self.progress)(self.done);
    }

    /// Takes one completion; fails when the device stops completing.
    fn complete_one(
        &mut self,
        nic: &Nic,
        ep: &evnic::Endpoint,
        tx: &mut evnic::Transmitter,
    ) -> Result<(), TxError> {
        let waiting_since = nic.cycles()?;
        loop {
            if let Some(ev) = ep.wait(Some(Duration::from_millis(200)))? {
                if let Some(c) = tx.complete(&ev) {
                    let i = self
                        .pending
                        .pop_front()
                        .expect("a completion for a posted frame");
                    let outcome = match c {
                        // The wire's bytes are matched to the sent frames at the end.
                        TxCompletion::Sent { .. } => TxOutcome::Sent(Wire {
                            bytes: Vec::new(),
                            start: 0,
                        }),
                        TxCompletion::Refused { code, .. } => TxOutcome::Refused(code),
                    };
                    self.finish(i, outcome);
                    return Ok(());
                }
            } else {
                let waited = nic.cycles()? - waiting_since;
                if waited > STALL_CYCLES {
                    return Err(TxError::Stalled {
                        completed: self.posted - self.pending.len(),
                        posted: self.posted,
                        cycles: waited,
                    });
                }
            }
        }
    }
}

/// Parses `OFFSET:LEN` (decimal or 0x-hex).
pub fn parse_span(s: &str) -> Result<(u16, u16), String> {
    let num = |t: &str| {
        let t = t.trim();
        match t.strip_prefix("0x") {
            Some(h) => u16::from_str_radix(h, 16),
            None => t.parse(),
        }
        .map_err(|e| format!("{t:?} in --mpa-crc {s:?}: {e}"))
    };
    let (o, l) = s
        .split_once(':')
        .ok_or_else(|| format!("--mpa-crc {s:?}: expected OFFSET:LEN"))?;
    Ok((num(o)?, num(l)?))
}

/// Sends `frames` through the simulated transmit path; `progress` is told how many frames have
/// completed.
pub fn transmit(
    frames: &[Vec<u8>],
    opts: TxCmdOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<TxRun, TxError> {
    let nic = Nic::open(DeviceSpec::Sim)?;
    let sim = nic.sim().expect("the simulated device");
    nic.set_enabled(true)?;
    let ep = nic.endpoint(
        EndpointConfig::default()
            .with_ring_events(1024)
            .with_spin(Duration::from_micros(20)),
    )?;
    let mut tx = ep.transmitter(RING_LOG2, TX_MAX_LEN as u16)?;
    let options = TxOptions {
        crc32c: opts.mpa_crc,
    };
    let mut run = Sending {
        outcomes: vec![None; frames.len()],
        pending: VecDeque::new(),
        posted: 0,
        done: 0,
        progress,
    };
    let start = nic.cycles()?;
    for (i, f) in frames.iter().enumerate() {
        loop {
            match tx.send(f, options) {
                Ok(_) => {
                    run.pending.push_back(i);
                    run.posted += 1;
                    break;
                }
                Err(Error::TxRingFull { .. }) => run.complete_one(&nic, &ep, &mut tx)?,
                Err(e) => {
                    run.finish(i, TxOutcome::Rejected(e.to_string()));
                    break;
                }
            }
        }
    }
    while !run.pending.is_empty() {
        run.complete_one(&nic, &ep, &mut tx)?;
    }
    let outcomes = run.outcomes;
    let end = nic.cycles()?;
    let sent = outcomes
        .iter()
        .filter(|o| matches!(o, Some(TxOutcome::Sent(_))))
        .count();
    // A frame's last beats may still be on their way to the MAC when its completion arrives.
    let mut wire = sim.take_tx_frames();
    while wire.len() < sent && nic.cycles()? < end + 100_000 {
        std::thread::sleep(Duration::from_millis(1));
        wire.extend(sim.take_tx_frames());
    }
    if sent != wire.len() {
        return Err(TxError::WireMismatch {
            completed: sent,
            wire: wire.len(),
        });
    }
    let mut wire = wire.into_iter();
    let outcomes = outcomes
        .into_iter()
        .map(|o| match o.expect("every frame has an outcome") {
            TxOutcome::Sent(_) => {
                let w = wire.next().expect("counted above");
                TxOutcome::Sent(Wire {
                    bytes: w.bytes,
                    start: w.start,
                })
            }
            other => other,
        })
        .collect();
    Ok(TxRun {
        outcomes,
        cycles: end - start,
        clock: nic.clock()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crc::{Crc, CRC_32_ISCSI, CRC_32_ISO_HDLC};

    #[test]
    fn spans_parse() {
        assert_eq!(parse_span("54:1456"), Ok((54, 1456)));
        assert_eq!(parse_span("0x10:0x20"), Ok((16, 32)));
        assert!(parse_span("54").is_err());
        assert!(parse_span("a:1").is_err());
    }

    #[test]
    fn frames_leave_with_fcs_and_crc32c_and_bad_ones_are_refused() {
        let fcs = Crc::<u32>::new(&CRC_32_ISO_HDLC);
        let c32 = Crc::<u32>::new(&CRC_32_ISCSI);
        let frames: Vec<Vec<u8>> = [20usize, 100, 1514, 9000, 2, 9601]
            .iter()
            .map(|&n| (0..n).map(|i| (i * 13) as u8).collect())
            .collect();
        let run = transmit(
            &frames,
            TxCmdOptions {
                mpa_crc: Some((4, 10)),
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(run.outcomes.len(), frames.len());
        let mut last_start = 0;
        for (f, o) in frames.iter().zip(&run.outcomes) {
            match o {
                TxOutcome::Sent(w) => {
                    assert_eq!(w.bytes.len(), f.len().max(60) + 4);
                    let n = w.bytes.len() - 4;
                    assert_eq!(w.bytes[n..], fcs.checksum(&w.bytes[..n]).to_le_bytes());
                    assert_eq!(w.bytes[14..18], c32.checksum(&f[4..14]).to_le_bytes());
                    assert!(w.start > last_start, "in order, stamped by the device");
                    last_start = w.start;
                }
                // A 2-byte frame has no room for the span and its CRC; 9601 bytes is too long.
                TxOutcome::Rejected(why) => {
                    assert!(f.len() == 2 || f.len() == 9601, "{} bytes: {why}", f.len());
                }
                TxOutcome::Refused(c) => panic!("{} bytes refused by the device: {c:?}", f.len()),
            }
        }
        assert!(matches!(run.outcomes[4], TxOutcome::Rejected(_)));
        assert!(run.cycles > 0);
    }
}
