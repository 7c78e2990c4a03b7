package org.driftml.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fused draw against LibTorch's own: {@code torch.multinomial(probs, 1)} from a twin generator for valid rows,
 * and its written-out form (exponential_, divide, argmax) for rows multinomial refuses. Equal ids, and both
 * generators left in the same state (their next draws equal).
 */
class MultinomialDrawTest {
    @BeforeEach
    void load() {
        NativeRuntime.load();
        torch.manual_seed(17);
    }

    private static Generator generator(long seed) {
        return Generators.seeded(new Device("cpu"), seed);
    }

    private static long[] ids(Tensor t) {
        long[] out = new long[(int) t.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.flatten(0, -1).get(i).item_long();
        }
        return out;
    }

    /** Draws with the fused op and with torch.multinomial from twin generators; checks ids and the generators. */
    private static void assertSameDraws(Tensor probs, int draws) {
        Generator ours = generator(1234), theirs = generator(1234);
        Tensor next = torch.zeros(new long[] {probs.size(0), 1}).to(ScalarType.Long);
        for (int d = 0; d < draws; d++) {
            MultinomialDraw.draw(probs, ours, next);
            Tensor expected = torch.multinomial(probs, 1, false, new GeneratorOptional(theirs));
            assertArrayEquals(ids(expected), ids(next), "draw " + d);
        }
        assertGeneratorsEqual(ours, theirs);
    }

    private static void assertGeneratorsEqual(Generator a, Generator b) {
        Tensor x = torch.zeros(new long[] {64}).exponential_(1, new GeneratorOptional(a));
        Tensor y = torch.zeros(new long[] {64}).exponential_(1, new GeneratorOptional(b));
        assertTrue(torch.equal(x, y), "the generators are in different states");
    }

    @Test
    void equalsTorchMultinomialOnSoftmaxRows() {
        // Several blocks per row (the op splits columns in blocks of 16,384) and an odd width.
        Tensor probs = torch.softmax(torch.randn(new long[] {6, 40_003}).mul(new Scalar(4)), -1);
        assertSameDraws(probs, 5);
    }

    @Test
    void equalsTorchMultinomialWithTopPZerosAndTies() {
        // As after top-p: most entries zero; bf16-rounded logits, so many exact ties among the rest.
        Tensor logits = torch.randn(new long[] {8, 33_000}).mul(new Scalar(3)).to(ScalarType.BFloat16)
                .to(ScalarType.Float);
        Tensor keep = logits.gt(new Scalar(4));
        Tensor probs = torch.softmax(logits.masked_fill(keep.logical_not(), new Scalar(Double.NEGATIVE_INFINITY)), -1);
        assertTrue(probs.eq(new Scalar(0)).sum().item_long() > probs.numel() / 2, "mostly zeros");
        assertSameDraws(probs, 8);
        // One entry left: always that entry.
        Tensor one = torch.zeros(new long[] {3, 20_000});
        one.select(1, 19_999).fill_(new Scalar(1));
        Tensor next = torch.zeros(new long[] {3, 1}).to(ScalarType.Long);
        MultinomialDraw.draw(one, generator(3), next);
        assertArrayEquals(new long[] {19_999, 19_999, 19_999}, ids(next));
    }

    @Test
    void rowsMultinomialRefusesFollowTheWrittenOutDraw() {
        // An all-zero row and unnormalised weights: the exponential form still defines a draw.
        Tensor probs = torch.rand(new long[] {4, 50_000});
        probs.select(0, 1).zero_();
        probs.select(0, 2).mul_(new Scalar(1e6));
        Generator ours = generator(99), theirs = generator(99);
        Tensor next = torch.zeros(new long[] {4, 1}).to(ScalarType.Long);
        MultinomialDraw.draw(probs, ours, next);
        Tensor noise = torch.empty_like(probs).exponential_(1, new GeneratorOptional(theirs));
        Tensor expected = torch.argmax(probs.div(noise), new LongOptional(-1), true);
        assertArrayEquals(ids(expected), ids(next));
        assertGeneratorsEqual(ours, theirs);
    }

    @Test
    void refusesWhatItCannotDraw() {
        Tensor next = torch.zeros(new long[] {2, 1}).to(ScalarType.Long);
        Generator g = generator(1);
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> MultinomialDraw.draw(torch.rand(new long[] {2, 8}).to(ScalarType.Double), g, next));
        assertTrue(e.getMessage().contains("probs must be a contiguous 2-D fp32 CPU tensor"), e.getMessage());
        assertThrows(RuntimeException.class,
                () -> MultinomialDraw.draw(torch.rand(new long[] {3, 8}), g, next));
        Tensor nan = torch.rand(new long[] {2, 40_000});
        nan.select(0, 1).select(0, 33_000).fill_(new Scalar(Double.NaN));
        RuntimeException bad = assertThrows(RuntimeException.class, () -> MultinomialDraw.draw(nan, g, next));
        assertTrue(bad.getMessage().contains("row 1 of the probabilities holds NaN"), bad.getMessage());
        assertEquals(2, next.size(0));
    }
}
