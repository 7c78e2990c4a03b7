#!/usr/bin/env bash
# Memory across DRIFT's stages at Qwen2.5-0.5B's geometry: `drift train --iterations 4` (bf16, activation
# checkpointing) on a few DSAT items with short samples, and the resident set and native heap each stage starts with
# (DriftTrainer prints them), plus the process's peak. Each stage must free its policy, reference scores and
# optimizer, so stage starts stay within 5% of each other. drift runs with the launcher's JVM options (DRIFT_JAVA_OPTS
# overrides them). Writes build/bench/stage-memory.log.
#   VENV=v benchmarks/stage-memory.sh [--iterations 4] [--items 8] [--max-new-tokens 16]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
iterations=4 items=8 new_tokens=16
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations="$2"; shift 2 ;;
    --items) items="$2"; shift 2 ;;
    --max-new-tokens) new_tokens="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
geometry="$(qwen05b_model)"
work="$root/build/bench/stage-memory"
rm -rf "$work"; mkdir -p "$work/model"
# A model folder drift can load: the random 0.5B weights and the real Qwen2 tokenizer with its chat template.
ln -s "$geometry"/config.json "$geometry"/generation_config.json "$geometry"/model.safetensors "$work/model/"
cp "$root"/../shared/fixtures/qwen2-tokenizer/{tokenizer.json,tokenizer_config.json,vocab.json,merges.txt,special_tokens_map.json,added_tokens.json} "$work/model/"
# DSAT items in DRIFT's released record format: a request, the reply the user disliked, their feedback.
python3 - "$items" > "$work/dsat.jsonl" <<'PY'
import json, sys
topics = ["the water cycle", "binary search", "photosynthesis", "compound interest", "TCP handshakes",
          "the French revolution", "vector norms", "garbage collection", "tides", "prime numbers"]
for i in range(int(sys.argv[1])):
    t = topics[i % len(topics)]
    print(json.dumps({"id": f"item-{i}", "prompt": [{"role": "user", "content": f"Explain {t} in two sentences."}],
                      "rejected": {"role": "assistant", "content": f"{t.capitalize()} is a thing that happens."},
                      "user_preference": {"content": "That says nothing. Give me the actual mechanism."}}))
PY
log="$root/build/bench/stage-memory.log"
"$root/drift" mine --logs "$work/dsat.jsonl" --format dsat --output "$work/mined" > /dev/null
/usr/bin/time -v "$root/drift" train --model "$work/model" --data "$work/mined" \
  --output "$work/run" --method drift --iterations "$iterations" --no-warm-start --dtype bfloat16 \
  --gradient-checkpointing --max-new-tokens "$new_tokens" --generation-batch 8 --batch-size 2 \
  --max-prompt-length 128 --max-length 256 2>&1 | tee "$log" | grep -E "starting|pairs|Maximum resident|Elapsed"
# Stage starts against the first and the second: the first starts before LibTorch's code and oneDNN's kernels are
# paged in (85 MB resident), so the second is the first comparable one.
grep -E ': starting \(resident' "$log" | sed -E 's/,//g; s/^([^:]+): starting \(resident ([0-9]+) MB native heap ([0-9]+) MB\)/\1 \2 \3/' \
  | awk 'NR==1{r1=$2; h1=$3} NR==2{r2=$2; h2=$3}
         {printf "%-12s resident %5d MB (%.2fx first, %.2fx second)   native heap %5d MB (%.3fx first, %.3fx second)\n",
                 $1, $2, $2/r1, (NR>1 ? $2/r2 : 0), $3, $3/h1, (NR>1 ? $3/h2 : 0)}'
