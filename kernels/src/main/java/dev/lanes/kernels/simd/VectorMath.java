package dev.lanes.kernels.simd;

import static dev.lanes.kernels.FloatExp.C2;
import static dev.lanes.kernels.FloatExp.C3;
import static dev.lanes.kernels.FloatExp.C4;
import static dev.lanes.kernels.FloatExp.C5;
import static dev.lanes.kernels.FloatExp.C6;
import static dev.lanes.kernels.FloatExp.LN2_HI;
import static dev.lanes.kernels.FloatExp.LN2_LO;
import static dev.lanes.kernels.FloatExp.LOG2E;
import static dev.lanes.kernels.FloatExp.OVERFLOW;
import static dev.lanes.kernels.FloatExp.ROUND;
import static dev.lanes.kernels.FloatExp.ROUND_BITS;
import static dev.lanes.kernels.FloatExp.UNDERFLOW;

import dev.lanes.kernels.FloatExp;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Elementary functions for the SIMD kernels built only from exactly specified IEEE operations, so a
 * result has the same bits in the interpreter, in C1 and in C2, in a vector lane and in a scalar tail.
 * The Vector API's own {@code EXP} and {@code reduceLanes(ADD)} leave their rounding and summation
 * order unspecified (measured here: 58% of 16-lane sums and 1% of exponentials differ between the
 * interpreter and C2), which would make results depend on which thread reached which JIT tier first.
 * (The kernels add lanes in a fixed order inline, {@code lane(0) + lane(1) + ...}: a helper taking the
 * vector would box it whenever C2 does not inline the call; see {@link #expInPlace}.)
 */
public final class VectorMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = S.withLanes(int.class);
    private static final int L = S.length();

    private VectorMath() {}

    /**
     * {@code a[i, i + L) = exp(a[i, i + L))}: {@link FloatExp#exp(float)} in every lane, operation for
     * operation (see there for the function, its error and its ends). 17 vector operations, no min or
     * max: Java's float max, with its NaN and -0 rules, is several instructions on x86.
     *
     * <p>In place on an array rather than on a vector argument: C2 may decline to inline any method of
     * ours (for instance when a large caller has used up its node budget: once the softmax of the
     * attention forward block, 1.57 MB of boxes per MQA forward and 5x the time), and a vector passed to
     * or returned from a call that is not inlined is boxed, a heap object per call. A call on an array
     * costs a call; SteadyStateAllocationTest holds this with inlining of Lanes' own methods switched off.
     * Inlined, C2 forwards the stored vector to the load that follows, so the round trip through memory
     * costs a store. Scalar arguments are broadcast explicitly: the shorthands measured slower in loops.
     */
    public static void expInPlace(float[] a, int i) {
        FloatVector x = FloatVector.fromArray(S, a, i);
        FloatVector round = FloatVector.broadcast(S, ROUND);
        FloatVector t = x.fma(FloatVector.broadcast(S, LOG2E), round); // n in the low mantissa bits
        FloatVector n = t.sub(round);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, C6), FloatVector.broadcast(S, C5));
        p = p.fma(r, FloatVector.broadcast(S, C4));
        p = p.fma(r, FloatVector.broadcast(S, C3));
        p = p.fma(r, FloatVector.broadcast(S, C2));
        FloatVector one = FloatVector.broadcast(S, 1f);
        p = p.fma(r, one);
        p = p.fma(r, one);
        IntVector bits = ((IntVector) t.reinterpretAsInts())
                .sub(IntVector.broadcast(IS, ROUND_BITS - 127))
                .lanewise(VectorOperators.LSHL, 23);
        p.mul(bits.reinterpretAsFloats())
                .blend(FloatVector.zero(S), x.compare(VectorOperators.LT, FloatVector.broadcast(S, UNDERFLOW)))
                .blend(FloatVector.broadcast(S, Float.POSITIVE_INFINITY),
                        x.compare(VectorOperators.GT, FloatVector.broadcast(S, OVERFLOW)))
                .intoArray(a, i);
    }

    /** {@link FloatExp#exp(float)}, under the name the kernels' scalar tails have always called. */
    public static float exp(float x) {
        return FloatExp.exp(x);
    }

    /** Body of {@link FloatExp#exp(int, float[], int, float[], int)}: arguments validated there. */
    public static void exp(int n, float[] x, int xOff, float[] y, int yOff) {
        int vecEnd = S.loopBound(n);
        int i = 0;
        for (; i < vecEnd; i += L) {
            FloatVector.fromArray(S, x, xOff + i).intoArray(y, yOff + i);
            expInPlace(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = FloatExp.exp(x[xOff + i]);
        }
    }
}
