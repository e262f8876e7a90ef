"""tools/plot_metrics.py: PNG curves from a metrics JSONL, with and without matplotlib."""
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[3] / "tools" / "plot_metrics.py"
BLUE, ORANGE = bytes.fromhex("1f77b4"), bytes.fromhex("ff7f0e")  # the first two series


@pytest.fixture
def metrics(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = []
    for step in range(0, 200, 10):
        row = {"step": step, "stage": 1 if step < 100 else 2, "reward_t1": 0.2 + step / 1000,
               "reward_t2": 0.1 + step / 500, "kl_t1": step / 100, "note": "text is ignored"}
        if step % 50 == 0:
            row["eval_acc_t2"] = 0.3 + step / 800
        rows.append(json.dumps(row))
    path.write_text("\n".join(rows) + "\n\n", encoding="utf-8")
    return path


def run(*args, builtin):
    env = dict(os.environ)
    env.pop("SCORE_PLOT_NO_MATPLOTLIB", None)
    if builtin:
        env["SCORE_PLOT_NO_MATPLOTLIB"] = "1"
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120)


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]
    return width, height


def rgb_pixels(data):
    """The pixel bytes of an 8-bit RGB PNG whose rows all use filter 0 (the built-in writer's)."""
    width, height = png_size(data)
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 3 + 1
    assert len(raw) == stride * height and all(raw[y * stride] == 0 for y in range(height))
    return b"".join(raw[y * stride + 1:(y + 1) * stride] for y in range(height))


def has_colour(pixels, colour):
    return any(pixels[i:i + 3] == colour for i in range(0, len(pixels), 3))


def test_builtin_renderer_draws_every_series(metrics, tmp_path):
    out = tmp_path / "curves.png"
    result = run(metrics, "-o", out, builtin=True)
    assert result.returncode == 0, result.stderr
    assert "built-in" in result.stdout and "eval_acc_t2" in result.stdout and "kl_t1" not in result.stdout
    data = out.read_bytes()
    assert png_size(data) == (900, 500)
    pixels = rgb_pixels(data)
    assert has_colour(pixels, BLUE) and has_colour(pixels, ORANGE)


def test_fields_option_selects_series(metrics, tmp_path):
    out = tmp_path / "one.png"
    result = run(metrics, "-o", out, "--fields", "reward_t1", builtin=True)
    assert result.returncode == 0, result.stderr
    pixels = rgb_pixels(out.read_bytes())
    assert has_colour(pixels, BLUE) and not has_colour(pixels, ORANGE)


def test_matplotlib_renderer(metrics, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    result = run(metrics, "-o", out, builtin=False)
    assert result.returncode == 0, result.stderr
    assert "matplotlib" in result.stdout
    width, height = png_size(out.read_bytes())
    assert width > 100 and height > 100


@pytest.mark.parametrize("content, message", [
    ('{"step": 0, "reward_t1": 0.5}\n{"step": 1, "reward_t1": \n', "metrics.jsonl:2: not valid JSON"),
    ('[1, 2]\n', "metrics.jsonl:1: expected a JSON object"),
    ('{"reward_t1": 0.5}\n', 'metrics.jsonl:1: no numeric "step"'),
    ('{"step": 0, "kl_t1": 0.5, "reward_t1": "high"}\n', "no numeric reward_* or eval_* fields"),
    ('\n\n', "no metrics rows"),
])
def test_bad_input_exits_1_with_one_line(tmp_path, content, message):
    path = tmp_path / "metrics.jsonl"
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "never.png"
    result = run(path, "-o", out, builtin=True)
    assert result.returncode == 1
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not out.exists()


def test_missing_file_and_unknown_field(metrics, tmp_path):
    result = run(tmp_path / "absent.jsonl", "-o", tmp_path / "x.png", builtin=True)
    assert result.returncode == 1 and "cannot read" in result.stderr and result.stderr.count("\n") == 1
    result = run(metrics, "-o", tmp_path / "x.png", "--fields", "reward_t3", builtin=True)
    assert result.returncode == 1 and '"reward_t3"' in result.stderr
