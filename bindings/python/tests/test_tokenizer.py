"""score.Tokenizer against the reference ids recorded by tools/make_tokenizer_fixtures.py."""

import json
import shutil
from pathlib import Path

import pytest

import score

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "Tests" / "Fixtures" / "tokenizers"
MODELS = ROOT / "Tests" / "Fixtures" / "models"
FAMILIES = ["gpt2", "gpt2-legacy-merges", "llama3", "qwen2", "smollm2", "llama2", "mistral", "misc", "nfkc"]


def cases(family):
    return json.loads((FIXTURES / family / "expected.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("family", FAMILIES)
def test_matches_reference(family):
    with score.Tokenizer.load(FIXTURES / family) as tok:
        for c in cases(family):
            assert tok.encode(c["text"], parse_special=True) == c["ids"], c["text"]
            assert tok.encode(c["text"], add_special=False, parse_special=True) == c["ids_no_special"], c["text"]
            assert tok.encode(c["text"]) == c["ids_plain"], c["text"]  # safe default: special text is plain
            if c["decoded"] is not None:
                assert tok.decode(c["ids"]) == c["decoded"]
            if c["decoded_skip"] is not None:
                assert tok.decode(c["ids"], skip_special=True) == c["decoded_skip"]


@pytest.mark.parametrize("family", ["qwen2", "llama2", "mistral"])
def test_streaming_equals_decode(family):
    tok = score.Tokenizer.load(FIXTURES / family)
    for c in cases(family):
        with tok.detokenizer(skip_special=True) as d:
            text = "".join(d.push(i) for i in c["ids"]) + d.flush()
        assert text == tok.decode(c["ids"], skip_special=True)


def test_vocabulary_queries():
    tok = score.Tokenizer.load(FIXTURES / "qwen2")
    assert tok.vocab_size == json.loads((FIXTURES / "qwen2" / "expected.json").read_text())["vocab_size"]
    im_end = tok.token_to_id("<|im_end|>")
    assert im_end is not None and tok.id_to_token(im_end) == "<|im_end|>"
    assert tok.is_special(im_end) and tok.eos_token_ids == (im_end,)
    assert tok.bos_token_id is None
    assert tok.token_to_id("no such token here") is None
    llama3 = score.Tokenizer.load(FIXTURES / "llama3")
    assert llama3.bos_token_id == llama3.token_to_id("<|begin_of_text|>")


def test_bad_input():
    tok = score.Tokenizer.load(FIXTURES / "gpt2")
    with pytest.raises(score.ScoreError) as e:
        tok.encode("lone surrogate \ud800")
    assert e.value.status == score.ERR_INVALID_ARGUMENT and "UTF-8" in str(e.value)
    with pytest.raises(score.ScoreError) as e:
        tok.decode([1, 2, 100000])
    assert e.value.status == score.ERR_INVALID_ARGUMENT
    with pytest.raises(score.ScoreError):
        tok.id_to_token(-1)
    with pytest.raises(TypeError):
        tok.encode(b"bytes")


def test_load_errors(tmp_path):
    with pytest.raises(score.ScoreError) as e:
        score.Tokenizer.load(tmp_path)
    assert e.value.status == score.ERR_IO
    (tmp_path / "tokenizer.json").write_text('{"model": {"type": "BPE", "vocab": {')
    with pytest.raises(score.ScoreError) as e:
        score.Tokenizer.load(tmp_path)
    assert e.value.status == score.ERR_FORMAT
    data = json.loads((FIXTURES / "gpt2" / "tokenizer.json").read_text(encoding="utf-8"))
    data["normalizer"] = {"type": "Precompiled", "precompiled_charsmap": ""}
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(score.ScoreError) as e:
        score.Tokenizer.load(tmp_path)
    assert e.value.status == score.ERR_UNSUPPORTED and "Precompiled" in str(e.value)


def test_model_tokenizer(tmp_path):
    with score.Model.load(MODELS / "qwen2") as model:
        if not (MODELS / "qwen2" / "tokenizer.json").exists():
            assert model.tokenizer is None
    for f in (MODELS / "qwen2").iterdir():
        shutil.copy(f, tmp_path / f.name)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(FIXTURES / "qwen2" / name, tmp_path / name)
    model = score.Model.load(tmp_path)
    tok = model.tokenizer
    assert tok is not None
    assert tok.encode("<|im_start|>hi", parse_special=True)[0] == tok.token_to_id("<|im_start|>")
    model.close()
    with pytest.raises(score.ScoreError):
        tok.encode("after close")
