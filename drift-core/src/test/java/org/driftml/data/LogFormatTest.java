package org.driftml.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;
import org.driftml.settings.InvalidSettingException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mining as a library call: the format is a type, named on the command line as {@code --format} spells it. */
class LogFormatTest {
    @Test
    void theFormatIsATypeSpelledAsTheCommandLineSpellsIt() {
        assertEquals(LogFormat.WILDFEEDBACK_PREFERENCES, LogFormat.FORMAT.parse("wildfeedback-preferences"));
        assertEquals(LogFormat.DSAT, LogFormat.FORMAT.parse("dsat"));
        InvalidSettingException csv = assertThrows(InvalidSettingException.class, () -> LogFormat.FORMAT.parse("csv"));
        assertEquals("--format: must be wildfeedback, dsat, wildfeedback-preferences, ultrafeedback, release or served, got csv",
                csv.forOption());
    }

    @Test
    void releasedDsatRecordsAreMinedAsTheyAre(@TempDir Path dir) throws Exception {
        Path logs = dir.resolve("dsat.jsonl");
        Files.write(logs, List.of(
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Name a fruit.\"}], \"rejected\": [{\"role\": "
                        + "\"assistant\", \"content\": \"A carrot.\"}], \"user_preference\": {\"content\": "
                        + "\"That is a vegetable.\"}}",
                "{\"prompt\": \"no rejected here\"}"));
        LogFormat.Mining mining = LogFormat.DSAT.mine(logs, OnBadRecord.SKIP, UnaryOperator.identity());
        assertEquals(1, mining.mined().items().size());
        assertEquals("A carrot.", mining.mined().items().get(0).rejected());
        assertEquals("That is a vegetable.", mining.mined().items().get(0).feedback());
        assertEquals(1, mining.report().skipped());
        assertEquals(List.of(), mining.mined().seeds());
    }
}
