package dev.lanes.core.nn;

import dev.lanes.kernels.internal.Checks;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A GPT-style language model of pre-norm residual blocks with multi-query attention, trained with
 * hand-written backward passes over flat arenas (llm.c's layout, Lanes' kernels).
 *
 * <pre>
 * legend: B batch, T seqLen, BT = B*T rows, V vocab, C dim, L layers, Hq/Hkv heads, D headDim,
 *         W = (Hq + 2 Hkv) D fused projection width, A = Hq D attention width, F mlpDim
 *   x0 = wte[tok] + wpe[t]                                   (BT, C)   Embedding
 *   per block l:  h  = Norm1(x)                              (BT, C)   AttentionBlock
 *                 qkv = h Wqkv + bqkv                        (BT, W)   Q, K, V heads side by side
 *                 o  = Attention(q, k, v), causal top-left   (BT, A)   [B, T, Hq, D]
 *                 xm = x + o Wo + bo                          (BT, C)   residual added in the GEMM store
 *                 h2 = Norm2(xm)                                       MlpBlock
 *                 u  = h2 W1 + b1;  g = GELU_tanh(u)         (BT, F)
 *                 x  = xm + g W2 + b2                        (BT, C)   residual added in the GEMM store
 *   logits = Normf(x) wte^T                                  (BT, V)   Head: tied head
 *   loss = mean over rows with target != -1 of -log softmax(logits)[target]
 * </pre>
 *
 * <p>Each line group is one block class with its forward and backward side by side; the forward walks
 * them in order, the backward in reverse. Parameters and their gradients live in two arrays laid out
 * by {@link ParamLayout}, each block holding its tensors' offsets; every activation the backward needs
 * lives in one activation arena in which each block takes its slots in the constructor, and the
 * backward's gradients of activations in one scratch arena reused by every layer ({@link Buffers}).
 * The residual stream (each block's input and the attention half's output) is this class's. After
 * the first step (which sizes the kernels' per-thread workspaces) forward and backward allocate
 * nothing.
 *
 * <p>The GEMMs and the attention run on the caller's {@link Parallelism}; they give the same bits for
 * any team size, and the row-wise layers are serial, so a training step does too. Not safe for
 * concurrent use: one model, one caller at a time.
 */
public final class Gpt {
    /** Floats per part of zeroing the gradients on a team. */
    private static final int ZERO_CHUNK = 1 << 16;

    private final GptConfig cfg;
    private final ParamLayout layout;
    private final int batch, seqLen, rows;
    private final int V, L;
    private final float[] params, grads;

    private final Embedding embedding;
    private final AttentionBlock[] attention;
    private final MlpBlock[] mlp;
    private final Head head;
    private final Buffers buf;

    // the residual stream in the activation arena, (BT, C) each:
    // resid[l] is block l's input, resid[L] the stack's output, xmid[l] block l's attention half's output
    private final int[] resid, xmid;

    private final Parallelism.PartTask zeroPart = this::zeroGradsPart;
    private final int[] tokens;
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
        L = cfg.layers();
        params = new float[layout.size()];
        grads = new float[layout.size()];

        Arena a = new Arena("activations");
        long rc = (long) rows * cfg.dim();
        resid = new int[L + 1];
        xmid = new int[L];
        embedding = new Embedding(cfg, layout);
        attention = new AttentionBlock[L];
        mlp = new MlpBlock[L];
        for (int l = 0; l < L; l++) {
            resid[l] = a.slot(rc);
            attention[l] = new AttentionBlock(cfg, layout, l, batch, seqLen, a);
            xmid[l] = a.slot(rc);
            mlp[l] = new MlpBlock(cfg, layout, l, rows, a);
        }
        resid[L] = a.slot(rc);
        head = new Head(cfg, layout, rows, a);
        buf = new Buffers(cfg, rows, params, grads, a.allocate());
        for (int l = 0; l < L; l++) {
            attention[l].bind(buf);
            mlp[l].bind(buf);
        }
        head.bind(buf);
        tokens = new int[rows];
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

        embedding.forward(params, tokens, 0, rows, seqLen, 0, buf.acts, resid[0]);
        for (int l = 0; l < L; l++) {
            attention[l].forward(par, resid[l], xmid[l]);
            mlp[l].forward(par, xmid[l], resid[l + 1]);
        }
        head.forward(par, resid[L]);

        haveTargets = targets != null;
        return haveTargets ? head.loss(par, targets) : Double.NaN;
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
        // the residual stream's gradient, dResid, runs from the head back to the embedding
        head.backward(par, resid[L]);
        for (int l = L - 1; l >= 0; l--) {
            mlp[l].backward(par, xmid[l]);
            attention[l].backward(par, resid[l]);
        }
        embedding.backward(grads, tokens, rows, seqLen, buf.scratch, buf.dResid);
    }

    /** Copies the last forward's logits, [B, T, V] row-major, into {@code dst} from {@code dstOff}. */
    public void logits(float[] dst, int dstOff) {
        Checks.vector("dst", dst, dstOff, rows * V);
        System.arraycopy(buf.acts, head.logits(), dst, dstOff, rows * V);
    }

    /** One logit of the last forward: row {@code b * T + t}, vocabulary entry v. */
    public float logit(int row, int v) {
        if (row < 0 || row >= rows || v < 0 || v >= V) {
            throw new IllegalArgumentException("row=" + row + ", v=" + v + " outside [0, " + rows + ") x [0, " + V + ")");
        }
        return buf.acts[head.logits() + row * V + v];
    }

    public void zeroGrads() {
        Arrays.fill(grads, 0f);
    }

    /** {@link #zeroGrads()} on a team. */
    public void zeroGrads(Parallelism par) {
        Checks.team(par);
        par.forEach((grads.length + ZERO_CHUNK - 1) / ZERO_CHUNK, zeroPart);
    }

    private void zeroGradsPart(int part) {
        int from = part * ZERO_CHUNK;
        Arrays.fill(grads, from, Math.min(grads.length, from + ZERO_CHUNK), 0f);
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
}
