package dev.lanes.kernels.simd;

import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Tuning;
import dev.lanes.kernels.internal.PartJob;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API body of {@code dev.lanes.kernels.Gemm}, structured after BLIS / Goto's algorithm:
 *
 * <pre>
 *   for jc in n step NC:                 (a thread's slab of C columns or rows is cut first)
 *     for pc in k step KC:               B block (KC x NC) packed into NR-wide micro-panels
 *       for ic in m step MC:
 *         for jr in nc step NR:          one packed B micro-panel, reused across ir
 *           for ir in mc step MR:        micro-kernel: an MR x NR tile of C in registers (SimdTiles)
 * </pre>
 *
 * The tile shape and the block sizes come from the {@link Tuning} in force, read once per call. B is
 * packed in the exact order the micro-kernel reads it, which absorbs B's transpose (or, for few rows of
 * C, read in place). A is read in place through a (row stride, column stride) pair, which absorbs A's
 * transpose, or packed into MR-row micro-panels when its stride aliases (a multiple of 4 KiB) or the
 * tuning says so. Edge tiles are computed into a full temporary tile and merged, so the micro-kernel
 * never branches on size. Each C element is the same sequence of float operations whatever its tile
 * position and whatever the tile shape, so results do not depend on how the work is split between
 * threads; only KC, which cuts the sum over k, can change the last bits between tunings.
 */
public final class SimdGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** Per-thread packing buffers, grown once and reused: steady-state calls allocate nothing. */
    private static final ThreadLocal<Workspace> WORKSPACE = new ThreadLocal<>();

    /** Buffers sized for one tuning; a thread that meets another tuning (autotuner, tests) makes new ones. */
    static final class Workspace {
        final Tuning tuning;
        final float[] aPack; // MC x KC of A as MR-row micro-panels, or the partial row tile
        final float[] bPack;
        final float[] edge;
        /** Blocks of op(A) (MC x KC), C (MC x NC) and op(B) (KC x NC) copied from segments; made on first use. */
        float[] aStage, cStage, bStage;

        Workspace(Tuning t) {
            tuning = t;
            aPack = new float[(t.mc() + t.mr()) * t.kc()];
            bPack = new float[t.kc() * t.nc()];
            edge = new float[t.mr() * t.nr()];
        }
    }

    private static Workspace workspace(Tuning t) {
        Workspace ws = WORKSPACE.get();
        if (ws == null || ws.tuning != t) {
            ws = new Workspace(t);
            WORKSPACE.set(ws);
        }
        return ws;
    }

    private SimdGemm() {}

    /** Below this many multiply-adds a product runs on the calling thread: a region costs microseconds. */
    static final long PARALLEL_MIN_MACS = 1L << 20;

    public static void sgemm(Parallelism par, boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        sgemm(par, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, null, 0, null, 0, 0, c, cOff, ldc);
    }

    /**
     * {@code C = alpha * op(A) * op(B) + beta * C + bias[j] + res[i][j]}, bias and res optional (null):
     * the additions are applied to each tile right after its last store, while it is still in L1.
     */
    public static void sgemm(Parallelism par, boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta,
                             float[] bias, int biasOff, float[] res, int rOff, int ldr,
                             float[] c, int cOff, int ldc) {
        if (m == 0 || n == 0) {
            return;
        }
        if (alpha == 0f || k == 0) {
            scale(m, n, beta, c, cOff, ldc);
            if (bias != null || res != null) {
                for (int i = 0; i < m; i++) {
                    epilogue(1, n, bias, biasOff, res, rOff + i * ldr, ldr, c, cOff + i * ldc, ldc);
                }
            }
            return;
        }
        Tuning t = Tuning.current();
        int parts = partsFor(t, par, m, n, k);
        if (parts <= 1) {
            block(t, transA, transB, 0, m, 0, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                    bias, biasOff, res, rOff, ldr, c, cOff, ldc);
            return;
        }
        Job job = JOB.get();
        job.set(t, transA, transB, m, n, k, alpha, a, aOff, lda, 0, b, bOff, ldb, 0, beta, c, cOff, ldc, 0, 1, parts);
        job.bias = bias; job.biasOff = biasOff; job.res = res; job.rOff = rOff; job.ldr = ldr;
        job.runAndClear(par, parts);
    }

    /**
     * Strided batch: whole products are spread over the team when there are at least as many as
     * threads, otherwise each product is split. Either way each C element is computed by the same
     * sequence of operations, so the bits do not depend on the split.
     */
    public static void sgemmBatched(Parallelism par, int batch, boolean transA, boolean transB, int m, int n, int k,
                                    float alpha, float[] a, int aOff, int lda, int strideA,
                                    float[] b, int bOff, int ldb, int strideB,
                                    float beta, float[] c, int cOff, int ldc, int strideC) {
        if (batch == 0 || m == 0 || n == 0) {
            return;
        }
        int threads = par.threads();
        if (threads > 1 && batch >= threads && alpha != 0f && k > 0
                && (long) batch * m * n * k >= PARALLEL_MIN_MACS) {
            Job job = JOB.get();
            job.set(Tuning.current(), transA, transB, m, n, k, alpha, a, aOff, lda, strideA, b, bOff, ldb, strideB,
                    beta, c, cOff, ldc, strideC, batch, 0);
            job.runAndClear(par, batch);
            return;
        }
        for (int i = 0; i < batch; i++) {
            sgemm(par, transA, transB, m, n, k, alpha, a, aOff + i * strideA, lda, b, bOff + i * strideB, ldb,
                    beta, c, cOff + i * strideC, ldc);
        }
    }

    /** How many independent C blocks to split one product into: at most one per thread. */
    private static int partsFor(Tuning t, Parallelism par, int m, int n, int k) {
        int threads = par.threads();
        if (threads == 1 || (long) m * n * k < PARALLEL_MIN_MACS) {
            return 1;
        }
        int units = m >= n ? (m + t.mr() - 1) / t.mr() : (n + t.nr() - 1) / t.nr();
        return Math.min(threads, units);
    }

    /**
     * A parallel GEMM region, reused per calling thread so that dispatching allocates nothing. With
     * {@code splitParts > 0} part p is the p-th slab of one product's C (rows when m >= n, else
     * columns, cut on tile boundaries); with {@code splitParts == 0} part p is batch entry p.
     */
    private static final ThreadLocal<Job> JOB = PartJob.perThread(Job::new);

    private static final class Job extends PartJob {
        Tuning tuning;
        boolean transA, transB;
        int m, n, k, aOff, lda, strideA, bOff, ldb, strideB, cOff, ldc, strideC, batch, splitParts;
        int biasOff, rOff, ldr;
        float alpha, beta;
        float[] a, b, c, bias, res;

        void set(Tuning tuning, boolean transA, boolean transB, int m, int n, int k, float alpha,
                 float[] a, int aOff, int lda, int strideA, float[] b, int bOff, int ldb, int strideB,
                 float beta, float[] c, int cOff, int ldc, int strideC, int batch, int splitParts) {
            this.tuning = tuning;
            this.transA = transA; this.transB = transB;
            this.m = m; this.n = n; this.k = k; this.alpha = alpha; this.beta = beta;
            this.a = a; this.aOff = aOff; this.lda = lda; this.strideA = strideA;
            this.b = b; this.bOff = bOff; this.ldb = ldb; this.strideB = strideB;
            this.c = c; this.cOff = cOff; this.ldc = ldc; this.strideC = strideC;
            this.batch = batch; this.splitParts = splitParts;
            this.bias = null; this.res = null;
        }

        @Override
        protected void clear() {
            a = b = c = bias = res = null; // do not keep the caller's arrays reachable
        }

        @Override
        public void run(int part) {
            Tuning t = tuning;
            if (splitParts == 0) {
                block(t, transA, transB, 0, m, 0, n, k, alpha, a, aOff + part * strideA, lda,
                        b, bOff + part * strideB, ldb, beta, null, 0, null, 0, 0, c, cOff + part * strideC, ldc);
            } else if (m >= n) {
                int mr = t.mr(), units = (m + mr - 1) / mr;
                int r0 = slab(units, splitParts, part) * mr, r1 = Math.min(m, slab(units, splitParts, part + 1) * mr);
                block(t, transA, transB, r0, r1, 0, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                        bias, biasOff, res, rOff, ldr, c, cOff, ldc);
            } else {
                int nr = t.nr(), units = (n + nr - 1) / nr;
                int c0 = slab(units, splitParts, part) * nr, c1 = Math.min(n, slab(units, splitParts, part + 1) * nr);
                block(t, transA, transB, 0, m, c0, c1, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                        bias, biasOff, res, rOff, ldr, c, cOff, ldc);
            }
        }

        /** First unit of slab p when units are cut into parts nearly equal slabs. */
        private static int slab(int units, int parts, int p) {
            return (int) ((long) units * p / parts);
        }
    }

    /** The serial BLIS loops over the C block rows [i0, i1) x columns [j0, j1). */
    static void block(Tuning t, boolean transA, boolean transB, int i0, int i1, int j0, int j1, int k, float alpha,
                      float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta,
                      float[] bias, int biasOff, float[] res, int rOff, int ldr,
                      float[] c, int cOff, int ldc) {
        boolean fused = bias != null || res != null;
        Workspace ws = workspace(t);
        int mr = t.mr(), nr = t.nr(), kcMax = t.kc(), mcMax = t.mc(), ncMax = t.nc();
        // op(A)[i][p] = a[aOff + i * aRs + p * aCs]
        int aRs = transA ? 1 : lda, aCs = transA ? lda : 1;
        boolean packA = t.packsA(lda, transA);
        // With few rows of C each B micro-panel is used only a few times, so packing it does not pay;
        // an untransposed B is then read in place.
        boolean directB = !transB && t.readsBInPlace(i1 - i0, ldb);
        for (int jc = j0; jc < j1; jc += ncMax) {
            int nc = Math.min(ncMax, j1 - jc);
            for (int pc = 0; pc < k; pc += kcMax) {
                int kc = Math.min(kcMax, k - pc);
                // The first k block applies the caller's beta; later blocks accumulate onto it.
                float betaBlock = pc == 0 ? beta : 1f;
                boolean last = pc + kc == k;
                if (directB) {
                    int fullCols = nc - nc % nr; // only a last partial panel is packed, as panel 0
                    if (fullCols < nc) {
                        packB(nr, false, b, bOff, ldb, pc, kc, jc + fullCols, nc - fullCols, ws.bPack);
                    }
                } else {
                    packB(nr, transB, b, bOff, ldb, pc, kc, jc, nc, ws.bPack);
                }
                int bBlock = bOff + pc * ldb + jc;
                for (int ic = i0; ic < i1; ic += mcMax) {
                    int mc = Math.min(mcMax, i1 - ic);
                    int aBlock = aOff + ic * aRs + pc * aCs;
                    if (packA) {
                        packA(mr, a, aBlock, aRs, aCs, mc, kc, ws.aPack, 0);
                    }
                    macroKernel(mr, nr, mc, nc, kc, alpha, packA, a, aBlock, aRs, aCs, directB, b, bBlock, ldb,
                            ws, betaBlock,
                            last && fused, bias, biasOff + jc, res, rOff + ic * ldr + jc, ldr,
                            c, cOff + ic * ldc + jc, ldc);
                }
            }
        }
    }

    /**
     * One mc x nc block of C: the jr loop walks packed B micro-panels, the ir loop MR-row tiles of A,
     * read in place (op(A)[i][p] at aBlock + i*aRs + p*aCs) or from the packed panels (packedA). In place,
     * only a last partial row tile is packed. Reading A unpacked measured as fast as packing it at every
     * unaliased size tried on Zen 4 (the row streams prefetch well) and saves the packing pass, which
     * costs a third of the time when k or n is 64.
     */
    private static void macroKernel(int mrMax, int nrMax, int mc, int nc, int kc, float alpha,
                                    boolean packedA, float[] a, int aBlock, int aRs, int aCs,
                                    boolean directB, float[] b, int bBlock, int ldb, Workspace ws, float beta,
                                    boolean fused, float[] bias, int biasBlock, float[] res, int resBlock, int ldr,
                                    float[] c, int cOff, int ldc) {
        int fullRows = mc - mc % mrMax;
        if (!packedA && fullRows < mc) {
            // The sliver below the last full tile, packed and zero-padded to MR rows.
            packA(mrMax, a, aBlock + fullRows * aRs, aRs, aCs, mc - fullRows, kc, ws.aPack, 0);
        }
        for (int jr = 0; jr < nc; jr += nrMax) {
            int nr = Math.min(nrMax, nc - jr);
            // Micro-panel jr of op(B): element (p, j) at bp[bi + p * bRs + j].
            float[] bp = ws.bPack;
            int bi = jr * kc, bRs = nrMax;
            if (directB) {
                if (nr == nrMax) {
                    bp = b;
                    bi = bBlock + jr;
                    bRs = ldb;
                } else {
                    bi = 0;
                }
            }
            for (int ir = 0; ir < mc; ir += mrMax) {
                int mr = Math.min(mrMax, mc - ir);
                int ci = cOff + ir * ldc + jr;
                // Row tile ir of op(A): element (r, p) at ap[ai + r * ar + p * ac].
                float[] ap = a;
                int ai = aBlock + ir * aRs, ar = aRs, ac = aCs;
                if (packedA || mr < mrMax) {
                    ap = ws.aPack;
                    ai = packedA ? ir * kc : 0;
                    ar = 1;
                    ac = mrMax;
                }
                if (mr == mrMax && nr == nrMax) {
                    SimdTiles.gemmTile(mrMax, nrMax / L, kc, ap, ai, ar, ac, bp, bi, bRs, alpha, beta, c, ci, ldc);
                } else {
                    // an edge tile, only as many vectors wide as it has columns (the last column panel)
                    SimdTiles.gemmTile(mrMax, (nr + L - 1) / L, kc, ap, ai, ar, ac, bp, bi, bRs, 1f, 0f, ws.edge, 0,
                            nrMax);
                    mergeEdge(mr, nr, nrMax, alpha, beta, ws.edge, c, ci, ldc);
                }
                if (fused) {
                    epilogue(mr, nr, bias, biasBlock + jr, res, resBlock + ir * ldr + jr, ldr, c, ci, ldc);
                }
            }
        }
    }

    /** The fused epilogue on one tile: c += bias[j] (if any), then c += res[i][j] (if any). */
    private static void epilogue(int mr, int nr, float[] bias, int bi, float[] res, int ri, int ldr,
                                 float[] c, int ci, int ldc) {
        int vecEnd = S.loopBound(nr);
        for (int r = 0; r < mr; r++) {
            int co = ci + r * ldc, ro = ri + r * ldr;
            int j = 0;
            for (; j < vecEnd; j += L) {
                FloatVector v = FloatVector.fromArray(S, c, co + j);
                if (bias != null) {
                    v = v.add(FloatVector.fromArray(S, bias, bi + j));
                }
                if (res != null) {
                    v = v.add(FloatVector.fromArray(S, res, ro + j));
                }
                v.intoArray(c, co + j);
            }
            for (; j < nr; j++) {
                float v = c[co + j];
                if (bias != null) {
                    v += bias[bi + j];
                }
                if (res != null) {
                    v += res[ro + j];
                }
                c[co + j] = v;
            }
        }
    }

    /**
     * Packs rows [0, rows) of op(A) (element (r, p) at src + r*aRs + p*aCs) into MR-row micro-panels at
     * dst[d..]: panel q holds rows q*MR.. as kc groups of MR consecutive values, zero-padded past the
     * last row. The source is read along its storage order: row by row when A is untransposed, and for
     * a transposed A (aRs == 1) one stored row of A^T (one k) at a time, MR consecutive values per panel.
     */
    static void packA(int mr, float[] a, int src, int aRs, int aCs, int rows, int kc, float[] dst, int d) {
        if (aRs == 1) {
            // Transposed A: each stored row p of A^T is read once, left to right, and dealt out MR values
            // to a panel, zeros past the last row (against an arraycopy per MR values: 1.05-1.07x on AVX2
            // TN products)
            for (int p = 0; p < kc; p++) {
                int s = src + p * aCs, o = d + p * mr;
                for (int ir = 0; ir < rows; ir += mr, o += mr * kc) {
                    int n = Math.min(mr, rows - ir);
                    for (int r = 0; r < n; r++) {
                        dst[o + r] = a[s + ir + r];
                    }
                    for (int r = n; r < mr; r++) {
                        dst[o + r] = 0f;
                    }
                }
            }
            return;
        }
        for (int ir = 0; ir < rows; ir += mr) {
            int base = d + ir * kc, n = Math.min(mr, rows - ir);
            for (int r = 0; r < n; r++) {
                int s = src + (ir + r) * aRs;
                for (int p = 0; p < kc; p++) {
                    dst[base + p * mr + r] = a[s + p * aCs];
                }
            }
            for (int r = n; r < mr; r++) {
                for (int p = 0; p < kc; p++) {
                    dst[base + p * mr + r] = 0f;
                }
            }
        }
    }

    /** Merges the valid mr x nr corner of a full temporary tile (row stride ld), with the tiles' rounding. */
    private static void mergeEdge(int mr, int nr, int ld, float alpha, float beta, float[] edge, float[] c, int ci,
                                  int ldc) {
        for (int r = 0; r < mr; r++) {
            for (int j = 0; j < nr; j++) {
                float acc = edge[r * ld + j];
                int o = ci + r * ldc + j;
                c[o] = beta == 0f ? acc * alpha : Math.fma(acc, alpha, c[o] * beta);
            }
        }
    }

    /** C = beta * C, with beta == 0 writing zeros without reading C. */
    private static void scale(int m, int n, float beta, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            int row = cOff + i * ldc;
            if (beta == 0f) {
                java.util.Arrays.fill(c, row, row + n, 0f);
            } else if (beta != 1f) {
                for (int j = 0; j < n; j++) {
                    c[row + j] *= beta;
                }
            }
        }
    }

    /**
     * Packs op(B)[pc : pc+kc, jc : jc+nc] into NR-wide panels: panel q holds columns q*NR.. as kc rows
     * of NR consecutive values, zero-padded past the last column.
     */
    static void packB(int panel, boolean transB, float[] b, int bOff, int ldb, int pc, int kc, int jc, int nc,
                      float[] dst) {
        for (int jr = 0; jr < nc; jr += panel) {
            int nr = Math.min(panel, nc - jr);
            int base = jr * kc;
            if (!transB) {
                // op(B)[p][j] = b[bOff + p*ldb + j]: each packed row is a contiguous copy.
                for (int p = 0; p < kc; p++) {
                    int src = bOff + (pc + p) * ldb + jc + jr;
                    int d = base + p * panel;
                    if (nr == panel) {
                        for (int v = 0; v < panel; v += L) {
                            FloatVector.fromArray(S, b, src + v).intoArray(dst, d + v);
                        }
                    } else {
                        System.arraycopy(b, src, dst, d, nr);
                        java.util.Arrays.fill(dst, d + nr, d + panel, 0f);
                    }
                }
            } else {
                // op(B)[p][j] = b[bOff + j*ldb + p]: walk each stored row of B, scatter by NR. (Dealing out
                // 16 values of each row at a time, to keep the written lines in L1, measured 0.85-0.97x this.)
                for (int j = 0; j < nr; j++) {
                    int src = bOff + (jc + jr + j) * ldb + pc;
                    for (int p = 0; p < kc; p++) {
                        dst[base + p * panel + j] = b[src + p];
                    }
                }
                if (nr < panel) {
                    for (int p = 0; p < kc; p++) {
                        java.util.Arrays.fill(dst, base + p * panel + nr, base + (p + 1) * panel, 0f);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // MemorySegment operands (dev.lanes.kernels.SegmentGemm)

    private static final ValueLayout.OfFloat FL = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /**
     * {@link #block} on segments (offsets and strides in floats, validated by the facade; alpha != 0,
     * k > 0): the C block rows [i0, i1) x columns [j0, j1), the same BLIS loops over heap blocks copied
     * from the segments as they are needed: each KC x NC block of op(B) packed straight from its segment
     * (or, where the array GEMM reads B in place, copied row by row and read in place), each MC x KC
     * block of op(A) copied (its rows, or for a transposed A its KC stored rows of MC) and read in place
     * or packed from there as the tuning says, each MC x NC block of C copied in when beta reads it and
     * out after the macro-kernel. The macro-kernel is the array GEMM's, on the same values, so the bits
     * are the array overload's; the copies are of blocks that are about to be used (in L2), not of
     * whole operands.
     */
    public static void block(boolean transA, boolean transB, int i0, int i1, int j0, int j1, int k, float alpha,
                             MemorySegment a, long aOff, long lda, MemorySegment b, long bOff, long ldb, float beta,
                             MemorySegment c, long cOff, long ldc) {
        Tuning t = Tuning.current();
        Workspace ws = workspace(t);
        int mr = t.mr(), nr = t.nr(), kcMax = t.kc(), mcMax = t.mc(), ncMax = t.nc();
        if (ws.aStage == null) {
            ws.aStage = new float[mcMax * kcMax];
            ws.cStage = new float[mcMax * ncMax];
        }
        float[] as = ws.aStage, cs = ws.cStage;
        // as for arrays: an untransposed B is read in place for few rows of C (here from its copy)
        boolean directB = !transB && t.readsBInPlace(i1 - i0, (int) Math.min(Integer.MAX_VALUE, ldb));
        for (int jc = j0; jc < j1; jc += ncMax) {
            int nc = Math.min(ncMax, j1 - jc);
            for (int pc = 0; pc < k; pc += kcMax) {
                int kc = Math.min(kcMax, k - pc);
                float betaBlock = pc == 0 ? beta : 1f;
                float[] bs = ws.bPack;
                if (directB) {
                    if (ws.bStage == null) {
                        ws.bStage = new float[kcMax * ncMax];
                    }
                    bs = ws.bStage;
                    for (int p = 0; p < kc; p++) {
                        MemorySegment.copy(b, FL, (bOff + (pc + p) * ldb + jc) * Float.BYTES, bs, p * nc, nc);
                    }
                    int fullCols = nc - nc % nr;
                    if (fullCols < nc) {
                        packB(nr, false, bs, 0, nc, 0, kc, fullCols, nc - fullCols, ws.bPack);
                    }
                } else {
                    packB(nr, transB, b, bOff, ldb, pc, kc, jc, nc, ws.bPack);
                }
                for (int ic = i0; ic < i1; ic += mcMax) {
                    int mc = Math.min(mcMax, i1 - ic);
                    if (transA) {
                        for (int p = 0; p < kc; p++) {     // stored row pc + p of A^T, columns ic..
                            MemorySegment.copy(a, FL, (aOff + (pc + p) * lda + ic) * Float.BYTES, as, p * mc, mc);
                        }
                    } else {
                        for (int i = 0; i < mc; i++) {
                            MemorySegment.copy(a, FL, (aOff + (ic + i) * lda + pc) * Float.BYTES, as, i * kc, kc);
                        }
                    }
                    int aRs = transA ? 1 : kc, aCs = transA ? mc : 1;
                    boolean packA = t.packsA(transA ? mc : kc, transA);
                    if (packA) {
                        packA(mr, as, 0, aRs, aCs, mc, kc, ws.aPack, 0);
                    }
                    long cBlock = cOff + ic * ldc + jc;
                    if (betaBlock != 0f) {
                        for (int i = 0; i < mc; i++) {
                            MemorySegment.copy(c, FL, (cBlock + i * ldc) * Float.BYTES, cs, i * nc, nc);
                        }
                    }
                    macroKernel(mr, nr, mc, nc, kc, alpha, packA, as, 0, aRs, aCs, directB, bs, 0, nc, ws,
                            betaBlock, false, null, 0, null, 0, 0, cs, 0, nc);
                    for (int i = 0; i < mc; i++) {
                        MemorySegment.copy(cs, i * nc, c, FL, (cBlock + i * ldc) * Float.BYTES, nc);
                    }
                }
            }
        }
    }

    /** {@link #packB(int, boolean, float[], int, int, int, int, int, int, float[])} from a segment. */
    static void packB(int panel, boolean transB, MemorySegment b, long bOff, long ldb, int pc, int kc, int jc,
                      int nc, float[] dst) {
        for (int jr = 0; jr < nc; jr += panel) {
            int nr = Math.min(panel, nc - jr);
            int base = jr * kc;
            if (!transB) {
                for (int p = 0; p < kc; p++) {
                    long src = (bOff + (pc + p) * ldb + jc + jr) * Float.BYTES;
                    int d = base + p * panel;
                    if (nr == panel) {
                        for (int v = 0; v < panel; v += L) {
                            FloatVector.fromMemorySegment(S, b, src + v * Float.BYTES, NATIVE).intoArray(dst, d + v);
                        }
                    } else {
                        MemorySegment.copy(b, FL, src, dst, d, nr);
                        java.util.Arrays.fill(dst, d + nr, d + panel, 0f);
                    }
                }
            } else {
                for (int j = 0; j < nr; j++) {
                    long src = (bOff + (jc + jr + j) * ldb + pc) * Float.BYTES;
                    for (int p = 0; p < kc; p++) {
                        dst[base + p * panel + j] = b.get(FL, src + p * Float.BYTES);
                    }
                }
                if (nr < panel) {
                    for (int p = 0; p < kc; p++) {
                        java.util.Arrays.fill(dst, base + p * panel + nr, base + (p + 1) * panel, 0f);
                    }
                }
            }
        }
    }
}
