//! PCI function addresses, `domain:bus:device.function`, as `lspci -D` prints them.

use std::fmt;
use std::str::FromStr;

/// A PCI function address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciAddress {
    /// PCI domain (segment).
    pub domain: u16,
    /// Bus number.
    pub bus: u8,
    /// Device number, 0..32.
    pub device: u8,
    /// Function number, 0..8.
    pub function: u8,
}

/// A string that is not a PCI address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPciAddress {
    /// What was given.
    pub given: String,
}

impl fmt::Display for BadPciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not a PCI address; write it as domain:bus:device.function, e.g. 0000:01:00.0 \
             (see `lspci -D`)",
            self.given
        )
    }
}

impl std::error::Error for BadPciAddress {}

impl FromStr for PciAddress {
    type Err = BadPciAddress;

    /// Parses `DDDD:BB:DD.F`, or `BB:DD.F` (domain 0), hexadecimal as `lspci` prints it.
    fn from_str(s: &str) -> Result<Self, BadPciAddress> {
        let bad = || BadPciAddress {
            given: s.to_string(),
        };
        let parts: Vec<&str> = s.split(':').collect();
        let (domain, bus, rest) = match parts.as_slice() {
            [d, b, r] if d.len() == 4 => (*d, *b, *r),
            [b, r] => ("0000", *b, *r),
            _ => return Err(bad()),
        };
        let (dev, func) = rest.split_once('.').ok_or_else(bad)?;
        let hex = |t: &str, len: usize| -> Result<u32, BadPciAddress> {
            if t.len() != len || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            u32::from_str_radix(t, 16).map_err(|_| bad())
        };
        let domain = hex(domain, 4)? as u16;
        let bus = hex(bus, 2)? as u8;
        let device = hex(dev, 2)?;
        let function = hex(func, 1)?;
        if device > 0x1f || function > 7 {
            return Err(bad());
        }
        Ok(PciAddress {
            domain,
            bus,
            device: device as u8,
            function: function as u8,
        })
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_addresses() {
        let a: PciAddress = "0000:01:00.0".parse().unwrap();
        assert_eq!(
            a,
            PciAddress {
                domain: 0,
                bus: 1,
                device: 0,
                function: 0
            }
        );
        assert_eq!(a.to_string(), "0000:01:00.0");
        let b: PciAddress = "3a:1f.7".parse().unwrap();
        assert_eq!(b.to_string(), "0000:3a:1f.7");
        let c: PciAddress = "abcd:FF:1e.3".parse().unwrap();
        assert_eq!(
            (c.domain, c.bus, c.device, c.function),
            (0xabcd, 0xff, 0x1e, 3)
        );
        assert_eq!(c.to_string().parse::<PciAddress>(), Ok(c));
    }

    #[test]
    fn rejects_bad_addresses() {
        for s in [
            "",
            "01:00",
            "0000:01:00",
            "0000:01:20.0",
            "0000:01:00.8",
            "0000:1:00.0x",
            "00000:01:00.0",
            "0000:01:0.0",
            "zz:00.0",
            "0000:01:00.0:1",
            "0000:100:00.0",
            "0000:01:00.",
            "0000-01:00.0",
        ] {
            assert_eq!(
                s.parse::<PciAddress>(),
                Err(BadPciAddress {
                    given: s.to_string()
                }),
                "{s:?}"
            );
        }
        let msg = "x".parse::<PciAddress>().unwrap_err().to_string();
        assert!(
            msg.contains("0000:01:00.0") && msg.contains("lspci"),
            "{msg}"
        );
    }
}
