//! Generates the core's Verilog from the RustHDL design, flattens and optimises it with Yosys,
//! verilates it and compiles the model with the C++ shim in `csrc/`. Verilator's runtime is
//! compiled once per Verilator version and reused across design changes; a built model is kept
//! in a cache keyed by everything it is built from (`EVNIC_MODEL_CACHE`, default
//! `target/evnic-model-cache`), so that the several build hashes of this crate in one workspace
//! (tests, clippy, benches) and a revert to an earlier design build it once.
//!
//! Why Yosys first: RustHDL writes one module per block instance with one `always @(*)` per
//! module and one module per DFF. Verilator then sees false combinational loops between blocks
//! (parent drives a child's inputs and reads its outputs in one always block) and evaluates
//! whole blocks as units, re-running them until they settle. Flattening to one module of
//! bit-level cells (`proc; flatten`), merging equal logic and turning `q <= en ? d : q` into
//! enable flip-flops (`opt`), trimming widths (`wreduce`) and keeping memories as arrays
//! (`memory -nomap`) leaves Verilator less to evaluate per cycle (+17% cycles/s). `opt -full`
//! adds bit-level constant folding (`-fine`: an OR of slices shifted into a 704-bit window
//! becomes a concatenation instead of 704-bit shifts) and turns `en ? 1 : 0` into `en`, so a
//! RAM's write enable is no longer a wire of the word's width whose bits copy one another
//! (measured with callgrind on the idle core: 55.2k host instructions per cycle before, 38.0k
//! after). `write_verilog -simple-lhs` and `split_var_config` remove the false loops left. The
//! result is the same synchronous logic: the tests check exact cycle counts. See README
//! "Simulation speed".

use std::path::{Path, PathBuf};
use std::process::Command;

const VERILATOR_FLAGS: &[&str] = &[
    "--cc",
    "--trace",
    "-O3",
    // Verilator 5.006's DFG pass leaves more work per cycle here (callgrind, idle core: 24.3k
    // host instructions per cycle with it, 22.7k without).
    "-fno-dfg",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "-Wno-WIDTH",
    "-Wno-DECLFILENAME",
    // After flattening, wide vectors remain whose bits feed one another (e.g. a 64-bit
    // timestamp assembled from slices): a speed note at vector granularity, not a loop; the
    // build splits them (`split_var_config`), a few cannot be.
    "-Wno-UNOPTFLAT",
    // A vector listed for splitting (see `split_var_config`) that Verilator cannot split.
    "-Wno-SPLITVAR",
    "--prefix",
    "Vevnic",
    "--top-module",
    "top",
];

/// The Yosys pre-pass: flatten, optimise, keep memories as arrays. Cycle-identical logic. The
/// PCIe shell's Icarus test flattens its Verilog with the same passes (Makefile).
const YOSYS_PASSES: &str = include_str!("flatten.yosys");

fn fail(msg: &str) -> ! {
    eprintln!("\n*** evnic-sim build: {msg}\n");
    panic!("{msg}");
}

fn tool_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=csrc/shim.cpp");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=flatten.yosys");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());

    let version = tool_output("verilator", &["--version"]).unwrap_or_else(|| {
        fail("verilator not found; run `make deps` (installs it with apt-get) or `apt-get install verilator`")
    });
    let root = tool_output("verilator", &["--getenv", "VERILATOR_ROOT"])
        .map(|s| PathBuf::from(s.trim()))
        .unwrap_or_else(|| PathBuf::from("/usr/share/verilator"));
    let include = root.join("include");

    // 1. Verilog from the RustHDL design, its ports checked against the pin table, and the
    //    pin structs of both sides generated from the table.
    let rtl = out.join("evnic.v");
    let rtl_text = evnic_hdl::verilog();
    std::fs::write(&rtl, &rtl_text).expect("write Verilog");
    if let Err(e) = evnic_regs::pins::check_module(&rtl_text, "top") {
        fail(&e);
    }
    let pins = pin_structs();
    std::fs::write(out.join("pins.rs"), &pins.rust).expect("write pins.rs");
    std::fs::write(out.join("evnic_pins.h"), &pins.cpp).expect("write evnic_pins.h");

    // 1b-4. The model itself, from the cache when this exact Verilog, shim and tool set were
    //       built before (the workspace builds this crate under several build hashes: tests,
    //       clippy, benches), else flattened, verilated and compiled here.
    let shim = std::fs::read_to_string("csrc/shim.cpp").expect("read csrc/shim.cpp");
    let key = model_key(&[
        &rtl_text,
        YOSYS_PASSES,
        &shim,
        &pins.cpp,
        &VERILATOR_FLAGS.join(" "),
        &version,
        &std::env::var("CXX").unwrap_or_default(),
        &std::env::var("TARGET").unwrap_or_default(),
        &cpu_flags().join(" "),
        include_str!("build.rs"),
    ]);
    let cache = model_cache_dir(&out);
    let rt_name = runtime_name(&version);
    let verilog = out.join("evnic_flat.v");
    if !restore_model(&cache, &key, &out, &rt_name) {
        build_model(&rtl, &verilog, &out, &include, &rt_name);
        store_model(&cache, &key, &out, &rt_name);
    }
    println!("cargo:rustc-link-lib=static=evnic_model");
    // After the model: a static library must follow the one that uses it.
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static={rt_name}");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=pthread");
    println!("cargo:rustc-env=EVNIC_VERILATOR_VERSION={}", version.trim());
    println!("cargo:rustc-env=EVNIC_VERILOG={}", rtl.display());
    println!("cargo:rustc-env=EVNIC_VERILOG_FLAT={}", verilog.display());
}

/// Yosys, Verilator and the C++ compiler: `rtl` in, the flattened Verilog, `libevnic_model.a`
/// and Verilator's runtime library in `out`.
fn build_model(rtl: &Path, verilog: &Path, out: &Path, include: &Path, rt_name: &str) {
    // Flatten and optimise it with Yosys (see the top of this file).
    if tool_output("yosys", &["-V"]).is_none() {
        fail("yosys not found; the simulator flattens the generated Verilog with Yosys before Verilator. Run `make deps` (installs it with apt-get) or `apt-get install yosys`");
    }
    let script = format!(
        "read_verilog -sv {}; hierarchy -check -top top; {}; write_verilog -noattr -simple-lhs {}",
        rtl.display(),
        YOSYS_PASSES.trim(),
        verilog.display()
    );
    let log = out.join("yosys.log");
    let status = Command::new("yosys")
        .args(["-q", "-l"])
        .arg(&log)
        .arg("-p")
        .arg(&script)
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run yosys: {e}")));
    if !status.success() {
        fail(&format!(
            "yosys failed on the generated Verilog (log: {})",
            log.display()
        ));
    }
    match std::fs::read_to_string(verilog) {
        Ok(flat) => {
            if let Err(e) = evnic_regs::pins::check_module(&flat, "top") {
                fail(&format!("after Yosys: {e}"));
            }
        }
        Err(e) => fail(&format!("cannot read {}: {e}", verilog.display())),
    }

    // 2. Verilate, the vectors Verilator sees as loops split first.
    let split = out.join("split.vlt");
    std::fs::write(&split, split_var_config(verilog)).expect("write split.vlt");
    let mdir = out.join("vobj");
    let _ = std::fs::remove_dir_all(&mdir);
    let status = Command::new("verilator")
        .args(VERILATOR_FLAGS)
        .arg("--Mdir")
        .arg(&mdir)
        .arg(&split)
        .arg(verilog)
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run verilator: {e}")));
    if !status.success() {
        fail("verilator rejected the generated Verilog (see the messages above)");
    }
    skip_input_region_on_edge(&mdir);

    // 3. Verilator's runtime, once per Verilator version.
    let rt_lib = out.join(format!("lib{rt_name}.a"));
    let defines = [
        ("VM_TRACE", "1"),
        ("VM_TRACE_VCD", "1"),
        ("VM_COVERAGE", "0"),
        ("VM_SC", "0"),
    ];
    if !rt_lib.exists() {
        let mut b = base_build(include, &defines);
        for f in [
            "verilated.cpp",
            "verilated_vcd_c.cpp",
            "verilated_threads.cpp",
        ] {
            b.file(include.join(f));
        }
        b.out_dir(out).cargo_metadata(false).compile(rt_name);
    }

    // 4. The model and the shim.
    let mut b = base_build(include, &defines);
    b.include(&mdir).include(out).file("csrc/shim.cpp");
    for entry in std::fs::read_dir(&mdir).expect("read verilator output") {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "cpp") {
            b.file(p);
        }
    }
    b.cargo_metadata(false).compile("evnic_model");
}

/// A Verilator configuration file that splits every vector Verilator reports as a
/// combinational loop (UNOPTFLAT) in `verilog`. After flattening, some wires carry bits that
/// depend on other bits of the same wire (a write enable replicated to the word's width, a
/// field assembled from slices): not a loop bit by bit, but Verilator orders logic by whole
/// variables, so it re-evaluated such a vector's logic until it settled and checked it for
/// changes on every evaluation (measured with callgrind, idle core: 33.3k host instructions per
/// cycle before, 25.3k after). `split_var` makes each used slice a variable of its own. The list
/// comes from a lint run of the same Verilog (a few seconds), so it follows the design.
fn split_var_config(verilog: &Path) -> String {
    let lint = Command::new("verilator")
        .args([
            "--lint-only",
            "-Wno-fatal",
            "-Wno-WIDTH",
            "-Wno-DECLFILENAME",
        ])
        .args(["--top-module", "top"])
        .arg(verilog)
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run verilator: {e}")));
    let mut vlt = String::from("`verilator_config\n");
    let marker = "Circular combinational logic: 'top.";
    for line in String::from_utf8_lossy(&lint.stderr).lines() {
        if !line.contains("UNOPTFLAT") {
            continue;
        }
        let Some(name) = line
            .split_once(marker)
            .and_then(|(_, rest)| rest.strip_suffix('\''))
        else {
            continue;
        };
        // Escaped identifiers hold '.' and '$'; the pattern's '?' matches them.
        let pattern: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        vlt.push_str(&format!("split_var -module \"top\" -var \"{pattern}\"\n"));
    }
    vlt
}

/// Verilator 5 runs every combinational block that depends on an input (its "ico" region) at
/// the start of every `eval()`, changed inputs or not: its first-iteration trigger is always
/// set. The shim (`csrc/shim.cpp`) changes inputs only while the clock is low and then calls
/// `eval()` twice per cycle, clock low then clock high, so in the clock-high call that region
/// would recompute what the clock-low call just computed from the same inputs (measured: 12%
/// of the model's instructions). This sets the trigger only when the clock is low. Logic that
/// also depends on state is still re-run after the edge in the model's own regions, as it is
/// for any state change. When the generated code does not hold the expected line (another
/// Verilator version) the model is left as generated: correct, only slower.
fn skip_input_region_on_edge(mdir: &Path) {
    const FROM: &str = "vlSelf->__VicoTriggered.at(0U) = (0U == vlSelf->__VicoIterCount);";
    const TO: &str =
        "vlSelf->__VicoTriggered.at(0U) = ((0U == vlSelf->__VicoIterCount) & !vlSelf->clock);";
    let mut found = Vec::new();
    for entry in std::fs::read_dir(mdir).expect("read verilator output") {
        let p = entry.unwrap().path();
        if p.extension().is_none_or(|e| e != "cpp") {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("read verilator output");
        for _ in text.matches(FROM) {
            found.push((p.clone(), text.clone()));
        }
    }
    match found.as_slice() {
        [(p, text)] => std::fs::write(p, text.replace(FROM, TO)).expect("write verilator output"),
        _ => println!(
            "cargo:warning=evnic-sim: the input region's trigger was found {} times in Verilator's output (expected once): model left as generated, slower",
            found.len()
        ),
    }
}

/// The runtime library's name, one per Verilator version.
fn runtime_name(version: &str) -> String {
    let tag: String = version
        .split_whitespace()
        .nth(1)
        .unwrap_or("unknown")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    format!("verilated_rt_{}", tag.replace('.', "_"))
}

/// The files a built model consists of, kept in the cache.
fn model_files(rt_name: &str) -> [String; 4] {
    [
        "evnic_flat.v".into(),
        "yosys.log".into(),
        "libevnic_model.a".into(),
        format!("lib{rt_name}.a"),
    ]
}

/// Cached models kept; older ones are removed when a new one is stored.
const CACHE_KEEP: usize = 8;

/// A 128-bit key over every input of the model build (two SipHash passes with distinct
/// prefixes; the hasher is deterministic for a given toolchain, which is all a cache needs).
fn model_key(parts: &[&str]) -> String {
    use std::hash::{Hash, Hasher};
    let mut words = [0u64; 2];
    for (salt, word) in words.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        for part in parts {
            part.hash(&mut h);
        }
        *word = h.finish();
    }
    format!("{:016x}{:016x}", words[0], words[1])
}

/// `EVNIC_MODEL_CACHE`, else `evnic-model-cache` beside the profile directories of the target
/// directory that holds `out` (`<target>/<profile>/build/<crate>/out`).
fn model_cache_dir(out: &Path) -> PathBuf {
    println!("cargo:rerun-if-env-changed=EVNIC_MODEL_CACHE");
    match std::env::var_os("EVNIC_MODEL_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => out
            .ancestors()
            .nth(4)
            .unwrap_or(out)
            .join("evnic-model-cache"),
    }
}

/// Copies a cached model into `out`; false when there is none (or it is incomplete).
fn restore_model(cache: &Path, key: &str, out: &Path, rt_name: &str) -> bool {
    let entry = cache.join(key);
    let files = model_files(rt_name);
    if !files.iter().all(|f| entry.join(f).is_file()) {
        return false;
    }
    for f in &files {
        if std::fs::copy(entry.join(f), out.join(f)).is_err() {
            return false;
        }
    }
    // Touch the entry so that pruning keeps the models in use.
    let _ = std::fs::File::open(entry.join(&files[0]))
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
    println!(
        "cargo:warning=evnic-sim: model {key} taken from {}",
        cache.display()
    );
    true
}

/// Stores the model built in `out` under `key`: written to a private directory, then renamed,
/// so that concurrent builds never see a partial entry. A failure only costs the next build.
fn store_model(cache: &Path, key: &str, out: &Path, rt_name: &str) {
    let tmp = cache.join(format!(".tmp-{key}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    if std::fs::create_dir_all(&tmp).is_err() {
        return;
    }
    let copied = model_files(rt_name)
        .iter()
        .all(|f| std::fs::copy(out.join(f), tmp.join(f)).is_ok());
    if !copied || std::fs::rename(&tmp, cache.join(key)).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
        return;
    }
    prune_cache(cache, key, rt_name);
}

/// Removes all but the `CACHE_KEEP` most recently used entries.
fn prune_cache(cache: &Path, keep: &str, rt_name: &str) {
    let first = &model_files(rt_name)[0];
    let Ok(dir) = std::fs::read_dir(cache) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n != keep && !n.to_string_lossy().starts_with('.'))
        })
        .map(|p| {
            let t = std::fs::metadata(p.join(first))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (t, p)
        })
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (_, p) in entries.into_iter().skip(CACHE_KEEP - 1) {
        let _ = std::fs::remove_dir_all(p);
    }
}

/// The generated pin structs: Rust (`repr(C)`) and C++, from `evnic_regs::pins::PINS`.
struct PinStructs {
    rust: String,
    cpp: String,
}

/// The C and Rust type of a pin, as Verilator stores it.
struct PinType {
    rust: String,
    c: &'static str,
    /// The C array suffix (`[n]`), empty for a scalar.
    c_suffix: String,
    size: usize,
    align: usize,
    /// The number of 32-bit words when an array.
    words: Option<usize>,
}

/// A pin of `width` bits: an 8/16/32/64-bit integer, or an array of 32-bit words for wider
/// ports.
fn pin_type(width: u32) -> PinType {
    let scalar = |rust: &str, c, size| PinType {
        rust: rust.into(),
        c,
        c_suffix: String::new(),
        size,
        align: size,
        words: None,
    };
    match width {
        0..=8 => scalar("u8", "uint8_t", 1),
        9..=16 => scalar("u16", "uint16_t", 2),
        17..=32 => scalar("u32", "uint32_t", 4),
        33..=64 => scalar("u64", "uint64_t", 8),
        _ => {
            let n = width.div_ceil(32) as usize;
            PinType {
                rust: format!("[u32; {n}]"),
                c: "uint32_t",
                c_suffix: format!("[{n}]"),
                size: 4 * n,
                align: 4,
                words: Some(n),
            }
        }
    }
}

fn pin_structs() -> PinStructs {
    use evnic_regs::pins::{Dir, PINS};
    use std::fmt::Write;
    let mut rust =
        String::from("// Generated by sim/build.rs from evnic_regs::pins::PINS; do not edit.\n\n");
    let mut cpp = String::from(
        "// Generated by sim/build.rs from evnic_regs::pins::PINS; do not edit.\n#pragma once\n#include <cstddef>\n#include <cstdint>\n\n",
    );
    let mut apply =
        String::from("static inline void evnic_apply(Vevnic* t, const EvnicIn* in) {\n");
    let mut sample =
        String::from("static inline void evnic_sample(const Vevnic* t, EvnicOut* o) {\n");
    for (dir, name, doc) in [
        (
            Dir::In,
            "EvnicIn",
            "Input pins of the model, driven by the simulator.",
        ),
        (
            Dir::Out,
            "EvnicOut",
            "Output pins of the model, sampled before each rising edge.",
        ),
    ] {
        // Widest alignment first: no padding, and the same layout in both languages.
        let mut pins: Vec<_> = PINS.iter().filter(|p| p.dir == dir).collect();
        pins.sort_by_key(|p| std::cmp::Reverse(pin_type(p.width).align));
        let _ = writeln!(
            rust,
            "/// {doc}\n#[repr(C)]\n#[derive(Clone, Copy, Debug, Default)]\npub struct {name} {{"
        );
        let _ = writeln!(cpp, "struct {name} {{");
        let mut offset = 0usize;
        let mut asserts = Vec::new();
        for p in &pins {
            let t = pin_type(p.width);
            let _ = writeln!(
                rust,
                "    /// {} ({} bits)\n    pub {}: {},",
                p.doc, p.width, p.name, t.rust
            );
            let _ = writeln!(cpp, "    {} {}{};", t.c, p.name, t.c_suffix);
            asserts.push((p.name, offset));
            let (src, dst, lines) = if dir == Dir::In {
                ("in", "t", &mut apply)
            } else {
                ("t", "o", &mut sample)
            };
            match t.words {
                None => {
                    let _ = writeln!(lines, "    {dst}->{0} = {src}->{0};", p.name);
                }
                Some(n) => {
                    let _ = writeln!(
                        lines,
                        "    for (int i = 0; i < {n}; i++) {dst}->{0}[i] = {src}->{0}[i];",
                        p.name
                    );
                }
            }
            offset += t.size;
        }
        let align = pins
            .iter()
            .map(|p| pin_type(p.width).align)
            .max()
            .unwrap_or(1);
        let size = offset.next_multiple_of(align);
        let _ = writeln!(rust, "}}\n");
        let _ = writeln!(
            rust,
            "const _: () = {{\n    assert!(std::mem::size_of::<{name}>() == {size});"
        );
        let _ = writeln!(cpp, "}};\nstatic_assert(sizeof({name}) == {size}, \"{name}: size differs from the Rust struct\");");
        for (field, off) in asserts {
            let _ = writeln!(
                rust,
                "    assert!(std::mem::offset_of!({name}, {field}) == {off});"
            );
            let _ = writeln!(cpp, "static_assert(offsetof({name}, {field}) == {off}, \"{name}.{field}: offset differs from the Rust struct\");");
        }
        rust.push_str("};\n\n");
        cpp.push('\n');
    }
    apply.push_str("}\n\n");
    sample.push_str("}\n");
    cpp.push_str("#ifdef EVNIC_PINS_WITH_MODEL\n");
    cpp.push_str(&apply);
    cpp.push_str(&sample);
    cpp.push_str("#endif\n");
    PinStructs { rust, cpp }
}

/// Instruction-set flags for the model's C++, for a model built for the machine that builds it
/// (the model is part of the cache key): `-mpopcnt` where the CPU has it, so that the CRC
/// engines' parity reductions (Verilator's `VL_REDXOR`, a few percent of an idle cycle) are
/// one instruction each (callgrind, idle core: 25.3k host instructions per cycle without, 24.3k
/// with).
fn cpu_flags() -> Vec<&'static str> {
    let target = std::env::var("TARGET").unwrap_or_default();
    let native = std::env::var("HOST").is_ok_and(|h| h == target);
    let mut flags = Vec::new();
    #[cfg(target_arch = "x86_64")]
    if native && target.starts_with("x86_64") && std::arch::is_x86_feature_detected!("popcnt") {
        flags.push("-mpopcnt");
    }
    let _ = native;
    flags
}

fn base_build(include: &Path, defines: &[(&str, &str)]) -> cc::Build {
    let mut b = cc::Build::new();
    b.cpp(true)
        .std("c++17")
        .include(include)
        .include(include.join("vltstd"))
        .opt_level(2)
        .debug(false)
        .warnings(false)
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-fcf-protection=none")
        .flag_if_supported("-Wno-unused-parameter");
    for f in cpu_flags() {
        b.flag(f);
    }
    for (k, v) in defines {
        b.define(k, Some(*v));
    }
    b
}
