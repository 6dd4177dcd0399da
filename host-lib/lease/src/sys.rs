//! What the lock needs from Linux: the clock, the futex, and whether a process is still there.

use crate::cell::LockCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// CLOCK_MONOTONIC in ns: the same clock in every process on the machine, read through the
/// vDSO (no system call).
pub(crate) fn now_ns(_cell: &LockCell) -> u64 {
    read_clock(libc::CLOCK_MONOTONIC, false)
}

fn read_clock(clock: libc::clockid_t, resolution: bool) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe {
        if resolution {
            libc::clock_getres(clock, &mut ts)
        } else {
            libc::clock_gettime(clock, &mut ts)
        }
    };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

const FUTEX_WAIT_BITSET: libc::c_int = 9;
const FUTEX_WAKE_BITSET: libc::c_int = 10;

fn futex_addr(cell: &LockCell) -> *const u32 {
    let word: *const AtomicU64 = &cell.word;
    // The futex is the low half of the 64-bit lock word.
    let offset = if cfg!(target_endian = "big") { 1 } else { 0 };
    // SAFETY: both halves lie inside the word.
    unsafe { (word as *const u32).add(offset) }
}

/// Sleeps while the futex half of the word equals `expected`, until a wake that matches
/// `bitset` or the absolute CLOCK_MONOTONIC time `until_ns` (`u64::MAX`: no limit) (or a signal; the caller looks
/// at the word again in every case). Not the `_PRIVATE` operation:
/// the kernel keys a shared futex on the mapping's page, so waiters and wakers in different
/// processes (at different addresses) meet.
pub(crate) fn futex_wait(cell: &LockCell, expected: u32, bitset: u32, until_ns: u64) {
    let until = libc::timespec {
        tv_sec: (until_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (until_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: the address is a live, aligned u32 in the cell; FUTEX_WAIT_BITSET takes an
    // absolute CLOCK_MONOTONIC timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            futex_addr(cell),
            FUTEX_WAIT_BITSET,
            expected,
            if until_ns == u64::MAX {
                std::ptr::null()
            } else {
                &until as *const libc::timespec
            },
            std::ptr::null::<u32>(),
            bitset,
        );
    }
}

/// Wakes up to `n` waiters whose bitset meets `bitset`; returns how many woke.
pub(crate) fn futex_wake(cell: &LockCell, n: u32, bitset: u32) -> usize {
    // SAFETY: as in `futex_wait`; a wake does not touch the word.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            futex_addr(cell),
            FUTEX_WAKE_BITSET,
            n,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            bitset,
        )
    };
    r.max(0) as usize
}

static FORKS: AtomicU64 = AtomicU64::new(0);
static WATCH_FORKS: Once = Once::new();

extern "C" fn after_fork_in_child() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// Starts counting forks (once per process): a party or lease copied into a forked child
/// must not act for its parent.
pub(crate) fn watch_forks() {
    WATCH_FORKS.call_once(|| {
        // SAFETY: registers a handler that only increments an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
}

/// How many forks led to this process since the counting began (0 in the original process).
pub(crate) fn fork_generation() -> u64 {
    FORKS.load(Ordering::Relaxed)
}

const PID_BITS: u32 = 22; // PID_MAX_LIMIT is 2^22

/// The identity of a process: its pid and its start time (clock ticks after boot, from
/// `/proc/PID/stat`), so that a pid reused by a later process names a different identity.
pub(crate) fn own_identity(_cell: &LockCell) -> io::Result<u64> {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    let (_, start) = read_stat(pid)?;
    Ok((start << PID_BITS) | u64::from(pid))
}

/// Whether two identities are one process.
pub(crate) fn same_process(a: u64, b: u64) -> bool {
    a == b
}

/// The state letter and the start time of a process, from `/proc/PID/stat`.
fn read_stat(pid: u32) -> io::Result<(u8, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the
    // last ')'. Then: state (field 3) ... starttime (field 22).
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no ')' in stat"))?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next().and_then(|s| s.bytes().next());
    let start = fields.nth(18).and_then(|s| s.parse::<u64>().ok());
    match (state, start) {
        (Some(state), Some(start)) => Ok((state, start)),
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, "short stat")),
    }
}

/// A process a waiter watches: a pidfd, which names that process and no later one with the
/// same pid, and becomes readable when it exits.
pub(crate) struct ProcessWatch {
    identity: u64,
    pidfd: Option<OwnedFd>,
}

/// Whether the process of `identity` has exited (or is a zombie). Asked only by a waiter
/// that has seen the same holder for a liveness interval, so its cost (one `poll` on a cached
/// pidfd; the first time `pidfd_open` and a read of `/proc/PID/stat`) is off the fast path.
/// When nothing can be learnt (no `/proc`), the process counts as alive.
pub(crate) fn process_gone(
    _cell: &LockCell,
    identity: u64,
    watch: &mut Option<ProcessWatch>,
) -> bool {
    if let Some(w) = watch.as_ref().filter(|w| w.identity == identity) {
        if let Some(fd) = &w.pidfd {
            let mut p = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, no wait.
            let r = unsafe { libc::poll(&mut p, 1, 0) };
            return r > 0 && p.revents & libc::POLLIN != 0;
        }
    }
    *watch = None;
    let pid = (identity & ((1 << PID_BITS) - 1)) as u32;
    let start = identity >> PID_BITS;
    // Open the pidfd first, then read the start time: a pidfd pins the process it was opened
    // on, so if the pid still shows the holder's start time after the open, the pidfd is the
    // holder's and a later exit makes it readable; if not, the holder is gone.
    // SAFETY: pidfd_open takes a pid and flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return true;
    }
    // SAFETY: a new descriptor that nothing else owns.
    let pidfd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
    match read_stat(pid) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(_) => false,
        Ok((state, st)) => {
            if st != start || state == b'Z' || state == b'X' {
                return true;
            }
            *watch = Some(ProcessWatch { identity, pidfd });
            false
        }
    }
}
