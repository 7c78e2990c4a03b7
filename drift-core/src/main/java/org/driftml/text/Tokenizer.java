package org.driftml.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * A Hugging Face tokenizer (the Rust {@code tokenizers} library, through DJL), loaded from a model folder: its
 * {@code tokenizer.json}, or, for folders with only {@code vocab.json} + {@code merges.txt}, the equivalent that
 * transformers' converter builds. Encoding adds no special tokens unless asked, as transformers does for Qwen2.
 */
public final class Tokenizer implements AutoCloseable {
    static {
        // DJL would download a CUDA build of the library on a host with a GPU; tokenization runs on the CPU anyway,
        // and drift works offline. An explicit setting by the user wins.
        if (System.getProperty("RUST_FLAVOR") == null && System.getenv("RUST_FLAVOR") == null) {
            System.setProperty("RUST_FLAVOR", "cpu");
        }
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }

    private static final Map<String, String> OPTIONS = Map.of("addSpecialTokens", "false", "padding", "false",
            "truncation", "false", "withOverflowingTokens", "false");

    private final HuggingFaceTokenizer hf;
    private final Map<String, Long> specialTokens;
    private final int maxTokenBytes;  // 0: unknown (a normalizer may lengthen the text)

    private Tokenizer(HuggingFaceTokenizer hf, Map<String, Long> specialTokens, int maxTokenBytes) {
        this.hf = hf;
        this.specialTokens = specialTokens;
        this.maxTokenBytes = maxTokenBytes;
    }

    /** Loads from a folder holding tokenizer.json, or vocab.json + merges.txt (+ tokenizer_config.json). */
    public static Tokenizer load(Path folder) throws IOException {
        Path fast = folder.resolve("tokenizer.json");
        String json;
        if (Files.exists(fast)) {
            json = Files.readString(fast, StandardCharsets.UTF_8);
        } else if (Files.exists(folder.resolve("vocab.json")) && Files.exists(folder.resolve("merges.txt"))) {
            json = TokenizerJson.fromVocabAndMerges(folder);
        } else {
            throw new java.nio.file.NoSuchFileException(folder.resolve("tokenizer.json").toString(), null,
                    "no tokenizer.json, and no vocab.json + merges.txt to build one from");
        }
        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)),
                    OPTIONS);
        } catch (RuntimeException e) {
            throw new IOException(folder + ": the tokenizer does not load: " + e.getMessage(), e);
        }
        JsonNode root = new ObjectMapper().readTree(json);
        return new Tokenizer(hf, specialTokens(root), maxTokenBytes(root));
    }

    /**
     * The most UTF-8 bytes of input one token can stand for, from the vocabulary and the added tokens (each token's
     * own spelling, an upper bound: byte-level symbols take two bytes for one); 0 when the tokenizer normalises its
     * input first (a normalizer such as NFKC can lengthen the text) or the vocabulary is not a plain list of strings.
     */
    private static int maxTokenBytes(JsonNode root) {
        if (!root.path("normalizer").isMissingNode() && !root.path("normalizer").isNull()) {
            return 0;
        }
        JsonNode vocab = root.path("model").path("vocab");
        int most = 0;
        if (vocab.isObject()) {
            for (var it = vocab.fieldNames(); it.hasNext();) {
                most = Math.max(most, it.next().getBytes(StandardCharsets.UTF_8).length);
            }
        } else if (vocab.isArray()) {
            for (JsonNode entry : vocab) {
                most = Math.max(most, entry.path(0).asText().getBytes(StandardCharsets.UTF_8).length);
            }
        } else {
            return 0;
        }
        for (JsonNode t : root.path("added_tokens")) {
            most = Math.max(most, t.path("content").asText().getBytes(StandardCharsets.UTF_8).length);
        }
        return most;
    }

    /**
     * At most how many bytes of UTF-8 input one token covers, when that is known: a text of more than {@code n} times
     * this many bytes has more than {@code n} tokens, which a caller can tell without tokenising it.
     */
    public java.util.OptionalInt maxBytesPerToken() {
        return maxTokenBytes > 0 ? java.util.OptionalInt.of(maxTokenBytes) : java.util.OptionalInt.empty();
    }

    private static Map<String, Long> specialTokens(JsonNode tokenizerJson) {
        Map<String, Long> out = new HashMap<>();
        for (JsonNode t : tokenizerJson.path("added_tokens")) {
            out.put(t.path("content").asText(), t.path("id").asLong());
        }
        return Collections.unmodifiableMap(out);
    }

    /** Token ids of {@code text}, no special tokens added (special tokens written in the text are recognised). */
    public long[] encode(String text) {
        return hf.encode(text, false, false).getIds();
    }

    /** As {@link #encode(String)}, adding the tokenizer's own special tokens when asked (none for Qwen2). */
    public long[] encode(String text, boolean addSpecialTokens) {
        return hf.encode(text, addSpecialTokens, false).getIds();
    }

    /** Ids and token types (segments) of an encoded input. */
    public record Encoded(long[] ids, long[] typeIds) {}

    /**
     * {@code first} and {@code second} as one input, with the tokenizer's special tokens as its post-processor places
     * them ({@code [CLS] first [SEP] second [SEP]} for DeBERTa) and each token's segment: what
     * {@code tokenizer(first, second)} gives in transformers.
     */
    public Encoded encodePair(String first, String second) {
        ai.djl.huggingface.tokenizers.Encoding e = hf.encode(first, second, true, false);
        return new Encoded(e.getIds(), e.getTypeIds());
    }

    public String decode(long[] ids, boolean skipSpecialTokens) {
        return hf.decode(ids, skipSpecialTokens);
    }

    /** The id of an added/special token such as {@code <|im_end|>}. */
    public OptionalLong tokenId(String token) {
        Long id = specialTokens.get(token);
        return id == null ? OptionalLong.empty() : OptionalLong.of(id);
    }

    @Override
    public void close() {
        hf.close();
    }
}
