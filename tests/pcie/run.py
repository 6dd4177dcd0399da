"""Builds the shell's Verilog with Icarus Verilog and runs the cocotb tests of test_shell.py
against it; prints one line per test with its simulated cycles, wall time and cycles per
second, then "N passed, N failed".

    run.py VERILOG REGISTERS_JSON BUILD_DIR [TESTCASE...]
"""

import os
import resource
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from cocotb_tools.runner import get_runner

def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    verilog, registers, build_dir = (Path(a).resolve() for a in sys.argv[1:4])
    testcases = sys.argv[4:] or None
    here = Path(__file__).resolve().parent
    for p in (verilog, registers):
        if not p.exists():
            sys.exit(f"run.py: {p} is missing (make test-pcie generates it)")
    stats = build_dir / "cycles.txt"
    build_dir.mkdir(parents=True, exist_ok=True)
    stats.unlink(missing_ok=True)
    runner = get_runner("icarus")
    t0 = time.monotonic()
    runner.build(
        sources=[verilog],
        hdl_toplevel="top",
        build_dir=build_dir,
        timescale=("1ns", "1ps"),
        always=True,
    )
    built = time.monotonic() - t0
    results = runner.test(
        test_module="test_shell",
        hdl_toplevel="top",
        build_dir=build_dir,
        test_dir=here,
        testcase=testcases,
        extra_env={
            "EVNIC_REGISTERS_JSON": str(registers),
            "EVNIC_PCIE_STATS": str(stats),
            "PYTHONPATH": str(here) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        },
        results_xml=str(build_dir / "results.xml"),
    )
    wall = time.monotonic() - t0
    measured = {}
    if stats.exists():
        for line in stats.read_text().splitlines():
            name, cycles, cpu = line.split()
            measured[name] = (int(cycles), float(cpu))
    passed = failed = 0
    totals = [0, 0.0, 0.0]
    # Cycles per CPU second is the simulator's speed; wall time depends on the machine's load.
    print(f"\n{'test':38} {'cycles':>7} {'CPU s':>7} {'wall s':>7} {'cycles/CPU s':>13}")
    for case in ET.parse(results).getroot().iter("testcase"):
        ok = case.find("failure") is None and case.find("error") is None
        passed += ok
        failed += not ok
        cycles, cpu = measured.get(case.get("name"), (0, 0.0))
        secs = float(case.get("time", "0"))
        for i, v in enumerate((cycles, cpu, secs)):
            totals[i] += v
        rate = cycles / cpu if cpu else 0
        print(f"{case.get('name'):38} {cycles:7} {cpu:7.1f} {secs:7.1f} {rate:13.0f}  {'ok' if ok else 'FAILED'}")
    rate = totals[0] / totals[1] if totals[1] else 0
    print(f"{'all':38} {totals[0]:7} {totals[1]:7.1f} {totals[2]:7.1f} {rate:13.0f}")
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"Icarus build {built:.1f} s wall; build and run {wall:.1f} s wall, {child.ru_utime + child.ru_stime:.1f} s CPU")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
