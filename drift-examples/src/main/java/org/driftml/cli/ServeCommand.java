package org.driftml.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.driftml.model.Policy;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.ModelConfig;
import org.driftml.model.spec.Precision;
import org.driftml.serve.ChatServer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code drift serve}: the model behind OpenAI's chat API, on a continuous-batching sampler. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model over OpenAI's chat API: POST /v1/chat/completions (streaming or not),",
                "GET /v1/models, GET /health, GET /metrics (Prometheus). Requests are decoded together on a",
                "continuous-batching sampler; sampling settings default to generation_config.json, as drift generate.",
                "Listens on 127.0.0.1 unless --host says otherwise, which needs an API key."})
final class ServeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = {"Hugging Face model folder with its tokenizer and"
            + " chat template", "(with --watch: served until the run finishes a stage)"})
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "A PEFT LoRA adapter folder for --model")
    Path adapter;

    @Option(names = "--served-model-name", paramLabel = "NAME",
            description = "The model's name in the API (default: the folder's name)")
    String name;

    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "float32|bfloat16",
            description = "Compute dtype (default: ${DEFAULT-VALUE})")
    String dtype;

    @Mixin
    DeviceOption device = new DeviceOption();

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "Address to listen on (default: ${DEFAULT-VALUE}; another needs an API key)")
    String host;

    @Option(names = "--port", defaultValue = "8000", paramLabel = "PORT",
            description = "Port (default: ${DEFAULT-VALUE}; 0: any free port, printed)")
    int port;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Require \"Authorization: Bearer KEY\" on /v1 (default: $DRIFT_API_KEY)")
    String apiKey;

    @Option(names = "--api-key-file", paramLabel = "FILE", description = "Read the key from FILE (its first line)")
    Path apiKeyFile;

    @Option(names = "--max-batch", defaultValue = "16", paramLabel = "N",
            description = "Sequences decoded together (default: ${DEFAULT-VALUE})")
    int maxBatch;

    @Option(names = "--max-queue", defaultValue = "256", paramLabel = "N",
            description = "Requests waiting beyond those; more get 429 (default: ${DEFAULT-VALUE})")
    int maxQueue;

    @Option(names = "--max-model-len", paramLabel = "TOKENS",
            description = "Context per request, prompt and reply (default: max_position_embeddings, at most 4096)")
    Integer maxModelLen;

    @Option(names = "--max-body-bytes", defaultValue = "4194304", paramLabel = "BYTES",
            description = "Largest request body (default: ${DEFAULT-VALUE})")
    long maxBodyBytes;

    @Option(names = "--max-messages", defaultValue = "1024", paramLabel = "N",
            description = "Most messages in one request (default: ${DEFAULT-VALUE})")
    int maxMessages;

    @Option(names = "--request-timeout", defaultValue = "600", paramLabel = "SECONDS",
            description = "A request still running after this is cancelled (default: ${DEFAULT-VALUE})")
    int requestTimeout;

    @Option(names = "--log-dir", paramLabel = "DIR", description = {"Keep every completed response and every "
            + "feedback here, crash-safe, for drift mine --logs DIR", "(default: nothing is logged)"})
    Path logDir;

    @Option(names = "--log-max-bytes", defaultValue = "67108864", paramLabel = "BYTES",
            description = "Start a new log segment before one passes this size (default: ${DEFAULT-VALUE})")
    long logMaxBytes;

    @Option(names = "--watch", paramLabel = "RUN_DIR",
            description = "Serve the newest finished stage of this DRIFT run, moving to each new one as it finishes")
    Path watch;

    @Option(names = "--watch-interval", defaultValue = "10", paramLabel = "SECONDS",
            description = "How often --watch looks for a new stage (default: ${DEFAULT-VALUE})")
    int watchInterval;

    @Option(names = "--models-root", paramLabel = "DIR",
            description = "POST /admin/reload loads model folders under DIR (needs --admin-key)")
    Path modelsRoot;

    @Option(names = "--admin-key", paramLabel = "KEY",
            description = "The key POST /admin/reload asks for (default: $DRIFT_ADMIN_KEY)")
    String adminKey;

    private String stage;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        ComputeDevice on = device.resolve(err, "drift serve");
        if (on == null) {
            return 2;
        }
        String key;
        Precision precision;
        int capacity;
        try {  // everything checked before the server listens or a weight is read
            precision = Precision.DTYPE.parse(dtype);
            positive("--max-batch", maxBatch);
            positive("--max-queue", maxQueue);
            positive("--max-messages", maxMessages);
            positive("--request-timeout", requestTimeout);
            positive("--max-body-bytes", maxBodyBytes);
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("--port " + port + " is not a port (0 to 65535)");
            }
            positive("--watch-interval", watchInterval);
            if (watch != null) {
                if (adapter != null) {
                    throw new IllegalArgumentException("--watch serves the run's stages, which are whole models: "
                            + "--adapter does not apply");
                }
                if (!Files.isDirectory(watch)) {
                    throw new IllegalArgumentException("--watch " + watch + " is not a folder (a drift train --output)");
                }
                var newest = org.driftml.drift.FinishedStages.newest(watch);
                if (newest.isPresent()) {
                    model = newest.get().folder();
                    stage = newest.get().name();
                } else if (model == null) {
                    throw new IllegalArgumentException("--watch " + watch + " has no finished stage yet: give --model"
                            + " to serve until it has one");
                }
            }
            if (model == null) {
                throw new IllegalArgumentException("--model DIR is required (or --watch RUN_DIR)");
            }
            if (modelsRoot != null && !Files.isDirectory(modelsRoot)) {
                throw new IllegalArgumentException("--models-root " + modelsRoot + " is not a folder");
            }
            String admin = adminKey != null ? adminKey : System.getenv("DRIFT_ADMIN_KEY");
            if (modelsRoot != null && (admin == null || admin.isBlank())) {
                throw new IllegalArgumentException("--models-root needs --admin-key (or DRIFT_ADMIN_KEY): reloading"
                        + " a model is an administrator's request");
            }
            if (admin != null && modelsRoot == null && adminKey != null) {
                throw new IllegalArgumentException("--admin-key is for POST /admin/reload: give --models-root too");
            }
            adminKey = admin == null ? null : admin.strip();
            if (logDir != null) {
                positive("--log-max-bytes", logMaxBytes);
                if (logMaxBytes < 1024) {
                    throw new IllegalArgumentException("--log-max-bytes " + logMaxBytes + " must be at least 1024");
                }
                if (Files.exists(logDir) && !Files.isDirectory(logDir)) {
                    throw new IllegalArgumentException("--log-dir " + logDir + " is a file, not a folder");
                }
            }
            ModelConfig config = Policy.checkFolder(model);
            for (String file : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
                if (!Files.exists(model.resolve(file))) {
                    throw new IllegalArgumentException("--model " + model + " has no " + file
                            + ": serving chat needs the tokenizer and its chat template");
                }
            }
            if (adapter != null && !Files.exists(adapter.resolve(Policy.ADAPTER_CONFIG_FILE))) {
                throw new IllegalArgumentException("--adapter " + adapter + " has no " + Policy.ADAPTER_CONFIG_FILE);
            }
            capacity = maxModelLen != null ? maxModelLen : Math.min(config.maxPositionEmbeddings(), 4096);
            if (capacity < 2 || capacity > config.maxPositionEmbeddings()) {
                throw new IllegalArgumentException("--max-model-len " + capacity + " must be in [2, "
                        + config.maxPositionEmbeddings() + "] (max_position_embeddings in " + model + ")");
            }
            key = key();
            if (key == null && !loopback(host)) {
                throw new IllegalArgumentException("--host " + host + " listens beyond this machine: give --api-key"
                        + " or --api-key-file (or DRIFT_API_KEY), or listen on 127.0.0.1");
            }
        } catch (IllegalArgumentException | IOException e) {
            err.println("drift serve: " + SettingOptions.message(e));
            err.flush();
            return 2;
        }
        String served = name != null ? name : watch != null ? watch.toAbsolutePath().normalize().getFileName()
                .toString() : model.toAbsolutePath().normalize().getFileName().toString();
        ChatServer server;
        try {
            server = ChatServer.listen(new ChatServer.Options(host, port, key, maxBodyBytes, maxMessages,
                    Duration.ofSeconds(requestTimeout)), Math.max(64, maxBatch + maxQueue + 16));
        } catch (RuntimeException e) {
            err.println("drift serve: cannot listen on " + host + ":" + port + ": " + rootMessage(e));
            err.flush();
            return 2;
        }
        if (logDir != null) {
            try {
                server.keepLog(logDir, logMaxBytes);
            } catch (IllegalArgumentException | IOException e) {
                server.close();
                err.println("drift serve: --log-dir " + logDir + ": " + SettingOptions.message(e));
                err.flush();
                return 2;
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        java.util.function.Consumer<String> say = message -> {
            out.println("drift serve: " + message);
            out.flush();
        };
        if (modelsRoot != null) {
            server.allowReloads(adminKey, modelsRoot, say);
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "drift-serve-stop"));
        out.println("drift serve: loading " + model + " (health answers 503 until it is ready)");
        out.println(logDir != null ? "drift serve: logging conversations and feedback to " + logDir
                : "drift serve: not logging conversations (no --log-dir): nothing is kept for drift mine");
        out.flush();
        server.load(served, model, adapter, stage != null ? stage : org.driftml.drift.FinishedStages.stageOf(model),
                new ChatServer.Loading(precision, on, maxBatch, capacity, maxQueue));
        out.println("drift serve: serving " + served + " at http://" + host + ":" + server.port() + "/v1 ("
                + maxBatch + " sequences at a time, " + capacity + " tokens of context): " + server.serving());
        out.flush();
        if (watch != null) {
            server.watch(watch, Duration.ofSeconds(watchInterval), say);
        }
        stopped.await();
        return 0;
    }

    /** The key from --api-key, --api-key-file or DRIFT_API_KEY, or null; an empty one is refused. */
    private String key() throws IOException {
        if (apiKey != null && apiKeyFile != null) {
            throw new IllegalArgumentException("give --api-key or --api-key-file, not both");
        }
        String k = apiKey;
        String from = "--api-key";
        if (apiKeyFile != null) {
            if (!Files.isRegularFile(apiKeyFile)) {
                throw new IllegalArgumentException("--api-key-file " + apiKeyFile + " is not a readable file");
            }
            String content = Files.readString(apiKeyFile, StandardCharsets.UTF_8).strip();
            k = content.lines().findFirst().orElse("");
            from = "--api-key-file " + apiKeyFile;
        } else if (k == null && System.getenv("DRIFT_API_KEY") != null) {
            k = System.getenv("DRIFT_API_KEY");
            from = "DRIFT_API_KEY";
        }
        if (k != null && k.isBlank()) {
            throw new IllegalArgumentException(from + ": the API key is empty");
        }
        return k == null ? null : k.strip();
    }

    private static boolean loopback(String host) {
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return true;
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("--host " + host + ": unknown host");
        }
    }

    private static void positive(String option, long value) {
        if (value < 1) {
            throw new IllegalArgumentException(option + " " + value + " must be at least 1");
        }
    }

    private static String rootMessage(Throwable e) {
        while (e.getCause() != null) {
            e = e.getCause();
        }
        return e.getMessage();
    }
}
