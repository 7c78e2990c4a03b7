package org.driftml.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.RmspropStep;
import org.driftml.kernels.SplitMaster;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.MadeWhenRead;
import org.driftml.model.internal.SafetensorsWriter;
import org.driftml.model.internal.Tensorsj;
import org.driftml.parallel.ProcessGroup;

/**
 * {@link MasterWeightRmsprop}'s update with its state sharded over the ranks of a process group (ZeRO, Rajbhandari
 * et al. 2020): each rank holds the fp32 masters and squared-gradient averages of its slice of every bucket
 * ({@link ShardLayout}), the gradients are reduce-scattered so that each rank receives the summed gradient of its
 * slice, each rank updates its slice, and the updated compute weights are all-gathered so that every rank again
 * holds the whole model.
 *
 * <p>Stage 1 keeps every gradient (a padded buffer per bucket, reduce-scattered once per optimiser step); stage 2
 * keeps only this rank's slice of them, accumulating into it after every micro-batch (a bucket is reduce-scattered,
 * and its full gradients freed, as soon as the backward has finished it: under activation checkpointing after each
 * layer, otherwise after the whole backward).
 *
 * <p>The arithmetic per element is MasterWeightRmsprop's (the same native update), and the all-reduce's sum is the
 * reduce-scatter's, so a sharded run equals an unsharded one up to the order of sums: the gradient norm is summed
 * from slices instead of weights.
 */
final class ShardedRmsprop implements Optimizer {
    private final List<String> names = new ArrayList<>();
    private final List<Tensor> compute = new ArrayList<>();
    private final ShardLayout layout;
    private final ProcessGroup group;
    private final int stage;
    private final double weightDecay;
    private final boolean split;  // bf16 weights: the masters are the weights plus residuals (SplitMaster)
    private final List<Tensor> residual = new ArrayList<>();  // per bucket, this rank's slice (split only)
    private final List<Tensor> squareAvg = new ArrayList<>();  // per bucket, this rank's slice
    private final List<Tensor> gradSlice = new ArrayList<>();  // per bucket, this rank's slice of the summed gradient
    private final ShardedGradients gradients;  // how the gradients reach the slices
    private long gatherNanos;  // time in the all-gathers of updated weights, since last taken

    /**
     * @param weights        the weights to train, by name, all of one dtype (fp32 or bf16) and device
     * @param initialMasters fp32 masters by name for bf16 weights (as MasterWeightRmsprop)
     * @param weightDecay    decoupled as torch's RMSprop: added to the gradient
     * @param stage          1 or 2
     * @param group          the ranks the state is sharded over
     */
    ShardedRmsprop(Map<String, Tensor> weights, Map<String, Tensor> initialMasters, double weightDecay, int stage,
            ProcessGroup group) {
        if (stage != 1 && stage != 2) {
            throw new IllegalArgumentException("ZeRO stage must be 1 or 2 here, got " + stage);
        }
        this.stage = stage;
        this.group = group;
        this.weightDecay = weightDecay;
        weights.forEach((n, w) -> {
            names.add(n);
            compute.add(w);
        });
        long[] numels = compute.stream().mapToLong(Tensor::numel).toArray();
        this.layout = new ShardLayout(names, numels, group.rank(), group.worldSize());
        ScalarType dtype = compute.get(0).scalar_type();
        for (int i = 0; i < compute.size(); i++) {
            if (compute.get(i).scalar_type().value != dtype.value) {
                throw new IllegalArgumentException("ZeRO needs the trained weights in one dtype: " + names.get(i)
                        + " is " + compute.get(i).scalar_type() + ", " + names.get(0) + " " + dtype);
            }
        }
        this.split = dtype.value == ScalarType.BFloat16.value;
        if (!split && dtype.value != ScalarType.Float.value) {
            throw new IllegalArgumentException("ZeRO trains fp32 or bf16 weights, not " + dtype);
        }
        Tensor first = compute.get(0);
        List<List<Tensor>> groups = new ArrayList<>();
        long[] padded = new long[layout.buckets().size()];
        NoGradGuard noGrad = new NoGradGuard();
        try (StepScope scope = StepScope.open()) {
            for (int b = 0; b < layout.buckets().size(); b++) {
                ShardLayout.Bucket bucket = layout.buckets().get(b);
                squareAvg.add(scope.keep(zeros(bucket.slice(), ScalarType.Float, first)));
                gradSlice.add(scope.keep(zeros(bucket.slice(), dtype, first)));
                residual.add(split ? scope.keep(zeros(bucket.slice(), ScalarType.Short, first)) : null);
                groups.add(bucket.weights().stream().map(compute::get).toList());
                padded[b] = bucket.padded(group.worldSize());
            }
            if (split && !initialMasters.isEmpty()) {
                for (int i = 0; i < names.size(); i++) {
                    try (StepScope one = StepScope.open()) {  // a master read when asked for goes with its scope
                        Tensor given = initialMasters.get(names.get(i));
                        if (given != null) {
                            setMaster(i, given);
                        }
                    }
                }
            }
        } finally {
            noGrad.close();
        }
        this.gradients = new ShardedGradients(stage, layout, group, compute, gradSlice,
                stage == 1 ? new GradientBuffer(groups, padded) : null);
    }

    private static Tensor zeros(long n, ScalarType dtype, Tensor like) {
        return torch.zeros(new long[] {n}, Tensorsj.options(dtype, like.device()));
    }

    /** Weight i's master set from an fp32 tensor: every rank's whole compute weight, this rank's residual pieces. */
    private void setMaster(int i, Tensor master) {
        Tensor w = compute.get(i);
        Tensor m = master.detach().to(ScalarType.Float).contiguous();
        if (!split) {
            w.copy_(m);
            return;
        }
        Tensor[] halves = SplitMaster.split(m);
        w.copy_(halves[0]);
        Tensor low = halves[1].reshape(-1).to(w.device(), ScalarType.Short);
        forPieces(i, (b, p) -> residual.get(b).narrow(0, p.sliceOffset(), p.length())
                .copy_(low.narrow(0, p.weightOffset(), p.length())));
    }

    private interface PieceAction {
        void on(int bucket, ShardLayout.Piece piece) throws IOException;
    }

    /** Calls {@code action} for each of this rank's pieces of weight i. */
    private void forPieces(int weight, PieceAction action) {
        for (int b = 0; b < layout.buckets().size(); b++) {
            for (ShardLayout.Piece p : layout.buckets().get(b).pieces()) {
                if (p.weight() == weight) {
                    try {
                        action.on(b, p);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            }
        }
    }

    List<String> names() {
        return List.copyOf(names);
    }

    int stage() {
        return stage;
    }

    /** Bytes of optimiser state this rank holds (masters beyond the weights, squared averages). */
    @Override
    public long stateBytes() {
        long n = 0;
        for (int b = 0; b < squareAvg.size(); b++) {
            n += squareAvg.get(b).nbytes() + (split ? residual.get(b).nbytes() : 0);
        }
        return n;
    }

    /** Bytes of gradients this rank keeps between backward passes (stage 1: all of them, padded; and the slices). */
    @Override
    public long gradientBytes() {
        return gradSlice.stream().mapToLong(Tensor::nbytes).sum() + gradients.fullBytes();
    }

    // --- gradients: reduce-scattered into this rank's slices (ShardedGradients) ---------------------------------------

    @Override
    public void layerDone(int layer, boolean last) {
        gradients.layerDone(layer, last);
    }

    @Override
    public void microBatchDone() {
        gradients.microBatchDone();
    }

    @Override
    public void backwardsDone(int mine, int most) {
        gradients.backwardsDone(mine, most);
    }

    @Override
    public double gradientsSummed() {
        return gradients.gradientsSummed();
    }

    /** The all-gathers of updated weights, this rank's wait in the last step. */
    @Override
    public double gatherSeconds() {
        double seconds = gatherNanos / 1e9;
        gatherNanos = 0;
        return seconds;
    }

    @Override
    public void checkpoint(Path output, int step, Decoder policy, long seed, boolean writes) throws IOException {
        TrainingCheckpoint.save(output, step, policy, this, seed, group);  // every rank writes its shard
    }

    @Override
    public int restore(TrainingCheckpoint.Restored from) throws IOException {
        return TrainingCheckpoint.restore(from, this);
    }

    @Override
    public void saveModel(Decoder policy, Path to, ScalarType dtype, Path tokenizerFrom) throws IOException {
        TrainingCheckpoint.saveModel(to, policy, this, dtype, tokenizerFrom, group);
    }

    /**
     * The global L2 norm of the summed gradient (before clipping), from every rank's slices: torch's
     * clip_grad_norm_ over the whole model, summed in another order.
     */
    @Override
    public double gradNorm() {
        try (StepScope scope = StepScope.open()) {
            Tensor sumSquares = zeros(1, ScalarType.Double, gradSlice.get(0));  // on the device: NCCL's tensors are
            for (Tensor g : gradSlice) {
                sumSquares.add_(MasterWeightRmsprop.norm(g).to(ScalarType.Double).square());
            }
            group.allreduceSum(sumSquares);
            return Math.sqrt(sumSquares.item_double());
        }
    }

    // --- update ----------------------------------------------------------------------------------------------------

    /**
     * Clips to {@code maxGradNorm} (if > 0), updates this rank's slices at {@code lr}, all-gathers the updated
     * compute weights (every rank's whole model again), and clears the gradients.
     */
    @Override
    public void step(double lr, double maxGradNorm, double gradNorm) {
        double scale = maxGradNorm > 0 && gradNorm > maxGradNorm ? maxGradNorm / (gradNorm + 1e-6) : 1.0;
        NoGradGuard noGrad = new NoGradGuard();
        try {
            for (int b = 0; b < layout.buckets().size(); b++) {
                ShardLayout.Bucket bucket = layout.buckets().get(b);
                try (StepScope scope = StepScope.open()) {
                    Tensor grads = gradSlice.get(b);
                    for (ShardLayout.Piece p : bucket.pieces()) {
                        Tensor w = piece(p);
                        Tensor m = split ? residual.get(b).narrow(0, p.sliceOffset(), p.length()) : w;
                        RmspropStep.apply(w, grads.narrow(0, p.sliceOffset(), p.length()), m,
                                squareAvg.get(b).narrow(0, p.sliceOffset(), p.length()), lr, scale,
                                MasterWeightRmsprop.ALPHA, MasterWeightRmsprop.EPS, weightDecay);
                    }
                    // The gradient slice is spent: it carries this rank's updated weights to the others.
                    grads.zero_();
                    for (ShardLayout.Piece p : bucket.pieces()) {
                        grads.narrow(0, p.sliceOffset(), p.length()).copy_(piece(p));
                    }
                    Tensor borrowed = gradients.fullBuffer(b);  // stage 1's gradient buffer, free until the backward
                    Tensor all = borrowed != null ? borrowed : zeros(bucket.padded(group.worldSize()), grads.scalar_type(), grads);
                    long t0 = System.nanoTime();
                    group.allGather(all, grads);
                    gatherNanos += System.nanoTime() - t0;
                    for (int k = 0; k < bucket.weights().size(); k++) {
                        Tensor w = compute.get(bucket.weights().get(k));
                        w.view(-1).copy_(all.narrow(0, bucket.starts()[k], w.numel()));
                    }
                    grads.zero_();
                    if (borrowed != null) {
                        all.zero_();  // the gradient buffer it borrowed: zero for the next backward
                    }
                }
            }
        } finally {
            noGrad.close();
        }
    }

    /** This rank's piece of a compute weight, a flat view of it. */
    private Tensor piece(ShardLayout.Piece p) {
        return compute.get(p.weight()).view(-1).narrow(0, p.weightOffset(), p.length());
    }

    // --- state on disk ---------------------------------------------------------------------------------------------

    /**
     * Writes this rank's squared averages to {@code optimizerFile} (unless null) and, for bf16 weights, its fp32
     * master pieces to {@code mastersFile} (an fp32 weight is its own master, whole on every rank), named
     * {@code KEY.NAME@OFFSET} ({@link StatePieces}).
     */
    void writeShard(Path optimizerFile, Path mastersFile) throws IOException {
        try (StepScope scope = StepScope.open()) {
            Map<String, Supplier<Tensor>> state = new LinkedHashMap<>(), masters = new LinkedHashMap<>();
            for (int b = 0; b < layout.buckets().size(); b++) {
                int bucket = b;
                for (ShardLayout.Piece p : layout.buckets().get(b).pieces()) {
                    String name = names.get(p.weight()) + "@" + p.weightOffset();
                    state.put("square_avg." + name,
                            () -> squareAvg.get(bucket).narrow(0, p.sliceOffset(), p.length()).cpu());
                    if (split) {
                        masters.put("master." + name, () -> SplitMaster.join(piece(p).contiguous(),
                                residual.get(bucket).narrow(0, p.sliceOffset(), p.length())).cpu());
                    }
                }
            }
            Map<String, String> meta = Map.of("format", "drift-zero", "rank", String.valueOf(group.rank()),
                    "world_size", String.valueOf(group.worldSize()));
            if (optimizerFile != null) {
                SafetensorsWriter.write(optimizerFile, new MadeWhenRead(state), meta);
            }
            if (split) {
                SafetensorsWriter.write(mastersFile, new MadeWhenRead(masters), meta);
            }
        }
    }

    /** The scratch files the ranks write their fp32 master pieces to, rank for the star. */
    static final String MASTER_PIECES = "masters.rank-*.safetensors";

    /** What rank 0 does with the gathered masters: writes a model folder from them. */
    interface MastersWriter {
        void write(Map<String, Tensor> masters) throws IOException;
    }

    /**
     * Every rank together, once rank 0 has made {@code folder}: each writes its shard there (its squared averages to
     * {@code optimizerFile} unless null, its master pieces to a scratch file), then rank 0 hands {@code write} the
     * whole fp32 masters, read back one weight at a time, and deletes the scratch files. The ranks must see one file
     * system; they meet before the shards and after them, and the caller's own writing follows on rank 0.
     */
    void writeGathered(Path folder, Path optimizerFile, MastersWriter write) throws IOException {
        group.barrier();  // rank 0 has made the folder
        writeShard(optimizerFile, folder.resolve(MASTER_PIECES.replace("*", String.valueOf(group.rank()))));
        group.barrier();  // every shard is on disk
        if (group.rank() == 0) {
            write.write(masters(StatePieces.in(folder, MASTER_PIECES)));
            for (int r = 0; r < group.worldSize(); r++) {
                java.nio.file.Files.deleteIfExists(folder.resolve(MASTER_PIECES.replace("*", String.valueOf(r))));
            }
        }
    }

    /**
     * The whole fp32 masters by name, each made when read: from the master pieces every rank wrote (bf16 weights,
     * {@code masters} indexes their files) or the compute weights themselves (fp32).
     */
    private Map<String, Tensor> masters(StatePieces masters) {
        Map<String, Supplier<Tensor>> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            Tensor w = compute.get(i);
            String name = names.get(i);
            out.put(name, !split ? () -> w : () -> {
                try {
                    return masters.read("master." + name, 0, w.numel()).view(w.sizes());
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
        return new MadeWhenRead(out);
    }

    /**
     * Restores the state: each weight's master from {@code masterOf} (whole, fp32: the checkpoint's model), each of
     * this rank's squared-average pieces from {@code state}, whatever sharding wrote them.
     */
    void load(java.util.function.Function<String, Tensor> masterOf, StatePieces state) throws IOException {
        NoGradGuard noGrad = new NoGradGuard();
        try {
            for (int i = 0; i < names.size(); i++) {
                try (StepScope scope = StepScope.open()) {
                    setMaster(i, masterOf.apply(names.get(i)));
                    String key = "square_avg." + names.get(i);
                    forPieces(i, (b, p) -> squareAvg.get(b).narrow(0, p.sliceOffset(), p.length())
                            .copy_(state.read(key, p.weightOffset(), p.length())));
                }
            }
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();  // a piece that could not be read, as before forPieces carried it
        } finally {
            noGrad.close();
        }
    }

    /** Frees the state and the gradients. */
    @Override
    public void close() {
        gradients.close();
        compute.forEach(w -> w.mutable_grad().reset());
        squareAvg.forEach(Tensor::close);
        gradSlice.forEach(Tensor::close);
        residual.forEach(t -> {
            if (t != null) {
                t.close();
            }
        });
    }
}
