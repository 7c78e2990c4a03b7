# Sourced by the side-by-side scripts in benchmarks/: the repository root, the venv with the reference stack
# (VENV=path, default ./v), shared/bench's Python baselines, drift's benchmark classpath (building the module if
# needed), and the environment every side runs with.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${VENV:-$root/v}"
bench="$root/../shared/bench"
"$root/benchmarks/jmh" -h >/dev/null  # builds the benchmarks module if needed
cp="$root/benchmarks/target/classes:$(cat "$root/benchmarks/target/classpath.txt")"
# Like with like: huge-page-aligned allocations for every side (drift sets this itself unless told otherwise).
export THP_MEM_ALLOC_ENABLE=1

# AS_CPU stands this machine in for a smaller x86 CPU on every side, through each library's own switch:
#   avx512_core  AVX-512 without bf16 instructions (Skylake to Ice Lake Xeons): oneDNN capped at AVX512_CORE.
#   avx2         AVX2 only (Haswell to Broadwell Xeons, AMD Zen 2 and 3): ATen's kernels (and drift's vector loops)
#                at AVX2, MKL and oneDNN capped at AVX2, OpenBLAS's Haswell kernels, and on the Python sides ATen's
#                oneDNN off (scripts/as_cpu.py), as pip's torch finds it on such a CPU.
# drift's own bf16 GEMM path follows oneDNN's cap (WIDEN under both). The caps bound instruction sets, not cores,
# caches or memory: a stand-in, not the CPU itself.
py_side=("$venv/bin/python")
case "${AS_CPU:-}" in
  "") ;;
  avx512_core) export ONEDNN_MAX_CPU_ISA=AVX512_CORE ;;
  avx2)
    export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 OPENBLAS_CORETYPE=Haswell
    py_side=("$venv/bin/python" "$root/benchmarks/scripts/as_cpu.py") ;;
  *) echo "AS_CPU must be avx512_core or avx2, got $AS_CPU" >&2; exit 2 ;;
esac
if [ -n "${AS_CPU:-}" ]; then echo "as_cpu: $AS_CPU (ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-} ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-} MKL_ENABLE_INSTRUCTIONS=${MKL_ENABLE_INSTRUCTIONS:-} OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-})" >&2; fi

# drift's side: a benchmark main on the classpath, JavaCPP's loader quiet, and the JVM options of the ./drift launcher
# (serial collector, 32 MB young generation, 1 GB heap): tensors live outside the Java heap, and a larger young
# generation only fills with garbage handles before the collector runs (measured at Qwen2.5-0.5B's geometry: peak RSS
# 6,163 MB against 6,721 MB with G1 and -Xmx512m, the options used before 2026-11-30).
drift_java() {
  java -XX:+UseSerialGC -Xms64m -Xmn32m -Xmx1g -cp "$cp" -Dorg.slf4j.simpleLogger.log.org.bytedeco.javacpp.Loader=error "$@"
}

# Qwen2.5-0.5B's geometry with random weights, made once (scripts/make_qwen25_05b.py).
qwen05b_model() {
  local model="$root/build/bench/qwen25-05b-geometry"
  [ -f "$model/config.json" ] || "$venv/bin/python" "$root/benchmarks/scripts/make_qwen25_05b.py" "$model" >&2
  echo "$model"
}

# The machine's measured GEMM rates at MODEL's shapes (GemmPeak through LibTorch, TOKENS rows), printed with the CPU:
# sets gemm_fp32 and gemm_bf16 (GFLOP/s) for the step's share of them.
gemm_peak() {
  local model="$1" tokens="$2" dims line
  dims=$(python3 -c "import json,sys; c=json.load(open(sys.argv[1]+'/config.json')); print(c['hidden_size'], c['intermediate_size'], c['vocab_size'])" "$model")
  set -- $dims
  line=$(drift_java org.driftml.bench.GemmPeak --hidden "$1" --intermediate "$2" --vocab "$3" --tokens "$tokens" \
    --repeats 3 --libtorch-only | tee /dev/stderr | grep '^GEMM_PEAK ')
  gemm_fp32=$(echo "$line" | sed 's/.*fp32_gflops=\([0-9.]*\).*/\1/')
  gemm_bf16=$(echo "$line" | sed 's/.*bf16_gflops=\([0-9.]*\).*/\1/')
}

# "NAME s GFLOP/s (P% of the measured peak)" for a side's median step of STEP_TFLOP.
flop_share() {
  awk -v name="$1" -v s="$2" -v tflop="$3" -v peak="$4" \
    'BEGIN { g = tflop * 1000 / s; printf "%s median_step_s=%.3f achieved_gflops=%.1f peak_share=%.2f\n", name, s, g, g / peak }'
}
