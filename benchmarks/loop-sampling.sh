#!/usr/bin/env bash
# The DRIFT loop's positive sampling on replies of mixed length, static batches against the continuous batcher, and
# greedy replies alone against batched (org.driftml.bench.ContinuousSamplingBench), on Qwen2.5-0.5B's geometry
# (random weights, as qwen05b-curve.sh makes it), fp32 and bf16.
#   VENV=v benchmarks/loop-sampling.sh [--dtypes "fp32 bf16"] [extra ContinuousSamplingBench options]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bench-env.sh"
dtypes="fp32 bf16"
if [ "${1:-}" = --dtypes ]; then dtypes="$2"; shift 2; fi
model="$(qwen05b_model)"
log="$root/build/bench/loop-sampling-$(date +%Y%m%d-%H%M%S).log"
mkdir -p "$(dirname "$log")"
echo "# $(git -C "$root" rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores" \
  | tee -a "$log"
for d in $dtypes; do
  flag=(); [ "$d" = bf16 ] && flag=(--bf16)
  drift_java org.driftml.bench.ContinuousSamplingBench "$model" "${flag[@]}" "$@" 2>&1 \
    | grep --line-buffered -E '^(SAMPLE_MIXED|GREEDY_DIVERGENCE) ' | tee -a "$log"
done
echo "--- $log"
