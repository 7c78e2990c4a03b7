package org.driftml.cli;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.driftml.drift.DriftConfig;
import org.driftml.train.DpoConfig;
import picocli.CommandLine;

/**
 * The defaults of drift warmstart and drift train, read from the paper's recipe ({@link DriftConfig#paper()} and its
 * DPO presets) instead of restated in the options, so the two cannot disagree.
 */
final class PaperDefaults implements CommandLine.IDefaultValueProvider {
    private static final Map<String, String> VALUES = values();

    private static Map<String, String> values() {
        DriftConfig paper = DriftConfig.paper();
        DpoConfig iteration = paper.iteration(), warm = paper.warmStart();
        Map<String, String> m = new HashMap<>();
        m.put("--reference", paper.reference().name().toLowerCase(Locale.ROOT));
        m.put("--prompt-style", paper.promptStyle().name().toLowerCase(Locale.ROOT));
        m.put("--temperature", String.valueOf(paper.temperature()));
        m.put("--top-p", String.valueOf(paper.topP()));
        m.put("--max-new-tokens", String.valueOf(paper.maxNewTokens()));
        m.put("--generation-batch", String.valueOf(paper.generationBatch()));
        m.put("--max-prompt-length", String.valueOf(paper.maxPromptLength()));
        m.put("--max-length", String.valueOf(paper.maxLength()));
        m.put("--learning-rate", String.valueOf(iteration.learningRate()));
        m.put("--beta", String.valueOf(iteration.beta()));
        m.put("--rpo-alpha", String.valueOf(iteration.rpoAlpha()));
        m.put("--batch-size", String.valueOf(iteration.batchSize()));
        m.put("--accumulation", String.valueOf(iteration.accumulation()));
        m.put("--warmstart-epochs", String.valueOf(warm.epochs()));
        m.put("--subsample", String.valueOf(paper.subsample()));
        m.put("--save-steps", String.valueOf(paper.saveSteps()));
        m.put("--seed", String.valueOf(paper.seed()));
        return Map.copyOf(m);
    }

    @Override
    public String defaultValue(CommandLine.Model.ArgSpec arg) {
        return arg instanceof CommandLine.Model.OptionSpec option ? VALUES.get(option.longestName()) : null;
    }
}
