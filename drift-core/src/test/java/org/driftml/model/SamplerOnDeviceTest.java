package org.driftml.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.kernels.TestDevice;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.Tensorsj;
import org.driftml.model.internal.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.driftml.model.spec.ComputeDevice;

/**
 * Generation with the model on the test device ({@link TestDevice}): every tensor it makes must be on the model's
 * device (a CPU one fails the op), the tokens and log-probs equal the CPU run's bit for bit (the same CPU kernels run
 * behind the device), and each decoded token reads the device once.
 */
@Tag("testdevice")
class SamplerOnDeviceTest {
    static Device device;

    @BeforeAll
    static void install() {
        device = Torch.device(ComputeDevice.TEST);
    }

    static List<Sampler.Generation> generate(String kind, Device on, Sampler.Settings settings) throws IOException {
        SamplerTest.Reference ref = SamplerTest.reference(kind);
        try (StepScope step = StepScope.open();
                Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float, on)) {
            assertTrue(decoder.lmHead().device().str().getString().equals(on.str().getString()));
            return new Sampler(decoder, 0).generate(ref.prompts(), settings);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"greedy", "sampling"})
    void generationOnTheDeviceEqualsTheCpuAndReadsOncePerToken(String mode) throws IOException {
        int tokens = 8;
        Sampler.Settings settings = mode.equals("greedy") ? Sampler.Settings.greedy(tokens, Set.of())
                : Sampler.Settings.sampling(0.7, 0.9, tokens, Set.of(), 1234);
        List<Sampler.Generation> cpu = generate("qwen2", Torch.device(ComputeDevice.CPU), settings);
        TestDevice.resetHostReads();
        List<Sampler.Generation> onDevice = generate("qwen2", device, settings);
        long reads = TestDevice.hostReads();
        for (int r = 0; r < cpu.size(); r++) {
            assertArrayEquals(cpu.get(r).outputIds(), onDevice.get(r).outputIds(), mode + " row " + r);
            assertArrayEquals(cpu.get(r).logprobs(), onDevice.get(r).logprobs(), mode + " row " + r);
        }
        // The fixture's two prompts differ in length: left padding, so the masked path runs too.
        assertTrue(SamplerTest.reference("qwen2").prompts().get(0).length
                != SamplerTest.reference("qwen2").prompts().get(1).length);
        assertEquals(tokens, reads, "one host read per decoded token (the stop check), none elsewhere");
    }

    /** Weights reach the device through pinned host memory, one staging block per weight, and arrive unchanged. */
    @ParameterizedTest
    @ValueSource(strings = {"Float", "BFloat16"})
    void loadingOntoTheDeviceGoesThroughPinnedMemory(String dtypeName) throws IOException {
        ScalarType dtype = ScalarType.valueOf(dtypeName);
        try (StepScope step = StepScope.open();
                Decoder cpu = Decoder.load(ParityFixtures.folder("tiny-qwen2"), dtype);
                Decoder onDevice = Decoder.load(ParityFixtures.folder("tiny-qwen2"), dtype, device)) {
            long before = TestDevice.pinnedAllocations();
            try (Decoder again = Decoder.load(ParityFixtures.folder("tiny-qwen2"), dtype, device)) {
                assertEquals(again.weights().size(), TestDevice.pinnedAllocations() - before);
            }
            cpu.weights().forEach((name, w) -> {
                org.bytedeco.pytorch.Tensor d = onDevice.weights().get(name);
                assertTrue(d.device().is_privateuseone(), name);
                assertTrue(org.bytedeco.pytorch.global.torch.equal(w, d.cpu()), name);
            });
        }
    }

    /** The failure the device exists to catch: a CPU tensor handed to a model on the device. */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2"})
    void cpuIdsForAModelOnTheDeviceFail(String kind) throws IOException {
        try (StepScope step = StepScope.open();
                Decoder decoder = Decoder.load(ParityFixtures.folder("tiny-" + kind), ScalarType.Float, device)) {
            org.bytedeco.pytorch.Tensor cpuIds = Tensorsj.fromLongs(new long[] {5, 9, 13}).view(1, 3);
            assertFalse(cpuIds.device().is_privateuseone());
            RuntimeException e = assertThrows(RuntimeException.class, () -> decoder.hiddenStates(cpuIds, null, null));
            assertTrue(e.getMessage().contains("Expected all tensors to be on the same device"), e.getMessage());
        }
    }
}
