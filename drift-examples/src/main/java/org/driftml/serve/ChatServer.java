package org.driftml.serve;

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

    static final ObjectMapper JSON = new ObjectMapper();

    private final Options options;
    private final byte[] keyDigest;
    private final Javalin app;
    private final ServeMetrics metrics;
    private volatile ServedModel model;
    private volatile boolean stopping;

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
            config.routes.get("/v1/models", this::models);
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

    /** Loads the model and starts answering with it. */
    public void load(String name, Path folder, Path adapter, Precision precision, ComputeDevice device, int maxBatch,
            int capacity, int maxQueue) throws IOException {
        model = ServedModel.load(name, folder, adapter, precision, device, maxBatch, capacity, maxQueue);
    }

    /** The port it listens on (the one asked for, or the one the system chose for port 0). */
    public int port() {
        return app.port();
    }

    private void authorize(Context ctx) {
        if (keyDigest != null) {
            String header = ctx.header("Authorization");
            String given = header != null && header.startsWith("Bearer ") ? header.substring(7).strip() : "";
            // Digests of equal length, compared in constant time: neither the key's bytes nor its length leak.
            if (!MessageDigest.isEqual(keyDigest, sha256(given))) {
                throw ApiError.unauthorized();
            }
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
        ServedModel m = model;
        if (!request.model().equals(m.name())) {
            throw ApiError.unknownModel(request.model(), m.name());
        }
        ServedModel.Prepared prepared = m.prepare(request);
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
            stream(ctx, reply, completion, request.includeUsage(), arrival, deadline);
        } else {
            whole(ctx, reply, completion, arrival, deadline);
        }
    }

    /** The reply in one response, once it has ended. */
    private void whole(Context ctx, Reply reply, Completion c, long arrival, long deadline)
            throws InterruptedException {
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
    private void stream(Context ctx, Reply reply, Completion c, boolean includeUsage, long arrival, long deadline)
            throws InterruptedException {
        ctx.status(200);
        ctx.res().setContentType("text/event-stream");
        ctx.res().setHeader("Cache-Control", "no-cache");
        long last = arrival;
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
                }
                if (step.ended()) {
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

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stops listening, then frees the model: requests still running end as failed. */
    @Override
    public void close() {
        stopping = true;
        app.stop();
        ServedModel m = model;
        if (m != null) {
            m.close();
        }
    }

    /** The response bodies of one completion: {@code chat.completion} or its {@code chat.completion.chunk}s. */
    private record Completion(String id, long created, String model, int promptTokens) {
        ObjectNode whole(String text, String finishReason, int completionTokens) {
            ObjectNode body = head("chat.completion");
            ObjectNode choice = body.putArray("choices").addObject();
            choice.put("index", 0);
            choice.putObject("message").put("role", "assistant").put("content", text).putNull("refusal");
            choice.putNull("logprobs");
            choice.put("finish_reason", finishReason);
            body.set("usage", usage(completionTokens));
            return body;
        }

        ObjectNode chunk(ObjectNode delta, String finishReason, boolean withUsage) {
            ObjectNode body = head("chat.completion.chunk");
            ObjectNode choice = body.putArray("choices").addObject();
            choice.put("index", 0);
            choice.set("delta", delta);
            choice.putNull("logprobs");
            choice.put("finish_reason", finishReason);
            if (withUsage) {
                body.putNull("usage");
            }
            return body;
        }

        /** stream_options.include_usage: a last chunk with no choices and the usage. */
        ObjectNode usageChunk(int completionTokens) {
            ObjectNode body = head("chat.completion.chunk");
            body.putArray("choices");
            body.set("usage", usage(completionTokens));
            return body;
        }

        private ObjectNode head(String object) {
            ObjectNode body = JSON.createObjectNode();
            body.put("id", id);
            body.put("object", object);
            body.put("created", created);
            body.put("model", model);
            body.putNull("system_fingerprint");
            return body;
        }

        private ObjectNode usage(int completionTokens) {
            ObjectNode u = JSON.createObjectNode();
            u.put("prompt_tokens", promptTokens);
            u.put("completion_tokens", completionTokens);
            u.put("total_tokens", promptTokens + completionTokens);
            return u;
        }
    }
}
