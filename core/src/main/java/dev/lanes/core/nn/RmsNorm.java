package dev.lanes.core.nn;

import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Parallelism;

/**
 * Root-mean-square normalisation (Zhang and Sennrich 2019): layer norm without centring or bias.
 *
 * <pre>
 *   x, y:  (rows, cols), row strides ldx, ldy
 *   gamma: (cols);  rstd: (rows) saved by forward for backward
 *   y[i][j] = x[i][j] * rstd[i] * gamma[j],  rstd = 1 / sqrt(mean_j(x^2) + eps)
 * </pre>
 *
 * Delegates to {@link Norms}; the overloads without a {@link Parallelism} run serially, the others
 * split rows into fixed blocks with the same bits for any team.
 */
public final class RmsNorm {
    private RmsNorm() {}

    public static void forward(int rows, int cols, float eps, float[] x, int xOff, int ldx, float[] gamma, int gOff,
                               float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
        forward(Parallelism.serial(), rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy, rstd, rstdOff);
    }

    public static void forward(Parallelism par, int rows, int cols, float eps, float[] x, int xOff, int ldx,
                               float[] gamma, int gOff, float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
        Norms.rmsNormForward(par, rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy, rstd, rstdOff);
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
        backward(Parallelism.serial(), rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, rstd, rstdOff,
                dx, dxOff, lddx, dgamma, dgOff);
    }

    public static void backward(Parallelism par, int rows, int cols, float[] dy, int dyOff, int lddy,
                                float[] x, int xOff, int ldx, float[] gamma, int gOff, float[] rstd, int rstdOff,
                                float[] dx, int dxOff, int lddx, float[] dgamma, int dgOff) {
        Norms.rmsNormBackward(par, rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, rstd, rstdOff,
                dx, dxOff, lddx, dgamma, dgOff);
    }
}
