//! The model's pins: every port of the core's top-level Verilog module (`top`) but its clock,
//! with direction and width, in one table.
//!
//! The simulator's build script generates from [`PINS`] the C structs its C++ shim fills from
//! the Verilated model and the `repr(C)` Rust structs that mirror them, with size and offset
//! assertions on both sides, and checks the generated Verilog's `top` ports against the table
//! ([`check_module`]): a port added, removed, renamed or resized in the RTL without the table
//! stops the build with a message naming it.
//!
//! Widths that follow from the register map or the event format are written with its
//! constants, so that the table follows the map.

use std::fmt;

/// Which way a pin points, seen from the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Driven by the surroundings (the simulator), read by the core.
    In,
    /// Driven by the core.
    Out,
}

impl Dir {
    /// `input` or `output`, as Verilog writes it.
    pub fn verilog(self) -> &'static str {
        match self {
            Dir::In => "input",
            Dir::Out => "output",
        }
    }
}

/// One port of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pin {
    /// Port name in the Verilog, and field name in the generated structs.
    pub name: &'static str,
    /// Direction.
    pub dir: Dir,
    /// Width in bits.
    pub width: u32,
    /// What it carries.
    pub doc: &'static str,
}

/// Name of the clock port: driven by the shim itself, so not part of [`PINS`].
pub const CLOCK: &str = "clock";

const fn pin(name: &'static str, dir: Dir, width: u32, doc: &'static str) -> Pin {
    Pin {
        name,
        dir,
        width,
        doc,
    }
}

use Dir::{In, Out};

const BAR_ADDR: u32 = crate::map::BAR_ADDR_BITS;
const KEY: u32 = crate::key::KEY_BITS;
const EV_TYPE: u32 = crate::event::w0::TYPE.1;
const EV_GROUP: u32 = crate::event::w1::GROUP.1;
const EV_SOURCE: u32 = crate::event::w0::SOURCE.1;
const EV_FLAGS: u32 = crate::event::w0::FLAGS.1;
const ACTION: u32 = crate::map::filter::ENTRY_ACTION.width;

/// Every port of `top` but [`CLOCK`], in the order of the Verilog module.
pub const PINS: &[Pin] = &[
    pin("reset", In, 1, "Synchronous reset, active high."),
    pin("bar_req_valid", In, 1, "BAR0 request valid."),
    pin("bar_req_ready", Out, 1, "BAR0 request taken."),
    pin("bar_req_write", In, 1, "The request is a write."),
    pin("bar_req_addr", In, BAR_ADDR, "Byte offset in BAR0."),
    pin("bar_req_wdata", In, 32, "Write data."),
    pin("bar_req_strb", In, 4, "Write byte strobes."),
    pin("bar_rsp_valid", Out, 1, "Response (one per request)."),
    pin("bar_rsp_rdata", Out, 32, "Read data of the response."),
    pin("dmaw_valid", Out, 1, "DMA write beat valid."),
    pin("dmaw_ready", In, 1, "DMA write beat taken."),
    pin("dmaw_addr", Out, 64, "DMA write address (16-byte aligned)."),
    pin("dmaw_data", Out, 128, "DMA write data, 16 bytes."),
    pin("dmaw_strb", Out, 16, "DMA write byte strobes."),
    pin("dmar_req_valid", Out, 1, "DMA read request valid."),
    pin("dmar_req_ready", In, 1, "DMA read request taken."),
    pin(
        "dmar_req_addr",
        Out,
        64,
        "DMA read address (16-byte aligned).",
    ),
    pin("dmar_req_tag", Out, 8, "DMA read request tag."),
    pin("dmar_rsp_valid", In, 1, "DMA read response valid."),
    pin("dmar_rsp_tag", In, 8, "Tag of the response."),
    pin("dmar_rsp_data", In, 128, "16 bytes read."),
    pin("dmar_rsp_err", In, 1, "The read was refused (IOMMU fault)."),
    pin(
        "rx_data",
        In,
        64,
        "MAC receive beat (byte 0 first on the wire).",
    ),
    pin("rx_keep", In, 8, "Valid bytes of the beat, from byte 0."),
    pin("rx_valid", In, 1, "Receive beat valid."),
    pin("rx_ready", Out, 1, "Receive beat taken."),
    pin("rx_last", In, 1, "Last beat of a frame."),
    pin("rx_err", In, 1, "MAC error, on the last beat."),
    pin("tx_data", Out, 64, "MAC transmit beat."),
    pin("tx_keep", Out, 8, "Valid bytes of the beat."),
    pin("tx_valid", Out, 1, "Transmit beat valid."),
    pin("tx_ready", In, 1, "Transmit beat taken."),
    pin("tx_last", Out, 1, "Last beat of a frame."),
    pin("irq", Out, 1, "Interrupt: a one-cycle pulse each."),
    pin("dsi_valid", In, 1, "Device-space indication valid."),
    pin("dsi_ready", Out, 1, "Device-space indication taken."),
    pin("dsi_group", In, EV_GROUP, "Group of the indication."),
    pin("dsi_payload", In, 32, "Payload of the indication."),
    pin("dso_valid", Out, 1, "Device-space notification valid."),
    pin("dso_kind", Out, EV_TYPE, "Event type of the notification."),
    pin("dso_group", Out, EV_GROUP, "Its group."),
    pin("dso_source", Out, EV_SOURCE, "Its source."),
    pin("dso_payload", Out, 32, "Its payload."),
    pin(
        "dbg_valid",
        Out,
        1,
        "A received frame's outcome is on the debug port (in the same order as the keys).",
    ),
    pin(
        "dbg_key_valid",
        Out,
        1,
        "A received frame's key is on `dbg_key` (one pulse per frame, in frame order).",
    ),
    pin(
        "dbg_key",
        Out,
        KEY,
        "The frame's filter key, valid with `dbg_key_valid`.",
    ),
    pin("dbg_flags", Out, EV_FLAGS, "Its RX flags."),
    pin("dbg_len", Out, 16, "Its length (FCS included)."),
    pin("dbg_hit", Out, 1, "A filter entry matched."),
    pin(
        "dbg_filter",
        Out,
        EV_SOURCE,
        "The matching entry's number (`map::filter::EntryIndex`), as in an RX event's source.",
    ),
    pin("dbg_action", Out, ACTION, "The action word decided."),
    pin(
        "dbg_ram_collision",
        Out,
        1,
        "A RAM was read at the address written in the same cycle (an RTL bug).",
    ),
];

/// Renders the pin table as Markdown for `docs/registers.md`.
pub fn render_markdown() -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "## Model pins

The ports of the core's top-level module `top` (and `clock`), as the \
         simulator's structs are generated from them.

| port | direction | bits | description |\n\
         |---|---|---:|---|\n",
    );
    for p in PINS {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            p.name,
            p.dir.verilog(),
            p.width,
            p.doc
        );
    }
    out.push('\n');
    out
}

/// A port as a Verilog module declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// Port name.
    pub name: String,
    /// Direction.
    pub dir: Dir,
    /// Width in bits.
    pub width: u32,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}] {}", self.dir.verilog(), self.width, self.name)
    }
}

/// The range of a Verilog declaration of `width` bits, with its trailing space (`"[7:0] "`),
/// empty for one bit.
pub fn verilog_range(width: u32) -> String {
    if width == 1 {
        String::new()
    } else {
        format!("[{}:0] ", width - 1)
    }
}

/// The ports of `module` as declared in `verilog` (`input`/`output` lines between the
/// module's header and its `endmodule`, one declaration per line as RustHDL and Yosys write
/// them), in declaration order. `None` when the module is not there.
pub fn module_ports(verilog: &str, module: &str) -> Option<Vec<Port>> {
    let mut lines = verilog.lines();
    let header = format!("module {module}(");
    let header_sp = format!("module {module} (");
    lines.find(|l| {
        let t = l.trim_start();
        t.starts_with(&header) || t.starts_with(&header_sp)
    })?;
    let mut ports = Vec::new();
    for line in lines {
        let t = line.trim();
        if t.starts_with("endmodule") {
            break;
        }
        let (dir, rest) = if let Some(r) = t.strip_prefix("input ") {
            (Dir::In, r)
        } else if let Some(r) = t.strip_prefix("output ") {
            (Dir::Out, r)
        } else {
            continue;
        };
        let rest = rest.trim_end_matches(';').trim();
        let rest = rest
            .strip_prefix("wire")
            .or_else(|| rest.strip_prefix("reg"))
            .unwrap_or(rest)
            .trim();
        let (width, name) = match rest.strip_prefix('[') {
            Some(r) => {
                let (range, name) = r.split_once(']')?;
                let (hi, lo) = range.split_once(':')?;
                let hi: u32 = hi.trim().parse().ok()?;
                let lo: u32 = lo.trim().parse().ok()?;
                (hi.abs_diff(lo) + 1, name.trim())
            }
            None => (1, rest),
        };
        ports.push(Port {
            name: name.to_string(),
            dir,
            width,
        });
    }
    Some(ports)
}

/// Checks the ports of `module` in `verilog` against [`PINS`] plus [`CLOCK`]: the same names,
/// directions and widths. The error lists every difference.
pub fn check_module(verilog: &str, module: &str) -> Result<(), String> {
    let ports = module_ports(verilog, module)
        .ok_or_else(|| format!("no module `{module}` in the Verilog"))?;
    let mut problems = Vec::new();
    for p in &ports {
        if p.name == CLOCK {
            if (p.dir, p.width) != (Dir::In, 1) {
                problems.push(format!("`{p}`: the clock must be a 1-bit input"));
            }
            continue;
        }
        match PINS.iter().find(|q| q.name == p.name) {
            None => problems.push(format!("`{p}` is not in the pin table")),
            Some(q) if q.dir != p.dir || q.width != p.width => problems.push(format!(
                "`{p}`: the pin table says {} [{}]",
                q.dir.verilog(),
                q.width
            )),
            Some(_) => {}
        }
    }
    if !ports.iter().any(|p| p.name == CLOCK) {
        problems.push(format!("no `{CLOCK}` port"));
    }
    for q in PINS {
        if !ports.iter().any(|p| p.name == q.name) {
            problems.push(format!(
                "`{} [{}] {}` of the pin table is not a port",
                q.dir.verilog(),
                q.width,
                q.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the ports of `{module}` differ from evnic_regs::pins::PINS (update the table with the RTL):\n  {}",
            problems.join("\n  ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(extra: &str) -> String {
        let mut v = String::from("module top(clock,reset);\n    input wire  clock;\n");
        for p in PINS {
            let range = verilog_range(p.width);
            let kind = if p.dir == Dir::In { "wire" } else { "reg" };
            v += &format!("    {} {kind}  {range}{};\n", p.dir.verilog(), p.name);
        }
        v += extra;
        v += "    wire [3:0] inner;\nendmodule // top\nmodule top$x(a);\n    input wire [9:0] a;\nendmodule\n";
        v
    }

    #[test]
    fn names_are_unique_and_widths_positive() {
        let mut seen = std::collections::HashSet::new();
        for p in PINS {
            assert!(seen.insert(p.name), "{} twice", p.name);
            assert!(p.width > 0, "{}", p.name);
            assert_ne!(p.name, CLOCK);
        }
    }

    #[test]
    fn a_matching_module_passes_and_each_difference_is_named() {
        assert_eq!(check_module(&sample(""), "top"), Ok(()));
        let ports = module_ports(&sample(""), "top").unwrap();
        assert_eq!(ports.len(), PINS.len() + 1, "the inner module is not read");
        let e = check_module(&sample("    output reg  [2:0] surprise;\n"), "top").unwrap_err();
        assert!(
            e.contains("`output [3] surprise` is not in the pin table"),
            "{e}"
        );
        let resized = sample("").replace("[415:0] dbg_key", "[511:0] dbg_key");
        let e = check_module(&resized, "top").unwrap_err();
        assert!(
            e.contains("dbg_key") && e.contains("says output [416]"),
            "{e}"
        );
        let missing = sample("").replace("    output reg  irq;\n", "");
        let e = check_module(&missing, "top").unwrap_err();
        assert!(
            e.contains("`output [1] irq` of the pin table is not a port"),
            "{e}"
        );
        assert!(check_module(&sample(""), "nope").is_err());
    }
}
