#!/usr/bin/env python3
"""Generate tiny, deterministic Hugging Face model fixtures for libscore tests.

Usage:
    python tools/make_fixtures.py                 # build every fixture
    python tools/make_fixtures.py --only qwen3    # rebuild selected fixtures

Every fixture lives in Tests/Fixtures/models/<name>/ and contains a model
directory written by `save_pretrained` (config.json, generation_config.json,
model.safetensors or shards + model.safetensors.index.json) plus
`reference.safetensors` with transformers' reference outputs:

    tokens.<i>        int32   [T]          i = 0..3, T in (1, 7, 33, 300)
    logits.<i>        float32 [T, 128]     float32 forward of the *stored* weights
    logprobs.<i>      float32 [T-1]        log_softmax(logits[t])[tokens[t+1]]  (omitted for T == 1)
    logits_native.<i> float32 [T, 128]     qwen2-bf16 only: forward run natively in bfloat16

No network access is needed: all models are built from configs with random
weights. All parameters (including biases and RMSNorm weights) are randomised
so that bugs hidden by the default init (zero biases, unit norms) show up.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import inspect
import json
import math
import os
import platform
import shutil
import sys
from pathlib import Path

import torch

import safetensors
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "Tests" / "Fixtures" / "models"

SEQ_LENGTHS = (1, 7, 33, 300)

MATRIX_STD = 0.08  # weight matrices and embeddings
BIAS_STD = 0.1  # biases
NORM_STD = 0.1  # RMSNorm weights = 1 + N(0, NORM_STD)

COMMON = dict(
    vocab_size=128,
    hidden_size=64,
    num_hidden_layers=2,
    intermediate_size=128,
    max_position_embeddings=512,
    bos_token_id=1,
    eos_token_id=2,
)

# ---------------------------------------------------------------------------
# Fixture specifications
# ---------------------------------------------------------------------------

LLAMA3_ROPE = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 64,
}
LLAMA3_THETA = 500000.0


def _rope_kwargs(theta: float, scaling: dict | None = None) -> dict:
    """Build rope kwargs for whatever convention the installed transformers uses.

    transformers >= 5 uses `rope_parameters` (which carries rope_theta);
    older versions use top-level `rope_theta` + `rope_scaling`.
    """
    params = inspect.signature(LlamaConfig.__init__).parameters
    if "rope_parameters" in params or "rope_scaling" not in params:
        rp = {"rope_type": "default", "rope_theta": theta}
        if scaling is not None:
            rp = dict(scaling)
            rp["rope_theta"] = theta
        return {"rope_parameters": rp}
    kw = {"rope_theta": theta}
    if scaling is not None:
        kw["rope_scaling"] = dict(scaling)
    return kw


SPECS: dict[str, dict] = {
    "llama-gqa": dict(
        seed=1001,
        arch="LlamaForCausalLM",
        cls=LlamaForCausalLM,
        config_cls=LlamaConfig,
        config=dict(
            COMMON,
            num_attention_heads=4,
            num_key_value_heads=2,
            tie_word_embeddings=False,
            rms_norm_eps=1e-5,
            **_rope_kwargs(10000.0),
        ),
        storage=torch.float32,
        notes="Llama, GQA 4 query heads / 2 KV heads (ratio 2), head_dim 16, untied lm_head, "
        "rope_theta 10000 (default rope), rms_norm_eps 1e-5, F32 single-file safetensors.",
    ),
    "llama3-rope-tied": dict(
        seed=1002,
        arch="LlamaForCausalLM",
        cls=LlamaForCausalLM,
        config_cls=LlamaConfig,
        config=dict(
            COMMON,
            num_attention_heads=4,
            num_key_value_heads=4,
            tie_word_embeddings=True,
            rms_norm_eps=1e-6,
            **_rope_kwargs(LLAMA3_THETA, LLAMA3_ROPE),
        ),
        storage=torch.float32,
        notes="Llama, MHA (4 heads / 4 KV heads), head_dim 16, tied embeddings (no lm_head.weight "
        "in the checkpoint), llama3 rope scaling (factor 8, low 1, high 4, original_max 64, "
        "theta 500000) hitting all three regions (unscaled / smoothed / scaled), F32.",
    ),
    "mistral-swa": dict(
        seed=1003,
        arch="MistralForCausalLM",
        cls=MistralForCausalLM,
        config_cls=MistralConfig,
        config=dict(
            COMMON,
            num_attention_heads=4,
            num_key_value_heads=1,
            tie_word_embeddings=False,
            rms_norm_eps=1e-5,
            sliding_window=64,
            **_rope_kwargs(10000.0),
        ),
        storage=torch.float32,
        notes="Mistral, GQA 4:1 (4 query heads / 1 KV head), sliding_window 64 "
        "(HF semantics: query at position q attends keys k with q-64 < k <= q, i.e. 64 keys "
        "including itself); the 300-token sequence exercises the window. F32.",
    ),
    "qwen2": dict(
        seed=1004,
        arch="Qwen2ForCausalLM",
        cls=Qwen2ForCausalLM,
        config_cls=Qwen2Config,
        config=dict(
            COMMON,
            num_attention_heads=4,
            num_key_value_heads=2,
            tie_word_embeddings=True,
            rms_norm_eps=1e-6,
            **_rope_kwargs(1000000.0),
        ),
        storage=torch.float32,
        generation_eos=[2, 3],
        notes="Qwen2, q/k/v projections with bias (o_proj without), GQA 4/2, tied embeddings, "
        "rope_theta 1e6, F32. generation_config.json has eos_token_id [2, 3] (multi-EOS).",
    ),
    "qwen3": dict(
        seed=1005,
        arch="Qwen3ForCausalLM",
        cls=Qwen3ForCausalLM,
        config_cls=Qwen3Config,
        config=dict(
            COMMON,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=32,
            tie_word_embeddings=False,
            rms_norm_eps=1e-6,
            **_rope_kwargs(1000000.0),
        ),
        storage=torch.float32,
        notes="Qwen3, GQA 4/2, explicit head_dim 32 (!= hidden_size/heads = 16, so q_proj is "
        "64->128 and o_proj 128->64), per-head q_norm/k_norm RMSNorm (randomised), no qkv bias, "
        "untied lm_head, F32.",
    ),
    "qwen2-bf16": dict(
        seed=1006,
        arch="Qwen2ForCausalLM",
        cls=Qwen2ForCausalLM,
        config_cls=Qwen2Config,
        config=dict(
            COMMON,
            num_attention_heads=4,
            num_key_value_heads=2,
            tie_word_embeddings=True,
            rms_norm_eps=1e-6,
            **_rope_kwargs(1000000.0),
        ),
        storage=torch.bfloat16,
        native=True,
        notes="Same shape as qwen2 (different seed), stored in bfloat16. logits.<i> are the float32 "
        "forward of the exactly-upcast bf16 weights; logits_native.<i> are transformers running "
        "natively in bfloat16 (upcast to f32 for storage).",
    ),
    "llama-sharded-f16": dict(
        seed=1007,
        arch="LlamaForCausalLM",
        cls=LlamaForCausalLM,
        config_cls=LlamaConfig,
        config=dict(
            COMMON,
            num_attention_heads=4,
            num_key_value_heads=2,
            tie_word_embeddings=False,
            rms_norm_eps=1e-5,
            **_rope_kwargs(10000.0),
        ),
        storage=torch.float16,
        max_shard_size=48 * 1024,
        min_shards=3,
        notes="Llama GQA 4/2 untied, stored in float16 and split into >= 3 safetensors shards with "
        "model.safetensors.index.json. logits.<i> are the float32 forward of the exactly-upcast "
        "f16 weights.",
    ),
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def set_determinism() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def randomise_parameters(model: torch.nn.Module, seed: int) -> dict[str, int]:
    """Overwrite every parameter with random values (deterministic in `seed`).

    named_parameters() de-duplicates shared tensors, so tied embeddings stay tied.
    """
    g = torch.Generator().manual_seed(seed)
    counts = {"matrix": 0, "bias": 0, "norm": 0}
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = tuple(p.shape)
            noise = torch.randn(shape, generator=g, dtype=torch.float32)
            if "norm" in name and name.endswith(".weight"):
                p.copy_(1.0 + NORM_STD * noise)
                counts["norm"] += 1
            elif name.endswith(".bias"):
                p.copy_(BIAS_STD * noise)
                counts["bias"] += 1
            else:
                assert p.dim() == 2, f"unexpected parameter {name} {shape}"
                p.copy_(MATRIX_STD * noise)
                counts["matrix"] += 1
    return counts


def llama3_regions(head_dim: int, theta: float, rope: dict) -> dict[str, list[int]]:
    """Classify rope frequency indices into the three llama3 regions (same rule as HF)."""
    low_wl = rope["original_max_position_embeddings"] / rope["low_freq_factor"]
    high_wl = rope["original_max_position_embeddings"] / rope["high_freq_factor"]
    regions = {"unscaled": [], "smoothed": [], "scaled": []}
    for i in range(head_dim // 2):
        inv = 1.0 / (theta ** (2 * i / head_dim))
        wl = 2 * math.pi / inv
        if wl < high_wl:
            regions["unscaled"].append(i)
        elif wl > low_wl:
            regions["scaled"].append(i)
        else:
            regions["smoothed"].append(i)
        # keep well away from the boundaries so f32 vs f64 rounding cannot flip a region
        assert abs(wl - high_wl) > 1e-3 * high_wl and abs(wl - low_wl) > 1e-3 * low_wl, (i, wl)
    return regions


def make_tokens(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 128, (t,), generator=g, dtype=torch.int64) for t in SEQ_LENGTHS]


@torch.no_grad()
def forward_logits(model, tokens: torch.Tensor) -> torch.Tensor:
    out = model(input_ids=tokens[None, :], use_cache=False)
    return out.logits[0].float()


def logprobs_of(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    lp = torch.log_softmax(logits.double(), dim=-1).float()
    return lp[:-1].gather(1, tokens[1:, None]).squeeze(1)


def load(cls, path: Path, dtype: torch.dtype):
    m = cls.from_pretrained(str(path), dtype=dtype, attn_implementation="eager")
    m.eval()
    assert m.config._attn_implementation == "eager", m.config._attn_implementation
    return m


def save_model(model, path: Path, max_shard_size=None) -> None:
    kwargs = {}
    if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
        kwargs["safe_serialization"] = True  # transformers < 5; v5 always writes safetensors
    if max_shard_size is not None:
        kwargs["max_shard_size"] = max_shard_size
    model.save_pretrained(str(path), **kwargs)


def stored_state(path: Path) -> dict[str, torch.Tensor]:
    tensors = {}
    for f in sorted(path.glob("model*.safetensors")):
        with safe_open(str(f), "pt") as sf:
            for k in sf.keys():
                tensors[k] = sf.get_tensor(k)
    return tensors


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------
# Verifications
# ---------------------------------------------------------------------------


@torch.no_grad()
def verify_sliding_window(model, tokens: torch.Tensor, window: int) -> dict:
    """Compare logits with the same weights but sliding_window=None."""
    cfg = copy.deepcopy(model.config)
    cfg.sliding_window = None
    if hasattr(cfg, "layer_types") and cfg.layer_types is not None:
        cfg.layer_types = ["full_attention"] * cfg.num_hidden_layers
    full = type(model)(cfg)
    full.load_state_dict(model.state_dict())
    full.eval()
    assert full.config._attn_implementation == "eager"
    a = forward_logits(model, tokens)
    b = forward_logits(full, tokens)
    per_pos = (a - b).abs().amax(dim=-1)
    inside = per_pos[:window].max().item()
    outside_max = per_pos[window:].max().item()
    outside_min = per_pos[window:].min().item()
    frac = (per_pos[window:] > 1e-3).float().mean().item()
    res = dict(
        max_diff_positions_lt_window=inside,
        max_diff_positions_ge_window=outside_max,
        min_diff_positions_ge_window=outside_min,
        fraction_positions_ge_window_differing_gt_1e_3=frac,
        diff_at_window_minus_1=per_pos[window - 1].item(),
        diff_at_window=per_pos[window].item(),
    )
    print(f"  sliding-window check: {json.dumps(res)}")
    assert inside < 1e-5, f"positions < {window} should be unaffected by the window ({inside})"
    assert outside_max > 1e-3, (
        "sliding_window does NOT change transformers' eager logits -- this transformers version ignores it"
    )
    assert per_pos[window].item() > 1e-6, "position == window should already drop key 0"
    return res


@torch.no_grad()
def verify_incremental(model, tokens: torch.Tensor, prefill: int, full_logits: torch.Tensor) -> float:
    """Prefill `prefill` tokens, then decode the rest one at a time with the KV cache."""
    # transformers >= 5.2x renamed `past_key_values` to `cache` (input kwarg and output field).
    key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    out = model(input_ids=tokens[None, :prefill], use_cache=True)
    pieces = [out.logits[0].float()]
    past = getattr(out, key)
    for t in range(prefill, tokens.shape[0]):
        out = model(input_ids=tokens[None, t : t + 1], use_cache=True, **{key: past})
        past = getattr(out, key)
        pieces.append(out.logits[0].float())
    inc = torch.cat(pieces, dim=0)
    return (inc - full_logits).abs().max().item()


# ---------------------------------------------------------------------------
# Build one fixture
# ---------------------------------------------------------------------------


def build(name: str, spec: dict) -> dict:
    print(f"\n=== {name} ({spec['arch']}, storage {spec['storage']}) ===")
    out = OUT_DIR / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    torch.manual_seed(spec["seed"])
    config = spec["config_cls"](**spec["config"], attn_implementation="eager")
    model = spec["cls"](config)
    model.eval()
    assert model.config._attn_implementation == "eager"
    counts = randomise_parameters(model, spec["seed"])
    print(f"  randomised parameters: {counts}")

    tied = bool(spec["config"].get("tie_word_embeddings"))
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    assert (emb.data_ptr() == head.data_ptr()) == tied, "tying state is wrong"

    extra = {}
    if name == "llama3-rope-tied":
        head_dim = config.hidden_size // config.num_attention_heads
        regions = llama3_regions(head_dim, LLAMA3_THETA, LLAMA3_ROPE)
        print(f"  llama3 rope regions (frequency index i of head_dim/2): {regions}")
        for r, idx in regions.items():
            assert idx, f"llama3 rope region {r!r} is empty"
        extra["llama3_regions"] = regions

    # generation config
    gen = model.generation_config
    gen.bos_token_id = 1
    gen.eos_token_id = spec.get("generation_eos", 2)
    gen._from_model_config = False  # generation_config.json is authoritative (like real hub models)

    # storage dtype
    if spec["storage"] != torch.float32:
        model = model.to(spec["storage"])
        model.config.dtype = spec["storage"]  # noqa: the v5 key is `dtype` (torch_dtype in v4)
    save_model(model, out, spec.get("max_shard_size"))
    mem_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    del model

    files = sorted(p.name for p in out.iterdir())
    shards = [f for f in files if f.startswith("model") and f.endswith(".safetensors")]
    if spec.get("min_shards"):
        assert len(shards) >= spec["min_shards"], f"only {len(shards)} shards: {files}"
        assert "model.safetensors.index.json" in files, files
    assert "generation_config.json" in files and "config.json" in files, files

    # The stored tensors must equal the in-memory weights bit for bit.
    stored = stored_state(out)
    for k, v in stored.items():
        assert v.dtype == spec["storage"], (k, v.dtype)
        assert torch.equal(v, mem_state[k]), k
    if tied:
        assert "lm_head.weight" not in stored, "tied model unexpectedly stores lm_head.weight"
    else:
        assert "lm_head.weight" in stored

    # Reference model: float32 with weights equal to the stored values.
    ref_model = load(spec["cls"], out, torch.float32)
    ref_state = ref_model.state_dict()
    for k, v in stored.items():
        assert ref_state[k].dtype == torch.float32
        assert torch.equal(ref_state[k], v.float()), f"reloaded weight differs: {k}"

    tokens = make_tokens(spec["seed"] + 7)
    ref: dict[str, torch.Tensor] = {}
    max_abs = 0.0
    logits_all = []
    for i, tok in enumerate(tokens):
        logits = forward_logits(ref_model, tok)
        assert logits.shape == (tok.shape[0], 128)
        assert torch.isfinite(logits).all()
        logits_all.append(logits)
        max_abs = max(max_abs, logits.abs().max().item())
        ref[f"tokens.{i}"] = tok.to(torch.int32).contiguous()
        ref[f"logits.{i}"] = logits.contiguous()
        if tok.shape[0] > 1:
            ref[f"logprobs.{i}"] = logprobs_of(logits, tok).contiguous()
    std = torch.cat(logits_all).std().item()
    print(f"  logits: max|logit| = {max_abs:.4f}, std = {std:.4f}")

    if spec.get("native"):
        native = load(spec["cls"], out, spec["storage"])
        nd = 0.0
        for i, tok in enumerate(tokens):
            ln = forward_logits(native, tok)
            ref[f"logits_native.{i}"] = ln.contiguous()
            d = (ln - ref[f"logits.{i}"]).abs().max().item()
            print(f"  native {spec['storage']} vs f32-upcast, T={tok.shape[0]}: max|diff| = {d:.6f}")
            nd = max(nd, d)
        extra["native_vs_f32_max_abs_diff"] = nd
        print(f"  native {spec['storage']} vs f32-upcast logits, overall max|diff| = {nd:.6f}")
        del native

    if name == "mistral-swa":
        extra["sliding_window_check"] = verify_sliding_window(
            ref_model, tokens[3], spec["config"]["sliding_window"]
        )
        d = verify_incremental(ref_model, tokens[3], 10, logits_all[3])
        print(f"  incremental decode (prefill 10, then 290 single steps, sliding window) max|diff| = {d:.3e}")
        extra["incremental_decode_max_abs_diff"] = d
        assert d < 1e-3, d
    if name == "llama-gqa":
        d = verify_incremental(ref_model, tokens[3], 5, logits_all[3])
        print(f"  incremental decode (prefill 5, then 295 single steps) max|diff| = {d:.3e}")
        extra["incremental_decode_max_abs_diff"] = d
        assert d < 1e-3, d

    save_file(ref, str(out / "reference.safetensors"), metadata={"format": "pt"})

    cfg_json = json.loads((out / "config.json").read_text())
    gen_json = json.loads((out / "generation_config.json").read_text())
    if name in ("llama3-rope-tied", "qwen3", "mistral-swa", "qwen2-bf16", "llama-sharded-f16"):
        print(f"  saved config.json:\n{(out / 'config.json').read_text()}")
    if name == "qwen2":
        assert gen_json["eos_token_id"] == [2, 3], gen_json
        print(f"  saved generation_config.json:\n{(out / 'generation_config.json').read_text()}")

    files = sorted(p.name for p in out.iterdir())
    entry = dict(
        name=name,
        architecture=spec["arch"],
        model_type=cfg_json.get("model_type"),
        storage_dtype=str(spec["storage"]).replace("torch.", ""),
        config_dtype=cfg_json.get("dtype", cfg_json.get("torch_dtype")),
        reference_dtype="float32",
        seed=spec["seed"],
        num_attention_heads=cfg_json["num_attention_heads"],
        num_key_value_heads=cfg_json["num_key_value_heads"],
        head_dim=cfg_json.get("head_dim"),
        tie_word_embeddings=cfg_json.get("tie_word_embeddings"),
        generation_eos_token_id=gen_json.get("eos_token_id"),
        sequence_lengths=list(SEQ_LENGTHS),
        max_abs_logit=max_abs,
        logit_std=std,
        notes=spec["notes"],
        files={f: dict(bytes=(out / f).stat().st_size, sha256=sha256(out / f)) for f in files},
        **extra,
    )
    return entry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=list(SPECS), help="fixtures to (re)build")
    args = ap.parse_args()
    names = args.only or list(SPECS)

    set_determinism()
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    manifest_path = OUT_DIR / "MANIFEST.json"
    previous = {}
    if manifest_path.exists():
        try:
            previous = {m["name"]: m for m in json.loads(manifest_path.read_text()).get("models", [])}
        except Exception:
            previous = {}

    built = {}
    for name in names:
        built[name] = build(name, SPECS[name])

    models = [built.get(n, previous.get(n)) for n in SPECS]
    manifest = dict(
        generator="tools/make_fixtures.py",
        description="Tiny random-weight HF causal-LM fixtures with transformers reference logits "
        "(see tools/README-fixtures.md).",
        versions=dict(
            python=platform.python_version(),
            torch=torch.__version__,
            transformers=transformers.__version__,
            safetensors=safetensors.__version__,
        ),
        reference_layout={
            "tokens.<i>": "int32 [T]",
            "logits.<i>": "float32 [T, vocab]",
            "logprobs.<i>": "float32 [T-1], log_softmax(logits[t])[tokens[t+1]]; absent when T == 1",
            "logits_native.<i>": "float32 [T, vocab], qwen2-bf16 only (native bfloat16 forward)",
        },
        init=dict(matrix_std=MATRIX_STD, bias_std=BIAS_STD, norm="1 + N(0, %g)" % NORM_STD),
        models=[m for m in models if m is not None],
    )
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")

    print("\n=== summary ===")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, safetensors {safetensors.__version__}")
    total = 0
    for name in names:
        e = built[name]
        size = sum(f["bytes"] for f in e["files"].values())
        total += size
        print(
            f"{name:20s} {e['architecture']:20s} {e['storage_dtype']:9s} "
            f"max|logit| {e['max_abs_logit']:7.3f}  files {len(e['files'])}  {size / 1024:8.1f} KiB"
        )
    print(f"built {len(names)} fixture(s), {total / 1024:.1f} KiB; manifest: {manifest_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
