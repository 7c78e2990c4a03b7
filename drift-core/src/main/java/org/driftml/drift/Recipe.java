package org.driftml.drift;

import java.util.LinkedHashMap;
import java.util.Map;
import org.driftml.model.spec.Precision;
import org.driftml.settings.Setting;
import org.driftml.train.DpoConfig;
import org.driftml.train.PairTokenizer;

/**
 * The paper's experiment as a named preset: every setting of a DRIFT run with the value the paper (or, where the paper
 * is silent, the authors' release) gives it and where that value comes from ({@code paper:Table 6},
 * {@code release:rpo_alpha}). {@link #PAPER} is Eq. 2 as Tables 5 and 6 train it; {@link #RELEASE} differs only in the
 * release's optional RPO term. A setting neither names keeps drift's declared default and its source.
 */
public enum Recipe {
    /** Eq. 2 without an NLL term, as the paper's headline rows (Table 4 lists the "-RPO" models apart). */
    PAPER(0.0, "paper:Eq. 2"),
    /** The release's configs: the same with rpo_alpha 0.001 ("optional (RPO: DPO+NLL to make it more stable)"). */
    RELEASE(0.001, "release:rpo_alpha");

    /** A recipe's value for one setting and where it comes from. */
    public record Value(Object value, String source) {}

    private final Map<Setting<?>, Value> shared = new LinkedHashMap<>();
    private final Value warmStartEpochs = new Value(3, "paper:Table 5");
    private final Value iterationEpochs = new Value(1, "paper:Table 6");

    Recipe(double rpoAlpha, String rpoSource) {
        put(DriftConfig.METHOD, DriftConfig.Method.DRIFT, "paper:Sec. 3");
        put(DriftConfig.ITERATIONS, 2, "paper:Table 2");
        // "Each iteration builds upon the previous model checkpoint ... only the training data and base model
        // checkpoint changing between iterations"; the release gives no reference, so TRL makes it from the
        // checkpoint the stage starts from.
        put(DriftConfig.REFERENCE, DriftConfig.Reference.PREVIOUS, "paper:App. D.2");
        put(DriftConfig.PROMPT_STYLE, FeedbackPrompt.Style.RELEASE, "release:gen-drift.py");
        put(DriftConfig.TEMPERATURE, 0.7, "release:gen-drift.py");
        put(DriftConfig.TOP_P, 0.9, "release:gen-drift.py");
        put(DriftConfig.MAX_NEW_TOKENS, 512, "release:gen-drift.py");
        put(PairTokenizer.MAX_PROMPT_LENGTH, 1024, "release:max_prompt_length");
        put(PairTokenizer.MAX_LENGTH, 2048, "paper:Table 6");
        put(DriftConfig.DTYPE, Precision.BF16, "paper:Table 6");
        put(DriftConfig.SEED, 42L, "release:seed");
        put(DpoConfig.LEARNING_RATE, 5e-7, "paper:Table 6");
        put(DpoConfig.BETA, 0.1, "paper:Table 6");
        put(DpoConfig.LOSS, org.driftml.kernels.PreferenceLoss.Type.SIGMOID, "paper:Eq. 2");
        put(DpoConfig.RPO_ALPHA, rpoAlpha, rpoSource);
        put(DpoConfig.WARMUP_RATIO, 0.1, "release:warmup_ratio");
        // Table 6's batch 4 is the release's per_device_train_batch_size on 8 H100s (App. D), with no accumulation:
        // 32 pairs per optimiser step.
        put(DpoConfig.BATCH_SIZE, 32, "release:per_device_train_batch_size 4 x 8 GPUs");
        put(DpoConfig.GRADIENT_ACCUMULATION, 1, "release:gradient_accumulation_steps");
    }

    private <T> void put(Setting<T> s, T value, String source) {
        shared.put(s, new Value(s.check(value), source));
    }

    /** The recipe named {@code text} ({@code paper}, {@code release}). */
    public static Recipe parse(String text) {
        for (Recipe r : values()) {
            if (r.key().equalsIgnoreCase(text.trim())) {
                return r;
            }
        }
        throw new IllegalArgumentException("not a recipe: " + text + " (paper or release)");
    }

    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The recipe's value for {@code s} (the same in every stage but the epochs), or null where it names none. */
    public Value value(Setting<?> s) {
        return shared.get(s);
    }

    /** Every setting the recipe names, in order, with its value and source (the epochs apart). */
    public Map<Setting<?>, Value> named() {
        return java.util.Collections.unmodifiableMap(shared);
    }

    public Value warmStartEpochs() {
        return warmStartEpochs;
    }

    public Value iterationEpochs() {
        return iterationEpochs;
    }

    /** The run this recipe describes: drift's declared defaults with the recipe's values in every stage. */
    public DriftConfig config() {
        DriftConfig c = DriftConfig.declaredDefaults();
        DpoConfig warm = DpoConfig.iteration().withEpochs((Integer) warmStartEpochs.value());
        DpoConfig iteration = DpoConfig.iteration().withEpochs((Integer) iterationEpochs.value());
        for (Map.Entry<Setting<?>, Value> e : shared.entrySet()) {
            if (DriftConfig.ALL.contains(e.getKey())) {
                c = with(c, e.getKey(), e.getValue().value());
            } else {
                warm = with(warm, e.getKey(), e.getValue().value());
                iteration = with(iteration, e.getKey(), e.getValue().value());
            }
        }
        return c.withDpo(warm, iteration);
    }

    private static <C extends org.driftml.settings.Settable<C>, T> C with(C config, Setting<T> s, Object value) {
        return config.with(s, s.type().cast(value));
    }
}
