package dev.lanes.core.nn;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.kernels.Checks;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Transpose;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A GPT-style language model of pre-norm residual blocks with multi-query attention, trained with
 * hand-written backward passes over flat arenas (llm.c's layout, Lanes' kernels).
 *
 * <pre>
 * legend: B batch, T seqLen, BT = B*T rows, V vocab, C dim, L layers, Hq/Hkv heads, D headDim,
 *         W = (Hq + 2 Hkv) D fused projection width, A = Hq D attention width, F mlpDim
 *   x0 = wte[tok] + wpe[t]                                   (BT, C)
 *   per block l:  h  = Norm1(x)                              (BT, C)
 *                 qkv = h Wqkv + bqkv                        (BT, W)   Q, K, V heads side by side
 *                 o  = Attention(q, k, v), causal top-left   (BT, A)   [B, T, Hq, D]
 *                 xm = x + o Wo + bo                          (BT, C)   residual added in the GEMM store
 *                 h2 = Norm2(xm)
 *                 u  = h2 W1 + b1;  g = GELU_tanh(u)         (BT, F)
 *                 x  = xm + g W2 + b2                        (BT, C)   residual added in the GEMM store
 *   logits = Normf(x) wte^T                                  (BT, V)   tied head
 *   loss = mean over rows with target != -1 of -log softmax(logits)[target]
 * </pre>
 *
 * <p>Parameters and their gradients live in two arrays laid out by {@link ParamLayout}; every
 * activation the backward needs lives in one activation arena whose offsets are computed in the
 * constructor, and the backward's gradients of activations in one scratch arena reused by every
 * layer. After the first step (which sizes the kernels' per-thread workspaces) forward and backward
 * allocate nothing.
 *
 * <p>The GEMMs and the attention run on the caller's {@link Parallelism}; they give the same bits for
 * any team size, and the row-wise layers are serial, so a training step does too. Not safe for
 * concurrent use: one model, one caller at a time.
 */
public final class Gpt {
    private final GptConfig cfg;
    private final ParamLayout layout;
    private final int batch, seqLen, rows;
    private final int V, C, L, Hq, Hkv, D, W, A, F;
    private final float[] params, grads;
    private final AttentionConfig attention;
    private final HeadLayout qLayout, oLayout;

    private final ParamOffsets po;

    // activation arena: every slot is (rows, width) row-major unless noted
    private final float[] acts;
    private final int[] resid;      // L + 1 slots of (BT, C): resid[l] is block l's input, resid[L] the stack's output
    private final int[] xmid, ln1, ln1Mean, ln1Rstd, qkv, att, attLse, ln2, ln2Mean, ln2Rstd, fch, fchGelu;
    private final int lnf, lnfMean, lnfRstd, logits, losses, logitLse;  // attLse: [B, Hq, T]; *Mean, *Rstd: (BT)

    // backward scratch, reused by every layer
    private final float[] scratch;
    private final int dResid, dLn, dQkv, dAtt, dFch, dFchGelu, dLogits, dLoss;

    /** Rows per part of the cross-entropy on a team, and floats per part of zeroing the gradients. */
    private static final int CE_ROWS = 32, ZERO_CHUNK = 1 << 16;
    private final Parallelism.PartTask ceForward = this::crossEntropyForward, ceBackward = this::crossEntropyBackward,
            zeroPart = this::zeroGradsPart;

    private final int[] tokens, safeTargets;
    private final boolean[] ignored;
    private int counted;
    private boolean haveTargets;

    /** A model for {@code batch} sequences of {@code seqLen <= cfg.maxSeq()} tokens, parameters zero. */
    public Gpt(GptConfig cfg, int batch, int seqLen) {
        if (cfg == null) {
            throw new NullPointerException("cfg is null");
        }
        if (batch < 1 || seqLen < 1 || seqLen > cfg.maxSeq()) {
            throw new IllegalArgumentException("batch=" + batch + ", seqLen=" + seqLen + ": need batch >= 1 and 1 <= seqLen <= maxSeq="
                    + cfg.maxSeq());
        }
        this.cfg = cfg;
        this.layout = ParamLayout.of(cfg);
        this.batch = batch;
        this.seqLen = seqLen;
        if ((long) batch * seqLen > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("batch=" + batch + " * seqLen=" + seqLen + " rows exceed one Java array");
        }
        this.rows = batch * seqLen;
        V = cfg.vocab();
        C = cfg.dim();
        L = cfg.layers();
        Hq = cfg.heads();
        Hkv = cfg.kvHeads();
        D = cfg.headDim();
        W = cfg.qkvDim();
        A = cfg.attnDim();
        F = cfg.mlpDim();
        params = new float[layout.size()];
        grads = new float[layout.size()];
        attention = AttentionConfig.builder(batch, Hq, Hkv, seqLen, seqLen, D).causal(CausalMask.TOP_LEFT).build();
        qLayout = HeadLayout.fused(seqLen, W, D);
        oLayout = HeadLayout.fused(seqLen, A, D);

        po = new ParamOffsets(layout, L);

        Arena a = new Arena("activations");
        long rc = (long) rows * C;
        resid = a.slots(L + 1, rc);
        xmid = a.slots(L, rc);
        ln1 = a.slots(L, rc);
        ln1Mean = a.slots(L, rows);
        ln1Rstd = a.slots(L, rows);
        qkv = a.slots(L, (long) rows * W);
        att = a.slots(L, (long) rows * A);
        attLse = a.slots(L, (long) batch * Hq * seqLen);
        ln2 = a.slots(L, rc);
        ln2Mean = a.slots(L, rows);
        ln2Rstd = a.slots(L, rows);
        fch = a.slots(L, (long) rows * F);
        fchGelu = a.slots(L, (long) rows * F);
        lnf = a.slot(rc);
        lnfMean = a.slot(rows);
        lnfRstd = a.slot(rows);
        logits = a.slot((long) rows * V);
        losses = a.slot(rows);
        logitLse = a.slot(rows);
        acts = a.allocate();

        Arena s = new Arena("backward scratch");
        dResid = s.slot(rc);
        dLn = s.slot(rc);
        dQkv = s.slot((long) rows * W);
        dAtt = s.slot((long) rows * A);
        dFch = s.slot((long) rows * F);
        dFchGelu = s.slot((long) rows * F);
        dLogits = s.slot((long) rows * V);
        dLoss = s.slot(rows);
        scratch = s.allocate();

        tokens = new int[rows];
        safeTargets = new int[rows];
        ignored = new boolean[rows];
    }

    public GptConfig config() { return cfg; }
    public ParamLayout layout() { return layout; }
    public int batch() { return batch; }
    public int seqLen() { return seqLen; }
    /** The parameters, in {@link ParamLayout} order from offset 0. */
    public float[] params() { return params; }
    /** d(mean loss)/d(params), same layout; {@link #backward} accumulates into it. */
    public float[] grads() { return grads; }

    /**
     * GPT-2's initialisation, reproducible from {@code seed}: weight matrices and embeddings from
     * N(0, 0.02), the residual output projections (Wo, W2) from N(0, 0.02 / sqrt(2L)) so the residual
     * stream's variance does not grow with depth, biases 0, norm gains 1.
     */
    public void init(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float residualStd = (float) (0.02 / Math.sqrt(2.0 * L));
        for (ParamLayout.Entry e : layout.entries()) {
            int from = e.offset(), to = from + e.size();
            if (e.decay()) {
                float std = e.name().endsWith("attn.wo") || e.name().endsWith("mlp.w2") ? residualStd : 0.02f;
                for (int i = from; i < to; i++) {
                    params[i] = (float) (std * rnd.nextGaussian());
                }
            } else {
                Arrays.fill(params, from, to, e.name().endsWith(".g") ? 1f : 0f);
            }
        }
    }

    /**
     * Runs the model on {@code tokens} ([B, T] row-major, each in [0, V)) and, when {@code targets} is
     * not null ([B, T], each in [0, V) or -1 for a row that does not count), the loss. Returns the mean
     * loss over counted rows (0 when no row counts), or NaN without targets. Validates every token and
     * target before computing anything.
     */
    public double forward(Parallelism par, int[] tokens, int[] targets) {
        Checks.team(par);
        checkIds("tokens", tokens, 0, false);
        if (targets != null) {
            checkIds("targets", targets, -1, true);
        }
        System.arraycopy(tokens, 0, this.tokens, 0, rows);

        // x0 = wte[tok] + wpe[t]
        int x0 = resid[0];
        for (int r = 0; r < rows; r++) {
            int e = po.wte + tokens[r] * C, p = po.wpe + (r % seqLen) * C, x = x0 + r * C;
            for (int j = 0; j < C; j++) {
                acts[x + j] = params[e + j] + params[p + j];
            }
        }
        for (int l = 0; l < L; l++) {
            po.attentionIn(par, cfg, l, params, rows, acts, resid[l], acts, ln1[l], acts, ln1Mean[l], ln1Rstd[l], acts, qkv[l]);
            int q = qkv[l];
            Attention.forward(par, attention, acts, q, qLayout, acts, q + A, qLayout, acts, q + A + Hkv * D, qLayout,
                    null, 0, acts, att[l], oLayout, acts, attLse[l]);
            po.attentionOut(par, cfg, l, params, rows, acts, resid[l], acts, att[l], acts, xmid[l], acts, ln2[l],
                    acts, ln2Mean[l], ln2Rstd[l], acts, fch[l], acts, fchGelu[l], acts, resid[l + 1]);
        }
        normForward(par, po.lnfG, po.lnfB, resid[L], lnf, lnfMean, lnfRstd);
        // logits = lnf wte^T: (BT, C) x (C, V), wte stored (V, C)
        Gemm.sgemm(par, Transpose.N, Transpose.T, rows, V, C, 1f, acts, lnf, C, params, po.wte, C, 0f, acts, logits, V);

        haveTargets = targets != null;
        if (!haveTargets) {
            return Double.NaN;
        }
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
                sum += acts[losses + r];
            }
        }
        return counted == 0 ? 0 : sum / counted;
    }

    /** Copies the last forward's logits, [B, T, V] row-major, into {@code dst} from {@code dstOff}. */
    public void logits(float[] dst, int dstOff) {
        Checks.vector("dst", dst, dstOff, rows * V);
        System.arraycopy(acts, logits, dst, dstOff, rows * V);
    }

    /** One logit of the last forward: row {@code b * T + t}, vocabulary entry v. */
    public float logit(int row, int v) {
        if (row < 0 || row >= rows || v < 0 || v >= V) {
            throw new IllegalArgumentException("row=" + row + ", v=" + v + " outside [0, " + rows + ") x [0, " + V + ")");
        }
        return acts[logits + row * V + v];
    }

    public void zeroGrads() {
        Arrays.fill(grads, 0f);
    }

    /** {@link #zeroGrads()} on a team. */
    public void zeroGrads(Parallelism par) {
        Checks.team(par);
        par.forEach(parts(grads.length, ZERO_CHUNK), zeroPart);
    }

    private void zeroGradsPart(int part) {
        int from = part * ZERO_CHUNK;
        Arrays.fill(grads, from, Math.min(grads.length, from + ZERO_CHUNK), 0f);
    }

    /** Rows [32 part, ...) of the per-row losses and logsumexps (rows are independent). */
    private void crossEntropyForward(int part) {
        int r0 = part * CE_ROWS, n = Math.min(CE_ROWS, rows - r0);
        CrossEntropy.forward(n, V, acts, logits + r0 * V, V, safeTargets, r0, acts, losses + r0, acts, logitLse + r0);
    }

    /** dlogits = dloss * (softmax - onehot) for rows [32 part, ...), overwriting. */
    private void crossEntropyBackward(int part) {
        int r0 = part * CE_ROWS, n = Math.min(CE_ROWS, rows - r0);
        Arrays.fill(scratch, dLogits + r0 * V, dLogits + (r0 + n) * V, 0f);
        CrossEntropy.backward(n, V, scratch, dLoss + r0, acts, logits + r0 * V, V, safeTargets, r0, acts, logitLse + r0,
                scratch, dLogits + r0 * V, V);
    }

    private static int parts(int n, int per) {
        return (n + per - 1) / per;
    }

    /**
     * ACCUMULATES d(mean loss)/d(params) of the last forward into {@link #grads()}. The last forward
     * must have had targets.
     */
    public void backward(Parallelism par) {
        Checks.team(par);
        if (!haveTargets) {
            throw new IllegalStateException("backward needs a forward with targets first");
        }
        float[] s = scratch;
        // loss = sum_r counted(r) * losses[r] / counted
        float w = counted == 0 ? 0f : 1f / counted;
        for (int r = 0; r < rows; r++) {
            s[dLoss + r] = ignored[r] ? 0f : w;
        }
        par.forEach(parts(rows, CE_ROWS), ceBackward);
        // logits = lnf wte^T:  dwte += dlogits^T lnf,  dlnf = dlogits wte
        Gemm.sgemm(par, Transpose.T, Transpose.N, V, C, rows, 1f, s, dLogits, V, acts, lnf, C, 1f, grads, po.wte, C);
        Gemm.sgemm(par, Transpose.N, Transpose.N, rows, C, V, 1f, s, dLogits, V, params, po.wte, C, 0f, s, dLn, C);
        Arrays.fill(s, dResid, dResid + rows * C, 0f);
        normBackward(par, po.lnfG, po.lnfB, resid[L], lnfMean, lnfRstd);

        for (int l = L - 1; l >= 0; l--) {
            // x = xm + g W2 + b2: dxm = dx (already in dResid), dg = dx W2^T
            linearBackward(par, F, C, fchGelu[l], po.w2[l], po.b2[l], dResid, dFchGelu);
            // g = GELU(u)
            Arrays.fill(s, dFch, dFch + rows * F, 0f);
            Gelu.backward(par, rows * F, s, dFchGelu, acts, fch[l], s, dFch);
            // u = h2 W1 + b1
            linearBackward(par, C, F, ln2[l], po.w1[l], po.b1[l], dFch, dLn);
            // h2 = Norm2(xm): dxm += Norm2'(dh2)
            normBackward(par, po.ln2G[l], po.ln2B[l], xmid[l], ln2Mean[l], ln2Rstd[l]);
            // xm = x + o Wo + bo: dx = dxm (stays in dResid), do = dxm Wo^T
            linearBackward(par, A, C, att[l], po.wo[l], po.bo[l], dResid, dAtt);
            // o = Attention(q, k, v): dq, dk, dv land in their columns of dqkv
            Arrays.fill(s, dQkv, dQkv + rows * W, 0f);
            int q = qkv[l];
            Attention.backward(par, attention, s, dAtt, oLayout, acts, q, qLayout, acts, q + A, qLayout,
                    acts, q + A + Hkv * D, qLayout, null, 0, acts, att[l], oLayout, acts, attLse[l],
                    s, dQkv, qLayout, s, dQkv + A, qLayout, s, dQkv + A + Hkv * D, qLayout);
            // qkv = h Wqkv + bqkv
            linearBackward(par, C, W, ln1[l], po.wqkv[l], po.bqkv[l], dQkv, dLn);
            // h = Norm1(x): dx += Norm1'(dh)
            normBackward(par, po.ln1G[l], po.ln1B[l], resid[l], ln1Mean[l], ln1Rstd[l]);
        }
        // x0 = wte[tok] + wpe[t], summed in row order so the bits do not depend on the team
        for (int r = 0; r < rows; r++) {
            int e = po.wte + tokens[r] * C, p = po.wpe + (r % seqLen) * C, d = dResid + r * C;
            for (int j = 0; j < C; j++) {
                grads[e + j] += s[d + j];
                grads[p + j] += s[d + j];
            }
        }
    }

    /**
     * Backward of {@code y = x w + bias} with the upstream gradient at {@code dy} in the scratch arena:
     * dw and dbias ACCUMULATE into grads, dx (scratch) is OVERWRITTEN.
     */
    private void linearBackward(Parallelism par, int in, int out, int x, int w, int bias, int dy, int dx) {
        float[] s = scratch;
        Gemm.sgemm(par, Transpose.N, Transpose.T, rows, in, out, 1f, s, dy, out, params, w, out, 0f, s, dx, in);
        Gemm.sgemm(par, Transpose.T, Transpose.N, in, out, rows, 1f, acts, x, in, s, dy, out, 1f, grads, w, out);
        ResidualAdd.backward(rows, out, 1f, s, dy, out, null, 0, 0, null, 0, 0, grads, bias);
    }

    private void normForward(Parallelism par, int gain, int bias, int x, int y, int mean, int rstd) {
        ParamOffsets.normForward(par, cfg, rows, params, gain, bias, acts, x, acts, y, acts, mean, rstd);
    }

    /** dResid += Norm'(dLn) for the norm whose input was x; its gain and bias gradients accumulate. */
    private void normBackward(Parallelism par, int gain, int bias, int x, int mean, int rstd) {
        if (cfg.norm() == NormKind.LAYER) {
            LayerNorm.backward(par, rows, C, scratch, dLn, C, acts, x, C, params, gain, acts, mean, acts, rstd,
                    scratch, dResid, C, grads, gain, grads, bias);
        } else {
            RmsNorm.backward(par, rows, C, scratch, dLn, C, acts, x, C, params, gain, acts, rstd,
                    scratch, dResid, C, grads, gain);
        }
    }

    private void checkIds(String name, int[] ids, int min, boolean allowIgnore) {
        if (ids == null) {
            throw new NullPointerException(name + " is null");
        }
        if (ids.length < rows) {
            throw new IllegalArgumentException(name + ".length=" + ids.length + " < batch*seqLen=" + rows);
        }
        for (int i = 0; i < rows; i++) {
            int t = ids[i];
            if ((t < 0 || t >= V) && !(allowIgnore && t == -1)) {
                throw new IllegalArgumentException(name + "[" + i + "]=" + t + " is outside [" + min + ", vocab=" + V + ")");
            }
        }
    }

    /** Offsets of consecutive slots in one flat array, counted in long so an oversized model is refused. */
    private static final class Arena {
        private final String what;
        private long next;

        Arena(String what) {
            this.what = what;
        }

        int slot(long size) {
            long at = next;
            next += size;
            if (next > Integer.MAX_VALUE - 16) {
                throw new IllegalArgumentException(what + " need " + next + " floats, more than one Java array holds;"
                        + " use a smaller batch or seqLen");
            }
            return (int) at;
        }

        int[] slots(int n, long size) {
            int[] at = new int[n];
            for (int i = 0; i < n; i++) {
                at[i] = slot(size);
            }
            return at;
        }

        float[] allocate() {
            return new float[(int) next];
        }
    }
}
