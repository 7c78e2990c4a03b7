package org.driftml.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.LongArrayRefOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.RmspropStep;
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

    private final List<String> names = new ArrayList<>();
    private final List<Tensor> compute = new ArrayList<>();
    private final List<Tensor> master = new ArrayList<>();
    private final List<Tensor> squareAvg = new ArrayList<>();
    private final double weightDecay;

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
                    // One pass per weight, no temporaries (RmspropStep): the ATen sequence made ~9 passes and two
                    // fp32 copies of each weight.
                    RmspropStep.apply(w, grad.contiguous(), master.get(i), squareAvg.get(i), lr, scale, ALPHA, EPS,
                            weightDecay);
                }
                w.mutable_grad().reset();
            }
        } finally {
            noGrad.close();
        }
    }
}
