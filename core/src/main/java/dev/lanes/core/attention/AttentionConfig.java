package dev.lanes.core.attention;

import java.util.Arrays;

/**
 * The fixed part of a batched multi-query attention call: the shapes, the scale and the masks. Built
 * once (per layer) and immutable; the tensors, their offsets and their strides are call arguments.
 *
 * <pre>
 *   B    batch            Hq   query heads          Hkv  key/value heads, Hq % Hkv == 0, G = Hq / Hkv
 *   T    queries          S    keys                 D    head dimension
 *   query head h reads key/value head h / G (contiguous groups: MHA when G = 1, MQA when Hkv = 1)
 *
 *   logit[b,h,i,j] = scale * q[b,h,i,:] . k[b,h/G,j,:] + bias[..., i, j]    where visible, else -inf
 *   visible(b,i,j) = j {@literal <} keyLength[b]  and  (causal: j {@literal <=} i + offset)
 *   offset         = 0 (TOP_LEFT, PyTorch's is_causal) or S - T (BOTTOM_RIGHT, decoding after a cache)
 * </pre>
 *
 * A query row that sees no key gives zeros, logsumexp -inf and zero gradients.
 */
public final class AttentionConfig {
    final int batch, heads, kvHeads, queries, keys, headDim;
    final float scale;
    final CausalMask causal;
    final int[] keyLengths; // null = all S
    final BiasShape bias;
    final int keySplit;

    private AttentionConfig(Builder b) {
        this.batch = b.batch;
        this.heads = b.heads;
        this.kvHeads = b.kvHeads;
        this.queries = b.queries;
        this.keys = b.keys;
        this.headDim = b.headDim;
        this.scale = b.scaleSet ? b.scale : defaultScale(b.headDim);
        this.causal = b.causal;
        this.keyLengths = b.keyLengths == null ? null : b.keyLengths.clone();
        this.bias = b.bias;
        this.keySplit = b.keySplit > 0 ? b.keySplit : defaultKeySplit(batch, kvHeads, keys);
    }

    /**
     * The backward cuts the keys of each (batch, kv head) into this many interleaved chunks, each with
     * its own dQ partial, so that few heads still give the team parts to share; the partials are added
     * in a fixed order. It depends on the shape only, never on the team, so the bits do not either.
     */
    static int defaultKeySplit(int batch, int kvHeads, int keys) {
        long pairs = Math.max(1L, (long) batch * kvHeads);
        int kt = dev.lanes.kernels.Tuning.current().attnBwdKeys();
        int tiles = Math.max(1, (keys + kt - 1) / kt);
        return (int) Math.max(1, Math.min(tiles, (Attention.MIN_BACKWARD_PARTS + pairs - 1) / pairs));
    }

    /** The scale used when none is given: {@code 1/sqrt(D)} rounded to float. */
    public static float defaultScale(int headDim) {
        return (float) (1.0 / Math.sqrt(headDim));
    }

    /** Starts a configuration {@code B, Hq, Hkv, T, S, D}; scale defaults to {@link #defaultScale}{@code (D)}. */
    public static Builder builder(int batch, int heads, int kvHeads, int queries, int keys, int headDim) {
        return new Builder(batch, heads, kvHeads, queries, keys, headDim);
    }

    public int batch() { return batch; }
    public int heads() { return heads; }
    public int kvHeads() { return kvHeads; }
    public int queries() { return queries; }
    public int keys() { return keys; }
    public int headDim() { return headDim; }
    public float scale() { return scale; }
    public CausalMask causal() { return causal; }
    public BiasShape biasShape() { return bias; }
    public int keySplit() { return keySplit; }

    /** Query heads per key/value head. */
    public int groupSize() {
        return heads / kvHeads;
    }

    /** The visible key count of batch entry b before the causal mask (S without key lengths). */
    public int keyLength(int b) {
        return keyLengths == null ? keys : keyLengths[b];
    }

    /** A copy of the per-batch key lengths, or null when every entry sees all S keys. */
    public int[] keyLengths() {
        return keyLengths == null ? null : keyLengths.clone();
    }

    /** Multiply-adds of a forward pass without masks, for GFLOP/s figures: 2 * B*Hq*T*S*D. */
    public long forwardMacs() {
        return 2L * batch * heads * queries * keys * headDim;
    }

    @Override
    public String toString() {
        return "AttentionConfig[B=" + batch + ", Hq=" + heads + ", Hkv=" + kvHeads + ", T=" + queries + ", S=" + keys
                + ", D=" + headDim + ", scale=" + scale + ", causal=" + causal + ", keyLengths="
                + Arrays.toString(keyLengths) + ", bias=" + bias + "]";
    }

    /** Collects the options; {@link #build()} validates them all at once. */
    public static final class Builder {
        private final int batch, heads, kvHeads, queries, keys, headDim;
        private float scale;
        private boolean scaleSet; // false: defaultScale(D); no float value stands for "default"
        private CausalMask causal = CausalMask.NONE;
        private int[] keyLengths;
        private BiasShape bias = BiasShape.NONE;
        private int keySplit;

        private Builder(int batch, int heads, int kvHeads, int queries, int keys, int headDim) {
            this.batch = batch;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.queries = queries;
            this.keys = keys;
            this.headDim = headDim;
        }

        /**
         * The logit scale: finite and > 0, else {@link IllegalArgumentException} here (NaN does not mean
         * "default"). Without this call, or after {@link #defaultScale()}, it is {@code 1/sqrt(D)}.
         */
        public Builder scale(float scale) {
            if (!(scale > 0f && Float.isFinite(scale))) {
                throw new IllegalArgumentException("scale=" + scale + " must be finite and > 0 (leave it unset, or call"
                        + " defaultScale(), for 1/sqrt(D))");
            }
            this.scale = scale;
            this.scaleSet = true;
            return this;
        }

        /** Back to the default scale {@code 1/sqrt(D)}. */
        public Builder defaultScale() {
            this.scaleSet = false;
            return this;
        }

        public Builder causal(CausalMask causal) {
            this.causal = causal;
            return this;
        }

        /** Batch entry b sees keys {@code j < keyLengths[b]} (padding); null = all S. Copied. */
        public Builder keyLengths(int... keyLengths) {
            this.keyLengths = keyLengths == null ? null : keyLengths.clone();
            return this;
        }

        public Builder bias(BiasShape bias) {
            this.bias = bias;
            return this;
        }

        /** Overrides the backward's key chunks per (batch, kv head); 0 = the shape's default. */
        public Builder keySplit(int keySplit) {
            this.keySplit = keySplit;
            return this;
        }

        public AttentionConfig build() {
            nonNegative("B", batch);
            positive("Hq", heads);
            positive("Hkv", kvHeads);
            nonNegative("T", queries);
            nonNegative("S", keys);
            positive("D", headDim);
            nonNegative("keySplit", keySplit);
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException("Hq=" + heads + " is not a multiple of Hkv=" + kvHeads);
            }
            if (causal == null) {
                throw new NullPointerException("causal is null");
            }
            if (bias == null) {
                throw new NullPointerException("bias is null");
            }
            if (keyLengths != null) {
                if (keyLengths.length != batch) {
                    throw new IllegalArgumentException("keyLengths.length=" + keyLengths.length + " != B=" + batch);
                }
                for (int b = 0; b < batch; b++) {
                    if (keyLengths[b] < 0 || keyLengths[b] > keys) {
                        throw new IllegalArgumentException("keyLengths[" + b + "]=" + keyLengths[b]
                                + " outside [0, S=" + keys + "]");
                    }
                }
            }
            return new AttentionConfig(this);
        }

        private static void nonNegative(String name, int v) {
            if (v < 0) {
                throw new IllegalArgumentException(name + "=" + v + " < 0");
            }
        }

        private static void positive(String name, int v) {
            if (v < 1) {
                throw new IllegalArgumentException(name + "=" + v + " < 1");
            }
        }
    }
}
