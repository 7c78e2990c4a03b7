package org.driftml.model.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.NativeRuntime;
import org.driftml.model.spec.MalformedCheckpointException;

/**
 * One {@code .safetensors} file: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
 * shape and byte range, then the raw little-endian data. The header is read and checked when the file is opened;
 * tensor data is read on demand through memory mappings of at most {@link #MAX_MAPPING} bytes each (a single
 * mapping cannot exceed 2 GiB on Java 17; a 7B model's embedding alone is 1 GiB in bf16).
 */
public final class SafetensorsFile {
    /** Largest byte range mapped at once. */
    static final long MAX_MAPPING = 1L << 30;
    private static final long MAX_HEADER = 100L << 20;

    /** Where one tensor lives in its file. */
    public record TensorInfo(String name, SafetensorsDtype dtype, long[] shape, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private final Path path;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, long dataStart, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens a file and validates its header against its size; errors name the file and the tensor. */
    public static SafetensorsFile open(Path path) throws IOException {
        if (java.nio.file.Files.isDirectory(path)) {  // the system says only "Is a directory", with no path
            throw new MalformedCheckpointException(path + ": a folder, not a safetensors file");
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new MalformedCheckpointException(path + ": not a safetensors file (" + size
                        + " bytes, no header length)");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0, path);
            long headerLength = len.flip().getLong();
            if (headerLength <= 0 || headerLength > MAX_HEADER || 8 + headerLength > size) {
                throw new MalformedCheckpointException(path + ": header length " + headerLength
                        + " does not fit a file of "
                        + size + " bytes");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLength);
            readFully(ch, header, 8, path);
            JsonNode root;
            try {
                // Duplicate keys would let a later entry silently replace an earlier one's offsets.
                root = new ObjectMapper()
                        .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                        .readTree(new String(header.array(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new MalformedCheckpointException(path + ": header is not valid JSON: " + e.getMessage());
            }
            long dataStart = 8 + headerLength;
            return new SafetensorsFile(path, dataStart, parseTensors(root, path, size - dataStart),
                    parseMetadata(root, path));
        }
    }

    private static Map<String, TensorInfo> parseTensors(JsonNode root, Path path, long dataSize) throws IOException {
        if (!root.isObject()) {
            throw new MalformedCheckpointException(path + ": header must be a JSON object");
        }
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            String where = path + ": tensor " + name + ": ";
            SafetensorsDtype dtype = SafetensorsDtype.parse(t.path("dtype").asText(""));
            if (dtype == null) {
                throw new MalformedCheckpointException(where + "unsupported dtype " + t.path("dtype"));
            }
            JsonNode shapeNode = t.path("shape"), offsets = t.path("data_offsets");
            if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
                throw new MalformedCheckpointException(where + "needs a shape list and two data_offsets");
            }
            long[] shape = new long[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = shapeNode.get(i);
                shape[i] = d.isIntegralNumber() && d.canConvertToLong() ? d.asLong() : -1;
                if (shape[i] < 0) {
                    throw new MalformedCheckpointException(where + "bad shape " + shapeNode);
                }
            }
            long begin = offset(offsets.get(0)), end = offset(offsets.get(1));
            TensorInfo info = new TensorInfo(name, dtype, shape, begin, end);
            if (begin < 0 || end < begin || end > dataSize) {
                throw new MalformedCheckpointException(where + "data_offsets [" + begin + ", " + end
                        + "] fall outside the "
                        + dataSize + " data bytes (truncated file?)");
            }
            if (end - begin != info.numel() * dtype.bytes()) {
                throw new MalformedCheckpointException(where + (end - begin) + " bytes for shape "
                        + Arrays.toString(shape) + " of "
                        + dtype + " (expected " + info.numel() * dtype.bytes() + ")");
            }
            out.put(name, info);
        }
        // Two tensors sharing bytes would each read the other's values.
        TensorInfo[] byBegin = out.values().stream().filter(t -> t.end() > t.begin())
                .sorted(java.util.Comparator.comparingLong(TensorInfo::begin)).toArray(TensorInfo[]::new);
        for (int i = 1; i < byBegin.length; i++) {
            if (byBegin[i].begin() < byBegin[i - 1].end()) {
                throw new MalformedCheckpointException(path + ": tensors " + byBegin[i - 1].name() + " and "
                        + byBegin[i].name() + " overlap (data_offsets [" + byBegin[i - 1].begin() + ", "
                        + byBegin[i - 1].end() + "] and [" + byBegin[i].begin() + ", " + byBegin[i].end() + "])");
            }
        }
        return Collections.unmodifiableMap(out);
    }

    private static long offset(JsonNode n) {
        return n.isIntegralNumber() && n.canConvertToLong() ? n.asLong() : -1;
    }

    private static Map<String, String> parseMetadata(JsonNode root, Path path) throws IOException {
        JsonNode m = root.path("__metadata__");
        Map<String, String> out = new LinkedHashMap<>();
        if (m.isMissingNode() || m.isNull()) {
            return out;
        }
        if (!m.isObject()) {
            throw new MalformedCheckpointException(path + ": __metadata__ must be an object of strings");
        }
        m.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return Collections.unmodifiableMap(out);
    }

    /**
     * Releases a mapping now rather than when the garbage collector finds its buffer: mapped pages count in the
     * process's RSS, and loading a model would otherwise keep a second copy of every weight resident.
     */
    private static void unmap(MappedByteBuffer buffer) {
        if (INVOKE_CLEANER != null) {
            try {
                INVOKE_CLEANER.invoke(buffer);
            } catch (Throwable e) {
                // left to the garbage collector, as when no cleaner could be found
            }
        }
    }

    // sun.misc.Unsafe.invokeCleaner, looked up by reflection: named in the source, javac warns on every build that it
    // is internal API (a warning no annotation silences).
    private static final java.lang.invoke.MethodHandle INVOKE_CLEANER = invokeCleaner();

    private static java.lang.invoke.MethodHandle invokeCleaner() {
        try {
            Class<?> unsafe = Class.forName("sun.misc.Unsafe");
            java.lang.reflect.Field f = unsafe.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return java.lang.invoke.MethodHandles.lookup()
                    .findVirtual(unsafe, "invokeCleaner",
                            java.lang.invoke.MethodType.methodType(void.class, java.nio.ByteBuffer.class))
                    .bindTo(f.get(null));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;  // mappings then go when the garbage collector frees their buffers
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position, Path path) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new MalformedCheckpointException(path + ": unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    public Path path() {
        return path;
    }

    /** Tensor headers in file order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** Reads one tensor into memory LibTorch owns (a CPU tensor of the stored dtype). */
    public Tensor read(String name) throws IOException {
        return read(name, MAX_MAPPING);
    }

    /** As {@link #read(String)}, mapping at most {@code chunk} bytes at a time (tests force many chunks). */
    Tensor read(String name, long chunk) throws IOException {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw new MalformedCheckpointException(path + ": no tensor " + name);
        }
        NativeRuntime.load();
        Tensor out = torch.empty(info.shape(), new TensorOptions(info.dtype().scalarType()), new MemoryFormatOptional());
        long length = info.end() - info.begin();
        if (length == 0) {
            return out;
        }
        BytePointer dest = new BytePointer(out.data_ptr()).capacity(length);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            for (long done = 0; done < length; done += chunk) {
                long n = Math.min(chunk, length - done);
                MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, dataStart + info.begin() + done, n);
                Pointer.memcpy(dest.position(done), new BytePointer(mapped), n);
                unmap(mapped);
            }
        }
        requireFinite(name, out);
        return out;
    }

    /**
     * A weight holding a NaN or an infinity is refused, naming it: such a model loads and then answers every prompt
     * with the same token (NaN logits pick token 0), scores every reply NaN and trains into NaN, all silently. One
     * pass of {@code isfinite} over what was just read, while it is still in the cache.
     */
    private void requireFinite(String name, Tensor t) throws MalformedCheckpointException {
        if (!t.is_floating_point()) {
            return;
        }
        // In slices, so the check's boolean mask stays 16 MB (the whole of a 7B model's embedding would be 545 MB).
        Tensor flat = t.reshape(-1);
        boolean finite = true;
        for (long at = 0, n = flat.numel(), step = 1L << 24; at < n && finite; at += step) {
            try (Tensor slice = flat.narrow(0, at, Math.min(step, n - at)); Tensor ok = slice.isfinite().all()) {
                finite = ok.item_bool();
            }
        }
        if (!finite) {
            long nan = t.isnan().sum().item_long(), inf = t.isinf().sum().item_long();
            throw new MalformedCheckpointException(path + ": tensor " + name + " holds " + nan + " NaN and " + inf
                    + " infinite values of " + t.numel() + ": the weights are damaged (a diverged run or a bad "
                    + "conversion); use an earlier checkpoint");
        }
    }
}
