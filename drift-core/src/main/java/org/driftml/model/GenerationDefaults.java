package org.driftml.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A model folder's {@code generation_config.json}, which transformers' generate() applies unless told otherwise
 * (Qwen2-1.5B-Instruct's: sampling at temperature 0.5, top-p 0.7, top-k 40, repetition penalty 1.1, stop at
 * {@code <|im_end|>} or {@code <|endoftext|>}). Absent values are transformers' own defaults.
 */
public record GenerationDefaults(boolean doSample, double temperature, double topP, int topK,
        double repetitionPenalty, Set<Long> eosTokenIds) {

    public static GenerationDefaults read(Path folder, ModelConfig config) throws IOException {
        Path file = folder.resolve("generation_config.json");
        JsonNode g = Files.exists(file) ? new ObjectMapper().readTree(file.toFile())
                : new ObjectMapper().createObjectNode();
        Set<Long> eos = new LinkedHashSet<>();
        JsonNode e = g.path("eos_token_id");
        if (e.isIntegralNumber()) {
            eos.add(e.asLong());
        } else if (e.isArray()) {
            e.forEach(x -> eos.add(x.asLong()));
        } else {
            config.eosTokenIds().forEach(x -> eos.add((long) x));
        }
        return new GenerationDefaults(g.path("do_sample").asBoolean(false), g.path("temperature").asDouble(1.0),
                g.path("top_p").asDouble(1.0), g.path("top_k").asInt(50), g.path("repetition_penalty").asDouble(1.0),
                Set.copyOf(eos));
    }
}
