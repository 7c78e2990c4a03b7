#!/usr/bin/env bash
# DRIFT's positive sampling (temperature 0.7, top-p 0.9, 128 new tokens after 64-token prompts) on Qwen2.5-0.5B's
# geometry (random weights, as qwen05b-curve.sh makes it), drift's Sampler against transformers' generate, in bf16,
# back to back at each batch size. Tokens/s = batch x new tokens / generation time (prefill included).
#   VENV=v benchmarks/sampling-vs-transformers.sh [--batches "8 32"] [--new-tokens 128] [--fp32]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
batches="8 32" new=128 dtype=(--bf16)
while [ $# -gt 0 ]; do
  case "$1" in
    --batches) batches="$2"; shift 2 ;;
    --new-tokens) new="$2"; shift 2 ;;
    --fp32) dtype=(); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
model="$(qwen05b_model)"
log="$root/build/bench/sampling-vs-transformers-$(date +%Y%m%d-%H%M%S).log"
for b in $batches; do
  "$venv/bin/python" "$root/benchmarks/scripts/hf_sampling_bench.py" "$model" --batch "$b" --new-tokens "$new" \
    "${dtype[@]}" 2>&1 | grep -E '^HF_SAMPLE ' | tee -a "$log"
  drift_java org.driftml.bench.SamplingBench "$model" --batch "$b" --new-tokens "$new" "${dtype[@]}" 2>&1 \
    | grep -E '^DRIFT_SAMPLE ' | tee -a "$log"
done
echo "--- $log"
