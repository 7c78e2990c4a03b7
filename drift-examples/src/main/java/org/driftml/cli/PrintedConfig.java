package org.driftml.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.driftml.drift.DriftConfig;
import org.driftml.model.spec.Precision;
import org.driftml.settings.Setting;
import org.driftml.train.DpoConfig;
import picocli.CommandLine;

/**
 * What {@code --print-config} prints: the resolved settings as one JSON object under TRL's names where TRL has one
 * ({@code learning_rate}, {@code per_device_train_batch_size}, {@code gradient_accumulation_steps},
 * {@code num_train_epochs}, {@code bf16}, ...), each with where its value came from in {@code sources}. {@code --config}
 * reads it back: the keys that follow from others ({@link #DERIVED}) are checked against what the run resolves, not
 * set.
 */
final class PrintedConfig {
    /** Keys that are not options: they follow from the others (sources is a note). */
    static final Set<String> DERIVED = Set.of("per_device_train_batch_size", "world_size", "bf16", "optim",
            "lr_scheduler_type", "num_train_epochs", "sources");

    private final Map<String, Object> values = new LinkedHashMap<>();
    private final Map<String, String> sources = new LinkedHashMap<>();

    /**
     * Adds {@code s} at {@code value} under its TRL name; the batch brings the per-process micro-batch and the
     * world size, the dtype TRL's bf16.
     */
    <T> PrintedConfig put(Setting<T> s, Object value, String source, WorkerOptions.Processes processes, DpoConfig dpo) {
        Object recorded = s.recorded(s.type().cast(value));
        if (s == DpoConfig.BATCH_SIZE) {
            put("per_device_train_batch_size", dpo.microBatch(processes.count()),
                    "derived: global_batch_size / (world_size x gradient_accumulation_steps)");
            put("world_size", processes.count(), processes.source());
            put("global_batch_size", recorded, source);
        } else if (s == DpoConfig.GRADIENT_ACCUMULATION) {
            put("gradient_accumulation_steps", recorded, source);
        } else if (s == DpoConfig.EPOCHS) {
            put("num_train_epochs", recorded, source);
        } else if (s == DriftConfig.DTYPE) {
            put("bf16", value == Precision.BF16, source);
            put(s.key(), recorded, source);
        } else if (s == DpoConfig.LEARNING_RATE) {
            put(s.key(), recorded, source);
            put("optim", "rmsprop", "paper:Table 6");  // drift's only optimiser (MasterWeightRmsprop)
            put("lr_scheduler_type", "linear", "paper:Table 6");  // drift's only schedule (LinearSchedule)
        } else {
            put(s.key(), recorded, source);
        }
        return this;
    }

    PrintedConfig put(String key, Object value, String source) {
        values.put(key, value);
        sources.put(key, source);
        return this;
    }

    ObjectNode json() {
        ObjectNode o = JsonLines.JSON.valueToTree(values);
        o.set("sources", JsonLines.JSON.valueToTree(sources));
        return o;
    }

    /**
     * Checks the derived keys a {@code --config} file gave ({@code fromFile}) against this resolved config.
     *
     * @throws CommandLine.ParameterException naming the file and the key when one differs
     */
    void check(CommandLine.Model.CommandSpec spec, Path file, Map<String, JsonNode> fromFile) {
        JsonNode mine = json();
        for (Map.Entry<String, JsonNode> e : fromFile.entrySet()) {
            if (e.getKey().equals("sources")) {
                continue;
            }
            JsonNode resolved = mine.get(e.getKey());
            if (resolved == null || !same(resolved, e.getValue())) {
                throw new CommandLine.ParameterException(spec.commandLine(), file + ": \"" + e.getKey() + "\" = "
                        + e.getValue() + ", but this run resolves it to " + resolved + " (it follows from the other "
                        + "settings and the options; change those instead)");
            }
        }
    }

    private static boolean same(JsonNode a, JsonNode b) {
        return a.isNumber() && b.isNumber() ? a.asDouble() == b.asDouble() : a.equals(b);
    }
}
