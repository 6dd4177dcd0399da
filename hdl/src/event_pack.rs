//! `EventPack`: assembles the 128-bit event record (`evnic_regs::event`) from its fields, with
//! the phase bit 0 (the event engine sets it for the slot it writes). Every event source packs
//! through this block, so the record layout is written once, in `evnic-regs`.
//!
//! Ports: in `kind` (4), `flags` (8), `source` (16), `has_group` (1), `group` (8, ignored
//! without `has_group`), `payload` (32), `aux` (16), `timestamp` (64, cut to the record's
//! 40 bits); out `record` (128). Purely combinational: 0 cycles.

use evnic_regs::event::{w0, w1};
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct EventPack {
    pub kind: Signal<In, Bits<4>>,
    pub flags: Signal<In, Bits<8>>,
    pub source: Signal<In, Bits<16>>,
    pub has_group: Signal<In, Bit>,
    pub group: Signal<In, Bits<8>>,
    pub payload: Signal<In, Bits<32>>,
    pub aux: Signal<In, Bits<16>>,
    pub timestamp: Signal<In, Bits<64>>,
    pub record: Signal<Out, Bits<128>>,
    group_if_any: Signal<Local, Bits<8>>,
    sh_type: Constant<Bits<8>>,
    sh_flags: Constant<Bits<8>>,
    sh_source: Constant<Bits<8>>,
    sh_has_group: Constant<Bits<8>>,
    sh_group: Constant<Bits<8>>,
    sh_payload: Constant<Bits<8>>,
    sh_timestamp: Constant<Bits<8>>,
    sh_aux: Constant<Bits<8>>,
}

fn shift(lsb: u32) -> Constant<Bits<8>> {
    Constant::new((lsb as u64).into())
}

impl Default for EventPack {
    fn default() -> Self {
        EventPack {
            kind: Default::default(),
            flags: Default::default(),
            source: Default::default(),
            has_group: Default::default(),
            group: Default::default(),
            payload: Default::default(),
            aux: Default::default(),
            timestamp: Default::default(),
            record: Default::default(),
            group_if_any: Default::default(),
            sh_type: shift(w0::TYPE.0),
            sh_flags: shift(w0::FLAGS.0),
            sh_source: shift(w0::SOURCE.0),
            sh_has_group: shift(w0::HAS_GROUP.0),
            sh_group: shift(64 + w1::GROUP.0),
            sh_payload: shift(w0::PAYLOAD.0),
            sh_timestamp: shift(64 + w1::TIMESTAMP.0),
            sh_aux: shift(64 + w1::AUX.0),
        }
    }
}

impl Logic for EventPack {
    #[hdl_gen]
    fn update(&mut self) {
        self.group_if_any.next = 0.into();
        if self.has_group.val() {
            self.group_if_any.next = self.group.val();
        }
        self.record.next = (bit_cast::<128, 4>(self.kind.val()) << self.sh_type.val())
            | (bit_cast::<128, 8>(self.flags.val()) << self.sh_flags.val())
            | (bit_cast::<128, 16>(self.source.val()) << self.sh_source.val())
            | (bit_cast::<128, 32>(self.payload.val()) << self.sh_payload.val())
            | (bit_cast::<128, 40>(self.timestamp.val().get_bits::<40>(0))
                << self.sh_timestamp.val())
            | (bit_cast::<128, 16>(self.aux.val()) << self.sh_aux.val())
            | (bit_cast::<128, 1>(self.has_group.val().into()) << self.sh_has_group.val())
            | (bit_cast::<128, 8>(self.group_if_any.val()) << self.sh_group.val());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evnic_regs::event::Event;

    #[test]
    fn port_widths_match_the_record_format() {
        assert_eq!(w0::TYPE.1, 4);
        assert_eq!(w0::FLAGS.1, 8);
        assert_eq!(w0::SOURCE.1, 16);
        assert_eq!(w0::HAS_GROUP.1, 1);
        assert_eq!(w1::GROUP.1, 8);
        assert_eq!(w0::PAYLOAD.1, 32);
        assert_eq!(w1::TIMESTAMP.1, 40);
        assert_eq!(w1::AUX.1, 16);
    }

    fn pack(group: Option<u8>) -> Event {
        let mut p = EventPack::default();
        p.connect_all();
        p.kind.next = 4.into();
        p.flags.next = 0x81.into();
        p.source.next = 0xfe03.into();
        p.has_group.next = group.is_some();
        p.group.next = (group.unwrap_or(0x5a) as u64).into();
        p.payload.next = 0xdead_beef_u64.into();
        p.aux.next = 0xabcd.into();
        p.timestamp.next = 0xffff_1234_5678_9abc_u64.into();
        // Settle the combinational logic as RustHDL's simulator does.
        for _ in 0..4 {
            p.update_all();
        }
        let r = p.record.val();
        Event::decode([r.get_bits::<64>(0).to_u64(), r.get_bits::<64>(64).to_u64()])
    }

    #[test]
    fn packs_like_the_software_encoder() {
        for group in [Some(42), Some(255), None] {
            assert_eq!(
                pack(group),
                Event {
                    kind: 4,
                    phase: false,
                    flags: 0x81,
                    source: 0xfe03,
                    group,
                    payload: 0xdead_beef,
                    timestamp: 0x34_5678_9abc,
                    aux: 0xabcd,
                }
            );
        }
    }
}
