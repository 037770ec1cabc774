package dev.lanes.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.GemmScalar;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Transpose;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fused epilogue C = alpha*A*B + beta*C + bias + res against the scalar twin, and its rejections. */
class GemmFusedTest {
    private static final float EPS = 0x1p-24f;

    @Test
    void matchesScalarTwinOnAwkwardShapes() {
        Random rnd = new Random(5);
        int[][] shapes = {{1, 1, 1}, {5, 63, 7}, {6, 64, 256}, {7, 65, 257}, {13, 70, 300}, {130, 200, 520},
                          {64, 2048, 64}, {2048, 64, 64}, {3, 5, 0}};
        float[][] alphaBeta = {{1f, 0f}, {0.5f, 0.25f}, {-1.5f, 1f}, {0f, 2f}};
        for (int rep = 0; rep < 3; rep++) { // later repetitions check the C2-compiled code
            for (int[] s : shapes) {
                for (float[] ab : alphaBeta) {
                    for (Transpose ta : Transpose.values()) {
                        for (Transpose tb : Transpose.values()) {
                            check(rnd, s[0], s[1], s[2], ta, tb, ab[0], ab[1], rnd.nextBoolean(), rnd.nextBoolean());
                        }
                    }
                }
            }
        }
    }

    private static void check(Random rnd, int m, int n, int k, Transpose ta, Transpose tb, float alpha, float beta,
                              boolean withBias, boolean withRes) {
        int lda = (ta == Transpose.N ? k : m) + 3, ldb = (tb == Transpose.N ? n : k) + 1;
        int ldc = n + 2, ldr = n + 5, off = 3;
        int aRows = ta == Transpose.N ? m : k, bRows = tb == Transpose.N ? k : n;
        float[] a = random(rnd, off + aRows * lda), b = random(rnd, off + bRows * ldb);
        float[] bias = withBias ? random(rnd, off + n) : null;
        float[] res = withRes ? random(rnd, off + m * ldr) : null;
        float[] c0 = random(rnd, off + m * ldc + 4);
        if (beta == 0f) {
            Arrays.fill(c0, Float.NaN); // beta == 0 must not read C
        }
        float[] want = c0.clone(), got = c0.clone();
        GemmScalar.sgemmFused(ta, tb, m, n, k, alpha, a, off, lda, b, off, ldb, beta, bias, off, res, off, ldr,
                want, off, ldc);
        Gemm.sgemmFused(Parallelism.serial(), ta, tb, m, n, k, alpha, a, off, lda, b, off, ldb, beta,
                bias, off, res, off, ldr, got, off, ldc);
        for (int i = 0; i < got.length; i++) {
            int row = (i - off) / ldc, col = (i - off) % ldc;
            boolean inside = i >= off && row < m && col < n;
            if (!inside) {
                assertThat(Float.floatToRawIntBits(got[i])).as("padding at %d must be untouched", i)
                        .isEqualTo(Float.floatToRawIntBits(c0[i]));
                continue;
            }
            // |error| <= (k + 4) * eps * (|alpha| * k * max|a||b| + |beta c| + |bias| + |res|), all inputs in [-1, 1].
            double scaleOfTerms = Math.abs(alpha) * k + (beta == 0f ? 0 : Math.abs(beta)) + 2;
            double bound = (k + 4) * EPS * scaleOfTerms * 2;
            assertThat((double) got[i]).as("%dx%dx%d %s%s alpha=%s beta=%s bias=%s res=%s at (%d,%d)",
                    m, n, k, ta, tb, alpha, beta, withBias, withRes, row, col).isCloseTo(want[i],
                    org.assertj.core.data.Offset.offset(bound));
        }
    }

    @Test
    void rejectsResidualThatOverlapsC() {
        float[] a = new float[16], b = new float[16], c = new float[64];
        float[] before = c.clone();
        assertThatThrownBy(() -> Gemm.sgemmFused(Transpose.N, Transpose.N, 4, 4, 4, 1f, a, 0, 4, b, 0, 4, 0f,
                null, 0, c, 2, 4, c, 0, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("c overlaps res");
        assertThat(c).isEqualTo(before);
    }

    @Test
    void rejectsShortBiasAndShortResidualBeforeWriting() {
        float[] a = new float[16], b = new float[16], c = new float[16];
        Arrays.fill(c, 7f);
        float[] before = c.clone();
        assertThatThrownBy(() -> Gemm.sgemmFused(Transpose.N, Transpose.N, 4, 4, 4, 1f, a, 0, 4, b, 0, 4, 0f,
                new float[3], 0, null, 0, 0, c, 0, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bias too short");
        assertThatThrownBy(() -> Gemm.sgemmFused(Transpose.N, Transpose.N, 4, 4, 4, 1f, a, 0, 4, b, 0, 4, 0f,
                null, 0, new float[15], 0, 4, c, 0, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("res too short");
        assertThatThrownBy(() -> Gemm.sgemmFused(Transpose.N, Transpose.N, 4, 4, 4, 1f, a, 0, 4, b, 0, 4, 0f,
                null, 0, new float[16], 0, 3, c, 0, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ldr=3 < n=4");
        assertThat(c).isEqualTo(before);
    }

    private static float[] random(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextFloat() * 2f - 1f;
        }
        return x;
    }
}
