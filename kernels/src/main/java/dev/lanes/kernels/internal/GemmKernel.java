package dev.lanes.kernels.internal;

import dev.lanes.kernels.Parallelism;
import java.lang.foreign.MemorySegment;

/**
 * The GEMM family behind {@code dev.lanes.kernels.Gemm}: arguments already validated by the facade, so
 * an implementation only computes. Shapes and edge rules are the facade's; transA/transB are
 * {@code true} for a transposed operand.
 */
public interface GemmKernel {
    /** {@code C = alpha * op(A) * op(B) + beta * C + bias[j] + res[i][j]}; bias and res may be null. */
    void sgemm(Parallelism par, boolean transA, boolean transB, int m, int n, int k, float alpha,
               float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta,
               float[] bias, int biasOff, float[] res, int rOff, int ldr, float[] c, int cOff, int ldc);

    /** {@code batch} independent products, operand i at {@code xOff + i * strideX}. */
    void sgemmBatched(Parallelism par, int batch, boolean transA, boolean transB, int m, int n, int k, float alpha,
                      float[] a, int aOff, int lda, int strideA, float[] b, int bOff, int ldb, int strideB,
                      float beta, float[] c, int cOff, int ldc, int strideC);

    /**
     * The block of C rows [i0, i1) x columns [j0, j1) of {@code C = alpha * op(A) * op(B) + beta * C} on
     * {@link MemorySegment} operands (offsets and strides in floats; alpha != 0, k > 0), on the calling
     * thread, the same bits as the array form. Returns false, having done nothing, when this implementation
     * has no segment form: the caller then stages the operands through the array form.
     */
    boolean blockInPlace(boolean transA, boolean transB, int i0, int i1, int j0, int j1, int k, float alpha,
                         MemorySegment a, long aOff, long lda, MemorySegment b, long bOff, long ldb, float beta,
                         MemorySegment c, long cOff, long ldc);
}
