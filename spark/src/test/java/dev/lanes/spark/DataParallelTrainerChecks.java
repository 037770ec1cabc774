package dev.lanes.spark;

import static dev.lanes.spark.TrainingFixture.B;
import static dev.lanes.spark.TrainingFixture.CFG;
import static dev.lanes.spark.TrainingFixture.LR;
import static dev.lanes.spark.TrainingFixture.M;
import static dev.lanes.spark.TrainingFixture.STEPS;
import static dev.lanes.spark.TrainingFixture.T;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.core.nn.Gpt;
import dev.lanes.kernels.Parallelism;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Data-parallel training on Spark equals gradient accumulation on one machine bit for bit. One
 * SparkSession per concrete class ({@code local[2]} and {@code local[4]}, both allowing 3 attempts per
 * task so an injected failure is retried).
 */
abstract class DataParallelTrainerChecks {
    /** Failures the hook injected, counted in this JVM (local mode runs tasks here). */
    static final AtomicInteger INJECTED = new AtomicInteger();

    static SparkSession spark;
    static JavaSparkContext sc;
    static TrainingFixture.Run reference;

    static void startSpark(String master) {
        spark = SparkTestSession.start(master);
        sc = SparkTestSession.context(spark);
        reference = TrainingFixture.reference();
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) {
            spark.stop();
            spark = null;
        }
    }

    private static TrainingFixture.Run onSpark(int partitions, DataParallelTrainer.TaskHook hook,
                                               DataParallelTrainer.Reduction reduction) {
        DataParallelTrainer tr = TrainingFixture.trainer();
        double[] losses = new double[STEPS];
        for (int s = 0; s < STEPS; s++) {
            int[][] xy = TrainingFixture.batch(s);
            losses[s] = tr.stepSpark(sc, partitions, xy[0], xy[1], LR, hook, reduction).loss();
        }
        return new TrainingFixture.Run(losses, tr.params().clone());
    }

    @Test
    void oneToFourPartitionsGiveTheOneMachineBits() {
        for (int n = 1; n <= 4; n++) {
            TrainingFixture.Run run = onSpark(n, null, DataParallelTrainer.Reduction.DRIVER);
            assertThat(run.losses()).as("loss curve on %d partitions", n).containsExactly(reference.losses());
            assertThat(Arrays.equals(run.params(), reference.params())).as("final parameters on %d partitions", n).isTrue();
        }
    }

    @Test
    void aTaskFailingMidStepIsRetriedWithoutChangingTheBits() {
        int before = INJECTED.get();
        TrainingFixture.Run run = onSpark(3, (step, mb) -> {
            if (step == 7 && mb == 3 && TaskContext.get().attemptNumber() == 0) {
                INJECTED.incrementAndGet();
                throw new IllegalStateException("injected failure: first attempt of micro-batch 3 at step 7");
            }
        }, DataParallelTrainer.Reduction.DRIVER);
        assertThat(INJECTED.get() - before).as("failures injected").isEqualTo(1);
        assertThat(run.losses()).containsExactly(reference.losses());
        assertThat(Arrays.equals(run.params(), reference.params())).isTrue();
    }

    @Test
    void theTreeBuiltOnTheExecutorsGivesTheSameBitsWithAFailureToo() {
        for (int n = 2; n <= 4; n++) {
            int before = INJECTED.get();
            DataParallelTrainer.TaskHook hook = n != 3 ? null : (step, mb) -> {
                if (step == 11 && mb == 5 && TaskContext.get().attemptNumber() == 0) {
                    INJECTED.incrementAndGet();
                    throw new IllegalStateException("injected failure: first attempt of micro-batch 5 at step 11");
                }
            };
            TrainingFixture.Run run = onSpark(n, hook, DataParallelTrainer.Reduction.EXECUTORS);
            assertThat(INJECTED.get() - before).as("failures injected on %d partitions", n).isEqualTo(n == 3 ? 1 : 0);
            assertThat(run.losses()).as("loss curve on %d partitions", n).containsExactly(reference.losses());
            assertThat(Arrays.equals(run.params(), reference.params())).as("final parameters on %d partitions", n).isTrue();
        }
    }

    @Test
    void theReferenceLearnsAndAccumulationIsTheFullBatchGradient() {
        // the loss falls and the parameters move: a run that did nothing would match itself trivially
        double[] l = reference.losses();
        assertThat(l[STEPS - 1]).isLessThan(l[0] - 0.2);
        assertThat(Arrays.equals(reference.params(), TrainingFixture.initialParams())).isFalse();

        // independent of the tree: (1/M) sum of micro-batch mean-loss gradients = the B-sequence batch's gradient
        int[][] xy = TrainingFixture.batch(0);
        float[] params = TrainingFixture.initialParams();
        Gpt full = new Gpt(CFG, B, T);
        System.arraycopy(params, 0, full.params(), 0, params.length);
        double fullLoss = full.forward(Parallelism.serial(), xy[0], xy[1]);
        full.zeroGrads();
        full.backward(Parallelism.serial());
        Gpt micro = new Gpt(CFG, B / M, T);
        System.arraycopy(params, 0, micro.params(), 0, params.length);
        double[] acc = new double[params.length];
        double lossSum = 0;
        for (MicroBatch mb : MicroBatch.cut(xy[0], xy[1], T, M)) {
            lossSum += DataParallelTrainer.microBatchGradient(micro, Parallelism.serial(), mb);
            for (int i = 0; i < acc.length; i++) {
                acc[i] += micro.grads()[i];
            }
        }
        assertThat(lossSum / M).isCloseTo(fullLoss, org.assertj.core.data.Offset.offset(1e-5));
        double maxAbs = 0;
        for (float g : full.grads()) {
            maxAbs = Math.max(maxAbs, Math.abs(g));
        }
        for (int i = 0; i < acc.length; i++) {
            assertThat(acc[i] / M).as("grad %d", i).isCloseTo(full.grads()[i], org.assertj.core.data.Offset.offset(1e-5 * maxAbs));
        }
        assertThat(reference.losses()[0]).isCloseTo(fullLoss, org.assertj.core.data.Offset.offset(1e-5));
    }

    @Test
    void badArgumentsAreNamed() {
        DataParallelTrainer tr = TrainingFixture.trainer();
        int[][] xy = TrainingFixture.batch(0);
        assertThatThrownBy(() -> tr.stepSpark(sc, M + 1, xy[0], xy[1], LR)).hasMessageContaining("partitions=7");
        assertThatThrownBy(() -> tr.stepSpark(sc, 2, Arrays.copyOf(xy[0], 5 * T), Arrays.copyOf(xy[1], 5 * T), LR))
                .hasMessageContaining("count=6");
        assertThat(tr.steps()).isZero();
    }
}
