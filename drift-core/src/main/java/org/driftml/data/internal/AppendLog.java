package org.driftml.data.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A JSON Lines file that work is appended to as it finishes, so that a killed run resumes from it: each append is
 * one write of whole lines, forced to the disk; on opening, a torn last line (no newline) that a kill left is cut.
 */
public final class AppendLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final FileChannel channel;

    private AppendLog(FileChannel channel) {
        this.channel = channel;
    }

    /**
     * The records already in {@code file}, in order (none when it does not exist): each line's JSON value, less a
     * line a kill tore (not valid JSON), whose work is done again.
     */
    public static List<JsonNode> read(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        if (!Files.exists(file)) {
            return out;
        }
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            try {
                JsonNode n = JSON.readTree(line);
                if (n != null) {
                    out.add(n);
                }
            } catch (IOException e) {
                // the torn last line of a killed run
            }
        }
        return out;
    }

    /** Opens (creating) {@code file} for appending, first cutting a torn last line. */
    public static AppendLog open(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        long end = ch.size();
        while (end > 0) {
            ByteBuffer one = ByteBuffer.allocate(1);
            ch.read(one, end - 1);
            if (one.get(0) == '\n') {
                break;
            }
            end--;
        }
        ch.truncate(end);
        ch.position(end);
        return new AppendLog(ch);
    }

    /** Appends {@code lines} (each ending in a newline) and forces them out: a kill after this loses none. */
    public void append(String lines) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(lines.getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
