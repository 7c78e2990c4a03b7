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
}
