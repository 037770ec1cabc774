package dev.lanes.kernels.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
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
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat FL = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final long F = Float.BYTES;

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

    // ---------------------------------------------------------------------------------------------
    // Twins on MemorySegment operands (element offsets and strides in floats, as the facade takes them):
    // each is its array method above, operation for operation, so the bits are the same. Twins rather
    // than one loop over segments with arrays entering as heap segments: on heap segments the array
    // loops ran at 0.77x of themselves (residual add 512x512, in-JVM alternation), and staging the
    // segments through heap rows ran at 0.58-0.71x (bench/RESULTS.md, issue 17).

    /** {@link #layerNormForward(int, int, float, float[], int, int, float[], int, float[], int, float[], int, int, float[], int, float[], int)} on segments. */
    public static void layerNormForward(int rows, int cols, float eps, MemorySegment x, long xOff, long ldx,
                                        MemorySegment gamma, long gOff, MemorySegment beta, long bOff,
                                        MemorySegment y, long yOff, long ldy,
                                        MemorySegment mean, long meanOff, MemorySegment rstd, long rstdOff) {
        int vecEnd = S.loopBound(cols);
        long gb = gOff * F, bb = bOff * F;
        for (int i = 0; i < rows; i++) {
            long xr = (xOff + i * ldx) * F, yr = (yOff + i * ldy) * F;
            DoubleVector a0 = DoubleVector.zero(D), a1 = DoubleVector.zero(D);
            int j = 0;
            for (; j < vecEnd; j += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE);
                a0 = a0.add((DoubleVector) v.convert(VectorOperators.F2D, 0));
                a1 = a1.add((DoubleVector) v.convert(VectorOperators.F2D, 1));
            }
            DoubleVector a = a0.add(a1);
            double sum = a.lane(0);
            for (int l = 1; l < DL; l++) {
                sum += a.lane(l);
            }
            for (; j < cols; j++) {
                sum += x.get(FL, xr + j * F);
            }
            double mu = cols == 0 ? 0 : sum / cols;
            DoubleVector mv = DoubleVector.broadcast(D, mu);
            DoubleVector q0 = DoubleVector.zero(D), q1 = DoubleVector.zero(D);
            for (j = 0; j < vecEnd; j += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE);
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
                double d = x.get(FL, xr + j * F) - mu;
                sq = Math.fma(d, d, sq);
            }
            double var = cols == 0 ? 0 : sq / cols;
            float s = (float) (1.0 / Math.sqrt(var + eps));
            float m = (float) mu;
            FloatVector mf = FloatVector.broadcast(S, m), sf = FloatVector.broadcast(S, s);
            for (j = 0; j < vecEnd; j += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE);
                v.sub(mf).mul(sf).mul(FloatVector.fromMemorySegment(S, gamma, gb + j * F, NATIVE))
                        .add(FloatVector.fromMemorySegment(S, beta, bb + j * F, NATIVE))
                        .intoMemorySegment(y, yr + j * F, NATIVE);
            }
            for (; j < cols; j++) {
                y.set(FL, yr + j * F, (x.get(FL, xr + j * F) - m) * s * gamma.get(FL, gb + j * F)
                        + beta.get(FL, bb + j * F));
            }
            mean.set(FL, (meanOff + i) * F, m);
            rstd.set(FL, (rstdOff + i) * F, s);
        }
    }

    /** {@link #rmsNormForward(int, int, float, float[], int, int, float[], int, float[], int, int, float[], int)} on segments. */
    public static void rmsNormForward(int rows, int cols, float eps, MemorySegment x, long xOff, long ldx,
                                      MemorySegment gamma, long gOff, MemorySegment y, long yOff, long ldy,
                                      MemorySegment rstd, long rstdOff) {
        int vecEnd = S.loopBound(cols);
        long gb = gOff * F;
        for (int i = 0; i < rows; i++) {
            long xr = (xOff + i * ldx) * F, yr = (yOff + i * ldy) * F;
            DoubleVector q0 = DoubleVector.zero(D), q1 = DoubleVector.zero(D);
            int j = 0;
            for (; j < vecEnd; j += L) {
                FloatVector v = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE);
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
                double d = x.get(FL, xr + j * F);
                sq = Math.fma(d, d, sq);
            }
            float s = (float) (1.0 / Math.sqrt((cols == 0 ? 0 : sq / cols) + eps));
            FloatVector sf = FloatVector.broadcast(S, s);
            for (j = 0; j < vecEnd; j += L) {
                FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE).mul(sf)
                        .mul(FloatVector.fromMemorySegment(S, gamma, gb + j * F, NATIVE))
                        .intoMemorySegment(y, yr + j * F, NATIVE);
            }
            for (; j < cols; j++) {
                y.set(FL, yr + j * F, x.get(FL, xr + j * F) * s * gamma.get(FL, gb + j * F));
            }
            rstd.set(FL, (rstdOff + i) * F, s);
        }
    }

    /**
     * {@link #backwardBlock} on segments: one row block, mean null for RMS norm (pb < 0), dx null to skip
     * it, the block's gain/bias sums into the heap workspace ws as for arrays.
     */
    public static void backwardBlock(int rows, int cols, MemorySegment dy, long dyOff, long lddy,
                                     MemorySegment x, long xOff, long ldx, MemorySegment gamma, long gOff,
                                     MemorySegment mean, long meanOff, MemorySegment rstd, long rstdOff,
                                     MemorySegment dx, long dxOff, long lddx, float[] ws, int pg, int pb) {
        if (ws != null) {
            java.util.Arrays.fill(ws, pg, pg + cols, 0f);
            if (pb >= 0) {
                java.util.Arrays.fill(ws, pb, pb + cols, 0f);
            }
        }
        long gb = gOff * F;
        for (int i = 0; i < rows; i++) {
            long xr = (xOff + i * ldx) * F, gr = (dyOff + i * lddy) * F;
            float mu = mean == null ? 0f : mean.get(FL, (meanOff + i) * F), s = rstd.get(FL, (rstdOff + i) * F);
            if (ws != null) {
                partials(cols, dy, gr, x, xr, mu, s, ws, pg, pb);
            }
            if (dx != null) {
                float a = mean == null ? 0f : (float) (dnormSum(cols, dy, gr, gamma, gb) / cols);
                float b = (float) (dnormNormSum(cols, dy, gr, x, xr, gamma, gb, mu, s) / cols);
                rowGradient(cols, dy, gr, x, xr, gamma, gb, mu, s, a, b, dx, (dxOff + i * lddx) * F);
            }
        }
    }

    /** {@link #partials(int, float[], int, float[], int, float, float, float[], int, int)}; gr, xr in bytes. */
    private static void partials(int cols, MemorySegment dy, long gr, MemorySegment x, long xr, float mu, float s,
                                 float[] ws, int pg, int pb) {
        int vecEnd = S.loopBound(cols);
        FloatVector muv = FloatVector.broadcast(S, mu), sv = FloatVector.broadcast(S, s);
        int j = 0;
        for (; j < vecEnd; j += L) {
            FloatVector g = FloatVector.fromMemorySegment(S, dy, gr + j * F, NATIVE);
            FloatVector norm = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE).sub(muv).mul(sv);
            norm.fma(g, FloatVector.fromArray(S, ws, pg + j)).intoArray(ws, pg + j);
        }
        for (; j < cols; j++) {
            ws[pg + j] = Math.fma((x.get(FL, xr + j * F) - mu) * s, dy.get(FL, gr + j * F), ws[pg + j]);
        }
        if (pb >= 0) {
            for (j = 0; j < vecEnd; j += L) {
                FloatVector.fromMemorySegment(S, dy, gr + j * F, NATIVE).add(FloatVector.fromArray(S, ws, pb + j))
                        .intoArray(ws, pb + j);
            }
            for (; j < cols; j++) {
                ws[pb + j] = dy.get(FL, gr + j * F) + ws[pb + j];
            }
        }
    }

    /** {@link #dnormSum(int, float[], int, float[], int)}; offsets in bytes. */
    private static double dnormSum(int cols, MemorySegment dy, long gr, MemorySegment gamma, long gb) {
        int vecEnd = S.loopBound(cols);
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        int j = 0;
        for (; j + 2 * L <= cols; j += 2 * L) {
            s0 = FloatVector.fromMemorySegment(S, gamma, gb + j * F, NATIVE)
                    .fma(FloatVector.fromMemorySegment(S, dy, gr + j * F, NATIVE), s0);
            s1 = FloatVector.fromMemorySegment(S, gamma, gb + (j + L) * F, NATIVE)
                    .fma(FloatVector.fromMemorySegment(S, dy, gr + (j + L) * F, NATIVE), s1);
        }
        for (; j < vecEnd; j += L) {
            s0 = FloatVector.fromMemorySegment(S, gamma, gb + j * F, NATIVE)
                    .fma(FloatVector.fromMemorySegment(S, dy, gr + j * F, NATIVE), s0);
        }
        double sum0 = s0.lane(0), sum1 = s1.lane(0);
        for (int l = 1; l < L; l++) {
            sum0 += s0.lane(l);
            sum1 += s1.lane(l);
        }
        double sum = sum0 + sum1;
        for (; j < cols; j++) {
            sum += gamma.get(FL, gb + j * F) * dy.get(FL, gr + j * F);
        }
        return sum;
    }

    /** {@link #dnormNormSum(int, float[], int, float[], int, float[], int, float, float)}; offsets in bytes. */
    private static double dnormNormSum(int cols, MemorySegment dy, long gr, MemorySegment x, long xr,
                                       MemorySegment gamma, long gb, float mu, float s) {
        int vecEnd = S.loopBound(cols);
        FloatVector muv = FloatVector.broadcast(S, mu), sv = FloatVector.broadcast(S, s);
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        int j = 0;
        for (; j + 2 * L <= cols; j += 2 * L) {
            FloatVector n0 = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE).sub(muv).mul(sv);
            FloatVector n1 = FloatVector.fromMemorySegment(S, x, xr + (j + L) * F, NATIVE).sub(muv).mul(sv);
            FloatVector d0 = FloatVector.fromMemorySegment(S, gamma, gb + j * F, NATIVE)
                    .mul(FloatVector.fromMemorySegment(S, dy, gr + j * F, NATIVE));
            FloatVector d1 = FloatVector.fromMemorySegment(S, gamma, gb + (j + L) * F, NATIVE)
                    .mul(FloatVector.fromMemorySegment(S, dy, gr + (j + L) * F, NATIVE));
            s0 = d0.fma(n0, s0);
            s1 = d1.fma(n1, s1);
        }
        for (; j < vecEnd; j += L) {
            FloatVector n0 = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE).sub(muv).mul(sv);
            FloatVector d0 = FloatVector.fromMemorySegment(S, gamma, gb + j * F, NATIVE)
                    .mul(FloatVector.fromMemorySegment(S, dy, gr + j * F, NATIVE));
            s0 = d0.fma(n0, s0);
        }
        double sum0 = s0.lane(0), sum1 = s1.lane(0);
        for (int l = 1; l < L; l++) {
            sum0 += s0.lane(l);
            sum1 += s1.lane(l);
        }
        double sum = sum0 + sum1;
        for (; j < cols; j++) {
            float norm = (x.get(FL, xr + j * F) - mu) * s;
            float dnorm = gamma.get(FL, gb + j * F) * dy.get(FL, gr + j * F);
            sum = Math.fma((double) dnorm, (double) norm, sum);
        }
        return sum;
    }

    /** {@link #rowGradient(int, float[], int, float[], int, float[], int, float, float, float, float, float[], int)}; offsets in bytes. */
    private static void rowGradient(int cols, MemorySegment dy, long gr, MemorySegment x, long xr,
                                    MemorySegment gamma, long gb, float mu, float s, float a, float b,
                                    MemorySegment dx, long dr) {
        int vecEnd = S.loopBound(cols);
        FloatVector muv = FloatVector.broadcast(S, mu), sv = FloatVector.broadcast(S, s);
        FloatVector av = FloatVector.broadcast(S, a), nbv = FloatVector.broadcast(S, -b);
        int j = 0;
        for (; j < vecEnd; j += L) {
            FloatVector norm = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE).sub(muv).mul(sv);
            FloatVector dnorm = FloatVector.fromMemorySegment(S, gamma, gb + j * F, NATIVE)
                    .mul(FloatVector.fromMemorySegment(S, dy, gr + j * F, NATIVE));
            FloatVector t = norm.fma(nbv, dnorm.sub(av));
            t.fma(sv, FloatVector.fromMemorySegment(S, dx, dr + j * F, NATIVE))
                    .intoMemorySegment(dx, dr + j * F, NATIVE);
        }
        for (; j < cols; j++) {
            float norm = (x.get(FL, xr + j * F) - mu) * s;
            float t = Math.fma(norm, -b, gamma.get(FL, gb + j * F) * dy.get(FL, gr + j * F) - a);
            dx.set(FL, dr + j * F, Math.fma(t, s, dx.get(FL, dr + j * F)));
        }
    }
}
