package dev.lanes.bench;

import dev.lanes.kernels.Backend;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Machine probe: the float32 FMA throughput one core reaches from Java, with independent
 * {@link FloatVector} accumulators on the preferred species and no memory traffic: {@code fma} keeps
 * 16 (enough to cover FMA latency times the number of FMA pipes on current x86 and ARM cores, few
 * enough for 32 vector registers), {@code fma12} keeps 12 for AVX2's 16 registers (16 accumulators and
 * two operands spill there). GFLOP/s per core = {@link #flopsPerCall} / time. The report takes the
 * larger of these and of the C probe (bench/probe/fma_peak.c) as the compute limit it measures GEMM
 * against, so "% of peak" is never flattered by a slow probe.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {Backend.FLAG, "-Xss4m", "--sun-misc-unsafe-memory-access=allow"})
public class PeakBench {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Independent dependency chains; each FMA waits only on its own previous value. */
    public static final int ACCUMULATORS = 16;

    /** FMA rounds per call; each round issues one FMA per accumulator. */
    @Param({"4096"})
    public int rounds;

    /**
     * Starting values and the two factors: a -> m * c + a grows by 1e-4 a round (0.4 over a call), never
     * overflows. The accumulator is the addend, as in GEMM's tiles: written a -> a * m + c, C2 chose the
     * fma form that overwrites c's copy, added a register move per fma and spilled half the
     * accumulators under AVX2 (0.77x the C loop with 12 of them; 0.99x this way, Zen 4).
     */
    private float[] start;
    private float mul, add;

    /** Floating-point operations (an FMA counts two) per call of a method with this many accumulators and lanes. */
    public static double flopsPerCall(long rounds, int accumulators, int lanes) {
        return 2.0 * accumulators * lanes * rounds;
    }

    /** Accumulators of a benchmark method of this class, by name. */
    public static int accumulators(String method) {
        return method.equals("fma12") ? 12 : ACCUMULATORS;
    }

    /** Lanes of the preferred float species, for the report's machine block. */
    public static int lanes() {
        return S.length();
    }

    @Setup(Level.Trial)
    public void setup() {
        start = new float[ACCUMULATORS * S.length()];
        for (int i = 0; i < start.length; i++) {
            start[i] = 1f + i * 1e-3f;
        }
        mul = 0.9999f;
        add = 0.0001f;
    }

    @Benchmark
    public float fma() {
        FloatVector m = FloatVector.broadcast(S, mul), c = FloatVector.broadcast(S, add);
        int l = S.length();
        FloatVector a0 = FloatVector.fromArray(S, start, 0), a1 = FloatVector.fromArray(S, start, l);
        FloatVector a2 = FloatVector.fromArray(S, start, 2 * l), a3 = FloatVector.fromArray(S, start, 3 * l);
        FloatVector a4 = FloatVector.fromArray(S, start, 4 * l), a5 = FloatVector.fromArray(S, start, 5 * l);
        FloatVector a6 = FloatVector.fromArray(S, start, 6 * l), a7 = FloatVector.fromArray(S, start, 7 * l);
        FloatVector a8 = FloatVector.fromArray(S, start, 8 * l), a9 = FloatVector.fromArray(S, start, 9 * l);
        FloatVector a10 = FloatVector.fromArray(S, start, 10 * l), a11 = FloatVector.fromArray(S, start, 11 * l);
        FloatVector a12 = FloatVector.fromArray(S, start, 12 * l), a13 = FloatVector.fromArray(S, start, 13 * l);
        FloatVector a14 = FloatVector.fromArray(S, start, 14 * l), a15 = FloatVector.fromArray(S, start, 15 * l);
        for (int r = 0; r < rounds; r++) {
            a0 = m.fma(c, a0);
            a1 = m.fma(c, a1);
            a2 = m.fma(c, a2);
            a3 = m.fma(c, a3);
            a4 = m.fma(c, a4);
            a5 = m.fma(c, a5);
            a6 = m.fma(c, a6);
            a7 = m.fma(c, a7);
            a8 = m.fma(c, a8);
            a9 = m.fma(c, a9);
            a10 = m.fma(c, a10);
            a11 = m.fma(c, a11);
            a12 = m.fma(c, a12);
            a13 = m.fma(c, a13);
            a14 = m.fma(c, a14);
            a15 = m.fma(c, a15);
        }
        FloatVector s = a0.add(a1).add(a2.add(a3)).add(a4.add(a5).add(a6.add(a7)))
                .add(a8.add(a9).add(a10.add(a11)).add(a12.add(a13).add(a14.add(a15))));
        return s.reduceLanes(VectorOperators.ADD);
    }

    @Benchmark
    public float fma12() {
        FloatVector m = FloatVector.broadcast(S, mul), c = FloatVector.broadcast(S, add);
        int l = S.length();
        FloatVector a0 = FloatVector.fromArray(S, start, 0), a1 = FloatVector.fromArray(S, start, l);
        FloatVector a2 = FloatVector.fromArray(S, start, 2 * l), a3 = FloatVector.fromArray(S, start, 3 * l);
        FloatVector a4 = FloatVector.fromArray(S, start, 4 * l), a5 = FloatVector.fromArray(S, start, 5 * l);
        FloatVector a6 = FloatVector.fromArray(S, start, 6 * l), a7 = FloatVector.fromArray(S, start, 7 * l);
        FloatVector a8 = FloatVector.fromArray(S, start, 8 * l), a9 = FloatVector.fromArray(S, start, 9 * l);
        FloatVector a10 = FloatVector.fromArray(S, start, 10 * l), a11 = FloatVector.fromArray(S, start, 11 * l);
        for (int r = 0; r < rounds; r++) {
            a0 = m.fma(c, a0);
            a1 = m.fma(c, a1);
            a2 = m.fma(c, a2);
            a3 = m.fma(c, a3);
            a4 = m.fma(c, a4);
            a5 = m.fma(c, a5);
            a6 = m.fma(c, a6);
            a7 = m.fma(c, a7);
            a8 = m.fma(c, a8);
            a9 = m.fma(c, a9);
            a10 = m.fma(c, a10);
            a11 = m.fma(c, a11);
        }
        FloatVector s = a0.add(a1).add(a2.add(a3)).add(a4.add(a5).add(a6.add(a7)))
                .add(a8.add(a9).add(a10.add(a11)));
        return s.reduceLanes(VectorOperators.ADD);
    }
}
