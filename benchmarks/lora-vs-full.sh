#!/usr/bin/env bash
# DPO on Qwen2.5-0.5B's geometry (random weights, scripts/make_qwen25_05b.py): LoRA (PEFT's, r 16, alpha 32, every
# linear layer, the base as reference) against full fine-tuning (every weight, a frozen copy as reference), both bf16
# with activation checkpointing, one pair of 128 + 384 tokens per step. Medians of the steps after the warm-up, peak
# RSS per run. Writes build/bench/lora-vs-full.log.
#   VENV=v benchmarks/lora-vs-full.sh [--steps 4] [--warmup 1] [--rank 16]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
steps=4 warmup=1 rank=16
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rank) rank="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
model="$(qwen05b_model)"
log="$root/build/bench/lora-vs-full.log"
args=(--batch 1 --prompt-len 128 --completion-len 384 --steps "$steps" --warmup "$warmup" --grad-ckpt --bf16)
: > "$log"
echo "=== full fine-tuning" | tee -a "$log"
drift_java org.driftml.bench.DpoStepBench "$model" "${args[@]}" 2>&1 | grep -E '^(step|DRIFT_DPO)' | tee -a "$log"
echo "=== LoRA r=$rank" | tee -a "$log"
drift_java org.driftml.bench.DpoStepBench "$model" "${args[@]}" --lora-r "$rank" 2>&1 | grep -E '^(step|DRIFT_DPO)' \
  | tee -a "$log"
