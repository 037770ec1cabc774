package dev.lanes.kernels.internal;

/** The softmax family behind {@code dev.lanes.kernels.Softmax}; arguments already validated. */
public interface SoftmaxKernel {
    void forward(int rows, int cols, float scale, boolean causal, int causalOffset,
                 float[] mask, int maskOff, int ldmask, float[] x, int xOff, int ldx, float[] y, int yOff, int ldy);

    /** Accumulates into dx. */
    void backward(int rows, int cols, float scale, float[] dy, int dyOff, int lddy,
                  float[] y, int yOff, int ldy, float[] dx, int dxOff, int lddx);
}
