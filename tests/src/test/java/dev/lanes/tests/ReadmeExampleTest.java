package dev.lanes.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptCheckpoint;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.GptSampler;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The README's code samples, compiled and checked by hand-computed values, and each found line for
 * line (indentation aside) in README.md, so neither the samples nor the README can drift.
 */
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

    @Test
    void gptSampleTrainsSamplesAndSaves() throws java.io.IOException {
        // --- begin README gpt ---
        // vocab 16, up to 32 positions, 2 blocks of width 64, 4 query heads sharing 1 key/value head (MQA)
        GptConfig cfg = GptConfig.of(16, 32, 2, 64, 4, 1);
        Gpt gpt = new Gpt(cfg, 8, 32);                     // 8 sequences of 32 tokens per step
        gpt.init(42);                                      // GPT-2 initialisation, seeded
        AdamWOptimizer opt = new AdamWOptimizer(gpt.layout(), 0.9f, 0.95f, 1e-8f, 0.1f);
        int[] tokens = new int[8 * 32], targets = new int[8 * 32];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = i % 16;                            // a toy language: count modulo 16
            targets[i] = (i + 1) % 16;                     // next token; -1 would leave a position out of the loss
        }
        double first = 0, last = 0;
        try (Parallelism team = Parallelism.fixed(2)) {
            for (int step = 0; step < 30; step++) {
                last = gpt.forward(team, tokens, targets);
                first = step == 0 ? last : first;
                gpt.zeroGrads();
                gpt.backward(team);
                opt.clipGradNorm(gpt.grads(), 1f);
                opt.step(team, 3e-3f, gpt.params(), gpt.grads());
            }
            GptSampler sampler = new GptSampler(cfg, gpt.params(), 32, 8);
            int[] next = sampler.generate(team, new int[] {3, 4, 5}, 5, 0f, 0, 7);  // greedy: 6, 7, 8, 9, 10
        // --- end README gpt ---
            assertThat(next).containsExactly(6, 7, 8, 9, 10);
        }
        java.nio.file.Path file = java.nio.file.Files.createTempFile("lanes-gpt", ".bin");
        GptCheckpoint.save(file, cfg, gpt.params());
        // the initial loss is about ln(16) = 2.77; counting is learnt within 30 steps
        assertThat(first).isCloseTo(Math.log(16), offset(0.3));
        assertThat(last).isLessThan(0.1);
        float[] back = new float[gpt.params().length];
        GptCheckpoint.load(file, cfg, back);
        assertThat(back).containsExactly(gpt.params());
        java.nio.file.Files.delete(file);
    }

    @Test
    void everySampleAppearsInTheReadme() throws java.io.IOException {
        java.nio.file.Path here = java.nio.file.Path.of("").toAbsolutePath();
        java.nio.file.Path readme = here.resolve("README.md");
        if (!java.nio.file.Files.exists(readme)) {
            readme = here.resolveSibling("README.md"); // surefire runs in tests/
        }
        List<String> doc = strip(java.nio.file.Files.readAllLines(readme));
        List<String> src = java.nio.file.Files.readAllLines(
                here.resolve("src/test/java/dev/lanes/tests/ReadmeExampleTest.java"));
        int blocks = 0;
        for (int i = 0; i < src.size(); i++) {
            if (src.get(i).strip().startsWith("// --- begin README")) {
                int end = i + 1;
                while (!src.get(end).strip().startsWith("// --- end README")) {
                    end++;
                }
                List<String> block = strip(src.subList(i + 1, end));
                assertThat(java.util.Collections.indexOfSubList(doc, block)).as("%s: lines %d-%d of the test in README.md",
                        src.get(i).trim(), i + 2, end).isGreaterThanOrEqualTo(0);
                blocks++;
            }
        }
        assertThat(blocks).isEqualTo(2);
    }

    /** Lines without their indentation, blank lines dropped: the README indents its samples less. */
    private static List<String> strip(List<String> lines) {
        return lines.stream().map(String::strip).filter(l -> !l.isEmpty()).toList();
    }
}
