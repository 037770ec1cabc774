package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Off-heap operands: validation of {@link MemorySegment} views and the staging that runs the array
 * kernels on them.
 *
 * <p>A segment operand is read as floats in the platform's byte order, element {@code i} at byte
 * {@code 4 * i}, with no alignment required. Offsets and leading dimensions count floats and are
 * {@code long}, so a view may reach past element 2^31; extents are computed in {@code long} with
 * overflow checks. Outputs must be writable segments (a read-only one, such as a file mapped
 * {@code READ_ONLY}, is refused before anything is written).
 *
 * <p>Staging: the segment overloads copy the rows they need into per-thread heap buffers, call the
 * array kernel on them and copy the results back. The array kernels compute every row (softmax,
 * residual add, norms) or every element of C (GEMM, whose k dimension is never split here) by the
 * same sequence of float operations whatever the block they sit in, so the segment overloads give the
 * same bits as the array ones. The buffers are kept per thread and grow to the largest shape seen, so
 * steady-state calls allocate nothing. The exceptions, on the SIMD backend: the residual add, unmasked
 * softmax and the norms' forward and backward read and write the segments in place through segment
 * twins of the array loops (in the simd classes), the same operations in the same order; staging
 * cost them 0.58-0.85x of the arrays' speed. GEMM runs its BLIS loops over the segments, copying
 * blocks of A and C and packing blocks of B as they are needed (see {@code SegmentGemm}).
 */
final class Segments {
    private Segments() {}

    /** Floats of any alignment, native byte order. */
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Row-wise kernels stage about this many floats of each operand at a time (16 KiB: L1-resident). */
    static final int ROW_CHUNK_FLOATS = 1 << 12;
    /**
     * GEMM stages a (k, nc) block of op(B) of about this many floats (8 MiB: 1024 columns at k = 2048, the
     * NC of the Zen 4 tuning), and (mc, k) rows of op(A).
     */
    static final int GEMM_B_FLOATS = 1 << 21;
    static final int GEMM_A_FLOATS = 1 << 22;

    /** A thread that never runs: a segment accessible by it is not confined to the calling thread. */
    private static final Thread NOT_THE_OWNER = new Thread(() -> { });

    // ---------------------------------------------------------------------------------------------
    // Validation, in long

    static long elements(MemorySegment x) {
        return x.byteSize() / Float.BYTES;
    }

    /** A row-major (rows, cols) block with row stride ld at element off of x. */
    static void matrix(String name, MemorySegment x, long off, long ld, String ldName, long rows, long cols,
                       String colsName) {
        Checks.notNull(x, name);
        if (off < 0) {
            throw new IllegalArgumentException(name + "Off=" + off + " < 0");
        }
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException(ldName + "=" + ld + " < " + colsName + "=" + cols
                    + (cols == 0 ? " (and must be >= 1)" : ""));
        }
        long length = elements(x);
        if (rows == 0 || cols == 0) {
            if (off > length) {
                throw new IllegalArgumentException(name + "Off=" + off + " > " + name + " length=" + length
                        + " floats");
            }
            return;
        }
        long end = extentEnd(name, off, rows, cols, ld);
        if (end > length) {
            throw new IllegalArgumentException(name + " too short: " + name + "Off=" + off + " + (" + rows + "-1)*"
                    + ldName + "=" + ld + " + " + cols + " = " + end + " > " + name + " length=" + length
                    + " floats (byteSize=" + x.byteSize() + ")");
        }
    }

    /** len contiguous floats at element off of x. */
    static void vector(String name, MemorySegment x, long off, long len) {
        Checks.notNull(x, name);
        if (off < 0) {
            throw new IllegalArgumentException(name + "Off=" + off + " < 0");
        }
        long length = elements(x);
        if (off > length - len) {
            throw new IllegalArgumentException(name + " too short: " + name + "Off=" + off + " + " + len + " = "
                    + (off + len) + " > " + name + " length=" + length + " floats");
        }
    }

    /** One past the last element of a (rows, cols) block, rows and cols > 0. */
    static long extentEnd(String name, long off, long rows, long cols, long ld) {
        try {
            return Math.addExact(Math.addExact(off, Math.multiplyExact(rows - 1, ld)), cols);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(name + "'s extent overflows a long: " + name + "Off=" + off
                    + ", rows=" + rows + ", ld=" + ld + ", cols=" + cols);
        }
    }

    static void writable(String name, MemorySegment x) {
        if (x.isReadOnly()) {
            throw new IllegalArgumentException(name + " is a read-only segment and is written by this call");
        }
    }

    /** Whether every segment may be read by threads other than the caller (not a confined arena's). */
    static boolean shareable(MemorySegment a, MemorySegment b, MemorySegment c) {
        return a.isAccessibleBy(NOT_THE_OWNER) && b.isAccessibleBy(NOT_THE_OWNER) && c.isAccessibleBy(NOT_THE_OWNER);
    }

    // ---------------------------------------------------------------------------------------------
    // Staging

    /** Per-thread staging buffers, grown to the largest shape seen. */
    static final class Stage {
        float[] a = new float[0], b = new float[0], c = new float[0], u = new float[0], v = new float[0],
                w = new float[0];

        static float[] atLeast(float[] buf, long floats) {
            return buf.length >= floats ? buf : new float[Math.toIntExact(floats)];
        }
    }

    static final ThreadLocal<Stage> STAGE = ThreadLocal.withInitial(Stage::new);

    /** Copies rows x cols floats from x (element off, row stride ld) into dst (row stride cols). */
    static void load(MemorySegment x, long off, long ld, int rows, int cols, float[] dst) {
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(x, FLOAT, (off + r * ld) * Float.BYTES, dst, r * cols, cols);
        }
    }

    /** Copies rows x cols floats from src (row stride cols) into x (element off, row stride ld). */
    static void store(float[] src, int rows, int cols, MemorySegment x, long off, long ld) {
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(src, r * cols, x, FLOAT, (off + r * ld) * Float.BYTES, cols);
        }
    }

    /** Rows per staged chunk of a row-wise kernel over rows of cols floats. */
    static int chunkRows(int rows, int cols) {
        return Math.max(1, Math.min(rows, ROW_CHUNK_FLOATS / Math.max(1, cols)));
    }
}
