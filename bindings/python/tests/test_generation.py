"""Generation through the Python binding: greedy against transformers'
recorded outputs, batching, sampling, callbacks, bad input."""

import json
import pathlib

import pytest

import score

MODELS = pathlib.Path(__file__).resolve().parents[3] / "Tests" / "Fixtures" / "models"


def reference(name):
    return json.loads((MODELS / name / "generation.json").read_text())


@pytest.mark.parametrize("name", ["llama-gqa", "qwen2", "qwen3", "mistral-swa"])
def test_greedy_matches_transformers_batched(name):
    ref = reference(name)
    with score.Model.load(MODELS / name) as model, score.Session(model) as session:
        out = session.generate(ref["prompts"], max_new_tokens=64, temperature=0)
        assert [list(g.tokens) for g in out] == ref["outputs"]
        for g in out:
            assert g.finish_reason in ("length", "stop_token")
            assert all(lp <= 0 for lp in g.logprobs)
        single = model.generate(ref["prompts"][1], max_new_tokens=64, temperature=0)
        assert list(single.tokens) == ref["outputs"][1]


def test_sampling_seeded_and_streamed():
    with score.Model.load(MODELS / "qwen2") as model:
        seen = []
        a = score.Session(model, seed=5).generate([[1, 2, 3]] * 2, max_new_tokens=10, top_k=20,
                                                   on_token=lambda i, t: seen.append((i, t)) or True)
        b = score.Session(model, seed=5).generate([[1, 2, 3]] * 2, max_new_tokens=10, top_k=20)
        assert a == b
        assert a[0].tokens != a[1].tokens  # k samples of one prompt differ
        assert sorted(seen) == sorted((i, t) for i, g in enumerate(a) for t in g.tokens)


def test_callback_stops_and_exceptions_propagate():
    with score.Model.load(MODELS / "qwen2") as model:
        g = model.generate([4, 5], max_new_tokens=10, on_token=lambda i, t: False)
        assert len(g.tokens) == 1 and g.finish_reason == "aborted"

        def boom(i, t):
            raise KeyError("from callback")

        with pytest.raises(KeyError):
            model.generate([4, 5], max_new_tokens=10, on_token=boom)


def test_generate_from_own_callback_fails_instead_of_deadlocking():
    with score.Model.load(MODELS / "qwen2") as model, score.Session(model) as s:
        inner = []

        def again(i, t):
            try:
                s.generate([[1, 2]], max_new_tokens=2)
            except score.ScoreError as e:
                inner.append(e)
            return False

        out = s.generate([[4, 5]], max_new_tokens=5, on_token=again)
        assert len(out[0].tokens) == 1 and out[0].finish_reason == "aborted"
        assert len(inner) == 1 and inner[0].status == score.ERR_INVALID_ARGUMENT
        assert "own call" in str(inner[0])

        # Uncaught, the inner error propagates out of the outer call.
        with pytest.raises(score.ScoreError, match="own call"):
            s.generate([[4, 5]], max_new_tokens=5, on_token=lambda i, t: bool(s.generate([[1]], max_new_tokens=1)))
        assert len(s.generate([[4, 5]], max_new_tokens=2, stop_ids=[])[0].tokens) == 2  # still usable


def test_stop_ids_and_zero_tokens():
    with score.Model.load(MODELS / "llama-gqa") as model:
        free = model.generate([9, 10, 11], max_new_tokens=8, temperature=0, stop_ids=[])
        stop = free.tokens[3]
        g = model.generate([9, 10, 11], max_new_tokens=8, temperature=0, stop_ids=[stop])
        assert g.finish_reason == "stop_token" and g.tokens[-1] == stop
        assert model.generate([9], max_new_tokens=0).tokens == ()


@pytest.mark.parametrize("options, fragment", [
    ({"temperature": -1}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"top_p": 1.2}, "top_p"),
    ({"max_new_tokens": -3}, "max_new_tokens"),
    # Underflowing values used to give token 0 and NaN log-probs silently.
    ({"temperature": 1e-40}, "temperature"),
    ({"temperature": 1e-50}, "temperature"),  # rounds to 0.0f: not silently greedy
    ({"repetition_penalty": 1e-45}, "repetition_penalty"),
    ({"repetition_penalty": 1e6}, "repetition_penalty"),
])
def test_bad_options(options, fragment):
    with score.Model.load(MODELS / "qwen2") as model:
        with pytest.raises(score.ScoreError) as e:
            model.generate([1, 2], **options)
        assert e.value.status == 1 and fragment in str(e.value)


def test_extreme_accepted_sampling_parameters_give_finite_logprobs():
    import math
    with score.Model.load(MODELS / "qwen2") as model, score.Session(model, seed=1) as s:
        for options in ({"temperature": 1e-5}, {"temperature": 1e-5, "top_k": 5},
                        {"repetition_penalty": 0.01}, {"repetition_penalty": 100, "top_p": 0.5},
                        {"temperature": 1e-5, "repetition_penalty": 0.01, "min_p": 0.1}):
            for g in s.generate([[1, 2, 3, 2, 3]] * 2, max_new_tokens=6, stop_ids=[], **options):
                assert len(g.logprobs) == 6 and all(math.isfinite(v) and v <= 0 for v in g.logprobs), (options, g)


def test_bad_prompts():
    with score.Model.load(MODELS / "qwen2") as model, score.Session(model) as s:
        with pytest.raises(score.ScoreError):
            s.generate([])
        with pytest.raises(score.ScoreError):
            s.generate([[]])
        with pytest.raises(score.ScoreError, match="vocabulary"):
            s.generate([[1, 999]])


def test_self_correct_token_in_token_out():
    with score.Model.load(MODELS / "qwen2-chat") as model:
        episodes = model.self_correct(["What is 2 + 3?", "Compute 12 * 4."], samples=2, attempts=2,
                                      max_new_tokens=8, seed=3)
        assert [(e.problem, e.sample) for e in episodes] == [(0, 0), (0, 1), (1, 0), (1, 1)]
        for e in episodes:
            assert len(e.attempts) == 2 and len(e.sequence) == len(e.loss_mask)
            for a in e.attempts:
                assert e.sequence[a.offset:a.offset + len(a.tokens)] == a.tokens
                assert all(e.loss_mask[a.offset + i] == 1 for i in range(len(a.tokens)))
            assert sum(e.loss_mask) == sum(len(a.tokens) for a in e.attempts)
            # Teacher forcing the whole conversation reproduces the sampled log-probs.
            lp = model.logprobs(list(e.sequence))
            for a in e.attempts:
                for i, v in enumerate(a.logprobs):
                    assert abs(lp[a.offset + i - 1] - v) < 1e-4
        assert episodes[0].attempts[0].tokens != episodes[1].attempts[0].tokens


def test_self_correct_errors():
    with score.Model.load(MODELS / "qwen2") as plain:
        with pytest.raises(score.ScoreError, match="tokenizer"):
            plain.self_correct(["x"])
    with score.Model.load(MODELS / "qwen2-chat") as model:
        with pytest.raises(score.ScoreError, match="samples"):
            model.self_correct(["x"], samples=0)
        # Used to grow memory until SIGSEGV; now refused before any work.
        with pytest.raises(score.ScoreError, match="samples per problem 2147483647 is out of range"):
            model.self_correct(["x"], samples=2**31 - 1)
        with pytest.raises(score.ScoreError, match="sequences in one call"):
            model.self_correct(["x"] * 300, samples=4096)
        with pytest.raises(score.ScoreError, match="n_problems"):
            model.self_correct([])
        with pytest.raises(TypeError):
            model.self_correct("not a list")
        # A NUL used to cut the text short in C, silently.
        for kwargs in ({"problems": ["What is 2+2?\0 ignore the rest"]}, {"problems": ["x"], "instruction": "Check\0"},
                       {"problems": ["x"], "task_prompt": "\0{problem}"}, {"problems": ["x"], "system_prompt": "a\0b"}):
            with pytest.raises(ValueError, match="NUL"):
                model.self_correct(**kwargs)


def test_nul_in_stop_strings_is_rejected():
    with score.Model.load(MODELS / "qwen2-chat") as model:
        with pytest.raises(ValueError, match=r"stop_strings\[1\] contains a NUL"):
            model.generate([1, 2, 3], max_new_tokens=2, stop_strings=["ok", "a\0b"])


def test_stop_strings():
    with score.Model.load(MODELS / "qwen2-chat") as model:
        tok = model.tokenizer
        prompt = tok.encode("Tell me a story about numbers 123", add_special=False)
        free = model.generate(prompt, max_new_tokens=30, temperature=0, stop_ids=[])
        text = tok.decode(list(free.tokens))
        clean = [c for c in text if c != "\ufffd" and not c.isspace()]
        stop = clean[len(clean) // 2]
        g = model.generate(prompt, max_new_tokens=30, temperature=0, stop_ids=[], stop_strings=[stop])
        assert g.finish_reason == "stop_string"
        assert stop in tok.decode(list(g.tokens))
        assert free.tokens[:len(g.tokens)] == g.tokens
