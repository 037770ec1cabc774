package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.io.Safetensors;
import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.Gpt2Checkpoint;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import dev.lanes.core.nn.ParamLayout;
import dev.lanes.kernels.Parallelism;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A GPT-2 checkpoint in the Hugging Face layout ({@code config.json} + {@code model.safetensors}, written
 * by {@code tests/golden/gen_gpt2.py} without the safetensors package) loads into {@link Gpt} and
 * reproduces PyTorch's float64 logits, loss, every gradient and ten clipped AdamW steps.
 *
 * <p>Tolerances (torch's own float32 replay of the same model, printed by the script: logits 4.9e-7 of
 * their max, loss 5e-8, gradients at worst 8.9e-7 of their tensor's max, the ten losses 7.5e-7 and
 * gradient norms 1.2e-6 relative):
 * <ul>
 *   <li>logits: 1e-5 * max|ref logits|; loss: 1e-5 relative;
 *   <li>gradients: 1e-4 * max|ref| over each Hugging Face tensor;
 *   <li>the ten steps' losses and gradient norms: 1e-4 relative.
 * </ul>
 */
class Gpt2GoldenTest {
    static final double LOGITS_REL_TO_MAX = 1e-5, LOSS_REL = 1e-5, GRAD_REL_TO_MAX = 1e-4, STEP_REL = 1e-4;

    static Path fixture() {
        try {
            return Path.of(Gpt2GoldenTest.class.getResource("/golden/gpt2/config.json").toURI()).getParent();
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource /golden/gpt2 (regenerate with tests/golden/gen_gpt2.py)", e);
        }
    }

    @Test
    void configIsReadAsGpt2() throws IOException {
        GptConfig cfg = Gpt2Checkpoint.readConfig(fixture().resolve("config.json"));
        assertThat(cfg).isEqualTo(new GptConfig(80, 24, 2, 32, 4, 4, 8, 128, NormKind.LAYER, 1e-5f));
    }

    @Test
    void matchesPyTorch() throws IOException {
        Gpt2Checkpoint.Loaded loaded = Gpt2Checkpoint.load(fixture());
        GptConfig cfg = loaded.config();
        try (Safetensors ref = Safetensors.open(fixture().resolve("reference.safetensors"))) {
            long[] tok = ref.readLongs("tokens"), tgt = ref.readLongs("targets");
            long[] shape = ref.require("tokens").shape();
            int B = (int) shape[0], T = (int) shape[1];
            int[] tokens = new int[B * T], targets = new int[B * T];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = Math.toIntExact(tok[i]);
                targets[i] = Math.toIntExact(tgt[i]);
            }
            Gpt gpt = new Gpt(cfg, B, T);
            ParamLayout layout = gpt.layout();
            System.arraycopy(loaded.params(), 0, gpt.params(), 0, layout.size());
            Parallelism par = Parallelism.serial();

            double loss = gpt.forward(par, tokens, targets);
            float[] logits = new float[B * T * cfg.vocab()];
            gpt.logits(logits, 0);
            assertClose("logits", ref.readDoubles("logits"), logits, 0, logits.length, LOGITS_REL_TO_MAX);
            double refLoss = ref.readDoubles("loss")[0];
            assertThat(Math.abs(loss - refLoss)).as("loss: got %s, want %s", loss, refLoss)
                    .isLessThanOrEqualTo(LOSS_REL * refLoss);

            gpt.zeroGrads();
            gpt.backward(par);
            for (ParamLayout.Entry e : layout.entries()) {
                String hf = Gpt2Checkpoint.hfName(e.name());
                assertClose("grad." + hf, ref.readDoubles("grad." + hf), gpt.grads(), e.offset(), e.size(), GRAD_REL_TO_MAX);
            }

            Map<String, String> meta = ref.metadata();
            AdamWOptimizer opt = new AdamWOptimizer(layout, number(meta, "beta1"), number(meta, "beta2"), number(meta, "eps"),
                    number(meta, "weight_decay"));
            float lr = number(meta, "lr"), clip = number(meta, "clip");
            double[] refLosses = ref.readDoubles("losses"), refNorms = ref.readDoubles("gradNorms");
            int steps = Integer.parseInt(meta.get("steps"));
            assertThat(refLosses).hasSize(steps);
            for (int s = 0; s < steps; s++) {
                gpt.zeroGrads();
                double l = gpt.forward(par, tokens, targets);
                gpt.backward(par);
                double norm = opt.clipGradNorm(gpt.grads(), clip);
                opt.step(lr, gpt.params(), gpt.grads());
                assertThat(Math.abs(l - refLosses[s])).as("step %d loss: got %s, want %s", s, l, refLosses[s])
                        .isLessThanOrEqualTo(STEP_REL * refLosses[s]);
                assertThat(Math.abs(norm - refNorms[s])).as("step %d grad norm: got %s, want %s", s, norm, refNorms[s])
                        .isLessThanOrEqualTo(STEP_REL * refNorms[s]);
            }
        }
    }

    static float number(Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) {
            throw new IllegalStateException("reference metadata has no '" + key + "'");
        }
        return (float) Double.parseDouble(v);
    }

    /** |actual - expected| <= rel * max|expected| for every element; names the worst offender. */
    static void assertClose(String what, double[] expected, float[] actual, int aOff, int n, double rel) {
        assertThat(expected).as("%s: reference size", what).hasSize(n);
        double max = 0;
        for (double e : expected) {
            max = Math.max(max, Math.abs(e));
        }
        double worst = -1;
        int at = -1;
        for (int i = 0; i < n; i++) {
            double err = Math.abs(actual[aOff + i] - expected[i]);
            if (Double.isNaN(err)) {
                err = Double.POSITIVE_INFINITY;
            }
            if (err > worst) {
                worst = err;
                at = i;
            }
        }
        if (!(worst <= rel * max)) {
            throw new AssertionError(what + "[" + at + "]: got " + actual[aOff + at] + ", want " + expected[at] + " (|diff| " + worst
                    + " > " + rel + " * max|ref| " + max + ")");
        }
        assertThat(max).as("%s: the reference is not all zero", what).isGreaterThan(0);
    }
}
