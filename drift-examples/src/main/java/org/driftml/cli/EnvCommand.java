package org.driftml.cli;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.PreferenceLoss;
import org.driftml.kernels.SequenceLogps;
import org.driftml.kernels.VectorIsa;
import org.driftml.kernels.StepScope;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code drift env}: what this host gives drift. The first thing to run on a new machine, and what to paste into
 * a bug report.
 */
@Command(name = "env", mixinStandardHelpOptions = true,
        description = {"Report the native runtime: LibTorch version, threads, the environment defaults drift applied,",
                "CUDA, and a self-check of the fused ops (DPO loss with policy = reference must be ln 2)."})
final class EnvCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        NativeRuntime.load();
        out.printf("LibTorch              %s (org.bytedeco:pytorch)%n", NativeRuntime.libtorchVersion());
        out.printf("threads               %d intra-op%n", NativeRuntime.threads());
        out.printf("vector loops          %s (log-prob tiles, RMSprop)%n", VectorIsa.current());
        String path = SequenceLogps.bf16GemmPath(), best = SequenceLogps.bf16GemmBestPath();
        out.printf("bf16 GEMMs            %s%s%n", path, path.equals(best) ? " (this CPU's best)"
                : " (DRIFT_BF16_GEMM; this CPU's best: " + best + ")");
        for (Map.Entry<String, String> e : NativeRuntime.effectiveEnvironment().entrySet()) {
            out.printf("%-21s %s%n", e.getKey(), e.getValue());
        }
        out.printf("CUDA                  %s%n", torch.cuda_is_available()
                ? torch.cuda_device_count() + " device(s)" : "not available (CPU build or no driver)");
        double loss;
        try (StepScope step = StepScope.open()) {
            Tensor logps = torch.randn(4);
            loss = PreferenceLoss.dpo(logps, logps.flip(0), logps, logps.flip(0), 0.1).loss().mean().item_double();
        }
        boolean ok = Math.abs(loss - Math.log(2)) < 1e-6;
        out.printf("fused ops             %s (DPO loss at policy = reference: %.6f, expected ln 2 = %.6f)%n",
                ok ? "ok" : "WRONG", loss, Math.log(2));
        out.flush();
        return ok ? 0 : 1;
    }
}
