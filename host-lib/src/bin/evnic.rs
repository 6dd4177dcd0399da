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
}

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

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
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
    }
    Ok(())
}
