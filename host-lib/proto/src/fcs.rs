//! The Ethernet frame check sequence (CRC-32, as IEEE 802.3 appends it) and CRC-32C (the
//! Castagnoli CRC of iSCSI and RDMA/MPA), computed by the `crc` crate.

use crc::{Crc, CRC_32_ISCSI, CRC_32_ISO_HDLC};

const ETHERNET: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);
const CASTAGNOLI: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// Bytes of an FCS.
pub const FCS_BYTES: usize = 4;

/// The FCS of `frame` (without its FCS) as it goes on the wire: least significant byte first.
pub fn fcs(frame: &[u8]) -> [u8; 4] {
    ETHERNET.checksum(frame).to_le_bytes()
}

/// `frame` with its FCS appended.
pub fn with_fcs(mut frame: Vec<u8>) -> Vec<u8> {
    let c = fcs(&frame);
    frame.extend_from_slice(&c);
    frame
}

/// True when the last 4 bytes of `frame` are the FCS of the bytes before them.
pub fn fcs_ok(frame: &[u8]) -> bool {
    frame.len() >= FCS_BYTES && {
        let n = frame.len() - FCS_BYTES;
        fcs(&frame[..n]) == frame[n..]
    }
}

/// CRC-32C of `data` (as the device inserts it, least significant byte first, with
/// `to_le_bytes`).
pub fn crc32c(data: &[u8]) -> u32 {
    CASTAGNOLI.checksum(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_of_both_crcs() {
        // The catalogue's check value: the CRC of the ASCII digits 1..9.
        assert_eq!(u32::from_le_bytes(fcs(b"123456789")), CRC_32_ISO_HDLC.check);
        assert_eq!(crc32c(b"123456789"), CRC_32_ISCSI.check);
        let f = with_fcs(b"abc".to_vec());
        assert_eq!(f.len(), 7);
        assert!(fcs_ok(&f));
        let mut bad = f.clone();
        bad[0] ^= 1;
        assert!(!fcs_ok(&bad));
        assert!(!fcs_ok(&[1, 2, 3]));
    }
}
