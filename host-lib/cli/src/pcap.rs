//! pcap files out: nanosecond timestamps, linktype Ethernet, every frame with its FCS.
//!
//! pcap has no flag for "frames carry their FCS", so tell the reader:
//! `tshark -r FILE -o eth.check_fcs:TRUE -o eth.fcs:Always` validates each frame's FCS.

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Why a pcap could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {why}", path.display())]
pub struct PcapError {
    /// The file.
    pub path: PathBuf,
    /// What failed.
    pub why: String,
}

/// A pcap file being written.
pub struct PcapOut {
    path: PathBuf,
    w: PcapWriter<BufWriter<File>>,
    frames: usize,
}

impl PcapOut {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<PcapOut, PcapError> {
        let err = |why: String| PcapError {
            path: path.to_path_buf(),
            why,
        };
        let file = File::create(path).map_err(|e| err(e.to_string()))?;
        let header = PcapHeader {
            snaplen: 65535,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::NanoSecond,
            ..Default::default()
        };
        let w = PcapWriter::with_header(BufWriter::new(file), header)
            .map_err(|e| err(e.to_string()))?;
        Ok(PcapOut {
            path: path.to_path_buf(),
            w,
            frames: 0,
        })
    }

    /// Appends a frame captured at `time`.
    pub fn write(&mut self, time: SystemTime, frame: &[u8]) -> Result<(), PcapError> {
        let ts = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        self.w
            .write_packet(&PcapPacket::new(ts, frame.len() as u32, frame))
            .map_err(|e| PcapError {
                path: self.path.clone(),
                why: e.to_string(),
            })?;
        self.frames += 1;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Flushes and closes the file.
    pub fn finish(self) -> Result<(), PcapError> {
        let path = self.path;
        let mut inner = self.w.into_writer();
        std::io::Write::flush(&mut inner).map_err(|e| PcapError {
            path,
            why: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_their_nanoseconds() {
        let path = std::env::temp_dir().join(format!("evnic-pcap-{}.pcap", std::process::id()));
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let mut p = PcapOut::create(&path).unwrap();
        p.write(t, &[1, 2, 3]).unwrap();
        p.finish().unwrap();
        let data = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let c = crate::capture::parse_capture(&data).unwrap();
        assert!(matches!(
            c.format,
            crate::capture::Format::Pcap { nanos: true, .. }
        ));
        let pkt = c.records().next().unwrap();
        assert_eq!(pkt.time.unwrap().to_string(), "1700000000.123456789");
        assert_eq!(pkt.link_type, crate::capture::LINKTYPE_ETHERNET);
        assert_eq!(pkt.data, [1, 2, 3]);
    }
}
