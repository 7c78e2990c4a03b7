package org.driftml.model.spec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A decoder's shape, read from a Hugging Face {@code config.json}: Qwen2 (DRIFT's models), Llama, and Mistral-style
 * checkpoints. Both serialisations are read: transformers 4's {@code rope_theta} / {@code rope_scaling} and
 * transformers 5's {@code rope_parameters}. Anything the decoder would compute differently from transformers (another
 * activation, another rope type, sliding-window attention in use) is rejected with the file and field named.
 *
 * @param headDim            per-head width (Llama's {@code head_dim}; otherwise hidden / heads)
 * @param qkvBias            q/k/v projections carry biases (Qwen2 always; Llama when {@code attention_bias})
 * @param outputBias         o_proj carries a bias (Llama's {@code attention_bias}; never Qwen2)
 * @param mlpBias            gate/up/down projections carry biases (Llama's {@code mlp_bias})
 * @param rope               rotary embedding parameters
 * @param slidingWindow      Mistral's attention window, or 0 when attention is full
 * @param eosTokenIds        one or more end-of-sequence ids (HF allows a list)
 */
public record ModelConfig(String modelType, int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
        int numAttentionHeads, int numKeyValueHeads, int headDim, double rmsNormEps, boolean tieWordEmbeddings,
        boolean qkvBias, boolean outputBias, boolean mlpBias, Rope rope, int maxPositionEmbeddings,
        int slidingWindow, Integer bosTokenId, List<Integer> eosTokenIds, Integer padTokenId) {

    /** Rotary embeddings: HF's default (theta only) or Llama 3's frequency-dependent scaling. */
    public record Rope(String type, double theta, double factor, double lowFreqFactor, double highFreqFactor,
            int originalMaxPositionEmbeddings) {
        public static Rope standard(double theta) {
            return new Rope("default", theta, 1.0, 1.0, 1.0, 0);
        }
    }

    public static final Set<String> SUPPORTED_TYPES = Set.of("qwen2", "llama", "mistral");

    /** Reads and validates {@code config.json}; errors name the file and the field. */
    public static ModelConfig read(Path configJson) throws IOException {
        if (!java.nio.file.Files.isRegularFile(configJson)) {
            throw new IllegalArgumentException(configJson.getParent() + ": no config.json (is this a Hugging Face "
                    + "model folder?)");
        }
        JsonNode root;
        try {
            root = new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature
                    .FAIL_ON_TRAILING_TOKENS).readTree(configJson.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(configJson + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(configJson + ": must hold a JSON object");
        }
        return parse(root, configJson.toString());
    }

    static ModelConfig parse(JsonNode c, String source) {
        Fields f = new Fields(c, source);
        String type = f.string("model_type");
        if (!SUPPORTED_TYPES.contains(type)) {
            throw f.error("model_type", "'" + type + "' is not supported (drift supports qwen2, llama, mistral)");
        }
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw f.error("hidden_act", "'" + act + "' is not supported (SwiGLU with silu only)");
        }
        // Upper bounds far above any released model's: a typo such as num_hidden_layers 1000000000 otherwise ends
        // in an OutOfMemoryError while the expected tensors are listed.
        int hidden = f.positive("hidden_size", 1 << 17);
        int heads = f.positive("num_attention_heads", 1 << 12);
        int kvHeads = c.has("num_key_value_heads") && !c.get("num_key_value_heads").isNull()
                ? f.positive("num_key_value_heads", 1 << 12) : heads;
        if (heads % kvHeads != 0) {
            throw f.error("num_key_value_heads", kvHeads + " does not divide num_attention_heads " + heads);
        }
        int headDim = c.hasNonNull("head_dim") ? f.positive("head_dim", 1 << 12) : hidden / heads;
        if (!c.hasNonNull("head_dim") && hidden % heads != 0) {
            throw f.error("hidden_size", hidden + " is not divisible by num_attention_heads " + heads);
        }
        boolean qwen2 = type.equals("qwen2");
        boolean attentionBias = f.bool("attention_bias", false);
        int window = 0;
        if (qwen2 && f.bool("use_sliding_window", false)) {
            throw f.error("use_sliding_window", "true is not supported (full attention only)");
        }
        if (type.equals("mistral") && c.hasNonNull("sliding_window")) {
            window = f.positive("sliding_window", Integer.MAX_VALUE);
        }
        return new ModelConfig(type, f.positive("vocab_size", 1 << 24), hidden,
                f.positive("intermediate_size", 1 << 20), f.positive("num_hidden_layers", 1 << 12), heads, kvHeads, headDim,
                f.positiveDouble("rms_norm_eps", 1e-6), f.bool("tie_word_embeddings", false), qwen2 || attentionBias,
                !qwen2 && attentionBias, f.bool("mlp_bias", false), rope(c, f),
                f.positive("max_position_embeddings", 1 << 24), window,
                f.optionalInt("bos_token_id"), f.intList("eos_token_id"), f.optionalInt("pad_token_id"));
    }

    private static Rope rope(JsonNode c, Fields f) {
        // transformers 5 writes rope_parameters {rope_type, rope_theta, ...}; 4 writes rope_theta and rope_scaling.
        JsonNode params = c.hasNonNull("rope_parameters") ? c.get("rope_parameters") : c.path("rope_scaling");
        String field = c.hasNonNull("rope_parameters") ? "rope_parameters" : "rope_scaling";
        double theta = params.hasNonNull("rope_theta") ? f.positiveNumber(params, field, "rope_theta")
                : c.hasNonNull("rope_theta") ? f.positiveNumber(c, null, "rope_theta") : 10000.0;
        if (params.isMissingNode() || params.isNull()) {
            return Rope.standard(theta);
        }
        String kind = params.hasNonNull("rope_type") ? params.get("rope_type").asText()
                : params.path("type").asText("default");
        switch (kind) {
            case "default":
                return Rope.standard(theta);
            case "llama3":
                return new Rope("llama3", theta, f.number(params, field, "factor"),
                        f.number(params, field, "low_freq_factor"), f.number(params, field, "high_freq_factor"),
                        (int) f.number(params, field, "original_max_position_embeddings"));
            default:
                throw f.error(field + ".rope_type", "'" + kind + "' is not supported (default and llama3 are)");
        }
    }


    /** Query heads that share one key/value head (grouped-query attention). */
    public int queriesPerKeyValue() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /**
     * Every tensor a transformers checkpoint of this model holds, by HF name, with its shape. Tied models store no
     * {@code lm_head.weight}.
     */
    public Map<String, long[]> expectedTensors() {
        Map<String, long[]> t = new LinkedHashMap<>();
        long h = hiddenSize, q = (long) numAttentionHeads * headDim, kv = (long) numKeyValueHeads * headDim;
        long i = intermediateSize;
        t.put("model.embed_tokens.weight", new long[] {vocabSize, h});
        for (int l = 0; l < numHiddenLayers; l++) {
            String p = "model.layers." + l + ".";
            t.put(p + "input_layernorm.weight", new long[] {h});
            linear(t, p + "self_attn.q_proj", q, h, qkvBias);
            linear(t, p + "self_attn.k_proj", kv, h, qkvBias);
            linear(t, p + "self_attn.v_proj", kv, h, qkvBias);
            linear(t, p + "self_attn.o_proj", h, q, outputBias);
            t.put(p + "post_attention_layernorm.weight", new long[] {h});
            linear(t, p + "mlp.gate_proj", i, h, mlpBias);
            linear(t, p + "mlp.up_proj", i, h, mlpBias);
            linear(t, p + "mlp.down_proj", h, i, mlpBias);
        }
        t.put("model.norm.weight", new long[] {h});
        if (!tieWordEmbeddings) {
            t.put("lm_head.weight", new long[] {vocabSize, h});
        }
        return t;
    }

    private static void linear(Map<String, long[]> t, String name, long out, long in, boolean bias) {
        t.put(name + ".weight", new long[] {out, in});
        if (bias) {
            t.put(name + ".bias", new long[] {out});
        }
    }

    /** Field access with errors that name the file and the field. */
    private record Fields(JsonNode c, String source) {
        IllegalArgumentException error(String field, String what) {
            return new IllegalArgumentException(source + ": " + field + ": " + what);
        }

        String string(String name) {
            JsonNode n = c.get(name);
            if (n == null || !n.isTextual()) {
                throw error(name, n == null ? "missing" : "must be a string, got " + n);
            }
            return n.asText();
        }

        int positive(String name, int most) {
            JsonNode n = c.get(name);
            if (n == null || n.isNull()) {
                throw error(name, "missing");
            }
            if (!n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() <= 0) {
                throw error(name, "must be a positive integer, got " + n);
            }
            if (n.asInt() > most) {
                throw error(name, n + " is out of range (at most " + most + ")");
            }
            return n.asInt();
        }

        boolean bool(String name, boolean fallback) {
            JsonNode n = c.get(name);
            if (n == null || n.isNull()) {
                return fallback;
            }
            if (!n.isBoolean()) {
                throw error(name, "must be true or false, got " + n);
            }
            return n.asBoolean();
        }

        double positiveNumber(JsonNode in, String field, String name) {
            JsonNode n = in.get(name);
            String where = field == null ? name : field + "." + name;
            if (!n.isNumber() || !(n.asDouble() > 0) || Double.isInfinite(n.asDouble())) {
                throw error(where, "must be a positive number, got " + n);
            }
            return n.asDouble();
        }

        double positiveDouble(String name, double fallback) {
            JsonNode n = c.get(name);
            if (n == null || n.isNull()) {
                return fallback;
            }
            if (!n.isNumber() || !(n.asDouble() > 0) || Double.isInfinite(n.asDouble())) {
                throw error(name, "must be a positive number, got " + n);
            }
            return n.asDouble();
        }

        double number(JsonNode params, String field, String name) {
            JsonNode n = params.get(name);
            if (n == null || !n.isNumber()) {
                throw error(field + "." + name, n == null ? "missing (needed by llama3 rope)" : "must be a number");
            }
            return n.asDouble();
        }

        Integer optionalInt(String name) {
            JsonNode n = c.get(name);
            if (n == null || n.isNull()) {
                return null;
            }
            if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                throw error(name, "must be an integer in 32-bit range, got " + n);
            }
            return n.asInt();
        }

        List<Integer> intList(String name) {
            JsonNode n = c.get(name);
            List<Integer> out = new ArrayList<>();
            if (n == null || n.isNull()) {
                return out;
            }
            if (n.isIntegralNumber() && n.canConvertToInt()) {
                out.add(n.asInt());
                return out;
            }
            if (!n.isArray()) {
                throw error(name, "must be an integer or a list of integers, got " + n);
            }
            for (JsonNode e : n) {
                if (!e.isIntegralNumber() || !e.canConvertToInt()) {
                    throw error(name, "must be an integer or a list of integers, got " + n);
                }
                out.add(e.asInt());
            }
            return out;
        }
    }
}
