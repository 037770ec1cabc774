package dev.lanes.kernels;

/**
 * Scalar twin of {@link Optimizers}: the AdamW loop exactly as the contract writes it, in float.
 * Float (not double) on purpose: the vector body must reproduce these bits, and they are the bits the
 * golden tests against PyTorch were recorded with. The fallback without the Vector API.
 */
public final class OptimizersScalar {
    private OptimizersScalar() {}

    /** Same contract and validation as {@link Optimizers#adamW(int, float, float, float, float, float, int, float[], int, float[], int, float[], int, float[], int)}. */
    public static void adamW(int n, float lr, float beta1, float beta2, float eps, float weightDecay, int t,
                             float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff, float[] v, int vOff) {
        Optimizers.check(n, lr, beta1, beta2, eps, weightDecay, t, grads, gOff, params, pOff, m, mOff, v, vOff);
        adamWUnchecked(n, 1f - lr * weightDecay, beta1, beta2, Optimizers.stepSize(lr, beta1, t),
                Optimizers.sqrtC2(beta2, t), eps, grads, gOff, params, pOff,
                m, mOff, v, vOff);
    }

    static void adamWUnchecked(int n, float decay, float beta1, float beta2, float stepSize, float sqrtC2, float eps,
                               float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff,
                               float[] v, int vOff) {
        for (int i = 0; i < n; i++) {
            float g = grads[gOff + i];
            float mi = beta1 * m[mOff + i] + (1f - beta1) * g;
            float vi = beta2 * v[vOff + i] + (1f - beta2) * g * g;
            m[mOff + i] = mi;
            v[vOff + i] = vi;
            float p = params[pOff + i] * decay;
            params[pOff + i] = p - stepSize * mi / ((float) Math.sqrt(vi) / sqrtC2 + eps);
        }
    }
}
