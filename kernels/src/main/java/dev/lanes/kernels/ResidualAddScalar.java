package dev.lanes.kernels;

/**
 * Scalar twin of {@link ResidualAdd}: the same contract in plain loops, each element computed in
 * {@code double} and rounded once; column sums for {@code dbias} accumulate in {@code double}.
 */
public final class ResidualAddScalar {
    private ResidualAddScalar() {}

    /** Same contract and validation as {@link ResidualAdd#forward(int, int, float, float[], int, int, float[], int, int, float[], int, float[], int, int)}. */
    public static void forward(int rows, int cols, float alpha, float[] x, int xOff, int ldx,
                               float[] f, int fOff, int ldf, float[] bias, int biasOff,
                               float[] y, int yOff, int ldy) {
        ResidualAdd.checkForward(rows, cols, x, xOff, ldx, f, fOff, ldf, bias, biasOff, y, yOff, ldy);
        forwardUnchecked(rows, cols, alpha, x, xOff, ldx, f, fOff, ldf, bias, biasOff, y, yOff, ldy);
    }

    /** Same contract and validation as {@link ResidualAdd#backward}. */
    public static void backward(int rows, int cols, float alpha, float[] dy, int dyOff, int lddy,
                                float[] dx, int dxOff, int lddx, float[] df, int dfOff, int lddf,
                                float[] dbias, int dbiasOff) {
        ResidualAdd.checkBackward(rows, cols, dy, dyOff, lddy, dx, dxOff, lddx, df, dfOff, lddf, dbias, dbiasOff);
        backwardUnchecked(rows, cols, alpha, dy, dyOff, lddy, dx, dxOff, lddx, df, dfOff, lddf, dbias, dbiasOff);
    }

    static void forwardUnchecked(int rows, int cols, float alpha, float[] x, int xOff, int ldx,
                                 float[] f, int fOff, int ldf, float[] bias, int biasOff,
                                 float[] y, int yOff, int ldy) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double branch = (double) f[fOff + i * ldf + j] + (bias == null ? 0.0 : bias[biasOff + j]);
                y[yOff + i * ldy + j] = (float) (x[xOff + i * ldx + j] + alpha * branch);
            }
        }
    }

    static void backwardUnchecked(int rows, int cols, float alpha, float[] dy, int dyOff, int lddy,
                                  float[] dx, int dxOff, int lddx, float[] df, int dfOff, int lddf,
                                  float[] dbias, int dbiasOff) {
        for (int j = 0; j < cols; j++) {
            double colSum = 0.0;
            for (int i = 0; i < rows; i++) {
                float g = dy[dyOff + i * lddy + j];
                colSum += g;
                // y = x + alpha * (f + bias): dy/dx = 1 (the residual path), dy/df = alpha.
                if (dx != null) {
                    dx[dxOff + i * lddx + j] += g;
                }
                if (df != null) {
                    df[dfOff + i * lddf + j] = (float) (df[dfOff + i * lddf + j] + (double) alpha * g);
                }
            }
            if (dbias != null) {
                dbias[dbiasOff + j] = (float) (dbias[dbiasOff + j] + alpha * colSum);
            }
        }
    }
}
