package dev.lanes.kernels;

import java.lang.foreign.MemorySegment;

/**
 * GEMM on {@link MemorySegment} operands (see {@link Segments}): C is cut into blocks of (mc, nc); for
 * each block the rows of op(A) and the columns of op(B) it needs, over the whole k, are copied into
 * per-thread heap buffers, C's block too when beta reads it, and the array GEMM computes the block on
 * them; the block of C is then copied back. op(B)'s (k, nc) block is copied once per column block and
 * serves every row block under it. k is never split, so each element of C is the array GEMM's own
 * sequence of operations and the bits equal the array overload's.
 */
final class SegmentGemm {
    private SegmentGemm() {}

    private static final ThreadLocal<Job> JOB = ThreadLocal.withInitial(Job::new);

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
        try {
            if (parts == 1) {
                job.run(0);
            } else {
                par.forEach(parts, job);
            }
        } finally {
            job.clear();
        }
    }

    /**
     * Columns of op(B) staged at a time: a multiple of 64 holding about GEMM_B_FLOATS floats, and no more
     * than a part's share when the team splits the columns.
     */
    static int blockColumns(int n, int k, int parts) {
        long cols = Segments.GEMM_B_FLOATS / Math.max(1, k) / 64 * 64;
        long share = ((n + parts - 1L) / parts + 63) / 64 * 64;
        return (int) Math.min(n, Math.max(64, Math.min(cols, share)));
    }

    /**
     * Rows of op(A) staged at a time: as many as GEMM_A_FLOATS floats hold (a multiple of 6, the
     * micro-tile's rows), and no more than a part's share when the team splits the rows. Large blocks
     * matter: a block of more than 256 rows lets the array GEMM pack its B panels once and reuse them
     * down the block, where a small block would stream B from memory again for every block.
     */
    static int blockRows(int m, int k, int parts) {
        long rows = Segments.GEMM_A_FLOATS / Math.max(1, k) / 6 * 6;
        long share = ((m + parts - 1L) / parts + 5) / 6 * 6;
        return (int) Math.min(m, Math.max(6, Math.min(rows, share)));
    }

    private static final class Job implements Parallelism.PartTask {
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

        void clear() {
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
            Segments.Stage st = Segments.STAGE.get();
            boolean readsAB = alpha != 0f && k > 0;
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
