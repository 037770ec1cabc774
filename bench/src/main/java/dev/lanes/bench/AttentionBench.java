package dev.lanes.bench;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionScalar;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
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

/**
 * Batched multi-query attention, {@code [B, Hq, T, D]} queries against {@code [B, Hkv, S=T, D]} keys and
 * values. Score: milliseconds per call of the forward ({@code pass=fwd}) or forward + backward
 * ({@code pass=fwdbwd}); GFLOP/s = {@link #flops} / time.
 *
 * <ul>
 *   <li>{@code lanes}: {@link Attention}, tiled online softmax (FlashAttention-2), scores never stored.
 *   <li>{@code naive}: per (batch, head) Lanes GEMM {@code Q K^T} into a materialised {@code T x S}
 *       score matrix, Lanes {@link Softmax}, GEMM with V (the backward likewise through P).
 *   <li>{@code scalar}: {@link AttentionScalar}, the double-precision twin.
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
@Fork(value = 1, jvmArgsAppend = {Backend.FLAG, "-Xss4m"})
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
        // naive: one head's scores and probabilities [T, S], its dP, and per-head outputs
        float[] scores, probs, dprobs;
        // lanesSegment: the same tensors in native memory, as AttentionViews
        Arena arena;
        MemorySegment oSeg, lseSeg, dqSeg, dkSeg, dvSeg;
        AttentionView qv, kv, vv, ov, lv, dOv, dqv, dkv, dvv;

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
            scores = new float[T * T];
            probs = new float[T * T];
            dprobs = new float[T * T];
            String impl = BenchSupport.implementation(params);
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
                case "scalar" -> runScalar(this);
                default -> throw new IllegalArgumentException(impl);
            }
            return new float[][] {o.clone(), dq.clone(), dk.clone(), dv.clone()};
        }

        private void check(String impl) {
            boolean smallEnough = (double) B * Hq * T * T * D <= 1.1e9;
            String refImpl = smallEnough ? "scalar" : "lanes";
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

    private static void runLanes(Shape s) {
        Attention.forward(s.par, s.cfg, s.q, 0, s.qs, s.k, 0, s.ks, s.v, 0, s.ks, null, 0, s.o, 0, s.qs, s.lse, 0);
        if (s.backward()) {
            Attention.backward(s.par, s.cfg, s.dO, 0, s.qs, s.q, 0, s.qs, s.k, 0, s.ks, s.v, 0, s.ks, null, 0,
                    s.o, 0, s.qs, s.lse, 0, s.dq, 0, s.qs, s.dk, 0, s.ks, s.dv, 0, s.ks);
        }
    }

    private static void runLanesSegment(Shape s) {
        Attention.forward(s.par, s.cfg, s.qv, s.kv, s.vv, null, s.ov, s.lv);
        if (s.backward()) {
            Attention.backward(s.par, s.cfg, s.dOv, s.qv, s.kv, s.vv, null, s.ov, s.lv, s.dqv, s.dkv, s.dvv);
        }
    }

    private static void runScalar(Shape s) {
        AttentionScalar.forward(s.cfg, s.q, 0, s.qs, s.k, 0, s.ks, s.v, 0, s.ks, null, 0, s.o, 0, s.qs, s.lse, 0);
        if (s.backward()) {
            AttentionScalar.backward(s.cfg, s.dO, 0, s.qs, s.q, 0, s.qs, s.k, 0, s.ks, s.v, 0, s.ks, null, 0,
                    s.o, 0, s.qs, s.lse, 0, s.dq, 0, s.qs, s.dk, 0, s.ks, s.dv, 0, s.ks);
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
