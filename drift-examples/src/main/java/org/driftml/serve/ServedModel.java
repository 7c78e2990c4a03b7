package org.driftml.serve;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.driftml.kernels.NativeHeap;
import org.driftml.model.ContinuousBatcher;
import org.driftml.model.GenerationDefaults;
import org.driftml.model.Policy;
import org.driftml.model.Sampler;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.text.ChatTemplate;

/**
 * The model a server answers with: the policy (and its adapter), its generation defaults and end ids, and the
 * continuous batcher that decodes for every request. It turns a checked {@link ChatRequest} into a prompt and
 * sampling settings exactly as {@code drift generate} does for the same messages and flags, so a seeded request
 * served alone is {@code drift generate}'s reply.
 */
final class ServedModel implements AutoCloseable {
    /** A request ready for the batcher. */
    record Prepared(long[] prompt, Sampler.Settings settings, List<String> stop) {}

    private final String name;
    private final Path folder;
    private final String stage;
    private final Policy policy;
    private final GenerationDefaults defaults;
    private final ContinuousBatcher batcher;
    private final long mostBytes;
    /** The server's hold (1) plus each request answering on it; at 0 the model is freed. */
    private final AtomicInteger holds = new AtomicInteger(1);

    private ServedModel(String name, Path folder, String stage, Policy policy, GenerationDefaults defaults,
            ContinuousBatcher batcher) {
        this.name = name;
        this.folder = folder;
        this.stage = stage;
        this.policy = policy;
        this.defaults = defaults;
        this.batcher = batcher;
        this.mostBytes = (long) capacity() * policy.tokenizer().maxBytesPerToken().orElse(0);
    }

    /**
     * Loads the model (and adapter) and starts its batcher.
     *
     * @param maxBatch sequences decoded together
     * @param capacity positions per sequence (the served context)
     * @param maxQueue requests waiting beyond those
     * @param stage    the DRIFT stage the folder holds ({@code iteration-2}, say), or null
     */
    static ServedModel load(String name, Path model, Path adapter, String stage, Precision precision,
            ComputeDevice device, int maxBatch, int capacity, int maxQueue) throws IOException {
        Policy policy = Policy.load(model, precision, device);
        if (adapter != null) {
            policy.loadAdapters(adapter);
        }
        GenerationDefaults defaults = GenerationDefaults.read(model, policy.config());
        ContinuousBatcher batcher = policy.batcher(new ContinuousBatcher.Limits(maxBatch, capacity, maxQueue,
                Math.max(capacity, 2048)));
        batcher.start();
        return new ServedModel(name, model.toAbsolutePath().normalize(), stage, policy, defaults, batcher);
    }

    String name() {
        return name;
    }

    /** The model folder it was loaded from. */
    Path folder() {
        return folder;
    }

    /** The DRIFT stage it is ({@code warmstart}, {@code iteration-k}), or null. */
    String stage() {
        return stage;
    }

    /** One more request answering on it; false once it has been let go (the server moved to another). */
    boolean hold() {
        while (true) {
            int n = holds.get();
            if (n == 0) {
                return false;
            }
            if (holds.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /**
     * Lets go of one hold; the last frees the model (its batcher, weights and caches), so a replaced model lives as
     * long as the requests that were answering on it.
     */
    void release() {
        if (holds.decrementAndGet() == 0) {
            close();
            // The garbage collector sees a handle per tensor, not the tensor: collected and trimmed now, the old
            // model's memory goes back to the system before the next one is asked for (as a DRIFT stage does).
            System.gc();
            NativeHeap.trim();
        }
    }

    ContinuousBatcher batcher() {
        return batcher;
    }

    /** The served context: positions per sequence, prompt and reply together. */
    int capacity() {
        return batcher.limits().capacity();
    }

    /** Token ids as text, special tokens left out (as drift generate does). */
    String decode(long[] ids, boolean skipSpecial) {
        return policy.tokenizer().decode(ids, skipSpecial);
    }

    /**
     * The prompt through the chat template and the settings over generation_config.json; refused (400) when the
     * template rejects the conversation or the prompt and reply cannot fit the context.
     */
    Prepared prepare(ChatRequest r) {
        int capacity = capacity();
        String rendered;
        try {
            rendered = policy.template().renderConversation(r.messages(), null, true);
        } catch (ChatTemplate.ChatTemplateException e) {
            throw ApiError.invalid("messages", "the model's chat template refused the messages: " + e.getMessage());
        }
        long bytes = rendered.getBytes(StandardCharsets.UTF_8).length;
        if (mostBytes > 0 && bytes > mostBytes) {  // refused before tokenising a prompt that cannot fit
            throw ApiError.contextTooLong("This model's maximum context length is " + capacity + " tokens; the "
                    + "messages are " + bytes + " bytes, more than that many tokens can hold");
        }
        long[] prompt = policy.tokenizer().encode(rendered);
        if (prompt.length >= capacity) {
            throw ApiError.contextTooLong("This model's maximum context length is " + capacity + " tokens. However,"
                    + " your messages resulted in " + prompt.length + " tokens, leaving none for the reply");
        }
        int room = capacity - prompt.length;
        if (r.maxTokens() != null && r.maxTokens() > room) {
            throw ApiError.contextTooLong("This model's maximum context length is " + capacity + " tokens. However,"
                    + " you requested " + (prompt.length + r.maxTokens()) + " tokens (" + prompt.length
                    + " in the messages, " + r.maxTokens() + " in the completion)");
        }
        Set<Long> stops = r.ignoreEos() ? Set.of() : policy.endIds();
        long seed = r.seed() != null ? r.seed() : ThreadLocalRandom.current().nextLong();
        Sampler.Settings settings;
        try {
            settings = defaults.settings(r.temperature() != null && r.temperature() == 0, r.temperature(), r.topP(),
                    r.topK(), r.repetitionPenalty(), r.maxTokens() != null ? r.maxTokens() : room, stops, seed);
        } catch (IllegalArgumentException e) {
            throw ApiError.invalid(null, e.getMessage());
        }
        return new Prepared(prompt, settings, r.stop());
    }

    @Override
    public void close() {
        batcher.close();
        policy.close();
    }
}
