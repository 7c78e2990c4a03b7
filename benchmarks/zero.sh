#!/usr/bin/env bash
# ZeRO on this host: two DpoStepBench ranks (torchrun's variables, Gloo over loopback, one intra-op thread each) on
# Qwen2.5-0.5B's geometry (random weights, scripts/make_qwen25_05b.py), bf16 over fp32 masters, activation
# checkpointing, one pair of 64 + 192 tokens per rank per step, at --zero 0, 1 and 2. Per rank: the optimiser state and
# the gradients it holds (DpoTrainer.optimizerBytes / gradientBytes), its peak RSS, the median step and reduce time.
# Writes build/bench/zero.log.
#   VENV=v benchmarks/zero.sh [--steps 3] [--warmup 1] [--stages "0 1 2"]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
steps=3 warmup=1 stages="0 1 2"
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --stages) stages="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
model="$(qwen05b_model)"
log="$root/build/bench/zero.log"
: > "$log"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1
for zero in $stages; do
  args=(--batch 2 --prompt-len 64 --completion-len 192 --steps "$steps" --warmup "$warmup" --bf16 --grad-ckpt
        --zero "$zero")
  echo "=== ZeRO $zero, two ranks" | tee -a "$log"
  export MASTER_PORT=$((29600 + RANDOM % 300))
  RANK=1 LOCAL_RANK=1 drift_java org.driftml.bench.DpoStepBench "$model" "${args[@]}" > "$log.rank1" 2>&1 &
  RANK=0 LOCAL_RANK=0 drift_java org.driftml.bench.DpoStepBench "$model" "${args[@]}" 2>&1 \
    | grep -E '^DRIFT_DPO' | sed 's/^/rank=0 /' | tee -a "$log"
  wait
  grep -E '^DRIFT_DPO' "$log.rank1" | sed 's/^/rank=1 /' | tee -a "$log"
done
