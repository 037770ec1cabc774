package dev.lanes.bench;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.GemmScalar;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Transpose;
import dev.ludovic.netlib.blas.BLAS;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.ejml.concurrency.EjmlConcurrency;
import org.ejml.data.FMatrixRMaj;
import org.ejml.dense.row.CommonOps_FDRM;
import org.ejml.dense.row.CommonOps_MT_FDRM;
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
 * Single-precision GEMM {@code C = op(A) * op(B)} (alpha = 1, beta = 0, so C is write-only and every
 * call does the whole product), Lanes beside its scalar twin and its peers, on the same seeded inputs.
 * Score: microseconds per call (per batch of products); GFLOP/s = {@code 2*m*n*k*batch / time}.
 *
 * <pre>
 *   m = (m > 0 ? m : n), k = (k > 0 ? k : n)        n alone is a square product
 *   op(A): (m, k)  stored (m, k), lda = k if trans[0] == 'N', else stored (k, m), lda = m
 *   op(B): (k, n)  stored (k, n), ldb = n if trans[1] == 'N', else stored (n, k), ldb = k
 *   C:     (m, n)  ldc = n
 *   batch > 1: A, B, C each hold batch such matrices back to back, strideA = m*k, strideB = k*n, strideC = m*n
 * </pre>
 *
 * A batch is one call of Lanes' {@link Gemm#sgemmStridedBatched}; the peers have no batched SGEMM and loop:
 * {@code openblas} over separate Java arrays per product (what a Java caller of cblas_sgemm has to hold),
 * {@code openblasOffHeap} over positions in one native buffer, netlib over offsets into the shared arrays.
 * EJML and the scalar twin run single products only.
 *
 * <p>Every trial first checks, in {@code @Setup}, Lanes against its scalar twin (all rows of small products,
 * 16 spread rows of large ones) and then the measured peer against Lanes' C, every product of a batch, each element within
 * {@code 2 * gamma_k * (|op(A)| |op(B)|)_ij}: the float error bound any summation order meets, so only
 * a peer doing different work can fail it.
 *
 * <p>{@code threads} is the team size of every implementation that has one: a Lanes
 * {@link Parallelism}, OpenBLAS' own pool, EJML's {@code CommonOps_MT_FDRM}, libtorch's team and its OpenBLAS. netlib and the scalar twin
 * are single-threaded and refuse {@code threads > 1} rather than report a one-thread figure under it.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {Backend.FLAG, "-Xss4m", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow"})
public class GemmBench {

    /** The shapes Lanes and its peers run by default. */
    @State(Scope.Benchmark)
    public static class Problem extends GemmProblem {
        /** Columns of C; also m and k when those are 0 (square). */
        @Param({"256", "512", "1024", "2048"})
        public int n;
        /** Rows of C; 0 means n. */
        @Param({"0"})
        public int m;
        /** The reduction length; 0 means n. */
        @Param({"0"})
        public int k;
        /** op(A) op(B): NN, NT, TN or TT. */
        @Param({"NN"})
        public String trans;
        @Param({"1"})
        public int threads;
        /** Products per call, strided back to back in A, B and C. */
        @Param({"1"})
        public int batch;

        @Setup(Level.Trial)
        public void setup(BenchmarkParams params) {
            init(BenchSupport.implementation(params), m > 0 ? m : n, n, k > 0 ? k : n, trans, threads, batch);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    /**
     * The same parameters with smaller defaults, for the scalar twin: without blocking it takes seconds
     * per product at n = 2048. Override with {@code -p n=...} to measure it anyway.
     */
    @State(Scope.Benchmark)
    public static class SmallProblem extends GemmProblem {
        @Param({"64", "256"})
        public int n;
        @Param({"0"})
        public int m;
        @Param({"0"})
        public int k;
        @Param({"NN"})
        public String trans;
        @Param({"1"})
        public int threads;

        @Setup(Level.Trial)
        public void setup(BenchmarkParams params) {
            init(BenchSupport.implementation(params), m > 0 ? m : n, n, k > 0 ? k : n, trans, threads, 1);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    @Benchmark
    public float[] lanes(Problem p) {
        return p.lanes();
    }

    /**
     * Lanes on native {@link MemorySegment} operands (the same values, in a shared arena): the segment
     * overload runs the BLIS loops over the segments, packing op(B) from its segment and copying each
     * block of op(A) and C through the heap for the same micro-kernels, same bits.
     */
    @Benchmark
    public MemorySegment lanesSegment(Problem p) {
        return p.lanesSegment();
    }

    @Benchmark
    public float[] scalar(SmallProblem p) {
        return p.scalar();
    }

    @Benchmark
    public Object openblas(Problem p) {
        return p.openblas();
    }

    /**
     * OpenBLAS on operands already off-heap (JavaCPP FloatPointers filled once in setup): its kernel
     * without the JNI copies of the Java arrays, for reading how much of {@link #openblas} is copying.
     */
    @Benchmark
    public Object openblasOffHeap(Problem p) {
        return p.openblasOffHeap();
    }

    /**
     * PyTorch 2.x in this JVM: {@code torch.matmul} with the out= tensor preallocated, on tensors filled
     * once from the same arrays, each transpose a {@code .t()} view (a strided batch: {@code transpose(1, 2)}),
     * libtorch and its OpenBLAS at {@code threads}.
     */
    @Benchmark
    public Object pytorch(Problem p) {
        return p.pytorch();
    }

    @Benchmark
    public float[] netlibVector(Problem p) {
        return p.netlib();
    }

    @Benchmark
    public float[] netlibJava(Problem p) {
        return p.netlib();
    }

    @Benchmark
    public float[] ejml(Problem p) {
        return p.ejml();
    }

    /** Inputs, output and the implementations' handles for one trial. */
    public abstract static class GemmProblem {
        /** Up to this many multiply-adds the scalar check covers every row of C. */
        private static final long FULL_CHECK_MACS = 1L << 27;
        private static final int SAMPLED_ROWS = 16;

        String impl;
        int rows, cols, depth, threads, batch;
        Transpose opA, opB;
        int lda, ldb;
        /** Distance between consecutive products of a batch in a, b and c. */
        int strideA, strideB, strideC;
        /**
         * A: batch x stored (rows, depth) or (depth, rows); B: batch x stored (depth, cols) or (cols, depth);
         * C: batch x (rows, cols).
         */
        float[] a, b, c;
        /** OpenBLAS' operands, one array per product: {a}, {b}, {c} themselves when batch == 1, else copies. */
        float[][] aParts, bParts, cParts;
        Parallelism team;
        BLAS netlib;
        FMatrixRMaj ea, eb, ec;
        OpenBlasPeer.OffHeap offHeap;
        Arena arena;
        MemorySegment aSeg, bSeg, cSeg;
        /** pytorch: op(A), op(B) as views of the stored operands, C [batch,] (rows, cols). */
        Tensor tOpA, tOpB, tC;

        final void init(String impl, int m, int n, int k, String trans, int threads, int batch) {
            if (trans == null || !trans.matches("[NT][NT]")) {
                throw new IllegalArgumentException("trans=" + trans + ": expected NN, NT, TN or TT");
            }
            if (m < 1 || n < 1 || k < 1 || threads < 1 || batch < 1) {
                throw new IllegalArgumentException("m=" + m + " n=" + n + " k=" + k + " threads=" + threads
                        + " batch=" + batch + ": all must be >= 1");
            }
            this.impl = impl;
            this.rows = m;
            this.cols = n;
            this.depth = k;
            this.threads = threads;
            this.batch = batch;
            this.opA = trans.charAt(0) == 'T' ? Transpose.T : Transpose.N;
            this.opB = trans.charAt(1) == 'T' ? Transpose.T : Transpose.N;
            this.lda = opA == Transpose.N ? k : m;
            this.ldb = opB == Transpose.N ? n : k;
            this.strideA = Math.multiplyExact(m, k);
            this.strideB = Math.multiplyExact(k, n);
            this.strideC = Math.multiplyExact(m, n);
            Random rnd = new Random(BenchSupport.SEED);
            a = BenchSupport.uniform(rnd, Math.multiplyExact(batch, strideA));
            b = BenchSupport.uniform(rnd, Math.multiplyExact(batch, strideB));
            c = new float[Math.multiplyExact(batch, strideC)];
            team = Parallelism.fixed(threads);
            prepare();
            checkAgreement();
        }

        final void close() {
            if (team != null) {
                team.close();
            }
            if (offHeap != null) {
                offHeap.close();
            }
            if (arena != null) {
                arena.close();
            }
            if (tC != null) {
                tOpA.close();
                tOpB.close();
                tC.close();
            }
        }

        private void prepare() {
            if (batch > 1 && (impl.equals("scalar") || impl.equals("ejml"))) {
                throw new IllegalArgumentException(impl + " runs single products only, not batch=" + batch);
            }
            switch (impl) {
                case "lanes" -> { }
                case "lanesSegment" -> {
                    if (batch != 1) {
                        throw new IllegalArgumentException("lanesSegment runs single products only, not batch=" + batch);
                    }
                    arena = Arena.ofShared();
                    aSeg = BenchSupport.offHeap(arena, a);
                    bSeg = BenchSupport.offHeap(arena, b);
                    cSeg = BenchSupport.offHeap(arena, c);
                }
                case "scalar" -> requireSingleThread("the scalar twin");
                case "openblas" -> {
                    OpenBlasPeer.setThreads(threads);
                    aParts = split(a, strideA);
                    bParts = split(b, strideB);
                    cParts = split(c, strideC);
                }
                case "openblasOffHeap" -> {
                    OpenBlasPeer.setThreads(threads);
                    offHeap = new OpenBlasPeer.OffHeap(a, b, c.length);
                }
                case "pytorch" -> {
                    TorchPeer.setThreads(threads);
                    boolean batched = batch > 1;
                    Tensor sa = opA == Transpose.N ? TorchPeer.tensor(a, shape(batched, rows, depth))
                            : TorchPeer.tensor(a, shape(batched, depth, rows));
                    Tensor sb = opB == Transpose.N ? TorchPeer.tensor(b, shape(batched, depth, cols))
                            : TorchPeer.tensor(b, shape(batched, cols, depth));
                    tOpA = opA == Transpose.N ? sa : batched ? sa.transpose(1, 2) : sa.t();
                    tOpB = opB == Transpose.N ? sb : batched ? sb.transpose(1, 2) : sb.t();
                    tC = TorchPeer.tensor(c, shape(batched, rows, cols));
                }
                case "netlibVector" -> {
                    requireSingleThread("netlib BLAS");
                    netlib = NetlibPeer.vector();
                }
                case "netlibJava" -> {
                    requireSingleThread("netlib BLAS");
                    netlib = NetlibPeer.plainJava();
                }
                case "ejml" -> {
                    ea = opA == Transpose.N ? FMatrixRMaj.wrap(rows, depth, a) : FMatrixRMaj.wrap(depth, rows, a);
                    eb = opB == Transpose.N ? FMatrixRMaj.wrap(depth, cols, b) : FMatrixRMaj.wrap(cols, depth, b);
                    ec = FMatrixRMaj.wrap(rows, cols, c);
                    if (threads > 1) {
                        EjmlConcurrency.setMaxThreads(threads);
                    }
                }
                default -> throw new IllegalArgumentException("unknown GEMM implementation " + impl);
            }
        }

        private long[] shape(boolean batched, int r, int cl) {
            return batched ? new long[] {batch, r, cl} : new long[] {r, cl};
        }

        /** {x} itself for one product, else a copy of each product in an array of its own. */
        private float[][] split(float[] x, int stride) {
            if (batch == 1) {
                return new float[][] {x};
            }
            float[][] parts = new float[batch][];
            for (int e = 0; e < batch; e++) {
                parts[e] = Arrays.copyOfRange(x, e * stride, (e + 1) * stride);
            }
            return parts;
        }

        private void requireSingleThread(String who) {
            if (threads != 1) {
                throw new IllegalStateException(who + " is single-threaded: run it with threads=1, not " + threads);
            }
        }

        /** Lanes against its scalar twin, then the measured implementation against Lanes, product by product. */
        private void checkAgreement() {
            float[] lanesC = runForCheck("lanes");
            float[] bound = errorBound();
            checkLanesAgainstScalar(lanesC, bound);
            if (!impl.equals("lanes")) {
                float[] got = runForCheck(impl);
                for (int e = 0; e < batch; e++) {
                    int from = e * strideC, to = from + strideC;
                    BenchSupport.checkAgreement("GEMM " + impl + " vs lanes (" + shape() + productOf(e) + ")",
                            Arrays.copyOfRange(lanesC, from, to), Arrays.copyOfRange(got, from, to),
                            i -> bound[from + i]);
                }
            }
        }

        private String shape() {
            return rows + "x" + cols + "x" + depth + " " + opA + opB + " threads=" + threads
                    + (batch > 1 ? " batch=" + batch : "");
        }

        private String productOf(int e) {
            return batch > 1 ? ", product " + e : "";
        }

        /** NaN in C first: an implementation that leaves any element unwritten fails the check. */
        private float[] runForCheck(String which) {
            Arrays.fill(c, Float.NaN);
            if (cParts != null) {
                for (float[] part : cParts) {
                    Arrays.fill(part, Float.NaN);
                }
            }
            if (offHeap != null) {
                offHeap.fillC(Float.NaN);
            }
            if (tC != null) {
                tC.data_ptr_float().put(c);
            }
            float[] out = switch (which) {
                case "lanes" -> lanes();
                case "lanesSegment" -> {
                    float[] arrays = lanes().clone();
                    BenchSupport.checkSameBits("GEMM lanesSegment (" + shape() + ")", arrays, lanesSegment());
                    yield arrays;
                }
                case "scalar" -> scalar();
                case "openblas" -> {
                    openblas();
                    for (int e = 0; e < batch; e++) {
                        System.arraycopy(cParts[e], 0, c, e * strideC, strideC);
                    }
                    yield c;
                }
                case "openblasOffHeap" -> {
                    openblasOffHeap();
                    yield offHeap.result(c);
                }
                case "netlibVector", "netlibJava" -> netlib();
                case "ejml" -> ejml();
                case "pytorch" -> {
                    pytorch();
                    yield TorchPeer.toArray(tC);
                }
                default -> throw new IllegalArgumentException("unknown GEMM implementation " + which);
            };
            return out.clone();
        }

        /** 2 * gamma_k * (|op(A)| |op(B)|)_ij, the product of absolute values taken with Lanes itself. */
        private float[] errorBound() {
            float[] absA = abs(a), absB = abs(b), s = new float[c.length];
            Gemm.sgemmStridedBatched(Parallelism.serial(), batch, opA, opB, rows, cols, depth, 1f,
                    absA, 0, lda, strideA, absB, 0, ldb, strideB, 0f, s, 0, cols, strideC);
            double g = BenchSupport.gamma(depth);
            // s itself is a float sum of non-negative terms, low by at most a factor (1 - gamma_k).
            double scale = 2 * g / (1 - g);
            for (int i = 0; i < s.length; i++) {
                s[i] = (float) (scale * s[i] * (1 + 1e-6)) + Float.MIN_NORMAL;
            }
            return s;
        }

        private static float[] abs(float[] x) {
            float[] y = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                y[i] = Math.abs(x[i]);
            }
            return y;
        }

        /** Every product of a batch: all its rows when small, else 16 spread rows. */
        private void checkLanesAgainstScalar(float[] lanesC, float[] bound) {
            int[] checkRows;
            if ((long) rows * cols * depth <= FULL_CHECK_MACS || rows <= SAMPLED_ROWS) {
                checkRows = new int[rows];
                Arrays.setAll(checkRows, i -> i);
            } else {
                checkRows = new int[SAMPLED_ROWS];
                Arrays.setAll(checkRows, i -> (int) ((long) i * (rows - 1) / (SAMPLED_ROWS - 1)));
            }
            float[] ref = new float[checkRows.length * cols], got = new float[ref.length];
            float[] rowsBound = new float[ref.length];
            for (int e = 0; e < batch; e++) {
                for (int r = 0; r < checkRows.length; r++) {
                    int i = checkRows[r];
                    // Row i of op(A) on its own: stored (1, k) at i*lda, or column i of the stored (k, m) A.
                    int aOff = e * strideA + (opA == Transpose.N ? i * lda : i);
                    GemmScalar.sgemm(opA, opB, 1, cols, depth, 1f, a, aOff, lda, b, e * strideB, ldb, 0f,
                            ref, r * cols, cols);
                    System.arraycopy(lanesC, e * strideC + i * cols, got, r * cols, cols);
                    System.arraycopy(bound, e * strideC + i * cols, rowsBound, r * cols, cols);
                }
                BenchSupport.checkAgreement("GEMM lanes vs scalar twin (" + shape() + productOf(e) + ", "
                        + checkRows.length + " rows)", ref, got, j -> rowsBound[j]);
            }
        }

        final float[] lanes() {
            if (batch == 1) {
                Gemm.sgemm(team, opA, opB, rows, cols, depth, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, cols);
            } else {
                Gemm.sgemmStridedBatched(team, batch, opA, opB, rows, cols, depth, 1f, a, 0, lda, strideA,
                        b, 0, ldb, strideB, 0f, c, 0, cols, strideC);
            }
            return c;
        }

        final MemorySegment lanesSegment() {
            Gemm.sgemm(team, opA, opB, rows, cols, depth, 1f, aSeg, 0, lda, bSeg, 0, ldb, 0f, cSeg, 0, cols);
            return cSeg;
        }

        final float[] scalar() {
            GemmScalar.sgemm(opA, opB, rows, cols, depth, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, cols);
            return c;
        }

        final Object openblas() {
            for (int e = 0; e < batch; e++) {
                OpenBlasPeer.sgemm(opA == Transpose.T, opB == Transpose.T, rows, cols, depth, aParts[e], lda,
                        bParts[e], ldb, cParts[e], cols);
            }
            return cParts;
        }

        final Object pytorch() {
            try (PointerScope scope = new PointerScope()) {
                torch.matmul_out(tC, tOpA, tOpB);
            }
            return tC;
        }

        final Object openblasOffHeap() {
            return offHeap.sgemm(opA == Transpose.T, opB == Transpose.T, rows, cols, depth, lda, ldb, cols,
                    batch, strideA, strideB, strideC);
        }

        /**
         * BLAS is column-major: the row-major C (m, n) is the column-major C^T (n, m), and
         * C^T = op(B)^T op(A)^T, where the row-major stored B read column-major is already B^T. So B goes
         * first with its own transpose flag and ldb, then A with its flag and lda. A batch goes product by
         * product through the overload with offsets.
         */
        final float[] netlib() {
            for (int e = 0; e < batch; e++) {
                netlib.sgemm(opB.name(), opA.name(), cols, rows, depth, 1f, b, e * strideB, ldb, a, e * strideA, lda,
                        0f, c, e * strideC, cols);
            }
            return c;
        }

        final float[] ejml() {
            boolean ta = opA == Transpose.T, tb = opB == Transpose.T;
            if (threads == 1) {
                if (!ta && !tb) {
                    CommonOps_FDRM.mult(ea, eb, ec);
                } else if (ta && !tb) {
                    CommonOps_FDRM.multTransA(ea, eb, ec);
                } else if (!ta) {
                    CommonOps_FDRM.multTransB(ea, eb, ec);
                } else {
                    CommonOps_FDRM.multTransAB(ea, eb, ec);
                }
            } else {
                if (!ta && !tb) {
                    CommonOps_MT_FDRM.mult(ea, eb, ec);
                } else if (ta && !tb) {
                    CommonOps_MT_FDRM.multTransA(ea, eb, ec);
                } else if (!ta) {
                    CommonOps_MT_FDRM.multTransB(ea, eb, ec);
                } else {
                    CommonOps_MT_FDRM.multTransAB(ea, eb, ec);
                }
            }
            return ec.data;
        }
    }
}
