#!/usr/bin/env python3
"""Create a random-weight, full-size decoder model for benchmarks.

Usage:
    python tools/bench/make_bench_model.py [OUT_DIR] [--shape smollm2-135m|qwen2.5-0.5b]
                                           [--dtype float32|bfloat16] [--force]

OUT_DIR defaults to bench-models/<shape>-<dtype>/ at the repository root
(git-ignored). The model is built from a config with transformers' default
initialisation (weights ~ N(0, 0.02), norms 1, biases 0) under a fixed seed,
then written with save_pretrained (safetensors). Nothing is downloaded.

If OUT_DIR already holds a model with the same config (the same shape, dtype,
seed and generator version recorded in bench_model.json), nothing is done.
The numbers a benchmark gives do not depend on the weight values, only on the
shapes, so the weights only need to be finite and reasonably scaled.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = ROOT / "bench-models"
SEED = 1234
GENERATOR_VERSION = 1  # bump when the way models are made changes
MARKER = "bench_model.json"

SHAPES: dict[str, dict] = {
    # HuggingFaceTB/SmolLM2-135M
    "smollm2-135m": dict(
        arch="llama",
        hidden_size=576,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        intermediate_size=1536,
        vocab_size=49152,
        tie_word_embeddings=True,
        max_position_embeddings=2048,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
    ),
    # Qwen/Qwen2.5-0.5B
    "qwen2.5-0.5b": dict(
        arch="qwen2",
        hidden_size=896,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        intermediate_size=4864,
        vocab_size=151936,
        tie_word_embeddings=True,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
    ),
}
DTYPES = ("float32", "bfloat16")


def default_dir(shape: str, dtype: str) -> Path:
    return DEFAULT_ROOT / f"{shape}-{dtype}"


def spec(shape: str, dtype: str) -> dict:
    """What identifies a generated model; stored in OUT_DIR/bench_model.json."""
    return {
        "shape": shape,
        "dtype": dtype,
        "seed": SEED,
        "generator_version": GENERATOR_VERSION,
        "config": SHAPES[shape],
    }


def is_current(out: Path, shape: str, dtype: str) -> bool:
    marker = out / MARKER
    if not marker.is_file() or not (out / "config.json").is_file():
        return False
    if not ((out / "model.safetensors").is_file() or (out / "model.safetensors.index.json").is_file()):
        return False
    try:
        return json.loads(marker.read_text()) == json.loads(json.dumps(spec(shape, dtype)))
    except (OSError, ValueError):
        return False


def _rope_kwargs(config_cls, theta: float) -> dict:
    """transformers >= 5 takes `rope_parameters`; older versions `rope_theta`."""
    import inspect

    params = inspect.signature(config_cls.__init__).parameters
    if "rope_parameters" in params or "rope_theta" not in params:
        return {"rope_parameters": {"rope_type": "default", "rope_theta": theta}}
    return {"rope_theta": theta}


def build(out: Path, shape: str, dtype: str) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    s = dict(SHAPES[shape])
    arch = s.pop("arch")
    theta = s.pop("rope_theta")
    config_cls, model_cls = {
        "llama": (LlamaConfig, LlamaForCausalLM),
        "qwen2": (Qwen2Config, Qwen2ForCausalLM),
    }[arch]
    config = config_cls(
        **s,
        **_rope_kwargs(config_cls, theta),
        hidden_act="silu",
        initializer_range=0.02,
        bos_token_id=1,
        eos_token_id=2,
        attention_dropout=0.0,
    )
    torch.manual_seed(SEED)
    t0 = time.time()
    model = model_cls(config).to(torch.float32).eval()
    n = sum(p.numel() for p in model.parameters())
    if dtype == "bfloat16":
        model = model.to(torch.bfloat16)
    # config.dtype is what from_pretrained(dtype="auto") would load.
    model.config.dtype = dtype
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).unlink(missing_ok=True)  # invalid until the save completes
    model.save_pretrained(out, safe_serialization=True)
    (out / MARKER).write_text(json.dumps(spec(shape, dtype), indent=2) + "\n")
    print(f"wrote {shape} {dtype} ({n / 1e6:.1f} M parameters) to {out} in {time.time() - t0:.1f} s")


def ensure(shape: str, dtype: str, out: Path | None = None, force: bool = False) -> Path:
    """Make the model unless OUT_DIR already has it; return OUT_DIR."""
    out = Path(out) if out is not None else default_dir(shape, dtype)
    if not force and is_current(out, shape, dtype):
        print(f"{out}: up to date ({shape} {dtype}), nothing to do", file=sys.stderr)
        return out
    build(out, shape, dtype)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", nargs="?", type=Path, help="default: bench-models/<shape>-<dtype>/")
    p.add_argument("--shape", choices=sorted(SHAPES), default="smollm2-135m")
    p.add_argument("--dtype", choices=DTYPES, default="float32")
    p.add_argument("--force", action="store_true", help="rebuild even if OUT_DIR is up to date")
    a = p.parse_args()
    ensure(a.shape, a.dtype, a.out_dir, a.force)


if __name__ == "__main__":
    main()
