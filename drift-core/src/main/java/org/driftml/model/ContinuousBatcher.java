package org.driftml.model;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.Generators;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.KvCache;
import org.driftml.model.internal.Tensorsj;

/**
 * Continuous batching: sequences join the running decode batch and leave it at token boundaries, instead of a static
 * batch that waits for its longest member ({@link Sampler}). Each round admits queued sequences (one prefill of the
 * new prompts, right-padded, into free rows of a per-slot {@link KvCache}), then decodes one token for every running
 * sequence, each at its own length. A sequence that ends (a stop id, its budget, its listener, its owner cancelling)
 * frees its slot at once: the last running row moves into it, so the running rows stay 0..B-1 and attention reads
 * the cache as it lies.
 *
 * <p>Each sequence keeps its own {@link Sampler.Settings} and its own generator seeded with its settings' seed, so a
 * sequence running alone draws exactly what {@link Sampler#generate} draws for it. Batched with others, a greedy
 * sequence can still differ: the same row is computed inside wider matrix products, whose blocked sums add in
 * another order (see docs/serving.md for how often).
 *
 * <p>One thread drives the model: {@link #start()} runs it for a server; {@link #generate} drives it on the calling
 * thread for the DRIFT loop's sampling. Listeners are called on that thread and must not block.
 */
public final class ContinuousBatcher implements AutoCloseable {
    /** Why a sequence ended: OpenAI's {@code stop} and {@code length}; cancelled by its owner; failed. */
    public enum Finish { STOP, LENGTH, CANCELLED, FAILED }

    /** What a sequence's owner hears, on the batcher's thread. */
    public interface Listener {
        /** One new token; false ends the sequence here ({@link Finish#STOP}: a stop string was reached). */
        boolean token(long id, float logprob);

        /** The sequence ended; {@code error} is set when it {@link Finish#FAILED}. Called once. */
        void end(Finish finish, RuntimeException error);
    }

    /**
     * How much the batcher holds.
     *
     * @param maxBatch      sequences decoded together (the cache's rows)
     * @param capacity      positions per sequence, prompt and reply together
     * @param maxQueue      sequences waiting beyond the running ones; {@link #submit} refuses more
     * @param prefillTokens prompt tokens (padded) prefilled in one round, at least one prompt
     */
    public record Limits(int maxBatch, int capacity, int maxQueue, int prefillTokens) {
        public Limits {
            if (maxBatch < 1 || capacity < 2 || maxQueue < 1 || prefillTokens < 1) {
                throw new IllegalArgumentException("limits must be positive: " + maxBatch + " slots, " + capacity
                        + " positions, queue " + maxQueue + ", prefill " + prefillTokens);
            }
        }
    }

    /** Thrown by {@link #submit} when the queue is full (a server answers 429). */
    public static final class QueueFullException extends RuntimeException {
        QueueFullException(int size) {
            super("the queue is full (" + size + " waiting)");
        }
    }

    /** A submitted sequence: its owner may cancel it, and the batcher frees its slot at the next token. */
    public static final class Request {
        final long[] prompt;
        final Sampler.Settings settings;
        final Listener listener;
        private volatile boolean cancelled;

        Request(long[] prompt, Sampler.Settings settings, Listener listener) {
            this.prompt = prompt;
            this.settings = settings;
            this.listener = listener;
        }

        public void cancel() {
            cancelled = true;
        }
    }

    private final Decoder decoder;
    private final long padId;
    private final Limits limits;
    private final Device device;
    private final BlockingQueue<Request> queue;
    private final KvCache cache;
    private final TokenChooser[] choosers;  // one per slot, for any settings
    private final Tensor[] ids;             // [1, capacity] per slot: each sequence's ids (repetition penalty)
    private final Deque<Integer> freePool = new ArrayDeque<>();
    private final List<Runnable> endings = new ArrayList<>();
    private final RunningSequence[] rows;
    private volatile int running;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private volatile boolean closed;
    private Thread thread;

    /** Allocates the cache ({@code maxBatch} × {@code capacity} positions) and each slot's buffers now. */
    public ContinuousBatcher(Decoder decoder, long padId, Limits limits) {
        this.decoder = decoder;
        this.padId = padId;
        this.limits = limits;
        this.device = decoder.device();
        this.queue = new ArrayBlockingQueue<>(limits.maxQueue());
        this.rows = new RunningSequence[limits.maxBatch()];
        this.choosers = new TokenChooser[limits.maxBatch()];
        this.ids = new Tensor[limits.maxBatch()];
        ScalarType dtype = decoder.weights().get("model.embed_tokens.weight").scalar_type();
        try (StepScope scope = StepScope.open()) {
            this.cache = KvCache.slots(decoder.config(), limits.maxBatch(), limits.capacity(), dtype, device)
                    .keptBy(scope);
            Tensor row = torch.empty(new long[] {1, decoder.config().vocabSize()},
                    Tensorsj.options(ScalarType.Float, device), new org.bytedeco.pytorch.MemoryFormatOptional());
            for (int i = 0; i < limits.maxBatch(); i++) {
                choosers[i] = TokenChooser.forAnySettings(row).keptBy(scope);
                ids[i] = scope.keep(torch.zeros(new long[] {1, limits.capacity()},
                        Tensorsj.options(ScalarType.Long, device)));
                freePool.add(i);
            }
        }
    }

    public Limits limits() {
        return limits;
    }

    /** Sequences waiting for a slot. */
    public int queued() {
        return queue.size();
    }

    /** Sequences being decoded. */
    public int running() {
        return running;
    }

    /**
     * Queues a sequence.
     *
     * @throws IllegalArgumentException when the prompt is empty or leaves no position for a reply
     * @throws QueueFullException       when {@link Limits#maxQueue()} sequences already wait
     * @throws IllegalStateException    when the batcher is closed
     */
    public Request submit(long[] prompt, Sampler.Settings settings, Listener listener) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("an empty prompt cannot be continued");
        }
        if (prompt.length >= limits.capacity()) {
            throw new IllegalArgumentException("the prompt's " + prompt.length + " tokens leave no room in "
                    + limits.capacity() + " positions");
        }
        if (closed) {
            throw new IllegalStateException("the batcher is closed");
        }
        Request r = new Request(prompt.clone(), settings, listener);
        if (!queue.offer(r)) {
            throw new QueueFullException(queue.size());
        }
        signal();
        return r;
    }

    /** Starts the thread that drives the model until {@link #close()}. */
    public synchronized void start() {
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        thread = new Thread(this::serve, "drift-batcher");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Continues every prompt on the calling thread, {@link Limits#maxBatch()} at a time, each with its own settings
     * (its own seed): as one ends the next joins.
     *
     * @return one generation per prompt, in order
     * @throws IllegalStateException when the batcher's thread is running ({@link #start()})
     */
    public List<Sampler.Generation> generate(List<long[]> prompts, List<Sampler.Settings> settings) {
        Sampler.Generation[] out = new Sampler.Generation[prompts.size()];
        generate(prompts, settings, (i, g) -> out[i] = g);
        return Arrays.asList(out);
    }

    /**
     * As {@link #generate(List, List)}, handing each generation to {@code each} (with its prompt's index) as soon as
     * it ends, in the order they end: a caller can act on a finished run of prompts while later ones still decode.
     * What {@code each} throws stops the generation and reaches the caller.
     */
    public void generate(List<long[]> prompts, List<Sampler.Settings> settings,
            java.util.function.BiConsumer<Integer, Sampler.Generation> each) {
        if (prompts.size() != settings.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts but " + settings.size() + " settings");
        }
        if (thread != null) {
            throw new IllegalStateException("generate drives the model itself; this batcher is serving");
        }
        List<CollectedGeneration> ended = new ArrayList<>();
        int next = 0, handed = 0;
        while (handed < prompts.size()) {
            while (next < prompts.size() && queue.remainingCapacity() > 0) {
                submit(prompts.get(next), settings.get(next), new CollectedGeneration(next, ended));
                next++;
            }
            round();
            for (CollectedGeneration c : ended) {
                if (c.error != null) {
                    throw c.error;
                }
                each.accept(c.index, c.generation());
                handed++;
            }
            ended.clear();
        }
    }

    private void serve() {
        while (!closed) {
            boolean ran;
            try {
                ran = round();
            } catch (RuntimeException e) {
                failRunning(e);
                ran = true;
            }
            if (!ran) {
                lock.lock();
                try {
                    if (queue.isEmpty() && !closed) {
                        work.await(100, TimeUnit.MILLISECONDS);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    private void signal() {
        lock.lock();
        try {
            work.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** One round: drop what was cancelled, admit, decode one token each. @return whether a sequence ran */
    private boolean round() {
        try (StepScope step = StepScope.open(); NoGradGuard noGrad = new NoGradGuard()) {
            List<Integer> ended = new ArrayList<>();
            for (int i = 0; i < running; i++) {
                if (rows[i].request.cancelled) {
                    ended.add(i);
                    end(rows[i], Finish.CANCELLED, null);
                }
            }
            compact(ended);
            tellEndings();
            admit();
            tellEndings();
            if (running == 0) {
                return false;
            }
            decode();
            tellEndings();
            return true;
        }
    }

    /** Prefills queued prompts into free slots (right-padded: causal attention keeps padding after the real tokens). */
    private void admit() {
        List<Request> fresh = new ArrayList<>();
        int longest = 0;
        while (running + fresh.size() < limits.maxBatch()) {
            Request r = queue.peek();
            if (r == null) {
                break;
            }
            int wider = Math.max(longest, r.prompt.length);
            if (!fresh.isEmpty() && (long) wider * (fresh.size() + 1) > limits.prefillTokens()) {
                break;
            }
            queue.poll();
            if (r.cancelled) {
                r.listener.end(Finish.CANCELLED, null);
                continue;
            }
            fresh.add(r);
            longest = wider;
        }
        if (fresh.isEmpty()) {
            return;
        }
        int k = fresh.size(), first = running;
        long[] flat = new long[k * longest];
        long[] last = new long[k];
        Arrays.fill(flat, padId);
        for (int i = 0; i < k; i++) {
            long[] p = fresh.get(i).prompt;
            System.arraycopy(p, 0, flat, i * longest, p.length);
            last[i] = (long) i * longest + p.length - 1;
        }
        Tensor prompts = Tensorsj.fromLongs(flat, device).view(k, longest);
        Tensor logits;  // [k, V]
        try {
            Tensor hidden = decoder.hiddenStates(prompts, null, null, cache.fresh(first, k));
            logits = decoder.logits(hidden.reshape(k * longest, hidden.size(2))
                    .index_select(0, Tensorsj.fromLongs(last, device)));
        } catch (RuntimeException e) {  // these never reached a row: fail them here, the running ones go on
            for (Request r : fresh) {
                r.listener.end(Finish.FAILED, e);
            }
            return;
        }
        for (int i = 0; i < k; i++) {
            Request r = fresh.get(i);
            int pool = freePool.poll();
            Generator g;
            try (StepScope own = StepScope.open()) {
                g = own.keep(Generators.seeded(device, r.settings.seed()));
            }
            RunningSequence seq = new RunningSequence(r, pool, choosers[pool].with(r.settings, g), g);
            seq.length = r.prompt.length;
            if (r.settings.repetitionPenalty() != 1.0) {
                ids[pool].narrow(1, 0, r.prompt.length).copy_(prompts.narrow(0, i, 1).narrow(1, 0, r.prompt.length));
            }
            rows[first + i] = seq;
        }
        running = first + k;
        choose(logits, first);
    }

    /** One token for every running sequence, each at its own length. */
    private void decode() {
        int b = running;
        long[] host = new long[2 * b];
        long longest = 0;
        boolean level = true;
        for (int i = 0; i < b; i++) {
            host[i] = rows[i].pending;
            host[b + i] = rows[i].length;
            longest = Math.max(longest, rows[i].length);
            level &= rows[i].length == rows[0].length;
        }
        Tensor both = Tensorsj.fromLongs(host, device);
        Tensor tokens = both.narrow(0, 0, b).view(b, 1), positions = both.narrow(0, b, b).view(b, 1);
        Tensor hidden;
        if (level) {  // no mask: exactly the static sampler's step (one sequence alone is always level)
            hidden = decoder.hiddenStates(tokens, null, positions, cache.level(b, longest));
        } else {
            Tensor keyMask = torch.arange(new Scalar(longest + 1), Tensorsj.options(ScalarType.Long, device))
                    .unsqueeze(0).le(positions);
            hidden = decoder.hiddenStates(tokens, keyMask, positions, cache.ragged(b, positions.view(b), longest));
        }
        for (int i = 0; i < b; i++) {
            RunningSequence seq = rows[i];
            if (seq.request.settings.repetitionPenalty() != 1.0) {
                ids[seq.pool].narrow(1, seq.length, 1).fill_(new Scalar(seq.pending));
            }
            seq.length++;
        }
        choose(decoder.logits(hidden.squeeze(1)), 0);
    }

    /** Chooses the next token of rows {@code first}.. from their logits, hands it on, and ends what is done. */
    private void choose(Tensor logits, int first) {
        int k = running - first;
        TensorVector picked = new TensorVector(), logps = new TensorVector();
        for (int i = 0; i < k; i++) {
            RunningSequence seq = rows[first + i];
            Tensor next = seq.chooser.choose(logits.narrow(0, i, 1), ids[seq.pool].narrow(1, 0, seq.length));
            picked.push_back(next);
            logps.push_back(seq.chooser.logprobs(next));
        }
        // The one read per round: [k, 2], each row's id and its log-prob, converted once for all rows.
        double[] read = Tensorsj.doubles(torch.cat(new TensorVector(torch.cat(picked).to(ScalarType.Double),
                torch.cat(logps).to(ScalarType.Double)), 1));
        List<Integer> ended = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            int row = first + i;
            RunningSequence seq = rows[row];
            long id = (long) read[2 * i];
            seq.pending = id;
            seq.produced++;
            Finish finish = null;
            RuntimeException error = null;
            if (seq.request.cancelled) {
                finish = Finish.CANCELLED;
            } else {
                boolean more;
                try {
                    more = seq.request.listener.token(id, (float) read[2 * i + 1]);
                } catch (RuntimeException e) {
                    more = false;
                    error = e;
                }
                if (error != null) {
                    finish = Finish.FAILED;
                } else if (!more || seq.request.settings.stopIds().contains(id)) {
                    finish = Finish.STOP;
                } else if (seq.produced >= seq.request.settings.maxNewTokens() || seq.length >= limits.capacity()) {
                    finish = Finish.LENGTH;
                }
            }
            if (finish != null) {
                end(seq, finish, error);
                ended.add(row);
            }
        }
        compact(ended);
    }

    /** Frees the sequence's generator and buffers; its listener hears the end once its row is free too. */
    private void end(RunningSequence seq, Finish finish, RuntimeException error) {
        seq.generator.close();
        freePool.add(seq.pool);
        endings.add(() -> seq.request.listener.end(finish, error));
    }

    /** Tells the listeners of the sequences that ended (after their rows were freed: a listener may look). */
    private void tellEndings() {
        for (Runnable r : endings) {
            try {
                r.run();
            } catch (RuntimeException ignored) {
                // a listener that fails at the end has nothing left to hear
            }
        }
        endings.clear();
    }

    /** Removes ended rows (ascending), moving the last running row into each freed one. */
    private void compact(List<Integer> ended) {
        for (int j = ended.size() - 1; j >= 0; j--) {
            int row = ended.get(j), last = running - 1;
            if (row != last) {
                cache.moveRow(last, row, rows[last].length);
                rows[row] = rows[last];
            }
            rows[last] = null;
            running = last;
        }
    }

    private void failRunning(RuntimeException e) {
        for (int i = 0; i < running; i++) {
            end(rows[i], Finish.FAILED, e);
            rows[i] = null;
        }
        running = 0;
        tellEndings();
    }

    /** Stops the thread, fails what still waits or runs, and frees the cache and buffers. */
    @Override
    public void close() {
        closed = true;
        signal();
        Thread t = thread;
        if (t != null) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        RuntimeException shut = new IllegalStateException("the batcher closed");
        failRunning(shut);
        for (Request r; (r = queue.poll()) != null; ) {
            r.listener.end(Finish.FAILED, shut);
        }
        cache.close();
        for (int i = 0; i < choosers.length; i++) {
            choosers[i].close();
            ids[i].close();
        }
    }
}
