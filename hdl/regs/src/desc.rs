//! Descriptor formats of the receive and transmit rings in host memory: 16 bytes each, two
//! little-endian 64-bit words, read by the device through its DMA read port.
//!
//! Receive descriptor: word 0 the buffer address (IOVA), word 1 bits 15:0 the buffer length in
//! bytes (a frame longer than its buffer is cut and flagged TRUNCATED).
//!
//! Transmit descriptor: word 0 the frame address, word 1:
//!
//! | bits | field |
//! |---|---|
//! | 15:0 | frame length in bytes, without FCS (1..=[`TX_MAX_LEN`]) |
//! | 31:16 | CRC-32C span offset within the frame |
//! | 47:32 | CRC-32C span length (0: no CRC-32C) |
//! | 55:48 | flags ([`TX_FLAG_CRC32C`]) |
//! | 63:56 | reserved, 0 |
//!
//! With [`TX_FLAG_CRC32C`], the device computes CRC-32C over the span and writes it, least
//! significant byte first, over the 4 bytes that follow the span (the frame carries room for it),
//! then appends the Ethernet FCS over the whole frame. Frames shorter than 60 bytes are padded
//! with zeros to 60 before the FCS.
//!
//! Refused descriptors complete with an ERROR event (aux = the descriptor index, bits 15:0)
//! and send nothing: a length of 0 or above [`TX_MAX_LEN`], or, with [`TX_FLAG_CRC32C`] and a
//! span length != 0, a span whose 4 CRC bytes do not fit in the frame
//! (`offset + length + 4 > frame length`) give `TxBadLength`; a refused DMA read of the
//! descriptor or of any part of the frame gives `DmaFault`. The flag with span length 0
//! inserts nothing.

/// Bytes per descriptor.
pub const DESC_BYTES: usize = 16;
/// Field positions in word 1 of a transmit descriptor (lsb, width).
pub const TX_LEN: (u32, u32) = (0, 16);
pub const TX_CRC_OFFSET: (u32, u32) = (16, 16);
pub const TX_CRC_LEN: (u32, u32) = (32, 16);
pub const TX_FLAGS: (u32, u32) = (48, 8);
/// Transmit flag: insert CRC-32C after the span.
pub const TX_FLAG_CRC32C: u8 = 1 << 0;
/// Longest frame the transmit path accepts (without FCS).
pub const TX_MAX_LEN: u32 = 9600;
/// Minimum frame length before the FCS; shorter frames are padded.
pub const MIN_FRAME_NO_FCS: u32 = 60;
/// Field positions in word 1 of a receive descriptor (lsb, width).
pub const RX_BUF_LEN: (u32, u32) = (0, 16);

/// A transmit descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxDesc {
    pub addr: u64,
    pub len: u16,
    pub crc_offset: u16,
    pub crc_len: u16,
    pub flags: u8,
}

impl TxDesc {
    /// The two words as the device reads them.
    pub fn encode(&self) -> [u64; 2] {
        let put = |v: u64, (lsb, w): (u32, u32)| (v & ((1 << w) - 1)) << lsb;
        [
            self.addr,
            put(self.len as u64, TX_LEN)
                | put(self.crc_offset as u64, TX_CRC_OFFSET)
                | put(self.crc_len as u64, TX_CRC_LEN)
                | put(self.flags as u64, TX_FLAGS),
        ]
    }
}

/// A receive descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxDesc {
    pub addr: u64,
    pub len: u16,
}

impl RxDesc {
    /// The two words as the device reads them.
    pub fn encode(&self) -> [u64; 2] {
        [self.addr, self.len as u64]
    }
}
