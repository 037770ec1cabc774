package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.NormKind;
import dev.lanes.core.nn.ParamLayout;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The model's layout, initialisation and input validation (its arithmetic: GptGoldenTest, GptGradientTest). */
class GptModelTest {

    @Test
    void layoutTilesTheArenaInStorageOrder() {
        for (NormKind norm : NormKind.values()) {
            GptConfig cfg = GptConfig.of(40, 16, 3, 32, 4, 2).withNorm(norm);
            ParamLayout layout = ParamLayout.of(cfg);
            int next = 0;
            for (ParamLayout.Entry e : layout.entries()) {
                assertThat(e.offset()).as(e.name()).isEqualTo(next);
                assertThat(e.decay()).as(e.name()).isEqualTo(e.rows() > 1);
                next += e.size();
            }
            assertThat(layout.size()).isEqualTo(next);
            int C = 32, W = (4 + 2 * 2) * 8, A = 4 * 8, F = 128, biases = norm == NormKind.LAYER ? 1 : 0;
            int perLayer = C * (1 + biases) + C * W + W + A * C + C + C * (1 + biases) + C * F + F + F * C + C;
            assertThat(next).isEqualTo(40 * C + 16 * C + 3 * perLayer + C * (1 + biases));
            assertThat(layout.get("h.2.attn.wqkv").cols()).isEqualTo(W);
            assertThat(layout.offsetOrMinus1("lnf.b") >= 0).isEqualTo(norm == NormKind.LAYER);
            assertThatThrownBy(() -> layout.get("h.3.mlp.w1")).hasMessageContaining("h.3.mlp.w1");
        }
    }

    @Test
    void initIsSeededAndFollowsGpt2() {
        GptConfig cfg = GptConfig.of(300, 64, 4, 128, 4, 1);
        Gpt a = new Gpt(cfg, 1, 8), b = new Gpt(cfg, 1, 8), c = new Gpt(cfg, 1, 8);
        a.init(7);
        b.init(7);
        c.init(8);
        assertThat(Arrays.equals(a.params(), b.params())).isTrue();
        assertThat(Arrays.equals(a.params(), c.params())).isFalse();
        ParamLayout layout = a.layout();
        for (ParamLayout.Entry e : layout.entries()) {
            double sum = 0, sq = 0;
            for (int i = e.offset(); i < e.offset() + e.size(); i++) {
                sum += a.params()[i];
                sq += (double) a.params()[i] * a.params()[i];
            }
            double mean = sum / e.size(), std = Math.sqrt(sq / e.size() - mean * mean);
            if (e.name().endsWith(".g")) {
                assertThat(mean).as(e.name()).isEqualTo(1.0);
                assertThat(std).as(e.name()).isEqualTo(0.0);
            } else if (!e.decay()) {
                assertThat(sq).as(e.name()).isEqualTo(0.0);
            } else {
                // residual output projections get 0.02 / sqrt(2L) so the residual stream does not grow with depth
                double want = e.name().endsWith("attn.wo") || e.name().endsWith("mlp.w2") ? 0.02 / Math.sqrt(8) : 0.02;
                assertThat(std).as(e.name()).isBetween(0.9 * want, 1.1 * want);
                assertThat(Math.abs(mean)).as(e.name()).isLessThan(0.2 * want);
            }
        }
    }

    @Test
    void badInputIsRefusedBeforeAnythingIsWritten() {
        GptConfig cfg = GptConfig.of(10, 8, 1, 16, 2, 1);
        Gpt gpt = new Gpt(cfg, 2, 4);
        gpt.init(1);
        int[] tokens = {1, 2, 3, 4, 5, 6, 7, 8}, targets = {2, 3, 4, 5, 6, 7, 8, -1};
        Parallelism s = Parallelism.serial();
        gpt.forward(s, tokens, targets);
        float[] before = new float[8 * 10], after = new float[8 * 10];
        gpt.logits(before, 0);

        assertThatThrownBy(() -> gpt.forward(s, new int[] {1, 2, 3, 4, 5, 6, 10, 8}, targets))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokens[6]=10")
                .hasMessageContaining("vocab=10");
        assertThatThrownBy(() -> gpt.forward(s, new int[] {1, 2, -1, 4, 5, 6, 7, 8}, targets))
                .hasMessageContaining("tokens[2]=-1");
        assertThatThrownBy(() -> gpt.forward(s, tokens, new int[] {2, 3, 4, 5, 6, 7, 8, -2}))
                .hasMessageContaining("targets[7]=-2");
        assertThatThrownBy(() -> gpt.forward(s, new int[7], targets)).hasMessageContaining("tokens.length=7 < batch*seqLen=8");
        assertThatThrownBy(() -> gpt.forward(s, null, targets)).hasMessageContaining("tokens is null");
        gpt.logits(after, 0);
        assertThat(after).containsExactly(before);

        assertThatThrownBy(() -> new Gpt(cfg, 1, 9)).hasMessageContaining("seqLen=9").hasMessageContaining("maxSeq=8");
        assertThatThrownBy(() -> GptConfig.of(10, 8, 1, 16, 3, 2)).hasMessageContaining("heads=3");
        assertThatThrownBy(() -> new GptConfig(10, 8, 1, 16, 4, 2, 4, 64, NormKind.RMS, 0f))
                .hasMessageContaining("normEps=0.0");
        Gpt fresh = new Gpt(cfg, 2, 4);
        fresh.forward(s, tokens, null);
        assertThatThrownBy(() -> fresh.backward(s)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("forward with targets");
    }

    @Test
    void allTargetsIgnoredGiveZeroLossAndNoGradient() {
        GptConfig cfg = GptConfig.of(10, 8, 1, 16, 2, 1);
        Gpt gpt = new Gpt(cfg, 1, 4);
        gpt.init(3);
        double loss = gpt.forward(Parallelism.serial(), new int[] {1, 2, 3, 4}, new int[] {-1, -1, -1, -1});
        assertThat(loss).isEqualTo(0.0);
        gpt.zeroGrads();
        gpt.backward(Parallelism.serial());
        for (float g : gpt.grads()) {
            assertThat(g).isEqualTo(0f);
        }
    }
}
