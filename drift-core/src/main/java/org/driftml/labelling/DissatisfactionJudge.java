package org.driftml.labelling;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.driftml.output.Progress;
import org.driftml.data.internal.AppendLog;
import org.driftml.data.internal.Sha256;
import org.driftml.model.Policy;
import org.driftml.model.Sampler;
import org.driftml.text.ChatMessage;
import org.driftml.labelling.DissatisfactionDetector;
import org.driftml.data.Conversation;
import org.driftml.data.Satisfaction;
import org.driftml.data.Turn;

/**
 * Labels user turns by asking a chat model, for the dissatisfaction that rules miss. Each user turn that follows a
 * system turn is shown to the judge with the turns before it and a rubric after the DSAT rubric of SPUR (Lin et al.
 * 2024), as WildFeedback (Shi et al. 2024) applied it to label its user turns with GPT-4: corrections, repeated or
 * rephrased requests, replies that ignore or contradict the user, asking what the system means, frustration; and
 * what is not dissatisfaction (answering the system's question, a new request, added details, thanks). The judge
 * answers with a verdict and a reason, generated greedily in batches with drift's sampler and KV cache.
 *
 * <p>A reply whose verdict cannot be read is counted and reported, and its turn left unlabelled: never guessed.
 * Verdicts are cached in a JSON Lines file, keyed by a hash of the judge model and the prompt, appended and forced
 * batch by batch: an interrupted run asks again only what it had not asked.
 */
public final class DissatisfactionJudge {
    private static final ObjectMapper JSON = new ObjectMapper();  // the judge's journal lines
    /** The file in the output folder that holds the verdicts. */
    public static final String CACHE_FILE = "judge-verdicts.jsonl";
    private static final int CONTEXT_TURNS = 4;  // turns shown before the judged one
    private static final int TURN_CHARS = 800;  // each shown turn cut to this many characters
    private static final Pattern VERDICT = Pattern.compile(
            "^\\W*verdict\\W*:\\W*(not dissatisfied|not_dissatisfied|dissatisfied)\\b",
            Pattern.CASE_INSENSITIVE | Pattern.MULTILINE);
    private static final Pattern REASON = Pattern.compile("^\\W*reason\\W*:[\\s*_]*(.+?)\\s*$",
            Pattern.CASE_INSENSITIVE | Pattern.MULTILINE);

    /** What the judge said of one turn: dissatisfied or not, and why. */
    public record Verdict(boolean dissatisfied, String reason) {}

    /**
     * The judged conversations and what it took: turns the judge was asked about ({@code fromCache} of them answered
     * by the cache), verdicts that could not be parsed (a few examples), and the DSAT turns found.
     */
    public record Outcome(List<Conversation> labelled, int judged, int fromCache, int unparsed,
            List<String> unparsedExamples, int dissatisfied) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "judge: %d turns judged (%d from the cache), %d DSAT, %d verdicts "
                    + "could not be parsed (left unlabelled)", judged, fromCache, dissatisfied, unparsed);
        }
    }

    private final Policy judge;
    private final String modelKey;
    private final int batch;
    private final int maxNewTokens;

    /**
     * @param judge        the chat model that judges (its chat template renders the question)
     * @param batch        turns asked in one batched generation
     * @param maxNewTokens the longest answer read (a verdict line and a short reason fit in 64)
     * @throws IOException when the model folder cannot be read for the cache key
     */
    public DissatisfactionJudge(Policy judge, int batch, int maxNewTokens) throws IOException {
        if (batch < 1 || maxNewTokens < 1) {
            throw new IllegalArgumentException("judge batch and max new tokens must be at least 1, got " + batch
                    + " and " + maxNewTokens);
        }
        this.judge = judge;
        this.batch = batch;
        this.maxNewTokens = maxNewTokens;
        this.modelKey = modelKey(judge.folder());
    }

    /**
     * The question put to the judge about {@code turn}, the user's reply to the last of {@code before} (the turns
     * before it, oldest first; only the last few are shown).
     */
    public static String prompt(List<Turn> before, String turn) {
        StringBuilder s = new StringBuilder("You judge whether a user was dissatisfied with an AI system's reply.\n\n"
                + "The conversation so far, oldest first:\n");
        for (Turn t : before.subList(Math.max(0, before.size() - CONTEXT_TURNS), before.size())) {
            s.append(t.role() == Turn.Role.USER ? "[User]: " : "[System]: ").append(cut(t.content())).append('\n');
        }
        s.append("[User, the message to judge]: ").append(cut(turn)).append("\n\n")
                .append("Does the user's last message show dissatisfaction with the system's last reply? It does "
                        + "when the user:\n"
                        + "- says the reply is wrong, or corrects it;\n"
                        + "- repeats or rephrases their request because the reply missed it;\n"
                        + "- says the reply ignored them, contradicts what was said, is irrelevant, or is too long, "
                        + "too short or in the wrong style;\n"
                        + "- asks what the system means, or why it said that;\n"
                        + "- complains or expresses frustration.\n"
                        + "It does not when the user answers the system's question (\"No, that's all\"), asks "
                        + "something new, adds details, or thanks the system.\n\n"
                        + "Answer with exactly two lines:\n"
                        + "Verdict: DISSATISFIED or NOT DISSATISFIED\n"
                        + "Reason: one short sentence");
        return s.toString();
    }

    private static String cut(String text) {
        String flat = text.replace('\n', ' ').strip();
        return flat.length() <= TURN_CHARS ? flat : flat.substring(0, TURN_CHARS) + " [...]";
    }

    /** The verdict in a judge's reply, if it has one: a "Verdict:" line, and the "Reason:" line when present. */
    public static Optional<Verdict> parse(String reply) {
        Matcher v = VERDICT.matcher(reply);
        if (!v.find()) {
            return Optional.empty();
        }
        boolean dissatisfied = !v.group(1).toLowerCase(Locale.ROOT).startsWith("not");
        Matcher r = REASON.matcher(reply);
        return Optional.of(new Verdict(dissatisfied, r.find() ? r.group(1).strip() : ""));
    }

    /**
     * Labels every user turn that follows a system turn: DSAT where the judge says so, neutral elsewhere (and where
     * its verdict could not be read). With {@code rulesFirst}, the rules decide where they fire (DSAT or SAT) and the
     * judge is asked only where they are silent.
     *
     * @param conversations the logs
     * @param rulesFirst    the rule detector to try first, or null for the judge alone
     * @param cacheFile     the verdict cache (created if missing; an interrupted run's is read and extended)
     * @param progress      told a line per batch
     * @throws IOException when the cache cannot be read or written
     */
    public Outcome label(List<Conversation> conversations, DissatisfactionDetector rulesFirst, Path cacheFile,
            Progress progress) throws IOException {
        Map<String, Optional<Verdict>> cache = readCache(cacheFile);
        // One pass over the logs: each conversation's starting labels (the rules', or neutral) and the turns left to
        // the judge, each under its cache key.
        List<List<Turn>> labels = new ArrayList<>();
        List<Asked> asked = new ArrayList<>();
        for (int ci = 0; ci < conversations.size(); ci++) {
            Conversation c = conversations.get(ci);
            List<Turn> start = new ArrayList<>(rulesFirst != null ? rulesFirst.label(c).turns() : c.turns().stream()
                    .map(t -> t.role() == Turn.Role.USER ? new Turn(t.role(), t.content(), Satisfaction.NEUTRAL) : t)
                    .toList());
            labels.add(start);
            boolean replied = false;
            for (int i = 0; i < start.size(); i++) {
                Turn t = start.get(i);
                if (t.role() != Turn.Role.USER) {
                    replied |= t.role() == Turn.Role.ASSISTANT;
                } else if (replied && t.label() == Satisfaction.NEUTRAL) {
                    String prompt = prompt(c.turns().subList(0, i), t.content());
                    asked.add(new Asked(ci, i, key(prompt), prompt));
                }
            }
        }
        Map<String, String> prompts = new java.util.LinkedHashMap<>();
        asked.forEach(q -> prompts.put(q.key(), q.prompt()));
        int fromCache = (int) prompts.keySet().stream().filter(cache::containsKey).count();
        List<Map.Entry<String, String>> todo = prompts.entrySet().stream()
                .filter(e -> !cache.containsKey(e.getKey())).toList();
        try (AppendLog out = AppendLog.open(cacheFile)) {
            Sampler.Settings greedy = Sampler.Settings.greedy(maxNewTokens, judge.endIds());
            for (int from = 0; from < todo.size(); from += batch) {
                List<Map.Entry<String, String>> part = todo.subList(from, Math.min(todo.size(), from + batch));
                List<List<ChatMessage>> questions = new ArrayList<>();
                part.forEach(e -> questions.add(List.of(ChatMessage.user(e.getValue()))));
                List<String> replies = judge.generate(questions, greedy);
                StringBuilder lines = new StringBuilder();
                for (int i = 0; i < part.size(); i++) {
                    Optional<Verdict> v = parse(replies.get(i));
                    cache.put(part.get(i).getKey(), v);
                    ObjectNode n = JSON.createObjectNode().put("key", part.get(i).getKey())
                            .put("reply", replies.get(i));
                    v.ifPresent(verdict -> n.put("dissatisfied", verdict.dissatisfied())
                            .put("reason", verdict.reason()));
                    lines.append(n).append('\n');
                }
                out.append(lines.toString());  // a kill after this loses nothing already asked
                progress.line(String.format("  judged %d/%d turns", Math.min(todo.size(), from + batch),
                        todo.size()));
            }
        }
        // The labels: DSAT where the judge said so; an unreadable verdict leaves its turn as it was.
        int unparsed = 0, dissatisfied = 0;
        List<String> examples = new ArrayList<>();
        for (Asked q : asked) {
            Optional<Verdict> v = cache.get(q.key());
            Turn t = labels.get(q.conversation()).get(q.turn());
            if (v.isEmpty()) {
                unparsed++;
                if (examples.size() < 3) {
                    examples.add(conversations.get(q.conversation()).id() + ": " + cut(t.content()));
                }
            } else if (v.get().dissatisfied()) {
                dissatisfied++;
                labels.get(q.conversation()).set(q.turn(), new Turn(Turn.Role.USER, t.content(), Satisfaction.DSAT));
            }
        }
        List<Conversation> labelled = new ArrayList<>();
        for (int ci = 0; ci < conversations.size(); ci++) {
            Conversation c = conversations.get(ci);
            labelled.add(new Conversation(c.id(), labels.get(ci), c.source()));
        }
        return new Outcome(labelled, prompts.size(), fromCache, unparsed, examples, dissatisfied);
    }

    /** A turn put to the judge: where it is, its question and the question's cache key. */
    private record Asked(int conversation, int turn, String key, String prompt) {}

    private String key(String prompt) {
        return Sha256.hex(modelKey + "\n" + prompt);
    }

    /** What identifies the judge model for the cache: its folder, config and the weights' names and sizes. */
    private static String modelKey(Path folder) throws IOException {
        StringBuilder s = new StringBuilder(folder.toAbsolutePath().normalize().toString()).append('\n');
        s.append(Files.readString(folder.resolve("config.json")));
        try (Stream<Path> files = Files.list(folder)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList()) {
                s.append('\n').append(f.getFileName()).append(' ').append(Files.size(f));
            }
        }
        return Sha256.hex(s.toString());
    }

    /** The cached verdicts by key (an unparsed reply: empty); a line torn by a kill is dropped. */
    private static Map<String, Optional<Verdict>> readCache(Path file) throws IOException {
        Map<String, Optional<Verdict>> cache = new HashMap<>();
        for (JsonNode n : AppendLog.read(file)) {  // a torn last line is left out: asked again
            if (!n.hasNonNull("key")) {
                continue;
            }
            cache.put(n.get("key").asText(), n.has("dissatisfied")
                    ? Optional.of(new Verdict(n.get("dissatisfied").asBoolean(), n.path("reason").asText()))
                    : Optional.empty());
        }
        return cache;
    }
}
