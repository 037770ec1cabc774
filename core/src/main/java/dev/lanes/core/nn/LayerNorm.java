package dev.lanes.core.nn;

import dev.lanes.kernels.Checks;

/**
 * Layer normalisation over the last dimension (Ba, Kiros and Hinton 2016), as llm.c writes it:
 *
 * <pre>
 *   x, y:        (rows, cols), row strides ldx, ldy        (rows = B*T, cols = C)
 *   gamma, beta: (cols)
 *   mean, rstd:  (rows)  saved by forward for backward
 *   y[i][j] = (x[i][j] - mean[i]) * rstd[i] * gamma[j] + beta[j],  rstd = 1 / sqrt(var + eps)
 * </pre>
 *
 * Statistics are accumulated in double, so rows of large magnitude or large width lose nothing to
 * cancellation in the variance.
 */
public final class LayerNorm {
    private LayerNorm() {}

    public static void forward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                               float[] gamma, int gOff, float[] beta, int bOff,
                               float[] y, int yOff, int ldy, float[] mean, int meanOff, float[] rstd, int rstdOff) {
        checkCommon(rows, cols, x, xOff, ldx, gamma, gOff, mean, meanOff, rstd, rstdOff);
        if (!(eps > 0f) || !Float.isFinite(eps)) {
            throw new IllegalArgumentException("eps=" + eps + " must be finite and > 0");
        }
        Checks.vector("beta", beta, bOff, cols);
        Checks.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Checks.noPartialOverlap("y", y, yOff, ldy, "x", x, xOff, ldx, rows, cols);
        for (int i = 0; i < rows; i++) {
            int xr = xOff + i * ldx, yr = yOff + i * ldy;
            double sum = 0;
            for (int j = 0; j < cols; j++) {
                sum += x[xr + j];
            }
            double mu = cols == 0 ? 0 : sum / cols;
            double sq = 0;
            for (int j = 0; j < cols; j++) {
                double d = x[xr + j] - mu;
                sq += d * d;
            }
            double var = cols == 0 ? 0 : sq / cols;
            float s = (float) (1.0 / Math.sqrt(var + eps));
            float m = (float) mu;
            for (int j = 0; j < cols; j++) {
                y[yr + j] = (x[xr + j] - m) * s * gamma[gOff + j] + beta[bOff + j];
            }
            mean[meanOff + i] = m;
            rstd[rstdOff + i] = s;
        }
    }

    /**
     * Backward, ACCUMULATING into dx, dgamma and dbeta (any may be null to skip it):
     *
     * <pre>
     *   norm = (x - mean) * rstd;  dnorm = gamma * dy
     *   dx     += rstd * (dnorm - mean_j(dnorm) - norm * mean_j(dnorm * norm))
     *   dgamma += sum_i norm * dy;   dbeta += sum_i dy
     * </pre>
     */
    public static void backward(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                                float[] gamma, int gOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                float[] dx, int dxOff, int lddx, float[] dgamma, int dgOff, float[] dbeta, int dbOff) {
        checkCommon(rows, cols, x, xOff, ldx, gamma, gOff, mean, meanOff, rstd, rstdOff);
        Checks.matrix("dy", dy, dyOff, lddy, "lddy", rows, cols, "cols");
        if (dx != null) {
            Checks.matrix("dx", dx, dxOff, lddx, "lddx", rows, cols, "cols");
            Checks.noPartialOverlap("dx", dx, dxOff, lddx, "dy", dy, dyOff, lddy, rows, cols);
        }
        if (dgamma != null) {
            Checks.vector("dgamma", dgamma, dgOff, cols);
        }
        if (dbeta != null) {
            Checks.vector("dbeta", dbeta, dbOff, cols);
        }
        for (int i = 0; i < rows; i++) {
            int xr = xOff + i * ldx, gr = dyOff + i * lddy;
            float mu = mean[meanOff + i], s = rstd[rstdOff + i];
            double dnormMean = 0, dnormNormMean = 0;
            for (int j = 0; j < cols; j++) {
                float norm = (x[xr + j] - mu) * s;
                float dnorm = gamma[gOff + j] * dy[gr + j];
                dnormMean += dnorm;
                dnormNormMean += (double) dnorm * norm;
            }
            dnormMean /= cols;
            dnormNormMean /= cols;
            for (int j = 0; j < cols; j++) {
                float g = dy[gr + j];
                float norm = (x[xr + j] - mu) * s;
                float dnorm = gamma[gOff + j] * g;
                if (dbeta != null) {
                    dbeta[dbOff + j] += g;
                }
                if (dgamma != null) {
                    dgamma[dgOff + j] += norm * g;
                }
                if (dx != null) {
                    dx[dxOff + i * lddx + j] += (float) (s * (dnorm - dnormMean - norm * dnormNormMean));
                }
            }
        }
    }

    private static void checkCommon(int rows, int cols, float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                    float[] mean, int meanOff, float[] rstd, int rstdOff) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        Checks.matrix("x", x, xOff, ldx, "ldx", rows, cols, "cols");
        Checks.vector("gamma", gamma, gOff, cols);
        Checks.vector("mean", mean, meanOff, rows);
        Checks.vector("rstd", rstd, rstdOff, rows);
    }
}
