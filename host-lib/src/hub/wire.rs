//! The protocol between the hub and its clients, all of it: message layout, operations, error
//! codes, and the socket calls that carry them (with file descriptors by `SCM_RIGHTS`).
//!
//! The socket is a Unix `SOCK_SEQPACKET` socket: every message arrives whole, and a closed
//! peer reads as end of file. A message is [`WORDS`] little-endian 32-bit words, plus up to
//! [`MAX_FDS`] file descriptors. A request is `[op, a, b, c]`; its answer `[status, a, b, c]`
//! (status [`OK`] or an error code with its fields in `a`, `b`). The client sends one request
//! at a time and waits for its answer.
//!
//! | op | request | fds | answer |
//! |---|---|---|---|
//! | `HELLO` | `a` = [`VERSION`] | | `a` = hub's version, `b` = the hub's interrupt-queue VI, `c` = client id |
//! | `READ` | `a` = BAR0 offset | | `a` = value |
//! | `WRITE` | `a` = offset, `b` = value | | |
//! | `MAP` | `a` = bytes | memfd | `a`, `b` = IOVA (low, high) |
//! | `UNMAP` | `a`, `b` = IOVA | | |
//! | `TAKE_VI` | `a` = VI or [`ANY`] | | `a` = VI |
//! | `ATTACH` | `a` = VI | eventfd, doorbell page memfd | `a` = 1 when the device side drains the page (else doorbells go as `WRITE`s); with the eventfd that wakes a sleeping device side, when it has one |
//! | `DETACH` | `a` = VI | | |
//! | `FREE_VI` | `a` = VI | | |
//! | `TAKE_TIMER` | | | `a` = timer |
//! | `FREE_TIMER` | `a` = timer | | |
//! | `STATS` | | | `a` = requests served for this client, `b` = doorbell records the device side applied (all clients), `c` = clients connected |
//! | `TAKE_FILTER` | `a` = ternary entry or [`ANY`] | | `a` = entry, now this client's (still disabled if it was free) |
//! | `FREE_FILTER` | `a` = entry | | (the entry is disabled and free) |
//! | `DIRECTORY` | | | the directory's memfd ([`super::directory`]) with the answer |
//!
//! A client's `WRITE`s to the filter page's staging registers (`VALUE*`, `MASK*`, `ENTRY`) are
//! kept by the hub for that client alone; its `WRITE` of `COMMIT` names an entry it took, and
//! the hub checks the staged action (an own VI, a permitted group, or drop) and writes the
//! whole entry itself, so that two clients' staging never mixes.

use std::io::IoSlice;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Version of this protocol; the hub refuses a client of another version.
pub const VERSION: u32 = 2;
/// Words in a message.
pub const WORDS: usize = 4;
/// Most file descriptors a message carries.
pub const MAX_FDS: usize = 2;
/// `TAKE_VI` of any free VI.
pub const ANY: u32 = u32::MAX;

/// Operations.
pub mod op {
    #![allow(missing_docs)]
    pub const HELLO: u32 = 1;
    pub const READ: u32 = 2;
    pub const WRITE: u32 = 3;
    pub const MAP: u32 = 4;
    pub const UNMAP: u32 = 5;
    pub const TAKE_VI: u32 = 6;
    pub const ATTACH: u32 = 7;
    pub const DETACH: u32 = 8;
    pub const FREE_VI: u32 = 9;
    pub const TAKE_TIMER: u32 = 10;
    pub const FREE_TIMER: u32 = 11;
    pub const STATS: u32 = 12;
    pub const TAKE_FILTER: u32 = 13;
    pub const FREE_FILTER: u32 = 14;
    pub const DIRECTORY: u32 = 15;
}

/// Status of an answer: done.
pub const OK: u32 = 0;

/// Error codes of an answer, with what `a` and `b` carry.
pub mod err {
    #![allow(missing_docs)]
    /// `a` = the hub's version.
    pub const VERSION: u32 = 1;
    /// `a` = VI.
    pub const NOT_YOUR_VI: u32 = 2;
    /// `a` = timer.
    pub const NOT_YOUR_TIMER: u32 = 3;
    /// `a` = group.
    pub const GROUP_NOT_PERMITTED: u32 = 4;
    /// `a` = offset.
    pub const HUB_OWNED: u32 = 5;
    /// `a`, `b` = IOVA.
    pub const FOREIGN_MEMORY: u32 = 6;
    /// `a` = VI.
    pub const VI_IN_USE: u32 = 7;
    /// `a` = VI, `b` = the interrupt-queue VI.
    pub const VI_OUT_OF_RANGE: u32 = 8;
    /// `a` = VIs of the device.
    pub const NO_FREE_VI: u32 = 9;
    /// `a` = timers of the device.
    pub const NO_FREE_TIMER: u32 = 10;
    /// The device failed the access.
    pub const DEVICE: u32 = 11;
    /// An unknown operation or missing file descriptors.
    pub const BAD_REQUEST: u32 = 12;
    /// The memory could not be mapped for the device.
    pub const MAP_FAILED: u32 = 13;
    /// `a` = filter entry.
    pub const NOT_YOUR_FILTER: u32 = 14;
    /// `a` = filter entry.
    pub const FILTER_IN_USE: u32 = 15;
    /// `a` = filter entries of the device.
    pub const NO_FREE_FILTER: u32 = 16;
    /// `a` = filter entry, `b` = filter entries of the device.
    pub const BAD_FILTER_INDEX: u32 = 17;
}

/// A message.
pub type Msg = [u32; WORDS];

/// Sends `msg` with `fds` on `sock` (never raising SIGPIPE).
pub fn send(sock: RawFd, msg: &Msg, fds: &[RawFd]) -> std::io::Result<()> {
    assert!(fds.len() <= MAX_FDS);
    let mut bytes = [0u8; WORDS * 4];
    for (i, w) in msg.iter().enumerate() {
        bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    let iov = [IoSlice::new(&bytes)];
    let mut cbuf = [0u64; 8]; // room for CMSG_SPACE(MAX_FDS * 4), 8-byte aligned
                              // SAFETY: a zeroed msghdr filled with pointers to live buffers of the given sizes; the
                              // control message is built with the CMSG macros inside `cbuf`.
    unsafe {
        let mut mh: libc::msghdr = std::mem::zeroed();
        mh.msg_iov = iov.as_ptr() as *mut libc::iovec;
        mh.msg_iovlen = 1;
        if !fds.is_empty() {
            let len = std::mem::size_of_val(fds) as u32;
            mh.msg_control = cbuf.as_mut_ptr().cast();
            mh.msg_controllen = libc::CMSG_SPACE(len) as _;
            let c = libc::CMSG_FIRSTHDR(&mh);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(len) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast(), fds.len());
        }
        loop {
            let r = libc::sendmsg(sock, &mh, libc::MSG_NOSIGNAL);
            if r >= 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Receives one message and the descriptors it carries; `Ok(None)` at end of file (the peer
/// closed or died).
pub fn recv(sock: RawFd) -> std::io::Result<Option<(Msg, Vec<OwnedFd>)>> {
    let mut bytes = [0u8; WORDS * 4];
    let mut cbuf = [0u64; 8];
    // SAFETY: as in `send`; received descriptors are taken into OwnedFd once each.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: bytes.as_mut_ptr().cast(),
            iov_len: bytes.len(),
        };
        let mut mh: libc::msghdr = std::mem::zeroed();
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf.as_mut_ptr().cast();
        mh.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        let n = loop {
            let r = libc::recvmsg(sock, &mut mh, libc::MSG_CMSG_CLOEXEC);
            if r >= 0 {
                break r as usize;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        };
        let mut fds = Vec::new();
        let mut c = libc::CMSG_FIRSTHDR(&mh);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c) as *const RawFd;
                let count = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            c = libc::CMSG_NXTHDR(&mh, c);
        }
        if n == 0 {
            return Ok(None);
        }
        if n != bytes.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a hub message of {n} bytes, not {}", bytes.len()),
            ));
        }
        let mut msg = [0u32; WORDS];
        for (i, w) in msg.iter_mut().enumerate() {
            *w = u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap());
        }
        Ok(Some((msg, fds)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evnic_lease::SharedMap;
    use std::os::fd::AsRawFd;

    #[test]
    fn messages_and_descriptors_cross_a_socket_pair() {
        let mut sv = [0; 2];
        // SAFETY: socketpair into a valid array.
        assert_eq!(
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, sv.as_mut_ptr()) },
            0
        );
        // SAFETY: fresh descriptors.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
        let mem = SharedMap::create_memfd("evnic-test", 4096).unwrap();
        // SAFETY: writing inside our mapping.
        unsafe { mem.ptr().as_ptr().write(0x5a) };
        send(
            a.as_raw_fd(),
            &[op::MAP, 4096, 0, 7],
            &[mem.fd().as_raw_fd()],
        )
        .unwrap();
        let (msg, fds) = recv(b.as_raw_fd()).unwrap().unwrap();
        assert_eq!(msg, [op::MAP, 4096, 0, 7]);
        assert_eq!(fds.len(), 1);
        let there = SharedMap::map(fds.into_iter().next().unwrap(), 4096).unwrap();
        // SAFETY: reading inside the other mapping of the same memory.
        assert_eq!(unsafe { there.ptr().as_ptr().read() }, 0x5a);
        assert!(SharedMap::map(there.fd().try_clone_to_owned().unwrap(), 8192).is_err());
        drop(a);
        assert!(recv(b.as_raw_fd()).unwrap().is_none());
    }
}
