package org.driftml.drift;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.output.RunFolder;
import org.driftml.data.PreferencePair;
import org.driftml.data.internal.Sha256;

/**
 * What makes an output folder one run (its {@code run.json}): the starting model, the method, every setting of the
 * recipe by name, and a digest of the data. A rerun must match it to resume. K is left out: a finished run can be
 * extended by more iterations, and {@code drift warmstart} (K = 0) followed by {@code drift train} on the same folder
 * reuses the warm start.
 */
record RunIdentity(String model, String method, Map<String, Object> recipe, String dataSha256) {

    static RunIdentity of(Path model, PairMethod first, DriftConfig config, List<PreferencePair> seeds) {
        // Every declared setting but the method (recorded on its own) and K, then the DPO settings of both stages.
        Map<String, Object> recipe = new LinkedHashMap<>(config.settings());
        recipe.remove(DriftConfig.METHOD.key());
        recipe.remove(DriftConfig.ITERATIONS.key());
        recipe.put("warm_start", config.warmStart() == null ? "none" : config.warmStart().settings());
        recipe.put("iteration", config.iteration().settings());
        recipe.put("taus", config.taus());
        if (config.lora() != null) {  // absent for full fine-tuning, so runs recorded before LoRA still match
            recipe.put("lora", config.lora().settings());
        }
        StringBuilder data = new StringBuilder();
        seeds.forEach(p -> data.append(p.prompt()).append('\u0000').append(p.chosen()).append('\u0000')
                .append(p.rejected()).append('\n'));
        for (int i = 0; i < first.size(); i++) {
            data.append(first.id(i)).append('\n');
        }
        return new RunIdentity(model.toAbsolutePath().normalize().toString(), first.name(), recipe,
                Sha256.hex(data.toString()));
    }

    /** As run.json records it ({@link org.driftml.output.RunFolder.Claim#identity}). */
    Map<String, Object> asJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model);
        m.put("method", method);
        m.put("recipe", recipe);
        m.put("data_sha256", dataSha256);
        return m;
    }
}
