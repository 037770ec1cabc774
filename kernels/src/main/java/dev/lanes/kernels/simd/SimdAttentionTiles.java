package dev.lanes.kernels.simd;

import dev.lanes.kernels.FloatExp;
import dev.lanes.kernels.Tuning;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API body of {@code dev.lanes.kernels.internal.AttentionTiles}: the small products and the column-wise
 * online softmax of a FlashAttention-2 tile in the transposed (keys x queries) layout. Arguments were
 * validated by the facade.
 *
 * <p>The products are register-blocked tiles in the shape of BLIS micro-kernels, reading A through a
 * (row stride, column stride) pair so that K, V, P, dS and their transposes are all used in place.
 * The tiles are {@link SimdTiles}, the register-tile family GEMM uses, in the machine's GEMM shape
 * ({@code Tuning}'s tile, so the table and the autotuner choose it for both): columns run that tile's
 * width at a time (the last rows 2 and 1 at a time), then 3L, 2L, L on 8-row tiles (remaining rows one
 * at a time), a last partial vector column scalar;
 * a product of one row (decoding) first takes 8L at a time, so each row of B is read whole.
 * Every element of C is the same chain of fmas over k whatever tile computes it, so the tile choice
 * never changes the bits. The 6 x 4L tile measured 66.9 vs 71.4 ms for the MQA backward (B=4, Hq=8,
 * T=S=512, D=64, 1 thread) against 8 x 2L twice for its 4L-wide products, the same bits.
 */
public final class SimdAttentionTiles {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    private SimdAttentionTiles() {}

    // exp is FloatExp's, the one exponential of Lanes (VectorMath.expInPlace in the lanes, FloatExp.exp in
    // scalar columns and tails): exactly specified operations, the same bits in every JIT tier and lane.

    public static void gemm(int m, int n, int k, float[] a, int aOff, int aRs, int aCs,
                            float[] b, int bOff, int ldb, boolean accumulate, float[] cs, int csOff,
                            float[] c, int cOff, int ldc) {
        int j = 0;
        if (m == 1) {
            // one row (decoding, one query per kv head): 8L-wide, so each row of B is read once, whole and
            // in order; two passes of 4L read every other half row, which the prefetchers follow worse
            for (; n - j >= 8 * L; j += 8 * L) {
                SimdTiles.a1x8(k, a, aOff, aRs, aCs, b, bOff + j, ldb,
                        accumulate, cs, csOff + j, c, cOff + j, ldc);
            }
        }
        // the machine's GEMM tile first (Tuning: 6 x 4L on Zen 4, 4 x 3L under AVX2's 16 registers), the
        // rows left over two and one at a time: 2V and V independent chains, not rowTail's one; then
        // 8-row x 3L, 2L and 1L tiles for the columns left
        Tuning.Tile tile = Tuning.current().tile();
        int rows = tile.rows, vectors = tile.vectors, width = vectors * L;
        for (; n - j >= width; j += width) {
            for (int i = 0, r; i < m; i += r) {
                r = m - i >= rows ? rows : m - i >= 2 ? 2 : 1;
                SimdTiles.attentionTile(r, vectors, k, a, aOff + i * aRs, aRs, aCs, b, bOff + j, ldb,
                        accumulate, cs, csOff + j, c, cOff + i * ldc + j, ldc);
            }
        }
        for (; n - j >= 3 * L; j += 3 * L) {
            int i = 0;
            for (; i + 8 <= m; i += 8) {
                SimdTiles.a8x3(k, a, aOff + i * aRs, aRs, aCs, b, bOff + j, ldb,
                        accumulate, cs, csOff + j, c, cOff + i * ldc + j, ldc);
            }
            rowTail(i, m, 3, k, a, aOff, aRs, aCs, b, bOff + j, ldb, accumulate, cs, csOff + j, c, cOff + j, ldc);
        }
        for (; n - j >= 2 * L; j += 2 * L) {
            int i = 0;
            for (; i + 8 <= m; i += 8) {
                SimdTiles.a8x2(k, a, aOff + i * aRs, aRs, aCs, b, bOff + j, ldb,
                        accumulate, cs, csOff + j, c, cOff + i * ldc + j, ldc);
            }
            rowTail(i, m, 2, k, a, aOff, aRs, aCs, b, bOff + j, ldb, accumulate, cs, csOff + j, c, cOff + j, ldc);
        }
        if (n - j >= L) {
            int i = 0;
            for (; i + 8 <= m; i += 8) {
                SimdTiles.a8x1(k, a, aOff + i * aRs, aRs, aCs, b, bOff + j, ldb,
                        accumulate, cs, csOff + j, c, cOff + i * ldc + j, ldc);
            }
            rowTail(i, m, 1, k, a, aOff, aRs, aCs, b, bOff + j, ldb, accumulate, cs, csOff + j, c, cOff + j, ldc);
            j += L;
        }
        for (; j < n; j++) { // a last partial vector of columns
            for (int i = 0; i < m; i++) {
                float acc = 0f;
                for (int p = 0; p < k; p++) {
                    acc = Math.fma(a[aOff + i * aRs + p * aCs], b[bOff + p * ldb + j], acc);
                }
                int o = cOff + i * ldc + j;
                c[o] = accumulate ? Math.fma(c[o], cs == null ? 1f : cs[csOff + j], acc) : acc;
            }
        }
    }

    /** Rows [i0, m) one at a time, nv vectors wide: the few rows below the last 8-row tile. */
    private static void rowTail(int i0, int m, int nv, int k, float[] a, int aOff, int aRs, int aCs,
                                float[] b, int bi, int ldb, boolean accumulate, float[] cs, int csi,
                                float[] c, int ci, int ldc) {
        for (int i = i0; i < m; i++) {
            int ar = aOff + i * aRs;
            for (int v = 0; v < nv; v++) {
                FloatVector acc = FloatVector.zero(S);
                for (int p = 0; p < k; p++) {
                    acc = FloatVector.fromArray(S, b, bi + p * ldb + v * L)
                            .fma(FloatVector.broadcast(S, a[ar + p * aCs]), acc);
                }
                int o = ci + i * ldc + v * L;
                if (accumulate) {
                    FloatVector s = cs == null ? FloatVector.broadcast(S, 1f) : FloatVector.fromArray(S, cs, csi + v * L);
                    acc = FloatVector.fromArray(S, c, o).fma(s, acc);
                }
                acc.intoArray(c, o);
            }
        }
    }

    public static void softmaxOnline(int n, int m, float[] s, int sOff, int lds, int rowBase,
                                     float[] limit, int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                     float[] max, float[] sum, float[] alpha, int statOff) {
        // Two passes over the tile, each its own method: the maxima (parked in alpha, which the second
        // pass overwrites), then the exponentials and sums. In one method with both maximum loops, C2
        // ran out of its inlining node budget (NodeCountInliningCutoff) before the second exp: then a call
        // on boxed vectors, 0.9 MB of garbage per causal MQA forward (B=4, Hq=8, T=512); since exp works
        // on an array it would be a plain call, but split each pass compiles with its exps inlined.
        int vecEnd = S.loopBound(m);
        if (limit == null && bias == null) {
            columnMax(n, vecEnd, s, sOff, lds, max, alpha, statOff);
        } else {
            columnMaxMasked(n, vecEnd, s, sOff, lds, rowBase, limit, limOff, bias, biasIdx, biasIdxOff,
                    max, alpha, statOff);
        }
        columnExp(n, vecEnd, s, sOff, lds, max, sum, alpha, statOff);
        for (int c = vecEnd; c < m; c++) {
            softmaxColumnScalar(n, s, sOff + c, lds, rowBase, limit == null ? Float.MAX_VALUE : limit[limOff + c],
                    bias, bias == null ? 0 : biasIdx[biasIdxOff + c], max, sum, alpha, statOff + c);
        }
    }

    /** alpha[c] = max(max[c], max_j s[j][c]) for the column vectors below vecEnd. */
    private static void columnMax(int n, int vecEnd, float[] s, int sOff, int lds, float[] max, float[] alpha,
                                  int statOff) {
        for (int c = 0; c < vecEnd; c += L) {
            // four independent chains: Java's max is several dependent instructions on x86
            FloatVector vm = FloatVector.fromArray(S, max, statOff + c), m1 = vm, m2 = vm, m3 = vm;
            int j = 0;
            for (; j + 4 <= n; j += 4) {
                int o = sOff + j * lds + c;
                vm = vm.max(FloatVector.fromArray(S, s, o));
                m1 = m1.max(FloatVector.fromArray(S, s, o + lds));
                m2 = m2.max(FloatVector.fromArray(S, s, o + 2 * lds));
                m3 = m3.max(FloatVector.fromArray(S, s, o + 3 * lds));
            }
            for (; j < n; j++) {
                vm = vm.max(FloatVector.fromArray(S, s, sOff + j * lds + c));
            }
            vm.max(m1).max(m2.max(m3)).intoArray(alpha, statOff + c);
        }
    }

    /** {@link #columnMax} after adding the bias and writing -inf over the masked entries of s. */
    private static void columnMaxMasked(int n, int vecEnd, float[] s, int sOff, int lds, int rowBase,
                                        float[] limit, int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                        float[] max, float[] alpha, int statOff) {
        for (int c = 0; c < vecEnd; c += L) {
            FloatVector vm = FloatVector.fromArray(S, max, statOff + c);
            // no limit is a limit no row reaches; a null vector here would make C2 box lim (a merge of
            // null and a vector), which measured 20 KB per causal forward with a bias (B=2, T=200)
            FloatVector lim = limit == null ? FloatVector.broadcast(S, Float.MAX_VALUE)
                    : FloatVector.fromArray(S, limit, limOff + c);
            for (int j = 0; j < n; j++) {
                int o = sOff + j * lds + c;
                FloatVector x = FloatVector.fromArray(S, s, o);
                if (bias != null) {
                    x = x.add(FloatVector.fromArray(S, bias, rowBase + j, biasIdx, biasIdxOff + c));
                }
                x = x.blend(NEG_INF, lim.compare(VectorOperators.LE, (float) (rowBase + j)));
                x.intoArray(s, o);
                vm = vm.max(x);
            }
            vm.intoArray(alpha, statOff + c);
        }
    }

    /** The exponentials, sums and rescale factors of the column vectors below vecEnd, new maxima in alpha. */
    private static void columnExp(int n, int vecEnd, float[] s, int sOff, int lds, float[] max, float[] sum,
                                  float[] alpha, int statOff) {
        for (int c = 0; c < vecEnd; c += L) {
            FloatVector mOld = FloatVector.fromArray(S, max, statOff + c);
            FloatVector vm = FloatVector.fromArray(S, alpha, statOff + c);
            // A column with nothing visible yet keeps max -inf; subtracting 0 then gives FloatExp.exp(-inf) = 0.
            FloatVector safe = vm.blend(0f, vm.eq(NEG_INF));
            FloatVector vs = FloatVector.zero(S);
            for (int j = 0; j < n; j++) {
                int o = sOff + j * lds + c;
                FloatVector.fromArray(S, s, o).sub(safe).intoArray(s, o);
                VectorMath.expInPlace(s, o);
                vs = vs.add(FloatVector.fromArray(S, s, o));
            }
            // alpha = FloatExp.exp(m_old - m_new) replaces the new maxima, which vm holds
            mOld.sub(safe).intoArray(alpha, statOff + c);
            VectorMath.expInPlace(alpha, statOff + c);
            FloatVector va = FloatVector.fromArray(S, alpha, statOff + c);
            FloatVector.fromArray(S, sum, statOff + c).fma(va, vs).intoArray(sum, statOff + c);
            vm.intoArray(max, statOff + c);
        }
    }

    public static void softmaxOnlineRows(int m, int n, float[] s, int sOff, int lds, int colBase,
                                         float[] limit, int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                         float[] max, float[] sum, float[] alpha, int statOff) {
        int vecEnd = S.loopBound(n);
        for (int i = 0; i < m; i++) {
            int so = sOff + i * lds, st = statOff + i;
            long visible = limit == null ? Long.MAX_VALUE : (long) limit[limOff + i] - colBase;
            int bi = bias == null ? 0 : biasIdx[biasIdxOff + i] + colBase;
            float mOld = max[st];
            FloatVector vm = FloatVector.broadcast(S, mOld);
            int j = 0;
            for (; j < vecEnd; j += L) {
                FloatVector x = FloatVector.fromArray(S, s, so + j);
                if (bias != null) {
                    x = x.add(FloatVector.fromArray(S, bias, bi + j));
                }
                if (visible < j + L) {
                    x = x.blend(NEG_INF, S.indexInRange(j, (int) Math.max(0, visible)).not());
                }
                x.intoArray(s, so + j);
                vm = vm.max(x);
            }
            float mx = vm.reduceLanes(VectorOperators.MAX); // a maximum is exact in any order
            for (; j < n; j++) {
                float x = s[so + j];
                if (bias != null) {
                    x += bias[bi + j];
                }
                if (visible <= j) {
                    x = NEG_INF;
                }
                s[so + j] = x;
                mx = Math.max(mx, x);
            }
            float safe = mx == NEG_INF ? 0f : mx;
            FloatVector vsafe = FloatVector.broadcast(S, safe);
            for (j = 0; j < vecEnd; j += L) {
                FloatVector.fromArray(S, s, so + j).sub(vsafe).intoArray(s, so + j);
                VectorMath.expInPlace(s, so + j);
            }
            for (; j < n; j++) {
                s[so + j] = FloatExp.exp(s[so + j] - safe);
            }
            alpha[st] = FloatExp.exp(mOld - safe);
            max[st] = mx;
        }
        // Row sums in key order, the order in which the column kernel adds them; four rows at a time
        // so that four independent chains of adds are in flight (rows past m repeat row i0, unused).
        for (int i0 = 0; i0 < m; i0 += 4) {
            int g = Math.min(4, m - i0);
            int r0 = sOff + i0 * lds, r1 = g > 1 ? r0 + lds : r0, r2 = g > 2 ? r0 + 2 * lds : r0;
            int r3 = g > 3 ? r0 + 3 * lds : r0;
            float l0 = 0f, l1 = 0f, l2 = 0f, l3 = 0f;
            for (int j = 0; j < n; j++) {
                l0 += s[r0 + j];
                l1 += s[r1 + j];
                l2 += s[r2 + j];
                l3 += s[r3 + j];
            }
            int st = statOff + i0;
            sum[st] = Math.fma(sum[st], alpha[st], l0);
            if (g > 1) {
                sum[st + 1] = Math.fma(sum[st + 1], alpha[st + 1], l1);
            }
            if (g > 2) {
                sum[st + 2] = Math.fma(sum[st + 2], alpha[st + 2], l2);
            }
            if (g > 3) {
                sum[st + 3] = Math.fma(sum[st + 3], alpha[st + 3], l3);
            }
        }
    }

    private static void softmaxColumnScalar(int n, float[] s, int sc, int lds, int rowBase, float lim,
                                            float[] bias, int bIdx, float[] max, float[] sum, float[] alpha, int st) {
        float mOld = max[st], mx = mOld;
        for (int j = 0; j < n; j++) {
            float x = s[sc + j * lds];
            if (bias != null) {
                x += bias[bIdx + rowBase + j];
            }
            if (lim <= rowBase + j) {
                x = NEG_INF;
            }
            s[sc + j * lds] = x;
            mx = Math.max(mx, x);
        }
        float safe = mx == NEG_INF ? 0f : mx;
        float ls = 0f;
        for (int j = 0; j < n; j++) {
            float p = FloatExp.exp(s[sc + j * lds] - safe);
            s[sc + j * lds] = p;
            ls += p;
        }
        float a = FloatExp.exp(mOld - safe);
        sum[st] = Math.fma(sum[st], a, ls);
        alpha[st] = a;
        max[st] = mx;
    }

    public static void backwardScoresRows(int m, int n, float scale, float[] s, int sOff, int lds,
                                          float[] dp, int dpOff, int lddp, int colBase, float[] limit, int limOff,
                                          float[] bias, int[] biasIdx, int biasIdxOff, float[] lse, int lseOff,
                                          float[] dr, int drOff) {
        int vecEnd = S.loopBound(n);
        FloatVector vsc = FloatVector.broadcast(S, scale);
        for (int i = 0; i < m; i++) {
            int so = sOff + i * lds, go = dpOff + i * lddp;
            float l = lse[lseOff + i], d = dr[drOff + i];
            FloatVector vl = FloatVector.broadcast(S, l), vd = FloatVector.broadcast(S, d);
            // columns j >= visible are masked; the float limit holds an integer key count
            long visible = limit == null ? Long.MAX_VALUE : (long) limit[limOff + i] - colBase;
            int bi = bias == null ? 0 : biasIdx[biasIdxOff + i] + colBase;
            int j = 0;
            for (; j < vecEnd; j += L) {
                FloatVector x = FloatVector.fromArray(S, s, so + j);
                FloatVector p;
                if (visible >= j + L) {
                    if (bias != null) {
                        x = x.add(FloatVector.fromArray(S, bias, bi + j));
                    }
                    x.sub(vl).intoArray(s, so + j);
                    VectorMath.expInPlace(s, so + j);
                    p = FloatVector.fromArray(S, s, so + j);
                } else {
                    // bias is read at visible entries only: a padded tile may run past the bias row
                    VectorMask<Float> seen = S.indexInRange(j, (int) Math.max(0, visible));
                    if (bias != null) {
                        x = x.add(FloatVector.fromArray(S, bias, bi + j, seen));
                    }
                    x.sub(vl).intoArray(s, so + j);
                    VectorMath.expInPlace(s, so + j);
                    p = FloatVector.fromArray(S, s, so + j).blend(0f, seen.not());
                    p.intoArray(s, so + j);
                }
                p.mul(vsc).mul(FloatVector.fromArray(S, dp, go + j).sub(vd)).intoArray(dp, go + j);
            }
            for (; j < n; j++) {
                float p = 0f;
                if (visible > j) {
                    float x = s[so + j];
                    if (bias != null) {
                        x += bias[bi + j];
                    }
                    p = FloatExp.exp(x - l);
                }
                s[so + j] = p;
                dp[go + j] = p * scale * (dp[go + j] - d);
            }
        }
    }

    public static void backwardScoresColumns(int n, int m, float scale, float[] s, int sOff, int lds,
                                             float[] p, int pOff, int ldp,
                                             float[] dp, int dpOff, int lddp, int rowBase, float[] limit, int limOff,
                                             float[] bias, int[] biasIdx, int biasIdxOff, float[] lse, int lseOff,
                                             float[] dr, int drOff) {
        int vecEnd = S.loopBound(m);
        FloatVector vsc = FloatVector.broadcast(S, scale);
        for (int c = 0; c < vecEnd; c += L) {
            FloatVector vl = FloatVector.fromArray(S, lse, lseOff + c), vd = FloatVector.fromArray(S, dr, drOff + c);
            // no limit is a limit no key reaches (a null vector here would be boxed, see columnMaxMasked)
            FloatVector lim = limit == null ? FloatVector.broadcast(S, Float.MAX_VALUE)
                    : FloatVector.fromArray(S, limit, limOff + c);
            // the columns' smallest limit: rows below it are visible in every lane
            float minLim = limit == null ? Float.MAX_VALUE : lim.reduceLanes(VectorOperators.MIN);
            for (int j = 0; j < n; j++) {
                int so = sOff + j * lds + c, po = pOff + j * ldp + c, go = dpOff + j * lddp + c;
                FloatVector x = FloatVector.fromArray(S, s, so);
                FloatVector pv;
                if (minLim > rowBase + j) {
                    if (bias != null) {
                        x = x.add(FloatVector.fromArray(S, bias, rowBase + j, biasIdx, biasIdxOff + c));
                    }
                    x.sub(vl).intoArray(p, po);
                    VectorMath.expInPlace(p, po);
                    pv = FloatVector.fromArray(S, p, po);
                } else if (bias != null) {
                    // bias is read at visible entries only (a bias row may end at the last visible key), and a
                    // masked gather still checks the masked lanes' indices: these few rows lane by lane
                    for (int l = c; l < c + L; l++) {
                        scoreScalar(j, l, scale, s, sOff, lds, p, pOff, ldp, dp, dpOff, lddp, rowBase,
                                limit[limOff + l], bias, biasIdx[biasIdxOff + l], lse[lseOff + l], dr[drOff + l]);
                    }
                    continue;
                } else {
                    VectorMask<Float> seen = lim.compare(VectorOperators.GT, (float) (rowBase + j));
                    x.sub(vl).intoArray(p, po);
                    VectorMath.expInPlace(p, po);
                    pv = FloatVector.fromArray(S, p, po).blend(0f, seen.not());
                    pv.intoArray(p, po);
                }
                pv.mul(vsc).mul(FloatVector.fromArray(S, dp, go).sub(vd)).intoArray(dp, go);
            }
        }
        for (int c = vecEnd; c < m; c++) { // a last partial vector of columns
            float lim = limit == null ? Float.MAX_VALUE : limit[limOff + c];
            int bi = bias == null ? 0 : biasIdx[biasIdxOff + c];
            for (int j = 0; j < n; j++) {
                scoreScalar(j, c, scale, s, sOff, lds, p, pOff, ldp, dp, dpOff, lddp, rowBase, lim, bias, bi,
                        lse[lseOff + c], dr[drOff + c]);
            }
        }
    }

    /** Entry (j, c) of {@link #backwardScoresColumns}: the lanes' operations on one float. */
    private static void scoreScalar(int j, int c, float scale, float[] s, int sOff, int lds, float[] p, int pOff,
                                    int ldp, float[] dp, int dpOff, int lddp, int rowBase, float lim, float[] bias,
                                    int bi, float l, float d) {
        int go = dpOff + j * lddp + c;
        float pj = 0f;
        if (lim > rowBase + j) {
            float x = s[sOff + j * lds + c];
            if (bias != null) {
                x += bias[bi + rowBase + j];
            }
            pj = FloatExp.exp(x - l);
        }
        p[pOff + j * ldp + c] = pj;
        dp[go] = pj * scale * (dp[go] - d);
    }
}
