package dev.lanes.tests;

import static dev.lanes.tests.Rejection.arrays;
import static dev.lanes.tests.Rejection.iae;
import static dev.lanes.tests.Rejection.npe;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.lanes.kernels.FloatExp;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link FloatExp}, the exponential of softmax, attention and GELU: against {@link Math#exp} in double
 * over its range (a stride through every float of it, plus the ends), its documented behaviour outside
 * the range, and the SIMD lanes of the array form against the scalar form, bit for bit, on awkward
 * lengths and offsets, repeated so that C2's code is what gets compared.
 */
class FloatExpTest {
    /** Every float of [UNDERFLOW, OVERFLOW] at this bit stride (about 2.2 million of them), both signs. */
    private static final int STRIDE = 1009;

    private static void assertClose(float x) {
        float got = FloatExp.exp(x);
        double ref = Math.exp(x);
        double rel = Math.abs(got - ref) / ref;
        if (!(rel <= FloatExp.MAX_RELATIVE_ERROR) || !(got >= Float.MIN_NORMAL)) {
            fail("exp(" + x + ") = " + got + ", Math.exp = " + ref + ", relative error " + rel + " > "
                    + FloatExp.MAX_RELATIVE_ERROR);
        }
    }

    @Test
    void withinTheDocumentedErrorOverTheRange() {
        int lo = Float.floatToRawIntBits(FloatExp.UNDERFLOW), hi = Float.floatToRawIntBits(FloatExp.OVERFLOW);
        for (int b = 0x80000000; b <= lo && b < 0; b += STRIDE) { // -0 down to UNDERFLOW
            assertClose(Float.intBitsToFloat(b));
        }
        for (int b = 0; b <= hi; b += STRIDE) {
            assertClose(Float.intBitsToFloat(b));
        }
        // both ends, where the scale 2^n is at its extremes, and the reduction's switch points n +- 1/2
        for (float e : new float[] {FloatExp.UNDERFLOW, FloatExp.OVERFLOW, 0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE}) {
            float v = e;
            for (int k = 0; k < 64 && v >= FloatExp.UNDERFLOW && v <= FloatExp.OVERFLOW; k++) {
                assertClose(v);
                v = e > 0 ? Math.nextDown(v) : e < 0 ? Math.nextUp(v) : v;
            }
        }
        for (int n = -126; n <= 127; n++) {
            float mid = (float) ((n + 0.5) * Math.log(2));
            for (float v = Math.nextDown(Math.nextDown(mid)), k = 0; k < 5; k++, v = Math.nextUp(v)) {
                if (v >= FloatExp.UNDERFLOW && v <= FloatExp.OVERFLOW) {
                    assertClose(v);
                }
            }
        }
        assertThat(FloatExp.exp(0f)).isEqualTo(1f);
        assertThat(FloatExp.exp(-0f)).isEqualTo(1f);
    }

    @Test
    void outsideTheRange() {
        assertThat(Float.floatToRawIntBits(FloatExp.exp(Math.nextDown(FloatExp.UNDERFLOW)))).isZero();
        assertThat(Float.floatToRawIntBits(FloatExp.exp(Float.NEGATIVE_INFINITY))).isZero();
        assertThat(Float.floatToRawIntBits(FloatExp.exp(-Float.MAX_VALUE))).isZero();
        assertThat(Float.floatToRawIntBits(FloatExp.exp(-1e6f))).isZero();
        assertThat(FloatExp.exp(Math.nextUp(FloatExp.OVERFLOW))).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(FloatExp.exp(88.72283f)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(FloatExp.exp(Float.MAX_VALUE)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(FloatExp.exp(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(FloatExp.exp(Float.NaN)).isNaN();
        // the true exp at the ends, so the constants say what they claim
        assertThat(Math.exp(FloatExp.UNDERFLOW)).isGreaterThanOrEqualTo(Float.MIN_NORMAL);
        assertThat(Math.exp(Math.nextDown(FloatExp.UNDERFLOW))).isLessThan(Float.MIN_NORMAL);
    }

    /** Specials and the ends mixed into random values, so every lane position sees each of them. */
    private static float[] inputs(SplittableRandom rnd, int n) {
        float[] specials = {Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 0f, -0f, 1f, -1f,
            FloatExp.UNDERFLOW, Math.nextDown(FloatExp.UNDERFLOW), FloatExp.OVERFLOW, Math.nextUp(FloatExp.OVERFLOW),
            Float.MIN_VALUE, -Float.MAX_VALUE, Float.MAX_VALUE, -87.5f, 88.5f};
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextInt(8) == 0 ? specials[rnd.nextInt(specials.length)] : (float) rnd.nextDouble(-100, 100);
        }
        return x;
    }

    @Test
    void arrayFormHasTheScalarBits() {
        SplittableRandom rnd = new SplittableRandom(15);
        int[] sizes = {0, 1, 2, TestSupport.L - 1, TestSupport.L, TestSupport.L + 1, 2 * TestSupport.L + 1, 97, 1000};
        for (int rep = 0; rep < 40; rep++) { // repeated: the later rounds run C2's code
            for (int n : sizes) {
                int xOff = rnd.nextInt(5), yOff = rnd.nextInt(5);
                float[] x = new float[xOff + n + 3];
                System.arraycopy(inputs(rnd, n), 0, x, xOff, n);
                float[] y = TestSupport.sentinels(yOff + n + 3);
                float[] before = y.clone();
                FloatExp.exp(n, x, xOff, y, yOff);
                for (int i = 0; i < y.length; i++) {
                    boolean inside = i >= yOff && i < yOff + n;
                    float want = inside ? FloatExp.exp(x[xOff + i - yOff]) : before[i];
                    boolean same = inside && Float.isNaN(want) ? Float.isNaN(y[i])
                            : Float.floatToRawIntBits(y[i]) == Float.floatToRawIntBits(want);
                    if (!same) {
                        fail("n=" + n + " y[" + i + "] = " + Bits.show(y[i]) + ", expected "
                                + Bits.show(want) + (inside ? " (x = " + x[xOff + i - yOff] + ")" : " (padding)"));
                    }
                }
                // in place
                float[] z = x.clone();
                FloatExp.exp(n, z, xOff, z, xOff);
                for (int i = 0; i < n; i++) {
                    float want = y[yOff + i];
                    if (!(Float.isNaN(want) ? Float.isNaN(z[xOff + i])
                            : Float.floatToRawIntBits(z[xOff + i]) == Float.floatToRawIntBits(want))) {
                        fail("in place n=" + n + " [" + i + "] = " + z[xOff + i] + ", expected " + want);
                    }
                }
            }
        }
    }

    static Stream<Arguments> rejections() {
        return Stream.of(
                iae("negative n", "n=-1 < 0", arrays(4, 4), a -> FloatExp.exp(-1, a[0], 0, a[1], 0)),
                iae("x too short", "x too short", arrays(4, 8), a -> FloatExp.exp(5, a[0], 0, a[1], 0)),
                iae("y too short", "y too short", arrays(8, 5), a -> FloatExp.exp(4, a[0], 0, a[1], 2)),
                iae("y overlaps x", "y overlaps x", arrays(16), a -> FloatExp.exp(8, a[0], 0, a[0], 3)),
                npe("null x", "x is null", arrays(4), a -> FloatExp.exp(4, null, 0, a[0], 0)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rejections")
    void rejectsBeforeWriting(Rejection r) {
        r.verify();
    }
}
