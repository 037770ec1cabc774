package dev.lanes.core.nn;

import dev.lanes.kernels.Optimizers;
import dev.lanes.kernels.Parallelism;

/**
 * AdamW (Loshchilov and Hutter 2019) on a flat range of parameters, in the order PyTorch applies it:
 *
 * <pre>
 *   p *= 1 - lr * weightDecay                      (decoupled decay; pass 0 for no decay)
 *   m  = beta1 * m + (1 - beta1) * g
 *   v  = beta2 * v + (1 - beta2) * g^2
 *   p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * </pre>
 *
 * {@code t} is the 1-based step count. Delegates to {@link Optimizers#adamW} (vectorised, the same
 * bits as the float loop this class used to run, for any team).
 */
public final class AdamW {
    private AdamW() {}

    public static void step(int n, float lr, float beta1, float beta2, float eps, float weightDecay, int t,
                            float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff, float[] v, int vOff) {
        Optimizers.adamW(Parallelism.serial(), n, lr, beta1, beta2, eps, weightDecay, t, grads, gOff, params, pOff,
                m, mOff, v, vOff);
    }

    /** The same step on the given team. */
    public static void step(Parallelism par, int n, float lr, float beta1, float beta2, float eps, float weightDecay,
                            int t, float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff,
                            float[] v, int vOff) {
        Optimizers.adamW(par, n, lr, beta1, beta2, eps, weightDecay, t, grads, gOff, params, pOff, m, mOff, v, vOff);
    }
}
