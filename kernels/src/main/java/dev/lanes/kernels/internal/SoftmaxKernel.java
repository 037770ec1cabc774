package dev.lanes.kernels.internal;

import java.lang.foreign.MemorySegment;

/** The softmax family behind {@code dev.lanes.kernels.Softmax}; arguments already validated. */
public interface SoftmaxKernel {
    void forward(int rows, int cols, float scale, boolean causal, int causalOffset,
                 float[] mask, int maskOff, int ldmask, float[] x, int xOff, int ldx, float[] y, int yOff, int ldy);

    /** Accumulates into dx. */
    void backward(int rows, int cols, float scale, float[] dy, int dyOff, int lddy,
                  float[] y, int yOff, int ldy, float[] dx, int dxOff, int lddx);

    /**
     * The maskless forward on {@link MemorySegment} operands (element offsets), read and written in place, the same
     * bits as the array form. Returns false, having done nothing, when this implementation has no segment
     * form: the facade then stages rows through the array form.
     */
    boolean forwardInPlace(int rows, int cols, float scale, boolean causal, int causalOffset,
                           MemorySegment x, long xOff, long ldx, MemorySegment y, long yOff, long ldy);
}
