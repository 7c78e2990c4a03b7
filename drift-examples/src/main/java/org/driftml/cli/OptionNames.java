package org.driftml.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The library's settings name their fields ({@code rpoAlpha must be ...}); a command-line user typed an option.
 * This puts the option in front of such a message.
 */
final class OptionNames {
    private static final Map<String, String> COMMON = new LinkedHashMap<>();

    static {
        COMMON.put("beta", "--beta");
        COMMON.put("rpoAlpha", "--rpo-alpha");
        COMMON.put("learningRate", "--learning-rate");
        COMMON.put("batchSize", "--batch-size");
        COMMON.put("epochs", "--epochs");
        COMMON.put("temperature", "--temperature");
        COMMON.put("topP", "--top-p");
        COMMON.put("topK", "--top-k");
        COMMON.put("repetitionPenalty", "--repetition-penalty");
        COMMON.put("maxNewTokens", "--max-new-tokens");
        COMMON.put("generationBatch", "--generation-batch");
        COMMON.put("maxLength", "--max-length");
        COMMON.put("subsample", "--subsample");
        COMMON.put("saveSteps", "--save-steps");
        COMMON.put("iterations", "--iterations");
        COMMON.put("unknown precision", "--dtype");
        COMMON.put("unknown preference loss", "--loss");
    }

    private OptionNames() {}

    /** {@code message} with the option it concerns in front, when it starts with a field that has one. */
    static String named(String message) {
        return named(message, null);
    }

    /**
     * As {@link #named(String)}, for a command that also has an accumulation setting, named {@code
     * accumulationOption}.
     */
    static String named(String message, String accumulationOption) {
        Map<String, String> names = new LinkedHashMap<>(COMMON);
        if (accumulationOption != null) {
            names.put("accumulation", accumulationOption);
        }
        for (Map.Entry<String, String> n : names.entrySet()) {
            if (message.startsWith(n.getKey() + " ")) {
                return n.getValue() + ": " + message;
            }
        }
        return message;
    }
}
