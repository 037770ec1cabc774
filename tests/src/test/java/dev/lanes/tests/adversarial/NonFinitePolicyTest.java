package dev.lanes.tests.adversarial;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.CrossEntropy;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.ParamLayout;
import dev.lanes.kernels.Activations;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Optimizers;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * One test per row of the README's NaN/Inf table ("Errors and non-finite values"): what each operation
 * does with NaN and +-Inf input. Rows are named as in the table.
 */
class NonFinitePolicyTest {
    static final float NAN = Float.NaN, INF = Float.POSITIVE_INFINITY;
    static final int R = 3, C = 20; // C > one vector of 16 lanes: the vector body and the tail both run

    static float[] ramp(int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = scale * (1 + i % 7);
        }
        return x;
    }

    static void assertRow(float[] y, int row, int cols, String what, java.util.function.Predicate<Float> p) {
        for (int j = 0; j < cols; j++) {
            assertThat(p.test(y[row * cols + j])).as("%s: element (%d, %d) = %s", what, row, j, y[row * cols + j])
                    .isTrue();
        }
    }

    static boolean finite(float v) {
        return Float.isFinite(v);
    }

    /** Gemm: IEEE propagation along the rows a non-finite element of A reaches; beta == 0 never reads C. */
    @Test
    void gemm() {
        int m = R, n = C, k = 5;
        float[] a = ramp(m * k, 0.1f), b = ramp(k * n, 0.2f), c = new float[m * n];
        a[1 * k + 2] = NAN;
        Gemm.sgemm(Transpose.N, Transpose.N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
        assertRow(c, 1, n, "NaN in row 1 of A", e -> Float.isNaN(e));
        assertRow(c, 0, n, "other rows", NonFinitePolicyTest::finite);
        assertRow(c, 2, n, "other rows", NonFinitePolicyTest::finite);
        a[1 * k + 2] = INF; // b > 0 everywhere: +Inf
        Gemm.sgemm(Transpose.N, Transpose.N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
        assertRow(c, 1, n, "+Inf in A times positive B", v -> v == INF);
        b[2 * n + 3] = -b[2 * n + 3]; // +Inf * negative meets +Inf from elsewhere? no: one Inf term per element
        Gemm.sgemm(Transpose.N, Transpose.N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
        assertThat(c[1 * n + 3]).isEqualTo(Float.NEGATIVE_INFINITY);
        b[2 * n + 4] = 0f; // Inf * 0 = NaN
        Gemm.sgemm(Transpose.N, Transpose.N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
        assertThat(c[1 * n + 4]).isNaN();
        float[] cNan = new float[m * n];
        Arrays.fill(cNan, NAN);
        a[1 * k + 2] = 1f;
        b[2 * n + 4] = 1f;
        Gemm.sgemm(Transpose.N, Transpose.N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, cNan, 0, n);
        assertRow(cNan, 1, n, "beta == 0: NaN in C is not read", NonFinitePolicyTest::finite);
        float[] aNan = new float[m * k];
        Arrays.fill(aNan, NAN);
        float[] c1 = ramp(m * n, 1f);
        Gemm.sgemm(Transpose.N, Transpose.N, m, n, k, 0f, aNan, 0, k, b, 0, n, 2f, c1, 0, n);
        assertRow(c1, 0, n, "alpha == 0: A is not read", NonFinitePolicyTest::finite);
    }

    /** Softmax forward: NaN poisons its row only; +Inf logits share the row; -Inf is probability 0. */
    @Test
    void softmaxForward() {
        float[] x = ramp(R * C, 0.1f), y = new float[R * C];
        x[0 * C + 5] = NAN;
        x[1 * C + 3] = INF;
        x[1 * C + 9] = INF;
        for (int j = 0; j < C; j++) {
            x[2 * C + j] = j < 4 ? Float.NEGATIVE_INFINITY : 0.1f * j;
        }
        Softmax.forward(R, C, x, 0, C, y, 0, C);
        assertRow(y, 0, C, "NaN row", e -> Float.isNaN(e));
        for (int j = 0; j < C; j++) {
            assertThat(y[1 * C + j]).isEqualTo(j == 3 || j == 9 ? 0.5f : 0f);
            if (j < 4) {
                assertThat(y[2 * C + j]).isEqualTo(0f);
            }
        }
        assertRow(y, 2, C, "-Inf entries", NonFinitePolicyTest::finite);
        float[] all = new float[C];
        Arrays.fill(all, Float.NEGATIVE_INFINITY);
        float[] out = new float[C];
        Softmax.forward(1, C, all, 0, C, out, 0, C);
        assertRow(out, 0, C, "all -Inf: zeros", v -> v == 0f);
    }

    /** Softmax backward: a non-finite dy or y poisons its row of dx (the row sum sees it). */
    @Test
    void softmaxBackward() {
        float[] y = ramp(R * C, 0.01f), dy = ramp(R * C, 0.3f), dx = new float[R * C];
        dy[1 * C + 7] = NAN;
        Softmax.backward(R, C, 1f, dy, 0, C, y, 0, C, dx, 0, C);
        dy[2 * C + 4] = INF;
        Softmax.backward(R, C, 1f, dy, 0, C, y, 0, C, dx, 0, C);
        assertRow(dx, 1, C, "NaN in dy", e -> Float.isNaN(e));
        assertRow(dx, 2, C, "+Inf in dy", e -> !Float.isFinite(e));
        assertRow(dx, 0, C, "other rows", NonFinitePolicyTest::finite);
    }

    /** ResidualAdd: element by element, IEEE; nothing spreads. */
    @Test
    void residualAdd() {
        float[] x = ramp(R * C, 1f), f = ramp(R * C, 2f), y = new float[R * C];
        x[4] = NAN;
        x[5] = INF;
        f[5] = Float.NEGATIVE_INFINITY;
        f[6] = INF;
        ResidualAdd.forward(R, C, 0.5f, x, 0, C, f, 0, C, null, 0, y, 0, C);
        assertThat(y[4]).isNaN();
        assertThat(y[5]).isNaN(); // +Inf + -Inf
        assertThat(y[6]).isEqualTo(INF);
        for (int i = 0; i < R * C; i++) {
            if (i < 4 || i > 6) {
                assertThat(y[i]).isFinite();
            }
        }
    }

    /** GELU: NaN stays NaN, +Inf gives +Inf, -Inf gives -0; backward: slope 1 at +Inf, 0 at -Inf. */
    @Test
    void gelu() {
        float[] x = ramp(C, 0.3f), y = new float[C], dy = ramp(C, 1f), dx = new float[C];
        x[1] = NAN;
        x[2] = INF;
        x[3] = Float.NEGATIVE_INFINITY;
        Activations.geluForward(C, x, 0, y, 0);
        assertThat(y[1]).isNaN();
        assertThat(y[2]).isEqualTo(INF);
        assertThat(Float.floatToRawIntBits(y[3])).isEqualTo(Float.floatToRawIntBits(-0f));
        Activations.geluBackward(C, dy, 0, x, 0, dx, 0);
        assertThat(dx[1]).isNaN();
        assertThat(dx[2]).isEqualTo(dy[2]);
        assertThat(dx[3]).isEqualTo(0f);
        assertThat(dx[0]).isFinite();
    }

    /** LayerNorm: a NaN or +-Inf anywhere in a row makes that row's y, mean and rstd NaN; other rows exact. */
    @Test
    void layerNorm() {
        float[] x = ramp(R * C, 0.5f), g = ramp(C, 1f), b = ramp(C, 0.1f), y = new float[R * C];
        float[] mean = new float[R], rstd = new float[R];
        x[0 * C + 2] = NAN;
        x[1 * C + 2] = INF;
        Norms.layerNormForward(R, C, 1e-5f, x, 0, C, g, 0, b, 0, y, 0, C, mean, 0, rstd, 0);
        for (int r = 0; r < 2; r++) {
            assertRow(y, r, C, "non-finite row", e -> Float.isNaN(e));
            assertThat(rstd[r]).isNaN();
        }
        assertThat(mean[0]).isNaN();
        assertThat(mean[1]).isEqualTo(INF);
        assertRow(y, 2, C, "clean row", NonFinitePolicyTest::finite);
    }

    /** RMSNorm: NaN makes the row NaN; +-Inf makes rstd 0, the Inf element NaN and the others 0. */
    @Test
    void rmsNorm() {
        float[] x = ramp(R * C, 0.5f), g = ramp(C, 1f), y = new float[R * C], rstd = new float[R];
        x[0 * C + 2] = NAN;
        x[1 * C + 2] = Float.NEGATIVE_INFINITY;
        Norms.rmsNormForward(R, C, 1e-5f, x, 0, C, g, 0, y, 0, C, rstd, 0);
        assertRow(y, 0, C, "NaN row", e -> Float.isNaN(e));
        assertThat(rstd[1]).isEqualTo(0f);
        for (int j = 0; j < C; j++) {
            float e = y[1 * C + j];
            assertThat(j == 2 ? Float.isNaN(e) : e == 0f).as("col %d: %s", j, e).isTrue();
        }
        assertRow(y, 2, C, "clean row", NonFinitePolicyTest::finite);
    }

    /** The AdamW kernel is element by element: a NaN gradient poisons that element's p, m, v only. */
    @Test
    void adamWKernel() {
        int n = 40;
        float[] g = ramp(n, 0.1f), p = ramp(n, 1f), m = new float[n], v = new float[n];
        g[7] = NAN;
        g[8] = INF;
        Optimizers.adamW(n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, g, 0, p, 0, m, 0, v, 0);
        assertThat(p[7]).isNaN();
        assertThat(m[7]).isNaN();
        assertThat(v[7]).isNaN();
        assertThat(p[8]).isNaN(); // m/sqrt(v) = Inf/Inf
        assertThat(v[8]).isEqualTo(INF);
        for (int i = 0; i < n; i++) {
            if (i != 7 && i != 8) {
                assertThat(p[i]).isFinite();
            }
        }
    }

    /** AdamWOptimizer: a non-finite global norm skips the whole step (see NonFiniteGradientTest for bits). */
    @Test
    void adamWOptimizer() {
        GptConfig cfg = GptConfig.of(7, 4, 1, 16, 2, 1);
        int size = ParamLayout.of(cfg).size();
        AdamWOptimizer opt = new AdamWOptimizer(ParamLayout.of(cfg), 0.9f, 0.95f, 1e-8f, 0.1f);
        float[] p = ramp(size, 0.01f), g = ramp(size, 0.001f), p0 = p.clone();
        g[3] = Float.NEGATIVE_INFINITY;
        assertThat(opt.clipGradNorm(g, 1f)).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(g[4]).isEqualTo(0.001f * 5); // not scaled
        assertThat(opt.step(1e-3f, p, g)).isFalse();
        assertThat(p).isEqualTo(p0);
        g[3] = NAN;
        assertThat(opt.clipGradNorm(g, 1f)).isNaN();
        assertThat(opt.step(1e-3f, p, g)).isFalse();
        assertThat(opt.skippedSteps()).isEqualTo(2);
    }

    /**
     * Attention: NaN in a query row gives that row's O and logsumexp NaN; NaN in key j reaches exactly the
     * queries that see j; -Inf bias masks; a row that sees nothing gives zeros and logsumexp -Inf.
     */
    @Test
    void attention() {
        int T = 4, S = 4, D = 16;
        AttentionConfig cfg = AttentionConfig.builder(1, 1, 1, T, S, D).causal(CausalMask.TOP_LEFT)
                .bias(BiasShape.SHARED).build();
        HeadLayout l = HeadLayout.contiguous(1, T, D);
        float[] q = ramp(T * D, 0.01f), k = ramp(S * D, 0.02f), v = ramp(S * D, 0.1f), o = new float[T * D];
        float[] lse = new float[T], bias = new float[T * S];
        q[0 * D + 3] = NAN; // query 0
        k[2 * D + 1] = NAN; // key 2: seen by queries 2 and 3 (causal)
        Arrays.fill(bias, 1 * S, 2 * S, Float.NEGATIVE_INFINITY); // query 1 sees nothing
        Attention.forward(cfg, AttentionView.of(q, 0, l), AttentionView.of(k, 0, l), AttentionView.of(v, 0, l),
                bias == null ? null : AttentionView.flat(bias, 0), AttentionView.of(o, 0, l),
                AttentionView.flat(lse, 0));
        assertRow(o, 0, D, "NaN query", e -> Float.isNaN(e));
        assertThat(lse[0]).as("a NaN row's logsumexp is NaN, not the -Inf of an empty row").isNaN();
        assertRow(o, 1, D, "fully masked query", x -> x == 0f);
        assertThat(lse[1]).isEqualTo(Float.NEGATIVE_INFINITY);
        assertRow(o, 2, D, "sees the NaN key", e -> Float.isNaN(e));
        assertRow(o, 3, D, "sees the NaN key", e -> Float.isNaN(e));
        assertThat(lse[2]).isNaN();
        assertThat(lse[3]).isNaN();
    }

    /** CrossEntropy: NaN or +Inf logits make the row's loss NaN; -Inf elsewhere than the target is p = 0. */
    @Test
    void crossEntropy() {
        int V = 20;
        float[] logits = ramp(4 * V, 0.1f), losses = new float[4], lse = new float[4];
        int[] t = {1, 1, 1, 1};
        logits[0 * V + 5] = NAN;
        logits[1 * V + 5] = INF;
        logits[2 * V + 5] = Float.NEGATIVE_INFINITY;
        logits[3 * V + 1] = Float.NEGATIVE_INFINITY; // the target
        CrossEntropy.forward(4, V, logits, 0, t, 0, losses, 0, lse, 0);
        assertThat(losses[0]).isNaN();
        assertThat(losses[1]).isNaN();
        assertThat(losses[2]).isFinite();
        assertThat(losses[3]).isEqualTo(INF);
    }
}
