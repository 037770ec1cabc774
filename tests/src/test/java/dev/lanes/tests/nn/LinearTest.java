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
        try (Parallelism team = Parallelism.fixed(2)) {
            Linear.forward(team, rows, in, out, x, 0, in, w, 0, out, bias, 0, res, 0, out, y, 0, out);
            float[] dx = new float[rows * in], dw = new float[in * out], db = new float[out];
            Arrays.fill(dw, 1f); // accumulation
            Linear.backward(team, rows, in, out, dy, 0, out, x, 0, in, w, 0, out, dx, 0, in, dw, 0, out, db, 0);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < out; j++) {
                    double want = bias[j] + res[i * out + j];
                    for (int p = 0; p < in; p++) {
                        want += (double) x[i * in + p] * w[p * out + j];
                    }
                    assertThat((double) y[i * out + j]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4));
                }
                for (int p = 0; p < in; p++) {
                    double want = 0; // dx = dy w^T
                    for (int j = 0; j < out; j++) {
                        want += (double) dy[i * out + j] * w[p * out + j];
                    }
                    assertThat((double) dx[i * in + p]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4));
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
        float[] dx = new float[6], dw = new float[6];
        Arrays.fill(dx, 3f);
        assertThatThrownBy(() -> Linear.backward(Parallelism.serial(), 2, 3, 2, new float[4], 0, 2, new float[6], 0, 3,
                new float[6], 0, 2, dx, 0, 3, dw, 0, 2, new float[1], 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dbias too short");
        assertThat(dx).containsOnly(3f);
        assertThat(dw).containsOnly(0f);
    }

    private static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextFloat() * 2 - 1;
        }
        return x;
    }
}
