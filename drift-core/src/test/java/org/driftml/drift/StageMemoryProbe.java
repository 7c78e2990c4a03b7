package org.driftml.drift;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.driftml.output.Progress;
import org.driftml.kernels.NativeHeap;
import org.driftml.model.spec.Precision;
import org.driftml.model.RandomWeights;

/**
 * Runs DRIFT (bf16, warm start + 3 iterations) on a random Qwen2 of about 9.6M parameters and prints the C heap's
 * live bytes as each stage starts and after the run: {@code heap STAGE BYTES}. {@link StageMemoryTest} runs it in a
 * JVM whose garbage collector frees no native memory, so only explicit frees count.
 *
 * <pre>java -Dorg.bytedeco.javacpp.nopointergc=true ... StageMemoryProbe WORK_DIR</pre>
 */
public final class StageMemoryProbe {
    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        Path model = Files.createDirectories(work.resolve("model"));
        try (Stream<Path> files = Files.list(DriftTrainerTest.model())) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().equals("model.safetensors")) {
                    Files.copy(f, model.resolve(f.getFileName()));
                }
            }
        }
        // The tiny chat model's tokenizer and template, with layers large enough that one stage's models and
        // optimiser state (19 MB of bf16 weights, 38 MB each of fp32 masters and squared averages) dwarf the
        // JVM's own malloc traffic (about +-10 MB between stages).
        String config = Files.readString(model.resolve("config.json"))
                .replace("\"hidden_size\": 64", "\"hidden_size\": 512")
                .replace("\"intermediate_size\": 128", "\"intermediate_size\": 1024")
                .replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 4")
                .replace("\"full_attention\",\n    \"full_attention\"",
                        "\"full_attention\", \"full_attention\", \"full_attention\", \"full_attention\"");
        Files.writeString(model.resolve("config.json"), config);
        RandomWeights.write(model, 0, 0.02);

        // A learning rate at which three iterations leave this random model sampling text: at 1e-3 it can learn to
        // end every sample at once (each then equal to nothing, every pair dropped), which is not what this measures.
        DriftConfig base = DriftTrainerTest.config();
        DriftConfig c = base.withDpo(base.warmStart().withLearningRate(1e-5), base.iteration().withLearningRate(1e-5))
                .withIterations(3).withRun(Precision.BF16, 0, 1, 7);
        DriftTrainer trainer = DriftTrainerTest.quiet(c).progress(new Progress() {
            @Override
            public void stageStarting(String stage) {
                System.out.println("heap " + stage + " " + NativeHeap.bytesInUse());
            }
        });
        trainer.train(model, DriftTrainerTest.logs(), work.resolve("out"));
        System.out.println("heap end " + NativeHeap.bytesInUse());
    }
}
