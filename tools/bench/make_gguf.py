#!/usr/bin/env python3
"""Convert a random-weight bench model (make_bench_model.py) to GGUF for llama.cpp.

Usage:
    python tools/bench/make_gguf.py --shape smollm2-135m|qwen2.5-0.5b --dtype float32|bfloat16
                                    [--llama-dir DIR] [--work-dir DIR] [--force]

The bench models have no tokenizer, and llama.cpp's convert_hf_to_gguf.py needs
one (it also checks the BPE pre-tokenizer by hashing the encoding of a fixed
text). Rather than patching the converter, this script rebuilds a real
tokenizer.json from one of the vocab-only GGUFs that llama.cpp ships in
models/ggml-vocab-*.gguf, with exactly the model's vocab_size tokens:

    qwen2.5-0.5b  -> ggml-vocab-qwen2.gguf      (151936 ids; Qwen2 BPE, pre "qwen2")
    smollm2-135m  -> ggml-vocab-starcoder.gguf  (49152 ids; same size as SmolLM2's
                     own tokenizer, which is not shipped; pre "starcoder")

The rebuilt tokenizer is checked against the .inp/.out test vectors next to the
vocab GGUF, and the converter's own hash check then recognises it, so the
converter runs unmodified. Tokenizer choice does not change benchmark numbers
(llama-bench feeds random token ids); it only has to be valid.

Nothing is written under bench-models/: a copy of the model dir is made in
WORK_DIR/<shape>-<dtype>/ (weights symlinked, JSON copied, tokenizer added) and
the GGUF is written to WORK_DIR/<shape>-<dtype>.gguf at the checkpoint's
precision (float32 -> f32, bfloat16 -> bf16).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_bench_model  # noqa: E402

DEFAULT_LLAMA_DIR = Path(os.environ.get(
    "LLAMA_CPP_DIR", "/work/peers/llama_cpp_python-0.3.36/vendor/llama.cpp"))
DEFAULT_WORK_DIR = Path(os.environ.get("LLAMA_GGUF_DIR", "/work/peers/models"))
OUTTYPE = {"float32": "f32", "bfloat16": "bf16"}

# arch -> (vocab gguf name, tokenizer.json pieces, bos/eos token text)
_BYTELEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
TOKENIZERS = {
    "qwen2": dict(
        vocab="qwen2",
        normalizer={"type": "NFC"},
        pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Split",
             "pattern": {"Regex": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                                  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"},
             "behavior": "Isolated", "invert": False},
            _BYTELEVEL,
        ]},
        post_processor=_BYTELEVEL,
        decoder=_BYTELEVEL,
        bos="<|endoftext|>", eos="<|endoftext|>",
    ),
    "llama": dict(
        vocab="starcoder",
        normalizer=None,
        pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ]},
        post_processor={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
        decoder={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
        bos="<|endoftext|>", eos="<|endoftext|>",
    ),
}


def read_vocab_gguf(llama_dir: Path, name: str):
    sys.path.insert(1, str(llama_dir / "gguf-py"))
    import gguf

    r = gguf.GGUFReader(llama_dir / "models" / f"ggml-vocab-{name}.gguf")
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    types = r.fields["tokenizer.ggml.token_type"].contents()
    merges = r.fields["tokenizer.ggml.merges"].contents()
    return tokens, types, merges


def write_tokenizer(model_dir: Path, arch: str, vocab_size: int, llama_dir: Path) -> None:
    spec = TOKENIZERS[arch]
    tokens, types, merges = read_vocab_gguf(llama_dir, spec["vocab"])
    if len(tokens) != vocab_size:
        raise SystemExit(f"ggml-vocab-{spec['vocab']}.gguf has {len(tokens)} tokens, model wants {vocab_size}")
    NORMAL, CONTROL, USER_DEFINED = 1, 3, 4
    vocab: dict[str, int] = {}
    added = []
    for i, (tok, ty) in enumerate(zip(tokens, types)):
        if tok == f"[PAD{i}]":
            continue  # padding ids: the converter recreates them as UNUSED
        if ty == NORMAL:
            vocab[tok] = i
        elif ty in (CONTROL, USER_DEFINED):
            vocab[tok] = i
            added.append({"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": ty == CONTROL})
        else:
            raise SystemExit(f"unexpected token type {ty} for id {i} {tok!r}")
    tok_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": spec["normalizer"],
        "pre_tokenizer": spec["pre_tokenizer"],
        "post_processor": spec["post_processor"],
        "decoder": spec["decoder"],
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": list(merges)},
    }
    (model_dir / "tokenizer.json").write_text(json.dumps(tok_json, ensure_ascii=False))
    (model_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": spec["bos"], "eos_token": spec["eos"], "pad_token": None, "unk_token": None,
        "add_bos_token": False, "add_eos_token": False, "clean_up_tokenization_spaces": False,
        "model_max_length": 131072,
    }, indent=2) + "\n")
    check_tokenizer(model_dir, llama_dir / "models" / f"ggml-vocab-{spec['vocab']}.gguf")


def check_tokenizer(model_dir: Path, vocab_gguf: Path) -> None:
    """Compare with llama.cpp's test vectors (models/ggml-vocab-*.gguf.inp/.out)."""
    from tokenizers import Tokenizer

    tk = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    inp = Path(str(vocab_gguf) + ".inp").read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
    out = Path(str(vocab_gguf) + ".out").read_text(encoding="utf-8").split("\n")
    bad = 0
    for text, want in zip(inp, out):
        got = tk.encode(text, add_special_tokens=False).ids
        if got != [int(x) for x in want.split()]:
            bad += 1
    n = min(len(inp), len(out))
    if bad:
        raise SystemExit(f"rebuilt tokenizer disagrees with {vocab_gguf.name} test vectors on {bad}/{n} cases")
    print(f"tokenizer OK: matches {n} test vectors of {vocab_gguf.name}", file=sys.stderr)


def prepare_copy(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        target = dst / f.name
        if target.is_symlink() or target.exists():
            target.unlink()
        if f.suffix == ".safetensors":
            target.symlink_to(f)  # 2 GB for qwen2.5-0.5b float32: link, don't copy
        else:
            shutil.copy2(f, target)


def gguf_path(shape: str, dtype: str, work_dir: Path = DEFAULT_WORK_DIR) -> Path:
    return work_dir / f"{shape}-{dtype}.gguf"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(make_bench_model.SHAPES), default="smollm2-135m")
    p.add_argument("--dtype", choices=make_bench_model.DTYPES, default="float32")
    p.add_argument("--llama-dir", type=Path, default=DEFAULT_LLAMA_DIR,
                   help="llama.cpp source tree (convert_hf_to_gguf.py, gguf-py, models/); env LLAMA_CPP_DIR")
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="env LLAMA_GGUF_DIR")
    p.add_argument("--force", action="store_true", help="reconvert even if the GGUF exists")
    a = p.parse_args()

    src = make_bench_model.ensure(a.shape, a.dtype)
    out = gguf_path(a.shape, a.dtype, a.work_dir)
    if out.is_file() and not a.force:
        print(f"{out}: exists, nothing to do (--force to redo)", file=sys.stderr)
        print(out)
        return
    cfg = json.loads((src / "config.json").read_text())
    arch = make_bench_model.SHAPES[a.shape]["arch"]
    copy = a.work_dir / f"{a.shape}-{a.dtype}"
    prepare_copy(src, copy)
    write_tokenizer(copy, arch, cfg["vocab_size"], a.llama_dir)
    env = dict(os.environ, PYTHONPATH=str(a.llama_dir / "gguf-py"))
    cmd = [sys.executable, str(a.llama_dir / "convert_hf_to_gguf.py"), str(copy),
           "--outtype", OUTTYPE[a.dtype], "--outfile", str(out)]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, env=env)
    print(out)


if __name__ == "__main__":
    main()
