// The instruction set drift's own vectorised CPU loops run with: the log-prob op's tile kernels (tile_kernels.h) and
// the RMSprop update (rmsprop_kernels.h). Each is built three times (files *_avx512.cpp, *_avx2.cpp, *_default.cpp,
// each compiled with its own -m flags, cppbuild.sh) and the build is chosen here once, from the CPU's features, as
// ATen dispatches its own kernels. One switch for all of them, so a test can run every build on one machine.
#pragma once

namespace drift {

enum class VectorIsa { AVX512, AVX2, DEFAULT };

// The build the loops run with now: the best this CPU has (capped by ATEN_CPU_CAPABILITY as ATen's kernels are)
// unless set_vector_isa chose another.
VectorIsa vector_isa();

// Its name: "AVX512", "AVX2" or "DEFAULT".
const char* vector_isa_name();

// Runs the loops with the named build from now on. False (and no change) when the name is unknown or this CPU lacks
// the instructions.
bool set_vector_isa(const char* name);

// Runs drift::<build>::CALL for the build vector_isa() names, returning its value: the one dispatch of every function
// built per instruction set (each declared in namespaces AVX512, AVX2 and DEFAULT).
#define DRIFT_VECTOR_DISPATCH(CALL)                  \
  switch (::drift::vector_isa()) {                   \
    case ::drift::VectorIsa::AVX512: return AVX512::CALL; \
    case ::drift::VectorIsa::AVX2: return AVX2::CALL;     \
    case ::drift::VectorIsa::DEFAULT: return DEFAULT::CALL; \
  }

}  // namespace drift
