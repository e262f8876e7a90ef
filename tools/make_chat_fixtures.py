#!/usr/bin/env python3
"""Chat-template fixtures for libscore: transformers' `apply_chat_template`
renderings of real model templates, and of small templates that pin down
Jinja semantics.

Usage:
    python tools/make_chat_fixtures.py

Reads the template sources in tools/chat_templates/*.jinja (public text of
the models' tokenizer_config.json `chat_template`; see SOURCES below) and
writes:

    Tests/Fixtures/chat/<name>/tokenizer_config.json   chat_template + special tokens
    Tests/Fixtures/chat/expected.json                  every rendering or exception

Each case in expected.json is rendered with a `PreTrainedTokenizerFast` built
from a tiny word-level tokenizer plus the template and special tokens, calling
`apply_chat_template(messages, tokenize=False, add_generation_prompt=...,
tools=..., **kwargs)`. Where transformers raises, the case records the
exception type and message instead of `expected`.

`strftime_now` reads the clock; the script pins transformers' clock to NOW
(naive local time), which the Swift tests inject the same way.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path

import jinja2
import tokenizers
import transformers
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import PreTrainedTokenizerFast
from transformers.utils import chat_template_utils

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = ROOT / "tools" / "chat_templates"
OUT_DIR = ROOT / "Tests" / "Fixtures" / "chat"

NOW = _dt.datetime(2024, 9, 5, 14, 3, 7)

# name -> (where the text comes from, special tokens as the model defines them)
SOURCES = {
    "qwen2.5-instruct": (
        "Qwen/Qwen2.5-*-Instruct tokenizer_config.json (as embedded in its GGUF)",
        {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    ),
    "llama-3.1-instruct": (
        "meta-llama/Llama-3.1-8B-Instruct (same text as Llama-3.3-70B-Instruct; "
        "llama.cpp models/templates/meta-llama-Llama-3.3-70B-Instruct.jinja)",
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    ),
    "llama-3.2-instruct": (
        "meta-llama/Llama-3.2-3B-Instruct (llama.cpp models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja)",
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    ),
    "smollm2-instruct": (
        "HuggingFaceTB/SmolLM2-*-Instruct tokenizer_config.json",
        {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>"},
    ),
    "mistral-7b-instruct-v0.1": (
        "mistralai/Mistral-7B-Instruct-v0.1 tokenizer_config.json",
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    ),
    "mistral-7b-instruct-v0.3": (
        "mistralai/Mistral-7B-Instruct-v0.3 tokenizer_config.json",
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    ),
    "gemma-2-it": (
        "google/gemma-2-2b-it (llama.cpp models/templates/google-gemma-2-2b-it.jinja)",
        {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"},
    ),
}

SYSTEM = {"role": "system", "content": "You are a careful assistant."}
U1 = {"role": "user", "content": "What is 2+2?"}
A1 = {"role": "assistant", "content": "2+2 is 4."}
U2 = {"role": "user", "content": "And 3+3?"}

CONVERSATIONS = {
    "system_user": [SYSTEM, U1],
    "user_only": [U1],
    "multi_turn": [U1, A1, U2],
    "system_multi_turn": [SYSTEM, U1, A1, U2],
    "ends_with_assistant": [U1, A1],
    "unicode": [
        {"role": "user", "content": "안녕하세요! 你好，世界。 Ça va? ½ € 😀👍🏽 \u200b ﬁ İ ß"},
        {"role": "assistant", "content": "Très bien — 감사합니다 🙂"},
        {"role": "user", "content": "Ελληνικά, русский, עברית, العربية"},
    ],
    "whitespace": [
        {"role": "user", "content": "  leading and trailing spaces  "},
        {"role": "assistant", "content": "\n\n  indented\n\ttabbed line\n\n"},
        {"role": "user", "content": "\r\nwindows newline\r\n \u00a0nbsp\u3000ideographic space "},
    ],
    "quotes_braces": [
        {"role": "user", "content": "He said \"hi\" and 'bye' {{ not a tag }} {% raw %} {# c #} \\n \\\\ `tick` <|im_end|> </s> [INST]"},
    ],
    "empty_content": [{"role": "user", "content": ""}],
    "empty_assistant": [U1, {"role": "assistant", "content": ""}, U2],
    "long_multi_turn": [U1, A1, U2, {"role": "assistant", "content": "6."}, {"role": "user", "content": "Thanks!"}],
    "non_alternating": [U1, U2],
    "system_only": [SYSTEM],
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city — «quoted» and \"escaped\"",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
            },
            "required": ["city"],
        },
    },
}

TOOL_CALL_CONVERSATION = [
    U1,
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Seoul", "days": 2, "unit": None, "flag": True, "ratio": 0.5}}}
        ],
    },
    {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": 21}"},
    {"role": "assistant", "content": "It is 21 °C in Seoul."},
    {"role": "user", "content": "Great, thanks."},
]


def cases_for(name: str) -> list[dict]:
    """(conversation, add_generation_prompt, kwargs, tools) per template."""
    out = []
    for conv_name in CONVERSATIONS:
        for agp in (True, False):
            out.append({"conversation": conv_name, "add_generation_prompt": agp, "kwargs": {}})
    if name.startswith("llama-3"):
        # A fixed date through the render kwargs, as transformers users do.
        for conv_name in ("system_user", "multi_turn"):
            out.append({"conversation": conv_name, "add_generation_prompt": True, "kwargs": {"date_string": "05 Sep 2024"}})
        out.append({"conversation": "system_user", "add_generation_prompt": True, "kwargs": {"tools_in_user_message": False}, "tools": [WEATHER_TOOL]})
        out.append({"conversation": "multi_turn", "add_generation_prompt": True, "kwargs": {}, "tools": [WEATHER_TOOL]})
    if name == "llama-3.1-instruct":
        out.append({"conversation": "user_only", "add_generation_prompt": True, "kwargs": {"builtin_tools": ["code_interpreter", "brave_search", "wolfram_alpha"]}})
    if name in ("qwen2.5-instruct", "llama-3.1-instruct", "llama-3.2-instruct", "mistral-7b-instruct-v0.3"):
        out.append({"conversation": "system_user", "add_generation_prompt": True, "kwargs": {}, "tools": [WEATHER_TOOL]})
        out.append({"conversation": "tool_calls", "add_generation_prompt": True, "kwargs": {}, "tools": [WEATHER_TOOL]})
    # Extra, unused kwargs must not change anything.
    out.append({"conversation": "system_user", "add_generation_prompt": True, "kwargs": {"custom_flag": True, "documents_note": "x"}})
    return out


def make_tokenizer(template: str, special: dict) -> PreTrainedTokenizerFast:
    vocab = {"[UNK]": 0}
    for tok in special.values():
        if tok is not None and tok not in vocab:
            vocab[tok] = len(vocab)
    raw = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = Whitespace()
    kwargs = {k: v for k, v in special.items() if v is not None}
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, **kwargs)
    tok.chat_template = template
    return tok


def render(tok, messages, agp, kwargs, tools) -> dict:
    try:
        text = tok.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=agp, tools=tools, **kwargs
        )
        return {"expected": text}
    except Exception as e:  # noqa: BLE001 - the reference's exception is the fixture
        return {"error": {"type": type(e).__name__, "message": str(e)}}


# Small templates that pin down Jinja behaviour the real templates rely on or
# that hostile templates could reach: whitespace control, scoping, filters,
# tests, Python string methods, printing of values, errors.
SEMANTICS = [
    ("trim_lstrip", "  {% if true %}\n  hi\n  {% endif %}\n  end"),
    ("lstrip_after_var", "{{ 'x' }}  {% if true %}y{% endif %}"),
    ("lstrip_plus", "a\n  {%+ if true %}b{% endif %}"),
    ("trim_plus", "{% if true +%}\nb{% endif %}"),
    ("dash_both", "a  \n {%- if true -%} \n b \n {%- endif -%}\n c"),
    ("var_dash", "a \n{{- 'b' -}}\n c"),
    ("comment_trim", "{# c #}\n  {# d #}\nz {#- e -#} w"),
    ("trailing_newline", "x\n"),
    ("two_trailing_newlines", "x\n\n"),
    ("crlf_source", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc"),
    ("raw_block", "{% raw %}{{ not }} {% evaluated %}{% endraw %}|"),
    ("loop_scope", "{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }}|{% endfor %}{{ x }}"),
    ("loop_scope_fresh", "{% for i in range(3) %}{% if i == 1 %}{% set y = 5 %}{% endif %}{{ y }}|{% endfor %}{{ y }}"),
    ("if_scope_leaks", "{% if true %}{% set z = 3 %}{% endif %}{{ z }}"),
    ("namespace", "{% set ns = namespace(a=1, b='x') %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}{{ ns.b }}"),
    ("namespace_empty", "{% set ns = namespace() %}{% set ns.found = false %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}"),
    ("loop_vars", "{% for x in ['a','b','c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}"),
    ("loop_filter", "{% for x in [1,2,3,4] if x is even %}{{ loop.index }}/{{ loop.length }}:{{ x }};{% endfor %}"),
    ("loop_else", "{% for x in [] %}a{% else %}empty{% endfor %}"),
    ("loop_cycle", "{% for x in range(4) %}{{ loop.cycle('odd', 'even') }} {% endfor %}"),
    ("loop_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
    ("loop_unpack", "{% for k, v in {'a': 1, 'b': [2]}.items() %}{{ k }}={{ v }};{% endfor %}"),
    ("loop_dict_keys", "{% for k in {'z': 1, 'a': 2} %}{{ k }}{% endfor %}"),
    ("loop_string", "{% for c in 'héllo' %}{{ c }}.{% endfor %}"),
    ("nested_loops", "{% for i in range(2) %}{% for j in range(2) %}{{ loop.index }}{{ i }}{{ j }} {% endfor %}{{ loop.index }}|{% endfor %}"),
    ("set_block", "{% set greeting %}Hello {{ messages[0].role }}!{% endset %}[{{ greeting }}]"),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}"),
    ("macro", "{% macro tag(name, body='') %}<{{ name }}>{{ body }}</{{ name }}>{% endmacro %}{{ tag('b', 'x') }}{{ tag('i') }}{{ tag(body='y', name='u') }}"),
    ("print_values", "{{ none }}|{{ true }}|{{ false }}|{{ 1.5 }}|{{ 2.0 }}|{{ [1, 'a', none, 1.0, true] }}|{{ {'a': 1, 'b': 'c'} }}|{{ (1,) }}|{{ (1, 'x') }}|{{ 'it\\'s' }}|{{ ['it\\'s', \"q\\\"\"] }}"),
    ("floats", "{{ 1e16 }} {{ 1e15 }} {{ 0.00001 }} {{ 0.0001 }} {{ 0.1 + 0.2 }} {{ 10 / 4 }} {{ 1 / 3 }} {{ 2.5e-7 }} {{ 123456789.125 }} {{ -0.0 }} {{ 1e300 * 1e10 }}"),
    ("integer_math", "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ 7 % 2.5 }} {{ -3 }} {{ +3 }} {{ 1 + 2 * 3 - 4 }}"),
    ("string_ops", "{{ 'x' * 3 }}{{ [1] * 2 }}{{ [1] + [2] }}{{ 'a' ~ 1 ~ none ~ true }}{{ 'a' 'b' \"c\" }}"),
    ("comparisons", "{{ 1 == 1.0 }}{{ true == 1 }}{{ [1] == [1] }}{{ 'a' < 'b' }}{{ 2 > 1 >= 1 }}{{ 'b' in 'abc' }}{{ 1 not in [1] }}{{ 'k' in {'k': 1} }}{{ none == none }}{{ x == y }}{{ 'a' != 'b' }}"),
    ("logic", "{{ 1 and 'x' }}|{{ 0 or [] or 'z' }}|{{ not '' }}|{{ none or none }}|{{ 'a' if false else 'b' }}|{{ 'a' if true }}|{{ ('a' if false) is defined }}"),
    ("escapes", "{{ '\\u00e9\\x41\\n\\t\\q\\\\\\'' }}|{{ \"\\U0001F600\" }}|{{ '\\101' }}"),
    ("slicing", "{{ messages[1:] | length }}{{ 'abcdef'[1:4] }}{{ 'abc'[::-1] }}{{ [1,2,3,4,5][::2] }}{{ [1,2,3][-1] }}{{ 'abc'[-2:] }}{{ [1,2,3][5:] }}{{ 'héllo'[1] }}{{ [1,2,3][:-1] }}{{ 'abcdef'[-1:0:-2] }}"),
    ("subscript_missing", "[{{ [1][5] }}][{{ {'a': 1}['b'] }}][{{ 'ab'[5] }}][{{ {'a': 1}.b }}]"),
    ("undefined_ops", "{{ x is defined }}{{ x is undefined }}{{ x | length }}{{ x | trim }}[{{ x }}]{{ x | default('d') }}{{ none | default('d') }}{{ none | default('d', true) }}{{ '' | d('e', true) }}{% for i in x %}no{% endfor %}{{ not x }}"),
    ("str_methods", "{% set s = ' a, b ' %}{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.split() }}|{{ s.split(',') }}|{{ s.split(',', 1) }}|{{ 'a b'.startswith('a') }}{{ 'a b'.endswith(('x', 'b')) }}|{{ s.upper() }}|{{ s.lower() }}|{{ 'hello wORLD x2y'.title() }}|{{ s.replace('a', 'Z') }}|{{ s.replace('a', 'Z', 1) }}|{{ 'xxhixx'.strip('x') }}|{{ 'hELLO'.capitalize() }}|{{ 'a,b'.find('b') }}|{{ ','.join(['a', 'b']) }}|{{ 'abc'.count('b') }}|{{ 'ab\\ncd'.splitlines() }}|{{ s.rsplit(',', 1) }}|{{ '7'.zfill(3) }}|{{ 'ab'.isalpha() }}{{ '12'.isdigit() }}{{ ' '.isspace() }}"),
    ("dict_methods", "{% set d = {'b': 1, 'a': none} %}{{ d.get('b') }}{{ d.get('z') }}{{ d.get('z', 'dflt') }}{{ d.keys() | list }}{{ d.values() | list }}{{ d.items() | list }}{{ d['b'] }}{{ d.b }}{{ 'a' in d }}{{ d | length }}"),
    ("filters_text", "{{ '  x  ' | trim }}|{{ 'x' | upper }}|{{ 'X' | lower }}|{{ 'hello world-foo' | title }}|{{ 'hELLO wORLD' | capitalize }}|{{ 'aXbX' | replace('X', '-') }}|{{ 'aXbX' | replace('X', '-', 1) }}|{{ 5 | string + 'a' }}|{{ 'abc' | reverse }}|{{ 'a b  c' | wordcount }}|{{ 'xx' | safe }}|{{ '<a href=\"x\">&</a>' | e }}|{{ 'abc' | first }}{{ 'abc' | last }}|{{ 'ab' | list }}|{{ 'hello' | center(9) }}|{{ '..x..' | trim('.') }}"),
    ("filters_numbers", "{{ -1 | abs }}{{ '12' | int + 1 }}{{ 'x' | int }}{{ 'x' | int(7) }}{{ '1.5' | float }}{{ 3.7 | int }}{{ 2.5 | round }}{{ 3.14159 | round(2) }}{{ 2.7 | round(0, 'floor') }}{{ [1, 2, 3] | sum }}{{ [3, 1, 2] | max }}{{ [3, 1, 2] | min }}{{ '0x1A' | int(0, 16) }}{{ 5 | float }}{{ true | int }}"),
    ("filters_lists", "{{ [3, 1, 2] | sort }}{{ [3, 1, 2] | sort(reverse=true) }}{{ ['b', 'A', 'c'] | sort }}{{ [1, 2] | join(',') }}{{ [1, 2] | join }}{{ ['a'] | map('upper') | list }}{{ [1, 1, 2] | unique | list }}{{ [1, 2, 3] | first }}{{ [1, 2, 3] | last }}{{ [1, 2] | length }}{{ [1, 2] | count }}{{ [1, 2, 3] | reverse | list }}{{ [[1, 2], [3]] | sum(start=[]) }}{{ [0, 1, '', 'a', none] | select | list }}{{ [1, 2, 3, 4] | reject('odd') | list }}{{ range(3) | list }}{{ range(1, 10, 3) | list }}{{ [] | first }}|"),
    ("filters_attrs", "{% set items = [{'n': 'a', 'k': 1}, {'n': 'b'}, {'n': 'c', 'k': none}] %}{{ items | selectattr('k') | map(attribute='n') | list }}{{ items | rejectattr('k', 'defined') | map(attribute='n') | join }}{{ items | selectattr('n', 'equalto', 'b') | list }}{{ items | map(attribute='k', default=0) | list }}{{ items | sort(attribute='n', reverse=true) | map(attribute='n') | join }}{{ items | map(attribute='k') | list }}{{ items | rejectattr('n', 'in', ['a', 'c']) | list }}{{ items | selectattr('k', 'none') | list }}"),
    ("filters_dicts", "{% set d = {'b': 2, 'a': 1} %}{{ d | items | list }}{{ d | dictsort }}{{ d | list }}{{ d | length }}{{ d | dictsort(reverse=true) }}"),
    ("tojson", "{{ {'a': [1, 2.5, none, true, 'é\"\\n\\u2028<>&'], 'b': {}} | tojson }}|{{ [] | tojson }}|{{ 'x' | tojson }}|{{ {'a': {'b': [1, {}], 'c': []}} | tojson(indent=2) }}|{{ {'z': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ [1, 2] | tojson(separators=(',', ':')) }}|{{ {'a': 1} | tojson(indent='\\t') }}|{{ 1e16 | tojson }}|{{ 3.0 | tojson }}|{{ {'k': '\\x00\\x1f\\x7f'} | tojson }}"),
    ("tojson_messages", "{{ messages | tojson }}"),
    ("indent", "{{ '  a\\n b  ' | indent(2) }}|{{ 'a\\nb\\n\\nc' | indent(2, true) }}|{{ 'a\\nb' | indent }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'a\\nb' | indent('> ') }}"),
    ("tests", "{{ 3 is divisibleby 3 }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ 'a' is iterable }}{{ 'a' is sequence }}{{ 1 is number }}{{ true is number }}{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 1 is integer }}{{ 1.0 is float }}{{ 1 is odd }}{{ 2 is even }}{{ 'a' is lower }}{{ 'A' is upper }}{{ [] is sequence }}{{ {} is sequence }}{{ 1 is iterable }}{{ 2 is gt 1 }}{{ 2 is eq 2 }}{{ 'a' is in 'abc' }}{{ true is boolean }}{{ range is callable }}{{ 1 is sameas 1 }}{{ none is not none }}{{ x is not defined }}"),
    ("dict_and_list_literals", "{% set d = {'a': 1, 'b': [1, 2, {'c': 'd'}], 'e': (1, 2)} %}{{ d }}{{ d.b[2].c }}{{ d['e'][1] }}{{ [] }}{{ {} }}{{ () }}{{ dict(a=1, b=2) }}"),
    ("message_access", "{% for m in messages %}{{ m.role }}:{{ m['content'] }}:{{ m.missing is defined }}:{{ 'content' in m }};{% endfor %}"),
    ("globals", "{{ add_generation_prompt }}|{{ bos_token }}|{{ eos_token }}|{{ tools }}|{{ documents }}|{{ custom_var }}|{{ unk_token is defined }}"),
    ("string_concat_plus", "{{ 'a' + 'b' }}{{ messages[0]['role'] + ':' + messages[0]['content'] | upper }}"),
    ("filter_precedence", "{{ -2 | abs }}{{ 'a' ~ 'b' | upper }}{{ not 'x' is string }}{{ (1 + 2) | string }}{{ -2 ** 2 }}{{ 2 * 3 ~ 4 }}"),
    ("err_filter_binds_tighter", "{{ 1 + 2 | string }}"),
    ("ternary_nested", "{{ 'a' if 1 > 2 else 'b' if 2 > 1 else 'c' }}"),
    ("whitespace_in_tags", "{%if true%}{{1+1}}{%endif%}{%- if   true   -%} x {%-   endif-%}"),
    ("expression_statement_newlines", "{{\n  'a'\n  ~\n  'b'\n}}"),
    ("strftime", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j %p %y %a %%') }}"),
    # errors
    ("raise", "{{ raise_exception('Custom: ' ~ messages[0].role) }}"),
    ("raise_in_loop", "{% for m in messages %}{% if m.role == 'user' %}{{ raise_exception('no users here') }}{% endif %}{% endfor %}"),
    ("err_unknown_filter", "{{ 'x' | nosuchfilter }}"),
    ("err_unknown_test", "{{ 'x' is nosuchtest }}"),
    ("err_unterminated_var", "{{ 'x' "),
    ("err_unterminated_block", "{% if true %}x"),
    ("err_unterminated_comment", "{# never closed"),
    ("err_unterminated_string", "{{ 'abc }}"),
    ("err_bad_end", "{% for x in y %}{% endif %}"),
    ("err_attr_of_undefined", "{{ nothing.here }}"),
    ("err_attr_of_missing_key", "{{ messages[0].nope.deeper }}"),
    ("err_call_undefined", "{{ nothing() }}"),
    ("err_add_str_int", "{{ 'a' + 1 }}"),
    ("err_compare_types", "{{ 'a' < 1 }}"),
    ("err_div_zero", "{{ 1 / 0 }}"),
    ("err_mutation", "{% set l = [] %}{{ l.append(1) }}"),
    ("err_unknown_tag", "{% frobnicate %}"),
    ("err_undefined_plus", "{{ nothing + 'a' }}"),
    ("err_extends", "{% extends 'base.html' %}"),
    ("err_namespace_underscore", "{% set ns = namespace() %}{% set ns._x = 1 %}"),
]


def semantics_cases() -> list[dict]:
    messages = [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!"},
    ]
    tok = make_tokenizer("{{ '' }}", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})
    out = []
    for name, template in SEMANTICS:
        kwargs = {"custom_var": "cv"} if name == "globals" else {}
        case = {"name": name, "template": template, "messages": messages, "add_generation_prompt": True, "kwargs": kwargs}
        try:
            text = tok.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=True, **kwargs)
            case["expected"] = text
        except Exception as e:  # noqa: BLE001
            case["error"] = {"type": type(e).__name__, "message": str(e)}
        out.append(case)
    return out


class _FixedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: D102
        return NOW


def main() -> None:
    chat_template_utils.datetime = _FixedDatetime  # pin strftime_now
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, (source, special) in SOURCES.items():
        template = (TEMPLATE_DIR / f"{name}.jinja").read_text(encoding="utf-8")
        d = OUT_DIR / name
        d.mkdir(exist_ok=True)
        config = {"_source": source, "chat_template": template, **special, "tokenizer_class": "PreTrainedTokenizerFast"}
        (d / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tok = make_tokenizer(template, special)
        for spec in cases_for(name):
            conv = TOOL_CALL_CONVERSATION if spec["conversation"] == "tool_calls" else CONVERSATIONS[spec["conversation"]]
            case = {
                "template": name,
                "conversation": spec["conversation"],
                "messages": conv,
                "add_generation_prompt": spec["add_generation_prompt"],
                "kwargs": spec["kwargs"],
            }
            if "tools" in spec:
                case["tools"] = spec["tools"]
            case.update(render(tok, conv, spec["add_generation_prompt"], spec["kwargs"], spec.get("tools")))
            cases.append(case)

    expected = {
        "generator": "tools/make_chat_fixtures.py",
        "versions": {"transformers": transformers.__version__, "jinja2": jinja2.__version__, "tokenizers": tokenizers.__version__},
        "now": NOW.strftime("%Y-%m-%dT%H:%M:%S"),
        "cases": cases,
        "semantics": semantics_cases(),
    }
    path = OUT_DIR / "expected.json"
    path.write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    n_err = sum("error" in c for c in cases)
    n_sem_err = sum("error" in c for c in expected["semantics"])
    print(f"{path}: {len(cases)} template cases ({n_err} raise), {len(expected['semantics'])} semantics cases ({n_sem_err} raise)")


if __name__ == "__main__":
    sys.exit(main())
