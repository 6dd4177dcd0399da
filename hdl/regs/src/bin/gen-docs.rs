//! Writes the register map, event format and key layout as Markdown:
//! `gen-docs [OUT]` (default `docs/registers.md`).

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/registers.md".into());
    if let Err(e) = std::fs::write(&out, evnic_regs::map::render_markdown()) {
        eprintln!("gen-docs: cannot write {out}: {e}");
        std::process::exit(1);
    }
    println!("wrote {out}");
}
