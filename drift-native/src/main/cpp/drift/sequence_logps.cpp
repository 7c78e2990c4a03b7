// Math, for a scored row r with hidden state h_r, target t_r and W the [V, D] lm-head weight:
//
//   logits_r = W h_r,   lse_r = log sum_v exp(logits_rv),   logp_r = w_{t_r} . h_r - lse_r
//   logps_n  = sum over scored rows r of sequence n of logp_r
//
// Backward, with g_r = dL/d logps_n for the sequence n that row r belongs to and p_r = softmax(logits_r):
//
//   dL/dh_r = g_r (w_{t_r} - sum_v p_rv w_v)          dL/dW = sum_r g_r (e_{t_r} - p_r) h_r^T
//
// Forward sweeps the vocabulary in tiles, folding each tile's logsumexp into lse (log-add-exp), so only one
// [row_block, vocab_block] tile of logits exists at a time; lse [M] is all it keeps. Backward recomputes each tile,
// turns it into G = g (onehot(t) - p) in place, and accumulates dH += G W_tile and dW_tile += G^T H. Each dW tile
// is written by its own vocabulary slice, so with a single row block every entry of dW is written exactly once,
// and a bf16 weight's gradient is rounded tile by tile. The forward's target term (w_{t_r} . h_r) is a gather.
// sequence_logps_weight_grad runs the same sweep over a range of tiles for dW alone: an optimiser can update the
// lm-head a range at a time and never hold its [V, D] gradient (260 MB in bf16 at Qwen2.5-0.5B's geometry).
//
// Only rows where the mask is set are touched: prompt and padding positions cost nothing.
// In fp32 the per-tile passes are single sweeps: vectorized on the CPU (tile_kernels.h), one kernel each on CUDA
// (tile_kernels_cuda.h); fp64 (tests) uses the same math as ATen ops.
// bf16 / fp16 inputs are promoted tile by tile into fp32 buffers, so every product accumulates in fp32 and the
// logits the log-sum-exp sees are exact fp32 (on CUDA the GEMM writes fp32 directly from bf16 operands; on CPUs
// with AMX or AVX512-BF16, bf16 weights go through oneDNN's brgemm, bf16 operands into fp32 tiles: bf16_tile_gemms.h).
#include "sequence_logps.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <limits>

#include "bf16_tile_gemms.h"
#include "errors.h"
#include "tile_kernels.h"
#include "tile_kernels_cuda.h"

namespace drift {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::ScalarType accumulation_type(const at::Tensor& t) {
  return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

// Reusable tiles: one logits tile and, for reduced-precision weights, one promoted weight tile.
struct TileBuffers {
  at::Tensor logits;       // flat, >= row_block * vocab_block
  at::Tensor weight_tile;  // flat, >= vocab_block * D, undefined when the weight is already in acc dtype
  bool direct_mixed_gemm;  // CUDA: mm(bf16, bf16) -> fp32 without promotion
  bool brgemm;             // CPU with AMX or AVX512-BF16, bf16 weights: the tile GEMMs of bf16_tile_gemms.h
  at::Tensor bf16_scratch;  // their bf16 copy of a tile's gradient, reused by every tile (backward only)
  at::ScalarType weight_dtype;

  TileBuffers(const at::Tensor& weight, int64_t rows, int64_t vocab, at::ScalarType acc) {
    auto opts = weight.options().dtype(acc);
    logits = at::empty({rows * vocab}, opts);
    weight_dtype = weight.scalar_type();
    direct_mixed_gemm = weight.is_cuda() && weight.scalar_type() != acc && acc == at::kFloat;
    brgemm = weight.device().is_cpu() && weight.scalar_type() == at::kBFloat16 && acc == at::kFloat &&
          weight.is_contiguous() && bf16_tile_gemms_for(weight.size(1));
    if (weight.scalar_type() != acc && !direct_mixed_gemm && !brgemm) {
      weight_tile = at::empty({vocab * weight.size(1)}, opts);
    }
  }

  at::Tensor logits_view(int64_t rows, int64_t vocab) { return logits.narrow(0, 0, rows * vocab).view({rows, vocab}); }

  // The weight rows [v0, v0 + n) in the dtype the GEMM consumes.
  at::Tensor weight_rows(const at::Tensor& weight, int64_t v0, int64_t n) {
    at::Tensor w = weight.narrow(0, v0, n);
    if (!weight_tile.defined()) return w;
    at::Tensor out = weight_tile.narrow(0, 0, n * weight.size(1)).view({n, weight.size(1)});
    out.copy_(w);
    return out;
  }

  // The hidden rows as the logits GEMM consumes them. The mixed-dtype GEMM wants both operands in the weight's
  // dtype; the rows were promoted from that dtype, so casting back is exact. Done once per call, not per tile.
  at::Tensor gemm_rows(const at::Tensor& h_acc) const {
    return direct_mixed_gemm || brgemm ? h_acc.to(weight_dtype).contiguous() : h_acc;
  }

  // logits tile = h @ weight[v0 : v0 + n]^T on brgemm; h comes from gemm_rows.
  void brgemm_logits_of(at::Tensor& out, const at::Tensor& h, const at::Tensor& weight, int64_t v0, int64_t n) const {
    const int64_t D = weight.size(1);
    bf16_logits(h.const_data_ptr<c10::BFloat16>(), h.size(0), D, weight.const_data_ptr<c10::BFloat16>() + v0 * D, n,
               out.mutable_data_ptr<float>(), n);
  }

  // logits tile = h @ w^T, in the accumulation dtype; h comes from gemm_rows.
  void logits_of(at::Tensor& out, const at::Tensor& h, const at::Tensor& w) {
    if (direct_mixed_gemm) {
      at::mm_out(out, h, w.t(), at::kFloat);
    } else {
      at::mm_out(out, h, w.t());
    }
  }
};

struct Selection {
  at::Tensor index;    // [M] flat positions n*T + t that are scored
  at::Tensor seq;      // [M] sequence of each scored row
  at::Tensor targets;  // [M] target id of each scored row
};

// `scored` holds the flat positions set in the mask, increasing: given by the caller, or found with nonzero().
Selection select_scored_rows(const at::Tensor& targets, const at::Tensor& scored, int64_t vocab) {
  const int64_t T = targets.size(1);
  Selection s;
  s.index = scored.to(at::kLong);
  s.seq = at::div(s.index, T, "floor");
  s.targets = targets.reshape({-1}).index_select(0, s.index).to(at::kLong);
  if (s.index.numel() == 0) return s;
  at::Tensor outside = (s.targets < 0).logical_or_(s.targets >= vocab);
  if (!targets.device().is_cpu()) {
    // Checked where the targets are, without waiting for the device; the CPU check below names the position.
    at::_assert_async(outside.logical_not().all(),
                      "sequence_logps: a scored target (mask set) is outside the vocabulary [0, vocab)");
    return s;
  }
  at::Tensor bad = outside.nonzero();
  if (bad.numel() > 0) {
    const int64_t row = bad[0][0].item<int64_t>();
    const int64_t flat = s.index[row].item<int64_t>();
    TORCH_CHECK(false, "sequence_logps: targets[", flat / T, ", ", flat % T, "] = ", s.targets[row].item<int64_t>(),
                " is a scored position (mask set) but outside the vocabulary [0, ", vocab, ")");
  }
  return s;
}

bool vectorized_tiles(const at::Tensor& tile) { return tile.device().is_cpu() && tile.scalar_type() == at::kFloat; }

bool cuda_tiles(const at::Tensor& tile) {
#ifdef DRIFT_WITH_CUDA
  return tile.is_cuda() && tile.scalar_type() == at::kFloat;
#else
  return false;
#endif
}

// lse_r over the whole vocabulary, one [row_block, vocab_block] tile at a time.
at::Tensor tiled_logsumexp(const at::Tensor& h_acc, const at::Tensor& weight, int64_t row_block, int64_t vocab_block,
                           TileBuffers& buf) {
  const int64_t M = h_acc.size(0), V = weight.size(0);
  const at::Tensor h_gemm = buf.gemm_rows(h_acc);
  at::Tensor lse = at::empty({M}, h_acc.options());
  at::Tensor tile_lse = at::empty({std::min(row_block, M)}, h_acc.options());
  for (int64_t r0 = 0; r0 < M; r0 += row_block) {
    const int64_t mr = std::min(row_block, M - r0);
    at::Tensor h = h_gemm.narrow(0, r0, mr);
    at::Tensor lse_r = lse.narrow(0, r0, mr);
    at::Tensor tile_lse_r = tile_lse.narrow(0, 0, mr);
    for (int64_t v0 = 0; v0 < V; v0 += vocab_block) {
      const int64_t vb = std::min(vocab_block, V - v0);
      at::Tensor logits = buf.logits_view(mr, vb);
      if (buf.brgemm) {
        buf.brgemm_logits_of(logits, h, weight, v0, vb);
      } else {
        buf.logits_of(logits, h, buf.weight_rows(weight, v0, vb));
      }
      if (cuda_tiles(logits)) {
#ifdef DRIFT_WITH_CUDA
        cuda_tile_logsumexp(logits, lse_r, v0 == 0);
#endif
        continue;
      }
      if (vectorized_tiles(logits)) {
        tile_logsumexp(logits.const_data_ptr<float>(), mr, vb, tile_lse_r.mutable_data_ptr<float>());
      } else {
        tile_lse_r.copy_(at::logsumexp(logits, {1}));
      }
      if (v0 == 0) {
        lse_r.copy_(tile_lse_r);
      } else {
        lse_r.copy_(at::logaddexp(lse_r, tile_lse_r));
      }
    }
  }
  return lse;
}

// The target term of G = -g (softmax - onehot(target)), for a tile of rows r0.. over vocabulary [v0, v0 + n):
// tile[r, t_r - v0] -= neg_g[r] where t_r falls in the tile. Folded into G, it reaches dH and dW through the tile's
// GEMMs (as autograd's logits gradient does), so neither needs a separate gather or scatter of [M, D] rows.
void add_target_term(at::Tensor& tile, const at::Tensor& neg_g, const at::Tensor& targets, int64_t v0) {
  const int64_t rows = tile.size(0), n = tile.size(1);
  if (tile.device().is_cpu() && tile.scalar_type() == at::kFloat && tile.is_contiguous()) {
    float* t = tile.mutable_data_ptr<float>();
    const float* s = neg_g.const_data_ptr<float>();
    const int64_t* id = targets.const_data_ptr<int64_t>();
    for (int64_t r = 0; r < rows; r++) {
      const int64_t c = id[r] - v0;
      if (c >= 0 && c < n) t[r * n + c] -= s[r];
    }
    return;
  }
  // Any other tile (fp64, or a device without a kernel of ours): one index_add_ of a value per row, 0 where the
  // target is outside the tile, so nothing waits on the host.
  at::Tensor col = targets - v0;
  at::Tensor inside = col.ge(0).logical_and_(col.lt(n));
  at::Tensor flat = at::arange(rows, targets.options()).mul_(n).add_(col.clamp(0, n - 1));
  tile.view({-1}).index_add_(0, flat, at::where(inside, neg_g.neg(), at::zeros_like(neg_g)));
}

// The backward's sweep over vocabulary rows [v_begin, v_end) for G = -g (softmax - onehot(target)): adds
// G W_tile into dh when dh is defined ([M, D], acc dtype), and returns dW's rows [v_begin, v_end) in the weight's
// dtype when want_weight (else an undefined tensor). v_begin is a multiple of vb, so the tiles are the whole
// sweep's and a range's rows equal the whole gradient's bit for bit.
at::Tensor backward_sweep(const at::Tensor& h_acc, const at::Tensor& weight, const at::Tensor& lse,
                          const at::Tensor& neg_g, const at::Tensor& tgt, int64_t rb, int64_t vb, int64_t v_begin,
                          int64_t v_end, at::Tensor dh, bool want_weight) {
  const int64_t M = h_acc.size(0), D = h_acc.size(1), rows = v_end - v_begin;
  const auto acc = h_acc.scalar_type();
  const bool want_hidden = dh.defined();
  if (M == 0) return want_weight ? at::zeros({rows, D}, weight.options()) : at::Tensor();
  // With one row block (rb == M: every call at DRIFT's sizes) each dW tile is final after its GEMM, so a
  // bf16 / fp16 weight's gradient is written tile by tile in its own dtype through one fp32 [vb, D] tile. Else
  // the row blocks accumulate into an fp32 [rows, D] (544 MB at vocab 151,936, D 896: twice the bf16 gradient).
  TileBuffers buf(weight, rb, vb, acc);
  const at::Tensor h_gemm = buf.gemm_rows(h_acc);
  const bool low_weight = weight.scalar_type() != acc;
  const bool tile_final_dw = want_weight && rb == M;
  at::Tensor dw, dw_tile_acc;
  if (want_weight) {
    if (tile_final_dw && low_weight) {
      dw = at::empty({rows, D}, weight.options());
      // CUDA's mixed-dtype GEMM rounds its fp32 accumulation into dw itself.
      if (!buf.direct_mixed_gemm) dw_tile_acc = at::empty({vb, D}, h_acc.options());
    } else {
      // The first row block writes each dW tile (beta = 0), later ones accumulate: no memset and re-read.
      dw = at::empty({rows, D}, h_acc.options());
    }
  }
  // dW rows [v0, v0 + n) as the GEMMs write them: the rows of dw itself, or the fp32 tile rounded by finish_dw.
  auto dw_out = [&](int64_t v0, int64_t n) {
    return dw_tile_acc.defined() ? dw_tile_acc.narrow(0, 0, n) : dw.narrow(0, v0 - v_begin, n);
  };
  auto finish_dw = [&](int64_t v0, int64_t n) {
    if (dw_tile_acc.defined()) dw.narrow(0, v0 - v_begin, n).copy_(dw_tile_acc.narrow(0, 0, n));
  };

  if (buf.brgemm) {
    buf.bf16_scratch = at::empty({bf16_scratch_elements(std::min(rb, M), vb)}, weight.options());
  }
  at::Tensor low, dh_part, dw_part;  // the mixed-dtype path's G tile and GEMM outputs
  if (buf.direct_mixed_gemm) {
    low = at::empty({rb * vb}, weight.options());
    dh_part = at::empty({rb, D}, h_acc.options());
    dw_part = at::empty({vb, D}, h_acc.options());
  }
  for (int64_t r0 = 0; r0 < M; r0 += rb) {
    const int64_t mr = std::min(rb, M - r0);
    at::Tensor h = h_acc.narrow(0, r0, mr);
    at::Tensor h_g = h_gemm.narrow(0, r0, mr);
    at::Tensor dh_r = want_hidden ? dh.narrow(0, r0, mr) : at::Tensor();
    at::Tensor lse_r = lse.narrow(0, r0, mr);
    at::Tensor neg_g_r = neg_g.narrow(0, r0, mr);
    at::Tensor tgt_r = tgt.narrow(0, r0, mr);
    if (buf.brgemm) {
      // bf16 operands, fp32 tiles: dH_r += bf16(G) W_tile, dW_tile (+)= bf16(G)^T H_r, H_r packed once.
      PackedRows h_packed = bf16_pack_rows(h_g.const_data_ptr<c10::BFloat16>(), mr, D);
      c10::BFloat16* scratch = buf.bf16_scratch.mutable_data_ptr<c10::BFloat16>();
      const c10::BFloat16* w_rows = weight.const_data_ptr<c10::BFloat16>();
      for (int64_t v0 = v_begin; v0 < v_end; v0 += vb) {
        const int64_t n = std::min(vb, v_end - v0);
        at::Tensor tile = buf.logits_view(mr, n);
        buf.brgemm_logits_of(tile, h_g, weight, v0, n);
        tile_scaled_softmax(tile.mutable_data_ptr<float>(), mr, n, lse_r.const_data_ptr<float>(),
                            neg_g_r.const_data_ptr<float>());
        add_target_term(tile, neg_g_r, tgt_r, v0);
        if (want_hidden) {
          bf16_grad_hidden(tile.const_data_ptr<float>(), n, mr, n, w_rows + v0 * D, D,
                          dh.mutable_data_ptr<float>() + r0 * D, scratch);
        }
        if (want_weight) {
          bf16_grad_weight(tile.const_data_ptr<float>(), n, mr, n, h_packed,
                          dw_out(v0, n).mutable_data_ptr<float>(), r0 > 0, scratch);
          finish_dw(v0, n);
        }
      }
      continue;
    }
    for (int64_t v0 = v_begin; v0 < v_end; v0 += vb) {
      const int64_t n = std::min(vb, v_end - v0);
      at::Tensor w = buf.weight_rows(weight, v0, n);
      at::Tensor tile = buf.logits_view(mr, n);
      buf.logits_of(tile, h_g, w);
      // G = -g (softmax - onehot(target)): in place, or (mixed-dtype GEMMs) into the weight's dtype.
      at::Tensor g_low = buf.direct_mixed_gemm ? low.narrow(0, 0, mr * n).view({mr, n}) : at::Tensor();
      if (cuda_tiles(tile)) {
#ifdef DRIFT_WITH_CUDA
        cuda_tile_scaled_softmax(tile, lse_r, neg_g_r, tgt_r, v0, buf.direct_mixed_gemm ? g_low : tile);
#endif
      } else {
        if (vectorized_tiles(tile)) {
          tile_scaled_softmax(tile.mutable_data_ptr<float>(), mr, n, lse_r.const_data_ptr<float>(),
                              neg_g_r.const_data_ptr<float>());
        } else {
          tile.sub_(lse_r.unsqueeze(1)).exp_().mul_(neg_g_r.unsqueeze(1));
        }
        add_target_term(tile, neg_g_r, tgt_r, v0);
        if (buf.direct_mixed_gemm) g_low.copy_(tile);
      }
      if (buf.direct_mixed_gemm) {
        // CUDA, bf16/fp16 weights: both gradient GEMMs on tensor cores with G rounded to the weight's dtype,
        // as autograd rounds the logits' gradient of a bf16 lm-head; fp32 GEMMs here measured 5.2x slower
        // than the unfused bf16 composition on an H200.
        if (want_hidden) {
          at::Tensor part = dh_part.narrow(0, 0, mr);
          at::mm_out(part, g_low, w, at::kFloat);
          dh_r.add_(part);
        }
        if (want_weight) {
          at::Tensor dw_tile = dw.narrow(0, v0 - v_begin, n);
          if (tile_final_dw) {
            at::mm_out(dw_tile, g_low.t(), h_g);  // fp32 accumulation, rounded once into the weight's dtype
          } else if (r0 == 0) {
            at::mm_out(dw_tile, g_low.t(), h_g, at::kFloat);
          } else {
            at::Tensor part = dw_part.narrow(0, 0, n);
            at::mm_out(part, g_low.t(), h_g, at::kFloat);
            dw_tile.add_(part);
          }
        }
        continue;
      }
      if (want_hidden) {
        at::Tensor w_acc = w.scalar_type() == acc ? w : w.to(acc);
        dh_r.addmm_(tile, w_acc);
      }
      if (want_weight) {
        at::Tensor dw_tile = dw_out(v0, n);
        if (r0 == 0) {
          at::mm_out(dw_tile, tile.t(), h);
        } else {
          dw_tile.addmm_(tile.t(), h);
        }
        finish_dw(v0, n);
      }
    }
  }
  if (want_weight && dw.scalar_type() != weight.scalar_type()) dw = dw.to(weight.scalar_type());
  return dw;
}

// The clamped tile sizes forward and backward both use.
int64_t clamp_row_block(int64_t row_block, int64_t M) {
  return std::max<int64_t>(1, std::min(row_block, std::max<int64_t>(M, 1)));
}
int64_t clamp_vocab_block(int64_t vocab_block, int64_t V) { return std::max<int64_t>(1, std::min(vocab_block, V)); }

struct SequenceLogpsFunction : public torch::autograd::Function<SequenceLogpsFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& targets, const at::Tensor& mask, const at::Tensor& scored,
                               int64_t row_block, int64_t vocab_block) {
    const int64_t N = hidden.size(0), D = hidden.size(2), V = weight.size(0);
    const auto acc = accumulation_type(hidden);
    Selection sel = select_scored_rows(targets, scored, V);
    const int64_t M = sel.index.numel();

    at::Tensor h_acc = hidden.reshape({-1, D}).index_select(0, sel.index).to(acc).contiguous();
    at::Tensor w_target = weight.index_select(0, sel.targets).to(acc);
    at::Tensor target_logit = (h_acc * w_target).sum(1);

    const int64_t rb = clamp_row_block(row_block, M), vb = clamp_vocab_block(vocab_block, V);
    TileBuffers buf(weight, rb, vb, acc);
    at::Tensor lse = M > 0 ? tiled_logsumexp(h_acc, weight, rb, vb, buf) : at::empty({0}, h_acc.options());

    at::Tensor logps = at::zeros({N}, h_acc.options()).index_add_(0, sel.seq, target_logit - lse);
    at::Tensor counts = at::zeros({N}, hidden.options().dtype(at::kLong))
                            .index_add_(0, sel.seq, at::ones({M}, hidden.options().dtype(at::kLong)));

    ctx->save_for_backward({h_acc, weight, sel.index, sel.seq, sel.targets, lse});
    ctx->saved_data["hidden_sizes"] = hidden.sizes().vec();
    ctx->saved_data["hidden_dtype"] = static_cast<int64_t>(hidden.scalar_type());
    ctx->saved_data["row_block"] = rb;
    ctx->saved_data["vocab_block"] = vb;
    ctx->mark_non_differentiable({counts, lse});
    return {logps, counts, lse};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return translate_errors([&]() -> variable_list {
      auto saved = ctx->get_saved_variables();
      const at::Tensor &h_acc = saved[0], &weight = saved[1], &index = saved[2], &seq = saved[3],
                       &tgt = saved[4], &lse = saved[5];
      const auto hidden_sizes = ctx->saved_data["hidden_sizes"].toIntVector();
      const auto hidden_dtype = static_cast<at::ScalarType>(ctx->saved_data["hidden_dtype"].toInt());
      const int64_t rb = ctx->saved_data["row_block"].toInt(), vb = ctx->saved_data["vocab_block"].toInt();
      const bool want_hidden = ctx->needs_input_grad(0), want_weight = ctx->needs_input_grad(1);
      const int64_t M = h_acc.size(0), D = h_acc.size(1), V = weight.size(0);
      const auto acc = h_acc.scalar_type();

      at::Tensor grad_logps = grads[0].defined() ? grads[0].to(acc) : at::zeros({hidden_sizes[0]}, h_acc.options());
      at::Tensor neg_g = grad_logps.index_select(0, seq).neg().contiguous();  // -dL/dlogp of each scored row

      at::Tensor dh = want_hidden ? at::zeros({M, D}, h_acc.options()) : at::Tensor();
      at::Tensor d_weight = backward_sweep(h_acc, weight, lse, neg_g, tgt, rb, vb, 0, V, dh, want_weight);
      at::Tensor d_hidden;
      if (want_hidden) {
        d_hidden = at::zeros({hidden_sizes[0] * hidden_sizes[1], D}, h_acc.options().dtype(hidden_dtype));
        d_hidden.index_copy_(0, index, dh.to(hidden_dtype));
        d_hidden = d_hidden.view(hidden_sizes);
      }
      return {d_hidden, d_weight, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    });
  }
};

void check_inputs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                  const at::Tensor& mask, const at::Tensor& scored, int64_t row_block, int64_t vocab_block) {
  TORCH_CHECK(hidden.defined() && weight.defined() && targets.defined() && mask.defined(),
              "sequence_logps: hidden, weight, targets and mask must all be defined");
  TORCH_CHECK(hidden.dim() == 3, "sequence_logps: hidden must be 3-D [N, T, D], got shape ", hidden.sizes());
  TORCH_CHECK(weight.dim() == 2, "sequence_logps: weight must be 2-D [V, D], got shape ", weight.sizes());
  TORCH_CHECK(at::isFloatingType(hidden.scalar_type()),
              "sequence_logps: hidden must be floating point, got ", hidden.scalar_type());
  TORCH_CHECK(weight.scalar_type() == hidden.scalar_type(), "sequence_logps: weight is ", weight.scalar_type(),
              " but hidden is ", hidden.scalar_type(), "; cast one to match");
  TORCH_CHECK(weight.size(1) == hidden.size(2), "sequence_logps: weight is [V, D] = ", weight.sizes(),
              " but hidden has D = ", hidden.size(2));
  TORCH_CHECK(weight.size(0) > 0, "sequence_logps: weight has an empty vocabulary");
  TORCH_CHECK(targets.dim() == 2 && targets.size(0) == hidden.size(0) && targets.size(1) == hidden.size(1),
              "sequence_logps: targets must be [N, T] = [", hidden.size(0), ", ", hidden.size(1), "], got shape ",
              targets.sizes());
  TORCH_CHECK(at::isIntegralType(targets.scalar_type(), /*includeBool=*/false),
              "sequence_logps: targets must hold integer token ids, got ", targets.scalar_type());
  TORCH_CHECK(mask.sizes() == targets.sizes(), "sequence_logps: mask must be [N, T] like targets ", targets.sizes(),
              ", got shape ", mask.sizes());
  TORCH_CHECK(weight.device() == hidden.device() && targets.device() == hidden.device() &&
                  mask.device() == hidden.device(),
              "sequence_logps: hidden (", hidden.device(), "), weight (", weight.device(), "), targets (",
              targets.device(), ") and mask (", mask.device(), ") must be on one device");
  TORCH_CHECK(row_block > 0 && vocab_block > 0, "sequence_logps: row_block and vocab_block must be > 0, got ",
              row_block, " and ", vocab_block);
  if (scored.defined()) {
    TORCH_CHECK(scored.dim() == 1 && at::isIntegralType(scored.scalar_type(), /*includeBool=*/false),
                "sequence_logps: scored must be 1-D integer flat positions, got ", scored.scalar_type(), " ",
                scored.sizes());
    TORCH_CHECK(scored.device() == hidden.device(), "sequence_logps: scored is on ", scored.device(),
                " but hidden is on ", hidden.device());
    if (scored.device().is_cpu()) {  // free on the CPU: the positions must be the mask's
      at::Tensor flat_mask = mask.reshape({-1});
      TORCH_CHECK(at::equal(flat_mask.ne(0).nonzero().squeeze(1), scored.to(at::kLong)),
                  "sequence_logps: scored must list exactly the positions where mask is set, in order");
    }
  }
}

}  // namespace

std::vector<at::Tensor> sequence_logps(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                       const at::Tensor& mask, int64_t row_block, int64_t vocab_block) {
  return translate_errors([&] {
    check_inputs(hidden, weight, targets, mask, at::Tensor(), row_block, vocab_block);
    // On a GPU this waits for the device: the number of scored positions sizes everything after it.
    at::Tensor flat_mask = mask.reshape({-1});
    if (flat_mask.scalar_type() != at::kBool) flat_mask = flat_mask.ne(0);
    auto out = SequenceLogpsFunction::apply(hidden, weight, targets, mask, flat_mask.nonzero().squeeze(1), row_block,
                                            vocab_block);
    return std::vector<at::Tensor>{out[0], out[1]};
  });
}

std::vector<at::Tensor> sequence_logps(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                       const at::Tensor& mask, const at::Tensor& scored, int64_t row_block,
                                       int64_t vocab_block) {
  auto out = sequence_logps_and_lse(hidden, weight, targets, mask, scored, row_block, vocab_block);
  return {out[0], out[1]};
}

std::vector<at::Tensor> sequence_logps_and_lse(const at::Tensor& hidden, const at::Tensor& weight,
                                               const at::Tensor& targets, const at::Tensor& mask,
                                               const at::Tensor& scored, int64_t row_block, int64_t vocab_block) {
  return translate_errors([&] {
    TORCH_CHECK(scored.defined(), "sequence_logps: scored must be defined (or use the overload without it)");
    check_inputs(hidden, weight, targets, mask, scored, row_block, vocab_block);
    return SequenceLogpsFunction::apply(hidden, weight, targets, mask, scored, row_block, vocab_block);
  });
}

at::Tensor sequence_logps_weight_grad(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                      const at::Tensor& mask, const at::Tensor& scored, const at::Tensor& lse,
                                      const at::Tensor& grad_logps, int64_t row_block, int64_t vocab_block,
                                      int64_t v_begin, int64_t rows) {
  return translate_errors([&] {
    TORCH_CHECK(scored.defined() && lse.defined() && grad_logps.defined(),
                "sequence_logps_weight_grad: scored, lse and grad_logps must be defined");
    check_inputs(hidden, weight, targets, mask, scored, row_block, vocab_block);
    const int64_t V = weight.size(0), D = hidden.size(2);
    const int64_t vb = clamp_vocab_block(vocab_block, V);
    TORCH_CHECK(v_begin >= 0 && rows >= 0 && v_begin + rows <= V && v_begin % vb == 0 &&
                    (rows % vb == 0 || v_begin + rows == V),
                "sequence_logps_weight_grad: rows [", v_begin, ", ", v_begin + rows, ") must lie in [0, ", V,
                ") and start and end on vocabulary tiles of ", vb);
    const auto acc = accumulation_type(hidden);
    Selection sel = select_scored_rows(targets, scored, V);
    const int64_t M = sel.index.numel();
    TORCH_CHECK(lse.dim() == 1 && lse.size(0) == M && lse.scalar_type() == acc,
                "sequence_logps_weight_grad: lse must be the forward's [", M, "] ", acc, ", got ",
                lse.scalar_type(), " ", lse.sizes());
    TORCH_CHECK(grad_logps.dim() == 1 && grad_logps.size(0) == hidden.size(0),
                "sequence_logps_weight_grad: grad_logps must be [N] = [", hidden.size(0), "], got shape ",
                grad_logps.sizes());
    at::NoGradGuard no_grad;
    at::Tensor h_acc = hidden.reshape({-1, D}).index_select(0, sel.index).to(acc).contiguous();
    at::Tensor neg_g = grad_logps.to(acc).index_select(0, sel.seq).neg().contiguous();
    return backward_sweep(h_acc, weight, lse.contiguous(), neg_g, sel.targets, clamp_row_block(row_block, M), vb,
                          v_begin, v_begin + rows, at::Tensor(), true);
  });
}

}  // namespace drift
