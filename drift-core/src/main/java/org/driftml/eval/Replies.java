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
        return generateCounted(policy, prompts, perPrompt, settings, batch, journal, progress).replies();
    }

    /**
     * Replies, and how many ended at the new-token limit instead of at an end token: cut, and so scored lower by a
     * benchmark's judge. {@code unknown} counts replies journalled before the limit was recorded.
     */
    public record Counted(List<List<String>> replies, int atLimit, int unknown) {}

    /** As {@link #generate}, counting the replies the token limit cut. */
    public static Counted generateCounted(Policy policy, List<List<ChatMessage>> prompts, int perPrompt,
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
        Map<Integer, JsonNode> done = read(journal);
        String[] flat = new String[items];
        int resumed = 0, atLimit = 0, unknown = 0;
        try (AppendLog log = AppendLog.open(journal)) {
            for (int k = 0; k < chunks; k++) {
                int from = k * batch, to = Math.min(items, from + batch);
                JsonNode journalled = done.get(k);
                List<String> replies = journalled == null ? null : texts(journalled.get("replies"));
                if (replies != null && replies.size() == to - from) {
                    resumed++;
                    JsonNode cut = journalled.get("at_limit");
                    if (cut != null && cut.isArray()) {
                        for (JsonNode x : cut) {
                            atLimit += x.asBoolean() ? 1 : 0;
                        }
                    } else {
                        unknown += replies.size();
                    }
                } else {
                    List<long[]> chunk = new ArrayList<>();
                    int longest = 0;
                    for (int t = from; t < to; t++) {
                        chunk.add(encoded.get(t / perPrompt));
                        longest = Math.max(longest, encoded.get(t / perPrompt).length);
                    }
                    Sampler.Settings s = settings.withMaxNewTokens(Math.min(settings.maxNewTokens(),
                            positions - longest)).withSeed(settings.seed() + k);
                    List<Boolean> cut = new ArrayList<>();
                    replies = new ArrayList<>();
                    try (StepScope scope = StepScope.open()) {
                        for (Sampler.Generation g : policy.generateIds(chunk, s)) {
                            replies.add(policy.tokenizer().decode(g.outputIds(), true).strip());
                            cut.add(!g.stopped());
                            atLimit += g.stopped() ? 0 : 1;
                        }
                    }
                    ObjectNode line = JSON.createObjectNode().put("chunk", k);
                    line.set("replies", JSON.valueToTree(replies));
                    line.set("at_limit", JSON.valueToTree(cut));
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
        return new Counted(out, atLimit, unknown);
    }

    private static List<String> texts(JsonNode replies) {
        List<String> r = new ArrayList<>();
        replies.forEach(x -> r.add(x.asText()));
        return r;
    }

    /** The journal's finished chunks; a line a kill tore is left out (its chunk runs again). */
    private static Map<Integer, JsonNode> read(Path journal) throws IOException {
        Map<Integer, JsonNode> done = new HashMap<>();
        for (JsonNode n : AppendLog.read(journal)) {
            if (n.path("chunk").isInt() && n.path("replies").isArray()) {
                done.put(n.get("chunk").asInt(), n);
            }
        }
        return done;
    }
}
