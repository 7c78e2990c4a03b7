package org.driftml.kernels;

/**
 * Native memory in use, for leak checks: the C heap's live bytes (glibc's mallinfo2), where LibTorch keeps every CPU
 * tensor's storage. Unlike the resident set, it drops as soon as a tensor is freed and counts nothing of the Java heap.
 */
public final class NativeHeap {
    private NativeHeap() {}

    /** Bytes malloc has handed out and not yet had back, in this process. */
    public static long bytesInUse() {
        NativeRuntime.load();
        return DriftNative.heap_bytes_in_use();
    }
}
