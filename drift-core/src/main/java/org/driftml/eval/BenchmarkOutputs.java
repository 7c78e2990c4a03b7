package org.driftml.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.model.Sampler;
import org.driftml.output.OutputFolder;
import org.driftml.text.ChatMessage;

/**
 * A model's replies in the files the paper's benchmarks read, so that drift's models go through them unchanged:
 * <ul>
 *   <li>AlpacaEval's {@code model_outputs.json}: a JSON array of {@code {"instruction", "output", "generator"}} (and
 *       the prompt's {@code dataset}), what {@code alpaca_eval --model_outputs} takes;</li>
 *   <li>WildBench's result file (what its {@code unified_infer.py} writes under {@code result_dirs/wild_bench_v2/} and
 *       its evaluation reads): {@code session_id}, {@code chat_history} (the turns' texts), {@code model_input},
 *       {@code output} (a list of replies), {@code generator}, {@code configs} (temperature, top_p, max_tokens,
 *       repetition_penalty, engine), {@code dataset} and the prompt's other fields ({@code primary_tag}).</li>
 * </ul>
 * Both are written atomically (a temporary file renamed), and read back by {@link #read} to compare two models.
 */
public final class BenchmarkOutputs {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * One reply read back from either file.
     *
     * @param key    what matches it to another model's reply to the same prompt: the instruction (AlpacaEval) or the
     *               session id (WildBench)
     * @param prompt the conversation it answers (WildBench's chat history, turns alternating from the user's)
     * @param reply  the model's reply (WildBench's first output)
     */
    public record Output(String key, List<ChatMessage> prompt, String reply) {}

    private BenchmarkOutputs() {}

    /**
     * Reads a model's outputs back: AlpacaEval's {@code model_outputs.json} or a WildBench result file, told apart by
     * their fields.
     *
     * @return the outputs by key, in file order
     * @throws IllegalArgumentException naming the file, and the record that is malformed or repeats a key
     */
    public static Map<String, Output> read(Path file) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ":" + (e.getLocation() == null ? "?"
                    : e.getLocation().getLineNr()) + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isArray() || root.isEmpty()) {
            throw new IllegalArgumentException(file + ": expected a non-empty JSON array of AlpacaEval's "
                    + "{\"instruction\", \"output\"} or WildBench's {\"session_id\", \"chat_history\", \"output\"}");
        }
        boolean wildBench = root.get(0).has("session_id") && root.get(0).has("chat_history");
        Map<String, Output> out = new LinkedHashMap<>();
        for (int i = 0; i < root.size(); i++) {
            JsonNode r = root.get(i);
            Output o = wildBench ? wildBench(r) : alpacaEval(r);
            if (o == null) {
                throw new IllegalArgumentException(file + ": record " + i + (wildBench
                        ? " needs string \"session_id\", a non-empty list of strings \"chat_history\" and \"output\" "
                        + "(a non-empty list of strings, as WildBench's evaluation reads it)"
                        : " needs string \"instruction\" and \"output\""));
            }
            if (out.put(o.key(), o) != null) {
                throw new IllegalArgumentException(file + ": record " + i + " repeats " + (wildBench ? "session_id "
                        : "the instruction ") + "\"" + cut(o.key()) + "\"");
            }
        }
        return out;
    }

    private static Output alpacaEval(JsonNode r) {
        if (!r.path("instruction").isTextual() || !r.path("output").isTextual()) {
            return null;
        }
        return new Output(r.get("instruction").asText(), List.of(ChatMessage.user(r.get("instruction").asText())),
                r.get("output").asText());
    }

    private static Output wildBench(JsonNode r) {
        JsonNode history = r.path("chat_history"), output = r.path("output");
        if (!r.path("session_id").isValueNode() || !history.isArray() || history.isEmpty()) {
            return null;
        }
        List<ChatMessage> prompt = new ArrayList<>();
        for (int t = 0; t < history.size(); t++) {
            if (!history.get(t).isTextual()) {
                return null;
            }
            prompt.add(t % 2 == 0 ? ChatMessage.user(history.get(t).asText())
                    : ChatMessage.assistant(history.get(t).asText()));
        }
        // A list, as WildBench writes and reads it: a string was taken here and then refused by WildBench's own
        // evaluation.
        String reply = output.isArray() && !output.isEmpty() && output.get(0).isTextual() ? output.get(0).asText()
                : null;
        return reply == null ? null : new Output(r.get("session_id").asText(), prompt, reply);
    }

    static String cut(String s) {
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    public static void writeAlpacaEval(Path file, List<EvalPrompts.EvalPrompt> prompts, List<String> replies,
            String generator) throws IOException {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("instruction", prompts.get(i).instruction());
            row.put("output", replies.get(i));
            row.put("generator", generator);
            if (prompts.get(i).extra().containsKey("dataset")) {
                row.put("dataset", prompts.get(i).extra().get("dataset"));
            }
            rows.add(row);
        }
        OutputFolder.writeAtomically(file, JSON.writeValueAsString(rows) + "\n");
    }

    /**
     * @param modelInputs each prompt as the model read it (the chat template's text)
     */
    public static void writeWildBench(Path file, List<EvalPrompts.EvalPrompt> prompts, List<String> replies,
            List<String> modelInputs, String generator, Sampler.Settings settings) throws IOException {
        Map<String, Object> configs = new LinkedHashMap<>();
        configs.put("engine", "drift");
        configs.put("repetition_penalty", settings.repetitionPenalty());
        configs.put("temperature", settings.greedy() ? 0.0 : settings.temperature());
        configs.put("top_p", settings.greedy() ? 1.0 : settings.topP());
        configs.put("max_tokens", settings.maxNewTokens());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            EvalPrompts.EvalPrompt p = prompts.get(i);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("session_id", p.id());
            row.put("chat_history", p.messages().stream().filter(m -> !m.role().equals("system"))
                    .map(ChatMessage::content).toList());
            row.put("model_input", modelInputs.get(i));
            row.put("output", List.of(replies.get(i)));
            row.put("generator", generator);
            row.put("configs", configs);
            row.put("dataset", "wild_bench");
            p.extra().forEach((k, v) -> {
                if (!k.equals("session_id")) {
                    row.putIfAbsent(k, v);
                }
            });
            rows.add(row);
        }
        OutputFolder.writeAtomically(file, JSON.writeValueAsString(rows) + "\n");
    }
}
