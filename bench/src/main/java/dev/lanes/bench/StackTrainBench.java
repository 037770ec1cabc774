package dev.lanes.bench;

import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.kernels.Backend;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
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
 * Training a stack of pre-norm MQA residual blocks ({@link Gpt}): the residual-stack issue's shape,
 * L=4, C=512, Hq=8, Hkv=1, D=64, F=4C, B=4, T=256, causal, vocabulary 256. Score: milliseconds per call.
 *
 * <ul>
 *   <li>{@code pass=fwdbwd}: forward with the loss, zero the gradients, backward.
 *   <li>{@code pass=step}: the same plus global-norm clipping and an AdamW step: one whole training step.
 * </ul>
 *
 * {@code pytorch}: PyTorch 2.x in this JVM ({@link TorchGpt}), the same architecture written with libtorch's
 * functional API, Lanes' initial parameters copied in, {@code scaled_dot_product_attention} with
 * {@code is_causal} and {@code enable_gqa}; {@code zero_grad()}, forward, backward, and for {@code step}
 * {@code clip_grad_norm_} and {@code torch::optim::AdamW} with the same hyper-parameters. {@code @Setup}
 * checks its losses against Lanes' on the same batch over two whole steps and the embedding after them.
 * bench/pytorch_bench.py runs the same architecture as eager Python modules (Debian's PyTorch 1.13).
 *
 * GFLOP/s counts 6 flops per parameter per token for the GEMMs (2 forward, 4 backward) plus the
 * attention's {@link AttentionBench#flops} forward and backward, causal. {@code @Setup} checks that a
 * step on the measured team gives the same bits as on one thread.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {Backend.FLAG, "-Xss4m", "--enable-native-access=ALL-UNNAMED"})
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
        TorchGpt torchGpt;

        @Setup(Level.Trial)
        public void setup(BenchmarkParams params) {
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
            opt = new AdamWOptimizer(gpt.layout(), BETA1, BETA2, EPS, WEIGHT_DECAY);
            if (threads > 1) {
                // one step on one thread and on the team must give the same bits
                Gpt ref = newModel(cfg);
                AdamWOptimizer refOpt = new AdamWOptimizer(ref.layout(), BETA1, BETA2, EPS, WEIGHT_DECAY);
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
            if (BenchSupport.implementation(params).equals("pytorch")) {
                TorchPeer.setThreadsNested(threads);
                checkTorch(cfg);
                torchGpt = newTorch(gpt);
            }
        }

        private TorchGpt newTorch(Gpt from) {
            return new TorchGpt(from, x, y, LR, BETA1, BETA2, EPS, WEIGHT_DECAY, false);
        }

        /**
         * Two whole steps of each on the same batch from the same parameters: the three losses (before,
         * after one, after two) and the token embedding after them must agree, which a different model,
         * loss, clipping or optimizer (decay groups, betas) would not.
         */
        private void checkTorch(GptConfig cfg) {
            Gpt ref = newModel(cfg);
            AdamWOptimizer refOpt = new AdamWOptimizer(ref.layout(), BETA1, BETA2, EPS, WEIGHT_DECAY);
            try (TorchGpt t = newTorch(ref); PointerScope scope = new PointerScope()) {
                for (int s = 0; s < 3; s++) {
                    double want = s < 2 ? step(ref, refOpt, team, x, y) : ref.forward(team, x, y);
                    double got = s < 2 ? t.step(1.0) : t.forwardBackward();
                    if (!(Math.abs(got - want) <= 1e-4 * Math.abs(want))) {
                        throw new IllegalStateException("pytorch loss " + got + " != lanes " + want + " after " + s + " step(s)");
                    }
                    if (Boolean.getBoolean("lanes.bench.verbose")) {
                        System.out.printf("training loss after %d step(s): lanes %.7f, pytorch %.7f%n", s, want, got);
                    }
                }
                float[] want = java.util.Arrays.copyOfRange(ref.params(), ref.layout().get("wte").offset(),
                        ref.layout().get("wte").offset() + ref.layout().get("wte").size());
                float[] got = t.param("wte");
                // two steps of at most lr each per element, from the same start
                BenchSupport.checkAgreement("training pytorch vs lanes, wte after two steps", want, got, i -> 0.05 * 2 * LR);
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
            if (torchGpt != null) {
                torchGpt.close();
            }
        }
    }

    /** 6 flops per parameter-touching multiply per token, plus causal attention forward and backward. */
    public static double flops(int l, int c, int hq, int hkv, int b, int t, int v) {
        int d = c / hq;
        double perToken = (double) l * (c * (hq + 2 * hkv) * d + hq * d * c + 2.0 * c * 4 * c) + (double) c * v;
        return 6 * perToken * b * t + l * AttentionBench.flops(b, hq, t, t, d, true, true);
    }

    static final float LR = 1e-4f, BETA1 = 0.9f, BETA2 = 0.95f, EPS = 1e-8f, WEIGHT_DECAY = 0.1f;

    static double step(Gpt gpt, AdamWOptimizer opt, Parallelism team, int[] x, int[] y) {
        double loss = gpt.forward(team, x, y);
        gpt.zeroGrads(team);
        gpt.backward(team);
        opt.clipGradNorm(team, gpt.grads(), 1f);
        opt.step(team, LR, gpt.params(), gpt.grads());
        return loss;
    }

    /** libtorch's step or forward + backward; every tensor of the call is released when it returns. */
    @Benchmark
    public double pytorch(Model m) {
        try (PointerScope scope = new PointerScope()) {
            return m.pass.equals("step") ? m.torchGpt.step(1.0) : m.torchGpt.forwardBackward();
        }
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
