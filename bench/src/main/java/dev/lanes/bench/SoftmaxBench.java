package dev.lanes.bench;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.SoftmaxScalar;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
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
 * Row-wise stable softmax forward, out of place, no mask: Lanes, its scalar twin (double arithmetic) and
 * a straightforward Java loop. Score: microseconds per call; GB/s counts the compulsory traffic, x read
 * once and y written once ({@link #bytesMoved}), though the kernels make three passes over a row.
 *
 * <pre>
 *   x, y: (rows, cols), row stride cols; x uniform in [-4, 4)
 * </pre>
 *
 * {@code @Setup} checks Lanes against the scalar twin and the measured implementation against Lanes,
 * each element within {@code y * (2 * gamma_cols + 16u)}: the error of a float sum of cols positive
 * terms plus a few roundings for exp and the division.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {Backend.FLAG, "-Xss4m", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow"})
public class SoftmaxBench {
    @Param({"512", "4096"})
    public int rows;
    @Param({"512", "4096"})
    public int cols;

    /** x, y: (rows, cols). */
    private float[] x, y;
    /** The same x, and y, in native memory (lanesSegment only). */
    private Arena arena;
    private MemorySegment xSeg, ySeg;
    /** pytorch: x and y as tensors. */
    private Tensor tx, ty;

    /** Bytes a softmax of this shape must move: x read and y written, float32. */
    public static double bytesMoved(long rows, long cols) {
        return 2.0 * rows * cols * Float.BYTES;
    }

    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        Random rnd = new Random(BenchSupport.SEED);
        x = BenchSupport.uniform(rnd, Math.multiplyExact(rows, cols));
        for (int i = 0; i < x.length; i++) {
            x[i] *= 4f;
        }
        y = new float[x.length];
        String impl = BenchSupport.implementation(params);
        if (impl.equals("pytorch")) {
            TorchPeer.setThreads(1);
            tx = TorchPeer.tensor(x, rows, cols);
            ty = TorchPeer.tensor(y, rows, cols);
        }
        float[] ref = run("scalar");
        float[] lanesY = run("lanes");
        double rel = 2 * BenchSupport.gamma(cols) + 16 * BenchSupport.U;
        BenchSupport.checkAgreement("softmax lanes vs scalar twin (" + rows + "x" + cols + ")", ref, lanesY,
                i -> rel * ref[i] + Float.MIN_NORMAL);
        if (impl.equals("lanesSegment")) {
            arena = Arena.ofShared();
            xSeg = BenchSupport.offHeap(arena, x);
            ySeg = BenchSupport.offHeap(arena, y);
            BenchSupport.checkSameBits("softmax lanesSegment (" + rows + "x" + cols + ")", lanesY, lanesSegment());
        } else if (!impl.equals("lanes")) {
            float[] got = run(impl);
            BenchSupport.checkAgreement("softmax " + impl + " vs lanes (" + rows + "x" + cols + ")", lanesY, got,
                    i -> 2 * rel * ref[i] + Float.MIN_NORMAL);
        }
    }

    private float[] run(String impl) {
        Arrays.fill(y, Float.NaN);
        float[] out = switch (impl) {
            case "lanes" -> lanes();
            case "scalar" -> scalar();
            case "plainJava" -> plainJava();
            case "pytorch" -> {
                ty.data_ptr_float().put(y);
                pytorch();
                yield TorchPeer.toArray(ty);
            }
            default -> throw new IllegalArgumentException("unknown softmax implementation " + impl);
        };
        return out.clone();
    }

    @Benchmark
    public float[] lanes() {
        Softmax.forward(rows, cols, x, 0, cols, y, 0, cols);
        return y;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (arena != null) {
            arena.close();
        }
    }

    /** Lanes on native segments: unmasked SIMD rows read and write the segments in place, same bits. */
    @Benchmark
    public MemorySegment lanesSegment() {
        Softmax.forward(rows, cols, 1f, xSeg, 0, cols, ySeg, 0, cols);
        return ySeg;
    }

    @Benchmark
    public float[] scalar() {
        SoftmaxScalar.forward(rows, cols, 1f, false, 0, null, 0, 0, x, 0, cols, y, 0, cols);
        return y;
    }

    /** PyTorch 2.x in this JVM, one thread: {@code torch.softmax(x, -1, out=y)} into a preallocated y. */
    @Benchmark
    public Object pytorch() {
        try (PointerScope scope = new PointerScope()) {
            torch.softmax_out(ty, tx, 1);
        }
        return ty;
    }

    /** What one would write without a library: max, exp and sum, scale; float accumulation. */
    @Benchmark
    public float[] plainJava() {
        for (int i = 0; i < rows; i++) {
            int r = i * cols;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < cols; j++) {
                max = Math.max(max, x[r + j]);
            }
            float sum = 0f;
            for (int j = 0; j < cols; j++) {
                float e = (float) Math.exp(x[r + j] - max);
                y[r + j] = e;
                sum += e;
            }
            float inv = 1f / sum;
            for (int j = 0; j < cols; j++) {
                y[r + j] *= inv;
            }
        }
        return y;
    }
}
