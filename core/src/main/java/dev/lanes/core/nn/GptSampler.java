package dev.lanes.core.nn;

import dev.lanes.core.attention.HeadLayout;
import dev.lanes.core.attention.KVCache;
import dev.lanes.kernels.internal.Checks;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Evaluation-mode decoding of a {@link Gpt}'s parameters with a {@link KVCache} per layer: each call to
 * {@link #feed} runs only the new tokens through the stack, their queries attending to every cached
 * position (bottom-right causal), so generating N tokens costs O(N) token passes instead of O(N^2).
 * The logits equal those of a full forward over the same prefix up to rounding.
 *
 * <pre>
 *   one sequence (B = 1); n new tokens per feed, n {@literal <=} chunk; positions [0, maxLen), maxLen {@literal <=} maxSeq
 *   per layer: the same lines as Gpt's forward on (n, .) rows; K, V appended to the layer's cache
 *   logits of the last new position only: (1, V)
 * </pre>
 *
 * It composes the same blocks as {@link Gpt} ({@link Embedding}, {@link AttentionBlock}'s projections
 * around the cache's attention, {@link MlpBlock}, {@link Head}) on per-chunk buffers shared by every
 * layer.
 *
 * The parameters are read, never written, and may change between calls (e.g. while training); the
 * caches then hold keys of the old parameters until {@link #reset}. Not safe for concurrent use. Steady
 * state allocates nothing.
 */
public final class GptSampler {
    private final GptConfig cfg;
    private final float[] params;
    private final int maxLen, chunk;
    private final int V, C, L, Hq, A, kvWidth;
    private final float scale;
    private final KVCache[] caches;
    private final Embedding embedding;
    private final AttentionBlock[] attention;
    private final MlpBlock[] mlp;
    private final Head head;
    // per-chunk scratch: (chunk, width) row-major
    private final float[] x, xm, h, qkv, att, fch, stats, logits, sorted;
    // the views of qkv and att, for any n <= chunk (one sequence: the batch stride is never used)
    private final HeadLayout qs, os;

    /**
     * A decoder over {@code params} (laid out by {@link ParamLayout#of}{@code (cfg)}) for sequences of
     * up to {@code maxLen} tokens, fed at most {@code chunk} tokens per call.
     */
    public GptSampler(GptConfig cfg, float[] params, int maxLen, int chunk) {
        if (cfg == null) {
            throw new NullPointerException("cfg is null");
        }
        ParamLayout layout = ParamLayout.of(cfg);
        Checks.vector("params", params, 0, layout.size());
        if (maxLen < 1 || maxLen > cfg.maxSeq() || chunk < 1 || chunk > maxLen) {
            throw new IllegalArgumentException("maxLen=" + maxLen + ", chunk=" + chunk + ": need 1 <= chunk <= maxLen <= maxSeq="
                    + cfg.maxSeq());
        }
        this.cfg = cfg;
        this.params = params;
        this.maxLen = maxLen;
        this.chunk = chunk;
        V = cfg.vocab();
        C = cfg.dim();
        L = cfg.layers();
        Hq = cfg.heads();
        int Hkv = cfg.kvHeads(), D = cfg.headDim(), W = cfg.qkvDim(), F = cfg.mlpDim();
        A = cfg.attnDim();
        kvWidth = Hkv * D;
        scale = (float) (1.0 / Math.sqrt(D));
        caches = new KVCache[L];
        embedding = new Embedding(cfg, layout);
        attention = new AttentionBlock[L];
        mlp = new MlpBlock[L];
        for (int l = 0; l < L; l++) {
            caches[l] = new KVCache(1, Hkv, D, maxLen);
            attention[l] = new AttentionBlock(cfg, layout, l);
            mlp[l] = new MlpBlock(cfg, layout, l);
        }
        head = new Head(cfg, layout);
        x = new float[chunk * C];
        xm = new float[chunk * C];
        h = new float[chunk * C];
        qkv = new float[chunk * W];
        att = new float[chunk * A];
        qs = HeadLayout.fused(chunk, W, D);
        os = HeadLayout.fused(chunk, A, D);
        fch = new float[chunk * F];
        stats = new float[2 * chunk];
        logits = new float[V];
        sorted = new float[V];
    }

    /** Tokens fed since the last reset: the position the next token takes. */
    public int length() {
        return caches[0].length();
    }

    /** Empties the caches (a new sequence). */
    public void reset() {
        for (KVCache c : caches) {
            c.reset();
        }
    }

    /**
     * Runs {@code n} tokens ({@code tokens[off .. off+n)}, each in [0, V)) at the next n positions and
     * returns the logits of the last one: an internal array of V floats, valid until the next call.
     */
    public float[] feed(Parallelism par, int[] tokens, int off, int n) {
        Checks.team(par);
        Checks.notNull(tokens, "tokens");
        if (n < 1 || n > chunk) {
            throw new IllegalArgumentException("n=" + n + " outside [1, chunk=" + chunk + "]");
        }
        if (off < 0 || (long) off + n > tokens.length) {
            throw new IllegalArgumentException("off=" + off + " + n=" + n + " > tokens.length=" + tokens.length);
        }
        int pos = length();
        if (pos + n > maxLen) {
            throw new IllegalArgumentException("length=" + pos + " + n=" + n + " > maxLen=" + maxLen + "; reset first");
        }
        for (int i = 0; i < n; i++) {
            int t = tokens[off + i];
            if (t < 0 || t >= V) {
                throw new IllegalArgumentException("tokens[" + (off + i) + "]=" + t + " is outside [0, vocab=" + V + ")");
            }
        }
        embedding.forward(params, tokens, off, n, n, pos, x, 0);
        for (int l = 0; l < L; l++) {
            attention[l].project(par, n, params, x, 0, h, 0, stats, 0, chunk, qkv, 0);
            caches[l].append(n, qkv, A, qs, qkv, A + kvWidth, qs);
            caches[l].attend(par, Hq, n, scale, qkv, 0, qs, att, 0, os, null, 0);
            attention[l].output(par, n, params, x, 0, att, 0, xm, 0);
            mlp[l].forward(par, n, params, xm, 0, h, 0, stats, 0, chunk, fch, 0, fch, 0, x, 0);
        }
        // the last new position only: rows [n - 1, n) of x
        head.logits(par, 1, params, x, (n - 1) * C, h, 0, stats, 0, chunk, logits, 0);
        return logits;
    }

    /**
     * Draws a token from the last logits: greedy (argmax, first on ties) when {@code temperature == 0},
     * else from {@code softmax(logits / temperature)} restricted to the {@code topK} largest logits
     * ({@code topK <= 0} or {@code >= V}: all). Throws {@link IllegalStateException} when nothing was fed
     * since the sampler was made or reset: there are no logits to draw from.
     */
    public int sample(float temperature, int topK, SplittableRandom rnd) {
        if (!(temperature >= 0f) || !Float.isFinite(temperature)) {
            throw new IllegalArgumentException("temperature=" + temperature + " must be finite and >= 0");
        }
        Checks.notNull(rnd, "rnd");
        if (length() == 0) {
            throw new IllegalStateException("sample before any feed: no logits yet (feed a prompt first)");
        }
        int best = 0;
        for (int v = 1; v < V; v++) {
            if (logits[v] > logits[best]) {
                best = v;
            }
        }
        if (temperature == 0f) {
            return best;
        }
        float threshold = Float.NEGATIVE_INFINITY;
        if (topK > 0 && topK < V) {
            System.arraycopy(logits, 0, sorted, 0, V);
            Arrays.sort(sorted);
            threshold = sorted[V - topK];
        }
        float max = logits[best];
        double total = 0;
        for (int v = 0; v < V; v++) {
            total += logits[v] >= threshold ? Math.exp((logits[v] - max) / temperature) : 0;
        }
        double u = rnd.nextDouble() * total, acc = 0;
        for (int v = 0; v < V; v++) {
            if (logits[v] >= threshold) {
                acc += Math.exp((logits[v] - max) / temperature);
                if (acc > u) {
                    return v;
                }
            }
        }
        return best; // u landed on the rounding slack at the top
    }

    /**
     * Resets, feeds {@code prompt} (at least one token) in chunks, then samples {@code count} tokens,
     * feeding each back; returns them. Stops early when the sequence reaches maxLen.
     */
    public int[] generate(Parallelism par, int[] prompt, int count, float temperature, int topK, long seed) {
        Checks.team(par);
        Checks.notNull(prompt, "prompt");
        if (prompt.length < 1 || prompt.length > maxLen) {
            throw new IllegalArgumentException("prompt.length=" + prompt.length + " outside [1, maxLen=" + maxLen + "]");
        }
        Checks.nonNegative("count", count);
        reset();
        for (int off = 0; off < prompt.length; off += chunk) {
            feed(par, prompt, off, Math.min(chunk, prompt.length - off));
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        int room = Math.min(count, maxLen - prompt.length + 1);
        int[] out = new int[Math.max(0, room)];
        int[] one = new int[1];
        for (int i = 0; i < out.length; i++) {
            out[i] = sample(temperature, topK, rnd);
            if (i + 1 < out.length) {
                one[0] = out[i];
                feed(par, one, 0, 1);
            }
        }
        return out;
    }
}
