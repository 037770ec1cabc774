package dev.lanes.kernels.simd;

import dev.lanes.kernels.FloatExp;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API body of {@code dev.lanes.kernels.Softmax}: per row, one pass for the maximum, one that
 * writes {@code exp(z - max)} into y while summing, one that scales by {@code 1 / sum}; without a mask
 * the maximum of the next row is taken inside the exp pass of this one ({@code forwardPlain}). Arguments
 * were validated by the facade. The rare rows whose maximum is {@code +inf} take a scalar path.
 */
public final class SimdSoftmax {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat FL = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final long F = Float.BYTES;

    private SimdSoftmax() {}

    public static void forward(int rows, int cols, float scale, boolean causal, int causalOffset,
                               float[] mask, int maskOff, int ldmask,
                               float[] x, int xOff, int ldx, float[] y, int yOff, int ldy) {
        if (mask == null) {
            forwardPlain(rows, cols, scale, causal, causalOffset, x, xOff, ldx, y, yOff, ldy);
            return;
        }
        for (int i = 0; i < rows; i++) {
            int visible = visible(i, cols, causal, causalOffset);
            int xr = xOff + i * ldx, yr = yOff + i * ldy;
            rowMasked(visible, scale, mask, maskOff + i * ldmask, x, xr, y, yr);
            for (int j = visible; j < cols; j++) {
                y[yr + j] = 0f;
            }
        }
    }

    private static int visible(int i, int cols, boolean causal, int causalOffset) {
        if (!causal) {
            return cols;
        }
        long last = (long) i + causalOffset;
        return (int) Math.max(0, Math.min(cols, last + 1));
    }

    /**
     * The rows without a mask. The maximum of row i + 1 is taken inside the exponential pass of row i
     * ({@link #expRow}): on a block larger than the caches that pass is where the time goes, and the
     * loads of the next row (the only ones that reach memory) then overlap it instead of stalling a
     * pass of their own. A maximum is exact in any order, so the bits are those of a separate pass.
     */
    private static void forwardPlain(int rows, int cols, float scale, boolean causal, int causalOffset,
                                     float[] x, int xOff, int ldx, float[] y, int yOff, int ldy) {
        if (rows == 0) {
            return;
        }
        float max = rowMax(visible(0, cols, causal, causalOffset), x, xOff);
        for (int i = 0; i < rows; i++) {
            int n = visible(i, cols, causal, causalOffset);
            int next = i + 1 < rows ? visible(i + 1, cols, causal, causalOffset) : 0;
            int xr = xOff + i * ldx, yr = yOff + i * ldy, xNext = xr + ldx;
            // z = scale * x: since scale > 0, max(fl(scale * x)) = fl(scale * max(x))
            float zmax = scale * max;
            if (Float.isFinite(zmax)) {
                max = expRow(n, scale, zmax, x, xr, y, yr, next, xNext);
            } else {
                edgeRowPlain(n, scale, zmax, x, xr, y, yr);
                max = rowMax(next, x, xNext);
            }
            for (int j = n; j < cols; j++) {
                y[yr + j] = 0f;
            }
        }
    }

    /**
     * The largest of x[xr, xr + n), NaN elements skipped (-inf for an empty row): a compare and a blend
     * per vector on four chains, where Java's max, with its NaN and -0 rules, is several dependent
     * instructions on x86. A NaN shows later, through the row sum.
     */
    private static float rowMax(int n, float[] x, int xr) {
        FloatVector m0 = FloatVector.broadcast(S, NEG_INF), m1 = m0, m2 = m0, m3 = m0;
        int j = 0;
        for (; j + 4 * L <= n; j += 4 * L) {
            FloatVector v0 = FloatVector.fromArray(S, x, xr + j), v1 = FloatVector.fromArray(S, x, xr + j + L);
            FloatVector v2 = FloatVector.fromArray(S, x, xr + j + 2 * L);
            FloatVector v3 = FloatVector.fromArray(S, x, xr + j + 3 * L);
            m0 = m0.blend(v0, v0.compare(VectorOperators.GT, m0));
            m1 = m1.blend(v1, v1.compare(VectorOperators.GT, m1));
            m2 = m2.blend(v2, v2.compare(VectorOperators.GT, m2));
            m3 = m3.blend(v3, v3.compare(VectorOperators.GT, m3));
        }
        for (; j + L <= n; j += L) {
            FloatVector v0 = FloatVector.fromArray(S, x, xr + j);
            m0 = m0.blend(v0, v0.compare(VectorOperators.GT, m0));
        }
        m0 = m0.blend(m1, m1.compare(VectorOperators.GT, m0));
        m2 = m2.blend(m3, m3.compare(VectorOperators.GT, m2));
        m0 = m0.blend(m2, m2.compare(VectorOperators.GT, m0));
        float max = m0.reduceLanes(VectorOperators.MAX); // no NaN among the lanes: exact in any order
        for (; j < n; j++) {
            max = x[xr + j] > max ? x[xr + j] : max;
        }
        return max;
    }

    /**
     * One finite row: {@code y = exp(scale * x - zmax)}, summed, then scaled by {@code 1 / sum}; the
     * same operations in the same order as its segment twin, hence the same bits. Returns the maximum of
     * the next row, x[xNext, xNext + next), taken as {@link #rowMax} takes it, one vector per vector of
     * this row.
     */
    private static float expRow(int n, float scale, float zmax, float[] x, int xr, float[] y, int yr,
                                int next, int xNext) {
        int vecEnd = S.loopBound(n), nextEnd = S.loopBound(next), both = Math.min(vecEnd, nextEnd);
        FloatVector vs = FloatVector.broadcast(S, scale);
        FloatVector vm = FloatVector.broadcast(S, zmax);
        FloatVector vsum = FloatVector.zero(S);
        FloatVector m0 = FloatVector.broadcast(S, NEG_INF);
        int j = 0;
        for (; j < both; j += L) {
            FloatVector v = FloatVector.fromArray(S, x, xNext + j);
            m0 = m0.blend(v, v.compare(VectorOperators.GT, m0));
            FloatVector.fromArray(S, x, xr + j).mul(vs).sub(vm).intoArray(y, yr + j);
            VectorMath.expInPlace(y, yr + j);
            vsum = vsum.add(FloatVector.fromArray(S, y, yr + j));
        }
        for (; j < vecEnd; j += L) {
            FloatVector.fromArray(S, x, xr + j).mul(vs).sub(vm).intoArray(y, yr + j);
            VectorMath.expInPlace(y, yr + j);
            vsum = vsum.add(FloatVector.fromArray(S, y, yr + j));
        }
        float sum = vsum.lane(0); // lanes in order: reduceLanes(ADD)'s order is unspecified
        for (int l = 1; l < L; l++) {
            sum += vsum.lane(l);
        }
        for (j = vecEnd; j < n; j++) {
            float e = FloatExp.exp(scale * x[xr + j] - zmax);
            y[yr + j] = e;
            sum += e;
        }
        if (sum != sum) {
            fill(n, Float.NaN, y, yr); // a NaN in the row (the maximum skipped it)
        } else {
            normalise(n, 1f / sum, y, yr);
        }
        for (j = both; j < nextEnd; j += L) {
            FloatVector v = FloatVector.fromArray(S, x, xNext + j);
            m0 = m0.blend(v, v.compare(VectorOperators.GT, m0));
        }
        float max = m0.reduceLanes(VectorOperators.MAX);
        for (j = nextEnd; j < next; j++) {
            max = x[xNext + j] > max ? x[xNext + j] : max;
        }
        return max;
    }

    /**
     * A row whose scaled maximum (NaN skipped) is infinite: NaN if the row holds a NaN, else zeros
     * (-inf: fully masked) or uniform over its +inf logits.
     */
    private static void edgeRowPlain(int n, float scale, float zmax, float[] x, int xr, float[] y, int yr) {
        for (int j = 0; j < n; j++) {
            if (x[xr + j] != x[xr + j]) {
                fill(n, Float.NaN, y, yr);
                return;
            }
        }
        if (zmax == NEG_INF) {
            fill(n, 0f, y, yr);
        } else {
            uniformOverInfinities(n, scale, null, 0, x, xr, y, yr);
        }
    }

    /**
     * {@link #forwardPlain(int, int, float, boolean, int, float[], int, int, float[], int, int)} on segments
     * (offsets and strides in floats): the same operations in the same order, so the same bits. A row's
     * exponentials go into a per-thread heap row ({@link #row}; L1-resident for rows up to 8K floats),
     * exactly as the array kernel writes them into y ({@link VectorMath#expInPlace} works on arrays, so
     * that no vector crosses a call); the scaling pass scales them there, as the array kernel scales y,
     * and one bulk copy moves the row into y. So each element of x is read once and of y written once, as
     * for arrays, and no vector is stored through a segment inside a loop: in a loop that stores into a
     * segment, C2 reloads and rechecks every segment's size, session and read-only flag on each iteration
     * and does not unroll it. Stores into y in the scaling pass measured 0.78-0.90x of the arrays at
     * 512x512, in the exp pass 0.49-0.63x, the bulk copy 0.90-0.92x (bench/RESULTS.md, issue 17). A twin
     * rather than one loop for both: the array loops on heap segments measured 0.77x of themselves
     * (residual add); the earlier segment rows, three passes with one max chain, 0.90x. Rows whose scaled
     * maximum is not finite go through {@link #edgeRowPlain} on a heap copy.
     */
    public static void forwardPlain(int rows, int cols, float scale, boolean causal, int causalOffset,
                                    MemorySegment x, long xOff, long ldx, MemorySegment y, long yOff, long ldy) {
        if (rows == 0) {
            return;
        }
        float[] row = row(cols);
        float max = rowMax(visible(0, cols, causal, causalOffset), x, xOff * F);
        for (int i = 0; i < rows; i++) {
            int n = visible(i, cols, causal, causalOffset);
            int next = i + 1 < rows ? visible(i + 1, cols, causal, causalOffset) : 0;
            long xr = (xOff + i * ldx) * F, yr = (yOff + i * ldy) * F, xNext = xr + ldx * F;
            float zmax = scale * max;
            if (Float.isFinite(zmax)) {
                max = expRow(n, scale, zmax, x, xr, y, yr, next, xNext, row);
            } else {
                MemorySegment.copy(x, FL, xr, row, 0, n);
                edgeRowPlain(n, scale, zmax, row, 0, row, 0);
                MemorySegment.copy(row, 0, y, FL, yr, n);
                max = rowMax(next, x, xNext);
            }
            for (int j = n; j < cols; j++) {
                y.set(FL, yr + j * F, 0f);
            }
        }
    }

    /** The heap row of the segment forward, per thread, grown once to the widest row it meets. */
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    private static float[] row(int cols) {
        float[] row = ROW.get();
        if (row.length < cols) {
            row = new float[cols];
            ROW.set(row);
        }
        return row;
    }

    /** {@link #rowMax(int, float[], int)} on a segment, xr in bytes. */
    private static float rowMax(int n, MemorySegment x, long xr) {
        FloatVector m0 = FloatVector.broadcast(S, NEG_INF), m1 = m0, m2 = m0, m3 = m0;
        int j = 0;
        for (; j + 4 * L <= n; j += 4 * L) {
            FloatVector v0 = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE);
            FloatVector v1 = FloatVector.fromMemorySegment(S, x, xr + (j + L) * F, NATIVE);
            FloatVector v2 = FloatVector.fromMemorySegment(S, x, xr + (j + 2 * L) * F, NATIVE);
            FloatVector v3 = FloatVector.fromMemorySegment(S, x, xr + (j + 3 * L) * F, NATIVE);
            m0 = m0.blend(v0, v0.compare(VectorOperators.GT, m0));
            m1 = m1.blend(v1, v1.compare(VectorOperators.GT, m1));
            m2 = m2.blend(v2, v2.compare(VectorOperators.GT, m2));
            m3 = m3.blend(v3, v3.compare(VectorOperators.GT, m3));
        }
        for (; j + L <= n; j += L) {
            FloatVector v0 = FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE);
            m0 = m0.blend(v0, v0.compare(VectorOperators.GT, m0));
        }
        m0 = m0.blend(m1, m1.compare(VectorOperators.GT, m0));
        m2 = m2.blend(m3, m3.compare(VectorOperators.GT, m2));
        m0 = m0.blend(m2, m2.compare(VectorOperators.GT, m0));
        float max = m0.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) {
            float v = x.get(FL, xr + j * F);
            max = v > max ? v : max;
        }
        return max;
    }

    /** {@link #expRow(int, float, float, float[], int, float[], int, int, int)} on segments, offsets in bytes. */
    private static float expRow(int n, float scale, float zmax, MemorySegment x, long xr, MemorySegment y, long yr,
                                int next, long xNext, float[] row) {
        int vecEnd = S.loopBound(n), nextEnd = S.loopBound(next), both = Math.min(vecEnd, nextEnd);
        FloatVector vs = FloatVector.broadcast(S, scale);
        FloatVector vm = FloatVector.broadcast(S, zmax);
        FloatVector vsum = FloatVector.zero(S);
        FloatVector m0 = FloatVector.broadcast(S, NEG_INF);
        int j = 0;
        for (; j < both; j += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, xNext + j * F, NATIVE);
            m0 = m0.blend(v, v.compare(VectorOperators.GT, m0));
            FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE).mul(vs).sub(vm).intoArray(row, j);
            VectorMath.expInPlace(row, j);
            vsum = vsum.add(FloatVector.fromArray(S, row, j));
        }
        for (; j < vecEnd; j += L) {
            FloatVector.fromMemorySegment(S, x, xr + j * F, NATIVE).mul(vs).sub(vm).intoArray(row, j);
            VectorMath.expInPlace(row, j);
            vsum = vsum.add(FloatVector.fromArray(S, row, j));
        }
        float sum = vsum.lane(0);
        for (int l = 1; l < L; l++) {
            sum += vsum.lane(l);
        }
        for (j = vecEnd; j < n; j++) {
            float e = FloatExp.exp(scale * x.get(FL, xr + j * F) - zmax);
            row[j] = e;
            sum += e;
        }
        if (sum != sum) {
            for (j = 0; j < n; j++) {
                y.set(FL, yr + j * F, Float.NaN);
            }
        } else {
            normalise(n, 1f / sum, row, 0);
            MemorySegment.copy(row, 0, y, FL, yr, n);
        }
        for (j = both; j < nextEnd; j += L) {
            FloatVector v = FloatVector.fromMemorySegment(S, x, xNext + j * F, NATIVE);
            m0 = m0.blend(v, v.compare(VectorOperators.GT, m0));
        }
        float max = m0.reduceLanes(VectorOperators.MAX);
        for (j = nextEnd; j < next; j++) {
            float v = x.get(FL, xNext + j * F);
            max = v > max ? v : max;
        }
        return max;
    }

    private static void rowMasked(int n, float scale, float[] mask, int mr, float[] x, int xr, float[] y, int yr) {
        int vecEnd = S.loopBound(n);
        FloatVector vs = FloatVector.broadcast(S, scale);
        FloatVector vmax = FloatVector.broadcast(S, NEG_INF);
        int j = 0;
        for (; j < vecEnd; j += L) {
            // the contract's logit: scale*x + mask, -inf in either term winning
            FloatVector z = FloatVector.fromArray(S, x, xr + j).mul(vs);
            FloatVector mk = FloatVector.fromArray(S, mask, mr + j);
            vmax = vmax.max(z.add(mk).blend(NEG_INF, z.eq(NEG_INF).or(mk.eq(NEG_INF))));
        }
        float zmax = vmax.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) {
            zmax = Math.max(zmax, logit(scale, x[xr + j], mask[mr + j]));
        }
        if (Float.isNaN(zmax)) {
            fill(n, Float.NaN, y, yr);
            return;
        }
        if (edgeRow(n, zmax, y, yr)) {
            if (zmax == Float.POSITIVE_INFINITY) {
                uniformOverInfinities(n, scale, mask, mr, x, xr, y, yr);
            }
            return;
        }
        FloatVector vm = FloatVector.broadcast(S, zmax);
        FloatVector vsum = FloatVector.zero(S);
        for (j = 0; j < vecEnd; j += L) {
            FloatVector z = FloatVector.fromArray(S, x, xr + j).mul(vs);
            FloatVector mk = FloatVector.fromArray(S, mask, mr + j);
            z.add(mk).blend(NEG_INF, z.eq(NEG_INF).or(mk.eq(NEG_INF))).sub(vm).intoArray(y, yr + j);
            VectorMath.expInPlace(y, yr + j);
            vsum = vsum.add(FloatVector.fromArray(S, y, yr + j));
        }
        float sum = vsum.lane(0);
        for (int l = 1; l < L; l++) {
            sum += vsum.lane(l);
        }
        for (; j < n; j++) {
            float e = VectorMath.exp(logit(scale, x[xr + j], mask[mr + j]) - zmax);
            y[yr + j] = e;
            sum += e;
        }
        normalise(n, 1f / sum, y, yr);
    }

    private static float logit(float scale, float x, float mask) {
        float s = scale * x;
        return s == NEG_INF || mask == NEG_INF ? NEG_INF : s + mask;
    }

    /** Handles rows whose maximum is infinite; true when the row is done. */
    private static boolean edgeRow(int n, float zmax, float[] y, int yr) {
        if (zmax == NEG_INF) {
            fill(n, 0f, y, yr); // fully masked: zeros, never 0/0
            return true;
        }
        return zmax == Float.POSITIVE_INFINITY;
    }

    /** The limit of softmax when several logits are +inf together: uniform over them. */
    private static void uniformOverInfinities(int n, float scale, float[] mask, int mr, float[] x, int xr,
                                              float[] y, int yr) {
        int count = 0;
        for (int j = 0; j < n; j++) {
            float z = mask == null ? scale * x[xr + j] : logit(scale, x[xr + j], mask[mr + j]);
            count += z == Float.POSITIVE_INFINITY ? 1 : 0;
        }
        float share = (float) (1.0 / count);
        for (int j = 0; j < n; j++) {
            float z = mask == null ? scale * x[xr + j] : logit(scale, x[xr + j], mask[mr + j]);
            y[yr + j] = z == Float.POSITIVE_INFINITY ? share : 0f;
        }
    }

    private static void normalise(int n, float inv, float[] y, int yr) {
        int vecEnd = S.loopBound(n);
        FloatVector vi = FloatVector.broadcast(S, inv);
        int j = 0;
        for (; j < vecEnd; j += L) {
            FloatVector.fromArray(S, y, yr + j).mul(vi).intoArray(y, yr + j);
        }
        for (; j < n; j++) {
            y[yr + j] *= inv;
        }
    }

    private static void fill(int n, float v, float[] y, int yr) {
        for (int j = 0; j < n; j++) {
            y[yr + j] = v;
        }
    }

    public static void backward(int rows, int cols, float scale, float[] dy, int dyOff, int lddy,
                                float[] y, int yOff, int ldy, float[] dx, int dxOff, int lddx) {
        int vecEnd = S.loopBound(cols);
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int i = 0; i < rows; i++) {
            int gr = dyOff + i * lddy, yr = yOff + i * ldy, xr = dxOff + i * lddx;
            FloatVector acc0 = FloatVector.zero(S);
            FloatVector acc1 = FloatVector.zero(S);
            int j = 0;
            for (; j + 2 * L <= cols; j += 2 * L) {
                acc0 = FloatVector.fromArray(S, dy, gr + j).fma(FloatVector.fromArray(S, y, yr + j), acc0);
                acc1 = FloatVector.fromArray(S, dy, gr + j + L).fma(FloatVector.fromArray(S, y, yr + j + L), acc1);
            }
            for (; j < vecEnd; j += L) {
                acc0 = FloatVector.fromArray(S, dy, gr + j).fma(FloatVector.fromArray(S, y, yr + j), acc0);
            }
            FloatVector acc = acc0.add(acc1);
            float dot = acc.lane(0); // lanes in order
            for (int l = 1; l < L; l++) {
                dot += acc.lane(l);
            }
            for (; j < cols; j++) {
                dot = Math.fma(dy[gr + j], y[yr + j], dot);
            }
            // dx += scale * y * (dy - dot): the Jacobian of softmax, (diag(y) - y y^T), applied to dy.
            FloatVector vd = FloatVector.broadcast(S, dot);
            for (j = 0; j < vecEnd; j += L) {
                FloatVector g = FloatVector.fromArray(S, dy, gr + j).sub(vd);
                FloatVector yv = FloatVector.fromArray(S, y, yr + j).mul(vs);
                yv.fma(g, FloatVector.fromArray(S, dx, xr + j)).intoArray(dx, xr + j);
            }
            for (; j < cols; j++) {
                dx[xr + j] = Math.fma(scale * y[yr + j], dy[gr + j] - dot, dx[xr + j]);
            }
        }
    }
}
