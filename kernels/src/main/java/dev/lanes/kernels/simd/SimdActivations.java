package dev.lanes.kernels.simd;

import dev.lanes.kernels.FloatExp;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API body of {@code dev.lanes.kernels.Activations}. Arguments were validated by the facade.
 * GELU as {@code y = x * sigmoid(2u)}, {@code u = sqrt(2/pi) (x + 0.044715 x^3)}, with the sigmoid
 * from {@link VectorMath#expInPlace} in the lanes and {@link FloatExp#exp(float)} in the tails; the
 * scalar tails repeat the vector operations one for one, so an element's bits do not depend on
 * whether a lane or a tail computed it.
 *
 * <p>Below x = -10 the true y is smaller in magnitude than 1.2e-37, so y and gelu' are set to exactly
 * -0 and 0 there. The forward needs no clamp above: for x > 10 the exponent is below -87, where
 * {@code 1 + exp} is 1 in float, and an x^3 that overflows gives exp(-inf) = 0, the same y = x (Java's
 * min and max, with their NaN and -0 rules, cost the forward 30% on Zen 4). The backward clamps x to
 * at most 10 (so x^2 (1 - s) cannot be inf * 0): there the sigmoid is already 1 in float.
 */
public final class SimdActivations {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** -2 sqrt(2/pi): z = -2u = NEG_2K (x + C x^3). */
    private static final float NEG_2K = (float) (-2.0 * Math.sqrt(2.0 / Math.PI));
    private static final float TWO_K = (float) (2.0 * Math.sqrt(2.0 / Math.PI));
    private static final float C = 0.044715f;
    private static final float C3 = 3f * 0.044715f;
    private static final float CLAMP = 10f;

    private SimdActivations() {}

    public static void geluForward(int n, float[] x, int xOff, float[] y, int yOff) {
        int vecEnd = S.loopBound(n);
        int i = 0;
        for (; i < vecEnd; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i);
            // z through y: VectorMath's exp works in place on an array (see expInPlace)
            v.mul(v).mul(C).fma(v, v).mul(NEG_2K).intoArray(y, yOff + i);
            VectorMath.expInPlace(y, yOff + i);
            FloatVector e = FloatVector.fromArray(S, y, yOff + i);
            v.div(e.add(1f)).blend(-0f, v.lt(-CLAMP)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            float v = x[xOff + i];
            float z = Math.fma(v * v * C, v, v) * NEG_2K;
            float e = FloatExp.exp(z);
            y[yOff + i] = v < -CLAMP ? -0f : v / (e + 1f);
        }
    }

    /** {@code dx += gelu'(x) * dy}; dx may be dy or x itself (same offset). */
    public static void geluBackward(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        geluBackward(true, n, dy, dyOff, x, xOff, dx, dxOff);
    }

    /**
     * {@code dx = gelu'(x) * dy}, overwriting: dx's old value is not used. dx may be dy or x itself (same
     * offset). The bits of {@link #geluBackward} into a zeroed dx, but for the sign of a zero product.
     */
    public static void geluBackwardInto(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
        geluBackward(false, n, dy, dyOff, x, xOff, dx, dxOff);
    }

    private static void geluBackward(boolean add, int n, float[] dy, int dyOff, float[] x, int xOff,
                                     float[] dx, int dxOff) {
        int vecEnd = S.loopBound(n);
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = 0;
        for (; i < vecEnd; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i);
            // clamped above only, by a compare and a blend: below -CLAMP the result is replaced by 0
            FloatVector xc = v.blend(CLAMP, v.compare(VectorOperators.GT, CLAMP));
            FloatVector x2 = xc.mul(xc);
            int o = dxOff + i;
            // every input read before the exponent goes through dx (expInPlace works on an array)
            FloatVector vdy = FloatVector.fromArray(S, dy, dyOff + i), vdx = FloatVector.fromArray(S, dx, o);
            x2.mul(C).fma(xc, xc).mul(NEG_2K).intoArray(dx, o);
            VectorMath.expInPlace(dx, o);
            FloatVector e = FloatVector.fromArray(S, dx, o);
            FloatVector s = one.div(e.add(1f));
            // gelu' = s + x s (1 - s) 2 du/dx = s (1 + 2K x (1 - s) (1 + 3C x^2)), with 1 - s = e s exactly
            FloatVector t = xc.mul(TWO_K).mul(e.mul(s));
            FloatVector g = s.mul(t.fma(x2.fma(C3, 1f), one)).blend(0f, v.lt(-CLAMP));
            if (add) {
                g.fma(vdy, vdx).intoArray(dx, o);
            } else {
                g.mul(vdy).intoArray(dx, o); // two stores rather than a vector phi, which may box
            }
        }
        for (; i < n; i++) {
            float v = x[xOff + i];
            float xc = v > CLAMP ? CLAMP : v;
            float x2 = xc * xc;
            float e = FloatExp.exp(Math.fma(x2 * C, xc, xc) * NEG_2K);
            float s = 1f / (e + 1f);
            float t = xc * TWO_K * (e * s);
            float g = v < -CLAMP ? 0f : s * Math.fma(t, Math.fma(x2, C3, 1f), 1f);
            dx[dxOff + i] = add ? Math.fma(g, dy[dyOff + i], dx[dxOff + i]) : g * dy[dyOff + i];
        }
    }
}
