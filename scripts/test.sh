#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian machine, then runs them.
# `.ci/run` calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "test.sh: cargo not found; install Rust (https://rustup.rs)" >&2; exit 2; }

# Mesa's software Vulkan driver (lavapipe): the GPU tests run on it for real; a missing adapter
# fails them. Installed when absent (needs root and the Debian package mirrors).
LVP_ICD=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
# (grep without -q: with pipefail, -q would let ldconfig die of SIGPIPE and fail the test.)
if [ ! -f "$LVP_ICD" ] || ! ldconfig -p 2>/dev/null | grep libvulkan.so.1 >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "test.sh: installing Mesa's software Vulkan driver (mesa-vulkan-drivers, libvulkan1)" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        mesa-vulkan-drivers libvulkan1 >/dev/null
fi
# python3 runs the Python reference client of the process protocol (tests/sut_process.rs checks
# that its verdicts equal builtin:aeb's). Debian images without it get it here; the test fails,
# saying so, if it is still missing.
if ! command -v python3 >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "test.sh: installing python3 (for the Python reference client's test)" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        python3 >/dev/null
fi
export VK_DRIVER_FILES="${VK_DRIVER_FILES:-$LVP_ICD}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
# The adapter the GPU tests use.
cargo run --locked --quiet -- devices

# Real RINEX navigation files for the GNSS tests (never copied into the repository).
if [ -z "${GAUNTLET_REFERENCE_DATA:-}" ] && [ -d ../shared/data ]; then
    export GAUNTLET_REFERENCE_DATA="$(cd ../shared/data && pwd)"
fi

# Snapshots are compared, never rewritten, here.
export INSTA_UPDATE=no
export CI="${CI:-true}"

cargo test --locked --all-targets
# The library must validate exactly as users will run it.
cargo run --locked --quiet -- validate --strict scenarios/
