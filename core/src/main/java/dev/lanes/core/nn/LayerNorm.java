package dev.lanes.core.nn;

import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Parallelism;

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
 * cancellation in the variance. Delegates to {@link Norms}; the overloads without a {@link Parallelism}
 * run serially, the others split rows into fixed blocks with the same bits for any team.
 */
public final class LayerNorm {
    private LayerNorm() {}

    public static void forward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                               float[] gamma, int gOff, float[] beta, int bOff,
                               float[] y, int yOff, int ldy, float[] mean, int meanOff, float[] rstd, int rstdOff) {
        forward(Parallelism.serial(), rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                mean, meanOff, rstd, rstdOff);
    }

    public static void forward(Parallelism par, int rows, int cols, float eps, float[] x, int xOff, int ldx,
                               float[] gamma, int gOff, float[] beta, int bOff,
                               float[] y, int yOff, int ldy, float[] mean, int meanOff, float[] rstd, int rstdOff) {
        Norms.layerNormForward(par, rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                mean, meanOff, rstd, rstdOff);
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
        backward(Parallelism.serial(), rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, mean, meanOff,
                rstd, rstdOff, dx, dxOff, lddx, dgamma, dgOff, dbeta, dbOff);
    }

    public static void backward(Parallelism par, int rows, int cols, float[] dy, int dyOff, int lddy,
                                float[] x, int xOff, int ldx, float[] gamma, int gOff, float[] mean, int meanOff,
                                float[] rstd, int rstdOff, float[] dx, int dxOff, int lddx,
                                float[] dgamma, int dgOff, float[] dbeta, int dbOff) {
        Norms.layerNormBackward(par, rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, mean, meanOff,
                rstd, rstdOff, dx, dxOff, lddx, dgamma, dgOff, dbeta, dbOff);
    }
}
