//! `evnic`: the command-line tool.

use clap::{Parser, Subcommand};
use evnic::{DeviceSpec, Nic};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "evnic",
    version,
    about = "The evnic FPGA NIC event engine: device tool"
)]
struct Cli {
    /// Device: "sim" (the Verilator model of the RTL, default) or "vfio:DDDD:BB:DD.F".
    #[arg(long, global = true, default_value = "sim", env = "EVNIC_DEVICE")]
    device: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the device's identity and parameters.
    Info,
    /// Print every device counter (global, group, per queue, per timer) as a table.
    Stats,
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
        trace: Option<std::path::PathBuf>,
        /// Write the frames the capture endpoint received (FCS included) as pcap.
        #[arg(long, value_name = "FILE")]
        pcap: Option<std::path::PathBuf>,
    },
    /// Inject the frames of a pcap into the simulated device (the Verilator model of the RTL)
    /// and print, per frame, its index, parsed key, flags, matching filter, action and the VI
    /// it reached or the reason it was dropped.
    #[command(after_help = REPLAY_HELP)]
    Replay {
        /// The pcap file (Ethernet link type).
        #[arg(long)]
        pcap: std::path::PathBuf,
        /// A filter entry, e.g. "udp dst 319 -> vi 2"; repeat for more (the first given is
        /// entry 0; the lowest matching entry wins).
        #[arg(long = "filter", value_name = "SPEC")]
        filters: Vec<String>,
        /// What happens to a frame no filter matches: "vi N" or "drop".
        #[arg(long, default_value = "drop", value_name = "ACTION")]
        default: String,
        /// The pcap's frames already end with their FCS (by default one is appended).
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
        out: std::path::PathBuf,
        /// Insert CRC-32C (RDMA/MPA style) over bytes OFFSET..OFFSET+LEN of every frame, into
        /// the 4 bytes after them.
        #[arg(long, value_name = "OFFSET:LEN")]
        mpa_crc: Option<String>,
        /// Frames to send from a pcap or pcapng (without FCS).
        #[arg(long, value_name = "IN", conflicts_with = "frame")]
        pcap: Option<std::path::PathBuf>,
        /// One frame to send: a file of its raw bytes (without FCS).
        #[arg(value_name = "FRAME-FILE", required_unless_present = "pcap")]
        frame: Option<std::path::PathBuf>,
    },
}

const REPLAY_HELP: &str = "\
Filter syntax: TERM... -> ACTION
  TERM:   udp [src|dst PORT] | tcp [src|dst PORT] | icmp | proto N | ethertype N
          | ipv4 [src|dst ADDR[/LEN]] | ipv6 [src|dst ADDR[/LEN]] | vlan N | vlan inner N
          | mac AA:BB:CC:DD:EE:FF (destination) | oam [level N] [opcode N] | any
  ACTION: vi N | group N | drop
Terms combine with AND; numbers are decimal or 0x-hex. Examples:
  --filter 'udp dst 319 -> vi 2' --filter 'ethertype 0x8902 -> group 5'
  --filter 'ipv4 dst 10.0.0.0/8 -> drop' --default 'vi 0'
Drop reasons: filter, no-match, no-buffer, fcs-bad, overrun, disabled, bad-descriptor.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evnic: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `evnic replay`: always on the simulated device, cycle by cycle.
fn replay(
    pcap: &std::path::Path,
    filters: &[String],
    default: &str,
    has_fcs: bool,
    keep_bad_fcs: bool,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    use evnic::filter_spec::{FilterAction, FilterSpec};
    use evnic::replay::{read_pcap, ReplayOptions, Replayer};
    let filters = filters
        .iter()
        .map(|f| f.parse::<FilterSpec>())
        .collect::<Result<Vec<_>, _>>()?;
    let default = match format!("any -> {default}").parse::<FilterSpec>()?.action {
        FilterAction::Group(_) => return Err("--default must be \"vi N\" or \"drop\"".into()),
        a => a,
    };
    let frames = read_pcap(pcap)?;
    let mut r = Replayer::new(ReplayOptions {
        filters,
        default,
        has_fcs,
        fcs_drop: !keep_bad_fcs,
    })?;
    for (i, f) in frames.iter().enumerate() {
        let rep = r.frame(i, f)?;
        if json {
            println!("{}", rep.to_json());
        } else {
            println!("{}", rep.line());
        }
    }
    if r.faults() != 0 {
        return Err(format!("{} DMA faults (a bug in the RTL)", r.faults()).into());
    }
    Ok(())
}

/// `evnic tx`: always on the simulated device, cycle by cycle.
fn tx(
    out: &std::path::Path,
    mpa_crc: Option<&str>,
    pcap: Option<&std::path::Path>,
    frame: Option<&std::path::Path>,
) -> Result<(), Box<dyn std::error::Error>> {
    use evnic::txcmd::{parse_span, transmit, write_pcap, TxCmdOptions, TxOutcome};
    let frames = match (pcap, frame) {
        (Some(p), _) => evnic::replay::read_pcap(p)?,
        (None, Some(f)) => vec![std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?],
        (None, None) => return Err("give a FRAME-FILE or --pcap IN".into()),
    };
    let opts = TxCmdOptions {
        mpa_crc: mpa_crc.map(parse_span).transpose()?,
    };
    let (outcomes, cycles) = transmit(&frames, opts)?;
    let mut sent = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            TxOutcome::Sent(w) => sent.push(w.clone()),
            TxOutcome::Refused(c) => {
                eprintln!("frame {i} ({} bytes): refused, {c:?}", frames[i].len())
            }
        }
    }
    write_pcap(out, &sent)?;
    println!(
        "{} of {} frames sent in {cycles} cycles, written with their FCS to {}",
        sent.len(),
        frames.len(),
        out.display()
    );
    Ok(())
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    if let Command::Replay {
        pcap,
        filters,
        default,
        has_fcs,
        keep_bad_fcs,
        json,
    } = &cli.command
    {
        return replay(pcap, filters, default, *has_fcs, *keep_bad_fcs, *json);
    }
    if let Command::Tx {
        out,
        mpa_crc,
        pcap,
        frame,
    } = &cli.command
    {
        return tx(out, mpa_crc.as_deref(), pcap.as_deref(), frame.as_deref());
    }
    if let Command::Demo {
        intervals,
        b_silent_after,
        trace,
        pcap,
    } = &cli.command
    {
        if cli.device != "sim" {
            return Err("the demo runs on the simulated device only (--device sim)".into());
        }
        if *b_silent_after >= *intervals {
            return Err(
                "--b-silent-after must be below --intervals, or peer B never falls silent".into(),
            );
        }
        let opts = evnic::demo::DemoOptions {
            intervals: *intervals,
            b_silent_after: *b_silent_after,
            trace: trace.clone(),
            pcap: pcap.clone(),
            ..Default::default()
        };
        let report = evnic::demo::run(&opts)?;
        println!("{report}");
        return Ok(());
    }
    let spec: DeviceSpec = cli.device.parse()?;
    let nic = Nic::open(spec)?;
    match cli.command {
        Command::Info => {
            let i = nic.info()?;
            println!("device      {}", i.backend);
            println!("id          {}", i.id);
            println!("version     {}.{}", i.version.0, i.version.1);
            println!("VIs         {}", i.vis);
            println!("filters     {}", i.filters);
            println!("groups      {}", i.groups);
            println!("timers      {}", i.timers);
            println!("event size  {} bytes", i.event_bytes);
            println!("data path   {} bits", i.data_bits);
            println!("clock       {} kHz (nominal)", i.clock_khz);
            println!("cycles      {}", nic.cycles()?);
        }
        Command::Stats => print!("{}", nic.stats()?),
        Command::Replay { .. } | Command::Demo { .. } | Command::Tx { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(())
}
