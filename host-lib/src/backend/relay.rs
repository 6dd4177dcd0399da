//! A doorbell relay: a thread that applies the records of doorbell pages to a device's
//! registers, for a device whose registers only this process can reach (a board opened through
//! VFIO by the hub, whose clients cannot map its BAR).
//!
//! A client's doorbell stays one store into shared memory with no system call
//! ([`evnic_proto::doorbell`]); the relay takes the records in order and writes them to the
//! VI's registers. While records come, the relay polls the pages without sleeping; after
//! [`SPIN`] without one it flags the pages and sleeps on its wake eventfd, and the first record
//! stored after that costs its producer one eventfd write. So a busy client pays no system
//! call per doorbell, and the hub pays one core only while some client is ringing.

use evnic_proto::doorbell::{self, DoorbellPage, PageSet};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the relay polls after the last record before it sleeps.
pub const SPIN: Duration = Duration::from_micros(200);

/// Writes one register: `(BAR0 offset, value)`. An error stops the relay from draining that
/// VI's page (its producer then finds the page full and reports the device side stalled).
pub type WriteRegister = Box<dyn FnMut(u32, u32) -> Result<(), String> + Send>;

struct Shared {
    pages: PageSet,
    wake: OwnedFd,
    stop: AtomicBool,
    applied: AtomicU64,
    sleeps: AtomicU64,
    /// The first write that failed, with its VI.
    failure: Mutex<Option<(u32, String)>>,
}

impl Shared {
    fn wake(&self) {
        doorbell::signal_eventfd(self.wake.as_fd());
    }
}

/// The relay thread and the pages it drains. Dropping it stops the thread.
pub struct DoorbellRelay {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl DoorbellRelay {
    /// Starts the relay; it writes registers with `write`.
    pub fn start(mut write: WriteRegister) -> std::io::Result<DoorbellRelay> {
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let shared = Arc::new(Shared {
            pages: PageSet::new(),
            // SAFETY: `fd` is a new descriptor nothing else owns.
            wake: unsafe { OwnedFd::from_raw_fd(fd) },
            stop: AtomicBool::new(false),
            applied: AtomicU64::new(0),
            sleeps: AtomicU64::new(0),
            failure: Mutex::new(None),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("evnic-doorbells".into())
            .spawn(move || run(&s, &mut write))?;
        Ok(DoorbellRelay {
            shared,
            thread: Some(thread),
        })
    }

    /// Applies VI `vi`'s doorbell page from now on (replacing a page attached to `vi` before).
    ///
    /// # Safety
    /// The page must stay mapped until [`DoorbellRelay::detach`] of `vi` has returned (or the
    /// relay is dropped).
    pub unsafe fn attach(&self, vi: u32, page: DoorbellPage) {
        // SAFETY: the caller's promise.
        unsafe { self.shared.pages.attach(vi, page) };
        // A sleeping relay wakes to look at the new page at once.
        self.shared.wake();
    }

    /// Stops applying VI `vi`'s page; once this returns the page is not touched.
    pub fn detach(&self, vi: u32) -> bool {
        self.shared.pages.detach(vi)
    }

    /// The eventfd a producer writes when its page says the relay sleeps.
    pub fn wake_fd(&self) -> RawFd {
        self.shared.wake.as_raw_fd()
    }

    /// Records applied so far.
    pub fn applied(&self) -> u64 {
        self.shared.applied.load(Ordering::Relaxed)
    }

    /// Times the relay went to sleep.
    pub fn sleeps(&self) -> u64 {
        self.shared.sleeps.load(Ordering::Relaxed)
    }

    /// The first register write that failed (its VI's page is no longer drained).
    pub fn failure(&self) -> Option<(u32, String)> {
        self.shared.failure.lock().unwrap().clone()
    }
}

impl Drop for DoorbellRelay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(s: &Shared, write: &mut WriteRegister) {
    let mut ready = Vec::new();
    let mut failed = Vec::new();
    let mut last = Instant::now();
    let mut idle_polls = 0u32;
    while !s.stop.load(Ordering::Acquire) {
        if let Some(round) = s.pages.begin(&mut ready).filter(|r| r.pending() > 0) {
            let n = round.apply(|vi, word, value| {
                if failed.contains(&vi) {
                    return;
                }
                if let Err(why) = write(doorbell::register_offset(vi, word), value) {
                    failed.push(vi);
                    s.failure.lock().unwrap().get_or_insert((vi, why));
                }
            });
            s.applied.fetch_add(n, Ordering::Relaxed);
            for vi in failed.drain(..) {
                s.pages.detach(vi);
            }
            last = Instant::now();
            idle_polls = 0;
            continue;
        }
        if last.elapsed() < SPIN {
            idle_polls += 1;
            if idle_polls.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            continue;
        }
        if !s.pages.prepare_sleep() && !s.stop.load(Ordering::SeqCst) {
            s.sleeps.fetch_add(1, Ordering::Relaxed);
            let mut pfd = libc::pollfd {
                fd: s.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; EINTR just ends the sleep early.
            unsafe { libc::poll(&mut pfd, 1, -1) };
        }
        let mut buf = 0u64;
        // SAFETY: draining the nonblocking eventfd into a live u64.
        unsafe { libc::read(s.wake.as_raw_fd(), (&mut buf as *mut u64).cast(), 8) };
        s.pages.woke();
        last = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evnic_regs::map::vi;
    use std::sync::mpsc;

    #[repr(align(4096))]
    struct Page([u8; doorbell::PAGE_BYTES]);

    fn page() -> Box<Page> {
        Box::new(Page([0; doorbell::PAGE_BYTES]))
    }

    /// Rings `p` and wakes the relay when the page says it sleeps, as a hub client does.
    fn ring(p: &DoorbellPage, relay: &DoorbellRelay, word: u32, value: u32) {
        p.ring_and_wake(word, value, u32::MAX, Some(relay.shared.wake.as_fd()))
            .unwrap();
    }

    fn recv_n(rx: &mpsc::Receiver<(u32, u32)>, n: usize) -> Vec<(u32, u32)> {
        (0..n)
            .map(|_| rx.recv_timeout(Duration::from_secs(20)).expect("a write"))
            .collect()
    }

    #[test]
    fn records_reach_the_registers_in_order_across_sleeps() {
        let (tx, rx) = mpsc::channel();
        let relay = DoorbellRelay::start(Box::new(move |off, v| {
            tx.send((off, v)).map_err(|e| e.to_string())
        }))
        .unwrap();
        let mut mem = page();
        // SAFETY: a zeroed aligned page that outlives the relay's use (detached below).
        let p = unsafe { DoorbellPage::new(mem.0.as_mut_ptr()) };
        // SAFETY: as above.
        unsafe { relay.attach(5, p) };
        let rptr = vi::EVQ_RPTR.word();
        for round in 0..3u32 {
            for i in 0..300u32 {
                ring(&p, &relay, rptr, round * 1000 + i);
            }
            let got = recv_n(&rx, 300);
            let want: Vec<_> = (0..300)
                .map(|i| (vi::PAGE.at(5, &vi::EVQ_RPTR), round * 1000 + i))
                .collect();
            assert_eq!(got, want);
            // Long enough for the relay to fall asleep; the next round must wake it.
            let sleeps = relay.sleeps();
            let t = Instant::now();
            while relay.sleeps() == sleeps && t.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(
                relay.sleeps() > sleeps,
                "the relay sleeps when nothing comes"
            );
        }
        assert_eq!(relay.applied(), 900);
        assert!(relay.detach(5));
        assert!(relay.failure().is_none());
    }

    #[test]
    fn a_failed_write_stops_that_page_only() {
        let (tx, rx) = mpsc::channel();
        let bad = vi::PAGE.at(1, &vi::INDICATE);
        let relay = DoorbellRelay::start(Box::new(move |off, v| {
            if off == bad {
                return Err("refused".into());
            }
            tx.send((off, v)).map_err(|e| e.to_string())
        }))
        .unwrap();
        let (mut a, mut b) = (page(), page());
        // SAFETY: as above.
        let (pa, pb) = unsafe {
            (
                DoorbellPage::new(a.0.as_mut_ptr()),
                DoorbellPage::new(b.0.as_mut_ptr()),
            )
        };
        // SAFETY: as above.
        unsafe {
            relay.attach(1, pa);
            relay.attach(2, pb);
        }
        ring(&pa, &relay, vi::INDICATE.word(), 1);
        let t = Instant::now();
        while relay.failure().is_none() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(relay.failure(), Some((1, "refused".into())));
        // VI 1's page is no longer drained: its records stay, and a producer that fills it
        // learns that the device side stalled.
        ring(&pa, &relay, vi::EVQ_RPTR.word(), 2);
        ring(&pb, &relay, vi::EVQ_RPTR.word(), 3);
        assert_eq!(recv_n(&rx, 1), [(vi::PAGE.at(2, &vi::EVQ_RPTR), 3)]);
        assert_eq!(pa.ready(), 1);
        assert!(!relay.detach(1), "already detached");
        assert!(relay.detach(2));
    }
}
