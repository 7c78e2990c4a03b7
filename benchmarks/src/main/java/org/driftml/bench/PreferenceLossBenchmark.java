package org.driftml.bench;

import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.PreferenceLoss;
import org.driftml.kernels.StepScope;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The DPO loss and its backward from summed log-probs: drift's fused kernel against TRL's composition
 * (subtractions, scaling, logsigmoid, label smoothing, rewards; each an ATen op with its own tensor and autograd node).
 * Batch 4 is DRIFT's recipe; 4096 shows the per-element cost.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g"})
@State(Scope.Benchmark)
public class PreferenceLossBenchmark {
    @Param({"fused", "unfused"})
    public String path;

    @Param({"4", "4096"})
    public long batch;

    private Tensor pc, pr, rc, rr;

    @Setup
    public void setup() {
        NativeRuntime.load();
        torch.manual_seed(0);
        pc = torch.randn(batch).mul(new Scalar(20)).sub(new Scalar(150)).requires_grad_(true);
        pr = torch.randn(batch).mul(new Scalar(20)).sub(new Scalar(150)).requires_grad_(true);
        rc = torch.randn(batch).mul(new Scalar(20)).sub(new Scalar(150));
        rr = torch.randn(batch).mul(new Scalar(20)).sub(new Scalar(150));
    }

    @Benchmark
    public double lossAndBackward() {
        try (StepScope step = StepScope.open()) {
            Tensor loss;
            Tensor margin;
            if ("fused".equals(path)) {
                PreferenceLoss.Output out = PreferenceLoss.compute(pc, pr, rc, rr, 0.1, PreferenceLoss.Type.SIGMOID, 0.0);
                loss = out.loss().mean();
                margin = out.chosenRewards().sub(out.rejectedRewards()).mean();
            } else {
                Tensor logits = pc.sub(pr).sub(rc.sub(rr));
                loss = torch.log_sigmoid(logits.mul(new Scalar(0.1))).neg().mean();
                Tensor chosen = pc.sub(rc).detach().mul(new Scalar(0.1));
                Tensor rejected = pr.sub(rr).detach().mul(new Scalar(0.1));
                margin = chosen.sub(rejected).mean();
            }
            loss.backward();
            pc.mutable_grad().reset();
            pr.mutable_grad().reset();
            return loss.item_double() + margin.item_double();
        }
    }
}
