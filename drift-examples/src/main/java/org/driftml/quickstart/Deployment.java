package org.driftml.quickstart;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.driftml.data.Satisfaction;
import org.driftml.model.Policy;
import org.driftml.model.Sampler;
import org.driftml.text.ChatMessage;

/**
 * The deployment: the starting policy answers tasks, simulated users react, and when they complain the policy
 * revises once, as in a real chat log. Conversations are written as WildFeedback sat_dsat_annotation
 * rows (UtterranceId, TurnId, Role User/Agent, Content, Satisfaction, Disatisfaction), which the real reader and
 * miner then take in.
 */
final class Deployment {
    static final int MAX_REVISIONS = 1;
    static final double TEMPERATURE = 0.7;

    record Turn(String role, String content, Satisfaction label) {}

    private Deployment() {}

    static List<List<Turn>> run(Policy policy, int conversations, int maxNewTokens, long seed) {
        Random r = new Random(seed);
        List<WordTask> tasks = new ArrayList<>();
        List<List<Turn>> logs = new ArrayList<>();
        List<List<ChatMessage>> open = new ArrayList<>();
        List<Integer> openIndex = new ArrayList<>();
        SimulatedUser user = new SimulatedUser(r);
        for (int i = 0; i < conversations; i++) {
            WordTask t = WordTask.sample(r);
            tasks.add(t);
            logs.add(new ArrayList<>(List.of(new Turn("User", t.prompt(), Satisfaction.NEUTRAL))));
            open.add(new ArrayList<>(List.of(ChatMessage.user(t.prompt()))));
            openIndex.add(i);
        }
        for (int round = 0; round <= MAX_REVISIONS && !openIndex.isEmpty(); round++) {
            List<long[]> prompts = new ArrayList<>();
            for (int i : openIndex) {
                prompts.add(policy.encodeChat(open.get(i)));
            }
            List<String> replies = new ArrayList<>();
            for (int s = 0; s < prompts.size(); s += 64) {
                replies.addAll(policy.sample(prompts.subList(s, Math.min(prompts.size(), s + 64)),
                        new Sampler.Settings(false, TEMPERATURE, 1.0, 0, 1.0, maxNewTokens, policy.endIds(),
                                seed * 1000 + round * 97 + s)));
            }
            List<Integer> still = new ArrayList<>();
            for (int k = 0; k < openIndex.size(); k++) {
                int i = openIndex.get(k);
                String reply = replies.get(k);
                logs.get(i).add(new Turn("Agent", reply, Satisfaction.NEUTRAL));
                open.get(i).add(ChatMessage.assistant(reply));
                SimulatedUser.Reaction reaction = user.react(tasks.get(i), reply);
                if (reaction == null) {
                    continue;
                }
                logs.get(i).add(new Turn("User", reaction.text(), reaction.label()));
                open.get(i).add(ChatMessage.user(reaction.text()));
                if (reaction.label() == Satisfaction.DSAT && round < MAX_REVISIONS) {
                    still.add(i);
                }
            }
            openIndex = still;
        }
        return logs;
    }

    /** Writes the conversations as WildFeedback annotation rows (JSON Lines), atomically. */
    static void write(List<List<Turn>> logs, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        ObjectMapper json = new ObjectMapper();
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            for (int c = 0; c < logs.size(); c++) {
                List<Turn> turns = logs.get(c);
                for (int u = 0; u < turns.size(); u++) {
                    Turn t = turns.get(u);
                    ObjectNode row = json.createObjectNode();
                    row.put("ConversationId", "sim-" + (c + 1)).put("UtterranceId", u).put("TurnId", u / 2 + 1)
                            .put("Role", t.role()).put("Content", t.content())
                            .put("Satisfaction", t.label() == Satisfaction.SAT)
                            .put("Disatisfaction", t.label() == Satisfaction.DSAT);
                    w.write(json.writeValueAsString(row));
                    w.write('\n');
                }
            }
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
