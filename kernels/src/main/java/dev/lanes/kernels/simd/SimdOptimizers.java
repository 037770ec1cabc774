package dev.lanes.kernels.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API body of {@code dev.lanes.kernels.Optimizers}: AdamW with the scalar twin's operations
 * one for one (no fused multiply-add; SQRT and DIV are correctly rounded), so every element has the
 * twin's bits. Arguments were validated by the facade. One pass over g, p, m, v.
 */
public final class SimdOptimizers {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private SimdOptimizers() {}

    public static void adamW(int n, float decay, float beta1, float beta2, float stepSize, float sqrtC2, float eps,
                             float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff,
                             float[] v, int vOff) {
        float omb1 = 1f - beta1, omb2 = 1f - beta2;
        int vecEnd = S.loopBound(n);
        int i = 0;
        for (; i < vecEnd; i += L) {
            FloatVector g = FloatVector.fromArray(S, grads, gOff + i);
            FloatVector mi = FloatVector.fromArray(S, m, mOff + i).mul(beta1).add(g.mul(omb1));
            FloatVector vi = FloatVector.fromArray(S, v, vOff + i).mul(beta2).add(g.mul(omb2).mul(g));
            mi.intoArray(m, mOff + i);
            vi.intoArray(v, vOff + i);
            FloatVector p = FloatVector.fromArray(S, params, pOff + i).mul(decay);
            FloatVector denom = vi.sqrt().div(sqrtC2).add(eps);
            p.sub(mi.mul(stepSize).div(denom)).intoArray(params, pOff + i);
        }
        for (; i < n; i++) {
            float g = grads[gOff + i];
            float mi = beta1 * m[mOff + i] + omb1 * g;
            float vi = beta2 * v[vOff + i] + omb2 * g * g;
            m[mOff + i] = mi;
            v[vOff + i] = vi;
            float p = params[pOff + i] * decay;
            params[pOff + i] = p - stepSize * mi / ((float) Math.sqrt(vi) / sqrtC2 + eps);
        }
    }
}
