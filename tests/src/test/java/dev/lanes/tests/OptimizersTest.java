package dev.lanes.tests;

import static dev.lanes.tests.Rejection.arrays;
import static dev.lanes.tests.Rejection.iae;
import static dev.lanes.tests.Bits.assertSameBits;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.kernels.Optimizers;
import dev.lanes.kernels.OptimizersScalar;
import dev.lanes.kernels.Parallelism;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Optimizers#adamW}: bit for bit the float loop core/nn/AdamW ran before (copied here, so the
 * PyTorch golden tests keep their meaning) and its scalar twin, within float rounding of the formula
 * in double, the same bits for every team, and its validation.
 */
class OptimizersTest {
    static final int[] SIZES = {0, 1, 15, 16, 17, 33, 97, 4099, 32_769, 70_001};

    /** The loop core/nn/AdamW.step ran before the kernels, verbatim. */
    static void originalLoop(int n, float lr, float beta1, float beta2, float eps, float weightDecay, int t,
                             float[] grads, int gOff, float[] params, int pOff, float[] m, int mOff, float[] v, int vOff) {
        float decay = 1f - lr * weightDecay;
        float c1 = (float) (1.0 - Math.pow(beta1, t));
        float c2 = (float) (1.0 - Math.pow(beta2, t));
        float stepSize = lr / c1;
        float sqrtC2 = (float) Math.sqrt(c2);
        for (int i = 0; i < n; i++) {
            float g = grads[gOff + i];
            float mi = beta1 * m[mOff + i] + (1f - beta1) * g;
            float vi = beta2 * v[vOff + i] + (1f - beta2) * g * g;
            m[mOff + i] = mi;
            v[vOff + i] = vi;
            float p = params[pOff + i] * decay;
            params[pOff + i] = p - stepSize * mi / ((float) Math.sqrt(vi) / sqrtC2 + eps);
        }
    }

    private static float[] random(SplittableRandom rnd, int len, double scale) {
        float[] a = new float[len];
        for (int i = 0; i < len; i++) a[i] = (float) (TestSupport.uniform(rnd) * scale);
        return a;
    }

    @Test
    void sameBitsAsTheOriginalLoopAndTheTwinOverSteps() {
        for (int pass = 0; pass < 2; pass++) {
            SplittableRandom rnd = new SplittableRandom(71);
            for (int n : SIZES) {
                int gOff = 1, pOff = n % 4, mOff = 3, vOff = 0;
                float[] p = random(rnd, pOff + n + 2, 1), m = new float[mOff + n + 1], v = new float[vOff + n + 5];
                float[] p2 = p.clone(), m2 = m.clone(), v2 = v.clone(), p3 = p.clone(), m3 = m.clone(), v3 = v.clone();
                for (int t = 1; t <= 4; t++) {
                    float[] g = random(rnd, gOff + n, t == 3 ? 1e-20 : 0.1); // tiny gradients: sqrt(v) ~ eps
                    float wd = t == 2 ? 0f : 0.1f;
                    Optimizers.adamW(n, 1e-2f, 0.9f, 0.95f, 1e-8f, wd, t, g, gOff, p, pOff, m, mOff, v, vOff);
                    originalLoop(n, 1e-2f, 0.9f, 0.95f, 1e-8f, wd, t, g, gOff, p2, pOff, m2, mOff, v2, vOff);
                    OptimizersScalar.adamW(n, 1e-2f, 0.9f, 0.95f, 1e-8f, wd, t, g, gOff, p3, pOff, m3, mOff, v3, vOff);
                    assertSameBits("params n=" + n + " t=" + t, p2, p);
                    assertSameBits("m n=" + n + " t=" + t, m2, m);
                    assertSameBits("v n=" + n + " t=" + t, v2, v);
                    assertSameBits("twin params n=" + n + " t=" + t, p2, p3);
                    assertSameBits("twin m", m2, m3);
                    assertSameBits("twin v", v2, v3);
                }
            }
        }
    }

    /** Within float rounding of the textbook formula evaluated in double, step 1000 included. */
    @Test
    void matchesTheFormulaInDouble() {
        SplittableRandom rnd = new SplittableRandom(72);
        int n = 1001;
        float lr = 3e-4f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.01f;
        float[] p = random(rnd, n, 2), m = random(rnd, n, 1e-2), v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextDouble() * 1e-3);
        for (int t : new int[] {1, 2, 1000}) {
            float[] g = random(rnd, n, 0.05);
            float[] p0 = p.clone(), m0 = m.clone(), v0 = v.clone();
            Optimizers.adamW(n, lr, b1, b2, eps, wd, t, g, 0, p, 0, m, 0, v, 0);
            for (int i = 0; i < n; i++) {
                double md = b1 * (double) m0[i] + (1 - (double) b1) * g[i];
                double vd = b2 * (double) v0[i] + (1 - (double) b2) * g[i] * (double) g[i];
                double mhat = md / (1 - Math.pow(b1, t)), vhat = vd / (1 - Math.pow(b2, t));
                double upd = lr * mhat / (Math.sqrt(vhat) + eps);
                double pd = p0[i] * (1 - (double) lr * wd) - upd;
                assertThat(Math.abs(m[i] - md)).isLessThanOrEqualTo(4 * TestSupport.EPS * (Math.abs(md) + Math.abs(g[i])));
                assertThat(Math.abs(v[i] - vd)).isLessThanOrEqualTo(6 * TestSupport.EPS * vd + 1e-30);
                assertThat(Math.abs(p[i] - pd)).as("p[%d] t=%d", i, t)
                        .isLessThanOrEqualTo(4 * TestSupport.EPS * Math.abs(p0[i]) + 40 * TestSupport.EPS * Math.abs(upd));
            }
        }
    }

    @Test
    void bitsDoNotDependOnTheTeam() {
        SplittableRandom rnd = new SplittableRandom(73);
        try (Parallelism two = Parallelism.fixed(2); Parallelism three = Parallelism.fixed(3)) {
            for (int n : new int[] {5, 32_768, 32_769, 200_003}) {
                float[] g = random(rnd, n, 0.1), p = random(rnd, n, 1), m = random(rnd, n, 0.01), v = new float[n];
                for (int i = 0; i < n; i++) v[i] = (float) rnd.nextDouble() * 1e-4f;
                float[][] want = {p.clone(), m.clone(), v.clone()};
                Optimizers.adamW(Parallelism.serial(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 7, g, 0, want[0], 0, want[1], 0,
                        want[2], 0);
                for (Parallelism team : new Parallelism[] {two, three}) {
                    float[][] got = {p.clone(), m.clone(), v.clone()};
                    Optimizers.adamW(team, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 7, g, 0, got[0], 0, got[1], 0, got[2], 0);
                    for (int k = 0; k < 3; k++) assertSameBits(team + " n=" + n + " array " + k, want[k], got[k]);
                }
            }
        }
    }

    static Stream<Arguments> rejections() {
        return Stream.of(
                iae("t = 0", "t=0 < 1", arrays(4, 4, 4, 4),
                        a -> Optimizers.adamW(4, 1f, 0.9f, 0.9f, 1e-8f, 0f, 0, a[0], 0, a[1], 0, a[2], 0, a[3], 0)),
                iae("beta1 = 1", "beta1=1.0", arrays(4, 4, 4, 4),
                        a -> Optimizers.adamW(4, 1f, 1f, 0.9f, 1e-8f, 0f, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)),
                iae("eps = 0", "eps=0.0", arrays(4, 4, 4, 4),
                        a -> Optimizers.adamW(4, 1f, 0.9f, 0.9f, 0f, 0f, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)),
                iae("lr NaN", "lr=NaN", arrays(4, 4, 4, 4),
                        a -> Optimizers.adamW(4, Float.NaN, 0.9f, 0.9f, 1e-8f, 0f, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)),
                iae("v too short", "v too short", arrays(4, 4, 4, 3),
                        a -> Optimizers.adamW(4, 1f, 0.9f, 0.9f, 1e-8f, 0f, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)),
                iae("m overlaps params", "m overlaps params", arrays(4, 12, 4),
                        a -> Optimizers.adamW(4, 1f, 0.9f, 0.9f, 1e-8f, 0f, 1, a[0], 0, a[1], 0, a[1], 2, a[2], 0)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rejections")
    void rejectsBeforeWriting(Rejection r) {
        r.verify();
    }
}
