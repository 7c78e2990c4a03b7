package org.driftml.kernels;

import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.Tensor;

/**
 * One token per row drawn from a probability matrix on the CPU, exactly as {@code torch.multinomial(probs, 1)} draws
 * it from the same generator (drift-native's multinomial_draw.h): the same exponentials, the same argmax of
 * {@code p / q}, the generator left in the same state. ATen makes the exponentials on one thread; here only the
 * random stream is serial, and entries of probability zero skip the logarithm.
 */
public final class MultinomialDraw {
    private MultinomialDraw() {}

    /**
     * @param probs     [N, V] fp32, contiguous, on the CPU
     * @param generator a CPU generator
     * @param next      [N, 1] int64, contiguous, on the CPU: written with the chosen columns
     */
    public static void draw(Tensor probs, Generator generator, Tensor next) {
        DriftNative.multinomial_draw(probs, generator, next);
    }
}
