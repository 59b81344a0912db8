#!/usr/bin/env bash
# Measures what docs/benchmarks.md reports for scale-out (issue 9): the peak memory (maximum
# resident set size, GNU time) of runs of 1,000 and 10,000 cases and of `merge` and `judge` on
# the 10,000-case run, and the library run at 1, 2 and 4 shards one after another on this
# machine (wall time of each shard from its run.json, cases per second per shard).
#
# Usage: scripts/measure-scaleout.sh [GAUNTLET_BINARY]...
#   With no binary, builds this checkout (`cargo build --release`) and measures it. Several
#   binaries (for example a build of the parent commit as the baseline) are measured in turn,
#   in one session, so that their figures are comparable. REPS (default 2) repetitions each.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -eq 0 ]; then
    cargo build --release --locked --quiet
    set -- "${CARGO_TARGET_DIR:-target}/release/gauntlet"
fi
[ -x /usr/bin/time ] || { echo "measure-scaleout.sh: needs GNU time (/usr/bin/time)" >&2; exit 2; }
REPS="${REPS:-2}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A CCRs sweep of 5 overlaps × N/5 random VUT speeds (10–80 km/h): N short cases (4 s to
# impact plus 6 s), judged by the Euro NCAP points rule like the library's CCRs grid.
make_sweep() {
    local n="$1" file="$WORK/ccrs-$1.toml"
    sed -e "s|^name = \"euro-ncap/ccrs\"|name = \"memory/ccrs-$n\"|" \
        -e 's|^vut_speed_kph = { from = 10, to = 80, step = 5 }$||' \
        -e "s|^\[sweep.grid\]$|[sweep.random]\ncount = $((n / 5))\nseed = 9\nparams.vut_speed_kph = { dist = \"uniform\", min = 10, max = 80, round_to = 0.000001 }\n\n[sweep.grid]|" \
        scenarios/euro-ncap/ccrs.toml >"$file"
    echo "$file"
}

# Runs "$@" under GNU time; prints the wall time and the maximum resident set size.
peak() {
    local log="$WORK/time.log"
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || [ "$?" -eq 1 ] || { cat "$log" >&2; exit 2; }
    local rss wall
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
    printf 'wall %s  max RSS %6.1f MB\n' "$wall" "$(echo "$rss / 1024" | bc -l)"
}

wall_s() { sed -n 's/.*"wall_s": \([0-9.]*\).*/\1/p' "$1/run.json"; }

SWEEP_1K="$(make_sweep 1000)"
SWEEP_10K="$(make_sweep 10000)"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for bin in "$@"; do
    echo "== $bin ($("$bin" --version 2>/dev/null || echo gauntlet))"
    for rep in $(seq "$REPS"); do
        printf 'list 1,000 cases (loading only)   '; peak "$bin" list "$SWEEP_1K"
        printf 'list 10,000 cases (loading only)  '; peak "$bin" list "$SWEEP_10K"
        printf 'run 1,000 cases                   '; peak "$bin" run "$SWEEP_1K" --sut builtin:aeb --out "$WORK/r1k"
        printf 'run 10,000 cases                  '; peak "$bin" run "$SWEEP_10K" --sut builtin:aeb --out "$WORK/r10k"
        for k in 1 2; do
            "$bin" run "$SWEEP_10K" --sut builtin:aeb --shard "$k/2" --out "$WORK/s$k" >/dev/null 2>&1 || [ "$?" -eq 1 ]
        done
        printf 'merge 2 shards of 10,000 cases    '; peak "$bin" merge "$WORK/s1" "$WORK/s2" --out "$WORK/merged"
        cmp -s "$WORK/merged/report.json" "$WORK/r10k/report.json" || echo "  (merged report.json differs from the unsharded run's!)"
        printf 'judge the 10,000-case report      '; peak "$bin" judge "$WORK/r10k"
    done
    for rep in $(seq "$REPS"); do
        for n in 1 2 4; do
            line="library at $n shard(s), wall per shard (s):"
            for k in $(seq "$n"); do
                out="$WORK/lib-$n-$k"
                "$bin" run scenarios --sut builtin:aeb --shard "$k/$n" --out "$out" >/dev/null 2>&1 || [ "$?" -eq 1 ]
                cases=$(grep -c '' "$out/cases.jsonl")
                line="$line $(wall_s "$out") ($cases cases)"
            done
            echo "$line"
        done
    done
done
