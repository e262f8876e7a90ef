#!/usr/bin/env python3
"""Greedy generations from transformers for the fixture models.

For each model in Tests/Fixtures/models/ (built by make_fixtures.py), runs
`model.generate(do_sample=False, max_new_tokens=64)` on three prompts of
random token ids and writes Tests/Fixtures/models/<name>/generation.json:
{"prompts": [[...]], "outputs": [[...new tokens...]], "eos_token_id": [...]}.
transformers stops at the generation config's EOS ids and includes the EOS
token in the output, as libscore does.

Run by hand (needs torch + transformers): python tools/make_generation_fixtures.py
"""
import json
import zlib
import pathlib
import sys

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "models"
MODELS = ["llama-gqa", "llama3-rope-tied", "mistral-swa", "qwen2", "qwen3", "qwen2-bf16", "llama-sharded-f16"]
PROMPT_LENGTHS = [3, 8, 20]
NEW_TOKENS = 64


def main() -> None:
    torch.manual_seed(1234)
    for name in MODELS:
        path = ROOT / name
        model = transformers.AutoModelForCausalLM.from_pretrained(
            path, dtype=torch.float32, attn_implementation="eager")
        model.eval()
        gen = model.generation_config
        vocab = model.config.vocab_size
        g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        prompts, outputs = [], []
        for n in PROMPT_LENGTHS:
            # Avoid EOS ids inside prompts so the prompt itself is ordinary text.
            eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
            ids = [int(t) for t in torch.randint(3, vocab, (n,), generator=g)]
            with torch.no_grad():
                out = model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=NEW_TOKENS,
                                     pad_token_id=eos[0], eos_token_id=eos)
            prompts.append(ids)
            outputs.append([int(t) for t in out[0, n:]])
        record = {"prompts": prompts, "outputs": outputs, "eos_token_id": eos,
                  "max_new_tokens": NEW_TOKENS, "transformers": transformers.__version__}
        (path / "generation.json").write_text(json.dumps(record) + "\n")
        print(name, [len(o) for o in outputs])


if __name__ == "__main__":
    sys.exit(main())
