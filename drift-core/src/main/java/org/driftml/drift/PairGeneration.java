package org.driftml.drift;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.driftml.output.Progress;
import org.driftml.data.PreferencePair;
import org.driftml.data.PreferencePairs;
import org.driftml.model.Policy;
import org.driftml.model.ContinuousBatcher;
import org.driftml.model.Sampler;
import org.driftml.output.OutputFolder;
import org.driftml.parallel.ProcessGroup;

/**
 * Samples an iteration's pairs on a {@link ContinuousBatcher} and appends them to {@code pairs.jsonl} in fixed chunks
 * of items as it goes.
 *
 * <p>Sampling: {@code generation_batch} sequences decode together, and as one ends the next prompt takes its slot,
 * across chunk boundaries: a chunk no longer waits for its longest reply. Each prompt has its own seed (run seed,
 * iteration, item, sample), so a positive does not depend on which prompts it was batched with, on the chunk size or
 * on the number of processes (beyond the last bits of batched arithmetic: docs/serving.md measures how often a reply
 * differs).
 *
 * <p>Crash safety: a chunk is written once all its prompts have ended and every earlier chunk is written; then the
 * pairs file is forced to disk and {@code pairs.progress} (chunks done, the file's length, pairs dropped) is replaced
 * atomically. A restarted run truncates the pairs file to the recorded length (dropping any half-written chunk) and
 * samples again from the next chunk, so no pair is lost or duplicated.
 */
final class PairGeneration {
    private static final ObjectMapper JSON = new ObjectMapper();

    public record Outcome(List<PreferencePair> pairs, int dropped, int chunksResumed) {}

    private PairGeneration() {}

    /**
     * Samples each item's pairs in chunks, resuming after the last durable chunk; told to {@code progress} (a line
     * per chunk, and {@link Progress#chunkDone} with {@code stage}). Sampled by every rank of {@code group} (null:
     * this process alone): in rounds of world-size chunks,
     * rank r samples chunk {@code round + r} and leaves its lines in {@code pairs.chunk-K.tmp}; rank 0 appends the
     * round's chunks in order, forces the file and records the progress, as one process does chunk by chunk. Every
     * prompt keeps its own seed, so the pairs are one process's (up to the last bits of batched arithmetic) and a run
     * resumes at any world size. The ranks must see one file system.
     */
    static Outcome run(Policy policy, PairMethod method, Path folder, Sampler.Settings settings, int chunkSize,
            boolean acrossChunks, long seed, String stage, Progress progress, ProcessGroup group) throws IOException {
        Files.createDirectories(folder);
        if (group != null) {
            group.barrier();  // every rank reads the progress rank 0 left, none of it being written
        }
        Path pairsFile = folder.resolve("pairs.jsonl");
        Path progressFile = folder.resolve("pairs.progress");
        int chunks = (method.size() + chunkSize - 1) / chunkSize;
        int done = 0, dropped = 0;
        long length = 0;
        if (Files.exists(progressFile)) {
            ObjectNode p = (ObjectNode) JSON.readTree(progressFile.toFile());
            done = p.get("chunks_done").asInt();
            length = p.get("bytes").asLong();
            dropped = p.get("dropped").asInt();
            if (p.get("chunk_size").asInt() != chunkSize || p.get("items").asInt() != method.size()) {
                throw new IOException(progressFile + ": written for " + p.get("items") + " items in chunks of "
                        + p.get("chunk_size") + ", but this run has " + method.size() + " in chunks of " + chunkSize
                        + "; use a fresh output folder");
            }
        }
        int resumed = done;
        if (group != null) {
            sampleSharded(policy, method, folder, settings, chunkSize, seed, stage, progress, group, done, length,
                    dropped);
            return new Outcome(PreferencePairs.read(pairsFile), readDropped(progressFile), resumed);
        }
        try (FileChannel out = FileChannel.open(pairsFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            if (out.size() < length) {
                throw new IOException(pairsFile + ": shorter (" + out.size() + " bytes) than its progress record ("
                        + length + "); the pairs were changed outside drift");
            }
            out.truncate(length);
            out.position(length);
            Journal journal = new Journal(out, progressFile, method, chunkSize, stage, progress, dropped);
            if (!acrossChunks) {  // each chunk on its own batcher: the same batches at every restart
                for (int chunk = done; chunk < chunks; chunk++) {
                    journal.append(chunk, sampleChunk(policy, method, settings, chunkSize, seed, chunk));
                }
                return new Outcome(PreferencePairs.read(pairsFile), journal.dropped, resumed);
            }
            Sampling sampling = new Sampling(policy, method, settings, seed, Math.min(done * chunkSize,
                    method.size()), method.size(), chunkSize);
            int[] open = new int[chunks];  // prompts still decoding, per chunk
            for (int j = 0; j < sampling.prompts.size(); j++) {
                open[sampling.item[j] / chunkSize]++;
            }
            int[] next = {done};
            try {
                next[0] = journal.writeReady(next[0], open, sampling);
                sampling.run((j, text) -> {
                    open[sampling.item[j] / chunkSize]--;
                    next[0] = journal.writeReady(next[0], open, sampling);
                });
            } catch (java.io.UncheckedIOException e) {
                throw e.getCause();
            }
            dropped = journal.dropped;
        }
        return new Outcome(PreferencePairs.read(pairsFile), dropped, resumed);
    }

    /** Chunk {@code chunk}'s pairs as JSON lines (an item dropped: no line), its prompts on their own batcher. */
    private static String sampleChunk(Policy policy, PairMethod method, Sampler.Settings settings, int chunkSize,
            long seed, int chunk) {
        int from = chunk * chunkSize, to = Math.min(method.size(), from + chunkSize);
        Sampling sampling = new Sampling(policy, method, settings, seed, from, to, chunkSize);
        sampling.run((j, text) -> { });
        return sampling.lines(method, from, to);
    }

    /**
     * The prompts of items [from, to), each with its own seed, sampled {@code chunk size} at a time on a continuous
     * batcher; each reply decoded as {@link Policy#sampleDecoded} decodes it (each method reads and strips its own).
     */
    static final class Sampling {
        final Policy policy;
        final List<long[]> prompts = new ArrayList<>();
        final List<Sampler.Settings> settings = new ArrayList<>();
        final int[] item;       // each prompt's item
        final int[] firstOf;    // each item's first prompt, from `from`; firstOf[to - from] = prompts.size()
        final String[] samples;
        final int from;
        private final int batch;  // sequences decoded together: generation_batch

        Sampling(Policy policy, PairMethod method, Sampler.Settings s, long seed, int from, int to, int batch) {
            this.policy = policy;
            this.from = from;
            this.firstOf = new int[to - from + 1];
            List<Integer> items = new ArrayList<>();
            for (int i = from; i < to; i++) {
                firstOf[i - from] = prompts.size();
                List<long[]> p = method.samplingPrompts(policy, i);
                for (int k = 0; k < p.size(); k++) {
                    prompts.add(p.get(k));
                    settings.add(s.withSeed(mix(mix(seed, i), k)));
                    items.add(i);
                }
            }
            firstOf[to - from] = prompts.size();
            this.item = items.stream().mapToInt(Integer::intValue).toArray();
            this.samples = new String[prompts.size()];
            this.batch = batch;
        }

        /** Decodes every prompt, telling {@code each} (prompt index, text) as each ends. */
        void run(java.util.function.BiConsumer<Integer, String> each) {
            if (prompts.isEmpty()) {
                return;
            }
            int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(1);
            int newTokens = settings.get(0).maxNewTokens();
            ContinuousBatcher.Limits limits = new ContinuousBatcher.Limits(batch, longest + newTokens, batch,
                    Math.max(longest, 8192));
            try (ContinuousBatcher batcher = policy.batcher(limits)) {
                batcher.generate(prompts, settings, (j, g) -> {
                    samples[j] = policy.tokenizer().decode(g.outputIds(), true);
                    each.accept(j, samples[j]);
                });
            }
        }

        /** The pairs of items [a, b) as JSON lines, once their prompts have all been sampled. */
        String lines(PairMethod method, int a, int b) {
            StringBuilder lines = new StringBuilder();
            for (int i = a; i < b; i++) {
                PreferencePair pair = method.pair(i, java.util.Arrays.asList(samples).subList(firstOf[i - from],
                        firstOf[i - from + 1]));
                if (pair != null) {
                    lines.append(PreferencePairs.toJson(pair)).append('\n');
                }
            }
            return lines.toString();
        }
    }

    /** Writes finished chunks in order: lines appended, the file forced, then the progress record replaced. */
    private static final class Journal {
        final FileChannel out;
        final Path progressFile;
        final PairMethod method;
        final int chunkSize, chunks;
        final String stage;
        final Progress progress;
        int dropped;

        Journal(FileChannel out, Path progressFile, PairMethod method, int chunkSize, String stage, Progress progress,
                int dropped) {
            this.out = out;
            this.progressFile = progressFile;
            this.method = method;
            this.chunkSize = chunkSize;
            this.chunks = (method.size() + chunkSize - 1) / chunkSize;
            this.stage = stage;
            this.progress = progress;
            this.dropped = dropped;
        }

        /** Writes chunks from {@code next} on while each has no prompt still decoding; returns the next unwritten. */
        int writeReady(int next, int[] open, Sampling sampling) {
            try {
                for (; next < chunks && open[next] == 0; next++) {
                    int from = next * chunkSize;
                    append(next, sampling.lines(method, from, Math.min(method.size(), from + chunkSize)));
                }
                return next;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        /** Appends chunk {@code chunk}'s lines, forces the file, then records the progress. */
        void append(int chunk, String lines) throws IOException {
            int to = Math.min(method.size(), (chunk + 1) * chunkSize);
            dropped += write(out, lines, chunk, chunkSize, method.size());
            out.force(false);
            writeProgress(progressFile, chunk + 1, out.position(), dropped, chunkSize, method.size());
            progress.line(String.format("  sampled %d/%d items (%s)", to, method.size(), method.name()));
            progress.chunkDone(stage, chunk + 1, chunks);  // a test's simulated crash throws from here
        }
    }

    /**
     * Writes chunk {@code chunk}'s pair lines at the channel's position (one journal, whichever schedule sampled
     * them); returns how many of its items were dropped (left no line).
     */
    private static int write(FileChannel out, String lines, int chunk, int chunkSize, int items) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(lines.getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
            out.write(bytes);
        }
        int from = chunk * chunkSize, to = Math.min(items, from + chunkSize);
        return (to - from) - (int) lines.chars().filter(c -> c == '\n').count();
    }

    /** The sharded rounds (see the group form of run): every rank samples, rank 0 appends and records. */
    private static void sampleSharded(Policy policy, PairMethod method, Path folder, Sampler.Settings settings,
            int chunkSize, long seed, String stage, Progress progress, ProcessGroup group, int done,
            long length, int dropped) throws IOException {
        Path pairsFile = folder.resolve("pairs.jsonl"), progressFile = folder.resolve("pairs.progress");
        int chunks = (method.size() + chunkSize - 1) / chunkSize, ranks = group.worldSize();
        boolean writer = group.rank() == 0;
        try (FileChannel out = writer ? FileChannel.open(pairsFile, StandardOpenOption.CREATE,
                StandardOpenOption.WRITE) : null) {
            if (writer) {
                if (out.size() < length) {
                    throw new IOException(pairsFile + ": shorter (" + out.size() + " bytes) than its progress record ("
                            + length + "); the pairs were changed outside drift");
                }
                out.truncate(length);
                out.position(length);
            }
            for (int round = done; round < chunks; round += ranks) {
                int mine = round + group.rank();
                if (mine < chunks) {  // a temporary: a killed run's is removed at restart (OutputFolder)
                    Files.writeString(folder.resolve("pairs.chunk-" + mine + ".tmp"),
                            sampleChunk(policy, method, settings, chunkSize, seed, mine));
                }
                group.barrier();
                if (!writer) {
                    continue;
                }
                int last = Math.min(chunks, round + ranks);
                for (int chunk = round; chunk < last; chunk++) {
                    Path part = folder.resolve("pairs.chunk-" + chunk + ".tmp");
                    dropped += write(out, Files.readString(part), chunk, chunkSize, method.size());
                }
                out.force(false);
                writeProgress(progressFile, last, out.position(), dropped, chunkSize, method.size());
                for (int chunk = round; chunk < last; chunk++) {
                    Files.delete(folder.resolve("pairs.chunk-" + chunk + ".tmp"));
                    progress.chunkDone(stage, chunk + 1, chunks);
                }
                progress.line(String.format("  sampled %d/%d items (%s, %d ranks)", Math.min(method.size(),
                        last * chunkSize), method.size(), method.name(), ranks));
            }
        }
        group.barrier();  // the pairs file is whole: every rank reads it
    }

    private static int readDropped(Path progressFile) throws IOException {
        return Files.exists(progressFile) ? JSON.readTree(progressFile.toFile()).get("dropped").asInt() : 0;
    }

    /** SplitMix64 of (seed, index): a prompt's seed from the run's and its item's. */
    static long mix(long seed, int index) {
        long z = seed * 0x9E3779B97F4A7C15L + index + 1;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }

    private static void writeProgress(Path file, int chunks, long bytes, int dropped, int chunkSize, int items)
            throws IOException {
        ObjectNode p = JSON.createObjectNode();
        p.put("chunks_done", chunks).put("bytes", bytes).put("dropped", dropped).put("chunk_size", chunkSize)
                .put("items", items);
        OutputFolder.writeAtomically(file, p.toString());
    }
}
