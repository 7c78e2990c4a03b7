package org.driftml;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

class FixturesTest {
    @Test
    void theRealQwen2TokenizerIsPresent() throws IOException {
        for (String name : new String[] {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"}) {
            assertTrue(Files.size(Fixtures.qwen2Tokenizer().resolve(name)) > 1000, name + " is not empty");
        }
        assertTrue(Files.readString(Fixtures.qwen2Tokenizer().resolve("tokenizer_config.json"))
                .contains("chat_template"), "tokenizer_config.json carries the chat template");
    }
}
