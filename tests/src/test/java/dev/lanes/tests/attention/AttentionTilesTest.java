package dev.lanes.tests.attention;

import dev.lanes.kernels.AttentionTiles;
import dev.lanes.kernels.AttentionTilesScalar;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * The attention tile kernels against their scalar twin on awkward sizes (around the vector length,
 * 8-row tiles plus remainders, strided A in both orientations, masks and gathered bias): the same
 * float operations in the same order, so the same bits, NaN sentinels around every output included.
 */
class AttentionTilesTest {

    @RepeatedTest(40)
    void gemmGivesTheScalarTwinsBits(org.junit.jupiter.api.RepetitionInfo info) {
        Random rnd = new Random(info.getCurrentRepetition());
        int m = rnd.nextInt(20), n = rnd.nextInt(60), k = rnd.nextInt(70);
        boolean transposedA = rnd.nextBoolean(), accumulate = rnd.nextBoolean(), scaled = rnd.nextBoolean();
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
        Close.assertSameBits("gemm m=" + m + " n=" + n + " k=" + k, c2, c1);
    }

    @RepeatedTest(20)
    void columnKernelsGiveTheScalarTwinsBits(org.junit.jupiter.api.RepetitionInfo info) {
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
        Close.assertSameBits("softmax p", s2, s1);
        Close.assertSameBits("softmax max", max2, max1);
        Close.assertSameBits("softmax sum", sum2, sum1);
        Close.assertSameBits("softmax alpha", a2, a1);

        float[] dp0 = random(rnd, n * lds), lse = random(rnd, m), dr = random(rnd, m);
        lse[m - 1] = Float.POSITIVE_INFINITY;
        float[] p1 = s0.clone(), p2 = s0.clone(), dp1 = dp0.clone(), dp2 = dp0.clone();
        AttentionTiles.backwardScores(n, m, 0.3f, p1, 0, lds, dp1, 0, lds, rowBase, limit, 0, bias, biasIdx, 0,
                lse, 0, dr, 0);
        AttentionTilesScalar.backwardScoresUnchecked(n, m, 0.3f, p2, 0, lds, dp2, 0, lds, rowBase, limit, 0, bias,
                biasIdx, 0, lse, 0, dr, 0);
        Close.assertSameBits("backward p", p2, p1);
        Close.assertSameBits("backward ds", dp2, dp1);
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

    static float[] random(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = 2f * rnd.nextFloat() - 1f;
        }
        return x;
    }
}
