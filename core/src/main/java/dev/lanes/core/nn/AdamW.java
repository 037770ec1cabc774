package dev.lanes.core.nn;

import dev.lanes.kernels.Checks;

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
 * {@code t} is the 1-based step count.
 */
public final class AdamW {
    private AdamW() {}

    public static void step(int n, float lr, float beta1, float beta2, float eps, float weightDecay, int t,
                            float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff, float[] v, int vOff) {
        Checks.nonNegative("n", n);
        if (t < 1) {
            throw new IllegalArgumentException("t=" + t + " < 1 (steps count from 1)");
        }
        if (!(beta1 >= 0f && beta1 < 1f) || !(beta2 >= 0f && beta2 < 1f)) {
            throw new IllegalArgumentException("beta1=" + beta1 + ", beta2=" + beta2 + " must lie in [0, 1)");
        }
        if (!(eps > 0f) || !Float.isFinite(lr) || !Float.isFinite(weightDecay)) {
            throw new IllegalArgumentException("eps=" + eps + " must be > 0 and lr=" + lr + ", weightDecay="
                    + weightDecay + " finite");
        }
        Checks.vector("grads", grads, gOff, n);
        Checks.vector("params", params, pOff, n);
        Checks.vector("m", m, mOff, n);
        Checks.vector("v", v, vOff, n);
        float decay = 1f - lr * weightDecay;
        float c1 = (float) (1.0 - Math.pow(beta1, t));
        float c2 = (float) (1.0 - Math.pow(beta2, t));
        float stepSize = lr / c1;
        float sqrtC2 = (float) Math.sqrt(c2);
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
