package org.driftml.eval;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.driftml.kernels.NativeRuntime;

/**
 * UMAP to two dimensions, as umap-learn 0.5 computes it with its defaults (McInnes, Healy and Melville 2018): the
 * fuzzy simplicial set of the points ({@link FuzzyGraph}), edges weaker than max / epochs dropped, a spectral
 * initialisation from the graph's normalised Laplacian scaled to [0, 10], and stochastic gradient descent on the fuzzy
 * cross-entropy with edges sampled in proportion to their weight and {@code negativeSampleRate} negative samples per
 * positive one, the learning rate falling linearly to 0. The low-dimensional similarity is 1 / (1 + a d^(2b)) with
 * a and b fitted to {@code minDist} and {@code spread}. Single-threaded and seeded, so the same input gives the same
 * projection (umap-learn is deterministic only with a seed and one thread, too).
 */
public final class Umap {
    /**
     * @param neighbours         k, the neighbourhood size (umap-learn: 15), itself included
     * @param minDist            how tightly points may pack (0.1)
     * @param spread             the scale of the embedded points (1.0)
     * @param epochs             SGD epochs, 0 for umap-learn's choice (500 up to 10,000 points, else 200)
     * @param negativeSampleRate negative samples per positive one (5)
     * @param cosine             cosine distance instead of euclidean (sentence embeddings are compared by angle)
     * @param seed               everything random follows it
     */
    public record Settings(int neighbours, double minDist, double spread, int epochs, int negativeSampleRate,
            boolean cosine, long seed) {
        public Settings {
            if (neighbours < 2) {
                throw new IllegalArgumentException("neighbours must be >= 2, got " + neighbours);
            }
            if (!(spread > 0) || !(minDist >= 0) || minDist > spread) {
                throw new IllegalArgumentException("need 0 <= minDist <= spread and spread > 0, got minDist "
                        + minDist + ", spread " + spread);
            }
            if (epochs < 0 || negativeSampleRate < 0) {
                throw new IllegalArgumentException("epochs and negativeSampleRate must be >= 0");
            }
        }

        /** umap-learn's defaults with euclidean distance. */
        public static Settings defaults(long seed) {
            return new Settings(15, 0.1, 1.0, 0, 5, false, seed);
        }

        public Settings withCosine(boolean c) {
            return new Settings(neighbours, minDist, spread, epochs, negativeSampleRate, c, seed);
        }
    }

    static final int DIM = 2;
    private static final double CLIP = 4.0;

    private Umap() {}

    /**
     * Projects the points to 2-D.
     *
     * @param points at least 3 points of one dimension (fewer neighbours than asked are used when there are few points)
     * @return n rows of (x, y)
     */
    public static double[][] project(float[][] points, Settings s) {
        NativeRuntime.load();  // JavaCPP settings before the first native call
        int n = points.length;
        if (n < 3) {
            throw new IllegalArgumentException("UMAP needs at least 3 points, got " + n);
        }
        FuzzyGraph graph = FuzzyGraph.of(points, Math.min(s.neighbours(), n),
                s.cosine() ? FuzzyGraph.Metric.COSINE : FuzzyGraph.Metric.EUCLIDEAN);
        int epochs = s.epochs() > 0 ? s.epochs() : n <= 10_000 ? 500 : 200;
        graph = pruned(graph, epochs);
        SplittableRandom random = new SplittableRandom(s.seed());
        double[][] y = initialise(graph, points, random);
        double[] ab = curve(s.minDist(), s.spread());
        optimise(y, graph, epochs, s.negativeSampleRate(), ab[0], ab[1], random);
        return y;
    }

    /** umap-learn drops edges below max weight / epochs: they would be sampled less than once. */
    static FuzzyGraph pruned(FuzzyGraph g, int epochs) {
        double max = Arrays.stream(g.weight()).max().orElse(0);
        int kept = 0;
        for (double w : g.weight()) {
            kept += w >= max / epochs ? 1 : 0;
        }
        int[] head = new int[kept], tail = new int[kept];
        double[] weight = new double[kept];
        for (int e = 0, k = 0; e < g.weight().length; e++) {
            if (g.weight()[e] >= max / epochs) {
                head[k] = g.head()[e];
                tail[k] = g.tail()[e];
                weight[k++] = g.weight()[e];
            }
        }
        return new FuzzyGraph(g.n(), head, tail, weight);
    }

    /**
     * a and b of 1 / (1 + a x^(2b)) fitted by least squares to 1 for x &lt; minDist and exp(-(x - minDist) / spread)
     * beyond, on 300 points of [0, 3 spread] (umap-learn's {@code find_ab_params}), by Levenberg-Marquardt from (1, 1).
     */
    public static double[] curve(double minDist, double spread) {
        int m = 300;
        double[] x = new double[m], t = new double[m];
        for (int i = 0; i < m; i++) {
            x[i] = 3 * spread * i / (m - 1);
            t[i] = x[i] < minDist ? 1 : Math.exp(-(x[i] - minDist) / spread);
        }
        double a = 1, b = 1, lambda = 1e-3, cost = curveCost(x, t, a, b);
        for (int iter = 0; iter < 500; iter++) {
            double[] g = new double[2];
            double[][] h = new double[2][2];
            for (int i = 1; i < m; i++) {  // x = 0 has zero gradient
                double p = Math.pow(x[i], 2 * b), f = 1 / (1 + a * p), r = f - t[i];
                double da = -p * f * f, db = -a * p * 2 * Math.log(x[i]) * f * f;
                g[0] += r * da;
                g[1] += r * db;
                h[0][0] += da * da;
                h[0][1] += da * db;
                h[1][1] += db * db;
            }
            double h00 = h[0][0] * (1 + lambda), h11 = h[1][1] * (1 + lambda), det = h00 * h11 - h[0][1] * h[0][1];
            double stepA = -(h11 * g[0] - h[0][1] * g[1]) / det, stepB = -(h00 * g[1] - h[0][1] * g[0]) / det;
            double next = curveCost(x, t, a + stepA, b + stepB);
            if (next < cost) {
                a += stepA;
                b += stepB;
                boolean done = cost - next < 1e-15 * Math.max(1, cost);
                cost = next;
                lambda /= 10;
                if (done) {
                    break;
                }
            } else {
                lambda *= 10;
            }
        }
        return new double[] {a, b};
    }

    static double curveCost(double[] x, double[] t, double a, double b) {
        double c = 0;
        for (int i = 0; i < x.length; i++) {
            double r = 1 / (1 + a * Math.pow(x[i], 2 * b)) - t[i];
            c += r * r;
        }
        return c;
    }

    /** The spectral layout ({@link SpectralLayout}), scaled so the largest coordinate is 10, a little noise (sd 1e-4)
     *  added, then each axis scaled to [0, 10] as umap-learn does before the descent. */
    private static double[][] initialise(FuzzyGraph g, float[][] points, SplittableRandom random) {
        double[][] y = SpectralLayout.of(g, points, random);
        double max = SpectralLayout.maxAbs(y);
        for (double[] p : y) {
            for (int d = 0; d < DIM; d++) {
                p[d] = p[d] * (max > 0 ? 10 / max : 1) + gaussian(random) * 1e-4;
            }
        }
        for (int d = 0; d < DIM; d++) {
            double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
            for (double[] p : y) {
                lo = Math.min(lo, p[d]);
                hi = Math.max(hi, p[d]);
            }
            for (double[] p : y) {
                p[d] = hi > lo ? 10 * (p[d] - lo) / (hi - lo) : 0;
            }
        }
        return y;
    }

    /** umap-learn's {@code optimize_layout_euclidean} with one embedding moving at both ends of each edge. */
    private static void optimise(double[][] y, FuzzyGraph g, int epochs, int negativeRate, double a, double b,
            SplittableRandom random) {
        int edges = g.head().length, n = g.n();
        double max = Arrays.stream(g.weight()).max().orElse(1);
        double[] perSample = new double[edges], perNegative = new double[edges];
        double[] nextSample = new double[edges], nextNegative = new double[edges];
        for (int e = 0; e < edges; e++) {
            double samples = epochs * g.weight()[e] / max;
            perSample[e] = samples > 0 ? epochs / samples : -1;
            perNegative[e] = perSample[e] / negativeRate;
            nextSample[e] = perSample[e];
            nextNegative[e] = perNegative[e];
        }
        for (int epoch = 0; epoch < epochs; epoch++) {
            double alpha = 1.0 - (double) epoch / epochs;
            for (int e = 0; e < edges; e++) {
                if (perSample[e] <= 0 || nextSample[e] > epoch) {
                    continue;
                }
                double[] current = y[g.head()[e]], other = y[g.tail()[e]];
                double d2 = squared(current, other);
                // Attraction along the edge: the gradient of -log(1 / (1 + a d^(2b))).
                double coeff = d2 > 0 ? -2 * a * b * Math.pow(d2, b - 1) / (a * Math.pow(d2, b) + 1) : 0;
                for (int d = 0; d < DIM; d++) {
                    double grad = clip(coeff * (current[d] - other[d]));
                    current[d] += grad * alpha;
                    other[d] -= grad * alpha;
                }
                nextSample[e] += perSample[e];
                int negatives = (int) ((epoch - nextNegative[e]) / perNegative[e]);
                for (int p = 0; p < negatives; p++) {
                    int k = random.nextInt(n);
                    double[] far = y[k];
                    double f2 = squared(current, far);
                    double repel;
                    if (f2 > 0) {
                        // Repulsion from a random point: the gradient of -log(1 - 1 / (1 + a d^(2b))), gamma 1.
                        repel = 2 * b / ((0.001 + f2) * (a * Math.pow(f2, b) + 1));
                    } else if (g.head()[e] == k) {
                        continue;
                    } else {
                        repel = 0;
                    }
                    for (int d = 0; d < DIM; d++) {
                        current[d] += (repel > 0 ? clip(repel * (current[d] - far[d])) : 0) * alpha;
                    }
                }
                nextNegative[e] += negatives * perNegative[e];
            }
        }
    }

    private static double squared(double[] p, double[] q) {
        double dx = p[0] - q[0], dy = p[1] - q[1];
        return dx * dx + dy * dy;
    }

    private static double clip(double v) {
        return Math.max(-CLIP, Math.min(CLIP, v));
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
