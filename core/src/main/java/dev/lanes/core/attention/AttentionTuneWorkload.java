package dev.lanes.core.attention;

import dev.lanes.kernels.Parallelism;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

/**
 * The attention workload of the autotuner ({@code dev.lanes.kernels.Autotune}, which finds it by name
 * when core is on its class path): one call of MQA attention, B=4, Hq=8, Hkv=1, T=S=512, D=64 (the
 * report's shape), on one thread, under the tuning in force. {@code applyAsDouble("fwd")} times a
 * forward, {@code "fwdbwd"} a forward and a backward; the result is GFLOP/s (4BHqTSD forward, 3.5 times
 * that forward and backward, as the benchmarks count).
 */
public final class AttentionTuneWorkload implements ToDoubleFunction<String> {
    private static final int B = 4, HQ = 8, HKV = 1, T = 512, D = 64;
    private final AttentionConfig cfg = AttentionConfig.builder(B, HQ, HKV, T, T, D).build();
    private final AttentionView q, k, v, o, lse, dO, dq, dk, dv;

    public AttentionTuneWorkload() {
        HeadLayout qs = HeadLayout.contiguous(HQ, T, D), ks = HeadLayout.contiguous(HKV, T, D);
        SplittableRandom rnd = new SplittableRandom(11);
        q = AttentionView.of(random(rnd, B * HQ * T * D), 0, qs);
        k = AttentionView.of(random(rnd, B * HKV * T * D), 0, ks);
        v = AttentionView.of(random(rnd, B * HKV * T * D), 0, ks);
        dO = AttentionView.of(random(rnd, B * HQ * T * D), 0, qs);
        o = AttentionView.of(new float[B * HQ * T * D], 0, qs);
        lse = AttentionView.flat(new float[B * HQ * T], 0);
        dq = AttentionView.of(new float[B * HQ * T * D], 0, qs);
        dk = AttentionView.of(new float[B * HKV * T * D], 0, ks);
        dv = AttentionView.of(new float[B * HKV * T * D], 0, ks);
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (rnd.nextDouble() - 0.5);
        }
        return x;
    }

    @Override
    public double applyAsDouble(String pass) {
        boolean backward = pass.equals("fwdbwd");
        if (!backward && !pass.equals("fwd")) {
            throw new IllegalArgumentException("pass=" + pass + ": fwd or fwdbwd");
        }
        Parallelism one = Parallelism.serial();
        long t0 = System.nanoTime();
        Attention.forward(one, cfg, q, k, v, null, o, lse);
        if (backward) {
            Attention.backward(one, cfg, dO, q, k, v, null, o, lse, dq, dk, dv);
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        double flops = 2.0 * cfg.forwardMacs() * (backward ? 3.5 : 1);
        return flops / sec / 1e9;
    }
}
