package dev.lanes.core.nn;

import dev.lanes.kernels.Checks;

/**
 * Root-mean-square normalisation (Zhang and Sennrich 2019): layer norm without centring or bias.
 *
 * <pre>
 *   x, y:  (rows, cols), row strides ldx, ldy
 *   gamma: (cols);  rstd: (rows) saved by forward for backward
 *   y[i][j] = x[i][j] * rstd[i] * gamma[j],  rstd = 1 / sqrt(mean_j(x^2) + eps)
 * </pre>
 */
public final class RmsNorm {
    private RmsNorm() {}

    public static void forward(int rows, int cols, float eps, float[] x, int xOff, int ldx, float[] gamma, int gOff,
                               float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
        checkCommon(rows, cols, x, xOff, ldx, gamma, gOff, rstd, rstdOff);
        if (!(eps > 0f) || !Float.isFinite(eps)) {
            throw new IllegalArgumentException("eps=" + eps + " must be finite and > 0");
        }
        Checks.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Checks.noPartialOverlap("y", y, yOff, ldy, "x", x, xOff, ldx, rows, cols);
        for (int i = 0; i < rows; i++) {
            int xr = xOff + i * ldx, yr = yOff + i * ldy;
            double sq = 0;
            for (int j = 0; j < cols; j++) {
                sq += (double) x[xr + j] * x[xr + j];
            }
            float s = (float) (1.0 / Math.sqrt((cols == 0 ? 0 : sq / cols) + eps));
            for (int j = 0; j < cols; j++) {
                y[yr + j] = x[xr + j] * s * gamma[gOff + j];
            }
            rstd[rstdOff + i] = s;
        }
    }

    /**
     * Backward, ACCUMULATING into dx and dgamma (either may be null):
     *
     * <pre>
     *   norm = x * rstd;  dnorm = gamma * dy
     *   dx     += rstd * (dnorm - norm * mean_j(dnorm * norm))
     *   dgamma += sum_i norm * dy
     * </pre>
     */
    public static void backward(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                                float[] gamma, int gOff, float[] rstd, int rstdOff,
                                float[] dx, int dxOff, int lddx, float[] dgamma, int dgOff) {
        checkCommon(rows, cols, x, xOff, ldx, gamma, gOff, rstd, rstdOff);
        Checks.matrix("dy", dy, dyOff, lddy, "lddy", rows, cols, "cols");
        if (dx != null) {
            Checks.matrix("dx", dx, dxOff, lddx, "lddx", rows, cols, "cols");
            Checks.noPartialOverlap("dx", dx, dxOff, lddx, "dy", dy, dyOff, lddy, rows, cols);
        }
        if (dgamma != null) {
            Checks.vector("dgamma", dgamma, dgOff, cols);
        }
        for (int i = 0; i < rows; i++) {
            int xr = xOff + i * ldx, gr = dyOff + i * lddy;
            float s = rstd[rstdOff + i];
            double dnormNormMean = 0;
            for (int j = 0; j < cols; j++) {
                dnormNormMean += (double) gamma[gOff + j] * dy[gr + j] * x[xr + j] * s;
            }
            dnormNormMean /= cols;
            for (int j = 0; j < cols; j++) {
                float g = dy[gr + j];
                float norm = x[xr + j] * s;
                if (dgamma != null) {
                    dgamma[dgOff + j] += norm * g;
                }
                if (dx != null) {
                    dx[dxOff + i * lddx + j] += (float) (s * (gamma[gOff + j] * g - norm * dnormNormMean));
                }
            }
        }
    }

    private static void checkCommon(int rows, int cols, float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                    float[] rstd, int rstdOff) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        Checks.matrix("x", x, xOff, ldx, "ldx", rows, cols, "cols");
        Checks.vector("gamma", gamma, gOff, cols);
        Checks.vector("rstd", rstd, rstdOff, rows);
    }
}
