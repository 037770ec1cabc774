package dev.lanes.kernels.internal;

import java.lang.foreign.MemorySegment;

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

    /**
     * Layer norm ({@code layer}) or RMS norm (beta and mean null) forward on {@link MemorySegment} operands (element offsets), read and written in place, the same
     * bits as the array form. Returns false, having done nothing, when this implementation has no segment
     * form: the facade then stages rows through the array form.
     */
    boolean forwardInPlace(boolean layer, int rows, int cols, float eps, MemorySegment x, long xOff, long ldx,
                           MemorySegment gamma, long gOff, MemorySegment beta, long bOff,
                           MemorySegment y, long yOff, long ldy,
                           MemorySegment mean, long meanOff, MemorySegment rstd, long rstdOff);

    /**
     * The backward's row blocks on {@link MemorySegment} operands, in place, as the array backward runs
     * them: block b's gain (and, with {@code layer}, bias) partial sums go to ws at {@code b * cols} (and
     * {@code (blocks + b) * cols}); ws may be null when no partial is wanted. Returns false, having done
     * nothing, when this implementation has no segment form.
     */
    boolean backwardBlocksInPlace(boolean layer, int rows, int cols, int blockRows,
                                  MemorySegment dy, long dyOff, long lddy, MemorySegment x, long xOff, long ldx,
                                  MemorySegment gamma, long gOff, MemorySegment mean, long meanOff,
                                  MemorySegment rstd, long rstdOff, MemorySegment dx, long dxOff, long lddx,
                                  float[] ws);
}
