package dev.lanes.core.nn;

/**
 * The shape of a GPT-style stack of pre-norm residual blocks with multi-query attention.
 *
 * <pre>
 * legend: V vocab, Tmax maxSeq, L layers, C dim, Hq heads, Hkv kvHeads, D headDim, F mlpDim
 *   block: x = x + Attn(Norm1(x));  x = x + MLP(Norm2(x))
 *   Attn:  qkv = h Wqkv + bqkv  (C -> (Hq + 2 Hkv) D), causal attention, o Wo + bo  (Hq D -> C)
 *   MLP:   GELU_tanh(h W1 + b1) W2 + b2  (C -> F -> C)
 * </pre>
 *
 * {@code normEps} is the epsilon of every norm in the stack. Every count must be positive, {@code Hq} a
 * multiple of {@code Hkv}; the constructor says which one is not.
 */
public record GptConfig(int vocab, int maxSeq, int layers, int dim, int heads, int kvHeads, int headDim,
                        int mlpDim, NormKind norm, float normEps) {

    public GptConfig {
        positive("vocab", vocab);
        positive("maxSeq", maxSeq);
        positive("layers", layers);
        positive("dim", dim);
        positive("heads", heads);
        positive("kvHeads", kvHeads);
        positive("headDim", headDim);
        positive("mlpDim", mlpDim);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads=" + heads + " is not a multiple of kvHeads=" + kvHeads);
        }
        if (norm == null) {
            throw new NullPointerException("norm is null");
        }
        if (!(normEps > 0f) || !Float.isFinite(normEps)) {
            throw new IllegalArgumentException("normEps=" + normEps + " must be finite and > 0");
        }
        long qkv = ((long) heads + 2L * kvHeads) * headDim;
        if (qkv > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("(heads=" + heads + " + 2*kvHeads=" + kvHeads + ") * headDim=" + headDim
                    + " = " + qkv + " exceeds an int");
        }
    }

    /** GPT-2's defaults: D = C / Hq (C must divide), F = 4C, LayerNorm with eps 1e-5. */
    public static GptConfig of(int vocab, int maxSeq, int layers, int dim, int heads, int kvHeads) {
        if (heads > 0 && dim % heads != 0) {
            throw new IllegalArgumentException("dim=" + dim + " is not a multiple of heads=" + heads
                    + "; give headDim explicitly");
        }
        return new GptConfig(vocab, maxSeq, layers, dim, heads, kvHeads, heads > 0 ? dim / heads : 0,
                4 * dim, NormKind.LAYER, 1e-5f);
    }

    public GptConfig withNorm(NormKind norm) {
        return new GptConfig(vocab, maxSeq, layers, dim, heads, kvHeads, headDim, mlpDim, norm, normEps);
    }

    public GptConfig withMlpDim(int mlpDim) {
        return new GptConfig(vocab, maxSeq, layers, dim, heads, kvHeads, headDim, mlpDim, norm, normEps);
    }

    /** Width of the fused projection: {@code (Hq + 2 Hkv) D}. */
    public int qkvDim() {
        return (heads + 2 * kvHeads) * headDim;
    }

    /** Width of the attention output: {@code Hq D}. */
    public int attnDim() {
        return heads * headDim;
    }

    private static void positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + "=" + v + " must be >= 1");
        }
    }
}
