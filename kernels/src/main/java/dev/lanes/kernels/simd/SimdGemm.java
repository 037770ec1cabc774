package dev.lanes.kernels.simd;

import dev.lanes.kernels.Parallelism;
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
 *           for ir in mc step MR:        micro-kernel: an MR x NR tile of C in 24 registers
 * </pre>
 *
 * B is packed in the exact order the micro-kernel reads it, which absorbs B's transpose. A is read in
 * place through a (row stride, column stride) pair, which absorbs A's transpose. Edge tiles are
 * computed into a full temporary tile and merged, so the micro-kernel never branches on size. Each C
 * element is the same sequence of float operations whatever its tile position, so results do not
 * depend on how the work is split between threads.
 */
public final class SimdGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** Register tile: MR rows of C by NR columns, MR * NR / L accumulators (of AVX-512's 32 registers). */
    static final int MR = 6;
    static final int NR = 4 * L;
    /**
     * Cache blocking, the one table of block sizes. KC and MC were measured (sweeps of 128..384 and
     * 60..480 were within noise on Zen 4); NC sizes the packed KC x NC block of B to the per-core L2
     * read from the machine (1 MiB here gives NC = 1024), with a 1 MiB fallback.
     */
    static final int KC = 256;
    static final int MC = 16 * MR;
    static final int NC = blockColumns(l2Bytes());
    /** Up to this many rows of C an untransposed B is read in place (measured: equal or faster up to 512 rows, 6% slower at 1024). */
    static final int DIRECT_B_MAX_M = 256;

    /** The per-core L2 size from Linux sysfs, or 1 MiB where it cannot be read. */
    static long l2Bytes() {
        for (int index = 0; index < 8; index++) {
            java.nio.file.Path dir = java.nio.file.Path.of("/sys/devices/system/cpu/cpu0/cache/index" + index);
            try {
                if (!java.nio.file.Files.readString(dir.resolve("level")).trim().equals("2")) {
                    continue;
                }
                String size = java.nio.file.Files.readString(dir.resolve("size")).trim().toUpperCase(java.util.Locale.ROOT);
                long unit = size.endsWith("K") ? 1024 : size.endsWith("M") ? 1024 * 1024 : 1;
                return Long.parseLong(size.replaceAll("[^0-9]", "")) * unit;
            } catch (java.io.IOException | RuntimeException e) {
                break; // no sysfs (not Linux, or sandboxed): use the fallback
            }
        }
        return 1L << 20;
    }

    /** NC: the packed B block (KC x NC floats) fills the L2, in whole panels, between 4 and 64 of them. */
    static int blockColumns(long l2) {
        long panels = l2 / ((long) KC * Float.BYTES * NR);
        return (int) Math.max(4, Math.min(64, panels)) * NR;
    }

    /** Per-thread packing buffers, grown once and reused: steady-state calls allocate nothing. */
    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    static final class Workspace {
        final float[] aPack = new float[MR * KC]; // the partial row tile of A
        final float[] bPack = new float[KC * NC];
        final float[] edge = new float[MR * NR];
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
        int parts = partsFor(par, m, n, k);
        if (parts <= 1) {
            block(transA, transB, 0, m, 0, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                    bias, biasOff, res, rOff, ldr, c, cOff, ldc);
            return;
        }
        Job job = JOB.get();
        job.set(transA, transB, m, n, k, alpha, a, aOff, lda, 0, b, bOff, ldb, 0, beta, c, cOff, ldc, 0, 1, parts);
        job.bias = bias; job.biasOff = biasOff; job.res = res; job.rOff = rOff; job.ldr = ldr;
        try {
            par.forEach(parts, job);
        } finally {
            job.clear();
        }
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
            job.set(transA, transB, m, n, k, alpha, a, aOff, lda, strideA, b, bOff, ldb, strideB, beta, c, cOff, ldc,
                    strideC, batch, 0);
            try {
                par.forEach(batch, job);
            } finally {
                job.clear();
            }
            return;
        }
        for (int i = 0; i < batch; i++) {
            sgemm(par, transA, transB, m, n, k, alpha, a, aOff + i * strideA, lda, b, bOff + i * strideB, ldb,
                    beta, c, cOff + i * strideC, ldc);
        }
    }

    /** How many independent C blocks to split one product into: at most one per thread. */
    private static int partsFor(Parallelism par, int m, int n, int k) {
        int threads = par.threads();
        if (threads == 1 || (long) m * n * k < PARALLEL_MIN_MACS) {
            return 1;
        }
        int units = m >= n ? (m + MR - 1) / MR : (n + NR - 1) / NR;
        return Math.min(threads, units);
    }

    /**
     * A parallel GEMM region, reused per calling thread so that dispatching allocates nothing. With
     * {@code splitParts > 0} part p is the p-th slab of one product's C (rows when m >= n, else
     * columns, cut on tile boundaries); with {@code splitParts == 0} part p is batch entry p.
     */
    private static final ThreadLocal<Job> JOB = ThreadLocal.withInitial(Job::new);

    private static final class Job implements Parallelism.PartTask {
        boolean transA, transB;
        int m, n, k, aOff, lda, strideA, bOff, ldb, strideB, cOff, ldc, strideC, batch, splitParts;
        int biasOff, rOff, ldr;
        float alpha, beta;
        float[] a, b, c, bias, res;

        void set(boolean transA, boolean transB, int m, int n, int k, float alpha,
                 float[] a, int aOff, int lda, int strideA, float[] b, int bOff, int ldb, int strideB,
                 float beta, float[] c, int cOff, int ldc, int strideC, int batch, int splitParts) {
            this.transA = transA; this.transB = transB;
            this.m = m; this.n = n; this.k = k; this.alpha = alpha; this.beta = beta;
            this.a = a; this.aOff = aOff; this.lda = lda; this.strideA = strideA;
            this.b = b; this.bOff = bOff; this.ldb = ldb; this.strideB = strideB;
            this.c = c; this.cOff = cOff; this.ldc = ldc; this.strideC = strideC;
            this.batch = batch; this.splitParts = splitParts;
            this.bias = null; this.res = null;
        }

        void clear() {
            a = b = c = bias = res = null; // do not keep the caller's arrays reachable
        }

        @Override
        public void run(int part) {
            if (splitParts == 0) {
                block(transA, transB, 0, m, 0, n, k, alpha, a, aOff + part * strideA, lda,
                        b, bOff + part * strideB, ldb, beta, null, 0, null, 0, 0, c, cOff + part * strideC, ldc);
            } else if (m >= n) {
                int units = (m + MR - 1) / MR;
                int r0 = slab(units, splitParts, part) * MR, r1 = Math.min(m, slab(units, splitParts, part + 1) * MR);
                block(transA, transB, r0, r1, 0, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                        bias, biasOff, res, rOff, ldr, c, cOff, ldc);
            } else {
                int units = (n + NR - 1) / NR;
                int c0 = slab(units, splitParts, part) * NR, c1 = Math.min(n, slab(units, splitParts, part + 1) * NR);
                block(transA, transB, 0, m, c0, c1, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                        bias, biasOff, res, rOff, ldr, c, cOff, ldc);
            }
        }

        /** First unit of slab p when units are cut into parts nearly equal slabs. */
        private static int slab(int units, int parts, int p) {
            return (int) ((long) units * p / parts);
        }
    }

    /** The serial BLIS loops over the C block rows [i0, i1) x columns [j0, j1). */
    static void block(boolean transA, boolean transB, int i0, int i1, int j0, int j1, int k, float alpha,
                      float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta,
                      float[] bias, int biasOff, float[] res, int rOff, int ldr,
                      float[] c, int cOff, int ldc) {
        boolean fused = bias != null || res != null;
        Workspace ws = WORKSPACE.get();
        // op(A)[i][p] = a[aOff + i * aRs + p * aCs]
        int aRs = transA ? 1 : lda, aCs = transA ? lda : 1;
        // With few rows of C each B micro-panel is used only a few times, so packing it does not pay;
        // an untransposed B is then read in place.
        boolean directB = !transB && i1 - i0 <= DIRECT_B_MAX_M;
        for (int jc = j0; jc < j1; jc += NC) {
            int nc = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                // The first k block applies the caller's beta; later blocks accumulate onto it.
                float betaBlock = pc == 0 ? beta : 1f;
                boolean last = pc + kc == k;
                if (directB) {
                    int fullCols = nc - nc % NR; // only a last partial panel is packed, as panel 0
                    if (fullCols < nc) {
                        packB(false, b, bOff, ldb, pc, kc, jc + fullCols, nc - fullCols, ws.bPack);
                    }
                } else {
                    packB(transB, b, bOff, ldb, pc, kc, jc, nc, ws.bPack);
                }
                int bBlock = bOff + pc * ldb + jc;
                for (int ic = i0; ic < i1; ic += MC) {
                    int mc = Math.min(MC, i1 - ic);
                    macroKernel(mc, nc, kc, alpha, a, aOff + ic * aRs + pc * aCs, aRs, aCs, directB, b, bBlock, ldb,
                            ws, betaBlock,
                            last && fused, bias, biasOff + jc, res, rOff + ic * ldr + jc, ldr,
                            c, cOff + ic * ldc + jc, ldc);
                }
            }
        }
    }

    /**
     * One mc x nc block of C: the jr loop walks packed B micro-panels, the ir loop MR-row tiles of A
     * read in place (op(A)[i][p] at aBlock + i*aRs + p*aCs). Only a last partial row tile is packed.
     * Reading A unpacked measured as fast as packing it at every size tried here (the six row streams
     * prefetch well) and saves the packing pass, which costs a third of the time when k or n is 64.
     */
    private static void macroKernel(int mc, int nc, int kc, float alpha, float[] a, int aBlock, int aRs,
                                    int aCs, boolean directB, float[] b, int bBlock, int ldb, Workspace ws, float beta,
                                    boolean fused, float[] bias, int biasBlock, float[] res, int resBlock, int ldr,
                                    float[] c, int cOff, int ldc) {
        int fullRows = mc - mc % MR;
        if (fullRows < mc) {
            // The sliver below the last full tile, packed and zero-padded to MR rows.
            packSliverA(a, aBlock + fullRows * aRs, aRs, aCs, mc - fullRows, kc, ws.aPack);
        }
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            // Micro-panel jr of op(B): element (p, j) at bp[bi + p * bRs + j].
            float[] bp = ws.bPack;
            int bi = jr * kc, bRs = NR;
            if (directB) {
                if (nr == NR) {
                    bp = b;
                    bi = bBlock + jr;
                    bRs = ldb;
                } else {
                    bi = 0;
                }
            }
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = Math.min(MR, mc - ir);
                int ci = cOff + ir * ldc + jr;
                if (mr == MR && nr == NR) {
                    microKernel(kc, a, aBlock + ir * aRs, aRs, aCs, bp, bi, bRs, alpha, beta, c, ci, ldc);
                } else {
                    if (mr == MR) {
                        microKernel(kc, a, aBlock + ir * aRs, aRs, aCs, bp, bi, bRs, 1f, 0f, ws.edge, 0, NR);
                    } else {
                        microKernel(kc, ws.aPack, 0, 1, MR, bp, bi, bRs, 1f, 0f, ws.edge, 0, NR);
                    }
                    mergeEdge(mr, nr, alpha, beta, ws.edge, c, ci, ldc);
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

    /** Packs mr < MR rows of op(A) (element (r, p) at src + r*aRs + p*aCs) as one zero-padded panel. */
    private static void packSliverA(float[] a, int src, int aRs, int aCs, int mr, int kc, float[] dst) {
        for (int p = 0; p < kc; p++) {
            int d = p * MR;
            for (int r = 0; r < MR; r++) {
                dst[d + r] = r < mr ? a[src + r * aRs + p * aCs] : 0f;
            }
        }
    }

    /**
     * C[MR x NR] = alpha * Ap * Bp + beta * C over one packed A micro-panel (kc x MR, MR contiguous
     * values per k) and one packed B micro-panel (kc x NR). beta == 0 never reads C.
     */
    static void microKernel(int kc, float[] ap, int ai, int aRs, int aCs, float[] bp, int bi, int bRs,
                            float alpha, float beta,
                            float[] c, int ci, int ldc) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c02 = FloatVector.zero(S), c03 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S), c12 = FloatVector.zero(S), c13 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c22 = FloatVector.zero(S), c23 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S), c32 = FloatVector.zero(S), c33 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S), c42 = FloatVector.zero(S), c43 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S), c52 = FloatVector.zero(S), c53 = FloatVector.zero(S);
        int a1 = 1 * aRs, a2 = 2 * aRs, a3 = 3 * aRs, a4 = 4 * aRs, a5 = 5 * aRs;
        for (int p = 0; p < kc; p++) {
            int bo = bi + p * bRs;
            int ao = ai + p * aCs;
            FloatVector b0 = FloatVector.fromArray(S, bp, bo);
            FloatVector b1 = FloatVector.fromArray(S, bp, bo + L);
            FloatVector b2 = FloatVector.fromArray(S, bp, bo + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, bp, bo + 3 * L);
            FloatVector av = FloatVector.broadcast(S, ap[ao]);
            c00 = b0.fma(av, c00); c01 = b1.fma(av, c01); c02 = b2.fma(av, c02); c03 = b3.fma(av, c03);
            av = FloatVector.broadcast(S, ap[ao + a1]);
            c10 = b0.fma(av, c10); c11 = b1.fma(av, c11); c12 = b2.fma(av, c12); c13 = b3.fma(av, c13);
            av = FloatVector.broadcast(S, ap[ao + a2]);
            c20 = b0.fma(av, c20); c21 = b1.fma(av, c21); c22 = b2.fma(av, c22); c23 = b3.fma(av, c23);
            av = FloatVector.broadcast(S, ap[ao + a3]);
            c30 = b0.fma(av, c30); c31 = b1.fma(av, c31); c32 = b2.fma(av, c32); c33 = b3.fma(av, c33);
            av = FloatVector.broadcast(S, ap[ao + a4]);
            c40 = b0.fma(av, c40); c41 = b1.fma(av, c41); c42 = b2.fma(av, c42); c43 = b3.fma(av, c43);
            av = FloatVector.broadcast(S, ap[ao + a5]);
            c50 = b0.fma(av, c50); c51 = b1.fma(av, c51); c52 = b2.fma(av, c52); c53 = b3.fma(av, c53);
        }
        // Stores are written out in full: a helper taking vectors would not inline at these cold call
        // sites, and a vector passed to a call that is not inlined is boxed on the heap.
        FloatVector va = FloatVector.broadcast(S, alpha);
        int o;
        if (beta == 0f) {
            o = ci;
            c00.mul(va).intoArray(c, o);
            c01.mul(va).intoArray(c, o + L);
            c02.mul(va).intoArray(c, o + 2 * L);
            c03.mul(va).intoArray(c, o + 3 * L);
            o = ci + ldc;
            c10.mul(va).intoArray(c, o);
            c11.mul(va).intoArray(c, o + L);
            c12.mul(va).intoArray(c, o + 2 * L);
            c13.mul(va).intoArray(c, o + 3 * L);
            o = ci + 2 * ldc;
            c20.mul(va).intoArray(c, o);
            c21.mul(va).intoArray(c, o + L);
            c22.mul(va).intoArray(c, o + 2 * L);
            c23.mul(va).intoArray(c, o + 3 * L);
            o = ci + 3 * ldc;
            c30.mul(va).intoArray(c, o);
            c31.mul(va).intoArray(c, o + L);
            c32.mul(va).intoArray(c, o + 2 * L);
            c33.mul(va).intoArray(c, o + 3 * L);
            o = ci + 4 * ldc;
            c40.mul(va).intoArray(c, o);
            c41.mul(va).intoArray(c, o + L);
            c42.mul(va).intoArray(c, o + 2 * L);
            c43.mul(va).intoArray(c, o + 3 * L);
            o = ci + 5 * ldc;
            c50.mul(va).intoArray(c, o);
            c51.mul(va).intoArray(c, o + L);
            c52.mul(va).intoArray(c, o + 2 * L);
            c53.mul(va).intoArray(c, o + 3 * L);
        } else {
            // c = fma(acc, alpha, beta * c): the same rounding as mergeEdge.
            FloatVector vb = FloatVector.broadcast(S, beta);
            o = ci;
            c00.fma(va, FloatVector.fromArray(S, c, o).mul(vb)).intoArray(c, o);
            c01.fma(va, FloatVector.fromArray(S, c, o + L).mul(vb)).intoArray(c, o + L);
            c02.fma(va, FloatVector.fromArray(S, c, o + 2 * L).mul(vb)).intoArray(c, o + 2 * L);
            c03.fma(va, FloatVector.fromArray(S, c, o + 3 * L).mul(vb)).intoArray(c, o + 3 * L);
            o = ci + ldc;
            c10.fma(va, FloatVector.fromArray(S, c, o).mul(vb)).intoArray(c, o);
            c11.fma(va, FloatVector.fromArray(S, c, o + L).mul(vb)).intoArray(c, o + L);
            c12.fma(va, FloatVector.fromArray(S, c, o + 2 * L).mul(vb)).intoArray(c, o + 2 * L);
            c13.fma(va, FloatVector.fromArray(S, c, o + 3 * L).mul(vb)).intoArray(c, o + 3 * L);
            o = ci + 2 * ldc;
            c20.fma(va, FloatVector.fromArray(S, c, o).mul(vb)).intoArray(c, o);
            c21.fma(va, FloatVector.fromArray(S, c, o + L).mul(vb)).intoArray(c, o + L);
            c22.fma(va, FloatVector.fromArray(S, c, o + 2 * L).mul(vb)).intoArray(c, o + 2 * L);
            c23.fma(va, FloatVector.fromArray(S, c, o + 3 * L).mul(vb)).intoArray(c, o + 3 * L);
            o = ci + 3 * ldc;
            c30.fma(va, FloatVector.fromArray(S, c, o).mul(vb)).intoArray(c, o);
            c31.fma(va, FloatVector.fromArray(S, c, o + L).mul(vb)).intoArray(c, o + L);
            c32.fma(va, FloatVector.fromArray(S, c, o + 2 * L).mul(vb)).intoArray(c, o + 2 * L);
            c33.fma(va, FloatVector.fromArray(S, c, o + 3 * L).mul(vb)).intoArray(c, o + 3 * L);
            o = ci + 4 * ldc;
            c40.fma(va, FloatVector.fromArray(S, c, o).mul(vb)).intoArray(c, o);
            c41.fma(va, FloatVector.fromArray(S, c, o + L).mul(vb)).intoArray(c, o + L);
            c42.fma(va, FloatVector.fromArray(S, c, o + 2 * L).mul(vb)).intoArray(c, o + 2 * L);
            c43.fma(va, FloatVector.fromArray(S, c, o + 3 * L).mul(vb)).intoArray(c, o + 3 * L);
            o = ci + 5 * ldc;
            c50.fma(va, FloatVector.fromArray(S, c, o).mul(vb)).intoArray(c, o);
            c51.fma(va, FloatVector.fromArray(S, c, o + L).mul(vb)).intoArray(c, o + L);
            c52.fma(va, FloatVector.fromArray(S, c, o + 2 * L).mul(vb)).intoArray(c, o + 2 * L);
            c53.fma(va, FloatVector.fromArray(S, c, o + 3 * L).mul(vb)).intoArray(c, o + 3 * L);
        }
    }

    /** Merges the valid mr x nr corner of a full temporary tile, with the micro-kernel's rounding. */
    private static void mergeEdge(int mr, int nr, float alpha, float beta, float[] edge, float[] c, int ci, int ldc) {
        for (int r = 0; r < mr; r++) {
            for (int j = 0; j < nr; j++) {
                float acc = edge[r * NR + j];
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
    static void packB(boolean transB, float[] b, int bOff, int ldb, int pc, int kc, int jc, int nc, float[] dst) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int base = jr * kc;
            if (!transB) {
                // op(B)[p][j] = b[bOff + p*ldb + j]: each packed row is a contiguous copy.
                for (int p = 0; p < kc; p++) {
                    int src = bOff + (pc + p) * ldb + jc + jr;
                    int d = base + p * NR;
                    if (nr == NR) {
                        for (int v = 0; v < NR; v += L) {
                            FloatVector.fromArray(S, b, src + v).intoArray(dst, d + v);
                        }
                    } else {
                        System.arraycopy(b, src, dst, d, nr);
                        java.util.Arrays.fill(dst, d + nr, d + NR, 0f);
                    }
                }
            } else {
                // op(B)[p][j] = b[bOff + j*ldb + p]: walk each stored row of B, scatter by NR.
                for (int j = 0; j < nr; j++) {
                    int src = bOff + (jc + jr + j) * ldb + pc;
                    for (int p = 0; p < kc; p++) {
                        dst[base + p * NR + j] = b[src + p];
                    }
                }
                if (nr < NR) {
                    for (int p = 0; p < kc; p++) {
                        java.util.Arrays.fill(dst, base + p * NR + nr, base + (p + 1) * NR, 0f);
                    }
                }
            }
        }
    }
}
