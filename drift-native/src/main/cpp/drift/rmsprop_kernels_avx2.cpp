// rmsprop_kernels_impl.h compiled for AVX2 (cppbuild.sh gives files named *_avx2.cpp their -m flags and CPU_CAPABILITY).
#include "rmsprop_kernels_impl.h"
