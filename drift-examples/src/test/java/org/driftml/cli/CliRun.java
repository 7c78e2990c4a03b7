package org.driftml.cli;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import picocli.CommandLine;

/** Runs the drift CLI in-process with the given stdin, capturing stdout, stderr and the exit code. */
record CliRun(int code, String out, String err) {
    static CliRun of(String stdin, String... args) {
        return of(stdin.getBytes(StandardCharsets.UTF_8), args);
    }

    /** With stdin given as bytes (for input that is not UTF-8). */
    static CliRun of(byte[] stdin, String... args) {
        InputStream saved = System.in;
        try {
            System.setIn(new ByteArrayInputStream(stdin));
            StringWriter out = new StringWriter(), err = new StringWriter();
            CommandLine cli = Drift.commandLine();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(err));
            int code = cli.execute(args);
            return new CliRun(code, out.toString(), err.toString());
        } finally {
            System.setIn(saved);
        }
    }

    /** {@code drift ARGS} as its own JVM (this test's classpath, a 512 MB heap): for kills, signals and environments. */
    static java.util.List<String> javaCommand(String... args) {
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(Path.of(
                System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m", "-cp",
                System.getProperty("java.class.path"), "org.driftml.cli.Drift"));
        command.addAll(java.util.List.of(args));
        return command;
    }

    String[] lines() {
        return out.strip().split("\n");
    }

    /** drift-core's committed parity fixtures (tests run with the module folder as working directory). */
    static Path parity(String name) {
        return Path.of("../drift-core/src/test/resources/parity", name).toAbsolutePath().normalize();
    }

    static Path qwen2Tokenizer() {
        return Path.of(System.getProperty("drift.fixtures"), "qwen2-tokenizer");
    }
}
