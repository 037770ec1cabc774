package dev.lanes.spark;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * The one summation order of a data-parallel step: a binary tree of fixed shape over micro-batch index
 * [0, M), whatever the number of partitions and whatever order their tasks finish in.
 *
 * <pre>
 *   node [lo, hi):  hi - lo == 1  -> the micro-batch's gradient (a leaf)
 *                   otherwise     -> node [lo, mid) + node [mid, hi), elementwise in float,
 *                                    mid = lo + the largest power of two below hi - lo
 *   M = 4:  ((g0 + g1) + (g2 + g3));   M = 3:  ((g0 + g1) + g2)
 * </pre>
 *
 * A partition that holds the contiguous micro-batches [from, to) sums every node lying wholly inside
 * its range ({@link #cover}) and sends those; the driver rebuilds the same tree from them
 * ({@link #combine}). Float addition of the same two arrays gives the same bits wherever it runs, so the
 * root equals {@link #sum} over all leaves on one machine bit for bit. (Spark's {@code treeAggregate}
 * folds results in the order tasks finish, which changes the bits from run to run.)
 */
public final class GradientTree {
    private GradientTree() {}

    /** Where node [lo, hi) (hi - lo >= 2) splits: its left child holds a power of two of leaves. */
    static int split(int lo, int hi) {
        return lo + Integer.highestOneBit(hi - lo - 1);
    }

    /**
     * Node [lo, hi)'s sum in tree order, from {@code leaf.apply(i)} for i in [lo, hi). Returns the leaf
     * itself when hi - lo == 1 (not a copy), otherwise a new array; never writes into a leaf. Asks for
     * each leaf once, in increasing index order, so {@code leaf} may compute it on demand: at most one
     * partial sum per tree level is then alive.
     */
    public static float[] sum(IntFunction<float[]> leaf, int lo, int hi) {
        if (lo < 0 || hi <= lo) {
            throw new IllegalArgumentException("node [" + lo + ", " + hi + ") is empty or negative");
        }
        if (hi - lo == 1) {
            return leaf.apply(lo);
        }
        int mid = split(lo, hi);
        return add(sum(leaf, lo, mid), sum(leaf, mid, hi));
    }

    /** The maximal nodes of the tree over [0, m) that lie wholly inside [from, to), left to right, as {lo, hi}. */
    public static List<int[]> cover(int m, int from, int to) {
        if (m < 1 || from < 0 || to > m || from >= to) {
            throw new IllegalArgumentException("range [" + from + ", " + to + ") is not a non-empty part of [0, m=" + m + ")");
        }
        List<int[]> out = new ArrayList<>();
        cover(0, m, from, to, out);
        return out;
    }

    private static void cover(int lo, int hi, int from, int to, List<int[]> out) {
        if (to <= lo || hi <= from) {
            return;
        }
        if (from <= lo && hi <= to) {
            out.add(new int[] {lo, hi});
            return;
        }
        int mid = split(lo, hi);
        cover(lo, mid, from, to, out);
        cover(mid, hi, from, to, out);
    }

    /** Key of node [lo, hi) in the map {@link #combine} reads. */
    public static long key(int lo, int hi) {
        return (long) lo << 32 | hi;
    }

    /**
     * The root [0, m) rebuilt from {@code nodes} (keyed by {@link #key}) whose ranges tile [0, m):
     * a node present is taken as it is, an absent one is the sum of its children. Throws naming the
     * first micro-batch no node covers.
     */
    public static float[] combine(int m, Map<Long, float[]> nodes) {
        if (m < 1) {
            throw new IllegalArgumentException("m=" + m + " must be >= 1");
        }
        return combine(0, m, nodes);
    }

    private static float[] combine(int lo, int hi, Map<Long, float[]> nodes) {
        float[] v = nodes.get(key(lo, hi));
        if (v != null) {
            return v;
        }
        if (hi - lo == 1) {
            throw new IllegalStateException("no result covers micro-batch " + lo);
        }
        int mid = split(lo, hi);
        return add(combine(lo, mid, nodes), combine(mid, hi, nodes));
    }

    /**
     * One round of building the tree from {@code nodes} (keys of tree nodes that tile [0, m)): every node
     * whose sibling is also present goes to its parent, the others stay. Returns node -> where it goes.
     * The deepest node's sibling is always present, so each round merges at least one pair.
     */
    public static HashMap<Long, Long> mergeRound(int m, Set<Long> nodes) {
        HashMap<Long, Long> next = new HashMap<>();
        for (long k : nodes) {
            int lo = (int) (k >>> 32), hi = (int) k;
            long to = k;
            if (hi - lo < m) {
                int plo = 0, phi = m; // walk down from the root to this node's parent
                while (true) {
                    if (phi - plo < 2) {
                        throw new IllegalArgumentException("[" + lo + ", " + hi + ") is not a node of the tree over [0, " + m + ")");
                    }
                    int mid = split(plo, phi);
                    if (hi <= mid) {
                        if (lo == plo && hi == mid) {
                            break;
                        }
                        phi = mid;
                    } else {
                        if (lo == mid && hi == phi) {
                            break;
                        }
                        plo = mid;
                    }
                }
                int mid = split(plo, phi);
                long sibling = lo == plo ? key(mid, phi) : key(plo, mid);
                if (nodes.contains(sibling)) {
                    to = key(plo, phi);
                }
            }
            next.put(k, to);
        }
        return next;
    }

    /** a + b elementwise into a new array: the only addition of the tree (commutative bit for bit). */
    static float[] add(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("gradients of " + a.length + " and " + b.length + " floats");
        }
        float[] s = new float[a.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = a[i] + b[i];
        }
        return s;
    }
}
