package dev.lanes.core.nn;

import dev.lanes.kernels.internal.Checks;
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
 * the expected one (every failure is an {@link IOException} naming the file and the offset at fault), that count matches the layout, that the file is exactly as long as the header
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
        Checks.notNull(file, "file");
        Checks.notNull(cfg, "cfg");
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
        Checks.notNull(file, "file");
        return read(file, null);
    }

    /**
     * Loads into {@code params} (at least {@code ParamLayout.of(expected).size()} floats) a checkpoint
     * that must have been saved with {@code expected}; throws naming the first difference otherwise.
     */
    public static void load(Path file, GptConfig expected, float[] params) throws IOException {
        Checks.notNull(file, "file");
        Checks.notNull(expected, "expected");
        Checks.vector("params", params, 0, ParamLayout.of(expected).size());
        Loaded l = read(file, expected);
        System.arraycopy(l.params(), 0, params, 0, l.params().length);
    }

    /** The int32 shape fields of the header, in order from offset 12. */
    private static final String[] SHAPE_FIELDS = {"vocab", "maxSeq", "layers", "dim", "heads", "kvHeads", "headDim",
            "mlpDim"};

    /**
     * Every problem with the file is an {@link IOException} naming the file and the byte offset of the
     * field at fault; nothing outside this method is touched before all checks pass.
     */
    private static Loaded read(Path file, GptConfig expected) throws IOException {
        long length = Files.size(file);
        if (length < HEADER_BYTES) {
            throw new IOException(file + ": " + length + " bytes, shorter than the " + HEADER_BYTES
                    + "-byte header (the file ends at offset " + length + ")");
        }
        ByteBuffer head = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        try (InputStream in = Files.newInputStream(file)) {
            readFully(in, head.array(), 0, file);
            for (int i = 0; i < MAGIC.length; i++) {
                if (head.get(i) != MAGIC[i]) {
                    throw new IOException(file + ": not a Lanes GPT checkpoint (magic bytes differ at offset " + i + ")");
                }
            }
            int version = head.getInt(8);
            if (version != VERSION) {
                throw new IOException(file + ": format version " + version + " at offset 8, this reader knows " + VERSION);
            }
            int[] shape = new int[SHAPE_FIELDS.length];
            for (int f = 0; f < shape.length; f++) {
                shape[f] = head.getInt(12 + 4 * f);
                if (shape[f] < 1) {
                    throw new IOException(file + ": header field " + SHAPE_FIELDS[f] + " at offset " + (12 + 4 * f)
                            + " is " + shape[f] + ", must be >= 1");
                }
            }
            if (shape[4] % shape[5] != 0) {
                throw new IOException(file + ": header field heads at offset 28 is " + shape[4]
                        + ", not a multiple of kvHeads=" + shape[5] + " at offset 32");
            }
            int normCode = head.getInt(44);
            if (normCode < 0 || normCode >= NormKind.values().length) {
                throw new IOException(file + ": norm code " + normCode + " at offset 44 is not 0 (LAYER) or 1 (RMS)");
            }
            float eps = head.getFloat(48);
            if (!(eps > 0f) || !Float.isFinite(eps)) {
                throw new IOException(file + ": normEps " + eps + " at offset 48 must be finite and > 0");
            }
            GptConfig cfg;
            try {
                cfg = new GptConfig(shape[0], shape[1], shape[2], shape[3], shape[4], shape[5], shape[6], shape[7],
                        NormKind.values()[normCode], eps);
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": the config at offsets 12-51 is invalid: " + e.getMessage(), e);
            }
            if (expected != null && !expected.equals(cfg)) {
                throw new IOException(file + ": saved with " + cfg + ", expected " + expected + " (first difference at offset "
                        + firstDifference(expected, cfg) + ")");
            }
            long count = head.getLong(52), floats = ParamLayout.floats(cfg);
            if (count != floats) {
                throw new IOException(file + ": header claims " + count + " parameters at offset 52, its config (offsets"
                        + " 12-51) has " + (floats == Long.MAX_VALUE ? "more than a long counts" : floats));
            }
            if (count > (Integer.MAX_VALUE - 8) / 4) {
                throw new IOException(file + ": " + count + " parameters (offset 52) exceed this reader's 2 GiB body");
            }
            long want = HEADER_BYTES + 4 * count;
            if (length != want) {
                throw new IOException(file + ": " + length + " bytes, the header claims " + want + " (68 + 4 * " + count
                        + ", count at offset 52)");
            }
            int layoutSize;
            try {
                layoutSize = ParamLayout.of(cfg).size();
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": the config at offsets 12-51 (" + cfg + ") describes no loadable model: "
                        + e.getMessage(), e);
            }
            byte[] body = new byte[(int) (4 * count)];
            readFully(in, body, HEADER_BYTES, file);
            CRC32 crc = new CRC32();
            crc.update(body);
            long stored = head.getLong(60);
            if (crc.getValue() != stored) {
                throw new IOException(file + ": CRC-32 of the parameters (offsets 68-" + (want - 1) + ") is "
                        + Long.toHexString(crc.getValue()) + ", the header says " + Long.toHexString(stored)
                        + " at offset 60 (corrupt file)");
            }
            float[] params = new float[layoutSize];
            ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(params);
            return new Loaded(cfg, params);
        }
    }

    /** The header offset of the first field in which two configs differ. */
    private static int firstDifference(GptConfig a, GptConfig b) {
        int[] x = {a.vocab(), a.maxSeq(), a.layers(), a.dim(), a.heads(), a.kvHeads(), a.headDim(), a.mlpDim()};
        int[] y = {b.vocab(), b.maxSeq(), b.layers(), b.dim(), b.heads(), b.kvHeads(), b.headDim(), b.mlpDim()};
        for (int f = 0; f < x.length; f++) {
            if (x[f] != y[f]) {
                return 12 + 4 * f;
            }
        }
        return a.norm() != b.norm() ? 44 : 48;
    }

    private static ByteBuffer header(GptConfig c, int count, long crc) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION);
        b.putInt(c.vocab()).putInt(c.maxSeq()).putInt(c.layers()).putInt(c.dim()).putInt(c.heads()).putInt(c.kvHeads())
                .putInt(c.headDim()).putInt(c.mlpDim()).putInt(c.norm().ordinal()).putFloat(c.normEps());
        b.putLong(count).putLong(crc);
        return b.flip();
    }

    private static void readFully(InputStream in, byte[] into, long at, Path file) throws IOException {
        int n = in.readNBytes(into, 0, into.length);
        if (n != into.length) {
            throw new IOException(file + ": ended at offset " + (at + n) + ", " + (into.length - n)
                    + " bytes short (the file changed while being read?)");
        }
    }

    /** Writes the same format to a stream (no temporary file); for callers that manage their own files. */
    public static void write(OutputStream out, GptConfig cfg, float[] params) throws IOException {
        Checks.notNull(out, "out");
        Checks.notNull(cfg, "cfg");
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
