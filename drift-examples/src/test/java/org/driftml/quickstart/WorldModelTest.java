package org.driftml.quickstart;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorldModelTest {
    @Test
    void theOwnTokenizerEncodesAsTransformersDoes(@TempDir Path dir) throws Exception {
        Path folder = WorldModel.write(dir.resolve("m"), WorldModel.Size.DEFAULT, 0);
        try (Policy p = Policy.load(folder, Precision.FP32)) {
            // transformers 5.18, AutoTokenizer.from_pretrained(folder).apply_chat_template(..., add_generation_prompt=True)
            long[] expected = {439, 117, 115, 101, 114, 10, 258, 260, 278, 264, 268, 287, 32, 52, 294, 280, 284, 277, 307,
                    46, 440, 10, 439, 97, 115, 115, 105, 115, 116, 97, 110, 116, 10};
            assertArrayEquals(expected, p.encodeChat(List.of(
                    ChatMessage.user("Give me a word that has 4 letters and ends with d."))));
            // Replies stay letter by letter, so the constraints are visible to the model.
            assertArrayEquals(new long[] {100, 117, 115, 116}, p.encodeText("dust"));
            assertEquals(Long.valueOf(438), p.padId());
            assertEquals(java.util.Set.of(440L), p.endIds());
            assertEquals(441, p.decoder().config().vocabSize());
        }
    }
}
