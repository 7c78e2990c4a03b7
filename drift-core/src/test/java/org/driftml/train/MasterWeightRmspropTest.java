package org.driftml.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.SequenceLogps;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.SafetensorsFile;
import org.driftml.model.internal.SafetensorsWriter;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The optimizer's bookkeeping around the update kernel: the gradient norm and the fp32 masters it hands out. */
class MasterWeightRmspropTest {
    @BeforeEach
    void seed() {
        NativeRuntime.load();
        torch.manual_seed(7);
    }

    /** A bf16 gradient larger than one norm chunk (2^22) is reduced in pieces; the norm is still the fp64 one's. */
    @Test
    void theGradientNormOfALargeBf16GradientIsTheNormOfAllItsElements() {
        try (StepScope scope = StepScope.open()) {
            Tensor big = torch.zeros(new long[] {5_000_000}).to(ScalarType.BFloat16).requires_grad_(true);
            Tensor small = torch.zeros(new long[] {3, 7}).to(ScalarType.BFloat16).requires_grad_(true);
            Tensor gBig = torch.randn(new long[] {5_000_000}).to(ScalarType.BFloat16);
            Tensor gSmall = torch.randn(new long[] {3, 7}).to(ScalarType.BFloat16);
            big.mutable_grad().put(gBig);
            small.mutable_grad().put(gSmall);
            Map<String, Tensor> weights = new LinkedHashMap<>();
            weights.put("big", big);
            weights.put("small", small);
            MasterWeightRmsprop optimizer = new MasterWeightRmsprop(weights, 0.0);
            double squares = gBig.to(ScalarType.Double).pow(new Scalar(2)).sum().item_double()
                    + gSmall.to(ScalarType.Double).pow(new Scalar(2)).sum().item_double();
            double norm = optimizer.gradNorm();
            // fp32 reductions over millions of squares: torch's own fp32 norm of such a tensor is off by 2.5e-5
            // (measured with pip's torch); a chunk left out or counted twice moves it by 10% or more.
            assertEquals(Math.sqrt(squares), norm, 2e-4 * Math.sqrt(squares));
            optimizer.close();
        }
    }

    /** bf16 weights keep their masters split; what is saved is the exact fp32 master, one tensor at a time. */
    @Test
    void savedMastersAreTheGivenFp32ValuesExactly(@TempDir Path dir) throws Exception {
        try (StepScope scope = StepScope.open()) {
            Tensor fp32 = torch.randn(new long[] {64, 33});
            Tensor w = fp32.to(ScalarType.BFloat16);
            Map<String, Tensor> weights = Map.of("w", w);
            MasterWeightRmsprop optimizer = new MasterWeightRmsprop(weights, Map.of("w", fp32), 0.0);
            assertEquals("Float", optimizer.masters().get("w").scalar_type().toString());
            assertTrue(torch.equal(optimizer.masters().get("w"), fp32), "the master is the given fp32 tensor");
            SafetensorsWriter.write(dir.resolve("m.safetensors"), optimizer.state(), Map.of());
            SafetensorsFile f = SafetensorsFile.open(dir.resolve("m.safetensors"));
            assertTrue(torch.equal(f.read("master.w"), fp32), "the saved master is exact");
            assertEquals(0.0, f.read("square_avg.w").abs().sum().item_double());
            optimizer.close();
        }
    }

    /**
     * The gradients are views of one buffer, made once: backward adds into them, the update zeroes them, and the
     * next backward finds the same memory (a freed-and-remade gradient fragmented malloc's heap: GradientBuffer). A
     * weight left out of the buffer keeps autograd's own gradient, freed by the update.
     */
    @Test
    void gradientsStayInOneBufferAcrossStepsAndAWholeGradientIsFreedByTheUpdate() {
        try (StepScope scope = StepScope.open()) {
            Tensor a = torch.randn(new long[] {4, 3}).to(ScalarType.BFloat16).requires_grad_(true);
            Tensor b = torch.randn(new long[] {5}).to(ScalarType.BFloat16).requires_grad_(true);
            Tensor head = torch.randn(new long[] {2, 3}).to(ScalarType.BFloat16).requires_grad_(true);
            Map<String, Tensor> weights = new LinkedHashMap<>();
            weights.put("a", a);
            weights.put("b", b);
            weights.put("head", head);
            MasterWeightRmsprop optimizer = new MasterWeightRmsprop(weights, Map.of(), 0.0,
                    java.util.Set.of("a", "b"));
            long aAt = a.grad().data_ptr().address(), bAt = b.grad().data_ptr().address();
            assertEquals(aAt + 12 * 2, bAt, "b's gradient follows a's 12 bf16 elements in the one buffer");
            assertTrue(!head.grad().defined(), "head's gradient is not buffered");
            for (int step = 0; step < 2; step++) {
                Tensor x = torch.randn(new long[] {4, 3}).to(ScalarType.BFloat16);
                Tensor y = torch.randn(new long[] {5}).to(ScalarType.BFloat16);
                // d/da sum(a * x) = x; 0 + x is exact in bf16
                a.mul(x).sum().add(b.mul(y).sum()).add(head.sum()).backward();
                assertTrue(torch.equal(a.grad(), x) && torch.equal(b.grad(), y), "backward added into the views");
                assertEquals(aAt, a.grad().data_ptr().address(), "the same memory at step " + step);
                assertTrue(head.grad().defined());
                optimizer.step(1e-3, 0.0, optimizer.gradNorm());
                assertEquals(0.0, a.grad().abs().sum().item_double() + b.grad().abs().sum().item_double());
                assertTrue(!head.grad().defined(), "the update frees an unbuffered gradient");
            }
            optimizer.close();
            assertTrue(!a.grad().defined() && !b.grad().defined(), "close takes the gradients off the weights");
        }
    }

    /**
     * An lm-head whose gradient is made a range at a time (LmHeadGradient) takes the same update as one whose
     * gradient autograd held whole, bit for bit: the same norm, weights, masters and square averages. Vocabulary
     * 20,000 x 320 (6.4M elements): two ranges of the vocabulary (16,384 rows, then 3,616) and the norm's 2^22-element
     * chunks cut inside the first, so the staging carries a remainder across ranges. Two micro-batches, each a logits
     * part and a tied embedding's rows (repeated ids among them), added in autograd's order.
     */
    @Test
    void anLmHeadGradientMadeARangeAtATimeTakesTheHeldGradientsUpdateBitForBit() {
        try (StepScope scope = StepScope.open()) {
            long v = 20_000, d = 320, n = 2, t = 9;
            Tensor start = torch.randn(new long[] {v, d}).mul(new Scalar(0.05)).to(ScalarType.BFloat16);
            Tensor held = start.clone().requires_grad_(true), made = start.clone().requires_grad_(true);
            MasterWeightRmsprop heldOptimizer = new MasterWeightRmsprop(Map.of("w", held), 0.01);
            MasterWeightRmsprop madeOptimizer = new MasterWeightRmsprop(Map.of("w", made), 0.01);
            LmHeadGradient gradient = new LmHeadGradient(made);
            for (int micro = 0; micro < 2; micro++) {
                Tensor hidden = torch.randn(new long[] {n, t, d}).to(ScalarType.BFloat16);
                Tensor targets = torch.randint(0, v, new long[] {n, t});
                Tensor mask = torch.rand(new long[] {n, t}).lt(new Scalar(0.7));
                Tensor scored = mask.reshape(-1).nonzero().squeeze(1);
                Tensor upstream = torch.randn(new long[] {n});
                Tensor ids = torch.randint(0, 40, new long[] {n, t}).mul(new Scalar(499));  // both ranges, repeats
                Tensor rows = torch.randn(new long[] {n, t, d}).to(ScalarType.BFloat16);

                SequenceLogps.compute(hidden, held, targets, mask, scored).logps().mul(upstream).sum().backward();
                held.grad().index_add_(0, ids.reshape(-1), rows.reshape(-1, d));  // Decoder.embedBackward's add

                SequenceLogps.Scores s = SequenceLogps.computeWithLse(hidden, made.detach(), targets, mask, scored);
                gradient.addLogits(hidden, targets, mask, scored, s.lse(), upstream);
                gradient.addEmbeddingRows(ids, rows);
            }
            madeOptimizer.gradientMadeBy("w", gradient);
            double heldNorm = heldOptimizer.gradNorm(), madeNorm = madeOptimizer.gradNorm();
            assertEquals(heldNorm, madeNorm, 0.0, "the same norm");
            assertTrue(heldNorm > 1.0, "clipping at 1 scales this update: " + heldNorm);
            heldOptimizer.step(1e-3, 1.0, heldNorm);
            madeOptimizer.step(1e-3, 1.0, madeNorm);
            assertTrue(!torch.equal(held, start), "the update moved the weight");
            assertTrue(torch.equal(held, made), "the same bf16 weights");
            Map<String, Tensor> heldState = heldOptimizer.state(), madeState = madeOptimizer.state();
            for (String key : heldState.keySet()) {
                assertTrue(torch.equal(heldState.get(key), madeState.get(key)), key);
            }
            assertTrue(!made.grad().defined(), "the made weight never held a gradient");
            gradient.close();
            heldOptimizer.close();
            madeOptimizer.close();
        }
    }
}
