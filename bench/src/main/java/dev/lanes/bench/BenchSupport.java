package dev.lanes.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.openjdk.jmh.infra.BenchmarkParams;

/** Helpers shared by the benchmarks: seeded inputs, the implementation a trial measures, agreement checks. */
final class BenchSupport {
    /** Every input is drawn from this seed, so all implementations of a trial see the same numbers. */
    static final long SEED = 0x1A4E5L;
    /** Unit roundoff of float32 (round to nearest). */
    static final double U = 0x1p-24;

    private BenchSupport() {}

    /** Uniform values in [-1, 1). */
    static float[] uniform(Random rnd, int length) {
        float[] x = new float[length];
        for (int i = 0; i < length; i++) {
            x[i] = 2f * rnd.nextFloat() - 1f;
        }
        return x;
    }

    /** The benchmark method a trial measures ("lanes", "openblas", ...), from JMH's own parameters. */
    static String implementation(BenchmarkParams params) {
        String b = params.getBenchmark();
        return b.substring(b.lastIndexOf('.') + 1);
    }

    /** gamma_n = n*u / (1 - n*u): the classic bound on the relative error of an n-term float sum (Higham 3.1). */
    static double gamma(long n) {
        double nu = n * U;
        return nu < 0.5 ? nu / (1 - nu) : 1.0;
    }

    /**
     * Throws when {@code |actual[i] - expected[i]| > bound[i]} for some i (NaN in either side counts as a
     * disagreement), naming the implementation, the index and the numbers. Runs in {@code @Setup}, so a
     * peer doing different work fails before anything is timed.
     */
    static void checkAgreement(String what, float[] expected, float[] actual, Bound bound) {
        if (expected.length != actual.length) {
            throw new IllegalStateException(what + ": lengths " + expected.length + " != " + actual.length);
        }
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs((double) actual[i] - expected[i]);
            double b = bound.at(i);
            if (!(diff <= b)) {
                throw new IllegalStateException(what + " disagrees at index " + i + ": expected " + expected[i]
                        + ", got " + actual[i] + " (|diff| " + diff + " > bound " + b + ")");
            }
            worst = Math.max(worst, b == 0 ? 0 : diff / b);
        }
        if (Boolean.getBoolean("lanes.bench.verbose")) {
            System.out.printf("%s agrees: worst |diff| / bound = %.3g%n", what, worst);
        }
    }

    /** The error bound allowed at one element. */
    @FunctionalInterface
    interface Bound {
        double at(int index);
    }

    /** A native copy of x in the arena, floats in native byte order: the operand of a lanesSegment row. */
    static MemorySegment offHeap(Arena arena, float[] x) {
        MemorySegment s = arena.allocate((long) x.length * Float.BYTES, 64);
        MemorySegment.copy(x, 0, s, ValueLayout.JAVA_FLOAT, 0, x.length);
        return s;
    }

    /** Throws unless the segment holds exactly expected's bits (the segment overloads promise the array's). */
    static void checkSameBits(String what, float[] expected, MemorySegment actual) {
        float[] got = actual.toArray(ValueLayout.JAVA_FLOAT);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(expected[i])) {
                throw new IllegalStateException(what + " differs from the array overload at index " + i + ": "
                        + got[i] + " vs " + expected[i]);
            }
        }
    }
}
