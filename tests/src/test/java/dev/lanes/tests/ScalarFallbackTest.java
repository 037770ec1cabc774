package dev.lanes.tests;

import static dev.lanes.tests.TestSupport.EPS;
import static dev.lanes.tests.Bits.assertSameBits;
import static dev.lanes.tests.TestSupport.uniform;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.lanes.kernels.Activations;
import dev.lanes.kernels.ActivationsScalar;
import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.GemmScalar;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.NormsScalar;
import dev.lanes.kernels.Optimizers;
import dev.lanes.kernels.OptimizersScalar;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.ResidualAddScalar;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.SoftmaxScalar;
import dev.lanes.kernels.Transpose;
import dev.lanes.tests.KernelCases.GemmCase;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs only in the surefire execution {@code without-vector-module}: a JVM started without
 * {@code --add-modules=jdk.incubator.vector}. There the library must fall back to the scalar twins,
 * say so once, and still compute the contract: the facades match the twins bit for bit (they delegate)
 * and a naive double-precision computation written here within a few ulps.
 */
@Tag("no-vector-module")
class ScalarFallbackTest {

    @Test
    void backendReportsTheScalarPathAndTheMissingFlag() {
        assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector"))
                .as("this execution must run without the vector module").isEmpty();
        assertThat(Backend.simdEnabled()).isFalse();
        assertThat(Backend.describe()).startsWith("scalar").contains(Backend.FLAG);
    }

    /** A fresh JVM (this one's java, class path, no module flag) logs exactly one warning naming the flag. */
    @Test
    void oneWarningNamesTheFlag() throws IOException, InterruptedException {
        Process p = new ProcessBuilder(TestSupport.childJvm(Probe.class.getName()))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        long warnings = out.lines().filter(l -> l.contains(Backend.FLAG)).count();
        assertThat(out).contains("probe: scalar");
        // the describe() line printed by the probe names the flag too; the log names it once more
        assertThat(warnings).as("lines naming %s in:%n%s", Backend.FLAG, out).isEqualTo(2);
        assertThat(out.lines().filter(l -> l.contains("Lanes runs its scalar kernels")).count()).as(out).isEqualTo(1);
    }

    /** Entry point of the child JVM above: uses every facade a few times, prints the backend. */
    public static final class Probe {
        public static void main(String[] args) {
            float[] a = {1, 2}, b = {3, 4}, c = new float[4], d = new float[4];
            for (int i = 0; i < 3; i++) {
                Gemm.sgemm(Transpose.N, Transpose.N, 2, 2, 1, 1f, a, 0, 1, b, 0, 2, 0f, c, 0, 2);
                Softmax.forward(2, 2, c, 0, 2, c, 0, 2);
                ResidualAdd.forward(1, 2, a, 0, 2, b, 0, 2, c, 0, 2);
                Activations.geluForward(2, a, 0, c, 0);
                Activations.geluBackward(2, a, 0, b, 0, c, 0);
                Norms.layerNormForward(1, 2, 1e-5f, a, 0, 2, b, 0, a, 0, c, 0, 2, c, 2, c, 3);
                Norms.rmsNormBackward(1, 2, a, 0, 2, b, 0, 2, a, 0, c, 3, d, 0, 2, d, 2); // dgamma apart from rstd
                Optimizers.adamW(1, 1e-3f, 0.9f, 0.95f, 1e-8f, 0f, 1, a, 0, b, 0, c, 0, c, 1);
            }
            System.out.println("probe: " + Backend.describe());
        }
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void gemmMatchesTwinAndNaive() {
        SplittableRandom rnd = new SplittableRandom(201);
        int[] sizes = {0, 1, 7, 16, 17, 33, 65, 130};
        try (Parallelism team = Parallelism.fixed(2)) {
            int i = 0;
            for (int m : sizes) {
                for (int n : sizes) {
                    for (int k : new int[] {0, 1, 13, 257}) {
                        Transpose ta = (i & 1) == 0 ? Transpose.N : Transpose.T;
                        Transpose tb = (i & 2) == 0 ? Transpose.N : Transpose.T;
                        float alpha = i % 5 == 0 ? 0f : 1.5f, beta = i % 3 == 0 ? 0f : -0.5f;
                        gemmCase(rnd, ta, tb, m, n, k, alpha, beta, i % 4 == 0 ? team : null);
                        i++;
                    }
                }
            }
        }
        // the differential harness as well: sentinel padding, NaN C under beta == 0, batches
        for (int q = 0; q < 200; q++) {
            Transpose ta = TestSupport.transpose(rnd), tb = TestSupport.transpose(rnd);
            GemmCase c = GemmCase.of(ta, tb, rnd.nextInt(20), rnd.nextInt(40), rnd.nextInt(30), 1f,
                    q % 2 == 0 ? 0f : 2f, rnd);
            c.check(rnd);
            c.batched(3, 0, GemmCase.extent(c.bRows(), c.bCols(), c.ldb()), GemmCase.extent(c.m(), c.n(), c.ldc()))
                    .check(rnd);
        }
    }

    private static void gemmCase(SplittableRandom rnd, Transpose ta, Transpose tb, int m, int n, int k, float alpha,
                                 float beta, Parallelism team) {
        int lda = Math.max(1, ta == Transpose.N ? k : m) + 1, ldb = Math.max(1, tb == Transpose.N ? n : k) + 2;
        int ldc = Math.max(1, n) + 3;
        int aRows = ta == Transpose.N ? m : k, bRows = tb == Transpose.N ? k : n;
        float[] a = new float[aRows * lda + 1], b = new float[bRows * ldb + 2], c = new float[m * ldc + 3];
        for (int i = 0; i < a.length; i++) a[i] = uniform(rnd);
        for (int i = 0; i < b.length; i++) b[i] = uniform(rnd);
        for (int i = 0; i < c.length; i++) c[i] = beta == 0f ? Float.NaN : uniform(rnd);
        float[] got = c.clone(), twin = c.clone();
        if (team == null) {
            Gemm.sgemm(ta, tb, m, n, k, alpha, a, 1, lda, b, 2, ldb, beta, got, 3, ldc);
        } else {
            Gemm.sgemm(team, ta, tb, m, n, k, alpha, a, 1, lda, b, 2, ldb, beta, got, 3, ldc);
        }
        GemmScalar.sgemm(ta, tb, m, n, k, alpha, a, 1, lda, b, 2, ldb, beta, twin, 3, ldc);
        String what = ta + "" + tb + " m=" + m + " n=" + n + " k=" + k;
        assertSameBits("C vs the twin, " + what, twin, got);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0, abs = 0;
                for (int p = 0; p < k && alpha != 0f; p++) {
                    double av = ta == Transpose.N ? a[1 + i * lda + p] : a[1 + p * lda + i];
                    double bv = tb == Transpose.N ? b[2 + p * ldb + j] : b[2 + j * ldb + p];
                    dot += av * bv;
                    abs += Math.abs(av * bv);
                }
                double c0 = beta == 0f ? 0 : c[3 + i * ldc + j];
                double want = alpha * dot + beta * c0;
                double bound = 2 * (k + 4) * EPS * (Math.abs(alpha) * abs + Math.abs(beta * c0)) + Float.MIN_NORMAL;
                float v = got[3 + i * ldc + j];
                if (!(Math.abs(v - want) <= bound)) {
                    fail("C[%d][%d] = %s, naive %s +- %s (%s)", i, j, v, want, bound, what);
                }
            }
        }
    }

    @Test
    void softmaxMatchesTwinAndNaive() {
        SplittableRandom rnd = new SplittableRandom(202);
        for (int cols : new int[] {1, 7, 16, 17, 100}) {
            int rows = 4;
            float[] x = new float[rows * cols], mask = new float[rows * cols], dy = new float[rows * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = uniform(rnd) * 3;
                mask[i] = rnd.nextInt(5) == 0 ? Float.NEGATIVE_INFINITY : uniform(rnd);
                dy[i] = uniform(rnd);
            }
            for (boolean causal : new boolean[] {false, true}) {
                float scale = causal ? 0.5f : 1.25f;
                float[] y = new float[rows * cols], yt = new float[rows * cols];
                Softmax.forward(rows, cols, scale, causal, -1, mask, 0, cols, x, 0, cols, y, 0, cols);
                SoftmaxScalar.forward(rows, cols, scale, causal, -1, mask, 0, cols, x, 0, cols, yt, 0, cols);
                assertSameBits("softmax y vs the twin", yt, y);
                for (int i = 0; i < rows; i++) {
                    double[] xr = new double[cols], mr = new double[cols];
                    for (int j = 0; j < cols; j++) {
                        xr[j] = x[i * cols + j];
                        mr[j] = mask[i * cols + j];
                    }
                    int visible = causal ? Math.max(0, Math.min(cols, i)) : cols;
                    double[] want = SoftmaxTest.softmaxRow(xr, mr, scale, visible);
                    for (int j = 0; j < cols; j++) {
                        assertThat((double) y[i * cols + j]).as("y[%d][%d] cols=%d", i, j, cols)
                                .isCloseTo(want[j], org.assertj.core.data.Offset.offset(1e-6 * want[j] + 1e-30));
                    }
                }
                float[] dx = new float[rows * cols], dxt = new float[rows * cols];
                Softmax.backward(rows, cols, scale, dy, 0, cols, y, 0, cols, dx, 0, cols);
                SoftmaxScalar.backward(rows, cols, scale, dy, 0, cols, y, 0, cols, dxt, 0, cols);
                assertSameBits("softmax dx vs the twin", dxt, dx);
                for (int i = 0; i < rows; i++) {
                    double dot = 0;
                    for (int j = 0; j < cols; j++) dot += (double) dy[i * cols + j] * y[i * cols + j];
                    for (int j = 0; j < cols; j++) {
                        double want = scale * (double) y[i * cols + j] * (dy[i * cols + j] - dot);
                        assertThat((double) dx[i * cols + j]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-6));
                    }
                }
            }
        }
    }

    @Test
    void residualAddMatchesTwinAndNaive() {
        SplittableRandom rnd = new SplittableRandom(203);
        for (int cols : new int[] {1, 7, 16, 17, 100}) {
            int rows = 3;
            float[] x = new float[rows * cols], f = new float[rows * cols], bias = new float[cols];
            float[] dy = new float[rows * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = uniform(rnd);
                f[i] = uniform(rnd);
                dy[i] = uniform(rnd);
            }
            for (int j = 0; j < cols; j++) bias[j] = uniform(rnd);
            float[] y = new float[rows * cols], yt = new float[rows * cols];
            ResidualAdd.forward(rows, cols, -0.75f, x, 0, cols, f, 0, cols, bias, 0, y, 0, cols);
            ResidualAddScalar.forward(rows, cols, -0.75f, x, 0, cols, f, 0, cols, bias, 0, yt, 0, cols);
            assertSameBits("residual y vs the twin", yt, y);
            for (int i = 0; i < y.length; i++) {
                double want = x[i] - 0.75 * ((double) f[i] + bias[i % cols]);
                assertThat((double) y[i]).isCloseTo(want, org.assertj.core.data.Offset.offset(2 * EPS * 3));
            }
            float[] dx = new float[rows * cols], df = new float[rows * cols], db = new float[cols];
            float[] dxt = dx.clone(), dft = df.clone(), dbt = db.clone();
            ResidualAdd.backward(rows, cols, 2f, dy, 0, cols, dx, 0, cols, df, 0, cols, db, 0);
            ResidualAddScalar.backward(rows, cols, 2f, dy, 0, cols, dxt, 0, cols, dft, 0, cols, dbt, 0);
            assertSameBits("residual dx vs the twin", dxt, dx);
            assertSameBits("residual df vs the twin", dft, df);
            assertSameBits("residual dbias vs the twin", dbt, db);
            List<String> bad = new ArrayList<>();
            for (int j = 0; j < cols; j++) {
                double sum = 0;
                for (int i = 0; i < rows; i++) {
                    sum += dy[i * cols + j];
                    if (dx[i * cols + j] != dy[i * cols + j] || df[i * cols + j] != 2 * dy[i * cols + j]) {
                        bad.add("(" + i + "," + j + ")");
                    }
                }
                if (Math.abs(db[j] - 2 * sum) > 1e-6) bad.add("dbias " + j);
            }
            assertThat(bad).isEmpty();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // The layer kernels: GELU, the norms and AdamW run their scalar twins here.

    @Test
    void geluMatchesTwinAndReferenceOnEveryTeam() {
        SplittableRandom rnd = new SplittableRandom(204);
        try (Parallelism two = Parallelism.fixed(2)) {
            for (int n : new int[] {0, 1, 17, 33, 4099, 70_001}) {
                float[] x = ActivationsTest.inputs(rnd, n, 1), dy = new float[n], dx0 = new float[n];
                for (int i = 0; i < n; i++) {
                    dy[i] = uniform(rnd);
                    dx0[i] = uniform(rnd);
                }
                float[] y = new float[n], yt = new float[n], y2 = new float[n];
                Activations.geluForward(n, x, 1, y, 0);
                Activations.geluForward(two, n, x, 1, y2, 0);
                ActivationsScalar.geluForward(n, x, 1, yt, 0);
                assertSameBits("gelu y vs the twin", yt, y);
                assertSameBits("gelu y, two threads", yt, y2);
                float[] dx = dx0.clone(), dxt = dx0.clone(), dx2 = dx0.clone();
                Activations.geluBackward(n, dy, 0, x, 1, dx, 0);
                Activations.geluBackward(two, n, dy, 0, x, 1, dx2, 0);
                ActivationsScalar.geluBackward(n, dy, 0, x, 1, dxt, 0);
                assertSameBits("gelu dx vs the twin", dxt, dx);
                assertSameBits("gelu dx, two threads", dxt, dx2);
                for (int i = 0; i < n; i++) {
                    double xv = x[1 + i];
                    assertThat(Math.abs(y[i] - ActivationsTest.geluRef(xv))).as("y(%s)", xv)
                            .isLessThanOrEqualTo(ActivationsTest.forwardBound(xv));
                    double want = dx0[i] + ActivationsTest.geluGradRef(xv) * dy[i];
                    assertThat(Math.abs(dx[i] - want)).as("dx at x=%s", xv)
                            .isLessThanOrEqualTo(ActivationsTest.backwardBound(xv, dy[i], dx0[i]));
                }
            }
        }
    }

    @Test
    void normsMatchReferenceAndTwinOnEveryTeam() {
        SplittableRandom rnd = new SplittableRandom(205);
        for (int rows : new int[] {0, 1, 33, 70}) {
            for (int cols : new int[] {0, 1, 17, 97}) {
                NormsTest.check(rows, cols, false, false, rnd);
                NormsTest.check(rows, cols, false, true, rnd);
            }
        }
        int rows = 100, cols = 45;
        float[] x = new float[rows * cols], dy = new float[rows * cols], g = new float[cols], b = new float[cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = uniform(rnd) * 3 + 1;
            dy[i] = uniform(rnd);
        }
        for (int j = 0; j < cols; j++) {
            g[j] = 1 + uniform(rnd);
            b[j] = uniform(rnd);
        }
        float[] y1 = new float[x.length], m1 = new float[rows], r1 = new float[rows], dx1 = new float[x.length];
        float[] dg1 = new float[cols], db1 = new float[cols];
        NormsScalar.layerNormForward(rows, cols, 1e-5f, x, 0, cols, g, 0, b, 0, y1, 0, cols, m1, 0, r1, 0);
        NormsScalar.layerNormBackward(rows, cols, dy, 0, cols, x, 0, cols, g, 0, m1, 0, r1, 0, dx1, 0, cols, dg1, 0, db1, 0);
        try (Parallelism three = Parallelism.fixed(3)) {
            for (Parallelism team : new Parallelism[] {Parallelism.serial(), three}) {
                float[] y = new float[x.length], m = new float[rows], r = new float[rows], dx = new float[x.length];
                float[] dg = new float[cols], db = new float[cols];
                Norms.layerNormForward(team, rows, cols, 1e-5f, x, 0, cols, g, 0, b, 0, y, 0, cols, m, 0, r, 0);
                Norms.layerNormBackward(team, rows, cols, dy, 0, cols, x, 0, cols, g, 0, m, 0, r, 0, dx, 0, cols, dg, 0, db, 0);
                assertSameBits("layer norm y vs the twin, " + team, y1, y);
                assertSameBits("layer norm dx vs the twin, " + team, dx1, dx);
                assertSameBits("layer norm dgamma vs the twin, " + team, dg1, dg);
                assertSameBits("layer norm dbeta vs the twin, " + team, db1, db);
            }
        }
    }

    @Test
    void adamWMatchesTwin() {
        SplittableRandom rnd = new SplittableRandom(206);
        int n = 40_000;
        float[] g = new float[n], p = new float[n], m = new float[n], v = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = uniform(rnd) * 0.1f;
            p[i] = uniform(rnd);
        }
        float[] p2 = p.clone(), m2 = m.clone(), v2 = v.clone(), p3 = p.clone(), m3 = m.clone(), v3 = v.clone();
        try (Parallelism two = Parallelism.fixed(2)) {
            for (int t = 1; t <= 3; t++) {
                Optimizers.adamW(n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, t, g, 0, p, 0, m, 0, v, 0);
                Optimizers.adamW(two, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, t, g, 0, p3, 0, m3, 0, v3, 0);
                OptimizersTest.originalLoop(n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, t, g, 0, p2, 0, m2, 0, v2, 0);
            }
        }
        assertSameBits("adamW params vs the original loop", p2, p);
        assertSameBits("adamW m", m2, m);
        assertSameBits("adamW v", v2, v);
        assertSameBits("adamW params, two threads", p2, p3);
        float[] p4 = new float[] {1f};
        OptimizersScalar.adamW(1, 1e-3f, 0.9f, 0.95f, 1e-8f, 0f, 1, new float[] {1f}, 0, p4, 0, new float[1], 0, new float[1], 0);
        assertThat(p4[0]).isLessThan(1f);
    }
}
