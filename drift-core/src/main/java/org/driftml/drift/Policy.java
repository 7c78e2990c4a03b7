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
import org.driftml.model.ComputeDevice;
import org.driftml.model.Decoder;
import org.driftml.model.GenerationDefaults;
import org.driftml.model.Precision;
import org.driftml.model.Sampler;
import org.driftml.text.ChatMessage;
import org.driftml.text.ChatTemplate;
import org.driftml.text.Tokenizer;
import org.driftml.train.PairTokenizer;

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

    private Policy(Path folder, Decoder decoder, Tokenizer tokenizer, ChatTemplate template, Set<Long> endIds,
            long padId) {
        this.folder = folder;
        this.decoder = decoder;
        this.tokenizer = tokenizer;
        this.template = template;
        this.endIds = Set.copyOf(endIds);
        this.padId = padId;
    }

    public static Policy load(Path folder, Precision precision) throws IOException {
        return load(folder, precision, ComputeDevice.CPU);
    }

    /** As {@link #load(Path, Precision)} with the weights, and every tensor made for them, on {@code device}. */
    public static Policy load(Path folder, Precision precision, ComputeDevice device) throws IOException {
        Decoder decoder = Decoder.load(folder, precision.computeDtype(), device.toTorch());
        Tokenizer tokenizer = Tokenizer.load(folder);
        ChatTemplate template = ChatTemplate.load(folder);
        Set<Long> ends = new HashSet<>(GenerationDefaults.read(folder, decoder.config()).eosTokenIds());
        tokenizer.tokenId("<|im_end|>").ifPresent(ends::add);
        long pad = decoder.config().padTokenId() != null ? decoder.config().padTokenId()
                : ends.stream().min(Long::compare).orElse(0L);
        return new Policy(folder, decoder, tokenizer, template, ends, pad);
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

    public PairTokenizer pairTokenizer(int maxPromptLength, int maxLength) {
        return new PairTokenizer(tokenizer, template, endIds, maxPromptLength, maxLength);
    }

    /** Writes a model folder: {@code weights} (e.g. a trainer's fp32 masters), config files and the tokenizer. */
    public void save(Path to, Map<String, Tensor> weights) throws IOException {
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
