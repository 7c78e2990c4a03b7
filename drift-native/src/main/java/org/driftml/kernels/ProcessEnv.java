package org.driftml.kernels;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;

/**
 * libc's {@code setenv}, for the few variables that native libraries read once when they load.
 *
 * <p>Java cannot change its own process environment, but libgomp reads {@code OMP_WAIT_POLICY} when it is loaded and
 * c10 reads {@code THP_MEM_ALLOC_ENABLE} at its first allocation, so {@link NativeRuntime} sets them here before
 * LibTorch is loaded. This binding depends on nothing but libc.
 */
@Properties(value = @Platform(include = "<stdlib.h>"))
final class ProcessEnv {
    static {
        Loader.load();
    }

    private ProcessEnv() {}

    /** POSIX setenv: 0 on success. With overwrite 0 an existing value is kept. */
    static native int setenv(String name, String value, int overwrite);

    /** POSIX getenv: the value native libraries see, or null. */
    static native @Cast("const char*") BytePointer getenv(String name);
}
