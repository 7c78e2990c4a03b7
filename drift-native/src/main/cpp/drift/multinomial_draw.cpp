#include "multinomial_draw.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <vector>

#include "errors.h"

namespace drift {

namespace {

constexpr int64_t kBlock = 16384;  // columns per parallel task; a row of Qwen's vocabulary is 10 of them

// ATen's CPU argmax order: a NaN beats everything and the first NaN stays; otherwise the larger, the first among
// equals.
inline bool beats(float candidate, float best) {
  if (std::isnan(best)) return false;
  return std::isnan(candidate) || candidate > best;
}

// The exponential ATen's exponential_(1) makes from one 64-bit draw (DistributionsHelper.h and
// TransformationHelper.h, CPU branch): the low 53 bits scaled into [0, 1), then -1 * log1p(-u) in double, to fp32.
inline float exponential_of(uint64_t draw) {
  constexpr uint64_t kMask = (uint64_t{1} << 53) - 1;
  const double u = static_cast<double>(draw & kMask) * (1.0 / static_cast<double>(uint64_t{1} << 53));
  return static_cast<float>(-1.0 * std::log1p(-u));
}

}  // namespace

void multinomial_draw(const at::Tensor& probs, const at::Generator& generator, const at::Tensor& next) {
  translate_errors([&] {
    TORCH_CHECK(probs.dim() == 2 && probs.scalar_type() == at::kFloat && probs.is_cpu() && probs.is_contiguous(),
                "multinomial_draw: probs must be a contiguous 2-D fp32 CPU tensor, got ", probs.sizes(), " ",
                probs.scalar_type(), " on ", probs.device());
    const int64_t rows = probs.size(0), cols = probs.size(1);
    TORCH_CHECK(cols > 0, "multinomial_draw: probs has no columns");
    TORCH_CHECK(next.scalar_type() == at::kLong && next.is_cpu() && next.is_contiguous() && next.numel() == rows,
                "multinomial_draw: next must be a contiguous int64 CPU tensor of ", rows, " elements, got ",
                next.sizes(), " ", next.scalar_type());
    auto* gen = at::check_generator<at::CPUGeneratorImpl>(generator);
    const float* p = probs.const_data_ptr<float>();
    int64_t* out = next.data_ptr<int64_t>();
    const int64_t blocks = (cols + kBlock - 1) / kBlock;
    std::vector<uint64_t> draws(static_cast<size_t>(cols));
    std::vector<float> block_best(static_cast<size_t>(blocks));
    std::vector<int64_t> block_index(static_cast<size_t>(blocks));
    std::vector<uint8_t> block_invalid(static_cast<size_t>(blocks));

    std::lock_guard<std::mutex> lock(gen->mutex_);
    at::mt19937 engine = gen->engine();
    for (int64_t r = 0; r < rows; r++) {
      // The serial part: the stream, in ATen's element order (row-major), hi word first as random64() takes it.
      for (int64_t j = 0; j < cols; j++) {
        const uint64_t hi = engine();
        draws[j] = (hi << 32) | engine();
      }
      const float* row = p + r * cols;
      at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; b++) {
          const int64_t end = std::min(cols, (b + 1) * kBlock);
          float best = 0;
          int64_t at_best = -1;
          bool invalid = false;
          for (int64_t j = b * kBlock; j < end; j++) {
            const float pj = row[j];
            invalid |= !(pj >= 0.0f) || std::isinf(pj);  // NaN fails the comparison
            float ratio;
            if (pj == 0.0f && !std::signbit(pj) && (draws[j] & ((uint64_t{1} << 53) - 1)) != 0) {
              ratio = 0.0f;  // +0 / a positive exponential
            } else {
              ratio = pj / exponential_of(draws[j]);
            }
            if (at_best < 0 || beats(ratio, best)) {
              best = ratio;
              at_best = j;
            }
          }
          block_best[b] = best;
          block_index[b] = at_best;
          block_invalid[b] = invalid;
        }
      });
      for (int64_t b = 0; b < blocks; b++) {
        // torch.multinomial refuses these too; a model whose weights hold NaN would otherwise sample noise.
        TORCH_CHECK(!block_invalid[b], "multinomial_draw: row ", r, " of the probabilities holds NaN, inf or a "
                    "negative entry (the model's logits are not finite)");
      }
      float best = block_best[0];
      int64_t at_best = block_index[0];
      for (int64_t b = 1; b < blocks; b++) {  // left to right, so the first index wins among equals
        if (beats(block_best[b], best)) {
          best = block_best[b];
          at_best = block_index[b];
        }
      }
      out[r] = at_best;
    }
    gen->set_engine(engine);
  });
}

}  // namespace drift
