package org.driftml.eval;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A judged head-to-head of model A against model B on the same prompts: each prompt is a win for A when the judge's
 * reward for A's reply exceeds B's by more than {@code tieMargin}, a loss when it falls short by more, a tie
 * otherwise. The win rate counts a tie as half a win (AlpacaEval's convention). Its confidence interval is the
 * percentile bootstrap over prompts: the prompts resampled with replacement {@code resamples} times, the win rate of
 * each resample, and the interval between their (1 - confidence) / 2 and (1 + confidence) / 2 quantiles.
 */
public final class WinRate {
    /**
     * @param prompts   how many were compared
     * @param wins      A better
     * @param losses    B better
     * @param ties      within the margin
     * @param winRate   (wins + ties / 2) / prompts
     * @param lower     the interval's lower end
     * @param upper     its upper end
     * @param spread    the standard deviation of the resampled win rates (the bootstrap's standard error)
     * @param tieShare  ties / prompts
     * @param confidence the interval's level (0.95)
     * @param resamples how many resamples made it
     */
    public record Result(int prompts, int wins, int losses, int ties, double winRate, double lower, double upper,
            double spread, double tieShare, double confidence, int resamples) {}

    private WinRate() {}

    /**
     * @param rewardA   the judge's reward of A's reply to each prompt
     * @param rewardB   of B's reply to the same prompt
     * @param tieMargin a difference at most this large is a tie (0: only equal rewards tie)
     */
    public static Result of(double[] rewardA, double[] rewardB, double tieMargin, int resamples, double confidence,
            long seed) {
        int n = rewardA.length;
        if (n == 0 || rewardB.length != n) {
            throw new IllegalArgumentException("need the same number (> 0) of rewards for A and B, got " + n + " and "
                    + rewardB.length);
        }
        if (!(tieMargin >= 0) || resamples < 1 || !(confidence > 0 && confidence < 1)) {
            throw new IllegalArgumentException("need tieMargin >= 0, resamples >= 1 and confidence in (0, 1)");
        }
        double[] outcome = new double[n];  // 1 win, 1/2 tie, 0 loss
        int wins = 0, losses = 0;
        for (int i = 0; i < n; i++) {
            if (!Double.isFinite(rewardA[i]) || !Double.isFinite(rewardB[i])) {
                throw new IllegalArgumentException("prompt " + i + ": a reward is not a finite number");
            }
            double d = rewardA[i] - rewardB[i];
            outcome[i] = d > tieMargin ? 1 : d < -tieMargin ? 0 : 0.5;
            wins += outcome[i] == 1 ? 1 : 0;
            losses += outcome[i] == 0 ? 1 : 0;
        }
        int ties = n - wins - losses;
        double[] rates = new double[resamples];
        SplittableRandom random = new SplittableRandom(seed);
        for (int b = 0; b < resamples; b++) {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                sum += outcome[random.nextInt(n)];
            }
            rates[b] = sum / n;
        }
        Arrays.sort(rates);
        double mean = Arrays.stream(rates).average().orElse(0);
        double var = Arrays.stream(rates).map(r -> (r - mean) * (r - mean)).sum() / Math.max(1, resamples - 1);
        double alpha = (1 - confidence) / 2;
        return new Result(n, wins, losses, ties, (wins + ties / 2.0) / n, Coverage.quantileOfSorted(rates, alpha),
                Coverage.quantileOfSorted(rates, 1 - alpha), Math.sqrt(var), ties / (double) n, confidence, resamples);
    }
}
