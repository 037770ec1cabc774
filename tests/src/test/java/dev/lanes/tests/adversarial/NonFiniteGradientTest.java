package dev.lanes.tests.adversarial;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import dev.lanes.kernels.Parallelism;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A bad batch does not poison training: with one NaN or infinite gradient, clipGradNorm reports the
 * non-finite norm and leaves the gradients alone, step skips (parameters, both moments and the step
 * count bit for bit unchanged) and counts it, and the next good batch gives the same bits as if the
 * bad one had never come, on one thread and on two.
 */
class NonFiniteGradientTest {
    static final GptConfig CFG = new GptConfig(13, 8, 2, 16, 4, 2, 4, 32, NormKind.LAYER, 1e-5f);

    @Test
    void aNonFiniteGradientSkipsTheStepAndTouchesNothing() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            for (boolean clip : new boolean[] {true, false}) {
                try (Parallelism team = Parallelism.fixed(2)) {
                    run(bad, clip, team);
                }
                run(bad, clip, Parallelism.serial());
            }
        }
    }

    void run(float bad, boolean clip, Parallelism team) {
        Gpt gpt = new Gpt(CFG, 2, 8), twin = new Gpt(CFG, 2, 8);
        gpt.init(1);
        twin.init(1);
        AdamWOptimizer opt = new AdamWOptimizer(gpt.layout(), 0.9f, 0.95f, 1e-8f, 0.1f);
        AdamWOptimizer ref = new AdamWOptimizer(twin.layout(), 0.9f, 0.95f, 1e-8f, 0.1f);
        int[] x = new int[16], y = new int[16];
        SplittableRandom rnd = new SplittableRandom(2);
        for (int step = 0; step < 4; step++) {
            for (int i = 0; i < 16; i++) {
                x[i] = rnd.nextInt(13);
                y[i] = rnd.nextInt(13);
            }
            if (step == 2) { // the bad batch: only `opt` sees it
                gpt.forward(team, x, y);
                gpt.zeroGrads(team);
                gpt.backward(team);
                gpt.grads()[gpt.grads().length / 3] = bad;
                float[] grads = gpt.grads().clone(), p = gpt.params().clone();
                float[] m = opt.firstMoment().clone(), v = opt.secondMoment().clone();
                int t = opt.steps();
                if (clip) {
                    double norm = opt.clipGradNorm(team, gpt.grads(), 1f);
                    assertThat(Double.isFinite(norm)).as("clipGradNorm reports the non-finite norm").isFalse();
                    assertThat(bits(gpt.grads())).as("clipGradNorm leaves non-finite gradients alone")
                            .isEqualTo(bits(grads));
                }
                assertThat(opt.step(team, 1e-2f, gpt.params(), gpt.grads())).as("step applied?").isFalse();
                assertThat(bits(gpt.params())).as("params after a skipped step").isEqualTo(bits(p));
                assertThat(bits(opt.firstMoment())).as("m after a skipped step").isEqualTo(bits(m));
                assertThat(bits(opt.secondMoment())).as("v after a skipped step").isEqualTo(bits(v));
                assertThat(opt.steps()).isEqualTo(t);
                assertThat(opt.skippedSteps()).isEqualTo(1);
                continue;
            }
            for (Gpt g : new Gpt[] {gpt, twin}) {
                AdamWOptimizer o = g == gpt ? opt : ref;
                g.forward(team, x, y);
                g.zeroGrads(team);
                g.backward(team);
                if (clip) {
                    o.clipGradNorm(team, g.grads(), 1f);
                }
                assertThat(o.step(team, 1e-2f, g.params(), g.grads())).isTrue();
            }
        }
        assertThat(bits(gpt.params())).as("training continues as if the bad batch never came")
                .isEqualTo(bits(twin.params()));
        assertThat(ref.skippedSteps()).isZero();
        assertThat(opt.steps()).isEqualTo(ref.steps()).isEqualTo(3);
    }

    static int[] bits(float[] x) {
        int[] b = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            b[i] = Float.floatToRawIntBits(x[i]);
        }
        return b;
    }
}
