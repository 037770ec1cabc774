package dev.lanes.tests;

import static dev.lanes.kernels.Transpose.N;
import static dev.lanes.kernels.Transpose.T;
import static dev.lanes.tests.TestSupport.TILING;
import static dev.lanes.tests.TestSupport.uniform;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Eight threads call each kernel at the same time on shared, read-only inputs with private outputs;
 * every result must carry exactly the bits that one thread alone produced (the kernels keep per-thread
 * workspaces and no shared mutable state). Also: the bits of a GEMM do not depend on the size of the
 * team it runs on, and one team shared by eight callers gives the serial bits.
 *
 * <p>Concurrent callers do not all run the same machine code: a caller whose compiled frame was
 * deoptimised runs interpreted while the others run C2 code. So "the same bits as one thread alone"
 * needs bits that do not depend on the JIT tier, which {@link #bitsDoNotDependOnTheJitTier} checks
 * deterministically against a child JVM running with -Xint.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS) // a deadlock fails instead of hanging the build
class ConcurrencyTest {
    static final int THREADS = 8;

    @BeforeAll
    static void warmUp() {
        TestSupport.warmUp();
    }

    /** Runs task on 8 threads started together, `iterations` times each; all results must equal `expected`. */
    private static void hammer(String what, int iterations, Supplier<float[]> task) throws Exception {
        float[] expected = task.get(); // one thread alone
        CyclicBarrier start = new CyclicBarrier(THREADS);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                results.add(pool.submit(() -> {
                    start.await();
                    for (int it = 0; it < iterations; it++) {
                        float[] got = task.get();
                        String diff = firstDifference(got, expected);
                        if (diff != null) {
                            return what + ": thread " + thread + " iteration " + it + ": " + diff;
                        }
                    }
                    return null;
                }));
            }
            List<String> failures = new ArrayList<>();
            for (Future<String> f : results) {
                String r = f.get(100, TimeUnit.SECONDS);
                if (r != null) failures.add(r);
            }
            assertThat(failures).as("results differing from the single-threaded bits").isEmpty();
        } finally {
            pool.shutdownNow();
        }
    }

    private static String firstDifference(float[] got, float[] expected) {
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(expected[i])) {
                return "element " + i + " = " + got[i] + ", alone " + expected[i];
            }
        }
        return null;
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = uniform(rnd);
        return x;
    }

    /** A product spanning several MC row blocks, NC column blocks and KC depth blocks. */
    @Test
    void gemmLargeEnoughForSeveralBlocks() throws Exception {
        var t = TILING;
        int m = 2 * t.mc() + 7, n = t.nc() + t.nr() + 3, k = 2 * t.kc() + 5;
        SplittableRandom rnd = new SplittableRandom(301);
        float[] a = random(rnd, m * k), b = random(rnd, k * n), c0 = random(rnd, m * n);
        for (Transpose[] tt : new Transpose[][] {{N, N}, {T, T}}) {
            int lda = tt[0] == N ? k : m, ldb = tt[1] == N ? n : k;
            hammer("sgemm " + tt[0] + tt[1] + " " + m + "x" + n + "x" + k, 3, () -> {
                float[] c = c0.clone();
                Gemm.sgemm(tt[0], tt[1], m, n, k, 0.5f, a, 0, lda, b, 0, ldb, -1f, c, 0, n);
                return c;
            });
        }
    }

    /** Many small products of all shapes: the per-thread workspaces and edge tiles under contention. */
    @Test
    void gemmSmallShapes() throws Exception {
        SplittableRandom rnd = new SplittableRandom(302);
        int count = 60;
        int[][] shapes = new int[count][];
        Transpose[][] trans = new Transpose[count][];
        for (int i = 0; i < count; i++) {
            shapes[i] = new int[] {1 + rnd.nextInt(3 * TILING.mr()), 1 + rnd.nextInt(2 * TILING.nr()), rnd.nextInt(300)};
            trans[i] = new Transpose[] {TestSupport.transpose(rnd), TestSupport.transpose(rnd)};
        }
        int max = 3 * TILING.mr() * 300 + 2 * TILING.nr() * 300;
        float[] a = random(rnd, max), b = random(rnd, 2 * TILING.nr() * 300);
        hammer("many small sgemm", 10, () -> {
            float[] out = new float[count * 3 * TILING.mr() * 2 * TILING.nr()];
            int o = 0;
            for (int i = 0; i < count; i++) {
                int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
                int lda = Math.max(1, trans[i][0] == N ? k : m), ldb = Math.max(1, trans[i][1] == N ? n : k);
                Gemm.sgemm(trans[i][0], trans[i][1], m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, out, o, n);
                o += m * n;
            }
            return out;
        });
    }

    @Test
    void gemmStridedBatched() throws Exception {
        SplittableRandom rnd = new SplittableRandom(303);
        int batch = 6, m = 37, n = 70, k = 129;
        float[] a = random(rnd, batch * m * k), b = random(rnd, k * n), c0 = random(rnd, batch * m * n);
        hammer("sgemmStridedBatched, shared B", 5, () -> {
            float[] c = c0.clone();
            Gemm.sgemmStridedBatched(batch, N, T, m, n, k, 1.5f, a, 0, k, m * k, b, 0, k, 0, 0.25f, c, 0, n, m * n);
            return c;
        });
    }

    /** Eight callers share one team: they take turns on it, and every result is the serial result. */
    @Test
    void oneTeamSharedByEightCallers() throws Exception {
        var t = TILING;
        int m = t.mc() + 11, n = 2 * t.nr() + 5, k = t.kc() + 9; // above the parallel threshold, split by rows
        SplittableRandom rnd = new SplittableRandom(304);
        float[] a = random(rnd, m * k), b = random(rnd, k * n);
        float[] serial = new float[m * n];
        Gemm.sgemm(Parallelism.serial(), N, N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, serial, 0, n);
        try (Parallelism team = Parallelism.fixed(3)) {
            hammer("sgemm on a shared team of 3", 5, () -> {
                float[] c = new float[m * n];
                Gemm.sgemm(team, N, N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
                String diff = firstDifference(c, serial);
                if (diff != null) throw new AssertionError("team result differs from serial: " + diff);
                return c;
            });
        }
    }

    /** Same bits on teams of 1..4 and 8 threads: row split (m >= n), column split (m < n), batches. */
    @Test
    void gemmBitsDoNotDependOnTeamSize() {
        var t = TILING;
        SplittableRandom rnd = new SplittableRandom(305);
        int[][] shapes = {{5 * t.mc() + 13, 131, 300}, {37, t.nc() + 3 * t.nr() + 7, 300}, {t.mr() * 7 + 1, t.nr() * 9 - 5, 2 * t.kc() + 1}};
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            float[] a = random(rnd, m * k), b = random(rnd, k * n), c0 = random(rnd, m * n);
            for (Transpose[] tt : new Transpose[][] {{N, N}, {T, N}, {N, T}, {T, T}}) {
                int lda = tt[0] == N ? k : m, ldb = tt[1] == N ? n : k;
                float[] serial = c0.clone();
                Gemm.sgemm(Parallelism.serial(), tt[0], tt[1], m, n, k, -0.5f, a, 0, lda, b, 0, ldb, 2f, serial, 0, n);
                for (int threads : new int[] {2, 3, 4, 8}) {
                    try (Parallelism team = Parallelism.fixed(threads)) {
                        float[] c = c0.clone();
                        Gemm.sgemm(team, tt[0], tt[1], m, n, k, -0.5f, a, 0, lda, b, 0, ldb, 2f, c, 0, n);
                        assertThat(firstDifference(c, serial)).as("%s%s %dx%dx%d on %d threads vs serial",
                                tt[0], tt[1], m, n, k, threads).isNull();
                    }
                }
            }
        }
        // batches: more entries than threads (whole products per thread) and fewer (each product split)
        for (int batch : new int[] {2, 9}) {
            int m = 70, n = 150, k = 100;
            float[] a = random(rnd, batch * m * k), b = random(rnd, batch * k * n), c0 = random(rnd, batch * m * n);
            float[] serial = c0.clone();
            Gemm.sgemmStridedBatched(Parallelism.serial(), batch, N, N, m, n, k, 1f, a, 0, k, m * k, b, 0, n, k * n,
                    1f, serial, 0, n, m * n);
            for (int threads : new int[] {2, 3, 8}) {
                try (Parallelism team = Parallelism.fixed(threads)) {
                    float[] c = c0.clone();
                    Gemm.sgemmStridedBatched(team, batch, N, N, m, n, k, 1f, a, 0, k, m * k, b, 0, n, k * n,
                            1f, c, 0, n, m * n);
                    assertThat(firstDifference(c, serial)).as("batch=%d on %d threads vs serial", batch, threads).isNull();
                }
            }
        }
    }

    @Test
    void softmaxForwardAndBackward() throws Exception {
        int rows = 64, cols = 517;
        SplittableRandom rnd = new SplittableRandom(306);
        float[] x = random(rnd, rows * cols), mask = random(rnd, rows * cols), dy = random(rnd, rows * cols);
        for (int i = 0; i < mask.length; i += 7) mask[i] = Float.NEGATIVE_INFINITY;
        float[] y = new float[rows * cols];
        Softmax.forward(rows, cols, 1.7f, true, cols - rows, mask, 0, cols, x, 0, cols, y, 0, cols);
        float[] dx0 = random(rnd, rows * cols);
        hammer("softmax forward", 20, () -> {
            float[] out = new float[rows * cols];
            Softmax.forward(rows, cols, 1.7f, true, cols - rows, mask, 0, cols, x, 0, cols, out, 0, cols);
            return out;
        });
        hammer("softmax backward", 20, () -> {
            float[] dx = dx0.clone();
            Softmax.backward(rows, cols, 1.7f, dy, 0, cols, y, 0, cols, dx, 0, cols);
            return dx;
        });
    }

    @Test
    void residualAddForwardAndBackward() throws Exception {
        int rows = 64, cols = 517;
        SplittableRandom rnd = new SplittableRandom(307);
        float[] x = random(rnd, rows * cols), f = random(rnd, rows * cols), bias = random(rnd, cols);
        float[] dy = random(rnd, rows * cols), acc = random(rnd, 2 * rows * cols + cols);
        hammer("residual forward", 20, () -> {
            float[] y = new float[rows * cols];
            ResidualAdd.forward(rows, cols, 0.5f, x, 0, cols, f, 0, cols, bias, 0, y, 0, cols);
            return y;
        });
        hammer("residual backward", 20, () -> {
            float[] g = acc.clone(); // dx, df and dbias side by side in one private array
            ResidualAdd.backward(rows, cols, -1.25f, dy, 0, cols, g, 0, cols, g, rows * cols, cols, g, 2 * rows * cols);
            return g;
        });
    }

    // ---------------------------------------------------------------------------------------------
    // JIT-tier independence.

    /** Small fixed-seed calls of every kernel; run both in the child JVM (-Xint) and here (C2). */
    static Map<String, float[]> tierOutputs() {
        Map<String, float[]> out = new LinkedHashMap<>();
        SplittableRandom rnd = new SplittableRandom(308);
        int m = 13, n = 70, k = 40;
        float[] a = random(rnd, m * k), b = random(rnd, k * n), c = random(rnd, m * n);
        for (Transpose[] tt : new Transpose[][] {{N, N}, {T, T}}) {
            float[] cc = c.clone();
            Gemm.sgemm(tt[0], tt[1], m, n, k, 0.75f, a, 0, tt[0] == N ? k : m, b, 0, tt[1] == N ? n : k, 0.5f, cc, 0, n);
            out.put("sgemm " + tt[0] + tt[1], cc);
        }
        int rows = 4, cols = 100;
        float[] x = random(rnd, rows * cols), mask = random(rnd, rows * cols), dy = random(rnd, rows * cols);
        float[] y = new float[rows * cols];
        Softmax.forward(rows, cols, 2f, true, cols - rows, mask, 0, cols, x, 0, cols, y, 0, cols);
        out.put("softmax forward", y);
        float[] dx = random(rnd, rows * cols);
        Softmax.backward(rows, cols, 2f, dy, 0, cols, y, 0, cols, dx, 0, cols);
        out.put("softmax backward", dx);
        float[] bias = random(rnd, cols), r = new float[rows * cols];
        ResidualAdd.forward(rows, cols, -0.5f, x, 0, cols, mask, 0, cols, bias, 0, r, 0, cols);
        out.put("residual forward", r);
        float[] g = random(rnd, 2 * rows * cols + cols);
        ResidualAdd.backward(rows, cols, 1.5f, dy, 0, cols, g, 0, cols, g, rows * cols, cols, g, 2 * rows * cols);
        out.put("residual backward", g);
        // the layer kernels: GELU's exp is VectorMath's; the norms reduce lanes in a fixed order
        float[] big = random(rnd, 300);
        for (int i = 0; i < big.length; i += 7) big[i] *= 40; // the saturated tails too
        float[] gy = new float[300], gdx = random(rnd, 300);
        dev.lanes.kernels.Activations.geluForward(300, big, 0, gy, 0);
        out.put("gelu forward", gy);
        dev.lanes.kernels.Activations.geluBackward(300, gy, 0, big, 0, gdx, 0);
        out.put("gelu backward", gdx);
        float[] stats = new float[2 * rows], ln = new float[rows * cols], lndx = random(rnd, rows * cols);
        float[] lndg = new float[2 * cols];
        dev.lanes.kernels.Norms.layerNormForward(rows, cols, 1e-5f, x, 0, cols, bias, 0, dy, 0, ln, 0, cols,
                stats, 0, stats, rows);
        dev.lanes.kernels.Norms.layerNormBackward(rows, cols, mask, 0, cols, x, 0, cols, bias, 0, stats, 0, stats, rows,
                lndx, 0, cols, lndg, 0, lndg, cols);
        out.put("layer norm", concat(ln, stats, lndx, lndg));
        float[] rr = new float[rows], rmsY = new float[rows * cols], rmsDx = random(rnd, rows * cols), rmsDg = new float[cols];
        dev.lanes.kernels.Norms.rmsNormForward(rows, cols, 1e-5f, x, 0, cols, bias, 0, rmsY, 0, cols, rr, 0);
        dev.lanes.kernels.Norms.rmsNormBackward(rows, cols, mask, 0, cols, x, 0, cols, bias, 0, rr, 0, rmsDx, 0, cols, rmsDg, 0);
        out.put("rms norm", concat(rmsY, rr, rmsDx, rmsDg));
        float[] ap = random(rnd, 100), am = random(rnd, 100), av = random(rnd, 100);
        for (int i = 0; i < 100; i++) av[i] = Math.abs(av[i]);
        dev.lanes.kernels.Optimizers.adamW(100, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 3, dy, 0, ap, 0, am, 0, av, 0);
        out.put("adamW", concat(ap, am, av));
        return out;
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] all = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    /** Child JVM entry point: prints each kernel's output bits, one line per kernel. */
    public static final class TierProbe {
        public static void main(String[] args) {
            for (var e : tierOutputs().entrySet()) {
                StringBuilder line = new StringBuilder(e.getKey()).append(':');
                for (float v : e.getValue()) line.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(v)));
                System.out.println(line);
            }
        }
    }

    /**
     * The same calls interpreted (-Xint: the Vector API's Java fallbacks) and C2-compiled (intrinsics)
     * must give the same bits. Float ADD reductions ({@code reduceLanes}) and lanewise EXP are
     * documented to allow different results at different times, so kernels that want reproducible
     * bits must not rely on them.
     */
    @Test
    void bitsDoNotDependOnTheJitTier() throws Exception {
        Process p = new ProcessBuilder(TestSupport.childJvm(TierProbe.class.getName(), Backend.FLAG, "-Xint"))
                .redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(100, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(text).isZero();
        Map<String, int[]> interpreted = new LinkedHashMap<>();
        for (String line : text.split("\\R")) {
            int colon = line.indexOf(':');
            // the probe's lines only: the JVM's and Lanes' log lines (e.g. the GEMM tuning in force) are skipped
            if (colon < 0 || !line.matches("[\\w. ]+:( [0-9a-f]+)*")) continue;
            String[] hex = line.substring(colon + 1).trim().split(" ");
            int[] bits = new int[hex.length];
            for (int i = 0; i < hex.length; i++) bits[i] = Integer.parseUnsignedInt(hex[i], 16);
            interpreted.put(line.substring(0, colon), bits);
        }
        Map<String, float[]> compiled = null;
        for (int i = 0; i < 3000; i++) compiled = tierOutputs(); // hot: C2 code
        List<String> differences = new ArrayList<>();
        for (var e : compiled.entrySet()) {
            int[] ref = interpreted.get(e.getKey());
            assertThat(ref).as("probe output for %s in:%n%s", e.getKey(), text).isNotNull();
            float[] got = e.getValue();
            int count = 0, first = -1;
            for (int i = 0; i < got.length; i++) {
                if (Float.floatToRawIntBits(got[i]) != ref[i]) {
                    if (count++ == 0) first = i;
                }
            }
            if (count > 0) {
                differences.add(String.format("%s: %d of %d elements differ, first [%d]: interpreted %s, compiled %s",
                        e.getKey(), count, got.length, first, Float.intBitsToFloat(ref[first]), got[first]));
            }
        }
        assertThat(differences).as("outputs whose bits depend on the JIT tier").isEmpty();
    }
}
