package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input, class by class, against the README's promise: exit code 2 for a bad option, model folder or input file
 * (1 for JSON Lines input with bad lines, each answered in place), a message that names the option, file, line or
 * field, no Java stack trace, and nothing written to the output folder. Each class counts its cases and prints the
 * count, so CI's log shows what the suite covered.
 */
class BadInputTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One bad input: the command, what stdin gets, the exit code, and what the message must contain. */
    private record Case(String name, String[] args, byte[] stdin, int code, String names, Path output) {
        Case(String name, String[] args, String stdin, int code, String names, Path output) {
            this(name, args, stdin.getBytes(StandardCharsets.UTF_8), code, names, output);
        }
    }

    private final List<String> failures = new ArrayList<>();
    private final Map<String, Integer> counts = new LinkedHashMap<>();

    private void check(String klass, Case c) {
        counts.merge(klass, 1, Integer::sum);
        CliRun run = CliRun.of(c.stdin(), c.args());
        String all = run.out() + run.err();
        List<String> wrong = new ArrayList<>();
        if (run.code() != c.code()) {
            wrong.add("exit " + run.code() + ", expected " + c.code());
        }
        if (!all.contains(c.names())) {
            wrong.add("no \"" + c.names() + "\" in the message");
        }
        if (all.contains("\tat ") || all.matches("(?s).*\\b(java|org)\\.[a-z.]+\\.[A-Z]\\w*(Exception|Error)\\b.*")) {
            wrong.add("a Java exception or stack trace");
        }
        if (c.output() != null && Files.exists(c.output())) {
            wrong.add("wrote " + c.output());
            try (var files = Files.walk(c.output())) {  // so the next case starts without it
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        if (!wrong.isEmpty()) {
            failures.add(klass + " / " + c.name() + ": " + String.join("; ", wrong) + "\n    stderr: "
                    + run.err().strip().replace("\n", "\n            ") + "\n    stdout: " + run.out().strip());
        }
    }

    private void report() {
        counts.forEach((k, v) -> System.out.println("bad inputs, " + k + ": " + v + " cases"));
        assertTrue(failures.isEmpty(), failures.size() + " of " + counts.values().stream().mapToInt(i -> i).sum()
                + " bad inputs mishandled:\n" + String.join("\n", failures));
    }

    private static Path model() {
        return CliRun.parity("tiny-qwen2-chat");
    }

    private static Path pairs(Path dir, String name, List<String> lines) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, lines);
        return p;
    }

    private static String[] dpo(Path model, Path pairs, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("dpo", "--model", model.toString(), "--pairs", pairs.toString(),
                "--output", out.toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void badInputsAreRefusedWithTheirNameAndTheReadmesExitCode(@TempDir Path dir) throws Exception {
        Path good = pairs(dir, "good.jsonl", List.of(DpoCommandTest.pair("2+2?", "4", "5")));
        Path out = dir.resolve("out");

        // Options: exit 2 naming the option, before anything is loaded or written.
        String[][] dpoOptions = {{"--rpo-alpha", "NaN"}, {"--beta", "-1"}, {"--learning-rate", "Infinity"},
            {"--save-steps", "-1"}, {"--max-steps", "0"}, {"--batch-size", "0"}, {"--epochs", "0"},
            {"--dtype", "fp8"}, {"--max-prompt-length", "20", "--max-length", "10"}, {"--device", "tpu"},
            {"--batch-size", "4", "--gradient-accumulation", "3"}, {"--loss", "nonsense"}, {"--preset", "fast"}};
        for (String[] o : dpoOptions) {
            String option = o[0].equals("--max-prompt-length") ? "--max-length" : o.length == 4 ? o[2] : o[0];
            check("dpo options", new Case(String.join(" ", o), dpo(model(), good, out, o), "", 2, option, out));
        }
        String[][] generateOptions = {{"--temperature", "0"}, {"--top-p", "5"}, {"--top-k", "-1"},
            {"--repetition-penalty", "0"}, {"--repetition-penalty", "NaN"}, {"--max-new-tokens", "0"},
            {"--max-new-tokens", "1000000000"}, {"--temperature", "Infinity"}};
        for (String[] o : generateOptions) {
            List<String> a = new ArrayList<>(List.of("generate", "--model", model().toString()));
            if (!o[0].equals("--max-new-tokens")) {
                a.addAll(List.of("--max-new-tokens", "4"));
            }
            a.addAll(List.of(o));
            check("generate options", new Case(String.join(" ", o), a.toArray(String[]::new),
                    "{\"input_ids\": [257, 85]}\n", 2, o[0], null));
        }
        Path mined = DriftCommandsTest.mine(dir);
        String[][] loopOptions = {{"--top-p", "5"}, {"--temperature", "0"}, {"--max-new-tokens", "0"},
            {"--generation-batch", "0"}, {"--iterations", "-1"}, {"--rpo-alpha", "NaN"}, {"--subsample", "-3"}};
        for (String[] o : loopOptions) {
            List<String> a = new ArrayList<>(List.of("train", "--model", model().toString(), "--data",
                    mined.toString(), "--output", out.toString()));
            a.addAll(List.of(o));
            check("train options", new Case(String.join(" ", o), a.toArray(String[]::new), "", 2, o[0], out));
        }

        // Config files: exit 2 naming the file (and the key).
        Path badValue = dir.resolve("bad-value.yaml"), unknownKey = dir.resolve("unknown.json");
        Files.writeString(badValue, "learning-rate: fast\n");
        Files.writeString(unknownKey, "{\"learning-rat\": 1e-3}");
        Path[] configs = {dir.resolve("missing.yaml"), badValue, unknownKey};
        for (Path config : configs) {
            check("config files", new Case(config.getFileName().toString(), dpo(model(), good, out, "--config",
                config.toString()), "", 2, config.toString(), out));
            check("config files", new Case("train, " + config.getFileName(), new String[] {"train", "--model",
                model().toString(), "--data", mined.toString(), "--output", out.toString(), "--config", config.toString()}, "", 2,
                config.toString(), out));
        }

        // Broken model folders: exit 2 naming the file and what is wrong with it, for dpo and logprobs alike.
        Map<String, UnaryOperator<Path>> broken = new LinkedHashMap<>();
        broken.put("no config.json", m -> delete(m.resolve("config.json")));
        broken.put("config.json not JSON", m -> write(m.resolve("config.json"), "{\"model_type\": "));
        broken.put("rope_theta 0", m -> config(m, c -> c.with("rope_parameters").put("rope_theta", 0)));
        broken.put("rope_theta -1", m -> config(m, c -> c.with("rope_parameters").put("rope_theta", -1)));
        broken.put("rope_theta abc", m -> config(m, c -> c.with("rope_parameters").put("rope_theta", "abc")));
        broken.put("num_hidden_layers 1e9", m -> config(m, c -> c.put("num_hidden_layers", 1_000_000_000)));
        broken.put("hidden_size a string", m -> config(m, c -> c.put("hidden_size", "64")));
        broken.put("tie_word_embeddings yes", m -> config(m, c -> c.put("tie_word_embeddings", "yes")));
        broken.put("eos_token_id 2^64+5", m -> config(m, c -> c.put("eos_token_id",
                new java.math.BigInteger("18446744073709551621"))));
        broken.put("no weights", m -> delete(m.resolve("model.safetensors")));
        broken.put("weights truncated", m -> truncate(m.resolve("model.safetensors")));
        broken.put("F32 relabelled I32", m -> header(m, h -> ((ObjectNode) h.get("model.norm.weight"))
                .put("dtype", "I32")));
        broken.put("overlapping tensors", m -> header(m, h -> ((ObjectNode) h.get("model.norm.weight")).set(
                "data_offsets", h.get("model.layers.0.input_layernorm.weight").get("data_offsets").deepCopy())));
        broken.put("duplicate header key", m -> duplicateKey(m.resolve("model.safetensors")));
        broken.put("generation temperature hot", m -> write(m.resolve("generation_config.json"),
                "{\"do_sample\": true, \"temperature\": \"hot\"}"));
        broken.put("generation do_sample yes", m -> write(m.resolve("generation_config.json"),
                "{\"do_sample\": \"yes\"}"));
        Map<String, String> names = Map.ofEntries(Map.entry("no config.json", "no config.json"),
                Map.entry("config.json not JSON", "config.json: not valid JSON"),
                Map.entry("rope_theta 0", "rope_theta"), Map.entry("rope_theta -1", "rope_theta"),
                Map.entry("rope_theta abc", "rope_theta"), Map.entry("num_hidden_layers 1e9", "num_hidden_layers"),
                Map.entry("hidden_size a string", "hidden_size"),
                Map.entry("tie_word_embeddings yes", "tie_word_embeddings"),
                Map.entry("eos_token_id 2^64+5", "eos_token_id"),
                Map.entry("no weights", "no model.safetensors"),
                Map.entry("weights truncated", "model.safetensors"),
                Map.entry("F32 relabelled I32", "model.norm.weight has dtype I32"),
                Map.entry("overlapping tensors", "overlap"),
                Map.entry("duplicate header key", "model.safetensors"),
                Map.entry("generation temperature hot", "generation_config.json: temperature"),
                Map.entry("generation do_sample yes", "generation_config.json: do_sample"));
        for (var b : broken.entrySet()) {
            Path m = copyModel(dir.resolve("broken-" + counts.size() + "-" + b.getKey().replace(' ', '_')));
            b.getValue().apply(m);
            String name = names.get(b.getKey());
            boolean generationOnly = b.getKey().startsWith("generation");
            if (!generationOnly) {
                check("model folders", new Case("logprobs, " + b.getKey(), new String[] {"logprobs", "--model",
                    m.toString()}, "{\"input_ids\": [257, 85, 83], \"completion_start\": 1}\n", 2, name, null));
                check("model folders", new Case("dpo, " + b.getKey(), dpo(m, good, out), "", 2, name, out));
            }
            check("model folders", new Case("generate, " + b.getKey(), new String[] {"generate", "--model",
                m.toString(), "--max-new-tokens", "2"}, "{\"input_ids\": [257, 85]}\n", 2, name, null));
        }

        // A model whose weights hold NaN (issue 32): refused at load naming the file and tensor, exit 2 like any other
        // damaged model folder, for every command; greedy generate used to print token 0 forever with exit 0.
        Path nanModel = copyModel(dir.resolve("nan-weights"));
        setFirstValueNaN(nanModel.resolve("model.safetensors"), "model.norm.weight");
        String nan = nanModel.resolve("model.safetensors") + ": tensor model.norm.weight holds 1 NaN and 0 infinite "
                + "values of 64";
        check("non-finite models", new Case("logprobs", new String[] {"logprobs", "--model", nanModel.toString()},
                "{\"input_ids\": [257, 85, 83], \"completion_start\": 1}\n", 2, nan, null));
        check("non-finite models", new Case("generate, greedy", new String[] {"generate", "--model",
            nanModel.toString(), "--max-new-tokens", "2"}, "{\"input_ids\": [257, 85]}\n", 2, nan, null));
        check("non-finite models", new Case("generate, sampling", new String[] {"generate", "--model",
            nanModel.toString(), "--max-new-tokens", "2", "--temperature", "0.7"}, "{\"input_ids\": [257, 85]}\n", 2,
            nan, null));
        check("non-finite models", new Case("dpo", dpo(nanModel, good, out), "", 2, nan, out));
        deleteTree(out);

        // Pair files: exit 2 naming file and line.
        Map<String, List<String>> badPairs = new LinkedHashMap<>();
        String ok = DpoCommandTest.pair("a", "b", "c");
        badPairs.put("two objects on a line", List.of(ok, ok + " " + ok));
        badPairs.put("unknown role", List.of(ok, ok.replace("\"role\": \"user\"", "\"role\": \"bogus\"")));
        badPairs.put("missing rejected", List.of(ok, "{\"prompt\": \"x\", \"chosen\": \"y\"}"));
        badPairs.put("rejected not a list", List.of(ok, "{\"prompt\": [{\"role\": \"user\", \"content\": \"x\"}], "
                + "\"chosen\": [{\"role\": \"assistant\", \"content\": \"y\"}], \"rejected\": \"z\"}"));
        for (var b : badPairs.entrySet()) {
            Path p = pairs(dir, "pairs-" + b.getKey().replace(' ', '_') + ".jsonl", b.getValue());
            check("pair files", new Case(b.getKey(), dpo(model(), p, out), "", 2, p + ":2", out));
        }
        Path latin1 = dir.resolve("latin1.jsonl");
        Files.write(latin1, (ok + "\n" + DpoCommandTest.pair("caf\u00e9", "b", "c") + "\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        check("pair files", new Case("not UTF-8", dpo(model(), latin1, out), "", 2, latin1 + ":2: not valid UTF-8",
                out));
        Path empty = pairs(dir, "empty.jsonl", List.of());
        check("pair files", new Case("empty", dpo(model(), empty, out), "", 2, empty + ": no pairs", out));
        check("pair files", new Case("missing", dpo(model(), dir.resolve("nope.jsonl"), out), "", 2,
                "nope.jsonl", out));

        // Logs for drift mine: exit 2 naming file and line; nothing written.
        Map<String, String> badLogs = new LinkedHashMap<>();
        badLogs.put("UtterranceId 1.5", "{\"UtterranceId\": 1.5, \"Role\": \"Agent\", \"Content\": \"x\"}");
        badLogs.put("UtterranceId 2^64+5", "{\"UtterranceId\": 18446744073709551621, \"Role\": \"Agent\", "
                + "\"Content\": \"x\"}");
        badLogs.put("two objects on a line", DriftCommandsTest.LOGS.get(1) + DriftCommandsTest.LOGS.get(1));
        for (var b : badLogs.entrySet()) {
            List<String> lines = new ArrayList<>(DriftCommandsTest.LOGS);
            lines.set(1, b.getValue());
            Path logs = pairs(dir, "logs-" + b.getKey().replace(' ', '_') + ".jsonl", lines);
            Path minedOut = dir.resolve("mined-bad");
            check("log files", new Case(b.getKey(), new String[] {"mine", "--logs", logs.toString(), "--output",
                minedOut.toString()}, "", 2, logs + ":line 2", minedOut));
        }

        Path minedMissing = dir.resolve("mined-missing");
        check("log files", new Case("missing", new String[] {"mine", "--logs", dir.resolve("no-logs").toString(),
            "--output", minedMissing.toString()}, "", 2, "--logs", minedMissing));
        check("log files", new Case("unknown format", new String[] {"mine", "--logs", dir.toString(), "--format",
            "csv", "--output", minedMissing.toString()}, "", 2, "--format", minedMissing));
        check("tokenizer", new Case("no tokenizer", new String[] {"tokenize", "--tokenizer",
            dir.resolve("none").toString()}, "{\"text\": \"a\"}\n", 2, "no tokenizer.json", null));
        check("tokenizer", new Case("two objects", new String[] {"tokenize", "--tokenizer", model().toString()},
            "{\"text\": \"a\"} {\"text\": \"b\"}\n{\"text\": \"c\"}\n", 1,
            "line 1: more than one JSON value", null));
        check("tokenizer", new Case("text not a string", new String[] {"tokenize", "--tokenizer",
            model().toString()}, "{\"text\": 5}\n", 1, "line 1: \"text\" must be a string", null));

        // JSON Lines on stdin: each bad line answered in place naming its line, the others answered, exit 1.
        Map<String, String> badLines = new LinkedHashMap<>();
        badLines.put("id 2^64+5", "{\"input_ids\": [257, 18446744073709551621], \"completion_start\": 1}");
        badLines.put("completion_start 2^32+6", "{\"input_ids\": [257, 85, 83, 68, 81, 198, 72, 72], "
                + "\"completion_start\": 4294967302}");
        badLines.put("completion_start 1.5", "{\"input_ids\": [257, 85, 83], \"completion_start\": 1.5}");
        badLines.put("more ids than positions", "{\"input_ids\": " + Arrays.toString(new int[200]) + "}");
        badLines.put("two objects", "{\"input_ids\": [257, 85]} {\"input_ids\": [257, 86]}");
        String goodLine = "{\"input_ids\": [257, 85, 83], \"completion_start\": 1}";
        for (var b : badLines.entrySet()) {
            check("logprobs lines", new Case(b.getKey(), new String[] {"logprobs", "--model", model().toString()},
                    goodLine + "\n" + b.getValue() + "\n" + goodLine + "\n", 1, "line 2: ", null));
        }
        Map<String, String> badPrompts = new LinkedHashMap<>();
        badPrompts.put("unknown role", "{\"messages\": [{\"role\": \"bogus\", \"content\": \"hi\"}]}");
        badPrompts.put("prompt fills the positions", "{\"input_ids\": " + Arrays.toString(new int[128]) + "}");
        badPrompts.put("id 2^64+5", "{\"input_ids\": [18446744073709551621]}");
        badPrompts.put("a 1 MB message", "{\"messages\": [{\"role\": \"user\", \"content\": \""
                + "a".repeat(1 << 20) + "\"}]}");
        for (var b : badPrompts.entrySet()) {
            check("generate lines", new Case(b.getKey(), new String[] {"generate", "--model", model().toString(),
                "--max-new-tokens", "2"}, "{\"input_ids\": [257, 85]}\n" + b.getValue() + "\n", 1, "line 2: ",
                null));
        }
        byte[] latinLine = "{\"messages\": [{\"role\": \"user\", \"content\": \"caf\u00e9\"}]}\n"
                .getBytes(StandardCharsets.ISO_8859_1);
        byte[] first = "{\"input_ids\": [257, 85]}\n".getBytes(StandardCharsets.UTF_8);
        byte[] both = Arrays.copyOf(first, first.length + latinLine.length);
        System.arraycopy(latinLine, 0, both, first.length, latinLine.length);
        check("generate lines", new Case("not UTF-8", new String[] {"generate", "--model", model().toString(),
            "--max-new-tokens", "2"}, both, 1, "line 2: not valid UTF-8", null));
        report();
    }

    // --- making broken model folders -------------------------------------------------------------------------------

    private static Path copyModel(Path to) {
        try {
            return DpoCommandTest.copyOf(model(), to);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Path delete(Path p) {
        try {
            Files.delete(p);
            return p;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Path write(Path p, String text) {
        try {
            Files.writeString(p, text);
            return p;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Path config(Path m, java.util.function.Consumer<ObjectNode> edit) {
        try {
            ObjectNode c = (ObjectNode) JSON.readTree(m.resolve("config.json").toFile());
            edit.accept(c);
            return write(m.resolve("config.json"), JSON.writeValueAsString(c));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Path truncate(Path p) {
        try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(f.length() - 10);
            return p;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Rewrites model.safetensors with its header edited and its data as it was. */
    private static Path header(Path m, java.util.function.Consumer<ObjectNode> edit) {
        Path p = m.resolve("model.safetensors");
        try {
            byte[] all = Files.readAllBytes(p);
            long length = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            ObjectNode h = (ObjectNode) JSON.readTree(new String(all, 8, (int) length, StandardCharsets.UTF_8));
            edit.accept(h);
            return rewrite(p, JSON.writeValueAsString(h), Arrays.copyOfRange(all, 8 + (int) length, all.length));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The first tensor's entry written twice, the second time pointing at another tensor's bytes. */
    private static Path duplicateKey(Path p) {
        try {
            byte[] all = Files.readAllBytes(p);
            long length = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            ObjectNode h = (ObjectNode) JSON.readTree(new String(all, 8, (int) length, StandardCharsets.UTF_8));
            String norm = JSON.writeValueAsString(h.get("model.norm.weight"));
            String text = JSON.writeValueAsString(h);
            String dup = "{\"model.layers.0.input_layernorm.weight\":" + norm + "," + text.substring(1);
            return rewrite(p, dup, Arrays.copyOfRange(all, 8 + (int) length, all.length));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Sets the first fp32 value of {@code tensor} in a single-file checkpoint to NaN. */
    private static void setFirstValueNaN(Path p, String tensor) throws IOException {
        byte[] all = Files.readAllBytes(p);
        long length = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectNode h = (ObjectNode) JSON.readTree(new String(all, 8, (int) length, StandardCharsets.UTF_8));
        int begin = 8 + (int) length + h.get(tensor).get("data_offsets").get(0).asInt();
        ByteBuffer.wrap(all, begin, 4).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
        Files.write(p, all);
    }

    private static void deleteTree(Path p) throws IOException {
        if (Files.exists(p)) {
            try (var files = Files.walk(p)) {
                for (Path q : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(q);
                }
            }
        }
    }

    private static Path rewrite(Path p, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(data);
        Files.write(p, out.array());
        return p;
    }

    /**
     * Issue 32: a run refused by a check made after it claimed its output (here a LoRA adapter folder without its
     * weights) leaves nothing behind, neither the folder it made nor, in a folder that was there, its run.json; the
     * corrected command then runs (it was refused as "another run (settings.adapter differs)").
     */
    @Test
    void aRefusedRunLeavesNothingBehindAndTheCorrectedOneRuns(@TempDir Path dir) throws Exception {
        Path good = pairs(dir, "good.jsonl", List.of(DpoCommandTest.pair("2+2?", "4", "5")));
        Path adapter = Files.createDirectories(dir.resolve("adapter"));
        Files.writeString(adapter.resolve("adapter_config.json"), "{}");
        Path made = dir.resolve("made"), there = Files.createDirectories(dir.resolve("there"));
        for (Path out : List.of(made, there)) {
            CliRun refused = CliRun.of("", DpoCommandTest.concat(dpo(model(), good, out, "--max-steps", "1"),
                    "--adapter", adapter.toString()));
            assertEquals(2, refused.code(), refused.err());
            assertTrue(refused.err().startsWith("drift dpo: --adapter: " + adapter), refused.err());
            if (out == made) {
                assertFalse(Files.exists(made), "the folder the refused run made is gone");
            } else {
                try (var left = Files.list(there)) {
                    assertEquals(List.of(), left.filter(f -> !f.getFileName().toString().equals(".drift.lock"))
                            .toList(), "nothing of the refused run is left in a folder that was there");
                }
            }
            CliRun corrected = CliRun.of("", dpo(model(), good, out, "--max-steps", "1"));
            assertEquals(0, corrected.code(), corrected.err());
        }
    }

    /**
     * Issue 32: --nproc-per-node beyond the machine's cores is refused naming them, and with torchrun's variables
     * already in the environment the conflict is named at once (it waited for the rendezvous timeout).
     */
    @Test
    void workerCountsAndEnvironmentConflictsAreNamed(@TempDir Path dir) throws Exception {
        Path good = pairs(dir, "good.jsonl", List.of(DpoCommandTest.pair("2+2?", "4", "5")));
        Path out = dir.resolve("out");
        String more = String.valueOf(Runtime.getRuntime().availableProcessors() + 1);
        CliRun many = CliRun.of("", dpo(model(), good, out, "--nproc-per-node", more, "--batch-size", more));
        assertEquals(2, many.code(), many.err());
        assertTrue(many.err().startsWith("drift dpo: --nproc-per-node " + more + " is more than this machine's "
                + Runtime.getRuntime().availableProcessors() + " cores"), many.err());
        assertFalse(Files.exists(out));
        List<String> command = CliRun.javaCommand(dpo(model(), good, out, "--nproc-per-node", "2"));
        ProcessBuilder b = new ProcessBuilder(command).redirectErrorStream(true);
        b.environment().put("WORLD_SIZE", "2");
        Process p = b.start();
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), said);
        assertEquals(2, p.exitValue(), said);
        assertTrue(said.contains("drift dpo: --nproc-per-node 2 starts its own workers, but the environment already "
                + "sets WORLD_SIZE=2"), said);
        assertFalse(Files.exists(out));

        // A rank started without rank 0: drift's one line, not c10d's native log of each connection try (29 lines,
        // with a native stack each time, came first); --verbose brings that log back.
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            port = free.getLocalPort();
        }
        for (boolean verbose : new boolean[] {false, true}) {
            List<String> alone = CliRun.javaCommand(dpo(model(), good, out, "--dist-timeout", "2"));
            if (verbose) {
                alone.add("--verbose");
            }
            ProcessBuilder r = new ProcessBuilder(alone).redirectErrorStream(true);
            r.environment().putAll(Map.of("RANK", "1", "LOCAL_RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR",
                    "127.0.0.1", "MASTER_PORT", String.valueOf(port)));
            Process rank1 = r.start();
            String log = new String(rank1.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(rank1.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), log);
            assertEquals(1, rank1.exitValue(), log);
            String line = "drift dpo: rank 1: the rendezvous at 127.0.0.1:" + port + " (MASTER_ADDR:MASTER_PORT) failed "
                    + "within 2 s";
            List<String> lines = log.strip().lines().filter(l -> !l.contains("SLF4J")).toList();
            if (verbose) {
                assertTrue(log.contains("[c10d]") && log.contains(line), log);
            } else {
                assertEquals(1, lines.size(), log);
                assertTrue(lines.get(0).startsWith(line), log);
            }
            assertFalse(Files.exists(out));
        }
    }

    /**
     * Issue 32: a folder where a file belongs, and a missing file opened as one, are named with exit 2 under the
     * command's whole name ("Is a directory" alone, exit 1, and "drift compare:" before).
     */
    @Test
    void foldersWhereFilesBelongAndMissingFilesAreNamed(@TempDir Path dir) throws Exception {
        Path folder = Files.createDirectories(dir.resolve("a-folder"));
        Path good = pairs(dir, "good.jsonl", List.of(DpoCommandTest.pair("2+2?", "4", "5")));
        CliRun pairsFolder = CliRun.of("", dpo(model(), folder, dir.resolve("o1")));
        assertEquals(2, pairsFolder.code(), pairsFolder.err());
        assertTrue(pairsFolder.err().startsWith("drift dpo: " + folder + " is a folder"), pairsFolder.err());
        CliRun prompts = CliRun.of("", "eval", "generate", "--model", model().toString(), "--prompts",
                folder.toString(), "--output", dir.resolve("o2").toString());
        assertEquals(2, prompts.code(), prompts.err());
        assertTrue(prompts.err().startsWith("drift eval generate: " + folder + " is a folder"), prompts.err());
        Path missing = dir.resolve("missing.jsonl");
        CliRun compare = CliRun.of("", "eval", "compare", "--a", missing.toString(), "--b", missing.toString(),
                "--reward-model", CliRun.parity("tiny-qwen2-reward").toString());
        assertEquals(2, compare.code(), compare.err());
        assertTrue(compare.err().startsWith("drift eval compare: " + missing), compare.err());
        Path broken = Files.createDirectories(dir.resolve("broken-model"));
        try (var files = Files.list(model())) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().equals("model.safetensors")) {
                    Files.copy(f, broken.resolve(f.getFileName()));
                }
            }
        }
        Files.createDirectories(broken.resolve("model.safetensors"));
        CliRun weights = CliRun.of("", dpo(broken, good, dir.resolve("o3")));
        assertEquals(2, weights.code(), weights.err());
        assertTrue(weights.err().contains(broken.resolve("model.safetensors") + ": a folder"), weights.err());
        // A run's metrics.jsonl made a folder, then resumed.
        Path out = dir.resolve("o4");
        CliRun first = CliRun.of("", dpo(model(), good, out, "--epochs", "2", "--save-steps", "1"));
        assertEquals(0, first.code(), first.err());
        Files.delete(out.resolve("metrics.jsonl"));
        Files.createDirectories(out.resolve("metrics.jsonl"));
        Files.delete(out.resolve("model.safetensors"));
        CliRun resumed = CliRun.of("", DpoCommandTest.concat(dpo(model(), good, out, "--epochs", "2", "--save-steps",
                "1"), "--resume"));
        assertEquals(2, resumed.code(), resumed.err());
        assertTrue(resumed.err().contains(out.resolve("metrics.jsonl") + " is a folder"), resumed.err());
    }

    /** Issue 32: what was silently accepted: mining an empty log, a quickstart of -5 conversations. */
    @Test
    void emptyLogsAndNegativeCountsAreRefused(@TempDir Path dir) throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.jsonl"), "");
        CliRun mine = CliRun.of("", "mine", "--logs", empty.toString(), "--output", dir.resolve("m").toString());
        assertEquals(2, mine.code(), mine.err());
        assertEquals("drift mine: --logs " + empty + " holds no records", mine.err().strip());
        assertFalse(Files.exists(dir.resolve("m")));
        CliRun quickstart = CliRun.of("", "quickstart", "--conversations", "-5", "--output",
                dir.resolve("q").toString());
        assertEquals(2, quickstart.code(), quickstart.err());
        assertEquals("drift quickstart: --conversations must be at least 1, got -5", quickstart.err().strip());
        assertFalse(Files.exists(dir.resolve("q")));
    }

    /** Issue 32: a LoRA rank above what the model's layers can use is refused with what it would cost. */
    @Test
    void aLoraRankTheModelCannotUseIsRefused(@TempDir Path dir) throws Exception {
        Path good = pairs(dir, "good.jsonl", List.of(DpoCommandTest.pair("2+2?", "4", "5")));
        CliRun dpo = CliRun.of("", dpo(model(), good, dir.resolve("o"), "--lora-r", "100000"));
        assertEquals(2, dpo.code(), dpo.err());
        assertTrue(dpo.err().startsWith("drift dpo: --lora-r: LoRA rank (r) 100000 is more than "), dpo.err());
        assertTrue(dpo.err().contains(" MB in fp32"), dpo.err());
        assertFalse(Files.exists(dir.resolve("o")));
        Path mined = DriftCommandsTest.mine(dir);
        CliRun train = CliRun.of("", "train", "--model", model().toString(), "--data", mined.toString(), "--output",
                dir.resolve("t").toString(), "--max-new-tokens", "8", "--lora-r", "100000");
        assertEquals(2, train.code(), train.err());
        assertTrue(train.err().contains("--lora-r: LoRA rank (r) 100000 is more than "), train.err());
        assertFalse(Files.exists(dir.resolve("t")));
    }

    /**
     * Issue 32: what explore and eval compare found only after hours of sampling, or as an OutOfMemoryError: a chat
     * model as the reward model, a grid larger than the heap, replies longer than the model's positions, samples and
     * resamples beyond any use, each refused before work with exit 2.
     */
    @Test
    void exploreAndCompareRefuseBeforeWork(@TempDir Path dir) throws Exception {
        Path prompts = Files.writeString(dir.resolve("prompts.jsonl"), "{\"instruction\": \"Say hi.\"}\n");
        String reward = CliRun.parity("tiny-qwen2-reward").toString();
        String[][] cases = {
            {"--reward-model: " + model() + " is not a reward model", "--reward-model",
                model().toString()},
            {"--grid 100000 needs about", "--reward-model", reward, "--grid", "100000", "--max-new-tokens", "8"},
            {"--max-new-tokens 1000000 leaves no room", "--reward-model", reward, "--max-new-tokens", "1000000"},
            {"--samples must be in [1, 100000]", "--reward-model", reward, "--samples", "2147483647",
                "--max-new-tokens", "8"}};
        for (String[] c : cases) {
            List<String> a = new ArrayList<>(List.of("explore", "--prompts", prompts.toString(), "--method",
                    "m=" + model(), "--output", dir.resolve("e").toString()));
            a.addAll(Arrays.asList(c).subList(1, c.length));
            CliRun run = CliRun.of("", a.toArray(String[]::new));
            assertEquals(2, run.code(), run.err());
            assertTrue(run.err().startsWith("drift explore: " + c[0]), c[0] + " / " + run.err());
            assertEquals(1, run.err().strip().lines().count(), "one line, no picocli warning: " + run.err());
            assertFalse(Files.exists(dir.resolve("e")));
        }
        Path outputs = Files.writeString(dir.resolve("a.json"), "[]");
        CliRun resamples = CliRun.of("", "eval", "compare", "--a", outputs.toString(), "--b", outputs.toString(),
                "--reward-model", reward, "--resamples", "2147483647");
        assertEquals(2, resamples.code(), resamples.err());
        assertTrue(resamples.err().startsWith("drift eval compare: --resamples must be in [1, 1000000]"),
                resamples.err());
        CliRun chat = CliRun.of("", "eval", "compare", "--a", outputs.toString(), "--b", outputs.toString(),
                "--reward-model", model().toString());
        assertEquals(2, chat.code(), chat.err());
        assertTrue(chat.err().startsWith("drift eval compare: --reward-model: " + model() + " is not a reward model"),
                chat.err());
    }

    /**
     * Issue 32: an existing file as --output and a damaged run.json are named; a damaged newest checkpoint falls back
     * to the one before, says so, and the run still ends with the uninterrupted model, byte for byte.
     */
    @Test
    void damagedRecordsAreNamedAndADamagedCheckpointFallsBack(@TempDir Path dir) throws Exception {
        Path good = pairs(dir, "good.jsonl", List.of(DpoCommandTest.pair("2+2?", "4", "5"),
                DpoCommandTest.pair("3*3?", "9", "6")));
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        CliRun onFile = CliRun.of("", dpo(model(), good, file));
        assertEquals(2, onFile.code(), onFile.err());
        assertEquals("drift dpo: " + file + " already exists and is not a folder", onFile.err().strip());

        Path out = dir.resolve("out");
        String[] args = dpo(model(), good, out, "--batch-size", "1", "--epochs", "2", "--save-steps", "1",
                "--rpo-alpha", "0", "--learning-rate", "1e-3");
        CliRun whole = CliRun.of("", args);
        assertEquals(0, whole.code(), whole.err());
        byte[] uninterrupted = Files.readAllBytes(out.resolve("model.safetensors"));
        // The newest checkpoint's optimiser state cut short, the final model gone: as a crash while it was written.
        Path optimizer = out.resolve("checkpoint-4/optimizer.safetensors");
        Files.write(optimizer, Arrays.copyOf(Files.readAllBytes(optimizer), 100));
        Files.delete(out.resolve("model.safetensors"));
        java.io.PrintStream saved = System.err;
        java.io.ByteArrayOutputStream progress = new java.io.ByteArrayOutputStream();
        CliRun resumed;
        try {  // the trainer's progress goes to the process's standard error
            System.setErr(new java.io.PrintStream(progress, true, StandardCharsets.UTF_8));
            resumed = CliRun.of("", DpoCommandTest.concat(args, "--resume"));
        } finally {
            System.setErr(saved);
        }
        String said = progress.toString(StandardCharsets.UTF_8);
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(said.contains("resuming from the checkpoint before it (checkpoint-4 moved to "
                + "checkpoint-4.damaged)"), said);
        assertTrue(said.contains(optimizer.toString()), "the damaged file is named: " + said);
        assertTrue(Files.isDirectory(out.resolve("checkpoint-4.damaged")));
        assertTrue(Arrays.equals(uninterrupted, Files.readAllBytes(out.resolve("model.safetensors"))),
                "resumed from checkpoint-3 to the uninterrupted model");

        Path record = out.resolve("run.json");
        Files.writeString(record, Files.readString(record).substring(0, 40));
        CliRun damaged = CliRun.of("", DpoCommandTest.concat(args, "--resume"));
        assertEquals(2, damaged.code(), damaged.err());
        assertTrue(damaged.err().startsWith("drift dpo: " + record + ": not valid JSON"), damaged.err());
    }

    /** Issue 32: an output is never an input, inside one or around one; each refusal names both. */
    @Test
    void anOutputIsNeverAnInput(@TempDir Path dir) throws Exception {
        Path good = pairs(dir, "good.jsonl", List.of(DpoCommandTest.pair("2+2?", "4", "5")));
        CliRun around = CliRun.of("", dpo(model(), good, dir));
        assertEquals(2, around.code(), around.err());
        assertTrue(around.err().contains("the output folder " + dir + " contains the pairs file (--pairs) " + good),
                around.err());
        Path mined = DriftCommandsTest.mine(dir);
        CliRun intoMined = CliRun.of("", dpo(model(), good, mined));
        assertEquals(2, intoMined.code(), intoMined.err());
        assertTrue(intoMined.err().contains(mined + " is what drift mine wrote"), intoMined.err());
        Path logs = Files.createDirectories(dir.resolve("logs"));
        Files.copy(Path.of("data/logs.jsonl"), logs.resolve("logs.jsonl"));
        CliRun mineIntoLogs = CliRun.of("", "mine", "--logs", logs.toString(), "--output", logs.toString());
        assertEquals(2, mineIntoLogs.code(), mineIntoLogs.err());
        assertTrue(mineIntoLogs.err().contains("is the --logs"), mineIntoLogs.err());
        assertEquals(List.of(logs.resolve("logs.jsonl")), Files.list(logs).toList(), "nothing written into the logs");
        CliRun intoJudge = CliRun.of("", "mine", "--logs", logs.toString(), "--detect", "judge", "--judge-model",
                model().toString(), "--output", model().resolve("mined").toString());
        assertEquals(2, intoJudge.code(), intoJudge.err());
        assertTrue(intoJudge.err().contains("is inside the --judge-model folder"), intoJudge.err());
        assertFalse(Files.exists(model().resolve("mined")));
        Path outputs = Files.writeString(dir.resolve("a.json"), "[]");
        CliRun compare = CliRun.of("", "eval", "compare", "--a", outputs.toString(), "--b", outputs.toString(),
                "--reward-model", CliRun.parity("tiny-qwen2-reward").toString(), "--output", outputs.toString());
        assertEquals(2, compare.code(), compare.err());
        assertTrue(compare.err().contains("--output " + outputs + " is the file of --"), compare.err());
        assertEquals("[]", Files.readString(outputs));
    }

    /**
     * Issue 32: eval generate refuses what eval compare would then reject or mis-pair (a repeated instruction or
     * session_id, a WildBench record without one) and a reply limit beyond the model's positions.
     */
    @Test
    void evalGenerateRefusesPromptsTheBenchmarksCannotMatch(@TempDir Path dir) throws Exception {
        String[][] cases = {
            {"{\"instruction\": \"Say hi.\"}\n{\"instruction\": \"Say hi.\"}\n", "prompts 1 and 2 have the "
                + "instruction \"Say hi.\""},
            {"{\"session_id\": \"s1\", \"conversation_input\": [{\"role\": \"user\", \"content\": \"a\"}]}\n"
                + "{\"session_id\": \"s1\", \"conversation_input\": [{\"role\": \"user\", \"content\": \"b\"}]}\n",
                "prompts 1 and 2 have the id s1"},
            {"{\"conversation_input\": [{\"role\": \"user\", \"content\": \"a\"}]}\n", ":1: field "
                + "\"session_id\": a WildBench record needs its session_id"}};
        for (String[] c : cases) {
            Path prompts = Files.writeString(dir.resolve("prompts.jsonl"), c[0]);
            CliRun run = CliRun.of("", "eval", "generate", "--model", model().toString(), "--prompts",
                    prompts.toString(), "--output", dir.resolve("g").toString(), "--max-new-tokens", "4");
            assertEquals(2, run.code(), run.err());
            assertTrue(run.err().startsWith("drift eval generate: " + prompts) && run.err().contains(c[1]),
                    c[1] + " / " + run.err());
            assertFalse(Files.exists(dir.resolve("g")));
        }
        Path prompts = Files.writeString(dir.resolve("prompts.jsonl"), "{\"instruction\": \"Say hi.\"}\n");
        CliRun long_ = CliRun.of("", "eval", "generate", "--model", model().toString(), "--prompts",
                prompts.toString(), "--output", dir.resolve("g").toString(), "--max-new-tokens", "1000000");
        assertEquals(2, long_.code(), long_.err());
        assertTrue(long_.err().startsWith("drift eval generate: --max-new-tokens 1000000 leaves no room"),
                long_.err());
    }

    /**
     * Issue 32: eval compare refuses what WildBench's evaluation would (an output that is a string, not a list) and
     * two files whose same session_id follows different chat histories.
     */
    @Test
    void evalCompareRefusesOutputsWildBenchWouldNot(@TempDir Path dir) throws Exception {
        String reward = CliRun.parity("tiny-qwen2-reward").toString();
        Path list = Files.writeString(dir.resolve("a.json"), "[{\"session_id\": \"s1\", \"chat_history\": "
                + "[\"hi\"], \"output\": [\"hello\"]}]");
        Path string = Files.writeString(dir.resolve("b.json"), "[{\"session_id\": \"s1\", \"chat_history\": "
                + "[\"hi\"], \"output\": \"hello\"}]");
        Path other = Files.writeString(dir.resolve("c.json"), "[{\"session_id\": \"s1\", \"chat_history\": "
                + "[\"bye\"], \"output\": [\"see you\"]}]");
        CliRun s = CliRun.of("", "eval", "compare", "--a", list.toString(), "--b", string.toString(),
                "--reward-model", reward);
        assertEquals(2, s.code(), s.err());
        assertTrue(s.err().startsWith("drift eval compare: ") && s.err().contains(string + ": record 0 needs")
                && s.err().contains("a non-empty list of strings"), s.err());
        CliRun d = CliRun.of("", "eval", "compare", "--a", list.toString(), "--b", other.toString(),
                "--reward-model", reward);
        assertEquals(2, d.code(), d.err());
        assertTrue(d.err().contains("--a and --b answer \"s1\" after different chat histories"), d.err());
    }

    /**
     * Issue 32: a PEFT adapter for another kind of model (task_type SEQ_CLS) is refused naming the field; a regular
     * expression for target_modules is taken when the weights adapt its modules in every layer, as drift applies them.
     */
    @Test
    void adaptersForAnotherModelAreRefused(@TempDir Path dir) throws Exception {
        Path adapter = Files.createDirectories(dir.resolve("adapter"));
        try (var files = Files.list(CliRun.parity("tiny-qwen2-lora"))) {
            for (Path f : files.toList()) {
                Files.copy(f, adapter.resolve(f.getFileName()));
            }
        }
        Path config = adapter.resolve("adapter_config.json");
        String original = Files.readString(config);
        String model = CliRun.parity("tiny-qwen2").toString();
        Files.writeString(config, original.replace("\"task_type\": \"CAUSAL_LM\"", "\"task_type\": \"SEQ_CLS\""));
        CliRun seqCls = CliRun.of("{\"input_ids\": [1, 2, 3]}\n", "logprobs", "--model", model, "--adapter",
                adapter.toString());
        assertEquals(2, seqCls.code(), seqCls.err());
        assertTrue(seqCls.err().contains("task_type") && seqCls.err().contains("'SEQ_CLS' is an adapter for another "
                + "kind of model"), seqCls.err());
        Files.writeString(config, original.replaceAll("\"target_modules\": \\[[^\\]]*\\]",
                "\"target_modules\": \".*[.](q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\""));
        CliRun regex = CliRun.of("{\"input_ids\": [1, 2, 3]}\n", "logprobs", "--model", model, "--adapter",
                adapter.toString());
        assertEquals(0, regex.code(), regex.err());
    }

    @Test
    void verboseShowsTheStackTraceAndTheSameExitCode(@TempDir Path dir) {
        CliRun quiet = CliRun.of("", "logprobs", "--model", dir.resolve("nowhere").toString());
        CliRun verbose = CliRun.of("", "logprobs", "--model", dir.resolve("nowhere").toString(), "--verbose");
        assertEquals(2, quiet.code(), quiet.err());
        assertEquals(2, verbose.code(), verbose.err());
        assertFalse(quiet.err().contains("\tat "), quiet.err());
        assertTrue(verbose.err().contains("\tat "), verbose.err());
        assertTrue(quiet.err().contains("nowhere"), quiet.err());
    }
}
