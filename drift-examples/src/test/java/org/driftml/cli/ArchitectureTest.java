package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The house's floors, read from the sources of every module: small files, no package that depends on itself through
 * another, and the engine (org.driftml.model.internal) out of the front doors and benchmarks.
 */
class ArchitectureTest {
    private static final Path ROOT = Path.of("..");
    private static final List<String> MODULES = List.of("drift-native", "drift-core", "drift-examples", "benchmarks");
    private static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    private static final Pattern REFERENCE = Pattern.compile("\\b(org\\.driftml(?:\\.[a-z]\\w*)+)\\.[A-Z]");

    /**
     * Benchmarks that measure the engine itself (a DPO step, the oneDNN cache, decoding without the KV cache) reach it
     * through {@code Policy.decoder()}, the documented way under {@code Policy}; the command line never does.
     */
    private static final Set<String> MEASURE_THE_ENGINE = Set.of(
            "benchmarks/src/main/java/org/driftml/bench/DpoStepBench.java",
            "benchmarks/src/main/java/org/driftml/bench/GenerationBenchmark.java",
            "benchmarks/src/main/java/org/driftml/bench/OnednnCacheBench.java");

    @Test
    void noMainFileHoldsTwoIdeas() throws IOException {
        List<String> large = new ArrayList<>();
        for (Path f : mainSources()) {
            long lines = Files.readAllLines(f).size();
            if (lines > 500) {
                large.add(ROOT.relativize(f) + " (" + lines + " lines)");
            }
        }
        assertTrue(large.isEmpty(), "main files over 500 lines: " + large);
    }

    @Test
    void noPackageDependsOnItselfThroughAnother() throws IOException {
        Map<String, Set<String>> edges = new TreeMap<>();
        for (Path f : mainSources()) {
            String src = code(f);
            Matcher p = PACKAGE.matcher(src);
            if (!p.find()) {
                continue;
            }
            Set<String> to = edges.computeIfAbsent(p.group(1), k -> new TreeSet<>());
            Matcher r = REFERENCE.matcher(src);
            while (r.find()) {
                if (!r.group(1).equals(p.group(1))) {
                    to.add(r.group(1));
                }
            }
        }
        List<String> cycles = new ArrayList<>();
        for (String start : edges.keySet()) {
            List<String> path = cycleFrom(start, start, edges, new ArrayList<>(List.of(start)), new TreeSet<>());
            if (path != null) {
                cycles.add(String.join(" -> ", path));
            }
        }
        assertTrue(cycles.isEmpty(), "package cycles:\n" + String.join("\n", cycles));
        assertTrue(edges.size() >= 15, "read only " + edges.size() + " packages");
    }

    @Test
    void theFrontDoorsAndBenchmarksStayOffTheEngine() throws IOException {
        Set<String> importing = new TreeSet<>(), reaching = new TreeSet<>();
        for (Path f : mainSources()) {
            String rel = ROOT.relativize(f).toString().replace('\\', '/');
            if (rel.startsWith("drift-examples/src/main/") || rel.startsWith("benchmarks/")) {
                String code = code(f);
                if (code.contains("org.driftml.model.internal.")) {
                    importing.add(rel);
                }
                if (code.contains(".decoder()")) {
                    reaching.add(rel);
                }
            }
        }
        assertEquals(Set.of(), importing,
                "files under drift-examples/src/main and benchmarks/ that import org.driftml.model.internal");
        assertEquals(new TreeSet<>(MEASURE_THE_ENGINE), reaching,
                "files under drift-examples/src/main and benchmarks/ that reach the engine through Policy.decoder()");
    }

    /** A path back to {@code target} from {@code at}, or null. */
    private static List<String> cycleFrom(String target, String at, Map<String, Set<String>> edges, List<String> path,
            Set<String> seen) {
        for (String next : edges.getOrDefault(at, Set.of())) {
            if (next.equals(target)) {
                List<String> found = new ArrayList<>(path);
                found.add(next);
                return found;
            }
            if (seen.add(next)) {
                path.add(next);
                List<String> found = cycleFrom(target, next, edges, path, seen);
                if (found != null) {
                    return found;
                }
                path.remove(path.size() - 1);
            }
        }
        return null;
    }

    /** The source without its comments: a javadoc link is no dependency. */
    private static String code(Path f) throws IOException {
        return Files.readString(f).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
    }

    private static List<Path> mainSources() throws IOException {
        List<Path> files = new ArrayList<>();
        for (String module : MODULES) {
            Path main = ROOT.resolve(module).resolve("src/main/java");
            if (Files.isDirectory(main)) {
                try (Stream<Path> s = Files.walk(main)) {
                    s.filter(p -> p.toString().endsWith(".java")).forEach(files::add);
                }
            }
        }
        assertTrue(files.size() > 100, "found only " + files.size() + " main sources");
        return files;
    }
}
