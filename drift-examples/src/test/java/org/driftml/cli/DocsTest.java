package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The README and docs/ name only what exists: every {@code drift} command they show is one of the command line's,
 * with that command's options, and every option they name alone belongs to some command (or to another tool they
 * name). The README stays a guide that links every page.
 */
class DocsTest {
    private static final Path ROOT = Path.of("..");

    /** Options of other tools that the pages name, each with its tool: not drift's, so not checked against it. */
    private static final Map<String, String> OTHER_TOOLS = Map.ofEntries(
            Map.entry("--index-url", "pip"),
            Map.entry("--no-deps", "pip"),
            Map.entry("--check", "scripts/parity/make_lora_fixtures.py"),
            Map.entry("--lengths", "benchmarks/qwen05b-curve.sh"),
            Map.entry("--steps", "benchmarks' DpoStepBench and side-by-side scripts"),
            Map.entry("--trace-memory", "benchmarks' DpoStepBench"),
            Map.entry("--bf16", "benchmarks' side-by-side scripts"),
            Map.entry("--batch", "benchmarks' side-by-side scripts"),
            Map.entry("--a", "drift eval compare's A=..."),
            Map.entry("--b", "drift eval compare's B=..."));

    private static final Pattern COMMAND = Pattern.compile("(?:\\./drift|`drift)((?:[ \\t]+[^\\s`|#;&]+)*)");
    private static final Pattern LONE_OPTION = Pattern.compile("`(--[a-z][a-z0-9-]*)");

    @Test
    void theReadmeIsAGuideThatLinksEveryPage() throws IOException {
        String readme = Files.readString(ROOT.resolve("README.md"));
        long lines = readme.lines().count();
        assertTrue(lines <= 400, "README.md has " + lines + " lines; its topics belong in docs/");
        List<String> unlinked = new ArrayList<>();
        try (Stream<Path> pages = Files.list(ROOT.resolve("docs"))) {
            pages.filter(p -> p.toString().endsWith(".md")).forEach(p -> {
                if (!readme.contains("](docs/" + p.getFileName() + ")")) {
                    unlinked.add(p.getFileName().toString());
                }
            });
        }
        assertTrue(unlinked.isEmpty(), "docs pages the README does not link: " + unlinked);
        assertTrue(Files.exists(ROOT.resolve("CHANGELOG.md")), "CHANGELOG.md is missing");
    }

    @Test
    void everyCommandAndOptionTheDocsNameExists() throws IOException {
        CommandLine drift = Drift.commandLine();
        Set<String> everyOption = new TreeSet<>();
        collectOptions(drift, everyOption);
        List<String> wrong = new ArrayList<>();
        int commands = 0;
        for (Path page : pages()) {
            String text = Files.readString(page);
            String name = ROOT.relativize(page).toString();
            Matcher m = COMMAND.matcher(text);
            while (m.find()) {
                String[] words = m.group(1).trim().split("[ \\t]+");
                if (words.length == 0 || words[0].isEmpty() || !words[0].matches("[a-z-]+")) {
                    continue;  // "./drift" alone, or prose such as "`drift` builds ..."
                }
                commands++;
                if (words[0].equals("example")) {  // the launcher's, not picocli's: ./drift example CLASS ARGS
                    continue;
                }
                CommandLine command = drift;
                int i = 0;
                if (!words[0].startsWith("--")) {
                    command = drift.getSubcommands().get(words[0]);
                    if (command == null) {
                        wrong.add(name + ": no command \"drift " + words[0] + "\"");
                        continue;
                    }
                    i = 1;
                    if (i < words.length && command.getSubcommands().containsKey(words[i])) {
                        command = command.getSubcommands().get(words[i]);
                        i++;
                    }
                }
                for (; i < words.length; i++) {
                    String option = words[i].replaceFirst("=.*", "");
                    if (option.startsWith("--") && option.length() > 2 && !has(command.getCommandSpec(), option)) {
                        wrong.add(name + ": \"" + command.getCommandSpec().qualifiedName() + "\" has no option "
                                + option);
                    }
                }
            }
            Matcher o = LONE_OPTION.matcher(text);
            while (o.find()) {
                String option = o.group(1);
                if (!everyOption.contains(option) && !OTHER_TOOLS.containsKey(option)) {
                    wrong.add(name + ": no command has the option " + option);
                }
            }
        }
        assertTrue(commands >= 20, "found only " + commands + " drift commands in README.md and docs/");
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    private static boolean has(CommandSpec spec, String option) {
        for (CommandSpec s = spec; s != null; s = s.parent()) {  // --verbose is inherited from drift itself
            OptionSpec o = s.findOption(option);
            if (o != null && (s == spec || o.inherited() || o.scopeType() == CommandLine.ScopeType.INHERIT)) {
                return true;
            }
        }
        return false;
    }

    private static void collectOptions(CommandLine c, Set<String> into) {
        for (OptionSpec o : c.getCommandSpec().options()) {
            into.addAll(List.of(o.names()));
        }
        c.getSubcommands().values().forEach(s -> collectOptions(s, into));
    }

    private static List<Path> pages() throws IOException {
        List<Path> pages = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        return pages;
    }
}
