package dev.lanes.tests.attention;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionScalar;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.BiasShape;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Gradients against central finite differences of the fake loss {@code sum(O .* dO)}, evaluated by a
 * double-precision attention written here from the definition (independent of the code under test):
 * dq, dk and dv of both {@link Attention} and {@link AttentionScalar} on small shapes.
 */
class AttentionGradientTest {

    static Stream<AttentionConfig> configs() {
        return Stream.of(
                AttentionConfig.builder(1, 2, 1, 3, 5, 4).build(),
                AttentionConfig.builder(2, 4, 2, 4, 6, 3).causal(CausalMask.TOP_LEFT).build(),
                AttentionConfig.builder(1, 3, 3, 5, 4, 5).causal(CausalMask.BOTTOM_RIGHT).keyLengths(3).build(),
                AttentionConfig.builder(2, 2, 1, 4, 5, 17).bias(BiasShape.PER_HEAD).keyLengths(5, 0).build(),
                AttentionConfig.builder(1, 4, 1, 6, 70, 2).causal(CausalMask.BOTTOM_RIGHT).bias(BiasShape.SHARED)
                        .scale(0.7f).build());
    }

    @ParameterizedTest
    @MethodSource("configs")
    void gradientsMatchCentralDifferences(AttentionConfig cfg) {
        int B = cfg.batch(), Hq = cfg.heads(), Hkv = cfg.kvHeads(), T = cfg.queries(), S = cfg.keys(), D = cfg.headDim();
        Random rnd = new Random(cfg.toString().hashCode());
        float[] q = uniform(rnd, B * Hq * T * D), k = uniform(rnd, B * Hkv * S * D), v = uniform(rnd, B * Hkv * S * D);
        float[] dO = uniform(rnd, B * Hq * T * D);
        float[] bias = null;
        if (cfg.biasShape() != BiasShape.NONE) {
            bias = uniform(rnd, cfg.biasShape() == BiasShape.SHARED ? T * S : B * Hq * T * S);
            bias[1] = Float.NEGATIVE_INFINITY;
        }
        HeadLayout qs = HeadLayout.contiguous(Hq, T, D), ks = HeadLayout.contiguous(Hkv, S, D);
        float[] o = new float[q.length], lse = new float[B * Hq * T];
        Attention.forward(cfg, AttentionView.of(q, 0, qs), AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks),
                bias == null ? null : AttentionView.flat(bias, 0), AttentionView.of(o, 0, qs),
                AttentionView.flat(lse, 0));

        double[] qd = toDouble(q), kd = toDouble(k), vd = toDouble(v);
        double[][] fd = new double[3][];
        double[][] params = {qd, kd, vd};
        double eps = 1e-5;
        for (int which = 0; which < 3; which++) {
            double[] x = params[which];
            fd[which] = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                double saved = x[i];
                x[i] = saved + eps;
                double up = loss(cfg, qd, kd, vd, bias, dO);
                x[i] = saved - eps;
                double down = loss(cfg, qd, kd, vd, bias, dO);
                x[i] = saved;
                fd[which][i] = (up - down) / (2 * eps);
            }
        }
        for (boolean fast : new boolean[] {true, false}) {
            float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
            if (fast) {
                Attention.backward(cfg, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                        AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks),
                        bias == null ? null : AttentionView.flat(bias, 0), AttentionView.of(o, 0, qs),
                        AttentionView.flat(lse, 0), AttentionView.of(dq, 0, qs), AttentionView.of(dk, 0, ks),
                        AttentionView.of(dv, 0, ks));
            } else {
                AttentionScalar.backward(cfg, AttentionView.of(dO, 0, qs), AttentionView.of(q, 0, qs),
                        AttentionView.of(k, 0, ks), AttentionView.of(v, 0, ks),
                        bias == null ? null : AttentionView.flat(bias, 0), AttentionView.of(o, 0, qs),
                        AttentionView.flat(lse, 0), AttentionView.of(dq, 0, qs), AttentionView.of(dk, 0, ks),
                        AttentionView.of(dv, 0, ks));
            }
            double tol = fast ? 2e-5 : 1e-7; // float kernels vs the double oracle
            assertGrad((fast ? "Attention" : "AttentionScalar") + " dq", fd[0], dq, tol);
            assertGrad((fast ? "Attention" : "AttentionScalar") + " dk", fd[1], dk, tol);
            assertGrad((fast ? "Attention" : "AttentionScalar") + " dv", fd[2], dv, tol);
        }
    }

    private static void assertGrad(String what, double[] expected, float[] actual, double tol) {
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as("%s[%d]", what, i)
                    .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(tol * (1 + Math.abs(expected[i])) + 1e-9));
        }
    }

    /** sum(O .* dO) of attention computed from the definition in double; contiguous layouts. */
    static double loss(AttentionConfig cfg, double[] q, double[] k, double[] v, float[] bias, float[] dO) {
        int B = cfg.batch(), Hq = cfg.heads(), Hkv = cfg.kvHeads(), T = cfg.queries(), S = cfg.keys(), D = cfg.headDim();
        int G = Hq / Hkv;
        double total = 0;
        double[] w = new double[S];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < Hq; h++) {
                int kvBase = (b * Hkv + h / G) * S * D;
                for (int i = 0; i < T; i++) {
                    int qi = ((b * Hq + h) * T + i) * D;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < S; j++) {
                        boolean visible = j < cfg.keyLength(b);
                        if (cfg.causal() == CausalMask.TOP_LEFT) {
                            visible &= j <= i;
                        } else if (cfg.causal() == CausalMask.BOTTOM_RIGHT) {
                            visible &= j <= i + S - T;
                        }
                        double s = Double.NEGATIVE_INFINITY;
                        if (visible) {
                            s = 0;
                            for (int d = 0; d < D; d++) {
                                s += q[qi + d] * k[kvBase + j * D + d];
                            }
                            s *= cfg.scale();
                            if (cfg.biasShape() == BiasShape.SHARED) {
                                s += bias[i * S + j];
                            } else if (cfg.biasShape() == BiasShape.PER_HEAD) {
                                s += bias[((b * Hq + h) * T + i) * S + j];
                            }
                        }
                        w[j] = s;
                        max = Math.max(max, s);
                    }
                    if (max == Double.NEGATIVE_INFINITY) {
                        continue; // the row's output is zero
                    }
                    double sum = 0;
                    for (int j = 0; j < S; j++) {
                        w[j] = Math.exp(w[j] - max);
                        sum += w[j];
                    }
                    for (int d = 0; d < D; d++) {
                        double od = 0;
                        for (int j = 0; j < S; j++) {
                            od += w[j] * v[kvBase + j * D + d];
                        }
                        total += od / sum * dO[qi + d];
                    }
                }
            }
        }
        return total;
    }

    static float[] uniform(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = 2f * rnd.nextFloat() - 1f;
        }
        return x;
    }

    static double[] toDouble(float[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i];
        }
        return y;
    }
}
