//! Errors: each variant says what went wrong and what to do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::sysfs::GroupMember;

/// Why a VFIO operation failed. The `Display` text gives the cause and the fix.
#[derive(Debug)]
pub enum Error {
    /// The PCI address is not of the form `DDDD:BB:DD.F` (or `BB:DD.F`).
    InvalidAddress {
        /// What was given.
        given: String,
    },
    /// No PCI function at this address.
    NoSuchDevice {
        /// The address asked for.
        addr: String,
    },
    /// The function exists but is bound to another driver, or to none.
    NotBoundToVfio {
        /// The address of the function.
        addr: String,
        /// The driver it is bound to, if any.
        driver: Option<String>,
    },
    /// The function has no IOMMU group: the IOMMU is off or absent.
    NoIommu {
        /// The address of the function.
        addr: String,
    },
    /// `/dev/vfio/vfio` does not exist: the vfio modules are not loaded.
    VfioNotLoaded,
    /// Other devices of the IOMMU group are bound to non-VFIO drivers.
    GroupNotViable {
        /// The IOMMU group number.
        group: u32,
        /// The address of the function asked for.
        addr: String,
        /// The group members that block it (bound to a driver other than vfio-pci).
        blockers: Vec<GroupMember>,
    },
    /// The group file (or container) could not be opened for lack of permission.
    PermissionDenied {
        /// The file that could not be opened.
        path: PathBuf,
    },
    /// The group is already open (by another process or another handle of this one).
    GroupBusy {
        /// The IOMMU group number.
        group: u32,
    },
    /// The BAR does not exist, is empty, or is not memory.
    NoSuchBar {
        /// The BAR index.
        bar: u32,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The BAR is smaller than the register map the caller needs.
    BarTooSmall {
        /// The BAR index.
        bar: u32,
        /// Its size in bytes.
        size: u64,
        /// The size needed.
        need: u64,
    },
    /// A register access outside the BAR or misaligned.
    BadAccess {
        /// Byte offset in the BAR.
        offset: u64,
        /// Access width in bytes.
        width: usize,
        /// BAR size in bytes.
        size: u64,
    },
    /// A DMA buffer request was invalid (zero length, unaligned IOVA, overlap...).
    BadDmaRequest {
        /// The IOVA asked for.
        iova: u64,
        /// The length asked for.
        len: usize,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The IOMMU refused to map memory at this IOVA.
    DmaMap {
        /// The IOVA.
        iova: u64,
        /// The length.
        len: usize,
        /// The kernel's answer.
        source: io::Error,
    },
    /// The device does not have this many vectors of this interrupt kind.
    IrqUnsupported {
        /// "MSI", "MSI-X" or "INTx".
        kind: &'static str,
        /// Vectors requested.
        requested: u32,
        /// Vectors the device offers.
        available: u32,
    },
    /// The device cannot be reset by any method the kernel knows (no FLR, no PM reset, not alone
    /// on a bus that can be reset).
    ResetUnsupported {
        /// The address of the function.
        addr: String,
    },
    /// A system call failed.
    Io {
        /// Which call, on what.
        call: String,
        /// The OS error.
        source: io::Error,
    },
}

fn errno(e: &vmm_sys_util::errno::Error) -> io::Error {
    io::Error::from_raw_os_error(e.errno())
}

impl Error {
    /// Wraps an OS error with the call that produced it.
    pub(crate) fn io(call: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            call: call.into(),
            source,
        }
    }

    /// Converts a `vfio-ioctls` error into an `Io` error keeping the errno where there is one.
    pub(crate) fn vfio(call: &str, e: vfio_ioctls::VfioError) -> Self {
        use vfio_ioctls::VfioError as V;
        let source = match &e {
            V::OpenContainer(io) | V::OpenGroup(io, _) => io::Error::new(io.kind(), io.to_string()),
            V::ContainerSetIOMMU(s)
            | V::GroupGetDeviceFD(s)
            | V::VfioDeviceGetInfo(s)
            | V::VfioDeviceGetRegionInfo(s)
            | V::IommuDmaMap(s)
            | V::IommuDmaUnmap(s) => errno(s),
            other => io::Error::other(other.to_string()),
        };
        Error::io(format!("{call} ({e})"), source)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidAddress { given } => write!(
                f,
                "'{given}' is not a PCI address; write it as domain:bus:device.function, \
                 e.g. 0000:01:00.0 (see `lspci -D`)"
            ),
            Error::NoSuchDevice { addr } => write!(
                f,
                "no PCI function {addr} (no /sys/bus/pci/devices/{addr}); check the address \
                 with `lspci -D` and that the card is seated and powered"
            ),
            Error::NotBoundToVfio { addr, driver } => {
                match driver {
                    Some(d) => write!(f, "{addr} is bound to driver '{d}', not vfio-pci; ")?,
                    None => write!(f, "{addr} is not bound to any driver (needs vfio-pci); ")?,
                }
                write!(f, "fix: ")?;
                if driver.is_some() {
                    write!(
                        f,
                        "echo {addr} > /sys/bus/pci/devices/{addr}/driver/unbind; "
                    )?;
                }
                write!(
                    f,
                    "modprobe vfio-pci; echo vfio-pci > /sys/bus/pci/devices/{addr}/driver_override; \
                     echo {addr} > /sys/bus/pci/drivers_probe"
                )
            }
            Error::NoIommu { addr } => write!(
                f,
                "{addr} has no IOMMU group, so the IOMMU is off: enable VT-d/AMD-Vi in the \
                 firmware and boot with intel_iommu=on (or amd_iommu=on)"
            ),
            Error::VfioNotLoaded => write!(
                f,
                "/dev/vfio/vfio does not exist, the VFIO modules are not loaded: modprobe vfio-pci"
            ),
            Error::GroupNotViable {
                group,
                addr,
                blockers,
            } => {
                write!(f, "IOMMU group {group} of {addr} is not viable: ")?;
                for (i, m) in blockers.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(
                        f,
                        "{} is bound to '{}'",
                        m.addr,
                        m.driver.as_deref().unwrap_or("?")
                    )?;
                }
                if blockers.is_empty() {
                    write!(
                        f,
                        "another device of the group is bound to a non-VFIO driver"
                    )?;
                }
                write!(
                    f,
                    "; every device of the group must be bound to vfio-pci or unbound \
                     (echo ADDR > /sys/bus/pci/devices/ADDR/driver/unbind), or move the card \
                     to a slot with its own group (ACS)"
                )
            }
            Error::PermissionDenied { path } => write!(
                f,
                "permission denied opening {}: run as root, or give your user the group file \
                 (chown $USER {}) and raise the locked-memory limit (ulimit -l) for DMA",
                path.display(),
                path.display()
            ),
            Error::GroupBusy { group } => write!(
                f,
                "IOMMU group {group} is already open (/dev/vfio/{group} busy): another process \
                 or handle owns the device; close it first (fuser /dev/vfio/{group})"
            ),
            Error::NoSuchBar { bar, why } => write!(
                f,
                "BAR{bar} cannot be used: {why}; check the device's BARs with `lspci -v`"
            ),
            Error::BarTooSmall { bar, size, need } => write!(
                f,
                "BAR{bar} is {size:#x} bytes but the register map needs {need:#x}: this is not \
                 the expected device or bitstream; check the address and the loaded bitstream"
            ),
            Error::BadAccess {
                offset,
                width,
                size,
            } => write!(
                f,
                "{width}-byte access at offset {offset:#x} is outside the {size:#x}-byte BAR or \
                 not {width}-byte aligned; fix the register offset"
            ),
            Error::BadDmaRequest { iova, len, why } => write!(
                f,
                "DMA buffer of {len:#x} bytes at IOVA {iova:#x} refused: {why}"
            ),
            Error::DmaMap { iova, len, source } => {
                write!(
                    f,
                    "IOMMU map of {len:#x} bytes at IOVA {iova:#x} failed: {source}; "
                )?;
                match source.raw_os_error() {
                    Some(libc::ENOMEM) | Some(libc::EPERM) => write!(
                        f,
                        "the locked-memory limit is too low: raise it (ulimit -l, or \
                         LimitMEMLOCK) or run as root"
                    ),
                    Some(libc::EEXIST) => {
                        write!(f, "the IOVA range is already mapped: choose another IOVA")
                    }
                    _ => write!(
                        f,
                        "choose an IOVA inside the IOMMU's aperture, page aligned"
                    ),
                }
            }
            Error::IrqUnsupported {
                kind,
                requested,
                available,
            } => write!(
                f,
                "{requested} {kind} vector(s) requested but the device offers {available}; \
                 ask for at most {available} or use another interrupt kind"
            ),
            Error::ResetUnsupported { addr } => write!(
                f,
                "{addr} cannot be reset (no FLR, no PM reset, and not alone on a resettable \
                 bus); put the card in a slot of its own or power-cycle it"
            ),
            Error::Io { call, source } => write!(f, "{call} failed: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::DmaMap { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_names_a_fix() {
        let cases: Vec<(Error, &[&str])> = vec![
            (
                Error::NoIommu {
                    addr: "0000:01:00.0".into(),
                },
                &["intel_iommu=on"],
            ),
            (Error::VfioNotLoaded, &["modprobe vfio-pci"]),
            (
                Error::PermissionDenied {
                    path: "/dev/vfio/7".into(),
                },
                &["/dev/vfio/7", "root", "ulimit -l"],
            ),
            (Error::GroupBusy { group: 7 }, &["/dev/vfio/7", "close"]),
            (
                Error::BarTooSmall {
                    bar: 0,
                    size: 0x100,
                    need: 0x20000,
                },
                &["0x100", "0x20000", "address"],
            ),
            (
                Error::NoSuchBar {
                    bar: 3,
                    why: "size 0",
                },
                &["BAR3", "lspci"],
            ),
            (
                Error::BadAccess {
                    offset: 0x102,
                    width: 4,
                    size: 0x100,
                },
                &["0x102", "aligned"],
            ),
            (
                Error::IrqUnsupported {
                    kind: "MSI-X",
                    requested: 4,
                    available: 1,
                },
                &["MSI-X", "at most 1"],
            ),
            (
                Error::ResetUnsupported {
                    addr: "0000:00:03.0".into(),
                },
                &["0000:00:03.0", "power-cycle"],
            ),
            (
                Error::DmaMap {
                    iova: 0x1000,
                    len: 0x1000,
                    source: io::Error::from_raw_os_error(libc::ENOMEM),
                },
                &["0x1000", "ulimit -l"],
            ),
            (
                Error::DmaMap {
                    iova: 0x1000,
                    len: 0x1000,
                    source: io::Error::from_raw_os_error(libc::EEXIST),
                },
                &["already mapped", "another IOVA"],
            ),
            (
                Error::GroupNotViable {
                    group: 2,
                    addr: "0000:03:00.0".into(),
                    blockers: vec![],
                },
                &["group 2", "vfio-pci or unbound"],
            ),
        ];
        for (e, needles) in cases {
            let m = e.to_string();
            for n in needles {
                assert!(m.contains(n), "{e:?}: {m:?} lacks {n:?}");
            }
        }
    }

    #[test]
    fn io_errors_keep_their_source() {
        use std::error::Error as _;
        let e = Error::io(
            "VFIO_DEVICE_RESET on 0000:00:03.0",
            io::Error::from_raw_os_error(libc::EINVAL),
        );
        assert!(e
            .to_string()
            .starts_with("VFIO_DEVICE_RESET on 0000:00:03.0 failed"));
        assert!(e.source().is_some());
        let v = Error::vfio(
            "open",
            vfio_ioctls::VfioError::IommuDmaMap(vmm_sys_util::errno::Error::new(libc::EFAULT)),
        );
        match v {
            Error::Io { source, .. } => assert_eq!(source.raw_os_error(), Some(libc::EFAULT)),
            other => panic!("{other:?}"),
        }
    }
}
