//! BAR mappings: volatile 32/64-bit register access, through mmap when VFIO allows it and
//! pread/pwrite on the device fd otherwise.

use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

use crate::device::{Inner, RegionInfo};
use crate::{Error, Result};

/// How a [`Bar`] reaches the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarAccess {
    /// Mapped into this process: loads and stores go straight to the device.
    Mmap,
    /// Not mappable (VFIO did not allow it, e.g. a BAR smaller than a page): each access is a
    /// pread/pwrite system call on the device fd.
    Syscall,
}

/// One memory BAR of an open device.
pub struct Bar {
    inner: Arc<Inner>,
    region: RegionInfo,
    map: Option<MmapRaw>,
}

impl std::fmt::Debug for Bar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bar")
            .field("region", &self.region)
            .field("access", &self.access())
            .finish()
    }
}

impl Bar {
    pub(crate) fn map(inner: Arc<Inner>, bar: u32, min_len: u64) -> Result<Bar> {
        if bar > 5 {
            return Err(Error::NoSuchBar {
                bar,
                why: "PCI functions have BAR0 to BAR5",
            });
        }
        let region = inner.region(bar)?;
        if region.size == 0 {
            return Err(Error::NoSuchBar {
                bar,
                why: "the BAR is not implemented (size 0)",
            });
        }
        if !region.read || !region.write {
            return Err(Error::NoSuchBar {
                bar,
                why: "VFIO does not allow reading and writing it",
            });
        }
        if region.size < min_len {
            return Err(Error::BarTooSmall {
                bar,
                size: region.size,
                need: min_len,
            });
        }
        let map = if region.mmap {
            let m = MmapOptions::new()
                .offset(region.offset)
                .len(region.size as usize)
                .map_raw(inner.fd())
                .map_err(|e| {
                    Error::io(
                        format!(
                            "mmap of BAR{bar} ({:#x} bytes) of {}",
                            region.size, inner.addr
                        ),
                        e,
                    )
                })?;
            Some(m)
        } else {
            None
        };
        Ok(Bar { inner, region, map })
    }

    /// BAR index.
    pub fn index(&self) -> u32 {
        self.region.index
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.region.size
    }

    /// True for an empty BAR (never: empty BARs are refused at map time).
    pub fn is_empty(&self) -> bool {
        self.region.size == 0
    }

    /// How accesses reach the device.
    pub fn access(&self) -> BarAccess {
        if self.map.is_some() {
            BarAccess::Mmap
        } else {
            BarAccess::Syscall
        }
    }

    /// Host pointer to the mapping, when mapped. Accesses through it must be volatile.
    pub fn as_ptr(&self) -> Option<*mut u8> {
        self.map.as_ref().map(|m| m.as_mut_ptr())
    }

    fn check(&self, offset: u64, width: usize) -> Result<()> {
        let w = width as u64;
        if !offset.is_multiple_of(w)
            || offset
                .checked_add(w)
                .is_none_or(|end| end > self.region.size)
        {
            return Err(Error::BadAccess {
                offset,
                width,
                size: self.region.size,
            });
        }
        Ok(())
    }

    /// Reads the 32-bit register at byte `offset`.
    pub fn read32(&self, offset: u64) -> Result<u32> {
        self.check(offset, 4)?;
        match &self.map {
            // SAFETY: in bounds and aligned (checked); device memory is accessed volatile only.
            Some(m) => Ok(unsafe {
                m.as_ptr()
                    .add(offset as usize)
                    .cast::<u32>()
                    .read_volatile()
            }),
            None => {
                let mut b = [0u8; 4];
                self.inner
                    .pread(&mut b, self.region.offset + offset, "BAR")?;
                Ok(u32::from_le_bytes(b))
            }
        }
    }

    /// Writes the 32-bit register at byte `offset`.
    pub fn write32(&self, offset: u64, value: u32) -> Result<()> {
        self.check(offset, 4)?;
        match &self.map {
            Some(m) => {
                // SAFETY: in bounds and aligned (checked); volatile store to device memory.
                unsafe {
                    m.as_mut_ptr()
                        .add(offset as usize)
                        .cast::<u32>()
                        .write_volatile(value)
                };
                Ok(())
            }
            None => self
                .inner
                .pwrite(&value.to_le_bytes(), self.region.offset + offset, "BAR"),
        }
    }

    /// Reads the 64-bit register at byte `offset`.
    pub fn read64(&self, offset: u64) -> Result<u64> {
        self.check(offset, 8)?;
        match &self.map {
            // SAFETY: in bounds and aligned (checked).
            Some(m) => Ok(unsafe {
                m.as_ptr()
                    .add(offset as usize)
                    .cast::<u64>()
                    .read_volatile()
            }),
            None => {
                let mut b = [0u8; 8];
                self.inner
                    .pread(&mut b, self.region.offset + offset, "BAR")?;
                Ok(u64::from_le_bytes(b))
            }
        }
    }

    /// Writes the 64-bit register at byte `offset`.
    pub fn write64(&self, offset: u64, value: u64) -> Result<()> {
        self.check(offset, 8)?;
        match &self.map {
            Some(m) => {
                // SAFETY: in bounds and aligned (checked).
                unsafe {
                    m.as_mut_ptr()
                        .add(offset as usize)
                        .cast::<u64>()
                        .write_volatile(value)
                };
                Ok(())
            }
            None => self
                .inner
                .pwrite(&value.to_le_bytes(), self.region.offset + offset, "BAR"),
        }
    }
}
