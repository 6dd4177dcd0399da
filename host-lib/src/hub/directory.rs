//! The hub's directory: a table of names for groups ("feed.eurusd" is group 5), in memory
//! shared by the hub and every client, guarded by a lease lock ([`evnic_lease`]).
//!
//! Clients write it themselves (no request to the hub), so a publisher and its consumers agree
//! on group numbers without configuration. It is advisory: what a client may subscribe to or
//! produce into is still checked by the hub.
//!
//! **Layout.** The lock's data holds two copies of the table, each one page: a header (`seq`,
//! a checksum, the entry count) and [`CAPACITY`] entries (name, group, client, pid). The table
//! in force is the copy whose checksum holds with the higher `seq`. A change is written into
//! the other copy, the lease is checked, and the copy is published by its `seq`, stored last:
//! a holder that dies or is terminated in the middle leaves the table in force untouched.
//!
//! **Repair.** A lease taken from a dead holder, or from one terminated past its deadline,
//! comes marked as needing repair. Repair rewrites both copies from the table in force (an
//! empty one when neither copy holds), dropping entries that name no live client. The hub
//! takes the lock whenever a client disconnects, at the highest priority: it repairs what a
//! dead holder left and removes that client's entries. A client that finds the mark first
//! repairs the same way.

use crate::event::Group;
use evnic_lease::{Acquired, Lease, Priority, SharedLock};
use std::time::Duration;

/// Entries the table holds.
pub const CAPACITY: usize = 64;
/// Longest name, in bytes.
pub const NAME_BYTES: usize = 40;

const ENTRY_BYTES: usize = NAME_BYTES + 16;
const HEADER_BYTES: usize = 24;
const COPY_BYTES: usize = 4096;
const _: () = assert!(HEADER_BYTES + CAPACITY * ENTRY_BYTES <= COPY_BYTES);

/// The lease of a client's change; a client that keeps the lock longer may be terminated by
/// the hub.
pub const CLIENT_LEASE: Duration = Duration::from_millis(100);
/// The lease the hub takes to clean up after a client.
const HUB_LEASE: Duration = Duration::from_millis(100);

/// One name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name.
    pub name: String,
    /// The group it names.
    pub group: Group,
    /// The hub's number of the client that published it.
    pub client: u32,
    /// That client's process.
    pub pid: u32,
}

/// Why a directory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The lease lock failed (terminated: the change was not published).
    #[error("the directory's lock: {0}")]
    Lock(#[from] evnic_lease::Error),
    /// Another client published the name.
    #[error("the name {name:?} is published by client {client}")]
    NameTaken {
        /// The name.
        name: String,
        /// Its publisher.
        client: u32,
    },
    /// A name of no bytes, too many, or with a NUL.
    #[error("a directory name has 1 to {NAME_BYTES} bytes and no NUL, not {name:?}")]
    BadName {
        /// The name.
        name: String,
    },
    /// Every entry is taken.
    #[error("the directory is full ({CAPACITY} names)")]
    Full,
}

/// The shared directory as one party sees it.
pub struct Directory {
    lock: SharedLock,
    client: u32,
    pid: u32,
    priority: Priority,
    lease: Duration,
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Directory {
    /// The hub's: a new directory in a memfd (pass [`Directory::fd`] to clients).
    pub(crate) fn create() -> Result<Directory, DirectoryError> {
        let lock = SharedLock::create_memfd("evnic-directory", 2 * COPY_BYTES)?;
        Ok(Directory {
            lock,
            client: 0,
            pid: std::process::id(),
            priority: Priority::HIGHEST,
            lease: HUB_LEASE,
        })
    }

    /// A client's view of the directory behind `fd`, as client `client`.
    pub(crate) fn join(fd: std::os::fd::OwnedFd, client: u32) -> Result<Directory, DirectoryError> {
        let lock = SharedLock::from_fd(fd)?;
        if lock.data_len() < 2 * COPY_BYTES {
            return Err(evnic_lease::Error::NotALock("too short for the hub's directory").into());
        }
        Ok(Directory {
            lock,
            client,
            pid: std::process::id(),
            priority: Priority::LOWEST,
            lease: CLIENT_LEASE,
        })
    }

    /// The memfd, to pass to a client.
    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.lock.fd()
    }

    fn copy(&self, i: usize) -> *mut u8 {
        // SAFETY: two copies of COPY_BYTES lie in the data (checked when made or joined).
        unsafe { self.lock.data().as_ptr().add(i * COPY_BYTES) }
    }

    /// Reads copy `i`: its seq and entries, if its checksum holds.
    fn read_copy(&self, i: usize) -> Option<(u64, Vec<DirEntry>)> {
        let mut buf = vec![0u8; COPY_BYTES];
        // SAFETY: reading inside the copy, under the lease (a terminated holder may still be
        // writing the other copy, never the one in force, which the checksum guards anyway).
        unsafe { std::ptr::copy_nonoverlapping(self.copy(i), buf.as_mut_ptr(), COPY_BYTES) };
        let seq = u64::from_le_bytes(buf[0..8].try_into().unwrap());
        let sum = u64::from_le_bytes(buf[8..16].try_into().unwrap());
        let count = u32::from_le_bytes(buf[16..20].try_into().unwrap()) as usize;
        if seq == 0 || count > CAPACITY {
            return None;
        }
        let body = &buf[16..HEADER_BYTES + count * ENTRY_BYTES];
        if fnv(body) != sum {
            return None;
        }
        let mut entries = Vec::with_capacity(count);
        for k in 0..count {
            let e = &buf[HEADER_BYTES + k * ENTRY_BYTES..][..ENTRY_BYTES];
            let len = e[..NAME_BYTES]
                .iter()
                .position(|b| *b == 0)
                .unwrap_or(NAME_BYTES);
            let word = |at: usize| u32::from_le_bytes(e[at..at + 4].try_into().unwrap());
            entries.push(DirEntry {
                name: String::from_utf8_lossy(&e[..len]).into_owned(),
                group: Group(word(NAME_BYTES)),
                client: word(NAME_BYTES + 4),
                pid: word(NAME_BYTES + 8),
            });
        }
        Some((seq, entries))
    }

    /// The table in force: which copy, its seq and entries (copy 0 with seq 0 and no entries
    /// when neither copy holds).
    fn current(&self) -> (usize, u64, Vec<DirEntry>) {
        match (self.read_copy(0), self.read_copy(1)) {
            (Some((a, ea)), Some((b, eb))) => {
                if a >= b {
                    (0, a, ea)
                } else {
                    (1, b, eb)
                }
            }
            (Some((a, ea)), None) => (0, a, ea),
            (None, Some((b, eb))) => (1, b, eb),
            (None, None) => (0, 0, Vec::new()),
        }
    }

    /// Writes `entries` into copy `i` as `seq`: the body first, then (after the lease is
    /// checked) `seq`, the store that publishes it.
    fn write_copy(
        &self,
        lease: &Lease<'_, '_>,
        i: usize,
        seq: u64,
        entries: &[DirEntry],
    ) -> Result<(), DirectoryError> {
        let mut buf = vec![0u8; HEADER_BYTES + entries.len() * ENTRY_BYTES];
        buf[16..20].copy_from_slice(&(entries.len() as u32).to_le_bytes());
        for (k, e) in entries.iter().enumerate() {
            let at = HEADER_BYTES + k * ENTRY_BYTES;
            buf[at..at + e.name.len()].copy_from_slice(e.name.as_bytes());
            for (n, w) in [e.group.0, e.client, e.pid].iter().enumerate() {
                let o = at + NAME_BYTES + 4 * n;
                buf[o..o + 4].copy_from_slice(&w.to_le_bytes());
            }
        }
        let sum = fnv(&buf[16..]);
        buf[8..16].copy_from_slice(&sum.to_le_bytes());
        let p = self.copy(i);
        // SAFETY: inside the copy, which is not the table in force; seq (bytes 0..8) is zeroed
        // first so that a torn write is never taken for a table.
        unsafe {
            std::ptr::write_volatile(p.cast::<u64>(), 0);
            std::ptr::copy_nonoverlapping(buf.as_ptr().add(8), p.add(8), buf.len() - 8);
        }
        lease.check().map_err(|_| evnic_lease::Error::Terminated)?;
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        // SAFETY: as above.
        unsafe { std::ptr::write_volatile(p.cast::<u64>(), seq.to_le()) };
        Ok(())
    }

    /// Rewrites both copies from the table in force, keeping the entries `keep` accepts.
    fn repair(
        &self,
        lease: &mut Lease<'_, '_>,
        keep: impl Fn(&DirEntry) -> bool,
    ) -> Result<usize, DirectoryError> {
        let (_, seq, entries) = self.current();
        let before = entries.len();
        let entries: Vec<DirEntry> = entries.into_iter().filter(|e| keep(e)).collect();
        self.write_copy(lease, 0, seq + 1, &entries)?;
        self.write_copy(lease, 1, seq + 2, &entries)?;
        lease.repaired();
        Ok(before - entries.len())
    }

    /// Runs `f` on the table under the lease and publishes what it leaves (when it changed).
    /// A client's `f` sees every entry, but only its own entries change: others are kept as
    /// they were.
    pub fn update<R>(&self, f: impl FnOnce(&mut Vec<DirEntry>) -> R) -> Result<R, DirectoryError> {
        let mut party = self.lock.party()?;
        let mut lease = party.acquire(self.lease, self.priority)?;
        if lease.needs_repair() {
            self.repair(&mut lease, |e| process_alive(e.pid))?;
        }
        let (i, seq, before) = self.current();
        let mut entries = before.clone();
        let r = f(&mut entries);
        if self.client != 0 {
            // Others' entries as they were, this client's as `f` left them.
            let mut kept: Vec<DirEntry> = before
                .into_iter()
                .filter(|e| e.client != self.client)
                .collect();
            kept.extend(entries.iter().filter(|e| e.client == self.client).cloned());
            entries = kept;
        }
        if entries.len() > CAPACITY {
            return Err(DirectoryError::Full);
        }
        if entries != self.current().2 {
            self.write_copy(&lease, 1 - i, seq + 1, &entries)?;
        }
        lease
            .release()
            .map_err(|_| evnic_lease::Error::Terminated)?;
        Ok(r)
    }

    /// Publishes `name` for `group` (replacing this client's earlier entry of that name).
    pub fn publish(&self, name: &str, group: Group) -> Result<(), DirectoryError> {
        if name.is_empty() || name.len() > NAME_BYTES || name.contains('\0') {
            return Err(DirectoryError::BadName { name: name.into() });
        }
        let (client, pid) = (self.client, self.pid);
        self.update(|entries| {
            if let Some(e) = entries.iter_mut().find(|e| e.name == name) {
                if e.client != client {
                    return Err(DirectoryError::NameTaken {
                        name: name.into(),
                        client: e.client,
                    });
                }
                e.group = group;
                return Ok(());
            }
            entries.push(DirEntry {
                name: name.into(),
                group,
                client,
                pid,
            });
            Ok(())
        })?
    }

    /// Withdraws this client's entry `name`; false when it had none.
    pub fn withdraw(&self, name: &str) -> Result<bool, DirectoryError> {
        let client = self.client;
        self.update(|entries| {
            let n = entries.len();
            entries.retain(|e| !(e.name == name && e.client == client));
            n != entries.len()
        })
    }

    /// The group published as `name`.
    pub fn lookup(&self, name: &str) -> Result<Option<Group>, DirectoryError> {
        Ok(self
            .entries()?
            .into_iter()
            .find(|e| e.name == name)
            .map(|e| e.group))
    }

    /// Every entry.
    pub fn entries(&self) -> Result<Vec<DirEntry>, DirectoryError> {
        self.update(|entries| entries.clone())
    }

    /// The hub's cleanup after client `client` left: takes the lock at the highest priority,
    /// repairs what a dead holder left, and removes the client's entries. Returns how the lease
    /// was obtained, entries dropped by the repair, and the client's entries removed.
    pub(crate) fn client_left(
        &self,
        client: u32,
    ) -> Result<(Acquired, usize, usize), DirectoryError> {
        let mut party = self.lock.party()?;
        let mut lease = party.acquire(self.lease, self.priority)?;
        let how = lease.acquired();
        let repaired = if lease.needs_repair() {
            self.repair(&mut lease, |e| e.client != client && process_alive(e.pid))?
        } else {
            0
        };
        let (i, seq, entries) = self.current();
        let n = entries.len();
        let kept: Vec<DirEntry> = entries.into_iter().filter(|e| e.client != client).collect();
        let removed = n - kept.len();
        if removed > 0 {
            self.write_copy(&lease, 1 - i, seq + 1, &kept)?;
        }
        lease
            .release()
            .map_err(|_| evnic_lease::Error::Terminated)?;
        Ok((how, repaired, removed))
    }
}

/// True while process `pid` exists.
fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_publish_replace_withdraw_and_survive_a_torn_copy() {
        let hub = Directory::create().unwrap();
        let fd = hub.fd().try_clone_to_owned().unwrap();
        let a = Directory::join(fd, 1).unwrap();
        let b = Directory::join(hub.fd().try_clone_to_owned().unwrap(), 2).unwrap();
        a.publish("feed", Group(5)).unwrap();
        a.publish("feed", Group(6)).unwrap();
        assert_eq!(b.lookup("feed").unwrap(), Some(Group(6)));
        assert!(matches!(
            b.publish("feed", Group(7)),
            Err(DirectoryError::NameTaken { client: 1, .. })
        ));
        b.publish("alarms", Group(9)).unwrap();
        // A client's update cannot drop another's entry.
        b.update(|e| e.clear()).unwrap();
        assert_eq!(a.lookup("feed").unwrap(), Some(Group(6)));
        assert_eq!(a.lookup("alarms").unwrap(), None);
        assert!(matches!(
            a.publish("", Group(1)),
            Err(DirectoryError::BadName { .. })
        ));
        // A torn write of the copy not in force changes nothing.
        let (i, _, _) = a.current();
        // SAFETY: scribbling over the other copy's body inside the mapping.
        unsafe { std::ptr::write_bytes(a.copy(1 - i).add(8), 0x5a, 100) };
        assert_eq!(a.lookup("feed").unwrap(), Some(Group(6)));
        assert!(a.withdraw("feed").unwrap());
        assert!(!a.withdraw("feed").unwrap());
        assert_eq!(hub.entries().unwrap(), vec![]);
        a.publish("x", Group(1)).unwrap();
        assert_eq!(hub.client_left(1).unwrap(), (Acquired::Free, 0, 1));
        assert_eq!(b.entries().unwrap(), vec![]);
    }
}
