package org.driftml.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.output.RunFolder;
import org.driftml.data.PreferencePair;
import org.driftml.kernels.NativeHeap;
import org.driftml.kernels.StepScope;
import org.driftml.model.Policy;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.LoraAdapters;
import org.driftml.model.internal.Tensorsj;
import org.driftml.model.internal.Torch;
import org.driftml.parallel.ProcessGroup;
import org.driftml.report.StepMetrics;
import org.driftml.report.TrainingLog;

/**
 * The DPO engine DRIFT calls once per iteration: length-aware batches of tokenised pairs, each optimiser step
 * accumulating {@code accumulation} micro-batches (policy forward, fused scores, reference scores, fused loss,
 * backward), then clipping, a master-weight RMSprop update at the linear schedule's rate, and TRL's metrics.
 * Every micro-batch runs in its own {@link StepScope}.
 */
public final class DpoTrainer implements AutoCloseable {
    private final Decoder policy;
    private ReferencePolicy reference;  // made once the masters are set (of(): once their seed is freed)
    private final DpoConfig config;
    private final long padId;
    private final long seed;
    private final Optimizer optimizer;  // whole on every rank, or sharded (ZeRO): the ranks' sums are its own
    private final ProcessGroup group;  // null: one process
    private final int micro;  // pairs per forward and backward in this process
    // Checkpointed, one process, a trained bf16 lm-head: its gradient is made a range at a time at the update
    // (LmHeadGradient) instead of held from the loss's backward on; the step's peak is then the state, the other
    // gradients and one layer's recomputation. Measured at Qwen2.5-0.5B's geometry: README, "Benchmarks".
    private boolean lmHeadMadeAtUpdate;
    private LmHeadGradient lmHeadGradient;  // this step's, from accumulate() to the update
    private org.driftml.output.Progress progress = org.driftml.output.Progress.SILENT;
    private String stage = "dpo";
    private int keepCheckpoints;

    /**
     * A DPO engine over {@code policy}'s weights, which it trains in place. For the one-call form, see
     * {@link #train(Policy, List, DpoConfig)}.
     *
     * @param policy    the model to train; its weights get gradients
     * @param reference DPO's reference log-probs ({@link FrozenReference} or {@link PrecomputedReference})
     * @param config    the hyper-parameters
     * @param padId     the id batches are padded with
     * @param seed      the data order's seed
     */
    public DpoTrainer(Decoder policy, ReferencePolicy reference, DpoConfig config, long padId, long seed) {
        this(policy, reference, config, padId, seed, Map.of());
    }

    /**
     * As above, starting the fp32 masters of a reduced-precision policy from {@code initialMasters} (the model's
     * full-precision weights, by name, on any device; copied, then free to close) instead of its bf16 copies.
     */
    public DpoTrainer(Decoder policy, ReferencePolicy reference, DpoConfig config, long padId, long seed,
            Map<String, Tensor> initialMasters) {
        this(policy, d -> reference, config, padId, seed, initialMasters, null, 0);
    }

    /**
     * As above, as one rank of a data-parallel run: each step's batch is split across the ranks of {@code group},
     * the gradients and metrics are summed over them before the update (so every rank makes the same update, and
     * the global gradient norm clips), and only rank 0 writes metrics and the model. {@code zeroStage} shards the
     * optimiser (ZeRO): 0 every rank holds all of its state; 1 each rank holds 1/N of the fp32 masters and squared
     * averages; 2 also only 1/N of the gradients between backward passes. Under ZeRO every rank writes its shard of
     * each checkpoint and takes part in {@link #save}.
     *
     * @param group     the ranks (null: one process, and zeroStage must be 0)
     * @param zeroStage 0, 1 or 2 (not with LoRA: the adapters' state is small)
     */
    public DpoTrainer(Decoder policy, ReferencePolicy reference, DpoConfig config, long padId, long seed,
            Map<String, Tensor> initialMasters, ProcessGroup group, int zeroStage) {
        this(policy, d -> reference, config, padId, seed, initialMasters, group, zeroStage);
    }

    /**
     * The reference is made from the policy once the masters have set its weights: a bf16 weight then is its
     * master's high half, rounded to nearest with ties away from zero (SplitMaster), which differs from the load's
     * round-to-even cast at ties. Made before, the reference would start a few weights away from the policy (the
     * first loss 0.6932 instead of ln 2 on the tiny fixture). A null {@code reference}: the caller sets it after
     * (of(), once the masters' seed is freed).
     */
    private DpoTrainer(Decoder policy, java.util.function.Function<Decoder, ReferencePolicy> reference,
            DpoConfig config, long padId, long seed, Map<String, Tensor> initialMasters, ProcessGroup group,
            int zeroStage) {
        this.policy = policy;
        this.config = config;
        this.padId = padId;
        this.seed = seed;
        this.group = group;
        boolean lora = policy.adapters() != null;
        // Each process's micro-batch is batch / (processes x accumulation), as the release's per-device batch on
        // 8 GPUs: the same micro-batches and pairs per step at any world size (a split that does not divide is
        // refused here).
        this.micro = config.microBatch(group == null ? 1 : group.worldSize());
        if (zeroStage < 0 || zeroStage > 2) {
            throw new IllegalArgumentException("ZeRO stage must be 0, 1 or 2, got " + zeroStage);
        }
        if (zeroStage > 0 && group == null) {
            throw new IllegalArgumentException("ZeRO stage " + zeroStage + " shards over the ranks of a process "
                    + "group; none given");
        }
        if (zeroStage > 0 && lora) {
            throw new IllegalArgumentException("ZeRO stage " + zeroStage + " with LoRA adapters: their optimiser "
                    + "state is small, train them with stage 0");
        }
        Map<String, Tensor> trainable = TrainableWeights.of(policy);
        if (zeroStage > 0) {
            this.optimizer = new ShardedRmsprop(trainable, initialMasters, config.weightDecay(), zeroStage, group);
            this.lmHeadMadeAtUpdate = false;
        } else {
            Set<String> buffered = new java.util.HashSet<>();
            if (config.gradientCheckpointing()) {  // not the lm-head's: handed over whole, or made at the update
                buffered.addAll(trainable.keySet());
                buffered.remove(policy.lmHeadName());
            }
            MasterWeightRmsprop whole = new MasterWeightRmsprop(trainable, lora ? Map.of() : initialMasters,
                    config.weightDecay(), buffered);
            this.optimizer = group == null ? whole : whole.across(group);
            this.lmHeadMadeAtUpdate = config.gradientCheckpointing() && group == null
                    && trainable.containsKey(policy.lmHeadName())
                    && MasterWeightRmsprop.canMakeGradient(policy.lmHead());
        }
        this.reference = reference == null ? null : reference.apply(policy);
    }

    /**
     * DPO on your own preference pairs, as TRL's DPOTrainer runs it, in one call: {@link PreferenceTraining#train},
     * which says what it does.
     *
     * @param policy the model to train, in place
     * @param pairs  the preference pairs (at least one)
     * @param config the DPO settings ({@link DpoConfig#iteration()} is DRIFT's recipe)
     * @return each optimiser step's metrics under TRL's names (loss, rewards/..., logps/..., grad_norm, ...)
     * @throws IOException when the fp32 master weights cannot be read from the folder
     */
    public static List<StepMetrics> train(Policy policy, List<PreferencePair> pairs, DpoConfig config)
            throws IOException {
        return PreferenceTraining.train(policy, pairs, config);
    }

    /**
     * A DPO engine over a loaded policy, padding with its pad id. In BF16 the fp32 masters start from the folder's
     * full-precision weights while the policy still holds them (read into host memory and freed once copied), not
     * from its bf16 copies: at DRIFT's learning rates the difference is most of an update.
     *
     * @param policy    the model to train, in place
     * @param reference makes DPO's reference from the policy's decoder, called once the masters have set its
     *                  weights (for example {@code d -> new FrozenReference(d.frozenCopy())})
     * @param config    the hyper-parameters
     * @param seed      the data order's seed
     * @return the trainer; close it to free the optimiser's state
     * @throws IOException when the fp32 weights cannot be read from the policy's folder
     */
    public static DpoTrainer of(Policy policy, java.util.function.Function<Decoder, ReferencePolicy> reference,
            DpoConfig config, long seed) throws IOException {
        return of(policy, reference, config, seed, null, 0);
    }

    /**
     * As above, as one rank of {@code group} with the optimiser sharded at {@code zeroStage} (see the constructor).
     *
     * @param group     the ranks (null: one process)
     * @param zeroStage 0, 1 or 2
     */
    public static DpoTrainer of(Policy policy, java.util.function.Function<Decoder, ReferencePolicy> reference,
            DpoConfig config, long seed, ProcessGroup group, int zeroStage) throws IOException {
        // Under LoRA the base takes no masters: nothing to read from the folder.
        if (!policy.precision().mixed() || !policy.weightsAsLoaded() || policy.adapters().isPresent()) {
            return new DpoTrainer(policy.decoder(), reference, config, policy.padId(), seed, Map.of(), group,
                    zeroStage);
        }
        // The fp32 weights are read one at a time as the optimiser seeds each master from them, and the reference is
        // made (a frozen copy) or scored (DRIFT's stages) after, with malloc's freed pages returned: a whole fp32
        // model read first stood beside the optimiser's state and the reference's copy or scoring activations
        // (measured: benchmarks/stage-memory.sh, README).
        DpoTrainer trainer;
        try {
            trainer = new DpoTrainer(policy.decoder(), (java.util.function.Function<Decoder, ReferencePolicy>) null,
                    config, policy.padId(), seed, Decoder.weightsWhenRead(policy.folder(), ScalarType.Float), group,
                    zeroStage);
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
        NativeHeap.trim();
        try {
            trainer.reference = reference.apply(policy.decoder());
        } catch (RuntimeException | Error e) {
            trainer.close();  // the optimiser's state, which no caller holds yet
            throw e;
        }
        return trainer;
    }

    /**
     * Writes the trained model as a folder transformers and every drift command load: the master weights in the
     * dtype the policy's config.json declares (a bf16 model stays bf16 on disk, as transformers saves it; the
     * fp32 masters live in the checkpoints), the config files and tokenizer.
     *
     * @param policy the policy this trainer trains
     * @param to     the folder to write (created if needed)
     * @throws IOException when it cannot be written
     */
    public void save(Policy policy, Path to) throws IOException {
        if (policy.adapters().isPresent()) {  // the adapters alone, in PEFT's format: they are their own masters
            policy.save(to);
            return;
        }
        optimizer.saveModel(policy.decoder(), to, Torch.declaredDtype(policy.folder()), policy.folder());
    }

    /**
     * Frees the optimiser's state (fp32 masters of a bf16 policy, squared-gradient averages); the policy and the
     * reference belong to the caller. The masters are gone after this: save first.
     */
    @Override
    public void close() {
        closeLmHeadGradient();
        optimizer.close();
    }

    /** The reference this trainer scores against (made by the factory {@link #of} was given; its caller closes it). */
    public ReferencePolicy reference() {
        return reference;
    }

    /** Bytes of optimiser state this process holds beyond the weights ({@link Optimizer#stateBytes}). */
    public long optimizerBytes() {
        return optimizer.stateBytes();
    }

    /** Bytes of gradients this process holds at the update: the optimiser's, less a lm-head's made at the update. */
    public long gradientBytes() {
        return optimizer.gradientBytes() - (lmHeadMadeAtUpdate ? policy.lmHead().nbytes() : 0);
    }

    /**
     * Keeps only the newest {@code n} checkpoints in the output folder, deleting older ones as new ones are written
     * (transformers' save_total_limit); 0, the default, keeps them all.
     */
    public DpoTrainer keepCheckpoints(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("saveTotalLimit must be >= 0 (0: keep all), got " + n);
        }
        this.keepCheckpoints = n;
        return this;
    }

    /** Told {@link org.driftml.output.Progress#stepDone} (1-based) after each step and its checkpoint, if due. */
    public DpoTrainer progress(String stageName, org.driftml.output.Progress p) {
        this.stage = stageName;
        this.progress = p;
        return this;
    }

    /**
     * Batches for one epoch, drawn from the seed and the epoch (every run with the same seed sees the same batches):
     * a new shuffle each epoch, grouped so that a batch holds pairs of similar lengths ({@link EpochBatches}).
     */
    public List<List<Integer>> batches(List<PairTokenizer.TokenizedPair> pairs, int epoch) {
        return EpochBatches.of(pairs, epoch, seed, config.batchSize());
    }

    /** Trains over every epoch in memory; returns each optimiser step's metrics (TRL's names plus padding_fraction). */
    public List<StepMetrics> train(List<PairTokenizer.TokenizedPair> pairs) {
        try {
            return train(pairs, null, 0, Integer.MAX_VALUE);
        } catch (IOException e) {
            throw new IllegalStateException(e);  // no output folder: nothing is written
        }
    }

    /**
     * Trains, checkpointing into {@code output} every {@code saveEvery} steps and at the end, and resuming from the
     * newest checkpoint there if one exists: a run killed at any step and restarted ends with the same weights as
     * one that never stopped (the data order is a function of seed and epoch, and no other randomness is used).
     * {@code maxSteps} stops early (after that many steps in total).
     */
    public List<StepMetrics> train(List<PairTokenizer.TokenizedPair> pairs, Path output,
            int saveEvery, int maxSteps) throws IOException {
        return train(pairs, output, saveEvery, maxSteps, null);
    }

    /** As above, recording each step in {@code log} (metrics.jsonl and progress) when one is given. */
    public List<StepMetrics> train(List<PairTokenizer.TokenizedPair> pairs, Path output,
            int saveEvery, int maxSteps, TrainingLog log) throws IOException {
        // One writer per output: a second run on this folder is refused while this one trains (re-entrant, so a
        // caller may hold it across the save that follows).
        try (RunFolder run = output == null ? null : RunFolder.at(output).by("dpo").claim()) {
            return trainHeld(pairs, output, saveEvery, maxSteps, log, true);
        }
    }

    /**
     * Another rank's part of a data-parallel run whose rank 0 writes {@code output}: it resumes from the newest
     * checkpoint there, as rank 0 does, and writes nothing but, under ZeRO, its shard of each checkpoint (every
     * {@code saveEvery} steps and at the end, as rank 0 saves).
     */
    public List<StepMetrics> trainAlongside(List<PairTokenizer.TokenizedPair> pairs, Path output,
            int saveEvery, int maxSteps) throws IOException {
        return trainHeld(pairs, output, saveEvery, maxSteps, null, false);
    }

    private List<StepMetrics> trainHeld(List<PairTokenizer.TokenizedPair> pairs, Path output,
            int saveEvery, int maxSteps, TrainingLog log, boolean writes) throws IOException {
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException("no pairs to train on");
        }
        if (maxSteps < 1) {
            throw new IllegalArgumentException("maxSteps must be at least 1, got " + maxSteps);
        }
        int stepsPerEpoch = (pairs.size() + config.batchSize() - 1) / config.batchSize();
        // As TRL's max_steps: a given step count sizes the schedule (the rate decays to zero at the last step) and
        // overrides the epochs, running more of them when it asks for more steps than they hold.
        int total = totalSteps(pairs.size(), maxSteps);
        LinearSchedule schedule = LinearSchedule.of(config.learningRate(), total, config.warmupRatio());
        int start = 0;
        if (output != null) {
            // The newest checkpoint that reads back whole. A damaged one (a disk that filled, a file cut short) is
            // said and set aside as checkpoint-N.damaged, and the run resumes from the one before: the steps after
            // it are trained again, as the run would have trained them.
            for (TrainingCheckpoint.Restored r : TrainingCheckpoint.newestFirst(output)) {
                try {
                    start = optimizer.restore(r);
                    break;
                } catch (org.driftml.model.spec.MalformedCheckpointException e) {
                    Path aside = r.folder().resolveSibling(r.folder().getFileName() + ".damaged");
                    progress.line("drift: " + e.getMessage() + "; resuming from the checkpoint before it"
                            + (writes ? " (" + r.folder().getFileName() + " moved to " + aside.getFileName() + ")" : ""));
                    if (writes) {
                        java.nio.file.Files.move(r.folder(), aside, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    }
                    start = 0;
                }
            }
        }
        if (group != null) {  // every rank must continue from the same step, or the collectives pair up wrongly
            Ranks.requireSameStart(group, start, output, policy.device());
        }
        if (start > 0 && writes) {
            progress.line("drift: resuming from " + output.resolve("checkpoint-" + start) + " (step " + start + " of "
                    + total + ")");
        }
        if (log != null) {
            log.truncateAfter(start);
        }
        List<StepMetrics> steps = new ArrayList<>();
        int step = 0;
        for (int epoch = 0; step < total; epoch++) {
            for (List<Integer> batch : batches(pairs, epoch)) {
                if (step >= total) {
                    break;
                }
                if (step >= start) {
                    StepMetrics m = optimizerStep(pairs, batch, step, schedule.at(step))
                            .at(step + 1, epoch + (double) (step % stepsPerEpoch + 1) / stepsPerEpoch);
                    steps.add(m);
                    if (log != null) {
                        log.record(m);
                    }
                    boolean last = step + 1 == total;  // a run stopped by maxSteps ends with its checkpoint too
                    boolean due = output != null && ((saveEvery > 0 && (step + 1) % saveEvery == 0) || last);
                    if (due) {  // under ZeRO every rank writes its shard
                        optimizer.checkpoint(output, step + 1, policy, seed, writes);
                    }
                    if (due && writes && keepCheckpoints > 0) {
                        TrainingCheckpoint.prune(output, keepCheckpoints);
                    }
                    progress.stepDone(stage, step + 1);
                }
                step++;
            }
        }
        return steps;
    }

    /** Optimiser steps a full run over {@code pairs} takes. */
    public int totalSteps(int pairs) {
        return (pairs + config.batchSize() - 1) / config.batchSize() * config.epochs();
    }

    /**
     * Optimiser steps a run over {@code pairs} takes when told to stop after {@code maxSteps} ({@link
     * Integer#MAX_VALUE}: not told, every epoch runs): exactly {@code maxSteps} otherwise, as TRL's max_steps.
     */
    public int totalSteps(int pairs, int maxSteps) {
        return maxSteps == Integer.MAX_VALUE ? totalSteps(pairs) : maxSteps;
    }

    /** One optimiser step over one batch, in micro-batches of batchSize / accumulation pairs. */
    public StepMetrics optimizerStep(List<PairTokenizer.TokenizedPair> pairs, List<Integer> batch, int step,
            double lr) {
        try {
            StepMetrics measured = accumulate(pairs, batch, step);
            double norm = optimizer.gradNorm();
            if (!Double.isFinite(norm)) {
                throw new IllegalStateException("step " + step + ": the gradient norm is " + norm
                        + "; stopping before it reaches the weights");
            }
            optimizer.step(lr, config.maxGradNorm(), norm);
            return measured.updated(step + 1, norm, lr, optimizer.gatherSeconds());
        } finally {
            closeLmHeadGradient();
        }
    }

    private void closeLmHeadGradient() {
        if (lmHeadGradient != null) {
            lmHeadGradient.close();
            lmHeadGradient = null;
        }
    }

    /**
     * Forward and backward of one batch in micro-batches, leaving the summed gradients on the policy's weights;
     * returns the batch's metrics (micro-batch metrics weighted by their share of the batch). The metrics stay on
     * the device until the batch is done and come back in one read: on a GPU each read waits for the device.
     */
    StepMetrics accumulate(List<PairTokenizer.TokenizedPair> pairs, List<Integer> batchAll, int step) {
        // Data parallel: this rank's share of the global batch, every world-size-th pair (DistributedSampler's
        // order); each micro-batch still weighs by its share of the global batch, so the all-reduced sum is the
        // global batch's mean.
        List<Integer> batch = group == null ? batchAll : Ranks.shareOf(group, batchAll);
        int globalSize = batchAll.size();
        int parts = (batch.size() + micro - 1) / micro;
        long real = 0, padded = 0;
        double allreduceSeconds = 0;
        double[] values;
        LoraAdapters lora = policy.adapters();
        if (lora != null) {
            lora.training(true);  // dropout on the policy's adapters, never on a reference
        }
        try (StepScope all = StepScope.open()) {
            Tensor sums = null;
            LmHeadGradient lmHeadGradient = null;
            if (lmHeadMadeAtUpdate) {
                closeLmHeadGradient();
                this.lmHeadGradient = lmHeadGradient = new LmHeadGradient(policy.lmHead());
                ((MasterWeightRmsprop) optimizer).gradientMadeBy(policy.lmHeadName(), lmHeadGradient);
            }
            MicroBatchStep microBatch = new MicroBatchStep(policy, reference, config, padId, optimizer, lmHeadGradient);
            for (int start = 0; start < batch.size(); start += micro) {
                try (StepScope scope = StepScope.open()) {
                    List<Integer> ids = batch.subList(start, Math.min(batch.size(), start + micro));
                    // Each micro-batch's mean loss weighs by its share of the batch, so accumulation equals one
                    // big batch.
                    Tensor weighted = microBatch.run(pairs, ids, (double) ids.size() / globalSize,
                            start + micro >= batch.size());
                    sums = scope.moveTo(all, sums == null ? weighted : sums.add(weighted));
                }
            }
            real = microBatch.realTokens();
            padded = microBatch.paddedTokens();
            // ZeRO stage 2 reduce-scatters after every micro-batch: each rank as many times as the rank with the most
            // (rank 0's share, ceil(G / N)), a rank with fewer taking part with zeros.
            int most = group == null ? parts : Ranks.mostMicroBatches(group, globalSize, micro);
            optimizer.backwardsDone(parts, most);  // every rank's layers before the metrics: one order of collectives
            if (group != null) {
                sums = Ranks.sumMetrics(group, sums, real, padded, policy.device());
            }
            allreduceSeconds = optimizer.gradientsSummed();
            values = Tensorsj.doubles(sums);
            if (group != null) {
                real = (long) values[DpoLoss.METRICS.size()];
                padded = (long) values[DpoLoss.METRICS.size() + 1];
            }
        } finally {
            if (lora != null) {
                lora.training(false);
            }
        }
        if (!Double.isFinite(values[0])) {  // the gradients are summed, but no weight has moved
            throw new IllegalStateException("step " + step + ": the loss is " + values[0]
                    + "; stopping before it reaches the weights");
        }
        return StepMetrics.beforeUpdate(values, 1.0 - (double) real / padded, parts,
                group != null ? allreduceSeconds : Double.NaN);  // the all-reduce (ZeRO: reduce-scatter): this rank's wait
    }
}
