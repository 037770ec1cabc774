package dev.lanes.kernels;

import dev.lanes.kernels.internal.ElementwiseKernel;
import dev.lanes.kernels.internal.GemmKernel;
import dev.lanes.kernels.internal.NormsKernel;
import dev.lanes.kernels.internal.OptimizerKernel;
import dev.lanes.kernels.internal.ResidualAddKernel;
import dev.lanes.kernels.internal.SoftmaxKernel;
import java.lang.foreign.MemorySegment;

/**
 * The scalar implementation of each kernel family: adapters onto the unchecked bodies of the scalar
 * twins ({@link GemmScalar}, {@link SoftmaxScalar}, ...). {@link Backend} hands them to the facades when
 * the Vector API is not in use; {@link NormsScalar} also runs the norms' driver on its own one.
 */
final class ScalarKernels {
    private ScalarKernels() {}

    static final GemmKernel GEMM = new GemmKernel() {
        @Override
        public void sgemm(Parallelism par, boolean transA, boolean transB, int m, int n, int k, float alpha,
                          float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta,
                          float[] bias, int biasOff, float[] res, int rOff, int ldr, float[] c, int cOff, int ldc) {
            Transpose ta = transA ? Transpose.T : Transpose.N, tb = transB ? Transpose.T : Transpose.N;
            if (bias == null && res == null) {
                GemmScalar.sgemmUnchecked(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            } else {
                GemmScalar.sgemmFusedUnchecked(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                        bias, biasOff, res, rOff, ldr, c, cOff, ldc);
            }
        }

        @Override
        public void sgemmBatched(Parallelism par, int batch, boolean transA, boolean transB, int m, int n, int k,
                                 float alpha, float[] a, int aOff, int lda, int strideA,
                                 float[] b, int bOff, int ldb, int strideB, float beta,
                                 float[] c, int cOff, int ldc, int strideC) {
            GemmScalar.sgemmStridedBatchedUnchecked(batch, transA ? Transpose.T : Transpose.N,
                    transB ? Transpose.T : Transpose.N, m, n, k, alpha, a, aOff, lda, strideA, b, bOff, ldb, strideB,
                    beta, c, cOff, ldc, strideC);
        }
        @Override
        public boolean blockInPlace(boolean transA, boolean transB, int i0, int i1, int j0, int j1, int k,
                                    float alpha, MemorySegment a, long aOff, long lda, MemorySegment b, long bOff,
                                    long ldb, float beta, MemorySegment c, long cOff, long ldc) {
            return false;
        }
    };

    static final SoftmaxKernel SOFTMAX = new SoftmaxKernel() {
        @Override
        public void forward(int rows, int cols, float scale, boolean causal, int causalOffset,
                            float[] mask, int maskOff, int ldmask, float[] x, int xOff, int ldx,
                            float[] y, int yOff, int ldy) {
            SoftmaxScalar.forwardUnchecked(rows, cols, scale, causal, causalOffset, mask, maskOff, ldmask,
                    x, xOff, ldx, y, yOff, ldy);
        }

        @Override
        public void backward(int rows, int cols, float scale, float[] dy, int dyOff, int lddy,
                             float[] y, int yOff, int ldy, float[] dx, int dxOff, int lddx) {
            SoftmaxScalar.backwardUnchecked(rows, cols, scale, dy, dyOff, lddy, y, yOff, ldy, dx, dxOff, lddx);
        }

        @Override
        public boolean forwardInPlace(int rows, int cols, float scale, boolean causal, int causalOffset,
                                      MemorySegment x, long xOff, long ldx, MemorySegment y, long yOff, long ldy) {
            return false;
        }
    };

    static final ResidualAddKernel RESIDUAL_ADD = new ResidualAddKernel() {
        @Override
        public void forward(int rows, int cols, float alpha, float[] x, int xOff, int ldx,
                            float[] f, int fOff, int ldf, float[] bias, int biasOff, float[] y, int yOff, int ldy) {
            ResidualAddScalar.forwardUnchecked(rows, cols, alpha, x, xOff, ldx, f, fOff, ldf, bias, biasOff,
                    y, yOff, ldy);
        }

        @Override
        public void backward(int rows, int cols, float alpha, float[] dy, int dyOff, int lddy,
                             float[] dx, int dxOff, int lddx, float[] df, int dfOff, int lddf,
                             float[] dbias, int dbiasOff) {
            ResidualAddScalar.backwardUnchecked(rows, cols, alpha, dy, dyOff, lddy, dx, dxOff, lddx, df, dfOff, lddf,
                    dbias, dbiasOff);
        }

        @Override
        public boolean forwardInPlace(int rows, int cols, float alpha, MemorySegment x, long xOff, long ldx,
                                      MemorySegment f, long fOff, long ldf, MemorySegment bias, long biasOff,
                                      MemorySegment y, long yOff, long ldy) {
            return false;
        }
    };

    static final NormsKernel NORMS = new NormsKernel() {
        @Override
        public void layerNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                     float[] gamma, int gOff, float[] beta, int bOff, float[] y, int yOff, int ldy,
                                     float[] mean, int meanOff, float[] rstd, int rstdOff) {
            NormsScalar.layerNormForwardUnchecked(rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff,
                    y, yOff, ldy, mean, meanOff, rstd, rstdOff);
        }

        @Override
        public void rmsNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                   float[] gamma, int gOff, float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
            NormsScalar.rmsNormForwardUnchecked(rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy,
                    rstd, rstdOff);
        }

        @Override
        public void layerNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy,
                                           float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                           float[] mean, int meanOff, float[] rstd, int rstdOff,
                                           float[] dx, int dxOff, int lddx, float[] ws, int pg, int pb) {
            NormsScalar.layerNormBackwardBlock(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff,
                    mean, meanOff, rstd, rstdOff, dx, dxOff, lddx, ws, pg, pb);
        }

        @Override
        public void rmsNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy,
                                         float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                         float[] rstd, int rstdOff, float[] dx, int dxOff, int lddx,
                                         float[] ws, int pg) {
            NormsScalar.rmsNormBackwardBlock(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff,
                    rstd, rstdOff, dx, dxOff, lddx, ws, pg);
        }

        @Override
        public void reducePartials(int blocks, int cols, float[] ws, int off, float[] out, int outOff) {
            NormsScalar.reducePartials(blocks, cols, ws, off, out, outOff);
        }

        @Override
        public boolean forwardInPlace(boolean layer, int rows, int cols, float eps, MemorySegment x, long xOff, long ldx,
                                      MemorySegment gamma, long gOff, MemorySegment beta, long bOff,
                                      MemorySegment y, long yOff, long ldy,
                                      MemorySegment mean, long meanOff, MemorySegment rstd, long rstdOff) {
            return false;
        }

        @Override
        public boolean backwardBlocksInPlace(boolean layer, int rows, int cols, int blockRows,
                                             MemorySegment dy, long dyOff, long lddy, MemorySegment x, long xOff,
                                             long ldx, MemorySegment gamma, long gOff, MemorySegment mean,
                                             long meanOff, MemorySegment rstd, long rstdOff,
                                             MemorySegment dx, long dxOff, long lddx, float[] ws) {
            return false;
        }
    };

    static final ElementwiseKernel ELEMENTWISE = new ElementwiseKernel() {
        @Override
        public void geluForward(int n, float[] x, int xOff, float[] y, int yOff) {
            ActivationsScalar.geluForwardUnchecked(n, x, xOff, y, yOff);
        }

        @Override
        public void geluBackward(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
            ActivationsScalar.geluBackwardUnchecked(n, dy, dyOff, x, xOff, dx, dxOff);
        }

        @Override
        public void geluBackwardInto(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
            ActivationsScalar.geluBackwardIntoUnchecked(n, dy, dyOff, x, xOff, dx, dxOff);
        }

        @Override
        public void exp(int n, float[] x, int xOff, float[] y, int yOff) {
            for (int i = 0; i < n; i++) {
                y[yOff + i] = FloatExp.exp(x[xOff + i]);
            }
        }
    };

    static final OptimizerKernel OPTIMIZER = new OptimizerKernel() {
        @Override
        public void adamW(int n, float decay, float beta1, float beta2, float stepSize, float sqrtC2, float eps,
                          float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff,
                          float[] v, int vOff) {
            OptimizersScalar.adamWUnchecked(n, decay, beta1, beta2, stepSize, sqrtC2, eps, grads, gOff, params, pOff,
                    m, mOff, v, vOff);
        }
    };
}
