//! Writes the core's Verilog: `gen-verilog [OUT.v]` (default `target/verilog/evnic.v`).

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/verilog/evnic.v".into());
    let path = std::path::Path::new(&out);
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("gen-verilog: cannot create {}: {e}", dir.display());
            std::process::exit(1);
        }
    }
    if let Err(e) = std::fs::write(path, evnic_hdl::verilog()) {
        eprintln!("gen-verilog: cannot write {out}: {e}");
        std::process::exit(1);
    }
    println!("wrote {out}");
}
