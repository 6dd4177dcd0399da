//! Writes the core's Verilog: `gen-verilog [OUT.v]` (default `target/verilog/evnic.v`), or the
//! PCIe shell around it: `gen-verilog --shell [OUT.v]` (default `target/verilog/evnic_shell.v`).

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let shell = args.first().is_some_and(|a| a == "--shell");
    if shell {
        args.remove(0);
    }
    let out = args.first().cloned().unwrap_or_else(|| {
        if shell {
            "target/verilog/evnic_shell.v".into()
        } else {
            "target/verilog/evnic.v".into()
        }
    });
    let path = std::path::Path::new(&out);
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("gen-verilog: cannot create {}: {e}", dir.display());
            std::process::exit(1);
        }
    }
    let text = if shell {
        evnic_hdl::shell::verilog()
    } else {
        evnic_hdl::verilog()
    };
    if let Err(e) = std::fs::write(path, text) {
        eprintln!("gen-verilog: cannot write {out}: {e}");
        std::process::exit(1);
    }
    println!("wrote {out}");
}
