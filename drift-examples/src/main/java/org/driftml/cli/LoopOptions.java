package org.driftml.cli;

import java.nio.file.Path;
import org.driftml.drift.DriftConfig;
import org.driftml.drift.FeedbackPrompt;
import org.driftml.model.spec.Precision;
import org.driftml.train.DpoConfig;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The settings drift warmstart and drift train share; their defaults are the paper's recipe ({@link PaperDefaults}). */
final class LoopOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model folder to start from")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "Folder written by drift mine")
    Path data;

    @Option(names = "--output", required = true, paramLabel = "DIR",
            description = {"Run folder: warmstart/ and iteration-k/ model folders with pairs, metrics, plots,",
                    "summary.json. Running again on it resumes where it stopped."})
    Path output;

    @Option(names = "--reference", paramLabel = "base|previous",
            description = "DPO reference: the frozen input model or the policy at each iteration's start (default: ${DEFAULT-VALUE})")
    String reference;

    @Option(names = "--prompt-style", paramLabel = "transcript|chat",
            description = {"How the feedback is shown when sampling a positive: the released plain transcript",
                    "or the model's chat template (default: ${DEFAULT-VALUE})"})
    String promptStyle;

    @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature (default: ${DEFAULT-VALUE})")
    double temperature;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus mass (default: ${DEFAULT-VALUE})")
    double topP;

    @Option(names = "--max-new-tokens", paramLabel = "N", description = "Longest sample (default: ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--generation-batch", paramLabel = "N",
            description = "Prompts sampled together; also the unit of crash-safe progress (default: ${DEFAULT-VALUE})")
    int generationBatch;

    @Option(names = "--max-prompt-length", paramLabel = "N", description = "TRL's max_prompt_length (default: ${DEFAULT-VALUE})")
    int maxPromptLength;

    @Option(names = "--max-length", paramLabel = "N", description = "TRL's max_length (default: ${DEFAULT-VALUE})")
    int maxLength;

    @Option(names = "--learning-rate", paramLabel = "LR", description = "Peak learning rate, both stages (default: ${DEFAULT-VALUE})")
    double learningRate;

    @Option(names = "--beta", paramLabel = "B", description = "DPO beta (default: ${DEFAULT-VALUE})")
    double beta;

    @Option(names = "--rpo-alpha", paramLabel = "A", description = "NLL weight on chosen (default: ${DEFAULT-VALUE})")
    double rpoAlpha;

    @Option(names = "--batch-size", paramLabel = "N", description = "Pairs per optimiser step (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--accumulation", paramLabel = "N", description = "Micro-batches per step (default: ${DEFAULT-VALUE})")
    int accumulation;

    @Option(names = "--warmstart-epochs", paramLabel = "N", description = "Epochs over the seed pairs (default: ${DEFAULT-VALUE})")
    int warmstartEpochs;

    @Option(names = "--no-warm-start", description = "Skip the warm start even when seed pairs exist")
    boolean noWarmStart;

    @Option(names = "--subsample", paramLabel = "N",
            description = "Controlled setting: use N items drawn by seed (default: ${DEFAULT-VALUE}; 0 is all of them, the full setting)")
    int subsample;

    @Option(names = "--save-steps", paramLabel = "N", description = "Checkpoint every N steps (default: ${DEFAULT-VALUE})")
    int saveSteps;

    @Option(names = "--seed", paramLabel = "S", description = "Seeds data order, sampling, subsampling (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--gradient-checkpointing",
            description = "Recompute each layer in the backward instead of keeping its activations (less memory)")
    boolean gradientCheckpointing;

    @Mixin
    DeviceOption device = new DeviceOption();

    @Mixin
    LoraOptions lora = new LoraOptions();

    @Mixin
    WorkerOptions workers = new WorkerOptions();

    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "float32|bfloat16",
            description = "Compute dtype over fp32 master weights (default: float32; the paper: bfloat16)")
    String dtype;

    @Option(names = "--config", paramLabel = "FILE",
            description = {"JSON or YAML settings whose keys are these long option names (or with underscores);",
                    "the command line wins"})
    Path configFile;

    DriftConfig config(DriftConfig.Method method, int iterations) {
        DriftConfig.Reference ref = switch (reference.toLowerCase(java.util.Locale.ROOT)) {
            case "base" -> DriftConfig.Reference.BASE;
            case "previous" -> DriftConfig.Reference.PREVIOUS;
            default -> throw new IllegalArgumentException("--reference must be base or previous, got " + reference);
        };
        FeedbackPrompt.Style style = switch (promptStyle.toLowerCase(java.util.Locale.ROOT)) {
            case "transcript" -> FeedbackPrompt.Style.TRANSCRIPT;
            case "chat" -> FeedbackPrompt.Style.CHAT;
            default -> throw new IllegalArgumentException("--prompt-style must be transcript or chat, got " + promptStyle);
        };
        DpoConfig iteration = DpoConfig.iteration().withBeta(beta, rpoAlpha).withLearningRate(learningRate)
                .withBatch(batchSize, accumulation).withGradientCheckpointing(gradientCheckpointing);
        DpoConfig warm = noWarmStart ? null : DpoConfig.warmStart().withBeta(beta, rpoAlpha)
                .withLearningRate(learningRate).withBatch(batchSize, accumulation).withEpochs(warmstartEpochs)
                .withGradientCheckpointing(gradientCheckpointing);
        return new DriftConfig(method, iterations, ref, style, temperature, topP, maxNewTokens, generationBatch,
                maxPromptLength, maxLength, warm, iteration, Precision.parse(dtype), subsample, saveSteps, seed,
                DriftConfig.paper().taus(), lora.config());
    }
}
