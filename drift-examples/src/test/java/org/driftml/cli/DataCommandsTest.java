package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.SafetensorsFile;
import org.junit.jupiter.api.Test;

/** drift tokenize / logprobs / generate: the JSON Lines protocol, and results against transformers. */
class DataCommandsTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void tokenizeAnswersEveryLineAndNamesTheBadOnes() throws IOException {
        JsonNode cases = JSON.readTree(CliRun.parity("qwen2-tokenizer-cases.json").toFile()).get("cases");
        JsonNode hello = cases.get(2);  // "Hello, world!"
        CliRun run = CliRun.of("{\"text\": \"Hello, world!\"}\n{not json\n\n{\"text\": 5}\n{\"text\": \"" + "a".repeat(3)
                + "\"}\n", "tokenize", "--tokenizer", CliRun.qwen2Tokenizer().toString());
        String[] lines = run.lines();
        assertEquals(4, lines.length, run.out());
        assertEquals(hello.get("ids"), JSON.readTree(lines[0]).get("ids"));
        assertTrue(JSON.readTree(lines[1]).get("error").asText().startsWith("line 2: not valid JSON"), lines[1]);
        assertEquals("line 4: \"text\" must be a string", JSON.readTree(lines[2]).get("error").asText());
        assertTrue(JSON.readTree(lines[3]).has("ids"));
        assertEquals(1, run.code(), "a failed line makes the exit code 1");
        assertTrue(run.err().contains("drift: line 2:"), run.err());
    }

    @Test
    void logprobsEqualTheSumOfTransformersLogSoftmax() throws IOException {
        SafetensorsFile ref = SafetensorsFile.open(CliRun.parity("tiny-qwen2-logits.safetensors"));
        try (StepScope step = StepScope.open()) {
            long[] ids = longs(ref.read("input_ids").select(0, 0));
            Tensor logits = ref.read("logits").select(0, 0).log_softmax(-1);  // transformers' own logits, row 0
            int k = 5;
            double expected = 0;
            for (int t = k; t < ids.length; t++) {
                expected += logits.get(t - 1).get(ids[t]).item_double();
            }
            CliRun run = CliRun.of("{\"input_ids\": " + JSON.writeValueAsString(ids) + ", \"completion_start\": " + k
                    + "}\n{\"input_ids\": [1, 999]}\n", "logprobs", "--model", CliRun.parity("tiny-qwen2").toString());
            JsonNode first = JSON.readTree(run.lines()[0]);
            assertEquals(expected, first.get("logp").asDouble(), 1e-4);
            assertEquals(ids.length - k, first.get("tokens").asInt());
            assertEquals("line 2: input_ids[1] = 999 is outside the vocabulary [0, 256)",
                    JSON.readTree(run.lines()[1]).get("error").asText());
        }
    }

    @Test
    void generateFromMessagesEqualsTransformersGreedyContinuation() throws IOException {
        JsonNode expected = JSON.readTree(CliRun.parity("tiny-qwen2-chat-expected.json").toFile());
        String line = JSON.writeValueAsString(JSON.createObjectNode().set("messages", expected.get("messages")));
        CliRun run = CliRun.of(line + "\n{\"input_ids\": [1, 2, 300]}\n" + line + "\n", "generate", "--model",
                CliRun.parity("tiny-qwen2-chat").toString(), "--greedy", "--max-new-tokens", "12");
        String[] lines = run.lines();
        assertEquals(3, lines.length, run.out() + run.err());
        JsonNode out = JSON.readTree(lines[0]);
        assertEquals(expected.get("greedy_ids"), out.get("output_ids"), out.toString());
        assertEquals(expected.get("greedy_text").asText(), out.get("text").asText());
        assertEquals(out.get("output_ids").size(), out.get("logprobs").size());
        assertEquals("line 2: input_ids[2] = 300 is outside the vocabulary [0, 259)",
                JSON.readTree(lines[1]).get("error").asText());
        assertEquals(out.get("output_ids"), JSON.readTree(lines[2]).get("output_ids"), "the next line is answered");
        assertEquals(1, run.code());
    }

    @Test
    void seededSamplingIsReproducibleFromTheCommandLine() {
        String line = "{\"input_ids\": [257, 85, 83, 68, 81, 198]}\n";
        String[] args = {"generate", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--temperature", "1.0",
                "--top-p", "0.95", "--max-new-tokens", "10", "--seed", "7"};
        CliRun a = CliRun.of(line, args), b = CliRun.of(line, args);
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), b.out());
    }

    private static long[] longs(Tensor t) {
        Tensor c = t.to(ScalarType.Long).contiguous();
        long[] out = new long[(int) c.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = c.get(i).item_long();
        }
        return out;
    }
}
