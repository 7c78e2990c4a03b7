package org.driftml.model.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.spec.ModelConfig;
import org.driftml.model.ParityFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CheckpointTest {
    @ParameterizedTest(name = "{0}{1}")
    @CsvSource({"qwen2, ''", "qwen2, -bf16", "qwen2, -sharded", "llama, ''", "llama, -bf16", "llama, -sharded"})
    void readsEveryTensorTransformersWrote(String kind, String variant) throws IOException {
        Path folder = ParityFixtures.folder("tiny-" + kind + variant);
        JsonNode expected = new ObjectMapper().readTree(ParityFixtures.folder("tiny-" + kind + "-expected.json")
                .toFile()).get(variant.isEmpty() ? "fp32" : variant);
        ModelConfig config = ModelConfig.read(folder.resolve("config.json"));
        Checkpoint ckpt = Checkpoint.open(folder);
        ckpt.validate(config.expectedTensors());
        assertEquals(expected.size(), ckpt.size());
        try (StepScope step = StepScope.open()) {
            for (String name : ckpt.names()) {
                JsonNode e = expected.get(name);
                Tensor t = ckpt.load(name);
                assertEquals(e.get("dtype").asText().replace("bfloat16", "BFloat16").replace("float32", "Float"),
                        t.scalar_type().toString(), name);
                assertArrayEquals(new ObjectMapper().convertValue(e.get("shape"), long[].class),
                        t.sizes().vec().get(), name);
                double sum = t.to(ScalarType.Double).sum().item_double();
                assertEquals(e.get("sum").asDouble(), sum, 1e-9 * Math.max(1, Math.abs(sum)), name + " sum");
                Tensor flat = t.to(ScalarType.Double).reshape(-1);
                for (int i = 0; i < e.get("first").size(); i++) {
                    assertEquals(e.get("first").get(i).asDouble(), flat.get(i).item_double(), 0.0, name + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void manySmallMappingsReadTheSameBytesAsOne() throws IOException {
        SafetensorsFile file = SafetensorsFile.open(ParityFixtures.folder("tiny-llama").resolve("model.safetensors"));
        try (StepScope step = StepScope.open()) {
            for (String name : file.tensors().keySet()) {
                assertTrue(torch.equal(file.read(name), file.read(name, 100)), name);
            }
        }
    }

    static Map<String, Tensor> loadAll(Checkpoint ckpt) throws IOException {
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (String name : ckpt.names()) {
            all.put(name, ckpt.load(name));
        }
        return all;
    }

    @ParameterizedTest
    @CsvSource({"tiny-qwen2, 1000000000", "tiny-llama-bf16, 40000"})
    void whatDriftWritesReadsBackBitForBit(String fixture, long maxShardBytes, @TempDir Path dir) throws IOException {
        try (StepScope step = StepScope.open()) {
            Checkpoint original = Checkpoint.open(ParityFixtures.folder(fixture));
            Map<String, Tensor> tensors = loadAll(original);
            SafetensorsWriter.writeCheckpoint(dir, tensors, maxShardBytes);
            boolean sharded = maxShardBytes < 1_000_000;
            assertEquals(sharded, Files.exists(dir.resolve(Checkpoint.INDEX_FILE)));
            assertEquals(!sharded, Files.exists(dir.resolve(Checkpoint.SINGLE_FILE)));
            try (Stream<Path> files = Files.list(dir)) {
                assertTrue(files.noneMatch(p -> p.getFileName().toString().contains(".tmp-")), "no temporary files left");
            }
            Checkpoint back = Checkpoint.open(dir);
            assertEquals(original.size(), back.size());
            for (String name : original.names()) {
                Tensor t = back.load(name);
                assertEquals(tensors.get(name).scalar_type().toString(), t.scalar_type().toString(), name);
                assertTrue(torch.equal(tensors.get(name), t), name);
            }
        }
    }

    @Test
    void validationNamesEveryMissingExtraAndMisshapedTensor(@TempDir Path dir) throws IOException {
        Path source = ParityFixtures.folder("tiny-qwen2");
        try (StepScope step = StepScope.open()) {
            Map<String, Tensor> tensors = loadAll(Checkpoint.open(source));
            tensors.remove("model.norm.weight");
            tensors.put("model.layers.0.self_attn.q_proj.weight",
                    tensors.get("model.layers.0.self_attn.q_proj.weight").t());
            tensors.put("lm_head.extra", torch.zeros(3));
            SafetensorsWriter.writeCheckpoint(dir, tensors, Long.MAX_VALUE);
        }
        ModelConfig config = ModelConfig.read(source.resolve("config.json"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.open(dir).validate(config.expectedTensors()));
        String m = e.getMessage();
        assertTrue(m.contains("does not match its config.json"), m);
        assertTrue(m.contains("missing tensor model.norm.weight [64]"), m);
        assertTrue(m.contains("unexpected tensor lm_head.extra [3]"), m);
        // q_proj is square here (64 x 64), so transposing keeps the shape; break a k_proj instead to see both shapes.
        Map<String, long[]> expected = new LinkedHashMap<>(config.expectedTensors());
        expected.put("model.layers.1.self_attn.k_proj.weight", new long[] {64, 64});
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.open(dir).validate(expected));
        assertTrue(shape.getMessage().contains(
                "tensor model.layers.1.self_attn.k_proj.weight has shape [32, 64], expected [64, 64]"), shape.getMessage());
    }

    @Test
    void corruptFilesAreNamedWithTheTensorAtFault(@TempDir Path dir) throws IOException {
        Path truncated = dir.resolve("model.safetensors");
        Files.copy(ParityFixtures.folder("tiny-qwen2").resolve("model.safetensors"), truncated);
        try (RandomAccessFile f = new RandomAccessFile(truncated.toFile(), "rw")) {
            f.setLength(f.length() - 10);
        }
        IOException cut = assertThrows(IOException.class, () -> SafetensorsFile.open(truncated));
        assertTrue(cut.getMessage().contains(truncated + ": tensor "), cut.getMessage());
        assertTrue(cut.getMessage().contains("truncated file?"), cut.getMessage());

        Path garbage = dir.resolve("garbage.safetensors");
        Files.write(garbage, new byte[] {(byte) 0xff, (byte) 0xff, 0, 0, 0, 0, 0, 0, '{', '}'});
        IOException bad = assertThrows(IOException.class, () -> SafetensorsFile.open(garbage));
        assertTrue(bad.getMessage().contains("header length 65535 does not fit a file of 10 bytes"), bad.getMessage());

        Path shards = dir.resolve("sharded");
        Files.createDirectories(shards);
        Files.writeString(shards.resolve(Checkpoint.INDEX_FILE),
                "{\"weight_map\": {\"model.norm.weight\": \"model-00002-of-00002.safetensors\"}}");
        IOException missing = assertThrows(IOException.class, () -> Checkpoint.open(shards));
        assertTrue(missing.getMessage().contains(
                "tensor model.norm.weight is in model-00002-of-00002.safetensors, which does not exist"), missing.getMessage());

        IOException empty = assertThrows(IOException.class, () -> Checkpoint.open(dir.resolve("sharded/none")));
        assertTrue(empty.getMessage().contains("no model.safetensors or model.safetensors.index.json"), empty.getMessage());
    }
}
