package dev.lanes.tests;

import static org.assertj.core.api.Assertions.fail;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import dev.lanes.kernels.Tuning;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Shared pieces of the conformance tests: random data, sentinel-padded layouts, element-wise
 * comparison with per-element error bounds, the GEMM block table, and the JIT warm-up.
 *
 * <p>Layout convention: every operand lives in an array pre-filled with {@link #sentinel} values; only
 * its {@link Region}s hold data. After a kernel call the whole array is compared: inside the regions
 * against the oracle within a bound, outside bit for bit against the original.
 */
final class TestSupport {
    private TestSupport() {}

    /** Unit roundoff of float, 2^-24: a correctly rounded operation is off by at most EPS * |result|. */
    static final double EPS = 0x1p-24;

    /** A NaN with a payload no arithmetic produces (a computed NaN is canonical 0x7fc00000). */
    static final int SENTINEL_NAN_BITS = 0x7fc0_1234;
    static final float SENTINEL_NAN = Float.intBitsToFloat(SENTINEL_NAN_BITS);
    /** The other sentinel: finite, so a kernel that reads it silently produces wrong numbers, not NaN. */
    static final float SENTINEL_BIG = 12345f;

    /** Float lanes of the preferred species (what the SIMD kernels use); 16 when SIMD is off. */
    static final int L = lanes();

    private static int lanes() {
        if (Backend.simdEnabled()) {
            return VectorLanes.preferred();
        }
        return 16;
    }

    /** Kept in its own class so that the JVM without the vector module never loads FloatVector. */
    private static final class VectorLanes {
        static int preferred() {
            return jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // The GEMM block table, read from the Tuning in force so the boundary shapes follow it.

    /**
     * MR x NR register tile, KC x NC panel of B, MC x KC block of A; directBMaxM the row count up to
     * which an untransposed B is read in place (256 when SimdGemm has no such switch).
     */
    record Tiling(int mr, int nr, int kc, int mc, int nc, int directBMaxM) {}

    /** The brief's table (MR=8, NR=3 vectors, KC=256, MC=16*MR, NC=64*NR), used when reflection fails. */
    static final Tiling DEFAULT_TILING = new Tiling(8, 3 * L, 256, 128, 64 * 3 * L, 256);
    static final Tiling TILING = readTiling();

    private static Tiling readTiling() {
        if (!Backend.simdEnabled()) {
            return DEFAULT_TILING;
        }
        return of(Tuning.current());
    }

    /** The block table of a tuning. */
    static Tiling of(Tuning t) {
        return new Tiling(t.mr(), t.nr(), t.kc(), t.mc(), t.nc(), t.directBMaxM());
    }

    // ---------------------------------------------------------------------------------------------
    // Seeds and random data.

    /** A seed from a system property, else the fixed default: runs are reproducible unless asked otherwise. */
    static long seed(String property, long fallback) {
        String s = System.getProperty(property);
        if (s == null || s.isBlank()) {
            return fallback;
        }
        s = s.trim();
        return s.startsWith("0x") ? Long.parseUnsignedLong(s.substring(2), 16) : Long.parseLong(s);
    }

    /** Uniform in [-1, 1). */
    static float uniform(SplittableRandom rnd) {
        return (float) (rnd.nextDouble() * 2 - 1);
    }

    static float uniform(SplittableRandom rnd, double lo, double hi) {
        return (float) (lo + rnd.nextDouble() * (hi - lo));
    }

    static <T> T pick(SplittableRandom rnd, List<T> options) {
        return options.get(rnd.nextInt(options.size()));
    }

    static int pick(SplittableRandom rnd, int... options) {
        return options[rnd.nextInt(options.length)];
    }

    static float pick(SplittableRandom rnd, float... options) {
        return options[rnd.nextInt(options.length)];
    }

    static Transpose transpose(SplittableRandom rnd) {
        return rnd.nextBoolean() ? Transpose.N : Transpose.T;
    }

    /** A leading dimension: the width itself half of the time, else up to 5 more (and always >= 1). */
    static int ld(SplittableRandom rnd, int width) {
        return Math.max(1, width + (rnd.nextBoolean() ? 0 : 1 + rnd.nextInt(5)));
    }

    // ---------------------------------------------------------------------------------------------
    // Sentinel layouts.

    /** The sentinel at index i: the payload NaN and 12345f alternate. */
    static float sentinel(int i) {
        return (i & 1) == 0 ? SENTINEL_NAN : SENTINEL_BIG;
    }

    static float[] sentinels(int length) {
        float[] x = new float[length];
        for (int i = 0; i < length; i++) {
            x[i] = sentinel(i);
        }
        return x;
    }

    /** A row-major block: {@code rows x cols} elements at {@code off}, row stride {@code ld}. */
    record Region(int off, int rows, int cols, int ld) {
        boolean isEmpty() {
            return rows == 0 || cols == 0;
        }

        /** One past the last element (or off when empty). */
        int end() {
            return isEmpty() ? off : Math.toIntExact(off + (long) (rows - 1) * ld + cols);
        }

        int index(int r, int c) {
            return off + r * ld + c;
        }
    }

    /** Smallest array length holding all regions, plus {@code tail} sentinels after the last one. */
    static int lengthFor(int tail, Region... regions) {
        int end = 0;
        for (Region r : regions) {
            end = Math.max(end, Math.max(r.off(), r.end()));
        }
        return end + tail;
    }

    interface ValueSource {
        float next(SplittableRandom rnd);
    }

    static void fill(float[] x, Region r, SplittableRandom rnd, ValueSource values) {
        for (int i = 0; i < r.rows(); i++) {
            for (int j = 0; j < r.cols(); j++) {
                x[r.index(i, j)] = values.next(rnd);
            }
        }
    }

    static void fill(float[] x, Region r, float value) {
        for (int i = 0; i < r.rows(); i++) {
            for (int j = 0; j < r.cols(); j++) {
                x[r.index(i, j)] = value;
            }
        }
    }

    /** Which array elements belong to one of the regions. */
    static boolean[] inside(int length, Region... regions) {
        boolean[] in = new boolean[length];
        for (Region r : regions) {
            for (int i = 0; i < r.rows(); i++) {
                for (int j = 0; j < r.cols(); j++) {
                    in[r.index(i, j)] = true;
                }
            }
        }
        return in;
    }

    // ---------------------------------------------------------------------------------------------
    // Comparisons.

    /** got is within bound of ref; NaN only where ref is NaN; infinities exact. */
    static boolean close(float got, float ref, double bound) {
        if (Float.isNaN(ref)) {
            return Float.isNaN(got);
        }
        if (Float.isInfinite(ref) || Float.isInfinite(got) || Float.isNaN(got)) {
            return got == ref;
        }
        return Math.abs((double) got - ref) <= bound;
    }

    /**
     * The whole-array check: elements inside the regions within {@code bound[i]} of {@code ref[i]};
     * every other element bit-identical to {@code original}. Reports the first few offenders.
     */
    static void assertArray(String what, float[] got, float[] original, boolean[] inside, float[] ref,
                            double[] bound) {
        if (got.length != original.length) {
            fail(what + ": length changed");
        }
        List<String> bad = new ArrayList<>();
        int count = 0;
        for (int i = 0; i < got.length; i++) {
            String problem = null;
            if (inside[i]) {
                if (!close(got[i], ref[i], bound[i])) {
                    problem = "[" + i + "] = " + got[i] + ", expected " + ref[i] + " +- " + bound[i]
                            + " (|diff| = " + Math.abs((double) got[i] - ref[i]) + ")";
                }
            } else if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(original[i])) {
                problem = "[" + i + "] is outside the output block but changed from "
                        + Bits.show(original[i]) + " to " + Bits.show(got[i]);
            }
            if (problem != null) {
                if (count++ < 5) {
                    bad.add(problem);
                }
            }
        }
        if (count > 0) {
            fail(count + " bad element(s) in " + what + "; first: " + String.join("; ", bad));
        }
    }

    /**
     * The command line of a child JVM running {@code mainClass} the way this JVM runs the tests: this
     * JVM's java, the given options, and this JVM's class path, plus its module path and the Lanes
     * module when the suite runs on the module path (the Surefire execution module-path).
     */
    static List<String> childJvm(String mainClass, String... options) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of(options));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null && !modulePath.isEmpty()) {
            cmd.addAll(List.of("--module-path", modulePath, "--add-modules", "dev.lanes.core",
                    "--add-exports", "dev.lanes.kernels/dev.lanes.kernels.internal=ALL-UNNAMED"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        return cmd;
    }

    // ---------------------------------------------------------------------------------------------
    // Warm-up: every kernel called thousands of times on small, varied shapes, so that the checks
    // that follow run C2-compiled code (and every branch has a profile, so C2 does not trap on it).

    private static boolean warm;

    static synchronized void warmUp() {
        if (warm) {
            return;
        }
        warm = true;
        long t0 = System.nanoTime();
        SplittableRandom rnd = new SplittableRandom(42);
        Tiling t = TILING;
        int kMax = Math.max(300, t.kc() + 20);
        float[] a = new float[64 * kMax];
        float[] b = new float[kMax * 200];
        float[] c = new float[64 * 200];
        for (int i = 0; i < a.length; i++) a[i] = uniform(rnd);
        for (int i = 0; i < b.length; i++) b[i] = uniform(rnd);
        for (int it = 0; it < 6000; it++) {
            boolean tiles = it % 4 == 0; // every 4th call: whole register tiles and KC blocking
            int m = 1 + rnd.nextInt(tiles ? 2 * t.mr() + 2 : 2 * L + 2);
            int n = 1 + rnd.nextInt(tiles ? Math.min(2 * t.nr() + 2, 190) : 2 * L + 2);
            int k = rnd.nextInt(tiles && it % 40 == 0 ? t.kc() + 20 : 40);
            Transpose ta = transpose(rnd), tb = transpose(rnd);
            float beta = pick(rnd, 0f, 1f, -0.5f);
            float alpha = it % 50 == 0 ? 0f : 1.25f;
            int lda = ta == Transpose.N ? k : m, ldb = tb == Transpose.N ? n : k;
            Gemm.sgemm(ta, tb, m, n, k, alpha, a, 0, Math.max(1, lda), b, 0, Math.max(1, ldb), beta, c, 0, n);
        }
        for (int it = 0; it < 300; it++) {
            int m = 1 + rnd.nextInt(12), n = 1 + rnd.nextInt(20), k = 1 + rnd.nextInt(20);
            Gemm.sgemmStridedBatched(3, Transpose.N, Transpose.N, m, n, k, 1f, a, 0, k, it % 2 == 0 ? 0 : m * k,
                    b, 0, n, n * k, 0.5f, c, 0, n, m * n);
        }
        float[] x = new float[8 * 300], mask = new float[8 * 300], y = new float[8 * 300], d = new float[8 * 300];
        for (int i = 0; i < x.length; i++) {
            x[i] = uniform(rnd) * 4;
            mask[i] = i % 7 == 0 ? Float.NEGATIVE_INFINITY : uniform(rnd);
            d[i] = uniform(rnd);
        }
        for (int it = 0; it < 8000; it++) {
            int rows = 1 + rnd.nextInt(4), cols = rnd.nextInt(it % 10 == 0 ? 300 : 3 * L + 3) + 1;
            boolean causal = it % 3 == 0;
            float[] mk = it % 2 == 0 ? mask : null;
            Softmax.forward(rows, cols, pick(rnd, 1f, 0.125f, 2f), causal, rnd.nextInt(5) - 2, mk, 0, cols,
                    x, 0, cols, y, 0, cols);
            Softmax.backward(rows, cols, 1.5f, d, 0, cols, y, 0, cols, c, 0, cols);
            ResidualAdd.forward(rows, cols, 0.5f, x, 0, cols, d, 0, cols, it % 2 == 0 ? mask : null, 1,
                    y, 0, cols);
            ResidualAdd.backward(rows, cols, -0.5f, d, 0, cols, it % 3 == 0 ? null : c, 0, cols, b, 0, cols,
                    it % 2 == 0 ? a : null, 0);
        }
        // Rows that take the rare branches: all -inf, and +inf maxima.
        float[] edge = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 1f,
                3e38f, 3e38f, -3e38f, 0f};
        for (int it = 0; it < 2000; it++) {
            Softmax.forward(2, 4, it % 2 == 0 ? 1f : 2f, false, 0, it % 3 == 0 ? mask : null, 0, 4, edge, 0, 4,
                    y, 0, 4);
        }
        System.out.printf("Lanes tests: JIT warm-up took %d ms (%s, tiling %s)%n",
                (System.nanoTime() - t0) / 1_000_000, Backend.describe(), TILING);
    }
}
