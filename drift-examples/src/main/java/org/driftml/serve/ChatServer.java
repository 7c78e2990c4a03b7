package org.driftml.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.driftml.labelling.DissatisfactionDetector;
import org.driftml.model.ContinuousBatcher;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * OpenAI's chat API over a {@link ServedModel}, on Javalin (Jetty 12): {@code POST /v1/chat/completions} (whole or
 * streamed as server-sent events), {@code GET /v1/models}, {@code GET /health} and {@code GET /metrics}. It listens
 * before the model loads and answers 503 until it has.
 *
 * <p>Each request waits on its own thread for its tokens; the batcher's one thread decodes for all of them.
 */
public final class ChatServer implements AutoCloseable {
    /**
     * How the server listens and what it takes.
     *
     * @param apiKey         null: no key asked for (loopback only; the command refuses otherwise)
     * @param maxBodyBytes   a larger body is refused (413)
     * @param maxMessages    more messages are refused (400)
     * @param requestTimeout a request still running after this is cancelled
     */
    public record Options(String host, int port, String apiKey, long maxBodyBytes, int maxMessages,
            Duration requestTimeout) {}

    /** How every model this server answers with is loaded: the first and each one reloaded after it. */
    public record Loading(Precision precision, ComputeDevice device, int maxBatch, int capacity, int maxQueue) {}

    static final ObjectMapper JSON = new ObjectMapper();
    /** The chat page at {@code /}: one static file, streaming replies and posting thumbs and comments as feedback. */
    private static final byte[] CHAT_PAGE = page();

    private static byte[] page() {
        try (var in = ChatServer.class.getResourceAsStream("chat.html")) {
            return in.readAllBytes();
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("drift serve's chat page (chat.html) is missing from the jar", e);
        }
    }

    private final Options options;
    private final byte[] keyDigest;
    private final Javalin app;
    private final ServeMetrics metrics;
    private volatile ServedModel model;
    private volatile boolean stopping;
    private volatile ConversationRecorder recorder;
    private volatile Loading loading;
    private final ReentrantLock reloading = new ReentrantLock();
    private final Reloads reloads = new Reloads(this);

    private ChatServer(Options options, int threads) {
        this.options = options;
        this.keyDigest = options.apiKey() == null ? null : sha256(options.apiKey());
        this.metrics = new ServeMetrics(() -> model == null ? null : model.batcher());
        this.app = Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.http.maxRequestSize = options.maxBodyBytes();
            QueuedThreadPool pool = new QueuedThreadPool(threads, 8);
            pool.setName("drift-http");
            config.jetty.threadPool = pool;
            // Jetty's idle timeout (30 s by default) would cut a request that waits in the queue or decodes a long
            // reply without writing: the request's own timeout governs instead.
            config.jetty.addConnector((server, http) -> {
                ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
                connector.setHost(options.host());
                connector.setPort(options.port());
                connector.setIdleTimeout(options.requestTimeout().toMillis() + 60_000);
                return connector;
            });
            config.routes.before("/v1/*", this::authorize);
            config.routes.post("/v1/chat/completions", this::chat);
            config.routes.post("/v1/feedback", this::feedback);
            config.routes.post("/admin/reload", ctx -> reloads.answer(ctx));
            config.routes.get("/v1/models", this::models);
            config.routes.get("/", ctx -> ctx.contentType("text/html; charset=utf-8").result(CHAT_PAGE));
            config.routes.get("/health", ctx -> {
                if (model == null || stopping) {
                    throw ApiError.unavailable(stopping ? "the server is stopping" : "the model is loading");
                }
                ctx.contentType("application/json").result("{\"status\":\"ok\"}");
            });
            config.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8")
                    .result(metrics.scrape()));
            config.routes.exception(ApiError.class, (e, ctx) -> answer(ctx, e));
            config.routes.exception(Exception.class, (e, ctx) -> answer(ctx, ApiError.internal(
                    e.getClass().getSimpleName() + ": " + e.getMessage())));
            config.routes.after(ctx -> metrics.request(ctx.statusCode()));
        });
    }

    /**
     * Starts listening (the model is not loaded yet: requests get 503 until {@link #load}).
     *
     * @param threads the HTTP worker threads: each open request holds one while it waits for its tokens
     */
    public static ChatServer listen(Options options, int threads) {
        ChatServer server = new ChatServer(options, threads);
        server.app.start();
        return server;
    }

    /**
     * Keeps a conversation log in {@code folder} (drift serve --log-dir): call before {@link #load}. A folder that
     * is not a log, or that another process writes, is refused; a damaged record in it is named.
     */
    public void keepLog(Path folder, long segmentBytes) throws IOException {
        recorder = ConversationRecorder.open(folder, segmentBytes,
                DissatisfactionDetector.defaults());
    }

    /** The log's folder, or null when the server keeps none. */
    public Path logFolder() {
        ConversationRecorder r = recorder;
        return r == null ? null : r.folder();
    }

    /**
     * Lets {@code POST /admin/reload} load model folders under {@code root}, with {@code adminKey}; {@code say} hears
     * each reload.
     */
    public void allowReloads(String adminKey, Path root, Consumer<String> say) {
        reloads.admit(adminKey, root, say);
    }

    /** Moves to each stage the DRIFT run in {@code run} finishes, checking every {@code every}; tells {@code say}. */
    public void watch(Path run, Duration every, Consumer<String> say) {
        reloads.watch(run, every, model.folder(), say);
    }

    /** Loads the model and starts answering with it. */
    public void load(String name, Path folder, Path adapter, String stage, Loading how) throws IOException {
        loading = how;
        model = ServedModel.load(name, folder, adapter, stage, how.precision(), how.device(), how.maxBatch(),
                how.capacity(), how.maxQueue());
    }

    /** What a reload did: the model answering before and the one answering now. */
    public record Moved(String fromFolder, String fromStage, String toFolder, String toStage, double loadSeconds) {}

    /**
     * Loads {@code folder} (with {@code adapter}) under the same name and settings and moves new requests to it;
     * requests already answering finish on the old model, which is freed when the last of them ends. One reload at a
     * time.
     *
     * @throws IllegalStateException when another reload is under way
     */
    public Moved reload(Path folder, Path adapter, String stage) throws IOException {
        if (!reloading.tryLock()) {
            throw new IllegalStateException("another reload is under way");
        }
        try {
            ServedModel old = model;
            long start = System.nanoTime();
            ServedModel next = ServedModel.load(old.name(), folder, adapter, stage, loading.precision(),
                    loading.device(), loading.maxBatch(), loading.capacity(), loading.maxQueue());
            model = next;
            old.release();  // the server's hold: freed now, or when its last request ends
            return new Moved(old.folder().toString(), old.stage(), next.folder().toString(), next.stage(),
                    (System.nanoTime() - start) / 1e9);
        } finally {
            reloading.unlock();
        }
    }

    /** The folder and stage answering new requests now. */
    public String serving() {
        ServedModel m = model;
        return m == null ? null : m.folder() + (m.stage() != null ? " (" + m.stage() + ")" : "");
    }

    /** The model answering now, held for one request (a model being replaced is skipped for the new one). */
    private ServedModel hold() {
        while (true) {
            ServedModel m = model;
            if (m == null || stopping) {
                throw ApiError.unavailable(stopping ? "the server is stopping" : "the model is loading");
            }
            if (m.hold()) {
                return m;
            }
            Thread.onSpinWait();
        }
    }

    /** The port it listens on (the one asked for, or the one the system chose for port 0). */
    public int port() {
        return app.port();
    }

    private void authorize(Context ctx) {
        if (keyDigest != null && !bearerMatches(ctx, keyDigest)) {
            throw ApiError.unauthorized();
        }
        if (model == null || stopping) {
            throw ApiError.unavailable(stopping ? "the server is stopping" : "the model is loading; retry shortly");
        }
    }

    private void models(Context ctx) {
        ServedModel m = model;
        ObjectNode entry = JSON.createObjectNode();
        entry.put("id", m.name());
        entry.put("object", "model");
        entry.put("created", System.currentTimeMillis() / 1000);
        entry.put("owned_by", "drift");
        entry.put("max_model_len", m.capacity());
        ObjectNode body = JSON.createObjectNode();
        body.put("object", "list");
        body.putArray("data").add(entry);
        ctx.contentType("application/json").result(body.toString());
    }

    private void chat(Context ctx) throws IOException, InterruptedException {
        long arrival = System.nanoTime();
        long declared = ctx.req().getContentLengthLong();
        if (declared > options.maxBodyBytes()) {
            throw new ApiError(413, "invalid_request_error", null, "request_too_large", "the body is " + declared
                    + " bytes, more than this server takes (" + options.maxBodyBytes() + ", --max-body-bytes)");
        }
        ChatRequest request = ChatRequest.parse(ctx.bodyAsBytes(), JSON, options.maxMessages());
        ServedModel m = hold();
        try {
            chat(ctx, request, m, arrival);
        } finally {
            m.release();
        }
    }

    private void chat(Context ctx, ChatRequest request, ServedModel m, long arrival) throws IOException,
            InterruptedException {
        if (!request.model().equals(m.name())) {
            throw ApiError.unknownModel(request.model(), m.name());
        }
        ServedModel.Prepared prepared = m.prepare(request);
        ConversationRecorder log = recorder;
        Logged logged = log == null ? null : new Logged(log, log.arrive(request,
                ctx.header(ConversationRecorder.HEADER)), m, prepared);
        if (logged != null) {
            ctx.header(ConversationRecorder.HEADER, logged.turn().conversation());
        }
        Reply reply = new Reply(m, prepared.stop());
        try {
            reply.submitted(m.batcher().submit(prepared.prompt(), prepared.settings(), reply));
        } catch (ContinuousBatcher.QueueFullException e) {
            throw ApiError.queueFull(e.getMessage() + " (--max-queue)");
        } catch (IllegalStateException e) {
            throw ApiError.unavailable("the server is stopping");
        }
        metrics.prompt(prepared.prompt().length);
        Completion completion = new Completion("chatcmpl-" + UUID.randomUUID().toString().replace("-", ""),
                System.currentTimeMillis() / 1000, m.name(), prepared.prompt().length);
        long deadline = arrival + options.requestTimeout().toNanos();
        if (request.stream()) {
            stream(ctx, reply, completion, request.includeUsage(), arrival, deadline, logged);
        } else {
            whole(ctx, reply, completion, arrival, deadline, logged);
        }
    }

    /** A request the log will record once its reply is complete. */
    private record Logged(ConversationRecorder log, ConversationRecorder.Turn turn, ServedModel model,
            ServedModel.Prepared prepared) {
        /** The completed response's record, on disk when this returns (before the reply's last bytes go out). */
        void replied(Completion c, String text, String finishReason, int completionTokens) throws IOException {
            log.replied(turn, c.id(), text, finishReason, c.promptTokens(), completionTokens, model,
                    prepared.settings(), prepared.stop());
        }
    }

    /** {@code POST /v1/feedback}: explicit feedback on a reply or a conversation, in the log before the 200. */
    private void feedback(Context ctx) throws IOException {
        ConversationRecorder log = recorder;
        if (log == null) {
            throw new ApiError(404, "invalid_request_error", null, "not_found", "feedback is not kept: this server "
                    + "was started without --log-dir");
        }
        JsonNode body;
        try {
            body = JSON.readTree(ctx.bodyAsBytes());
        } catch (JsonProcessingException e) {
            throw ApiError.invalid(null, "the body is not valid JSON: " + e.getOriginalMessage());
        }
        ObjectNode stored = log.feedback(body);
        stored.put("object", "feedback");
        ctx.contentType("application/json").result(stored.toString());
    }

    /** The reply in one response, once it has ended. */
    private void whole(Context ctx, Reply reply, Completion c, long arrival, long deadline, Logged logged)
            throws InterruptedException, IOException {
        StringBuilder text = new StringBuilder();
        long last = arrival;
        while (true) {
            Reply.Step step = reply.next(deadline - System.nanoTime());
            if (step == null) {
                reply.cancel();
                throw timedOut();
            }
            last = record(step, last, arrival);
            text.append(step.text());
            if (step.error() != null) {
                throw ApiError.internal("the model failed: " + step.error().getMessage());
            }
            if (step.ended()) {
                if (logged != null) {
                    logged.replied(c, text.toString(), step.finishReason(), reply.completionTokens());
                }
                ctx.contentType("application/json").result(c.whole(text.toString(), step.finishReason(),
                        reply.completionTokens()).toString());
                return;
            }
        }
    }

    /**
     * The reply as server-sent events: a first chunk with the role, one per piece of text, one with the finish
     * reason, the usage when asked for, then {@code data: [DONE]}. A client that goes away cancels the request, which
     * frees its slot at the next token.
     */
    private void stream(Context ctx, Reply reply, Completion c, boolean includeUsage, long arrival, long deadline,
            Logged logged) throws InterruptedException {
        ctx.status(200);
        ctx.res().setContentType("text/event-stream");
        ctx.res().setHeader("Cache-Control", "no-cache");
        long last = arrival;
        StringBuilder text = new StringBuilder();
        try {
            OutputStream out = ctx.res().getOutputStream();
            send(out, c.chunk(JSON.createObjectNode().put("role", "assistant").put("content", ""), null, includeUsage));
            while (true) {
                Reply.Step step = reply.next(deadline - System.nanoTime());
                if (step == null) {
                    reply.cancel();
                    send(out, timedOut().body(JSON));
                    break;
                }
                last = record(step, last, arrival);
                if (step.error() != null) {
                    send(out, ApiError.internal("the model failed: " + step.error().getMessage()).body(JSON));
                    break;
                }
                if (!step.text().isEmpty()) {
                    send(out, c.chunk(JSON.createObjectNode().put("content", step.text()), null, includeUsage));
                    text.append(step.text());
                }
                if (step.ended()) {
                    if (logged != null && !logged(logged, c, text, step, reply, out)) {
                        break;
                    }
                    send(out, c.chunk(JSON.createObjectNode(), step.finishReason(), includeUsage));
                    if (includeUsage) {
                        send(out, c.usageChunk(reply.completionTokens()));
                    }
                    break;
                }
            }
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException gone) {  // the client went away: free its slot
            reply.cancel();
        }
    }

    /** Logs a streamed reply before its finish goes out; on a failed write the client gets the error instead. */
    private static boolean logged(Logged logged, Completion c, StringBuilder text, Reply.Step step, Reply reply,
            OutputStream out) throws IOException {
        try {
            logged.replied(c, text.toString(), step.finishReason(), reply.completionTokens());
            return true;
        } catch (IOException e) {
            send(out, ApiError.internal("the conversation log could not be written: " + e.getMessage()).body(JSON));
            return false;
        }
    }

    /** Times the step's token (first, or since the last one); returns when it came. */
    private long record(Reply.Step step, long last, long arrival) {
        if (step.token()) {
            metrics.token(step.tokenNanos() - last, step.firstToken());
            last = step.tokenNanos();
        }
        if (step.ended()) {
            metrics.finished(System.nanoTime() - arrival);
        }
        return last;
    }

    private ApiError timedOut() {
        return new ApiError(504, "timeout", null, "request_timeout", "the reply took longer than "
                + options.requestTimeout().toSeconds() + " s (--request-timeout)");
    }

    private static void send(OutputStream out, ObjectNode event) throws IOException {
        out.write(("data: " + event.toString() + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void answer(Context ctx, ApiError e) {
        ctx.status(e.status()).contentType("application/json").result(e.body(JSON).toString());
    }

    /**
     * Whether the request's {@code Authorization: Bearer KEY} is the key of {@code digest}: digests of equal length,
     * compared in constant time, so neither the key's bytes nor its length leak.
     */
    static boolean bearerMatches(Context ctx, byte[] digest) {
        String header = ctx.header("Authorization");
        String given = header != null && header.startsWith("Bearer ") ? header.substring(7).strip() : "";
        return MessageDigest.isEqual(digest, sha256(given));
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stops listening, then frees the model (requests still running end as failed) and closes the log. */
    @Override
    public void close() {
        stopping = true;
        reloads.close();
        app.stop();
        ServedModel m = model;
        if (m != null) {
            m.close();
        }
        ConversationRecorder log = recorder;
        if (log != null) {
            try {
                log.close();
            } catch (IOException e) {
                System.err.println("drift serve: closing the conversation log: " + e.getMessage());
            }
        }
    }
}
