package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.nn.CrossEntropy;
import dev.lanes.kernels.Activations;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Optimizers;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The residual-stack layers' backward passes against central finite differences of double-precision
 * reference forwards on the fake loss {@code sum(out * dOut)}, their accumulation, and AdamW against
 * its formula in double.
 */
class NnLayersTest {
    private static final double H = 1e-4;

    /** Central differences of f at x, every coordinate. */
    private static double[] numericGradient(Function<double[], Double> f, double[] x) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double keep = x[i];
            x[i] = keep + H;
            double up = f.apply(x);
            x[i] = keep - H;
            double down = f.apply(x);
            x[i] = keep;
            g[i] = (up - down) / (2 * H);
        }
        return g;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static void assertClose(float[] got, double[] want, double tol, String what) {
        for (int i = 0; i < want.length; i++) {
            double scale = Math.max(1.0, Math.abs(want[i]));
            assertThat(Math.abs(got[i] - want[i])).as("%s[%d]: got %s want %s", what, i, got[i], want[i])
                    .isLessThanOrEqualTo(tol * scale);
        }
    }

    private static double[] randomD(Random r, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextGaussian();
        }
        return x;
    }

    private static float[] toF(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }

    // Reference forwards in double --------------------------------------------------------------

    private static double[] layerNormRef(int rows, int cols, double[] x, double[] gamma, double[] beta, double eps) {
        double[] y = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            double mu = 0, var = 0;
            for (int j = 0; j < cols; j++) {
                mu += x[i * cols + j];
            }
            mu /= cols;
            for (int j = 0; j < cols; j++) {
                var += (x[i * cols + j] - mu) * (x[i * cols + j] - mu);
            }
            double s = 1 / Math.sqrt(var / cols + eps);
            for (int j = 0; j < cols; j++) {
                y[i * cols + j] = (x[i * cols + j] - mu) * s * gamma[j] + beta[j];
            }
        }
        return y;
    }

    private static double[] rmsNormRef(int rows, int cols, double[] x, double[] gamma, double eps) {
        double[] y = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            double sq = 0;
            for (int j = 0; j < cols; j++) {
                sq += x[i * cols + j] * x[i * cols + j];
            }
            double s = 1 / Math.sqrt(sq / cols + eps);
            for (int j = 0; j < cols; j++) {
                y[i * cols + j] = x[i * cols + j] * s * gamma[j];
            }
        }
        return y;
    }

    private static double geluRef(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    // Tests ---------------------------------------------------------------------------------------

    @Test
    void layerNormBackwardMatchesFiniteDifferencesAndAccumulates() {
        Random r = new Random(1);
        int rows = 3, cols = 7;
        float eps = 1e-5f;
        double[] x = randomD(r, rows * cols), gamma = randomD(r, cols), beta = randomD(r, cols);
        double[] dOut = randomD(r, rows * cols);
        float[] y = new float[rows * cols], mean = new float[rows], rstd = new float[rows];
        Norms.layerNormForward(rows, cols, eps, toF(x), 0, cols, toF(gamma), 0, toF(beta), 0, y, 0, cols, mean, 0, rstd, 0);
        assertClose(y, layerNormRef(rows, cols, x, gamma, beta, eps), 1e-5, "y");

        float[] dx = new float[rows * cols], dgamma = new float[cols], dbeta = new float[cols];
        Arrays.fill(dx, 0.5f); // accumulation: the pre-filled value must be added to
        Norms.layerNormBackward(rows, cols, toF(dOut), 0, cols, toF(x), 0, cols, toF(gamma), 0, mean, 0, rstd, 0,
                dx, 0, cols, dgamma, 0, dbeta, 0);
        double[] wantDx = numericGradient(v -> dot(layerNormRef(rows, cols, v, gamma, beta, eps), dOut), x.clone());
        for (int i = 0; i < wantDx.length; i++) {
            wantDx[i] += 0.5;
        }
        assertClose(dx, wantDx, 2e-4, "dx");
        assertClose(dgamma, numericGradient(v -> dot(layerNormRef(rows, cols, x, v, beta, eps), dOut), gamma.clone()),
                2e-4, "dgamma");
        assertClose(dbeta, numericGradient(v -> dot(layerNormRef(rows, cols, x, gamma, v, eps), dOut), beta.clone()),
                2e-4, "dbeta");
    }

    @Test
    void rmsNormBackwardMatchesFiniteDifferences() {
        Random r = new Random(2);
        int rows = 4, cols = 9;
        float eps = 1e-6f;
        double[] x = randomD(r, rows * cols), gamma = randomD(r, cols), dOut = randomD(r, rows * cols);
        float[] y = new float[rows * cols], rstd = new float[rows];
        Norms.rmsNormForward(rows, cols, eps, toF(x), 0, cols, toF(gamma), 0, y, 0, cols, rstd, 0);
        assertClose(y, rmsNormRef(rows, cols, x, gamma, eps), 1e-5, "y");
        float[] dx = new float[rows * cols], dgamma = new float[cols];
        Norms.rmsNormBackward(rows, cols, toF(dOut), 0, cols, toF(x), 0, cols, toF(gamma), 0, rstd, 0, dx, 0, cols, dgamma, 0);
        assertClose(dx, numericGradient(v -> dot(rmsNormRef(rows, cols, v, gamma, eps), dOut), x.clone()), 2e-4, "dx");
        assertClose(dgamma, numericGradient(v -> dot(rmsNormRef(rows, cols, x, v, eps), dOut), gamma.clone()),
                2e-4, "dgamma");
    }

    @Test
    void geluBackwardMatchesFiniteDifferences() {
        Random r = new Random(3);
        int n = 41;
        double[] x = randomD(r, n), dOut = randomD(r, n);
        for (int i = 0; i < n; i++) {
            x[i] *= 3; // cover the saturated tails too
        }
        float[] y = new float[n];
        Activations.geluForward(n, toF(x), 0, y, 0);
        double[] want = new double[n];
        for (int i = 0; i < n; i++) {
            want[i] = geluRef(x[i]);
        }
        assertClose(y, want, 1e-6, "y");
        float[] dx = new float[n];
        Activations.geluBackward(n, toF(dOut), 0, toF(x), 0, dx, 0);
        double[] wantDx = numericGradient(v -> {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += geluRef(v[i]) * dOut[i];
            }
            return s;
        }, x.clone());
        assertClose(dx, wantDx, 1e-5, "dx");
    }

    @Test
    void crossEntropyLossAndBackwardMatchReferenceAndFiniteDifferences() {
        Random r = new Random(4);
        int rows = 5, vocab = 11;
        double[] logits = randomD(r, rows * vocab);
        int[] targets = new int[rows];
        for (int i = 0; i < rows; i++) {
            targets[i] = r.nextInt(vocab);
        }
        Function<double[], Double> meanLoss = v -> {
            double total = 0;
            for (int i = 0; i < rows; i++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < vocab; j++) {
                    max = Math.max(max, v[i * vocab + j]);
                }
                for (int j = 0; j < vocab; j++) {
                    sum += Math.exp(v[i * vocab + j] - max);
                }
                total += max + Math.log(sum) - v[i * vocab + targets[i]];
            }
            return total / rows;
        };
        float[] losses = new float[rows], lse = new float[rows];
        float mean = CrossEntropy.forward(rows, vocab, toF(logits), 0, targets, 0, losses, 0, lse, 0);
        assertThat((double) mean).isCloseTo(meanLoss.apply(logits), org.assertj.core.data.Offset.offset(1e-5));
        float[] dloss = new float[rows];
        Arrays.fill(dloss, 1f / rows);
        float[] dlogits = new float[rows * vocab];
        CrossEntropy.backward(rows, vocab, dloss, 0, toF(logits), 0, targets, 0, lse, 0, dlogits, 0);
        assertClose(dlogits, numericGradient(meanLoss, logits.clone()), 1e-5, "dlogits");
    }

    @Test
    void crossEntropyRejectsTargetsOutsideTheVocabularyBeforeWriting() {
        float[] losses = {7f, 7f};
        assertThatThrownBy(() -> CrossEntropy.forward(2, 3, new float[6], 0, new int[] {0, 3}, 0, losses, 0,
                new float[2], 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("targets[1]=3 is outside [0, vocab=3)");
        assertThat(losses).containsExactly(7f, 7f);
    }

    @Test
    void adamWMatchesItsFormulaOverSeveralSteps() {
        Random r = new Random(5);
        int n = 37;
        float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
        float[] p = toF(randomD(r, n)), m = new float[n], v = new float[n];
        double[] pd = new double[n], md = new double[n], vd = new double[n];
        for (int i = 0; i < n; i++) {
            pd[i] = p[i];
        }
        for (int t = 1; t <= 5; t++) {
            float[] g = toF(randomD(r, n));
            Optimizers.adamW(n, lr, b1, b2, eps, wd, t, g, 0, p, 0, m, 0, v, 0);
            for (int i = 0; i < n; i++) {
                pd[i] *= 1 - (double) lr * wd;
                md[i] = b1 * md[i] + (1 - b1) * (double) g[i];
                vd[i] = b2 * vd[i] + (1 - b2) * (double) g[i] * g[i];
                double mhat = md[i] / (1 - Math.pow(b1, t)), vhat = vd[i] / (1 - Math.pow(b2, t));
                pd[i] -= lr * mhat / (Math.sqrt(vhat) + eps);
            }
        }
        assertClose(p, pd, 1e-5, "params");
    }
}
