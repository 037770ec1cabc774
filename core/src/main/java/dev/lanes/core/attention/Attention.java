package dev.lanes.core.attention;

import dev.lanes.kernels.AttentionTiles;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;

/**
 * Batched multi-query attention (MHA, GQA, MQA), forward and backward, in the tiled online-softmax form
 * of FlashAttention-2 (Dao 2023): scores never exist as a full {@code T x S} matrix, and the forward
 * saves only O and the per-row logsumexp for the backward to recompute the probabilities from.
 *
 * <pre>
 * legend: B batch, Hq query heads, Hkv key/value heads, G = Hq/Hkv, T queries, S keys, D head dim
 *   q, dq:   [B, Hq, T, D]   views with their own HeadLayout (batch, head, row strides)
 *   k, dk:   [B, Hkv, S, D]
 *   v, dv:   [B, Hkv, S, D]
 *   o, dO:   [B, Hq, T, D]
 *   lse:     [B, Hq, T]      contiguous: lse[(b*Hq + h)*T + i] = log sum_j exp(logit[b,h,i,j])
 *   bias:    [T, S] or [B, Hq, T, S], contiguous, per AttentionConfig.biasShape()
 * </pre>
 *
 * <p>The work is cut by (batch, kv head, block of queries). A block stacks the G query heads of one
 * kv head over a few query positions ({@value #PANEL} columns in all), so each K/V tile is multiplied
 * once for the whole group: that reuse is what MQA and GQA buy. Inside a block the tiles are kept as
 * {@code (keys, queries)}, so the softmax statistics run along vector lanes. Key tiles that lie entirely
 * above the causal diagonal, or past the key length, are skipped.
 *
 * <p>The backward cuts each (batch, kv head) into {@code cfg.keySplit()} interleaved chunks of key
 * tiles; a chunk owns its rows of dK and dV and writes its dQ contribution to a partial that is added
 * into dq afterwards in chunk order. No part ever writes what another part writes, and how the work is
 * cut depends on the shape only, so the results are the same bits for any team size.
 *
 * <p>Every entry point validates all arguments before writing anything and throws
 * {@link IllegalArgumentException} naming the argument and the numbers. Steady-state calls allocate
 * nothing: tiles live in per-thread workspaces, the backward's packed blocks in a workspace of the
 * calling thread that grows to the largest shape seen ({@link #releaseWorkspace()} drops it).
 * Concurrent calls from different threads are safe.
 */
public final class Attention {
    /** Keys per tile (Bc in the FlashAttention papers). */
    static final int KEY_TILE = 64;
    /**
     * Keys per tile of the backward: larger than the forward's, so the dK/dV/dQ tile products run longer
     * inner loops (measured 98.6-98.9 vs 100.8-105.2 ms forward+backward, MQA B=4, Hq=8, T=S=512, D=64);
     * the forward and the KV cache measured better at 64. At least KEY_TILE: the tiles are sized by it.
     */
    static final int BACKWARD_KEY_TILE = 128;
    /** Query columns (query heads x positions) per block, a multiple of the 16-column alignment. */
    static final int PANEL = 48;
    /** Columns are padded to a multiple of this, so the tile kernels run on full vectors. */
    static final int ALIGN = 16;
    /** At most this many query columns in a block: the forward keeps O as rows (see forwardBlock). */
    static final int ROWS_O = 8;
    /** The backward aims at this many (batch, kv head, key chunk) parts; see AttentionConfig.keySplit. */
    static final int MIN_BACKWARD_PARTS = 4;

    private Attention() {}

    /** {@link #forward(Parallelism, AttentionConfig, float[], int, HeadLayout, float[], int, HeadLayout, float[], int, HeadLayout, float[], int, float[], int, HeadLayout, float[], int)} on the default team. */
    public static void forward(AttentionConfig cfg,
                               float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                               float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                               float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
        forward(Parallelism.defaultParallelism(), cfg, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff,
                o, oOff, os, lse, lseOff);
    }

    /**
     * {@code o = softmax(logits) v} and {@code lse = logsumexp(logits)} per query row (see the class and
     * {@link AttentionConfig} comments for shapes and masks). o and lse are written, never read; bias is
     * ignored (and may be null) when the config has none.
     */
    public static void forward(Parallelism par, AttentionConfig cfg,
                               float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                               float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                               float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
        notNull(par, "par");
        notNull(cfg, "cfg");
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        Views.check("q", q, qOff, qs, B, Hq, T, D);
        Views.check("k", k, kOff, ks, B, Hkv, S, D);
        Views.check("v", v, vOff, vs, B, Hkv, S, D);
        Views.checkBias(cfg, bias, biasOff);
        Views.check("o", o, oOff, os, B, Hq, T, D);
        Views.checkFlat("lse", lse, lseOff, (long) B * Hq * T);
        Job job = JOB.get();
        job.setForward(cfg.causal != CausalMask.NONE, cfg.causal.offset(T, S), cfg.keyLengths, cfg, T, S,
                q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        job.runForward(par);
    }

    /** {@link #backward(Parallelism, AttentionConfig, float[], int, HeadLayout, float[], int, HeadLayout, float[], int, HeadLayout, float[], int, HeadLayout, float[], int, float[], int, HeadLayout, float[], int, float[], int, HeadLayout, float[], int, HeadLayout, float[], int, HeadLayout)} on the default team. */
    public static void backward(AttentionConfig cfg, float[] dO, int dOOff, HeadLayout dOs,
                                float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                                float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                                float[] o, int oOff, HeadLayout os, float[] lse, int lseOff,
                                float[] dq, int dqOff, HeadLayout dqs, float[] dk, int dkOff, HeadLayout dks,
                                float[] dv, int dvOff, HeadLayout dvs) {
        backward(Parallelism.defaultParallelism(), cfg, dO, dOOff, dOs, q, qOff, qs, k, kOff, ks, v, vOff, vs,
                bias, biasOff, o, oOff, os, lse, lseOff, dq, dqOff, dqs, dk, dkOff, dks, dv, dvOff, dvs);
    }

    /**
     * Backward of {@link #forward}, ACCUMULATING into dq, dk and dv (zero them first to overwrite). o and
     * lse are the forward's outputs for the same inputs. With {@code P = exp(logit - lse)}:
     *
     * <pre>
     *   Dr = rowsum(dO .* O)            dV += P^T dO                  dP = dO V^T
     *   dS = P .* (dP - Dr)             dQ += scale * dS K            dK += scale * dS^T Q
     * </pre>
     *
     * where dk and dv of a kv head sum over the G query heads of its group. The bias receives no gradient.
     */
    public static void backward(Parallelism par, AttentionConfig cfg, float[] dO, int dOOff, HeadLayout dOs,
                                float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                                float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                                float[] o, int oOff, HeadLayout os, float[] lse, int lseOff,
                                float[] dq, int dqOff, HeadLayout dqs, float[] dk, int dkOff, HeadLayout dks,
                                float[] dv, int dvOff, HeadLayout dvs) {
        notNull(par, "par");
        notNull(cfg, "cfg");
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        Views.check("dO", dO, dOOff, dOs, B, Hq, T, D);
        Views.check("q", q, qOff, qs, B, Hq, T, D);
        Views.check("k", k, kOff, ks, B, Hkv, S, D);
        Views.check("v", v, vOff, vs, B, Hkv, S, D);
        Views.checkBias(cfg, bias, biasOff);
        Views.check("o", o, oOff, os, B, Hq, T, D);
        Views.checkFlat("lse", lse, lseOff, (long) B * Hq * T);
        Views.check("dq", dq, dqOff, dqs, B, Hq, T, D);
        Views.check("dk", dk, dkOff, dks, B, Hkv, S, D);
        Views.check("dv", dv, dvOff, dvs, B, Hkv, S, D);
        Job job = JOB.get();
        job.setForward(cfg.causal != CausalMask.NONE, cfg.causal.offset(T, S), cfg.keyLengths, cfg, T, S,
                q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        job.setBackward(cfg.keySplit, dO, dOOff, dOs, dq, dqOff, dqs, dk, dkOff, dks, dv, dvOff, dvs);
        job.checkWorkspace();
        job.runBackward(par);
    }

    /** Drops the calling thread's backward workspace (the packed blocks of the largest shape seen). */
    public static void releaseWorkspace() {
        JOB.get().big = new float[0];
        JOB.get().bigInt = new int[0];
    }

    /**
     * The decoding entry of {@link KVCache}: a forward over explicit T and S with bottom-right causal
     * alignment and no bias, the cache's V as {@code [B, Hkv, capacity, D]} and its K as transposed key
     * tiles {@code [B, Hkv, capacity / KEY_TILE, D, KEY_TILE]} (a head's both start at {@code kvs.at(b, h, 0)};
     * capacity a multiple of KEY_TILE).
     */
    static void forwardCached(Parallelism par, int batch, int heads, int kvHeads, int t, int s, int d, float scale,
                              float[] q, int qOff, HeadLayout qs, float[] k, float[] v, HeadLayout kvs,
                              float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
        Job job = JOB.get();
        job.setDims(batch, heads, kvHeads, t, s, d, scale, BiasShape.NONE);
        job.setForward(true, s - t, null, null, t, s, q, qOff, qs, k, 0, kvs, v, 0, kvs, null, 0,
                o, oOff, os, lse, lseOff);
        job.kTiled = true;
        job.runForward(par);
    }

    static int roundUp(int x, int m) {
        return (x + m - 1) / m * m;
    }

    private static void notNull(Object x, String name) {
        if (x == null) {
            throw new NullPointerException(name + " is null");
        }
    }

    /** Per-thread tiles: reused by every call on this thread, grown to the largest D seen. */
    private static final ThreadLocal<Tile> TILE = ThreadLocal.withInitial(Tile::new);

    static final class Tile {
        int d = -1, dp, cols;
        float[] qT, oT, oTmp, sT, dpT, dkAcc, dvAcc, max, sum, alpha, lim;
        int[] biasIdx;

        /** Sizes the tiles for head dimension d and at most {@code cols} query columns. */
        void ensure(int d, int cols) {
            if (d == this.d && cols <= this.cols) {
                return;
            }
            this.d = d;
            this.dp = roundUp(d, ALIGN);
            this.cols = Math.max(cols, this.cols);
            qT = new float[d * this.cols];
            oT = new float[d * this.cols];
            oTmp = new float[d * this.cols];
            sT = new float[BACKWARD_KEY_TILE * this.cols];
            dpT = new float[BACKWARD_KEY_TILE * this.cols];
            dkAcc = new float[BACKWARD_KEY_TILE * dp];
            dvAcc = new float[BACKWARD_KEY_TILE * dp];
            max = new float[this.cols];
            sum = new float[this.cols];
            alpha = new float[this.cols];
            lim = new float[this.cols];
            biasIdx = new int[this.cols];
        }
    }

    /** The arguments of one call and the three phases of its parallel regions; one per calling thread. */
    private static final ThreadLocal<Job> JOB = ThreadLocal.withInitial(Job::new);

    private static final class Job implements Parallelism.PartTask {
        static final int FORWARD = 0, PACK = 1, KEYS = 2, REDUCE = 3;
        int phase;
        // shape
        int B, Hq, Hkv, G, T, S, D, Dp, br, nBlocks, colsFull;
        float scale;
        BiasShape biasShape;
        boolean causal;
        int causalOffset;
        int[] keyLengths;
        // tensors
        float[] q, k, v, bias, o, lse, dO, dq, dk, dv;
        int qOff, kOff, vOff, biasOff, oOff, lseOff, dOOff, dqOff, dkOff, dvOff;
        HeadLayout qs, ks, vs, os, dOs, dqs, dks, dvs;
        /**
         * Forward only: k holds each head's K as transposed key tiles, [S / KEY_TILE, D, KEY_TILE] from
         * ks.at(b, h, 0) (the KV cache), so one query token streams K contiguously.
         */
        boolean kTiled;
        // backward: packed blocks, one record of blockSize floats per (b, kv head, block)
        int keySplit, nKeyTiles;
        int blockSize, oQT, oQR, oDOT, oDOR, oLse, oDr, oLim, oPart;
        float[] big = new float[0];
        int[] bigInt = new int[0]; // per block: biasIdx[colsFull], maxLim, minLim

        void setDims(int b, int hq, int hkv, int t, int s, int d, float scale, BiasShape bias) {
            this.B = b; this.Hq = hq; this.Hkv = hkv; this.G = hq / hkv; this.T = t; this.S = s; this.D = d;
            this.Dp = roundUp(d, ALIGN);
            this.scale = scale;
            this.biasShape = bias;
            this.br = Math.max(1, PANEL / G);
            this.nBlocks = (t + br - 1) / br;
            this.colsFull = roundUp(G * br, ALIGN);
        }

        void setForward(boolean causal, int causalOffset, int[] keyLengths, AttentionConfig cfg, int t, int s,
                        float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                        float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                        float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
            if (cfg != null) {
                setDims(cfg.batch, cfg.heads, cfg.kvHeads, t, s, cfg.headDim, cfg.scale, cfg.bias);
            }
            this.causal = causal; this.causalOffset = causalOffset; this.keyLengths = keyLengths;
            this.q = q; this.qOff = qOff; this.qs = qs;
            this.k = k; this.kOff = kOff; this.ks = ks; this.kTiled = false;
            this.v = v; this.vOff = vOff; this.vs = vs;
            this.bias = biasShape == BiasShape.NONE ? null : bias; this.biasOff = biasOff;
            this.o = o; this.oOff = oOff; this.os = os;
            this.lse = lse; this.lseOff = lseOff;
        }

        void setBackward(int keySplit, float[] dO, int dOOff, HeadLayout dOs, float[] dq, int dqOff, HeadLayout dqs,
                         float[] dk, int dkOff, HeadLayout dks, float[] dv, int dvOff, HeadLayout dvs) {
            this.nKeyTiles = (S + BACKWARD_KEY_TILE - 1) / BACKWARD_KEY_TILE;
            this.keySplit = Math.max(1, Math.min(keySplit, Math.max(1, nKeyTiles)));
            this.dO = dO; this.dOOff = dOOff; this.dOs = dOs;
            this.dq = dq; this.dqOff = dqOff; this.dqs = dqs;
            this.dk = dk; this.dkOff = dkOff; this.dks = dks;
            this.dv = dv; this.dvOff = dvOff; this.dvs = dvs;
            int cf = colsFull;
            oQT = 0;                       // scale * Q^T   [D, cols]
            oQR = oQT + D * cf;            // Q rows        [cols, Dp]
            oDOT = oQR + cf * Dp;          // dO^T          [D, cols]
            oDOR = oDOT + D * cf;          // dO rows       [cols, Dp]
            oLse = oDOR + cf * Dp;         // lse, +inf where nothing is visible   [cols]
            oDr = oLse + cf;               // rowsum(dO .* O)                      [cols]
            oLim = oDr + cf;               // visible keys per column              [cols]
            oPart = oLim + cf;             // keySplit dQ^T partials               [keySplit, D, cols]
            blockSize = oPart + keySplit * D * cf;
        }

        /** Throws before anything is written when the backward's packed blocks would not fit one array. */
        void checkWorkspace() {
            long total = (long) B * Hkv * nBlocks * blockSize;
            long ints = (long) B * Hkv * nBlocks * (colsFull + 2);
            if (total > Integer.MAX_VALUE - 16 || ints > Integer.MAX_VALUE - 16) {
                throw new IllegalArgumentException("backward workspace of " + total + " floats for B=" + B + ", Hkv="
                        + Hkv + ", T=" + T + ", D=" + D + ", keySplit=" + keySplit + " exceeds one Java array");
            }
            if (big.length < total) {
                big = new float[(int) total];
            }
            if (bigInt.length < ints) {
                bigInt = new int[(int) ints];
            }
        }

        void clear() {
            q = k = v = bias = o = lse = dO = dq = dk = dv = null;
            keyLengths = null;
        }

        void runForward(Parallelism par) {
            if (B == 0 || T == 0) {
                clear();
                return;
            }
            try {
                phase = FORWARD;
                par.forEach(B * Hkv * nBlocks, this);
            } finally {
                clear();
            }
        }

        void runBackward(Parallelism par) {
            if (B == 0 || T == 0) {
                clear();
                return;
            }
            try {
                phase = PACK;
                par.forEach(B * Hkv * nBlocks, this);
                if (S > 0) {
                    phase = KEYS;
                    par.forEach(B * Hkv * keySplit, this);
                }
                phase = REDUCE;
                par.forEach(B * Hkv * nBlocks, this);
            } finally {
                clear();
            }
        }

        @Override
        public void run(int part) {
            switch (phase) {
                case FORWARD -> forwardBlock(part / nBlocks, part % nBlocks);
                case PACK -> packBlock(part / nBlocks, part % nBlocks);
                case KEYS -> keyChunk(part / keySplit, part % keySplit);
                case REDUCE -> reduceBlock(part / nBlocks, part % nBlocks);
                default -> throw new IllegalStateException("phase " + phase);
            }
        }

        /**
         * Fills lim[c] (visible keys of column c), biasIdx[c] (bias row) for the block's columns and
         * returns {maxLim, minLim} packed as maxLim | (long) minLim << 32 over the real columns.
         * Column c is query head kvh*G + c / rows at position t0 + c % rows; padded columns see all.
         */
        long columns(int b, int kvh, int t0, int rows, int cols, float[] lim, int limOff, int[] biasIdx, int biOff) {
            int keyLen = keyLengths == null ? S : keyLengths[b];
            int m = G * rows;
            int maxLim = 0, minLim = Integer.MAX_VALUE;
            for (int c = 0; c < cols; c++) {
                if (c >= m) {
                    lim[limOff + c] = S;
                    biasIdx[biOff + c] = biasIdx[biOff];
                    continue;
                }
                int g = c / rows, t = t0 + c % rows;
                int visible = keyLen;
                if (causal) {
                    long last = (long) t + causalOffset; // the last visible key
                    visible = (int) Math.max(0, Math.min(visible, last + 1));
                }
                lim[limOff + c] = visible;
                maxLim = Math.max(maxLim, visible);
                minLim = Math.min(minLim, visible);
                if (bias != null) {
                    long row = biasShape == BiasShape.SHARED ? t
                            : ((long) b * Hq + (long) kvh * G + g) * T + t;
                    biasIdx[biOff + c] = (int) (biasOff + row * S);
                }
            }
            return (maxLim & 0xFFFFFFFFL) | ((long) minLim << 32);
        }

        // ---------------------------------------------------------------- forward

        void forwardBlock(int bh, int blk) {
            int b = bh / Hkv, kvh = bh % Hkv;
            int t0 = blk * br, rows = Math.min(br, T - t0), m = G * rows, cols = roundUp(m, ALIGN);
            Tile ws = TILE.get();
            ws.ensure(D, colsFull);
            long lims = columns(b, kvh, t0, rows, cols, ws.lim, 0, ws.biasIdx, 0);
            int maxLim = (int) lims, minLim = (int) (lims >>> 32);
            // qT[d][c] = scale * q[b, h, t, d]    [D, cols]: the query block, transposed and scaled once
            float[] qT = ws.qT, oT = ws.oT;
            for (int c = 0; c < cols; c++) {
                if (c < m) {
                    int qi = (int) (qOff + qs.at(b, kvh * G + c / rows, t0 + c % rows));
                    for (int d = 0; d < D; d++) {
                        qT[d * cols + c] = scale * q[qi + d];
                    }
                } else {
                    for (int d = 0; d < D; d++) {
                        qT[d * cols + c] = 0f;
                    }
                }
            }
            Arrays.fill(oT, 0, D * cols, 0f);
            Arrays.fill(ws.max, 0, cols, Float.NEGATIVE_INFINITY);
            Arrays.fill(ws.sum, 0, cols, 0f);
            boolean kT = kTiled;
            // key j0 (a multiple of KEY_TILE) starts at kBase + j0 * kStep; entry (j, d) then at + j * krs + d * kcs
            int kBase = (int) (kOff + ks.at(b, kvh, 0)), krs = kT ? 1 : ks.rowStride(), kcs = kT ? KEY_TILE : 1;
            int kStep = kT ? D : krs;
            int vBase = (int) (vOff + vs.at(b, kvh, 0)), vrs = vs.rowStride();
            // Few query columns (decoding: G heads of one token): V^T P^T would broadcast every V element
            // into a vector mostly of padding; P V instead reads V rows as full vectors, O kept as rows
            // [m, D]. The products and the alpha rescale are the same fmas in the same order: same bits.
            boolean oRows = m <= ROWS_O;
            for (int j0 = 0; j0 < maxLim; j0 += KEY_TILE) {
                int n = Math.min(KEY_TILE, maxLim - j0);
                boolean masked = j0 + n > minLim;
                if (oRows && kT) {
                    // decoding: s = (scale Q) K_tile^T reads K^T rows as full vectors   [m, n]
                    float[] sRow = ws.dpT, sT = ws.sT;
                    AttentionTiles.gemm(m, n, D, qT, 0, 1, cols, k, kBase + j0 * kStep, kcs, false, null, 0, sRow, 0, n);
                    // the same fmas in the same order as the line below: same bits; sT = s^T, padding 0
                    for (int j = 0; j < n; j++) {
                        int r = j * cols;
                        for (int c = 0; c < m; c++) {
                            sT[r + c] = sRow[c * n + j];
                        }
                        Arrays.fill(sT, r + m, r + cols, 0f);
                    }
                } else {
                    // sT = K_tile (scale Q)^T                               [n, cols]
                    AttentionTiles.gemm(n, cols, D, k, kBase + j0 * kStep, krs, kcs, qT, 0, cols, false, null, 0,
                            ws.sT, 0, cols);
                }
                // sT = exp(sT + bias - m_new); m, l updated; alpha = exp(m_old - m_new)
                AttentionTiles.softmaxOnline(n, cols, ws.sT, 0, cols, j0, masked ? ws.lim : null, 0,
                        bias, ws.biasIdx, 0, ws.max, ws.sum, ws.alpha, 0);
                // oT = oT .* alpha + V_tile^T P^T                           [D, cols]
                if (oRows) {
                    // oRows = oRows .* alpha + P V_tile                    [m, D]
                    float[] tmp = ws.oTmp, alpha = ws.alpha;
                    AttentionTiles.gemm(m, D, n, ws.sT, 0, 1, cols, v, vBase + j0 * vrs, vrs, false, null, 0,
                            tmp, 0, D);
                    for (int c = 0; c < m; c++) {
                        float a = alpha[c];
                        for (int d = c * D, e = d + D; d < e; d++) {
                            oT[d] = Math.fma(oT[d], a, tmp[d]);
                        }
                    }
                } else {
                    AttentionTiles.gemm(D, cols, n, v, vBase + j0 * vrs, 1, vrs, ws.sT, 0, cols, true, ws.alpha, 0,
                            oT, 0, cols);
                }
            }
            // o = oT^T / l;  lse = m + log(l), -inf where nothing was visible (then o = 0)
            for (int c = 0; c < m; c++) {
                int h = kvh * G + c / rows, t = t0 + c % rows;
                float l = ws.sum[c];
                float inv = l > 0f ? 1f / l : 0f;
                int oi = (int) (oOff + os.at(b, h, t));
                for (int d = 0; d < D; d++) {
                    o[oi + d] = (oRows ? oT[c * D + d] : oT[d * cols + c]) * inv;
                }
                lse[lseOff + (b * Hq + h) * T + t] = l > 0f ? (float) (ws.max[c] + Math.log(l)) : Float.NEGATIVE_INFINITY;
            }
        }

        // ---------------------------------------------------------------- backward

        int blockBase(int bh, int blk) {
            return (bh * nBlocks + blk) * blockSize;
        }

        int intBase(int bh, int blk) {
            return (bh * nBlocks + blk) * (colsFull + 2);
        }

        /** Packs one block's Q, dO, lse and Dr in the layouts the key loop reads, zeroes its dQ partials. */
        void packBlock(int bh, int blk) {
            int b = bh / Hkv, kvh = bh % Hkv;
            int t0 = blk * br, rows = Math.min(br, T - t0), m = G * rows, cols = roundUp(m, ALIGN);
            int base = blockBase(bh, blk), ib = intBase(bh, blk);
            float[] w = big;
            long lims = columns(b, kvh, t0, rows, cols, w, base + oLim, bigInt, ib);
            bigInt[ib + colsFull] = (int) lims;
            bigInt[ib + colsFull + 1] = (int) (lims >>> 32);
            Arrays.fill(w, base + oQR, base + oQR + cols * Dp, 0f);
            Arrays.fill(w, base + oDOR, base + oDOR + cols * Dp, 0f);
            for (int c = 0; c < cols; c++) {
                if (c >= m) {
                    for (int d = 0; d < D; d++) {
                        w[base + oQT + d * cols + c] = 0f;
                        w[base + oDOT + d * cols + c] = 0f;
                    }
                    w[base + oLse + c] = Float.POSITIVE_INFINITY; // P = exp(s - inf) = 0: no gradient
                    w[base + oDr + c] = 0f;
                    continue;
                }
                int h = kvh * G + c / rows, t = t0 + c % rows;
                int qi = (int) (qOff + qs.at(b, h, t));
                int gi = (int) (dOOff + dOs.at(b, h, t));
                int oi = (int) (oOff + os.at(b, h, t));
                double dr = 0;
                for (int d = 0; d < D; d++) {
                    float qv = q[qi + d], gv = dO[gi + d];
                    w[base + oQT + d * cols + c] = scale * qv;
                    w[base + oQR + c * Dp + d] = qv;
                    w[base + oDOT + d * cols + c] = gv;
                    w[base + oDOR + c * Dp + d] = gv;
                    dr += (double) gv * o[oi + d];
                }
                // Dr = rowsum(dO .* O): the softmax backward's sum_j P_ij dP_ij, without P.
                w[base + oDr + c] = (float) dr;
                float l = lse[lseOff + (b * Hq + h) * T + t];
                w[base + oLse + c] = l == Float.NEGATIVE_INFINITY ? Float.POSITIVE_INFINITY : l;
            }
            Arrays.fill(w, base + oPart, base + oPart + keySplit * D * cols, 0f);
        }

        /** The key tiles chunk, chunk + keySplit, ... of (b, kv head): their dK, dV rows and a dQ partial. */
        void keyChunk(int bh, int chunk) {
            int b = bh / Hkv, kvh = bh % Hkv;
            int keyLen = keyLengths == null ? S : keyLengths[b];
            Tile ws = TILE.get();
            ws.ensure(D, colsFull);
            float[] w = big;
            int kBase = (int) (kOff + ks.at(b, kvh, 0)), krs = ks.rowStride();
            int vBase = (int) (vOff + vs.at(b, kvh, 0)), vrs = vs.rowStride();
            for (int tile = chunk; tile < nKeyTiles; tile += keySplit) {
                int j0 = tile * BACKWARD_KEY_TILE;
                int n = Math.min(BACKWARD_KEY_TILE, keyLen - j0);
                if (n <= 0) {
                    break;
                }
                Arrays.fill(ws.dkAcc, 0, n * Dp, 0f);
                Arrays.fill(ws.dvAcc, 0, n * Dp, 0f);
                for (int blk = 0; blk < nBlocks; blk++) {
                    int ib = intBase(bh, blk);
                    int maxLim = bigInt[ib + colsFull], minLim = bigInt[ib + colsFull + 1];
                    if (maxLim <= j0) {
                        continue; // the whole block is above the diagonal of this key tile
                    }
                    int rows = Math.min(br, T - blk * br), cols = roundUp(G * rows, ALIGN);
                    int nb = Math.min(n, maxLim - j0);
                    boolean masked = j0 + nb > minLim;
                    int base = blockBase(bh, blk);
                    // sT = K_tile (scale Q)^T,  dpT = V_tile dO^T                   [nb, cols]
                    AttentionTiles.gemm(nb, cols, D, k, kBase + j0 * krs, krs, 1, w, base + oQT, cols, false, null, 0,
                            ws.sT, 0, cols);
                    AttentionTiles.gemm(nb, cols, D, v, vBase + j0 * vrs, vrs, 1, w, base + oDOT, cols, false, null, 0,
                            ws.dpT, 0, cols);
                    // P = exp(S + bias - lse);  dS = scale * P .* (dP - Dr)   (sT -> P^T, dpT -> dS^T)
                    AttentionTiles.backwardScores(nb, cols, scale, ws.sT, 0, cols, ws.dpT, 0, cols, j0,
                            masked ? w : null, base + oLim, bias, bigInt, ib, w, base + oLse, w, base + oDr);
                    // dV += P^T dO                                                   [nb, Dp]
                    AttentionTiles.gemm(nb, Dp, cols, ws.sT, 0, cols, 1, w, base + oDOR, Dp, true, null, 0,
                            ws.dvAcc, 0, Dp);
                    // dK += scale * dS^T Q                                           [nb, Dp]
                    AttentionTiles.gemm(nb, Dp, cols, ws.dpT, 0, cols, 1, w, base + oQR, Dp, true, null, 0,
                            ws.dkAcc, 0, Dp);
                    // dQ^T += K_tile^T (scale * dS^T)                                [D, cols]
                    AttentionTiles.gemm(D, cols, nb, k, kBase + j0 * krs, 1, krs, ws.dpT, 0, cols, true, null, 0,
                            w, base + oPart + chunk * D * cols, cols);
                }
                int dkBase = (int) (dkOff + dks.at(b, kvh, j0)), dvBase = (int) (dvOff + dvs.at(b, kvh, j0));
                int dkrs = dks.rowStride(), dvrs = dvs.rowStride();
                for (int j = 0; j < n; j++) {
                    for (int d = 0; d < D; d++) {
                        dk[dkBase + j * dkrs + d] += ws.dkAcc[j * Dp + d];
                        dv[dvBase + j * dvrs + d] += ws.dvAcc[j * Dp + d];
                    }
                }
            }
        }

        /** dq += the block's dQ partials, added in chunk order. */
        void reduceBlock(int bh, int blk) {
            int b = bh / Hkv, kvh = bh % Hkv;
            int t0 = blk * br, rows = Math.min(br, T - t0), m = G * rows, cols = roundUp(m, ALIGN);
            int base = blockBase(bh, blk) + oPart;
            float[] w = big;
            for (int c = 0; c < m; c++) {
                int di = (int) (dqOff + dqs.at(b, kvh * G + c / rows, t0 + c % rows));
                for (int d = 0; d < D; d++) {
                    float s = w[base + d * cols + c];
                    for (int ch = 1; ch < keySplit; ch++) {
                        s += w[base + ch * D * cols + d * cols + c];
                    }
                    dq[di + d] += s;
                }
            }
        }
    }
}
