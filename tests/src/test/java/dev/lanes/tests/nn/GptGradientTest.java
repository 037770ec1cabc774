package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import dev.lanes.core.nn.ParamLayout;
import dev.lanes.kernels.Parallelism;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The whole model's backward against central finite differences of its own forward, parameter by
 * parameter: every tensor of the layout, at its largest-gradient index and up to five seeded random
 * others. Independent of the golden fixtures (no PyTorch) and of any layer's own test: it sees the
 * stack as one function params -> loss. Plus two properties of the loss: backward accumulates, and a
 * row whose target is -1 has no influence.
 *
 * <p>Step: {@code h = 1e-2}. The model is float32 and its loss (a double mean of float32 row losses)
 * carries rounding noise of about 1e-7, so the difference quotient's noise is ~1e-7 / (2h) = 5e-6;
 * the truncation error of the central difference is O(h^2 * f''') and, with every input to a weight
 * normalised to unit scale, about 1e-4 of the gradient. A smaller h trades truncation for noise.
 * The numerator uses the float32 parameters actually stored ({@code (float) (p + h)}), not p + h.
 *
 * <p>Tolerance per index: {@code 2e-2 * |grad| + 5e-3 * max|grad over the tensor| + 3e-5}: the
 * relative term for truncation, the tensor-scaled term for noise on a small entry of a large tensor,
 * the absolute term for the noise floor above. A backward that drops a term, transposes a matrix or
 * mixes heads is off by O(1) of the tensor's scale.
 */
class GptGradientTest {
    static final int V = 20, MAX_SEQ = 8, LAYERS = 2, C = 16, HQ = 4, HKV = 2, B = 2, T = 8;
    static final long SEED = 0x5eed_6a7L;
    static final double H = 1e-2;
    static final int SAMPLES = 6;
    static final double REL = 2e-2, REL_TO_TENSOR_MAX = 5e-3, ABS = 3e-5;
    /** Rows whose target is -1: (b=0, t=T-1) is last in its sequence, so nothing else sees its token. */
    static final int[][] IGNORED = {{0, T - 1}, {1, 2}, {1, 5}};

    /**
     * GPT-2 init, then moved off the init's special point: embeddings scaled to std 0.5 so the first
     * norm sees unit-scale input (its derivatives grow as 1/std and the truncation error with them),
     * other matrices to ~0.1 so attention is not uniform and the logits not flat, norm gains
     * 1 + 0.2 N(0, 1) and biases 0.1 N(0, 1) so their gradients are not those of a trivial point.
     */
    static Gpt model(NormKind norm, long seed) {
        Gpt gpt = new Gpt(GptConfig.of(V, MAX_SEQ, LAYERS, C, HQ, HKV).withNorm(norm), B, T);
        gpt.init(seed);
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x9e3779b97f4a7c15L);
        float[] p = gpt.params();
        for (ParamLayout.Entry e : gpt.layout().entries()) {
            boolean embedding = e.name().equals("wte") || e.name().equals("wpe");
            for (int i = e.offset(); i < e.offset() + e.size(); i++) {
                if (e.decay()) {
                    p[i] *= embedding ? 25f : 5f;
                } else if (e.name().endsWith(".g")) {
                    p[i] = (float) (1 + 0.2 * rnd.nextGaussian());
                } else {
                    p[i] = (float) (0.1 * rnd.nextGaussian());
                }
            }
        }
        return gpt;
    }

    static int[] tokens(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] x = new int[B * T];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextInt(V);
        }
        return x;
    }

    static int[] targets(long seed) {
        int[] y = tokens(seed + 1);
        for (int[] bt : IGNORED) {
            y[bt[0] * T + bt[1]] = -1;
        }
        return y;
    }

    @ParameterizedTest
    @EnumSource(NormKind.class)
    void everyTensorMatchesCentralDifferences(NormKind norm) {
        Gpt gpt = model(norm, SEED);
        int[] tokens = tokens(SEED), targets = targets(SEED);
        Parallelism par = Parallelism.serial();
        double loss = gpt.forward(par, tokens, targets);
        assertThat(loss).as("loss").isFinite().isPositive();
        gpt.zeroGrads();
        gpt.backward(par);
        float[] g = gpt.grads().clone();
        float[] p = gpt.params();

        SplittableRandom pick = new SplittableRandom(SEED + 7);
        int checked = 0;
        for (ParamLayout.Entry e : gpt.layout().entries()) {
            int from = e.offset(), n = e.size();
            double max = 0;
            int argmax = 0;
            for (int i = 0; i < n; i++) {
                if (Math.abs(g[from + i]) > max) {
                    max = Math.abs(g[from + i]);
                    argmax = i;
                }
            }
            Set<Integer> indices = new LinkedHashSet<>();
            indices.add(argmax);  // at least one index where the gradient is large, so the check has teeth
            while (indices.size() < Math.min(SAMPLES, n)) {
                indices.add(pick.nextInt(n));
            }
            for (int i : indices) {
                int at = from + i;
                float keep = p[at], up = (float) (keep + H), down = (float) (keep - H);
                p[at] = up;
                double lossUp = gpt.forward(par, tokens, targets);
                p[at] = down;
                double lossDown = gpt.forward(par, tokens, targets);
                p[at] = keep;
                double fd = (lossUp - lossDown) / ((double) up - down);
                double tol = REL * Math.abs(g[at]) + REL_TO_TENSOR_MAX * max + ABS;
                assertThat(Math.abs(g[at] - fd))
                        .as("%s %s[%d] (flat %d): backward %s, central difference %s (max|grad| of tensor %s)",
                                norm, e.name(), i, at, g[at], fd, max)
                        .isLessThanOrEqualTo(tol);
                checked++;
            }
        }
        assertThat(checked).isGreaterThan(gpt.layout().entries().size());
    }

    /** llm.c's contract: backward adds into grads; one place (zeroGrads) clears them. */
    @ParameterizedTest
    @EnumSource(NormKind.class)
    void backwardAccumulates(NormKind norm) {
        Gpt gpt = model(norm, SEED + 1);
        Parallelism par = Parallelism.serial();
        gpt.forward(par, tokens(SEED + 1), targets(SEED + 1));
        gpt.zeroGrads();
        gpt.backward(par);
        float[] once = gpt.grads().clone();
        gpt.backward(par);
        float[] twice = gpt.grads();
        // Not bit-exact: a tensor fed by two paths (wte: head and embedding) sums them onto a nonzero
        // start the second time, a different rounding of the same numbers.
        for (ParamLayout.Entry e : gpt.layout().entries()) {
            GptGoldenTest.assertCloseToMax(norm + " 2 x grad " + e.name(), doubled(once, e), 0, twice, e.offset(),
                    e.size(), 1e-5, 0);
        }
        gpt.zeroGrads();
        for (int i = 0; i < twice.length; i++) {
            if (gpt.grads()[i] != 0f) {
                throw new AssertionError(norm + ": grads[" + i + "] = " + gpt.grads()[i] + " after zeroGrads");
            }
        }
    }

    private static float[] doubled(float[] g, ParamLayout.Entry e) {
        float[] out = new float[e.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = 2 * g[e.offset() + i];
        }
        return out;
    }

    /**
     * A row with target -1 counts for nothing: replacing the token at (b=0, t=T-1), an ignored row that
     * no other row attends to (causal), leaves the loss and every gradient unchanged. Changing a
     * counted row's token does change the loss, so the check is not vacuous.
     */
    @ParameterizedTest
    @EnumSource(NormKind.class)
    void ignoredTargetsHaveNoInfluence(NormKind norm) {
        Gpt gpt = model(norm, SEED + 2);
        Parallelism par = Parallelism.serial();
        int[] tokens = tokens(SEED + 2), targets = targets(SEED + 2);
        int last = T - 1;  // row (0, T-1)
        assertThat(targets[last]).isEqualTo(-1);

        double loss = gpt.forward(par, tokens, targets);
        gpt.zeroGrads();
        gpt.backward(par);
        float[] grads = gpt.grads().clone();

        int[] changed = tokens.clone();
        changed[last] = (tokens[last] + 1) % V;
        double lossChanged = gpt.forward(par, changed, targets);
        gpt.zeroGrads();
        gpt.backward(par);
        // The other rows compute the same numbers in the same order, so the loss should be the same
        // bits; a small tolerance keeps the test about influence, not about kernel blocking.
        assertThat(Math.abs(lossChanged - loss)).as("%s: loss after changing an ignored row's token: %s vs %s",
                norm, lossChanged, loss).isLessThanOrEqualTo(1e-7 * Math.abs(loss));
        for (ParamLayout.Entry e : gpt.layout().entries()) {
            GptGoldenTest.assertCloseToMax(norm + " grad " + e.name() + " after changing an ignored row's token",
                    grads, e.offset(), gpt.grads(), e.offset(), e.size(), 1e-6, 0);
        }

        // the counted row just before it does matter
        int[] counted = tokens.clone();
        counted[last - 1] = (tokens[last - 1] + 1) % V;
        double lossCounted = gpt.forward(par, counted, targets);
        assertThat(Math.abs(lossCounted - loss)).as("%s: changing a counted row's token must move the loss", norm)
                .isGreaterThan(1e-4 * Math.abs(loss));
    }
}
