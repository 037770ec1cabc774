package dev.lanes.tests.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.GptSampler;
import dev.lanes.core.nn.NormKind;
import dev.lanes.kernels.Parallelism;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** KV-cache decoding against the full forward, and the sampling rules. */
class GptSamplerTest {

    /**
     * Decoding a sequence in chunks of 1..5 tokens gives, at every chunk's last position, the logits of
     * one full forward over the whole sequence. T = 70 crosses the cache's 64-key tile.
     */
    @Test
    void decodingInChunksMatchesTheFullForward() {
        for (NormKind norm : NormKind.values()) {
            GptConfig cfg = GptConfig.of(20, 70, 2, 32, 4, 2).withNorm(norm);
            int T = 70;
            Gpt gpt = new Gpt(cfg, 1, T);
            gpt.init(3);
            Random r = new Random(4);
            int[] tokens = new int[T];
            for (int i = 0; i < T; i++) {
                tokens[i] = r.nextInt(cfg.vocab());
            }
            try (Parallelism team = Parallelism.fixed(2)) {
                gpt.forward(team, tokens, null);
                GptSampler sampler = new GptSampler(cfg, gpt.params(), T, 8);
                for (int pos = 0, c = 0; pos < T; c++) {
                    int n = Math.min(1 + c % 5, T - pos);
                    float[] logits = sampler.feed(team, tokens, pos, n);
                    pos += n;
                    assertThat(sampler.length()).isEqualTo(pos);
                    for (int v = 0; v < cfg.vocab(); v++) {
                        float want = gpt.logit(pos - 1, v);
                        assertThat(logits[v]).as("%s position %d vocab %d", norm, pos - 1, v)
                                .isCloseTo(want, org.assertj.core.data.Offset.offset(1e-5f * (1 + Math.abs(want))));
                    }
                }
                assertThatThrownBy(() -> sampler.feed(team, tokens, 0, 1)).hasMessageContaining("maxLen");
            }
        }
    }

    @Test
    void greedyGenerationFollowsTheForwardArgmax() {
        GptConfig cfg = GptConfig.of(17, 24, 2, 16, 4, 1);
        Gpt one = new Gpt(cfg, 1, 24);
        one.init(9);
        GptSampler sampler = new GptSampler(cfg, one.params(), 24, 4);
        int[] prompt = {3, 1, 4, 1, 5};
        int[] out = sampler.generate(Parallelism.serial(), prompt, 10, 0f, 0, 1);
        assertThat(out).hasSize(10);
        // replay: each generated token is the argmax of a full forward over everything before it
        int[] seq = new int[prompt.length + out.length];
        System.arraycopy(prompt, 0, seq, 0, prompt.length);
        System.arraycopy(out, 0, seq, prompt.length, out.length);
        for (int i = 0; i < out.length; i++) {
            int len = prompt.length + i;
            Gpt full = new Gpt(cfg, 1, len);
            System.arraycopy(one.params(), 0, full.params(), 0, one.params().length);
            int[] prefix = java.util.Arrays.copyOf(seq, len);
            full.forward(Parallelism.serial(), prefix, null);
            int best = 0;
            for (int v = 1; v < cfg.vocab(); v++) {
                if (full.logit(len - 1, v) > full.logit(len - 1, best)) {
                    best = v;
                }
            }
            assertThat(out[i]).as("token %d", i).isEqualTo(best);
        }
        // top-k = 1 at any temperature is greedy
        assertThat(sampler.generate(Parallelism.serial(), prompt, 10, 1.5f, 1, 5)).containsExactly(out);
    }

    @Test
    void samplingIsSeededAndRespectsTopK() {
        GptConfig cfg = GptConfig.of(30, 40, 1, 16, 2, 2);
        Gpt gpt = new Gpt(cfg, 1, 8);
        gpt.init(2);
        GptSampler sampler = new GptSampler(cfg, gpt.params(), 40, 8);
        int[] a = sampler.generate(Parallelism.serial(), new int[] {1, 2}, 30, 1f, 0, 77);
        int[] b = sampler.generate(Parallelism.serial(), new int[] {1, 2}, 30, 1f, 0, 77);
        assertThat(a).containsExactly(b);

        // with k = 3, every draw is one of the 3 largest logits
        sampler.reset();
        float[] logits = sampler.feed(Parallelism.serial(), new int[] {5}, 0, 1);
        float[] sorted = logits.clone();
        java.util.Arrays.sort(sorted);
        float third = sorted[sorted.length - 3];
        SplittableRandom rnd = new SplittableRandom(1);
        int[] seen = new int[cfg.vocab()];
        for (int i = 0; i < 2000; i++) {
            int t = sampler.sample(1f, 3, rnd);
            assertThat(logits[t]).isGreaterThanOrEqualTo(third);
            seen[t]++;
        }
        assertThat(java.util.Arrays.stream(seen).filter(c -> c > 0).count()).isEqualTo(3);
        // generation stops at maxLen: a 39-token prompt leaves room for 2 tokens (the last is not fed back)
        assertThat(sampler.generate(Parallelism.serial(), new int[39], 10, 1f, 0, 1)).hasSize(2);
        assertThatThrownBy(() -> sampler.sample(-1f, 0, rnd)).hasMessageContaining("temperature=-1.0");
        sampler.reset();
        assertThatThrownBy(() -> sampler.feed(Parallelism.serial(), new int[] {30}, 0, 1))
                .hasMessageContaining("tokens[0]=30");
    }
}
