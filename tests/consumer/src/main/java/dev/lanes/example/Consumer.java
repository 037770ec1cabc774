package dev.lanes.example;

import dev.lanes.core.Lanes;
import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.CausalMask;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.Transpose;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Calls Lanes the way a downstream program does and checks every result against plain double loops
 * written here: a GEMM, a causal GQA attention forward and backward (the gradients against central
 * differences of the double forward), and training steps of a small GPT. Exits non-zero on any mismatch.
 * The first argument says which path the JVM was started with (module-path or class-path), and is
 * checked; the second, when given, is the Lanes version the build depends on.
 */
public final class Consumer {
    private static int failures;

    public static void main(String[] args) {
        String path = args.length > 0 ? args[0] : "";
        boolean named = Consumer.class.getModule().isNamed();
        check(path.equals("module-path") == named && Gemm.class.getModule().isNamed() == named,
                "on the " + path + ": this class in " + Consumer.class.getModule() + ", Lanes in "
                        + Gemm.class.getModule());
        check(Lanes.backend().startsWith("SIMD"), "Lanes runs its SIMD kernels: " + Lanes.backend());
        if (args.length > 1) { // the version the build depends on: the module's or the jar manifest's
            check(Lanes.version().equals(args[1]), "Lanes.version() = " + Lanes.version() + ", the dependency's "
                    + args[1]);
        }
        gemm();
        attention();
        training();
        System.out.println("lanes-consumer on the " + path + ": "
                + (failures == 0 ? "all checks passed" : failures + " check(s) FAILED")
                + " (Lanes " + Lanes.version() + ", " + Lanes.backend() + ")");
        if (failures != 0) {
            System.exit(1);
        }
    }

    /** C = 0.5 * A * B^T + 2 * C against a triple loop in double. */
    static void gemm() {
        int m = 37, n = 29, k = 41;
        SplittableRandom rnd = new SplittableRandom(1);
        float[] a = random(rnd, m * k), b = random(rnd, n * k), c = random(rnd, m * n), c0 = c.clone();
        Gemm.sgemm(Transpose.N, Transpose.T, m, n, k, 0.5f, a, 0, k, b, 0, k, 2f, c, 0, n);
        // The same product on off-heap operands: no extra JVM flag, the same bits as the arrays.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment as = arena.allocateFrom(ValueLayout.JAVA_FLOAT, a);
            MemorySegment bs = arena.allocateFrom(ValueLayout.JAVA_FLOAT, b);
            MemorySegment cs = arena.allocateFrom(ValueLayout.JAVA_FLOAT, c0);
            Gemm.sgemm(Transpose.N, Transpose.T, m, n, k, 0.5f, as, 0, k, bs, 0, k, 2f, cs, 0, n);
            check(java.util.Arrays.equals(cs.toArray(ValueLayout.JAVA_FLOAT), c),
                    "GEMM on MemorySegments gives the array overload's bits");
        }
        double worst = 0;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int p = 0; p < k; p++) {
                    dot += (double) a[i * k + p] * b[j * k + p];
                }
                worst = Math.max(worst, Math.abs(0.5 * dot + 2.0 * c0[i * n + j] - c[i * n + j]));
            }
        }
        check(worst < 1e-4, "GEMM 37x29x41 NT within 1e-4 of the double loop (worst " + worst + ")");
    }

    /** Causal GQA attention: forward against a double reference, backward against its central differences. */
    static void attention() {
        int B = 2, Hq = 4, Hkv = 2, T = 7, S = 9, D = 16;
        AttentionConfig cfg = AttentionConfig.builder(B, Hq, Hkv, T, S, D).causal(CausalMask.BOTTOM_RIGHT).build();
        HeadLayout qs = HeadLayout.contiguous(Hq, T, D), kvs = HeadLayout.contiguous(Hkv, S, D);
        SplittableRandom rnd = new SplittableRandom(2);
        float[] q = random(rnd, B * Hq * T * D), k = random(rnd, B * Hkv * S * D), v = random(rnd, B * Hkv * S * D);
        float[] dO = random(rnd, B * Hq * T * D);
        float[] o = new float[q.length], lse = new float[B * Hq * T];
        float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
        try (Parallelism team = Parallelism.fixed(2)) {
            AttentionView qv = AttentionView.of(q, 0, qs), ov = AttentionView.of(o, 0, qs);
            AttentionView kv = AttentionView.of(k, 0, kvs), vv = AttentionView.of(v, 0, kvs);
            AttentionView lv = AttentionView.flat(lse, 0);
            Attention.forward(team, cfg, qv, kv, vv, null, ov, lv);
            Attention.backward(team, cfg, AttentionView.of(dO, 0, qs), qv, kv, vv, null, ov, lv,
                    AttentionView.of(dq, 0, qs), AttentionView.of(dk, 0, kvs), AttentionView.of(dv, 0, kvs));
        }
        double[] ref = new double[o.length];
        forward(B, Hq, Hkv, T, S, D, toDouble(q), toDouble(k), toDouble(v), ref);
        double worst = 0;
        for (int i = 0; i < o.length; i++) {
            worst = Math.max(worst, Math.abs(ref[i] - o[i]));
        }
        check(worst < 1e-5, "attention forward within 1e-5 of the double reference (worst " + worst + ")");

        // Loss L = sum(O .* dO); each gradient element against (L(x + h) - L(x - h)) / 2h in double.
        double[] qd = toDouble(q), kd = toDouble(k), vd = toDouble(v), dOd = toDouble(dO);
        double[][] inputs = {qd, kd, vd};
        float[][] grads = {dq, dk, dv};
        String[] names = {"dq", "dk", "dv"};
        double h = 1e-4;
        for (int t = 0; t < 3; t++) {
            double[] x = inputs[t];
            double worstGrad = 0;
            for (int i = 0; i < x.length; i++) {
                double keep = x[i];
                x[i] = keep + h;
                double up = loss(B, Hq, Hkv, T, S, D, qd, kd, vd, dOd);
                x[i] = keep - h;
                double down = loss(B, Hq, Hkv, T, S, D, qd, kd, vd, dOd);
                x[i] = keep;
                worstGrad = Math.max(worstGrad, Math.abs((up - down) / (2 * h) - grads[t][i]));
            }
            check(worstGrad < 1e-4, "attention backward " + names[t] + " within 1e-4 of central differences (worst "
                    + worstGrad + ")");
        }
    }

    /** o[b,h,i,:] = softmax_j(q.k / sqrt(D), causal bottom-right) v, kv head h / (Hq / Hkv). */
    static void forward(int B, int Hq, int Hkv, int T, int S, int D, double[] q, double[] k, double[] v, double[] o) {
        int G = Hq / Hkv;
        double scale = 1 / Math.sqrt(D);
        double[] p = new double[S];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < Hq; h++) {
                int kv = (b * Hkv + h / G) * S * D;
                for (int i = 0; i < T; i++) {
                    int qi = ((b * Hq + h) * T + i) * D;
                    int visible = Math.min(S, i + (S - T) + 1);
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < visible; j++) {
                        double dot = 0;
                        for (int d = 0; d < D; d++) {
                            dot += q[qi + d] * k[kv + j * D + d];
                        }
                        p[j] = dot * scale;
                        max = Math.max(max, p[j]);
                    }
                    for (int j = 0; j < visible; j++) {
                        p[j] = Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    for (int d = 0; d < D; d++) {
                        double acc = 0;
                        for (int j = 0; j < visible; j++) {
                            acc += p[j] * v[kv + j * D + d];
                        }
                        o[qi + d] = acc / sum;
                    }
                }
            }
        }
    }

    static double loss(int B, int Hq, int Hkv, int T, int S, int D, double[] q, double[] k, double[] v, double[] dO) {
        double[] o = new double[dO.length];
        forward(B, Hq, Hkv, T, S, D, q, k, v, o);
        double l = 0;
        for (int i = 0; i < o.length; i++) {
            l += o[i] * dO[i];
        }
        return l;
    }

    /** A 2-block MQA GPT learns to count modulo 16: the first loss is near ln 16, and training cuts it. */
    static void training() {
        GptConfig cfg = GptConfig.of(16, 32, 2, 64, 4, 1);
        Gpt gpt = new Gpt(cfg, 4, 32);
        gpt.init(42);
        AdamWOptimizer opt = new AdamWOptimizer(gpt.layout(), 0.9f, 0.95f, 1e-8f, 0.1f);
        int[] tokens = new int[4 * 32], targets = new int[4 * 32];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = i % 16;
            targets[i] = (i + 1) % 16;
        }
        double first = Double.NaN, last = Double.NaN;
        try (Parallelism team = Parallelism.fixed(2)) {
            for (int step = 0; step < 40; step++) {
                last = gpt.forward(team, tokens, targets);
                first = step == 0 ? last : first;
                gpt.zeroGrads();
                gpt.backward(team);
                opt.clipGradNorm(gpt.grads(), 1f);
                opt.step(team, 3e-3f, gpt.params(), gpt.grads());
            }
        }
        check(Math.abs(first - Math.log(16)) < 0.5, "first training loss " + first + " near ln 16 = " + Math.log(16));
        check(last < 0.25 * first, "40 training steps cut the loss from " + first + " to " + last);
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextDouble(-1, 1);
        }
        return x;
    }

    static double[] toDouble(float[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i];
        }
        return y;
    }

    static void check(boolean ok, String what) {
        System.out.println((ok ? "ok      " : "FAILED  ") + what);
        if (!ok) {
            failures++;
        }
    }
}
