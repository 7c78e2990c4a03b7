package org.driftml.model.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.driftml.kernels.StepScope;

/**
 * Writes tensors in the safetensors format, as transformers' {@code save_pretrained} lays them out, so a folder
 * drift saves loads in transformers unchanged. Every file is written to a temporary name, forced to disk and renamed
 * into place, so a crash never leaves a half-written checkpoint under the real name; a sharded checkpoint's index is
 * written last.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    /** Writes one file atomically. Tensors are written in map order; metadata lands in {@code __metadata__}. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        write(file, tensors, List.copyOf(tensors.keySet()), describe(tensors), metadata);
    }

    /** What the header says of a tensor, read once so that the tensor itself need not be held. */
    private record Info(String dtype, long[] shape, long nbytes) {}

    /**
     * Each tensor's header entry, read one tensor at a time in its own scope: a map whose values are made when read
     * (a trainer's fp32 masters, joined from split halves) never has more than one of them alive.
     */
    private static Map<String, Info> describe(Map<String, Tensor> tensors) {
        Map<String, Info> out = new LinkedHashMap<>();
        for (String name : tensors.keySet()) {
            try (StepScope scope = StepScope.open()) {
                Tensor t = tensors.get(name);
                out.put(name, new Info(SafetensorsDtype.of(t.scalar_type()).name(), t.sizes().vec().get(),
                        t.nbytes()));
            }
        }
        return out;
    }

    /** Writes {@code names}, in that order, each read from {@code tensors} when its bytes are written. */
    private static void write(Path file, Map<String, Tensor> tensors, List<String> names, Map<String, Info> infos,
            Map<String, String> metadata) throws IOException {
        ObjectNode header = new ObjectMapper().createObjectNode();
        ObjectNode meta = header.putObject("__metadata__");
        metadata.forEach(meta::put);
        long offset = 0;
        for (String name : names) {
            Info info = infos.get(name);
            ObjectNode entry = header.putObject(name);
            entry.put("dtype", info.dtype());
            ArrayNode shape = entry.putArray("shape");
            for (long d : info.shape()) {
                shape.add(d);
            }
            entry.putArray("data_offsets").add(offset).add(offset + info.nbytes());
            offset += info.nbytes();
        }
        byte[] json = new ObjectMapper().writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;  // data starts 8-byte aligned, as safetensors writes it
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();

        Path tmp = file.resolveSibling(file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(ch, head);
            for (String name : names) {
                // One tensor at a time: its contiguous CPU copy (a device tensor's, or a joined master) goes once
                // written.
                try (StepScope scope = StepScope.open()) {
                    Tensor t = tensors.get(name).detach().cpu().contiguous();
                    if (t.nbytes() != infos.get(name).nbytes()) {
                        throw new IllegalStateException(name + " changed size while being written");
                    }
                    if (t.nbytes() > 0) {
                        writeFully(ch, new BytePointer(t.data_ptr()).capacity(t.nbytes()).asByteBuffer());
                    }
                }
            }
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Writes a model folder's weights: one {@code model.safetensors} when they fit in {@code maxShardBytes},
     * otherwise {@code model-0000i-of-0000n.safetensors} shards and {@code model.safetensors.index.json}, like
     * transformers. Tensors are never split across shards.
     */
    public static void writeCheckpoint(Path folder, Map<String, Tensor> tensors, long maxShardBytes)
            throws IOException {
        Files.createDirectories(folder);
        Map<String, String> meta = Map.of("format", "pt");
        Map<String, Info> infos = describe(tensors);
        List<List<String>> shards = new ArrayList<>();
        List<String> current = new ArrayList<>();
        long currentBytes = 0, total = 0;
        for (String name : tensors.keySet()) {
            long n = infos.get(name).nbytes();
            if (!current.isEmpty() && currentBytes + n > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(name);
            currentBytes += n;
            total += n;
        }
        shards.add(current);
        if (shards.size() == 1) {
            write(folder.resolve(Checkpoint.SINGLE_FILE), tensors, shards.get(0), infos, meta);
            Files.deleteIfExists(folder.resolve(Checkpoint.INDEX_FILE));
            return;
        }
        ObjectNode index = new ObjectMapper().createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode weightMap = index.putObject("weight_map");
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            write(folder.resolve(name), tensors, shards.get(i), infos, meta);
            shards.get(i).forEach(t -> weightMap.put(t, name));
        }
        Path tmp = folder.resolve(Checkpoint.INDEX_FILE + ".tmp-" + ProcessHandle.current().pid());
        Files.write(tmp, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(index)
                .getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, folder.resolve(Checkpoint.INDEX_FILE), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        // A single-file checkpoint left from an earlier save would shadow nothing (the index wins) but mislead.
        Files.deleteIfExists(folder.resolve(Checkpoint.SINGLE_FILE));
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
