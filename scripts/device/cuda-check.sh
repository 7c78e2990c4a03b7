#!/usr/bin/env bash
# Builds drift-native's C++/CUDA sources against this machine's Python torch as a Python module and checks the ops
# on the GPU against ATen (cuda_parity.py). For the lent GPU machines, which have torch, nvcc and no JDK:
#   scripts/device/cuda-check.sh            # writes $OUT/cuda-report.json when OUT is set
# Without a GPU (or without nvcc) it builds the CPU paths only and still runs the CPU checks.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; root="$(cd "$here/../.." && pwd)"
SRC="$root/drift-native/src/main/cpp/drift"
PY="${PYTHON:-python3}"
build="${BUILD:-$root/build/device}"; mkdir -p "$build"
read -r TORCH_DIR ABI PYINC SUFFIX HAS_CUDA < <("$PY" - <<'PYEOF'
import os, sysconfig, torch
print(os.path.dirname(torch.__file__), int(torch._C._GLIBCXX_USE_CXX11_ABI), sysconfig.get_paths()["include"],
      sysconfig.get_config_var("EXT_SUFFIX"), int(torch.version.cuda is not None and torch.cuda.is_available()))
PYEOF
)
INC="$TORCH_DIR/include"; LIB="$TORCH_DIR/lib"
CXXFLAGS=(-std=c++20 -O3 -march=x86-64 -fPIC -fopenmp -D_GLIBCXX_USE_CXX11_ABI="$ABI" -w -Wno-psabi -I"$SRC" -I"$INC" -I"$INC/torch/csrc/api/include")
LDFLAGS=(-shared -fopenmp -L"$LIB" -ltorch_python -ltorch -ltorch_cpu -lc10 -Wl,-rpath,"$LIB")
cuda=0
if [ "$HAS_CUDA" = 1 ] && command -v nvcc >/dev/null; then
  cuda=1
  CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}"
  CXXFLAGS+=(-DDRIFT_WITH_CUDA -I"$CUDA_HOME/include")
  # Link the CUDA runtime torch itself loads (its pip wheel's), so one runtime serves both.
  cudart="$("$PY" -c 'import glob,os,torch;d=os.path.dirname(os.path.dirname(torch.__file__));c=sorted(glob.glob(d+"/nvidia/cuda_runtime/lib/libcudart.so*"))+sorted(glob.glob(d+"/nvidia/cu*/lib/libcudart.so*"));print(c[0] if c else "")')"
  if [ -n "$cudart" ]; then LDFLAGS+=(-ltorch_cuda -lc10_cuda "$cudart" -Wl,-rpath,"$(dirname "$cudart")")
  else LDFLAGS+=(-ltorch_cuda -lc10_cuda -L"$CUDA_HOME/lib64" -lcudart); fi
fi
isa_flags() {
  case "$1" in
    *_avx512.cpp) echo -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -DCPU_CAPABILITY=AVX512 -DCPU_CAPABILITY_AVX512 ;;
    *_avx2.cpp) echo -mavx2 -mfma -mf16c -DCPU_CAPABILITY=AVX2 -DCPU_CAPABILITY_AVX2 ;;
    *_default.cpp) echo -DCPU_CAPABILITY=DEFAULT ;;
  esac
}
objs=() pids=()
# The ops drift_ext exposes and what they call; reduced_gemm.cpp (a kernel swap for LibTorch's OpenBLAS build),
# native_heap.cpp (the Java memory tests') and test_device.cpp (the Java suites' fake accelerator) have no use in a
# Python module over pip's torch.
for f in "$SRC"/*.cpp "$here/drift_ext.cpp"; do
  case "$(basename "$f")" in reduced_gemm.cpp|native_heap.cpp|test_device.cpp) continue ;; esac
  o="$build/$(basename "$f" .cpp).o"; objs+=("$o")
  extra=()
  [ "$(basename "$f")" = drift_ext.cpp ] && extra=(-I"$PYINC" -DTORCH_EXTENSION_NAME=drift_ext -DTORCH_API_INCLUDE_EXTENSION_H)
  # shellcheck disable=SC2046
  g++ "${CXXFLAGS[@]}" $(isa_flags "$f") "${extra[@]}" -c "$f" -o "$o" & pids+=($!)
done
# nvcc runs beside g++: on a lent machine every minute of the build is device time.
if [ "$cuda" = 1 ]; then
  arch="$("$PY" -c 'import torch;a,b=torch.cuda.get_device_capability();print(f"{a}{b}")')"
  for f in "$SRC"/*.cu; do
    o="$build/$(basename "$f" .cu).cu.o"; objs+=("$o")
    nvcc -std=c++20 -O3 --expt-relaxed-constexpr -Xcompiler -fPIC -D_GLIBCXX_USE_CXX11_ABI="$ABI" -DDRIFT_WITH_CUDA \
      -gencode arch=compute_"$arch",code=sm_"$arch" -I"$SRC" -I"$INC" -I"$INC/torch/csrc/api/include" \
      -c "$f" -o "$o" & pids+=($!)
  done
fi
for p in "${pids[@]}"; do wait "$p"; done
g++ -o "$build/drift_ext$SUFFIX" "${objs[@]}" "${LDFLAGS[@]}"
echo "built $build/drift_ext$SUFFIX (cuda=$cuda)"
PYTHONPATH="$build" "$PY" "$here/cuda_parity.py" "${OUT:-$build}/cuda-report.json"
