package dev.lanes.tests;

import static dev.lanes.kernels.Transpose.N;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.GemmScalar;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.SoftmaxScalar;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Every differential test compares a facade with its scalar twin; if the facade silently ran the twin
 * too, they would all pass while checking nothing. This class fails unless the default test JVM really
 * runs the Vector API bodies.
 */
class BackendGuardTest {

    @Test
    void simdPathIsActiveInTheDefaultTestJvm() {
        assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector"))
                .as("the test JVM must be started with %s", Backend.FLAG).isPresent();
        assertThat(Backend.simdEnabled())
                .as("Backend.simdEnabled() (Backend says: %s; is -Dlanes.simd=false set?)", Backend.describe()).isTrue();
        assertThat(Backend.describe()).startsWith("SIMD");
        assertThat(TestSupport.L).as("float lanes of the preferred species").isGreaterThanOrEqualTo(4);
    }

    /**
     * A second line of defence, independent of Backend's flag: float accumulation over k = 2048 cannot
     * round like the twin's double accumulation on all 4096 outputs, nor a float row sum over 1000
     * entries like a double one on every probability. Bit-identical results mean the twin ran.
     */
    @Test
    void facadesDoNotDelegateToTheScalarTwin() {
        SplittableRandom rnd = new SplittableRandom(1);
        int m = 64, n = 64, k = 2048;
        float[] a = new float[m * k], b = new float[k * n];
        for (int i = 0; i < a.length; i++) a[i] = TestSupport.uniform(rnd);
        for (int i = 0; i < b.length; i++) b[i] = TestSupport.uniform(rnd);
        float[] c = new float[m * n], ref = new float[m * n];
        Gemm.sgemm(N, N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
        GemmScalar.sgemm(N, N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, ref, 0, n);
        assertThat(differingBits(c, ref)).as("GEMM outputs whose bits differ from the scalar twin's").isPositive();

        int rows = 8, cols = 1000;
        float[] x = new float[rows * cols], y = new float[rows * cols], yRef = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = TestSupport.uniform(rnd) * 4;
        Softmax.forward(rows, cols, x, 0, cols, y, 0, cols);
        SoftmaxScalar.forward(rows, cols, 1f, false, 0, null, 0, 0, x, 0, cols, yRef, 0, cols);
        assertThat(differingBits(y, yRef)).as("softmax outputs whose bits differ from the scalar twin's").isPositive();
    }

    private static int differingBits(float[] x, float[] y) {
        int count = 0;
        for (int i = 0; i < x.length; i++) {
            count += Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i]) ? 1 : 0;
        }
        return count;
    }
}
