package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;
import java.lang.foreign.MemorySegment;

/**
 * Single-precision general matrix multiply with BLAS semantics on row-major {@code float[]} operands:
 *
 * <pre>
 *   C = alpha * op(A) * op(B) + beta * C
 *   op(A): (m, k)   stored (m, k) with row stride lda if transA == N, else (k, m)
 *   op(B): (k, n)   stored (k, n) with row stride ldb if transB == N, else (n, k)
 *   C:     (m, n)   row stride ldc
 * </pre>
 *
 * <p>Edges follow BLAS: {@code beta == 0} means C is write-only (NaN or garbage already in C does not
 * survive); {@code alpha == 0} or {@code k == 0} means A and B are not read and C becomes
 * {@code beta * C}. C must not share storage with A or B (the rule of {@link Overlap}: strided
 * views are compared by the elements they touch, so C may sit in the padding columns of A).
 *
 * <p>Every call validates all arguments before writing anything: dimensions {@code >= 0}, each leading
 * dimension at least its stored row width (and {@code >= 1}), offsets {@code >= 0} and array extents,
 * computed in {@code long}. A violation throws {@link IllegalArgumentException} (or
 * {@link NullPointerException} for a null array) naming the argument and the numbers; C is then untouched.
 *
 * <p>With the Vector API available the product runs on packed panels through a register-blocked
 * micro-kernel; otherwise on {@link GemmScalar}. See {@link Backend}.
 *
 * <p>Off-heap operands: every operand may instead be a {@link MemorySegment} of floats, with
 * {@code long} offsets and leading dimensions (so a matrix may extend past element 2^31), for example
 * weights mapped read-only from a file. The same rules apply and the result has the same bits as the
 * array overload; C must be writable. See the segment overload.
 */
public final class Gemm {
    private Gemm() {}

    /**
     * {@code C = alpha * op(A) * op(B) + beta * C} on the process default team
     * ({@link Parallelism#defaultParallelism()}); see the class comment for shapes and edge cases.
     */
    public static void sgemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        sgemm(Parallelism.defaultParallelism(), transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb,
                beta, c, cOff, ldc);
    }

    /**
     * {@code C = alpha * op(A) * op(B) + beta * C} on the given team. The result is the same bit for bit
     * whatever the team's size: the product is cut into independent blocks of C, never split along k.
     */
    public static void sgemm(Parallelism par, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        Checks.team(par);
        check(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        Backend.GEMM.sgemm(par, transA == Transpose.T, transB == Transpose.T, m, n, k, alpha,
                a, aOff, lda, b, bOff, ldb, beta, null, 0, null, 0, 0, c, cOff, ldc);
    }

    /**
     * GEMM with a fused epilogue, on the given team:
     *
     * <pre>
     *   C[i][j] = alpha * (op(A) * op(B))[i][j] + beta * C[i][j] + bias[j] + res[i][j]
     *   bias: (n), optional (null = none, biasOff ignored)
     *   res:  (m, n), row stride ldr, optional (null = none); must not share storage with C
     * </pre>
     *
     * The additions happen as each tile of C is stored, so {@code x + W * h} (a residual block's output
     * projection) costs no extra pass over memory. Rounding: the sum above is formed left to right in
     * float. Same edge rules as {@link #sgemm}: {@code beta == 0} does not read C.
     */
    public static void sgemmFused(Parallelism par, Transpose transA, Transpose transB, int m, int n, int k,
                                  float alpha, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                  float beta, float[] bias, int biasOff, float[] res, int rOff, int ldr,
                                  float[] c, int cOff, int ldc) {
        Checks.team(par);
        checkFused(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, bias, biasOff, res, rOff, ldr, c, cOff, ldc);
        Backend.GEMM.sgemm(par, transA == Transpose.T, transB == Transpose.T, m, n, k, alpha,
                a, aOff, lda, b, bOff, ldb, beta, bias, biasOff, res, rOff, ldr, c, cOff, ldc);
    }

    /** {@link #sgemmFused(Parallelism, Transpose, Transpose, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, float[], int, int, float[], int, int)} on the process default team. */
    public static void sgemmFused(Transpose transA, Transpose transB, int m, int n, int k,
                                  float alpha, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                  float beta, float[] bias, int biasOff, float[] res, int rOff, int ldr,
                                  float[] c, int cOff, int ldc) {
        sgemmFused(Parallelism.defaultParallelism(), transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb,
                beta, bias, biasOff, res, rOff, ldr, c, cOff, ldc);
    }

    static void checkFused(Transpose transA, Transpose transB, int m, int n, int k,
                           float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                           float[] bias, int biasOff, float[] res, int rOff, int ldr,
                           float[] c, int cOff, int ldc) {
        check(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        if (bias != null) {
            Checks.vector("bias", bias, biasOff, n);
        }
        if (res != null) {
            Checks.matrix("res", res, rOff, ldr, "ldr", m, n, "n");
        }
        Overlap.views().input("bias", bias, biasOff, n).input("res", res, rOff, m, n, ldr)
                .output("c", c, cOff, m, n, ldc).check();
    }

    /**
     * {@code batch} independent products {@code C_i = alpha * op(A_i) * op(B_i) + beta * C_i}, where
     * {@code X_i} starts at {@code xOff + i * strideX}, on the process default team. A stride of 0 for
     * A or B shares one operand across the batch; the C matrices must not overlap each other
     * ({@code strideC >= (m-1)*ldc + n} when {@code batch > 1}).
     */
    public static void sgemmStridedBatched(int batch, Transpose transA, Transpose transB, int m, int n, int k,
                                           float alpha, float[] a, int aOff, int lda, int strideA,
                                           float[] b, int bOff, int ldb, int strideB,
                                           float beta, float[] c, int cOff, int ldc, int strideC) {
        sgemmStridedBatched(Parallelism.defaultParallelism(), batch, transA, transB, m, n, k, alpha,
                a, aOff, lda, strideA, b, bOff, ldb, strideB, beta, c, cOff, ldc, strideC);
    }

    /** The strided batch on the given team; same bits for any team size. */
    public static void sgemmStridedBatched(Parallelism par, int batch, Transpose transA, Transpose transB,
                                           int m, int n, int k, float alpha,
                                           float[] a, int aOff, int lda, int strideA,
                                           float[] b, int bOff, int ldb, int strideB,
                                           float beta, float[] c, int cOff, int ldc, int strideC) {
        Checks.team(par);
        checkBatched(batch, transA, transB, m, n, k, a, aOff, lda, strideA, b, bOff, ldb, strideB,
                c, cOff, ldc, strideC);
        Backend.GEMM.sgemmBatched(par, batch, transA == Transpose.T, transB == Transpose.T, m, n, k, alpha,
                a, aOff, lda, strideA, b, bOff, ldb, strideB, beta, c, cOff, ldc, strideC);
    }

    /**
     * {@code C = alpha * op(A) * op(B) + beta * C} on {@link MemorySegment} operands, on the process default
     * team; see {@link #sgemm(Parallelism, Transpose, Transpose, int, int, int, float, MemorySegment, long, long, MemorySegment, long, long, float, MemorySegment, long, long)}.
     */
    public static void sgemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                             MemorySegment a, long aOff, long lda, MemorySegment b, long bOff, long ldb,
                             float beta, MemorySegment c, long cOff, long ldc) {
        sgemm(Parallelism.defaultParallelism(), transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb,
                beta, c, cOff, ldc);
    }

    /**
     * {@code C = alpha * op(A) * op(B) + beta * C} on {@link MemorySegment} operands, on the given team:
     *
     * <pre>
     *   a, b, c: floats in native byte order, element i at byte 4*i, any alignment
     *   offsets and leading dimensions count floats, in long: a view may reach past element 2^31
     * </pre>
     *
     * The same validation as the array overload, computed in {@code long}, plus: C must not be a
     * read-only segment (A and B may be, e.g. mapped {@code READ_ONLY}) and must not overlap A or B.
     * The same bits as the array overload for the same values, whatever the team. Segments of a confined
     * arena are only touched by the calling thread, which then does all the work.
     */
    public static void sgemm(Parallelism par, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                             MemorySegment a, long aOff, long lda, MemorySegment b, long bOff, long ldb,
                             float beta, MemorySegment c, long cOff, long ldc) {
        Checks.notNull(par, "par");
        checkSegments(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        SegmentGemm.sgemm(par, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    static void checkSegments(Transpose transA, Transpose transB, int m, int n, int k,
                              MemorySegment a, long aOff, long lda, MemorySegment b, long bOff, long ldb,
                              MemorySegment c, long cOff, long ldc) {
        Checks.notNull(transA, "transA");
        Checks.notNull(transB, "transB");
        Checks.nonNegative("m", m);
        Checks.nonNegative("n", n);
        Checks.nonNegative("k", k);
        boolean ta = transA == Transpose.T;
        boolean tb = transB == Transpose.T;
        int aRows = ta ? k : m, aCols = ta ? m : k;
        int bRows = tb ? n : k, bCols = tb ? k : n;
        Segments.matrix("a", a, aOff, lda, "lda", aRows, aCols, ta ? "m" : "k");
        Segments.matrix("b", b, bOff, ldb, "ldb", bRows, bCols, tb ? "k" : "n");
        Segments.matrix("c", c, cOff, ldc, "ldc", m, n, "n");
        Segments.writable("c", c);
        boolean readsAB = m > 0 && n > 0 && k > 0; // otherwise A and B are never read: they may be anything
        Overlap.views().input("a", readsAB ? a : null, aOff, aRows, aCols, lda)
                .input("b", readsAB ? b : null, bOff, bRows, bCols, ldb)
                .output("c", c, cOff, m, n, ldc).check();
    }

    static void check(Transpose transA, Transpose transB, int m, int n, int k,
                      float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                      float[] c, int cOff, int ldc) {
        checkBatched(1, transA, transB, m, n, k, a, aOff, lda, 0, b, bOff, ldb, 0, c, cOff, ldc, 0);
    }

    static void checkBatched(int batch, Transpose transA, Transpose transB, int m, int n, int k,
                             float[] a, int aOff, int lda, int strideA,
                             float[] b, int bOff, int ldb, int strideB,
                             float[] c, int cOff, int ldc, int strideC) {
        Checks.notNull(transA, "transA");
        Checks.notNull(transB, "transB");
        Checks.nonNegative("batch", batch);
        Checks.nonNegative("m", m);
        Checks.nonNegative("n", n);
        Checks.nonNegative("k", k);
        Checks.nonNegative("strideA", strideA);
        Checks.nonNegative("strideB", strideB);
        Checks.nonNegative("strideC", strideC);
        boolean ta = transA == Transpose.T;
        boolean tb = transB == Transpose.T;
        int aRows = ta ? k : m, aCols = ta ? m : k;
        int bRows = tb ? n : k, bCols = tb ? k : n;
        // The first matrix of each operand carries the ld rules; the last one the array extent.
        Checks.matrix("a", a, aOff, lda, "lda", aRows, aCols, ta ? "m" : "k");
        Checks.matrix("b", b, bOff, ldb, "ldb", bRows, bCols, tb ? "k" : "n");
        Checks.matrix("c", c, cOff, ldc, "ldc", m, n, "n");
        if (batch == 0) {
            return;
        }
        long lastA = aOff + (long) (batch - 1) * strideA;
        long lastB = bOff + (long) (batch - 1) * strideB;
        long lastC = cOff + (long) (batch - 1) * strideC;
        lastFits("a", a, lastA, aRows, aCols, lda, "strideA", strideA, batch);
        lastFits("b", b, lastB, bRows, bCols, ldb, "strideB", strideB, batch);
        lastFits("c", c, lastC, m, n, ldc, "strideC", strideC, batch);
        if (batch > 1 && m > 0 && n > 0 && strideC < (long) (m - 1) * ldc + n) {
            throw new IllegalArgumentException("strideC=" + strideC + " < (m-1)*ldc + n = "
                    + ((long) (m - 1) * ldc + n) + ": the C matrices of the batch would overlap");
        }
        boolean readsAB = m > 0 && n > 0 && k > 0; // otherwise A and B are never read: they may be anything
        Overlap.views()
                .input("a", readsAB ? a : null, aOff, batch, strideA, aRows, lda, 1, 0, aCols)
                .input("b", readsAB ? b : null, bOff, batch, strideB, bRows, ldb, 1, 0, bCols)
                .output("c", c, cOff, batch, strideC, m, ldc, 1, 0, n).check();
    }

    private static void lastFits(String name, float[] x, long lastOff, int rows, int cols, int ld,
                                 String strideName, int stride, int batch) {
        if (rows == 0 || cols == 0 || batch <= 1) {
            return;
        }
        long end = lastOff + (long) (rows - 1) * ld + cols;
        if (end > x.length) {
            throw new IllegalArgumentException(name + " too short for the batch: " + name + "Off + (batch-1)*"
                    + strideName + " = " + lastOff + " (batch=" + batch + ", " + strideName + "=" + stride
                    + "), whose last element ends at " + end + " > " + name + ".length=" + x.length);
        }
    }
}
