package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;
import java.lang.foreign.MemorySegment;

/**
 * Fused residual add {@code y = x + alpha * (f + bias)} in one pass over memory, and its backward.
 *
 * <pre>
 *   x, f, y: (rows, cols), row strides ldx, ldf, ldy; y may be x or f itself (same offset and stride)
 *   bias:    (cols), broadcast over rows; optional (null = none, biasOff ignored)
 *   y[i][j] = x[i][j] + alpha * (f[i][j] + bias[j])
 * </pre>
 *
 * This is the residual connection {@code y = x + f(x)}: its backward passes {@code dy} to the input
 * unchanged (the constant-1 path that lets deep stacks train) and {@code alpha * dy} to the branch.
 * Validation happens before anything is written; see {@link Gemm} for the rules and messages.
 */
public final class ResidualAdd {
    private ResidualAdd() {}

    /** {@code y = x + f}. */
    public static void forward(int rows, int cols, float[] x, int xOff, int ldx, float[] f, int fOff, int ldf,
                               float[] y, int yOff, int ldy) {
        forward(rows, cols, 1f, x, xOff, ldx, f, fOff, ldf, null, 0, y, yOff, ldy);
    }

    /** {@code y = x + alpha * (f + bias)}; bias may be null. */
    public static void forward(int rows, int cols, float alpha, float[] x, int xOff, int ldx,
                               float[] f, int fOff, int ldf, float[] bias, int biasOff,
                               float[] y, int yOff, int ldy) {
        checkForward(rows, cols, x, xOff, ldx, f, fOff, ldf, bias, biasOff, y, yOff, ldy);
        Backend.RESIDUAL_ADD.forward(rows, cols, alpha, x, xOff, ldx, f, fOff, ldf, bias, biasOff, y, yOff, ldy);
    }

    /**
     * Backward of {@link #forward(int, int, float, float[], int, int, float[], int, int, float[], int, float[], int, int)},
     * ACCUMULATING into the gradient buffers (zero them first to overwrite):
     *
     * <pre>
     *   dy, dx, df: (rows, cols), row strides lddy, lddx, lddf;  dbias: (cols)
     *   dx[i][j]  += dy[i][j]
     *   df[i][j]  += alpha * dy[i][j]
     *   dbias[j]  += alpha * sum_i dy[i][j]
     * </pre>
     *
     * Any of dx, df, dbias may be null to skip that gradient. dx and df may each be dy itself (same
     * offset and stride); dbias must not share storage with dy.
     */
    public static void backward(int rows, int cols, float alpha, float[] dy, int dyOff, int lddy,
                                float[] dx, int dxOff, int lddx, float[] df, int dfOff, int lddf,
                                float[] dbias, int dbiasOff) {
        checkBackward(rows, cols, dy, dyOff, lddy, dx, dxOff, lddx, df, dfOff, lddf, dbias, dbiasOff);
        Backend.RESIDUAL_ADD.backward(rows, cols, alpha, dy, dyOff, lddy, dx, dxOff, lddx, df, dfOff, lddf,
                dbias, dbiasOff);
    }

    /**
     * {@code y = x + alpha * (f + bias)} on {@link MemorySegment} operands (floats in native byte order,
     * offsets and strides counting floats, in {@code long}); the same rules and the same bits as the
     * array overload. bias may be null; y must be writable and may be x or f itself.
     */
    public static void forward(int rows, int cols, float alpha, MemorySegment x, long xOff, long ldx,
                               MemorySegment f, long fOff, long ldf, MemorySegment bias, long biasOff,
                               MemorySegment y, long yOff, long ldy) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        Segments.matrix("x", x, xOff, ldx, "ldx", rows, cols, "cols");
        Segments.matrix("f", f, fOff, ldf, "ldf", rows, cols, "cols");
        if (bias != null) {
            Segments.vector("bias", bias, biasOff, cols);
        }
        Segments.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Segments.writable("y", y);
        Overlap.views().input("x", x, xOff, rows, cols, ldx).input("f", f, fOff, rows, cols, ldf)
                .input("bias", bias, biasOff, cols)
                .output("y", y, yOff, rows, cols, ldy).orSameAs("x").orSameAs("f").check();
        if (rows == 0 || cols == 0) {
            return;
        }
        // One pass, reading and writing the segments in place (staging would add two passes).
        if (Backend.RESIDUAL_ADD.forwardInPlace(rows, cols, alpha, x, xOff, ldx, f, fOff, ldf, bias, biasOff,
                y, yOff, ldy)) {
            return;
        }
        // The scalar twin, on rows staged through heap buffers.
        Segments.Stage st = Segments.STAGE.get();
        int chunk = Segments.chunkRows(rows, cols);
        st.v = Segments.Stage.atLeast(st.v, (long) chunk * cols);
        st.w = Segments.Stage.atLeast(st.w, (long) chunk * cols);
        if (bias != null) {
            st.a = Segments.Stage.atLeast(st.a, cols);
            Segments.load(bias, biasOff, cols, 1, cols, st.a);
        }
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int n = Math.min(chunk, rows - r0);
            Segments.load(x, xOff + r0 * ldx, ldx, n, cols, st.v);
            Segments.load(f, fOff + r0 * ldf, ldf, n, cols, st.w);
            forward(n, cols, alpha, st.v, 0, cols, st.w, 0, cols, bias == null ? null : st.a, 0, st.v, 0, cols);
            Segments.store(st.v, n, cols, y, yOff + r0 * ldy, ldy);
        }
    }

    /**
     * Backward of residual add on {@link MemorySegment} operands, ACCUMULATING into dx, df and dbias (any
     * may be null): the same rules and the same bits as the array overload. Columns are staged a block
     * at a time, every row of them, through the array kernel: each column's bias sum runs over the rows
     * in order, as for arrays. The outputs must be writable; dx and df may each be dy itself.
     */
    public static void backward(int rows, int cols, float alpha, MemorySegment dy, long dyOff, long lddy,
                                MemorySegment dx, long dxOff, long lddx, MemorySegment df, long dfOff, long lddf,
                                MemorySegment dbias, long dbiasOff) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        Segments.matrix("dy", dy, dyOff, lddy, "lddy", rows, cols, "cols");
        if (dx != null) {
            Segments.matrix("dx", dx, dxOff, lddx, "lddx", rows, cols, "cols");
            Segments.writable("dx", dx);
        }
        if (df != null) {
            Segments.matrix("df", df, dfOff, lddf, "lddf", rows, cols, "cols");
            Segments.writable("df", df);
        }
        if (dbias != null) {
            Segments.vector("dbias", dbias, dbiasOff, cols);
            Segments.writable("dbias", dbias);
        }
        Overlap.views().input("dy", dy, dyOff, rows, cols, lddy)
                .output("dx", dx, dxOff, rows, cols, lddx).orSameAs("dy")
                .output("df", df, dfOff, rows, cols, lddf).orSameAs("dy")
                .output("dbias", dbias, dbiasOff, cols).check();
        if (rows == 0 || cols == 0) {
            return;
        }
        Segments.Stage st = Segments.STAGE.get();
        int width = (int) Math.max(1, Math.min(cols, Segments.ROW_CHUNK_FLOATS * 64L / rows));
        long block = (long) rows * width;
        st.v = Segments.Stage.atLeast(st.v, block);
        st.w = Segments.Stage.atLeast(st.w, dx != null ? block : 0);
        st.c = Segments.Stage.atLeast(st.c, df != null ? block : 0);
        st.a = Segments.Stage.atLeast(st.a, dbias != null ? width : 0);
        for (int j0 = 0; j0 < cols; j0 += width) {
            int w = Math.min(width, cols - j0);
            Segments.load(dy, dyOff + j0, lddy, rows, w, st.v);
            if (dx != null) {
                Segments.load(dx, dxOff + j0, lddx, rows, w, st.w);
            }
            if (df != null) {
                Segments.load(df, dfOff + j0, lddf, rows, w, st.c);
            }
            if (dbias != null) {
                Segments.load(dbias, dbiasOff + j0, w, 1, w, st.a);
            }
            backward(rows, w, alpha, st.v, 0, w, dx == null ? null : st.w, 0, w, df == null ? null : st.c, 0, w,
                    dbias == null ? null : st.a, 0);
            if (dx != null) {
                Segments.store(st.w, rows, w, dx, dxOff + j0, lddx);
            }
            if (df != null) {
                Segments.store(st.c, rows, w, df, dfOff + j0, lddf);
            }
            if (dbias != null) {
                Segments.store(st.a, 1, w, dbias, dbiasOff + j0, w);
            }
        }
    }

    static void checkForward(int rows, int cols, float[] x, int xOff, int ldx, float[] f, int fOff, int ldf,
                             float[] bias, int biasOff, float[] y, int yOff, int ldy) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        Checks.matrix("x", x, xOff, ldx, "ldx", rows, cols, "cols");
        Checks.matrix("f", f, fOff, ldf, "ldf", rows, cols, "cols");
        if (bias != null) {
            Checks.vector("bias", bias, biasOff, cols);
        }
        Checks.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        // bias is broadcast over rows: even bias == row 0 of y would be overwritten before row 1 reads it.
        Overlap.views().input("x", x, xOff, rows, cols, ldx).input("f", f, fOff, rows, cols, ldf)
                .input("bias", bias, biasOff, cols)
                .output("y", y, yOff, rows, cols, ldy).orSameAs("x").orSameAs("f").check();
    }

    static void checkBackward(int rows, int cols, float[] dy, int dyOff, int lddy, float[] dx, int dxOff, int lddx,
                              float[] df, int dfOff, int lddf, float[] dbias, int dbiasOff) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        Checks.matrix("dy", dy, dyOff, lddy, "lddy", rows, cols, "cols");
        if (dx != null) {
            Checks.matrix("dx", dx, dxOff, lddx, "lddx", rows, cols, "cols");
        }
        if (df != null) {
            Checks.matrix("df", df, dfOff, lddf, "lddf", rows, cols, "cols");
        }
        if (dbias != null) {
            Checks.vector("dbias", dbias, dbiasOff, cols);
        }
        Overlap.views().input("dy", dy, dyOff, rows, cols, lddy)
                .output("dx", dx, dxOff, rows, cols, lddx).orSameAs("dy")
                .output("df", df, dfOff, rows, cols, lddf).orSameAs("dy")
                .output("dbias", dbias, dbiasOff, cols).check();
    }
}
