#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian machine, then runs them.
# `.ci/run` calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "test.sh: cargo not found; install Rust (https://rustup.rs)" >&2; exit 2; }

# Mesa's software Vulkan driver (lavapipe): the GPU tests run on it for real; a missing adapter
# fails them. Installed when absent (needs root and the Debian package mirrors). On Debian 12
# (bookworm) it comes from bookworm-backports (Mesa 25): bookworm's own Mesa 22.3 runs the
# renderer's shader at about half the speed (docs/benchmarks.md); the tests pass on both, so if
# backports cannot be reached, bookworm's Mesa is installed instead, with a warning.
lvp_icd() {
    for f in /usr/share/vulkan/icd.d/lvp_icd.json /usr/share/vulkan/icd.d/lvp_icd.x86_64.json; do
        if [ -f "$f" ]; then echo "$f"; return; fi
    done
}
codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
mesa_major="$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | cut -d. -f1)"
# (grep without -q: with pipefail, -q would let ldconfig die of SIGPIPE and fail the test.)
if [ -z "$(lvp_icd)" ] || ! ldconfig -p 2>/dev/null | grep libvulkan.so.1 >/dev/null \
    || { [ "$codename" = bookworm ] && [ "${mesa_major:-0}" -lt 25 ] 2>/dev/null; }; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    installed=""
    if [ "$codename" = bookworm ]; then
        # The mirror the machine already uses (deb822 `URIs:` or a one-line `deb` entry).
        mirror="$(grep -hs -m1 '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | head -n1)"
        [ -n "$mirror" ] || mirror="$(grep -hs -m1 '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n1)"
        mirror="${mirror:-http://deb.debian.org/debian}"
        echo "test.sh: installing Mesa's software Vulkan driver from bookworm-backports ($mirror)" >&2
        echo "deb $mirror bookworm-backports main" \
            | $SUDO tee /etc/apt/sources.list.d/gauntlet-bookworm-backports.list >/dev/null
        if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends \
            -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null; then
            installed=yes
        else
            echo "test.sh: warning: bookworm-backports unavailable; installing bookworm's Mesa (slower GPU path)" >&2
        fi
    fi
    if [ -z "$installed" ]; then
        echo "test.sh: installing Mesa's software Vulkan driver (mesa-vulkan-drivers, libvulkan1)" >&2
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
    fi
fi
LVP_ICD="$(lvp_icd)"
if [ -z "$LVP_ICD" ]; then
    echo "test.sh: Mesa's software Vulkan driver (lavapipe) is not installed and could not be" >&2
    echo "         installed: the GPU tests need it (apt-get install mesa-vulkan-drivers)" >&2
    exit 2
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
