package org.driftml.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@code POST /v1/chat/completions} body, checked field by field before any work: a bad field is a 400 naming it.
 * Fields OpenAI defines that would change the reply and drift does not do (tools, n > 1, logprobs, penalties,
 * logit_bias, a JSON response format) are refused rather than ignored; fields that change nothing here (store,
 * metadata, service_tier, ...) are ignored, as vLLM ignores them. {@code top_k}, {@code repetition_penalty} and
 * {@code ignore_eos} are vLLM's extensions.
 *
 * @param temperature null: the model's generation_config.json; 0: greedy
 * @param maxTokens   null: what the context leaves
 * @param user        OpenAI's end-user id; drift serve's log joins a conversation by it when no header names one
 */
record ChatRequest(String model, List<Map<String, Object>> messages, Double temperature, Double topP, Integer topK,
        Double repetitionPenalty, Integer maxTokens, List<String> stop, Long seed, boolean stream,
        boolean includeUsage, boolean ignoreEos, String user) {
    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");

    static ChatRequest parse(byte[] body, ObjectMapper json, int maxMessages) {
        JsonNode root;
        try {
            root = json.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiError.invalid(null, "the body is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw ApiError.invalid(null, "the body could not be read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw ApiError.invalid(null, "the body must be a JSON object");
        }
        String model = text(root, "model", true);
        List<Map<String, Object>> messages = messages(root.get("messages"), maxMessages);
        Double temperature = number(root, "temperature", 0, 2, true);
        Double topP = number(root, "top_p", 0, 1, false);
        Integer topK = whole(root, "top_k", -1);
        Double penalty = number(root, "repetition_penalty", 0, Double.MAX_VALUE, false);
        Integer maxTokens = whole(root, "max_completion_tokens", 1);
        if (maxTokens == null) {
            maxTokens = whole(root, "max_tokens", 1);
        }
        Long seed = null;
        if (present(root, "seed")) {
            if (!root.get("seed").canConvertToLong() || !root.get("seed").isIntegralNumber()) {
                throw ApiError.invalid("seed", "seed must be an integer");
            }
            seed = root.get("seed").asLong();
        }
        boolean stream = flag(root, "stream");
        boolean includeUsage = false;
        if (present(root, "stream_options")) {
            if (!stream) {
                throw ApiError.invalid("stream_options", "stream_options is only allowed when stream is true");
            }
            JsonNode options = root.get("stream_options");
            if (!options.isObject()) {
                throw ApiError.invalid("stream_options", "stream_options must be an object");
            }
            includeUsage = flag(options, "include_usage");
        }
        refuseUnsupported(root);
        return new ChatRequest(model, messages, temperature, topP, topK == null ? null : Math.max(topK, 0), penalty,
                maxTokens, stop(root.get("stop")), seed, stream, includeUsage, flag(root, "ignore_eos"),
                text(root, "user", false));
    }

    private static void refuseUnsupported(JsonNode root) {
        if (present(root, "n") && !(root.get("n").isIntegralNumber() && root.get("n").asInt() == 1)) {
            throw ApiError.invalid("n", "only n = 1 is supported");
        }
        for (String f : List.of("tools", "functions", "tool_choice", "function_call", "audio", "prediction")) {
            if (present(root, f) && !(root.get(f).isArray() && root.get(f).isEmpty())) {
                throw ApiError.invalid(f, f + " is not supported by drift serve");
            }
        }
        if (present(root, "logprobs") && root.get("logprobs").asBoolean(true)) {
            throw ApiError.invalid("logprobs", "logprobs is not supported by drift serve");
        }
        for (String f : List.of("frequency_penalty", "presence_penalty")) {
            if (present(root, f) && !(root.get(f).isNumber() && root.get(f).asDouble() == 0)) {
                throw ApiError.invalid(f, f + " is not supported (only 0); repetition_penalty is");
            }
        }
        if (present(root, "logit_bias") && !(root.get("logit_bias").isObject() && root.get("logit_bias").isEmpty())) {
            throw ApiError.invalid("logit_bias", "logit_bias is not supported by drift serve");
        }
        if (present(root, "response_format")
                && !"text".equals(root.get("response_format").path("type").asText("text"))) {
            throw ApiError.invalid("response_format", "only the \"text\" response format is supported");
        }
    }

    /** Each message as the chat template reads it: role and text content ({@code developer} is the system's). */
    private static List<Map<String, Object>> messages(JsonNode node, int maxMessages) {
        if (node == null || node.isNull()) {
            throw ApiError.invalid("messages", "messages is required");
        }
        if (!node.isArray() || node.isEmpty()) {
            throw ApiError.invalid("messages", "messages must be a non-empty array");
        }
        if (node.size() > maxMessages) {
            throw ApiError.invalid("messages", node.size() + " messages are more than this server takes ("
                    + maxMessages + ", --max-messages)");
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode m = node.get(i);
            String at = "messages[" + i + "]";
            if (!m.isObject()) {
                throw ApiError.invalid(at, at + " must be an object");
            }
            if (!m.path("role").isTextual() || !ROLES.contains(m.get("role").asText())) {
                throw ApiError.invalid(at + ".role", at + ".role must be one of system, developer, user, assistant,"
                        + " tool");
            }
            if (present(m, "tool_calls")) {
                throw ApiError.invalid(at + ".tool_calls", "tool calls are not supported by drift serve");
            }
            Map<String, Object> message = new LinkedHashMap<>();
            String role = m.get("role").asText();
            message.put("role", role.equals("developer") ? "system" : role);
            message.put("content", content(m.get("content"), at + ".content"));
            out.add(message);
        }
        return out;
    }

    /** A string, or an array of {@code {"type": "text", "text": ...}} parts joined. */
    private static String content(JsonNode c, String at) {
        if (c != null && c.isTextual()) {
            return c.asText();
        }
        if (c == null || !c.isArray()) {
            throw ApiError.invalid(at, at + " must be a string or an array of text parts");
        }
        StringBuilder text = new StringBuilder();
        for (int j = 0; j < c.size(); j++) {
            JsonNode part = c.get(j);
            if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                throw ApiError.invalid(at + "[" + j + "]", at + "[" + j + "] must be {\"type\": \"text\", \"text\": "
                        + "...}; drift serves text only");
            }
            text.append(part.get("text").asText());
        }
        return text.toString();
    }

    private static List<String> stop(JsonNode node) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (node.isTextual()) {
            out.add(node.asText());
        } else if (node.isArray() && node.size() <= 4) {
            for (JsonNode s : node) {
                if (!s.isTextual()) {
                    throw ApiError.invalid("stop", "stop must be a string or up to 4 strings");
                }
                out.add(s.asText());
            }
        } else {
            throw ApiError.invalid("stop", "stop must be a string or up to 4 strings");
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ApiError.invalid("stop", "a stop string must not be empty");
        }
        return out;
    }

    private static boolean present(JsonNode root, String field) {
        return root.has(field) && !root.get(field).isNull();
    }

    private static String text(JsonNode root, String field, boolean required) {
        if (!present(root, field)) {
            if (required) {
                throw ApiError.invalid(field, field + " is required");
            }
            return null;
        }
        if (!root.get(field).isTextual()) {
            throw ApiError.invalid(field, field + " must be a string");
        }
        return root.get(field).asText();
    }

    /** A number in [low, high] (or (low, high] when {@code lowIncluded} is false), or null when absent. */
    private static Double number(JsonNode root, String field, double low, double high, boolean lowIncluded) {
        if (!present(root, field)) {
            return null;
        }
        JsonNode v = root.get(field);
        double x = v.asDouble();
        if (!v.isNumber() || x > high || x < low || (!lowIncluded && x == low)) {
            throw ApiError.invalid(field, field + " must be a number in " + (lowIncluded ? "[" : "(") + low + ", "
                    + (high == Double.MAX_VALUE ? "inf)" : high + "]"));
        }
        return x;
    }

    private static Integer whole(JsonNode root, String field, int least) {
        if (!present(root, field)) {
            return null;
        }
        JsonNode v = root.get(field);
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < least) {
            throw ApiError.invalid(field, field + " must be an integer >= " + least);
        }
        return v.asInt();
    }

    private static boolean flag(JsonNode root, String field) {
        if (!present(root, field)) {
            return false;
        }
        if (!root.get(field).isBoolean()) {
            throw ApiError.invalid(field, field + " must be true or false");
        }
        return root.get(field).asBoolean();
    }
}
