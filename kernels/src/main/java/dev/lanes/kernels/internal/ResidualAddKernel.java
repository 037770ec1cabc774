package dev.lanes.kernels.internal;

import java.lang.foreign.MemorySegment;

/** The residual-add family behind {@code dev.lanes.kernels.ResidualAdd}; arguments already validated. */
public interface ResidualAddKernel {
    void forward(int rows, int cols, float alpha, float[] x, int xOff, int ldx, float[] f, int fOff, int ldf,
                 float[] bias, int biasOff, float[] y, int yOff, int ldy);

    /** Accumulates into dx, df and dbias (each may be null). */
    void backward(int rows, int cols, float alpha, float[] dy, int dyOff, int lddy, float[] dx, int dxOff, int lddx,
                  float[] df, int dfOff, int lddf, float[] dbias, int dbiasOff);

    /**
     * The forward on {@link MemorySegment} operands (element offsets), read and written in place, the same
     * bits as the array form. Returns false, having done nothing, when this implementation has no segment
     * form: the facade then stages rows through the array form.
     */
    boolean forwardInPlace(int rows, int cols, float alpha, MemorySegment x, long xOff, long ldx,
                           MemorySegment f, long fOff, long ldf, MemorySegment bias, long biasOff,
                           MemorySegment y, long yOff, long ldy);
}
