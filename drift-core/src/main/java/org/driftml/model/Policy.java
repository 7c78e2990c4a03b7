package org.driftml.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.LoraAdapters;
import org.driftml.model.internal.Torch;
import org.driftml.text.ChatMessage;
import org.driftml.text.ChatTemplate;
import org.driftml.text.Tokenizer;
import org.driftml.model.spec.LoraConfig;
import org.driftml.model.spec.Precision;
import org.driftml.model.spec.ComputeDevice;

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
    private boolean weightsAsLoaded = true;

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
        Decoder decoder = Decoder.load(folder, Torch.computeDtype(precision), Torch.device(device));
        Tokenizer tokenizer = Tokenizer.load(folder);
        ChatTemplate template = ChatTemplate.load(folder);
        Set<Long> ends = new HashSet<>(GenerationDefaults.read(folder, decoder.config()).eosTokenIds());
        tokenizer.tokenId("<|im_end|>").ifPresent(ends::add);
        long pad = decoder.config().padTokenId() != null ? decoder.config().padTokenId()
                : ends.stream().min(Long::compare).orElse(0L);
        return new Policy(folder, decoder, tokenizer, template, ends, pad, precision);
    }

    /**
     * Loads a model folder's weights without a tokenizer, for work on token ids alone (scoring, generating and
     * training on ids, benchmarks): the text methods ({@link #tokenizer()}, {@link #encodeChat}, {@link #sample},
     * {@link #generate}, {@link #score}) refuse, naming the folder. The end ids are generation_config's.
     *
     * @param folder    config.json and safetensors weights (a tokenizer, if there, is not read)
     * @param precision FP32, or BF16 compute over fp32 master weights when training
     * @param device    the CPU, a CUDA device, or the test device
     * @return the policy; close it to free its weights
     * @throws IOException when the folder cannot be read
     */
    public static Policy loadWeights(Path folder, Precision precision, ComputeDevice device) throws IOException {
        java.util.Objects.requireNonNull(folder, "folder");
        Decoder decoder = Decoder.load(folder, Torch.computeDtype(precision), Torch.device(device));
        Set<Long> ends = new HashSet<>(GenerationDefaults.read(folder, decoder.config()).eosTokenIds());
        long pad = decoder.config().padTokenId() != null ? decoder.config().padTokenId()
                : ends.stream().min(Long::compare).orElse(0L);
        return new Policy(folder, decoder, null, null, ends, pad, precision);
    }

    /**
     * Checks that {@code device} can be used by this build and host (and registers the test device before any
     * backward), as loading on it would, without loading anything.
     *
     * @throws IllegalStateException when CUDA is asked for and not available
     */
    public static void checkDevice(ComputeDevice device) {
        Torch.device(java.util.Objects.requireNonNull(device, "device"));
    }

    /**
     * Checks a model folder before any work: config.json and every weight's name, shape and dtype in the safetensors
     * headers (cheap: no tensor is read).
     *
     * @return the folder's config
     * @throws IOException when a file cannot be read
     * @throws IllegalArgumentException when config.json is malformed
     * @throws org.driftml.model.spec.MalformedCheckpointException when a weight is missing, extra or mis-shaped
     */
    public static org.driftml.model.spec.ModelConfig checkFolder(Path folder) throws IOException {
        org.driftml.model.spec.ModelConfig config = org.driftml.model.spec.ModelConfig.read(folder.resolve("config.json"));
        org.driftml.model.internal.Checkpoint.open(folder).validate(config.expectedTensors());
        return config;
    }

    /** The file that makes a folder a PEFT adapter folder ({@link #loadAdapters}). */
    public static final String ADAPTER_CONFIG_FILE = LoraAdapters.CONFIG_FILE;

    public Path folder() {
        return folder;
    }

    /** The model's geometry and special ids (its config.json). */
    public org.driftml.model.spec.ModelConfig config() {
        return decoder.config();
    }

    /**
     * The summed log-probability of {@code ids[t]} for every t from {@code start} on, each given the ids before it.
     *
     * @throws IllegalArgumentException when {@code start} is not in [1, ids.length)
     */
    public double completionLogprob(long[] ids, int start) {
        if (start < 1 || start >= ids.length) {
            throw new IllegalArgumentException("start " + start + " must be in [1, " + ids.length + ")");
        }
        return decoder.completionLogprob(ids, start);
    }

    /**
     * A continuous batcher over this policy's weights ({@link ContinuousBatcher}): sequences join and leave the
     * decode batch at token boundaries. It allocates its KV cache now; close it to free that.
     */
    public ContinuousBatcher batcher(ContinuousBatcher.Limits limits) {
        return new ContinuousBatcher(decoder, padId, limits);
    }

    /** Continues each prompt of token ids, batched ({@link Sampler#generate}). */
    public List<Sampler.Generation> generateIds(List<long[]> prompts, Sampler.Settings settings) {
        return new Sampler(decoder, padId).generate(prompts, settings);
    }

    /**
     * The engine underneath, for what this class does not cover: the LibTorch decoder ({@link
     * org.driftml.model.internal}), whose signatures carry the JavaCPP presets' types and change without notice.
     *
     * @return the decoder holding this policy's weights (closed with the policy)
     */
    public Decoder decoder() {
        return decoder;
    }

    public Tokenizer tokenizer() {
        return requireText(tokenizer);
    }

    public ChatTemplate template() {
        return requireText(template);
    }

    private <T> T requireText(T part) {
        if (part == null) {
            throw new IllegalStateException(folder + " was loaded without its tokenizer (Policy.loadWeights)");
        }
        return part;
    }

    public Set<Long> endIds() {
        return endIds;
    }

    public long padId() {
        return padId;
    }

    /** How it was loaded: FP32, or BF16 compute over fp32 master weights when training. */
    public Precision precision() {
        return precision;
    }

    /**
     * Whether the weights are still those of {@link #folder()} (cast to the compute dtype): a trainer that needs
     * full-precision masters reads them from the folder only then.
     */
    public boolean weightsAsLoaded() {
        return weightsAsLoaded;
    }

    /** Training code calls this once it has changed the weights in place: the folder no longer holds them. */
    public void weightsChanged() {
        weightsAsLoaded = false;
    }

    /** The conversation through the chat template, with the assistant's generation prompt. */
    public long[] encodeChat(List<ChatMessage> messages) {
        return tokenizer().encode(template().render(messages, true));
    }

    /** Raw text, no template (DRIFT's released transcript prompts). */
    public long[] encodeText(String text) {
        return tokenizer().encode(text, false);
    }

    /** Samples one continuation per prompt and decodes it without special tokens, stripped of surrounding space. */
    public List<String> sample(List<long[]> prompts, Sampler.Settings settings) {
        return sampleDecoded(prompts, settings).stream().map(String::strip).toList();
    }

    /** As {@link #sample}, the text as decoded (not stripped: a rule that reads its whitespace sees it). */
    public List<String> sampleDecoded(List<long[]> prompts, Sampler.Settings settings) {
        List<String> out = new ArrayList<>();
        for (Sampler.Generation g : new Sampler(decoder, padId).generate(prompts, settings)) {
            out.add(tokenizer().decode(g.outputIds(), true));
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
        long[] reply = tokenizer().encode(java.util.Objects.requireNonNull(completion, "completion"), false);
        if (reply.length == 0) {
            throw new IllegalArgumentException("completion: no tokens");
        }
        long[] all = java.util.Arrays.copyOf(prompt, prompt.length + reply.length);
        System.arraycopy(reply, 0, all, prompt.length, reply.length);
        return decoder.completionLogprob(all, prompt.length);
    }

    /**
     * Puts fresh LoRA adapters on this policy, initialised as PEFT does (A Kaiming-uniform, B zero: the policy's
     * outputs do not change until they train); they replace any it had. Training then updates the adapters alone,
     * with the base model (adapters off) as DPO's reference.
     *
     * @param config rank, alpha, dropout, target modules
     * @param seed   the seed of A's draw
     */
    public void addAdapters(LoraConfig config, long seed) {
        java.util.Objects.requireNonNull(config, "config");
        replaceAdapters(LoraAdapters.create(decoder, config, seed));
    }

    /**
     * Puts a PEFT LoRA adapter folder ({@code adapter_config.json}, {@code adapter_model.safetensors}) on this policy,
     * replacing any adapters it had.
     *
     * @param adapterFolder the folder PEFT's {@code save_pretrained} (or drift) wrote
     * @throws IOException when it cannot be read
     * @throws IllegalArgumentException when it is not a LoRA adapter drift computes, or does not fit this model
     *                                  (the field or tensor named)
     */
    public void loadAdapters(Path adapterFolder) throws IOException {
        java.util.Objects.requireNonNull(adapterFolder, "adapterFolder");
        replaceAdapters(LoraAdapters.load(adapterFolder, decoder));
    }

    /** The attached adapters' settings, if any. */
    public java.util.Optional<LoraConfig> adapters() {
        return java.util.Optional.ofNullable(decoder.adapters()).map(LoraAdapters::config);
    }

    private void replaceAdapters(LoraAdapters lora) {
        LoraAdapters old = decoder.adapters();
        decoder.attach(lora);
        if (old != null) {
            old.close();
        }
    }

    /**
     * Writes this policy: with LoRA adapters, the adapters alone in PEFT's format (as PEFT's {@code
     * save_pretrained}); without, a model folder transformers and every drift command load (its current weights
     * in its compute dtype). The source folder's tokenizer comes along either way, and a model folder also gets its
     * config files.
     *
     * @param to the folder to write (created if needed)
     * @throws IOException when it cannot be written
     */
    public void save(Path to) throws IOException {
        java.util.Objects.requireNonNull(to, "to");
        try (StepScope scope = StepScope.open()) {
            if (decoder.adapters() != null) {
                decoder.adapters().save(to, folder.toAbsolutePath().toString());
            } else {
                decoder.save(to, decoder.weights(), 2L << 30);
            }
            copyTokenizerFiles(folder, to);
        }
    }

    /**
     * Writes a full model folder with the adapters merged into the weights (PEFT's {@code merge_and_unload}, then
     * {@code save_pretrained}); without adapters, the same as {@link #save}.
     *
     * @param to the folder to write (created if needed)
     * @throws IOException when it cannot be written
     */
    public void saveMerged(Path to) throws IOException {
        java.util.Objects.requireNonNull(to, "to");
        try (StepScope scope = StepScope.open()) {
            LoraAdapters lora = decoder.adapters();
            decoder.save(to, lora != null ? lora.merged(decoder) : decoder.weights(), 2L << 30);
            copyTokenizerFiles(folder, to);
        }
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
        if (tokenizer != null) {
            tokenizer.close();
        }
    }
}
