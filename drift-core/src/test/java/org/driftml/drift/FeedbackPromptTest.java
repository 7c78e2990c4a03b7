package org.driftml.drift;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.driftml.model.ParityFixtures;
import org.driftml.text.ChatMessage;
import org.junit.jupiter.api.Test;

/** The released script's y+ prompt and y+ cut, byte for byte (RELEASE-FACTS.md, "Generating y+"). */
class FeedbackPromptTest {
    @Test
    void theReleaseFactsExampleByteForByte() {
        // RELEASE-FACTS' example, its newlines written out.
        String expected = "Be brief.\n\nUser: Capital of Australia?\nAssistant: Sydney.\nUser: No, that's wrong.\n"
                + "System: Based on the user's latest feedback, please provide an improved response that addresses "
                + "their concerns.\nAssistant: ";
        assertEquals(expected, FeedbackPrompt.release(List.of(ChatMessage.system("Be brief."),
                ChatMessage.user("Capital of Australia?")), "Sydney.", "No, that's wrong."));
    }

    @Test
    void promptsAndPositivesAsTheDocumentedRulesGiveThem() throws Exception {
        JsonNode fixture = new ObjectMapper().readTree(ParityFixtures.folder("release-prompt.json").toFile());
        for (JsonNode c : fixture.get("cases")) {
            List<ChatMessage> prompt = new ArrayList<>();
            c.get("prompt").forEach(m -> prompt.add(new ChatMessage(m.get("role").asText(), m.get("content").asText())));
            assertEquals(c.get("prompt_text").asText(), FeedbackPrompt.release(prompt, c.get("rejected").asText(),
                    c.get("feedback").asText()), "prompt");
            String continuation = c.get("continuation_decoded").asText();
            assertEquals(c.get("positive").asText(), FeedbackPrompt.positive(continuation,
                    FeedbackPrompt.Style.RELEASE), "y+ of " + continuation);
        }
        // The other styles keep the whole continuation, stripped.
        assertEquals("Jubilant.\nAssistant: hi", FeedbackPrompt.positive(" Jubilant.\nAssistant: hi\n",
                FeedbackPrompt.Style.TRANSCRIPT));
    }

    @Test
    void theReleaseStyleSamplesFromThatTextWithoutATemplate() throws Exception {
        List<ChatMessage> x = List.of(ChatMessage.user("2+2?"));
        try (org.driftml.model.Policy policy = org.driftml.model.Policy.load(ParityFixtures.folder("tiny-qwen2-chat"),
                org.driftml.model.spec.Precision.FP32)) {
            org.driftml.data.DsatItem item = new org.driftml.data.DsatItem("a", x, "5", "Wrong.", "test");
            assertEquals(java.util.Arrays.toString(policy.encodeText(FeedbackPrompt.release(x, "5", "Wrong."))),
                    java.util.Arrays.toString(FeedbackPrompt.encode(policy, item, FeedbackPrompt.Style.RELEASE)));
        }
    }
}
