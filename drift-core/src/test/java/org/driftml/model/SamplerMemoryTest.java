package org.driftml.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeHeap;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long generation holds what its KV cache needs and not much more. The C heap in use is sampled every
 * millisecond while the tiny model generates 3,000 tokens: its peak above the start must stay near the cache's
 * 1.5 MB (2 layers x keys and values x 2 heads x 16 dims x 4 bytes x 3,002 positions), far below what keeping a new
 * [1, T] ids tensor and mask per token costs (8 + 8 bytes x T^2 / 2 = 72 MB at T = 3,000).
 */
class SamplerMemoryTest {
    @Test
    void aLongGenerationHoldsItsCacheAndNotEveryStepsTensors(@TempDir Path dir) throws Exception {
        Path model = Files.createDirectories(dir.resolve("model"));
        try (var files = Files.list(ParityFixtures.folder("tiny-qwen2-chat"))) {
            for (Path f : files.toList()) {
                Files.copy(f, model.resolve(f.getFileName()));
            }
        }
        Files.writeString(model.resolve("config.json"), Files.readString(model.resolve("config.json"))
                .replace("\"max_position_embeddings\": 128", "\"max_position_embeddings\": 4096"));
        try (StepScope scope = StepScope.open(); Decoder decoder = Decoder.load(model, ScalarType.Float)) {
            Sampler sampler = new Sampler(decoder, 256);
            Sampler.Settings greedy = Sampler.Settings.greedy(3_000, Set.of());
            sampler.generate(List.of(new long[] {257, 85}), Sampler.Settings.greedy(8, Set.of()));  // warm up
            long before = NativeHeap.bytesInUse();
            AtomicLong peak = new AtomicLong(before);
            AtomicBoolean running = new AtomicBoolean(true);
            Thread sampling = new Thread(() -> {
                while (running.get()) {
                    peak.accumulateAndGet(NativeHeap.bytesInUse(), Math::max);
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            sampling.start();
            Sampler.Generation g = sampler.generate(List.of(new long[] {257, 85}), greedy).get(0);
            running.set(false);
            sampling.join();
            assertEquals(3_000, g.outputIds().length);
            long grown = peak.get() - before;
            assertTrue(grown < 16L << 20, "the heap grew " + (grown >> 10) + " KiB during 3,000 tokens");
        }
    }
}
