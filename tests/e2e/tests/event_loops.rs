//! Endpoints in event loops on the simulated device: a tokio program receiving through
//! `AsyncEndpoint` (recv, recv_batch, the Stream), a mio loop, and `evnic::Poller` over two
//! endpoints and a plain fd and over every endpoint the device has; each races events against
//! arming many thousands of times.

use evnic::poller::{Interest, Poller, Ready, Token};
use evnic::{AsyncEndpoint, Endpoint, EndpointConfig, Event, EventType, Group, Nic};
use evnic_e2e::{nic, PATIENCE};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Round trips of one event against one arm, per race.
const RACES: u32 = 3000;

fn endpoint(nic: &Nic) -> Endpoint {
    nic.endpoint(
        EndpointConfig::default()
            .with_ring_events(256)
            .with_spin(Duration::ZERO),
    )
    .unwrap()
}

fn producer(nic: &Nic, groups: &[u32]) -> Endpoint {
    let p = endpoint(nic);
    for g in groups {
        p.register_producer(Group(*g)).unwrap();
    }
    p
}

fn indication(e: &Event) -> u32 {
    assert_eq!(e.event_type(), Some(EventType::Indication), "{e}");
    e.payload()
}

/// A busy wait of 0..40 µs, different from one race to the next, so that the event lands
/// before, during and after the consumer's arm.
fn jitter(i: u32) {
    let d = Duration::from_nanos(u64::from(i.wrapping_mul(7919) % 40_000));
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// Calls `send(i)` for `i` in 0..RACES, each only after the consumer took the one before
/// (`taken`), after a jitter.
fn race_producer(taken: &AtomicU32, send: impl Fn(u32)) {
    for i in 0..RACES {
        let start = Instant::now();
        while taken.load(Ordering::Acquire) < i {
            assert!(
                start.elapsed() < PATIENCE,
                "the consumer lost event {}",
                i - 1
            );
            std::thread::yield_now();
        }
        jitter(i);
        send(i);
    }
}

struct EventFd(OwnedFd);

impl EventFd {
    fn new() -> EventFd {
        // SAFETY: plain eventfd creation; owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(fd >= 0);
        // SAFETY: a fresh fd nothing else owns.
        EventFd(unsafe { OwnedFd::from_raw_fd(fd) })
    }
    fn signal(&self) {
        let one = 1u64;
        // SAFETY: 8 bytes from a valid u64.
        assert_eq!(
            unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) },
            8
        );
    }
    fn read(&self) -> u64 {
        let mut v = 0u64;
        // SAFETY: 8 bytes into a valid u64.
        unsafe { libc::read(self.0.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        v
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A tokio program on three groups and a timer: each group's events arrive complete and in
/// order through `recv`, `recv_batch` and the `Stream`, while a tokio timer ticks.
#[test]
fn a_tokio_program_receives_three_groups_and_a_timer() {
    let nic = nic();
    let prod = producer(&nic, &[1, 2, 3]);
    let eps: Vec<Endpoint> = (1..=3)
        .map(|g| {
            let e = endpoint(&nic);
            e.subscribe(Group(g)).unwrap();
            e
        })
        .collect();
    const N: u32 = 300;
    let taken = [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)];
    let taken = &taken;
    let rt = current_thread();
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..N {
                // Credit: stay within half a ring of the slowest consumer, so that a consumer
                // starved of CPU on a loaded machine sees late events, not an OVERFLOW.
                while taken
                    .iter()
                    .map(|t| t.load(Ordering::Acquire))
                    .min()
                    .unwrap()
                    + 128
                    < i
                {
                    std::thread::sleep(Duration::from_micros(200));
                }
                for g in 1..=3 {
                    prod.indicate(Group(g), i).unwrap();
                }
                if i % 50 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        rt.block_on(async {
            let mut eps = eps.into_iter();
            let a = AsyncEndpoint::new(eps.next().unwrap()).unwrap();
            let b = AsyncEndpoint::new(eps.next().unwrap()).unwrap();
            let mut c = AsyncEndpoint::new(eps.next().unwrap()).unwrap();
            let recv_all = async {
                for i in 0..N {
                    assert_eq!(indication(&a.recv().await.unwrap()), i);
                    taken[0].store(i + 1, Ordering::Release);
                }
            };
            let batch_all = async {
                let mut got = Vec::new();
                while got.len() < N as usize {
                    let n = b.recv_batch(&mut got, 64).await.unwrap();
                    assert!(n > 0);
                    taken[1].store(got.len() as u32, Ordering::Release);
                }
                let p: Vec<u32> = got.iter().map(indication).collect();
                assert_eq!(p, (0..N).collect::<Vec<_>>());
            };
            let stream_all = async {
                for i in 0..N {
                    let e = std::future::poll_fn(|cx| {
                        futures_core::Stream::poll_next(Pin::new(&mut c), cx)
                    })
                    .await
                    .expect("the stream goes on")
                    .unwrap();
                    assert_eq!(indication(&e), i);
                    taken[2].store(i + 1, Ordering::Release);
                }
            };
            let ticks = async {
                let mut t = tokio::time::interval(Duration::from_millis(1));
                for _ in 0..5 {
                    t.tick().await;
                }
            };
            let all = async { tokio::join!(recv_all, batch_all, stream_all, ticks) };
            tokio::time::timeout(PATIENCE * 3, all)
                .await
                .expect("every event within the patience");
        });
    });
}

/// One event at a time against `AsyncEndpoint::recv` arming: none is lost.
#[test]
fn async_endpoint_loses_no_event_racing_its_arm() {
    let nic = nic();
    let prod = producer(&nic, &[4]);
    let ep = endpoint(&nic);
    ep.subscribe(Group(4)).unwrap();
    let taken = AtomicU32::new(0);
    let rt = current_thread();
    std::thread::scope(|s| {
        s.spawn(|| race_producer(&taken, |i| prod.indicate(Group(4), i).unwrap()));
        rt.block_on(async {
            let ep = AsyncEndpoint::new(ep).unwrap();
            for i in 0..RACES {
                let e = tokio::time::timeout(PATIENCE, ep.recv())
                    .await
                    .unwrap_or_else(|_| panic!("event {i} lost"))
                    .unwrap();
                assert_eq!(indication(&e), i);
                taken.store(i + 1, Ordering::Release);
            }
            let c = ep.get_ref().counters();
            assert_eq!(c.events, u64::from(RACES));
            // Most waits found the ring empty and armed; some events came before the arm.
            assert!(c.primes > 0 && c.interrupts > 0, "{c:?}");
        });
    });
}

/// Outside a runtime: a clear error, not a panic.
#[test]
fn async_endpoint_outside_a_runtime_is_an_error() {
    let nic = nic();
    let e = AsyncEndpoint::new(endpoint(&nic)).unwrap_err();
    assert!(e.to_string().contains("tokio runtime"), "{e}");
}

/// A mio loop over two endpoints, with the arm protocol, one event at a time against arming.
#[test]
fn a_mio_loop_loses_no_event_racing_its_arm() {
    let nic = nic();
    let prod = producer(&nic, &[5, 6]);
    let mut eps = [endpoint(&nic), endpoint(&nic)];
    eps[0].subscribe(Group(5)).unwrap();
    eps[1].subscribe(Group(6)).unwrap();
    let mut poll = mio::Poll::new().unwrap();
    for (i, ep) in eps.iter_mut().enumerate() {
        poll.registry()
            .register(ep, mio::Token(i), mio::Interest::READABLE)
            .unwrap();
    }
    let e = poll
        .registry()
        .reregister(&mut eps[0], mio::Token(0), mio::Interest::WRITABLE)
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let taken = AtomicU32::new(0);
    std::thread::scope(|s| {
        // Alternate the groups: each event goes to the other endpoint.
        s.spawn(|| race_producer(&taken, |i| prod.indicate(Group(5 + i % 2), i).unwrap()));
        let mut events = mio::Events::with_capacity(8);
        let mut next = 0;
        while next < RACES {
            let mut found = false;
            for ep in &eps {
                while let Some(e) = ep.poll() {
                    assert_eq!(indication(&e), next);
                    next += 1;
                    taken.store(next, Ordering::Release);
                    found = true;
                }
            }
            if found {
                continue;
            }
            let mut sleep = true;
            for ep in &eps {
                sleep &= ep.arm().unwrap();
            }
            if sleep {
                poll.poll(&mut events, Some(PATIENCE)).unwrap();
                assert!(!events.is_empty(), "event {next} lost");
            }
        }
    });
    for ep in &mut eps {
        poll.registry().deregister(ep).unwrap();
    }
}

/// A Poller over two endpoints and an eventfd: each member is reported with its token, the
/// changes are applied in one system call, and events race the Poller's arming.
#[test]
fn a_poller_over_two_endpoints_and_an_eventfd() {
    let nic = nic();
    let prod = producer(&nic, &[7, 8]);
    let (a, b) = (endpoint(&nic), endpoint(&nic));
    a.subscribe(Group(7)).unwrap();
    b.subscribe(Group(8)).unwrap();
    let efd = EventFd::new();
    let mut poller = Poller::new().unwrap().with_spin(Duration::ZERO);
    poller.add_endpoint(&a, Token(10)).unwrap();
    poller.add_endpoint(&b, Token(11)).unwrap();
    poller.add(&efd, Token(12), Interest::READABLE).unwrap();
    assert_eq!(poller.pending(), 3);
    let mut ready: Vec<Ready> = Vec::new();
    assert_eq!(poller.wait(&mut ready, Some(Duration::ZERO)).unwrap(), 0);
    let c = poller.counters();
    assert_eq!(c.applied, 3);
    if poller.apply_mode() == evnic::poller::ApplyMode::Uring {
        assert_eq!((c.uring_submits, c.epoll_ctls), (1, 0));
    }
    // The eventfd, from another thread, wakes a blocked wait.
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            efd.signal();
        });
        poller.wait(&mut ready, Some(PATIENCE)).unwrap();
    });
    assert_eq!(ready.len(), 1);
    assert_eq!((ready[0].token, ready[0].readable), (Token(12), true));
    assert_eq!(efd.read(), 1);
    // The race, alternating the endpoints.
    let taken = AtomicU32::new(0);
    std::thread::scope(|s| {
        s.spawn(|| race_producer(&taken, |i| prod.indicate(Group(7 + i % 2), i).unwrap()));
        let mut got = Vec::new();
        while got.len() < RACES as usize {
            let n = poller.wait(&mut ready, Some(PATIENCE)).unwrap();
            assert!(n > 0, "event {} lost", got.len());
            for r in &ready {
                match r.token {
                    Token(10) => poll_into(&a, &mut got),
                    Token(11) => poll_into(&b, &mut got),
                    t => panic!("{t:?} is not ready"),
                }
            }
            taken.store(got.len() as u32, Ordering::Release);
        }
        assert_eq!(got, (0..RACES).collect::<Vec<_>>());
    });
    let c = poller.counters();
    assert!(c.arms > 0 && c.blocking_waits > 0, "{c:?}");
    // Deleting an endpoint: its events are no longer reported.
    poller.delete(&a).unwrap();
    prod.indicate(Group(7), 1).unwrap();
    prod.indicate(Group(8), 2).unwrap();
    poller.wait(&mut ready, Some(PATIENCE)).unwrap();
    assert!(ready.iter().all(|r| r.token == Token(11)), "{ready:?}");
}

/// A Poller over every endpoint the device has (all VIs but the interrupt queue's): events
/// into every group, some endpoints paused with Interest::NONE meanwhile.
#[test]
fn a_poller_over_every_endpoint_of_the_device() {
    let nic = nic();
    let params = *nic.params();
    let n = params.vis - 1;
    let eps: Vec<Endpoint> = (0..n).map(|_| endpoint(&nic)).collect();
    assert!(
        nic.endpoint(EndpointConfig::default()).is_err(),
        "every VI is taken"
    );
    let group = |i: u32| i % params.groups;
    // The first endpoint also produces into every group.
    for i in 0..n {
        eps[0].register_producer(Group(group(i))).unwrap();
        eps[i as usize].subscribe(Group(group(i))).unwrap();
    }
    let mut poller = Poller::new().unwrap().with_spin(Duration::from_micros(20));
    for (i, ep) in eps.iter().enumerate() {
        poller.add_endpoint(ep, Token(i as u64)).unwrap();
    }
    let mut ready = Vec::new();
    // Rounds: one event into every group; every other endpoint is paused in odd rounds.
    const ROUNDS: u32 = 20;
    let mut got = vec![Vec::new(); n as usize];
    let mut want = vec![Vec::new(); n as usize];
    for round in 0..ROUNDS {
        let paused = |j: usize| round % 2 == 1 && j % 2 == 1;
        for (j, ep) in eps.iter().enumerate().filter(|(j, _)| j % 2 == 1) {
            let interest = if paused(j) {
                Interest::NONE
            } else {
                Interest::READABLE
            };
            poller.modify(ep, Token(j as u64), interest).unwrap();
        }
        for i in 0..n {
            eps[0].indicate(Group(group(i)), round).unwrap();
            for j in (0..n).filter(|j| group(*j) == group(i)) {
                want[j as usize].push(round);
            }
        }
        let start = Instant::now();
        while (0..n as usize).any(|j| !paused(j) && got[j].len() < want[j].len()) {
            assert!(start.elapsed() < PATIENCE, "round {round}: {got:?}");
            poller.wait(&mut ready, Some(PATIENCE)).unwrap();
            for r in &ready {
                let j = r.token.0 as usize;
                assert!(!paused(j), "paused endpoint {j} reported in round {round}");
                poll_into(&eps[j], &mut got[j]);
            }
        }
        // Paused endpoints kept their events in the ring: take them now.
        for j in (0..n as usize).filter(|j| paused(*j)) {
            let start = Instant::now();
            while got[j].len() < want[j].len() {
                assert!(start.elapsed() < PATIENCE, "paused endpoint {j}");
                poll_into(&eps[j], &mut got[j]);
            }
        }
    }
    assert_eq!(got, want);
    assert_eq!(poller.len(), n as usize);
}

fn poll_into(ep: &Endpoint, out: &mut Vec<u32>) {
    while let Some(e) = ep.poll() {
        out.push(indication(&e));
    }
}
