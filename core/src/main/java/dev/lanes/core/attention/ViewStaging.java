package dev.lanes.core.attention;

import dev.lanes.kernels.Overlap;
import dev.lanes.kernels.Parallelism;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The {@link AttentionView} entry points: every view is validated (segment views in {@code long}) and
 * the whole call's views, arrays and segments together, go through {@link Overlap} with the array entry
 * points' rule before anything is staged or written. Array views then go to the array entry points as
 * they are; each segment view is copied into a per-thread heap buffer laid out contiguously
 * (outputs that accumulate, dq, dk and dv, with their current values) and copied back after the call.
 * Attention reads each element of Q, K and V once per O(S) or O(T) operations, so the copies cost a
 * small fraction of the call; the array kernels compute every element by the same operations
 * whatever the layout, so the bits equal those of the arrays holding the same values.
 */
final class ViewStaging {
    private ViewStaging() {}

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Per-thread buffers, one per role, grown to the largest shape seen. */
    private static final class Buffers {
        final float[][] bufs = new float[10][0];
        final HeadLayout[] layouts = new HeadLayout[10];
    }

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);
    private static final int Q = 0, K = 1, V = 2, BIAS = 3, O = 4, LSE = 5, DO = 6, DQ = 7, DK = 8, DV = 9;

    static void forward(Parallelism par, AttentionConfig cfg, AttentionView q, AttentionView k, AttentionView v,
                        AttentionView bias, AttentionView o, AttentionView lse, float[] scores) {
        notNull(par, "par");
        notNull(cfg, "cfg");
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        long biasLen = checkForwardViews(cfg, q, k, v, bias, o, lse);
        writable("o", o);
        writable("lse", lse);
        Overlap fset = forwardViews(Overlap.views(), true, cfg, q, k, v, bias, o, lse);
        if (scores != null) {
            fset.output("scores", scores, 0, Attention.checkScores(cfg, scores));
        }
        fset.check();
        Buffers st = BUFFERS.get();
        stage(st, Q, q, B, Hq, T, D, true);
        stage(st, K, k, B, Hkv, S, D, true);
        stage(st, V, v, B, Hkv, S, D, true);
        if (biasLen >= 0) {
            stageFlat(st, BIAS, bias, biasLen, true);
        }
        stage(st, O, o, B, Hq, T, D, false);
        stageFlat(st, LSE, lse, (long) B * Hq * T, false);
        Attention.forward(par, cfg, arr(st, Q, q), off(q), lay(st, Q, q), arr(st, K, k), off(k), lay(st, K, k),
                arr(st, V, v), off(v), lay(st, V, v), biasLen >= 0 ? arr(st, BIAS, bias) : null,
                biasLen >= 0 ? off(bias) : 0, arr(st, O, o), off(o), lay(st, O, o), arr(st, LSE, lse), off(lse),
                scores);
        unstage(st, O, o, B, Hq, T, D);
        unstageFlat(st, LSE, lse, (long) B * Hq * T);
    }

    static void backward(Parallelism par, AttentionConfig cfg, AttentionView dO, AttentionView q, AttentionView k,
                         AttentionView v, AttentionView bias, AttentionView o, AttentionView lse, float[] scores,
                         AttentionView dq, AttentionView dk, AttentionView dv) {
        notNull(par, "par");
        notNull(cfg, "cfg");
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        check("dO", dO, B, Hq, T, D);
        long biasLen = checkForwardViews(cfg, q, k, v, bias, o, lse);
        check("dq", dq, B, Hq, T, D);
        check("dk", dk, B, Hkv, S, D);
        check("dv", dv, B, Hkv, S, D);
        writable("dq", dq);
        writable("dk", dk);
        writable("dv", dv);
        Overlap set = Overlap.views();
        add(set, false, "dO", dO, B, Hq, T, D);
        forwardViews(set, false, cfg, q, k, v, bias, o, lse);
        add(set, true, "dq", dq, B, Hq, T, D);
        add(set, true, "dk", dk, B, Hkv, S, D);
        add(set, true, "dv", dv, B, Hkv, S, D);
        if (scores != null) {
            set.input("scores", scores, 0, Attention.checkScores(cfg, scores));
        }
        set.check();
        Buffers st = BUFFERS.get();
        stage(st, DO, dO, B, Hq, T, D, true);
        stage(st, Q, q, B, Hq, T, D, true);
        stage(st, K, k, B, Hkv, S, D, true);
        stage(st, V, v, B, Hkv, S, D, true);
        if (biasLen >= 0) {
            stageFlat(st, BIAS, bias, biasLen, true);
        }
        stage(st, O, o, B, Hq, T, D, true);
        stageFlat(st, LSE, lse, (long) B * Hq * T, true);
        stage(st, DQ, dq, B, Hq, T, D, true); // backward accumulates: start from the current values
        stage(st, DK, dk, B, Hkv, S, D, true);
        stage(st, DV, dv, B, Hkv, S, D, true);
        Attention.backward(par, cfg, arr(st, DO, dO), off(dO), lay(st, DO, dO),
                arr(st, Q, q), off(q), lay(st, Q, q), arr(st, K, k), off(k), lay(st, K, k),
                arr(st, V, v), off(v), lay(st, V, v), biasLen >= 0 ? arr(st, BIAS, bias) : null,
                biasLen >= 0 ? off(bias) : 0, arr(st, O, o), off(o), lay(st, O, o), arr(st, LSE, lse), off(lse), scores,
                arr(st, DQ, dq), off(dq), lay(st, DQ, dq), arr(st, DK, dk), off(dk), lay(st, DK, dk),
                arr(st, DV, dv), off(dv), lay(st, DV, dv));
        unstage(st, DQ, dq, B, Hq, T, D);
        unstage(st, DK, dk, B, Hkv, S, D);
        unstage(st, DV, dv, B, Hkv, S, D);
    }

    // ---------------------------------------------------------------------------------------------
    // Validation of segment views (array views are validated by the array entry points)

    private static void notNull(Object x, String name) {
        if (x == null) {
            throw new NullPointerException(name + " is null");
        }
    }

    /** q, k, v, bias, o, lse as the forward names them; returns the bias length, -1 without bias. */
    private static long checkForwardViews(AttentionConfig cfg, AttentionView q, AttentionView k, AttentionView v,
                                          AttentionView bias, AttentionView o, AttentionView lse) {
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        check("q", q, B, Hq, T, D);
        check("k", k, B, Hkv, S, D);
        check("v", v, B, Hkv, S, D);
        long biasLen = biasLength(cfg);
        if (biasLen >= 0) {
            checkFlat("bias", bias, biasLen);
        }
        check("o", o, B, Hq, T, D);
        checkFlat("lse", lse, (long) B * Hq * T);
        return biasLen;
    }

    private static long biasLength(AttentionConfig cfg) {
        return switch (cfg.bias) {
            case NONE -> -1;
            case SHARED -> (long) cfg.queries * cfg.keys;
            case PER_HEAD -> (long) cfg.batch * cfg.heads * cfg.queries * cfg.keys;
        };
    }

    static void check(String name, AttentionView x, int nb, int nh, int rows, int d) {
        notNull(x, name);
        if (!x.isSegment()) {
            if (x.layout == null) {
                throw new IllegalArgumentException(name + " is a flat view; a [B, H, N, D] view is needed");
            }
            Views.check(name, x.array, (int) x.offset, x.layout, nb, nh, rows, d);
            return;
        }
        if (x.offset < 0) {
            throw new IllegalArgumentException(name + "Off=" + x.offset + " < 0");
        }
        if (x.rowStride < d) {
            throw new IllegalArgumentException(name + " rowStride=" + x.rowStride + " < D=" + d);
        }
        if (x.headStride < 0 || x.batchStride < 0) {
            throw new IllegalArgumentException(name + " strides must be >= 0: " + x);
        }
        long length = x.segment.byteSize() / Float.BYTES;
        if (nb == 0 || nh == 0 || rows == 0) {
            if (x.offset > length) {
                throw new IllegalArgumentException(name + "Off=" + x.offset + " > " + name + " length=" + length);
            }
            return;
        }
        long end;
        try {
            end = Math.addExact(Math.addExact(Math.addExact(Math.addExact(x.offset,
                    Math.multiplyExact(nb - 1L, x.batchStride)), Math.multiplyExact(nh - 1L, x.headStride)),
                    Math.multiplyExact(rows - 1L, x.rowStride)), d);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(name + "'s extent overflows a long: " + x);
        }
        if (end > length) {
            throw new IllegalArgumentException(name + " too short: " + name + "Off=" + x.offset + " + (" + (nb - 1)
                    + ")*" + x.batchStride + " + (" + (nh - 1) + ")*" + x.headStride + " + (" + (rows - 1) + ")*"
                    + x.rowStride + " + D=" + d + " = " + end + " > " + name + " length=" + length + " floats");
        }
    }

    static void checkFlat(String name, AttentionView x, long len) {
        notNull(x, name);
        if (!x.isSegment()) {
            Views.checkFlat(name, x.array, (int) x.offset, len);
            return;
        }
        if (x.offset < 0) {
            throw new IllegalArgumentException(name + "Off=" + x.offset + " < 0");
        }
        long length = x.segment.byteSize() / Float.BYTES;
        if (x.offset + len > length) {
            throw new IllegalArgumentException(name + " too short: " + name + "Off=" + x.offset + " + " + len + " = "
                    + (x.offset + len) + " > " + name + " length=" + length + " floats");
        }
    }

    private static void writable(String name, AttentionView x) {
        if (x.isSegment() && x.segment.isReadOnly()) {
            throw new IllegalArgumentException(name + " is a read-only segment and is written by this call");
        }
    }

    /**
     * The array entry points' overlap set ({@code Views}): q, k, v and bias inputs, o and lse outputs of
     * a forward (inputs of a backward). The flat views as their dimensions, so no width passes 2^31.
     */
    private static Overlap forwardViews(Overlap set, boolean forwardWrites, AttentionConfig cfg, AttentionView q,
                                        AttentionView k, AttentionView v, AttentionView bias, AttentionView o,
                                        AttentionView lse) {
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        add(set, false, "q", q, B, Hq, T, D);
        add(set, false, "k", k, B, Hkv, S, D);
        add(set, false, "v", v, B, Hkv, S, D);
        switch (cfg.bias) {
            case NONE -> { }
            case SHARED -> add(set, false, "bias", bias, 1, 0, 1, 0, T, S, S);
            case PER_HEAD -> add(set, false, "bias", bias, B, (long) Hq * T * S, Hq, (long) T * S, T, S, S);
        }
        add(set, forwardWrites, "o", o, B, Hq, T, D);
        return add(set, forwardWrites, "lse", lse, 1, 0, B, (long) Hq * T, Hq, T, T);
    }

    private static Overlap add(Overlap set, boolean output, String name, AttentionView x, int nb, int nh, int rows,
                               int d) {
        return add(set, output, name, x, nb, x.batchStride, nh, x.headStride, rows, x.rowStride, d);
    }

    private static Overlap add(Overlap set, boolean output, String name, AttentionView x, int n0, long s0, int n1,
                               long s1, int n2, long s2, int width) {
        if (x.isSegment()) {
            return output ? set.output(name, x.segment, x.offset, n0, s0, n1, s1, n2, s2, width)
                    : set.input(name, x.segment, x.offset, n0, s0, n1, s1, n2, s2, width);
        }
        return output ? set.output(name, x.array, x.offset, n0, s0, n1, s1, n2, s2, width)
                : set.input(name, x.array, x.offset, n0, s0, n1, s1, n2, s2, width);
    }

    // ---------------------------------------------------------------------------------------------
    // Staging

    private static float[] buffer(Buffers st, int role, long floats) {
        if (floats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a segment operand of " + floats
                    + " floats is too large to stage through one heap buffer (at most 2^31 - 9)");
        }
        if (st.bufs[role].length < floats) {
            st.bufs[role] = new float[(int) floats];
        }
        return st.bufs[role];
    }

    /** A segment view copied (when load) into its role's buffer as a contiguous [nb, nh, rows, d]. */
    private static void stage(Buffers st, int role, AttentionView x, int nb, int nh, int rows, int d, boolean load) {
        if (!x.isSegment()) {
            return;
        }
        float[] buf = buffer(st, role, (long) nb * nh * rows * d);
        HeadLayout l = st.layouts[role];
        if (l == null || l.rowStride() != d || l.headStride() != rows * d || l.batchStride() != nh * rows * d) {
            st.layouts[role] = HeadLayout.contiguous(nh, rows, d);
        }
        if (!load) {
            return;
        }
        int i = 0;
        for (int b = 0; b < nb; b++) {
            for (int h = 0; h < nh; h++) {
                long row = x.offset + b * x.batchStride + h * x.headStride;
                for (int n = 0; n < rows; n++, i += d) {
                    MemorySegment.copy(x.segment, FLOAT, (row + n * x.rowStride) * Float.BYTES, buf, i, d);
                }
            }
        }
    }

    private static void unstage(Buffers st, int role, AttentionView x, int nb, int nh, int rows, int d) {
        if (!x.isSegment()) {
            return;
        }
        float[] buf = st.bufs[role];
        int i = 0;
        for (int b = 0; b < nb; b++) {
            for (int h = 0; h < nh; h++) {
                long row = x.offset + b * x.batchStride + h * x.headStride;
                for (int n = 0; n < rows; n++, i += d) {
                    MemorySegment.copy(buf, i, x.segment, FLOAT, (row + n * x.rowStride) * Float.BYTES, d);
                }
            }
        }
    }

    private static void stageFlat(Buffers st, int role, AttentionView x, long len, boolean load) {
        if (!x.isSegment()) {
            return;
        }
        float[] buf = buffer(st, role, len);
        if (load) {
            MemorySegment.copy(x.segment, FLOAT, x.offset * Float.BYTES, buf, 0, (int) len);
        }
    }

    private static void unstageFlat(Buffers st, int role, AttentionView x, long len) {
        if (x.isSegment()) {
            MemorySegment.copy(st.bufs[role], 0, x.segment, FLOAT, x.offset * Float.BYTES, (int) len);
        }
    }

    private static float[] arr(Buffers st, int role, AttentionView x) {
        return x.isSegment() ? st.bufs[role] : x.array;
    }

    private static int off(AttentionView x) {
        return x.isSegment() ? 0 : (int) x.offset;
    }

    private static HeadLayout lay(Buffers st, int role, AttentionView x) {
        return x.isSegment() ? st.layouts[role] : x.layout;
    }
}
