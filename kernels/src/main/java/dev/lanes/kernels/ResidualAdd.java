package dev.lanes.kernels;

import dev.lanes.kernels.simd.SimdResidualAdd;

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
        if (Backend.SIMD) {
            SimdResidualAdd.forward(rows, cols, alpha, x, xOff, ldx, f, fOff, ldf, bias, biasOff, y, yOff, ldy);
        } else {
            ResidualAddScalar.forwardUnchecked(rows, cols, alpha, x, xOff, ldx, f, fOff, ldf, bias, biasOff,
                    y, yOff, ldy);
        }
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
        if (Backend.SIMD) {
            SimdResidualAdd.backward(rows, cols, alpha, dy, dyOff, lddy, dx, dxOff, lddx, df, dfOff, lddf,
                    dbias, dbiasOff);
        } else {
            ResidualAddScalar.backwardUnchecked(rows, cols, alpha, dy, dyOff, lddy, dx, dxOff, lddx, df, dfOff, lddf,
                    dbias, dbiasOff);
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
