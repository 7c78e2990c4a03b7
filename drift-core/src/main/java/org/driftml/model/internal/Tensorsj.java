package org.driftml.model.internal;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;

/**
 * Copies between Java arrays and tensors on any device. Each read back ({@link #longs}, {@link #floats},
 * {@link #doubles}) is one device-to-host copy: on a GPU it waits for the device, so a loop reads once per step.
 */
public final class Tensorsj {
    private Tensorsj() {}

    /** A CPU tensor of {@code values}. */
    public static Tensor fromLongs(long[] values) {
        try (LongPointer p = new LongPointer(values)) {
            return torch.from_blob(p, new long[] {values.length}, new TensorOptions(ScalarType.Long)).clone();
        }
    }

    /** A tensor of {@code values} on {@code device} (one host-to-device copy, which does not wait). */
    public static Tensor fromLongs(long[] values, Device device) {
        Tensor host = fromLongs(values);
        return device.is_cpu() ? host : host.to(device, ScalarType.Long);
    }

    /** Options for a new tensor of {@code dtype} on {@code device}. */
    public static TensorOptions options(ScalarType dtype, Device device) {
        return new TensorOptions(dtype).device(new DeviceOptional(device));
    }

    public static long[] longs(Tensor t) {
        try (StepScope scope = StepScope.open()) {  // the converted copy and its handles
            Tensor c = t.to(ScalarType.Long).contiguous().cpu();
            long[] out = new long[(int) c.numel()];
            new LongPointer(c.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }

    public static float[] floats(Tensor t) {
        try (StepScope scope = StepScope.open()) {
            Tensor c = t.to(ScalarType.Float).contiguous().cpu();
            float[] out = new float[(int) c.numel()];
            new FloatPointer(c.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }

    /** fp64 holds every fp32 value and every integer below 2^53 exactly: several results in one read. */
    public static double[] doubles(Tensor t) {
        try (StepScope scope = StepScope.open()) {
            Tensor c = t.to(ScalarType.Double).contiguous().cpu();
            double[] out = new double[(int) c.numel()];
            new DoublePointer(c.data_ptr()).capacity(out.length).get(out);
            return out;
        }
    }
}
