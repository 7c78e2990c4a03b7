package org.driftml.drift;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.driftml.kernels.SequenceLogps;
import org.driftml.kernels.StepScope;
import org.driftml.model.ComputeDevice;
import org.driftml.model.Decoder;
import org.driftml.model.GenerationDefaults;
import org.driftml.model.Precision;
import org.driftml.model.Sampler;
import org.driftml.model.Tensorsj;
import org.driftml.text.ChatMessage;
import org.driftml.text.ChatTemplate;
import org.driftml.text.Tokenizer;
import org.driftml.train.DpoConfig;
import org.driftml.train.DpoTrainer;
import org.driftml.train.FrozenReference;
import org.driftml.train.PairTokenizer;
import org.driftml.train.PrecomputedReference;
import org.driftml.train.PreferencePair;

/**
 * A model folder loaded for DRIFT: the decoder, its tokenizer and chat template, the ids that end an assistant
 * turn (generation_config's eos ids and {@code <|im_end|>}) and the pad id. It samples text and saves itself back
 * as a folder that transformers and every drift command load.
 */
public final class Policy implements AutoCloseable {
    /** Files besides the weights that make a folder a usable model for tokenisation and chat. */
    public static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "chat_template.jinja", "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json");

    private final Path folder;
    private final Decoder decoder;
    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final Set<Long> endIds;
    private final long padId;
    private final Precision precision;
    private boolean trained;  // by trainDpo since it was loaded: the folder's weights are no longer its own

    private Policy(Path folder, Decoder decoder, Tokenizer tokenizer, ChatTemplate template, Set<Long> endIds,
            long padId, Precision precision) {
        this.folder = folder;
        this.precision = precision;
        this.decoder = decoder;
        this.tokenizer = tokenizer;
        this.template = template;
        this.endIds = Set.copyOf(endIds);
        this.padId = padId;
    }

    /**
     * Loads a model folder on the CPU.
     *
     * @param folder    a Hugging Face model folder: config.json, safetensors weights, tokenizer and chat template
     * @param precision FP32, or BF16 compute over fp32 master weights when training
     * @return the policy; close it to free its weights
     * @throws IOException when the folder cannot be read
     * @throws IllegalArgumentException when a weight is missing, extra or mis-shaped (named)
     */
    public static Policy load(Path folder, Precision precision) throws IOException {
        return load(folder, precision, ComputeDevice.CPU);
    }

    /**
     * As {@link #load(Path, Precision)} with the weights, and every tensor made for them, on {@code device}.
     *
     * @param folder    a Hugging Face model folder
     * @param precision FP32, or BF16 compute over fp32 master weights when training
     * @param device    the CPU, a CUDA device, or the test device
     * @return the policy; close it to free its weights
     * @throws IOException when the folder cannot be read
     * @throws IllegalStateException when the device cannot be used by this build or host
     */
    public static Policy load(Path folder, Precision precision, ComputeDevice device) throws IOException {
        java.util.Objects.requireNonNull(folder, "folder");
        java.util.Objects.requireNonNull(precision, "precision");
        java.util.Objects.requireNonNull(device, "device");
        Decoder decoder = Decoder.load(folder, precision.computeDtype(), device.toTorch());
        Tokenizer tokenizer = Tokenizer.load(folder);
        ChatTemplate template = ChatTemplate.load(folder);
        Set<Long> ends = new HashSet<>(GenerationDefaults.read(folder, decoder.config()).eosTokenIds());
        tokenizer.tokenId("<|im_end|>").ifPresent(ends::add);
        long pad = decoder.config().padTokenId() != null ? decoder.config().padTokenId()
                : ends.stream().min(Long::compare).orElse(0L);
        return new Policy(folder, decoder, tokenizer, template, ends, pad, precision);
    }

    public Path folder() {
        return folder;
    }

    public Decoder decoder() {
        return decoder;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public ChatTemplate template() {
        return template;
    }

    public Set<Long> endIds() {
        return endIds;
    }

    public long padId() {
        return padId;
    }

    /** The conversation through the chat template, with the assistant's generation prompt. */
    public long[] encodeChat(List<ChatMessage> messages) {
        return tokenizer.encode(template.render(messages, true));
    }

    /** Raw text, no template (DRIFT's released transcript prompts). */
    public long[] encodeText(String text) {
        return tokenizer.encode(text, false);
    }

    /** Samples one continuation per prompt and decodes it without special tokens. */
    public List<String> sample(List<long[]> prompts, Sampler.Settings settings) {
        List<String> out = new ArrayList<>();
        for (Sampler.Generation g : new Sampler(decoder, padId).generate(prompts, settings)) {
            out.add(tokenizer.decode(g.outputIds(), true).strip());
        }
        return out;
    }

    /**
     * Continues each conversation through the chat template, as the assistant.
     *
     * @param conversations each a list of messages ending with the user's turn
     * @param settings      greedy or sampling, new-token budget and stop ids ({@link #endIds()} ends a turn)
     * @return each reply, decoded without special tokens
     * @throws IllegalArgumentException when there is no conversation or one is empty
     */
    public List<String> generate(List<List<ChatMessage>> conversations, Sampler.Settings settings) {
        if (conversations == null || conversations.isEmpty()) {
            throw new IllegalArgumentException("conversations: none given");
        }
        List<long[]> prompts = new ArrayList<>();
        for (int i = 0; i < conversations.size(); i++) {
            if (conversations.get(i) == null || conversations.get(i).isEmpty()) {
                throw new IllegalArgumentException("conversations[" + i + "]: no messages");
            }
            prompts.add(encodeChat(conversations.get(i)));
        }
        try (StepScope scope = StepScope.open()) {
            return sample(prompts, settings);
        }
    }

    /**
     * How likely this policy finds a reply: the summed log-probability of {@code completion}'s tokens after the
     * conversation (rendered through the chat template with the assistant's generation prompt).
     *
     * @param conversation the messages before the reply, ending with the user's turn
     * @param completion   the assistant's reply, as text
     * @return the summed natural log-probability of the reply's tokens
     * @throws IllegalArgumentException when the conversation is empty or the reply has no tokens
     */
    public double score(List<ChatMessage> conversation, String completion) {
        if (conversation == null || conversation.isEmpty()) {
            throw new IllegalArgumentException("conversation: no messages");
        }
        long[] prompt = encodeChat(conversation);
        long[] reply = tokenizer.encode(java.util.Objects.requireNonNull(completion, "completion"), false);
        if (reply.length == 0) {
            throw new IllegalArgumentException("completion: no tokens");
        }
        long[] all = java.util.Arrays.copyOf(prompt, prompt.length + reply.length);
        System.arraycopy(reply, 0, all, prompt.length, reply.length);
        int t = all.length - 1;  // hidden[j] predicts all[j + 1]
        long[] scored = new long[reply.length], mask = new long[t];
        for (int j = 0; j < reply.length; j++) {
            scored[j] = prompt.length - 1 + j;
            mask[prompt.length - 1 + j] = 1;
        }
        org.bytedeco.pytorch.Device device = decoder.device();
        try (StepScope scope = StepScope.open(); org.bytedeco.pytorch.NoGradGuard noGrad =
                new org.bytedeco.pytorch.NoGradGuard()) {
            Tensor ids = Tensorsj.fromLongs(java.util.Arrays.copyOf(all, t), device).view(1, t);
            Tensor targets = Tensorsj.fromLongs(java.util.Arrays.copyOfRange(all, 1, all.length), device).view(1, t);
            Tensor hidden = decoder.hiddenStates(ids, null, null);  // one unpadded sequence
            SequenceLogps.Output out = SequenceLogps.compute(hidden, decoder.lmHead(), targets,
                    Tensorsj.fromLongs(mask, device).view(1, t), Tensorsj.fromLongs(scored, device));
            return Tensorsj.doubles(out.logps())[0];
        }
    }

    /**
     * DPO on your own preference pairs, as TRL's DPOTrainer runs it, in one call: the pairs are tokenised through the
     * chat template (prompts cut to their last 1,024 tokens, sequences to 2,048), the reference is this policy as
     * the call starts (scored once, so one model is in memory), the update is RMSprop over fp32 master weights, and
     * every step runs in its own native-memory scope. In BF16 the masters start from the folder's fp32 weights
     * (from the current weights if an earlier call trained this policy); they are freed when the call returns,
     * leaving the trained weights in this policy.
     *
     * @param pairs  the preference pairs (at least one)
     * @param config the DPO settings ({@link DpoConfig#iteration()} is DRIFT's recipe)
     * @return each optimiser step's metrics under TRL's names (loss, rewards/..., logps/..., grad_norm, ...)
     * @throws IOException when the fp32 master weights cannot be read from the folder
     * @throws IllegalArgumentException when there are no pairs or a pair cannot be tokenised (named)
     * @throws IllegalStateException when the loss or the gradient norm stops being finite
     */
    public List<Map<String, Double>> trainDpo(List<PreferencePair> pairs, DpoConfig config) throws IOException {
        if (pairs == null || pairs.isEmpty()) {
            throw new IllegalArgumentException("pairs: none given");
        }
        java.util.Objects.requireNonNull(config, "config");
        try (StepScope scope = StepScope.open()) {
            List<PairTokenizer.TokenizedPair> tokenized = pairTokenizer(1024, 2048).tokenize(pairs);
            List<Map<String, Double>> steps;
            try (PrecomputedReference reference = PrecomputedReference.compute(new FrozenReference(decoder),
                    tokenized, padId, config.microBatch());
                    DpoTrainer trainer = trainer(reference, config)) {
                steps = trainer.train(tokenized);
            }
            trained = true;
            return steps;
        }
    }

    /** In BF16, masters from the folder's full-precision weights, read into host memory and freed once copied. */
    private DpoTrainer trainer(PrecomputedReference reference, DpoConfig config) throws IOException {
        if (!precision.mixed() || trained) {
            return new DpoTrainer(decoder, reference, config, padId, 0);
        }
        try (Decoder full = Decoder.load(folder, org.bytedeco.pytorch.global.torch.ScalarType.Float)) {
            return new DpoTrainer(decoder, reference, config, padId, 0, full.weights());
        }
    }

    /**
     * Writes this policy as a model folder transformers and every drift command load: its current weights (in its
     * compute dtype), the source folder's config files and tokenizer.
     *
     * @param to the folder to write (created if needed)
     * @throws IOException when it cannot be written
     */
    public void save(Path to) throws IOException {
        java.util.Objects.requireNonNull(to, "to");
        try (StepScope scope = StepScope.open()) {
            save(to, decoder.weights());
        }
    }

    public PairTokenizer pairTokenizer(int maxPromptLength, int maxLength) {
        return new PairTokenizer(tokenizer, template, endIds, maxPromptLength, maxLength);
    }

    /** Writes a model folder: {@code weights} (e.g. a trainer's fp32 masters), config files and the tokenizer. */
    void save(Path to, Map<String, Tensor> weights) throws IOException {
        decoder.save(to, weights, 2L << 30);
        copyTokenizerFiles(folder, to);
    }

    public static void copyTokenizerFiles(Path from, Path to) throws IOException {
        for (String f : TOKENIZER_FILES) {
            if (Files.exists(from.resolve(f)) && !from.resolve(f).equals(to.resolve(f))) {
                Files.copy(from.resolve(f), to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** Frees the decoder's weights and the tokenizer. */
    @Override
    public void close() {
        decoder.close();
        tokenizer.close();
    }
}
