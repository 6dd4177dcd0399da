//! A lock and the state it guards in one shared mapping: a memfd or a file.

use crate::cell::LockCell;
use crate::Error;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::ptr::NonNull;

/// A lease lock in a `MAP_SHARED` mapping of a memfd or a file, followed by the state it
/// guards: the lock cell at offset 0, the data at [`SharedLock::DATA_OFFSET`].
///
/// Another process joins with [`SharedLock::from_fd`] (the descriptor passed over a Unix
/// socket, or inherited) or [`SharedLock::open`] (the file's path, or `/proc/PID/fd/N`); the
/// mapping may lie at a different address there. Dereferences to the [`LockCell`].
pub struct SharedLock {
    fd: OwnedFd,
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is shared memory reached only through atomics (the cell) and through
// the raw data pointer, whose use is the caller's business.
unsafe impl Send for SharedLock {}
// SAFETY: as above.
unsafe impl Sync for SharedLock {}

// The cell fits before the data.
const _: () = assert!(LockCell::SIZE <= SharedLock::DATA_OFFSET);

impl SharedLock {
    /// Where the guarded data begins (one page in, so it can be mapped on its own).
    pub const DATA_OFFSET: usize = 4096;

    /// A new lock in a new memfd (named `name` in `/proc/PID/fd`), with `data_len` zeroed
    /// bytes of data after it.
    pub fn create_memfd(name: &str, data_len: usize) -> Result<SharedLock, Error> {
        let cname = CString::new(name).map_err(|_| Error::NotALock("a name with a NUL"))?;
        // SAFETY: a valid C string; the new descriptor is owned at once.
        let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::Io(io::Error::last_os_error()));
        }
        // SAFETY: a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Self::create_on(fd, data_len)
    }

    /// A new lock in a new file at `path` (which must not exist), with `data_len` zeroed bytes
    /// of data after it. A file outlives a reboot but a lock's state does not: remove it then.
    pub fn create_file(path: &Path, data_len: usize) -> Result<SharedLock, Error> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(Error::Io)?;
        Self::create_on(file.into(), data_len)
    }

    fn create_on(fd: OwnedFd, data_len: usize) -> Result<SharedLock, Error> {
        let len = Self::DATA_OFFSET + data_len;
        // SAFETY: a valid descriptor.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(Error::Io(io::Error::last_os_error()));
        }
        let lock = Self::map(fd, len)?;
        // SAFETY: the mapping is page-aligned, at least DATA_OFFSET >= SIZE bytes, and no one
        // else has the descriptor yet.
        unsafe { LockCell::init(lock.base.as_ptr()) };
        Ok(lock)
    }

    /// Joins the lock in the memfd or file behind `fd` (made by [`SharedLock::create_memfd`] or
    /// [`SharedLock::create_file`]).
    pub fn from_fd(fd: OwnedFd) -> Result<SharedLock, Error> {
        // SAFETY: fstat into a zeroed struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a valid descriptor and buffer.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(Error::Io(io::Error::last_os_error()));
        }
        let len = st.st_size as usize;
        if len < Self::DATA_OFFSET {
            return Err(Error::NotALock("too short for a lease lock"));
        }
        let lock = Self::map(fd, len)?;
        // SAFETY: page-aligned, long enough; shared memory written only by lock operations.
        unsafe { LockCell::attach(lock.base.as_ptr()) }?;
        Ok(lock)
    }

    /// Joins the lock in the file at `path` (a lock file, or `/proc/PID/fd/N` of a memfd).
    pub fn open(path: &Path) -> Result<SharedLock, Error> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(Error::Io)?;
        Self::from_fd(file.into())
    }

    fn map(fd: OwnedFd, len: usize) -> Result<SharedLock, Error> {
        // SAFETY: a new shared mapping of the whole file; nothing else is at that address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::Io(io::Error::last_os_error()));
        }
        Ok(SharedLock {
            fd,
            base: NonNull::new(p as *mut u8).expect("mmap returned null"),
            len,
        })
    }

    /// The descriptor of the memfd or file, to pass to another process.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The lock.
    pub fn cell(&self) -> &LockCell {
        // SAFETY: initialized or checked when the mapping was made; lives as long as self.
        unsafe { &*(self.base.as_ptr() as *const LockCell) }
    }

    /// The guarded data: [`SharedLock::data_len`] bytes of shared memory, page-aligned. The
    /// lock does not enforce anything about them: read and write them while holding a lease.
    pub fn data(&self) -> NonNull<u8> {
        // SAFETY: DATA_OFFSET is inside the mapping.
        unsafe { self.base.add(Self::DATA_OFFSET) }
    }

    /// How many bytes of data follow the lock.
    pub fn data_len(&self) -> usize {
        self.len - Self::DATA_OFFSET
    }
}

impl std::ops::Deref for SharedLock {
    type Target = LockCell;
    fn deref(&self) -> &LockCell {
        self.cell()
    }
}

impl Drop for SharedLock {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr() as *mut libc::c_void, self.len) };
    }
}

impl std::fmt::Debug for SharedLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLock")
            .field("fd", &self.fd.as_raw_fd())
            .field("data_len", &self.data_len())
            .field("cell", self.cell())
            .finish()
    }
}
