package org.driftml.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.driftml.output.Progress;
import org.driftml.data.internal.AppendLog;
import org.driftml.kernels.StepScope;
import org.driftml.model.Policy;
import org.driftml.model.Sampler;
import org.driftml.text.ChatMessage;

/**
 * A model's replies to a prompt set, {@code perPrompt} each, generated in batches through the chat template and
 * journalled so that a killed run resumes where it stopped with the same replies it would have given. The work is cut
 * into fixed chunks of {@code batch} (prompt, sample) items in order; chunk k samples with seed {@code seed + k}, so
 * its replies do not depend on which chunks ran before, and each finished chunk is appended to the journal in one
 * forced write.
 */
public final class Replies {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Replies() {}

    /**
     * @param prompts   each a conversation ending with the user's turn
     * @param perPrompt replies per prompt (1 for benchmark outputs, n for exploration)
     * @param settings  greedy or sampling; its seed is the first chunk's
     * @param batch     items generated together
     * @param journal   the JSON Lines file of finished chunks (read, then appended to)
     * @param progress  told a line per chunk
     * @return replies.get(i).get(j): prompt i's j-th reply
     * @throws IllegalArgumentException when a prompt leaves no room for a reply in the model's positions (named)
     */
    public static List<List<String>> generate(Policy policy, List<List<ChatMessage>> prompts, int perPrompt,
            Sampler.Settings settings, int batch, Path journal, Progress progress) throws IOException {
        if (perPrompt < 1 || batch < 1) {
            throw new IllegalArgumentException("replies per prompt and batch must be >= 1");
        }
        int positions = policy.decoder().config().maxPositionEmbeddings();
        List<long[]> encoded = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            long[] ids = policy.encodeChat(prompts.get(i));
            if (ids.length >= positions) {
                throw new IllegalArgumentException("prompt " + i + " has " + ids.length + " tokens, leaving no room for "
                        + "a reply in the model's " + positions + " positions (max_position_embeddings)");
            }
            encoded.add(ids);
        }
        int items = prompts.size() * perPrompt, chunks = (items + batch - 1) / batch;
        Map<Integer, List<String>> done = read(journal);
        String[] flat = new String[items];
        int resumed = 0;
        try (AppendLog log = AppendLog.open(journal)) {
            for (int k = 0; k < chunks; k++) {
                int from = k * batch, to = Math.min(items, from + batch);
                List<String> replies = done.get(k);
                if (replies != null && replies.size() == to - from) {
                    resumed++;
                } else {
                    List<long[]> chunk = new ArrayList<>();
                    int longest = 0;
                    for (int t = from; t < to; t++) {
                        chunk.add(encoded.get(t / perPrompt));
                        longest = Math.max(longest, encoded.get(t / perPrompt).length);
                    }
                    Sampler.Settings s = settings.withMaxNewTokens(Math.min(settings.maxNewTokens(),
                            positions - longest)).withSeed(settings.seed() + k);
                    try (StepScope scope = StepScope.open()) {
                        replies = policy.sample(chunk, s);
                    }
                    ObjectNode line = JSON.createObjectNode().put("chunk", k);
                    line.set("replies", JSON.valueToTree(replies));
                    log.append(line + "\n");
                    progress.line(String.format("  replies %d/%d", to, items));
                }
                for (int t = from; t < to; t++) {
                    flat[t] = replies.get(t - from);
                }
            }
        }
        if (resumed > 0) {
            progress.line(String.format("  %d of %d chunks were in %s", resumed, chunks, journal));
        }
        List<List<String>> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            out.add(List.of(java.util.Arrays.copyOfRange(flat, i * perPrompt, (i + 1) * perPrompt)));
        }
        return out;
    }

    /** The journal's finished chunks; a line a kill tore is left out (its chunk runs again). */
    private static Map<Integer, List<String>> read(Path journal) throws IOException {
        Map<Integer, List<String>> done = new HashMap<>();
        for (JsonNode n : AppendLog.read(journal)) {
            if (!n.path("chunk").isInt() || !n.path("replies").isArray()) {
                continue;
            }
            List<String> r = new ArrayList<>();
            n.get("replies").forEach(x -> r.add(x.asText()));
            done.put(n.get("chunk").asInt(), r);
        }
        return done;
    }
}
