package dev.lanes.kernels.internal;

import dev.lanes.kernels.Parallelism;

/**
 * Argument validation shared by the public facades (and by core's layers, which follow the same rules). Every check runs before any output element is
 * written, computes extents in {@code long} so that huge dimensions cannot wrap, and names the
 * argument and the numbers in its message.
 */
public final class Checks {
    private Checks() {}

    public static void notNull(Object array, String name) {
        if (array == null) {
            throw new NullPointerException(name + " is null");
        }
    }

    /**
     * A team argument: {@link NullPointerException} when null, {@link IllegalStateException} when closed,
     * whatever the size of the work (work too small to dispatch is refused as well).
     */
    public static void team(Parallelism par) {
        notNull(par, "par");
        par.ensureOpen();
    }

    public static void nonNegative(String name, int value) {
        if (value < 0) {
            throw new IllegalArgumentException(name + "=" + value + " < 0");
        }
    }

    public static void finite(String name, float value) {
        if (!Float.isFinite(value)) {
            throw new IllegalArgumentException(name + "=" + value + " is not finite");
        }
    }

    /**
     * Checks a row-major block {@code (rows, cols)} with row stride {@code ld} starting at {@code off}.
     * {@code ldName} is how the stride is called in messages ("lda", "ldx", ...), {@code colsName} how the
     * width is called ("k", "cols", ...).
     */
    public static void matrix(String name, float[] x, int off, int ld, String ldName,
                       int rows, int cols, String colsName) {
        notNull(x, name);
        if (off < 0) {
            throw new IllegalArgumentException(name + "Off=" + off + " < 0");
        }
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException(ldName + "=" + ld + " < " + colsName + "=" + cols
                    + (cols == 0 ? " (and must be >= 1)" : ""));
        }
        if (rows == 0 || cols == 0) {
            if (off > x.length) {
                throw new IllegalArgumentException(name + "Off=" + off + " > " + name + ".length=" + x.length);
            }
            return;
        }
        long end = extentEnd(off, rows, cols, ld);
        if (end > x.length) {
            throw new IllegalArgumentException(name + " too short: " + name + "Off=" + off + " + (" + rows
                    + "-1)*" + ldName + "=" + ld + " + " + cols + " = " + end + " > " + name + ".length="
                    + x.length);
        }
    }

    /** Checks a vector of {@code len} contiguous elements at {@code off}. */
    public static void vector(String name, float[] x, int off, int len) {
        notNull(x, name);
        if (off < 0) {
            throw new IllegalArgumentException(name + "Off=" + off + " < 0");
        }
        if ((long) off + len > x.length) {
            throw new IllegalArgumentException(name + " too short: " + name + "Off=" + off + " + " + len
                    + " = " + ((long) off + len) + " > " + name + ".length=" + x.length);
        }
    }

    /** One past the last element touched by a {@code (rows, cols)} block; rows, cols > 0. */
    public static long extentEnd(int off, int rows, int cols, int ld) {
        return off + (long) (rows - 1) * ld + cols;
    }
}
