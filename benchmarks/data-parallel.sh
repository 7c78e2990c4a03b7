#!/usr/bin/env bash
# Data-parallel DPO on this host: DpoStepBench on the small Qwen2 preset (shared/bench's make_tiny_qwen2.py, vocab
# 32,000), one global batch of 8 pairs of 64 + 192 tokens per step, fp32 (--bf16 for bf16), run as one process with
# two intra-op threads, one process with one, and two processes with one each (torchrun's variables, Gloo over
# loopback). Medians of the steps after the warm-up; the all-reduce's share from the ranks' own timing.
# Writes build/bench/data-parallel.log.
#   VENV=v benchmarks/data-parallel.sh [--steps 6] [--warmup 2] [--bf16]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
steps=6 warmup=2 dtype=()
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --bf16) dtype=(--bf16); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
model="$root/build/bench/qwen2-small"
[ -f "$model/config.json" ] || "$venv/bin/python" "$bench/make_tiny_qwen2.py" "$model"
log="$root/build/bench/data-parallel.log"
args=(--batch 8 --prompt-len 64 --completion-len 192 --steps "$steps" --warmup "$warmup" "${dtype[@]}")
threads() { export OMP_NUM_THREADS="$1" OPENBLAS_NUM_THREADS="$1"; }
: > "$log"
echo "=== one process, 2 threads" | tee -a "$log"
(threads 2; drift_java org.driftml.bench.DpoStepBench "$model" "${args[@]}" 2>&1 | grep -E '^DRIFT_DPO' | tee -a "$log")
echo "=== one process, 1 thread" | tee -a "$log"
(threads 1; drift_java org.driftml.bench.DpoStepBench "$model" "${args[@]}" 2>&1 | grep -E '^DRIFT_DPO' | tee -a "$log")
echo "=== two processes, 1 thread each" | tee -a "$log"
port=$((29600 + RANDOM % 300))
(threads 1; export WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port
 RANK=1 LOCAL_RANK=1 drift_java org.driftml.bench.DpoStepBench "$model" "${args[@]}" > "$log.rank1" 2>&1 &
 RANK=0 LOCAL_RANK=0 drift_java org.driftml.bench.DpoStepBench "$model" "${args[@]}" 2>&1 | grep -E '^DRIFT_DPO' \
   | tee -a "$log"; wait)
grep -E '^DRIFT_DPO' "$log.rank1" | tee -a "$log"
