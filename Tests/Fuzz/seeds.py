#!/usr/bin/env python3
"""Writes each fuzz harness's starting corpus from the repo's fixtures.

usage: seeds.py OUT_DIR   (OUT_DIR/<harness>/seed-*; files libFuzzer added are kept)
"""
import glob
import json
import os
import struct
import sys

out = sys.argv[1]
repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
F = os.path.join(repo, "Tests", "Fixtures")


def put(harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name.replace("/", "_")), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def safetensors_header(path):
    raw = read(path)
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n])


def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, dtype, shape, size in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]}
        data += bytes((i * 37) % 256 for i in range(size))
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


models = sorted(glob.glob(os.path.join(F, "models", "*")))
models = [m for m in models if os.path.isdir(m)]
sizes = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "U8": 1, "BOOL": 1, "F64": 8, "I32": 4}

for m in models:
    name = os.path.basename(m)
    config = read(os.path.join(m, "config.json"))
    gen = os.path.join(m, "generation_config.json")
    put("config", name, config + (b"\0" + read(gen) if os.path.exists(gen) else b""))
    put("json", name + "-config", config)
    for st in sorted(glob.glob(os.path.join(m, "*.safetensors")))[:2]:
        header = safetensors_header(st)
        small = []
        for t, v in list(header.items())[:6]:
            if t == "__metadata__":
                continue
            shape = [min(d, 3) for d in v["shape"]]
            count = 1
            for d in shape:
                count *= d
            small.append((t, v["dtype"], shape, count * sizes.get(v["dtype"], 4)))
        put("safetensors", name + "-" + os.path.basename(st), safetensors(small, header.get("__metadata__")))
        put("json", name + "-" + os.path.basename(st) + "-header", json.dumps(header))
put("safetensors", "all-dtypes", safetensors([(k.lower(), k, [2], 2 * v) for k, v in sizes.items()] + [("empty", "F32", [0], 0)],
                                              {"format": "pt"}))
index = os.path.join(F, "models", "llama-sharded-f16", "model.safetensors.index.json")
put("weights", "index", read(index))
put("json", "index", read(index))

tokenizer_dirs = sorted(d for d in glob.glob(os.path.join(F, "tokenizers", "*")) if os.path.isdir(d))
tokenizer_dirs += [os.path.join(F, "models", "qwen2-chat")]
for d in tokenizer_dirs:
    tj = os.path.join(d, "tokenizer.json")
    if os.path.exists(tj):
        name = os.path.basename(d)
        put("tokenizer-load", name, read(tj) + "\0Hello world! It's 2024: <|im_end|> café 日本語 🙂\n  x".encode())
        cfg = os.path.join(d, "tokenizer_config.json")
        if os.path.exists(cfg):
            put("jinja", name + "-config", read(cfg))
texts = ["Hello world!", "  leading spaces and\ttabs\n\nnewlines", "It's 12345 o'clock; don't", "<|im_start|>user\nhi<|im_end|>",
         "<s>[INST] hi [/INST]</s>", "café naïve ﬁ ｆｕｌｌ Å", "日本語のテキスト", "🙂👍🏽 emoji", "\xff\xfe invalid", "a" * 300]
for i in range(9):
    for j, t in enumerate(texts):
        put("tokenizer-encode", "%d-%d" % (i, j), bytes([i << 2 | (j % 4)]) + t.encode("utf-8", "surrogateescape"))

for t in sorted(glob.glob(os.path.join(repo, "tools", "chat_templates", "*.jinja"))):
    put("jinja", os.path.basename(t), read(t))
for c in sorted(glob.glob(os.path.join(F, "chat", "*", "tokenizer_config.json"))):
    put("jinja", os.path.basename(os.path.dirname(c)) + "-config", read(c))
    put("json", os.path.basename(os.path.dirname(c)) + "-tokenizer-config", read(c))
put("jinja", "syntax", "{% set ns = namespace(x=0) %}{% for m in messages %}{% if loop.first %}{{ bos_token }}{% endif %}"
                       "{{ m.role | upper }}: {{ m.content | trim }}{% set ns.x = ns.x + 1 %}{% endfor %}"
                       "{% macro f(a, b=2) %}{{ a ~ b }}{% endmacro %}{{ f(1) }}{{ tools | tojson(indent=2) }}"
                       "{{ raise_exception('x') if ns.x > 99 }}{{ '%d' % 3 }}{{ [1,2,3][::-1] | join(',') }}{{ strftime_now('%Y') }}")

sft = {
    "prompt-completion": '{"prompt": "2+2=", "completion": "4"}\n{"prompt": "Q", "completion": "A", "weights": [1]}\n',
    "messages": '{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n',
    "ids": '{"input_ids": [1, 2, 3, 4], "labels_mask": [0, 1, 1, 1]}\n{"input_ids": [5, 6], "loss_mask": [0, 1], "weights": [0.5, 1.0]}\n',
}
for k, v in sft.items():
    put("sft", k, b"\0" + v.encode())
put("sft", "csv", b"\1" + b'category,question,original_answer,correct_answer\nadd,"47+38","75","85"\n"x","q, with comma","a ""quoted""",b\r\n')
put("rl-data", "basic", '{"problem": "2+2?", "answer": "4"}\n\n{"question": "x", "reference": 5}\n{"problem": "p", "tests": ["a", "b"]}\n')
put("rl-data", "numbers", '{"problem": "p", "solution": 0.25}\n{"problem": "q", "answer": "\\\\frac{1}{2}"}\r\n')

with open(os.path.join(F, "verify", "math_verify_pairs.jsonl")) as f:
    for i, line in enumerate(f):
        row = json.loads(line)
        if i % 3 == 0:  # a third of the 1,312 pairs: every category, a small corpus
            put("verify", "%04d" % i, row["prediction"].encode() + b"\0" + row["gold"].encode())

put("capi", "tokenize", bytes([0, 3, 16, 12]) + b"Hello world!" + bytes([1, 0, 16, 4, 0, 5, 0, 0, 0, 0, 9, 0, 0, 0]))
put("capi", "render", bytes([5, 0x48, 63, 0, 2]) + b"{}" + bytes([2, 4]) + b"user" + bytes([2]) + b"hi" + bytes([9]) + b"assistant" + bytes([1]) + b"x")
put("capi", "verify", bytes([6, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13]) + b"\\boxed{\\frac12}" [:13] + bytes([3]) + b"0.5")
put("capi", "logprobs", bytes([7, 0, 40, 5, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0, 0, 0, 0, 5, 0, 0, 0]))
put("capi", "mixed", bytes(range(14)) * 3)
