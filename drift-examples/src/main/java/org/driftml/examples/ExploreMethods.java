package org.driftml.examples;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.driftml.output.Progress;
import org.driftml.model.RewardModel;
import org.driftml.eval.EvalPrompts;
import org.driftml.eval.Exploration;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.model.TextEmbedder;
import org.driftml.text.ChatMessage;

/**
 * The paper's exploration coverage (Sec. 4.3) of several trained models from Java: n replies per prompt from each,
 * embedded by the first model, rewarded by a reward model, projected by UMAP, and each model's share of the
 * high-reward region. The same as {@code drift explore} with its defaults, at a small n.
 *
 * <pre>ExploreMethods PROMPTS_FILE REWARD_MODEL_DIR OUTPUT_DIR NAME=MODEL_DIR...</pre>
 */
public final class ExploreMethods {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: ExploreMethods PROMPTS_FILE REWARD_MODEL_DIR OUTPUT_DIR NAME=MODEL_DIR...");
            System.exit(2);
        }
        List<List<ChatMessage>> prompts = EvalPrompts.read(Path.of(args[0])).stream()
                .map(EvalPrompts.EvalPrompt::messages).toList();
        List<Exploration.Method> methods = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            String[] nameDir = args[i].split("=", 2);
            methods.add(new Exploration.Method(nameDir[0], Path.of(nameDir[1])));
        }
        Path out = Path.of(args[2]);
        Exploration.Settings settings = Exploration.Settings.paper(16, 64, 7);  // n = 16 replies, 64 new tokens
        Map<String, List<List<String>>> replies = Exploration.sample(prompts, methods, settings, Precision.FP32,
                ComputeDevice.CPU, out, Progress.printing(System.err));
        try (RewardModel reward = RewardModel.load(Path.of(args[1]), Precision.FP32, ComputeDevice.CPU);
                TextEmbedder embedder = TextEmbedder.load(methods.get(0).model(), Precision.FP32, ComputeDevice.CPU,
                        TextEmbedder.Pooling.MEAN, Integer.MAX_VALUE)) {
            List<Exploration.PromptResult> results = Exploration.analyse(prompts, replies, reward, embedder,
                    settings, Progress.SILENT);
            Exploration.write(results, settings, out, 3).forEach((m, share) ->
                    System.out.printf("%-12s share of the high-reward region %.3f%n", m, share));
        }
    }

    private ExploreMethods() {}
}
