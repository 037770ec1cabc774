package dev.lanes.kernels.internal;

/**
 * The normalisation family behind {@code dev.lanes.kernels.Norms}: row bodies on already validated
 * arguments. The facade owns the row blocks and the team; the backward bodies write one block's dx
 * and its gain/bias partial sums (slots {@code pg}, {@code pb} of {@code ws}), and
 * {@link #reducePartials} adds the blocks' slots into the gradient in block order.
 */
public interface NormsKernel {
    void layerNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                          float[] gamma, int gOff, float[] beta, int bOff, float[] y, int yOff, int ldy,
                          float[] mean, int meanOff, float[] rstd, int rstdOff);

    void rmsNormForward(int rows, int cols, float eps, float[] x, int xOff, int ldx,
                        float[] gamma, int gOff, float[] y, int yOff, int ldy, float[] rstd, int rstdOff);

    void layerNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                                float[] gamma, int gOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                float[] dx, int dxOff, int lddx, float[] ws, int pg, int pb);

    void rmsNormBackwardBlock(int rows, int cols, float[] dy, int dyOff, int lddy, float[] x, int xOff, int ldx,
                              float[] gamma, int gOff, float[] rstd, int rstdOff,
                              float[] dx, int dxOff, int lddx, float[] ws, int pg);

    /** {@code out[outOff + j] += sum over blocks b, in order, of ws[off + b * cols + j]}. */
    void reducePartials(int blocks, int cols, float[] ws, int off, float[] out, int outOff);
}
