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
{
  "$venv/bin/python" "$bench/trl_dpo_bench.py" "$model" "$@" 2>&1 | grep -v -i warn
  "$venv/bin/python" "$bench/torch_dpo_bench.py" "$model" "$@" 2>&1 | grep -v -i warn
  drift_java org.driftml.bench.DpoStepBench "$model" "$@"
} | tee "$log"
echo "--- summary ($log)"
grep -E '^(TRL_DPO|TORCH_DPO|DRIFT_DPO) ' "$log"
