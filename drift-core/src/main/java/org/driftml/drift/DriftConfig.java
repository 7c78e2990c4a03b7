package org.driftml.drift;

import java.util.List;
import java.util.Map;
import org.driftml.model.Sampler;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.spec.Precision;
import org.driftml.settings.InvalidSettingException;
import org.driftml.settings.Setting;
import org.driftml.settings.Settings;
import org.driftml.train.DpoConfig;
import org.driftml.train.PairTokenizer;

/**
 * Everything a DRIFT run (or its SPIN and IterDPO baselines) needs beyond the data and the model. Each setting is
 * declared once below, in groups: the loop, sampling, lengths and the run; the DPO settings of the warm start and of
 * each iteration are {@link DpoConfig}s; the LoRA settings a {@link LoraConfig}. {@link #paper()} is the paper's
 * recipe, and each {@code with} returns a changed copy (checked by the setting's own declaration).
 */
public final class DriftConfig implements org.driftml.settings.Settable<DriftConfig> {
    public enum Method {
        DRIFT,
        SPIN,
        ITERDPO;

        public static Method parse(String s) {
            return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT).replace("-", ""));
        }
    }

    /** Which data the iterations build pairs from (paper Sec. 4.1). */
    public enum Data {
        /** Real users' DSAT turns (and SAT replies for SPIN): the mined logs' items. */
        WILDFEEDBACK,
        /** Records that each hold a prompt with a chosen and a rejected reply (Table 3). */
        ULTRAFEEDBACK
    }

    public enum Reference {
        BASE,
        PREVIOUS
    }

    /** How an iteration's prompts share the sampler's slots. */
    public enum SampleSchedule {
        /** A slot refilled as soon as its reply ends, across chunks: the fastest. */
        CONTINUOUS,
        /** Each chunk decoded on its own: the same batches whenever and wherever a chunk is sampled. */
        CHUNKS
    }

    public static final Setting<Method> METHOD = Setting.choice("method", Method.class,
            "which pairs each iteration builds: drift (logged y-, fresh y+), spin, iterdpo", Method.DRIFT,
            "paper Sec. 3");
    public static final Setting<Data> SETTING = Setting.choice("setting", Data.class,
            "the data each iteration builds pairs from: wildfeedback (DSAT items, SAT replies) or ultrafeedback "
                    + "(prompts with both replies: DRIFT keeps the rejected, SPIN the chosen, IterDPO ranks two "
                    + "samples with --reward-model)", Data.WILDFEEDBACK, "paper Sec. 4.1");
    public static final Setting<Integer> ITERATIONS = Setting.whole("iterations",
            "K, the sample-then-train iterations after the warm start", "", ">= 0", v -> v >= 0, 2, "paper Sec. 4: 2");
    public static final Setting<Reference> REFERENCE = Setting.choice("reference", Reference.class,
            "DPO reference: the frozen input model, or the policy at each stage's start", Reference.PREVIOUS,
            "paper App. D.2: the checkpoint each stage starts from");
    public static final Setting<FeedbackPrompt.Style> PROMPT_STYLE = Setting.choice("prompt_style",
            FeedbackPrompt.Style.class, "how the feedback is shown when sampling a positive: drift's plain "
                    + "transcript, the model's chat template, or the released script's transcript and y+ cut, byte "
                    + "for byte", FeedbackPrompt.Style.RELEASE, "release: gen-drift.py");
    public static final Setting<Double> TEMPERATURE = Sampler.TEMPERATURE;
    public static final Setting<Double> TOP_P = Sampler.TOP_P;
    public static final Setting<Integer> MAX_NEW_TOKENS = Sampler.MAX_NEW_TOKENS;
    public static final Setting<SampleSchedule> SAMPLE_SCHEDULE = Setting.choice("sample_schedule",
            SampleSchedule.class, "continuous: a sampling slot is refilled as soon as its reply ends, across chunks "
                    + "(1.9x static batches on mixed lengths, docs/serving.md); chunks: each chunk of generation_batch "
                    + "prompts decoded on its own, so a resumed or multi-process run samples the very texts an "
                    + "uninterrupted one does even in bf16, whose batched round-off flips near-ties",
            SampleSchedule.CONTINUOUS, "drift's choice: continuous");
    public static final Setting<Integer> GENERATION_BATCH = Setting.whole("generation_batch",
            "prompts sampled together; also the unit of crash-safe progress", "prompts", ">= 1", v -> v >= 1, 8,
            "drift's choice: 8 (the release: 16)");
    public static final Setting<Precision> DTYPE = Precision.DTYPE;
    public static final Setting<Integer> SUBSAMPLE = Setting.whole("subsample",
            "controlled setting: use this many items, drawn by seed (0: all of them, the full setting)", "items",
            ">= 0", v -> v >= 0, 0, "drift's choice: 0");
    public static final Setting<Integer> SAVE_STEPS = Setting.whole("save_steps",
            "checkpoint every this many optimiser steps within a stage (and always at its end)", "steps", ">= 0",
            v -> v >= 0, 50, "drift's choice: 50");
    public static final Setting<Long> SEED = Setting.wide("seed",
            "data order, sampling and subsampling all derive from it", 42, "release config: 42");

    public static final List<Setting<?>> LOOP = List.of(METHOD, SETTING, ITERATIONS, REFERENCE);
    public static final List<Setting<?>> SAMPLING = List.of(PROMPT_STYLE, TEMPERATURE, TOP_P, MAX_NEW_TOKENS,
            GENERATION_BATCH, SAMPLE_SCHEDULE);
    public static final List<Setting<?>> LENGTHS = List.of(PairTokenizer.MAX_PROMPT_LENGTH, PairTokenizer.MAX_LENGTH);
    public static final List<Setting<?>> RUN = List.of(DTYPE, SUBSAMPLE, SAVE_STEPS, SEED);
    public static final List<Setting<?>> ALL = Settings.concat(LOOP, SAMPLING, LENGTHS, RUN);

    /** The declared defaults (a recipe sets most of them: {@link Recipe}). */
    private static final Settings DEFAULTS = Settings.defaults(ALL);

    private final Settings values;
    private final DpoConfig warmStart;
    private final DpoConfig iteration;
    private final List<Double> taus;
    private final LoraConfig lora;

    /**
     * @param warmStart DPO settings on the DSAT-to-SAT seed pairs, or null to skip the warm start
     * @param iteration DPO settings for each iteration's pairs (paper: 1 epoch)
     * @param taus      thresholds for the diagnostic share of pairs with sigma(-s) >= tau
     * @param lora      LoRA adapters trained and merged at each stage, or null for full fine-tuning
     */
    private DriftConfig(Settings values, DpoConfig warmStart, DpoConfig iteration, List<Double> taus,
            LoraConfig lora) {
        // Checked here, before a run starts: a sampling setting checked only when the first iteration samples
        // failed after the warm start had trained, with run.json already recording it.
        int prompt = values.get(PairTokenizer.MAX_PROMPT_LENGTH), total = values.get(PairTokenizer.MAX_LENGTH);
        if (total <= prompt) {
            throw new InvalidSettingException(PairTokenizer.MAX_LENGTH, total,
                    "must be greater than max_prompt_length (" + prompt + ")");
        }
        if (iteration == null) {
            throw new IllegalArgumentException("iteration: DPO settings must be set");
        }
        for (double tau : taus) {
            if (!(tau > 0 && tau < 1)) {
                throw new IllegalArgumentException("taus must be each in (0, 1), got " + taus);
            }
        }
        this.values = values;
        this.warmStart = warmStart;
        this.iteration = iteration;
        this.taus = List.copyOf(taus);
        this.lora = lora;
    }

    /**
     * The paper's recipe ({@link Recipe#PAPER}): DRIFT, K = 2, each stage against the checkpoint it starts from, 32
     * pairs per step, bf16, Eq. 2 without RPO, the release's y+ prompt, T 0.7, top-p 0.9, 512 new tokens.
     */
    public static DriftConfig paper() {
        return Recipe.PAPER.config();
    }

    /** The release's recipe ({@link Recipe#RELEASE}): the paper's with rpo_alpha 0.001. */
    public static DriftConfig release() {
        return Recipe.RELEASE.config();
    }

    /** Every setting at its declared default, DPO's presets, no LoRA: what a {@link Recipe} starts from. */
    static DriftConfig declaredDefaults() {
        return new DriftConfig(DEFAULTS, DpoConfig.warmStart(), DpoConfig.iteration(), List.of(0.1, 0.25, 0.5), null);
    }

    /**
     * This config with {@code s} set to {@code value}.
     *
     * @throws InvalidSettingException naming the setting when it does not take the value
     */
    @Override
    public <T> DriftConfig with(Setting<T> s, T value) {
        return new DriftConfig(values.with(s, value), warmStart, iteration, taus, lora);
    }

    public <T> T get(Setting<T> s) {
        return values.get(s);
    }

    /** Every setting of the loop, sampling, lengths and run under its key, in declared order. */
    public Map<String, Object> settings() {
        return values.recorded();
    }

    /**
     * Each stage trains fresh LoRA adapters on the model the stage starts from, then merges them in: the stage's
     * folder holds both the adapters (PEFT's format) and the merged model the next stage starts from. The reference
     * "previous" is then the base with the adapters off, exactly; "base" is the original model. Null: every weight
     * trains (the paper's full fine-tuning).
     */
    public DriftConfig withLora(LoraConfig l) {
        return new DriftConfig(values, warmStart, iteration, taus, l);
    }

    /** The DPO settings of the warm start (null: none) and of each iteration. */
    public DriftConfig withDpo(DpoConfig warm, DpoConfig iter) {
        return new DriftConfig(values, warm, iter, taus, lora);
    }

    public DriftConfig withMethod(Method m) {
        return with(METHOD, m);
    }

    public DriftConfig withIterations(int k) {
        return with(ITERATIONS, k);
    }

    /** The sampling group at once. */
    public DriftConfig withSampling(FeedbackPrompt.Style style, double t, double p, int newTokens, int batch) {
        return with(PROMPT_STYLE, style).with(TEMPERATURE, t).with(TOP_P, p).with(MAX_NEW_TOKENS, newTokens)
                .with(GENERATION_BATCH, batch);
    }

    /** The lengths group at once (checked together: the total must exceed the prompt's). */
    public DriftConfig withLengths(int prompt, int total) {
        return new DriftConfig(values.with(PairTokenizer.MAX_PROMPT_LENGTH, prompt).with(PairTokenizer.MAX_LENGTH,
                total), warmStart, iteration, taus, lora);
    }

    /** The run group at once. */
    public DriftConfig withRun(Precision p, int subsampleTo, int save, long s) {
        return with(DTYPE, p).with(SUBSAMPLE, subsampleTo).with(SAVE_STEPS, save).with(SEED, s);
    }

    public Method method() {
        return get(METHOD);
    }

    public Data data() {
        return get(SETTING);
    }

    public int iterations() {
        return get(ITERATIONS);
    }

    public Reference reference() {
        return get(REFERENCE);
    }

    public FeedbackPrompt.Style promptStyle() {
        return get(PROMPT_STYLE);
    }

    public double temperature() {
        return get(TEMPERATURE);
    }

    public double topP() {
        return get(TOP_P);
    }

    public int maxNewTokens() {
        return get(MAX_NEW_TOKENS);
    }

    public int generationBatch() {
        return get(GENERATION_BATCH);
    }

    public SampleSchedule sampleSchedule() {
        return get(SAMPLE_SCHEDULE);
    }

    public DriftConfig withSampleSchedule(SampleSchedule s) {
        return with(SAMPLE_SCHEDULE, s);
    }

    public int maxPromptLength() {
        return get(PairTokenizer.MAX_PROMPT_LENGTH);
    }

    public int maxLength() {
        return get(PairTokenizer.MAX_LENGTH);
    }

    public Precision precision() {
        return get(DTYPE);
    }

    public int subsample() {
        return get(SUBSAMPLE);
    }

    public int saveSteps() {
        return get(SAVE_STEPS);
    }

    public long seed() {
        return get(SEED);
    }

    public DpoConfig warmStart() {
        return warmStart;
    }

    public DpoConfig iteration() {
        return iteration;
    }

    public List<Double> taus() {
        return taus;
    }

    public LoraConfig lora() {
        return lora;
    }

    @Override
    public String toString() {
        return "DriftConfig" + values + " warmStart=" + warmStart + " iteration=" + iteration + " taus=" + taus
                + " lora=" + lora;
    }
}
