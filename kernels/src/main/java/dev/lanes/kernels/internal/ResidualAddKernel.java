package dev.lanes.kernels.internal;

/** The residual-add family behind {@code dev.lanes.kernels.ResidualAdd}; arguments already validated. */
public interface ResidualAddKernel {
    void forward(int rows, int cols, float alpha, float[] x, int xOff, int ldx, float[] f, int fOff, int ldf,
                 float[] bias, int biasOff, float[] y, int yOff, int ldy);

    /** Accumulates into dx, df and dbias (each may be null). */
    void backward(int rows, int cols, float alpha, float[] dy, int dyOff, int lddy, float[] dx, int dxOff, int lddx,
                  float[] df, int dfOff, int lddf, float[] dbias, int dbiasOff);
}
