package org.driftml.kernels;

import static org.driftml.kernels.Tensors.leaf;
import static org.driftml.kernels.Tensors.maxAbsDiff;
import static org.driftml.kernels.Tensors.randn;
import static org.driftml.kernels.Tensors.relDiff;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SequenceLogpsTest {
    @BeforeEach
    void seed() {
        NativeRuntime.load();
        torch.manual_seed(11);
    }

    /** The unfused path every trainer uses: full logits, log_softmax, gather, masked sum. */
    static Tensor unfused(Tensor hidden, Tensor weight, Tensor targets, Tensor mask) {
        Tensor logits = hidden.matmul(weight.t());
        Tensor logp = logits.log_softmax(-1);
        Tensor safeTargets = targets.masked_fill(mask.logical_not(), new Scalar(0)).unsqueeze(2);
        Tensor tokenLogp = logp.gather(2, safeTargets, false).squeeze(2);
        return tokenLogp.mul(mask.to(tokenLogp.scalar_type())).sum(1);
    }

    /** A completion mask: each sequence scores positions [start, start + len), the rest is prompt or padding. */
    static Tensor completionMask(long n, long t) {
        Tensor pos = torch.arange(new Scalar(t)).unsqueeze(0);
        Tensor start = torch.randint(0, t / 2, new long[] {n, 1});
        Tensor end = start.add(torch.randint(1, t / 2 + 1, new long[] {n, 1}));
        return pos.ge(start).logical_and(pos.lt(end));
    }

    @ParameterizedTest(name = "rows {3} x vocab {4}")
    @CsvSource({"3, 17, 50, 1000000, 1000000", "3, 17, 50, 7, 13", "4, 9, 37, 5, 37", "2, 33, 64, 64, 1"})
    void fp32ValuesAndGradientsEqualTheUnfusedPath(long n, long t, long v, long rowBlock, long vocabBlock) {
        long d = 24;
        Tensor hidden = randn(ScalarType.Float, n, t, d);
        Tensor weight = randn(ScalarType.Float, v, d).mul(new Scalar(0.5));
        Tensor targets = torch.randint(0, v, new long[] {n, t});
        Tensor mask = completionMask(n, t);
        // Masked-out positions hold HF's ignore index: they must not be read.
        targets = targets.masked_fill(mask.logical_not(), new Scalar(-100));

        Tensor h1 = leaf(hidden), w1 = leaf(weight), h2 = leaf(hidden), w2 = leaf(weight);
        SequenceLogps.Output fused = SequenceLogps.compute(h1, w1, targets, mask, rowBlock, vocabBlock);
        Tensor expected = unfused(h2, w2, targets, mask);

        assertTrue(relDiff(fused.logps(), expected, 1.0) < 1e-5,
                () -> "logps differ by " + maxAbsDiff(fused.logps(), expected));
        assertArrayEquals(Tensors.values(mask.sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional())),
                Tensors.values(fused.tokenCounts()));
        assertEquals("Long", Tensors.dtype(fused.tokenCounts()));

        Tensor upstream = torch.randn(n);
        fused.logps().mul(upstream).sum().backward();
        expected.mul(upstream).sum().backward();
        assertTrue(relDiff(h1.grad(), h2.grad(), 1e-3) < 1e-5, () -> "dhidden " + maxAbsDiff(h1.grad(), h2.grad()));
        assertTrue(relDiff(w1.grad(), w2.grad(), 1e-3) < 1e-5, () -> "dweight " + maxAbsDiff(w1.grad(), w2.grad()));
    }

    /** The tile kernels are built for AVX-512, AVX2 and plain C++; every build this CPU can run must agree. */
    @Test
    void everyInstructionSetBuildGivesTheUnfusedResult() {
        String detected = VectorIsa.current();
        List<Tensor[]> bf16Grads = new java.util.ArrayList<>();
        try {
            int ran = 0;
            for (String isa : new String[] {"AVX512", "AVX2", "DEFAULT"}) {
                if (!VectorIsa.use(isa)) {
                    continue;
                }
                ran++;
                assertEquals(isa, VectorIsa.current());
                torch.manual_seed(5);
                Tensor hidden = randn(ScalarType.Float, 3, 21, 40);
                Tensor weight = randn(ScalarType.Float, 77, 40);
                Tensor targets = torch.randint(0, 77, new long[] {3, 21});
                Tensor mask = completionMask(3, 21);
                Tensor h1 = leaf(hidden), w1 = leaf(weight), h2 = leaf(hidden), w2 = leaf(weight);
                SequenceLogps.Output fused = SequenceLogps.compute(h1, w1, targets, mask, 5, 19);
                Tensor expected = unfused(h2, w2, targets, mask);
                assertTrue(relDiff(fused.logps(), expected, 1.0) < 1e-5, isa + " logps");
                fused.logps().sum().backward();
                expected.sum().backward();
                assertTrue(relDiff(h1.grad(), h2.grad(), 1e-3) < 1e-5, isa + " dhidden");
                assertTrue(relDiff(w1.grad(), w2.grad(), 1e-3) < 1e-5, isa + " dweight");
                // bf16 weights on this CPU's bf16 GEMM path: the builds round the tiles' gradient to bf16 for
                // brgemm (vectorised in AVX512 and AVX2, c10's scalar rounding in DEFAULT), which must agree bit for
                // bit, as round-to-nearest-even does.
                // (hidden size 48: brgemm wants a multiple of 16)
                Tensor hb = leaf(randn(ScalarType.Float, 3, 21, 48).to(ScalarType.BFloat16));
                Tensor wb = leaf(randn(ScalarType.Float, 77, 48).to(ScalarType.BFloat16));
                SequenceLogps.Output bf16 = SequenceLogps.compute(hb, wb, targets, mask, 5, 64);  // 64: vectorised
                bf16.logps().sum().backward();
                bf16Grads.add(new Tensor[] {bf16.logps(), hb.grad(), wb.grad()});
            }
            assertTrue(ran >= 1, "the scalar build always runs");
            for (Tensor[] other : bf16Grads) {
                for (int i = 0; i < 3; i++) {
                    assertTrue(torch.equal(bf16Grads.get(0)[i], other[i]), "bf16 result " + i + " differs between "
                            + "the tile kernels' builds (bf16 GEMM path " + SequenceLogps.bf16GemmPath() + ")");
                }
            }
            assertFalse(VectorIsa.use("SSE9"), "unknown names are refused");
        } finally {
            VectorIsa.use(detected);
        }
    }

    /**
     * Every CPU path for bf16 weights (bf16_tile_gemms.h): oneDNN's brgemm on AMX or on AVX512-BF16, and fp32
     * promotion on sgemm. Each test runs every path this CPU has and names the ones it lacks. v = 300 leaves ragged
     * 64-column chunks and 16-row pads; 29 scored rows per sequence are not a multiple of 16.
     */
    @ParameterizedTest(name = "row block {0}")
    @CsvSource({"16", "4096"})
    void bf16InputsAccumulateInFp32(long rowBlock) {
        onEveryPath(() -> bf16AccumulatesInFp32(rowBlock));
    }

    /**
     * Runs {@code check} with bf16 tile GEMMs on every path this CPU has (WIDEN always), saying which ran and which
     * the CPU lacks, then restores the best path.
     */
    static void onEveryPath(Runnable check) {
        String best = SequenceLogps.bf16GemmBestPath();
        int ran = 0;
        try {
            for (String path : new String[] {"AMX", "AVX512_BF16", "WIDEN"}) {
                if (!SequenceLogps.useBf16GemmPath(path)) {
                    System.out.println("bf16 GEMM path " + path + ": this CPU lacks it (its best: " + best + ")");
                    continue;
                }
                assertEquals(path, SequenceLogps.bf16GemmPath());
                System.out.println("bf16 GEMM path " + path + ": ran (this CPU's best: " + best + ")");
                check.run();
                ran++;
            }
        } finally {
            SequenceLogps.useBf16GemmPath(best);
        }
        assertTrue(ran >= 1, "WIDEN runs on every CPU");
    }

    private void bf16AccumulatesInFp32(long rowBlock) {
        long n = 3, t = 20, v = 300, d = 32;
        Tensor hidden = randn(ScalarType.BFloat16, n, t, d);
        Tensor weight = randn(ScalarType.Float, v, d).mul(new Scalar(0.3)).to(ScalarType.BFloat16);
        Tensor targets = torch.randint(0, v, new long[] {n, t});
        Tensor mask = completionMask(n, t);
        Tensor h = leaf(hidden), w = leaf(weight);
        SequenceLogps.Output fused = SequenceLogps.compute(h, w, targets, mask, rowBlock, 64);
        assertEquals("Float", Tensors.dtype(fused.logps()));

        // The same bf16 values promoted to fp32 and run through the unfused path: only summation order may differ.
        Tensor hf = leaf(hidden.to(ScalarType.Float)), wf = leaf(weight.to(ScalarType.Float));
        Tensor exact = unfused(hf, wf, targets, mask);
        assertTrue(relDiff(fused.logps(), exact, 1.0) < 1e-5, () -> "vs fp32: " + maxAbsDiff(fused.logps(), exact));
        // The all-bf16 unfused path rounds its logits to bf16; agreement within that rounding.
        Tensor bf16 = unfused(hidden, weight, targets, mask).to(ScalarType.Float);
        assertTrue(relDiff(fused.logps(), bf16, 1.0) < 2e-2, () -> "vs bf16 path: " + maxAbsDiff(fused.logps(), bf16));

        Tensor upstream = torch.randn(n);
        fused.logps().mul(upstream).sum().backward();
        exact.mul(upstream).sum().backward();
        assertEquals("BFloat16", Tensors.dtype(h.grad()));
        assertEquals("BFloat16", Tensors.dtype(w.grad()));
        // Gradients are computed in fp32 and rounded once to bf16 (relative step 2^-8).
        assertTrue(relDiff(h.grad(), hf.grad(), 1e-3) < 1e-2, () -> "dhidden " + maxAbsDiff(h.grad(), hf.grad()));
        assertTrue(relDiff(w.grad(), wf.grad(), 1e-3) < 1e-2, () -> "dweight " + maxAbsDiff(w.grad(), wf.grad()));
    }

    /**
     * The lm-head's gradient a range at a time, as an optimiser recomputes it: each range's rows equal the rows of
     * the gradient backward gives the weight, bit for bit, and the backward of a detached weight gives the same
     * dhidden. Vocabulary 300 in tiles of 64: ranges of one tile, of two, and the ragged last; fp32 in one row block
     * and in several (accumulated in fp32), bf16 on each path this CPU has, fp64.
     */
    @ParameterizedTest(name = "{0}, row block {1}")
    @CsvSource({"Float, 4096", "Float, 7", "BFloat16, 4096", "BFloat16, 16", "Double, 4096"})
    void weightGradRowsEqualTheBackwardsGradientBitForBit(String dtype, long rowBlock) {
        if (dtype.equals("BFloat16")) {  // the bf16 GEMM path matters for bf16 weights only
            onEveryPath(() -> weightGradRows(dtype, rowBlock));
        } else {
            weightGradRows(dtype, rowBlock);
        }
    }

    private void weightGradRows(String dtype, long rowBlock) {
        {
            long n = 3, t = 20, v = 300, d = 32, vb = 64;
            ScalarType type = ScalarType.valueOf(dtype);
            Tensor hidden = randn(ScalarType.Float, n, t, d).to(type);
            Tensor weight = randn(ScalarType.Float, v, d).mul(new Scalar(0.3)).to(type);
            Tensor targets = torch.randint(0, v, new long[] {n, t});
            Tensor mask = completionMask(n, t);
            Tensor scored = mask.reshape(-1).nonzero().squeeze(1);
            Tensor upstream = torch.randn(n);

            Tensor h1 = leaf(hidden), w1 = leaf(weight);
            SequenceLogps.Output whole = SequenceLogps.compute(h1, w1, targets, mask, rowBlock, vb);
            whole.logps().mul(upstream.to(whole.logps().scalar_type())).sum().backward();

            Tensor h2 = leaf(hidden);
            SequenceLogps.Scores ranged = SequenceLogps.computeWithLse(h2, weight, targets, mask, scored, rowBlock,
                    vb);
            assertTrue(torch.equal(whole.logps(), ranged.logps()), "the same logps");
            Tensor gradLogps = upstream.to(ranged.logps().scalar_type());
            ranged.logps().mul(gradLogps).sum().backward();
            assertTrue(torch.equal(h1.grad(), h2.grad()), "the same dhidden without the weight's gradient");
            long[][] ranges = {{0, 64}, {64, 128}, {192, 108}};
            for (long[] r : ranges) {
                Tensor rows = SequenceLogps.weightGradRows(h2, weight, targets, mask, scored, ranged.lse(), gradLogps,
                        rowBlock, vb, r[0], r[1]);
                assertEquals(dtype, Tensors.dtype(rows));
                assertTrue(torch.equal(w1.grad().narrow(0, r[0], r[1]), rows),
                        () -> "rows " + r[0] + "+" + r[1] + " differ by "
                                + maxAbsDiff(w1.grad().narrow(0, r[0], r[1]), rows));
            }
            assertMessage("must lie in [0, 300) and start and end on vocabulary tiles of 64",
                    () -> SequenceLogps.weightGradRows(h2, weight, targets, mask, scored, ranged.lse(), gradLogps,
                            rowBlock, vb, 32, 64));
        }
    }

    @Test
    void gradientsMatchFiniteDifferencesInDouble() {
        long n = 2, t = 5, v = 11, d = 6;
        Tensor hidden = randn(ScalarType.Double, n, t, d);
        Tensor weight = randn(ScalarType.Double, v, d);
        Tensor targets = torch.randint(0, v, new long[] {n, t});
        Tensor mask = completionMask(n, t);
        Tensor upstream = Tensors.of(0.7, -1.3);
        Tensor h = leaf(hidden), w = leaf(weight);
        SequenceLogps.compute(h, w, targets, mask, 3, 4).logps().mul(upstream).sum().backward();

        double step = 1e-6;
        for (Tensor[] pair : new Tensor[][] {{hidden, h.grad()}, {weight, w.grad()}}) {
            Tensor base = pair[0], analytic = pair[1];
            Tensor flat = base.reshape(-1);
            for (long i = 0; i < flat.numel(); i += 3) {
                double orig = flat.get(i).item_double();
                flat.get(i).fill_(new Scalar(orig + step));
                double plus = SequenceLogps.compute(hidden, weight, targets, mask, 3, 4).logps().mul(upstream).sum()
                        .item_double();
                flat.get(i).fill_(new Scalar(orig - step));
                double minus = SequenceLogps.compute(hidden, weight, targets, mask, 3, 4).logps().mul(upstream).sum()
                        .item_double();
                flat.get(i).fill_(new Scalar(orig));
                double numeric = (plus - minus) / (2 * step);
                double got = analytic.reshape(-1).get(i).item_double();
                assertEquals(numeric, got, 1e-6 * Math.max(1, Math.abs(numeric)), "element " + i);
            }
        }
    }

    @Test
    void frozenWeightGetsNoGradientAndHiddenStillDoes() {
        Tensor hidden = leaf(randn(ScalarType.Float, 2, 6, 8));
        Tensor weight = randn(ScalarType.Float, 40, 8);
        Tensor targets = torch.randint(0, 40, new long[] {2, 6});
        Tensor mask = torch.ones(2, 6).to(ScalarType.Bool);
        SequenceLogps.compute(hidden, weight, targets, mask).logps().sum().backward();
        assertTrue(hidden.grad().defined());
        assertFalse(weight.grad().defined());
    }

    @Test
    void aSequenceWithNothingScoredHasZeroLogpAndZeroTokens() {
        Tensor mask = torch.zeros(2, 4).to(ScalarType.Bool);
        mask.get(1).get(2).fill_(new Scalar(1));
        SequenceLogps.Output out = SequenceLogps.compute(randn(ScalarType.Float, 2, 4, 8),
                randn(ScalarType.Float, 10, 8), torch.randint(0, 10, new long[] {2, 4}), mask);
        assertEquals(0.0, out.logps().get(0).item_double());
        assertTrue(out.logps().get(1).item_double() < 0);
        assertEquals(0L, out.tokenCounts().get(0).item_long());
        assertEquals(1L, out.tokenCounts().get(1).item_long());
    }

    @Test
    void nothingScoredAnywhereGivesZeroGradients() {
        Tensor hidden = leaf(randn(ScalarType.Float, 2, 4, 8));
        Tensor weight = leaf(randn(ScalarType.Float, 10, 8));
        SequenceLogps.Output out = SequenceLogps.compute(hidden, weight, torch.randint(0, 10, new long[] {2, 4}),
                torch.zeros(2, 4).to(ScalarType.Bool));
        out.logps().sum().backward();
        assertEquals(0.0, Tensors.maxAbs(out.logps()));
        assertEquals(0.0, Tensors.maxAbs(hidden.grad()));
        assertEquals(0.0, Tensors.maxAbs(weight.grad()));
    }

    @Test
    void outOfVocabularyTargetAtAScoredPositionIsNamed() {
        Tensor targets = torch.randint(0, 10, new long[] {2, 4});
        targets.get(1).get(3).fill_(new Scalar(10));
        RuntimeException e = assertThrows(RuntimeException.class, () -> SequenceLogps.compute(
                randn(ScalarType.Float, 2, 4, 8), randn(ScalarType.Float, 10, 8), targets,
                torch.ones(2, 4).to(ScalarType.Bool)));
        assertTrue(e.getMessage().contains("targets[1, 3] = 10 is a scored position"), e.getMessage());
        assertFalse(e.getMessage().contains("frame #"), e.getMessage());
    }

    @Test
    void shapeAndDtypeMistakesAreClearErrors() {
        Tensor ok3 = randn(ScalarType.Float, 2, 4, 8), w = randn(ScalarType.Float, 10, 8);
        Tensor tg = torch.randint(0, 10, new long[] {2, 4}), m = torch.ones(2, 4);
        assertMessage("hidden must be 3-D [N, T, D], got shape [8, 8]",
                () -> SequenceLogps.compute(randn(ScalarType.Float, 8, 8), w, tg, m));
        assertMessage("weight is [V, D] = [10, 7] but hidden has D = 8",
                () -> SequenceLogps.compute(ok3, randn(ScalarType.Float, 10, 7), tg, m));
        assertMessage("weight is BFloat16 but hidden is Float",
                () -> SequenceLogps.compute(ok3, w.to(ScalarType.BFloat16), tg, m));
        assertMessage("targets must be [N, T] = [2, 4], got shape [2, 5]",
                () -> SequenceLogps.compute(ok3, w, torch.randint(0, 10, new long[] {2, 5}), m));
        assertMessage("targets must hold integer token ids, got Float",
                () -> SequenceLogps.compute(ok3, w, tg.to(ScalarType.Float), m));
        assertMessage("mask must be [N, T] like targets [2, 4], got shape [2, 3]",
                () -> SequenceLogps.compute(ok3, w, tg, torch.ones(2, 3)));
        assertMessage("row_block and vocab_block must be > 0",
                () -> SequenceLogps.compute(ok3, w, tg, m, 0, 16));
    }

    private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable call) {
        RuntimeException e = assertThrows(RuntimeException.class, call);
        assertTrue(e.getMessage().contains(expected), () -> "expected '" + expected + "' in: " + e.getMessage());
        assertFalse(e.getMessage().contains("frame #"), e.getMessage());
    }
}
