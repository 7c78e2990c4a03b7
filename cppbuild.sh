#!/usr/bin/env bash
# Builds drift-native: libdrift_native.so (our C++ ops, against LibTorch 2.13.0's headers, linked to the bytedeco
# libtorch_cpu/libc10 so that one LibTorch lives in the process) and the JavaCPP JNI libraries of its Java binding.
#
#   ./cppbuild.sh [--cuda]            standalone: compiles the Java binding through Maven, which calls back here
#   cppbuild.sh --classpath CP --classes DIR [--cuda]   what drift-native's pom runs at process-classes
#
# LibTorch headers: $LIBTORCH_HOME/include if set, else extracted once from the official torch 2.13.0 CPU wheel
# (`pip download torch==2.13.0 --no-deps`) into build/libtorch-2.13.0. CUDA kernels are built with --cuda (or
# DRIFT_CUDA=1) when nvcc is on PATH; the gpu Maven profile passes it. Work already done is skipped: each output
# carries a stamp of its inputs. The compilers' and pip's output go to logs under drift-native/target/native/logs and
# are shown only when a step fails, or always with DRIFT_VERBOSE_BUILD=1.
set -euo pipefail

TORCH_VERSION=2.13.0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NATIVE="$ROOT/drift-native"
SRC="$NATIVE/src/main/cpp"
OUT="$NATIVE/target/native"
JOBS="$(nproc 2>/dev/null || echo 2)"

die() { echo "cppbuild.sh: error: $*" >&2; exit 1; }
say() { echo "cppbuild.sh: $*"; }
LOGS="$OUT/logs"
verbose="${DRIFT_VERBOSE_BUILD:-0}"
# Runs a command with its output in the log $1: shown when it fails (then the step fails), or always when verbose.
logged() {
  local log="$1"; shift
  mkdir -p "$(dirname "$log")"
  if "$@" > "$log" 2>&1; then
    if [ "$verbose" = 1 ]; then cat "$log" >&2; fi
    return 0
  fi
  cat "$log" >&2
  return 1
}

classpath="" classes="" cuda="${DRIFT_CUDA:-0}"
while [ $# -gt 0 ]; do
  case "$1" in
    --classpath) classpath="${2:?--classpath needs a value}"; shift 2 ;;
    --classes) classes="${2:?--classes needs a value}"; shift 2 ;;
    --cuda) cuda=1; shift ;;
    "") shift ;;  # an unset optional flag from the pom
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

if [ -z "$classpath" ]; then
  # Standalone: Maven compiles the binding and runs this script again with the classpath it resolved.
  profile=(); [ "$cuda" = 1 ] && profile=(-Pgpu)
  exec mvn -q -B -f "$ROOT/pom.xml" -pl drift-native -am "${profile[@]}" process-classes
fi
[ -d "$classes" ] || die "--classes $classes is not a directory (compile drift-native first)"

# --- LibTorch headers --------------------------------------------------------------------------------------------
headers_from_wheel() {
  local dest="$ROOT/build/libtorch-$TORCH_VERSION$([ "$cuda" = 1 ] && echo -cuda)" wheels="$ROOT/build/wheels"
  if [ ! -f "$dest/.complete" ]; then
    say "extracting LibTorch $TORCH_VERSION headers from the torch wheel into $dest" >&2
    command -v python3 >/dev/null || die "python3 is needed to fetch the torch $TORCH_VERSION wheel for its headers; or set LIBTORCH_HOME to a LibTorch $TORCH_VERSION folder"
    command -v unzip >/dev/null || die "unzip is needed to extract the LibTorch headers (apt-get install unzip)"
    rm -rf "$dest" "$wheels"; mkdir -p "$dest" "$wheels"
    logged "$LOGS/pip-download.log" python3 -m pip download --quiet "torch==$TORCH_VERSION" --no-deps --only-binary=:all: -d "$wheels" \
      || die "pip could not download torch==$TORCH_VERSION (needed only for its C++ headers); set LIBTORCH_HOME to a LibTorch $TORCH_VERSION folder instead"
    local whl; whl="$(ls "$wheels"/torch-"$TORCH_VERSION"*.whl 2>/dev/null | head -n 1)"
    [ -n "$whl" ] || die "pip saved no torch-$TORCH_VERSION wheel in $wheels"
    unzip -q -o "$whl" 'torch/include/*' -d "$dest"
    mv "$dest/torch/include" "$dest/include" && rmdir "$dest/torch"
    rm -rf "$wheels"
    touch "$dest/.complete"
  fi
  echo "$dest/include"
}
if [ -n "${LIBTORCH_HOME:-}" ]; then
  INC="$LIBTORCH_HOME/include"
else
  INC="$(headers_from_wheel | tail -n 1)"
fi
version_h="$INC/torch/headeronly/version.h"
[ -f "$version_h" ] || die "no LibTorch headers at $INC (missing torch/headeronly/version.h)"
found_version="$(awk '/define TORCH_VERSION_(MAJOR|MINOR|PATCH) /{printf "%s%s", sep, $3; sep="."}' "$version_h")"
[ "$found_version" = "$TORCH_VERSION" ] || die "headers at $INC are LibTorch $found_version, not $TORCH_VERSION"
if [ "$cuda" = 1 ] && [ ! -f "$INC/c10/cuda/impl/cuda_cmake_macros.h" ]; then
  die "--cuda needs the headers of a CUDA build of LibTorch $TORCH_VERSION, but those at $INC are CPU-only (no c10/cuda/impl/cuda_cmake_macros.h). On a GPU host pip's default torch wheel is the CUDA build; or set LIBTORCH_HOME to a CUDA LibTorch $TORCH_VERSION."
fi

# --- bytedeco LibTorch libraries to link against (the ones that load at run time) ---------------------------------
natives_jar=""
IFS=':' read -r -a cp_entries <<< "$classpath"
for e in "${cp_entries[@]}"; do
  case "$(basename "$e")" in
    pytorch-*-linux-x86_64-gpu.jar) [ "$cuda" = 1 ] && natives_jar="$e" ;;
    pytorch-*-linux-x86_64.jar) [ "$cuda" = 1 ] || natives_jar="$e" ;;
  esac
done
[ -n "$natives_jar" ] || die "no org.bytedeco:pytorch natives jar (classifier linux-x86_64$([ "$cuda" = 1 ] && echo -gpu)) on the classpath"
LIBS="$ROOT/build/bytedeco/$(basename "$natives_jar" .jar)"
if [ ! -f "$LIBS/.complete" ]; then
  say "extracting LibTorch libraries from $(basename "$natives_jar")"
  rm -rf "$LIBS"; mkdir -p "$LIBS"
  unzip -q -o -j "$natives_jar" 'org/bytedeco/pytorch/linux-x86_64*/libtorch*.so*' 'org/bytedeco/pytorch/linux-x86_64*/libc10*.so*' -d "$LIBS"
  touch "$LIBS/.complete"
fi

# --- libdrift_native.so --------------------------------------------------------------------------------------------
# -fopenmp: at::parallel_for is inline OpenMP in this LibTorch build; without it our loops run on one thread.
CXXFLAGS=(-std=c++20 -O3 -march=x86-64 -fPIC -fopenmp -D_GLIBCXX_USE_CXX11_ABI=1 -Wall -Wno-unused-parameter -Wno-psabi -Wno-unknown-pragmas
          -I"$SRC" -I"$INC" -I"$INC/torch/csrc/api/include")
LDFLAGS=(-shared -fopenmp -L"$LIBS" -ltorch_cpu -lc10 -Wl,-rpath,'$ORIGIN')
# Files built once per instruction set (tile_kernels_*.cpp, rmsprop_kernels_*.cpp) get its flags and ATen's
# CPU_CAPABILITY, which selects Vectorized<float>'s implementation; vector_isa.cpp picks one at run time. All three
# builds must round alike: no contraction of a * b + c into an FMA, and sqrt without errno (a scalar call the
# vectoriser cannot widen) -- IEEE sqrt rounds the same with or without it.
isa_flags() {
  case "$1" in *_avx512.cpp|*_avx2.cpp|*_default.cpp) printf '%s ' -ffp-contract=off -fno-math-errno ;; esac
  case "$1" in
    # -Wno-maybe-uninitialized: GCC 12's own avx512fintrin.h trips it (_mm512_undefined_ps's `__m512 __Y = __Y;`
    # inlined into Vectorized<float>'s max and shuffle; GCC bug 105593, fixed in GCC 13), pages of it per build.
    *_avx512.cpp) echo -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -DCPU_CAPABILITY=AVX512 -DCPU_CAPABILITY_AVX512 -Wno-maybe-uninitialized ;;
    *_avx2.cpp) echo -mavx2 -mfma -mf16c -DCPU_CAPABILITY=AVX2 -DCPU_CAPABILITY_AVX2 ;;
    *_default.cpp) echo -DCPU_CAPABILITY=DEFAULT ;;
  esac
}
cu_sources=()
if [ "$cuda" = 1 ]; then
  command -v nvcc >/dev/null || die "--cuda asked for CUDA kernels but nvcc is not on PATH"
  CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}"
  CXXFLAGS+=(-DDRIFT_WITH_CUDA -I"$CUDA_HOME/include")
  LDFLAGS+=(-ltorch_cuda -lc10_cuda -L"$CUDA_HOME/lib64" -lcudart)
  mapfile -t cu_sources < <(find "$SRC" -name '*.cu' | sort)
fi
mapfile -t cpp_sources < <(find "$SRC" -name '*.cpp' | sort)

stamp_of() { { printf '%s\n' "$@"; cat "$0" "${cpp_sources[@]}" "${cu_sources[@]}" $(find "$SRC" -name '*.h' | sort); } | sha256sum | cut -d' ' -f1; }
lib_stamp="$(stamp_of "${CXXFLAGS[@]}" "${LDFLAGS[@]}" "$INC" "$LIBS")"
mkdir -p "$OUT/obj"
if [ -f "$OUT/libdrift_native.so" ] && [ "$(cat "$OUT/libdrift_native.so.stamp" 2>/dev/null)" = "$lib_stamp" ]; then
  say "libdrift_native.so is up to date"
else
  say "compiling ${#cpp_sources[@]} C++ and ${#cu_sources[@]} CUDA sources ($JOBS jobs)"
  objs=() pids=()
  for f in "${cpp_sources[@]}"; do
    o="$OUT/obj/$(basename "$f" .cpp).o"; objs+=("$o")
    # shellcheck disable=SC2046
    logged "$LOGS/$(basename "$f").log" g++ "${CXXFLAGS[@]}" $(isa_flags "$f") -c "$f" -o "$o" & pids+=($!)
    if [ "${#pids[@]}" -ge "$JOBS" ]; then wait "${pids[0]}" || die "compiling failed (see above)"; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p" || die "compiling failed (see above)"; done
  for f in "${cu_sources[@]}"; do
    o="$OUT/obj/$(basename "$f" .cu).cu.o"; objs+=("$o")
    logged "$LOGS/$(basename "$f").log" nvcc -std=c++20 -O3 --expt-relaxed-constexpr -Xcompiler -fPIC -D_GLIBCXX_USE_CXX11_ABI=1 -DDRIFT_WITH_CUDA \
      -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
      -I"$SRC" -I"$INC" -I"$INC/torch/csrc/api/include" -c "$f" -o "$o" || die "nvcc failed on $f"
  done
  logged "$LOGS/link.log" g++ -o "$OUT/libdrift_native.so" "${objs[@]}" "${LDFLAGS[@]}" || die "linking libdrift_native.so failed"
  echo "$lib_stamp" > "$OUT/libdrift_native.so.stamp"
fi

# --- JNI libraries of the Java binding, generated and compiled by JavaCPP's Builder --------------------------------
platform_dir="$classes/org/driftml/kernels/linux-x86_64"
mkdir -p "$platform_dir"
# Copied aside and renamed into place: a JVM running tests maps this file, and overwriting it in place (cp onto the
# same inode) truncates those pages under it. That was a SIGBUS seen on 2026-11-28 (hs_err log:
# BUS_ADRERR at a code address inside target/classes/.../libdrift_native.so, NativeMemoryTest, a build running
# beside it). A rename leaves the mapped old file intact.
cp "$OUT/libdrift_native.so" "$platform_dir/.libdrift_native.so.tmp.$$"
mv -f "$platform_dir/.libdrift_native.so.tmp.$$" "$platform_dir/libdrift_native.so"
# Link paths go in with -L only (prefix2): JavaCPP would otherwise bake this machine's build folders into RUNPATH.
BUILDER_FLAGS=(-Dplatform.includepath="$SRC:$INC:$INC/torch/csrc/api/include" -Dplatform.linkpath="$OUT:$LIBS"
               -Dplatform.linkpath.prefix2=-L)
jni_stamp="$(stamp_of "$lib_stamp" "${BUILDER_FLAGS[@]}" $(sha256sum "$classes"/org/driftml/kernels/{DriftNative,ProcessEnv}.class | cut -d' ' -f1))"
if [ -f "$platform_dir/libjniDriftNative.so" ] && [ -f "$platform_dir/libjniProcessEnv.so" ] \
   && [ "$(cat "$OUT/jni.stamp" 2>/dev/null)" = "$jni_stamp" ]; then
  say "JNI libraries are up to date"
else
  say "generating and compiling the JNI libraries (JavaCPP Builder)"
  java -cp "$classpath" org.bytedeco.javacpp.tools.Builder -classpath "$classes" -d "$platform_dir" "${BUILDER_FLAGS[@]}" \
    org.driftml.kernels.DriftNative org.driftml.kernels.ProcessEnv > "$OUT/builder.log" 2>&1 \
    || { cat "$OUT/builder.log" >&2; die "JavaCPP Builder failed (log above: $OUT/builder.log)"; }
  rm -f "$platform_dir"/*.cpp "$platform_dir"/*.o
  echo "$jni_stamp" > "$OUT/jni.stamp"
fi
say "drift-native ready in $platform_dir"
