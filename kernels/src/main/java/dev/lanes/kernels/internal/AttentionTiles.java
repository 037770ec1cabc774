package dev.lanes.kernels.internal;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.simd.SimdKernels;

/**
 * The inner loops of tiled (FlashAttention-2, Dao 2023) attention, for {@code dev.lanes.core.attention}
 * to drive. Tiles are kept in the transposed layout {@code (keys, queries)}: a column is one query row,
 * so the online softmax statistics (running max, sum, rescale factor, logsumexp) are vectors along the
 * columns and no step needs a horizontal reduction.
 *
 * <pre>
 *   gemm:           C (m, n) = A (m, k) * B (k, n)            (accumulate == false)
 *                   C (m, n) = C .* colScale + A * B           (accumulate == true; colScale null = ones)
 *                   A[r][p] = a[aOff + r*aRs + p*aCs], B row p at bOff + p*ldb, C row r at cOff + r*ldc
 *   softmaxOnline:  one key tile of the forward online softmax over the columns of S^T (n, m)
 *   softmaxOnlineRows: the same over the rows of S (m, n), for few queries (decoding)
 *   backwardScoresRows: P = exp(S + bias - lse) and dS = scale * P .* (dP - dr) in the (queries, keys)
 *                   layout, in place (the backward has no statistic to reduce along the keys)
 *   backwardScoresColumns: the same in the (keys, queries) layout, for scores the forward kept
 * </pre>
 *
 * A column (query) c sees the rows (keys) j with {@code rowBase + j < limit[c]}; a null limit means
 * all. Bias, when not null, adds {@code bias[biasIdx[biasIdxOff + c] + rowBase + j]} to entry (j, c).
 * These are building blocks called once per tile inside the attention driver's loops, and they trust
 * their caller: the driver validates the user-facing shapes once per call, and here the arguments are
 * only checked under {@code assert} (the tests run with {@code -ea}, where a bad tile call throws the
 * same {@link IllegalArgumentException} as a facade would). Not exported: only {@code dev.lanes.core}
 * sees this package.
 */
public final class AttentionTiles {
    /** Chosen once with the other kernel families (see {@link Backend}); SIMD classes load only if chosen. */
    private static final AttentionTileKernel IMPL =
            Backend.simdEnabled() ? SimdKernels.attentionTiles() : AttentionTilesScalar.KERNEL;

    private AttentionTiles() {}

    /** See the class comment. C must not overlap A, B or colScale. */
    public static void gemm(int m, int n, int k, float[] a, int aOff, int aRs, int aCs,
                            float[] b, int bOff, int ldb, boolean accumulate, float[] colScale, int csOff,
                            float[] c, int cOff, int ldc) {
        assert checkGemm(m, n, k, a, aOff, aRs, aCs, b, bOff, ldb, accumulate, colScale, csOff, c, cOff, ldc);
        IMPL.gemm(m, n, k, a, aOff, aRs, aCs, b, bOff, ldb, accumulate, colScale, csOff, c, cOff, ldc);
    }

    /**
     * One key tile of the forward online softmax, in place on {@code s: (n, m)} with row stride lds.
     * Per column c (statistics at {@code statOff + c}): masked entries become -inf, then
     *
     * <pre>
     *   mNew = max(max[c], max_j s[j][c]);  safe = (mNew == -inf ? 0 : mNew)
     *   s[j][c] = exp(s[j][c] - safe);      alpha[c] = exp(max[c] - safe)
     *   sum[c] = sum[c] * alpha[c] + sum_j s[j][c];  max[c] = mNew
     * </pre>
     *
     * so a column that has seen nothing visible keeps max -inf and sum 0, never NaN.
     */
    public static void softmaxOnline(int n, int m, float[] s, int sOff, int lds, int rowBase,
                                     float[] limit, int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                     float[] max, float[] sum, float[] alpha, int statOff) {
        assert checkSoftmax("n", n, "m", m, s, sOff, lds, m, limit, limOff, bias, biasIdx, biasIdxOff, max, sum,
                alpha, statOff);
        IMPL.softmaxOnline(n, m, s, sOff, lds, rowBase, limit, limOff, bias, biasIdx, biasIdxOff, max, sum, alpha,
                statOff);
    }

    /**
     * {@link #softmaxOnline} in the row layout {@code s: (m, n)}, row i a query, column j key
     * {@code colBase + j}, statistics at {@code statOff + i}. Each row gets the same float operations
     * in the same order as the column kernel gives the matching column of the transposed tile (maxima
     * are exact in any order; the row sum adds in key order), hence the same bits: decoding, whose few
     * queries make rows the cheap layout, then agrees with the forward bit for bit.
     */
    public static void softmaxOnlineRows(int m, int n, float[] s, int sOff, int lds, int colBase,
                                         float[] limit, int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                         float[] max, float[] sum, float[] alpha, int statOff) {
        assert checkSoftmax("m", m, "n", n, s, sOff, lds, m, limit, limOff, bias, biasIdx, biasIdxOff, max, sum,
                alpha, statOff);
        IMPL.softmaxOnlineRows(m, n, s, sOff, lds, colBase, limit, limOff, bias, biasIdx, biasIdxOff, max, sum, alpha,
                statOff);
    }

    private static void checkRowExtras(int m, float[] limit, int limOff, float[] bias, int[] biasIdx,
                                       int biasIdxOff) {
        if (limit != null) {
            Checks.vector("limit", limit, limOff, m);
        }
        if (bias != null) {
            Checks.notNull(biasIdx, "biasIdx");
            if (biasIdxOff < 0 || (long) biasIdxOff + m > biasIdx.length) {
                throw new IllegalArgumentException("biasIdx too short: biasIdxOff=" + biasIdxOff + " + m=" + m
                        + " > biasIdx.length=" + biasIdx.length);
            }
        }
    }

    /**
     * The score part of the attention backward for one tile in the row layout {@code (queries, keys)},
     * in place; row i is query i, column j key {@code colBase + j}:
     *
     * <pre>
     *   s:  (m, n) scores S in, probabilities P = exp(s + bias - lse[i]) out (masked: 0)
     *   dp: (m, n) dP = dO V^T in, dS = scale * P .* (dP - dr[i]) out
     *   lse[lseOff + i], dr[drOff + i], limit[limOff + i]: per row
     * </pre>
     *
     * Row i sees the columns j with {@code colBase + j < limit[i]} (null: all); bias, when not null, adds
     * {@code bias[biasIdx[biasIdxOff + i] + colBase + j]} and is read at visible entries only, so a tile
     * padded past the last key may use a bias row that ends there. A row with {@code lse = +inf} (how the
     * driver marks a fully masked query) gets P = 0. The backward needs no statistic along the keys, so
     * it takes the layout in which every product of the tile runs on full register tiles.
     */
    public static void backwardScoresRows(int m, int n, float scale, float[] s, int sOff, int lds,
                                          float[] dp, int dpOff, int lddp, int colBase, float[] limit, int limOff,
                                          float[] bias, int[] biasIdx, int biasIdxOff, float[] lse, int lseOff,
                                          float[] dr, int drOff) {
        assert checkBackwardScores(m, n, s, sOff, lds, dp, dpOff, lddp, limit, limOff, bias, biasIdx, biasIdxOff,
                lse, lseOff, dr, drOff);
        IMPL.backwardScoresRows(m, n, scale, s, sOff, lds, dp, dpOff, lddp, colBase, limit, limOff,
                bias, biasIdx, biasIdxOff, lse, lseOff, dr, drOff);
    }

    private static boolean checkBackwardScores(int m, int n, float[] s, int sOff, int lds, float[] dp, int dpOff,
                                               int lddp, float[] limit, int limOff, float[] bias, int[] biasIdx,
                                               int biasIdxOff, float[] lse, int lseOff, float[] dr, int drOff) {
        Checks.nonNegative("m", m);
        Checks.nonNegative("n", n);
        Checks.matrix("s", s, sOff, lds, "lds", m, n, "n");
        Checks.matrix("dp", dp, dpOff, lddp, "lddp", m, n, "n");
        checkRowExtras(m, limit, limOff, bias, biasIdx, biasIdxOff);
        Checks.vector("lse", lse, lseOff, m);
        Checks.vector("dr", dr, drOff, m);
        return true;
    }

    /**
     * {@link #backwardScoresRows} in the forward's layout {@code (keys, queries)}: row j is key
     * {@code rowBase + j}, column c query c with {@code lse[lseOff + c]}, {@code dr[drOff + c]},
     * {@code limit[limOff + c]} and bias row {@code biasIdx[biasIdxOff + c]}:
     *
     * <pre>
     *   s:  (n, m) scores S^T in (read only, unless p is s);  p: (n, m) P^T out;  dp: (n, m) dP^T in, dS^T out
     * </pre>
     *
     * p may be s itself (same offset and stride); otherwise it must not overlap s or dp.
     *
     * The same float operations per entry as the row form, hence the same bits: the backward over
     * scores the forward kept (in its layout) then matches the recomputing backward bit for bit.
     */
    public static void backwardScoresColumns(int n, int m, float scale, float[] s, int sOff, int lds,
                                             float[] p, int pOff, int ldp,
                                             float[] dp, int dpOff, int lddp, int rowBase, float[] limit, int limOff,
                                             float[] bias, int[] biasIdx, int biasIdxOff, float[] lse, int lseOff,
                                             float[] dr, int drOff) {
        assert checkBackwardScoresColumns(n, m, s, sOff, lds, p, pOff, ldp, dp, dpOff, lddp, limit, limOff,
                bias, biasIdx, biasIdxOff, lse, lseOff, dr, drOff);
        IMPL.backwardScoresColumns(n, m, scale, s, sOff, lds, p, pOff, ldp, dp, dpOff, lddp, rowBase,
                limit, limOff, bias, biasIdx, biasIdxOff, lse, lseOff, dr, drOff);
    }

    private static boolean checkBackwardScoresColumns(int n, int m, float[] s, int sOff, int lds, float[] p, int pOff,
                                                      int ldp, float[] dp, int dpOff, int lddp, float[] limit,
                                                      int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                                      float[] lse, int lseOff, float[] dr, int drOff) {
        Checks.nonNegative("n", n);
        Checks.nonNegative("m", m);
        Checks.matrix("s", s, sOff, lds, "lds", n, m, "m");
        Checks.matrix("p", p, pOff, ldp, "ldp", n, m, "m");
        Checks.matrix("dp", dp, dpOff, lddp, "lddp", n, m, "m");
        checkRowExtras(m, limit, limOff, bias, biasIdx, biasIdxOff);
        Checks.vector("lse", lse, lseOff, m);
        Checks.vector("dr", dr, drOff, m);
        return true;
    }

    /** Always true (so it can sit under {@code assert}); throws on a bad argument. */
    static boolean checkGemm(int m, int n, int k, float[] a, int aOff, int aRs, int aCs,
                          float[] b, int bOff, int ldb, boolean accumulate, float[] colScale, int csOff,
                          float[] c, int cOff, int ldc) {
        Checks.nonNegative("m", m);
        Checks.nonNegative("n", n);
        Checks.nonNegative("k", k);
        Checks.nonNegative("aRs", aRs);
        Checks.nonNegative("aCs", aCs);
        Checks.matrix("c", c, cOff, ldc, "ldc", m, n, "n");
        if (m == 0 || n == 0) {
            return true;
        }
        if (k > 0) {
            Checks.notNull(a, "a");
            long aEnd = aOff + (long) (m - 1) * aRs + (long) (k - 1) * aCs + 1;
            if (aOff < 0 || aEnd > a.length) {
                throw new IllegalArgumentException("a too short: aOff=" + aOff + ", last element at " + (aEnd - 1)
                        + " >= a.length=" + a.length);
            }
            Checks.matrix("b", b, bOff, ldb, "ldb", k, n, "n");
        }
        if (accumulate && colScale != null) {
            Checks.vector("colScale", colScale, csOff, n);
        }
        return true;
    }

    /**
     * Both online softmaxes: s is {@code rows x cols} with row stride lds, and {@code m} of its rows (the
     * row layout) or columns (the column layout) are queries with a limit, a bias index and statistics.
     */
    private static boolean checkSoftmax(String rowsName, int rows, String colsName, int cols, float[] s, int sOff,
                                     int lds, int m, float[] limit, int limOff, float[] bias, int[] biasIdx,
                                     int biasIdxOff, float[] max, float[] sum, float[] alpha, int statOff) {
        Checks.nonNegative(rowsName, rows);
        Checks.nonNegative(colsName, cols);
        Checks.matrix("s", s, sOff, lds, "lds", rows, cols, colsName);
        checkRowExtras(m, limit, limOff, bias, biasIdx, biasIdxOff);
        checkStats(m, max, sum, alpha, statOff);
        return true;
    }

    /**
     * The three statistics vectors share statOff, so they must be three arrays: the kernels keep a
     * column's new maximum in alpha until the old one in max has been read.
     */
    private static void checkStats(int m, float[] max, float[] sum, float[] alpha, int statOff) {
        Checks.vector("max", max, statOff, m);
        Checks.vector("sum", sum, statOff, m);
        Checks.vector("alpha", alpha, statOff, m);
        if (max == sum || max == alpha || sum == alpha) {
            throw new IllegalArgumentException("max, sum and alpha share statOff=" + statOff
                    + " and must be distinct arrays; got " + (max == sum ? "max == sum" : max == alpha ? "max == alpha"
                    : "sum == alpha"));
        }
    }
}
