package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.driftml.drift.DriftConfig;
import org.driftml.settings.Setting;
import org.driftml.train.DpoConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * A DPO setting is declared once ({@code DpoConfig.ALL}); everything else follows from that declaration. Read over
 * every declared setting, so a new one is held to it without a line here: it is an option of drift dpo, drift train
 * and drift warmstart, described by its meaning and source, a {@code --config} key, a {@code run.json} entry, and a
 * bad value for it is refused with exit 2 naming its option (or the file and key).
 */
class SettingsDeclaredOnceTest {
    private static OptionSpec option(String command, Setting<?> s) {
        return Drift.commandLine().getSubcommands().get(command).getCommandSpec().findOption(s.option());
    }

    @Test
    void everyDpoSettingIsAnOptionAKeyAndARecordEntry() {
        for (Setting<?> s : DpoConfig.ALL) {
            for (String command : List.of("dpo", "train", "warmstart")) {
                if (s == DpoConfig.EPOCHS && !command.equals("dpo")) {
                    continue;  // the loop's epochs are --warmstart-epochs and one per iteration (paper Sec. 4)
                }
                OptionSpec o = option(command, s);
                assertNotNull(o, command + " has no " + s.option());
                String help = String.join(" ", o.description());
                // The loop commands show the paper recipe's value and source where the recipe names one.
                org.driftml.drift.Recipe.Value byRecipe = command.equals("dpo") ? null
                        : org.driftml.drift.Recipe.PAPER.value(s);
                String source = byRecipe != null ? byRecipe.source() : s.source();
                Object shown = byRecipe != null ? recorded(s, byRecipe.value()) : recorded(s, s.defaultValue());
                assertTrue(help.toLowerCase().contains(s.meaning().toLowerCase()) && help.contains(source)
                        && help.contains("default " + shown), command + " " + s.option() + ": " + help);
                for (String alias : s.aliases()) {
                    assertEquals(o, o.command().findOption(alias), alias);
                }
            }
            assertTrue(DpoConfig.iteration().settings().containsKey(s.key()), s.key());
        }
        // One name for one thing across commands: the old loop spelling still works.
        OptionSpec accumulation = option("train", DpoConfig.GRADIENT_ACCUMULATION);
        assertEquals(accumulation, accumulation.command().findOption("--accumulation"));
        assertEquals(option("dpo", DpoConfig.GRADIENT_ACCUMULATION).longestName(),
                option("train", DpoConfig.GRADIENT_ACCUMULATION).longestName());
    }

    private static <T> Object recorded(Setting<T> s, Object value) {
        return s.recorded(s.type().cast(value));
    }

    @Test
    void aBadValueIsRefusedNamingItsOptionOrItsKey(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl");
        Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5")));
        for (Setting<?> s : DpoConfig.ALL) {
            if (s.type() == Boolean.class) {
                continue;  // a flag has no value to get wrong
            }
            CliRun run = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                    pairs.toString(), "--output", dir.resolve("out").toString(), s.option(), "not-a-value");
            assertEquals(2, run.code(), s + ": " + run.err());
            assertTrue(run.err().contains(s.option()), s + ": " + run.err());
            Path config = dir.resolve(s.key() + ".yaml");
            Files.writeString(config, s.key() + ": not-a-value\n");
            CliRun file = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                    pairs.toString(), "--output", dir.resolve("out").toString(), "--config", config.toString());
            assertEquals(2, file.code(), s + ": " + file.err());
            assertTrue(file.err().contains(config + ": \"" + s.key() + "\""), s + ": " + file.err());
        }
        assertTrue(Files.notExists(dir.resolve("out")), "nothing is written before the settings are checked");
    }

    @Test
    void aValueOutOfRangeIsNamedByItsOwnOptionNotByItsMessage() {
        // batch 4 in 3 micro-batches: the accumulation is what cannot be, whichever command.
        CliRun run = CliRun.of("", "train", "--model", "m", "--data", "d", "--output", "o", "--batch-size", "4",
                "--accumulation", "3");
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().contains("--gradient-accumulation: must be a divisor of batch_size (4), got 3"),
                run.err());
        CommandLine.Model.CommandSpec train = Drift.commandLine().getSubcommands().get("train").getCommandSpec();
        assertNotNull(train.findOption(DriftConfig.TEMPERATURE.option()));
    }
}
