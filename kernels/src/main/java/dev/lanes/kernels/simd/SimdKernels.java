package dev.lanes.kernels.simd;

import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.internal.AttentionTileKernel;
import dev.lanes.kernels.internal.ElementwiseKernel;
import dev.lanes.kernels.internal.GemmKernel;
import dev.lanes.kernels.internal.NormsKernel;
import dev.lanes.kernels.internal.OptimizerKernel;
import dev.lanes.kernels.internal.ResidualAddKernel;
import dev.lanes.kernels.internal.SoftmaxKernel;
import java.lang.foreign.MemorySegment;

/**
 * The Vector API implementation of each kernel family: thin adapters onto the static bodies of this
 * package, handed out once by {@code dev.lanes.kernels.Backend} when it chooses SIMD. Only this class
 * names those bodies outside the package, and nothing loads it (or any Vector API class) unless SIMD
 * was chosen. The adapters are stateless singletons held in static finals by their callers, so C2
 * sees a constant receiver and inlines the call into the facade. The method headers repeat
 * {@code ScalarKernels}' (both implement the same interfaces: a tool listing repeated lines pairs them);
 * the bodies are one call each, to different code.
 */
public final class SimdKernels {
    private SimdKernels() {}

    public static GemmKernel gemm() {
        return new Gemm();
    }

    public static SoftmaxKernel softmax() {
        return new Softmax();
    }

    public static ResidualAddKernel residualAdd() {
        return new ResidualAdd();
    }

    public static NormsKernel norms() {
        return new Norms();
    }

    public static ElementwiseKernel elementwise() {
        return new Elementwise();
    }

    public static OptimizerKernel optimizer() {
        return new Optimizer();
    }

    public static AttentionTileKernel attentionTiles() {
        return new Tiles();
    }

    private static final class Gemm implements GemmKernel {
        @Override
        public void sgemm(Parallelism par, boolean transA, boolean transB, int m, int n, int k, float alpha,
                          float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta,
                          float[] bias, int biasOff, float[] res, int rOff, int ldr, float[] c, int cOff, int ldc) {
            SimdGemm.sgemm(par, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                    bias, biasOff, res, rOff, ldr, c, cOff, ldc);
        }

        @Override
        public void sgemmBatched(Parallelism par, int batch, boolean transA, boolean transB, int m, int n, int k,
                                 float alpha, float[] a, int aOff, int lda, int strideA,
                                 float[] b, int bOff, int ldb, int strideB, float beta,
                                 float[] c, int cOff, int ldc, int strideC) {
            SimdGemm.sgemmBatched(par, batch, transA, transB, m, n, k, alpha, a, aOff, lda, strideA,
                    b, bOff, ldb, strideB, beta, c, cOff, ldc, strideC);
        }
        @Override
        public boolean blockInPlace(boolean transA, boolean transB, int i0, int i1, int j0, int j1, int k,
                                    float alpha, MemorySegment a, long aOff, long lda, MemorySegment b, long bOff,
                                    long ldb, float beta, MemorySegment c, long cOff, long ldc) {
            SimdGemm.block(transA, transB, i0, i1, j0, j1, k, alpha, a, aOff, lda, b, bOff, ldb, beta,
                    c, cOff, ldc);
            return true;
        }
    }

    private static final class Softmax implements SoftmaxKernel {
        @Override
        public void forward(int rows, int cols, float scale, boolean causal, int causalOffset,
                            float[] mask, int maskOff, int ldmask, float[] x, int xOff, int ldx,
                            float[] y, int yOff, int ldy) {
            SimdSoftmax.forward(rows, cols, scale, causal, causalOffset, mask, maskOff, ldmask, x, xOff, ldx,
                    y, yOff, ldy);
        }

        @Override
        public void backward(int rows, int cols, float scale, float[] dy, int dyOff, int lddy,
                             float[] y, int yOff, int ldy, float[] dx, int dxOff, int lddx) {
            SimdSoftmax.backward(rows, cols, scale, dy, dyOff, lddy, y, yOff, ldy, dx, dxOff, lddx);
        }

        @Override
        public boolean forwardInPlace(int rows, int cols, float scale, boolean causal, int causalOffset,
                                      MemorySegment x, long xOff, long ldx, MemorySegment y, long yOff, long ldy) {
            SimdSoftmax.forwardPlain(rows, cols, scale, causal, causalOffset, x, xOff, ldx, y, yOff, ldy);
            return true;
        }
    }

    private static final class ResidualAdd implements ResidualAddKernel {
        @Override
        public void forward(int rows, int cols, float alpha, float[] x, int xOff, int ldx,
                            float[] f, int fOff, int ldf, float[] bias, int biasOff, float[] y, int yOff, int ldy) {
            SimdResidualAdd.forward(rows, cols, alpha, x, xOff, ldx, f, fOff, ldf, bias, biasOff, y, yOff, ldy);
        }

        @Override
        public void backward(int rows, int cols, float alpha, float[] dy, int dyOff, int lddy,
                             float[] dx, int dxOff, int lddx, float[] df, int dfOff, int lddf,
                             float[] dbias, int dbiasOff) {
            SimdResidualAdd.backward(rows, cols, alpha, dy, dyOff, lddy, dx, dxOff, lddx, df, dfOff, lddf,
                    dbias, dbiasOff);
        }

        @Override
        public boolean forwardInPlace(int rows, int cols, float alpha, MemorySegment x, long xOff, long ldx,
                                      MemorySegment f, long fOff, long ldf, MemorySegment bias, long biasOff,
                                      MemorySegment y, long yOff, long ldy) {
            SimdResidualAdd.forward(rows, cols, alpha, x, xOff, ldx, f, fOff, ldf, bias, biasOff, y, yOff, ldy);
            return true;
        }
    }

    private static final class Norms implements NormsKernel {
        @Override
        public void layerNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                     float[] gamma, int gOff, float[] beta, int bOff, float[] y, int yOff, int ldy,
                                     float[] mean, int meanOff, float[] rstd, int rstdOff) {
            SimdNorms.layerNormForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                    mean, meanOff, rstd, rstdOff);
        }

        @Override
        public void rmsNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                                   float[] gamma, int gOff, float[] y, int yOff, int ldy, float[] rstd, int rstdOff) {
            SimdNorms.rmsNormForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy, rstd, rstdOff);
        }

        @Override
        public void layerNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy,
                                           float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                           float[] mean, int meanOff, float[] rstd, int rstdOff,
                                           float[] dx, int dxOff, int lddx, float[] ws, int pg, int pb) {
            SimdNorms.layerNormBackwardBlock(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff,
                    mean, meanOff, rstd, rstdOff, dx, dxOff, lddx, ws, pg, pb);
        }

        @Override
        public void rmsNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy,
                                         float[] x, int xOff, int ldx, float[] gamma, int gOff,
                                         float[] rstd, int rstdOff, float[] dx, int dxOff, int lddx,
                                         float[] ws, int pg) {
            SimdNorms.rmsNormBackwardBlock(rows, cols, dy, dyOff, lddy, x, xOff, ldx, gamma, gOff,
                    rstd, rstdOff, dx, dxOff, lddx, ws, pg);
        }

        @Override
        public void reducePartials(int blocks, int cols, float[] ws, int off, float[] out, int outOff) {
            SimdNorms.reducePartials(blocks, cols, ws, off, out, outOff);
        }

        @Override
        public boolean forwardInPlace(boolean layer, int rows, int cols, float eps, MemorySegment x, long xOff, long ldx,
                                      MemorySegment gamma, long gOff, MemorySegment beta, long bOff,
                                      MemorySegment y, long yOff, long ldy,
                                      MemorySegment mean, long meanOff, MemorySegment rstd, long rstdOff) {
            if (layer) {
                SimdNorms.layerNormForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, beta, bOff, y, yOff, ldy,
                        mean, meanOff, rstd, rstdOff);
            } else {
                SimdNorms.rmsNormForward(rows, cols, eps, x, xOff, ldx, gamma, gOff, y, yOff, ldy, rstd, rstdOff);
            }
            return true;
        }

        @Override
        public boolean backwardBlocksInPlace(boolean layer, int rows, int cols, int blockRows,
                                             MemorySegment dy, long dyOff, long lddy, MemorySegment x, long xOff,
                                             long ldx, MemorySegment gamma, long gOff, MemorySegment mean,
                                             long meanOff, MemorySegment rstd, long rstdOff,
                                             MemorySegment dx, long dxOff, long lddx, float[] ws) {
            int blocks = (rows + blockRows - 1) / blockRows;
            for (int r0 = 0, block = 0; r0 < rows; r0 += blockRows, block++) {
                SimdNorms.backwardBlock(Math.min(blockRows, rows - r0), cols, dy, dyOff + r0 * lddy, lddy,
                        x, xOff + r0 * ldx, ldx, gamma, gOff, mean, meanOff + r0, rstd, rstdOff + r0,
                        dx, dxOff + r0 * lddx, lddx, ws, block * cols, layer ? (blocks + block) * cols : -1);
            }
            return true;
        }
    }

    private static final class Elementwise implements ElementwiseKernel {
        @Override
        public void geluForward(int n, float[] x, int xOff, float[] y, int yOff) {
            SimdActivations.geluForward(n, x, xOff, y, yOff);
        }

        @Override
        public void geluBackward(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
            SimdActivations.geluBackward(n, dy, dyOff, x, xOff, dx, dxOff);
        }

        @Override
        public void geluBackwardInto(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff) {
            SimdActivations.geluBackwardInto(n, dy, dyOff, x, xOff, dx, dxOff);
        }

        @Override
        public void exp(int n, float[] x, int xOff, float[] y, int yOff) {
            VectorMath.exp(n, x, xOff, y, yOff);
        }
    }

    private static final class Optimizer implements OptimizerKernel {
        @Override
        public void adamW(int n, float decay, float beta1, float beta2, float stepSize, float sqrtC2, float eps,
                          float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff,
                          float[] v, int vOff) {
            SimdOptimizers.adamW(n, decay, beta1, beta2, stepSize, sqrtC2, eps, grads, gOff, params, pOff,
                    m, mOff, v, vOff);
        }
    }

    private static final class Tiles implements AttentionTileKernel {
        @Override
        public void gemm(int m, int n, int k, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff, int ldb,
                         boolean accumulate, float[] colScale, int csOff, float[] c, int cOff, int ldc) {
            SimdAttentionTiles.gemm(m, n, k, a, aOff, aRs, aCs, b, bOff, ldb, accumulate, colScale, csOff,
                    c, cOff, ldc);
        }

        @Override
        public void softmaxOnline(int n, int m, float[] s, int sOff, int lds, int rowBase, float[] limit,
                                  int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                  float[] max, float[] sum, float[] alpha, int statOff) {
            SimdAttentionTiles.softmaxOnline(n, m, s, sOff, lds, rowBase, limit, limOff, bias, biasIdx,
                    biasIdxOff, max, sum, alpha, statOff);
        }

        @Override
        public void softmaxOnlineRows(int m, int n, float[] s, int sOff, int lds, int colBase, float[] limit,
                                      int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                      float[] max, float[] sum, float[] alpha, int statOff) {
            SimdAttentionTiles.softmaxOnlineRows(m, n, s, sOff, lds, colBase, limit, limOff, bias, biasIdx,
                    biasIdxOff, max, sum, alpha, statOff);
        }

        @Override
        public void backwardScoresRows(int m, int n, float scale, float[] s, int sOff, int lds,
                                       float[] dp, int dpOff, int lddp, int colBase, float[] limit, int limOff,
                                       float[] bias, int[] biasIdx, int biasIdxOff, float[] lse, int lseOff,
                                       float[] dr, int drOff) {
            SimdAttentionTiles.backwardScoresRows(m, n, scale, s, sOff, lds, dp, dpOff, lddp, colBase, limit,
                    limOff, bias, biasIdx, biasIdxOff, lse, lseOff, dr, drOff);
        }

        @Override
        public void backwardScoresColumns(int n, int m, float scale, float[] s, int sOff, int lds,
                                          float[] p, int pOff, int ldp, float[] dp, int dpOff, int lddp, int rowBase,
                                          float[] limit, int limOff, float[] bias, int[] biasIdx, int biasIdxOff,
                                          float[] lse, int lseOff, float[] dr, int drOff) {
            SimdAttentionTiles.backwardScoresColumns(n, m, scale, s, sOff, lds, p, pOff, ldp, dp, dpOff, lddp, rowBase,
                    limit, limOff, bias, biasIdx, biasIdxOff, lse, lseOff, dr, drOff);
        }
    }
}
