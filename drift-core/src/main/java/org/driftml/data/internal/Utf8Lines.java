package org.driftml.data.internal;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Lines of a stream, each decoded strictly as UTF-8 on its own. A reader that decodes as it buffers reports bad
 * bytes at the line it happened to be filling ("Input length = 1", or the wrong line), or, decoding leniently,
 * replaces them silently; here a line with bad bytes is named exactly, with the byte, and the next line still reads.
 */
public final class Utf8Lines implements AutoCloseable {
    /** A line longer than this (64 MiB) is reported and skipped rather than held in memory. */
    public static final int MAX_LINE_BYTES = 64 << 20;

    /** One line's bytes, decoded on request. */
    public static final class Line {
        private final byte[] bytes;
        private final boolean cut;
        private final int number;

        Line(byte[] bytes, boolean cut, int number) {
            this.bytes = bytes;
            this.cut = cut;
            this.number = number;
        }

        /** The line's number in the stream, from 1. */
        public int number() {
            return number;
        }

        /**
         * The line as text.
         *
         * @throws IllegalArgumentException when the line is longer than {@link #MAX_LINE_BYTES} or not UTF-8 (the
         *                                  message says which, and at what byte); the caller adds where
         */
        public String text() {
            if (cut) {
                throw new IllegalArgumentException("longer than " + (MAX_LINE_BYTES >> 20) + " MiB");
            }
            CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
            ByteBuffer in = ByteBuffer.wrap(bytes);
            try {
                return decoder.decode(in).toString();
            } catch (CharacterCodingException e) {
                ByteBuffer again = ByteBuffer.wrap(bytes);
                StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .decode(again, CharBuffer.allocate(bytes.length + 1), true);
                throw new IllegalArgumentException("not valid UTF-8 (byte " + (again.position() + 1) + " of the line)");
            }
        }
    }

    private final InputStream in;
    private byte[] buf = new byte[8192];
    private int lines;

    public Utf8Lines(InputStream in) {
        this.in = new BufferedInputStream(in, 1 << 16);
    }

    /** The next line, without its newline (or a CR before it), or null at the end of the stream. */
    public Line next() throws IOException {
        int n = 0;
        boolean cut = false;
        int b;
        while ((b = in.read()) >= 0 && b != '\n') {
            if (n == MAX_LINE_BYTES) {
                cut = true;  // read on to the line's end, keeping nothing more
                continue;
            }
            if (n == buf.length) {
                buf = Arrays.copyOf(buf, (int) Math.min((long) n * 2, MAX_LINE_BYTES));
            }
            buf[n++] = (byte) b;
        }
        if (b < 0 && n == 0 && !cut) {
            return null;
        }
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
        Line line = new Line(Arrays.copyOf(buf, n), cut, ++lines);
        if (buf.length > 1 << 20) {
            buf = new byte[8192];  // let a long line's buffer go
        }
        return line;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
