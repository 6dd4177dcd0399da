//! Writes the register map, event format and key layout as Markdown:
//! `gen-docs [OUT]` (default `docs/registers.md`), or the machine-readable map as JSON:
//! `gen-docs --json OUT`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, text) = match args.as_slice() {
        [flag, out] if flag == "--json" => (out.clone(), evnic_regs::json::render_json()),
        [flag] if flag == "--json" => {
            eprintln!(
                "gen-docs: --json needs an output path, e.g. gen-docs --json target/registers.json"
            );
            std::process::exit(2);
        }
        [] => (
            "docs/registers.md".into(),
            evnic_regs::map::render_markdown(),
        ),
        [out] => (out.clone(), evnic_regs::map::render_markdown()),
        _ => {
            eprintln!("usage: gen-docs [OUT.md] | gen-docs --json OUT.json");
            std::process::exit(2);
        }
    };
    if let Some(dir) = std::path::Path::new(&out).parent() {
        if !dir.as_os_str().is_empty() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("gen-docs: cannot create {}: {e}", dir.display());
                std::process::exit(1);
            }
        }
    }
    if let Err(e) = std::fs::write(&out, text) {
        eprintln!("gen-docs: cannot write {out}: {e}");
        std::process::exit(1);
    }
    println!("wrote {out}");
}
