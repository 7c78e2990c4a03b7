package org.driftml.eval;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.NativeRuntime;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Tensorsj;

/**
 * Principal components to two dimensions: the points' coordinates along the two directions of largest variance.
 * Computed from the centred Gram matrix (n x n, n points) rather than the covariance (d x d), since a prompt's
 * replies are hundreds and an embedding has thousands of dimensions; the two are the same projection.
 */
public final class Pca {
    private Pca() {}

    /** n rows of (x, y): sqrt(lambda_k) u_k for the Gram matrix's two largest eigenpairs. */
    public static double[][] project(float[][] points) {
        NativeRuntime.load();  // JavaCPP settings before the first native call
        int n = points.length, dim = points[0].length;
        double[] mean = new double[dim];
        for (float[] p : points) {
            for (int k = 0; k < dim; k++) {
                mean[k] += p[k] / (double) n;
            }
        }
        double[] gram = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double s = 0;
                for (int k = 0; k < dim; k++) {
                    s += (points[i][k] - mean[k]) * (points[j][k] - mean[k]);
                }
                gram[i * n + j] = gram[j * n + i] = s;
            }
        }
        double[] values, vectors;
        try (StepScope scope = StepScope.open(); DoublePointer data = new DoublePointer(gram)) {
            Tensor g = torch.from_blob(data, new long[] {n, n}, new TensorOptions(torch.ScalarType.Double)).clone();
            var eig = torch.linalg_eigh(g);  // ascending
            values = Tensorsj.doubles(eig.get0());
            vectors = Tensorsj.doubles(eig.get1());
        }
        double[][] y = new double[n][2];
        for (int d = 0; d < 2 && d < n; d++) {
            int col = n - 1 - d;
            double scale = Math.sqrt(Math.max(0, values[col]));
            for (int i = 0; i < n; i++) {
                y[i][d] = vectors[i * n + col] * scale;
            }
        }
        return y;
    }
}
