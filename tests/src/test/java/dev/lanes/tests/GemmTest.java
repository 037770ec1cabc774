package dev.lanes.tests;

import static dev.lanes.kernels.Transpose.N;
import static dev.lanes.kernels.Transpose.T;
import static dev.lanes.tests.Rejection.arrays;
import static dev.lanes.tests.Rejection.iae;
import static dev.lanes.tests.Rejection.npe;
import static dev.lanes.tests.TestSupport.EPS;
import static dev.lanes.tests.TestSupport.L;
import static dev.lanes.tests.TestSupport.TILING;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.GemmScalar;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Transpose;
import dev.lanes.tests.KernelCases.GemmCase;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Gemm} against its scalar twin {@link GemmScalar} (differential, per-element bound
 * {@code 2 (k+4) eps (|alpha| sum|a b| + |beta c|)}), the BLIS identity check on large products, BLAS
 * edge semantics and one test per validation rule.
 */
class GemmTest {
    @BeforeAll
    static void warmUp() {
        TestSupport.warmUp();
    }

    static Stream<Arguments> transposes() {
        return Stream.of(Arguments.of(N, N), Arguments.of(N, T), Arguments.of(T, N), Arguments.of(T, T));
    }

    /** Sizes around the vector length and a few primes. */
    static int[] sizesAroundL() {
        return distinct(0, 1, 2, L - 1, L, L + 1, 2 * L + 1, 7, 13, 31, 47, 97);
    }

    static int[] distinct(int... xs) {
        return new TreeSet<>(java.util.Arrays.stream(xs).filter(x -> x >= 0).boxed().toList())
                .stream().mapToInt(Integer::intValue).toArray();
    }

    private static final float[] ALPHAS = {1f, -1.5f, 0.75f};
    private static final float[] BETAS = {0f, 1f, -0.5f, 2f};

    /**
     * Every (m, n, k) in the cross product of the sizes around L, twice (the second pass after the
     * first has been compiled and profiled), with varying offsets, ld padding and alpha/beta.
     */
    @ParameterizedTest(name = "op(A)={0} op(B)={1}")
    @MethodSource("transposes")
    void smallShapesAroundTheVectorLength(Transpose ta, Transpose tb) {
        int[] sizes = sizesAroundL();
        for (int pass = 0; pass < 2; pass++) {
            SplittableRandom rnd = new SplittableRandom(1000 + 10L * ta.ordinal() + tb.ordinal());
            int i = 0;
            for (int m : sizes) {
                for (int n : sizes) {
                    for (int k : sizes) {
                        float alpha = ALPHAS[i % ALPHAS.length], beta = BETAS[(i / 3) % BETAS.length];
                        i++;
                        GemmCase.of(ta, tb, m, n, k, alpha, beta, rnd).check(rnd);
                    }
                }
            }
        }
    }

    /**
     * Shapes just below, at and above the micro-kernel tile (MR x NR) and the cache blocks (MC, KC),
     * both from the block table in SimdGemm and from the table the brief fixes (MR=8, NR=48, KC=256, MC=128).
     */
    @ParameterizedTest(name = "op(A)={0} op(B)={1}")
    @MethodSource("transposes")
    void shapesAtTheTilingBoundaries(Transpose ta, Transpose tb) {
        var t = TILING;
        int[] ms = distinct(1, 7, 8, 9, 129, t.mr() - 1, t.mr(), t.mr() + 1, t.mc() - 1, t.mc(), t.mc() + 1);
        int[] ns = distinct(47, 48, 49, 97, t.nr() - 1, t.nr(), t.nr() + 1, 2 * t.nr() + 1);
        int[] ks = distinct(255, 256, 257, 513, t.kc() - 1, t.kc(), t.kc() + 1, 2 * t.kc() + 1);
        SplittableRandom rnd = new SplittableRandom(2000 + 10L * ta.ordinal() + tb.ordinal());
        int i = 0;
        for (int m : ms) {
            for (int n : ns) {
                for (int k : ks) {
                    float alpha = ALPHAS[i % ALPHAS.length], beta = BETAS[(i / 3) % BETAS.length];
                    i++;
                    GemmCase.of(ta, tb, m, n, k, alpha, beta, rnd).check(rnd);
                }
            }
        }
    }

    /**
     * Row counts around SimdGemm's switch between reading an untransposed B in place and packing it
     * (DIRECT_B_MAX_M, 256 when not readable), with partial column panels on both sides.
     */
    @ParameterizedTest(name = "op(A)={0} op(B)={1}")
    @MethodSource("transposes")
    void rowCountsAroundTheDirectBThreshold(Transpose ta, Transpose tb) {
        var t = TILING;
        int d = t.directBMaxM();
        SplittableRandom rnd = new SplittableRandom(2500 + 10L * ta.ordinal() + tb.ordinal());
        for (int m : distinct(d - 1, d, d + 1, 255, 256, 257)) {
            for (int n : distinct(t.nr() - 1, 2 * t.nr() + 3)) {
                GemmCase.of(ta, tb, m, n, t.kc() + 1, -0.5f, m % 2 == 0 ? 0f : 1.5f, rnd).check(rnd);
            }
        }
    }

    /**
     * Operands larger than the 1 MiB L2: B of k x n with n past NC (several column blocks) and A of m x k
     * with m spanning many MC blocks.
     */
    @ParameterizedTest(name = "op(A)={0} op(B)={1}")
    @MethodSource("transposes")
    void operandsLargerThanL2(Transpose ta, Transpose tb) {
        var t = TILING;
        SplittableRandom rnd = new SplittableRandom(3000 + 10L * ta.ordinal() + tb.ordinal());
        // B: 301 x 3121 floats = 3.8 MB
        GemmCase.of(ta, tb, t.mr() + 1, t.nc() + t.nr() + 1, t.kc() + 45, 0.5f, -1f, rnd).check(rnd);
        // A: 1157 x 257 floats = 1.2 MB
        GemmCase.of(ta, tb, 9 * t.mc() + 5, t.nr() + 5, t.kc() + 1, -1f, 0f, rnd).check(rnd);
    }

    /** Values spread over many binades: the bound is relative, so scaling must not matter. */
    @Test
    void extremeMagnitudes() {
        SplittableRandom rnd = new SplittableRandom(3500);
        for (int exp : new int[] {-60, -20, 20, 40}) {
            for (Transpose ta : Transpose.values()) {
                for (Transpose tb : Transpose.values()) {
                    GemmCase.of(ta, tb, 2 * L + 1, 3 * L - 1, 37, 1f, 0.5f, rnd).withExp(exp).check(rnd);
                    GemmCase.of(ta, tb, TILING.mr() * 2, TILING.nr(), TILING.kc() + 3, -2f, 0f, rnd).withExp(exp)
                            .check(rnd);
                }
            }
        }
    }

    /** BLAS: beta == 0 (also -0.0) means C is write-only; NaN already in C must not survive. */
    @ParameterizedTest(name = "op(A)={0} op(B)={1}")
    @MethodSource("transposes")
    void betaZeroOverwritesNaNInC(Transpose ta, Transpose tb) {
        var t = TILING;
        int[][] shapes = {{1, 1, 1}, {t.mr(), t.nr(), 5}, {t.mr() + 1, t.nr() + 1, t.kc() + 3},
                {2 * L + 1, 7, 13}, {t.mc() + 1, 2 * t.nr() + 1, 2}};
        SplittableRandom rnd = new SplittableRandom(4000);
        for (int[] s : shapes) {
            for (float beta : new float[] {0f, -0f}) {
                for (float alpha : new float[] {1f, -2f, 0f}) {
                    GemmCase c = GemmCase.of(ta, tb, s[0], s[1], s[2], alpha, beta, rnd).withNaN(true, false);
                    c.check(rnd);
                    // and explicitly: no NaN anywhere in the block
                    float[] out = run(c, 77);
                    for (int i = 0; i < c.m(); i++) {
                        for (int j = 0; j < c.n(); j++) {
                            assertThat(out[c.cOff() + i * c.ldc() + j]).as("%s C[%d][%d]", c, i, j).isNotNaN();
                        }
                    }
                }
            }
        }
    }

    /** BLAS: alpha == 0 means A and B are not read (NaN there is harmless) and C = beta * C. */
    @ParameterizedTest(name = "op(A)={0} op(B)={1}")
    @MethodSource("transposes")
    void alphaZeroDoesNotReadAOrB(Transpose ta, Transpose tb) {
        SplittableRandom rnd = new SplittableRandom(5000);
        for (float alpha : new float[] {0f, -0f}) {
            for (float beta : new float[] {0f, 1f, -2.5f}) {
                for (int[] s : new int[][] {{1, 1, 1}, {L + 1, TILING.nr() + 1, 33}, {TILING.mr(), TILING.nr(), 300}}) {
                    GemmCase c = GemmCase.of(ta, tb, s[0], s[1], s[2], alpha, beta, rnd).withNaN(beta == 0f, true);
                    c.check(rnd);
                }
            }
        }
        // beta == 1 leaves C bit for bit as it was (NaN payloads included)
        float[] a = {Float.NaN, Float.NaN}, b = {Float.NaN, Float.NaN}; // m = n = 2, k = 1
        float[] cArr = {1.5f, TestSupport.SENTINEL_NAN, -0f, 3f};
        float[] before = cArr.clone();
        Gemm.sgemm(ta, tb, 2, 2, 1, 0f, a, 0, ta == N ? 1 : 2, b, 0, tb == N ? 2 : 1, 1f, cArr, 0, 2);
        Bits.assertSameBits("C after alpha=0, beta=1", before, cArr);
    }

    /** k == 0: A and B hold nothing (empty arrays are fine) and C becomes beta * C. */
    @Test
    void kZeroScalesC() {
        float[] none = new float[0];
        float[] c = {1f, -2f, 3f, Float.NaN, 5f, 6f};
        Gemm.sgemm(N, N, 2, 3, 0, 1f, none, 0, 1, none, 0, 3, 0.5f, c, 0, 3);
        assertThat(c[0]).isEqualTo(0.5f);
        assertThat(c[1]).isEqualTo(-1f);
        assertThat(c[3]).isNaN(); // beta != 0: NaN * beta stays NaN
        float[] d = {Float.NaN, Float.NaN, Float.NaN, 12345f, Float.NaN, Float.NaN, Float.NaN};
        Gemm.sgemm(T, T, 2, 3, 0, 1f, none, 0, 2, none, 0, 1, 0f, d, 0, 4);
        assertThat(d).containsExactly(0f, 0f, 0f, 12345f, 0f, 0f, 0f);
        SplittableRandom rnd = new SplittableRandom(5500);
        for (Transpose ta : Transpose.values()) {
            for (Transpose tb : Transpose.values()) {
                for (float beta : BETAS) {
                    GemmCase.of(ta, tb, 2 * L + 1, TILING.nr() + 3, 0, 1f, beta, rnd).withNaN(beta == 0f, true)
                            .check(rnd);
                }
            }
        }
    }

    /** m == 0 or n == 0: nothing is written anywhere. */
    @Test
    void emptyOutputWritesNothing() {
        SplittableRandom rnd = new SplittableRandom(5600);
        for (int[] s : new int[][] {{0, 5, 7}, {5, 0, 7}, {0, 0, 0}, {0, L, 300}}) {
            for (float beta : BETAS) {
                GemmCase.of(T, N, s[0], s[1], s[2], 1f, beta, rnd).check(rnd);
                GemmCase.of(N, T, s[0], s[1], s[2], 1f, beta, rnd).batched(3, 0, 0, 40).check(rnd);
            }
        }
    }

    /** Read-only operands may share storage: C = A * A^T from one array. C may share an array with A when disjoint. */
    @Test
    void sharedStorage() {
        SplittableRandom rnd = new SplittableRandom(5700);
        int m = 2 * L + 3, k = TILING.kc() + 7;
        float[] a = new float[m * k];
        for (int i = 0; i < a.length; i++) a[i] = TestSupport.uniform(rnd);
        float[] c = new float[m * m], ref = new float[m * m];
        Gemm.sgemm(N, T, m, m, k, 1f, a, 0, k, a, 0, k, 0f, c, 0, m);
        GemmScalar.sgemm(N, T, m, m, k, 1f, a, 0, k, a, 0, k, 0f, ref, 0, m);
        for (int i = 0; i < m * m; i++) {
            assertThat((double) c[i]).as("gram[%d]", i).isCloseTo(ref[i], org.assertj.core.data.Offset.offset(
                    2.0 * (k + 4) * EPS * k));
        }
        // A at [0, m*k), C right behind it in the same array
        float[] both = new float[m * k + m * m + 3];
        System.arraycopy(a, 0, both, 0, a.length);
        for (int i = m * k; i < both.length; i++) both[i] = 12345f;
        Gemm.sgemm(N, T, m, m, k, 1f, both, 0, k, a, 0, k, 0f, both, m * k, m);
        for (int i = 0; i < m * m; i++) {
            assertThat((double) both[m * k + i]).isCloseTo(ref[i], org.assertj.core.data.Offset.offset(
                    2.0 * (k + 4) * EPS * k));
        }
        assertThat(both[both.length - 1]).isEqualTo(12345f);
        Bits.assertSameBits("A part of the shared array", a, java.util.Arrays.copyOf(both, m * k));
    }

    // ---------------------------------------------------------------------------------------------
    // Strided batches

    static Stream<Arguments> batchLayouts() {
        // batch, strideA mode, strideB mode: 0 = shared (stride 0), 1 = packed, 2 = gaps of 3
        return Stream.of(Arguments.of(0, 1, 1), Arguments.of(1, 1, 1), Arguments.of(3, 1, 1), Arguments.of(4, 2, 2),
                Arguments.of(3, 0, 1), Arguments.of(3, 1, 0), Arguments.of(5, 0, 0), Arguments.of(2, 2, 0));
    }

    @ParameterizedTest(name = "batch={0} strideA mode={1} strideB mode={2}")
    @MethodSource("batchLayouts")
    void stridedBatched(int batch, int modeA, int modeB) {
        SplittableRandom rnd = new SplittableRandom(6000 + batch * 10L + modeA * 3L + modeB);
        var t = TILING;
        int[][] shapes = {{3, 5, 7}, {L + 1, L - 1, 13}, {t.mr() + 1, t.nr() + 1, t.kc() + 1}, {1, 1, 1}};
        int i = 0;
        for (int[] s : shapes) {
            for (Transpose ta : Transpose.values()) {
                for (Transpose tb : Transpose.values()) {
                    float alpha = ALPHAS[i % 3], beta = BETAS[i % 4];
                    i++;
                    GemmCase c = GemmCase.of(ta, tb, s[0], s[1], s[2], alpha, beta, rnd);
                    int ea = GemmCase.extent(c.aRows(), c.aCols(), c.lda());
                    int eb = GemmCase.extent(c.bRows(), c.bCols(), c.ldb());
                    int ec = GemmCase.extent(c.m(), c.n(), c.ldc());
                    int sa = modeA == 0 ? 0 : ea + (modeA == 2 ? 3 : 0);
                    int sb = modeB == 0 ? 0 : eb + (modeB == 2 ? 3 : 0);
                    int sc = ec + (i % 2 == 0 ? 0 : 3);
                    c.batched(batch, sa, sb, sc).check(rnd);
                }
            }
        }
        // alpha == 0 with NaN operands and beta == 0 over NaN C, batched
        GemmCase z = GemmCase.of(N, T, 5, 9, 11, 0f, 0f, rnd).withNaN(true, true);
        z.batched(batch, 0, 0, GemmCase.extent(z.m(), z.n(), z.ldc()) + 1).check(rnd);
    }

    // ---------------------------------------------------------------------------------------------
    // BLIS identity: C*t == beta*C0*t + alpha*A*(B*t), computed in double without a second GEMM.

    static Stream<Arguments> identityShapes() {
        return Stream.of(Arguments.of(N, N, 1031, 613, 797), Arguments.of(N, T, 613, 1031, 1103),
                Arguments.of(T, N, 797, 1103, 613), Arguments.of(T, T, 1103, 701, 1031));
    }

    /**
     * Small integers make every product and partial sum exact in float (|sum| < 2^24), so the identity
     * must hold exactly: any wrong, missing or doubled term shows, however small. Run on a team of 2
     * so the split path is covered too (ConcurrencyTest shows the split gives the serial bits).
     */
    @ParameterizedTest(name = "op(A)={0} op(B)={1} m={2} n={3} k={4}")
    @MethodSource("identityShapes")
    void blisIdentityExactOnSmallIntegers(Transpose ta, Transpose tb, int m, int n, int k) {
        SplittableRandom rnd = new SplittableRandom(7000 + m);
        try (Parallelism team = Parallelism.fixed(2)) {
            for (float[] ab : new float[][] {{-0.5f, 1.5f}, {2f, 0f}}) {
                Identity id = Identity.make(ta, tb, m, n, k, ab[0], ab[1], rnd, r -> r.nextInt(17) - 8);
                Gemm.sgemm(team, ta, tb, m, n, k, id.alpha, id.a, 0, id.lda, id.b, 0, id.ldb, id.beta, id.c, 0, n);
                double[] lhs = id.lhs(), rhs = id.rhs();
                for (int i = 0; i < m; i++) {
                    if (lhs[i] != rhs[i]) {
                        fail("(C t)[%d] = %s but beta C0 t + alpha A (B t) = %s (exact integer data; %s%s m=%d n=%d k=%d alpha=%s beta=%s)",
                                i, lhs[i], rhs[i], ta, tb, m, n, k, ab[0], ab[1]);
                    }
                }
            }
        }
    }

    /** Random floats: the identity within 2 (k+4) eps (|alpha| |A|(|B||t|) + |beta| |C0||t|). */
    @ParameterizedTest(name = "op(A)={0} op(B)={1} m={2} n={3} k={4}")
    @MethodSource("identityShapes")
    void blisIdentityOnRandomFloats(Transpose ta, Transpose tb, int m, int n, int k) {
        SplittableRandom rnd = new SplittableRandom(7500 + m);
        for (float[] ab : new float[][] {{0.75f, -1.25f}, {-1f, 0f}}) {
            Identity id = Identity.make(ta, tb, m, n, k, ab[0], ab[1], rnd, r -> TestSupport.uniform(r));
            Gemm.sgemm(ta, tb, m, n, k, id.alpha, id.a, 0, id.lda, id.b, 0, id.ldb, id.beta, id.c, 0, n);
            double[] lhs = id.lhs(), rhs = id.rhs(), bound = id.bound();
            for (int i = 0; i < m; i++) {
                if (!(Math.abs(lhs[i] - rhs[i]) <= bound[i])) {
                    fail("(C t)[%d] = %s but beta C0 t + alpha A (B t) = %s, |diff| %s > bound %s (%s%s m=%d n=%d k=%d)",
                            i, lhs[i], rhs[i], Math.abs(lhs[i] - rhs[i]), bound[i], ta, tb, m, n, k);
                }
            }
        }
    }

    /** Operands of one identity check, stored densely (ld = stored width), C0 kept for the right side. */
    private record Identity(Transpose ta, Transpose tb, int m, int n, int k, float alpha, float beta,
                            float[] a, int lda, float[] b, int ldb, float[] c0, float[] c, double[] t) {

        interface Gen {
            float next(SplittableRandom r);
        }

        static Identity make(Transpose ta, Transpose tb, int m, int n, int k, float alpha, float beta,
                             SplittableRandom rnd, Gen gen) {
            float[] a = new float[m * k], b = new float[k * n], c0 = new float[m * n];
            for (int i = 0; i < a.length; i++) a[i] = gen.next(rnd);
            for (int i = 0; i < b.length; i++) b[i] = gen.next(rnd);
            for (int i = 0; i < c0.length; i++) c0[i] = beta == 0f ? Float.NaN : gen.next(rnd);
            double[] t = new double[n];
            for (int j = 0; j < n; j++) t[j] = gen.next(rnd) / 2.0f;
            return new Identity(ta, tb, m, n, k, alpha, beta, a, ta == N ? k : m, b, tb == N ? n : k, c0,
                    c0.clone(), t);
        }

        double opA(int i, int p) { return ta == N ? a[i * lda + p] : a[p * lda + i]; }
        double opB(int p, int j) { return tb == N ? b[p * ldb + j] : b[j * ldb + p]; }

        double[] lhs() {
            double[] r = new double[m];
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int j = 0; j < n; j++) s += c[i * n + j] * t[j];
                r[i] = s;
            }
            return r;
        }

        double[] rhs() {
            double[] bt = new double[k];
            for (int p = 0; p < k; p++) {
                double s = 0;
                for (int j = 0; j < n; j++) s += opB(p, j) * t[j];
                bt[p] = s;
            }
            double[] r = new double[m];
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += opA(i, p) * bt[p];
                double ct = 0;
                if (beta != 0f) { // BLAS: C0 not read when beta == 0
                    for (int j = 0; j < n; j++) ct += c0[i * n + j] * t[j];
                }
                r[i] = (double) beta * ct + (double) alpha * s;
            }
            return r;
        }

        /** |alpha| |A| (|B| |t|) + |beta| |C0| |t|, scaled by 2 (k+4) eps. */
        double[] bound() {
            double[] bt = new double[k];
            for (int p = 0; p < k; p++) {
                double s = 0;
                for (int j = 0; j < n; j++) s += Math.abs(opB(p, j) * t[j]);
                bt[p] = s;
            }
            double[] r = new double[m];
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += Math.abs(opA(i, p)) * bt[p];
                double ct = 0;
                if (beta != 0f) {
                    for (int j = 0; j < n; j++) ct += Math.abs(c0[i * n + j] * t[j]);
                }
                r[i] = 2.0 * (k + 4) * EPS * (Math.abs(alpha) * s + Math.abs(beta) * ct) + 1e-30;
            }
            return r;
        }
    }

    /** Runs a case's facade call once more on fresh data and returns C (for extra assertions). */
    private static float[] run(GemmCase c, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int aLen = c.aOff() + GemmCase.extent(c.aRows(), c.aCols(), c.lda());
        int bLen = c.bOff() + GemmCase.extent(c.bRows(), c.bCols(), c.ldb());
        int cLen = c.cOff() + GemmCase.extent(c.m(), c.n(), c.ldc());
        float[] a = new float[aLen], b = new float[bLen], out = new float[cLen];
        for (int i = 0; i < aLen; i++) a[i] = TestSupport.uniform(rnd);
        for (int i = 0; i < bLen; i++) b[i] = TestSupport.uniform(rnd);
        java.util.Arrays.fill(out, Float.NaN);
        Gemm.sgemm(c.ta(), c.tb(), c.m(), c.n(), c.k(), c.alpha(), a, c.aOff(), c.lda(), b, c.bOff(), c.ldb(),
                c.beta(), out, c.cOff(), c.ldc());
        return out;
    }

    // ---------------------------------------------------------------------------------------------
    // Validation: one rule per case; message names the argument and the numbers; nothing written.

    @Nested
    class Rejections {
        // The valid baseline: m=2, n=3, k=4, NN; A 2x4 (8), B 4x3 (12), C 2x3 (6).
        static final int M = 2, NN = 3, K = 4;

        static Stream<Arguments> rules() {
            return Stream.of(
                    iae("m < 0", "m=-1 < 0", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, -1, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 0, NN)),
                    iae("n < 0", "n=-2 < 0", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, -2, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 0, NN)),
                    iae("k < 0", "k=-3 < 0", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, -3, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 0, NN)),
                    iae("lda < k", "lda=3 < k=4", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, 3, x[1], 0, NN, 0f, x[2], 0, NN)),
                    iae("lda < k (k = 8)", "lda=7 < k=8", arrays(16, 24, 6),
                            x -> Gemm.sgemm(N, N, M, NN, 8, 1f, x[0], 0, 7, x[1], 0, NN, 0f, x[2], 0, NN)),
                    iae("lda < m when A is transposed", "lda=1 < m=2", arrays(8, 12, 6),
                            x -> Gemm.sgemm(T, N, M, NN, K, 1f, x[0], 0, 1, x[1], 0, NN, 0f, x[2], 0, NN)),
                    iae("ldb < n", "ldb=2 < n=3", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, 2, 0f, x[2], 0, NN)),
                    iae("ldb < k when B is transposed", "ldb=3 < k=4", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, T, M, NN, K, 1f, x[0], 0, K, x[1], 0, 3, 0f, x[2], 0, NN)),
                    iae("ldc < n", "ldc=2 < n=3", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 0, 2)),
                    iae("lda = 0 with k = 0", "lda=0 < k=0", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, 0, 1f, x[0], 0, 0, x[1], 0, NN, 0f, x[2], 0, NN)),
                    iae("aOff < 0", "aOff=-1 < 0", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], -1, K, x[1], 0, NN, 0f, x[2], 0, NN)),
                    iae("bOff < 0", "bOff=-2 < 0", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], -2, NN, 0f, x[2], 0, NN)),
                    iae("cOff < 0", "cOff=-3 < 0", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], -3, NN)),
                    iae("a too short", "a too short: aOff=0 + (2-1)*lda=4 + 4 = 8 > a.length=7", arrays(7, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 0, NN)),
                    iae("b too short (transposed)", "b too short: bOff=1 + (3-1)*ldb=4 + 4 = 13 > b.length=12",
                            arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, T, M, NN, K, 1f, x[0], 0, K, x[1], 1, K, 0f, x[2], 0, NN)),
                    iae("c too short", "c too short: cOff=1 + (2-1)*ldc=3 + 3 = 7 > c.length=6", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 1, NN)),
                    // (m-1)*lda wraps in int arithmetic: 65535*65536 + 1 = 4294901761
                    iae("extent of A overflows int", "= 4294901761 > a.length=16", arrays(16, 1, 65536),
                            x -> Gemm.sgemm(N, N, 65536, 1, 1, 1f, x[0], 0, 65536, x[1], 0, 1, 0f, x[2], 0, 1)),
                    iae("extent of C overflows int", "= 4294967297 > c.length=100", arrays(65536, 2, 100),
                            x -> Gemm.sgemm(N, N, 65536, 2, 1, 1f, x[0], 0, 1, x[1], 0, 2, 0f, x[2], 0, 65537)),
                    iae("offset near Integer.MAX_VALUE", "= 2147483657 > b.length=12", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], Integer.MAX_VALUE - 2, NN, 0f,
                                    x[2], 0, NN)),
                    iae("offset past the end of an empty C", "cOff=7 > c.length=6", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, N, 0, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 7, NN)),
                    npe("a is null", "a is null", arrays(12, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, null, 0, K, x[0], 0, NN, 0f, x[1], 0, NN)),
                    npe("b is null", "b is null", arrays(8, 6),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, null, 0, NN, 0f, x[1], 0, NN)),
                    npe("c is null", "c is null", arrays(8, 12),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, null, 0, NN)),
                    npe("transA is null", "transA is null", arrays(8, 12, 6),
                            x -> Gemm.sgemm(null, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 0, NN)),
                    npe("transB is null", "transB is null", arrays(8, 12, 6),
                            x -> Gemm.sgemm(N, null, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 0, NN)),
                    npe("par is null", "par is null", arrays(8, 12, 6),
                            x -> Gemm.sgemm(null, N, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[2], 0, NN)),
                    Rejection.of("C overlaps A in one array", IllegalArgumentException.class,
                            List.of("c overlaps a", "elements [6, 12)", "elements [0, 8)"), arrays(20, 12),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[0], 6, NN)),
                    Rejection.of("C overlaps B in one array", IllegalArgumentException.class,
                            List.of("c overlaps b"), arrays(8, 20),
                            x -> Gemm.sgemm(N, N, M, NN, K, 1f, x[0], 0, K, x[1], 0, NN, 0f, x[1], 11, NN)),
                    // strided batches
                    iae("batch < 0", "batch=-1 < 0", arrays(8, 12, 6),
                            x -> Gemm.sgemmStridedBatched(-1, N, N, M, NN, K, 1f, x[0], 0, K, 8, x[1], 0, NN, 12,
                                    0f, x[2], 0, NN, 6)),
                    iae("strideA < 0", "strideA=-8 < 0", arrays(8, 12, 12),
                            x -> Gemm.sgemmStridedBatched(2, N, N, M, NN, K, 1f, x[0], 0, K, -8, x[1], 0, NN, 0,
                                    0f, x[2], 0, NN, 6)),
                    iae("strideB < 0", "strideB=-1 < 0", arrays(8, 12, 12),
                            x -> Gemm.sgemmStridedBatched(2, N, N, M, NN, K, 1f, x[0], 0, K, 0, x[1], 0, NN, -1,
                                    0f, x[2], 0, NN, 6)),
                    iae("strideC < 0", "strideC=-6 < 0", arrays(8, 12, 12),
                            x -> Gemm.sgemmStridedBatched(2, N, N, M, NN, K, 1f, x[0], 0, K, 0, x[1], 0, NN, 0,
                                    0f, x[2], 6, NN, -6)),
                    Rejection.of("C matrices of the batch overlap", IllegalArgumentException.class,
                            List.of("strideC=5 < (m-1)*ldc + n = 6"), arrays(8, 12, 11),
                            x -> Gemm.sgemmStridedBatched(2, N, N, M, NN, K, 1f, x[0], 0, K, 0, x[1], 0, NN, 0,
                                    0f, x[2], 0, NN, 5)),
                    iae("strideC = 0 with batch > 1", "strideC=0 < (m-1)*ldc + n = 6", arrays(8, 12, 6),
                            x -> Gemm.sgemmStridedBatched(2, N, N, M, NN, K, 1f, x[0], 0, K, 0, x[1], 0, NN, 0,
                                    1f, x[2], 0, NN, 0)),
                    // the first product fits: it must not be computed before the last one is found out of range
                    Rejection.of("last A of the batch past the end", IllegalArgumentException.class,
                            List.of("a too short for the batch", "strideA=8", "batch=3", "ends at 24 > a.length=23"),
                            arrays(23, 12, 18),
                            x -> Gemm.sgemmStridedBatched(3, N, N, M, NN, K, 1f, x[0], 0, K, 8, x[1], 0, NN, 0,
                                    0f, x[2], 0, NN, 6)),
                    Rejection.of("last C of the batch past the end", IllegalArgumentException.class,
                            List.of("c too short for the batch", "strideC=6", "ends at 18 > c.length=17"),
                            arrays(8, 12, 17),
                            x -> Gemm.sgemmStridedBatched(3, N, N, M, NN, K, 1f, x[0], 0, K, 0, x[1], 0, NN, 0,
                                    0f, x[2], 0, NN, 6)),
                    Rejection.of("batch offset overflows int", IllegalArgumentException.class,
                            List.of("b too short for the batch", "3000000000"), arrays(8, 12, 18),
                            x -> Gemm.sgemmStridedBatched(3, N, N, M, NN, K, 1f, x[0], 0, K, 0, x[1], 0, NN,
                                    1_500_000_000, 0f, x[2], 0, NN, 6)),
                    Rejection.of("a later C overlaps A in one array", IllegalArgumentException.class,
                            List.of("c overlaps a"), arrays(40, 12),
                            x -> Gemm.sgemmStridedBatched(3, N, N, M, NN, K, 1f, x[0], 0, K, 12, x[1], 0, NN, 0,
                                    0f, x[0], 8, NN, 12)),
                    npe("par is null (batched)", "par is null", arrays(8, 12, 6),
                            x -> Gemm.sgemmStridedBatched(null, 1, N, N, M, NN, K, 1f, x[0], 0, K, 0, x[1], 0, NN,
                                    0, 0f, x[2], 0, NN, 6)));
        }

        @ParameterizedTest(name = "{0}")
        @MethodSource("rules")
        void rejected(Rejection rule) {
            rule.verify();
        }

        /** The scalar twin validates the same way (it is a public entry point too). */
        @Test
        void scalarTwinValidatesToo() {
            float[] c = new float[6];
            assertThat(org.assertj.core.api.Assertions.catchThrowable(() ->
                    GemmScalar.sgemm(N, N, 2, 3, 4, 1f, new float[8], 0, 3, new float[12], 0, 3, 0f, c, 0, 3)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lda=3 < k=4");
            assertThat(org.assertj.core.api.Assertions.catchThrowable(() ->
                    GemmScalar.sgemmStridedBatched(2, N, N, 2, 3, 4, 1f, new float[8], 0, 4, 0, new float[12], 0, 3,
                            0, 0f, c, 0, 3, 5)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("strideC=5");
        }
    }
}
