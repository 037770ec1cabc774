package dev.lanes.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import org.junit.jupiter.api.Test;

/** The README's quick start, compiled and checked by hand-computed values so the sample cannot rot. */
class ReadmeExampleTest {

    @Test
    void quickStartComputesWhatTheReadmeSays() {
        // --- begin README quick start ---
        int m = 4, n = 3, k = 2;
        float[] a = {1, 2, 3, 4, 5, 6, 7, 8};          // (m, k), row-major, lda = k
        float[] b = {1, 0, 1, 0, 1, 1};                // (k, n), ldb = n
        float[] c = new float[m * n];                  // (m, n), ldc = n

        // C = 1 * A * B + 0 * C  (BLAS semantics: beta == 0 never reads C)
        Gemm.sgemm(Transpose.N, Transpose.N, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);

        // Row-wise stable softmax of C, in place, scale applied before the max.
        Softmax.forward(m, n, 0.5f, c, 0, n, c, 0, n);

        // Residual connection y = x + f: x's gradient keeps its constant-1 path.
        float[] x = new float[m * n], y = new float[m * n];
        ResidualAdd.forward(m, n, x, 0, n, c, 0, n, y, 0, n);

        // Threads belong to the caller: a team of 2 gives the same bits as 1 thread.
        float[] gram = new float[m * m];
        try (Parallelism team = Parallelism.fixed(2)) {
            Gemm.sgemm(team, Transpose.N, Transpose.T, m, m, k, 1f, a, 0, k, a, 0, k, 0f, gram, 0, m);
        }
        // --- end README quick start ---

        // Row 0 of A*B is (1, 2, 3); softmax(0.5 * (1, 2, 3)) by hand, and y = 0 + that.
        double e1 = Math.exp(0.5), e2 = Math.exp(1.0), e3 = Math.exp(1.5), sum = e1 + e2 + e3;
        assertThat(y[0]).isCloseTo((float) (e1 / sum), offset(1e-6f));
        assertThat(y[1]).isCloseTo((float) (e2 / sum), offset(1e-6f));
        assertThat(y[2]).isCloseTo((float) (e3 / sum), offset(1e-6f));
        // A * A^T: row 1 of A is (3, 4), row 2 is (5, 6).
        assertThat(gram[1 * m + 2]).isEqualTo(3 * 5 + 4 * 6);
    }
}
