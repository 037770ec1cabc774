package dev.lanes.kernels.internal;

/**
 * The element-wise family behind {@code dev.lanes.kernels.Activations} (GELU) and
 * {@code dev.lanes.kernels.FloatExp} (exp over an array); arguments already validated, contiguous.
 */
public interface ElementwiseKernel {
    void geluForward(int n, float[] x, int xOff, float[] y, int yOff);

    /** Accumulates into dx. */
    void geluBackward(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff);

    /** Overwrites dx ({@code dx = gelu'(x) * dy}); dx may be dy itself. */
    void geluBackwardInto(int n, float[] dy, int dyOff, float[] x, int xOff, float[] dx, int dxOff);

    /** {@code y[yOff + i] = FloatExp.exp(x[xOff + i])}, the same bits in every implementation. */
    void exp(int n, float[] x, int xOff, float[] y, int yOff);
}
