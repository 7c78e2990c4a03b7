package org.driftml.drift;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.driftml.train.PrecomputedReference;

/**
 * The quantity the paper's analysis argues from: the implicit reward margin of each pair,
 * s = beta * [(log pi(y+|x) - log pi_ref(y+|x)) - (log pi(y-|x) - log pi_ref(y-|x))],
 * and the share of pairs with sigma(-s) >= tau (Lemma 1's event: the pair still carries a gradient of weight at
 * least tau). When that share collapses towards zero, a method has stopped learning from its pairs.
 */
record MarginDiagnostics(int pairs, double mean, double[] quantiles, Map<Double, Double> shareAbove) {
    /** The quantiles reported: min, 10%, 25%, median, 75%, 90%, max. */
    public static final double[] LEVELS = {0, 0.1, 0.25, 0.5, 0.75, 0.9, 1};

    public static MarginDiagnostics of(double[] margins, List<Double> taus) {
        double[] s = margins.clone();
        Arrays.sort(s);
        double mean = Arrays.stream(s).average().orElse(Double.NaN);
        double[] q = new double[LEVELS.length];
        for (int i = 0; i < LEVELS.length; i++) {
            q[i] = s.length == 0 ? Double.NaN : quantile(s, LEVELS[i]);
        }
        Map<Double, Double> share = new LinkedHashMap<>();
        for (double tau : taus) {
            long n = Arrays.stream(s).filter(m -> sigmoid(-m) >= tau).count();
            share.put(tau, s.length == 0 ? Double.NaN : (double) n / s.length);
        }
        return new MarginDiagnostics(s.length, mean, q, share);
    }

    /** Margins from precomputed policy and reference log-probs of the same tokenised pairs. */
    public static double[] margins(PrecomputedReference policy, PrecomputedReference reference, double beta) {
        float[] pc = policy.chosenLogps(), pr = policy.rejectedLogps();
        float[] rc = reference.chosenLogps(), rr = reference.rejectedLogps();
        double[] out = new double[pc.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = beta * (((double) pc[i] - rc[i]) - ((double) pr[i] - rr[i]));
        }
        return out;
    }

    static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }

    // Linear interpolation between order statistics (numpy's default).
    static double quantile(double[] sorted, double level) {
        double pos = level * (sorted.length - 1);
        int lo = (int) Math.floor(pos), hi = (int) Math.ceil(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }

    /** As a stage summary records it. */
    StageSummary.Margins summary() {
        Map<String, Double> q = new LinkedHashMap<>();
        for (int i = 0; i < LEVELS.length; i++) {
            q.put(String.valueOf(LEVELS[i]), quantiles[i]);
        }
        Map<String, Double> share = new LinkedHashMap<>();
        shareAbove.forEach((tau, v) -> share.put(String.valueOf(tau), v));
        return new StageSummary.Margins(pairs, mean, q, share);
    }
}
