package org.driftml.model.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.SequenceLogps;
import org.driftml.kernels.StepScope;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.ModelConfig;

/**
 * A Qwen2 / Llama decoder as transformers computes it, over weights held by their Hugging Face names:
 * embeddings, then per layer {@code x += o(attn(rope(q(n1 x)), rope(k(n1 x)), v(n1 x)))} and
 * {@code x += down(silu(gate(n2 x)) * up(n2 x))} with RMSNorms n1, n2, then a final RMSNorm.
 *
 * <p>It returns the final hidden states: training scores them with the fused sequence log-prob op without ever
 * forming full-vocabulary logits; {@link #logits} exists for generation and parity checks.
 */
public final class Decoder implements AutoCloseable {
    private final ModelConfig config;
    private final Map<String, Tensor> weights;
    private final RotaryEmbedding rope;
    private final Path source;
    private final Device device;
    private LoraAdapters adapters;  // null: the base model alone

    private Decoder(ModelConfig config, Map<String, Tensor> weights, Path source) {
        this.config = config;
        this.weights = weights;
        this.device = weights.get("model.embed_tokens.weight").device();
        this.rope = new RotaryEmbedding(config.rope(), config.headDim(), device);
        this.source = source;
    }

    /**
     * Loads a Hugging Face model folder ({@code config.json} and safetensors weights) with every weight cast to
     * {@code dtype}. The checkpoint is validated against the config first: a missing, extra or mis-shaped tensor
     * is an error naming it.
     */
    public static Decoder load(Path folder, ScalarType dtype) throws IOException {
        return load(folder, dtype, Torch.device(ComputeDevice.CPU));
    }

    /** As {@link #load(Path, ScalarType)} with every weight on {@code device}, cast on the way. */
    public static Decoder load(Path folder, ScalarType dtype, Device device) throws IOException {
        NativeRuntime.load();
        ModelConfig config = ModelConfig.read(folder.resolve("config.json"));
        return load(folder, dtype, device, config, config.expectedTensors(), new LinkedHashMap<>());
    }

    /**
     * The folder's weights (validated as {@link #load(Path, ScalarType)} validates them) as a map whose values are
     * read from the file and cast to {@code dtype} when read, one tensor at a time in the reader's scope: for seeding
     * fp32 masters one weight at a time, without a whole fp32 model in memory beside the optimiser's state (2 GB at
     * Qwen2.5-0.5B's geometry, 28 GB at 7B). A read that fails throws {@link java.io.UncheckedIOException}.
     */
    public static Map<String, Tensor> weightsWhenRead(Path folder, ScalarType dtype) throws IOException {
        NativeRuntime.load();
        ModelConfig config = ModelConfig.read(folder.resolve("config.json"));
        Checkpoint checkpoint = Checkpoint.open(folder);
        checkpoint.validate(config.expectedTensors());
        Map<String, java.util.function.Supplier<Tensor>> values = new LinkedHashMap<>();
        for (String name : config.expectedTensors().keySet()) {
            values.put(name, () -> {
                try {
                    Tensor stored = checkpoint.load(name);
                    return stored.scalar_type().value == dtype.value ? stored : stored.to(dtype);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
        return new MadeWhenRead(values);
    }

    /**
     * Loads the tensors {@code expected} names (validated: nothing missing, extra or mis-shaped); those that are not
     * the decoder's own (a classifier's head, say) go to {@code others}.
     */
    static Decoder load(Path folder, ScalarType dtype, Device device, ModelConfig config,
            Map<String, long[]> expected, Map<String, Tensor> others) throws IOException {
        Checkpoint checkpoint = Checkpoint.open(folder);
        checkpoint.validate(expected);
        Set<String> own = config.expectedTensors().keySet();
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (String name : expected.keySet()) {
            try (StepScope scope = StepScope.open()) {  // the stored-dtype copy goes as soon as it is cast
                Tensor stored = checkpoint.load(name);
                (own.contains(name) ? weights : others).put(name, scope.keep(onto(stored, dtype, device)));
            }
        }
        return new Decoder(config, Collections.unmodifiableMap(weights), folder);
    }

    /**
     * A stored weight on {@code device} in {@code dtype}. On the CPU in its stored dtype it stays the mapped file.
     * Elsewhere it goes through pinned host memory, as a GPU loads fastest: one copy into page-locked memory, then a
     * transfer that does not wait; it is cast on the device.
     */
    private static Tensor onto(Tensor stored, ScalarType dtype, Device device) {
        if (device.is_cpu()) {
            return stored.scalar_type().value == dtype.value ? stored : stored.to(dtype);
        }
        return stored.pin_memory().to(device, stored.scalar_type(), true, false, new MemoryFormatOptional())
                .to(dtype);
    }

    /**
     * A frozen copy of the current weights: DPO's reference (the initial policy, or the policy at the start of a
     * DRIFT iteration). It shares nothing with this decoder and computes no gradients.
     */
    public Decoder frozenCopy() {
        Map<String, Tensor> copy = new LinkedHashMap<>();
        try (StepScope scope = StepScope.open()) {  // detach()'s handles would keep these weights alive
            weights.forEach((name, w) -> copy.put(name, scope.keep(w.detach().clone())));
        }
        return new Decoder(config, Collections.unmodifiableMap(copy), source);
    }

    /**
     * Frees every weight and adapter now (and with them their gradients), rather than when the garbage collector finds
     * the handles: at 7B one model is 15 GB in bf16, and a DRIFT stage loads three. The decoder is unusable after.
     */
    @Override
    public void close() {
        weights.values().forEach(Tensor::close);
        if (adapters != null) {
            adapters.close();
        }
    }

    public ModelConfig config() {
        return config;
    }

    /** Where the weights are, and where every tensor this decoder makes goes. */
    public Device device() {
        return device;
    }

    /**
     * Puts LoRA adapters on this decoder's linear layers (replacing any before): every forward from now on adds them
     * while they are {@link LoraAdapters#enabled() enabled}. They must have been made for this decoder's config.
     */
    public void attach(LoraAdapters lora) {
        this.adapters = lora;
    }

    /** The model folder these weights were loaded from. */
    public Path source() {
        return source;
    }

    /** The attached adapters, or null. */
    public LoraAdapters adapters() {
        return adapters;
    }

    /** The weights by Hugging Face name; training updates them in place. */
    public Map<String, Tensor> weights() {
        return weights;
    }

    /** The [V, D] output projection: the input embedding when the model ties them. */
    public Tensor lmHead() {
        return weights.get(lmHeadName());
    }

    /** The name of {@link #lmHead()}'s weight: {@code model.embed_tokens.weight} when tied. */
    public String lmHeadName() {
        return config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
    }

    /**
     * Final hidden states [N, T, D] (after the last norm).
     *
     * @param inputIds      [N, T] int64
     * @param attentionMask [N, T], 1 for real tokens and 0 for padding, or null where causal attention alone is
     *                      right: no padding, or padding that only ends rows (right padding: pad outputs are then
     *                      wrong but never used). The caller knows its padding; the decoder never reads it back
     *                      from the device.
     * @param positionIds   [N, T] int64, or null for 0..T-1 in every row as transformers' forward uses; a sampler
     *                      over left-padded prompts passes cumsum(mask) - 1 instead
     */
    public Tensor hiddenStates(Tensor inputIds, Tensor attentionMask, Tensor positionIds) {
        return hiddenStates(inputIds, attentionMask, positionIds, null);
    }

    /**
     * As {@link #hiddenStates(Tensor, Tensor, Tensor)} for the next tokens of sequences whose earlier positions are
     * in {@code cache}: {@code keyMask} [N, cache.length() + T] covers cached and new positions (null: no padding
     * among them); the new keys and values are appended to the cache. With a null cache this is the plain forward.
     */
    public Tensor hiddenStates(Tensor inputIds, Tensor keyMask, Tensor positionIds, KvCache cache) {
        long n = inputIds.size(0), t = inputIds.size(1);
        long past = cache == null ? 0 : cache.length();
        return layers(embed(inputIds), rotary(positions(positionIds, n, t)), maskFor(keyMask, n, t, past), cache);
    }

    /**
     * The final hidden states [N, T, D] with every real token attending to every real token, no causal mask: how
     * bidirectional embedding models built on a decoder (gte-Qwen2) read text. Positions are 0..T-1 in every row
     * (right padding); padding keys are masked out, so real tokens' states do not depend on the padding.
     *
     * @param keyMask [N, T], 1 for real tokens and 0 for padding, or null when there is none
     */
    public Tensor bidirectionalStates(Tensor inputIds, Tensor keyMask) {
        long n = inputIds.size(0), t = inputIds.size(1);
        Tensor keys = keyMask != null ? keyMask.to(ScalarType.Bool)
                : torch.ones(new long[] {n, t}, Tensorsj.options(ScalarType.Bool, device));
        Tensor mask = keys.view(n, 1, 1, t).expand(n, 1, t, t).contiguous();
        return layers(embed(inputIds), rotary(positions(null, n, t)), mask, null);
    }

    /** The decoder layers over embedded inputs, then the final norm; new keys and values go to {@code cache}. */
    private Tensor layers(Tensor x, Tensor[] cosSin, Tensor mask, KvCache cache) {
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            try (StepScope scope = StepScope.open()) {  // the layer's intermediates go with it (autograd keeps its own)
                x = scope.handBack(layer(l, x, cosSin, mask, cache));
            }
        }
        if (cache != null) {
            cache.advance(x.size(1));
        }
        return finalNorm(x);
    }

    /**
     * As {@link #hiddenStates(Tensor, Tensor, Tensor)} for training with activation checkpointing: only each
     * layer's input is kept, and {@link CheckpointedForward#backward()} recomputes one layer at a time.
     */
    public CheckpointedForward checkpointed(Tensor inputIds, Tensor attentionMask, Tensor positionIds) {
        return new CheckpointedForward(this, inputIds, attentionMask, positionIds);
    }

    /** One decoder layer: pre-norm attention and MLP, each added to the residual stream. */
    Tensor layer(int l, Tensor x, Tensor[] cosSin, Tensor mask, KvCache cache) {
        String p = "model.layers." + l + ".";
        x = x.add(attention(l, rmsNorm(x, weights.get(p + "input_layernorm.weight")), cosSin, mask, cache));
        return x.add(mlp(p, rmsNorm(x, weights.get(p + "post_attention_layernorm.weight"))));
    }

    Tensor finalNorm(Tensor x) {
        return rmsNorm(x, weights.get("model.norm.weight"));
    }

    Tensor embed(Tensor inputIds) {
        return torch.embedding(weights.get("model.embed_tokens.weight"), inputIds);
    }

    /**
     * The embedding's backward for {@code grad} [N, T, D] at {@code inputIds}: each row of grad is added to its
     * token's row of the embedding's gradient, in place. Autograd's embedding backward first builds a dense [V, D]
     * zero tensor and then adds it to the gradient the tied lm-head already left: measured at Qwen2.5-0.5B's
     * geometry, 272 MB of peak for rows that touch a few hundred of 151,936 tokens.
     */
    void embedBackward(Tensor inputIds, Tensor grad) {
        Tensor w = weights.get("model.embed_tokens.weight");
        if (!w.requires_grad()) {
            return;
        }
        NoGradGuard noGrad = new NoGradGuard();
        try (StepScope scope = StepScope.open()) {
            Tensor rows = grad.reshape(-1, w.size(1)).to(w.scalar_type());
            Tensor g = w.grad();
            if (g.defined()) {
                g.index_add_(0, inputIds.reshape(-1), rows);
            } else {
                // The gradient takes its own reference; the scope frees this handle.
                w.mutable_grad().put(torch.zeros_like(w).index_add_(0, inputIds.reshape(-1), rows));
            }
        } finally {
            noGrad.close();
        }
    }

    /** The given position ids, or 0..T-1 in every row (transformers' forward default). */
    Tensor positions(Tensor positionIds, long n, long t) {
        return positionIds != null ? positionIds
                : torch.arange(new Scalar(t), Tensorsj.options(ScalarType.Long, device)).unsqueeze(0).expand(n, t);
    }

    /**
     * The mask to pass to SDPA, or null where causal attention alone is exact: nothing cached (SDPA's is_causal
     * kernel then keeps no [T, T] matrix for backward, as in transformers when it drops an all-ones mask), or one
     * new query over cached keys. Decided from what the caller knows ({@code keyMask} null: no padding that
     * matters), never by reading the mask back: on a GPU that read would wait for the device at every forward.
     */
    Tensor maskFor(Tensor keyMask, long n, long t, long past) {
        if (keyMask != null) {
            return attentionMask(keyMask, t, past);
        }
        if (past == 0 || t == 1) {
            return null;
        }
        return attentionMask(torch.ones(new long[] {n, past + t}, Tensorsj.options(ScalarType.Long, device)), t, past);
    }

    Tensor[] rotary(Tensor positions) {
        return rope.cosSin(positions, weights.get("model.embed_tokens.weight").scalar_type());
    }

    /** Full-vocabulary logits [N, T, V] for hidden states: generation and parity checks only. */
    public Tensor logits(Tensor hidden) {
        return hidden.matmul(lmHead().t());
    }

    /**
     * The summed log-probability of {@code ids[start..]} after {@code ids[..start)}, one unpadded sequence, through
     * the fused log-prob op (hidden[j] predicts ids[j + 1], so positions start - 1 .. n - 2 are scored).
     *
     * @param ids   the whole sequence
     * @param start where the scored continuation begins, in [1, ids.length)
     * @return the natural log-probability (one host read)
     * @throws IllegalArgumentException when {@code start} is outside [1, ids.length)
     */
    public double completionLogprob(long[] ids, int start) {
        if (start < 1 || start >= ids.length) {
            throw new IllegalArgumentException("start " + start + " must be in [1, " + ids.length + ")");
        }
        int t = ids.length - 1;
        long[] scored = new long[ids.length - start], mask = new long[t];
        for (int j = 0; j < scored.length; j++) {
            scored[j] = start - 1 + j;
            mask[start - 1 + j] = 1;
        }
        try (StepScope scope = StepScope.open(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor context = Tensorsj.fromLongs(java.util.Arrays.copyOf(ids, t), device).view(1, t);
            Tensor targets = Tensorsj.fromLongs(java.util.Arrays.copyOfRange(ids, 1, ids.length), device).view(1, t);
            SequenceLogps.Output out = SequenceLogps.compute(hiddenStates(context, null, null), lmHead(), targets,
                    Tensorsj.fromLongs(mask, device).view(1, t), Tensorsj.fromLongs(scored, device));
            return Tensorsj.doubles(out.logps())[0];
        }
    }

    /** {@link #logits(Tensor)} of [N, D] hidden states written into {@code out}, [N, V] (a decoding step's buffer). */
    public Tensor logits(Tensor hidden, Tensor out) {
        return torch.matmul_out(out, hidden, lmHead().t());
    }

    /**
     * Where each of {@code t} queries (at absolute positions past..past+t-1) may look among past + t keys: keys at
     * or before it that are not padding, as a [N, 1, t, past + t] boolean mask. A padding query that may see nothing
     * is allowed to see everything, as transformers does: otherwise its row of the softmax is NaN, and NaN values
     * reach real tokens through 0 * NaN in the attention product.
     */
    static Tensor attentionMask(Tensor keyMask, long t, long past) {
        TensorOptions onDevice = Tensorsj.options(ScalarType.Long, keyMask.device());
        Tensor queries = torch.arange(new Scalar(t), onDevice).add(new Scalar(past)).unsqueeze(1);
        Tensor keys = torch.arange(new Scalar(past + t), onDevice).unsqueeze(0);
        Tensor causal = keys.le(queries).unsqueeze(0).unsqueeze(0);
        Tensor allowed = causal.logical_and(keyMask.to(ScalarType.Bool).unsqueeze(1).unsqueeze(2));
        Tensor blind = allowed.any(-1, true).logical_not();
        return allowed.logical_or(blind);
    }

    private Tensor attention(int layer, Tensor x, Tensor[] cosSin, Tensor mask, KvCache cache) {
        String p = "model.layers." + layer + ".";
        long n = x.size(0), t = x.size(1);
        int heads = config.numAttentionHeads(), kvHeads = config.numKeyValueHeads(), d = config.headDim();
        Tensor q = linear(x, p + "self_attn.q_proj").view(n, t, heads, d).transpose(1, 2);
        Tensor k = linear(x, p + "self_attn.k_proj").view(n, t, kvHeads, d).transpose(1, 2);
        Tensor v = linear(x, p + "self_attn.v_proj").view(n, t, kvHeads, d).transpose(1, 2);
        q = RotaryEmbedding.apply(q, cosSin[0], cosSin[1]);
        k = RotaryEmbedding.apply(k, cosSin[0], cosSin[1]);
        if (cache != null) {
            Tensor[] all = cache.append(layer, k, v);
            k = all[0];
            v = all[1];
        }
        long keysLength = k.size(2);
        int group = config.queriesPerKeyValue();
        // Grouped-query attention: each key/value head serves `group` query heads. Without gradients SDPA reads the
        // shared heads itself (enable_gqa); expanding them first copied the whole cache at every layer of every
        // decoded token (0.46 against 4.6 ms per layer at batch 32 over 192 cached positions in torch 2.13, the
        // same output bit for bit). Under autograd the expansion stays: its backward sums each group's key and
        // value gradients in transformers' order.
        boolean sharedHeads = group > 1 && !GradMode.is_enabled();
        if (group > 1 && !sharedHeads) {
            k = k.unsqueeze(2).expand(n, kvHeads, group, keysLength, d).reshape(n, heads, keysLength, d);
            v = v.unsqueeze(2).expand(n, kvHeads, group, keysLength, d).reshape(n, heads, keysLength, d);
        }
        // mask == null: causal over the new tokens (is_causal) when nothing is cached, else one query seeing all keys.
        boolean causal = mask == null && (cache == null || cache.length() == 0) && t > 1;
        Tensor out = torch.scaled_dot_product_attention(q, k, v,
                mask == null ? new TensorOptional() : new TensorOptional(mask), 0.0, causal,
                new DoubleOptional(1.0 / Math.sqrt(d)), sharedHeads);
        return linear(out.transpose(1, 2).reshape(n, t, (long) heads * d), p + "self_attn.o_proj");
    }

    private Tensor mlp(String p, Tensor x) {
        Tensor gate = torch.silu(linear(x, p + "mlp.gate_proj"));
        return linear(gate.mul(linear(x, p + "mlp.up_proj")), p + "mlp.down_proj");
    }

    private Tensor linear(Tensor x, String name) {
        Tensor bias = weights.get(name + ".bias");
        Tensor y = x.matmul(weights.get(name + ".weight").t());
        y = bias == null ? y : y.add(bias);
        return adapters == null ? y : adapters.adapt(name, x, y);
    }

    /** HF's RMSNorm: normalise in fp32, cast back, then scale. */
    private Tensor rmsNorm(Tensor x, Tensor weight) {
        Tensor x32 = x.to(ScalarType.Float);
        Tensor variance = x32.pow(new Scalar(2)).mean(new long[] {-1}, true, new ScalarTypeOptional());
        Tensor normed = x32.mul(torch.rsqrt(variance.add(new Scalar(config.rmsNormEps()))));
        return weight.mul(normed.to(x.scalar_type()));
    }

    /**
     * Saves a Hugging Face model folder: the source's config.json (and generation_config.json) unchanged, and the
     * weights as safetensors (sharded above {@code maxShardBytes}). transformers loads it as it is.
     */
    public void save(Path folder, long maxShardBytes) throws IOException {
        save(folder, weights, maxShardBytes);
    }

    /** As {@link #save(Path, long)} with other tensors under the same names (a trainer's fp32 master weights). */
    public void save(Path folder, Map<String, Tensor> tensors, long maxShardBytes) throws IOException {
        if (!tensors.keySet().equals(weights.keySet())) {
            throw new IllegalArgumentException("the tensors to save must have this model's names");
        }
        Files.createDirectories(folder);
        for (String name : new String[] {"config.json", "generation_config.json"}) {
            Path from = source.resolve(name);
            if (Files.exists(from) && !from.equals(folder.resolve(name))) {
                Files.copy(from, folder.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        SafetensorsWriter.writeCheckpoint(folder, tensors, maxShardBytes);
    }
}
