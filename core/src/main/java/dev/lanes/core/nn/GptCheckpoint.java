package dev.lanes.core.nn;

import dev.lanes.kernels.Checks;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.CRC32;

/**
 * Saves and loads a {@link Gpt}'s parameters. The format, all little-endian:
 *
 * <pre>
 *   offset  size  field
 *        0     8  magic "LANESGPT" (ASCII)
 *        8     4  version = 1 (int32)
 *       12     4  vocab          16  maxSeq      20  layers     24  dim
 *       28     4  heads          32  kvHeads     36  headDim    40  mlpDim      (int32 each)
 *       44     4  norm: 0 = LAYER, 1 = RMS (int32)
 *       48     4  normEps (float32)
 *       52     8  count = number of parameters (int64), must equal ParamLayout.of(config).size()
 *       60     8  CRC-32 of the parameter bytes (int64, high half 0)
 *       68  4*count  parameters, float32, in ParamLayout order
 * </pre>
 *
 * Loading checks the magic, the version, that the config is valid and (when one is expected) equal to
 * the expected one, that count matches the layout, that the file is exactly as long as the header
 * claims, and the CRC, all before the target array is touched: a bad file leaves it unchanged.
 * Saving writes a temporary file next to the target and moves it into place.
 */
public final class GptCheckpoint {
    static final byte[] MAGIC = {'L', 'A', 'N', 'E', 'S', 'G', 'P', 'T'};
    static final int VERSION = 1;
    static final int HEADER_BYTES = 68;

    private GptCheckpoint() {}

    /** A loaded checkpoint: its config and parameters. */
    public record Loaded(GptConfig config, float[] params) {}

    public static void save(Path file, GptConfig cfg, float[] params) throws IOException {
        if (file == null || cfg == null) {
            throw new IllegalArgumentException("file and cfg must not be null");
        }
        Checks.vector("params", params, 0, ParamLayout.of(cfg).size());
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp))) {
            write(out, cfg, params);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Reads a checkpoint of any valid config. */
    public static Loaded load(Path file) throws IOException {
        return read(file, null);
    }

    /**
     * Loads into {@code params} (at least {@code ParamLayout.of(expected).size()} floats) a checkpoint
     * that must have been saved with {@code expected}; throws naming the first difference otherwise.
     */
    public static void load(Path file, GptConfig expected, float[] params) throws IOException {
        if (expected == null) {
            throw new IllegalArgumentException("expected config is null");
        }
        Checks.vector("params", params, 0, ParamLayout.of(expected).size());
        Loaded l = read(file, expected);
        System.arraycopy(l.params(), 0, params, 0, l.params().length);
    }

    private static Loaded read(Path file, GptConfig expected) throws IOException {
        long length = Files.size(file);
        if (length < HEADER_BYTES) {
            throw new IOException(file + ": " + length + " bytes, shorter than the " + HEADER_BYTES + "-byte header");
        }
        ByteBuffer head = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        try (InputStream in = Files.newInputStream(file)) {
            readFully(in, head.array(), file);
            for (int i = 0; i < MAGIC.length; i++) {
                if (head.get(i) != MAGIC[i]) {
                    throw new IOException(file + ": not a Lanes GPT checkpoint (magic bytes differ at offset " + i + ")");
                }
            }
            int version = head.getInt(8);
            if (version != VERSION) {
                throw new IOException(file + ": format version " + version + ", this reader knows " + VERSION);
            }
            int normCode = head.getInt(44);
            if (normCode < 0 || normCode >= NormKind.values().length) {
                throw new IOException(file + ": norm code " + normCode + " is not 0 (LAYER) or 1 (RMS)");
            }
            GptConfig cfg;
            try {
                cfg = new GptConfig(head.getInt(12), head.getInt(16), head.getInt(20), head.getInt(24), head.getInt(28),
                        head.getInt(32), head.getInt(36), head.getInt(40), NormKind.values()[normCode], head.getFloat(48));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": invalid config in header: " + e.getMessage(), e);
            }
            if (expected != null && !expected.equals(cfg)) {
                throw new IllegalArgumentException(file + ": saved with " + cfg + ", expected " + expected);
            }
            long count = head.getLong(52);
            int layoutSize = ParamLayout.of(cfg).size();
            if (count != layoutSize) {
                throw new IOException(file + ": header claims " + count + " parameters, its config has " + layoutSize);
            }
            long want = HEADER_BYTES + 4 * count;
            if (length != want) {
                throw new IOException(file + ": " + length + " bytes, the header claims " + want + " (68 + 4 * " + count + ")");
            }
            byte[] body = new byte[Math.toIntExact(4 * count)];
            readFully(in, body, file);
            CRC32 crc = new CRC32();
            crc.update(body);
            long stored = head.getLong(60);
            if (crc.getValue() != stored) {
                throw new IOException(file + ": CRC-32 of the parameters is " + Long.toHexString(crc.getValue())
                        + ", the header says " + Long.toHexString(stored) + " (corrupt file)");
            }
            float[] params = new float[layoutSize];
            ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(params);
            return new Loaded(cfg, params);
        }
    }

    private static ByteBuffer header(GptConfig c, int count, long crc) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION);
        b.putInt(c.vocab()).putInt(c.maxSeq()).putInt(c.layers()).putInt(c.dim()).putInt(c.heads()).putInt(c.kvHeads())
                .putInt(c.headDim()).putInt(c.mlpDim()).putInt(c.norm().ordinal()).putFloat(c.normEps());
        b.putLong(count).putLong(crc);
        return b.flip();
    }

    private static void readFully(InputStream in, byte[] into, Path file) throws IOException {
        int n = in.readNBytes(into, 0, into.length);
        if (n != into.length) {
            throw new IOException(file + ": ended after " + n + " of " + into.length + " expected bytes");
        }
    }

    /** Writes the same format to a stream (no temporary file); for callers that manage their own files. */
    public static void write(OutputStream out, GptConfig cfg, float[] params) throws IOException {
        if (out == null || cfg == null) {
            throw new IllegalArgumentException("out and cfg must not be null");
        }
        int count = ParamLayout.of(cfg).size();
        Checks.vector("params", params, 0, count);
        ByteBuffer body = ByteBuffer.allocate(Math.multiplyExact(count, 4)).order(ByteOrder.LITTLE_ENDIAN);
        body.asFloatBuffer().put(params, 0, count);
        CRC32 crc = new CRC32();
        crc.update(body.array());
        out.write(header(cfg, count, crc.getValue()).array());
        out.write(body.array());
    }
}
