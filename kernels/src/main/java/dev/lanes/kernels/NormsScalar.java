package dev.lanes.kernels;

/**
 * Scalar twin of {@link Norms}: the same contract, written as plainly as llm.c, with the row
 * statistics, backward's row means and dx in {@code double}, and each row block's gain/bias gradient
 * summed column by column in double (then the blocks in double, in order). The oracle of the
 * differential tests and the fallback without the Vector API. Its backward uses the same fixed row
 * blocks as the facade, so the fallback's bits do not depend on the team either.
 */
public final class NormsScalar {
    private NormsScalar() {}

    /** Same contract and validation as {@link Norms#layerNormForward(int, int, float, float[], int, int, float[], int, float[], int, float[], int, int, float[], int, float[], int)}. */
    public static void layerNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                        float[] gamma, int gOff, float[] beta, int bOff, float[] y, int yOff, int ldy,
                                        float[] mean, int meanOff, float[] rstd, int rstdOff) {
        Norms.checkLayerNormForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                mean, meanOff, rstd, rstdOff);
        layerNormForwardUnchecked(rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                mean, meanOff, rstd, rstdOff);
    }

    /** Same contract and validation as {@link Norms#layerNormBackward(int, int, float[], int, int, float[], int, int, float[], int, float[], int, float[], int, float[], int, int, float[], int, float[], int)}. */
    public static void layerNormBackward(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff,
                                         int ldx, float[] gamma, int gOff, float[] mean, int meanOff,
                                         float[] rstd, int rstdOff, float[] dx, int dxOff, int lddx,
                                         float[] dgamma, int dgOff, float[] dbeta, int dbOff) {
        Norms.checkLayerNormBackward(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, mean, meanOff,
                rstd, rstdOff, dx, dxOff, lddx, dgamma, dgOff, dbeta, dbOff);
        Norms.Job job = Norms.JOB.get();
        job.set(2, rows, cols, 0f, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, null, 0, dx, dxOff, lddx,
                mean, meanOff, rstd, rstdOff, dgamma, dgOff, dbeta, dbOff);
        Norms.backward(Parallelism.serial(), job, ScalarKernels.NORMS);
    }

    /** Same contract and validation as {@link Norms#rmsNormForward(int, int, float, float[], int, int, float[], int, float[], int, int, float[], int)}. */
    public static void rmsNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                      float[] gamma, int gOff, float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
        Norms.checkRmsNormForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy, rstd, rstdOff);
        rmsNormForwardUnchecked(rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy, rstd, rstdOff);
    }

    /** Same contract and validation as {@link Norms#rmsNormBackward(int, int, float[], int, int, float[], int, int, float[], int, float[], int, float[], int, int, float[], int)}. */
    public static void rmsNormBackward(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                                       float[] gamma, int gOff, float[] rstd, int rstdOff,
                                       float[] dx, int dxOff, int lddx, float[] dgamma, int dgOff) {
        Norms.checkRmsNormBackward(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, rstd, rstdOff,
                dx, dxOff, lddx, dgamma, dgOff);
        Norms.Job job = Norms.JOB.get();
        job.set(3, rows, cols, 0f, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, null, 0, dx, dxOff, lddx,
                null, 0, rstd, rstdOff, dgamma, dgOff, null, 0);
        Norms.backward(Parallelism.serial(), job, ScalarKernels.NORMS);
    }

    // ---------------------------------------------------------------------------------------------

    static void layerNormForwardUnchecked(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                          float[] gamma, int gOff, float[] beta, int bOff, float[] y, int yOff, int ldy,
                                          float[] mean, int meanOff, float[] rstd, int rstdOff) {
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

    static void rmsNormForwardUnchecked(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                        float[] gamma, int gOff, float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
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
     * One row block: dx += ... for its rows, and (when ws != null) the block's sums of norm * dy into
     * ws[pg, pg + cols) and of dy into ws[pb, pb + cols). The sums are formed first: dx may be dy or x.
     */
    static void layerNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                                       float[] gamma, int gOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                       float[] dx, int dxOff, int lddx, float[] ws, int pg, int pb) {
        if (ws != null) {
            for (int j = 0; j < cols; j++) {
                double sg = 0, sb = 0;
                for (int i = 0; i < rows; i++) {
                    float g = dy[dyOff + i * lddy + j];
                    float norm = (x[xOff + i * ldx + j] - mean[meanOff + i]) * rstd[rstdOff + i];
                    sg += (double) norm * g;
                    sb += g;
                }
                ws[pg + j] = (float) sg;
                ws[pb + j] = (float) sb;
            }
        }
        if (dx == null) {
            return;
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
                float norm = (x[xr + j] - mu) * s;
                float dnorm = gamma[gOff + j] * dy[gr + j];
                dx[dxOff + i * lddx + j] += (float) (s * (dnorm - dnormMean - norm * dnormNormMean));
            }
        }
    }

    /** One row block of RMS norm's backward; ws as in {@link #layerNormBackwardBlock}, gain sums only. */
    static void rmsNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                                     float[] gamma, int gOff, float[] rstd, int rstdOff,
                                     float[] dx, int dxOff, int lddx, float[] ws, int pg) {
        if (ws != null) {
            for (int j = 0; j < cols; j++) {
                double sg = 0;
                for (int i = 0; i < rows; i++) {
                    float norm = x[xOff + i * ldx + j] * rstd[rstdOff + i];
                    sg += (double) norm * dy[dyOff + i * lddy + j];
                }
                ws[pg + j] = (float) sg;
            }
        }
        if (dx == null) {
            return;
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
                float norm = x[xr + j] * s;
                dx[dxOff + i * lddx + j] += (float) (s * (gamma[gOff + j] * dy[gr + j] - norm * dnormNormMean));
            }
        }
    }

    /** out[j] += sum over blocks b, in order, of ws[off + b * cols + j]; summed in double. */
    static void reducePartials(int blocks, int cols, float[] ws, int off, float[] out, int outOff) {
        for (int j = 0; j < cols; j++) {
            double acc = out[outOff + j];
            for (int b = 0; b < blocks; b++) {
                acc += ws[off + b * cols + j];
            }
            out[outOff + j] = (float) acc;
        }
    }
}
