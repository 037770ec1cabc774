package dev.lanes.tests;

import static dev.lanes.tests.TestSupport.L;
import static dev.lanes.tests.TestSupport.TILING;
import static dev.lanes.tests.TestSupport.pick;
import static dev.lanes.tests.TestSupport.transpose;

import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Transpose;
import dev.lanes.tests.KernelCases.GemmCase;
import dev.lanes.tests.KernelCases.GradAlias;
import dev.lanes.tests.KernelCases.ResidualAlias;
import dev.lanes.tests.KernelCases.ResidualBackwardCase;
import dev.lanes.tests.KernelCases.ResidualCase;
import dev.lanes.tests.KernelCases.SoftmaxAlias;
import dev.lanes.tests.KernelCases.SoftmaxBackwardCase;
import dev.lanes.tests.KernelCases.SoftmaxCase;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Seeded differential fuzzing: {@value #DEFAULT_CASES} random calls per kernel (shapes mostly small,
 * offsets, padded leading dimensions, transposes, alpha/beta including 0, 1 and negatives, masks,
 * causal offsets, aliasing, strided batches), each checked by {@link KernelCases} against the scalar twin.
 *
 * <p>Replay: every case draws from its own generator seeded by (run seed, kernel, case index), and a
 * failure names all three. {@code -Dlanes.fuzz.seed=N} sets the run seed (fixed by default; "time"
 * picks one from the clock), {@code -Dlanes.fuzz.cases=N} the count, {@code -Dlanes.fuzz.case=I} runs
 * case I alone.
 */
class FuzzTest {
    static final long DEFAULT_SEED = 0x5EED_1A7E5L;
    static final int DEFAULT_CASES = 10_000;

    static final long SEED = "time".equals(System.getProperty("lanes.fuzz.seed"))
            ? System.nanoTime() : TestSupport.seed("lanes.fuzz.seed", DEFAULT_SEED);
    static final int CASES = Integer.getInteger("lanes.fuzz.cases", DEFAULT_CASES);
    static final Integer ONLY = Integer.getInteger("lanes.fuzz.case");

    /** Shared by a tenth of the GEMM cases, so the team overloads are fuzzed too. */
    private static Parallelism team;

    @BeforeAll
    static void setUp() {
        TestSupport.warmUp();
        team = Parallelism.fixed(2);
        System.out.printf("FuzzTest: seed=%d %s (replay with -Dlanes.fuzz.seed=%d)%n", SEED,
                ONLY == null ? CASES + " cases per kernel" : "case " + ONLY + " only", SEED);
    }

    @AfterAll
    static void tearDown() {
        team.close();
    }

    interface Generator {
        KernelCases.Checked next(SplittableRandom rnd);
    }

    private static void fuzz(String kernel, int salt, Generator gen) {
        int from = ONLY == null ? 0 : ONLY, to = ONLY == null ? CASES : ONLY + 1;
        for (int i = from; i < to; i++) {
            long caseSeed = SEED * 0x9E3779B97F4A7C15L + salt * 0x632BE59BD9B4E019L + i;
            SplittableRandom rnd = new SplittableRandom(caseSeed);
            KernelCases.Checked c = null;
            try {
                c = gen.next(rnd);
                c.check(rnd);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError(String.format(
                        "fuzz %s case %d failed (seed=%d; replay: -Dlanes.fuzz.seed=%d -Dlanes.fuzz.case=%d "
                                + "-Dtest='FuzzTest#%s'): %s%n  case: %s", kernel, i, SEED, SEED, i, kernel,
                        e.getMessage(), c), e);
            }
        }
    }

    /** Small most of the time; sometimes around the vector length, the register tile, the cache blocks. */
    private static int size(SplittableRandom rnd, int small, int tile, int block) {
        int r = rnd.nextInt(100);
        if (r < 80) return rnd.nextInt(small + 1);
        if (r < 97) return rnd.nextInt(tile + 1);
        return Math.max(0, block - 3 + rnd.nextInt(8));
    }

    private static float alpha(SplittableRandom rnd) {
        int r = rnd.nextInt(20);
        return r == 0 ? 0f : r < 6 ? 1f : r < 9 ? -1f : TestSupport.uniform(rnd, -3, 3);
    }

    private static float beta(SplittableRandom rnd) {
        int r = rnd.nextInt(20);
        return r < 5 ? 0f : r < 9 ? 1f : r < 11 ? -1f : r < 12 ? -0f : TestSupport.uniform(rnd, -3, 3);
    }

    @Test
    void gemm() {
        var t = TILING;
        fuzz("gemm", 1, rnd -> {
            int m = size(rnd, 2 * L + 2, 3 * t.mr() + 1, t.mc());
            int n = size(rnd, 3 * L + 2, 2 * t.nr() + 2, t.nr() + 1);
            int k = size(rnd, 40, 2 * t.kc() + 2, t.kc());
            Transpose ta = transpose(rnd), tb = transpose(rnd);
            float alpha = alpha(rnd), beta = beta(rnd);
            GemmCase c = GemmCase.of(ta, tb, m, n, k, alpha, beta, rnd)
                    .withNaN(beta == 0f && rnd.nextBoolean(), (alpha == 0f || k == 0) && rnd.nextBoolean());
            if (rnd.nextInt(10) == 0) c = c.withExp(pick(rnd, -30, -10, 10, 30));
            if (rnd.nextInt(10) == 0) c = c.on(team);
            if (rnd.nextInt(5) == 0) { // strided batch; stride 0 shares an operand
                int ea = GemmCase.extent(c.aRows(), c.aCols(), c.lda()), eb = GemmCase.extent(c.bRows(), c.bCols(), c.ldb());
                int ec = GemmCase.extent(m, n, c.ldc());
                c = c.batched(rnd.nextInt(5), rnd.nextInt(3) == 0 ? 0 : ea + rnd.nextInt(4),
                        rnd.nextInt(3) == 0 ? 0 : eb + rnd.nextInt(4), ec + rnd.nextInt(4));
            }
            return c;
        });
    }

    private static int rows(SplittableRandom rnd) {
        return rnd.nextInt(10) == 0 ? 0 : 1 + rnd.nextInt(6);
    }

    private static int cols(SplittableRandom rnd) {
        return rnd.nextInt(5) == 0 ? rnd.nextInt(301) : rnd.nextInt(3 * L + 4);
    }

    private static float scale(SplittableRandom rnd) {
        int r = rnd.nextInt(4);
        return r == 0 ? 1f : r == 1 ? 0.125f : r == 2 ? 2f : TestSupport.uniform(rnd, 0.01, 4);
    }

    @Test
    void softmaxForward() {
        fuzz("softmaxForward", 2, rnd -> {
            int rows = rows(rnd), cols = cols(rnd);
            int overload = rnd.nextInt(10) == 0 ? 1 + rnd.nextInt(2) : 0;
            boolean full = overload == 0;
            boolean causal = full && rnd.nextBoolean();
            int offset = rnd.nextInt(50) == 0 ? pick(rnd, Integer.MIN_VALUE, Integer.MAX_VALUE, -1000, 1000)
                    : rnd.nextInt(rows + cols + 5) - rows - 2;
            boolean mask = full && rnd.nextInt(5) < 2;
            boolean inPlace = rnd.nextInt(5) == 0;
            SoftmaxCase base = SoftmaxCase.of(rows, cols, 1f, false, 0, false, inPlace, rnd);
            float range = pick(rnd, 1f, 10f, 100f);
            double inf = rnd.nextInt(10) == 0 ? pick(rnd, 0.05f, 0.3f) : 0;
            return new SoftmaxCase(rows, cols, overload == 1 ? 1f : scale(rnd), causal, offset, mask,
                    mask ? pick(rnd, 0f, 0.3f, 1f) : 0, base.xOff(), base.ldx(), base.yOff(), base.ldy(),
                    base.maskOff(), base.ldmask(), inPlace, range, inf, full && rnd.nextBoolean(), overload);
        });
    }

    @Test
    void softmaxBackward() {
        fuzz("softmaxBackward", 3, rnd -> {
            SoftmaxBackwardCase c = SoftmaxBackwardCase.of(rows(rnd), cols(rnd), scale(rnd),
                    SoftmaxAlias.values()[rnd.nextInt(3)], rnd);
            return c.withAccumulate(rnd.nextInt(5) != 0);
        });
    }

    @Test
    void residualForward() {
        fuzz("residualForward", 4, rnd -> {
            ResidualCase c = ResidualCase.of(rows(rnd), cols(rnd), alpha(rnd), rnd.nextBoolean(),
                    ResidualAlias.values()[rnd.nextInt(3)], rnd);
            return rnd.nextInt(10) == 0 ? c.viaSimpleOverload() : c;
        });
    }

    @Test
    void residualBackward() {
        fuzz("residualBackward", 5, rnd -> {
            ResidualBackwardCase c = ResidualBackwardCase.of(rows(rnd), cols(rnd), alpha(rnd), rnd.nextBoolean(),
                    rnd.nextBoolean(), rnd.nextBoolean(), GradAlias.values()[rnd.nextInt(3)], rnd);
            return c.withAccumulate(rnd.nextInt(5) != 0);
        });
    }
}
