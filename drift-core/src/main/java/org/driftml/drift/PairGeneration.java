package org.driftml.drift;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.driftml.data.PreferencePair;
import org.driftml.data.PreferencePairs;
import org.driftml.model.Policy;
import org.driftml.model.Sampler;
import org.driftml.output.OutputFolder;

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

    /** Called after each chunk is durable; a test's simulated crash throws from here. */
    public interface Listener {
        void chunkDone(int chunk, int chunks, int pairs);
    }

    public record Outcome(List<PreferencePair> pairs, int dropped, int chunksResumed) {}

    private PairGeneration() {}

    public static Outcome run(Policy policy, PairMethod method, Path folder, Sampler.Settings settings, int chunkSize,
            long seed, PrintStream progress, Listener listener) throws IOException {
        Files.createDirectories(folder);
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
        try (FileChannel out = FileChannel.open(pairsFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            if (out.size() < length) {
                throw new IOException(pairsFile + ": shorter (" + out.size() + " bytes) than its progress record ("
                        + length + "); the pairs were changed outside drift");
            }
            out.truncate(length);
            out.position(length);
            for (int chunk = done; chunk < chunks; chunk++) {
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
                List<String> samples = policy.sample(prompts, s);
                StringBuilder lines = new StringBuilder();
                for (int i = from; i < to; i++) {
                    int[] span = spans.get(i - from);
                    PreferencePair pair = method.pair(i, samples.subList(span[0], span[0] + span[1]));
                    if (pair == null) {
                        dropped++;
                    } else {
                        lines.append(PreferencePairs.toJson(pair)).append('\n');
                    }
                }
                ByteBuffer bytes = ByteBuffer.wrap(lines.toString().getBytes(StandardCharsets.UTF_8));
                while (bytes.hasRemaining()) {
                    out.write(bytes);
                }
                out.force(false);
                length = out.position();
                writeProgress(progressFile, chunk + 1, length, dropped, chunkSize, method.size());
                if (progress != null) {
                    progress.printf("  sampled %d/%d items (%s)%n", to, method.size(), method.name());
                    progress.flush();
                }
                if (listener != null) {
                    listener.chunkDone(chunk + 1, chunks, to - from);
                }
            }
        }
        return new Outcome(PreferencePairs.read(pairsFile), dropped, resumed);
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
