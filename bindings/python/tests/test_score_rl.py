"""score.SCoReTrainer, score.verify and score.evaluate on the qwen2-chat
fixture (random weights: the texts are noise, the plumbing is what counts)."""

import math
from pathlib import Path

import pytest

import score
from score.verifiers import code_verifier

MODELS = Path(__file__).resolve().parents[3] / "Tests" / "Fixtures" / "models"
PROBLEMS = ["What is 2 + 3?", "Compute 12 * 4."]
REFERENCES = ["5", "48"]
INSTRUCTION = "Fix the answer above if it is wrong."
SMALL = dict(samples=2, max_new_tokens=5, instruction=INSTRUCTION)


@pytest.fixture(scope="module")
def model():
    with score.Model.load(MODELS / "qwen2-chat") as m:
        yield m


def has_digit(problem, attempt, reference):
    return float(any(c.isdigit() for c in attempt))


def alternating_by_episode():
    """Rewards that differ between the two samples of each problem (0 for
    episodes 0, 2, ..., 1 for 1, 3, ...), so the leave-one-out advantages
    are not all zero and the step has a gradient."""
    calls = []

    def reward(problem, attempt, reference):
        calls.append((problem, reference))
        return float((len(calls) - 1) // 2 % 2)

    return reward, calls


def weights(trainer, directory):
    trainer.export(directory)
    return (Path(directory) / "model.safetensors").read_bytes()


def test_step_reports_sane_stats_and_passes_the_right_arguments(model):
    reward, calls = alternating_by_episode()
    with score.SCoReTrainer(model, reward=reward, seed=3, **SMALL) as t:
        assert t.stage == 1
        s = t.step(PROBLEMS, REFERENCES)
        assert s["step"] == 1 and s["stage"] == 1 and s["rollouts"] == 4
        assert len(calls) == 4 * 2
        assert all(REFERENCES[PROBLEMS.index(p)] == r for p, r in calls)
        assert 0 < s["generated_tokens"] <= 4 * 2 * 5
        assert s["reward_per_turn"] == [0.5, 0.5]
        assert s["kl_per_turn"] == pytest.approx([0.0, 0.0], abs=1e-6)  # policy == reference
        assert all(0 <= z <= 1 for z in s["zero_signal_fraction"])
        assert math.isfinite(s["loss"]) and s["grad_norm"] > 0 and not s["skipped_non_finite"]
        assert s["learning_rate"] == pytest.approx(5e-6)
        assert s["rollout_seconds"] > 0 and s["update_seconds"] > 0

        t.stage = 2
        t.use_current_policy_as_reference()
        s = t.step(PROBLEMS, REFERENCES)
        assert t.stage == 2 and s["stage"] == 2 and s["step"] == 2


def test_a_step_changes_the_weights(model, tmp_path):
    seq = [701, 82, 88, 82, 263, 76, 198, 56, 362, 258, 288]
    before = model.logprobs(seq)
    reward, _ = alternating_by_episode()
    with score.SCoReTrainer(model, reward=reward, learning_rate=1e-3, **SMALL) as t:
        t.step(PROBLEMS, REFERENCES)
        t.export(tmp_path / "policy")
    with score.Model.load(tmp_path / "policy") as policy:
        after = policy.logprobs(seq)
    assert max(abs(a - b) for a, b in zip(before, after)) > 1e-4


def test_a_reward_exception_propagates_and_leaves_the_weights_alone(model, tmp_path):
    good, _ = alternating_by_episode()
    mode = {"reward": "raise"}

    def reward(problem, attempt, reference):
        if mode["reward"] == "raise":
            raise KeyError("verifier lost its table")
        if mode["reward"] == "nan":
            return math.nan
        return good(problem, attempt, reference)

    with score.SCoReTrainer(model, reward=reward, learning_rate=1e-3, **SMALL) as t:
        start = weights(t, tmp_path / "start")
        with pytest.raises(KeyError, match="verifier lost its table"):
            t.step(PROBLEMS, REFERENCES)
        assert weights(t, tmp_path / "after-exception") == start
        mode["reward"] = "nan"
        with pytest.raises(score.ScoreError, match="returned nan") as e:
            t.step(PROBLEMS, REFERENCES)
        assert e.value.status == score.ERR_INVALID_ARGUMENT
        assert weights(t, tmp_path / "after-nan") == start
        mode["reward"] = "good"
        assert t.step(PROBLEMS, REFERENCES)["step"] == 1  # the failed steps did not count
        assert weights(t, tmp_path / "after-step") != start


def test_progress_reports_and_stops_without_changing_anything(model, tmp_path):
    seen = []
    stop = {"phase": None}

    def progress(phase, done, total):
        seen.append(phase)
        assert 0 <= done <= total
        return phase != stop["phase"]

    reward, _ = alternating_by_episode()
    with score.SCoReTrainer(model, reward=reward, learning_rate=1e-3, progress=progress, **SMALL) as t:
        start = weights(t, tmp_path / "start")
        for phase in ("rollout", "rewards", "reference", "update"):
            stop["phase"] = phase
            with pytest.raises(score.ScoreError, match=phase) as e:
                t.step(PROBLEMS, REFERENCES)
            assert e.value.status == score.ERR_ABORTED
        assert weights(t, tmp_path / "stopped") == start
        stop["phase"] = None
        seen.clear()
        assert t.step(PROBLEMS, REFERENCES)["step"] == 1
        assert {"rollout", "rewards", "reference", "update"} <= set(seen)

    def boom(phase, done, total):
        raise RuntimeError("host is shutting down")

    with score.SCoReTrainer(model, reward=reward, progress=boom, **SMALL) as t:
        with pytest.raises(RuntimeError, match="shutting down"):
            t.step(PROBLEMS, REFERENCES)
    with pytest.raises(score.ScoreError, match="evaluate") as e:
        score.evaluate(model, PROBLEMS, REFERENCES, max_new_tokens=3, progress=lambda phase, d, n: False)
    assert e.value.status == score.ERR_ABORTED
    with pytest.raises(TypeError, match="progress must be callable"):
        score.SCoReTrainer(model, reward=reward, progress=3, **SMALL)


def test_rollout_then_update(model):
    with score.SCoReTrainer(model, stage=2, **SMALL) as t:
        rollout = t.rollout(PROBLEMS)
        assert len(rollout) == 4 and all(isinstance(e, score.Episode) for e in rollout)
        assert [(e.problem, e.sample) for e in rollout] == [(0, 0), (0, 1), (1, 0), (1, 1)]
        for e in rollout:
            assert len(e.attempts) == 2
            for a in e.attempts:
                assert list(e.sequence[a.offset:a.offset + len(a.tokens)]) == list(a.tokens)
                assert all(e.loss_mask[a.offset + i] == 1 for i in range(len(a.tokens)))
        s = t.update(rollout, [[1, 0], [0, 1], [0, 0], [1, 1]])
        assert s["step"] == 1 and s["reward_per_turn"] == [0.5, 0.5] and s["rollout_seconds"] == 0
        with pytest.raises(score.ScoreValueError, match="3 reward rows for 4 episodes"):
            t.update(rollout, [[1, 0]] * 3)
        with pytest.raises(score.ScoreValueError, match="3 values"):
            t.update(rollout, [[1, 0, 0]] * 4)
        with pytest.raises(score.ScoreError, match="not finite"):
            t.update(rollout, [[math.nan, 0]] * 4)
        with pytest.raises(TypeError):
            t.update(list(rollout), [[1, 0]] * 4)
        rollout.close()
        with pytest.raises(score.ScoreValueError, match="closed"):
            t.update(rollout, [[1, 0]] * 4)


def test_save_and_resume(model, tmp_path):
    reward, _ = alternating_by_episode()
    with score.SCoReTrainer(model, reward=reward, learning_rate=1e-3, **SMALL) as t:
        t.step(PROBLEMS, REFERENCES)
        t.save(tmp_path / "ckpt")
    with score.SCoReTrainer.resume(model, tmp_path / "ckpt", reward=reward, stage=2, **SMALL) as t:
        assert t.stage == 2
        assert t.step(PROBLEMS, REFERENCES)["step"] == 2
    with pytest.raises(TypeError, match="learning_rate"):
        score.SCoReTrainer.resume(model, tmp_path / "ckpt", learning_rate=1e-3)


def test_bad_arguments(model):
    def rejected(fragment, **options):
        with pytest.raises(score.ScoreError, match=fragment) as e:
            score.SCoReTrainer(model, **{"reward": "exact", **SMALL, **options})
        assert e.value.status == score.ERR_INVALID_ARGUMENT

    rejected("samples per problem", samples=1)
    rejected("stage 3", stage=3)
    rejected("attempts 0", attempts=0)
    rejected("SCORE_RL_MAX_TURNS", attempts=9)
    rejected("Stage I", attempts=1)
    rejected("temperature", temperature=0.0)
    rejected("update", update="ppo")
    rejected("kl", kl="k2")
    rejected("verifier 'fuzzy'", reward="fuzzy")
    with pytest.raises(TypeError):
        score.SCoReTrainer(model, reward=42)
    with pytest.raises(TypeError, match="warmup"):
        score.SCoReTrainer(model, warmup=3)
    with score.Model.load(MODELS / "qwen2") as plain, pytest.raises(score.ScoreError, match="tokenizer.json"):
        score.SCoReTrainer(plain)
    score.SCoReTrainer(model, samples=1, update="filtered_sft").close()  # STaR needs no baseline

    with score.SCoReTrainer(model, **SMALL) as t, pytest.raises(score.ScoreValueError, match="no reward"):
        t.step(PROBLEMS, REFERENCES)
    t = score.SCoReTrainer(model, reward=has_digit, **SMALL)
    with pytest.raises(score.ScoreValueError, match="1 references for 2 problems"):
        t.step(PROBLEMS, REFERENCES[:1])
    with pytest.raises(TypeError):
        t.step("What is 2 + 3?", REFERENCES)
    with pytest.raises(score.ScoreError, match="stage 3"):
        t.stage = 3
    assert t.stage == 1
    t.close()
    t.close()
    with pytest.raises(score.ScoreError, match="closed"):
        t.step(PROBLEMS, REFERENCES)


def test_a_code_verifier_is_a_reward(model):
    # HumanEval-style: the model sees the prompt, the verifier gets the whole
    # record (the entry point is only there) and runs the tests.
    problem = {"prompt": "def add(a, b):\n", "entry_point": "add"}
    tests = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
    with score.SCoReTrainer(model, reward=code_verifier(timeout=3.0), samples=2, max_new_tokens=4) as t:
        s = t.step([problem], [tests])
    assert s["rollouts"] == 2 and s["reward_per_turn"] == [0.0, 0.0]  # noise is not a program


def test_verify():
    assert score.verify("exact", "  Paris.  ", "paris") == 1.0
    assert score.verify("exact", "London", "Paris") == 0.0
    assert score.verify("numeric", "The total is 1,234 dollars.", "1234") == 1.0
    assert score.verify("numeric", "3.14", "3.14159") == 0.0
    assert score.verify("numeric", "3.14", "3.14159", tolerance=0.01) == 1.0
    assert score.verify("math", "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", "0.5") == 1.0
    assert score.verify("math", "\\boxed{1/2}", "1/3") == 0.0
    with pytest.raises(score.ScoreValueError):
        score.verify("fuzzy", "1", "1")
    with pytest.raises(score.ScoreError, match="tolerance"):
        score.verify("numeric", "1", "1", tolerance=-1)
    with pytest.raises(TypeError):
        score.verify("exact", None, "1")


def test_evaluate_matches_the_greedy_attempts_scored_by_hand(model):
    problems = PROBLEMS + ["1+1", "Name a prime.", "Spell cat."]

    def even_length(problem, attempt, reference):
        return float(len(attempt.encode("utf-8")) % 2 == 0)

    episodes = model.self_correct(problems, samples=1, attempts=2, max_new_tokens=6, temperature=0,
                                  instruction=INSTRUCTION)
    right = [[even_length(None, a.text, None) >= 1 for a in e.attempts] for e in episodes]
    n = len(problems)
    m = score.evaluate(model, problems, problems, reward=even_length, max_new_tokens=6, instruction=INSTRUCTION)
    assert m["problems"] == n and len(m["accuracy"]) == 2
    assert m["acc_t1"] == pytest.approx(sum(r[0] for r in right) / n)
    assert m["acc_t2"] == pytest.approx(sum(r[1] for r in right) / n)
    assert m["delta_i_to_c"] == pytest.approx(sum(not r[0] and r[1] for r in right) / n)
    assert m["delta_c_to_i"] == pytest.approx(sum(r[0] and not r[1] for r in right) / n)
    assert m["delta"] == pytest.approx(m["delta_i_to_c"] - m["delta_c_to_i"])
    assert m["delta"] == pytest.approx(m["acc_t2"] - m["acc_t1"])
    assert 0 <= m["answer_changed"] <= 1 and 0 <= m["edit_distance_ratio"] <= 1

    # A verifier by name: attempt 1's own text is its exact reference.
    firsts = [e.attempts[0].text for e in episodes]
    m = score.evaluate(model, problems, firsts, reward="exact", max_new_tokens=6, instruction=INSTRUCTION)
    assert m["acc_t1"] == pytest.approx(sum(bool(t.strip()) for t in firsts) / n)

    def broken(problem, attempt, reference):
        raise RuntimeError("no verifier")

    with pytest.raises(RuntimeError, match="no verifier"):
        score.evaluate(model, problems, problems, reward=broken, max_new_tokens=2)
    with pytest.raises(score.ScoreError, match="attempts 9"):
        score.evaluate(model, problems, problems, attempts=9, max_new_tokens=2)
    with pytest.raises(score.ScoreValueError, match="2 references for 5 problems"):
        score.evaluate(model, problems, problems[:2], max_new_tokens=2)
