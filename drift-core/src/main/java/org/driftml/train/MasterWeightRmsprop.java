package org.driftml.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.LongArrayRefOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;

/**
 * RMSprop (torch's defaults: alpha 0.99, eps 1e-8, no momentum) over fp32 master weights. When the model computes in
 * bf16, its weights are bf16 copies: gradients are promoted, the fp32 masters are updated, and the copies refreshed.
 * Measured: pure-bf16 weights do not move at DRIFT's learning rates (an update of 5e-7 is far below bf16's
 * resolution), while fp32 masters keep learning.
 *
 * <p>Update, per weight w with gradient g: g += wd w; v = alpha v + (1 - alpha) g^2; w -= lr g / (sqrt(v) + eps).
 */
public final class MasterWeightRmsprop implements AutoCloseable {
    private static final double ALPHA = 0.99;
    private static final double EPS = 1e-8;
    /** Elements updated at once: 16M (64 MB of fp32 temporaries each). */
    private static final long SLICE = 16L << 20;

    private final List<String> names = new ArrayList<>();
    private final List<Tensor> compute = new ArrayList<>();
    private final List<Tensor> master = new ArrayList<>();
    private final List<Tensor> squareAvg = new ArrayList<>();
    private final double weightDecay;
    // Two reusable fp32 slices for the update's temporaries (a bf16 gradient widened, sqrt(v) + eps). Allocated
    // afresh per slice they were new mappings each time, which the kernel zeroes: measured 39% of a 0.5B bf16 step's
    // samples in clear_page_erms, much of it under these copies.
    private Tensor widened;
    private Tensor denominator;

    public MasterWeightRmsprop(Map<String, Tensor> weights, double weightDecay) {
        this(weights, Map.of(), weightDecay);
    }

    /**
     * As above, with fp32 masters given for reduced-precision weights (a stage that continues from a saved fp32
     * model keeps its full-precision values instead of restarting from the bf16 copies).
     */
    public MasterWeightRmsprop(Map<String, Tensor> weights, Map<String, Tensor> initialMasters, double weightDecay) {
        this.weightDecay = weightDecay;
        for (Map.Entry<String, Tensor> e : weights.entrySet()) {
            Tensor w = e.getValue();
            Tensor given = initialMasters.get(e.getKey());
            // A scope per weight: detach()'s handles share the source's storage and would keep it alive.
            try (StepScope scope = StepScope.open()) {
                Tensor m = w.scalar_type().value == ScalarType.Float.value ? w
                        : scope.keep((given != null ? given : w).detach().to(ScalarType.Float).clone());
                names.add(e.getKey());
                compute.add(w);
                master.add(m);
                squareAvg.add(scope.keep(torch.zeros_like(m)));
            }
        }
    }

    /** Frees the optimiser's own tensors: the squared-gradient averages and the masters of reduced-precision weights. */
    @Override
    public void close() {
        if (widened != null) {
            widened.close();
            denominator.close();
        }
        for (int i = 0; i < master.size(); i++) {
            if (master.get(i) != compute.get(i)) {
                master.get(i).close();
            }
            squareAvg.get(i).close();
        }
    }

    /** The fp32 master weights by name: what a checkpoint saves as the model. */
    public Map<String, Tensor> masters() {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            out.put(names.get(i), master.get(i));
        }
        return out;
    }

    /** Masters and squared-gradient averages, named {@code master.NAME} and {@code square_avg.NAME}. */
    public Map<String, Tensor> state() {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            out.put("master." + names.get(i), master.get(i));
            out.put("square_avg." + names.get(i), squareAvg.get(i));
        }
        return out;
    }

    /** Restores {@link #state()} and refreshes the compute weights from the restored masters. */
    public void load(Map<String, Tensor> state) {
        NoGradGuard noGrad = new NoGradGuard();
        try (StepScope scope = StepScope.open()) {
            for (int i = 0; i < names.size(); i++) {
                Tensor m = state.get("master." + names.get(i)), v = state.get("square_avg." + names.get(i));
                if (m == null || v == null) {
                    throw new IllegalArgumentException("optimizer state has no entry for " + names.get(i));
                }
                master.get(i).copy_(m);
                squareAvg.get(i).copy_(v);
                if (master.get(i) != compute.get(i)) {
                    compute.get(i).copy_(master.get(i));
                }
            }
        } finally {
            noGrad.close();
        }
    }

    /**
     * Global L2 norm of the current gradients, as TRL logs grad_norm (before clipping): torch's clip_grad_norm_, the
     * norm of the per-tensor fp32 norms. Each per-tensor norm reduces its gradient without an fp32 copy of it.
     */
    public double gradNorm() {
        try (StepScope scope = StepScope.open()) {
            TensorVector norms = new TensorVector();
            for (Tensor w : compute) {
                Tensor g = w.grad();
                if (g.defined()) {
                    norms.push_back(torch.linalg_vector_norm(g, new Scalar(2.0), new LongArrayRefOptional(), false,
                            new ScalarTypeOptional(ScalarType.Float)));
                }
            }
            return norms.empty() ? 0.0 : torch.linalg_vector_norm(torch.stack(norms)).item_double();
        }
    }

    /** Clips to {@code maxGradNorm} (if > 0), applies one update at {@code lr}, clears the gradients. */
    public void step(double lr, double maxGradNorm, double gradNorm) {
        double scale = maxGradNorm > 0 && gradNorm > maxGradNorm ? maxGradNorm / (gradNorm + 1e-6) : 1.0;
        NoGradGuard noGrad = new NoGradGuard();
        try {
            for (int i = 0; i < compute.size(); i++) {
                Tensor w = compute.get(i);
                try (StepScope scope = StepScope.open()) {
                    Tensor grad = w.grad();
                    if (!grad.defined()) {
                        continue;
                    }
                    // Slice by slice, each in its own scope: the temporaries (an fp32 gradient for bf16 weights,
                    // sqrt(v)) are at most one slice, not one weight. Qwen2.5-0.5B's tied embedding is 136M
                    // parameters: 1.1 GB of temporaries at once, against 2 x 64 MB per slice. Every operation is
                    // elementwise, so slicing changes no value.
                    Tensor wf = w.view(-1), gf = grad.reshape(-1), mf = master.get(i).view(-1);
                    Tensor vf = squareAvg.get(i).view(-1);
                    long n = wf.numel();
                    ensureScratch(Math.min(SLICE, n));
                    for (long start = 0; start < n; start += SLICE) {
                        long len = Math.min(SLICE, n - start);
                        try (StepScope slice = StepScope.open()) {
                            update(wf.narrow(0, start, len), gf.narrow(0, start, len), mf.narrow(0, start, len),
                                    vf.narrow(0, start, len), w != master.get(i), lr, scale);
                        }
                    }
                }
                w.mutable_grad().reset();
            }
        } finally {
            noGrad.close();
        }
    }

    private void ensureScratch(long elements) {
        if (widened == null || widened.numel() < elements) {
            if (widened != null) {
                widened.close();
                denominator.close();
            }
            try (StepScope scope = StepScope.open()) {
                widened = scope.keep(torch.empty(new long[] {elements}, new TensorOptions(ScalarType.Float),
                        new MemoryFormatOptional()));
                denominator = scope.keep(torch.empty(new long[] {elements}, new TensorOptions(ScalarType.Float),
                        new MemoryFormatOptional()));
            }
        }
    }

    /** One slice: g = scale grad (+ wd m); v = alpha v + (1 - alpha) g^2; m -= lr g / (sqrt(v) + eps); w = m. */
    private void update(Tensor w, Tensor grad, Tensor m, Tensor v, boolean separateMaster, double lr, double scale) {
        long len = grad.numel();
        // fp32 weights: the gradient itself, scaled in place (it is cleared after); bf16: widened into scratch.
        Tensor g = grad.scalar_type().value == ScalarType.Float.value ? grad
                : widened.narrow(0, 0, len).copy_(grad);
        if (scale != 1.0) {
            g.mul_(new Scalar(scale));
        }
        if (weightDecay != 0) {
            g.add_(m, new Scalar(weightDecay));
        }
        v.mul_(new Scalar(ALPHA)).addcmul_(g, g, new Scalar(1 - ALPHA));
        m.addcdiv_(g, torch.sqrt_out(denominator.narrow(0, 0, len), v).add_(new Scalar(EPS)), new Scalar(-lr));
        if (separateMaster) {
            w.copy_(m);  // refresh the bf16 compute copy
        }
    }
}
