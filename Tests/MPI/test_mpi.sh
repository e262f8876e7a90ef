#!/usr/bin/env bash
# Data-parallel SCoRe over MPI (Open MPI): `mpirun -np N score-cli train`
# equals one process summing the same N shards (--shards N) bit for bit
# (weights and metrics), and a worker killed mid-run ends the whole job.
set -uo pipefail
cli=${1:-.build/release/score-cli}
models=${2:-Tests/Fixtures/models}
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# SCORE_CHECK_WORKERS: every rank hashes its weights after each step and the ranks compare.
mpi=(mpirun --oversubscribe --bind-to none -x SCORE_CHECK_WORKERS=1)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)

printf '%s\n' '{"problem": "What is 2 + 3?", "answer": "id"}' '{"problem": "What is 1 + 1?", "answer": "id"}' \
    '{"problem": "Name a colour.", "answer": "red"}' '{"problem": "Say yes.", "answer": "id"}' >"$tmp/data.jsonl"
args=(train "$models/qwen2-chat" --data "$tmp/data.jsonl" --samples 4 --problems-per-step 3 --max-new-tokens 1
      --verifier exact --temperature 0.3 --lr 1e-2 --stage both --steps 2 --micro-batch 3 --reference stage1)

same_run() {  # same_run A B [lines]: weights and metrics (timings and the worker count aside) equal
    python3 - "$1" "$2" "${3:-4}" <<'PY' || return 1
import json, sys
def log(path):
    return [{k: v for k, v in json.loads(line).items()
             if not (k.endswith("seconds") or k.endswith("second") or k in ("elapsed", "workers"))} for line in open(path)]
a, b = log(sys.argv[1] + ".metrics.jsonl"), log(sys.argv[2] + ".metrics.jsonl")
assert len(a) == int(sys.argv[3]) and a == b, (a, b)
assert any(r["grad_norm"] > 0 for r in a), "no step moved the policy"
PY
    cmp -s "$1/last/model.safetensors" "$2/last/model.safetensors" && cmp -s "$1/best/model.safetensors" "$2/best/model.safetensors"
}

for n in 2 3; do
    "$cli" "${args[@]}" --shards "$n" --out "$tmp/one-$n" >/dev/null 2>&1 || { echo "FAIL: --shards $n"; failures=$((failures+1)); }
    if ! "${mpi[@]}" -np "$n" "$cli" "${args[@]}" --out "$tmp/mpi-$n" >"$tmp/mpi-$n.out" 2>"$tmp/mpi-$n.err"; then
        echo "FAIL: mpirun -np $n: $(tail -3 "$tmp/mpi-$n.err")"; failures=$((failures+1)); continue
    fi
    same_run "$tmp/one-$n" "$tmp/mpi-$n" || { echo "FAIL: mpirun -np $n differs from one process with --shards $n"; failures=$((failures+1)); }
    grep -q "\"workers\":$n" "$tmp/mpi-$n.metrics.jsonl" || grep -q "\"workers\": $n" "$tmp/mpi-$n.metrics.jsonl" \
        || { echo "FAIL: metrics lack \"workers\": $n"; failures=$((failures+1)); }
    [ "$(grep -c '^trained' "$tmp/mpi-$n.out")" = 1 ] || { echo "FAIL: more than rank 0 reported (-np $n)"; failures=$((failures+1)); }
done

# SFT: each rank takes its share of every micro-batch.
for i in $(seq 12); do echo "{\"input_ids\": [1, $((5 + i)), 9, 20, 3, 7, $((7 + i)), 30], \"labels_mask\": [0, 0, 0, 1, 1, 1, $((i % 2)), 1]}"; done >"$tmp/sft.jsonl"
sft=(sft "$models/qwen2" --data "$tmp/sft.jsonl" --lr 1e-3 --batch 5 --epochs 2)
"$cli" "${sft[@]}" --shards 2 --out "$tmp/sft-one" >/dev/null 2>&1
"${mpi[@]}" -np 2 "$cli" "${sft[@]}" --out "$tmp/sft-mpi" >/dev/null 2>"$tmp/sft-mpi.err" || { echo "FAIL: mpirun sft: $(tail -2 "$tmp/sft-mpi.err")"; failures=$((failures+1)); }
cmp -s "$tmp/sft-one/model.safetensors" "$tmp/sft-mpi/model.safetensors" || { echo "FAIL: mpirun -np 2 sft differs from --shards 2"; failures=$((failures+1)); }
python3 - "$tmp/sft-one.metrics.jsonl" "$tmp/sft-mpi.metrics.jsonl" <<'PY' || { echo "FAIL: sft metrics differ"; failures=$((failures+1)); }
import json, sys
def log(p): return [{k: v for k, v in json.loads(l).items() if k not in ("elapsed", "tokens_per_second", "workers")} for l in open(p)]
a, b = log(sys.argv[1]), log(sys.argv[2])
assert len(a) == 6 and a == b, (a, b)
assert all(json.loads(l)["workers"] == 2 for l in open(sys.argv[2]))
PY

# --resume under MPI continues the run exactly: two rounds straight, against one round then --resume --rounds 2.
"${mpi[@]}" -np 2 "$cli" "${args[@]}" --rounds 2 --out "$tmp/straight" >/dev/null 2>&1
"${mpi[@]}" -np 2 "$cli" "${args[@]}" --out "$tmp/resumed" >/dev/null 2>&1
"${mpi[@]}" -np 2 "$cli" "${args[@]}" --rounds 2 --out "$tmp/resumed" --resume >/dev/null 2>&1
same_run "$tmp/straight" "$tmp/resumed" 8 || { echo "FAIL: mpirun --resume differs from the uninterrupted run"; failures=$((failures+1)); }

# A worker that dies ends the job: the other does not wait forever.
long=("${args[@]}" --steps 100000 --out "$tmp/killed")
"${mpi[@]}" -np 2 "$cli" "${long[@]}" >/dev/null 2>"$tmp/killed.err" &
job=$!
for _ in $(seq 50); do
    ranks=$(pgrep -f "score-cli train .*$tmp/killed" | head -2 | wc -l)
    [ "$ranks" = 2 ] && break
    sleep 0.2
done
sleep 1
victim=$(pgrep -f "score-cli train .*$tmp/killed" | tail -1)
kill -9 "$victim" 2>/dev/null
start=$SECONDS
while kill -0 "$job" 2>/dev/null && [ $((SECONDS - start)) -lt 60 ]; do sleep 0.2; done
kill -9 "$job" 2>/dev/null
wait "$job"; status=$?
echo "killing one worker: mpirun ended (exit $status) after $((SECONDS - start)) s"
if [ "$status" = 0 ] || [ $((SECONDS - start)) -ge 60 ] || pgrep -f "score-cli train .*$tmp/killed" >/dev/null; then
    echo "FAIL: killing one worker: mpirun exit $status after $((SECONDS - start)) s"; failures=$((failures+1))
    pkill -9 -f "score-cli train .*$tmp/killed"
fi

if [ "$failures" -gt 0 ]; then echo "test_mpi: $failures failure(s)"; exit 1; fi
echo "test_mpi: all checks passed"
