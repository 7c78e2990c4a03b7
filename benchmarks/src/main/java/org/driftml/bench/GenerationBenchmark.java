package org.driftml.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.StepScope;
import org.driftml.model.Sampler;
import org.driftml.model.Policy;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Generation on a random Qwen2 of shared/bench's small preset, fp32: prefill of a 512-token prompt, and greedy decoding
 * of 256 new tokens after a 32-token prompt, with the KV cache ({@link Sampler}) and by recomputing the whole sequence
 * at every step. Tokens/s = batch x tokens / time.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@State(Scope.Benchmark)
public class GenerationBenchmark {
    @Param({"1", "8"})
    public int batch;

    @Param({"cache", "recompute"})
    public String decoding;

    @Param({"256"})
    public int newTokens;

    private Policy policy;
    private List<long[]> prompts;
    private List<long[]> longPrompts;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        NativeRuntime.load();
        Path dir = Files.createTempDirectory("drift-bench-qwen2");
        policy = Policy.loadWeights(RandomQwen2.write(dir, 0), Precision.FP32, ComputeDevice.CPU);
        torch.manual_seed(1);
        prompts = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            long[] p = new long[32];
            for (int j = 0; j < p.length; j++) {
                p[j] = 3 + (i * 131 + j * 17) % 31000;
            }
            prompts.add(p);
        }
        Tensor longPrompt = torch.randint(3, 32000, new long[] {batch, 512});
        longPrompts = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            long[] row = new long[512];
            for (int j = 0; j < row.length; j++) {
                row[j] = longPrompt.get(i).get(j).item_long();
            }
            longPrompts.add(row);
        }
    }

    /** Prefill: one forward over a [batch, 512] prompt filling the cache, and the first token it gives. */
    @Benchmark
    public long prefill512() {
        try (StepScope step = StepScope.open()) {
            return policy.generateIds(longPrompts, Sampler.Settings.greedy(1, Set.of())).get(0).outputIds().length;
        }
    }

    /** Decode: 256 greedy tokens after a 32-token prompt. */
    @Benchmark
    public long decode() {
        try (StepScope step = StepScope.open()) {
            if ("cache".equals(decoding)) {
                return policy.generateIds(prompts, Sampler.Settings.greedy(newTokens, Set.of()))
                        .get(0).outputIds().length;
            }
            return recompute();
        }
    }

    /** The baseline: every step runs the whole sequence through the model again (a scope per step, as Sampler). */
    private long recompute() {
        long[] flat = new long[batch * 32];
        for (int i = 0; i < batch; i++) {
            System.arraycopy(prompts.get(i), 0, flat, i * 32, 32);
        }
        try (StepScope generation = StepScope.open()) {
            Tensor ids = torch.tensor(flat).view(batch, 32);
            for (int s = 0; s < newTokens; s++) {
                try (StepScope token = StepScope.open()) {
                    Tensor hidden = policy.decoder().hiddenStates(ids, null, null);  // no padding
                    Tensor last = policy.decoder().logits(hidden.narrow(1, hidden.size(1) - 1, 1)).squeeze(1);
                    Tensor next = last.argmax(new LongOptional(-1), true);
                    ids = token.moveTo(generation, torch.cat(new TensorVector(ids, next), 1));
                }
            }
            return ids.size(1);
        }
    }
}
