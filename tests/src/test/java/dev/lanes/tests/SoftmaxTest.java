package dev.lanes.tests;

import static dev.lanes.tests.Rejection.arrays;
import static dev.lanes.tests.Rejection.iae;
import static dev.lanes.tests.Rejection.npe;
import static dev.lanes.tests.TestSupport.EPS;
import static dev.lanes.tests.TestSupport.L;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.SoftmaxScalar;
import dev.lanes.tests.KernelCases.SoftmaxAlias;
import dev.lanes.tests.KernelCases.SoftmaxBackwardCase;
import dev.lanes.tests.KernelCases.SoftmaxCase;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Softmax} against {@link SoftmaxScalar} (ulp-scaled bounds growing with the row length), the
 * contract's edge rows (fully masked, +inf, near Float.MAX_VALUE, causal offsets), central finite
 * differences in double for the backward pass, and one test per validation rule.
 */
class SoftmaxTest {
    private static final float NEG_INF = Float.NEGATIVE_INFINITY, POS_INF = Float.POSITIVE_INFINITY;

    @BeforeAll
    static void warmUp() {
        TestSupport.warmUp();
    }

    static int[] cols() {
        return GemmTest.distinct(0, 1, 2, L - 1, L, L + 1, 2 * L + 1, 7, 13, 31, 47, 97, 4 * L + 3, 100, 257, 1000);
    }

    /** The configurations every shape is run through: overloads, scale, masks, causal offsets, in place. */
    private static SoftmaxCase config(int which, int rows, int cols, SplittableRandom rnd) {
        SoftmaxCase base = SoftmaxCase.of(rows, cols, 1f, false, 0, false, false, rnd);
        SoftmaxCase inPlace = SoftmaxCase.of(rows, cols, 1f, false, 0, false, true, rnd);
        return switch (which) {
            case 0 -> with(base, 1f, false, 0, false, 1);                 // forward(rows, cols, x, y)
            case 1 -> with(base, 0.125f, false, 0, false, 2);             // forward(rows, cols, scale, x, y)
            case 2 -> with(base, 3f, false, 0, false, 0);
            case 3 -> with(base, 1f, false, 0, true, 0);                  // additive mask with some -inf
            case 4 -> with(base, 1f, true, 0, false, 0);                  // causal, PyTorch is_causal
            case 5 -> with(base, 0.7f, true, -1, true, 0);                // row 0 fully masked
            case 6 -> with(base, 0.5f, true, cols - rows, false, 0);      // bottom-right aligned
            case 7 -> with(base, 1f, true, -rows, true, 0);               // every row fully masked
            case 8 -> with(base, 2f, true, cols + 3, true, 0);            // nothing hidden
            case 9 -> with(inPlace, 1.5f, true, 0, true, 0);
            case 10 -> with(inPlace, 1f, false, 0, false, 1);
            default -> throw new IllegalArgumentException();
        };
    }

    private static final int CONFIGS = 11;

    private static SoftmaxCase with(SoftmaxCase c, float scale, boolean causal, int offset, boolean mask, int overload) {
        return new SoftmaxCase(c.rows(), c.cols(), scale, causal, offset, mask, mask ? 0.2 : 0, c.xOff(), c.ldx(),
                c.yOff(), c.ldy(), c.maskOff(), c.ldmask(), c.inPlace(), c.range(), 0, overload == 0, overload);
    }

    /** Every (rows, cols, configuration), twice: the second pass runs code compiled with the first's profile. */
    @Test
    void forwardMatchesScalarTwin() {
        for (int pass = 0; pass < 2; pass++) {
            SplittableRandom rnd = new SplittableRandom(11);
            for (int rows : new int[] {1, 3, 7}) {
                for (int cols : cols()) {
                    for (int which = 0; which < CONFIGS; which++) {
                        config(which, rows, cols, rnd).check(rnd);
                    }
                }
            }
        }
    }

    /** x and y of 160 x 2053 floats (1.3 MB each): larger than the 1 MiB L2. */
    @Test
    void forwardLargerThanL2() {
        SplittableRandom rnd = new SplittableRandom(12);
        for (int which : new int[] {0, 3, 6, 9}) {
            config(which, 160, 2053, rnd).check(rnd);
        }
    }

    /** Logits over a wide range, with a share of +-inf and near-MAX_VALUE entries. */
    @Test
    void forwardWideRangeAndInfinities() {
        SplittableRandom rnd = new SplittableRandom(13);
        for (int cols : cols()) {
            for (float range : new float[] {50f, 1e4f}) {
                for (double inf : new double[] {0.05, 0.3}) {
                    SoftmaxCase c = SoftmaxCase.of(5, cols, 1f, false, 0, false, false, rnd);
                    for (float scale : new float[] {1f, 2.5f}) {
                        for (boolean mask : new boolean[] {false, true}) {
                            new SoftmaxCase(5, cols, scale, mask, 1, mask, 0.1, c.xOff(), c.ldx(), c.yOff(), c.ldy(),
                                    c.maskOff(), c.ldmask(), false, range, inf, true, 0).check(rnd);
                        }
                    }
                }
            }
        }
    }

    @Test
    void backwardMatchesScalarTwin() {
        for (int pass = 0; pass < 2; pass++) {
            SplittableRandom rnd = new SplittableRandom(21);
            for (int rows : new int[] {1, 3, 7}) {
                for (int cols : cols()) {
                    for (SoftmaxAlias alias : SoftmaxAlias.values()) {
                        for (float scale : new float[] {1f, 0.5f, 2.5f}) {
                            SoftmaxBackwardCase.of(rows, cols, scale, alias, rnd).check(rnd);
                        }
                    }
                }
            }
        }
    }

    @Test
    void backwardLargerThanL2() {
        SplittableRandom rnd = new SplittableRandom(22);
        for (SoftmaxAlias alias : SoftmaxAlias.values()) {
            SoftmaxBackwardCase.of(160, 2053, 0.75f, alias, rnd).check(rnd);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Edge rows from the contract. Outputs start as NaN so that every element must be written.

    private static float[] softmax(int rows, int cols, float scale, boolean causal, int offset, float[] mask, float[] x) {
        float[] y = new float[rows * cols];
        Arrays.fill(y, Float.NaN);
        Softmax.forward(rows, cols, scale, causal, offset, mask, 0, cols, x, 0, cols, y, 0, cols);
        return y;
    }

    private static float[] row(float[] y, int cols, int i) {
        return Arrays.copyOfRange(y, i * cols, (i + 1) * cols);
    }

    static int[] edgeCols() {
        return GemmTest.distinct(1, 2, L - 1, L, L + 1, 2 * L + 1, 100);
    }

    @Test
    void fullyMaskedRowsGiveZerosNeverNaN() {
        SplittableRandom rnd = new SplittableRandom(31);
        for (int cols : edgeCols()) {
            int rows = 4;
            float[] x = new float[rows * cols];
            for (int i = 0; i < x.length; i++) x[i] = TestSupport.uniform(rnd) * 3;

            // causal offset -2: rows 0 and 1 keep no column at all, row 2 only column 0
            float[] y = softmax(rows, cols, 1f, true, -2, null, x);
            assertThat(row(y, cols, 0)).containsOnly(0f);
            assertThat(row(y, cols, 1)).containsOnly(0f);
            assertThat(y[2 * cols]).isEqualTo(1f);
            for (int j = 1; j < cols; j++) assertThat(y[2 * cols + j]).isEqualTo(0f);

            // a mask row entirely -inf, with and without causal
            float[] mask = new float[rows * cols];
            Arrays.fill(mask, 0, cols, NEG_INF);
            for (boolean causal : new boolean[] {false, true}) {
                y = softmax(rows, cols, 2f, causal, cols, mask, x);
                assertThat(row(y, cols, 0)).as("mask all -inf, cols=%d", cols).containsOnly(0f);
                assertThat(y).doesNotContain(Float.NaN);
            }

            // inputs all -inf (scaled -inf stays -inf), with and without a finite mask
            float[] xi = x.clone();
            Arrays.fill(xi, cols, 2 * cols, NEG_INF);
            Arrays.fill(mask, 0f);
            for (float[] mk : new float[][] {null, mask}) {
                y = softmax(rows, cols, 0.5f, false, 0, mk, xi);
                assertThat(row(y, cols, 1)).as("x all -inf, cols=%d", cols).containsOnly(0f);
                assertThat(y).doesNotContain(Float.NaN);
            }

            // x -inf in one half, mask -inf in the other: together everything
            float[] xh = x.clone();
            float[] mh = new float[rows * cols];
            for (int j = 0; j < cols; j++) {
                if (j % 2 == 0) xh[3 * cols + j] = NEG_INF; else mh[3 * cols + j] = NEG_INF;
            }
            y = softmax(rows, cols, 1f, false, 0, mh, xh);
            assertThat(row(y, cols, 3)).containsOnly(0f);
        }
    }

    @Test
    void plusInfinityEntriesShareTheMassUniformly() {
        for (int cols : edgeCols()) {
            if (cols < 5) continue; // three distinct +inf positions plus a -inf at column 1
            float[] x = new float[2 * cols];
            for (int j = 0; j < 2 * cols; j++) x[j] = (j % 5) - 2f;
            int[] infAt = {0, cols / 2, cols - 1};
            for (int j : infAt) x[j] = POS_INF;
            x[1] = NEG_INF;
            for (boolean masked : new boolean[] {false, true}) {
                float[] mask = masked ? new float[2 * cols] : null;
                if (masked) {
                    Arrays.fill(mask, 0.5f);
                    mask[cols - 1] = NEG_INF; // -inf in the mask beats +inf in x
                }
                float[] y = softmax(2, cols, 1.5f, false, 0, mask, x);
                int count = masked ? 2 : 3;
                for (int j = 0; j < cols; j++) {
                    boolean inf = (j == 0 || j == cols / 2 || j == cols - 1) && !(masked && j == cols - 1);
                    if (inf) {
                        assertThat(y[j]).as("cols=%d j=%d", cols, j).isCloseTo(1f / count, org.assertj.core.data.Offset.offset(1e-7f));
                    } else {
                        assertThat(y[j]).as("cols=%d j=%d", cols, j).isEqualTo(0f);
                    }
                }
                // causal hiding the last +inf leaves two
                y = softmax(2, cols, 1f, true, cols - 2, null, x);
                assertThat(y[0]).isCloseTo(0.5f, org.assertj.core.data.Offset.offset(1e-7f));
                assertThat(y[cols / 2]).isCloseTo(0.5f, org.assertj.core.data.Offset.offset(1e-7f));
                assertThat(y[cols - 1]).isEqualTo(0f);
            }
        }
    }

    @Test
    void magnitudesNearMaxValueGiveNoNaN() {
        float max = Float.MAX_VALUE;
        for (int cols : edgeCols()) {
            if (cols < 5) continue;
            float[] x = new float[cols];
            for (int j = 0; j < cols; j++) x[j] = -max + j; // huge negative everywhere
            x[0] = 3e38f;
            x[1] = max;
            x[2] = -3e38f;
            x[3] = 1e38f;
            x[cols - 1] = 3.2e38f;
            // scale 2 overflows 3e38, MAX and 3.2e38 to +inf: uniform over those three
            float[] y = softmax(1, cols, 2f, false, 0, null, x);
            assertThat(y).doesNotContain(Float.NaN);
            assertThat(y[0]).isCloseTo(1f / 3, org.assertj.core.data.Offset.offset(1e-7f));
            assertThat(y[1]).isCloseTo(1f / 3, org.assertj.core.data.Offset.offset(1e-7f));
            assertThat(y[cols - 1]).isCloseTo(1f / 3, org.assertj.core.data.Offset.offset(1e-7f));
            // scale 1: finite; MAX dominates completely, -MAX - MAX overflows in z - max: must give 0, not NaN
            y = softmax(1, cols, 1f, false, 0, null, x);
            assertThat(y).doesNotContain(Float.NaN);
            assertThat(y[1]).isEqualTo(1f);
            // scale 1e-38 brings everything near 0..3.4: a proper, finite distribution
            y = softmax(1, cols, 1e-38f, false, 0, null, x);
            assertThat(y).doesNotContain(Float.NaN);
            double sum = 0;
            for (float v : y) sum += v;
            assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(cols * 4 * EPS));
            // with a mask adding to a near-MAX value (no overflow) and -inf elsewhere
            float[] mask = new float[cols];
            Arrays.fill(mask, NEG_INF);
            mask[1] = 1f;
            mask[3] = -1f;
            y = softmax(1, cols, 1f, false, 0, mask, x);
            assertThat(y).doesNotContain(Float.NaN);
            assertThat(y[1]).isEqualTo(1f);
        }
    }

    /** Row i keeps j <= i + offset; offsets past the int range must not wrap. */
    @Test
    void causalOffsets() {
        int rows = 5, cols = 2 * L + 3;
        SplittableRandom rnd = new SplittableRandom(33);
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = TestSupport.uniform(rnd) * 2;
        for (int offset : new int[] {0, -1, 1, cols - rows, -rows, -rows + 1, cols, 1000,
                Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE - 2, Integer.MIN_VALUE + 3}) {
            float[] y = softmax(rows, cols, 1f, true, offset, null, x);
            for (int i = 0; i < rows; i++) {
                long visible = Math.max(0, Math.min(cols, (long) i + offset + 1));
                double sum = 0;
                for (int j = 0; j < cols; j++) {
                    float v = y[i * cols + j];
                    if (j < visible) {
                        assertThat(v).as("offset=%d row %d col %d visible", offset, i, j).isGreaterThan(0f);
                    } else {
                        assertThat(v).as("offset=%d row %d col %d hidden", offset, i, j).isEqualTo(0f);
                    }
                    sum += v;
                }
                assertThat(sum).as("offset=%d row %d sum", offset, i)
                        .isCloseTo(visible == 0 ? 0 : 1, org.assertj.core.data.Offset.offset(cols * 4 * EPS));
            }
        }
    }

    /** The contract never reads x where the causal mask or a -inf mask hides it: NaN there is harmless. */
    @Test
    void hiddenEntriesAreNotRead() {
        for (int cols : edgeCols()) {
            int rows = 3;
            float[] x = new float[rows * cols];
            float[] mask = new float[rows * cols];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    x[i * cols + j] = j > i ? Float.NaN : j * 0.25f; // hidden by causal offset 0
                }
            }
            float[] y = softmax(rows, cols, 1f, true, 0, null, x);
            assertThat(y).as("cols=%d, causal", cols).doesNotContain(Float.NaN);
            Arrays.fill(mask, 0.25f);
            for (int i = 0; i < rows * cols; i++) {
                if (Float.isNaN(x[i])) mask[i] = NEG_INF;
            }
            y = softmax(rows, cols, 1f, false, 0, mask, x);
            assertThat(y).as("cols=%d, -inf mask", cols).doesNotContain(Float.NaN);
        }
    }

    /** In place (y == x, same offset and ld), including the edge rows; padding around the block survives. */
    @Test
    void inPlaceIncludingEdgeRows() {
        int cols = 2 * L + 1, ld = cols + 3, off = 2, rows = 4;
        float[] data = TestSupport.sentinels(off + (rows - 1) * ld + cols + 2);
        SplittableRandom rnd = new SplittableRandom(34);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) data[off + i * ld + j] = TestSupport.uniform(rnd);
        }
        for (int j = 0; j < cols; j++) data[off + ld + j] = NEG_INF;     // row 1: all -inf
        data[off + 2 * ld + 3] = POS_INF;                                  // row 2: one +inf
        float[] before = data.clone();
        float[] ref = TestSupport.sentinels(data.length);
        SoftmaxScalar.forward(rows, cols, 1f, false, 0, null, 0, 0, before.clone(), off, ld, ref, off, ld);
        Softmax.forward(rows, cols, data, off, ld, data, off, ld);
        double[] bound = new double[data.length];
        boolean[] in = TestSupport.inside(data.length, new TestSupport.Region(off, rows, cols, ld));
        for (int i = 0; i < data.length; i++) bound[i] = KernelCases.softmaxBound(ref[i], cols);
        TestSupport.assertArray("in-place y", data, before, in, ref, bound);
        assertThat(data[off + 2 * ld + 3]).isEqualTo(1f);
    }

    /** A null mask makes maskOff and ldmask irrelevant (they are not validated). */
    @Test
    void nullMaskIgnoresItsOffsetAndStride() {
        float[] x = {1f, 2f, 3f, 4f}, y = new float[4];
        Softmax.forward(2, 2, 1f, false, 0, null, -7, 0, x, 0, 2, y, 0, 2);
        assertThat(y[0] + y[1]).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-6f));
    }

    // ---------------------------------------------------------------------------------------------
    // Backward: central finite differences in double on the fake loss sum(y * dOut).

    /** Double-precision forward of one row, exactly the contract: z = scale*x + mask, hidden -> -inf. */
    static double[] softmaxRow(double[] x, double[] mask, double scale, int visible) {
        int n = x.length;
        double[] z = new double[n];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            boolean dead = j >= visible || (mask != null && mask[j] == Double.NEGATIVE_INFINITY);
            z[j] = dead ? Double.NEGATIVE_INFINITY : scale * x[j] + (mask == null ? 0 : mask[j]);
            max = Math.max(max, z[j]);
        }
        double[] y = new double[n];
        if (max == Double.NEGATIVE_INFINITY) return y;
        double sum = 0;
        for (int j = 0; j < n; j++) sum += (y[j] = Math.exp(z[j] - max));
        for (int j = 0; j < n; j++) y[j] /= sum;
        return y;
    }

    static Stream<Arguments> gradientConfigs() {
        // scale, causal, offset, mask kind (0 none, 1 additive finite, 2 additive with -inf)
        return Stream.of(Arguments.of(1f, false, 0, 0), Arguments.of(0.5f, false, 0, 1), Arguments.of(2.5f, true, 0, 0),
                Arguments.of(1.7f, true, -1, 2), Arguments.of(0.8f, true, 2 * L, 1), Arguments.of(3f, false, 0, 2));
    }

    @ParameterizedTest(name = "scale={0} causal={1} offset={2} mask={3}")
    @MethodSource("gradientConfigs")
    void backwardMatchesFiniteDifferences(float scale, boolean causal, int offset, int maskKind) {
        int rows = 4, cols = 2 * L + 3;
        SplittableRandom rnd = new SplittableRandom(41 + maskKind);
        float[] x = new float[rows * cols], dOut = new float[rows * cols];
        float[] mask = maskKind == 0 ? null : new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = TestSupport.uniform(rnd) * 2;
            dOut[i] = TestSupport.uniform(rnd);
            if (mask != null) mask[i] = maskKind == 2 && rnd.nextInt(4) == 0 ? NEG_INF : TestSupport.uniform(rnd);
        }
        float[] y = new float[rows * cols], dx = new float[rows * cols];
        Softmax.forward(rows, cols, scale, causal, offset, mask, 0, cols, x, 0, cols, y, 0, cols);
        Softmax.backward(rows, cols, scale, dOut, 0, cols, y, 0, cols, dx, 0, cols);

        double h = 1e-4;
        for (int i = 0; i < rows; i++) {
            int visible = causal ? (int) Math.max(0, Math.min(cols, (long) i + offset + 1)) : cols;
            double[] xr = new double[cols], mr = mask == null ? null : new double[cols];
            for (int j = 0; j < cols; j++) {
                xr[j] = x[i * cols + j];
                if (mr != null) mr[j] = mask[i * cols + j];
            }
            for (int j = 0; j < cols; j++) {
                double saved = xr[j];
                xr[j] = saved + h;
                double lossPlus = loss(softmaxRow(xr, mr, scale, visible), dOut, i * cols);
                xr[j] = saved - h;
                double lossMinus = loss(softmaxRow(xr, mr, scale, visible), dOut, i * cols);
                xr[j] = saved;
                double fd = (lossPlus - lossMinus) / (2 * h);
                float got = dx[i * cols + j];
                if (fd == 0) {
                    // masked or hidden: y == 0 there, so exactly no gradient
                    assertThat(got).as("dx[%d][%d] of a masked entry", i, j).isEqualTo(0f);
                } else if (!(Math.abs(got - fd) <= 1e-4 * Math.abs(fd) + 2e-6 * scale)) {
                    fail("dx[%d][%d] = %s but central difference gives %s (scale=%s causal=%s offset=%d mask=%d)",
                            i, j, got, fd, scale, causal, offset, maskKind);
                }
            }
        }
    }

    private static double loss(double[] y, float[] dOut, int off) {
        double s = 0;
        for (int j = 0; j < y.length; j++) s += y[j] * dOut[off + j];
        return s;
    }

    /**
     * A NaN logit makes its row NaN whatever else the row holds (finite values, +inf, only -inf), at a lane
     * or in the scalar tail, and leaves the rows around it exactly as they are alone. The kernel takes the
     * maximum of row i + 1 inside the exp pass of row i and skips NaN there, so the NaN must come back
     * through the row sum or the edge-row scan: rows before and after the NaN row are the checked cases.
     */
    @Test
    void nanPoisonsItsRowWhateverElseItHolds() {
        SplittableRandom rnd = new SplittableRandom(15);
        for (int cols : new int[] {1, L - 1, L, L + 1, 2 * L + 1, 4 * L + 3, 100}) {
            for (int kind = 0; kind < 3; kind++) {
                for (int at : new int[] {0, cols / 2, cols - 1}) {
                    int rows = 3;
                    float[] x = new float[rows * cols];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = TestSupport.uniform(rnd) * 4;
                    }
                    int r = cols;  // the middle row
                    for (int j = 0; j < cols; j++) {
                        x[r + j] = kind == 2 ? NEG_INF : x[r + j];
                    }
                    if (kind == 1) {
                        x[r + (at + 1) % cols] = POS_INF;
                    }
                    x[r + at] = Float.NaN;
                    float[] y = new float[x.length];
                    Softmax.forward(rows, cols, x, 0, cols, y, 0, cols);
                    for (int j = 0; j < cols; j++) {
                        if (!Float.isNaN(y[r + j])) {
                            fail("cols=" + cols + " kind=" + kind + " NaN at " + at + ": y[1][" + j + "] = " + y[r + j]);
                        }
                    }
                    for (int i : new int[] {0, 2}) {
                        float[] alone = new float[cols];
                        Softmax.forward(1, cols, x, i * cols, cols, alone, 0, cols);
                        Bits.assertSameBits("cols=" + cols + " kind=" + kind + " row " + i,
                                alone, Arrays.copyOfRange(y, i * cols, (i + 1) * cols));
                    }
                }
            }
        }
    }

    /** Backward adds into dx: a pre-filled dx gets the gradient added, and two calls add it twice. */
    @Test
    void backwardAccumulates() {
        int rows = 3, cols = 3 * L + 5;
        SplittableRandom rnd = new SplittableRandom(45);
        float[] x = new float[rows * cols], dy = new float[rows * cols], y = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = TestSupport.uniform(rnd) * 3;
            dy[i] = TestSupport.uniform(rnd);
        }
        Softmax.forward(rows, cols, 1.3f, x, 0, cols, y, 0, cols);
        float[] g = new float[rows * cols];
        Softmax.backward(rows, cols, 1.3f, dy, 0, cols, y, 0, cols, g, 0, cols);
        float[] d0 = new float[rows * cols];
        for (int i = 0; i < d0.length; i++) d0[i] = TestSupport.uniform(rnd) * 2;
        float[] d = d0.clone();
        Softmax.backward(rows, cols, 1.3f, dy, 0, cols, y, 0, cols, d, 0, cols);
        float[] twice = new float[rows * cols];
        Softmax.backward(rows, cols, 1.3f, dy, 0, cols, y, 0, cols, twice, 0, cols);
        Softmax.backward(rows, cols, 1.3f, dy, 0, cols, y, 0, cols, twice, 0, cols);
        for (int i = 0; i < d.length; i++) {
            double tol = 4 * EPS * (Math.abs(d0[i]) + Math.abs(g[i])) + 1e-7 * Math.abs(g[i]);
            assertThat((double) d[i]).as("dx0 + g at %d", i).isCloseTo((double) d0[i] + g[i],
                    org.assertj.core.data.Offset.offset(tol));
            assertThat((double) twice[i]).as("g + g at %d", i).isCloseTo(2.0 * g[i],
                    org.assertj.core.data.Offset.offset(4 * EPS * Math.abs(g[i]) + 1e-12));
        }
    }

    // ---------------------------------------------------------------------------------------------

    @Nested
    class Rejections {
        // baseline: rows=2, cols=4, every array 8 long; forward arrays {x, mask, y}, backward {dy, y, dx}
        static Stream<Arguments> forwardRules() {
            return Stream.of(
                    iae("rows < 0", "rows=-1 < 0", arrays(8, 8, 8), a -> fwd(-1, 4, 1f, a, 0, 4, 0, 4, 0, 4)),
                    iae("cols < 0", "cols=-1 < 0", arrays(8, 8, 8), a -> fwd(2, -1, 1f, a, 0, 4, 0, 4, 0, 4)),
                    iae("scale = 0", "scale=0.0 must be finite and > 0", arrays(8, 8, 8), a -> fwd(2, 4, 0f, a, 0, 4, 0, 4, 0, 4)),
                    iae("scale = -0", "scale=-0.0 must be finite and > 0", arrays(8, 8, 8), a -> fwd(2, 4, -0f, a, 0, 4, 0, 4, 0, 4)),
                    iae("scale < 0", "scale=-2.0 must be finite and > 0", arrays(8, 8, 8), a -> fwd(2, 4, -2f, a, 0, 4, 0, 4, 0, 4)),
                    iae("scale NaN", "scale=NaN must be finite and > 0", arrays(8, 8, 8), a -> fwd(2, 4, Float.NaN, a, 0, 4, 0, 4, 0, 4)),
                    iae("scale +inf", "scale=Infinity must be finite and > 0", arrays(8, 8, 8), a -> fwd(2, 4, POS_INF, a, 0, 4, 0, 4, 0, 4)),
                    iae("ldx < cols", "ldx=3 < cols=4", arrays(8, 8, 8), a -> fwd(2, 4, 1f, a, 0, 3, 0, 4, 0, 4)),
                    iae("ldmask < cols", "ldmask=3 < cols=4", arrays(8, 8, 8), a -> fwd(2, 4, 1f, a, 0, 4, 0, 3, 0, 4)),
                    iae("ldy < cols", "ldy=2 < cols=4", arrays(8, 8, 8), a -> fwd(2, 4, 1f, a, 0, 4, 0, 4, 0, 2)),
                    iae("ldx = 0 with cols = 0", "ldx=0 < cols=0", arrays(8, 8, 8), a -> fwd(2, 0, 1f, a, 0, 0, 0, 4, 0, 4)),
                    iae("xOff < 0", "xOff=-1 < 0", arrays(8, 8, 8), a -> fwd(2, 4, 1f, a, -1, 4, 0, 4, 0, 4)),
                    iae("maskOff < 0", "maskOff=-2 < 0", arrays(8, 8, 8), a -> fwd(2, 4, 1f, a, 0, 4, -2, 4, 0, 4)),
                    iae("yOff < 0", "yOff=-3 < 0", arrays(8, 8, 8), a -> fwd(2, 4, 1f, a, 0, 4, 0, 4, -3, 4)),
                    iae("x too short", "x too short: xOff=0 + (2-1)*ldx=4 + 4 = 8 > x.length=7", arrays(7, 8, 8),
                            a -> fwd(2, 4, 1f, a, 0, 4, 0, 4, 0, 4)),
                    iae("mask too short", "mask too short: maskOff=1 + (2-1)*ldmask=4 + 4 = 9 > mask.length=8",
                            arrays(8, 8, 8), a -> fwd(2, 4, 1f, a, 0, 4, 1, 4, 0, 4)),
                    iae("y too short", "y too short: yOff=0 + (2-1)*ldy=4 + 4 = 8 > y.length=7", arrays(8, 8, 7),
                            a -> fwd(2, 4, 1f, a, 0, 4, 0, 4, 0, 4)),
                    iae("extent overflows int", "= 4294901761 > x.length=10", arrays(10, 8, 8),
                            a -> Softmax.forward(65536, 1, a[0], 0, 65536, a[2], 0, 1)),
                    npe("x is null", "x is null", arrays(8, 8, 8),
                            a -> Softmax.forward(2, 4, 1f, false, 0, a[1], 0, 4, null, 0, 4, a[2], 0, 4)),
                    npe("y is null", "y is null", arrays(8, 8, 8),
                            a -> Softmax.forward(2, 4, 1f, false, 0, a[1], 0, 4, a[0], 0, 4, null, 0, 4)),
                    iae("y overlaps x", "y overlaps x in the same array: y [off=2, 2 x stride 4, width 4] = elements [2, 10)", arrays(12),
                            a -> Softmax.forward(2, 4, a[0], 0, 4, a[0], 2, 4)),
                    iae("y overlaps x: same offset, other ld", "y overlaps x", arrays(12),
                            a -> Softmax.forward(2, 4, a[0], 0, 4, a[0], 0, 5)),
                    iae("y overlaps mask", "y overlaps mask", arrays(8, 12),
                            a -> Softmax.forward(2, 4, 1f, false, 0, a[1], 0, 4, a[0], 0, 4, a[1], 3, 4)));
        }

        private static void fwd(int rows, int cols, float scale, float[][] a, int xOff, int ldx, int maskOff, int ldmask,
                                int yOff, int ldy) {
            Softmax.forward(rows, cols, scale, true, 0, a[1], maskOff, ldmask, a[0], xOff, ldx, a[2], yOff, ldy);
        }

        static Stream<Arguments> backwardRules() {
            return Stream.of(
                    iae("rows < 0", "rows=-1 < 0", arrays(8, 8, 8), a -> bwd(-1, 4, 1f, a, 0, 4, 0, 4, 0, 4)),
                    iae("cols < 0", "cols=-5 < 0", arrays(8, 8, 8), a -> bwd(2, -5, 1f, a, 0, 4, 0, 4, 0, 4)),
                    iae("scale = 0", "scale=0.0 must be finite and > 0", arrays(8, 8, 8), a -> bwd(2, 4, 0f, a, 0, 4, 0, 4, 0, 4)),
                    iae("scale NaN", "scale=NaN", arrays(8, 8, 8), a -> bwd(2, 4, Float.NaN, a, 0, 4, 0, 4, 0, 4)),
                    iae("scale -inf", "scale=-Infinity", arrays(8, 8, 8), a -> bwd(2, 4, NEG_INF, a, 0, 4, 0, 4, 0, 4)),
                    iae("lddy < cols", "lddy=3 < cols=4", arrays(8, 8, 8), a -> bwd(2, 4, 1f, a, 0, 3, 0, 4, 0, 4)),
                    iae("ldy < cols", "ldy=1 < cols=4", arrays(8, 8, 8), a -> bwd(2, 4, 1f, a, 0, 4, 0, 1, 0, 4)),
                    iae("lddx < cols", "lddx=2 < cols=4", arrays(8, 8, 8), a -> bwd(2, 4, 1f, a, 0, 4, 0, 4, 0, 2)),
                    iae("dyOff < 0", "dyOff=-1 < 0", arrays(8, 8, 8), a -> bwd(2, 4, 1f, a, -1, 4, 0, 4, 0, 4)),
                    iae("yOff < 0", "yOff=-1 < 0", arrays(8, 8, 8), a -> bwd(2, 4, 1f, a, 0, 4, -1, 4, 0, 4)),
                    iae("dxOff < 0", "dxOff=-1 < 0", arrays(8, 8, 8), a -> bwd(2, 4, 1f, a, 0, 4, 0, 4, -1, 4)),
                    iae("dy too short", "dy too short: dyOff=1 + (2-1)*lddy=4 + 4 = 9 > dy.length=8", arrays(8, 8, 8),
                            a -> bwd(2, 4, 1f, a, 1, 4, 0, 4, 0, 4)),
                    iae("y too short", "y too short: yOff=0 + (2-1)*ldy=4 + 4 = 8 > y.length=6", arrays(8, 6, 8),
                            a -> bwd(2, 4, 1f, a, 0, 4, 0, 4, 0, 4)),
                    iae("dx too short", "dx too short: dxOff=0 + (2-1)*lddx=5 + 4 = 9 > dx.length=8", arrays(8, 8, 8),
                            a -> bwd(2, 4, 1f, a, 0, 4, 0, 4, 0, 5)),
                    npe("dy is null", "dy is null", arrays(8, 8, 8),
                            a -> Softmax.backward(2, 4, 1f, null, 0, 4, a[1], 0, 4, a[2], 0, 4)),
                    npe("y is null", "y is null", arrays(8, 8, 8),
                            a -> Softmax.backward(2, 4, 1f, a[0], 0, 4, null, 0, 4, a[2], 0, 4)),
                    npe("dx is null", "dx is null", arrays(8, 8, 8),
                            a -> Softmax.backward(2, 4, 1f, a[0], 0, 4, a[1], 0, 4, null, 0, 4)),
                    iae("dx overlaps dy", "dx overlaps dy", arrays(12, 8),
                            a -> Softmax.backward(2, 4, 1f, a[0], 0, 4, a[1], 0, 4, a[0], 1, 4)),
                    iae("dx overlaps y", "dx overlaps y", arrays(8, 12),
                            a -> Softmax.backward(2, 4, 1f, a[0], 0, 4, a[1], 4, 4, a[1], 0, 4)));
        }

        private static void bwd(int rows, int cols, float scale, float[][] a, int dyOff, int lddy, int yOff, int ldy,
                                int dxOff, int lddx) {
            Softmax.backward(rows, cols, scale, a[0], dyOff, lddy, a[1], yOff, ldy, a[2], dxOff, lddx);
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
