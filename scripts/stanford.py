#!/usr/bin/env python3
"""Stanford diagrams from `gauntlet run --traces` output: one SVG per environment.

Reads every `traces/**/*.gnss.csv` under the run directories given, groups the fix epochs by the
environment of the antenna's station (and alert limit), and draws horizontal error (x) against the horizontal
protection level (y) on log axes, with the alert limit, the diagonal error = HPL and the count
of each region (nominal, unavailable, misleading, hazardously misleading) as the reports count
them (docs/metrics.md). Standard library only.

    scripts/stanford.py RUN_DIR... --out DIR [--profile NAME]

`--profile` keeps only the cases whose ID contains `profile=NAME`.
"""

import argparse
import csv
import glob
import math
import os
import sys

LO, HI = 0.001, 100.0  # axis range, metres (log)
SIZE, PAD = 420, 56
COLOURS = {
    "nominal": "#2b8a3e",
    "unavailable": "#1c7ed6",
    "misleading": "#f08c00",
    "hazardous": "#e03131",
}


def pos(v):
    v = min(max(v, LO), HI)
    return (math.log10(v) - math.log10(LO)) / (math.log10(HI) - math.log10(LO)) * SIZE


def svg(env, points, al):
    counts = {k: 0 for k in COLOURS}
    for _, _, region in points:
        counts[region] += 1
    w = h = SIZE + 2 * PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 40}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{w}" height="{h + 40}" fill="white"/>',
        f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">'
        f"Stanford diagram: {env} ({len(points)} epochs, AL {al:g} m)</text>",
    ]
    x0, y0 = PAD, PAD + SIZE  # origin (bottom left)
    # Regions: unavailable above HPL = AL; hazardous right of error = AL below it.
    a = pos(al)
    out.append(f'<rect x="{x0}" y="{PAD}" width="{SIZE}" height="{SIZE - a}" fill="#e7f5ff"/>')
    out.append(f'<rect x="{x0 + a}" y="{y0 - a}" width="{SIZE - a}" height="{a}" fill="#fff5f5"/>')
    # Grid and ticks.
    for d in range(int(math.log10(LO)), int(math.log10(HI)) + 1):
        v = 10.0**d
        p = pos(v)
        out.append(f'<line x1="{x0 + p}" y1="{PAD}" x2="{x0 + p}" y2="{y0}" stroke="#ddd"/>')
        out.append(f'<line x1="{x0}" y1="{y0 - p}" x2="{x0 + SIZE}" y2="{y0 - p}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + p}" y="{y0 + 14}" text-anchor="middle">{v:g}</text>')
        out.append(f'<text x="{x0 - 4}" y="{y0 - p + 4}" text-anchor="end">{v:g}</text>')
    out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0 + SIZE}" y2="{PAD}" stroke="#555" stroke-dasharray="4 3"/>')
    out.append(f'<line x1="{x0 + a}" y1="{PAD}" x2="{x0 + a}" y2="{y0}" stroke="#c92a2a"/>')
    out.append(f'<line x1="{x0}" y1="{y0 - a}" x2="{x0 + SIZE}" y2="{y0 - a}" stroke="#1864ab"/>')
    out.append(f'<rect x="{x0}" y="{PAD}" width="{SIZE}" height="{SIZE}" fill="none" stroke="black"/>')
    out.append(f'<text x="{x0 + SIZE / 2}" y="{y0 + 32}" text-anchor="middle">horizontal error (m)</text>')
    out.append(
        f'<text x="{PAD - 40}" y="{PAD + SIZE / 2}" text-anchor="middle" '
        f'transform="rotate(-90 {PAD - 40} {PAD + SIZE / 2})">HPL (m)</text>'
    )
    # Points closer than half a pixel are drawn once (the counts below include every epoch).
    drawn = set()
    for err, hpl, region in points:
        key = (round(2 * pos(err)), round(2 * pos(hpl)), region)
        if key in drawn:
            continue
        drawn.add(key)
        out.append(
            f'<circle cx="{x0 + key[0] / 2:.1f}" cy="{y0 - key[1] / 2:.1f}" r="1.6" '
            f'fill="{COLOURS[region]}" fill-opacity="0.5"/>'
        )
    legend = "  ".join(f"{k} {counts[k]}" for k in COLOURS)
    out.append(f'<text x="{w / 2}" y="{h + 24}" text-anchor="middle">{legend}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n", counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--profile")
    args = ap.parse_args()
    by_env = {}  # (environment, alert limit) -> points
    files = []
    for run in args.runs:
        files += sorted(glob.glob(os.path.join(run, "traces", "**", "*.gnss.csv"), recursive=True))
    if args.profile:
        files = [f for f in files if f"profile={args.profile}" in os.path.basename(f)]
    if not files:
        sys.exit("no traces/*.gnss.csv found (run with --traces)")
    for f in files:
        with open(f, newline="") as fh:
            for row in csv.DictReader(fh):
                if not row["stanford"]:
                    continue
                key = (row["environment"], float(row["alert_limit_m"]))
                by_env.setdefault(key, []).append(
                    (float(row["horizontal_err_m"]), float(row["hpl_m"]), row["stanford"])
                )
    os.makedirs(args.out, exist_ok=True)
    suffix = f"-{args.profile}" if args.profile else ""
    several = {env for env, _ in by_env if sum(1 for e, _ in by_env if e == env) > 1}
    for env, al in sorted(by_env):
        text, counts = svg(env, by_env[(env, al)], al)
        name = f"{env}-al{al:g}" if env in several else env
        path = os.path.join(args.out, f"stanford-{name}{suffix}.svg")
        with open(path, "w") as fh:
            fh.write(text)
        print(path, " ".join(f"{k}={v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
