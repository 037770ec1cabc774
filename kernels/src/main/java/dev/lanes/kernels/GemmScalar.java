package dev.lanes.kernels;

/**
 * Scalar twin of {@link Gemm}: the same contract, written as plainly as possible and accumulating each
 * dot product in {@code double}. It is the oracle of the differential tests and the fallback when the
 * Vector API is unavailable.
 */
public final class GemmScalar {
    private GemmScalar() {}

    /** Same contract and validation as {@link Gemm#sgemm}. */
    public static void sgemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        Gemm.check(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        sgemmUnchecked(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    /** Same contract and validation as {@link Gemm#sgemmStridedBatched}. */
    public static void sgemmStridedBatched(int batch, Transpose transA, Transpose transB, int m, int n, int k,
                                           float alpha, float[] a, int aOff, int lda, int strideA,
                                           float[] b, int bOff, int ldb, int strideB,
                                           float beta, float[] c, int cOff, int ldc, int strideC) {
        Gemm.checkBatched(batch, transA, transB, m, n, k, a, aOff, lda, strideA, b, bOff, ldb, strideB,
                c, cOff, ldc, strideC);
        sgemmStridedBatchedUnchecked(batch, transA, transB, m, n, k, alpha, a, aOff, lda, strideA, b, bOff, ldb, strideB,
                beta, c, cOff, ldc, strideC);
    }

    static void sgemmStridedBatchedUnchecked(int batch, Transpose transA, Transpose transB, int m, int n, int k,
                                             float alpha, float[] a, int aOff, int lda, int strideA,
                                             float[] b, int bOff, int ldb, int strideB,
                                             float beta, float[] c, int cOff, int ldc, int strideC) {
        for (int i = 0; i < batch; i++) {
            sgemmUnchecked(transA, transB, m, n, k, alpha, a, aOff + i * strideA, lda, b, bOff + i * strideB, ldb,
                    beta, c, cOff + i * strideC, ldc);
        }
    }

    /** Same contract and validation as {@link Gemm#sgemmFused(Parallelism, Transpose, Transpose, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, float[], int, int, float[], int, int)}. */
    public static void sgemmFused(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                                  float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta,
                                  float[] bias, int biasOff, float[] res, int rOff, int ldr,
                                  float[] c, int cOff, int ldc) {
        Gemm.checkFused(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, bias, biasOff, res, rOff, ldr, c, cOff, ldc);
        sgemmFusedUnchecked(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                bias, biasOff, res, rOff, ldr, c, cOff, ldc);
    }

    static void sgemmFusedUnchecked(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                                    float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta,
                                    float[] bias, int biasOff, float[] res, int rOff, int ldr,
                                    float[] c, int cOff, int ldc) {
        sgemmUnchecked(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                int ci = cOff + i * ldc + j;
                float v = c[ci];
                if (bias != null) {
                    v += bias[biasOff + j];
                }
                if (res != null) {
                    v += res[rOff + i * ldr + j];
                }
                c[ci] = v;
            }
        }
    }

    static void sgemmUnchecked(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                               float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                               float beta, float[] c, int cOff, int ldc) {
        boolean ta = transA == Transpose.T;
        boolean tb = transB == Transpose.T;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                int ci = cOff + i * ldc + j;
                // BLAS: beta == 0 means C is an output only (NaN already there must not survive);
                // alpha == 0 or k == 0 means A and B are not read.
                double acc = beta == 0f ? 0.0 : (double) beta * c[ci];
                if (alpha != 0f && k > 0) {
                    double dot = 0.0;
                    for (int p = 0; p < k; p++) {
                        float av = ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                        float bv = tb ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                        dot += (double) av * bv;
                    }
                    acc += alpha * dot;
                }
                c[ci] = (float) acc;
            }
        }
    }
}
