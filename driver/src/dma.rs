//! DMA memory: host memory mapped into the device's IOMMU domain at a chosen IOVA: anonymous
//! memory of this process, or a mapping of memory shared with another process (a memfd).

use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};
use vfio_ioctls::VfioError;

use crate::device::Inner;
use crate::{Error, Result};

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// Host memory the device reaches by DMA at [`iova`](DmaBuffer::iova).
///
/// The memory is zeroed at allocation, stays mapped in the IOMMU until [`unmap`](Self::unmap)
/// or drop, and is only accessed through volatile copies (the device may write it at any time).
pub struct DmaBuffer {
    inner: Arc<Inner>,
    mem: Memory,
    iova: u64,
    len: usize,
    mapped: bool,
}

/// Where a buffer's memory comes from.
enum Memory {
    /// Anonymous memory of this buffer.
    Anon(MmapRaw),
    /// A mapping made by the caller (of a memfd shared with another process), kept mapped by
    /// `keep` until the IOMMU mapping is gone.
    Shared {
        ptr: std::ptr::NonNull<u8>,
        keep: Option<Box<dyn Send + Sync>>,
    },
}

// SAFETY: the pointer of a shared mapping is only used through volatile copies; the mapping
// itself is kept by a Send + Sync keeper.
unsafe impl Send for Memory {}
unsafe impl Sync for Memory {}

impl Memory {
    fn as_ptr(&self) -> *mut u8 {
        match self {
            Memory::Anon(m) => m.as_mut_ptr(),
            Memory::Shared { ptr, .. } => ptr.as_ptr(),
        }
    }
}

impl std::fmt::Debug for DmaBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaBuffer")
            .field("iova", &format_args!("{:#x}", self.iova))
            .field("len", &self.len)
            .field("mapped", &self.mapped)
            .finish()
    }
}

impl DmaBuffer {
    pub(crate) fn new(inner: Arc<Inner>, len: usize, iova: u64) -> Result<Self> {
        let len = Self::check_request(&inner, len, iova)?;
        let mem: MmapRaw = MmapOptions::new()
            .len(len)
            .map_anon()
            .map_err(|e| Error::io(format!("mmap {len:#x} bytes of anonymous memory"), e))?
            .into();
        Self::map(inner, Memory::Anon(mem), len, iova)
    }

    /// Maps `ptr..ptr+len`, memory the caller mapped (a `MAP_SHARED` mapping of a memfd that
    /// another process maps too), for the device at `iova`; `keep` is dropped once the IOMMU
    /// mapping is gone.
    ///
    /// # Safety
    /// `ptr` must be page aligned, and `ptr..ptr+len` mapped until `keep` is dropped.
    pub(crate) unsafe fn new_shared(
        inner: Arc<Inner>,
        ptr: std::ptr::NonNull<u8>,
        len: usize,
        iova: u64,
        keep: Box<dyn Send + Sync>,
    ) -> Result<Self> {
        if !(ptr.as_ptr() as usize).is_multiple_of(page_size()) || !len.is_multiple_of(page_size())
        {
            return Err(Error::BadDmaRequest {
                iova,
                len,
                why: "shared memory must be whole pages",
            });
        }
        let len = Self::check_request(&inner, len, iova)?;
        let mem = Memory::Shared {
            ptr,
            keep: Some(keep),
        };
        Self::map(inner, mem, len, iova)
    }

    /// Checks a request against the page size and the buffers already mapped; returns the
    /// length in whole pages.
    fn check_request(inner: &Inner, len: usize, iova: u64) -> Result<usize> {
        let page = page_size();
        if len == 0 {
            return Err(Error::BadDmaRequest {
                iova,
                len,
                why: "zero length",
            });
        }
        if !iova.is_multiple_of(page as u64) {
            return Err(Error::BadDmaRequest {
                iova,
                len,
                why: "the IOVA must be page aligned",
            });
        }
        let len = len.div_ceil(page) * page;
        let end = iova.checked_add(len as u64).ok_or(Error::BadDmaRequest {
            iova,
            len,
            why: "IOVA + length overflows",
        })?;
        {
            let maps = inner.dma_maps.lock().unwrap_or_else(|p| p.into_inner());
            if maps.iter().any(|&(s, l)| iova < s + l && s < end) {
                return Err(Error::BadDmaRequest {
                    iova,
                    len,
                    why:
                        "overlaps a DMA buffer already mapped for this device; choose another IOVA",
                });
            }
        }
        Ok(len)
    }

    fn map(inner: Arc<Inner>, mem: Memory, len: usize, iova: u64) -> Result<Self> {
        // SAFETY: the memory stays mapped while `mem` lives, is only accessed through raw
        // pointers with volatile copies, and is unmapped from the IOMMU (in `unmap`/drop)
        // before `mem` goes.
        unsafe { inner.container.vfio_dma_map(iova, len, mem.as_ptr()) }.map_err(|e| match e {
            VfioError::IommuDmaMap(s) => Error::DmaMap {
                iova,
                len,
                source: std::io::Error::from_raw_os_error(s.errno()),
            },
            other => Error::vfio("VFIO_IOMMU_MAP_DMA", other),
        })?;
        inner
            .dma_maps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((iova, len as u64));
        Ok(DmaBuffer {
            inner,
            mem,
            iova,
            len,
            mapped: true,
        })
    }

    /// Device-side address of the first byte.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// Length in bytes (a whole number of pages).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: empty buffers are refused.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Host address of the first byte. Access it only with volatile or atomic operations.
    pub fn as_ptr(&self) -> *mut u8 {
        self.mem.as_ptr()
    }

    /// True while the device can reach the memory.
    pub fn is_mapped(&self) -> bool {
        self.mapped
    }

    fn check(&self, offset: usize, n: usize) {
        assert!(
            offset.checked_add(n).is_some_and(|e| e <= self.len),
            "DMA buffer access {offset:#x}+{n:#x} outside {:#x} bytes",
            self.len
        );
    }

    /// Copies `out.len()` bytes from `offset` (volatile reads). Panics when out of bounds.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        self.check(offset, out.len());
        let p = self.as_ptr();
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: in bounds (checked); volatile because the device may write concurrently.
            *b = unsafe { p.add(offset + i).read_volatile() };
        }
    }

    /// Copies `data` to `offset` (volatile writes). Panics when out of bounds.
    pub fn write(&self, offset: usize, data: &[u8]) {
        self.check(offset, data.len());
        let p = self.as_ptr();
        for (i, b) in data.iter().enumerate() {
            // SAFETY: in bounds (checked).
            unsafe { p.add(offset + i).write_volatile(*b) };
        }
    }

    /// Fills `offset..offset+n` with `byte`.
    pub fn fill(&self, offset: usize, n: usize, byte: u8) {
        self.check(offset, n);
        let p = self.as_ptr();
        for i in 0..n {
            // SAFETY: in bounds (checked).
            unsafe { p.add(offset + i).write_volatile(byte) };
        }
    }

    /// Removes the IOMMU mapping now, keeping the host memory: from here on, device accesses to
    /// the IOVA range fault in the IOMMU instead of reaching this memory.
    pub fn unmap(&mut self) -> Result<()> {
        if !self.mapped {
            return Ok(());
        }
        self.mapped = false;
        let mut maps = self
            .inner
            .dma_maps
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        maps.retain(|&(s, _)| s != self.iova);
        drop(maps);
        self.inner
            .container
            .vfio_dma_unmap(self.iova, self.len)
            .map_err(|e| match e {
                VfioError::IommuDmaUnmap(s) => Error::io(
                    format!("VFIO_IOMMU_UNMAP_DMA at {:#x}+{:#x}", self.iova, self.len),
                    std::io::Error::from_raw_os_error(s.errno()),
                ),
                other => Error::vfio("VFIO_IOMMU_UNMAP_DMA", other),
            })
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        // The IOMMU mapping must go before the memory does; if the kernel refuses, leak the
        // memory rather than let the device write into pages the allocator may reuse.
        if let Err(e) = self.unmap() {
            eprintln!("evnic-driver: {e}; leaking the buffer to stay safe");
            match &mut self.mem {
                Memory::Anon(m) => {
                    let mem = std::mem::replace(
                        m,
                        MmapOptions::new()
                            .len(1)
                            .map_anon()
                            .map(Into::into)
                            .expect("1-byte anonymous map"),
                    );
                    std::mem::forget(mem);
                }
                Memory::Shared { keep, .. } => std::mem::forget(keep.take()),
            }
        }
    }
}
