package dev.lanes.tests.attention;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionScalar;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.KeptScores;
import dev.lanes.kernels.Parallelism;
import dev.lanes.tests.Bits;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Attention} forward and backward against {@link AttentionScalar} (double precision, scores
 * materialised) on random shapes: T != S, D not a multiple of the vector length, Hkv in {1, 2, Hq},
 * both causal alignments, key lengths 0..S, bias masks, contiguous and fused layouts with sentinels
 * around every view. Each case runs twice, the second time on a two-thread team, and the two results
 * must be the same bits. The forward that keeps its scores must give the same bits, and the backward
 * that reads them dq's bits and dk, dv within the same bound (they sum over other blocks), the same bits
 * on one and two threads.
 */
class AttentionTest {
    static Parallelism two;

    @BeforeAll
    static void start() {
        two = Parallelism.fixed(2);
    }

    @AfterAll
    static void stop() {
        two.close();
    }

    static Stream<Arguments> cases() {
        List<Arguments> list = new ArrayList<>();
        Random rnd = new Random(20250205);
        // named shapes first: the corners
        list.add(Arguments.of(AttentionConfig.builder(2, 4, 1, 37, 91, 40).causal(CausalMask.BOTTOM_RIGHT).build(), true));
        list.add(Arguments.of(AttentionConfig.builder(1, 4, 2, 70, 33, 80).causal(CausalMask.TOP_LEFT).build(), false));
        list.add(Arguments.of(AttentionConfig.builder(2, 3, 3, 50, 130, 40).keyLengths(0, 130).build(), false));
        list.add(Arguments.of(AttentionConfig.builder(2, 8, 1, 65, 65, 64).causal(CausalMask.TOP_LEFT)
                .keyLengths(17, 65).bias(BiasShape.SHARED).build(), true));
        list.add(Arguments.of(AttentionConfig.builder(1, 6, 2, 20, 140, 80).causal(CausalMask.BOTTOM_RIGHT)
                .bias(BiasShape.PER_HEAD).scale(0.3f).build(), true));
        list.add(Arguments.of(AttentionConfig.builder(1, 64, 2, 5, 70, 16).build(), false)); // G = 32
        list.add(Arguments.of(AttentionConfig.builder(1, 2, 1, 9, 300, 24).keySplit(3).build(), false));
        // more key tiles than the backward takes in one group, one batch entry's keys ending in the first
        // group, the bias array ending at a key count that is no multiple of the vector length (padded
        // tiles must not read past it); the backward as one fused phase per (batch, kv head) (keySplit 1)
        // and in three phases (keySplit 2)
        for (int split = 1; split <= 2; split++) {
            list.add(Arguments.of(AttentionConfig.builder(2, 2, 1, 20, 1107, 16).causal(CausalMask.BOTTOM_RIGHT)
                    .keyLengths(650, 1107).bias(BiasShape.PER_HEAD).keySplit(split).build(), split == 1));
        }
        for (int i = 0; i < 24; i++) {
            list.add(Arguments.of(AttentionCase.randomConfig(rnd).build(), rnd.nextBoolean()));
        }
        return list.stream();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void forwardAndBackwardMatchTheScalarTwin(AttentionConfig cfg, boolean fused) {
        AttentionCase c = new AttentionCase(cfg, fused, cfg.hashCode());
        float[] oRef = c.newO(), lseRef = c.newLse();
        AttentionScalar.forward(cfg, c.qView(), c.kView(), c.vView(), c.biasView(), c.oView(oRef), c.lseView(lseRef));
        float[] dO = c.newDo(7);
        float[][] gRef = c.grads(11);
        AttentionScalar.backward(cfg, c.oView(dO), c.qView(), c.kView(), c.vView(), c.biasView(), c.oView(oRef),
                c.lseView(lseRef), c.dqView(gRef), c.dkView(gRef), c.dvView(gRef));

        float[] o1 = null, lse1 = null;
        float[][] g1 = null;
        for (Parallelism par : new Parallelism[] {Parallelism.serial(), two}) {
            float[] o = c.newO(), lse = c.newLse();
            Attention.forward(par, cfg, c.qView(), c.kView(), c.vView(), c.biasView(), c.oView(o), c.lseView(lse));
            float[][] g = c.grads(11);
            Attention.backward(par, cfg, c.oView(dO), c.qView(), c.kView(), c.vView(), c.biasView(), c.oView(o),
                    c.lseView(lse), c.dqView(g), c.dkView(g), c.dvView(g));
            if (o1 == null) {
                Close.assertClose("o", oRef, o, 2e-5, 2e-5);
                Close.assertClose("lse", lseRef, lse, 2e-5, 2e-5);
                // gradients of a sum over up to S terms of products of unit-sized numbers
                double tol = 2e-5 * Math.sqrt(Math.max(c.S, c.T) * cfg.groupSize());
                Close.assertClose("dq", gRef[0], g[0], tol, 1e-4);
                Close.assertClose("dk", gRef[1], g[1], tol, 1e-4);
                Close.assertClose("dv", gRef[2], g[2], tol, 1e-4);
                o1 = o;
                lse1 = lse;
                g1 = g;
            } else {
                Bits.assertSameBits("o, 2 threads vs 1", o1, o);
                Bits.assertSameBits("lse, 2 threads vs 1", lse1, lse);
                for (int i = 0; i < 3; i++) {
                    Bits.assertSameBits("gradient " + i + ", 2 threads vs 1", g1[i], g[i]);
                }
            }
        }
        float[][] g1Kept = null;
        for (Parallelism par : new Parallelism[] {Parallelism.serial(), two}) {
            float[] o = c.newO(), lse = c.newLse();
            // a new workspace each time: scores the forward did not write would be zeros, and dq below must
            // still be the recomputing backward's bits
            KeptScores kept = new KeptScores(cfg);
            kept.forward(par, c.qView(), c.kView(), c.vView(), c.biasView(), c.oView(o), c.lseView(lse));
            Bits.assertSameBits("o, scores kept", o1, o);
            Bits.assertSameBits("lse, scores kept", lse1, lse);
            float[][] g = c.grads(11);
            kept.backward(par, c.oView(dO), c.qView(), c.kView(), c.vView(), c.biasView(), c.oView(o), c.lseView(lse),
                    c.dqView(g), c.dkView(g), c.dvView(g));
            // dq's elements only: with a fused layout dq, dk and dv are one array
            for (int b = 0; b < c.B; b++) {
                for (int h = 0; h < c.Hq; h++) {
                    for (int t = 0; t < c.T; t++) {
                        int at = c.qOff + b * c.qs.batchStride() + h * c.qs.headStride() + t * c.qs.rowStride();
                        Bits.assertSameBits("dq[" + b + ", " + h + ", " + t + "], scores kept vs recomputed",
                                java.util.Arrays.copyOfRange(g1[0], at, at + c.D),
                                java.util.Arrays.copyOfRange(g[0], at, at + c.D));
                    }
                }
            }
            if (g1Kept == null) {
                double tol = 2e-5 * Math.sqrt(Math.max(c.S, c.T) * cfg.groupSize());
                Close.assertClose("dk, scores kept", gRef[1], g[1], tol, 1e-4);
                Close.assertClose("dv, scores kept", gRef[2], g[2], tol, 1e-4);
                g1Kept = g;
            } else {
                Bits.assertSameBits("dk, scores kept, 2 threads vs 1", g1Kept[1], g[1]);
                Bits.assertSameBits("dv, scores kept, 2 threads vs 1", g1Kept[2], g[2]);
            }
        }
    }

    @Test
    void fullyMaskedRowsGiveZerosMinusInfinityAndNoGradient() {
        AttentionConfig cfg = AttentionConfig.builder(2, 4, 2, 9, 12, 40).causal(CausalMask.BOTTOM_RIGHT)
                .keyLengths(0, 12).build();
        // batch 0 sees nothing; batch 1 with S - T = 3 sees keys j <= i + 3
        AttentionCase c = new AttentionCase(cfg, false, 5);
        float[] o = c.newO(), lse = c.newLse();
        Attention.forward(cfg, c.qView(), c.kView(), c.vView(), null, c.oView(o), c.lseView(lse));
        int half = c.Hq * c.T * c.D;
        for (int i = 0; i < half; i++) {
            assertThat(o[c.oOff + i]).isEqualTo(0f);
        }
        for (int i = 0; i < c.Hq * c.T; i++) {
            assertThat(lse[c.lseOff + i]).isEqualTo(Float.NEGATIVE_INFINITY);
        }
        for (int i = half; i < 2 * half; i++) {
            assertThat(o[c.oOff + i]).isFinite();
        }
        float[] dO = c.newDo(3);
        float[] dq = new float[c.qkv.length], dk = new float[c.kArr.length], dv = new float[c.vArr.length];
        Attention.backward(cfg, c.oView(dO), c.qView(), c.kView(), c.vView(), null, c.oView(o), c.lseView(lse),
                AttentionView.of(dq, c.qOff, c.qs), AttentionView.of(dk, c.kOff, c.ks),
                AttentionView.of(dv, c.vOff, c.vs));
        for (int i = 0; i < half; i++) {
            assertThat(dq[c.qOff + i]).isEqualTo(0f);
        }
        for (int i = 0; i < c.Hkv * c.S * c.D; i++) {
            assertThat(dk[c.kOff + i]).isEqualTo(0f);
            assertThat(dv[c.vOff + i]).isEqualTo(0f);
        }
        for (float x : dq) {
            assertThat(x).isNotNaN();
        }
    }

    @Test
    void repeatedCallsGiveTheSameBits() {
        // the second and later calls reuse the workspaces; the C2-compiled kernels must agree with the first
        AttentionConfig cfg = AttentionConfig.builder(2, 8, 2, 100, 150, 64).causal(CausalMask.TOP_LEFT).build();
        AttentionCase c = new AttentionCase(cfg, true, 9);
        float[] first = null;
        for (int rep = 0; rep < 30; rep++) {
            float[] o = c.newO(), lse = c.newLse();
            Attention.forward(cfg, c.qView(), c.kView(), c.vView(), null, c.oView(o), c.lseView(lse));
            if (first == null) {
                first = o;
            } else {
                Bits.assertSameBits("o, repeated", first, o);
            }
        }
    }
}
