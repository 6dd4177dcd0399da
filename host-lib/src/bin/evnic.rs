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
        Command::Replay { .. } => unreachable!("handled above"),
    }
    Ok(())
}
