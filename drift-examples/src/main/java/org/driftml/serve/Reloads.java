package org.driftml.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import org.driftml.drift.FinishedStages;
import org.driftml.model.Policy;

/**
 * Moving a running server to another model: {@code POST /admin/reload} (its own key, folders under one root only)
 * and {@code drift serve --watch RUN_DIR}, which moves to each stage a DRIFT run finishes. New requests go to the new
 * model at once; requests already answering finish on the old one, which is freed after the last of them.
 */
final class Reloads implements AutoCloseable {
    private final ChatServer server;
    private volatile byte[] keyDigest;
    private volatile Path root;
    private volatile Consumer<String> say = message -> { };
    private volatile Thread watcher;

    Reloads(ChatServer server) {
        this.server = server;
    }

    /** Lets {@code POST /admin/reload} load folders under {@code root} for whoever holds the admin key. */
    void admit(String adminKey, Path root, Consumer<String> say) {
        this.keyDigest = ChatServer.sha256(adminKey);
        this.root = root.toAbsolutePath().normalize();
        this.say = say;
    }

    /**
     * {@code {"model": "FOLDER", "adapter": "FOLDER"?}}, each relative to --models-root (or absolute inside it):
     * 200 with where the server moved from and to; 400 for a folder outside the root or not a model; 401 without the
     * admin key; 409 while another reload runs.
     */
    void answer(Context ctx) throws IOException {
        if (root == null) {
            throw new ApiError(404, "invalid_request_error", null, "not_found", "reloading is not enabled on this "
                    + "server (drift serve --models-root with --admin-key)");
        }
        if (keyDigest == null || !ChatServer.bearerMatches(ctx, keyDigest)) {
            throw new ApiError(401, "invalid_request_error", null, "invalid_admin_key",
                    "Incorrect or missing admin key: send it as \"Authorization: Bearer ADMIN_KEY\" (--admin-key)");
        }
        JsonNode body;
        try {
            body = ChatServer.JSON.readTree(ctx.bodyAsBytes());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ApiError.invalid(null, "the body is not valid JSON: " + e.getOriginalMessage());
        }
        if (body == null || !body.isObject() || !body.path("model").isTextual()) {
            throw ApiError.invalid("model", "give {\"model\": \"FOLDER\"}, a model folder under --models-root");
        }
        Path model = underRoot("model", body.get("model").asText());
        Path adapter = body.path("adapter").isTextual() ? underRoot("adapter", body.get("adapter").asText()) : null;
        try {
            Policy.checkFolder(model);
        } catch (IllegalArgumentException | IOException e) {
            throw ApiError.invalid("model", e.getMessage());
        }
        if (adapter != null && !Files.isRegularFile(adapter.resolve(Policy.ADAPTER_CONFIG_FILE))) {
            throw ApiError.invalid("adapter", adapter + " has no " + Policy.ADAPTER_CONFIG_FILE);
        }
        ChatServer.Moved moved;
        try {
            moved = server.reload(model, adapter, FinishedStages.stageOf(model));
        } catch (IllegalStateException e) {
            throw new ApiError(409, "invalid_request_error", null, "reload_in_progress", e.getMessage());
        }
        say.accept(String.format(java.util.Locale.ROOT, "reloaded: now serving %s%s, loaded in %.1f s",
                moved.toFolder(), moved.toStage() != null ? " (" + moved.toStage() + ")" : "", moved.loadSeconds()));
        ObjectNode out = ChatServer.JSON.createObjectNode();
        out.put("object", "reload");
        out.putObject("from").put("folder", moved.fromFolder()).put("stage", moved.fromStage());
        out.putObject("to").put("folder", moved.toFolder()).put("stage", moved.toStage());
        out.put("load_seconds", moved.loadSeconds());
        ctx.contentType("application/json").result(out.toString());
    }

    /** {@code asked} resolved against the root; a path leaving it (.., a link, an absolute elsewhere) is refused. */
    private Path underRoot(String field, String asked) throws IOException {
        Path p = root.resolve(asked).normalize();
        Path real;
        try {
            real = p.toRealPath();
        } catch (IOException e) {
            throw ApiError.invalid(field, asked + ": no such folder under --models-root " + root);
        }
        if (!real.startsWith(root.toRealPath())) {
            throw ApiError.invalid(field, asked + " is outside --models-root " + root + "; only folders under it load");
        }
        return real;
    }

    /**
     * Watches {@code run} every {@code every} and moves the server to each newer stage it finishes.
     *
     * @param serving the folder served now (a stage of the run, or its base model)
     */
    void watch(Path run, Duration every, Path serving, Consumer<String> say) {
        Thread t = new Thread(() -> {
            Path current = serving.toAbsolutePath().normalize();
            String failed = null;
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Thread.sleep(every.toMillis());
                    Optional<FinishedStages.Stage> newest = FinishedStages.newest(run);
                    if (newest.isPresent() && !newest.get().folder().toAbsolutePath().normalize().equals(current)) {
                        Path next = newest.get().folder().toAbsolutePath().normalize();
                        ChatServer.Moved moved = server.reload(next, null, newest.get().name());
                        current = next;
                        say.accept(String.format(java.util.Locale.ROOT, "now serving %s (%s), loaded in %.1f s",
                                moved.toFolder(), moved.toStage(), moved.loadSeconds()));
                    }
                } catch (InterruptedException e) {
                    return;
                } catch (IOException | RuntimeException e) {  // a stage that cannot load: keep serving, say why once
                    if (!String.valueOf(e.getMessage()).equals(failed)) {
                        say.accept("cannot move to the run's newest stage: " + e.getMessage());
                    }
                    failed = String.valueOf(e.getMessage());
                }
            }
        }, "drift-serve-watch");
        t.setDaemon(true);
        watcher = t;
        t.start();
    }

    @Override
    public void close() {
        Thread t = watcher;
        if (t != null) {
            t.interrupt();
        }
    }
}
