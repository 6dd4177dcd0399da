//! Multicast groups: which VIs are subscribed to a group, and which groups a VI may indicate
//! into.

use crate::regs::RegisterAccess;
use evnic_regs::map::group as gr;
use evnic_regs::map::{vi, vi_reg};

/// Subscribes (`on`) or unsubscribes VI `v` to `group` with one write of `SUBSCRIBE`.
pub fn subscribe<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    v: u32,
    group: u32,
    on: bool,
) -> Result<(), R::Error> {
    regs.write32(
        gr::CONTROL_PAGE.at(0, &gr::SUBSCRIBE),
        gr::SUBSCRIBE_GROUP.put(group)
            | gr::SUBSCRIBE_VI.put(v)
            | gr::SUBSCRIBE_ON.put(u32::from(on)),
    )
}

/// Groups per permission word.
pub const PERMIT_WORD_BITS: u32 = 32;

/// The permission words of a VI for a device of `groups` groups.
pub fn permit_words(groups: u32) -> u32 {
    groups.div_ceil(PERMIT_WORD_BITS)
}

/// Writes permission word `word` of VI `v`: bit b grants indications into group
/// `32 * word + b`. The words are the registers of the VI's copy of the permission page, in
/// order.
pub fn set_permit_word<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    v: u32,
    word: u32,
    bits: u32,
) -> Result<(), R::Error> {
    let reg = gr::PERMIT_PAGE.regs.get(word as usize).unwrap_or_else(|| {
        panic!(
            "permission word {word}: the map has {}",
            gr::PERMIT_PAGE.regs.len()
        )
    });
    regs.write32(gr::PERMIT_PAGE.at(v, reg), bits)
}

/// Produces an INDICATION into `group` from VI `v` with a payload of at most the doorbell's
/// payload field: one posted write.
pub fn indicate<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    v: u32,
    group: u32,
    payload: u32,
) -> Result<(), R::Error> {
    regs.write32(
        vi_reg(v, &vi::INDICATE),
        vi::INDICATE_GROUP.put(group) | vi::INDICATE_PAYLOAD.put(payload),
    )
}

/// The largest indication payload the doorbell carries.
pub const MAX_INDICATION_PAYLOAD: u32 = (1 << vi::INDICATE_PAYLOAD.width) - 1;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regs::fake::FakeRegs;

    #[test]
    fn permission_words_are_the_pages_registers_in_order() {
        assert_eq!(permit_words(64), gr::PERMIT_PAGE.regs.len() as u32);
        let mut regs = FakeRegs::default();
        set_permit_word(&mut regs, 3, 1, 0x8000_0000).unwrap();
        assert_eq!(
            regs.writes,
            vec![(gr::PERMIT_PAGE.at(3, &gr::PERMIT_HI), 0x8000_0000)]
        );
    }
}
