package dev.lanes.tests.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionScalar;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.core.attention.KeptScores;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Invalid arguments are rejected with an IllegalArgumentException that names the argument and the
 * numbers, before any output element is written.
 */
class AttentionRejectionTest {
    static final int B = 2, Hq = 4, Hkv = 2, T = 5, S = 7, D = 8;
    final AttentionConfig cfg = AttentionConfig.builder(B, Hq, Hkv, T, S, D).build();
    final HeadLayout qs = HeadLayout.contiguous(Hq, T, D), ks = HeadLayout.contiguous(Hkv, S, D);
    final float[] q = new float[B * Hq * T * D], k = new float[B * Hkv * S * D], v = new float[B * Hkv * S * D];
    final float[] o = filled(B * Hq * T * D), lse = filled(B * Hq * T);
    final float[] dO = new float[o.length], dq = filled(q.length), dk = filled(k.length), dv = filled(v.length);

    static float[] filled(int n) {
        float[] x = new float[n];
        Arrays.fill(x, 42f);
        return x;
    }

    @Test
    void configRejectsBadShapes() {
        assertThatThrownBy(() -> AttentionConfig.builder(1, 6, 4, 3, 3, 8).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("Hq=6 is not a multiple of Hkv=4");
        assertThatThrownBy(() -> AttentionConfig.builder(2, 4, 2, 3, 9, 8).keyLengths(9, 10).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("keyLengths[1]=10 outside [0, S=9]");
        assertThatThrownBy(() -> AttentionConfig.builder(2, 4, 2, 3, 9, 8).keyLengths(3).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("keyLengths.length=1 != B=2");
        assertThatThrownBy(() -> AttentionConfig.builder(1, 4, 2, -1, 9, 8).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("T=-1 < 0");
        assertThatThrownBy(() -> AttentionConfig.builder(1, 4, 2, 1, 9, 0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("D=0 < 1");
        assertThatThrownBy(() -> AttentionConfig.builder(1, 4, 2, 1, 9, 8).scale(-1f).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scale=-1.0");
        // NaN used to mean "the default": it is refused like any other bad scale
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f}) {
            assertThatThrownBy(() -> AttentionConfig.builder(1, 4, 2, 1, 9, 8).scale(bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scale=" + bad);
        }
        assertThat(AttentionConfig.builder(1, 4, 2, 1, 9, 8).scale(0.5f).defaultScale().build().scale())
                .isEqualTo(AttentionConfig.defaultScale(8)).isEqualTo((float) (1 / Math.sqrt(8)));
    }

    @Test
    void forwardRejectsBadViewsAndWritesNothing() {
        // mismatched D: q rows laid out for D = 6
        expectForward("q rowStride=6 < D=8", q, HeadLayout.contiguous(Hq, T, 6), k, ks, o, null);
        // short arrays
        expectForward("k too short", q, qs, new float[k.length - 1], ks, o, null);
        expectForward("o too short", q, qs, k, ks, new float[o.length - 1], null);
        // bad strides
        expectForward("k strides must be >= 0", q, qs, k, new HeadLayout(-1, S * D, D), o, null);
        // a bias the config asks for but is missing or short
        AttentionConfig withBias = AttentionConfig.builder(B, Hq, Hkv, T, S, D).bias(BiasShape.SHARED).build();
        assertThatThrownBy(() -> Attention.forward(withBias, AttentionView.of(q, 0, qs), AttentionView.of(k, 0, ks),
                AttentionView.of(v, 0, ks), AttentionView.flat(new float[T * S - 1], 0), AttentionView.of(o, 0, qs),
                AttentionView.flat(lse, 0))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bias too short");
        assertThatThrownBy(() -> Attention.forward(cfg, AttentionView.of(q, 0, qs), AttentionView.of(k, 0, ks),
                AttentionView.of(v, 0, ks), null, AttentionView.of(o, 0, qs),
                AttentionView.flat(new float[B * Hq * T - 1], 0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lse too short");
        assertThat(o).containsOnly(42f);
        assertThat(lse).containsOnly(42f);
    }

    @Test
    void backwardRejectsBadViewsAndWritesNothing() {
        assertThatThrownBy(() -> Attention.backward(cfg, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks), null, AttentionView.of(o, 0, qs),
                AttentionView.flat(lse, 0), AttentionView.of(dq, 0, qs), AttentionView.of(dk, 0, ks),
                AttentionView.of(new float[v.length - 1], 0, ks)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dv too short");
        assertThatThrownBy(() -> Attention.backward(cfg, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks), null, AttentionView.of(o, 0, qs),
                AttentionView.flat(lse, 0), AttentionView.of(dq, -1, qs), AttentionView.of(dk, 0, ks),
                AttentionView.of(dv, 0, ks)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("dqOff=-1 < 0");
        assertThatThrownBy(() -> AttentionScalar.backward(cfg, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                AttentionView.of(k, 0, HeadLayout.contiguous(Hkv, S, 7)), AttentionView.of(v, 0, ks), null,
                AttentionView.of(o, 0, qs), AttentionView.flat(lse, 0), AttentionView.of(dq, 0, qs),
                AttentionView.of(dk, 0, ks), AttentionView.of(dv, 0, ks)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("k rowStride=7 < D=8");
        assertThat(dq).containsOnly(42f);
        assertThat(dk).containsOnly(42f);
        assertThat(dv).containsOnly(42f);
    }

    @Test
    void keptScoresMustBeWrittenByAForwardUnderTheSameTuning() {
        dev.lanes.kernels.Parallelism serial = dev.lanes.kernels.Parallelism.serial();
        KeptScores kept = new KeptScores(cfg);
        // no forward has written it
        assertThatThrownBy(() -> kept.backward(serial, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks), null, AttentionView.of(o, 0, qs),
                AttentionView.flat(lse, 0), AttentionView.of(dq, 0, qs), AttentionView.of(dk, 0, ks),
                AttentionView.of(dv, 0, ks)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scores holds no scores kept");
        // written under one tuning, read under another (other forward blocks: another layout)
        float[] o2 = new float[o.length], lse2 = new float[lse.length];
        kept.forward(serial, AttentionView.of(q, 0, qs), AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks), null,
                AttentionView.of(o2, 0, qs), AttentionView.flat(lse2, 0));
        dev.lanes.kernels.Tuning saved = dev.lanes.kernels.Tuning.current();
        int other = saved.attnQ() == 32 ? 64 : 32;
        try {
            dev.lanes.kernels.Tuning.use(saved.with("attnQ=" + other, "test"));
            assertThatThrownBy(() -> kept.backward(serial, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                    AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks), null, AttentionView.of(o2, 0, qs),
                    AttentionView.flat(lse2, 0), AttentionView.of(dq, 0, qs), AttentionView.of(dk, 0, ks),
                    AttentionView.of(dv, 0, ks)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("attnQ=" + other);
        } finally {
            dev.lanes.kernels.Tuning.use(saved);
        }
        assertThat(dq).containsOnly(42f);
        assertThat(dk).containsOnly(42f);
        assertThat(dv).containsOnly(42f);
    }

    private void expectForward(String message, float[] q, HeadLayout qs, float[] k, HeadLayout ks, float[] o, float[] bias) {
        assertThatThrownBy(() -> Attention.forward(cfg, AttentionView.of(q, 0, qs), AttentionView.of(k, 0, ks),
                AttentionView.of(v, 0, this.ks), bias == null ? null : AttentionView.flat(bias, 0),
                AttentionView.of(o, 0, this.qs), AttentionView.flat(lse, 0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message);
        assertThatThrownBy(() -> AttentionScalar.forward(cfg, AttentionView.of(q, 0, qs), AttentionView.of(k, 0, ks),
                AttentionView.of(v, 0, this.ks), bias == null ? null : AttentionView.flat(bias, 0),
                AttentionView.of(o, 0, this.qs), AttentionView.flat(lse, 0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message);
        assertThat(o).containsOnly(o == this.o ? 42f : 0f);
    }
}
