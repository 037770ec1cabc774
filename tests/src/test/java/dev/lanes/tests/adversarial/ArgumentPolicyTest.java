package dev.lanes.tests.adversarial;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.lanes.core.attention.Attention;
import dev.lanes.core.attention.AttentionConfig;
import dev.lanes.core.attention.AttentionView;
import dev.lanes.core.attention.HeadLayout;
import dev.lanes.core.attention.KVCache;
import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptCheckpoint;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.GptSampler;
import dev.lanes.core.nn.LrSchedule;
import dev.lanes.core.nn.NormKind;
import dev.lanes.core.nn.ParamLayout;
import dev.lanes.kernels.Gemm;
import dev.lanes.kernels.Norms;
import dev.lanes.kernels.Optimizers;
import dev.lanes.kernels.Parallelism;
import dev.lanes.kernels.ResidualAdd;
import dev.lanes.kernels.Softmax;
import dev.lanes.kernels.Transpose;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoublePredicate;
import java.util.function.IntPredicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The error policy, by class. Every float argument of the table at NaN, +-Inf, 0, -0, negative, the
 * smallest subnormal and MAX_VALUE; every int argument at MIN_VALUE, -1, 0, 1 and MAX_VALUE. A value
 * the argument's rule admits must run; any other must throw IllegalArgumentException naming the
 * argument and the value, with every array unchanged. Never another exception type (no overflow
 * surfacing as ArrayIndexOutOfBounds, NegativeArraySize or OutOfMemory).
 */
class ArgumentPolicyTest {
    static final float[] FLOATS = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, -1f,
            Float.MIN_VALUE, Float.MAX_VALUE, 0.5f};
    static final int[] INTS = {Integer.MIN_VALUE, -1, 0, 1, Integer.MAX_VALUE};

    interface FloatCall {
        void run(float value, float[][] arrays);
    }

    interface IntCall {
        void run(int value, float[][] arrays);
    }

    static final DoublePredicate POSITIVE = v -> v > 0 && Double.isFinite(v);
    static final DoublePredicate NON_NEGATIVE = v -> v >= 0 && Double.isFinite(v);
    static final DoublePredicate UNIT = v -> v >= 0 && v < 1;

    record FloatArg(String entry, String arg, DoublePredicate valid, int[] lengths, FloatCall call) {}

    record IntArg(String entry, String arg, IntPredicate valid, int[] lengths, IntCall call) {}

    static final int R = 3, C = 5, K = 4;
    static final GptConfig CFG = new GptConfig(11, 8, 1, 16, 4, 2, 4, 24, NormKind.LAYER, 1e-5f);

    static List<FloatArg> floatArgs() {
        Parallelism p = Parallelism.serial();
        List<FloatArg> l = new ArrayList<>();
        int[] rc = {R * C, R * C, R * C};
        l.add(new FloatArg("Softmax.forward", "scale", POSITIVE, rc,
                (s, a) -> Softmax.forward(R, C, s, a[0], 0, C, a[1], 0, C)));
        l.add(new FloatArg("Softmax.backward", "scale", POSITIVE, rc,
                (s, a) -> Softmax.backward(R, C, s, a[0], 0, C, a[1], 0, C, a[2], 0, C)));
        int[] ln = {R * C, C, C, R * C, R, R};
        l.add(new FloatArg("Norms.layerNormForward", "eps", POSITIVE, ln,
                (e, a) -> Norms.layerNormForward(p, R, C, e, a[0], 0, C, a[1], 0, a[2], 0, a[3], 0, C, a[4], 0, a[5], 0)));
        l.add(new FloatArg("Norms.rmsNormForward", "eps", POSITIVE, ln,
                (e, a) -> Norms.rmsNormForward(p, R, C, e, a[0], 0, C, a[1], 0, a[3], 0, C, a[5], 0)));
        int[] opt = {8, 8, 8, 8};
        l.add(new FloatArg("Optimizers.adamW", "lr", NON_NEGATIVE, opt,
                (v, a) -> Optimizers.adamW(p, 8, v, 0.9f, 0.95f, 1e-8f, 0.1f, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)));
        l.add(new FloatArg("Optimizers.adamW", "beta1", UNIT, opt,
                (v, a) -> Optimizers.adamW(p, 8, 1e-3f, v, 0.95f, 1e-8f, 0.1f, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)));
        l.add(new FloatArg("Optimizers.adamW", "beta2", UNIT, opt,
                (v, a) -> Optimizers.adamW(p, 8, 1e-3f, 0.9f, v, 1e-8f, 0.1f, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)));
        l.add(new FloatArg("Optimizers.adamW", "eps", POSITIVE, opt,
                (v, a) -> Optimizers.adamW(p, 8, 1e-3f, 0.9f, 0.95f, v, 0.1f, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)));
        l.add(new FloatArg("Optimizers.adamW", "weightDecay", NON_NEGATIVE, opt,
                (v, a) -> Optimizers.adamW(p, 8, 1e-3f, 0.9f, 0.95f, 1e-8f, v, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)));
        l.add(new FloatArg("AttentionConfig.Builder.scale", "scale", POSITIVE, new int[0],
                (v, a) -> AttentionConfig.builder(1, 2, 1, 3, 3, 4).scale(v).build()));
        l.add(new FloatArg("KVCache.attend", "scale", POSITIVE, new int[] {24, 24, 6},
                (v, a) -> {
                    KVCache cache = new KVCache(1, 1, 4, 8);
                    cache.append(3, new float[12], 0, HeadLayout.contiguous(1, 3, 4), new float[12], 0,
                            HeadLayout.contiguous(1, 3, 4));
                    cache.attend(p, 2, 3, v, a[0], 0, HeadLayout.contiguous(2, 3, 4), a[1], 0,
                            HeadLayout.contiguous(2, 3, 4), a[2], 0);
                }));
        l.add(new FloatArg("GptSampler.sample", "temperature", NON_NEGATIVE, new int[0],
                (v, a) -> {
                    GptSampler s = new GptSampler(CFG, new float[ParamLayout.of(CFG).size()], 8, 4);
                    s.feed(p, new int[] {1, 2}, 0, 2);
                    s.sample(v, 0, new SplittableRandom(1));
                }));
        int size = ParamLayout.of(CFG).size();
        l.add(new FloatArg("AdamWOptimizer.step", "lr", NON_NEGATIVE, new int[] {size, size},
                (v, a) -> new AdamWOptimizer(ParamLayout.of(CFG), 0.9f, 0.95f, 1e-8f, 0.1f).step(v, a[0], a[1])));
        l.add(new FloatArg("AdamWOptimizer.clipGradNorm", "maxNorm", POSITIVE, new int[] {size},
                (v, a) -> new AdamWOptimizer(ParamLayout.of(CFG), 0.9f, 0.95f, 1e-8f, 0.1f).clipGradNorm(a[0], v)));
        l.add(new FloatArg("AdamWOptimizer.new", "beta1", UNIT, new int[0],
                (v, a) -> new AdamWOptimizer(ParamLayout.of(CFG), v, 0.95f, 1e-8f, 0.1f)));
        l.add(new FloatArg("AdamWOptimizer.new", "eps", POSITIVE, new int[0],
                (v, a) -> new AdamWOptimizer(ParamLayout.of(CFG), 0.9f, 0.95f, v, 0.1f)));
        l.add(new FloatArg("AdamWOptimizer.new", "weightDecay", NON_NEGATIVE, new int[0],
                (v, a) -> new AdamWOptimizer(ParamLayout.of(CFG), 0.9f, 0.95f, 1e-8f, v)));
        l.add(new FloatArg("GptConfig.new", "normEps", POSITIVE, new int[0],
                (v, a) -> new GptConfig(11, 8, 1, 16, 4, 2, 4, 24, NormKind.LAYER, v)));
        l.add(new FloatArg("LrSchedule.constant", "maxLr", NON_NEGATIVE, new int[0], (v, a) -> LrSchedule.constant(v)));
        return l;
    }

    static List<IntArg> intArgs() {
        Parallelism p = Parallelism.serial();
        List<IntArg> l = new ArrayList<>();
        IntPredicate nonNeg = v -> v >= 0 && v <= 1; // within the arrays of the table: 0 or 1 more
        int[] g = {R * K + 1, K * C + 1, R * C + 1};
        String[] names = {"m", "n", "k", "aOff", "lda", "bOff", "ldb", "cOff", "ldc"};
        for (int which = 0; which < names.length; which++) {
            int w = which;
            IntPredicate valid = switch (names[w]) {
                case "m", "n", "k" -> v -> v == 0 || v == 1;
                case "aOff", "bOff", "cOff" -> nonNeg;
                default -> v -> false; // lda, ldb, ldc: 0, 1 < width; MAX too long
            };
            l.add(new IntArg("Gemm.sgemm", names[w], valid, g, (v, a) -> {
                int[] x = {R, C, K, 0, K, 0, C, 0, C};
                x[w] = v;
                Gemm.sgemm(p, Transpose.N, Transpose.N, x[0], x[1], x[2], 1f, a[0], x[3], x[4], a[1], x[5], x[6], 0f,
                        a[2], x[7], x[8]);
            }));
        }
        int[] rc = {R * C + 1, R * C + 1};
        String[] sm = {"rows", "cols", "xOff", "ldx", "yOff", "ldy", "causalOffset"};
        for (int which = 0; which < sm.length; which++) {
            int w = which;
            IntPredicate valid = switch (sm[w]) {
                case "rows", "cols", "xOff", "yOff" -> nonNeg;
                case "causalOffset" -> v -> true;
                default -> v -> false;
            };
            l.add(new IntArg("Softmax.forward", sm[w], valid, rc, (v, a) -> {
                int[] x = {R, C, 0, C, 0, C, 0};
                x[w] = v;
                Softmax.forward(x[0], x[1], 1f, true, x[6], null, 0, 0, a[0], x[2], x[3], a[1], x[4], x[5]);
            }));
        }
        l.add(new IntArg("ResidualAdd.forward", "rows", v -> v >= 0 && v <= 1, new int[] {C, C, C},
                (v, a) -> ResidualAdd.forward(v, C, a[0], 0, C, a[1], 0, C, a[2], 0, C)));
        l.add(new IntArg("Optimizers.adamW", "t", v -> v >= 1, new int[] {8, 8, 8, 8},
                (v, a) -> Optimizers.adamW(p, 8, 1e-3f, 0.9f, 0.95f, 1e-8f, 0f, v, a[0], 0, a[1], 0, a[2], 0, a[3], 0)));
        l.add(new IntArg("Optimizers.adamW", "n", v -> v >= 0 && v <= 1, new int[] {1, 1, 1, 1},
                (v, a) -> Optimizers.adamW(p, v, 1e-3f, 0.9f, 0.95f, 1e-8f, 0f, 1, a[0], 0, a[1], 0, a[2], 0, a[3], 0)));
        for (String dim : new String[] {"B", "Hq", "T", "S", "D"}) {
            IntPredicate valid = dim.equals("Hq") || dim.equals("D") ? v -> v == 1 : v -> v == 0 || v == 1;
            l.add(new IntArg("Attention.forward", dim, valid, new int[] {16, 8, 8, 16, 4}, (v, a) -> {
                int b = dim.equals("B") ? v : 1, h = dim.equals("Hq") ? v : 2, t = dim.equals("T") ? v : 2;
                int s = dim.equals("S") ? v : 2, d = dim.equals("D") ? v : 4;
                AttentionConfig c = AttentionConfig.builder(b, h, 1, t, s, d).build();
                HeadLayout ql = HeadLayout.contiguous(2, 2, 4), kl = HeadLayout.contiguous(1, 2, 4);
                Attention.forward(p, c, AttentionView.of(a[0], 0, ql), AttentionView.of(a[1], 0, kl),
                        AttentionView.of(a[2], 0, kl), null, AttentionView.of(a[3], 0, ql),
                        AttentionView.flat(a[4], 0));
            }));
        }
        l.add(new IntArg("KVCache.new", "capacity", v -> v >= 0 && v <= 1, new int[0],
                (v, a) -> new KVCache(2, 2, 64, v)));
        l.add(new IntArg("Gpt.new", "batch", v -> v == 1, new int[0], (v, a) -> new Gpt(CFG, v, 4)));
        l.add(new IntArg("Gpt.new", "seqLen", v -> v == 1, new int[0], (v, a) -> new Gpt(CFG, 1, v)));
        l.add(new IntArg("GptSampler.new", "maxLen", v -> v == 1, new int[0],
                (v, a) -> new GptSampler(CFG, new float[ParamLayout.of(CFG).size()], v, 1)));
        l.add(new IntArg("GptConfig.new", "heads", v -> v == 1, new int[0],
                (v, a) -> new GptConfig(11, 8, 1, 16, v, 1, 4, 24, NormKind.LAYER, 1e-5f)));
        l.add(new IntArg("GptConfig.new", "headDim", v -> v == 1, new int[0],
                (v, a) -> new GptConfig(11, 8, 1, 16, 4, 2, v, 24, NormKind.LAYER, 1e-5f)));
        l.add(new IntArg("Parallelism.fixed", "threads", v -> v == 1, new int[0], (v, a) -> Parallelism.fixed(v).close()));
        return l;
    }

    static Stream<Arguments> floatCases() {
        List<Arguments> cases = new ArrayList<>();
        for (FloatArg f : floatArgs()) {
            for (float v : FLOATS) {
                cases.add(Arguments.of(Named.of(f.entry() + " " + f.arg() + "=" + v, f), v));
            }
        }
        return cases.stream();
    }

    static Stream<Arguments> intCases() {
        List<Arguments> cases = new ArrayList<>();
        for (IntArg f : intArgs()) {
            for (int v : INTS) {
                cases.add(Arguments.of(Named.of(f.entry() + " " + f.arg() + "=" + v, f), v));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest
    @MethodSource("floatCases")
    void everyFloatArgumentAtItsEdges(FloatArg f, float v) {
        float[][] a = arrays(f.lengths());
        float[][] before = copy(a);
        Throwable t = catchThrowable(() -> f.call().run(v, a));
        if (f.valid().test(v)) {
            assertThat(t).as("%s %s=%s is allowed", f.entry(), f.arg(), v).isNull();
            return;
        }
        assertThat(t).as("%s %s=%s", f.entry(), f.arg(), v).isInstanceOf(IllegalArgumentException.class);
        assertThat(t.getMessage()).contains(f.arg() + "=" + v);
        assertThat(a).as("nothing written").isDeepEqualTo(before);
    }

    @ParameterizedTest
    @MethodSource("intCases")
    void everyIntArgumentAtItsLimits(IntArg f, int v) {
        float[][] a = arrays(f.lengths());
        float[][] before = copy(a);
        Throwable t = catchThrowable(() -> f.call().run(v, a));
        if (f.valid().test(v)) {
            assertThat(t).as("%s %s=%s is allowed", f.entry(), f.arg(), v).isNull();
            return;
        }
        assertThat(t).as("%s %s=%s", f.entry(), f.arg(), v).isInstanceOf(IllegalArgumentException.class);
        assertThat(t.getMessage()).as("names the argument or the value").satisfiesAnyOf(
                m -> assertThat(m).contains(f.arg()), m -> assertThat(m).contains(String.valueOf(v)),
                m -> assertThat(m).contains("(" + (v - 1) + ")"));
        assertThat(a).as("nothing written").isDeepEqualTo(before);
    }

    // ---------------------------------------------------------------------------------------------
    // The defects of the issue by name

    /** The defect: sample() drew a token from all-zero logits when nothing had been fed. */
    @Test
    void samplingBeforeAnyFeedIsAStateError() {
        GptSampler s = new GptSampler(CFG, new float[ParamLayout.of(CFG).size()], 8, 4);
        for (float temperature : new float[] {0f, 1f}) {
            assertThatThrownBy(() -> s.sample(temperature, 0, new SplittableRandom(1)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("feed");
        }
        s.feed(Parallelism.serial(), new int[] {3}, 0, 1);
        s.sample(1f, 0, new SplittableRandom(1));
        s.reset();
        assertThatThrownBy(() -> s.sample(0f, 0, new SplittableRandom(1))).isInstanceOf(IllegalStateException.class);
    }

    /** The defect: Gpt threw IllegalArgumentException for null where the kernels throw NullPointerException. */
    @Test
    void nullIsANullPointerExceptionNamingTheArgumentEverywhere() {
        Gpt gpt = new Gpt(CFG, 1, 4);
        int[] ids = new int[4];
        float[] params = new float[ParamLayout.of(CFG).size()];
        List<Object[]> calls = List.of(
                new Object[] {"cfg", (Runnable) () -> new Gpt(null, 1, 4)},
                new Object[] {"tokens", (Runnable) () -> gpt.forward(Parallelism.serial(), null, ids)},
                new Object[] {"par", (Runnable) () -> gpt.forward(null, ids, ids)},
                new Object[] {"norm", (Runnable) () -> new GptConfig(11, 8, 1, 16, 4, 2, 4, 24, null, 1e-5f)},
                new Object[] {"cfg", (Runnable) () -> new GptSampler(null, params, 8, 4)},
                new Object[] {"params", (Runnable) () -> new GptSampler(CFG, null, 8, 4)},
                new Object[] {"prompt", (Runnable) () -> new GptSampler(CFG, params, 8, 4).generate(Parallelism.serial(),
                        null, 1, 0f, 0, 1)},
                new Object[] {"layout", (Runnable) () -> new AdamWOptimizer(null, 0.9f, 0.95f, 1e-8f, 0f)},
                new Object[] {"file", (Runnable) () -> uncheck(() -> GptCheckpoint.save(null, CFG, params))},
                new Object[] {"cfg", (Runnable) () -> uncheck(() -> GptCheckpoint.save(Path.of("x"), null, params))},
                new Object[] {"file", (Runnable) () -> uncheck(() -> GptCheckpoint.load(null))},
                new Object[] {"expected", (Runnable) () -> uncheck(() -> GptCheckpoint.load(Path.of("x"), null, params))},
                new Object[] {"params", (Runnable) () -> uncheck(() -> GptCheckpoint.save(Path.of("x"), CFG, null))},
                new Object[] {"grads", (Runnable) () -> new AdamWOptimizer(ParamLayout.of(CFG), 0.9f, 0.95f, 1e-8f, 0f)
                        .clipGradNorm(null, 1f)},
                new Object[] {"cfg", (Runnable) () -> Attention.forward((AttentionConfig) null, null, null, null, null, null, null)},
                new Object[] {"a", (Runnable) () -> Gemm.sgemm(Transpose.N, Transpose.N, 1, 1, 1, 1f, null, 0, 1,
                        new float[1], 0, 1, 0f, new float[1], 0, 1)});
        for (Object[] c : calls) {
            assertThatThrownBy(((Runnable) c[1])::run).as("null %s", c[0]).isInstanceOf(NullPointerException.class)
                    .hasMessageContaining(c[0] + " is null");
        }
    }

    interface IoCall {
        void run() throws Exception;
    }

    static void uncheck(IoCall c) {
        try {
            c.run();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError("expected an unchecked exception", e);
        }
    }

    static float[][] arrays(int[] lengths) {
        float[][] a = new float[Math.max(lengths.length, 6)][];
        SplittableRandom rnd = new SplittableRandom(lengths.length);
        for (int i = 0; i < a.length; i++) {
            a[i] = new float[i < lengths.length ? lengths[i] : 0];
            for (int j = 0; j < a[i].length; j++) {
                a[i][j] = (float) rnd.nextDouble(0.1, 1);
            }
        }
        return a;
    }

    static float[][] copy(float[][] a) {
        float[][] c = new float[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }
}
