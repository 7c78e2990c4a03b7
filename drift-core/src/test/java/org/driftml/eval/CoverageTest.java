package org.driftml.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Sec. 4.3's shares on constructed replies whose answer follows from the Gaussian kernel by hand. */
class CoverageTest {
    private final List<double[]> points = new ArrayList<>();
    private final List<String> methods = new ArrayList<>();
    private final List<Double> rewards = new ArrayList<>();

    private void add(String method, double x, double y, int count, double reward) {
        for (int i = 0; i < count; i++) {
            points.add(new double[] {x, y});
            methods.add(method);
            rewards.add(reward);
        }
    }

    /** A with 20 replies at each of (-5, 0) and (5, 0), B 20 at the left one, C 20 at the right one; reward 1. */
    private void clustersABC() {
        add("A", -5, 0, 20, 1);
        add("A", 5, 0, 20, 1);
        add("B", -5, 0, 20, 1);
        add("C", 5, 0, 20, 1);
    }

    private Coverage.Result run(double zHigh, int grid) {
        return Coverage.of(points.toArray(double[][]::new), methods,
                rewards.stream().mapToDouble(Double::doubleValue).toArray(), new Coverage.Settings(grid, 0.8, zHigh, 1.0));
    }

    /**
     * Two high-reward clusters at (-5, 0) and (5, 0), bandwidth 1: A has 20 replies at each, B 20 at the left one
     * only, C 20 at the right one only, Z 20 at each with the lowest reward. The grid spans [-8, 8] x [-3, 3] (3
     * bandwidths of padding), area 96; H, its top 20%, is a disc of area 9.6 around each centre, radius
     * r = sqrt(9.6 / pi) = 1.748, where Z_all = exp(-r^2 / 2) = 0.217. Near a centre, D_A = D_B = Z_all / 2
     * (20 of the 40 weighted replies there), so with z_high = 0.1 every cell of the left disc (Z_all >= 0.217, so
     * D >= 0.108) is B's: Share(B) = Share(C) = 1/2 and Share(A) = 1. Z's weights are 0: it covers nothing.
     */
    @Test
    void twoClustersSplitTheHighRewardRegionInHalves() {
        clustersABC();
        add("Z", -5, 0, 20, 0);
        add("Z", 5, 0, 20, 0);
        Coverage.Result r = run(0.1, 160);
        Map<String, Double> share = r.share();
        System.out.println("shares " + share + ", H bounded at Z_all = " + r.threshold());
        assertEquals(List.of("A", "B", "C", "Z"), List.copyOf(share.keySet()));
        assertEquals(Math.exp(-9.6 / Math.PI / 2), r.threshold(), 0.02);
        assertEquals(1.0, share.get("A"), 1e-12);
        assertEquals(0.5, share.get("B"), 1e-12);
        assertEquals(0.5, share.get("C"), 1e-12);
        assertEquals(0.0, share.get("Z"), 1e-12);
    }

    /**
     * The same replies with z_high = 0.15: B keeps the cells where Z_all / 2 >= 0.15, the disc Z_all >= 0.3 of
     * area 2 pi ln(1 / 0.3) = 7.565 out of H's 19.2: Share(B) = 7.565 / 19.2 = 0.394; A has that disc on both
     * sides, 0.788.
     */
    @Test
    void aHigherThresholdKeepsTheInnerDiscOnly() {
        clustersABC();
        Coverage.Result r = run(0.15, 200);
        double want = 2 * Math.PI * Math.log(1 / 0.3) / 19.2;
        assertEquals(want, r.share().get("B"), 0.01);
        assertEquals(r.share().get("B"), r.share().get("C"), 1e-12);
        assertEquals(2 * want, r.share().get("A"), 0.02);
    }

    @Test
    void rewardsWeightTheSurface() {
        // One cluster rewarded 1, the other 0.5 (weights 1 and 0 after min-max): H lies at the rewarded one only,
        // a disc of area 19.2 where Z_all >= exp(-19.2 / pi / 2) = 0.047, all of it A's at z_high 0.01.
        add("A", -5, 0, 20, 1);
        add("B", 5, 0, 20, 0.5);
        Coverage.Result r = run(0.01, 100);
        assertEquals(1.0, r.share().get("A"), 1e-12);
        assertEquals(0.0, r.share().get("B"), 1e-12);
        for (int iy = 0; iy < r.ys().length; iy++) {
            for (int ix = 0; ix < r.xs().length; ix++) {
                assertTrue(!r.high()[iy][ix] || r.xs()[ix] < 0, "a cell of H on the unrewarded side");
            }
        }
    }

    @Test
    void scottsRuleByHand() {
        // x: -1, 0, 1 (variance 1), y: 0, 0, 3 (variance 3): sigma = sqrt(2), h = sqrt(2) * 3^(-1/6).
        double h = Coverage.scott(new double[][] {{-1, 0}, {0, 0}, {1, 3}});
        assertEquals(Math.sqrt(2) * Math.pow(3, -1.0 / 6), h, 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Coverage.scott(new double[][] {{1, 1}, {1, 1}}));
        assertTrue(e.getMessage().contains("one point"), e.getMessage());
    }

    @Test
    void quantileInterpolatesAsNumpy() {
        // numpy.quantile([1, 2, 3, 4], 0.8) = 3.4
        assertEquals(3.4, Coverage.quantile(new double[][] {{4, 1}, {3, 2}}, 0.8), 1e-12);
    }

    @Test
    void meanAveragesSharesOverPrompts() {
        add("A", -5, 0, 20, 1);
        add("B", 5, 0, 20, 1);
        Coverage.Result one = run(0.1, 50);
        points.clear();
        methods.clear();
        rewards.clear();
        add("A", -5, 0, 20, 1);
        add("B", -5, 0, 20, 1);
        Coverage.Result two = run(0.1, 50);
        Map<String, Double> mean = Coverage.mean(List.of(one, two));
        assertEquals((one.share().get("A") + two.share().get("A")) / 2, mean.get("A"), 1e-12);
        assertEquals(1.0, two.share().get("B"), 1e-12);
        assertEquals((one.share().get("B") + 1.0) / 2, mean.get("B"), 1e-12);
    }

    private Coverage.Result paper(int grid) {
        return Coverage.of(points.toArray(double[][]::new), methods,
                rewards.stream().mapToDouble(Double::doubleValue).toArray(),
                new Coverage.Settings(grid, 0.8, 0.1, 1.0, Coverage.Definition.PAPER));
    }

    /**
     * Sec. 4.3 as written. A's reply and B's sit at (0, 0), both with reward 1; Z's, with the lowest reward (weight
     * 0), sits at (0, 12), only stretching the grid. K_A = K_B = k, one Gaussian bump, and K_all = 2k, exactly (a
     * doubling), so scaled by their own maxima D_A = D_B = Z_all, bit for bit. S_m = {g in H : D_m >= z_high} with
     * H = {g : Z_all >= z_high} is then H itself: Share(A) = Share(B) = 1, whatever z_high the quantile gives. Z's
     * surface is 0 everywhere, below z_high (which is above 0: Z_all is positive on the whole grid), so Share(Z) = 0.
     * On Z_all's scale (FIXED_Z) each bump is Z_all / 2 and covers only where Z_all >= 0.2: less of H whenever
     * z_high is below 0.2, as here. The definitions differ exactly there.
     */
    @Test
    void thePapersDefinitionScalesEachMethodByItsOwnMaximum() {
        add("A", 0, 0, 1, 1);
        add("B", 0, 0, 1, 1);
        add("Z", 0, 12, 1, 0);
        Coverage.Result r = paper(80);
        assertEquals(r.threshold(), r.covering(), "one z_high bounds H and S_m");
        assertTrue(r.threshold() > 0, "Z_all is positive on the whole grid: " + r.threshold());
        assertEquals(1.0, r.share().get("A"));
        assertEquals(1.0, r.share().get("B"));
        assertEquals(0.0, r.share().get("Z"));
        assertTrue(r.threshold() < 0.2, "z_high " + r.threshold());
        assertTrue(run(0.1, 80).share().get("B") < 1.0, "on Z_all's scale each bump covers less of H");
    }

    /**
     * Mirror images: A's one reply at (-5, 0), B's at (5, 0), both reward 1, and Z's (reward 0) at (0, 30) on the
     * mirror line. The grid is symmetric about x = 0 and each cell's value is its mirror's (two-term sums commute),
     * so H is symmetric and Share(A) = Share(B), exactly; each is the part of H around its own bump, between 0 and 1.
     */
    @Test
    void mirroredMethodsShareTheRegionEqually() {
        add("A", -5, 0, 1, 1);
        add("B", 5, 0, 1, 1);
        add("Z", 0, 30, 1, 0);
        Coverage.Result r = paper(100);
        assertEquals(r.share().get("A"), r.share().get("B"));
        assertTrue(r.share().get("A") > 0 && r.share().get("A") < 1, r.share().toString());
    }
}
