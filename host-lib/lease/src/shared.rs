//! Shared mappings of a memfd or a file, and a lock with the state it guards in one.

use crate::cell::LockCell;
use crate::Error;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::ptr::NonNull;

/// A `MAP_SHARED`, read-write mapping of a whole memfd or file: memory that several processes
/// map (the descriptor passed over a Unix socket, or inherited), each at its own address.
/// Unmapped on drop; the descriptor is kept, to pass on.
pub struct SharedMap {
    fd: OwnedFd,
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: shared memory; what is stored in it and how it is reached (atomics, byte copies) is
// the user's business, as with any raw pointer into it.
unsafe impl Send for SharedMap {}
// SAFETY: as above.
unsafe impl Sync for SharedMap {}

impl SharedMap {
    /// A new memfd (named `name` in `/proc/PID/fd`) of `len` zeroed bytes, mapped.
    pub fn create_memfd(name: &str, len: usize) -> io::Result<SharedMap> {
        let cname = CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a name with a NUL"))?;
        // SAFETY: a valid C string; the new descriptor is owned at once.
        let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor that nothing else owns.
        Self::create_on(unsafe { OwnedFd::from_raw_fd(fd) }, len)
    }

    /// A new file at `path` (which must not exist) of `len` zeroed bytes, mapped.
    pub fn create_file(path: &Path, len: usize) -> io::Result<SharedMap> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        Self::create_on(file.into(), len)
    }

    fn create_on(fd: OwnedFd, len: usize) -> io::Result<SharedMap> {
        // SAFETY: a valid descriptor.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Self::map(fd, len)
    }

    /// Maps the first `len` bytes of the memfd or file behind `fd`, which must hold at least
    /// that many (a peer's descriptor is checked, not trusted).
    pub fn map(fd: OwnedFd, len: usize) -> io::Result<SharedMap> {
        let size = Self::size_of(&fd)?;
        if len == 0 || size < len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("shared memory of {size} bytes, {len} asked for"),
            ));
        }
        // SAFETY: a new shared mapping of the descriptor; nothing else is at that address.
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
            return Err(io::Error::last_os_error());
        }
        Ok(SharedMap {
            fd,
            base: NonNull::new(p.cast()).expect("mmap returned null"),
            len,
        })
    }

    /// Maps the whole memfd or file behind `fd`.
    pub fn map_whole(fd: OwnedFd) -> io::Result<SharedMap> {
        let size = Self::size_of(&fd)?;
        Self::map(fd, size)
    }

    fn size_of(fd: &OwnedFd) -> io::Result<usize> {
        // SAFETY: fstat into a zeroed struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a valid descriptor and buffer.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st.st_size as usize)
    }

    /// Where it is mapped in this process (page-aligned).
    pub fn ptr(&self) -> NonNull<u8> {
        self.base
    }

    /// Bytes mapped (never 0).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a mapping of no bytes is refused.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The descriptor of the memfd or file, to pass to another process.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

impl std::fmt::Debug for SharedMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMap")
            .field("fd", &self.fd.as_raw_fd())
            .field("len", &self.len)
            .finish()
    }
}

/// A lease lock in a [`SharedMap`] of a memfd or a file, followed by the state it guards: the
/// lock cell at offset 0, the data at [`SharedLock::DATA_OFFSET`].
///
/// Another process joins with [`SharedLock::from_fd`] (the descriptor passed over a Unix
/// socket, or inherited) or [`SharedLock::open`] (the file's path, or `/proc/PID/fd/N`); the
/// mapping may lie at a different address there. Dereferences to the [`LockCell`].
pub struct SharedLock {
    map: SharedMap,
}

// The cell fits before the data.
const _: () = assert!(LockCell::SIZE <= SharedLock::DATA_OFFSET);

impl SharedLock {
    /// Where the guarded data begins (one page in, so it can be mapped on its own).
    pub const DATA_OFFSET: usize = 4096;

    /// A new lock in a new memfd (named `name` in `/proc/PID/fd`), with `data_len` zeroed
    /// bytes of data after it.
    pub fn create_memfd(name: &str, data_len: usize) -> Result<SharedLock, Error> {
        if name.contains('\0') {
            return Err(Error::NotALock("a name with a NUL"));
        }
        Self::init(SharedMap::create_memfd(name, Self::DATA_OFFSET + data_len).map_err(Error::Io)?)
    }

    /// A new lock in a new file at `path` (which must not exist), with `data_len` zeroed bytes
    /// of data after it. A file outlives a reboot but a lock's state does not: remove it then.
    pub fn create_file(path: &Path, data_len: usize) -> Result<SharedLock, Error> {
        Self::init(SharedMap::create_file(path, Self::DATA_OFFSET + data_len).map_err(Error::Io)?)
    }

    fn init(map: SharedMap) -> Result<SharedLock, Error> {
        // SAFETY: the mapping is page-aligned, at least DATA_OFFSET >= SIZE bytes, and no one
        // else has the descriptor yet.
        unsafe { LockCell::init(map.ptr().as_ptr()) };
        Ok(SharedLock { map })
    }

    /// Joins the lock in the memfd or file behind `fd` (made by [`SharedLock::create_memfd`] or
    /// [`SharedLock::create_file`]).
    pub fn from_fd(fd: OwnedFd) -> Result<SharedLock, Error> {
        let map = SharedMap::map_whole(fd).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidInput => Error::NotALock("too short for a lease lock"),
            _ => Error::Io(e),
        })?;
        if map.len() < Self::DATA_OFFSET {
            return Err(Error::NotALock("too short for a lease lock"));
        }
        // SAFETY: page-aligned, long enough; shared memory written only by lock operations.
        unsafe { LockCell::attach(map.ptr().as_ptr()) }?;
        Ok(SharedLock { map })
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

    /// The descriptor of the memfd or file, to pass to another process.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.map.fd()
    }

    /// The lock.
    pub fn cell(&self) -> &LockCell {
        // SAFETY: initialized or checked when the mapping was made; lives as long as self.
        unsafe { &*(self.map.ptr().as_ptr() as *const LockCell) }
    }

    /// The guarded data: [`SharedLock::data_len`] bytes of shared memory, page-aligned. The
    /// lock does not enforce anything about them: read and write them while holding a lease.
    pub fn data(&self) -> NonNull<u8> {
        // SAFETY: DATA_OFFSET is inside the mapping.
        unsafe { self.map.ptr().add(Self::DATA_OFFSET) }
    }

    /// How many bytes of data follow the lock.
    pub fn data_len(&self) -> usize {
        self.map.len() - Self::DATA_OFFSET
    }
}

impl std::ops::Deref for SharedLock {
    type Target = LockCell;
    fn deref(&self) -> &LockCell {
        self.cell()
    }
}

impl std::fmt::Debug for SharedLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLock")
            .field("fd", &self.map.fd.as_raw_fd())
            .field("data_len", &self.data_len())
            .field("cell", self.cell())
            .finish()
    }
}
