package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class HelpTest {
    @Test
    void everySubcommandHasHelpThatTeaches() {
        CommandLine root = Drift.commandLine();
        assertEquals(java.util.Set.of("env", "tokenize", "logprobs", "generate", "dpo", "mine", "warmstart", "train",
                "explore", "eval", "serve", "quickstart"), root.getSubcommands().keySet());
        for (String name : root.getSubcommands().keySet()) {
            CliRun run = CliRun.of("", name, "--help");
            assertEquals(0, run.code(), name);
            assertTrue(run.out().startsWith("Usage: drift " + name), run.out());
            // A description of what the command does, beyond the option list.
            String[] description = root.getSubcommands().get(name).getCommandSpec().usageMessage().description();
            assertTrue(description.length > 0 && description[0].length() > 20, name);
        }
        for (String sub : java.util.List.of("generate", "compare")) {
            CliRun run = CliRun.of("", "eval", sub, "--help");
            assertEquals(0, run.code(), sub);
            assertTrue(run.out().startsWith("Usage: drift eval " + sub), run.out());
        }
        CliRun top = CliRun.of("", "--help");
        assertEquals(0, top.code());
        assertTrue(top.out().contains("quickstart"), top.out());
    }

    /**
     * Issue 32: a usage error prints picocli's message and the usage, never a picocli warning (a bare % in a
     * description is a format error picocli reports on System.err, outside the command's own error stream).
     */
    @Test
    void usageErrorsPrintNoPicocliWarning() {
        java.io.PrintStream saved = System.err;
        java.io.ByteArrayOutputStream stray = new java.io.ByteArrayOutputStream();
        java.util.List<java.util.List<String>> commands = new java.util.ArrayList<>();
        Drift.commandLine().getSubcommands().forEach((name, sub) -> {
            commands.add(java.util.List.of(name));
            sub.getSubcommands().keySet().forEach(s -> commands.add(java.util.List.of(name, s)));
        });
        try {
            System.setErr(new java.io.PrintStream(stray, true, java.nio.charset.StandardCharsets.UTF_8));
            for (java.util.List<String> command : commands) {
                java.util.List<String> args = new java.util.ArrayList<>(command);
                args.add("--bogus");
                CliRun run = CliRun.of("", args.toArray(String[]::new));
                assertEquals(2, run.code(), command.toString());
                assertTrue(run.err().contains("Usage: drift " + String.join(" ", command)), run.err());
                assertTrue(!run.err().contains("picocli WARN"), command + ": " + run.err());
            }
        } finally {
            System.setErr(saved);
        }
        String warnings = stray.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(!warnings.contains("picocli WARN"), warnings);
        assertTrue(commands.size() >= 14, commands.toString());
    }

    @Test
    void unknownOptionsAndMissingArgumentsExitTwo() {
        assertEquals(2, CliRun.of("", "train", "--bogus").code());
        assertEquals(2, CliRun.of("", "mine").code());  // --logs and --output are required
    }
}
