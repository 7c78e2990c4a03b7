package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.SafetensorsFile;
import org.driftml.model.internal.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA on the command line: drift dpo --lora-*, --adapter, --merge; generate and logprobs --adapter. */
class LoraCommandTest {
    private static final String SCORE = "{\"input_ids\": [257, 85, 83, 68, 81, 198, 72, 72], \"completion_start\": 6}\n";

    private static double logp(CliRun run) throws Exception {
        assertEquals(0, run.code(), run.err());
        return new ObjectMapper().readTree(run.out()).get("logp").asDouble();
    }

    @Test
    void dpoTrainsAdaptersThatLoadAsAnAdapterAndMergeIntoTheSameModel(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl"), out = dir.resolve("out");
        String model = CliRun.parity("tiny-qwen2-chat").toString();
        Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5"), DpoCommandTest.pair("3*3?", "9", "6")));
        CliRun run = CliRun.of("", "dpo", "--model", model, "--pairs", pairs.toString(), "--output", out.toString(),
                "--lora-r", "4", "--lora-alpha", "16", "--lora-target-modules", "q_proj,v_proj,down_proj",
                "--learning-rate", "1e-3", "--batch-size", "1", "--epochs", "2", "--rpo-alpha", "0", "--merge");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().startsWith("trained 4 steps: loss 0.6931"), run.out());  // the reference is the base
        assertTrue(run.out().contains("adapters (PEFT)"), run.out());
        assertTrue(Files.exists(out.resolve("adapter_model.safetensors")));
        assertFalse(Files.exists(out.resolve("model.safetensors")), "the adapters alone, as PEFT saves them");
        List<String> targets = new java.util.ArrayList<>();
        new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile()).get("target_modules")
                .forEach(t -> targets.add(t.asText()));
        assertEquals(List.of("q_proj", "v_proj", "down_proj"), targets);
        double base = logp(CliRun.of(SCORE, "logprobs", "--model", model));
        double adapted = logp(CliRun.of(SCORE, "logprobs", "--model", model, "--adapter", out.toString()));
        double merged = logp(CliRun.of(SCORE, "logprobs", "--model", out.resolve("merged").toString()));
        assertTrue(Math.abs(adapted - base) > 1e-4, "the adapters trained: " + base + " -> " + adapted);
        assertEquals(adapted, merged, 1e-4, "the merged model computes base plus adapters");
        CliRun gen = CliRun.of("{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n", "generate", "--model",
                model, "--adapter", out.toString(), "--max-new-tokens", "3", "--greedy");
        assertEquals(0, gen.code(), gen.err());
        // Continuing the adapter: --adapter on dpo trains it further (into another folder).
        CliRun more = CliRun.of("", "dpo", "--model", model, "--pairs", pairs.toString(), "--output",
                dir.resolve("more").toString(), "--adapter", out.toString(), "--learning-rate", "1e-3",
                "--batch-size", "2", "--rpo-alpha", "0");
        assertEquals(0, more.code(), more.err());
        assertFalse(more.out().startsWith("trained 1 steps: loss 0.6931"), "the reference is the base, the policy "
                + "starts from the trained adapters: " + more.out());
    }

    @Test
    void badLoraOptionsAreRefusedNamingThemBeforeAnythingIsWritten(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl"), out = dir.resolve("out");
        String model = CliRun.parity("tiny-qwen2-chat").toString();
        Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5")));
        String[] base = {"dpo", "--model", model, "--pairs", pairs.toString(), "--output", out.toString()};
        String[][] cases = {
            {"--lora-alpha", "16"},                                      // without --lora-r
            {"--lora-r", "0"},
            {"--lora-r", "4", "--lora-target-modules", "q_proj,qkv_proj"},
            {"--lora-r", "4", "--lora-dropout", "1.5"},
            {"--merge"},                                                 // no adapters to merge
            {"--adapter", dir.toString()},                               // not an adapter folder
        };
        String[] named = {"--lora-r", "rank", "qkv_proj", "lora_dropout", "--merge", "--adapter"};
        for (int i = 0; i < cases.length; i++) {
            CliRun run = CliRun.of("", DpoCommandTest.concat(base, cases[i]));
            assertEquals(2, run.code(), String.join(" ", cases[i]) + ": " + run.err());
            assertTrue(run.err().contains(named[i]), String.join(" ", cases[i]) + ": " + run.err());
            assertFalse(run.err().contains("\tat "), "no stack trace: " + run.err());
            assertFalse(Files.exists(out), "nothing written for " + String.join(" ", cases[i]));
        }
        assertTrue(CliRun.of("", DpoCommandTest.concat(base, "--lora-r", "4", "--lora-target-modules",
                "q_proj,qkv_proj")).err().contains("gate_proj, up_proj, down_proj"), "the linear layers are listed");
        // An adapter made for another base (one B with 96 output rows where the model's up_proj has 128): the
        // tensor and both shapes are named.
        Path wrong = dir.resolve("wrong");
        Files.createDirectories(wrong);
        Path peft = CliRun.parity("tiny-qwen2-lora");
        Files.copy(peft.resolve("adapter_config.json"), wrong.resolve("adapter_config.json"));
        String key = "base_model.model.model.layers.1.mlp.up_proj.lora_B.weight";
        try (StepScope scope = StepScope.open()) {
            SafetensorsFile theirs = SafetensorsFile.open(peft.resolve("adapter_model.safetensors"));
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String k : theirs.tensors().keySet()) {
                tensors.put(k, k.equals(key) ? torch.zeros(new long[] {96, 4}) : theirs.read(k));
            }
            SafetensorsWriter.write(wrong.resolve("adapter_model.safetensors"), tensors, Map.of("format", "pt"));
        }
        CliRun other = CliRun.of(SCORE, "logprobs", "--model", model, "--adapter", wrong.toString());
        assertEquals(2, other.code(), other.err());
        assertTrue(other.err().contains("--adapter") && other.err().contains(key) && other.err().contains("[96, 4]")
                && other.err().contains("[128, 4]"), other.err());
    }
}
