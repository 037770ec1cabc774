package dev.lanes.bench;

import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * The MemorySegment overloads against the array ones in one JVM, round by round, for a shared machine
 * where separate JMH forks seconds apart see different loads (issue 17). Each round times a batch of
 * array calls and then a batch of segment calls, ten times, and keeps the fastest of each (the least
 * disturbed); the ratio of a round is array time / segment time (above 1: the segments are faster).
 * Prints the median ratio and its range over the rounds. One thread; the same seeded values in a shared
 * arena. Not a JMH benchmark: the JMH rows are the lanes / lanesSegment methods of the *Bench classes.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp ... dev.lanes.bench.SegmentAlternation KERNEL ROWS COLS [ROUNDS]
 *   KERNEL: softmax, residual-add, layer-norm, layer-norm-backward, rms-norm, rms-norm-backward, gemm (ROWS = n)
 * </pre>
 */
public final class SegmentAlternation {
    private SegmentAlternation() {}

    public static void main(String[] args) {
        String kernel = args[0];
        int rows = Integer.parseInt(args[1]), cols = Integer.parseInt(args[2]);
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        Random rnd = new Random(BenchSupport.SEED);
        int size = Math.multiplyExact(rows, cols);
        Parallelism serial = Parallelism.serial();
        float eps = 1e-5f;
        try (Arena arena = Arena.ofShared()) {
            float[] x = BenchSupport.uniform(rnd, size), f = BenchSupport.uniform(rnd, size);
            float[] dy = BenchSupport.uniform(rnd, size), y = new float[size], dx = new float[size];
            float[] gamma = BenchSupport.uniform(rnd, cols), beta = BenchSupport.uniform(rnd, cols);
            float[] mean = new float[rows], rstd = new float[rows], dgamma = new float[cols], dbeta = new float[cols];
            MemorySegment xS = BenchSupport.offHeap(arena, x), fS = BenchSupport.offHeap(arena, f);
            MemorySegment dyS = BenchSupport.offHeap(arena, dy), yS = BenchSupport.offHeap(arena, y);
            MemorySegment dxS = BenchSupport.offHeap(arena, dx), gS = BenchSupport.offHeap(arena, gamma);
            MemorySegment bS = BenchSupport.offHeap(arena, beta), mS = BenchSupport.offHeap(arena, mean);
            MemorySegment rS = BenchSupport.offHeap(arena, rstd), dgS = BenchSupport.offHeap(arena, dgamma);
            MemorySegment dbS = BenchSupport.offHeap(arena, dbeta);
            // statistics for the backward rows
            Norms.layerNormForward(serial, rows, cols, eps, x, 0, cols, gamma, 0, beta, 0, y, 0, cols, mean, 0, rstd, 0);
            Norms.layerNormForward(rows, cols, eps, xS, 0, cols, gS, 0, bS, 0, yS, 0, cols, mS, 0, rS, 0);
            Runnable array, segment;
            switch (kernel) {
                case "softmax" -> {
                    array = () -> Softmax.forward(rows, cols, 1f, x, 0, cols, y, 0, cols);
                    segment = () -> Softmax.forward(rows, cols, 1f, xS, 0, cols, yS, 0, cols);
                }
                case "residual-add" -> {
                    array = () -> ResidualAdd.forward(rows, cols, 0.5f, x, 0, cols, f, 0, cols, beta, 0, y, 0, cols);
                    segment = () -> ResidualAdd.forward(rows, cols, 0.5f, xS, 0, cols, fS, 0, cols, bS, 0, yS, 0, cols);
                }
                case "layer-norm" -> {
                    array = () -> Norms.layerNormForward(serial, rows, cols, eps, x, 0, cols, gamma, 0, beta, 0, y, 0,
                            cols, mean, 0, rstd, 0);
                    segment = () -> Norms.layerNormForward(rows, cols, eps, xS, 0, cols, gS, 0, bS, 0, yS, 0, cols,
                            mS, 0, rS, 0);
                }
                case "layer-norm-backward" -> {
                    array = () -> Norms.layerNormBackward(serial, rows, cols, dy, 0, cols, x, 0, cols, gamma, 0,
                            mean, 0, rstd, 0, dx, 0, cols, dgamma, 0, dbeta, 0);
                    segment = () -> Norms.layerNormBackward(rows, cols, dyS, 0, cols, xS, 0, cols, gS, 0, mS, 0, rS, 0,
                            dxS, 0, cols, dgS, 0, dbS, 0);
                }
                case "rms-norm" -> {
                    array = () -> Norms.rmsNormForward(serial, rows, cols, eps, x, 0, cols, gamma, 0, y, 0, cols, rstd, 0);
                    segment = () -> Norms.rmsNormForward(rows, cols, eps, xS, 0, cols, gS, 0, yS, 0, cols, rS, 0);
                }
                case "rms-norm-backward" -> {
                    array = () -> Norms.rmsNormBackward(serial, rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, rstd, 0,
                            dx, 0, cols, dgamma, 0);
                    segment = () -> Norms.rmsNormBackward(rows, cols, dyS, 0, cols, xS, 0, cols, gS, 0, rS, 0,
                            dxS, 0, cols, dgS, 0);
                }
                case "gemm" -> {
                    int n = rows;
                    float[] a = BenchSupport.uniform(rnd, n * n), b = BenchSupport.uniform(rnd, n * n);
                    float[] c = new float[n * n];
                    MemorySegment aS = BenchSupport.offHeap(arena, a), b2S = BenchSupport.offHeap(arena, b);
                    MemorySegment cS = BenchSupport.offHeap(arena, c);
                    array = () -> Gemm.sgemm(serial, Transpose.N, Transpose.N, n, n, n, 1f, a, 0, n, b, 0, n, 0f, c, 0, n);
                    segment = () -> Gemm.sgemm(serial, Transpose.N, Transpose.N, n, n, n, 1f, aS, 0, n, b2S, 0, n, 0f,
                            cS, 0, n);
                }
                default -> throw new IllegalArgumentException("unknown kernel " + kernel);
            }
            // 4 s of warm-up (C2 takes seconds to compile the vector loops on a loaded machine), then
            // batches of about 10 ms
            long t0 = System.nanoTime();
            int calls = 0;
            while (System.nanoTime() - t0 < 4_000_000_000L) {
                array.run();
                segment.run();
                calls++;
            }
            int batch = Math.max(1, calls / 400);
            double[] ratios = new double[rounds];
            double bestArray = Double.MAX_VALUE, bestSegment = Double.MAX_VALUE;
            for (int k = 0; k < rounds; k++) {
                double a = Double.MAX_VALUE, s = Double.MAX_VALUE;
                for (int q = 0; q < 10; q++) {
                    long a0 = System.nanoTime();
                    for (int i = 0; i < batch; i++) {
                        array.run();
                    }
                    long a1 = System.nanoTime();
                    for (int i = 0; i < batch; i++) {
                        segment.run();
                    }
                    long s1 = System.nanoTime();
                    a = Math.min(a, (a1 - a0) / 1e3 / batch);
                    s = Math.min(s, (s1 - a1) / 1e3 / batch);
                }
                ratios[k] = a / s;
                bestArray = Math.min(bestArray, a);
                bestSegment = Math.min(bestSegment, s);
            }
            double[] sorted = ratios.clone();
            Arrays.sort(sorted);
            System.out.printf(Locale.ROOT, "%s %dx%d: array %.1f us, segment %.1f us (fastest); segment speed / array"
                            + " per round: median %.3f, range %.3f..%.3f over %d rounds%n", kernel, rows, cols,
                    bestArray, bestSegment, sorted[rounds / 2], sorted[0], sorted[rounds - 1], rounds);
        }
    }
}
