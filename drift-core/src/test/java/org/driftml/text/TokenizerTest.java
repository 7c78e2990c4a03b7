package org.driftml.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.driftml.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real Qwen2 tokenizer against Hugging Face tokenizers (scripts/parity/make_tokenizer_fixtures.py). */
class TokenizerTest {
    static JsonNode cases() throws IOException, URISyntaxException {
        return new ObjectMapper().readTree(Path.of(TokenizerTest.class.getResource(
                "/parity/qwen2-tokenizer-cases.json").toURI()).toFile()).get("cases");
    }

    static void assertEncodesLikeHf(Tokenizer tok) throws IOException, URISyntaxException {
        for (JsonNode c : cases()) {
            String text = c.get("text").asText();
            long[] expected = new ObjectMapper().convertValue(c.get("ids"), long[].class);
            assertArrayEquals(expected, tok.encode(text), () -> "ids of " + text);
            assertEquals(c.get("decoded").asText(), tok.decode(expected, false), () -> "decode of " + text);
            assertEquals(c.get("decoded_skip_special").asText(), tok.decode(expected, true),
                    () -> "decode (skip special) of " + text);
        }
    }

    @Test
    void theRealQwen2TokenizerEncodesAndDecodesExactlyAsHuggingFace() throws Exception {
        try (Tokenizer tok = Tokenizer.load(Fixtures.qwen2Tokenizer())) {
            assertEncodesLikeHf(tok);
            assertEquals(151_645, tok.tokenId("<|im_end|>").getAsLong());
            assertEquals(151_644, tok.tokenId("<|im_start|>").getAsLong());
            assertTrue(tok.tokenId("<|nope|>").isEmpty());
        }
    }

    @Test
    void aFolderWithOnlyVocabAndMergesEncodesTheSame(@TempDir Path dir) throws Exception {
        for (String f : new String[] {"vocab.json", "merges.txt", "tokenizer_config.json"}) {
            Files.copy(Fixtures.qwen2Tokenizer().resolve(f), dir.resolve(f));
        }
        try (Tokenizer tok = Tokenizer.load(dir)) {
            assertEncodesLikeHf(tok);
            assertEquals(151_645, tok.tokenId("<|im_end|>").getAsLong());
        }
    }

    @Test
    void foldersWithoutATokenizerSaySo(@TempDir Path dir) throws IOException {
        IOException none = assertThrows(IOException.class, () -> Tokenizer.load(dir));
        assertTrue(none.getMessage().contains("no tokenizer.json, and no vocab.json + merges.txt"), none.getMessage());
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0}");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"tokenizer_class\": \"LlamaTokenizer\"}");
        IOException kind = assertThrows(IOException.class, () -> Tokenizer.load(dir));
        assertTrue(kind.getMessage().contains("tokenizer_class 'LlamaTokenizer'"), kind.getMessage());
    }
}
