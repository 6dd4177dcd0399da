# evnic entry points. `make run` and `make test` install what they need (Verilator, Yosys,
# QEMU come from Debian's packages; Rust crates through cargo).

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VERILOG := target/verilog/evnic.v
# UNOPTFLAT: RustHDL writes one always block per module, which Verilator sees as a false
# combinational loop between blocks wired both ways (valid/ready); it is a speed note, not a loop.
LINT_FLAGS := -Wall -Wno-WIDTH -Wno-DECLFILENAME -Wno-UNUSEDSIGNAL -Wno-UNUSEDPARAM -Wno-UNOPTFLAT

.PHONY: run test test-unit test-user test-loom test-vm test-pcie pcie-deps shell-verilog verilog lint fpga-tools synth timing bitstream synth-check bench profile-model docs check-docs deps fmt fmt-check clippy fuzz

## The main job: the demo on the simulated device (the captured frames go to target/demo.pcap).
run: deps
	$(CARGO) run --release -p evnic-cli -- info
	$(CARGO) run --release -p evnic-cli -- demo --pcap target/demo.pcap

## Every test: formatting, unit, Verilator-model and end-to-end tests, the library as a user's
## dependency, the lease lock under loom, clippy, lint, synthesis, docs freshness, the VFIO VM test.
test: deps fmt-check test-unit test-user test-loom clippy lint synth-check check-docs test-vm

test-unit: deps
	$(CARGO) build --release -p evnic-cli
	$(CARGO) test --workspace --release

## A fresh crate on evnic's default features builds without Verilator and Yosys; the README's
## library example builds and runs with the sim feature.
test-user: deps
	bash tests/e2e/user-crate.sh

## The lease lock under the loom model checker (its own target dir: --cfg loom rebuilds all).
test-loom:
	RUSTFLAGS="--cfg loom" $(CARGO) test --release -p evnic-lease --test loom --target-dir target/loom

test-vm:
	bash tests/vm/run.sh

## The PCIe shell and the core in Icarus Verilog, inside cocotbext-pcie's model of the
## UltraScale+ PCIe hard block, driven by its root complex (tests/pcie).
PCIE_VENV := target/pcie-venv
SHELL_VERILOG := target/verilog/evnic_shell.v
SHELL_FLAT := target/verilog/evnic_shell_flat.v
REGISTERS_JSON := target/registers.json
PYTHON3 ?= /usr/bin/python3

test-pcie: pcie-deps $(PCIE_VENV)/.installed shell-verilog $(SHELL_FLAT)
	$(CARGO) run -q -p evnic-regs --bin gen-docs -- --json $(REGISTERS_JSON)
	$(PCIE_VENV)/bin/python tests/pcie/run.py $(SHELL_FLAT) $(REGISTERS_JSON) target/pcie-sim

## Icarus Verilog, Yosys and Python's venv from Debian's packages when missing.
pcie-deps:
	@command -v iverilog >/dev/null && command -v yosys >/dev/null && $(PYTHON3) -c "import ensurepip" 2>/dev/null || { \
	  echo "installing iverilog, yosys and python3-venv with apt-get"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog yosys python3-venv; }

$(PCIE_VENV)/.installed: tests/pcie/requirements.txt
	$(PYTHON3) -m venv $(PCIE_VENV)
	$(PCIE_VENV)/bin/pip install -q -r tests/pcie/requirements.txt
	@touch $@

## The shell's Verilog; rewritten only when it changes, so the flattening below reruns only then.
shell-verilog:
	$(CARGO) run --release -q -p evnic-hdl --bin gen-verilog -- --top pcie-shell $(SHELL_VERILOG).new
	@cmp -s $(SHELL_VERILOG).new $(SHELL_VERILOG) && rm $(SHELL_VERILOG).new || mv $(SHELL_VERILOG).new $(SHELL_VERILOG)

## Flattened and optimised by Yosys for Icarus (as the simulator does for Verilator).
$(SHELL_FLAT): $(SHELL_VERILOG) sim/flatten.yosys
	yosys -q -l target/verilog/evnic_shell_flat.log -p "read_verilog -sv $<; hierarchy -check -top top; $$(cat sim/flatten.yosys); write_verilog -noattr $@"

## Installs Verilator, Yosys, tshark and strace (the hub test counts a client's system calls
## with it) from Debian's packages when they are missing.
deps:
	@command -v verilator >/dev/null && command -v yosys >/dev/null && command -v tshark >/dev/null && command -v strace >/dev/null || { \
	  echo "installing verilator, yosys, tshark and strace with apt-get"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq verilator yosys tshark strace; }

verilog:
	$(CARGO) run --release -q -p evnic-hdl --bin gen-verilog -- $(VERILOG)

lint: deps verilog
	verilator --lint-only $(LINT_FLAGS) --top-module top $(VERILOG)
	@echo "lint: verilator --lint-only clean"

## The open ECP5 flow: YoWASP Yosys and nextpnr, pinned in bitstreams/fpga-requirements.txt, in a
## venv under target/ made on first use (and again when the pins change); FPGA_VENV=DIR uses another.
FPGA_VENV ?= target/fpga-venv
FPGA_STAMP := $(FPGA_VENV)/.installed
# Board builds: BOARD names a top of hdl/src/board (gen-verilog --top) and its constraints.
BOARD ?= ecp5-evn-regs
LPF_ecp5-evn := bitstreams/boards/ecp5-evn.lpf
LPF_ecp5-evn-regs := bitstreams/boards/ecp5-evn.lpf

fpga-tools: $(FPGA_STAMP)

## The stamp is a copy of the requirements it installed: a requirements file that is only newer
## (another checkout's, a fresh clone's) leaves an installed venv alone instead of rebuilding it
## (FPGA_VENV may be shared between worktrees).
$(FPGA_STAMP): bitstreams/fpga-requirements.txt
	@if cmp -s bitstreams/fpga-requirements.txt $@; then touch $@; exit 0; fi; \
	python3 -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "installing python3-venv with apt-get"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }; \
	set -e; rm -rf $(FPGA_VENV); python3 -m venv $(FPGA_VENV); \
	$(FPGA_VENV)/bin/pip install -q --disable-pip-version-check -r bitstreams/fpga-requirements.txt; \
	cp bitstreams/fpga-requirements.txt $@

## The core placed and routed for LFE5UM5G-85F at 156.25 MHz, out of context; figures in
## bitstreams/reports/ (ecp5.json). Exits non-zero, with the figures, if it does not fit.
synth: fpga-tools verilog
	SUMMARY=ecp5.json bash bitstreams/ecp5_flow.sh core $(VERILOG) target/synth

## Per-block timing: one sub-block of the core (BLOCK=NAME, or several names; `gen-verilog
## --blocks` lists them) as `top`, placed and routed out of context like `make synth`; work
## files and full reports in target/timing/, the summary (Fmax, critical path) committed as
## bitstreams/reports/block-NAME.json. Exits non-zero if a block did not place.
## PORTS=registered puts every port of the block behind a flip-flop, so that the paths from and
## to its ports are timed too (summary block-NAME-registered.json).
timing: fpga-tools
	@[ -n "$(BLOCK)" ] || { echo "usage: make timing BLOCK=NAME [PORTS=registered] (names: gen-verilog --blocks)"; exit 2; }
	@case "$(PORTS)" in ""|registered) ;; *) echo "make timing: PORTS is empty or registered"; exit 2;; esac
	@status=0; for b in $(BLOCK); do \
	  n=$$b$(if $(PORTS),-registered,); \
	  $(CARGO) run --release -q -p evnic-hdl --bin gen-verilog -- --top block:$$b $(if $(PORTS),--registered-ports,) target/timing/$$n.v || exit 2; \
	  ECP5_REPORTS=target/timing/reports SUMMARY=block-$$n.json \
	    bash bitstreams/ecp5_flow.sh block-$$n target/timing/$$n.v target/timing/$$n || status=1; \
	  [ -f target/timing/reports/block-$$n.json ] && cp target/timing/reports/block-$$n.json bitstreams/reports/; \
	done; exit $$status

## A bitstream for a board: make bitstream BOARD=ecp5-evn-regs (or ecp5-evn: the whole core).
bitstream: fpga-tools
	@[ -n "$(LPF_$(BOARD))" ] || { echo "unknown BOARD $(BOARD): ecp5-evn, ecp5-evn-regs"; exit 2; }
	$(CARGO) run --release -q -p evnic-hdl --bin gen-verilog -- --top $(BOARD) target/verilog/$(BOARD).v
	bash bitstreams/ecp5_flow.sh $(BOARD) target/verilog/$(BOARD).v target/bitstream $(LPF_$(BOARD))

## The synthesis check of `make test`: Yosys' generic synthesis through its coarse stage.
synth-check: deps verilog
	@mkdir -p target/synth
	yosys -q -l target/synth/check.log bitstreams/synth_check.ys
	@grep -E "Number of cells" target/synth/check_stat.txt | sed 's/^ */synth-check: /'


bench: deps
	$(CARGO) bench -p evnic-sim --bench device --bench events --bench rx --bench tx
	$(CARGO) bench -p evnic --features sim --bench wait --bench filters
	$(CARGO) bench -p evnic-lease --bench lease
	$(CARGO) bench -p evnic --features sim,tokio --bench event_loops
	$(CARGO) build --release -p evnic-cli
	$(CARGO) bench -p evnic-e2e --bench hub

## Host instructions per idle simulated cycle (callgrind over sim/profile/idle.cpp, linked with
## the model the last release build of evnic-sim made).
PROFILE_CYCLES ?= 20000
profile-model: deps
	@command -v valgrind >/dev/null || { echo "installing valgrind with apt-get"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; }
	$(CARGO) build --release -q -p evnic-sim
	@set -e; out=$$(ls -td target/release/build/evnic-sim-*/out | head -1); mkdir -p target/profile; \
	  $(CXX) -O2 -I$$out sim/profile/idle.cpp $$out/libevnic_model.a $$out/libverilated_rt_*.a -lpthread -o target/profile/idle; \
	  for n in 0 $(PROFILE_CYCLES); do valgrind --tool=callgrind --callgrind-out-file=target/profile/callgrind.$$n target/profile/idle $$n 2>&1 | sed -n 's/.*Collected : //p' > target/profile/ir.$$n; done; \
	  echo "model, idle core: $$(( ($$(cat target/profile/ir.$(PROFILE_CYCLES)) - $$(cat target/profile/ir.0)) / $(PROFILE_CYCLES) )) host instructions per cycle (callgrind; target/profile/callgrind.$(PROFILE_CYCLES))"

## A longer differential run of the receive path (RTL against the reference model).
fuzz: deps
	EVNIC_FUZZ_FRAMES=$${EVNIC_FUZZ_FRAMES:-1000000} $(CARGO) test --release -p evnic-sim --test rx random_and_mutated_frames_agree_with_the_model -- --nocapture

docs:
	$(CARGO) run -q -p evnic-regs --bin gen-docs -- docs/registers.md

check-docs:
	$(CARGO) test -q -p evnic-regs --release docs_are_fresh

fmt:
	$(CARGO) fmt --all

fmt-check:
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	$(CARGO) fmt --all --check

## In the release profile, so that the simulator's build (the verilated model) is the tests'.
clippy: deps
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	$(CARGO) clippy --workspace --all-targets --release -- -D warnings
