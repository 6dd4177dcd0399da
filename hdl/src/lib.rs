//! The evnic device in RustHDL: one block per module, each file's doc comment giving its ports,
//! its contract and its timing in cycles. [`core::EvnicCore`] is the top.
//!
//! Conventions: every block has `clock` and a synchronous, active-high `reset` (RustHDL has
//! none of its own); streams transfer a beat when `valid && ready`; register offsets and the
//! event format come from `evnic-regs`, never written here.

pub mod board;
pub mod core;
pub mod crc;
pub mod event_engine;
pub mod event_pack;
pub mod event_path;
pub mod evq;
pub mod exact;
pub mod fcs_check;
pub mod fifo;
pub mod filter;
pub mod global_regs;
pub mod hit_counters;
pub mod multicast;
pub mod parser;
pub mod ram;
pub mod ram_fifo;
pub mod regbus;
pub mod rx;
pub mod rx_deliver;
pub mod rx_frames;
pub mod rx_regs;
pub mod rx_ring;
pub mod shell;
pub mod tcam;
pub mod timers;
pub mod tx;
pub mod tx_ring;
pub mod tx_stream;
pub mod wake_fifo;

use rust_hdl::prelude::*;

/// Builds a `Constant` from a `u64`, for register offsets, limits and field values taken from
/// `evnic-regs`.
pub(crate) fn konst<const N: usize>(v: u64) -> Constant<Bits<N>> {
    Constant::new(v.into())
}

/// The Verilog of the whole core (module `top`), as Verilator and Yosys consume it.
pub fn verilog() -> String {
    let mut uut = core::EvnicCore::default();
    uut.connect_all();
    generate_verilog(&uut)
}

/// The sub-blocks that [`block_verilog`] writes as module `top` (`gen-verilog --top
/// block:NAME`, `make timing BLOCK=NAME`), each at the core's parameters, with what it is.
pub const BLOCKS: &[(&str, &str)] = &[
    ("rx", "the receive path (rx::RxPath)"),
    ("parser", "the receive parser (parser::Parser)"),
    ("fcs", "the receive FCS checker (fcs_check::FcsCheck)"),
    (
        "filter",
        "the filter: ternary and exact-match tables (filter::Filter)",
    ),
    ("tcam", "the ternary table (filter::FilterTcam)"),
    ("exact0", "exact-match table of profile 0 (filter::Exact0)"),
    ("rx_regs", "the receive registers (rx_regs::RxRegs)"),
    (
        "rx_frames",
        "the receive frames in flight (rx_frames::RxFrames)",
    ),
    ("rx_rings", "the receive rings (rx_ring::RxRings)"),
    ("rx_deliver", "the receive delivery (rx_deliver::RxDeliver)"),
    ("tx", "the transmit path (tx::TxPath)"),
    ("tx_rings", "the transmit rings (tx_ring::TxRings)"),
    ("tx_stream", "the transmit stream (tx_stream::TxStream)"),
    (
        "event_engine",
        "the event engine (event_engine::CoreEventEngine)",
    ),
    ("evq", "the event queue update (evq::EvqUpdate)"),
    (
        "event_path",
        "the multicast and the event engine joined (event_path::EventPath)",
    ),
    (
        "multicast",
        "the multicast groups (multicast::CoreMulticast)",
    ),
    ("timers", "the timers (timers::CoreTimers)"),
    ("regbus", "the register bus (regbus::RegBus)"),
    ("global", "the global page (global_regs::GlobalRegs)"),
    ("event_pack", "the event packer (event_pack::EventPack)"),
];

fn block_top<B: Block + Default>() -> String {
    block_of(B::default())
}

fn block_of<B: Block>(mut uut: B) -> String {
    uut.connect_all();
    generate_verilog(&uut)
}

/// `verilog` (a design whose top module is `top`, with a `clock` input) with every other port
/// of `top` behind a flip-flop: the design is renamed `top$ports` and a new `top` registers
/// each input on its way in and each output on its way out. Out of context, nextpnr does not
/// time paths from and to a module's ports; behind registers those paths are timed as if the
/// block's neighbours were flip-flops next to it (`make timing BLOCK=NAME PORTS=registered`),
/// which shows a block's part of a path that crosses blocks (a `ready` that feeds a long chain,
/// say) without placing the whole core. `None` when `top` or its `clock` is not there.
pub fn with_registered_ports(verilog: &str) -> Option<String> {
    let ports = evnic_regs::pins::module_ports(verilog, "top")?;
    if !ports.iter().any(|p| p.name == "clock") {
        return None;
    }
    let renamed = verilog.replacen("module top(", "module top$ports(", 1);
    if renamed == verilog {
        return None;
    }
    let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
    let mut top = format!("\nmodule top({});\n", names.join(","));
    let mut conns = Vec::new();
    for p in &ports {
        let r = evnic_regs::pins::verilog_range(p.width);
        let n = &p.name;
        if n == "clock" {
            top += "    input wire clock;\n";
            conns.push(".clock(clock)".to_string());
            continue;
        }
        match p.dir {
            evnic_regs::pins::Dir::In => {
                top += &format!(
                    "    input wire {r}{n};\n    reg {r}{n}$q;\n    always @(posedge clock) {n}$q <= {n};\n"
                );
                conns.push(format!(".{n}({n}$q)"));
            }
            evnic_regs::pins::Dir::Out => {
                top += &format!(
                    "    output reg {r}{n};\n    wire {r}{n}$d;\n    always @(posedge clock) {n} <= {n}$d;\n"
                );
                conns.push(format!(".{n}({n}$d)"));
            }
        }
    }
    top += &format!("    top$ports block({});\nendmodule\n", conns.join(", "));
    Some(renamed + &top)
}

/// The Verilog of one sub-block of the core as module `top` (its ports the module's), at the
/// core's parameters, for per-block synthesis and timing; `None` for a name not in [`BLOCKS`].
pub fn block_verilog(name: &str) -> Option<String> {
    use rx::{CACHE_BITS, NV, SLOTS, SLOT_BITS, VI_BITS};
    Some(match name {
        "rx" => block_top::<rx::RxPath>(),
        "parser" => block_top::<parser::Parser>(),
        "fcs" => block_top::<fcs_check::FcsCheck>(),
        "filter" => block_top::<filter::Filter>(),
        "tcam" => block_top::<filter::FilterTcam>(),
        "exact0" => block_of(filter::Exact0::new(evnic_regs::exact::PROFILES[0].words)),
        "rx_regs" => block_top::<rx_regs::RxRegs>(),
        "rx_frames" => block_top::<rx_frames::RxFrames<SLOTS, SLOT_BITS>>(),
        "rx_rings" => block_top::<rx_ring::RxRings<NV, VI_BITS, CACHE_BITS>>(),
        "rx_deliver" => block_top::<rx_deliver::RxDeliver<VI_BITS>>(),
        "tx" => block_top::<tx::TxPath>(),
        "tx_rings" => block_top::<tx_ring::TxRings<{ regbus::ADDR_BITS }, { tx::VI_BITS }>>(),
        "tx_stream" => block_top::<tx_stream::TxStream>(),
        "event_engine" => block_top::<event_engine::CoreEventEngine>(),
        "evq" => block_top::<evq::EvqUpdate>(),
        "event_path" => block_top::<event_path::EventPath>(),
        "multicast" => block_top::<multicast::CoreMulticast>(),
        "timers" => block_top::<timers::CoreTimers>(),
        "regbus" => block_top::<regbus::RegBus>(),
        "global" => block_top::<global_regs::GlobalRegs>(),
        "event_pack" => block_top::<event_pack::EventPack>(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use evnic_regs::pins::module_ports;

    /// The wrapper has the block's ports, each but `clock` behind one flip-flop, and Verilator
    /// lints it clean.
    #[test]
    fn registered_ports_keep_the_ports_and_register_each() {
        let plain = block_verilog("global").unwrap();
        let wrapped = with_registered_ports(&plain).unwrap();
        let ports = module_ports(&plain, "top").unwrap();
        let outer: Vec<String> = module_ports(&wrapped, "top")
            .unwrap()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            outer,
            ports.iter().map(|p| p.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(
            module_ports(&wrapped, "top$ports").unwrap().len(),
            ports.len()
        );
        for p in ports.iter().filter(|p| p.name != "clock") {
            let reg = match p.dir {
                evnic_regs::pins::Dir::In => format!("{0}$q <= {0};", p.name),
                evnic_regs::pins::Dir::Out => format!("{0} <= {0}$d;", p.name),
            };
            assert_eq!(wrapped.matches(&reg).count(), 1, "{reg}");
        }
        crate::crc::tests::verilator_lint("registered_ports", &wrapped);
        assert!(with_registered_ports("module other(a);\n input wire a;\nendmodule\n").is_none());
    }
}
