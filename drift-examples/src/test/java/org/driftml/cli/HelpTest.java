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

    @Test
    void unknownOptionsAndMissingArgumentsExitTwo() {
        assertEquals(2, CliRun.of("", "train", "--bogus").code());
        assertEquals(2, CliRun.of("", "mine").code());  // --logs and --output are required
    }
}
