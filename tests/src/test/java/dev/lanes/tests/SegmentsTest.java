package dev.lanes.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@link MemorySegment} overloads against the array ones: the same bits for the same values
 * (padding between rows untouched), on native segments of shared and confined arenas, past element
 * 2^31 of a sparse mapped file, with weights mapped READ_ONLY, and the same refusals.
 */
class SegmentsTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final float PAD = 12345f;

    /** A native copy of an array, in an arena (element i at byte 4*i). */
    private static MemorySegment copy(Arena arena, float[] x) {
        MemorySegment s = arena.allocate((long) x.length * Float.BYTES, 4);
        MemorySegment.copy(x, 0, s, F, 0, x.length);
        return s;
    }

    private static float[] toArray(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.nativeOrder()));
    }

    private static float[] padded(SplittableRandom rnd, int rows, int cols, int ld, int off) {
        float[] x = new float[off + Math.max(0, (rows - 1) * ld + cols) + 3];
        java.util.Arrays.fill(x, PAD);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                x[off + i * ld + j] = (float) rnd.nextDouble(-2, 2);
            }
        }
        return x;
    }

    private static void assertSameBits(float[] expected, MemorySegment actual, String what) {
        Bits.assertSameBits(what + " (segment vs the array overload)", expected, toArray(actual));
    }

    // ---------------------------------------------------------------------------------------------
    // GEMM

    private static void gemmCase(Parallelism team, Arena arena, Transpose ta, Transpose tb, int m, int n, int k,
                                 float alpha, float beta, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int aRows = ta == Transpose.T ? k : m, aCols = ta == Transpose.T ? m : k;
        int bRows = tb == Transpose.T ? n : k, bCols = tb == Transpose.T ? k : n;
        int lda = aCols + 3, ldb = bCols + 1, ldc = n + 2, aOff = 5, bOff = 1, cOff = 7;
        float[] a = padded(rnd, aRows, aCols, Math.max(1, lda), aOff);
        float[] b = padded(rnd, bRows, bCols, Math.max(1, ldb), bOff);
        float[] c = padded(rnd, m, n, ldc, cOff);
        MemorySegment as = copy(arena, a), bs = copy(arena, b), cs = copy(arena, c);
        Gemm.sgemm(Parallelism.serial(), ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        Gemm.sgemm(team, ta, tb, m, n, k, alpha, as, aOff, lda, bs, bOff, ldb, beta, cs, cOff, ldc);
        assertSameBits(c, cs, "sgemm " + ta + tb + " " + m + "x" + n + "x" + k + " alpha=" + alpha + " beta=" + beta
                + " on " + team.threads() + " thread(s)");
    }

    @Test
    void gemmHasTheArrayBitsOnAwkwardShapes() {
        int[] sizes = {0, 1, 5, 17, 67};
        try (Arena arena = Arena.ofConfined()) {
            for (Transpose ta : Transpose.values()) {
                for (Transpose tb : Transpose.values()) {
                    for (int m : sizes) {
                        for (int n : sizes) {
                            for (int k : new int[] {0, 3, 70}) {
                                gemmCase(Parallelism.serial(), arena, ta, tb, m, n, k, 0.75f, k % 2 == 0 ? 0f : -1.5f,
                                        m * 1000L + n * 10L + k);
                            }
                        }
                    }
                    gemmCase(Parallelism.serial(), arena, ta, tb, 9, 11, 13, 0f, 2f, 3);
                }
            }
        }
    }

    @Test
    void gemmHasTheArrayBitsAcrossStagedBlocksAndTeams() {
        // k = 20000 stages op(A) at most 209 rows and op(B) 128 columns at a time: several blocks each way.
        stagedBlocks(250, 140);
        try (Arena arena = Arena.ofShared(); Parallelism team = Parallelism.fixed(2)) {
            gemmCase(team, arena, Transpose.T, Transpose.T, 130, 90, 20000, -0.5f, 0.25f, 2);
            gemmCase(team, arena, Transpose.N, Transpose.T, 90, 300, 20000, 1f, 0f, 5); // columns split
            gemmCase(Parallelism.serial(), arena, Transpose.N, Transpose.T, 250, 140, 20000, 1f, 1f, 3);
        }
        // A confined arena's segments are worked on by the calling thread only, whatever the team.
        try (Arena arena = Arena.ofConfined(); Parallelism team = Parallelism.fixed(2)) {
            gemmCase(team, arena, Transpose.N, Transpose.N, 300, 260, 256, 1f, 0f, 4);
        }
    }

    /**
     * The SIMD segment GEMM runs its own BLIS loops (B packed from the segment, A's blocks copied, C
     * through a temporary tile): every tile shape, A packed or read in place, and small KC, MC and NC so
     * that odd shapes cross k blocks (beta then reads C back), row blocks, column blocks and edge tiles.
     */
    @Test
    void gemmHasTheArrayBitsUnderEveryTileAndBlocking() {
        dev.lanes.kernels.Tuning saved = dev.lanes.kernels.Tuning.current();
        String[] specs = {"tile=6x4,pack=never", "tile=4x3,pack=always", "tile=12x2,kc=40,mc=24,nc=96,pack=transposed",
            "tile=6x2,kc=17,mc=12,nc=64,pack=aliased", "tile=8x3,kc=64,mc=16,nc=48,pack=always"};
        try (Arena arena = Arena.ofShared(); Parallelism team = Parallelism.fixed(2)) {
            for (String spec : specs) {
                dev.lanes.kernels.Tuning.use(saved.with(spec, "test"));
                for (Transpose ta : Transpose.values()) {
                    for (Transpose tb : Transpose.values()) {
                        gemmCase(Parallelism.serial(), arena, ta, tb, 31, 70, 101, 0.75f, -1.5f, 11);
                        gemmCase(Parallelism.serial(), arena, ta, tb, 13, 129, 50, 1f, 0f, 12);
                        gemmCase(team, arena, ta, tb, 103, 97, 130, -2f, 0.5f, 13);
                        gemmCase(Parallelism.serial(), arena, ta, tb, 6, 64, 1, 1f, 1f, 14);
                    }
                }
            }
        } finally {
            dev.lanes.kernels.Tuning.use(saved);
        }
    }

    /** An (m, n, 20000) product on 2 threads: op(A) staged at most 209 rows, op(B) 128 columns at a time. */
    static void stagedBlocks(int m, int n) {
        try (Arena arena = Arena.ofShared(); Parallelism team = Parallelism.fixed(2)) {
            gemmCase(team, arena, Transpose.N, Transpose.N, m, n, 20000, 1f, 0f, 6);
        }
    }

    @Test
    void gemmReadsWeightsMappedReadOnly(@TempDir Path dir) throws IOException {
        int m = 33, n = 100, k = 70;
        SplittableRandom rnd = new SplittableRandom(5);
        float[] a = padded(rnd, m, k, k, 0), w = padded(rnd, n, k, k, 0), c = new float[m * n];
        Path file = dir.resolve("weights.bin");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ws = copy(arena, w);
            Files.write(file, ws.toArray(ValueLayout.JAVA_BYTE));
        }
        Gemm.sgemm(Transpose.N, Transpose.T, m, n, k, 1f, a, 0, k, w, 0, k, 0f, c, 0, n);
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             Parallelism team = Parallelism.fixed(2)) {
            MemorySegment weights = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            assertThat(weights.isReadOnly()).isTrue();
            MemorySegment as = copy(arena, a), cs = arena.allocate((long) m * n * Float.BYTES);
            Gemm.sgemm(team, Transpose.N, Transpose.T, m, n, k, 1f, as, 0, k, weights, 0, k, 0f, cs, 0, n);
            assertSameBits(c, cs, "x W^T with W mapped READ_ONLY");
            // The mapped weights as an output: refused before anything is written.
            assertThatThrownBy(() -> Gemm.sgemm(Transpose.N, Transpose.N, 1, 1, 1, 1f, as, 0, 1, as, 0, 1, 0f,
                    weights, 0, 1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("c is a read-only segment");
        }
    }

    @Test
    void viewsPastElement2To31WorkOffHeap(@TempDir Path dir) throws IOException {
        // A sparse file of 2^31 + 1024 floats (8 GiB + 4 KiB): only the pages of the rows used are touched.
        long floats = (1L << 31) + 1024;
        long ld = 1L << 30;                     // rows 0, 1, 2 at elements 0, 2^30, 2^31
        int rows = 3, cols = 40, n = 24;
        SplittableRandom rnd = new SplittableRandom(6);
        float[] x = padded(rnd, rows, cols, cols, 0), b = padded(rnd, cols, n, n, 0), c = new float[rows * n];
        float[] y = new float[rows * cols];
        Gemm.sgemm(Transpose.N, Transpose.N, rows, n, cols, 1f, x, 0, cols, b, 0, n, 0f, c, 0, n);
        Softmax.forward(rows, cols, 0.5f, x, 0, cols, y, 0, cols);
        Path file = dir.resolve("sparse.bin");
        try (Arena arena = Arena.ofShared();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.SPARSE,
                     StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment big = ch.map(FileChannel.MapMode.READ_WRITE, 0, floats * Float.BYTES, arena);
            for (int i = 0; i < rows; i++) {
                MemorySegment.copy(x, i * cols, big, F, i * ld * Float.BYTES, cols);
            }
            long cOff = (1L << 31) + 100;       // C past element 2^31 too
            MemorySegment bs = copy(arena, b);
            Gemm.sgemm(Transpose.N, Transpose.N, rows, n, cols, 1f, big, 0, ld, bs, 0, n, 0f, big, cOff, n);
            float[] got = new float[rows * n];
            MemorySegment.copy(big, F, cOff * Float.BYTES, got, 0, got.length);
            assertThat(got).as("GEMM with lda = 2^30 and C at element 2^31 + 100").isEqualTo(c);

            long yOff = (1L << 31) + 200;       // softmax of the rows at ld = 2^30, written past element 2^31
            Softmax.forward(rows, cols, 0.5f, big, 0, ld, big, yOff, cols);
            float[] rowsOut = new float[rows * cols];
            MemorySegment.copy(big, F, yOff * Float.BYTES, rowsOut, 0, rowsOut.length);
            assertThat(rowsOut).as("softmax of rows 2^30 apart").isEqualTo(y);
            assertThatThrownBy(() -> Softmax.forward(4, cols, 1f, big, 0, ld, big, 0, ld))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("x too short: xOff=0 + (4-1)*ldx=1073741824 + 40 = 3221225512 > x length="
                            + floats);
        }
        Files.deleteIfExists(file);
    }

    // ---------------------------------------------------------------------------------------------
    // Row-wise kernels

    @Test
    void softmaxHasTheArrayBitsWithMaskCausalAndChunks() {
        // 700 columns stage 5 rows at a time: 20 rows are 4 chunks, each with its own causal offset.
        // around the vector length and the 4-vector max loop (16 lanes: 64), and wide rows
        for (int cols : new int[] {1, 15, 16, 17, 63, 64, 65, 700, 5000}) {
            int rows = 20, ld = cols + 5;
            SplittableRandom rnd = new SplittableRandom(cols);
            float[] x = padded(rnd, rows, cols, ld, 3), mask = padded(rnd, rows, cols, cols, 0);
            float[] y = padded(rnd, rows, cols, ld + 1, 2);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment xs = copy(arena, x), ms = copy(arena, mask), ys = copy(arena, y);
                Softmax.forward(rows, cols, 0.7f, true, cols - rows, mask, 0, cols, x, 3, ld, y, 2, ld + 1);
                Softmax.forward(rows, cols, 0.7f, true, cols - rows, ms, 0, cols, xs, 3, ld, ys, 2, ld + 1);
                assertSameBits(y, ys, "softmax cols=" + cols);
                Softmax.forward(rows, cols, 1.25f, x, 3, ld, x, 3, ld);
                Softmax.forward(rows, cols, 1.25f, xs, 3, ld, xs, 3, ld);
                assertSameBits(x, xs, "softmax in place cols=" + cols);
                // Without a mask (the SIMD rows read the segments in place): causal with rows that see
                // nothing, and edge rows: +inf logits, all -inf, a NaN.
                float[] z = padded(rnd, rows, cols, ld, 3);
                z[3 + ld] = Float.POSITIVE_INFINITY;
                z[3 + ld + cols - 1] = Float.POSITIVE_INFINITY;
                java.util.Arrays.fill(z, 3 + 2 * ld, 3 + 2 * ld + cols, Float.NEGATIVE_INFINITY);
                z[3 + 3 * ld] = Float.NaN;
                float[] out = padded(rnd, rows, cols, ld + 1, 2);
                MemorySegment zs = copy(arena, z), outs = copy(arena, out);
                Softmax.forward(rows, cols, 0.9f, true, -3, null, 0, 0, z, 3, ld, out, 2, ld + 1);
                Softmax.forward(rows, cols, 0.9f, true, -3, null, 0, 0, zs, 3, ld, outs, 2, ld + 1);
                assertSameBits(out, outs, "causal softmax with edge rows cols=" + cols);
                Softmax.forward(rows, cols, 0.9f, false, 0, null, 0, 0, z, 3, ld, out, 2, ld + 1);
                Softmax.forward(rows, cols, 0.9f, false, 0, null, 0, 0, zs, 3, ld, outs, 2, ld + 1);
                assertSameBits(out, outs, "softmax with edge rows cols=" + cols);
            }
        }
    }

    @Test
    void residualAddHasTheArrayBits() {
        // around the vector length and the loop unrolled by two vectors (16 lanes: 32, 48), and wide rows
        for (int cols : new int[] {1, 15, 16, 31, 32, 33, 47, 48, 5000}) {
            int rows = 19, ld = cols + 2;
            SplittableRandom rnd = new SplittableRandom(cols);
            float[] x = padded(rnd, rows, cols, ld, 1), f = padded(rnd, rows, cols, cols, 0);
            float[] bias = padded(rnd, 1, cols, cols, 4), y = padded(rnd, rows, cols, cols + 7, 0);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment xs = copy(arena, x), fs = copy(arena, f), bs = copy(arena, bias), ys = copy(arena, y);
                ResidualAdd.forward(rows, cols, 0.5f, x, 1, ld, f, 0, cols, bias, 4, y, 0, cols + 7);
                ResidualAdd.forward(rows, cols, 0.5f, xs, 1, ld, fs, 0, cols, bs, 4, ys, 0, cols + 7);
                assertSameBits(y, ys, "residual add cols=" + cols);
                ResidualAdd.forward(rows, cols, 1f, x, 1, ld, f, 0, cols, null, 0, x, 1, ld);
                ResidualAdd.forward(rows, cols, 1f, xs, 1, ld, fs, 0, cols, null, 0, xs, 1, ld);
                assertSameBits(x, xs, "residual add in place cols=" + cols);
            }
        }
    }

    @Test
    void normsHaveTheArrayBits() {
        // around the vector length (the SIMD twins' vector loops and scalar tails), and wide rows
        for (int cols : new int[] {0, 1, 7, 15, 16, 17, 33, 48, 5000}) {
            int rows = 21, ld = cols + 3;
            SplittableRandom rnd = new SplittableRandom(cols);
            float[] x = padded(rnd, rows, cols, ld, 2), gamma = padded(rnd, 1, cols, cols, 0);
            float[] beta = padded(rnd, 1, cols, cols, 1), y = padded(rnd, rows, cols, ld, 0);
            float[] mean = padded(rnd, 1, rows, rows, 1), rstd = padded(rnd, 1, rows, rows, 2);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment xs = copy(arena, x), gs = copy(arena, gamma), bs = copy(arena, beta);
                MemorySegment ys = copy(arena, y), ms = copy(arena, mean), rs = copy(arena, rstd);
                Norms.layerNormForward(rows, cols, 1e-5f, x, 2, ld, gamma, 0, beta, 1, y, 0, ld, mean, 1, rstd, 2);
                Norms.layerNormForward(rows, cols, 1e-5f, xs, 2, ld, gs, 0, bs, 1, ys, 0, ld, ms, 1, rs, 2);
                assertSameBits(y, ys, "layer norm y cols=" + cols);
                assertSameBits(mean, ms, "layer norm mean cols=" + cols);
                assertSameBits(rstd, rs, "layer norm rstd cols=" + cols);
                Norms.rmsNormForward(rows, cols, 1e-6f, x, 2, ld, gamma, 0, x, 2, ld, rstd, 2);
                Norms.rmsNormForward(rows, cols, 1e-6f, xs, 2, ld, gs, 0, xs, 2, ld, rs, 2);
                assertSameBits(x, xs, "RMS norm in place cols=" + cols);
                assertSameBits(rstd, rs, "RMS norm rstd cols=" + cols);
            }
        }
    }

    /**
     * The backward overloads accumulate: every output starts from nonzero values, padding between rows must
     * survive, and the rows span several norm row blocks (their gain partials reduced in block order) and
     * residual-add column blocks; in-place forms (dx = dy) too.
     */
    @Test
    void backwardKernelsHaveTheArrayBits() {
        for (int cols : new int[] {1, 15, 16, 17, 33, 300, 5000}) {
            int rows = 70, ld = cols + 3;
            SplittableRandom rnd = new SplittableRandom(31L * cols);
            float[] dy = padded(rnd, rows, cols, ld, 2), x = padded(rnd, rows, cols, cols, 1);
            float[] y = padded(rnd, rows, cols, ld, 0), dx = padded(rnd, rows, cols, ld + 1, 3);
            float[] df = padded(rnd, rows, cols, cols, 0), gamma = padded(rnd, 1, cols, cols, 1);
            float[] mean = padded(rnd, 1, rows, rows, 0), rstd = padded(rnd, 1, rows, rows, 2);
            float[] dgamma = padded(rnd, 1, cols, cols, 1), dbeta = padded(rnd, 1, cols, cols, 0);
            float[] dbias = padded(rnd, 1, cols, cols, 2);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment dys = copy(arena, dy), xs = copy(arena, x), ys = copy(arena, y), dxs = copy(arena, dx);
                MemorySegment dfs = copy(arena, df), gs = copy(arena, gamma), ms = copy(arena, mean);
                MemorySegment rs = copy(arena, rstd), dgs = copy(arena, dgamma), dbs = copy(arena, dbeta);
                MemorySegment dbias_s = copy(arena, dbias);

                Softmax.backward(rows, cols, 0.75f, dy, 2, ld, y, 0, ld, dx, 3, ld + 1);
                Softmax.backward(rows, cols, 0.75f, dys, 2, ld, ys, 0, ld, dxs, 3, ld + 1);
                assertSameBits(dx, dxs, "softmax backward dx cols=" + cols);

                Norms.layerNormBackward(rows, cols, dy, 2, ld, x, 1, cols, gamma, 1, mean, 0, rstd, 2,
                        dx, 3, ld + 1, dgamma, 1, dbeta, 0);
                Norms.layerNormBackward(rows, cols, dys, 2, ld, xs, 1, cols, gs, 1, ms, 0, rs, 2,
                        dxs, 3, ld + 1, dgs, 1, dbs, 0);
                assertSameBits(dx, dxs, "layer norm backward dx cols=" + cols);
                assertSameBits(dgamma, dgs, "layer norm backward dgamma cols=" + cols);
                assertSameBits(dbeta, dbs, "layer norm backward dbeta cols=" + cols);
                // dx null, dbeta only
                Norms.layerNormBackward(rows, cols, dy, 2, ld, x, 1, cols, gamma, 1, mean, 0, rstd, 2,
                        null, 0, 1, null, 0, dbeta, 0);
                Norms.layerNormBackward(rows, cols, dys, 2, ld, xs, 1, cols, gs, 1, ms, 0, rs, 2,
                        null, 0, 1, null, 0, dbs, 0);
                assertSameBits(dbeta, dbs, "layer norm backward dbeta alone cols=" + cols);

                Norms.rmsNormBackward(rows, cols, dy, 2, ld, x, 1, cols, gamma, 1, rstd, 2, dy, 2, ld, dgamma, 1);
                Norms.rmsNormBackward(rows, cols, dys, 2, ld, xs, 1, cols, gs, 1, rs, 2, dys, 2, ld, dgs, 1);
                assertSameBits(dy, dys, "RMS norm backward dx = dy in place cols=" + cols);
                assertSameBits(dgamma, dgs, "RMS norm backward dgamma cols=" + cols);

                ResidualAdd.backward(rows, cols, 0.5f, dy, 2, ld, dx, 3, ld + 1, df, 1, cols, dbias, 2);
                ResidualAdd.backward(rows, cols, 0.5f, dys, 2, ld, dxs, 3, ld + 1, dfs, 1, cols, dbias_s, 2);
                assertSameBits(dx, dxs, "residual add backward dx cols=" + cols);
                assertSameBits(df, dfs, "residual add backward df cols=" + cols);
                assertSameBits(dbias, dbias_s, "residual add backward dbias cols=" + cols);
                ResidualAdd.backward(rows, cols, 2f, dy, 2, ld, null, 0, 1, dy, 2, ld, null, 0);
                ResidualAdd.backward(rows, cols, 2f, dys, 2, ld, null, 0, 1, dys, 2, ld, null, 0);
                assertSameBits(dy, dys, "residual add backward df = dy in place cols=" + cols);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Refusals, before anything is written

    @Test
    void badSegmentArgumentsAreRefusedWithTheNumbers() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(64 * 4), b = arena.allocate(64 * 4), c = arena.allocate(64 * 4);
            assertThatThrownBy(() -> Gemm.sgemm(Transpose.N, Transpose.N, 4, 4, 8, 1f, a, 0, 7, b, 0, 4, 0f, c, 0, 4))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("lda=7 < k=8");
            assertThatThrownBy(() -> Gemm.sgemm(Transpose.N, Transpose.N, 8, 8, 8, 1f, a, 1, 8, b, 0, 8, 0f, c, 0, 8))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("a too short: aOff=1 + (8-1)*lda=8 + 8 = 65 > a length=64 floats");
            assertThatThrownBy(() -> Gemm.sgemm(Transpose.N, Transpose.N, 4, 4, 4, 1f, a, 0, 4, b, 0, 4, 0f,
                    a, 8, 4))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("c overlaps a in the same memory: c [off=8, 4 x stride 4, width 4] = elements [8, 24)");
            assertThatThrownBy(() -> Gemm.sgemm(Transpose.N, Transpose.N, 2, 2, 2, 1f, a, 0, 2, b, 0, 2, 0f,
                    c, Long.MAX_VALUE / 2, Long.MAX_VALUE / 2))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overflows a long");
            assertThatThrownBy(() -> Gemm.sgemm(Transpose.N, Transpose.N, 2, 2, 2, 1f, null, 0, 2, b, 0, 2, 0f,
                    c, 0, 2))
                    .isInstanceOf(NullPointerException.class).hasMessage("a is null");
            MemorySegment ro = c.asReadOnly();
            assertThatThrownBy(() -> Softmax.forward(2, 2, 1f, a, 0, 2, ro, 0, 2))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("y is a read-only segment");
            assertThatThrownBy(() -> Softmax.forward(2, 4, 1f, a, 0, 4, a, 1, 4))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("y overlaps x");
            assertThatThrownBy(() -> ResidualAdd.forward(2, 2, 1f, a, 0, 2, b, 0, 2, null, 0, c, -1, 2))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("yOff=-1 < 0");
            assertThatThrownBy(() -> Norms.rmsNormForward(2, 2, 0f, a, 0, 2, b, 0, c, 0, 2, c, 8))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("eps=0.0");
            // Nothing above wrote to c.
            assertThat(toArray(c)).containsOnly(0f);
        }
    }
}
