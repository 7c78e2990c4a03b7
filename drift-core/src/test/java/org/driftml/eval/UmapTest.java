package org.driftml.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** UMAP's pieces checked against values worked out by hand, and the projection's neighbour preservation. */
class UmapTest {
    @Test
    void curveParametersForTheDefaultsAreUmapLearns() {
        // umap-learn's find_ab_params(spread=1.0, min_dist=0.1) gives a = 1.5769, b = 0.8951 (its documented pair).
        double[] ab = Umap.curve(0.1, 1.0);
        assertEquals(1.5769, ab[0], 2e-3);
        assertEquals(0.8951, ab[1], 2e-3);
        // and it is a least-squares minimum: moving either parameter raises the squared error
        double[] x = new double[300], t = new double[300];
        for (int i = 0; i < 300; i++) {
            x[i] = 3.0 * i / 299;
            t[i] = x[i] < 0.1 ? 1 : Math.exp(-(x[i] - 0.1));
        }
        double best = Umap.curveCost(x, t, ab[0], ab[1]);
        for (double[] d : new double[][] {{1e-3, 0}, {-1e-3, 0}, {0, 1e-3}, {0, -1e-3}}) {
            assertTrue(Umap.curveCost(x, t, ab[0] + d[0], ab[1] + d[1]) > best);
        }
    }

    @Test
    void localScaleMakesMembershipsSumToLog2K() {
        double[] distances = {0, 0.5, 0.9, 1.4, 2.0, 2.2, 3.1};
        double[] rs = FuzzyGraph.localScale(distances, 7, 1.0);
        assertEquals(0.5, rs[0]);
        double sum = 0;
        for (int j = 1; j < distances.length; j++) {
            sum += Math.exp(-Math.max(0, distances[j] - rs[0]) / rs[1]);
        }
        assertEquals(Math.log(7) / Math.log(2), sum, 1e-5);
    }

    @Test
    void fuzzyUnionOfThreePointsOnALine() {
        // Points at 0, 1 and 3 with k = 3. Point 0: rho = 1, memberships 1 (to 1) and q (to 3) with 1 + q = log2 3.
        // Point 1: rho = 1, memberships 1 (to 0) and q (to 3). Point 3: rho = 2, memberships 1 (to 1) and q (to 0),
        // since its second distance minus rho is 1 where the others' is 2 but sigma halves to match.
        // Union: w(0,1) = 1, w(1,3) = q + 1 - q = 1, w(0,3) = 2q - q^2.
        double q = Math.log(3) / Math.log(2) - 1;
        FuzzyGraph g = FuzzyGraph.of(new float[][] {{0}, {1}, {3}}, 3, FuzzyGraph.Metric.EUCLIDEAN);
        assertArrayEquals(new int[] {0, 0, 1, 1, 2, 2}, g.head());
        assertArrayEquals(new int[] {1, 2, 0, 2, 0, 1}, g.tail());
        double[] want = {1, 2 * q - q * q, 1, 1, 2 * q - q * q, 1};
        assertArrayEquals(want, g.weight(), 1e-4);
    }

    @Test
    void graphOfTwoDistantGroupsHasTwoComponents() {
        float[][] p = new float[10][];
        for (int i = 0; i < 10; i++) {
            p[i] = new float[] {i < 5 ? i * 0.1f : 100 + i * 0.1f, 0};
        }
        int[] c = SpectralLayout.components(FuzzyGraph.of(p, 4, FuzzyGraph.Metric.EUCLIDEAN));
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, c);
    }

    /** 8 clusters of 40 points in 30 dimensions, each a Gaussian around a random centre. */
    static float[][] clusters(int[] label, long seed) {
        Random r = new Random(seed);
        int k = 8, per = label.length / k, dim = 30;
        double[][] centre = new double[k][dim];
        for (double[] c : centre) {
            for (int d = 0; d < dim; d++) {
                c[d] = r.nextGaussian() * 1.5;
            }
        }
        float[][] p = new float[label.length][dim];
        for (int i = 0; i < label.length; i++) {
            label[i] = i / per;
            for (int d = 0; d < dim; d++) {
                p[i][d] = (float) (centre[label[i]][d] + r.nextGaussian());
            }
        }
        return p;
    }

    private static int[][] neighbours(double[][] x, int k) {
        int n = x.length;
        int[][] out = new int[n][];
        for (int i = 0; i < n; i++) {
            final int self = i;
            out[i] = java.util.stream.IntStream.range(0, n).filter(j -> j != self).boxed()
                    .sorted((a, b) -> Double.compare(dist(x[self], x[a]), dist(x[self], x[b])))
                    .limit(k).mapToInt(Integer::intValue).toArray();
        }
        return out;
    }

    private static double dist(double[] a, double[] b) {
        double s = 0;
        for (int d = 0; d < a.length; d++) {
            s += (a[d] - b[d]) * (a[d] - b[d]);
        }
        return s;
    }

    private static double[][] asDoubles(float[][] p) {
        return Arrays.stream(p).map(r -> {
            double[] d = new double[r.length];
            for (int i = 0; i < r.length; i++) {
                d[i] = r[i];
            }
            return d;
        }).toArray(double[][]::new);
    }

    /** The mean share of each point's 10 nearest neighbours in the data kept among its 10 nearest in the map. */
    private static double preserved(int[][] high, double[][] low) {
        int[][] lowNn = neighbours(low, 10);
        double sum = 0;
        for (int i = 0; i < high.length; i++) {
            int[] near = lowNn[i];
            long kept = Arrays.stream(high[i]).filter(j -> Arrays.stream(near).anyMatch(l -> l == j)).count();
            sum += kept / 10.0;
        }
        return sum / high.length;
    }

    /** The mean share of each point's 10 nearest neighbours in the map that are of its own cluster. */
    private static double purity(double[][] low, int[] label) {
        int[][] nn = neighbours(low, 10);
        double sum = 0;
        for (int i = 0; i < low.length; i++) {
            final int me = label[i];
            sum += Arrays.stream(nn[i]).filter(j -> label[j] == me).count() / 10.0;
        }
        return sum / low.length;
    }

    @Test
    void umapKeepsNeighboursBetterThanPcaOnClusteredData() {
        int[] label = new int[320];
        float[][] p = clusters(label, 11);
        int[][] high = neighbours(asDoubles(p), 10);
        double[][] umap = Umap.project(p, Umap.Settings.defaults(5));
        double[][] pca = Pca.project(p);
        double umapKept = preserved(high, umap), pcaKept = preserved(high, pca);
        double umapPure = purity(umap, label), pcaPure = purity(pca, label);
        System.out.printf("10-NN kept: UMAP %.3f, PCA %.3f; same-cluster neighbours: UMAP %.3f, PCA %.3f%n",
                umapKept, pcaKept, umapPure, pcaPure);
        assertTrue(umapKept > pcaKept + 0.05, "UMAP " + umapKept + " vs PCA " + pcaKept);
        assertTrue(umapPure > 0.95, "UMAP's map mixes clusters: " + umapPure);
        assertTrue(umapPure > pcaPure, "UMAP " + umapPure + " vs PCA " + pcaPure);
    }

    @Test
    void theSameSeedGivesTheSameMapAndAnotherSeedAnother() {
        int[] label = new int[80];
        float[][] p = clusters(label, 3);
        double[][] a = Umap.project(p, Umap.Settings.defaults(1)), b = Umap.project(p, Umap.Settings.defaults(1));
        double[][] c = Umap.project(p, Umap.Settings.defaults(2));
        for (int i = 0; i < p.length; i++) {
            assertArrayEquals(a[i], b[i], 0.0);
        }
        assertFalse(Arrays.deepEquals(a, c));
    }

    @Test
    void pcaRecoversALineAlongItsFirstAxis() {
        // Points on the line t * (3, 4, 0): the first component is |t| * 5 up to sign, the second 0.
        float[][] p = new float[5][];
        for (int i = 0; i < 5; i++) {
            p[i] = new float[] {3 * (i - 2), 4 * (i - 2), 0};
        }
        double[][] y = Pca.project(p);
        for (int i = 0; i < 5; i++) {
            assertEquals(5.0 * Math.abs(i - 2), Math.abs(y[i][0]), 1e-6);
            assertEquals(0.0, y[i][1], 1e-6);
        }
    }
}
