package dev.lanes.bench;

import dev.lanes.core.nn.AdamWOptimizer;
import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptCheckpoint;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.GptSampler;
import dev.lanes.core.nn.LrSchedule;
import dev.lanes.kernels.Parallelism;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * The training demo: a character-level GPT of Lanes' pre-norm MQA blocks learns a plain-text file.
 *
 * <pre>
 *   mvn -q -pl bench -am -Pdemo compile                                  the bundled text, defaults below
 *   mvn -q -pl bench -am -Pdemo compile -Ddemo.args="--text my.txt --steps 2000"
 * </pre>
 *
 * The vocabulary is the file's distinct characters; 90% of the text trains, the last 10% measures the
 * validation loss. Each step draws B random windows of T+1 characters (seeded), runs forward, backward,
 * global-norm clipping at 1 and AdamW with warmup and cosine decay. It prints a progress line, writes
 * the loss curve (PNG and CSV), the checkpoint and its vocabulary into the output folder, and ends with
 * a sample of generated text (KV-cache decoding, temperature and top-k).
 */
public final class TrainDemo {

    static final class Options {
        Path text = Path.of("data", "lincoln-annual-messages.txt");
        Path out;
        int steps = 600, batch = 16, seqLen = 128, layers = 4, dim = 128, heads = 4, kvHeads = 1;
        int threads = Runtime.getRuntime().availableProcessors();
        int evalEvery = 100, printEvery = 10, sampleChars = 400, topK = 20;
        float lr = 3e-3f, minLr = 3e-4f, weightDecay = 0.1f, temperature = 0.8f;
        /** -1: a tenth of the steps, at most 50. */
        int warmup = -1;
        long seed = 1337;
        String prompt = "Fellow-Citizens of the Senate and House of Representatives:";

        static Options parse(String[] args) {
            Options o = new Options();
            List<String> a = new ArrayList<>();
            for (String s : args) {
                for (String t : s.trim().split("\\s+")) {
                    if (!t.isEmpty()) {
                        a.add(t);
                    }
                }
            }
            for (int i = 0; i < a.size(); i++) {
                String k = a.get(i);
                if (k.equals("--help")) {
                    System.out.println(HELP);
                    System.exit(0);
                }
                if (i + 1 >= a.size()) {
                    throw new IllegalArgumentException(k + " needs a value (see --help)");
                }
                String v = a.get(++i);
                switch (k) {
                    case "--text" -> o.text = Path.of(v);
                    case "--out" -> o.out = Path.of(v);
                    case "--steps" -> o.steps = Integer.parseInt(v);
                    case "--batch" -> o.batch = Integer.parseInt(v);
                    case "--seq" -> o.seqLen = Integer.parseInt(v);
                    case "--layers" -> o.layers = Integer.parseInt(v);
                    case "--dim" -> o.dim = Integer.parseInt(v);
                    case "--heads" -> o.heads = Integer.parseInt(v);
                    case "--kv-heads" -> o.kvHeads = Integer.parseInt(v);
                    case "--threads" -> o.threads = Integer.parseInt(v);
                    case "--lr" -> o.lr = Float.parseFloat(v);
                    case "--warmup" -> o.warmup = Integer.parseInt(v);
                    case "--seed" -> o.seed = Long.parseLong(v);
                    case "--sample" -> o.sampleChars = Integer.parseInt(v);
                    case "--temperature" -> o.temperature = Float.parseFloat(v);
                    case "--top-k" -> o.topK = Integer.parseInt(v);
                    case "--prompt" -> o.prompt = v.replace('_', ' ');
                    default -> throw new IllegalArgumentException("unknown option " + k + " (see --help)");
                }
            }
            if (o.warmup == -1) {
                o.warmup = Math.min(50, o.steps / 10);
            }
            if (o.steps < 1 || o.threads < 1 || o.warmup < 0 || o.warmup > o.steps) {
                throw new IllegalArgumentException("steps=" + o.steps + ", threads=" + o.threads + ", warmup=" + o.warmup
                        + ": need steps >= 1, threads >= 1, 0 <= warmup <= steps");
            }
            if (o.out == null) {
                String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
                o.out = Path.of("results", "demo-" + stamp);
            }
            return o;
        }

        static final String HELP = """
                Lanes training demo: a character-level GPT learns a text file.
                  --text FILE       plain UTF-8 text (default data/lincoln-annual-messages.txt, relative to bench/)
                  --steps N         training steps (600)          --batch B   sequences per step (16)
                  --seq T           characters per sequence (128) --threads N (all cores)
                  --layers L (4)  --dim C (128)  --heads Hq (4)  --kv-heads Hkv (1)
                  --lr X (3e-3, cosine to 1/10)  --warmup N (steps/10, at most 50)  --seed S (1337)
                  --sample N (400 characters)  --temperature X (0.8)  --top-k K (20)
                  --prompt TEXT     start of the sample (underscores become spaces)
                  --out DIR         output folder (results/demo-<timestamp>)""";
    }

    public static void main(String[] args) throws IOException {
        Options o = Options.parse(args);
        String text = Files.readString(o.text, StandardCharsets.UTF_8);
        // vocabulary: the distinct characters (code points) of the text, sorted
        TreeSet<Integer> chars = new TreeSet<>();
        text.codePoints().forEach(chars::add);
        int[] vocab = chars.stream().mapToInt(Integer::intValue).toArray();
        int[] ids = text.codePoints().map(c -> java.util.Arrays.binarySearch(vocab, c)).toArray();
        int split = (int) (ids.length * 0.9);
        if (split < o.seqLen + 1 || ids.length - split < o.seqLen + 1) {
            throw new IllegalArgumentException(o.text + ": " + ids.length + " characters, too short for sequences of "
                    + o.seqLen + " (need 10x that)");
        }
        GptConfig cfg = GptConfig.of(vocab.length, o.seqLen, o.layers, o.dim, o.heads, o.kvHeads);
        Gpt gpt = new Gpt(cfg, o.batch, o.seqLen);
        gpt.init(o.seed);
        AdamWOptimizer opt = new AdamWOptimizer(gpt.layout(), 0.9f, 0.95f, 1e-8f, o.weightDecay);
        LrSchedule schedule = new LrSchedule(o.lr, o.lr / 10, o.warmup, o.steps);
        Files.createDirectories(o.out);

        System.out.printf(Locale.ROOT, "text %s: %,d characters, vocabulary %d; model L=%d C=%d Hq=%d Hkv=%d D=%d, %,d parameters;"
                        + " B=%d T=%d, %d thread(s), %d steps%n", o.text, ids.length, vocab.length, o.layers, o.dim, o.heads,
                o.kvHeads, cfg.headDim(), gpt.layout().size(), o.batch, o.seqLen, o.threads, o.steps);
        int rows = o.batch * o.seqLen;
        int[] x = new int[rows], y = new int[rows];
        SplittableRandom data = new SplittableRandom(o.seed + 1);
        List<double[]> trainCurve = new ArrayList<>(), valCurve = new ArrayList<>();
        long start = System.nanoTime();
        try (Parallelism team = Parallelism.fixed(o.threads)) {
            double smooth = Double.NaN;
            for (int step = 0; step < o.steps; step++) {
                if (step % o.evalEvery == 0 || step == o.steps - 1) {
                    double val = validationLoss(gpt, team, ids, split, o, x, y);
                    valCurve.add(new double[] {step, val});
                    System.out.printf(Locale.ROOT, "step %5d  validation loss %.4f%n", step, val);
                }
                fillBatch(data, ids, 0, split, o, x, y);
                double loss = gpt.forward(team, x, y);
                gpt.zeroGrads(team);
                gpt.backward(team);
                double norm = opt.clipGradNorm(team, gpt.grads(), 1f);
                float lr = schedule.at(step);
                if (!opt.step(team, lr, gpt.params(), gpt.grads())) {
                    System.out.printf(Locale.ROOT, "step %5d  skipped: gradient norm %s (loss %.4f); parameters and"
                            + " moments unchanged, %d skipped so far%n", step + 1, norm, loss, opt.skippedSteps());
                }
                trainCurve.add(new double[] {step, loss});
                smooth = Double.isNaN(smooth) ? loss : 0.9 * smooth + 0.1 * loss;
                if ((step + 1) % o.printEvery == 0 || step == o.steps - 1) {
                    double secs = (System.nanoTime() - start) / 1e9;
                    double tokPerSec = (double) (step + 1) * rows / secs;
                    double left = secs / (step + 1) * (o.steps - step - 1);
                    System.out.printf(Locale.ROOT, "step %5d/%d  loss %.4f (avg %.4f)  |g| %.3f  lr %.2e  %,.0f tokens/s"
                                    + "  %s elapsed, %s left%n", step + 1, o.steps, loss, smooth, norm, lr, tokPerSec,
                            clock(secs), clock(left));
                }
            }
            double secs = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT, "trained %d steps in %s: %,.0f tokens/s (validation passes included), %d"
                    + " skipped for a non-finite gradient%n", o.steps, clock(secs), (double) o.steps * rows / secs,
                    opt.skippedSteps());

            Path model = o.out.resolve("model.bin");
            GptCheckpoint.save(model, cfg, gpt.params());
            StringBuilder v = new StringBuilder();
            for (int c : vocab) {
                v.append(c).append('\n');
            }
            Files.writeString(o.out.resolve("vocab.txt"), v);
            writeCurve(o.out.resolve("loss.csv"), trainCurve, valCurve);
            Charts.lossCurve(o.out.resolve("loss.png"), trainCurve, valCurve,
                    String.format(Locale.ROOT, "Lanes char-level GPT on %s (L=%d, C=%d, Hq=%d, Hkv=%d)",
                            o.text.getFileName(), o.layers, o.dim, o.heads, o.kvHeads));

            String sample = sample(cfg, gpt.params(), team, vocab, o);
            System.out.println("---- sample (temperature " + o.temperature + ", top-k " + o.topK + ") ----");
            System.out.println(sample);
            System.out.println("----");
            Files.writeString(o.out.resolve("sample.txt"), sample);
            System.out.println("wrote " + o.out.toAbsolutePath() + ": model.bin, vocab.txt, loss.csv, loss.png, sample.txt");
        }
    }

    /** B windows of T+1 consecutive characters from ids[from, to): x the first T, y the next-character targets. */
    private static void fillBatch(SplittableRandom rnd, int[] ids, int from, int to, Options o, int[] x, int[] y) {
        for (int b = 0; b < o.batch; b++) {
            int at = from + rnd.nextInt(to - from - o.seqLen);
            System.arraycopy(ids, at, x, b * o.seqLen, o.seqLen);
            System.arraycopy(ids, at + 1, y, b * o.seqLen, o.seqLen);
        }
    }

    /**
     * Mean loss on 4 fixed batches of the held-out tail (the same windows every time, so the curve is
     * smooth). Runs on the training model itself: its activations are rewritten by the next step's
     * forward before any backward reads them.
     */
    private static double validationLoss(Gpt gpt, Parallelism team, int[] ids, int split, Options o, int[] x, int[] y) {
        SplittableRandom fixed = new SplittableRandom(o.seed + 2);
        double sum = 0;
        int batches = 4;
        for (int i = 0; i < batches; i++) {
            fillBatch(fixed, ids, split, ids.length, o, x, y);
            sum += gpt.forward(team, x, y);
        }
        return sum / batches;
    }

    private static String sample(GptConfig cfg, float[] params, Parallelism team, int[] vocab, Options o) {
        int[] prompt = o.prompt.codePoints().map(c -> java.util.Arrays.binarySearch(vocab, c)).filter(i -> i >= 0)
                .toArray();
        if (prompt.length == 0) {
            prompt = new int[] {0};
        }
        if (prompt.length > cfg.maxSeq() / 2) {
            prompt = java.util.Arrays.copyOfRange(prompt, prompt.length - cfg.maxSeq() / 2, prompt.length);
        }
        // The model sees at most maxSeq positions: generate in windows, each restarting from the last half.
        StringBuilder s = new StringBuilder();
        for (int id : prompt) {
            s.appendCodePoint(vocab[id]);
        }
        GptSampler sampler = new GptSampler(cfg, params, cfg.maxSeq(), Math.min(32, cfg.maxSeq()));
        int[] context = prompt;
        int produced = 0;
        long seed = o.seed + 3;
        while (produced < o.sampleChars) {
            int room = cfg.maxSeq() - context.length + 1;
            int[] next = sampler.generate(team, context, Math.min(room, o.sampleChars - produced), o.temperature, o.topK, seed++);
            for (int id : next) {
                s.appendCodePoint(vocab[id]);
            }
            produced += next.length;
            int[] all = new int[context.length + next.length];
            System.arraycopy(context, 0, all, 0, context.length);
            System.arraycopy(next, 0, all, context.length, next.length);
            context = java.util.Arrays.copyOfRange(all, Math.max(0, all.length - cfg.maxSeq() / 2), all.length);
        }
        return s.toString();
    }

    private static void writeCurve(Path file, List<double[]> train, List<double[]> val) throws IOException {
        StringBuilder s = new StringBuilder("step,train_loss,validation_loss\n");
        int vi = 0;
        for (double[] t : train) {
            String v = "";
            if (vi < val.size() && val.get(vi)[0] == t[0]) {
                v = String.format(Locale.ROOT, "%.5f", val.get(vi++)[1]);
            }
            s.append(String.format(Locale.ROOT, "%d,%.5f,%s%n", (long) t[0], t[1], v));
        }
        Files.writeString(file, s);
    }

    static String clock(double secs) {
        long s = Math.round(secs);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
