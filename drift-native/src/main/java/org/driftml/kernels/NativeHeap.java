package org.driftml.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

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

    /**
     * Returns the pages of freed native memory to the system (glibc's malloc_trim), as after a stage frees its
     * models: malloc otherwise keeps them for reuse and the resident set stays at the stage's level. Returns the
     * resident bytes released (0 where the resident set cannot be read).
     */
    public static long trim() {
        NativeRuntime.load();
        long before = residentBytes();
        DriftNative.heap_trim();
        return Math.max(0, before - residentBytes());
    }

    /**
     * This process's resident set in bytes (Linux's /proc/self/statm, 4 KiB pages), or -1 where that file is absent.
     * It includes the Java heap and pages malloc keeps after a free, so it is for reports, not for leak checks.
     */
    public static long residentBytes() {
        try {
            String[] fields = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
            return Long.parseLong(fields[1]) * 4096L;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
