package org.driftml.model.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.driftml.model.spec.MalformedCheckpointException;
import org.driftml.model.spec.ModelConfig;

/**
 * The weights of a Hugging Face model folder: {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}. Tensors keep their HF names; {@link #validate} checks them against what a
 * {@link ModelConfig} expects before any is loaded.
 */
public final class Checkpoint {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path folder;
    private final Map<String, SafetensorsFile> fileOf;

    private Checkpoint(Path folder, Map<String, SafetensorsFile> fileOf) {
        this.folder = folder;
        this.fileOf = fileOf;
    }

    /** Opens a model folder's weights; every shard's header is read and checked now. */
    public static Checkpoint open(Path folder) throws IOException {
        Path index = folder.resolve(INDEX_FILE), single = folder.resolve(SINGLE_FILE);
        Map<String, SafetensorsFile> fileOf = new LinkedHashMap<>();
        if (Files.exists(index)) {
            JsonNode map;
            try {
                map = new ObjectMapper().readTree(index.toFile()).path("weight_map");
            } catch (IOException e) {
                throw new MalformedCheckpointException(index + ": not valid JSON: " + e.getMessage());
            }
            if (!map.isObject()) {
                throw new MalformedCheckpointException(index + ": no weight_map object");
            }
            Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
            for (var it = map.fields(); it.hasNext();) {
                var e = it.next();
                String shardName = e.getValue().asText();
                if (!shards.containsKey(shardName)) {
                    Path shard = folder.resolve(shardName);
                    if (!Files.exists(shard)) {
                        throw new MalformedCheckpointException(index + ": tensor " + e.getKey() + " is in " + shardName
                                + ", which does not exist");
                    }
                    shards.put(shardName, SafetensorsFile.open(shard));
                }
                SafetensorsFile file = shards.get(shardName);
                if (!file.tensors().containsKey(e.getKey())) {
                    throw new MalformedCheckpointException(index + ": tensor " + e.getKey() + " is listed in "
                            + shardName
                            + " but that file does not hold it");
                }
                fileOf.put(e.getKey(), file);
            }
        } else if (Files.exists(single)) {
            SafetensorsFile file = SafetensorsFile.open(single);
            for (String name : file.tensors().keySet()) {
                fileOf.put(name, file);
            }
        } else {
            throw new MalformedCheckpointException(folder + ": no " + SINGLE_FILE + " or " + INDEX_FILE);
        }
        return new Checkpoint(folder, Collections.unmodifiableMap(fileOf));
    }

    public Path folder() {
        return folder;
    }

    /** Tensor names, in index (or file) order. */
    public Iterable<String> names() {
        return fileOf.keySet();
    }

    public int size() {
        return fileOf.size();
    }

    public SafetensorsFile.TensorInfo info(String name) {
        SafetensorsFile file = fileOf.get(name);
        if (file == null) {
            throw new IllegalArgumentException(folder + ": no tensor " + name);
        }
        return file.tensors().get(name);
    }

    /** Reads one tensor (CPU, stored dtype). */
    public Tensor load(String name) throws IOException {
        SafetensorsFile file = fileOf.get(name);
        if (file == null) {
            throw new MalformedCheckpointException(folder + ": no tensor " + name);
        }
        return file.read(name);
    }

    /**
     * Checks names and shapes against {@code expected} (a {@link ModelConfig#expectedTensors()}): every problem is
     * listed, each naming the tensor, and for a wrong shape both shapes.
     */
    private static final java.util.Set<SafetensorsDtype> FLOATING = java.util.EnumSet.of(SafetensorsDtype.F64,
            SafetensorsDtype.F32, SafetensorsDtype.BF16, SafetensorsDtype.F16);

    public void validate(Map<String, long[]> expected) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            SafetensorsFile file = fileOf.get(e.getKey());
            if (file == null) {
                problems.add("missing tensor " + e.getKey() + " " + Arrays.toString(e.getValue()));
            } else {
                SafetensorsFile.TensorInfo info = file.tensors().get(e.getKey());
                long[] found = info.shape();
                if (!Arrays.equals(found, e.getValue())) {
                    problems.add("tensor " + e.getKey() + " has shape " + Arrays.toString(found) + ", expected "
                            + Arrays.toString(e.getValue()));
                }
                // An integer tensor cast to a float weight loads without complaint and computes nonsense (an F32
                // file relabelled I32 scored logp -1.44e9).
                if (!FLOATING.contains(info.dtype())) {
                    problems.add("tensor " + e.getKey() + " has dtype " + info.dtype() + ", expected a float dtype "
                            + "(F32, BF16, F16 or F64)");
                }
            }
        }
        for (String name : fileOf.keySet()) {
            if (!expected.containsKey(name)) {
                problems.add("unexpected tensor " + name + " " + Arrays.toString(info(name).shape()));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(folder + " does not match its config.json: " + String.join("; ",
                    problems));
        }
    }
}
