package dev.lanes.bench;

import dev.lanes.core.nn.Gpt2Checkpoint;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.GptSampler;
import dev.lanes.core.text.Gpt2Tokenizer;
import dev.lanes.kernels.Parallelism;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * Text generation from a GPT-2 checkpoint in the Hugging Face layout ({@code config.json} +
 * {@code model.safetensors}, see {@link Gpt2Checkpoint}), with KV-cache decoding ({@link GptSampler}).
 *
 * <pre>
 *   mvn -q -pl bench -am -Pgenerate compile -Dgenerate.args="--model DIR --prompt-ids 464,3290 --tokens 20"
 *   mvn -q -pl bench -am -Pgenerate compile -Dgenerate.args="--model DIR --prompt 'The meaning of life is'"
 * </pre>
 *
 * Prints the prompt and continuation ids, the text when a tokenizer is found ({@code --tokenizer}, or
 * {@code tokenizer.json} / {@code vocab.json} + {@code merges.txt} in the model directory), and the
 * prefill and generation rates. Under Maven relative paths are taken from the directory mvn runs in.
 */
public final class Generate {
    private Generate() {}

    static final String HELP = """
            Lanes generate: continue a prompt with a GPT-2 checkpoint (Hugging Face layout).
              --model DIR         directory with config.json and model.safetensors (required)
              --prompt-ids A,B,.. prompt as token ids            --prompt TEXT  prompt as text (needs a tokenizer)
              --tokenizer PATH    tokenizer.json, vocab.json (merges.txt beside it) or a directory holding them
                                  (default: the model directory, when it holds them)
              --tokens N (20)     --temperature X (0: greedy)   --top-k K (0: all)   --seed S (1)
              --threads N (all cores)
            Under Maven all options go in one -Dgenerate.args="..."; quote text with ' or ".""";

    static final class Options {
        Path model, tokenizer;
        String promptText, promptIds;
        int tokens = 20, topK = 0, threads = Runtime.getRuntime().availableProcessors();
        float temperature = 0f;
        long seed = 1;
        boolean help;

        static Options parse(String[] raw) {
            List<String> a = new ArrayList<>();
            if (raw.length == 1 && raw[0].trim().startsWith("--")) {
                a.addAll(splitQuoted(raw[0]));  // Maven passes -Dgenerate.args as one argument
            } else {
                a.addAll(Arrays.asList(raw));
            }
            Options o = new Options();
            for (int i = 0; i < a.size(); i++) {
                String k = a.get(i);
                if (k.equals("--help")) {
                    o.help = true;
                    return o;
                }
                if (i + 1 >= a.size()) {
                    throw new IllegalArgumentException(k + " needs a value (see --help)");
                }
                String v = a.get(++i);
                switch (k) {
                    case "--model" -> o.model = Path.of(v);
                    case "--tokenizer" -> o.tokenizer = Path.of(v);
                    case "--prompt" -> o.promptText = v;
                    case "--prompt-ids" -> o.promptIds = v;
                    case "--tokens" -> o.tokens = Integer.parseInt(v);
                    case "--temperature" -> o.temperature = Float.parseFloat(v);
                    case "--top-k" -> o.topK = Integer.parseInt(v);
                    case "--seed" -> o.seed = Long.parseLong(v);
                    case "--threads" -> o.threads = Integer.parseInt(v);
                    default -> throw new IllegalArgumentException("unknown option " + k + " (see --help)");
                }
            }
            if (o.model == null) {
                throw new IllegalArgumentException("--model DIR is required (see --help)");
            }
            if ((o.promptText == null) == (o.promptIds == null)) {
                throw new IllegalArgumentException("give exactly one of --prompt-ids and --prompt");
            }
            if (o.tokens < 1 || o.threads < 1 || !(o.temperature >= 0f)) {
                throw new IllegalArgumentException("tokens=" + o.tokens + ", threads=" + o.threads + ", temperature="
                        + o.temperature + ": need tokens >= 1, threads >= 1, temperature >= 0");
            }
            return o;
        }
    }

    /** Splits on whitespace outside single or double quotes; the quotes themselves are dropped. */
    static List<String> splitQuoted(String s) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = null;
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    cur.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                cur = cur == null ? new StringBuilder() : cur;
            } else if (Character.isWhitespace(c)) {
                if (cur != null) {
                    out.add(cur.toString());
                    cur = null;
                }
            } else {
                cur = cur == null ? new StringBuilder() : cur;
                cur.append(c);
            }
        }
        if (quote != 0) {
            throw new IllegalArgumentException("unterminated " + quote + " quote in: " + s);
        }
        if (cur != null) {
            out.add(cur.toString());
        }
        return out;
    }

    public static void main(String[] args) {
        int code = run(args, System.out, System.err);
        if (code != 0) {
            System.exit(code);
        }
    }

    /** Runs the command; returns the exit code (0, 1 for an I/O error, 2 for bad options). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("generate: " + e.getMessage());
            return 2;
        }
        if (o.help) {
            out.println(HELP);
            return 0;
        }
        try {
            generate(o, out);
            return 0;
        } catch (IOException e) {
            err.println("generate: " + e.getMessage());
            return 1;
        } catch (IllegalArgumentException e) {
            err.println("generate: " + e.getMessage());
            return 2;
        }
    }

    private static void generate(Options o, PrintStream out) throws IOException {
        long t0 = System.nanoTime();
        Gpt2Checkpoint.Loaded ckpt = Gpt2Checkpoint.load(o.model);
        GptConfig cfg = ckpt.config();
        double loadSeconds = (System.nanoTime() - t0) * 1e-9;
        out.printf(Locale.ROOT, "model %s: GPT-2 L=%d C=%d H=%d V=%d Tmax=%d, %,d parameters, loaded in %.2f s%n", o.model,
                cfg.layers(), cfg.dim(), cfg.heads(), cfg.vocab(), cfg.maxSeq(), ckpt.params().length, loadSeconds);

        Gpt2Tokenizer tok = tokenizer(o);
        int[] prompt;
        if (o.promptIds != null) {
            String[] parts = o.promptIds.split(",");
            prompt = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    prompt[i] = Integer.parseInt(parts[i].trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--prompt-ids: '" + parts[i] + "' is not a token id");
                }
            }
        } else {
            if (tok == null) {
                throw new IllegalArgumentException("--prompt needs a tokenizer: give --tokenizer, or put tokenizer.json or"
                        + " vocab.json + merges.txt in " + o.model);
            }
            prompt = tok.encode(o.promptText);
        }
        if (prompt.length < 1 || prompt.length > cfg.maxSeq()) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens; need 1 to n_positions=" + cfg.maxSeq());
        }
        for (int id : prompt) {
            if (id < 0 || id >= cfg.vocab()) {
                throw new IllegalArgumentException("prompt token " + id + " is outside [0, vocab_size=" + cfg.vocab() + ")");
            }
        }
        int count = Math.min(o.tokens, cfg.maxSeq() - prompt.length + 1);
        if (count < o.tokens) {
            out.printf(Locale.ROOT, "(n_positions=%d: generating %d tokens, not %d)%n", cfg.maxSeq(), count, o.tokens);
        }
        out.println("prompt ids: " + join(prompt, prompt.length));

        int maxLen = Math.min(cfg.maxSeq(), prompt.length + count);
        GptSampler sampler = new GptSampler(cfg, ckpt.params(), maxLen, Math.min(prompt.length, maxLen));
        int[] ids = new int[count];
        long prefill, decode;
        try (Parallelism par = o.threads == 1 ? Parallelism.serial() : Parallelism.fixed(o.threads)) {
            long a = System.nanoTime();
            sampler.reset();
            sampler.feed(par, prompt, 0, prompt.length);
            long b = System.nanoTime();
            SplittableRandom rnd = new SplittableRandom(o.seed);
            int[] one = new int[1];
            for (int i = 0; i < count; i++) {
                ids[i] = sampler.sample(o.temperature, o.topK, rnd);
                if (i + 1 < count) {
                    one[0] = ids[i];
                    sampler.feed(par, one, 0, 1);
                }
            }
            long c = System.nanoTime();
            prefill = b - a;
            decode = c - b;
        }
        out.println("ids: " + join(ids, ids.length));
        if (tok != null) {
            int[] all = Arrays.copyOf(prompt, prompt.length + ids.length);  // one decode: a character may span the seam
            System.arraycopy(ids, 0, all, prompt.length, ids.length);
            out.println("text: " + tok.decode(all));
        }
        out.printf(Locale.ROOT, "prefill: %d tokens in %.3f s (%.1f tokens/s); generation: %d tokens in %.3f s (%.1f tokens/s);"
                        + " %d thread(s), %s%n", prompt.length, prefill * 1e-9, prompt.length / (prefill * 1e-9), count, decode * 1e-9,
                count / (decode * 1e-9), o.threads,
                o.temperature == 0f ? "greedy" : "temperature " + o.temperature + ", top-k " + o.topK + ", seed " + o.seed);
    }

    private static Gpt2Tokenizer tokenizer(Options o) throws IOException {
        if (o.tokenizer != null) {
            return Gpt2Tokenizer.load(o.tokenizer);
        }
        if (Files.exists(o.model.resolve("tokenizer.json")) || Files.exists(o.model.resolve("vocab.json"))) {
            return Gpt2Tokenizer.load(o.model);
        }
        return null;
    }

    private static String join(int[] ids, int n) {
        return Arrays.stream(ids, 0, n).mapToObj(Integer::toString).collect(Collectors.joining(","));
    }
}
