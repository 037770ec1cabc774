package dev.lanes.tests;

import static dev.lanes.tests.Rejection.arrays;
import static dev.lanes.tests.Rejection.iae;
import static dev.lanes.tests.Rejection.npe;
import static dev.lanes.tests.TestSupport.EPS;
import static dev.lanes.tests.TestSupport.L;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.fail;

import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.ResidualAddScalar;
import dev.lanes.tests.KernelCases.GradAlias;
import dev.lanes.tests.KernelCases.ResidualAlias;
import dev.lanes.tests.KernelCases.ResidualBackwardCase;
import dev.lanes.tests.KernelCases.ResidualCase;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ResidualAdd} against {@link ResidualAddScalar} (bounds of a few ulps; the bias gradient's
 * bound grows with the row count it sums), finite differences in double for the backward pass, its
 * accumulating semantics, and one test per validation rule.
 */
class ResidualAddTest {
    @BeforeAll
    static void warmUp() {
        TestSupport.warmUp();
    }

    private static final float[] ALPHAS = {1f, 0f, -0.5f, 2.5f};

    static int[] cols() {
        return SoftmaxTest.cols();
    }

    /** Every shape x alpha x bias x aliasing, twice (the second pass on code compiled with the first's profile). */
    @Test
    void forwardMatchesScalarTwin() {
        for (int pass = 0; pass < 2; pass++) {
            SplittableRandom rnd = new SplittableRandom(101);
            for (int rows : new int[] {1, 3, 7}) {
                for (int cols : cols()) {
                    for (float alpha : ALPHAS) {
                        for (boolean bias : new boolean[] {false, true}) {
                            for (ResidualAlias alias : ResidualAlias.values()) {
                                ResidualCase.of(rows, cols, alpha, bias, alias, rnd).check(rnd);
                            }
                        }
                    }
                    // the overload without alpha and bias
                    ResidualCase c = ResidualCase.of(rows, cols, 1f, false, ResidualAlias.NONE, rnd);
                    new ResidualCase(rows, cols, 1f, false, 0, c.xOff(), c.ldx(), c.fOff(), c.ldf(), c.yOff(), c.ldy(),
                            ResidualAlias.NONE, true).check(rnd);
                }
            }
        }
    }

    /** x, f and y of 300 x 1031 floats (1.2 MB each). */
    @Test
    void forwardLargerThanL2() {
        SplittableRandom rnd = new SplittableRandom(102);
        ResidualCase.of(300, 1031, 0.5f, true, ResidualAlias.NONE, rnd).check(rnd);
        ResidualCase.of(300, 1031, -1f, true, ResidualAlias.Y_IS_X, rnd).check(rnd);
        ResidualCase.of(300, 1031, 1f, false, ResidualAlias.Y_IS_F, rnd).check(rnd);
    }

    @Test
    void backwardMatchesScalarTwin() {
        for (int pass = 0; pass < 2; pass++) {
            SplittableRandom rnd = new SplittableRandom(103);
            for (int rows : new int[] {1, 3, 7}) {
                for (int cols : cols()) {
                    for (int outputs = 0; outputs < 8; outputs++) { // which of dx, df, dbias are given
                        for (GradAlias alias : GradAlias.values()) {
                            float alpha = ALPHAS[(outputs + alias.ordinal()) % ALPHAS.length];
                            ResidualBackwardCase.of(rows, cols, alpha, (outputs & 1) != 0, (outputs & 2) != 0,
                                    (outputs & 4) != 0, alias, rnd).check(rnd);
                        }
                    }
                }
            }
        }
    }

    @Test
    void backwardLargerThanL2() {
        SplittableRandom rnd = new SplittableRandom(104);
        for (GradAlias alias : GradAlias.values()) {
            ResidualBackwardCase.of(300, 1031, 0.75f, true, true, true, alias, rnd).check(rnd);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Backward: central finite differences in double on the fake loss sum(y * dOut).

    /** The double-precision forward, straight from the contract: y = x + alpha * (f + bias). */
    private static double loss(int rows, int cols, double alpha, double[] x, double[] f, double[] bias, float[] dOut) {
        double s = 0;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double y = x[i * cols + j] + alpha * (f[i * cols + j] + bias[j]);
                s += y * dOut[i * cols + j];
            }
        }
        return s;
    }

    @ParameterizedTest(name = "alpha={0}")
    @MethodSource("alphas")
    void backwardMatchesFiniteDifferences(float alpha) {
        int rows = 3, cols = 2 * L + 3;
        SplittableRandom rnd = new SplittableRandom(105);
        double[] x = new double[rows * cols], f = new double[rows * cols], bias = new double[cols];
        float[] dOut = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = TestSupport.uniform(rnd);
            f[i] = TestSupport.uniform(rnd);
            dOut[i] = TestSupport.uniform(rnd);
        }
        for (int j = 0; j < cols; j++) bias[j] = TestSupport.uniform(rnd);
        float[] dx = new float[rows * cols], df = new float[rows * cols], dbias = new float[cols];
        ResidualAdd.backward(rows, cols, alpha, dOut, 0, cols, dx, 0, cols, df, 0, cols, dbias, 0);

        double h = 1e-3; // the loss is linear: the difference quotient is exact up to rounding
        for (double[] input : new double[][] {x, f, bias}) {
            float[] got = input == x ? dx : input == f ? df : dbias;
            String name = input == x ? "dx" : input == f ? "df" : "dbias";
            for (int i = 0; i < input.length; i++) {
                double saved = input[i];
                input[i] = saved + h;
                double plus = loss(rows, cols, alpha, x, f, bias, dOut);
                input[i] = saved - h;
                double minus = loss(rows, cols, alpha, x, f, bias, dOut);
                input[i] = saved;
                double fd = (plus - minus) / (2 * h);
                if (!(Math.abs(got[i] - fd) <= 1e-6 * (1 + Math.abs(fd)))) {
                    fail("%s[%d] = %s but central difference gives %s (alpha=%s)", name, i, got[i], fd, alpha);
                }
            }
        }
    }

    static Stream<Float> alphas() {
        return Stream.of(1f, -0.75f, 2.5f);
    }

    /** All three gradients ADD into what is already there. */
    @Test
    void backwardAccumulates() {
        int rows = 4, cols = 3 * L + 1;
        SplittableRandom rnd = new SplittableRandom(106);
        float[] dy = new float[rows * cols], dx0 = new float[rows * cols], df0 = new float[rows * cols];
        float[] db0 = new float[cols];
        for (int i = 0; i < dy.length; i++) {
            dy[i] = TestSupport.uniform(rnd);
            dx0[i] = TestSupport.uniform(rnd) * 4;
            df0[i] = TestSupport.uniform(rnd) * 4;
        }
        for (int j = 0; j < cols; j++) db0[j] = TestSupport.uniform(rnd) * 4;
        float alpha = -1.5f;
        float[] dx = dx0.clone(), df = df0.clone(), db = db0.clone();
        ResidualAdd.backward(rows, cols, alpha, dy, 0, cols, dx, 0, cols, df, 0, cols, db, 0);
        for (int i = 0; i < dy.length; i++) {
            assertThat(dx[i]).as("dx[%d]", i).isEqualTo(dx0[i] + dy[i]); // one float add, exactly
            double want = df0[i] + (double) alpha * dy[i];
            assertThat((double) df[i]).as("df[%d]", i).isCloseTo(want, org.assertj.core.data.Offset.offset(
                    EPS * (Math.abs(df0[i]) + Math.abs(alpha * dy[i]))));
        }
        for (int j = 0; j < cols; j++) {
            double sum = 0, abs = 0;
            for (int i = 0; i < rows; i++) {
                sum += dy[i * cols + j];
                abs += Math.abs(dy[i * cols + j]);
            }
            assertThat((double) db[j]).as("dbias[%d]", j).isCloseTo(db0[j] + alpha * sum,
                    org.assertj.core.data.Offset.offset(2 * EPS * (Math.abs(db0[j]) + Math.abs(alpha) * (rows + 2) * abs)));
        }
        // twice into zeros = twice the gradient
        float[] twice = new float[cols];
        ResidualAdd.backward(rows, cols, alpha, dy, 0, cols, null, 0, 0, null, 0, 0, twice, 0);
        float once = twice[0];
        ResidualAdd.backward(rows, cols, alpha, dy, 0, cols, null, 0, 0, null, 0, 0, twice, 0);
        assertThat((double) twice[0]).isCloseTo(2.0 * once, org.assertj.core.data.Offset.offset(4 * EPS * Math.abs(once)));
    }

    /**
     * The contract lets y alias x or f only; bias is a (cols) vector broadcast over every row. If y's
     * first row occupies the very storage of bias (yOff == biasOff, ldy == cols), writing row 0 would
     * change the bias that rows 1.. still need. The facade must either reject this (IAE, y untouched) or
     * compute the contract's y with the bias as it was on entry.
     */
    @Test
    void outputSharingStorageWithBiasIsRejectedOrHonoured() {
        int rows = 3, cols = 2 * L + 1;
        SplittableRandom rnd = new SplittableRandom(107);
        float[] x = new float[rows * cols], f = new float[rows * cols], shared = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = TestSupport.uniform(rnd);
            f[i] = TestSupport.uniform(rnd);
            shared[i] = TestSupport.uniform(rnd);
        }
        float[] bias0 = java.util.Arrays.copyOf(shared, cols);
        float[] expected = new float[rows * cols];
        ResidualAddScalar.forward(rows, cols, 0.5f, x, 0, cols, f, 0, cols, bias0, 0, expected, 0, cols);
        float[] before = shared.clone();
        Throwable t = catchThrowable(() ->
                ResidualAdd.forward(rows, cols, 0.5f, x, 0, cols, f, 0, cols, shared, 0, shared, 0, cols));
        if (t != null) {
            assertThat(t).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias");
            Bits.assertSameBits("y after the rejected call", before, shared);
            return;
        }
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                int o = i * cols + j;
                double tol = 2 * EPS * (Math.abs(x[o]) + 0.5 * (Math.abs(f[o]) + Math.abs(bias0[j]))) + Float.MIN_VALUE;
                if (!(Math.abs(shared[o] - expected[o]) <= tol)) {
                    fail("y aliasing bias (yOff == biasOff == 0, ldy == cols == %d) was accepted but y[%d][%d] = %s, "
                            + "the contract gives %s with the entry bias: row %d read a bias already overwritten "
                            + "by row 0", cols, i, j, shared[o], expected[o], i);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    @Nested
    class Rejections {
        // baseline rows=2, cols=4; forward arrays {x 8, f 8, bias 4, y 8}; backward {dy 8, dx 8, df 8, dbias 4}
        static Stream<Arguments> forwardRules() {
            return Stream.of(
                    iae("rows < 0", "rows=-1 < 0", arrays(8, 8, 4, 8), a -> fwd(-1, 4, a, 0, 4, 0, 4, 0, 0, 4)),
                    iae("cols < 0", "cols=-4 < 0", arrays(8, 8, 4, 8), a -> fwd(2, -4, a, 0, 4, 0, 4, 0, 0, 4)),
                    iae("ldx < cols", "ldx=3 < cols=4", arrays(8, 8, 4, 8), a -> fwd(2, 4, a, 0, 3, 0, 4, 0, 0, 4)),
                    iae("ldf < cols", "ldf=2 < cols=4", arrays(8, 8, 4, 8), a -> fwd(2, 4, a, 0, 4, 0, 2, 0, 0, 4)),
                    iae("ldy < cols", "ldy=3 < cols=4", arrays(8, 8, 4, 8), a -> fwd(2, 4, a, 0, 4, 0, 4, 0, 0, 3)),
                    iae("ldy = 0 with cols = 0", "ldy=0 < cols=0", arrays(8, 8, 4, 8), a -> fwd(2, 0, a, 0, 4, 0, 4, 0, 0, 0)),
                    iae("xOff < 0", "xOff=-1 < 0", arrays(8, 8, 4, 8), a -> fwd(2, 4, a, -1, 4, 0, 4, 0, 0, 4)),
                    iae("fOff < 0", "fOff=-2 < 0", arrays(8, 8, 4, 8), a -> fwd(2, 4, a, 0, 4, -2, 4, 0, 0, 4)),
                    iae("biasOff < 0", "biasOff=-1 < 0", arrays(8, 8, 4, 8), a -> fwd(2, 4, a, 0, 4, 0, 4, -1, 0, 4)),
                    iae("yOff < 0", "yOff=-3 < 0", arrays(8, 8, 4, 8), a -> fwd(2, 4, a, 0, 4, 0, 4, 0, -3, 4)),
                    iae("x too short", "x too short: xOff=0 + (2-1)*ldx=4 + 4 = 8 > x.length=7", arrays(7, 8, 4, 8),
                            a -> fwd(2, 4, a, 0, 4, 0, 4, 0, 0, 4)),
                    iae("f too short", "f too short: fOff=2 + (2-1)*ldf=4 + 4 = 10 > f.length=8", arrays(8, 8, 4, 8),
                            a -> fwd(2, 4, a, 0, 4, 2, 4, 0, 0, 4)),
                    iae("bias too short", "bias too short: biasOff=1 + 4 = 5 > bias.length=4", arrays(8, 8, 4, 8),
                            a -> fwd(2, 4, a, 0, 4, 0, 4, 1, 0, 4)),
                    iae("bias offset overflows int", "= 2147483651 > bias.length=4", arrays(8, 8, 4, 8),
                            a -> fwd(2, 4, a, 0, 4, 0, 4, Integer.MAX_VALUE, 0, 4)),
                    iae("y too short", "y too short: yOff=0 + (2-1)*ldy=5 + 4 = 9 > y.length=8", arrays(8, 8, 4, 8),
                            a -> fwd(2, 4, a, 0, 4, 0, 4, 0, 0, 5)),
                    iae("extent overflows int", "= 4294901761 > x.length=8", arrays(8, 8, 4, 8),
                            a -> ResidualAdd.forward(65536, 1, a[0], 0, 65536, a[1], 0, 1, a[3], 0, 1)),
                    npe("x is null", "x is null", arrays(8, 8, 4, 8),
                            a -> ResidualAdd.forward(2, 4, 1f, null, 0, 4, a[1], 0, 4, a[2], 0, a[3], 0, 4)),
                    npe("f is null", "f is null", arrays(8, 8, 4, 8),
                            a -> ResidualAdd.forward(2, 4, 1f, a[0], 0, 4, null, 0, 4, a[2], 0, a[3], 0, 4)),
                    npe("y is null", "y is null", arrays(8, 8, 4, 8),
                            a -> ResidualAdd.forward(2, 4, 1f, a[0], 0, 4, a[1], 0, 4, a[2], 0, null, 0, 4)),
                    iae("y overlaps x", "y overlaps x in the same array: y [off=1, 2 x stride 4, width 4] = elements [1, 9)", arrays(12, 8, 4),
                            a -> ResidualAdd.forward(2, 4, 1f, a[0], 0, 4, a[1], 0, 4, a[2], 0, a[0], 1, 4)),
                    iae("y overlaps f", "y overlaps f", arrays(8, 12, 4),
                            a -> ResidualAdd.forward(2, 4, 1f, a[0], 0, 4, a[1], 4, 4, a[2], 0, a[1], 0, 4)),
                    iae("y overlaps bias", "y overlaps bias", arrays(8, 8, 12),
                            a -> ResidualAdd.forward(2, 4, 1f, a[0], 0, 4, a[1], 0, 4, a[2], 2, a[2], 0, 4)));
        }

        private static void fwd(int rows, int cols, float[][] a, int xOff, int ldx, int fOff, int ldf, int biasOff,
                                int yOff, int ldy) {
            ResidualAdd.forward(rows, cols, 0.5f, a[0], xOff, ldx, a[1], fOff, ldf, a[2], biasOff, a[3], yOff, ldy);
        }

        static Stream<Arguments> backwardRules() {
            return Stream.of(
                    iae("rows < 0", "rows=-2 < 0", arrays(8, 8, 8, 4), a -> bwd(-2, 4, a, 0, 4, 0, 4, 0, 4, 0)),
                    iae("cols < 0", "cols=-1 < 0", arrays(8, 8, 8, 4), a -> bwd(2, -1, a, 0, 4, 0, 4, 0, 4, 0)),
                    iae("lddy < cols", "lddy=3 < cols=4", arrays(8, 8, 8, 4), a -> bwd(2, 4, a, 0, 3, 0, 4, 0, 4, 0)),
                    iae("lddx < cols", "lddx=3 < cols=4", arrays(8, 8, 8, 4), a -> bwd(2, 4, a, 0, 4, 0, 3, 0, 4, 0)),
                    iae("lddf < cols", "lddf=1 < cols=4", arrays(8, 8, 8, 4), a -> bwd(2, 4, a, 0, 4, 0, 4, 0, 1, 0)),
                    iae("dyOff < 0", "dyOff=-1 < 0", arrays(8, 8, 8, 4), a -> bwd(2, 4, a, -1, 4, 0, 4, 0, 4, 0)),
                    iae("dxOff < 0", "dxOff=-1 < 0", arrays(8, 8, 8, 4), a -> bwd(2, 4, a, 0, 4, -1, 4, 0, 4, 0)),
                    iae("dfOff < 0", "dfOff=-1 < 0", arrays(8, 8, 8, 4), a -> bwd(2, 4, a, 0, 4, 0, 4, -1, 4, 0)),
                    iae("dbiasOff < 0", "dbiasOff=-1 < 0", arrays(8, 8, 8, 4), a -> bwd(2, 4, a, 0, 4, 0, 4, 0, 4, -1)),
                    iae("dy too short", "dy too short: dyOff=0 + (2-1)*lddy=4 + 4 = 8 > dy.length=7", arrays(7, 8, 8, 4),
                            a -> bwd(2, 4, a, 0, 4, 0, 4, 0, 4, 0)),
                    iae("dx too short", "dx too short: dxOff=1 + (2-1)*lddx=4 + 4 = 9 > dx.length=8", arrays(8, 8, 8, 4),
                            a -> bwd(2, 4, a, 0, 4, 1, 4, 0, 4, 0)),
                    iae("df too short", "df too short: dfOff=0 + (2-1)*lddf=4 + 4 = 8 > df.length=6", arrays(8, 8, 6, 4),
                            a -> bwd(2, 4, a, 0, 4, 0, 4, 0, 4, 0)),
                    iae("dbias too short", "dbias too short: dbiasOff=1 + 4 = 5 > dbias.length=4", arrays(8, 8, 8, 4),
                            a -> bwd(2, 4, a, 0, 4, 0, 4, 0, 4, 1)),
                    iae("extent overflows int", "= 4294901761 > dy.length=8", arrays(8, 8, 8, 4),
                            a -> ResidualAdd.backward(65536, 1, 1f, a[0], 0, 65536, null, 0, 1, null, 0, 1, null, 0)),
                    npe("dy is null", "dy is null", arrays(8, 8, 8, 4),
                            a -> ResidualAdd.backward(2, 4, 1f, null, 0, 4, a[1], 0, 4, a[2], 0, 4, a[3], 0)),
                    iae("dx overlaps dy", "dx overlaps dy", arrays(12, 8, 4),
                            a -> ResidualAdd.backward(2, 4, 1f, a[0], 0, 4, a[0], 2, 4, a[1], 0, 4, a[2], 0)),
                    iae("df overlaps dy", "df overlaps dy", arrays(12, 8, 4),
                            a -> ResidualAdd.backward(2, 4, 1f, a[0], 4, 4, a[1], 0, 4, a[0], 0, 4, a[2], 0)),
                    iae("df overlaps dx", "df overlaps dx", arrays(8, 12, 4),
                            a -> ResidualAdd.backward(2, 4, 1f, a[0], 0, 4, a[1], 0, 4, a[1], 3, 4, a[2], 0)),
                    iae("dbias shares storage with dy", "dbias overlaps dy in the same array: dbias [off=2, width 4] = elements [2, 6), dy [off=0, 2 x stride 4, width 4] = elements [0, 8)",
                            arrays(8, 8, 8),
                            a -> ResidualAdd.backward(2, 4, 1f, a[0], 0, 4, a[1], 0, 4, a[2], 0, 4, a[0], 2)));
        }

        private static void bwd(int rows, int cols, float[][] a, int dyOff, int lddy, int dxOff, int lddx, int dfOff,
                                int lddf, int dbiasOff) {
            ResidualAdd.backward(rows, cols, 0.5f, a[0], dyOff, lddy, a[1], dxOff, lddx, a[2], dfOff, lddf, a[3], dbiasOff);
        }

        @ParameterizedTest(name = "forward: {0}")
        @MethodSource("forwardRules")
        void forwardRejected(Rejection rule) {
            rule.verify();
        }

        @ParameterizedTest(name = "backward: {0}")
        @MethodSource("backwardRules")
        void backwardRejected(Rejection rule) {
            rule.verify();
        }
    }
}
