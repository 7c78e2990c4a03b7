package org.driftml.output;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.driftml.parallel.ProcessGroup;

/**
 * A run's output folder, taken by its one writer: apart from what the run reads, locked against a second writer,
 * its identity recorded (or matched, to resume), and what a killed save left half-written cleared. In a
 * multi-process run only rank 0 does this; the other ranks wait until it has and write nothing. Every command and
 * trainer that writes a run folder takes it here, in this order.
 *
 * <pre>try (RunFolder run = RunFolder.at(output).by("drift dpo").apartFrom(model, "model folder").claim()) { ... }</pre>
 */
public final class RunFolder implements AutoCloseable {
    private final Path path;
    private final OutputLock lock;
    /** Whether this claim made the folder, and wrote its run.json (a run that resumes did not). */
    private boolean madeFolder, madeRecord;

    private RunFolder(Path path, OutputLock lock) {
        this.path = path;
        this.lock = lock;
    }

    /** What to check and record when {@code folder} is claimed. */
    public static Claim at(Path folder) {
        return new Claim(folder);
    }

    /** The settings of one claim. */
    public static final class Claim {
        private final Path folder;
        private final List<Path> inputs = new ArrayList<>();
        private final List<String> inputNames = new ArrayList<>();
        private String owner = "drift";
        private Consumer<String> staleLock = m -> {};
        private Map<String, Object> identity;
        private String primaryKey;
        private ProcessGroup group;

        private Claim(Path folder) {
            this.folder = folder;
        }

        /** The writer's name, which a second writer is told. */
        public Claim by(String name) {
            owner = name;
            return this;
        }

        /** The run reads {@code input} ("model folder", say): the folder may be neither it nor inside it. */
        public Claim apartFrom(Path input, String what) {
            inputs.add(input);
            inputNames.add(what);
            return this;
        }

        /** Told when a lock left by a run that ended without releasing it is taken over. */
        public Claim onStaleLock(Consumer<String> note) {
            staleLock = note;
            return this;
        }

        /** The run's identity ({@link RunRecord#claim}): recorded in run.json, or matched against it to resume. */
        public Claim identity(Map<String, Object> id, String primary) {
            identity = id;
            primaryKey = primary;
            return this;
        }

        /** A multi-process run: rank 0 claims, the others wait for it (null: one process). */
        public Claim across(ProcessGroup processes) {
            group = processes;
            return this;
        }

        /**
         * Checks, before any work, that the folder is none of the run's inputs nor inside one ({@link #claim}
         * checks it again when it takes the folder).
         *
         * @throws IllegalArgumentException naming both folders
         */
        public Claim checkApart() {
            for (int i = 0; i < inputs.size(); i++) {
                OutputFolder.requireApart(folder, inputs.get(i), inputNames.get(i));
            }
            return this;
        }

        /**
         * Takes the folder.
         *
         * @throws IllegalArgumentException when the folder is an input or inside one (named)
         * @throws OutputLock.HeldException when another live run holds it
         * @throws OutputConflictException when it holds another run (the settings that differ named)
         */
        public RunFolder claim() throws IOException {
            if (group != null && group.rank() != 0) {
                group.barrier();  // rank 0 has claimed the folder and cleared what a killed run left
                return new RunFolder(folder, null);
            }
            checkApart();
            boolean existed = Files.exists(folder);
            OutputLock lock = OutputLock.acquire(folder, owner, staleLock);
            boolean recorded = RunRecord.exists(folder);
            try {
                if (identity != null) {
                    RunRecord.claim(folder, identity, primaryKey);
                }
                if (!lock.nested()) {  // an outer claim of this thread has cleared them, and it writes now
                    OutputFolder.removeStaleTemporaries(folder);
                }
            } catch (IOException | RuntimeException e) {
                lock.close();
                throw e;
            }
            if (group != null) {
                group.barrier();
            }
            RunFolder run = new RunFolder(folder, lock);
            run.madeFolder = !existed;
            run.madeRecord = !recorded && identity != null;
            return run;
        }
    }

    public Path path() {
        return path;
    }

    /** Whether this process writes the folder (rank 0, or the only process). */
    public boolean writes() {
        return lock != null;
    }

    /** Records (or matches) the run's identity once the run knows it, holding the folder. */
    public void record(Map<String, Object> identity, String primaryKey) throws IOException {
        if (lock != null) {
            madeRecord |= !RunRecord.exists(path);
            RunRecord.claim(path, identity, primaryKey);
        }
    }

    /**
     * Releases the folder. A run that wrote nothing but the run.json it claimed with (refused by a check after the
     * claim: a bad adapter, a grid too large) takes it back, and the folder too when it made it: otherwise the
     * corrected command was refused as "another run" by the record of one that never ran.
     */
    @Override
    public void close() throws IOException {
        if (lock == null) {
            return;
        }
        if (madeRecord && !lock.nested() && onlyTheClaim()) {
            Files.deleteIfExists(path.resolve(RunRecord.FILE));
            if (madeFolder) {
                lock.closeRemovingFolder();
                return;
            }
        }
        lock.close();
    }

    /** Whether the folder holds nothing but the claim's own files (run.json and the lock). */
    private boolean onlyTheClaim() throws IOException {
        try (var files = Files.list(path)) {
            return files.map(f -> f.getFileName().toString()).allMatch(n -> n.equals(RunRecord.FILE)
                    || n.equals(OutputLock.FILE));
        }
    }
}
