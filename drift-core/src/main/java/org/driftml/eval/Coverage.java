package org.driftml.eval;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The paper's exploration coverage (Sec. 4.3, Figures 2 and 3) for one prompt, from its replies projected to 2-D:
 * <ul>
 *   <li>on a regular grid over the points (padded by 3 bandwidths), the reward-weighted Gaussian kernel density of all
 *       methods' replies, K_all(g) = sum_i w_i exp(-|g - x_i|^2 / 2h^2), with weights w_i the rewards scaled to [0, 1]
 *       over the prompt's replies (min-max; all 1 when every reward is equal);</li>
 *   <li>Z_all = K_all / max_g K_all, in [0, 1], and for each method m its own replies' K_m with the same bandwidth on
 *       the same scale, D_m = K_m / max_g K_all (so D_m &lt;= Z_all and a method whose replies all have the lowest reward
 *       covers nothing);</li>
 *   <li>the high-reward region H = {g : Z_all(g) &gt;= quantile(Z_all, q)}, q = 0.8 (the top 20% of the grid);</li>
 *   <li>S_m = {g in H : D_m(g) &gt;= z_high}, and Share(m) = |S_m| / |H|.</li>
 * </ul>
 * The bandwidth h is Scott's rule for two dimensions, sigma n^(-1/6), with sigma the root mean of the two
 * coordinates' variances over all replies, unless one is given. That is {@link Definition#FIXED_Z}, drift's first
 * reading; {@link Definition#PAPER} is Sec. 4.3 as its text defines S_m.
 */
public final class Coverage {
    /** How S_m is bounded. */
    public enum Definition {
        /**
         * Sec. 4.3 as written: one z_high, the q-quantile of Z_all, bounds both H and S_m = {g in H : D_m(g) &gt;=
         * z_high}, and each D_m is the method's reward-weighted density scaled to [0, 1] by its own maximum (the
         * direct reading of "D_m(g) in [0, 1]"; the paper does not say which maximum).
         */
        PAPER,
        /** drift's first reading: D_m on Z_all's scale (K_m / max K_all), S_m where it reaches the fixed zHigh. */
        FIXED_Z
    }

    /**
     * @param grid      cells per side of the grid (100: 10,000 cells)
     * @param quantile  q: H is where Z_all reaches its q-quantile over the grid (0.8)
     * @param zHigh     how dense, on Z_all's scale, a method's reward-weighted replies must be for a cell of H to be
     *                  its (0.1)
     * @param bandwidth the kernel's standard deviation in the projection's units, or 0 for Scott's rule
     * @param definition how S_m is bounded ({@link Definition#PAPER}: zHigh is unused)
     */
    public record Settings(int grid, double quantile, double zHigh, double bandwidth, Definition definition) {
        public Settings {
            if (definition == null) {
                throw new IllegalArgumentException("definition must be paper or fixed-z");
            }
            if (grid < 2) {
                throw new IllegalArgumentException("grid must be >= 2 cells per side, got " + grid);
            }
            if (!(quantile >= 0 && quantile < 1)) {
                throw new IllegalArgumentException("quantile must be in [0, 1), got " + quantile);
            }
            if (!(zHigh > 0 && zHigh <= 1)) {
                throw new IllegalArgumentException("z_high must be in (0, 1], got " + zHigh);
            }
            if (!(bandwidth >= 0) || Double.isInfinite(bandwidth)) {
                throw new IllegalArgumentException("bandwidth must be >= 0 (0: Scott's rule), got " + bandwidth);
            }
        }

        /** drift's first reading, {@link Definition#FIXED_Z}. */
        public Settings(int grid, double quantile, double zHigh, double bandwidth) {
            this(grid, quantile, zHigh, bandwidth, Definition.FIXED_Z);
        }

        /** Sec. 4.3: grid 100, q 0.8, Scott's bandwidth, {@link Definition#PAPER} (zHigh 0.1 only for FIXED_Z). */
        public static Settings defaults() {
            return new Settings(100, 0.8, 0.1, 0, Definition.PAPER);
        }

        /** These settings with {@code d}. */
        public Settings with(Definition d) {
            return new Settings(grid, quantile, zHigh, bandwidth, d);
        }
    }

    /**
     * One prompt's surfaces and shares.
     *
     * @param xs        the grid's cell centres along x
     * @param ys        along y
     * @param zAll      Z_all[iy][ix]
     * @param density   D_m[iy][ix] per method
     * @param high      H as a mask
     * @param share     Share(m) per method
     * @param bandwidth h used
     * @param threshold the q-quantile of Z_all that bounds H
     * @param covering  what D_m must reach in a cell of H for S_m: the threshold (PAPER) or zHigh (FIXED_Z)
     */
    public record Result(double[] xs, double[] ys, double[][] zAll, Map<String, double[][]> density,
            boolean[][] high, Map<String, Double> share, double bandwidth, double threshold, double covering) {
        /** Whether cell (iy, ix) is in S_m. */
        public boolean covers(String method, int iy, int ix) {
            return high[iy][ix] && density.get(method)[iy][ix] >= covering;
        }
    }

    private Coverage() {}

    /**
     * @param points  the prompt's replies in 2-D, all methods together
     * @param methods each reply's method, in the order the shares should list them
     * @param rewards each reply's reward (any scale)
     */
    public static Result of(double[][] points, List<String> methods, double[] rewards, Settings s) {
        int n = points.length;
        if (methods.size() != n || rewards.length != n) {
            throw new IllegalArgumentException("points, methods and rewards differ in length: " + n + ", "
                    + methods.size() + ", " + rewards.length);
        }
        double h = s.bandwidth() > 0 ? s.bandwidth() : scott(points);
        double[] w = weights(rewards);
        double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY;
        double minY = Double.POSITIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
        for (double[] p : points) {
            minX = Math.min(minX, p[0]);
            maxX = Math.max(maxX, p[0]);
            minY = Math.min(minY, p[1]);
            maxY = Math.max(maxY, p[1]);
        }
        double[] xs = centres(minX - 3 * h, maxX + 3 * h, s.grid()), ys = centres(minY - 3 * h, maxY + 3 * h, s.grid());
        Map<String, double[][]> raw = new LinkedHashMap<>();
        for (String m : methods) {
            raw.putIfAbsent(m, new double[s.grid()][s.grid()]);
        }
        double[][] all = new double[s.grid()][s.grid()];
        for (int i = 0; i < n; i++) {
            if (w[i] == 0) {
                continue;
            }
            double[][] mine = raw.get(methods.get(i));
            // The 2-D Gaussian is a product of two 1-D ones: a grid's worth of kernel values from 2G exponentials.
            double[] kx = new double[xs.length];
            for (int ix = 0; ix < xs.length; ix++) {
                double dx = xs[ix] - points[i][0];
                kx[ix] = Math.exp(-dx * dx / (2 * h * h));
            }
            for (int iy = 0; iy < ys.length; iy++) {
                double dy = ys[iy] - points[i][1], ky = Math.exp(-dy * dy / (2 * h * h));
                for (int ix = 0; ix < xs.length; ix++) {
                    double k = w[i] * ky * kx[ix];
                    all[iy][ix] += k;
                    mine[iy][ix] += k;
                }
            }
        }
        double peak = Arrays.stream(all).flatMapToDouble(Arrays::stream).max().orElse(0);
        scale(all, peak);
        if (s.definition() == Definition.PAPER) {  // each D_m to [0, 1] by its own maximum
            raw.values().forEach(d -> scale(d, Arrays.stream(d).flatMapToDouble(Arrays::stream).max().orElse(0)));
        } else {
            raw.values().forEach(d -> scale(d, peak));
        }
        double threshold = quantile(all, s.quantile());
        double covering = s.definition() == Definition.PAPER ? threshold : s.zHigh();
        boolean[][] high = new boolean[s.grid()][s.grid()];
        int inHigh = 0;
        for (int iy = 0; iy < ys.length; iy++) {
            for (int ix = 0; ix < xs.length; ix++) {
                high[iy][ix] = all[iy][ix] >= threshold;
                inHigh += high[iy][ix] ? 1 : 0;
            }
        }
        Map<String, Double> share = new LinkedHashMap<>();
        for (Map.Entry<String, double[][]> e : raw.entrySet()) {
            int covered = 0;
            for (int iy = 0; iy < ys.length; iy++) {
                for (int ix = 0; ix < xs.length; ix++) {
                    covered += high[iy][ix] && e.getValue()[iy][ix] >= covering ? 1 : 0;
                }
            }
            share.put(e.getKey(), covered / (double) inHigh);
        }
        return new Result(xs, ys, all, raw, high, share, h, threshold, covering);
    }

    /** Scott's rule in two dimensions: sigma n^(-1/6), sigma^2 the mean of the coordinates' variances. */
    public static double scott(double[][] points) {
        int n = points.length;
        double var = 0;
        for (int d = 0; d < 2; d++) {
            double mean = 0, sq = 0;
            for (double[] p : points) {
                mean += p[d] / n;
            }
            for (double[] p : points) {
                sq += (p[d] - mean) * (p[d] - mean);
            }
            var += sq / (n - 1) / 2;
        }
        if (!(var > 0)) {
            throw new IllegalArgumentException("the " + n + " replies project to one point: a kernel density needs "
                    + "them spread (give a bandwidth, or more samples)");
        }
        return Math.sqrt(var) * Math.pow(n, -1.0 / 6);
    }

    /** Rewards scaled to [0, 1] over the prompt's replies; all 1 when they are all equal. */
    static double[] weights(double[] rewards) {
        double lo = Arrays.stream(rewards).min().orElse(0), hi = Arrays.stream(rewards).max().orElse(0);
        double[] w = new double[rewards.length];
        for (int i = 0; i < w.length; i++) {
            if (!Double.isFinite(rewards[i])) {
                throw new IllegalArgumentException("reward " + i + " is not a finite number: " + rewards[i]);
            }
            w[i] = hi > lo ? (rewards[i] - lo) / (hi - lo) : 1;
        }
        return w;
    }

    private static double[] centres(double lo, double hi, int cells) {
        double[] c = new double[cells];
        double step = (hi - lo) / cells;
        for (int i = 0; i < cells; i++) {
            c[i] = lo + (i + 0.5) * step;
        }
        return c;
    }

    private static void scale(double[][] grid, double peak) {
        for (double[] row : grid) {
            for (int i = 0; i < row.length; i++) {
                row[i] = peak > 0 ? row[i] / peak : 0;
            }
        }
    }

    /** The q-quantile of the grid's values, linearly interpolated between order statistics (numpy's default). */
    static double quantile(double[][] grid, double q) {
        return quantileOfSorted(Arrays.stream(grid).flatMapToDouble(Arrays::stream).sorted().toArray(), q);
    }

    /** As {@link #quantile(double[][], double)} of values already sorted ascending. */
    static double quantileOfSorted(double[] v, double q) {
        double pos = q * (v.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(v.length - 1, lo + 1);
        return v[lo] + (pos - lo) * (v[hi] - v[lo]);
    }

    /** Share(m) averaged over prompts, per method. */
    public static Map<String, Double> mean(List<Result> prompts) {
        Map<String, Double> sum = new LinkedHashMap<>();
        for (Result r : prompts) {
            r.share().forEach((m, v) -> sum.merge(m, v / prompts.size(), Double::sum));
        }
        return sum;
    }
}
