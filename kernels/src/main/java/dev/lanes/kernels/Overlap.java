package dev.lanes.kernels;

/**
 * The one overlap rule of every public entry point of Lanes: <b>no output may share an element with any
 * input or with any other output, and no output may cover an element twice</b>. The only exceptions are
 * the in-place forms an entry point names in its javadoc ({@link #orSameAs}): an output that is the very
 * same view (same array, offset, shape and strides) as one named input, which the kernel supports
 * element by element. Inputs may overlap each other freely.
 *
 * <p>A view is {@code width} contiguous floats repeated over up to three strided dimensions:
 * element {@code (i0, i1, i2, j)} is at {@code off + i0*s0 + i1*s1 + i2*s2 + j}. A row-major block
 * {@code (rows, cols)} with stride ld is {@code (rows, ld)} with width cols; an attention tensor
 * {@code [B, H, N, D]} is {@code (B, batchStride), (H, headStride), (N, rowStride)} with width D.
 *
 * <p>The test costs a constant per pair of views, never anything per element. Two views on the same
 * array are disjoint when their extents {@code [first, last]} are, or when, after folding dimensions
 * that continue the contiguous width ({@code stride == width}), every remaining stride is a multiple of
 * some {@code g} and the two widths occupy disjoint residue intervals modulo {@code g} (column blocks of
 * one buffer, such as Q, K and V in a fused projection). An output covers no element twice when its
 * strides, sorted, each reach past everything the smaller ones span. Layouts this test cannot prove
 * disjoint are rejected: the rule is sufficient, never optimistic.
 *
 * <p>Use: {@code Overlap.views().input(...)...output(...).orSameAs("x")...check()}, after every bounds
 * check. The set is kept per thread and reused, so checking allocates nothing; null arrays and empty
 * views are skipped (absent optional arguments).
 */
public final class Overlap {
    private static final int MAX = 16;
    private static final ThreadLocal<Overlap> SETS = ThreadLocal.withInitial(Overlap::new);

    private final String[] names = new String[MAX];
    private final float[][] arrays = new float[MAX][];
    private final boolean[] output = new boolean[MAX];
    private final long[] off = new long[MAX];
    private final int[] width = new int[MAX];
    /** Dimension d of view i: count cnt[3i + d] at stride str[3i + d], sorted by stride. */
    private final int[] cnt = new int[3 * MAX];
    private final long[] str = new long[3 * MAX];
    private final int[] sameAs = new int[MAX]; // bit j: this output may be exactly view j (in place)
    /** Whether view i's dimensions are filtered (counts > 1, no broadcast inputs) and sorted by stride. */
    private final boolean[] normalized = new boolean[MAX];
    private int count;
    private int last = -1; // the last view added, or -1 when it was skipped

    private Overlap() {}

    /** The calling thread's empty set. */
    public static Overlap views() {
        Overlap o = SETS.get();
        o.reset(); // check() leaves it empty; this covers a set abandoned by an exception while built
        return o;
    }

    /** A contiguous input of {@code len} floats. */
    public Overlap input(String name, float[] x, long xOff, int len) {
        return add(false, name, x, xOff, 1, 0, 1, 0, 1, 0, len);
    }

    /** A row-major input block {@code (rows, cols)} with row stride ld. */
    public Overlap input(String name, float[] x, long xOff, int rows, int cols, int ld) {
        return add(false, name, x, xOff, rows, ld, 1, 0, 1, 0, cols);
    }

    /** A general input view; see the class comment. */
    public Overlap input(String name, float[] x, long xOff, int n0, long s0, int n1, long s1, int n2, long s2,
                         int width) {
        return add(false, name, x, xOff, n0, s0, n1, s1, n2, s2, width);
    }

    /** A contiguous output of {@code len} floats. */
    public Overlap output(String name, float[] x, long xOff, int len) {
        return add(true, name, x, xOff, 1, 0, 1, 0, 1, 0, len);
    }

    /** A row-major output block {@code (rows, cols)} with row stride ld. */
    public Overlap output(String name, float[] x, long xOff, int rows, int cols, int ld) {
        return add(true, name, x, xOff, rows, ld, 1, 0, 1, 0, cols);
    }

    /** A general output view; see the class comment. */
    public Overlap output(String name, float[] x, long xOff, int n0, long s0, int n1, long s1, int n2, long s2,
                          int width) {
        return add(true, name, x, xOff, n0, s0, n1, s1, n2, s2, width);
    }

    /**
     * The output just added may be exactly the view added earlier under {@code name} (in place); any
     * other overlap with it is still refused. May be repeated to name several views.
     */
    public Overlap orSameAs(String name) {
        for (int i = 0; i < last; i++) {
            if (names[i] == name || names[i].equals(name)) { // names are literals: identity first
                sameAs[last] |= 1 << i;
            }
        }
        return this;
    }

    /** Throws {@link IllegalArgumentException} naming both views when the rule is broken; clears the set. */
    public void check() {
        try {
            for (int i = 0; i < count; i++) {
                int k = 3 * i;
                // the usual output, a block with its stride >= its width, needs nothing more
                if (output[i] && !(cnt[k + 1] == 1 && cnt[k + 2] == 1 && (cnt[k] == 1 || str[k] >= width[i]))) {
                    selfCheck(i);
                }
            }
            for (int i = 0; i < count; i++) {
                for (int j = i + 1; j < count; j++) {
                    if (arrays[i] == arrays[j] && (output[i] || output[j])) {
                        pairCheck(i, j);
                    }
                }
            }
        } finally {
            reset();
        }
    }

    private void reset() {
        for (int i = 0; i < count; i++) {
            arrays[i] = null; // hold no caller's array past the call
        }
        count = 0;
        last = -1;
    }

    private Overlap add(boolean isOutput, String name, float[] x, long xOff, int n0, long s0, int n1, long s1,
                        int n2, long s2, int w) {
        last = -1;
        if (x == null || n0 <= 0 || n1 <= 0 || n2 <= 0 || w <= 0) {
            return this;
        }
        if (count == MAX) {
            throw new IllegalStateException("more than " + MAX + " views"); // a Lanes bug
        }
        int i = count++, k = 3 * i;
        names[i] = name;
        arrays[i] = x;
        output[i] = isOutput;
        off[i] = xOff;
        width[i] = w;
        cnt[k] = n0;
        str[k] = s0;
        cnt[k + 1] = n1;
        str[k + 1] = s1;
        cnt[k + 2] = n2;
        str[k + 2] = s2;
        sameAs[i] = 0;
        normalized[i] = false;
        last = i;
        return this;
    }

    /** Keeps only the dimensions that add elements, sorted by stride (at most three: insertion sort). */
    private void normalize(int i) {
        if (normalized[i]) {
            return;
        }
        normalized[i] = true;
        int k = 3 * i, d = 0;
        int n0 = cnt[k], n1 = cnt[k + 1], n2 = cnt[k + 2];
        long s0 = str[k], s1 = str[k + 1], s2 = str[k + 2];
        d = put(i, d, n0, s0);
        d = put(i, d, n1, s1);
        d = put(i, d, n2, s2);
        for (; d < 3; d++) {
            cnt[k + d] = 1;
            str[k + d] = 0;
        }
    }

    private int put(int i, int d, int count, long stride) {
        if (count <= 1 || (stride == 0 && !output[i])) {
            return d; // a broadcast input dimension reads the same elements again
        }
        int k = 3 * i + d;
        while (k > 3 * i && str[k - 1] > stride) {
            cnt[k] = cnt[k - 1];
            str[k] = str[k - 1];
            k--;
        }
        cnt[k] = count;
        str[k] = stride;
        return d + 1;
    }

    private long end(int i) {
        long e = off[i] + width[i];
        for (int d = 0; d < 3; d++) {
            e += (long) (cnt[3 * i + d] - 1) * str[3 * i + d];
        }
        return e;
    }

    /** Sorted strides, each at least the span of everything below it: every element is covered once. */
    private void selfCheck(int i) {
        normalize(i);
        long span = width[i];
        for (int d = 0; d < 3; d++) {
            if (cnt[3 * i + d] <= 1) {
                continue;
            }
            if (str[3 * i + d] < span) {
                throw new IllegalArgumentException(names[i] + " overlaps itself: " + describe(i)
                        + " has a stride of " + str[3 * i + d] + " below the " + span
                        + " elements spanned by the dimensions inside it, so elements would be written twice");
            }
            span += (long) (cnt[3 * i + d] - 1) * str[3 * i + d];
        }
    }

    private void pairCheck(int a, int b) {
        normalize(a);
        normalize(b);
        long aEnd = end(a), bEnd = end(b);
        if (aEnd <= off[b] || bEnd <= off[a]) {
            return;
        }
        int out = output[b] ? b : a, other = out == b ? a : b;
        boolean mayAlias = (sameAs[out] & (1 << other)) != 0;
        if (mayAlias && identical(a, b)) {
            return;
        }
        if (bandsDisjoint(a, b)) {
            return;
        }
        String allowed = mayAlias ? " (only the identical view is allowed)" : "";
        throw new IllegalArgumentException(names[out] + " overlaps " + names[other] + " in the same array: "
                + names[out] + " " + describe(out) + ", " + names[other] + " " + describe(other)
                + "; an output may not share elements with an input or another output" + allowed);
    }

    private boolean identical(int a, int b) {
        if (off[a] != off[b] || width[a] != width[b]) {
            return false;
        }
        for (int d = 0; d < 3; d++) {
            if (cnt[3 * a + d] != cnt[3 * b + d] || (cnt[3 * a + d] > 1 && str[3 * a + d] != str[3 * b + d])) {
                return false;
            }
        }
        return true;
    }

    /** Column-block test modulo the gcd of both views' strides after folding contiguous dimensions. */
    private boolean bandsDisjoint(int a, int b) {
        long wa = fold(a), ga = foldGcd;
        long wb = fold(b), gb = foldGcd;
        long g = gcd(ga, gb);
        if (g == 0 || wa > g || wb > g) {
            return false;
        }
        long ra = Math.floorMod(off[a], g), rb = Math.floorMod(off[b], g);
        return Math.floorMod(rb - ra, g) >= wa && Math.floorMod(ra - rb, g) >= wb;
    }

    private long foldGcd;

    /**
     * Absorbs into the width every dimension (in stride order) whose stride equals the width so far:
     * {@code n} copies of a width-w run at stride w are one run of {@code n*w}. Returns that width and
     * leaves in {@link #foldGcd} the gcd of the strides left over (0 when none remain).
     */
    private long fold(int i) {
        long w = width[i], g = 0;
        for (int d = 0; d < 3; d++) {
            if (cnt[3 * i + d] <= 1) {
                continue;
            }
            if (str[3 * i + d] == w) {
                w *= cnt[3 * i + d];
            } else {
                g = gcd(g, str[3 * i + d]);
            }
        }
        foldGcd = g;
        return w;
    }

    private static long gcd(long x, long y) {
        while (y != 0) {
            long t = x % y;
            x = y;
            y = t;
        }
        return Math.abs(x);
    }

    private String describe(int i) {
        StringBuilder sb = new StringBuilder("[off=").append(off[i]);
        for (int d = 2; d >= 0; d--) {
            if (cnt[3 * i + d] > 1) {
                sb.append(", ").append(cnt[3 * i + d]).append(" x stride ").append(str[3 * i + d]);
            }
        }
        return sb.append(", width ").append(width[i]).append("] = elements [").append(off[i]).append(", ")
                .append(end(i)).append(')').toString();
    }
}
