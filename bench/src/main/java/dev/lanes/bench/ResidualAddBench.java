package dev.lanes.bench;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.ResidualAddScalar;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
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
 * Fused residual add {@code y = x + alpha * (f + bias)} forward: Lanes, its scalar twin and a
 * straightforward Java loop. Score: microseconds per call; GB/s from {@link #bytesMoved}.
 *
 * <pre>
 *   x, f, y: (rows, cols), row stride cols;  bias: (cols);  alpha = 0.5
 * </pre>
 *
 * {@code @Setup} checks Lanes against the scalar twin and the measured implementation against Lanes,
 * each element within {@code 4u * (|x| + |alpha| * (|f| + |bias|))}: a few float roundings, no reduction.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {Backend.FLAG, "-Xss4m", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow"})
public class ResidualAddBench {
    private static final float ALPHA = 0.5f;

    @Param({"512", "4096"})
    public int rows;
    @Param({"512", "4096"})
    public int cols;

    /** x, f, y: (rows, cols); bias: (cols). */
    private float[] x, f, bias, y;
    /** The same operands in native memory (lanesSegment only). */
    private Arena arena;
    private MemorySegment xSeg, fSeg, biasSeg, ySeg;
    /** pytorch: the same as tensors, and f + bias between its two adds. */
    private Tensor tx, tf, tBias, tTmp, ty;
    private final Scalar alpha = new Scalar(ALPHA);

    /** Bytes the fused op must move: x and f read, y written, the bias row read once; float32. */
    public static double bytesMoved(long rows, long cols) {
        return (3.0 * rows * cols + cols) * Float.BYTES;
    }

    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        Random rnd = new Random(BenchSupport.SEED);
        int size = Math.multiplyExact(rows, cols);
        x = BenchSupport.uniform(rnd, size);
        f = BenchSupport.uniform(rnd, size);
        bias = BenchSupport.uniform(rnd, cols);
        y = new float[size];
        String impl = BenchSupport.implementation(params);
        if (impl.equals("pytorch")) {
            TorchPeer.setThreads(1);
            tx = TorchPeer.tensor(x, rows, cols);
            tf = TorchPeer.tensor(f, rows, cols);
            tBias = TorchPeer.tensor(bias, cols);
            tTmp = TorchPeer.tensor(y, rows, cols);
            ty = TorchPeer.tensor(y, rows, cols);
        }
        float[] ref = run("scalar");
        float[] lanesY = run("lanes");
        BenchSupport.Bound bound = i -> 4 * BenchSupport.U
                * (Math.abs(x[i]) + ALPHA * (Math.abs(f[i]) + Math.abs(bias[i % cols]))) + Float.MIN_NORMAL;
        BenchSupport.checkAgreement("residual-add lanes vs scalar twin (" + rows + "x" + cols + ")", ref, lanesY, bound);
        if (impl.equals("lanesSegment")) {
            arena = Arena.ofShared();
            xSeg = BenchSupport.offHeap(arena, x);
            fSeg = BenchSupport.offHeap(arena, f);
            biasSeg = BenchSupport.offHeap(arena, bias);
            ySeg = BenchSupport.offHeap(arena, y);
            BenchSupport.checkSameBits("residual-add lanesSegment (" + rows + "x" + cols + ")", lanesY, lanesSegment());
        } else if (!impl.equals("lanes")) {
            float[] got = run(impl);
            BenchSupport.checkAgreement("residual-add " + impl + " vs lanes (" + rows + "x" + cols + ")", lanesY, got,
                    i -> 2 * bound.at(i));
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
            default -> throw new IllegalArgumentException("unknown residual-add implementation " + impl);
        };
        return out.clone();
    }

    @Benchmark
    public float[] lanes() {
        ResidualAdd.forward(rows, cols, ALPHA, x, 0, cols, f, 0, cols, bias, 0, y, 0, cols);
        return y;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (arena != null) {
            arena.close();
        }
    }

    /** Lanes on native segments: the SIMD loop reads and writes the segments in place, same bits. */
    @Benchmark
    public MemorySegment lanesSegment() {
        ResidualAdd.forward(rows, cols, ALPHA, xSeg, 0, cols, fSeg, 0, cols, biasSeg, 0, ySeg, 0, cols);
        return ySeg;
    }

    @Benchmark
    public float[] scalar() {
        ResidualAddScalar.forward(rows, cols, ALPHA, x, 0, cols, f, 0, cols, bias, 0, y, 0, cols);
        return y;
    }

    /**
     * PyTorch 2.x in this JVM, one thread, as a user writes it without a fused kernel: two out= adds into
     * preallocated tensors, {@code tmp = f + bias} (broadcast over rows), then {@code y = x + 0.5 * tmp}.
     */
    @Benchmark
    public Object pytorch() {
        try (PointerScope scope = new PointerScope()) {
            torch.add_out(tTmp, tf, tBias);
            torch.add_out(ty, tx, tTmp, alpha);
        }
        return ty;
    }

    /** What one would write without a library. */
    @Benchmark
    public float[] plainJava() {
        for (int i = 0; i < rows; i++) {
            int r = i * cols;
            for (int j = 0; j < cols; j++) {
                y[r + j] = x[r + j] + ALPHA * (f[r + j] + bias[j]);
            }
        }
        return y;
    }
}
