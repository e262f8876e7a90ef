#!/usr/bin/env python3
"""Plot SCoRe training curves from a metrics JSONL file into a PNG.

Usage:
    python3 tools/plot_metrics.py metrics.jsonl -o curves.png [--fields reward_t1,reward_t2]

Each line of the file is one JSON object with a numeric "step". Every
numeric field whose name starts with "reward_" or "eval_" becomes one line
against step (or only the fields named by --fields); where a "stage" field
changes value, a dotted vertical line marks the boundary.

matplotlib draws the plot when it imports. Without it (or with
SCORE_PLOT_NO_MATPLOTLIB=1) a small built-in renderer writes the PNG itself:
axes, gridlines, tick labels and a legend in a 5x7 bitmap font.

Bad input (missing file, a malformed line, nothing to plot) prints one line
on stderr and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
PLOTTED_PREFIXES = ("reward_", "eval_")

Series = Dict[str, List[Tuple[float, float]]]


class PlotError(Exception):
    """Input that cannot be plotted; the message is shown to the user."""


# --------------------------------------------------------------------------
# Reading metrics
# --------------------------------------------------------------------------

def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_rows(path: str) -> List[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except (OSError, UnicodeDecodeError) as e:
        raise PlotError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise PlotError(f"{path}:{number}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise PlotError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        if not _is_number(row.get("step")):
            raise PlotError(f"{path}:{number}: no numeric \"step\"")
        rows.append(row)
    if not rows:
        raise PlotError(f"{path}: no metrics rows")
    return rows


def select_series(rows: Sequence[dict], fields: Optional[Sequence[str]], path: str) -> Series:
    """Field -> (step, value) points sorted by step; non-finite values are skipped."""
    if fields is None:
        fields = []
        for row in rows:
            for key, value in row.items():
                if key.startswith(PLOTTED_PREFIXES) and _is_number(value) and key not in fields:
                    fields.append(key)
        if not fields:
            raise PlotError(f"{path}: no numeric reward_* or eval_* fields to plot")
    series: Series = {}
    for field in fields:
        points = [(float(r["step"]), float(r[field])) for r in rows
                  if _is_number(r.get(field)) and math.isfinite(r[field])]
        if not points:
            raise PlotError(f"{path}: no numeric values for field \"{field}\"")
        series[field] = sorted(points, key=lambda p: p[0])
    return series


def stage_boundaries(rows: Sequence[dict]) -> List[float]:
    """Steps at which the "stage" field takes a new value."""
    boundaries = []
    previous = None
    for row in sorted((r for r in rows if "stage" in r), key=lambda r: r["step"]):
        if previous is not None and row["stage"] != previous:
            boundaries.append(float(row["step"]))
        previous = row["stage"]
    return boundaries


# --------------------------------------------------------------------------
# matplotlib
# --------------------------------------------------------------------------

def plot_with_matplotlib(series: Series, boundaries: List[float], out: str) -> bool:
    """Draws with matplotlib; False if matplotlib is unavailable."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(9, 5), dpi=100)
    for i, (field, points) in enumerate(series.items()):
        ax.plot([p[0] for p in points], [p[1] for p in points],
                color=PALETTE[i % len(PALETTE)], label=field, marker="o" if len(points) == 1 else None)
    for step in boundaries:
        ax.axvline(step, color="#999999", linestyle=":", linewidth=1)
    ax.set_xlabel("step")
    ax.grid(True, color="#dddddd")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    try:
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return True


# --------------------------------------------------------------------------
# Built-in renderer
# --------------------------------------------------------------------------

# 5x7 glyphs, one string of seven 5-pixel rows each; text is drawn upper-case.
FONT = {
    "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
    "A": "01110 10001 10001 10001 11111 10001 10001", "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110", "D": "11100 10010 10001 10001 10001 10010 11100",
    "E": "11111 10000 10000 11110 10000 10000 11111", "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111", "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110", "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001", "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001", "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110", "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101", "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110", "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110", "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010", "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 10001 01010 00100 00100 00100", "Z": "11111 00001 00010 00100 01000 10000 11111",
    "_": "00000 00000 00000 00000 00000 00000 11111", "-": "00000 00000 00000 11111 00000 00000 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100", "+": "00000 00100 00100 11111 00100 00100 00000",
    ":": "00000 01100 01100 00000 01100 01100 00000", "/": "00000 00001 00010 00100 01000 10000 00000",
    "(": "00010 00100 01000 01000 01000 00100 00010", ")": "01000 00100 00010 00010 00010 00100 01000",
    "%": "11000 11001 00010 00100 01000 10011 00011", "=": "00000 00000 11111 00000 11111 00000 00000",
    " ": "00000 00000 00000 00000 00000 00000 00000", "?": "01110 10001 00001 00010 00100 00000 00100",
}
GLYPH_ADVANCE = 6  # 5 pixels and a gap


def _rgb(hex_colour: str) -> Tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


class Canvas:
    """An RGB image with the few primitives a line chart needs."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.pixels = bytearray(b"\xff" * (width * height * 3))

    def fill(self, x0: int, y0: int, x1: int, y1: int, colour) -> None:
        """Fills [x0, x1) x [y0, y1), clipped to the canvas."""
        x0, x1 = max(0, x0), min(self.width, x1)
        if x0 >= x1:
            return
        row = bytes(colour) * (x1 - x0)
        for y in range(max(0, y0), min(self.height, y1)):
            start = (y * self.width + x0) * 3
            self.pixels[start:start + len(row)] = row

    def line(self, x0: int, y0: int, x1: int, y1: int, colour, width: int = 2) -> None:
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.fill(x0, y0, x0 + width, y0 + width, colour)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x: int, y: int, text: str, colour, scale: int = 2) -> None:
        for i, char in enumerate(text.upper()):
            rows = FONT.get(char, FONT["?"]).split()
            for r, bits in enumerate(rows):
                for c, bit in enumerate(bits):
                    if bit == "1":
                        px, py = x + (i * GLYPH_ADVANCE + c) * scale, y + r * scale
                        self.fill(px, py, px + scale, py + scale, colour)

    def png(self) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        stride = self.width * 3
        raw = b"".join(b"\x00" + bytes(self.pixels[y * stride:(y + 1) * stride]) for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def text_width(text: str, scale: int = 2) -> int:
    return len(text) * GLYPH_ADVANCE * scale


def nice_ticks(lo: float, hi: float, count: int = 5) -> Tuple[List[float], float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [lo, hi], and their spacing."""
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    spacing = next(m * magnitude for m in (1, 2, 5, 10) if raw <= m * magnitude)
    first = math.ceil(lo / spacing - 1e-9)
    ticks = []
    k = first
    while k * spacing <= hi + spacing * 1e-9:
        ticks.append(k * spacing)
        k += 1
    return ticks, spacing


def tick_label(value: float, spacing: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or spacing < 1e-4:
        return f"{value:.2g}"
    decimals = max(0, -math.floor(math.log10(spacing)))
    return f"{value:.{decimals}f}"


def padded_range(values: Sequence[float], fraction: float) -> Tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        half = abs(lo) * 0.1 or 0.5
        return lo - half, hi + half
    pad = (hi - lo) * fraction
    return lo - pad, hi + pad


def plot_builtin(series: Series, boundaries: List[float], out: str,
                 width: int = 900, height: int = 500) -> None:
    black, grey, light = (0, 0, 0), (150, 150, 150), (225, 225, 225)
    steps = [x for points in series.values() for x, _ in points]
    values = [y for points in series.values() for _, y in points]
    x_lo, x_hi = padded_range(steps, 0.0)
    y_lo, y_hi = padded_range(values, 0.05)
    if not all(math.isfinite(v) for v in (x_hi - x_lo, y_hi - y_lo)):
        raise PlotError("values span too wide a range to draw")
    x_ticks, x_spacing = nice_ticks(x_lo, x_hi)
    y_ticks, y_spacing = nice_ticks(y_lo, y_hi)
    y_labels = [tick_label(t, y_spacing) for t in y_ticks]

    legend_scale = 2 if max(text_width(f) for f in series) <= 180 else 1
    legend_width = 30 + max(text_width(f, legend_scale) for f in series)
    left = 16 + max(text_width(label) for label in y_labels)
    right = width - legend_width - 20
    top, bottom = 20, height - 60
    if right - left < 100:
        raise PlotError("field names too long to draw a legend; pass fewer or shorter --fields")

    def px(x: float) -> int:
        return round(left + (x - x_lo) / (x_hi - x_lo) * (right - left))

    def py(y: float) -> int:
        return round(bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top))

    canvas = Canvas(width, height)
    for t, label in zip(y_ticks, y_labels):
        canvas.fill(left, py(t), right + 1, py(t) + 1, light)
        canvas.text(left - 8 - text_width(label), py(t) - 7, label, black)
    for t in x_ticks:
        label = tick_label(t, x_spacing)
        canvas.fill(px(t), top, px(t) + 1, bottom + 1, light)
        canvas.fill(px(t), bottom, px(t) + 1, bottom + 6, black)
        canvas.text(px(t) - text_width(label) // 2, bottom + 10, label, black)
    for step in boundaries:
        for y in range(top, bottom, 8):
            canvas.fill(px(step), y, px(step) + 1, y + 4, grey)
    canvas.fill(left, top, left + 1, bottom + 1, black)
    canvas.fill(left, bottom, right + 1, bottom + 1, black)
    canvas.text((left + right - text_width("STEP")) // 2, bottom + 34, "STEP", black)

    for i, (field, points) in enumerate(series.items()):
        colour = _rgb(PALETTE[i % len(PALETTE)])
        coords = [(px(x), py(y)) for x, y in points]
        if len(coords) == 1:
            x, y = coords[0]
            canvas.fill(x - 3, y - 3, x + 4, y + 4, colour)
        for (x0, y0), (x1, y1) in zip(coords, coords[1:]):
            canvas.line(x0, y0, x1, y1, colour)
        row_y = top + 10 + i * 24
        canvas.fill(right + 20, row_y, right + 34, row_y + 14, colour)
        canvas.text(right + 42, row_y + (0 if legend_scale == 2 else 4), field, black, legend_scale)

    with open(out, "wb") as f:
        f.write(canvas.png())


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Plot SCoRe training metrics (JSONL) into a PNG.")
    parser.add_argument("metrics", help="metrics JSONL file, one JSON object per line")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--fields", help="comma-separated fields to plot (default: every reward_* and eval_*)")
    args = parser.parse_args(argv)
    fields = [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None
    try:
        rows = read_rows(args.metrics)
        series = select_series(rows, fields, args.metrics)
        boundaries = stage_boundaries(rows)
        use_matplotlib = os.environ.get("SCORE_PLOT_NO_MATPLOTLIB", "") in ("", "0")
        if use_matplotlib and plot_with_matplotlib(series, boundaries, args.output):
            renderer = "matplotlib"
        else:
            plot_builtin(series, boundaries, args.output)
            renderer = "built-in renderer"
    except PlotError as e:
        print(f"plot_metrics: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"plot_metrics: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 1
    legend = ", ".join(f"{field} ({PALETTE[i % len(PALETTE)]})" for i, field in enumerate(series))
    print(f"wrote {args.output} ({renderer}): {legend}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
