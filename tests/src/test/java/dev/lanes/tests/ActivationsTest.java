package dev.lanes.tests;

import static dev.lanes.tests.Rejection.arrays;
import static dev.lanes.tests.Rejection.iae;
import static dev.lanes.tests.Rejection.npe;
import static dev.lanes.tests.TestSupport.EPS;
import static dev.lanes.tests.Bits.assertSameBits;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.lanes.kernels.Activations;
import dev.lanes.kernels.ActivationsScalar;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Activations} (GELU, tanh form) against an independent double reference written with
 * {@code Math.tanh}, against its scalar twin, at extreme inputs, across teams, and its validation.
 * Bounds follow the conditioning: the polynomial argument z = -2u carries a few roundings, which move
 * y by about |x| s (1 - s) |z| eps.
 */
class ActivationsTest {
    private static final double K = Math.sqrt(2 / Math.PI), C = 0.044715;
    static final int[] SIZES = {0, 1, 2, 15, 16, 17, 31, 33, 97, 257, 4099, 40_000, 70_001};

    /**
     * 0.5 (1 + tanh u) in double. For u < 0 it is written e^{2u} / (1 + e^{2u}) (the same function):
     * 1 + tanh u itself cancels to 0 in double once u < -19, where the float result is still normal.
     */
    static double halfOnePlusTanh(double u) {
        if (u >= 0) {
            return 0.5 * (1 + Math.tanh(u));
        }
        double e = Math.exp(2 * u);
        return e / (1 + e);
    }

    static double geluRef(double x) {
        return x * halfOnePlusTanh(K * (x + C * x * x * x));
    }

    static double geluGradRef(double x) {
        double u = K * (x + C * x * x * x);
        double sech = 1 / Math.cosh(u); // 1 - tanh^2 u without cancellation
        double sech2 = sech * sech;
        return halfOnePlusTanh(u) + (sech2 == 0 ? 0 : 0.5 * x * sech2 * K * (1 + 3 * C * x * x));
    }

    /** s = sigmoid(2u) and |z| = |2u| (clamped as the kernel clamps), for the error bounds. */
    private static double[] sz(double x) {
        double xc = Math.max(-10, Math.min(10, x));
        double z = 2 * K * (xc + C * xc * xc * xc);
        return new double[] {1 / (1 + Math.exp(-z)), Math.abs(z)};
    }

    static double forwardBound(double x) {
        double[] sz = sz(x);
        double s = sz[0];
        // below x = -10 the kernel returns -0 where |y| < 1.2e-37
        return 8 * EPS * (Math.abs(x) * s + Math.abs(x) * s * (1 - s) * (sz[1] + 2)) + 2e-37;
    }

    static double backwardBound(double x, double dy, double dx0) {
        double[] sz = sz(x);
        double s = sz[0], xc = Math.max(-10, Math.min(10, x));
        double poly = 2 * K * Math.abs(xc) * (1 - s) * (1 + 3 * C * xc * xc);
        // below x = -10 the kernel's gelu' is 0 where |gelu'| < 3e-36
        double local = 16 * EPS * (s * (1 + poly) + s * (1 - s) * (1 + poly) * (sz[1] + 2)) + 5e-36;
        return local * Math.abs(dy) + 2 * EPS * (Math.abs(dx0) + Math.abs(geluGradRef(x) * dy));
    }

    static float[] inputs(SplittableRandom rnd, int n, int off) {
        float[] x = TestSupport.sentinels(off + n + 3);
        for (int i = 0; i < n; i++) {
            double r = rnd.nextDouble();
            x[off + i] = r < 0.7 ? TestSupport.uniform(rnd) * 6 : r < 0.9 ? TestSupport.uniform(rnd) * 14
                    : (float) ((rnd.nextBoolean() ? 1 : -1) * Math.pow(10, rnd.nextDouble() * 30));
        }
        return x;
    }

    /** Forward against the reference, the twin within the same bound, padding untouched; twice (C2). */
    @Test
    void forwardMatchesReferenceAndTwin() {
        for (int pass = 0; pass < 3; pass++) {
            SplittableRandom rnd = new SplittableRandom(61);
            for (int n : SIZES) {
                int xOff = n % 3, yOff = 2;
                float[] x = inputs(rnd, n, xOff);
                float[] y0 = TestSupport.sentinels(yOff + n + 4);
                float[] y = y0.clone(), yt = y0.clone();
                Activations.geluForward(n, x, xOff, y, yOff);
                ActivationsScalar.geluForward(n, x, xOff, yt, yOff);
                float[] ref = y0.clone();
                double[] bound = new double[y.length];
                for (int i = 0; i < n; i++) {
                    ref[yOff + i] = (float) geluRef(x[xOff + i]);
                    bound[yOff + i] = forwardBound(x[xOff + i]);
                }
                boolean[] in = TestSupport.inside(y.length, new TestSupport.Region(yOff, 1, n, Math.max(1, n)));
                TestSupport.assertArray("gelu y n=" + n, y, y0, in, ref, bound);
                TestSupport.assertArray("twin gelu y n=" + n, yt, y0, in, ref, bound);
            }
        }
    }

    @Test
    void backwardAccumulatesAndMatchesReferenceAndTwin() {
        for (int pass = 0; pass < 3; pass++) {
            SplittableRandom rnd = new SplittableRandom(62);
            for (int n : SIZES) {
                int xOff = 1, dyOff = n % 5, dxOff = 3;
                float[] x = inputs(rnd, n, xOff);
                float[] dy = TestSupport.sentinels(dyOff + n + 1);
                float[] dx0 = TestSupport.sentinels(dxOff + n + 2);
                for (int i = 0; i < n; i++) {
                    dy[dyOff + i] = TestSupport.uniform(rnd);
                    dx0[dxOff + i] = TestSupport.uniform(rnd); // accumulation: must be added to
                }
                float[] dx = dx0.clone(), dxt = dx0.clone(), ref = dx0.clone();
                Activations.geluBackward(n, dy, dyOff, x, xOff, dx, dxOff);
                ActivationsScalar.geluBackward(n, dy, dyOff, x, xOff, dxt, dxOff);
                double[] bound = new double[dx.length];
                for (int i = 0; i < n; i++) {
                    double xv = x[xOff + i], g = dy[dyOff + i], d0 = dx0[dxOff + i];
                    ref[dxOff + i] = (float) (d0 + geluGradRef(xv) * g);
                    bound[dxOff + i] = backwardBound(xv, g, d0);
                }
                boolean[] in = TestSupport.inside(dx.length, new TestSupport.Region(dxOff, 1, n, Math.max(1, n)));
                TestSupport.assertArray("gelu dx n=" + n, dx, dx0, in, ref, bound);
                TestSupport.assertArray("twin gelu dx n=" + n, dxt, dx0, in, ref, bound);
            }
        }
    }

    /**
     * The in-place backward against the accumulating one into zeros (the same bits but for the sign
     * of a zero), its twin against the reference, the padding around d untouched, and the same bits
     * on teams of 1, 2 and 3.
     */
    @Test
    void backwardInPlaceIsTheBackwardIntoZeros() {
        SplittableRandom rnd = new SplittableRandom(65);
        try (Parallelism two = Parallelism.fixed(2); Parallelism three = Parallelism.fixed(3)) {
            for (int pass = 0; pass < 3; pass++) {
                for (int n : SIZES) {
                    int xOff = 2, dOff = n % 4 + 1;
                    float[] x = inputs(rnd, n, xOff);
                    float[] d0 = TestSupport.sentinels(dOff + n + 3);
                    for (int i = 0; i < n; i++) {
                        d0[dOff + i] = TestSupport.uniform(rnd);
                    }
                    float[] zeros = new float[n];
                    Activations.geluBackward(n, d0, dOff, x, xOff, zeros, 0);
                    float[] d = d0.clone(), dt = d0.clone(), ref = d0.clone();
                    Activations.geluBackwardInPlace(Parallelism.serial(), n, x, xOff, d, dOff);
                    ActivationsScalar.geluBackwardInPlace(n, x, xOff, dt, dOff);
                    double[] bound = new double[d.length];
                    for (int i = 0; i < n; i++) {
                        float want = zeros[i], got = d[dOff + i];
                        if (!(want == 0f && got == 0f)) {
                            assertThat(Float.floatToRawIntBits(got)).as("n=%d i=%d", n, i)
                                    .isEqualTo(Float.floatToRawIntBits(want));
                        }
                        double xv = x[xOff + i], g = d0[dOff + i];
                        ref[dOff + i] = (float) (geluGradRef(xv) * g);
                        bound[dOff + i] = backwardBound(xv, g, 0);
                    }
                    boolean[] in = TestSupport.inside(d.length, new TestSupport.Region(dOff, 1, n, Math.max(1, n)));
                    TestSupport.assertArray("gelu in place n=" + n, d, d0, in, ref, bound);
                    TestSupport.assertArray("twin gelu in place n=" + n, dt, d0, in, ref, bound);
                    for (Parallelism team : new Parallelism[] {two, three}) {
                        float[] dTeam = d0.clone();
                        Activations.geluBackwardInPlace(team, n, x, xOff, dTeam, dOff);
                        assertSameBits("in place, " + team + " n=" + n, d, dTeam);
                    }
                }
            }
        }
    }

    /** Finite output and gradient for every finite input, exact saturation far out, NaN propagates. */
    @Test
    void extremeInputsSaturateWithoutNaN() {
        float[] x = {1e30f, -1e30f, Float.MAX_VALUE, -Float.MAX_VALUE, 3e12f, -3e12f, 1e6f, -1e6f, 20f, -20f,
                10f, -10f, 10.001f, -10.001f, 9.999f, -9.999f, 0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE,
                1e-30f, -1e-30f, 5f, -5f, Float.NaN};
        int n = x.length;
        for (int rep = 0; rep < 2000; rep++) { // the last repetitions run C2 code
            float[] y = new float[n], dx = new float[n], dy = new float[n];
            Arrays.fill(dy, 1f);
            Activations.geluForward(n, x, 0, y, 0);
            Activations.geluBackward(n, dy, 0, x, 0, dx, 0);
            if (rep % 500 != 499) continue;
            for (int i = 0; i < n - 1; i++) {
                assertThat(Float.isFinite(y[i])).as("y(%s) = %s", x[i], y[i]).isTrue();
                assertThat(Float.isFinite(dx[i])).as("gelu'(%s) = %s", x[i], dx[i]).isTrue();
                double want = geluRef(x[i]);
                assertThat(Math.abs(y[i] - want)).as("y(%s)", x[i]).isLessThanOrEqualTo(forwardBound(x[i]));
                double wantG = Double.isNaN(geluGradRef(x[i])) ? (x[i] > 0 ? 1 : 0) : geluGradRef(x[i]);
                assertThat(Math.abs(dx[i] - wantG)).as("gelu'(%s)", x[i])
                        .isLessThanOrEqualTo(backwardBound(x[i], 1, 0) + 1e-30);
            }
            assertThat(y[0]).isEqualTo(1e30f);
            assertThat(y[2]).isEqualTo(Float.MAX_VALUE);
            assertThat(Float.floatToRawIntBits(y[1])).as("y(-1e30) is -0").isEqualTo(Float.floatToRawIntBits(-0f));
            assertThat(dx[0]).isEqualTo(1f);
            assertThat(dx[1]).isEqualTo(0f);
            assertThat(y[n - 1]).isNaN();
            assertThat(dx[n - 1]).isNaN();
        }
        float[] yt = new float[n], dxt = new float[n], dy = new float[n];
        Arrays.fill(dy, 1f);
        ActivationsScalar.geluForward(n, x, 0, yt, 0);
        ActivationsScalar.geluBackward(n, dy, 0, x, 0, dxt, 0);
        for (int i = 0; i < n - 1; i++) {
            assertThat(Float.isFinite(yt[i]) && Float.isFinite(dxt[i])).as("twin at %s", x[i]).isTrue();
        }
    }

    /** In place (y == x) and dx == dy, the identical views the contract allows. */
    @Test
    void identicalViews() {
        SplittableRandom rnd = new SplittableRandom(63);
        int n = 45;
        float[] x = inputs(rnd, n, 0);
        float[] y = new float[x.length];
        Activations.geluForward(n, x, 0, y, 0);
        float[] inPlace = x.clone();
        Activations.geluForward(n, inPlace, 0, inPlace, 0);
        assertSameBits("in place", Arrays.copyOf(y, n), Arrays.copyOf(inPlace, n));
        float[] dy = new float[n];
        for (int i = 0; i < n; i++) dy[i] = TestSupport.uniform(rnd);
        float[] dx = dy.clone();
        Activations.geluBackward(n, dy, 0, x, 0, dx, 0);
        float[] shared = dy.clone();
        Activations.geluBackward(n, shared, 0, x, 0, shared, 0);
        assertSameBits("dx == dy", dx, shared);
    }

    /** Same bits for the serial team and teams of 2 and 3, on sizes that cut chunks unevenly. */
    @Test
    void bitsDoNotDependOnTheTeam() {
        SplittableRandom rnd = new SplittableRandom(64);
        try (Parallelism two = Parallelism.fixed(2); Parallelism three = Parallelism.fixed(3)) {
            for (int n : new int[] {17, 32768, 32769, 100_003, 262_147}) {
                float[] x = inputs(rnd, n, 0), dy = new float[n], dx0 = new float[n];
                for (int i = 0; i < n; i++) {
                    dy[i] = TestSupport.uniform(rnd);
                    dx0[i] = TestSupport.uniform(rnd);
                }
                float[] y1 = new float[n], dx1 = dx0.clone();
                Activations.geluForward(Parallelism.serial(), n, x, 0, y1, 0);
                Activations.geluBackward(Parallelism.serial(), n, dy, 0, x, 0, dx1, 0);
                for (Parallelism team : new Parallelism[] {two, three}) {
                    float[] y = new float[n], dx = dx0.clone();
                    Activations.geluForward(team, n, x, 0, y, 0);
                    Activations.geluBackward(team, n, dy, 0, x, 0, dx, 0);
                    assertSameBits("y, " + team + " n=" + n, y1, y);
                    assertSameBits("dx, " + team + " n=" + n, dx1, dx);
                }
            }
        }
    }

    static Stream<Arguments> rejections() {
        return Stream.of(
                iae("negative n", "n=-1 < 0", arrays(4, 4), a -> Activations.geluForward(-1, a[0], 0, a[1], 0)),
                iae("x too short", "x too short", arrays(4, 8), a -> Activations.geluForward(5, a[0], 0, a[1], 0)),
                iae("y too short", "y too short: yOff=2 + 4 = 6 > y.length=5", arrays(8, 5),
                        a -> Activations.geluForward(4, a[0], 0, a[1], 2)),
                iae("negative offset", "xOff=-1 < 0", arrays(8, 8), a -> Activations.geluForward(4, a[0], -1, a[1], 0)),
                iae("y overlaps x", "y overlaps x", arrays(16), a -> Activations.geluForward(8, a[0], 0, a[0], 3)),
                npe("null x", "x is null", arrays(4), a -> Activations.geluForward(4, null, 0, a[0], 0)),
                npe("null team", "par is null", arrays(4, 4),
                        a -> Activations.geluForward(null, 4, a[0], 0, a[1], 0)),
                iae("dx too short", "dx too short", arrays(8, 8, 3),
                        a -> Activations.geluBackward(4, a[0], 0, a[1], 0, a[2], 0)),
                iae("dx overlaps x", "dx overlaps x", arrays(8, 16),
                        a -> Activations.geluBackward(4, a[0], 0, a[1], 0, a[1], 2)),
                iae("dx overlaps dy", "dx overlaps dy", arrays(16, 8),
                        a -> Activations.geluBackward(4, a[0], 0, a[1], 0, a[0], 1)),
                npe("null dy", "dy is null", arrays(8, 8),
                        a -> Activations.geluBackward(4, null, 0, a[0], 0, a[1], 0)),
                iae("in place: d overlaps x", "d overlaps x", arrays(16),
                        a -> Activations.geluBackwardInPlace(4, a[0], 0, a[0], 2)),
                iae("in place: d too short", "d too short", arrays(8, 3),
                        a -> Activations.geluBackwardInPlace(4, a[0], 0, a[1], 0)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rejections")
    void rejectsBeforeWriting(Rejection r) {
        r.verify();
    }

    @Test
    void twinRejectsToo() {
        float[] y = {7f, 7f};
        try {
            ActivationsScalar.geluForward(3, new float[3], 0, y, 0);
            fail("expected a rejection");
        } catch (IllegalArgumentException e) {
            assertThat(e.getMessage()).contains("y too short");
        }
        assertThat(y).containsExactly(7f, 7f);
    }
}
