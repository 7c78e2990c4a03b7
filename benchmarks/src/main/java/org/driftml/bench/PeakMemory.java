package org.driftml.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * Peak extra resident memory of one benchmark invocation, reported by JMH as a secondary result
 * ({@code peakExtraMiB}).
 *
 * <p>Before the call the kernel's peak-RSS mark (VmHWM) is reset to the current RSS by writing 5 to
 * /proc/self/clear_refs; after it, VmHWM minus that RSS is the most memory the call had resident at once, native
 * allocations included, which JMH's own profilers (heap only) cannot see.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.EVENTS)
public class PeakMemory {
    /** Mean over iterations of the peak extra RSS of each invocation, in MiB. */
    public double peakExtraMiB;

    private long startKb;
    private int invocations;
    private double sumMiB;

    public void start() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reset the peak-RSS mark (Linux /proc/self/clear_refs)", e);
        }
        startKb = status("VmRSS:");
    }

    public void stop() {
        sumMiB += (status("VmHWM:") - startKb) / 1024.0;
        invocations++;
        peakExtraMiB = sumMiB / invocations;
    }

    static long status(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("no " + field + " in /proc/self/status");
    }
}
