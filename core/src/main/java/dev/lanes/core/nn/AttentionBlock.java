package dev.lanes.core.nn;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;

/**
 * The attention half of block l, pre-norm, the residual added in the output projection's store:
 *
 * <pre>
 * legend: rows = B*T, C dim, Hq/Hkv heads, D headDim, W = (Hq + 2 Hkv) D, A = Hq D
 *   h   = Norm1(x)                           (rows, C)    ln1, ln1Mean, ln1Rstd
 *   qkv = h Wqkv + bqkv                      (rows, W)    qkv: Q, K, V heads side by side
 *   o   = Attention(q, k, v), causal         (rows, A)    att [B, T, Hq, D], attLse [B, Hq, T]
 *   xm  = x + o Wo + bo                      (rows, C)
 * </pre>
 *
 * Owns ln1, Wqkv, bqkv, Wo, bo in the parameter arena and, for training, the slots named above in the
 * activation arena. {@link GptSampler} runs the same {@link #project} and {@link #output} around its
 * KV cache.
 */
final class AttentionBlock {
    private final int C, D, W, A, kvWidth;
    private final Norm norm1;
    private final Linear qkvProj, outProj;
    // training: slots in the activation arena and the attention's views of them (null when decoding)
    private final int rows, seqLen;
    private final int ln1, ln1Mean, ln1Rstd, qkv, att, attLse;
    private final AttentionConfig attention;
    private Buffers b;
    private AttentionView q, k, v, o, lse, dO, dq, dk, dv;

    /** Layer l's attention for decoding: parameters only. */
    AttentionBlock(GptConfig cfg, ParamLayout layout, int l) {
        this(cfg, layout, l, 0, 0, null);
    }

    /** Layer l's attention for training on {@code batch} sequences of {@code seqLen}, its slots taken from acts. */
    AttentionBlock(GptConfig cfg, ParamLayout layout, int l, int batch, int seqLen, Arena acts) {
        C = cfg.dim();
        D = cfg.headDim();
        W = cfg.qkvDim();
        A = cfg.attnDim();
        kvWidth = cfg.kvHeads() * D;
        String p = "h." + l + ".";
        norm1 = new Norm(cfg, layout, p + "ln1");
        qkvProj = new Linear(C, W, layout.get(p + "attn.wqkv").offset(), layout.get(p + "attn.bqkv").offset());
        outProj = new Linear(A, C, layout.get(p + "attn.wo").offset(), layout.get(p + "attn.bo").offset());
        this.seqLen = seqLen;
        rows = batch * seqLen;
        if (acts == null) {
            ln1 = ln1Mean = ln1Rstd = qkv = att = attLse = -1;
            attention = null;
            return;
        }
        long rc = (long) rows * C;
        ln1 = acts.slot(rc);
        ln1Mean = acts.slot(rows);
        ln1Rstd = acts.slot(rows);
        qkv = acts.slot((long) rows * W);
        att = acts.slot((long) rows * A);
        attLse = acts.slot((long) batch * cfg.heads() * seqLen);
        attention = AttentionConfig.builder(batch, cfg.heads(), cfg.kvHeads(), seqLen, seqLen, cfg.headDim())
                .causal(CausalMask.TOP_LEFT).build();
    }

    /** Builds the attention's views of the training arrays, once they exist. */
    void bind(Buffers buffers) {
        b = buffers;
        HeadLayout qs = HeadLayout.fused(seqLen, W, D), os = HeadLayout.fused(seqLen, A, D);
        q = AttentionView.of(b.acts, qkv, qs);
        k = AttentionView.of(b.acts, qkv + A, qs);
        v = AttentionView.of(b.acts, qkv + A + kvWidth, qs);
        o = AttentionView.of(b.acts, att, os);
        lse = AttentionView.flat(b.acts, attLse);
        dO = AttentionView.of(b.scratch, b.dAtt, os);
        dq = AttentionView.of(b.scratch, b.dQkv, qs);
        dk = AttentionView.of(b.scratch, b.dQkv + A, qs);
        dv = AttentionView.of(b.scratch, b.dQkv + A + kvWidth, qs);
    }

    /** {@code h = Norm1(x); qkv = h Wqkv + bqkv} over n rows (mean and rstd to stats). */
    void project(Parallelism par, int n, float[] params, float[] x, int xOff, float[] h, int hOff,
                 float[] stats, int meanOff, int rstdOff, float[] qkvOut, int qkvOff) {
        norm1.forward(par, n, params, x, xOff, h, hOff, stats, meanOff, rstdOff);
        qkvProj.forward(par, n, params, 0, h, hOff, null, 0, qkvOut, qkvOff);
    }

    /** {@code xm = x + o Wo + bo} over n rows. */
    void output(Parallelism par, int n, float[] params, float[] x, int xOff, float[] o, int oOff, float[] xm, int xmOff) {
        outProj.forward(par, n, params, 0, o, oOff, x, xOff, xm, xmOff);
    }

    /** Training forward: the block's input x at {@code acts[x ..]}, its output xm to {@code acts[xm ..]}. */
    void forward(Parallelism par, int x, int xm) {
        float[] acts = b.acts;
        project(par, rows, b.params, acts, x, acts, ln1, acts, ln1Mean, ln1Rstd, acts, qkv);
        Attention.forward(par, attention, q, k, v, null, o, lse);
        output(par, rows, b.params, acts, x, acts, att, acts, xm);
    }

    /**
     * Backward of {@link #forward} on the same x: on entry {@code scratch[dResid ..]} holds dxm, on exit
     * dx; parameter gradients ACCUMULATE. Uses the scratch slots dAtt, dQkv and dLn.
     */
    void backward(Parallelism par, int x) {
        float[] s = b.scratch, acts = b.acts;
        // xm = x + o Wo + bo: dx = dxm (stays in dResid), do = dxm Wo^T (overwriting dAtt)
        outProj.backwardOverwrite(par, rows, b.params, 0, b.grads, 0, s, b.dResid, acts, att, s, b.dAtt);
        // o = Attention(q, k, v): dq, dk, dv land in their columns of dqkv
        Arrays.fill(s, b.dQkv, b.dQkv + rows * W, 0f);
        Attention.backward(par, attention, dO, q, k, v, null, o, lse, dq, dk, dv);
        // qkv = h Wqkv + bqkv: dh = dqkv Wqkv^T (overwriting dLn)
        qkvProj.backwardOverwrite(par, rows, b.params, 0, b.grads, 0, s, b.dQkv, acts, ln1, s, b.dLn);
        // h = Norm1(x): dx += Norm1'(dh)
        norm1.backward(par, rows, b.params, b.grads, s, b.dLn, acts, x, acts, ln1Mean, ln1Rstd, s, b.dResid);
    }
}
