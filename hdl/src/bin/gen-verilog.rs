//! Writes Verilog (module `top`): `gen-verilog [--top TOP] [OUT.v]`, TOP one of
//! `core` (the default: the core alone, what Verilator simulates and `make synth` places),
//! `pcie-shell` (the core inside the PCIe shell for the UltraScale+ hard block),
//! `ecp5-evn` (the core on the ECP5-5G Evaluation Board), `ecp5-evn-regs` (the register bus
//! and global page on that board) or `block:NAME` (one sub-block of the core at the core's
//! parameters, its ports the module's, for per-block timing: `make timing BLOCK=NAME`;
//! `--blocks` lists the names). OUT defaults to `target/verilog/evnic.v`. With
//! `--registered-ports` every port of `top` but `clock` is behind a flip-flop (see
//! `evnic_hdl::with_registered_ports`; `make timing BLOCK=NAME PORTS=registered`).

use evnic_hdl::board::{self, Ecp5EvnCore, Ecp5EvnRegs};

const USAGE: &str =
    "usage: gen-verilog [--top core|pcie-shell|ecp5-evn|ecp5-evn-regs|block:NAME] [--registered-ports] [OUT.v]\n       gen-verilog --blocks";

fn main() {
    let mut top = "core".to_string();
    let mut out = None;
    let mut registered_ports = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--top" => match args.next() {
                Some(t) => top = t,
                None => fail(USAGE),
            },
            "--registered-ports" => registered_ports = true,
            "--blocks" => {
                for (name, what) in evnic_hdl::BLOCKS {
                    println!("{name:14} {what}");
                }
                return;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            a if a.starts_with('-') => fail(&format!("gen-verilog: unknown option {a}\n{USAGE}")),
            _ if out.is_some() => fail(USAGE),
            _ => out = Some(arg),
        }
    }
    let verilog = match top.as_str() {
        "core" => evnic_hdl::verilog(),
        "pcie-shell" => evnic_hdl::shell::verilog(),
        "ecp5-evn" => board::verilog::<Ecp5EvnCore>(),
        "ecp5-evn-regs" => board::verilog::<Ecp5EvnRegs>(),
        t => match t.strip_prefix("block:") {
            Some(name) => evnic_hdl::block_verilog(name).unwrap_or_else(|| {
                fail(&format!(
                    "gen-verilog: unknown block {name} (gen-verilog --blocks lists them)"
                ))
            }),
            None => fail(&format!("gen-verilog: unknown top {t}\n{USAGE}")),
        },
    };
    let verilog = if registered_ports {
        evnic_hdl::with_registered_ports(&verilog).unwrap_or_else(|| {
            fail("gen-verilog: no module `top` with a `clock` port to register the ports of")
        })
    } else {
        verilog
    };
    let out = out.unwrap_or_else(|| "target/verilog/evnic.v".into());
    let path = std::path::Path::new(&out);
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            fail(&format!(
                "gen-verilog: cannot create {}: {e}",
                dir.display()
            ));
        }
    }
    if let Err(e) = std::fs::write(path, verilog) {
        fail(&format!("gen-verilog: cannot write {out}: {e}"));
    }
    println!("wrote {out}");
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2);
}
