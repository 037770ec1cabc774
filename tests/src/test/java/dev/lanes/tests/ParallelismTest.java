package dev.lanes.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Transpose;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The caller-owned thread team: every part runs once, failures surface, and GEMM bits ignore the team size. */
class ParallelismTest {

    @Test
    void everyPartRunsExactlyOnceAcrossManyRegions() {
        try (Parallelism team = Parallelism.fixed(3)) {
            for (int region = 0; region < 2_000; region++) {
                int parts = 1 + region % 17;
                AtomicIntegerArray hits = new AtomicIntegerArray(parts);
                team.forEach(parts, hits::incrementAndGet);
                for (int p = 0; p < parts; p++) {
                    assertThat(hits.get(p)).as("region %d part %d", region, p).isEqualTo(1);
                }
            }
        }
    }

    @Test
    void aFailingPartIsRethrownToTheCallerAndTheTeamStaysUsable() {
        try (Parallelism team = Parallelism.fixed(2)) {
            assertThatThrownBy(() -> team.forEach(8, p -> {
                if (p == 5) {
                    throw new IllegalStateException("part 5 failed");
                }
            })).isInstanceOf(IllegalStateException.class).hasMessage("part 5 failed");
            AtomicIntegerArray hits = new AtomicIntegerArray(4);
            team.forEach(4, hits::incrementAndGet);
            assertThat(hits.toString()).isEqualTo("[1, 1, 1, 1]");
        }
    }

    @Test
    void nestedRegionsRunInline() {
        try (Parallelism team = Parallelism.fixed(2)) {
            AtomicIntegerArray hits = new AtomicIntegerArray(16);
            team.forEach(4, outer -> team.forEach(4, inner -> hits.incrementAndGet(outer * 4 + inner)));
            for (int i = 0; i < 16; i++) {
                assertThat(hits.get(i)).isEqualTo(1);
            }
        }
    }

    @Test
    void rejectsBadTeamSizesAndUseAfterClose() {
        assertThatThrownBy(() -> Parallelism.fixed(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("threads=0");
        Parallelism team = Parallelism.fixed(2);
        team.close();
        assertThatThrownBy(() -> team.forEach(2, p -> { })).isInstanceOf(IllegalStateException.class);
        assertThat(Parallelism.fixed(1)).isSameAs(Parallelism.serial());
    }

    /** Shapes that cut C by rows, by columns, on and off tile boundaries, with several k blocks. */
    @Test
    void gemmBitsDoNotDependOnTheThreadCount() {
        int[][] shapes = {{517, 300, 600}, {64, 2048, 64}, {2048, 64, 64}, {97, 1031, 257}, {300, 300, 1}};
        Random rnd = new Random(11);
        try (Parallelism two = Parallelism.fixed(2); Parallelism three = Parallelism.fixed(3)) {
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                for (Transpose ta : Transpose.values()) {
                    for (Transpose tb : Transpose.values()) {
                        float[] a = random(rnd, m * k), b = random(rnd, k * n), c0 = random(rnd, m * n);
                        int lda = ta == Transpose.N ? k : m, ldb = tb == Transpose.N ? n : k;
                        float[] c1 = c0.clone(), c2 = c0.clone(), c3 = c0.clone();
                        Gemm.sgemm(Parallelism.serial(), ta, tb, m, n, k, 0.7f, a, 0, lda, b, 0, ldb, 0.3f, c1, 0, n);
                        Gemm.sgemm(two, ta, tb, m, n, k, 0.7f, a, 0, lda, b, 0, ldb, 0.3f, c2, 0, n);
                        Gemm.sgemm(three, ta, tb, m, n, k, 0.7f, a, 0, lda, b, 0, ldb, 0.3f, c3, 0, n);
                        String shape = m + "x" + n + "x" + k + " " + ta + tb;
                        assertThat(Arrays.equals(c1, c2)).as("1 vs 2 threads, %s", shape).isTrue();
                        assertThat(Arrays.equals(c1, c3)).as("1 vs 3 threads, %s", shape).isTrue();
                    }
                }
            }
            // The strided batch, spread over whole products or within each product.
            int batch = 5, m = 130, n = 70, k = 90;
            float[] a = random(rnd, batch * m * k), b = random(rnd, batch * k * n), c0 = random(rnd, batch * m * n);
            float[] c1 = c0.clone(), c2 = c0.clone();
            Gemm.sgemmStridedBatched(Parallelism.serial(), batch, Transpose.N, Transpose.N, m, n, k, 1f,
                    a, 0, k, m * k, b, 0, n, k * n, 0.5f, c1, 0, n, m * n);
            Gemm.sgemmStridedBatched(two, batch, Transpose.N, Transpose.N, m, n, k, 1f,
                    a, 0, k, m * k, b, 0, n, k * n, 0.5f, c2, 0, n, m * n);
            assertThat(Arrays.equals(c1, c2)).as("strided batch, 1 vs 2 threads").isTrue();
        }
    }

    private static float[] random(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextFloat() * 2f - 1f;
        }
        return x;
    }
}
