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
 *   java --add-modules jdk.incubator.vector -cp ... dev.lanes.bench.SegmentAlternation KERNEL ROWS COLS [ROUNDS [PLACEMENTS]]
 *   KERNEL: softmax, residual-add, layer-norm, layer-norm-backward, rms-norm, rms-norm-backward, gemm (ROWS = COLS = n)
 *   PLACEMENTS: shift the inputs against the outputs by 0, 4096/P, 2*4096/P, ... bytes and time each
 *   placement; prints each and the ratio of the mean times (default 1: no shift)
 * </pre>
 */
public final class SegmentAlternation {
    private SegmentAlternation() {}

    public static void main(String[] args) {
        String kernel = args[0];
        int rows = Integer.parseInt(args[1]), cols = Integer.parseInt(args[2]);
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        int placements = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        if (rounds < 1) {
            throw new IllegalArgumentException("ROUNDS=" + rounds + " must be >= 1");
        }
        if (placements < 1 || placements > PAD) {
            throw new IllegalArgumentException("PLACEMENTS=" + placements + " must be in [1, " + PAD + "]");
        }
        try (Arena arena = Arena.ofShared()) {
            Operands ops = new Operands(arena, kernel, rows, cols);
            // 4 s of warm-up (C2 takes seconds to compile the vector loops on a loaded machine), then
            // batches of about 10 ms
            Runnable[] pair = ops.pair(0);
            long t0 = System.nanoTime();
            int calls = 0;
            while (System.nanoTime() - t0 < 4_000_000_000L) {
                pair[0].run();
                pair[1].run();
                calls++;
            }
            int batch = Math.max(1, calls / 400);
            double sumArray = 0, sumSegment = 0, lowest = Double.MAX_VALUE, highest = 0;
            for (int p = 0; p < placements; p++) {
                int shift = p * (PAD / placements);
                pair = ops.pair(shift);
                for (int i = 0; i < batch * 20; i++) {   // settle the new placement
                    pair[0].run();
                    pair[1].run();
                }
                double[] r = rounds(pair[0], pair[1], batch, rounds);
                String where = placements == 1 ? "" : String.format(Locale.ROOT, " (inputs shifted %d bytes)", shift * Float.BYTES);
                System.out.printf(Locale.ROOT, "%s %dx%d%s: array %.1f us, segment %.1f us (fastest); segment speed / array"
                        + " per round: median %.3f, range %.3f..%.3f over %d rounds%n", kernel, rows, cols, where,
                        r[0], r[1], r[2], r[3], r[4], rounds);
                sumArray += r[0];
                sumSegment += r[1];
                lowest = Math.min(lowest, r[2]);
                highest = Math.max(highest, r[2]);
            }
            if (placements > 1) {
                System.out.printf(Locale.ROOT, "%s %dx%d over %d placements: array %.1f us, segment %.1f us (means of the"
                        + " fastest); segment speed / array %.3f (ratio of the means), medians %.3f..%.3f%n", kernel, rows,
                        cols, placements, sumArray / placements, sumSegment / placements, sumArray / sumSegment, lowest,
                        highest);
            }
        }
    }

    /**
     * Inputs (x, f, dy; A for GEMM) are shifted by up to PAD floats (4 KiB) against the outputs, arrays and
     * segments alike: the distance between a stream that is read and one that is written, modulo 4 KiB,
     * decides whether loads wait on unrelated stores (4K aliasing), and moves a row kernel by 10-20%.
     */
    private static final int PAD = 1024;

    /** {fastest array us, fastest segment us, median ratio, lowest ratio, highest ratio} over the rounds. */
    private static double[] rounds(Runnable array, Runnable segment, int batch, int rounds) {
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
        return new double[] {bestArray, bestSegment, sorted[rounds / 2], sorted[0], sorted[rounds - 1]};
    }

    /** The seeded operands of one kernel, each with PAD floats of room for the shifted placements. */
    private static final class Operands {
        final String kernel;
        final int rows, cols, size;
        final float eps = 1e-5f;
        final Parallelism serial = Parallelism.serial();
        final float[] x, f, dy, y, dx, gamma, beta, mean, rstd, dgamma, dbeta;
        final MemorySegment xS, fS, dyS, yS, dxS, gS, bS, mS, rS, dgS, dbS;

        Operands(Arena arena, String kernel, int rows, int cols) {
            this.kernel = kernel;
            this.rows = rows;
            this.cols = cols;
            Random rnd = new Random(BenchSupport.SEED);
            size = Math.multiplyExact(rows, cols);
            int padded = size + PAD;
            x = BenchSupport.uniform(rnd, padded);
            f = BenchSupport.uniform(rnd, padded);
            dy = BenchSupport.uniform(rnd, padded);
            y = new float[padded];
            dx = new float[padded];
            gamma = BenchSupport.uniform(rnd, cols);
            beta = BenchSupport.uniform(rnd, cols);
            mean = new float[rows];
            rstd = new float[rows];
            dgamma = new float[cols];
            dbeta = new float[cols];
            xS = BenchSupport.offHeap(arena, x);
            fS = BenchSupport.offHeap(arena, f);
            dyS = BenchSupport.offHeap(arena, dy);
            yS = BenchSupport.offHeap(arena, y);
            dxS = BenchSupport.offHeap(arena, dx);
            gS = BenchSupport.offHeap(arena, gamma);
            bS = BenchSupport.offHeap(arena, beta);
            mS = BenchSupport.offHeap(arena, mean);
            rS = BenchSupport.offHeap(arena, rstd);
            dgS = BenchSupport.offHeap(arena, dgamma);
            dbS = BenchSupport.offHeap(arena, dbeta);
            // statistics for the backward rows
            Norms.layerNormForward(serial, rows, cols, eps, x, 0, cols, gamma, 0, beta, 0, y, 0, cols, mean, 0, rstd, 0);
            Norms.layerNormForward(rows, cols, eps, xS, 0, cols, gS, 0, bS, 0, yS, 0, cols, mS, 0, rS, 0);
        }

        /** {array, segment} calls of the kernel with the inputs at element offset o. */
        Runnable[] pair(int o) {
            return switch (kernel) {
                case "softmax" -> new Runnable[] {
                    () -> Softmax.forward(rows, cols, 1f, x, o, cols, y, 0, cols),
                    () -> Softmax.forward(rows, cols, 1f, xS, o, cols, yS, 0, cols)};
                case "residual-add" -> new Runnable[] {
                    () -> ResidualAdd.forward(rows, cols, 0.5f, x, o, cols, f, o, cols, beta, 0, y, 0, cols),
                    () -> ResidualAdd.forward(rows, cols, 0.5f, xS, o, cols, fS, o, cols, bS, 0, yS, 0, cols)};
                case "layer-norm" -> new Runnable[] {
                    () -> Norms.layerNormForward(serial, rows, cols, eps, x, o, cols, gamma, 0, beta, 0, y, 0, cols,
                            mean, 0, rstd, 0),
                    () -> Norms.layerNormForward(rows, cols, eps, xS, o, cols, gS, 0, bS, 0, yS, 0, cols, mS, 0, rS, 0)};
                case "layer-norm-backward" -> new Runnable[] {
                    () -> Norms.layerNormBackward(serial, rows, cols, dy, o, cols, x, o, cols, gamma, 0, mean, 0,
                            rstd, 0, dx, 0, cols, dgamma, 0, dbeta, 0),
                    () -> Norms.layerNormBackward(rows, cols, dyS, o, cols, xS, o, cols, gS, 0, mS, 0, rS, 0,
                            dxS, 0, cols, dgS, 0, dbS, 0)};
                case "rms-norm" -> new Runnable[] {
                    () -> Norms.rmsNormForward(serial, rows, cols, eps, x, o, cols, gamma, 0, y, 0, cols, rstd, 0),
                    () -> Norms.rmsNormForward(rows, cols, eps, xS, o, cols, gS, 0, yS, 0, cols, rS, 0)};
                case "rms-norm-backward" -> new Runnable[] {
                    () -> Norms.rmsNormBackward(serial, rows, cols, dy, o, cols, x, o, cols, gamma, 0, rstd, 0,
                            dx, 0, cols, dgamma, 0),
                    () -> Norms.rmsNormBackward(rows, cols, dyS, o, cols, xS, o, cols, gS, 0, rS, 0,
                            dxS, 0, cols, dgS, 0)};
                case "gemm" -> {
                    int n = rows;   // A = x, B = f, C = y: n x n
                    if (rows != cols) {
                        throw new IllegalArgumentException("gemm runs n x n x n: ROWS = COLS = n, not " + rows + "x" + cols);
                    }
                    yield new Runnable[] {
                        () -> Gemm.sgemm(serial, Transpose.N, Transpose.N, n, n, n, 1f, x, o, n, f, 0, n, 0f, y, 0, n),
                        () -> Gemm.sgemm(serial, Transpose.N, Transpose.N, n, n, n, 1f, xS, o, n, fS, 0, n, 0f, yS, 0, n)};
                }
                default -> throw new IllegalArgumentException("unknown kernel " + kernel);
            };
        }
    }
}
