package dev.lanes.kernels.internal;

import dev.lanes.kernels.Parallelism;

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
}
