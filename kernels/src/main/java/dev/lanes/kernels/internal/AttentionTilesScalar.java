package dev.lanes.kernels.internal;

import dev.lanes.kernels.FloatExp;

/**
 * Scalar twin of {@link AttentionTiles}: the same contracts in plain loops (float arithmetic with
 * fused multiply-adds, and {@link FloatExp}, the exponential of the SIMD body). The fallback without
 * the Vector API and the oracle of the tile tests.
 */
public final class AttentionTilesScalar {
    private AttentionTilesScalar() {}

    /** This twin as the tile family's scalar implementation (see {@link AttentionTiles}). */
    static final AttentionTileKernel KERNEL = new AttentionTileKernel() {
        @Override
        public void gemm(int m, int n, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff, int ldb,
                         boolean accumulate, float[] colScale, int csOff, float[] c, int cOff, int ldc) {
            gemmUnchecked(m, n, k, a, aOff, aRs, aCs, b, bOff, ldb, accumulate, colScale, csOff, c, cOff, ldc);
        }

        @Override
        public void softmaxOnline(int n, int m, float[] s, int sOff, int lds, int rowBase, float[] limit,
                                  int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                  float[] max, float[] sum, float[] alpha, int statOff) {
            softmaxOnlineUnchecked(n, m, s, sOff, lds, rowBase, limit, limOff, bias, biasIdx, biasIdxOff,
                    max, sum, alpha, statOff);
        }

        @Override
        public void softmaxOnlineRows(int m, int n, float[] s, int sOff, int lds, int colBase, float[] limit,
                                      int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                      float[] max, float[] sum, float[] alpha, int statOff) {
            softmaxOnlineRowsUnchecked(m, n, s, sOff, lds, colBase, limit, limOff, bias, biasIdx, biasIdxOff,
                    max, sum, alpha, statOff);
        }

        @Override
        public void backwardScoresRows(int m, int n, float scale, float[] s, int sOff, int lds,
                                       float[] dp, int dpOff, int lddp, int colBase, float[] limit, int limOff,
                                       float[] bias, int[] biasIdx, int biasIdxOff, float[] lse, int lseOff,
                                       float[] dr, int drOff) {
            backwardScoresRowsUnchecked(m, n, scale, s, sOff, lds, dp, dpOff, lddp, colBase, limit, limOff,
                    bias, biasIdx, biasIdxOff, lse, lseOff, dr, drOff);
        }

        @Override
        public void backwardScoresColumns(int n, int m, float scale, float[] s, int sOff, int lds,
                                          float[] p, int pOff, int ldp, float[] dp, int dpOff, int lddp, int rowBase,
                                          float[] limit, int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                          float[] lse, int lseOff, float[] dr, int drOff) {
            backwardScoresColumnsUnchecked(n, m, scale, s, sOff, lds, p, pOff, ldp, dp, dpOff, lddp, rowBase,
                    limit, limOff, bias, biasIdx, biasIdxOff, lse, lseOff, dr, drOff);
        }
    };

    /** Same contract and validation as {@link AttentionTiles#gemm}. */
    public static void gemm(int m, int n, int k, float[] a, int aOff, int aRs, int aCs,
                            float[] b, int bOff, int ldb, boolean accumulate, float[] colScale, int csOff,
                            float[] c, int cOff, int ldc) {
        AttentionTiles.checkGemm(m, n, k, a, aOff, aRs, aCs, b, bOff, ldb, accumulate, colScale, csOff, c, cOff, ldc);
        gemmUnchecked(m, n, k, a, aOff, aRs, aCs, b, bOff, ldb, accumulate, colScale, csOff, c, cOff, ldc);
    }

    static void gemmUnchecked(int m, int n, int k, float[] a, int aOff, int aRs, int aCs,
                              float[] b, int bOff, int ldb, boolean accumulate, float[] cs, int csOff,
                              float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float acc = 0f;
                for (int p = 0; p < k; p++) {
                    acc = Math.fma(a[aOff + i * aRs + p * aCs], b[bOff + p * ldb + j], acc);
                }
                int o = cOff + i * ldc + j;
                c[o] = accumulate ? Math.fma(c[o], cs == null ? 1f : cs[csOff + j], acc) : acc;
            }
        }
    }

    public static void softmaxOnlineUnchecked(int n, int m, float[] s, int sOff, int lds, int rowBase,
                                       float[] limit, int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                       float[] max, float[] sum, float[] alpha, int statOff) {
        for (int c = 0; c < m; c++) {
            float lim = limit == null ? Float.MAX_VALUE : limit[limOff + c];
            int st = statOff + c;
            float mOld = max[st], mx = mOld;
            for (int j = 0; j < n; j++) {
                int o = sOff + j * lds + c;
                float x = s[o];
                if (bias != null) {
                    x += bias[biasIdx[biasIdxOff + c] + rowBase + j];
                }
                if (lim <= rowBase + j) {
                    x = Float.NEGATIVE_INFINITY; // masked: contributes FloatExp.exp(-inf) = 0
                }
                s[o] = x;
                mx = Math.max(mx, x);
            }
            float safe = mx == Float.NEGATIVE_INFINITY ? 0f : mx;
            float ls = 0f;
            for (int j = 0; j < n; j++) {
                int o = sOff + j * lds + c;
                float p = FloatExp.exp(s[o] - safe);
                s[o] = p;
                ls += p;
            }
            float a = FloatExp.exp(mOld - safe);
            sum[st] = Math.fma(sum[st], a, ls);
            alpha[st] = a;
            max[st] = mx;
        }
    }

    public static void softmaxOnlineRowsUnchecked(int m, int n, float[] s, int sOff, int lds, int colBase,
                                                  float[] limit, int limOff, float[] bias, int[] biasIdx,
                                                  int biasIdxOff, float[] max, float[] sum, float[] alpha,
                                                  int statOff) {
        for (int i = 0; i < m; i++) {
            float lim = limit == null ? Float.MAX_VALUE : limit[limOff + i];
            int st = statOff + i, row = sOff + i * lds;
            float mOld = max[st], mx = mOld;
            for (int j = 0; j < n; j++) {
                float x = s[row + j];
                if (bias != null) {
                    x += bias[biasIdx[biasIdxOff + i] + colBase + j];
                }
                if (lim <= colBase + j) {
                    x = Float.NEGATIVE_INFINITY;
                }
                s[row + j] = x;
                mx = Math.max(mx, x);
            }
            float safe = mx == Float.NEGATIVE_INFINITY ? 0f : mx;
            float ls = 0f;
            for (int j = 0; j < n; j++) {
                float p = FloatExp.exp(s[row + j] - safe);
                s[row + j] = p;
                ls += p;
            }
            float a = FloatExp.exp(mOld - safe);
            sum[st] = Math.fma(sum[st], a, ls);
            alpha[st] = a;
            max[st] = mx;
        }
    }

    public static void backwardScoresRowsUnchecked(int m, int n, float scale, float[] s, int sOff, int lds,
                                                   float[] dp, int dpOff, int lddp, int colBase, float[] limit,
                                                   int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                                   float[] lse, int lseOff, float[] dr, int drOff) {
        for (int i = 0; i < m; i++) {
            float lim = limit == null ? Float.MAX_VALUE : limit[limOff + i];
            for (int j = 0; j < n; j++) {
                int o = sOff + i * lds + j, g = dpOff + i * lddp + j;
                float p = 0f;
                if (lim > colBase + j) { // masked entries read no bias: a padded tile may run past its row
                    float x = s[o];
                    if (bias != null) {
                        x += bias[biasIdx[biasIdxOff + i] + colBase + j];
                    }
                    p = FloatExp.exp(x - lse[lseOff + i]);
                }
                s[o] = p;
                dp[g] = p * scale * (dp[g] - dr[drOff + i]); // dS = P .* (dP - rowsum(dO .* O))
            }
        }
    }

    public static void backwardScoresColumnsUnchecked(int n, int m, float scale, float[] s, int sOff, int lds,
                                                      float[] p, int pOff, int ldp,
                                                      float[] dp, int dpOff, int lddp, int rowBase, float[] limit,
                                                      int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                                      float[] lse, int lseOff, float[] dr, int drOff) {
        for (int j = 0; j < n; j++) {
            for (int c = 0; c < m; c++) {
                int o = sOff + j * lds + c, g = dpOff + j * lddp + c;
                float lim = limit == null ? Float.MAX_VALUE : limit[limOff + c];
                float pj = 0f;
                if (lim > rowBase + j) { // masked entries read no bias
                    float x = s[o];
                    if (bias != null) {
                        x += bias[biasIdx[biasIdxOff + c] + rowBase + j];
                    }
                    pj = FloatExp.exp(x - lse[lseOff + c]);
                }
                p[pOff + j * ldp + c] = pj;
                dp[g] = pj * scale * (dp[g] - dr[drOff + c]); // dS = P .* (dP - rowsum(dO .* O))
            }
        }
    }
}
