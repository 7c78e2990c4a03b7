package org.driftml.output;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One writer per output folder: an exclusive lock on {@code .drift.lock} inside it, held for the run and released
 * (the file emptied) on {@link #close}. Without it two runs on one {@code --output} both finished with exit 0, one
 * run's model silently replaced by the other's and their {@code metrics.jsonl} interleaved.
 *
 * <p>The lock is the operating system's ({@link FileChannel#tryLock}), so a run that dies releases it with its
 * process; the record it leaves in the file names that run, and the next run reports it as stale and takes over.
 * The file names its holder (command, pid, start), so a refused run can say who holds the folder. Within one process
 * the lock is re-entrant for the thread that holds it (a command holds its output while the library it calls claims
 * the same folder) and refused to any other thread.
 */
public final class OutputLock implements AutoCloseable {
    /** The lock file's name inside the output folder. */
    public static final String FILE = ".drift.lock";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<Path, OutputLock> HELD = new HashMap<>();

    private final Path folder;
    private final FileChannel channel;
    private final FileLock lock;
    private final Thread owner = Thread.currentThread();
    private int holds = 1;

    private OutputLock(Path folder, FileChannel channel, FileLock lock) {
        this.folder = folder;
        this.channel = channel;
        this.lock = lock;
    }

    /** Another run holds the folder. */
    public static final class HeldException extends OutputConflictException {
        HeldException(String message) {
            super(message);
        }
    }

    /**
     * Takes the folder (creating it) for {@code command}, or fails at once when another process holds it.
     *
     * @param stale told of a lock left by a run that ended without releasing it (the lock is taken over)
     * @throws HeldException naming the holder when another live process holds the folder
     */
    public static OutputLock acquire(Path folder, String command, Consumer<String> stale) throws IOException {
        Path key = folder.toAbsolutePath().normalize();
        synchronized (HELD) {
            OutputLock mine = HELD.get(key);
            if (mine != null) {
                if (mine.owner != Thread.currentThread()) {
                    throw new HeldException(key + " is in use by another run in this process (thread "
                            + mine.owner.getName() + "); choose another output folder");
                }
                mine.holds++;
                return mine;
            }
            Files.createDirectories(key);
            Path file = key.resolve(FILE);
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
                if (lock == null) {
                    throw new HeldException(key + " is in use by another run (" + describe(read(channel))
                            + "); wait for it to finish or choose another output folder");
                }
                String previous = read(channel);
                if (!previous.isBlank()) {
                    stale.accept(key + ": taking over the lock of a run that ended without releasing it ("
                            + describe(previous) + ")");
                }
                byte[] me = JSON.writeValueAsBytes(Map.of("command", command, "pid", ProcessHandle.current().pid(),
                        "started", Instant.now().toString()));
                channel.truncate(0);
                channel.write(ByteBuffer.wrap(me), 0);
                channel.force(true);
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
            OutputLock held = new OutputLock(key, channel, lock);
            HELD.put(key, held);
            return held;
        }
    }

    /** {@link #acquire(Path, String, Consumer)} reporting a stale lock on standard error. */
    public static OutputLock acquire(Path folder, String command) throws IOException {
        return acquire(folder, command, message -> System.err.println("drift: " + message));
    }

    /** Whether this thread held the folder already when it last acquired it (a claim inside a claim). */
    public boolean nested() {
        synchronized (HELD) {
            return holds > 1;
        }
    }

    /** The folder this lock holds. */
    public Path folder() {
        return folder;
    }

    /** Releases one hold; the last empties the lock file and releases the lock, in that order. */
    @Override
    public void close() throws IOException {
        synchronized (HELD) {
            if (--holds > 0) {
                return;
            }
            HELD.remove(folder);
            // Emptied, not removed: a run that opened the file before a removal would lock an inode no later run
            // opens, and two runs would both hold "the" lock. (Nor may anything in this process open the file
            // again while it is locked: closing any descriptor of a file drops the process's fcntl locks on it.)
            channel.truncate(0);
            channel.force(true);
            lock.release();
            channel.close();
        }
    }

    /**
     * Releases the last hold and removes the lock file and the folder, which must hold nothing else: an undone claim
     * leaves nothing behind. The file is unlinked while still locked, so a run that opened it meanwhile finds it held
     * and stops, and a later run makes a new one.
     */
    public void closeRemovingFolder() throws IOException {
        synchronized (HELD) {
            if (--holds > 0) {
                return;
            }
            HELD.remove(folder);
            try {
                Files.deleteIfExists(folder.resolve(FILE));
                Files.deleteIfExists(folder);
            } catch (java.nio.file.DirectoryNotEmptyException somethingCameIn) {  // kept, as any folder with work
            } finally {
                lock.release();
                channel.close();
            }
        }
    }

    private static String read(FileChannel channel) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(channel.size(), 4096));
        channel.read(buf, 0);
        return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
    }

    private static String describe(String content) {
        try {
            JsonNode n = JSON.readTree(content);
            if (n != null && n.has("pid")) {
                return n.path("command").asText("drift") + ", pid " + n.path("pid").asLong() + ", started "
                        + n.path("started").asText("?");
            }
        } catch (IOException e) {
            // fall through: an unreadable holder record
        }
        return "holder unknown";
    }
}
