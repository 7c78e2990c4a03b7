package org.driftml.model.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.StepScope;
import org.driftml.model.spec.MalformedCheckpointException;

/**
 * transformers' {@code DebertaV2ForSequenceClassification} (DeBERTa-v2 and v3, He et al. 2021), forward only: the
 * embeddings (word, optionally absolute position and token type, optionally projected), layers of disentangled
 * self-attention, where each score adds content-to-position and position-to-content terms read from shared
 * relative-position embeddings at log-bucketed distances, the optional convolution after the first layer, and the
 * pooler on the first token ([CLS]) with a linear classifier. Every step follows transformers' order of operations,
 * so its logits equal transformers' to round-off ({@code scripts/parity/make_deberta_fixture.py}).
 */
public final class DebertaV2Classifier {
    /**
     * What config.json says, read once (transformers' defaults where a key is missing): the tensors to load follow
     * from it, and so does the forward.
     */
    private record Shape(long hidden, long embedding, long intermediate, long vocab, int layers, int heads, double eps,
            boolean positionBiasedInput, long typeVocab, int maxPositions, boolean relativeAttention,
            int maxRelativePositions, int positionBuckets, boolean c2p, boolean p2c, boolean shareAttKey,
            boolean normRelEmbeddings, String hiddenAct, String poolerAct, String convAct, long convKernel,
            long convGroups, long pooler, long labels, long padId) {
        static Shape read(JsonNode c) {
            long h = c.get("hidden_size").asLong();
            int maxPositions = c.path("max_position_embeddings").asInt(512);
            int maxRel = c.path("max_relative_positions").asInt(-1);
            List<String> types = posAttTypes(c.get("pos_att_type"));
            long labels = c.has("num_labels") ? c.get("num_labels").asInt()
                    : c.has("id2label") ? c.get("id2label").size() : 2;
            long kernel = c.path("conv_kernel_size").asLong(0);
            return new Shape(h, c.path("embedding_size").asLong(h), c.get("intermediate_size").asLong(),
                    c.get("vocab_size").asLong(), c.get("num_hidden_layers").asInt(),
                    c.get("num_attention_heads").asInt(), c.path("layer_norm_eps").asDouble(1e-7),
                    c.path("position_biased_input").asBoolean(true), c.path("type_vocab_size").asLong(0),
                    maxPositions, c.path("relative_attention").asBoolean(false), maxRel < 1 ? maxPositions : maxRel,
                    c.path("position_buckets").asInt(-1), types.contains("c2p"), types.contains("p2c"),
                    c.path("share_att_key").asBoolean(false),
                    c.path("norm_rel_ebd").asText("none").toLowerCase().contains("layer_norm"),
                    c.path("hidden_act").asText("gelu"), c.path("pooler_hidden_act").asText("gelu"),
                    kernel > 0 ? c.path("conv_act").asText("tanh") : null, kernel, c.path("conv_groups").asLong(1),
                    c.path("pooler_hidden_size").asLong(h), labels, c.path("pad_token_id").asLong(0));
        }

        /** att_span: the relative embeddings' half width. */
        int span() {
            return positionBuckets > 0 ? positionBuckets : maxRelativePositions;
        }

        /** Every tensor the classifier reads, with its shape. */
        Map<String, long[]> tensors() {
            long h = hidden, e = embedding;
            Map<String, long[]> m = new LinkedHashMap<>();
            String emb = "deberta.embeddings.";
            m.put(emb + "word_embeddings.weight", new long[] {vocab, e});
            if (positionBiasedInput) {
                m.put(emb + "position_embeddings.weight", new long[] {maxPositions, e});
            }
            if (typeVocab > 0) {
                m.put(emb + "token_type_embeddings.weight", new long[] {typeVocab, e});
            }
            if (e != h) {
                m.put(emb + "embed_proj.weight", new long[] {h, e});
            }
            norm(m, emb + "LayerNorm", h);
            for (int i = 0; i < layers; i++) {
                String p = "deberta.encoder.layer." + i + ".";
                for (String proj : new String[] {"query_proj", "key_proj", "value_proj"}) {
                    linear(m, p + "attention.self." + proj, h, h);
                }
                if (!shareAttKey && relativeAttention) {
                    if (c2p) {
                        linear(m, p + "attention.self.pos_key_proj", h, h);
                    }
                    if (p2c) {
                        linear(m, p + "attention.self.pos_query_proj", h, h);
                    }
                }
                linear(m, p + "attention.output.dense", h, h);
                norm(m, p + "attention.output.LayerNorm", h);
                linear(m, p + "intermediate.dense", intermediate, h);
                linear(m, p + "output.dense", h, intermediate);
                norm(m, p + "output.LayerNorm", h);
            }
            if (relativeAttention) {
                m.put("deberta.encoder.rel_embeddings.weight", new long[] {2L * span(), h});
                if (normRelEmbeddings) {
                    norm(m, "deberta.encoder.LayerNorm", h);
                }
            }
            if (convAct != null) {
                m.put("deberta.encoder.conv.conv.weight", new long[] {h, h / convGroups, convKernel});
                m.put("deberta.encoder.conv.conv.bias", new long[] {h});
                norm(m, "deberta.encoder.conv.LayerNorm", h);
            }
            linear(m, "pooler.dense", pooler, pooler);
            linear(m, "classifier", labels, pooler);
            return m;
        }
    }

    private final Map<String, Tensor> w;
    private final Shape shape;
    private final Device device;

    private DebertaV2Classifier(Map<String, Tensor> w, Shape s, Device device) {
        this.w = w;
        this.shape = s;
        this.device = device;
    }

    /** pos_att_type as a list, or as v2's "p2c|c2p". */
    private static List<String> posAttTypes(JsonNode v) {
        List<String> out = new ArrayList<>();
        if (v == null || v.isNull()) {
            return out;
        }
        if (v.isArray()) {
            v.forEach(x -> out.add(x.asText().trim().toLowerCase()));
        } else {
            for (String x : v.asText().split("\\|")) {
                out.add(x.trim().toLowerCase());
            }
        }
        return out;
    }

    /**
     * Loads a folder's config.json and safetensors weights onto {@code device} in {@code dtype}.
     *
     * @throws IllegalArgumentException     naming the folder and each missing or misshapen tensor
     * @throws MalformedCheckpointException naming a setting drift does not run (an activation other than gelu, relu
     *                                      or tanh; z_steps)
     */
    public static DebertaV2Classifier load(Path folder, ScalarType dtype, Device device) throws IOException {
        NativeRuntime.load();
        JsonNode c = new ObjectMapper().readTree(folder.resolve("config.json").toFile());
        for (String act : new String[] {"hidden_act", "pooler_hidden_act", "conv_act"}) {
            String a = c.path(act).asText("gelu");
            if (!List.of("gelu", "relu", "tanh").contains(a)) {
                throw new MalformedCheckpointException(folder + "/config.json: " + act + " \"" + a + "\" is not one "
                        + "drift runs (gelu, relu or tanh)");
            }
        }
        if (c.path("z_steps").asInt(0) > 1) {
            throw new MalformedCheckpointException(folder + "/config.json: z_steps " + c.get("z_steps")
                    + " (re-applied last layers) is not run by drift");
        }
        Shape shape = Shape.read(c);
        Checkpoint checkpoint = Checkpoint.open(folder);
        Map<String, long[]> expected = shape.tensors();
        Map<String, String> stored = new HashMap<>();
        Map<String, long[]> check = new LinkedHashMap<>();
        Set<String> names = new HashSet<>();
        checkpoint.names().forEach(names::add);
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            // Older checkpoints name a LayerNorm's scale and shift gamma and beta (transformers renames them).
            String name = e.getKey(), old = name.endsWith("LayerNorm.weight") ? name.replace(".weight", ".gamma")
                    : name.endsWith("LayerNorm.bias") ? name.replace(".bias", ".beta") : name;
            String found = !names.contains(name) && names.contains(old) ? old : name;
            stored.put(name, found);
            check.put(found, e.getValue());
        }
        for (String n : checkpoint.names()) {  // the MLM head and absolute positions v3 does not use are left alone
            if (!check.containsKey(n) && (n.startsWith("lm_predictions.") || n.startsWith("mask_predictions.")
                    || n.equals("deberta.embeddings.position_embeddings.weight") || n.endsWith("position_ids"))) {
                check.put(n, checkpoint.info(n).shape());
            }
        }
        checkpoint.validate(check);
        Map<String, Tensor> w = new HashMap<>();
        for (String name : expected.keySet()) {
            w.put(name, checkpoint.load(stored.get(name)).to(device, dtype));
        }
        return new DebertaV2Classifier(w, shape, device);
    }

    private static void linear(Map<String, long[]> m, String name, long out, long in) {
        m.put(name + ".weight", new long[] {out, in});
        m.put(name + ".bias", new long[] {out});
    }

    private static void norm(Map<String, long[]> m, String name, long size) {
        m.put(name + ".weight", new long[] {size});
        m.put(name + ".bias", new long[] {size});
    }

    /** The id right padding uses. */
    public long padId() {
        return shape.padId();
    }

    /** How many positions a sequence may take: the absolute position table's length, when the model has one. */
    public int maxLength() {
        return shape.positionBiasedInput() ? shape.maxPositions() : Integer.MAX_VALUE;
    }

    /**
     * Logits [N][num_labels] for each sequence (its ids with special tokens, and its token types), scored together in
     * one right-padded batch.
     */
    public float[][] logits(List<long[]> ids, List<long[]> typeIds) {
        int n = ids.size(), width = 0;
        for (long[] s : ids) {
            width = Math.max(width, s.length);
        }
        long[] flat = new long[n * width], types = new long[n * width], mask = new long[n * width];
        for (int i = 0; i < n; i++) {
            long[] s = ids.get(i), t = typeIds.get(i);
            for (int j = 0; j < width; j++) {
                flat[i * width + j] = j < s.length ? s[j] : shape.padId();
                types[i * width + j] = j < s.length ? t[j] : 0;
                mask[i * width + j] = j < s.length ? 1 : 0;
            }
        }
        float[][] out = new float[n][];
        try (StepScope scope = StepScope.open(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor input = Tensorsj.fromLongs(flat, device).view(n, width);
            Tensor m = Tensorsj.fromLongs(mask, device).view(n, width);
            Tensor h = embeddings(input, Tensorsj.fromLongs(types, device).view(n, width), m);
            // get_attention_mask: token i may attend to token j when both are real.
            Tensor m4 = m.unsqueeze(1).unsqueeze(2);
            Tensor pairMask = m4.mul(m4.squeeze(-2).unsqueeze(-1)).to(ScalarType.Bool);
            Tensor rel = shape.relativeAttention() ? relEmbeddings() : null;
            Tensor relPos = rel == null ? null : relativePositions(width);
            Tensor embedded = h;
            for (int i = 0; i < shape.layers(); i++) {
                h = layer(i, h, pairMask, relPos, rel);
                if (i == 0 && shape.convAct() != null) {
                    h = conv(embedded, h, m);
                }
            }
            Tensor pooled = act(shape.poolerAct(), linear(h.select(1, 0), "pooler.dense"));
            Tensor logits = linear(pooled, "classifier").to(ScalarType.Float);
            float[] values = Tensorsj.floats(logits);
            int labels = (int) logits.size(1);
            for (int i = 0; i < n; i++) {
                out[i] = java.util.Arrays.copyOfRange(values, i * labels, (i + 1) * labels);
            }
        }
        return out;
    }

    private Tensor embeddings(Tensor ids, Tensor types, Tensor mask) {
        String p = "deberta.embeddings.";
        Tensor e = torch.embedding(w.get(p + "word_embeddings.weight"), ids);
        if (shape.positionBiasedInput()) {
            Tensor positions = torch.arange(new Scalar(ids.size(1)), Tensorsj.options(ScalarType.Long, device));
            e = e.add(torch.embedding(w.get(p + "position_embeddings.weight"), positions));
        }
        if (shape.typeVocab() > 0) {
            e = e.add(torch.embedding(w.get(p + "token_type_embeddings.weight"), types));
        }
        if (w.containsKey(p + "embed_proj.weight")) {
            e = e.matmul(w.get(p + "embed_proj.weight").t());
        }
        e = layerNorm(e, p + "LayerNorm");
        return e.mul(mask.unsqueeze(2).to(e.scalar_type()));
    }

    private Tensor relEmbeddings() {
        Tensor rel = w.get("deberta.encoder.rel_embeddings.weight");
        return shape.normRelEmbeddings() ? layerNorm(rel, "deberta.encoder.LayerNorm") : rel;
    }

    /**
     * build_relative_position: q - k, log-bucketed beyond half the buckets (make_log_bucket_position), computed with
     * the same float32 ops as transformers so the buckets agree at their edges.
     */
    private Tensor relativePositions(int length) {
        Tensor ids = torch.arange(new Scalar(length), Tensorsj.options(ScalarType.Long, device));
        Tensor rel = ids.unsqueeze(1).sub(ids.unsqueeze(0));
        if (shape.positionBuckets() > 0 && shape.maxRelativePositions() > 0) {
            int mid = shape.positionBuckets() / 2;
            Tensor sign = torch.sign(rel);
            Tensor inside = rel.lt(new Scalar(mid)).logical_and(rel.gt(new Scalar(-mid)));
            Tensor absPos = torch.where(inside, torch.full(new long[] {}, new Scalar(mid - 1),
                    Tensorsj.options(ScalarType.Long, device)), rel.abs());
            Tensor logOfMax = torch.full(new long[] {}, new Scalar((double) (shape.maxRelativePositions() - 1) / mid),
                    Tensorsj.options(ScalarType.Float, device)).log();
            Tensor logPos = torch.ceil(absPos.div(new Scalar(mid)).log().div(logOfMax).mul(new Scalar(mid - 1)))
                    .add(new Scalar(mid));
            rel = torch.where(absPos.le(new Scalar(mid)), rel.to(logPos.scalar_type()), logPos.mul(sign))
                    .to(ScalarType.Long);
        }
        return rel;
    }

    private Tensor layer(int i, Tensor h, Tensor pairMask, Tensor relPos, Tensor rel) {
        String p = "deberta.encoder.layer." + i + ".";
        Tensor attended = attention(p + "attention.self.", h, pairMask, relPos, rel);
        Tensor a = layerNorm(linear(attended, p + "attention.output.dense").add(h), p + "attention.output.LayerNorm");
        Tensor inter = act(shape.hiddenAct(), linear(a, p + "intermediate.dense"));
        return layerNorm(linear(inter, p + "output.dense").add(a), p + "output.LayerNorm");
    }

    /** [N, L, D] to [N, H, L, d]. */
    private Tensor split(Tensor x) {
        return x.view(x.size(0), x.size(1), shape.heads(), -1).permute(0, 2, 1, 3);
    }

    private Tensor attention(String p, Tensor h, Tensor pairMask, Tensor relPos, Tensor rel) {
        Tensor q = split(linear(h, p + "query_proj"));
        Tensor k = split(linear(h, p + "key_proj"));
        Tensor v = split(linear(h, p + "value_proj"));
        int factor = 1 + (shape.c2p() ? 1 : 0) + (shape.p2c() ? 1 : 0);
        Scalar scale = new Scalar((double) (float) Math.sqrt((float) q.size(-1) * factor));
        Tensor scores = q.matmul(k.transpose(-1, -2).div(scale));
        if (rel != null) {
            scores = scores.add(disentangledBias(p, q, k, relPos, rel, scale));
        }
        scores = scores.masked_fill(pairMask.logical_not(), new Scalar(finfoMin(scores.scalar_type())));
        Tensor probs = torch.softmax(scores, -1);
        Tensor context = probs.matmul(v).permute(0, 2, 1, 3).contiguous();
        return context.view(context.size(0), context.size(1), -1);
    }

    /** The c2p and p2c terms of Eq. (4) of the DeBERTa paper, as transformers computes them. */
    private Tensor disentangledBias(String p, Tensor q, Tensor k, Tensor relPos, Tensor rel, Scalar scale) {
        Tensor rows = rel.narrow(0, 0, 2L * shape.span()).unsqueeze(0);  // [1, 2S, D]
        long n = q.size(0), length = q.size(2);
        Tensor score = null;
        if (shape.c2p()) {
            Tensor posKey = split(linear(rows, p + (shape.shareAttKey() ? "key_proj" : "pos_key_proj")));  // [1, H, 2S, d]
            Tensor att = q.matmul(posKey.transpose(-1, -2));  // [N, H, L, 2S]
            Tensor index = torch.clamp(relPos.add(new Scalar(shape.span())), new ScalarOptional(new Scalar(0)),
                    new ScalarOptional(new Scalar(2 * shape.span() - 1)));
            att = att.gather(-1, index.expand(n, shape.heads(), length, length), false);
            score = att.div(scale);
        }
        if (shape.p2c()) {
            Tensor posQuery = split(linear(rows, p + (shape.shareAttKey() ? "query_proj" : "pos_query_proj")));
            Tensor att = k.matmul(posQuery.transpose(-1, -2));  // [N, H, L, 2S]
            Tensor index = torch.clamp(relPos.neg().add(new Scalar(shape.span())), new ScalarOptional(new Scalar(0)),
                    new ScalarOptional(new Scalar(2 * shape.span() - 1)));
            att = att.gather(-1, index.expand(n, shape.heads(), length, length), false).transpose(-1, -2);
            score = score == null ? att.div(scale) : score.add(att.div(scale));
        }
        return score;
    }

    /** ConvLayer after the first layer: conv1d over the embeddings, masked, activated, added and normed. */
    private Tensor conv(Tensor embedded, Tensor residual, Tensor mask) {
        String p = "deberta.encoder.conv.";
        Tensor weight = w.get(p + "conv.weight");
        long kernel = weight.size(2);
        long groups = embedded.size(2) / weight.size(1);
        Tensor out = torch.conv1d(embedded.permute(0, 2, 1).contiguous(), weight, new TensorOptional(w.get(p
                + "conv.bias")), new long[] {1}, new long[] {(kernel - 1) / 2}, new long[] {1}, groups)
                .permute(0, 2, 1).contiguous();
        out = out.masked_fill(mask.eq(new Scalar(0)).unsqueeze(-1), new Scalar(0));
        out = act(shape.convAct(), out);
        Tensor normed = layerNorm(residual.add(out), p + "LayerNorm");
        return normed.mul(mask.unsqueeze(2).to(normed.scalar_type()));
    }

    private Tensor linear(Tensor x, String name) {
        return x.matmul(w.get(name + ".weight").t()).add(w.get(name + ".bias"));
    }

    private Tensor layerNorm(Tensor x, String name) {
        return torch.layer_norm(x, new long[] {x.size(-1)}, new TensorOptional(w.get(name + ".weight")),
                new TensorOptional(w.get(name + ".bias")), shape.eps(), false);
    }

    private static Tensor act(String name, Tensor x) {
        return switch (name) {
            case "relu" -> torch.relu(x);
            case "tanh" -> torch.tanh(x);
            default -> torch.gelu(x);  // transformers' "gelu": the exact erf form
        };
    }

    private static double finfoMin(ScalarType t) {
        return switch (t) {
            case BFloat16 -> -3.3895313892515355e38;
            case Half -> -65504.0;
            case Double -> -Double.MAX_VALUE;
            default -> -Float.MAX_VALUE;
        };
    }
}
