package org.driftml.output;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What makes an output folder one run, recorded in its {@code run.json}: the input model, a digest of the data and
 * every setting that changes the result. A run that continues in the folder (a resume, more iterations) must
 * match it; one that does not is refused with every setting that differs named, both values given. Before, a
 * {@code --resume} with other pairs or settings continued the finished run and overwrote its model.
 */
public final class RunRecord {
    public static final String FILE = "run.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private RunRecord() {}

    /** Whether {@code output} holds a record. */
    public static boolean exists(Path output) {
        return Files.isRegularFile(output.resolve(FILE));
    }

    /**
     * Records {@code identity} in {@code output/run.json}, or checks it against the record there.
     *
     * @param identity   nested maps of JSON values (strings, numbers, booleans)
     * @param primaryKey when this top-level key differs, it alone is named (what follows from it differs too)
     * @throws OutputConflictException naming each setting that differs, with the value there and here
     */
    public static void claim(Path output, Map<String, Object> identity, String primaryKey) throws IOException {
        Path file = output.resolve(FILE);
        @SuppressWarnings("unchecked")
        Map<String, Object> now = JSON.readValue(JSON.writeValueAsString(identity), Map.class);  // as JSON reads back
        if (Files.exists(file)) {
            @SuppressWarnings("unchecked")
            Map<String, Object> before;
            try {
                before = JSON.readValue(file.toFile(), Map.class);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {  // named: the parser's message has no file
                throw new IllegalArgumentException(file + ": not valid JSON (" + e.getOriginalMessage() + "): the run "
                        + "record is damaged; choose another output folder, or remove it to start this one afresh");
            }
            List<String> differ = new ArrayList<>();
            if (primaryKey != null && !Objects.equals(before.get(primaryKey), now.get(primaryKey))) {
                differ.add(describe(primaryKey, before.get(primaryKey), now.get(primaryKey)));
            } else {
                differences(before, now, "", differ);
            }
            if (!differ.isEmpty()) {
                throw new OutputConflictException(output + " holds another run (its " + String.join(", ", differ)
                        + (differ.size() == 1 ? " differs" : " differ") + "); continue it with the same settings and "
                        + "data, or choose another output folder");
            }
            return;
        }
        Files.createDirectories(output);
        OutputFolder.writeAtomically(file, JSON.writeValueAsString(now));
    }

    /** The keys (dotted into nested maps) whose values differ, each with both values, in the identity's order. */
    @SuppressWarnings("unchecked")
    private static void differences(Map<String, Object> before, Map<String, Object> now, String prefix,
            List<String> out) {
        for (var e : now.entrySet()) {
            Object was = before.get(e.getKey());
            if (e.getValue() instanceof Map<?, ?> m && was instanceof Map<?, ?> w) {
                differences((Map<String, Object>) w, (Map<String, Object>) m, prefix + e.getKey() + ".", out);
            } else if (!Objects.equals(e.getValue(), was)) {
                out.add(describe(prefix + e.getKey(), was, e.getValue()));
            }
        }
        before.keySet().stream().filter(k -> !now.containsKey(k))
                .forEach(k -> out.add(describe(prefix + k, before.get(k), null)));
    }

    private static String describe(String key, Object there, Object here) {
        return key + " (" + shown(there) + " there, " + shown(here) + " here)";
    }

    private static String shown(Object v) {
        if (v == null) {
            return "none";
        }
        String s = String.valueOf(v);
        return s.length() > 16 && s.matches("[0-9a-f]+") ? s.substring(0, 12) + "…" : s;  // digests, shortened
    }
}
