package dev.lanes.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.nn.Gpt;
import dev.lanes.core.nn.GptConfig;
import dev.lanes.kernels.Parallelism;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Scoring and greedy generation on Spark equal the local loop; the local loop equals plain Gpt and GptSampler. */
class GptInferenceTest {
    static final GptConfig CFG = GptConfig.of(19, 16, 2, 16, 2, 1);
    static final int T = 12;
    static SparkSession spark;
    static JavaSparkContext sc;
    static float[] params;
    static List<int[]> sequences;

    @BeforeAll
    static void start() {
        spark = SparkTestSession.start("local[2]");
        sc = SparkTestSession.context(spark);
        Gpt g = new Gpt(CFG, 1, T);
        g.init(11);
        params = g.params().clone();
        SplittableRandom r = new SplittableRandom(5);
        sequences = new ArrayList<>();
        for (int i = 0; i < 11; i++) {
            int[] s = new int[2 + r.nextInt(T)]; // 2 .. T + 1 tokens
            for (int j = 0; j < s.length; j++) {
                s[j] = r.nextInt(CFG.vocab());
            }
            sequences.add(s);
        }
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void scoresOnSparkEqualTheLocalLoopForAnyPartitioningAndPacking() {
        // the local loop, one sequence per forward
        List<GptInference.SequenceScore> local = GptInference.scoreLocal(CFG, params, T, sequences, 1, Parallelism.serial());
        GptInference inf = GptInference.broadcast(sc, CFG, params, T);
        try {
            for (int parts : new int[] {1, 3, 4}) {
                for (int batch : new int[] {1, 3, 4}) {
                    List<GptInference.SequenceScore> onSpark = inf.score(sc.parallelize(sequences, parts), batch).collect();
                    assertThat(onSpark).as("partitions %d, batch %d", parts, batch).containsExactlyElementsOf(local);
                }
            }
        } finally {
            inf.destroy();
        }
        // independent: the local score is Gpt's own mean loss over the same positions
        for (int i = 0; i < sequences.size(); i++) {
            int[] s = sequences.get(i);
            int[] x = new int[T], y = new int[T];
            java.util.Arrays.fill(y, -1);
            System.arraycopy(s, 0, x, 0, s.length - 1);
            System.arraycopy(s, 1, y, 0, s.length - 1);
            Gpt g = new Gpt(CFG, 1, T);
            System.arraycopy(params, 0, g.params(), 0, params.length);
            double loss = g.forward(Parallelism.serial(), x, y);
            assertThat(local.get(i).meanLoss()).as("sequence %d", i).isCloseTo(loss, Offset.offset(1e-5));
            assertThat(local.get(i).predicted()).isEqualTo(s.length - 1);
        }
    }

    @Test
    void greedyGenerationOnSparkEqualsTheLocalLoop() {
        List<int[]> prompts = sequences.subList(0, 7);
        int count = 4;
        List<int[]> local = GptInference.generateLocal(CFG, params, prompts, count, Parallelism.serial());
        GptInference inf = GptInference.broadcast(sc, CFG, params, T);
        try {
            List<int[]> onSpark = inf.generate(sc.parallelize(prompts, 3), count).collect();
            assertThat(onSpark).hasSize(prompts.size());
            for (int i = 0; i < prompts.size(); i++) {
                assertThat(onSpark.get(i)).as("prompt %d", i).containsExactly(local.get(i));
                assertThat(local.get(i)).hasSize(count);
            }
        } finally {
            inf.destroy();
        }
        // independent: the first greedy token is the argmax of a full forward's last logits
        for (int i = 0; i < prompts.size(); i++) {
            int[] p = prompts.get(i);
            Gpt g = new Gpt(CFG, 1, p.length);
            System.arraycopy(params, 0, g.params(), 0, params.length);
            g.forward(Parallelism.serial(), p, null);
            int best = 0;
            for (int v = 1; v < CFG.vocab(); v++) {
                if (g.logit(p.length - 1, v) > g.logit(p.length - 1, best)) {
                    best = v;
                }
            }
            assertThat(local.get(i)[0]).as("prompt %d", i).isEqualTo(best);
        }
    }

    @Test
    void dataFramesGetTheSameScoresAndTokens() {
        StructType schema = new StructType().add("tokens", DataTypes.createArrayType(DataTypes.IntegerType, false), false);
        List<Row> rows = new ArrayList<>();
        for (int[] s : sequences) {
            rows.add(RowFactory.create(Arrays.stream(s).boxed().toList()));
        }
        Dataset<Row> frame = spark.createDataFrame(rows, schema).repartition(3).cache();
        List<int[]> inFrameOrder = new ArrayList<>();
        for (Row r : frame.collectAsList()) {
            inFrameOrder.add(r.<Integer>getList(0).stream().mapToInt(Integer::intValue).toArray());
        }
        List<GptInference.SequenceScore> local = GptInference.scoreLocal(CFG, params, T, inFrameOrder, 1, Parallelism.serial());
        List<int[]> prompts = inFrameOrder.stream().map(s -> Arrays.copyOf(s, Math.min(s.length, 8))).toList();
        List<int[]> localGen = GptInference.generateLocal(CFG, params, prompts, 3, Parallelism.serial());
        GptInference inf = GptInference.broadcast(sc, CFG, params, T);
        try {
            List<Row> scored = inf.score(frame, "tokens", 4).collectAsList();
            assertThat(scored).hasSize(sequences.size());
            for (int i = 0; i < scored.size(); i++) {
                Row r = scored.get(i);
                assertThat(r.<Integer>getList(0).stream().mapToInt(Integer::intValue).toArray()).containsExactly(inFrameOrder.get(i));
                assertThat(new GptInference.SequenceScore(r.getDouble(1), r.getInt(2))).as("row %d", i).isEqualTo(local.get(i));
            }
            StructType promptSchema = new StructType().add("prompt", DataTypes.createArrayType(DataTypes.IntegerType, false), false);
            List<Row> promptRows = prompts.stream().map(p -> RowFactory.create(Arrays.stream(p).boxed().toList())).toList();
            List<Row> generated = inf.generate(spark.createDataFrame(promptRows, promptSchema), "prompt", 3).collectAsList();
            for (int i = 0; i < generated.size(); i++) {
                assertThat(generated.get(i).<Integer>getList(1).stream().mapToInt(Integer::intValue).toArray()).as("row %d", i)
                        .containsExactly(localGen.get(i));
            }
            assertThatThrownBy(() -> inf.score(frame, "nope", 4)).hasMessageContaining("no column 'nope'");
            Dataset<Row> strings = spark.createDataFrame(List.of(RowFactory.create("abc")),
                    new StructType().add("s", DataTypes.StringType));
            assertThatThrownBy(() -> inf.score(strings, "s", 4)).hasMessageContaining("not array<int>");
        } finally {
            inf.destroy();
        }
    }

    @Test
    void badInputIsNamed() {
        assertThatThrownBy(() -> GptInference.scoreLocal(CFG, params, T, List.of(new int[] {3}), 2, Parallelism.serial()))
                .hasMessageContaining("1 tokens");
        assertThatThrownBy(() -> GptInference.broadcast(sc, CFG, new float[3], T)).hasMessageContaining("params.length=3");
        assertThatThrownBy(() -> GptInference.broadcast(sc, CFG, params, CFG.maxSeq() + 1)).hasMessageContaining("seqLen=17");
    }
}
