package dev.lanes.core.attention;

/**
 * Scalar twin of {@link Attention}: the same contract and validation, written as plainly as llm.c, one
 * query row at a time with its scores materialised and everything accumulated in {@code double}. It is
 * the oracle of the attention tests and the {@code scalar} row of the benchmark, not a fast path.
 *
 * <p>Its backward recomputes the probabilities in double from q and k instead of trusting the given
 * o and lse (which it only validates), so it gives the exact gradient to double precision.
 */
public final class AttentionScalar {
    private AttentionScalar() {}

    /**
     * Same contract as {@link Attention#forward(dev.lanes.kernels.Parallelism, AttentionConfig, AttentionView,
             AttentionView, AttentionView, AttentionView, AttentionView, AttentionView)},
     * on array views only (a segment view is refused: the twin is an oracle over heap arrays).
     */
    public static void forward(AttentionConfig cfg, AttentionView q, AttentionView k, AttentionView v,
                               AttentionView bias, AttentionView o, AttentionView lse) {
        if (cfg == null) {
            throw new NullPointerException("cfg is null");
        }
        forward(cfg, arr("q", q), off(q), lay(q), arr("k", k), off(k), lay(k), arr("v", v), off(v), lay(v),
                bias == null ? null : arr("bias", bias), off(bias), arr("o", o), off(o), lay(o), arr("lse", lse), off(lse));
    }

    /**
     * Same contract as {@link Attention#backward(dev.lanes.kernels.Parallelism, AttentionConfig, AttentionView,
             AttentionView, AttentionView, AttentionView, AttentionView, AttentionView, AttentionView, AttentionView, AttentionView, AttentionView)}
     * on array views only: accumulates into dq, dk, dv.
     */
    public static void backward(AttentionConfig cfg, AttentionView dO, AttentionView q, AttentionView k,
                                AttentionView v, AttentionView bias, AttentionView o, AttentionView lse,
                                AttentionView dq, AttentionView dk, AttentionView dv) {
        if (cfg == null) {
            throw new NullPointerException("cfg is null");
        }
        backward(cfg, arr("dO", dO), off(dO), lay(dO), arr("q", q), off(q), lay(q), arr("k", k), off(k), lay(k),
                arr("v", v), off(v), lay(v), bias == null ? null : arr("bias", bias), off(bias),
                arr("o", o), off(o), lay(o), arr("lse", lse), off(lse), arr("dq", dq), off(dq), lay(dq),
                arr("dk", dk), off(dk), lay(dk), arr("dv", dv), off(dv), lay(dv));
    }

    private static float[] arr(String name, AttentionView x) {
        if (x == null) {
            throw new NullPointerException(name + " is null");
        }
        if (x.isSegment()) {
            throw new IllegalArgumentException(name + " is a segment view; the scalar twin takes array views");
        }
        return x.array;
    }

    private static int off(AttentionView x) {
        return x == null ? 0 : (int) x.offset;
    }

    private static HeadLayout lay(AttentionView x) {
        return x == null ? null : x.layout;
    }

    private static void forward(AttentionConfig cfg, float[] q, int qOff, HeadLayout qs, float[] k, int kOff,
                                HeadLayout ks, float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                                float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        Views.checkForward(cfg, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        double[] p = new double[S];   // one row of probabilities
        double[] acc = new double[D];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < Hq; h++) {
                int kvh = h / (Hq / Hkv);
                for (int i = 0; i < T; i++) {
                    int qi = (int) (qOff + qs.at(b, h, i));
                    double max = logits(cfg, b, h, kvh, i, q, qi, k, kOff, ks, bias, biasOff, p);
                    int oi = (int) (oOff + os.at(b, h, i));
                    int li = lseOff + (b * Hq + h) * T + i;
                    if (max == Double.NEGATIVE_INFINITY) { // nothing visible: zeros, lse -inf
                        for (int d = 0; d < D; d++) {
                            o[oi + d] = 0f;
                        }
                        lse[li] = Float.NEGATIVE_INFINITY;
                        continue;
                    }
                    double sum = 0;
                    for (int j = 0; j < S; j++) {
                        p[j] = Math.exp(p[j] - max); // exp(-inf) = 0 for masked keys
                        sum += p[j];
                    }
                    java.util.Arrays.fill(acc, 0);
                    for (int j = 0; j < S; j++) {
                        if (p[j] == 0) {
                            continue;
                        }
                        int vi = (int) (vOff + vs.at(b, kvh, j));
                        for (int d = 0; d < D; d++) {
                            acc[d] += p[j] * v[vi + d];
                        }
                    }
                    for (int d = 0; d < D; d++) {
                        o[oi + d] = (float) (acc[d] / sum);
                    }
                    lse[li] = (float) (max + Math.log(sum));
                }
            }
        }
    }

    private static void backward(AttentionConfig cfg, float[] dO, int dOOff, HeadLayout dOs,
                                 float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                                 float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                                 float[] o, int oOff, HeadLayout os, float[] lse, int lseOff,
                                 float[] dq, int dqOff, HeadLayout dqs, float[] dk, int dkOff, HeadLayout dks,
                                 float[] dv, int dvOff, HeadLayout dvs) {
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        Views.checkBackward(cfg, dO, dOOff, dOs, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os,
                lse, lseOff, dq, dqOff, dqs, dk, dkOff, dks, dv, dvOff, dvs);
        double[] p = new double[S];
        double[] dp = new double[S];
        double[] dqRow = new double[D];
        double[] dkAcc = new double[S * D]; // one kv head's dK, dV, summed over its group
        double[] dvAcc = new double[S * D];
        int G = Hq / Hkv;
        for (int b = 0; b < B; b++) {
            for (int kvh = 0; kvh < Hkv; kvh++) {
                java.util.Arrays.fill(dkAcc, 0);
                java.util.Arrays.fill(dvAcc, 0);
                for (int h = kvh * G; h < (kvh + 1) * G; h++) {
                    for (int i = 0; i < T; i++) {
                        int qi = (int) (qOff + qs.at(b, h, i));
                        int gi = (int) (dOOff + dOs.at(b, h, i));
                        double max = logits(cfg, b, h, kvh, i, q, qi, k, kOff, ks, bias, biasOff, p);
                        if (max == Double.NEGATIVE_INFINITY) {
                            continue; // a fully masked row has no gradient
                        }
                        double sum = 0;
                        for (int j = 0; j < S; j++) {
                            p[j] = Math.exp(p[j] - max);
                            sum += p[j];
                        }
                        // o = sum_j p_j v_j:  dp_j = dO . v_j,  dv_j += p_j dO
                        double dot = 0; // sum_j p_j dp_j
                        for (int j = 0; j < S; j++) {
                            p[j] /= sum;
                            if (p[j] == 0) {
                                dp[j] = 0;
                                continue;
                            }
                            int vi = (int) (vOff + vs.at(b, kvh, j));
                            double s = 0;
                            for (int d = 0; d < D; d++) {
                                s += (double) dO[gi + d] * v[vi + d];
                                dvAcc[j * D + d] += p[j] * dO[gi + d];
                            }
                            dp[j] = s;
                            dot += p[j] * s;
                        }
                        // p = softmax(logit): dlogit_j = p_j (dp_j - sum_k p_k dp_k); logit = scale q . k_j
                        java.util.Arrays.fill(dqRow, 0);
                        for (int j = 0; j < S; j++) {
                            if (p[j] == 0) {
                                continue;
                            }
                            double ds = p[j] * (dp[j] - dot) * cfg.scale;
                            int ki = (int) (kOff + ks.at(b, kvh, j));
                            for (int d = 0; d < D; d++) {
                                dqRow[d] += ds * k[ki + d];
                                dkAcc[j * D + d] += ds * q[qi + d];
                            }
                        }
                        int di = (int) (dqOff + dqs.at(b, h, i));
                        for (int d = 0; d < D; d++) {
                            dq[di + d] = (float) (dq[di + d] + dqRow[d]);
                        }
                    }
                }
                for (int j = 0; j < S; j++) {
                    int ki = (int) (dkOff + dks.at(b, kvh, j)), vi = (int) (dvOff + dvs.at(b, kvh, j));
                    for (int d = 0; d < D; d++) {
                        dk[ki + d] = (float) (dk[ki + d] + dkAcc[j * D + d]);
                        dv[vi + d] = (float) (dv[vi + d] + dvAcc[j * D + d]);
                    }
                }
            }
        }
    }

    /**
     * Fills {@code logit[j]} for query (b, h, i) in double, -inf where masked, and returns the maximum
     * (-inf when nothing is visible).
     */
    private static double logits(AttentionConfig cfg, int b, int h, int kvh, int i, float[] q, int qi,
                                 float[] k, int kOff, HeadLayout ks, float[] bias, int biasOff, double[] logit) {
        int S = cfg.keys, T = cfg.queries, D = cfg.headDim;
        int visible = cfg.keyLength(b);
        if (cfg.causal != CausalMask.NONE) {
            visible = (int) Math.max(0, Math.min(visible, (long) i + cfg.causal.offset(T, S) + 1));
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < S; j++) {
            if (j >= visible) {
                logit[j] = Double.NEGATIVE_INFINITY;
                continue;
            }
            int ki = (int) (kOff + ks.at(b, kvh, j));
            double s = 0;
            for (int d = 0; d < D; d++) {
                s += (double) q[qi + d] * k[ki + d];
            }
            s *= cfg.scale;
            if (cfg.bias == BiasShape.SHARED) {
                s += bias[biasOff + i * S + j];
            } else if (cfg.bias == BiasShape.PER_HEAD) {
                s += bias[biasOff + ((b * cfg.heads + h) * T + i) * S + j];
            }
            logit[j] = s;
            max = Math.max(max, s);
        }
        return max;
    }
}
