# evnic entry points. `make run` and `make test` install what they need (Verilator, Yosys,
# QEMU come from Debian's packages; Rust crates through cargo).

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
VERILOG := target/verilog/evnic.v
# UNOPTFLAT: RustHDL writes one always block per module, which Verilator sees as a false
# combinational loop between blocks wired both ways (valid/ready); it is a speed note, not a loop.
LINT_FLAGS := -Wall -Wno-WIDTH -Wno-DECLFILENAME -Wno-UNUSEDSIGNAL -Wno-UNUSEDPARAM -Wno-UNOPTFLAT

.PHONY: run test test-unit test-loom test-vm verilog lint synth synth-check bench docs check-docs deps fmt clippy fuzz

## The main job: the demo on the simulated device (the captured frames go to target/demo.pcap).
run: deps
	$(CARGO) run --release -p evnic -- info
	$(CARGO) run --release -p evnic -- demo --pcap target/demo.pcap

## Every test: unit and Verilator-model tests, the lease lock under loom, lint, synthesis, docs
## freshness, the VFIO VM test.
test: deps test-unit test-loom lint synth-check check-docs test-vm

test-unit: deps
	$(CARGO) test --workspace --release

## The lease lock under the loom model checker (its own target dir: --cfg loom rebuilds all).
test-loom:
	RUSTFLAGS="--cfg loom" $(CARGO) test --release -p evnic-lease --test loom --target-dir target/loom

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
	$(CARGO) bench -p evnic --bench wait
	$(CARGO) bench -p evnic-lease --bench lease

## A longer differential run of the receive path (RTL against the reference model).
fuzz: deps
	EVNIC_FUZZ_FRAMES=$${EVNIC_FUZZ_FRAMES:-1000000} $(CARGO) test --release -p evnic-sim --test rx random_and_mutated_frames_agree_with_the_model -- --nocapture

docs:
	$(CARGO) run -q -p evnic-regs --bin gen-docs -- docs/registers.md

check-docs:
	$(CARGO) test -q -p evnic-regs --release docs_are_fresh

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
