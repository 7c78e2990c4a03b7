package org.driftml.bench;

import org.driftml.kernels.NativeHeap;

/**
 * Where a run's native memory goes: the C heap in use (every live CPU tensor, {@link NativeHeap#bytesInUse}) and the
 * resident set at named points, with the highest heap in use seen since the previous point, sampled every
 * millisecond by a daemon thread. The resident set above the heap in use is the JVM, the libraries' pages and the
 * pages malloc keeps after frees.
 */
final class HeapTrace {
    private volatile long peak;
    private long previous;

    static HeapTrace start() {
        HeapTrace trace = new HeapTrace();
        Thread sampler = new Thread(() -> {
            while (true) {
                long now = NativeHeap.bytesInUse();
                if (now > trace.peak) {
                    trace.peak = now;
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "heap-trace");
        sampler.setDaemon(true);
        sampler.start();
        return trace;
    }

    /** Prints {@code MEMORY point heap_mb=... peak_heap_mb=... rss_mb=... peak_rss_mb=...} and resets the peak. */
    void mark(String point) {
        long now = NativeHeap.bytesInUse();
        long since = Math.max(peak, now);
        System.out.printf("MEMORY %-34s heap_mb=%6d peak_heap_mb=%6d (+%d) rss_mb=%6d peak_rss_mb=%6d%n", point,
                now >> 20, since >> 20, (since - previous) >> 20, PeakMemory.status("VmRSS:") >> 10,
                PeakMemory.status("VmHWM:") >> 10);
        previous = now;
        peak = now;
    }
}
