// rmsprop_kernels_impl.h compiled for AVX512 (cppbuild.sh gives files named *_avx512.cpp their -m flags and CPU_CAPABILITY).
#include "rmsprop_kernels_impl.h"
