#!/usr/bin/env python3
"""Draws docs/img/perturb-speed.svg: the GPU path's speed over imagecorruptions' per corruption,
on a log scale, from the tables of one series in docs/benchmarks.md (standard library only).

    python3 scripts/plot-perturb-speed.py "2026-12-07, third session"

The argument picks the series by the start of its heading (after "### "); the script reads the
series' 640×360 and 1280×720 tables (the column "GPU ÷ imagecorruptions").
"""

import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
OUT = ROOT / "docs" / "img" / "perturb-speed.svg"


def series_tables(text, heading):
    """The markdown tables under the first '### ' heading starting with `heading`, up to the
    next '### '."""
    start = text.find("### " + heading)
    if start < 0:
        sys.exit(f"plot-perturb-speed: no series '### {heading}' in {BENCHMARKS}")
    end = text.find("\n### ", start + 4)
    body = text[start : end if end > 0 else len(text)]
    tables, rows = [], []
    for line in body.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif rows:
            tables.append(rows)
            rows = []
    if rows:
        tables.append(rows)
    return tables


def ratios(table):
    """{corruption: GPU ÷ imagecorruptions} of a table, the 15 benchmark corruptions only."""
    header = table[0]
    col = header.index("GPU ÷ imagecorruptions")
    out = {}
    for row in table[2:]:
        if "(extra)" in row[0]:
            continue
        name = row[0].strip("`")
        out[name] = float(row[col].rstrip("×"))
    return out


def svg(sizes, title):
    names = list(sizes[0][1].keys())
    names.sort(key=lambda n: sizes[0][1][n])
    lo, hi = 0.1, 1000.0
    left, right, top, bar, gap = 150, 730, 50, 9, 8
    width = 760
    height = top + len(names) * (len(sizes) * bar + gap) + 40 + 18 * len(sizes)

    def x(v):
        return left + (right - left) * (math.log10(v) - math.log10(lo)) / (
            math.log10(hi) - math.log10(lo)
        )

    colours = ["#3b6fb6", "#e08a2c"]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{title}</text>',
    ]
    bottom = height - 40 - 18 * (len(sizes) - 1)
    for v in [0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000]:
        xv = x(v)
        stroke = "#333333" if v == 1 else "#dddddd"
        out.append(
            f'<line x1="{xv:.1f}" y1="{top - 6}" x2="{xv:.1f}" y2="{bottom}" stroke="{stroke}"/>'
        )
        label = f"{v:g}×"
        out.append(f'<text x="{xv:.1f}" y="{bottom + 16}" text-anchor="middle">{label}</text>')
    out.append(
        f'<text x="{x(1) + 4:.1f}" y="{top - 10}">as fast as imagecorruptions</text>'
    )
    # The goal for the geometric mean.
    out.append(
        f'<line x1="{x(20):.1f}" y1="{top - 6}" x2="{x(20):.1f}" y2="{bottom}" '
        'stroke="#b33" stroke-dasharray="4 3"/>'
    )
    out.append(f'<text x="{x(20) + 4:.1f}" y="{top - 10}" fill="#b33">goal: 20× (geometric mean)</text>')
    y = top
    for n in names:
        out.append(f'<text x="{left - 6}" y="{y + len(sizes) * bar - 2}" text-anchor="end">{n}</text>')
        for k, (_, r) in enumerate(sizes):
            v = r[n]
            x0, x1 = x(1), x(v)
            a, b = min(x0, x1), max(x0, x1)
            out.append(
                f'<rect x="{a:.1f}" y="{y + k * bar}" width="{b - a:.1f}" height="{bar - 1}" '
                f'fill="{colours[k]}"/>'
            )
            tx = b + 3 if v >= 1 else a - 3
            anchor = "start" if v >= 1 else "end"
            out.append(
                f'<text x="{tx:.1f}" y="{y + k * bar + bar - 1}" font-size="9" '
                f'text-anchor="{anchor}">{v:g}</text>'
            )
        y += len(sizes) * bar + gap
    for k, (label, r) in enumerate(sizes):
        g = math.exp(sum(math.log(v) for v in r.values()) / len(r))
        ly = bottom + 24 + 18 * k
        out.append(f'<rect x="{left}" y="{ly}" width="10" height="10" fill="{colours[k]}"/>')
        out.append(
            f'<text x="{left + 14}" y="{ly + 9}">{label}: geometric mean {g:.2f}× (of the '
            "rounded ratios)</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    heading = sys.argv[1]
    tables = [t for t in series_tables(BENCHMARKS.read_text(), heading) if "GPU ÷ imagecorruptions" in t[0]]
    if len(tables) < 2:
        sys.exit(f"plot-perturb-speed: the series '{heading}' has {len(tables)} speed table(s), not 2")
    sizes = [("640×360, batch 64", ratios(tables[0])), ("1280×720, batch 8", ratios(tables[1]))]
    title = f"GPU path ÷ imagecorruptions per corruption, lavapipe on 2 cores ({heading})"
    OUT.write_text(svg(sizes, title))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
