package dev.lanes.tests.adversarial;

import static dev.lanes.tests.adversarial.EntryPoints.B;
import static dev.lanes.tests.adversarial.EntryPoints.C;
import static dev.lanes.tests.adversarial.EntryPoints.HQ;
import static dev.lanes.tests.adversarial.EntryPoints.K;
import static dev.lanes.tests.adversarial.EntryPoints.KL;
import static dev.lanes.tests.adversarial.EntryPoints.KLEN;
import static dev.lanes.tests.adversarial.EntryPoints.LSE;
import static dev.lanes.tests.adversarial.EntryPoints.QL;
import static dev.lanes.tests.adversarial.EntryPoints.QLEN;
import static dev.lanes.tests.adversarial.EntryPoints.R;
import static dev.lanes.tests.adversarial.EntryPoints.S;
import static dev.lanes.tests.adversarial.EntryPoints.T;
import static dev.lanes.tests.adversarial.EntryPoints.attention;
import static dev.lanes.tests.adversarial.EntryPoints.in;
import static dev.lanes.tests.adversarial.EntryPoints.out;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import dev.lanes.tests.adversarial.EntryPoints.Entry;
import dev.lanes.tests.adversarial.EntryPoints.Operand;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@link MemorySegment} entry points in the form of {@link EntryPoints}' table, each run in three
 * memories so the overlap rule is attacked the way segments reach it: heap segments over the test's
 * arrays with the inputs read-only (a read-only heap segment hides its array), native copies of the
 * arrays with offsets, and native copies passed as one slice per operand starting at its first element
 * (two operands over one allocation are then different segment objects at different addresses).
 */
final class SegmentEntryPoints {
    private SegmentEntryPoints() {}

    /** A segment call: one segment and one element offset per operand, in the table's order. */
    interface SegmentCall {
        void run(MemorySegment[] s, long[] off);
    }

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    static List<Entry> all() {
        Parallelism par = Parallelism.serial();
        List<Entry> e = new ArrayList<>();
        add(e, "Gemm.sgemm(segments)", List.of(in("a", R * K), in("b", K * C), out("c", R * C)), Set.of(),
                (s, o) -> Gemm.sgemm(par, Transpose.N, Transpose.N, R, C, K, 1f, s[0], o[0], K, s[1], o[1], C, 0.5f,
                        s[2], o[2], C));
        add(e, "Softmax.forward(segments)", List.of(in("mask", R * C), in("x", R * C), out("y", R * C)),
                Set.of("y=x"),
                (s, o) -> Softmax.forward(R, C, 0.5f, true, 1, s[0], o[0], C, s[1], o[1], C, s[2], o[2], C));
        add(e, "ResidualAdd.forward(segments)", List.of(in("x", R * C), in("f", R * C), in("bias", C),
                out("y", R * C)), Set.of("y=x", "y=f"),
                (s, o) -> ResidualAdd.forward(R, C, 0.5f, s[0], o[0], C, s[1], o[1], C, s[2], o[2], s[3], o[3], C));
        add(e, "Norms.layerNormForward(segments)", List.of(in("x", R * C), in("gamma", C), in("beta", C),
                out("y", R * C), out("mean", R), out("rstd", R)), Set.of("y=x"),
                (s, o) -> Norms.layerNormForward(R, C, 1e-5f, s[0], o[0], C, s[1], o[1], s[2], o[2], s[3], o[3], C,
                        s[4], o[4], s[5], o[5]));
        add(e, "Norms.rmsNormForward(segments)", List.of(in("x", R * C), in("gamma", C), out("y", R * C),
                out("rstd", R)), Set.of("y=x"),
                (s, o) -> Norms.rmsNormForward(R, C, 1e-5f, s[0], o[0], C, s[1], o[1], s[2], o[2], C, s[3], o[3]));
        add(e, "Softmax.backward(segments)", List.of(in("dy", R * C), in("y", R * C), out("dx", R * C)),
                Set.of("dx=dy", "dx=y"),
                (s, o) -> Softmax.backward(R, C, 0.5f, s[0], o[0], C, s[1], o[1], C, s[2], o[2], C));
        add(e, "ResidualAdd.backward(segments)", List.of(in("dy", R * C), out("dx", R * C), out("df", R * C),
                out("dbias", C)), Set.of("dx=dy", "df=dy"),
                (s, o) -> ResidualAdd.backward(R, C, 0.5f, s[0], o[0], C, s[1], o[1], C, s[2], o[2], C, s[3], o[3]));
        add(e, "Norms.layerNormBackward(segments)", List.of(in("dy", R * C), in("x", R * C), in("gamma", C),
                in("mean", R), in("rstd", R), out("dx", R * C), out("dgamma", C), out("dbeta", C)),
                Set.of("dx=dy", "dx=x"),
                (s, o) -> Norms.layerNormBackward(R, C, s[0], o[0], C, s[1], o[1], C, s[2], o[2], s[3], o[3],
                        s[4], o[4], s[5], o[5], C, s[6], o[6], s[7], o[7]));
        add(e, "Norms.rmsNormBackward(segments)", List.of(in("dy", R * C), in("x", R * C), in("gamma", C),
                in("rstd", R), out("dx", R * C), out("dgamma", C)), Set.of("dx=dy", "dx=x"),
                (s, o) -> Norms.rmsNormBackward(R, C, s[0], o[0], C, s[1], o[1], C, s[2], o[2], s[3], o[3],
                        s[4], o[4], C, s[5], o[5]));
        add(e, "Attention.forward(views)", List.of(in("q", QLEN), in("k", KLEN), in("v", KLEN), in("bias", T * S),
                out("o", QLEN), out("lse", LSE)), Set.of(),
                (s, o) -> Attention.forward(par, attention(BiasShape.SHARED), AttentionView.of(s[0], o[0], QL),
                        AttentionView.of(s[1], o[1], KL), AttentionView.of(s[2], o[2], KL),
                        AttentionView.flat(s[3], o[3]), AttentionView.of(s[4], o[4], QL),
                        AttentionView.flat(s[5], o[5])));
        add(e, "Attention.backward(views)", List.of(in("dO", QLEN), in("q", QLEN), in("k", KLEN), in("v", KLEN),
                in("o", QLEN), in("lse", LSE), out("dq", QLEN), out("dk", KLEN), out("dv", KLEN)), Set.of(),
                (s, o) -> Attention.backward(par, attention(BiasShape.NONE), AttentionView.of(s[0], o[0], QL),
                        AttentionView.of(s[1], o[1], QL), AttentionView.of(s[2], o[2], KL),
                        AttentionView.of(s[3], o[3], KL), null, AttentionView.of(s[4], o[4], QL),
                        AttentionView.flat(s[5], o[5]), AttentionView.of(s[6], o[6], QL),
                        AttentionView.of(s[7], o[7], KL), AttentionView.of(s[8], o[8], KL)));
        return e;
    }

    /** The call in the three memories of the class comment. */
    private static void add(List<Entry> e, String name, List<Operand> ops, Set<String> aliases, SegmentCall call) {
        e.add(new Entry(name + " on heap, inputs read-only", ops, aliases, (a, o) -> {
            MemorySegment[] s = new MemorySegment[a.length];
            for (int i = 0; i < a.length; i++) {
                MemorySegment h = MemorySegment.ofArray(a[i]);
                s[i] = ops.get(i).output() ? h : h.asReadOnly();
            }
            call.run(s, longs(o));
        }));
        e.add(new Entry(name + " native", ops, aliases, (a, o) -> native_(a, o, false, call)));
        e.add(new Entry(name + " native, a slice per operand", ops, aliases, (a, o) -> native_(a, o, true, call)));
    }

    private static long[] longs(int[] off) {
        long[] l = new long[off.length];
        for (int i = 0; i < off.length; i++) {
            l[i] = off[i];
        }
        return l;
    }

    /** Each distinct array copied to one native segment, the call run, and every segment copied back. */
    private static void native_(float[][] a, int[] o, boolean slices, SegmentCall call) {
        try (Arena arena = Arena.ofConfined()) {
            Map<float[], MemorySegment> copies = new IdentityHashMap<>();
            MemorySegment[] s = new MemorySegment[a.length];
            long[] off = longs(o);
            for (int i = 0; i < a.length; i++) {
                float[] x = a[i];
                MemorySegment seg = copies.computeIfAbsent(x, y -> {
                    MemorySegment n = arena.allocate((long) y.length * Float.BYTES, 4);
                    MemorySegment.copy(y, 0, n, F, 0, y.length);
                    return n;
                });
                if (slices) {
                    s[i] = seg.asSlice(off[i] * Float.BYTES);
                    off[i] = 0;
                } else {
                    s[i] = seg;
                }
            }
            try {
                call.run(s, off);
            } finally {
                copies.forEach((x, seg) -> MemorySegment.copy(seg, F, 0, x, 0, x.length));
            }
        }
    }
}
