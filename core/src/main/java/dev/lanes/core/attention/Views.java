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
}
