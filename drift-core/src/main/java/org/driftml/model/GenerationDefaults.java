package org.driftml.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;
import org.driftml.model.spec.ModelConfig;

/**
 * A model folder's {@code generation_config.json}, which transformers' generate() applies unless told otherwise
 * (Qwen2-1.5B-Instruct's: sampling at temperature 0.5, top-p 0.7, top-k 40, repetition penalty 1.1, stop at
 * {@code <|im_end|>} or {@code <|endoftext|>}). Absent values are transformers' own defaults.
 */
public record GenerationDefaults(boolean doSample, double temperature, double topP, int topK,
        double repetitionPenalty, Set<Long> eosTokenIds) {

    /**
     * Reads the folder's {@code generation_config.json} (transformers' defaults where it is absent or silent).
     *
     * @throws IllegalArgumentException naming the file and field when a value has the wrong type or range
     *                                  ({@code "temperature": "hot"} once read as 1.0, {@code "do_sample": "yes"}
     *                                  as greedy)
     */
    public static GenerationDefaults read(Path folder, ModelConfig config) throws IOException {
        Path file = folder.resolve("generation_config.json");
        JsonNode g;
        try {
            g = Files.exists(file) ? new ObjectMapper().readTree(file.toFile()) : new ObjectMapper().createObjectNode();
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (g == null || !g.isObject()) {
            throw new IllegalArgumentException(file + ": must hold a JSON object");
        }
        Set<Long> eos = new LinkedHashSet<>();
        JsonNode e = g.path("eos_token_id");
        if (e.isIntegralNumber() && e.canConvertToLong()) {
            eos.add(e.asLong());
        } else if (e.isArray()) {
            for (JsonNode x : e) {
                if (!x.isIntegralNumber() || !x.canConvertToLong() || x.asLong() < 0) {
                    throw bad(file, "eos_token_id", "a token id or a list of them", e);
                }
                eos.add(x.asLong());
            }
        } else if (e.isMissingNode() || e.isNull()) {
            config.eosTokenIds().forEach(x -> eos.add((long) x));
        } else {
            throw bad(file, "eos_token_id", "a token id or a list of them", e);
        }
        JsonNode doSample = g.path("do_sample");
        if (!doSample.isMissingNode() && !doSample.isNull() && !doSample.isBoolean()) {
            throw bad(file, "do_sample", "true or false", doSample);
        }
        return new GenerationDefaults(doSample.asBoolean(false), number(file, g, "temperature", 1.0),
                number(file, g, "top_p", 1.0), integer(file, g, "top_k", 50),
                number(file, g, "repetition_penalty", 1.0), Set.copyOf(eos));
    }

    /**
     * The settings a request asks for over these defaults, as transformers' generate() and vLLM resolve them: asking
     * for a temperature or top-p means sampling; otherwise the folder's do_sample decides. Greedy wins over both.
     * Each null is the default's value (top-k only applies when sampling by default: transformers' 50 is not meant for
     * a temperature asked for alone).
     *
     * @throws IllegalArgumentException naming the setting when a value is out of range
     */
    public Sampler.Settings settings(boolean greedy, Double temperature, Double topP, Integer topK,
            Double repetitionPenalty, int maxNewTokens, Set<Long> stopIds, long seed) {
        if (topK != null) {  // checked even when greedy, which ignores it
            Sampler.TOP_K.check(topK);
        }
        double penalty = repetitionPenalty != null ? repetitionPenalty : repetitionPenalty();
        boolean sample = !greedy && (temperature != null || topP != null || doSample());
        if (!sample) {
            return new Sampler.Settings(true, 1.0, 1.0, 0, penalty, maxNewTokens, stopIds, seed);
        }
        return new Sampler.Settings(false, temperature != null ? temperature : temperature(),
                topP != null ? topP : topP(), topK != null ? topK : (doSample() ? topK() : 0), penalty, maxNewTokens,
                stopIds, seed);
    }

    private static double number(Path file, JsonNode g, String field, double fallback) {
        JsonNode n = g.path(field);
        if (n.isMissingNode() || n.isNull()) {
            return fallback;
        }
        if (!n.isNumber() || !Double.isFinite(n.asDouble()) || n.asDouble() < 0) {
            throw bad(file, field, "a finite number >= 0", n);
        }
        return n.asDouble();
    }

    private static int integer(Path file, JsonNode g, String field, int fallback) {
        JsonNode n = g.path(field);
        if (n.isMissingNode() || n.isNull()) {
            return fallback;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 0) {
            throw bad(file, field, "an integer >= 0", n);
        }
        return n.asInt();
    }

    private static IllegalArgumentException bad(Path file, String field, String expected, JsonNode got) {
        return new IllegalArgumentException(file + ": " + field + " must be " + expected + ", got " + got);
    }
}
