package dev.lanes.core.attention;

import dev.lanes.kernels.Parallelism;

/**
 * Attention that keeps its scores: a forward that writes the scaled scores {@code (scale Q) K^T} of
 * every visible tile into this object's workspace as it computes them, and a backward that reads them
 * instead of recomputing them, four products per tile instead of five. For callers who can spend
 * {@link Attention#keptScoresLength} floats (about {@code 4 B Hq T S} bytes, 34 MB for B=4, Hq=8, T=S=512)
 * to save the backward a product.
 *
 * <pre>
 *   KeptScores kept = new KeptScores(cfg);          // once: the workspace, for cfg under the tuning in force
 *   kept.forward(par, q, k, v, bias, o, lse);        // o, lse: the same bits as Attention.forward
 *   kept.backward(par, dO, q, k, v, bias, o, lse, dq, dk, dv);   // accumulates, as Attention.backward
 * </pre>
 *
 * The backward must follow a forward of this object on the same inputs (it throws when none has run,
 * or when another tuning is in force); it reads the scores and never writes them, so it may run again.
 * dq is the recomputing backward's bits; dk and dv sum over the forward's query blocks instead of the
 * backward's, so their last bits may differ from it, and are the same for any thread count. Not for
 * concurrent use; steady-state calls allocate nothing.
 */
public final class KeptScores {
    private final AttentionConfig cfg;
    private final float[] scores;

    /** The workspace for cfg: {@link Attention#keptScoresLength} floats, which must fit one Java array. */
    public KeptScores(AttentionConfig cfg) {
        if (cfg == null) {
            throw new NullPointerException("cfg is null");
        }
        long n = Attention.keptScoresLength(cfg);
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("kept scores of " + n + " floats for " + cfg + " exceed one Java array");
        }
        this.cfg = cfg;
        this.scores = new float[(int) n];
    }

    public AttentionConfig config() {
        return cfg;
    }

    /** {@link Attention#forward(Parallelism, AttentionConfig, AttentionView, AttentionView, AttentionView,
     *  AttentionView, AttentionView, AttentionView)} for this config, keeping the scores. */
    public void forward(Parallelism par, AttentionView q, AttentionView k, AttentionView v, AttentionView bias,
                        AttentionView o, AttentionView lse) {
        ViewStaging.forward(par, cfg, q, k, v, bias, o, lse, scores);
    }

    /** {@link Attention#backward(Parallelism, AttentionConfig, AttentionView, AttentionView, AttentionView,
     *  AttentionView, AttentionView, AttentionView, AttentionView, AttentionView, AttentionView, AttentionView)}
     *  over the scores the last {@link #forward} kept (see the class comment). */
    public void backward(Parallelism par, AttentionView dO, AttentionView q, AttentionView k, AttentionView v,
                         AttentionView bias, AttentionView o, AttentionView lse, AttentionView dq, AttentionView dk,
                         AttentionView dv) {
        ViewStaging.backward(par, cfg, dO, q, k, v, bias, o, lse, scores, dq, dk, dv);
    }
}
