package org.driftml.output;

import java.io.PrintStream;

/**
 * What a long call tells as it goes, one interface for every one of them (the DRIFT loop, pair sampling, DPO and SFT
 * training, the judge, reply generation, exploration): lines for a person, counted work, and hooks after each durable
 * unit of work, which progress bars, tests' simulated crashes and leak checks use. Every method does nothing unless
 * overridden; {@link #printing} and {@link #terminal} show the lines.
 */
public interface Progress {
    /** Tells nothing. */
    Progress SILENT = new Progress() {};

    /** A line for a person: what started, what was found, where it went. */
    default void line(String text) {}

    /** {@code done} of {@code total} units with a summary of the last: a line unless shown as a bar. */
    default void counted(int done, int total, String summary) {
        line(summary);
    }

    /** A chunk of a stage's sampling is durable (a resumed run starts after it). */
    default void chunkDone(String stage, int chunk, int chunks) {}

    /** A stage's optimiser step is done and recorded. */
    default void stepDone(String stage, int step) {}

    /** Before a stage that is not yet done loads its models (leak checks read native memory here). */
    default void stageStarting(String stage) {}

    /** Each line and count printed to {@code out} as a line (logs, CI). */
    static Progress printing(PrintStream out) {
        return new Progress() {
            @Override
            public void line(String text) {
                out.println(text);
                out.flush();
            }
        };
    }

    /** As {@link #printing}, with counted work as one bar rewritten in place (a terminal). */
    static Progress terminal(PrintStream out) {
        Progress lines = printing(out);
        return new Progress() {
            @Override
            public void line(String text) {
                lines.line(text);
            }

            @Override
            public void counted(int done, int total, String summary) {
                int width = 30, filled = (int) Math.round(width * (double) done / total);
                out.print("\r[" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + summary);
                if (done == total) {
                    out.println();
                }
                out.flush();
            }
        };
    }
}
