package dev.lanes.bench;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionScalar;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.core.attention.KeptScores;
import dev.lanes.core.attention.KVCache;
import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
import org.openjdk.jmh.infra.Blackhole;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * Batched multi-query attention, {@code [B, Hq, T, D]} queries against {@code [B, Hkv, S=T, D]} keys and
 * values. Score: milliseconds per call of the forward ({@code pass=fwd}) or forward + backward
 * ({@code pass=fwdbwd}); GFLOP/s = {@link #flops} / time.
 *
 * <ul>
 *   <li>{@code lanes}: {@link Attention}, tiled online softmax (FlashAttention-2), scores never stored.
 *   <li>{@code lanesKept}: the same forward keeping its scores ({@link KeptScores}) and the backward
 *       over them, four products per tile instead of five.
 *   <li>{@code naive}: per (batch, head) Lanes GEMM {@code Q K^T} into a materialised {@code T x S}
 *       score matrix, Lanes {@link Softmax}, GEMM with V (the backward likewise through P).
 *   <li>{@code scalar}: {@link AttentionScalar}, the double-precision twin.
 *   <li>{@code pytorch}: PyTorch 2.x in this JVM ({@link TorchPeer}), {@code scaled_dot_product_attention}
 *       on the [B, Hkv, S, D] keys and values with {@code enable_gqa=true}, {@code is_causal} for
 *       {@code TOP_LEFT} (PyTorch's alignment); forward under {@code NoGradGuard}, forward + backward
 *       through autograd from the same upstream gradient, the gradients set to none before each call
 *       (what {@code zero_grad()} does), libtorch at {@code threads} and its OpenBLAS at one thread (it is
 *       only called inside libtorch's parallel regions). {@code pytorchExpandedKv}: the same with K and V expanded to Hq
 *       heads by views inside the call, the other way a user would write it; on libtorch 2.10 both take
 *       its CPU flash kernel and ran equally fast, so the report runs it in --full only.
 *   <li>{@code decode}: one new token against a {@code cache}-token {@link KVCache}; GB/s counts the
 *       cache's K and V read once.
 * </ul>
 *
 * {@code @Setup} checks that the measured implementation agrees with the scalar twin (or with Lanes
 * when the twin would take too long) before anything is timed.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {Backend.FLAG, "-Xss4m", "--enable-native-access=ALL-UNNAMED"})
public class AttentionBench {

    /** Floating-point operations of one call: 4*B*Hq*T*S*D forward (two products), 2.5x that backward. */
    public static double flops(int b, int hq, int t, int s, int d, boolean causal, boolean backward) {
        double fwd = 4.0 * b * hq * t * s * d * (causal ? 0.5 : 1.0);
        return backward ? fwd * 3.5 : fwd;
    }

    @State(Scope.Thread)
    public static class Shape {
        @Param({"4"})
        public int B;
        @Param({"8"})
        public int Hq;
        @Param({"1"})
        public int Hkv;
        @Param({"512"})
        public int T;
        @Param({"64"})
        public int D;
        @Param({"NONE", "TOP_LEFT"})
        public String causal;
        @Param({"fwd", "fwdbwd"})
        public String pass;
        @Param({"1"})
        public int threads;

        Parallelism par;
        AttentionConfig cfg;
        HeadLayout qs, ks;
        float[] q, k, v, o, lse, dO, dq, dk, dv;
        // lanes and scalar: the arrays as AttentionViews, made once
        AttentionView qa, ka, va, oa, la, dOa, dqa, dka, dva;
        // naive: one head's scores and probabilities [T, S], its dP, and per-head outputs
        float[] scores, probs, dprobs;
        // lanesKept: the forward's kept scores
        KeptScores kept;
        // lanesSegment: the same tensors in native memory, as AttentionViews
        Arena arena;
        MemorySegment oSeg, lseSeg, dqSeg, dkSeg, dvSeg;
        AttentionView qv, kv, vv, ov, lv, dOv, dqv, dkv, dvv;
        // pytorch: the same q, k, v and upstream gradient as tensors [B, H, T, D]
        Tensor tq, tk, tv, tdO;

        @Setup(Level.Trial)
        public void setup(BenchmarkParams params) {
            par = Parallelism.fixed(threads);
            cfg = AttentionConfig.builder(B, Hq, Hkv, T, T, D).causal(CausalMask.valueOf(causal)).build();
            Random rnd = new Random(BenchSupport.SEED);
            q = BenchSupport.uniform(rnd, B * Hq * T * D);
            k = BenchSupport.uniform(rnd, B * Hkv * T * D);
            v = BenchSupport.uniform(rnd, B * Hkv * T * D);
            dO = BenchSupport.uniform(rnd, q.length);
            o = new float[q.length];
            lse = new float[B * Hq * T];
            dq = new float[q.length];
            dk = new float[k.length];
            dv = new float[v.length];
            qs = HeadLayout.contiguous(Hq, T, D);
            ks = HeadLayout.contiguous(Hkv, T, D);
            qa = AttentionView.of(q, 0, qs);
            ka = AttentionView.of(k, 0, ks);
            va = AttentionView.of(v, 0, ks);
            oa = AttentionView.of(o, 0, qs);
            la = AttentionView.flat(lse, 0);
            dOa = AttentionView.of(dO, 0, qs);
            dqa = AttentionView.of(dq, 0, qs);
            dka = AttentionView.of(dk, 0, ks);
            dva = AttentionView.of(dv, 0, ks);
            scores = new float[T * T];
            probs = new float[T * T];
            dprobs = new float[T * T];
            String impl = BenchSupport.implementation(params);
            if (impl.equals("lanesKept")) {
                kept = new KeptScores(cfg);
            }
            if (impl.equals("lanesSegment")) {
                arena = Arena.ofShared();
                qv = AttentionView.of(BenchSupport.offHeap(arena, q), 0, qs);
                kv = AttentionView.of(BenchSupport.offHeap(arena, k), 0, ks);
                vv = AttentionView.of(BenchSupport.offHeap(arena, v), 0, ks);
                dOv = AttentionView.of(BenchSupport.offHeap(arena, dO), 0, qs);
                ov = AttentionView.of(oSeg = BenchSupport.offHeap(arena, o), 0, qs);
                lv = AttentionView.flat(lseSeg = BenchSupport.offHeap(arena, lse), 0);
                dqv = AttentionView.of(dqSeg = BenchSupport.offHeap(arena, dq), 0, qs);
                dkv = AttentionView.of(dkSeg = BenchSupport.offHeap(arena, dk), 0, ks);
                dvv = AttentionView.of(dvSeg = BenchSupport.offHeap(arena, dv), 0, ks);
                float[][] arrays = runOnce("lanes"), segments = runOnce("lanesSegment");
                for (int i = 0; i < arrays.length; i++) {
                    BenchSupport.checkSameBits("attention lanesSegment (" + cfg + ") output " + i, arrays[i],
                            BenchSupport.offHeap(arena, segments[i]));
                }
            }
            check(impl);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            par.close();
            if (arena != null) {
                arena.close();
            }
        }

        boolean backward() {
            return pass.equals("fwdbwd");
        }

        /** Runs impl once from zeroed gradients; returns {o, dq, dk, dv} copies. */
        float[][] runOnce(String impl) {
            Arrays.fill(dq, 0f);
            Arrays.fill(dk, 0f);
            Arrays.fill(dv, 0f);
            switch (impl) {
                case "lanes" -> runLanes(this);
                case "lanesSegment" -> {
                    dqSeg.fill((byte) 0);
                    dkSeg.fill((byte) 0);
                    dvSeg.fill((byte) 0);
                    runLanesSegment(this);
                    MemorySegment.copy(oSeg, ValueLayout.JAVA_FLOAT, 0, o, 0, o.length);
                    MemorySegment.copy(dqSeg, ValueLayout.JAVA_FLOAT, 0, dq, 0, dq.length);
                    MemorySegment.copy(dkSeg, ValueLayout.JAVA_FLOAT, 0, dk, 0, dk.length);
                    MemorySegment.copy(dvSeg, ValueLayout.JAVA_FLOAT, 0, dv, 0, dv.length);
                }
                case "naive" -> runNaive(this);
                case "lanesKept" -> runLanesKept(this);
                case "scalar" -> runScalar(this);
                case "pytorch", "pytorchExpandedKv" -> {
                    try (PointerScope scope = new PointerScope()) {
                        Tensor out = runTorch(this, impl.equals("pytorchExpandedKv"));
                        return backward()
                                ? new float[][] {TorchPeer.toArray(out), TorchPeer.toArray(tq.grad()),
                                        TorchPeer.toArray(tk.grad()), TorchPeer.toArray(tv.grad())}
                                : new float[][] {TorchPeer.toArray(out)};
                    }
                }
                default -> throw new IllegalArgumentException(impl);
            }
            return new float[][] {o.clone(), dq.clone(), dk.clone(), dv.clone()};
        }

        /** The inputs as tensors, requiring gradients for the backward; libtorch's and OpenBLAS' threads. */
        private void prepareTorch() {
            if (cfg.causal() == CausalMask.BOTTOM_RIGHT) {
                throw new IllegalArgumentException("pytorch: is_causal is top-left aligned; causal=BOTTOM_RIGHT has no peer row");
            }
            // SDPA's flash kernel calls BLAS only from inside its own OpenMP region, where a pthreads OpenBLAS
            // with a pool of `threads` nests under libtorch's: at 2 threads a forward+backward then burned
            // 3.5-6 s of CPU per call against 0.11 s with OpenBLAS at one thread. One is PyTorch at its best.
            TorchPeer.setThreads(threads);
            OpenBlasPeer.setThreadsEverywhere(1);
            tq = TorchPeer.tensor(q, B, Hq, T, D).requires_grad_(backward());
            tk = TorchPeer.tensor(k, B, Hkv, T, D).requires_grad_(backward());
            tv = TorchPeer.tensor(v, B, Hkv, T, D).requires_grad_(backward());
            tdO = TorchPeer.tensor(dO, B, Hq, T, D);
        }

        private void check(String impl) {
            if (impl.startsWith("pytorch")) {
                prepareTorch();
            }
            boolean smallEnough = (double) B * Hq * T * T * D <= 1.1e9;
            // PyTorch is checked against Lanes itself, which the tests check against the scalar twin
            String refImpl = impl.startsWith("pytorch") ? "lanes" : smallEnough ? "scalar" : "lanes";
            if (impl.equals(refImpl)) {
                return;
            }
            float[][] ref = runOnce(refImpl), got = runOnce(impl);
            String[] names = {"o", "dq", "dk", "dv"};
            for (int i = 0; i < (backward() ? 4 : 1); i++) {
                float[] e = ref[i];
                // float dot products of length D and sums over up to S keys of unit-sized terms
                double abs = 50 * BenchSupport.gamma(Math.max(D, T)) * (i == 0 ? 1 : Math.sqrt(T) * Hq / Hkv);
                BenchSupport.checkAgreement("attention " + impl + " vs " + refImpl + " " + names[i] + " (" + cfg + ")",
                        e, got[i], j -> abs + 1e-4 * Math.abs(e[j]));
            }
        }
    }

    @Benchmark
    public float[] lanes(Shape s) {
        runLanes(s);
        return s.backward() ? s.dq : s.o;
    }

    @Benchmark
    public float[] lanesKept(Shape s) {
        runLanesKept(s);
        return s.backward() ? s.dq : s.o;
    }

    /** Lanes on native segments through AttentionViews (staged into heap buffers, the same kernels). */
    @Benchmark
    public Object lanesSegment(Shape s) {
        runLanesSegment(s);
        return s.backward() ? s.dqSeg : s.oSeg;
    }

    @Benchmark
    public float[] naive(Shape s) {
        runNaive(s);
        return s.backward() ? s.dq : s.o;
    }

    @Benchmark
    public float[] scalar(Shape s) {
        runScalar(s);
        return s.backward() ? s.dq : s.o;
    }

    @Benchmark
    public void pytorch(Shape s, Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            bh.consume(runTorch(s, false));
        }
    }

    @Benchmark
    public void pytorchExpandedKv(Shape s, Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            bh.consume(runTorch(s, true));
        }
    }

    /**
     * One forward (no autograd graph) or forward + backward of libtorch's SDPA; returns the output, or
     * after a backward the output whose graph filled tq, tk and tv's grad. Tensors it makes belong to
     * the caller's PointerScope.
     */
    private static Tensor runTorch(Shape s, boolean expandKv) {
        Tensor k = s.tk, v = s.tv;
        if (expandKv && s.Hq != s.Hkv) {
            // [B, Hkv, S, D] -> [B, Hkv, G, S, D] (stride 0 over G) -> [B, Hq, S, D]: views when Hkv = 1
            int g = s.Hq / s.Hkv;
            k = k.unsqueeze(2).expand(s.B, s.Hkv, g, s.T, s.D).reshape(s.B, s.Hq, s.T, s.D);
            v = v.unsqueeze(2).expand(s.B, s.Hkv, g, s.T, s.D).reshape(s.B, s.Hq, s.T, s.D);
        }
        boolean causal = s.cfg.causal() != CausalMask.NONE, gqa = !expandKv && s.Hq != s.Hkv;
        if (!s.backward()) {
            try (NoGradGuard noGrad = new NoGradGuard()) {
                return torch.scaled_dot_product_attention(s.tq, k, v, new TensorOptional(), 0.0, causal,
                        new DoubleOptional(s.cfg.scale()), gqa);
            }
        }
        s.tq.mutable_grad().reset();
        s.tk.mutable_grad().reset();
        s.tv.mutable_grad().reset();
        Tensor out = torch.scaled_dot_product_attention(s.tq, k, v, new TensorOptional(), 0.0, causal,
                new DoubleOptional(s.cfg.scale()), gqa);
        out.backward(s.tdO, new BoolOptional(), false, new TensorArrayRefOptional());
        return out;
    }

    private static void runLanes(Shape s) {
        Attention.forward(s.par, s.cfg, s.qa, s.ka, s.va, null, s.oa, s.la);
        if (s.backward()) {
            Attention.backward(s.par, s.cfg, s.dOa, s.qa, s.ka, s.va, null, s.oa, s.la, s.dqa, s.dka, s.dva);
        }
    }

    private static void runLanesKept(Shape s) {
        s.kept.forward(s.par, s.qa, s.ka, s.va, null, s.oa, s.la);
        if (s.backward()) {
            s.kept.backward(s.par, s.dOa, s.qa, s.ka, s.va, null, s.oa, s.la, s.dqa, s.dka, s.dva);
        }
    }

    private static void runLanesSegment(Shape s) {
        Attention.forward(s.par, s.cfg, s.qv, s.kv, s.vv, null, s.ov, s.lv);
        if (s.backward()) {
            Attention.backward(s.par, s.cfg, s.dOv, s.qv, s.kv, s.vv, null, s.ov, s.lv, s.dqv, s.dkv, s.dvv);
        }
    }

    private static void runScalar(Shape s) {
        AttentionScalar.forward(s.cfg, s.qa, s.ka, s.va, null, s.oa, s.la);
        if (s.backward()) {
            AttentionScalar.backward(s.cfg, s.dOa, s.qa, s.ka, s.va, null, s.oa, s.la, s.dqa, s.dka, s.dva);
        }
    }


    /**
     * The eager composition, one (batch, head) at a time, scores materialised:
     * scores = Q K^T; P = softmax(scale * scores, causal); O = P V. Backward:
     * dV += P^T dO; dP = dO V^T; dScores = scale * P .* (dP - rowsum(dP .* P)); dQ += dScores K; dK += dScores^T Q.
     */
    private static void runNaive(Shape s) {
        int T = s.T, D = s.D, G = s.Hq / s.Hkv;
        float scale = s.cfg.scale();
        boolean causal = s.cfg.causal() != CausalMask.NONE;
        for (int b = 0; b < s.B; b++) {
            for (int h = 0; h < s.Hq; h++) {
                int qo = (b * s.Hq + h) * T * D, ko = (b * s.Hkv + h / G) * T * D;
                Gemm.sgemm(s.par, Transpose.N, Transpose.T, T, T, D, 1f, s.q, qo, D, s.k, ko, D, 0f, s.scores, 0, T);
                Softmax.forward(T, T, scale, causal, 0, null, 0, 0, s.scores, 0, T, s.probs, 0, T);
                Gemm.sgemm(s.par, Transpose.N, Transpose.N, T, D, T, 1f, s.probs, 0, T, s.v, ko, D, 0f, s.o, qo, D);
                if (s.backward()) {
                    Gemm.sgemm(s.par, Transpose.T, Transpose.N, T, D, T, 1f, s.probs, 0, T, s.dO, qo, D, 1f, s.dv, ko, D);
                    Gemm.sgemm(s.par, Transpose.N, Transpose.T, T, T, D, 1f, s.dO, qo, D, s.v, ko, D, 0f, s.dprobs, 0, T);
                    Arrays.fill(s.scores, 0f);
                    Softmax.backward(T, T, scale, s.dprobs, 0, T, s.probs, 0, T, s.scores, 0, T);
                    Gemm.sgemm(s.par, Transpose.N, Transpose.N, T, D, T, 1f, s.scores, 0, T, s.k, ko, D, 1f, s.dq, qo, D);
                    Gemm.sgemm(s.par, Transpose.T, Transpose.N, T, D, T, 1f, s.scores, 0, T, s.q, qo, D, 1f, s.dk, ko, D);
                }
            }
        }
    }

    /**
     * One new token of B=1 against a cache of {@code cache} positions: Hq=32, Hkv=4, D=128, on a team of
     * {@code threads} (the kv heads are shared out; one kv head runs on one thread).
     */
    @State(Scope.Thread)
    public static class Decode {
        @Param({"4096"})
        public int cache;
        @Param({"32"})
        public int Hq;
        @Param({"4"})
        public int Hkv;
        @Param({"128"})
        public int D;
        @Param({"1"})
        public int threads;

        KVCache kv;
        float[] q, o, kNew, vNew;
        HeadLayout qs, kvs;
        Parallelism par;
        float scale;

        /** Bytes a decoding step must read: the cache's K and V, float32. */
        public static double bytesMoved(int cache, int hkv, int d) {
            return 2.0 * cache * hkv * d * Float.BYTES;
        }

        @Setup(Level.Trial)
        public void setup() {
            Random rnd = new Random(BenchSupport.SEED);
            kv = new KVCache(1, Hkv, D, cache);
            HeadLayout fill = HeadLayout.contiguous(Hkv, cache - 1, D);
            kv.append(cache - 1, BenchSupport.uniform(rnd, Hkv * (cache - 1) * D), 0, fill,
                    BenchSupport.uniform(rnd, Hkv * (cache - 1) * D), 0, fill);
            kNew = BenchSupport.uniform(rnd, Hkv * D);
            vNew = BenchSupport.uniform(rnd, Hkv * D);
            kvs = HeadLayout.contiguous(Hkv, 1, D);
            kv.append(1, kNew, 0, kvs, vNew, 0, kvs);
            q = BenchSupport.uniform(rnd, Hq * D);
            o = new float[Hq * D];
            qs = HeadLayout.contiguous(Hq, 1, D);
            par = Parallelism.fixed(threads);
            scale = (float) (1.0 / Math.sqrt(D));
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            par.close();
        }
    }

    /** Attends one token to the full cache (the append of that token is not timed: a copy of 2*Hkv*D floats). */
    @Benchmark
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public float[] decode(Decode d) {
        d.kv.attend(d.par, d.Hq, 1, d.scale, d.q, 0, d.qs, d.o, 0, d.qs, null, 0);
        return d.o;
    }
}
