package dev.lanes.core.attention;

import dev.lanes.kernels.internal.AttentionTiles;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.internal.PartJob;
import dev.lanes.kernels.Tuning;
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
 * kv head over a few query positions ({@link Tuning#attnQ()} columns in all), so each K/V tile is multiplied
 * once for the whole group: that reuse is what MQA and GQA buy. Inside a block the tiles are kept as
 * {@code (keys, queries)}, so the softmax statistics run along vector lanes. Key tiles that lie entirely
 * above the causal diagonal, or past the key length, are skipped. Decoding (at most {@value #ROWS_O}
 * query columns) keeps its few queries as rows instead, with the same operations per query, and runs
 * its key tiles in chunks (all scores of a chunk, then their softmax, then P V), so K and V each stream
 * sequentially.
 *
 * <p>The backward needs no statistic along the keys (lse and Dr are per query), so its tiles are
 * {@code (queries, keys)}: K^T and V^T of a key tile are packed once and every one of its five products
 * runs on full 6 x 4L register tiles. It cuts each (batch, kv head) into {@code cfg.keySplit()}
 * interleaved chunks of key tiles; a chunk owns its rows of dK and dV and writes its dQ contribution to
 * a partial that is added into dq afterwards in chunk order (with one chunk, the part packs and reduces
 * its blocks itself). A chunk passes a group of its key tiles over groups of query blocks small enough
 * to stay in L2. No part ever writes what another part writes, and how the work is cut depends on the
 * shape only, so the results are the same bits for any team size.
 *
 * <p>The block and tile sizes are the attention fields of the {@link Tuning} in force when a call starts
 * (the defaults below, or a tuning file or {@code -Dlanes.tuning=attnQ=..,attnKeys=..,attnBwdQ=..,attnBwdKeys=..}).
 *
 * <p>Every entry point validates all arguments before writing anything and throws
 * {@link IllegalArgumentException} naming the argument and the numbers. Steady-state calls allocate
 * nothing: tiles live in per-thread workspaces, the backward's packed blocks in a workspace of the
 * calling thread that grows to the largest shape seen ({@link #releaseWorkspace()} drops it).
 * Concurrent calls from different threads are safe.
 */
public final class Attention {
    /** Keys per tile (Bc in the FlashAttention papers): the default of {@link Tuning#attnKeys()}. */
    static final int KEY_TILE = 64;
    /**
     * Keys per tile of the backward: larger than the forward's, so the dK/dV/dQ tile products run longer
     * inner loops (measured 98.6-98.9 vs 100.8-105.2 ms forward+backward, MQA B=4, Hq=8, T=S=512, D=64);
     * the forward and the KV cache measured better at 64.
     * With the (queries, keys) backward tiles 64 measured 65.3 and 256 62.5 vs 64.1 ms backward (noise
     * level; 256 would halve the key chunks available to a team).
     */
    static final int BACKWARD_KEY_TILE = 128; // the default of Tuning.attnBwdKeys()
    /** The backward passes this many key tiles of a chunk together over a group of query blocks. */
    static final int TILE_GROUP = 8;
    /** A group of query blocks holds at most this many floats of packed block data (L2-resident). */
    static final int BLOCK_GROUP_FLOATS = 96 * 1024;
    /** Query columns (query heads x positions) per block, a multiple of the 16-column alignment. */
    static final int PANEL = 48; // the default of Tuning.attnQ()
    /**
     * Query rows per block of the backward: more than the forward's, so dV and dK, whose inner dimension
     * is the block's rows, run longer loops (measured 57.7 vs 59.7 ms backward MQA B=4, Hq=8, Hkv=1,
     * T=S=512, D=64, and 61.3 vs 62.8 ms with Hkv=8, against 48; 96 fell in between). The forward
     * measured the same or slower with the larger block (27.4 vs 26.8 ms with Hkv=8).
     */
    static final int BACKWARD_PANEL = 144; // the default of Tuning.attnBwdQ()
    /** Columns are padded to a multiple of this, so the tile kernels run on full vectors. */
    static final int ALIGN = 16;
    /** At most this many query columns in a block: the forward keeps O as rows (see forwardBlock). */
    static final int ROWS_O = 8;
    /** The backward aims at this many (batch, kv head, key chunk) parts; see AttentionConfig.keySplit. */
    static final int MIN_BACKWARD_PARTS = 4;
    /**
     * Decoding computes the scores of this many floats' worth of keys ({@code rows x keys}, rounded down
     * to whole key tiles) before their softmax and P V: 4096 keys for one query row (MHA), 512 for eight
     * (an MQA/GQA group). Paired in one JVM against the tile-by-tile loop (MHA, 4096-token cache, Hq=32,
     * D=128, 1 thread): 0.70 -> 0.83 of a stream copy in the same rounds; 1024 and 2048 keys measured
     * 0.80 and 0.81, GQA (Hkv=4) 0.62 -> 0.67-0.71 for 256-4096 keys, MQA unchanged (compute-bound).
     */
    static final int DECODE_CHUNK_FLOATS = 4096;

    private Attention() {}

    /** {@link #forward(Parallelism, AttentionConfig, AttentionView, AttentionView, AttentionView, AttentionView,
            AttentionView, AttentionView)} on the process default team. */
    public static void forward(AttentionConfig cfg, AttentionView q, AttentionView k, AttentionView v,
                               AttentionView bias, AttentionView o, AttentionView lse) {
        forward(Parallelism.defaultParallelism(), cfg, q, k, v, bias, o, lse);
    }

    /**
     * {@code o = softmax(logits) v} and {@code lse = logsumexp(logits)} per query row (see the class and
     * {@link AttentionConfig} comments for shapes and masks). Each operand is an {@link AttentionView}: a
     * {@code float[]} (or a {@link java.lang.foreign.MemorySegment}: weights or a KV store mapped from a
     * file, tensors of FFM code) with an offset and a {@link HeadLayout}; lse (and bias) flat. o and lse
     * are written, never read, and must be writable; bias is ignored (and may be null) when the config has
     * none. Segment views are validated in {@code long} and give the same bits as arrays holding the same
     * values.
     */
    public static void forward(Parallelism par, AttentionConfig cfg, AttentionView q, AttentionView k,
                               AttentionView v, AttentionView bias, AttentionView o, AttentionView lse) {
        ViewStaging.forward(par, cfg, q, k, v, bias, o, lse, null);
    }

    /**
     * Floats of the workspace in which {@link KeptScores} keeps the scores of a forward for its backward,
     * under the {@link Tuning} in force: {@code B * Hkv * ceil(T / rows) * S * cols + 1}, where a
     * block of the forward holds {@code rows = max(1, attnQ / G)} positions of the G heads of a group and
     * {@code cols = roundUp(G * rows, 16)} columns. About {@code 4 B Hq T S} bytes (34 MB for B=4, Hq=8,
     * T=S=512): the price of skipping the product {@code Q K^T} in the backward.
     */
    public static long keptScoresLength(AttentionConfig cfg) {
        notNull(cfg, "cfg");
        int g = cfg.heads / cfg.kvHeads, rows = Math.max(1, Tuning.current().attnQ() / g);
        long blocks = (cfg.queries + rows - 1) / rows, cols = roundUp(g * rows, ALIGN);
        return (long) cfg.batch * cfg.kvHeads * blocks * cfg.keys * cols + 1;
    }

    /** {@link #backward(Parallelism, AttentionConfig, AttentionView, AttentionView, AttentionView, AttentionView,
            AttentionView, AttentionView, AttentionView, AttentionView, AttentionView, AttentionView)} on the process default team. */
    public static void backward(AttentionConfig cfg, AttentionView dO, AttentionView q, AttentionView k,
                                AttentionView v, AttentionView bias, AttentionView o, AttentionView lse,
                                AttentionView dq, AttentionView dk, AttentionView dv) {
        backward(Parallelism.defaultParallelism(), cfg, dO, q, k, v, bias, o, lse, dq, dk, dv);
    }

    /**
     * Backward of {@link #forward}, ACCUMULATING into dq, dk and dv (zero them first to overwrite); they
     * must be writable. o and lse are the forward's outputs for the same inputs. With
     * {@code P = exp(logit - lse)}:
     *
     * <pre>
     *   Dr = rowsum(dO .* O)            dV += P^T dO                  dP = dO V^T
     *   dS = P .* (dP - Dr)             dQ += scale * dS K            dK += scale * dS^T Q
     * </pre>
     *
     * where dk and dv of a kv head sum over the G query heads of its group. The bias receives no gradient.
     */
    public static void backward(Parallelism par, AttentionConfig cfg, AttentionView dO, AttentionView q,
                                AttentionView k, AttentionView v, AttentionView bias, AttentionView o,
                                AttentionView lse, AttentionView dq, AttentionView dk, AttentionView dv) {
        ViewStaging.backward(par, cfg, dO, q, k, v, bias, o, lse, null, dq, dk, dv);
    }

    /** Checks the length of a kept-scores workspace against cfg; returns the floats a call uses. */
    static int checkScores(AttentionConfig cfg, float[] scores) {
        long need = keptScoresLength(cfg);
        if (need > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("kept scores of " + need + " floats for " + cfg + " exceed one Java array");
        }
        if (scores.length < need) {
            throw new IllegalArgumentException("scores.length=" + scores.length + " < keptScoresLength=" + need
                    + " for " + cfg);
        }
        return (int) need;
    }

    /** The first float of a kept-scores workspace: the block size it was written with, as raw bits. */
    private static float scoresTag(int panel) {
        return Float.intBitsToFloat(0x4C530000 | panel);
    }

    /**
     * The array entry of the views: {@link ViewStaging} calls it with array views as they are and segment
     * views staged into heap buffers.
     */
    static void forward(Parallelism par, AttentionConfig cfg,
                        float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                        float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                        float[] o, int oOff, HeadLayout os, float[] lse, int lseOff, float[] scores) {
        dev.lanes.kernels.internal.Checks.team(par);
        notNull(cfg, "cfg");
        int T = cfg.queries, S = cfg.keys;
        Views.checkForward(cfg, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        if (scores != null) {
            checkScores(cfg, scores);
        }
        Job job = JOB.get();
        job.setTuning(Tuning.current());
        job.setForward(cfg.causal != CausalMask.NONE, cfg.causal.offset(T, S), cfg.keyLengths, cfg, T, S,
                q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        if (scores != null) {
            job.scores = scores;
            scores[0] = scoresTag(job.panel);
        }
        job.runForward(par);
    }

    /** The array entry of the backward views; see {@link #forward(Parallelism, AttentionConfig, float[], int, HeadLayout, float[], int, HeadLayout, float[], int, HeadLayout, float[], int, float[], int, HeadLayout, float[], int)}. */
    static void backward(Parallelism par, AttentionConfig cfg, float[] dO, int dOOff, HeadLayout dOs,
                         float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                         float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                         float[] o, int oOff, HeadLayout os, float[] lse, int lseOff, float[] scores,
                         float[] dq, int dqOff, HeadLayout dqs, float[] dk, int dkOff, HeadLayout dks,
                         float[] dv, int dvOff, HeadLayout dvs) {
        dev.lanes.kernels.internal.Checks.team(par);
        notNull(cfg, "cfg");
        int T = cfg.queries, S = cfg.keys;
        Views.checkBackward(cfg, dO, dOOff, dOs, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os,
                lse, lseOff, dq, dqOff, dqs, dk, dkOff, dks, dv, dvOff, dvs);
        if (scores != null) {
            checkScores(cfg, scores);
            int panel = Tuning.current().attnQ();
            if (Float.floatToRawIntBits(scores[0]) != Float.floatToRawIntBits(scoresTag(panel))) {
                throw new IllegalArgumentException("scores holds no scores kept by a forward with attnQ=" + panel
                        + " (tag " + Integer.toHexString(Float.floatToRawIntBits(scores[0])) + ")");
            }
        }
        Job job = JOB.get();
        job.setTuning(Tuning.current());
        job.setForward(cfg.causal != CausalMask.NONE, cfg.causal.offset(T, S), cfg.keyLengths, cfg, T, S,
                q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        job.scores = scores;
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
     * tiles {@code [B, Hkv, capacity / keyTile, D, keyTile]} (a head's both start at {@code kvs.at(b, h, 0)};
     * capacity a multiple of keyTile, the cache's key tile: the forward runs with that one, so decoding
     * gives the forward's bits under the tuning the cache was made with).
     */
    static void forwardCached(Parallelism par, int batch, int heads, int kvHeads, int t, int s, int d, float scale,
                              float[] q, int qOff, HeadLayout qs, float[] k, float[] v, HeadLayout kvs, int keyTile,
                              float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
        Job job = JOB.get();
        job.setTuning(Tuning.current());
        job.keyTile = keyTile;
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
        int d = -1, dp, cols, keys, bwdKeys;
        float[] qT, oT, oTmp, sT, dpT, kT, vT, dkAcc, dvAcc, max, sum, alpha, lim;
        /** Decoding: the scores of a chunk of key tiles [m, chunk], the rescale factors of its tiles. */
        float[] sRows = new float[0], alphas = new float[0];
        int[] biasIdx;

        void ensureRows(int scores, int factors) {
            if (sRows.length < scores) {
                sRows = new float[scores];
            }
            if (alphas.length < factors) {
                alphas = new float[factors];
            }
        }

        /**
         * Sizes the tiles for head dimension d, at most {@code cols} query columns, forward key tiles of
         * {@code keys} and backward key tiles of {@code bwdKeys}.
         */
        void ensure(int d, int cols, int keys, int bwdKeys) {
            if (d == this.d && cols <= this.cols && keys <= this.keys && bwdKeys <= this.bwdKeys) {
                return;
            }
            this.d = d;
            this.dp = roundUp(d, ALIGN);
            this.cols = Math.max(cols, this.cols);
            this.keys = Math.max(keys, this.keys);
            this.bwdKeys = Math.max(bwdKeys, this.bwdKeys);
            int kt = Math.max(this.keys, this.bwdKeys);
            qT = new float[d * this.cols];
            oT = new float[d * this.cols];
            oTmp = new float[d * this.cols];
            sT = new float[kt * this.cols];
            dpT = new float[kt * this.cols];
            kT = new float[TILE_GROUP * d * this.bwdKeys];
            vT = new float[TILE_GROUP * d * this.bwdKeys];
            dkAcc = new float[TILE_GROUP * this.bwdKeys * dp];
            dvAcc = new float[TILE_GROUP * this.bwdKeys * dp];
            max = new float[this.cols];
            sum = new float[this.cols];
            alpha = new float[this.cols];
            lim = new float[this.cols];
            biasIdx = new int[this.cols];
        }
    }

    /** The arguments of one call and the three phases of its parallel regions; one per calling thread. */
    private static final ThreadLocal<Job> JOB = PartJob.perThread(Job::new);

    private static final class Job extends PartJob {
        static final int FORWARD = 0, PACK = 1, KEYS = 2, REDUCE = 3, FUSED = 4;
        int phase;
        // shape
        int B, Hq, Hkv, G, T, S, D, Dp, br, nBlocks, colsFull;
        /**
         * Kept scores, or null: per (b, kv head, backward block) an [S, cols] matrix of S^T (keys, queries),
         * from index 1 + (bh * nBlocks + blk) * S * colsFull, row stride the block's cols.
         */
        float[] scores;
        // block and tile sizes of this call (Tuning): forward query columns and keys, backward likewise
        int panel, keyTile, bwdPanel, bwdKeyTile;
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
         * Forward only: k holds each head's K as transposed key tiles, [S / keyTile, D, keyTile] from
         * ks.at(b, h, 0) (the KV cache), so one query token streams K contiguously.
         */
        boolean kTiled;
        // backward: packed blocks, one record of blockSize floats per (b, kv head, block)
        int keySplit, nKeyTiles;
        int blockSize, oQS, oQR, oDOR, oLse, oDr, oLim, oPart;
        float[] big = new float[0];
        int[] bigInt = new int[0]; // per block: biasIdx[colsFull], maxLim, minLim

        void setTuning(Tuning t) {
            panel = t.attnQ();
            keyTile = t.attnKeys();
            bwdPanel = t.attnBwdQ();
            bwdKeyTile = t.attnBwdKeys();
        }

        void setDims(int b, int hq, int hkv, int t, int s, int d, float scale, BiasShape bias) {
            this.B = b; this.Hq = hq; this.Hkv = hkv; this.G = hq / hkv; this.T = t; this.S = s; this.D = d;
            this.Dp = roundUp(d, ALIGN);
            this.scale = scale;
            this.biasShape = bias;
            setPanel(panel);
        }

        /** Blocks of about {@code panel} query rows (query heads x positions). */
        void setPanel(int panel) {
            this.br = Math.max(1, panel / G);
            this.nBlocks = (T + br - 1) / br;
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
            this.k = k; this.kOff = kOff; this.ks = ks; this.kTiled = false; this.scores = null;
            this.v = v; this.vOff = vOff; this.vs = vs;
            this.bias = biasShape == BiasShape.NONE ? null : bias; this.biasOff = biasOff;
            this.o = o; this.oOff = oOff; this.os = os;
            this.lse = lse; this.lseOff = lseOff;
        }

        void setBackward(int keySplit, float[] dO, int dOOff, HeadLayout dOs, float[] dq, int dqOff, HeadLayout dqs,
                         float[] dk, int dkOff, HeadLayout dks, float[] dv, int dvOff, HeadLayout dvs) {
            // over kept scores the forward's blocks (a block's scores lie together), else the backward's own
            setPanel(scores != null ? panel : bwdPanel);
            this.nKeyTiles = (S + bwdKeyTile - 1) / bwdKeyTile;
            this.keySplit = Math.max(1, Math.min(keySplit, Math.max(1, nKeyTiles)));
            this.dO = dO; this.dOOff = dOOff; this.dOs = dOs;
            this.dq = dq; this.dqOff = dqOff; this.dqs = dqs;
            this.dk = dk; this.dkOff = dkOff; this.dks = dks;
            this.dv = dv; this.dvOff = dvOff; this.dvs = dvs;
            int cf = colsFull;
            oQS = 0;                       // scale * Q rows   [cols, Dp]
            oQR = oQS + cf * Dp;           // Q rows           [cols, Dp]
            oDOR = oQR + cf * Dp;          // dO rows          [cols, Dp]
            oLse = oDOR + cf * Dp;         // lse, +inf where nothing is visible   [cols]
            oDr = oLse + cf;               // rowsum(dO .* O)                      [cols]
            oLim = oDr + cf;               // visible keys per row                 [cols]
            oPart = oLim + cf;             // keySplit dQ partials                 [keySplit, cols, Dp]
            blockSize = oPart + keySplit * cf * Dp;
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

        @Override
        protected void clear() {
            q = k = v = bias = o = lse = dO = dq = dk = dv = scores = null;
            keyLengths = null;
        }

        void runForward(Parallelism par) {
            if (B == 0 || T == 0) {
                clear();
                return;
            }
            phase = FORWARD;
            runAndClear(par, B * Hkv * nBlocks);
        }

        void runBackward(Parallelism par) {
            if (B == 0 || T == 0) {
                clear();
                return;
            }
            try {
                if (keySplit == 1 && S > 0) {
                    // one part per (b, kv head) owns all its blocks: it packs and reduces them itself,
                    // while they are in L2 (the same operations as the three phases below)
                    phase = FUSED;
                    forEach(par, B * Hkv);
                    return;
                }
                phase = PACK;
                forEach(par, B * Hkv * nBlocks);
                if (S > 0) {
                    phase = KEYS;
                    forEach(par, B * Hkv * keySplit);
                }
                phase = REDUCE;
                forEach(par, B * Hkv * nBlocks);
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
                case FUSED -> keyChunk(part, 0);
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
            ws.ensure(D, colsFull, keyTile, bwdKeyTile);
            long lims = columns(b, kvh, t0, rows, cols, ws.lim, 0, ws.biasIdx, 0);
            int maxLim = (int) lims, minLim = (int) (lims >>> 32);
            // qT[d][c] = scale * q[b, h, t, d]    [D, cols]: the query block, transposed and scaled once
            float[] qT = ws.qT, oT = ws.oT;
            for (int c = 0; c < m; c++) {
                int qi = (int) (qOff + qs.at(b, kvh * G + c / rows, t0 + c % rows));
                for (int d = 0; d < D; d++) {
                    qT[d * cols + c] = scale * q[qi + d];
                }
            }
            // the padding columns [m, cols) are zero; set a row of qT at a time (zeroed column by column,
            // strided, they took a third of a decoding step against a short cache)
            for (int d = 0; d < D; d++) {
                Arrays.fill(qT, d * cols + m, d * cols + cols, 0f);
            }
            Arrays.fill(oT, 0, D * cols, 0f);
            Arrays.fill(ws.max, 0, cols, Float.NEGATIVE_INFINITY);
            Arrays.fill(ws.sum, 0, cols, 0f);
            boolean kT = kTiled;
            // key j0 (a multiple of the key tile) starts at kBase + j0 * kStep; entry (j, d) then at + j * krs + d * kcs
            final int KEY_TILE = keyTile;
            int kBase = (int) (kOff + ks.at(b, kvh, 0)), krs = kT ? 1 : ks.rowStride(), kcs = kT ? KEY_TILE : 1;
            int kStep = kT ? D : krs;
            int vBase = (int) (vOff + vs.at(b, kvh, 0)), vrs = vs.rowStride();
            // Few query columns (decoding: G heads of one token): V^T P^T would broadcast every V element
            // into a vector mostly of padding; P V instead reads V rows as full vectors, O kept as rows
            // [m, D]. The products and the alpha rescale are the same fmas in the same order: same bits.
            boolean oRows = m <= ROWS_O;
            boolean decode = oRows && kT;
            if (decode) {
                decodeTiles(ws, m, cols, maxLim, minLim, kBase, vBase, vrs);
            }
            for (int j0 = 0; j0 < maxLim && !decode; j0 += KEY_TILE) {
                int n = Math.min(KEY_TILE, maxLim - j0);
                boolean masked = j0 + n > minLim;
                // sT = K_tile (scale Q)^T                               [n, cols]
                AttentionTiles.gemm(n, cols, D, k, kBase + j0 * kStep, krs, kcs, qT, 0, cols, false, null, 0,
                        ws.sT, 0, cols);
                if (scores != null) {
                    System.arraycopy(ws.sT, 0, scores, scoresBase(bh, blk) + j0 * cols, n * cols);
                }
                // sT = exp(sT + bias - m_new); m, l updated; alpha = exp(m_old - m_new)
                AttentionTiles.softmaxOnline(n, cols, ws.sT, 0, cols, j0, masked ? ws.lim : null, 0,
                        bias, ws.biasIdx, 0, ws.max, ws.sum, ws.alpha, 0);
                // oT = oT .* alpha + V_tile^T P^T                           [D, cols]
                if (oRows) {
                    // oRows = oRows .* alpha + P V_tile                    [m, D]
                    float[] tmp = ws.oTmp, alpha = ws.alpha;
                    // P transposed [n, cols]
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
            // o = oT^T / l;  lse = m + log(l), -inf where nothing was visible (then o = 0), NaN where a
            // logit was NaN (l is NaN: the row must not pass for one that saw nothing)
            for (int c = 0; c < m; c++) {
                int h = kvh * G + c / rows, t = t0 + c % rows;
                float l = ws.sum[c];
                float inv = l > 0f ? 1f / l : 0f;
                int oi = (int) (oOff + os.at(b, h, t));
                for (int d = 0; d < D; d++) {
                    o[oi + d] = (oRows ? oT[c * D + d] : oT[d * cols + c]) * inv;
                }
                lse[lseOff + (b * Hq + h) * T + t] = l == 0f ? Float.NEGATIVE_INFINITY : (float) (ws.max[c] + Math.log(l));
            }
        }

        /**
         * Decoding (at most ROWS_O query rows, K in transposed key tiles): oT = the rows' unnormalised O
         * [m, D], ws.max, ws.sum, by the forward's operations per query, key tile by key tile. The tiles run
         * in chunks: the scores of a chunk's tiles first (its K read as one sequential stream), then its online
         * softmax tile by tile (each tile's rescale factors kept), then P V tile by tile (its V one sequential
         * stream), so the hardware prefetcher sees long streams instead of 32 KiB pieces of K and V in turn.
         */
        private void decodeTiles(Tile ws, int m, int cols, int maxLim, int minLim, int kBase, int vBase, int vrs) {
            final int KT = keyTile;
            int chunk = Math.max(1, DECODE_CHUNK_FLOATS / m / KT) * KT, tiles = chunk / KT;
            int lds = chunk + ALIGN; // rows of the chunk's scores a line off a multiple of 4 KiB (L1 sets)
            ws.ensureRows(m * lds, tiles * m);
            float[] s = ws.sRows, alphas = ws.alphas, oT = ws.oT, tmp = ws.oTmp;
            for (int c0 = 0; c0 < maxLim; c0 += chunk) {
                int c1 = Math.min(maxLim, c0 + chunk);
                // s = (scale Q) K_tile^T per tile, K^T rows read as full vectors          [m, c1 - c0]
                for (int j0 = c0; j0 < c1; j0 += KT) {
                    AttentionTiles.gemm(m, Math.min(KT, c1 - j0), D, ws.qT, 0, 1, cols, k, kBase + j0 * D, KT,
                            false, null, 0, s, j0 - c0, lds);
                }
                // the row softmax tile by tile: the same operations per query as the column form
                for (int j0 = c0, t = 0; j0 < c1; j0 += KT, t++) {
                    int n = Math.min(KT, c1 - j0);
                    AttentionTiles.softmaxOnlineRows(m, n, s, j0 - c0, lds, j0, j0 + n > minLim ? ws.lim : null, 0,
                            bias, ws.biasIdx, 0, ws.max, ws.sum, ws.alpha, 0);
                    System.arraycopy(ws.alpha, 0, alphas, t * m, m);
                }
                // oRows = oRows .* alpha_t + P_t V_t tile by tile, the forward's order            [m, D]
                for (int j0 = c0, t = 0; j0 < c1; j0 += KT, t++) {
                    int n = Math.min(KT, c1 - j0);
                    AttentionTiles.gemm(m, D, n, s, j0 - c0, lds, 1, v, vBase + j0 * vrs, vrs, false, null, 0,
                            tmp, 0, D);
                    for (int c = 0; c < m; c++) {
                        float a = alphas[t * m + c];
                        for (int d = c * D, e = d + D; d < e; d++) {
                            oT[d] = Math.fma(oT[d], a, tmp[d]);
                        }
                    }
                }
            }
        }

        // ---------------------------------------------------------------- backward

        int scoresBase(int bh, int blk) {
            return 1 + (bh * nBlocks + blk) * S * colsFull;
        }

        int blockBase(int bh, int blk) {
            return (bh * nBlocks + blk) * blockSize;
        }

        int intBase(int bh, int blk) {
            return (bh * nBlocks + blk) * (colsFull + 2);
        }

        /**
         * Packs one block's Q, dO, lse and Dr as rows (query c = row c; the block's rows are the G heads'
         * queries, head-major), zeroes its dQ partials. Rows past the real ones and columns past D are 0.
         */
        void packBlock(int bh, int blk) {
            int b = bh / Hkv, kvh = bh % Hkv;
            int t0 = blk * br, rows = Math.min(br, T - t0), m = G * rows, cols = roundUp(m, ALIGN);
            int base = blockBase(bh, blk), ib = intBase(bh, blk);
            float[] w = big;
            long lims = columns(b, kvh, t0, rows, cols, w, base + oLim, bigInt, ib);
            bigInt[ib + colsFull] = (int) lims;
            bigInt[ib + colsFull + 1] = (int) (lims >>> 32);
            for (int c = 0; c < cols; c++) {
                int qs0 = base + oQS + c * Dp, qr0 = base + oQR + c * Dp, do0 = base + oDOR + c * Dp;
                if (c >= m) {
                    if (scores != null) {
                        for (int d = 0; d < D; d++) {
                            w[base + oQS + d * cols + c] = 0f;
                        }
                    } else {
                        Arrays.fill(w, qs0, qs0 + Dp, 0f);
                    }
                    Arrays.fill(w, qr0, qr0 + Dp, 0f);
                    Arrays.fill(w, do0, do0 + Dp, 0f);
                    w[base + oLse + c] = Float.POSITIVE_INFINITY; // P = exp(s - inf) = 0: no gradient
                    w[base + oDr + c] = 0f;
                    continue;
                }
                int h = kvh * G + c / rows, t = t0 + c % rows;
                int qi = (int) (qOff + qs.at(b, h, t));
                int gi = (int) (dOOff + dOs.at(b, h, t));
                int oi = (int) (oOff + os.at(b, h, t));
                if (scores == null) {
                    for (int d = 0; d < D; d++) {
                        float qv = q[qi + d];
                        w[qs0 + d] = scale * qv;
                        w[qr0 + d] = qv;
                    }
                } else {
                    // kept scores need no scale * Q; its place holds dO^T [D, cols] for dP^T = V dO^T
                    System.arraycopy(q, qi, w, qr0, D);
                    for (int d = 0; d < D; d++) {
                        w[base + oQS + d * cols + c] = dO[gi + d];
                    }
                }
                System.arraycopy(dO, gi, w, do0, D);
                if (scores == null) {
                    Arrays.fill(w, qs0 + D, qs0 + Dp, 0f);
                }
                Arrays.fill(w, qr0 + D, qr0 + Dp, 0f);
                Arrays.fill(w, do0 + D, do0 + Dp, 0f);
                double dr = 0;
                for (int d = 0; d < D; d++) {
                    dr += (double) dO[gi + d] * o[oi + d];
                }
                // Dr = rowsum(dO .* O): the softmax backward's sum_j P_ij dP_ij, without P.
                w[base + oDr + c] = (float) dr;
                float l = lse[lseOff + (b * Hq + h) * T + t];
                w[base + oLse + c] = l == Float.NEGATIVE_INFINITY ? Float.POSITIVE_INFINITY : l;
            }
            Arrays.fill(w, base + oPart, base + oPart + keySplit * cols * Dp, 0f);
        }

        /**
         * The key tiles chunk, chunk + keySplit, ... of (b, kv head): their dK, dV rows and a dQ partial.
         * The tiles are (queries, keys): K^T and V^T of a key tile are packed once and shared by every
         * query block, and all five products run on full 6 x 4L register tiles.
         */
        void keyChunk(int bh, int chunk) {
            int b = bh / Hkv, kvh = bh % Hkv;
            int keyLen = keyLengths == null ? S : keyLengths[b];
            Tile ws = TILE.get();
            ws.ensure(D, colsFull, keyTile, bwdKeyTile);
            float[] w = big, kT = ws.kT, vT = ws.vT, sT = ws.sT, dpT = ws.dpT, dkAcc = ws.dkAcc, dvAcc = ws.dvAcc;
            final int KT = bwdKeyTile;
            int kBase = (int) (kOff + ks.at(b, kvh, 0)), krs = ks.rowStride();
            int vBase = (int) (vOff + vs.at(b, kvh, 0)), vrs = vs.rowStride();
            int groupBlocks = Math.max(1, BLOCK_GROUP_FLOATS / blockSize);
            boolean fused = phase == FUSED;
            // Up to TILE_GROUP key tiles of the chunk at a time, against groups of query blocks small enough
            // to stay in L2 while every tile of the group passes over them. Each tile still sees the blocks,
            // and each block the tiles, in ascending order: the same sums as tile by tile.
            for (int first = chunk; first < nKeyTiles; first += TILE_GROUP * keySplit) {
                int nt = 0;
                for (int tile = first; tile < nKeyTiles && nt < TILE_GROUP; tile += keySplit) {
                    int j0 = tile * KT, n = Math.min(KT, keyLen - j0);
                    if (n <= 0) {
                        break;
                    }
                    // kT = K_tile^T, vT = V_tile^T                              [D, KT] per tile
                    // Columns up to the next multiple of ALIGN are zero, so the products run on full vectors.
                    int nPad = Math.min(roundUp(n, ALIGN), KT), to = nt * D * KT;
                    // (kept scores read K and V rows in place)
                    for (int j = 0; j < n && scores == null; j++) {
                        int ki = kBase + (j0 + j) * krs, vi = vBase + (j0 + j) * vrs;
                        for (int d = 0; d < D; d++) {
                            kT[to + d * KT + j] = k[ki + d];
                            vT[to + d * KT + j] = v[vi + d];
                        }
                    }
                    for (int d = 0; d < D && scores == null; d++) {
                        Arrays.fill(kT, to + d * KT + n, to + d * KT + nPad, 0f);
                        Arrays.fill(vT, to + d * KT + n, to + d * KT + nPad, 0f);
                    }
                    Arrays.fill(dkAcc, nt * KT * Dp, nt * KT * Dp + n * Dp, 0f);
                    Arrays.fill(dvAcc, nt * KT * Dp, nt * KT * Dp + n * Dp, 0f);
                    nt++;
                }
                boolean firstGroup = first == chunk, lastGroup = first + TILE_GROUP * keySplit >= nKeyTiles;
                for (int blk0 = 0; blk0 < nBlocks; blk0 += groupBlocks) {
                    int blk1 = Math.min(nBlocks, blk0 + groupBlocks);
                    if (fused && firstGroup) {
                        for (int blk = blk0; blk < blk1; blk++) {
                            packBlock(bh, blk);
                        }
                    }
                    for (int t = 0; t < nt; t++) {
                        int j0 = (first + t * keySplit) * KT, n = Math.min(KT, keyLen - j0);
                        int nPad = Math.min(roundUp(n, ALIGN), KT), to = t * D * KT, ao = t * KT * Dp;
                        for (int blk = blk0; blk < blk1; blk++) {
                            if (scores == null) {
                                tileBlock(bh, blk, chunk, j0, n, nPad, kT, vT, to, sT, dpT, dkAcc, dvAcc, ao,
                                        kBase + j0 * krs, krs);
                            } else {
                                tileBlockKept(bh, blk, chunk, j0, n, sT, dpT, dkAcc, dvAcc, ao, kBase + j0 * krs, krs,
                                        vBase + j0 * vrs, vrs);
                            }
                        }
                    }
                    if (fused && lastGroup) {
                        for (int blk = blk0; blk < blk1; blk++) {
                            reduceBlock(bh, blk);
                        }
                    }
                }
                for (int t = 0; t < nt; t++) {
                    int j0 = (first + t * keySplit) * KT, n = Math.min(KT, keyLen - j0), ao = t * KT * Dp;
                    int dkBase = (int) (dkOff + dks.at(b, kvh, j0)), dvBase = (int) (dvOff + dvs.at(b, kvh, j0));
                    int dkrs = dks.rowStride(), dvrs = dvs.rowStride();
                    for (int j = 0; j < n; j++) {
                        for (int d = 0; d < D; d++) {
                            dk[dkBase + j * dkrs + d] += dkAcc[ao + j * Dp + d];
                            dv[dvBase + j * dvrs + d] += dvAcc[ao + j * Dp + d];
                        }
                    }
                }
            }
        }

        /**
         * How many keys of the tile j0 .. j0 + n some column of the block (its limits at ib) sees: 0 when
         * the whole block is above the tile's diagonal.
         */
        private int visibleKeys(int ib, int j0, int n) {
            int maxLim = bigInt[ib + colsFull];
            return maxLim <= j0 ? 0 : Math.min(n, maxLim - j0);
        }

        /** Whether some column of the block (its limits at ib) masks a key before {@code end}. */
        private boolean masksBefore(int ib, int end) {
            return end > bigInt[ib + colsFull + 1];
        }

        /** A backward block's columns: its G heads' rows, rounded up to whole vectors. */
        private int blockColumns(int blk) {
            return roundUp(G * Math.min(br, T - blk * br), ALIGN);
        }

        /** One key tile (keys j0 .. j0 + n, K^T and V^T at kT/vT + to) against one query block. */
        private void tileBlock(int bh, int blk, int chunk, int j0, int n, int nPad, float[] kT, float[] vT, int to,
                               float[] sT, float[] dpT, float[] dkAcc, float[] dvAcc, int ao, int kTile, int krs) {
            final int KT = bwdKeyTile;
            float[] w = big;
            int ib = intBase(bh, blk), nb = visibleKeys(ib, j0, n);
            if (nb == 0) {
                return; // the whole block is above the diagonal of this key tile
            }
            int cols = blockColumns(blk);
            // the scores run over nbp >= nb columns (full vectors); every row masks those past nb,
            // as nb ends at the key length or at the block's last visible key
            int nbp = Math.min(roundUp(nb, ALIGN), nPad);
            boolean masked = masksBefore(ib, j0 + nbp);
            int base = blockBase(bh, blk);
            // s = (scale Q) K_tile^T,  dp = dO V_tile^T                       [cols, nbp]
            AttentionTiles.gemm(cols, nbp, D, w, base + oQS, Dp, 1, kT, to, KT, false, null, 0, sT, 0, KT);
            AttentionTiles.gemm(cols, nbp, D, w, base + oDOR, Dp, 1, vT, to, KT, false, null, 0, dpT, 0, KT);
            // P = exp(S + bias - lse);  dS = scale * P .* (dP - Dr)   (s -> P, dp -> dS)
            AttentionTiles.backwardScoresRows(cols, nbp, scale, sT, 0, KT, dpT, 0, KT, j0,
                    masked ? w : null, base + oLim, bias, bigInt, ib, w, base + oLse, w, base + oDr);
            // dV += P^T dO                                                   [nb, Dp]
            AttentionTiles.gemm(nb, Dp, cols, sT, 0, 1, KT, w, base + oDOR, Dp, true, null, 0, dvAcc, ao, Dp);
            // dK += scale * dS^T Q                                           [nb, Dp]
            AttentionTiles.gemm(nb, Dp, cols, dpT, 0, 1, KT, w, base + oQR, Dp, true, null, 0, dkAcc, ao, Dp);
            // dQ += (scale * dS) K_tile                                      [cols, D]
            AttentionTiles.gemm(cols, D, nb, dpT, 0, KT, 1, k, kTile, krs, true, null, 0,
                    w, base + oPart + chunk * cols * Dp, Dp);
        }

        /**
         * {@link #tileBlock} over kept scores, in the forward's layout (keys, queries) and blocks: per
         * entry the same operations (dP^T = V dO^T is dP's fmas with the factors swapped), without the
         * product (scale Q) K^T.
         */
        private void tileBlockKept(int bh, int blk, int chunk, int j0, int n, float[] sT, float[] dpT,
                                   float[] dkAcc, float[] dvAcc, int ao, int kTile, int krs, int vTile, int vrs) {
            float[] w = big;
            int ib = intBase(bh, blk), nb = visibleKeys(ib, j0, n);
            if (nb == 0) {
                return; // the whole block is above the diagonal of this key tile
            }
            int cols = blockColumns(blk);
            boolean masked = masksBefore(ib, j0 + nb);
            int base = blockBase(bh, blk);
            // s^T = the kept (scale Q) K_tile^T,  dp^T = V_tile dO^T                 [nb, cols]
            AttentionTiles.gemm(nb, cols, D, v, vTile, vrs, 1, w, base + oQS, cols, false, null, 0, dpT, 0, cols);
            // P^T = exp(S^T + bias - lse);  dS^T = scale * P^T .* (dP^T - Dr)
            // the kept tile copied first: streamed by arraycopy it came from memory faster than read by the
            // exponentials themselves (backward 49.2 vs 57.7 ms at best, MQA B=4, Hq=8, T=S=512, D=64)
            System.arraycopy(scores, scoresBase(bh, blk) + j0 * cols, sT, 0, nb * cols);
            AttentionTiles.backwardScoresColumns(nb, cols, scale, sT, 0, cols, sT, 0, cols, dpT, 0, cols, j0,
                    masked ? w : null, base + oLim, bias, bigInt, ib, w, base + oLse, w, base + oDr);
            // dV += P^T dO,  dK += scale * dS^T Q                                    [nb, Dp]
            AttentionTiles.gemm(nb, Dp, cols, sT, 0, cols, 1, w, base + oDOR, Dp, true, null, 0, dvAcc, ao, Dp);
            AttentionTiles.gemm(nb, Dp, cols, dpT, 0, cols, 1, w, base + oQR, Dp, true, null, 0, dkAcc, ao, Dp);
            // dQ += (scale * dS) K_tile                                              [cols, D]
            AttentionTiles.gemm(cols, D, nb, dpT, 0, 1, cols, k, kTile, krs, true, null, 0,
                    w, base + oPart + chunk * cols * Dp, Dp);
        }

        /** dq += the block's dQ partials, added in chunk order. */
        void reduceBlock(int bh, int blk) {
            int b = bh / Hkv, kvh = bh % Hkv;
            int t0 = blk * br, rows = Math.min(br, T - t0), m = G * rows, cols = roundUp(m, ALIGN);
            int base = blockBase(bh, blk) + oPart;
            float[] w = big;
            for (int c = 0; c < m; c++) {
                int di = (int) (dqOff + dqs.at(b, kvh * G + c / rows, t0 + c % rows));
                int pi = base + c * Dp;
                for (int d = 0; d < D; d++) {
                    float s = w[pi + d];
                    for (int ch = 1; ch < keySplit; ch++) {
                        s += w[pi + ch * cols * Dp + d];
                    }
                    dq[di + d] += s;
                }
            }
        }
    }
}
