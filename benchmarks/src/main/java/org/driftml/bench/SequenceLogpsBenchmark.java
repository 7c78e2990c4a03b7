package org.driftml.bench;

import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.SequenceLogps;
import org.driftml.kernels.StepScope;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Summed completion log-probs from hidden states: drift's tiled op against the unfused composition
 * (lm-head matmul to full [N, T, V] logits, log_softmax, gather, masked sum), as a training step runs it (forward
 * and backward to hidden and weight, {@code train}) and as reference scoring runs it (forward only, {@code score}).
 *
 * <p>The target shape: N=8, T=512, V=151,936 (Qwen2), D=896 (Qwen2.5-0.5B), fp32. {@code promptTokens} of
 * each sequence are not scored, as in DPO; the unfused path computes their logits anyway, as TRL does.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@State(Scope.Benchmark)
public class SequenceLogpsBenchmark {
    @Param({"fused", "unfused"})
    public String path;

    @Param({"train", "score"})
    public String pass;

    @Param({"8"})
    public long sequences;

    @Param({"512"})
    public long tokens;

    @Param({"151936"})
    public long vocab;

    @Param({"896"})
    public long hidden;

    @Param({"0", "128"})
    public long promptTokens;

    @Param({"float32"})
    public String dtype;

    /** Tile of the fused path: scored tokens per block. */
    @Param({"4096"})
    public long rowBlock;

    /** Tile of the fused path: vocabulary entries per block. */
    @Param({"4096"})
    public long vocabBlock;

    private Tensor hiddenStates;
    private Tensor weight;
    private Tensor targets;
    private Tensor mask;

    @Setup(Level.Trial)
    public void setup() {
        NativeRuntime.load();
        torch.manual_seed(0);
        ScalarType type = "bfloat16".equals(dtype) ? ScalarType.BFloat16 : ScalarType.Float;
        hiddenStates = torch.randn(sequences, tokens, hidden).to(type);
        weight = torch.randn(vocab, hidden).mul(new Scalar(0.02)).to(type);
        targets = torch.randint(0, vocab, new long[] {sequences, tokens});
        mask = torch.arange(new Scalar(tokens)).ge(new Scalar(promptTokens)).unsqueeze(0)
                .expand(sequences, tokens).contiguous();
        if ("train".equals(pass)) {
            hiddenStates.requires_grad_(true);
            weight.requires_grad_(true);
        }
    }

    @Setup(Level.Invocation)
    public void clearGradients() {
        if ("train".equals(pass)) {
            // set_to_none, as PyTorch's zero_grad does by default: each step allocates its gradients afresh.
            hiddenStates.mutable_grad().reset();
            weight.mutable_grad().reset();
        }
    }

    @Benchmark
    public double logps(PeakMemory memory) {
        memory.start();
        double result;
        try (StepScope step = StepScope.open()) {
            Tensor logps = "fused".equals(path)
                    ? SequenceLogps.compute(hiddenStates, weight, targets, mask, rowBlock, vocabBlock).logps()
                    : unfused();
            if ("train".equals(pass)) {
                logps.sum().backward();
            }
            result = logps.sum().item_double();
        }
        memory.stop();
        return result;
    }

    private Tensor unfused() {
        Tensor logits = hiddenStates.matmul(weight.t());
        Tensor tokenLogp = logits.log_softmax(-1).gather(2, targets.unsqueeze(2), false).squeeze(2);
        return tokenLogp.mul(mask.to(tokenLogp.scalar_type())).sum(1);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        hiddenStates.close();
        weight.close();
    }
}
