package org.driftml.eval;

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
 * Both are written atomically (a temporary file renamed).
 */
public final class BenchmarkOutputs {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BenchmarkOutputs() {}

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
