package org.driftml.cli;

import java.nio.file.Path;
import java.util.List;
import org.driftml.drift.DriftConfig;
import org.driftml.drift.FeedbackPrompt;
import org.driftml.model.Precision;
import org.driftml.train.DpoConfig;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The settings drift warmstart and drift train share; defaults are the paper's recipe (DriftConfig.paper()). */
final class LoopOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model folder to start from")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "Folder written by drift mine")
    Path data;

    @Option(names = "--output", required = true, paramLabel = "DIR",
            description = {"Run folder: warmstart/ and iteration-k/ model folders with pairs, metrics, plots,",
                    "summary.json. Running again on it resumes where it stopped."})
    Path output;

    @Option(names = "--reference", defaultValue = "base", paramLabel = "base|previous",
            description = "DPO reference: the frozen input model (default) or the policy at each iteration's start")
    String reference;

    @Option(names = "--prompt-style", defaultValue = "transcript", paramLabel = "transcript|chat",
            description = {"How the feedback is shown when sampling a positive: the released plain transcript",
                    "(default) or the model's chat template"})
    String promptStyle;

    @Option(names = "--temperature", defaultValue = "0.7", paramLabel = "T", description = "Sampling temperature (default: 0.7)")
    double temperature;

    @Option(names = "--top-p", defaultValue = "0.9", paramLabel = "P", description = "Nucleus mass (default: 0.9)")
    double topP;

    @Option(names = "--max-new-tokens", defaultValue = "512", paramLabel = "N", description = "Longest sample (default: 512)")
    int maxNewTokens;

    @Option(names = "--generation-batch", defaultValue = "8", paramLabel = "N",
            description = "Prompts sampled together; also the unit of crash-safe progress (default: 8)")
    int generationBatch;

    @Option(names = "--max-prompt-length", defaultValue = "1024", paramLabel = "N", description = "TRL's max_prompt_length (default: 1024)")
    int maxPromptLength;

    @Option(names = "--max-length", defaultValue = "2048", paramLabel = "N", description = "TRL's max_length (default: 2048)")
    int maxLength;

    @Option(names = "--learning-rate", defaultValue = "5e-7", paramLabel = "LR", description = "Peak learning rate, both stages (default: 5e-7)")
    double learningRate;

    @Option(names = "--beta", defaultValue = "0.1", paramLabel = "B", description = "DPO beta (default: 0.1)")
    double beta;

    @Option(names = "--rpo-alpha", defaultValue = "0.001", paramLabel = "A", description = "NLL weight on chosen (default: 0.001)")
    double rpoAlpha;

    @Option(names = "--batch-size", defaultValue = "4", paramLabel = "N", description = "Pairs per optimiser step (default: 4)")
    int batchSize;

    @Option(names = "--accumulation", defaultValue = "1", paramLabel = "N", description = "Micro-batches per step (default: 1)")
    int accumulation;

    @Option(names = "--warmstart-epochs", defaultValue = "3", paramLabel = "N", description = "Epochs over the seed pairs (default: 3)")
    int warmstartEpochs;

    @Option(names = "--no-warm-start", description = "Skip the warm start even when seed pairs exist")
    boolean noWarmStart;

    @Option(names = "--subsample", defaultValue = "0", paramLabel = "N",
            description = "Controlled setting: use N items drawn by seed (default: 0, all: the full setting)")
    int subsample;

    @Option(names = "--save-steps", defaultValue = "50", paramLabel = "N", description = "Checkpoint every N steps (default: 50)")
    int saveSteps;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Seeds data order, sampling, subsampling (default: 42)")
    long seed;

    @Option(names = "--gradient-checkpointing",
            description = "Recompute each layer in the backward instead of keeping its activations (less memory)")
    boolean gradientCheckpointing;

    @Mixin
    DeviceOption device = new DeviceOption();

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
                List.of(0.1, 0.25, 0.5));
    }
}
