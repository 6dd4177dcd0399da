//! `evnic`: the command-line tool.
//!
//! Exit codes: 0 success; 1 any other failure; 2 bad usage; 3 no such device (or it cannot be
//! opened); 4 not an evnic device; 5 bad configuration or input; 6 the device failed; 7 a file
//! could not be read or written; 8 not possible on this device or build (a model-only command
//! on a board, a build without the simulator); 9 everything of a kind in use.

use clap::{Parser, Subcommand};
use evnic::{
    DeviceSpec, Endpoint, EndpointConfig, Error, ErrorKind, Event, EventKind, FilterAction,
    FilterHandle, FilterSpec, Group, Nic, Producer,
};
use evnic_cli::pcap::{PcapError, PcapOut};
use evnic_cli::state::{state_dir, state_file, FilterState, StateError};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "evnic",
    version,
    about = "The evnic FPGA NIC event engine: device tool",
    after_help = EXIT_HELP
)]
struct Cli {
    /// Device: "sim" (the Verilator model of the RTL), "vfio:DDDD:BB:DD.F" (a board bound to
    /// vfio-pci) or "hub:PATH" (the device an `evnic hub` shares at that socket).
    #[arg(long, global = true, default_value = "sim", env = "EVNIC_DEVICE")]
    device: String,
    #[command(subcommand)]
    command: Command,
}

const EXIT_HELP: &str = "\
Exit codes: 0 success, 1 other failure, 2 bad usage, 3 no such device, 4 not an evnic device,
5 bad configuration or input, 6 the device failed, 7 a file could not be read or written,
8 not possible on this device or build, 9 everything of a kind in use.";

#[derive(Subcommand)]
enum Command {
    /// Own the device and share it with other processes: clients open it as "hub:PATH"
    /// (EVNIC_DEVICE=hub:PATH) and get their endpoints' rings in shared memory. Logs who
    /// connects and what they hold to stderr.
    Hub {
        /// The socket to listen on [default: $EVNIC_HUB, else $XDG_RUNTIME_DIR/evnic/hub.sock,
        /// else /run/evnic/hub.sock].
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Groups every client may subscribe to and produce into, e.g. "0-15,20", or "all".
        #[arg(long, default_value = "all", value_name = "GROUPS")]
        groups: String,
        /// Groups for the clients of one user id instead, as UID=GROUPS; repeat for more.
        #[arg(long = "uid-groups", value_name = "UID=GROUPS")]
        uid_groups: Vec<String>,
        /// Simulated device only: loop every transmitted frame back into the receive port, so
        /// that clients' filters meet their own frames.
        #[arg(long)]
        loopback: bool,
    },
    /// Print the device's identity and parameters.
    Info {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print every device counter (global, receive path, per VI and ring, per timer, per
    /// filter entry).
    Stats {
        /// One JSON object (per snapshot).
        #[arg(long)]
        json: bool,
        /// Print a snapshot every SECS seconds until interrupted (or --count snapshots).
        #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "1")]
        watch: Option<f64>,
        /// With --watch: stop after N snapshots.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Install, remove and list receive filter entries.
    #[command(subcommand, after_help = FILTER_HELP)]
    Filter(FilterCommand),
    /// Subscribe an endpoint to groups and print every event it is notified of.
    #[command(after_help = FILTER_HELP)]
    Listen {
        /// A group to listen to; repeat for more.
        #[arg(long = "group", value_name = "N", required = true)]
        groups: Vec<u32>,
        /// A filter entry installed for the run, e.g. "udp dst 319 -> group 5".
        #[arg(long = "filter", value_name = "SPEC")]
        filters: Vec<String>,
        #[command(flatten)]
        run: RunFor,
        /// One JSON object per event.
        #[arg(long)]
        json: bool,
    },
    /// Capture the frames a filter matches into a pcap (nanosecond timestamps from the device
    /// clock, FCS included).
    #[command(after_help = FILTER_HELP)]
    Capture {
        /// The output pcap.
        #[arg(short = 'w', long = "write", value_name = "FILE")]
        write: PathBuf,
        /// Match terms of the frames to capture, e.g. "udp dst 319" (steered to the capture's
        /// endpoint); repeat for more. Without one, every frame no other entry takes.
        #[arg(long = "filter", value_name = "TERMS")]
        filters: Vec<String>,
        #[command(flatten)]
        run: RunFor,
    },
    /// The whole system on the simulated device: Ethernet OAM continuity checks from two peers
    /// every 3.33 ms steered to monitor endpoints, a loss-of-continuity timer per peer (peer B
    /// falls silent), a UDP stream fanned out to listeners, host indications between endpoints.
    Demo {
        /// CCM intervals (3.33 ms of device time each) to simulate.
        #[arg(long, default_value_t = 10)]
        intervals: u32,
        /// Peer B sends in the first N intervals only.
        #[arg(long, default_value_t = 3)]
        b_silent_after: u32,
        /// Write a VCD waveform of the run (large: about 1 GB per interval; use --intervals 1).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Write the frames the capture endpoint received (FCS included) as pcap.
        #[arg(long, value_name = "FILE")]
        pcap: Option<PathBuf>,
    },
    /// Inject the frames of a capture (pcap or pcapng) into the simulated device (the Verilator
    /// model of the RTL) and print, per record, its index, parsed key, flags, matching filter,
    /// action and the VI it reached or the reason it was dropped; or why it was not replayed
    /// (unreadable, not Ethernet, empty). A summary goes to stderr.
    #[command(after_help = REPLAY_HELP)]
    Replay {
        /// The capture file: pcap or pcapng (Ethernet frames; records of other link types are
        /// reported, not replayed).
        #[arg(long)]
        pcap: PathBuf,
        /// A filter entry, e.g. "udp dst 319 -> vi 2"; repeat for more (the first given is
        /// entry 0; the lowest matching entry wins).
        #[arg(long = "filter", value_name = "SPEC")]
        filters: Vec<String>,
        /// What happens to a frame no filter matches: "vi N" or "drop".
        #[arg(long, default_value = "drop", value_name = "ACTION")]
        default: String,
        /// The capture's frames already end with their FCS (by default one is appended). A
        /// capture that says whether they do (pcap link-type FCS bits, pcapng if_fcslen or
        /// epb_flags) is followed instead.
        #[arg(long)]
        has_fcs: bool,
        /// Deliver frames with a bad FCS (flagged) instead of dropping them.
        #[arg(long)]
        keep_bad_fcs: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Send frames through the simulated transmit path (the Verilator model of the RTL) and
    /// write what leaves the MAC port, padded, CRC-32C inserted if asked, FCS included, to a
    /// pcap. Check it with: tshark -r FILE -o eth.check_fcs:TRUE -o eth.fcs:Always
    Tx {
        /// The output pcap (linktype Ethernet, every frame ends with its FCS).
        #[arg(long, value_name = "FILE.pcap")]
        out: PathBuf,
        /// Insert CRC-32C (RDMA/MPA style) over bytes OFFSET..OFFSET+LEN of every frame, into
        /// the 4 bytes after them.
        #[arg(long, value_name = "OFFSET:LEN")]
        mpa_crc: Option<String>,
        /// Frames to send from a pcap or pcapng (without FCS).
        #[arg(long, value_name = "IN", conflicts_with = "frame")]
        pcap: Option<PathBuf>,
        /// One frame to send: a file of its raw bytes (without FCS).
        #[arg(value_name = "FRAME-FILE", required_unless_present = "pcap")]
        frame: Option<PathBuf>,
    },
}

/// How long `listen` and `capture` run, and what they hear on the simulated device.
#[derive(clap::Args)]
struct RunFor {
    /// Stop after N events (listen) or frames (capture).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// On the simulated device: the frames of this pcap enter the MAC receive port (FCS
    /// appended) once the command listens.
    #[arg(long, value_name = "PCAP")]
    inject: Option<PathBuf>,
}

#[derive(Subcommand)]
enum FilterCommand {
    /// Install entries and leave them installed (each at the lowest free entry unless
    /// --index); prints the table.
    Add {
        /// Filter entries, e.g. "udp dst 319 -> vi 2".
        #[arg(value_name = "SPEC", required = true)]
        specs: Vec<String>,
        /// Put the (single) entry at this index (0 is the highest priority).
        #[arg(long)]
        index: Option<u32>,
    },
    /// Remove entries by index.
    Del {
        /// Entry indices.
        #[arg(value_name = "INDEX", required = true)]
        indices: Vec<u32>,
    },
    /// List the installed entries with their hit counters.
    List {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// The filter syntax, written once for `filter`, `listen`, `capture` and `replay`.
macro_rules! filter_syntax {
    () => {
        "\
Filter syntax: TERM... -> ACTION
  TERM:   udp [src|dst PORT] | tcp [src|dst PORT] | icmp | proto N | ethertype N
          | ipv4 [src|dst ADDR[/LEN]] | ipv6 [src|dst ADDR[/LEN]] | vlan N | vlan inner N
          | mac AA:BB:CC:DD:EE:FF (destination) | oam [level N] [opcode N] | any
  ACTION: vi N | group N | drop
Terms combine with AND; numbers are decimal or 0x-hex."
    };
}

const FILTER_HELP: &str = concat!(
    filter_syntax!(),
    "
A filter whose mask is an exact-match profile's (by default: IPv4 5-tuples `ipv4 src A ipv4 dst B
udp src P udp dst Q`, `ipv4 dst N/24 udp dst P`, `mac M vlan V`, IPv6 5-tuples) goes to a hashed
exact-match table (entries named xP.SLOT), unless a filter installed before it overlaps it; the
others go to the ternary table. On a board `filter add` uses the ternary table only."
);

const REPLAY_HELP: &str = concat!(
    filter_syntax!(),
    " Examples:
  --filter 'udp dst 319 -> vi 2' --filter 'ethertype 0x8902 -> group 5'
  --filter 'ipv4 dst 10.0.0.0/8 -> drop' --default 'vi 0'
Drop reasons: filter, no-match, no-buffer, fcs-bad, overrun, disabled, bad-descriptor."
);

/// Why the tool failed; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Lib(#[from] Error),
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Replay(#[from] evnic_cli::replay::ReplayError),
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Tx(#[from] evnic_cli::txcmd::TxError),
    #[error(transparent)]
    Pcap(#[from] PcapError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{}: {err}", path.display())]
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    File { path: PathBuf, err: std::io::Error },
    #[error("{0}")]
    Usage(String),
    #[error("`evnic {command}` runs on the simulated device only (--device sim), not on {device}")]
    ModelOnly {
        command: &'static str,
        device: String,
    },
    #[error(
        "{what}: this evnic was built without the simulated device (the evnic-cli \"sim\" feature)"
    )]
    #[cfg_attr(feature = "sim", allow(dead_code))]
    NoSim { what: &'static str },
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Lib(e) => lib_code(e),
            #[cfg(feature = "sim")]
            CliError::Replay(evnic_cli::replay::ReplayError::Device(e)) => lib_code(e),
            #[cfg(feature = "sim")]
            CliError::Replay(evnic_cli::replay::ReplayError::Capture(_)) => 7,
            #[cfg(feature = "sim")]
            CliError::Replay(evnic_cli::replay::ReplayError::TooManyFilters { .. }) => 5,
            #[cfg(feature = "sim")]
            CliError::Replay(_) => 6,
            #[cfg(feature = "sim")]
            CliError::Tx(evnic_cli::txcmd::TxError::Device(e)) => lib_code(e),
            #[cfg(feature = "sim")]
            CliError::Tx(_) => 6,
            CliError::Pcap(_) | CliError::State(_) | CliError::File { .. } => 7,
            CliError::Usage(_) => 2,
            CliError::ModelOnly { .. } | CliError::NoSim { .. } => 8,
        }
    }
}

fn lib_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::NoDevice => 3,
        ErrorKind::NotEvnic => 4,
        ErrorKind::Config => 5,
        ErrorKind::DeviceFailed => 6,
        ErrorKind::Os => 1,
        ErrorKind::Unsupported => 8,
        ErrorKind::Exhausted => 9,
        _ => 1,
    }
}

impl From<evnic::filter_spec::SpecError> for CliError {
    fn from(e: evnic::filter_spec::SpecError) -> Self {
        CliError::Lib(e.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evnic: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `evnic hub`: serves the device until killed.
fn hub(
    spec: DeviceSpec,
    socket: Option<PathBuf>,
    groups: &str,
    uid_groups: &[String],
    loopback: bool,
) -> Result<(), CliError> {
    use evnic::hub::{GroupSet, HubConfig, HubServer};
    if matches!(spec, DeviceSpec::Hub(_)) {
        return Err(CliError::Usage(
            "`evnic hub` owns a device (--device sim or vfio:...), not another hub's".into(),
        ));
    }
    let mut cfg = HubConfig::new(socket.unwrap_or_else(evnic::hub::default_socket));
    cfg.groups = groups
        .parse()
        .map_err(|e| CliError::Usage(format!("--groups: {e}")))?;
    for ug in uid_groups {
        let bad = |e: String| CliError::Usage(format!("--uid-groups {ug:?}: {e}"));
        let (uid, set) = ug
            .split_once('=')
            .ok_or_else(|| bad("use UID=GROUPS".into()))?;
        let uid: u32 = uid
            .parse()
            .map_err(|_| bad(format!("{uid:?} is not a uid")))?;
        cfg.uid_groups
            .push((uid, set.parse::<GroupSet>().map_err(bad)?));
    }
    cfg.log = std::sync::Arc::new(|line: &str| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        eprintln!("[{}.{:03}] {line}", t.as_secs(), t.subsec_millis());
    });
    // SIGTERM and SIGINT stop the hub through a signalfd: blocked here, before any thread
    // starts, so that every thread inherits the mask and none is interrupted by them.
    let stop = stop_signals().map_err(|err| CliError::Usage(format!("signalfd: {err}")))?;
    let nic = Nic::open(spec.clone())?;
    if loopback {
        #[cfg(feature = "sim")]
        nic.sim()
            .ok_or_else(|| CliError::ModelOnly {
                command: "hub --loopback",
                device: spec.to_string(),
            })?
            .set_loopback(true);
        #[cfg(not(feature = "sim"))]
        return Err(CliError::NoSim {
            what: "hub --loopback",
        });
    }
    let server = std::sync::Arc::new(HubServer::bind(nic, cfg)?);
    Ok(server.serve_until(Some(std::os::fd::AsRawFd::as_raw_fd(&stop)))?)
}

/// Blocks SIGTERM and SIGINT in this thread (and the threads it starts later) and returns a
/// signalfd that becomes readable when one arrives.
fn stop_signals() -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: a sigset built with the libc calls, then the mask of this thread and a new fd.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::os::fd::OwnedFd::from_raw_fd(fd))
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let spec: DeviceSpec = cli.device.parse()?;
    let model_only = |command: &'static str| -> Result<(), CliError> {
        if spec != DeviceSpec::Sim {
            return Err(CliError::ModelOnly {
                command,
                device: spec.to_string(),
            });
        }
        Ok(())
    };
    match cli.command {
        Command::Hub {
            socket,
            groups,
            uid_groups,
            loopback,
        } => hub(spec, socket, &groups, &uid_groups, loopback),
        Command::Info { json } => info(&Nic::open(spec)?, json),
        Command::Stats { json, watch, count } => stats(&Nic::open(spec)?, json, watch, count),
        Command::Filter(f) => filter(&spec, f),
        Command::Listen {
            groups,
            filters,
            run,
            json,
        } => listen(&spec, &groups, &filters, &run, json),
        Command::Capture {
            write,
            filters,
            run,
        } => capture(&spec, &write, &filters, &run),
        Command::Demo {
            intervals,
            b_silent_after,
            trace,
            pcap,
        } => {
            model_only("demo")?;
            demo(intervals, b_silent_after, trace, pcap)
        }
        Command::Replay {
            pcap,
            filters,
            default,
            has_fcs,
            keep_bad_fcs,
            json,
        } => {
            model_only("replay")?;
            replay(&pcap, &filters, &default, has_fcs, keep_bad_fcs, json)
        }
        Command::Tx {
            out,
            mpa_crc,
            pcap,
            frame,
        } => {
            model_only("tx")?;
            tx(&out, mpa_crc.as_deref(), pcap.as_deref(), frame.as_deref())
        }
    }
}

/// A progress bar on a terminal; elsewhere a line every few seconds.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: &'static str,
    len: u64,
    last_line: Instant,
}

impl Progress {
    fn new(what: &'static str, len: u64, unit: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(len);
            let template =
                format!("{what} [{{bar:40}}] {{pos}}/{{len}} {unit} {{msg}} ({{elapsed}})");
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                b.set_style(style.progress_chars("=> "));
            }
            b
        });
        Progress {
            bar,
            what,
            len,
            last_line: Instant::now(),
        }
    }

    fn set(&mut self, pos: u64, msg: &str) {
        match &self.bar {
            Some(b) => {
                b.set_position(pos);
                b.set_message(msg.to_string());
            }
            None if self.last_line.elapsed() > Duration::from_secs(2) => {
                self.last_line = Instant::now();
                eprintln!("{}: {pos} of {} {msg}", self.what, self.len);
            }
            None => {}
        }
    }

    fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

fn info(nic: &Nic, json: bool) -> Result<(), CliError> {
    let p = nic.params();
    let cycles = nic.cycles()?;
    if json {
        let v = serde_json::json!({
            "device": nic.describe(),
            "id": p.id_text(),
            "version": format!("{}.{}", p.major, p.minor),
            "vis": p.vis,
            "filters": p.filters,
            "exact_profiles": nic.exact_profiles().iter().map(|e| serde_json::json!({
                "profile": e.profile, "slots": e.slots, "words": e.words,
                "in_use": e.mask.is_some(),
            })).collect::<Vec<_>>(),
            "groups": p.groups,
            "timers": p.timers,
            "event_bytes": p.event_bytes,
            "data_bits": p.data_bits,
            "clock_khz": p.clock_khz,
            "cycles": cycles,
        });
        println!("{v}");
        return Ok(());
    }
    println!("device      {}", nic.describe());
    println!("id          {}", p.id_text());
    println!("version     {}.{}", p.major, p.minor);
    println!("VIs         {}", p.vis);
    println!("filters     {} ternary", p.filters);
    let exact = nic.exact_profiles();
    if !exact.is_empty() {
        let slots: Vec<String> = exact.iter().map(|e| e.slots.to_string()).collect();
        println!(
            "            {} exact-match profiles of {} slots",
            exact.len(),
            slots.join(", ")
        );
    }
    println!("groups      {}", p.groups);
    println!("timers      {}", p.timers);
    println!("event size  {} bytes", p.event_bytes);
    println!("data path   {} bits", p.data_bits);
    println!("clock       {} kHz (nominal)", p.clock_khz);
    println!("cycles      {cycles}");
    Ok(())
}

fn stats_json(s: &evnic::Stats) -> serde_json::Value {
    use serde_json::json;
    let dropped: serde_json::Map<String, serde_json::Value> =
        s.rx.dropped
            .iter()
            .map(|(r, n)| (r.name().to_string(), json!(n)))
            .collect();
    let queues: Vec<_> = s
        .queues
        .iter()
        .map(|q| {
            json!({
                "vi": q.vi,
                "interrupt_queue": q.interrupt_queue,
                "enabled": q.enabled,
                "written": q.written,
                "read": q.read,
                "drops": q.drops,
                "overflow_pending": q.overflow_pending,
                "armed": q.armed,
                "refused": q.refused,
                "rx_posted": q.rx_posted,
                "rx_used": q.rx_used,
                "rx_drops": q.rx_drops,
                "tx_posted": q.tx_posted,
                "tx_completed": q.tx_completed,
                "tx_errors": q.tx_errors,
                "host": q.host.map(|h| json!({
                    "events": h.events,
                    "interrupts": h.interrupts,
                    "primes": h.primes,
                    "doorbells": h.doorbells,
                    "rx_frames": h.rx_frames,
                    "rx_bytes": h.rx_bytes,
                    "tx_frames": h.tx_frames,
                    "tx_bytes": h.tx_bytes,
                })),
            })
        })
        .collect();
    let timers: Vec<_> = s
        .timers
        .iter()
        .map(|t| json!({"index": t.index, "armed": t.armed, "fires": t.fires, "missed": t.missed}))
        .collect();
    let filters: Vec<_> = s
        .filters
        .iter()
        .map(|f| json!({"index": f.index, "hits": f.hits, "spec": f.spec}))
        .collect();
    json!({
        "cycles": s.cycles,
        "bus_errors": s.bus_errors,
        "bus_error_addr": s.bus_error_addr,
        "irq_count": s.irq_count,
        "irq_holdoff": s.irq_holdoff,
        "wakeup_count": s.wakeup_count,
        "events_written": s.events_written,
        "events_dropped": s.events_dropped,
        "no_members": s.no_members,
        "port_events": s.port_events,
        "overruns": s.overruns,
        "rx_frames": s.rx.frames,
        "rx_delivered": s.rx.delivered,
        "rx_dropped": dropped,
        "host_interrupts": s.host_interrupts,
        "queues": queues,
        "timers": timers,
        "filters": filters,
    })
}

fn stats(nic: &Nic, json: bool, watch: Option<f64>, count: Option<u64>) -> Result<(), CliError> {
    let period = match watch {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(CliError::Usage(format!(
                "--watch {s}: give a positive number of seconds"
            )))
        }
    };
    let mut n = 0u64;
    loop {
        let s = nic.stats()?;
        if json {
            println!("{}", stats_json(&s));
        } else {
            if period.is_some() {
                println!("--- cycle {} ---", s.cycles);
            }
            println!("{s}");
        }
        n += 1;
        match period {
            Some(p) if count.is_none_or(|c| n < c) => std::thread::sleep(p),
            _ => return Ok(()),
        }
    }
}

/// Opens the device for a filter command; on a board also its recorded state.
fn filter_device(spec: &DeviceSpec) -> Result<(Nic, Option<PathBuf>), CliError> {
    let nic = Nic::open(spec.clone())?;
    let state = match spec {
        DeviceSpec::Vfio(a) => Some(state_file(&state_dir(), &a.to_string())),
        // A client's filter entries are the hub's to keep: it frees them when the client
        // (this command) exits.
        DeviceSpec::Hub(_) => None,
        DeviceSpec::Sim => {
            eprintln!(
                "evnic: note: the simulated device is a fresh model for this command; its filter entries last only as long as the command"
            );
            None
        }
    };
    Ok((nic, state))
}

fn filter(spec: &DeviceSpec, cmd: FilterCommand) -> Result<(), CliError> {
    let (nic, state_path) = filter_device(spec)?;
    let mut state = match &state_path {
        Some(p) => FilterState::load(p)?,
        None => FilterState::default(),
    };
    match cmd {
        FilterCommand::Add { specs, index } => {
            if index.is_some() && specs.len() != 1 {
                return Err(CliError::Usage("--index takes one SPEC".into()));
            }
            for s in &specs {
                let f: FilterSpec = s.parse()?;
                if index.is_none() && state_path.is_none() {
                    // No state to record it in: the library places it (exact-match or ternary)
                    // and keeps it for as long as this command runs.
                    let h = nic.add_filter(f.clone())?;
                    println!(
                        "entry {}: {f} ({})",
                        Nic::entry_name(h.index()),
                        placement(&h)
                    );
                    h.keep();
                    continue;
                }
                let i = match index {
                    Some(i) => i,
                    None => state
                        .lowest_free(nic.filter_count())
                        .ok_or(Error::NoFreeFilter {
                            filters: nic.filter_count(),
                        })?,
                };
                if state.entries.contains_key(&i) {
                    return Err(Error::FilterInUse { index: i }.into());
                }
                let kept = nic.add_filter_at(i, f.clone())?.keep();
                state.entries.insert(kept, f.text.clone());
                println!("entry {kept}: {f}");
            }
            save(&state_path, &state)?;
            list(&nic, &state, false)
        }
        FilterCommand::Del { indices } => {
            for i in indices {
                nic.remove_filter(i)?;
                state.entries.remove(&i);
                println!("entry {i}: removed");
            }
            save(&state_path, &state)
        }
        FilterCommand::List { json } => list(&nic, &state, json),
    }
}

fn save(path: &Option<PathBuf>, state: &FilterState) -> Result<(), CliError> {
    if let Some(p) = path {
        state.save(p)?;
    }
    Ok(())
}

/// Which table holds a filter, and why not the exact-match one.
fn placement(h: &FilterHandle) -> String {
    match (h.entry(), h.ternary_reason()) {
        (evnic::EntryIndex::Exact { profile, .. }, _) => format!("exact-match, profile {profile}"),
        (_, Some(why)) => format!("ternary: {why}"),
        (_, None) => "ternary".into(),
    }
}

/// The table of an entry number.
fn table_of(nic: &Nic, index: u32) -> &'static str {
    if index < nic.filter_count() {
        "ternary"
    } else {
        "exact"
    }
}

fn list(nic: &Nic, state: &FilterState, json: bool) -> Result<(), CliError> {
    let mut rows = Vec::new();
    for i in 0..nic.filter_count() {
        let hits = nic.filter_hits(i)?;
        let spec = state
            .entries
            .get(&i)
            .cloned()
            .or_else(|| nic.filter(i).ok().flatten().map(|s| s.text));
        if spec.is_some() || hits != 0 {
            rows.push((i, hits, spec));
        }
    }
    // Exact-match entries this process placed (the device's slots are too many to scan).
    for (i, spec) in nic.filters() {
        if i >= nic.filter_count() {
            rows.push((i, nic.filter_hits(i)?, Some(spec.text)));
        }
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(i, h, s)| {
                serde_json::json!({"index": i, "entry": Nic::entry_name(*i),
                    "table": table_of(nic, *i), "hits": h, "spec": s})
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"entries": nic.filter_count(), "installed": v})
        );
        return Ok(());
    }
    println!("| entry | hits | filter | table |");
    println!("|---:|---:|---|---|");
    for (i, h, s) in &rows {
        let s = s
            .as_deref()
            .unwrap_or("(unknown: installed by another program)");
        println!(
            "| {} | {h} | {s} | {} |",
            Nic::entry_name(*i),
            table_of(nic, *i)
        );
    }
    let exact: usize = nic.exact_profiles().iter().map(|p| p.entries).sum();
    let slots: u32 = nic.exact_profiles().iter().map(|p| p.slots).sum();
    println!(
        "{} of {} ternary entries in use; {exact} of {slots} exact-match slots",
        rows.len() - exact,
        nic.filter_count()
    );
    Ok(())
}

/// The readable Ethernet records of a capture; every other record is named on stderr.
#[cfg(feature = "sim")]
fn capture_records(path: &Path) -> Result<Vec<evnic_cli::capture::Record>, CliError> {
    let capture =
        evnic_cli::capture::read_capture(path).map_err(evnic_cli::replay::ReplayError::Capture)?;
    for u in capture.unreadable() {
        eprintln!("{}: {u}: not used", path.display());
    }
    let mut out = Vec::new();
    for r in capture.records() {
        if r.link_type == evnic_cli::capture::LINKTYPE_ETHERNET {
            out.push(r.clone());
        } else {
            eprintln!(
                "{}: record {}: link type {}, not Ethernet: not used",
                path.display(),
                r.index,
                r.link_type
            );
        }
    }
    Ok(out)
}

/// Frames of a capture as they enter the MAC port (FCS appended unless the capture says they
/// carry one), for injection into the simulated device.
#[cfg(feature = "sim")]
fn injected_frames(path: &Path) -> Result<Vec<Vec<u8>>, CliError> {
    let mut frames = Vec::new();
    for r in capture_records(path)? {
        match evnic_cli::replay::wire_frame(&r, false) {
            Ok(w) => frames.push(w.bytes),
            Err(why) => eprintln!("{}: record {}: {why}: not used", path.display(), r.index),
        }
    }
    Ok(frames)
}

/// Checks `--inject` against the device and starts the injection, if any.
fn inject(nic: &Nic, path: Option<&Path>) -> Result<(), CliError> {
    let Some(path) = path else {
        return Ok(());
    };
    #[cfg(feature = "sim")]
    {
        let Some(sim) = nic.sim() else {
            return Err(CliError::ModelOnly {
                command: "... --inject",
                device: nic.describe(),
            });
        };
        // 200 cycles apart from the device's cycle when the schedule reaches it (the device
        // runs on while it is sent: a start read from it beforehand may have passed under load).
        let frames = injected_frames(path)?;
        sim.schedule_from_now(
            frames
                .into_iter()
                .enumerate()
                .map(|(i, f)| (200 * (i as u64 + 1), f))
                .collect(),
        )?;
        Ok(())
    }
    #[cfg(not(feature = "sim"))]
    {
        let _ = (nic, path);
        Err(CliError::NoSim { what: "--inject" })
    }
}

/// Waits for events and hands each to `handle` (which says whether it counts) until
/// `run.count` counted or `run.duration` passed.
fn event_loop(
    ep: &Endpoint,
    run: &RunFor,
    mut handle: impl FnMut(&Event) -> Result<bool, CliError>,
) -> Result<u64, CliError> {
    let deadline = run
        .duration
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut n = 0u64;
    while run.count.is_none_or(|c| n < c) {
        let left = match deadline {
            None => Duration::from_millis(500),
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(l) => l.min(Duration::from_millis(500)),
                None => break,
            },
        };
        if let Some(ev) = ep.wait(Some(left))? {
            if handle(&ev)? {
                n += 1;
            }
        }
    }
    Ok(n)
}

fn event_json(ev: &Event, clock: &evnic::DeviceClock, now: u64) -> serde_json::Value {
    use serde_json::json;
    let cycles = clock.extend(ev.timestamp(), now);
    let mut v = json!({
        "type": ev.event_type().map_or("UNKNOWN", |t| t.name()),
        "group": ev.group().map(|g| g.0),
        "cycles": cycles,
        "ns": clock.cycles_to_ns(cycles),
        "payload": ev.payload(),
        "source": ev.source(),
    });
    let extra = match ev.kind() {
        EventKind::Rx {
            len,
            filter,
            flags,
            stored,
        } => json!({
            "len": len,
            "filter": filter,
            "flags": format!("{flags:?}"),
            "vi": stored.map(|s| s.vi.0),
        }),
        EventKind::TxDone { desc, len } => json!({"desc": desc, "len": len}),
        EventKind::Timer { timer, .. } => json!({"timer": timer}),
        EventKind::Indication { from, .. } => match from {
            Producer::Vi(v) => json!({"from_vi": v.0}),
            Producer::DevicePort => json!({"from_device_port": true}),
        },
        EventKind::Overflow { lost } => json!({"lost": lost}),
        EventKind::Error { code, detail, .. } => {
            json!({"code": code.map(|c| format!("{c:?}")), "detail": detail})
        }
        _ => json!({}),
    };
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

/// Installs the filters of `--filter`, saying on stderr where each went.
fn install_filters(nic: &Nic, specs: &[String]) -> Result<Vec<FilterHandle>, CliError> {
    specs
        .iter()
        .map(|s| {
            let h = nic.add_filter(s.parse()?)?;
            eprintln!(
                "evnic: filter entry {}: {s} ({})",
                Nic::entry_name(h.index()),
                placement(&h)
            );
            Ok(h)
        })
        .collect()
}

fn listen(
    spec: &DeviceSpec,
    groups: &[u32],
    filters: &[String],
    run: &RunFor,
    json: bool,
) -> Result<(), CliError> {
    let nic = Nic::open(spec.clone())?;
    let ep = nic.endpoint(EndpointConfig::default())?;
    for g in groups {
        ep.subscribe(Group(*g))?;
    }
    let _filters = install_filters(&nic, filters)?;
    if !filters.is_empty() || run.inject.is_some() {
        nic.set_enabled(true)?;
    }
    let clock = nic.clock()?;
    inject(&nic, run.inject.as_deref())?;
    if !json {
        eprintln!(
            "listening on {} to {}",
            ep.vi(),
            groups
                .iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    event_loop(&ep, run, |ev| {
        if json {
            println!("{}", event_json(ev, &clock, nic.cycles()?));
        } else {
            println!("{ev}");
        }
        Ok(true)
    })?;
    Ok(())
}

fn capture(
    spec: &DeviceSpec,
    path: &Path,
    filters: &[String],
    run: &RunFor,
) -> Result<(), CliError> {
    let nic = Nic::open(spec.clone())?;
    let ep = nic.endpoint(EndpointConfig::default())?;
    let mut rx = ep.receiver(8, 9728)?;
    let to_us = FilterAction::Vi(ep.vi());
    let terms: Vec<&str> = if filters.is_empty() {
        vec!["any"]
    } else {
        filters.iter().map(String::as_str).collect()
    };
    let mut handles = Vec::new();
    for t in terms {
        if t.contains("->") {
            return Err(CliError::Usage(format!(
                "--filter {t:?}: give match terms only; the capture steers them to its own endpoint"
            )));
        }
        let spec: FilterSpec = format!("{t} -> {to_us}").parse()?;
        // Without terms, the catch-all goes last (lowest priority) so other entries keep theirs.
        let h = if filters.is_empty() {
            let last = (0..nic.filter_count())
                .rev()
                .find(|i| nic.filter(*i).ok().flatten().is_none())
                .ok_or(Error::NoFreeFilter {
                    filters: nic.filter_count(),
                })?;
            nic.add_filter_at(last, spec)?
        } else {
            nic.add_filter(spec)?
        };
        handles.push(h);
    }
    nic.set_enabled(true)?;
    let mut out = PcapOut::create(path)?;
    inject(&nic, run.inject.as_deref())?;
    let clock = nic.clock()?;
    let mut progress = Progress::new("capture", run.count.unwrap_or(0), "frames");
    let n = event_loop(&ep, run, |ev| {
        let Some(frame) = rx.take(ev) else {
            return Ok(false);
        };
        let now = nic.cycles()?;
        out.write(clock.event_time(ev, now), &frame)?;
        progress.set(out.frames() as u64, "");
        Ok(true)
    })?;
    progress.finish();
    out.finish()?;
    eprintln!(
        "{n} frames written to {} (nanosecond timestamps from the device clock, FCS included)",
        path.display()
    );
    Ok(())
}

#[cfg(feature = "sim")]
fn demo(
    intervals: u32,
    b_silent_after: u32,
    trace: Option<PathBuf>,
    pcap: Option<PathBuf>,
) -> Result<(), CliError> {
    if b_silent_after >= intervals {
        return Err(CliError::Usage(
            "--b-silent-after must be below --intervals, or peer B never falls silent".into(),
        ));
    }
    let opts = evnic_cli::demo::DemoOptions {
        intervals,
        b_silent_after,
        trace,
        pcap,
        ..Default::default()
    };
    let mut progress = Progress::new("demo", 1000, "‰ of the device time");
    let report = evnic_cli::demo::run(&opts, &mut |done, ms| {
        progress.set((done * 1000.0) as u64, &format!("{ms:.2} ms simulated"));
    })
    .map_err(|e| match e.downcast::<Error>() {
        Ok(e) => CliError::Lib(*e),
        Err(e) => match e.downcast::<PcapError>() {
            Ok(p) => CliError::Pcap(*p),
            Err(e) => CliError::Lib(Error::Os {
                call: "the demo",
                err: std::io::Error::other(e.to_string()),
            }),
        },
    })?;
    progress.finish();
    println!("{report}");
    Ok(())
}

#[cfg(not(feature = "sim"))]
fn demo(_: u32, _: u32, _: Option<PathBuf>, _: Option<PathBuf>) -> Result<(), CliError> {
    Err(CliError::NoSim { what: "evnic demo" })
}

/// `evnic replay`: on the simulated device.
#[cfg(feature = "sim")]
fn replay(
    pcap: &Path,
    filters: &[String],
    default: &str,
    has_fcs: bool,
    keep_bad_fcs: bool,
    json: bool,
) -> Result<(), CliError> {
    use evnic_cli::replay::{ReplayError, ReplayOptions, Replayer, Tally};
    let filters = filters
        .iter()
        .map(|f| f.parse::<FilterSpec>())
        .collect::<Result<Vec<_>, _>>()?;
    let default = match default.parse::<FilterAction>()? {
        FilterAction::Group(_) => return Err(Error::DefaultActionGroup.into()),
        a => a,
    };
    let capture = evnic_cli::capture::read_capture(pcap).map_err(ReplayError::Capture)?;
    let mut r = Replayer::new(ReplayOptions {
        filters,
        default,
        has_fcs,
        fcs_drop: !keep_bad_fcs,
    })?;
    let mut progress = Progress::new("replay", capture.items.len() as u64, "records");
    let mut tally = Tally::default();
    for (i, item) in capture.items.iter().enumerate() {
        let rep = r.record(item)?;
        tally.add(&rep);
        if let Some(b) = &progress.bar {
            b.suspend(|| print_report(&rep, json));
        } else {
            print_report(&rep, json);
        }
        progress.set(i as u64 + 1, "");
    }
    progress.finish();
    eprintln!("replay: {tally}");
    if r.faults() != 0 {
        return Err(CliError::Lib(Error::DeviceFailed {
            during: "the replay",
            cause: std::sync::Arc::new(evnic::BackendError::Dma {
                bytes: 0,
                why: format!("{} DMA accesses refused (a bug in the RTL)", r.faults()),
            }),
        }));
    }
    Ok(())
}

#[cfg(feature = "sim")]
fn print_report(rep: &evnic_cli::replay::RecordReport, json: bool) {
    if json {
        println!("{}", rep.to_json());
    } else {
        println!("{}", rep.line());
    }
}

#[cfg(not(feature = "sim"))]
fn replay(_: &Path, _: &[String], _: &str, _: bool, _: bool, _: bool) -> Result<(), CliError> {
    Err(CliError::NoSim {
        what: "evnic replay",
    })
}

/// `evnic tx`: on the simulated device.
#[cfg(feature = "sim")]
fn tx(
    out: &Path,
    mpa_crc: Option<&str>,
    pcap: Option<&Path>,
    frame: Option<&Path>,
) -> Result<(), CliError> {
    use evnic_cli::txcmd::{parse_span, transmit, TxCmdOptions, TxOutcome};
    let frames = match (pcap, frame) {
        // Frames without their FCS (the device appends one): a capture that says its frames
        // carry one has it taken off.
        (Some(p), _) => capture_records(p)?
            .into_iter()
            .map(|r| {
                let fcs = usize::from(r.fcs_len.unwrap_or(0));
                let cut = r.is_cut();
                let mut d = r.data;
                if !cut {
                    d.truncate(d.len().saturating_sub(fcs));
                }
                d
            })
            .collect(),
        (None, Some(f)) => vec![std::fs::read(f).map_err(|err| CliError::File {
            path: f.to_path_buf(),
            err,
        })?],
        (None, None) => return Err(CliError::Usage("give a FRAME-FILE or --pcap IN".into())),
    };
    let opts = TxCmdOptions {
        mpa_crc: mpa_crc
            .map(parse_span)
            .transpose()
            .map_err(CliError::Usage)?,
    };
    let mut progress = Progress::new("tx", frames.len() as u64, "frames");
    let run = transmit(&frames, opts, &mut |n| progress.set(n as u64, ""))?;
    progress.finish();
    let mut pcap = PcapOut::create(out)?;
    for (i, o) in run.outcomes.iter().enumerate() {
        match o {
            TxOutcome::Sent(w) => pcap.write(run.clock.time_of(w.start), &w.bytes)?,
            TxOutcome::Refused(c) => {
                eprintln!(
                    "frame {i} ({} bytes): refused by the device, {c:?}",
                    frames[i].len()
                )
            }
            TxOutcome::Rejected(why) => {
                eprintln!("frame {i} ({} bytes): not sent, {why}", frames[i].len())
            }
        }
    }
    let sent = pcap.frames();
    pcap.finish()?;
    println!(
        "{sent} of {} frames sent in {} cycles, written with their FCS to {}",
        frames.len(),
        run.cycles,
        out.display()
    );
    Ok(())
}

#[cfg(not(feature = "sim"))]
fn tx(_: &Path, _: Option<&str>, _: Option<&Path>, _: Option<&Path>) -> Result<(), CliError> {
    Err(CliError::NoSim { what: "evnic tx" })
}
