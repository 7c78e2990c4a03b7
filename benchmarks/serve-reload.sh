#!/usr/bin/env bash
# drift serve's reload under load, and the memory it leaves: Qwen2.5-0.5B's geometry with random weights and the real
# Qwen2 tokenizer, fp32. One server starts on folder a; after a warm-up load its resident memory is read ("fresh a").
# Then 16 streaming chats run while POST /admin/reload moves the server to folder b (the same weights under another
# name, loaded anew): every chat must finish (chat_load.py fails on any error). After the same warm-up the memory is
# read again ("after reload") and compared with a fresh server started on b ("fresh b"), same warm-up.
#   VENV=v benchmarks/serve-reload.sh [--dtype float32|bfloat16]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
dtype=float32
while [ $# -gt 0 ]; do
  case "$1" in
    --dtype) dtype="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
weights="$(qwen05b_model)"
models="$root/build/bench/reload-models"
rm -rf "$models" && mkdir -p "$models/a" "$models/b"
for m in a b; do
  for f in "$weights"/*; do ln -sf "$f" "$models/$m/"; done
  for f in tokenizer.json tokenizer_config.json vocab.json merges.txt special_tokens_map.json added_tokens.json; do
    cp "$root/../shared/fixtures/qwen2-tokenizer/$f" "$models/$m/"
  done
done
log="$root/build/bench/serve-reload-$(date +%Y%m%d-%H%M%S).log"
work="$(mktemp -d)"
echo "# $(git -C "$root" rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $dtype" | tee -a "$log"

wait_ready() {
  for _ in $(seq 1200); do curl -sf "$1/health" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "server at $1 never became ready" >&2; return 1
}
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
load() {  # concurrency, max tokens, label
  "$venv/bin/python" "$root/benchmarks/scripts/chat_load.py" --base-url http://127.0.0.1:8102/v1 --model qwen \
    --tokenizer "$models/a" --concurrency "$1" --max-tokens "$2" --label "$3" --ignore-eos 2>&1 \
    | grep --line-buffered -E '^(SERVE|#|Traceback|.*Error)' | tee -a "$log"
}
serve() {  # folder; the pid in $pid
  "$root/drift" serve --model "$1" --served-model-name qwen --dtype "$dtype" --port 8102 --max-batch 32 \
    --max-model-len 512 --models-root "$models" --admin-key reload-key --log-dir "$work/log-$(basename "$1")-$RANDOM" \
    > "$work/serve.out" 2>&1 &
  pid=$!
  wait_ready http://127.0.0.1:8102
}
warm() { load 32 64 "warm-up $1" > /dev/null; sleep 2; echo "RSS $1 $(rss_mb "$pid") MB" | tee -a "$log"; }

serve "$models/a"
warm "fresh-a"
load 16 128 "during-reload" &
loader=$!
sleep 5
curl -sf -X POST http://127.0.0.1:8102/admin/reload -H 'Authorization: Bearer reload-key' \
  -H 'Content-Type: application/json' -d '{"model": "b"}' | tee -a "$log"; echo | tee -a "$log"
wait $loader && echo "RELOAD every chat running through the reload finished" | tee -a "$log"
warm "after-reload-to-b"
kill $pid; wait $pid 2>/dev/null || true
grep "serving" "$work/serve.out" | tee -a "$log"
serve "$models/b"
warm "fresh-b"
kill $pid; wait $pid 2>/dev/null || true
rm -rf "$work"
echo "--- $log"
