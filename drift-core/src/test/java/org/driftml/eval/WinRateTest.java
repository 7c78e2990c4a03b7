package org.driftml.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Win counting by hand, and the bootstrap against the sampling theory of a mean. */
class WinRateTest {
    @Test
    void countsWinsLossesAndTiesAsHalf() {
        // prompt 0: 3 > 1 win; 1: 1 < 2 loss; 2: 2 = 2 tie; 3: 2 > 0 win -> (2 + 1/2) / 4
        WinRate.Result r = WinRate.of(new double[] {3, 1, 2, 2}, new double[] {1, 2, 2, 0}, 0, 200, 0.95, 1);
        assertEquals(2, r.wins());
        assertEquals(1, r.losses());
        assertEquals(1, r.ties());
        assertEquals(0.625, r.winRate(), 1e-12);
        assertEquals(0.25, r.tieShare(), 1e-12);
        // a margin of 1.5 makes 1 vs 2 a tie too; differences of 2 stay wins
        WinRate.Result m = WinRate.of(new double[] {3, 1, 2, 2}, new double[] {1, 2, 2, 0}, 1.5, 200, 0.95, 1);
        assertEquals(2, m.wins());
        assertEquals(0, m.losses());
        assertEquals(2, m.ties());
    }

    @Test
    void aCleanSweepHasADegenerateInterval() {
        WinRate.Result r = WinRate.of(new double[] {1, 1, 1}, new double[] {0, 0, 0}, 0, 500, 0.95, 2);
        assertEquals(1.0, r.winRate());
        assertEquals(1.0, r.lower());
        assertEquals(1.0, r.upper());
    }

    /**
     * 400 prompts, 240 wins and 160 losses: the bootstrap distribution of a mean of 0/1 outcomes has standard
     * deviation sqrt(p (1 - p) / n) = sqrt(0.6 * 0.4 / 400) = 0.0245, and its 95% percentile interval is close to
     * 0.6 -+ 1.96 * 0.0245 = [0.552, 0.648].
     */
    @Test
    void bootstrapMatchesTheStandardErrorOfAMean() {
        double[] a = new double[400], b = new double[400];
        for (int i = 0; i < 400; i++) {
            a[i] = i < 240 ? 1 : 0;
            b[i] = i < 240 ? 0 : 1;
        }
        WinRate.Result r = WinRate.of(a, b, 0, 4000, 0.95, 7);
        double se = Math.sqrt(0.6 * 0.4 / 400);
        System.out.printf("win rate %.3f, 95%% CI [%.4f, %.4f], bootstrap sd %.4f (theory %.4f)%n", r.winRate(),
                r.lower(), r.upper(), r.spread(), se);
        assertEquals(0.6, r.winRate(), 1e-12);
        assertEquals(se, r.spread(), 0.05 * se);
        assertEquals(0.6 - 1.96 * se, r.lower(), 0.006);
        assertEquals(0.6 + 1.96 * se, r.upper(), 0.006);
        WinRate.Result again = WinRate.of(a, b, 0, 4000, 0.95, 7);
        assertEquals(r.lower(), again.lower());
        assertEquals(r.upper(), again.upper());
    }

    @Test
    void mismatchedOrNonFiniteRewardsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> WinRate.of(new double[] {1}, new double[] {1, 2}, 0, 10,
                0.95, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WinRate.of(new double[] {1, Double.NaN}, new double[] {1, 2}, 0, 10, 0.95, 0));
        assertTrue(e.getMessage().contains("prompt 1"), e.getMessage());
    }
}
