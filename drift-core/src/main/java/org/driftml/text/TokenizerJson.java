package org.driftml.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the {@code tokenizer.json} a slow GPT-2 / Qwen2 tokenizer folder implies ({@code vocab.json},
 * {@code merges.txt}, {@code tokenizer_config.json}), so folders without the fast file encode exactly as
 * transformers' converter would make them: byte-level BPE, plus Qwen2's NFC normalizer and split pattern.
 */
final class TokenizerJson {
    /** Qwen2Tokenizer's pre-tokenization pattern (transformers' tokenization_qwen2.PRETOKENIZE_REGEX). */
    static final String QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
            + " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private TokenizerJson() {}

    static String fromVocabAndMerges(Path folder) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path configPath = folder.resolve("tokenizer_config.json");
        JsonNode config = Files.exists(configPath) ? json.readTree(configPath.toFile()) : json.createObjectNode();
        String kind = config.path("tokenizer_class").asText("GPT2Tokenizer");
        boolean prefixSpace = config.path("add_prefix_space").asBoolean(false);

        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.set("added_tokens", addedTokens(config, json));
        switch (kind) {
            case "Qwen2Tokenizer":
            case "Qwen2TokenizerFast":
                root.putObject("normalizer").put("type", "NFC");
                ObjectNode seq = root.putObject("pre_tokenizer");
                seq.put("type", "Sequence");
                ArrayNode steps = seq.putArray("pretokenizers");
                ObjectNode split = steps.addObject();
                split.put("type", "Split").putObject("pattern").put("Regex", QWEN2_SPLIT);
                split.put("behavior", "Isolated").put("invert", false);
                steps.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false)
                        .put("use_regex", false);
                break;
            case "GPT2Tokenizer":
            case "GPT2TokenizerFast":
                root.putNull("normalizer");
                root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", prefixSpace)
                        .put("trim_offsets", true).put("use_regex", true);
                break;
            default:
                throw new IOException(configPath + ": tokenizer_class '" + kind + "' has no tokenizer.json in " + folder
                        + " and drift can only rebuild GPT2Tokenizer and Qwen2Tokenizer from vocab.json + merges.txt");
        }
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false)
                .put("byte_fallback", false).put("ignore_merges", false);
        model.set("vocab", json.readTree(folder.resolve("vocab.json").toFile()));
        ArrayNode merges = model.putArray("merges");
        for (String line : Files.readAllLines(folder.resolve("merges.txt"), StandardCharsets.UTF_8)) {
            if (line.startsWith("#version") || line.isBlank()) {
                continue;
            }
            merges.add(line);
        }
        return json.writeValueAsString(root);
    }

    /** tokenizer_config.json's added_tokens_decoder as tokenizer.json's added_tokens, by id. */
    private static ArrayNode addedTokens(JsonNode config, ObjectMapper json) {
        Map<Integer, JsonNode> byId = new TreeMap<>();
        config.path("added_tokens_decoder").fields().forEachRemaining(e ->
                byId.put(Integer.parseInt(e.getKey()), e.getValue()));
        ArrayNode out = json.createArrayNode();
        for (Map.Entry<Integer, JsonNode> e : byId.entrySet()) {
            JsonNode t = e.getValue();
            out.addObject().put("id", e.getKey()).put("content", t.path("content").asText())
                    .put("single_word", t.path("single_word").asBoolean(false))
                    .put("lstrip", t.path("lstrip").asBoolean(false)).put("rstrip", t.path("rstrip").asBoolean(false))
                    .put("normalized", t.path("normalized").asBoolean(false))
                    .put("special", t.path("special").asBoolean(true));
        }
        return out;
    }
}
