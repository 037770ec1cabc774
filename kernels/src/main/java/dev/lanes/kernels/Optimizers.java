package dev.lanes.kernels;

import dev.lanes.kernels.internal.Checks;
import dev.lanes.kernels.internal.PartJob;

/**
 * AdamW (Loshchilov and Hutter 2019) on a flat range of parameters, in the order PyTorch applies it:
 *
 * <pre>
 *   grads, params, m, v: (n) contiguous; t the 1-based step count
 *   p *= 1 - lr * weightDecay                      (decoupled decay; pass 0 for no decay)
 *   m  = beta1 * m + (1 - beta1) * g
 *   v  = beta2 * v + (1 - beta2) * g^2
 *   p -= (lr / c1) * m / (sqrt(v) / sqrt(c2) + eps),   c1 = 1 - beta1^t,  c2 = 1 - beta2^t
 * </pre>
 *
 * <p>Every element is computed in float by exactly the operations above, in this order, with no
 * fused multiply-add: the vector body, its scalar tails and the scalar twin {@link OptimizersScalar}
 * give the same bits (vector SQRT and DIV are correctly rounded, like {@code Math.sqrt} and {@code /}).
 * The {@link Parallelism} overload cuts n into fixed chunks; the bits never depend on the team.
 * Validation happens before anything is written; see {@link Gemm} for the rules and messages.
 * params, m and v are outputs: none may overlap grads or another of them ({@link Overlap}).
 */
public final class Optimizers {
    /** Elements per parallel part (a multiple of every vector length). */
    static final int CHUNK = 1 << 15;

    private Optimizers() {}

    /** One AdamW step on the process default team. */
    public static void adamW(int n, float lr, float beta1, float beta2, float eps, float weightDecay, int t,
                             float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff, float[] v, int vOff) {
        adamW(Parallelism.defaultParallelism(), n, lr, beta1, beta2, eps, weightDecay, t, grads, gOff, params, pOff,
                m, mOff, v, vOff);
    }

    /** One AdamW step on the given team. */
    public static void adamW(Parallelism par, int n, float lr, float beta1, float beta2, float eps, float weightDecay,
                             int t, float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff,
                             float[] v, int vOff) {
        Checks.team(par);
        check(n, lr, beta1, beta2, eps, weightDecay, t, grads, gOff, params, pOff, m, mOff, v, vOff);
        float decay = 1f - lr * weightDecay, stepSize = stepSize(lr, beta1, t), sqrtC2 = sqrtC2(beta2, t);
        int parts = (int) (((long) n + CHUNK - 1) / CHUNK);
        if (parts <= 1 || par.threads() == 1) {
            body(n, decay, beta1, beta2, stepSize, sqrtC2, eps, grads, gOff, params, pOff, m, mOff, v, vOff);
            return;
        }
        Job job = JOB.get();
        job.set(n, decay, beta1, beta2, stepSize, sqrtC2, eps, grads, gOff, params, pOff, m, mOff, v, vOff);
        job.runAndClear(par, parts);
    }

    /** lr / c1 with the bias correction c1 = 1 - beta1^t rounded to float first. */
    static float stepSize(float lr, float beta1, int t) {
        return lr / (float) (1.0 - Math.pow(beta1, t));
    }

    /** sqrt(c2), c2 = 1 - beta2^t rounded to float first. */
    static float sqrtC2(float beta2, int t) {
        return (float) Math.sqrt((float) (1.0 - Math.pow(beta2, t)));
    }

    static void check(int n, float lr, float beta1, float beta2, float eps, float weightDecay, int t,
                      float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff, float[] v, int vOff) {
        Checks.nonNegative("n", n);
        if (t < 1) {
            throw new IllegalArgumentException("t=" + t + " < 1 (steps count from 1)");
        }
        if (!(beta1 >= 0f && beta1 < 1f) || !(beta2 >= 0f && beta2 < 1f)) {
            throw new IllegalArgumentException("beta1=" + beta1 + ", beta2=" + beta2 + " must lie in [0, 1)");
        }
        if (!(eps > 0f) || !Float.isFinite(eps)) {
            throw new IllegalArgumentException("eps=" + eps + " must be finite and > 0");
        }
        if (!(lr >= 0f) || !Float.isFinite(lr)) {
            throw new IllegalArgumentException("lr=" + lr + " must be finite and >= 0");
        }
        if (!(weightDecay >= 0f) || !Float.isFinite(weightDecay)) {
            throw new IllegalArgumentException("weightDecay=" + weightDecay + " must be finite and >= 0");
        }
        Checks.vector("grads", grads, gOff, n);
        Checks.vector("params", params, pOff, n);
        Checks.vector("m", m, mOff, n);
        Checks.vector("v", v, vOff, n);
        Overlap.views().input("grads", grads, gOff, n)
                .output("params", params, pOff, n).output("m", m, mOff, n).output("v", v, vOff, n).check();
    }

    static void body(int n, float decay, float beta1, float beta2, float stepSize, float sqrtC2, float eps,
                     float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff, float[] v, int vOff) {
        Backend.OPTIMIZER.adamW(n, decay, beta1, beta2, stepSize, sqrtC2, eps, grads, gOff, params, pOff,
                m, mOff, v, vOff);
    }

    /** A parallel region, reused per calling thread so that dispatching allocates nothing. */
    private static final ThreadLocal<Job> JOB = PartJob.perThread(Job::new);

    private static final class Job extends PartJob {
        int n, gOff, pOff, mOff, vOff;
        float decay, beta1, beta2, stepSize, sqrtC2, eps;
        float[] grads, params, m, v;

        void set(int n, float decay, float beta1, float beta2, float stepSize, float sqrtC2, float eps,
                 float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff, float[] v, int vOff) {
            this.n = n;
            this.decay = decay; this.beta1 = beta1; this.beta2 = beta2;
            this.stepSize = stepSize; this.sqrtC2 = sqrtC2; this.eps = eps;
            this.grads = grads; this.gOff = gOff;
            this.params = params; this.pOff = pOff;
            this.m = m; this.mOff = mOff;
            this.v = v; this.vOff = vOff;
        }

        @Override
        protected void clear() {
            grads = params = m = v = null;
        }

        @Override
        public void run(int part) {
            int i0 = part * CHUNK, len = Math.min(CHUNK, n - i0);
            body(len, decay, beta1, beta2, stepSize, sqrtC2, eps, grads, gOff + i0, params, pOff + i0,
                    m, mOff + i0, v, vOff + i0);
        }
    }
}
