package dev.lanes.core.attention;

/** Validation of the tensor views of the attention entry points; every check runs before any write. */
final class Views {
    private Views() {}

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
        long len = switch (cfg.bias) {
            case NONE -> -1;
            case SHARED -> (long) cfg.queries * cfg.keys;
            case PER_HEAD -> (long) cfg.batch * cfg.heads * cfg.queries * cfg.keys;
        };
        if (len >= 0) {
            checkFlat("bias", bias, biasOff, len);
        }
    }

    /** Every argument of a forward, in the order the entry points name them: q, k, v, bias, o, lse. */
    static void checkForward(AttentionConfig cfg, float[] q, int qOff, HeadLayout qs, float[] k, int kOff, HeadLayout ks,
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
        checkForward(cfg, q, qOff, qs, k, kOff, ks, v, vOff, vs, bias, biasOff, o, oOff, os, lse, lseOff);
        check("dq", dq, dqOff, dqs, B, Hq, T, D);
        check("dk", dk, dkOff, dks, B, Hkv, S, D);
        check("dv", dv, dvOff, dvs, B, Hkv, S, D);
    }
}
