package dev.lanes.bench;

import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Overlap;
import dev.lanes.kernels.ResidualAdd;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What validation costs per call: the overlap rule ({@link Overlap}) on the largest view set of any
 * entry point (attention backward: 7 inputs, 3 outputs, all in one array so that every pair is
 * compared) and on a small one, beside a whole tiny kernel call that includes all its checks. The
 * check is per call, never per element, so these are the upper bound of what it adds to any call.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {Backend.FLAG})
public class ValidationBench {
    /** B=4, Hq=8, Hkv=1, T=S=64, D=64 views laid out one after another in one array. */
    static final int B = 4, HQ = 8, HKV = 1, T = 64, D = 64;
    static final int Q = B * HQ * T * D, KV = B * HKV * T * D, LSE = B * HQ * T;

    private float[] one, x, f, bias, y;
    private int[] offs;

    @Setup(Level.Trial)
    public void setup() {
        offs = new int[11];
        int[] sizes = {Q, Q, KV, KV, Q, LSE, Q, KV, KV};
        for (int i = 0, at = 0; i < sizes.length; i++) {
            offs[i] = at;
            at += sizes[i];
            offs[i + 1] = at;
        }
        one = new float[offs[9]];
        x = new float[16];
        f = new float[16];
        bias = new float[16];
        y = new float[16];
    }

    /** The attention backward's set: dO, q, k, v, o, lse in; dq, dk, dv out; 36 pairs on one array. */
    @Benchmark
    public void overlapTenViews() {
        int hs = T * D;
        Overlap.views().input("dO", one, offs[0], B, HQ * hs, HQ, hs, T, D, D)
                .input("q", one, offs[1], B, HQ * hs, HQ, hs, T, D, D)
                .input("k", one, offs[2], B, HKV * hs, HKV, hs, T, D, D)
                .input("v", one, offs[3], B, HKV * hs, HKV, hs, T, D, D)
                .input("o", one, offs[4], B, HQ * hs, HQ, hs, T, D, D)
                .input("lse", one, offs[5], LSE)
                .output("dq", one, offs[6], B, HQ * hs, HQ, hs, T, D, D)
                .output("dk", one, offs[7], B, HKV * hs, HKV, hs, T, D, D)
                .output("dv", one, offs[8], B, HKV * hs, HKV, hs, T, D, D).check();
    }

    /** A residual add's set, separate arrays (the usual case: one reference compare per pair). */
    @Benchmark
    public void overlapFourViews() {
        Overlap.views().input("x", x, 0, 1, 16, 16).input("f", f, 0, 1, 16, 16).input("bias", bias, 0, 16)
                .output("y", y, 0, 1, 16, 16).orSameAs("x").orSameAs("f").check();
    }

    /** A whole 1 x 16 residual add, every check included. */
    @Benchmark
    public float[] residualAddOneRow() {
        ResidualAdd.forward(1, 16, 0.5f, x, 0, 16, f, 0, 16, bias, 0, y, 0, 16);
        return y;
    }
}
