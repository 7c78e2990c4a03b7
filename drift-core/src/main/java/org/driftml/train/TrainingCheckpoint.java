package org.driftml.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Checkpoint;
import org.driftml.model.internal.Decoder;
import org.driftml.model.internal.LoraAdapters;
import org.driftml.model.internal.SafetensorsFile;
import org.driftml.model.internal.SafetensorsWriter;
import org.driftml.parallel.ProcessGroup;

/**
 * {@code checkpoint-STEP/}: the model as a Hugging Face folder (fp32 master weights; transformers loads it as it
 * is), {@code optimizer.safetensors} (RMSprop's squared averages; the masters are the model's weights; under ZeRO one
 * {@code optimizer.rank-R.safetensors} per rank with its pieces) and {@code trainer_state.json} (the step reached;
 * the data order follows from seed and epoch). Written into {@code checkpoint-STEP.tmp} and renamed into place, so a
 * crash never leaves a half-written checkpoint under the real name, and the previous one stays intact.
 */
final class TrainingCheckpoint {
    static final String PREFIX = "checkpoint-";

    record Restored(Path folder, int step) {}

    private TrainingCheckpoint() {}

    static Path save(Path output, int step, Decoder policy, MasterWeightRmsprop optimizer, long seed)
            throws IOException {
        Path done = output.resolve(PREFIX + step), tmp = output.resolve(PREFIX + step + ".tmp");
        deleteTree(tmp);
        if (policy.adapters() != null) {  // under LoRA the adapters are the model that trains (fp32: their masters)
            policy.adapters().save(tmp, policy.source().toAbsolutePath().toString());
        } else {
            policy.save(tmp, optimizer.masters(), 2L << 30);
        }
        // The model folder's weights are the fp32 masters; the optimizer file holds only what is not there.
        SafetensorsWriter.write(tmp.resolve("optimizer.safetensors"), optimizer.squareAverages(),
                Map.of("format", "drift"));
        Files.writeString(tmp.resolve("trainer_state.json"), new ObjectMapper().writeValueAsString(
                Map.of("global_step", step, "seed", seed)));
        deleteTree(done);
        Files.move(tmp, done, StandardCopyOption.ATOMIC_MOVE);
        return done;
    }

    /**
     * A checkpoint of a ZeRO run ({@link ShardedRmsprop}), written by every rank of {@code group} together: rank 0
     * makes the folder; every rank writes its optimiser shard, {@code optimizer.rank-R.safetensors}, and for bf16
     * weights its fp32 master pieces into a scratch file; rank 0 then writes the model folder from the masters, read
     * back one weight at a time, deletes the scratch files and renames the folder into place. The ranks must see one
     * file system (one host, or a shared one across nodes), as they see one output folder.
     */
    static Path save(Path output, int step, Decoder policy, ShardedRmsprop optimizer, long seed, ProcessGroup group)
            throws IOException {
        Path done = output.resolve(PREFIX + step), tmp = output.resolve(PREFIX + step + ".tmp");
        boolean writer = group.rank() == 0;
        if (writer) {
            deleteTree(tmp);
            Files.createDirectories(tmp);
        }
        optimizer.writeGathered(tmp, tmp.resolve("optimizer.rank-" + group.rank() + ".safetensors"),
                masters -> policy.save(tmp, masters, 2L << 30));
        if (writer) {
            Files.writeString(tmp.resolve("trainer_state.json"), new ObjectMapper().writeValueAsString(
                    Map.of("global_step", step, "seed", seed, "zero_stage", optimizer.stage(),
                            "world_size", group.worldSize())));
            deleteTree(done);
            Files.move(tmp, done, StandardCopyOption.ATOMIC_MOVE);
        }
        group.barrier();  // every rank returns with the checkpoint in place
        return done;
    }

    /**
     * ZeRO's final model, by every rank: each writes its master pieces into a scratch folder beside the model, rank 0
     * writes the model from them (one weight at a time, rounded to {@code dtype}) and deletes the scratch.
     */
    static void saveModel(Path to, Decoder policy, ShardedRmsprop optimizer, org.bytedeco.pytorch.global.torch.ScalarType dtype,
            Path tokenizerFrom, ProcessGroup group) throws IOException {
        Path scratch = to.resolve("masters.tmp");  // a killed save's scratch is a stale temporary (OutputFolder)
        if (group.rank() == 0) {
            Files.createDirectories(scratch);
        }
        optimizer.writeGathered(scratch, null, masters -> {
            Map<String, java.util.function.Supplier<Tensor>> rounded = new java.util.LinkedHashMap<>();
            masters.keySet().forEach(name -> rounded.put(name, () -> masters.get(name).to(dtype)));
            policy.save(to, new org.driftml.model.internal.MadeWhenRead(rounded), 2L << 30);
            org.driftml.model.Policy.copyTokenizerFiles(tokenizerFrom, to);
        });
        if (group.rank() == 0) {
            deleteTree(scratch);
        }
        group.barrier();
    }

    /**
     * Deletes all but the newest {@code keep} checkpoints in {@code output} (transformers' save_total_limit): each
     * holds the model in fp32 and the optimiser's state, 12 bytes per parameter, and a long run's would otherwise
     * fill the disk.
     */
    static void prune(Path output, int keep) throws IOException {
        java.util.List<Path> all;
        try (Stream<Path> dirs = Files.list(output)) {
            all = dirs.filter(d -> d.getFileName().toString().matches(PREFIX + "\\d+"))
                    .sorted(Comparator.comparingInt(
                            (Path d) -> Integer.parseInt(d.getFileName().toString().substring(PREFIX.length()))))
                    .toList();
        }
        for (int i = 0; i < all.size() - keep; i++) {
            deleteTree(all.get(i));
        }
    }

    /** A checkpoint's trainer_state.json; a damaged one is named (the parser's message alone named no file). */
    private static JsonNode trainerState(java.nio.file.Path folder) throws IOException {
        java.nio.file.Path file = folder.resolve("trainer_state.json");
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new org.driftml.model.spec.MalformedCheckpointException(file + ": not valid JSON ("
                    + e.getOriginalMessage() + "); the checkpoint is damaged");
        }
    }

    /** As above for a ZeRO run: each rank restores its slices from the pieces, whatever sharding wrote them. */
    static int restore(Restored r, ShardedRmsprop optimizer) throws IOException {
        JsonNode state = trainerState(r.folder());
        StatePieces pieces = StatePieces.in(r.folder(), "optimizer*.safetensors");
        Checkpoint weights = Checkpoint.open(r.folder());
        try (StepScope scope = StepScope.open()) {
            optimizer.load(name -> {
                try {
                    return weights.load(name);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, pieces);
        }
        return state.path("global_step").asInt();
    }

    /** The complete checkpoints in {@code output}, newest first: a damaged newest falls back to the one before. */
    static java.util.List<Restored> newestFirst(Path output) throws IOException {
        if (!Files.isDirectory(output)) {
            return java.util.List.of();
        }
        try (Stream<Path> dirs = Files.list(output)) {
            return dirs.filter(d -> d.getFileName().toString().matches(PREFIX + "\\d+"))
                    .filter(d -> Files.exists(d.resolve("trainer_state.json")))
                    .map(d -> new Restored(d, Integer.parseInt(d.getFileName().toString().substring(PREFIX.length()))))
                    .sorted(Comparator.comparingInt(Restored::step).reversed()).toList();
        }
    }

    /** The newest complete checkpoint in {@code output}, if any. */
    static Optional<Restored> latest(Path output) throws IOException {
        if (!Files.isDirectory(output)) {
            return Optional.empty();
        }
        try (Stream<Path> dirs = Files.list(output)) {
            return dirs.filter(d -> d.getFileName().toString().matches(PREFIX + "\\d+"))
                    .filter(d -> Files.exists(d.resolve("trainer_state.json")))
                    .map(d -> new Restored(d, Integer.parseInt(d.getFileName().toString().substring(PREFIX.length()))))
                    .max(Comparator.comparingInt(Restored::step));
        }
    }

    /** Restores masters, optimizer state and compute weights; returns the step to continue from. */
    static int restore(Restored r, MasterWeightRmsprop optimizer) throws IOException {
        JsonNode state = trainerState(r.folder());
        // The squared averages whole (one process, ZeRO stage 0) or in each rank's pieces (stages 1 and 2): read at
        // this run's sharding whichever wrote them.
        StatePieces pieces = StatePieces.in(r.folder(), "optimizer*.safetensors");
        try (StepScope scope = StepScope.open()) {  // the read tensors are copied into the optimizer's own
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            // The masters are the checkpoint's model weights (checkpoints before 2026-11-30 also held them in the
            // optimizer file, and those are used when present).
            Path adapter = r.folder().resolve(LoraAdapters.WEIGHTS_FILE);
            SafetensorsFile adapterFile = Files.exists(adapter) ? SafetensorsFile.open(adapter) : null;
            Checkpoint weights = adapterFile == null ? Checkpoint.open(r.folder()) : null;
            List<String> names = optimizer.names();
            for (int i = 0; i < names.size(); i++) {
                String name = names.get(i);
                long numel = optimizer.numel(i);
                tensors.put("square_avg." + name, pieces.read("square_avg." + name, 0, numel));
                tensors.put("master." + name, pieces.has("master." + name) ? pieces.read("master." + name, 0, numel)
                        : adapterFile != null ? adapterFile.read(name) : weights.load(name));
            }
            optimizer.load(tensors);
        }
        return state.path("global_step").asInt();
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> all = Files.walk(p)) {
            for (Path q : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
