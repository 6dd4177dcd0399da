//! Processes sharing one device through `evnic hub`: the hub binary and client processes
//! against the simulated device.

use evnic::hub::Refusal;
use evnic::{EndpointConfig, Error, Group, Vi};
use evnic_e2e::hub::{Client, Hub};
use evnic_e2e::{collect, eventually, PATIENCE};
use evnic_regs::map::{global, global_reg, group as gr, timer as tm, vi_reg};
use std::time::{Duration, Instant};

fn cfg() -> EndpointConfig {
    EndpointConfig::default().with_ring_events(1024)
}

fn ready_vi(c: &mut Client) -> u32 {
    c.expect("ready vi=").parse().expect("a VI")
}

/// Every payload a `listen` client printed, until `done`.
fn payloads(c: &mut Client) -> Vec<u32> {
    let mut got = Vec::new();
    loop {
        let l = c.line();
        if l == "done" {
            return got;
        }
        let p = l
            .strip_prefix("got ")
            .unwrap_or_else(|| panic!("a listener said {l:?}"));
        got.push(p.parse().expect("a payload"));
    }
}

#[test]
fn clients_in_other_processes_exchange_events_through_a_group() {
    let hub = Hub::start(&[]);
    const N: u32 = 300;
    let mut listeners: Vec<Client> = (0..2)
        .map(|_| Client::start(&hub.socket, &["listen", "5", &N.to_string()]))
        .collect();
    let vis: Vec<u32> = listeners.iter_mut().map(ready_vi).collect();
    let mut producer = Client::start(&hub.socket, &["produce", "5", &N.to_string()]);
    let pvi = ready_vi(&mut producer);
    // This process is a client too: a listener of the same group.
    let nic = hub.nic();
    let here = nic.endpoint(cfg()).unwrap();
    here.subscribe(Group(5)).unwrap();
    let mut all = vis.clone();
    all.extend([pvi, here.vi().0]);
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 4, "every client has its own VI: {all:?}");
    producer.send("go");
    assert_eq!(producer.expect("sent"), N.to_string());
    let want: Vec<u32> = (0..N).collect();
    for (l, vi) in listeners.iter_mut().zip(&vis) {
        assert_eq!(payloads(l), want, "listener on VI {vi}");
    }
    let got = collect(&here, N as usize);
    assert_eq!(got.iter().map(|e| e.payload()).collect::<Vec<_>>(), want);
    assert!(got
        .iter()
        .all(|e| e.source() == pvi && e.group() == Some(Group(5))));
    for l in listeners {
        assert!(l.finish());
    }
    assert!(producer.finish());
    assert!(hub.wait_log("client 1 connected"));
    assert!(hub.log_text().contains(&format!("holds VI {}", vis[0])));
}

#[test]
fn a_client_killed_mid_stream_frees_what_it_held_and_the_others_go_on() {
    let hub = Hub::start(&[]);
    let nic = hub.nic();
    let here = nic.endpoint(cfg()).unwrap();
    here.subscribe(Group(7)).unwrap();
    here.register_producer(Group(7)).unwrap();
    let mut victim = Client::start(&hub.socket, &["hold", "7", "3"]);
    let ready = victim.expect("ready vis=");
    let (vis, timer) = ready.split_once(" timer=").expect("vis and timer");
    let vis: Vec<u32> = vis.split(',').map(|v| v.parse().unwrap()).collect();
    let timer: u32 = timer.parse().unwrap();
    let member = |g: u32, v: u32| {
        let word = nic.backend().read32(gr::members_at(g, v / 32)).unwrap();
        word & 1 << (v % 32) != 0
    };
    // The victim's VIs are in group 7 (the membership bitmap is readable by every client), and
    // taken: asking for one is refused.
    for v in &vis {
        assert!(member(7, *v), "VI {v} in group 7");
        let e = nic.endpoint_on(Vi(*v), cfg()).unwrap_err();
        assert!(matches!(e, Error::ViInUse { vi } if vi == *v), "{e}");
    }
    // A stream into the group, one indication in flight at a time (a burst faster than the
    // device's multicast fan-out overruns its 8-deep indication queue, which the device counts
    // in OVERRUNS: a device limit, the same in one process); the victim dies in the middle.
    const N: u32 = 200;
    let mut got = Vec::new();
    for p in 0..N {
        if p == N / 2 {
            victim.kill();
            assert!(
                hub.wait_log("closed its connection: freed VIs"),
                "{}",
                hub.log_text()
            );
        }
        here.indicate(Group(7), p).unwrap();
        got.extend(collect(&here, 1).iter().map(|e| e.payload()));
    }
    assert_eq!(got, (0..N).collect::<Vec<_>>(), "this client lost nothing");
    // Everything the victim held is free again: out of the group, its VIs and timer reusable.
    for v in vis.iter().chain([&here.vi().0]) {
        assert_eq!(member(7, *v), *v == here.vi().0, "VI {v} in group 7");
    }
    let reused: Vec<_> = vis
        .iter()
        .map(|v| nic.endpoint_on(Vi(*v), cfg()).expect("a freed VI"))
        .collect();
    assert_eq!(reused.len(), vis.len());
    let timers: Vec<_> = (0..nic.params().timers)
        .map_while(|_| nic.timer().ok())
        .collect();
    assert!(
        timers.iter().any(|t| t.index() == timer),
        "timer {timer} freed"
    );
    assert!(timers.iter().all(|t| !t.is_armed().unwrap()));
    assert!(hub.log_text().contains(&format!("timers {{{timer}}}")));
}

#[test]
fn a_killed_hub_gives_a_blocked_client_an_error_not_a_hang() {
    let mut hub = Hub::start(&[]);
    let nic = hub.nic();
    let ep = nic.endpoint(cfg().with_spin(Duration::ZERO)).unwrap();
    ep.subscribe(Group(3)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let _ = tx.send(ep.wait(None));
        });
        // The waiter primes and sleeps on its eventfd.
        assert!(eventually(|| ep.is_armed()));
        let killed = Instant::now();
        hub.kill();
        let r = rx
            .recv_timeout(PATIENCE)
            .expect("the blocked wait returns when the hub dies");
        let e = r.expect_err("an error, not an event");
        assert!(e.is_hub_gone(), "{e}");
        assert!(e.to_string().contains("hub"), "{e}");
        eprintln!("woken {:?} after the kill: {e}", killed.elapsed());
    });
    // Every later call fails clearly too.
    let e = ep.subscribe(Group(4)).unwrap_err();
    assert!(e.is_hub_gone(), "{e}");
    let e = ep.indicate(Group(3), 1).unwrap_err();
    assert!(e.is_hub_gone(), "{e}");
    let e = nic.endpoint(cfg()).unwrap_err();
    assert!(e.is_hub_gone(), "{e}");
    // And a new client is told no hub answers.
    let e = evnic::Nic::open(hub.spec()).unwrap_err();
    assert_eq!(e.kind(), evnic::ErrorKind::NoDevice, "{e}");
}

#[test]
fn a_client_asking_for_what_is_not_its_own_gets_a_typed_error() {
    let hub = Hub::start(&["--groups", "0-31"]);
    let mut other = Client::start(&hub.socket, &["hold", "2", "1"]);
    let ready = other.expect("ready vis=");
    let (vi, timer) = ready.split_once(" timer=").unwrap();
    let (vi, timer): (u32, u32) = (vi.parse().unwrap(), timer.parse().unwrap());
    let nic = hub.nic();
    let mine = nic.endpoint(cfg()).unwrap();
    let dev = nic.backend();
    let refusal = |r: Result<(), evnic::BackendError>| {
        let e: Error = r.unwrap_err().into();
        e.refusal()
            .cloned()
            .unwrap_or_else(|| panic!("not a refusal: {e}"))
    };
    // Another client's VI: neither its endpoint nor its registers.
    assert!(matches!(
        nic.endpoint_on(Vi(vi), cfg()).unwrap_err(),
        Error::ViInUse { vi: v } if v == vi
    ));
    let indicate = vi_reg(vi, &evnic_regs::map::vi::INDICATE);
    assert_eq!(refusal(dev.write32(indicate, 2)), Refusal::NotYourVi { vi });
    let subscribe_other = gr::SUBSCRIBE_VI.put(vi) | gr::SUBSCRIBE_GROUP.put(9);
    assert_eq!(
        refusal(dev.write32(gr::CONTROL_PAGE.at(0, &gr::SUBSCRIBE), subscribe_other)),
        Refusal::NotYourVi { vi }
    );
    // Another client's timer.
    assert_eq!(
        refusal(dev.write32(tm::PAGE.at(timer, &tm::CONTROL), 0)),
        Refusal::NotYourTimer { timer }
    );
    // A group outside --groups: neither subscribing nor producing; inside it, both.
    let e = mine.subscribe(Group(40)).unwrap_err();
    assert_eq!(
        e.refusal(),
        Some(&Refusal::GroupNotPermitted { group: 40 }),
        "{e}"
    );
    let e = mine.register_producer(Group(33)).unwrap_err();
    assert_eq!(
        e.refusal(),
        Some(&Refusal::GroupNotPermitted { group: 33 }),
        "{e}"
    );
    mine.subscribe(Group(31)).unwrap();
    mine.register_producer(Group(31)).unwrap();
    // A timer of its own aimed at someone else's VI.
    let t = nic.timer().unwrap();
    let e = t.one_shot(Duration::from_millis(1), Vi(vi), 1).unwrap_err();
    assert_eq!(e.refusal(), Some(&Refusal::NotYourVi { vi }), "{e}");
    // The hub's own pages.
    let e = nic.set_enabled(false).unwrap_err();
    assert_eq!(
        e.refusal(),
        Some(&Refusal::HubOwned {
            offset: global_reg(&global::CONTROL)
        }),
        "{e}"
    );
    let e = nic
        .set_default_action(evnic::FilterAction::Vi(mine.vi()))
        .unwrap_err();
    assert!(matches!(e.refusal(), Some(Refusal::HubOwned { .. })), "{e}");
    let e = nic
        .add_filter("udp dst 319 -> group 40".parse().unwrap())
        .unwrap_err();
    assert_eq!(
        e.refusal(),
        Some(&Refusal::GroupNotPermitted { group: 40 }),
        "{e}"
    );
    // Its own things still work after all these refusals, and the other client lost nothing.
    mine.indicate(Group(31), 5).unwrap();
    assert_eq!(mine.wait(Some(PATIENCE)).unwrap().unwrap().payload(), 5);
    assert!(other.child.try_wait().unwrap().is_none());
    assert!(hub.log_text().contains("refused write"));
}

#[test]
fn a_spinning_client_makes_no_system_calls_for_doorbells() {
    let hub = Hub::start(&[]);
    const N: u32 = 500;
    // Counted two ways: the client's own count of requests to the hub (each a sendmsg and a
    // recvmsg) against the doorbells it stored, and, where strace can trace, every system call
    // of the client process between the two markers around the measured loop.
    let trace = evnic_e2e::hub::TempDir::new("strace");
    let trace_file = trace.0.join("trace");
    let strace_ok = std::process::Command::new("strace")
        .args(["-f", "-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let mut c = if strace_ok {
        let mut cmd = std::process::Command::new("strace");
        cmd.args(["-f", "-qq", "-o"])
            .arg(&trace_file)
            .arg(evnic_e2e::hub::client_bin());
        Client::start_with(cmd, &hub.socket, &["spin", "6", &N.to_string()])
    } else {
        eprintln!("strace cannot trace here: counting requests only");
        Client::start(&hub.socket, &["spin", "6", &N.to_string()])
    };
    c.expect("ready");
    let before = hub.nic().hub().unwrap().stats().unwrap();
    c.send("go");
    let counts = c.expect("requests ");
    let (requests, doorbells) = counts.split_once(" doorbells ").unwrap();
    let (requests, doorbells): (u64, u64) = (requests.parse().unwrap(), doorbells.parse().unwrap());
    assert!(c.finish());
    assert_eq!(requests, 0, "no request to the hub in the loop");
    // N indications and the lazy read-count doorbells, all stores into the doorbell page.
    assert!(doorbells >= u64::from(N), "{doorbells} doorbell stores");
    let after = hub.nic().hub().unwrap().stats().unwrap();
    assert!(
        after.doorbells_applied - before.doorbells_applied >= doorbells,
        "the device thread applied them: {before:?} -> {after:?}"
    );
    if strace_ok {
        let text = std::fs::read_to_string(&trace_file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let marks: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.contains("getppid()"))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(marks.len(), 2, "two markers in the trace");
        let inside: Vec<&&str> = lines[marks[0] + 1..marks[1]]
            .iter()
            .filter(|l| !l.contains("resumed>"))
            .collect();
        assert!(
            inside.is_empty(),
            "system calls while spinning ({N} indications and their events): {inside:#?}"
        );
        eprintln!(
            "strace: 0 system calls in the client for {N} round trips ({doorbells} doorbells); {} in the whole run",
            lines.len()
        );
    }
}

#[test]
fn timers_and_transmit_work_in_a_client_as_in_one_process() {
    let hub = Hub::start(&[]);
    let nic = hub.nic();
    let ep = nic.endpoint(cfg()).unwrap();
    // A timer of this client, fired at its own endpoint.
    let t = nic.timer().unwrap();
    t.one_shot(Duration::from_micros(100), &ep, 0x99).unwrap();
    let e = ep.wait(Some(PATIENCE)).unwrap().expect("the timer's event");
    assert_eq!(e.event_type(), Some(evnic::EventType::Timer), "{e:?}");
    assert_eq!(e.payload(), 0x99);
    // A transmit ring in shared memory: the device reads the frame from this client's memfd
    // and completes it.
    let mut tx = ep.transmitter(2, 256).unwrap();
    let frame: Vec<u8> = (0..60u8).collect();
    tx.send(&frame, evnic::TxOptions::default()).unwrap();
    let start = Instant::now();
    let done = loop {
        assert!(start.elapsed() < PATIENCE, "no completion");
        if let Some(e) = ep.wait(Some(PATIENCE)).unwrap() {
            if let Some(c) = tx.complete(&e) {
                break c;
            }
        }
    };
    assert!(
        matches!(done, evnic::TxCompletion::Sent { len: 60, .. }),
        "{done:?}"
    );
    assert_eq!(tx.in_flight(), 0);
}

/// A UDP/IPv4 frame to `port` (no FCS: the transmit path appends it).
fn udp_frame(port: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
        .udp(1234, port);
    let data: Vec<u8> = (0..64u8).collect();
    let mut f = Vec::new();
    b.write(&mut f, &data).unwrap();
    f
}

/// Sends `frame` on `tx` and waits for its completion on `ep`, keeping the other events.
fn send_frame(
    ep: &evnic::Endpoint,
    tx: &mut evnic::Transmitter,
    frame: &[u8],
) -> Vec<evnic::Event> {
    tx.send(frame, evnic::TxOptions::default()).unwrap();
    let mut others = Vec::new();
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < PATIENCE, "no completion");
        let e = ep.wait(Some(PATIENCE)).unwrap().expect("an event");
        match tx.complete(&e) {
            Some(c) => {
                assert!(matches!(c, evnic::TxCompletion::Sent { .. }), "{c:?}");
                return others;
            }
            None => others.push(e),
        }
    }
}

#[test]
fn clients_steer_frames_with_their_own_filters_and_the_hub_frees_a_dead_clients() {
    let hub = Hub::start(&["--loopback", "--groups", "0-31"]);
    // Another client holds a filter entry steering to its own VI.
    let mut other = Client::start(
        &hub.socket,
        &["filter", "udp", "dst", "400", "->", "vi", "self"],
    );
    let ready = other.expect("ready vi=");
    let (ovi, oindex) = ready.split_once(" index=").unwrap();
    let (ovi, oindex): (u32, u32) = (ovi.parse().unwrap(), oindex.parse().unwrap());
    // Two listeners of group 6, for frames a filter multicasts there.
    let mut listeners: Vec<Client> = (0..2)
        .map(|_| Client::start(&hub.socket, &["rx", "6"]))
        .collect();
    let lvis: Vec<u32> = listeners.iter_mut().map(ready_vi).collect();
    let nic = hub.nic();
    let ep = nic.endpoint(cfg()).unwrap();
    let mut rx = ep.receiver(3, 2048).unwrap();
    let mut tx = ep.transmitter(3, 2048).unwrap();
    // This client's own entries: one to its VI, one to a permitted group.
    let mine = nic
        .add_filter(evnic::Filter::new().udp_dst(319).to_vi(ep.vi()).unwrap())
        .unwrap();
    assert_ne!(mine.index(), oindex, "the hub hands out free entries");
    let to_group = nic
        .add_filter("udp dst 321 -> group 6".parse().unwrap())
        .unwrap();
    // What it may not do: take the other client's entry, remove it, steer to its VI or to a
    // group outside --groups.
    let e = nic
        .add_filter_at(oindex, "udp dst 1 -> drop".parse().unwrap())
        .unwrap_err();
    assert!(
        matches!(e, Error::FilterInUse { index } if index == oindex),
        "{e}"
    );
    let e = nic.remove_filter(oindex).unwrap_err();
    assert_eq!(
        e.refusal(),
        Some(&Refusal::NotYourFilter { index: oindex }),
        "{e}"
    );
    let e = nic
        .add_filter(evnic::Filter::new().udp_dst(2).to_vi(Vi(ovi)).unwrap())
        .unwrap_err();
    assert_eq!(e.refusal(), Some(&Refusal::NotYourVi { vi: ovi }), "{e}");
    let e = nic
        .add_filter("udp dst 3 -> group 40".parse().unwrap())
        .unwrap_err();
    assert_eq!(
        e.refusal(),
        Some(&Refusal::GroupNotPermitted { group: 40 }),
        "{e}"
    );
    // A refused entry left nothing behind: the next one takes the lowest free entry.
    let third = nic
        .add_filter("udp dst 5 -> drop".parse().unwrap())
        .unwrap();
    assert!(third.index() > to_group.index(), "{}", third.index());
    drop(third);
    // A frame to port 319 comes back through the loopback into this client's ring.
    let frame = udp_frame(319);
    let mut events = send_frame(&ep, &mut tx, &frame);
    if events.is_empty() {
        events.push(ep.wait(Some(PATIENCE)).unwrap().expect("the RX event"));
    }
    let ev = &events[0];
    assert_eq!(ev.event_type(), Some(evnic::EventType::Rx), "{ev:?}");
    assert_eq!(ev.source(), mine.index(), "the entry that matched");
    let got = rx.take(ev).expect("the frame in this client's ring");
    assert_eq!(&got[..frame.len()], &frame[..]);
    assert_eq!(nic.filter_hits(mine.index()).unwrap(), 1);
    // A replaced entry steers elsewhere at once: port 319 now drops.
    mine.replace("udp dst 319 -> drop".parse().unwrap())
        .unwrap();
    // A frame to port 321 is multicast to group 6: both listener processes get its RX event.
    let events = send_frame(&ep, &mut tx, &udp_frame(321));
    assert!(events.is_empty(), "{events:?}");
    for (l, vi) in listeners.iter_mut().zip(&lvis) {
        assert_eq!(
            l.expect("event "),
            format!("Some(Rx) {}", to_group.index()),
            "listener on VI {vi}"
        );
        assert_eq!(l.line(), "done");
    }
    // The other client dies: the hub disables and frees its entry, which this client may now
    // take.
    other.kill();
    assert!(hub.wait_log(&format!("timers {{}}, filters {{{oindex}}}")));
    let taken = nic
        .add_filter_at(oindex, "udp dst 400 -> drop".parse().unwrap())
        .unwrap();
    assert_eq!(taken.index(), oindex);
    assert!(hub
        .log_text()
        .contains(&format!("holds filter entry {}", mine.index())));
    for l in listeners {
        assert!(l.finish());
    }
}

#[test]
fn the_directory_lock_of_a_client_killed_while_holding_it_is_recovered_and_repaired_by_the_hub() {
    let hub = Hub::start(&[]);
    let nic = hub.nic();
    let dir = nic.hub().unwrap().directory().unwrap();
    dir.publish("alarms", Group(9)).unwrap();
    let mut holder = Client::start(&hub.socket, &["dir-hold", "feed", "5"]);
    assert_eq!(holder.line(), "holding");
    holder.kill();
    // The hub sees the client leave, takes the lock from the dead holder (marked as needing
    // repair), repairs the table and removes the client's name.
    assert!(hub.wait_log("directory: lock taken FromDead after client"));
    assert!(hub.log_text().contains("repaired, 1 names of it"));
    let names: Vec<(String, Group)> = dir
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.group))
        .collect();
    // Its unfinished change is not there, nor its published name; the other name is.
    assert_eq!(names, vec![("alarms".to_string(), Group(9))]);
    // The name is free again, and the lock works as before.
    dir.publish("feed", Group(7)).unwrap();
    assert_eq!(dir.lookup("feed").unwrap(), Some(Group(7)));
}

/// CPU time (user + system, in clock ticks) of process `pid`, and the state letter of its
/// thread named `thread`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn thread_state(pid: u32, thread: &str) -> Option<char> {
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let dir = t.ok()?.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim() == thread {
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            return stat.rsplit_once(')')?.1.trim().chars().next();
        }
    }
    None
}

#[test]
fn an_idle_hub_sleeps_wakes_for_a_doorbell_and_stops_cleanly_on_sigterm() {
    let mut hub = Hub::start(&[]);
    let pid = hub.child.id();
    // A client that waits on its eventfd, primed: nothing for the device to do.
    let nic = hub.nic();
    let ep = nic.endpoint(cfg()).unwrap();
    ep.subscribe(Group(2)).unwrap();
    assert!(ep.wait(Some(Duration::from_millis(1))).unwrap().is_none());
    // The device thread goes to sleep (blocked, state S) and stays there.
    let asleep = || {
        (0..20).all(|_| {
            std::thread::sleep(Duration::from_millis(10));
            thread_state(pid, "evnic-sim") == Some('S')
        })
    };
    assert!(
        eventually(asleep),
        "the device thread of an idle hub sleeps"
    );
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let idle = cpu_ticks(pid) - t0;
    eprintln!("idle hub: {idle} clock ticks of CPU in 1 s");
    assert!(idle <= 5, "an idle hub used {idle} ticks of CPU in 1 s");
    // A doorbell stored into a client's doorbell page (no request to the hub) wakes it: a
    // spinning client's round trips complete.
    let mut c = Client::start(&hub.socket, &["spin", "6", "50"]);
    c.expect("ready");
    assert!(eventually(asleep), "asleep again before the doorbells");
    c.send("go");
    assert_eq!(
        c.expect("requests "),
        "0 doorbells 50",
        "50 indications, no request"
    );
    assert!(c.finish());
    // An event for the primed endpoint still arrives after another sleep.
    assert!(eventually(asleep));
    let producer = nic.endpoint(cfg()).unwrap();
    producer.register_producer(Group(2)).unwrap();
    producer.indicate(Group(2), 42).unwrap();
    assert_eq!(ep.wait(Some(PATIENCE)).unwrap().unwrap().payload(), 42);
    // SIGTERM stops the hub at once, removing its socket.
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = hub.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the hub did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}: {}", hub.log_text());
    assert!(!hub.socket.exists(), "the socket file is removed");
    assert!(
        hub.log_text().contains("stopping (1 clients connected)"),
        "{}",
        hub.log_text()
    );
    // Its clients get an error, not a hang.
    let e = producer.indicate(Group(2), 1).unwrap_err();
    assert!(e.is_hub_gone(), "{e}");
}

#[test]
fn the_hub_terminates_a_live_clients_expired_directory_lease() {
    let hub = Hub::start(&[]);
    let nic = hub.nic();
    let dir = nic.hub().unwrap().directory().unwrap();
    let mut stalled = Client::start(&hub.socket, &["dir-hold", "feed", "5"]);
    assert_eq!(stalled.line(), "holding");
    // Another client comes and goes: the hub takes the directory's lock to clean up after it,
    // at a higher priority than clients, and terminates the stalled holder once its lease
    // (evnic::hub::directory::CLIENT_LEASE) has passed.
    let mut other = Client::start(&hub.socket, &["filter", "udp", "dst", "9", "->", "drop"]);
    other.expect("ready");
    assert!(other.finish());
    assert!(
        hub.wait_log("directory: lock taken FromExpired after client"),
        "{}",
        hub.log_text()
    );
    // The stalled client is alive, its unfinished change is not published, its earlier name
    // is; the lock works for everyone else.
    assert!(stalled.child.try_wait().unwrap().is_none());
    let names: Vec<String> = dir.entries().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["feed"]);
    dir.publish("alarms", Group(9)).unwrap();
    stalled.kill();
    assert!(hub.wait_log("directory: removed 1 names of client"));
    assert_eq!(dir.lookup("feed").unwrap(), None);
    assert_eq!(dir.lookup("alarms").unwrap(), Some(Group(9)));
}
