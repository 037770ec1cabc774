package dev.lanes.bench;

import dev.lanes.kernels.Backend;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
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
 * Machine probe: streaming memory bandwidth from one thread, McCalpin's STREAM copy and triad on
 * float arrays far larger than the last-level cache, with Vector API loops. Bytes count as STREAM counts
 * them (each array read or written once; write-allocate traffic not included): copy 8 bytes per
 * element, triad 12 ({@link #bytesMoved}). The larger of the two is the memory limit the report measures
 * the memory-bound kernels against.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {Backend.FLAG, "-Xss4m", "--sun-misc-unsafe-memory-access=allow"})
public class StreamBench {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** Elements per array: 16 Mi floats = 64 MiB, twice a 32 MiB L3. */
    @Param({"16777216"})
    public int length;

    /** a, b, c: (length). */
    private float[] a, b, c;
    private float scalar;

    public static double bytesMoved(String method, long length) {
        return switch (method) {
            case "copy" -> 2.0 * length * Float.BYTES;
            case "triad" -> 3.0 * length * Float.BYTES;
            default -> throw new IllegalArgumentException("unknown stream method " + method);
        };
    }

    @Setup(Level.Trial)
    public void setup() {
        a = new float[length];
        b = new float[length];
        c = new float[length];
        Arrays.fill(a, 1f);
        Arrays.fill(b, 2f);
        Arrays.fill(c, 0.5f);
        scalar = 3f;
    }

    /** a = b. */
    @Benchmark
    public float[] copy() {
        int i = 0, bound = S.loopBound(length);
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, b, i).intoArray(a, i);
        }
        for (; i < length; i++) {
            a[i] = b[i];
        }
        return a;
    }

    /** a = b + scalar * c. */
    @Benchmark
    public float[] triad() {
        FloatVector s = FloatVector.broadcast(S, scalar);
        int i = 0, bound = S.loopBound(length);
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, c, i).fma(s, FloatVector.fromArray(S, b, i)).intoArray(a, i);
        }
        for (; i < length; i++) {
            a[i] = Math.fma(scalar, c[i], b[i]);
        }
        return a;
    }
}
