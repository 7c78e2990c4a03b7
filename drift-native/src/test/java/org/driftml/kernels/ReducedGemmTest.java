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

    /**
     * bf16 matmuls with bf16 results (the decoder's), on every path: ATen's oneDNN on AMX and AVX512_BF16; on WIDEN
     * drift's widened sgemm, reached through ATen's gemm_stub once ATen's oneDNN is off for them. Plain, transposed,
     * scaled and accumulating (addmm's alpha and beta) and batched products, each against fp64: one bf16 rounding
     * of an fp32 sum (a transposed or mis-strided operand would be off by O(1)).
     */
    @org.junit.jupiter.api.Test
    void bf16MatmulsAreWidenedOnTheWidenPathAndOneDnnsElsewhere() {
        SequenceLogpsTest.onEveryPath(() -> {
            boolean widen = SequenceLogps.bf16GemmPath().equals("WIDEN");
            Tensor a = randn(ScalarType.BFloat16, 67, 96), b = randn(ScalarType.BFloat16, 96, 45);
            Tensor bt = randn(ScalarType.BFloat16, 45, 96), c = randn(ScalarType.BFloat16, 67, 45);
            Tensor ba = randn(ScalarType.BFloat16, 5, 33, 96), bb = randn(ScalarType.BFloat16, 5, 96, 21);
            long before = DriftNative.widened_bf16_gemm_calls();
            Tensor[] got = {a.matmul(b), a.matmul(bt.t()), a.t().contiguous().t().matmul(b),
                    torch.addmm(c, a, b, new Scalar(0.5), new Scalar(-2.0)), ba.matmul(bb)};
            long calls = DriftNative.widened_bf16_gemm_calls() - before;
            Tensor a64 = a.to(ScalarType.Double), b64 = b.to(ScalarType.Double);
            Tensor[] want = {a64.matmul(b64), a64.matmul(bt.to(ScalarType.Double).t()), a64.matmul(b64),
                    c.to(ScalarType.Double).mul(new Scalar(0.5)).add(a64.matmul(b64).mul(new Scalar(-2.0))),
                    ba.to(ScalarType.Double).matmul(bb.to(ScalarType.Double))};
            String[] names = {"a @ b", "a @ b'^T", "a (column-major) @ b", "addmm", "batched"};
            for (int i = 0; i < got.length; i++) {
                assertEquals("BFloat16", Tensors.dtype(got[i]), names[i]);
                double err = relDiff(got[i], want[i], 1.0);
                assertTrue(err < 1e-2, SequenceLogps.bf16GemmPath() + " " + names[i] + ": relative difference " + err);
            }
            if (widen) {
                assertTrue(calls >= 4, "WIDEN: the bf16 matmuls reached the widened sgemm (" + calls + " calls)");
            } else {
                assertEquals(0, calls, SequenceLogps.bf16GemmPath() + ": the bf16 matmuls stay with ATen's oneDNN");
            }
        });
    }
}
