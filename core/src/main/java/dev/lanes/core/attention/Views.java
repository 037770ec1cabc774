package dev.lanes.core.attention;

import dev.lanes.kernels.Overlap;

/** Validation of the tensor views of the attention entry points; every check runs before any write. */
final class Views {
    private Views() {}

    /** Adds the {@code [nb, nh, rows, d]} view to the overlap set, as an input or an output. */
    static Overlap add(Overlap set, boolean output, String name, float[] x, int off, HeadLayout l, int nb, int nh,
                       int rows, int d) {
        return output
                ? set.output(name, x, off, nb, l.batchStride(), nh, l.headStride(), rows, l.rowStride(), d)
                : set.input(name, x, off, nb, l.batchStride(), nh, l.headStride(), rows, l.rowStride(), d);
    }

    /** Contiguous {@code [B, Hq, T]} logsumexp; Q, K, V and the bias are inputs, O and lse outputs. */
    private static Overlap forwardViews(Overlap set, boolean forwardWrites, AttentionConfig cfg,
                                        float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                                        float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                                        float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        add(set, false, "q", q, qOff, qs, B, Hq, T, D);
        add(set, false, "k", k, kOff, ks, B, Hkv, S, D);
        add(set, false, "v", v, vOff, vs, B, Hkv, S, D);
        set.input("bias", cfg.bias == BiasShape.NONE ? null : bias, biasOff, (int) biasLength(cfg));
        add(set, forwardWrites, "o", o, oOff, os, B, Hq, T, D);
        return forwardWrites ? set.output("lse", lse, lseOff, B * Hq * T) : set.input("lse", lse, lseOff, B * Hq * T);
    }

    /** A {@code [nb, nh, rows, d]} view of x at off with the given layout. */
    static void check(String name, float[] x, int off, HeadLayout l, int nb, int nh, int rows, int d) {
        if (x == null) {
            throw new NullPointerException(name + " is null");
        }
        if (l == null) {
            throw new NullPointerException(name + " layout is null");
        }
        if (off < 0) {
            throw new IllegalArgumentException(name + "Off=" + off + " < 0");
        }
        if (l.rowStride() < d) {
            throw new IllegalArgumentException(name + " rowStride=" + l.rowStride() + " < D=" + d);
        }
        if (l.headStride() < 0 || l.batchStride() < 0) {
            throw new IllegalArgumentException(name + " strides must be >= 0: " + l);
        }
        if (nb == 0 || nh == 0 || rows == 0) {
            if (off > x.length) {
                throw new IllegalArgumentException(name + "Off=" + off + " > " + name + ".length=" + x.length);
            }
            return;
        }
        long end = off + l.at(nb - 1, nh - 1, rows - 1) + d;
        if (end > x.length) {
            throw new IllegalArgumentException(name + " too short: " + name + "Off=" + off + " + (" + (nb - 1) + ")*"
                    + l.batchStride() + " + (" + (nh - 1) + ")*" + l.headStride() + " + (" + (rows - 1) + ")*"
                    + l.rowStride() + " + D=" + d + " = " + end + " > " + name + ".length=" + x.length);
        }
    }

    static void checkFlat(String name, float[] x, int off, long len) {
        if (x == null) {
            throw new NullPointerException(name + " is null");
        }
        if (off < 0) {
            throw new IllegalArgumentException(name + "Off=" + off + " < 0");
        }
        if (off + len > x.length) {
            throw new IllegalArgumentException(name + " too short: " + name + "Off=" + off + " + " + len + " = "
                    + (off + len) + " > " + name + ".length=" + x.length);
        }
    }

    static void checkBias(AttentionConfig cfg, float[] bias, int biasOff) {
        if (cfg.bias != BiasShape.NONE) {
            checkFlat("bias", bias, biasOff, biasLength(cfg));
        }
    }

    private static long biasLength(AttentionConfig cfg) {
        return switch (cfg.bias) {
            case NONE -> 0;
            case SHARED -> (long) cfg.queries * cfg.keys;
            case PER_HEAD -> (long) cfg.batch * cfg.heads * cfg.queries * cfg.keys;
        };
    }

    /** Every argument of a forward, in the order the entry points name them: q, k, v, bias, o, lse. */
    static void checkForward(AttentionConfig cfg, float[] q, int qOff, HeadLayout qs, float[] k, int kOff,
                             HeadLayout ks, float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                             float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
        checkForwardBounds(cfg, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        forwardViews(Overlap.views(), true, cfg, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff,
                o, oOff, os, lse, lseOff).check();
    }

    private static void checkForwardBounds(AttentionConfig cfg, float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                             float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                             float[] o, int oOff, HeadLayout os, float[] lse, int lseOff) {
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        check("q", q, qOff, qs, B, Hq, T, D);
        check("k", k, kOff, ks, B, Hkv, S, D);
        check("v", v, vOff, vs, B, Hkv, S, D);
        checkBias(cfg, bias, biasOff);
        check("o", o, oOff, os, B, Hq, T, D);
        checkFlat("lse", lse, lseOff, (long) B * Hq * T);
    }

    /** Every argument of a backward: dO, then the forward's ({@link #checkForward}), then dq, dk, dv. */
    static void checkBackward(AttentionConfig cfg, float[] dO, int dOOff, HeadLayout dOs,
                              float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
                              float[] v, int vOff, HeadLayout vs, float[] bias, int biasOff,
                              float[] o, int oOff, HeadLayout os, float[] lse, int lseOff,
                              float[] dq, int dqOff, HeadLayout dqs, float[] dk, int dkOff, HeadLayout dks,
                              float[] dv, int dvOff, HeadLayout dvs) {
        int B = cfg.batch, Hq = cfg.heads, Hkv = cfg.kvHeads, T = cfg.queries, S = cfg.keys, D = cfg.headDim;
        check("dO", dO, dOOff, dOs, B, Hq, T, D);
        checkForwardBounds(cfg, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        check("dq", dq, dqOff, dqs, B, Hq, T, D);
        check("dk", dk, dkOff, dks, B, Hkv, S, D);
        check("dv", dv, dvOff, dvs, B, Hkv, S, D);
        Overlap set = Overlap.views();
        add(set, false, "dO", dO, dOOff, dOs, B, Hq, T, D);
        forwardViews(set, false, cfg, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        add(set, true, "dq", dq, dqOff, dqs, B, Hq, T, D);
        add(set, true, "dk", dk, dkOff, dks, B, Hkv, S, D);
        add(set, true, "dv", dv, dvOff, dvs, B, Hkv, S, D);
        set.check();
    }
}
