package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.nn.Linear;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Linear forward (with bias and fused residual) and backward against double-precision references. */
class LinearTest {

    @Test
    void forwardAndBackwardMatchDoubleReferences() {
        Random r = new Random(7);
        int rows = 13, in = 37, out = 70;
        float[] x = random(r, rows * in), w = random(r, in * out), bias = random(r, out), res = random(r, rows * out);
        float[] dy = random(r, rows * out);
        float[] y = new float[rows * out];
        // w and bias at offsets 3 and 3 + in*out of a parameter array, as a model lays them out
        int wOff = 3, bOff = wOff + in * out;
        float[] params = new float[bOff + out + 2], grads = new float[params.length];
        System.arraycopy(w, 0, params, wOff, w.length);
        System.arraycopy(bias, 0, params, bOff, out);
        Linear layer = new Linear(in, out, wOff, bOff);
        try (Parallelism team = Parallelism.fixed(2)) {
            layer.forward(team, rows, params, 0, x, 0, res, 0, y, 0);
            float[] dx = new float[rows * in + 1];
            Arrays.fill(grads, wOff, bOff, 1f); // dw accumulates
            Arrays.fill(dx, 2f); // so does dx
            layer.backward(team, rows, params, 0, grads, 0, dy, 0, x, 0, dx, 1);
            float[] dw = Arrays.copyOfRange(grads, wOff, bOff), db = Arrays.copyOfRange(grads, bOff, bOff + out);
            assertThat(grads[0]).isZero();
            assertThat(grads[grads.length - 1]).isZero();
            assertThat(dx[0]).isEqualTo(2f);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < out; j++) {
                    double want = bias[j] + res[i * out + j];
                    for (int p = 0; p < in; p++) {
                        want += (double) x[i * in + p] * w[p * out + j];
                    }
                    assertThat((double) y[i * out + j]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4));
                }
                for (int p = 0; p < in; p++) {
                    double want = 2; // the pre-filled 2 plus dy w^T
                    for (int j = 0; j < out; j++) {
                        want += (double) dy[i * out + j] * w[p * out + j];
                    }
                    assertThat((double) dx[1 + i * in + p]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4));
                }
            }
            for (int p = 0; p < in; p++) {
                for (int j = 0; j < out; j++) {
                    double want = 1; // the pre-filled 1 plus x^T dy
                    for (int i = 0; i < rows; i++) {
                        want += (double) x[i * in + p] * dy[i * out + j];
                    }
                    assertThat((double) dw[p * out + j]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4));
                }
            }
            for (int j = 0; j < out; j++) {
                double want = 0;
                for (int i = 0; i < rows; i++) {
                    want += dy[i * out + j];
                }
                assertThat((double) db[j]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    @Test
    void backwardRejectsAShortGradientBeforeWritingAnything() {
        // (3 -> 2): w at 0 (6 floats), bias at 6; the gradient array ends one float short of the bias
        float[] dx = new float[6], grads = new float[7];
        Arrays.fill(dx, 3f);
        Linear layer = new Linear(3, 2, 0, 6);
        assertThatThrownBy(() -> layer.backward(Parallelism.serial(), 2, new float[8], 0, grads, 0, new float[4], 0,
                new float[6], 0, dx, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("grads.bias too short");
        assertThat(dx).containsOnly(3f);
        assertThat(grads).containsOnly(0f);
    }

    private static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextFloat() * 2 - 1;
        }
        return x;
    }
}
