package dev.lanes.tests.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bench.Generate;
import dev.lanes.core.io.Safetensors;
import dev.lanes.core.text.Gpt2Tokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generate command end to end on the golden GPT-2 checkpoint: its greedy continuation equals the
 * one PyTorch computed in float64 ({@code tests/golden/gen_gpt2.py}; the smallest top-1/top-2 logit gap
 * on that path is 7.9e-3, far above float32 rounding), text through the checkpoint's toy tokenizer, and
 * clear failures.
 */
class GenerateTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {
        String line(String prefix) {
            return out.lines().filter(l -> l.startsWith(prefix)).findFirst()
                    .orElseThrow(() -> new AssertionError("no line '" + prefix + "' in:\n" + out + err))
                    .substring(prefix.length());
        }
    }

    static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Generate.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Path fixture() {
        try {
            return Path.of(GenerateTest.class.getResource("/golden/gpt2/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static String csv(long[] ids) {
        return Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(","));
    }

    @Test
    void greedyContinuationMatchesPyTorch() throws IOException {
        long[] prompt, greedy;
        try (Safetensors ref = Safetensors.open(fixture().resolve("reference.safetensors"))) {
            prompt = ref.readLongs("generate.prompt");
            greedy = ref.readLongs("generate.greedy");
        }
        for (String threads : new String[] {"1", "2"}) {
            Run r = run("--model", fixture().toString(), "--prompt-ids", csv(prompt), "--tokens", Integer.toString(greedy.length),
                    "--threads", threads);
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.line("prompt ids: ")).isEqualTo(csv(prompt));
            assertThat(r.line("ids: ")).isEqualTo(csv(greedy));
            Gpt2Tokenizer tok = Gpt2Tokenizer.load(fixture());
            int[] all = new int[prompt.length + greedy.length];
            for (int i = 0; i < all.length; i++) {
                all[i] = (int) (i < prompt.length ? prompt[i] : greedy[i - prompt.length]);
            }
            assertThat(r.line("text: ")).isEqualTo(tok.decode(all));
            assertThat(r.line("prefill: ")).matches("4 tokens in .* tokens/s\\); generation: 12 tokens in .* tokens/s\\); "
                    + threads + " thread\\(s\\), greedy");
        }
    }

    @Test
    void textPromptThroughTheTokenizerAsMavenPassesIt() {
        // one argument, as -Dgenerate.args gives it; " the cat in" is worked out in Gpt2TokenizerTest's fixture case
        Run r = run("--model " + fixture() + " --tokenizer " + fixture().resolve("vocab.json") + " --prompt 'the cat in' --tokens 3");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.line("prompt ids: ")).isEqualTo("70,6,0,4,2,21,0,74");
        assertThat(r.line("text: ")).startsWith("the cat in");
        assertThat(r.line("ids: ").split(",")).hasSize(3);
    }

    @Test
    void samplingIsReproducibleBySeed() {
        String[] args = {"--model", fixture().toString(), "--prompt-ids", "1,2,3", "--tokens", "15", "--temperature", "1.5",
            "--top-k", "20", "--seed", "42"};
        Run a = run(args), b = run(args);
        assertThat(a.code()).as(a.err()).isZero();
        assertThat(a.line("ids: ")).isEqualTo(b.line("ids: "));
        assertThat(a.line("prefill: ")).contains("temperature 1.5, top-k 20, seed 42");
    }

    @Test
    void stopsAtTheContextLength() {
        Run r = run("--model", fixture().toString(), "--prompt-ids", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20",
                "--tokens", "10");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("(n_positions=24: generating 5 tokens, not 10)");
        assertThat(r.line("ids: ").split(",")).hasSize(5);
    }

    @Test
    void failuresSayWhatIsWrong() throws IOException {
        Run r = run("--prompt-ids", "1");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--model DIR is required");
        r = run("--model", tmp.toString(), "--prompt-ids", "1");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains(tmp.resolve("config.json").toString());
        r = run("--model", fixture().toString(), "--prompt-ids", "1,80");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("prompt token 80 is outside [0, vocab_size=80)");
        r = run("--model", fixture().toString(), "--prompt-ids", "1,x2");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--prompt-ids: 'x2' is not a token id");
        r = run("--model", fixture().toString(), "--prompt-ids", "1", "--prompt", "x");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("exactly one of --prompt-ids and --prompt");
        Files.copy(fixture().resolve("config.json"), tmp.resolve("config.json"));
        Files.copy(fixture().resolve("model.safetensors"), tmp.resolve("model.safetensors"));
        r = run("--model", tmp.toString(), "--prompt", "the");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--prompt needs a tokenizer");
        r = run("--model", tmp.toString(), "--prompt-ids", "3", "--tokens", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).doesNotContain("text: ");
        r = run("--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("--prompt-ids");
    }
}
