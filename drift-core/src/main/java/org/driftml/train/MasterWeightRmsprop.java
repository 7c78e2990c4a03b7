package org.driftml.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
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
import org.driftml.kernels.RmspropStep;
import org.driftml.kernels.SplitMaster;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.MadeWhenRead;
import org.driftml.parallel.ProcessGroup;

/**
 * RMSprop (torch's defaults: alpha 0.99, eps 1e-8, no momentum) over fp32 master weights. When the model computes in
 * bf16, its weights are bf16 copies: gradients are promoted, the fp32 masters are updated, and the copies refreshed.
 * Measured: pure-bf16 weights do not move at DRIFT's learning rates (an update of 5e-7 is far below bf16's
 * resolution), while fp32 masters keep learning.
 *
 * <p>A bf16 weight's master is held split ({@link SplitMaster}): the weight itself is its high half and a 16-bit
 * residual the low half, exactly. That is 4 bytes per parameter for weight and master instead of 6 (0.99 GB at
 * Qwen2.5-0.5B's geometry); {@link #masters()} joins them into fp32 tensors one at a time, when read.
 *
 * <p>Update, per weight w with gradient g: g += wd w; v = alpha v + (1 - alpha) g^2; w -= lr g / (sqrt(v) + eps).
 */
final class MasterWeightRmsprop implements Optimizer {
    static final double ALPHA = 0.99;
    static final double EPS = 1e-8;
    static final long NORM_CHUNK = 1L << 22;  // elements per fp32 partial norm of a bf16 gradient

    private final List<String> names = new ArrayList<>();
    private final List<Tensor> compute = new ArrayList<>();
    private final List<Tensor> master = new ArrayList<>();  // the weight itself (fp32), a residual (bf16) or fp32
    private final List<Tensor> squareAvg = new ArrayList<>();
    private final double weightDecay;
    private final GradientBuffer gradients;
    private final List<Tensor> handedOver = new ArrayList<>();  // weights whose gradient autograd hands over
    private final List<Integer> bucketLayers = new ArrayList<>();  // the decoder layer of each gradient buffer
    private int madeIndex = -1;  // the weight whose gradient this step is made a range at a time, or -1
    private LmHeadGradient made;
    private ReplicatedGradients ranks;  // a replicated data-parallel run's all-reduce; else null

    public MasterWeightRmsprop(Map<String, Tensor> weights, double weightDecay) {
        this(weights, Map.of(), weightDecay);
    }

    /**
     * As above, with fp32 masters given for reduced-precision weights (a stage that continues from a saved fp32
     * model keeps its full-precision values instead of restarting from the bf16 copies).
     */
    public MasterWeightRmsprop(Map<String, Tensor> weights, Map<String, Tensor> initialMasters, double weightDecay) {
        this(weights, initialMasters, weightDecay, Set.of());
    }

    /**
     * As above, with the gradients of {@code bufferedGradients} in a {@link GradientBuffer}, kept and zeroed from
     * step to step; the others are handed over by autograd and freed by each update. The buffer suits checkpointed
     * training, whose peak is the state and every gradient anyway: at Qwen2.5-0.5B's geometry it took 280 MB of
     * malloc's slack off the peak. Without checkpointing, freed gradients leave their memory to the next forward's
     * activations: kept, they raised the small preset's peak by 5% (benchmarks/dpo-vs-trl.sh, 1,119 -> 1,176 MB in
     * bf16). The lm-head's gradient is best left out either way: the fused log-prob op writes it whole, and added
     * into a buffer it is a transient of its size (260 MB at that geometry).
     */
    public MasterWeightRmsprop(Map<String, Tensor> weights, Map<String, Tensor> initialMasters, double weightDecay,
            Set<String> bufferedGradients) {
        this.weightDecay = weightDecay;
        NoGradGuard noGrad = new NoGradGuard();
        try {
            for (Map.Entry<String, Tensor> e : weights.entrySet()) {
                Tensor w = e.getValue();
                // A scope per weight: detach()'s handles share the source's storage and would keep it alive, and a
                // given master read when asked for (Decoder.weightsWhenRead) goes as soon as it is split.
                try (StepScope scope = StepScope.open()) {
                    boolean fp32 = w.scalar_type().value == ScalarType.Float.value;  // its own master
                    Tensor given = fp32 ? null : initialMasters.get(e.getKey());
                    Tensor m;
                    if (fp32) {
                        m = w;
                    } else if (w.scalar_type().value == ScalarType.BFloat16.value) {
                        if (given != null) {  // split where the given master is (a CPU copy, say), kept on w's device
                            Tensor[] halves = SplitMaster.split(given.detach().to(ScalarType.Float).contiguous());
                            w.copy_(halves[0]);
                            m = scope.keep(halves[1].to(w.device(), ScalarType.Short));
                        } else {
                            m = scope.keep(torch.zeros_like(w, new TensorOptions(ScalarType.Short),
                                    new MemoryFormatOptional()));  // the master is the bf16 weight, exactly
                        }
                    } else {
                        m = scope.keep((given != null ? given : w).detach()
                                .to(w.device(), ScalarType.Float, false, true, new MemoryFormatOptional()));
                    }
                    names.add(e.getKey());
                    compute.add(w);
                    master.add(m);
                    squareAvg.add(scope.keep(torch.zeros_like(w, new TensorOptions(ScalarType.Float),
                            new MemoryFormatOptional())));
                }
            }
            // One buffer per decoder layer (and per run of weights outside the layers): a data-parallel step
            // all-reduces each layer's as soon as the checkpointed backward has finished it.
            List<List<Tensor>> buckets = new ArrayList<>();
            int lastLayer = Integer.MIN_VALUE;
            for (int i = 0; i < names.size(); i++) {
                if (!bufferedGradients.contains(names.get(i))) {
                    handedOver.add(compute.get(i));
                    continue;
                }
                int layer = ShardLayout.layerOf(names.get(i));
                if (buckets.isEmpty() || layer != lastLayer
                        || compute.get(i).scalar_type().value != buckets.get(buckets.size() - 1).get(0)
                                .scalar_type().value) {
                    buckets.add(new ArrayList<>());
                    bucketLayers.add(layer);
                }
                buckets.get(buckets.size() - 1).add(compute.get(i));
                lastLayer = layer;
            }
            gradients = new GradientBuffer(buckets, null);
        } finally {
            noGrad.close();
        }
    }

    /**
     * Frees the optimiser's own tensors: the gradients, the squared-gradient averages and the masters of
     * reduced-precision weights.
     */
    @Override
    public void close() {
        gradients.close();
        handedOver.forEach(w -> w.mutable_grad().reset());
        for (int i = 0; i < master.size(); i++) {
            if (master.get(i) != compute.get(i)) {
                master.get(i).close();
            }
            squareAvg.get(i).close();
        }
    }

    /**
     * The fp32 master weights by name: what a checkpoint saves as the model. An fp32 weight is its own master; a
     * bf16 weight's master is joined from its halves each time it is read, a new tensor owned by the caller's scope,
     * so a writer that takes one tensor at a time never holds an fp32 copy of the whole model.
     */
    public Map<String, Tensor> masters() {
        Map<String, Supplier<Tensor>> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            int at = i;
            out.put(names.get(i), () -> master(at));
        }
        return new MadeWhenRead(out);
    }

    /**
     * The masters rounded to {@code dtype} as each is read (one tensor at a time, in the reader's scope): a final
     * model in the dtype its config declares, while checkpoints keep the fp32 masters.
     */
    public Map<String, Tensor> masters(ScalarType dtype) {
        if (dtype.value == ScalarType.Float.value) {
            return masters();
        }
        Map<String, Supplier<Tensor>> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            int at = i;
            out.put(names.get(i), () -> master(at).to(dtype));
        }
        return new MadeWhenRead(out);
    }

    /** Masters and squared-gradient averages, named {@code master.NAME} and {@code square_avg.NAME}; as masters(). */
    public Map<String, Tensor> state() {
        Map<String, Supplier<Tensor>> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            int at = i;
            out.put("master." + names.get(i), () -> master(at));
            out.put("square_avg." + names.get(i), () -> squareAvg.get(at));
        }
        return new MadeWhenRead(out);
    }

    /** Weight i's fp32 master: the weight itself, one joined from its split halves, or the fp32 copy held. */
    private Tensor master(int i) {
        Tensor m = master.get(i);
        return m.scalar_type().value == ScalarType.Short.value ? SplitMaster.join(compute.get(i), m) : m;
    }

    /**
     * The squared-gradient averages alone, named {@code square_avg.NAME}: what a checkpoint stores beside its model
     * folder, whose weights are the masters (storing them here too held every master twice).
     */
    public Map<String, Tensor> squareAverages() {
        Map<String, Supplier<Tensor>> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            int at = i;
            out.put("square_avg." + names.get(i), () -> squareAvg.get(at));
        }
        return new MadeWhenRead(out);
    }

    /** The names of the weights this optimiser updates, in order. */
    public java.util.List<String> names() {
        return java.util.List.copyOf(names);
    }

    /** Bytes of state beyond the weights: squared averages and the masters of reduced-precision weights. */
    @Override
    public long stateBytes() {
        long n = 0;
        for (int i = 0; i < compute.size(); i++) {
            n += squareAvg.get(i).nbytes() + (master.get(i) != compute.get(i) ? master.get(i).nbytes() : 0);
        }
        return n;
    }

    /** Bytes of the gradients at an update: one per weight, of its size and dtype. */
    @Override
    public long gradientBytes() {
        return compute.stream().mapToLong(Tensor::nbytes).sum();
    }

    /** The number of elements of weight i (of {@link #names()}). */
    long numel(int i) {
        return compute.get(i).numel();
    }

    /** Restores {@link #state()} and refreshes the compute weights from the restored masters. */
    public void load(Map<String, Tensor> state) {
        NoGradGuard noGrad = new NoGradGuard();
        try {
            for (int i = 0; i < names.size(); i++) {
                try (StepScope scope = StepScope.open()) {
                    Tensor m = state.get("master." + names.get(i)), v = state.get("square_avg." + names.get(i));
                    if (m == null || v == null) {
                        throw new IllegalArgumentException("optimizer state has no entry for " + names.get(i));
                    }
                    Tensor w = compute.get(i), own = master.get(i);
                    m = m.reshape(w.sizes());  // pieces are read back flat (StatePieces)
                    v = v.reshape(w.sizes());
                    if (own == w) {
                        w.copy_(m);
                    } else if (own.scalar_type().value == ScalarType.Short.value) {
                        Tensor[] halves = SplitMaster.split(m.to(ScalarType.Float).contiguous());
                        w.copy_(halves[0]);
                        own.copy_(halves[1]);
                    } else {
                        own.copy_(m);
                        w.copy_(own);
                    }
                    squareAvg.get(i).copy_(v);
                }
            }
        } finally {
            noGrad.close();
        }
    }


    /**
     * Global L2 norm of the current gradients, as TRL logs grad_norm (before clipping): torch's clip_grad_norm_, the
     * norm of the per-tensor fp32 norms. A bf16 gradient is reduced in chunks of {@value #NORM_CHUNK} elements:
     * {@code linalg_vector_norm} with an fp32 result widens its whole input first, which for the tied [151,936, 896]
     * embedding was a 520 MB transient and the peak of the step (measured at Qwen2.5-0.5B's geometry).
     */
    @Override
    public double gradNorm() {
        try (StepScope scope = StepScope.open()) {
            TensorVector norms = new TensorVector();
            for (int i = 0; i < compute.size(); i++) {
                Tensor g = compute.get(i).grad();
                if (i == madeIndex && !made.isEmpty()) {
                    norms.push_back(made.norm());
                } else if (g.defined()) {
                    norms.push_back(norm(g));
                }
            }
            return norms.empty() ? 0.0 : torch.linalg_vector_norm(torch.stack(norms)).item_double();
        }
    }

    /** The L2 norm of {@code g} as an fp32 scalar tensor, a bf16 one reduced in chunks (see gradNorm). */
    static Tensor norm(Tensor g) {
        if (g.scalar_type().value == ScalarType.Float.value || g.numel() <= NORM_CHUNK) {
            return fp32Norm(g);
        }
        TensorVector chunks = g.reshape(-1).split(NORM_CHUNK);
        TensorVector parts = new TensorVector();
        for (long c = 0; c < chunks.size(); c++) {
            parts.push_back(fp32Norm(chunks.get(c)));
        }
        return torch.linalg_vector_norm(torch.stack(parts));
    }

    static Tensor fp32Norm(Tensor t) {
        return torch.linalg_vector_norm(t, new Scalar(2.0), new LongArrayRefOptional(), false,
                new ScalarTypeOptional(ScalarType.Float));
    }

    /** Every rank of {@code ranks} holds this state whole; their gradients are summed before each update. */
    MasterWeightRmsprop across(ProcessGroup group) {
        this.ranks = new ReplicatedGradients(gradients.buffers(), bucketLayers, handedOver, group);
        return this;
    }

    // The stage-0 data-parallel overlap: a layer's all-reduce starts in the last micro-batch, while the layers
    // below are recomputed.
    @Override
    public void layerDone(int layer, boolean last) {
        if (ranks != null && last) {
            ranks.layerStart(layer);
        }
    }

    @Override
    public void microBatchDone() {}

    @Override
    public void backwardsDone(int mine, int most) {
        if (ranks != null) {
            ranks.layersStart();
        }
    }

    @Override
    public double gradientsSummed() {
        if (ranks == null) {
            return 0;
        }
        long t0 = System.nanoTime();
        ranks.sumAll();
        return (System.nanoTime() - t0) / 1e9;
    }

    @Override
    public double gatherSeconds() {
        return Double.NaN;
    }

    @Override
    public void checkpoint(java.nio.file.Path output, int step, org.driftml.model.internal.Decoder policy, long seed,
            boolean writes) throws java.io.IOException {
        if (writes) {
            TrainingCheckpoint.save(output, step, policy, this, seed);
        }
    }

    @Override
    public int restore(TrainingCheckpoint.Restored from) throws java.io.IOException {
        return TrainingCheckpoint.restore(from, this);
    }

    @Override
    public void saveModel(org.driftml.model.internal.Decoder policy, java.nio.file.Path to, ScalarType dtype,
            java.nio.file.Path tokenizerFrom) throws java.io.IOException {
        policy.save(to, masters(dtype), 2L << 30);
        org.driftml.model.Policy.copyTokenizerFiles(tokenizerFrom, to);
    }

    /** Clips to {@code maxGradNorm} (if > 0), applies one update at {@code lr}, clears the gradients (zeroes them). */
    @Override
    public void step(double lr, double maxGradNorm, double gradNorm) {
        double scale = maxGradNorm > 0 && gradNorm > maxGradNorm ? maxGradNorm / (gradNorm + 1e-6) : 1.0;
        NoGradGuard noGrad = new NoGradGuard();
        try {
            for (int i = 0; i < compute.size(); i++) {
                Tensor w = compute.get(i);
                try (StepScope scope = StepScope.open()) {
                    if (i == madeIndex) {
                        stepByRanges(i, lr, scale);
                        continue;
                    }
                    Tensor grad = w.grad();
                    if (!grad.defined()) {
                        continue;
                    }
                    // One pass per weight, no temporaries (RmspropStep): the ATen sequence made ~9 passes and two
                    // fp32 copies of each weight.
                    RmspropStep.apply(w, grad.contiguous(), master.get(i), squareAvg.get(i), lr, scale, ALPHA, EPS,
                            weightDecay);
                }
            }
            handedOver.forEach(w -> w.mutable_grad().reset());  // the next backward hands others over
            gradients.zero();
        } finally {
            madeIndex = -1;
            made = null;
            noGrad.close();
        }
    }

    /**
     * Weight {@code name}'s gradient for the coming step (its norm and its update) is made by {@code gradient} a
     * range at a time; the caller closes it after {@link #step}. Its backward must have left the weight no
     * gradient of its own. For bf16 weights, whose gradients' norms are reduced in chunks; an fp32 gradient's norm
     * is one reduction over the whole tensor, as torch's clip_grad_norm_ takes it.
     */
    void gradientMadeBy(String name, LmHeadGradient gradient) {
        int i = names.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("the optimiser does not update " + name);
        }
        if (!canMakeGradient(compute.get(i))) {
            throw new IllegalArgumentException(name + " is " + compute.get(i).scalar_type()
                    + ": a gradient made a range at a time needs a bf16 weight");
        }
        madeIndex = i;
        made = gradient;
    }

    /** Whether {@link #gradientMadeBy} takes {@code weight}: a bf16 one. */
    static boolean canMakeGradient(Tensor weight) {
        return weight.scalar_type().value == ScalarType.BFloat16.value;
    }

    /** Weight i's update from its made gradient, range by range: the update is elementwise, so the same bits. */
    private void stepByRanges(int i, double lr, double scale) {
        if (made.isEmpty()) {
            return;  // no gradient this step: skipped, as an undefined one is
        }
        Tensor w = compute.get(i), m = master.get(i), v = squareAvg.get(i);
        long rows = w.size(0), step = made.rangeRows();
        for (long start = 0; start < rows; start += step) {
            try (StepScope range = StepScope.open()) {
                long n = Math.min(step, rows - start);
                Tensor wr = w.narrow(0, start, n);
                RmspropStep.apply(wr, made.rows(start, n), m == w ? wr : m.narrow(0, start, n), v.narrow(0, start, n),
                        lr, scale, ALPHA, EPS, weightDecay);
            }
        }
    }
}
