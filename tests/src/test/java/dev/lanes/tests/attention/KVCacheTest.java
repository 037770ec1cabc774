package dev.lanes.tests.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.core.attention.KVCache;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Decoding through {@link KVCache}, token by token and in chunks, equals one full causal forward. */
class KVCacheTest {

    @ParameterizedTest
    @CsvSource({
        // B, Hq, Hkv, N, D, prefill
        "2, 8, 2, 40, 40, 0",
        "1, 4, 1, 70, 64, 13",
        "2, 3, 3, 20, 80, 1",
        "1, 32, 4, 9, 16, 4",
        // decoding computes scores in chunks of 4096 floats (512 keys for a group of 8, 4096 for one
        // head): these steps cross a chunk's end
        "1, 8, 1, 600, 16, 590",
        "1, 1, 1, 4200, 8, 4190",
    })
    void decodingEqualsTheFullForward(int B, int Hq, int Hkv, int N, int D, int prefill) {
        Random rnd = new Random(N * 31L + D);
        // the whole sequence as a fused projection [B, N, (Hq + 2 Hkv) D]
        int width = (Hq + 2 * Hkv) * D;
        float[] qkv = AttentionGradientTest.uniform(rnd, B * N * width);
        HeadLayout fused = HeadLayout.fused(N, width, D);
        int kOff = Hq * D, vOff = (Hq + Hkv) * D;
        AttentionConfig cfg = AttentionConfig.builder(B, Hq, Hkv, N, N, D).causal(CausalMask.TOP_LEFT).build();
        HeadLayout os = HeadLayout.contiguous(Hq, N, D);
        float[] full = new float[B * Hq * N * D], lseFull = new float[B * Hq * N];
        Attention.forward(cfg, AttentionView.of(qkv, 0, fused), AttentionView.of(qkv, kOff, fused),
                AttentionView.of(qkv, vOff, fused), null, AttentionView.of(full, 0, os),
                AttentionView.flat(lseFull, 0));

        KVCache cache = new KVCache(B, Hkv, D, N);
        float[] out = new float[B * Hq * N * D], lse = new float[B * Hq * N];
        Arrays.fill(out, Float.NaN);
        try (Parallelism two = Parallelism.fixed(2)) {
            int pos = 0;
            while (pos < N) {
                int n = pos == 0 && prefill > 0 ? prefill : 1;
                // the n new tokens are rows [pos, pos + n) of every batch entry: views with the same strides
                cache.append(n, qkv, kOff + pos * width, fused, qkv, vOff + pos * width, fused);
                float[] lseStep = new float[B * Hq * n];
                cache.attend(pos % 2 == 0 ? Parallelism.serial() : two, Hq, n, cfg.scale(), qkv, pos * width, fused,
                        out, pos * D, os, lseStep, 0);
                for (int b = 0; b < B; b++) {
                    for (int h = 0; h < Hq; h++) {
                        System.arraycopy(lseStep, (b * Hq + h) * n, lse, (b * Hq + h) * N + pos, n);
                    }
                }
                pos += n;
            }
        }
        assertThat(cache.length()).isEqualTo(N);
        Close.assertClose("decoded o", full, out, 1e-5, 1e-5);
        Close.assertClose("decoded lse", lseFull, lse, 1e-5, 1e-5);
        // same key tiles, same fmas in the same order per query column: the decode's own layouts
        // (K in transposed tiles, O as rows) change no bit of the result
        assertThat(out).as("decoded o, bits").isEqualTo(full);
        assertThat(lse).as("decoded lse, bits").isEqualTo(lseFull);
    }

    @org.junit.jupiter.api.Test
    void rejectsOverflowAndBadShapesWithoutTouchingTheCache() {
        KVCache cache = new KVCache(1, 2, 8, 4);
        float[] kv = new float[2 * 3 * 8];
        HeadLayout l = HeadLayout.contiguous(2, 3, 8);
        cache.append(3, kv, 0, l, kv, 0, l);
        assertThatThrownBy(() -> cache.append(3, kv, 0, l, kv, 0, l))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("capacity=4");
        assertThat(cache.length()).isEqualTo(3);
        float[] q = new float[3 * 8], o = new float[3 * 8];
        HeadLayout ql = HeadLayout.contiguous(3, 1, 8);
        assertThatThrownBy(() -> cache.attend(Parallelism.serial(), 3, 1, 1f, q, 0, ql, o, 0, ql, null, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Hq=3");
        HeadLayout narrow = HeadLayout.contiguous(4, 1, 6); // rows of D=6 for a D=8 cache
        assertThatThrownBy(() -> cache.attend(Parallelism.serial(), 4, 1, 1f, q, 0, narrow, o, 0, narrow, null, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rowStride=6 < D=8");
        assertThat(o).containsOnly(0f);
    }
}
