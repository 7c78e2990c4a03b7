package org.driftml.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.driftml.output.OutputFolder;
import org.driftml.output.OutputLock;

/**
 * The conversation log {@code drift serve --log-dir} keeps, append only: JSON Lines in segments
 * {@code conversations-000001.jsonl}, {@code -000002}, ..., a new one when a segment would pass its size and at every
 * start (a segment a crash left with a torn last line is never written again), and {@code drift-log.json} naming the
 * format. One process writes it (the folder's {@link OutputLock}).
 *
 * <p>An {@link #append} returns once its line is on disk ({@link FileChannel#force}): the server writes a reply's
 * record before the reply's last byte goes out, so a response the client saw complete is in the log whatever happens
 * to the process after. Records waiting together are written and forced together (one fsync for many streams).
 * {@link ServedLogs} reads it back, the torn tail of any segment ignored.
 */
public final class ConversationLog implements AutoCloseable {
    /** The file that marks a folder as a drift serve log. */
    public static final String MANIFEST = "drift-log.json";
    /** The format's name and version in the manifest. */
    public static final String FORMAT = "drift-conversation-log";
    public static final int VERSION = 1;
    static final Pattern SEGMENT = Pattern.compile("conversations-(\\d{6,})\\.jsonl");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path folder;
    private final long maxSegmentBytes;
    private final OutputLock lock;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread writer;
    private FileChannel segment;
    private int segmentNumber;
    private volatile boolean closing;
    private volatile IOException failed;

    private record Pending(byte[] line, CompletableFuture<Void> done) {}

    private ConversationLog(Path folder, long maxSegmentBytes, OutputLock lock, int lastSegment) throws IOException {
        this.folder = folder;
        this.maxSegmentBytes = maxSegmentBytes;
        this.lock = lock;
        this.segmentNumber = lastSegment;
        openNextSegment();
        this.writer = new Thread(this::writeLoop, "drift-conversation-log");
        writer.setDaemon(true);
        writer.start();
    }

    /** Whether {@code folder} is a conversation log (its manifest is there). */
    public static boolean isLog(Path folder) {
        return Files.isRegularFile(folder.resolve(MANIFEST));
    }

    /**
     * Opens {@code folder} for appending (creating it and its manifest), holding it for this process.
     *
     * @param maxSegmentBytes a segment is closed before a record would take it past this size
     * @throws IllegalArgumentException when the folder holds other files than a log's, or another process writes it
     */
    public static ConversationLog open(Path folder, long maxSegmentBytes, String command) throws IOException {
        if (maxSegmentBytes < 1024) {
            throw new IllegalArgumentException("a log segment of " + maxSegmentBytes + " bytes is too small (at least"
                    + " 1024)");
        }
        if (Files.exists(folder) && !Files.isDirectory(folder)) {
            throw new IllegalArgumentException(folder + " is a file, not a folder");
        }
        if (Files.isDirectory(folder) && !isLog(folder)) {
            try (var files = Files.list(folder)) {
                if (files.anyMatch(f -> !f.getFileName().toString().equals(OutputLock.FILE))) {
                    throw new IllegalArgumentException(folder + " holds files and is not a drift serve log (no "
                            + MANIFEST + "): choose an empty or new folder");
                }
            }
        }
        OutputLock lock;
        try {
            lock = OutputLock.acquire(folder, command);
        } catch (OutputLock.HeldException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
        try {
            if (!isLog(folder)) {
                OutputFolder.writeAtomically(folder.resolve(MANIFEST), JSON.writeValueAsString(
                        JSON.createObjectNode().put("format", FORMAT).put("version", VERSION)));
            } else {
                checkManifest(folder);
            }
            return new ConversationLog(folder, maxSegmentBytes, lock, lastSegment(folder));
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** Refuses a manifest of another format or a later version. */
    static void checkManifest(Path folder) throws IOException {
        Path manifest = folder.resolve(MANIFEST);
        var node = JSON.readTree(manifest.toFile());
        if (node == null || !FORMAT.equals(node.path("format").asText()) || node.path("version").asInt() < 1
                || node.path("version").asInt() > VERSION) {
            throw new IllegalArgumentException(manifest + ": not a " + FORMAT + " of version " + VERSION
                    + " (found " + node + ")");
        }
    }

    /** The log's segments, in the order they were written. */
    static List<Path> segments(Path folder) throws IOException {
        List<Path> out = new ArrayList<>();
        try (var files = Files.list(folder)) {
            files.filter(f -> SEGMENT.matcher(f.getFileName().toString()).matches()).forEach(out::add);
        }
        out.sort((a, b) -> Long.compare(number(a), number(b)));
        return out;
    }

    private static long number(Path segment) {
        Matcher m = SEGMENT.matcher(segment.getFileName().toString());
        m.matches();
        return Long.parseLong(m.group(1));
    }

    private static int lastSegment(Path folder) throws IOException {
        List<Path> all = segments(folder);
        return all.isEmpty() ? 0 : (int) number(all.get(all.size() - 1));
    }

    /** The folder written to. */
    public Path folder() {
        return folder;
    }

    /**
     * Appends one record (a line of JSON) and returns once it is on disk.
     *
     * @throws IOException when the log cannot be written (every later append fails too)
     */
    public void append(ObjectNode record) throws IOException {
        byte[] line = (JSON.writeValueAsString(record) + "\n").getBytes(StandardCharsets.UTF_8);
        if (line.length > maxSegmentBytes) {
            throw new IOException("a log record of " + line.length + " bytes is larger than a segment ("
                    + maxSegmentBytes + " bytes)");
        }
        Pending p = new Pending(line, new CompletableFuture<>());
        if (closing) {
            throw new IOException("the conversation log " + folder + " is closed");
        }
        if (failed != null) {
            throw new IOException("the conversation log " + folder + " failed earlier: " + failed.getMessage());
        }
        queue.add(p);
        try {
            p.done().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while the log record was written");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
    }

    /** Takes what is waiting, writes it, forces it once, and tells each writer it is on disk. */
    private void writeLoop() {
        List<Pending> batch = new ArrayList<>();
        while (true) {
            try {
                Pending first = queue.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS);
                if (first == null) {
                    if (closing && queue.isEmpty()) {
                        return;
                    }
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch);
            } catch (InterruptedException e) {
                return;
            }
            try {
                if (failed != null) {
                    throw failed;
                }
                for (Pending p : batch) {
                    if (segment.size() > 0 && segment.size() + p.line().length > maxSegmentBytes) {
                        segment.force(false);
                        segment.close();
                        openNextSegment();
                    }
                    ByteBuffer buf = ByteBuffer.wrap(p.line());
                    while (buf.hasRemaining()) {
                        segment.write(buf);
                    }
                }
                segment.force(false);
                batch.forEach(p -> p.done().complete(null));
            } catch (IOException e) {
                failed = e;
                batch.forEach(p -> p.done().completeExceptionally(e));
            }
            batch.clear();
        }
    }

    private void openNextSegment() throws IOException {
        segmentNumber++;
        Path file = folder.resolve(String.format("conversations-%06d.jsonl", segmentNumber));
        segment = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        // The new file's name is on disk too: a segment forced but lost from its folder would lose its records.
        try (FileChannel dir = FileChannel.open(folder, StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException ignored) {  // some file systems cannot open a folder to force it
        }
    }

    /** Writes what is waiting, then closes the segment and releases the folder. */
    @Override
    public void close() throws IOException {
        closing = true;
        try {
            writer.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        IOException closed = new IOException("the conversation log " + folder + " is closed");
        queue.forEach(p -> p.done().completeExceptionally(closed));  // came in as the writer stopped
        try {
            segment.force(false);
            boolean empty = segment.size() == 0;
            segment.close();
            if (empty) {  // a start that wrote nothing leaves no file behind
                Files.deleteIfExists(folder.resolve(String.format("conversations-%06d.jsonl", segmentNumber)));
            }
        } finally {
            lock.close();
        }
    }
}
