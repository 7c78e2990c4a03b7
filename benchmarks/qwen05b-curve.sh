#!/usr/bin/env bash
# drift against TRL's DPOTrainer on Qwen2.5-0.5B's geometry (random weights, scripts/make_qwen25_05b.py): one pair
# per step, activation checkpointing on both sides, bf16 (drift: bf16 weights over fp32 masters; TRL: autocast over
# fp32 weights), at total lengths 256, 512, 1024 and 2048 (prompt a quarter of it). Medians of the steps after the
# warm-up ones, peak RSS per run. Writes build/bench/qwen05b-curve.{log,md,png}.
#   VENV=v benchmarks/qwen05b-curve.sh [--steps 3] [--warmup 1] [--lengths "256 512 1024 2048"] [--fp32]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
steps=3 warmup=1 lengths="256 512 1024 2048" dtype=(--bf16)
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --lengths) lengths="$2"; shift 2 ;;
    --fp32) dtype=(); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
model="$(qwen05b_model)"
out="$root/build/bench"
log="$out/qwen05b-curve.log"
: > "$log"
for total in $lengths; do
  prompt=$((total / 4)) completion=$((total - total / 4))
  args=(--batch 1 --prompt-len "$prompt" --completion-len "$completion" --steps "$steps" --warmup "$warmup"
        --grad-ckpt "${dtype[@]}")
  echo "=== length $total" | tee -a "$log"
  # The machine's GEMM rate at this length's rows (chosen and rejected), bf16's or fp32's as the run computes.
  gemm_peak "$model" $((2 * total)) 2>/dev/null
  peak=$gemm_bf16
  [ ${#dtype[@]} -eq 0 ] && peak=$gemm_fp32
  "${py_side[@]}" "$bench/trl_dpo_bench.py" "$model" --data pretok "${args[@]}" 2>&1 | grep -v -i warn \
    | grep -E '^TRL_DPO ' | sed "s/^/length=$total /" | tee -a "$log"
  drift_java org.driftml.bench.DpoStepBench "$model" "${args[@]}" --peak-gflops "$peak" 2>&1 \
    | grep -E '^(cpu: |DRIFT_DPO |DRIFT_DPO_FLOPS )' | sed "s/^/length=$total /" | tee -a "$log"
  tflop=$(grep "^length=$total DRIFT_DPO_FLOPS " "$log" | sed 's/.*step_tflop=\([0-9.]*\).*/\1/')
  for side in TRL_DPO DRIFT_DPO; do
    s=$(grep -E "^length=$total $side " "$log" | sed 's/.*median_step_s=\([0-9.]*\).*/\1/')
    flop_share "length=$total ${side}_SHARE" "$s" "$tflop" "$peak" | tee -a "$log"
  done
done
"$venv/bin/python" "$root/benchmarks/scripts/curve_table.py" "$log" "$out/qwen05b-curve.md" "$out/qwen05b-curve.png"
cat "$out/qwen05b-curve.md"
