package dev.lanes.tests.attention;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.kernels.Parallelism;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The memory bound of the attention issue: MQA with B=1, Hq=8, Hkv=1, T=S=16384, D=64, forward and
 * backward, in a JVM capped at {@code -Xmx1g} (the surefire execution {@code long-sequence-1g}). A
 * materialised score matrix alone would need 8 * 16384^2 * 4 bytes = 8 GiB; the tiled forward keeps
 * O and the logsumexp (32.5 MiB), the backward recomputes the probabilities tile by tile.
 *
 * <p>Correctness at this length: sampled rows of O and of the logsumexp against a double-precision
 * reference over all 16384 keys, and dV's sampled rows against {@code sum_{h,i} P[h,i,j] dO[h,i]},
 * which needs only the saved logsumexp; every gradient finite.
 */
@Tag("long-sequence")
class AttentionLongSequenceTest {
    private static final int B = 1, HQ = 8, HKV = 1, T = 16384, D = 64;

    @Test
    void forwardAndBackwardAt16kKeysFitInOneGigabyte() {
        long maxHeap = Runtime.getRuntime().maxMemory();
        assertThat(maxHeap).as("run by the long-sequence-1g execution with -Xmx1g").isLessThanOrEqualTo(1L << 30);
        Random rnd = new Random(16384);
        float[] q = gaussian(rnd, B * HQ * T * D), k = gaussian(rnd, B * HKV * T * D), v = gaussian(rnd, B * HKV * T * D);
        float[] dO = gaussian(rnd, B * HQ * T * D);
        float[] o = new float[q.length], lse = new float[B * HQ * T];
        float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
        HeadLayout qs = HeadLayout.contiguous(HQ, T, D), ks = HeadLayout.contiguous(HKV, T, D);
        AttentionConfig cfg = AttentionConfig.builder(B, HQ, HKV, T, T, D).build();
        float scale = (float) (1 / Math.sqrt(D));
        try (Parallelism team = Parallelism.fixed(2)) {
            Attention.forward(team, cfg, AttentionView.of(q, 0, qs), AttentionView.of(k, 0, ks),
                    AttentionView.of(v, 0, ks), null, AttentionView.of(o, 0, qs), AttentionView.flat(lse, 0));
            Attention.backward(team, cfg, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                    AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks), null, AttentionView.of(o, 0, qs),
                    AttentionView.flat(lse, 0), AttentionView.of(dq, 0, qs), AttentionView.of(dk, 0, ks),
                    AttentionView.of(dv, 0, ks));
        }
        for (float[] g : new float[][] {dq, dk, dv}) {
            for (float x : g) {
                assertThat(Float.isFinite(x)).isTrue();
            }
        }
        // sampled query rows: logits, logsumexp and O in double over all keys
        for (int h : new int[] {0, 5}) {
            for (int i : new int[] {0, 4097, T - 1}) {
                double[] logit = new double[T];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < T; j++) {
                    double s = 0;
                    for (int d = 0; d < D; d++) {
                        s += (double) q[(h * T + i) * D + d] * k[j * D + d];
                    }
                    logit[j] = s * scale;
                    max = Math.max(max, logit[j]);
                }
                double sum = 0;
                for (int j = 0; j < T; j++) {
                    sum += Math.exp(logit[j] - max);
                }
                double wantLse = max + Math.log(sum);
                assertThat((double) lse[h * T + i]).as("lse h=%d i=%d", h, i)
                        .isCloseTo(wantLse, org.assertj.core.data.Offset.offset(1e-4 * (1 + Math.abs(wantLse))));
                for (int d = 0; d < D; d++) {
                    double want = 0;
                    for (int j = 0; j < T; j++) {
                        want += Math.exp(logit[j] - wantLse) * v[j * D + d];
                    }
                    assertThat((double) o[(h * T + i) * D + d]).as("o h=%d i=%d d=%d", h, i, d)
                            .isCloseTo(want, org.assertj.core.data.Offset.offset(2e-4));
                }
            }
        }
        // sampled key rows of dV = sum over heads and queries of P[h,i,j] dO[h,i] (P from the double lse)
        for (int j : new int[] {3, 9000}) {
            double[] want = new double[D];
            for (int h = 0; h < HQ; h++) {
                for (int i = 0; i < T; i++) {
                    double s = 0;
                    for (int d = 0; d < D; d++) {
                        s += (double) q[(h * T + i) * D + d] * k[j * D + d];
                    }
                    double p = Math.exp(s * scale - lse[h * T + i]);
                    for (int d = 0; d < D; d++) {
                        want[d] += p * dO[(h * T + i) * D + d];
                    }
                }
            }
            for (int d = 0; d < D; d++) {
                assertThat((double) dv[j * D + d]).as("dv j=%d d=%d", j, d)
                        .isCloseTo(want[d], org.assertj.core.data.Offset.offset(1e-3 * (1 + Math.abs(want[d]))));
            }
        }
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
