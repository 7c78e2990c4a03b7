package org.driftml.train;

import java.util.List;
import java.util.Map;
import org.driftml.kernels.PreferenceLoss;
import org.driftml.settings.InvalidSettingException;
import org.driftml.settings.Setting;
import org.driftml.settings.Settings;

/**
 * The DPO hyper-parameters, each declared once below (name, meaning, unit, values, source), with the paper's recipe as
 * presets: the released DRIFT configs (RMSprop, lr 5e-7, linear schedule with warmup ratio 0.1, beta 0.1, batch 4,
 * rpo_alpha 0.001, 3 epochs for the warm start, 1 per iteration). A new setting is one declaration (with its
 * default and source) listed in {@link #ALL};
 * the command-line options, {@code --config} keys, {@code run.json} and error messages follow from it.
 */
public final class DpoConfig implements org.driftml.settings.Settable<DpoConfig> {
    public static final Setting<Double> BETA = Setting.real("beta", "KL strength of Eq. 2", "", "> 0", v -> v > 0, 0.1,
            "paper Eq. 2; release config: 0.1");
    public static final Setting<PreferenceLoss.Type> LOSS = Setting.choice("loss", PreferenceLoss.Type.class,
            "the preference loss: sigmoid is DPO's (Eq. 2)", PreferenceLoss.Type.SIGMOID, "paper Eq. 2");
    public static final Setting<Double> LABEL_SMOOTHING = Setting.real("label_smoothing",
            "cDPO / robust label-noise rate", "", "in [0, 0.5)", v -> v >= 0 && v < 0.5, 0.0, "TRL's default: 0");
    public static final Setting<Double> RPO_ALPHA = Setting.real("rpo_alpha",
            "weight of the chosen replies' NLL added to the loss (0 turns it off)", "", ">= 0", v -> v >= 0, 0.001,
            "release config: 0.001");
    public static final Setting<Double> LEARNING_RATE = Setting.real("learning_rate",
            "peak learning rate of the linear schedule", "", "> 0", v -> v > 0, 5e-7, "release config: 5e-7");
    public static final Setting<Double> WARMUP_RATIO = Setting.real("warmup_ratio",
            "share of steps warming up linearly from 0", "", "in [0, 1)", v -> v >= 0 && v < 1, 0.1,
            "release config: 0.1");
    public static final Setting<Double> WEIGHT_DECAY = Setting.real("weight_decay", "RMSprop weight decay", "",
            ">= 0", v -> v >= 0, 0.0, "TRL's default: 0");
    public static final Setting<Double> MAX_GRAD_NORM = Setting.real("max_grad_norm",
            "clip the global gradient norm to this (<= 0 turns clipping off)", "", "a finite number", v -> true, 1.0,
            "TRL's default: 1.0");
    public static final Setting<Integer> BATCH_SIZE = Setting.whole("batch_size",
            "pairs per optimiser step over all processes (processes x micro-batch x accumulation)", "pairs", ">= 1",
            v -> v >= 1, 4, "drift's choice for drift dpo: 4 (the recipes: 32)").alsoCalled("global_batch_size");
    public static final Setting<Integer> GRADIENT_ACCUMULATION = Setting.whole("gradient_accumulation",
            "micro-batches per optimiser step in each process (batch_size splits into processes x this)",
            "micro-batches", ">= 1", v -> v >= 1, 1,
            "release config: gradient_accumulation_steps 1").alsoCalled("accumulation", "gradient_accumulation_steps");
    public static final Setting<Integer> EPOCHS = Setting.whole("epochs", "passes over the pairs", "", ">= 1",
            v -> v >= 1, 1, "release config: num_train_epochs 3 (warm start), 1 (iteration)")
            .alsoCalled("num_train_epochs");
    /**
     * Keep only each layer's input in the forward and recompute the layer in the backward (TRL's
     * gradient_checkpointing; the released DRIFT configs turn it on): activation memory of one layer instead of all,
     * for one more forward of compute. Off in the presets: on a CPU memory is rarely the limit.
     */
    public static final Setting<Boolean> GRADIENT_CHECKPOINTING = Setting.flag("gradient_checkpointing",
            "recompute each layer in the backward instead of keeping its activations (less memory)", false,
            "drift's choice: off (the release: on)");

    /** Every DPO setting, in the order {@code run.json} records them. */
    public static final List<Setting<?>> ALL = List.of(BETA, LOSS, LABEL_SMOOTHING, RPO_ALPHA, LEARNING_RATE,
            WARMUP_RATIO, WEIGHT_DECAY, MAX_GRAD_NORM, BATCH_SIZE, GRADIENT_ACCUMULATION, EPOCHS,
            GRADIENT_CHECKPOINTING);

    /** The declared defaults: one DRIFT iteration's recipe. */
    private static final Settings ITERATION = Settings.defaults(ALL);

    private final Settings values;

    private DpoConfig(Settings values) {
        int batch = values.get(BATCH_SIZE), accumulation = values.get(GRADIENT_ACCUMULATION);
        if (batch % accumulation != 0) {
            throw new InvalidSettingException(GRADIENT_ACCUMULATION, accumulation,
                    "must be a divisor of batch_size (" + batch + ")");
        }
        this.values = values;
    }

    /** One DRIFT iteration on freshly built pairs: 1 epoch. */
    public static DpoConfig iteration() {
        return new DpoConfig(ITERATION);
    }

    /** DRIFT's warm start on the seed (DSAT -> SAT) pairs: 3 epochs. */
    public static DpoConfig warmStart() {
        return iteration().with(EPOCHS, 3);
    }

    /**
     * This recipe with {@code s} set to {@code value}.
     *
     * @throws InvalidSettingException naming the setting when it does not take the value
     */
    @Override
    public <T> DpoConfig with(Setting<T> s, T value) {
        return new DpoConfig(values.with(s, value));
    }

    public <T> T get(Setting<T> s) {
        return values.get(s);
    }

    /** Every setting under its key, in a fixed order: what a run's record (run.json) holds. */
    public Map<String, Object> settings() {
        return values.recorded();
    }

    public double beta() {
        return get(BETA);
    }

    public PreferenceLoss.Type loss() {
        return get(LOSS);
    }

    public double labelSmoothing() {
        return get(LABEL_SMOOTHING);
    }

    public double rpoAlpha() {
        return get(RPO_ALPHA);
    }

    public double learningRate() {
        return get(LEARNING_RATE);
    }

    public double warmupRatio() {
        return get(WARMUP_RATIO);
    }

    public double weightDecay() {
        return get(WEIGHT_DECAY);
    }

    public double maxGradNorm() {
        return get(MAX_GRAD_NORM);
    }

    public int batchSize() {
        return get(BATCH_SIZE);
    }

    public int accumulation() {
        return get(GRADIENT_ACCUMULATION);
    }

    public int epochs() {
        return get(EPOCHS);
    }

    public boolean gradientCheckpointing() {
        return get(GRADIENT_CHECKPOINTING);
    }

    /** Pairs per forward and backward in one process: batch_size / gradient_accumulation. */
    public int microBatch() {
        return microBatch(1);
    }

    /**
     * Pairs per forward and backward in each of {@code processes} data-parallel processes: batch_size (pairs per
     * optimiser step over all processes) / (processes x gradient_accumulation), TRL's per_device_train_batch_size.
     *
     * @throws InvalidSettingException naming batch_size when the split does not divide
     */
    public int microBatch(int processes) {
        int split = processes * accumulation();
        if (batchSize() % split != 0) {
            throw new InvalidSettingException(BATCH_SIZE, batchSize(), "must split evenly into " + processes
                    + " processes x gradient_accumulation " + accumulation() + " = " + split + " micro-batches");
        }
        return batchSize() / split;
    }

    public DpoConfig withLearningRate(double lr) {
        return with(LEARNING_RATE, lr);
    }

    /** This recipe with {@code batch} pairs per step in {@code accumulationSteps} micro-batches. */
    public DpoConfig withBatch(int batch, int accumulationSteps) {
        return new DpoConfig(values.with(BATCH_SIZE, batch).with(GRADIENT_ACCUMULATION, accumulationSteps));
    }

    public DpoConfig withEpochs(int n) {
        return with(EPOCHS, n);
    }

    /** This recipe with another DPO beta and RPO weight. */
    public DpoConfig withBeta(double b, double rpo) {
        return with(BETA, b).with(RPO_ALPHA, rpo);
    }

    /** This recipe with activation checkpointing on or off. */
    public DpoConfig withGradientCheckpointing(boolean on) {
        return with(GRADIENT_CHECKPOINTING, on);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DpoConfig other && values.equals(other.values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        return "DpoConfig" + values;
    }
}
