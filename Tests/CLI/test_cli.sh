#!/usr/bin/env bash
# score-cli contract: useful output on success; on failure exactly one line on
# stderr starting "score-cli: error:" and a non-zero exit (1 failure, 2 usage).
set -uo pipefail
cli=${1:-.build/release/score-cli}
models=${2:-Tests/Fixtures/models}
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect_ok() {  # expect_ok "pattern" args...
    local pattern=$1; shift
    if ! out=$("$cli" "$@" 2>&1); then echo "FAIL: score-cli $* exited non-zero: $out"; failures=$((failures+1)); return; fi
    if ! grep -qE -- "$pattern" <<<"$out"; then echo "FAIL: score-cli $*: output lacks /$pattern/: $out"; failures=$((failures+1)); fi
}

expect_error() {  # expect_error code "pattern" args...
    local code=$1 pattern=$2; shift 2
    "$cli" "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    local lines; lines=$(wc -l <"$tmp/err")
    if [ "$got" -ne "$code" ]; then echo "FAIL: score-cli $*: exit $got, expected $code"; failures=$((failures+1)); fi
    if [ "$lines" -ne 1 ] || ! grep -qE "^score-cli: error: .*$pattern" "$tmp/err"; then
        echo "FAIL: score-cli $*: stderr should be one error line matching /$pattern/, got:"; cat "$tmp/err"; failures=$((failures+1))
    fi
}

expect_ok "^usage: score-cli" --help
expect_ok "^usage: score-cli info" info --help
expect_ok "^usage: score-cli logprobs" logprobs --help
expect_ok "^usage: score-cli bench" bench --help
expect_ok "^[0-9]+\.[0-9]+\.[0-9]+$" version
expect_ok "architecture +Qwen3ForCausalLM" info "$models/qwen3"
expect_ok "\"dtype\": \"BF16\"" info "$models/qwen2-bf16" --json
expect_ok "^sum -[0-9.]+ over 4 tokens" logprobs "$models/qwen2" --ids 1,5,9,20,3
expect_ok "\"sum\": -" logprobs "$models/qwen2" --ids "1, 5, 9" --json

expect_ok "^usage: score-cli generate" generate --help
expect_ok "\"finish_reason\": \"length\"" generate "$models/qwen2" --ids 1,2,3 --max-new-tokens 5 --temperature 0 --json
expect_ok "^sample 2: " generate "$models/qwen2" --ids 1,2,3 --max-new-tokens 5 --samples 3 --seed 7
expect_error 1 "top_p" generate "$models/qwen2" --ids 1,2 --top-p 0
expect_error 2 "--temperature must be a number" generate "$models/qwen2" --ids 1,2 --temperature abc
expect_error 2 "unknown command 'frobnicate'" frobnicate
expect_error 2 "unknown option --bogus" info "$models/qwen2" --bogus
expect_error 2 "exactly one model directory" info
expect_error 2 "needs --ids" logprobs "$models/qwen2"
expect_error 2 "'x' is not an integer" logprobs "$models/qwen2" --ids 1,x,3
expect_error 1 "no such directory" info /nonexistent/model
expect_error 1 "outside the vocabulary" logprobs "$models/qwen2" --ids 1,500
mkdir "$tmp/broken" && echo '{"architectures": ["BertModel"]}' >"$tmp/broken/config.json"
expect_error 1 "BertModel" info "$tmp/broken"

# chat-template: renders like transformers; template errors are one line
chat=$(dirname "$models")/chat
echo '[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}]' >"$tmp/msgs.json"
echo '[{"role": "user", "content": "A"}, {"role": "user", "content": "B"}]' >"$tmp/bad_msgs.json"
expect_ok "^usage: score-cli chat-template" chat-template --help
expect_ok "^<\|im_start\|>assistant$" chat-template "$chat/qwen2.5-instruct" --messages "$tmp/msgs.json"
expect_ok "Bye<\|im_end\|>$" chat-template "$chat/qwen2.5-instruct" --messages "$tmp/msgs.json" --no-generation-prompt
expect_ok "^<s>\[INST\] Hi \[/INST\]Hello</s> \[INST\] Bye \[/INST\]$" chat-template "$chat/mistral-7b-instruct-v0.1" --messages "$tmp/msgs.json"
echo '{"date_string": "01 Jan 2025"}' >"$tmp/extra.json"
expect_ok "^Today Date: 01 Jan 2025$" chat-template "$chat/llama-3.2-instruct" --messages "$tmp/msgs.json" --extra "$tmp/extra.json"
expect_error 2 "needs --messages" chat-template "$chat/qwen2.5-instruct"
expect_error 1 "roles must alternate" chat-template "$chat/gemma-2-it" --messages "$tmp/bad_msgs.json"
mkdir "$tmp/badtpl" && echo '{"chat_template": "{% for m in messages %}"}' >"$tmp/badtpl/tokenizer_config.json"
expect_error 1 "Unexpected end of template" chat-template "$tmp/badtpl" --messages "$tmp/msgs.json"

if [ $failures -ne 0 ]; then echo "test_cli: $failures failure(s)"; exit 1; fi
echo "test_cli: all checks passed"
