#!/usr/bin/env python3
"""A tiny chat model for the revise-loop tests: Tests/Fixtures/models/qwen2-chat/.

A random-weight Qwen2ForCausalLM whose vocabulary is the Qwen2-style test
tokenizer's (Tests/Fixtures/tokenizers/qwen2, 705 tokens with <|im_start|>,
<|im_end|>), with Qwen2.5-Instruct's chat template. It also records, with
transformers, the token ids of a full two-attempt conversation rendered by
apply_chat_template and tokenized once — the reference for token-in/token-out.

Run by hand: python tools/make_chat_model_fixture.py (needs torch, transformers).
"""
import json
import pathlib
import shutil

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "Fixtures"
OUT = ROOT / "models" / "qwen2-chat"


def main() -> None:
    torch.manual_seed(4321)
    tok_dir = ROOT / "tokenizers" / "qwen2"
    template = json.loads((ROOT / "chat" / "qwen2.5-instruct" / "tokenizer_config.json").read_text())["chat_template"]
    vocab = len(json.loads((tok_dir / "tokenizer.json").read_text())["model"]["vocab"]) + 5
    config = transformers.Qwen2Config(
        vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        tie_word_embeddings=True, rms_norm_eps=1e-6, bos_token_id=None, eos_token_id=702)
    model = transformers.Qwen2ForCausalLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
    model.generation_config.eos_token_id = [702, 700]
    if OUT.exists():
        shutil.rmtree(OUT)
    model.save_pretrained(OUT)
    shutil.copy(tok_dir / "tokenizer.json", OUT / "tokenizer.json")
    cfg = json.loads((tok_dir / "tokenizer_config.json").read_text())
    cfg["chat_template"] = template
    (OUT / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")

    tokenizer = transformers.AutoTokenizer.from_pretrained(OUT)
    instruction = ("There might be an error in the solution above because of lack of understanding of the question. "
                   "Please correct the error, if any, and rewrite the solution.")
    cases = []
    for problem, answer in [("What is 2 + 3?", "2 + 3 = 5. The answer is 5."),
                            ("Compute 12 * 4.", "12 * 4 = 48\n\nFinal Answer: 48")]:
        turn1 = [{"role": "user", "content": problem}]
        full = turn1 + [{"role": "assistant", "content": answer}, {"role": "user", "content": instruction}]
        cases.append({
            "problem": problem, "answer": answer, "instruction": instruction,
            "prompt_ids": tokenizer.apply_chat_template(turn1, add_generation_prompt=True, tokenize=True, return_dict=False),
            "answer_ids": tokenizer.encode(answer, add_special_tokens=False),
            "full_ids": tokenizer.apply_chat_template(full, add_generation_prompt=True, tokenize=True, return_dict=False),
        })
    (OUT / "revision.json").write_text(json.dumps({"cases": cases, "transformers": transformers.__version__}, ensure_ascii=False) + "\n")
    print("wrote", OUT, "vocab", vocab)


if __name__ == "__main__":
    main()
