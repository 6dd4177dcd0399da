//! `evnic tx`: sends frames through the simulated transmit path (the Verilator model of the
//! RTL, cycle by cycle) and returns what leaves the MAC port: padded to 60 bytes, CRC-32C
//! inserted where asked (`--mpa-crc OFFSET:LEN`), the Ethernet FCS appended.
//!
//! The output is a pcap file, linktype Ethernet, **FCS included** in every packet. pcap has no
//! flag for that, so tell the reader: `tshark -r FILE -o eth.check_fcs:TRUE -o eth.fcs:Always`
//! validates each frame's FCS (`eth.fcs.status`), Wireshark's Ethernet preference "Assume
//! packets have FCS: Always" likewise.
//!
//! Frames go in as given, without FCS, one descriptor each on VI 0's transmit ring (1..=9600
//! bytes; others are refused by the device with an ERROR event, reported per frame).

use evnic_regs::desc::{self, TxDesc};
use evnic_regs::event::{ErrorCode, Event, EventType};
use evnic_regs::map::{global as g, global_reg, vi, vi_reg};
use evnic_sim::{SimConfig, SimDevice};
use std::path::Path;

const RING_LOG2: u32 = 10;
const EVQ_LOG2: u32 = 12;
const EVQ: u64 = 0x1_0000_0000;
const MEM: u64 = 0x2_0000_0000;

/// Options of `evnic tx`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TxCmdOptions {
    /// Insert CRC-32C over `[offset, offset + len)` into the 4 bytes after it, in every frame.
    pub mpa_crc: Option<(u16, u16)>,
}

/// What became of one input frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// Sent: the bytes on the wire (FCS included).
    Sent(Vec<u8>),
    /// Refused by the device.
    Refused(ErrorCode),
}

fn error_code(c: u32) -> Option<ErrorCode> {
    [
        ErrorCode::IndicationRefused,
        ErrorCode::TxBadLength,
        ErrorCode::DmaFault,
        ErrorCode::BadDoorbell,
    ]
    .into_iter()
    .find(|e| *e as u32 == c)
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

/// Sends `frames` through the simulated transmit path; returns each frame's outcome, in order,
/// and the cycles it took.
pub fn transmit(frames: &[Vec<u8>], opts: TxCmdOptions) -> Result<(Vec<TxOutcome>, u64), String> {
    let mut d = SimDevice::new(SimConfig::default()).map_err(|e| e.to_string())?;
    let ring = 1usize << RING_LOG2;
    let total: usize = frames.iter().map(|f| f.len().next_multiple_of(16)).sum();
    let arena_len = ring * desc::DESC_BYTES + total.min(ring * 16 * 1024) + 16;
    let mut arena = vec![0u64; arena_len.div_ceil(8)].into_boxed_slice();
    let mut events = vec![0u64; 2 << EVQ_LOG2].into_boxed_slice();
    // SAFETY: both live until the device is dropped at the end of this function.
    unsafe {
        d.memory
            .map(MEM, arena.as_mut_ptr() as *mut u8, arena.len() * 8)
            .map_err(|e| e.to_string())?;
        d.memory
            .map(EVQ, events.as_mut_ptr() as *mut u8, events.len() * 8)
            .map_err(|e| e.to_string())?;
    }
    let w = |d: &mut SimDevice, off: u32, v: u32| d.write32(off, v).map_err(|e| e.to_string());
    w(&mut d, vi_reg(0, &vi::EVQ_BASE_LO), EVQ as u32)?;
    w(&mut d, vi_reg(0, &vi::EVQ_BASE_HI), (EVQ >> 32) as u32)?;
    w(&mut d, vi_reg(0, &vi::EVQ_SIZE), EVQ_LOG2)?;
    w(&mut d, vi_reg(0, &vi::TXQ_BASE_LO), MEM as u32)?;
    w(&mut d, vi_reg(0, &vi::TXQ_BASE_HI), (MEM >> 32) as u32)?;
    w(&mut d, vi_reg(0, &vi::TXQ_SIZE), RING_LOG2)?;
    w(&mut d, global_reg(&g::CONTROL), g::CONTROL_ENABLE.put(1))?;
    let start = d.cycle();
    let mut outcomes = Vec::with_capacity(frames.len());
    let mut wire = Vec::new();
    let mut evq_read = 0u32;
    // Batches that fit the ring and the arena; each is sent with one doorbell.
    let mut i = 0;
    let mut posted = 0u32;
    while i < frames.len() {
        let mut at = ring * desc::DESC_BYTES;
        let first = i;
        while i < frames.len() && i - first < ring {
            let f = &frames[i];
            let room = arena.len() * 8;
            if at + f.len() > room && i > first {
                break;
            }
            // SAFETY: our arena; the device reads it only inside `step`.
            let bytes =
                unsafe { std::slice::from_raw_parts_mut(arena.as_mut_ptr() as *mut u8, room) };
            let n = f.len().min(room - at);
            bytes[at..at + n].copy_from_slice(&f[..n]);
            let mut dsc = TxDesc {
                addr: MEM + at as u64,
                len: f.len().min(u16::MAX as usize) as u16,
                ..Default::default()
            };
            if let Some((off, len)) = opts.mpa_crc {
                dsc.flags = desc::TX_FLAG_CRC32C;
                dsc.crc_offset = off;
                dsc.crc_len = len;
            }
            let slot = (posted as usize) % ring;
            let [w0, w1] = dsc.encode();
            arena[2 * slot] = w0;
            arena[2 * slot + 1] = w1;
            posted = posted.wrapping_add(1);
            at = (at + n).next_multiple_of(16);
            i += 1;
        }
        w(&mut d, vi_reg(0, &vi::TXQ_WPTR), posted)?;
        let want = i - first;
        let mut got = 0;
        let limit = d.cycle() + 1_000_000 + 4 * (at as u64);
        while got < want {
            d.run(256);
            wire.extend(d.take_tx_frames().into_iter().map(|f| f.bytes));
            loop {
                let s = (evq_read % (1 << EVQ_LOG2)) as usize;
                // SAFETY: reading our own event ring between device steps.
                let words = unsafe {
                    [
                        std::ptr::read_volatile(&events[2 * s]),
                        std::ptr::read_volatile(&events[2 * s + 1]),
                    ]
                };
                let e = Event::decode(words);
                if e.kind == 0 || e.phase != (evq_read >> EVQ_LOG2).is_multiple_of(2) {
                    break;
                }
                evq_read = evq_read.wrapping_add(1);
                match e.event_type() {
                    Some(EventType::TxDone) => {
                        got += 1;
                        outcomes.push(None);
                    }
                    Some(EventType::Error) => {
                        got += 1;
                        let code = error_code(e.payload)
                            .ok_or_else(|| format!("unknown error code {}", e.payload))?;
                        outcomes.push(Some(code));
                    }
                    _ => {}
                }
            }
            w(&mut d, vi_reg(0, &vi::EVQ_RPTR), evq_read)?;
            if d.cycle() > limit {
                return Err(format!(
                    "the transmit path stalled: {got} of {want} completions"
                ));
            }
        }
    }
    d.run(64);
    wire.extend(d.take_tx_frames().into_iter().map(|f| f.bytes));
    if !d.faults().is_empty() {
        return Err(format!("DMA faults (a bug): {:?}", d.faults()));
    }
    let sent = outcomes.iter().filter(|o| o.is_none()).count();
    if sent != wire.len() {
        return Err(format!(
            "{sent} TX_DONE events but {} frames on the wire",
            wire.len()
        ));
    }
    let mut wire = wire.into_iter();
    let out = outcomes
        .into_iter()
        .map(|o| match o {
            None => TxOutcome::Sent(wire.next().unwrap()),
            Some(c) => TxOutcome::Refused(c),
        })
        .collect();
    let cycles = d.cycle() - start;
    drop(d);
    drop(arena);
    drop(events);
    Ok((out, cycles))
}

/// Writes frames (FCS included) to a pcap, linktype Ethernet, one microsecond apart.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) -> Result<(), String> {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(|e| err(&e))?;
    let header = PcapHeader {
        snaplen: 65535,
        datalink: pcap_file::DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(file, header).map_err(|e| err(&e))?;
    for (i, f) in frames.iter().enumerate() {
        let ts = std::time::Duration::from_micros(i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .map_err(|e| err(&e))?;
    }
    Ok(())
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
        let frames: Vec<Vec<u8>> = [20usize, 100, 1514, 9000, 2]
            .iter()
            .map(|&n| (0..n).map(|i| (i * 13) as u8).collect())
            .collect();
        let (out, _) = transmit(
            &frames,
            TxCmdOptions {
                mpa_crc: Some((4, 10)),
            },
        )
        .unwrap();
        assert_eq!(out.len(), frames.len());
        for (f, o) in frames.iter().zip(&out) {
            match o {
                TxOutcome::Sent(w) => {
                    assert_eq!(w.len(), f.len().max(60) + 4);
                    let n = w.len() - 4;
                    assert_eq!(w[n..], fcs.checksum(&w[..n]).to_le_bytes());
                    assert_eq!(w[14..18], c32.checksum(&f[4..14]).to_le_bytes());
                }
                // A 2-byte frame has no room for the span and its CRC.
                TxOutcome::Refused(c) => {
                    assert_eq!((f.len(), *c), (2, ErrorCode::TxBadLength));
                }
            }
        }
        assert!(matches!(out[4], TxOutcome::Refused(_)));
    }
}
