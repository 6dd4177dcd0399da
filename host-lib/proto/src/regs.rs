//! Register access: what every carrier of BAR0 accesses offers.

/// 32-bit register reads and writes at byte offsets of BAR0.
///
/// Implemented by the simulator's `SimDevice` (stepped in place) and `&SimHandle` (free
/// running, posted writes), and by the library's backends. The methods take `&mut self` so that
/// a device stepped by the caller can implement it directly; carriers shared between threads
/// implement it for a shared reference.
pub trait RegisterAccess {
    /// What a failed access reports.
    type Error;
    /// Reads the register at byte offset `offset`.
    fn read32(&mut self, offset: u32) -> Result<u32, Self::Error>;
    /// Writes the register at byte offset `offset`. A carrier may post the write (return before
    /// the device has taken it); writes take effect in the order they are made, and a later read
    /// completes after them.
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), Self::Error>;
}

impl<T: RegisterAccess + ?Sized> RegisterAccess for &mut T {
    type Error = T::Error;
    fn read32(&mut self, offset: u32) -> Result<u32, T::Error> {
        (**self).read32(offset)
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), T::Error> {
        (**self).write32(offset, value)
    }
}

/// Reads a 64-bit value split over a low and a high register, low first (the device latches the
/// high half when the low half is read, as for `CYCLES_LO`/`CYCLES_HI`).
pub fn read64<R: RegisterAccess + ?Sized>(regs: &mut R, lo: u32, hi: u32) -> Result<u64, R::Error> {
    let l = regs.read32(lo)?;
    let h = regs.read32(hi)?;
    Ok(u64::from(h) << 32 | u64::from(l))
}

#[cfg(test)]
pub(crate) mod fake {
    //! A register file for the unit tests of this crate: records every access.
    use super::RegisterAccess;
    use std::collections::HashMap;

    /// Registers as a map; every write is logged.
    #[derive(Default)]
    pub struct FakeRegs {
        pub values: HashMap<u32, u32>,
        pub writes: Vec<(u32, u32)>,
    }

    impl RegisterAccess for FakeRegs {
        type Error = std::convert::Infallible;
        fn read32(&mut self, offset: u32) -> Result<u32, Self::Error> {
            Ok(self.values.get(&offset).copied().unwrap_or(0))
        }
        fn write32(&mut self, offset: u32, value: u32) -> Result<(), Self::Error> {
            self.values.insert(offset, value);
            self.writes.push((offset, value));
            Ok(())
        }
    }
}
