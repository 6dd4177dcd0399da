//! Interrupts delivered on eventfds.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use vmm_sys_util::eventfd::EventFd;

use crate::{Error, Result};

/// One interrupt vector: an eventfd the kernel signals when the device raises the vector.
#[derive(Debug)]
pub struct Interrupt {
    fd: EventFd,
}

impl Interrupt {
    /// A new non-blocking eventfd.
    pub fn new() -> Result<Self> {
        let fd = EventFd::new(libc::EFD_NONBLOCK | libc::EFD_CLOEXEC)
            .map_err(|e| Error::io("eventfd", e))?;
        Ok(Interrupt { fd })
    }

    /// Takes the count of interrupts since the last read, without waiting (0 when none).
    pub fn take(&self) -> Result<u64> {
        match self.fd.read() {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(Error::io("read eventfd", e)),
        }
    }

    /// Waits until at least one interrupt arrives or `timeout` passes (`None`: forever);
    /// returns how many arrived (0 on timeout).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<u64> {
        let ms: libc::c_int = match timeout {
            None => -1,
            Some(t) => t.as_millis().min(i32::MAX as u128) as libc::c_int,
        };
        loop {
            let mut p = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::io("poll eventfd", e));
            }
            if r == 0 {
                return Ok(0);
            }
            let n = self.take()?;
            if n > 0 {
                return Ok(n);
            }
        }
    }

    /// Signals the eventfd from user space (as the kernel would on an interrupt).
    pub fn trigger(&self) -> Result<()> {
        self.fd.write(1).map_err(|e| Error::io("write eventfd", e))
    }

    /// Duplicates the fd (for handing to another owner).
    pub fn try_clone(&self) -> Result<Interrupt> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| Error::io("dup eventfd", e))?;
        Ok(Interrupt { fd })
    }
}

impl AsRawFd for Interrupt {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_times_out() {
        let i = Interrupt::new().unwrap();
        assert_eq!(i.take().unwrap(), 0);
        assert_eq!(i.wait(Some(Duration::from_millis(10))).unwrap(), 0);
        i.trigger().unwrap();
        i.trigger().unwrap();
        assert_eq!(i.wait(Some(Duration::from_millis(10))).unwrap(), 2);
        assert_eq!(i.take().unwrap(), 0);
        let c = i.try_clone().unwrap();
        c.trigger().unwrap();
        assert_eq!(i.take().unwrap(), 1);
    }

    #[test]
    fn wakes_a_blocked_waiter() {
        let i = std::sync::Arc::new(Interrupt::new().unwrap());
        let w = i.clone();
        let t = std::thread::spawn(move || w.wait(Some(Duration::from_secs(5))).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        i.trigger().unwrap();
        assert_eq!(t.join().unwrap(), 1);
    }
}
