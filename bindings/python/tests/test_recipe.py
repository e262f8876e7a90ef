"""score.run_recipe (score_rl_run_recipe) on the qwen2-chat fixture: the
outputs, the step reports, resuming, bad input, and the same run as
``score-cli train``."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import score

ROOT = Path(__file__).resolve().parents[3]
MODELS = ROOT / "Tests" / "Fixtures" / "models"
PROBLEMS = ["What is 2 + 3?", "What is 1 + 1?", "Name a colour."]
ANSWERS = ["5", "2", "red"]
SMALL = dict(samples=2, max_new_tokens=4, problems_per_step=2, steps=1, save_every=1, learning_rate=1e-2, temperature=0.7)


@pytest.fixture(scope="module")
def model():
    with score.Model.load(MODELS / "qwen2-chat") as m:
        yield m


def has_digit(problem, attempt, reference):
    return float(any(c.isdigit() for c in attempt))


def test_a_run_writes_last_and_best_and_reports_every_step(model, tmp_path):
    reports, calls = [], []

    def reward(problem, attempt, reference):
        calls.append((problem, reference))
        return has_digit(problem, attempt, reference)

    out = tmp_path / "run"
    r = score.run_recipe(model, out, PROBLEMS, ANSWERS, eval_problems=PROBLEMS[:2], eval_answers=ANSWERS[:2],
                         reward=reward, eval_every=1, on_step=reports.append, **SMALL)
    assert r["steps_trained"] == 2 and r["step"] == 2 and r["best_step"] >= 1 and 0 <= r["best_reward"] <= 1
    assert r["last"] == str(out / "last") and r["best"] == str(out / "best")
    for f in ("last/trainer_state.json", "last/score_state.json", "last/model.safetensors", "best/model.safetensors",
              "best/tokenizer.json"):
        assert (out / f).is_file(), f
    state = json.loads((out / "last" / "score_state.json").read_text())
    assert state["format"] == "libscore-score-run" and state["step"] == 2 and state["settings"]["verifier"] == "callback"
    assert [(x["step"], x["stage"], x["round"], x["step_in_stage"]) for x in reports] == [(1, 1, 1, 1), (2, 2, 1, 1)]
    assert all(x["total_steps"] == 2 and len(x["stats"]["reward_per_turn"]) == 2 for x in reports)
    assert all(x["eval"]["problems"] == 2 and len(x["eval"]["accuracy"]) == 2 for x in reports)
    assert calls and all(ANSWERS[PROBLEMS.index(p)] == a for p, a in calls)

    # The directory holds a run: a new one is refused, a second round continues it.
    with pytest.raises(score.ScoreError, match="already holds a run"):
        score.run_recipe(model, out, PROBLEMS, ANSWERS, reward=reward, **SMALL)
    with pytest.raises(score.ScoreError, match=r"other settings \(rl->samples_per_problem\)"):
        score.run_recipe(model, out, PROBLEMS, ANSWERS, reward=reward, resume=True, **{**SMALL, "samples": 3})
    reports.clear()
    r = score.run_recipe(model, out, PROBLEMS, ANSWERS, reward=reward, resume=True, rounds=2, on_step=reports.append, **SMALL)
    assert r["steps_trained"] == 2 and r["step"] == 4
    assert [(x["step"], x["stage"], x["round"]) for x in reports] == [(3, 1, 2), (4, 2, 2)]
    assert all(x["eval"] is None for x in reports)


def test_a_verifier_name_is_the_built_in_verifier(model, tmp_path):
    r = score.run_recipe(model, tmp_path / "v", PROBLEMS, ANSWERS, reward="exact", stage=2, **SMALL)
    assert r["step"] == 1
    state = json.loads((tmp_path / "v" / "last" / "score_state.json").read_text())
    assert state["settings"]["verifier"] == "exact" and state["settings"]["stage"] == "2"


def test_each_stage_can_have_its_own_step_count(model, tmp_path):
    reports = []
    r = score.run_recipe(model, tmp_path / "split", PROBLEMS, ANSWERS, reward="exact", stage1_steps=1, stage2_steps=2,
                         on_step=reports.append, **SMALL)
    assert r["step"] == 3
    assert [(x["stage"], x["step_in_stage"]) for x in reports] == [(1, 1), (2, 1), (2, 2)]
    with pytest.raises(score.ScoreError, match="Stage I steps"):
        score.run_recipe(model, tmp_path / "bad", PROBLEMS, ANSWERS, reward="exact", stage1_steps=-2, **SMALL)


def test_bad_input_raises_and_writes_nothing(model, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(score.ScoreValueError, match="stage must be 1, 2 or 'both'"):
        score.run_recipe(model, out, PROBLEMS, ANSWERS, stage=3, **SMALL)
    with pytest.raises(score.ScoreError, match="steps per stage must be in 1") as e:
        score.run_recipe(model, out, PROBLEMS, ANSWERS, **{**SMALL, "steps": 0})
    assert e.value.status == score.ERR_INVALID_ARGUMENT
    with pytest.raises(score.ScoreError, match="rounds need both stages"):
        score.run_recipe(model, out, PROBLEMS, ANSWERS, stage=1, rounds=2, **SMALL)
    with pytest.raises(score.ScoreError, match="anchoring Stage II"):
        score.run_recipe(model, out, PROBLEMS, ANSWERS, stage=2, anchor_to_stage1=True, **SMALL)
    with pytest.raises(score.ScoreValueError, match="2 references for 3 problems"):
        score.run_recipe(model, out, PROBLEMS, ANSWERS[:2], **SMALL)
    with pytest.raises(score.ScoreValueError, match="go together"):
        score.run_recipe(model, out, PROBLEMS, ANSWERS, eval_problems=PROBLEMS, **SMALL)
    with pytest.raises(score.ScoreValueError, match="verifier 'fuzzy'"):
        score.run_recipe(model, out, PROBLEMS, ANSWERS, reward="fuzzy", **SMALL)
    with pytest.raises(score.ScoreError, match="holds no checkpoint to continue"):
        score.run_recipe(model, out, PROBLEMS, ANSWERS, resume=True, **SMALL)
    with score.Model.load(MODELS / "qwen2") as plain:
        with pytest.raises(score.ScoreError, match="no tokenizer.json"):
            score.run_recipe(plain, out, PROBLEMS, ANSWERS, **SMALL)
    assert not out.exists()


def test_callbacks_stop_the_run_and_their_exceptions_propagate(model, tmp_path):
    with pytest.raises(score.ScoreError, match="on_step stopped the run after step 1") as e:
        score.run_recipe(model, tmp_path / "a", PROBLEMS, ANSWERS, reward=has_digit, on_step=lambda r: False, **SMALL)
    assert e.value.status == score.ERR_ABORTED
    assert (tmp_path / "a" / "last").is_dir() is False  # stopped before step 1's checkpoint

    def boom(report):
        raise KeyError("from on_step")

    with pytest.raises(KeyError, match="from on_step"):
        score.run_recipe(model, tmp_path / "b", PROBLEMS, ANSWERS, reward=has_digit, on_step=boom, **SMALL)

    def bad_reward(problem, attempt, reference):
        raise RuntimeError("verifier down")

    with pytest.raises(RuntimeError, match="verifier down"):
        score.run_recipe(model, tmp_path / "c", PROBLEMS, ANSWERS, reward=bad_reward, **SMALL)
    with pytest.raises(score.ScoreError, match="stopped by the progress callback") as e:
        score.run_recipe(model, tmp_path / "d", PROBLEMS, ANSWERS, reward=has_digit,
                         progress=lambda phase, done, total: phase != "update", **SMALL)
    assert e.value.status == score.ERR_ABORTED


def _cli():
    library = os.environ.get("SCORE_LIBRARY")
    cli = Path(library).parent / "score-cli" if library else ROOT / ".build" / "release" / "score-cli"
    return cli if cli.is_file() else None


@pytest.mark.skipif(_cli() is None, reason="score-cli is not built next to the library")
def test_the_same_run_as_score_cli_train(model, tmp_path):
    """score-cli train and run_recipe write the same checkpoints and weights;
    either resumes the other's run."""
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"problem": p, "answer": "id"}) + "\n" for p in PROBLEMS))
    cli_args = ["--data", str(data), "--samples", "4", "--problems-per-step", "2", "--max-new-tokens", "1",
                "--verifier", "exact", "--temperature", "0.3", "--lr", "1e-2", "--stage", "both", "--steps", "2",
                "--reference", "stage1", "--save-every", "1", "--seed", "5"]
    same = dict(reward="exact", samples=4, problems_per_step=2, max_new_tokens=1, temperature=0.3, learning_rate=1e-2,
                stage="both", steps=2, anchor_to_stage1=True, save_every=1, seed=5, micro_batch=8)
    answers = ["id"] * len(PROBLEMS)

    def train(*args):
        subprocess.run([str(_cli()), "train", str(MODELS / "qwen2-chat"), *cli_args, *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    train("--rounds", "2", "--out", str(tmp_path / "cli"))
    reports = []
    r = score.run_recipe(model, tmp_path / "py", PROBLEMS, answers, rounds=2, on_step=reports.append, **same)
    assert r["step"] == 8
    # One round by score-cli, the second by run_recipe.
    train("--out", str(tmp_path / "mixed"))
    r = score.run_recipe(model, tmp_path / "mixed", PROBLEMS, answers, rounds=2, resume=True, **same)
    assert r["steps_trained"] == 4 and r["step"] == 8

    cli_log = [json.loads(line) for line in open(str(tmp_path / "cli") + ".metrics.jsonl")]
    assert [(x["step"], x["stage"], x["round"]) for x in cli_log] == [(x["step"], x["stage"], x["round"]) for x in reports]
    assert [x["grad_norm"] for x in cli_log] == [x["stats"]["grad_norm"] for x in reports]
    assert any(x["grad_norm"] > 0 for x in cli_log), "no step moved the policy"
    for f in ("last/model.safetensors", "best/model.safetensors"):
        cli = (tmp_path / "cli" / f).read_bytes()
        assert (tmp_path / "py" / f).read_bytes() == cli, f
        assert (tmp_path / "mixed" / f).read_bytes() == cli, f
    state = lambda d: {k: v for k, v in json.loads((tmp_path / d / "last" / "score_state.json").read_text()).items() if k != "elapsed"}
    assert state("py") == state("cli") == state("mixed")
