package dev.lanes.kernels.internal;

/**
 * The optimizer family behind {@code dev.lanes.kernels.Optimizers}: one AdamW step on a contiguous range,
 * with the step's scalars (decay, step size, sqrt of the second bias correction) already formed.
 */
public interface OptimizerKernel {
    void adamW(int n, float decay, float beta1, float beta2, float stepSize, float sqrtC2, float eps,
               float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff, float[] v, int vOff);
}
