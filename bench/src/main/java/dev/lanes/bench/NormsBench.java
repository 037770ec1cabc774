package dev.lanes.bench;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.NormsScalar;
import dev.lanes.kernels.Parallelism;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Layer norm forward and backward on one thread: Lanes on arrays, Lanes on native segments (the
 * {@code MemorySegment} overloads, which run on the calling thread), and the scalar twin. Score:
 * microseconds per call.
 *
 * <pre>
 *   x, y, dy, dx: (rows, cols), row stride cols;  gamma, beta, dgamma, dbeta: (cols);  mean, rstd: (rows)
 *   x uniform in [-1, 1) scaled by 3, shifted by 0.5; eps = 1e-5
 * </pre>
 *
 * {@code @Setup} checks Lanes against the scalar twin (forward y within {@code 64u} relative to the row's
 * spread) and the segment rows against the array rows bit for bit. The backward rows accumulate into dx,
 * dgamma and dbeta call after call, as training does between zeroings; their values only grow linearly.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {Backend.FLAG, "-Xss4m", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow"})
public class NormsBench {
    private static final float EPS = 1e-5f;

    @Param({"512", "4096"})
    public int rows;
    @Param({"512", "4096"})
    public int cols;

    private final Parallelism serial = Parallelism.serial();
    /** x, y, dy, dx: (rows, cols); gamma, beta, dgamma, dbeta: (cols); mean, rstd: (rows). */
    private float[] x, y, dy, dx, gamma, beta, dgamma, dbeta, mean, rstd;
    /** The same operands in native memory (segment rows only). */
    private Arena arena;
    private MemorySegment xS, yS, dyS, dxS, gammaS, betaS, dgammaS, dbetaS, meanS, rstdS;

    /**
     * Bytes a call must move, float32: forward reads x and writes y (gamma, beta once; mean, rstd written);
     * backward reads dy, x and dx and writes dx (gamma read, dgamma and dbeta read and written; mean, rstd read).
     */
    public static double bytesMoved(String impl, long rows, long cols) {
        return (impl.endsWith("Backward") ? 4.0 * rows * cols + 5.0 * cols + 2.0 * rows
                : 2.0 * rows * cols + 2.0 * cols + 2.0 * rows) * Float.BYTES;
    }

    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        Random rnd = new Random(BenchSupport.SEED);
        int size = Math.multiplyExact(rows, cols);
        x = BenchSupport.uniform(rnd, size);
        for (int i = 0; i < size; i++) {
            x[i] = 3f * x[i] + 0.5f;
        }
        dy = BenchSupport.uniform(rnd, size);
        gamma = BenchSupport.uniform(rnd, cols);
        beta = BenchSupport.uniform(rnd, cols);
        y = new float[size];
        dx = new float[size];
        dgamma = new float[cols];
        dbeta = new float[cols];
        mean = new float[rows];
        rstd = new float[rows];
        float[] ref = new float[size], refMean = new float[rows], refRstd = new float[rows];
        NormsScalar.layerNormForward(rows, cols, EPS, x, 0, cols, gamma, 0, beta, 0, ref, 0, cols, refMean, 0,
                refRstd, 0);
        lanes();
        BenchSupport.checkAgreement("layer norm lanes vs scalar twin (" + rows + "x" + cols + ")", ref, y,
                i -> 64 * BenchSupport.U * (1 + Math.abs(ref[i])) + Float.MIN_NORMAL);
        String impl = BenchSupport.implementation(params);
        if (impl.startsWith("lanesSegment")) {
            arena = Arena.ofShared();
            xS = BenchSupport.offHeap(arena, x);
            yS = BenchSupport.offHeap(arena, new float[size]);
            dyS = BenchSupport.offHeap(arena, dy);
            dxS = BenchSupport.offHeap(arena, dx);
            gammaS = BenchSupport.offHeap(arena, gamma);
            betaS = BenchSupport.offHeap(arena, beta);
            dgammaS = BenchSupport.offHeap(arena, dgamma);
            dbetaS = BenchSupport.offHeap(arena, dbeta);
            meanS = BenchSupport.offHeap(arena, new float[rows]);
            rstdS = BenchSupport.offHeap(arena, new float[rows]);
            lanesSegment();
            BenchSupport.checkSameBits("layer norm lanesSegment y (" + rows + "x" + cols + ")", y, yS);
            BenchSupport.checkSameBits("layer norm lanesSegment rstd (" + rows + "x" + cols + ")", rstd, rstdS);
            lanesBackward();
            lanesSegmentBackward();
            BenchSupport.checkSameBits("layer norm lanesSegmentBackward dx (" + rows + "x" + cols + ")", dx, dxS);
            BenchSupport.checkSameBits("layer norm lanesSegmentBackward dgamma (" + rows + "x" + cols + ")", dgamma,
                    dgammaS);
            BenchSupport.checkSameBits("layer norm lanesSegmentBackward dbeta (" + rows + "x" + cols + ")", dbeta,
                    dbetaS);
        }
        Arrays.fill(dx, 0f);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (arena != null) {
            arena.close();
        }
    }

    @Benchmark
    public float[] lanes() {
        Norms.layerNormForward(serial, rows, cols, EPS, x, 0, cols, gamma, 0, beta, 0, y, 0, cols, mean, 0, rstd, 0);
        return y;
    }

    /** Lanes on native segments: the segment twin of the SIMD row loops, reading and writing them in place. */
    @Benchmark
    public MemorySegment lanesSegment() {
        Norms.layerNormForward(rows, cols, EPS, xS, 0, cols, gammaS, 0, betaS, 0, yS, 0, cols, meanS, 0, rstdS, 0);
        return yS;
    }

    @Benchmark
    public float[] scalar() {
        NormsScalar.layerNormForward(rows, cols, EPS, x, 0, cols, gamma, 0, beta, 0, y, 0, cols, mean, 0, rstd, 0);
        return y;
    }

    /** Backward on arrays, from the statistics the setup's forward saved. */
    @Benchmark
    public float[] lanesBackward() {
        Norms.layerNormBackward(serial, rows, cols, dy, 0, cols, x, 0, cols, gamma, 0, mean, 0, rstd, 0, dx, 0, cols,
                dgamma, 0, dbeta, 0);
        return dx;
    }

    /** Backward on native segments: the array backward's 32-row blocks, read in place by the segment twin. */
    @Benchmark
    public MemorySegment lanesSegmentBackward() {
        Norms.layerNormBackward(rows, cols, dyS, 0, cols, xS, 0, cols, gammaS, 0, meanS, 0, rstdS, 0, dxS, 0, cols,
                dgammaS, 0, dbetaS, 0);
        return dxS;
    }
}
