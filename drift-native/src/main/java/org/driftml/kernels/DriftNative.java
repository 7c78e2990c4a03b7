package org.driftml.kernels;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.ByRef;
import org.bytedeco.javacpp.annotation.ByVal;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * The JavaCPP binding of drift-native's C++ ops (drift-native/src/main/cpp/drift). Use {@link PreferenceLoss} and
 * {@link SequenceLogps}; this class is their wire.
 *
 * <p>{@code cppbuild.sh} compiles {@code libdrift_native.so} against LibTorch's headers and links it to the bytedeco
 * {@code libtorch_cpu}/{@code libc10}, so one LibTorch lives in the process; JavaCPP's Builder then generates and
 * compiles this class's JNI library. A {@code c10::Error} raised inside an op arrives as a
 * {@link RuntimeException} with the op's message.
 */
@Properties(value = @Platform(compiler = "cpp20", define = "_GLIBCXX_USE_CXX11_ABI 1", include = "drift/binding.h",
        link = "drift_native"))
@Namespace("drift")
final class DriftNative {
    static {
        NativeRuntime.load();
        Loader.load();
    }

    private DriftNative() {}

    static native @ByVal TensorVector preference_loss(@Const @ByRef Tensor policyChosen,
            @Const @ByRef Tensor policyRejected, @Const @ByRef Tensor referenceChosen,
            @Const @ByRef Tensor referenceRejected, double beta, @Cast("drift::PreferenceLossType") long type,
            double labelSmoothing);

    static native @ByVal TensorVector sequence_logps(@Const @ByRef Tensor hidden, @Const @ByRef Tensor weight,
            @Const @ByRef Tensor targets, @Const @ByRef Tensor mask, long rowBlock, long vocabBlock);

    static native @ByVal TensorVector sequence_logps(@Const @ByRef Tensor hidden, @Const @ByRef Tensor weight,
            @Const @ByRef Tensor targets, @Const @ByRef Tensor mask, @Const @ByRef Tensor scored, long rowBlock,
            long vocabBlock);

    static native @ByVal TensorVector sequence_logps_and_lse(@Const @ByRef Tensor hidden, @Const @ByRef Tensor weight,
            @Const @ByRef Tensor targets, @Const @ByRef Tensor mask, @Const @ByRef Tensor scored, long rowBlock,
            long vocabBlock);

    static native @ByVal Tensor sequence_logps_weight_grad(@Const @ByRef Tensor hidden, @Const @ByRef Tensor weight,
            @Const @ByRef Tensor targets, @Const @ByRef Tensor mask, @Const @ByRef Tensor scored,
            @Const @ByRef Tensor lse, @Const @ByRef Tensor gradLogps, long rowBlock, long vocabBlock, long vBegin,
            long rows);

    static native void rmsprop_step(@Const @ByRef Tensor weight, @Const @ByRef Tensor grad, @Const @ByRef Tensor master,
            @Const @ByRef Tensor squareAvg, double lr, double scale, double alpha, double eps, double weightDecay);

    static native @ByVal Generator seeded_generator(@Const @ByRef Device device, long seed);

    static native void multinomial_draw(@Const @ByRef Tensor probs, @Const @ByRef Generator generator,
            @Const @ByRef Tensor next);

    static native @ByVal TensorVector split_master(@Const @ByRef Tensor master);

    static native @ByVal Tensor join_master(@Const @ByRef Tensor weight, @Const @ByRef Tensor residual);

    static native @Cast("const char*") BytePointer vector_isa_name();

    static native @Cast("bool") boolean set_vector_isa(String name);

    static native @Cast("bool") boolean set_bf16_gemm_path(String name);

    static native @Cast("const char*") BytePointer bf16_gemm_path_name();

    static native @Cast("const char*") BytePointer bf16_gemm_best_path_name();

    static native @Cast("bool") boolean install_reduced_gemm();

    static native long reduced_gemm_calls();

    static native long widened_bf16_gemm_calls();

    static native long reduced_gemm_blas_threads();

    static native @Cast("bool") boolean install_test_device();

    static native long test_device_host_reads();

    static native void reset_test_device_host_reads();

    static native long test_device_pinned_allocations();

    static native long heap_bytes_in_use();

    static native void heap_trim();

    static native int set_c10_log_level(int level);
}
