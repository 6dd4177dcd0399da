//! DMA memory: host memory the device reads and writes at an I/O virtual address (IOVA).

use std::sync::atomic::AtomicU64;

/// A block of host memory mapped for the device.
///
/// # Safety
/// An implementor guarantees that `host_ptr()..host_ptr() + len()` is valid memory, 16-byte
/// aligned, that the device reaches at `iova()..iova() + len()`, for as long as the value lives,
/// and that it is only accessed through atomic words or the byte copies below while the device
/// may use it.
pub unsafe trait DmaMemory {
    /// Host address of the first byte.
    fn host_ptr(&self) -> *mut u8;
    /// Length in bytes.
    fn len(&self) -> usize;
    /// Device address of the first byte.
    fn iova(&self) -> u64;

    /// True when the memory has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The memory as 64-bit words (the device writes 16-byte beats, as two words: the high one,
    /// then the low one with release ordering).
    fn words(&self) -> &[AtomicU64] {
        // SAFETY: the trait's contract: valid and 16-byte aligned for `len()` bytes, accessed
        // atomically while shared with the device.
        unsafe { std::slice::from_raw_parts(self.host_ptr() as *const AtomicU64, self.len() / 8) }
    }

    /// Copies `out.len()` bytes from `offset` out of the memory. Panics past its end.
    ///
    /// # Safety
    /// The device must not be writing these bytes (e.g. a receive buffer whose event has been
    /// seen, which the device does not reuse until it is posted again).
    unsafe fn read_bytes(&self, offset: usize, out: &mut [u8]) {
        assert!(offset + out.len() <= self.len(), "read past the DMA memory");
        std::ptr::copy_nonoverlapping(self.host_ptr().add(offset), out.as_mut_ptr(), out.len());
    }

    /// Copies `data` into the memory at `offset`. Panics past its end.
    ///
    /// # Safety
    /// The device must not be reading these bytes (e.g. a transmit buffer not yet posted).
    unsafe fn write_bytes(&self, offset: usize, data: &[u8]) {
        assert!(
            offset + data.len() <= self.len(),
            "write past the DMA memory"
        );
        std::ptr::copy_nonoverlapping(data.as_ptr(), self.host_ptr().add(offset), data.len());
    }
}

// SAFETY: a reference to DMA memory is DMA memory for as long as the reference lives.
unsafe impl<M: DmaMemory + ?Sized> DmaMemory for &M {
    fn host_ptr(&self) -> *mut u8 {
        (**self).host_ptr()
    }
    fn len(&self) -> usize {
        (**self).len()
    }
    fn iova(&self) -> u64 {
        (**self).iova()
    }
}

/// Checks what the device needs of a ring's memory: 16-byte aligned on both sides, and at least
/// `bytes` long. The error says which.
pub fn check_ring_memory<M: DmaMemory + ?Sized>(mem: &M, bytes: usize) -> Result<(), String> {
    if !(mem.host_ptr() as usize).is_multiple_of(16) || !mem.iova().is_multiple_of(16) {
        return Err(format!(
            "DMA memory at {:p} (IOVA {:#x}) is not 16-byte aligned",
            mem.host_ptr(),
            mem.iova()
        ));
    }
    if mem.len() < bytes {
        return Err(format!(
            "DMA memory of {} bytes for a ring of {bytes}",
            mem.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_memory {
    //! Plain memory standing in for DMA memory in the unit tests of this crate.
    use super::DmaMemory;

    /// Zeroed, 16-byte aligned words at a made-up IOVA.
    pub struct Words {
        pub words: Box<[u128]>,
        pub iova: u64,
    }

    impl Words {
        pub fn new(bytes: usize, iova: u64) -> Words {
            Words {
                words: vec![0u128; bytes.div_ceil(16)].into_boxed_slice(),
                iova,
            }
        }
    }

    // SAFETY: owned, aligned memory living as long as the value.
    unsafe impl DmaMemory for Words {
        fn host_ptr(&self) -> *mut u8 {
            self.words.as_ptr() as *mut u8
        }
        fn len(&self) -> usize {
            self.words.len() * 16
        }
        fn iova(&self) -> u64 {
            self.iova
        }
    }
}
