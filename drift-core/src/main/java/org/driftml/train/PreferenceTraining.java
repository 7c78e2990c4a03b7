package org.driftml.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.driftml.data.PreferencePair;
import org.driftml.kernels.StepScope;
import org.driftml.model.Policy;
import org.driftml.model.internal.Decoder;
import org.driftml.output.Progress;
import org.driftml.parallel.ProcessGroup;
import org.driftml.report.StepMetrics;
import org.driftml.report.TrainingLog;
import org.driftml.report.TrainingPlots;

/**
 * The one DPO recipe: make the reference, train, save, plot. The one-call form ({@link #train(Policy, List,
 * DpoConfig)}) runs it in memory; {@link #of} sets it up for a run folder ({@code drift dpo} and each stage of the
 * DRIFT loop): checkpoints, {@code metrics.jsonl}, the trained model, its plots, and a multi-process run, where rank
 * 0 writes and the others train alongside.
 */
public final class PreferenceTraining {
    /** How DPO's reference is made from the policy, once the masters have set its weights. */
    public interface Reference {
        ReferencePolicy make(Decoder policy, List<PairTokenizer.TokenizedPair> pairs, long padId, int microBatch,
                ProcessGroup group);

        /** The policy as it starts, scored once over every pair (in shares across the ranks): one model held. */
        static Reference scoredOnce() {
            return (d, pairs, pad, micro, group) -> PrecomputedReference.compute(new FrozenReference(d), pairs, pad,
                    micro, group);
        }

        /** Under LoRA adapters the base (adapters off, as TRL with PEFT), scored as it trains; else {@code other}. */
        static Reference baseUnderAdapters(Reference other) {
            return (d, pairs, pad, micro, group) -> d.adapters() != null ? new BaseModelReference(d)
                    : other.make(d, pairs, pad, micro, group);
        }

        /**
         * A frozen copy of the policy (under LoRA the base, the adapters switched off: no second model), scored
         * every step as TRL does, or once before training when {@code once} (TRL's precompute_ref_log_probs).
         */
        static Reference frozenCopy(boolean once) {
            return (d, pairs, pad, micro, group) -> {
                ReferencePolicy frozen = d.adapters() != null ? new BaseModelReference(d)
                        : new FrozenReference(d.frozenCopy());
                return once ? PrecomputedReference.compute(frozen, pairs, pad, micro) : frozen;
            };
        }

        /** Scores made elsewhere (a separate reference model's), which the caller closes. */
        static Reference given(PrecomputedReference scores) {
            return new Given(scores);
        }
    }

    /** {@link Reference#given}: the caller's scores, left open. */
    private record Given(PrecomputedReference scores) implements Reference {
        @Override
        public ReferencePolicy make(Decoder policy, List<PairTokenizer.TokenizedPair> pairs, long padId,
                int microBatch, ProcessGroup group) {
            return scores;
        }
    }

    /** Told once the reference is made, before the first step, and once training and saving are done. */
    public interface Hooks {
        /** {@code total} optimiser steps will run against {@code reference}. */
        default void starting(int total, ReferencePolicy reference) throws IOException {}

        /** Trained and saved; the optimiser's state is freed and the reference still open. */
        default void trained(ReferencePolicy reference) throws IOException {}
    }

    private final Policy policy;
    private final DpoConfig config;
    private final List<PairTokenizer.TokenizedPair> pairs;
    private Reference reference = Reference.baseUnderAdapters(Reference.scoredOnce());
    private long seed;
    private ProcessGroup group;
    private int zeroStage;
    private Path folder;
    private int saveSteps;
    private int keepCheckpoints;
    private int maxSteps = Integer.MAX_VALUE;
    private Path merged;
    private String stage = "dpo";
    private Progress progress = Progress.SILENT;
    private Hooks hooks = new Hooks() {};

    private PreferenceTraining(Policy policy, DpoConfig config, List<PairTokenizer.TokenizedPair> pairs) {
        this.policy = java.util.Objects.requireNonNull(policy, "policy");
        this.config = java.util.Objects.requireNonNull(config, "config");
        this.pairs = pairs;
    }

    /** DPO of {@code policy} on tokenised {@code pairs}; set up further, then {@link #run()}. */
    public static PreferenceTraining of(Policy policy, DpoConfig config, List<PairTokenizer.TokenizedPair> pairs) {
        return new PreferenceTraining(policy, config, pairs);
    }

    /**
     * DPO on your own preference pairs, as TRL's DPOTrainer runs it, in one call: the pairs are tokenised through the
     * policy's chat template (prompts cut to their last 1,024 tokens, sequences to 2,048), the reference is the
     * policy as the call starts (scored once, so one model is in memory), the update is RMSprop over fp32 master
     * weights, and every step runs in its own native-memory scope. In BF16 the masters start from the folder's fp32
     * weights while the policy still holds them ({@link Policy#weightsAsLoaded()}), else from its current weights;
     * they are freed when the call returns, leaving the trained weights in the policy. With LoRA adapters on the
     * policy ({@link Policy#addAdapters}, {@link Policy#loadAdapters}) the adapters train, the base stays frozen and
     * the reference is the base, the adapters switched off (TRL with a PEFT config).
     *
     * @param policy the model to train, in place
     * @param pairs  the preference pairs (at least one)
     * @param config the DPO settings ({@link DpoConfig#iteration()} is DRIFT's recipe)
     * @return each optimiser step's metrics (loss, implicit rewards, log-probs, gradient norm, ...;
     *         {@link StepMetrics#trl()} gives them under TRL's names)
     * @throws IOException when the fp32 master weights cannot be read from the folder
     * @throws IllegalArgumentException when there are no pairs or a pair cannot be tokenised (named)
     * @throws IllegalStateException when the loss or the gradient norm stops being finite
     */
    public static List<StepMetrics> train(Policy policy, List<PreferencePair> pairs, DpoConfig config)
            throws IOException {
        java.util.Objects.requireNonNull(policy, "policy");
        if (pairs == null || pairs.isEmpty()) {
            throw new IllegalArgumentException("pairs: none given");
        }
        java.util.Objects.requireNonNull(config, "config");
        try (StepScope scope = StepScope.open()) {
            return of(policy, config, PairTokenizer.of(policy, 1024, 2048).tokenize(pairs)).run();
        }
    }

    /** How the reference is made (default: the base under LoRA, else the policy as it starts, scored once). */
    public PreferenceTraining reference(Reference how) {
        this.reference = how;
        return this;
    }

    /** The data order's seed (default 0). */
    public PreferenceTraining seed(long s) {
        this.seed = s;
        return this;
    }

    /** As one rank of {@code processes}, the optimiser sharded at {@code zero} (0, 1 or 2; null: one process). */
    public PreferenceTraining across(ProcessGroup processes, int zero) {
        this.group = processes;
        this.zeroStage = zero;
        return this;
    }

    /**
     * Into a run folder: a checkpoint every {@code everySteps} (and at the end), {@code metrics.jsonl}, the trained
     * model and its plots. A run already there resumes from its newest checkpoint.
     */
    public PreferenceTraining into(Path runFolder, int everySteps) {
        this.folder = runFolder;
        this.saveSteps = everySteps;
        return this;
    }

    /** Keeps only the newest {@code n} checkpoints (0: all). */
    public PreferenceTraining keepCheckpoints(int n) {
        this.keepCheckpoints = n;
        return this;
    }

    /** Exactly {@code n} steps, sizing the schedule (TRL's max_steps; default: every epoch). */
    public PreferenceTraining maxSteps(int n) {
        this.maxSteps = n;
        return this;
    }

    /** With LoRA adapters, also the base with them merged in, a full model folder, at {@code to}. */
    public PreferenceTraining mergedInto(Path to) {
        this.merged = to;
        return this;
    }

    /** Each step told to {@code p} (as counted work, and {@link Progress#stepDone} with {@code stageName}). */
    public PreferenceTraining progress(String stageName, Progress p) {
        this.stage = stageName;
        this.progress = p;
        return this;
    }

    public PreferenceTraining hooks(Hooks h) {
        this.hooks = h;
        return this;
    }

    /**
     * Makes the reference, trains, saves and plots. Rank 0 (or the only process) writes the run folder; the other
     * ranks take their share of every step and, under ZeRO, write their shard of each checkpoint and of the model.
     *
     * @return each step's metrics (empty on the other ranks of a run with a folder)
     */
    public List<StepMetrics> run() throws IOException {
        boolean writes = group == null || group.rank() == 0;
        ReferencePolicy made = null;
        List<StepMetrics> steps;
        TrainingLog log = null;
        try {
            // bf16: the fp32 masters start from the folder's fp32 weights, not the bf16 copies the policy was loaded
            // as; the reference is made from the policy as they leave it (DpoTrainer.of).
            try (DpoTrainer trainer = DpoTrainer.of(policy, d -> reference.make(d, pairs, policy.padId(),
                    config.microBatch(), group), config, seed, group, zeroStage).progress(stage, progress)) {
                made = trainer.reference();
                int total = trainer.totalSteps(pairs.size(), maxSteps);
                hooks.starting(total, made);
                if (folder == null) {
                    steps = trainer.train(pairs);
                } else if (writes) {
                    log = new TrainingLog(folder.resolve("metrics.jsonl"), progress, total);
                    trainer.keepCheckpoints(keepCheckpoints).train(pairs, folder, saveSteps, maxSteps, log);
                    steps = log.read();
                } else {  // its share of every step; under ZeRO its shard of each checkpoint too
                    trainer.trainAlongside(pairs, folder, saveSteps, maxSteps);
                    steps = List.of();
                }
                if (folder != null && (writes || zeroStage > 0)) {  // under ZeRO every rank gives its pieces
                    trainer.save(policy, folder);
                }
                if (merged != null && writes && policy.adapters().isPresent()) {
                    policy.saveMerged(merged);
                }
            }
            hooks.trained(made);
        } finally {
            if (made instanceof PrecomputedReference scores && !(reference instanceof Given)) {
                scores.close();  // scores this run made; a given reference is its caller's
            }
            policy.weightsChanged();
        }
        if (log != null) {
            TrainingPlots.write(StepMetrics.trl(steps), folder);
        }
        return steps;
    }
}
