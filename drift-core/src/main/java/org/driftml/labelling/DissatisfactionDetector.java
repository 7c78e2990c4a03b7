package org.driftml.labelling;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.driftml.data.Conversation;
import org.driftml.data.Satisfaction;
import org.driftml.data.Turn;

/**
 * Labels user turns of unlabelled logs as DSAT, SAT or neutral with transparent rules: every rule is a named,
 * case-insensitive regular expression you can list, remove or add to, plus one structural rule (the user repeats
 * their previous request). A turn is DSAT when any DSAT rule fires, SAT when only SAT rules fire, else neutral.
 * The first user turn is never labelled: there is no reply before it to judge.
 *
 * <p>The rules see the turn in context: text in quotes is the user quoting something, not saying it, and is left
 * out; and a rule may hold only after a system turn that did not end in a question, since "No, that's all" answers
 * "Anything else?" and complains about nothing (measured on real human-bot dialogs: about 94% of the old rules' false
 * alarms). The default rules cover the user reactions to system errors that the literature on free-text feedback
 * names (Petrak et al. 2023, after Xu et al. 2023 and See and Manning 2021): repeating or rephrasing the request,
 * making the system aware of its error with a correction, making it aware without one, and asking what it means.
 * The fifth kind, ignoring the error and going on, leaves nothing to detect.
 *
 * <p>Keyword rules still miss implicit complaints (a silent rephrase with new words, sarcasm, "that arrives after 10
 * though"). Measure them on a labelled sample of your own logs with {@link #evaluate}, which reports precision and
 * recall overall and each rule's precision, before training on their labels: a false DSAT turn teaches the model to
 * avoid a good reply.
 */
public final class DissatisfactionDetector {
    private static final int FLAGS = Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE;
    // Quoted text: the user repeating the system's words or naming something, not saying it.
    // A system turn that offers or suggests, or gives its own opinion or persona: a "no" to it declines or disagrees.
    private static final Pattern OFFER_OR_OPINION = Pattern.compile("\\b(you (could|might|can) (also )?|i (can|could) "
            + "(also )?|i('d)? (suggest|recommend)|how about|what about|would you like|shall i|do you want|consider"
            + "|if you prefer|there is also|also try|maybe|perhaps|i (think|bet|guess|believe|love|like|enjoy|prefer|play"
            + "|have)|my (favou?rite|hobby))\\b", FLAGS);
    // A turn with no words of its own: a recogniser's placeholder (<SILENCE>, [noise], <UNK>) says nothing of the reply.
    private static final Pattern PLACEHOLDER = Pattern.compile("^\\s*(<[^>]*>|\\[[^\\]]*\\]|\\W*)\\s*$");
    private static final Pattern QUOTED = Pattern.compile("\"[^\"]*\"|\u201c[^\u201d]*\u201d|`[^`]*`");

    /**
     * A named rule; {@code pattern} is matched anywhere in the turn (find, not match). With {@code afterStatement}
     * it holds only when the system's turn before did not end in a question; with {@code echoes}, only when the
     * text its group {@code echo} caught is in the system's turn before (the user negates what the system said).
     */
    public record Rule(String name, Pattern pattern, boolean afterStatement, boolean echoes, Pattern unlessSystem) {
        public Rule(String name, Pattern pattern, boolean afterStatement, boolean echoes) {
            this(name, pattern, afterStatement, echoes, null);
        }

        public static Rule of(String name, String regex) {
            return new Rule(name, Pattern.compile(regex, FLAGS), false, false);
        }

        /** This rule, not holding when the system's turn before matches {@code system}. */
        public Rule unlessSystem(Pattern system) {
            return new Rule(name, pattern, afterStatement, echoes, system);
        }

        /** A rule that holds only after a statement: an answer to the system's question is not a reaction to it. */
        public static Rule afterStatement(String name, String regex) {
            return new Rule(name, Pattern.compile(regex, FLAGS), true, false);
        }

        /**
         * A rule whose group {@code echo} must repeat words of the system's turn before: "Sunday, not Saturday"
         * corrects a system that said Saturday, while "June then, not May" after a reply about June is a choice.
         */
        public static Rule echoing(String name, String regex) {
            return new Rule(name, Pattern.compile(regex, FLAGS), false, true);
        }

        /** Whether the rule holds for {@code said} (quotes removed) after {@code system} (null: none). */
        boolean holds(String said, String system) {
            if (afterStatement && endsInQuestion(system)) {
                return false;
            }
            if (unlessSystem != null && system != null && unlessSystem.matcher(system).find()) {
                return false;
            }
            java.util.regex.Matcher m = pattern.matcher(said);
            if (!m.find()) {
                return false;
            }
            if (!echoes) {
                return true;
            }
            String echo = m.group("echo").strip();
            return system != null && Pattern.compile("\\b" + Pattern.quote(echo) + "\\b", FLAGS).matcher(system)
                    .find();
        }
    }

    /** The label of one turn and the rules that decided it (empty for neutral). */
    public record Decision(Satisfaction label, List<String> firedRules) {}

    private final List<Rule> dsatRules;
    private final List<Rule> satRules;
    private final double repeatThreshold;
    private final Map<String, Double> precisions;

    /**
     * @param repeatThreshold a user turn whose word set overlaps the previous user turn's by at least this Jaccard
     *                        similarity is a repeated request (DSAT rule "repeats-request"); values above 1 disable it
     */
    public DissatisfactionDetector(List<Rule> dsatRules, List<Rule> satRules, double repeatThreshold) {
        this(dsatRules, satRules, repeatThreshold, Map.of());
    }

    /** @param precisions each rule's measured precision (how often its label was right), by name */
    public DissatisfactionDetector(List<Rule> dsatRules, List<Rule> satRules, double repeatThreshold,
            Map<String, Double> precisions) {
        this.dsatRules = List.copyOf(dsatRules);
        this.satRules = List.copyOf(satRules);
        this.repeatThreshold = repeatThreshold;
        this.precisions = Map.copyOf(precisions);
    }

    /** This detector with each rule's measured precision (by name), what the served log records with a label. */
    public DissatisfactionDetector withPrecisions(Map<String, Double> measured) {
        return new DissatisfactionDetector(dsatRules, satRules, repeatThreshold, measured);
    }

    /** The rule's measured precision, or NaN when none was measured. */
    public double precision(String rule) {
        return precisions.getOrDefault(rule, Double.NaN);
    }

    /**
     * The default rules, named by the reaction they catch: {@code repeat-*} (the request again), {@code correct-*}
     * (the error and what is right), {@code aware-*} (the error alone), {@code clarify-*} (what the system means).
     * Their precision on the development dialogs is in the README and {@code drift mine --evaluate-detector}.
     */
    public static DissatisfactionDetector defaults() {
        List<Rule> dsat = List.of(
                // Repeat or rephrase: the user points back at what they asked.
                Rule.of("repeat-i-said", "\\b(i (already |just )?(said|told you|asked( for| about)?)"
                        + "|as i (said|mentioned)|like i said|i meant|i was (asking|talking) about"
                        + "|i'?m asking( for| about)?|my question (is|was))\\b"),
                // "But what about X?" opens a new topic; "ok but which month?" says the answer missed the question.
                Rule.afterStatement("repeat-but-which", "^\\W*(ok(ay)?|yes|yeah|sure|right|fine)?\\W*"
                        + "but (what|which|when|where|how|is|are|does|do|can|did)\\b(?! about)"),
                // Correction: a "no" to a statement, or "X, not Y".
                // Not after an offer or a suggestion ("You could also try X." "No, I'd rather not") nor after the
                // system's own opinion or persona in chit-chat ("I think dogs are more loyal." "No, cats are too"):
                // declining and disagreeing are not complaints (issue 31's false alarms on human dialogs).
                Rule.afterStatement("correct-leading-no", "^\\W*(no|nope|nah)\\b(?!\\W*(thanks|thank you|problem"
                        + "|worries|need|preference|that'?s (all|it|everything|fine)|just|i don'?t|not yet|first"
                        + "|i'?ll (go with|take|stick|pass)|i'?d rather|$))")
                        .unlessSystem(OFFER_OR_OPINION),
                Rule.echoing("correct-not-this", "\\w,? not (a |an |the )?(?<echo>[\\w'-]+( [\\w'-]+)?)\\W*$"),
                Rule.of("correct-other-way", "\\bthe other way (a)?round\\b"),
                // "That's the address, not the phone number": the reply gave something else than was asked.
                Rule.of("correct-wrong-thing", "^\\W*(that'?s|this is|it'?s|you gave( me)?) (the|a|an|his|her|their"
                        + "|its) [\\w' -]+,? not (the|a|an|his|her|their|its) \\w+"),
                Rule.of("correct-isnt-right", "\\b(isn'?t|is not|wasn'?t|was not|aren'?t|are not) "
                        + "(right|correct|true|prime|accurate)\\b"),
                // Aware without a correction: the reply is wrong, off, the same again, or contradicts itself.
                Rule.of("aware-says-wrong", "\\b(that'?s|this is|it'?s|is|was|are|you'?re|you are) (still |just )?"
                        + "(wrong|incorrect|not (right|correct|true|accurate|helpful))\\b"),
                Rule.of("aware-wrong-answer", "\\b(wrong|incorrect) (answer|again|result|number|code|format)\\b"
                        + "|^\\W*(wrong|incorrect)\\b"),
                Rule.of("aware-not-what-asked", "\\b(not what i (asked|wanted|meant|said|need(ed)?)"
                        + "|i didn'?t (ask|say|want)|(that'?s|it'?s|this is) not (a|an|my) "
                        + "(answer|summary|response|question)|not an answer|(doesn'?t|does not|didn'?t|did not) answer)"
                        + "\\b"),
                // Not "You said you like hiking, right?": checking what was said is not a complaint about it.
                Rule.of("aware-you-said", "^(?!.*\\?\\W*$).*\\byou (just |already |literally just )?"
                        + "(said|told me|asked( me)?|found|gave)\\b"),
                Rule.of("aware-same-again", "\\b(the same (thing|answer|one|again|\\w+ again)|you didn'?t change"
                        + "|you already told|you keep (saying|asking|repeating))\\b"),
                // Negated praise is not blame: "you didn't do anything wrong", "you didn't have to".
                Rule.of("aware-you-failed", "\\byou (didn'?t|did not|forgot|missed|ignored|failed to)\\b"
                        + "(?! (do|say) anything wrong| have to| need to| mind)"),
                // "That doesn't work for me" declines; "it doesn't work" reports a failure.
                Rule.of("aware-does-not-work", "\\b(doesn'?t|does not|didn'?t|did not|won'?t) "
                        + "(work|compile|run|help)\\b(?! for (me|us))"),
                Rule.of("aware-frustration", "\\b(useless|nonsense|stupid|ridiculous|rude|that'?s not helpful"
                        + "|unhelpful|irrelevant|off topic)\\b"),
                // Clarification: what the system means, or what its turn has to do with the talk.
                // "What does amortised mean?" after the system introduced the word is curiosity, not confusion:
                // only what the system means, or what its turn has to do with the talk, asks about an error.
                Rule.of("clarify-what-mean", "\\b(what do you mean|what are you talking about"
                        + "|what does (that|this|it|\\w+) have to do|why are you telling me|what\\?? why)\\b"),
                Rule.of("clarify-huh", "^\\W*(lol |haha |um+,? |wait,? )?(huh|what|excuse me)\\W*($|\\?)"),
                Rule.of("clarify-no-sense", "\\b((doesn'?t|does not|don'?t|do not) make (any )?sense|makes no sense"
                        + "|i don'?t (understand|follow|get it)|(you'?re|you are) not making (any )?sense"
                        + "|(that'?s|that is|so) random|(has|had) nothing to do with)\\b"));
        List<Rule> sat = List.of(
                Rule.of("thanks", "\\b(thanks|thank you|thx|ty)\\b"),
                Rule.of("praise", "\\b(great|perfect|excellent|awesome|exactly|nice|well done|good job|lovely)\\b"),
                Rule.of("works", "\\b(that|it|this) (works|worked|helps|helped)\\b"),
                Rule.of("correct", "\\b(that'?s|this is) (right|correct)\\b"));
        return new DissatisfactionDetector(dsat, sat, 0.6, HELD_OUT_PRECISION);
    }

    /**
     * Each default rule's precision on drift's held-out labelled dialogs ({@code data/detector/heldout.jsonl} and
     * {@code alarms-heldout.jsonl} together, 185 user turns; the rules were not tuned on them), the confidence
     * drift serve logs with each label. Rules that never fired there have none. Few firings stand behind most of
     * these (one to nine; thanks 25): measure on your own labelled sample ({@code drift mine
     * --rule-precision-from}) before trusting a threshold.
     */
    static final Map<String, Double> HELD_OUT_PRECISION = Map.ofEntries(
            Map.entry("thanks", 9 / 25.0), Map.entry("praise", 5 / 9.0), Map.entry("works", 1 / 2.0),
            Map.entry("aware-not-what-asked", 1.0), Map.entry("aware-you-failed", 1.0),
            Map.entry("correct-leading-no", 3 / 4.0), Map.entry("repeat-i-said", 1.0),
            Map.entry("clarify-what-mean", 1.0), Map.entry("clarify-no-sense", 1.0), Map.entry("aware-says-wrong", 1.0),
            Map.entry("correct-other-way", 1.0), Map.entry("aware-you-said", 1.0), Map.entry("repeat-but-which", 1.0),
            Map.entry("aware-same-again", 1.0), Map.entry("clarify-huh", 1.0), Map.entry("correct-isnt-right", 1.0));

    public List<Rule> dsatRules() {
        return dsatRules;
    }

    public List<Rule> satRules() {
        return satRules;
    }

    public double repeatThreshold() {
        return repeatThreshold;
    }

    /** This detector with {@code rule} added to the DSAT (or SAT) rules. */
    public DissatisfactionDetector withRule(Rule rule, boolean dissatisfied) {
        List<Rule> d = new ArrayList<>(dsatRules), s = new ArrayList<>(satRules);
        (dissatisfied ? d : s).add(rule);
        return new DissatisfactionDetector(d, s, repeatThreshold, precisions);
    }

    /** This detector without the rules of that name. */
    public DissatisfactionDetector without(String name) {
        return new DissatisfactionDetector(dsatRules.stream().filter(r -> !r.name().equals(name)).toList(),
                satRules.stream().filter(r -> !r.name().equals(name)).toList(),
                name.equals("repeats-request") ? Double.POSITIVE_INFINITY : repeatThreshold, precisions);
    }

    /** Judges one user turn; {@code previousUser} is the user's previous turn, or null. */
    public Decision judge(String turn, String previousUser) {
        return judge(turn, previousUser, null);
    }

    /**
     * Judges one user turn in context: {@code previousUser} is the user's previous turn and {@code previousSystem}
     * the system's turn this one answers, each null when there is none.
     */
    public Decision judge(String turn, String previousUser, String previousSystem) {
        if (PLACEHOLDER.matcher(turn).matches()) {
            return new Decision(Satisfaction.NEUTRAL, List.of());
        }
        String said = QUOTED.matcher(turn).replaceAll("\"\"");
        List<String> fired = new ArrayList<>();
        for (Rule r : dsatRules) {
            if (r.holds(said, previousSystem)) {
                fired.add(r.name());
            }
        }
        // A repeat needs words to repeat: two short turns ("ok", "yes please") overlap by chance.
        if (previousUser != null && words(turn).size() >= 3 && !PLACEHOLDER.matcher(previousUser).matches()
                && jaccard(words(turn), words(previousUser)) >= repeatThreshold) {
            fired.add("repeats-request");
        }
        if (!fired.isEmpty()) {
            return new Decision(Satisfaction.DSAT, fired);
        }
        for (Rule r : satRules) {
            if (r.pattern().matcher(said).find()) {
                fired.add(r.name());
            }
        }
        return fired.isEmpty() ? new Decision(Satisfaction.NEUTRAL, List.of()) : new Decision(Satisfaction.SAT, fired);
    }

    /** The conversation with every user turn after the first relabelled by the rules. */
    public Conversation label(Conversation c) {
        List<Turn> out = new ArrayList<>();
        String previousUser = null, previousSystem = null;
        for (Turn t : c.turns()) {
            if (t.role() == Turn.Role.USER) {
                Satisfaction label = previousSystem != null ? judge(t.content(), previousUser, previousSystem).label()
                        : Satisfaction.NEUTRAL;
                out.add(new Turn(t.role(), t.content(), label));
                previousUser = t.content();
            } else {
                out.add(t);
                previousSystem = t.role() == Turn.Role.ASSISTANT ? t.content() : previousSystem;
            }
        }
        return new Conversation(c.id(), out, c.source());
    }

    public List<Conversation> label(List<Conversation> conversations) {
        return conversations.stream().map(this::label).toList();
    }

    /** Precision and recall of DSAT (and SAT) against gold labels, with each rule's hits and precision. */
    public record Evaluation(int turns, int truePositives, int falsePositives, int falseNegatives, int satAgreed,
            int satPredicted, int satGold, Map<String, int[]> perRule, List<String> falseAlarms,
            List<String> misses) {
        public double precision() {
            return truePositives + falsePositives == 0 ? Double.NaN
                    : (double) truePositives / (truePositives + falsePositives);
        }

        public double recall() {
            return truePositives + falseNegatives == 0 ? Double.NaN
                    : (double) truePositives / (truePositives + falseNegatives);
        }

        public double f1() {
            double p = precision(), r = recall();
            return p + r == 0 ? 0 : 2 * p * r / (p + r);
        }

        public double satPrecision() {
            return satPredicted == 0 ? Double.NaN : (double) satAgreed / satPredicted;
        }

        public double satRecall() {
            return satGold == 0 ? Double.NaN : (double) satAgreed / satGold;
        }

        @Override
        public String toString() {
            StringBuilder s = new StringBuilder(String.format(Locale.ROOT,
                    "DSAT precision %.3f recall %.3f F1 %.3f (tp %d, fp %d, fn %d over %d user turns); "
                            + "SAT precision %.3f recall %.3f",
                    precision(), recall(), f1(), truePositives, falsePositives, falseNegatives, turns, satPrecision(),
                    satRecall()));
            s.append(String.format(Locale.ROOT, "%n  %-22s %6s %8s %10s", "rule", "fired", "correct", "precision"));
            perRule.forEach((rule, c) -> s.append(String.format(Locale.ROOT, "%n  %-22s %6d %8d %10.2f", rule, c[0],
                    c[1], (double) c[1] / c[0])));
            falseAlarms.forEach(t -> s.append("\n  false alarm: ").append(t));
            misses.forEach(t -> s.append("\n  missed: ").append(t));
            return s.toString();
        }
    }

    /** Compares the rules' labels with the gold labels of {@code labelled} (user turns after a system turn). */
    public Evaluation evaluate(List<Conversation> labelled) {
        return compare(labelled, (ci, ti, turn, previousUser, previousSystem) ->
                judge(turn, previousUser, previousSystem));
    }

    /**
     * Compares another labeller's labels ({@code predicted}: the same conversations relabelled, by the LLM judge
     * say) with the gold labels of {@code gold}, counting a DSAT or SAT label under {@code name} in the table.
     */
    public static Evaluation compare(List<Conversation> gold, List<Conversation> predicted, String name) {
        return compare(gold, (ci, ti, turn, previousUser, previousSystem) -> {
            Satisfaction label = predicted.get(ci).turns().get(ti).label();
            return new Decision(label, label == Satisfaction.NEUTRAL ? List.of() : List.of(name));
        });
    }

    private interface Labeller {
        Decision decide(int conversation, int turn, String text, String previousUser, String previousSystem);
    }

    private static Evaluation compare(List<Conversation> labelled, Labeller labeller) {
        int turns = 0, tp = 0, fp = 0, fn = 0, satAgreed = 0, satPredicted = 0, satGold = 0;
        Map<String, int[]> perRule = new LinkedHashMap<>();
        List<String> falseAlarms = new ArrayList<>(), misses = new ArrayList<>();
        for (int ci = 0; ci < labelled.size(); ci++) {
            Conversation c = labelled.get(ci);
            String previousUser = null, previousSystem = null;
            for (int ti = 0; ti < c.turns().size(); ti++) {
                Turn t = c.turns().get(ti);
                if (t.role() != Turn.Role.USER) {
                    previousSystem = t.role() == Turn.Role.ASSISTANT ? t.content() : previousSystem;
                    continue;
                }
                if (previousSystem != null) {
                    turns++;
                    Decision d = labeller.decide(ci, ti, t.content(), previousUser, previousSystem);
                    boolean gold = t.label() == Satisfaction.DSAT, predicted = d.label() == Satisfaction.DSAT;
                    tp += gold && predicted ? 1 : 0;
                    fp += !gold && predicted ? 1 : 0;
                    fn += gold && !predicted ? 1 : 0;
                    if (gold != predicted) {
                        (gold ? misses : falseAlarms).add(c.id() + ": " + t.content().replace('\n', ' ')
                                + (predicted ? " " + d.firedRules() : ""));
                    }
                    satPredicted += d.label() == Satisfaction.SAT ? 1 : 0;
                    satGold += t.label() == Satisfaction.SAT ? 1 : 0;
                    satAgreed += d.label() == Satisfaction.SAT && t.label() == Satisfaction.SAT ? 1 : 0;
                    for (String rule : d.firedRules()) {
                        int[] counts = perRule.computeIfAbsent(rule, k -> new int[2]);
                        counts[0]++;
                        counts[1] += d.label() == t.label() ? 1 : 0;
                    }
                }
                previousUser = t.content();
            }
        }
        return new Evaluation(turns, tp, fp, fn, satAgreed, satPredicted, satGold, perRule, falseAlarms, misses);
    }

    /** Whether the system's turn ends in a question (its last sentence), so that a "no" may simply answer it. */
    static boolean endsInQuestion(String system) {
        return system != null && system.strip().endsWith("?");
    }

    static Set<String> words(String s) {
        Set<String> out = new HashSet<>();
        for (String w : s.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) {
            if (w.length() > 2) {
                out.add(w);
            }
        }
        return out;
    }

    static double jaccard(Set<String> a, Set<String> b) {
        if (a.isEmpty() || b.isEmpty()) {
            return 0;
        }
        Set<String> inter = new HashSet<>(a);
        inter.retainAll(b);
        return (double) inter.size() / (a.size() + b.size() - inter.size());
    }
}
