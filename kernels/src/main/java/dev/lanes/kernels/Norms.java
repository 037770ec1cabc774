package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;
import dev.lanes.kernels.internal.NormsKernel;
import dev.lanes.kernels.internal.PartJob;
import java.lang.foreign.MemorySegment;

/**
 * Layer normalisation (Ba, Kiros and Hinton 2016) and RMS normalisation (Zhang and Sennrich 2019) over
 * the last dimension, forward and backward, as llm.c writes them:
 *
 * <pre>
 *   x, y, dy, dx: (rows, cols), row strides ldx, ldy, lddy, lddx     (rows = B*T, cols = C)
 *   gamma, beta:  (cols);  dgamma, dbeta: (cols)
 *   mean, rstd:   (rows)   saved by forward for backward
 *   layer norm:  y[i][j] = (x[i][j] - mean[i]) * rstd[i] * gamma[j] + beta[j],  rstd = 1 / sqrt(var + eps)
 *   RMS norm:    y[i][j] = x[i][j] * rstd[i] * gamma[j],                       rstd = 1 / sqrt(mean_j(x^2) + eps)
 * </pre>
 *
 * <p>Row statistics (mean, variance, mean square, and backward's two row means) are accumulated in
 * double, so wide rows or rows of large magnitude lose nothing to cancellation; the element-wise
 * work is float. y may be x itself (same offset and stride); dx may be dy or x itself.
 *
 * <p>Threads: rows are cut into fixed blocks of {@value #ROW_BLOCK}. The backward pass sums the gain
 * and bias gradients of each block into its own slot of a per-caller workspace and then adds the
 * blocks in block order, so {@code dgamma} and {@code dbeta} have the same bits for any team size
 * (and every row's dx and y never depended on it). The workspace is kept per calling thread and
 * reused: steady state allocates nothing. Validation happens before anything is written; see
 * {@link Gemm} for the rules and messages.
 */
public final class Norms {
    /** Rows per block: the unit of parallel work and of the gain/bias gradient partial sums. */
    public static final int ROW_BLOCK = 32;

    private static final int LN_FWD = 0, RMS_FWD = 1, LN_BWD = 2, RMS_BWD = 3;

    private Norms() {}

    // ---------------------------------------------------------------------------------------------
    // Layer norm

    /** Layer norm forward on the process default team. */
    public static void layerNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                        float[] gamma, int gOff, float[] beta, int bOff, float[] y, int yOff, int ldy,
                                        float[] mean, int meanOff, float[] rstd, int rstdOff) {
        layerNormForward(Parallelism.defaultParallelism(), rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff,
                y, yOff, ldy, mean, meanOff, rstd, rstdOff);
    }

    /** Layer norm forward on the given team; writes y, mean and rstd. */
    public static void layerNormForward(Parallelism par, int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                        float[] gamma, int gOff, float[] beta, int bOff, float[] y, int yOff, int ldy,
                                        float[] mean, int meanOff, float[] rstd, int rstdOff) {
        Checks.team(par);
        checkLayerNormForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                mean, meanOff, rstd, rstdOff);
        Job job = JOB.get();
        job.set(LN_FWD, rows, cols, eps, null, 0, 0, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                mean, meanOff, rstd, rstdOff, null, 0, null, 0);
        dispatch(par, job, rows);
    }

    /** Layer norm backward on the process default team; see the team overload. */
    public static void layerNormBackward(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff,
                                         int ldx, float[] gamma, int gOff, float[] mean, int meanOff,
                                         float[] rstd, int rstdOff, float[] dx, int dxOff, int lddx,
                                         float[] dgamma, int dgOff, float[] dbeta, int dbOff) {
        layerNormBackward(Parallelism.defaultParallelism(), rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff,
                mean, meanOff, rstd, rstdOff, dx, dxOff, lddx, dgamma, dgOff, dbeta, dbOff);
    }

    /**
     * Layer norm backward, ACCUMULATING into dx, dgamma and dbeta (any may be null to skip it):
     *
     * <pre>
     *   norm = (x - mean) * rstd;  dnorm = gamma * dy
     *   dx     += rstd * (dnorm - mean_j(dnorm) - norm * mean_j(dnorm * norm))
     *   dgamma += sum_i norm * dy;   dbeta += sum_i dy
     * </pre>
     */
    public static void layerNormBackward(Parallelism par, int rows, int cols, float[] dy, int dyOff, int lddy,
                                         float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                         float[] mean, int meanOff, float[] rstd, int rstdOff,
                                         float[] dx, int dxOff, int lddx,
                                         float[] dgamma, int dgOff, float[] dbeta, int dbOff) {
        Checks.team(par);
        checkLayerNormBackward(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, mean, meanOff, rstd, rstdOff,
                dx, dxOff, lddx, dgamma, dgOff, dbeta, dbOff);
        Job job = JOB.get();
        job.set(LN_BWD, rows, cols, 0f, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, null, 0, dx, dxOff, lddx,
                mean, meanOff, rstd, rstdOff, dgamma, dgOff, dbeta, dbOff);
        backward(par, job, Backend.NORMS);
    }

    // ---------------------------------------------------------------------------------------------
    // RMS norm

    /** RMS norm forward on the process default team. */
    public static void rmsNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                      float[] gamma, int gOff, float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
        rmsNormForward(Parallelism.defaultParallelism(), rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy,
                rstd, rstdOff);
    }

    /** RMS norm forward on the given team; writes y and rstd. */
    public static void rmsNormForward(Parallelism par, int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                      float[] gamma, int gOff, float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
        Checks.team(par);
        checkRmsNormForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy, rstd, rstdOff);
        Job job = JOB.get();
        job.set(RMS_FWD, rows, cols, eps, null, 0, 0, x, xOff, ldx, gamma, gOff, null, 0, y, yOff, ldy,
                null, 0, rstd, rstdOff, null, 0, null, 0);
        dispatch(par, job, rows);
    }

    /** RMS norm backward on the process default team; see the team overload. */
    public static void rmsNormBackward(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                                       float[] gamma, int gOff, float[] rstd, int rstdOff,
                                       float[] dx, int dxOff, int lddx, float[] dgamma, int dgOff) {
        rmsNormBackward(Parallelism.defaultParallelism(), rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff,
                rstd, rstdOff, dx, dxOff, lddx, dgamma, dgOff);
    }

    /**
     * RMS norm backward, ACCUMULATING into dx and dgamma (either may be null):
     *
     * <pre>
     *   norm = x * rstd;  dnorm = gamma * dy
     *   dx     += rstd * (dnorm - norm * mean_j(dnorm * norm))
     *   dgamma += sum_i norm * dy
     * </pre>
     */
    public static void rmsNormBackward(Parallelism par, int rows, int cols, float[] dy, int dyOff, int lddy,
                                       float[] x, int xOff, int ldx, float[] gamma, int gOff, float[] rstd, int rstdOff,
                                       float[] dx, int dxOff, int lddx, float[] dgamma, int dgOff) {
        Checks.team(par);
        checkRmsNormBackward(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, rstd, rstdOff,
                dx, dxOff, lddx, dgamma, dgOff);
        Job job = JOB.get();
        job.set(RMS_BWD, rows, cols, 0f, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, null, 0, dx, dxOff, lddx,
                null, 0, rstd, rstdOff, dgamma, dgOff, null, 0);
        backward(par, job, Backend.NORMS);
    }

    // ---------------------------------------------------------------------------------------------
    // Off-heap operands

    /**
     * Layer norm forward on {@link MemorySegment} operands (floats in native byte order, offsets and
     * strides counting floats, in {@code long}), on the calling thread: the same rules and the same bits
     * as the array overload. y, mean and rstd must be writable; y may be x itself.
     */
    public static void layerNormForward(int rows, int cols, float eps, MemorySegment x, long xOff, long ldx,
                                        MemorySegment gamma, long gOff, MemorySegment beta, long bOff,
                                        MemorySegment y, long yOff, long ldy,
                                        MemorySegment mean, long meanOff, MemorySegment rstd, long rstdOff) {
        checkSegmentsForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy, rstd, rstdOff);
        Segments.vector("mean", mean, meanOff, rows);
        Segments.writable("mean", mean);
        Segments.vector("beta", beta, bOff, cols);
        Overlap.views().input("x", x, xOff, rows, cols, ldx).input("gamma", gamma, gOff, cols)
                .input("beta", beta, bOff, cols)
                .output("y", y, yOff, rows, cols, ldy).orSameAs("x")
                .output("mean", mean, meanOff, rows).output("rstd", rstd, rstdOff, rows).check();
        segmentsForward(true, rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                mean, meanOff, rstd, rstdOff);
    }

    /**
     * RMS norm forward on {@link MemorySegment} operands, on the calling thread: the same rules and the
     * same bits as the array overload. y and rstd must be writable; y may be x itself.
     */
    public static void rmsNormForward(int rows, int cols, float eps, MemorySegment x, long xOff, long ldx,
                                      MemorySegment gamma, long gOff, MemorySegment y, long yOff, long ldy,
                                      MemorySegment rstd, long rstdOff) {
        checkSegmentsForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy, rstd, rstdOff);
        Overlap.views().input("x", x, xOff, rows, cols, ldx).input("gamma", gamma, gOff, cols)
                .output("y", y, yOff, rows, cols, ldy).orSameAs("x")
                .output("rstd", rstd, rstdOff, rows).check();
        segmentsForward(false, rows, cols, eps, x, xOff, ldx, gamma, gOff, null, 0, y, yOff, ldy,
                null, 0, rstd, rstdOff);
    }

    private static void checkSegmentsForward(int rows, int cols, float eps, MemorySegment x, long xOff, long ldx,
                                             MemorySegment gamma, long gOff, MemorySegment y, long yOff, long ldy,
                                             MemorySegment rstd, long rstdOff) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        Segments.matrix("x", x, xOff, ldx, "ldx", rows, cols, "cols");
        Segments.vector("gamma", gamma, gOff, cols);
        Segments.vector("rstd", rstd, rstdOff, rows);
        Segments.writable("rstd", rstd);
        checkEps(eps);
        Segments.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Segments.writable("y", y);
    }

    /**
     * SIMD: the segment twins, in place. Scalar: rows staged a chunk at a time through the array
     * forward's own row loop ({@link Job#rows}, no validation per chunk: the segments were validated
     * once), x normalised in place in the heap chunk. beta and mean null for RMS norm.
     */
    private static void segmentsForward(boolean layer, int rows, int cols, float eps, MemorySegment x, long xOff,
                                        long ldx, MemorySegment gamma, long gOff, MemorySegment beta, long bOff,
                                        MemorySegment y, long yOff, long ldy, MemorySegment mean, long meanOff,
                                        MemorySegment rstd, long rstdOff) {
        if (rows == 0) {
            return;
        }
        if (Backend.NORMS.forwardInPlace(layer, rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                mean, meanOff, rstd, rstdOff)) { // in place on the segments: staging cost 0.71x (RESULTS.md, issue 17)
            return;
        }
        Segments.Stage st = Segments.STAGE.get();
        int chunk = Segments.chunkRows(rows, cols), ld = Math.max(1, cols);
        st.v = Segments.Stage.atLeast(st.v, (long) chunk * cols);
        st.a = Segments.Stage.atLeast(st.a, cols);
        st.b = Segments.Stage.atLeast(st.b, cols);
        st.c = Segments.Stage.atLeast(st.c, chunk);
        st.u = Segments.Stage.atLeast(st.u, chunk);
        Segments.load(gamma, gOff, cols, 1, cols, st.a);
        if (layer) {
            Segments.load(beta, bOff, cols, 1, cols, st.b);
        }
        Job job = JOB.get();
        job.set(layer ? LN_FWD : RMS_FWD, rows, cols, eps, null, 0, 0, st.v, 0, ld, st.a, 0, layer ? st.b : null, 0,
                st.v, 0, ld, layer ? st.c : null, 0, st.u, 0, null, 0, null, 0);
        try {
            for (int r0 = 0; r0 < rows; r0 += chunk) {
                int n = Math.min(chunk, rows - r0);
                Segments.load(x, xOff + r0 * ldx, ldx, n, cols, st.v);
                // Job.rows reads row r of the whole at offset + r * ld: point row r0 at the buffers' start.
                job.xOff = job.outOff = -r0 * ld;
                job.meanOff = job.rstdOff = -r0;
                job.rows(r0, r0 + n);
                if (layer) {
                    Segments.store(st.c, 1, n, mean, meanOff + r0, n);
                }
                Segments.store(st.v, n, cols, y, yOff + r0 * ldy, ldy);
                Segments.store(st.u, 1, n, rstd, rstdOff + r0, n);
            }
        } finally {
            job.clear();
        }
    }

    /**
     * Layer norm backward on {@link MemorySegment} operands, on the calling thread, ACCUMULATING into dx,
     * dgamma and dbeta (any may be null): the same rules and the same bits as the array overload. The
     * outputs must be writable; dx may be dy or x itself.
     */
    public static void layerNormBackward(int rows, int cols, MemorySegment dy, long dyOff, long lddy,
                                         MemorySegment x, long xOff, long ldx, MemorySegment gamma, long gOff,
                                         MemorySegment mean, long meanOff, MemorySegment rstd, long rstdOff,
                                         MemorySegment dx, long dxOff, long lddx,
                                         MemorySegment dgamma, long dgOff, MemorySegment dbeta, long dbOff) {
        checkSegmentsBackward(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, rstd, rstdOff, mean, meanOff,
                dx, dxOff, lddx, dgamma, dgOff);
        if (dbeta != null) {
            Segments.vector("dbeta", dbeta, dbOff, cols);
            Segments.writable("dbeta", dbeta);
        }
        Overlap.views().input("dy", dy, dyOff, rows, cols, lddy).input("x", x, xOff, rows, cols, ldx)
                .input("gamma", gamma, gOff, cols).input("mean", mean, meanOff, rows)
                .input("rstd", rstd, rstdOff, rows)
                .output("dx", dx, dxOff, rows, cols, lddx).orSameAs("dy").orSameAs("x")
                .output("dgamma", dgamma, dgOff, cols).output("dbeta", dbeta, dbOff, cols).check();
        segmentsBackward(LN_BWD, rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, mean, meanOff, rstd, rstdOff,
                dx, dxOff, lddx, dgamma, dgOff, dbeta, dbOff);
    }

    /**
     * RMS norm backward on {@link MemorySegment} operands, on the calling thread, ACCUMULATING into dx and
     * dgamma (either may be null): the same rules and the same bits as the array overload.
     */
    public static void rmsNormBackward(int rows, int cols, MemorySegment dy, long dyOff, long lddy,
                                       MemorySegment x, long xOff, long ldx, MemorySegment gamma, long gOff,
                                       MemorySegment rstd, long rstdOff, MemorySegment dx, long dxOff, long lddx,
                                       MemorySegment dgamma, long dgOff) {
        checkSegmentsBackward(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, rstd, rstdOff, null, 0,
                dx, dxOff, lddx, dgamma, dgOff);
        Overlap.views().input("dy", dy, dyOff, rows, cols, lddy).input("x", x, xOff, rows, cols, ldx)
                .input("gamma", gamma, gOff, cols).input("rstd", rstd, rstdOff, rows)
                .output("dx", dx, dxOff, rows, cols, lddx).orSameAs("dy").orSameAs("x")
                .output("dgamma", dgamma, dgOff, cols).check();
        segmentsBackward(RMS_BWD, rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, null, 0, rstd, rstdOff,
                dx, dxOff, lddx, dgamma, dgOff, null, 0);
    }

    /** The array checks' order: x, gamma, rstd, [mean], dy, dx, dgamma; mean null for RMS norm. */
    private static void checkSegmentsBackward(int rows, int cols, MemorySegment dy, long dyOff, long lddy,
                                              MemorySegment x, long xOff, long ldx, MemorySegment gamma, long gOff,
                                              MemorySegment rstd, long rstdOff, MemorySegment mean, long meanOff,
                                              MemorySegment dx, long dxOff, long lddx,
                                              MemorySegment dgamma, long dgOff) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        Segments.matrix("x", x, xOff, ldx, "ldx", rows, cols, "cols");
        Segments.vector("gamma", gamma, gOff, cols);
        Segments.vector("rstd", rstd, rstdOff, rows);
        if (mean != null) {
            Segments.vector("mean", mean, meanOff, rows);
        }
        Segments.matrix("dy", dy, dyOff, lddy, "lddy", rows, cols, "cols");
        if (dx != null) {
            Segments.matrix("dx", dx, dxOff, lddx, "lddx", rows, cols, "cols");
            Segments.writable("dx", dx);
        }
        if (dgamma != null) {
            Segments.vector("dgamma", dgamma, dgOff, cols);
            Segments.writable("dgamma", dgamma);
        }
    }

    /**
     * SIMD: the array backward's own blocks run in place by the segment twin, partials reduced as for
     * arrays. Scalar: the array backward's own blocks, staged: each ROW_BLOCK rows block is copied into
     * heap buffers and run by {@link Job#rows} (which writes its dx rows and its gain/bias partial sums
     * into the block's workspace slot, as for arrays), then the partials are reduced in block order by
     * the array reduce.
     * So every operation and its order are the array overload's, whatever the backend.
     */
    private static void segmentsBackward(int op, int rows, int cols, MemorySegment dy, long dyOff, long lddy,
                                         MemorySegment x, long xOff, long ldx, MemorySegment gamma, long gOff,
                                         MemorySegment mean, long meanOff, MemorySegment rstd, long rstdOff,
                                         MemorySegment dx, long dxOff, long lddx,
                                         MemorySegment dgamma, long dgOff, MemorySegment dbeta, long dbOff) {
        if (rows == 0 || cols == 0) {
            return;
        }
        Segments.Stage st = Segments.STAGE.get();
        int blocks = (rows + ROW_BLOCK - 1) / ROW_BLOCK;
        long blockFloats = (long) ROW_BLOCK * cols;
        st.b = Segments.Stage.atLeast(st.b, 2L * cols);                // dgamma, dbeta
        boolean partials = dgamma != null || dbeta != null;
        float[] ws = null;
        if (partials) {
            ws = WORKSPACE.get();
            if (ws.length < 2L * blocks * cols) {
                ws = new float[Math.toIntExact(2L * blocks * cols)];
                WORKSPACE.set(ws);
            }
        }
        if (Backend.NORMS.backwardBlocksInPlace(op == LN_BWD, rows, cols, ROW_BLOCK, dy, dyOff, lddy, x, xOff, ldx,
                gamma, gOff, mean, meanOff, rstd, rstdOff, dx, dxOff, lddx, ws)) { // in place: staging cost 0.58x
            reduceInto(dgamma, dgOff, dbeta, dbOff, blocks, cols, ws, st.b, Backend.NORMS);
            return;
        }
        st.v = Segments.Stage.atLeast(st.v, blockFloats);              // dy rows
        st.w = Segments.Stage.atLeast(st.w, blockFloats);              // x rows
        st.c = Segments.Stage.atLeast(st.c, dx != null ? blockFloats : 0); // dx rows
        st.a = Segments.Stage.atLeast(st.a, cols);                     // gamma
        st.u = Segments.Stage.atLeast(st.u, 2L * ROW_BLOCK);           // mean, rstd of the block
        Segments.load(gamma, gOff, cols, 1, cols, st.a);
        Job job = JOB.get();
        job.set(op, rows, cols, 0f, st.v, 0, cols, st.w, 0, cols, st.a, 0, null, 0, dx == null ? null : st.c, 0, cols,
                mean == null ? null : st.u, 0, st.u, 0, dgamma == null ? null : st.b, 0, dbeta == null ? null : st.b,
                cols);
        job.ws = ws;
        try {
            for (int r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
                int n = Math.min(ROW_BLOCK, rows - r0);
                Segments.load(dy, dyOff + r0 * lddy, lddy, n, cols, st.v);
                Segments.load(x, xOff + r0 * ldx, ldx, n, cols, st.w);
                if (dx != null) {
                    Segments.load(dx, dxOff + r0 * lddx, lddx, n, cols, st.c);
                }
                if (mean != null) {
                    Segments.load(mean, meanOff + r0, n, 1, n, st.u);
                }
                MemorySegment.copy(rstd, Segments.FLOAT, (rstdOff + r0) * Float.BYTES, st.u, ROW_BLOCK, n);
                // Job.rows reads row r of the whole at offset + r * ld: point row r0 at the buffers' start.
                job.dyOff = -r0 * cols;
                job.xOff = -r0 * cols;
                job.outOff = -r0 * cols;
                job.meanOff = -r0;
                job.rstdOff = ROW_BLOCK - r0;
                job.rows(r0, r0 + n);
                if (dx != null) {
                    Segments.store(st.c, n, cols, dx, dxOff + r0 * lddx, lddx);
                }
            }
            reduceInto(dgamma, dgOff, dbeta, dbOff, blocks, cols, ws, st.b, job.impl);
        } finally {
            job.clear();
        }
    }

    /** The blocks' partial sums in ws added, in block order, to dgamma and dbeta (staged through buf). */
    private static void reduceInto(MemorySegment dgamma, long dgOff, MemorySegment dbeta, long dbOff, int blocks,
                                   int cols, float[] ws, float[] buf, NormsKernel impl) {
        if (dgamma != null) {
            Segments.load(dgamma, dgOff, cols, 1, cols, buf);
            impl.reducePartials(blocks, cols, ws, 0, buf, 0);
            Segments.store(buf, 1, cols, dgamma, dgOff, cols);
        }
        if (dbeta != null) {
            Segments.load(dbeta, dbOff, cols, 1, cols, buf);
            impl.reducePartials(blocks, cols, ws, blocks * cols, buf, 0);
            Segments.store(buf, 1, cols, dbeta, dbOff, cols);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Validation

    static void checkLayerNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                      float[] gamma, int gOff, float[] beta, int bOff, float[] y, int yOff, int ldy,
                                      float[] mean, int meanOff, float[] rstd, int rstdOff) {
        checkCommon(rows, cols, x, xOff, ldx, gamma, gOff, rstd, rstdOff);
        Checks.vector("mean", mean, meanOff, rows);
        checkEps(eps);
        Checks.vector("beta", beta, bOff, cols);
        Checks.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Overlap.views().input("x", x, xOff, rows, cols, ldx).input("gamma", gamma, gOff, cols)
                .input("beta", beta, bOff, cols)
                .output("y", y, yOff, rows, cols, ldy).orSameAs("x")
                .output("mean", mean, meanOff, rows).output("rstd", rstd, rstdOff, rows).check();
    }

    static void checkLayerNormBackward(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff,
                                       int ldx, float[] gamma, int gOff, float[] mean, int meanOff,
                                       float[] rstd, int rstdOff, float[] dx, int dxOff, int lddx,
                                       float[] dgamma, int dgOff, float[] dbeta, int dbOff) {
        checkCommon(rows, cols, x, xOff, ldx, gamma, gOff, rstd, rstdOff);
        Checks.vector("mean", mean, meanOff, rows);
        checkBackwardOutputs(rows, cols, dy, dyOff, lddy, x, xOff, ldx, dx, dxOff, lddx, dgamma, dgOff);
        if (dbeta != null) {
            Checks.vector("dbeta", dbeta, dbOff, cols);
        }
        backwardOverlap(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, mean, meanOff, rstd, rstdOff,
                dx, dxOff, lddx, dgamma, dgOff, dbeta, dbOff);
    }

    static void checkRmsNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                    float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
        checkCommon(rows, cols, x, xOff, ldx, gamma, gOff, rstd, rstdOff);
        checkEps(eps);
        Checks.matrix("y", y, yOff, ldy, "ldy", rows, cols, "cols");
        Overlap.views().input("x", x, xOff, rows, cols, ldx).input("gamma", gamma, gOff, cols)
                .output("y", y, yOff, rows, cols, ldy).orSameAs("x")
                .output("rstd", rstd, rstdOff, rows).check();
    }

    static void checkRmsNormBackward(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                                     float[] gamma, int gOff, float[] rstd, int rstdOff,
                                     float[] dx, int dxOff, int lddx, float[] dgamma, int dgOff) {
        checkCommon(rows, cols, x, xOff, ldx, gamma, gOff, rstd, rstdOff);
        checkBackwardOutputs(rows, cols, dy, dyOff, lddy, x, xOff, ldx, dx, dxOff, lddx, dgamma, dgOff);
        backwardOverlap(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff, null, 0, rstd, rstdOff,
                dx, dxOff, lddx, dgamma, dgOff, null, 0);
    }

    /** dx may be dy or x itself (same view); nothing else may overlap an output. */
    private static void backwardOverlap(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff,
                                        int ldx, float[] gamma, int gOff, float[] mean, int meanOff,
                                        float[] rstd, int rstdOff, float[] dx, int dxOff, int lddx,
                                        float[] dgamma, int dgOff, float[] dbeta, int dbOff) {
        Overlap.views().input("dy", dy, dyOff, rows, cols, lddy).input("x", x, xOff, rows, cols, ldx)
                .input("gamma", gamma, gOff, cols).input("mean", mean, meanOff, rows)
                .input("rstd", rstd, rstdOff, rows)
                .output("dx", dx, dxOff, rows, cols, lddx).orSameAs("dy").orSameAs("x")
                .output("dgamma", dgamma, dgOff, cols).output("dbeta", dbeta, dbOff, cols).check();
    }

    private static void checkCommon(int rows, int cols, float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                    float[] rstd, int rstdOff) {
        Checks.nonNegative("rows", rows);
        Checks.nonNegative("cols", cols);
        Checks.matrix("x", x, xOff, ldx, "ldx", rows, cols, "cols");
        Checks.vector("gamma", gamma, gOff, cols);
        Checks.vector("rstd", rstd, rstdOff, rows);
    }

    private static void checkEps(float eps) {
        if (!(eps > 0f) || !Float.isFinite(eps)) {
            throw new IllegalArgumentException("eps=" + eps + " must be finite and > 0");
        }
    }

    private static void checkBackwardOutputs(int rows, int cols, float[] dy, int dyOff, int lddy,
                                             float[] x, int xOff, int ldx, float[] dx, int dxOff, int lddx,
                                             float[] dgamma, int dgOff) {
        Checks.matrix("dy", dy, dyOff, lddy, "lddy", rows, cols, "cols");
        if (dx != null) {
            Checks.matrix("dx", dx, dxOff, lddx, "lddx", rows, cols, "cols");
        }
        if (dgamma != null) {
            Checks.vector("dgamma", dgamma, dgOff, cols);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Driver shared by the SIMD bodies and the scalar twin (NormsScalar runs it on ScalarKernels.NORMS)

    private static void dispatch(Parallelism par, Job job, int rows) {
        int parts = (rows + ROW_BLOCK - 1) / ROW_BLOCK;
        if (parts <= 1 || par.threads() == 1) {
            try {
                job.rows(0, rows); // one call over all rows: the same bits, fewer calls
            } finally {
                job.clear();
            }
        } else {
            job.runAndClear(par, parts);
        }
    }

    /**
     * Backward over fixed row blocks: block b writes dx of its rows and its gain/bias partial sums into
     * workspace slot b; then the slots are added to dgamma/dbeta in block order.
     */
    static void backward(Parallelism par, Job job, NormsKernel impl) {
        int rows = job.rows, cols = job.cols;
        int blocks = (rows + ROW_BLOCK - 1) / ROW_BLOCK;
        try {
            if (rows == 0) {
                return;
            }
            job.impl = impl;
            boolean partials = (job.dgamma != null || job.dbeta != null) && cols > 0;
            if (partials) {
                int need = 2 * blocks * cols;
                float[] ws = WORKSPACE.get();
                if (ws.length < need) {
                    ws = new float[need];
                    WORKSPACE.set(ws);
                }
                job.ws = ws;
            }
            job.forEach(par, blocks); // inline on a serial team
            if (partials) {
                float[] ws = job.ws;
                if (job.dgamma != null) {
                    impl.reducePartials(blocks, cols, ws, 0, job.dgamma, job.dgOff);
                }
                if (job.dbeta != null) {
                    impl.reducePartials(blocks, cols, ws, blocks * cols, job.dbeta, job.dbOff);
                }
            }
        } finally {
            job.clear();
        }
    }

    /** Per calling thread: the gain/bias partial sums of the blocks, grown on demand and kept. */
    private static final ThreadLocal<float[]> WORKSPACE = ThreadLocal.withInitial(() -> new float[0]);

    /** A region, reused per calling thread so that dispatching allocates nothing. */
    static final ThreadLocal<Job> JOB = PartJob.perThread(Job::new);

    static final class Job extends PartJob {
        int op, rows, cols;
        float eps;
        NormsKernel impl = Backend.NORMS;
        float[] dy, x, gamma, beta, out, mean, rstd, dgamma, dbeta, ws;
        int dyOff, lddy, xOff, ldx, gOff, bOff, outOff, ldout, meanOff, rstdOff, dgOff, dbOff;

        void set(int op, int rows, int cols, float eps, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                 float[] gamma, int gOff, float[] beta, int bOff, float[] out, int outOff, int ldout,
                 float[] mean, int meanOff, float[] rstd, int rstdOff,
                 float[] dgamma, int dgOff, float[] dbeta, int dbOff) {
            this.op = op; this.rows = rows; this.cols = cols; this.eps = eps;
            this.dy = dy; this.dyOff = dyOff; this.lddy = lddy;
            this.x = x; this.xOff = xOff; this.ldx = ldx;
            this.gamma = gamma; this.gOff = gOff;
            this.beta = beta; this.bOff = bOff;
            this.out = out; this.outOff = outOff; this.ldout = ldout;
            this.mean = mean; this.meanOff = meanOff;
            this.rstd = rstd; this.rstdOff = rstdOff;
            this.dgamma = dgamma; this.dgOff = dgOff;
            this.dbeta = dbeta; this.dbOff = dbOff;
            this.impl = Backend.NORMS;
            this.ws = null;
        }

        @Override
        protected void clear() {
            dy = x = gamma = beta = out = mean = rstd = dgamma = dbeta = ws = null;
        }

        @Override
        public void run(int part) {
            int r0 = part * ROW_BLOCK;
            rows(r0, Math.min(rows, r0 + ROW_BLOCK));
        }

        /** Rows [r0, r1); for the backward ops exactly one block, whose index names its workspace slot. */
        void rows(int r0, int r1) {
            int n = r1 - r0;
            int xo = xOff + r0 * ldx, oo = outOff + r0 * ldout, dyo = dyOff + r0 * lddy;
            int block = r0 / ROW_BLOCK, blocks = (rows + ROW_BLOCK - 1) / ROW_BLOCK;
            int pg = block * cols, pb = (blocks + block) * cols;
            switch (op) {
                case LN_FWD -> impl.layerNormForward(n, cols, eps, x, xo, ldx, gamma, gOff, beta, bOff,
                        out, oo, ldout, mean, meanOff + r0, rstd, rstdOff + r0);
                case RMS_FWD -> impl.rmsNormForward(n, cols, eps, x, xo, ldx, gamma, gOff, out, oo, ldout,
                        rstd, rstdOff + r0);
                case LN_BWD -> impl.layerNormBackwardBlock(n, cols, dy, dyo, lddy, x, xo, ldx, gamma, gOff,
                        mean, meanOff + r0, rstd, rstdOff + r0, out, oo, ldout, ws, pg, pb);
                case RMS_BWD -> impl.rmsNormBackwardBlock(n, cols, dy, dyo, lddy, x, xo, ldx, gamma, gOff,
                        rstd, rstdOff + r0, out, oo, ldout, ws, pg);
                default -> throw new IllegalStateException("op=" + op);
            }
        }
    }
}
