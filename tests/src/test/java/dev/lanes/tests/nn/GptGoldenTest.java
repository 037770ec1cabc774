package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import dev.lanes.core.nn.ParamLayout;
import dev.lanes.kernels.Parallelism;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The whole model (forward, backward, ten clipped AdamW steps) against PyTorch autograd in float64,
 * from tensors committed under {@code src/test/resources/golden/gpt}; {@code tests/golden/gen_gpt.py}
 * writes them, documents the format, and prints how far torch's own float32 replay lands from its
 * float64 reference. No Python is needed to run this test.
 *
 * <p>Tolerances, against that float32 replay (worst deviations seen when the fixtures were written):
 * <ul>
 *   <li>logits: 2e-5 * max|ref| (float32 replay: 1.6e-7 of the max);
 *   <li>loss: 1e-5 relative (replay: 1.6e-7);
 *   <li>gradients, per tensor: 1e-4 * max|ref over that tensor| + 1e-8 (replay: at most 6.2e-7 of the
 *       tensor's max, so ~150x headroom for a different summation order, yet a wrong term in any
 *       backward path is a relative error of order 1 on its tensor);
 *   <li>the ten steps' losses and gradient norms: 1e-4 relative (replay: 1.2e-7 and 2.5e-6);
 *   <li>final parameters: 2e-4 absolute (replay: 7e-6; one Adam step moves a parameter by up to ~lr =
 *       1e-2, a missing or misplaced weight decay moves a typical parameter by ~1e-3 over ten steps),
 *       except the K part of {@code attn.bqkv}; see {@link #K_BIAS_TOLERANCE}.
 * </ul>
 */
class GptGoldenTest {
    static final String DIR = "/golden/gpt/";

    static final double LOGITS_REL_TO_MAX = 2e-5;
    static final double LOSS_REL = 1e-5;
    static final double GRAD_REL_TO_MAX = 1e-4, GRAD_ABS = 1e-8;
    static final double STEP_REL = 1e-4;
    static final double FINAL_ABS = 2e-4;
    /**
     * The key bias is the one parameter whose true gradient is exactly zero: it adds q.b to every logit
     * of a query row, and softmax does not see a per-row shift. What float32 computes there is rounding
     * noise, which Adam divides by its own square root: the parameter wanders by up to lr per step in
     * float32 and not at all in float64 (torch's float32 replay moved it 4e-5). Nothing else depends on
     * it, so its final value is only bounded by one step's size; its gradient is checked tightly (as
     * zero within the bqkv tolerance) in the backward check instead.
     */
    static final double K_BIAS_TOLERANCE = 1e-2;

    static List<String> cases() {
        return Arrays.stream(text("cases.txt").split("\n")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void matchesPyTorch(String name) {
        Map<String, String> h = header(name);
        GptConfig cfg = new GptConfig(integer(h, "vocab"), integer(h, "maxSeq"), integer(h, "layers"),
                integer(h, "dim"), integer(h, "heads"), integer(h, "kvHeads"), integer(h, "headDim"),
                integer(h, "mlpDim"), NormKind.valueOf(h.get("norm")), (float) Double.parseDouble(h.get("normEps")));
        int B = integer(h, "batch"), T = integer(h, "seqLen");
        Map<String, float[]> t = tensors(h.get("tensors"), bytes(name + ".bin"));

        Gpt gpt = new Gpt(cfg, B, T);
        ParamLayout layout = gpt.layout();
        assertThat(layout.size()).as("%s: ParamLayout size vs the fixture's params", name)
                .isEqualTo(t.get("params").length);
        System.arraycopy(t.get("params"), 0, gpt.params(), 0, layout.size());
        int[] tokens = ints(t.get("tokens")), targets = ints(t.get("targets"));
        Parallelism par = Parallelism.serial();

        // forward: logits and loss
        double loss = gpt.forward(par, tokens, targets);
        float[] logits = new float[B * T * cfg.vocab()];
        gpt.logits(logits, 0);
        assertCloseToMax(name + " logits", t.get("logits"), 0, logits, 0, logits.length, LOGITS_REL_TO_MAX, 0);
        double refLoss = t.get("loss")[0];
        assertThat(Math.abs(loss - refLoss)).as("%s loss: got %s, want %s", name, loss, refLoss)
                .isLessThanOrEqualTo(LOSS_REL * Math.abs(refLoss));

        // backward: every tensor by name, scaled by that tensor's own largest gradient
        gpt.zeroGrads();
        gpt.backward(par);
        float[] refGrads = t.get("grads");
        for (ParamLayout.Entry e : layout.entries()) {
            assertCloseToMax(name + " grad " + e.name(), refGrads, e.offset(), gpt.grads(), e.offset(), e.size(),
                    GRAD_REL_TO_MAX, GRAD_ABS);
        }

        // ten steps: zero, forward, backward, clip, AdamW; torch.optim.AdamW with decay on 2-D tensors only
        float lr = (float) Double.parseDouble(h.get("lr"));
        float clip = (float) Double.parseDouble(h.get("clip"));
        int steps = integer(h, "steps");
        AdamWOptimizer opt = new AdamWOptimizer(layout, (float) Double.parseDouble(h.get("beta1")),
                (float) Double.parseDouble(h.get("beta2")), (float) Double.parseDouble(h.get("eps")),
                (float) Double.parseDouble(h.get("weightDecay")));
        float[] refLosses = t.get("losses"), refNorms = t.get("gradNorms");
        for (int s = 0; s < steps; s++) {
            gpt.zeroGrads();
            double l = gpt.forward(par, tokens, targets);
            gpt.backward(par);
            double norm = opt.clipGradNorm(gpt.grads(), clip);
            opt.step(lr, gpt.params(), gpt.grads());
            assertThat(Math.abs(l - refLosses[s])).as("%s step %d loss: got %s, want %s", name, s, l, refLosses[s])
                    .isLessThanOrEqualTo(STEP_REL * Math.abs(refLosses[s]));
            assertThat(Math.abs(norm - refNorms[s])).as("%s step %d grad norm: got %s, want %s", name, s, norm,
                    refNorms[s]).isLessThanOrEqualTo(STEP_REL * Math.abs(refNorms[s]));
        }
        float[] refFinal = t.get("final");
        int kFrom = cfg.heads() * cfg.headDim(), kTo = kFrom + cfg.kvHeads() * cfg.headDim();
        for (ParamLayout.Entry e : layout.entries()) {
            for (int i = 0; i < e.size(); i++) {
                boolean kBias = e.name().endsWith("attn.bqkv") && i >= kFrom && i < kTo;
                double tol = kBias ? K_BIAS_TOLERANCE : FINAL_ABS;
                float got = gpt.params()[e.offset() + i], want = refFinal[e.offset() + i];
                if (!(Math.abs((double) got - want) <= tol)) {
                    throw new AssertionError(name + " params after " + steps + " steps, " + e.name() + "[" + i
                            + "] (flat " + (e.offset() + i) + "): got " + got + ", want " + want + " (|diff| "
                            + Math.abs((double) got - want) + " > " + tol + ")");
                }
            }
        }
    }

    /**
     * |actual - expected| <= rel * max|expected over the slice| + abs for every element of the slice;
     * the message names the slice, the index inside it, and the worst offender.
     */
    static void assertCloseToMax(String what, float[] expected, int eOff, float[] actual, int aOff, int n,
                                 double rel, double abs) {
        double max = 0;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, Math.abs(expected[eOff + i]));
        }
        double tol = rel * max + abs, worst = -1;
        int worstAt = -1;
        for (int i = 0; i < n; i++) {
            double err = Math.abs((double) actual[aOff + i] - expected[eOff + i]);
            if (Double.isNaN(err)) {
                err = Double.POSITIVE_INFINITY;  // a NaN must fail, not slip through a comparison
            }
            if (err > worst) {
                worst = err;
                worstAt = i;
            }
        }
        if (n > 0 && !(worst <= tol)) {
            throw new AssertionError(what + "[" + worstAt + "]: got " + actual[aOff + worstAt] + ", want "
                    + expected[eOff + worstAt] + " (|diff| " + worst + " > " + tol + " = " + rel + " * max|ref| "
                    + max + " + " + abs + ")");
        }
    }

    static int[] ints(float[] x) {
        int[] out = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (int) x[i];
            if (out[i] != x[i]) {
                throw new IllegalStateException("not an integer id at " + i + ": " + x[i]);
            }
        }
        return out;
    }

    static int integer(Map<String, String> h, String key) {
        String v = h.get(key);
        if (v == null) {
            throw new IllegalStateException("header has no '" + key + "'");
        }
        return Integer.parseInt(v);
    }

    static Map<String, String> header(String name) {
        Map<String, String> h = new LinkedHashMap<>();
        for (String line : text(name + ".txt").split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                h.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
            }
        }
        return h;
    }

    /** Splits the little-endian float32 payload by the header's {@code name:count} list. */
    static Map<String, float[]> tensors(String spec, byte[] bin) {
        ByteBuffer buf = ByteBuffer.wrap(bin).order(ByteOrder.LITTLE_ENDIAN);
        Map<String, float[]> out = new LinkedHashMap<>();
        for (String item : spec.split(" ")) {
            String[] parts = item.split(":");
            float[] x = new float[Integer.parseInt(parts[1])];
            buf.asFloatBuffer().get(x);
            buf.position(buf.position() + 4 * x.length);
            out.put(parts[0], x);
        }
        if (buf.hasRemaining()) {
            throw new IllegalStateException(buf.remaining() + " bytes left after " + spec);
        }
        return out;
    }

    static String text(String file) {
        return new String(bytes(file), StandardCharsets.UTF_8);
    }

    static byte[] bytes(String file) {
        try (InputStream in = GptGoldenTest.class.getResourceAsStream(DIR + file)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + DIR + file
                        + " (regenerate with tests/golden/gen_gpt.py)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
