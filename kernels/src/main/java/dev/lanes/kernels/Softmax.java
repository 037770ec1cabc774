package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;
import java.lang.foreign.MemorySegment;

/**
 * Row-wise, numerically stable softmax of a row-major {@code (rows, cols)} block, and its backward pass.
 *
 * <pre>
 *   x, y: (rows, cols), row strides ldx, ldy; y may be x itself (same offset and stride) for in place
 *   mask: (rows, cols), row stride ldmask, optional (null = none)
 *   z[i][j] = -inf                            if causal and j > i + causalOffset, or mask[i][j] == -inf,
 *                                             or scale * x[i][j] == -inf
 *           = fl(fl(scale * x[i][j]) + mask[i][j])   otherwise (float arithmetic)
 *   y[i][j] = exp(z[i][j] - max_j z[i][j]) / sum_j exp(z[i][j] - max_j z[i][j])
 * </pre>
 *
 * <p>Edge rows never produce NaN from non-NaN input: a row whose every {@code z} is {@code -inf}
 * (fully masked) becomes zeros, and a row whose maximum is {@code +inf} (for instance a logit near
 * {@link Float#MAX_VALUE} overflowing after scaling) becomes uniform over its {@code +inf} entries, the
 * limit of softmax as those entries grow together. {@code scale} must be finite and positive.
 *
 * <p>Validation happens before anything is written; see {@link Gemm} for the rules and messages.
 */
public final class Softmax {
    private Softmax() {}

    /** {@code y = softmax(x)} row by row. */
    public static void forward(int rows, int cols, float[] x, int xOff, int ldx, float[] y, int yOff, int ldy) {
        forward(rows, cols, 1f, false, 0, null, 0, 0, x, xOff, ldx, y, yOff, ldy);
    }

    /** {@code y = softmax(scale * x)} row by row. */
    public static void forward(int rows, int cols, float scale, float[] x, int xOff, int ldx,
                               float[] y, int yOff, int ldy) {
        forward(rows, cols, scale, false, 0, null, 0, 0, x, xOff, ldx, y, yOff, ldy);
    }

    /**
     * {@code y = softmax(scale * x + mask)} row by row with an optional causal mask: when {@code causal},
     * row {@code i} keeps only columns {@code j <= i + causalOffset} (offset 0 is PyTorch's
     * {@code is_causal}; {@code cols - rows} aligns the diagonal to the bottom right). {@code mask} may
     * be null, in which case {@code maskOff} and {@code ldmask} are ignored.
     */
    public static void forward(int rows, int cols, float scale, boolean causal, int causalOffset,
                               float[] mask, int maskOff, int ldmask,
                               float[] x, int xOff, int ldx, float[] y, int yOff, int ldy) {
        checkForward(rows, cols, scale, mask, maskOff, ldmask, x, xOff, ldx, y, yOff, ldy);
        Backend.SOFTMAX.forward(rows, cols, scale, causal, causalOffset, mask, maskOff, ldmask, x, xOff, ldx,
                y, yOff, ldy);
    }

    /**
     * Backward of {@code y = softmax(scale * x + mask)}, ACCUMULATING into dx:
     *
     * <pre>
     *   dy, y, dx: (rows, cols), row strides lddy, ldy, lddx
     *   dx[i][j] += scale * y[i][j] * (dy[i][j] - sum_k dy[i][k] * y[i][k])
     * </pre>
     *
     * Masked entries have {@code y == 0} and so receive no gradient. dx may be dy or y itself (same
     * offset and stride); zero dx first to overwrite instead of accumulate.
     */
    public static void backward(int rows, int cols, float scale, float[] dy, int dyOff, int lddy,
                                float[] y, int yOff, int ldy, float[] dx, int dxOff, int lddx) {
        checkBackward(rows, cols, scale, dy, dyOff, lddy, y, yOff, ldy, dx, dxOff, lddx);
        Backend.SOFTMAX.backward(rows, cols, scale, dy, dyOff, lddy, y, yOff, ldy, dx, dxOff, lddx);
    }

    /** Columns {@code [0, visible)} of row {@code i} survive the causal mask. */
    static int visibleColumns(int i, int cols, boolean causal, int causalOffset) {
        if (!causal) {
            return cols;
        }
        long last = (long) i + causalOffset; // last visible column, may be negative or past the end
        return (int) Math.max(0, Math.min(cols, last + 1));
    }

    /** The contract's logit: scale*x plus mask in float, with -inf in either term winning. */
    static float logit(float scale, float x, float mask) {
        float s = scale * x;
        if (s == Float.NEGATIVE_INFINITY || mask == Float.NEGATIVE_INFINITY) {
            return Float.NEGATIVE_INFINITY;
        }
        return s + mask;
    }

    /**
     * {@code y = softmax(scale * x + mask)} on {@link MemorySegment} operands (floats in native byte
     * order, offsets and strides counting floats, in {@code long}); the same rules and the same bits as
     * the array overload, y must be writable and may be x itself. mask may be null.
     */
    public static void forward(int rows, int cols, float scale, boolean causal, int causalOffset,
                               MemorySegment mask, long maskOff, long ldmask,
                               MemorySegment x, long xOff, long ldx, MemorySegment y, long yOff, long ldy) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        checkScale(scale);
        Segments.matrix("x", x, xOff, ldx, "ldx", rows, cols, "cols");
        if (mask != null) {
            Segments.matrix("mask", mask, maskOff, ldmask, "ldmask", rows, cols, "cols");
        }
        Segments.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Segments.writable("y", y);
        Overlap.views().input("x", x, xOff, rows, cols, ldx).input("mask", mask, maskOff, rows, cols, ldmask)
                .output("y", y, yOff, rows, cols, ldy).orSameAs("x").check();
        if (rows == 0 || cols == 0) {
            return;
        }
        Segments.Stage st = Segments.STAGE.get();
        // Without a mask the SIMD rows read and write the segments in place: staging would add two passes
        // to a kernel that makes two.
        if (mask == null
                && Backend.SOFTMAX.forwardInPlace(rows, cols, scale, causal, causalOffset, x, xOff, ldx, y, yOff, ldy)) {
            return;
        }
        int chunk = Segments.chunkRows(rows, cols);
        st.v = Segments.Stage.atLeast(st.v, (long) chunk * cols);
        if (mask != null) {
            st.w = Segments.Stage.atLeast(st.w, (long) chunk * cols);
        }
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int n = Math.min(chunk, rows - r0);
            Segments.load(x, xOff + r0 * ldx, ldx, n, cols, st.v);
            if (mask != null) {
                Segments.load(mask, maskOff + r0 * ldmask, ldmask, n, cols, st.w);
            }
            // Row r0 + i of the whole keeps columns j <= r0 + i + causalOffset.
            int offset = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, (long) causalOffset + r0));
            forward(n, cols, scale, causal, offset, mask == null ? null : st.w, 0, cols, st.v, 0, cols, st.v, 0, cols);
            Segments.store(st.v, n, cols, y, yOff + r0 * ldy, ldy);
        }
    }

    /** {@code y = softmax(scale * x)} row by row on {@link MemorySegment} operands. */
    public static void forward(int rows, int cols, float scale, MemorySegment x, long xOff, long ldx,
                               MemorySegment y, long yOff, long ldy) {
        forward(rows, cols, scale, false, 0, null, 0, 0, x, xOff, ldx, y, yOff, ldy);
    }

    /**
     * Backward of softmax on {@link MemorySegment} operands, ACCUMULATING into dx: the same rules and the
     * same bits as the array overload (rows staged a chunk at a time through it). dx must be writable and
     * may be dy or y itself.
     */
    public static void backward(int rows, int cols, float scale, MemorySegment dy, long dyOff, long lddy,
                                MemorySegment y, long yOff, long ldy, MemorySegment dx, long dxOff, long lddx) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        checkScale(scale);
        Segments.matrix("dy", dy, dyOff, lddy, "lddy", rows, cols, "cols");
        Segments.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Segments.matrix("dx", dx, dxOff, lddx, "lddx", rows, cols, "cols");
        Segments.writable("dx", dx);
        Overlap.views().input("dy", dy, dyOff, rows, cols, lddy).input("y", y, yOff, rows, cols, ldy)
                .output("dx", dx, dxOff, rows, cols, lddx).orSameAs("dy").orSameAs("y").check();
        if (rows == 0 || cols == 0) {
            return;
        }
        Segments.Stage st = Segments.STAGE.get();
        int chunk = Segments.chunkRows(rows, cols);
        st.v = Segments.Stage.atLeast(st.v, (long) chunk * cols);
        st.w = Segments.Stage.atLeast(st.w, (long) chunk * cols);
        st.c = Segments.Stage.atLeast(st.c, (long) chunk * cols);
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int n = Math.min(chunk, rows - r0);
            Segments.load(dy, dyOff + r0 * lddy, lddy, n, cols, st.v);
            Segments.load(y, yOff + r0 * ldy, ldy, n, cols, st.w);
            Segments.load(dx, dxOff + r0 * lddx, lddx, n, cols, st.c);
            backward(n, cols, scale, st.v, 0, cols, st.w, 0, cols, st.c, 0, cols);
            Segments.store(st.c, n, cols, dx, dxOff + r0 * lddx, lddx);
        }
    }

    static void checkForward(int rows, int cols, float scale, float[] mask, int maskOff, int ldmask,
                             float[] x, int xOff, int ldx, float[] y, int yOff, int ldy) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        checkScale(scale);
        Checks.matrix("x", x, xOff, ldx, "ldx", rows, cols, "cols");
        if (mask != null) {
            Checks.matrix("mask", mask, maskOff, ldmask, "ldmask", rows, cols, "cols");
        }
        Checks.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Overlap.views().input("x", x, xOff, rows, cols, ldx).input("mask", mask, maskOff, rows, cols, ldmask)
                .output("y", y, yOff, rows, cols, ldy).orSameAs("x").check();
    }

    static void checkBackward(int rows, int cols, float scale, float[] dy, int dyOff, int lddy,
                              float[] y, int yOff, int ldy, float[] dx, int dxOff, int lddx) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        checkScale(scale);
        Checks.matrix("dy", dy, dyOff, lddy, "lddy", rows, cols, "cols");
        Checks.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Checks.matrix("dx", dx, dxOff, lddx, "lddx", rows, cols, "cols");
        Overlap.views().input("dy", dy, dyOff, rows, cols, lddy).input("y", y, yOff, rows, cols, ldy)
                .output("dx", dx, dxOff, rows, cols, lddx).orSameAs("dy").orSameAs("y").check();
    }

    private static void checkScale(float scale) {
        if (!(scale > 0f) || !Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale=" + scale + " must be finite and > 0");
        }
    }
}
