package org.driftml.data;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Labels user turns of unlabelled logs as DSAT, SAT or neutral with transparent rules: every rule is a named,
 * case-insensitive regular expression you can list, remove or add to, plus one structural rule (the user repeats
 * their previous request). A turn is DSAT when any DSAT rule fires, SAT when only SAT rules fire, else neutral.
 * The first user turn is never labelled: there is no reply before it to judge.
 *
 * <p>How good is it? Keyword rules catch explicit complaints ("that's wrong", "you forgot", "not what I asked")
 * and miss the implicit ones (a silent rephrase with new words, sarcasm), and they misfire on negations that are
 * not about the reply ("no, I also need..."). Measure it on a labelled sample of your own logs with
 * {@link #evaluate}, which reports precision and recall overall and per rule, before training on its labels.
 */
public final class DissatisfactionDetector {
    /** A named rule; {@code pattern} is matched anywhere in the turn (find, not match). */
    public record Rule(String name, Pattern pattern) {
        public static Rule of(String name, String regex) {
            return new Rule(name, Pattern.compile(regex, Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE));
        }
    }

    /** The label of one turn and the rules that decided it (empty for neutral). */
    public record Decision(Satisfaction label, List<String> firedRules) {}

    private final List<Rule> dsatRules;
    private final List<Rule> satRules;
    private final double repeatThreshold;

    /**
     * @param repeatThreshold a user turn whose word set overlaps the previous user turn's by at least this Jaccard
     *                        similarity is a repeated request (DSAT rule "repeats-request"); values above 1 disable it
     */
    public DissatisfactionDetector(List<Rule> dsatRules, List<Rule> satRules, double repeatThreshold) {
        this.dsatRules = List.copyOf(dsatRules);
        this.satRules = List.copyOf(satRules);
        this.repeatThreshold = repeatThreshold;
    }

    /** The default rules, after WildFeedback's DSAT rubric (corrections, negative feedback, rephrasing, frustration). */
    public static DissatisfactionDetector defaults() {
        List<Rule> dsat = List.of(
                Rule.of("says-wrong", "\\b(that'?s|this is|it'?s|is|was|are) (still )?(wrong|incorrect|not (right|correct|true|accurate))\\b"),
                Rule.of("wrong-answer", "\\b(wrong|incorrect) (answer|again|result|number|code|format)\\b"),
                Rule.of("not-what-asked", "\\bnot what i (asked|wanted|meant|said|need(ed)?)\\b"),
                Rule.of("you-failed", "\\byou (didn'?t|did not|forgot|missed|ignored|failed to|keep|still)\\b"),
                Rule.of("leading-no", "^\\s*(no|nope|wrong)\\b[,.!]?"),
                Rule.of("i-said", "\\b(i said|i asked|i told you|as i said|i meant|i mean)\\b"),
                Rule.of("try-again", "\\b(try again|redo|do it again|fix (it|this|that)|please correct)\\b"),
                Rule.of("does-not-work", "\\b(doesn'?t|does not|didn'?t|did not|won'?t) (work|compile|run|help|answer)\\b"),
                Rule.of("too-long-short", "\\btoo (long|short|verbose|wordy|vague|generic)\\b"),
                Rule.of("should-be", "\\b(it|that|this|the answer) should (be|have)\\b"),
                Rule.of("frustration", "\\b(useless|nonsense|makes no sense|that'?s not helpful|unhelpful)\\b"));
        List<Rule> sat = List.of(
                Rule.of("thanks", "\\b(thanks|thank you|thx|ty)\\b"),
                Rule.of("praise", "\\b(great|perfect|excellent|awesome|exactly|nice|well done|good job)\\b"),
                Rule.of("works", "\\b(that|it|this) (works|worked|helps|helped)\\b"),
                Rule.of("correct", "\\b(that'?s|this is) (right|correct)\\b"));
        return new DissatisfactionDetector(dsat, sat, 0.6);
    }

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
        return new DissatisfactionDetector(d, s, repeatThreshold);
    }

    /** This detector without the rules of that name. */
    public DissatisfactionDetector without(String name) {
        return new DissatisfactionDetector(dsatRules.stream().filter(r -> !r.name().equals(name)).toList(),
                satRules.stream().filter(r -> !r.name().equals(name)).toList(),
                name.equals("repeats-request") ? Double.POSITIVE_INFINITY : repeatThreshold);
    }

    /** Judges one user turn; {@code previousUser} is the user's previous turn, or null. */
    public Decision judge(String turn, String previousUser) {
        List<String> fired = new ArrayList<>();
        for (Rule r : dsatRules) {
            if (r.pattern().matcher(turn).find()) {
                fired.add(r.name());
            }
        }
        if (previousUser != null && jaccard(words(turn), words(previousUser)) >= repeatThreshold) {
            fired.add("repeats-request");
        }
        if (!fired.isEmpty()) {
            return new Decision(Satisfaction.DSAT, fired);
        }
        for (Rule r : satRules) {
            if (r.pattern().matcher(turn).find()) {
                fired.add(r.name());
            }
        }
        return fired.isEmpty() ? new Decision(Satisfaction.NEUTRAL, List.of()) : new Decision(Satisfaction.SAT, fired);
    }

    /** The conversation with every user turn after the first relabelled by the rules. */
    public Conversation label(Conversation c) {
        List<Turn> out = new ArrayList<>();
        String previousUser = null;
        boolean replied = false;
        for (Turn t : c.turns()) {
            if (t.role() == Turn.Role.USER) {
                Satisfaction label = replied ? judge(t.content(), previousUser).label() : Satisfaction.NEUTRAL;
                out.add(new Turn(t.role(), t.content(), label));
                previousUser = t.content();
            } else {
                out.add(t);
                replied |= t.role() == Turn.Role.ASSISTANT;
            }
        }
        return new Conversation(c.id(), out, c.source());
    }

    public List<Conversation> label(List<Conversation> conversations) {
        return conversations.stream().map(this::label).toList();
    }

    /** Precision and recall of DSAT (and SAT) against gold labels, with each rule's hits and precision. */
    public record Evaluation(int turns, int truePositives, int falsePositives, int falseNegatives, int satAgreed,
            int satPredicted, int satGold, Map<String, int[]> perRule) {
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
            perRule.forEach((rule, c) -> s.append(String.format(Locale.ROOT, "%n  %-16s fired %d, correct %d", rule,
                    c[0], c[1])));
            return s.toString();
        }
    }

    /** Compares the rules' labels with the gold labels of {@code labelled} (user turns after the first). */
    public Evaluation evaluate(List<Conversation> labelled) {
        int turns = 0, tp = 0, fp = 0, fn = 0, satAgreed = 0, satPredicted = 0, satGold = 0;
        Map<String, int[]> perRule = new LinkedHashMap<>();
        for (Conversation c : labelled) {
            String previousUser = null;
            boolean replied = false;
            for (Turn t : c.turns()) {
                if (t.role() != Turn.Role.USER) {
                    replied |= t.role() == Turn.Role.ASSISTANT;
                    continue;
                }
                if (replied) {
                    turns++;
                    Decision d = judge(t.content(), previousUser);
                    boolean gold = t.label() == Satisfaction.DSAT, predicted = d.label() == Satisfaction.DSAT;
                    tp += gold && predicted ? 1 : 0;
                    fp += !gold && predicted ? 1 : 0;
                    fn += gold && !predicted ? 1 : 0;
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
        return new Evaluation(turns, tp, fp, fn, satAgreed, satPredicted, satGold, perRule);
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
