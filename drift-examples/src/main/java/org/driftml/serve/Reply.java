package org.driftml.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.driftml.model.ContinuousBatcher;

/**
 * One request's reply, carried from the batcher's thread to the request's own: the batcher only queues token ids
 * (it must never wait on a client or a tokenizer), and the request's thread turns them into text, finds stop
 * strings and writes to its client at its own pace.
 *
 * <p>Text is released as the ids decode together (an id can end mid-character: text ending in U+FFFD waits for the
 * next) and held back while it could still be the start of a stop string, so a client never sees a stop string or
 * any text after one.
 */
final class Reply implements ContinuousBatcher.Listener {
    /** What the batcher said: a token (with when), or the end. */
    private record Event(long id, long nanos, ContinuousBatcher.Finish finish, RuntimeException error) {}

    /** Where a reply stands after {@link #next}: new text (maybe empty), and the finish once it has ended. */
    record Step(String text, String finishReason, RuntimeException error, boolean token, boolean firstToken,
            long tokenNanos) {
        boolean ended() {
            return finishReason != null || error != null;
        }
    }

    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final ServedModel model;
    private final List<String> stops;
    private final int holdBack;
    private final List<Long> ids = new ArrayList<>();
    private ContinuousBatcher.Request request;
    private String text = "";      // the reply's text as decoded so far, window by window
    private int prefix;            // the window's first id
    private int read;              // the ids decoded into text
    private String released = "";  // what the client has been given: always a prefix of text

    Reply(ServedModel model, List<String> stops) {
        this.model = model;
        this.stops = stops;
        this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
    }

    void submitted(ContinuousBatcher.Request r) {
        this.request = r;
    }

    @Override
    public boolean token(long id, float logprob) {
        events.add(new Event(id, System.nanoTime(), null, null));
        return true;
    }

    @Override
    public void end(ContinuousBatcher.Finish finish, RuntimeException error) {
        events.add(new Event(-1, System.nanoTime(), finish, error));
    }

    /** Tokens produced so far (up to a stop string's end, when one ended the reply). */
    int completionTokens() {
        return ids.size();
    }

    /** Stops decoding (the client left, or its time ran out). */
    void cancel() {
        if (request != null) {
            request.cancel();
        }
    }

    /**
     * Waits up to {@code nanos} for the next event.
     *
     * @return the text it releases and, once the reply has ended, why; null when the time ran out
     */
    Step next(long nanos) throws InterruptedException {
        Event e = events.poll(Math.max(0, nanos), TimeUnit.NANOSECONDS);
        if (e == null) {
            return null;
        }
        if (e.finish() != null) {
            String tail = rest();
            return switch (e.finish()) {
                case STOP -> new Step(tail, "stop", null, false, false, e.nanos());
                case LENGTH -> new Step(tail, "length", null, false, false, e.nanos());
                case CANCELLED -> new Step(tail, "cancelled", null, false, false, e.nanos());
                case FAILED -> new Step("", null, e.error() != null ? e.error()
                        : new IllegalStateException("the reply failed"), false, false, e.nanos());
            };
        }
        boolean first = ids.isEmpty();
        ids.add(e.id());
        text += newText();
        for (String stop : stops) {
            int at = text.indexOf(stop, Math.max(0, released.length() - stop.length() + 1));
            if (at >= 0) {  // ends here: nothing from the stop string on
                cancel();
                String out = text.substring(Math.min(released.length(), at), at);
                released = text.substring(0, at);
                drainAfterStop();
                return new Step(out, "stop", null, true, first, e.nanos());
            }
        }
        int upTo = Math.max(released.length(), text.length() - (stops.isEmpty() ? 0 : holdBack));
        String out = text.substring(released.length(), upTo);
        released = text.substring(0, upTo);
        return new Step(out, null, null, true, first, e.nanos());
    }

    /**
     * The text the newest id adds, decoding a window of the last few ids rather than the whole reply (which made a
     * 4,000-token reply cost 8 million id decodes): the ids from {@code prefix} to {@code read} decoded before, the
     * ids from {@code prefix} decoded now, and the difference released once it no longer ends inside a character.
     * Both decodes start at the same id, so a decoder that treats the first token specially (a Metaspace space)
     * treats both alike.
     */
    private String newText() {
        long[] window = window(prefix, ids.size());
        String before = model.decode(window(prefix, read), true);
        String after = model.decode(window, true);
        if (after.length() <= before.length() || after.endsWith("\uFFFD") || !after.startsWith(before)) {
            return "";  // nothing whole yet: the next id completes it
        }
        prefix = read;
        read = ids.size();
        return after.substring(before.length());
    }

    private long[] window(int from, int to) {
        long[] out = new long[to - from];
        for (int i = from; i < to; i++) {
            out[i - from] = ids.get(i);
        }
        return out;
    }

    /**
     * At the end, what was held back (the possible start of a stop string that never completed, an unfinished
     * character): the whole reply decoded once, as drift generate decodes it, past what was released.
     */
    private String rest() {
        String whole = model.decode(window(0, ids.size()), true);
        if (!whole.startsWith(released)) {
            return "";
        }
        String tail = whole.substring(released.length());
        released = whole;
        return tail;
    }

    /** After a stop string the batcher may still send a token or two before it sees the cancel: not counted. */
    private void drainAfterStop() {
        events.clear();
    }
}
