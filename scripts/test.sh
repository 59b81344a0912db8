#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian machine, then runs them.
# `.ci/run` calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Rust toolchain: the machine's own (stable). Nothing else is needed by the current tests;
# GPU tests will add Mesa's software Vulkan driver here (apt-get install mesa-vulkan-drivers).
command -v cargo >/dev/null || { echo "test.sh: cargo not found; install Rust (https://rustup.rs)" >&2; exit 2; }

# Snapshots are compared, never rewritten, here.
export INSTA_UPDATE=no
export CI="${CI:-true}"

cargo test --locked --all-targets
# The library must validate exactly as users will run it.
cargo run --locked --quiet -- validate --strict scenarios/
