package org.driftml.kernels;

import org.bytedeco.javacpp.Pointer;

/** Run in a fresh JVM by NativeRuntimeDefaultsTest: prints JavaCPP's physical-memory limit after NativeRuntime.load(). */
public final class MaxPhysicalBytesProbe {
    public static void main(String[] args) {
        NativeRuntime.load();
        System.out.println(Pointer.maxPhysicalBytes());
    }
}
