package dev.lanes.kernels;

import java.lang.foreign.MemorySegment;

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
 * <p>Arrays and {@link MemorySegment}s are one kind of operand here: every view is placed in bytes
 * ({@code 4 * element}) from the start of its memory. Views of one {@code float[]} share memory, and so
 * do views of a heap segment over that array (the segment's address is its byte offset in the array);
 * native segments share one address space and compare by absolute address, so two segments sliced
 * from one allocation are checked element by element like two views of one array. Segments of
 * different memories (native against heap, heap segments of different arrays) never overlap.
 *
 * <p>Use: {@code Overlap.views().input(...)...output(...).orSameAs("x")...check()}, after every bounds
 * check. The set is kept per thread and reused, so checking native segments or arrays allocates
 * nothing; null operands and empty views are skipped (absent optional arguments).
 */
public final class Overlap {
    private static final int MAX = 16;
    private static final ThreadLocal<Overlap> SETS = ThreadLocal.withInitial(Overlap::new);

    private final String[] names = new String[MAX];
    /** The memory of view i: its float[], NATIVE, or a heap segment's base (null when read-only: unknown). */
    private final Object[] bases = new Object[MAX];
    /** View i's segment, or null for an array. */
    private final MemorySegment[] segments = new MemorySegment[MAX];
    /** Byte position of view i's element 0 in its memory: 0 for an array, the segment's address otherwise. */
    private final long[] origin = new long[MAX];
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

    /** The base of every native segment: one address space. */
    private static final Object NATIVE = new Object();

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

    /** A contiguous input of {@code len} floats of a segment, element {@code i} at byte {@code 4*i}. */
    public Overlap input(String name, MemorySegment x, long xOff, int len) {
        return add(false, name, x, xOff, 1, 0, 1, 0, 1, 0, len);
    }

    /** A row-major input block {@code (rows, cols)} of a segment with row stride ld. */
    public Overlap input(String name, MemorySegment x, long xOff, int rows, int cols, long ld) {
        return add(false, name, x, xOff, rows, ld, 1, 0, 1, 0, cols);
    }

    /** A general input view of a segment; see the class comment. */
    public Overlap input(String name, MemorySegment x, long xOff, int n0, long s0, int n1, long s1, int n2,
                         long s2, int width) {
        return add(false, name, x, xOff, n0, s0, n1, s1, n2, s2, width);
    }

    /** A contiguous output of {@code len} floats of a segment. */
    public Overlap output(String name, MemorySegment x, long xOff, int len) {
        return add(true, name, x, xOff, 1, 0, 1, 0, 1, 0, len);
    }

    /** A row-major output block {@code (rows, cols)} of a segment with row stride ld. */
    public Overlap output(String name, MemorySegment x, long xOff, int rows, int cols, long ld) {
        return add(true, name, x, xOff, rows, ld, 1, 0, 1, 0, cols);
    }

    /** A general output view of a segment; see the class comment. */
    public Overlap output(String name, MemorySegment x, long xOff, int n0, long s0, int n1, long s1, int n2,
                          long s2, int width) {
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
                    if ((output[i] || output[j]) && sameMemory(i, j)) {
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
            bases[i] = null; // hold no caller's memory past the call
            segments[i] = null;
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
        return add(isOutput, name, x, null, 0, xOff, n0, s0, n1, s1, n2, s2, w);
    }

    private Overlap add(boolean isOutput, String name, MemorySegment x, long xOff, int n0, long s0, int n1, long s1,
                        int n2, long s2, int w) {
        last = -1;
        if (x == null || n0 <= 0 || n1 <= 0 || n2 <= 0 || w <= 0) {
            return this;
        }
        // a read-only heap segment hides its base: null, resolved pair by pair in sameMemory
        Object base = x.isNative() ? NATIVE : x.heapBase().orElse(null);
        return add(isOutput, name, base, x, x.address(), xOff, n0, s0, n1, s1, n2, s2, w);
    }

    private Overlap add(boolean isOutput, String name, Object base, MemorySegment seg, long org, long xOff, int n0,
                        long s0, int n1, long s1, int n2, long s2, int w) {
        if (count == MAX) {
            throw new IllegalStateException("more than " + MAX + " views"); // a Lanes bug
        }
        int i = count++, k = 3 * i;
        names[i] = name;
        bases[i] = base;
        segments[i] = seg;
        origin[i] = org;
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

    /**
     * Whether views i and j lie in one memory, where their byte positions compare. Only a read-only heap
     * segment (whose base is hidden) needs the segments' own test, which allocates; arrays and native
     * segments compare by identity.
     */
    private boolean sameMemory(int i, int j) {
        Object bi = bases[i], bj = bases[j];
        if (bi != null && bj != null) {
            return bi == bj;
        }
        if (bi == NATIVE || bj == NATIVE) {
            return false; // a heap segment (base hidden) against native memory
        }
        MemorySegment si = segments[i] != null ? segments[i] : MemorySegment.ofArray((float[]) bi);
        MemorySegment sj = segments[j] != null ? segments[j] : MemorySegment.ofArray((float[]) bj);
        // Over the whole segments: sharing any byte means one array, where heap addresses are offsets.
        return si.asOverlappingSlice(sj).isPresent() || sj.asOverlappingSlice(si).isPresent();
    }

    /** Byte position of element e of view i. */
    private long at(int i, long e) {
        return origin[i] + e * Float.BYTES;
    }

    private void pairCheck(int a, int b) {
        normalize(a);
        normalize(b);
        if (at(a, end(a)) <= at(b, off[b]) || at(b, end(b)) <= at(a, off[a])) {
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
        String memory = segments[out] == null && segments[other] == null ? "array" : "memory";
        throw new IllegalArgumentException(names[out] + " overlaps " + names[other] + " in the same " + memory + ": "
                + names[out] + " " + describe(out) + ", " + names[other] + " " + describe(other)
                + "; an output may not share elements with an input or another output" + allowed);
    }

    private boolean identical(int a, int b) {
        if (at(a, off[a]) != at(b, off[b]) || width[a] != width[b]) {
            return false;
        }
        for (int d = 0; d < 3; d++) {
            if (cnt[3 * a + d] != cnt[3 * b + d] || (cnt[3 * a + d] > 1 && str[3 * a + d] != str[3 * b + d])) {
                return false;
            }
        }
        return true;
    }

    /**
     * Column-block test modulo the gcd of both views' strides after folding contiguous dimensions, in
     * bytes (a segment's element 0 may sit at any byte).
     */
    private boolean bandsDisjoint(int a, int b) {
        long wa = fold(a) * Float.BYTES, ga = foldGcd;
        long wb = fold(b) * Float.BYTES, gb = foldGcd;
        long g = gcd(ga, gb) * Float.BYTES;
        if (g == 0 || wa > g || wb > g) {
            return false;
        }
        long ra = Math.floorMod(at(a, off[a]), g), rb = Math.floorMod(at(b, off[b]), g);
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
        sb.append(", width ").append(width[i]).append("] = elements [").append(off[i]).append(", ")
                .append(end(i)).append(')');
        if (segments[i] != null) {
            sb.append(" = bytes [").append(at(i, off[i])).append(", ").append(at(i, end(i))).append(") of ")
                    .append(bases[i] == NATIVE ? "native memory" : "its array");
        }
        return sb.toString();
    }
}
