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
/// `32 * word + b` (`evnic_regs::map::group::permit_at`).
pub fn set_permit_word<R: RegisterAccess + ?Sized>(
    regs: &mut R,
    v: u32,
    word: u32,
    bits: u32,
) -> Result<(), R::Error> {
    assert!(
        word < gr::PERMIT_WORDS,
        "permission word {word}: the map has {} per VI",
        gr::PERMIT_WORDS
    );
    regs.write32(gr::permit_at(v, word), bits)
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
    fn permission_words_are_the_vis_bitmap_words_in_order() {
        assert!(permit_words(evnic_regs::params::NUM_GROUPS) <= gr::PERMIT_WORDS);
        let mut regs = FakeRegs::default();
        set_permit_word(&mut regs, 3, 1, 0x8000_0000).unwrap();
        assert_eq!(regs.writes, vec![(gr::permit_at(3, 1), 0x8000_0000)]);
        assert_eq!(
            gr::permit_at(3, 1),
            gr::PERMIT_BASE + 4 * (3 * gr::PERMIT_WORDS + 1)
        );
    }
}
