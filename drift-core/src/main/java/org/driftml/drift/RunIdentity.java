package org.driftml.drift;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.data.PreferencePair;
import org.driftml.train.DpoConfig;

/**
 * What makes an output folder one run (its {@code run.json}): the starting model, the method, every setting of the
 * recipe by name, and a digest of the data. A rerun must match it to resume. K is left out: a finished run can be
 * extended by more iterations, and {@code drift warmstart} (K = 0) followed by {@code drift train} on the same folder
 * reuses the warm start.
 */
record RunIdentity(String model, String method, Map<String, Object> recipe, String dataSha256) {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    static RunIdentity of(Path model, PairMethod first, DriftConfig config, List<PreferencePair> seeds) {
        Map<String, Object> recipe = new LinkedHashMap<>();
        recipe.put("reference", config.reference().name());
        recipe.put("prompt_style", config.promptStyle().name());
        recipe.put("temperature", config.temperature());
        recipe.put("top_p", config.topP());
        recipe.put("max_new_tokens", config.maxNewTokens());
        recipe.put("generation_batch", config.generationBatch());
        recipe.put("max_prompt_length", config.maxPromptLength());
        recipe.put("max_length", config.maxLength());
        recipe.put("warm_start", config.warmStart() == null ? "none" : dpo(config.warmStart()));
        recipe.put("iteration", dpo(config.iteration()));
        recipe.put("precision", config.precision().name());
        recipe.put("subsample", config.subsample());
        recipe.put("save_steps", config.saveSteps());
        recipe.put("seed", config.seed());
        recipe.put("taus", config.taus());
        StringBuilder data = new StringBuilder();
        seeds.forEach(p -> data.append(p.prompt()).append('\u0000').append(p.chosen()).append('\u0000')
                .append(p.rejected()).append('\n'));
        for (int i = 0; i < first.size(); i++) {
            data.append(first.id(i)).append('\n');
        }
        return new RunIdentity(model.toAbsolutePath().normalize().toString(), first.name(), recipe,
                sha256(data.toString()));
    }

    private static Map<String, Object> dpo(DpoConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("beta", c.beta());
        m.put("loss", c.loss().name());
        m.put("label_smoothing", c.labelSmoothing());
        m.put("rpo_alpha", c.rpoAlpha());
        m.put("learning_rate", c.learningRate());
        m.put("warmup_ratio", c.warmupRatio());
        m.put("weight_decay", c.weightDecay());
        m.put("max_grad_norm", c.maxGradNorm());
        m.put("batch_size", c.batchSize());
        m.put("accumulation", c.accumulation());
        m.put("epochs", c.epochs());
        m.put("gradient_checkpointing", c.gradientCheckpointing());
        return m;
    }

    /**
     * Records this identity in {@code output/run.json}, or checks it against the one there.
     *
     * @throws IllegalStateException naming what differs when the folder holds another run
     */
    void claim(Path output) throws IOException {
        Path file = output.resolve("run.json");
        Map<String, Object> mine = asJson();
        if (Files.exists(file)) {
            @SuppressWarnings("unchecked")
            Map<String, Object> before = JSON.readValue(file.toFile(), Map.class);
            @SuppressWarnings("unchecked")
            Map<String, Object> now = JSON.readValue(JSON.writeValueAsString(mine), Map.class);  // as JSON reads back
            List<String> differ = differences(before, now, "");
            if (!differ.isEmpty()) {
                if (!String.valueOf(before.get("method")).equals(method)) {
                    differ = List.of("method (" + before.get("method") + " there, " + method + " here)");
                }
                throw new IllegalStateException(output + " holds another run (its " + String.join(", ", differ)
                        + (differ.size() == 1 ? " differs" : " differ") + "); resume with the same settings or choose "
                        + "another output folder");
            }
            return;
        }
        Path tmp = output.resolve("run.json.tmp");
        JSON.writeValue(tmp.toFile(), mine);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private Map<String, Object> asJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model);
        m.put("method", method);
        m.put("recipe", recipe);
        m.put("data_sha256", dataSha256);
        return m;
    }

    /** The keys (dotted into nested maps) whose values differ, in this identity's order. */
    @SuppressWarnings("unchecked")
    private static List<String> differences(Map<String, Object> before, Map<String, Object> now, String prefix) {
        List<String> out = new ArrayList<>();
        for (var e : now.entrySet()) {
            Object was = before.get(e.getKey());
            if (e.getValue() instanceof Map<?, ?> m && was instanceof Map<?, ?> w) {
                out.addAll(differences((Map<String, Object>) w, (Map<String, Object>) m, prefix + e.getKey() + "."));
            } else if (!e.getValue().equals(was)) {
                out.add(prefix + e.getKey());
            }
        }
        before.keySet().stream().filter(k -> !now.containsKey(k)).forEach(k -> out.add(prefix + k));
        return out;
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
