package dev.lanes.tests.adversarial;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Parallelism;
import dev.lanes.tests.adversarial.EntryPoints.Entry;
import dev.lanes.tests.adversarial.EntryPoints.Operand;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The overlap rule, by class: for every entry point of {@link EntryPoints}, every output placed over
 * every input and every other output of the same call, at every relative offset from one element
 * before to one element after full coincidence. A call either is a documented in-place form (the
 * identical view) and runs, or throws IllegalArgumentException naming both operands and leaves every
 * array exactly as it was. Then the strided cases of attention: head strides of 0, outputs interleaved
 * with inputs, fused column-block layouts that are legal.
 */
class OverlapTest {

    /** Every (entry point, output, other operand, shift) case, generated from the table. */
    static Stream<Arguments> pairs() {
        List<Arguments> cases = new ArrayList<>();
        for (Entry e : everyEntry()) {
            for (Operand out : e.operands()) {
                if (!out.output()) {
                    continue;
                }
                for (Operand other : e.operands()) {
                    if (other == out) {
                        continue;
                    }
                    for (int shift : new int[] {-1, 0, 1, other.length() - 1}) {
                        cases.add(Arguments.of(Named.of(e + ": " + out.name() + " over " + other.name() + " at "
                                + shift, new Object[] {e, out.name(), other.name(), shift})));
                    }
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest
    @MethodSource("pairs")
    void everyOutputOverEveryOtherOperand(Object[] c) {
        Entry e = (Entry) c[0];
        String outName = (String) c[1], otherName = (String) c[2];
        int shift = (int) c[3];
        int oi = e.index(outName), pi = e.index(otherName);
        Operand out = e.operands().get(oi), other = e.operands().get(pi);
        float[][] a = separateArrays(e, 7);
        int[] off = new int[a.length];
        // other at base, out at base + shift in the same array, with room on both sides
        int base = 1;
        float[] shared = filled(base + Math.max(other.length(), shift + out.length()) + 2, 99);
        a[pi] = shared;
        a[oi] = shared;
        off[pi] = base;
        off[oi] = base + shift;
        boolean alias = shift == 0 && out.length() == other.length()
                && e.aliases().contains(outName + "=" + otherName);
        float[][] before = snapshot(a);
        Throwable t = catchThrowable(() -> e.call().run(a, off));
        if (alias) {
            assertThat(t).as("%s: %s may be %s itself (in place)", e, outName, otherName).isNull();
            return;
        }
        assertThat(t).as("%s: %s over %s at shift %d", e, outName, otherName, shift)
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(t.getMessage()).contains(outName).contains(otherName).contains("overlaps");
        for (int i = 0; i < a.length; i++) {
            assertThat(a[i]).as("%s: operand %d written before the exception", e, i).isEqualTo(before[i]);
        }
    }

    /** The table's calls are valid when every operand has its own array: the failures above are overlaps. */
    @ParameterizedTest
    @MethodSource("entries")
    void separateArraysAreAccepted(Entry e) {
        float[][] a = separateArrays(e, 3);
        assertThatCode(() -> e.call().run(a, new int[a.length])).doesNotThrowAnyException();
    }

    static Stream<Entry> entries() {
        return everyEntry().stream();
    }

    /** The array entry points and the segment ones, in each of their memories. */
    static List<Entry> everyEntry() {
        List<Entry> all = new ArrayList<>(EntryPoints.all());
        all.addAll(SegmentEntryPoints.all());
        return all;
    }

    // ---------------------------------------------------------------------------------------------
    // The defects of the issue, by name, and the strided layouts

    static final int B = 2, HQ = 4, HKV = 2, T = 5, S = 6, D = 4;

    static AttentionConfig cfg() {
        return AttentionConfig.builder(B, HQ, HKV, T, S, D).build();
    }

    /** The defect: O placed over K gave a wrong O instead of an exception. */
    @Test
    void attentionRejectsOutputOverKeys() {
        HeadLayout ql = HeadLayout.contiguous(HQ, T, D), kl = HeadLayout.contiguous(HKV, S, D);
        int qn = B * HQ * T * D, kn = B * HKV * S * D;
        float[] q = filled(qn, 1), v = filled(kn, 2), lse = new float[B * HQ * T];
        float[] kAndO = filled(qn + 8, 3); // k at 0, o at 8: inside k
        float[] before = kAndO.clone();
        Throwable t = catchThrowable(() -> Attention.forward(cfg(), AttentionView.of(q, 0, ql),
                AttentionView.of(kAndO, 0, kl), AttentionView.of(v, 0, kl), null, AttentionView.of(kAndO, 8, ql),
                AttentionView.flat(lse, 0)));
        assertThat(t).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("o overlaps k");
        assertThat(kAndO).isEqualTo(before);
    }

    /** The defect: a head stride of 0 wrote every head of O (or dQ) into the same place. */
    @Test
    void attentionRejectsOutputHeadsOverEachOther() {
        HeadLayout ql = HeadLayout.contiguous(HQ, T, D), kl = HeadLayout.contiguous(HKV, S, D);
        HeadLayout zeroHeads = new HeadLayout(T * D, 0, D);
        int qn = B * HQ * T * D, kn = B * HKV * S * D;
        float[] q = filled(qn, 1), k = filled(kn, 2), v = filled(kn, 3), o = filled(qn, 4), lse = new float[B * HQ * T];
        assertThat(catchThrowable(() -> Attention.forward(cfg(), AttentionView.of(q, 0, ql), AttentionView.of(k, 0, kl),
                AttentionView.of(v, 0, kl), null, AttentionView.of(o, 0, zeroHeads),
                AttentionView.flat(lse, 0)))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("o overlaps itself");
        float[] dO = filled(qn, 5), dq = new float[qn], dk = new float[kn], dv = new float[kn];
        assertThat(catchThrowable(() -> Attention.backward(cfg(), AttentionView.of(dO, 0, ql),
                AttentionView.of(q, 0, ql), AttentionView.of(k, 0, kl), AttentionView.of(v, 0, kl), null,
                AttentionView.of(o, 0, ql), AttentionView.flat(lse, 0), AttentionView.of(dq, 0, zeroHeads),
                AttentionView.of(dk, 0, kl), AttentionView.of(dv, 0, kl))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dq overlaps itself");
        HeadLayout batchOverHeads = new HeadLayout(T * D, T * D, D); // batch b+1 == head h+1
        assertThat(catchThrowable(() -> Attention.forward(cfg(), AttentionView.of(q, 0, ql), AttentionView.of(k, 0, kl),
                AttentionView.of(v, 0, kl), null, AttentionView.of(filled(qn, 0), 0, batchOverHeads),
                AttentionView.flat(lse, 0)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("o overlaps itself");
    }

    /**
     * Q, K and V as column blocks of one fused projection [B, T, (Hq + 2 Hkv) D], and dQ, dK, dV as column
     * blocks of another: legal (disjoint element sets) and the same bits as contiguous tensors. The same
     * blocks made to overlap by one column are refused.
     */
    @Test
    void fusedColumnBlocksAreLegalAndOverlappingBlocksAreNot() {
        AttentionConfig c = AttentionConfig.builder(B, HQ, HKV, T, T, D).causal(dev.lanes.core.attention.CausalMask.TOP_LEFT)
                .build();
        int width = (HQ + 2 * HKV) * D;
        HeadLayout fused = HeadLayout.fused(T, width, D);
        HeadLayout ql = HeadLayout.contiguous(HQ, T, D);
        float[] qkv = random(B * T * width, 1);
        float[] o = new float[B * HQ * T * D], lse = new float[B * HQ * T], dO = random(o.length, 2);
        Attention.forward(c, AttentionView.of(qkv, 0, fused), AttentionView.of(qkv, HQ * D, fused),
                AttentionView.of(qkv, (HQ + HKV) * D, fused), null, AttentionView.of(o, 0, ql),
                AttentionView.flat(lse, 0));
        float[] dqkv = new float[qkv.length];
        assertThatCode(() -> Attention.backward(c, AttentionView.of(dO, 0, ql), AttentionView.of(qkv, 0, fused),
                AttentionView.of(qkv, HQ * D, fused), AttentionView.of(qkv, (HQ + HKV) * D, fused), null,
                AttentionView.of(o, 0, ql), AttentionView.flat(lse, 0), AttentionView.of(dqkv, 0, fused),
                AttentionView.of(dqkv, HQ * D, fused),
                AttentionView.of(dqkv, (HQ + HKV) * D, fused))).doesNotThrowAnyException();
        // dk starting one column early covers dq's last column
        float[] d2 = new float[qkv.length];
        Throwable t = catchThrowable(() -> Attention.backward(c, AttentionView.of(dO, 0, ql),
                AttentionView.of(qkv, 0, fused), AttentionView.of(qkv, HQ * D, fused),
                AttentionView.of(qkv, (HQ + HKV) * D, fused), null, AttentionView.of(o, 0, ql),
                AttentionView.flat(lse, 0), AttentionView.of(d2, 0, fused), AttentionView.of(d2, HQ * D - 1, fused),
                AttentionView.of(d2, (HQ + HKV) * D, fused)));
        assertThat(t).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dk overlaps dq");
        assertThat(d2).containsOnly(0f);
        // o written into the padding columns of the fused input buffer is legal too: o is disjoint from q, k, v
        HeadLayout wide = HeadLayout.fused(T, width + HQ * D, D);
        float[] buf = random(B * T * (width + HQ * D), 3);
        assertThatCode(() -> Attention.forward(c, AttentionView.of(buf, 0, wide), AttentionView.of(buf, HQ * D, wide),
                AttentionView.of(buf, (HQ + HKV) * D, wide), null, AttentionView.of(buf, width, wide),
                AttentionView.flat(lse, 0))).doesNotThrowAnyException();
    }

    /**
     * The defect of issue 17: the view entry points checked only O against lse among segments, so dQ over
     * K (or O over Q) in one native allocation ran and overwrote an input. Now the array rule, with both
     * names and both ranges in the message, across arrays and segments of one array too.
     */
    @Test
    void attentionViewsRefuseOutputsOverInputsInAnyMemory() {
        HeadLayout ql = HeadLayout.contiguous(HQ, T, D), kl = HeadLayout.contiguous(HKV, S, D);
        int qn = B * HQ * T * D, kn = B * HKV * S * D;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mem = arena.allocate((long) (2 * qn + 3 * kn + B * HQ * T) * Float.BYTES);
            AttentionView q = AttentionView.of(mem, 0, ql), k = AttentionView.of(mem, qn, kl);
            AttentionView v = AttentionView.of(mem, qn + kn, kl), lse = AttentionView.flat(mem, qn + 2 * kn);
            AttentionView o = AttentionView.of(mem, qn + 2 * kn + B * HQ * T, ql);
            mem.fill((byte) 1);
            Throwable t = catchThrowable(() -> Attention.forward(Parallelism.serial(), cfg(), q, k, v, null,
                    AttentionView.of(mem, 4, ql), lse));
            assertThat(t).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("o overlaps q in the same memory: o [off=4, ")
                    .hasMessageContaining("elements [4, " + (4 + qn) + ")")
                    .hasMessageContaining("q [off=0, ").hasMessageContaining("elements [0, " + qn + ")");
            // dk over q, one segment per operand (different objects, one allocation)
            AttentionView dO = AttentionView.of(mem.asSlice(0), 0, ql);
            AttentionView dq = AttentionView.of(arena.allocate((long) qn * Float.BYTES), 0, ql);
            AttentionView dv = AttentionView.of(arena.allocate((long) kn * Float.BYTES), 0, kl);
            AttentionView dkOverQ = AttentionView.of(mem.asSlice(8L * Float.BYTES), 0, kl);
            t = catchThrowable(() -> Attention.backward(Parallelism.serial(), cfg(), dO, q, k, v, null, o, lse, dq,
                    dkOverQ, dv));
            assertThat(t).isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("dk overlaps ");
            // dq and dv over each other
            MemorySegment dqMem = arena.allocate((long) qn * Float.BYTES);
            t = catchThrowable(() -> Attention.backward(Parallelism.serial(), cfg(), dO, q, k, v, null, o, lse,
                    AttentionView.of(dqMem, 0, ql), AttentionView.of(arena.allocate((long) kn * Float.BYTES), 0, kl),
                    AttentionView.of(dqMem, 4, kl)));
            assertThat(t).isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("dv overlaps dq");
            for (long i = 0; i < mem.byteSize(); i++) {
                assertThat(mem.get(ValueLayout.JAVA_BYTE, i)).isEqualTo((byte) 1);
            }
        }
        // An array view of o over a heap segment of k of the same array
        float[] buf = filled(qn + kn + 8, 3), q = filled(qn, 1), v = filled(kn, 2), lse = new float[B * HQ * T];
        float[] before = buf.clone();
        Throwable t = catchThrowable(() -> Attention.forward(Parallelism.serial(), cfg(), AttentionView.of(q, 0, ql),
                AttentionView.of(MemorySegment.ofArray(buf), 0, kl), AttentionView.of(v, 0, kl), null,
                AttentionView.of(buf, 8, ql), AttentionView.flat(lse, 0)));
        assertThat(t).isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("o overlaps k");
        assertThat(buf).isEqualTo(before);
    }

    /** The defect: Norms accepted mean/rstd over x and y over gamma/beta (LayerNorm and RMSNorm). */
    @Test
    void normsRejectStatisticsOverXAndYOverTheGains() {
        int rows = 4, cols = 8;
        float[] g = filled(cols, 1), b = filled(cols, 2), y = new float[rows * cols], mean = new float[rows];
        float[] rstd = new float[rows];
        float[] x1 = filled(rows * cols, 3);
        assertThat(catchThrowable(() -> Norms.layerNormForward(rows, cols, 1e-5f, x1, 0, cols, g, 0, b, 0, y, 0, cols,
                x1, 2, rstd, 0))).hasMessageContaining("mean overlaps x");
        assertThat(catchThrowable(() -> Norms.rmsNormForward(rows, cols, 1e-5f, x1, 0, cols, g, 0, y, 0, cols,
                x1, 5))).hasMessageContaining("rstd overlaps x");
        float[] yg = filled(rows * cols + cols, 4);
        assertThat(catchThrowable(() -> Norms.layerNormForward(rows, cols, 1e-5f, x1, 0, cols, yg, rows * cols - 3, b, 0,
                yg, 0, cols, mean, 0, rstd, 0))).hasMessageContaining("y overlaps gamma");
        assertThat(catchThrowable(() -> Norms.layerNormForward(rows, cols, 1e-5f, x1, 0, cols, g, 0, yg, 3,
                yg, 0, cols, mean, 0, rstd, 0))).hasMessageContaining("y overlaps beta");
        assertThat(x1).isEqualTo(filled(rows * cols, 3));
    }

    // ---------------------------------------------------------------------------------------------

    static float[][] separateArrays(Entry e, long seed) {
        float[][] a = new float[e.operands().size()][];
        for (int i = 0; i < a.length; i++) {
            a[i] = random(e.operands().get(i).length(), seed + i);
        }
        return a;
    }

    static float[] random(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (rnd.nextDouble() - 0.5);
        }
        return x;
    }

    static float[] filled(int n, int seed) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = 0.25f * seed + 0.5f * i;
        }
        return x;
    }

    static float[][] snapshot(float[][] a) {
        float[][] s = new float[a.length][];
        for (int i = 0; i < a.length; i++) {
            s[i] = a[i].clone();
        }
        return s;
    }
}
