package dev.lanes.kernels;

import dev.lanes.kernels.internal.PartJob;
import java.lang.foreign.MemorySegment;

/**
 * GEMM on {@link MemorySegment} operands (see {@link Segments}). On the SIMD backend each part runs the
 * BLIS loops over the segments ({@code SimdGemm.block} on segments): B's blocks packed straight from its
 * segment, A's and C's blocks copied just before use, so no operand is copied whole and B is not copied
 * and then packed (segment / array 0.94x at n = 256, 0.97x at 1024, against 0.93x and 0.95x for whole
 * copies, bench/RESULTS.md). Otherwise (scalar backend, or alpha == 0 or k == 0): C is cut into blocks of (mc, nc); the
 * rows of op(A) a row block needs, over the whole k, are copied once into a per-thread heap buffer, then
 * for each column block under it the columns of op(B), and C's block when beta reads it; the array GEMM
 * computes the block on them and C's block is copied back. Row blocks are large (up to
 * GEMM_A_FLOATS floats of op(A): all of A for most shapes), so A is copied once and B once per row
 * block, and the array GEMM packs each B panel once per row block, as it does for arrays. k is never
 * split, so each element of C is the array GEMM's own sequence of operations and the bits equal the
 * array overload's.
 */
final class SegmentGemm {
    private SegmentGemm() {}

    private static final ThreadLocal<Job> JOB = PartJob.perThread(Job::new);

    static void sgemm(Parallelism par, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                      MemorySegment a, long aOff, long lda, MemorySegment b, long bOff, long ldb,
                      float beta, MemorySegment c, long cOff, long ldc) {
        if (m == 0 || n == 0) {
            return;
        }
        // A team only when every segment may be touched by its threads (a confined arena's may not).
        int team = par.threads() > 1 && Segments.shareable(a, b, c) && (long) m * n * k >= (1L << 20)
                ? par.threads() : 1;
        int nc = blockColumns(n, k, m >= n ? 1 : team), mc = blockRows(m, k, m >= n ? team : 1);
        int parts = team == 1 ? 1 : Math.min(team, m >= n ? (m + mc - 1) / mc : (n + nc - 1) / nc);
        Job job = JOB.get();
        job.set(transA == Transpose.T, transB == Transpose.T, m, n, k, alpha, a, aOff, lda, b, bOff, ldb,
                beta, c, cOff, ldc, mc, nc, parts);
        job.runAndClear(par, parts);
    }

    /**
     * Columns of op(B) staged at a time: at most about GEMM_B_FLOATS floats and a part's share when the
     * team splits the columns, cut into equal blocks rounded up to 64 (the micro-tile's width), or to the
     * tuning's NC when at least NC columns fit: the array GEMM packs op(A) once per NC block of columns,
     * so staged blocks that are whole NC blocks make it pack op(A) no more often than for arrays.
     */
    static int blockColumns(int n, int k, int parts) {
        long cap = Math.max(64, Segments.GEMM_B_FLOATS / Math.max(1, k));
        int nc = Tuning.current().nc();
        if (cap >= nc) {
            return block(n, cap / nc * nc, parts, nc);
        }
        return block(n, cap, parts, 64);
    }

    /**
     * Rows of op(A) staged at a time: at most about GEMM_A_FLOATS floats and a part's share when the team
     * splits the rows, cut into equal blocks rounded up to 6 (the micro-tile's rows).
     */
    static int blockRows(int m, int k, int parts) {
        return block(m, Math.max(6, Segments.GEMM_A_FLOATS / Math.max(1, k)), parts, 6);
    }

    /** Equal blocks of at most max (and of a part's share), rounded up to a multiple of unit. */
    private static int block(int extent, long max, int parts, int unit) {
        long share = (extent + parts - 1L) / parts;
        long limit = Math.min(max, share);
        long blocks = (extent + limit - 1) / limit;
        long size = ((extent + blocks - 1) / blocks + unit - 1) / unit * unit;
        return (int) Math.max(1, Math.min(extent, size));
    }

    private static final class Job extends PartJob {
        boolean ta, tb;
        int m, n, k, mc, nc, parts;
        float alpha, beta;
        MemorySegment a, b, c;
        long aOff, lda, bOff, ldb, cOff, ldc;

        void set(boolean ta, boolean tb, int m, int n, int k, float alpha, MemorySegment a, long aOff, long lda,
                 MemorySegment b, long bOff, long ldb, float beta, MemorySegment c, long cOff, long ldc,
                 int mc, int nc, int parts) {
            this.ta = ta; this.tb = tb; this.m = m; this.n = n; this.k = k; this.alpha = alpha; this.beta = beta;
            this.a = a; this.aOff = aOff; this.lda = lda; this.b = b; this.bOff = bOff; this.ldb = ldb;
            this.c = c; this.cOff = cOff; this.ldc = ldc; this.mc = mc; this.nc = nc; this.parts = parts;
        }

        @Override
        protected void clear() {
            a = b = c = null;
        }

        /** Part p: a slab of whole row blocks (m >= n) or column blocks of C. */
        @Override
        public void run(int part) {
            if (m >= n) {
                int units = (m + mc - 1) / mc;
                int i0 = slab(units, part) * mc, i1 = Math.min(m, slab(units, part + 1) * mc);
                blocks(i0, i1, 0, n);
            } else {
                int units = (n + nc - 1) / nc;
                int j0 = slab(units, part) * nc, j1 = Math.min(n, slab(units, part + 1) * nc);
                blocks(0, m, j0, j1);
            }
        }

        private int slab(int units, int p) {
            return (int) ((long) units * p / parts);
        }

        private void blocks(int i0, int i1, int j0, int j1) {
            boolean readsAB = alpha != 0f && k > 0;
            if (readsAB && Backend.GEMM.blockInPlace(ta, tb, i0, i1, j0, j1, k, alpha, a, aOff, lda, b, bOff, ldb,
                    beta, c, cOff, ldc)) {
                return;
            }
            Segments.Stage st = Segments.STAGE.get();
            for (int ic = i0; ic < i1; ic += mc) {
                int mcb = Math.min(mc, i1 - ic);
                int ldas = ta ? mcb : k;
                if (readsAB) {
                    st.a = Segments.Stage.atLeast(st.a, (long) mcb * k);
                    if (ta) {
                        Segments.load(a, aOff + ic, lda, k, mcb, st.a);     // (k, mcb) stored rows
                    } else {
                        Segments.load(a, aOff + ic * lda, lda, mcb, k, st.a);
                    }
                }
                for (int jc = j0; jc < j1; jc += nc) {
                    int ncb = Math.min(nc, j1 - jc);
                    int ldbs = tb ? k : ncb;
                    if (readsAB) {
                        st.b = Segments.Stage.atLeast(st.b, (long) k * ncb);
                        if (tb) {
                            Segments.load(b, bOff + jc * ldb, ldb, ncb, k, st.b);   // (ncb, k) stored rows
                        } else {
                            Segments.load(b, bOff + jc, ldb, k, ncb, st.b);         // (k, ncb)
                        }
                    }
                    st.c = Segments.Stage.atLeast(st.c, (long) mcb * ncb);
                    long cBlock = cOff + ic * ldc + jc;
                    if (beta != 0f) {
                        Segments.load(c, cBlock, ldc, mcb, ncb, st.c);
                    }
                    // alpha == 0 or k == 0: nothing was staged; the array GEMM then reads neither A nor B.
                    Gemm.sgemm(Parallelism.serial(), ta ? Transpose.T : Transpose.N, tb ? Transpose.T : Transpose.N,
                            mcb, ncb, readsAB ? k : 0, alpha, st.a, 0, Math.max(1, ldas), st.b, 0, Math.max(1, ldbs),
                            beta, st.c, 0, ncb);
                    Segments.store(st.c, mcb, ncb, c, cBlock, ldc);
                }
            }
        }
    }
}
