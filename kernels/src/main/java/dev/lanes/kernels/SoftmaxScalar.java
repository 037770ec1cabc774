package dev.lanes.kernels;

/**
 * Scalar twin of {@link Softmax}: the same contract, with the logits {@code z} formed in float exactly
 * as the contract defines them and the exponentials, sums and normalisation carried out in
 * {@code double}. The oracle of the differential tests and the fallback without the Vector API.
 */
public final class SoftmaxScalar {
    private SoftmaxScalar() {}

    /** Same contract and validation as {@link Softmax#forward(int, int, float, boolean, int, float[], int, int, float[], int, int, float[], int, int)}. */
    public static void forward(int rows, int cols, float scale, boolean causal, int causalOffset,
                               float[] mask, int maskOff, int ldmask,
                               float[] x, int xOff, int ldx, float[] y, int yOff, int ldy) {
        Softmax.checkForward(rows, cols, scale, mask, maskOff, ldmask, x, xOff, ldx, y, yOff, ldy);
        forwardUnchecked(rows, cols, scale, causal, causalOffset, mask, maskOff, ldmask, x, xOff, ldx, y, yOff, ldy);
    }

    /** Same contract and validation as {@link Softmax#backward}. */
    public static void backward(int rows, int cols, float scale, float[] dy, int dyOff, int lddy,
                                float[] y, int yOff, int ldy, float[] dx, int dxOff, int lddx) {
        Softmax.checkBackward(rows, cols, scale, dy, dyOff, lddy, y, yOff, ldy, dx, dxOff, lddx);
        backwardUnchecked(rows, cols, scale, dy, dyOff, lddy, y, yOff, ldy, dx, dxOff, lddx);
    }

    static void forwardUnchecked(int rows, int cols, float scale, boolean causal, int causalOffset,
                                 float[] mask, int maskOff, int ldmask,
                                 float[] x, int xOff, int ldx, float[] y, int yOff, int ldy) {
        // Logits are recomputed in each pass rather than buffered: the fallback allocates nothing, and
        // y may be x itself, so y is written only in the last pass.
        for (int i = 0; i < rows; i++) {
            int visible = Softmax.visibleColumns(i, cols, causal, causalOffset);
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < visible; j++) {
                max = Math.max(max, logit(i, j, scale, mask, maskOff, ldmask, x, xOff, ldx));
            }
            int yRow = yOff + i * ldy;
            if (max == Float.NEGATIVE_INFINITY) {
                // Every entry masked or -inf: no distribution exists; the contract says zeros.
                for (int j = 0; j < visible; j++) {
                    y[yRow + j] = 0f;
                }
            } else if (max == Float.POSITIVE_INFINITY) {
                // The limit of softmax as the +inf entries grow together: uniform over them.
                int count = 0;
                for (int j = 0; j < visible; j++) {
                    count += logit(i, j, scale, mask, maskOff, ldmask, x, xOff, ldx) == Float.POSITIVE_INFINITY ? 1 : 0;
                }
                for (int j = 0; j < visible; j++) {
                    boolean inf = logit(i, j, scale, mask, maskOff, ldmask, x, xOff, ldx) == Float.POSITIVE_INFINITY;
                    y[yRow + j] = inf ? (float) (1.0 / count) : 0f;
                }
            } else {
                double sum = 0.0;
                for (int j = 0; j < visible; j++) {
                    sum += Math.exp((double) logit(i, j, scale, mask, maskOff, ldmask, x, xOff, ldx) - max);
                }
                for (int j = 0; j < visible; j++) {
                    y[yRow + j] = (float) (Math.exp((double) logit(i, j, scale, mask, maskOff, ldmask, x, xOff, ldx) - max) / sum);
                }
            }
            for (int j = visible; j < cols; j++) {
                y[yRow + j] = 0f; // masked by the causal diagonal
            }
        }
    }

    private static float logit(int i, int j, float scale, float[] mask, int maskOff, int ldmask,
                               float[] x, int xOff, int ldx) {
        return Softmax.logit(scale, x[xOff + i * ldx + j], mask == null ? 0f : mask[maskOff + i * ldmask + j]);
    }

    static void backwardUnchecked(int rows, int cols, float scale, float[] dy, int dyOff, int lddy,
                                  float[] y, int yOff, int ldy, float[] dx, int dxOff, int lddx) {
        for (int i = 0; i < rows; i++) {
            double dot = 0.0;
            for (int j = 0; j < cols; j++) {
                dot += (double) dy[dyOff + i * lddy + j] * y[yOff + i * ldy + j];
            }
            for (int j = 0; j < cols; j++) {
                double g = (double) scale * y[yOff + i * ldy + j] * (dy[dyOff + i * lddy + j] - dot);
                dx[dxOff + i * lddx + j] = (float) (dx[dxOff + i * lddx + j] + g);
            }
        }
    }
}
