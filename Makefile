# evnic entry points. `make run` and `make test` install what they need (Verilator, Yosys,
# QEMU come from Debian's packages; Rust crates through cargo).

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VERILOG := target/verilog/evnic.v
# UNOPTFLAT: RustHDL writes one always block per module, which Verilator sees as a false
# combinational loop between blocks wired both ways (valid/ready); it is a speed note, not a loop.
LINT_FLAGS := -Wall -Wno-WIDTH -Wno-DECLFILENAME -Wno-UNUSEDSIGNAL -Wno-UNUSEDPARAM -Wno-UNOPTFLAT

.PHONY: run test test-unit test-user test-vm verilog lint synth synth-check bench docs check-docs deps fmt fmt-check clippy fuzz

## The main job: the demo on the simulated device (the captured frames go to target/demo.pcap).
run: deps
	$(CARGO) run --release -p evnic-cli -- info
	$(CARGO) run --release -p evnic-cli -- demo --pcap target/demo.pcap

## Every test: formatting, unit, Verilator-model and end-to-end tests, the library as a user's
## dependency, clippy, lint, synthesis, docs freshness, the VFIO VM test.
test: deps fmt-check test-unit test-user clippy lint synth-check check-docs test-vm

test-unit: deps
	$(CARGO) test --workspace --release

## A fresh crate on evnic's default features builds without Verilator and Yosys; the README's
## library example builds and runs with the sim feature.
test-user: deps
	bash tests/e2e/user-crate.sh

test-vm:
	bash tests/vm/run.sh

## Installs Verilator, Yosys and tshark from Debian's packages when they are missing.
deps:
	@command -v verilator >/dev/null && command -v yosys >/dev/null && command -v tshark >/dev/null || { \
	  echo "installing verilator, yosys and tshark with apt-get"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq verilator yosys tshark; }

verilog:
	$(CARGO) run --release -q -p evnic-hdl --bin gen-verilog -- $(VERILOG)

lint: deps verilog
	verilator --lint-only $(LINT_FLAGS) --top-module top $(VERILOG)
	@echo "lint: verilator --lint-only clean"

## Full ECP5 synthesis with the resource summary (about 20 minutes and 7 GB on this design).
synth: deps verilog
	@mkdir -p target/synth
	yosys -q -l target/synth/yosys.log bitstreams/synth_ecp5.ys
	@bash bitstreams/summary.sh target/synth/stat.txt

## The synthesis check of `make test`: Yosys' generic synthesis through its coarse stage.
synth-check: deps verilog
	@mkdir -p target/synth
	yosys -q -l target/synth/check.log bitstreams/synth_check.ys
	@grep -E "Number of cells" target/synth/check_stat.txt | sed 's/^ */synth-check: /'


bench: deps synth
	$(CARGO) bench -p evnic-sim --bench device --bench events --bench rx --bench tx
	$(CARGO) bench -p evnic --features sim --bench wait
	$(CARGO) bench -p evnic --features sim,tokio --bench event_loops

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
