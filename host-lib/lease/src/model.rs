//! The loom model of what the lock needs from Linux (built under `--cfg loom`): a futex with
//! the kernel's semantics (the compare and the enqueue are atomic with respect to a wake; a
//! wake picks the oldest matching waiters), a clock that a test advances, and processes that
//! a test kills. Time stands still until a test kills a process: a timed wait ends at a wake,
//! or when the test advances the clock (the only event after which waking by time can change
//! what a waiter does). Once a process is killed, time runs: a timed wait ends at once, with
//! the clock moved on to its timeout (a waiter that slept that long).

use crate::cell::LockCell;
use loom::sync::{Condvar, Mutex};
// The clock and the process table are plain atomics, outside the model: a clock or a death
// orders no memory (and each loom atomic would multiply the interleavings to explore).
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

struct Sleeper {
    id: u64,
    bitset: u32,
    timed: bool,
    ended: bool,
}

#[derive(Default)]
struct Queue {
    next_id: u64,
    sleepers: Vec<Sleeper>,
}

/// The model's kernel state, kept inside the cell.
pub(crate) struct Model {
    queue: Mutex<Queue>,
    changed: Condvar,
    clock: AtomicU64,
    dead: AtomicU64,
    time_runs: AtomicBool,
    next_process: AtomicU64,
}

impl Model {
    pub(crate) fn new() -> Model {
        Model {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            clock: AtomicU64::new(0),
            dead: AtomicU64::new(0),
            time_runs: AtomicBool::new(false),
            next_process: AtomicU64::new(1),
        }
    }

    /// Ends every timed wait (time passed).
    fn tick(&self) {
        let mut q = self.queue.lock().unwrap();
        for s in q.sleepers.iter_mut().filter(|s| s.timed) {
            // Timed waits may end: the clock moved, or time now runs.
            s.ended = true;
        }
        self.changed.notify_all();
    }

    /// Moves the clock on by `ns`.
    pub(crate) fn advance(&self, ns: u64) {
        self.clock.fetch_add(ns, SeqCst);
        self.tick();
    }

    /// Marks the process of `identity` as exited.
    pub(crate) fn kill(&self, identity: u64) {
        self.dead.fetch_or(1 << identity, SeqCst);
        self.time_runs.store(true, SeqCst);
        self.tick();
    }
}

pub(crate) fn now_ns(cell: &LockCell) -> u64 {
    cell.model.clock.load(SeqCst)
}

pub(crate) fn futex_wait(cell: &LockCell, expected: u32, bitset: u32, until_ns: u64) {
    let model = &cell.model;
    let mut q = model.queue.lock().unwrap();
    if cell.word.load(SeqCst) as u32 != expected || until_ns <= model.clock.load(SeqCst) {
        return;
    }
    let timed = until_ns != u64::MAX;
    if timed && model.time_runs.load(SeqCst) {
        drop(q);
        model.clock.fetch_max(until_ns, SeqCst);
        loom::thread::yield_now();
        return;
    }
    let id = q.next_id;
    q.next_id += 1;
    q.sleepers.push(Sleeper {
        id,
        bitset,
        timed,
        ended: false,
    });
    loop {
        let i = q.sleepers.iter().position(|s| s.id == id).unwrap();
        if q.sleepers[i].ended {
            q.sleepers.remove(i);
            return;
        }
        q = model.changed.wait(q).unwrap();
    }
}

pub(crate) fn futex_wake(cell: &LockCell, n: u32, bitset: u32) -> usize {
    let model = &cell.model;
    let mut q = model.queue.lock().unwrap();
    let mut woken = 0;
    for s in q.sleepers.iter_mut() {
        if woken == n as usize {
            break;
        }
        if !s.ended && s.bitset & bitset != 0 {
            s.ended = true;
            woken += 1;
        }
    }
    model.changed.notify_all();
    woken
}

pub(crate) fn watch_forks() {}

pub(crate) fn fork_generation() -> u64 {
    0
}

/// Each party is a process of its own in the model.
pub(crate) fn own_identity(cell: &LockCell) -> io::Result<u64> {
    Ok(cell.model.next_process.fetch_add(1, SeqCst))
}

pub(crate) fn same_process(a: u64, b: u64) -> bool {
    a == b
}

pub(crate) struct ProcessWatch;

pub(crate) fn process_gone(cell: &LockCell, identity: u64, _: &mut Option<ProcessWatch>) -> bool {
    cell.model.dead.load(SeqCst) & (1 << identity) != 0
}
