package dev.lanes.core.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The safetensors file format (Hugging Face), read and written by hand:
 *
 * <pre>
 *   offset   size  field
 *        0      8  N = header length in bytes (unsigned int64, little-endian), N &lt;= MAX_HEADER_BYTES
 *        8      N  header: UTF-8 JSON object starting with '{' (writers pad it with spaces to 8 bytes)
 *                    "NAME": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [BEGIN, END]}
 *                    "__metadata__": {"key": "value", ...}              (optional, strings only)
 *    8 + N      -  the data section: tensor NAME is bytes [BEGIN, END) of it, row-major, little-endian
 * </pre>
 *
 * {@link #open} validates the whole header before any tensor can be read, and refuses: a file shorter
 * than 8 bytes, a header length past the end of the file or over the limit, a header that is not
 * UTF-8, not strict JSON ({@link Json}) or not an object, duplicate names, unknown fields, an unknown
 * dtype, a shape that is not a list of non-negative integers, offsets that do not span exactly
 * {@code elements * dtype size} bytes, offsets past the data section, tensors that overlap or leave a
 * gap, and bytes after the last tensor. Every message names the file and the tensor or offset.
 *
 * <p>Reading converts F16 and BF16 to float32 exactly (both are subsets of it); {@link #write} stores
 * float32. Not safe for concurrent use.
 */
public final class Safetensors implements Closeable {
    /** Largest header accepted (the reference implementation's limit). */
    public static final long MAX_HEADER_BYTES = 100L << 20;
    /** The metadata pseudo-tensor's key. */
    public static final String METADATA = "__metadata__";

    /** The element types of the format and their sizes in bytes. */
    public enum DType {
        BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), I16(2), U16(2), F16(2), BF16(2), I32(4), U32(4), F32(4),
        F64(8), I64(8), U64(8);

        public final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }
    }

    /** One tensor of an open file: bytes [begin, end) of the data section. */
    public record Tensor(String name, DType dtype, long[] shape, long begin, long end) {
        public Tensor {
            shape = shape.clone();
        }

        /** A copy: the validated shape cannot be changed through it. */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;  // validated not to overflow when the file was opened
            }
            return n;
        }

        /** The shape as "[a, b]", for messages. */
        public String shapeString() {
            return Arrays.toString(shape);
        }
    }

    /** A float32 tensor to write: {@code product(shape)} floats of {@code data} from {@code offset}. */
    public record Entry(String name, long[] shape, float[] data, int offset) {}

    private static final int CHUNK_BYTES = 1 << 20;

    private final Path file;
    private final FileChannel ch;
    private final long dataStart;
    private final Map<String, Tensor> byName;
    private final List<Tensor> inOffsetOrder;
    private final Map<String, String> metadata;

    private Safetensors(Path file, FileChannel ch, long dataStart, Map<String, Tensor> byName, List<Tensor> ordered,
                        Map<String, String> metadata) {
        this.file = file;
        this.ch = ch;
        this.dataStart = dataStart;
        this.byName = byName;
        this.inOffsetOrder = ordered;
        this.metadata = metadata;
    }

    /** Opens {@code file} and validates its header and offsets; the caller closes it. */
    public static Safetensors open(Path file) throws IOException {
        if (file == null) {
            throw new NullPointerException("file");
        }
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return parse(file, ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static Safetensors parse(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new IOException(file + ": " + size + " bytes, shorter than the 8-byte header length");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0, file);
        long n = lenBuf.getLong(0);
        if (n < 0 || n > MAX_HEADER_BYTES) {  // unsigned: a negative long is above 2^63
            throw new IOException(file + ": header length " + Long.toUnsignedString(n) + " at offset 0 exceeds the limit of "
                    + MAX_HEADER_BYTES + " bytes");
        }
        if (n > size - 8) {
            throw new IOException(file + ": header length " + n + " at offset 0 runs past the end of the " + size + "-byte file");
        }
        if (n < 2) {
            throw new IOException(file + ": header length " + n + " is too short for a JSON object");
        }
        ByteBuffer headBuf = ByteBuffer.allocate((int) n);
        readFully(ch, headBuf, 8, file);
        if (headBuf.get(0) != '{') {
            throw new IOException(file + ": header at offset 8 does not start with '{'");
        }
        String text;
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(headBuf.flip());
            text = chars.toString();
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": header is not valid UTF-8 (" + e + ")", e);
        }
        Map<String, Object> json;
        try {
            json = Json.parseObject(text);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": header (bytes 8.." + (8 + n) + ") is not strict JSON: " + e.getMessage(), e);
        }
        long dataLength = size - 8 - n;
        Map<String, Tensor> byName = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, Object> e : json.entrySet()) {
            if (e.getKey().equals(METADATA)) {
                metadata = metadata(file, e.getValue());
            } else {
                byName.put(e.getKey(), tensor(file, e.getKey(), e.getValue(), dataLength));
            }
        }
        List<Tensor> ordered = new ArrayList<>(byName.values());
        ordered.sort(Comparator.comparingLong(Tensor::begin).thenComparingLong(Tensor::end));
        long expected = 0;
        Tensor previous = null;
        for (Tensor t : ordered) {
            if (t.begin() < expected) {
                throw new IOException(file + ": tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end()
                        + "] overlap tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + "]");
            }
            if (t.begin() > expected) {
                throw new IOException(file + ": data bytes [" + expected + ", " + t.begin() + ") belong to no tensor (gap before '"
                        + t.name() + "')");
            }
            expected = t.end();
            previous = t;
        }
        if (expected != dataLength) {
            throw new IOException(file + ": " + (dataLength - expected) + " bytes after the last tensor (data section is "
                    + dataLength + " bytes, tensors end at " + expected + "; file offset " + (8 + n + expected) + ")");
        }
        return new Safetensors(file, ch, 8 + n, Collections.unmodifiableMap(byName), Collections.unmodifiableList(ordered),
                metadata);
    }

    private static Map<String, String> metadata(Path file, Object v) throws IOException {
        if (!(v instanceof Map<?, ?> m)) {
            throw new IOException(file + ": " + METADATA + " is " + Json.typeName(v) + ", expected an object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new IOException(file + ": " + METADATA + " entry '" + e.getKey() + "' is " + Json.typeName(e.getValue())
                        + ", expected a string");
            }
            out.put((String) e.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static Tensor tensor(Path file, String name, Object v, long dataLength) throws IOException {
        String where = file + ": tensor '" + name + "'";
        if (!(v instanceof Map<?, ?> m)) {
            throw new IOException(where + " is " + Json.typeName(v) + ", expected an object");
        }
        Set<Object> keys = new HashSet<>(m.keySet());
        keys.removeAll(List.of("dtype", "shape", "data_offsets"));
        if (!keys.isEmpty()) {
            throw new IOException(where + " has unknown fields " + keys);
        }
        if (!(m.get("dtype") instanceof String dt)) {
            throw new IOException(where + ": dtype is " + Json.typeName(m.get("dtype")) + ", expected a string");
        }
        DType dtype;
        try {
            dtype = DType.valueOf(dt);
        } catch (IllegalArgumentException e) {
            throw new IOException(where + ": unknown dtype '" + dt + "' (known: " + Arrays.toString(DType.values()) + ")");
        }
        if (!(m.get("shape") instanceof List<?> shapeList)) {
            throw new IOException(where + ": shape is " + Json.typeName(m.get("shape")) + ", expected an array");
        }
        long[] shape = new long[shapeList.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(shapeList.get(i) instanceof Long d) || d < 0) {
                throw new IOException(where + ": shape " + shapeList + " has " + shapeList.get(i) + " at " + i
                        + ", expected a non-negative integer");
            }
            shape[i] = d;
            try {
                elements = Math.multiplyExact(elements, d);
            } catch (ArithmeticException e) {
                throw new IOException(where + ": shape " + shapeList + " has more elements than a long counts");
            }
        }
        if (!(m.get("data_offsets") instanceof List<?> off) || off.size() != 2 || !(off.get(0) instanceof Long begin)
                || !(off.get(1) instanceof Long end)) {
            throw new IOException(where + ": data_offsets is " + m.get("data_offsets") + ", expected [begin, end] integers");
        }
        if (begin < 0 || end < begin) {
            throw new IOException(where + ": data_offsets [" + begin + ", " + end + "] need 0 <= begin <= end");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(elements, dtype.bytes);
        } catch (ArithmeticException e) {
            throw new IOException(where + ": shape " + Arrays.toString(shape) + " of " + dtype + " is too large");
        }
        if (end - begin != bytes) {
            throw new IOException(where + ": data_offsets [" + begin + ", " + end + "] span " + (end - begin) + " bytes, shape "
                    + Arrays.toString(shape) + " of " + dtype + " needs " + bytes);
        }
        if (end > dataLength) {
            throw new IOException(where + ": data_offsets [" + begin + ", " + end + "] run past the " + dataLength
                    + "-byte data section (file truncated?)");
        }
        return new Tensor(name, dtype, shape, begin, end);
    }

    public Path file() {
        return file;
    }

    /** The {@code __metadata__} strings (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Every tensor, in the order of its data. */
    public List<Tensor> tensors() {
        return inOffsetOrder;
    }

    /** The tensor called {@code name}, or null. */
    public Tensor tensor(String name) {
        return byName.get(name);
    }

    /** The tensor called {@code name}; an IOException naming the file when there is none. */
    public Tensor require(String name) throws IOException {
        Tensor t = byName.get(name);
        if (t == null) {
            throw new IOException(file + ": no tensor '" + name + "'");
        }
        return t;
    }

    /**
     * Reads tensor {@code name} (F32, F16 or BF16) as float32 into {@code dst[dstOff ..)}, row-major.
     * Checks the dtype and that dst has room before reading; an I/O error may leave dst partly written.
     */
    public void readFloats(String name, float[] dst, int dstOff) throws IOException {
        Tensor t = require(name);
        DType dt = t.dtype();
        if (dt != DType.F32 && dt != DType.F16 && dt != DType.BF16) {
            throw new IOException(file + ": tensor '" + name + "' has dtype " + dt + ", expected F32, F16 or BF16");
        }
        long n = t.elements();
        if (dstOff < 0 || dstOff + n > dst.length) {
            throw new IllegalArgumentException("dst.length=" + dst.length + " has no room for " + n + " floats at " + dstOff);
        }
        int[] at = {dstOff};
        forEachChunk(t, chunk -> {
            int i = at[0];
            if (dt == DType.F32) {
                int k = chunk.remaining() / 4;
                chunk.asFloatBuffer().get(dst, i, k);
                i += k;
            } else if (dt == DType.F16) {
                while (chunk.hasRemaining()) {
                    dst[i++] = Float.float16ToFloat(chunk.getShort());
                }
            } else {  // BF16: the high half of a float32
                while (chunk.hasRemaining()) {
                    dst[i++] = Float.intBitsToFloat((chunk.getShort() & 0xffff) << 16);
                }
            }
            at[0] = i;
        });
    }

    /** Reads tensor {@code name} (F64, F32, F16 or BF16) as doubles; for references kept in double. */
    public double[] readDoubles(String name) throws IOException {
        Tensor t = require(name);
        double[] out = new double[elementsAsInt(t)];
        if (t.dtype() == DType.F64) {
            int[] at = {0};
            forEachChunk(t, chunk -> {
                int k = chunk.remaining() / 8;
                chunk.asDoubleBuffer().get(out, at[0], k);
                at[0] += k;
            });
            return out;
        }
        float[] f = new float[out.length];
        readFloats(name, f, 0);
        for (int i = 0; i < f.length; i++) {
            out[i] = f[i];
        }
        return out;
    }

    /** Reads tensor {@code name} (I64, I32, I16 or I8) as longs. */
    public long[] readLongs(String name) throws IOException {
        Tensor t = require(name);
        DType dt = t.dtype();
        if (dt != DType.I64 && dt != DType.I32 && dt != DType.I16 && dt != DType.I8) {
            throw new IOException(file + ": tensor '" + name + "' has dtype " + dt + ", expected I64, I32, I16 or I8");
        }
        long[] out = new long[elementsAsInt(t)];
        int[] at = {0};
        forEachChunk(t, c -> {
            while (c.hasRemaining()) {
                out[at[0]++] = switch (dt) {
                    case I64 -> c.getLong();
                    case I32 -> c.getInt();
                    case I16 -> c.getShort();
                    default -> c.get();
                };
            }
        });
        return out;
    }

    private int elementsAsInt(Tensor t) throws IOException {
        if (t.elements() > Integer.MAX_VALUE - 16) {
            throw new IOException(file + ": tensor '" + t.name() + "' has " + t.elements() + " elements, more than an array holds");
        }
        return (int) t.elements();
    }

    private interface ChunkSink {
        void accept(ByteBuffer littleEndianChunk);
    }

    /** Hands the tensor's bytes to {@code sink} in one reused little-endian buffer of at most 1 MiB of whole elements. */
    private void forEachChunk(Tensor t, ChunkSink sink) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK_BYTES, t.end() - t.begin())).order(ByteOrder.LITTLE_ENDIAN);
        for (long at = t.begin(); at < t.end(); at += CHUNK_BYTES) {
            buf.clear().limit((int) Math.min(CHUNK_BYTES, t.end() - at));
            readFully(ch, buf, dataStart + at, file);
            sink.accept(buf.flip());
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }

    private static void readFully(FileChannel ch, ByteBuffer into, long position, Path file) throws IOException {
        long at = position;
        while (into.hasRemaining()) {
            int r = ch.read(into, at);
            if (r < 0) {
                throw new IOException(file + ": ended at offset " + at + ", " + into.remaining() + " bytes short");
            }
            at += r;
        }
    }

    /**
     * Writes {@code tensors} (float32, in the given order, contiguous) and {@code metadata} (may be empty
     * or null) to {@code file}: to a temporary file beside it first, moved into place when complete. The
     * header is padded with spaces to a multiple of 8 bytes so the data starts aligned.
     */
    public static void write(Path file, Map<String, String> metadata, List<Entry> tensors) throws IOException {
        if (file == null || tensors == null) {
            throw new NullPointerException(file == null ? "file" : "tensors");
        }
        StringBuilder h = new StringBuilder("{");
        if (metadata != null && !metadata.isEmpty()) {
            h.append(Json.quote(METADATA)).append(":{");
            String sep = "";
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw new NullPointerException("metadata entry " + e);
                }
                h.append(sep).append(Json.quote(e.getKey())).append(':').append(Json.quote(e.getValue()));
                sep = ",";
            }
            h.append('}');
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (Entry t : tensors) {
            if (t == null || t.name() == null || t.shape() == null || t.data() == null) {
                throw new NullPointerException("tensor entry " + t + " has a null part");
            }
            if (t.name().equals(METADATA) || !seen.add(t.name())) {
                throw new IllegalArgumentException("tensor name '" + t.name() + "' is reserved or repeated");
            }
            long n = 1;
            for (long d : t.shape()) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor '" + t.name() + "' shape " + Arrays.toString(t.shape()) + " has a negative size");
                }
                n = Math.multiplyExact(n, d);
            }
            if (t.offset() < 0 || t.offset() + n > t.data().length) {
                throw new IllegalArgumentException("tensor '" + t.name() + "': " + n + " floats from offset " + t.offset()
                        + " exceed data.length=" + t.data().length);
            }
            if (h.length() > 1) {
                h.append(',');
            }
            h.append(Json.quote(t.name())).append(":{\"dtype\":\"F32\",\"shape\":[");
            for (int i = 0; i < t.shape().length; i++) {
                h.append(i > 0 ? "," : "").append(t.shape()[i]);
            }
            h.append("],\"data_offsets\":[").append(offset).append(',').append(offset + 4 * n).append("]}");
            offset += 4 * n;
        }
        h.append('}');
        byte[] head = h.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (head.length + 7) / 8 * 8;
        byte[] header = Arrays.copyOf(head, padded);
        Arrays.fill(header, head.length, padded, (byte) ' ');

        Path tmp = AtomicFiles.createTempBeside(file);
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
            writeFully(out, len);
            writeFully(out, ByteBuffer.wrap(header));
            ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (Entry t : tensors) {
                long n = 1;
                for (long d : t.shape()) {
                    n *= d;
                }
                int from = t.offset(), to = (int) (t.offset() + n);
                while (from < to) {
                    int k = Math.min(to - from, CHUNK_BYTES / 4);
                    buf.clear();
                    buf.asFloatBuffer().put(t.data(), from, k);
                    buf.limit(4 * k);
                    writeFully(out, buf);
                    from += k;
                }
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        AtomicFiles.commit(tmp, file);
    }

    private static void writeFully(FileChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            out.write(b);
        }
    }
}
