package dev.lanes.kernels.simd;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API bodies of {@code dev.lanes.kernels.Norms}. Arguments were validated by the facade.
 *
 * <p>Row statistics are accumulated in double lanes: each float vector is widened (exactly) into two
 * double vectors of the same shape, summed into two double accumulators, and the lanes are added in
 * a fixed order at the end of the row, so a statistic is as accurate as the scalar twin's sequential
 * double sum and has the same bits at every JIT tier. The element-wise work is float. The widening and
 * the lane sums are written out where they are used: a helper taking or returning a vector would box it
 * whenever C2 does not inline the call (see {@code VectorMath.expInPlace}).
 */
public final class SimdNorms {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> D = S.withLanes(double.class);
    private static final int L = S.length();
    private static final int DL = D.length();

    private SimdNorms() {}

    // ---------------------------------------------------------------------------------------------
    // Forward

    public static void layerNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                        float[] gamma, int gOff, float[] beta, int bOff, float[] y, int yOff, int ldy,
                                        float[] mean, int meanOff, float[] rstd, int rstdOff) {
        int vecEnd = S.loopBound(cols);
        for (int i = 0; i < rows; i++) {
            int xr = xOff + i * ldx, yr = yOff + i * ldy;
            DoubleVector a0 = DoubleVector.zero(D), a1 = DoubleVector.zero(D);
            int j = 0;
            for (; j < vecEnd; j += L) {
                FloatVector v = FloatVector.fromArray(S, x, xr + j);
                a0 = a0.add((DoubleVector) v.convert(VectorOperators.F2D, 0));
                a1 = a1.add((DoubleVector) v.convert(VectorOperators.F2D, 1));
            }
            DoubleVector a = a0.add(a1);
            double sum = a.lane(0); // lanes left to right: a fixed order, unlike reduceLanes(ADD)
            for (int l = 1; l < DL; l++) {
                sum += a.lane(l);
            }
            for (; j < cols; j++) {
                sum += x[xr + j];
            }
            double mu = cols == 0 ? 0 : sum / cols;
            // two-pass variance: centred in double, so nothing cancels
            DoubleVector mv = DoubleVector.broadcast(D, mu);
            DoubleVector q0 = DoubleVector.zero(D), q1 = DoubleVector.zero(D);
            for (j = 0; j < vecEnd; j += L) {
                FloatVector v = FloatVector.fromArray(S, x, xr + j);
                DoubleVector d0 = ((DoubleVector) v.convert(VectorOperators.F2D, 0)).sub(mv);
                DoubleVector d1 = ((DoubleVector) v.convert(VectorOperators.F2D, 1)).sub(mv);
                q0 = d0.fma(d0, q0);
                q1 = d1.fma(d1, q1);
            }
            DoubleVector q = q0.add(q1);
            double sq = q.lane(0);
            for (int l = 1; l < DL; l++) {
                sq += q.lane(l);
            }
            for (; j < cols; j++) {
                double d = x[xr + j] - mu;
                sq = Math.fma(d, d, sq);
            }
            double var = cols == 0 ? 0 : sq / cols;
            float s = (float) (1.0 / Math.sqrt(var + eps));
            float m = (float) mu;
            FloatVector mf = FloatVector.broadcast(S, m), sf = FloatVector.broadcast(S, s);
            for (j = 0; j < vecEnd; j += L) {
                FloatVector v = FloatVector.fromArray(S, x, xr + j);
                v.sub(mf).mul(sf).mul(FloatVector.fromArray(S, gamma, gOff + j))
                        .add(FloatVector.fromArray(S, beta, bOff + j)).intoArray(y, yr + j);
            }
            for (; j < cols; j++) {
                y[yr + j] = (x[xr + j] - m) * s * gamma[gOff + j] + beta[bOff + j];
            }
            mean[meanOff + i] = m;
            rstd[rstdOff + i] = s;
        }
    }

    public static void rmsNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                      float[] gamma, int gOff, float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
        int vecEnd = S.loopBound(cols);
        for (int i = 0; i < rows; i++) {
            int xr = xOff + i * ldx, yr = yOff + i * ldy;
            DoubleVector q0 = DoubleVector.zero(D), q1 = DoubleVector.zero(D);
            int j = 0;
            for (; j < vecEnd; j += L) {
                FloatVector v = FloatVector.fromArray(S, x, xr + j);
                DoubleVector d0 = (DoubleVector) v.convert(VectorOperators.F2D, 0);
                DoubleVector d1 = (DoubleVector) v.convert(VectorOperators.F2D, 1);
                q0 = d0.fma(d0, q0);
                q1 = d1.fma(d1, q1);
            }
            DoubleVector q = q0.add(q1);
            double sq = q.lane(0);
            for (int l = 1; l < DL; l++) {
                sq += q.lane(l);
            }
            for (; j < cols; j++) {
                double d = x[xr + j];
                sq = Math.fma(d, d, sq);
            }
            float s = (float) (1.0 / Math.sqrt((cols == 0 ? 0 : sq / cols) + eps));
            FloatVector sf = FloatVector.broadcast(S, s);
            for (j = 0; j < vecEnd; j += L) {
                FloatVector.fromArray(S, x, xr + j).mul(sf).mul(FloatVector.fromArray(S, gamma, gOff + j))
                        .intoArray(y, yr + j);
            }
            for (; j < cols; j++) {
                y[yr + j] = x[xr + j] * s * gamma[gOff + j];
            }
            rstd[rstdOff + i] = s;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Backward: one row block; the block's gain/bias sums go to ws[pg..], ws[pb..] when ws != null.

    public static void layerNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy,
                                              float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                              float[] mean, int meanOff, float[] rstd, int rstdOff,
                                              float[] dx, int dxOff, int lddx, float[] ws, int pg, int pb) {
        backwardBlock(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, mean, meanOff, rstd, rstdOff,
                dx, dxOff, lddx, ws, pg, pb);
    }

    /** RMS norm is layer norm with mean 0 and no bias: (x - 0) * s is x * s exactly. */
    public static void rmsNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy,
                                            float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                            float[] rstd, int rstdOff, float[] dx, int dxOff, int lddx,
                                            float[] ws, int pg) {
        backwardBlock(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, null, 0, rstd, rstdOff,
                dx, dxOff, lddx, ws, pg, -1);
    }

    /**
     * Kept in small methods on purpose: one large method with all the vector loops exceeds C2's
     * inlining budget, and a Vector API call left out-of-line boxes its vectors (measured: 160 bytes
     * allocated per 16 elements).
     */
    private static void backwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy,
                                      float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                      float[] mean, int meanOff, float[] rstd, int rstdOff,
                                      float[] dx, int dxOff, int lddx, float[] ws, int pg, int pb) {
        if (ws != null) {
            java.util.Arrays.fill(ws, pg, pg + cols, 0f);
            if (pb >= 0) {
                java.util.Arrays.fill(ws, pb, pb + cols, 0f);
            }
        }
        for (int i = 0; i < rows; i++) {
            int xr = xOff + i * ldx, gr = dyOff + i * lddy;
            float mu = mean == null ? 0f : mean[meanOff + i], s = rstd[rstdOff + i];
            if (ws != null) {
                partials(cols, dy, gr, x, xr, mu, s, ws, pg, pb);
            }
            if (dx != null) {
                // a = mean_j(dnorm) (layer norm only), b = mean_j(dnorm * norm), both summed in double
                float a = mean == null ? 0f : (float) (dnormSum(cols, dy, gr, gamma, gOff) / cols);
                float b = (float) (dnormNormSum(cols, dy, gr, x, xr, gamma, gOff, mu, s) / cols);
                rowGradient(cols, dy, gr, x, xr, gamma, gOff, mu, s, a, b, dx, dxOff + i * lddx);
            }
        }
    }

    /** ws[pg + j] += norm * dy, ws[pb + j] += dy (pb < 0: none) for one row. */
    private static void partials(int cols, float[] dy, int gr, float[] x, int xr, float mu, float s,
                                 float[] ws, int pg, int pb) {
        int vecEnd = S.loopBound(cols);
        FloatVector muv = FloatVector.broadcast(S, mu), sv = FloatVector.broadcast(S, s);
        int j = 0;
        for (; j < vecEnd; j += L) {
            FloatVector g = FloatVector.fromArray(S, dy, gr + j);
            FloatVector norm = FloatVector.fromArray(S, x, xr + j).sub(muv).mul(sv);
            norm.fma(g, FloatVector.fromArray(S, ws, pg + j)).intoArray(ws, pg + j);
        }
        for (; j < cols; j++) {
            ws[pg + j] = Math.fma((x[xr + j] - mu) * s, dy[gr + j], ws[pg + j]);
        }
        if (pb >= 0) {
            for (j = 0; j < vecEnd; j += L) {
                FloatVector.fromArray(S, dy, gr + j).add(FloatVector.fromArray(S, ws, pb + j)).intoArray(ws, pb + j);
            }
            for (; j < cols; j++) {
                ws[pb + j] = dy[gr + j] + ws[pb + j];
            }
        }
    }

    /**
     * sum_j gamma[j] * dy[j]: float vector partial sums (each lane adds cols / (2L) terms), whose
     * lanes are then added in double in a fixed order. Not the double lanes of the forward pass:
     * C2 boxed loop-carried double vectors here once these helpers were inlined into a caller
     * (measured: 6 KB allocated per row), while float accumulators stay in registers.
     */
    private static double dnormSum(int cols, float[] dy, int gr, float[] gamma, int gOff) {
        int vecEnd = S.loopBound(cols);
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        int j = 0;
        for (; j + 2 * L <= cols; j += 2 * L) {
            s0 = FloatVector.fromArray(S, gamma, gOff + j).fma(FloatVector.fromArray(S, dy, gr + j), s0);
            s1 = FloatVector.fromArray(S, gamma, gOff + j + L).fma(FloatVector.fromArray(S, dy, gr + j + L), s1);
        }
        for (; j < vecEnd; j += L) {
            s0 = FloatVector.fromArray(S, gamma, gOff + j).fma(FloatVector.fromArray(S, dy, gr + j), s0);
        }
        double sum0 = s0.lane(0), sum1 = s1.lane(0);
        for (int l = 1; l < L; l++) {
            sum0 += s0.lane(l);
            sum1 += s1.lane(l);
        }
        double sum = sum0 + sum1;
        for (; j < cols; j++) {
            sum += gamma[gOff + j] * dy[gr + j];
        }
        return sum;
    }

    /** sum_j dnorm[j] * norm[j], accumulated as {@link #dnormSum}. */
    private static double dnormNormSum(int cols, float[] dy, int gr, float[] x, int xr, float[] gamma, int gOff,
                                       float mu, float s) {
        int vecEnd = S.loopBound(cols);
        FloatVector muv = FloatVector.broadcast(S, mu), sv = FloatVector.broadcast(S, s);
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        int j = 0;
        for (; j + 2 * L <= cols; j += 2 * L) {
            FloatVector n0 = FloatVector.fromArray(S, x, xr + j).sub(muv).mul(sv);
            FloatVector n1 = FloatVector.fromArray(S, x, xr + j + L).sub(muv).mul(sv);
            FloatVector d0 = FloatVector.fromArray(S, gamma, gOff + j).mul(FloatVector.fromArray(S, dy, gr + j));
            FloatVector d1 = FloatVector.fromArray(S, gamma, gOff + j + L).mul(FloatVector.fromArray(S, dy, gr + j + L));
            s0 = d0.fma(n0, s0);
            s1 = d1.fma(n1, s1);
        }
        for (; j < vecEnd; j += L) {
            FloatVector n0 = FloatVector.fromArray(S, x, xr + j).sub(muv).mul(sv);
            FloatVector d0 = FloatVector.fromArray(S, gamma, gOff + j).mul(FloatVector.fromArray(S, dy, gr + j));
            s0 = d0.fma(n0, s0);
        }
        double sum0 = s0.lane(0), sum1 = s1.lane(0);
        for (int l = 1; l < L; l++) {
            sum0 += s0.lane(l);
            sum1 += s1.lane(l);
        }
        double sum = sum0 + sum1;
        for (; j < cols; j++) {
            float norm = (x[xr + j] - mu) * s;
            float dnorm = gamma[gOff + j] * dy[gr + j];
            sum = Math.fma((double) dnorm, (double) norm, sum);
        }
        return sum;
    }

    /** dx += rstd * (dnorm - a - norm * b) for one row, in float. */
    private static void rowGradient(int cols, float[] dy, int gr, float[] x, int xr, float[] gamma, int gOff,
                                    float mu, float s, float a, float b, float[] dx, int dr) {
        int vecEnd = S.loopBound(cols);
        FloatVector muv = FloatVector.broadcast(S, mu), sv = FloatVector.broadcast(S, s);
        FloatVector av = FloatVector.broadcast(S, a), nbv = FloatVector.broadcast(S, -b);
        int j = 0;
        for (; j < vecEnd; j += L) {
            FloatVector norm = FloatVector.fromArray(S, x, xr + j).sub(muv).mul(sv);
            FloatVector dnorm = FloatVector.fromArray(S, gamma, gOff + j).mul(FloatVector.fromArray(S, dy, gr + j));
            FloatVector t = norm.fma(nbv, dnorm.sub(av));
            t.fma(sv, FloatVector.fromArray(S, dx, dr + j)).intoArray(dx, dr + j);
        }
        for (; j < cols; j++) {
            float norm = (x[xr + j] - mu) * s;
            float t = Math.fma(norm, -b, gamma[gOff + j] * dy[gr + j] - a);
            dx[dr + j] = Math.fma(t, s, dx[dr + j]);
        }
    }

    /** out[j] += (ws[off + j] + ws[off + cols + j] + ...): the blocks added in order, in float. */
    public static void reducePartials(int blocks, int cols, float[] ws, int off, float[] out, int outOff) {
        int vecEnd = S.loopBound(cols);
        int j = 0;
        for (; j < vecEnd; j += L) {
            FloatVector acc = FloatVector.fromArray(S, ws, off + j);
            for (int b = 1; b < blocks; b++) {
                acc = acc.add(FloatVector.fromArray(S, ws, off + b * cols + j));
            }
            FloatVector.fromArray(S, out, outOff + j).add(acc).intoArray(out, outOff + j);
        }
        for (; j < cols; j++) {
            float acc = ws[off + j];
            for (int b = 1; b < blocks; b++) {
                acc += ws[off + b * cols + j];
            }
            out[outOff + j] += acc;
        }
    }
}
