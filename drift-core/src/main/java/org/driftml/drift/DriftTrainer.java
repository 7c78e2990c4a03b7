package org.driftml.drift;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.IntFunction;
import org.driftml.report.StepMetrics;
import org.driftml.output.Progress;
import org.driftml.output.RunFolder;
import org.driftml.data.DsatItem;
import org.driftml.data.DsatMiner;
import org.driftml.data.PreferencePair;
import org.driftml.data.SatReply;
import org.driftml.kernels.NativeHeap;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.Policy;
import org.driftml.model.Sampler;
import org.driftml.parallel.ProcessGroup;
import org.driftml.train.DpoConfig;
import org.driftml.train.DpoTrainer;
import org.driftml.train.FrozenReference;
import org.driftml.train.PairTokenizer;
import org.driftml.train.PrecomputedReference;
import org.driftml.train.PreferenceTraining;
import org.driftml.train.ReferencePolicy;

/**
 * The DRIFT loop (paper, Algorithm 1), and SPIN and IterDPO through the same loop:
 * <ol>
 *   <li>warm start: DPO on the DSAT-to-SAT seed pairs ({@link DriftConfig#warmStart()}, 3 epochs);</li>
 *   <li>for k = 1..K: sample from the current policy to build this iteration's pairs ({@link PairMethod}), train one
 *       epoch of DPO against the reference, checkpoint.</li>
 * </ol>
 * Every stage leaves a folder under the output ({@code warmstart/}, {@code iteration-k/}) that is a model folder
 * (weights, config, tokenizer) holding the pairs ({@code pairs.jsonl}), checkpoints, {@code metrics.jsonl}, plots
 * and {@code summary.json}, written last: a stage with a summary is done. Running again on the same output resumes
 * where a crash stopped it, at the next unsampled chunk or the last checkpoint, and ends with the same model as an
 * uninterrupted run. Reference log-probs are computed once per stage, so training holds one model in memory.
 */
public final class DriftTrainer {

    /** Each stage's summary (also its summary.json) and where the final model is. */
    public record Result(List<StageSummary> stages, Path finalModel) {
        private String share() {
            Map<String, Double> share = stages.isEmpty() ? Map.of()
                    : stages.get(0).marginsEnd().shareSigmaNegSAtLeastTau();
            return share.isEmpty() ? "share" : "share@" + share.keySet().iterator().next();
        }

        /**
         * A fixed-width table: stage, pairs, steps, loss first and last, mean margin s after training, and the share
         * of pairs with sigma(-s) >= the first tau after training.
         */
        public String table() {
            StringBuilder s = new StringBuilder(String.format("%-12s %-8s %6s %7s %6s %8s %8s %9s %9s%n", "stage",
                    "method", "pairs", "dropped", "steps", "loss0", "lossN", "margin s", share()));
            for (StageSummary st : stages) {
                Map<String, Double> share = st.marginsEnd().shareSigmaNegSAtLeastTau();
                Double tau = share.isEmpty() ? null : share.values().iterator().next();
                s.append(String.format(java.util.Locale.ROOT, "%-12s %-8s %6d %7d %6d %8.4f %8.4f %9.4f %9s%n",
                        st.stage(), st.method(), st.pairs(), st.dropped(), st.steps(), st.lossFirst(), st.lossLast(),
                        st.marginsEnd().mean(),
                        tau == null ? "-" : String.format(java.util.Locale.ROOT, "%.3f", tau)));
            }
            return s.toString();
        }
    }

    private final DriftConfig config;
    private ComputeDevice device = ComputeDevice.CPU;
    private Progress progress = Progress.printing(System.err);
    private ProcessGroup group;  // null: one process
    private int zeroStage;
    private org.driftml.model.RewardModel reward;  // IterDPO in the UltraFeedback setting ranks its samples with it

    /**
     * @param config the recipe ({@link DriftConfig#paper()} is the paper's); set where models live with
     *               {@link #device}, where progress goes with {@link #progress}
     */
    public DriftTrainer(DriftConfig config) {
        this.config = config;
    }

    /** Where every stage's policy, reference and optimiser live (the CPU unless told). */
    public DriftTrainer device(ComputeDevice d) {
        this.device = d;
        return this;
    }

    /**
     * Where the loop tells how it goes: its lines, and the hooks after each durable unit of work (a chunk of
     * sampling, an optimiser step, a stage starting). Lines go to standard error unless told.
     */
    public DriftTrainer progress(Progress p) {
        this.progress = p;
        return this;
    }

    /**
     * Runs as one rank of {@code group}, every rank calling {@link #train} with the same arguments: each stage's
     * items are sampled in rounds, rank r taking every world-size-th chunk (every chunk keeps its seed, so the pairs
     * are one process's, byte for byte); the reference is scored in shares; DPO is data parallel with the optimiser
     * sharded at {@code zeroStage} (0, 1 or 2; see DpoTrainer). Rank 0 locks and writes the output; under ZeRO every
     * rank writes its shard of the checkpoints. The ranks must see one file system.
     */
    public DriftTrainer distributed(ProcessGroup group, int zeroStage) {
        this.group = group;
        this.zeroStage = zeroStage;
        return this;
    }

    /**
     * The reward model IterDPO ranks its two samples with in the UltraFeedback setting (the paper: OpenAssistant's
     * reward-model-deberta-v3-large-v2). The caller keeps and closes it.
     */
    public DriftTrainer rewardModel(org.driftml.model.RewardModel r) {
        this.reward = r;
        return this;
    }

    /** Whether this process writes the output: the only process, or rank 0. */
    private boolean writer() {
        return group == null || group.rank() == 0;
    }

    /**
     * Mined logs to a trained model: warm start on {@code mined.seeds()}, then K iterations of the configured method
     * (DRIFT and IterDPO on the DSAT items, SPIN on the satisfying replies).
     *
     * @param model  the model folder to start from
     * @param mined  what {@link DsatMiner#mine} found in the logs
     * @param output where each stage's model folder goes; a run stopped there resumes when called again
     * @return each stage's summary and the final model folder
     * @throws IOException when a folder cannot be read or written
     * @throws IllegalArgumentException when there is nothing to train the method on
     * @throws IllegalStateException when the output holds another run, or training stops being finite
     */
    public Result train(Path model, DsatMiner.Mined mined, Path output) throws IOException {
        if (config.data() == DriftConfig.Data.ULTRAFEEDBACK) {
            return train(model, mined.seeds(), ultraFeedback(subsample(mined.preferences())), output);
        }
        List<DsatItem> items = subsample(mined.items());
        List<SatReply> satisfying = subsample(mined.satisfying());
        IntFunction<PairMethod> method = switch (config.method()) {
            case DRIFT -> k -> new DriftPairs(items, config.promptStyle());
            case ITERDPO -> k -> new IterDpoPairs(items, config.promptStyle());
            case SPIN -> k -> new SpinPairs(satisfying);
        };
        int size = config.method() == DriftConfig.Method.SPIN ? satisfying.size() : items.size();
        if (size == 0) {
            throw new IllegalArgumentException("no " + (config.method() == DriftConfig.Method.SPIN
                    ? "satisfying replies (SAT-labelled turns)" : "DSAT items") + " to train " + config.method()
                    + " on: check the logs' labels (drift mine reports the counts)");
        }
        return train(model, mined.seeds(), method, output);
    }

    /** Sec. 4.1's UltraFeedback pairs: DRIFT keeps the rejected reply, SPIN the chosen, IterDPO ranks two samples. */
    private IntFunction<PairMethod> ultraFeedback(List<PreferencePair> records) {
        if (records.isEmpty()) {
            throw new IllegalArgumentException("no UltraFeedback records (prompts with both replies) to train "
                    + config.method() + " on: mine them with drift mine --format ultrafeedback");
        }
        if (config.method() == DriftConfig.Method.ITERDPO) {
            if (reward == null) {
                throw new IllegalArgumentException("IterDPO on UltraFeedback ranks two samples by a reward model: "
                        + "give one (--reward-model DIR)");
            }
            List<List<org.driftml.text.ChatMessage>> prompts = records.stream().map(PreferencePair::prompt).toList();
            return k -> new RewardRankedPairs(prompts, reward);
        }
        return k -> new UltraFeedbackPairs(records, config.method());
    }

    /** The loop over any pair-building method (RewardRankedPairs for UltraFeedback prompts, say). */
    public Result train(Path model, List<PreferencePair> seeds, IntFunction<PairMethod> method, Path output)
            throws IOException {
        // Rank 0 claims the folder; the other ranks wait for it and write nothing.
        try (RunFolder run = RunFolder.at(output).by("DriftTrainer " + config.method())
                .apartFrom(model, "model folder").identity(RunIdentity.of(model, method.apply(1), config, seeds)
                        .asJson(), "method").across(group).claim()) {
            return stages(model, seeds, method, output);
        }
    }

    private Result stages(Path model, List<PreferencePair> seeds, IntFunction<PairMethod> method, Path output)
            throws IOException {
        List<StageSummary> stages = new ArrayList<>();
        Path current = model;
        if (config.warmStart() != null && !seeds.isEmpty()) {
            Path folder = output.resolve("warmstart");
            stages.add(stage("warmstart", "dpo", null, current, folder, config.warmStart(),
                    policy -> new Generated(seeds, 0)));
            current = folder;
        }
        for (int k = 1; k <= config.iterations(); k++) {
            Path folder = output.resolve("iteration-" + k);
            PairMethod m = method.apply(k);
            String stage = "iteration-" + k;
            long sampleSeed = config.seed() * 31 + k;
            Path reference = config.reference() == DriftConfig.Reference.BASE ? model : null;
            stages.add(stage(stage, m.name(), reference, current, folder, config.iteration(), policy -> {
                progress.line(String.format("%s (%s): sampling for %d items", stage, m.name(), m.size()));
                // The paper's sampling (temperature 0.7, top-p 0.9), stopping at the policy's end-of-turn ids.
                Sampler.Settings s = Sampler.Settings.sampling(config.temperature(), config.topP(),
                        config.maxNewTokens(), policy.endIds(), sampleSeed);
                PairGeneration.Outcome out = PairGeneration.run(policy, m, folder, s, config.generationBatch(),
                        config.sampleSchedule() == DriftConfig.SampleSchedule.CONTINUOUS, sampleSeed, stage, progress,
                        group);
                return new Generated(out.pairs(), out.dropped());
            }));
            current = folder;
        }
        return new Result(stages, current);
    }

    private record Generated(List<PreferencePair> pairs, int dropped) {}

    private interface PairSource {
        Generated pairs(Policy policy) throws IOException;
    }

    /**
     * One stage: load the policy from {@code from}, get its pairs, train (the reference scored once), save,
     * summarise.
     * {@code referenceModel} is a frozen model folder to score against, or null for the policy as the stage starts.
     */
    private StageSummary stage(String name, String method, Path referenceModel, Path from, Path folder,
            DpoConfig dpo, PairSource source) throws IOException {
        Path summaryFile = folder.resolve("summary.json");
        if (Files.exists(summaryFile)) {
            progress.line(String.format("%s: done earlier (%s)", name, summaryFile));
            return StageSummary.read(folder);
        }
        long started = System.nanoTime();
        Files.createDirectories(folder);
        progress.stageStarting(name);
        // Each stage frees what it loaded, so these should not climb from stage to stage (benchmarks/stage-memory.sh).
        progress.line(String.format("%s: starting (resident %,d MB, native heap %,d MB)", name,
                NativeHeap.residentBytes() / 1_000_000, NativeHeap.bytesInUse() / 1_000_000));
        // Everything a stage loads is freed when it ends (policy, reference scores, optimiser state): at 7B each
        // model is 15 GB, and the garbage collector, which sees only a handle per tensor, would keep them for long.
        try (Policy policy = Policy.load(from, config.precision(), device)) {
            if (config.lora() != null) {  // fresh adapters (B zero): the policy samples and scores as it was loaded
                policy.addAdapters(config.lora(), config.seed() + name.hashCode());  // String.hashCode: fixed by spec
            }
            StagePairs pairs = pairs(name, policy, source);
            Trained trained = train(name, method, policy, pairs, referenceModel, from, folder, dpo);
            StageSummary summary = writer() ? summarise(name, method, pairs, trained, referenceModel, started) : null;
            if (summary != null) {
                summary.write(folder);
            }
            if (group != null) {
                group.barrier();  // the stage's model and summary are written: the next stage may read them
            }
            return summary != null ? summary : StageSummary.read(folder);
        } finally {
            // The stage's models are closed by now. A full collection first lets the Java heap shrink back (it holds
            // only handles); without the trim malloc keeps the models' pages (2.2 GB resident after a stage at
            // Qwen2.5-0.5B's geometry, with 0.16 GB in use: benchmarks/stage-memory.sh).
            System.gc();
            NativeHeap.trim();
        }
    }

    /** A stage's pairs (built by its method from the policy as the stage starts), tokenised. */
    private record StagePairs(List<PairTokenizer.TokenizedPair> tokenized, int dropped, int truncated) {}

    /** What a stage's training left: the margins s before and after (Lemma 1's diagnostics) and each step's metrics. */
    private record Trained(MarginDiagnostics start, MarginDiagnostics end, List<StepMetrics> steps,
            boolean separateReference) {}

    private StagePairs pairs(String name, Policy policy, PairSource source) throws IOException {
        Generated generated = source.pairs(policy);
        if (generated.pairs().isEmpty()) {
            throw new IllegalStateException(name + ": every pair was dropped (samples empty or equal to the "
                    + "rejected reply); nothing to train on");
        }
        PairTokenizer tokenizer = PairTokenizer.of(policy, config.maxPromptLength(), config.maxLength());
        List<PairTokenizer.TokenizedPair> tokenized = tokenizer.tokenize(generated.pairs());
        return new StagePairs(tokenized, generated.dropped(), tokenizer.truncatedCount());
    }

    /**
     * DPO on the stage's pairs (the paper's Eq. 2) against its reference, checkpointing into {@code folder}, then
     * the trained model saved there; the margins are measured before and after.
     */
    private Trained train(String name, String method, Policy policy, StagePairs pairs, Path referenceModel, Path from,
            Path folder, DpoConfig dpo) throws IOException {
        List<PairTokenizer.TokenizedPair> tokenized = pairs.tokenized();
        long pad = policy.padId();
        int micro = dpo.microBatch();
        boolean separateReference = referenceModel != null && !referenceModel.equals(from);
        // A separate reference model is scored first and freed before the masters load.
        PrecomputedReference separate = separateReference ? scoreWith(referenceModel, tokenized, pad, micro) : null;
        // The policy is scored as the masters leave it (bf16: they continue from the stage's saved fp32 weights):
        // that is also the reference when it is PREVIOUS, and for the warm start, whose reference is the model it
        // starts from.
        PreferenceTraining.Reference how = separateReference ? PreferenceTraining.Reference.given(separate)
                : PreferenceTraining.Reference.scoredOnce();
        StageMargins margins = new StageMargins(policy, tokenized, pad, micro, dpo.beta(), separateReference,
                total -> progress.line(String.format("%s (%s): %d pairs (%d dropped, %d truncated), %d steps", name,
                        method, tokenized.size(), pairs.dropped(), pairs.truncated(), total)));
        List<StepMetrics> steps = PreferenceTraining.of(policy, dpo, tokenized).reference(how).seed(config.seed())
                .across(group, zeroStage).into(folder, config.saveSteps()).progress(name, progress)
                .mergedInto(folder)  // with LoRA, beside the adapters the merged model the next stage starts from
                .hooks(margins).run();
        if (separateReference) {
            separate.close();
        }
        return new Trained(margins.start, margins.end, steps, separateReference);
    }

    /**
     * Lemma 1's diagnostics around a stage's training: the margins s of the policy against the reference as the
     * masters leave it, and again once it has trained.
     */
    private final class StageMargins implements PreferenceTraining.Hooks {
        private final Policy policy;
        private final List<PairTokenizer.TokenizedPair> pairs;
        private final long pad;
        private final int micro;
        private final double beta;
        private final boolean separateReference;
        private final java.util.function.IntConsumer announce;
        private PrecomputedReference atStart;
        private MarginDiagnostics start;
        private MarginDiagnostics end;

        StageMargins(Policy policy, List<PairTokenizer.TokenizedPair> pairs, long pad, int micro, double beta,
                boolean separateReference, java.util.function.IntConsumer announce) {
            this.policy = policy;
            this.pairs = pairs;
            this.pad = pad;
            this.micro = micro;
            this.beta = beta;
            this.separateReference = separateReference;
            this.announce = announce;
        }

        @Override
        public void starting(int total, ReferencePolicy reference) {
            // Without a separate reference model the reference is the policy as the masters leave it: its scores.
            atStart = separateReference ? scored(policy, pairs, pad, micro) : (PrecomputedReference) reference;
            start = MarginDiagnostics.of(MarginDiagnostics.margins(atStart, (PrecomputedReference) reference, beta),
                    config.taus());
            announce.accept(total);
        }

        @Override
        public void trained(ReferencePolicy reference) {
            try (PrecomputedReference atEnd = scored(policy, pairs, pad, micro)) {
                end = MarginDiagnostics.of(MarginDiagnostics.margins(atEnd, (PrecomputedReference) reference, beta),
                        config.taus());
            }
            if (separateReference) {
                atStart.close();  // the policy's own start scores; the reference's are the caller's, closed after
            }
        }
    }

    /** The policy's log-probs on the pairs as its weights are now, in shares across the ranks. */
    private PrecomputedReference scored(Policy policy, List<PairTokenizer.TokenizedPair> tokenized, long pad,
            int micro) {
        return PrecomputedReference.compute(new FrozenReference(policy.decoder()), tokenized, pad, micro, group);
    }

    private StageSummary summarise(String name, String method, StagePairs pairs, Trained trained, Path referenceModel,
            long started) {
        List<StepMetrics> steps = trained.steps();
        return new StageSummary(name, method, pairs.tokenized().size(), pairs.dropped(), pairs.truncated(),
                steps.size(), steps.get(0).loss(), steps.get(steps.size() - 1).loss(),
                steps.stream().mapToDouble(StepMetrics::accuracy).average().orElse(Double.NaN),
                trained.separateReference() ? "base: " + referenceModel : "start of stage", trained.start().summary(),
                trained.end().summary(), (System.nanoTime() - started) / 1e9);
    }

    /** Scores every pair with a frozen model folder, which is freed again before training loads anything. */
    private PrecomputedReference scoreWith(Path model, List<PairTokenizer.TokenizedPair> pairs, long pad, int micro)
            throws IOException {
        try (Policy frozen = Policy.loadWeights(model, config.precision(), device)) {
            return PrecomputedReference.compute(new FrozenReference(frozen.decoder()), pairs, pad, micro, group);
        }
    }

    /** The controlled setting: {@code subsample} items drawn by the seed, in their original order. */
    <T> List<T> subsample(List<T> items) {
        if (config.subsample() == 0 || config.subsample() >= items.size()) {
            return items;
        }
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            idx.add(i);
        }
        Collections.shuffle(idx, new Random(config.seed()));
        List<Integer> chosen = new ArrayList<>(idx.subList(0, config.subsample()));
        Collections.sort(chosen);
        return chosen.stream().map(items::get).toList();
    }
}
