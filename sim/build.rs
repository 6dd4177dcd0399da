//! Generates the core's Verilog from the RustHDL design, flattens and optimises it with Yosys,
//! verilates it and compiles the model with the C++ shim in `csrc/`. Verilator's runtime is
//! compiled once per Verilator version and reused across design changes.
//!
//! Why Yosys first: RustHDL writes one module per block instance with one `always @(*)` per
//! module and one module per DFF. Verilator then sees false combinational loops between blocks
//! (parent drives a child's inputs and reads its outputs in one always block) and evaluates
//! whole blocks as units, re-running them until they settle. Flattening to one module of
//! bit-level cells (`proc; flatten`), merging equal logic and turning `q <= en ? d : q` into
//! enable flip-flops (`opt`), trimming widths (`wreduce`) and keeping memories as arrays
//! (`memory -nomap`) leaves Verilator less to evaluate per cycle (+17% cycles/s; the rest of
//! the cost is the amount of logic itself). The result is the same synchronous logic: the
//! tests check exact cycle counts. See README "Simulation speed".

use std::path::{Path, PathBuf};
use std::process::Command;

const VERILATOR_FLAGS: &[&str] = &[
    "--cc",
    "--trace",
    "-O3",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "-Wno-WIDTH",
    "-Wno-DECLFILENAME",
    // After flattening, a few wide vectors remain whose bits feed one another (e.g. a 64-bit
    // timestamp assembled from slices): a speed note at vector granularity, not a loop.
    "-Wno-UNOPTFLAT",
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

    // 1. Verilog from the RustHDL design.
    let rtl = out.join("evnic.v");
    std::fs::write(&rtl, evnic_hdl::verilog()).expect("write Verilog");

    // 1b. Flatten and optimise it with Yosys (see the top of this file).
    let verilog = out.join("evnic_flat.v");
    if tool_output("yosys", &["-V"]).is_none() {
        fail("yosys not found; the simulator flattens the generated Verilog with Yosys before Verilator. Run `make deps` (installs it with apt-get) or `apt-get install yosys`");
    }
    let script = format!(
        "read_verilog -sv {}; hierarchy -check -top top; {}; write_verilog -noattr {}",
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

    // 2. Verilate.
    let mdir = out.join("vobj");
    let _ = std::fs::remove_dir_all(&mdir);
    let status = Command::new("verilator")
        .args(VERILATOR_FLAGS)
        .arg("--Mdir")
        .arg(&mdir)
        .arg(&verilog)
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run verilator: {e}")));
    if !status.success() {
        fail("verilator rejected the generated Verilog (see the messages above)");
    }

    // 3. Verilator's runtime, once per Verilator version.
    let tag: String = version
        .split_whitespace()
        .nth(1)
        .unwrap_or("unknown")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let rt_name = format!("verilated_rt_{}", tag.replace('.', "_"));
    let rt_lib = out.join(format!("lib{rt_name}.a"));
    let defines = [
        ("VM_TRACE", "1"),
        ("VM_TRACE_VCD", "1"),
        ("VM_COVERAGE", "0"),
        ("VM_SC", "0"),
    ];
    if !rt_lib.exists() {
        let mut b = base_build(&include, &defines);
        for f in [
            "verilated.cpp",
            "verilated_vcd_c.cpp",
            "verilated_threads.cpp",
        ] {
            b.file(include.join(f));
        }
        b.out_dir(&out).cargo_metadata(false).compile(&rt_name);
    }

    // 4. The model and the shim.
    let mut b = base_build(&include, &defines);
    b.include(&mdir).file("csrc/shim.cpp");
    for entry in std::fs::read_dir(&mdir).expect("read verilator output") {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "cpp") {
            b.file(p);
        }
    }
    b.compile("evnic_model");
    // After the model: a static library must follow the one that uses it.
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static={rt_name}");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=pthread");
    println!("cargo:rustc-env=EVNIC_VERILATOR_VERSION={}", version.trim());
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
    for (k, v) in defines {
        b.define(k, Some(*v));
    }
    b
}
