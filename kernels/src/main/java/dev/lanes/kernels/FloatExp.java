package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;

/**
 * The one float32 exponential of Lanes: softmax, the attention tiles and GELU all take it, in SIMD
 * lanes ({@code VectorMath.expInPlace}) and in scalar tails and twins ({@link #exp(float)}), with the
 * same bits in both and in every JIT tier.
 *
 * <pre>
 *   x = n ln2 + r,  n = round(x * log2(e)),  |r| &lt;= ln2/2     (Cody and Waite: ln2 in two parts)
 *   exp(x) = 2^n * p(r),  p(r) = 1 + r + C2 r^2 + ... + C6 r^6
 * </pre>
 *
 * p is the minimax polynomial for the relative error of {@code e^r} on {@code |r| <= ln2/2 + 1e-5} with
 * the first two coefficients fixed at 1 (so {@code exp(0) = 1} exactly; Remez exchange in 40-digit
 * arithmetic, then rounded to float: 4.2e-9 before evaluation). It is evaluated by Horner's rule in six
 * fused multiply-adds, and 2^n is built in the exponent bits. Every step is an exactly specified IEEE
 * operation (add, multiply, fma, compare, integer bit operations) and the vector body repeats the scalar
 * one operation for operation, lanewise fma for {@link Math#fma}; that is why neither uses
 * {@link Math#exp} or the Vector API's {@code EXP}, whose last bit depends on which tier or stub ran, and
 * the same-bits-for-any-thread-count contract cannot live with that.
 *
 * <p>Accuracy, checked against {@link Math#exp} in double over every float in
 * [{@value #UNDERFLOW}, {@value #OVERFLOW}]: relative error at most {@value #MAX_RELATIVE_ERROR}
 * (7.7e-8 at x = -26.737; never more than 0.91 ulp, so within 1 ulp everywhere: nearly correctly
 * rounded); the SIMD lanes gave the same bits as {@link #exp(float)} for all 2^32 inputs. {@code FloatExpTest}
 * samples the range and checks the ends on every build. Outside the range:
 *
 * <pre>
 *   x &lt; UNDERFLOW (about ln 2^-126), -inf:  0   (exp(x) would be subnormal: flushed, as PyTorch's exp_u20 does)
 *   x &gt; OVERFLOW  (about 127.5 ln 2), +inf: +inf (also for x in (88.37626, 88.72283], where exp(x) is
 *                                           still just below Float.MAX_VALUE: 2^128 has no float scale)
 *   NaN:                                    NaN
 * </pre>
 *
 * The kernels take exp of a logit minus a maximum (or a logsumexp), at most 0, and GELU of values in
 * [-87.3, 87.3], all inside the accurate range.
 */
public final class FloatExp {
    /** Below this, exp(x) is under 2^-126, the smallest normal float, and the result is 0. */
    public static final float UNDERFLOW = -87.33654f;
    /** Above this, n would be 128: the result is +inf. */
    public static final float OVERFLOW = 88.37626f;
    /** The largest relative error against the exact exponential on [UNDERFLOW, OVERFLOW], all floats checked. */
    public static final double MAX_RELATIVE_ERROR = 7.8e-8;

    // The polynomial and the reduction, public only so that the SIMD body in dev.lanes.kernels.simd
    // (another package, not exported) evaluates exactly these numbers.
    /** log2(e) rounded to float. */
    public static final float LOG2E = 1.44269504088896341f;
    /** ln 2 = LN2_HI + LN2_LO; LN2_HI has 9 significant bits, so n * LN2_HI is exact for {@code |n| < 2^15}. */
    public static final float LN2_HI = 0.693359375f;
    public static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: x * log2(e) + ROUND rounds to an integer held in the low mantissa bits. */
    public static final float ROUND = 12582912f;
    public static final int ROUND_BITS = 0x4B400000;
    public static final float C2 = 0.49999994f, C3 = 0.16666521f, C4 = 0.041668426f, C5 = 0.008368696f,
            C6 = 0.0013812456f;

    private FloatExp() {}

    /** exp(x) as specified in the class comment: the scalar form of the SIMD lanes, the same bits. */
    public static float exp(float x) {
        float t = Math.fma(x, LOG2E, ROUND);
        float n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, C6, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        // 2^n in the exponent field: the low bits of t hold n + ROUND_BITS
        float y = p * Float.intBitsToFloat((Float.floatToRawIntBits(t) - (ROUND_BITS - 127)) << 23);
        // outside [UNDERFLOW, OVERFLOW] y is garbage (-inf gives NaN); NaN fails both tests and stays NaN
        return x < UNDERFLOW ? 0f : x > OVERFLOW ? Float.POSITIVE_INFINITY : y;
    }

    /**
     * {@code y[yOff + i] = exp(x[xOff + i])} for i in [0, n): the SIMD lanes when the Vector API is in use,
     * else {@link #exp(float)}, the same bits either way. y may be x itself (same offset).
     */
    public static void exp(int n, float[] x, int xOff, float[] y, int yOff) {
        Checks.nonNegative("n", n);
        Checks.vector("x", x, xOff, n);
        Checks.vector("y", y, yOff, n);
        Overlap.views().input("x", x, xOff, n).output("y", y, yOff, n).orSameAs("x").check();
        Backend.ELEMENTWISE.exp(n, x, xOff, y, yOff);
    }
}
