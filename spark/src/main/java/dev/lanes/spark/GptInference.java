package dev.lanes.spark;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.core.nn.GptSampler;
import dev.lanes.core.nn.ParamLayout;
import dev.lanes.kernels.Parallelism;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Batched inference over an RDD or a DataFrame column of token sequences with a model broadcast once: its parameters travel
 * as one flat {@code float[]} (Spark's torrent broadcast, fetched once per executor JVM), never as
 * serialized objects. Each task borrows its executor's team ({@code spark.task.cpus} threads) and a
 * pooled {@link Gpt} or builds a {@link GptSampler}, and keeps the RDD's order.
 *
 * <pre>
 * legend: V vocab, T seqLen (tokens per scored window), Bs sequences packed per forward
 *   score:    sequence s_0 .. s_n (2 <= n + 1, n <= T):  logProb = sum_{t<n} log softmax(logits(s_0..s_t))[s_{t+1}]
 *             packed Bs at a time per partition, padding rows not counted
 *   generate: greedy (argmax) decoding of count tokens after a prompt, KV-cache, one sequence at a time
 * </pre>
 *
 * The same code scores a local list ({@link #scoreLocal}, {@link #generateLocal}): the outputs on Spark
 * equal it bit for bit, for any partitioning, since each sequence's rows are computed independently of
 * the others packed with it.
 */
public final class GptInference implements Serializable {
    private final ShippedConfig cfg;
    private final Broadcast<float[]> params;
    private final int seqLen;

    /** What scoring a sequence gives: the sum of its next-token log-probabilities over {@code predicted} positions. */
    public record SequenceScore(double logProb, int predicted) implements Serializable {
        /** Mean negative log-likelihood per predicted token (nats). */
        public double meanLoss() {
            return -logProb / predicted;
        }
    }

    private GptInference(ShippedConfig cfg, Broadcast<float[]> params, int seqLen) {
        this.cfg = cfg;
        this.params = params;
        this.seqLen = seqLen;
    }

    /** Broadcasts {@code params} (laid out by {@link ParamLayout#of}{@code (cfg)}) once; scoring windows of {@code seqLen} tokens. */
    public static GptInference broadcast(JavaSparkContext sc, GptConfig cfg, float[] params, int seqLen) {
        if (sc == null || cfg == null || params == null) {
            throw new IllegalArgumentException("sc, cfg or params is null");
        }
        int size = ParamLayout.of(cfg).size();
        if (params.length != size) {
            throw new IllegalArgumentException("params.length=" + params.length + " but the model has " + size);
        }
        if (seqLen < 1 || seqLen > cfg.maxSeq()) {
            throw new IllegalArgumentException("seqLen=" + seqLen + " outside [1, maxSeq=" + cfg.maxSeq() + "]");
        }
        return new GptInference(ShippedConfig.of(cfg), sc.broadcast(params.clone()), seqLen);
    }

    /** Frees the broadcast on the executors and the driver; the RDDs made from this must have been computed. */
    public void destroy() {
        params.destroy();
    }

    /** Scores every sequence (tokens in [0, V), 2 to seqLen + 1 of them), {@code batch} per forward, in the RDD's order. */
    public JavaRDD<SequenceScore> score(JavaRDD<int[]> sequences, int batch) {
        positive("batch", batch);
        return sequences.mapPartitions(it -> scorePartition(it, batch).iterator());
    }

    /**
     * {@link #score(JavaRDD, int)} for a DataFrame whose {@code column} holds {@code array<int>} token
     * sequences: returns that column with {@code log_prob} (double) and {@code predicted} (int), in order.
     */
    public Dataset<Row> score(Dataset<Row> frame, String column, int batch) {
        positive("batch", batch);
        StructType schema = new StructType().add(columnOf(frame, column)).add("log_prob", DataTypes.DoubleType, false)
                .add("predicted", DataTypes.IntegerType, false);
        JavaRDD<Row> out = frame.select(column).javaRDD().mapPartitions(it -> {
            // Spark's row encoder takes an int[] for array<int> (not a java.util.List)
            List<Row> rows = new ArrayList<>();
            it.forEachRemaining(rows::add);
            List<int[]> seqs = rows.stream().map(GptInference::tokens).toList();
            List<SequenceScore> scores = scorePartition(seqs.iterator(), batch);
            List<Row> res = new ArrayList<>(rows.size());
            for (int i = 0; i < rows.size(); i++) {
                res.add(RowFactory.create(seqs.get(i), scores.get(i).logProb(), scores.get(i).predicted()));
            }
            return res.iterator();
        });
        return frame.sparkSession().createDataFrame(out, schema);
    }

    /** Greedy decoding of {@code count} tokens after each prompt (1 to maxSeq tokens), KV-cached, in the RDD's order. */
    public JavaRDD<int[]> generate(JavaRDD<int[]> prompts, int count) {
        positive("count", count);
        return prompts.mapPartitions(it -> generatePartition(it, count).iterator());
    }

    /**
     * {@link #generate(JavaRDD, int)} for a DataFrame whose {@code column} holds {@code array<int>}
     * prompts: returns that column with {@code generated} ({@code array<int>}), in order.
     */
    public Dataset<Row> generate(Dataset<Row> frame, String column, int count) {
        positive("count", count);
        StructType schema = new StructType().add(columnOf(frame, column))
                .add("generated", DataTypes.createArrayType(DataTypes.IntegerType, false), false);
        JavaRDD<Row> out = frame.select(column).javaRDD().mapPartitions(it -> {
            List<Row> rows = new ArrayList<>();
            it.forEachRemaining(rows::add);
            List<int[]> prompts = rows.stream().map(GptInference::tokens).toList();
            List<int[]> gen = generatePartition(prompts.iterator(), count);
            List<Row> res = new ArrayList<>(rows.size());
            for (int i = 0; i < rows.size(); i++) {
                res.add(RowFactory.create(prompts.get(i), gen.get(i)));
            }
            return res.iterator();
        });
        return frame.sparkSession().createDataFrame(out, schema);
    }

    /** On an executor: the partition's sequences scored with a borrowed team and pooled model. */
    private List<SequenceScore> scorePartition(Iterator<int[]> it, int batch) {
        Parallelism team = ExecutorResources.borrowTeam();
        Gpt model = ExecutorResources.borrowModel(cfg.config(), batch, seqLen);
        try {
            float[] p = params.value();
            System.arraycopy(p, 0, model.params(), 0, p.length);
            return scoreAll(model, team, it);
        } finally {
            ExecutorResources.giveBack(model);
            ExecutorResources.giveBack(team);
        }
    }

    /** On an executor: the partition's prompts decoded with a borrowed team, reading the broadcast array. */
    private List<int[]> generatePartition(Iterator<int[]> it, int count) {
        Parallelism team = ExecutorResources.borrowTeam();
        try {
            return generateAll(cfg.config(), params.value(), team, it, count);
        } finally {
            ExecutorResources.giveBack(team);
        }
    }

    private static StructField columnOf(Dataset<Row> frame, String column) {
        if (frame == null || column == null) {
            throw new IllegalArgumentException("frame or column is null");
        }
        StructField f = Arrays.stream(frame.schema().fields()).filter(x -> x.name().equals(column)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no column '" + column + "' in " + frame.schema().simpleString()));
        if (!(f.dataType() instanceof ArrayType a) || !a.elementType().equals(DataTypes.IntegerType)) {
            throw new IllegalArgumentException("column '" + column + "' is " + f.dataType().simpleString() + ", not array<int>");
        }
        return f;
    }

    private static int[] tokens(Row r) {
        if (r.isNullAt(0)) {
            throw new IllegalArgumentException("a null token sequence");
        }
        List<Object> list = r.getList(0);
        int[] t = new int[list.size()];
        for (int i = 0; i < t.length; i++) {
            Object o = list.get(i);
            if (o == null) {
                throw new IllegalArgumentException("a null token at position " + i);
            }
            t[i] = (Integer) o;
        }
        return t;
    }

    /** The local loop: {@link #score} on one machine, {@code batch} sequences per forward. */
    public static List<SequenceScore> scoreLocal(GptConfig cfg, float[] params, int seqLen, List<int[]> sequences, int batch,
                                                 Parallelism team) {
        positive("batch", batch);
        Gpt model = new Gpt(cfg, batch, seqLen);
        System.arraycopy(params, 0, model.params(), 0, model.params().length);
        return scoreAll(model, team, sequences.iterator());
    }

    /** The local loop: {@link #generate} on one machine. */
    public static List<int[]> generateLocal(GptConfig cfg, float[] params, List<int[]> prompts, int count, Parallelism team) {
        positive("count", count);
        return generateAll(cfg, params, team, prompts.iterator(), count);
    }

    /** Packs the sequences model.batch() at a time (padding rows: token 0, not scored) and scores each. */
    static List<SequenceScore> scoreAll(Gpt model, Parallelism team, Iterator<int[]> it) {
        int bs = model.batch(), t = model.seqLen(), v = model.config().vocab();
        int[] x = new int[bs * t];
        float[] logits = new float[bs * t * v];
        List<SequenceScore> out = new ArrayList<>();
        List<int[]> pack = new ArrayList<>(bs);
        while (it.hasNext()) {
            pack.clear();
            while (pack.size() < bs && it.hasNext()) {
                int[] s = it.next();
                if (s == null || s.length < 2 || s.length > t + 1) {
                    throw new IllegalArgumentException("sequence of " + (s == null ? "null" : s.length + " tokens")
                            + ": need 2 to seqLen + 1 = " + (t + 1));
                }
                pack.add(s);
            }
            Arrays.fill(x, 0);
            for (int b = 0; b < pack.size(); b++) {
                int[] s = pack.get(b);
                System.arraycopy(s, 0, x, b * t, s.length - 1);
            }
            model.forward(team, x, null); // validates every token before computing
            model.logits(logits, 0);
            for (int b = 0; b < pack.size(); b++) {
                int[] s = pack.get(b);
                double sum = 0;
                for (int i = 0; i + 1 < s.length; i++) {
                    sum += logProb(logits, (b * t + i) * v, v, s[i + 1]);
                }
                out.add(new SequenceScore(sum, s.length - 1));
            }
        }
        return out;
    }

    /** log softmax(row)[target] in double: max, then the sum of exponentials left to right. */
    static double logProb(float[] logits, int off, int v, int target) {
        if (target < 0 || target >= v) {
            throw new IllegalArgumentException("target token " + target + " outside [0, vocab=" + v + ")");
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < v; j++) {
            max = Math.max(max, logits[off + j]);
        }
        double sum = 0;
        for (int j = 0; j < v; j++) {
            sum += Math.exp(logits[off + j] - max);
        }
        return logits[off + target] - max - Math.log(sum);
    }

    static List<int[]> generateAll(GptConfig cfg, float[] params, Parallelism team, Iterator<int[]> it, int count) {
        GptSampler sampler = new GptSampler(cfg, params, cfg.maxSeq(), Math.min(32, cfg.maxSeq()));
        List<int[]> out = new ArrayList<>();
        while (it.hasNext()) {
            out.add(sampler.generate(team, it.next(), count, 0f, 0, 0L));
        }
        return out;
    }

    private static void positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + "=" + v + " must be >= 1");
        }
    }
}
