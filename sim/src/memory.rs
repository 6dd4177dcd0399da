//! Host memory as the device sees it: the buffers the host registered, at the addresses the
//! device uses (IOVAs). Any DMA access outside them is refused and recorded as a fault, as an
//! IOMMU would.
//!
//! The memory itself belongs to the host process (the library polls it while the device writes
//! it), so writes are made with atomic stores: a full 16-byte beat stores its high 8 bytes, then
//! its low 8 bytes with release ordering. The event format puts the phase bit in the low word,
//! so a host that sees the phase flip (acquire load) also sees the rest of the event.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU64, AtomicU8, Ordering};

/// A DMA access the host-memory model refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The cycle of the access.
    pub cycle: u64,
    /// A write (else a read).
    pub write: bool,
    /// Its first byte.
    pub addr: u64,
    /// Its length in bytes.
    pub len: u32,
}

#[derive(Debug)]
struct Region {
    iova: u64,
    ptr: *mut u8,
    len: usize,
}

/// The registered DMA buffers and the faults seen.
#[derive(Debug, Default)]
pub struct HostMemory {
    regions: Vec<Region>,
    faults: Vec<Fault>,
    fault_count: u64,
}

// SAFETY: the pointers are to memory the registering host keeps alive until it unmaps it
// (see `map`); all access through them is atomic.
unsafe impl Send for HostMemory {}

/// Faults kept in full; later ones are only counted.
const FAULTS_KEPT: usize = 1024;

impl HostMemory {
    /// Registers `len` bytes at `ptr` for device access at `iova`.
    ///
    /// # Safety
    /// The memory must stay valid until [`HostMemory::unmap`] of `iova` returns, and must be
    /// 8-byte aligned.
    pub unsafe fn map(&mut self, iova: u64, ptr: *mut u8, len: usize) -> Result<(), String> {
        if !iova.is_multiple_of(16) || !(ptr as usize).is_multiple_of(8) {
            return Err(format!("mapping at {iova:#x} must be 16-byte aligned"));
        }
        let end = iova
            .checked_add(len as u64)
            .ok_or("mapping wraps the address space")?;
        if self
            .regions
            .iter()
            .any(|r| iova < r.iova + r.len as u64 && r.iova < end)
        {
            return Err(format!(
                "mapping {iova:#x}+{len:#x} overlaps an existing one"
            ));
        }
        self.regions.push(Region { iova, ptr, len });
        Ok(())
    }

    /// Removes the mapping at `iova`; false when there was none.
    pub fn unmap(&mut self, iova: u64) -> bool {
        let before = self.regions.len();
        self.regions.retain(|r| r.iova != iova);
        before != self.regions.len()
    }

    fn find(&self, addr: u64, len: u64) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| addr >= r.iova && addr + len <= r.iova + r.len as u64)
    }

    fn fault(&mut self, f: Fault) {
        self.fault_count += 1;
        if self.faults.len() < FAULTS_KEPT {
            self.faults.push(f);
        }
    }

    /// A 16-byte write beat at 16-byte aligned `addr` with a byte strobe per byte. The enabled
    /// bytes must all be inside one mapping, else nothing is written and a fault is recorded.
    pub fn write16(&mut self, cycle: u64, addr: u64, data: [u64; 2], strb: u16) -> bool {
        if strb == 0 {
            return true;
        }
        let first = strb.trailing_zeros() as u64;
        let last = 15 - strb.leading_zeros() as u64;
        let (lo, n) = (addr + first, last - first + 1);
        let Some(region) = self.find(lo, n) else {
            self.fault(Fault {
                cycle,
                write: true,
                addr: lo,
                len: n as u32,
            });
            return false;
        };
        let base = unsafe { region.ptr.add((addr - region.iova) as usize) };
        let aligned = (base as usize).is_multiple_of(8);
        if strb == 0xffff && aligned {
            // SAFETY: inside a live mapping, 8-byte aligned.
            unsafe {
                (*(base.add(8) as *const AtomicU64)).store(data[1], Ordering::Relaxed);
                (*(base as *const AtomicU64)).store(data[0], Ordering::Release);
            }
        } else {
            for i in (0..16).rev().filter(|i| strb >> i & 1 == 1) {
                let byte = (data[i / 8] >> ((i % 8) * 8)) as u8;
                // SAFETY: byte i is enabled, so inside the mapping checked above.
                unsafe { (*(base.add(i) as *const AtomicU8)).store(byte, Ordering::Relaxed) };
            }
            fence(Ordering::Release);
        }
        true
    }

    /// A 16-byte read at 16-byte aligned `addr`; None (and a fault) outside the mappings.
    pub fn read16(&mut self, cycle: u64, addr: u64) -> Option<[u64; 2]> {
        let Some(region) = self.find(addr, 16) else {
            self.fault(Fault {
                cycle,
                write: false,
                addr,
                len: 16,
            });
            return None;
        };
        let base = unsafe { region.ptr.add((addr - region.iova) as usize) };
        let mut out = [0u64; 2];
        for (w, word) in out.iter_mut().enumerate() {
            for b in 0..8 {
                // SAFETY: inside the mapping checked above.
                let v =
                    unsafe { (*(base.add(w * 8 + b) as *const AtomicU8)).load(Ordering::Acquire) };
                *word |= (v as u64) << (b * 8);
            }
        }
        Some(out)
    }

    /// The faults kept so far (at most the first 1024).
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// How many faults happened in all.
    pub fn fault_count(&self) -> u64 {
        self.fault_count
    }
}

/// Zeroed, page-aligned host memory with the IOVA the device is to reach it at: the DMA
/// memory of the simulator's tests and of the library's simulated backend. Register it with
/// [`crate::SimDevice::map_buffer`] (or [`HostMemory::map`]).
pub struct HostBuffer {
    ptr: NonNull<u8>,
    len: usize,
    layout: Layout,
    iova: u64,
}

// SAFETY: plain owned memory; shared access goes through atomics (see `DmaMemory`).
unsafe impl Send for HostBuffer {}
unsafe impl Sync for HostBuffer {}

/// Alignment and granule of [`HostBuffer`]s.
pub const PAGE: usize = 4096;

impl HostBuffer {
    /// `len` zeroed bytes (a whole number of pages is allocated) for the device at `iova`.
    /// Panics when `iova` is not 16-byte aligned or memory runs out.
    pub fn new(iova: u64, len: usize) -> HostBuffer {
        assert!(
            iova.is_multiple_of(16),
            "IOVA {iova:#x} is not 16-byte aligned"
        );
        let size = len.max(1).div_ceil(PAGE) * PAGE;
        let layout = Layout::from_size_align(size, PAGE).expect("a page-aligned layout");
        // SAFETY: the size is not zero.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        HostBuffer {
            ptr,
            len,
            layout,
            iova,
        }
    }

    /// The bytes, copied out (for tests; the device must not be writing them).
    pub fn to_vec(&self) -> Vec<u8> {
        // SAFETY: `len` initialised bytes of our allocation.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }.to_vec()
    }
}

// SAFETY: the allocation is valid, page aligned and `len` bytes long until the buffer drops.
unsafe impl evnic_proto::DmaMemory for HostBuffer {
    fn host_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    fn len(&self) -> usize {
        self.len
    }
    fn iova(&self) -> u64 {
        self.iova
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

impl std::fmt::Debug for HostBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostBuffer({:#x}+{:#x})", self.iova, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_inside_mapping_and_faults_outside() {
        let mut buf = vec![0u64; 8];
        let mut m = HostMemory::default();
        unsafe { m.map(0x1000, buf.as_mut_ptr() as *mut u8, 64).unwrap() };
        assert!(m.write16(1, 0x1010, [0x1122, 0x3344], 0xffff));
        assert!(m.write16(2, 0x1020, [0xaabb_ccdd, 0], 0x0003));
        assert!(!m.write16(3, 0x1040, [1, 2], 0xffff), "one past the end");
        assert!(m.read16(4, 0x0ff0).is_none());
        assert_eq!(m.read16(5, 0x1010), Some([0x1122, 0x3344]));
        assert_eq!(m.fault_count(), 2);
        assert_eq!(
            m.faults()[0],
            Fault {
                cycle: 3,
                write: true,
                addr: 0x1040,
                len: 16
            }
        );
        assert!(m.unmap(0x1000));
        assert!(m.read16(6, 0x1010).is_none());
        drop(m);
        assert_eq!(buf[2..5], [0x1122, 0x3344, 0xccdd]);
    }

    #[test]
    fn overlapping_mappings_are_refused() {
        let mut a = vec![0u64; 8];
        let mut m = HostMemory::default();
        unsafe {
            m.map(0x1000, a.as_mut_ptr() as *mut u8, 64).unwrap();
            assert!(m.map(0x1030, a.as_mut_ptr() as *mut u8, 16).is_err());
        }
    }
}
