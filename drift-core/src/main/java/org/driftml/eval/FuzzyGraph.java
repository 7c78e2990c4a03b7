package org.driftml.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * UMAP's fuzzy simplicial set (McInnes, Healy and Melville 2018, Sec. 3.1; umap-learn's {@code fuzzy_simplicial_set}):
 * each point's exact k nearest neighbours (itself first), a local scale per point (rho = distance to the nearest
 * other point, sigma found by bisection so that the memberships sum to log2 k), memberships
 * exp(-(d - rho) / sigma), and the fuzzy union W = P + P^T - P o P^T that makes the graph symmetric.
 *
 * @param n      the number of points
 * @param head   one end of each directed edge (both directions of every undirected edge are listed, as umap-learn's
 *               COO matrix holds them, ordered by head then tail)
 * @param tail   the other end
 * @param weight the membership strength of each edge, in (0, 1]
 */
record FuzzyGraph(int n, int[] head, int[] tail, double[] weight) {
    /** umap-learn's defaults: local connectivity 1, bisection of 64 steps to within 1e-5, sigma at least 1e-3 of
     *  the mean distance. */
    private static final int BISECTION_STEPS = 64;
    private static final double TOLERANCE = 1e-5, MIN_SCALE = 1e-3;

    /** Distances between points, by the metric UMAP is asked to use. */
    enum Metric {
        EUCLIDEAN, COSINE;

        double distance(float[] a, float[] b) {
            if (this == EUCLIDEAN) {
                double s = 0;
                for (int i = 0; i < a.length; i++) {
                    double d = a[i] - b[i];
                    s += d * d;
                }
                return Math.sqrt(s);
            }
            double dot = 0, na = 0, nb = 0;
            for (int i = 0; i < a.length; i++) {
                dot += (double) a[i] * b[i];
                na += (double) a[i] * a[i];
                nb += (double) b[i] * b[i];
            }
            if (na == 0 && nb == 0) {
                return 0;
            }
            if (na == 0 || nb == 0) {
                return 1;
            }
            return Math.max(0, 1 - dot / Math.sqrt(na * nb));
        }
    }

    /** The graph of {@code points} with {@code k} neighbours per point (itself included, as umap-learn counts). */
    static FuzzyGraph of(float[][] points, int k, Metric metric) {
        int n = points.length;
        if (k < 2 || k > n) {
            throw new IllegalArgumentException("neighbours must be in [2, " + n + "] for " + n + " points, got " + k);
        }
        int[][] index = new int[n][k];
        double[][] dist = new double[n][k];
        nearestNeighbours(points, metric, index, dist);
        Map<Long, Double> p = new HashMap<>();
        double meanAll = meanOf(dist);
        for (int i = 0; i < n; i++) {
            double[] rhoSigma = localScale(dist[i], k, meanAll);
            for (int j = 0; j < k; j++) {
                if (index[i][j] == i) {
                    continue;  // a point is not its own neighbour in the graph
                }
                double d = dist[i][j] - rhoSigma[0];
                double w = d <= 0 || rhoSigma[1] == 0 ? 1 : Math.exp(-d / rhoSigma[1]);
                p.put((long) i * n + index[i][j], w);
            }
        }
        // Fuzzy union (set_op_mix_ratio 1): an edge is there when either end sees the other.
        Map<Long, Double> union = new HashMap<>();
        for (Map.Entry<Long, Double> e : p.entrySet()) {
            int i = (int) (e.getKey() / n), j = (int) (e.getKey() % n);
            double a = e.getValue(), b = p.getOrDefault((long) j * n + i, 0.0);
            double w = a + b - a * b;
            union.put((long) i * n + j, w);
            union.put((long) j * n + i, w);
        }
        List<Long> keys = new ArrayList<>(union.keySet());
        keys.sort(null);
        int[] head = new int[keys.size()], tail = new int[keys.size()];
        double[] weight = new double[keys.size()];
        for (int e = 0; e < keys.size(); e++) {
            head[e] = (int) (keys.get(e) / n);
            tail[e] = (int) (keys.get(e) % n);
            weight[e] = union.get(keys.get(e));
        }
        return new FuzzyGraph(n, head, tail, weight);
    }

    /** Exact neighbours by all pairwise distances (the replies of one prompt are hundreds, not millions). */
    private static void nearestNeighbours(float[][] points, Metric metric, int[][] index, double[][] dist) {
        int n = points.length, k = index[0].length;
        double[][] all = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                all[i][j] = all[j][i] = metric.distance(points[i], points[j]);
            }
        }
        for (int i = 0; i < n; i++) {
            final double[] row = all[i];
            final int self = i;
            // Ties go to the lower index; the point itself comes first even when a duplicate is at distance 0.
            Integer[] order = new Integer[n];
            for (int j = 0; j < n; j++) {
                order[j] = j;
            }
            Arrays.sort(order, (a, b) -> a == self ? -1 : b == self ? 1
                    : row[a] != row[b] ? Double.compare(row[a], row[b]) : Integer.compare(a, b));
            for (int j = 0; j < k; j++) {
                index[i][j] = order[j];
                dist[i][j] = row[order[j]];
            }
        }
    }

    private static double meanOf(double[][] d) {
        double s = 0;
        long c = 0;
        for (double[] row : d) {
            for (double v : row) {
                s += v;
                c++;
            }
        }
        return s / c;
    }

    /**
     * umap-learn's {@code smooth_knn_dist} for one point: rho (distance to its nearest non-identical neighbour) and
     * sigma with sum over its other k - 1 neighbours of exp(-max(0, d - rho) / sigma) = log2 k.
     */
    static double[] localScale(double[] distances, int k, double meanAllDistances) {
        double rho = 0;
        for (double d : distances) {
            if (d > 0) {
                rho = d;  // distances are sorted: the first positive one
                break;
            }
        }
        double target = Math.log(k) / Math.log(2), lo = 0, hi = Double.POSITIVE_INFINITY, mid = 1;
        for (int step = 0; step < BISECTION_STEPS; step++) {
            double sum = 0;
            for (int j = 1; j < distances.length; j++) {
                double d = distances[j] - rho;
                sum += d > 0 ? Math.exp(-d / mid) : 1;
            }
            if (Math.abs(sum - target) < TOLERANCE) {
                break;
            }
            if (sum > target) {
                hi = mid;
                mid = (lo + hi) / 2;
            } else {
                lo = mid;
                mid = hi == Double.POSITIVE_INFINITY ? mid * 2 : (lo + hi) / 2;
            }
        }
        double mean = 0;
        for (double d : distances) {
            mean += d / distances.length;
        }
        double floor = MIN_SCALE * (rho > 0 ? mean : meanAllDistances);
        return new double[] {rho, Math.max(mid, floor)};
    }
}
