package dev.lanes.tests;

import dev.lanes.kernels.internal.AttentionTiles;
import dev.lanes.kernels.internal.AttentionTilesScalar;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * The attention tile kernels against their scalar twin on awkward sizes (around the vector length,
 * 6- and 8-row tiles plus remainders, strided A in both orientations, masks and bias): the same
 * float operations in the same order, so the same bits, NaN sentinels around every output included.
 */
class AttentionTilesTest {

    @RepeatedTest(60)
    void gemmGivesTheScalarTwinsBits(org.junit.jupiter.api.RepetitionInfo info) {
        Random rnd = new Random(info.getCurrentRepetition());
        // n past 4L + 3L + 2L + L + a partial vector, m past the 6- and 8-row tiles with every remainder
        int m = rnd.nextInt(28), n = rnd.nextInt(rnd.nextBoolean() ? 60 : 180), k = rnd.nextInt(70);
        gemmAgainstTwin(rnd, m, n, k, rnd.nextBoolean(), rnd.nextBoolean());
    }

    /** One row (decoding) takes 8L-wide tiles while n allows: each with and without accumulation and scale. */
    @Test
    void oneRowGemmGivesTheScalarTwinsBits() {
        Random rnd = new Random(7);
        for (int n : new int[] {128, 128 + 16 * 3 + 5, 256 + 7}) {
            for (int variant = 0; variant < 4; variant++) {
                gemmAgainstTwin(rnd, 1, n, 1 + rnd.nextInt(130), variant % 2 == 1, variant / 2 == 1);
            }
        }
    }

    private static void gemmAgainstTwin(Random rnd, int m, int n, int k, boolean accumulate, boolean scaled) {
        boolean transposedA = rnd.nextBoolean();
        int lda = (transposedA ? m : k) + rnd.nextInt(3);
        int aRs = transposedA ? 1 : lda, aCs = transposedA ? lda : 1;
        float[] a = random(rnd, 3 + Math.max(m, k) * Math.max(lda, 1) + Math.max(m, k) + 1);
        int ldb = Math.max(1, n + rnd.nextInt(4)), ldc = Math.max(1, n + rnd.nextInt(4));
        float[] b = random(rnd, 2 + k * ldb + n);
        float[] cs = random(rnd, 1 + n);
        float[] c0 = new float[1 + Math.max(1, m) * ldc + n];
        Arrays.fill(c0, Float.NaN);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                c0[1 + i * ldc + j] = rnd.nextFloat();
            }
        }
        float[] c1 = c0.clone(), c2 = c0.clone();
        AttentionTiles.gemm(m, n, k, a, 3, aRs, aCs, b, 2, ldb, accumulate, scaled ? cs : null, 1, c1, 1, ldc);
        AttentionTilesScalar.gemm(m, n, k, a, 3, aRs, aCs, b, 2, ldb, accumulate, scaled ? cs : null, 1, c2, 1, ldc);
        Bits.assertSameBits("gemm m=" + m + " n=" + n + " k=" + k, c2, c1);
    }

    @RepeatedTest(20)
    void onlineSoftmaxGivesTheScalarTwinsBits(org.junit.jupiter.api.RepetitionInfo info) {
        Random rnd = new Random(100 + info.getCurrentRepetition());
        int n = 1 + rnd.nextInt(70), m = 1 + rnd.nextInt(50), lds = m + rnd.nextInt(3), rowBase = rnd.nextInt(100);
        float[] limit = null;
        if (rnd.nextBoolean()) {
            limit = new float[m];
            for (int c = 0; c < m; c++) {
                limit[c] = rowBase + rnd.nextInt(n + 2) - 1;
            }
        }
        float[] bias = null;
        int[] biasIdx = new int[m];
        if (rnd.nextBoolean()) {
            bias = random(rnd, m * 200 + 200);
            for (int c = 0; c < m; c++) {
                biasIdx[c] = rnd.nextInt(m * 200 + 200 - rowBase - n);
            }
            bias[biasIdx[0] + rowBase] = Float.NEGATIVE_INFINITY;
        }
        float[] s0 = random(rnd, n * lds), max0 = random(rnd, m), sum0 = random(rnd, m);
        max0[0] = Float.NEGATIVE_INFINITY;
        float[] s1 = s0.clone(), s2 = s0.clone(), max1 = max0.clone(), max2 = max0.clone();
        float[] sum1 = sum0.clone(), sum2 = sum0.clone(), a1 = new float[m], a2 = new float[m];
        AttentionTiles.softmaxOnline(n, m, s1, 0, lds, rowBase, limit, 0, bias, biasIdx, 0, max1, sum1, a1, 0);
        AttentionTilesScalar.softmaxOnlineUnchecked(n, m, s2, 0, lds, rowBase, limit, 0, bias, biasIdx, 0, max2, sum2, a2, 0);
        Bits.assertSameBits("softmax p", s2, s1);
        Bits.assertSameBits("softmax max", max2, max1);
        Bits.assertSameBits("softmax sum", sum2, sum1);
        Bits.assertSameBits("softmax alpha", a2, a1);

    }

    @RepeatedTest(20)
    void rowSoftmaxGivesTheColumnKernelsAndTheScalarTwinsBits(org.junit.jupiter.api.RepetitionInfo info) {
        Random rnd = new Random(300 + info.getCurrentRepetition());
        // m rows (queries) of n columns (keys colBase + j); the column kernel sees the transpose
        int m = 1 + rnd.nextInt(20), n = 1 + rnd.nextInt(140), lds = n + rnd.nextInt(3), colBase = rnd.nextInt(100);
        float[] limit = null;
        if (rnd.nextBoolean()) {
            limit = new float[m];
            for (int i = 0; i < m; i++) {
                limit[i] = colBase + rnd.nextInt(n + 2) - 1;
            }
        }
        float[] bias = null;
        int[] biasIdx = new int[m];
        if (rnd.nextBoolean()) {
            bias = random(rnd, n * 200 + 200);
            for (int i = 0; i < m; i++) {
                biasIdx[i] = rnd.nextInt(n * 200 + 200 - colBase - n);
            }
        }
        float[] s0 = random(rnd, m * lds), max0 = random(rnd, m), sum0 = random(rnd, m);
        max0[0] = Float.NEGATIVE_INFINITY;
        float[] s1 = s0.clone(), s2 = s0.clone(), max1 = max0.clone(), max2 = max0.clone(), max3 = max0.clone();
        float[] sum1 = sum0.clone(), sum2 = sum0.clone(), sum3 = sum0.clone();
        float[] a1 = new float[m], a2 = new float[m], a3 = new float[m];
        AttentionTiles.softmaxOnlineRows(m, n, s1, 0, lds, colBase, limit, 0, bias, biasIdx, 0, max1, sum1, a1, 0);
        AttentionTilesScalar.softmaxOnlineRowsUnchecked(m, n, s2, 0, lds, colBase, limit, 0, bias, biasIdx, 0,
                max2, sum2, a2, 0);
        Bits.assertSameBits("rows p", s2, s1);
        Bits.assertSameBits("rows max", max2, max1);
        Bits.assertSameBits("rows sum", sum2, sum1);
        Bits.assertSameBits("rows alpha", a2, a1);
        float[] t = new float[n * m], p1 = new float[n * m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                t[j * m + i] = s0[i * lds + j];
                p1[j * m + i] = s1[i * lds + j];
            }
        }
        AttentionTiles.softmaxOnline(n, m, t, 0, m, colBase, limit, 0, bias, biasIdx, 0, max3, sum3, a3, 0);
        Bits.assertSameBits("rows vs columns p", t, p1);
        Bits.assertSameBits("rows vs columns max", max3, max1);
        Bits.assertSameBits("rows vs columns sum", sum3, sum1);
        Bits.assertSameBits("rows vs columns alpha", a3, a1);
    }

    @RepeatedTest(20)
    void rowScoreKernelGivesTheScalarTwinsBits(org.junit.jupiter.api.RepetitionInfo info) {
        Random rnd = new Random(200 + info.getCurrentRepetition());
        // m rows (queries) of n columns (keys colBase + j)
        int m = 1 + rnd.nextInt(50), n = 1 + rnd.nextInt(140), lds = n + rnd.nextInt(3), colBase = rnd.nextInt(100);
        Masks mk = Masks.random(rnd, m, n, colBase);
        float[] limit = mk.limit, bias = mk.bias;
        int[] biasIdx = mk.biasIdx;
        float[] s0 = random(rnd, m * lds), dp0 = random(rnd, m * lds), lse = random(rnd, m), dr = random(rnd, m);
        lse[m - 1] = Float.POSITIVE_INFINITY;
        float[] p1 = s0.clone(), p2 = s0.clone(), dp1 = dp0.clone(), dp2 = dp0.clone();
        AttentionTiles.backwardScoresRows(m, n, 0.3f, p1, 0, lds, dp1, 0, lds, colBase, limit, 0, bias, biasIdx, 0,
                lse, 0, dr, 0);
        AttentionTilesScalar.backwardScoresRowsUnchecked(m, n, 0.3f, p2, 0, lds, dp2, 0, lds, colBase, limit, 0, bias,
                biasIdx, 0, lse, 0, dr, 0);
        Bits.assertSameBits("backward p", p2, p1);
        Bits.assertSameBits("backward ds", dp2, dp1);
    }

    @RepeatedTest(20)
    void columnScoreKernelIsTheRowKernelTransposed(org.junit.jupiter.api.RepetitionInfo info) {
        Random rnd = new Random(300 + info.getCurrentRepetition());
        // m queries x n keys; the row form (m, n) against the column form (n, m) of the same tile
        int m = 1 + rnd.nextInt(70), n = 1 + rnd.nextInt(140), colBase = rnd.nextInt(100);
        int ldr = n + rnd.nextInt(3), ldc = m + rnd.nextInt(3);
        Masks mk = Masks.random(rnd, m, n, colBase);
        float[] limit = mk.limit, bias = mk.bias;
        int[] biasIdx = mk.biasIdx;
        float[] sRows = random(rnd, m * ldr), dpRows = random(rnd, m * ldr), lse = random(rnd, m), dr = random(rnd, m);
        lse[m - 1] = Float.POSITIVE_INFINITY;
        float[] sCols = new float[n * ldc], dpCols = new float[n * ldc];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                sCols[j * ldc + i] = sRows[i * ldr + j];
                dpCols[j * ldc + i] = dpRows[i * ldr + j];
            }
        }
        AttentionTiles.backwardScoresRows(m, n, 0.3f, sRows, 0, ldr, dpRows, 0, ldr, colBase, limit, 0, bias, biasIdx,
                0, lse, 0, dr, 0);
        // out of place (s untouched) and in place, against the scalar twin
        float[] s0 = sCols.clone(), p1 = new float[n * ldc], dp1 = dpCols.clone();
        AttentionTiles.backwardScoresColumns(n, m, 0.3f, sCols, 0, ldc, p1, 0, ldc, dp1, 0, ldc, colBase, limit, 0,
                bias, biasIdx, 0, lse, 0, dr, 0);
        Bits.assertSameBits("s read only", s0, sCols);
        float[] p2 = sCols.clone(), dp2 = dpCols.clone();
        AttentionTilesScalar.backwardScoresColumnsUnchecked(n, m, 0.3f, p2, 0, ldc, p2, 0, ldc, dp2, 0, ldc, colBase,
                limit, 0, bias, biasIdx, 0, lse, 0, dr, 0);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                String at = " at query " + i + ", key " + j;
                org.assertj.core.api.Assertions.assertThat(Float.floatToRawIntBits(p1[j * ldc + i])).as("p" + at)
                        .isEqualTo(Float.floatToRawIntBits(sRows[i * ldr + j]));
                org.assertj.core.api.Assertions.assertThat(Float.floatToRawIntBits(dp1[j * ldc + i])).as("ds" + at)
                        .isEqualTo(Float.floatToRawIntBits(dpRows[i * ldr + j]));
                org.assertj.core.api.Assertions.assertThat(Float.floatToRawIntBits(p2[j * ldc + i])).as("twin p" + at)
                        .isEqualTo(Float.floatToRawIntBits(sRows[i * ldr + j]));
                org.assertj.core.api.Assertions.assertThat(Float.floatToRawIntBits(dp2[j * ldc + i])).as("twin ds" + at)
                        .isEqualTo(Float.floatToRawIntBits(dpRows[i * ldr + j]));
            }
        }
    }

    @Test
    void sharedStatisticsArraysAreRejectedBeforeAnyWrite() {
        // max, sum and alpha share statOff: one array passed twice would overlap them element for element
        float[] s = random(new Random(9), 4 * 32), max = new float[32], other = new float[32];
        Arrays.fill(max, Float.NEGATIVE_INFINITY);
        float[] s0 = s.clone(), max0 = max.clone(), other0 = other.clone();
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> AttentionTiles.softmaxOnline(4, 32, s, 0, 32, 0, null, 0, null, null, 0, max, other, max, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("max == alpha")
                .hasMessageContaining("statOff=0");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> AttentionTiles.softmaxOnlineRows(4, 8, s, 0, 8, 0, null, 0, null, null, 0, other, max, max, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sum == alpha");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> AttentionTiles.softmaxOnline(4, 32, s, 0, 32, 0, null, 0, null, null, 0, max, max, other, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("max == sum");
        Bits.assertSameBits("s untouched", s0, s);
        Bits.assertSameBits("max untouched", max0, max);
        Bits.assertSameBits("other untouched", other0, other);
    }

    @Test
    void expIsAccurateAndZeroForMinusInfinity() {
        float[] s = new float[2 * 16];
        for (int i = 0; i < s.length; i++) {
            s[i] = -i * 2.9f; // down to -90: past the float range of exp
        }
        s[31] = Float.NEGATIVE_INFINITY;
        float[] max = new float[16], sum = new float[16], alpha = new float[16];
        // max 0 and a zero sum: the kernel stores exp(s) itself
        AttentionTiles.softmaxOnline(2, 16, s, 0, 16, 0, null, 0, null, null, 0, max, sum, alpha, 0);
        for (int i = 0; i < 31; i++) {
            double e = Math.exp(-i * 2.9f);
            if (e > 1e-37) {
                org.assertj.core.api.Assertions.assertThat((double) s[i]).isCloseTo(e, org.assertj.core.data.Offset.offset(3e-7 * e));
            }
        }
        org.assertj.core.api.Assertions.assertThat(s[31]).isEqualTo(0f);
    }

    /**
     * Random per-query limits (or none; query 0 sees nothing of the tile) and bias rows (or none; a -inf
     * entry, and the last query's row ending at its last visible key, which masked entries must not read
     * past) for m queries against keys colBase .. colBase + n.
     */
    record Masks(float[] limit, float[] bias, int[] biasIdx) {
        static Masks random(Random rnd, int m, int n, int colBase) {
            float[] limit = null;
            if (rnd.nextBoolean()) {
                limit = new float[m];
                for (int i = 0; i < m; i++) {
                    limit[i] = colBase + rnd.nextInt(n + 2) - 1;
                }
                limit[0] = colBase - 1 - rnd.nextInt(3);
            }
            float[] bias = null;
            int[] biasIdx = new int[m];
            if (rnd.nextBoolean()) {
                bias = AttentionTilesTest.random(rnd, n * 200 + 200);
                for (int i = 0; i < m; i++) {
                    biasIdx[i] = rnd.nextInt(n * 200 + 200 - colBase - n);
                }
                bias[biasIdx[0] + colBase] = Float.NEGATIVE_INFINITY;
                if (limit != null && limit[m - 1] >= colBase) {
                    biasIdx[m - 1] = bias.length - (int) limit[m - 1];
                }
            }
            return new Masks(limit, bias, biasIdx);
        }
    }

    static float[] random(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = 2f * rnd.nextFloat() - 1f;
        }
        return x;
    }
}
