#!/usr/bin/env bash
# The library as a user adds it, in fresh crates outside this workspace:
#  1. a crate depending on `evnic` with its default features builds with Verilator and Yosys
#     unavailable (stand-ins that record any call come first on PATH) and without the
#     simulator in its dependency graph: the default build needs neither;
#  2. the README's library example, pasted into a crate with the `sim` feature, builds and runs
#     on the simulated device.
# Run by `make test` (target test-user). Uses only crates already fetched for the workspace.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work="$root/target/user-crate"
mkdir -p "$work"

# The README's library example: the first ```rust block after "## Using the library".
example=$(awk '/^## Using the library/{f=1} f&&/^```rust/{p=1;next} p&&/^```/{exit} p' "$root/README.md")
if [ -z "$example" ]; then
  echo "user-crate: no \`\`\`rust block under '## Using the library' in README.md" >&2
  exit 1
fi

new_crate() { # DIR FEATURES
  mkdir -p "$1/src"
  cat > "$1/Cargo.toml" <<TOML
[package]
name = "evnic-user"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
evnic = { path = "$root/host-lib"$2 }

# Not a member of the evnic workspace: a crate of its own.
[workspace]
TOML
  # The workspace's versions of every dependency (cargo drops what this crate does not use).
  cp "$root/Cargo.lock" "$1/Cargo.lock"
  printf '%s\n' "$example" > "$1/src/main.rs"
}

# 1. Default features, no Verilator, no Yosys.
dir="$work/default"
new_crate "$dir" ""
fake="$work/no-tools"
rm -rf "$fake" && mkdir -p "$fake"
for tool in verilator verilator_bin yosys; do
  printf '#!/bin/sh\necho "%s was called" >> "%s/called"\nexit 127\n' "$tool" "$fake" > "$fake/$tool"
  chmod +x "$fake/$tool"
done
(cd "$dir" && PATH="$fake:$PATH" CARGO_TARGET_DIR="$work/target-default" cargo build --offline -q)
if [ -e "$fake/called" ]; then
  echo "user-crate: the default build ran $(cat "$fake/called" | tr '\n' ' ')" >&2
  exit 1
fi
if (cd "$dir" && cargo tree --offline -q -e normal,build | grep -q evnic-sim); then
  echo "user-crate: evnic-sim is in the default build's dependency graph" >&2
  exit 1
fi
out=$("$work/target-default/debug/evnic-user" 2>&1 || true)
case "$out" in
  *FeatureDisabled*) ;;
  *) echo "user-crate: without the sim feature the example should be refused by name, got: $out" >&2; exit 1 ;;
esac
echo "user-crate: a crate with evnic's default features builds without Verilator and Yosys"

# 2. The README example with the simulated device (the workspace's target directory, so the
#    model built for the tests is reused).
dir="$work/sim"
new_crate "$dir" ', features = ["sim"]'
(cd "$dir" && CARGO_TARGET_DIR="$root/target" cargo run --offline -q --release)
echo "user-crate: the README's library example builds and runs with the sim feature"
