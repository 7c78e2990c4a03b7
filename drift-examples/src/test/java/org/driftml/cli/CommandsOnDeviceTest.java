package org.driftml.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.internal.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every model-loading command with {@code --device testdevice}: the same output as on the CPU (generate and
 * logprobs bit for bit; dpo, warmstart and train to the generic ops' tolerance), and a clear error for a device
 * this build cannot use.
 */
@Tag("testdevice")
class CommandsOnDeviceTest {
    @BeforeAll
    static void install() {
        Torch.device(ComputeDevice.TEST);
    }

    static CliRun both(String stdin, String... args) {
        CliRun cpu = CliRun.of(stdin, args);
        String[] onDevice = java.util.Arrays.copyOf(args, args.length + 2);
        onDevice[args.length] = "--device";
        onDevice[args.length + 1] = "testdevice";
        CliRun dev = CliRun.of(stdin, onDevice);
        assertEquals(0, cpu.code(), cpu.err());
        assertEquals(0, dev.code(), dev.err());
        assertEquals(cpu.out(), dev.out(), String.join(" ", args));
        return dev;
    }

    @Test
    void generateAndLogprobsOnTheDeviceEqualTheCpu() {
        String model = CliRun.parity("tiny-qwen2-chat").toString();
        String prompts = "{\"input_ids\": [257, 85, 83, 68]}\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n";
        both(prompts, "generate", "--model", model, "--max-new-tokens", "6");
        CliRun sampled = both(prompts, "generate", "--model", model, "--max-new-tokens", "6", "--temperature", "0.7",
                "--top-p", "0.9", "--seed", "5");
        assertTrue(sampled.out().contains("\"logprobs\""), sampled.out());
        both("{\"input_ids\": [257, 85, 83, 68, 90, 91], \"completion_start\": 2}\n", "logprobs", "--model", model);
    }

    @Test
    void dpoWarmstartAndTrainRunOnTheDevice(@TempDir Path dir) throws Exception {
        Path pairs = dir.resolve("pairs.jsonl"), out = dir.resolve("dpo");
        Files.write(pairs, List.of(DpoCommandTest.pair("2+2?", "4", "5"), DpoCommandTest.pair("3*3?", "9", "6")));
        CliRun dpo = CliRun.of("", "dpo", "--model", CliRun.parity("tiny-qwen2-chat").toString(), "--pairs",
                pairs.toString(), "--output", out.toString(), "--learning-rate", "1e-3", "--batch-size", "2",
                "--epochs", "2", "--rpo-alpha", "0", "--dtype", "bfloat16", "--device", "testdevice");
        assertEquals(0, dpo.code(), dpo.err());
        assertTrue(dpo.out().startsWith("trained 2 steps: loss 0.6931"), dpo.out());

        Path mined = DriftCommandsTest.mine(dir);
        Path run = dir.resolve("run");
        CliRun warm = CliRun.of("", DriftCommandsTest.args("warmstart", mined, run, "--device", "testdevice"));
        assertEquals(0, warm.code(), warm.err());
        CliRun train = CliRun.of("", DriftCommandsTest.args("train", mined, run, "--iterations", "1", "--device",
                "testdevice"));
        assertEquals(0, train.code(), train.err());
        assertTrue(train.out().contains("iteration-1  drift"), train.out());
        assertTrue(Files.exists(run.resolve("iteration-1/model.safetensors")));
    }

    @Test
    void anUnusableDeviceIsAClearErrorWithExitTwo() {
        CliRun unknown = CliRun.of("", "logprobs", "--model", CliRun.parity("tiny-qwen2").toString(), "--device",
                "tpu");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("--device: unknown device 'tpu'"), unknown.err());
        CliRun cuda = CliRun.of("", "logprobs", "--model", CliRun.parity("tiny-qwen2").toString(), "--device",
                "cuda");
        assertEquals(2, cuda.code());
        assertTrue(cuda.err().contains("CUDA is not available"), cuda.err());
    }
}
