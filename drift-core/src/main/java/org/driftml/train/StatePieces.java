package org.driftml.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.model.internal.SafetensorsFile;

/**
 * Optimiser state stored whole or in pieces, read back at any sharding. A checkpoint of one process (or ZeRO stage 0)
 * holds {@code square_avg.NAME} whole; one of ZeRO stage 1 or 2 holds, in each rank's file, the pieces of weights in
 * that rank's slices as {@code square_avg.NAME@OFFSET} (OFFSET: the first element, in the flattened weight). Reading
 * a range of a weight assembles it from whatever entries cover it, so a run resumes at another world size, or
 * another ZeRO stage, from the same files.
 */
final class StatePieces {
    private record Entry(SafetensorsFile file, String tensor, long offset, long length) {}

    private final Path folder;
    private final Map<String, List<Entry>> entries = new HashMap<>();

    private StatePieces(Path folder) {
        this.folder = folder;
    }

    /** Indexes every file in {@code folder} whose name matches {@code glob} (for example "optimizer*.safetensors"). */
    static StatePieces in(Path folder, String glob) throws IOException {
        StatePieces pieces = new StatePieces(folder);
        var matcher = folder.getFileSystem().getPathMatcher("glob:" + glob);
        List<Path> files;
        try (Stream<Path> all = Files.list(folder)) {
            files = all.filter(p -> matcher.matches(p.getFileName())).sorted().toList();
        }
        for (Path f : files) {
            SafetensorsFile file = SafetensorsFile.open(f);
            for (SafetensorsFile.TensorInfo t : file.tensors().values()) {
                int at = t.name().lastIndexOf('@');
                String key = at < 0 ? t.name() : t.name().substring(0, at);
                long offset = at < 0 ? 0 : Long.parseLong(t.name().substring(at + 1));
                pieces.entries.computeIfAbsent(key, k -> new ArrayList<>())
                        .add(new Entry(file, t.name(), offset, t.numel()));
            }
        }
        return pieces;
    }

    boolean has(String key) {
        return entries.containsKey(key);
    }

    /**
     * Elements {@code [from, from + length)} of {@code key} (flattened) as a new fp32 tensor of that length.
     *
     * @throws IllegalStateException naming the folder and key when the entries do not cover the range
     */
    Tensor read(String key, long from, long length) throws IOException {
        Tensor out = torch.zeros(new long[] {length}, new TensorOptions(ScalarType.Float));
        long covered = 0;
        for (Entry e : entries.getOrDefault(key, List.of())) {
            long a = Math.max(from, e.offset()), b = Math.min(from + length, e.offset() + e.length());
            if (a < b) {
                Tensor piece = e.file().read(e.tensor()).reshape(-1);
                out.narrow(0, a - from, b - a).copy_(piece.narrow(0, a - e.offset(), b - a));
                covered += b - a;
            }
        }
        if (covered != length) {  // pieces never overlap: each rank wrote its own slices
            throw new IllegalStateException(folder + ": the optimizer state of " + key + " covers " + covered + " of "
                    + "the " + length + " elements from " + from + "; a rank's file is missing");
        }
        return out;
    }
}
