package dev.lanes.tests.attention;

import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import java.util.Arrays;
import java.util.Random;

/**
 * One random attention problem: a config plus filled tensors in either the contiguous
 * {@code [B, H, N, D]} layout or views into a fused {@code [B, T, (Hq + 2 Hkv) D + pad]} projection
 * buffer (Q, K, V sharing rows, as a fused projection produces them), with NaN sentinels in every
 * element no view covers, so a write outside a view shows up.
 */
final class AttentionCase {
    final AttentionConfig cfg;
    final int B, Hq, Hkv, T, S, D;
    final boolean fused;
    final float[] qkv;   // q, k, v (one array when fused, else q only)
    final float[] kArr, vArr;
    final int qOff, kOff, vOff;
    final HeadLayout qs, ks, vs;
    final float[] bias;
    final int biasOff;
    // outputs and gradients
    final HeadLayout os;
    final int oOff;
    final int lseOff = 3;

    AttentionCase(AttentionConfig cfg, boolean fused, long seed) {
        this.cfg = cfg;
        B = cfg.batch(); Hq = cfg.heads(); Hkv = cfg.kvHeads(); T = cfg.queries(); S = cfg.keys(); D = cfg.headDim();
        this.fused = fused;
        Random rnd = new Random(seed);
        if (fused && T == S) {
            int width = (Hq + 2 * Hkv) * D + 5; // a few unused columns per row
            qkv = sentinels(7 + B * T * width);
            qOff = 7;
            kOff = 7 + Hq * D;
            vOff = 7 + (Hq + Hkv) * D;
            qs = ks = vs = HeadLayout.fused(T, width, D);
            kArr = vArr = qkv;
        } else if (fused) {
            // T != S: Q on its own rows; K and V share a fused [B, S, 2*Hkv*D + 3] buffer
            int qw = Hq * D + 2, kvw = 2 * Hkv * D + 3;
            qkv = sentinels(5 + B * T * qw);
            qOff = 5;
            qs = HeadLayout.fused(T, qw, D);
            kArr = sentinels(11 + B * S * kvw);
            vArr = kArr;
            kOff = 11;
            vOff = 11 + Hkv * D;
            ks = vs = HeadLayout.fused(S, kvw, D);
        } else {
            qkv = sentinels(2 + B * Hq * T * D);
            qOff = 2;
            qs = HeadLayout.contiguous(Hq, T, D);
            kArr = sentinels(B * Hkv * S * D);
            vArr = sentinels(1 + B * Hkv * S * D);
            kOff = 0;
            vOff = 1;
            ks = vs = HeadLayout.contiguous(Hkv, S, D);
        }
        fill(rnd, qkv, qOff, qs, Hq, T);
        fill(rnd, kArr, kOff, ks, Hkv, S);
        fill(rnd, vArr, vOff, vs, Hkv, S);
        if (cfg.biasShape() == BiasShape.NONE) {
            bias = null;
            biasOff = 0;
        } else {
            int n = cfg.biasShape() == BiasShape.SHARED ? T * S : B * Hq * T * S;
            biasOff = 4;
            bias = new float[biasOff + n];
            for (int i = 0; i < n; i++) {
                // a mix of soft biases and hard -inf masks
                bias[biasOff + i] = rnd.nextInt(7) == 0 ? Float.NEGATIVE_INFINITY : (float) rnd.nextGaussian();
            }
        }
        if (fused) {
            os = HeadLayout.fused(T, Hq * D + 1, D);
            oOff = 1;
        } else {
            os = HeadLayout.contiguous(Hq, T, D);
            oOff = 0;
        }
    }

    float[] newO() {
        return sentinels(oOff + extent(os, Hq, T));
    }

    float[] newLse() {
        return sentinels(lseOff + B * Hq * T + 2);
    }

    /**
     * {dq, dk, dv} gradient arrays shaped like q, k, v (sharing one array exactly where those do), with
     * small random values in the views to accumulate onto and NaN sentinels elsewhere.
     */
    float[][] grads(long seed) {
        Random rnd = new Random(seed);
        float[] dq = sentinels(qkv.length);
        float[] dk = kArr == qkv ? dq : sentinels(kArr.length);
        float[] dv = vArr == kArr ? dk : sentinels(vArr.length);
        fillSmall(rnd, dq, qOff, qs, Hq, T);
        fillSmall(rnd, dk, kOff, ks, Hkv, S);
        fillSmall(rnd, dv, vOff, vs, Hkv, S);
        return new float[][] {dq, dk, dv};
    }

    AttentionView qView() {
        return AttentionView.of(qkv, qOff, qs);
    }

    AttentionView kView() {
        return AttentionView.of(kArr, kOff, ks);
    }

    AttentionView vView() {
        return AttentionView.of(vArr, vOff, vs);
    }

    /** The bias view, or null when the case has none. */
    AttentionView biasView() {
        return bias == null ? null : AttentionView.flat(bias, biasOff);
    }

    /** An array made by {@link #newO} or {@link #newDo} as a view in o's layout. */
    AttentionView oView(float[] o) {
        return AttentionView.of(o, oOff, os);
    }

    AttentionView lseView(float[] lse) {
        return AttentionView.flat(lse, lseOff);
    }

    /** g[0] of {@link #grads} (dq) as a view in q's layout; {@link #dkView}, {@link #dvView} likewise. */
    AttentionView dqView(float[][] g) {
        return AttentionView.of(g[0], qOff, qs);
    }

    AttentionView dkView(float[][] g) {
        return AttentionView.of(g[1], kOff, ks);
    }

    AttentionView dvView(float[][] g) {
        return AttentionView.of(g[2], vOff, vs);
    }

    /** An upstream gradient dO in o's layout. */
    float[] newDo(long seed) {
        float[] g = newO();
        fill(new Random(seed), g, oOff, os, Hq, T);
        return g;
    }

    private void fillSmall(Random rnd, float[] x, int off, HeadLayout l, int heads, int rows) {
        fill(rnd, x, off, l, heads, rows);
        for (int i = 0; i < x.length; i++) {
            x[i] *= 0.1f; // NaN stays NaN
        }
    }

    /** One past the last element of a view from offset 0. */
    int extent(HeadLayout l, int heads, int rows) {
        return (B - 1) * l.batchStride() + (heads - 1) * l.headStride() + (rows - 1) * l.rowStride() + D;
    }

    void fill(Random rnd, float[] x, int off, HeadLayout l, int heads, int rows) {
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < heads; h++) {
                for (int n = 0; n < rows; n++) {
                    int base = off + b * l.batchStride() + h * l.headStride() + n * l.rowStride();
                    for (int d = 0; d < D; d++) {
                        x[base + d] = 2f * rnd.nextFloat() - 1f;
                    }
                }
            }
        }
    }

    static float[] sentinels(int n) {
        float[] x = new float[n];
        Arrays.fill(x, Float.NaN);
        return x;
    }

    static AttentionConfig.Builder randomConfig(Random rnd) {
        int[] ds = {1, 8, 16, 17, 40, 64, 80};
        int hkv = 1 + rnd.nextInt(3);
        int g = new int[] {1, 2, 3, 4, 8}[rnd.nextInt(5)];
        int b = 1 + rnd.nextInt(2);
        int t = 1 + rnd.nextInt(70);
        int s = rnd.nextInt(4) == 0 ? t : 1 + rnd.nextInt(150);
        AttentionConfig.Builder cb = AttentionConfig.builder(b, hkv * g, hkv, t, s, ds[rnd.nextInt(ds.length)]);
        cb.causal(CausalMask.values()[rnd.nextInt(3)]);
        if (rnd.nextBoolean()) {
            int[] lens = new int[b];
            for (int i = 0; i < b; i++) {
                int r = rnd.nextInt(4);
                lens[i] = r == 0 ? 0 : r == 1 ? s : rnd.nextInt(s + 1);
            }
            cb.keyLengths(lens);
        }
        cb.bias(BiasShape.values()[rnd.nextInt(3)]);
        return cb;
    }

    @Override
    public String toString() {
        return cfg + (fused ? " fused" : " contiguous");
    }
}
