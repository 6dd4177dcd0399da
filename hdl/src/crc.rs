//! A parallel CRC-32 engine: 8 bytes per cycle, byte enables on the last word.
//!
//! [`CrcEngine`] computes any reflected 32-bit CRC whose polynomial is given to
//! [`CrcEngine::new`]; [`CrcEngine::crc32`] is the Ethernet FCS CRC
//! (CRC-32/ISO-HDLC: poly 0x04C11DB7, reflected, init 0xFFFFFFFF, xorout 0xFFFFFFFF) and
//! [`CrcEngine::crc32c`] is CRC-32C (Castagnoli, CRC-32/ISCSI: poly 0x1EDC6F41, same
//! reflection, init and xorout), as used by iSCSI and RDMA/MPA.
//!
//! # Ports
//!
//! | port       | dir | width | meaning |
//! |------------|-----|-------|---------|
//! | `clock`    | in  | clock | rising edge |
//! | `reset`    | in  | 1     | synchronous, active high: the state becomes the empty message (`crc` = 0 the cycle after) |
//! | `start`    | in  | 1     | with `valid`: this beat is the first of a new message (the state restarts from init) |
//! | `valid`    | in  | 1     | this cycle carries a beat to add; without it the state holds |
//! | `data`     | in  | 64    | byte `i` is `data[8i+7:8i]`; byte 0 (`data[7:0]`) is first on the wire |
//! | `keep`     | in  | 8     | byte enables, contiguous from bit 0; all ones except possibly on a message's last beat |
//! | `crc`      | out | 32    | registered: the finished CRC (xorout applied) of all bytes fed since the last `start` |
//! | `crc_next` | out | 32    | combinational: the finished CRC including the current beat (equals `crc` when `valid` is low) |
//!
//! The number of bytes a beat adds is the position of the highest set bit of `keep` plus one
//! (0 for `keep == 0`); bytes above it are ignored whatever their value, so a `keep` that is
//! not contiguous is read as if the gaps were set.
//!
//! # Timing (cycles)
//!
//! * A beat presented with `valid` at rising edge `N` is absorbed at that edge: `crc_next`
//!   shows its result combinationally during cycle `N` (for a same-cycle check on a last beat),
//!   and `crc` shows the same value from edge `N` on, i.e. during cycle `N+1`, one cycle after
//!   the beat. `crc` holds until the next beat with `valid`.
//! * Back to back: a new message's first beat (`start` and `valid`) may follow a last beat in
//!   the very next cycle; in that cycle `crc` still shows the finished CRC of the previous
//!   message while `crc_next` already shows the new one. The engine never stalls.
//! * `reset` at edge `N` makes `crc` = CRC of the empty message (0) from cycle `N+1`, whatever
//!   beat was presented; `crc_next` ignores `reset`. The power-up state equals the reset state.
//!
//! # On the wire
//!
//! The CRC is reflected, so bit 0 of `crc` belongs to the first bit sent. The Ethernet FCS is
//! the 4 bytes of `crc` little-endian: `crc[7:0]` is sent first, then `crc[15:8]`,
//! `crc[23:16]`, `crc[31:24]`. In this 64-bit beat layout, after a payload of `L` bytes the
//! FCS occupies byte lanes `L mod 8 ..` onwards, i.e. `data[8(L mod 8)+31 : 8(L mod 8)]` holds
//! `crc` unchanged when the 4 bytes fit, and spills into lanes 0.. of the next beat when
//! `L mod 8 > 4`. (`crc::CRC_32_ISO_HDLC` computes the same value, and `value.to_le_bytes()`
//! is the FCS.) Running the CRC-32 over a frame *including* a
//! correct FCS gives the constant finished value [`CRC32_RESIDUE`] (0x2144DF1C; the raw
//! register before xorout is its complement 0xDEBB20E3).
//!
//! # Hardware
//!
//! The register holds the finished CRC, so power-up, reset and `crc` need no logic. For each
//! beat length `k` in 1..=8 bytes the next register is a linear function of the current CRC
//! and the data: each of its 32 bits is the XOR-reduction of (state & mask) ^ (data & mask),
//! with masks computed in [`CrcEngine::new`] from the polynomial. That is 8 balanced XOR trees
//! of at most 96 inputs per bit (depth about 7 XOR2 levels) and an 8-way select by `keep`.

use rust_hdl::prelude::*;

/// The CRC-32 (Ethernet FCS) polynomial, normal (non-reflected) form.
pub const CRC32_POLY: u32 = 0x04C1_1DB7;
/// The CRC-32C (Castagnoli) polynomial, normal (non-reflected) form.
pub const CRC32C_POLY: u32 = 0x1EDC_6F41;
/// Init value of both CRCs (the register before the first byte).
pub const CRC_INIT: u32 = 0xFFFF_FFFF;
/// Final XOR of both CRCs.
pub const CRC_XOROUT: u32 = 0xFFFF_FFFF;
/// The finished CRC-32 (xorout applied) of any message followed by its correct FCS.
pub const CRC32_RESIDUE: u32 = 0x2144_DF1C;

/// Number of (beat length, output bit) pairs: 8 lengths of 1..=8 bytes, 32 bits each.
const MASKS: usize = 8 * 32;

/// Advances a reflected CRC register (raw, before xorout) over the low `nbits` bits of `data`,
/// least significant bit first. `rpoly` is the reflected polynomial.
fn raw_step(mut r: u32, data: u64, nbits: usize, rpoly: u32) -> u32 {
    for i in 0..nbits {
        let feedback = (r ^ (data >> i) as u32) & 1;
        r >>= 1;
        if feedback != 0 {
            r ^= rpoly;
        }
    }
    r
}

/// Software model of the engine's CRC for a reflected CRC with init and xorout of all ones:
/// the finished CRC of `bytes`. Used to build the masks' tests and useful to callers.
pub fn crc_reference(poly: u32, bytes: &[u8]) -> u32 {
    let rpoly = poly.reverse_bits();
    let mut r = CRC_INIT;
    for &b in bytes {
        r = raw_step(r, b as u64, 8, rpoly);
    }
    r ^ CRC_XOROUT
}

/// A reflected 32-bit CRC engine that absorbs up to 8 bytes per cycle.
/// See the module documentation for ports and timing.
#[derive(LogicBlock)]
pub struct CrcEngine {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub start: Signal<In, Bit>,
    pub valid: Signal<In, Bit>,
    pub data: Signal<In, Bits<64>>,
    pub keep: Signal<In, Bits<8>>,
    pub crc: Signal<Out, Bits<32>>,
    pub crc_next: Signal<Out, Bits<32>>,
    /// The finished CRC (raw register ^ xorout) of the bytes since the last start.
    state: DFF<Bits<32>>,
    /// The raw register the current beat starts from.
    base: Signal<Local, Bits<32>>,
    /// The raw register after the current beat.
    raw_next: Signal<Local, Bits<32>>,
    init: Constant<Bits<32>>,
    xorout: Constant<Bits<32>>,
    /// The finished CRC of the empty message (init ^ xorout): the reset value.
    empty: Constant<Bits<32>>,
    /// `state_mask[(k-1)*32 + j]`: the raw-register bits that feed bit `j` after `k` bytes.
    state_mask: [Constant<Bits<32>>; MASKS],
    /// `data_mask[(k-1)*32 + j]`: the data bits that feed bit `j` after `k` bytes.
    data_mask: [Constant<Bits<64>>; MASKS],
}

impl CrcEngine {
    /// An engine for the reflected CRC with polynomial `poly` (normal form, e.g. 0x04C11DB7),
    /// init 0xFFFFFFFF and xorout 0xFFFFFFFF.
    pub fn new(poly: u32) -> Self {
        let rpoly = poly.reverse_bits();
        let mut smask = [0u32; MASKS];
        let mut dmask = [0u64; MASKS];
        for k in 1..=8usize {
            let nbits = 8 * k;
            for i in 0..32 {
                let col = raw_step(1 << i, 0, nbits, rpoly);
                for (j, m) in smask[(k - 1) * 32..k * 32].iter_mut().enumerate() {
                    if (col >> j) & 1 != 0 {
                        *m |= 1 << i;
                    }
                }
            }
            for i in 0..nbits {
                let col = raw_step(0, 1 << i, nbits, rpoly);
                for (j, m) in dmask[(k - 1) * 32..k * 32].iter_mut().enumerate() {
                    if (col >> j) & 1 != 0 {
                        *m |= 1 << i;
                    }
                }
            }
        }
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            valid: Default::default(),
            data: Default::default(),
            keep: Default::default(),
            crc: Default::default(),
            crc_next: Default::default(),
            state: Default::default(),
            base: Default::default(),
            raw_next: Default::default(),
            init: Constant::new((CRC_INIT as u64).into()),
            xorout: Constant::new((CRC_XOROUT as u64).into()),
            empty: Constant::new(((CRC_INIT ^ CRC_XOROUT) as u64).into()),
            state_mask: std::array::from_fn(|n| Constant::new((smask[n] as u64).into())),
            data_mask: std::array::from_fn(|n| Constant::new(dmask[n].into())),
        }
    }

    /// The Ethernet FCS CRC (CRC-32/ISO-HDLC).
    pub fn crc32() -> Self {
        Self::new(CRC32_POLY)
    }

    /// CRC-32C (Castagnoli, CRC-32/ISCSI).
    pub fn crc32c() -> Self {
        Self::new(CRC32C_POLY)
    }
}

impl Logic for CrcEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, state);
        // The raw register this beat starts from.
        self.base.next = self.state.q.val() ^ self.xorout.val();
        if self.start.val() {
            self.base.next = self.init.val();
        }
        // The raw register after this beat: one linear map per beat length.
        self.raw_next.next = self.base.val();
        if self.keep.val().get_bit(7) {
            for j in 0..32 {
                self.raw_next.next = self.raw_next.val().replace_bit(
                    j,
                    (self.base.val() & self.state_mask[7 * 32 + j].val()).xor()
                        ^ (self.data.val() & self.data_mask[7 * 32 + j].val()).xor(),
                );
            }
        } else if self.keep.val().get_bit(6) {
            for j in 0..32 {
                self.raw_next.next = self.raw_next.val().replace_bit(
                    j,
                    (self.base.val() & self.state_mask[6 * 32 + j].val()).xor()
                        ^ (self.data.val() & self.data_mask[6 * 32 + j].val()).xor(),
                );
            }
        } else if self.keep.val().get_bit(5) {
            for j in 0..32 {
                self.raw_next.next = self.raw_next.val().replace_bit(
                    j,
                    (self.base.val() & self.state_mask[5 * 32 + j].val()).xor()
                        ^ (self.data.val() & self.data_mask[5 * 32 + j].val()).xor(),
                );
            }
        } else if self.keep.val().get_bit(4) {
            for j in 0..32 {
                self.raw_next.next = self.raw_next.val().replace_bit(
                    j,
                    (self.base.val() & self.state_mask[4 * 32 + j].val()).xor()
                        ^ (self.data.val() & self.data_mask[4 * 32 + j].val()).xor(),
                );
            }
        } else if self.keep.val().get_bit(3) {
            for j in 0..32 {
                self.raw_next.next = self.raw_next.val().replace_bit(
                    j,
                    (self.base.val() & self.state_mask[3 * 32 + j].val()).xor()
                        ^ (self.data.val() & self.data_mask[3 * 32 + j].val()).xor(),
                );
            }
        } else if self.keep.val().get_bit(2) {
            for j in 0..32 {
                self.raw_next.next = self.raw_next.val().replace_bit(
                    j,
                    (self.base.val() & self.state_mask[2 * 32 + j].val()).xor()
                        ^ (self.data.val() & self.data_mask[2 * 32 + j].val()).xor(),
                );
            }
        } else if self.keep.val().get_bit(1) {
            for j in 0..32 {
                self.raw_next.next = self.raw_next.val().replace_bit(
                    j,
                    (self.base.val() & self.state_mask[32 + j].val()).xor()
                        ^ (self.data.val() & self.data_mask[32 + j].val()).xor(),
                );
            }
        } else if self.keep.val().get_bit(0) {
            for j in 0..32 {
                self.raw_next.next = self.raw_next.val().replace_bit(
                    j,
                    (self.base.val() & self.state_mask[j].val()).xor()
                        ^ (self.data.val() & self.data_mask[j].val()).xor(),
                );
            }
        }
        // Without a beat the state holds (and start is ignored).
        if !self.valid.val() {
            self.raw_next.next = self.state.q.val() ^ self.xorout.val();
        }
        self.crc_next.next = self.raw_next.val() ^ self.xorout.val();
        self.crc.next = self.state.q.val();
        self.state.d.next = self.raw_next.val() ^ self.xorout.val();
        if self.reset.val() {
            self.state.d.next = self.empty.val();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crc::{Crc, CRC_32_ISCSI, CRC_32_ISO_HDLC};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    pub(crate) const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);
    pub(crate) const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

    /// Splits `msg` into 64-bit beats (byte 0 in bits 7:0) with contiguous keep; the bytes a
    /// beat does not keep are random, which the hardware must ignore.
    pub(crate) fn to_beats(msg: &[u8], rng: &mut ChaCha8Rng) -> Vec<(u64, u8)> {
        msg.chunks(8)
            .map(|chunk| {
                let mut bytes: [u8; 8] = rng.gen();
                bytes[..chunk.len()].copy_from_slice(chunk);
                (u64::from_le_bytes(bytes), ((1u16 << chunk.len()) - 1) as u8)
            })
            .collect()
    }

    /// Writes `verilog` to a file and asserts that Verilator lints it clean.
    pub(crate) fn verilator_lint(name: &str, verilog: &str) {
        let dir = std::env::temp_dir().join(format!("evnic-lint-{}-{}", name, std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}.v"));
        std::fs::write(&file, verilog).unwrap();
        let out = std::process::Command::new("verilator")
            .args([
                "--lint-only",
                "-Wall",
                "-Wno-WIDTH",
                "-Wno-DECLFILENAME",
                "-Wno-UNUSEDSIGNAL",
                "-Wno-UNUSEDPARAM",
            ])
            .arg(&file)
            .output()
            .expect("verilator must be installed to lint the generated Verilog");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "verilator lint of {name} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Builds `verilog` (module `top`) with Verilator and the C++ harness `main_cpp`, runs it
    /// on `stimulus` (given as the file path argv[1]), asserts that it exits 0, and returns
    /// its standard output. This checks the generated Verilog itself, not RustHDL's model.
    pub(crate) fn verilator_cosim(
        name: &str,
        verilog: &str,
        main_cpp: &str,
        stimulus: &str,
    ) -> String {
        let dir = std::env::temp_dir().join(format!("evnic-cosim-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("top.v"), verilog).unwrap();
        std::fs::write(dir.join("main.cpp"), main_cpp).unwrap();
        std::fs::write(dir.join("stim.txt"), stimulus).unwrap();
        let build = std::process::Command::new("verilator")
            .current_dir(&dir)
            .args([
                "--cc",
                "--exe",
                "--build",
                "-Wno-WIDTH",
                "-Wno-fatal",
                "--Mdir",
                "obj",
            ])
            .args(["top.v", "main.cpp", "-CFLAGS", "-O0", "-MAKEFLAGS"])
            .arg("OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0")
            .output()
            .expect("verilator must be installed to simulate the generated Verilog");
        assert!(
            build.status.success(),
            "verilator build of {name} failed:\n{}",
            String::from_utf8_lossy(&build.stderr)
        );
        let run = std::process::Command::new(dir.join("obj").join("Vtop"))
            .arg(dir.join("stim.txt"))
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        assert!(
            run.status.success(),
            "Verilator simulation of {name} failed: {stdout}"
        );
        stdout
    }

    fn settle(uut: &mut CrcEngine) {
        assert!(simulate(uut, 100), "the circuit did not settle");
    }

    /// Presents the inputs for one cycle: returns `crc_next` as seen before the rising edge,
    /// then clocks (rising then falling edge).
    fn cycle(uut: &mut CrcEngine, reset: bool, start: bool, valid: bool, beat: (u64, u8)) -> u32 {
        uut.reset.next = reset;
        uut.start.next = start;
        uut.valid.next = valid;
        uut.data.next = beat.0.into();
        uut.keep.next = (beat.1 as u64).into();
        settle(uut);
        let next = uut.crc_next.val().to_u32();
        uut.clock.next = true.into();
        settle(uut);
        uut.clock.next = false.into();
        settle(uut);
        next
    }

    fn new_uut(poly: u32) -> CrcEngine {
        let mut uut = CrcEngine::new(poly);
        uut.connect_all();
        check_all(&uut).unwrap();
        settle(&mut uut);
        cycle(&mut uut, true, false, false, (0, 0));
        assert_eq!(
            uut.crc.val().to_u32(),
            0,
            "reset gives the empty message's CRC"
        );
        uut
    }

    /// Feeds `msg` (start on its first beat, random idle cycles between beats when `gaps`),
    /// checking `crc_next` and `crc` against `reference` after every beat. Returns the CRC.
    fn feed(
        uut: &mut CrcEngine,
        reference: &Crc<u32>,
        msg: &[u8],
        gaps: bool,
        rng: &mut ChaCha8Rng,
    ) -> u32 {
        let beats = to_beats(msg, rng);
        let mut digest = reference.digest();
        for (n, &beat) in beats.iter().enumerate() {
            while gaps && rng.gen_bool(0.2) {
                // An idle cycle (with junk on the inputs, start included) changes nothing.
                let before = uut.crc.val().to_u32();
                let next = cycle(uut, false, rng.gen(), false, (rng.gen(), rng.gen()));
                assert_eq!(next, before, "crc_next equals crc without valid");
                assert_eq!(uut.crc.val().to_u32(), before, "state holds without valid");
            }
            let len = beat.1.count_ones() as usize;
            digest.update(&msg[8 * n..8 * n + len]);
            let want = digest.clone().finalize();
            let next = cycle(uut, false, n == 0, true, beat);
            assert_eq!(next, want, "crc_next after beat {n} of {} bytes", msg.len());
            assert_eq!(
                uut.crc.val().to_u32(),
                want,
                "crc after beat {n} of {} bytes",
                msg.len()
            );
        }
        uut.crc.val().to_u32()
    }

    fn random_msg(rng: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
        (0..len).map(|_| rng.gen()).collect()
    }

    /// Message lengths: every tail length 1..=8 at a few sizes, then random lengths 1..2000.
    fn lengths(rng: &mut ChaCha8Rng) -> Vec<usize> {
        let mut lens: Vec<usize> = (1..=8).chain(9..=16).chain(1993..=2000).collect();
        lens.extend((0..100).map(|_| rng.gen_range(1..=2000)));
        lens
    }

    #[test]
    fn software_model_matches_crc_crate() {
        assert_eq!(crc_reference(CRC32_POLY, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc_reference(CRC32C_POLY, b"123456789"), 0xE306_9283);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for len in 0..300 {
            let msg = random_msg(&mut rng, len);
            assert_eq!(crc_reference(CRC32_POLY, &msg), CRC32.checksum(&msg));
            assert_eq!(crc_reference(CRC32C_POLY, &msg), CRC32C.checksum(&msg));
        }
    }

    #[test]
    fn residue_of_a_frame_with_its_fcs() {
        // The constant the FCS checker compares with: a message followed by its CRC-32,
        // least significant byte first, has this finished CRC whatever the message.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for len in 0..200 {
            let mut frame = random_msg(&mut rng, len);
            let fcs = CRC32.checksum(&frame);
            frame.extend_from_slice(&fcs.to_le_bytes());
            assert_eq!(CRC32.checksum(&frame), CRC32_RESIDUE);
            assert_eq!(!CRC32.checksum(&frame), 0xDEBB_20E3, "raw register residue");
        }
    }

    #[test]
    fn check_value_123456789() {
        for (poly, want) in [(CRC32_POLY, 0xCBF4_3926), (CRC32C_POLY, 0xE306_9283)] {
            let mut uut = new_uut(poly);
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let reference = if poly == CRC32_POLY { &CRC32 } else { &CRC32C };
            assert_eq!(
                feed(&mut uut, reference, b"123456789", false, &mut rng),
                want
            );
        }
    }

    fn random_messages(poly: u32, reference: &Crc<u32>, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut uut = new_uut(poly);
        let mut tails = [0usize; 8];
        for len in lengths(&mut rng) {
            let msg = random_msg(&mut rng, len);
            let got = feed(&mut uut, reference, &msg, true, &mut rng);
            assert_eq!(got, reference.checksum(&msg), "message of {len} bytes");
            // The result holds until the next message starts.
            cycle(&mut uut, false, false, false, (rng.gen(), rng.gen()));
            assert_eq!(uut.crc.val().to_u32(), got);
            tails[(len - 1) % 8] += 1;
        }
        assert!(
            tails.iter().all(|&t| t > 0),
            "every tail length 1..=8 was tested"
        );
    }

    #[test]
    fn crc32_random_messages() {
        random_messages(CRC32_POLY, &CRC32, 10);
    }

    #[test]
    fn crc32c_random_messages() {
        random_messages(CRC32C_POLY, &CRC32C, 11);
    }

    #[test]
    fn back_to_back_messages() {
        for (poly, reference) in [(CRC32_POLY, &CRC32), (CRC32C_POLY, &CRC32C)] {
            let mut rng = ChaCha8Rng::seed_from_u64(12);
            let mut uut = new_uut(poly);
            let msgs: Vec<Vec<u8>> = (0..60)
                .map(|n| {
                    // Many one-beat messages, so that starts follow each other every cycle.
                    let len = if n % 3 == 0 {
                        rng.gen_range(1..=300)
                    } else {
                        rng.gen_range(1..=8)
                    };
                    random_msg(&mut rng, len)
                })
                .collect();
            let mut prev: Option<u32> = None;
            for msg in &msgs {
                let beats = to_beats(msg, &mut rng);
                for (n, &beat) in beats.iter().enumerate() {
                    if n == 0 {
                        // In the cycle of the next message's first beat, crc still shows
                        // the previous message's CRC.
                        if let Some(p) = prev {
                            assert_eq!(uut.crc.val().to_u32(), p);
                        }
                    }
                    cycle(&mut uut, false, n == 0, true, beat);
                }
                let got = uut.crc.val().to_u32();
                assert_eq!(
                    got,
                    reference.checksum(msg),
                    "message of {} bytes",
                    msg.len()
                );
                prev = Some(got);
            }
        }
    }

    #[test]
    fn reset_in_the_middle_of_a_message() {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let mut uut = new_uut(CRC32_POLY);
        for round in 0..20 {
            let len = rng.gen_range(17..=200);
            let msg = random_msg(&mut rng, len);
            let beats = to_beats(&msg, &mut rng);
            let cut = rng.gen_range(1..beats.len() - 1);
            for (n, &beat) in beats[..cut].iter().enumerate() {
                cycle(&mut uut, false, n == 0, true, beat);
            }
            assert_ne!(uut.crc.val().to_u32(), 0);
            // Reset wins over a beat presented in the same cycle (with or without start).
            let beat = (rng.gen(), 0xff);
            cycle(&mut uut, true, rng.gen(), round % 2 == 0, beat);
            assert_eq!(uut.crc.val().to_u32(), 0, "reset gives the empty message");
            let idle = cycle(&mut uut, false, false, false, (rng.gen(), rng.gen()));
            assert_eq!(idle, 0, "crc_next without valid is the reset state");
            // After reset the state is init: a message fed with or without start is whole.
            let len = rng.gen_range(1..=100);
            let msg = random_msg(&mut rng, len);
            let with_start = round % 4 < 2;
            for (n, &beat) in to_beats(&msg, &mut rng).iter().enumerate() {
                cycle(&mut uut, false, with_start && n == 0, true, beat);
            }
            assert_eq!(uut.crc.val().to_u32(), CRC32.checksum(&msg));
        }
    }

    #[test]
    fn empty_keep_adds_nothing() {
        let mut rng = ChaCha8Rng::seed_from_u64(14);
        let mut uut = new_uut(CRC32_POLY);
        let msg = random_msg(&mut rng, 40);
        for (n, &beat) in to_beats(&msg, &mut rng).iter().enumerate() {
            cycle(&mut uut, false, n == 0, true, beat);
            cycle(&mut uut, false, false, true, (rng.gen(), 0));
        }
        assert_eq!(uut.crc.val().to_u32(), CRC32.checksum(&msg));
        // A start beat with no bytes is the empty message.
        cycle(&mut uut, false, true, true, (rng.gen(), 0));
        assert_eq!(uut.crc.val().to_u32(), 0);
    }

    const CRC_MAIN_CPP: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
int main(int argc, char** argv) {
    VerilatedContext ctx;
    Vtop top{&ctx};
    FILE* f = fopen(argv[1], "r");
    unsigned r, s, v, k, en, ec;
    unsigned long long d;
    long n = 0, errors = 0;
    top.clock = 0;
    top.eval();
    while (fscanf(f, "%x %x %x %x %llx %x %x", &r, &s, &v, &k, &d, &en, &ec) == 7) {
        top.reset = r; top.start = s; top.valid = v; top.keep = k; top.data = d;
        top.eval();
        if (top.crc_next != en) { if (errors < 5) printf("cycle %ld: crc_next %08x want %08x\n", n, top.crc_next, en); errors++; }
        top.clock = 1;
        top.eval();
        if (top.crc != ec) { if (errors < 5) printf("cycle %ld: crc %08x want %08x\n", n, top.crc, ec); errors++; }
        top.clock = 0;
        top.eval();
        n++;
    }
    printf("cycles %ld errors %ld\n", n, errors);
    return (errors || n == 0) ? 1 : 0;
}
"#;

    /// Random cycles for the engine (messages of every tail length, idle cycles with junk,
    /// back-to-back starts, resets, empty keeps) with the outputs the `crc` crate predicts,
    /// one line per cycle: reset start valid keep data crc_next crc.
    fn crc_stimulus(reference: &'static Crc<u32>, seed: u64) -> (String, usize) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = String::new();
        let mut cur = reference.digest();
        let mut cycles = 0;
        while cycles < 4000 {
            let len = if rng.gen_bool(0.5) {
                rng.gen_range(1..=16)
            } else {
                rng.gen_range(1..=300)
            };
            let msg = random_msg(&mut rng, len);
            for (n, &(data, mut keep)) in to_beats(&msg, &mut rng).iter().enumerate() {
                let (mut valid, mut start, mut reset) = (true, n == 0, false);
                match rng.gen_range(0..40) {
                    0 => valid = false,
                    1 => reset = true,
                    2 => keep = 0,
                    3 => start = !start,
                    _ => {}
                }
                let mut next = if start {
                    reference.digest()
                } else {
                    cur.clone()
                };
                let bytes = 8 - keep.leading_zeros() as usize;
                let mut lanes = data.to_le_bytes();
                lanes[bytes..].fill(0);
                next.update(&lanes[..bytes]);
                if !valid {
                    next = cur.clone();
                }
                let crc_next = next.clone().finalize();
                cur = if reset { reference.digest() } else { next };
                let crc = cur.clone().finalize();
                let line = format!(
                    "{:x} {:x} {:x} {:x} {:x} {:x} {:x}\n",
                    reset as u8, start as u8, valid as u8, keep, data, crc_next, crc
                );
                out.push_str(&line);
                cycles += 1;
            }
        }
        (out, cycles)
    }

    fn cosim(name: &str, poly: u32, reference: &'static Crc<u32>) {
        let mut uut = CrcEngine::new(poly);
        uut.connect_all();
        let (stimulus, cycles) = crc_stimulus(reference, 30 + poly as u64);
        let out = verilator_cosim(name, &generate_verilog(&uut), CRC_MAIN_CPP, &stimulus);
        assert!(out.contains(&format!("cycles {cycles} errors 0")), "{out}");
    }

    #[test]
    fn crc32_verilog_in_verilator_matches_crc_crate() {
        cosim("crc32", CRC32_POLY, &CRC32);
    }

    #[test]
    fn crc32c_verilog_in_verilator_matches_crc_crate() {
        cosim("crc32c", CRC32C_POLY, &CRC32C);
    }

    #[test]
    fn verilog_lints_clean() {
        for (name, poly) in [("crc32", CRC32_POLY), ("crc32c", CRC32C_POLY)] {
            let mut uut = CrcEngine::new(poly);
            uut.connect_all();
            verilator_lint(name, &generate_verilog(&uut));
        }
    }
}
