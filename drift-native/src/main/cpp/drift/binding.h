// What the Java binding (org.driftml.kernels.DriftNative) sees: the op entry points and the torch types they use.
#pragma once

#include <torch/types.h>

#include "generators.h"
#include "multinomial_draw.h"
#include "preference_loss.h"
#include "rmsprop_step.h"
#include "sequence_logps.h"
#include "split_master.h"
#include "test_device.h"
#include "tile_kernels.h"
#include "vector_isa.h"
#include "bf16_tile_gemms.h"
#include "native_heap.h"
#include "native_logging.h"
#include "reduced_gemm.h"
