"""render_chat against transformers' renderings (Tests/Fixtures/chat)."""
import json
from datetime import datetime
from pathlib import Path

import pytest

import score

CHAT = Path(__file__).resolve().parents[3] / "Tests" / "Fixtures" / "chat"
EXPECTED = json.loads((CHAT / "expected.json").read_text(encoding="utf-8"))


def _plain_cases():
    # The C API passes role and content only: use cases without tools/tool calls.
    for c in EXPECTED["cases"]:
        if "tools" in c or any(set(m) != {"role", "content"} for m in c["messages"]):
            continue
        yield pytest.param(c, id=f"{c['template']}-{c['conversation']}-{c['add_generation_prompt']}-{len(c['kwargs'])}")


@pytest.mark.parametrize("case", list(_plain_cases()))
def test_matches_transformers(case):
    model_dir = CHAT / case["template"]
    kwargs = dict(case["kwargs"])
    if case["template"] == "llama-3.2-instruct" and "date_string" not in kwargs:
        # The fixture pinned strftime_now's clock; the C API reads the real
        # one, so hand the template the date that clock gave.
        kwargs["date_string"] = datetime.strptime(EXPECTED["now"], "%Y-%m-%dT%H:%M:%S").strftime("%d %b %Y")
    if "expected" in case:
        got = score.render_chat(str(model_dir), case["messages"], case["add_generation_prompt"], extra=kwargs or None)
        assert got == case["expected"]
    else:
        with pytest.raises(score.ScoreError) as info:
            score.render_chat(str(model_dir), case["messages"], case["add_generation_prompt"], extra=kwargs or None)
        assert info.value.status == score.ERR_INVALID_ARGUMENT
        assert info.value.message.endswith("chat template error: " + case["error"]["message"])


def test_template_text_and_tokens():
    template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{{ eos_token }}"
    got = score.render_chat(template, [{"role": "user", "content": "héllo 😀"}], bos_token="<s>", eos_token="</s>")
    assert got == "<s>[user:héllo 😀]</s>"


def test_extra_variables():
    got = score.render_chat("{{ date_string }}|{{ tools[0].name }}", [{"role": "user", "content": "x"}],
                            extra={"date_string": "05 Sep 2024", "tools": [{"name": "f"}]})
    assert got == "05 Sep 2024|f"


def test_errors():
    with pytest.raises(score.ScoreError) as info:
        score.render_chat("{% if x %}", [{"role": "user", "content": "x"}])
    assert info.value.status == score.ERR_FORMAT
    with pytest.raises(score.ScoreError) as info:
        score.render_chat("{{ x | nosuchfilter }}", [{"role": "user", "content": "x"}])
    assert "nosuchfilter" in info.value.message
    with pytest.raises(score.ScoreError) as info:
        score.render_chat("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                          [{"role": "user", "content": "x"}])
    assert info.value.status == score.ERR_INVALID_ARGUMENT
    with pytest.raises(score.ScoreValueError):
        score.render_chat(str(CHAT / "qwen2.5-instruct"), [])
    with pytest.raises(TypeError):
        score.render_chat(str(CHAT / "qwen2.5-instruct"), [{"role": "user"}])
    with pytest.raises(score.ScoreError) as info:
        score.render_chat("/nonexistent/dir/", [{"role": "user", "content": "x"}])
