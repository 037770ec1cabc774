package dev.lanes.core.attention;

import dev.lanes.kernels.Overlap;

import dev.lanes.kernels.Parallelism;

/**
 * The keys and values of one attention layer during decoding, for every batch entry and kv head:
 *
 * <pre>
 *   kT:   [B, Hkv, cap / KT, D, KT]  keys in transposed tiles of KT positions (Tuning.attnKeys() when made): one
 *                                    query token then streams K^T as full vectors, contiguously
 *   v:    [B, Hkv, cap, D]           cap = capacity rounded up to a multiple of KT
 *   positions [0, length()) filled, in the order appended
 * </pre>
 *
 * {@link #append} adds the K/V rows of n new positions; {@link #attend} then runs the n newest queries
 * against everything cached with bottom-right causal alignment (query i of n sees positions
 * {@code j <= length - n + i}), which gives the same output as a full forward over the whole sequence
 * with TOP_LEFT causal masking, up to rounding. Decoding is bandwidth-bound: each step streams the
 * whole cache once per kv head, shared by the G query heads of its group. Not safe for concurrent use;
 * steady-state calls allocate nothing.
 */
public final class KVCache {
    private final int batch, kvHeads, headDim, capacity, cap, keyTile;
    private final float[] kT, v;
    private final HeadLayout layout;
    private int length;
    private float[] lseScratch = new float[0];

    /** An empty cache of {@code capacity} positions for B batch entries, Hkv heads of dimension D. */
    public KVCache(int batch, int kvHeads, int headDim, int capacity) {
        if (batch < 0 || kvHeads < 1 || headDim < 1 || capacity < 0) {
            throw new IllegalArgumentException("B=" + batch + ", Hkv=" + kvHeads + ", D=" + headDim + ", capacity="
                    + capacity + ": need B >= 0, Hkv >= 1, D >= 1, capacity >= 0");
        }
        int kt = dev.lanes.kernels.Tuning.current().attnKeys();
        long capRounded = ((long) capacity + kt - 1) / kt * kt;
        long size = (long) batch * kvHeads * capRounded * headDim;
        if (size > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("B=" + batch + ", Hkv=" + kvHeads + ", D=" + headDim + ", capacity="
                    + capacity + ": a cache of " + size + " floats exceeds one Java array");
        }
        this.batch = batch;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.capacity = capacity;
        this.cap = (int) capRounded;
        this.keyTile = kt;
        this.kT = new float[(int) size];
        this.v = new float[(int) size];
        this.layout = HeadLayout.contiguous(kvHeads, cap, headDim);
    }

    public int length() { return length; }
    public int capacity() { return capacity; }
    public int batch() { return batch; }
    public int kvHeads() { return kvHeads; }
    public int headDim() { return headDim; }

    /** Forgets every position (the storage is kept). */
    public void reset() {
        length = 0;
    }

    /**
     * Appends n positions: k and v are {@code [B, Hkv, n, D]} views. Throws before copying anything
     * when they do not fit.
     */
    public void append(int n, float[] k, int kOff, HeadLayout ks, float[] v, int vOff, HeadLayout vs) {
        if (n < 0) {
            throw new IllegalArgumentException("n=" + n + " < 0");
        }
        if ((long) length + n > capacity) {
            throw new IllegalArgumentException("length=" + length + " + n=" + n + " > capacity=" + capacity);
        }
        Views.check("k", k, kOff, ks, batch, kvHeads, n, headDim);
        Views.check("v", v, vOff, vs, batch, kvHeads, n, headDim);
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < kvHeads; h++) {
                for (int i = 0; i < n; i++) {
                    int dst = (int) layout.at(b, h, length + i);
                    int src = (int) (kOff + ks.at(b, h, i));
                    int j = length + i, kt = keyTile;
                    int dstT = (int) layout.at(b, h, 0) + j / kt * (kt * headDim) + j % kt; // kT[b, h, j/KT, 0, j%KT]
                    for (int d = 0; d < headDim; d++) {
                        kT[dstT + d * kt] = k[src + d];
                    }
                    System.arraycopy(v, (int) (vOff + vs.at(b, h, i)), this.v, dst, headDim);
                }
            }
        }
        length += n;
    }

    /**
     * {@code o = attention(q, cached k, cached v)} for the n newest positions:
     *
     * <pre>
     *   q, o: [B, Hq, n, D] views; Hq % Hkv == 0, n {@literal <=} length()
     *   lse:  [B, Hq, n] contiguous, or null when not wanted
     *   query i sees cached positions j {@literal <=} length() - n + i
     * </pre>
     */
    public void attend(Parallelism par, int heads, int n, float scale, float[] q, int qOff, HeadLayout qs,
                       float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
        dev.lanes.kernels.internal.Checks.team(par);
        if (heads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("Hq=" + heads + " is not a positive multiple of Hkv=" + kvHeads);
        }
        if (n < 0 || n > length) {
            throw new IllegalArgumentException("n=" + n + " outside [0, length=" + length + "]");
        }
        if (!(scale > 0f && Float.isFinite(scale))) {
            throw new IllegalArgumentException("scale=" + scale + " must be finite and > 0");
        }
        Views.check("q", q, qOff, qs, batch, heads, n, headDim);
        Views.check("o", o, oOff, os, batch, heads, n, headDim);
        long lseLen = (long) batch * heads * n;
        if (lse != null) {
            Views.checkFlat("lse", lse, lseOff, lseLen);
        }
        Overlap set = Overlap.views();
        Views.add(set, false, "q", q, qOff, qs, batch, heads, n, headDim);
        Views.add(set, true, "o", o, oOff, os, batch, heads, n, headDim);
        set.output("lse", lse, lseOff, (int) lseLen).check();
        if (lse == null) {
            if (lseScratch.length < lseLen) {
                lseScratch = new float[(int) lseLen];
            }
            lse = lseScratch;
            lseOff = 0;
        }
        Attention.forwardCached(par, batch, heads, kvHeads, n, length, headDim, scale, q, qOff, qs, kT, v, layout,
                keyTile, o, oOff, os, lse, lseOff);
    }

    /** {@link #attend} with scale {@code 1/sqrt(D)}, on the default team, without logsumexp. */
    public void attend(int heads, int n, float[] q, int qOff, HeadLayout qs, float[] o, int oOff, HeadLayout os) {
        attend(Parallelism.defaultParallelism(), heads, n, (float) (1.0 / Math.sqrt(headDim)), q, qOff, qs,
                o, oOff, os, null, 0);
    }
}
