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
