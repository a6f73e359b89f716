"""Draw ``make bench``'s scaling results as a log-log SVG: time and peak memory per megapixel.

Run by ``make docs`` on ``bench/results/scaling.json`` (written by
``bench/run_bench.py --save``, as ``make bench`` does); writes
``docs/assets/bench-scaling.svg``. Plain SVG text, no plotting library: two panels
(seconds, MB) against megapixels, one line per tool and filter, on log scales.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scaling.json"
OUTPUT = ROOT / "docs" / "assets" / "bench-scaling.svg"

COLOURS = {"cnncli": "#d62728", "vips": "#1f77b4", "OpenCV": "#2ca02c"}
DASHES = {"sobel": "", "smooth": "6 4", "gradient": "2 3"}
PANEL_W, PANEL_H, MARGIN = 360, 260, 56


def _ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten (and their 2x, 5x between two decades at most) covering [lo, hi]."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    steps = (1, 2, 5) if last - first <= 2 else (1,)
    return [m * 10**e for e in range(first, last + 1) for m in steps if lo <= m * 10**e <= hi]


def _panel(rows: list[dict], key: str, unit: str, left: float) -> list[str]:
    xs = [r["size"] ** 2 / 1e6 for r in rows]
    ys = [r[key] for r in rows]
    x_lo, x_hi = min(xs) / 1.3, max(xs) * 1.3
    y_lo, y_hi = min(ys) / 1.5, max(ys) * 1.5

    def px(x: float) -> float:
        return left + PANEL_W * math.log(x / x_lo) / math.log(x_hi / x_lo)

    def py(y: float) -> float:
        return MARGIN + PANEL_H * (1 - math.log(y / y_lo) / math.log(y_hi / y_lo))

    out = [
        f'<rect x="{left}" y="{MARGIN}" width="{PANEL_W}" height="{PANEL_H}" '
        'fill="none" stroke="#888"/>',
        f'<text x="{left + PANEL_W / 2}" y="{MARGIN + PANEL_H + 36}" '
        'text-anchor="middle">megapixels (log)</text>',
        f'<text x="{left}" y="{MARGIN - 12}">{unit} (log)</text>',
    ]
    for t in _ticks(x_lo, x_hi):
        out.append(
            f'<text x="{px(t):.1f}" y="{MARGIN + PANEL_H + 16}" text-anchor="middle">{t:g}</text>'
        )
    for t in _ticks(y_lo, y_hi):
        out.append(
            f'<line x1="{left}" x2="{left + PANEL_W}" y1="{py(t):.1f}" y2="{py(t):.1f}" '
            'stroke="#eee"/>'
        )
        out.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    for tool, colour in COLOURS.items():
        for kind, dash in DASHES.items():
            line = sorted(
                (r for r in rows if r["tool"] == tool and r["kind"] == kind),
                key=lambda r: r["size"],
            )
            if not line:
                continue
            points = " ".join(f"{px(r['size'] ** 2 / 1e6):.1f},{py(r[key]):.1f}" for r in line)
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2" '
                f'stroke-dasharray="{dash}"/>'
            )
    return out


def main() -> int:
    if not RESULTS.exists():
        print(f"plot_scaling: no {RESULTS.relative_to(ROOT)} (run make bench); skipped")
        return 0
    data = json.loads(RESULTS.read_text())
    rows = data["rows"]
    width = 2 * (PANEL_W + MARGIN + 24) + 40
    height = MARGIN + PANEL_H + 110
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{MARGIN}" y="20" font-size="14">Whole-process time and peak memory, '
        f"gray PNG (make bench, {data['date']})</text>",
        *_panel(rows, "seconds", "seconds", MARGIN + 10),
        *_panel(rows, "rss_mb", "peak RSS, MB", 2 * MARGIN + PANEL_W + 50),
    ]
    legend_y = MARGIN + PANEL_H + 60
    x = MARGIN
    for tool, colour in COLOURS.items():
        for kind, dash in DASHES.items():
            if not any(r["tool"] == tool and r["kind"] == kind for r in rows):
                continue
            if x > width - 150:  # next legend row
                x, legend_y = MARGIN, legend_y + 20
            body.append(
                f'<line x1="{x}" x2="{x + 24}" y1="{legend_y}" y2="{legend_y}" stroke="{colour}" '
                f'stroke-width="2" stroke-dasharray="{dash}"/>'
            )
            body.append(f'<text x="{x + 28}" y="{legend_y + 4}">{tool} {kind}</text>')
            x += 130
    body.append("</svg>")
    OUTPUT.write_text("\n".join(body) + "\n")
    print(f"plot_scaling: wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
