package org.driftml.kernels;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Small helpers that keep the specifications readable: random tensors, literal tensors and differences. */
final class Tensors {
    private Tensors() {}

    static Tensor randn(ScalarType dtype, long... shape) {
        return torch.randn(shape).to(dtype);
    }

    static Tensor of(double... values) {
        try (DoublePointer p = new DoublePointer(values)) {
            return torch.from_blob(p, new long[] {values.length}, new org.bytedeco.pytorch.TensorOptions(
                    ScalarType.Double)).clone();
        }
    }

    static Tensor leaf(Tensor t) {
        return t.detach().clone().requires_grad_(true);
    }

    static double maxAbsDiff(Tensor a, Tensor b) {
        return a.to(ScalarType.Double).sub(b.to(ScalarType.Double)).abs().max().item_double();
    }

    static double maxAbs(Tensor a) {
        return a.to(ScalarType.Double).abs().max().item_double();
    }

    /** max |a - b| / max(|b|, floor): a relative error that does not explode on values near zero. */
    static double relDiff(Tensor a, Tensor b, double floor) {
        return maxAbsDiff(a, b) / Math.max(maxAbs(b), floor);
    }

    /** The dtype's name: JavaCPP returns a new ScalarType object per call, so compare names, not references. */
    static String dtype(Tensor t) {
        return t.scalar_type().toString();
    }

    static double[] values(Tensor t) {
        Tensor d = t.to(ScalarType.Double).contiguous();
        double[] out = new double[(int) d.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = d.reshape(-1).get(i).item_double();
        }
        return out;
    }
}
