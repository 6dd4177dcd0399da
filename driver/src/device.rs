//! Opening a PCI function through VFIO, and what can be done with it.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};

use vfio_bindings::bindings::vfio::{
    vfio_device_info, vfio_region_info, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET,
    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_EVENTFD,
    VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_INTX_IRQ_INDEX,
    VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_REGION_INFO_FLAG_MMAP,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
};
use vfio_ioctls::{VfioContainer, VfioDevice, VfioError, VfioOps};

use crate::irq::Interrupt;
use crate::sysfs::{DeviceInfo, PciAddress, Sysfs};
use crate::{Bar, DmaBuffer, Error, Result};

// VFIO ioctl numbers: _IO(VFIO_TYPE = ';', VFIO_BASE = 100 + n).
const fn vfio_io(n: u64) -> u64 {
    (0x3b << 8) | (100 + n)
}
const VFIO_DEVICE_GET_INFO: u64 = vfio_io(7);
const VFIO_DEVICE_GET_REGION_INFO: u64 = vfio_io(8);
const VFIO_DEVICE_SET_IRQS: u64 = vfio_io(10);
const VFIO_DEVICE_RESET: u64 = vfio_io(11);

/// The kinds of PCI interrupt VFIO can route to eventfds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqKind {
    /// Legacy INTx (one line).
    Intx,
    /// MSI.
    Msi,
    /// MSI-X.
    Msix,
}

impl IrqKind {
    fn index(self) -> u32 {
        match self {
            IrqKind::Intx => VFIO_PCI_INTX_IRQ_INDEX,
            IrqKind::Msi => VFIO_PCI_MSI_IRQ_INDEX,
            IrqKind::Msix => VFIO_PCI_MSIX_IRQ_INDEX,
        }
    }
    fn name(self) -> &'static str {
        match self {
            IrqKind::Intx => "INTx",
            IrqKind::Msi => "MSI",
            IrqKind::Msix => "MSI-X",
        }
    }
}

/// One VFIO region of the device (BAR0..5 are indices 0..5, ROM 6, config space 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionInfo {
    /// Region index.
    pub index: u32,
    /// Size in bytes (0: absent).
    pub size: u64,
    /// Offset of the region in the device file.
    pub offset: u64,
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Can be mapped with mmap (else accessed with pread/pwrite).
    pub mmap: bool,
}

pub(crate) struct Inner {
    pub(crate) addr: PciAddress,
    pub(crate) info: DeviceInfo,
    pub(crate) group: u32,
    // Field order matters: the device must close before the container goes.
    pub(crate) device: VfioDevice,
    pub(crate) container: Arc<VfioContainer>,
    pub(crate) flags: u32,
    pub(crate) num_regions: u32,
    /// Live IOMMU mappings (iova, len), to refuse overlaps with a clear error.
    pub(crate) dma_maps: Mutex<Vec<(u64, u64)>>,
}

impl Inner {
    pub(crate) fn fd(&self) -> RawFd {
        self.device.as_raw_fd()
    }

    pub(crate) fn region(&self, index: u32) -> Result<RegionInfo> {
        if index >= self.num_regions {
            return Err(Error::NoSuchBar {
                bar: index,
                why: "the device has no such region",
            });
        }
        let mut ri = vfio_region_info {
            argsz: mem::size_of::<vfio_region_info>() as u32,
            index,
            ..Default::default()
        };
        // SAFETY: the fd is a VFIO device fd and `ri` is a correctly sized vfio_region_info.
        let r = unsafe { libc::ioctl(self.fd(), VFIO_DEVICE_GET_REGION_INFO as _, &mut ri) };
        if r < 0 {
            return Err(Error::io(
                format!("VFIO_DEVICE_GET_REGION_INFO({index}) on {}", self.addr),
                io::Error::last_os_error(),
            ));
        }
        Ok(RegionInfo {
            index,
            size: ri.size,
            offset: ri.offset,
            read: ri.flags & VFIO_REGION_INFO_FLAG_READ != 0,
            write: ri.flags & VFIO_REGION_INFO_FLAG_WRITE != 0,
            mmap: ri.flags & VFIO_REGION_INFO_FLAG_MMAP != 0,
        })
    }

    pub(crate) fn pread(&self, buf: &mut [u8], pos: u64, what: &str) -> Result<()> {
        // SAFETY: buf is valid for buf.len() bytes of writes.
        let n = unsafe {
            libc::pread(
                self.fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                pos as libc::off_t,
            )
        };
        if n != buf.len() as isize {
            let e = if n < 0 {
                io::Error::last_os_error()
            } else {
                io::ErrorKind::UnexpectedEof.into()
            };
            return Err(Error::io(format!("pread {what} of {}", self.addr), e));
        }
        Ok(())
    }

    pub(crate) fn pwrite(&self, buf: &[u8], pos: u64, what: &str) -> Result<()> {
        // SAFETY: buf is valid for buf.len() bytes of reads.
        let n = unsafe {
            libc::pwrite(
                self.fd(),
                buf.as_ptr().cast(),
                buf.len(),
                pos as libc::off_t,
            )
        };
        if n != buf.len() as isize {
            let e = if n < 0 {
                io::Error::last_os_error()
            } else {
                io::ErrorKind::WriteZero.into()
            };
            return Err(Error::io(format!("pwrite {what} of {}", self.addr), e));
        }
        Ok(())
    }
}

/// A PCI function opened through VFIO: its own container (IOMMU domain), group and device fd.
///
/// Cloning is cheap and shares the device. BAR mappings ([`Bar`]) and DMA buffers
/// ([`DmaBuffer`]) keep the device open while they live.
#[derive(Clone)]
pub struct VfioPciDevice {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for VfioPciDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VfioPciDevice")
            .field("addr", &self.inner.addr)
            .field("group", &self.inner.group)
            .finish()
    }
}

impl VfioPciDevice {
    /// Opens the function at `addr` (`0000:01:00.0`) with the real `/sys` and `/dev`.
    pub fn open(addr: &str) -> Result<Self> {
        Self::open_in(&Sysfs::default(), addr)
    }

    /// Opens the function at `addr`, looking it up under the given sysfs/dev roots.
    pub fn open_in(sysfs: &Sysfs, addr: &str) -> Result<Self> {
        let pci: PciAddress = addr.parse()?;
        let (info, group) = sysfs.check_usable(&pci)?;
        let a = pci.to_string();
        let map_err = |e: VfioError| -> Error {
            match e {
                VfioError::OpenContainer(ref io)
                    if io.kind() == io::ErrorKind::PermissionDenied =>
                {
                    Error::PermissionDenied {
                        path: sysfs.container_file(),
                    }
                }
                VfioError::OpenContainer(ref io) if io.kind() == io::ErrorKind::NotFound => {
                    Error::VfioNotLoaded
                }
                VfioError::OpenGroup(ref io, _) if io.kind() == io::ErrorKind::PermissionDenied => {
                    Error::PermissionDenied {
                        path: sysfs.group_file(group),
                    }
                }
                VfioError::OpenGroup(ref io, _) if io.raw_os_error() == Some(libc::EBUSY) => {
                    Error::GroupBusy { group }
                }
                VfioError::GroupViable => Error::GroupNotViable {
                    group,
                    addr: a.clone(),
                    blockers: sysfs.info(&pci).map(|i| i.blockers()).unwrap_or_default(),
                },
                e => Error::vfio(&format!("opening {a} through VFIO group {group}"), e),
            }
        };
        let container = Arc::new(VfioContainer::new(None).map_err(map_err)?);
        let ops: Arc<dyn VfioOps> = container.clone();
        let device = VfioDevice::new(&sysfs.device_dir(&pci), ops, false).map_err(map_err)?;

        let mut di = vfio_device_info {
            argsz: mem::size_of::<vfio_device_info>() as u32,
            ..Default::default()
        };
        // SAFETY: device fd and a correctly sized vfio_device_info.
        let r = unsafe { libc::ioctl(device.as_raw_fd(), VFIO_DEVICE_GET_INFO as _, &mut di) };
        if r < 0 {
            return Err(Error::io(
                format!("VFIO_DEVICE_GET_INFO on {a}"),
                io::Error::last_os_error(),
            ));
        }
        if di.flags & VFIO_DEVICE_FLAGS_PCI == 0 {
            return Err(Error::io(
                format!("VFIO_DEVICE_GET_INFO on {a}"),
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    "VFIO says this is not a PCI device",
                ),
            ));
        }
        Ok(VfioPciDevice {
            inner: Arc::new(Inner {
                addr: pci,
                info,
                group,
                device,
                container,
                flags: di.flags,
                num_regions: di.num_regions,
                dma_maps: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The function's address.
    pub fn address(&self) -> PciAddress {
        self.inner.addr
    }

    /// What sysfs said about the function when it was opened (IDs, group).
    pub fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    /// The IOMMU group number.
    pub fn iommu_group(&self) -> u32 {
        self.inner.group
    }

    /// The device fd (for callers that need an ioctl this crate lacks).
    pub fn device_fd(&self) -> RawFd {
        self.inner.fd()
    }

    /// Number of VFIO regions (9 for a PCI device: 6 BARs, ROM, config, VGA).
    pub fn num_regions(&self) -> u32 {
        self.inner.num_regions
    }

    /// Asks the kernel for the description of region `index` (VFIO_DEVICE_GET_REGION_INFO).
    pub fn region_info(&self, index: u32) -> Result<RegionInfo> {
        self.inner.region(index)
    }

    /// Maps BAR `bar` (0..=5) for register access; fails with [`Error::BarTooSmall`] when it is
    /// smaller than `min_len` bytes (the register map the caller needs).
    pub fn map_bar(&self, bar: u32, min_len: u64) -> Result<Bar> {
        Bar::map(self.inner.clone(), bar, min_len)
    }

    /// Allocates `len` bytes of zeroed memory (rounded up to pages) and maps it into the IOMMU at
    /// `iova` (page aligned) for the device to read and write. Unmapped when dropped.
    pub fn alloc_dma(&self, len: usize, iova: u64) -> Result<DmaBuffer> {
        DmaBuffer::new(self.inner.clone(), len, iova)
    }

    /// Maps memory the caller mapped, `ptr..ptr+len` (whole pages; typically a `MAP_SHARED`
    /// mapping of a memfd that another process maps too), for the device at `iova`
    /// (`VFIO_IOMMU_MAP_DMA` pins its pages). The buffer unmaps it from the IOMMU when dropped,
    /// and drops `keep` after that.
    ///
    /// # Safety
    /// `ptr..ptr+len` must stay mapped until `keep` is dropped.
    pub unsafe fn map_shared_dma(
        &self,
        ptr: std::ptr::NonNull<u8>,
        len: usize,
        iova: u64,
        keep: Box<dyn Send + Sync>,
    ) -> Result<DmaBuffer> {
        // SAFETY: the caller's promise.
        unsafe { DmaBuffer::new_shared(self.inner.clone(), ptr, len, iova, keep) }
    }

    /// Reads from PCI configuration space.
    pub fn config_read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let r = self.inner.region(VFIO_PCI_CONFIG_REGION_INDEX)?;
        self.inner.pread(buf, r.offset + offset, "config space")
    }

    /// Writes to PCI configuration space (VFIO filters what may be written).
    pub fn config_write(&self, offset: u64, buf: &[u8]) -> Result<()> {
        let r = self.inner.region(VFIO_PCI_CONFIG_REGION_INDEX)?;
        self.inner.pwrite(buf, r.offset + offset, "config space")
    }

    /// Vendor and device ID as read from configuration space through VFIO.
    pub fn ids(&self) -> Result<(u16, u16)> {
        let mut b = [0u8; 4];
        self.config_read(0, &mut b)?;
        Ok((
            u16::from_le_bytes([b[0], b[1]]),
            u16::from_le_bytes([b[2], b[3]]),
        ))
    }

    /// Sets or clears Bus Master Enable in the command register: a device can only do DMA with
    /// it set.
    pub fn set_bus_master(&self, on: bool) -> Result<()> {
        let mut b = [0u8; 2];
        self.config_read(4, &mut b)?;
        let mut cmd = u16::from_le_bytes(b);
        if on {
            cmd |= 1 << 2;
        } else {
            cmd &= !(1 << 2);
        }
        self.config_write(4, &cmd.to_le_bytes())
    }

    /// Number of vectors the device offers for `kind`.
    pub fn irq_count(&self, kind: IrqKind) -> u32 {
        self.inner
            .device
            .get_irq_info(kind.index())
            .map_or(0, |i| i.count)
    }

    fn set_irqs(&self, kind: IrqKind, flags: u32, fds: &[RawFd], count: u32) -> Result<()> {
        // struct vfio_irq_set { argsz, flags, index, start, count; u8 data[] }
        let mut buf: Vec<u32> = vec![0, flags, kind.index(), 0, count];
        buf.extend(fds.iter().map(|&fd| fd as u32));
        buf[0] = (buf.len() * 4) as u32;
        // SAFETY: buf is a valid vfio_irq_set with `fds.len()` trailing 32-bit fds.
        let r = unsafe { libc::ioctl(self.inner.fd(), VFIO_DEVICE_SET_IRQS as _, buf.as_ptr()) };
        if r < 0 {
            return Err(Error::io(
                format!(
                    "VFIO_DEVICE_SET_IRQS ({} x{count}) on {}",
                    kind.name(),
                    self.inner.addr
                ),
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// Enables `n` vectors of `kind`, each signalling its own eventfd; returns them in vector
    /// order. For MSI and MSI-X this also sets Bus Master Enable: a message-signalled interrupt
    /// is a memory write by the device, which it cannot make without it.
    pub fn enable_irqs(&self, kind: IrqKind, n: u32) -> Result<Vec<Interrupt>> {
        let available = self.irq_count(kind);
        if n == 0 || n > available {
            return Err(Error::IrqUnsupported {
                kind: kind.name(),
                requested: n,
                available,
            });
        }
        if kind != IrqKind::Intx {
            self.set_bus_master(true)?;
        }
        let irqs = (0..n)
            .map(|_| Interrupt::new())
            .collect::<Result<Vec<_>>>()?;
        let fds: Vec<RawFd> = irqs.iter().map(|i| i.as_raw_fd()).collect();
        self.set_irqs(
            kind,
            VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
            &fds,
            n,
        )?;
        Ok(irqs)
    }

    /// Enables `n` MSI vectors on eventfds.
    pub fn enable_msi(&self, n: u32) -> Result<Vec<Interrupt>> {
        self.enable_irqs(IrqKind::Msi, n)
    }

    /// Enables `n` MSI-X vectors on eventfds.
    pub fn enable_msix(&self, n: u32) -> Result<Vec<Interrupt>> {
        self.enable_irqs(IrqKind::Msix, n)
    }

    /// Disables all vectors of `kind`.
    pub fn disable_irqs(&self, kind: IrqKind) -> Result<()> {
        self.set_irqs(
            kind,
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
            &[],
            0,
        )
    }

    /// Re-enables the INTx line after an interrupt. VFIO masks INTx when it fires (the line is
    /// level-triggered): acknowledge the cause in the device first, then unmask.
    pub fn unmask_intx(&self) -> Result<()> {
        self.set_irqs(
            IrqKind::Intx,
            VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
            &[],
            1,
        )
    }

    /// True when the kernel can reset this function.
    pub fn can_reset(&self) -> bool {
        self.inner.flags & VFIO_DEVICE_FLAGS_RESET != 0
    }

    /// Resets the function (FLR, PM reset or bus reset, whichever the kernel has).
    pub fn reset(&self) -> Result<()> {
        if !self.can_reset() {
            return Err(Error::ResetUnsupported {
                addr: self.inner.addr.to_string(),
            });
        }
        // SAFETY: argument-less ioctl on a VFIO device fd.
        let r = unsafe { libc::ioctl(self.inner.fd(), VFIO_DEVICE_RESET as _) };
        if r < 0 {
            return Err(Error::io(
                format!("VFIO_DEVICE_RESET on {}", self.inner.addr),
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// Path of the function in sysfs.
    pub fn sysfs_path(&self) -> std::path::PathBuf {
        Sysfs::default().device_dir(&self.inner.addr)
    }
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<VfioPciDevice>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_linux() {
        // From <linux/vfio.h>: VFIO_DEVICE_GET_INFO = _IO(';', 107) etc.
        assert_eq!(VFIO_DEVICE_GET_INFO, 0x3b6b);
        assert_eq!(VFIO_DEVICE_GET_REGION_INFO, 0x3b6c);
        assert_eq!(VFIO_DEVICE_SET_IRQS, 0x3b6e);
        assert_eq!(VFIO_DEVICE_RESET, 0x3b6f);
    }

    #[test]
    fn open_reports_bad_and_missing_addresses() {
        let e = VfioPciDevice::open("not-an-address").unwrap_err();
        assert!(matches!(e, Error::InvalidAddress { .. }), "{e:?}");
        // Domain ffff does not exist on any ordinary machine.
        let e = VfioPciDevice::open("ffff:ff:1f.7").unwrap_err();
        assert!(
            matches!(&e, Error::NoSuchDevice { addr } if addr == "ffff:ff:1f.7"),
            "{e:?}"
        );
    }
}
