package dev.lanes.core.nn;

import dev.lanes.kernels.internal.Checks;
import dev.lanes.kernels.Optimizers;
import dev.lanes.kernels.Overlap;
import dev.lanes.kernels.Parallelism;

/**
 * AdamW over a whole parameter arena: weight decay on the tensors {@link ParamLayout.Entry#decay()}
 * marks (weight matrices and embeddings), none on biases and norm gains, as GPT-2 and nanoGPT train;
 * plus global-norm gradient clipping. The moments live in two arrays of the layout's size, allocated
 * once; {@link #step} allocates nothing.
 *
 * <p>A bad batch does not poison training: when the global gradient norm is NaN or infinite,
 * {@link #clipGradNorm} leaves the gradients as they are and returns that norm, and {@link #step}
 * skips the update (parameters, moments and the step count stay bit for bit as they were), counts it
 * in {@link #skippedSteps()} and returns false, as a mixed-precision grad scaler skips a step on
 * {@code found_inf}.
 */
public final class AdamWOptimizer {
    private final ParamLayout layout;
    private final float beta1, beta2, eps, weightDecay;
    private final float[] m, v;
    private int t;

    /** Floats per part of the gradient norm; the parts' sums of squares are added in part order. */
    private static final int NORM_CHUNK = 1 << 16;
    private final double[] partials;
    private final ParamLayout.Entry[] entries;
    private float[] clipGrads;
    private float clipScale;
    private final Parallelism.PartTask squares = this::sumOfSquares, scaling = this::scale;
    /** The array and step count of the last clipGradNorm, whose norm step may reuse, and that norm. */
    private float[] normOf;
    private int normAtStep = -1;
    private double lastNorm;
    private long skipped;

    public AdamWOptimizer(ParamLayout layout, float beta1, float beta2, float eps, float weightDecay) {
        if (layout == null) {
            throw new NullPointerException("layout is null");
        }
        if (!(beta1 >= 0f && beta1 < 1f) || !(beta2 >= 0f && beta2 < 1f)) {
            throw new IllegalArgumentException("beta1=" + beta1 + ", beta2=" + beta2 + " must lie in [0, 1)");
        }
        if (!(eps > 0f) || !(weightDecay >= 0f) || !Float.isFinite(eps) || !Float.isFinite(weightDecay)) {
            throw new IllegalArgumentException("eps=" + eps + " must be finite and > 0, weightDecay=" + weightDecay
                    + " finite and >= 0");
        }
        this.layout = layout;
        this.entries = layout.entries().toArray(new ParamLayout.Entry[0]);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.m = new float[layout.size()];
        this.v = new float[layout.size()];
        this.partials = new double[(layout.size() + NORM_CHUNK - 1) / NORM_CHUNK];
    }

    /** Steps taken so far (skipped steps are not counted). */
    public int steps() {
        return t;
    }

    /** Steps skipped because the global gradient norm was NaN or infinite. */
    public long skippedSteps() {
        return skipped;
    }

    /** The first and second moments, in the layout's order (for checkpoints and tests). */
    public float[] firstMoment() {
        return m;
    }

    public float[] secondMoment() {
        return v;
    }

    /** {@link #clipGradNorm(Parallelism, float[], float)} on the process default team, as the kernels' overloads. */
    public double clipGradNorm(float[] grads, float maxNorm) {
        return clipGradNorm(Parallelism.defaultParallelism(), grads, maxNorm);
    }

    /**
     * Global L2 norm of {@code grads}, summed in double over fixed chunks whose sums are added in chunk
     * order (so the same bits for any team size); when it exceeds {@code maxNorm} every gradient is
     * scaled by {@code maxNorm / (norm + 1e-6)}, as {@code torch.nn.utils.clip_grad_norm_}. Returns the
     * norm before clipping. A NaN or infinite norm (some gradient is NaN or infinite) is returned as
     * it is and the gradients are left untouched: the next {@link #step} skips.
     */
    public double clipGradNorm(Parallelism par, float[] grads, float maxNorm) {
        Checks.team(par);
        Checks.vector("grads", grads, 0, layout.size());
        if (!(maxNorm > 0f) || !Float.isFinite(maxNorm)) {
            throw new IllegalArgumentException("maxNorm=" + maxNorm + " must be finite and > 0");
        }
        double norm = globalNorm(par, grads);
        if (norm > maxNorm && Double.isFinite(norm)) {
            clipGrads = grads;
            clipScale = (float) (maxNorm / (norm + 1e-6));
            par.forEach(partials.length, scaling);
            clipGrads = null;
        }
        normOf = grads;
        normAtStep = t;
        lastNorm = norm;
        return norm;
    }

    /** The L2 norm of grads over the layout, in double, in a fixed chunk order. */
    private double globalNorm(Parallelism par, float[] grads) {
        clipGrads = grads;
        try {
            par.forEach(partials.length, squares);
        } finally {
            clipGrads = null;
        }
        double sq = 0;
        for (double p : partials) {
            sq += p;
        }
        return Math.sqrt(sq);
    }

    /**
     * The chunk's sum of squares in eight interleaved double sums (element from + 8q + r into sum r,
     * the last few into the first), added pairwise at the end: one running sum waited on each add's latency and took 11 ms of a 772 ms step.
     */
    private void sumOfSquares(int part) {
        int from = part * NORM_CHUNK, to = Math.min(layout.size(), from + NORM_CHUNK);
        float[] g = clipGrads;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = from;
        for (; i + 8 <= to; i += 8) {
            s0 += (double) g[i] * g[i];
            s1 += (double) g[i + 1] * g[i + 1];
            s2 += (double) g[i + 2] * g[i + 2];
            s3 += (double) g[i + 3] * g[i + 3];
            s4 += (double) g[i + 4] * g[i + 4];
            s5 += (double) g[i + 5] * g[i + 5];
            s6 += (double) g[i + 6] * g[i + 6];
            s7 += (double) g[i + 7] * g[i + 7];
        }
        for (; i < to; i++) {
            s0 += (double) g[i] * g[i];
        }
        partials[part] = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    private void scale(int part) {
        int from = part * NORM_CHUNK, to = Math.min(layout.size(), from + NORM_CHUNK);
        for (int i = from; i < to; i++) {
            clipGrads[i] *= clipScale;
        }
    }

    /** {@link #step(Parallelism, float, float[], float[])} on the process default team, as the kernels' overloads. */
    public boolean step(float lr, float[] params, float[] grads) {
        return step(Parallelism.defaultParallelism(), lr, params, grads);
    }

    /**
     * One AdamW step at learning rate {@code lr} (step count kept here, from 1), elementwise on the
     * team: the same bits for any team size. Returns false, and changes nothing but
     * {@link #skippedSteps()}, when the global norm of {@code grads} is NaN or infinite. The norm is
     * the one {@link #clipGradNorm} computed for this array since the last step, else it is computed
     * here (one read of the gradients).
     */
    public boolean step(Parallelism par, float lr, float[] params, float[] grads) {
        Checks.team(par);
        Checks.vector("params", params, 0, layout.size());
        Checks.vector("grads", grads, 0, layout.size());
        if (!Float.isFinite(lr) || lr < 0f) {
            throw new IllegalArgumentException("lr=" + lr + " must be finite and >= 0");
        }
        Overlap.views().input("grads", grads, 0, layout.size()).output("params", params, 0, layout.size()).check();
        double norm = normOf == grads && normAtStep == t ? lastNorm : globalNorm(par, grads);
        normOf = null;
        if (!Double.isFinite(norm)) {
            skipped++;
            return false;
        }
        t++;
        for (ParamLayout.Entry e : entries) { // an array: a List's iterator cost 56 bytes per step
            Optimizers.adamW(par, e.size(), lr, beta1, beta2, eps, e.decay() ? weightDecay : 0f, t,
                    grads, e.offset(), params, e.offset(), m, e.offset(), v, e.offset());
        }
        return true;
    }

    /** Forgets the moments and the step count. */
    public void reset() {
        java.util.Arrays.fill(m, 0f);
        java.util.Arrays.fill(v, 0f);
        t = 0;
        skipped = 0;
        normOf = null;
    }
}
