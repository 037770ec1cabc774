package dev.lanes.core.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each parameter tensor of a {@link GptConfig} lives in one flat {@code float[]}, computed once
 * (llm.c's parameter arena). Gradients and optimizer moments use the same layout. Row-major; matrices
 * are stored (in, out) so a layer computes {@code y = x W}.
 *
 * <pre>
 *   wte [V, C]; wpe [Tmax, C]
 *   per layer l:  h.l.ln1.g [C], h.l.ln1.b [C] (LAYER only)
 *                 h.l.attn.wqkv [C, (Hq+2Hkv) D]   columns: Q heads, then K heads, then V heads
 *                 h.l.attn.bqkv [(Hq+2Hkv) D]
 *                 h.l.attn.wo [Hq D, C], h.l.attn.bo [C]
 *                 h.l.ln2.g [C], h.l.ln2.b [C] (LAYER only)
 *                 h.l.mlp.w1 [C, F], h.l.mlp.b1 [F], h.l.mlp.w2 [F, C], h.l.mlp.b2 [C]
 *   lnf.g [C], lnf.b [C] (LAYER only)
 * </pre>
 */
public final class ParamLayout {

    /** One tensor: {@code rows * cols} floats from {@code offset}; 1-D tensors have rows = 1. */
    public record Entry(String name, int offset, int rows, int cols, boolean decay) {
        public int size() {
            return rows * cols;
        }
    }

    private final List<Entry> entries;
    private final Map<String, Entry> byName;
    private final int size;

    private ParamLayout(List<Entry> entries, int size) {
        this.entries = Collections.unmodifiableList(entries);
        this.byName = new LinkedHashMap<>();
        for (Entry e : entries) {
            byName.put(e.name(), e);
        }
        this.size = size;
    }

    /**
     * How many floats {@link #of}{@code (cfg)} holds, computed without building it; Long.MAX_VALUE when
     * the count passes a long (the products of int fields can).
     */
    public static long floats(GptConfig cfg) {
        boolean bias = cfg.norm() == NormKind.LAYER;
        long C = cfg.dim(), F = cfg.mlpDim(), W = cfg.qkvDim(), A = cfg.attnDim();
        long perLayer = (bias ? 4 : 2) * C + C * W + W + A * C + C + 2 * C * F + F + C; // each term < 2^63 / 8
        long head = (long) cfg.vocab() * C + (long) cfg.maxSeq() * C + (bias ? 2 : 1) * C;
        if (perLayer > (Long.MAX_VALUE - head) / cfg.layers()) {
            return Long.MAX_VALUE;
        }
        return head + perLayer * cfg.layers();
    }

    public static ParamLayout of(GptConfig cfg) {
        Builder b = new Builder();
        int V = cfg.vocab(), C = cfg.dim(), F = cfg.mlpDim();
        boolean bias = cfg.norm() == NormKind.LAYER;
        // The total first: a config of a billion layers is refused before a billion entries exist.
        long total = floats(cfg);
        if (total > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("parameters exceed one Java array: " + total + " floats for " + cfg);
        }
        b.matrix("wte", V, C);
        b.matrix("wpe", cfg.maxSeq(), C);
        for (int l = 0; l < cfg.layers(); l++) {
            String p = "h." + l + ".";
            b.vector(p + "ln1.g", C);
            if (bias) {
                b.vector(p + "ln1.b", C);
            }
            b.matrix(p + "attn.wqkv", C, cfg.qkvDim());
            b.vector(p + "attn.bqkv", cfg.qkvDim());
            b.matrix(p + "attn.wo", cfg.attnDim(), C);
            b.vector(p + "attn.bo", C);
            b.vector(p + "ln2.g", C);
            if (bias) {
                b.vector(p + "ln2.b", C);
            }
            b.matrix(p + "mlp.w1", C, F);
            b.vector(p + "mlp.b1", F);
            b.matrix(p + "mlp.w2", F, C);
            b.vector(p + "mlp.b2", C);
        }
        b.vector("lnf.g", C);
        if (bias) {
            b.vector("lnf.b", C);
        }
        return new ParamLayout(b.entries, Math.toIntExact(b.next));
    }

    /** Total floats. */
    public int size() {
        return size;
    }

    /** Every tensor in storage order. */
    public List<Entry> entries() {
        return entries;
    }

    /** The tensor called {@code name}; throws naming it when there is none. */
    public Entry get(String name) {
        Entry e = byName.get(name);
        if (e == null) {
            throw new IllegalArgumentException("no parameter named '" + name + "'");
        }
        return e;
    }

    /** Offset of the tensor called {@code name}, or -1 when the layout has none (e.g. a bias under RMS). */
    public int offsetOrMinus1(String name) {
        Entry e = byName.get(name);
        return e == null ? -1 : e.offset();
    }

    private static final class Builder {
        final List<Entry> entries = new ArrayList<>();
        long next;

        void matrix(String name, int rows, int cols) {
            add(name, rows, cols, true);
        }

        void vector(String name, int n) {
            add(name, 1, n, false);
        }

        private void add(String name, int rows, int cols, boolean decay) {
            long n = (long) rows * cols;
            if (next + n > Integer.MAX_VALUE - 16) {
                throw new IllegalArgumentException("parameters exceed one Java array at '" + name + "' ("
                        + (next + n) + " floats)");
            }
            entries.add(new Entry(name, (int) next, rows, cols, decay));
            next += n;
        }
    }
}
