package org.driftml.eval;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Tensorsj;

/**
 * UMAP's starting layout (umap-learn's {@code spectral_layout}): the eigenvectors of the 2nd and 3rd smallest
 * eigenvalues of the graph's normalised Laplacian, by LibTorch's {@code linalg_eigh}; a graph in several connected
 * pieces is laid out piece by piece and the pieces placed apart.
 */
final class SpectralLayout {
    private static final int DIM = Umap.DIM;

    private SpectralLayout() {}

    /** The layout of the whole graph, unscaled. */
    static double[][] of(FuzzyGraph g, float[][] points, SplittableRandom random) {
        int[] component = components(g);
        int count = Arrays.stream(component).max().orElse(0) + 1;
        return count == 1 ? spectral(g, allOf(g.n())) : multiComponent(g, points, component, count, random);
    }

    /** The largest absolute coordinate. */
    static double maxAbs(double[][] y) {
        double max = 0;
        for (double[] p : y) {
            max = Math.max(max, Math.max(Math.abs(p[0]), Math.abs(p[1])));
        }
        return max;
    }

    private static int[] allOf(int n) {
        int[] all = new int[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        return all;
    }

    /** The eigenvectors of the 2nd and 3rd smallest eigenvalues of I - D^-1/2 W D^-1/2 over {@code members}. */
    static double[][] spectral(FuzzyGraph g, int[] members) {
        int m = members.length;
        int[] local = new int[g.n()];
        Arrays.fill(local, -1);
        for (int i = 0; i < m; i++) {
            local[members[i]] = i;
        }
        double[] w = new double[m * m], degree = new double[m];
        for (int e = 0; e < g.head().length; e++) {
            int i = local[g.head()[e]], j = local[g.tail()[e]];
            if (i >= 0 && j >= 0) {
                w[i * m + j] = g.weight()[e];
                degree[i] += g.weight()[e];
            }
        }
        double[] laplacian = new double[m * m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                double norm = degree[i] > 0 && degree[j] > 0 ? w[i * m + j] / Math.sqrt(degree[i] * degree[j]) : 0;
                laplacian[i * m + j] = (i == j ? 1 : 0) - norm;
            }
        }
        double[] vectors;
        try (StepScope scope = StepScope.open(); DoublePointer data = new DoublePointer(laplacian)) {
            Tensor l = torch.from_blob(data, new long[] {m, m}, new TensorOptions(torch.ScalarType.Double)).clone();
            T_TensorTensor_T eig = torch.linalg_eigh(l);  // ascending eigenvalues, eigenvectors as columns
            vectors = Tensorsj.doubles(eig.get1());
        }
        double[][] y = new double[m][DIM];
        for (int i = 0; i < m; i++) {
            for (int d = 0; d < DIM; d++) {
                y[i][d] = vectors[i * m + 1 + d];
            }
        }
        return y;
    }

    /**
     * umap-learn's layout of a graph in several pieces: each component laid out on its own (spectrally, or at random
     * when it has fewer than 2 x 2 points) and scaled to half the gap between component positions, the positions
     * being +-unit axes for up to four components and the components' centroids along their two principal axes
     * beyond (umap-learn embeds the centroids spectrally there).
     */
    private static double[][] multiComponent(FuzzyGraph g, float[][] points, int[] component, int count,
            SplittableRandom random) {
        double[][] meta = count <= 2 * DIM ? axes(count) : principalAxes(points, component, count);
        double gap = Double.POSITIVE_INFINITY;
        for (int a = 0; a < count; a++) {
            for (int b = a + 1; b < count; b++) {
                double d = Math.hypot(meta[a][0] - meta[b][0], meta[a][1] - meta[b][1]);
                gap = d > 0 ? Math.min(gap, d) : gap;
            }
        }
        double range = Double.isFinite(gap) ? gap / 2 : 1;
        double[][] y = new double[g.n()][DIM];
        for (int c = 0; c < count; c++) {
            int[] members = membersOf(component, c);
            double[][] part;
            if (members.length < 2 * DIM || members.length <= DIM + 1) {
                part = new double[members.length][DIM];
                for (double[] p : part) {
                    p[0] = random.nextDouble(-range, range);
                    p[1] = random.nextDouble(-range, range);
                }
            } else {
                part = spectral(g, members);
            }
            double max = maxAbs(part);
            for (int i = 0; i < members.length; i++) {
                for (int d = 0; d < DIM; d++) {
                    y[members[i]][d] = part[i][d] * (max > 0 ? range / max : 1) + meta[c][d];
                }
            }
        }
        return y;
    }

    private static double[][] axes(int count) {
        double[][] base = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
        double[][] out = new double[count][];
        for (int c = 0; c < count; c++) {
            // umap-learn stacks [I; -I]: for two components (1, 0) and (-1, 0).
            int k = (count + 1) / 2;
            out[c] = c < k ? base[c] : base[(c - k) + 2];
        }
        return out;
    }

    private static double[][] principalAxes(float[][] points, int[] component, int count) {
        int dim = points[0].length;
        double[][] centroid = new double[count][dim];
        int[] size = new int[count];
        for (int i = 0; i < points.length; i++) {
            size[component[i]]++;
            for (int k = 0; k < dim; k++) {
                centroid[component[i]][k] += points[i][k];
            }
        }
        float[][] c = new float[count][dim];
        for (int a = 0; a < count; a++) {
            for (int k = 0; k < dim; k++) {
                c[a][k] = (float) (centroid[a][k] / size[a]);
            }
        }
        double[][] y = Pca.project(c);
        double max = maxAbs(y);
        for (double[] p : y) {
            p[0] /= max > 0 ? max : 1;
            p[1] /= max > 0 ? max : 1;
        }
        return y;
    }

    private static int[] membersOf(int[] component, int c) {
        return java.util.stream.IntStream.range(0, component.length).filter(i -> component[i] == c).toArray();
    }

    /** Connected components by breadth-first search, numbered in order of their lowest point. */
    static int[] components(FuzzyGraph g) {
        int n = g.n();
        int[] start = new int[n + 1];
        for (int h : g.head()) {
            start[h + 1]++;
        }
        for (int i = 0; i < n; i++) {
            start[i + 1] += start[i];
        }
        int[] label = new int[n];
        Arrays.fill(label, -1);
        int next = 0;
        for (int s = 0; s < n; s++) {
            if (label[s] >= 0) {
                continue;
            }
            ArrayDeque<Integer> queue = new ArrayDeque<>();
            queue.add(s);
            label[s] = next;
            while (!queue.isEmpty()) {
                int i = queue.poll();
                for (int e = start[i]; e < start[i + 1]; e++) {  // edges are sorted by head
                    int j = g.tail()[e];
                    if (label[j] < 0) {
                        label[j] = next;
                        queue.add(j);
                    }
                }
            }
            next++;
        }
        return label;
    }
}
