"""score.Trainer: steps, checkpoints that transformers/peft load, bad input."""

import json
import math
import os
from pathlib import Path

import pytest

import score

ROOT = Path(__file__).resolve().parents[3]
MODELS = ROOT / "Tests" / "Fixtures" / "models"


def batch():
    seqs = [[1, 5, 9, 30, 2, 7, 7, 3], [4, 8, 15, 16, 23, 42]]
    masks = [[0, 0, 0, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]]
    return seqs, masks


@pytest.fixture
def model():
    with score.Model.load(MODELS / "qwen2") as m:
        yield m


def test_full_step_reduces_loss_and_reports_stats(model):
    seqs, masks = batch()
    with score.Trainer(model, learning_rate=1e-2, weight_decay=0.0, max_grad_norm=1.0) as t:
        first = t.step(seqs, masks)
        for _ in range(5):
            last = t.step(seqs, masks)
    assert first.optimizer_stepped and first.step == 1 and last.step == 6
    assert first.tokens == 14 and first.target_tokens == 10
    assert last.loss < first.loss
    assert first.grad_norm > 0 and first.learning_rate == pytest.approx(1e-2)
    assert first.tokens_per_second > 0


def test_policy_gradient_weights_and_kl(model):
    seqs, masks = batch()
    weights = [[0, 0, 0, 1.5, 1.5, 1.5, 1.5, 1.5], [0, -0.5, -0.5, -0.5, -0.5, -0.5]]
    with score.Trainer(model, lora_rank=4, lora_targets=["q_proj", "v_proj"], kl="k3", kl_coefficient=0.1,
                       learning_rate=1e-2) as t:
        s = t.step(seqs, masks, weights=weights)
        assert s.kl == pytest.approx(0.0, abs=1e-9)  # fresh adapter: policy == reference
        s = t.step(seqs, masks, weights=weights)
        assert s.kl > 0


def test_save_resume_and_transformers_loads_the_model(model, tmp_path):
    seqs, masks = batch()
    with score.Trainer(model, learning_rate=1e-3) as t:
        t.step(seqs, masks)
        t.save(tmp_path / "ckpt")
        expected = [t.step(seqs, masks).loss for _ in range(2)]
    with score.Trainer.resume(model, tmp_path / "ckpt") as t:
        got = [t.step(seqs, masks).loss for _ in range(2)]
    assert got == expected  # bit for bit
    state = json.loads((tmp_path / "ckpt" / "trainer_state.json").read_text())
    assert state["step"] == 1
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    m = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path / "ckpt"), dtype=torch.float32)
    with torch.no_grad():
        logits = m(input_ids=torch.tensor([seqs[0]])).logits[0]
    lp = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(seqs[0][1:])[:, None]).squeeze(1)
    with score.Model.load(tmp_path / "ckpt") as saved:
        ours = saved.logprobs(seqs[0])
    assert max(abs(a - b) for a, b in zip(ours, lp.tolist())) < 1e-4


def test_peft_loads_the_adapter(model, tmp_path):
    seqs, masks = batch()
    with score.Trainer(model, lora_rank=4, lora_alpha=8, lora_targets=["q_proj", "up_proj"], learning_rate=1e-2) as t:
        for _ in range(3):
            t.step(seqs, masks)
        t.save(tmp_path / "adapter")
        t.export(tmp_path / "merged")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    base = transformers.AutoModelForCausalLM.from_pretrained(str(MODELS / "qwen2"), dtype=torch.float32)
    pm = peft.PeftModel.from_pretrained(base, str(tmp_path / "adapter"))
    with torch.no_grad():
        logits = pm(input_ids=torch.tensor([seqs[0]])).logits[0]
    lp = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(seqs[0][1:])[:, None]).squeeze(1)
    with score.Model.load(tmp_path / "merged") as merged:
        ours = merged.logprobs(seqs[0])
    assert max(abs(a - b) for a, b in zip(ours, lp.tolist())) < 1e-4


def test_bad_input(model, tmp_path):
    seqs, masks = batch()
    with pytest.raises(score.ScoreError):
        score.Trainer(model, learning_rate=math.nan)
    with pytest.raises(score.ScoreError):
        score.Trainer(model, lora_rank=4, lora_targets=["qkv_proj"])
    with pytest.raises(TypeError):
        score.Trainer(model, learning_rat=1e-3)
    with score.Trainer(model) as t:
        with pytest.raises(score.ScoreError):
            t.step(seqs, [[0] * len(s) for s in seqs])  # no target tokens
        with pytest.raises(score.ScoreError):
            t.step(seqs, [masks[0][:-1], masks[1]])  # wrong mask length
        with pytest.raises(score.ScoreError):
            t.step([[1, 2, 100000]], [[0, 1, 1]])  # id outside the vocabulary
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "notes.txt").write_text("mine")
        with pytest.raises(score.ScoreError):
            t.save(tmp_path / "other")
        assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    t.close()
    with pytest.raises(score.ScoreError):
        t.step(seqs, masks)
