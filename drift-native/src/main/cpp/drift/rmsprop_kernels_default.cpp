// rmsprop_kernels_impl.h compiled for DEFAULT (cppbuild.sh gives files named *_default.cpp their -m flags and CPU_CAPABILITY).
#include "rmsprop_kernels_impl.h"
