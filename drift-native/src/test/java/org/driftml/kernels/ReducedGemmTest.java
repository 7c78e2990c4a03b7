package org.driftml.kernels;

import static org.driftml.kernels.Tensors.leaf;
import static org.driftml.kernels.Tensors.randn;
import static org.driftml.kernels.Tensors.relDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** ATen's bf16 attention backward, whose fp32-output GEMMs drift-native widens onto OpenBLAS's sgemm. */
class ReducedGemmTest {
    @BeforeEach
    void seed() {
        NativeRuntime.load();
        torch.manual_seed(5);
    }

    /** Causal attention written out in fp64: softmax(q k^T / sqrt(d) + causal mask) v. */
    static Tensor attention64(Tensor q, Tensor k, Tensor v) {
        long t = q.size(2);
        Tensor scores = q.matmul(k.transpose(-2, -1)).mul(new Scalar(1.0 / Math.sqrt(q.size(3))));
        Tensor future = torch.ones(t, t).to(ScalarType.Bool).triu(1);
        Tensor p = torch.softmax(scores.masked_fill(future, new Scalar(Double.NEGATIVE_INFINITY)), -1,
                new ScalarTypeOptional());
        return p.matmul(v);
    }

    /**
     * On each bf16 GEMM path this CPU has: WIDEN (sgemm on widened operands), AVX512_BF16 (oneDNN's brgemm with bf16
     * operands); AMX keeps the widened GEMM here.
     */
    @ParameterizedTest(name = "[N={0}, H={1}, T={2}, d={3}]")
    @CsvSource({"2, 4, 300, 64", "1, 2, 37, 32", "2, 3, 700, 128"})
    void bf16AttentionGradientsEqualTheFp64Composition(long n, long h, long t, long d) {
        SequenceLogpsTest.onEveryPath(() -> attentionGradients(n, h, t, d));
    }

    private void attentionGradients(long n, long h, long t, long d) {
        assertTrue(NativeRuntime.reducedGemmInstalled(), "the widened GEMM is installed on linux-x86_64");
        Tensor q = randn(ScalarType.BFloat16, n, h, t, d), k = randn(ScalarType.BFloat16, n, h, t, d);
        Tensor v = randn(ScalarType.BFloat16, n, h, t, d), gradOut = randn(ScalarType.BFloat16, n, h, t, d);

        Tensor q16 = leaf(q), k16 = leaf(k), v16 = leaf(v);
        long callsBefore = DriftNative.reduced_gemm_calls();
        torch.scaled_dot_product_attention(q16, k16, v16, new TensorOptional(), 0.0, true,
                new DoubleOptional(1.0 / Math.sqrt(d)), false).mul(gradOut).sum().backward();
        long calls = DriftNative.reduced_gemm_calls() - callsBefore;

        Tensor q64 = leaf(q.to(ScalarType.Double)), k64 = leaf(k.to(ScalarType.Double));
        Tensor v64 = leaf(v.to(ScalarType.Double));
        attention64(q64, k64, v64).mul(gradOut.to(ScalarType.Double)).sum().backward();

        assertTrue(calls > 0, "the bf16 SDPA backward reached the widened GEMM (" + calls + " calls)");
        // bf16 results (8 significant bits) of fp32 accumulations, with P and dS rounded to bf16 inside the kernel:
        // a transposed or mis-strided operand would be off by O(1).
        for (String[] which : new String[][] {{"dq"}, {"dk"}, {"dv"}}) {
            Tensor got = switch (which[0]) { case "dq" -> q16.grad(); case "dk" -> k16.grad(); default -> v16.grad(); };
            Tensor want = switch (which[0]) { case "dq" -> q64.grad(); case "dk" -> k64.grad(); default -> v64.grad(); };
            double err = relDiff(got, want, 1.0);
            assertTrue(err < 2e-2, which[0] + ": relative difference " + err);
        }
    }

    /**
     * ATen calls the widened GEMM from several threads at once (a bf16 bmm splits its batch over the intra-op threads);
     * each call runs sgemm on one OpenBLAS thread. OpenBLAS's count is one per process, and saving and restoring it per
     * call raced: it could be left at 1, after which every fp32 GEMM in the process ran single-threaded and summed in
     * another order (an fp32 model trained after a bf16 run differed in its bits from a fresh process's).
     */
    @org.junit.jupiter.api.Test
    void concurrentWidenedGemmsLeaveOpenBlasThreadsAsTheyFoundThem() {
        assertTrue(NativeRuntime.reducedGemmInstalled(), "the widened GEMM is installed on linux-x86_64");
        long threads = DriftNative.reduced_gemm_blas_threads();
        assertTrue(threads >= 1, "OpenBLAS reports " + threads + " threads");
        long callsBefore = DriftNative.reduced_gemm_calls();
        for (int round = 0; round < 20; round++) {
            // bf16 attention's backward: batched GEMMs into fp32 accumulators, spread over the intra-op threads.
            Tensor q = leaf(randn(ScalarType.BFloat16, 8, 4, 64, 32)), k = leaf(randn(ScalarType.BFloat16, 8, 4, 64, 32));
            Tensor v = leaf(randn(ScalarType.BFloat16, 8, 4, 64, 32));
            torch.scaled_dot_product_attention(q, k, v, new TensorOptional(), 0.0, true, new DoubleOptional(), false)
                    .sum().backward();
            assertEquals(threads, DriftNative.reduced_gemm_blas_threads(), "round " + round);
        }
        assertTrue(DriftNative.reduced_gemm_calls() > callsBefore, "the rounds reached the widened GEMM");
    }
}
