package dev.lanes.kernels.simd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API body of {@code dev.lanes.kernels.ResidualAdd}. Arguments were validated by the facade;
 * this class only asserts. One pass over memory: each element of y is written once from one read of
 * x, f and bias.
 */
public final class SimdResidualAdd {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private SimdResidualAdd() {}

    public static void forward(int rows, int cols, float alpha, float[] x, int xOff, int ldx,
                               float[] f, int fOff, int ldf, float[] bias, int biasOff,
                               float[] y, int yOff, int ldy) {
        int vecEnd = S.loopBound(cols);
        FloatVector av = FloatVector.broadcast(S, alpha);
        for (int i = 0; i < rows; i++) {
            int xr = xOff + i * ldx, fr = fOff + i * ldf, yr = yOff + i * ldy;
            int j = 0;
            if (bias == null) {
                for (; j < vecEnd; j += L) {
                    FloatVector fv = FloatVector.fromArray(S, f, fr + j);
                    fv.fma(av, FloatVector.fromArray(S, x, xr + j)).intoArray(y, yr + j);
                }
                for (; j < cols; j++) {
                    y[yr + j] = Math.fma(alpha, f[fr + j], x[xr + j]);
                }
            } else {
                for (; j < vecEnd; j += L) {
                    FloatVector fv = FloatVector.fromArray(S, f, fr + j).add(FloatVector.fromArray(S, bias, biasOff + j));
                    fv.fma(av, FloatVector.fromArray(S, x, xr + j)).intoArray(y, yr + j);
                }
                for (; j < cols; j++) {
                    y[yr + j] = Math.fma(alpha, f[fr + j] + bias[biasOff + j], x[xr + j]);
                }
            }
        }
    }

    /**
     * {@link #forward(int, int, float, float[], int, int, float[], int, int, float[], int, float[], int, int)}
     * reading and writing segments in place (offsets and strides count floats): the same operations on
     * every element, so the same bits. One pass over memory, as for arrays; staging through heap
     * buffers would add two. A twin, not one loop for both: the array loop on heap segments ran at 0.77x
     * of itself. Unrolled by two by hand: C2 unrolls the array loop but, measured, not this one as well
     * (0.83-0.88x of the arrays at 512x512 without, 0.92-1.13x with; in-JVM alternation, shared machine).
     */
    public static void forward(int rows, int cols, float alpha, MemorySegment x, long xOff, long ldx,
                               MemorySegment f, long fOff, long ldf, MemorySegment bias, long biasOff,
                               MemorySegment y, long yOff, long ldy) {
        int vecEnd = S.loopBound(cols);
        FloatVector av = FloatVector.broadcast(S, alpha);
        ByteOrder order = ByteOrder.nativeOrder();
        ValueLayout.OfFloat fl = ValueLayout.JAVA_FLOAT_UNALIGNED;
        long bb = biasOff * Float.BYTES, step = (long) L * Float.BYTES;
        for (int i = 0; i < rows; i++) {
            long xr = (xOff + i * ldx) * Float.BYTES, fr = (fOff + i * ldf) * Float.BYTES;
            long yr = (yOff + i * ldy) * Float.BYTES;
            int j = 0;
            if (bias == null) {
                for (; j + 2 * L <= vecEnd; j += 2 * L) {
                    long o = (long) j * Float.BYTES, p = o + step;
                    FloatVector f0 = FloatVector.fromMemorySegment(S, f, fr + o, order);
                    FloatVector f1 = FloatVector.fromMemorySegment(S, f, fr + p, order);
                    f0.fma(av, FloatVector.fromMemorySegment(S, x, xr + o, order)).intoMemorySegment(y, yr + o, order);
                    f1.fma(av, FloatVector.fromMemorySegment(S, x, xr + p, order)).intoMemorySegment(y, yr + p, order);
                }
                for (; j < vecEnd; j += L) {
                    long o = (long) j * Float.BYTES;
                    FloatVector fv = FloatVector.fromMemorySegment(S, f, fr + o, order);
                    fv.fma(av, FloatVector.fromMemorySegment(S, x, xr + o, order)).intoMemorySegment(y, yr + o, order);
                }
                for (; j < cols; j++) {
                    long o = (long) j * Float.BYTES;
                    y.set(fl, yr + o, Math.fma(alpha, f.get(fl, fr + o), x.get(fl, xr + o)));
                }
            } else {
                for (; j + 2 * L <= vecEnd; j += 2 * L) {
                    long o = (long) j * Float.BYTES, p = o + step;
                    FloatVector f0 = FloatVector.fromMemorySegment(S, f, fr + o, order)
                            .add(FloatVector.fromMemorySegment(S, bias, bb + o, order));
                    FloatVector f1 = FloatVector.fromMemorySegment(S, f, fr + p, order)
                            .add(FloatVector.fromMemorySegment(S, bias, bb + p, order));
                    f0.fma(av, FloatVector.fromMemorySegment(S, x, xr + o, order)).intoMemorySegment(y, yr + o, order);
                    f1.fma(av, FloatVector.fromMemorySegment(S, x, xr + p, order)).intoMemorySegment(y, yr + p, order);
                }
                for (; j < vecEnd; j += L) {
                    long o = (long) j * Float.BYTES;
                    FloatVector fv = FloatVector.fromMemorySegment(S, f, fr + o, order)
                            .add(FloatVector.fromMemorySegment(S, bias, bb + o, order));
                    fv.fma(av, FloatVector.fromMemorySegment(S, x, xr + o, order)).intoMemorySegment(y, yr + o, order);
                }
                for (; j < cols; j++) {
                    long o = (long) j * Float.BYTES;
                    y.set(fl, yr + o, Math.fma(alpha, f.get(fl, fr + o) + bias.get(fl, bb + o), x.get(fl, xr + o)));
                }
            }
        }
    }

    public static void backward(int rows, int cols, float alpha, float[] dy, int dyOff, int lddy,
                                float[] dx, int dxOff, int lddx, float[] df, int dfOff, int lddf,
                                float[] dbias, int dbiasOff) {
        int vecEnd = S.loopBound(cols);
        FloatVector av = FloatVector.broadcast(S, alpha);
        if (dbias != null) {
            // First: dx or df may be dy itself, and the sums must see dy as it came in.
            biasGradient(rows, cols, alpha, dy, dyOff, lddy, dbias, dbiasOff);
        }
        for (int i = 0; i < rows; i++) {
            int gr = dyOff + i * lddy;
            int j = 0;
            for (; j < vecEnd; j += L) {
                FloatVector g = FloatVector.fromArray(S, dy, gr + j);
                if (dx != null) {
                    int o = dxOff + i * lddx + j;
                    FloatVector.fromArray(S, dx, o).add(g).intoArray(dx, o);
                }
                if (df != null) {
                    int o = dfOff + i * lddf + j;
                    g.fma(av, FloatVector.fromArray(S, df, o)).intoArray(df, o);
                }
            }
            for (; j < cols; j++) {
                float g = dy[gr + j];
                if (dx != null) {
                    dx[dxOff + i * lddx + j] += g;
                }
                if (df != null) {
                    int o = dfOff + i * lddf + j;
                    df[o] = Math.fma(alpha, g, df[o]);
                }
            }
        }
    }

    /**
     * {@code dbias[j] += alpha * sum_i dy[i][j]}: a column sum, done a strip of columns at a time with
     * the strip's partial sums in registers, rows added in order so the bits do not depend on blocking.
     */
    private static void biasGradient(int rows, int cols, float alpha, float[] dy, int dyOff, int lddy,
                                     float[] dbias, int dbiasOff) {
        int vecEnd = S.loopBound(cols);
        FloatVector av = FloatVector.broadcast(S, alpha);
        int j = 0;
        for (; j < vecEnd; j += L) {
            FloatVector sum = FloatVector.zero(S);
            for (int i = 0; i < rows; i++) {
                sum = sum.add(FloatVector.fromArray(S, dy, dyOff + i * lddy + j));
            }
            sum.fma(av, FloatVector.fromArray(S, dbias, dbiasOff + j)).intoArray(dbias, dbiasOff + j);
        }
        for (; j < cols; j++) {
            float sum = 0f;
            for (int i = 0; i < rows; i++) {
                sum += dy[dyOff + i * lddy + j];
            }
            dbias[dbiasOff + j] = Math.fma(alpha, sum, dbias[dbiasOff + j]);
        }
    }
}
