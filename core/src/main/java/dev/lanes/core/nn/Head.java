package dev.lanes.core.nn;

import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Transpose;
import java.util.Arrays;

/**
 * The stack's output: the final norm, the head tied to the token embedding, and the cross-entropy.
 *
 * <pre>
 * legend: rows = B*T, C dim, V vocab
 *   hf     = Normf(x)                                    (rows, C)   lnf, lnfMean, lnfRstd
 *   logits = hf wte^T                                    (rows, V)   wte stored (V, C)
 *   loss   = mean over rows with target != -1 of -log softmax(logits)[target]
 *            per row: losses (rows), logitLse (rows)
 * </pre>
 *
 * Owns lnf (wte is the {@link Embedding}'s) and, for training, the slots named above. The cross-entropy
 * runs in parts of {@value #CE_ROWS} independent rows on the team.
 */
final class Head {
    /** Rows per part of the cross-entropy on a team. */
    private static final int CE_ROWS = 32;

    private final int V, C, wte;
    private final Norm normf;
    // training: slots in the activation arena (-1 when decoding) and the targets of the last forward
    private final int rows;
    private final int lnf, lnfMean, lnfRstd, logits, losses, logitLse;
    private final int[] safeTargets;
    private final boolean[] ignored;
    private int counted;
    private Buffers b;
    private final Parallelism.PartTask ceForward = this::crossEntropyForward, ceBackward = this::crossEntropyBackward;

    /** The head for decoding: parameters only. */
    Head(GptConfig cfg, ParamLayout layout) {
        this(cfg, layout, 0, null);
    }

    /** The head for training on {@code rows} rows, its slots taken from acts. */
    Head(GptConfig cfg, ParamLayout layout, int rows, Arena acts) {
        V = cfg.vocab();
        C = cfg.dim();
        wte = layout.get("wte").offset();
        normf = new Norm(cfg, layout, "lnf");
        this.rows = rows;
        safeTargets = new int[rows];
        ignored = new boolean[rows];
        if (acts == null) {
            lnf = lnfMean = lnfRstd = logits = losses = logitLse = -1;
            return;
        }
        long rc = (long) rows * C;
        lnf = acts.slot(rc);
        lnfMean = acts.slot(rows);
        lnfRstd = acts.slot(rows);
        logits = acts.slot((long) rows * V);
        losses = acts.slot(rows);
        logitLse = acts.slot(rows);
    }

    /** The training arrays, once they exist. */
    void bind(Buffers buffers) {
        b = buffers;
    }

    /** Offset of the training logits, (rows, V), in the activation arena. */
    int logits() {
        return logits;
    }

    /** {@code logits = Normf(x) wte^T} over n rows on explicit buffers (h, stats scratch). */
    void logits(Parallelism par, int n, float[] params, float[] x, int xOff, float[] h, int hOff,
                float[] stats, int meanOff, int rstdOff, float[] out, int outOff) {
        normf.forward(par, n, params, x, xOff, h, hOff, stats, meanOff, rstdOff);
        // (n, C) x (C, V), wte stored (V, C)
        Gemm.sgemm(par, Transpose.N, Transpose.T, n, V, C, 1f, h, hOff, C, params, wte, C, 0f, out, outOff, V);
    }

    /** Training forward: the logits of the stack's output at {@code acts[x ..]}. */
    void forward(Parallelism par, int x) {
        float[] acts = b.acts;
        logits(par, rows, b.params, acts, x, acts, lnf, acts, lnfMean, lnfRstd, acts, logits);
    }

    /**
     * The mean cross-entropy of the training logits over the rows whose target is not -1 (0 when none
     * counts); targets are validated by the caller.
     */
    double loss(Parallelism par, int[] targets) {
        counted = 0;
        for (int r = 0; r < rows; r++) {
            ignored[r] = targets[r] < 0;
            safeTargets[r] = ignored[r] ? 0 : targets[r];
            counted += ignored[r] ? 0 : 1;
        }
        par.forEach(parts(rows, CE_ROWS), ceForward);
        double sum = 0;
        for (int r = 0; r < rows; r++) {
            if (!ignored[r]) {
                sum += b.acts[losses + r];
            }
        }
        return counted == 0 ? 0 : sum / counted;
    }

    /**
     * Backward of {@link #forward} and {@link #loss} on the same x: OVERWRITES {@code scratch[dResid ..]}
     * with d(mean loss)/dx (it starts the residual stream's gradient); dwte and the norm's gradients
     * ACCUMULATE. Uses the scratch slots dLoss, dLogits and dLn.
     */
    void backward(Parallelism par, int x) {
        float[] s = b.scratch;
        // loss = sum_r counted(r) * losses[r] / counted
        float w = counted == 0 ? 0f : 1f / counted;
        for (int r = 0; r < rows; r++) {
            s[b.dLoss + r] = ignored[r] ? 0f : w;
        }
        par.forEach(parts(rows, CE_ROWS), ceBackward);
        // logits = hf wte^T:  dwte += dlogits^T hf,  dhf = dlogits wte (overwriting dLn)
        Gemm.sgemm(par, Transpose.T, Transpose.N, V, C, rows, 1f, s, b.dLogits, V, b.acts, lnf, C, 1f, b.grads, wte, C);
        Gemm.sgemm(par, Transpose.N, Transpose.N, rows, C, V, 1f, s, b.dLogits, V, b.params, wte, C, 0f, s, b.dLn, C);
        // hf = Normf(x): dx = Normf'(dhf)
        Arrays.fill(s, b.dResid, b.dResid + rows * C, 0f);
        normf.backward(par, rows, b.params, b.grads, s, b.dLn, b.acts, x, b.acts, lnfMean, lnfRstd, s, b.dResid);
    }

    /** Rows [32 part, ...) of the per-row losses and logsumexps (rows are independent). */
    private void crossEntropyForward(int part) {
        int r0 = part * CE_ROWS, n = Math.min(CE_ROWS, rows - r0);
        float[] acts = b.acts;
        CrossEntropy.forward(n, V, acts, logits + r0 * V, safeTargets, r0, acts, losses + r0, acts, logitLse + r0);
    }

    /** dlogits = dloss * (softmax - onehot) for rows [32 part, ...), overwriting. */
    private void crossEntropyBackward(int part) {
        int r0 = part * CE_ROWS, n = Math.min(CE_ROWS, rows - r0);
        float[] s = b.scratch, acts = b.acts;
        Arrays.fill(s, b.dLogits + r0 * V, b.dLogits + (r0 + n) * V, 0f);
        CrossEntropy.backward(n, V, s, b.dLoss + r0, acts, logits + r0 * V, safeTargets, r0, acts, logitLse + r0,
                s, b.dLogits + r0 * V);
    }

    private static int parts(int n, int per) {
        return (n + per - 1) / per;
    }
}
