package org.driftml.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.driftml.Fixtures;
import org.driftml.data.PreferencePair;
import org.driftml.text.ChatMessage;
import org.driftml.text.ChatTemplate;
import org.driftml.text.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PairTokenizerTest {
    static Tokenizer tokenizer;
    static ChatTemplate template;
    static final long IM_END = 151_645;

    @BeforeAll
    static void load() throws Exception {
        tokenizer = Tokenizer.load(Fixtures.qwen2Tokenizer());
        template = ChatTemplate.load(Fixtures.qwen2Tokenizer());
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    static final PreferencePair PAIR = PreferencePair.conversational(
            List.of(ChatMessage.user("Summarise Hamlet in one sentence.")),
            "A Danish prince avenges his father and dies.", "Hamlet is a comedy.");

    @Test
    void promptIsTheGenerationPromptAndCompletionsEndAtImEnd() {
        PairTokenizer pt = new PairTokenizer(tokenizer, template, Set.of(IM_END), 1024, 2048);
        PairTokenizer.TokenizedPair t = pt.tokenize(PAIR, 0);
        assertArrayEquals(tokenizer.encode(template.render(PAIR.prompt(), true)), t.prompt());
        assertEquals("A Danish prince avenges his father and dies.<|im_end|>", tokenizer.decode(t.chosen(), false));
        assertEquals("Hamlet is a comedy.<|im_end|>", tokenizer.decode(t.rejected(), false));
        assertEquals(IM_END, t.chosen()[t.chosen().length - 1]);
        // prompt + completion is exactly the start of the full rendered conversation's tokens.
        long[] full = tokenizer.encode(template.render(List.of(PAIR.prompt().get(0), ChatMessage.assistant(PAIR.chosen())),
                false));
        long[] joined = new long[t.prompt().length + t.chosen().length];
        System.arraycopy(t.prompt(), 0, joined, 0, t.prompt().length);
        System.arraycopy(t.chosen(), 0, joined, t.prompt().length, t.chosen().length);
        assertArrayEquals(Arrays.copyOf(full, joined.length), joined);
        assertEquals(0, pt.truncatedCount());
    }

    @Test
    void truncatesLikeTrlAndCountsIt() {
        PairTokenizer untouched = new PairTokenizer(tokenizer, template, Set.of(IM_END), 1024, 2048);
        PairTokenizer.TokenizedPair whole = untouched.tokenize(PAIR, 0);
        PairTokenizer pt = new PairTokenizer(tokenizer, template, Set.of(IM_END), 6, 9);
        PairTokenizer.TokenizedPair t = pt.tokenize(PAIR, 0);
        assertArrayEquals(Arrays.copyOfRange(whole.prompt(), whole.prompt().length - 6, whole.prompt().length), t.prompt(),
                "the prompt keeps its last tokens");
        assertArrayEquals(Arrays.copyOf(whole.chosen(), 3), t.chosen(), "the completion keeps its first tokens");
        assertTrue(t.truncated());
        assertEquals(1, pt.truncatedCount());
    }

    /**
     * TRL 1.13's keep_start truncation against TRL itself (scripts/parity/make_truncation_fixture.py: its dataset
     * filter and DataCollatorForPreference on TRL-tokenised conversational pairs, at five max_length values): the
     * same pairs dropped, and the same prompt and completions left.
     */
    @Test
    void keepStartTruncatesAndDropsAsTrl113() throws Exception {
        var fixture = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                PairTokenizerTest.class.getResource("/parity/trl-dpo-truncation.json"));
        int kept = 0, dropped = 0;
        for (var c : fixture.get("cases")) {
            var e = fixture.get("examples").get(c.get("pair").asInt());
            PairTokenizer pt = PairTokenizer.keepStart(tokenizer, template, Set.of(IM_END), c.get("max_length").asInt());
            PairTokenizer.TokenizedPair t = pt.truncate(ids(e.get("prompt_ids")), ids(e.get("chosen_ids")),
                    ids(e.get("rejected_ids")));
            String at = "pair " + c.get("pair") + " at max_length " + c.get("max_length");
            if (!c.get("kept").asBoolean()) {
                assertEquals(null, t, at + ": TRL drops it");
                assertEquals(1, pt.droppedCount(), at);
                dropped++;
                continue;
            }
            kept++;
            assertArrayEquals(ids(c.get("prompt_ids")), t.prompt(), at + " prompt");
            assertArrayEquals(ids(c.get("prompt_ids_rejected")), t.prompt(), at + " prompt (rejected row)");
            assertArrayEquals(ids(c.get("chosen_ids")), t.chosen(), at + " chosen");
            assertArrayEquals(ids(c.get("rejected_ids")), t.rejected(), at + " rejected");
            boolean cut = t.chosen().length < e.get("chosen_ids").size()
                    || t.rejected().length < e.get("rejected_ids").size();
            assertEquals(cut, t.truncated(), at);
        }
        assertTrue(kept >= 5 && dropped >= 3, kept + " kept, " + dropped + " dropped: both rules exercised");
    }

    @Test
    void aTemplateThatBreaksThePrefixIsNamedWithThePairIndex() {
        ChatTemplate odd = ChatTemplate.of("{% for m in messages %}{{ m.role }}{% endfor %}"
                + "{% if add_generation_prompt %}<gen>{% endif %}");
        PairTokenizer pt = new PairTokenizer(tokenizer, odd, Set.of(IM_END), 1024, 2048);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> pt.tokenize(List.of(PAIR, PAIR)));
        assertTrue(e.getMessage().startsWith("pair 0: the prompt's tokens are not a prefix of prompt + chosen"),
                e.getMessage());
    }

    @Test
    void plainPairsAreTokenizedWithoutTheTemplate() {
        PairTokenizer pt = new PairTokenizer(tokenizer, template, Set.of(IM_END), 1024, 2048);
        PairTokenizer.TokenizedPair t = pt.tokenize(PreferencePair.plain("2+2=", "4", "5"), 0);
        assertArrayEquals(tokenizer.encode("2+2="), t.prompt());
        assertArrayEquals(tokenizer.encode("4"), t.chosen());
    }

    /**
     * TRL 1.13's DPOTrainer on the same pairs (scripts/parity/make_dpo_tokenization_fixture.py): identical prompt ids;
     * identical completions through <|im_end|>. TRL's completion also carries the template's "\n" after <|im_end|>,
     * which drift leaves out: the completion ends at its end token.
     */
    @Test
    void tokenisationEqualsTrlsThroughTheEndToken() throws Exception {
        var fixture = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                PairTokenizerTest.class.getResource("/parity/trl-dpo-tokenization.json"));
        PairTokenizer pt = new PairTokenizer(tokenizer, template, Set.of(IM_END), 1024, 2048);
        int i = 0;
        for (var c : fixture.get("cases")) {
            List<ChatMessage> prompt = new java.util.ArrayList<>();
            c.get("prompt").forEach(m -> prompt.add(new ChatMessage(m.get("role").asText(), m.get("content").asText())));
            PreferencePair pair = PreferencePair.conversational(prompt, c.get("chosen").get(0).get("content").asText(),
                    c.get("rejected").get(0).get("content").asText());
            PairTokenizer.TokenizedPair t = pt.tokenize(pair, i++);
            assertArrayEquals(ids(c.get("prompt_ids")), t.prompt());
            for (String which : new String[] {"chosen", "rejected"}) {
                long[] trl = ids(c.get(which + "_ids"));
                long[] ours = which.equals("chosen") ? t.chosen() : t.rejected();
                assertArrayEquals(java.util.Arrays.copyOf(trl, trl.length - 1), ours, which);
                assertEquals(IM_END, ours[ours.length - 1]);
                assertEquals(198, trl[trl.length - 1]);  // TRL's extra token: the template's newline
            }
        }
        assertEquals(4, i);
    }

    private static long[] ids(com.fasterxml.jackson.databind.JsonNode a) {
        long[] out = new long[a.size()];
        for (int k = 0; k < out.length; k++) {
            out[k] = a.get(k).asLong();
        }
        return out;
    }
}
