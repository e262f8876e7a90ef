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
expect_error 1 "temperature .* too small" generate "$models/qwen2" --ids 1,2 --temperature 1e-40
expect_error 1 "repetition_penalty .* must be in" generate "$models/qwen2" --ids 1,2 --repetition-penalty 1e-45
expect_ok "finish: " generate "$models/qwen2-chat" "Hello there" --max-new-tokens 6 --temperature 0
expect_ok "finish: " generate "$models/qwen2-chat" "What is 2+2?" --chat --max-new-tokens 6
expect_error 1 "no tokenizer.json" generate "$models/qwen2" "text prompt"
expect_error 2 "either a prompt text or --ids" generate "$models/qwen2-chat" "text" --ids 1,2
printf '{"problem": "What is 2 + 3?", "answer": "5"}\n\n{"question": "1+1"}\n' >"$tmp/problems.jsonl"
expect_ok "problems" correct "$models/qwen2-chat" --in "$tmp/problems.jsonl" --out "$tmp/attempts.jsonl" --samples 2 --max-new-tokens 4
if [ "$(wc -l <"$tmp/attempts.jsonl")" -ne 4 ] || ! grep -q '"answer":"5"' "$tmp/attempts.jsonl"; then
    echo "FAIL: correct wrote $(wc -l <"$tmp/attempts.jsonl") lines"; failures=$((failures+1))
fi
printf '{"problem": "ok"}\n{"text": "no problem field"}\n' >"$tmp/bad.jsonl"
expect_error 1 "line 2: no \"problem\"" correct "$models/qwen2-chat" --in "$tmp/bad.jsonl" --out "$tmp/never.jsonl"
[ -e "$tmp/never.jsonl" ] && { echo "FAIL: correct wrote output despite an error"; failures=$((failures+1)); }
expect_error 2 "needs --in" correct "$models/qwen2-chat" --out "$tmp/x.jsonl"
expect_error 1 "no tokenizer.json" correct "$models/qwen2" --in "$tmp/problems.jsonl" --out "$tmp/y.jsonl"
expect_error 2 "unknown command 'frobnicate'" frobnicate
expect_ok "^math verifier: 1312 pairs .* agrees with the labels on 130[0-9]/1312" bench-verify --repeat 1
expect_error 1 "No such file" bench-verify --data "$tmp/missing.jsonl"
printf '{"prediction": "1"}\n' >"$tmp/pairs.jsonl"
expect_error 2 "needs \"prediction\" and \"gold\"" bench-verify --data "$tmp/pairs.jsonl"

# OpenBLAS's own CPU table must not decide our speed: told to use its SSE3
# (Prescott) kernels, as Debian's 0.3.21 does on Emerald Rapids, the library
# switches to the kernels of the CPU's tier.
system=$(OPENBLAS_CORETYPE=Prescott "$cli" info --system 2>&1)
case "$(grep '^features' <<<"$system")" in
    *avx512f*avx512bw*avx512dq*avx512vl*) want="Cooperlake|SkylakeX" ;;
    *avx2*fma*) want="Haswell|Cooperlake|SkylakeX" ;;
    *) want="" ;;
esac
if [ -n "$want" ] && ! grep -qE "^openblas_core +($want)$" <<<"$system"; then
    echo "FAIL: with OPENBLAS_CORETYPE=Prescott, info --system reports: $system"; failures=$((failures+1))
fi
expect_ok "^cpu .*" info --system
# Our kernels: the best path the CPU has, or the one SCORE_KERNELS forces.
case "$(grep '^features' <<<"$system")" in
    *avx512f*avx512bw*avx512dq*avx512vl*avx512_bf16*) best="avx512bf16" ;;
    *avx512f*avx512bw*avx512dq*avx512vl*) best="avx512" ;;
    *avx2*fma*) best="avx2" ;;
    *) best="reference" ;;
esac
expect_ok "^kernels +$best$" info --system
for path in reference avx2; do
    got=$(SCORE_KERNELS=$path "$cli" info --system 2>/dev/null | grep '^kernels ')
    if [ "$best" != reference ] && ! grep -qE "^kernels +$path$" <<<"$got"; then
        echo "FAIL: SCORE_KERNELS=$path: info --system reports '$got'"; failures=$((failures+1))
    fi
done
out=$(SCORE_KERNELS=sse9 "$cli" info --system 2>&1)
if ! grep -q "SCORE_KERNELS=sse9 ignored: not one of" <<<"$out"; then
    echo "FAIL: SCORE_KERNELS=sse9 is not reported"; failures=$((failures+1))
fi
# A forced path is in force from the first product on (loading packs the weights first).
out=$(SCORE_KERNELS=avx2 "$cli" logprobs "$models/qwen2" --ids 1,42,7 2>&1)
if [ "$best" != reference ] && ! grep -q "SCORE_KERNELS=avx2: matrix products run the avx2 kernels" <<<"$out"; then
    echo "FAIL: SCORE_KERNELS=avx2 is not applied when a model is loaded: $out"; failures=$((failures+1))
fi
# The same log-probs on every kernel path (F32 paths sum in one order).
want_lp=$("$cli" logprobs "$models/qwen2" --ids 1,42,7,99,3 2>/dev/null)
for path in reference avx2; do
    got_lp=$(SCORE_KERNELS=$path "$cli" logprobs "$models/qwen2" --ids 1,42,7,99,3 2>/dev/null)
    if [ "$got_lp" != "$want_lp" ]; then
        echo "FAIL: SCORE_KERNELS=$path changes log-probs: $got_lp vs $want_lp"; failures=$((failures+1))
    fi
done
expect_error 2 "--compute must be f32 or bf16" logprobs "$models/qwen2" --ids 1,2,3 --compute f16
expect_ok "." logprobs "$models/qwen2" --ids 1,42,7,99,3 --compute bf16
expect_ok "\"openblas_core\":" info --system --json
expect_error 2 "takes no model directory" info --system "$models/qwen2"

# Changing the thread count replaces the shared pool; the old one must stay
# valid (it aborted with "deallocated with non-zero retain count" once).
expect_ok "\"finish_reason\": \"length\"" generate "$models/qwen2" --ids 1,2,3 --max-new-tokens 3 --temperature 0 --json --threads 1
expect_ok "\"finish_reason\": \"length\"" generate "$models/qwen2" --ids 1,2,3 --max-new-tokens 3 --temperature 0 --json --threads 3
expect_ok "^packed \\([a-z0-9]*\\) f32 3x20x33: .* GFLOP/s" bench-matmul --rows 3 --n 20 --k 33 --repeat 1 --threads 1
expect_ok "^packed-bf16-compute \\([a-z0-9]*\\) bf16 5x20x70: .* GB/s" bench-matmul --rows 5 --n 20 --k 70 --repeat 1 --dtype bf16
expect_error 2 "--dtype must be f32 or bf16" bench-matmul --dtype f16
expect_error 2 "--threads must be an integer in 0\.\.\." generate "$models/qwen2" --ids 1,2,3 --threads 20000
expect_error 2 "--threads must be an integer in 0\.\.\." logprobs "$models/qwen2" --ids 1,2,3 --threads -1
expect_error 2 "--rows" bench-matmul --rows 0
expect_ok "^memory read 16 MB: .* GB/s" bench-memory --mb 16 --repeat 1
expect_ok "^bf16 vs f32 compute over 40 tokens: max \|Δ log-prob\| [0-9]" bench-compute "$models/qwen2" --tokens 40
expect_ok "^ours \\([a-z0-9]*\\) 64x64x64: .* GFLOP/s" bench-gemm --size 64 --repeat 1
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

# tokenizer (section: tokenizer)
toks="$models/../tokenizers"
expect_ok "^usage: score-cli tokenize" tokenize --help
expect_ok "^[0-9]+ tokens: " tokenize "$toks/llama3" "Hello world"
expect_ok '"tokens": \["<\|begin_of_text\|>"' tokenize "$toks/llama3" "Hello" --json
expect_ok '"ids": \[[0-9]' tokenize "$toks/qwen2" "<|im_end|>" --json --no-special
expect_ok '"tokens": \["<\|im_end\|>"\]' tokenize "$toks/qwen2" "<|im_end|>" --json --no-special --parse-special
printf 'Bench text, 한국어, 中文 and 12345.\n%.0s' $(seq 200) >"$tmp/bench.txt"
expect_ok "MB/s" tokenize "$toks/qwen2" --bench "$tmp/bench.txt" --repeat 2
expect_error 1 "no such directory" tokenize /nonexistent "x"
expect_error 2 "tokenizer directory and the text" tokenize "$toks/qwen2"
expect_error 1 "needs a tokenizer.json" logprobs "$models/qwen2" --text "hello"
expect_error 2 "needs --ids .* or --text" logprobs "$models/qwen2" --ids 1,2 --text "x"
mkdir "$tmp/withtok" && cp "$models/qwen2"/* "$tmp/withtok/"
cat >"$tmp/withtok/tokenizer.json" <<'JSON'
{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [{"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": null, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
 "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
 "decoder": {"type": "ByteLevel"},
 "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
  "vocab": {"<s>": 0, "h": 1, "e": 2, "l": 3, "o": 4, "Ġ": 5, "w": 6, "r": 7, "d": 8, "he": 9, "ll": 10, "hell": 11, "hello": 12, "Ġw": 13},
  "merges": [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], ["Ġ", "w"]]}}
JSON
expect_ok '"ids": \[0, 12, 13, 4, 7, 3, 8\]' logprobs "$tmp/withtok" --text "hello world" --json
expect_ok "^sum -[0-9.]+ over 6 tokens" logprobs "$tmp/withtok" --text "hello world"

# sft (training): pre-tokenized JSONL, the seed's CSV through the tokenizer, bad input.
expect_ok "^usage: score-cli sft" sft --help
for i in 1 2 3 4 5 6; do echo '{"input_ids": [1, 5, 9, 20, 3, 7, 7, 30], "labels_mask": [0, 0, 0, 1, 1, 1, 1, 1]}'; done >"$tmp/sft.jsonl"
expect_ok "^trained 3 steps .* on 6 rows" sft "$models/qwen2" --data "$tmp/sft.jsonl" --out "$tmp/sft-full" --lr 1e-3 --batch 2 --kl-coef 0.1
grep -q '"step": 3, "loss": ' "$tmp/sft-full.metrics.jsonl" || { echo "FAIL: sft metrics log lacks step 3"; failures=$((failures+1)); }
expect_ok "^trained 3 steps" sft "$models/qwen2" --data "$tmp/sft.jsonl" --out "$tmp/sft-full" --lr 1e-3 --batch 2
expect_ok "^trained 2 steps" sft "$models/qwen3" --data "$tmp/sft.jsonl" --out "$tmp/sft-lora" --lora-rank 4 --lora-targets q_proj,v_proj --batch 3 --metrics "$tmp/m.jsonl"
grep -q '"step": 2' "$tmp/m.jsonl" || { echo "FAIL: sft metrics log lacks step 2"; failures=$((failures+1)); }
[ -f "$tmp/sft-lora/adapter_model.safetensors" ] || { echo "FAIL: sft --lora-rank saved no adapter"; failures=$((failures+1)); }
printf 'category,question,original_answer,correct_answer\nx,hello world,hello,"world, hello"\ny,world,hello,hello\n' >"$tmp/seed.csv"
expect_ok "^trained 1 steps .* on 2 rows" sft "$tmp/withtok" --data "$tmp/seed.csv" --out "$tmp/sft-csv" --kl-coef 0.1 --kl exact
printf '%s\n' '{"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]}' '{"prompt": "Say hi", "completion": " hi"}' >"$tmp/chat.jsonl"
expect_ok "^trained 1 steps .* on 2 rows" sft "$models/qwen2-chat" --data "$tmp/chat.jsonl" --out "$tmp/sft-chat" --batch 2
[ -f "$tmp/sft-chat/tokenizer.json" ] || { echo "FAIL: sft checkpoint lacks the copied tokenizer.json"; failures=$((failures+1)); }
printf 'category,question,answer\nx,hello,world\n' >"$tmp/bad.csv"
# sft --max-steps then --resume replays the uninterrupted run: same metrics, same weights.
sft_args=(--data "$tmp/sft.jsonl" --lr 1e-3 --batch 2 --epochs 2 --warmup 1)
"$cli" sft "$models/qwen2" "${sft_args[@]}" --out "$tmp/sft-straight" >/dev/null 2>&1
"$cli" sft "$models/qwen2" "${sft_args[@]}" --out "$tmp/sft-split" --max-steps 4 --save-every 2 >/dev/null 2>&1
expect_ok "^trained 6 steps" sft "$models/qwen2" "${sft_args[@]}" --out "$tmp/sft-split" --resume
python3 -c '
import json, sys
def log(p): return [{k: v for k, v in json.loads(l).items() if k not in ("elapsed", "tokens_per_second")} for l in open(p)]
a, b = log(sys.argv[1]), log(sys.argv[2])
assert len(a) == 6 and a == b, (a, b)
' "$tmp/sft-straight.metrics.jsonl" "$tmp/sft-split.metrics.jsonl" || { echo "FAIL: sft --resume does not replay the uninterrupted run"; failures=$((failures+1)); }
cmp -s "$tmp/sft-straight/model.safetensors" "$tmp/sft-split/model.safetensors" || { echo "FAIL: sft --resume ends with other weights"; failures=$((failures+1)); }
expect_error 1 "holds no checkpoint to continue" sft "$models/qwen2" "${sft_args[@]}" --out "$tmp/sft-nothing" --resume
expect_error 1 "pass the same" sft "$models/qwen2" "${sft_args[@]}" --out "$tmp/sft-split" --resume --seed 5
expect_error 1 "lacks column\\(s\\) original_answer, correct_answer" sft "$tmp/withtok" --data "$tmp/bad.csv" --out "$tmp/x"
expect_error 1 "CSV rows need the model's tokenizer" sft "$models/qwen2" --data "$tmp/seed.csv" --out "$tmp/x"
echo '{"input_ids": [1, 2, 3], "labels_mask": [0, 0, 0]}' >"$tmp/empty.jsonl"
expect_error 1 "no usable rows" sft "$models/qwen2" --data "$tmp/empty.jsonl" --out "$tmp/x"
expect_error 2 "--lr must be a finite number" sft "$models/qwen2" --data "$tmp/sft.jsonl" --out "$tmp/x" --lr nan
expect_error 1 "LoRA target 'qkv_proj' does not exist" sft "$models/qwen2" --data "$tmp/sft.jsonl" --out "$tmp/x" --lora-rank 4 --lora-targets qkv_proj
expect_error 1 "different model" sft "$models/qwen3" --data "$tmp/sft.jsonl" --out "$tmp/sft-full"
mkdir "$tmp/occupied" && echo keep >"$tmp/occupied/notes.txt"
expect_error 1 "not a libscore checkpoint" sft "$models/qwen2" --data "$tmp/sft.jsonl" --out "$tmp/occupied"

# eval and train (SCoRe): the five metrics, checkpoints, the metrics log, exact resumption, bad input.
chatm="$models/qwen2-chat"
printf '%s\n' '{"problem": "What is 2 + 3?", "answer": "id"}' '{"question": "What is 1 + 1?", "reference": "id"}' \
    '{"problem": "Name a colour.", "solution": "red"}' >"$tmp/score.jsonl"
expect_ok "^usage: score-cli eval" eval --help
expect_ok "^usage: score-cli train" train --help
expect_ok "^Acc@t2 +[0-9.]+%" eval "$chatm" --data "$tmp/score.jsonl" --max-new-tokens 4
expect_ok "^majority of 2 revisions +[0-9.]+%" eval "$chatm" --data "$tmp/score.jsonl" --max-new-tokens 2 --majority 2 --temperature 0.5
if ! "$cli" eval "$chatm" --data "$tmp/score.jsonl" --max-new-tokens 1 --verifier exact --json --out "$tmp/eval.jsonl" >"$tmp/eval.json" 2>/dev/null \
    || ! python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["problems"] == 3 and len(m["accuracy"]) == 2 and 0 < m["acc_t1"] <= 1, m
assert abs(m["delta"] - (m["acc_t2"] - m["acc_t1"])) < 1e-12, m
assert abs(m["delta"] - (m["delta_i_to_c"] - m["delta_c_to_i"])) < 1e-12, m
rows = [json.loads(line) for line in open(sys.argv[2])]
assert len(rows) == 3 and all(len(r["attempts"]) == 2 and "reward" in r["attempts"][0] for r in rows), rows
' "$tmp/eval.json" "$tmp/eval.jsonl"; then
    echo "FAIL: eval --json: $(cat "$tmp/eval.json")"; failures=$((failures+1))
fi
train_args=(--data "$tmp/score.jsonl" --samples 2 --problems-per-step 2 --max-new-tokens 4 --verifier exact --temperature 0.3 --lr 1e-2)
expect_ok "^trained 4 steps" train "$chatm" --stage both --steps 2 --out "$tmp/run" "${train_args[@]}" --eval "$tmp/score.jsonl" --eval-every 2
for f in last/trainer_state.json last/score_state.json last/model.safetensors best/model.safetensors best/tokenizer.json; do
    [ -f "$tmp/run/$f" ] || { echo "FAIL: train wrote no $f"; failures=$((failures+1)); }
done
check_metrics() {  # check_metrics file steps: every line has the fields; the stages and steps are as listed
    python3 -c '
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
fields = "step stage round reward_t1 reward_t2 kl_t1 kl_t2 answer_change_rate zero_signal_t1 zero_signal_t2 loss grad_norm lr rollout_seconds reference_seconds update_seconds rollout_tokens_per_second elapsed".split()
for r in rows:
    assert all(f in r for f in fields), [f for f in fields if f not in r]
assert [(r["step"], r["stage"]) for r in rows] == [tuple(map(int, s.split(":"))) for s in sys.argv[2:]], rows
assert all(r["step"] % 2 == 0 for r in rows if "eval_delta" in r)
for r in rows:
    if "eval_delta" in r:
        assert abs(r["eval_delta"] - (r["eval_acc_t2"] - r["eval_acc_t1"])) < 1e-12 and "eval_delta_i_to_c" in r and "eval_delta_c_to_i" in r, r
' "$@" || { echo "FAIL: metrics log $1"; failures=$((failures+1)); }
}
check_metrics "$tmp/run.metrics.jsonl" 1:1 2:1 3:2 4:2
grep -q '"eval_acc_t1"' "$tmp/run.metrics.jsonl" || { echo "FAIL: train --eval logged no held-out metrics"; failures=$((failures+1)); }
expect_ok "^trained 1 steps \(now at step 5\)" train "$chatm" --stage both --steps 3 --out "$tmp/run" "${train_args[@]}" --resume
check_metrics "$tmp/run.metrics.jsonl" 1:1 2:1 3:2 4:2 5:2
# Resuming replays exactly: two rounds straight vs. one round then --resume --rounds 2 (Stage II anchored to
# Stage I's policy, so the saved reference matters too). Timings aside, the logs must be identical.
exact_args=(--data "$tmp/score.jsonl" --samples 4 --problems-per-step 2 --max-new-tokens 1 --verifier exact --temperature 0.3
            --lr 1e-2 --stage both --steps 2 --reference stage1)
"$cli" train "$chatm" "${exact_args[@]}" --rounds 2 --out "$tmp/straight" >/dev/null 2>&1
"$cli" train "$chatm" "${exact_args[@]}" --out "$tmp/resumed" >/dev/null 2>&1
"$cli" train "$chatm" "${exact_args[@]}" --rounds 2 --out "$tmp/resumed" --resume >/dev/null 2>&1
python3 -c '
import json, sys
def log(path):
    return [{k: v for k, v in json.loads(line).items() if not (k.endswith("seconds") or k.endswith("second") or k == "elapsed")}
            for line in open(path)]
a, b = log(sys.argv[1]), log(sys.argv[2])
assert len(a) == 8 and a == b, (a, b)
assert any(r["grad_norm"] > 0 for r in a), "no step updated the policy"
' "$tmp/straight.metrics.jsonl" "$tmp/resumed.metrics.jsonl" || { echo "FAIL: train --resume does not replay the uninterrupted run"; failures=$((failures+1)); }
expect_error 2 "--stage must be 1, 2 or both" train "$chatm" --stage 3 --out "$tmp/never" "${train_args[@]}"
expect_error 2 "needs --stage" train "$chatm" --out "$tmp/never" "${train_args[@]}"
expect_error 1 "Stage I .* 2 attempts" train "$chatm" --stage 1 --attempts 1 --out "$tmp/never" "${train_args[@]}"
expect_error 1 "samples per problem must be" train "$chatm" --stage 2 --out "$tmp/never" "${train_args[@]}" --samples 1
expect_error 2 "--lr must be > 0" train "$chatm" --stage 2 --out "$tmp/never" "${train_args[@]}" --lr 0
: >"$tmp/none.jsonl"
expect_error 1 "no problems" train "$chatm" --stage 1 --data "$tmp/none.jsonl" --out "$tmp/never"
printf '{"problem": "a", "answer": "b"}\n{"problem": "no answer"}\n' >"$tmp/noanswer.jsonl"
expect_error 1 "line 2: no \"answer\"" train "$chatm" --stage 1 --data "$tmp/noanswer.jsonl" --out "$tmp/never"
expect_error 1 "line 2: no \"answer\"" eval "$chatm" --data "$tmp/noanswer.jsonl"
expect_error 1 "no tokenizer.json" train "$models/qwen2" --stage 1 --out "$tmp/never" "${train_args[@]}"
[ -e "$tmp/never" ] && { echo "FAIL: train wrote $tmp/never despite bad input"; failures=$((failures+1)); }
expect_error 1 "already holds a run; pass --resume" train "$chatm" --stage both --steps 2 --out "$tmp/run" "${train_args[@]}"
expect_error 1 "other settings \(--samples\)" train "$chatm" --stage both --steps 3 --out "$tmp/run" "${train_args[@]}" --samples 3 --resume
expect_error 1 "no checkpoint to continue" train "$chatm" --stage 1 --out "$tmp/fresh" "${train_args[@]}" --resume
expect_error 2 "needs --data" eval "$chatm"
expect_error 2 "--majority" eval "$chatm" --data "$tmp/score.jsonl" --seed 3

# --- demo: the whole pipeline on a tiny budget (the real run is `make demo`) ---
"$cli" demo --work "$tmp/demo" --sft-steps 3 --stage1-steps 1 --stage2-steps 1 --problems 2 --ablations no-shaping --json --unchecked \
    >"$tmp/demo.json" 2>/dev/null || { echo "FAIL: demo exited non-zero"; failures=$((failures+1)); }
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = list(d["models"])
assert names == ["base (SFT)", "SCoRe Stage I", "SCoRe Stage II", "single-turn RL", "without reward shaping"], names
for m in d["models"].values():
    assert abs(m["delta"] - (m["acc_t2"] - m["acc_t1"])) < 1e-9 and abs(m["delta"] - (m["delta_i_to_c"] - m["delta_c_to_i"])) < 1e-9
assert d["problems"] == 200 and set(d["rl_step_seconds"]) == {"rollout", "reference", "update"}
' "$tmp/demo.json" || { echo "FAIL: demo --json"; failures=$((failures+1)); }
for d in sft stage1 stage2 single-turn; do [ -f "$tmp/demo/$d/model.safetensors" ] || { echo "FAIL: demo left no $d model"; failures=$((failures+1)); }; done
"$cli" eval "$tmp/demo/stage2" --data "$tmp/demo/held_out.jsonl" --verifier exact --instruction "Check your answer." \
    --max-new-tokens 4 --json >/dev/null 2>&1 || { echo "FAIL: eval of the demo's model"; failures=$((failures+1)); }
# A warm start that misses its band ends the demo: one error line, no table.
"$cli" demo --work "$tmp/demo-premise" --sft-steps 3 --stage1-steps 1 --stage2-steps 1 --problems 2 --no-ablation \
    >"$tmp/premise.out" 2>"$tmp/premise.err"
premise_status=$?
if [ "$premise_status" -ne 1 ] || [ -s "$tmp/premise.out" ] || ! grep -q "^score-cli: error: demo: the warm start reached Acc@t1 .* outside its band" "$tmp/premise.err"; then
    echo "FAIL: a warm start outside its band: exit $premise_status, stdout $(cat "$tmp/premise.out"), stderr $(tail -1 "$tmp/premise.err")"; failures=$((failures+1))
fi
expect_error 2 "--task must be pairs or carry" demo --task algebra
expect_error 2 "unknown ablation 'bogus'" demo --ablations bogus

# --- hostile input ---
# Every JSON the CLI prints is valid: a model whose weights are NaN gives NaN
# log-probs, which --json writes as null (never `nan`).
mkdir "$tmp/nanmodel" && cp "$models/qwen2"/config.json "$models/qwen2"/model.safetensors "$tmp/nanmodel/"
python3 - "$tmp/nanmodel/model.safetensors" <<'PY'
import json, struct, sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
n = struct.unpack("<Q", data[:8])[0]
e = json.loads(data[8:8 + n])["model.norm.weight"]
b, end = e["data_offsets"]
data[8 + n + b:8 + n + end] = struct.pack("<f", float("nan")) * ((end - b) // 4)
open(path, "wb").write(data)
PY
valid_json() {  # valid_json what file: every line of file parses as strict JSON
    python3 -c '
import json, sys
def reject(c): raise ValueError("non-finite number " + c)
for line in open(sys.argv[1]):
    json.loads(line, parse_constant=reject)
' "$2" || { echo "FAIL: $1 printed invalid JSON: $(head -c 300 "$2")"; failures=$((failures+1)); }
}
"$cli" generate "$tmp/nanmodel" --ids 1,2,3 --max-new-tokens 3 --json >"$tmp/nan.json" 2>&1 || { echo "FAIL: generate on a NaN model exited non-zero"; failures=$((failures+1)); }
valid_json "generate --json (NaN log-probs)" "$tmp/nan.json"
grep -q '"logprobs": \[null, null, null\]' "$tmp/nan.json" || { echo "FAIL: NaN log-probs are not null: $(cat "$tmp/nan.json")"; failures=$((failures+1)); }
"$cli" logprobs "$tmp/nanmodel" --ids 1,2,3 --json >"$tmp/nanlp.json" 2>&1 || { echo "FAIL: logprobs on a NaN model exited non-zero"; failures=$((failures+1)); }
valid_json "logprobs --json (NaN)" "$tmp/nanlp.json"
for args in "info $models/qwen2 --json" "info --system --json" "logprobs $models/qwen2 --ids 1,5,9 --json" \
            "bench $models/qwen2 --tokens 4 --repeat 1 --json" "bench-gemm --size 16 --repeat 1 --json" \
            "bench-matmul --rows 2 --n 20 --k 33 --repeat 1 --json" "bench-memory --mb 16 --repeat 1 --json"; do
    # shellcheck disable=SC2086
    "$cli" $args >"$tmp/any.json" 2>/dev/null || { echo "FAIL: score-cli $args exited non-zero"; failures=$((failures+1)); }
    valid_json "score-cli $args" "$tmp/any.json"
done

# A token id of 2^31 - 1 in tokenizer.json used to abort (a 32 GB allocation).
mkdir "$tmp/bigid" && cp "$models/qwen2-chat"/* "$tmp/bigid/"
sed -i 's/"!": 0,/"!": 2147483647,/' "$tmp/bigid/tokenizer.json"
expect_error 1 "tokenizer.json.*2147483647" info "$tmp/bigid"
expect_error 1 "tokenizer.json.*2147483647" generate "$tmp/bigid" --ids 1,2

# Invalid UTF-8 on the command line is an error, not silently U+FFFD.
expect_error 2 "argument 2 is not valid UTF-8" info $'\xff\xfe'
expect_error 2 "argument 3 is not valid UTF-8" tokenize "$models/qwen2-chat" $'caf\xe9'
expect_error 2 "argument 5 is not valid UTF-8" generate "$models/qwen2-chat" --max-new-tokens 2 $'\xc3\x28'
expect_ok "tokens" tokenize "$models/qwen2-chat" "café ✓"

# A NUL inside a problem is part of the text (JSON escapes it on the way
# out), never where the problem silently ends.
printf '{"problem": "What is 2 + 3?\\u0000 And 7 + 8?", "answer": "5"}\n' >"$tmp/nul.jsonl"
expect_ok "problems" correct "$models/qwen2-chat" --in "$tmp/nul.jsonl" --out "$tmp/nul-out.jsonl" --max-new-tokens 2
grep -qF '"problem":"What is 2 + 3?\u0000 And 7 + 8?"' "$tmp/nul-out.jsonl" || { echo "FAIL: NUL problem came back as: $(cat "$tmp/nul-out.jsonl")"; failures=$((failures+1)); }

# --no-mmap: weights read into memory (documented with the SIGBUS it avoids).
expect_ok "^sum -[0-9.]+ over 4 tokens" logprobs "$models/qwen2" --ids 1,5,9,20,3 --no-mmap
expect_ok "SIGBUS" generate --help
expect_error 2 "unknown option --no-mmap" tokenize "$models/qwen2-chat" "x" --no-mmap

# A FIFO instead of a model file: an error, not a process blocked in open().
mkdir "$tmp/fifo" && cp "$models/qwen2"/config.json "$tmp/fifo/" && mkfifo "$tmp/fifo/model.safetensors"
for cmd in info logprobs generate; do
    extra=(); [ $cmd != info ] && extra=(--ids 1,2,3)
    timeout 20 "$cli" $cmd "$tmp/fifo" "${extra[@]}" >/dev/null 2>"$tmp/err"; got=$?
    if [ $got -ne 1 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q "^score-cli: error: .*FIFO" "$tmp/err"; then
        echo "FAIL: score-cli $cmd on a FIFO: exit $got, $(cat "$tmp/err")"; failures=$((failures+1))
    fi
done

if [ $failures -ne 0 ]; then echo "test_cli: $failures failure(s)"; exit 1; fi
echo "test_cli: all checks passed"
