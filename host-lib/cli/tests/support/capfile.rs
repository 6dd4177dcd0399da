//! Capture files written byte by byte as the pcap and pcapng formats lay them out, quirks
//! included, for the reader's tests and the replay's.

#![allow(dead_code)]

/// Link-type word of Ethernet.
pub const ETHERNET: u32 = 1;

fn put16(out: &mut Vec<u8>, big: bool, v: u16) {
    out.extend_from_slice(&if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

fn put32(out: &mut Vec<u8>, big: bool, v: u32) {
    out.extend_from_slice(&if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

/// A pcap file.
pub struct PcapFile {
    pub bytes: Vec<u8>,
    big: bool,
}

impl PcapFile {
    /// The 24-byte header: version 2.4, `link` the whole link-type word (FCS bits included).
    pub fn new(big: bool, nanos: bool, snaplen: u32, link: u32) -> PcapFile {
        let mut bytes = Vec::new();
        put32(
            &mut bytes,
            big,
            if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 },
        );
        put16(&mut bytes, big, 2);
        put16(&mut bytes, big, 4);
        put32(&mut bytes, big, 0);
        put32(&mut bytes, big, 0);
        put32(&mut bytes, big, snaplen);
        put32(&mut bytes, big, link);
        PcapFile { bytes, big }
    }

    /// A record: its header says `captured` bytes follow (normally `data.len()`).
    pub fn record_with(
        &mut self,
        secs: u32,
        fraction: u32,
        captured: u32,
        original: u32,
        data: &[u8],
    ) -> &mut PcapFile {
        for v in [secs, fraction, captured, original] {
            put32(&mut self.bytes, self.big, v);
        }
        self.bytes.extend_from_slice(data);
        self
    }

    /// A record of `data`, `original` bytes on the wire.
    pub fn record(
        &mut self,
        secs: u32,
        fraction: u32,
        original: u32,
        data: &[u8],
    ) -> &mut PcapFile {
        self.record_with(secs, fraction, data.len() as u32, original, data)
    }
}

/// A pcapng option: code and value.
pub type Opt = (u16, Vec<u8>);

/// A pcapng file.
pub struct PcapNgFile {
    pub bytes: Vec<u8>,
    big: bool,
}

impl PcapNgFile {
    /// A file starting with a section header block carrying `options`.
    pub fn new(big: bool, options: &[Opt]) -> PcapNgFile {
        let mut f = PcapNgFile {
            bytes: Vec::new(),
            big,
        };
        f.section(big, options);
        f
    }

    /// A new section (its own byte order; its interfaces start again from 0).
    pub fn section(&mut self, big: bool, options: &[Opt]) -> &mut PcapNgFile {
        self.big = big;
        let mut body = Vec::new();
        put32(&mut body, big, 0x1a2b_3c4d);
        put16(&mut body, big, 1);
        put16(&mut body, big, 0);
        body.extend_from_slice(&[0xff; 8]); // section length: unknown
        self.options_into(&mut body, options);
        self.block(0x0a0d_0d0a, &body)
    }

    /// Options, each padded to 4 bytes, with the end-of-options marker.
    pub fn options_into(&self, body: &mut Vec<u8>, options: &[Opt]) {
        if options.is_empty() {
            return;
        }
        for (code, v) in options {
            put16(body, self.big, *code);
            put16(body, self.big, v.len() as u16);
            body.extend_from_slice(v);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        body.extend_from_slice(&[0; 4]);
    }

    /// Any block: type, body (padded to 4 bytes), both lengths.
    pub fn block(&mut self, kind: u32, body: &[u8]) -> &mut PcapNgFile {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        put32(&mut self.bytes, self.big, kind);
        put32(&mut self.bytes, self.big, total);
        self.bytes.extend_from_slice(body);
        self.bytes.resize(self.bytes.len() + padded - body.len(), 0);
        put32(&mut self.bytes, self.big, total);
        self
    }

    /// An interface description block.
    pub fn interface(&mut self, link: u16, snaplen: u32, options: &[Opt]) -> &mut PcapNgFile {
        let mut body = Vec::new();
        put16(&mut body, self.big, link);
        put16(&mut body, self.big, 0);
        put32(&mut body, self.big, snaplen);
        self.options_into(&mut body, options);
        self.block(1, &body)
    }

    /// An enhanced packet block, `units` of the interface's timestamp resolution.
    pub fn enhanced(
        &mut self,
        interface: u32,
        units: u64,
        original: u32,
        data: &[u8],
        options: &[Opt],
    ) -> &mut PcapNgFile {
        let mut body = Vec::new();
        put32(&mut body, self.big, interface);
        put32(&mut body, self.big, (units >> 32) as u32);
        put32(&mut body, self.big, units as u32);
        put32(&mut body, self.big, data.len() as u32);
        put32(&mut body, self.big, original);
        body.extend_from_slice(data);
        body.resize(body.len().div_ceil(4) * 4, 0);
        self.options_into(&mut body, options);
        self.block(6, &body)
    }

    /// A simple packet block (interface 0, no timestamp).
    pub fn simple(&mut self, original: u32, data: &[u8]) -> &mut PcapNgFile {
        let mut body = Vec::new();
        put32(&mut body, self.big, original);
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// An obsolete packet block.
    pub fn packet(
        &mut self,
        interface: u16,
        units: u64,
        original: u32,
        data: &[u8],
    ) -> &mut PcapNgFile {
        let mut body = Vec::new();
        put16(&mut body, self.big, interface);
        put16(&mut body, self.big, 0);
        put32(&mut body, self.big, (units >> 32) as u32);
        put32(&mut body, self.big, units as u32);
        put32(&mut body, self.big, data.len() as u32);
        put32(&mut body, self.big, original);
        body.extend_from_slice(data);
        self.block(2, &body)
    }

    /// A 4-byte option value in the file's byte order.
    pub fn u32_opt(&self, code: u16, v: u32) -> Opt {
        let mut b = Vec::new();
        put32(&mut b, self.big, v);
        (code, b)
    }

    /// An 8-byte option value in the file's byte order.
    pub fn u64_opt(&self, code: u16, v: u64) -> Opt {
        (
            code,
            if self.big {
                v.to_be_bytes().to_vec()
            } else {
                v.to_le_bytes().to_vec()
            },
        )
    }
}

/// What tshark reads of a capture file: per packet, `frame.len`, `frame.cap_len` and
/// `frame.time_epoch`; `None` when tshark is not installed. Records without an encapsulation
/// (tshark shows a pcapng custom block as one) are not packets and are left out.
pub fn tshark_frames(path: &std::path::Path) -> Option<Vec<(u32, u32, String)>> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.encap_type",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .filter(|l| !l.split('\t').nth(3).unwrap_or("").is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f.get(2).unwrap_or(&"").to_string(),
                )
            })
            .collect(),
    )
}
