package dev.lanes.tests.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.kernels.Parallelism;
import dev.lanes.tests.Bits;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attention on {@link AttentionView}s against the array entry points: segment views (other strides,
 * other offsets, K and V mapped READ_ONLY, a view past element 2^31 of a sparse file) give the bits of
 * arrays holding the same values, forward and accumulating backward; bad views are refused.
 */
class AttentionViewTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int B = 2, HQ = 4, HKV = 2, T = 37, S = 45, D = 24;

    private static final AttentionConfig CFG = AttentionConfig.builder(B, HQ, HKV, T, S, D)
            .causal(CausalMask.BOTTOM_RIGHT).bias(BiasShape.SHARED).keyLengths(45, 30).build();

    private static float[] random(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextDouble(-1, 1);
        }
        return x;
    }

    /** The values of a contiguous [nb, nh, rows, d] array, in a segment at off with row stride ld (gaps NaN). */
    private static MemorySegment spread(MemorySegment seg, long off, float[] x, int nb, int nh, int rows, int d, long ld) {
        for (int r = 0; r < nb * nh * rows; r++) {
            MemorySegment.copy(x, r * d, seg, F, (off + r * ld) * Float.BYTES, d);
        }
        return seg;
    }

    private static float[] gather(MemorySegment seg, long off, int nb, int nh, int rows, int d, long ld) {
        float[] x = new float[nb * nh * rows * d];
        for (int r = 0; r < nb * nh * rows; r++) {
            MemorySegment.copy(seg, F, (off + r * ld) * Float.BYTES, x, r * d, d);
        }
        return x;
    }

    private static AttentionView view(MemorySegment seg, long off, int nh, int rows, long ld) {
        return AttentionView.of(seg, off, nh * rows * ld, rows * ld, ld);
    }

    @Test
    void segmentViewsGiveTheArrayBitsForwardAndBackward(@TempDir Path dir) throws IOException {
        SplittableRandom rnd = new SplittableRandom(17);
        int nq = B * HQ * T * D, nkv = B * HKV * S * D;
        float[] q = random(rnd, nq), k = random(rnd, nkv), v = random(rnd, nkv), bias = random(rnd, T * S);
        float[] dO = random(rnd, nq), dq0 = random(rnd, nq), dk0 = random(rnd, nkv), dv0 = random(rnd, nkv);
        HeadLayout ql = HeadLayout.contiguous(HQ, T, D), kl = HeadLayout.contiguous(HKV, S, D);
        float[] o = new float[nq], lse = new float[B * HQ * T];
        float[] dq = dq0.clone(), dk = dk0.clone(), dv = dv0.clone();
        try (Parallelism team = Parallelism.fixed(2)) {
            Attention.forward(team, CFG, AttentionView.of(q, 0, ql), AttentionView.of(k, 0, kl),
                    AttentionView.of(v, 0, kl), bias == null ? null : AttentionView.flat(bias, 0),
                    AttentionView.of(o, 0, ql), AttentionView.flat(lse, 0));
            Attention.backward(team, CFG, AttentionView.of(dO, 0, ql), AttentionView.of(q, 0, ql),
                    AttentionView.of(k, 0, kl), AttentionView.of(v, 0, kl),
                    bias == null ? null : AttentionView.flat(bias, 0), AttentionView.of(o, 0, ql),
                    AttentionView.flat(lse, 0), AttentionView.of(dq, 0, ql), AttentionView.of(dk, 0, kl),
                    AttentionView.of(dv, 0, kl));
        }
        // K and V as a read-only mapped file (a KV store or weights on disk), row stride D + 8.
        long kvLd = D + 8;
        Path file = dir.resolve("kv.bin");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment kv = arena.allocate(2L * B * HKV * S * kvLd * Float.BYTES);
            spread(kv, 0, k, B, HKV, S, D, kvLd);
            spread(kv, (long) B * HKV * S * kvLd, v, B, HKV, S, D, kvLd);
            Files.write(file, kv.toArray(ValueLayout.JAVA_BYTE));
        }
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             Parallelism team = Parallelism.fixed(2)) {
            MemorySegment kv = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            long qLd = D + 3, qOff = 5;
            MemorySegment qs = spread(arena.allocate((qOff + (long) B * HQ * T * qLd) * Float.BYTES), qOff, q, B, HQ, T, D, qLd);
            MemorySegment dOs = spread(arena.allocate((long) nq * Float.BYTES), 0, dO, B, HQ, T, D, D);
            MemorySegment os = arena.allocate((long) B * HQ * T * qLd * Float.BYTES);
            MemorySegment lses = arena.allocate((long) lse.length * Float.BYTES + 12);
            MemorySegment bs = arena.allocate((long) bias.length * Float.BYTES);
            MemorySegment.copy(bias, 0, bs, F, 0, bias.length);
            AttentionView qv = view(qs, qOff, HQ, T, qLd), ov = view(os, 0, HQ, T, qLd), lv = AttentionView.flat(lses,
                    3);
            AttentionView kvv = view(kv, 0, HKV, S, kvLd), vvv = view(kv, (long) B * HKV * S * kvLd, HKV, S, kvLd);
            Attention.forward(team, CFG, qv, kvv, vvv, AttentionView.flat(bs, 0), ov, lv);
            Bits.assertSameBits("o", o, gather(os, 0, B, HQ, T, D, qLd));
            float[] lseGot = new float[lse.length];
            MemorySegment.copy(lses, F, 12, lseGot, 0, lse.length);
            Bits.assertSameBits("lse", lse, lseGot);

            // Backward: dq a segment, dk and dv arrays (mixed views), all starting from nonzero values.
            MemorySegment dqs = spread(arena.allocate((long) nq * Float.BYTES), 0, dq0, B, HQ, T, D, D);
            float[] dk2 = dk0.clone(), dv2 = dv0.clone();
            Attention.backward(team, CFG, view(dOs, 0, HQ, T, D), qv, kvv, vvv, AttentionView.flat(bias, 0), ov, lv,
                    view(dqs, 0, HQ, T, D), AttentionView.of(dk2, 0, kl), AttentionView.of(dv2, 0, kl));
            Bits.assertSameBits("dq", dq, gather(dqs, 0, B, HQ, T, D, D));
            Bits.assertSameBits("dk", dk, dk2);
            Bits.assertSameBits("dv", dv, dv2);

            // The mapped file is read-only: as an output it is refused before anything is written.
            assertThatThrownBy(() -> Attention.forward(team, CFG, qv, kvv, vvv, AttentionView.flat(bs, 0),
                    view(kv, 0, HQ, T, D), lv))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("o is a read-only segment");
        }
    }

    @Test
    void viewsArrayOnlyAreTheArrayEntryPoints() {
        SplittableRandom rnd = new SplittableRandom(3);
        int nq = B * HQ * T * D, nkv = B * HKV * S * D;
        float[] q = random(rnd, nq), k = random(rnd, nkv), v = random(rnd, nkv), bias = random(rnd, T * S);
        HeadLayout ql = HeadLayout.contiguous(HQ, T, D), kl = HeadLayout.contiguous(HKV, S, D);
        float[] o = new float[nq], lse = new float[B * HQ * T], o2 = new float[nq], lse2 = new float[B * HQ * T];
        Attention.forward(CFG, AttentionView.of(q, 0, ql), AttentionView.of(k, 0, kl), AttentionView.of(v, 0, kl),
                bias == null ? null : AttentionView.flat(bias, 0), AttentionView.of(o, 0, ql),
                AttentionView.flat(lse, 0));
        Attention.forward(Parallelism.serial(), CFG, AttentionView.of(q, 0, ql), AttentionView.of(k, 0, kl),
                AttentionView.of(v, 0, kl), AttentionView.flat(bias, 0), AttentionView.of(o2, 0, ql),
                AttentionView.flat(lse2, 0));
        assertThat(o2).isEqualTo(o);
        assertThat(lse2).isEqualTo(lse);
    }

    @Test
    void aQueryViewPastElement2To31(@TempDir Path dir) throws IOException {
        AttentionConfig cfg = AttentionConfig.builder(1, 2, 1, 5, 7, 16).build();
        SplittableRandom rnd = new SplittableRandom(9);
        float[] q = random(rnd, 2 * 5 * 16), k = random(rnd, 7 * 16), v = random(rnd, 7 * 16);
        float[] o = new float[q.length], lse = new float[10];
        HeadLayout ql = HeadLayout.contiguous(2, 5, 16), kl = HeadLayout.contiguous(1, 7, 16);
        Attention.forward(cfg, AttentionView.of(q, 0, ql), AttentionView.of(k, 0, kl), AttentionView.of(v, 0, kl), null,
                AttentionView.of(o, 0, ql), AttentionView.flat(lse, 0));
        long qOff = (1L << 31) + 7;   // q's first element lies past 2^31, its heads 2^29 floats apart
        long headStride = 1L << 29;
        Path file = dir.resolve("sparse.bin");
        try (Arena arena = Arena.ofShared();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.SPARSE,
                     StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long floats = qOff + headStride + 5 * 16 + 64;
            MemorySegment big = ch.map(FileChannel.MapMode.READ_WRITE, 0, floats * Float.BYTES, arena);
            for (int h = 0; h < 2; h++) {
                MemorySegment.copy(q, h * 80, big, F, (qOff + h * headStride) * Float.BYTES, 80);
            }
            MemorySegment ks = arena.allocate(k.length * 4L), vs = arena.allocate(v.length * 4L);
            MemorySegment.copy(k, 0, ks, F, 0, k.length);
            MemorySegment.copy(v, 0, vs, F, 0, v.length);
            float[] o2 = new float[q.length], lse2 = new float[10];
            Attention.forward(Parallelism.serial(), cfg, AttentionView.of(big, qOff, 2 * headStride, headStride, 16),
                    AttentionView.of(ks, 0, kl), AttentionView.of(vs, 0, kl), null, AttentionView.of(o2, 0, ql),
                    AttentionView.flat(lse2, 0));
            Bits.assertSameBits("o from q past 2^31", o, o2);
            Bits.assertSameBits("lse from q past 2^31", lse, lse2);
            assertThatThrownBy(() -> Attention.forward(Parallelism.serial(), cfg,
                    AttentionView.of(big, qOff, 2 * headStride, 4 * headStride, 16), AttentionView.of(ks, 0, kl),
                    AttentionView.of(vs, 0, kl), null, AttentionView.of(o2, 0, ql), AttentionView.flat(lse2, 0)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("q too short: qOff=2147483655");
            assertThat(Arrays.equals(o, o2)).isTrue();
        }
        Files.deleteIfExists(file);
    }
}
