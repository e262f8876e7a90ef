#!/usr/bin/env python3
"""Tokenizer fixtures for libscore: small tokenizers TRAINED with Hugging Face
`tokenizers`, one per pipeline family we support, and the reference library's
ids and decodings for a test corpus.

Usage:
    python tools/make_tokenizer_fixtures.py

Writes, for every family below:

    Tests/Fixtures/tokenizers/<family>/tokenizer.json
    Tests/Fixtures/tokenizers/<family>/tokenizer_config.json
    Tests/Fixtures/tokenizers/<family>/expected.json

Tests/Fixtures/tokenizers/normalization.json: the reference's NFC, NFD, NFKD and
NFKC of ~200 tricky strings and of every code point with a decomposition (in
runs, so neighbours interact), and Tests/Fixtures/tokenizers/unicode_classes.json: the character classes
(letter, number, whitespace, other) that the reference's regex engine
(Oniguruma inside `tokenizers`) gives every code point, as ranges.

expected.json holds, per test string:
    ids            encode(text, add_special_tokens=True)
    ids_no_special encode(text, add_special_tokens=False)
    ids_plain      encode(text, add_special_tokens=True) with
                   encode_special_tokens=True (special-token text is plain text)
    decoded        decode(ids, skip_special_tokens=False)
    decoded_skip   decode(ids, skip_special_tokens=True)
    pieces         the pre-tokenizer's pieces (only for the split-regex families)

The script is deterministic: trainers run on a fixed corpus; the same
`tokenizers` version writes byte-identical files.
"""

from __future__ import annotations

import json
import os
import random
import sys
import unicodedata
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "tokenizers"

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# ---------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "It's a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.",
    "We'll see what they've done; I'm sure you'd agree they're right.",
    "Tokenization matters: models see ids, not text!",
    "Numbers like 3.14159, 2024-05-17, 1,000,000 and 123456789012 appear often.",
    "HELLO World, hello world, HeLLo WoRLD.",
    "Email me at someone@example.com or visit https://example.org/path?q=1&r=2.",
]
KOREAN = [
    "안녕하세요, 세계! 오늘 날씨가 정말 좋네요.",
    "한국어 형태소 분석은 어렵습니다. 토크나이저가 잘 처리해야 합니다.",
    "서울특별시 강남구 테헤란로 123번지",
]
CHINESE = [
    "你好，世界！今天天气很好。",
    "机器学习模型需要大量的数据来训练。",
    "北京是中华人民共和国的首都，有三千多年的历史。",
]
CODE = [
    "def add(a, b):\n    return a + b\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += x[i] * y[i];\n}\n",
    "if __name__ == \"__main__\":\r\n    main()\r\n",
    "let xs = [1, 2, 3].map { $0 * 2 } // doubled",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "    indented    with    many    spaces",
]
EMOJI = [
    "I love pizza 🍕🍕 and tacos 🌮!",
    "Family: 👨‍👩‍👧‍👦, flags: 🇰🇷🇨🇳🇺🇸, skin tones: 👋🏽👋🏿",
    "Smileys 😀😃😄😁 everywhere 🎉",
]
SPECIAL_LOOKALIKES = [
    "The string <|im_end|> appears inside text.",
    "<s>Starts with a BOS-like tag</s> and ends with one.",
    "<|endoftext|> then <|begin_of_text|> and <|eot_id|>",
    "Not special: <|im_start |> or < s > or <unk>",
]
WHITESPACE = [
    " " * 40 + "forty spaces before",
    "tabs\t\tand\t\t\ttabs",
    "line\r\nbreaks\n\n\nand\r\n\r\nmore",
    "trailing spaces     ",
    "\n\n  \n leading newlines",
]

# Compatibility characters, for the NFKC family (its corpus is the mixed one plus these).
COMPATIBILITY = [
    "ＡＢＣ１２３ full-width Ｌａｔｉｎ ａｎｄ ｄｉｇｉｔｓ！？",
    "ﬁne ﬂour, ﬀ ﬃ ﬄ ligatures; ĳ ǆ ǈ",
    "x² + y³ = z⁴, H₂O and CO₂, 10⁻⁹ m",
    "①②③ ⑩ ⑳ circled, ⑴ ⒜ parenthesized, ⒈ ⒉ full stops",
    "Ⅻ Ⅳ ⅸ ⅿ roman numerals, ½ ¼ ¾ ⅓ fractions",
    "ｶﾀｶﾅ ﾊﾝｶｸ ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ half-width katakana",
    "ㄱㄴㄷ ㅏㅑㅓ compatibility jamo ㅎㅏㄴ ㄱㅡㄹ",
    "㎏ ㎞ ㎡ ㏄ ㍻ ㍿ ㋿ ㈱ ㊤ squared",
    "a\u00a0b\u00a0c no-break spaces\u2007and\u202ffigure",
    "ﷺ ﻻ ﻷ ﭐ ﮔ Arabic presentation forms ﷲ",
    "e\u0301\u0323 o\u0323\u0302 a\u0328\u0301 combining sequences",
    "™ ℡ № ℃ ℉ Ω K Å µ ſ symbols",
    "𝐀𝐁𝐂 𝑥𝑦𝑧 𝔄𝔅 𝟎𝟏𝟐 math alphanumerics",
    "…  ‥ ′″‴ ‼ ⁇ punctuation",
]


def training_corpus() -> list[str]:
    lines = ENGLISH + KOREAN + CHINESE + CODE + EMOJI + SPECIAL_LOOKALIKES + WHITESPACE
    extra = []
    for i in range(60):
        extra.append(f"Item {i}: value={i * 37 % 101} total {i * 12345} ({i / 7:.3f})")
        extra.append(ENGLISH[i % len(ENGLISH)] + " " + KOREAN[i % len(KOREAN)])
        extra.append(CHINESE[i % len(CHINESE)] + CODE[i % len(CODE)])
    return lines * 4 + extra


def test_corpus() -> list[str]:
    cases = [
        "",
        " ",
        "   ",
        " " * 33,
        " " * 70 + "x",
        "\t",
        "\n",
        "\r\n",
        "\n\n\n",
        "a",
        " leading space",
        "  two leading spaces",
        "trailing space ",
        "Hello, world!",
        "hello world",
        "Hello World",
        "HELLO WORLD",
        "It's don't I'M we'VE they'Re you'LL he'D",
        "'s 's' ''s",
        "naïve café résumé",
        "cafe\u0301 (NFD) vs caf\u00e9 (NFC)",
        "e\u0301\u0301\u0301 combining marks on e",
        "Ångström Å Å",
        "ﬁ ligature and ２ fullwidth and ① circled",
        "한국어 텍스트입니다.",
        "\u1100\u1161\u11a8 (conjoining jamo) vs 각",
        "中文文本测试，没有空格的一长串汉字会变成一个很长的词语。",
        "日本語のテキストとカタカナ、ひらがな。",
        "العربية نص",
        "Ελληνικά και Русский текст",
        "emoji 🍕 pizza",
        "👨‍👩‍👧‍👦 family ZWJ sequence",
        "🇰🇷🇨🇳 flags",
        "👋🏽 waving",
        "❤️ heart with VS16",
        "12345",
        "1234567890123456789012345678901234567890",
        "3.14159 and 2.71828",
        "٣٤٥ Arabic-Indic digits and ⅫⅬ roman numerals",
        "x=1;y=22;z=333;w=4444",
        "def f(x):\n    return x ** 2\n",
        "for i in range(10):\n\tprint(i)\r\n",
        "<html><body>Hello</body></html>",
        "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
        "a\u00a0b (no-break space)",
        "a\u2003b (em space) a\u3000b (ideographic space)",
        "line1\nline2\r\nline3\rline4",
        "   \n   \n",
        "word\n\n\n\nword",
        "!!!???...,,,",
        " !!! ??? ",
        "(Hello) [World] {Foo}",
        "don't stop",
        "The <|im_end|> token",
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>",
        "<s>[INST] Hello [/INST]</s>",
        "<s> leading bos",
        "text<s>inside</s>text",
        "<unk> unknown",
        "<|endoftext|>",
        "<|endoftext|><|endoftext|>",
        "<|im_end",
        "|im_end|>",
        "<|im_end|><|im_end|> twice",
        "<tool_call>{\"name\": \"x\"}</tool_call>",
        "[MASK] masked  [MASK]  tokens",
        "Hello World said hello world",
        "phony ony ony. ony",
        "tab\tseparated\tvalues",
        "mixed 한국어 and English and 中文 and 123",
        "ẞ ß ſ İ ı Σ σ ς",
        "'ſ 'S 'T",
        "\u200b zero width space \u200d joiner \ufeff bom",
        "\u0000 nul and \u0001 control \u007f del",
        "\ud7a3\ue000\uffff private use and edge of BMP",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 mathematical letters 𝟙𝟚𝟛",
        "𠀀𠀁 CJK extension B",
        "a" * 300,
        "ab" * 200,
        "🍕" * 50,
        "Hello" + " " * 5 + "World" + "\t" * 3 + "!",
        "     indented code line",
        "x" + "\n" * 10 + "y",
        "The year 2024 had 366 days; 1e10 is big.",
        "$100.00 + €50,00 = ¥?",
        "snake_case and camelCase and kebab-case",
        "http://example.com/a/b?c=d#e",
        "user@example.com",
        "  leading and trailing  ",
        "Q: what's 2+2?\nA: 4.",
        "▁ already has a metaspace ▁▁",
        "Ġ looks byte-level Ċ",
        "<0x41> byte token text",
        "Tschüß! Grüße aus Köln.",
        "Việt Nam Tiếng Việt",
        "हिन्दी पाठ",
        "ภาษาไทย",
        ENGLISH[1],
        KOREAN[1],
        CHINESE[2],
        CODE[1],
        EMOJI[1],
    ]
    return cases


# ---------------------------------------------------------------------------
# Families
# ---------------------------------------------------------------------------


def bpe_trainer(vocab_size: int, special: list[str], **kw) -> trainers.BpeTrainer:
    return trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, special_tokens=special, show_progress=False, **kw)


def byte_level_trainer(vocab_size: int, special: list[str]) -> trainers.BpeTrainer:
    return bpe_trainer(vocab_size, special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())


def family_gpt2() -> tuple[Tokenizer, dict]:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator(training_corpus(), byte_level_trainer(600, ["<|endoftext|>"]))
    config = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
              "tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024}
    return tok, config


def family_gpt2_legacy() -> tuple[Tokenizer, dict]:
    """ByteLevel with add_prefix_space; merges written in the legacy "a b" form."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(training_corpus(), byte_level_trainer(500, ["<|endoftext|>"]))
    config = {"bos_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": False, "rstrip": False, "special": True},
              "eos_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": False, "rstrip": False, "special": True},
              "tokenizer_class": "GPT2Tokenizer"}
    return tok, config


LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


def family_llama3() -> tuple[Tokenizer, dict]:
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(training_corpus(), byte_level_trainer(800, []))
    tok.add_special_tokens(LLAMA3_SPECIAL)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "tokenizer_class": "PreTrainedTokenizerFast",
              "model_max_length": 131072}
    return tok, config


def family_qwen2() -> tuple[Tokenizer, dict]:
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator(training_corpus(), byte_level_trainer(700, []))
    tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.add_tokens([AddedToken("<tool_call>", special=False, normalized=False),
                    AddedToken("</tool_call>", special=False, normalized=False)])
    config = {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
              "tokenizer_class": "Qwen2Tokenizer", "model_max_length": 32768}
    return tok, config


def family_smollm2() -> tuple[Tokenizer, dict]:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator(training_corpus(), byte_level_trainer(600, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]))
    config = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "tokenizer_class": "GPT2Tokenizer"}
    return tok, config


def sentencepiece_decoder() -> decoders.Decoder:
    return decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])


def family_llama2() -> tuple[Tokenizer, dict]:
    """Llama-2 / Mistral-v0.1 (legacy): Prepend+Replace normalizer, byte fallback."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = sentencepiece_decoder()
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tok.train_from_iterator(training_corpus(), bpe_trainer(700, ["<unk>", "<s>", "</s>"] + byte_tokens, limit_alphabet=150))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    # The byte tokens are model vocabulary, not added tokens, as in Llama-2's tokenizer.json.
    config = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
              "add_eos_token": False, "tokenizer_class": "LlamaTokenizer", "legacy": True}
    return tok, config


def family_mistral() -> tuple[Tokenizer, dict]:
    """Llama/Mistral converted with legacy=False: Metaspace pre-tokenizer, prepend_scheme first."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False), decoders.Fuse()])
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tok.train_from_iterator(training_corpus(), bpe_trainer(700, ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"] + byte_tokens, limit_alphabet=150))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    config = {"bos_token": {"content": "<s>", "special": True}, "eos_token": {"content": "</s>", "special": True},
              "unk_token": "<unk>", "tokenizer_class": "LlamaTokenizer", "legacy": False}
    return tok, config


def family_misc() -> tuple[Tokenizer, dict]:
    """Everything else in the supported set: NFC + Lowercase + Replace + Strip normalizers,
    Metaspace (always, split) + contiguous Digits, continuing_subword_prefix /
    end_of_word_suffix, unk without fusing, added tokens with lstrip / rstrip /
    single_word / normalized, a [CLS] $A [SEP] template."""
    tok = Tokenizer(models.BPE(unk_token="[UNK]", fuse_unk=False, continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase(), normalizers.Replace("\t", "    "),
                                           normalizers.Strip(left=False, right=True)])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        pre_tokenizers.Digits(individual_digits=False),
    ])
    tok.decoder = decoders.Sequence([decoders.Replace("</w>", ""), decoders.Replace("##", ""),
                                     decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True),
                                     decoders.Strip(" ", 1, 0)])
    tok.train_from_iterator(training_corpus(), bpe_trainer(900, ["[UNK]", "[CLS]", "[SEP]"], limit_alphabet=120,
                                                           continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=True, special=True, normalized=False)])
    tok.add_tokens([AddedToken("Hello World", normalized=True, special=False),
                    AddedToken("ony", single_word=True, normalized=False, special=False),
                    AddedToken("<s>", normalized=False, special=False, lstrip=True)])
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    config = {"cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]", "mask_token": "[MASK]",
              "tokenizer_class": "PreTrainedTokenizerFast"}
    return tok, config


def family_nfkc() -> tuple[Tokenizer, dict]:
    """NFKC + Lowercase normalizers in front of a byte-level BPE."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator(training_corpus() + COMPATIBILITY * 4, byte_level_trainer(700, ["<|endoftext|>"]))
    config = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "tokenizer_class": "PreTrainedTokenizerFast"}
    return tok, config


FAMILIES = {
    "gpt2": family_gpt2,
    "gpt2-legacy-merges": family_gpt2_legacy,
    "llama3": family_llama3,
    "qwen2": family_qwen2,
    "smollm2": family_smollm2,
    "llama2": family_llama2,
    "mistral": family_mistral,
    "misc": family_misc,
    "nfkc": family_nfkc,
}

# Families whose test strings add the compatibility corpus and its variants.
EXTRA_TEXTS = {"nfkc": lambda: COMPATIBILITY + [t.upper() for t in COMPATIBILITY] + [
    "ＨＥＬＬＯ ｗｏｒｌｄ", "ﬁ", "x²", "①", "Ⅻ", "ｶﾀｶﾅ", "ㄱㅏ", "㎏", "㍻", "\u00a0", "ﻻ", "ǅ", "ẛ\u0323", "ᄀ\u1161\u11a8",
    "\u1100\u1161 \u3131\u314f \uac00\u11a8", "Å\u0327", "ﬃ<|endoftext|>ﬁ", "<|endoftext|>",
]}

SPLIT_PATTERNS = {"llama3": LLAMA3_PATTERN, "qwen2": QWEN2_PATTERN, "gpt2": GPT2_PATTERN}


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def added_tokens_decoder(tok: Tokenizer) -> dict:
    out = {}
    for i, t in sorted(tok.get_added_tokens_decoder().items()):
        out[str(i)] = {"content": t.content, "lstrip": t.lstrip, "normalized": t.normalized, "rstrip": t.rstrip,
                       "single_word": t.single_word, "special": t.special}
    return out


def to_legacy_merges(data: dict) -> None:
    merges = data["model"]["merges"]
    assert all(isinstance(m, list) and len(m) == 2 and " " not in m[0] + m[1] for m in merges)
    data["model"]["merges"] = [f"{a} {b}" for a, b in merges]


def reference_decode(tok: Tokenizer, ids: list[int], skip: bool):
    """None where the reference itself panics (its Strip decoder indexes an
    empty token list); the Swift tests then only require a result, not a crash."""
    try:
        return tok.decode(ids, skip_special_tokens=skip)
    except BaseException as e:  # pyo3 PanicException derives from BaseException
        if type(e).__name__ != "PanicException":
            raise
        return None


def record(name: str, tok: Tokenizer, texts: list[str]) -> dict:
    cases = []
    plain = Tokenizer.from_str(tok.to_str())
    plain.encode_special_tokens = True
    split_pattern = SPLIT_PATTERNS.get(name)
    splitter = pre_tokenizers.Split(Regex(split_pattern), behavior="isolated") if split_pattern else None
    for text in texts:
        ids = tok.encode(text, add_special_tokens=True).ids
        case = {
            "text": text,
            "ids": ids,
            "ids_no_special": tok.encode(text, add_special_tokens=False).ids,
            "ids_plain": plain.encode(text, add_special_tokens=True).ids,
            "decoded": reference_decode(tok, ids, False),
            "decoded_skip": reference_decode(tok, ids, True),
        }
        if splitter is not None:
            case["pieces"] = [p for p, _ in splitter.pre_tokenize_str(text)]
        cases.append(case)
    return {"family": name, "tokenizers_version": tokenizers.__version__,
            "vocab_size": tok.get_vocab_size(with_added_tokens=True), "cases": cases}


def normalization_strings() -> list[str]:
    """~200 tricky strings: hand-picked ones, then seeded random mixtures of
    bases, combining marks of many classes, compatibility characters, Hangul
    and conjoining jamo, and characters newer than the reference's tables."""
    cases = COMPATIBILITY + [
        "", "a", "abc", "\u00e9", "e\u0301", "\u0301", "\u0301e", "\u0301\u0301a",
        "a\u0323\u0301", "a\u0301\u0323", "\u1e9b\u0323", "\u1e0b\u0323", "\u1e0d\u0307", "q\u0307\u0323",
        "\u212b \u2126 \u212a", "\u0344 \u0f73 \u0f75 \u0f81", "\u0958 \u09dc \ufb1d \u2adc", "\u1f71 \u1fbb \u0387 \u037e",
        "\uac00 \uac01 \ud7a3", "\u1100\u1161", "\u1100\u1161\u11a8", "\uac00\u11a8", "\uac01\u11a8", "\u1100\u1100\u1161",
        "\u3131\u314f\u3131", "\u3200 \u320e \u321e \u3260 \u326e", "\uffa1\uffc2 half-width jamo",
        "\u0b47\u0b3e \u0b47\u0300\u0b3e \u0dd9\u0dcf\u0dca", "\u1025\u102e", "\u3046\u3099 \u304b\u3099 \uff76\uff9e",
        "\u00a8\u0301 \u1fee \u0385", "\u03d3 \u03d4 \u03d2\u0301", "\u2460\u0301", "\u00bd\u0301",
        "\ufdfa", "\ufdfb", "\u3300 \u3357 \u337f", "\U0001d400\U0001d7ce \U0001f100 \U0001f12a",
        "\U0001f16a \U0001f16b \U0001f16c", "\u32ff \ua7f2 \U0001fbf0", "\U00011935\U00011930 \U00011938",
        "a\u1dfa\u0301 a\u0301\u1dfa", "\U00016d63\U00016d67 \U00016d68", "\U000113c2\U000113c9",
        "\U0002f800 \U0002fa1d \uf900 \ufa6d", "\u2000\u2001\u2002\u2003\u3000", "\u1d2c\u1d43\u1d9c \u2071\u207f",
        "\u00aa\u00ba \u00b5 \u017f\u0307", "\u0132\u0133 \u013f\u0140 \u0149 \u01c4\u01c5\u01c6",
        "\u0675 \u0676 \u0677 \u0678", "\u0e33 \u0eb3 \u0edc", "\u2474\u24b6\u24d0\u24ea", "\u2026\u2025\u2024",
        "\uff5e\uff5f\uffe0\uffe6\uffe8\uffee", "\ufe30\ufe31\ufe4f\ufe50\ufe6b", "\ufb00\ufb06\ufb13\ufb17",
        "\u1e9e\u00df\u1e9b", "\u0340\u0341\u0343\u0374", "\u2329\u232a\u3008", "a\u034f\u0301", "\U0001d15e\U0001d1bb",
    ]
    rng = random.Random(20240517)
    bases = list("aeiouAEOnNcCsSzZ") + ["\u03b1", "\u03c9", "\u0438", "\u0415", "\u3046", "\u304b", "\u1100", "\uac00", " "]
    marks = ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u030a", "\u030c", "\u0323", "\u0327", "\u0328",
             "\u0331", "\u0345", "\u05b0", "\u0651", "\u093c", "\u3099", "\u309a", "\u1161", "\u11a8", "\u1dfa", "\u0f72"]
    compat = ["\ufb01", "\u00b2", "\u2460", "\u216b", "\uff76", "\uff9e", "\u3131", "\u314f", "\u338f", "\u337b",
              "\u00a0", "\ufefb", "\uff21", "\uff10", "\u1e9b", "\u01c5", "\u2126", "\u0344", "\u1f71", "\U0001d400", "\u2024"]
    pools = [bases, marks, compat]
    while len(cases) < 200:
        n = rng.randint(1, 12)
        cases.append("".join(rng.choice(rng.choice(pools)) for _ in range(n)))
    return cases


def decomposable_runs(run: int = 48) -> list[str]:
    """Every code point with a decomposition in the reference (and a sample of
    Hangul syllables), and every combining mark after a base, in runs."""
    nfkd = normalizers.NFKD()
    points = [cp for cp in range(0x110000)
              if not 0xD800 <= cp <= 0xDFFF and not 0xAC00 <= cp <= 0xD7A3 and nfkd.normalize_str(chr(cp)) != chr(cp)]
    points += list(range(0xAC00, 0xD7A4, 97))
    runs = ["".join(chr(cp) for cp in points[i:i + run]) for i in range(0, len(points), run)]
    marks = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and unicodedata.combining(chr(cp))]
    runs += ["a" + "".join(chr(cp) for cp in marks[i:i + run // 2]) for i in range(0, len(marks), run // 2)]
    return runs


def normalization() -> dict:
    forms = {"nfc": normalizers.NFC(), "nfd": normalizers.NFD(), "nfkd": normalizers.NFKD(), "nfkc": normalizers.NFKC()}
    cases = [{"text": t, **{k: n.normalize_str(t) for k, n in forms.items()}} for t in normalization_strings()]
    runs = [{"text": t, **{k: n.normalize_str(t) for k, n in forms.items() if k != "nfc"}} for t in decomposable_runs()]
    return {"tokenizers_version": tokenizers.__version__, "cases": cases, "runs": runs}


def unicode_classes() -> dict:
    """Classes of every code point as GPT-2's pattern (Oniguruma) sees them:
    L (\\p{L}), N (\\p{N}), S (\\s), O (anything else). Stored as ranges."""
    split = pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated")
    def pieces(s: str) -> int:
        return len(split.pre_tokenize_str(s))
    ranges: list[list] = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if pieces("a" + c) == 1:
            k = "L"
        elif pieces("1" + c) == 1:
            k = "N"
        elif pieces("!" + c) == 1:
            k = "O"
        else:
            k = "S"
        if ranges and ranges[-1][2] == k and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp, k])
    return {"tokenizers_version": tokenizers.__version__, "unicode_data_version": unicodedata.unidata_version,
            "ranges": ranges}


def main() -> None:
    only = set(sys.argv[1:])
    texts = test_corpus()
    for name, build in FAMILIES.items():
        if only and name not in only:
            continue
        tok, config = build()
        data = json.loads(tok.to_str())
        if name == "gpt2-legacy-merges":
            to_legacy_merges(data)
            tok = Tokenizer.from_str(json.dumps(data))
        config["added_tokens_decoder"] = added_tokens_decoder(tok)
        directory = OUT / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        (directory / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        # Record from the file as written, so the fixture and the reference agree.
        reloaded = Tokenizer.from_file(str(directory / "tokenizer.json"))
        expected = record(name, reloaded, texts + EXTRA_TEXTS.get(name, list)())
        (directory / "expected.json").write_text(json.dumps(expected, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{name}: vocab {expected['vocab_size']}, {len(expected['cases'])} cases")
    if not only or "normalization" in only:
        (OUT / "normalization.json").write_text(json.dumps(normalization(), ensure_ascii=False) + "\n", encoding="utf-8")
        print("normalization.json written")
    if not only or "unicode" in only:
        (OUT / "unicode_classes.json").write_text(json.dumps(unicode_classes()) + "\n", encoding="utf-8")
        print("unicode_classes.json written")


if __name__ == "__main__":
    main()
