//! The device's identity and parameters, read from its global page. Everything that depends on
//! how many VIs, filter entries, groups or timers a device has takes the number from here, never
//! from the defaults the core is generated with (a board build may have fewer or more).

use crate::regs::RegisterAccess;
use evnic_regs::map::{global as g, global_reg, PAGE_BYTES, VI_PAGE_BASE};

/// Identity and parameters of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceParams {
    /// The ID register (`"EVNC"` as a little-endian word on an evnic device).
    pub id: u32,
    /// Major version (bits 31:16 of `VERSION`).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Virtual interfaces (`NUM_VIS`).
    pub vis: u32,
    /// Filter entries (`NUM_FILTERS`).
    pub filters: u32,
    /// Multicast groups (`NUM_GROUPS`).
    pub groups: u32,
    /// Timers (`NUM_TIMERS`).
    pub timers: u32,
    /// Bytes per event record (`EVENT_BYTES`).
    pub event_bytes: u32,
    /// Width of the MAC data path in bits (`DATA_BITS`).
    pub data_bits: u32,
    /// Nominal clock in kHz (`CLOCK_KHZ`).
    pub clock_khz: u32,
}

impl DeviceParams {
    /// Reads the identity and parameter registers.
    pub fn read<R: RegisterAccess + ?Sized>(regs: &mut R) -> Result<DeviceParams, R::Error> {
        let mut r = |reg| regs.read32(global_reg(reg));
        let id = r(&g::ID)?;
        let v = r(&g::VERSION)?;
        Ok(DeviceParams {
            id,
            major: (v >> 16) as u16,
            minor: v as u16,
            vis: r(&g::NUM_VIS)?,
            filters: r(&g::NUM_FILTERS)?,
            groups: r(&g::NUM_GROUPS)?,
            timers: r(&g::NUM_TIMERS)?,
            event_bytes: r(&g::EVENT_BYTES)?,
            data_bits: r(&g::DATA_BITS)?,
            clock_khz: r(&g::CLOCK_KHZ)?,
        })
    }

    /// True when the ID register says this is an evnic device.
    pub fn is_evnic(&self) -> bool {
        self.id == evnic_regs::params::DEVICE_ID
    }

    /// True when this library speaks the device's major version.
    pub fn version_supported(&self) -> bool {
        u32::from(self.major) == evnic_regs::params::VERSION >> 16
    }

    /// Bytes of BAR0 the register map of this device spans (its last VI page included).
    pub fn bar0_bytes(&self) -> u64 {
        u64::from(VI_PAGE_BASE) + u64::from(self.vis) * u64::from(PAGE_BYTES)
    }

    /// The ID register as text.
    pub fn id_text(&self) -> String {
        String::from_utf8_lossy(&self.id.to_le_bytes()).into_owned()
    }

    /// Converts device cycles to nanoseconds at the nominal clock.
    pub fn cycles_to_ns(&self, cycles: u64) -> u64 {
        if self.clock_khz == 0 {
            return 0;
        }
        (u128::from(cycles) * 1_000_000 / u128::from(self.clock_khz)) as u64
    }
}

/// Reads the device's free-running cycle counter (low half first: it latches the high half).
pub fn cycles<R: RegisterAccess + ?Sized>(regs: &mut R) -> Result<u64, R::Error> {
    crate::regs::read64(regs, global_reg(&g::CYCLES_LO), global_reg(&g::CYCLES_HI))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regs::fake::FakeRegs;

    #[test]
    fn reads_the_parameters_the_device_reports() {
        let mut regs = FakeRegs::default();
        regs.values
            .insert(global_reg(&g::ID), evnic_regs::params::DEVICE_ID);
        regs.values.insert(global_reg(&g::VERSION), 0x0001_0002);
        regs.values.insert(global_reg(&g::NUM_VIS), 4);
        regs.values.insert(global_reg(&g::CLOCK_KHZ), 156_250);
        let p = DeviceParams::read(&mut regs).unwrap();
        assert!(p.is_evnic() && p.version_supported());
        assert_eq!((p.major, p.minor, p.vis), (1, 2, 4));
        assert_eq!(p.id_text(), "EVNC");
        assert_eq!(p.bar0_bytes(), u64::from(VI_PAGE_BASE) + 4 * 4096);
        assert_eq!(p.cycles_to_ns(156_250_000), 1_000_000_000);
        assert_eq!(p.cycles_to_ns(1), 6, "6.4 ns, truncated");
    }
}
