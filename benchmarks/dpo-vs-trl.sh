#!/usr/bin/env bash
# drift against TRL's DPOTrainer and a hand-written PyTorch loop on shared/bench's DPO workload: the same model
# folder, byte-identical batches, the same settings, back to back on this machine. Needs a venv with torch 2.13,
# transformers and trl (README, "Parity fixtures"): VENV=path (default ./v). Extra arguments go to all three
# (e.g. --steps 10). Each prints its steps and a last summary line; this script collects the three summaries.
# VOCAB=N builds and uses the small preset with that vocabulary (151936 is Qwen2.5's); default 32,000.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/v}"
bench="$root/../shared/bench"
if [ -n "${VOCAB:-}" ]; then
  model="$root/build/bench/qwen2-small-v$VOCAB"
  [ -f "$model/config.json" ] || "$venv/bin/python" "$bench/make_tiny_qwen2.py" "$model" --vocab "$VOCAB"
else
  model="$root/build/bench/qwen2-small"
  [ -f "$model/config.json" ] || "$venv/bin/python" "$bench/make_tiny_qwen2.py" "$model"
fi
"$root/benchmarks/jmh" -h >/dev/null  # builds the benchmarks module if needed
cp="$root/benchmarks/target/classes:$(cat "$root/benchmarks/target/classpath.txt")"
# Like with like: huge-page-aligned allocations for every side (drift sets this itself unless told otherwise).
# drift runs with a 512 MB Java heap: tensors live outside it, and a larger heap only fills with garbage handles
# before the collector runs (measured: peak RSS 2,551 MB with -Xmx1g, 2,177 MB with -Xmx512m).
export THP_MEM_ALLOC_ENABLE=1
log="$root/build/bench/dpo-vs-trl-$(date +%Y%m%d-%H%M%S).log"
{
  "$venv/bin/python" "$bench/trl_dpo_bench.py" "$model" "$@" 2>&1 | grep -v -i warn
  "$venv/bin/python" "$bench/torch_dpo_bench.py" "$model" "$@" 2>&1 | grep -v -i warn
  java -Xmx512m -cp "$cp" -Dorg.slf4j.simpleLogger.log.org.bytedeco.javacpp.Loader=error \
    org.driftml.bench.DpoStepBench "$model" "$@"
} | tee "$log"
echo "--- summary ($log)"
grep -E '^(TRL_DPO|TORCH_DPO|DRIFT_DPO) ' "$log"
