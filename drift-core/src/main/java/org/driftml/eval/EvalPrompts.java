package org.driftml.eval;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.driftml.data.BadRecordException;
import org.driftml.data.internal.JsonLine;
import org.driftml.data.internal.Utf8Lines;
import org.driftml.text.ChatMessage;

/**
 * Prompt sets to evaluate on, as the benchmarks ship them: a JSON array (AlpacaEval's {@code alpaca_eval.json}) or JSON
 * Lines, each record one of
 * <ul>
 *   <li>{@code {"instruction": "..."}} (AlpacaEval; its {@code dataset} is kept),</li>
 *   <li>{@code {"session_id": "...", "conversation_input": [{"role", "content"}, ...]}} (WildBench; the last turn is
 *       the user's; {@code primary_tag} is kept),</li>
 *   <li>{@code {"messages": [{"role", "content"}, ...]}} ending with the user's turn, or {@code {"prompt": "..."}}.</li>
 * </ul>
 * Errors name the file and the line where the record starts.
 */
public final class EvalPrompts {
    /**
     * One prompt.
     *
     * @param id       {@code session_id} or {@code id} as given, else the record's position from 0
     * @param messages the conversation to answer, ending with the user's turn
     * @param extra    the record's other fields (dataset, primary_tag, ...), carried into the outputs
     * @param benchmark the benchmark its shape comes from
     */
    public record EvalPrompt(String id, List<ChatMessage> messages, Map<String, Object> extra, Benchmark benchmark) {
        /** The text AlpacaEval calls the instruction: the user's last turn. */
        public String instruction() {
            return messages.get(messages.size() - 1).content();
        }
    }

    /**
     * The benchmark a prompt set comes from, with the generation settings its own scripts use (a reply cut by a
     * smaller limit is scored lower without a word: the paper's WildBench replies average 4,300 to 5,300 characters).
     */
    public enum Benchmark {
        /** AlpacaEval 2: alpaca_eval's configs for local models generate up to 2048 new tokens. */
        ALPACA_EVAL(2048, "alpaca_eval's local-model configs: max_new_tokens 2048"),
        /** WildBench v2: its scripts decode greedily (temperature 0, top-p 1) up to 4096 new tokens. */
        WILDBENCH(4096, "WildBench v2's scripts: TEMP=0, TOP_P=1.0, MAX_TOKENS=4096"),
        /** Any other prompt set. */
        OTHER(512, "drift's choice: 512");

        private final int maxNewTokens;
        private final String source;

        Benchmark(int maxNewTokens, String source) {
            this.maxNewTokens = maxNewTokens;
            this.source = source;
        }

        public int maxNewTokens() {
            return maxNewTokens;
        }

        public String source() {
            return source;
        }

        /** The benchmark of a whole set: its prompts' one benchmark, or OTHER for a mixed or empty set. */
        public static Benchmark of(List<EvalPrompt> set) {
            Set<Benchmark> kinds = java.util.EnumSet.noneOf(Benchmark.class);
            set.forEach(p -> kinds.add(p.benchmark()));
            return kinds.size() == 1 ? kinds.iterator().next() : OTHER;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> ROLES = Set.of("system", "user", "assistant");
    private static final Set<String> MESSAGE_FIELDS = Set.of("instruction", "conversation_input", "messages", "prompt");

    private EvalPrompts() {}

    /**
     * @throws BadRecordException naming the file and line of the first malformed record
     * @throws IllegalArgumentException when the file holds no prompt
     */
    public static List<EvalPrompt> read(Path file) throws IOException {
        if (java.nio.file.Files.isDirectory(file)) {  // the system says only "Is a directory", with no path
            throw new IllegalArgumentException(file + " is a folder, not a file of prompts");
        }
        List<EvalPrompt> out = new ArrayList<>();
        if (firstByte(file) == '[') {
            try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
                p.nextToken();
                for (JsonToken t; (t = p.nextToken()) != JsonToken.END_ARRAY;) {
                    if (t == null) {
                        throw new BadRecordException(file.toString(), null, "the JSON array is not closed");
                    }
                    int line = p.currentLocation().getLineNr();
                    out.add(parse(p.readValueAsTree(), file + ":" + line, out.size()));
                }
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new BadRecordException(file + ":" + (e.getLocation() == null ? "?" : e.getLocation().getLineNr()),
                        null, "not valid JSON: " + e.getOriginalMessage());
            }
        } else {
            try (Utf8Lines lines = new Utf8Lines(Files.newInputStream(file))) {
                for (Utf8Lines.Line raw; (raw = lines.next()) != null;) {
                    String where = file + ":" + raw.number(), text;
                    try {
                        text = raw.text();
                        if (text.isBlank()) {
                            continue;
                        }
                        out.add(parse(JsonLine.parse(text), where, out.size()));
                    } catch (BadRecordException e) {
                        throw e;
                    } catch (IllegalArgumentException e) {
                        throw new BadRecordException(where, null, e.getMessage());
                    }
                }
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": no prompts");
        }
        requireDistinct(out, file);
        return out;
    }

    /**
     * Refuses two prompts the benchmarks would take for one: AlpacaEval matches outputs by instruction, WildBench by
     * session_id (eval generate wrote both and eval compare then refused, or paired the wrong ones).
     */
    private static void requireDistinct(List<EvalPrompt> prompts, Path file) {
        Map<String, Integer> seen = new java.util.HashMap<>();
        for (int i = 0; i < prompts.size(); i++) {
            EvalPrompt p = prompts.get(i);
            String key = p.benchmark() == Benchmark.ALPACA_EVAL ? "the instruction \"" + shorten(p.instruction()) + "\""
                    : "the id " + p.id();
            Integer before = seen.putIfAbsent(key, i);
            if (before != null) {
                throw new IllegalArgumentException(file + ": prompts " + (before + 1) + " and " + (i + 1) + " have "
                        + key + "; the benchmarks match outputs by it, so each must be distinct");
            }
        }
    }

    private static String shorten(String s) {
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    private static int firstByte(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            for (int b; (b = in.read()) >= 0;) {
                if (!Character.isWhitespace(b) && b != 0xEF && b != 0xBB && b != 0xBF) {  // a BOM is skipped too
                    return b;
                }
            }
        }
        return -1;
    }

    static EvalPrompt parse(JsonNode n, String where, int position) {
        if (n == null || !n.isObject()) {
            throw new BadRecordException(where, null, "a prompt must be a JSON object");
        }
        List<ChatMessage> messages;
        Benchmark benchmark = Benchmark.OTHER;
        if (n.has("instruction")) {
            messages = List.of(ChatMessage.user(text(n, "instruction", where)));
            benchmark = Benchmark.ALPACA_EVAL;
        } else if (n.has("conversation_input")) {
            messages = messages(n, "conversation_input", where);
            benchmark = Benchmark.WILDBENCH;
        } else if (n.has("messages")) {
            messages = messages(n, "messages", where);
        } else if (n.has("prompt")) {
            messages = List.of(ChatMessage.user(text(n, "prompt", where)));
        } else {
            throw new BadRecordException(where, null, "expected \"instruction\" (AlpacaEval), \"conversation_input\" "
                    + "(WildBench), \"messages\" or \"prompt\"");
        }
        if (benchmark == Benchmark.WILDBENCH && !n.hasNonNull("session_id")) {  // WildBench matches outputs by it
            throw new BadRecordException(where, "session_id", "a WildBench record needs its session_id (eval compare "
                    + "matches the two models' outputs by it)");
        }
        String id = n.hasNonNull("session_id") ? n.get("session_id").asText()
                : n.hasNonNull("id") ? n.get("id").asText() : String.valueOf(position);
        Map<String, Object> extra = new LinkedHashMap<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!MESSAGE_FIELDS.contains(f)) {
                extra.put(f, JSON.convertValue(n.get(f), Object.class));
            }
        }
        return new EvalPrompt(id, messages, extra, benchmark);
    }

    private static String text(JsonNode n, String field, String where) {
        if (!n.get(field).isTextual() || n.get(field).asText().isBlank()) {
            throw new BadRecordException(where, field, "expected non-empty text");
        }
        return n.get(field).asText();
    }

    private static List<ChatMessage> messages(JsonNode n, String field, String where) {
        JsonNode list = n.get(field);
        if (!list.isArray() || list.isEmpty()) {
            throw new BadRecordException(where, field, "expected a non-empty list of {\"role\", \"content\"}");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode m = list.get(i);
            if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
                throw new BadRecordException(where, field + "[" + i + "]", "needs string \"role\" and \"content\"");
            }
            if (!ROLES.contains(m.get("role").asText())) {
                throw new BadRecordException(where, field + "[" + i + "]", "unknown role \"" + m.get("role").asText()
                        + "\" (expected system, user or assistant)");
            }
            out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        if (!out.get(out.size() - 1).role().equals("user")) {
            throw new BadRecordException(where, field, "the last message must be the user's (the turn to answer)");
        }
        return out;
    }
}
