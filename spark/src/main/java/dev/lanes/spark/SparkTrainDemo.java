package dev.lanes.spark;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.LrSchedule;
import dev.lanes.kernels.Parallelism;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * The data-parallel demo: the bundled char-level text trained on Spark, checked against the same
 * training on one machine, then the validation text scored on Spark.
 *
 * <pre>
 *   mvn -q -pl spark -am -Pspark-demo compile
 *   mvn -q -pl spark -am -Pspark-demo compile -Dspark.demo.args="--master local[4] --partitions 4 --steps 50"
 *   mvn -q -pl spark -am -Pspark-demo compile -Dspark.demo.args="--reduction executors"
 * </pre>
 *
 * Each step draws B windows of T+1 characters (seeded) from the first 90% of the text, cuts them into
 * M micro-batches by position and trains on N partitions; the one-machine run then takes the same
 * steps with gradient accumulation, and the demo prints whether the loss curves and the final
 * parameters agree bit for bit. Last, the held-out 10% is cut into windows and scored on Spark (mean
 * loss per character), again compared with the local loop.
 */
public final class SparkTrainDemo {

    public static void main(String[] args) throws IOException {
        String master = "local[2]";
        Path textFile = Path.of("..", "bench", "data", "lincoln-annual-messages.txt");
        int partitions = 2, steps = 30, batch = 16, micro = 8, seqLen = 64, layers = 2, dim = 64, heads = 4, kvHeads = 1;
        float lr = 3e-3f;
        long seed = 1337;
        DataParallelTrainer.Reduction reduction = DataParallelTrainer.Reduction.DRIVER;
        List<String> a = new ArrayList<>();
        for (String s : args) {
            a.addAll(Arrays.asList(s.trim().split("\\s+")));
        }
        a.removeIf(String::isEmpty);
        for (int i = 0; i < a.size(); i += 2) {
            if (i + 1 >= a.size()) {
                throw new IllegalArgumentException(a.get(i) + " needs a value");
            }
            String v = a.get(i + 1);
            switch (a.get(i)) {
                case "--master" -> master = v;
                case "--text" -> textFile = Path.of(v);
                case "--partitions" -> partitions = Integer.parseInt(v);
                case "--steps" -> steps = Integer.parseInt(v);
                case "--batch" -> batch = Integer.parseInt(v);
                case "--micro" -> micro = Integer.parseInt(v);
                case "--seq" -> seqLen = Integer.parseInt(v);
                case "--layers" -> layers = Integer.parseInt(v);
                case "--dim" -> dim = Integer.parseInt(v);
                case "--lr" -> lr = Float.parseFloat(v);
                case "--reduction" -> reduction = DataParallelTrainer.Reduction.valueOf(v.toUpperCase(Locale.ROOT));
                default -> throw new IllegalArgumentException("unknown option " + a.get(i) + " (--master --text --partitions"
                        + " --steps --batch --micro --seq --layers --dim --lr --reduction driver|executors)");
            }
        }
        String text = Files.readString(textFile, StandardCharsets.UTF_8);
        TreeSet<Integer> chars = new TreeSet<>();
        text.codePoints().forEach(chars::add);
        int[] vocab = chars.stream().mapToInt(Integer::intValue).toArray();
        int[] ids = text.codePoints().map(c -> Arrays.binarySearch(vocab, c)).toArray();
        int split = (int) (ids.length * 0.9);
        GptConfig cfg = GptConfig.of(vocab.length, seqLen, layers, dim, heads, kvHeads);
        Gpt init = new Gpt(cfg, 1, seqLen);
        init.init(seed);
        LrSchedule schedule = new LrSchedule(lr, lr / 10, Math.min(10, steps / 10), steps);
        int tokensPerStep = batch * seqLen;

        // the global batches, drawn once so both runs see the same ones
        SplittableRandom data = new SplittableRandom(seed + 1);
        int[][] xs = new int[steps][], ys = new int[steps][];
        for (int s = 0; s < steps; s++) {
            xs[s] = new int[tokensPerStep];
            ys[s] = new int[tokensPerStep];
            for (int b = 0; b < batch; b++) {
                int at = data.nextInt(split - seqLen - 1);
                System.arraycopy(ids, at, xs[s], b * seqLen, seqLen);
                System.arraycopy(ids, at + 1, ys[s], b * seqLen, seqLen);
            }
        }
        System.out.printf(Locale.ROOT, "text %s: %,d characters, vocabulary %d; model L=%d C=%d Hq=%d Hkv=%d, %,d parameters;"
                        + " B=%d sequences of T=%d in M=%d micro-batches; Spark %s, %d partitions, %d steps, tree reduced on the %s%n", textFile,
                ids.length, vocab.length, layers, dim, heads, kvHeads, init.layout().size(), batch, seqLen, micro, master,
                partitions, steps, reduction.name().toLowerCase(Locale.ROOT));

        SparkSession spark = SparkSession.builder().master(master).appName("lanes-spark-demo")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
                .config("spark.local.dir", Path.of("target", "spark-tmp").toAbsolutePath().toString())
                .getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            DataParallelTrainer onSpark = trainer(cfg, init.params(), seqLen, micro);
            double[] sparkLoss = new double[steps];
            long t0 = System.nanoTime(), tWarm = t0;
            int warm = Math.min(5, steps - 1);
            for (int s = 0; s < steps; s++) {
                if (s == warm) {
                    tWarm = System.nanoTime();
                }
                long ts = System.nanoTime();
                sparkLoss[s] = onSpark.stepSpark(sc, partitions, xs[s], ys[s], schedule.at(s), null, reduction).loss();
                double secs = (System.nanoTime() - ts) / 1e9;
                System.out.printf(Locale.ROOT, "spark step %3d/%d  loss %.4f  %,.0f tokens/s%n", s + 1, steps, sparkLoss[s],
                        tokensPerStep / secs);
            }
            long tEnd = System.nanoTime();
            double sparkSecs = (tEnd - t0) / 1e9, steadySecs = (tEnd - tWarm) / 1e9;

            DataParallelTrainer oneMachine = trainer(cfg, init.params(), seqLen, micro);
            double[] localLoss = new double[steps];
            long t1 = System.nanoTime();
            try (Parallelism team = Parallelism.fixed(Runtime.getRuntime().availableProcessors())) {
                for (int s = 0; s < steps; s++) {
                    localLoss[s] = oneMachine.stepLocal(team, xs[s], ys[s], schedule.at(s)).loss();
                }
                double localSecs = (System.nanoTime() - t1) / 1e9;
                boolean curve = Arrays.equals(sparkLoss, localLoss);
                boolean params = Arrays.equals(onSpark.params(), oneMachine.params());
                System.out.printf(Locale.ROOT, "spark: %,.0f tokens/s over %d steps (%,.0f after the first %d: JIT warm-up);"
                                + " one machine, %d threads, after it: %,.0f tokens/s%n",
                        (double) steps * tokensPerStep / sparkSecs, steps,
                        (double) (steps - warm) * tokensPerStep / steadySecs, warm, team.threads(),
                        (double) steps * tokensPerStep / localSecs);
                System.out.printf(Locale.ROOT, "match with the one-machine run: loss curve %s, final parameters %s (%,d floats)%n",
                        curve ? "bit for bit" : "DIFFERS", params ? "bit for bit" : "DIFFER", onSpark.params().length);

                // batch scoring of the held-out text: windows of T+1 characters, stride T
                List<int[]> windows = new ArrayList<>();
                for (int at = split; at + seqLen + 1 <= ids.length; at += seqLen) {
                    windows.add(Arrays.copyOfRange(ids, at, at + seqLen + 1));
                }
                GptInference inf = GptInference.broadcast(sc, cfg, onSpark.params(), seqLen);
                try {
                    long t2 = System.nanoTime();
                    List<GptInference.SequenceScore> scores = inf.score(sc.parallelize(windows, partitions), 8).collect();
                    double scoreSecs = (System.nanoTime() - t2) / 1e9;
                    List<GptInference.SequenceScore> local = GptInference.scoreLocal(cfg, onSpark.params(), seqLen, windows, 8, team);
                    double logProb = 0;
                    long n = 0;
                    for (GptInference.SequenceScore sc1 : scores) {
                        logProb += sc1.logProb();
                        n += sc1.predicted();
                    }
                    System.out.printf(Locale.ROOT, "validation: %d windows, %,d characters scored on Spark in %.2f s:"
                                    + " %.4f nats/char (%.3f bits/char); local loop %s%n", windows.size(), n, scoreSecs,
                            -logProb / n, -logProb / n / Math.log(2), scores.equals(local) ? "equal bit for bit" : "DIFFERS");
                } finally {
                    inf.destroy();
                }
            }
        } finally {
            spark.stop();
        }
    }

    private static DataParallelTrainer trainer(GptConfig cfg, float[] params, int seqLen, int micro) {
        return new DataParallelTrainer(cfg, params, seqLen, micro, 0.9f, 0.95f, 1e-8f, 0.1f, 1f);
    }
}
