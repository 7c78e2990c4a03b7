#!/usr/bin/env bash
# drift against TRL's DPOTrainer and a hand-written PyTorch loop on shared/bench's DPO workload: the same model
# folder, byte-identical batches, the same settings, back to back on this machine. Needs a venv with torch 2.13,
# transformers and trl (README, "Parity fixtures"): VENV=path (default ./v). Extra arguments go to all three
# (e.g. --steps 10). Each prints its steps and a last summary line; this script collects the three summaries.
# VOCAB=N builds and uses the small preset with that vocabulary (151936 is Qwen2.5's); default 32,000.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
if [ -n "${VOCAB:-}" ]; then
  model="$root/build/bench/qwen2-small-v$VOCAB"
  [ -f "$model/config.json" ] || "$venv/bin/python" "$bench/make_tiny_qwen2.py" "$model" --vocab "$VOCAB"
else
  model="$root/build/bench/qwen2-small"
  [ -f "$model/config.json" ] || "$venv/bin/python" "$bench/make_tiny_qwen2.py" "$model"
fi
log="$root/build/bench/dpo-vs-trl-$(date +%Y%m%d-%H%M%S).log"
# The measured GEMM rate the steps are held against: bf16's with --bf16, else fp32's (batch 4 x 2 x 256 tokens).
gemm_peak "$model" 2048 2>>"$log"
peak=$gemm_fp32
for a in "$@"; do [ "$a" = --bf16 ] && peak=$gemm_bf16; done
{
  "${py_side[@]}" "$bench/trl_dpo_bench.py" "$model" "$@" 2>&1 | grep -v -i warn
  "${py_side[@]}" "$bench/torch_dpo_bench.py" "$model" "$@" 2>&1 | grep -v -i warn
  drift_java org.driftml.bench.DpoStepBench "$model" "$@" --peak-gflops "$peak"
} | tee -a "$log"
echo "--- summary ($log)"
grep -E '^cpu: ' "$log" | head -n 1
grep -E '^(TRL_DPO|TORCH_DPO|DRIFT_DPO) ' "$log"
# Every side's step against the same FLOP count (drift's: 2 per parameter and token per forward, 4 per backward).
tflop=$(grep '^DRIFT_DPO_FLOPS ' "$log" | sed 's/.*step_tflop=\([0-9.]*\).*/\1/')
for side in TRL_DPO TORCH_DPO DRIFT_DPO; do
  s=$(grep -E "^$side " "$log" | sed 's/.*median_step_s=\([0-9.]*\).*/\1/')
  flop_share "$side" "$s" "$tflop" "$peak"
done
