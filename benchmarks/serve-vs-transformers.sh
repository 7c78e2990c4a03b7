#!/usr/bin/env bash
# drift serve against transformers' own OpenAI-compatible server (transformers serve --continuous-batching) on the
# same model, Qwen2.5-0.5B's geometry with random weights and the real Qwen2 tokenizer and chat template, in fp32
# and bf16, one server at a time on this CPU. A load generator (scripts/chat_load.py) sends N concurrent streaming
# chats of 128 prompt tokens and 128 greedy reply tokens (drift: ignore_eos; random weights almost never choose an
# end token on transformers' side either) at N = 1, 8, 32, and the copy bandwidth of this machine is measured in the
# same run for the single-stream memory-bandwidth bound (weight bytes per token / copy bandwidth).
#   VENV=v benchmarks/serve-vs-transformers.sh [--dtypes "fp32 bf16"] [--concurrency "1 8 32"] [--max-tokens 128]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
dtypes="fp32 bf16" concurrency="1 8 32" max_tokens=128
while [ $# -gt 0 ]; do
  case "$1" in
    --dtypes) dtypes="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --max-tokens) max_tokens="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
weights="$(qwen05b_model)"
chat="$root/build/bench/qwen25-05b-chat"   # the weights beside the real tokenizer and chat template
mkdir -p "$chat"
for f in "$weights"/*; do ln -sf "$f" "$chat/"; done
for f in tokenizer.json tokenizer_config.json vocab.json merges.txt special_tokens_map.json added_tokens.json; do
  cp "$root/../shared/fixtures/qwen2-tokenizer/$f" "$chat/"
done
log="$root/build/bench/serve-vs-transformers-$(date +%Y%m%d-%H%M%S).log"
mkdir -p "$(dirname "$log")"
{ echo "# $(git -C "$root" rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  "$venv/bin/python" "$root/benchmarks/scripts/copy_bandwidth.py"
  "$venv/bin/python" -c '
import math, sys
from safetensors import safe_open
with safe_open(sys.argv[1] + "/model.safetensors", "pt") as f:
    n = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
print(f"WEIGHTS parameters={n} fp32_bytes={4 * n} bf16_bytes={2 * n}")' "$weights"
} | tee -a "$log"

wait_ready() {  # $1 url; up to 10 minutes (a model loading on a busy machine)
  for _ in $(seq 1200); do curl -sf "$1/health" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "server at $1 never became ready" >&2; return 1
}
load() {  # $1 base url, $2 model name, $3 label, then extra flags
  "$venv/bin/python" "$root/benchmarks/scripts/chat_load.py" --base-url "$1/v1" --model "$2" --tokenizer "$chat" \
    --concurrency $concurrency --max-tokens "$max_tokens" --label "$3" "${@:4}" 2>&1 | grep --line-buffered -E '^(SERVE|#)' \
    | tee -a "$log"
}
for d in $dtypes; do
  [ "$d" = bf16 ] && drift_dtype=bfloat16 hf_dtype=bfloat16 || drift_dtype=float32 hf_dtype=float32
  "$root/drift" serve --model "$chat" --served-model-name qwen --dtype "$drift_dtype" --port 8100 --max-batch 32 \
    --max-model-len 512 > "$log.drift-$d.out" 2>&1 &
  pid=$!
  wait_ready http://127.0.0.1:8100 && load http://127.0.0.1:8100 qwen "drift-$d" --ignore-eos
  kill $pid; wait $pid 2>/dev/null || true
  "$venv/bin/transformers" serve "$chat" --continuous-batching --device cpu --dtype "$hf_dtype" --port 8101 \
    --host 127.0.0.1 > "$log.hf-$d.out" 2>&1 &
  pid=$!
  wait_ready http://127.0.0.1:8101 && load http://127.0.0.1:8101 "$chat" "transformers-$d"
  kill $pid; wait $pid 2>/dev/null || true
done
echo "--- $log"
