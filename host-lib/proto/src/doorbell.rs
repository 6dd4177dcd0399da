//! A doorbell page in shared memory: a VI's doorbell writes as stores into memory that the
//! device side drains into the VI's registers, for a process that shares a device it does not
//! own (a client of the evnic hub on the simulated device, whose registers live in another
//! process).
//!
//! The page (4 KiB, zeroed when created) holds a ring of [`SLOTS`] write records and the
//! counters that order them:
//!
//! | bytes | what |
//! |---|---|
//! | 0..8 | `head`: records reserved by producers (wrapping 64-bit count) |
//! | 64..72 | `tail`: records applied by the device side |
//! | 128..132 | `armed`: the endpoint's "primed and not yet woken" flag, shared by the process that primes and the one that wakes it |
//! | 192..196 | `device asleep`: set by the device side while it sleeps; a producer that finds it set after publishing a record wakes the device side (its wake eventfd) |
//! | 2048..4096 | the records, 8 bytes each |
//!
//! A record is `tag << 48 | word << 32 | value`: `word` is the register's word index within the
//! VI page, `value` what is written, and `tag` the lap of the ring the record belongs to
//! (`lap % 0xffff + 1`, never 0, so a zeroed slot never looks written). A producer reserves a
//! record with one compare-and-swap of `head` (refused when the ring is full, so a reservation
//! is never abandoned) and publishes it with one release store; no system call. The device side
//! takes records in order while their tag matches the lap, and moves `tail` on. Records of one
//! page are applied in the order they were reserved.

use evnic_regs::map::vi;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The registers a doorbell page carries: the VI's doorbells, and nothing that sets a ring up.
pub const DOORBELLS: [&evnic_regs::Reg; 5] = [
    &vi::EVQ_RPTR,
    &vi::EVQ_PRIME,
    &vi::INDICATE,
    &vi::RXQ_WPTR,
    &vi::TXQ_WPTR,
];

/// True when the register at word `word` of a VI page is one of [`DOORBELLS`].
pub fn is_doorbell(word: u32) -> bool {
    DOORBELLS.iter().any(|r| r.word() == word)
}

/// Adds one to the eventfd `fd`, making it readable: the wake-up of a sleeping device side.
/// It cannot fail for a valid eventfd but when its counter would overflow, and then the fd is
/// readable already, so the result is not looked at.
pub fn signal_eventfd(fd: BorrowedFd<'_>) {
    let one = 1u64;
    // SAFETY: 8 bytes from a live u64 to a descriptor the caller keeps open for the call.
    unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
}

/// The BAR0 offset of the register at word `word` of VI `vi`'s page: where a record of VI
/// `vi`'s doorbell page is applied.
pub const fn register_offset(vi: u32, word: u32) -> u32 {
    vi::PAGE.base + vi * vi::PAGE.stride + word * 4
}

/// Bytes of a doorbell page.
pub const PAGE_BYTES: usize = 4096;
/// Write records the ring holds.
pub const SLOTS: u64 = 256;

const HEAD: usize = 0;
const TAIL: usize = 64;
const ARMED: usize = 128;
const ASLEEP: usize = 192;
const RECORDS: usize = 2048;

/// A doorbell page at a fixed address (a shared mapping of [`PAGE_BYTES`] bytes).
#[derive(Clone, Copy, Debug)]
pub struct DoorbellPage {
    base: *mut u8,
}

// SAFETY: every access to the page is atomic.
unsafe impl Send for DoorbellPage {}
unsafe impl Sync for DoorbellPage {}

/// Why a doorbell record could not be placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoorbellFull {
    /// The ring stayed full: nobody drains it (the device side is gone or stalled).
    Stalled,
}

fn tag(count: u64) -> u64 {
    (count / SLOTS) % 0xffff + 1
}

impl DoorbellPage {
    /// The page at `base`.
    ///
    /// # Safety
    /// `base` must point to [`PAGE_BYTES`] bytes, 8-byte aligned, zeroed when first used, that
    /// stay mapped while this value (or a copy) is used; every party accesses them only through
    /// a `DoorbellPage`.
    pub unsafe fn new(base: *mut u8) -> DoorbellPage {
        DoorbellPage { base }
    }

    fn word(&self, at: usize) -> &AtomicU64 {
        // SAFETY: inside the page (the contract of `new`), 8-byte aligned.
        unsafe { &*(self.base.add(at) as *const AtomicU64) }
    }

    fn record(&self, count: u64) -> &AtomicU64 {
        self.word(RECORDS + (count % SLOTS) as usize * 8)
    }

    /// The shared "armed" flag of the endpoint on this VI.
    pub fn armed(&self) -> &AtomicBool {
        // SAFETY: inside the page, and an AtomicBool is one byte.
        unsafe { &*(self.base.add(ARMED) as *const AtomicBool) }
    }

    /// The device side's "asleep" flag: set while it sleeps and does not drain the page.
    fn asleep(&self) -> &std::sync::atomic::AtomicU32 {
        // SAFETY: inside the page, 4-byte aligned.
        unsafe { &*(self.base.add(ASLEEP) as *const std::sync::atomic::AtomicU32) }
    }

    /// The device side says whether it sleeps. Going to sleep, it sets the flag on every page
    /// it drains, then (after a sequentially consistent fence) looks at [`DoorbellPage::ready`]
    /// once more: a record published before that look is seen, one published after it finds
    /// the flag set ([`DoorbellPage::ring_wakes`]).
    pub fn set_device_asleep(&self, asleep: bool) {
        self.asleep().store(u32::from(asleep), Ordering::SeqCst);
    }

    /// True when the record just published by [`DoorbellPage::ring`] must be followed by a
    /// wake-up of the device side (it was asleep). Costs one fence and one load.
    pub fn ring_wakes(&self) -> bool {
        std::sync::atomic::fence(Ordering::SeqCst);
        self.asleep().load(Ordering::SeqCst) != 0
    }

    /// Records a write like [`DoorbellPage::ring`] and, when the device side sleeps
    /// ([`DoorbellPage::ring_wakes`]), wakes it through `wake` (its eventfd; `None` when the
    /// device side never sleeps). This is what a producer of doorbell records does.
    pub fn ring_and_wake(
        &self,
        word: u32,
        value: u32,
        patience: u32,
        wake: Option<BorrowedFd<'_>>,
    ) -> Result<(), DoorbellFull> {
        self.ring(word, value, patience)?;
        if let Some(fd) = wake {
            if self.ring_wakes() {
                signal_eventfd(fd);
            }
        }
        Ok(())
    }

    /// Records a write of `value` to the register at word `word` of the VI page. Spins while the
    /// ring is full, for at most `patience` attempts, then gives up (nothing was reserved).
    pub fn ring(&self, word: u32, value: u32, patience: u32) -> Result<(), DoorbellFull> {
        let head = self.word(HEAD);
        let tail = self.word(TAIL);
        let mut tries = 0u32;
        let mut h = head.load(Ordering::Relaxed);
        loop {
            if h.wrapping_sub(tail.load(Ordering::Acquire)) >= SLOTS {
                tries += 1;
                if tries > patience {
                    return Err(DoorbellFull::Stalled);
                }
                std::hint::spin_loop();
                if tries.is_multiple_of(64) {
                    std::thread::yield_now();
                }
                h = head.load(Ordering::Relaxed);
                continue;
            }
            match head.compare_exchange_weak(
                h,
                h.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => h = now,
            }
        }
        let rec = tag(h) << 48 | u64::from(word & 0x3ff) << 32 | u64::from(value);
        self.record(h).store(rec, Ordering::Release);
        Ok(())
    }

    /// Records published and not yet applied, in order from the first, as far as they are
    /// consecutive (a reserved record not yet published ends the run).
    pub fn ready(&self) -> u64 {
        let t = self.word(TAIL).load(Ordering::Relaxed);
        let mut n = 0;
        while n < SLOTS {
            let c = t.wrapping_add(n);
            if self.record(c).load(Ordering::Acquire) >> 48 != tag(c) {
                break;
            }
            n += 1;
        }
        n
    }

    /// Applies the next `n` records (as counted by [`DoorbellPage::ready`]) in order with
    /// `apply(word, value)` and frees their slots. A record for a register that is not one of
    /// [`DOORBELLS`] is skipped; returns how many were skipped.
    pub fn apply(&self, n: u64, mut apply: impl FnMut(u32, u32)) -> u64 {
        let tail = self.word(TAIL);
        let t = tail.load(Ordering::Relaxed);
        let mut skipped = 0;
        for i in 0..n {
            let rec = self.record(t.wrapping_add(i)).load(Ordering::Acquire);
            let word = (rec >> 32) as u32 & 0x3ff;
            if is_doorbell(word) {
                apply(word, rec as u32);
            } else {
                skipped += 1;
            }
        }
        tail.store(t.wrapping_add(n), Ordering::Release);
        skipped
    }
}

/// The doorbell pages one device side drains, by VI, and its side of the sleep handshake with
/// their producers. A device side (the simulated device's thread, a hub's relay to a board)
/// takes the records of every page in turn ([`PageSet::begin`]) and, before it sleeps, flags
/// every page ([`PageSet::prepare_sleep`]), so that a producer that stores a record while it
/// sleeps wakes it ([`DoorbellPage::ring_wakes`]).
#[derive(Default)]
pub struct PageSet {
    pages: Mutex<Vec<(u32, DoorbellPage)>>,
    /// Pages attached (read without the lock, to skip it when there are none).
    count: AtomicUsize,
    /// The device side sleeps: a page attached now is flagged at once.
    asleep: AtomicBool,
}

/// One round of draining: the records ready in each page when the round began
/// ([`PageSet::begin`]). Holding it keeps the set from changing.
pub struct Drain<'a> {
    pages: MutexGuard<'a, Vec<(u32, DoorbellPage)>>,
    ready: &'a mut Vec<u64>,
}

impl PageSet {
    /// An empty set.
    pub fn new() -> PageSet {
        PageSet::default()
    }

    /// Attaches `page` as VI `vi`'s, replacing a page attached to `vi` before. While the
    /// device side sleeps, the page is flagged at once, so its first record wakes it.
    ///
    /// # Safety
    /// The page's memory must stay mapped until [`PageSet::detach`] of `vi` has returned (or
    /// the set is dropped).
    pub unsafe fn attach(&self, vi: u32, page: DoorbellPage) {
        let mut d = self.pages.lock().unwrap();
        d.retain(|(v, _)| *v != vi);
        page.set_device_asleep(self.asleep.load(Ordering::SeqCst));
        d.push((vi, page));
        self.count.store(d.len(), Ordering::Release);
    }

    /// Detaches VI `vi`'s page; once this returns the device side no longer touches it, and
    /// records not yet applied are dropped. False when none was attached.
    pub fn detach(&self, vi: u32) -> bool {
        let mut d = self.pages.lock().unwrap();
        let before = d.len();
        d.retain(|(v, _)| *v != vi);
        self.count.store(d.len(), Ordering::Release);
        before != d.len()
    }

    /// Pages attached.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// True when no page is attached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Begins a round: counts the records ready in every page now, using `ready` as the
    /// buffer. `None` when no page is attached. A device side that also takes requests by
    /// another path (posted register writes) begins the round, then runs the requests that
    /// came before, then applies the round: a request posted before a record was stored then
    /// reaches the device before the record.
    pub fn begin<'a>(&'a self, ready: &'a mut Vec<u64>) -> Option<Drain<'a>> {
        if self.is_empty() {
            return None;
        }
        let pages = self.pages.lock().unwrap();
        ready.clear();
        ready.extend(pages.iter().map(|(_, p)| p.ready()));
        Some(Drain { pages, ready })
    }

    /// The device side is about to sleep: flags every page, then (after a fence) looks once
    /// more for records. True when there are some: it must not sleep, and calls
    /// [`PageSet::woke`]. A record stored after this look finds its page flagged.
    pub fn prepare_sleep(&self) -> bool {
        let pages = self.pages.lock().unwrap();
        self.asleep.store(true, Ordering::SeqCst);
        for (_, p) in pages.iter() {
            p.set_device_asleep(true);
        }
        std::sync::atomic::fence(Ordering::SeqCst);
        pages.iter().any(|(_, p)| p.ready() > 0)
    }

    /// The device side is awake again (after [`PageSet::prepare_sleep`]): clears the flags.
    pub fn woke(&self) {
        let pages = self.pages.lock().unwrap();
        self.asleep.store(false, Ordering::SeqCst);
        for (_, p) in pages.iter() {
            p.set_device_asleep(false);
        }
    }
}

impl Drain<'_> {
    /// Records counted in this round.
    pub fn pending(&self) -> u64 {
        self.ready.iter().sum()
    }

    /// Applies the records counted, page by page, each page's in order, with
    /// `apply(vi, word, value)`; returns how many were taken (applied or skipped as not a
    /// doorbell).
    pub fn apply(self, mut apply: impl FnMut(u32, u32, u32)) -> u64 {
        let mut taken = 0;
        for ((vi, page), n) in self.pages.iter().zip(self.ready.iter()) {
            if *n > 0 {
                page.apply(*n, |word, value| apply(*vi, word, value));
                taken += n;
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(align(4096))]
    struct Page([u8; PAGE_BYTES]);

    fn page() -> Box<Page> {
        Box::new(Page([0; PAGE_BYTES]))
    }

    #[test]
    fn records_come_out_in_order_across_laps() {
        let mut mem = page();
        // SAFETY: a zeroed, aligned page used only through DoorbellPage.
        let p = unsafe { DoorbellPage::new(mem.0.as_mut_ptr()) };
        let mut seen = Vec::new();
        let w = |i: u32| DOORBELLS[i as usize % DOORBELLS.len()].word();
        for i in 0..(3 * SLOTS as u32 + 17) {
            p.ring(w(i), i, 0).unwrap();
            if i % 100 == 99 {
                let n = p.ready();
                p.apply(n, |w, v| seen.push((w, v)));
            }
        }
        let n = p.ready();
        p.apply(n, |w, v| seen.push((w, v)));
        let want: Vec<_> = (0..(3 * SLOTS as u32 + 17)).map(|i| (w(i), i)).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn records_for_other_registers_are_skipped() {
        let mut mem = page();
        // SAFETY: as above.
        let p = unsafe { DoorbellPage::new(mem.0.as_mut_ptr()) };
        p.ring(vi::EVQ_BASE_LO.word(), 0x1000, 0).unwrap();
        p.ring(vi::INDICATE.word(), 5, 0).unwrap();
        let mut seen = Vec::new();
        assert_eq!(p.apply(p.ready(), |w, v| seen.push((w, v))), 1);
        assert_eq!(seen, [(vi::INDICATE.word(), 5)]);
    }

    #[test]
    fn a_full_ring_refuses_without_reserving() {
        let mut mem = page();
        // SAFETY: as above.
        let p = unsafe { DoorbellPage::new(mem.0.as_mut_ptr()) };
        let (one, two) = (vi::EVQ_RPTR.word(), vi::INDICATE.word());
        for i in 0..SLOTS as u32 {
            p.ring(one, i, 0).unwrap();
        }
        assert_eq!(p.ring(one, 999, 10), Err(DoorbellFull::Stalled));
        assert_eq!(p.ready(), SLOTS);
        p.apply(1, |_, v| assert_eq!(v, 0));
        p.ring(two, 1000, 0).unwrap();
        let mut last = None;
        let n = p.ready();
        assert_eq!(n, SLOTS);
        p.apply(n, |w, v| last = Some((w, v)));
        assert_eq!(last, Some((two, 1000)));
    }

    #[test]
    fn many_producers_lose_nothing() {
        let mut mem = page();
        // SAFETY: as above.
        let p = unsafe { DoorbellPage::new(mem.0.as_mut_ptr()) };
        let mut got = vec![Vec::new(); 4];
        std::thread::scope(|s| {
            for reg in &DOORBELLS[..4] {
                s.spawn(move || {
                    for i in 0..5000u32 {
                        p.ring(reg.word(), i, u32::MAX).unwrap();
                    }
                });
            }
            let consumer = s.spawn(|| {
                let mut got = vec![Vec::new(); 4];
                let mut total = 0;
                while total < 20000 {
                    let n = p.ready();
                    p.apply(n, |w, v| {
                        let t = DOORBELLS.iter().position(|r| r.word() == w).unwrap();
                        got[t].push(v)
                    });
                    total += n;
                }
                got
            });
            got = consumer.join().unwrap();
        });
        for g in got {
            assert_eq!(g, (0..5000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_page_set_drains_each_page_in_order_and_forgets_a_detached_one() {
        let (mut a, mut b) = (page(), page());
        // SAFETY: zeroed, aligned pages that outlive the set's use of them.
        let (pa, pb) = unsafe {
            (
                DoorbellPage::new(a.0.as_mut_ptr()),
                DoorbellPage::new(b.0.as_mut_ptr()),
            )
        };
        let set = PageSet::new();
        let mut ready = Vec::new();
        assert!(set.begin(&mut ready).is_none());
        // SAFETY: the pages live until the end of the test.
        unsafe {
            set.attach(3, pa);
            set.attach(7, pb);
        }
        let (rptr, ind) = (vi::EVQ_RPTR.word(), vi::INDICATE.word());
        pa.ring(rptr, 1, 0).unwrap();
        pb.ring(ind, 2, 0).unwrap();
        pa.ring(ind, 3, 0).unwrap();
        let round = set.begin(&mut ready).unwrap();
        // A record stored after the round began waits for the next round.
        pb.ring(rptr, 4, 0).unwrap();
        assert_eq!(round.pending(), 3);
        let mut seen = Vec::new();
        assert_eq!(round.apply(|v, w, x| seen.push((v, w, x))), 3);
        assert_eq!(seen, [(3, rptr, 1), (3, ind, 3), (7, ind, 2)]);
        assert!(set.detach(7));
        assert!(!set.detach(7));
        assert_eq!(set.len(), 1);
        assert_eq!(
            set.begin(&mut ready).unwrap().pending(),
            0,
            "7's record is not taken"
        );
        assert_eq!(pb.ready(), 1);
    }

    #[test]
    fn a_record_stored_while_the_device_side_sleeps_wakes_it() {
        let (mut a, mut b) = (page(), page());
        // SAFETY: as above.
        let (pa, pb) = unsafe {
            (
                DoorbellPage::new(a.0.as_mut_ptr()),
                DoorbellPage::new(b.0.as_mut_ptr()),
            )
        };
        let set = PageSet::new();
        // SAFETY: as above.
        unsafe { set.attach(1, pa) };
        pa.ring(vi::EVQ_RPTR.word(), 1, 0).unwrap();
        assert!(!pa.ring_wakes(), "an awake device side needs no wake-up");
        // A record is waiting: the device side must not sleep.
        assert!(set.prepare_sleep());
        set.woke();
        let mut ready = Vec::new();
        set.begin(&mut ready).unwrap().apply(|_, _, _| ());
        assert!(!set.prepare_sleep(), "nothing waits: it may sleep");
        pa.ring(vi::EVQ_RPTR.word(), 2, 0).unwrap();
        assert!(pa.ring_wakes());
        // A page attached while it sleeps is flagged at once.
        // SAFETY: as above.
        unsafe { set.attach(2, pb) };
        pb.ring(vi::INDICATE.word(), 3, 0).unwrap();
        assert!(pb.ring_wakes());
        set.woke();
        assert!(!pa.ring_wakes() && !pb.ring_wakes());
    }

    /// Reads an eventfd's count without blocking: 0 when it is not readable.
    fn take_count(fd: &std::os::fd::OwnedFd) -> u64 {
        use std::os::fd::AsRawFd;
        let mut n = 0u64;
        // SAFETY: 8 bytes into a live u64 from a non-blocking eventfd we own.
        let got = unsafe { libc::read(fd.as_raw_fd(), (&mut n as *mut u64).cast(), 8) };
        if got == 8 {
            n
        } else {
            0
        }
    }

    #[test]
    fn ring_and_wake_signals_the_eventfd_only_while_the_device_side_sleeps() {
        use std::os::fd::{AsFd, FromRawFd, OwnedFd};
        // SAFETY: a fresh eventfd, owned below.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(raw >= 0, "eventfd: {}", std::io::Error::last_os_error());
        // SAFETY: raw is valid and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut a = page();
        // SAFETY: as above.
        let pa = unsafe { DoorbellPage::new(a.0.as_mut_ptr()) };
        let set = PageSet::new();
        // SAFETY: as above.
        unsafe { set.attach(1, pa) };
        pa.ring_and_wake(vi::EVQ_RPTR.word(), 1, 0, Some(fd.as_fd()))
            .unwrap();
        assert_eq!(take_count(&fd), 0, "an awake device side is not woken");
        let mut ready = Vec::new();
        set.begin(&mut ready).unwrap().apply(|_, _, _| ());
        assert!(!set.prepare_sleep());
        pa.ring_and_wake(vi::EVQ_RPTR.word(), 2, 0, Some(fd.as_fd()))
            .unwrap();
        pa.ring_and_wake(vi::EVQ_RPTR.word(), 3, 0, Some(fd.as_fd()))
            .unwrap();
        assert_eq!(
            take_count(&fd),
            2,
            "each record stored while it sleeps signals"
        );
        set.woke();
        pa.ring_and_wake(vi::EVQ_RPTR.word(), 4, 0, None).unwrap();
        assert_eq!(pa.ready(), 3, "every record is stored, woken or not");
    }
}
