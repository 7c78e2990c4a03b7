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
import org.driftml.model.Sampler;
import org.driftml.output.OutputFolder;
import org.driftml.parallel.ProcessGroup;

/**
 * Samples an iteration's pairs in fixed chunks of items and appends them to {@code pairs.jsonl} as it goes.
 *
 * <p>Crash safety: after each chunk the pairs file is forced to disk, then {@code pairs.progress} (chunks done,
 * the file's length, pairs dropped) is replaced atomically. A restarted run truncates the pairs file to the recorded
 * length (dropping any half-written chunk) and continues with the next chunk, so no pair is lost or duplicated.
 * Each chunk is sampled with its own seed (run seed, iteration, chunk index), so the resumed pairs are the ones an
 * uninterrupted run would have written.
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
     * chunk keeps its own seed, so the pairs are one process's, byte for byte, and a run resumes at any world size.
     * The ranks must see one file system.
     */
    static Outcome run(Policy policy, PairMethod method, Path folder, Sampler.Settings settings, int chunkSize,
            long seed, String stage, Progress progress, ProcessGroup group) throws IOException {
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
            for (int chunk = done; chunk < chunks; chunk++) {
                int from = chunk * chunkSize, to = Math.min(method.size(), from + chunkSize);
                String lines = sampleChunk(policy, method, settings, chunkSize, seed, chunk);
                dropped += (to - from) - lineCount(lines);
                ByteBuffer bytes = ByteBuffer.wrap(lines.getBytes(StandardCharsets.UTF_8));
                while (bytes.hasRemaining()) {
                    out.write(bytes);
                }
                out.force(false);
                length = out.position();
                writeProgress(progressFile, chunk + 1, length, dropped, chunkSize, method.size());
                progress.line(String.format("  sampled %d/%d items (%s)", to, method.size(), method.name()));
                progress.chunkDone(stage, chunk + 1, chunks);  // a test's simulated crash throws from here
            }
        }
        return new Outcome(PreferencePairs.read(pairsFile), dropped, resumed);
    }

    /** Chunk {@code chunk}'s pairs as JSON lines, sampled with the chunk's own seed (an item dropped: no line). */
    private static String sampleChunk(Policy policy, PairMethod method, Sampler.Settings settings, int chunkSize,
            long seed, int chunk) {
        int from = chunk * chunkSize, to = Math.min(method.size(), from + chunkSize);
        List<long[]> prompts = new ArrayList<>();
        List<int[]> spans = new ArrayList<>();
        for (int i = from; i < to; i++) {
            List<long[]> p = method.samplingPrompts(policy, i);
            spans.add(new int[] {prompts.size(), p.size()});
            prompts.addAll(p);
        }
        Sampler.Settings s = new Sampler.Settings(settings.greedy(), settings.temperature(), settings.topP(),
                settings.topK(), settings.repetitionPenalty(), settings.maxNewTokens(), settings.stopIds(),
                chunkSeed(seed, chunk));
        List<String> samples = policy.sampleDecoded(prompts, s);  // each method reads (and strips) its own
        StringBuilder lines = new StringBuilder();
        for (int i = from; i < to; i++) {
            int[] span = spans.get(i - from);
            PreferencePair pair = method.pair(i, samples.subList(span[0], span[0] + span[1]));
            if (pair != null) {
                lines.append(PreferencePairs.toJson(pair)).append('\n');
            }
        }
        return lines.toString();
    }

    private static int lineCount(String lines) {
        return (int) lines.chars().filter(c -> c == '\n').count();
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
                    String lines = Files.readString(part);
                    int from = chunk * chunkSize, to = Math.min(method.size(), from + chunkSize);
                    dropped += (to - from) - lineCount(lines);
                    ByteBuffer bytes = ByteBuffer.wrap(lines.getBytes(StandardCharsets.UTF_8));
                    while (bytes.hasRemaining()) {
                        out.write(bytes);
                    }
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

    static long chunkSeed(long seed, int chunk) {
        long z = seed * 0x9E3779B97F4A7C15L + chunk + 1;
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
