package dev.lanes.bench;

import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import java.util.SplittableRandom;
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

/**
 * Training a stack of pre-norm MQA residual blocks ({@link Gpt}): the residual-stack issue's shape,
 * L=4, C=512, Hq=8, Hkv=1, D=64, F=4C, B=4, T=256, causal, vocabulary 256. Score: milliseconds per call.
 *
 * <ul>
 *   <li>{@code pass=fwdbwd}: forward with the loss, zero the gradients, backward.
 *   <li>{@code pass=step}: the same plus global-norm clipping and an AdamW step: one whole training step.
 * </ul>
 *
 * PyTorch's rows (bench/pytorch_bench.py) run the same architecture as eager modules with the same
 * parameters.
 *
 * GFLOP/s counts 6 flops per parameter per token for the GEMMs (2 forward, 4 backward) plus the
 * attention's {@link AttentionBench#flops} forward and backward, causal. {@code @Setup} checks that a
 * step on the measured team gives the same bits as on one thread.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {Backend.FLAG, "-Xss4m"})
public class StackTrainBench {

    @State(Scope.Thread)
    public static class Model {
        @Param({"4"})
        public int L;
        @Param({"512"})
        public int C;
        @Param({"8"})
        public int Hq;
        @Param({"1"})
        public int Hkv;
        @Param({"4"})
        public int B;
        @Param({"256"})
        public int T;
        @Param({"256"})
        public int V;
        @Param({"fwdbwd", "step"})
        public String pass;
        @Param({"1"})
        public int threads;

        Gpt gpt;
        AdamWOptimizer opt;
        int[] x, y;
        Parallelism team;

        @Setup(Level.Trial)
        public void setup() {
            GptConfig cfg = GptConfig.of(V, T, L, C, Hq, Hkv);
            team = Parallelism.fixed(threads);
            x = new int[B * T];
            y = new int[B * T];
            SplittableRandom rnd = new SplittableRandom(BenchSupport.SEED);
            for (int i = 0; i < x.length; i++) {
                x[i] = rnd.nextInt(V);
                y[i] = rnd.nextInt(V);
            }
            gpt = newModel(cfg);
            opt = new AdamWOptimizer(gpt.layout(), 0.9f, 0.95f, 1e-8f, 0.1f);
            if (threads > 1) {
                // one step on one thread and on the team must give the same bits
                Gpt ref = newModel(cfg);
                AdamWOptimizer refOpt = new AdamWOptimizer(ref.layout(), 0.9f, 0.95f, 1e-8f, 0.1f);
                step(ref, refOpt, Parallelism.serial(), x, y);
                step(gpt, opt, team, x, y);
                if (!Arrays.equals(ref.params(), gpt.params())) {
                    throw new IllegalStateException("a training step on " + threads + " threads differs from one thread");
                }
            }
            double loss = gpt.forward(team, x, y);
            if (!(Math.abs(loss - Math.log(V)) < 0.5)) {
                throw new IllegalStateException("initial loss " + loss + " is far from ln(V) = " + Math.log(V));
            }
        }

        private Gpt newModel(GptConfig cfg) {
            Gpt g = new Gpt(cfg, B, T);
            g.init(BenchSupport.SEED);
            return g;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            team.close();
        }
    }

    /** 6 flops per parameter-touching multiply per token, plus causal attention forward and backward. */
    public static double flops(int l, int c, int hq, int hkv, int b, int t, int v) {
        int d = c / hq;
        double perToken = (double) l * (c * (hq + 2 * hkv) * d + hq * d * c + 2.0 * c * 4 * c) + (double) c * v;
        return 6 * perToken * b * t + l * AttentionBench.flops(b, hq, t, t, d, true, true);
    }

    static double step(Gpt gpt, AdamWOptimizer opt, Parallelism team, int[] x, int[] y) {
        double loss = gpt.forward(team, x, y);
        gpt.zeroGrads(team);
        gpt.backward(team);
        opt.clipGradNorm(team, gpt.grads(), 1f);
        opt.step(team, 1e-4f, gpt.params(), gpt.grads());
        return loss;
    }

    @Benchmark
    public double lanes(Model m) {
        if (m.pass.equals("step")) {
            return step(m.gpt, m.opt, m.team, m.x, m.y);
        }
        double loss = m.gpt.forward(m.team, m.x, m.y);
        m.gpt.zeroGrads(m.team);
        m.gpt.backward(m.team);
        return loss;
    }
}
